//! Resolution: the raw model → a validated `Plan`. Every rule of the format lives here or in the
//! two files beside it (`stages`, `requests`); each check reports the field path and the span of
//! the value it refuses, so the message points where the fix goes. Defaults are applied here too,
//! in one place, matching the scenario reference (docs/scenarios.md).

use toml::Spanned;
use super::error::{Reporter, ScenarioError};
use super::feeder;
use super::model::{RawConnections, RawFeedMode, RawScenario, RawTarget};
use super::plan::{ConnectionPlan, FeedMode, Feeder, Plan, Target, TargetUrl};
use super::{requests, stages};
use http::HeaderName;
use std::path::Path;
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A queued arrival costs a few bytes, so the cap only guards memory against a dead target.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1_000_000;
/// No censoring unless asked for: a request is sent however late, so a stall shows at its size.
pub const DEFAULT_MAX_LAG: Duration = Duration::MAX;
pub const DEFAULT_SEED: u64 = 1;
pub const EMBEDDED_POD_HEADER: &str = "x-pod";
/// Label headers counted by default against the embedded gateway.
pub const EMBEDDED_LABELS: [&str; 2] = ["x-fn-version", "x-cold-start"];
use super::plan::MAX_LABELS;

/// Builds the Plan. `base_dir` is where feeder files are looked up (the scenario's directory).
///
/// Every part that does not need another is checked even when an earlier one failed, and the
/// problem reported is the first in the file (line order): checked in code order, a `threads = 0`
/// on line 2 was reported after a bad `[target]` further down, so fixing top to bottom went
/// round in circles. Parts that need a failed one (requests need the target) are skipped.
pub fn resolve(raw: RawScenario, rep: &Reporter, base_dir: &Path) -> Result<Plan, ScenarioError> {
    let mut errors: Vec<ScenarioError> = Vec::new();
    macro_rules! keep {
        ($r:expr) => {
            match $r {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        };
    }
    let name = keep!(match &raw.name {
        Some(n) if !valid_name(n.get_ref()) => {
            Err(rep.span(n.span(), "name", format!("`{}` is not allowed: a scenario name is letters, digits, `.`, `_` and `-` (it names the results directory)", n.get_ref())))
        }
        Some(n) => Ok(n.get_ref().clone()),
        None => Ok(name_from_path(rep.file)),
    });

    let target = keep!(resolve_target(raw.target.as_ref(), raw.gateway, rep));
    let connections = keep!(resolve_connections(raw.connections.as_ref(), rep));
    let connections = match (connections, &target) {
        (Some(c), Some((target, timeout, _))) => keep!(finish_connections(c, raw.target.as_ref(), target, *timeout, rep, base_dir)),
        _ => None,
    };
    let stages = keep!(stages::resolve(raw.stages.as_ref(), rep));
    let feeders = keep!(resolve_feeders(&raw.feeders, rep, base_dir));
    let requests = match (&target, &feeders) {
        (Some((_, _, default_headers)), Some(feeders)) => keep!(requests::resolve(raw.requests.as_ref(), default_headers.clone(), feeders, rep)),
        _ => None,
    };
    let matchers = keep!(requests::resolve_outcomes(&raw.outcomes, rep));
    let faults = match (&target, &stages) {
        (Some((target, _, _)), Some(stages)) => {
            let run_length: Duration = stages.iter().map(|s| s.duration).sum();
            keep!(super::faults::resolve(&raw.faults, target, run_length, rep))
        }
        _ => None,
    };
    let embedded = target.as_ref().map(|(t, _, _)| matches!(t, Target::Embedded(_)));

    let pod_header = keep!(resolve_pod_header(&raw.pod_header, rep)).and_then(|h| match h {
        Some(h) => Some(h),
        None => embedded.map(|e| e.then(|| HeaderName::from_static(EMBEDDED_POD_HEADER))),
    });
    let labels = keep!(resolve_labels(&raw.labels, rep)).and_then(|l| match l {
        Some(l) => Some(l),
        // The embedded gateway says which canary version served and whether a pod was cold.
        None => embedded.map(|e| if e { EMBEDDED_LABELS.iter().map(|h| HeaderName::from_static(h)).collect() } else { Vec::new() }),
    });

    let verify = match (&stages, &requests, &matchers, &faults, &pod_header, labels) {
        (Some(stages), Some(requests), Some(matchers), Some(faults), Some(pod_header), Some(mut labels)) => {
            let fault_sources = raw
                .faults
                .iter()
                .zip(faults)
                .map(|(r, f)| super::check_lang::spec::FaultSource { name: f.name.clone(), from: f.at, to: f.end(), expect: r.get_ref().expect.as_ref(), recovered_when: r.get_ref().recovered_when.as_ref() })
                .collect();
            keep!(resolve_verify(&raw.checks, &raw.windows, &raw.capacity, raw.stages.as_ref(), raw.requests.as_ref(), fault_sources, stages, requests, matchers, pod_header.is_some(), &mut labels, rep))
                .map(|v| (v, labels))
        }
        _ => None,
    };

    let threads = keep!(raw.threads.as_ref().map(|t| at_least_one(t, "threads", "generator threads", rep)).transpose());
    let max_in_flight = keep!(match &raw.max_in_flight {
        Some(m) => at_least_one(m, "max_in_flight", "requests in flight at once", rep),
        None => Ok(DEFAULT_MAX_IN_FLIGHT),
    });
    let max_lag = keep!(match &raw.max_lag {
        Some(l) => positive(l, "max_lag", "how late a request may start before it is dropped", rep),
        None => Ok(DEFAULT_MAX_LAG),
    });
    let pacer = keep!(match &raw.pacer {
        Some(p) => super::pacing::PacerKind::parse(p.get_ref())
            .ok_or_else(|| rep.span(p.span(), "pacer", format!("\"{}\" is not allowed; {}", p.get_ref(), super::pacing::PacerKind::allowed()))),
        None => Ok(super::pacing::PacerKind::default()),
    });
    let metrics = keep!(super::metrics::resolve(&raw.metrics, rep));

    if let Some(first) = first_in_file(errors) {
        return Err(first);
    }
    // No error was kept, so every part was resolved.
    fn all<T>() -> T {
        unreachable!("a part is missing though no error was kept")
    }
    let (target, timeout, _) = target.unwrap_or_else(all);
    let (verify, labels) = verify.unwrap_or_else(all);
    Ok(Plan {
        name: name.unwrap_or_else(all),
        description: raw.description,
        source_path: Some(rep.file.to_path_buf()),
        source_text: rep.text.to_string(),
        target,
        timeout,
        connections: connections.unwrap_or_else(all),
        stages: stages.unwrap_or_else(all),
        requests: requests.unwrap_or_else(all),
        feeders: feeders.unwrap_or_else(all),
        matchers: matchers.unwrap_or_else(all),
        pod_header: pod_header.unwrap_or_else(all),
        labels,
        max_in_flight: max_in_flight.unwrap_or_else(all),
        max_lag: max_lag.unwrap_or_else(all),
        pacer: pacer.unwrap_or_else(all),
        seed: raw.seed.map_or(DEFAULT_SEED, |s| *s.get_ref()),
        threads: threads.unwrap_or_else(all),
        faults: faults.unwrap_or_else(all),
        verify,
        metrics: metrics.unwrap_or_else(all),
    })
}

/// The error that comes first in the file; one with no place (a missing table) after all that
/// have one; among equals, the one found first.
fn first_in_file(errors: Vec<ScenarioError>) -> Option<ScenarioError> {
    errors.into_iter().enumerate().min_by_key(|(i, e)| (e.located().and_then(|l| l.position).unwrap_or((usize::MAX, usize::MAX)), *i)).map(|(_, e)| e)
}

/// `[target]`'s TLS settings and `connect_timeout`, which need the resolved target and timeout.
fn finish_connections(
    mut connections: ConnectionPlan,
    raw_target: Option<&Spanned<RawTarget>>,
    target: &Target,
    timeout: Duration,
    rep: &Reporter,
    base_dir: &Path,
) -> Result<ConnectionPlan, ScenarioError> {
    connections.tls = super::tls::resolve(raw_target, target, rep, base_dir)?;
    if let Some(d) = raw_target.and_then(|t| t.get_ref().connect_timeout.as_ref()) {
        let ct = positive(d, "target.connect_timeout", "the connect timeout", rep)?;
        // As written in the file, quotes aside (the default timeout: as it is shown).
        let written = |s: std::ops::Range<usize>| rep.text.get(s).unwrap_or("").trim_matches(|c| c == '"' || c == '\'').to_string();
        let whole = raw_target.and_then(|t| t.get_ref().timeout.as_ref()).map_or(crate::units::HumanDuration(timeout).to_string(), |w| written(w.span()));
        if let Err(m) = super::bounds::connect_timeout(ct, &written(d.span()), timeout, &whole) {
            return Err(rep.span(d.span(), "target.connect_timeout", m));
        }
        connections.connect_timeout = Some(ct);
    }
    Ok(connections)
}

/// `pod_header` as written: Some(None) for `""` (none), None when not written (the target's default).
fn resolve_pod_header(raw: &Option<Spanned<String>>, rep: &Reporter) -> Result<Option<Option<HeaderName>>, ScenarioError> {
    match raw {
        Some(h) if h.get_ref().is_empty() => Ok(Some(None)),
        // Pod names are written to pods.csv and the report: a credential header would leak there.
        Some(h) if super::secrets::is_secret_name(h.get_ref()) => {
            Err(rep.span(h.span(), "pod_header", format!("`{}` carries credentials and would be written to pods.csv; name the header that says which pod served", h.get_ref())))
        }
        Some(h) => Ok(Some(Some(HeaderName::from_bytes(h.get_ref().as_bytes()).map_err(|_| {
            rep.span(
                h.span(),
                "pod_header",
                format!(
                    "`{}` is not a valid header name (letters, digits and `-`); use \"\" for none",
                    h.get_ref()
                ),
            )
        })?))),
        None => Ok(None),
    }
}

/// `labels` as written; None when not written (the target's default).
fn resolve_labels(raw: &Option<Spanned<Vec<Spanned<String>>>>, rep: &Reporter) -> Result<Option<Vec<HeaderName>>, ScenarioError> {
    let Some(list) = raw else { return Ok(None) };
    if list.get_ref().len() > MAX_LABELS {
        return Err(rep.span(
            list.span(),
            "labels",
            format!("{} headers given; at most {MAX_LABELS} can be counted", list.get_ref().len()),
        ));
    }
    let mut out = Vec::new();
    for (i, h) in list.get_ref().iter().enumerate() {
        if super::secrets::is_secret_name(h.get_ref()) {
            return Err(rep.span(
                h.span(),
                format!("labels[{i}]"),
                format!("`{}` carries credentials and its values would be written to labels.csv; count a header that does not", h.get_ref()),
            ));
        }
        out.push(HeaderName::from_bytes(h.get_ref().as_bytes()).map_err(|_| {
            rep.span(
                h.span(),
                format!("labels[{i}]"),
                format!("`{}` is not a valid header name (letters, digits and `-`)", h.get_ref()),
            )
        })?);
    }
    Ok(Some(out))
}

/// `[checks]`, per-stage and per-request `checks`, `[[windows]]`, `[capacity]`: names are checked
/// against the plan; headers named by `split(...)` are added to `labels` so they are counted.
#[allow(clippy::too_many_arguments)]
fn resolve_verify(
    checks: &Option<Spanned<super::checks::RawChecks>>,
    windows: &[Spanned<super::checks::RawWindow>],
    capacity: &Option<Spanned<super::checks::RawCapacity>>,
    raw_stages: Option<&Spanned<Vec<Spanned<super::model::RawStage>>>>,
    raw_requests: Option<&Spanned<Vec<Spanned<super::model::RawRequest>>>>,
    faults: Vec<super::check_lang::spec::FaultSource>,
    stages: &[super::plan::Stage],
    requests: &[super::plan::RequestPlan],
    matchers: &[super::plan::Matcher],
    has_pod_header: bool,
    labels: &mut Vec<HeaderName>,
    rep: &Reporter,
) -> Result<super::check_lang::VerifyPlan, ScenarioError> {
    use super::check_lang::spec;
    let outcomes = super::outcomes::OutcomeTable::new(matchers.iter().map(|m| m.outcome.as_str()));
    let names = spec::Names {
        stages: stages.iter().map(|s| s.name.as_str()).collect(),
        requests: requests.iter().map(|r| r.name.as_str()).collect(),
        outcomes: outcomes.names().to_vec(),
        has_pod_header,
    };
    let sources = spec::Sources {
        text: rep.text,
        checks: checks.as_ref(),
        windows,
        capacity: capacity.as_ref(),
        stage_checks: raw_stages.map(|s| s.get_ref().iter().map(|s| s.get_ref().checks.as_ref()).collect()).unwrap_or_default(),
        request_checks: raw_requests.map(|r| r.get_ref().iter().map(|q| q.get_ref().checks.as_ref()).collect()).unwrap_or_default(),
        faults,
    };
    let resolved = spec::resolve(&sources, &names).map_err(|e| rep.at(e.at, e.field, e.message))?;
    for h in resolved.split_headers {
        let name = HeaderName::from_bytes(h.as_bytes()).expect("checked by the check parser");
        if !labels.contains(&name) {
            if labels.len() >= MAX_LABELS {
                return Err(rep.at(None, "labels", format!("split({h}=...) needs `{h}` counted, but {MAX_LABELS} label headers are already counted")));
            }
            labels.push(name);
        }
    }
    Ok(resolved.plan)
}

/// Adds whole-run checks given on the command line (`--check`) to a resolved plan, by the rules of
/// `[checks] run`: names are checked against the plan, `split(...)` headers are counted.
pub fn add_run_checks(plan: &mut super::Plan, list: &[String]) -> Result<(), String> {
    use super::check_lang::spec;
    if list.is_empty() {
        return Ok(());
    }
    let outcomes = super::outcomes::OutcomeTable::new(plan.matchers.iter().map(|m| m.outcome.as_str()));
    let names = spec::Names {
        stages: plan.stages.iter().map(|s| s.name.as_str()).collect(),
        requests: plan.requests.iter().map(|r| r.name.as_str()).collect(),
        outcomes: outcomes.names().to_vec(),
        has_pod_header: plan.pod_header.is_some(),
    };
    let (checks, split_headers) = spec::run_checks(list, &names)?;
    for h in split_headers {
        let name = HeaderName::from_bytes(h.as_bytes()).expect("checked by the check parser");
        if !plan.labels.contains(&name) {
            if plan.labels.len() >= MAX_LABELS {
                return Err(format!("split({h}=...) needs `{h}` counted, but {MAX_LABELS} label headers are already counted"));
            }
            plan.labels.push(name);
        }
    }
    for c in checks {
        // The same check twice would be judged and printed twice.
        if !plan.verify.checks.iter().any(|k| k.scope == c.scope && k.source == c.source) {
            plan.verify.checks.push(c);
        }
    }
    Ok(())
}

/// Names used in results and tags: `[A-Za-z0-9._-]+`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The file stem as a name (see `sanitize_name`).
pub fn name_from_path(path: &Path) -> String {
    sanitize_name(&path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default())
}

/// Anything outside the name alphabet turned into `-`.
pub fn sanitize_name(stem: &str) -> String {
    let name: String = stem.chars().map(|c| if valid_name(&c.to_string()) { c } else { '-' }).collect();
    if name.is_empty() {
        "scenario".to_string()
    } else {
        name
    }
}

type Resolved = (Target, Duration, Option<super::model::RawHeaders>);

fn resolve_target(
    target: Option<&Spanned<RawTarget>>,
    gateway: Option<super::gateway_config::GatewayConfig>,
    rep: &Reporter,
) -> Result<Resolved, ScenarioError> {
    let Some(t) = target else {
        return Err(rep.at(
            None,
            "target",
            "missing [target]: give url = \"http://host:port\" or embedded = true (with a [gateway] table)",
        ));
    };
    let raw = t.get_ref();
    let embedded = raw.embedded.as_ref().filter(|e| *e.get_ref());
    let target = match (&raw.url, embedded) {
        (Some(u), Some(e)) => {
            return Err(rep.span(
                e.span(),
                "target.embedded",
                format!(
                    "give exactly one of url, embedded; this target has both (url = \"{}\")",
                    u.get_ref()
                ),
            ))
        }
        (None, None) => {
            return Err(rep.span(
                t.span(),
                "target",
                "give exactly one of url = \"http://host:port\" or embedded = true",
            ));
        }
        (Some(u), None) => {
            if gateway.is_some() {
                return Err(rep.span(
                    gateway_span(rep.text),
                    "gateway",
                    "[gateway] configures the embedded target, but [target] has url; remove one of them",
                ));
            }
            Target::Url(parse_target_url(u.get_ref()).map_err(|m| rep.span(u.span(), "target.url", m))?)
        }
        (None, Some(e)) => match gateway {
            Some(cfg) => {
                let span = gateway_span(rep.text);
                if let Err(super::gateway_config::ConfigError { field, message }) = cfg.validate() {
                    return Err(rep.span(span, format!("gateway.{field}"), message));
                }
                Target::Embedded(cfg)
            }
            None => {
                return Err(rep.span(e.span(), "target.embedded", "embedded = true needs a [gateway] table configuring the embedded gateway (e.g. [gateway.functions.hello] pods = 2)"));
            }
        },
    };
    let timeout = match &raw.timeout {
        Some(d) => positive(d, "target.timeout", "the whole-request timeout", rep)?,
        None => DEFAULT_TIMEOUT,
    };
    Ok((target, timeout, raw.headers.clone()))
}

/// Where the `[gateway]` table starts (its first header line), for messages about it.
fn gateway_span(text: &str) -> std::ops::Range<usize> {
    let at = text
        .match_indices("[gateway")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with('\n'))
        .or_else(|| text.find("gateway"))
        .unwrap_or(0);
    at..at + text[at..].find('\n').unwrap_or(text.len() - at)
}

