//! A lean HTTP/1.1 client connection for the generator's hot path: the request goes out as bytes
//! the caller encoded (`RequestSet::encode_h1`, one `send` straight at the socket, `write_all` for what did not fit), the response is parsed with
//! `h1_head` (hand-read, httparse for the unusual) in a buffer the connection owns and reuses, and nothing on the steady path
//! allocates. hyper stays for HTTP/2
//! and for the servers; this exists because hyper's client builds a `Request`, a `HeaderMap` and a
//! boxed body per request, which is most of what separates a generator from wrk per CPU-second.
//!
//! Framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; `Transfer-Encoding: chunked`
//! decoded (extensions and trailers skipped); `Content-Length`; otherwise the body runs to the end
//! of the connection. Interim 1xx responses (100-continue, 103) are skipped. A response that says
//! `Connection: close` (or HTTP/1.0 without keep-alive, or a close-delimited body) leaves the
//! connection unusable, which `reusable()` reports so the pool replaces it.

use super::h1_head::{clear, fast_head, slow_head, Capture, Framing, HeadMemo, HeadScan};
use crate::record::outcome::TransportFailure;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response head accepted: a bound on memory per connection, not a limit real gateways meet.
pub const MAX_HEAD: usize = 64 * 1024;
/// Response headers parsed per response; more is a protocol error (httparse's `TooManyHeaders`).
pub const MAX_HEADERS: usize = 64;
/// Bytes read from the socket at a time (the buffer's starting size).
const READ_CHUNK: usize = 16 * 1024;


/// What one exchange brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub body_bytes: u64,
}

/// One HTTP/1.1 connection over any byte stream (TCP, or TLS from the connector).
pub struct H1Conn<S> {
    io: S,
    buf: Vec<u8>,
    /// Unparsed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    reusable: bool,
    /// Exchanges completed on this connection.
    served: u64,
    /// The last exchange failed on a kept-alive connection before any byte of its response came
    /// back: the server had most likely closed the idle connection (the keep-alive race).
    stale: bool,
    /// The last exchange's read failed with ECONNRESET: the server reset a connection our
    /// request had reached (a closed idle connection reads as end of stream, or fails the write).
    peer_reset: bool,
    /// The last head read, to skip reading the same one again.
    memo: HeadMemo,
}

/// A write straight at the socket, without a future: the request is a few hundred bytes and the
/// socket's send buffer is empty between requests, so it goes out in one `send` nearly always,
/// and the `write_all` future (its poll, tokio's readiness check and coop budget, mio's write)
/// is left for what did not fit. `WouldBlock` when the stream cannot (TLS, a test's pipe) or the
/// socket is not known writable: the caller writes the rest the async way.
pub trait TryWriteNow {
    fn try_write_now(&mut self, buf: &[u8]) -> std::io::Result<usize>;
}

impl TryWriteNow for tokio::net::TcpStream {
    #[inline]
    fn try_write_now(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Through tokio's registration: a WouldBlock clears its readiness, so the async write
        // that follows waits for the socket instead of trying again at once.
        self.try_write(buf)
    }
}

impl TryWriteNow for tokio::io::DuplexStream {
    fn try_write_now(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::WouldBlock.into())
    }
}

impl<S: AsyncRead + AsyncWrite + TryWriteNow + Unpin> H1Conn<S> {
    pub fn new(io: S) -> H1Conn<S> {
        H1Conn { io, buf: vec![0; READ_CHUNK], start: 0, end: 0, reusable: true, served: 0, stale: false, peer_reset: false, memo: HeadMemo::default() }
    }

    /// Whether another request may be sent on this connection.
    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// Whether the last exchange failed the way a server's close of an idle kept-alive connection
    /// looks (nothing of the response read, the connection had served before, and not reset while
    /// our request was on it): the caller may send the request again on a new connection, as HTTP
    /// clients do (RFC 9112 §9.3.1).
    pub fn stale(&self) -> bool {
        self.stale
    }

