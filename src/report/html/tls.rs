//! The report's TLS section for an https run: what was negotiated, what handshakes cost, and new
//! handshakes against resumptions per second (`handshakes.csv`), so churn that stopped resuming
//! (a server that lost its ticket keys, a cache too small) shows as a change over time. Kept in its
//! own file so the page's owner and this one do not collide; the chart is plain inline SVG.

use super::page::escape;
use super::view::RunView;
use crate::units::format_us;
use std::io::{self, Write};

pub fn section(out: &mut dyn Write, v: &RunView) -> io::Result<()> {
    let Some(t) = &v.summary.tls else { return Ok(()) };
    writeln!(out, "<section id=\"tls\"><h2>TLS</h2>")?;
    if t.version.is_empty() {
        // The pre-run probe never finished a handshake: no version or cipher to show.
        writeln!(out, "<p>No TLS handshake completed before the run · server name {} · {} · {} handshakes during it</p>", escape(&t.server_name), escape(&t.addresses.join(", ")), t.handshakes)?;
    } else {
        writeln!(
            out,
            "<p>{} over {} ({}) · server name {} · {} · {} handshakes, {} resumed · handshake p50 {} p99 {} max {}{}</p>",
            escape(&t.protocol),
            escape(&t.version),
            escape(&t.cipher),
            escape(&t.server_name),
            escape(&t.addresses.join(", ")),
            t.handshakes,
            t.resumed,
            format_us(t.handshake_p50_us),
            format_us(t.handshake_p99_us),
            format_us(t.handshake_max_us),
            if t.merged_percentiles { " (merged: percentiles are the largest of the parts', an upper bound)" } else { "" }
        )?;
    }
    if let Some(why) = &t.first_failure {
        let outcome = t.first_failure_outcome.as_deref().unwrap_or("tls");
        writeln!(out, "<p class=\"warning\">A TLS handshake failed during the run (outcome <code>{}</code>); the first: {}</p>", escape(outcome), escape(why))?;
    }
    if t.insecure {
        writeln!(out, "<p class=\"warning\">The server's certificate was NOT verified (--insecure).</p>")?;
    }
    if !v.handshakes.is_empty() {
        writeln!(out, "<figure id=\"chart-handshakes\">{}<figcaption>TLS handshakes per second: full handshakes (dark) and resumed sessions (light), stacked.</figcaption></figure>", chart(&v.handshakes))?;
    }
    writeln!(out, "</section>")
}

/// Stacked bars per second; rows for the same second (a final remainder row) are added together.
fn chart(rows: &[(u64, u64, u64)]) -> String {
    let last = rows.iter().map(|r| r.0).max().unwrap_or(0);
    let mut per = vec![(0u64, 0u64); last as usize + 1];
    for &(s, h, r) in rows {
        per[s as usize].0 += h;
        per[s as usize].1 += r.min(h);
    }
    let top = per.iter().map(|p| p.0).max().unwrap_or(0).max(1);
    let (w, h, pad) = (720.0, 160.0, 24.0);
    let bw = (w - 2.0 * pad) / per.len() as f64;
    let mut svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"TLS handshakes per second\">");
    svg.push_str(&format!("<text x=\"{pad}\" y=\"14\" font-size=\"11\" font-family=\"sans-serif\">max {top}/s</text>"));
    for (i, &(all, resumed)) in per.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let scale = |n: u64| n as f64 / top as f64 * (h - 2.0 * pad);
        let full = all - resumed;
        let y_full = h - pad - scale(full);
        svg.push_str(&format!("<rect x=\"{x:.1}\" y=\"{y_full:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#335\"><title>second {i}: {all} handshakes, {resumed} resumed</title></rect>", (bw - 1.0).max(0.5), scale(full)));
        svg.push_str(&format!("<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#9ad\"/>", y_full - scale(resumed), (bw - 1.0).max(0.5), scale(resumed)));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    #[test]
    fn chart_adds_rows_of_one_second_and_draws_a_bar_pair_per_second() {
        let svg = super::chart(&[(0, 4, 1), (1, 2, 2), (1, 1, 0)]);
        assert!(svg.contains("second 0: 4 handshakes, 1 resumed"));
        assert!(svg.contains("second 1: 3 handshakes, 2 resumed"));
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains("max 4/s"));
    }
}
