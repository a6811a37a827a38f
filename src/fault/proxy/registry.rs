//! The proxies and their toxics, and every change the API can make to them, with Toxiproxy's rules
//! and error texts (`proxy.go`, `proxy_collection.go`, `toxic_collection.go` in Shopify/toxiproxy).
//!
//! One async lock serializes API calls, as Toxiproxy's collection lock does; the data path never
//! takes it. Each proxy publishes its toxic chains through `watch` channels that live connections
//! follow, and owns a stop signal that its listener and connections obey: disabling a proxy closes
//! its listener (before the API answers) and all its connections.

use super::link::{self, Chain, ChainEntry};
use super::toxic::{ToxicKind, TYPES};
use super::{ApiError, Options};
use crate::fault::toxiproxy::{NewProxy, Proxy, Stream, Toxic};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;

/// All proxies of one server.
pub struct Registry {
    options: Options,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    proxies: BTreeMap<String, Entry>,
    next_uid: u64,
}

struct Entry {
    name: String,
    listen: String,
    upstream: String,
    enabled: bool,
    /// In the order they were added; the API lists upstream ones first, as Toxiproxy does.
    toxics: Vec<ToxicRec>,
    chains: [watch::Sender<Chain>; 2],
    running: Option<Running>,
}

struct ToxicRec {
    name: String,
    stream: Stream,
    toxicity: f32,
    kind: ToxicKind,
    uid: u64,
    rev: u64,
    /// When a leased toxic removes itself (its driver died without removing it).
    lease_until: Option<Instant>,
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// `PATCH /proxies/{name}`: what is not given stays.
#[derive(Debug, Default, Deserialize)]
pub struct ProxyPatch {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
}

/// `POST /proxies/{name}/toxics`
#[derive(Debug, Deserialize)]
pub struct ToxicBody {
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default)]
    pub toxicity: Option<f32>,
    #[serde(default)]
    pub attributes: Value,
    /// From the lease header, not the body: the toxic removes itself unless renewed in time.
    #[serde(skip)]
    pub lease: Option<Duration>,
}

/// `PATCH /proxies/{name}/toxics/{toxic}`: only attributes and toxicity change.
#[derive(Debug, Default, Deserialize)]
pub struct ToxicPatch {
    #[serde(default)]
    pub attributes: Value,
    pub toxicity: Option<f32>,
    /// From the lease header: renews (or starts) the toxic's lease.
    #[serde(skip)]
    pub lease: Option<Duration>,
}

impl Registry {
    pub fn new(options: Options) -> Registry {
        Registry { options, inner: Mutex::new(Inner::default()) }
    }

    /// The token API calls must present, if the server was started with one.
    pub fn control_token(&self) -> Option<&str> {
        self.options.control_token.as_deref()
    }

    pub async fn list(&self) -> BTreeMap<String, Proxy> {
        let inner = self.inner.lock().await;
        inner.proxies.iter().map(|(k, e)| (k.clone(), e.view())).collect()
    }

    pub async fn get(&self, name: &str) -> Result<Proxy, ApiError> {
        let inner = self.inner.lock().await;
        inner.proxies.get(name).map(Entry::view).ok_or_else(ApiError::proxy_not_found)
    }

    /// `POST /proxies`: 409 when the name is taken; the proxy starts when `enabled`.
    pub async fn create(&self, input: NewProxy) -> Result<Proxy, ApiError> {
        check_new(&input, None)?;
        let mut inner = self.inner.lock().await;
        if inner.proxies.contains_key(&input.name) {
            return Err(ApiError::proxy_exists());
        }
        let mut entry = Entry::new(input.name.clone(), input.listen, input.upstream);
        if input.enabled {
            entry.start(&self.options)?;
        }
        let view = entry.view();
        inner.proxies.insert(input.name, entry);
        Ok(view)
    }

