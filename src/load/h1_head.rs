//! Reading an HTTP/1.1 response head: a hand-read fast path for the plain final heads real
//! gateways send (values skipped eight bytes at a time) and httparse for everything else, both
//! gathering what the head says about body framing and the connection (RFC 9112 §6.3) and copying
//! the headers a caller asked to keep. Split from `h1` (the connection) so each file holds one job.

use super::h1::MAX_HEADERS;
use crate::record::outcome::TransportFailure;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What a response head says about framing and the connection, gathered header by header (by the
/// hand-read fast path and by the httparse path alike).
#[derive(Default, Clone, Copy)]
pub(super) struct HeadScan {
    length: Option<u64>,
    chunked: bool,
    close: bool,
    http10: bool,
}

impl HeadScan {
    #[inline]
    pub(super) fn header(&mut self, name: &[u8], value: &[u8], captures: &mut [Capture]) -> Result<(), TransportFailure> {
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
    pub(super) fn finish(mut self, status: u16, head_request: bool) -> (u16, Framing, bool) {
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

/// The last head `fast_head` read on a connection, byte for byte, and what it made of it.
///
/// A server answers a load test's requests with the same head again and again (nginx's changes
/// only when its `Date` does, once a second), and reading it costs more than anything else the
/// generator does per response in user space (~0.4 µs for nginx's 150 bytes, most of it the
/// per-byte check of header names). A head equal to the last one reads the same: `fast_head` is a
/// function of the bytes and the capture names alone, so a hit (one `memcmp`) gives exactly what
/// reading it would, captures included, which still hold that read's values. A head that differs
/// (a request id, a new second) is read and kept in place of the last: the miss costs a copy of
/// the head into a buffer allocated once per connection.
#[derive(Default)]
pub(super) struct HeadMemo {
    head: Vec<u8>,
    status: u16,
    scan: HeadScan,
    /// The captures the read filled (their address and count): only those hold its values.
    captures: (usize, usize),
    /// The captures still hold the values of the head above (nothing else has read into them).
    valid: bool,
}

/// Heads longer than this are read every time: a bound on the memo's memory per connection.
const MEMO_MAX: usize = 1024;

impl HeadMemo {
    fn key(captures: &[Capture]) -> (usize, usize) {
        (captures.as_ptr() as usize, captures.len())
    }

    /// The length, status and scan of `b`'s head if it starts with the last head read.
    #[inline]
    pub(super) fn hit(&self, b: &[u8], captures: &[Capture]) -> Option<(usize, u16, HeadScan)> {
        let n = self.head.len();
        (self.valid && b.len() >= n && b[..n] == self.head[..] && self.captures == Self::key(captures)).then_some((n, self.status, self.scan))
    }

    /// Keeps `head` (read by `fast_head` into `captures`) for the next response.
    pub(super) fn keep(&mut self, head: &[u8], status: u16, scan: HeadScan, captures: &[Capture]) {
        if head.len() > MEMO_MAX {
            self.valid = false;
            return;
        }
        self.head.clear();
        self.head.extend_from_slice(head);
        self.status = status;
        self.scan = scan;
        self.captures = Self::key(captures);
        self.valid = true;
    }

    /// The captures were cleared or filled by another read: the next head must be read.
    pub(super) fn forget(&mut self) {
        self.valid = false;
    }
}

/// httparse's reading of a head: Ok(None) while it is incomplete.
pub(super) fn slow_head(b: &[u8], head_request: bool, captures: &mut [Capture]) -> Result<Option<(usize, (u16, Framing, bool))>, TransportFailure> {
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

pub(super) fn clear(captures: &mut [Capture]) {
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
pub(super) fn fast_head(b: &[u8], scan: &mut HeadScan, captures: &mut [Capture]) -> Option<(usize, u16)> {
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
mod tests {
    use super::*;

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
}
