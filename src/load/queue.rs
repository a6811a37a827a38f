//! A job queue for one generator thread. Everything on a thread runs on one single-threaded
//! runtime, so the queue needs no atomics or locks: a deque of jobs and a list of idle workers'
//! wakers. Handing a job to an idle worker is a push and one wake.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

struct Inner<T> {
    jobs: VecDeque<T>,
    idle: Vec<(Waker, Rc<Cell<bool>>)>,
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
        LocalQueue(Rc::new(RefCell::new(Inner { jobs: VecDeque::new(), idle: Vec::new(), closed: false })))
    }
}

impl<T> LocalQueue<T> {
    /// A queue with room for `n` jobs before it first grows: the hand-off allocates nothing
    /// until more than `n` arrivals wait at once.
    pub fn with_capacity(n: usize) -> Self {
        LocalQueue(Rc::new(RefCell::new(Inner { jobs: VecDeque::with_capacity(n), idle: Vec::new(), closed: false })))
    }

    pub fn push(&self, job: T) {
        let waker = {
            let mut q = self.0.borrow_mut();
            q.jobs.push_back(job);
            q.idle.pop()
        };
        if let Some((w, parked)) = waker {
            parked.set(false);
            w.wake();
        }
    }

    /// No more jobs: workers drain what is queued, then `pop` returns None.
    pub fn close(&self) {
        let idle = {
            let mut q = self.0.borrow_mut();
            q.closed = true;
            std::mem::take(&mut q.idle)
        };
        for (w, parked) in idle {
            parked.set(false);
            w.wake();
        }
    }

    /// Workers parked waiting for a job: each push hands its job to one of them.
    pub fn idle(&self) -> usize {
        self.0.borrow().idle.len()
    }

    /// Takes every job still queued (what is left when the run's grace period is over).
    pub fn drain(&self) -> Vec<T> {
        self.0.borrow_mut().jobs.drain(..).collect()
    }

    pub fn len(&self) -> usize {
        self.0.borrow().jobs.len()
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
                if parked.0.get() {
                    // Rare: woken by something else, and a job was there; unlist ourselves.
                    q.idle.retain(|(_, p)| !Rc::ptr_eq(p, &parked.0));
                    parked.0.set(false);
                }
                return Poll::Ready(Some(j));
            }
            if q.closed {
                return Poll::Ready(None);
            }
            if !parked.0.get() {
                q.idle.push((cx.waker().clone(), parked.0.clone()));
                parked.0.set(true);
            }
            Poll::Pending
        })
        .await
    }
}

/// Whether a worker is listed as idle (see `LocalQueue::pop_as`).
#[derive(Default, Clone)]
pub struct Parked(Rc<Cell<bool>>);

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
}
