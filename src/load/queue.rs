//! A job queue for one generator thread. Everything on a thread runs on one single-threaded
//! runtime, so the queue needs no atomics or locks: a deque of jobs and a list of idle workers'
//! wakers. Handing a job to an idle worker is a push and one wake.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

struct Inner<T> {
    jobs: VecDeque<T>,
    idle: Vec<Waker>,
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
    pub fn push(&self, job: T) {
        let waker = {
            let mut q = self.0.borrow_mut();
            q.jobs.push_back(job);
            q.idle.pop()
        };
        if let Some(w) = waker {
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
        for w in idle {
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
        poll_fn(|cx| {
            let mut q = self.0.borrow_mut();
            if let Some(j) = q.jobs.pop_front() {
                return Poll::Ready(Some(j));
            }
            if q.closed {
                return Poll::Ready(None);
            }
            q.idle.push(cx.waker().clone());
            Poll::Pending
        })
        .await
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
}
