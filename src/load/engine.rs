//! One generator thread: a precise pacer (see `pacer`) that hands each arrival to the connection
//! workers at its intended time, workers that send on kept-alive connections (more are opened when
//! all are busy, up to the connection cap), and a ticker that ships each closed second to the
//! collector. Every arrival ends in exactly one outcome: answered, failed, `timeout` (also when
//! still unanswered a timeout after the schedule's end), or `dropped` (the in-flight cap only). Each thread runs its own single-threaded runtime over an
//! interleaved share of the schedule (every n-th arrival), as wrk2 gives each thread its own
//! connections and rate share: no locks or cross-thread wake-ups on the hot path.

use super::h1::Capture;
use super::queue::{LocalQueue, Parked};
use super::request::RequestSet;
use super::schedule::Schedule;
use super::shard::Shard;
use super::transport::{exchange, Conn, Endpoint, BODY_KEEP};
use crate::record::accum::{Completion, Interval, Shape, ThreadRecorder, Totals, MAX_LABELS};
use crate::record::outcome::{Classifier, OutcomeId, TransportFailure, PROTOCOL, TIMEOUT};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use super::pacer::Pacer;
use crate::scenario::ConnectionPlan;
use http::HeaderName;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What every thread shares, read-only.
pub struct EngineCtx {
    pub schedule: Schedule,
    pub requests: RequestSet,
    pub classifier: Classifier,
    pub endpoint: Endpoint,
    pub conns: ConnectionPlan,
    pub timeout: Duration,
    /// Opt-in: a request that would leave later than this is dropped (`Duration::MAX`: never).
    pub max_lag: Duration,
    pub max_in_flight: usize,
    pub pod_header: Option<HeaderName>,
    /// Response headers whose values are counted (at most `MAX_LABELS`).
    pub labels: Vec<HeaderName>,
    pub seed: u64,
    pub threads: usize,
    pub shape: Arc<Shape>,
    /// Second 0 of the schedule.
    pub t0: Instant,
    /// This process's share of the schedule (the whole of it unless sharded).
    pub shard: Shard,
    /// How the thread waits for each arrival (the scenario's `pacer`).
    pub pacer: crate::scenario::PacerKind,
}

/// From a generator thread to the collector.
pub enum Msg {
    /// Closed seconds, in order, every second shipped exactly once per thread.
    Intervals(usize, Vec<Interval>),
    /// The thread is finished; its run totals.
    Done(usize, Box<Totals>),
}

/// One arrival on its way: the schedule's instant and when the pacer handed it over. Copy, so the
/// worker holding it can be asked what it held if the run ends before it is answered.
#[derive(Clone, Copy)]
struct Job {
    seq: u64,
    request: usize,
    intended: Instant,
    /// When the pacer pushed it to the workers: `handed - intended` is the pacer's own lateness,
    /// `sent - handed` the wait for a connection.
    handed: Instant,
}

/// Runs thread `idx` of `ctx.threads` to the end of the schedule or until `stop` turns true.
pub fn run_thread(ctx: Arc<EngineCtx>, idx: usize, tx: mpsc::Sender<Msg>, stop: watch::Receiver<bool>) {
    // I/O and timers only: `enable_all` would add the process driver, whose orphan reaping runs
    // on every park of this thread (0.3% of its CPU at 30k/s) for children it never has.
    let rt = match tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("generator thread {idx}: cannot start a runtime: {e}");
            let _ = tx.send(Msg::Done(idx, Box::new(Totals::new(&ctx.shape))));
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, thread_main(ctx, idx, tx, stop));
}

/// This thread's share of a total split as evenly as possible.
fn share(total: usize, idx: usize, n: usize) -> usize {
    (total / n + usize::from(idx < total % n)).max(1)
}

/// The workers of one thread, one per connection (per stream for HTTP/2), started as arrivals find
/// every worker busy, up to the thread's share of `connections.max`: the load stays open-loop
/// instead of queueing behind a stalled connection.
struct Pool {
    ctx: Arc<EngineCtx>,
    idx: usize,
    jobs: LocalQueue<Job>,
    rec: Rc<RefCell<ThreadRecorder>>,
    in_flight: Rc<Cell<usize>>,
    stopping: Rc<Cell<bool>>,
    slots: Vec<Rc<Slot>>,
    workers: Vec<(JoinHandle<()>, Rc<Cell<Option<Job>>>)>,
    max_workers: usize,
    per_conn: usize,
}

