//! `[[faults]]`: what is done to the system at which time, through which backend. Every choice is
//! checked here (kind × target, attributes, names of pods and functions of an embedded gateway),
//! so a drill never discovers a typo when the fault is due, mid-run.

use toml::Spanned;
use super::error::{suggestion, Reporter, ScenarioError};
use super::model::{RawFault};
use super::plan::{ControlEndpoint, FaultAction, FaultPlan, GatewayFault, GatewayScope, Target, ToxicSpec};
use super::resolve::{positive, valid_name};
use std::time::Duration;

/// Toxiproxy's default API address (`skyload proxy` serves the same).
pub const DEFAULT_PROXY_API: &str = "http://127.0.0.1:8474";
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

const KINDS: [&str; 10] =
    ["pod_kill", "latency", "error", "reset", "timeout", "blackhole", "bandwidth", "slow_close", "toxic", "exec"];

pub fn resolve(
    raw: &[Spanned<RawFault>],
    target: &Target,
    run_length: Duration,
    rep: &Reporter,
) -> Result<Vec<FaultPlan>, ScenarioError> {
    let mut out: Vec<FaultPlan> = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let path = format!("faults[{i}]");
        let name = match &f.get_ref().name {
            Some(n) if !valid_name(n.get_ref()) => {
                return Err(rep.span(n.span(), format!("{path}.name"), format!("`{}` is not allowed: letters, digits, `.`, `_` and `-`", n.get_ref())));
            }
            Some(n) => n.get_ref().clone(),
            None => format!("fault-{}", i + 1),
        };
        if out.iter().any(|o| o.name == name) {
            let span = f.get_ref().name.as_ref().map_or(f.span(), |n| n.span());
            return Err(rep.span(span, format!("{path}.name"), format!("`{name}` names two faults; fault names must be unique")));
        }
        let plan = resolve_one(f.get_ref(), name, &path, target, run_length, rep)?;
        out.push(plan);
    }
    Ok(out)
}

fn resolve_one(
    f: &RawFault,
    name: String,
    path: &str,
    target: &Target,
    run_length: Duration,
    rep: &Reporter,
) -> Result<FaultPlan, ScenarioError> {
    let at = f.at.get_ref().get();
    if at >= run_length {
        return Err(rep.span(
            f.at.span(),
            format!("{path}.at"),
            format!("{} is not allowed: the run lasts {:?}, so a fault must start before that", f.at.get_ref(), run_length),
        ));
    }
    let duration = positive(&f.duration, &format!("{path}.for"), "a fault", rep)?;
    let kind = f.kind.get_ref().as_str();
    if !KINDS.contains(&kind) {
        return Err(rep.span(
            f.kind.span(),
            format!("{path}.kind"),
            format!("`{kind}` is not a fault kind; allowed: {}{}", KINDS.join(", "), suggestion(kind, KINDS)),
        ));
    }
    let action = match kind {
        "exec" => exec(f, path, rep)?,
        _ => match (&f.pod, &f.function, &f.proxy) {
            (Some(_), None, None) | (None, Some(_), None) => gateway(f, kind, path, target, rep)?,
            (None, None, Some(p)) => toxic(f, kind, p.get_ref().clone(), path, rep)?,
            _ => {
                return Err(rep.span(
                    f.kind.span(),
                    path.to_string(),
                    format!("a `{kind}` fault needs exactly one target: pod = \"...\" or function = \"...\" (the gateway's control API), or proxy = \"...\" (a Toxiproxy-API proxy)"),
                ))
            }
        },
    };
    let recover_within = match &f.recover_within {
        Some(d) => Some(positive(d, &format!("{path}.recover_within"), "a recovery time", rep)?),
        None => None,
    };
    Ok(FaultPlan {
        name,
        at,
        duration,
        action,
        expect: f.expect.as_ref().map(|l| l.get_ref().iter().map(|e| e.get_ref().clone()).collect()).unwrap_or_default(),
        recover_within,
    })
}

fn percent(f: &RawFault, path: &str, rep: &Reporter) -> Result<f64, ScenarioError> {
    match &f.percent {
        None => Ok(100.0),
        Some(p) if *p.get_ref() > 0.0 && *p.get_ref() <= 100.0 => Ok(*p.get_ref()),
        Some(p) => Err(rep.span(p.span(), format!("{path}.percent"), format!("{} is not allowed: a percentage of requests, more than 0 and at most 100", p.get_ref()))),
    }
}

fn status(f: &RawFault, path: &str, rep: &Reporter) -> Result<u16, ScenarioError> {
    match &f.status {
        None => Ok(500),
        Some(s) if (100..=599).contains(s.get_ref()) => Ok(*s.get_ref() as u16),
        Some(s) => Err(rep.span(s.span(), format!("{path}.status"), format!("{} is not an HTTP status (100 to 599)", s.get_ref()))),
    }
}

