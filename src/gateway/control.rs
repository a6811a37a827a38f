//! The control API under `/_control/`: JSON over HTTP on the gateway's own listener, for fault drills
//! to kill and revive pods, slow them down, make them fail, and move canary weight. Protected by a
//! bearer token when `control_token` is set. Every change answers with the new state of what it
//! touched, so a driver can log exactly what it did.

use super::handler::{json, Resp};
use super::fault_setting::{FaultKind, Setting};
use super::pod::Pod;
use super::state::{Function, Gateway};
use crate::fault::lease::{lease_wanted, parse_lease};
use crate::scenario::secrets::constant_time_eq;
use crate::units::HumanDuration;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    add: HumanDuration,
    #[serde(default)]
    jitter: HumanDuration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorsBody {
    rate: f64,
    #[serde(default = "default_status")]
    status: u16,
}

fn default_status() -> u16 {
    500
}

pub async fn handle(gw: &Gateway, local: Option<std::net::SocketAddr>, req: Request<Incoming>) -> Resp {
    // DNS rebinding: see `host_allowed`. Only /_control/ is judged; functions answer any Host.
    if !crate::fault::proxy::api::host_allowed(crate::fault::proxy::api::host_of(&req), local) {
        return error(StatusCode::FORBIDDEN, &crate::fault::proxy::api::host_refusal(&req, local));
    }
    if !cross_site_safe(req.method(), req.headers()) {
        return error(
            StatusCode::FORBIDDEN,
            "changes need Content-Type: application/json or an Authorization header (so a web page cannot send them)",
        );
    }
    if let Some(want) = &gw.control_auth {
        let ok = req.headers().get(AUTHORIZATION).is_some_and(|h| constant_time_eq(h.as_bytes(), want));
        if !ok {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer <control_token>",
            );
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    // A lease the run asked for but that is out of range must not turn into a fault that never
    // lapses: refuse it rather than apply the fault unleased.
    let lease_ns = match parse_lease(req.headers()) {
        Ok(l) => l.map(|d| d.as_nanos() as u64),
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let method = req.method().clone();
    let path = req
        .uri()
        .path()
        .trim_start_matches("/_control/")
        .trim_end_matches('/')
        .to_string();
    let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "control bodies are small JSON objects",
            )
        }
    };
    let parts: Vec<&str> = path.split('/').collect();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["functions"]) => ok(json!({ "functions": gw.functions.iter().map(|f| function_state(gw, f)).collect::<Vec<_>>() })),
        (&Method::GET, ["functions", name]) => match gw.function(name) {
            Some(f) => ok(function_state(gw, f)),
            None => no_function(name),
        },
        (&Method::GET, ["pods"]) => ok(json!({ "pods": gw.functions.iter().flat_map(|f| f.pods().map(|p| pod_state(gw, f, p))).collect::<Vec<_>>() })),
        (&Method::GET, ["functions", name, "weights"]) => match gw.function(name) {
            Some(f) => ok(weights_json(f)),
            None => no_function(name),
        },
        (&Method::PUT, ["functions", name, "weights"]) => {
            let Some(f) = gw.function(name) else { return no_function(name) };
            let new: HashMap<String, u32> = match parse(&body) {
                Ok(v) => v,
                Err(m) => return error(StatusCode::BAD_REQUEST, &m),
            };
            match f.set_weights(&new) {
                Ok(()) => ok(weights_json(f)),
                Err(m) => error(StatusCode::BAD_REQUEST, &m),
            }
        }
        (_, ["pods", name, action]) => match gw.pod(name) {
            Some(p) => pod_action(gw, &method, action, &body, std::slice::from_ref(p), lease_ns),
            None => error(StatusCode::NOT_FOUND, &format!("no pod `{name}`; GET /_control/pods lists them")),
        },
        (&Method::GET, ["pods", name]) => match gw.pod(name) {
            Some(p) => {
                let f = gw.function(&p.function).expect("a pod's function exists");
                ok(pod_state(gw, f, p))
            }
            None => error(StatusCode::NOT_FOUND, &format!("no pod `{name}`; GET /_control/pods lists them")),
        },
        (_, ["functions", name, action]) => match gw.function(name) {
            Some(f) => {
                let pods: Vec<Arc<Pod>> = f.pods().cloned().collect();
                pod_action(gw, &method, action, &body, &pods, lease_ns)
            }
            None => no_function(name),
        },
        (&Method::POST, ["reset"]) => {
            for f in &gw.functions {
                f.reset_weights();
                f.pods().for_each(|p| p.reset());
            }
            ok(json!({ "reset": true }))
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "unknown control endpoint; see docs/gateway.md, 'Control API' (GET /_control/functions lists functions and pods)",
        ),
    }
}

