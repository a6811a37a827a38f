//! A lean HTTP/1.1 client connection for the generator's hot path: the request goes out as bytes
//! the caller encoded (`RequestSet::encode_h1`, one `write_all`), the response is parsed with
//! `httparse` in a buffer the connection owns and reuses, and nothing on the steady path
//! allocates. hyper stays for HTTP/2
//! and for the servers; this exists because hyper's client builds a `Request`, a `HeaderMap` and a
//! boxed body per request, which is most of what separates a generator from wrk per CPU-second.
//!
//! Framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; `Transfer-Encoding: chunked`
//! decoded (extensions and trailers skipped); `Content-Length`; otherwise the body runs to the end
//! of the connection. Interim 1xx responses (100-continue, 103) are skipped. A response that says
//! `Connection: close` (or HTTP/1.0 without keep-alive, or a close-delimited body) leaves the
//! connection unusable, which `reusable()` reports so the pool replaces it.

use crate::record::outcome::TransportFailure;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response head accepted: a bound on memory per connection, not a limit real gateways meet.
pub const MAX_HEAD: usize = 64 * 1024;
/// Response headers parsed per response; more is a protocol error (httparse's `TooManyHeaders`).
pub const MAX_HEADERS: usize = 64;
/// Bytes read from the socket at a time (the buffer's starting size).
const READ_CHUNK: usize = 16 * 1024;

/// A response header the caller wants kept (the pod header, label headers), by lower-case name.
/// Its value is copied into a buffer owned by the capture, reused from response to response.
#[derive(Debug, Default, Clone)]
pub struct Capture {
    name: Vec<u8>,
    value: Vec<u8>,
    found: bool,
}

impl Capture {
    pub fn new(name: &str) -> Capture {
        Capture { name: name.to_ascii_lowercase().into_bytes(), value: Vec::with_capacity(64), found: false }
    }
    /// The value of the header in the last response, if it had one.
    pub fn value(&self) -> Option<&[u8]> {
        self.found.then_some(&self.value[..])
    }
}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl<S: AsyncRead + AsyncWrite + Unpin> H1Conn<S> {
    pub fn new(io: S) -> H1Conn<S> {
        H1Conn { io, buf: vec![0; READ_CHUNK], start: 0, end: 0, reusable: true, served: 0, stale: false }
    }

    /// Whether another request may be sent on this connection.
    pub fn reusable(&self) -> bool {
        self.reusable
    }

    /// Whether the last exchange failed the way a server's close of an idle kept-alive connection
    /// looks (nothing of the response read, the connection had served before): the caller may send
    /// the request again on a new connection, as HTTP clients do (RFC 9112 §9.3.1).
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
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        let r = self.exchange_inner(request, head_request, captures, keep_body).await;
        match r {
            Ok(_) => self.served += 1,
            Err(TransportFailure::Reset) => self.stale = self.served > 0 && self.end == 0,
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
        self.io.write_all(request).await.map_err(|e| io_failure(&e))?;
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
        let n = self.io.read(&mut self.buf[self.end..]).await.map_err(|e| io_failure(&e))?;
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
                clear(captures);
                let mut scan = HeadScan::default();
                if let Some((len, status)) = fast_head(&self.buf[self.start..self.end], &mut scan, captures) {
                    self.start += len;
                    return Ok(scan.finish(status, head_request));
                }
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

/// What a response head says about framing and the connection, gathered header by header (by the
/// hand-read fast path and by the httparse path alike).
#[derive(Default)]
struct HeadScan {
    length: Option<u64>,
    chunked: bool,
    close: bool,
    http10: bool,
}

impl HeadScan {
    #[inline]
    fn header(&mut self, name: &[u8], value: &[u8], captures: &mut [Capture]) -> Result<(), TransportFailure> {
        // By length first: most headers (date, server, content-type) are none of the three.
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let n = parse_decimal(value).ok_or(TransportFailure::Protocol)?;
                if self.length.is_some_and(|m| m != n) {
                    return Err(TransportFailure::Protocol);
                }
                self.length = Some(n);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => self.chunked = last_token_is(value, b"chunked"),
            10 if name.eq_ignore_ascii_case(b"connection") => {
                if has_token(value, b"close") {
                    self.close = true;
                } else if self.http10 && has_token(value, b"keep-alive") {
                    self.close = false;
                }
            }
            _ => {}
        }
        for c in captures.iter_mut() {
            if !c.found && name.eq_ignore_ascii_case(&c.name) {
                c.value.extend_from_slice(value);
                c.found = true;
            }
        }
        Ok(())
    }

    /// The framing of the body and whether the connection stays usable (RFC 9112 §6.3).
    fn finish(mut self, status: u16, head_request: bool) -> (u16, Framing, bool) {
        let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
            Framing::None
        } else if self.chunked {
            Framing::Chunked
        } else if let Some(n) = self.length {
            Framing::Length(n)
        } else {
            self.close = true;
            Framing::UntilClose
        };
        (status, framing, !self.close)
    }
}