fn gateway(f: &RawFault, kind: &str, path: &str, target: &Target, rep: &Reporter) -> Result<FaultAction, ScenarioError> {
    let scope = match (&f.pod, &f.function) {
        (Some(p), _) => {
            check_pod(p, path, target, rep)?;
            GatewayScope::Pod(p.get_ref().clone())
        }
        (_, Some(func)) => {
            check_function(func, path, target, rep)?;
            GatewayScope::Function(func.get_ref().clone())
        }
        _ => unreachable!("one of pod/function is given"),
    };
    let fault = match kind {
        "pod_kill" => GatewayFault::Kill,
        "latency" => GatewayFault::Latency {
            add: required_duration(&f.latency, "latency", path, f, rep)?,
            jitter: jitter(f, path, rep)?,
        },
        "error" => GatewayFault::Errors { rate: percent(f, path, rep)? / 100.0, status: status(f, path, rep)? },
        other => {
            return Err(rep.span(
                f.kind.span(),
                format!("{path}.kind"),
                format!("`{other}` works on a proxy (proxy = \"...\"); the gateway's control API does pod_kill, latency and error"),
            ))
        }
    };
    let control = match (&f.control_url, target) {
        (Some(u), _) => ControlEndpoint::Url(u.get_ref().trim_end_matches('/').to_string()),
        (None, Target::Embedded(_)) => ControlEndpoint::Embedded,
        (None, Target::Url(u)) => ControlEndpoint::Url(u.to_url()),
    };
    Ok(FaultAction::Gateway { control, scope, fault })
}

/// `jitter`, zero when not given.
fn jitter(f: &RawFault, path: &str, rep: &Reporter) -> Result<Duration, ScenarioError> {
    let Some(j) = &f.jitter else { return Ok(Duration::ZERO) };
    let v = j.get_ref().get();
    super::bounds::fault_time(v).map_err(|m| rep.span(j.span(), format!("{path}.jitter"), m))?;
    Ok(v)
}

fn required_duration(
    d: &Option<Spanned<crate::units::HumanDuration>>,
    field: &str,
    path: &str,
    f: &RawFault,
    rep: &Reporter,
) -> Result<Duration, ScenarioError> {
    match d {
        Some(d) => {
            let v = positive(d, &format!("{path}.{field}"), field, rep)?;
            super::bounds::fault_time(v).map_err(|m| rep.span(d.span(), format!("{path}.{field}"), m))?;
            Ok(v)
        }
        None => Err(rep.span(f.kind.span(), format!("{path}.{field}"), format!("a `{}` fault needs {field} = \"...\" (e.g. \"200ms\")", f.kind.get_ref()))),
    }
}

