//! One request through the gateway: route, authenticate, rate-limit, pick a version and a pod, call
//! it (with the timeout), and turn a failure into the fallback answer or a 503. Every answer names
//! the pod that served it in `x-pod`, and is counted once in the metrics.

use super::balance::pick_pod;
use super::metrics::{Outcome, Stats};
use super::pod::{Pod, PodReply};
use super::state::{Function, Gateway, Version};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

pub type Resp = Response<Full<Bytes>>;

pub const X_POD: HeaderName = HeaderName::from_static("x-pod");
pub const X_FN_VERSION: HeaderName = HeaderName::from_static("x-fn-version");
pub const X_COLD_START: HeaderName = HeaderName::from_static("x-cold-start");
pub const X_FALLBACK: HeaderName = HeaderName::from_static("x-fallback");
pub const X_GATEWAY_ERROR: HeaderName = HeaderName::from_static("x-gateway-error");
pub const X_FAILED_POD: HeaderName = HeaderName::from_static("x-failed-pod");
/// `x-pod` of answers no pod gave (401, 429, 404, fallback, shed 503): the gateway's own.
const NONE: HeaderValue = HeaderValue::from_static("gateway");
const ONE: HeaderValue = HeaderValue::from_static("1");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The service: every request on every connection comes through here.
/// `local`: the address the connection arrived at (the control API judges Host by it).
pub async fn handle(gw: Arc<Gateway>, local: Option<std::net::SocketAddr>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/fn/") {
        let name = rest.split('/').next().unwrap_or("");
        if let Some(f) = gw.function(name) {
            let f = f.clone();
            return Ok(invoke(&gw, &f, req).await);
        }
        return Ok(not_found(&gw, "no such function"));
    }
    if path == "/metrics" && gw.metrics {
        let mut text = String::with_capacity(16 * 1024);
        let accept = req.headers().get(hyper::header::ACCEPT).and_then(|v| v.to_str().ok());
        let format = crate::metrics::expo::Format::from_accept(accept);
        super::metrics::render(
            &gw.series(),
            gw.not_found.load(std::sync::atomic::Ordering::Relaxed),
            format,
            &mut text,
        );
        let mut r = Response::new(Full::new(Bytes::from(text)));
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
        r.headers_mut().insert(X_POD, NONE);
        return Ok(r);
    }
    if path.starts_with("/_control/") && gw.control {
        return Ok(super::control::handle(&gw, local, req).await);
    }
    if path == "/healthz" {
        return Ok(json(
            StatusCode::OK,
            Bytes::from_static(b"{\"status\":\"ok\"}"),
        ));
    }
    Ok(not_found(&gw, "no such path; functions are at /fn/<name>"))
}

/// Why no pod answer reached the client.
#[derive(Clone, Copy)]
enum Failure {
    PodError,
    Shed,
    Timeout,
    Unavailable,
}

impl Failure {
    fn outcome(self) -> Outcome {
        match self {
            Failure::PodError => Outcome::Error,
            Failure::Shed => Outcome::Shed,
            Failure::Timeout => Outcome::Timeout,
            Failure::Unavailable => Outcome::Unavailable,
        }
    }
}

