//! The REST routes, answering as Toxiproxy 2.x does (`api.go` in Shopify/toxiproxy): the same
//! paths and methods (POST still accepted where PATCH is meant, as Toxiproxy deprecates but keeps),
//! 201 on proxy create and populate, 200 on toxic create and updates, 204 on deletes and reset,
//! errors as `{"error": "...", "status": N}`. Requests from browsers (a `User-Agent` starting
//! with `Mozilla/`) are refused with 403, as Toxiproxy refuses them, so a web page cannot drive
//! the API of a proxy on a developer's machine.

use super::registry::{ProxyPatch, Registry, ToxicBody, ToxicPatch};
use super::ApiError;
use crate::fault::lease::parse_lease;
use crate::fault::toxiproxy::NewProxy;
use crate::scenario::secrets::constant_time_eq;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use serde_json::json;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

pub type Resp = Response<Full<Bytes>>;

/// The version `GET /version` reports: the Toxiproxy API level this server follows, with skyload's
/// version as semver build metadata (so version checks in Toxiproxy clients still pass).
pub const VERSION: &str = concat!("2.12.0+skyload.", env!("CARGO_PKG_VERSION"));

/// Largest request body read (populate files of a few hundred proxies fit easily).
const MAX_BODY: usize = 1024 * 1024;

/// `local` is the address the request's connection arrived at (see [`host_allowed`]).
pub async fn handle(registry: &Registry, local: Option<SocketAddr>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    if !host_allowed(host_of(&req), local) {
        return Ok(error(ApiError::new(403, host_refusal(&req, local))));
    }
    let browser = req
        .headers()
        .get(USER_AGENT)
        .is_some_and(|ua| ua.as_bytes().starts_with(b"Mozilla/"));
    if browser {
        return Ok(plain(StatusCode::FORBIDDEN, "User agent not allowed\n"));
    }
    if cross_site(req.method(), req.headers()) {
        return Ok(error(ApiError::new(403, "cross-site request refused: a change sent by a web page (Origin or Sec-Fetch-Site cross-site) is never accepted")));
    }
    if let Some(want) = registry.control_token() {
        let presented = req.headers().get(hyper::header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
        let expected = format!("Bearer {want}");
        if !constant_time_eq(presented, expected.as_bytes()) {
            let mut r = error(ApiError::new(401, "this proxy API needs a token: send Authorization: Bearer <token> (skyload: --control-token or $SKYLOAD_CONTROL_TOKEN)"));
            r.headers_mut().insert(hyper::header::WWW_AUTHENTICATE, hyper::header::HeaderValue::from_static("Bearer"));
            return Ok(r);
        }
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // An out-of-range lease refused, not ignored: ignoring it added the toxic with no lease, so
    // it never lapsed after the run that asked for one died.
    let lease = match parse_lease(req.headers()) {
        Ok(l) => l,
        Err(e) => return Ok(error(ApiError::new(400, e.to_string()))),
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return Ok(error(ApiError::bad_body(format!("larger than {MAX_BODY} bytes")))),
    };
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let answer = route(registry, &method, &segments, &body, lease).await;
    Ok(answer.unwrap_or_else(error))
}

/// The Host a request names: the `Host` header, or the authority of an HTTP/2 request's URI.
/// `Some(None)` is a Host that is not text, which no honest client sends.
pub fn host_of<B>(req: &Request<B>) -> Option<Option<&str>> {
    match req.headers().get(hyper::header::HOST) {
        Some(h) => Some(h.to_str().ok()),
        None => req.uri().authority().map(|a| Some(a.as_str())),
    }
}

/// Whether a control API (this one, the gateway's `/_control/`) answers a request that names
/// `host` on a connection that arrived at `local`. On a loopback connection the Host must be a
/// loopback name (`localhost`, `*.localhost`), a loopback IP or the local address itself: a web
/// page that rebinds its own DNS name to 127.0.0.1 reaches the port as same-origin and could read
/// every GET, but its requests still name its own host. A connection that arrived on another
/// interface reached an API its operator exposed to the network on purpose (where names such as
/// a Kubernetes service's are normal, and a token is the protection), so Host is not judged
/// there. No Host at all (HTTP/1.0) is not a browser's request.
pub fn host_allowed(host: Option<Option<&str>>, local: Option<SocketAddr>) -> bool {
    let local_ip = local.map(|a| a.ip().to_canonical());
    if local_ip.is_some_and(|ip| !ip.is_loopback()) {
        return true;
    }
    let host = match host {
        None => return true,
        Some(None) => return false,
        Some(Some(h)) => h.trim(),
    };
    // `name`, `name:port`, `[v6]`, `[v6]:port`.
    let port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, tail)) if tail.is_empty() || tail.strip_prefix(':').is_some_and(port) => ip,
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((n, p)) if port(p) => n,
            Some(_) => return false,
            None => host,
        },
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback() || Some(ip.to_canonical()) == local_ip)
}

