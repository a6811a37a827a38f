//! Files the commands write outside a Results directory (`--junit`, `--summary-json`,
//! `report -o`): each may replace a file of its own kind that skyload wrote before (a CI job
//! writes `reports/junit.xml` on every run), never anything else. A typo such as
//! `--junit scenarios/users.csv` used to replace the feeder without a word. Checked before a run
//! starts, so a refused path costs no load test.

use std::io::Read;
use std::path::Path;

/// What a file at the path must already be for skyload to replace it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--junit`: `<testsuites name="skyload"`.
    Junit,
    /// `--summary-json`: the gate's JSON (`"command"`, `"exit_code"`, `"checks"`).
    SummaryJson,
    /// `report -o`: an HTML report (`<title>… · skyload …</title>`).
    Report,
}

impl Kind {
    fn what(self) -> &'static str {
        match self {
            Kind::Junit => "a JUnit report skyload wrote",
            Kind::SummaryJson => "a verdict skyload wrote (--summary-json)",
            Kind::Report => "an HTML report skyload wrote",
        }
    }

    /// Whether the first bytes of a file are this kind's. The head is enough: each kind's marker
    /// comes before any user text.
    fn recognises(self, head: &str) -> bool {
        match self {
            Kind::Junit => head.trim_start().starts_with("<?xml") && head.contains("<testsuites name=\"skyload\""),
            Kind::SummaryJson => {
                head.trim_start().starts_with('{') && ["\"command\"", "\"exit_code\"", "\"checks\""].iter().all(|k| head.contains(k))
            }
            Kind::Report => head.trim_start().starts_with("<!DOCTYPE html>") && head.contains(" · skyload ") && head.contains("<title>"),
        }
    }
}

/// How much of an existing file is read to recognise it.
const HEAD: u64 = 4096;

/// Ok when `path` does not exist or holds a file of `kind` that skyload wrote; otherwise a usage
/// message naming the flag, the path and what is allowed.
pub fn check(flag: &str, path: &Path, kind: Kind) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{flag} {}: {e}", path.display())),
    };
    if !meta.is_file() {
        return Err(format!("{flag} {}: it exists and is not a file; give the path of a new file", path.display()));
    }
    let mut head = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(HEAD).read_to_end(&mut head));
    if let Err(e) = read {
        return Err(format!("{flag} {}: {e}", path.display()));
    }
    if kind.recognises(&String::from_utf8_lossy(&head)) {
        return Ok(());
    }
    Err(format!(
        "{flag} {}: the file exists and is not {}, so it is not replaced; give a new path, or remove the file first",
        path.display(),
        kind.what()
    ))
}

/// `--junit` and `--summary-json` of a gate command.
pub fn check_gate(gate: &crate::cli::GateArgs) -> Result<(), String> {
    if let Some(p) = &gate.junit {
        check("--junit", p, Kind::Junit)?;
    }
    if let Some(p) = &gate.summary_json {
        check("--summary-json", p, Kind::SummaryJson)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("skyload-outfile-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_new_path_or_an_earlier_file_of_the_same_kind_may_be_written() {
        let dir = std::env::temp_dir();
        assert_eq!(check("--junit", &dir.join("skyload-outfile-does-not-exist.xml"), Kind::Junit), Ok(()));
        let j = tmp("j.xml", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"skyload\" tests=\"1\">");
        assert_eq!(check("--junit", &j, Kind::Junit), Ok(()));
        let v = tmp("v.json", "{\n  \"command\": \"run\",\n  \"exit_code\": 0,\n  \"checks\": []\n}\n");
        assert_eq!(check("--summary-json", &v, Kind::SummaryJson), Ok(()));
        let r = tmp("r.html", "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>x · skyload load test</title>");
        assert_eq!(check("-o", &r, Kind::Report), Ok(()));
    }

    #[test]
    fn anything_else_is_refused_naming_flag_path_and_what_is_allowed() {
        let csv = tmp("users.csv", "user,token\nalice,t\n");
        let e = check("--junit", &csv, Kind::Junit).unwrap_err();
        assert!(e.starts_with("--junit ") && e.contains("users.csv") && e.contains("not a JUnit report skyload wrote"), "{e}");
        // A file of another kind is not this kind's either.
        let j = tmp("j2.xml", "<?xml version=\"1.0\"?>\n<testsuites name=\"skyload\">");
        assert!(check("--summary-json", &j, Kind::SummaryJson).is_err());
        assert!(check("-o", &j, Kind::Report).is_err());
        let other = tmp("other.html", "<!DOCTYPE html><title>my notes</title>");
        assert!(check("-o", &other, Kind::Report).is_err());
        let e = check("-o", &std::env::temp_dir(), Kind::Report).unwrap_err();
        assert!(e.contains("not a file"), "{e}");
    }
}
