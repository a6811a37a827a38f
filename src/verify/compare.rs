//! Baseline comparison: two saved runs, a diff table of the headline metrics, and tolerances that
//! say how much worse is still acceptable (`p99 +10%`, `rate -2%`, `p99 +5ms`, `error_rate +0.1pp`).
//! A `+` tolerance bounds a rise, a `-` one a fall. Latency changes under `LATENCY_FLOOR_US` are
//! never regressions: sub-millisecond jitter on a fast endpoint is not a slower build.

use super::expr::{format_value, Kind, Metric};
use super::metrics::{measure, Data, Measured};
use super::verdict::CheckResult;
use crate::record::summary::Summary;
use std::io::{self, Write};

/// The tolerance language is part of the scenario format (parsed while loading), so it lives there.
pub use crate::scenario::check_lang::tolerance::{parse_tolerance, Amount, Tolerance};
use crate::scenario::check_lang::tolerance::unit_probe;

/// Latency differences below this (µs) are noise, whatever the relative change.
pub const LATENCY_FLOOR_US: f64 = 1000.0;

/// The tolerances used when neither the flags nor the scenario give any.
pub const DEFAULT_TOLERANCES: [&str; 4] = ["p50 +10%", "p99 +10%", "rate -2%", "error_rate +0.1pp"];

/// The metrics the diff table always shows.
const SHOWN: [&str; 9] = ["p50", "p90", "p99", "p99.9", "max", "mean", "rate", "error_rate", "dropped"];

