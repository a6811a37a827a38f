//! Turning the plan's weighted request mix into concrete HTTP requests. Everything literal is built
//! once; per request only the placeholders are rendered. The mix is picked from the sequence number
//! (not a thread's RNG), so any split of the schedule over threads or machines sends the same mix.

use super::transport::Body;
use crate::scenario::{FeedMode, Feeder, Part, Plan, Template};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Uri};
use rand::rngs::SmallRng;
use rand::Rng;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Prepared {
    method: Method,
    /// The URI when the path has no placeholders.
    uri: Option<Uri>,
    /// Prepended to the rendered path: base path, and for HTTP/2 the scheme and authority.
    prefix: String,
    path: Template,
    /// Literal headers, Host included for HTTP/1.1.
    headers: HeaderMap,
    dyn_headers: Vec<(HeaderName, Template)>,
    body: Option<Bytes>,
    body_template: Option<Template>,
    feeders: Vec<usize>,
}

/// Why a request could not be built (a rendered value that is not valid in a URI or header).
#[derive(Debug, thiserror::Error)]
#[error("request `{request}`: rendered {what} `{value}` is not valid HTTP")]
pub struct BuildError {
    pub request: String,
    pub what: &'static str,
    pub value: String,
}

pub struct RequestSet {
    names: Vec<String>,
    reqs: Vec<Prepared>,
    cumulative: Vec<u64>,
    seed: u64,
    feeders: Vec<Feeder>,
    /// Next row per feeder for `cycle` feeders, shared by all threads so rows go round in order.
    cursors: Arc<Vec<AtomicU64>>,
    /// Sharded runs take a `cycle` row from the sequence number instead (row = seq mod rows), so
    /// shards on different machines spread over the rows as one machine would, not all from row 0.
    rows_by_seq: bool,
}

