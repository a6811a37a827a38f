//! Saved Results as verify reads them: summary.json for the whole run, and the per-second files
//! (timeseries.csv, pods.csv, labels.csv, latency.hlog) for any stretch of it, so a check over a
//! stage or a window is computed from what is on disk, exactly as `skyload compare` or a later
//! re-check would see it. A second belongs to a window when its middle lies inside it.

use super::metrics::Data;
use super::VerifyError;
use crate::record::hist::{add, new_hist, Hist};
use crate::record::results::{read_summary, ALL_REQUESTS, HLOG, LABELS, PODS, TIMESERIES};
use crate::record::summary::Summary;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One `timeseries.csv` row.
#[derive(Debug, Clone)]
struct Row {
    second: u64,
    request: String,
    scheduled: u64,
    sent: u64,
    completed: u64,
    dropped: u64,
    outcomes: BTreeMap<String, u64>,
}

pub struct SavedRun {
    pub dir: PathBuf,
    pub summary: Summary,
    rows: Vec<Row>,
    pods: Vec<(u64, String, u64)>,
    labels: Vec<(u64, String, String, u64)>,
}

/// Seconds `[first, last]` of the run, by index, that lie in a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub from: f64,
    /// None: to the end of the data.
    pub to: Option<f64>,
}

impl Span {
    pub fn contains(&self, second: u64) -> bool {
        let mid = second as f64 + 0.5;
        mid >= self.from && self.to.map_or(true, |t| mid < t)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> VerifyError + '_ {
    move |e| VerifyError::Read { path: path.to_path_buf(), reason: e.to_string() }
}

fn bad(path: &Path, reason: impl Into<String>) -> VerifyError {
    VerifyError::Read { path: path.to_path_buf(), reason: reason.into() }
}

impl SavedRun {
    pub fn load(dir: &Path) -> Result<SavedRun, VerifyError> {
        let summary = read_summary(dir).map_err(io(&dir.join(crate::record::results::SUMMARY)))?;
        let ts = dir.join(TIMESERIES);
        let mut rd = csv::Reader::from_path(&ts).map_err(|e| bad(&ts, e.to_string()))?;
        let header: Vec<String> = rd.headers().map_err(|e| bad(&ts, e.to_string()))?.iter().map(String::from).collect();
        let col = |n: &str| header.iter().position(|h| h == n).ok_or_else(|| bad(&ts, format!("no `{n}` column")));
        let (c_sec, c_req, c_sch, c_sent, c_comp, c_drop) = (col("second")?, col("request")?, col("scheduled")?, col("sent")?, col("completed")?, col("dropped")?);
        let outcome_cols: Vec<(usize, String)> = summary.outcome_names.iter().filter_map(|o| header.iter().position(|h| h == o).map(|i| (i, o.clone()))).collect();
        let mut rows = Vec::new();
        for rec in rd.records() {
            let rec = rec.map_err(|e| bad(&ts, e.to_string()))?;
            let num = |i: usize| rec.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            rows.push(Row {
                second: num(c_sec),
                request: rec.get(c_req).unwrap_or_default().to_string(),
                scheduled: num(c_sch),
                sent: num(c_sent),
                completed: num(c_comp),
                dropped: num(c_drop),
                outcomes: outcome_cols.iter().map(|(i, o)| (o.clone(), num(*i))).filter(|(_, n)| *n > 0).collect(),
            });
        }
        let pods = read_rows(&dir.join(PODS), 3)?.into_iter().map(|r| (r[0].parse().unwrap_or(0), r[1].clone(), r[2].parse().unwrap_or(0))).collect();
        let labels = read_rows(&dir.join(LABELS), 4)?.into_iter().map(|r| (r[0].parse().unwrap_or(0), r[1].clone(), r[2].clone(), r[3].parse().unwrap_or(0))).collect();
        Ok(SavedRun { dir: dir.to_path_buf(), summary, rows, pods, labels })
    }

    /// The data of the seconds inside `span`, for all requests or one.
    pub fn data(&self, span: Span, request: Option<&str>) -> Result<Data, VerifyError> {
        let want = request.unwrap_or(ALL_REQUESTS);
        let mut d = Data::default();
        let mut seconds = std::collections::BTreeSet::new();
        for r in self.rows.iter().filter(|r| r.request == want && span.contains(r.second)) {
            seconds.insert(r.second);
            d.scheduled += r.scheduled;
            d.sent += r.sent;
            d.completed += r.completed;
            d.dropped += r.dropped;
            for (o, n) in &r.outcomes {
                *d.outcomes.entry(o.clone()).or_default() += n;
            }
        }
        d.seconds = seconds.len() as f64;
        let one_request = self.summary.requests.len() <= 1;
        let lat_tag = match request {
            Some(r) if !one_request => Some(format!("req.{r}")),
            _ => None,
        };
        d.latency = Some(self.hlog_sum(span, lat_tag.as_deref())?);
        d.service = if request.is_none() || one_request { Some(self.hlog_sum(span, Some("service"))?) } else { None };
        if request.is_none() {
            let mut pods = BTreeMap::new();
            for (s, p, n) in &self.pods {
                if span.contains(*s) {
                    *pods.entry(p.clone()).or_default() += n;
                }
            }
            d.pods = Some(pods);
            let mut labels: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
            for (s, h, v, n) in &self.labels {
                if span.contains(*s) {
                    *labels.entry(h.clone()).or_default().entry(v.clone()).or_default() += n;
                }
            }
            d.labels = Some(labels);
        }
        Ok(d)
    }

    /// Adds the interval-log histograms with this tag (None: untagged) whose second is in `span`.
    fn hlog_sum(&self, span: Span, tag: Option<&str>) -> Result<Hist, VerifyError> {
        let path = self.dir.join(HLOG);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let mut total = new_hist();
        let mut de = hdrhistogram::serialization::Deserializer::new();
        for entry in IntervalLogIterator::new(&bytes) {
            let entry = entry.map_err(|e| bad(&path, format!("{e:?}")))?;
            let LogEntry::Interval(iv) = entry else { continue };
            if iv.tag().map(|t| t.as_str()) != tag || !span.contains(iv.start_timestamp().as_secs_f64().round() as u64) {
                continue;
            }
            let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, iv.encoded_histogram()).map_err(|e| bad(&path, e.to_string()))?;
            let h: Hist = de.deserialize(&mut raw.as_slice()).map_err(|e| bad(&path, format!("{e:?}")))?;
            add(&mut total, &h);
        }
        Ok(total)
    }
}

fn read_rows(path: &Path, fields: usize) -> Result<Vec<Vec<String>>, VerifyError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut rd = csv::Reader::from_path(path).map_err(|e| bad(path, e.to_string()))?;
    let mut out = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| bad(path, e.to_string()))?;
        if rec.len() < fields {
            return Err(bad(path, format!("a row with {} fields, expected {fields}", rec.len())));
        }
        out.push(rec.iter().map(String::from).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_belongs_where_its_middle_is() {
        let s = Span { from: 10.0, to: Some(12.0) };
        assert_eq!((9..14).filter(|x| s.contains(*x)).collect::<Vec<_>>(), vec![10, 11]);
        let s = Span { from: 1.4, to: Some(2.6) };
        assert_eq!((0..5).filter(|x| s.contains(*x)).collect::<Vec<_>>(), vec![1, 2]);
        let open = Span { from: 3.0, to: None };
        assert!(open.contains(1000) && !open.contains(2));
        let short = Span { from: 0.2, to: Some(0.4) };
        assert!(!(0..3).any(|x| short.contains(x)), "a window shorter than a second may hold none");
    }
}
