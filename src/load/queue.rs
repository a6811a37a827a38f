//! A job queue for one generator thread. Everything on a thread runs on one single-threaded
//! runtime, so the queue needs no atomics or locks: a queue of jobs and a list of idle workers'
//! wakers. Handing a job to an idle worker is a push and one wake.
//!
//! The jobs are kept in fixed-size chunks, not one growing ring. At overload every arrival of the
//! last `max_lag` waits here (351,000 at 351,000/s and 1 s); a `VecDeque` doubles to hold them, and
//! while it copies itself into the doubled buffer both are resident: 786,000 slots for 351,000 jobs,
//! most of a 54 MiB peak. Chunks hold what waits (plus one partly filled chunk), are never copied,
//! and go back to the allocator once the backlog drains, so memory follows the queue both ways.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// Jobs per chunk: 512 jobs of 24 bytes (`engine::Queued`) are 12 KiB, a small share of the queue
/// at overload and a cheap allocation once per 512 arrivals while a backlog grows.
const CHUNK: usize = 512;

/// FIFO of jobs in chunks of `CHUNK`. Empty chunks are kept for reuse up to `keep` (the room the
/// queue was made with, at least one chunk), so a queue that stays within its room never
/// allocates, and one that grew past it gives the rest back as it drains.
struct Chunked<T> {
    chunks: VecDeque<VecDeque<T>>,
    spare: Vec<VecDeque<T>>,
    keep: usize,
    len: usize,
    /// The most jobs that waited at once (the backlog a run's memory pays for).
    peak: usize,
}

impl<T> Chunked<T> {
    fn with_room(n: usize) -> Self {
        let keep = n.div_ceil(CHUNK).max(1);
        Chunked { chunks: VecDeque::with_capacity(keep.max(4)), spare: (0..keep).map(|_| VecDeque::with_capacity(CHUNK)).collect(), keep, len: 0, peak: 0 }
    }

    fn push_back(&mut self, job: T) {
        if self.chunks.back().is_none_or(|c| c.len() >= CHUNK) {
            let fresh = self.spare.pop().unwrap_or_else(|| VecDeque::with_capacity(CHUNK));
            self.chunks.push_back(fresh);
        }
        if let Some(c) = self.chunks.back_mut() {
            c.push_back(job);
            self.len += 1;
            self.peak = self.peak.max(self.len);
        }
    }

    fn pop_front(&mut self) -> Option<T> {
        let first = self.chunks.front_mut()?;
        let job = first.pop_front();
        // A drained chunk with later ones behind it is recycled; the last one stays: it is a ring
        // that a queue within `CHUNK` jobs pushes to and pops from forever.
        if first.is_empty() && self.chunks.len() > 1 {
            if let Some(empty) = self.chunks.pop_front() {
                self.recycle(empty);
            }
        }
        if job.is_some() {
            self.len -= 1;
        }
        job
    }

    fn recycle(&mut self, empty: VecDeque<T>) {
        if self.spare.len() < self.keep {
            self.spare.push(empty);
        }
    }

    fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(mut c) = self.chunks.pop_front() {
            out.extend(c.drain(..));
            self.recycle(c);
        }
        self.len = 0;
        out
    }
}

struct Inner<T> {
    jobs: Chunked<T>,
    idle: Vec<Rc<ParkedState>>,
    closed: bool,
}

pub struct LocalQueue<T>(Rc<RefCell<Inner<T>>>);

impl<T> Clone for LocalQueue<T> {
    fn clone(&self) -> Self {
        LocalQueue(self.0.clone())
    }
}

impl<T> Default for LocalQueue<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<T> LocalQueue<T> {
    /// A queue with room for `n` jobs before it first grows: the hand-off allocates nothing
    /// until more than `n` arrivals wait at once.
    pub fn with_capacity(n: usize) -> Self {
        LocalQueue(Rc::new(RefCell::new(Inner { jobs: Chunked::with_room(n), idle: Vec::new(), closed: false })))
    }

    pub fn push(&self, job: T) {
        let parked = {
            let mut q = self.0.borrow_mut();
            q.jobs.push_back(job);
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

    /// Takes every job still queued (what is left when the run's grace period is over).
    pub fn drain(&self) -> Vec<T> {
        self.0.borrow_mut().jobs.drain()
    }

    pub fn len(&self) -> usize {
        self.0.borrow().jobs.len
    }

    /// The most jobs that waited at once so far.
    pub fn peak(&self) -> usize {
        self.0.borrow().jobs.peak
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    fn chunks_keep_order_and_are_given_back_as_the_backlog_drains() {
        let mut q = Chunked::with_room(1024);
        let mut next_out = 0u32;
        let mut next_in = 0u32;
        // Waves: a backlog of 5 chunks and a bit, drained to 3 jobs, then to nothing.
        for (fill, keep_waiting) in [(5 * CHUNK as u32 + 7, 3u32), (10, 0), (CHUNK as u32, 1)] {
            for _ in 0..fill {
                q.push_back(next_in);
                next_in += 1;
            }
            assert_eq!(q.len, (next_in - next_out) as usize);
            while q.len > keep_waiting as usize {
                assert_eq!(q.pop_front(), Some(next_out));
                next_out += 1;
            }
            assert!(q.chunks.len() <= 2, "drained chunks are not held: {}", q.chunks.len());
            assert!(q.spare.len() <= 2, "spares beyond the room are freed: {}", q.spare.len());
        }
        assert_eq!(q.drain(), (next_out..next_in).collect::<Vec<_>>());
        assert_eq!(q.pop_front(), None);
        assert_eq!(q.len, 0);
    }

    #[test]
    fn a_queue_within_one_chunk_reuses_it() {
        let mut q = Chunked::with_room(1);
        for i in 0..10 * CHUNK {
            q.push_back(i);
            if i % 3 != 0 {
                assert!(q.pop_front().is_some());
            }
            if q.len > CHUNK / 2 {
                q.drain();
            }
            // The one chunk made up front goes round between the queue and the spares.
            assert_eq!(q.chunks.len() + q.spare.len(), 1);
        }
    }

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
}
