//! The per-request side of a generator thread: the pool of connection workers the thread's
//! arrival loop (`engine`) hands jobs to, the connection slot each worker sends on, and the lean
//! HTTP/1.1 path with its lazily re-armed deadline timer. One job in, one outcome recorded.

use super::drive::Drive;
use super::engine::{EngineCtx, Job, Queued, Ticker};
use super::h1_head::Capture;
use super::queue::{LocalQueue, Parked};
use super::transport::{exchange, Conn, BODY_KEEP};
use super::mono::{ns, Clock};
use crate::record::accum::{Completion, MonoNs, ThreadRecorder};
use crate::record::interval::MAX_LABELS;
use crate::record::outcome::{OutcomeId, TransportFailure, PROTOCOL, TIMEOUT};
use crate::scenario::ConnectionPlan;
use http::HeaderName;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// The workers of one thread, one per connection (per stream for HTTP/2), started as arrivals find
/// every worker busy, up to the thread's share of `connections.max`: the load stays open-loop
/// instead of queueing behind a stalled connection.
pub(crate) struct Pool {
    pub(crate) ctx: Arc<EngineCtx>,
    pub(crate) idx: usize,
    pub(crate) jobs: LocalQueue<Queued>,
    pub(crate) rec: Rc<RefCell<ThreadRecorder>>,
    pub(crate) stopping: Rc<Cell<bool>>,
    pub(crate) slots: Vec<Rc<Slot>>,
    /// The workers, polled by the arrival loop (`Drive`), not as tasks.
    pub(crate) workers: Drive,
    /// The job each worker holds, by worker.
    pub(crate) current: Vec<Rc<Cell<Option<Job>>>>,
    pub(crate) max_workers: usize,
    pub(crate) per_conn: usize,
    pub(crate) clock: Clock,
}

impl Pool {
    /// Hands a job to an idle worker, or a new one; false when the connection cap made it wait.
    pub(crate) fn hand(&mut self, job: Job) -> bool {
        let idle = self.jobs.idle() > 0;
        let free = idle || self.current.len() < self.max_workers;
        if !idle && free {
            self.spawn();
        }
        self.jobs.push(Queued::new(&job, self.clock.origin()));
        free
    }

    fn spawn(&mut self) {
        let w = self.current.len();
        let s = w / self.per_conn;
        if s == self.slots.len() {
            self.slots.push(Rc::new(Slot::default()));
        }
        let current = Rc::new(Cell::new(None));
        let worker = Worker {
            ctx: self.ctx.clone(),
            slot: self.slots[s].clone(),
            rec: self.rec.clone(),
            stopping: self.stopping.clone(),
            current: current.clone(),
            rng: SmallRng::seed_from_u64(self.ctx.seed ^ ((self.idx as u64) << 32) ^ w as u64),
            clock: self.clock,
        };
        self.workers.spawn(Box::pin(worker.run(self.jobs.clone())));
        self.current.push(current);
    }

    /// Every worker busy, no more allowed and jobs already waiting: an arrival handed now would
    /// wait in the queue behind them, however exactly it was handed.
    pub(crate) fn saturated(&self) -> bool {
        !self.jobs.is_empty() && self.jobs.idle() == 0 && self.current.len() >= self.max_workers
    }

    /// Runs `f` (a pacer rest) serving the workers, and ends it early (false) when a worker comes
    /// free: the pool is no longer saturated, and arrivals due must go out on time again.
    pub(crate) async fn rest_while_saturated<F: std::future::Future>(&mut self, f: F) -> bool {
        let jobs = self.jobs.clone();
        let idled = jobs.idled();
        self.workers.while_driving_or(f, || jobs.idled() != idled).await.is_some()
    }

    /// Runs `f` (a pacer wait), serving the workers while it waits.
    pub(crate) async fn while_waiting<F: std::future::Future>(&mut self, f: F) -> F::Output {
        self.workers.while_driving(f).await
    }