impl Pool {
    /// Hands a job to an idle worker, or a new one; false when the connection cap made it wait.
    fn hand(&mut self, job: Job) -> bool {
        let free = self.jobs.idle() > 0 || self.workers.len() < self.max_workers;
        if self.jobs.idle() == 0 && free {
            self.spawn();
        }
        self.jobs.push(job);
        free
    }

    fn spawn(&mut self) {
        let w = self.workers.len();
        let s = w / self.per_conn;
        if s == self.slots.len() {
            self.slots.push(Rc::new(Slot::default()));
        }
        let current = Rc::new(Cell::new(None));
        let worker = Worker {
            ctx: self.ctx.clone(),
            slot: self.slots[s].clone(),
            rec: self.rec.clone(),
            in_flight: self.in_flight.clone(),
            stopping: self.stopping.clone(),
            current: current.clone(),
            rng: SmallRng::seed_from_u64(self.ctx.seed ^ ((self.idx as u64) << 32) ^ w as u64),
        };
        self.workers.push((tokio::task::spawn_local(worker.run(self.jobs.clone())), current));
    }

    /// Waits up to `grace` for every job to end; what is still queued or unanswered then ends as
    /// `timeout` (or `dropped` if the run was interrupted before it left), so none goes uncounted.
    async fn finish(mut self, grace: Duration) {
        self.jobs.close();
        let all = async {
            for (h, _) in self.workers.iter_mut() {
                // A worker's panic is the thread's: the runner makes the run `failed` with its message.
                if let Err(e) = h.await {
                    if e.is_panic() {
                        std::panic::resume_unwind(e.into_panic());
                    }
                }
            }
        };
        let timed_out = tokio::time::timeout(grace, all).await.is_err();
        if !timed_out {
            return;
        }
        let now = Instant::now();
        let mut rec = self.rec.borrow_mut();
        for (h, current) in &self.workers {
            h.abort();
            if let Some(job) = current.take() {
                rec.completed(&Completion::failed(job.request, TIMEOUT, job.intended, job.handed, now));
            }
        }
        let interrupted = self.stopping.get();
        for job in self.jobs.drain() {
            if interrupted {
                rec.dropped(job.request, job.intended, now);
            } else {
                rec.completed(&Completion::failed(job.request, TIMEOUT, job.intended, job.handed, now));
            }
        }
    }
}

