//! A simulated function pod: `concurrency` slots, a bounded queue in front of them, a service-time
//! distribution, an optional cold start, and the faults the control API can inject (killed, added
//! latency, error rate). It lives in-process, so a pod costs no socket and a zero-service-time pod no
//! timer.
//!
//! Capacity is `concurrency / mean service time`, and it is held exactly by keeping each slot's
//! *virtual* free time: a request that was waiting for a slot starts when the previous one was due to
//! end, not when the timer happened to fire (tokio timers round up to the millisecond), so a pod of
//! concurrency 3 and 10 ms serves 300 qps, not 280.

use super::clock::{with_rng, Clock};
use super::config::PodSpec;
use super::dist::ServiceTime;
use super::fault_setting::{FaultKind, Lease, Setting};
use super::metrics::Stats;
use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use rand::Rng;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// `warm_at` of a pod that has not started booting (just started, or revived).
const COLD: u64 = u64::MAX;

/// What a pod did with a request.
#[derive(Debug)]
pub enum PodReply {
    /// It answered (its configured answer, or an injected error status).
    Answer {
        status: StatusCode,
        body: Bytes,
        content_type: HeaderValue,
        cold: bool,
    },
    /// Its queue was full: it shed the request with 503.
    Shed,
    /// It was killed before or while serving: the connection was refused or reset.
    Killed,
}

#[derive(Debug, Clone, Copy)]
struct ColdStart {
    delay_ns: u64,
    idle_ns: Option<u64>,
}

/// A pod and everything it knows; shared by all workers through an `Arc`.
#[derive(Debug)]
pub struct Pod {
    pub name: String,
    pub header: HeaderValue,
    pub function: String,
    pub version: String,
    pub stats: Stats,
    service: ServiceTime,
    concurrency: u32,
    queue: u32,
    slots_sem: Semaphore,
    /// Virtual time (ns) at which each free slot became free; one entry per free permit.
    slots: Mutex<Vec<u64>>,
    queued: AtomicU32,
    in_flight: AtomicU32,
    cold: Option<ColdStart>,
    warm_at: AtomicU64,
    last_active: AtomicU64,
    killed: AtomicBool,
    killed_at: AtomicU64,
    generation: AtomicU64,
    kill_notify: Notify,
    add_latency_us: AtomicU64,
    jitter_us: AtomicU64,
    error_ppm: AtomicU32,
    error_status: AtomicU32,
    /// The leased faults: they undo themselves unless renewed, so a drill whose driver was
    /// killed never leaves the pod dead or slow. Per fault kind, so expiry never touches a
    /// setting made by hand (no lease).
    lease: Mutex<Lease>,
    status: StatusCode,
    body: Bytes,
    content_type: HeaderValue,
    echo: bool,
}

/// A snapshot for the control API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PodState {
    pub name: String,
    pub version: String,
    /// Not killed.
    pub healthy: bool,
    /// The gateway still sends it traffic (alive, or killed less than `detect_after` ago).
    pub routed: bool,
    pub warm: bool,
    pub in_flight: u32,
    pub queued: u32,
    pub concurrency: u32,
    pub queue: u32,
    /// concurrency / mean service time; `None` for a zero service time (no limit of its own).
    pub capacity_qps: Option<f64>,
    pub added_latency: String,
    pub jitter: String,
    pub error_rate: f64,
    pub error_status: u16,
    pub served: u64,
    pub cold_starts: u64,
}