    /// Waits up to `grace` for every job to end; what is still queued or unanswered then ends as
    /// `timeout` (or `dropped` if the run was interrupted before it left), so none goes uncounted.
    /// Closed seconds keep going out (`ticker`) while it waits.
    pub(crate) async fn finish(mut self, grace: Duration, ticker: &mut Ticker) {
        self.jobs.close();
        // What the backlog cost in memory (`-vv`).
        tracing::debug!("generator thread {}: job queue peak {} jobs in {} KiB, {} workers", self.idx, self.jobs.peak(), self.jobs.peak_bytes() / 1024, self.current.len());
        // A worker's panic unwinds through the arrival loop: the thread's, as the runner expects
        // (the run becomes `failed` with its message).
        let end = self.clock.now() + ns(grace);
        let now = loop {
            let until = self.clock.instant(end.min(ticker.next));
            if tokio::time::timeout_at(until.into(), self.workers.until_done()).await.is_ok() {
                return;
            }
            let now = self.clock.now();
            if now >= end {
                break now;
            }
            ticker.ship(now);
        };
        self.workers.cancel();
        let mut rec = self.rec.borrow_mut();
        for current in &self.current {
            if let Some(job) = current.take() {
                rec.completed(&Completion::failed(job.request, TIMEOUT, job.intended, job.handed, now));
            }
        }
        let interrupted = self.stopping.get();
        for job in self.jobs.drain() {
            let job = job.job(&self.ctx, self.clock.origin());
            if interrupted {
                rec.dropped(job.request, job.intended, now);
            } else {
                rec.completed(&Completion::failed(job.request, TIMEOUT, job.intended, job.handed, now));
            }
        }
    }
}

/// A connection shared by the workers of one slot: taken exclusively for HTTP/1.1 (one worker per
/// slot), cloned per request for HTTP/2 (many streams on one connection). Opened lazily, replaced
/// when the server closed it, and closed on purpose when churn is due.
#[derive(Default)]
pub(crate) struct Slot {
    conn: RefCell<Option<Conn>>,
    opened: Cell<Option<Instant>>,
    requests: Cell<u64>,
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    fn churn_due(&self, plan: &ConnectionPlan) -> bool {
        self.opened.get().is_some_and(|opened| {
            plan.max_requests.is_some_and(|n| self.requests.get() >= n)
                || plan.max_age.is_some_and(|a| opened.elapsed() >= a)
        })
    }

    fn forget(&self) {
        self.conn.borrow_mut().take();
        self.opened.set(None);
    }

    /// The kept-alive lean HTTP/1.1 connection, if the slot holds one that may take a request
    /// now: the per-request case, answered without a future. Anything else (none yet, churn due,
    /// HTTP/2, hyper) is `acquire`'s.
    #[inline]
    fn take_kept(&self, plan: &ConnectionPlan) -> Option<Conn> {
        let mut cur = self.conn.borrow_mut();
        match cur.as_ref() {
            Some(Conn::Lean(c)) if c.reusable() => {}
            _ => return None,
        }
        if (plan.max_requests.is_some() || plan.max_age.is_some()) && self.churn_due(plan) {
            return None;
        }
        self.requests.set(self.requests.get() + 1);
        cur.take()
    }

    /// A connection ready for one request.
    async fn acquire(&self, ctx: &EngineCtx, deadline: tokio::time::Instant) -> Result<Conn, TransportFailure> {
        loop {
            if self.churn_due(&ctx.conns) {
                self.forget();
            }
            let taken = {
                let mut cur = self.conn.borrow_mut();
                match cur.as_ref() {
                    Some(c) if c.is_h2() => c.clone_h2(),
                    Some(_) => cur.take(),
                    None => None,
                }
            };
            if let Some(mut c) = taken {
                if c.ready().await {
                    self.requests.set(self.requests.get() + 1);
                    return Ok(c);
                }
                self.forget();
                continue;
            }
            let _guard = self.connecting.lock().await;
            if self.conn.borrow().is_some() {
                continue;
            }
            let conn = match tokio::time::timeout_at(deadline, Conn::open(&ctx.endpoint)).await {
                Ok(r) => r?,
                Err(_) => return Err(TransportFailure::Timeout),
            };
            self.opened.set(Some(Instant::now()));
            self.requests.set(0);
            if conn.is_h2() {
                *self.conn.borrow_mut() = Some(conn);
                continue;
            }
            self.requests.set(1);
            return Ok(conn);
        }
    }

