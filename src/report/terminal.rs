//! The end-of-run summary on the terminal: one row per request (count, rate, outcomes, latency
//! percentiles, dropped), the pods, the generator's own health, and where the results are.

use crate::record::summary::{Overall, RunStatus, Summary};
use crate::units::format_us;
use std::io::{self, Write};
use std::path::Path;

pub fn render(s: &Summary, dir: &Path, out: &mut dyn Write) -> io::Result<()> {
    let status = match s.status {
        RunStatus::Completed => "completed",
        RunStatus::Interrupted => "INTERRUPTED",
        RunStatus::Aborted => "ABORTED",
        RunStatus::Failed => "FAILED",
        RunStatus::Incomplete => "INCOMPLETE",
        RunStatus::DrillFailed => "DRILL FAILED",
    };
    writeln!(out)?;
    writeln!(out, "skyload · {} · {status} after {:.1}s of {:.1}s · {}", s.scenario, s.duration_s, s.planned_duration_s, s.target)?;
    writeln!(out)?;

    // Outcome columns: those that happened anywhere, in table order.
    let outcomes: Vec<&String> = s.outcome_names.iter().filter(|o| s.totals.outcomes.contains_key(*o)).collect();
    let mut header = vec!["request".to_string(), "count".into(), "rate/s".into()];
    header.extend(outcomes.iter().map(|o| o.to_string()));
    header.extend(["p50", "p90", "p99", "p99.9", "max", "dropped"].map(String::from));
    let row = |name: &str, o: &Overall| {
        let mut r = vec![name.to_string(), o.completed.to_string(), format!("{:.1}", o.achieved_rps)];
        r.extend(outcomes.iter().map(|n| o.outcomes.get(*n).copied().unwrap_or(0).to_string()));
        let l = &o.latency;
        let f = |v: u64| if l.count == 0 { "-".to_string() } else { format_us(v) };
        r.extend([f(l.p50_us), f(l.p90_us), f(l.p99_us), f(l.p999_us), f(l.max_us), o.dropped.to_string()]);
        r
    };
    let mut rows = vec![header];
    for r in &s.requests {
        rows.push(row(&r.name, &r.overall));
    }
    if s.requests.len() > 1 {
        rows.push(row("all", &s.totals));
    }
    table(out, &rows)?;
    // With failures, the table by outcome follows (fast errors must not hide slow successes).
    let ends = if has_failures(s) { "; each outcome on its own:" } else { "." };
    writeln!(out, "  latency is measured from each request's intended start (corrected for coordinated omission), over every outcome{ends}")?;
    render_by_outcome(s, out)?;
    let sv = &s.totals.service_time;
    if sv.count > 0 {
        writeln!(out, "  service time (from the actual send): p50 {}  p99 {}  max {}", format_us(sv.p50_us), format_us(sv.p99_us), format_us(sv.max_us))?;
    }

    if !s.pods.is_empty() {
        writeln!(out)?;
        let mut rows = vec![vec!["pod".to_string(), "count".into(), "rate/s".into(), "p99".into()]];
        for p in &s.pods {
            rows.push(vec![p.name.clone(), p.count.to_string(), format!("{:.1}", p.rps), format_us(p.latency.p99_us)]);
        }
        table(out, &rows)?;
    }

    let g = &s.generator;
    writeln!(out)?;
    writeln!(
        out,
        "generator: {}{} · {:.1}% of arrivals not dropped ({:.1}/s sent of {:.1}/s planned) · pacer lag p50 {} p99 {} max {} · {:.2} cores · {:.0} requests per CPU-second",
        g.threads_text(),
        g.pacer_text(),
        g.send_ratio * 100.0,
        g.send_rps,
        g.target_rps,
        format_us(g.schedule_lag.p50_us),
        format_us(g.schedule_lag.p99_us),
        format_us(g.schedule_lag.max_us),
        g.cpu_cores,
        g.requests_per_cpu_second
    )?;
    let w = &g.connection_wait;
    if w.count > 0 {
        writeln!(
            out,
            "  waiting for a connection (pool + connect, the target's or the cap's): p50 {}  p99 {}  max {}",
            format_us(w.p50_us),
            format_us(w.p99_us),
            format_us(w.max_us)
        )?;
    }
    if g.seconds.connection_limited.count > 0 {
        writeln!(out, "  connection-limited seconds: {}", g.seconds.connection_limited.list())?;
    }
    if g.fell_behind {
        // A rebuilt (killed) run's notes say what was lost, not that the generator lagged.
        let why = if s.status == RunStatus::Incomplete { "" } else { "the generator may have been the limit: " };
        for n in &g.notes {
            writeln!(out, "  WARNING {why}{n}")?;
        }
    }
    super::tls::render(s, out)?;
    writeln!(out, "results: {}", dir.display())?;
    Ok(())
}