impl Pod {
    pub fn new(function: &str, version: &str, name: String, spec: &PodSpec) -> Pod {
        let service = ServiceTime::from_config(&spec.service_time).expect("validated config");
        let body = match &spec.response.body {
            Some(b) => Bytes::from(b.clone()),
            None => Bytes::from(format!(
                "{{\"function\":\"{function}\",\"version\":\"{version}\",\"pod\":\"{name}\"}}"
            )),
        };
        let cold = spec.cold_start.map(|c| ColdStart {
            delay_ns: c.delay.get().as_nanos() as u64,
            idle_ns: c.idle.map(|i| i.get().as_nanos() as u64),
        });
        Pod {
            header: HeaderValue::from_str(&name).expect("names are validated ASCII"),
            name,
            function: function.to_string(),
            version: version.to_string(),
            stats: Stats::default(),
            service,
            concurrency: spec.concurrency,
            queue: spec.queue,
            slots_sem: Semaphore::new(spec.concurrency as usize),
            slots: Mutex::new(vec![0; spec.concurrency as usize]),
            queued: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            warm_at: AtomicU64::new(if cold.is_some() { COLD } else { 0 }),
            cold,
            last_active: AtomicU64::new(0),
            killed: AtomicBool::new(false),
            killed_at: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            kill_notify: Notify::new(),
            add_latency_us: AtomicU64::new(0),
            jitter_us: AtomicU64::new(0),
            error_ppm: AtomicU32::new(0),
            error_status: AtomicU32::new(500),
            lease: Mutex::new(Lease::default()),
            status: StatusCode::from_u16(spec.response.status).expect("validated status"),
            body,
            content_type: HeaderValue::from_str(&spec.response.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            echo: spec.response.echo,
        }
    }

    /// Requests this pod holds now (queued or in service): what least-in-flight balancing compares.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Whether the gateway routes here at `now`: alive, or killed less than `detect_ns` ago (the
    /// gateway has not noticed yet, so those requests fail).
    pub fn routable(&self, now: u64, detect_ns: u64) -> bool {
        !self.killed.load(Ordering::Acquire)
            || now
                < self
                    .killed_at
                    .load(Ordering::Acquire)
                    .saturating_add(detect_ns)
    }

    /// Serves one request that arrived at the pod now.
    pub async fn call(&self, clock: &Clock, request_body: Bytes) -> PodReply {
        if self.killed.load(Ordering::Acquire) {
            return PodReply::Killed;
        }
        let generation = self.generation.load(Ordering::Acquire);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let _in_flight = Decrement(&self.in_flight);
        let mut ready = clock.now_ns();
        let mut cold = false;
        if let Some(cs) = self.cold {
            let boot = self.boot(ready, cs);
            self.last_active.fetch_max(ready, Ordering::Relaxed);
            if let Some(warm_at) = boot {
                cold = true;
                if !self.pause_until(clock, warm_at, generation).await {
                    return PodReply::Killed;
                }
                ready = warm_at;
            }
        }

        let _permit = match self.slots_sem.try_acquire() {
            Ok(p) => p,
            Err(_) => {
                if self.queued.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                    return PodReply::Shed;
                }
                let _queued = Decrement(&self.queued);
                self.slots_sem
                    .acquire()
                    .await
                    .expect("pod semaphore is never closed")
            }
        };

        let (service, error) = self.draw();
        if !service.is_zero() {
            let start = {
                let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
                let i = (0..slots.len())
                    .min_by_key(|&i| slots[i])
                    .expect("a slot per permit");
                slots.swap_remove(i).max(ready)
            };
            let end = start + service.as_nanos() as u64;
            let _slot = SlotBack { pod: self, end };
            if !self.pause_until(clock, end, generation).await {
                return PodReply::Killed;
            }
        }
        if self.killed.load(Ordering::Acquire)
            || self.generation.load(Ordering::Acquire) != generation
        {
            return PodReply::Killed;
        }
        if self.cold.is_some() {
            self.last_active
                .fetch_max(clock.now_ns(), Ordering::Relaxed);
        }
        match error {
            Some(status) => PodReply::Answer {
                status,
                body: Bytes::from_static(
                    b"{\"error\":\"injected\",\"message\":\"error injected by the control API\"}",
                ),
                content_type: HeaderValue::from_static("application/json"),
                cold,
            },
            None => PodReply::Answer {
                status: self.status,
                body: if self.echo {
                    request_body
                } else {
                    self.body.clone()
                },
                content_type: self.content_type.clone(),
                cold,
            },
        }
    }

    /// Sleeps until `ns`, or returns false at once if the pod is killed meanwhile.
    async fn pause_until(&self, clock: &Clock, ns: u64, generation: u64) -> bool {
        let killed = self.kill_notify.notified();
        tokio::pin!(killed);
        killed.as_mut().enable();
        if self.generation.load(Ordering::Acquire) != generation {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(clock.instant(ns)) => true,
            _ = killed => false,
        }
    }

    /// Starts or joins a boot when the pod is cold; returns when it will be warm.
    fn boot(&self, now: u64, cs: ColdStart) -> Option<u64> {
        loop {
            let w = self.warm_at.load(Ordering::Acquire);
            let idled = cs.idle_ns.is_some_and(|idle| {
                w != COLD
                    && w <= now
                    && now.saturating_sub(self.last_active.load(Ordering::Relaxed)) > idle
            });
            if w == COLD || idled {
                let new = now + cs.delay_ns;
                if self
                    .warm_at
                    .compare_exchange(w, new, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(new);
                }
                continue;
            }
            return (now < w).then_some(w);
        }
    }

