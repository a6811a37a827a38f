//! One run as the CLI and the tests start it: brings up the target (the embedded gateway when the
//! scenario asks for one, on a runtime of its own), hands the runner a target URL and the fault
//! timeline as a [`FaultHook`], and shuts the gateway down afterwards. It sits above `load`,
//! `fault` and `gateway` so that the runner imports none of them.

use crate::fault::backend::Endpoints;
use crate::fault::timeline::{FaultDriver, FaultRecord};
use crate::gateway::{GatewayError, GatewayHandle};
use crate::load::probe::ProbeError;
use crate::load::runner::{self, FaultHook, Observer, RunError, RunSettings};
use crate::load::shard::{epoch_instant, Sharding};
use crate::record::summary::Summary;
use crate::scenario::{FaultPlan, Plan, Target, TargetUrl};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("embedded gateway did not start: {0}")]
    Gateway(#[from] GatewayError),
}

pub struct RunResult {
    pub summary: Summary,
    pub dir: PathBuf,
    /// Nothing answered at the start and every request failed to connect.
    pub target_unreachable: bool,
    /// What each fault of the timeline did (also in `faults.json`).
    pub faults: Vec<FaultRecord>,
}

/// Runs the plan to its end (or until stopped). Blocking: it owns its threads and runtimes.
pub fn run(plan: &Plan, settings: RunSettings, observer: &mut dyn Observer) -> Result<RunResult, SessionError> {
    run_sharded(plan, settings, Sharding::default(), observer)
}

/// `run` for one shard of the schedule and/or from a given wall-clock epoch (`--shard`, `--start-at`).
pub fn run_sharded(
    plan: &Plan,
    settings: RunSettings,
    sharding: Sharding,
    observer: &mut dyn Observer,
) -> Result<RunResult, SessionError> {
    // A start time already past is refused before anything is started.
    if let Some(at) = sharding.start_at {
        epoch_instant(at, SystemTime::now(), Instant::now()).map_err(RunError::from)?;
    }
    // The embedded gateway gets a runtime of its own so its work never queues behind the generator's.
    let mut gateway: Option<(tokio::runtime::Runtime, GatewayHandle)> = None;
    let mut endpoints = Endpoints { embedded: None, control_token: std::env::var("SKYLOAD_CONTROL_TOKEN").ok(), tls: None };
    let mut trusting = None;
    let target: TargetUrl = match &plan.target {
        Target::Url(u) => u.clone(),
        Target::Embedded(cfg) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("skyload-gateway")
                .enable_all()
                .build()
                .map_err(RunError::Runtime)?;
            let h = rt.block_on(GatewayHandle::start(cfg.clone(), SocketAddr::from(([127, 0, 0, 1], 0))))?;
            if let Some(pem) = &h.ca_pem {
                let dir = &settings.out_dir;
                trusting = Some(
                    crate::load::tls::trust_embedded(plan, pem, dir).map_err(|source| RunError::Results { dir: dir.clone(), source })?,
                );
            }
            let t = TargetUrl {
                scheme: if h.https { "https" } else { "http" }.into(),
                host: "127.0.0.1".into(),
                port: h.addr.port(),
                authority: h.addr.to_string(),
                base_path: String::new(),
            };
            endpoints = Endpoints { embedded: Some(h.base_url()), control_token: cfg.control_token.clone(), tls: None };
            gateway = Some((rt, h));
            t
        }
    };
    let plan = trusting.as_ref().unwrap_or(plan);
    if !plan.faults.is_empty() {
        endpoints.tls = Some(
            crate::fault::http::control_tls(&plan.connections.tls, &target.host).map_err(|e| RunError::Probe(ProbeError::Settings(e.to_string())))?,
        );
    }
    let mut faults = Timeline { plan: plan.faults.clone(), source: plan.source_path.clone(), endpoints: Some(endpoints), driver: None, records: Vec::new() };
    let result = runner::run_against(plan, &target, settings, sharding, observer, &mut faults);
    // Whatever is still applied is removed before the gateway goes (dropping the driver does it).
    drop(faults.driver.take());
    if let Some((rt, h)) = gateway {
        rt.block_on(h.shutdown());
        rt.shutdown_timeout(Duration::from_secs(1));
    }
    let r = result?;
    Ok(RunResult { summary: r.summary, dir: r.dir, target_unreachable: r.target_unreachable, faults: faults.records })
}

/// The plan's fault timeline, driven on its own thread against the runner's second 0; finishing
/// (or dropping) the driver removes whatever is still applied, however the run ends.
struct Timeline {
    plan: Vec<FaultPlan>,
    /// The scenario file, where `skyload faults clear` finds an exec fault's stop command again.
    source: Option<std::path::PathBuf>,
    endpoints: Option<Endpoints>,
    driver: Option<FaultDriver>,
    records: Vec<FaultRecord>,
}

impl FaultHook for Timeline {
    fn start(&mut self, t0: Instant, dir: &Path) {
        crate::fault::journal::copy_into(dir);
        if let Some(endpoints) = self.endpoints.take() {
            crate::fault::exec_undo::record_origins(self.source.as_deref(), &self.plan);
            self.driver = Some(FaultDriver::start(self.plan.clone(), t0, endpoints));
        }
    }

    fn finish(&mut self, dir: &Path) -> std::io::Result<()> {
        self.records = self.driver.take().map(FaultDriver::finish).unwrap_or_default();
        if self.records.is_empty() {
            return Ok(());
        }
        crate::record::results::write_faults(dir, &self.records)
    }

    fn failure(&self) -> Option<String> {
        self.records.iter().find_map(FaultRecord::failed)
    }
}
