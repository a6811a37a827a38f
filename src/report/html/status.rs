//! Responses by HTTP status code per second (`status.csv`): when a burst of 503s or 429s began
//! and ended, which the rate chart's outcome layers (one `error`) cannot tell apart. The view is
//! pure and bounded (the most frequent codes, the rest together as `other`), drawn by
//! `charts::status`, with a table of the same series as its text alternative.

use super::page::escape;
use super::view::MAX_POINTS;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Most status codes drawn as series of their own; with more, the most frequent
/// `MAX_CODES - 1` are drawn and the rest added together as `other`.
pub const MAX_CODES: usize = 6;

/// What the report shows for status codes.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusCodes {
    /// No `status.csv`: Results written before it existed (or it could not be read).
    NotRecorded,
    /// `status.csv` holds no row: no request got an HTTP response.
    NoResponses,
    Drawn(StatusView),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    /// Bottom first: codes ascending, `other` (if any) last.
    pub series: Vec<StatusSeries>,
    /// Seconds of data in each point.
    pub bucket_s: u64,
    pub points: Vec<StatusPoint>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusSeries {
    /// `503`, or `other` for the less frequent codes together.
    pub name: String,
    /// The codes it counts (one, or those of `other`).
    pub codes: Vec<u16>,
    pub total: u64,
    /// Its busiest second: (second, responses).
    pub peak: (u64, u64),
    /// The first and last second it had a response in.
    pub seen: (u64, u64),
}

/// One point of the chart: responses per second by series (aligned with `StatusView::series`),
/// averaged over the point's seconds as the rate chart does.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPoint {
    pub t: f64,
    pub values: Vec<f64>,
}

impl StatusSeries {
    /// The colour class: 2 for 2xx and so on, 0 for `other`.
    pub fn class(&self) -> u16 {
        match self.codes.as_slice() {
            [one] if self.name != OTHER => one / 100,
            _ => 0,
        }
    }
}

const OTHER: &str = "other";

/// The view of `status.csv` as read (`None`: no file), over a run of `seconds` seconds drawn in
/// points of `bucket_s` seconds (the time charts' bucket, widened if the file runs longer).
pub fn view(rows: Option<&BTreeMap<u64, BTreeMap<u16, u64>>>, seconds: u64, bucket_s: u64) -> StatusCodes {
    let Some(rows) = rows else { return StatusCodes::NotRecorded };
    let mut totals: BTreeMap<u16, u64> = BTreeMap::new();
    for codes in rows.values() {
        for (&c, &n) in codes {
            *totals.entry(c).or_default() += n;
        }
    }
    totals.retain(|_, n| *n > 0);
    if totals.is_empty() {
        return StatusCodes::NoResponses;
    }
    // The most frequent codes (ties: the lower code), the rest as one `other`.
    let mut ranked: Vec<(u16, u64)> = totals.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let keep = if ranked.len() <= MAX_CODES { ranked.len() } else { MAX_CODES - 1 };
    let mut own: Vec<u16> = ranked[..keep].iter().map(|r| r.0).collect();
    own.sort_unstable();
    let mut rest: Vec<u16> = ranked[keep..].iter().map(|r| r.0).collect();
    rest.sort_unstable();
    let mut groups: Vec<(String, Vec<u16>)> = own.iter().map(|c| (c.to_string(), vec![*c])).collect();
    if !rest.is_empty() {
        groups.push((OTHER.to_string(), rest));
    }
    let of = |codes: &BTreeMap<u16, u64>, group: &[u16]| group.iter().map(|c| codes.get(c).copied().unwrap_or(0)).sum::<u64>();

    let span = rows.keys().next_back().map_or(0, |k| k + 1).max(seconds).max(1);
    let bucket_s = bucket_s.max(span.div_ceil(MAX_POINTS as u64)).max(1);
    let mut points: Vec<StatusPoint> =
        (0..span.div_ceil(bucket_s)).map(|b| StatusPoint { t: (b * bucket_s) as f64, values: vec![0.0; groups.len()] }).collect();
    let mut series: Vec<StatusSeries> =
        groups.iter().map(|(name, codes)| StatusSeries { name: name.clone(), codes: codes.clone(), total: 0, peak: (0, 0), seen: (u64::MAX, 0) }).collect();
    for (&k, codes) in rows {
        for (g, s) in series.iter_mut().enumerate() {
            let n = of(codes, &s.codes);
            if n == 0 {
                continue;
            }
            s.total += n;
            if n > s.peak.1 {
                s.peak = (k, n);
            }
            s.seen = (s.seen.0.min(k), s.seen.1.max(k));
            points[(k / bucket_s) as usize].values[g] += n as f64;
        }
    }
    for (b, p) in points.iter_mut().enumerate() {
        // The last point may hold fewer seconds than a bucket.
        let width = bucket_s.min(span - b as u64 * bucket_s) as f64;
        p.values.iter_mut().for_each(|v| *v /= width);
    }
    StatusCodes::Drawn(StatusView { series, bucket_s, points })
}