    /// Gives an HTTP/1.1 connection back after an exchange; one that failed, was told to close, or
    /// serves a single request is dropped (which closes it).
    fn release(&self, conn: Conn, reusable: bool, plan: &ConnectionPlan) {
        if conn.is_h2() {
            if plan.per_request {
                self.forget();
            }
            return;
        }
        if reusable && !plan.per_request {
            *self.conn.borrow_mut() = Some(conn);
        } else {
            self.opened.set(None);
        }
    }
}

struct Worker {
    ctx: Arc<EngineCtx>,
    slot: Rc<Slot>,
    rec: Rc<RefCell<ThreadRecorder>>,
    stopping: Rc<Cell<bool>>,
    /// The job this worker holds, for the end-of-run accounting of what never came back.
    current: Rc<Cell<Option<Job>>>,
    rng: SmallRng,
    clock: Clock,
}

impl Worker {
    async fn run(mut self, jobs: LocalQueue<Queued>) {
        let mut scratch = String::new();
        let mut body = Vec::new();
        let mut lean = Lean::new(&self.ctx);
        let parked = Parked::default();
        let keep_body = self.ctx.classifier.needs_body();
        let keep_slow = self.ctx.requests.keep_slow();
        self.rec.borrow_mut().slow.keep(keep_slow);
        // One reference for the worker's life: the per-request paths borrow it instead of cloning
        // the Arc (two atomic increments and decrements per request).
        let ctx = self.ctx.clone();
        // The previous request's end reading, while it may also start the next one (see below).
        let mut ended: Option<MonoNs> = None;
        loop {
            let queued = match jobs.try_pop_as(&parked) {
                Some(q) => q,
                None => {
                    // Waiting for a job: the time after it needs a reading of its own.
                    ended = None;
                    match jobs.pop_as(&parked).await {
                        Some(q) => q,
                        None => break,
                    }
                }
            };
            let job = queued.job(&ctx, self.clock.origin());
            self.current.set(Some(job));
            // The one clock read before the request leaves: with a kept-alive connection nothing
            // waits between here and the write, so it is also the send time. When the job was
            // already queued as the last request ended, that request's end reading serves: only
            // its counting ran since (a few hundred ns, below the histograms' 1 µs unit; never
            // when it opened a second or made a histogram), so the send time is that much early,
            // and the service time that much longer, the connection wait that much shorter. At
            // overload, where workers never park, that is one clock read per request fewer.
            let now = match ended.take() {
                Some(t) => t,
                None => self.clock.now(),
            };
            if let Some(deadline) = self.admit(&ctx, &job, now) {
                let kept = self.slot.take_kept(&ctx.conns);
                let body = keep_body.then_some(&mut body);
                match kept {
                    // The hot path: a small future, nothing boxed, no timer registered.
                    Some(conn) => {
                        // Pinned where it is made (see `one_lean`'s exchange): not moved to be polled.
                        let done = std::pin::pin!(self.one_lean(&ctx, job, conn, now, &mut scratch, body, &mut lean, deadline)).await;
                        ended = done.filter(|_| keep_slow.is_none());
                    }
                    None => self.one(&ctx, job, now, &mut scratch, body, &mut lean, deadline).await,
                }
            }
            if keep_slow.is_some() {
                crate::record::slow::after(&mut self.rec.borrow_mut(), keep_slow, job.seq, job.intended, job.request);
            }
            self.current.set(None);
            #[cfg(test)]
            super::engine::tests::request_done();
        }
    }

    /// Whether the job goes out: it ends here as `dropped` (interrupted, or later than the opt-in
    /// `max_lag`) or `timeout` (its deadline passed while it waited for a worker); otherwise its
    /// deadline.
    #[inline]
    fn admit(&self, ctx: &EngineCtx, job: &Job, now: MonoNs) -> Option<MonoNs> {
        // Opt-in censoring only: by default a request is sent however late, so a stall shows at
        // its true size.
        if self.stopping.get() || now.saturating_sub(job.intended) > ns(ctx.max_lag) {
            self.rec.borrow_mut().dropped(job.request, job.intended, now);
            return None;
        }
        // The timeout runs from the hand-over, so queueing for a connection counts against it and
        // every job ends within `timeout` of leaving the pacer.
        let deadline = job.handed.saturating_add(ns(ctx.timeout));
        if now >= deadline {
            self.rec.borrow_mut().completed(&Completion::failed(job.request, TIMEOUT, job.intended, now, now));
            return None;
        }
        Some(deadline)
    }

