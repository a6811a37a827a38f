//! The requests behind the tail, for a traced run: a few terminal lines from `slow.csv` (the HTML
//! report has the full section, `html::slow`). Each names the percentile band it falls in, so the
//! trace id a person copies into the gateway's logs is known to explain that percentile.

use crate::record::hist::Percentiles;
use crate::record::slow::{read_csv, SlowRow};
use crate::record::summary::Summary;
use std::io::{self, Write};
use std::path::Path;

/// Slow requests shown on the terminal (slow.csv has them all).
const SHOWN: usize = 5;

/// Which part of its request's distribution a latency is in, by the run's own percentiles.
pub fn band(latency_ms: f64, p: &Percentiles) -> &'static str {
    let us = latency_ms * 1e3;
    if p.count == 0 {
        ""
    } else if us >= p.p999_us as f64 {
        "≥ p99.9"
    } else if us >= p.p99_us as f64 {
        "p99–p99.9"
    } else if us >= p.p90_us as f64 {
        "p90–p99"
    } else {
        "< p90"
    }
}

/// The band of a row by its request's percentiles in `s` (empty when the name is unknown).
pub fn band_of(r: &SlowRow, s: &Summary) -> &'static str {
    s.requests.iter().find(|q| q.name == r.request).map_or("", |q| band(r.latency_ms, &q.overall.latency))
}

pub fn print(s: &Summary, dir: &Path, out: &mut dyn Write) -> io::Result<()> {
    let rows = match read_csv(dir) {
        None => return Ok(()),
        Some(Err(e)) => return writeln!(out, "\nslow requests: {e}"),
        Some(Ok(rows)) => rows,
    };
    let mut slow: Vec<&SlowRow> = rows.iter().filter(|r| r.kept_as != "failure").collect();
    slow.sort_by(|a, b| b.latency_ms.total_cmp(&a.latency_ms).then(a.seq.cmp(&b.seq)));
    writeln!(out)?;
    writeln!(out, "slowest requests (all kept ones in {}; search the gateway's logs by trace id):", dir.join(crate::record::results::SLOW).display())?;
    if slow.is_empty() {
        writeln!(out, "  none completed")?;
    }
    for r in slow.iter().take(SHOWN) {
        let pod = if r.pod.is_empty() { String::new() } else { format!("  {}", r.pod) };
        writeln!(
            out,
            "  {:>9}  {:<10} {}  {} {}  {}{pod}  {}",
            format!("{:.1}ms", r.latency_ms),
            band_of(r, s),
            r.trace_id,
            r.status,
            r.outcome,
            r.request,
            r.intended_utc
        )?;
    }
    let mut outcomes: Vec<&str> = rows.iter().filter(|r| r.kept_as != "slowest").map(|r| r.outcome.as_str()).collect();
    outcomes.dedup();
    for o in outcomes {
        let of: Vec<&SlowRow> = rows.iter().filter(|r| r.kept_as != "slowest" && r.outcome == o).collect();
        let first = of.iter().min_by(|a, b| a.intended_s.total_cmp(&b.intended_s)).expect("at least one");
        writeln!(out, "  first {o}: {} kept; the first {} ({}, at {:.3}s)", of.len(), first.trace_id, first.request, first.intended_s)?;
    }
    Ok(())
}
