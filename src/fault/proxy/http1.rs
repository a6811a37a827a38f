//! HTTP/1.1 request boundaries on a byte stream, so `http_abort` and `http_delay` can act on each
//! request of a keep-alive connection rather than on the connection as a whole.
//!
//! The splitter only frames requests (RFC 9112 §6): it reads the head up to the blank line, then a
//! body of `Content-Length` bytes or `Transfer-Encoding: chunked` chunks up to the last chunk and
//! its trailers; a request with neither has no body. Bytes pass through unchanged. Anything it
//! cannot frame is reported once, and the caller stops parsing that connection and forwards the
//! rest as it is. `Expect: 100-continue` is not special-cased (aborted requests are answered after
//! their body, which such a client sends after a short wait).

use bytes::{Bytes, BytesMut};

/// The largest request head accepted (hyper's default limit is about this size too).
const MAX_HEAD: usize = 64 * 1024;
/// The longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4 * 1024;

/// One framed piece of the request stream, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// A whole request head, request line to blank line. `close` when the client asked the
    /// connection to close after this request.
    Head { bytes: Bytes, close: bool },
    /// Bytes of the current request's body, framing (chunk sizes, trailers) included.
    Body(Bytes),
    /// The current request is complete.
    End,
}

/// The stream is not HTTP/1.1 requests this splitter can frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("not an HTTP/1.1 request stream: {0}")]
pub struct NotHttp(pub String);

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Reading a head; `matched` counts bytes of `\r\n\r\n` seen at its end.
    Head { matched: u8 },
    /// `remaining` bytes of a Content-Length body.
    Body { remaining: u64 },
    /// A chunk-size line.
    ChunkSize,
    /// `remaining` bytes of chunk data, then its CRLF.
    ChunkData { remaining: u64 },
    /// The CRLF after chunk data; `left` bytes of it still to come.
    ChunkEnd { left: u8 },
    /// Trailer lines after the last chunk, up to an empty line.
    Trailer,
}

/// Splits a client's byte stream into requests. Feed it chunks as they arrive.
#[derive(Debug)]
pub struct RequestSplitter {
    state: State,
    /// The head read so far, or the current chunk-size / trailer line.
    buf: BytesMut,
}

impl Default for RequestSplitter {
    fn default() -> Self {
        RequestSplitter { state: State::Head { matched: 0 }, buf: BytesMut::new() }
    }
}

