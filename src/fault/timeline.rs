//! The fault timeline: each fault is applied at its time and removed at the end of its window, on
//! its own task, so faults may overlap. Finishing the driver (end of run, Ctrl-C, abort, error, or
//! the driver being dropped) removes every fault still active: a drill never leaves a pod dead.
//! What actually happened (planned and actual times, errors, command output) is returned as records
//! for `faults.json`.

use super::backend::{apply, remove, renew, retryable, Endpoints, LEASE, RENEW_EVERY};
use super::journal;
use crate::scenario::FaultPlan;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio::sync::watch;

/// One fault as it happened, relative to the schedule's second 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRecord {
    pub name: String,
    /// What was done to what (`kill on pod hello-1`).
    pub action: String,
    pub planned_start_s: f64,
    pub planned_end_s: f64,
    /// When the fault was in place (None: never applied).
    pub applied_at_s: Option<f64>,
    /// When it was removed again (None: never applied, or removal failed).
    pub removed_at_s: Option<f64>,
    pub apply_error: Option<String>,
    pub remove_error: Option<String>,
    /// Output of `exec` commands.
    pub start_output: Option<String>,
    pub stop_output: Option<String>,
    pub expect: Vec<String>,
    pub recover_within_s: Option<f64>,
    /// What undoes this fault if the run dies first (the journal entry, also in
    /// `faults.state.json`); None for the embedded gateway (dies with the run) and a command
    /// with no stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<journal::Leftover>,
    /// Whether removal was confirmed by the API or the stop command (None: never applied).
    pub removal_confirmed: Option<bool>,
    /// Why the fault ended before its window did (a renewal of its lease was refused, or
    /// renewals failed until the lease ran out): then `removed_at_s` is the first renewal that
    /// failed, when it was last known in place, so windows and verdicts stop there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_early: Option<String>,
}

impl FaultRecord {
    fn planned(f: &FaultPlan) -> FaultRecord {
        FaultRecord {
            name: f.name.clone(),
            action: f.action.describe(),
            planned_start_s: f.at.as_secs_f64(),
            planned_end_s: f.end().as_secs_f64(),
            expect: f.expect.clone(),
            recover_within_s: f.recover_within.map(|d| d.as_secs_f64()),
            ..FaultRecord::default()
        }
    }

    /// The record with exec commands, their output and errors redacted (tokens on a `kubectl`
    /// line, a password a script echoed): faults.json, the report and the terminal show this.
    pub fn redacted(self) -> FaultRecord {
        let r = |s: String| crate::record::redact::command(&s);
        FaultRecord {
            action: r(self.action),
            apply_error: self.apply_error.map(r),
            remove_error: self.remove_error.map(r),
            start_output: self.start_output.map(r),
            stop_output: self.stop_output.map(r),
            undo: self.undo.map(|u| u.redacted()),
            ..self
        }
    }

    /// A fault that could not be applied or removed: the run must fail loudly.
    pub fn failed(&self) -> Option<String> {
        match (&self.apply_error, &self.remove_error) {
            (Some(e), _) => Some(format!("fault `{}` could not be applied: {e}", self.name)),
            (None, Some(e)) => Some(format!("fault `{}` could not be removed: {e}", self.name)),
            _ => None,
        }
    }
}

pub struct FaultDriver {
    cancel: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<Vec<FaultRecord>>>,
    /// The records as planned: what is reported, each failed, if the thread panics.
    planned: Vec<FaultRecord>,
}

