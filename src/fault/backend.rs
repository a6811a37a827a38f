//! Applying and removing one fault through its backend: the gateway's control API, a Toxiproxy-API
//! proxy, or a pair of shell commands. Each returns a plain error string: a fault that could not be
//! applied or removed is reported as such and fails the run, whatever the backend.

use super::http::call_with;
use super::toxiproxy::{Client, ClientError, Stream, Toxic};
use crate::scenario::{ControlEndpoint, FaultAction, GatewayFault, GatewayScope, ToxicSpec};
use http::Method;
use std::time::Duration;

/// Control calls should answer at once; anything slower is a problem worth reporting.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a skyload gateway or proxy keeps a fault whose run stopped renewing it (killed, OOM,
/// lost CI runner). Renewed every `RENEW_EVERY`, so two renewals may fail before it lapses.
pub const LEASE: Duration = Duration::from_secs(10);
pub const RENEW_EVERY: Duration = Duration::from_secs(3);

/// How to reach backends whose address is only known at run time.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Base URL of the embedded gateway (for `ControlEndpoint::Embedded`).
    pub embedded: Option<String>,
    /// Bearer token for the gateway's control API.
    pub control_token: Option<String>,
    /// Trust for `https://` control APIs: the run's TLS settings for its target.
    pub tls: Option<super::http::ControlTls>,
}

/// What happened when a step ran: an error, and for commands their output.
#[derive(Debug, Default)]
pub struct StepResult {
    pub error: Option<String>,
    pub output: Option<String>,
    /// The status a control API refused the call with (a clean "no": nothing was changed).
    pub status: Option<u16>,
    /// The call was sent but its answer was lost (closed connection, timeout): it may have taken
    /// effect, so the caller must treat the fault as possibly in place.
    pub unknown: bool,
    /// Applied by taking over an earlier run's leftover toxic of the same name (after a 409).
    pub took_over: bool,
    /// A finished start command's process group, which may hold processes for the fault's
    /// window: ended when the fault is removed.
    pub group: Option<super::group::Group>,
}

impl StepResult {
    fn err(e: impl ToString) -> StepResult {
        StepResult { error: Some(e.to_string()), ..StepResult::default() }
    }
}

/// Whether a failed call may still have reached the server and been carried out: the request
/// went out and no answer came back. A refused connection or a bad URL changed nothing.
fn answer_lost(e: &super::http::HttpError) -> bool {
    matches!(e, super::http::HttpError::Exchange { .. } | super::http::HttpError::Timeout { .. })
}

