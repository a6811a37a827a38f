//! The report page: the view model and the chart SVGs written as one self-contained HTML file
//! (inline CSS and SVG, no script, nothing fetched), verdict first. Every string that came from a
//! scenario, a response header or a file goes through `escape`; the only unescaped markup is this
//! module's own and the SVG plotters drew (which escapes its text itself).

use super::verify_views::{CapacityData, FaultWindow, ReportVerdict};
use super::view::{BannerKind, Report, RunView};
use crate::record::summary::{Overall, RunStatus, Summary};
use crate::units::format_us;
use std::io::{self, Write};

const CSS: &str = include_str!("style.css");

/// The SVGs of one report, drawn beforehand (`None`: no data for that chart).
pub struct Charts {
    pub rate: Option<String>,
    pub latency: Option<String>,
    /// Responses by status code per second.
    pub status: Option<String>,
    pub percentiles: Option<String>,
    pub pods: Option<String>,
    pub capacity: Option<String>,
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A table cell: text (escaped when written) and a CSS class.
struct Cell(String, &'static str);

fn text_cell(s: impl Into<String>) -> Cell {
    Cell(s.into(), "")
}
fn num_cell(s: impl Into<String>) -> Cell {
    Cell(s.into(), "num")
}
fn ok(passed: Option<bool>) -> Cell {
    match passed {
        Some(true) => Cell("pass".into(), "pass"),
        Some(false) => Cell("FAIL".into(), "fail"),
        None => text_cell("–"),
    }
}

fn table(out: &mut dyn Write, head: &[&str], rows: &[Vec<Cell>]) -> io::Result<()> {
    writeln!(out, "<table><thead><tr>")?;
    for (i, h) in head.iter().enumerate() {
        let class = if i > 0 && rows.first().and_then(|r| r.get(i)).is_some_and(|c| c.1 == "num") { " class=\"num\"" } else { "" };
        write!(out, "<th{class}>{}</th>", escape(h))?;
    }
    writeln!(out, "</tr></thead><tbody>")?;
    for r in rows {
        write!(out, "<tr>")?;
        for c in r {
            if c.1.is_empty() {
                write!(out, "<td>{}</td>", escape(&c.0))?;
            } else {
                write!(out, "<td class=\"{}\">{}</td>", c.1, escape(&c.0))?;
            }
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody></table>")
}

fn figure(out: &mut dyn Write, id: &str, svg: &str, caption: &str) -> io::Result<()> {
    writeln!(out, "<figure class=\"chart\" id=\"{id}\">\n{svg}\n<figcaption>{}</figcaption></figure>", escape(caption))
}

fn pct(v: f64) -> String {
    if v == 0.0 {
        "0%".into()
    } else if v < 0.001 {
        format!("{:.3}%", v * 100.0)
    } else {
        format!("{:.2}%", v * 100.0)
    }
}

fn lat(p: &crate::record::hist::Percentiles, v: u64) -> String {
    if p.count == 0 {
        "–".into()
    } else {
        format_us(v)
    }
}

/// The report's title follows the run it shows, as the terminal names it.
pub fn run_kind(r: &Report) -> &'static str {
    let v = &r.current;
    if !r.others.is_empty() {
        "comparison report"
    } else if v.capacity.is_some() {
        "capacity search"
    } else if !v.faults.is_empty() {
        "drill"
    } else {
        "load test"
    }
}

pub fn write(r: &Report, charts: &Charts, out: &mut dyn Write) -> io::Result<()> {
    let v = &r.current;
    let s = &v.summary;
    let title = run_kind(r);
    writeln!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    writeln!(out, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")?;
    writeln!(out, "<title>{} · skyload {title}</title>\n<style>\n{CSS}</style></head>\n<body><main>", escape(&s.scenario))?;
    writeln!(out, "<header><h1>{} <span class=\"sub\">{title}</span></h1>", escape(&s.scenario))?;
    if let Some(d) = description(v) {
        writeln!(out, "<p>{}</p>", escape(&d))?;
    }
    writeln!(
        out,
        "<p class=\"meta\">started {} · ran {:.1}s of {:.1}s · target {} · skyload {}</p></header>",
        escape(&s.started_at),
        s.duration_s,
        s.planned_duration_s,
        escape(&s.target),
        escape(&s.skyload_version)
    )?;
    banner(out, v)?;
    answer(out, v)?;
    if let Some(c) = &v.capacity {
        // A capacity report leads with its answer; the figures below are its last step's.
        capacity(out, Some(c), charts.capacity.as_deref())?;
        writeln!(out, "<p class=\"note\">The figures, checks and charts below are of the search's last step only, not of the search.</p>")?;
    }
    tiles(out, s)?;
    for w in r.others.iter().chain([v]).flat_map(|x| x.warnings.iter().map(move |w| (x, w))) {
        writeln!(out, "<p class=\"warning\">{}: {}</p>", escape(&w.0.label), escape(w.1))?;
    }
    checks(out, v.verdict.as_ref())?;
    if !r.others.is_empty() {
        comparison(out, r)?;
    }

    writeln!(out, "<section id=\"over-time\"><h2>Load and latency over time</h2>")?;
    let base_note = r.baseline().map_or(String::new(), |b| format!(" Dashed grey: the baseline run {}.", b.label));
    let fault_note = if v.faults.is_empty() { "" } else { " Shaded: fault windows." };
    let bucket =
        if v.bucket_s > 1 { format!(" Each point covers {} seconds (p99 and max: the worst second).", v.bucket_s) } else { String::new() };
    let limited = if v.series.iter().any(|p| p.connection_limited > 0) {
        " Orange band: connection-limited seconds (arrivals waited for a connection with connections.max reached); dotted orange on the latency chart: their connection wait p99."
    } else {
        ""
    };
    match (&charts.rate, &charts.latency) {
        (Some(rate), Some(latency)) => {
            figure(out, "chart-rate", rate, &format!("Offered (target) against achieved requests per second; completions stacked by outcome, dropped requests on top.{fault_note}{limited}{base_note}{bucket}"))?;
            // Beside the rate chart's one `error` layer: which codes, and when.
            super::status::section(out, &v.status, charts.status.as_deref(), fault_note)?;
            figure(
                out,
                "chart-latency",
                latency,
                &format!("Latency percentiles per second, from each request's intended start.{fault_note}{limited}{base_note}{bucket}"),
            )?;
        }
        _ => {
            writeln!(out, "<p class=\"note\">No per-second data (timeseries.csv) in this results directory.</p>")?;
            super::status::section(out, &v.status, charts.status.as_deref(), fault_note)?;
        }
    }
    writeln!(out, "</section>")?;

    writeln!(out, "<section id=\"distribution\"><h2>Latency distribution</h2>")?;
    match &charts.percentiles {
        Some(svg) => figure(out, "chart-percentiles", svg, &format!("Latency by percentile over the whole run (HDR histogram): from the intended start (corrected for coordinated omission) and service time (from the actual send).{base_note}"))?,
        None => writeln!(out, "<p class=\"note\">No request completed: there is no latency distribution.</p>")?,
    }
    requests(out, s)?;
    by_outcome(out, s)?;
    super::slow::section(out, v.slow.as_ref(), s)?;
    writeln!(out, "</section>")?;

    pods(out, v, charts.pods.as_deref())?;
    if v.capacity.is_none() {
        capacity(out, None, None)?;
    }
    faults(out, &v.faults)?;
    super::tls::section(out, v)?;
    environment(out, r)?;
    writeln!(
        out,
        "<footer>Made by skyload {} on {} at {} from {}. One self-contained file: no scripts, fonts or images are fetched.</footer>",
        escape(env!("CARGO_PKG_VERSION")),
        escape(&r.host),
        escape(&r.generated_at),
        escape(&r.others.iter().chain([v]).map(|x| x.label.as_str()).collect::<Vec<_>>().join(", "))
    )?;
    writeln!(out, "</main></body></html>")
}

fn description(v: &RunView) -> Option<String> {
    let text = v.scenario_text.as_deref()?;
    let value: toml::Value = toml::from_str(text).ok()?;
    value.get("description")?.as_str().map(String::from)
}

fn banner(out: &mut dyn Write, v: &RunView) -> io::Result<()> {
    let class = match v.banner.kind {
        BannerKind::Pass => "pass",
        BannerKind::Fail => "fail",
        BannerKind::Aborted => "aborted",
        BannerKind::NoChecks => "nochecks",
    };
    writeln!(out, "<section id=\"verdict\" class=\"banner {class}\"><strong>{}</strong>", escape(&v.banner.title))?;
    if !v.banner.failed.is_empty() {
        writeln!(out, "<ul>")?;
        for f in &v.banner.failed {
            writeln!(out, "<li>{}</li>", escape(f))?;
        }
        writeln!(out, "</ul>")?;
    }
    writeln!(out, "</section>")
}

/// The answer the run was for, first: a capacity search's sustainable rate, or a ramp's
/// saturation point with the pods' rates there and what to run next.
fn answer(out: &mut dyn Write, v: &RunView) -> io::Result<()> {
    let mut lines: Vec<String> = Vec::new();
    if let Some(c) = &v.capacity {
        match c.max_rps {
            Some(r) => lines.push(format!(
                "Capacity: {}{r:.1} req/s sustainable{}{}{}.",
                if c.lower_bound { "at least " } else { "" },
                c.slo_p99_us.map_or(String::new(), |u| format!(" with p99 < {}", format_us(u))),
                c.per_pod_rps.zip(c.pods).map_or(String::new(), |(p, n)| format!(", {p:.1} per pod over {n} pods")),
                if c.lower_bound { " (the limit was not reached)" } else { "" }
            )),
            None => lines.push("Capacity: no rate tried kept the SLO.".into()),
        }
        if let (Some(n), Some(peak)) = (c.pods_needed, c.peak_qps) {
            let at_most = if c.lower_bound { "at most " } else { "" };
            lines.push(format!("A peak of {peak:.0} req/s with {} headroom needs {at_most}{n} pods.", c.headroom.map_or("–".into(), pct)));
        }
    } else if let Some(sat) = &v.saturation {
        let bound = format!("p99 ≤ {}{}", format_us(sat.p99_limit_us), if sat.from_slo { ", the SLO" } else { ", 2× the first seconds' p99 (no p99 SLO)" });
        match sat.rate {
            Some(r) if !sat.saturated => lines.push(format!(
                "Not saturated: ok completions followed the target up to its peak, ~{r:.0} req/s offered ({:.0}%, {bound}); ramp higher to find the saturation point.",
                crate::report::saturation::FOLLOW * 100.0
            )),
            Some(r) => {
                let pods = sat.per_pod.len();
                let per = if pods > 0 && !sat.gateway_limited { format!(" (~{:.0} per pod over {pods} pods)", r / pods as f64) } else { String::new() };
                lines.push(format!("Saturates at ~{r:.0} req/s offered{per}: the highest rate whose ok completions followed the target ({:.0}%, {bound}).", crate::report::saturation::FOLLOW * 100.0));
                if sat.gateway_limited {
                    lines.push(format!("{}.", capitalised(crate::report::saturation::GATEWAY_LIMITED)));
                }
            }
            None => lines.push(format!("Completions never followed the target ({bound}).")),
        }
        if !sat.pod_peaks.is_empty() {
            lines.push(format!("{}: {}.", capitalised(crate::report::saturation::pod_peaks_label(sat)), sat.pod_peaks.iter().map(|(p, n)| format!("{p} {n:.0}/s")).collect::<Vec<_>>().join(", ")));
        }
        if sat.gateway_answered > 0 {
            lines.push(format!("{} requests were answered by the gateway itself, not a pod (shed 503, 401, 429).", sat.gateway_answered));
        }
        let file = v.summary.scenario_file.clone().unwrap_or_else(|| "SCENARIO".into());
        let cmd = crate::report::saturation::capacity_command(&file, sat.slo_checks, sat.p99_limit_us);
        let why = if sat.slo_checks { "" } else { " (the scenario has no run or request checks, the SLO a capacity search judges by: this ramp's bound is the SLO; put your own in [checks] run)" };
        lines.push(format!("{}: {cmd}{why}", capitalised(crate::report::saturation::next_step(sat.saturated))));
    }
    if lines.is_empty() {
        return Ok(());
    }
    writeln!(out, "<section id=\"answer\" class=\"answer\">")?;
    for (i, l) in lines.iter().enumerate() {
        if i == 0 {
            writeln!(out, "<p><strong>{}</strong></p>", escape(l))?;
        } else {
            writeln!(out, "<p>{}</p>", escape(l))?;
        }
    }
    writeln!(out, "</section>")
}

/// `text` with its first letter upper-case: the terminal's phrases opening a sentence.
fn capitalised(text: &str) -> String {
    let mut c = text.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

/// Latency of each outcome alone: fast failures neither hide slow successes nor flatter them.
fn by_outcome(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.by_outcome.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h3 id=\"by-outcome\">Latency by outcome</h3>")?;
    let rows: Vec<Vec<Cell>> = s
        .by_outcome
        .iter()
        .map(|(name, o)| {
            let l = &o.latency;
            vec![
                text_cell(name),
                num_cell(o.count.to_string()),
                num_cell(lat(l, l.p50_us)),
                num_cell(lat(l, l.p90_us)),
                num_cell(lat(l, l.p99_us)),
                num_cell(lat(l, l.max_us)),
                num_cell(lat(&o.service_time, o.service_time.p99_us)),
            ]
        })
        .collect();
    table(out, &["outcome", "completed", "p50", "p90", "p99", "max", "service p99"], &rows)?;
    writeln!(out, "<p class=\"note\">Checks can select one outcome: <code>p99(ok) &lt; 50ms</code>.</p>")
}

fn tiles(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    let l = &s.totals.latency;
    let items = [
        ("requests", s.totals.completed.to_string()),
        ("achieved rate", format!("{:.1}/s", s.totals.achieved_rps)),
        ("error rate", pct(s.totals.error_rate)),
        ("p50", lat(l, l.p50_us)),
        ("p99", lat(l, l.p99_us)),
        ("max", lat(l, l.max_us)),
        ("dropped", s.totals.dropped.to_string()),
    ];
    writeln!(out, "<section id=\"figures\" class=\"tiles\">")?;
    for (k, val) in items {
        writeln!(out, "<div class=\"tile\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>", escape(&val), escape(k))?;
    }
    writeln!(out, "</section>")
}

fn checks(out: &mut dyn Write, v: Option<&ReportVerdict>) -> io::Result<()> {
    writeln!(out, "<section id=\"checks\"><h2>Checks</h2>")?;
    match v {
        Some(v) if !v.checks.is_empty() => {
            let rows: Vec<Vec<Cell>> = v
                .checks
                .iter()
                .map(|c| {
                    vec![
                        text_cell(&c.name),
                        text_cell(c.window.clone().unwrap_or_else(|| "run".into())),
                        text_cell(&c.expected),
                        text_cell(&c.measured),
                        ok(Some(c.passed)),
                    ]
                })
                .collect();
            table(out, &["check", "window", "expected", "measured", "result"], &rows)?;
            for note in &v.notes {
                writeln!(out, "<p class=\"note\">{}</p>", escape(note))?;
            }
        }
        _ => writeln!(out, "<p class=\"note\">No checks defined: this run asserted nothing, so it can neither pass nor fail.</p>")?,
    }
    writeln!(out, "</section>")
}

fn comparison(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    writeln!(out, "<section id=\"comparison\"><h2>Comparison with the baseline</h2>")?;
    let runs: Vec<&RunView> = r.others.iter().chain([&r.current]).collect();
    let mut head: Vec<String> = vec!["metric".into()];
    for (i, run) in runs.iter().enumerate() {
        let role = if i == 0 {
            "baseline"
        } else if i + 1 == runs.len() {
            "current"
        } else {
            "run"
        };
        head.push(format!("{role}: {}", run.label));
        if i > 0 {
            head.push("change".into());
        }
    }
    let rows: Vec<Vec<Cell>> = r
        .diff
        .iter()
        .map(|d| {
            let mut row = vec![text_cell(&d.metric)];
            for (i, val) in d.values.iter().enumerate() {
                row.push(num_cell(val));
                if i > 0 {
                    row.push(match &d.changes[i] {
                        None => num_cell("–"),
                        Some(c) => {
                            let class = match c.worse {
                                None => "num",
                                Some(true) => "num worse",
                                Some(false) => "num better",
                            };
                            Cell(c.text.clone(), class)
                        }
                    });
                }
            }
            row
        })
        .collect();
    let head: Vec<&str> = head.iter().map(String::as_str).collect();
    table(out, &head, &rows)?;
    writeln!(out, "<p class=\"note\">Changes of 5% or more (of an error rate: 0.1 percentage points or more, shown as pp) are coloured: red when worse, green when better; a figure that was 0 in the baseline shows its new value. The charts draw the baseline dashed under the current run.</p></section>")
}

fn request_row(name: &str, o: &Overall, outcomes: &[&String]) -> Vec<Cell> {
    let l = &o.latency;
    let mut row = vec![text_cell(name), num_cell(o.completed.to_string()), num_cell(format!("{:.1}", o.achieved_rps))];
    row.extend(outcomes.iter().map(|k| num_cell(o.outcomes.get(*k).copied().unwrap_or(0).to_string())));
    row.extend([
        num_cell(pct(o.error_rate)),
        num_cell(lat(l, l.p50_us)),
        num_cell(lat(l, l.p90_us)),
        num_cell(lat(l, l.p99_us)),
        num_cell(lat(l, l.p999_us)),
        num_cell(lat(l, l.max_us)),
        num_cell(lat(&o.service_time, o.service_time.p99_us)),
        num_cell(o.dropped.to_string()),
    ]);
    row
}

fn requests(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    writeln!(out, "<h3 id=\"requests\">Per request</h3>")?;
    let outcomes: Vec<&String> = s.outcome_names.iter().filter(|o| s.totals.outcomes.contains_key(*o)).collect();
    let mut head = vec!["request", "completed", "rate/s"];
    head.extend(outcomes.iter().map(|o| o.as_str()));
    head.extend(["error rate", "p50", "p90", "p99", "p99.9", "max", "service p99", "dropped"]);
    let mut rows: Vec<Vec<Cell>> = s.requests.iter().map(|r| request_row(&r.name, &r.overall, &outcomes)).collect();
    if s.requests.len() > 1 {
        rows.push(request_row("all", &s.totals, &outcomes));
    }
    table(out, &head, &rows)?;
    writeln!(out, "<p class=\"note\">Latency is measured from each request's intended start (open loop, corrected for coordinated omission); service time from the actual send.</p>")
}

fn pods(out: &mut dyn Write, v: &RunView, svg: Option<&str>) -> io::Result<()> {
    let s = &v.summary;
    writeln!(out, "<section id=\"pods\"><h2>Pods</h2>")?;
    match svg {
        Some(svg) => {
            let hidden =
                if v.pods_hidden > 0 { format!(" The {} least busy pods are only in the table.", v.pods_hidden) } else { String::new() };
            figure(out, "chart-pods", svg, &format!("Completions per second and p99 latency per pod (from the pod header); uneven bars show imbalance; the dashed line is the mean rate.{hidden}"))?;
            let total: u64 = s.pods.iter().map(|p| p.count).sum();
            let rows: Vec<Vec<Cell>> = s
                .pods
                .iter()
                .map(|p| {
                    let outcomes = p.outcomes.iter().map(|(k, c)| format!("{k} {c}")).collect::<Vec<_>>().join(", ");
                    vec![
                        text_cell(&p.name),
                        num_cell(p.count.to_string()),
                        num_cell(format!("{:.1}", p.rps)),
                        num_cell(pct(p.count as f64 / total.max(1) as f64)),
                        num_cell(lat(&p.latency, p.latency.p50_us)),
                        num_cell(lat(&p.latency, p.latency.p99_us)),
                        text_cell(outcomes),
                    ]
                })
                .collect();
            table(out, &["pod", "completed", "rate/s", "share", "p50", "p99", "outcomes"], &rows)?;
        }
        None => {
            writeln!(out, "<p class=\"note\">No pod was named in the responses (set <code>pod_header</code> to see per-pod rates).</p>")?
        }
    }
    for (header, values) in &s.labels {
        let total: u64 = values.values().sum();
        if total == 0 {
            continue;
        }
        let rows: Vec<Vec<Cell>> =
            values.iter().map(|(val, c)| vec![text_cell(val), num_cell(c.to_string()), num_cell(pct(*c as f64 / total.max(1) as f64))]).collect();
        writeln!(out, "<h3>Responses by <code>{}</code></h3>", escape(header))?;
        table(out, &["value", "responses", "share"], &rows)?;
    }
    writeln!(out, "</section>")
}

fn capacity(out: &mut dyn Write, c: Option<&CapacityData>, svg: Option<&str>) -> io::Result<()> {
    writeln!(out, "<section id=\"capacity\"><h2>Capacity plan</h2>")?;
    let Some(c) = c else {
        return writeln!(out, "<p class=\"note\">No capacity search in this run.</p></section>");
    };
    if let Some(svg) = svg {
        let verdict = match c.passed {
            Some(true) => " Verdict: the target held what was required.",
            Some(false) => " Verdict: the target did NOT hold what was required.",
            None => "",
        };
        figure(
            out,
            "chart-capacity",
            svg,
            &format!("p99 latency at each offered rate of the capacity search, with the SLO line and the knee.{verdict}"),
        )?;
    }
    let f = |v: Option<f64>, unit: &str| v.map_or("–".to_string(), |v| format!("{v:.1}{unit}"));
    let mut rows = vec![
        vec![text_cell("highest rate within the SLO"), num_cell(f(c.max_rps, " req/s"))],
        vec![text_cell("knee (latency starts to climb)"), num_cell(f(c.knee_rps, " req/s"))],
        vec![text_cell("SLO"), num_cell(c.slo_p99_us.map_or("–".into(), |u| format!("p99 < {}", format_us(u))))],
        vec![text_cell("pods in the test"), num_cell(c.pods.map_or("–".into(), |p| p.to_string()))],
        vec![text_cell("capacity per pod"), num_cell(f(c.per_pod_rps, " req/s"))],
        vec![text_cell("peak to plan for"), num_cell(f(c.peak_qps, " req/s"))],
        vec![text_cell("headroom"), num_cell(c.headroom.map_or("–".into(), pct))],
        vec![text_cell("pods needed for the peak"), num_cell(c.pods_needed.map_or("–".into(), |p| p.to_string()))],
        vec![text_cell("calls a day at the highest rate"), num_cell(c.daily_calls.map_or("–".into(), |d| format!("{:.0}", d)))],
    ];
    rows.push(vec![text_cell("verdict"), ok(c.passed)]);
    table(out, &["", "value"], &rows)?;
    let steps: Vec<Vec<Cell>> = c
        .steps
        .iter()
        .map(|s| {
            vec![num_cell(format!("{:.0}", s.rate)), num_cell(f(s.achieved_rps, "")), num_cell(format_us(s.p99_us)), num_cell(pct(s.error_rate)), ok(Some(s.passed))]
        })
        .collect();
    table(out, &["offered rate", "achieved", "p99", "error rate", "result"], &steps)?;
    for note in &c.notes {
        writeln!(out, "<p class=\"note\">{}</p>", escape(note))?;
    }
    writeln!(out, "</section>")
}

fn faults(out: &mut dyn Write, faults: &[FaultWindow]) -> io::Result<()> {
    writeln!(out, "<section id=\"faults\"><h2>Faults</h2>")?;
    if faults.is_empty() {
        return writeln!(out, "<p class=\"note\">No faults were injected in this run.</p></section>");
    }
    let w = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => format!("{a:.1}s – {b:.1}s"),
        (Some(a), None) => format!("{a:.1}s – ?"),
        _ => "not applied".into(),
    };
    let lat = |p: Option<(u64, u64)>| p.map_or("–".to_string(), |(a, b)| format!("{} / {}", crate::units::format_us(a), crate::units::format_us(b)));
    let rows: Vec<Vec<Cell>> = faults
        .iter()
        .map(|f| {
            vec![
                text_cell(&f.name),
                num_cell(w(Some(f.planned_start_s), Some(f.planned_end_s))),
                num_cell(match &f.ended_early {
                    Some(_) => format!("{} (ended early)", w(f.actual_start_s, f.actual_end_s)),
                    None => w(f.actual_start_s, f.actual_end_s),
                }),
                num_cell(f.fallback_ratio.map_or("–".into(), pct)),
                num_cell(lat(f.latency_before)),
                num_cell(lat(f.latency_inside)),
                text_cell(&match (f.recovery_s, &f.recovery, &f.recovery_note) {
                    (Some(r), _, _) => format!("{r:.1}s"),
                    (None, Some(status), Some(note)) => format!("{status}: {note}"),
                    (None, Some(status), None) => status.clone(),
                    (None, None, _) => "–".into(),
                }),
                ok(f.passed),
            ]
        })
        .collect();
    table(out, &["fault", "planned", "applied", "fallback ratio", "p50 / p99 before", "p50 / p99 inside", "recovery", "result"], &rows)?;
    // The window (and what was judged inside it) stops where the fault was last known in place.
    for f in faults {
        if let Some(why) = &f.ended_early {
            writeln!(out, "<p class=\"note\">Fault {} ended early: {}</p>", escape(&f.name), escape(why))?;
        }
    }
    writeln!(out, "</section>")
}

fn environment(out: &mut dyn Write, r: &Report) -> io::Result<()> {
    let v = &r.current;
    let s = &v.summary;
    let g = &s.generator;
    let status = match s.status {
        RunStatus::Completed => "completed",
        RunStatus::Interrupted => "interrupted",
        RunStatus::Aborted => "aborted",
        RunStatus::Failed => "failed",
        RunStatus::Incomplete => "incomplete",
        RunStatus::DrillFailed => "drill failed",
    };
    writeln!(out, "<section id=\"environment\"><h2>Scenario and environment</h2><dl class=\"env\">")?;
    let items = [
        ("scenario", s.scenario.clone()),
        ("scenario file", s.scenario_file.clone().unwrap_or_else(|| "(flags only)".into())),
        ("results", v.label.clone()),
        ("status", status.to_string()),
        ("started", s.started_at.clone()),
        ("duration", format!("{:.1}s of {:.1}s planned", s.duration_s, s.planned_duration_s)),
        ("target", s.target.clone()),
        ("skyload", s.skyload_version.clone()),
        ("host", format!("{} (where this report was made)", r.host)),
        (
            "generator",
            format!(
                "{}{} · {:.2} cores busy · {:.0} requests per CPU-second",
                g.threads_text(),
                // Results from before the pacer option have no name for it.
                g.pacer_text(),
                g.cpu_cores,
                g.requests_per_cpu_second
            ),
        ),
        (
            "generator guard",
            format!(
                "sent {:.1}/s of {:.1}/s scheduled ({}) · dropped {} · pacer lag p99 {} (the generator's own lateness) · waiting for a connection p99 {} (pool and connect: the target's or the cap's) · connection-limited seconds: {}",
                g.send_rps,
                g.target_rps,
                pct(g.send_ratio),
                s.totals.dropped,
                lat(&g.schedule_lag, g.schedule_lag.p99_us),
                lat(&g.connection_wait, g.connection_wait.p99_us),
                if g.seconds.connection_limited.count == 0 {
                    "none".to_string()
                } else {
                    format!("{} ({} arrivals waited for a connection)", g.seconds.connection_limited.list(), g.connection_limited)
                }
            ),
        ),
    ];
    for (k, val) in items {
        writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&val))?;
    }
    writeln!(out, "</dl>")?;
    if g.fell_behind {
        // A rebuilt (killed) run's notes say what was lost, not that the generator lagged.
        let why = if s.status == RunStatus::Incomplete { "" } else { "The generator may have been the limit: " };
        for note in &g.notes {
            writeln!(out, "<p class=\"warning\">{why}{}</p>", escape(note))?;
        }
    } else {
        writeln!(out, "<p class=\"note\">The generator kept up with the schedule: the target, not skyload, shaped these numbers.</p>")?;
    }
    if let Some(text) = &v.scenario_text {
        writeln!(out, "<h3 id=\"scenario\">The scenario as run (secret values redacted)</h3><pre>{}</pre>", escape(text))?;
    }
    writeln!(out, "</section>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_markup_could_use() {
        assert_eq!(escape(r#"<script>alert('x') & "y"</script>"#), "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
        let mut out = Vec::new();
        table(&mut out, &["<h>"], &[vec![text_cell("<td>")]]).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(html.contains("<th>&lt;h&gt;</th>") && html.contains("<td>&lt;td&gt;</td>"));
    }
}