impl FaultDriver {
    /// Starts driving `faults` against a schedule whose second 0 is `t0`.
    pub fn start(faults: Vec<FaultPlan>, t0: Instant, endpoints: Endpoints) -> FaultDriver {
        let (cancel, rx) = watch::channel(false);
        let planned = faults.iter().map(|f| FaultRecord::planned(f).redacted()).collect();
        let thread = std::thread::Builder::new()
            .name("skyload-faults".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        return faults
                            .iter()
                            .map(|f| FaultRecord { apply_error: Some(format!("no runtime: {e}")), ..FaultRecord::planned(f) })
                            .collect()
                    }
                };
                rt.block_on(async move {
                    let tasks: Vec<_> = faults
                        .into_iter()
                        .map(|f| (FaultRecord::planned(&f), tokio::spawn(drive(f, t0, endpoints.clone(), rx.clone()))))
                        .collect();
                    let mut out = Vec::new();
                    for (planned, t) in tasks {
                        match t.await {
                            Ok(r) => out.push(r.redacted()),
                            // A fault whose driver died may still be applied: say so, fail the run.
                            Err(e) => out.push(FaultRecord {
                                apply_error: Some(format!("its driver failed ({e}); check the target for a leftover fault")),
                                ..planned
                            }),
                        }
                    }
                    out
                })
            })
            .expect("spawn fault thread");
        FaultDriver { cancel, thread: Some(thread), planned }
    }

    /// Ends the timeline now: faults not yet due are skipped, active ones removed. Returns the records.
    pub fn finish(mut self) -> Vec<FaultRecord> {
        self.stop()
    }

    fn stop(&mut self) -> Vec<FaultRecord> {
        let _ = self.cancel.send(true);
        match self.thread.take() {
            Some(t) => joined(std::mem::take(&mut self.planned), t.join()),
            None => Vec::new(),
        }
    }
}

/// The records of a finished driver thread. A thread that panicked returned none, which read as
/// a drill with no faults, and the run could pass: each planned fault is reported failed
/// instead, as any of them may still be in place.
fn joined(planned: Vec<FaultRecord>, r: std::thread::Result<Vec<FaultRecord>>) -> Vec<FaultRecord> {
    match r {
        Ok(records) => records,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!("the fault driver panicked: {why}");
            planned
                .into_iter()
                .map(|r| FaultRecord {
                    apply_error: Some(format!("the fault driver panicked ({why}); check the target and `skyload faults list` for a leftover fault")),
                    ..r
                })
                .collect()
        }
    }
}

impl Drop for FaultDriver {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

/// Waits until `at` or cancellation; true when cancelled.
async fn wait(at: Instant, cancel: &mut watch::Receiver<bool>) -> bool {
    if *cancel.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep_until(at.into()) => *cancel.borrow(),
        _ = cancel.changed() => true,
    }
}

fn secs(t0: Instant) -> f64 {
    Instant::now().saturating_duration_since(t0).as_secs_f64()
}