impl Tolerance {
    /// Whether `current` is a regression from `base`.
    pub fn regressed(&self, base: f64, current: f64) -> bool {
        let delta = if self.rise_is_bad { current - base } else { base - current };
        let limit = match self.amount {
            Amount::Relative(r) => base.abs() * r,
            Amount::Absolute(a) => a,
        };
        let floor = if self.metric.kind() == Kind::Latency { LATENCY_FLOOR_US } else { 0.0 };
        delta > limit + 1e-12 && delta > floor
    }
    /// `describe` with what it allows against `base` for a latency: `+10% (+2ms)`, or, when the
    /// 1 ms floor is the larger, `+10% (+200us) → +1ms floor`: the floor decides, so the table
    /// says so rather than show a bound that is not the one applied.
    pub fn describe_at(&self, base: Option<f64>) -> String {
        let written = self.describe();
        if self.metric.kind() != Kind::Latency {
            return written;
        }
        let limit = match (self.amount, base) {
            (Amount::Relative(r), Some(b)) => b.abs() * r,
            (Amount::Absolute(a), _) => a,
            (Amount::Relative(_), None) => return written,
        };
        let sign = if self.rise_is_bad { '+' } else { '-' };
        let shown = match self.amount {
            Amount::Relative(_) => format!("{written} ({sign}{})", format_value(Kind::Latency, limit)),
            Amount::Absolute(_) => written,
        };
        if limit < LATENCY_FLOOR_US {
            format!("{shown} → {sign}{} floor", format_value(Kind::Latency, LATENCY_FLOOR_US))
        } else {
            shown
        }
    }
    pub fn describe(&self) -> String {
        let sign = if self.rise_is_bad { '+' } else { '-' };
        match self.amount {
            Amount::Relative(r) => format!("{sign}{}%", trim(r * 100.0)),
            Amount::Absolute(a) => match self.metric.kind() {
                Kind::Ratio => format!("{sign}{}pp", trim(a * 100.0)),
                k => format!("{sign}{}", format_value(k, a)),
            },
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// One line of the diff table.
#[derive(Debug, Clone)]
pub struct Row {
    pub metric: String,
    pub baseline: String,
    pub current: String,
    /// Relative change, when both values exist and the baseline is not 0.
    pub change: Option<f64>,
    pub tolerance: Option<String>,
    /// The tolerance as applied to this baseline (`describe_at`), for the table.
    pub tolerance_applied: Option<String>,
    pub regression: bool,
    /// The change as people read it: relative, in percentage points for ratios, or from zero.
    pub change_text: String,
}

/// The change from `b` to `k`: ratios (error rate, a fallback share) in percentage points, so
/// 0% → 10% reads `+10.0pp`; other metrics relative, and from a zero baseline as the new value.
pub fn change_text(kind: super::expr::Kind, b: Option<f64>, k: Option<f64>) -> String {
    match (b, k) {
        (Some(b), Some(k)) if kind == super::expr::Kind::Ratio => format!("{:+.1}pp", (k - b) * 100.0),
        (Some(b), Some(k)) if b == 0.0 && k == 0.0 => "±0".into(),
        (Some(b), Some(k)) if b == 0.0 => format!("+{} (from 0)", format_value(kind, k)),
        (Some(b), Some(k)) => format!("{:+.1}%", (k - b) / b * 100.0),
        _ => "-".into(),
    }
}

#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// Things that make the comparison less meaningful (different scenario, aborted run...).
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> usize {
        self.rows.iter().filter(|r| r.regression).count()
    }
    /// The tolerances as verdict lines (for JUnit and --summary-json).
    pub fn results(&self) -> Vec<CheckResult> {
        self.rows
            .iter()
            .filter_map(|r| {
                let t = r.tolerance.as_ref()?;
                Some(CheckResult {
                    scope: "baseline".into(),
                    check: format!("{} {t}", r.metric),
                    expected: format!("{} {t}", r.baseline),
                    measured: if r.change_text == "-" { r.current.clone() } else { format!("{} ({})", r.current, r.change_text) },
                    passed: !r.regression,
                    note: None,
                })
            })
            .collect()
    }
}

fn value(m: &Metric, d: &Data) -> Option<f64> {
    match measure(m, d) {
        Measured::Value(v) => Some(v),
        Measured::NoData(_) => None,
    }
}

/// Whether the runs are of different scenarios: by name, or, since quick runs are all named after
/// their host, by the fingerprint of the scenario.toml each ran (absent in Results of old versions).
/// With both texts at hand, scenarios that differ only in their checks are said to have run the
/// same load: what a reader comparing the numbers needs, with the checks that differ.
/// "Different scenarios" alone left the reader to diff the files: with both texts the note names
/// the settings of the load that differ (`stages[0].rate 5 → 6`), a few at most.
fn scenario_note(base: &Summary, cur: &Summary, texts: Option<(&str, &str)>) -> Option<String> {
    let split = texts.and_then(|(x, y)| Some((crate::scenario::checks::split_judging(x)?, crate::scenario::checks::split_judging(y)?)));
    let differs = |la: &toml::Table, lb: &toml::Table| {
        let d = load_differences(la, lb);
        if d.is_empty() { String::new() } else { format!("; they differ in {d}") }
    };
    if base.scenario != cur.scenario {
        let what = split.as_ref().map_or(String::new(), |((la, _), (lb, _))| differs(la, lb));
        return Some(format!("the runs are of different scenarios (`{}` and `{}`){what}", base.scenario, cur.scenario));
    }
    let (a, b) = (&base.scenario_fingerprint, &cur.scenario_fingerprint);
    if a.is_empty() || b.is_empty() || a == b {
        return None;
    }
    match split {
        Some(((la, ja), (lb, jb))) if la == lb => Some(checks_only_note(&ja, &jb)),
        Some(((la, _), (lb, _))) => Some(format!("the runs are of different scenarios: both are named `{}`, but their load differs{}", base.scenario, differs(&la, &lb).trim_start_matches("; they differ"))),
        None => Some(format!("the runs are of different scenarios: both are named `{}`, but their scenario.toml differ (fingerprints {a} and {b})", base.scenario)),
    }
}

/// At most this many differing settings are named; the rest are counted.
const DIFFERENCES_SHOWN: usize = 4;

/// The settings two load tables differ in, baseline → current, in path order:
/// `stages[0].rate 5 → 6, target.url "http://a" → "http://b"` (a missing one is `none`).
fn load_differences(a: &toml::Table, b: &toml::Table) -> String {
    let (mut fa, mut fb) = (Vec::new(), Vec::new());
    flatten("", &toml::Value::Table(a.clone()), &mut fa);
    flatten("", &toml::Value::Table(b.clone()), &mut fb);
    let (ma, mb): (std::collections::BTreeMap<_, _>, std::collections::BTreeMap<_, _>) = (fa.into_iter().collect(), fb.into_iter().collect());
    let diffs = differing(&ma, &mb);
    let mut shown = diffs.iter().take(DIFFERENCES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
    if diffs.len() > DIFFERENCES_SHOWN {
        shown.push_str(&format!(" and {} more", diffs.len() - DIFFERENCES_SHOWN));
    }
    shown
}

/// Leaf settings as (path, value shown), values longer than 40 characters cut.
fn flatten(path: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, v, out);
            }
        }
        toml::Value::Array(items) if items.iter().any(|i| i.is_table()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, out);
            }
        }
        other => {
            let mut shown = other.to_string();
            if shown.chars().count() > 40 {
                shown = shown.chars().take(39).collect::<String>() + "…";
            }
            out.push((path.to_string(), shown));
        }
    }
}

