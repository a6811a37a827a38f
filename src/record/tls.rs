//! How a run reached its target over TLS, as saved in `summary.json` (`"tls"`): the protocol that
//! was negotiated, whether verification was skipped, and what the handshakes cost. Plain data, so
//! `record` still knows nothing of sockets.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsRun {
    /// The HTTP protocol every connection spoke: `h2` or `http/1.1` (from ALPN).
    pub protocol: String,
    /// TLS version and cipher suite of the pre-run probe's handshake.
    pub version: String,
    pub cipher: String,
    /// `--insecure`: the server's certificate was not verified.
    pub insecure: bool,
    /// The name sent in SNI and checked in the certificate.
    pub server_name: String,
    /// Addresses connections were spread over (round robin).
    pub addresses: Vec<String>,
    /// Handshakes during the run (the probe not counted), and how many resumed a session.
    pub handshakes: u64,
    pub resumed: u64,
    pub handshake_p50_us: u64,
    pub handshake_p99_us: u64,
    pub handshake_max_us: u64,
    /// Name lookups (the first one, before the run, included) and their p99.
    pub dns_lookups: u64,
    pub dns_p99_us: u64,
    /// The CA file trusted instead of the system roots (for the embedded TLS gateway, its
    /// generated CA in the Results directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacert: Option<String>,
    /// The first TLS handshake that failed during the run (the probe's never: it stops the run),
    /// the cause in one sentence and the address; such requests are the `tls` outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// The outcome of `first_failure`'s request when it is not `tls`: a handshake that never
    /// finished is `timeout` (or `connect` under a connect timeout). Absent means `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure_outcome: Option<String>,
    /// Made by merging parts: handshake and DNS percentiles are the larger of the parts' (an
    /// upper bound), counts and the maximum are exact.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merged_percentiles: bool,
}

/// Two parts' TLS sections as one: counts add, addresses join, the maximum is exact. Percentiles
/// of parts cannot be combined (only the parts' histograms could), so the merged p50/p99 are the
/// larger of the parts' — an upper bound, said so in `merged_percentiles`.
pub fn merge(a: Option<&TlsRun>, b: Option<&TlsRun>) -> Option<TlsRun> {
    let (a, b) = match (a, b) {
        (Some(a), Some(b)) => (a, b),
        (one, other) => return one.or(other).cloned(),
    };
    let mut out = a.clone();
    out.insecure |= b.insecure;
    for addr in &b.addresses {
        if !out.addresses.contains(addr) {
            out.addresses.push(addr.clone());
        }
    }
    let first = if a.first_failure.is_some() { a } else { b };
    (out.first_failure, out.first_failure_outcome) = (first.first_failure.clone(), first.first_failure_outcome.clone());
    out.handshakes += b.handshakes;
    out.resumed += b.resumed;
    out.dns_lookups += b.dns_lookups;
    out.handshake_max_us = a.handshake_max_us.max(b.handshake_max_us);
    out.handshake_p50_us = a.handshake_p50_us.max(b.handshake_p50_us);
    out.handshake_p99_us = a.handshake_p99_us.max(b.handshake_p99_us);
    out.dns_p99_us = a.dns_p99_us.max(b.dns_p99_us);
    out.merged_percentiles = true;
    Some(out)
}

/// `handshakes.csv`: new TLS handshakes and resumptions per second of the run (https only).
pub use super::results::HANDSHAKES;

/// Writes `handshakes.csv` row by row as seconds close, so a killed run keeps what it had.
pub struct HandshakeLog {
    out: std::io::BufWriter<std::fs::File>,
    /// Totals written so far, to turn running totals into per-second counts.
    written: (u64, u64),
}

impl HandshakeLog {
    pub fn create(dir: &std::path::Path) -> std::io::Result<HandshakeLog> {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(HANDSHAKES))?);
        writeln!(out, "second,handshakes,resumed")?;
        out.flush()?;
        Ok(HandshakeLog { out, written: (0, 0) })
    }

    /// One row: what the running totals grew by since the last row. Counts are read when the
    /// second closes (a few milliseconds after its end), so a handshake at a boundary may land in
    /// the next row; the rows always add up to the run's totals.
    pub fn second(&mut self, second: u64, handshakes: u64, resumed: u64) -> std::io::Result<()> {
        use std::io::Write;
        let (h, r) = (handshakes.saturating_sub(self.written.0), resumed.saturating_sub(self.written.1));
        self.written = (handshakes.max(self.written.0), resumed.max(self.written.1));
        writeln!(self.out, "{second},{h},{r}")?;
        self.out.flush()
    }

    /// Adds what arrived after the last second closed to a final row for `second`.
    pub fn finish(mut self, second: u64, handshakes: u64, resumed: u64) -> std::io::Result<()> {
        if handshakes > self.written.0 || resumed > self.written.1 {
            self.second(second, handshakes, resumed)?;
        }
        Ok(())
    }
}

/// Reads `handshakes.csv` back: (second, handshakes, resumed) rows; None when the run had none.
pub fn read_handshakes(dir: &std::path::Path) -> std::io::Result<Option<Vec<(u64, u64, u64)>>> {
    let text = match std::fs::read_to_string(dir.join(HANDSHAKES)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<_> = line.split(',').map(|v| v.trim().parse::<u64>()).collect();
        match f.as_slice() {
            [Ok(s), Ok(h), Ok(r)] => rows.push((*s, *h, *r)),
            _ => return Err(std::io::Error::other(format!("{}:{}: expected `second,handshakes,resumed`, found `{line}`", HANDSHAKES, i + 1))),
        }
    }
    Ok(Some(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_differences_and_add_up_to_the_totals() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = HandshakeLog::create(dir.path()).unwrap();
        log.second(0, 5, 0).unwrap();
        log.second(1, 5, 0).unwrap();
        log.second(2, 12, 6).unwrap();
        log.finish(2, 13, 7).unwrap();
        let rows = read_handshakes(dir.path()).unwrap().unwrap();
        assert_eq!(rows, vec![(0, 5, 0), (1, 0, 0), (2, 7, 6), (2, 1, 1)]);
        assert_eq!(rows.iter().map(|r| r.1).sum::<u64>(), 13);
        assert!(read_handshakes(&dir.path().join("none")).unwrap().is_none());
    }
}