    /// The cold path: a connection to open or wait for, or a hyper connection (HTTP/2, or
    /// `SKYLOAD_H1=hyper`). Kept out of line so its large future is never built per request on
    /// the lean path.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    async fn one(
        &mut self,
        ctx: &EngineCtx,
        job: Job,
        now: MonoNs,
        scratch: &mut String,
        mut body: Option<&mut Vec<u8>>,
        lean: &mut Lean,
        deadline: MonoNs,
    ) {
        let mut conn = match self.slot.acquire(ctx, self.tokio_instant(deadline)).await {
            Ok(c) => c,
            Err(f) => {
                self.failed(&job, f.outcome(), now);
                return;
            }
        };
        if let Conn::Lean(_) = conn {
            // Waiting for the connection is part of the connection wait, not of the service time.
            Box::pin(self.one_lean(ctx, job, conn, self.clock.now(), scratch, body, lean, deadline)).await;
            return;
        }
        if let Some(b) = body.as_deref_mut() {
            b.clear();
        }
        let (req, bytes_out) = match ctx.requests.build(job.request, job.seq, &mut self.rng, scratch) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("{e}");
                self.slot.release(conn, true, &ctx.conns);
                self.failed(&job, PROTOCOL, now);
                return;
            }
        };
        let sent = self.clock.now();
        self.rec.borrow_mut().sent(job.request, job.handed, sent, bytes_out);
        match exchange(&mut conn, req, body.as_deref_mut(), self.tokio_instant(deadline)).await {
            Ok(ans) => {
                let done = self.clock.now();
                let status = ans.status.as_u16();
                let outcome = ctx.classifier.classify(status, &ans.headers, body.as_deref().map_or(&[], |b| b));
                let pod = ctx.pod_header.as_ref().and_then(|h| ans.headers.get(h)).map(|v| v.as_bytes());
                let mut labels = [None; MAX_LABELS];
                for (slot, h) in labels.iter_mut().zip(&ctx.labels) {
                    *slot = ans.headers.get(h).map(|v| v.as_bytes());
                }
                self.rec.borrow_mut().completed(&Completion {
                    request: job.request,
                    outcome,
                    status,
                    intended: job.intended,
                    sent,
                    done,
                    bytes_in: ans.body_bytes,
                    bytes_out,
                    pod,
                    labels,
                });
                let close = ans.headers.get(http::header::CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                self.slot.release(conn, !close, &ctx.conns);
            }
            Err(f) => {
                let done = self.clock.now();
                self.rec.borrow_mut().completed(&Completion::failed(job.request, f.outcome(), job.intended, sent, done));
                self.slot.release(conn, false, &ctx.conns);
            }
        }
    }

    /// The HTTP/1.1 path: the request encoded into this worker's buffer, one exchange on the lean
    /// connection, headers looked up in its captures; nothing here allocates once warm. `sent` is
    /// the clock read taken just before (nothing waits in between). Some(done): the reading the
    /// request ended at, when only the completion's counting ran after it (the recorder grew
    /// nothing): the caller may start its next request from it.
    #[allow(clippy::too_many_arguments)]
    async fn one_lean(
        &mut self,
        ctx: &EngineCtx,
        job: Job,
        mut conn: Conn,
        sent: MonoNs,
        scratch: &mut String,
        mut body: Option<&mut Vec<u8>>,
        lean: &mut Lean,
        deadline: MonoNs,
    ) -> Option<MonoNs> {
        if let Some(b) = body.as_deref_mut() {
            b.clear();
        }
        let bytes_out = match ctx.requests.encode_h1(job.request, job.seq, &mut self.rng, scratch, &mut lean.wire) {
            Ok(n) => n,
            Err(e) => {
                self.unencodable(ctx, &job, conn, &e);
                return None;
            }
        };
        let head = ctx.requests.is_head(job.request);
        self.rec.borrow_mut().sent(job.request, job.handed, sent, bytes_out);
        let Conn::Lean(c) = &mut conn else { unreachable!("one_lean is called with a lean connection") };
        let keep = body.as_deref_mut().map(|b| (b, BODY_KEEP));
        // Pinned where it is made, and polled through the pin: passed by value, the exchange's
        // future (a few hundred bytes) was copied into `within` and once more inside it.
        let mut result = {
            let exchange = std::pin::pin!(c.exchange(&lean.wire, head, &mut lean.caps, keep));
            match within(&mut lean.timer, &self.clock, deadline, exchange).await {
                Some(r) => r,
                None => Err(TransportFailure::Timeout),
            }
        };
        // The server had closed the kept-alive connection before this request reached it: send it
        // once more on a new connection, as HTTP clients do (out of line: once per connection).
        if matches!(result, Err(TransportFailure::Reset)) && c.stale() {
            match Box::pin(self.resend(ctx, &job, conn, body.as_deref_mut(), lean, deadline)).await {
                Ok((c, r)) => {
                    conn = c;
                    result = r;
                }
                Err(f) => {
                    let done = self.clock.now();
                    self.rec.borrow_mut().completed(&Completion::failed(job.request, f.outcome(), job.intended, sent, done));
                    return None;
                }
            }
        }
        let done = self.clock.now();
        let reusable = match &conn {
            Conn::Lean(c) => c.reusable(),
            _ => false,
        };
        let growths = self.rec.borrow().growths();
        match result {
            Ok(h) => {
                let caps = &lean.caps;
                let get = |name: &HeaderName| caps.iter().zip(&lean.names).find(|(_, n)| *n == name).and_then(|(c, _)| c.value());
                let outcome = ctx.classifier.classify_with(h.status, get, body.as_deref().map_or(&[], |b| b));
                let pod = lean.pod.and_then(|i| caps[i].value());
                let mut labels = [None; MAX_LABELS];
                for (slot, &i) in labels.iter_mut().zip(&lean.labels) {
                    *slot = caps[i].value();
                }
                self.rec.borrow_mut().completed(&Completion {
                    request: job.request,
                    outcome,
                    status: h.status,
                    intended: job.intended,
                    sent,
                    done,
                    bytes_in: h.body_bytes,
                    bytes_out,
                    pod,
                    labels,
                });
            }
            Err(f) => {
                self.rec.borrow_mut().completed(&Completion::failed(job.request, f.outcome(), job.intended, sent, done));
            }
        }
        // A connection not kept is closed here (a syscall or two): that time is not counting.
        let kept = reusable && !ctx.conns.per_request;
        self.slot.release(conn, reusable, &ctx.conns);
        (kept && self.rec.borrow().growths() == growths).then_some(done)
    }

    /// A request that could not be encoded (a template's value): logged, failed as `protocol`.
    #[cold]
    #[inline(never)]
    fn unencodable(&mut self, ctx: &EngineCtx, job: &Job, conn: Conn, e: &dyn std::fmt::Display) {
        tracing::warn!("{e}");
        self.slot.release(conn, true, &ctx.conns);
        self.failed(job, PROTOCOL, self.clock.now());
    }

    /// Sends the encoded request once more on a new connection after `stale` found the kept one
    /// closed by the server. Err: no new connection could be had, and why.
    #[inline(never)]
    async fn resend(
        &mut self,
        ctx: &EngineCtx,
        job: &Job,
        conn: Conn,
        mut body: Option<&mut Vec<u8>>,
        lean: &mut Lean,
        deadline: MonoNs,
    ) -> Result<(Conn, Result<super::h1::Head, TransportFailure>), TransportFailure> {
        self.slot.release(conn, false, &ctx.conns);
        if let Some(b) = body.as_deref_mut() {
            b.clear();
        }
        let mut conn = self.slot.acquire(ctx, self.tokio_instant(deadline)).await?;
        let Conn::Lean(c) = &mut conn else {
            // ALPN chose HTTP/2 on the new connection: not a case a run meets (the probe fixed the
            // protocol); count it as the reset it followed.
            return Ok((conn, Err(TransportFailure::Reset)));
        };
        let head = ctx.requests.is_head(job.request);
        let keep = body.map(|b| (b, BODY_KEEP));
        let r = {
            let exchange = std::pin::pin!(c.exchange(&lean.wire, head, &mut lean.caps, keep));
            match within(&mut lean.timer, &self.clock, deadline, exchange).await {
                Some(r) => r,
                None => Err(TransportFailure::Timeout),
            }
        };
        Ok((conn, r))
    }

    /// `at` for tokio's timers (the cold paths: connecting, hyper).
    fn tokio_instant(&self, at: MonoNs) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.clock.instant(at))
    }

    /// A request that failed before it was on the wire (could not be built, no connection): it
    /// counts as sent at `at` and completes now with `outcome`, so error rates include it.
    fn failed(&self, job: &Job, outcome: OutcomeId, at: MonoNs) {
        let mut rec = self.rec.borrow_mut();
        rec.sent(job.request, job.handed, at, 0);
        rec.completed(&Completion::failed(job.request, outcome, job.intended, at, self.clock.now()));
    }
}