/// httparse's reading of a head: Ok(None) while it is incomplete.
fn slow_head(b: &[u8], head_request: bool, captures: &mut [Capture]) -> Result<Option<(usize, (u16, Framing, bool))>, TransportFailure> {
    let mut scan = HeadScan::default();
    clear(captures);
    // Left uninitialised: filling 64 empty headers (2 KiB) per response cost more than parsing
    // nginx's five.
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut resp, b, &mut headers) {
        Ok(httparse::Status::Complete(len)) => {
            let status = resp.code.ok_or(TransportFailure::Protocol)?;
            scan.http10 = resp.version == Some(0);
            scan.close = scan.http10;
            for h in resp.headers.iter() {
                scan.header(h.name.as_bytes(), h.value, captures)?;
            }
            Ok(Some((len, scan.finish(status, head_request))))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(TransportFailure::Protocol),
    }
}

fn clear(captures: &mut [Capture]) {
    for c in captures.iter_mut() {
        c.found = false;
        c.value.clear();
    }
}

/// RFC 9110 `tchar`: the bytes a header name may hold.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        c += 1;
    }
    t
};

/// Where the reason phrase or field value starting at `i` ends (its CR): None if a byte other than
/// HTAB, SP, visible ASCII or obs-text (httparse's set) comes first, or `b` ends before a CR.
/// Eight bytes per step: a word with no control byte and no DEL is skipped whole.
#[inline]
fn field_end(b: &[u8], mut i: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    loop {
        if let Some(chunk) = b.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().ok()?);
            // Bytes below 0x20 (not obs-text: its high bit keeps `!w`'s clear) and DEL (0x7f).
            let ctl = w.wrapping_sub(0x20 * LO) & !w & HI;
            let x = w ^ (0x7f * LO);
            let del = x.wrapping_sub(LO) & !x & HI;
            let m = ctl | del;
            if m == 0 {
                i += 8;
                continue;
            }
            // The lowest flagged byte is exact (borrows only flag bytes above it).
            i += (m.trailing_zeros() / 8) as usize;
        } else {
            while matches!(*b.get(i)?, c if c >= 0x20 && c != 0x7f) {
                i += 1;
            }
        }
        match b[i] {
            b'\r' => return Some(i),
            b'\t' => i += 1,
            _ => return None,
        }
    }
}