async fn thread_main(ctx: Arc<EngineCtx>, idx: usize, tx: mpsc::Sender<Msg>, stop: watch::Receiver<bool>) {
    let rec = Rc::new(RefCell::new(ThreadRecorder::new(ctx.t0, ctx.shape.clone())));
    let in_flight = Rc::new(Cell::new(0usize));
    let stopping = Rc::new(Cell::new(false));
    let cpu = Rc::new(CpuClock::new());
    let per_conn = if ctx.conns.http2 { ctx.conns.h2_streams.max(1) } else { 1 };
    let mut pool = Pool {
        ctx: ctx.clone(),
        idx,
        jobs: LocalQueue::with_capacity(QUEUE_ROOM),
        rec: rec.clone(),
        in_flight: in_flight.clone(),
        stopping: stopping.clone(),
        slots: Vec::new(),
        workers: Vec::new(),
        max_workers: share(ctx.conns.max, idx, ctx.threads) * per_conn,
        per_conn,
    };

    let ticker = {
        let (rec, tx, in_flight, cpu, t0) = (rec.clone(), tx.clone(), in_flight.clone(), cpu.clone(), ctx.t0);
        tokio::task::spawn_local(async move {
            let mut k = 0u64;
            loop {
                // A little past the second's end, so completions timed inside it are in.
                let at = t0 + Duration::from_secs(k + 1) + Duration::from_millis(20);
                tokio::time::sleep_until(at.into()).await;
                let ivs = rec.borrow_mut().take_through(k, in_flight.get() as u64, cpu.lap());
                if tx.send(Msg::Intervals(idx, ivs)).is_err() {
                    return;
                }
                k += 1;
            }
        })
    };

    let mut pacer = Pacer::new(ctx.pacer);
    let cap = share(ctx.max_in_flight, idx, ctx.threads);
    let window = coalesce_window();
    let mut interrupted = *stop.borrow();
    let mut arrivals = ctx.schedule.arrivals(ctx.seed, ctx.shard.thread_slice(idx, ctx.threads)).peekable();
    // Arrivals handed over on one wake; never grows past MAX_BATCH, so it never reallocates.
    let mut due: Vec<(u64, Instant)> = Vec::with_capacity(MAX_BATCH);
    'run: while let Some(first) = arrivals.next() {
        if interrupted {
            break;
        }
        // One wake for every arrival due within `window` of this one: the wait ends at the last
        // of them, and each is charged its own lateness as pacer lag (`handed - intended`), so the
        // saved sleep/wake-up per request costs at most `window` of honest, recorded lag.
        let first_at = ctx.t0 + first.at;
        due.clear();
        due.push((first.seq, first_at));
        let mut wake = first_at;
        while due.len() < MAX_BATCH {
            match arrivals.peek() {
                Some(n) if ctx.t0 + n.at <= first_at + window => {
                    wake = ctx.t0 + n.at;
                    due.push((n.seq, wake));
                    arrivals.next();
                }
                _ => break,
            }
        }
        // The stop flag is read once per wake (a long wait is cut into STOP_POLL slices), instead
        // of a `select!` registering on the watch channel for every arrival.
        // The clock read that ends the wait is the hand-over time (one read per wake).
        let handed = loop {
            if stop_requested(&stop) {
                interrupted = true;
                break 'run;
            }
            let now = Instant::now();
            if now >= wake {
                break now;
            }
            // A slice that ends before the arrival is rested through (a plain sleep): only the
            // last slice is worth the precise pacer's early arming and spinning.
            let slice_end = now + STOP_POLL;
            if wake > slice_end {
                pacer.rest_until(slice_end).await;
            } else {
                pacer.wait_until(wake).await;
            }
        };
        for &(seq, at) in &due {
            let request = ctx.requests.pick(seq);
            {
                let mut r = rec.borrow_mut();
                r.scheduled(request, at);
                r.handed(at, handed);
                if in_flight.get() >= cap {
                    r.dropped(request, at, handed);
                    continue;
                }
            }
            in_flight.set(in_flight.get() + 1);
            if !pool.hand(Job { seq, request, intended: at, handed }) {
                rec.borrow_mut().conn_limited(handed);
            }
        }
    }

    // Let what is in flight finish: up to the request timeout, or briefly when interrupted.
    stopping.set(interrupted);
    let grace = if interrupted { ctx.timeout.min(Duration::from_secs(2)) } else { ctx.timeout + Duration::from_millis(500) };
    pool.finish(grace).await;
    ticker.abort();
    if let Err(e) = ticker.await {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let rec = rec.replace(ThreadRecorder::new(ctx.t0, ctx.shape.clone()));
    let (rest, totals) = rec.finish(cpu.lap());
    let _ = tx.send(Msg::Intervals(idx, rest));
    let _ = tx.send(Msg::Done(idx, Box::new(totals)));
}

/// Jobs the queue holds before it first grows (40 bytes each): a short stall of the target
/// queues arrivals without an allocation on the hand-off.
const QUEUE_ROOM: usize = 1024;

/// At most this many arrivals are handed over on one pacer wake.
const MAX_BATCH: usize = 64;

/// The longest the pacer sleeps before looking at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(20);

/// Arrivals due within this window of the next one are handed over together on one wake
/// (`SKYLOAD_COALESCE_US`, default 25 µs; 0 turns it off, for the lag benchmark). Each sleep and
/// wake-up of the generator thread costs more CPU than the request it releases, so at high rates
/// this is most of the difference to a closed-loop tool; at 2,000/s (500 µs apart on average) few
/// arrivals fall within 25 µs of another and the lag figures stay as they were.
fn coalesce_window() -> Duration {
    let us = std::env::var("SKYLOAD_COALESCE_US").ok().and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(25);
    Duration::from_micros(us.min(10_000))
}

/// Whether the run was told to stop, or its stop handle is gone (which ends it as well).
fn stop_requested(stop: &watch::Receiver<bool>) -> bool {
    !matches!(stop.has_changed(), Ok(false))
}