/// Each setting whose value differs, in path order, as `path baseline → current` (`none` where
/// one side has no such setting).
fn differing(base: &std::collections::BTreeMap<String, String>, cur: &std::collections::BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = base.keys().chain(cur.keys()).collect();
    let none = "none".to_string();
    keys.into_iter()
        .filter(|k| base.get(*k) != cur.get(*k))
        .map(|k| format!("{k} {} → {}", base.get(k).unwrap_or(&none), cur.get(k).unwrap_or(&none)))
        .collect()
}

/// "Same load, other checks", each differing check setting as baseline → current.
fn checks_only_note(base: &std::collections::BTreeMap<String, String>, cur: &std::collections::BTreeMap<String, String>) -> String {
    let diffs = differing(base, cur);
    format!(
        "the runs sent the same load: their scenario.toml differ only in checks, which judge a run but change nothing it sends ({}); this comparison judges by its tolerances",
        if diffs.is_empty() { "formatting only".to_string() } else { diffs.join("; ") }
    )
}

/// Compares the whole-run metrics of two summaries under the tolerances; `texts` are the two runs'
/// scenario.toml, when read, to tell a change of checks from a change of load.
pub fn compare(base: &Summary, cur: &Summary, tolerances: &[Tolerance], texts: Option<(&str, &str)>) -> Comparison {
    let (bd, cd) = (Data::from_summary(base, None), Data::from_summary(cur, None));
    let mut c = Comparison::default();
    if let Some(note) = scenario_note(base, cur, texts) {
        c.notes.push(note);
    }
    for (s, which) in [(base, "baseline"), (cur, "current")] {
        use crate::record::summary::RunStatus;
        if s.status == RunStatus::Incomplete {
            // A rebuilt summary marks its generator as behind (its guard data is gone), but the
            // reader needs to know the run was killed, not that the generator lagged.
            c.notes.push(format!("the {which} run is INCOMPLETE: it ended without writing summary.json (killed?) and was rebuilt from its per-second files"));
            continue;
        }
        if s.status != RunStatus::Completed {
            c.notes.push(format!("the {which} run did not complete ({:?})", s.status));
        }
        if s.generator.fell_behind {
            c.notes.push(format!("in the {which} run the generator may have been the limit: {}", s.generator.notes.join("; ")));
        }
    }
    let mut metrics: Vec<Metric> = SHOWN.iter().map(|m| super::expr::parse(&format!("{m} >= 0{}", unit_probe(m))).expect("known metric").metric).collect();
    for t in tolerances {
        if !metrics.contains(&t.metric) {
            metrics.push(t.metric.clone());
        }
    }
    for m in metrics {
        let (b, k) = (value(&m, &bd), value(&m, &cd));
        let applicable: Vec<&Tolerance> = tolerances.iter().filter(|t| t.metric == m).collect();
        let regression = match (b, k) {
            (Some(b), Some(k)) => applicable.iter().any(|t| t.regressed(b, k)),
            (Some(_), None) => !applicable.is_empty(),
            _ => false,
        };
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format_value(m.kind(), v));
        c.rows.push(Row {
            metric: m.to_string(),
            baseline: f(b),
            current: f(k),
            change: match (b, k) {
                (Some(b), Some(k)) if b != 0.0 => Some((k - b) / b),
                _ => None,
            },
            tolerance: (!applicable.is_empty()).then(|| applicable.iter().map(|t| t.describe()).collect::<Vec<_>>().join(", ")),
            tolerance_applied: (!applicable.is_empty()).then(|| applicable.iter().map(|t| t.describe_at(b)).collect::<Vec<_>>().join(", ")),
            regression,
            change_text: change_text(m.kind(), b, k),
        });
    }
    c
}