/// The same for the Toxiproxy client; a 5xx may come from a server that half-did the change.
fn toxi_lost(e: &ClientError) -> bool {
    match e {
        ClientError::Transport(h) => answer_lost(h),
        ClientError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

fn toxi_err(e: &ClientError, text: String) -> StepResult {
    StepResult { error: Some(text), status: e.status(), unknown: toxi_lost(e), ..StepResult::default() }
}

fn gateway_path(scope: &GatewayScope, action: &str) -> String {
    match scope {
        GatewayScope::Pod(p) => format!("/_control/pods/{p}/{action}"),
        GatewayScope::Function(f) => format!("/_control/functions/{f}/{action}"),
    }
}

async fn control(
    base: &str,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
    token: Option<&str>,
    lease: Option<Duration>,
    tls: Option<&super::http::ControlTls>,
) -> StepResult {
    match call_with(base, method.clone(), path, body.as_ref(), token, lease, tls, CONTROL_TIMEOUT).await {
        Ok((s, _)) if (200..300).contains(&s) => StepResult::default(),
        Ok((s, text)) => StepResult { status: Some(s), unknown: s >= 500, ..StepResult::err(format!("{method} {path} answered {s}: {}{}", text.trim(), token_hint(s, token.is_some()))) },
        Err(e) => StepResult { unknown: answer_lost(&e), ..StepResult::err(e) },
    }
}

/// What to do about a 401 from a control API. The gateway's own answer names the header it wants,
/// but its value is redacted in every output, so the user is told where skyload takes the token.
fn token_hint(status: u16, token_sent: bool) -> &'static str {
    match (status, token_sent) {
        // No `token:` or `TOKEN=` in these words: the redaction of every output would take what
        // follows for a credential.
        (401, false) => " (the control API wants a token, and SKYLOAD_CONTROL_TOKEN is not set; set it to the gateway's control_token)",
        (401, true) => " (the gateway refused the token in SKYLOAD_CONTROL_TOKEN; it must be the gateway's control_token)",
        _ => "",
    }
}

/// The toxic as the API takes it, named after the fault so several faults on one proxy never collide.
fn toxic_of(name: &str, t: &ToxicSpec) -> Toxic {
    Toxic {
        attributes: t.attributes.clone(),
        name: name.to_string(),
        kind: t.kind.clone(),
        stream: if t.stream == "upstream" { Stream::Upstream } else { Stream::Downstream },
        toxicity: t.toxicity as f32,
    }
}

/// `cancel`: the run is stopping; an exec start command still running is ended.
pub async fn apply(name: &str, action: &FaultAction, ep: &Endpoints, cancel: Option<tokio::sync::watch::Receiver<bool>>) -> StepResult {
    match action {
        FaultAction::Gateway { control: c, scope, fault } => {
            let (method, action, body) = match fault {
                GatewayFault::Kill => (Method::POST, "kill", None),
                GatewayFault::Latency { add, jitter } => (
                    Method::POST,
                    "latency",
                    Some(serde_json::json!({"add": format!("{}ms", add.as_millis()), "jitter": format!("{}ms", jitter.as_millis())})),
                ),
                GatewayFault::Errors { rate, status } => (Method::POST, "errors", Some(serde_json::json!({"rate": rate, "status": status}))),
            };
            gateway_call(c, scope, method, action, body, ep, Some(LEASE)).await
        }
        FaultAction::Toxic { api, proxy, toxic } => match Client::new(api).map(|c| c.with_token(ep.control_token.clone()).with_tls(ep.tls.clone())) {
            Ok(c) => {
                let c = c.with_lease(LEASE);
                let t = toxic_of(name, toxic);
                match c.add_toxic(proxy, &t).await {
                    Ok(_) => StepResult::default(),
                    Err(e) if e.status() == Some(409) => take_over(&c, api, proxy, &t, &e).await,
                    Err(e) => toxi_err(&e, format!("adding toxic `{name}` to proxy `{proxy}` at {api}: {e}")),
                }
            }
            Err(e) => StepResult::err(e),
        },
        FaultAction::Exec { start, timeout, .. } => super::exec::run(name, super::group::Role::Start, start, *timeout, cancel).await,
    }
}

/// A toxic of the fault's name is already on the proxy (409). It is taken over with this run's
/// settings, and removed at the end as ours, only when it is what the scenario would have made
/// (same type and stream: a leftover of an earlier run of it that nobody journalled, as stock
/// Toxiproxy has no leases) and no running skyload journals it. Anything else was made by hand
/// or by another run: patching attributes onto it would leave its own behaviour in place while
/// this run reports its fault, and removing it at the end would delete what is not ours.
async fn take_over(c: &Client, api: &str, proxy: &str, t: &Toxic, e: &ClientError) -> StepResult {
    let name = &t.name;
    // From here the toxic is known to be someone's from before: a run killed while checking must
    // not have it deleted as its own by a later clean-up.
    let ours = super::journal::Leftover::Toxic { api: api.to_string(), proxy: proxy.to_string(), name: name.clone() };
    super::journal::advance(&ours, super::journal::Stage::Checking);
    let found = match c.toxics(proxy).await {
        Ok(all) => all.into_iter().find(|x| x.name == *name),
        Err(e2) => return StepResult::err(format!("toxic `{name}` already on proxy `{proxy}` at {api} ({e}) and it cannot be read to see whose it is: {e2}")),
    };
    let Some(found) = found else {
        return StepResult::err(format!("toxic `{name}` already on proxy `{proxy}` at {api} ({e}), yet not listed there; try again"));
    };
    let refuse = |why: String| {
        StepResult::err(format!(
            "toxic `{name}` already on proxy `{proxy}` at {api} is type `{}` on stream {}, {why}; it is left as it is: remove or rename it, or rename the fault",
            found.kind,
            found.stream.as_str(),
        ))
    };
    if found.kind != t.kind || found.stream != t.stream {
        return refuse(format!("but the fault wants type `{}` on stream {}, so it is not this scenario's leftover", t.kind, t.stream.as_str()));
    }
    if let Some(run) = super::journal::list().into_iter().find(|f| f.running && f.faults.iter().any(|e| e.fault == ours)) {
        return refuse(format!("and the running skyload pid {} applied it", run.pid));
    }
    match c.update_toxic(proxy, name, Some(t.toxicity), t.attributes.clone()).await {
        Ok(_) => {
            crate::errln!("note: toxic `{name}` on proxy `{proxy}` at {api} (type `{}`, {}) was a leftover of an earlier run; taken over", t.kind, t.stream.as_str());
            StepResult { took_over: true, ..StepResult::default() }
        }
        Err(e2) => toxi_err(&e2, format!("toxic `{name}` already on proxy `{proxy}` at {api} ({e}) and taking it over failed: {e2}")),
    }
}

pub async fn remove(name: &str, action: &FaultAction, ep: &Endpoints) -> StepResult {
    match action {
        FaultAction::Gateway { control: c, scope, fault } => {
            let (method, action) = match fault {
                GatewayFault::Kill => (Method::POST, "revive"),
                GatewayFault::Latency { .. } => (Method::DELETE, "latency"),
                GatewayFault::Errors { .. } => (Method::DELETE, "errors"),
            };
            gateway_call(c, scope, method, action, None, ep, None).await
        }
        FaultAction::Toxic { api, proxy, .. } => match Client::new(api).map(|c| c.with_token(ep.control_token.clone()).with_tls(ep.tls.clone())) {
            Ok(c) => match c.remove_toxic(proxy, name).await {
                Ok(()) => StepResult::default(),
                // Gone already: its lease lapsed (a stalled driver), or an earlier attempt whose
                // answer was lost removed it.
                Err(ClientError::Api { status: 404, message, .. }) if message.contains("toxic not found") => StepResult::default(),
                Err(e) => toxi_err(&e, format!("removing toxic `{name}` from proxy `{proxy}` at {api}: {e}")),
            },
            Err(e) => StepResult::err(e),
        },
        FaultAction::Exec { stop: Some(stop), timeout, .. } => super::exec::run(name, super::group::Role::Stop, stop, *timeout, None).await,
        FaultAction::Exec { stop: None, .. } => StepResult::default(),
    }
}

/// What undoes `action` after this process is gone, for the journal; None when nothing would
/// outlive the run (the embedded gateway). A command is journalled by name, start time and pid,
/// never its text (it may hold secrets), with where its stop can be found again
/// (`exec_undo::StopRef`, noted when the timeline started) and, once spawned, its process groups
/// (`journal::note_group`). One with no stop is journalled too: its start command (or what it
/// left running) can outlive a run that dies.
pub fn leftover(name: &str, action: &FaultAction) -> Option<super::journal::Leftover> {
    use super::journal::Leftover;
    match action {
        FaultAction::Gateway { control: ControlEndpoint::Url(base), scope, fault } => {
            let (method, action) = match fault {
                GatewayFault::Kill => ("POST", "revive"),
                GatewayFault::Latency { .. } => ("DELETE", "latency"),
                GatewayFault::Errors { .. } => ("DELETE", "errors"),
            };
            Some(Leftover::Gateway { base: base.clone(), method: method.into(), path: gateway_path(scope, action) })
        }
        FaultAction::Toxic { api, proxy, .. } => Some(Leftover::Toxic { api: api.clone(), proxy: proxy.clone(), name: name.to_string() }),
        FaultAction::Exec { stop, .. } => Some(Leftover::Exec {
            name: name.to_string(),
            started: crate::units::rfc3339(std::time::SystemTime::now()),
            pid: std::process::id(),
            stop: stop.as_ref().and_then(|_| super::exec_undo::origin(name)),
            no_stop: stop.is_none(),
        }),
        FaultAction::Gateway { control: ControlEndpoint::Embedded, .. } => None,
    }
}

/// One control call from the journal (`skyload faults clear`); Err says why it failed.
pub async fn raw_control(base: &str, method: Method, path: &str, token: Option<&str>) -> Result<(), String> {
    control(base, method, path, None, token, None, None).await.error.map_or(Ok(()), Err)
}

/// Keeps a leased fault alive. Commands have no lease; nothing to renew.
pub async fn renew(name: &str, action: &FaultAction, ep: &Endpoints) -> StepResult {
    match action {
        FaultAction::Gateway { control: c, scope, .. } => gateway_call(c, scope, Method::POST, "lease", None, ep, Some(LEASE)).await,
        FaultAction::Toxic { api, proxy, .. } => match Client::new(api).map(|c| c.with_token(ep.control_token.clone()).with_tls(ep.tls.clone())) {
            Ok(c) => match c.with_lease(LEASE).update_toxic(proxy, name, None, serde_json::json!({})).await {
                Ok(_) => StepResult::default(),
                Err(e) => toxi_err(&e, format!("renewing toxic `{name}` on proxy `{proxy}` at {api}: {e}")),
            },
            Err(e) => StepResult::err(e),
        },
        FaultAction::Exec { .. } => StepResult::default(),
    }
}

/// Whether removal is worth retrying: control APIs are idempotent; a command may not be.
pub fn retryable(action: &FaultAction) -> bool {
    !matches!(action, FaultAction::Exec { .. })
}

/// One call to the gateway's control API for a pod or a function.
async fn gateway_call(
    c: &ControlEndpoint,
    scope: &GatewayScope,
    method: Method,
    action: &str,
    body: Option<serde_json::Value>,
    ep: &Endpoints,
    lease: Option<Duration>,
) -> StepResult {
    let base = match c {
        ControlEndpoint::Embedded => match &ep.embedded {
            Some(b) => b.clone(),
            None => return StepResult::err("the embedded gateway's address is unknown"),
        },
        ControlEndpoint::Url(u) => u.clone(),
    };
    control(&base, method, &gateway_path(scope, action), body, ep.control_token.as_deref(), lease, ep.tls.as_ref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_control_call_says_where_the_token_comes_from() {
        for sent in [false, true] {
            let hint = token_hint(401, sent);
            // Shown through the redaction every output goes through, the hint must survive it.
            assert_eq!(crate::record::redact::text(hint), hint);
            assert!(hint.contains("SKYLOAD_CONTROL_TOKEN") && hint.contains("control_token"), "{hint}");
        }
        assert!(token_hint(401, false).contains("is not set") && token_hint(401, true).contains("refused"));
        assert_eq!(token_hint(404, false), "");
    }
}
