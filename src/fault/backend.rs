//! Applying and removing one fault through its backend: the gateway's control API, a Toxiproxy-API
//! proxy, or a pair of shell commands. Each returns a plain error string: a fault that could not be
//! applied or removed is reported as such and fails the run, whatever the backend.

use super::http::call;
use crate::scenario::{FaultAction, GatewayFault, GatewayScope, ToxicSpec};
use http::Method;
use std::time::Duration;

/// Control calls should answer at once; anything slower is a problem worth reporting.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// How to reach backends whose address is only known at run time.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Base URL of the embedded gateway (for `ControlEndpoint::Embedded`).
    pub embedded: Option<String>,
    /// Bearer token for the gateway's control API.
    pub control_token: Option<String>,
}

/// What happened when a step ran: an error, and for commands their output.
#[derive(Debug, Default)]
pub struct StepResult {
    pub error: Option<String>,
    pub output: Option<String>,
}

impl StepResult {
    fn err(e: impl ToString) -> StepResult {
        StepResult { error: Some(e.to_string()), output: None }
    }
}

fn gateway_path(scope: &GatewayScope, action: &str) -> String {
    match scope {
        GatewayScope::Pod(p) => format!("/_control/pods/{p}/{action}"),
        GatewayScope::Function(f) => format!("/_control/functions/{f}/{action}"),
    }
}

async fn control(base: &str, method: Method, path: &str, body: Option<serde_json::Value>, token: Option<&str>) -> StepResult {
    match call(base, method.clone(), path, body.as_ref(), token, CONTROL_TIMEOUT).await {
        Ok((s, _)) if (200..300).contains(&s) => StepResult::default(),
        Ok((s, text)) => StepResult::err(format!("{method} {path} answered {s}: {}", text.trim())),
        Err(e) => StepResult::err(e),
    }
}

/// The toxic's name on the proxy: the fault's name, so several faults on one proxy never collide.
fn toxic_body(name: &str, t: &ToxicSpec) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "type": t.kind,
        "stream": t.stream,
        "toxicity": t.toxicity,
        "attributes": t.attributes,
    })
}

pub async fn apply(name: &str, action: &FaultAction, ep: &Endpoints) -> StepResult {
    match action {
        FaultAction::Gateway { control: c, scope, fault } => {
            let Some(base) = control_base(c, ep) else {
                return StepResult::err("the embedded gateway's address is unknown");
            };
            let token = ep.control_token.as_deref();
            match fault {
                GatewayFault::Kill => control(&base, Method::POST, &gateway_path(scope, "kill"), None, token).await,
                GatewayFault::Latency { add, jitter } => {
                    let body = serde_json::json!({"add": format!("{}ms", add.as_millis()), "jitter": format!("{}ms", jitter.as_millis())});
                    control(&base, Method::POST, &gateway_path(scope, "latency"), Some(body), token).await
                }
                GatewayFault::Errors { rate, status } => {
                    let body = serde_json::json!({"rate": rate, "status": status});
                    control(&base, Method::POST, &gateway_path(scope, "errors"), Some(body), token).await
                }
            }
        }
        FaultAction::Toxic { api, proxy, toxic } => {
            match call(api, Method::POST, &format!("/proxies/{proxy}/toxics"), Some(&toxic_body(name, toxic)), None, CONTROL_TIMEOUT).await {
                Ok((200, _)) => StepResult::default(),
                Ok((s, text)) => StepResult::err(format!("adding toxic to proxy `{proxy}` at {api} answered {s}: {}", text.trim())),
                Err(e) => StepResult::err(e),
            }
        }
        FaultAction::Exec { start, timeout, .. } => super::exec::run(start, *timeout).await,
    }
}

pub async fn remove(name: &str, action: &FaultAction, ep: &Endpoints) -> StepResult {
    match action {
        FaultAction::Gateway { control: c, scope, fault } => {
            let Some(base) = control_base(c, ep) else {
                return StepResult::err("the embedded gateway's address is unknown");
            };
            let token = ep.control_token.as_deref();
            match fault {
                GatewayFault::Kill => control(&base, Method::POST, &gateway_path(scope, "revive"), None, token).await,
                GatewayFault::Latency { .. } => control(&base, Method::DELETE, &gateway_path(scope, "latency"), None, token).await,
                GatewayFault::Errors { .. } => control(&base, Method::DELETE, &gateway_path(scope, "errors"), None, token).await,
            }
        }
        FaultAction::Toxic { api, proxy, .. } => {
            match call(api, Method::DELETE, &format!("/proxies/{proxy}/toxics/{name}"), None, None, CONTROL_TIMEOUT).await {
                Ok((204, _)) => StepResult::default(),
                Ok((s, text)) => StepResult::err(format!("removing toxic `{name}` from proxy `{proxy}` answered {s}: {}", text.trim())),
                Err(e) => StepResult::err(e),
            }
        }
        FaultAction::Exec { stop: Some(stop), timeout, .. } => super::exec::run(stop, *timeout).await,
        FaultAction::Exec { stop: None, .. } => StepResult::default(),
    }
}

fn control_base(c: &crate::scenario::ControlEndpoint, ep: &Endpoints) -> Option<String> {
    match c {
        crate::scenario::ControlEndpoint::Embedded => ep.embedded.clone(),
        crate::scenario::ControlEndpoint::Url(u) => Some(u.clone()),
    }
}