/// The chart (drawn beforehand, `None` when there is nothing to draw) and its table, or the
/// sentence saying why there is neither.
pub fn section(out: &mut dyn Write, codes: &StatusCodes, svg: Option<&str>, fault_note: &str) -> io::Result<()> {
    let (v, svg) = match (codes, svg) {
        (StatusCodes::Drawn(v), Some(svg)) => (v, svg),
        (StatusCodes::NoResponses, _) => {
            return writeln!(out, "<p class=\"note\" id=\"status-codes\">No status codes recorded: no request got an HTTP response (connect, reset and timeout failures have no code).</p>");
        }
        _ => {
            return writeln!(out, "<p class=\"note\" id=\"status-codes\">No status codes recorded: this results directory has no readable status.csv (Results written before it existed have none).</p>");
        }
    };
    let other = v.series.iter().find(|s| s.name == OTHER).map_or(String::new(), |s| {
        format!(" The {} less frequent codes are added together as other.", s.codes.len())
    });
    let bucket = if v.bucket_s > 1 { format!(" Each point covers {} seconds.", v.bucket_s) } else { String::new() };
    writeln!(
        out,
        "<figure class=\"chart\" id=\"chart-status\">\n{svg}\n<figcaption>{}</figcaption></figure>",
        escape(&format!(
            "Responses by status code per second, stacked (by completion time); requests that failed below HTTP (connect, reset, timeout) have no code and are not here.{other}{fault_note}{bucket}"
        ))
    )?;
    let all: u64 = v.series.iter().map(|s| s.total).sum();
    writeln!(out, "<table id=\"status-codes\"><caption>Responses by status code</caption><thead><tr><th>status</th><th class=\"num\">responses</th><th class=\"num\">share</th><th class=\"num\">busiest second</th><th class=\"num\">seen</th></tr></thead><tbody>")?;
    for s in &v.series {
        let name = if s.name == OTHER { format!("other ({})", s.codes.iter().map(u16::to_string).collect::<Vec<_>>().join(", ")) } else { s.name.clone() };
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}%</td><td class=\"num\">{}/s at {}s</td><td class=\"num\">{}s – {}s</td></tr>",
            escape(&name),
            s.total,
            s.total as f64 * 100.0 / all.max(1) as f64,
            s.peak.1,
            s.peak.0,
            s.seen.0,
            s.seen.1
        )?;
    }
    writeln!(out, "</tbody></table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(list: &[(u64, u16, u64)]) -> BTreeMap<u64, BTreeMap<u16, u64>> {
        let mut m: BTreeMap<u64, BTreeMap<u16, u64>> = BTreeMap::new();
        for &(k, c, n) in list {
            *m.entry(k).or_default().entry(c).or_default() += n;
        }
        m
    }

    fn drawn(c: StatusCodes) -> StatusView {
        match c {
            StatusCodes::Drawn(v) => v,
            other => panic!("expected a chart, got {other:?}"),
        }
    }

    #[test]
    fn old_results_and_runs_without_answers_say_so() {
        assert_eq!(view(None, 10, 1), StatusCodes::NotRecorded);
        assert_eq!(view(Some(&BTreeMap::new()), 10, 1), StatusCodes::NoResponses);
        assert_eq!(view(Some(&rows(&[(0, 200, 0)])), 10, 1), StatusCodes::NoResponses);
        let mut out = Vec::new();
        section(&mut out, &StatusCodes::NotRecorded, None, "").unwrap();
        assert!(String::from_utf8(out).unwrap().contains("No status codes recorded"));
    }

    /// A burst of 503s in seconds 2 and 3 between 200s: its own series, placed in time, the
    /// quiet seconds (none in the file) drawn as zero.
    #[test]
    fn a_burst_has_its_seconds() {
        let v = drawn(view(Some(&rows(&[(0, 200, 100), (1, 200, 100), (2, 200, 40), (2, 503, 60), (3, 503, 90), (5, 200, 100)])), 6, 1));
        assert_eq!(v.series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["200", "503"]);
        let s503 = &v.series[1];
        assert_eq!((s503.total, s503.peak, s503.seen, s503.class()), (150, (3, 90), (2, 3), 5));
        assert_eq!(v.points.len(), 6);
        assert_eq!(v.points.iter().map(|p| p.values.clone()).collect::<Vec<_>>(), [
            vec![100.0, 0.0],
            vec![100.0, 0.0],
            vec![40.0, 60.0],
            vec![0.0, 90.0],
            vec![0.0, 0.0],
            vec![100.0, 0.0]
        ]);
    }

    /// Many codes: the most frequent keep a series each, the rest are one `other`, and every
    /// response is still counted once.
    #[test]
    fn series_are_bounded_and_nothing_is_lost() {
        let list: Vec<(u64, u16, u64)> = [(200, 900), (201, 5), (204, 7), (301, 3), (404, 50), (429, 80), (500, 2), (503, 120), (504, 1)]
            .iter()
            .enumerate()
            .map(|(i, &(c, n))| (i as u64, c, n))
            .collect();
        let v = drawn(view(Some(&rows(&list)), 9, 1));
        assert_eq!(v.series.len(), MAX_CODES);
        assert_eq!(v.series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["200", "204", "404", "429", "503", "other"]);
        let other = v.series.last().unwrap();
        assert_eq!((other.codes.clone(), other.total, other.class()), (vec![201, 301, 500, 504], 11, 0));
        let drawn: f64 = v.points.iter().flat_map(|p| &p.values).sum();
        assert_eq!(drawn, list.iter().map(|r| r.2).sum::<u64>() as f64);
        // Exactly MAX_CODES codes need no `other`.
        let six = drawn_names(&[(0, 200, 9), (0, 201, 1), (0, 202, 1), (0, 203, 1), (0, 204, 1), (0, 205, 1)]);
        assert_eq!(six, ["200", "201", "202", "203", "204", "205"]);
    }

    fn drawn_names(list: &[(u64, u16, u64)]) -> Vec<String> {
        drawn(view(Some(&rows(list)), 1, 1)).series.into_iter().map(|s| s.name).collect()
    }

    /// A long run is drawn in buckets (rates averaged over their seconds, a short last one over
    /// its own), and a file that runs past the time series still fits.
    #[test]
    fn long_runs_are_bucketed_like_the_time_charts() {
        let list: Vec<(u64, u16, u64)> = (0..3_601).map(|k| (k, 200, 10)).collect();
        let v = drawn(view(Some(&rows(&list)), 3_600, 3));
        assert_eq!((v.bucket_s, v.points.len()), (4, 901), "3,601 seconds need buckets of 4 to stay within {MAX_POINTS} points");
        assert!(v.points.iter().all(|p| p.values == [10.0]), "a mean rate, the last (1 s) point too");
        assert_eq!(v.points[900].t, 3_600.0);
    }
}