    /// The underlying stream (for TLS details, peer address).
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// Sends `request` (a complete HTTP/1.1 request, head and body) and reads the response to its
    /// end. `head_request` says the request was HEAD (the response then has no body whatever its
    /// headers say). With `keep_body = Some((buf, max))` the first `max` body bytes are appended to
    /// `buf` (for outcome rules that look at bodies). Captured headers come from the final response.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
        captures: &mut [Capture],
        keep_body: Option<(&mut Vec<u8>, usize)>,
    ) -> Result<Head, TransportFailure> {
        if !self.reusable {
            return Err(TransportFailure::Reset);
        }
        // Until the whole response is read the connection is in an unknown state.
        self.reusable = false;
        self.stale = false;
        self.peer_reset = false;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let r = self.exchange_inner(request, head_request, captures, keep_body).await;
        match r {
            Ok(_) => self.served += 1,
            // A reset after the request was written is the target's answer, counted as `reset`:
            // sending it again hid every reset of a server that drops requests (and sent a POST twice).
            Err(TransportFailure::Reset) => self.stale = self.served > 0 && self.end == 0 && !self.peer_reset,
            Err(_) => {}
        }
        r
    }

    async fn exchange_inner(
        &mut self,
        request: &[u8],
        head_request: bool,
        captures: &mut [Capture],
        mut keep_body: Option<(&mut Vec<u8>, usize)>,
    ) -> Result<Head, TransportFailure> {
        let sent = match self.io.try_write_now(request) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(io_failure(&e)),
        };
        if sent < request.len() {
            self.io.write_all(&request[sent..]).await.map_err(|e| io_failure(&e))?;
        }
        let (status, framing, keep_alive) = loop {
            let (status, framing, keep_alive) = self.read_head(head_request, captures).await?;
            if (100..200).contains(&status) && status != 101 {
                continue;
            }
            break (status, framing, keep_alive);
        };
        let body_bytes = match framing {
            Framing::None => 0,
            Framing::Length(n) => self.body_length(n, &mut keep_body).await?,
            Framing::Chunked => self.body_chunked(&mut keep_body).await?,
            Framing::UntilClose => {
                let n = self.body_until_close(&mut keep_body).await?;
                return Ok(Head { status, body_bytes: n });
            }
        };
        self.reusable = keep_alive && status != 101;
        Ok(Head { status, body_bytes })
    }

    /// Reads more bytes into the buffer, compacting or growing it (up to `MAX_HEAD` for a head).
    /// Returns the number read; 0 is end of stream.
    async fn fill(&mut self) -> Result<usize, TransportFailure> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < MAX_HEAD {
                self.buf.resize((self.buf.len() * 2).min(MAX_HEAD), 0);
            } else {
                return Err(TransportFailure::Protocol);
            }
        }
        let n = self.io.read(&mut self.buf[self.end..]).await.map_err(|e| {
            self.peer_reset = e.kind() == std::io::ErrorKind::ConnectionReset;
            io_failure(&e)
        })?;
        self.end += n;
        Ok(n)
    }

    async fn read_head(
        &mut self,
        head_request: bool,
        captures: &mut [Capture],
    ) -> Result<(u16, Framing, bool), TransportFailure> {
        loop {
            if self.end > self.start {
                // The plain case (HTTP/1.1, a final status, well-formed header lines) is read by
                // hand in one pass; anything else — HTTP/1.0, 1xx, a head not complete yet, a byte
                // httparse would judge — falls back to httparse, which decides. Captures are of
                // the head parsed last, the final response's.
                // The same head as last time reads the same (`HeadMemo`): the common case.
                let avail = &self.buf[self.start..self.end];
                if let Some((len, status, scan)) = self.memo.hit(avail, captures) {
                    self.start += len;
                    return Ok(scan.finish(status, head_request));
                }
                clear(captures);
                let mut scan = HeadScan::default();
                if let Some((len, status)) = fast_head(avail, &mut scan, captures) {
                    self.memo.keep(&avail[..len], status, scan, captures);
                    self.start += len;
                    return Ok(scan.finish(status, head_request));
                }
                self.memo.forget();
                if let Some((len, head)) = slow_head(&self.buf[self.start..self.end], head_request, captures)? {
                    self.start += len;
                    return Ok(head);
                }
            }
            if self.fill().await? == 0 {
                return Err(TransportFailure::Reset);
            }
        }
    }

    /// Takes up to `want` buffered body bytes, reading when the buffer is empty; 0 means the
    /// stream ended.
    async fn take(&mut self, want: u64, keep: &mut Option<(&mut Vec<u8>, usize)>) -> Result<usize, TransportFailure> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.fill().await? == 0 {
                return Ok(0);
            }
        }
        let n = ((self.end - self.start) as u64).min(want) as usize;
        if let Some((v, max)) = keep.as_mut() {
            let room = max.saturating_sub(v.len()).min(n);
            v.extend_from_slice(&self.buf[self.start..self.start + room]);
        }
        self.start += n;
        Ok(n)
    }

    async fn body_length(&mut self, n: u64, keep: &mut Option<(&mut Vec<u8>, usize)>) -> Result<u64, TransportFailure> {
        let mut left = n;
        while left > 0 {
            let got = self.take(left, keep).await?;
            if got == 0 {
                return Err(TransportFailure::Reset);
            }
            left -= got as u64;
        }
        Ok(n)
    }

    async fn body_until_close(&mut self, keep: &mut Option<(&mut Vec<u8>, usize)>) -> Result<u64, TransportFailure> {
        let mut total = 0u64;
        loop {
            let got = self.take(u64::MAX, keep).await?;
            if got == 0 {
                return Ok(total);
            }
            total += got as u64;
        }
    }

    /// Reads one CRLF-terminated line's length (including CRLF) from the buffer, reading more
    /// as needed; the line stays in the buffer at `start`.
    async fn line(&mut self) -> Result<usize, TransportFailure> {
        let mut scanned = 0;
        loop {
            let avail = &self.buf[self.start..self.end];
            if let Some(i) = avail[scanned..].windows(2).position(|w| w == b"\r\n") {
                return Ok(scanned + i + 2);
            }
            scanned = avail.len().saturating_sub(1);
            if self.fill().await? == 0 {
                return Err(TransportFailure::Reset);
            }
        }
    }

    async fn body_chunked(&mut self, keep: &mut Option<(&mut Vec<u8>, usize)>) -> Result<u64, TransportFailure> {
        let mut total = 0u64;
        loop {
            let len = self.line().await?;
            let size = match httparse::parse_chunk_size(&self.buf[self.start..self.start + len]) {
                Ok(httparse::Status::Complete((_, size))) => size,
                _ => return Err(TransportFailure::Protocol),
            };
            self.start += len;
            if size == 0 {
                // Trailer fields, then the empty line that ends the message.
                loop {
                    let len = self.line().await?;
                    self.start += len;
                    if len == 2 {
                        return Ok(total);
                    }
                }
            }
            total += self.body_length(size, keep).await?;
            let len = self.line().await?;
            if len != 2 {
                return Err(TransportFailure::Protocol);
            }
            self.start += len;
        }
    }
}