/// The 403's text: the Host refused and what would be answered.
pub fn host_refusal<B>(req: &Request<B>, local: Option<SocketAddr>) -> String {
    let shown: String = host_of(req).flatten().unwrap_or("(not text)").chars().take(80).collect();
    format!(
        "Host `{shown}` refused: on a loopback address this API answers only to localhost, a loopback IP{} (a web page that rebinds its DNS name to this machine must not reach it); listen on a non-loopback address, with a token, to serve other names",
        local.map(|a| format!(" or {a}")).unwrap_or_default()
    )
}

/// Whether a change comes from a web page. Browsers mark every cross-origin change with `Origin`
/// (and newer ones with `Sec-Fetch-Site`); Toxiproxy's clients and curl send neither, so refusing
/// these keeps stock clients working while a page — even one that rebinds its DNS name to
/// 127.0.0.1, which makes it same-origin but still sends `Origin` — cannot add or remove faults.
/// Reads stay open: a page cannot read the answer without CORS, which this API never grants.
fn cross_site(method: &Method, h: &hyper::HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let fetch_site = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()).unwrap_or("none");
    h.contains_key(hyper::header::ORIGIN) || !matches!(fetch_site, "none" | "same-origin")
}

async fn route(
    r: &Registry,
    method: &Method,
    segments: &[&str],
    body: &Bytes,
    lease: Option<std::time::Duration>,
) -> Result<Resp, ApiError> {
    use Method as M;
    let patch = |m: &Method| m == M::PATCH || m == M::POST;
    match segments {
        ["version"] if method == M::GET => Ok(respond(StatusCode::OK, Bytes::from(format!("{{\"version\": \"{VERSION}\"}}\n")))),
        ["reset"] if method == M::POST => r.reset().await.map(|()| no_content()),
        ["proxies"] if method == M::GET => Ok(ok(&r.list().await)),
        ["proxies"] if method == M::POST => {
            let input: NewProxy = parse(body)?;
            Ok(to_json(StatusCode::CREATED, &r.create(input).await?))
        }
        ["populate"] if method == M::POST => {
            let (proxies, err) = match parse::<Vec<NewProxy>>(body) {
                Ok(input) => r.populate(input).await,
                Err(e) => (Vec::new(), Some(e)),
            };
            Ok(match err {
                None => to_json(StatusCode::CREATED, &json!({ "proxies": proxies })),
                // Toxiproxy sends the error's fields and the proxies done before it failed.
                Some(e) => to_json(
                    status(e.status),
                    &json!({ "error": e.error, "status": e.status, "proxies": proxies }),
                ),
            })
        }
        ["proxies", name] if method == M::GET => Ok(ok(&r.get(name).await?)),
        ["proxies", name] if patch(method) => {
            r.get(name).await?;
            let p: ProxyPatch = parse(body)?;
            Ok(ok(&r.update(name, p).await?))
        }
        ["proxies", name] if method == M::DELETE => r.delete(name).await.map(|()| no_content()),
        ["proxies", name, "toxics"] if method == M::GET => Ok(ok(&r.toxics(name).await?)),
        ["proxies", name, "toxics"] if method == M::POST => {
            r.get(name).await?;
            let mut t: ToxicBody = parse(body)?;
            t.lease = lease;
            Ok(ok(&r.add_toxic(name, t).await?))
        }
        ["proxies", name, "toxics", toxic] if method == M::GET => Ok(ok(&r.toxic(name, toxic).await?)),
        ["proxies", name, "toxics", toxic] if patch(method) => {
            r.toxic(name, toxic).await?;
            let mut t: ToxicPatch = parse(body)?;
            t.lease = lease;
            Ok(ok(&r.update_toxic(name, toxic, t).await?))
        }
        ["proxies", name, "toxics", toxic] if method == M::DELETE => r.remove_toxic(name, toxic).await.map(|()| no_content()),
        ["version"] | ["reset"] | ["proxies"] | ["populate"] | ["proxies", _] | ["proxies", _, "toxics"] | ["proxies", _, "toxics", _] => {
            Err(ApiError::new(405, format!("method {method} not allowed here")))
        }
        _ => Err(ApiError::new(404, "not found: the API has /proxies, /populate, /reset and /version")),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    // An empty body decodes as Go's decoder sees it: end of input.
    serde_json::from_slice(body).map_err(|e| ApiError::bad_body(if body.is_empty() { "EOF".to_string() } else { e.to_string() }))
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn ok<T: Serialize>(v: &T) -> Resp {
    to_json(StatusCode::OK, v)
}

fn to_json<T: Serialize>(code: StatusCode, v: &T) -> Resp {
    respond(code, Bytes::from(serde_json::to_vec(v).expect("API values serialize")))
}

fn error(e: ApiError) -> Resp {
    let mut body = serde_json::to_vec(&e).expect("errors serialize");
    body.push(b'\n');
    respond(status(e.status), Bytes::from(body))
}

fn respond(code: StatusCode, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    r
}

fn plain(code: StatusCode, text: &'static str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = code;
    r.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn no_content() -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

#[cfg(test)]
mod tests {
    use super::host_allowed;
    use std::net::SocketAddr;

    #[test]
    fn hosts_a_rebinding_page_names_are_refused_on_loopback() {
        let lo: Option<SocketAddr> = Some("127.0.0.1:8474".parse().unwrap());
        let lo6: Option<SocketAddr> = Some("[::1]:8474".parse().unwrap());
        for h in ["127.0.0.1:8474", "127.0.0.1", "localhost:8474", "LOCALHOST", "localhost.", "api.localhost:1", "127.1.2.3:9", "[::1]:8474", "[::1]"] {
            assert!(host_allowed(Some(Some(h)), lo), "{h}");
            assert!(host_allowed(Some(Some(h)), lo6), "{h} on [::1]");
        }
        for h in ["evil.example:8474", "evil.example", "localhost.evil.example", "10.0.0.5:8474", "[::ffff:10.0.0.5]:1", "127.0.0.1:80x", "[::1", "", "localhost:"] {
            assert!(!host_allowed(Some(Some(h)), lo), "{h}");
        }
        assert!(!host_allowed(Some(None), lo), "a Host that is not text");
        assert!(host_allowed(None, lo), "no Host: HTTP/1.0, not a browser");
        assert!(!host_allowed(Some(Some("evil.example")), None), "an unknown local address is judged as loopback");
        // A connection that arrived on a network interface: the operator exposed the API.
        let net: Option<SocketAddr> = Some("10.0.0.5:8474".parse().unwrap());
        assert!(host_allowed(Some(Some("toxiproxy.test.svc:8474")), net));
        // IPv4-mapped loopback is loopback.
        let mapped: Option<SocketAddr> = Some("[::ffff:127.0.0.1]:8474".parse().unwrap());
        assert!(!host_allowed(Some(Some("evil.example")), mapped) && host_allowed(Some(Some("[::ffff:127.0.0.1]:8474")), mapped));
    }
}