/// A worker's state for the lean HTTP/1.1 path: the encoded request, the response headers the run
/// looks at (captured by the connection into reused buffers), and one deadline timer re-armed
/// lazily instead of a timer registered per request.
struct Lean {
    wire: Vec<u8>,
    caps: Vec<Capture>,
    /// The header each capture is for.
    names: Vec<HeaderName>,
    pod: Option<usize>,
    labels: Vec<usize>,
    timer: DeadlineTimer,
}

impl Lean {
    fn new(ctx: &EngineCtx) -> Lean {
        let mut names: Vec<HeaderName> = Vec::new();
        let mut index = |h: &HeaderName| match names.iter().position(|n| n == h) {
            Some(i) => i,
            None => {
                names.push(h.clone());
                names.len() - 1
            }
        };
        let pod = ctx.pod_header.as_ref().map(&mut index);
        let labels = ctx.labels.iter().map(&mut index).collect();
        for h in ctx.classifier.header_names() {
            index(h);
        }
        let caps = names.iter().map(|n| Capture::new(n.as_str())).collect();
        Lean { wire: Vec::with_capacity(512), caps, names, pod, labels, timer: DeadlineTimer::default() }
    }

}

/// A worker's one deadline timer, and whether it is known to hold this task's waker: a timer
/// polled once (Pending) keeps the waker until it fires, so polling it again on every wake of the
/// task (the answer's readiness, about twice per request) only re-registers the same waker.
#[derive(Default)]
pub(crate) struct DeadlineTimer {
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The deadline `sleep` is set to, on the thread's clock: compared per request as one `u64`
    /// instead of an `Instant` made and compared, and converted only when the timer is moved.
    armed: MonoNs,
    /// Polled since it was last armed or reset, and not fired since: it will wake the task.
    watching: bool,
}

