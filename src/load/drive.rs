//! The connection workers of one generator thread, polled by the thread's arrival loop itself
//! instead of as tokio `LocalSet` tasks.
//!
//! At a rate the generator holds, every request parks its worker once (the queue is empty when
//! the answer is in) and wakes it once more for the next job, so a worker is woken and polled
//! twice per request; as a task each of those is a task-state transition, a `LocalSet` schedule,
//! a tick, a coop-budget scope and a task-id guard (0.56 µs per request at 60k/s held, twice the
//! share at overload, where a worker takes its next job without parking). Here a wake is a flag,
//! a push onto a shared list and a wake of the arrival loop (a no-op when it is already running),
//! and a poll is a call: the arrival loop hands a job and polls that worker in the same turn.
//!
//! The workers share the arrival loop's coop budget: when it runs out, tokio's I/O answers Pending
//! and wakes the worker, which is polled again on the next turn (after the runtime's I/O is
//! processed), as a task would be. The pacer is polled before the workers in every turn, as the
//! arrival loop was polled before the `LocalSet`'s tasks.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

type Work = Pin<Box<dyn Future<Output = ()>>>;

/// Futures polled when woken, by whoever calls `drive`.
#[derive(Default)]
pub(crate) struct Drive {
    work: Vec<Option<Work>>,
    wakes: Vec<Arc<WorkWake>>,
    wakers: Vec<Waker>,
    ready: Arc<Ready>,
    /// The woken indices taken for one round; kept for its capacity (no allocation per round).
    round: Vec<u32>,
    live: usize,
}

#[derive(Default)]
struct Ready {
    inner: Mutex<ReadyInner>,
}

#[derive(Default)]
struct ReadyInner {
    woken: Vec<u32>,
    /// The waker of the task that drives (the arrival loop's): a worker's wake wakes it.
    driver: Option<Waker>,
    /// The driving task is running and will `drive` before it next waits (set when a wait in
    /// `while_driving` is over, cleared by `drive`): a wake now needs no wake of the driver. The
    /// arrival loop hands most jobs in that state, and waking the driver from inside its own poll
    /// cost a runtime turn per hand-off (tokio sees itself woken and polls its driver once more,
    /// an `epoll_wait` with no timeout, then the loop again).
    collecting: bool,
}

impl Ready {
    fn lock(&self) -> MutexGuard<'_, ReadyInner> {
        // A panic while the lock is held leaves a consistent list (a push or a swap).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct WorkWake {
    idx: u32,
    /// On the woken list and not yet polled: a second wake adds nothing.
    queued: AtomicBool,
    ready: Arc<Ready>,
}

impl Wake for WorkWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut r = self.ready.lock();
        r.woken.push(self.idx);
        if r.collecting {
            return;
        }
        if let Some(w) = r.driver.as_ref() {
            w.wake_by_ref();
        }
    }
}

impl Drive {
    /// Adds `work`, to be polled on the next `drive`.
    pub(crate) fn spawn(&mut self, work: Work) {
        let idx = self.work.len() as u32;
        let wake = Arc::new(WorkWake { idx, queued: AtomicBool::new(false), ready: self.ready.clone() });
        self.wakers.push(Waker::from(wake.clone()));
        self.wakes.push(wake);
        self.work.push(Some(work));
        self.live += 1;
        self.wakers[idx as usize].wake_by_ref();
    }

    /// Futures not yet finished.
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// Polls every future woken since the last call, once each; `cx` is the driving task's
    /// context, woken when a future is woken again.
    pub(crate) fn drive(&mut self, cx: &Context<'_>) {
        {
            let mut r = self.ready.lock();
            if !r.driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                r.driver = Some(cx.waker().clone());
            }
            // From here on (the workers' polls, then the wait) a wake must wake the driver.
            r.collecting = false;
            if r.woken.is_empty() {
                return;
            }
            self.round.clear();
            std::mem::swap(&mut r.woken, &mut self.round);
        }
        for k in 0..self.round.len() {
            let idx = self.round[k] as usize;
            // Cleared before the poll, so a wake during it queues the future again.
            self.wakes[idx].queued.store(false, Ordering::Release);
            let Some(work) = self.work[idx].as_mut() else { continue };
            let mut wcx = Context::from_waker(&self.wakers[idx]);
            if work.as_mut().poll(&mut wcx).is_ready() {
                self.work[idx] = None;
                self.live -= 1;
            }
        }
    }

    /// Drops every unfinished future (what aborting a task did).
    pub(crate) fn cancel(&mut self) {
        for w in self.work.iter_mut() {
            if w.take().is_some() {
                self.live -= 1;
            }
        }
    }

    /// Runs `f`, driving the futures whenever `f` waits: `f` is polled first, so a wait that is
    /// over goes on before the workers' answers are read.
    ///
    /// The caller must drive again (`while_driving` or `until_done`) before it waits on anything
    /// else: wakes in between are left to that call, without waking the driving task.
    pub(crate) async fn while_driving<F: Future>(&mut self, f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                self.ready.lock().collecting = true;
                return Poll::Ready(v);
            }
            self.drive(cx);
            Poll::Pending
        })
        .await
    }

    /// `while_driving`, ending early (None) as soon as `done` holds after a round of the futures:
    /// a wait that something the futures do (a worker becoming free) makes pointless.
    pub(crate) async fn while_driving_or<F: Future>(&mut self, f: F, done: impl Fn() -> bool) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                self.ready.lock().collecting = true;
                return Poll::Ready(Some(v));
            }
            self.drive(cx);
            if done() {
                self.ready.lock().collecting = true;
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Drives the futures until every one has finished.
    pub(crate) async fn until_done(&mut self) {
        std::future::poll_fn(|cx| {
            self.drive(cx);
            if self.live() == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;

    /// Futures woken by a job queue, by tokio timers and by a yield run to the end, every job is
    /// taken exactly once, and the work is shared between the futures.
    #[test]
    fn woken_work_runs_to_the_end() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let local = tokio::task::LocalSet::new();
        let done = local.block_on(&rt, async {
            let q: crate::load::queue::LocalQueue<u32> = crate::load::queue::LocalQueue::default();
            let done = Rc::new(RefCell::new(Vec::new()));
            let started = Rc::new(Cell::new(0u32));
            let mut d = Drive::default();
            for w in 0..3u32 {
                let (q, done, started) = (q.clone(), done.clone(), started.clone());
                d.spawn(Box::pin(async move {
                    let parked = crate::load::queue::Parked::default();
                    while let Some(j) = q.pop_as(&parked).await {
                        started.set(started.get() + 1);
                        if j % 2 == 0 {
                            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                        } else {
                            tokio::task::yield_now().await;
                        }
                        done.borrow_mut().push((w, j));
                    }
                }));
            }
            for i in 0..30 {
                q.push(i);
                if i % 4 == 0 {
                    d.while_driving(tokio::time::sleep(std::time::Duration::from_micros(300))).await;
                }
            }
            q.close();
            tokio::time::timeout(std::time::Duration::from_secs(10), d.until_done()).await.expect("workers finish");
            assert_eq!(d.live(), 0);
            assert_eq!(started.get(), 30);
            let v = done.borrow().clone();
            v
        });
        let mut jobs: Vec<u32> = done.iter().map(|&(_, j)| j).collect();
        jobs.sort();
        assert_eq!(jobs, (0..30).collect::<Vec<_>>());
        // Work was shared: more than one worker took jobs.
        assert!(done.iter().any(|&(w, _)| w != done[0].0), "{done:?}");
    }
}