/// kill / revive / latency / errors on one pod or all pods of a function.
fn pod_action(
    gw: &Gateway,
    method: &Method,
    action: &str,
    body: &Bytes,
    pods: &[Arc<Pod>],
    lease_ns: Option<u64>,
) -> Resp {
    let now = gw.clock.now_ns();
    let kind = FaultKind::of_action(action);
    // What a leased call overwrites, so its lapse can put back a setting made by hand.
    let before: Vec<Option<Setting>> = pods.iter().map(|p| kind.map(|k| p.setting(k))).collect();
    match (method, action) {
        (&Method::POST, "lease") => {
            let Some(ns) = lease_ns else {
                return error(StatusCode::BAD_REQUEST, &lease_wanted());
            };
            if !pods.iter().fold(false, |any, p| p.renew(now, ns) | any) {
                return error(StatusCode::NOT_FOUND, "no leased fault here: it lapsed and was undone, or was never leased");
            }
        }
        (&Method::POST, "kill") => pods.iter().for_each(|p| p.kill(now)),
        (&Method::POST, "revive") => pods
            .iter()
            .filter(|p| p.is_killed())
            .for_each(|p| p.revive()),
        (&Method::POST, "latency") => {
            let b: LatencyBody = match parse(body) {
                Ok(b) => b,
                Err(m) => return error(StatusCode::BAD_REQUEST, &m),
            };
            // Bounded like a scenario's fault latency: far beyond a day it is a unit mistake, and
            // the pods' arithmetic on it (add ± jitter, in µs) would overflow.
            for (field, d) in [("add", b.add.get()), ("jitter", b.jitter.get())] {
                if let Err(m) = crate::scenario::bounds::fault_time(d) {
                    return error(StatusCode::BAD_REQUEST, &format!("`{field}`: {m} (allowed: 0 to 24h)"));
                }
            }
            pods.iter()
                .for_each(|p| p.set_latency(b.add.get(), b.jitter.get()));
        }
        (&Method::DELETE, "latency") => pods
            .iter()
            .for_each(|p| p.set_latency(Default::default(), Default::default())),
        (&Method::POST, "errors") => {
            let b: ErrorsBody = match parse(body) {
                Ok(b) => b,
                Err(m) => return error(StatusCode::BAD_REQUEST, &m),
            };
            if !(0.0..=1.0).contains(&b.rate) {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("`rate`: {} is not allowed: a fraction from 0 to 1", b.rate),
                );
            }
            let Some(status) = StatusCode::from_u16(b.status)
                .ok()
                .filter(|s| (400..=599).contains(&s.as_u16()))
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("`status`: {} is not allowed: an HTTP error status (400-599)", b.status),
                );
            };
            pods.iter().for_each(|p| p.set_errors(b.rate, status));
        }
        (&Method::DELETE, "errors") => pods
            .iter()
            .for_each(|p| p.set_errors(0.0, StatusCode::INTERNAL_SERVER_ERROR)),
        _ => {
            return error(
                StatusCode::NOT_FOUND,
                "pod actions: POST kill, POST revive, POST/DELETE latency, POST/DELETE errors, POST lease",
            )
        }
    }
    // A leased call puts its kind under the lease; any other change of a kind (by hand, or the
    // run removing its fault) takes the kind out of it, so a lapse never undoes it.
    match (method, action, lease_ns, kind) {
        (&Method::POST, "kill" | "latency" | "errors", Some(ns), Some(k)) => {
            for (p, b) in pods.iter().zip(before) {
                p.lease(k, b.unwrap_or(p.setting(k)), now, ns);
            }
        }
        (&Method::POST | &Method::DELETE, _, _, Some(k)) => pods.iter().for_each(|p| p.unlease(k)),
        _ => {}
    }
    let states: Vec<Value> = pods
        .iter()
        .map(|p| {
            pod_state(
                gw,
                gw.function(&p.function).expect("a pod's function exists"),
                p,
            )
        })
        .collect();
    ok(json!({ "pods": states }))
}