/// Runs `work` until it ends or `deadline` passes (None). The timer is armed at the first deadline
/// and, when it fires before the current one (deadlines move forward with every request), moved
/// to it then: one timer registration per timeout period and worker, not one per request. Between
/// those it is polled only when it has fired (`is_elapsed`, an atomic load).
async fn within<F: Future>(t: &mut DeadlineTimer, clock: &Clock, deadline: MonoNs, mut work: Pin<&mut F>) -> Option<F::Output> {
    let at = |d: MonoNs| tokio::time::Instant::from_std(clock.instant(d));
    let (watching, armed) = (&mut t.watching, &mut t.armed);
    let timer = t.sleep.get_or_insert_with(|| {
        *watching = false;
        *armed = deadline;
        Box::pin(tokio::time::sleep_until(at(deadline)))
    });
    if *armed > deadline {
        timer.as_mut().reset(at(deadline));
        *armed = deadline;
        *watching = false;
    }
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if *watching && !timer.is_elapsed() {
            return Poll::Pending;
        }
        // Out of coop budget, `Sleep::poll` returns Pending without taking the waker (the task is
        // woken to come back): only a poll with budget left leaves the timer watching.
        let registers = tokio::task::coop::has_budget_remaining();
        *watching = false;
        while timer.as_mut().poll(cx).is_ready() {
            if clock.now() >= deadline {
                return Poll::Ready(None);
            }
            timer.as_mut().reset(at(deadline));
            *armed = deadline;
        }
        *watching = registers;
        Poll::Pending
    })
    .await
}