/// Reads a complete, plain HTTP/1.1 response head with a final (≥ 200) status: its length and
/// status, each header given to `scan`. None — leaving the decision to httparse — for anything
/// else: another version, a 1xx, a head not complete in `b`, a byte outside the grammar, more than
/// `MAX_HEADERS` headers, or a header `scan` rejects (httparse's path rejects it the same way).
fn fast_head(b: &[u8], scan: &mut HeadScan, captures: &mut [Capture]) -> Option<(usize, u16)> {
    if b.len() < 17 || &b[..9] != b"HTTP/1.1 " || b[12] != b' ' {
        return None;
    }
    let (d0, d1, d2) = (b[9].wrapping_sub(b'0'), b[10].wrapping_sub(b'0'), b[11].wrapping_sub(b'0'));
    if d0 > 9 || d1 > 9 || d2 > 9 || d0 < 2 {
        return None;
    }
    let status = u16::from(d0) * 100 + u16::from(d1) * 10 + u16::from(d2);
    let mut i = 13;
    // The reason phrase.
    i = field_end(b, i)?;
    if *b.get(i + 1)? != b'\n' {
        return None;
    }
    i += 2;
    for _ in 0..=MAX_HEADERS {
        if *b.get(i)? == b'\r' {
            return (*b.get(i + 1)? == b'\n').then_some((i + 2, status));
        }
        let name_at = i;
        loop {
            let c = *b.get(i)?;
            if c == b':' {
                break;
            }
            if !TCHAR[c as usize] {
                return None;
            }
            i += 1;
        }
        if i == name_at {
            return None;
        }
        let name = &b[name_at..i];
        i += 1;
        while matches!(*b.get(i)?, b' ' | b'\t') {
            i += 1;
        }
        let value_at = i;
        i = field_end(b, i)?;
        if *b.get(i + 1)? != b'\n' {
            return None;
        }
        let value = b[value_at..i].trim_ascii_end();
        scan.header(name, value, captures).ok()?;
        i += 2;
    }
    None
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

fn parse_decimal(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + u64::from(b - b'0')))
}

fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(|t| t.trim_ascii())
}

fn has_token(v: &[u8], token: &[u8]) -> bool {
    tokens(v).any(|t| t.eq_ignore_ascii_case(token))
}

/// Chunked applies only when it is the last transfer coding (RFC 9112 §6.3).
fn last_token_is(v: &[u8], token: &[u8]) -> bool {
    tokens(v).last().is_some_and(|t| t.eq_ignore_ascii_case(token))
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

    /// The hand-read fast path agrees with httparse wherever it answers, and declines what it does
    /// not know: every head below, cut at every length, read both ways.
    #[test]
    fn fast_head_agrees_with_httparse_or_declines() {
        let mut heads: Vec<Vec<u8>> = [
            &b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 16:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"[..],
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nX-Pod:  pod-7 \t\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 304 \r\nContent-Length: 10\r\n\r\n",
            b"HTTP/1.1 200 \xe2\x9c\x93 fine\r\nx-note: caf\xc3\xa9\r\ncontent-length: 1\r\n\r\nx",
            b"HTTP/1.1 200 OK\r\nx-empty:\r\ncontent-length: 3\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad header: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nx-ctl: a\x01b\r\n\r\n",
            b"HTTP/1.1 200 OK\nx-lf: only\n\n",
            b"HTTP/1.1 200 OK\r\nx-fold: a\r\n b\r\n\r\n",
            b"HTTP/1.1 200\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
            b"HTTP/1.1 2x0 OK\r\n\r\n",
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.1 999 Odd\r\ncontent-length: 0\r\n\r\n",
        ]
        .iter()
        .map(|h| h.to_vec())
        .collect();
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS + 1 {
            many.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        heads.push(many);
        let mut fast_answers = 0;
        for head in &heads {
            for cut in 0..=head.len() {
                let b = &head[..cut];
                for head_request in [false, true] {
                    let mut caps = vec![Capture::new("x-pod"), Capture::new("content-type")];
                    let slow = slow_head(b, head_request, &mut caps);
                    let slow_caps: Vec<_> = caps.iter().map(|c| c.value().map(<[u8]>::to_vec)).collect();
                    clear(&mut caps);
                    let mut scan = HeadScan::default();
                    let Some((len, status)) = fast_head(b, &mut scan, &mut caps) else { continue };
                    fast_answers += 1;
                    let fast = (len, scan.finish(status, head_request));
                    let fast_caps: Vec<_> = caps.iter().map(|c| c.value().map(<[u8]>::to_vec)).collect();
                    let shown = String::from_utf8_lossy(b);
                    assert_eq!(slow, Ok(Some(fast)), "{shown:?}");
                    assert_eq!(slow_caps, fast_caps, "{shown:?}");
                }
            }
        }
        // Each complete plain head above is read by the fast path (both request kinds).
        assert!(fast_answers >= 2 * 8, "fast path answered only {fast_answers} times");
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