    /// `POST /populate`: checks every proxy first, then adds each, replacing a same-named proxy
    /// unless it has the same listen and upstream (then it is kept as it is). On a failure the
    /// proxies done so far are returned with the error, as Toxiproxy does.
    pub async fn populate(&self, input: Vec<NewProxy>) -> (Vec<Proxy>, Option<ApiError>) {
        let mut seen = std::collections::HashSet::new();
        for (i, p) in input.iter().enumerate() {
            if let Err(e) = check_new(p, Some(i + 1)) {
                return (Vec::new(), Some(e));
            }
            if !seen.insert(p.name.as_str()) {
                return (Vec::new(), Some(ApiError::bad_body(format!("duplicate proxy name \"{}\"", p.name))));
            }
        }
        let mut inner = self.inner.lock().await;
        let mut done = Vec::new();
        for p in input {
            if let Some(existing) = inner.proxies.get(&p.name) {
                if existing.listen == p.listen && existing.upstream == p.upstream {
                    done.push(existing.view());
                    continue;
                }
                let mut old = inner.proxies.remove(&p.name).expect("present");
                old.stop().await;
            }
            let mut entry = Entry::new(p.name.clone(), p.listen, p.upstream);
            if p.enabled {
                if let Err(e) = entry.start(&self.options) {
                    return (done, Some(e));
                }
            }
            done.push(entry.view());
            inner.proxies.insert(p.name, entry);
        }
        (done, None)
    }

    /// `PATCH /proxies/{name}`: a new listen or upstream restarts the proxy; `enabled` starts or
    /// stops it (Toxiproxy's `Proxy.Update`).
    pub async fn update(&self, name: &str, patch: ProxyPatch) -> Result<Proxy, ApiError> {
        let mut inner = self.inner.lock().await;
        let entry = inner.proxies.get_mut(name).ok_or_else(ApiError::proxy_not_found)?;
        let listen = patch.listen.unwrap_or_else(|| entry.listen.clone());
        let upstream = patch.upstream.unwrap_or_else(|| entry.upstream.clone());
        let enabled = patch.enabled.unwrap_or(entry.enabled);
        if listen != entry.listen || upstream != entry.upstream {
            entry.stop().await;
            entry.listen = listen;
            entry.upstream = upstream;
        }
        if enabled != entry.enabled {
            if enabled {
                entry.start(&self.options)?;
            } else {
                entry.stop().await;
            }
        }
        Ok(entry.view())
    }