/// Parses a target URL: `http://host[:port][/base]`, no query, no credentials.
pub fn parse_target_url(s: &str) -> Result<TargetUrl, String> {
    let example = "e.g. http://127.0.0.1:8080 or https://api.internal/base";
    let uri: http::Uri = s.parse().map_err(|e| format!("`{s}` is not a URL ({e}); {example}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            return Err(format!("`{s}`: the scheme `{other}` is not supported; only http:// or https:// ({example})"))
        }
        None => return Err(format!("`{s}` has no scheme: write http://{s}")),
    }
    let authority = uri.authority().ok_or_else(|| format!("`{s}` has no host; {example}"))?;
    if authority.as_str().contains('@') {
        return Err(format!(
            "`{s}`: credentials in the URL are not supported; send them with a header (target.headers)"
        ));
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{s}` has no host; {example}"));
    }
    if uri.query().is_some() {
        return Err(format!("`{s}`: a target URL has no query; put the query in each request's path"));
    }
    let https = uri.scheme_str() == Some("https");
    Ok(TargetUrl {
        scheme: if https { "https" } else { "http" }.to_string(),
        host: host.to_string(),
        port: url_port(s, authority, https)?,
        authority: authority.as_str().to_string(),
        base_path: uri.path().trim_end_matches('/').to_string(),
    })
}

/// The URL's port, or the scheme's. `http::Uri` accepts any digits after the colon and
/// `port_u16()` is None for `:99999` as for no port at all, which sent a mistyped port's traffic
/// to port 80; a port outside 1–65535 is an error instead.
pub fn url_port(url: &str, authority: &http::uri::Authority, https: bool) -> Result<u16, String> {
    let rest = authority.as_str().get(authority.host().len()..).unwrap_or("");
    match rest.strip_prefix(':') {
        None | Some("") => Ok(if https { 443 } else { 80 }),
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            format!("`{url}`: port `{p}` is not allowed: a port is a number from 1 to 65535 (or none, for {})", if https { "443" } else { "80" })
        }),
    }
}

fn resolve_connections(
    c: Option<&Spanned<RawConnections>>,
    rep: &Reporter,
) -> Result<ConnectionPlan, ScenarioError> {
    let mut plan = ConnectionPlan::default();
    let Some(c) = c else { return Ok(plan) };
    let raw = c.get_ref();
    if let Some(m) = &raw.max {
        plan.max = at_least_one(m, "connections.max", "TCP connections", rep)?;
    }
    plan.http2 = raw.http2.unwrap_or(false);
    if let Some(s) = &raw.h2_streams {
        plan.h2_streams = at_least_one(s, "connections.h2_streams", "streams per HTTP/2 connection", rep)?;
    }
    if let Some(m) = &raw.max_requests {
        plan.max_requests =
            Some(at_least_one(m, "connections.max_requests", "requests per connection", rep)? as u64);
    }
    if let Some(a) = &raw.max_age {
        plan.max_age = Some(positive(a, "connections.max_age", "a connection's age limit", rep)?);
    }
    if let Some(p) = raw.per_request.as_ref().filter(|p| *p.get_ref()) {
        if raw.max_requests.is_some() || raw.max_age.is_some() {
            return Err(rep.span(p.span(), "connections.per_request", "per_request = true opens a new connection for every request, so max_requests and max_age mean nothing; remove them or per_request"));
        }
        plan.per_request = true;
    }
    Ok(plan)
}

fn resolve_feeders(
    raw: &[Spanned<super::model::RawFeeder>],
    rep: &Reporter,
    base_dir: &Path,
) -> Result<Vec<Feeder>, ScenarioError> {
    let mut feeders: Vec<Feeder> = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let f = f.get_ref();
        let name = f.name.get_ref();
        if !feeder::valid_column(name) {
            return Err(rep.span(f.name.span(), format!("feeders[{i}].name"), format!("`{name}` is not allowed: a feeder name is letters, digits, `_` and `-` (templates write {{{{{name}.column}}}})")));
        }
        if feeders.iter().any(|g| g.name == *name) {
            return Err(rep.span(
                f.name.span(),
                format!("feeders[{i}].name"),
                format!("`{name}` is already the name of an earlier feeder; names must be unique"),
            ));
        }
        let mode = match f.mode {
            Some(RawFeedMode::Random) => FeedMode::Random,
            Some(RawFeedMode::Cycle) | None => FeedMode::Cycle,
        };
        let file = f.file.get_ref();
        let feeder = feeder::load(name, file, &base_dir.join(file), mode)
            .map_err(|m| rep.span(f.file.span(), format!("feeders[{i}].file"), m))?;
        feeders.push(feeder);
    }
    Ok(feeders)
}

/// A count that must be >= 1.
pub fn at_least_one(v: &Spanned<i64>, field: &str, what: &str, rep: &Reporter) -> Result<usize, ScenarioError> {
    match usize::try_from(*v.get_ref()) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(rep.span(
            v.span(),
            field,
            format!("{} is not allowed: the number of {what}, a whole number >= 1", v.get_ref()),
        )),
    }
}

/// A duration that must be > 0.
pub fn positive(
    d: &Spanned<crate::units::HumanDuration>,
    field: &str,
    what: &str,
    rep: &Reporter,
) -> Result<Duration, ScenarioError> {
    let v = d.get_ref().get();
    if v.is_zero() {
        return Err(rep.span(d.span(), field, format!("0 is not allowed: {what} must be longer than zero")));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls() {
        let u = parse_target_url("http://127.0.0.1:8080/base/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.authority.as_str(), u.base_path.as_str()),
            ("127.0.0.1", 8080, "127.0.0.1:8080", "/base")
        );
        assert_eq!(u.to_url(), "http://127.0.0.1:8080/base");
        let u = parse_target_url("http://api.internal").unwrap();
        assert_eq!((u.port, u.base_path.as_str()), (80, ""));
        assert_eq!(parse_target_url("http://[::1]:9/").unwrap().host, "::1");
        let u = parse_target_url("https://api.example").unwrap();
        assert_eq!((u.scheme.as_str(), u.port), ("https", 443));
        for (bad, needle) in [
            ("ftp://x", "only http:// or https://"),
            ("localhost:8080", "scheme"),
            ("/just/a/path", "no scheme"),
            ("http://u:p@h", "credentials"),
            ("http://h/?a=1", "no query"),
            ("http://", "not a URL"),
        ] {
            let e = parse_target_url(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }

    /// Several problems: the one reported is the first in the file, whatever order the parts are
    /// checked in (threads is checked last, the target first).
    #[test]
    fn the_first_problem_in_the_file_is_reported() {
        let at = |text: &str| super::super::load_str(text, Path::new("s.toml")).unwrap_err().located().unwrap().clone();
        let body = "[target]\nembedded = true\n[[stages]]\nrate = -5\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n";
        let e = at(&format!("threads = 0\npacer = \"bogus\"\n{body}"));
        assert_eq!((e.position, e.field.as_str()), (Some((1, 11)), "threads"), "{e}");
        let e = at(&format!("pacer = \"bogus\"\nthreads = 0\n{body}"));
        assert_eq!((e.position, e.field.as_str()), (Some((1, 9)), "pacer"), "{e}");
        // Nothing wrong above: the target (line 2, no [gateway]) before the stage (line 4).
        let e = at(body);
        assert_eq!((e.position.map(|p| p.0), e.field.as_str()), (Some(2), "target.embedded"), "{e}");
        // A problem with no place (no [target]) comes after one that has a place.
        let e = at("[[stages]]\nrate = -5\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n");
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
    }

    #[test]
    fn names_from_paths() {
        assert_eq!(name_from_path(Path::new("scenarios/quick start.toml")), "quick-start");
        assert_eq!(name_from_path(Path::new("a/b.v2.toml")), "b.v2");
        assert_eq!(sanitize_name("::1"), "--1");
    }
}