fn toxic(f: &RawFault, kind: &str, proxy: String, path: &str, rep: &Reporter) -> Result<FaultAction, ScenarioError> {
    let ms = |d: Duration| serde_json::json!(d.as_millis() as u64);
    let pct = percent(f, path, rep)?;
    let (toxic_type, attributes) = match kind {
        // Toxiproxy's toxics apply per connection; with `percent` below 100 the per-request
        // skyload extensions are used instead, so a keep-alive gateway sees a share of requests.
        "latency" if pct < 100.0 => {
            ("http_delay", serde_json::json!({"delay": ms(required_duration(&f.latency, "latency", path, f, rep)?), "percentage": pct}))
        }
        "latency" => {
            let jitter = jitter(f, path, rep)?;
            ("latency", serde_json::json!({"latency": ms(required_duration(&f.latency, "latency", path, f, rep)?), "jitter": ms(jitter)}))
        }
        "error" => ("http_abort", serde_json::json!({"status": status(f, path, rep)?, "percentage": pct})),
        "reset" => ("reset_peer", serde_json::json!({"timeout": 0})),
        "timeout" | "blackhole" => ("timeout", serde_json::json!({"timeout": 0})),
        "bandwidth" => match &f.rate_kbps {
            Some(r) => match super::bounds::bandwidth_kbps(*r.get_ref()) {
                Ok(()) => ("bandwidth", serde_json::json!({"rate": r.get_ref()})),
                Err(m) => return Err(rep.span(r.span(), format!("{path}.rate_kbps"), m)),
            },
            None => return Err(rep.span(f.kind.span(), format!("{path}.rate_kbps"), "a `bandwidth` fault needs rate_kbps = N (KB/s)")),
        },
        "slow_close" => ("slow_close", serde_json::json!({"delay": ms(required_duration(&f.delay, "delay", path, f, rep)?)})),
        "toxic" => {
            let t = f.toxic.as_ref().ok_or_else(|| rep.span(f.kind.span(), format!("{path}.toxic"), "a `toxic` fault names the Toxiproxy toxic type: toxic = \"latency\" (with attributes = { ... })"))?;
            let attrs = f.attributes.as_ref().map_or(serde_json::json!({}), |a| serde_json::to_value(a.get_ref()).unwrap_or_default());
            (t.get_ref().as_str(), attrs)
        }
        "pod_kill" => {
            return Err(rep.span(f.kind.span(), format!("{path}.kind"), "pod_kill works through the gateway: give pod = \"...\" or function = \"...\"; to cut a proxy use kind = \"timeout\" or \"reset\""))
        }
        _ => unreachable!("kinds checked"),
    };
    // The per-request toxics read HTTP requests, which flow client → server.
    let per_request = toxic_type.starts_with("http_");
    let stream = match &f.stream {
        Some(s) if per_request && s.get_ref() != "upstream" => {
            return Err(rep.span(s.span(), format!("{path}.stream"), format!("a per-request `{kind}` fault works on the requests, so its stream is upstream; leave `stream` out")));
        }
        None if per_request => "upstream".to_string(),
        None => "downstream".to_string(),
        Some(s) if matches!(s.get_ref().as_str(), "upstream" | "downstream") => s.get_ref().clone(),
        Some(s) => return Err(rep.span(s.span(), format!("{path}.stream"), format!("`{}` is not a stream; allowed: upstream (client to server), downstream (server to client)", s.get_ref()))),
    };
    let toxicity = match &f.toxicity {
        None => 1.0,
        Some(t) if (0.0..=1.0).contains(t.get_ref()) => *t.get_ref(),
        Some(t) => return Err(rep.span(t.span(), format!("{path}.toxicity"), format!("{} is not allowed: the share of connections a toxic applies to, 0 to 1", t.get_ref()))),
    };
    let api = f.api.as_ref().map_or(DEFAULT_PROXY_API.to_string(), |a| a.get_ref().trim_end_matches('/').to_string());
    Ok(FaultAction::Toxic { api, proxy, toxic: ToxicSpec { kind: toxic_type.to_string(), stream, toxicity, attributes } })
}

fn exec(f: &RawFault, path: &str, rep: &Reporter) -> Result<FaultAction, ScenarioError> {
    let start = f.start.as_ref().ok_or_else(|| rep.span(f.kind.span(), format!("{path}.start"), "an `exec` fault needs start = \"command\" (and usually stop = \"command\")"))?;
    let timeout = match &f.command_timeout {
        Some(d) => positive(d, &format!("{path}.command_timeout"), "a command timeout", rep)?,
        None => DEFAULT_COMMAND_TIMEOUT,
    };
    Ok(FaultAction::Exec { start: start.get_ref().clone(), stop: f.stop.as_ref().map(|s| s.get_ref().clone()), timeout })
}

/// An exec fault's stop command as a scenario file gives it, found again by `skyload faults
/// clear` after the run that loaded the file died (the journal keeps where to look, never the
/// command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecStop {
    /// The fault's name (`name`, else `fault-N` as `resolve` names it).
    pub name: String,
    pub stop: String,
    pub timeout: Duration,
}

/// The stop commands of a scenario text's exec faults, named and timed as `resolve` does (the same
/// model, the same defaults), without resolving the rest of the scenario: feeders and the gateway
/// are not read, so a moved feeder file does not stop a clean-up. `path` names the file in errors.
pub fn exec_stops(text: &str, path: &std::path::Path) -> Result<Vec<ExecStop>, ScenarioError> {
    let rep = Reporter { file: path, text };
    let raw: super::model::RawScenario = toml::from_str(text).map_err(|e| super::syntax::translate(&rep, &e))?;
    let mut out = Vec::new();
    for (i, f) in raw.faults.iter().enumerate() {
        let f = f.get_ref();
        let Some(stop) = &f.stop else { continue };
        if f.kind.get_ref() != "exec" {
            continue;
        }
        out.push(ExecStop {
            name: f.name.as_ref().map_or(format!("fault-{}", i + 1), |n| n.get_ref().clone()),
            stop: stop.get_ref().clone(),
            timeout: f.command_timeout.as_ref().map_or(DEFAULT_COMMAND_TIMEOUT, |d| d.get_ref().get()),
        });
    }
    Ok(out)
}

/// Functions of the embedded gateway, when that is the target.
fn functions(target: &Target) -> Option<Vec<String>> {
    match target {
        Target::Embedded(cfg) => Some(cfg.functions.keys().cloned().collect()),
        Target::Url(_) => None,
    }
}