async fn drive(f: FaultPlan, t0: Instant, ep: Endpoints, mut cancel: watch::Receiver<bool>) -> FaultRecord {
    let mut rec = FaultRecord::planned(&f);
    if wait(t0 + f.at, &mut cancel).await {
        return rec;
    }
    // Journalled before the call: a run killed while it is under way, or whose answer is lost,
    // must still leave a trace of a fault that may be in place.
    // Until the outcome is known the entry is `applying`: a later clean-up leaves it alone.
    let leftover = super::backend::leftover(&f.name, &f.action);
    if let Some(l) = &leftover {
        journal::record(l.clone(), journal::Stage::Applying);
    }
    let stage = |s: journal::Stage| {
        if let Some(l) = &leftover {
            journal::advance(l, s);
        }
    };
    rec.undo = leftover.clone();
    let exec = matches!(f.action, crate::scenario::FaultAction::Exec { .. });
    let sent = secs(t0);
    // An exec start still running when the run stops is ended then (its group with it).
    let r = apply(&f.name, &f.action, &ep, Some(cancel.clone())).await;
    rec.start_output = r.output;
    // What a finished start command left in its process group, ended when the fault is removed.
    let start_group = r.group;
    match r.error {
        // A command may have half-worked: its stop runs at the end of the window anyway.
        Some(e) if exec => {
            tracing::error!("fault `{}` could not be applied: {e}", f.name);
            rec.apply_error = Some(e);
            stage(journal::Stage::Applied);
        }
        // The call went out and its answer was lost: the fault may be in place. Remove it now
        // (a 404 counts as removed) and say how that went; if that fails too, a later clean-up
        // deletes it by name.
        Some(e) if r.unknown => {
            tracing::error!("fault `{}` could not be applied: {e}; removing it in case the call took effect", f.name);
            rec.apply_error = Some(e);
            stage(journal::Stage::AnswerLost);
            finish_removal(&mut rec, remove_with_retries(&f, &ep).await, &f.name, leftover.as_ref(), t0, false);
            return rec;
        }
        // Refused or never sent: nothing was changed.
        Some(e) => {
            tracing::error!("fault `{}` could not be applied: {e}", f.name);
            rec.apply_error = Some(e);
            if let Some(l) = &leftover {
                journal::forget(l);
            }
            rec.undo = None;
            return rec;
        }
        None => {
            stage(if r.took_over { journal::Stage::TakenOver } else { journal::Stage::Applied });
            rec.applied_at_s = Some(secs(t0));
            crate::metrics::live::fault_event(&f.name, true);
            tracing::info!("fault `{}` applied: {}", f.name, f.action.describe());
        }
    }
    // Renew the lease until the window ends: a run that dies stops renewing, and a skyload
    // gateway or proxy undoes the fault about `LEASE` later on its own.
    let end = t0 + f.end();
    // When the last call that set or renewed the lease was sent: the lease runs from then at
    // the earliest.
    let mut confirmed = sent;
    // The first renewal that failed since the last one that worked, and the latest error.
    let mut failing: Option<(f64, String)> = None;
    let mut lapsed: Option<Lapse> = None;
    loop {
        let next = (Instant::now() + RENEW_EVERY).min(end);
        if wait(next, &mut cancel).await || next >= end {
            break;
        }
        if lapsed.is_some() {
            continue;
        }
        let at = secs(t0);
        let r = renew(&f.name, &f.action, &ep).await;
        let Some(e) = r.error else {
            confirmed = at;
            failing = None;
            continue;
        };
        let since = failing.get_or_insert_with(|| (at, String::new())).0;
        failing = Some((since, e.clone()));
        match lapse(r.status == Some(404), confirmed, secs(t0), LEASE) {
            Some(l) => {
                end_early(&mut rec, l, since, &e);
                lapsed = Some(l);
            }
            None => tracing::warn!("fault `{}`: lease renewal failed ({e}); it will be undone if this persists", f.name),
        }
    }
    // The window ended while renewals were failing: the lease may have run out before it did.
    if let (None, Some((since, e))) = (lapsed, &failing) {
        if let Some(l) = lapse(false, confirmed, secs(t0), LEASE) {
            end_early(&mut rec, l, *since, e);
            lapsed = Some(l);
        }
    }
    if lapsed == Some(Lapse::Refused) {
        // Already undone; a removal now could only undo what someone set since.
        rec.removal_confirmed = Some(true);
        crate::metrics::live::fault_event(&f.name, false);
        if let Some(l) = &leftover {
            journal::forget(l);
        }
        return rec;
    }
    // Expired leases are removed as usual: a server that keeps no leases (stock Toxiproxy), or
    // was only out of reach, may still have the fault; a 404 counts as removed.
    let mut removed = remove_with_retries(&f, &ep).await;
    // Then what the start command left running (a holder such as `sleep 600 &`), before the
    // journal entry can be crossed off: no process of a drill outlives its run.
    if let Some(g) = &start_group {
        match super::exec::end_left(g).await {
            (Some(said), true) => {
                tracing::info!("fault `{}`: {said}", f.name);
                let out = removed.output.get_or_insert_with(String::new);
                out.push_str(&format!("\n[skyload: {said}]"));
            }
            // Still running: the fault is not removed, and its entry stays for `faults clear`.
            (Some(said), false) => removed.error = Some(removed.error.map_or(said.clone(), |e| format!("{e}; {said}"))),
            (None, _) => {}
        }
    }
    finish_removal(&mut rec, removed, &f.name, leftover.as_ref(), t0, true);
    rec
}

/// Why a leased fault is taken to be gone before its window ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Lapse {
    /// A renewal was answered 404: the server no longer has the fault.
    Refused,
    /// Renewals failed (in transport, or refused otherwise) until the lease, granted at the
    /// latest by the last call that worked, ran out at `at_s`: a server that keeps leases has
    /// undone the fault by then.
    Expired { at_s: f64 },
}

