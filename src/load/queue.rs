//! A job queue for one generator thread. Everything on a thread runs on one single-threaded
//! runtime, so the queue needs no atomics or locks: a queue of jobs and a list of idle workers'
//! wakers. Handing a job to an idle worker is a push and one wake.
//!
//! The jobs are kept as a few bytes each (`packed::PackedFifo`: each job as its difference from the
//! one before, in reused byte chunks). At overload every arrival of the last `max_lag` waits here
//! (308,873 at 300,000/s and 1 s); at 24 bytes each that was ~7 MiB of a 22.5 MiB peak. Chunks are
//! never copied and go back to the allocator once the backlog drains, so memory follows the queue
//! both ways.

use super::packed::{Pack, PackedFifo};
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

struct Inner<T: Pack> {
    jobs: PackedFifo<T>,
    idle: Vec<Rc<ParkedState>>,
    /// How many times a worker was listed idle: unchanged across a wait, no worker became free.
    idled: u64,
    closed: bool,
}

pub struct LocalQueue<T: Pack>(Rc<RefCell<Inner<T>>>);

impl<T: Pack> Clone for LocalQueue<T> {
    fn clone(&self) -> Self {
        LocalQueue(self.0.clone())
    }
}

impl<T: Pack> Default for LocalQueue<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<T: Pack> LocalQueue<T> {
    /// A queue with room for `n` jobs before it first grows: the hand-off allocates nothing
    /// until more than `n` arrivals wait at once.
    pub fn with_capacity(n: usize) -> Self {
        LocalQueue(Rc::new(RefCell::new(Inner { jobs: PackedFifo::with_room(n), idle: Vec::new(), idled: 0, closed: false })))
    }

    pub fn push(&self, job: T) {
        let parked = {
            let mut q = self.0.borrow_mut();
            q.jobs.push_back(&job);
            q.idle.pop()
        };
        if let Some(p) = parked {
            p.wake();
        }
    }

    /// No more jobs: workers drain what is queued, then `pop` returns None.
    pub fn close(&self) {
        let idle = {
            let mut q = self.0.borrow_mut();
            q.closed = true;
            std::mem::take(&mut q.idle)
        };
        for p in idle {
            p.wake();
        }
    }

    /// Workers parked waiting for a job: each push hands its job to one of them.
    pub fn idle(&self) -> usize {
        self.0.borrow().idle.len()
    }

    /// Counts every time a worker was listed idle: two equal readings mean no worker became free
    /// in between.
    pub fn idled(&self) -> u64 {
        self.0.borrow().idled
    }

    /// Takes every job still queued (what is left when the run's grace period is over), one at a
    /// time: a backlog is never unpacked into one large buffer.
    pub fn drain(&self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(|| self.0.borrow_mut().jobs.pop_front())
    }

    pub fn len(&self) -> usize {
        self.0.borrow().jobs.len()
    }

    /// The most jobs that waited at once so far.
    pub fn peak(&self) -> usize {
        self.0.borrow().jobs.peak()
    }