/// An I/O error as the closed failure set: a TLS alert after the handshake (a client certificate
/// refused under TLS 1.3) is `tls`, a socket timeout `timeout`, anything else a reset.
fn io_failure(e: &std::io::Error) -> TransportFailure {
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        return TransportFailure::Tls;
    }
    match e.kind() {
        std::io::ErrorKind::TimedOut => TransportFailure::Timeout,
        _ => TransportFailure::Reset,
    }
}


#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncWriteExt};

    /// Runs `exchange` against a scripted peer that answers `reply` (in the pieces given, to test
    /// reads that split anywhere) and returns the result and the connection's reusability.
    fn run(reply: &[&[u8]], head: bool, capture: &[&str]) -> (Result<Head, TransportFailure>, bool, Vec<Capture>, Vec<u8>) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, mut server) = duplex(1 << 20);
            let pieces: Vec<Vec<u8>> = reply.iter().map(|p| p.to_vec()).collect();
            let peer = tokio::spawn(async move {
                let mut req = vec![0u8; 4096];
                let _ = server.read(&mut req).await.unwrap();
                for p in pieces {
                    server.write_all(&p).await.unwrap();
                    tokio::task::yield_now().await;
                }
                server
            });
            let mut conn = H1Conn::new(client);
            let mut caps: Vec<Capture> = capture.iter().map(|n| Capture::new(n)).collect();
            let mut body = Vec::new();
            let req: &[u8] = if head { b"HEAD /x HTTP/1.1\r\nhost: h\r\n\r\n" } else { b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n" };
            let r = conn.exchange(req, head, &mut caps, Some((&mut body, 1024))).await;
            drop(peer.await.unwrap());
            (r, conn.reusable(), caps, body)
        })
    }

    fn run_close(reply: &[u8]) -> (Result<Head, TransportFailure>, bool, Vec<u8>) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, mut server) = duplex(1 << 20);
            let reply = reply.to_vec();
            tokio::spawn(async move {
                let mut req = vec![0u8; 4096];
                let _ = server.read(&mut req).await.unwrap();
                server.write_all(&reply).await.unwrap();
                drop(server);
            });
            let mut conn = H1Conn::new(client);
            let mut body = Vec::new();
            let r = conn.exchange(b"GET / HTTP/1.1\r\nhost: h\r\n\r\n", false, &mut [], Some((&mut body, 1024))).await;
            (r, conn.reusable(), body)
        })
    }


    /// Heads repeated on one connection read from the memo exactly as when read afresh: captures,
    /// status and framing follow each response, through a changed header, an interim 100, a HEAD
    /// request (no body whatever the remembered head says) and a close.
    #[test]
    fn repeated_heads_read_as_when_read_afresh() {
        let a: &[u8] = b"HTTP/1.1 200 OK\r\nx-pod: a\r\ncontent-length: 2\r\n\r\nok";
        let b: &[u8] = b"HTTP/1.1 200 OK\r\nx-pod: bb\r\ncontent-length: 3\r\n\r\nyes";
        let a_head: &[u8] = b"HTTP/1.1 200 OK\r\nx-pod: a\r\ncontent-length: 2\r\n\r\n";
        let a_close: &[u8] = b"HTTP/1.1 200 OK\r\nx-pod: a\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
        let interim: Vec<u8> = [&b"HTTP/1.1 100 Continue\r\n\r\n"[..], a].concat();
        let no_pod: &[u8] = b"HTTP/1.1 503 Busy\r\ncontent-length: 2\r\n\r\nok";
        // (reply, HEAD request?, expected head, expected x-pod, reusable after)
        let script: Vec<(Vec<u8>, bool, Head, Option<&[u8]>, bool)> = vec![
            (a.to_vec(), false, Head { status: 200, body_bytes: 2 }, Some(b"a"), true),
            (a.to_vec(), false, Head { status: 200, body_bytes: 2 }, Some(b"a"), true),
            (b.to_vec(), false, Head { status: 200, body_bytes: 3 }, Some(b"bb"), true),
            (a.to_vec(), false, Head { status: 200, body_bytes: 2 }, Some(b"a"), true),
            (interim, false, Head { status: 200, body_bytes: 2 }, Some(b"a"), true),
            (a.to_vec(), false, Head { status: 200, body_bytes: 2 }, Some(b"a"), true),
            (a_head.to_vec(), true, Head { status: 200, body_bytes: 0 }, Some(b"a"), true),
            (no_pod.to_vec(), false, Head { status: 503, body_bytes: 2 }, None, true),
            (no_pod.to_vec(), false, Head { status: 503, body_bytes: 2 }, None, true),
            (a.to_vec(), false, Head { status: 200, body_bytes: 2 }, Some(b"a"), true),
            (a_close.to_vec(), false, Head { status: 200, body_bytes: 2 }, Some(b"a"), false),
        ];
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, mut server) = duplex(1 << 20);
            let replies: Vec<Vec<u8>> = script.iter().map(|s| s.0.clone()).collect();
            let peer = tokio::spawn(async move {
                let mut req = vec![0u8; 4096];
                for r in replies {
                    let _ = server.read(&mut req).await.unwrap();
                    server.write_all(&r).await.unwrap();
                }
                server
            });
            let mut conn = H1Conn::new(client);
            let mut caps = [Capture::new("X-Pod")];
            for (i, (_, head, want, pod, reusable)) in script.iter().enumerate() {
                let req: &[u8] = if *head { b"HEAD /x HTTP/1.1\r\nhost: h\r\n\r\n" } else { b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n" };
                let got = conn.exchange(req, *head, &mut caps, None).await;
                assert_eq!(got, Ok(*want), "response {i}");
                assert_eq!(caps[0].value(), *pod, "response {i}");
                assert_eq!(conn.reusable(), *reusable, "response {i}");
            }
            drop(peer.await.unwrap());
        });
    }

    #[test]
    fn content_length_body_in_split_reads() {
        let (r, reusable, caps, body) =
            run(&[b"HTTP/1.1 200 OK\r\nx-pod: p", b"od-1\r\ncontent-length: 5\r\n\r\nhe", b"llo"], false, &["X-Pod"]);
        assert_eq!(r, Ok(Head { status: 200, body_bytes: 5 }));
        assert!(reusable);
        assert_eq!(caps[0].value(), Some(&b"pod-1"[..]));
        assert_eq!(body, b"hello");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let (r, reusable, _, body) = run(
            &[b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n", b"2\r\nde\r\n0\r\nx-trailer: 1\r\n\r\n"],
            false,
            &[],
        );
        assert_eq!(r, Ok(Head { status: 200, body_bytes: 5 }));
        assert!(reusable);
        assert_eq!(body, b"abcde");
    }

    #[test]
    fn interim_100_continue_and_103_are_skipped() {
        let (r, reusable, caps, _) = run(
            &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n", b"HTTP/1.1 201 Created\r\nx-pod: b\r\ncontent-length: 0\r\n\r\n"],
            false,
            &["x-pod"],
        );
        assert_eq!(r, Ok(Head { status: 201, body_bytes: 0 }));
        assert!(reusable);
        assert_eq!(caps[0].value(), Some(&b"b"[..]));
    }

    #[test]
    fn head_response_has_no_body_whatever_its_length_says() {
        let (r, reusable, _, _) = run(&[b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n"], true, &[]);
        assert_eq!(r, Ok(Head { status: 200, body_bytes: 0 }));
        assert!(reusable);
    }

    #[test]
    fn no_body_for_204_and_304() {
        for s in [&b"HTTP/1.1 204 No Content\r\n\r\n"[..], b"HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n"] {
            let (r, reusable, _, _) = run(&[s], false, &[]);
            assert_eq!(r.unwrap().body_bytes, 0);
            assert!(reusable);
        }
    }

    #[test]
    fn connection_close_makes_the_connection_unusable() {
        let (r, reusable, _, _) = run(&[b"HTTP/1.1 503 Busy\r\nconnection: close\r\ncontent-length: 2\r\n\r\nno"], false, &[]);
        assert_eq!(r, Ok(Head { status: 503, body_bytes: 2 }));
        assert!(!reusable);
    }

    #[test]
    fn http10_closes_unless_keep_alive() {
        let (_, reusable, _, _) = run(&[b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"], false, &[]);
        assert!(!reusable);
        let (_, reusable, _, _) = run(&[b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n"], false, &[]);
        assert!(reusable);
    }

    #[test]
    fn body_without_length_runs_to_the_end_of_the_connection() {
        let (r, reusable, body) = run_close(b"HTTP/1.1 200 OK\r\n\r\nuntil close");
        assert_eq!(r, Ok(Head { status: 200, body_bytes: 11 }));
        assert!(!reusable);
        assert_eq!(body, b"until close");
    }

    #[test]
    fn truncated_body_is_a_reset_and_garbage_is_a_protocol_error() {
        let (r, _, _) = run_close(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort");
        assert_eq!(r, Err(TransportFailure::Reset));
        let (r, _, _) = run_close(b"SSH-2.0-OpenSSH\r\n\r\n");
        assert_eq!(r, Err(TransportFailure::Protocol));
        let (r, _, _) = run_close(b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab");
        assert_eq!(r, Err(TransportFailure::Protocol));
    }

    #[test]
    fn kept_body_is_bounded() {
        let big = [b'x'; 3000];
        let mut reply = b"HTTP/1.1 200 OK\r\ncontent-length: 3000\r\n\r\n".to_vec();
        reply.extend_from_slice(&big);
        let (r, _, _, body) = run(&[&reply], false, &[]);
        assert_eq!(r.unwrap().body_bytes, 3000);
        assert_eq!(body.len(), 1024);
    }

    /// Counts heap allocations made on threads that opted in, so the zero-allocation claim of the
    /// steady path is checked, not asserted in a comment. Only this test binary uses it.
    pub(crate) mod counting {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        pub struct Counting;

        /// Heap allocations made on this thread while `f` runs.
        pub fn allocations_in(f: impl FnOnce()) -> u64 {
            let before = COUNT.with(|c| c.get());
            ON.with(|on| on.set(true));
            f();
            ON.with(|on| on.set(false));
            COUNT.with(|c| c.get()) - before
        }
        thread_local! {
            pub static ON: Cell<bool> = const { Cell::new(false) };
            pub static COUNT: Cell<u64> = const { Cell::new(0) };
            /// Sizes of the first allocations counted on this thread (for a failure message).
            pub static SIZES: Cell<[u32; 16]> = const { Cell::new([0; 16]) };
        }

        fn count(size: usize) {
            let _ = ON.try_with(|on| {
                if on.get() {
                    COUNT.with(|c| c.set(c.get() + 1));
                    SIZES.with(|s| {
                        let mut a = s.get();
                        if let Some(x) = a.iter_mut().find(|x| **x == 0) {
                            *x = size.min(u32::MAX as usize) as u32;
                        }
                        s.set(a);
                    });
                }
            });
        }
        // SAFETY: forwards to the system allocator; the thread-locals are const-initialised
        // `Cell`s, which never allocate.
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, l: Layout) -> *mut u8 {
                count(l.size());
                System.alloc(l)
            }
            unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
                System.dealloc(p, l)
            }
            unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
                count(n);
                System.realloc(p, l, n)
            }
        }
        #[global_allocator]
        static A: Counting = Counting;
    }

    #[test]
    fn steady_exchanges_allocate_nothing() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        const N: usize = 2_000;
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.set_nodelay(true).unwrap();
            let mut buf = [0u8; 4096];
            let reply = b"HTTP/1.1 200 OK\r\nx-pod: pod-1\r\ncontent-length: 5\r\n\r\nhello";
            let mut pending = Vec::new();
            let mut answered = 0;
            while answered < N {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "client went away");
                pending.extend_from_slice(&buf[..n]);
                while let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                    pending.drain(..i + 4);
                    s.write_all(reply).unwrap();
                    answered += 1;
                }
            }
        });
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let per_request = rt.block_on(async {
            let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut conn = H1Conn::new(stream);
            let mut caps = [Capture::new("x-pod")];
            let req: &[u8] = b"GET /fn/hello HTTP/1.1\r\nhost: 127.0.0.1\r\nx-request-id: 42\r\n\r\n";
            let warm = 100;
            for i in 0..N {
                if i == warm {
                    counting::ON.with(|on| on.set(true));
                }
                let h = conn.exchange(req, false, &mut caps, None).await.unwrap();
                assert_eq!(h, Head { status: 200, body_bytes: 5 });
            }
            counting::ON.with(|on| on.set(false));
            assert_eq!(caps[0].value(), Some(&b"pod-1"[..]));
            counting::COUNT.with(|c| c.get()) as f64 / (N - warm) as f64
        });
        server.join().unwrap();
        assert_eq!(per_request, 0.0, "heap allocations per request on the steady path");
    }
}