/// A fixed bijective mix of the sequence number (splitmix64), so picks look random but are a pure
/// function of (seed, seq).
pub fn mix(seed: u64, seq: u64) -> u64 {
    let mut z = seed ^ seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl RequestSet {
    pub fn new(plan: &Plan, authority: &str, base_path: &str, http2: bool) -> RequestSet {
        let scheme = match &plan.target {
            crate::scenario::Target::Url(u) => u.scheme.as_str(),
            crate::scenario::Target::Embedded(_) => "http",
        };
        let prefix = if http2 { format!("{scheme}://{authority}{base_path}") } else { base_path.to_string() };
        let host = HeaderValue::from_str(authority).ok();
        let mut acc = 0;
        let mut cumulative = Vec::new();
        let reqs = plan
            .requests
            .iter()
            .map(|r| {
                acc += r.weight as u64;
                cumulative.push(acc);
                let mut headers = HeaderMap::new();
                let mut dyn_headers = Vec::new();
                if !http2 {
                    if let Some(h) = &host {
                        headers.insert(http::header::HOST, h.clone());
                    }
                }
                for (name, t) in &r.headers {
                    match t.as_literal().map(HeaderValue::from_str) {
                        Some(Ok(v)) => {
                            headers.insert(name.clone(), v);
                        }
                        _ => dyn_headers.push((name.clone(), t.clone())),
                    }
                }
                let uri = r.path.as_literal().and_then(|p| format!("{prefix}{p}").parse::<Uri>().ok());
                let body = r.body.as_ref().and_then(|b| b.as_literal()).map(|s| Bytes::from(s.to_string()));
                let body_template = r.body.as_ref().filter(|b| b.as_literal().is_none()).cloned();
                let mut feeders: Vec<usize> = r
                    .path
                    .feeders()
                    .chain(r.headers.iter().flat_map(|(_, t)| t.feeders()))
                    .chain(r.body.iter().flat_map(|b| b.feeders()))
                    .collect();
                feeders.sort_unstable();
                feeders.dedup();
                Prepared {
                    method: r.method.clone(),
                    uri,
                    prefix: prefix.clone(),
                    path: r.path.clone(),
                    headers,
                    dyn_headers,
                    body,
                    body_template,
                    feeders,
                }
            })
            .collect();
        RequestSet {
            names: plan.requests.iter().map(|r| r.name.clone()).collect(),
            reqs,
            cumulative,
            seed: plan.seed,
            feeders: plan.feeders.clone(),
            cursors: Arc::new(plan.feeders.iter().map(|_| AtomicU64::new(0)).collect()),
            rows_by_seq: false,
        }
    }

    /// Takes `cycle` feeder rows from the sequence number (for sharded runs).
    pub fn with_rows_by_seq(mut self, yes: bool) -> RequestSet {
        self.rows_by_seq = yes;
        self
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Share of the traffic each request gets.
    pub fn weights(&self) -> Vec<f64> {
        let total = *self.cumulative.last().unwrap_or(&1) as f64;
        let mut prev = 0;
        self.cumulative
            .iter()
            .map(|c| {
                let w = (c - prev) as f64 / total;
                prev = *c;
                w
            })
            .collect()
    }

    /// Which request the arrival with this sequence number sends.
    pub fn pick(&self, seq: u64) -> usize {
        if self.reqs.len() == 1 {
            return 0;
        }
        let total = *self.cumulative.last().expect("at least one request");
        let x = mix(self.seed, seq) % total;
        self.cumulative.partition_point(|c| *c <= x)
    }

    /// Builds request `idx` for arrival `seq`; returns it with the body size.
    pub fn build(
        &self,
        idx: usize,
        seq: u64,
        rng: &mut SmallRng,
        scratch: &mut String,
    ) -> Result<(Request<Body>, u64), BuildError> {
        let p = &self.reqs[idx];
        let mut rows = [usize::MAX; 8];
        let mut row_vec = Vec::new();
        let rows: &mut [usize] = if self.feeders.len() <= rows.len() {
            &mut rows[..self.feeders.len()]
        } else {
            row_vec.resize(self.feeders.len(), usize::MAX);
            &mut row_vec
        };
        for &f in &p.feeders {
            let feeder = &self.feeders[f];
            rows[f] = match feeder.mode {
                FeedMode::Cycle if self.rows_by_seq => (seq % feeder.rows.len() as u64) as usize,
                FeedMode::Cycle => (self.cursors[f].fetch_add(1, Ordering::Relaxed) % feeder.rows.len() as u64) as usize,
                FeedMode::Random => rng.gen_range(0..feeder.rows.len()),
            };
        }
        let err = |what, value: &str| BuildError { request: self.names[idx].clone(), what, value: value.to_string() };

        let uri = match &p.uri {
            Some(u) => u.clone(),
            None => {
                scratch.clear();
                scratch.push_str(&p.prefix);
                self.render(&p.path, seq, rows, rng, scratch);
                scratch.parse::<Uri>().map_err(|_| err("path", scratch))?
            }
        };
        let body = match (&p.body, &p.body_template) {
            (Some(b), _) => b.clone(),
            (None, Some(t)) => {
                scratch.clear();
                self.render(t, seq, rows, rng, scratch);
                Bytes::from(scratch.clone())
            }
            (None, None) => Bytes::new(),
        };
        let len = body.len() as u64;
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = p.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = p.headers.clone();
        for (name, t) in &p.dyn_headers {
            scratch.clear();
            self.render(t, seq, rows, rng, scratch);
            let v = HeaderValue::from_str(scratch).map_err(|_| err("header", scratch))?;
            req.headers_mut().insert(name.clone(), v);
        }
        Ok((req, len))
    }

    fn render(&self, t: &Template, seq: u64, rows: &[usize], rng: &mut SmallRng, out: &mut String) {
        for part in &t.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Var { feeder, column } => {
                    let f = &self.feeders[*feeder];
                    out.push_str(&f.rows[rows[*feeder]][*column]);
                }
                Part::Seq => {
                    let _ = write!(out, "{seq}");
                }
                Part::Uuid => push_uuid(out, rng.gen()),
                Part::RandInt(a, b) => {
                    let _ = write!(out, "{}", rng.gen_range(*a..=*b));
                }
            }
        }
    }
}

use http_body_util::Full;

/// A random (version 4, variant 1) UUID in its usual text form.
fn push_uuid(out: &mut String, r: u128) {
    let v = (r & !(0xF000u128 << 64) | (0x4000u128 << 64)) & !(0xC000u128 << 48) | (0x8000u128 << 48);
    let hex = format!("{v:032x}");
    out.push_str(&hex[0..8]);
    out.push('-');
    out.push_str(&hex[8..12]);
    out.push('-');
    out.push_str(&hex[12..16]);
    out.push('-');
    out.push_str(&hex[16..20]);
    out.push('-');
    out.push_str(&hex[20..32]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_has_version_and_variant() {
        let mut s = String::new();
        push_uuid(&mut s, u128::MAX);
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"), "{s}");
        let mut z = String::new();
        push_uuid(&mut z, 0);
        assert_eq!(z, "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn mix_is_deterministic_and_spread() {
        assert_eq!(mix(1, 7), mix(1, 7));
        assert_ne!(mix(1, 7), mix(2, 7));
        let ones = (0..10_000u64).filter(|s| mix(3, *s) % 10 == 0).count();
        assert!((900..1100).contains(&ones), "{ones}");
    }
}
