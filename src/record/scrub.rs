//! Secrets in scenario text found by their key, not their value: every value given to a
//! secret-looking key (`authorization = "..."`, `tokens = [...]`, `Authorization: Bearer ...` in
//! a recorded flag) is replaced. `redact` replaces the values the final plan holds; this also
//! catches those the plan no longer holds (a file's header replaced by a `-H` flag still sits in
//! the file's text), and the HTML report applies it again to scenario text from older Results.

use super::redact::{is_secret_header, REDACTED};

/// The scenario text with every value of a secret-looking key or header replaced.
pub fn scenario(text: &str) -> String {
    let mut out = text.lines().map(line).collect::<Vec<_>>().join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn line(l: &str) -> String {
    let b = l.as_bytes();
    let mut out = String::with_capacity(l.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] == b'=' || b[i] == b':' {
            let key = key_before(&l[..i]);
            if !key.is_empty() && is_secret_header(key) {
                let start = value_start(b, i + 1);
                let end = value_end(b, start, b[i] == b':');
                if end > start && &l[start..end] != REDACTED && &l[start..end] != "\"<redacted>\"" {
                    out.push_str(&l[copied..start]);
                    out.push_str(if b[start] == b'"' && b[i] == b'=' { "\"<redacted>\"" } else { REDACTED });
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&l[copied..]);
    out
}

/// The name written just before `=` or `:`, without quotes or spaces.
fn key_before(s: &str) -> &str {
    let t = s.trim_end().trim_end_matches(['"', '\'']);
    let start = t.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).map_or(0, |p| p + 1);
    &t[start..]
}

fn value_start(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    i
}

/// The end of the value: a quoted string, a bracketed list, or (for `Name: value` inside a
/// string) up to the closing quote.
fn value_end(b: &[u8], start: usize, header_style: bool) -> usize {
    if start >= b.len() {
        return start;
    }
    let until = |close: u8, from: usize| b[from..].iter().position(|&c| c == close).map_or(b.len(), |p| from + p + 1);
    match b[start] {
        b'"' if !header_style => until(b'"', start + 1),
        b'\'' if !header_style => until(b'\'', start + 1),
        b'[' => until(b']', start + 1),
        _ => {
            let stop: &[u8] = if header_style { b"\"'" } else { b",}#" };
            b[start..].iter().position(|c| stop.contains(c)).map_or(b.len(), |p| start + p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_go_whatever_the_form() {
        let t = "authorization = \"Bearer s3cr3t\"\n\
                 headers = { Authorization = \"Bearer s3cr3t\", accept = \"*/*\" }\n\
                 tokens = [\"s3cr3t\", \"other\"]\n\
                 # flags: -H 'Authorization: Bearer s3cr3t' --rate 5\n\
                 x-api-key: s3cr3t\n\
                 name = \"token-less\"\n";
        let s = scenario(t);
        assert!(!s.contains("s3cr3t"), "{s}");
        assert!(s.contains("accept = \"*/*\"") && s.contains("--rate 5") && s.contains("name = \"token-less\""), "{s}");
        assert!(s.contains("headers = { Authorization = \"<redacted>\", accept"), "{s}");
    }

    #[test]
    fn already_redacted_and_ordinary_text_is_kept() {
        let t = "[target]\nurl = \"http://127.0.0.1:8080\"\nauthorization = \"<redacted>\"\ntimeout = \"2s\"\n";
        assert_eq!(scenario(t), t);
    }
}