    /// `DELETE /proxies/{name}`
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().await;
        let mut entry = inner.proxies.remove(name).ok_or_else(ApiError::proxy_not_found)?;
        entry.stop().await;
        Ok(())
    }

    /// `POST /reset`: every proxy enabled, every toxic removed.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().await;
        for entry in inner.proxies.values_mut() {
            if !entry.enabled {
                entry.start(&self.options)?;
            }
            entry.toxics.clear();
            entry.publish();
        }
        Ok(())
    }

    /// Stops and forgets every proxy (server shutdown).
    pub async fn remove_all(&self) {
        let mut inner = self.inner.lock().await;
        for (_, mut entry) in std::mem::take(&mut inner.proxies) {
            entry.stop().await;
        }
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ApiError> {
        Ok(self.get(proxy).await?.toxics)
    }

    pub async fn toxic(&self, proxy: &str, toxic: &str) -> Result<Toxic, ApiError> {
        let inner = self.inner.lock().await;
        let entry = inner.proxies.get(proxy).ok_or_else(ApiError::proxy_not_found)?;
        entry.toxics.iter().find(|t| t.name == toxic).map(ToxicRec::view).ok_or_else(ApiError::toxic_not_found)
    }

    /// `POST /proxies/{name}/toxics`, checked in Toxiproxy's order (`AddToxicJson`): stream, name,
    /// type, duplicate name, attributes.
    pub async fn add_toxic(&self, proxy: &str, body: ToxicBody) -> Result<Toxic, ApiError> {
        let mut inner = self.inner.lock().await;
        let uid = inner.next_uid;
        let entry = inner.proxies.get_mut(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let stream = match body.stream.as_deref().unwrap_or("downstream").to_ascii_lowercase().as_str() {
            "upstream" => Stream::Upstream,
            "downstream" => Stream::Downstream,
            _ => return Err(ApiError::new(400, "stream was invalid, can be either upstream or downstream")),
        };
        let name = if body.name.is_empty() { format!("{}_{}", body.kind, stream.as_str()) } else { body.name };
        if !known(&body.kind) {
            return Err(ApiError::new(400, format!("invalid toxic type (this server has {TYPES})")));
        }
        if entry.toxics.iter().any(|t| t.name == name) {
            return Err(ApiError::toxic_exists());
        }
        let kind = ToxicKind::parse(&body.kind, stream, &body.attributes)?.expect("type checked above");
        let toxicity = check_toxicity(body.toxicity.unwrap_or(1.0))?;
        let lease_until = body.lease.map(|l| Instant::now() + l);
        let rec = ToxicRec { name, stream, toxicity, kind, uid, rev: 0, lease_until };
        let view = rec.view();
        entry.toxics.push(rec);
        entry.publish();
        inner.next_uid += 1;
        Ok(view)
    }

    /// `PATCH /proxies/{name}/toxics/{toxic}`
    pub async fn update_toxic(&self, proxy: &str, toxic: &str, patch: ToxicPatch) -> Result<Toxic, ApiError> {
        let mut inner = self.inner.lock().await;
        let entry = inner.proxies.get_mut(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let rec = entry.toxics.iter_mut().find(|t| t.name == toxic).ok_or_else(ApiError::toxic_not_found)?;
        let kind = rec.kind.merged(rec.stream, &patch.attributes)?;
        let toxicity = check_toxicity(patch.toxicity.unwrap_or(rec.toxicity))?;
        rec.kind = kind;
        rec.toxicity = toxicity;
        rec.rev += 1;
        if let Some(l) = patch.lease {
            rec.lease_until = Some(Instant::now() + l);
        }
        let view = rec.view();
        entry.publish();
        Ok(view)
    }

    /// Removes every leased toxic whose lease lapsed before `now` (the run that added it was killed
    /// or lost its way here); returns `(proxy, toxic)` for each, to log.
    pub async fn expire(&self, now: Instant) -> Vec<(String, String)> {
        let mut inner = self.inner.lock().await;
        let mut gone = Vec::new();
        for entry in inner.proxies.values_mut() {
            let before = entry.toxics.len();
            entry.toxics.retain(|t| {
                let lapsed = t.lease_until.is_some_and(|u| u <= now);
                if lapsed {
                    gone.push((entry.name.clone(), t.name.clone()));
                }
                !lapsed
            });
            if entry.toxics.len() != before {
                entry.publish();
            }
        }
        gone
    }

    /// `DELETE /proxies/{name}/toxics/{toxic}`
    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ApiError> {
        let mut inner = self.inner.lock().await;
        let entry = inner.proxies.get_mut(proxy).ok_or_else(ApiError::proxy_not_found)?;
        let before = entry.toxics.len();
        entry.toxics.retain(|t| t.name != toxic);
        if entry.toxics.len() == before {
            return Err(ApiError::toxic_not_found());
        }
        entry.publish();
        Ok(())
    }
}

/// Whether `kind` names a toxic type (its attributes may still be wrong).
fn known(kind: &str) -> bool {
    TYPES.split(", ").any(|t| t == kind)
}

fn check_toxicity(t: f32) -> Result<f32, ApiError> {
    if (0.0..=1.0).contains(&t) {
        Ok(t)
    } else {
        Err(ApiError::bad_body(format!("`toxicity` is a probability from 0 to 1, not {t}")))
    }
}

/// Toxiproxy's required fields (`ProxyCreate`, `PopulateJson`); `at` numbers proxies in populate.
fn check_new(p: &NewProxy, at: Option<usize>) -> Result<(), ApiError> {
    let at = at.map(|i| format!(" at proxy {i}")).unwrap_or_default();
    if p.name.is_empty() {
        return Err(ApiError::missing(format!("name{at}")));
    }
    if p.upstream.is_empty() {
        return Err(ApiError::missing(format!("upstream{at}")));
    }
    Ok(())
}

impl Entry {
    fn new(name: String, listen: String, upstream: String) -> Entry {
        let chains = [watch::channel(Chain::default()).0, watch::channel(Chain::default()).0];
        Entry { name, listen, upstream, enabled: false, toxics: Vec::new(), chains, running: None }
    }

    fn view(&self) -> Proxy {
        let toxics = [Stream::Upstream, Stream::Downstream]
            .iter()
            .flat_map(|s| self.toxics.iter().filter(move |t| t.stream == *s).map(ToxicRec::view))
            .collect();
        Proxy {
            name: self.name.clone(),
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            enabled: self.enabled,
            toxics,
        }
    }

    /// Sends each direction's chain to the live connections.
    fn publish(&self) {
        for (i, stream) in [Stream::Upstream, Stream::Downstream].into_iter().enumerate() {
            let chain: Vec<ChainEntry> = self
                .toxics
                .iter()
                .filter(|t| t.stream == stream)
                .map(|t| ChainEntry { uid: t.uid, rev: t.rev, toxicity: t.toxicity, kind: t.kind.clone() })
                .collect();
            self.chains[i].send_replace(Arc::new(chain));
        }
    }

    /// Binds `listen` (an empty one means any free loopback port) and starts accepting. The bound
    /// address replaces `listen`, so `:0` shows the port it got (as Toxiproxy does).
    fn start(&mut self, options: &Options) -> Result<(), ApiError> {
        if self.enabled {
            return Ok(());
        }
        let wanted = if self.listen.is_empty() { "127.0.0.1:0" } else { self.listen.as_str() };
        let addr: SocketAddr = wanted
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ApiError::new(400, format!("listen `{wanted}` is not an address such as 127.0.0.1:26379")))?;
        if !addr.ip().is_loopback() && !options.allow_remote {
            return Err(ApiError::new(
                403,
                format!("listen {addr} is not loopback; start skyload proxy with --allow-remote to listen elsewhere"),
            ));
        }
        let std_listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| ApiError::new(500, format!("listen tcp {addr}: {e}")))?;
        let listener = TcpListener::from_std(std_listener).map_err(|e| ApiError::new(500, format!("listen tcp {addr}: {e}")))?;
        self.listen = listener.local_addr().map_or(self.listen.clone(), |a| a.to_string());
        let (stop, stop_rx) = watch::channel(false);
        let chains = [self.chains[0].subscribe(), self.chains[1].subscribe()];
        let task = tokio::spawn(accept(listener, self.name.clone(), self.upstream.clone(), chains, stop_rx));
        self.running = Some(Running { stop, task });
        self.enabled = true;
        Ok(())
    }

    /// Stops listening (done when this returns) and closes every connection.
    async fn stop(&mut self) {
        self.enabled = false;
        if let Some(running) = self.running.take() {
            let _ = running.stop.send(true);
            let _ = running.task.await;
        }
    }
}

