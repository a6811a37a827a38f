//! Seeded random and adversarial inputs for the scenario parser: whatever a file holds, building a
//! Plan never panics, and a refusal says where (line:column) or which field (the check language's
//! own fuzz cases are in `verify::fuzz_tests`, reusing the seed and case count from here). A seeded generator (rand's SmallRng, already a dependency) rather than proptest keeps
//! the build light; a failure prints the seed and the input, so it replays exactly.
//!
//! CI runs `FUZZ_CASES` cases per property (a few seconds in all). A longer run for developers:
//! `SKYLOAD_FUZZ_CASES=200000 cargo test --release --lib fuzz` (and `SKYLOAD_FUZZ_SEED=N` to
//! start elsewhere).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

const FUZZ_CASES: u64 = 3000;

pub(crate) fn cases() -> u64 {
    std::env::var("SKYLOAD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(FUZZ_CASES)
}

pub(crate) fn seed() -> u64 {
    std::env::var("SKYLOAD_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed_15)
}

/// Values chosen to sit on edges: zero, negatives, the ends of i64 and f64, NaN and infinities,
/// empty and enormous strings, control characters, template syntax, absurd durations.
const NUMBERS: &[&str] = &[
    "0", "1", "-1", "2", "100", "0.5", "-0.0", "1e300", "-1e300", "1e-300", "nan", "inf", "-inf", "9223372036854775807",
    "-9223372036854775808", "4294967295", "18446744073709551615", "65536", "1000000", "10000001", "99999999999999999999",
];
const STRINGS: &[&str] = &[
    "\"\"", "\"x\"", "\"/\"", "\"/a/{{id}}\"", "\"{{\"", "\"}}\"", "\"{{nope}}\"", "\"{{rand_int 1 0}}\"", "\"{{uuid}}\"", "\"\\u0000\"",
    "\"\\r\\n\"", "\"é漢字\"", "\"GET\"", "\"BREW\"", "\"http://127.0.0.1:9\"", "\"http://u:p@127.0.0.1:9/x\"", "\"ftp://x\"",
    "\"http://[::1]:99999\"", "\"5xx\"", "\"9xx\"", "\"p99 < 200ms\"", "\"error_rate < 1%\"", "\"p99 <\"", "\"((((\"",
    "\"latency\"", "\"pod_kill\"", "\"bandwidth\"", "\"toxic\"", "\"exec\"", "\"upstream\"", "\"sideways\"", "\"x-pod\"",
    "\"bad header\"", "\"poisson\"", "\"cycle\"",
];
const DURATIONS: &[&str] = &[
    "\"0s\"", "\"1s\"", "\"250ms\"", "\"1.5s\"", "\"2m\"", "\"1h\"", "\"-1s\"", "\"1e30h\"", "\"999999999s\"", "\"1000000000s\"", "\"25h\"",
    "\"1\"", "\"s\"", "\"\"", "\"1us\"", "\"100000h\"", "\"nan s\"",
];

pub(crate) fn pick<'a>(rng: &mut SmallRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

/// Any value of any TOML type, biased towards the edges above.
fn value(rng: &mut SmallRng, depth: u32) -> String {
    match rng.gen_range(0..10) {
        0..=2 => pick(rng, NUMBERS).to_string(),
        3..=5 => pick(rng, STRINGS).to_string(),
        6 | 7 => pick(rng, DURATIONS).to_string(),
        8 => ["true", "false"][rng.gen_range(0..2)].to_string(),
        _ if depth < 2 => {
            let n = rng.gen_range(0..4);
            let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
            if rng.gen_bool(0.7) {
                format!("[{}]", items.join(", "))
            } else {
                let pairs: Vec<String> = items.iter().enumerate().map(|(i, v)| format!("k{i} = {v}")).collect();
                format!("{{ {} }}", pairs.join(", "))
            }
        }
        _ => format!("\"{}\"", "a".repeat(rng.gen_range(0..70_000))),
    }
}

/// Fields per table, as the scenario reference names them (and a few it does not).
const TOP: &[&str] = &["name", "seed", "threads", "pod_header", "labels", "max_in_flight", "max_lag", "pacer", "description", "bogus"];
const TARGET: &[&str] = &["url", "embedded", "timeout", "bogus"];
const CONNECTIONS: &[&str] = &["max", "http2", "h2_streams", "max_requests", "max_age", "per_request"];
const STAGE: &[&str] = &["name", "rate", "ramp_to", "from", "steps", "duration", "step_duration", "arrivals", "checks"];
const REQUEST: &[&str] = &["name", "weight", "method", "path", "body", "checks"];
const OUTCOME: &[&str] = &["name", "status", "header", "equals", "body_contains"];
const FAULT: &[&str] = &[
    "name", "at", "for", "kind", "pod", "function", "proxy", "latency", "jitter", "status", "percent", "rate_kbps", "delay", "toxic",
    "stream", "toxicity", "api", "start", "stop", "expect", "recover_within",
];
const CHECKS: &[&str] = &["run", "abort_when", "tolerances", "generator_guard"];

fn fields(rng: &mut SmallRng, names: &[&str], out: &mut String) {
    for n in names {
        if rng.gen_bool(0.35) {
            out.push_str(&format!("{n} = {}\n", value(rng, 0)));
        }
    }
}

/// One table: its header line, most of the time the `base` lines that make it reach the checks
/// past parsing, then random values for some of its `fields`.
fn table(rng: &mut SmallRng, header: &str, base: &str, names: &[&str]) -> String {
    let mut out = format!("{header}\n");
    if rng.gen_bool(0.7) {
        out.push_str(base);
    }
    fields(rng, names, &mut out);
    out
}

/// A scenario that is mostly well-formed TOML with random, often absurd, values: it reaches the
/// checks after parsing, which is where a panic would hide.
fn scenario(rng: &mut SmallRng) -> String {
    let mut s = String::new();
    fields(rng, TOP, &mut s);
    s.push_str("[target]\n");
    if rng.gen_bool(0.8) {
        s.push_str("url = \"http://127.0.0.1:9\"\n");
    }
    fields(rng, TARGET, &mut s);
    if rng.gen_bool(0.3) {
        s.push_str(&format!("[target.headers]\nx-a = {}\n", pick(rng, STRINGS)));
    }
    if rng.gen_bool(0.4) {
        s.push_str("[connections]\n");
        fields(rng, CONNECTIONS, &mut s);
    }
    for _ in 0..rng.gen_range(0..3) {
        s += &table(rng, "[[stages]]", "rate = 10\nduration = \"1s\"\n", STAGE);
    }
    for _ in 0..rng.gen_range(0..3) {
        s += &table(rng, "[[requests]]", "path = \"/\"\n", REQUEST);
    }
    for _ in 0..rng.gen_range(0..2) {
        // Outcomes always get their (required) name, so their other fields are what is tried.
        s += &table(rng, "[[outcomes]]\nname = \"fallback\"", "", OUTCOME);
    }
    for _ in 0..rng.gen_range(0..3) {
        let base = "at = \"1s\"\nfor = \"1s\"\nkind = \"latency\"\nproxy = \"p\"\napi = \"127.0.0.1:8474\"\nlatency = \"10ms\"\n";
        s += &table(rng, "[[faults]]", base, FAULT);
    }
    if rng.gen_bool(0.3) {
        s.push_str("[checks]\n");
        fields(rng, CHECKS, &mut s);
    }
    s
}

/// A valid scenario with a few bytes changed, inserted or removed: broken TOML, half tokens.
fn mutated(rng: &mut SmallRng) -> String {
    const BASE: &str = "name = \"m\"\n[target]\nurl = \"http://127.0.0.1:9/api\"\ntimeout = \"2s\"\n[target.headers]\nauthorization = \"Bearer x\"\n\
        [connections]\nmax = 64\n[[stages]]\nrate = 100\nduration = \"10s\"\n[[stages]]\nfrom = 1\nramp_to = 50\nduration = \"5s\"\n\
        [[requests]]\nname = \"get\"\npath = \"/users/{{rand_int 1 100}}\"\nweight = 3\n[[requests]]\nmethod = \"POST\"\npath = \"/o\"\nbody = '{\"a\": 1}'\n\
        [[faults]]\nat = \"2s\"\nfor = \"3s\"\nkind = \"latency\"\nproxy = \"gw\"\napi = \"127.0.0.1:8474\"\nlatency = \"100ms\"\njitter = \"10ms\"\n\
        [checks]\nrun = [\"p99 < 200ms\", \"error_rate < 1%\"]\n";
    let mut b = BASE.as_bytes().to_vec();
    const BYTES: &[u8] = b"0123456789\"'[]{}=.,-_ \n\\#xe+";
    for _ in 0..rng.gen_range(1..6) {
        let at = rng.gen_range(0..=b.len());
        match rng.gen_range(0..3) {
            0 if at < b.len() => b[at] = BYTES[rng.gen_range(0..BYTES.len())],
            1 if at < b.len() => {
                b.remove(at);
            }
            _ => b.insert(at, BYTES[rng.gen_range(0..BYTES.len())]),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn check_one(text: &str, case: u64) {
    let path = Path::new("fuzz.toml");
    let got = catch_unwind(AssertUnwindSafe(|| {
        let r = crate::scenario::load_str(text, path);
        // A plan that parses must also get through the bounds without panicking.
        let bounds = r.as_ref().ok().map(|p| crate::scenario::bounds::check(p, Some(1024)));
        (r, bounds)
    }));
    let (r, bounds) = got.unwrap_or_else(|_| panic!("case {case} (seed {}) panicked on:\n{text}", seed()));
    match r {
        Ok(_) => {
            if let Some(Err(m)) = bounds {
                assert!(!m.is_empty(), "case {case}: an empty bounds message");
            }
        }
        Err(e) => {
            let l = e.located().unwrap_or_else(|| panic!("case {case}: an error with no place: {e}\n{text}"));
            assert!(l.position.is_some() || !l.field.is_empty(), "case {case}: neither a line nor a field: {e}\n{text}");
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.toml"), "case {case}: the message does not name the file: {shown}");
        }
    }
}

#[test]
fn random_scenarios_never_panic_and_errors_say_where() {
    let mut rng = SmallRng::seed_from_u64(seed());
    let (mut ok, mut refused) = (0, 0);
    for case in 0..cases() {
        let text = if case % 2 == 0 { scenario(&mut rng) } else { mutated(&mut rng) };
        check_one(&text, case);
        if crate::scenario::load_str(&text, Path::new("fuzz.toml")).is_ok() {
            ok += 1;
        } else {
            refused += 1;
        }
    }
    // Both sides are exercised: a generator that only made garbage (or only valid files) would
    // prove little.
    assert!(ok > 0 && refused > 0, "ok {ok}, refused {refused}");
}