fn check_function(func: &Spanned<String>, path: &str, target: &Target, rep: &Reporter) -> Result<(), ScenarioError> {
    let Some(known) = functions(target) else { return Ok(()) };
    if known.iter().any(|k| k == func.get_ref()) {
        return Ok(());
    }
    Err(rep.span(
        func.span(),
        format!("{path}.function"),
        format!("the embedded gateway has no function `{}`; it has: {}{}", func.get_ref(), known.join(", "), suggestion(func.get_ref(), known.iter().map(String::as_str))),
    ))
}

/// Pod names of the embedded gateway: `<fn>-<n>` and `<fn>-<version>-<n>`.
fn check_pod(pod: &Spanned<String>, path: &str, target: &Target, rep: &Reporter) -> Result<(), ScenarioError> {
    let Target::Embedded(cfg) = target else { return Ok(()) };
    let mut names = Vec::new();
    for (fname, f) in &cfg.functions {
        for n in 1..=f.pods {
            names.push(format!("{fname}-{n}"));
        }
        for (v, vc) in &f.versions {
            for n in 1..=vc.pods.unwrap_or(f.pods) {
                names.push(format!("{fname}-{v}-{n}"));
            }
        }
    }
    if names.iter().any(|n| n == pod.get_ref()) {
        return Ok(());
    }
    Err(rep.span(
        pod.span(),
        format!("{path}.pod"),
        format!("the embedded gateway has no pod `{}`; it has: {}{}", pod.get_ref(), names.join(", "), suggestion(pod.get_ref(), names.iter().map(String::as_str))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `faults clear` must find the very command the run had: named and timed as `resolve` does.
    #[test]
    fn exec_stops_match_what_resolve_makes() {
        let text = "[target]\nembedded = true\n[[stages]]\nrate = 1\nduration = \"10s\"\n[[requests]]\npath = \"/fn/hello\"\n\
                    [[faults]]\nkind = \"exec\"\nat = \"1s\"\nfor = \"1s\"\nstart = \"a\"\nstop = \"b $X\"\n\
                    [[faults]]\nname = \"n\"\nkind = \"exec\"\nat = \"1s\"\nfor = \"1s\"\nstart = \"c\"\nstop = \"d\"\ncommand_timeout = \"5s\"\n\
                    [[faults]]\nname = \"nostop\"\nkind = \"exec\"\nat = \"1s\"\nfor = \"1s\"\nstart = \"e\"\n\
                    [gateway.functions.hello]\npods = 1\n";
        let path = std::path::Path::new("d.toml");
        let plan = crate::scenario::load_str(text, path).unwrap();
        let stops = exec_stops(text, path).unwrap();
        let resolved: Vec<ExecStop> = plan
            .faults
            .iter()
            .filter_map(|f| match &f.action {
                FaultAction::Exec { stop: Some(s), timeout, .. } => Some(ExecStop { name: f.name.clone(), stop: s.clone(), timeout: *timeout }),
                _ => None,
            })
            .collect();
        assert_eq!(stops, resolved);
        assert_eq!(stops.iter().map(|s| (s.name.as_str(), s.timeout)).collect::<Vec<_>>(), [("fault-1", DEFAULT_COMMAND_TIMEOUT), ("n", Duration::from_secs(5))]);
        assert!(exec_stops("[[faults]]\nkind = 1\n", path).unwrap_err().to_string().contains("d.toml"));
    }

    /// The fault table names how much a fault does, in the terminal's units: a proxy drill's
    /// latency toxic carries its size, and a gateway latency without jitter has no `±0ns`.
    #[test]
    fn describe_says_how_much() {
        let text = "[target]\nembedded = true\n[[stages]]\nrate = 1\nduration = \"10s\"\n[[requests]]\npath = \"/fn/hello\"\n\
                    [[faults]]\nkind = \"latency\"\nfunction = \"hello\"\nlatency = \"40ms\"\nat = \"1s\"\nfor = \"1s\"\n\
                    [[faults]]\nkind = \"latency\"\npod = \"hello-1\"\nlatency = \"40ms\"\njitter = \"5ms\"\nat = \"1s\"\nfor = \"1s\"\n\
                    [[faults]]\nkind = \"latency\"\nproxy = \"up\"\nlatency = \"150ms\"\nat = \"1s\"\nfor = \"1s\"\n\
                    [gateway.functions.hello]\npods = 1\n";
        let plan = crate::scenario::load_str(text, std::path::Path::new("d.toml")).unwrap();
        let d: Vec<String> = plan.faults.iter().map(|f| f.action.describe()).collect();
        assert_eq!(d[0], "latency +40.0ms on function hello");
        assert_eq!(d[1], "latency +40.0ms ±5.00ms on pod hello-1");
        assert_eq!(d[2], "latency (latency=150, downstream) on proxy up");
    }
}
