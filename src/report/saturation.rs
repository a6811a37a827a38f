//! The answer a ramp run was for: its saturation point, read from the per-second data — the highest
//! offered rate at which `ok` completions still followed the target (at least `FOLLOW` of it, two
//! seconds in a row, so one lucky second does not count) with p99 inside the SLO — the pods' rates
//! at that point, each pod's peak sustained rate, and what to run next. That rate is a saturation
//! point only if a second offered as much or more and was not followed: a ramp that ends below
//! the target's capacity is reported as not saturated, since its best second is just its peak. A
//! run whose target did not rise by at least half has no saturation point to find, and prints nothing.

use crate::record::hist::{add, new_hist};
use crate::record::read::{Results, Timeseries};
use crate::record::results::ALL_REQUESTS;
use std::collections::BTreeMap;
use crate::scenario::Plan;
use crate::verify::expr::{Metric, Op, Stat};
use crate::verify::spec::Scope;
use std::io::Write;
use std::path::Path;

/// Completions must reach this share of the target for a second to follow it.
pub const FOLLOW: f64 = 0.95;

#[derive(Debug, Clone, PartialEq)]
pub struct Saturation {
    /// Offered rate (target) of the last second that followed; None when even the first did not.
    pub rate: Option<f64>,
    /// Whether some second offered at least `rate` and completions did not follow it (true too
    /// when none followed). False when they followed the target up to its peak: `rate` is then
    /// only the most this ramp asked for, a lower bound on capacity, and no capacity may be
    /// claimed from it or from the pods' rates.
    pub saturated: bool,
    /// `ok` completions per second of each pod in that second, by name.
    pub per_pod: Vec<(String, f64)>,
    /// Each pod's highest per-second rate over the seconds that followed: its sustained capacity
    /// only when the run `saturated`, otherwise just the most it was asked for.
    pub pod_peaks: Vec<(String, f64)>,
    /// The p99 bound used: the SLO's, or 2x the first seconds' p99 (+1 ms) when there is none.
    pub p99_limit_us: u64,
    pub from_slo: bool,
    /// Requests no pod answered (the gateway's own 401/429/503, pod `gateway`).
    pub gateway_answered: u64,
    /// The run saturated because the gateway answered itself (a rate limit's 429s, shedding)
    /// while latency stayed within the bound: the seconds past `rate` missed for want of `ok`
    /// answers that the gateway's own answers make up, not for pods queueing. The pods' rates
    /// are then what the gateway let through, not their capacity.
    pub gateway_limited: bool,
    /// Whether the scenario has whole-run or request checks (the SLO `skyload capacity` judges
    /// its steps by): set by the caller, which has the plan.
    pub slo_checks: bool,
}

/// Whether a plan has the checks `skyload capacity` needs as its SLO.
pub fn has_slo_checks(plan: &Plan) -> bool {
    plan.verify.checks.iter().any(|c| matches!(c.scope, Scope::Run | Scope::Request(_)))
}

/// The `skyload capacity` command to run next. A scenario without checks cannot be searched as
/// it is, so the command carries the ramp's own bound (its p99 limit and an error rate) as the
/// SLO: it runs as printed, and it confirms the same criterion the ramp estimated with.
pub fn capacity_command(file: &str, slo_checks: bool, p99_limit_us: u64) -> String {
    if slo_checks {
        return format!("skyload capacity {file}");
    }
    // Rounded up to a value the check language reads back exactly: whole ms, or µs below 1 ms.
    let p99 = if p99_limit_us >= 1000 { format!("{}ms", p99_limit_us.div_ceil(1000)) } else { format!("{}us", p99_limit_us.max(1)) };
    format!("skyload capacity {file} --check 'p99 < {p99}' --check 'error_rate < 1%'")
}

/// The run's `p99 <` / `p99 <=` check over the whole run, in microseconds.
pub fn slo_p99(plan: &Plan) -> Option<u64> {
    plan.verify.checks.iter().filter(|c| matches!(c.scope, Scope::Run)).find_map(|c| match (&c.expr.metric, c.expr.op) {
        (Metric::Latency { stat: Stat::Quantile(q), service: false, outcome: None }, Op::Lt | Op::Le) if (*q - 0.99).abs() < 1e-9 => Some(c.expr.value as u64),
        _ => None,
    })
}