impl RequestSplitter {
    /// Appends the pieces found in `data` to `out`. After an error the splitter must not be fed again.
    pub fn feed(&mut self, data: &Bytes, out: &mut Vec<Piece>) -> Result<(), NotHttp> {
        let mut pos = 0;
        while pos < data.len() {
            match self.state {
                State::Head { mut matched } => {
                    // Empty lines before a request line are allowed (RFC 9112 §2.2): drop them.
                    while self.buf.is_empty() && matched == 0 && pos < data.len() && matches!(data[pos], b'\r' | b'\n') {
                        pos += 1;
                    }
                    let start = pos;
                    while pos < data.len() && matched < 4 {
                        matched = match (data[pos], matched) {
                            (b'\r', 2) => 3,
                            (b'\r', _) => 1,
                            (b'\n', 1) => 2,
                            (b'\n', 3) => 4,
                            _ => 0,
                        };
                        pos += 1;
                    }
                    self.buf.extend_from_slice(&data[start..pos]);
                    if self.buf.len() > MAX_HEAD {
                        return Err(NotHttp(format!("request head longer than {MAX_HEAD} bytes")));
                    }
                    if matched < 4 {
                        self.state = State::Head { matched };
                        continue;
                    }
                    let head = self.buf.split().freeze();
                    let frame = parse_head(&head)?;
                    out.push(Piece::Head { bytes: head, close: frame.close });
                    self.state = match frame.body {
                        BodyFrame::Chunked => State::ChunkSize,
                        BodyFrame::Length(0) => self.end(out),
                        BodyFrame::Length(n) => State::Body { remaining: n },
                    };
                }
                State::Body { remaining } => {
                    let take = remaining.min((data.len() - pos) as u64) as usize;
                    out.push(Piece::Body(data.slice(pos..pos + take)));
                    pos += take;
                    self.state = if take as u64 == remaining {
                        self.end(out)
                    } else {
                        State::Body { remaining: remaining - take as u64 }
                    };
                }
                State::ChunkData { remaining } => {
                    let take = remaining.min((data.len() - pos) as u64) as usize;
                    out.push(Piece::Body(data.slice(pos..pos + take)));
                    pos += take;
                    self.state = if take as u64 == remaining {
                        State::ChunkEnd { left: 2 }
                    } else {
                        State::ChunkData { remaining: remaining - take as u64 }
                    };
                }
                State::ChunkEnd { left } => {
                    let take = (left as usize).min(data.len() - pos);
                    out.push(Piece::Body(data.slice(pos..pos + take)));
                    pos += take;
                    self.state = if take == left as usize {
                        State::ChunkSize
                    } else {
                        State::ChunkEnd { left: left - take as u8 }
                    };
                }
                State::ChunkSize | State::Trailer => {
                    let start = pos;
                    let newline = data[pos..].iter().position(|&b| b == b'\n');
                    pos = newline.map_or(data.len(), |i| pos + i + 1);
                    self.buf.extend_from_slice(&data[start..pos]);
                    out.push(Piece::Body(data.slice(start..pos)));
                    if self.buf.len() > MAX_LINE {
                        return Err(NotHttp("chunk-size or trailer line too long".into()));
                    }
                    if newline.is_none() {
                        continue;
                    }
                    let line = self.buf.split();
                    let text = trim_crlf(&line);
                    self.state = if self.state == State::Trailer {
                        if text.is_empty() {
                            self.end(out)
                        } else {
                            State::Trailer
                        }
                    } else {
                        let hex = text.split(|&b| b == b';').next().unwrap_or_default();
                        let size = std::str::from_utf8(hex)
                            .ok()
                            .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
                            .ok_or_else(|| NotHttp(format!("bad chunk size `{}`", String::from_utf8_lossy(text))))?;
                        if size == 0 {
                            State::Trailer
                        } else {
                            State::ChunkData { remaining: size }
                        }
                    };
                }
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<Piece>) -> State {
        out.push(Piece::End);
        State::Head { matched: 0 }
    }
}

enum BodyFrame {
    Length(u64),
    Chunked,
}

struct Frame {
    body: BodyFrame,
    close: bool,
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_head(head: &[u8]) -> Result<Frame, NotHttp> {
    let mut lines = head.split(|&b| b == b'\n').map(trim_crlf);
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&[u8]> = request_line.split(|&b| b == b' ').collect();
    let version = match parts.as_slice() {
        [method, _target, version] if !method.is_empty() && version.starts_with(b"HTTP/1.") => *version,
        _ => {
            let shown = String::from_utf8_lossy(&request_line[..request_line.len().min(80)]).into_owned();
            return Err(NotHttp(format!("bad request line `{shown}`")));
        }
    };
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = version == b"HTTP/1.0";
    for line in lines.filter(|l| !l.is_empty()) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(NotHttp(format!("header line without a colon: `{}`", String::from_utf8_lossy(line))));
        };
        let (name, value) = (&line[..colon], String::from_utf8_lossy(&line[colon + 1..]));
        let value = value.trim();
        if name.eq_ignore_ascii_case(b"content-length") {
            let n: u64 = value.parse().map_err(|_| NotHttp(format!("bad Content-Length `{value}`")))?;
            if length.is_some_and(|l| l != n) {
                return Err(NotHttp("two different Content-Length headers".into()));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or_default().trim();
            if !last.eq_ignore_ascii_case("chunked") {
                return Err(NotHttp(format!("request Transfer-Encoding `{value}` does not end in chunked")));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        }
    }
    // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3).
    let body = if chunked { BodyFrame::Chunked } else { BodyFrame::Length(length.unwrap_or(0)) };
    Ok(Frame { body, close })
}

/// The answer `http_abort` sends instead of forwarding a request (Envoy's fault filter says the
/// same in its body). It keeps the connection open unless the client asked to close it.
pub fn abort_response(status: u16, close: bool) -> Bytes {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Fault");
    let body = "fault filter abort";
    let connection = if close { "connection: close\r\n" } else { "" };
    Bytes::from(format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nx-skyload-fault: abort\r\n{connection}\r\n{body}",
        body.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `step` bytes and returns the pieces, with adjacent body bytes joined.
    fn split(stream: &[u8], step: usize) -> Result<Vec<Piece>, NotHttp> {
        let mut s = RequestSplitter::default();
        let mut out = Vec::new();
        for c in stream.chunks(step) {
            s.feed(&Bytes::copy_from_slice(c), &mut out)?;
        }
        let mut joined: Vec<Piece> = Vec::new();
        for p in out {
            match (joined.last_mut(), p) {
                (Some(Piece::Body(prev)), Piece::Body(b)) => {
                    let mut v = prev.to_vec();
                    v.extend_from_slice(&b);
                    *prev = Bytes::from(v);
                }
                (_, Piece::Body(b)) if b.is_empty() => {}
                (_, p) => joined.push(p),
            }
        }
        Ok(joined)
    }

    fn head(s: &str) -> Piece {
        Piece::Head { bytes: Bytes::copy_from_slice(s.as_bytes()), close: false }
    }

    const GET: &str = "GET /a HTTP/1.1\r\nhost: x\r\n\r\n";

    /// Seeded random streams (request-ish fragments, hostile lengths, raw bytes) at random chunking:
    /// the splitter returns pieces or `NotHttp`, never panics and never loops. Longer run:
    /// `SKYLOAD_FUZZ_CASES=200000 cargo test --release --lib fuzz`.
    #[test]
    fn fuzz_random_streams_never_panic() {
        use rand::{Rng, SeedableRng};
        const FRAGS: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n", b"POST /x HTTP/1.1\r\n", b"host: x\r\n", b"content-length: 5\r\n", b"Content-Length: 18446744073709551616\r\n",
            b"content-length: -1\r\n", b"content-length: 3\r\ncontent-length: 4\r\n", b"transfer-encoding: chunked\r\n", b"connection: close\r\n",
            b"\r\n", b"\n", b"\r", b"hello", b"5\r\nhello\r\n", b"0\r\n\r\n", b"ffffffffffffffffff\r\n", b"zz\r\n", b"3;ext=1\r\nabc\r\n",
            b"trailer: x\r\n", b"\x00\xff", b" ", b":",
        ];
        let cases = std::env::var("SKYLOAD_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000u64);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed_15 ^ 0x4771);
        for case in 0..cases {
            let mut stream = Vec::new();
            for _ in 0..rng.gen_range(0..12) {
                if rng.gen_bool(0.9) {
                    stream.extend_from_slice(FRAGS[rng.gen_range(0..FRAGS.len())]);
                } else {
                    stream.extend((0..rng.gen_range(0..64)).map(|_| rng.gen::<u8>()));
                }
            }
            let step = rng.gen_range(1..=stream.len().max(1));
            let r = std::panic::catch_unwind(|| split(&stream, step));
            assert!(r.is_ok(), "case {case} panicked on {:?} (step {step})", String::from_utf8_lossy(&stream));
        }
    }
    const POST: &str = "POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\n";

    #[test]
    fn keep_alive_gets_and_posts_at_any_chunking() {
        let stream = format!("{GET}{POST}hello{GET}");
        for step in [1, 2, 3, 7, 1000] {
            let pieces = split(stream.as_bytes(), step).unwrap();
            assert_eq!(
                pieces,
                vec![head(GET), Piece::End, head(POST), Piece::Body(Bytes::from_static(b"hello")), Piece::End, head(GET), Piece::End],
                "step {step}"
            );
        }
    }

    #[test]
    fn chunked_bodies_with_extensions_and_trailers() {
        let h = "POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        let body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n";
        let stream = format!("{h}{body}{GET}");
        for step in [1, 4, 9, 1000] {
            let pieces = split(stream.as_bytes(), step).unwrap();
            assert_eq!(
                pieces,
                vec![head(h), Piece::Body(Bytes::copy_from_slice(body.as_bytes())), Piece::End, head(GET), Piece::End],
                "step {step}"
            );
        }
    }

    #[test]
    fn an_unfinished_request_has_no_end() {
        let pieces = split(b"POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", 100).unwrap();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[1], Piece::Body(Bytes::from_static(b"abc")));
    }

    #[test]
    fn connection_close_and_http10() {
        let p = split(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", 100).unwrap();
        assert!(matches!(p[0], Piece::Head { close: true, .. }));
        let p = split(b"GET / HTTP/1.0\r\n\r\n", 100).unwrap();
        assert!(matches!(p[0], Piece::Head { close: true, .. }));
        let p = split(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n", 100).unwrap();
        assert!(matches!(p[0], Piece::Head { close: false, .. }));
    }

    #[test]
    fn leading_empty_lines_are_dropped() {
        let p = split(format!("\r\n{GET}").as_bytes(), 1).unwrap();
        assert_eq!(p, vec![head(GET), Piece::End]);
    }

    #[test]
    fn not_http_is_an_error() {
        assert!(split(b"\x16\x03\x01 tls hello\r\n\r\n", 100).is_err());
        assert!(split(b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 100).is_err());
        assert!(split(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100).is_err());
        assert!(split(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 100).is_err());
    }

    #[test]
    fn abort_response_is_a_complete_http_response() {
        let r = abort_response(503, false);
        let text = std::str::from_utf8(&r).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(text.ends_with("\r\n\r\nfault filter abort"));
        assert!(text.contains("content-length: 18\r\n"));
        assert!(abort_response(500, true).windows(17).any(|w| w == b"connection: close"));
    }
}
