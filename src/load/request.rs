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
    /// HTTP/1.1 wire form for the lean client: the whole request when nothing is templated, else
    /// the literal header block (Host included) written between the request line and the rest.
    wire_whole: Option<Vec<u8>>,
    wire_headers: Vec<u8>,
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
    /// `trace = true`: every request carries a `traceparent` derived from (seed, seq).
    trace: bool,
    /// When tracing: slowest requests kept per name (and first failures per outcome).
    keep_slow: usize,
}

pub use crate::record::trace_id::mix;

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
                let mut wire_headers = Vec::new();
                for (name, value) in headers.iter() {
                    push_header(&mut wire_headers, name, value.as_bytes());
                }
                let wire_whole = match (&uri, &body_template, dyn_headers.is_empty()) {
                    (Some(u), None, true) => {
                        let mut w = Vec::new();
                        let target = u.path_and_query().map_or("/", |pq| pq.as_str());
                        write_head(&mut w, &r.method, target, &wire_headers);
                        finish_wire(&mut w, &r.method, body.as_deref().unwrap_or(b""));
                        Some(w)
                    }
                    _ => None,
                };
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
                    wire_whole,
                    wire_headers,
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
            trace: false,
            keep_slow: 0,
        }
    }

    /// Takes `cycle` feeder rows from the sequence number (for sharded runs).
    pub fn with_rows_by_seq(mut self, yes: bool) -> RequestSet {
        self.rows_by_seq = yes;
        self
    }

    /// Adds a W3C `traceparent` to every request (see `trace_id`); the prebuilt whole-request
    /// wire forms are given up, since each request now differs.
    /// `keep`: Some(requests kept per name, see `record::slow`) turns tracing on.
    pub fn with_trace(mut self, keep: Option<usize>) -> RequestSet {
        self.trace = keep.is_some();
        self.keep_slow = keep.unwrap_or(0);
        if self.trace {
            self.reqs.iter_mut().for_each(|p| p.wire_whole = None);
        }
        self
    }

    pub fn traced(&self) -> bool {
        self.trace
    }

    /// How many slow requests per name the recorder keeps; None when not tracing.
    pub fn keep_slow(&self) -> Option<usize> {
        self.trace.then_some(self.keep_slow)
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

    /// Whether request `idx` is a HEAD (its response has no body whatever its headers say).
    pub fn is_head(&self, idx: usize) -> bool {
        self.reqs[idx].method == Method::HEAD
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
        let (mut stack, mut heap) = ([usize::MAX; 8], Vec::new());
        let rows = self.pick_rows(p, seq, rng, &mut stack, &mut heap);
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
        super::trace_id::insert(self.trace.then_some(self.seed), seq, req.headers_mut());
        Ok((req, len))
    }

    /// Writes request `idx` for arrival `seq` in HTTP/1.1 wire form into `out` (cleared first) for
    /// the lean client; returns the body size. A literal request is one copy of bytes encoded at
    /// start; a templated one renders only its placeholders. With warm buffers nothing allocates.
    pub fn encode_h1(
        &self,
        idx: usize,
        seq: u64,
        rng: &mut SmallRng,
        scratch: &mut String,
        out: &mut Vec<u8>,
    ) -> Result<u64, BuildError> {
        let p = &self.reqs[idx];
        out.clear();
        if let Some(w) = &p.wire_whole {
            out.extend_from_slice(w);
            return Ok(p.body.as_ref().map_or(0, |b| b.len() as u64));
        }
        let (mut stack, mut heap) = ([usize::MAX; 8], Vec::new());
        let rows = self.pick_rows(p, seq, rng, &mut stack, &mut heap);
        let err = |what, value: &str| BuildError { request: self.names[idx].clone(), what, value: value.to_string() };
        scratch.clear();
        match &p.uri {
            Some(u) => scratch.push_str(u.path_and_query().map_or("/", |pq| pq.as_str())),
            None => {
                scratch.push_str(&p.prefix);
                self.render(&p.path, seq, rows, rng, scratch);
                if !valid_target(scratch) {
                    return Err(err("path", scratch));
                }
            }
        }
        write_head(out, &p.method, scratch, &p.wire_headers);
        super::trace_id::push_h1(self.trace.then_some(self.seed), seq, out);
        for (name, t) in &p.dyn_headers {
            scratch.clear();
            self.render(t, seq, rows, rng, scratch);
            if scratch.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(err("header", scratch));
            }
            push_header(out, name, scratch.trim().as_bytes());
        }
        let body: &[u8] = match (&p.body, &p.body_template) {
            (Some(b), _) => b,
            (None, Some(t)) => {
                scratch.clear();
                self.render(t, seq, rows, rng, scratch);
                scratch.as_bytes()
            }
            (None, None) => b"",
        };
        finish_wire(out, &p.method, body);
        Ok(body.len() as u64)
    }

    /// The feeder row each feeder of `p` gives this arrival: on the stack for up to 8 feeders,
    /// so the steady path does not allocate.
    fn pick_rows<'a>(
        &self,
        p: &Prepared,
        seq: u64,
        rng: &mut SmallRng,
        stack: &'a mut [usize; 8],
        heap: &'a mut Vec<usize>,
    ) -> &'a [usize] {
        let rows: &mut [usize] = if self.feeders.len() <= stack.len() {
            &mut stack[..self.feeders.len()]
        } else {
            heap.resize(self.feeders.len(), usize::MAX);
            heap
        };
        for &f in &p.feeders {
            let feeder = &self.feeders[f];
            rows[f] = match feeder.mode {
                FeedMode::Cycle if self.rows_by_seq => (seq % feeder.rows.len() as u64) as usize,
                FeedMode::Cycle => (self.cursors[f].fetch_add(1, Ordering::Relaxed) % feeder.rows.len() as u64) as usize,
                FeedMode::Random => rng.gen_range(0..feeder.rows.len()),
            };
        }
        rows
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
                Part::TraceId => out.push_str(std::str::from_utf8(&crate::record::trace_id::trace_id_hex(self.seed, seq)).unwrap_or_default()),
            }
        }
    }
}

