//! The TLS lines of the terminal summary (protocol, handshakes, resumptions) and the `--insecure`
//! warning, kept out of `terminal.rs` so the summary's owner and this one do not collide.

use crate::record::summary::Summary;
use crate::scenario::Plan;
use crate::units::format_us;
use std::io::{self, Write};

/// Says loudly, before anything is sent, that the server's identity will not be checked.
pub fn warn_insecure(plan: &Plan) {
    if crate::scenario::tls::is_https(&plan.target) && plan.connections.tls.insecure {
        eprintln!("skyload: WARNING --insecure: the server's certificate is NOT verified; anyone on the path could answer. This is recorded in the Results.");
    }
}

/// `1 handshake`, `3 handshakes`.
fn handshakes(n: u64) -> String {
    format!("{n} handshake{}", if n == 1 { "" } else { "s" })
}

pub fn render(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let Some(t) = &s.tls else { return Ok(()) };
    if t.version.is_empty() {
        // The pre-run probe never finished a handshake: no version or cipher to show.
        writeln!(out, "tls: no handshake completed before the run · {} during it · server name {} · {}", handshakes(t.handshakes), t.server_name, t.addresses.join(", "))?;
    } else {
        writeln!(
        out,
        "tls: {} over {} ({}) · {} ({} resumed) · handshake p50 {} p99 {} · server name {} · {}",
        t.protocol,
        t.version,
        t.cipher,
        handshakes(t.handshakes),
        t.resumed,
        format_us(t.handshake_p50_us),
        format_us(t.handshake_p99_us),
        t.server_name,
        t.addresses.join(", ")
        )?;
    }
    if t.merged_percentiles {
        writeln!(out, "  (merged Results: handshake percentiles are the largest of the parts', an upper bound)")?;
    }
    if let Some(why) = &t.first_failure {
        let outcome = t.first_failure_outcome.as_deref().unwrap_or("tls");
        writeln!(out, "  a TLS handshake failed during the run (outcome `{outcome}`); the first: {why}")?;
    }
    if t.insecure {
        writeln!(out, "  WARNING certificate NOT verified (--insecure)")?;
    } else if let Some(ca) = &t.cacert {
        writeln!(out, "  trusting the CA in {ca}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_handshake_is_singular() {
        assert_eq!(super::handshakes(1), "1 handshake");
        assert_eq!(super::handshakes(0), "0 handshakes");
        assert_eq!(super::handshakes(12), "12 handshakes");
    }
}
