//! `skyload run`: a scenario file or a quick one-request run from flags, with the same flags
//! overriding a file. Prints live progress, the summary table and where the results are; the exit
//! code follows the CI contract.

use crate::cli::RunArgs;
use crate::exit;
use crate::load::runner::{self, RunSettings, StopHandle};
use crate::report::{html, progress, terminal};
use crate::scenario::{self, Overrides, Plan};
use crate::units::parse_duration;
use anyhow::Context;

/// Builds the plan the flags describe (with or without a file).
pub fn plan_from_args(args: &RunArgs) -> Result<Plan, String> {
    let duration = match &args.duration {
        Some(d) => Some(parse_duration(d).map_err(|e| format!("--duration: {e}"))?),
        None => None,
    };
    let ov = Overrides {
        url: args.url.clone(),
        rate: args.rate,
        duration,
        method: args.method.clone(),
        headers: args.headers.clone(),
        body: args.body.clone(),
        connections: args.connections,
        http2: args.http2,
    };
    match &args.scenario {
        Some(path) => {
            let mut plan = scenario::load_file(path).map_err(|e| e.to_string())?;
            ov.apply(&mut plan).map_err(|e| e.to_string())?;
            Ok(plan)
        }
        None => ov.to_plan().map_err(|e| e.to_string()),
    }
}

pub fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let plan = match plan_from_args(args) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(exit::USAGE);
        }
    };
    let out_dir = args.out.clone().unwrap_or_else(|| runner::default_out_dir(&plan));
    let stop = StopHandle::new();
    install_ctrl_c(stop.clone());
    let planned = crate::load::schedule::Schedule::new(&plan.stages).duration();
    eprintln!(
        "skyload: running `{}` for {:.0}s against {} → {}",
        plan.name,
        planned.as_secs_f64(),
        describe_target(&plan),
        out_dir.display()
    );
    let mut progress = progress::Progress::new(progress::Mode::detect(args.quiet), planned);
    let result = runner::run(&plan, RunSettings { out_dir, stop: stop.clone() }, &mut progress);
    progress.finish();
    let result = result.context("the run could not be carried out")?;
    terminal::render(&result.summary, &result.dir, &mut std::io::stdout().lock())?;
    // The report is written for every run that has results, interrupted ones too; failing to
    // write it does not change what the run measured, so it is a warning, not an exit code.
    let report = result.dir.join(html::REPORT_FILE);
    match html::write_file(std::slice::from_ref(&result.dir), &report) {
        Ok(()) => println!("report:  {}", report.display()),
        Err(e) => eprintln!("warning: the HTML report could not be written: {e}"),
    }
    if result.target_unreachable {
        eprintln!(
            "error: the target {} refused every connection: is it running and is the URL right? (results kept in {})",
            result.summary.target,
            result.dir.display()
        );
        return Ok(exit::RUN_FAILED);
    }
    if stop.is_stopped() {
        eprintln!("interrupted: results up to the interruption are in {}", result.dir.display());
        return Ok(exit::RUN_FAILED);
    }
    Ok(exit::OK)
}

fn describe_target(plan: &Plan) -> String {
    match &plan.target {
        scenario::Target::Url(u) => u.to_url(),
        scenario::Target::Embedded(_) => "the embedded gateway (127.0.0.1)".into(),
    }
}

/// First Ctrl-C (or SIGTERM) stops the schedule and keeps the results; a second one exits at once.
fn install_ctrl_c(stop: StopHandle) {
    std::thread::Builder::new()
        .name("skyload-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                let term_recv = async {
                    match term.as_mut() {
                        Some(t) => {
                            t.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term_recv => {}
                }
                eprintln!("\nstopping: finishing requests in flight and writing results (Ctrl-C again to quit now)");
                stop.stop();
                let _ = tokio::signal::ctrl_c().await;
                std::process::exit(130);
            });
        })
        .expect("spawn signal thread");
}