/// The table, its notes and the verdict. `gate` holds the checks besides the tolerances that the
/// caller gates on (an incomplete run's): the verdict line counts them too, so it never says
/// "no regression" over a comparison that fails.
pub fn render(c: &Comparison, gate: &[CheckResult], out: &mut dyn Write) -> io::Result<()> {
    let mut rows = vec![["metric", "baseline", "current", "change", "tolerance", ""].map(String::from).to_vec()];
    for r in &c.rows {
        let status = if r.regression { "REGRESSION" } else if r.tolerance.is_some() { "ok" } else { "" };
        rows.push(vec![
            r.metric.clone(),
            r.baseline.clone(),
            r.current.clone(),
            r.change_text.clone(),
            r.tolerance_applied.clone().or_else(|| r.tolerance.clone()).unwrap_or_default(),
            status.into(),
        ]);
    }
    let widths: Vec<usize> = (0..6).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    for r in &rows {
        let cells: Vec<String> = r.iter().enumerate().map(|(i, s)| if i == 0 || i == 5 { format!("{s:<w$}", w = widths[i]) } else { format!("{s:>w$}", w = widths[i]) }).collect();
        writeln!(out, "  {}", cells.join("  ").trim_end())?;
    }
    for n in &c.notes {
        writeln!(out, "  note: {n}")?;
    }
    writeln!(out, "{}", verdict_line(c.regressions(), gate))
}