    /// Service time (with injected latency) and whether to answer with an injected error.
    fn draw(&self) -> (Duration, Option<StatusCode>) {
        let add = self.add_latency_us.load(Ordering::Relaxed);
        let jitter = self.jitter_us.load(Ordering::Relaxed);
        let ppm = self.error_ppm.load(Ordering::Relaxed);
        if self.service.is_zero() && add == 0 && jitter == 0 && ppm == 0 {
            return (Duration::ZERO, None);
        }
        with_rng(|rng| {
            let mut d = self.service.sample(rng);
            if add > 0 || jitter > 0 {
                let j = if jitter > 0 {
                    rng.gen_range(0..=2 * jitter) as i64 - jitter as i64
                } else {
                    0
                };
                d += Duration::from_micros((add as i64 + j).max(0) as u64);
            }
            let err = (ppm > 0 && rng.gen_range(0..1_000_000) < ppm).then(|| {
                StatusCode::from_u16(self.error_status.load(Ordering::Relaxed) as u16)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            });
            (d, err)
        })
    }

    pub fn kill(&self, now: u64) {
        self.killed_at.store(now, Ordering::Release);
        self.killed.store(true, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.kill_notify.notify_waiters();
    }

    /// Brings a killed pod back; it starts cold if cold starts are configured.
    pub fn revive(&self) {
        if self.cold.is_some() {
            self.warm_at.store(COLD, Ordering::Release);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.killed.store(false, Ordering::Release);
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    pub fn set_latency(&self, add: Duration, jitter: Duration) {
        self.add_latency_us
            .store(add.as_micros() as u64, Ordering::Relaxed);
        self.jitter_us
            .store(jitter.as_micros() as u64, Ordering::Relaxed);
    }

    /// `rate` in 0..=1 of requests answer `status`.
    pub fn set_errors(&self, rate: f64, status: StatusCode) {
        self.error_status
            .store(status.as_u16() as u32, Ordering::Relaxed);
        self.error_ppm.store(
            (rate.clamp(0.0, 1.0) * 1e6).round() as u32,
            Ordering::Relaxed,
        );
    }

    /// What `kind` is set to now: what a lease restores when it lapses.
    pub fn setting(&self, kind: FaultKind) -> Setting {
        match kind {
            FaultKind::Kill => Setting::Killed(self.is_killed()),
            FaultKind::Latency => Setting::Latency {
                add_us: self.add_latency_us.load(Ordering::Acquire),
                jitter_us: self.jitter_us.load(Ordering::Acquire),
            },
            FaultKind::Errors => Setting::Errors {
                ppm: self.error_ppm.load(Ordering::Acquire),
                status: self.error_status.load(Ordering::Acquire),
            },
        }
    }

    fn restore(&self, s: Setting) {
        match s {
            Setting::Killed(killed) => {
                if !killed && self.is_killed() {
                    self.revive();
                }
            }
            Setting::Latency { add_us, jitter_us } => {
                self.add_latency_us.store(add_us, Ordering::Relaxed);
                self.jitter_us.store(jitter_us, Ordering::Relaxed);
            }
            Setting::Errors { ppm, status } => {
                self.error_status.store(status, Ordering::Relaxed);
                self.error_ppm.store(ppm, Ordering::Relaxed);
            }
        }
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, Lease> {
        self.lease.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts `kind` under the lease, starting or extending it to `now + ns`. `before` is what the
    /// kind was set to before this call (taken by the caller before applying): a lapse restores
    /// it. A kind already leased keeps its first `before`, so a second leased call cannot make
    /// the lease restore the fault itself.
    pub fn lease(&self, kind: FaultKind, before: Setting, now: u64, ns: u64) {
        let mut l = self.leases();
        l.until_ns = now.saturating_add(ns).max(1);
        if !l.before.iter().any(|b| b.kind() == kind) {
            l.before.push(before);
        }
    }

    /// A call without a lease set or cleared `kind` (by hand, or the driver removing its fault):
    /// it is no longer the lease's to undo. The lease ends with its last kind.
    pub fn unlease(&self, kind: FaultKind) {
        let mut l = self.leases();
        l.before.retain(|b| b.kind() != kind);
        if l.before.is_empty() {
            l.until_ns = 0;
        }
    }

    /// Extends a running lease only (a renewal after expiry must not bring a lease back).
    pub fn renew(&self, now: u64, ns: u64) -> bool {
        let mut l = self.leases();
        if l.until_ns == 0 {
            return false;
        }
        l.until_ns = now.saturating_add(ns).max(1);
        true
    }

    /// When the lease lapsed before `now`, puts each leased kind back as it was before the lease
    /// and returns those kinds; settings made without a lease stay as they are.
    pub fn expire(&self, now: u64) -> Vec<FaultKind> {
        let before = {
            let mut l = self.leases();
            if l.until_ns == 0 || l.until_ns > now {
                return Vec::new();
            }
            l.until_ns = 0;
            std::mem::take(&mut l.before)
        };
        for b in &before {
            self.restore(*b);
        }
        before.iter().map(Setting::kind).collect()
    }

    /// Clears injected faults, revives the pod if it was killed, and ends its lease.
    pub fn reset(&self) {
        self.set_latency(Duration::ZERO, Duration::ZERO);
        self.set_errors(0.0, StatusCode::INTERNAL_SERVER_ERROR);
        if self.is_killed() {
            self.revive();
        }
        *self.leases() = Lease::default();
    }

    pub fn capacity_qps(&self) -> f64 {
        let mean = self.service.mean().as_secs_f64();
        if mean > 0.0 {
            self.concurrency as f64 / mean
        } else {
            f64::INFINITY
        }
    }

    pub fn state(&self, now: u64, detect_ns: u64) -> PodState {
        let w = self.warm_at.load(Ordering::Acquire);
        let cap = self.capacity_qps();
        PodState {
            name: self.name.clone(),
            version: self.version.clone(),
            healthy: !self.is_killed(),
            routed: self.routable(now, detect_ns),
            warm: w != COLD && w <= now,
            in_flight: self.in_flight(),
            queued: self.queued.load(Ordering::Relaxed),
            concurrency: self.concurrency,
            queue: self.queue,
            capacity_qps: cap.is_finite().then(|| (cap * 10.0).round() / 10.0),
            added_latency: crate::units::format_us(self.add_latency_us.load(Ordering::Relaxed)),
            jitter: crate::units::format_us(self.jitter_us.load(Ordering::Relaxed)),
            error_rate: self.error_ppm.load(Ordering::Relaxed) as f64 / 1e6,
            error_status: self.error_status.load(Ordering::Relaxed) as u16,
            served: self.stats.total(),
            cold_starts: self.stats.cold(),
        }
    }
}

/// Decrements a counter when a request leaves (also when its future is dropped by a timeout).
struct Decrement<'a>(&'a AtomicU32);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Gives a slot back with the virtual time its request was due to end, even when the gateway gave
/// up on the request: the pod keeps working on it, as a real one would.
struct SlotBack<'a> {
    pod: &'a Pod,
    end: u64,
}

impl Drop for SlotBack<'_> {
    fn drop(&mut self) {
        self.pod
            .slots
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::config::{ColdStartConfig, ServiceTimeConfig};
    use crate::units::HumanDuration;

    fn spec(conc: u32, queue: u32, ms: u64) -> PodSpec {
        PodSpec {
            concurrency: conc,
            queue,
            service_time: ServiceTimeConfig {
                mean: HumanDuration::from_millis(ms),
                ..Default::default()
            },
            ..PodSpec::default()
        }
    }

    #[tokio::test]
    async fn sheds_past_the_queue_and_serves_at_capacity() {
        let clock = Clock::new();
        let pod = std::sync::Arc::new(Pod::new("f", "v1", "f-1".into(), &spec(2, 3, 10)));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (p, c) = (pod.clone(), clock);
            tasks.push(tokio::spawn(async move { p.call(&c, Bytes::new()).await }));
        }
        let mut ok = 0;
        let mut shed = 0;
        for t in tasks {
            match t.await.unwrap() {
                PodReply::Answer { .. } => ok += 1,
                PodReply::Shed => shed += 1,
                PodReply::Killed => panic!("not killed"),
            }
        }
        assert_eq!((ok, shed), (5, 3));
        // 2 slots × 10 ms: five requests take three rounds.
        let took = clock.now_ns() / 1_000_000;
        assert!((30..300).contains(&took), "{took} ms");
        assert_eq!(pod.capacity_qps(), 200.0);
    }

    #[tokio::test]
    async fn cold_start_delays_the_first_requests_and_revive_chills() {
        let clock = Clock::new();
        let mut s = spec(4, 4, 0);
        s.cold_start = Some(ColdStartConfig {
            delay: HumanDuration::from_millis(50),
            idle: None,
        });
        let pod = Pod::new("f", "v1", "f-1".into(), &s);
        let cold = |r: PodReply| matches!(r, PodReply::Answer { cold: true, .. });
        assert!(cold(pod.call(&clock, Bytes::new()).await));
        assert!(clock.now_ns() >= 50_000_000);
        assert!(!cold(pod.call(&clock, Bytes::new()).await));
        pod.kill(clock.now_ns());
        assert!(matches!(
            pod.call(&clock, Bytes::new()).await,
            PodReply::Killed
        ));
        pod.revive();
        assert!(cold(pod.call(&clock, Bytes::new()).await));
    }

    #[tokio::test]
    async fn an_idle_pod_goes_cold_again() {
        let clock = Clock::new();
        let mut s = spec(4, 4, 0);
        s.cold_start = Some(ColdStartConfig {
            delay: HumanDuration::from_millis(5),
            idle: Some(HumanDuration::from_millis(40)),
        });
        let pod = Pod::new("f", "v1", "f-1".into(), &s);
        let cold = |r: PodReply| matches!(r, PodReply::Answer { cold: true, .. });
        assert!(cold(pod.call(&clock, Bytes::new()).await));
        assert!(!cold(pod.call(&clock, Bytes::new()).await));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(cold(pod.call(&clock, Bytes::new()).await));
        assert!(!cold(pod.call(&clock, Bytes::new()).await));
    }

    #[tokio::test]
    async fn injected_errors_and_echo() {
        let clock = Clock::new();
        let mut s = spec(1, 0, 0);
        s.response.echo = true;
        let pod = Pod::new("f", "v1", "f-1".into(), &s);
        match pod.call(&clock, Bytes::from_static(b"hi")).await {
            PodReply::Answer { body, status, .. } => {
                assert_eq!((status.as_u16(), &body[..]), (200, &b"hi"[..]))
            }
            other => panic!("{other:?}"),
        }
        pod.set_errors(1.0, StatusCode::BAD_GATEWAY);
        assert!(
            matches!(pod.call(&clock, Bytes::new()).await, PodReply::Answer { status, .. } if status == 502)
        );
        pod.reset();
        assert!(
            matches!(pod.call(&clock, Bytes::new()).await, PodReply::Answer { status, .. } if status == 200)
        );
    }

    /// The lapse of a lease used to `reset()` the whole pod, undoing settings made by hand.
    #[test]
    fn a_lapsed_lease_puts_back_only_the_kinds_it_leased() {
        let pod = Pod::new("f", "v1", "f-1".into(), &spec(1, 0, 0));
        // By hand: an error rate.
        pod.set_errors(0.1, StatusCode::BAD_GATEWAY);
        pod.unlease(FaultKind::Errors);
        // Leased: latency, and a kill.
        let before = pod.setting(FaultKind::Latency);
        pod.set_latency(Duration::from_millis(50), Duration::ZERO);
        pod.lease(FaultKind::Latency, before, 0, 1_000);
        let before = pod.setting(FaultKind::Kill);
        pod.kill(0);
        pod.lease(FaultKind::Kill, before, 0, 1_000);
        assert!(pod.expire(999).is_empty(), "not lapsed yet");
        assert_eq!(pod.expire(1_000), vec![FaultKind::Latency, FaultKind::Kill]);
        assert!(!pod.is_killed());
        assert_eq!(pod.setting(FaultKind::Latency), Setting::Latency { add_us: 0, jitter_us: 0 });
        assert_eq!(pod.setting(FaultKind::Errors), Setting::Errors { ppm: 100_000, status: 502 });
        assert!(!pod.renew(2_000, 1_000), "a lapsed lease is not renewed");
    }

    /// A leased call over a hand-set value puts the hand-set value back; a second leased call of
    /// the same kind does not make the lease restore the fault itself; a change by hand while
    /// leased takes the kind out of the lease.
    #[test]
    fn a_lease_restores_what_was_there_before_it() {
        let pod = Pod::new("f", "v1", "f-1".into(), &spec(1, 0, 0));
        pod.set_errors(0.1, StatusCode::BAD_GATEWAY);
        for rate in [0.5, 0.7] {
            let before = pod.setting(FaultKind::Errors);
            pod.set_errors(rate, StatusCode::SERVICE_UNAVAILABLE);
            pod.lease(FaultKind::Errors, before, 0, 1_000);
        }
        assert_eq!(pod.expire(5_000), vec![FaultKind::Errors]);
        assert_eq!(pod.setting(FaultKind::Errors), Setting::Errors { ppm: 100_000, status: 502 });

        let before = pod.setting(FaultKind::Latency);
        pod.set_latency(Duration::from_millis(50), Duration::ZERO);
        pod.lease(FaultKind::Latency, before, 0, 1_000);
        pod.set_latency(Duration::from_millis(9), Duration::ZERO);
        pod.unlease(FaultKind::Latency);
        assert!(pod.expire(5_000).is_empty());
        assert_eq!(pod.setting(FaultKind::Latency), Setting::Latency { add_us: 9_000, jitter_us: 0 });
    }
}
