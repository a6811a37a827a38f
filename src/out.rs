//! Output that never takes a run down. `println!`/`eprintln!` panic when the stream is a closed pipe
//! (`skyload run ... | head -1`, a CI log collector that went away); a run whose Results are being
//! written must not die for a terminal nobody reads. These macros and [`Lenient`] drop what cannot
//! be written instead, and [`panic_cause`] turns a caught panic into the text a summary carries.

use std::io::Write;

/// `println!` that ignores a closed or broken stdout and passes the line through
/// [`redact::text`](crate::record::redact::text).
#[macro_export]
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "{}", $crate::record::redact::text(&format!($($t)*)));
    }};
}

/// `eprintln!` that ignores a closed or broken stderr; errors and notes are redacted, since they
/// echo what the user gave (a URL with credentials, a header).
#[macro_export]
macro_rules! errln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr());
    }};
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{}", $crate::record::redact::text(&format!($($t)*)));
    }};
}

/// `eprint!` that ignores a closed or broken stderr (redacted like `errln!`).
#[macro_export]
macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut e = std::io::stderr();
        let _ = write!(e, "{}", $crate::record::redact::text(&format!($($t)*)));
        let _ = e.flush();
    }};
}

/// Log lines (tracing) to stderr, redacted and lenient like `errln!`.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = crate::record::redact::text(&String::from_utf8_lossy(buf));
        let _ = std::io::stderr().write_all(text.as_bytes());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// A writer that reports success for what it could not write: the terminal summary goes to
/// stdout, and a reader that went away must not turn a finished run into an error.
pub struct Lenient<W: Write> {
    inner: W,
    /// Set once a write failed; nothing more is attempted after that.
    pub broken: bool,
}

impl<W: Write> Lenient<W> {
    pub fn new(inner: W) -> Lenient<W> {
        Lenient { inner, broken: false }
    }
}

impl<W: Write> Write for Lenient<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.broken && self.inner.write_all(buf).is_err() {
            self.broken = true;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.broken && self.inner.flush().is_err() {
            self.broken = true;
        }
        Ok(())
    }
}

/// The message a panic carried (`panic!("...")` payloads are `&str` or `String`).
pub fn panic_cause(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    #[test]
    fn a_broken_writer_is_not_an_error() {
        let mut w = Lenient::new(Broken);
        assert!(writeln!(w, "summary").is_ok() && w.flush().is_ok());
        assert!(w.broken);
    }

    #[test]
    fn panic_messages_are_kept() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(panic_cause(&*p), "boom 7");
        let p = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_cause(&*p), "plain");
    }
}
