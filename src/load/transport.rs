//! HTTP transport for the generator: one TCP connection per `Conn`, opened by us (so TCP_NODELAY is
//! set and churn is exact). HTTP/1.1 goes through the lean client in `h1` (pre-encoded request
//! bytes, one reused buffer, no per-request allocation); HTTP/2 through hyper's connection-level
//! client. `SKYLOAD_H1=hyper` puts HTTP/1.1 back on hyper, to compare the two.
//! Failures come back as the closed `TransportFailure` set, never as error text.

use crate::record::outcome::TransportFailure;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::io;
use std::time::Duration;

pub type Body = Full<Bytes>;

/// Where and how to connect: the dialer (addresses, TLS) and whether connections speak HTTP/2.
#[derive(Clone)]
pub struct Endpoint {
    pub dialer: std::sync::Arc<super::connect::Dialer>,
    pub http2: bool,
}

/// An open connection.
pub enum Conn {
    /// The lean HTTP/1.1 client (the default for HTTP/1.1).
    Lean(Box<super::h1::H1Conn<super::connect::Stream>>),
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Conn {
    /// Opens a connection to the next address in turn (TLS included for `https://`).
    pub async fn open(ep: &Endpoint) -> Result<Conn, TransportFailure> {
        let d = ep.dialer.dial().await.map_err(|e| match e {
            super::connect::DialError::Tls(_) => TransportFailure::Tls,
            _ => TransportFailure::Connect,
        })?;
        // ALPN decides over TLS; the runner offers only the protocol its probe agreed on.
        let h2 = match &d.tls {
            Some((_, info)) => info.is_h2() || (ep.http2 && info.alpn.is_none()),
            None => ep.http2,
        };
        Self::handshake(d.stream, h2).await
    }

    /// Speaks HTTP over an open stream.
    pub async fn handshake(stream: super::connect::Stream, h2: bool) -> Result<Conn, TransportFailure> {
        if h2 {
            let io = TokioIo::new(stream);
            let (send, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|_| TransportFailure::Connect)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Conn::H2(send))
        } else if lean_h1() {
            Ok(Conn::Lean(Box::new(super::h1::H1Conn::new(stream))))
        } else {
            let io = TokioIo::new(stream);
            let (send, conn) = http1::Builder::new().writev(false).handshake(io).await.map_err(|_| TransportFailure::Connect)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok(Conn::H1(send))
        }
    }

    /// Whether the connection can take a request now (an idle keep-alive connection the server
    /// closed is found here, before a request is spent on it).
    pub async fn ready(&mut self) -> bool {
        match self {
            // A closed idle connection shows on the next exchange (`H1Conn::stale`), which the
            // worker then repeats once on a new connection: checking here would cost a syscall.
            Conn::Lean(c) => c.reusable(),
            Conn::H1(s) => s.ready().await.is_ok(),
            Conn::H2(s) => s.ready().await.is_ok(),
        }
    }

    pub fn is_h2(&self) -> bool {
        matches!(self, Conn::H2(_))
    }

    pub fn clone_h2(&self) -> Option<Conn> {
        match self {
            Conn::H2(s) => Some(Conn::H2(s.clone())),
            Conn::H1(_) | Conn::Lean(_) => None,
        }
    }

    async fn send(&mut self, req: Request<Body>) -> Result<Response<Incoming>, hyper::Error> {
        match self {
            Conn::H1(s) => s.send_request(req).await,
            Conn::H2(s) => s.send_request(req).await,
            Conn::Lean(_) => unreachable!("the lean HTTP/1.1 connection takes encoded bytes (Worker::one)"),
        }
    }
}

/// Whether HTTP/1.1 connections use the lean client (read once per process).
fn lean_h1() -> bool {
    static LEAN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LEAN.get_or_init(|| std::env::var("SKYLOAD_H1").map_or(true, |v| v != "hyper"))
}

/// What came back.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body_bytes: u64,
}

/// Bodies are read to the end (so keep-alive works and bytes are counted) but only the first
/// `BODY_KEEP` bytes are kept, and only when an outcome rule looks at the body.
pub const BODY_KEEP: usize = 64 * 1024;

/// Sends one request and reads the whole response before `deadline`.
pub async fn exchange(
    conn: &mut Conn,
    req: Request<Body>,
    keep_body: Option<&mut Vec<u8>>,
    deadline: tokio::time::Instant,
) -> Result<Answer, TransportFailure> {
    let work = async {
        let resp = conn.send(req).await.map_err(|e| classify(&e))?;
        let (parts, mut body) = resp.into_parts();
        let mut n = 0u64;
        let mut keep = keep_body;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| classify(&e))?;
            if let Some(data) = frame.data_ref() {
                n += data.len() as u64;
                if let Some(buf) = keep.as_deref_mut() {
                    let room = BODY_KEEP.saturating_sub(buf.len());
                    buf.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
        }
        Ok(Answer { status: parts.status, headers: parts.headers, body_bytes: n })
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(r) => r,
        Err(_) => Err(TransportFailure::Timeout),
    }
}

/// Maps hyper's error to the closed failure set. Peer hang-ups and resets are `Reset`; what cannot
/// be parsed as HTTP is `Protocol`.
pub fn classify(e: &hyper::Error) -> TransportFailure {
    if e.is_timeout() {
        return TransportFailure::Timeout;
    }
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() || e.is_user() {
        return TransportFailure::Protocol;
    }
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() || e.is_body_write_aborted() {
        return TransportFailure::Reset;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            // A TLS alert after the handshake (a client certificate refused in TLS 1.3).
            if io.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
                return TransportFailure::Tls;
            }
            return match io.kind() {
                io::ErrorKind::TimedOut => TransportFailure::Timeout,
                _ => TransportFailure::Reset,
            };
        }
        src = s.source();
    }
    // HTTP/2 stream and connection errors (RST_STREAM, GOAWAY) end up here.
    TransportFailure::Reset
}

/// Time left until `deadline`, for logging.
pub fn remaining(deadline: tokio::time::Instant) -> Duration {
    deadline.saturating_duration_since(tokio::time::Instant::now())
}