/// Whether a request cannot be a browser's "simple" cross-site request: reads are harmless (the
/// answer is not readable cross-site), and a change must carry a header a page cannot send
/// without a CORS preflight, which this API never grants.
fn cross_site_safe(method: &Method, h: &hyper::HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD) {
        return true;
    }
    let json = h
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    json || h.contains_key(AUTHORIZATION) || h.contains_key(crate::fault::http::LEASE_HEADER)
}

/// Undoes the faults of every pod whose lease lapsed; run every fraction of a second.
pub fn expire_leases(gw: &Gateway) {
    let now = gw.clock.now_ns();
    for f in &gw.functions {
        for p in f.pods() {
            let undone = p.expire(now);
            if !undone.is_empty() {
                let kinds = undone.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ");
                tracing::warn!(
                    "pod `{}`: faults undone ({kinds}, put back as before the lease), their lease lapsed (the run that applied them stopped renewing it)",
                    p.name
                );
            }
        }
    }
}

fn function_state(gw: &Gateway, f: &Function) -> Value {
    json!({
        "name": f.name,
        "path": format!("/fn/{}", f.name),
        "weights": weights_json(f)["weights"],
        "auth": f.auth.is_some(),
        "rate_limit": f.limiter.is_some(),
        "timeout": f.timeout.map(|t| HumanDuration(t).to_string()),
        "fallback": f.fallback.is_some(),
        "balance": f.balance,
        "pods": f.pods().map(|p| pod_state(gw, f, p)).collect::<Vec<_>>(),
    })
}

fn pod_state(gw: &Gateway, f: &Function, p: &Pod) -> Value {
    serde_json::to_value(p.state(gw.clock.now_ns(), f.detect_ns)).unwrap_or(Value::Null)
}

fn weights_json(f: &Function) -> Value {
    let w: serde_json::Map<String, Value> = f
        .weights()
        .into_iter()
        .map(|(k, v)| (k, Value::from(v)))
        .collect();
    json!({ "function": f.name, "weights": w })
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad JSON body: {e}"))
}

fn ok(v: Value) -> Resp {
    json(StatusCode::OK, Bytes::from(v.to_string()))
}

fn error(status: StatusCode, message: &str) -> Resp {
    json(
        status,
        Bytes::from(
            json!({ "error": status.canonical_reason().unwrap_or("error"), "message": message })
                .to_string(),
        ),
    )
}

fn no_function(name: &str) -> Resp {
    error(
        StatusCode::NOT_FOUND,
        &format!("no function `{name}`; GET /_control/functions lists them"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_cross_site_requests_are_refused() {
        let mut h = hyper::HeaderMap::new();
        assert!(cross_site_safe(&Method::GET, &h));
        assert!(!cross_site_safe(&Method::POST, &h));
        h.insert(hyper::header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert!(!cross_site_safe(&Method::POST, &h));
        h.insert(hyper::header::CONTENT_TYPE, "Application/JSON; charset=utf-8".parse().unwrap());
        assert!(cross_site_safe(&Method::POST, &h));
        let mut h = hyper::HeaderMap::new();
        h.insert(AUTHORIZATION, "Bearer x".parse().unwrap());
        assert!(cross_site_safe(&Method::DELETE, &h));
    }
}