/// Whether a run's per-second targets rise enough for [`find`] to look for a saturation point: the
/// test `find` starts with, made from `timeseries.csv` alone (the per-request rows' targets, in the
/// tenths `record::read` keeps). A run at one rate — most runs — then does not read every second's
/// histograms back only to find it has nothing to say: that read, done at the end of every run,
/// set the process's peak memory (38 MiB after a 60 s run whose load ran in 13 MiB).
pub fn rises(ts: &Timeseries) -> bool {
    let mut by_second: BTreeMap<u64, u64> = BTreeMap::new();
    for row in ts.rows.iter().filter(|r| r.request != ALL_REQUESTS) {
        *by_second.entry(row.second).or_default() += (row.target_rps * 10.0).round().max(0.0) as u64;
    }
    let targets: Vec<f64> = by_second.values().filter(|t| **t > 0).map(|t| *t as f64 / 10.0).collect();
    let (lo, hi) = targets.iter().fold((f64::MAX, 0.0f64), |(a, b), t| (a.min(*t), b.max(*t)));
    targets.len() >= 4 && hi >= lo * 1.5
}

/// [`find`] for a Results directory, reading its per-second histograms only when [`rises`] says
/// there may be something to find. None when there is not, or the directory cannot be read.
pub fn find_in(dir: &Path, ts: &Timeseries, plan: &Plan) -> Option<Saturation> {
    if !rises(ts) {
        return None;
    }
    crate::record::read::results(dir).ok().and_then(|r| find(&r, slo_p99(plan))).map(|s| Saturation { slo_checks: has_slo_checks(plan), ..s })
}

pub fn find(r: &Results, slo_p99_us: Option<u64>) -> Option<Saturation> {
    let ok = r.shape.outcomes.names().iter().position(|n| n == "ok")?;
    let secs: Vec<Sec> = r
        .seconds
        .values()
        .map(|s| {
            let mut h = new_hist();
            for q in &s.iv.requests {
                add(&mut h, &q.latency);
            }
            Sec {
                target: s.target_tenths.iter().sum::<u64>() as f64 / 10.0,
                ok: s.iv.requests.iter().map(|q| q.outcomes.get(ok).copied().unwrap_or(0)).sum::<u64>() as f64,
                p99: if h.is_empty() { 0 } else { h.value_at_quantile(0.99) },
                pods: s.iv.pods.iter().map(|(p, n)| (p.clone(), *n)).collect(),
            }
        })
        .collect();
    judge(&secs, slo_p99_us)
}

/// One second of a run, as much of it as [`judge`] needs: kept apart from `Results` so the
/// judgement is a pure function over a table of seconds and is tested with one.
#[derive(Debug, Clone)]
struct Sec {
    target: f64,
    ok: f64,
    p99: u64,
    pods: Vec<(String, u64)>,
}

/// The saturation answer for a run's seconds, in order.
fn judge(secs: &[Sec], slo_p99_us: Option<u64>) -> Option<Saturation> {
    let targets: Vec<f64> = secs.iter().map(|s| s.target).filter(|t| *t > 0.0).collect();
    let (lo, hi) = targets.iter().fold((f64::MAX, 0.0f64), |(a, b), t| (a.min(*t), b.max(*t)));
    if targets.len() < 4 || hi < lo * 1.5 {
        return None;
    }
    let (limit, from_slo) = match slo_p99_us {
        Some(v) => (v, true),
        None => {
            let base = secs.iter().filter(|s| s.p99 > 0).take(3).map(|s| s.p99).min().unwrap_or(0);
            ((base * 2).max(base + 1000), false)
        }
    };
    let follows = |s: &Sec| s.target > 0.0 && s.ok >= FOLLOW * s.target && s.p99 > 0 && s.p99 <= limit;
    let mut best: Option<usize> = None;
    for i in 1..secs.len() {
        if follows(&secs[i]) && follows(&secs[i - 1]) && best.is_none_or(|b| secs[i].target >= secs[b].target) {
            best = Some(i);
        }
    }
    // The best following second is a saturation point only if the run offered as much or more in
    // some second that completions did not follow; otherwise the target simply stopped rising
    // first, and the rate is a lower bound on capacity, not the capacity.
    let saturated = best.is_none_or(|b| secs.iter().any(|s| s.target > 0.0 && s.target >= secs[b].target && !follows(s)));
    // `gateway` (`none` in Results of older versions): answers no pod gave.
    let is_pod = |p: &str| p != "gateway" && p != "none";
    let per_pod = best.map(|b| secs[b].pods.iter().filter(|(p, _)| is_pod(p)).map(|(p, n)| (p.clone(), *n as f64)).collect()).unwrap_or_default();
    let mut pod_peaks: Vec<(String, f64)> = Vec::new();
    for (i, s) in secs.iter().enumerate() {
        if !(follows(s) && i > 0 && follows(&secs[i - 1])) {
            continue;
        }
        for (p, n) in s.pods.iter().filter(|(p, _)| is_pod(p)) {
            match pod_peaks.iter_mut().find(|(q, _)| q == p) {
                Some(e) => e.1 = e.1.max(*n as f64),
                None => pod_peaks.push((p.clone(), *n as f64)),
            }
        }
    }
    pod_peaks.sort_by(|a, b| a.0.cmp(&b.0));
    let gateway_answered = secs.iter().flat_map(|s| s.pods.iter()).filter(|(p, _)| !is_pod(p)).map(|(_, n)| n).sum();
    // Who stopped the completions following past the best second: pods queueing (latency past
    // the bound in most of those seconds) or the gateway answering itself fast (its own answers
    // make up at least half of the missing `ok`, and latency held in most of them: one slow
    // second on a busy machine does not make a rate limit the pods' capacity).
    let by_gateway = |s: &Sec| s.pods.iter().filter(|(p, _)| !is_pod(p)).map(|(_, n)| *n as f64).sum::<f64>();
    let gateway_limited = saturated
        && best.is_some_and(|b| {
            let missed: Vec<&Sec> = secs.iter().filter(|s| s.target > 0.0 && s.target >= secs[b].target && !follows(s)).collect();
            let within = missed.iter().filter(|s| s.p99 <= limit).count();
            let deficit: f64 = missed.iter().map(|s| s.target - s.ok).sum();
            !missed.is_empty() && 2 * within > missed.len() && missed.iter().map(|s| by_gateway(s)).sum::<f64>() >= 0.5 * deficit
        });
    Some(Saturation { rate: best.map(|b| secs[b].target), saturated, per_pod, pod_peaks, p99_limit_us: limit, from_slo, gateway_answered, gateway_limited, slo_checks: false })
}

