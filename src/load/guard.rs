//! A generator thread that panics must fail the run, never vanish: before, `join()` results were
//! dropped, so a run whose every thread died read `completed` with 0 requests and exit 0. Here a
//! panic is caught, its message kept for the summary, the rest of the run stopped, and the
//! collector told the thread is done so the seconds already recorded are still written.

use super::engine::{run_thread, EngineCtx, Msg};
use crate::record::interval::Totals;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::watch;

/// The panics of one run, first one first.
#[derive(Clone, Default)]
pub struct Failures(Arc<Mutex<Vec<String>>>);

impl Failures {
    pub fn record(&self, cause: String) {
        tracing::error!("{cause}");
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(cause);
    }
    pub fn first(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).first().cloned()
    }
}

/// Runs `body`; on a panic records it as thread `idx`'s, then calls `on_fail` (stop the run) and
/// `done` (release whoever waits for this thread). True when `body` returned normally.
pub fn supervise(idx: usize, failures: &Failures, on_fail: impl FnOnce(), done: impl FnOnce(), body: impl FnOnce()) -> bool {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(()) => true,
        Err(p) => {
            failures.record(format!("generator thread {idx} panicked: {}", crate::out::panic_cause(&*p)));
            on_fail();
            done();
            false
        }
    }
}

/// Generator thread `idx` under supervision.
pub fn generator(
    idx: usize,
    ctx: Arc<EngineCtx>,
    tx: mpsc::Sender<Msg>,
    stop: watch::Receiver<bool>,
    failures: &Failures,
    on_fail: impl FnOnce(),
) {
    let (done_tx, shape) = (tx.clone(), ctx.shape.clone());
    let done = move || {
        let _ = done_tx.send(Msg::Done(idx, Box::new(Totals::new(&shape))));
    };
    supervise(idx, failures, on_fail, done, move || run_thread(ctx, idx, tx, stop));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_panic_is_recorded_and_stops_the_run() {
        let f = Failures::default();
        let (stopped, released) = (Cell::new(false), Cell::new(false));
        let ok = supervise(3, &f, || stopped.set(true), || released.set(true), || panic!("capacity overflow"));
        assert!(!ok && stopped.get() && released.get());
        assert_eq!(f.first().as_deref(), Some("generator thread 3 panicked: capacity overflow"));
    }

    #[test]
    fn a_normal_end_records_nothing() {
        let f = Failures::default();
        assert!(supervise(0, &f, || panic!("not called"), || panic!("not called"), || {}));
        assert!(f.first().is_none());
    }
}
