//! Output that never takes a run down. `println!`/`eprintln!` panic when the stream is a closed pipe
//! (`skyload run ... | head -1`, a CI log collector that went away); a run whose Results are being
//! written must not die for a terminal nobody reads. These macros and [`Lenient`] drop what cannot
//! be written instead, and [`panic_cause`] turns a caught panic into the text a summary carries.

use std::io::Write;

/// `println!` that ignores a closed or broken stdout.
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// `eprintln!` that ignores a closed or broken stderr.
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($t)*);
    }};
}

/// `eprint!` that ignores a closed or broken stderr.
#[macro_export]
macro_rules! err {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let mut e = std::io::stderr();
        let _ = write!(e, $($t)*);
        let _ = e.flush();
    }};
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