/// Prints the saturation answer of a ramp run (nothing for other runs).
pub fn print(plan: &Plan, dir: &Path, scenario: Option<&Path>, out: &mut dyn Write) -> std::io::Result<()> {
    let Ok(ts) = crate::record::read::timeseries(dir) else { return Ok(()) };
    let Some(s) = find_in(dir, &ts, plan) else { return Ok(()) };
    writeln!(out)?;
    let bound = format!("p99 <= {}{}", crate::units::format_us(s.p99_limit_us), if s.from_slo { ", the SLO" } else { ", 2x the first seconds' p99: no p99 SLO in the scenario" });
    match s.rate {
        Some(rate) if !s.saturated => {
            writeln!(out, "saturation: not reached: completions followed the target up to its peak, ~{rate:.0} rps offered ({:.0}% of target, {bound}); ramp higher to find it", FOLLOW * 100.0)?;
        }
        Some(rate) => {
            let pods = s.per_pod.len().max(1);
            writeln!(out, "saturation: ~{rate:.0} rps offered is the most this run's completions followed ({:.0}% of target, {bound})", FOLLOW * 100.0)?;
            if s.gateway_limited {
                writeln!(out, "  {GATEWAY_LIMITED}")?;
                if !s.per_pod.is_empty() {
                    writeln!(out, "  at that point: {}", s.per_pod.iter().map(|(p, n)| format!("{p} {n:.0}/s")).collect::<Vec<_>>().join(", "))?;
                }
            } else if !s.per_pod.is_empty() {
                writeln!(out, "  at that point: {} (~{:.0} rps per pod over {pods} pods)", s.per_pod.iter().map(|(p, n)| format!("{p} {n:.0}/s")).collect::<Vec<_>>().join(", "), rate / pods as f64)?;
            }
        }
        None => writeln!(out, "saturation: completions never followed the target ({:.0}% of it, {bound})", FOLLOW * 100.0)?,
    }
    if !s.pod_peaks.is_empty() {
        writeln!(out, "  {}: {}", pod_peaks_label(&s), s.pod_peaks.iter().map(|(p, n)| format!("{p} {n:.0}/s")).collect::<Vec<_>>().join(", "))?;
    }
    if s.gateway_answered > 0 {
        writeln!(out, "  {} requests were answered by the gateway itself, not a pod (shed 503, 401, 429: pod `gateway`)", s.gateway_answered)?;
    }
    let file = scenario.map_or("SCENARIO".to_string(), |p| p.display().to_string());
    writeln!(out, "  {}: {}", next_step(s.saturated), capacity_command(&file, s.slo_checks, s.p99_limit_us))?;
    if !s.slo_checks {
        writeln!(out, "  (the scenario has no run or request checks, the SLO a capacity search judges by: the command carries this ramp's bound as the SLO; put your own in [checks] run)")?;
    }
    Ok(())
}