    /// The most bytes the queued jobs took at once (whole chunks).
    pub fn peak_bytes(&self) -> usize {
        self.0.borrow().jobs.peak_bytes()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next job if one is queued, without waiting (`pop_as` without the future): a worker
    /// that finds one knows no time passed waiting for it.
    #[inline]
    pub fn try_pop_as(&self, parked: &Parked) -> Option<T> {
        let mut q = self.0.borrow_mut();
        let j = q.jobs.pop_front()?;
        if parked.0.listed.get() {
            // Rare: listed from a park that something else woke; unlist, as `pop_as` does.
            q.idle.retain(|p| !Rc::ptr_eq(p, &parked.0));
            parked.0.listed.set(false);
        }
        Some(j)
    }

    /// The next job, waiting while the queue is empty and open.
    pub async fn pop(&self) -> Option<T> {
        self.pop_as(&Parked::default()).await
    }

    /// `pop` for a worker that may be woken by something else while parked (a lazily armed
    /// deadline timer): `parked` is the worker's own, so it is listed as idle once, never twice — a
    /// second entry would count it idle twice and a job handed to it would wait behind its
    /// current one.
    pub async fn pop_as(&self, parked: &Parked) -> Option<T> {
        poll_fn(|cx| {
            let mut q = self.0.borrow_mut();
            if let Some(j) = q.jobs.pop_front() {
                if parked.0.listed.get() {
                    // Rare: woken by something else, and a job was there; unlist ourselves.
                    q.idle.retain(|p| !Rc::ptr_eq(p, &parked.0));
                    parked.0.listed.set(false);
                }
                return Poll::Ready(Some(j));
            }
            if q.closed {
                return Poll::Ready(None);
            }
            parked.0.keep_waker(cx.waker());
            if !parked.0.listed.get() {
                q.idle.push(parked.0.clone());
                q.idled += 1;
                parked.0.listed.set(true);
            }
            Poll::Pending
        })
        .await
    }
}

/// A worker's entry in the idle list (see `LocalQueue::pop_as`).
#[derive(Default, Clone)]
pub struct Parked(Rc<ParkedState>);

#[derive(Default)]
struct ParkedState {
    /// Listed as idle: a push hands its job to this worker.
    listed: Cell<bool>,
    /// The waker the worker last parked with, kept across parks.
    waker: RefCell<Option<Waker>>,
}

impl ParkedState {
    /// Keeps `w` unless the kept waker already wakes the same task (the usual case: one clone per
    /// worker, not one per request).
    fn keep_waker(&self, w: &Waker) {
        let mut kept = self.waker.borrow_mut();
        if !kept.as_ref().is_some_and(|k| k.will_wake(w)) {
            *kept = Some(w.clone());
        }
    }

    /// Unlists the worker and wakes it (by reference: the waker stays for its next park).
    fn wake(&self) {
        self.listed.set(false);
        if let Some(w) = self.waker.borrow().as_ref() {
            w.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_drain_then_stop() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let local = tokio::task::LocalSet::new();
        let got = local.block_on(&rt, async {
            let q: LocalQueue<u32> = LocalQueue::default();
            let done = Rc::new(RefCell::new(Vec::new()));
            let workers: Vec<_> = (0..3)
                .map(|_| {
                    let (q, done) = (q.clone(), done.clone());
                    tokio::task::spawn_local(async move {
                        while let Some(j) = q.pop().await {
                            done.borrow_mut().push(j);
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for i in 0..10 {
                q.push(i);
                if i % 3 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            q.close();
            for w in workers {
                w.await.unwrap();
            }
            let mut v = done.borrow().clone();
            v.sort();
            v
        });
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }

    /// `try_pop_as` takes queued jobs in order without waiting, and a worker that was listed as
    /// idle (its job handed while it parked) is listed again when it next parks, not skipped.
    #[test]
    fn try_pop_takes_in_order_and_keeps_the_idle_list_right() {
        let q: LocalQueue<u32> = LocalQueue::default();
        let parked = Parked::default();
        assert_eq!(q.try_pop_as(&parked), None);
        // A waker that does nothing (`Waker::noop` is newer than the crate's MSRV).
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Noop));
        let mut cx = std::task::Context::from_waker(&waker);
        let park = |cx: &mut std::task::Context<'_>| {
            let mut f = std::pin::pin!(q.pop_as(&parked));
            f.as_mut().poll(cx)
        };
        use std::future::Future;
        assert!(park(&mut cx).is_pending());
        assert_eq!(q.idle(), 1);
        q.push(7);
        q.push(8);
        assert_eq!(q.idle(), 0, "the push handed its job to the parked worker");
        assert_eq!(q.try_pop_as(&parked), Some(7));
        assert_eq!(q.try_pop_as(&parked), Some(8));
        assert_eq!(q.try_pop_as(&parked), None);
        assert!(park(&mut cx).is_pending());
        assert_eq!(q.idle(), 1, "parked again, listed again");
    }
}