/// Whether a fault whose lease renewal just failed is gone: at once when it was `refused` (404),
/// else once `now_s` is past the expiry of the lease renewed by the call sent at `confirmed_s`
/// (the earliest the server can have started it, so a second in which the fault may already
/// have been undone is never counted as inside it). None: it may still be in place.
fn lapse(refused: bool, confirmed_s: f64, now_s: f64, lease: std::time::Duration) -> Option<Lapse> {
    if refused {
        return Some(Lapse::Refused);
    }
    let at_s = confirmed_s + lease.as_secs_f64();
    (now_s >= at_s).then_some(Lapse::Expired { at_s })
}

impl Lapse {
    /// `ended_early`: why, with the first failed renewal (`since_s`) and the last error.
    fn reason(self, since_s: f64, error: &str) -> String {
        match self {
            Lapse::Refused => format!("undone by the server before its window ended: lease renewal at {since_s:.1}s failed ({error})"),
            Lapse::Expired { at_s } => format!(
                "lease renewals failed from {since_s:.1}s until its lease ran out at {at_s:.1}s (last: {error}); a skyload gateway or proxy has undone it by then"
            ),
        }
    }
}

/// Ends the fault's window at the first renewal that failed (when it was last known in place at
/// the latest), saying why.
fn end_early(rec: &mut FaultRecord, l: Lapse, since_s: f64, error: &str) {
    let why = l.reason(since_s, error);
    tracing::error!("fault `{}`: {why}; its window ends at {since_s:.1}s", rec.name);
    rec.removed_at_s = Some(since_s);
    rec.ended_early = Some(why);
}

/// Records how a removal went, and crosses the journal entry off once it is confirmed.
fn finish_removal(rec: &mut FaultRecord, r: super::backend::StepResult, name: &str, leftover: Option<&journal::Leftover>, t0: Instant, applied: bool) {
    rec.stop_output = r.output;
    match r.error {
        Some(e) => {
            tracing::error!("fault `{name}` could not be removed: {e}");
            rec.remove_error = Some(e);
            rec.removal_confirmed = Some(false);
        }
        None => {
            if applied {
                // A window that ended early keeps its end.
                rec.removed_at_s.get_or_insert(secs(t0));
                crate::metrics::live::fault_event(name, false);
            }
            rec.removal_confirmed = Some(true);
            tracing::info!("fault `{name}` removed");
            if let Some(l) = leftover {
                journal::forget(l);
            }
        }
    }
}

/// Waits between removal attempts: 4 tries within about 1.5 s plus call timeouts, so a second
/// Ctrl-C's few seconds still cover them.
const REMOVE_BACKOFF: [u64; 3] = [200, 400, 800];

/// Removes a fault, retrying a control API that failed (a restarting proxy, a dropped
/// connection); a command runs once, as it may not be safe to repeat.
async fn remove_with_retries(f: &FaultPlan, ep: &Endpoints) -> super::backend::StepResult {
    let mut r = remove(&f.name, &f.action, ep).await;
    if !retryable(&f.action) {
        return r;
    }
    for ms in REMOVE_BACKOFF {
        let Some(e) = &r.error else { break };
        tracing::warn!("fault `{}` could not be removed ({e}); retrying in {ms} ms", f.name);
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        r = remove(&f.name, &f.action, ep).await;
    }
    r
}

