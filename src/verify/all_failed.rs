//! A run in which every request failed is never a quiet pass. A quick run has no checks, so
//! before this a run whose every answer was a 401 (a token missing from the command line) exited 0
//! and the terminal never showed a status code. The rule: when every request that ended, ended as
//! a failure (an error status, a transport failure, or dropped), the terminal says so with what
//! they were ("every request failed: 100% 401"), and, when the run had no checks of its own to
//! decide, a built-in check fails so the exit code is 1 ("no check passes silently"). A scenario
//! with checks keeps its own verdict: it may mean to test failures (an error-rate check is what
//! judges them there); the warning is printed all the same.

use super::verdict::CheckResult;
use crate::record::summary::Overall;

/// The built-in check's name, as the verdict table and verdict.json show it.
pub const CHECK: &str = "at least one request succeeded";

/// "every request failed: 100% 401" when no request succeeded; None otherwise (also when nothing
/// ended at all: a dead target is reported as such elsewhere).
pub fn describe(t: &Overall) -> Option<String> {
    let ended = t.completed + t.dropped;
    let failed = (t.error_rate * ended as f64).round() as u64;
    if ended == 0 || failed < ended {
        return None;
    }
    // Answered errors by status code, the transport failures by outcome, and drops.
    let mut parts: Vec<(String, u64)> = t.status_codes.iter().filter(|(c, n)| !c.starts_with('2') && !c.starts_with('3') && **n > 0).map(|(c, n)| (c.clone(), *n)).collect();
    parts.extend(t.outcomes.iter().filter(|(o, n)| !matches!(o.as_str(), "ok" | "error") && **n > 0).map(|(o, n)| (o.clone(), *n)));
    if t.dropped > 0 {
        parts.push(("dropped".into(), t.dropped));
    }
    parts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let shown: Vec<String> = parts.iter().take(4).map(|(k, n)| format!("{}% {k}", percent(*n, ended))).collect();
    let what = if shown.is_empty() { "100% failures".to_string() } else { shown.join(", ") };
    Some(format!("every request failed: {what} ({ended} requests, none answered with success)"))
}

fn percent(n: u64, of: u64) -> String {
    let p = 100.0 * n as f64 / of as f64;
    if (p - p.round()).abs() < 0.05 {
        format!("{p:.0}")
    } else {
        format!("{p:.1}")
    }
}

/// The failing built-in check for a run without checks of its own in which every request failed.
pub fn check(t: &Overall) -> Option<CheckResult> {
    describe(t).map(|what| CheckResult {
        scope: "run".into(),
        check: CHECK.into(),
        expected: "some requests answered with success (the run has no checks; this one is built in)".into(),
        measured: what.trim_start_matches("every request failed: ").to_string(),
        passed: false,
        note: Some(format!("{what}: {}, or add checks that say what this run expects", advice(t))),
    })
}

/// What to look at first. Answers that were not HTTP (`protocol`) most often mean the scheme is
/// wrong (an https:// server addressed as http://), which "check the headers" does not suggest.
fn advice(t: &Overall) -> &'static str {
    let protocol = t.outcomes.get("protocol").copied().unwrap_or(0);
    if protocol * 2 > t.completed + t.dropped {
        "the answers were not HTTP (outcome `protocol`): is the server speaking TLS (then use https://), or HTTP/2 only (then add --http2)? Check the URL"
    } else {
        "check the URL, method and headers (a missing token answers 401)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ok: u64, errors: &[(&str, u64)], timeouts: u64) -> Overall {
        let mut s = Overall::default();
        let t = &mut s;
        let err: u64 = errors.iter().map(|e| e.1).sum();
        t.completed = ok + err + timeouts;
        t.outcomes = [("ok", ok), ("error", err), ("timeout", timeouts)].into_iter().filter(|o| o.1 > 0).map(|(k, n)| (k.to_string(), n)).collect();
        t.status_codes = errors.iter().map(|(c, n)| (c.to_string(), *n)).chain((ok > 0).then(|| ("200".to_string(), ok))).collect();
        t.error_rate = (err + timeouts) as f64 / t.completed.max(1) as f64;
        s
    }

    #[test]
    fn every_answer_a_401_is_said_and_fails() {
        let s = summary(0, &[("401", 500)], 0);
        assert_eq!(describe(&s).unwrap(), "every request failed: 100% 401 (500 requests, none answered with success)");
        let c = check(&s).unwrap();
        assert!(!c.passed && c.measured.starts_with("100% 401") && c.note.unwrap().contains("401"));
    }

    #[test]
    fn mixed_failures_are_listed_by_share() {
        let s = summary(0, &[("503", 60), ("401", 20)], 20);
        assert_eq!(describe(&s).unwrap(), "every request failed: 60% 503, 20% 401, 20% timeout (100 requests, none answered with success)");
    }

    #[test]
    fn answers_that_were_not_http_point_at_the_scheme() {
        let mut s = summary(0, &[], 0);
        s.completed = 20;
        s.outcomes = [("protocol".to_string(), 20)].into_iter().collect();
        s.error_rate = 1.0;
        let note = check(&s).unwrap().note.unwrap();
        assert!(note.starts_with("every request failed: 100% protocol") && note.contains("https://"), "{note}");
        assert!(!check(&summary(0, &[("401", 5)], 0)).unwrap().note.unwrap().contains("https://"));
    }

    #[test]
    fn one_success_or_nothing_at_all_is_not_this() {
        assert_eq!(describe(&summary(1, &[("401", 999)], 0)), None);
        assert_eq!(describe(&summary(0, &[], 0)), None, "nothing ended: the dead-target path reports it");
        assert!(check(&summary(100, &[], 0)).is_none());
    }
}