/// Why the run stopped following when the gateway did it (the terminal's words; the report
/// capitalises them).
pub const GATEWAY_LIMITED: &str = "past it the gateway answered itself (429/503, pod `gateway`) while latency stayed within the bound: the gateway's own limit (a rate limit or shedding), not the pods' capacity";

/// What the pods' peaks are: their sustained rates at saturation, or, when the run never
/// saturated or the gateway limited it, only the most they were sent (the terminal's words; the
/// report capitalises them).
pub fn pod_peaks_label(s: &Saturation) -> &'static str {
    if s.gateway_limited {
        "highest rates seen per pod (not their capacity: the gateway limited first)"
    } else if s.saturated {
        "peak sustained per pod"
    } else {
        "highest rates seen per pod (not their capacity: they were not saturated)"
    }
}

/// The command to run next, and why.
pub fn next_step(saturated: bool) -> &'static str {
    if saturated {
        "a ramp estimates; to confirm a capacity by holding it"
    } else {
        "to find the capacity, ramp higher or search for it"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(targets: &[(f64, f64)]) -> Timeseries {
        // Two requests per second: their targets add up, as `find` adds their tenths.
        let mut csv = String::from("second,request,target_rps,scheduled,sent,completed,dropped,ok,p50_ms,p90_ms,p99_ms,max_ms,bytes_in,lag_p99_ms,in_flight,generator_cpu_pct\n");
        for (k, (a, b)) in targets.iter().enumerate() {
            csv += &format!("{k},a,{a:.1},0,0,0,0,0,,,,,0,,,\n{k},b,{b:.1},0,0,0,0,0,,,,,0,,,\n{k},*,{:.1},0,0,0,0,0,,,,,0,0,0,0\n", a + b);
        }
        crate::record::read::parse_timeseries(csv.as_bytes()).unwrap()
    }

    #[test]
    fn the_capacity_command_runs_as_printed() {
        assert_eq!(capacity_command("s.toml", true, 51_000), "skyload capacity s.toml");
        assert_eq!(capacity_command("s.toml", false, 51_000), "skyload capacity s.toml --check 'p99 < 51ms' --check 'error_rate < 1%'");
        assert_eq!(capacity_command("s.toml", false, 51_001), "skyload capacity s.toml --check 'p99 < 52ms' --check 'error_rate < 1%'", "rounded up, never tighter than the ramp's bound");
        assert_eq!(capacity_command("s.toml", false, 900), "skyload capacity s.toml --check 'p99 < 900us' --check 'error_rate < 1%'");
        // Each suggested check is one the check language accepts.
        let cmd = capacity_command("s.toml", false, 1_234_567);
        for c in cmd.split("--check '").skip(1).map(|c| c.trim_end().trim_end_matches('\'')) {
            crate::verify::expr::parse(c).unwrap_or_else(|e| panic!("{c}: {e:?}"));
        }
    }

    #[test]
    fn only_targets_that_rise_by_half_over_four_seconds_are_looked_at() {
        assert!(!rises(&ts(&[(100.0, 100.0); 60])), "one rate");
        assert!(!rises(&ts(&[(10.0, 0.0), (20.0, 0.0), (30.0, 0.0)])), "three seconds");
        assert!(rises(&ts(&[(10.0, 0.0), (0.0, 10.0), (10.0, 5.0), (10.0, 5.1)])), "the requests' targets add up");
        assert!(!rises(&ts(&[(10.0, 0.0), (0.0, 10.0), (10.0, 4.9), (10.0, 4.9)])));
        // Seconds with no target (a pause) are not the low end.
        assert!(!rises(&ts(&[(0.0, 0.0), (50.0, 50.0), (60.0, 60.0), (70.0, 70.0), (74.9, 74.9)])));
        assert!(!rises(&Timeseries::default()));
    }

    /// A second offered `target`, `ok` of it completing, split evenly over two pods.
    fn sec(target: f64, ok: f64, p99: u64) -> Sec {
        let half = (ok / 2.0) as u64;
        Sec { target, ok, p99, pods: vec![("hello-1".into(), half), ("hello-2".into(), half)] }
    }

    #[test]
    fn a_ramp_that_stops_following_saturates_at_its_last_followed_rate() {
        let secs = [sec(100.0, 100.0, 10_000), sec(300.0, 300.0, 10_000), sec(500.0, 500.0, 11_000), sec(600.0, 600.0, 12_000), sec(700.0, 610.0, 90_000), sec(800.0, 600.0, 200_000)];
        let s = judge(&secs, None).unwrap();
        assert_eq!(s.rate, Some(600.0));
        assert!(s.saturated);
        assert_eq!(s.per_pod, vec![("hello-1".into(), 300.0), ("hello-2".into(), 300.0)]);
        assert_eq!(s.pod_peaks, s.per_pod);
    }

    #[test]
    fn a_ramp_followed_to_its_peak_is_not_saturated() {
        // 50 -> 150 rps against a 600/s gateway: every second followed, the last one the best.
        let secs = [sec(60.0, 60.0, 10_500), sec(80.0, 80.0, 10_400), sec(100.0, 100.0, 10_600), sec(120.0, 120.0, 10_500), sec(140.0, 140.0, 10_500)];
        let s = judge(&secs, None).unwrap();
        assert_eq!(s.rate, Some(140.0));
        assert!(!s.saturated, "nothing at or above 140 rps failed to follow");
        // A trailing second with no target (late completions) does not make it saturated.
        let mut tail = secs.to_vec();
        tail.push(sec(0.0, 3.0, 10_500));
        assert!(!judge(&tail, None).unwrap().saturated);
    }

    #[test]
    fn a_miss_below_the_best_rate_or_after_the_peak_is_not_saturation() {
        // One slow second at 80 rps, then following again up to the peak: not saturated.
        let secs = [sec(60.0, 60.0, 10_000), sec(80.0, 50.0, 10_000), sec(100.0, 100.0, 10_000), sec(120.0, 120.0, 10_000), sec(140.0, 140.0, 10_000)];
        assert!(!judge(&secs, None).unwrap().saturated);
        // Missed only at the peak, after two followed seconds below it: saturated there.
        let secs = [sec(60.0, 60.0, 10_000), sec(80.0, 80.0, 10_000), sec(100.0, 100.0, 10_000), sec(120.0, 120.0, 10_000), sec(140.0, 100.0, 10_000)];
        let s = judge(&secs, None).unwrap();
        assert_eq!((s.rate, s.saturated), (Some(120.0), true));
        // A p99 over the SLO is a miss as much as too few completions.
        let secs = [sec(60.0, 60.0, 10_000), sec(80.0, 80.0, 10_000), sec(100.0, 100.0, 10_000), sec(120.0, 120.0, 10_000), sec(140.0, 140.0, 60_000)];
        assert!(judge(&secs, Some(50_000)).unwrap().saturated);
    }

    #[test]
    fn a_gateway_that_answers_itself_fast_is_its_limit_not_the_pods() {
        // A 50/s rate limit: past it the gateway answers 429 in microseconds, latency holds.
        let limited = |target: f64| {
            let mut s = sec(target, 50.0, 10_000);
            s.pods.push(("gateway".into(), (target - 50.0) as u64));
            s
        };
        let secs = [sec(30.0, 30.0, 10_000), sec(40.0, 40.0, 10_000), sec(50.0, 50.0, 10_000), limited(60.0), limited(80.0), limited(100.0)];
        let s = judge(&secs, None).unwrap();
        assert_eq!((s.rate, s.saturated, s.gateway_limited), (Some(50.0), true, true));
        assert!(pod_peaks_label(&s).contains("gateway limited first"));
        // Pods that queue (latency past the bound) before the gateway sheds: the pods' capacity.
        let mut queued = secs.to_vec();
        queued[4].p99 = 200_000;
        queued[5].p99 = 300_000;
        let s = judge(&queued, None).unwrap();
        assert!(s.saturated && !s.gateway_limited);
        assert_eq!(pod_peaks_label(&s), "peak sustained per pod");
        // One slow second among the limited ones (a busy machine) does not change the reading.
        let mut noisy = secs.to_vec();
        noisy[4].p99 = 13_000;
        assert!(judge(&noisy, None).unwrap().gateway_limited);
        // Fewer answers with nothing from the gateway (timeouts, lost requests): not the gateway's.
        let silent = [sec(30.0, 30.0, 10_000), sec(40.0, 40.0, 10_000), sec(50.0, 50.0, 10_000), sec(60.0, 40.0, 10_000), sec(80.0, 40.0, 10_000)];
        assert!(!judge(&silent, None).unwrap().gateway_limited);
    }

    #[test]
    fn never_following_counts_as_saturated_and_flat_runs_have_no_answer() {
        let secs = [sec(100.0, 10.0, 10_000), sec(200.0, 10.0, 10_000), sec(300.0, 10.0, 10_000), sec(400.0, 10.0, 10_000)];
        let s = judge(&secs, None).unwrap();
        assert_eq!((s.rate, s.saturated), (None, true));
        assert!(judge(&vec![sec(100.0, 100.0, 10_000); 6], None).is_none());
    }
}
