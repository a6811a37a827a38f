//! `skyload run`: a scenario file or a quick one-request run from flags, with the same flags
//! overriding a file. Prints live progress, the summary table and where the results are; the exit
//! code follows the CI contract.

use crate::cli::RunArgs;
use super::error::{CliError, CliResult};
use crate::exit;
use crate::load::runner::{self, RunError, RunSettings, StopHandle};
use crate::session::{self, SessionError};
use crate::load::shard::{self, Sharding};
use crate::report::{progress, terminal};
use crate::scenario::{self, Overrides, Plan};
use crate::units::parse_duration;
use super::compare as compare_cmd;
use super::compare::{emit, GateInfo};
use crate::record::results::read_summary;
use crate::record::summary::{RunStatus, Summary};
use crate::verify::compare::Tolerance;
use crate::verify::abort::AbortWatch;
use crate::verify::window::SavedRun;
use crate::verify::{compare, faults, verdict, Verdict, VERDICT_FILE};
use anyhow::Context;
use std::io::Write;

/// Builds the plan the flags describe (with or without a file).
pub fn plan_from_args(args: &RunArgs) -> Result<Plan, String> {
    let duration = match &args.duration {
        Some(d) => Some(scenario::duration_flag(d).map_err(|e| e.to_string())?),
        None => None,
    };
    let timeout = match &args.timeout {
        // `-m POST`: -m is curl's --max-time; it once meant --method here.
        Some(d) if http::Method::from_bytes(d.as_bytes()).is_ok() && d.chars().all(|c| c.is_ascii_uppercase()) => {
            return Err(format!("--timeout (-m, curl's --max-time): `{d}` is a method, not a duration; give the method with -X {d}"));
        }
        Some(d) => Some(parse_duration(d).map_err(|e| format!("--timeout: {e}"))?),
        None => None,
    };
    let connect_timeout = match &args.connect_timeout {
        Some(d) => Some(parse_duration(d).map_err(|e| format!("--connect-timeout: {e}"))?),
        None => None,
    };
    let ov = Overrides {
        connect_timeout,
        timeout_text: args.timeout.clone(),
        connect_timeout_text: args.connect_timeout.clone(),
        url: args.url.clone(),
        rate: args.rate,
        duration,
        method: args.method.clone(),
        headers: args.headers.clone(),
        body: args.body.as_deref().map(body_arg).transpose()?,
        connections: args.connections,
        threads: args.threads,
        http2: args.http2,
        pacer: args.pacer.clone(),
        timeout,
        checks: args.checks.clone(),
    };
    let mut plan = match &args.scenario {
        Some(path) => {
            let mut plan = scenario::load_file(path).map_err(|e| e.to_string())?;
            ov.apply(&mut plan).map_err(|e| e.to_string())?;
            plan
        }
        None => ov.to_plan().map_err(|e| e.to_string())?,
    };
    args.tls.to_flags().apply(&mut plan).map_err(|e| e.to_string())?;
    metrics_flags(args, &mut plan)?;
    scenario::bounds::check(&plan, scenario::bounds::raise_fd_limit())?;
    Ok(plan)
}

/// Largest body `-d @FILE` reads: a request body, not a data set (feeders are for those).
const MAX_BODY_FILE: u64 = 1 << 20;