use http_body_util::Full;

/// Request line and literal headers (Host among them for HTTP/1.1).
fn write_head(out: &mut Vec<u8>, method: &Method, target: &str, headers: &[u8]) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    out.extend_from_slice(headers);
}

fn push_header(out: &mut Vec<u8>, name: &HeaderName, value: &[u8]) {
    out.extend_from_slice(name.as_str().as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Content-Length (when there is a body, or the method expects one), the blank line, the body.
fn finish_wire(out: &mut Vec<u8>, method: &Method, body: &[u8]) {
    if !body.is_empty() || matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        out.extend_from_slice(b"content-length: ");
        push_decimal(out, body.len() as u64);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// What `Uri` parsing would accept as an origin-form target, checked without building one: no
/// spaces, controls or non-ASCII bytes, starting with `/`.
fn valid_target(t: &str) -> bool {
    t.starts_with('/') && t.bytes().all(|b| b.is_ascii_graphic())
}

/// A random (version 4, variant 1) UUID in its usual text form, written without allocating.
fn push_uuid(out: &mut String, r: u128) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let v = (r & !(0xF000u128 << 64) | (0x4000u128 << 64)) & !(0xC000u128 << 48) | (0x8000u128 << 48);
    for i in 0..32 {
        if matches!(i, 8 | 12 | 16 | 20) {
            out.push('-');
        }
        out.push(HEX[((v >> (124 - 4 * i)) & 0xF) as usize] as char);
    }
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

    fn plan_with(path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Plan {
        let mut toml = format!("[target]\nurl = \"http://127.0.0.1:9\"\n[[requests]]\nname = \"r\"\nmethod = \"POST\"\npath = \"{path}\"\n");
        if let Some(b) = body {
            toml.push_str(&format!("body = '{b}'\n"));
        }
        if !headers.is_empty() {
            toml.push_str("[requests.headers]\n");
            for (n, v) in headers {
                toml.push_str(&format!("\"{n}\" = \"{v}\"\n"));
            }
        }
        toml.push_str("[[stages]]\nduration = \"1s\"\nrate = 1\n");
        crate::scenario::load_str(&toml, std::path::Path::new("t.toml")).expect("plan")
    }

    /// The lean client's bytes say what hyper would send for the same request (method, target,
    /// headers, body), so switching transports changes nothing at the target.
    #[test]
    fn wire_form_matches_the_built_request() {
        for (path, hdrs, body) in [
            ("/fn/a?x=1", vec![("x-k", "v")], Some("{\"a\":1}")),
            ("/fn/{{seq}}", vec![("x-id", "{{seq}}")], Some("n={{seq}}")),
            ("/fn/b", vec![], None),
        ] {
            let plan = plan_with(path, &hdrs, body);
            let set = RequestSet::new(&plan, "127.0.0.1:9", "", false);
            let mut rng = rand::SeedableRng::seed_from_u64(1);
            let (mut scratch, mut out) = (String::new(), Vec::new());
            let n = set.encode_h1(0, 42, &mut rng, &mut scratch, &mut out).unwrap();
            let mut rng2: SmallRng = rand::SeedableRng::seed_from_u64(1);
            let (req, len) = set.build(0, 42, &mut rng2, &mut scratch).unwrap();
            assert_eq!(n, len);
            let mut h = [httparse::EMPTY_HEADER; 16];
            let mut parsed = httparse::Request::new(&mut h);
            let head_len = match parsed.parse(&out).unwrap() {
                httparse::Status::Complete(l) => l,
                _ => panic!("incomplete: {}", String::from_utf8_lossy(&out)),
            };
            assert_eq!(parsed.method, Some(req.method().as_str()));
            assert_eq!(parsed.path, Some(req.uri().path_and_query().unwrap().as_str()));
            for (name, value) in req.headers() {
                let found = parsed.headers.iter().find(|x| x.name.eq_ignore_ascii_case(name.as_str())).expect("header");
                assert_eq!(found.value, value.as_bytes(), "{name}");
            }
            assert_eq!(out.len() - head_len, len as usize);
        }
    }

    #[test]
    fn templated_wire_encoding_allocates_nothing_once_warm() {
        let plan = plan_with("/fn/{{seq}}?u={{uuid}}", &[("x-id", "{{seq}}")], Some("n={{seq}}"));
        let set = RequestSet::new(&plan, "127.0.0.1:9", "", false);
        let mut rng = rand::SeedableRng::seed_from_u64(1);
        let (mut scratch, mut out) = (String::new(), Vec::new());
        for seq in 0..100 {
            set.encode_h1(0, seq, &mut rng, &mut scratch, &mut out).unwrap();
        }
        let n = crate::load::h1::tests::counting::allocations_in(|| {
            for seq in 100..1_100 {
                set.encode_h1(0, seq, &mut rng, &mut scratch, &mut out).unwrap();
            }
        });
        assert_eq!(n, 0, "allocations in 1,000 templated encodings");
    }

    #[test]
    fn mix_is_deterministic_and_spread() {
        assert_eq!(mix(1, 7), mix(1, 7));
        assert_ne!(mix(1, 7), mix(2, 7));
        let ones = (0..10_000u64).filter(|s| mix(3, *s) % 10 == 0).count();
        assert!((900..1100).contains(&ones), "{ones}");
    }
}