/// `compare: no regression`, `compare: REGRESSION in N metrics`, or, when another check fails,
/// `compare: FAILED: ...` naming it: the terminal agrees with the exit code and `--junit`.
pub fn verdict_line(regressions: usize, gate: &[CheckResult]) -> String {
    let regressed = format!("REGRESSION in {regressions} metric{}", if regressions == 1 { "" } else { "s" });
    let failed: Vec<String> = gate.iter().filter(|r| !r.passed).map(|r| format!("`{}` failed: {}", r.check, r.measured)).collect();
    match (regressions, failed.is_empty()) {
        (0, true) => "compare: no regression".into(),
        (_, true) => format!("compare: {regressed}"),
        (0, false) => format!("compare: FAILED: {}", failed.join("; ")),
        (_, false) => format!("compare: FAILED: {regressed}; {}", failed.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tolerance column shows the bound applied: a relative latency tolerance in time, and
    /// the 1 ms floor when it is the larger.
    #[test]
    fn the_latency_floor_is_shown_when_it_applies() {
        let p99 = parse_tolerance("p99 +10%").unwrap();
        assert_eq!(p99.describe_at(Some(2_000.0)), "+10% (+200us) → +1ms floor");
        assert_eq!(p99.describe_at(Some(20_000.0)), "+10% (+2ms)");
        assert_eq!(p99.describe_at(None), "+10%");
        assert_eq!(parse_tolerance("p99 +500us").unwrap().describe_at(Some(1.0)), "+500us → +1ms floor");
        assert_eq!(parse_tolerance("p99 +5ms").unwrap().describe_at(Some(1.0)), "+5ms");
        assert_eq!(parse_tolerance("rate -2%").unwrap().describe_at(Some(100.0)), "-2%");
    }

    #[test]
    fn changes_from_zero_and_of_ratios_are_shown() {
        use super::super::expr::Kind;
        assert_eq!(change_text(Kind::Ratio, Some(0.0), Some(0.1)), "+10.0pp");
        assert_eq!(change_text(Kind::Ratio, Some(0.02), Some(0.01)), "-1.0pp");
        assert_eq!(change_text(Kind::Count, Some(0.0), Some(5.0)), "+5 (from 0)");
        assert_eq!(change_text(Kind::Count, Some(0.0), Some(0.0)), "±0");
        assert_eq!(change_text(Kind::Latency, Some(20_000.0), Some(30_000.0)), "+50.0%");
        assert_eq!(change_text(Kind::Latency, None, Some(1.0)), "-");
    }

    fn summary(name: &str, fingerprint: &str, status: crate::record::summary::RunStatus) -> Summary {
        crate::record::summary::test_summary(name, fingerprint, status)
    }

    #[test]
    fn runs_of_different_scenarios_are_noted_even_under_one_name() {
        use crate::record::summary::RunStatus::Completed;
        let notes = |a: &Summary, b: &Summary| compare(a, b, &[], None).notes;
        assert!(notes(&summary("127.0.0.1", "f1", Completed), &summary("127.0.0.1", "f1", Completed)).is_empty());
        let n = notes(&summary("127.0.0.1", "f1", Completed), &summary("127.0.0.1", "f2", Completed));
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(n[0].contains("different scenarios") && n[0].contains("f1") && n[0].contains("f2"), "{n:?}");
        assert!(notes(&summary("a", "f1", Completed), &summary("b", "f1", Completed))[0].contains("(`a` and `b`)"));
        // Results of versions that wrote no fingerprint are not guessed about.
        assert!(notes(&summary("a", "", Completed), &summary("a", "f2", Completed)).is_empty());
        // With the texts: the same load under other checks says so, and which checks differ.
        let a = "name = \"127.0.0.1\"\n[[stages]]\nrate = 5.0\nduration = \"2s\"\n[checks]\nrun = [\"p99 < 50ms\"]\n";
        let b = "# Generated from: skyload run\nname = \"127.0.0.1\"\n[[stages]]\nrate = 5.0\nduration = \"2s\"\n[checks]\nrun = [\"p99 < 100ms\"]\n";
        let n = compare(&summary("127.0.0.1", "f1", Completed), &summary("127.0.0.1", "f2", Completed), &[], Some((a, b))).notes;
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(n[0].starts_with("the runs sent the same load") && n[0].contains("checks.run `p99 < 50ms` → `p99 < 100ms`") && !n[0].contains("different"), "{n:?}");
        let c = b.replace("rate = 5.0", "rate = 6.0");
        let n = compare(&summary("127.0.0.1", "f1", Completed), &summary("127.0.0.1", "f3", Completed), &[], Some((a, &c))).notes;
        assert!(n[0].contains("different scenarios") && n[0].contains("load differs in stages[0].rate 5.0 → 6.0"), "{n:?}");
        // Under other names, what differs is named too; a stage only one has reads `none`.
        let d = format!("{}[[stages]]\nrate = 1\nduration = \"1s\"\n", a.replace("127.0.0.1", "x"));
        let n = compare(&summary("127.0.0.1", "f1", Completed), &summary("x", "f3", Completed), &[], Some((a, &d))).notes;
        assert!(n[0].contains("(`127.0.0.1` and `x`); they differ in name \"127.0.0.1\" → \"x\"") && n[0].contains("stages[1].duration none → \"1s\""), "{n:?}");
    }

    #[test]
    fn a_killed_run_is_noted_as_incomplete_not_as_generator_limited() {
        use crate::record::summary::RunStatus::{Completed, Incomplete};
        let mut killed = summary("s", "f", Incomplete);
        killed.generator.fell_behind = true;
        killed.generator.notes = vec!["INCOMPLETE: rebuilt from 3 whole second(s)".into()];
        let n = compare(&killed, &summary("s", "f", Completed), &[], None).notes;
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(n[0].starts_with("the baseline run is INCOMPLETE") && !n[0].contains("generator"), "{n:?}");
    }

    #[test]
    fn the_verdict_line_never_says_no_regression_over_a_failed_check() {
        let check = |passed| CheckResult {
            scope: "run".into(),
            check: "k is a whole run".into(),
            expected: "a run that wrote summary.json".into(),
            measured: "incomplete (3 s rebuilt from per-second files)".into(),
            passed,
            note: None,
        };
        assert_eq!(verdict_line(0, &[]), "compare: no regression");
        assert_eq!(verdict_line(0, &[check(true)]), "compare: no regression");
        assert_eq!(verdict_line(2, &[]), "compare: REGRESSION in 2 metrics");
        assert_eq!(verdict_line(0, &[check(false)]), "compare: FAILED: `k is a whole run` failed: incomplete (3 s rebuilt from per-second files)");
        assert!(verdict_line(1, &[check(false)]).starts_with("compare: FAILED: REGRESSION in 1 metric; `k is"));
    }

    #[test]
    fn regression_rules() {
        let p99 = parse_tolerance("p99 +10%").unwrap();
        assert!(p99.regressed(20_000.0, 30_000.0));
        assert!(!p99.regressed(20_000.0, 21_900.0));
        assert!(!p99.regressed(1_000.0, 1_800.0), "under the latency floor");
        assert!(!p99.regressed(20_000.0, 5_000.0), "faster is fine");
        let rate = parse_tolerance("rate -2%").unwrap();
        assert!(rate.regressed(100.0, 97.0) && !rate.regressed(100.0, 98.5) && !rate.regressed(100.0, 150.0));
        let err = parse_tolerance("error_rate +0.1pp").unwrap();
        assert!(!err.regressed(0.0, 0.0005) && err.regressed(0.0, 0.002));
        assert_eq!((p99.describe(), rate.describe(), err.describe()), ("+10%".into(), "-2%".into(), "+0.1pp".into()));
    }
}