async fn invoke(gw: &Gateway, f: &Function, req: Request<Incoming>) -> Resp {
    let t0 = Instant::now();
    // Only the access log needs these after the body is taken.
    let log_meta = gw
        .access_log
        .as_ref()
        .map(|_| (req.method().to_string(), req.uri().path().to_string(), super::accesslog::trace_id_of(req.headers())));
    let finish =
        |resp: Resp, outcome: Outcome, stats: &Stats, version: &str, pod: &str, cold: bool| {
            stats.record(outcome, t0.elapsed(), cold);
            if let (Some(log), Some((method, path, trace_id))) = (&gw.access_log, &log_meta) {
                log.log(&super::accesslog::Entry {
                    method,
                    path,
                    status: resp.status().as_u16(),
                    function: &f.name,
                    version,
                    pod,
                    outcome: outcome.as_str(),
                    cold,
                    fallback: outcome == Outcome::Fallback,
                    duration_us: t0.elapsed().as_micros() as u64,
                    trace_id: *trace_id,
                });
            }
            resp
        };

    if !f.authorized(req.headers().get(AUTHORIZATION)) {
        let mut r = json(
            StatusCode::UNAUTHORIZED,
            Bytes::from_static(b"{\"error\":\"unauthorized\",\"message\":\"send Authorization: Bearer <token> with a configured token\"}"),
        );
        r.headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return finish(r, Outcome::Unauthorized, &f.none_stats, "", "gateway", false);
    }
    if let Some(limiter) = &f.limiter {
        if let Err(limited) = limiter.try_acquire(gw.clock.now_ns()) {
            let mut r = json(
                StatusCode::TOO_MANY_REQUESTS,
                Bytes::from_static(b"{\"error\":\"rate_limited\",\"message\":\"this function's rate limit is exceeded\"}"),
            );
            r.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(limited.retry_after_secs()));
            return finish(r, Outcome::Limited, &f.none_stats, "", "gateway", false);
        }
    }
    let body = match Limited::new(req.into_body(), gw.max_body).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            let r = json(
                StatusCode::PAYLOAD_TOO_LARGE,
                Bytes::from_static(b"{\"error\":\"body_too_large\",\"message\":\"the request body is larger than max_body_bytes, or was cut off\"}"),
            );
            return finish(r, Outcome::Error, &f.none_stats, "", "gateway", false);
        }
    };

    let version = f.pick_version();
    let Some(pod) = pick_pod(
        &version.pods,
        f.balance,
        &version.cursor,
        gw.clock.now_ns(),
        f.detect_ns,
    ) else {
        let r = failed(f, version, None, Failure::Unavailable);
        let outcome = if f.fallback.is_some() {
            Outcome::Fallback
        } else {
            Outcome::Unavailable
        };
        return finish(r, outcome, &f.none_stats, &version.name, "gateway", false);
    };
    let call = pod.call(&gw.clock, body);
    let reply = match f.timeout {
        None => Some(call.await),
        Some(t) => tokio::time::timeout(t, call).await.ok(),
    };
    let (failure, cold) = match reply {
        Some(PodReply::Answer {
            status,
            body,
            content_type,
            cold,
        }) if status.as_u16() < 500 => {
            let mut r = Response::new(Full::new(body));
            *r.status_mut() = status;
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, content_type);
            h.insert(X_POD, pod.header.clone());
            h.insert(X_FN_VERSION, version.header.clone());
            if cold {
                h.insert(X_COLD_START, ONE);
            }
            return finish(r, Outcome::Ok, &pod.stats, &version.name, &pod.name, cold);
        }
        Some(PodReply::Answer {
            status,
            body,
            content_type,
            cold,
        }) => {
            if f.fallback.is_none() {
                // No fallback: the pod's own error goes through, as a plain proxy would pass it.
                let mut r = Response::new(Full::new(body));
                *r.status_mut() = status;
                let h = r.headers_mut();
                h.insert(CONTENT_TYPE, content_type);
                h.insert(X_POD, pod.header.clone());
                h.insert(X_FN_VERSION, version.header.clone());
                h.insert(X_GATEWAY_ERROR, HeaderValue::from_static("error"));
                if cold {
                    h.insert(X_COLD_START, ONE);
                }
                return finish(
                    r,
                    Outcome::Error,
                    &pod.stats,
                    &version.name,
                    &pod.name,
                    cold,
                );
            }
            (Failure::PodError, cold)
        }
        Some(PodReply::Shed) => (Failure::Shed, false),
        Some(PodReply::Killed) => (Failure::Unavailable, false),
        None => (Failure::Timeout, false),
    };
    let r = failed(f, version, Some(pod), failure);
    let outcome = if f.fallback.is_some() {
        Outcome::Fallback
    } else {
        failure.outcome()
    };
    finish(r, outcome, &pod.stats, &version.name, &pod.name, cold)
}

/// The fallback answer if the function has one, else 503; `x-gateway-error` says why either way.
fn failed(f: &Function, version: &Version, pod: Option<&Pod>, why: Failure) -> Resp {
    let reason = match why {
        Failure::PodError => "error",
        Failure::Shed => "shed",
        Failure::Timeout => "timeout",
        Failure::Unavailable => "unavailable",
    };
    let mut r = match &f.fallback {
        Some(fb) => {
            let mut r = Response::new(Full::new(fb.body.clone()));
            *r.status_mut() = fb.status;
            r.headers_mut().insert(CONTENT_TYPE, fb.content_type.clone());
            r.headers_mut().insert(X_FALLBACK, ONE);
            r
        }
        None => json(
            StatusCode::SERVICE_UNAVAILABLE,
            Bytes::from(format!(
                "{{\"error\":\"{reason}\",\"message\":\"function `{}` could not be served and has no fallback\"}}",
                f.name
            )),
        ),
    };
    let h = r.headers_mut();
    h.insert(X_POD, NONE);
    h.insert(X_FN_VERSION, version.header.clone());
    h.insert(X_GATEWAY_ERROR, HeaderValue::from_static(reason));
    if let Some(p) = pod {
        h.insert(X_FAILED_POD, p.header.clone());
    }
    r
}

fn not_found(gw: &Gateway, message: &str) -> Resp {
    gw.not_found
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    json(
        StatusCode::NOT_FOUND,
        Bytes::from(format!(
            "{{\"error\":\"not_found\",\"message\":\"{message}\"}}"
        )),
    )
}

/// A JSON answer with `x-pod: gateway` (no pod gave it).
pub fn json(status: StatusCode, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r.headers_mut().insert(X_POD, NONE);
    r
}
