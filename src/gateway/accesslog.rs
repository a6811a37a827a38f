//! The optional access log: one logfmt line per request, written by a background thread so a slow
//! disk never holds up a response. The channel is bounded; when it is full the line is dropped and
//! counted rather than making the request wait.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;

/// Lines waiting to be written before new ones are dropped.
const BACKLOG: usize = 65_536;

#[derive(Debug)]
pub struct AccessLog {
    tx: SyncSender<Option<String>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    pub dropped: AtomicU64,
}

/// One request as the log records it.
pub struct Entry<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub function: &'a str,
    pub version: &'a str,
    pub pod: &'a str,
    pub outcome: &'a str,
    pub cold: bool,
    pub fallback: bool,
    pub duration_us: u64,
    /// The W3C trace id the request came with (`trace_id_of`), so a request in skyload's
    /// `slow.csv` (or any traced client's) can be found here; `-` in the line when there was none.
    pub trace_id: Option<[u8; 32]>,
}

/// The trace id of the request's W3C `traceparent`, checked as a receiver would (the same parser
/// skyload's own tests use: version 00, lowercase hex, non-zero ids). Anything else logs as no
/// trace id rather than echoing arbitrary client bytes into the log.
pub fn trace_id_of(h: &http::HeaderMap) -> Option<[u8; 32]> {
    crate::load::trace_id::parse(h.get("traceparent")?.as_bytes())?.as_bytes().try_into().ok()
}

impl AccessLog {
    /// Opens `path` for appending (creating its directory, as a run creates its Results
    /// directory: `access_log = "reports/…"` from a fresh checkout has no `reports/` yet) and
    /// starts the writer thread.
    pub fn open(path: &Path) -> std::io::Result<AccessLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = sync_channel(BACKLOG);
        let writer = std::thread::Builder::new()
            .name("gateway-access-log".into())
            .spawn(move || write_lines(rx, BufWriter::new(file)))?;
        Ok(AccessLog {
            tx,
            writer: Mutex::new(Some(writer)),
            dropped: AtomicU64::new(0),
        })
    }

    pub fn log(&self, e: &Entry<'_>) {
        let ts = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let line = format!(
            "ts={ts} method={} path={} status={} function={} version={} pod={} outcome={} cold={} fallback={} duration_us={} trace_id={}\n",
            e.method,
            e.path,
            e.status,
            e.function,
            if e.version.is_empty() { "-" } else { e.version },
            e.pod,
            e.outcome,
            e.cold as u8,
            e.fallback as u8,
            e.duration_us,
            e.trace_id.as_ref().and_then(|t| std::str::from_utf8(t).ok()).unwrap_or("-")
        );
        if let Err(TrySendError::Full(_)) = self.tx.try_send(Some(line)) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes out what is queued and stops the writer; later lines are dropped.
    pub fn close(&self) {
        let _ = self.tx.send(None);
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
        }
    }
}

fn write_lines(rx: Receiver<Option<String>>, mut out: BufWriter<std::fs::File>) {
    while let Ok(Some(line)) = rx.recv() {
        let _ = out.write_all(line.as_bytes());
        let mut done = false;
        loop {
            match rx.try_recv() {
                Ok(Some(l)) => {
                    let _ = out.write_all(l.as_bytes());
                }
                Ok(None) => {
                    done = true;
                    break;
                }
                Err(_) => break,
            }
        }
        let _ = out.flush();
        if done {
            return;
        }
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lines_and_flushes_on_close() {
        let dir = tempfile::tempdir().unwrap();
        // Its directory is created, as `reports/` on a fresh checkout.
        let path = dir.path().join("reports").join("access.log");
        let log = AccessLog::open(&path).unwrap();
        for _ in 0..3 {
            log.log(&Entry {
                method: "GET",
                path: "/fn/f",
                status: 200,
                function: "f",
                version: "v1",
                pod: "f-1",
                outcome: "ok",
                cold: false,
                fallback: false,
                duration_us: 12,
                trace_id: None,
            });
        }
        log.close();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains(
            "status=200 function=f version=v1 pod=f-1 outcome=ok cold=0 fallback=0 duration_us=12 trace_id=-"
        ));
    }

    fn tp(v: &str) -> Option<String> {
        let mut h = http::HeaderMap::new();
        h.insert("traceparent", http::HeaderValue::from_str(v).unwrap());
        trace_id_of(&h).map(|t| String::from_utf8(t.to_vec()).unwrap())
    }

    #[test]
    fn the_trace_id_of_a_valid_traceparent_and_nothing_else() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(tp(&format!("00-{id}-00f067aa0ba902b7-01")).as_deref(), Some(id));
        assert_eq!(tp(&format!("00-{id}-00f067aa0ba902b7-00")).as_deref(), Some(id), "not sampled is still an id");
        assert_eq!(trace_id_of(&http::HeaderMap::new()), None);
        for bad in [
            format!("00-{id}-00f067aa0ba902b7-01-extra"),
            format!("01-{id}-00f067aa0ba902b7-01"),
            format!("ff-{id}-00f067aa0ba902b7-01"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{id}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
            format!("00-{id}-00f067aa0ba902b7-1"),
            format!("00_{id}_00f067aa0ba902b7_01"),
            format!("00-{}x-00f067aa0ba902b7-01", &id[..31]),
            "00-x y=1-00f067aa0ba902b7-01 trace_id=forged0000000000000000000000000".into(),
            String::new(),
        ] {
            assert_eq!(tp(&bad), None, "{bad}");
        }
        // What skyload sends is accepted and gives the id slow.csv names.
        let sent = crate::record::trace_id::traceparent(7, 42);
        assert_eq!(tp(std::str::from_utf8(&sent).unwrap()).unwrap().as_bytes(), crate::record::trace_id::trace_id_hex(7, 42));
    }
}