/// A connection shared by the workers of one slot: taken exclusively for HTTP/1.1 (one worker per
/// slot), cloned per request for HTTP/2 (many streams on one connection). Opened lazily, replaced
/// when the server closed it, and closed on purpose when churn is due.
#[derive(Default)]
struct Slot {
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
    in_flight: Rc<Cell<usize>>,
    stopping: Rc<Cell<bool>>,
    /// The job this worker holds, for the end-of-run accounting of what never came back.
    current: Rc<Cell<Option<Job>>>,
    rng: SmallRng,
}

impl Worker {
    async fn run(mut self, jobs: LocalQueue<Job>) {
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
        while let Some(job) = jobs.pop_as(&parked).await {
            self.current.set(Some(job));
            // The one clock read before the request leaves: with a kept-alive connection nothing
            // waits between here and the write, so it is also the send time.
            let now = Instant::now();
            if let Some(deadline) = self.admit(&ctx, &job, now) {
                let kept = self.slot.take_kept(&ctx.conns);
                let body = keep_body.then_some(&mut body);
                match kept {
                    // The hot path: a small future, nothing boxed, no timer registered.
                    Some(conn) => self.one_lean(&ctx, job, conn, now, &mut scratch, body, &mut lean, deadline).await,
                    None => self.one(&ctx, job, now, &mut scratch, body, &mut lean, deadline).await,
                }
            }
            if keep_slow.is_some() {
                crate::record::slow::after(&mut self.rec.borrow_mut(), keep_slow, job.seq, job.intended, job.request);
            }
            self.current.set(None);
            self.in_flight.set(self.in_flight.get() - 1);
            #[cfg(test)]
            tests::request_done();
        }
    }

