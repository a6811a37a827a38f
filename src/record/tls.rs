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
}