/// Time until the system is back inside its SLO after a fault ends: the first second after the
/// end (a second belongs to the time its middle falls in, as windows do) that starts `streak`
/// consecutive good seconds, minus `end_s` (never below zero). `good[k]` says whether
/// second k was inside the SLO (None: no data). None when it never recovered within the data.
pub fn recovery_time(good: &[Option<bool>], end_s: f64, streak: usize) -> Option<f64> {
    let first = (end_s - 0.5).ceil().max(0.0) as usize;
    let mut run = 0;
    for k in first..good.len() {
        if good[k] == Some(true) {
            run += 1;
            if run == streak {
                let start = k + 1 - streak;
                return Some((start as f64 - end_s).max(0.0));
            }
        } else {
            run = 0;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panicked driver thread used to give no records at all (`unwrap_or_default`), so no
    /// fault failure was reported and the run could pass.
    #[test]
    fn a_panicked_driver_thread_fails_every_planned_fault() {
        let planned = vec![FaultRecord { name: "kill".into(), ..FaultRecord::default() }, FaultRecord { name: "slow".into(), ..FaultRecord::default() }];
        let r = std::thread::spawn(|| -> Vec<FaultRecord> { panic!("boom") }).join();
        let out = joined(planned, r);
        assert_eq!(out.len(), 2);
        for rec in &out {
            let e = rec.failed().unwrap_or_else(|| panic!("{rec:?}"));
            assert!(e.contains("the fault driver panicked (boom)"), "{e}");
        }
        let fine = vec![FaultRecord { name: "x".into(), ..FaultRecord::default() }];
        assert_eq!(joined(Vec::new(), Ok(fine.clone())), fine);
    }

    /// Renewals failing in transport only warned, even after the lease had run out and a
    /// skyload server had undone the fault: the Results claimed it for its whole window.
    #[test]
    fn a_fault_whose_renewals_fail_past_its_lease_is_taken_as_gone() {
        let lease = std::time::Duration::from_secs(10);
        // Refused (404): gone at once, whatever the time.
        assert_eq!(lapse(true, 6.0, 7.0, lease), Some(Lapse::Refused));
        // Failing otherwise: in place (perhaps) until the last renewed lease runs out...
        assert_eq!(lapse(false, 6.0, 9.0, lease), None);
        assert_eq!(lapse(false, 6.0, 15.99, lease), None);
        // ...and gone from its expiry on, counted from when the last good call was sent.
        assert_eq!(lapse(false, 6.0, 16.0, lease), Some(Lapse::Expired { at_s: 16.0 }));
        assert_eq!(lapse(false, 6.0, 40.0, lease), Some(Lapse::Expired { at_s: 16.0 }));
        // The reasons name the first failure, the expiry and the error.
        let r = Lapse::Expired { at_s: 16.0 }.reason(9.0, "cannot connect to 127.0.0.1:1: refused");
        assert_eq!(
            r,
            "lease renewals failed from 9.0s until its lease ran out at 16.0s (last: cannot connect to 127.0.0.1:1: refused); a skyload gateway or proxy has undone it by then"
        );
        assert!(Lapse::Refused.reason(3.0, "HTTP 404").contains("lease renewal at 3.0s failed (HTTP 404)"));
        // Its window ends at the first failed renewal, and a removal afterwards keeps that end.
        let mut rec = FaultRecord { name: "slow".into(), ..FaultRecord::default() };
        end_early(&mut rec, Lapse::Expired { at_s: 16.0 }, 9.0, "x");
        assert_eq!(rec.removed_at_s, Some(9.0));
        assert!(rec.ended_early.as_deref().is_some_and(|e| e.contains("ran out at 16.0s")));
    }

    #[test]
    fn recovery_is_the_start_of_the_first_good_streak() {
        let g = |v: &[u8]| v.iter().map(|b| Some(*b == 1)).collect::<Vec<_>>();
        // Fault ends at 10 s; seconds 10, 11 bad, 12..14 good: recovered 2 s after the end.
        let mut good = g(&[1; 10]);
        good.extend(g(&[0, 0, 1, 1, 1, 1]));
        assert_eq!(recovery_time(&good, 10.0, 3), Some(2.0));
        // Good right away.
        assert_eq!(recovery_time(&g(&[1; 20]), 10.0, 3), Some(0.0));
        // A good spell too short to count, then a real one.
        let mut good = g(&[1; 10]);
        good.extend(g(&[1, 1, 0, 1, 1, 1]));
        assert_eq!(recovery_time(&good, 10.0, 3), Some(3.0));
        // Never three in a row before the data ends.
        let mut good = g(&[1; 10]);
        good.extend(g(&[0, 1, 1, 0, 1]));
        assert_eq!(recovery_time(&good, 10.0, 3), None);
        // A fault removed just after a second began leaves that second to the recovery; one
        // removed late in a second leaves the next.
        assert_eq!(recovery_time(&g(&[1; 20]), 10.003, 3), Some(0.0));
        assert!((recovery_time(&g(&[1; 20]), 9.6, 3).unwrap() - 0.4).abs() < 1e-9);
    }
}