    /// Whether the job goes out: it ends here as `dropped` (interrupted, or later than the opt-in
    /// `max_lag`) or `timeout` (its deadline passed while it waited for a worker); otherwise its
    /// deadline.
    #[inline]
    fn admit(&self, ctx: &EngineCtx, job: &Job, now: Instant) -> Option<tokio::time::Instant> {
        // Opt-in censoring only: by default a request is sent however late, so a stall shows at
        // its true size.
        if self.stopping.get() || now.saturating_duration_since(job.intended) > ctx.max_lag {
            self.rec.borrow_mut().dropped(job.request, job.intended, now);
            return None;
        }
        // The timeout runs from the hand-over, so queueing for a connection counts against it and
        // every job ends within `timeout` of leaving the pacer.
        let deadline = job.handed + ctx.timeout;
        if now >= deadline {
            self.rec.borrow_mut().completed(&Completion::failed(job.request, TIMEOUT, job.intended, now, now));
            return None;
        }
        Some(tokio::time::Instant::from_std(deadline))
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
        now: Instant,
        scratch: &mut String,
        mut body: Option<&mut Vec<u8>>,
        lean: &mut Lean,
        deadline: tokio::time::Instant,
    ) {
        let mut conn = match self.slot.acquire(ctx, deadline).await {
            Ok(c) => c,
            Err(f) => {
                self.failed(&job, f.outcome(), now);
                return;
            }
        };
        if let Conn::Lean(_) = conn {
            // Waiting for the connection is part of the connection wait, not of the service time.
            return Box::pin(self.one_lean(ctx, job, conn, Instant::now(), scratch, body, lean, deadline)).await;
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
        let sent = Instant::now();
        self.rec.borrow_mut().sent(job.request, job.handed, sent, bytes_out);
        match exchange(&mut conn, req, body.as_deref_mut(), deadline).await {
            Ok(ans) => {
                let done = Instant::now();
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
                let done = Instant::now();
                self.rec.borrow_mut().completed(&Completion::failed(job.request, f.outcome(), job.intended, sent, done));
                self.slot.release(conn, false, &ctx.conns);
            }
        }
    }

    /// The HTTP/1.1 path: the request encoded into this worker's buffer, one exchange on the lean
    /// connection, headers looked up in its captures; nothing here allocates once warm. `sent` is
    /// the clock read taken just before (nothing waits in between).
    #[allow(clippy::too_many_arguments)]
    async fn one_lean(
        &mut self,
        ctx: &EngineCtx,
        job: Job,
        mut conn: Conn,
        sent: Instant,
        scratch: &mut String,
        mut body: Option<&mut Vec<u8>>,
        lean: &mut Lean,
        deadline: tokio::time::Instant,
    ) {
        if let Some(b) = body.as_deref_mut() {
            b.clear();
        }
        let bytes_out = match ctx.requests.encode_h1(job.request, job.seq, &mut self.rng, scratch, &mut lean.wire) {
            Ok(n) => n,
            Err(e) => {
                self.unencodable(ctx, &job, conn, &e);
                return;
            }
        };
        let head = ctx.requests.is_head(job.request);
        self.rec.borrow_mut().sent(job.request, job.handed, sent, bytes_out);
        let Conn::Lean(c) = &mut conn else { unreachable!("one_lean is called with a lean connection") };
        let keep = body.as_deref_mut().map(|b| (b, BODY_KEEP));
        let mut result = match within(&mut lean.timer, deadline, c.exchange(&lean.wire, head, &mut lean.caps, keep)).await {
            Some(r) => r,
            None => Err(TransportFailure::Timeout),
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
                    let done = Instant::now();
                    self.rec.borrow_mut().completed(&Completion::failed(job.request, f.outcome(), job.intended, sent, done));
                    return;
                }
            }
        }
        let done = Instant::now();
        let reusable = match &conn {
            Conn::Lean(c) => c.reusable(),
            _ => false,
        };
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
        self.slot.release(conn, reusable, &ctx.conns);
    }

    /// A request that could not be encoded (a template's value): logged, failed as `protocol`.
    #[cold]
    #[inline(never)]
    fn unencodable(&mut self, ctx: &EngineCtx, job: &Job, conn: Conn, e: &dyn std::fmt::Display) {
        tracing::warn!("{e}");
        self.slot.release(conn, true, &ctx.conns);
        self.failed(job, PROTOCOL, Instant::now());
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
        deadline: tokio::time::Instant,
    ) -> Result<(Conn, Result<super::h1::Head, TransportFailure>), TransportFailure> {
        self.slot.release(conn, false, &ctx.conns);
        if let Some(b) = body.as_deref_mut() {
            b.clear();
        }
        let mut conn = self.slot.acquire(ctx, deadline).await?;
        let Conn::Lean(c) = &mut conn else {
            // ALPN chose HTTP/2 on the new connection: not a case a run meets (the probe fixed the
            // protocol); count it as the reset it followed.
            return Ok((conn, Err(TransportFailure::Reset)));
        };
        let head = ctx.requests.is_head(job.request);
        let keep = body.map(|b| (b, BODY_KEEP));
        let r = match within(&mut lean.timer, deadline, c.exchange(&lean.wire, head, &mut lean.caps, keep)).await {
            Some(r) => r,
            None => Err(TransportFailure::Timeout),
        };
        Ok((conn, r))
    }

    /// A request that failed before it was on the wire (could not be built, no connection): it
    /// counts as sent at `at` and completes now with `outcome`, so error rates include it.
    fn failed(&self, job: &Job, outcome: OutcomeId, at: Instant) {
        let mut rec = self.rec.borrow_mut();
        rec.sent(job.request, job.handed, at, 0);
        rec.completed(&Completion::failed(job.request, outcome, job.intended, at, Instant::now()));
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
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
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
        Lean { wire: Vec::with_capacity(512), caps, names, pod, labels, timer: None }
    }

}

/// Runs `work` until it ends or `deadline` passes (None). The timer is armed at the first deadline
/// and, when it fires before the current one (deadlines move forward with every request), moved
/// to it then: one timer registration per timeout period and worker, not one per request.
async fn within<F: Future>(timer: &mut Option<Pin<Box<tokio::time::Sleep>>>, deadline: tokio::time::Instant, work: F) -> Option<F::Output> {
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        while timer.as_mut().poll(cx).is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return Poll::Ready(None);
            }
            timer.as_mut().reset(deadline);
        }
        Poll::Pending
    })
    .await
}

/// CPU time of the calling thread, in laps (each lap since the previous one).
struct CpuClock {
    last: Cell<Duration>,
}

impl CpuClock {
    fn new() -> CpuClock {
        CpuClock { last: Cell::new(thread_cpu()) }
    }
    fn lap(&self) -> Duration {
        let now = thread_cpu();
        now.saturating_sub(self.last.replace(now))
    }
}

