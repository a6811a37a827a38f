//! `[metrics]`: where the live Prometheus endpoint listens and how long it stays up after the run.
//! Parsed and resolved here like every other section,
//! so a bad address names the file, line and column.

use super::error::{Reporter, ScenarioError};
use toml::Spanned;
use crate::units::HumanDuration;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<Spanned<String>>,
    pub linger: Option<Spanned<HumanDuration>>,
    pub trace: Option<Spanned<bool>>,
    pub slow: Option<Spanned<usize>>,
}

/// The resolved `[metrics]` section (all off by default).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsPlan {
    /// Serve Prometheus metrics here while the run lasts.
    pub listen: Option<SocketAddr>,
    /// After the run, keep serving until a scrape has read the final values or this long has passed.
    pub linger: Duration,
    /// `trace = true`: a W3C `traceparent` on every request, and the slowest and first failed
    /// requests kept with their trace ids (`slow.csv`, the report, histogram exemplars).
    pub trace: bool,
    /// Slowest requests kept per request name (and first failures per outcome) when tracing.
    pub slow: usize,
}

/// Default for `slow`: enough to see a pattern in the tail, few enough to read.
pub const DEFAULT_SLOW: usize = 20;
/// Upper bound for `slow`: the keeper's memory is this × request names × threads.
pub const MAX_SLOW: usize = 1000;

impl Default for MetricsPlan {
    fn default() -> MetricsPlan {
        MetricsPlan { listen: None, linger: Duration::ZERO, trace: false, slow: DEFAULT_SLOW }
    }
}

/// `host:port`, `:port` or a bare port; the last two listen on loopback, so nothing is exposed
/// beyond the machine unless an address says so.
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let port_only = s.strip_prefix(':').unwrap_or(s);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Some(port) = s.strip_prefix("localhost:").and_then(|p| p.parse::<u16>().ok()) {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    Err(format!(
        "`{s}` is not an address to listen on: give host:port with a numeric IP (127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464) or a port (9464, loopback)"
    ))
}

pub fn resolve(raw: &Option<Spanned<RawMetrics>>, rep: &Reporter) -> Result<MetricsPlan, ScenarioError> {
    let Some(raw) = raw else { return Ok(MetricsPlan::default()) };
    let raw = raw.get_ref();
    let listen = match &raw.listen {
        Some(l) => Some(parse_listen(l.get_ref()).map_err(|m| rep.span(l.span(), "metrics.listen", m))?),
        None => None,
    };
    let slow = match &raw.slow {
        Some(n) if !(1..=MAX_SLOW).contains(n.get_ref()) => {
            return Err(rep.span(n.span(), "metrics.slow", format!("{} requests kept per name: allowed is 1 to {MAX_SLOW}", n.get_ref())))
        }
        Some(n) => *n.get_ref(),
        None => DEFAULT_SLOW,
    };
    Ok(MetricsPlan {
        listen,
        linger: raw.linger.as_ref().map_or(Duration::ZERO, |l| l.get_ref().get()),
        trace: raw.trace.as_ref().is_some_and(|t| *t.get_ref()),
        slow,
    })
}

/// With tracing on skyload writes the `traceparent` itself; a request that sets its own would
/// send two, which a receiver may read either way.
pub fn check_trace(plan: &super::Plan) -> Result<(), String> {
    if !plan.metrics.trace {
        return Ok(());
    }
    match plan.requests.iter().find(|r| r.headers.iter().any(|(h, _)| h.as_str() == "traceparent")) {
        Some(r) => Err(format!(
            "request `{}` sets its own `traceparent` header and tracing is on (trace = true or --trace): remove the header, or turn tracing off",
            r.name
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("9464").unwrap(), "127.0.0.1:9464".parse().unwrap());
        assert_eq!(parse_listen(":9464").unwrap(), "127.0.0.1:9464".parse().unwrap());
        assert_eq!(parse_listen("0.0.0.0:9").unwrap(), "0.0.0.0:9".parse().unwrap());
        assert_eq!(parse_listen("[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        assert!(parse_listen("example.com:9").unwrap_err().contains("numeric IP"));
    }

    #[test]
    fn section_resolves_with_located_errors() {
        let text = "name = \"m\"\n[target]\nurl = \"http://127.0.0.1:1\"\n[[stages]]\nrate = 1\nduration = \"1s\"\n[[requests]]\npath = \"/\"\n[metrics]\nlisten = \"nowhere\"\n";
        let e = crate::scenario::load_str(text, std::path::Path::new("m.toml")).unwrap_err().to_string();
        assert!(e.contains("m.toml:10") && e.contains("metrics.listen"), "{e}");
        let ok = text.replace("\"nowhere\"", "\"9464\"\nlinger = \"3s\"");
        let p = crate::scenario::load_str(&ok, std::path::Path::new("m.toml")).unwrap();
        assert_eq!(p.metrics, MetricsPlan { listen: Some("127.0.0.1:9464".parse().unwrap()), linger: Duration::from_secs(3), ..Default::default() });
        let traced = crate::scenario::load_str(&ok.replace("linger", "trace = true\nslow = 5\nlinger"), std::path::Path::new("m.toml")).unwrap();
        assert!(traced.metrics.trace && traced.metrics.slow == 5);
        let e = crate::scenario::load_str(&ok.replace("linger", "slow = 0\nlinger"), std::path::Path::new("m.toml")).unwrap_err().to_string();
        assert!(e.contains("m.toml:11") && e.contains("metrics.slow") && e.contains("1 to 1000"), "{e}");
        let own = ok.replace("path = \"/\"", "path = \"/\"\n[requests.headers]\ntraceparent = \"x\"");
        let mut p = crate::scenario::load_str(&own, std::path::Path::new("m.toml")).unwrap();
        assert!(check_trace(&p).is_ok(), "no tracing, the scenario's header is just a header");
        p.metrics.trace = true;
        assert!(check_trace(&p).unwrap_err().contains("request `") );
    }
}
