//! The report's "Slowest and failed requests" section, from `slow.csv` (written by traced runs):
//! next to the latency table, each kept request with the percentile band it explains and the trace
//! id to look it up by.

use super::page::escape;
use crate::record::slow::{read_csv, SlowRow};
use crate::record::summary::Summary;
use std::io::{self, Write};
use std::path::Path;

/// Rows per request name (and per failure outcome) on the page; slow.csv has them all.
const PER_NAME: usize = 10;

/// What the page shows: None for a run that was not traced.
#[derive(Debug, Clone, Default)]
pub struct SlowView {
    pub rows: Vec<SlowRow>,
    pub error: Option<String>,
}

pub fn read(dir: &Path) -> Option<SlowView> {
    Some(match read_csv(dir)? {
        Ok(rows) => SlowView { rows, error: None },
        Err(e) => SlowView { rows: Vec::new(), error: Some(e) },
    })
}

pub fn section(out: &mut dyn Write, v: Option<&SlowView>, s: &Summary) -> io::Result<()> {
    let Some(v) = v else { return Ok(()) };
    writeln!(out, "<h3 id=\"slow\">Slowest and failed requests</h3>")?;
    if let Some(e) = &v.error {
        return writeln!(out, "<p class=\"warning\">{}</p>", escape(e));
    }
    writeln!(
        out,
        "<p class=\"note\">Kept while the run went (traced: every request carried a W3C traceparent): per request name its slowest, per outcome its first failures. Search the gateway's logs by trace id. The band places each latency among its request's percentiles above. All {} kept requests are in slow.csv.</p>",
        v.rows.len()
    )?;
    let mut shown: Vec<&SlowRow> = Vec::new();
    for r in &v.rows {
        let (same, kind) = if r.kept_as == "failure" { ("outcome", &r.outcome) } else { ("request", &r.request) };
        let already = shown.iter().filter(|x| (x.kept_as == "failure") == (r.kept_as == "failure") && (if same == "outcome" { &x.outcome } else { &x.request }) == kind).count();
        if already < PER_NAME {
            shown.push(r);
        }
    }
    writeln!(out, "<table id=\"slow-requests\"><thead><tr><th>request</th><th class=\"num\">latency</th><th>band</th><th>trace id</th><th>intended (UTC)</th><th class=\"num\">status</th><th>outcome</th><th>pod</th><th>kept as</th></tr></thead><tbody>")?;
    for r in shown {
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{:.1}ms</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.request),
            r.latency_ms,
            crate::report::slow::band_of(r, s),
            escape(&r.trace_id),
            escape(&r.intended_utc),
            r.status,
            escape(&r.outcome),
            escape(&r.pod),
            escape(&r.kept_as)
        )?;
    }
    writeln!(out, "</tbody></table>")
}