/// User + system CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own; RUSAGE_THREAD is Linux's per-thread usage.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::h1::tests::counting;
    use std::io::{Read, Write};

    thread_local! {
        /// (requests done on this thread, count allocations from this many, up to this many)
        static WINDOW: Cell<(u64, u64, u64)> = const { Cell::new((0, u64::MAX, u64::MAX)) };
    }

    /// Called by a worker after each request: switches this thread's allocation counting on at
    /// the start of the measured window and off at its end.
    pub(super) fn request_done() {
        WINDOW.with(|w| {
            let (n, from, to) = w.get();
            let n = n + 1;
            w.set((n, from, to));
            if n == from {
                counting::ON.with(|on| on.set(true));
            } else if n == to {
                counting::ON.with(|on| on.set(false));
            }
        });
    }

    /// A keep-alive HTTP/1.1 server answering every request at once, on its own threads.
    fn answering_server() -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let _ = s.set_nodelay(true);
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    let (mut buf, mut pending) = ([0u8; 4096], Vec::new());
                    loop {
                        let n = match s.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            pending.drain(..i + 4);
                            if s.write_all(reply).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    /// The whole generator path of an HTTP/1.1 run — pacer hand-off, job queue, worker, lean
    /// connection, classifier and the thread's recorder — allocates nothing per request once warm:
    /// the generator thread's heap allocations are counted from the 1,000th answered request to
    /// the 4,000th, all inside second 0 (nothing per-second happens in the window). One
    /// connection, because opening another (a worker task, its buffers: ~10 allocations) is a
    /// per-connection cost that a stall of this shared machine can trigger at any time. The bound
    /// is not 0 only because a histogram grows (one allocation) when a value beyond its range
    /// arrives, which such a stall can also cause; one allocation per request would be 3,000.
    #[test]
    fn the_worker_path_allocates_nothing_per_request() {
        let addr = answering_server();
        let toml = format!(
            "name = \"alloc\"\nthreads = 1\n[target]\nurl = \"http://{addr}\"\n[connections]\nmax = 1\n\
             [[stages]]\nrate = 4500\nduration = \"1s\"\n[[requests]]\nname = \"get\"\npath = \"/x\"\n"
        );
        let plan = crate::scenario::load_str(&toml, std::path::Path::new("alloc.toml")).unwrap();
        let crate::scenario::Target::Url(target) = &plan.target else { panic!("url target") };
        let prepared = crate::load::probe::prepare(&plan, target).unwrap();
        let requests = RequestSet::new(&plan, &target.authority, &target.base_path, false);
        let classifier = Classifier::new(&plan.matchers);
        let shape = Arc::new(Shape { requests: requests.names().to_vec(), outcomes: classifier.table().clone(), labels: vec![] });
        let ctx = Arc::new(EngineCtx {
            schedule: Schedule::new(&plan.stages),
            requests,
            classifier,
            endpoint: prepared.endpoint.clone(),
            conns: plan.connections.clone(),
            timeout: plan.timeout,
            max_lag: plan.max_lag,
            max_in_flight: plan.max_in_flight,
            pod_header: None,
            labels: vec![],
            seed: 7,
            threads: 1,
            shape,
            t0: Instant::now() + Duration::from_millis(20),
            shard: Shard::WHOLE,
            pacer: plan.pacer,
        });
        let (tx, rx) = mpsc::channel();
        let (_keep, stop) = watch::channel(false);
        let (from, to) = (1_000u64, 4_000u64);
        let allocations = std::thread::spawn(move || {
            WINDOW.with(|w| w.set((0, from, to)));
            let before = counting::COUNT.with(|c| c.get());
            run_thread(ctx, 0, tx, stop);
            counting::ON.with(|on| on.set(false));
            let done = WINDOW.with(|w| w.get().0);
            (counting::COUNT.with(|c| c.get()) - before, done, counting::SIZES.with(|s| s.get()))
        })
        .join()
        .unwrap();
        let (allocs, done, sizes) = allocations;
        let (mut ok, mut scheduled) = (0, u64::MAX);
        for m in rx.try_iter() {
            if let Msg::Done(_, t) = m {
                ok = t.requests[0].by_outcome[crate::record::outcome::OK as usize].as_ref().map_or(0, |h| h.latency.len());
                scheduled = t.requests[0].scheduled;
            }
        }
        assert!(done >= to, "only {done} requests ended");
        assert_eq!(ok, scheduled, "every request answered ok");
        eprintln!("allocations in requests {from}..{to}: {allocs} (first sizes: {sizes:?})");
        assert!(allocs <= 20, "{allocs} heap allocations in {} requests on the generator thread (first sizes: {sizes:?})", to - from);
    }
}