/// `-d TEXT` is the body; `-d @FILE` is the file's text, as in curl and `skyload invoke` (it
/// once sent the literal "@FILE"). Text, since the body is a template (`{{seq}}` works in it).
fn body_arg(b: &str) -> Result<String, String> {
    let Some(path) = b.strip_prefix('@') else { return Ok(b.to_string()) };
    let meta = std::fs::metadata(path).map_err(|e| format!("--body @{path}: cannot read {path}: {e}"))?;
    if meta.len() > MAX_BODY_FILE {
        return Err(format!("--body @{path}: {} bytes; a body file holds at most {MAX_BODY_FILE} bytes", meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("--body @{path}: cannot read {path}: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("--body @{path}: not UTF-8 text; a scenario body is text (a template)"))
}

#[cfg(test)]
mod body_tests {
    use super::body_arg;

    #[test]
    fn at_file_reads_the_file_and_text_stays_text() {
        let dir = std::env::temp_dir().join(format!("skyload-body-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("p.json");
        std::fs::write(&f, "{\"id\": {{seq}}}").unwrap();
        assert_eq!(body_arg(&format!("@{}", f.display())).unwrap(), "{\"id\": {{seq}}}");
        assert_eq!(body_arg("plain").unwrap(), "plain");
        let missing = body_arg("@/nonexistent/p.json").unwrap_err();
        assert!(missing.starts_with("--body @/nonexistent/p.json: cannot read"), "{missing}");
        std::fs::write(&f, [0xff, 0xfe]).unwrap();
        assert!(body_arg(&format!("@{}", f.display())).unwrap_err().contains("not UTF-8"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// `--metrics-listen` and `--metrics-linger` on top of the scenario's `[metrics]`.
fn metrics_flags(args: &RunArgs, plan: &mut Plan) -> Result<(), String> {
    if let Some(l) = &args.metrics_listen {
        plan.metrics.listen = Some(scenario::metrics::parse_listen(l).map_err(|e| format!("--metrics-listen: {e}"))?);
    }
    plan.metrics.trace |= args.trace;
    if let Some(d) = &args.metrics_linger {
        plan.metrics.linger = parse_duration(d).map_err(|e| format!("--metrics-linger: {e}"))?;
    }
    scenario::metrics::check_trace(plan)
}

pub fn run(args: &RunArgs) -> CliResult {
    let plan = match plan_from_args(args) {
        Ok(p) => p,
        Err(msg) => {
            return Err(CliError::Usage(msg.to_string()));
        }
    };
    // A bad tolerance or an unreadable baseline is found before the run, not after it.
    let baseline = match baseline(&plan, args) {
        Ok(b) => b,
        Err(msg) => {
            return Err(CliError::Usage(msg.to_string()));
        }
    };
    if let Err(msg) = super::outfile::check_gate(&args.gate) {
        return Err(CliError::Usage(msg));
    }
    let sharding = match sharding_from_args(args) {
        Ok(s) => s,
        Err(e) => {
            return Err(CliError::Usage(e.to_string()));
        }
    };
    let out_dir = args.out.clone().unwrap_or_else(|| runner::default_out_dir(&plan));
    // Never mix two runs in one directory, nor write over the user's own files.
    if let Err(e) = crate::record::outdir::prepare(&out_dir, args.force) {
        return Err(CliError::Usage(e.to_string()));
    }
    // A run that was killed may have left toxics on a server without leases: remove them first.
    if !plan.faults.is_empty() && sharding.shard.is_none_or(|s| s.drives_faults()) {
        let ep = crate::fault::backend::Endpoints { embedded: None, control_token: std::env::var("SKYLOAD_CONTROL_TOKEN").ok(), tls: None };
        // Nobody is asked here: a dead run's exec stop commands are reported, never run.
        let opts = crate::fault::journal::ClearOptions { forget_reported: false, exec: None };
        for line in crate::fault::journal::clear_blocking(&ep, opts) {
            crate::errln!("skyload: {}", line.text);
        }
    }
    let stop = StopHandle::new();
    install_ctrl_c(stop.clone());
    let planned = crate::load::schedule::Schedule::new(&plan.stages).duration();
    crate::errln!(
        "skyload: running `{}` for {:.0}s against {} → {}",
        plan.name,
        planned.as_secs_f64(),
        describe_target(&plan),
        out_dir.display()
    );
    if let Some(s) = sharding.shard {
        crate::errln!("skyload: shard {}/{}: every {} arrival of the schedule (faults and aborts {})", s.index, s.count, crate::units::ordinal(u64::from(s.count)),
            if s.drives_faults() { "are driven by this shard" } else { "are left to shard 0" });
    }
    if let Some(at) = sharding.start_at {
        crate::errln!("skyload: second 0 of the schedule is {}", runner::rfc3339(at));
    }
    crate::report::tls::warn_insecure(&plan);
    let metrics = match crate::metrics::server::start_for(&plan, sharding.shard) {
        Ok(m) => m,
        Err(e) => {
            return Err(CliError::RunFailed(e.to_string()));
        }
    };
    if let Some(m) = &metrics {
        crate::errln!("skyload: metrics at http://{}/metrics", m.addr);
    }
    // On a shard, absolute rates and counts in checks and abort rules at its 1/N share.
    let shared = Shared::new(&plan, sharding.shard);
    let mut progress = progress::Progress::new(progress::Mode::detect(args.quiet), planned);
    let result = {
        // Abort conditions are judged by shard 0 only (faults likewise, in the runner): one shard
        // sees a share of the traffic, and a stop must not depend on which shard noticed first.
        // Its absolute rates are judged at its 1/N share, as its checks are (`shared`).
        let drives = sharding.shard.is_none_or(|s| s.drives_faults());
        let rules = if drives { shared.verify.abort.as_slice() } else { &[] };
        let mut watch = AbortWatch::new(rules, stop.clone(), &mut progress);
        let mut publish = crate::metrics::server::Publish::new(&mut watch, metrics.as_ref());
        session::run_sharded(&plan, RunSettings { out_dir, stop: stop.clone() }, sharding, &mut publish)
    };
    progress.finish();
    if let Some(m) = &metrics {
        m.mark_final();
    }
    if let Err(SessionError::Run(RunError::Shard(e))) = &result {
        return Err(CliError::Usage(e.to_string()));
    }
    let result = result.context("the run could not be carried out")?;
    let mut out = crate::out::Lenient::new(std::io::stdout().lock());
    terminal::render(&result.summary, &result.dir, &mut out)?;
    crate::report::saturation::print(&plan, &result.dir, args.scenario.as_deref(), &mut out)?;
    crate::report::slow::print(&result.summary, &result.dir, &mut out)?;
    let (verdict, mut code) = judge(&plan, &shared, baseline.as_ref(), &result, &mut out)?;
    // For every run that has results, interrupted ones too, after the verdict and faults are judged.
    super::report::write_into(&result.dir, &mut out)?;
    let fault_errors: Vec<String> = result.faults.iter().filter_map(|f| f.failed()).collect();
    if let Some(cause) = result.summary.failure.as_ref().filter(|_| result.summary.status == RunStatus::Failed) {
        crate::errln!("error: the run failed: {cause}; this is a skyload bug, not the target's (what was recorded is in {})", result.dir.display());
        code = exit::RUN_FAILED;
    } else if !fault_errors.is_empty() {
        for e in &fault_errors {
            crate::errln!("error: {e}");
        }
        crate::errln!("the drill did not happen as planned: check the fault's target and backend (results kept in {})", result.dir.display());
        code = exit::RUN_FAILED;
    } else if let Some(reason) = &result.summary.abort_reason {
        crate::errln!("aborted: {reason}; everything up to then is in {} (exit code {})", result.dir.display(), exit::RUN_FAILED);
        code = exit::RUN_FAILED;
    } else if result.target_unreachable {
        crate::errln!(
            "error: the target {} accepted no connection (every connect was refused or timed out): is it running and is the URL right? (results kept in {})",
            result.summary.target,
            result.dir.display()
        );
        code = exit::RUN_FAILED;
    } else if stop.is_stopped() {
        crate::errln!("interrupted: results up to the interruption are in {}", result.dir.display());
        code = exit::RUN_FAILED;
    }
    let info = GateInfo {
        command: "run",
        scenario: plan.name.clone(),
        results_dir: Some(result.dir.display().to_string()),
        seconds: result.summary.duration_s,
        status: Some(result.summary.status),
        // A drill's failed fault is the reason too (`failure` of a `drill_failed` run).
        abort_reason: result.summary.abort_reason.clone().or_else(|| result.summary.failure.clone()),
    };
    emit(&args.gate, &verdict, &info, code)?;
    if let Some(m) = metrics {
        m.finish(plan.metrics.linger);
    }
    CliError::from_status(code)
}

type Baseline = (std::path::PathBuf, Summary, Vec<Tolerance>);

/// `--baseline DIR` with its tolerances: flags, else the scenario's, else the defaults.
fn baseline(plan: &Plan, args: &RunArgs) -> Result<Option<Baseline>, String> {
    let Some(dir) = &args.baseline else {
        // Judged only against a baseline: alone it would be ignored, and the run pass unjudged.
        return match args.tolerances.first() {
            Some(t) => Err(format!("--tolerance `{t}` compares with a baseline run: add --baseline DIR (an earlier run's Results), or remove --tolerance")),
            None => Ok(None),
        };
    };
    let tolerances = if args.tolerances.is_empty() && !plan.verify.tolerances.is_empty() {
        plan.verify.tolerances.clone()
    } else {
        compare_cmd::tolerances(&args.tolerances, None)?
    };
    let s = read_summary(dir).map_err(|e| format!("--baseline: cannot read {}: {e}", dir.join(crate::record::results::SUMMARY).display()))?;
    super::incomplete::warn(dir, &s);
    Ok(Some((dir.clone(), s, tolerances)))
}

/// The checks (and the baseline comparison, with --baseline) over the saved results: printed,
/// written to verdict.json, and turned into an exit code (0 or 1).
/// The run's checks and abort rules as this process judges them: on shard I/N, absolute rates and
/// counts at its 1/N share (`verify::shard_share`), with the indices of the checks that changed.
struct Shared {
    verify: crate::verify::VerifyPlan,
    scaled: Vec<usize>,
    shard: Option<shard::Shard>,
}

impl Shared {
    fn new(plan: &Plan, shard: Option<shard::Shard>) -> Shared {
        let (verify, scaled) = crate::verify::shard_share::share_of(&plan.verify, shard.map_or(1, |s| s.count));
        Shared { verify, scaled, shard }
    }
}

/// On a shard, absolute rates and counts are judged at its 1/N share (`shared`).
fn judge(plan: &Plan, shared: &Shared, baseline: Option<&Baseline>, result: &session::RunResult, out: &mut dyn Write) -> anyhow::Result<(Verdict, i32)> {
    let mut verdict = Verdict::default();
    let needs_saved = !plan.verify.checks.is_empty() || !result.faults.is_empty();
    let saved = if needs_saved { Some(SavedRun::load(&result.dir)?) } else { None };
    if let Some(saved) = &saved {
        if !plan.verify.checks.is_empty() {
            verdict = verdict::evaluate(&shared.verify, &plan.stages, saved)?;
            if let Some(s) = shared.shard {
                crate::verify::shard_share::annotate(&mut verdict.results, &shared.scaled, s.index, s.count);
            }
        }
        if !result.faults.is_empty() {
            let (reports, results) = faults::assess(&plan.verify, &result.faults, saved)?;
            terminal::render_faults(&reports, out)?;
            crate::record::results::write_faults(&result.dir, &reports)?;
            verdict.results.extend(results);
        }
    }
    if let Some((dir, base, tolerances)) = baseline {
        let base_text = std::fs::read_to_string(dir.join(crate::record::results::SCENARIO_COPY)).ok();
        // As the run's own copy was written (redacted), so a secret header does not read as a change.
        let current_text = crate::record::redact::scenario_text(plan);
        let c = compare::compare(base, &result.summary, tolerances, base_text.as_deref().map(|b| (b, current_text.as_str())));
        writeln!(out, "\nbaseline {}:", dir.display())?;
        let incomplete = super::incomplete::unfinished_results(&[(dir.as_path(), base)]);
        compare::render(&c, &incomplete, out)?;
        verdict.results.extend(c.results());
        verdict.results.extend(incomplete);
    }
    // Every request failed: said in the terminal always, a failing built-in check when nothing else judges the run.
    if let Some(what) = crate::verify::all_failed::describe(&result.summary.totals).filter(|_| !result.target_unreachable) {
        writeln!(out, "\nWARNING {what}")?;
        verdict.results.extend(plan.verify.checks.is_empty().then(|| crate::verify::all_failed::check(&result.summary.totals)).flatten());
    }
    verdict::render_for(&verdict, result.summary.status, out)?;
    if !verdict.results.is_empty() {
        crate::record::results::write_json(&result.dir, VERDICT_FILE, &verdict)?;
    }
    let code = if verdict.passed() { exit::OK } else { exit::CHECK_FAILED };
    Ok((verdict, code))
}

/// `--shard I/N` and `--start-at TIME`.
pub fn sharding_from_args(args: &RunArgs) -> Result<Sharding, shard::ShardError> {
    Ok(Sharding {
        shard: args.shard.as_deref().map(str::parse).transpose()?,
        start_at: args.start_at.as_deref().map(shard::parse_start_at).transpose()?,
    })
}

fn describe_target(plan: &Plan) -> String {
    match &plan.target {
        scenario::Target::Url(u) => u.to_url(),
        scenario::Target::Embedded(_) => "the embedded gateway (127.0.0.1)".into(),
    }
}

/// How long a second signal waits for faults to be removed before the process exits anyway.
const FAULT_CLEANUP: std::time::Duration = std::time::Duration::from_secs(5);

/// First Ctrl-C (or SIGTERM, SIGHUP) stops the schedule and keeps the results. A second one no
/// longer exits at once (that left toxics and killed pods behind): it gives the run
/// `FAULT_CLEANUP` to remove its faults and finish, and only a third signal quits immediately.
fn install_ctrl_c(stop: StopHandle) {
    std::thread::Builder::new()
        .name("skyload-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                super::signals::stop_signal().await;
                crate::errln!("\nstopping: finishing requests in flight, removing faults and writing results");
                stop.stop();
                super::signals::stop_signal().await;
                crate::errln!("quitting: removing applied faults first (at most {}s; a third Ctrl-C quits at once)", FAULT_CLEANUP.as_secs());
                let _ = tokio::time::timeout(FAULT_CLEANUP, super::signals::stop_signal()).await;
                // Exec commands run in their own process groups, which the terminal's Ctrl-C
                // does not reach: end them rather than leave them running unwatched.
                crate::fault::group::end_all_tracked(std::time::Duration::from_millis(500));
                std::process::exit(130);
            });
        })
        .expect("spawn signal thread");
}
