//! JUnit XML as GitLab, Jenkins and GitHub test reporters read it: one `<testsuite>`, one
//! `<testcase>` per check, a `<failure>` with expected vs measured for each failed one. Written by
//! hand (a dozen elements do not need an XML library), with every attribute and text escaped.

use super::verdict::Verdict;
use std::io::{self, Write};

/// Escapes text for an XML attribute or element (also drops characters XML 1.0 forbids).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// Writes the verdict; `suite` names the test suite (e.g. `skyload.checkout`), `seconds` the run time.
/// `run_error` is why the command failed beyond its checks (a run aborted, interrupted, killed, or
/// whose drill did not happen): it becomes a testcase with an `<error>`, so a reporter that reads
/// the file instead of the exit code never shows such a run green (with no check, it had none).
pub fn write(v: &Verdict, suite: &str, seconds: f64, run_error: Option<&str>, out: &mut dyn Write) -> io::Result<()> {
    let failures = v.failed();
    let (tests, errors) = (v.results.len() + usize::from(run_error.is_some()), usize::from(run_error.is_some()));
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<testsuites name="skyload" tests="{tests}" failures="{failures}" errors="{errors}" time="{seconds:.3}">"#)?;
    writeln!(out, r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="{errors}" skipped="0" time="{seconds:.3}">"#, escape(suite))?;
    if let Some(e) = run_error {
        writeln!(out, "    <testcase classname=\"{}.run\" name=\"run: ran as planned\" time=\"0\">", escape(suite))?;
        writeln!(out, "      <error message=\"{}\" type=\"run\">{}</error>\n    </testcase>", escape(e), escape(e))?;
    }
    for r in &v.results {
        let name = format!("{}: {}", r.scope, r.check);
        write!(out, r#"    <testcase classname="{}" name="{}" time="0">"#, escape(&format!("{suite}.{}", r.scope.replace(' ', "."))), escape(&name))?;
        let detail = format!("expected {}, measured {}{}", r.expected, r.measured, r.note.as_ref().map_or(String::new(), |n| format!(" ({n})")));
        if !r.passed {
            write!(out, "\n      <failure message=\"{}\" type=\"check\">{}</failure>\n    ", escape(&format!("{name}: {detail}")), escape(&detail))?;
        } else {
            write!(out, "<system-out>{}</system-out>", escape(&detail))?;
        }
        writeln!(out, "</testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

pub fn write_file(v: &Verdict, suite: &str, seconds: f64, run_error: Option<&str>, path: &std::path::Path) -> io::Result<()> {
    let mut buf = Vec::new();
    write(v, suite, seconds, run_error, &mut buf)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::verdict::CheckResult;

    #[test]
    fn escapes_what_xml_needs() {
        assert_eq!(escape(r#"p99 < 5ms & "x" 'y' >"#), "p99 &lt; 5ms &amp; &quot;x&quot; &apos;y&apos; &gt;");
        assert_eq!(escape("a\u{1}b\nc"), "ab&#10;c");
    }

    #[test]
    fn golden_junit() {
        let v = Verdict {
            results: vec![
                CheckResult { scope: "run".into(), check: "p99 < 50ms".into(), expected: "< 50ms".into(), measured: "12ms".into(), passed: true, note: None },
                CheckResult { scope: "stage hold".into(), check: "error_rate < 1%".into(), expected: "< 1%".into(), measured: "3%".into(), passed: false, note: None },
            ],
            generator_notes: vec![],
        };
        let mut out = Vec::new();
        write(&v, "skyload.demo", 2.5, None, &mut out).unwrap();
        let want = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="skyload" tests="2" failures="1" errors="0" time="2.500">
  <testsuite name="skyload.demo" tests="2" failures="1" errors="0" skipped="0" time="2.500">
    <testcase classname="skyload.demo.run" name="run: p99 &lt; 50ms" time="0"><system-out>expected &lt; 50ms, measured 12ms</system-out></testcase>
    <testcase classname="skyload.demo.stage.hold" name="stage hold: error_rate &lt; 1%" time="0">
      <failure message="stage hold: error_rate &lt; 1%: expected &lt; 1%, measured 3%" type="check">expected &lt; 1%, measured 3%</failure>
    </testcase>
  </testsuite>
</testsuites>
"#;
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    /// A run that failed beyond its checks (none here) is an error testcase, never an empty suite.
    #[test]
    fn a_run_error_is_a_testcase_with_an_error() {
        let mut out = Vec::new();
        write(&Verdict::default(), "skyload.x", 1.0, Some("run ended aborted: no <connection>"), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#"<testsuites name="skyload" tests="1" failures="0" errors="1""#), "{text}");
        assert!(text.contains(r#"name="run: ran as planned""#) && text.contains(r#"<error message="run ended aborted: no &lt;connection&gt;" type="run">"#), "{text}");
    }
}