impl ToxicRec {
    fn view(&self) -> Toxic {
        Toxic {
            attributes: self.kind.attributes(),
            name: self.name.clone(),
            kind: self.kind.type_name().to_string(),
            stream: self.stream,
            toxicity: self.toxicity,
        }
    }
}

async fn accept(
    listener: TcpListener,
    name: String,
    upstream: String,
    chains: [watch::Receiver<Chain>; 2],
    mut stop: watch::Receiver<bool>,
) {
    let for_links = stop.clone();
    loop {
        tokio::select! {
            biased;
            _ = link::stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    tokio::spawn(connect(client, name.clone(), upstream.clone(), chains.clone(), for_links.clone()));
                }
                Err(e) => {
                    tracing::warn!("proxy {name}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }
}

/// Dials the upstream for a new client; when it cannot, the client is closed (as Toxiproxy does).
async fn connect(client: TcpStream, name: String, upstream: String, chains: [watch::Receiver<Chain>; 2], mut stop: watch::Receiver<bool>) {
    let _ = client.set_nodelay(true);
    let dialed = tokio::select! {
        d = TcpStream::connect(&upstream) => d,
        _ = link::stopped(&mut stop) => return,
    };
    match dialed {
        Ok(up) => {
            let _ = up.set_nodelay(true);
            link::run(client, up, chains, stop).await;
        }
        Err(e) => tracing::info!("proxy {name}: cannot connect to upstream {upstream}: {e}"),
    }
}