/// Latency per outcome (all requests): `ok` alone, and each failure alone with its status codes, so
/// fast errors cannot hide slow successes.
fn render_by_outcome(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    if !has_failures(s) {
        return Ok(());
    }
    let errors: Vec<String> = s
        .totals
        .status_codes
        .iter()
        .filter(|(c, _)| !c.starts_with('2') && !c.starts_with('3'))
        .map(|(c, n)| format!("{c}×{n}"))
        .collect();
    let mut rows = vec![["outcome", "count", "p50", "p90", "p99", "max", "service p99"].map(String::from).to_vec()];
    for name in &s.outcome_names {
        let Some(o) = s.by_outcome.get(name) else { continue };
        let l = &o.latency;
        rows.push(vec![
            name.clone(),
            o.count.to_string(),
            format_us(l.p50_us),
            format_us(l.p90_us),
            format_us(l.p99_us),
            format_us(l.max_us),
            format_us(o.service_time.p99_us),
        ]);
    }
    let d = &s.totals.dropped_wait;
    if s.totals.dropped > 0 {
        rows.push(vec![
            "dropped (wait)".into(),
            s.totals.dropped.to_string(),
            format_us(d.p50_us),
            format_us(d.p90_us),
            format_us(d.p99_us),
            format_us(d.max_us),
            "-".into(),
        ]);
    }
    writeln!(out)?;
    table(out, &rows)?;
    if !errors.is_empty() {
        writeln!(out, "  error status codes: {}", errors.join(", "))?;
    }
    Ok(())
}

fn has_failures(s: &Summary) -> bool {
    s.by_outcome.keys().any(|k| k != "ok") || s.totals.dropped > 0
}

/// Left-aligned first column, right-aligned numbers.
fn table(out: &mut dyn Write, rows: &[Vec<String>]) -> io::Result<()> {
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols).map(|c| rows.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0)).collect();
    for r in rows {
        let mut line = String::from("  ");
        for (c, cell) in r.iter().enumerate() {
            if c == 0 {
                line.push_str(&format!("{cell:<w$}", w = widths[c]));
            } else {
                line.push_str(&format!("  {cell:>w$}", w = widths[c]));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The fault section: each fault's window, what happened inside it, and recovery.
pub fn render_faults(reports: &[crate::verify::faults::FaultReport], out: &mut dyn Write) -> io::Result<()> {
    if reports.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "faults:")?;
    let mut rows = vec![["fault", "window (planned → actual)", "action", "inside: outcomes", "fallback", "error rate", "p50/p99 before → inside", "recovery", "result"].map(String::from).to_vec()];
    for f in reports {
        let actual = match (f.fault.applied_at_s, f.fault.removed_at_s) {
            (Some(a), Some(r)) if f.fault.ended_early.is_some() => format!("{a:.1}–{r:.1}s (ended early: lease lapsed)"),
            (Some(a), Some(r)) => format!("{a:.1}–{r:.1}s"),
            (Some(a), None) => format!("{a:.1}s–not removed"),
            _ => "not applied".to_string(),
        };
        let outcomes = f.outcomes.iter().map(|(o, n)| format!("{o} {n}")).collect::<Vec<_>>().join(", ");
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
        let recovery = match (f.recovery, f.recovery_s) {
            (crate::verify::faults::Recovery::Recovered, Some(t)) => format!("{t:.1}s"),
            (r, _) => r.as_str().to_string(),
        };
        let lat = |p: Option<crate::verify::faults::LatencyPair>| p.map_or("-".to_string(), |p| format!("{}/{}", format_us(p.p50_us), format_us(p.p99_us)));
        rows.push(vec![
            f.fault.name.clone(),
            format!("{:.1}–{:.1}s → {actual}", f.fault.planned_start_s, f.fault.planned_end_s),
            f.fault.action.clone(),
            if outcomes.is_empty() { "-".into() } else { outcomes },
            pct(f.fallback_ratio),
            pct(f.error_rate),
            format!("{} → {}", lat(f.latency_before), lat(f.latency_inside)),
            recovery,
            if f.passed { "PASS".into() } else { "FAIL".into() },
        ]);
    }
    table(out, &rows)?;
    for f in reports {
        if let Some(e) = &f.error {
            writeln!(out, "  ERROR {e}")?;
        }
        if let (None, Some(note)) = (f.recovery_s, &f.recovery_note) {
            writeln!(out, "  {}: {}: {note}", f.fault.name, f.recovery.as_str())?;
        }
        if !f.recovered_when.is_empty() {
            writeln!(out, "  {}: recovered when, {} seconds in a row: {}", f.fault.name, crate::verify::faults::RECOVERY_STREAK, f.recovered_when.join(", "))?;
        }
    }
    Ok(())
}
