//! `skyload invoke -o FILE` (curl's `--output`): the response body, whole and byte for byte, goes
//! to a file; `-o -` sends it to stdout and the rest of the call to stderr, so `invoke URL -o - |
//! jq` reads the body alone. Unlike curl, an existing file is never replaced silently (the
//! project's rule): it is refused before the request is sent, unless `--force`.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the body goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Shown with the rest (pretty JSON, cut at --max-body): no -o.
    Shown,
    /// `-o -`.
    Stdout,
    /// `-o FILE`; `replace` with --force.
    File { path: PathBuf, replace: bool },
}

impl Output {
    /// Checks `-o` before anything is sent: a bounded, clear refusal instead of a lost response.
    pub fn from_args(output: Option<&Path>, force: bool, count: u32, json: bool) -> Result<Output, String> {
        let Some(path) = output else {
            return if force { Err("--force replaces an existing -o FILE: give -o FILE too, or leave --force out".into()) } else { Ok(Output::Shown) };
        };
        if count > 1 {
            return Err(format!("-o {} holds one response body: give -n 1 (or leave -o out to see all {count})", path.display()));
        }
        if path.as_os_str() == "-" {
            if json {
                return Err("-o - and --json would both write to stdout: give -o FILE, or leave one out".into());
            }
            return Ok(Output::Stdout);
        }
        if path.as_os_str().is_empty() {
            return Err("-o: give a file name, or - for stdout".into());
        }
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("-o {}: {e}", path.display())),
            Ok(m) if !m.is_file() => return Err(format!("-o {}: it exists and is not a file; give the path of a new file", path.display())),
            Ok(_) if !force => {
                return Err(format!("-o {}: the file exists and is not replaced; give a new path, or add --force to replace it", path.display()))
            }
            Ok(_) => {}
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(format!("-o {}: the directory {} does not exist", path.display(), dir.display()));
            }
        }
        Ok(Output::File { path: path.to_path_buf(), replace: force })
    }

    /// Whether the call's text goes to stderr (the body has stdout).
    pub fn text_to_stderr(&self) -> bool {
        matches!(self, Output::Stdout)
    }

    /// Writes the body; the line the call's text shows in its place (None when shown as usual).
    pub fn write(&self, body: &[u8]) -> Result<Option<String>, String> {
        match self {
            Output::Shown => Ok(None),
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(body).and_then(|_| out.flush()).map_err(|e| format!("-o -: cannot write the body to stdout: {e}"))?;
                Ok(Some(format!("{} bytes written to stdout", body.len())))
            }
            Output::File { path, replace } => {
                // create_new: a file that appeared since the check is still not replaced.
                let mut o = std::fs::OpenOptions::new();
                o.write(true);
                if *replace {
                    o.create(true).truncate(true);
                } else {
                    o.create_new(true);
                }
                let written = o.open(path).and_then(|mut f| f.write_all(body).and_then(|_| f.sync_all()));
                written.map_err(|e| format!("-o {}: cannot write the body: {e}", path.display()))?;
                Ok(Some(format!("{} bytes written to {}", body.len(), path.display())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn o_is_checked_before_sending_and_never_replaces_silently() {
        let dir = std::env::temp_dir().join(format!("skyload-invoke-o-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("body.bin");
        let _ = std::fs::remove_file(&f);
        assert_eq!(Output::from_args(None, false, 3, true), Ok(Output::Shown));
        assert!(Output::from_args(None, true, 1, false).unwrap_err().contains("--force"));
        assert_eq!(Output::from_args(Some(Path::new("-")), false, 1, false), Ok(Output::Stdout));
        assert!(Output::from_args(Some(Path::new("-")), false, 1, true).unwrap_err().contains("--json"));
        assert!(Output::from_args(Some(&f), false, 2, false).unwrap_err().contains("-n 1"));
        assert!(Output::from_args(Some(&dir), false, 1, false).unwrap_err().contains("not a file"));
        assert!(Output::from_args(Some(&dir.join("nowhere/x")), false, 1, false).unwrap_err().contains("does not exist"));
        let o = Output::from_args(Some(&f), false, 1, false).unwrap();
        assert_eq!(o.write(b"\x00\xffbody").unwrap().unwrap(), format!("6 bytes written to {}", f.display()));
        assert_eq!(std::fs::read(&f).unwrap(), b"\x00\xffbody");
        // Now it exists: refused without --force, and a stale check still does not replace it.
        assert!(Output::from_args(Some(&f), false, 1, false).unwrap_err().contains("--force"));
        assert!(o.write(b"other").is_err());
        assert_eq!(std::fs::read(&f).unwrap(), b"\x00\xffbody");
        let forced = Output::from_args(Some(&f), true, 1, false).unwrap();
        forced.write(b"new").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
