//! Secrets never leave the process. One function, [`text`], is what every writer passes its text
//! through: scenario copies, the HTML report, faults.json (exec commands and their output), error
//! messages. It works by *pattern*, so a secret the plan does not know as one is still caught:
//!
//! - the value of any key or header whose name looks secret ([`is_secret_name`]: auth, token,
//!   key, secret, password, cookie, session, signature, credential, … in any case and with any
//!   separator), written `name = value` (TOML, query strings, env assignments, `--flag=value`),
//!   `name: value` (headers, JSON), or `--name value` (command arguments);
//! - URL user-info (`scheme://user:password@host`);
//! - a credential after an HTTP auth scheme (`Bearer …`, `Basic …`, [`AUTH_SCHEMES`]) under any
//!   name: `X-Upstream-Auth` is caught by its name, `X-Forward: Bearer …` only by its value;
//! - TOML stays valid: a quoted value becomes `"<redacted>"`, an array keeps its length, a
//!   multi-line string is replaced whole.
//!
//! On top of the patterns, [`text_with`] replaces values known to be secret wherever they appear
//! (a token from the plan's headers echoed by a command).

use crate::scenario::{Plan, Target};

pub const REDACTED: &str = "<redacted>";

pub use crate::scenario::secrets::is_secret_name;

/// The same test, under the name header code knows it by.
pub fn is_secret_header(name: &str) -> bool {
    is_secret_name(name)
}

/// Every secret value the plan holds (literal parts of secret headers, the embedded gateway's
/// tokens), longest first so a secret that contains another is replaced whole.
pub fn secrets(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for r in &plan.requests {
        for (name, t) in &r.headers {
            let schemed = t.parts.iter().any(|p| matches!(p, crate::scenario::Part::Lit(s) if starts_with_scheme(s)));
            if is_secret_name(name.as_str()) || schemed {
                for p in &t.parts {
                    if let crate::scenario::Part::Lit(s) = p {
                        // "Bearer abc": the credential is the last word; keep the scheme visible.
                        let cred = s.rsplit(' ').next().unwrap_or(s).trim();
                        if cred.len() >= 3 {
                            out.push(cred.to_string());
                        }
                    }
                }
            }
        }
    }
    if let Target::Embedded(cfg) = &plan.target {
        if let Ok(v) = toml::Value::try_from(cfg) {
            collect_secret_strings(&v, false, &mut out);
        }
    }
    out.extend(env_secrets());
    tidy(out)
}

/// "Bearer …" / "Basic …": a header value that carries a credential whatever the header's name.
fn starts_with_scheme(s: &str) -> bool {
    let l = s.trim_start().to_ascii_lowercase();
    AUTH_SCHEMES.iter().any(|k| l.starts_with(k) && l[k.len()..].starts_with(' '))
}

/// Values of this process's environment variables whose names look secret (`API_TOKEN`,
/// `SKYLOAD_CONTROL_TOKEN`): a command run by an exec fault may echo them.
pub fn env_secrets() -> Vec<String> {
    std::env::vars().filter(|(k, v)| is_secret_name(k) && v.len() >= 4).map(|(_, v)| v).collect()
}

fn tidy(mut out: Vec<String>) -> Vec<String> {
    out.sort();
    out.dedup();
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn collect_secret_strings(v: &toml::Value, secret_key: bool, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) if secret_key && s.len() >= 3 => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|x| collect_secret_strings(x, secret_key, out)),
        toml::Value::Table(t) => {
            for (k, x) in t {
                collect_secret_strings(x, secret_key || is_secret_name(k), out);
            }
        }
        _ => {}
    }
}

/// `text` with every known secret value replaced.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut s = text.to_string();
    for sec in secrets {
        s = s.replace(sec.as_str(), REDACTED);
    }
    s
}

/// The scenario as run, safe to write to disk.
pub fn scenario_text(plan: &Plan) -> String {
    text_with(&plan.source_text, &secrets(plan))
}

/// Any text made safe to show or write: known values, then patterns.
pub fn text_with(s: &str, known: &[String]) -> String {
    text(&redact(s, known))
}

/// Any text made safe to show or write, by pattern (see the module doc).
pub fn text(s: &str) -> String {
    let s = userinfo(s);
    let s = pairs(&s);
    let s = flag_args(&s);
    after_schemes(&s)
}

/// HTTP authentication schemes whose next word is a credential (RFC 9110 §11; AWS's SigV4).
pub const AUTH_SCHEMES: [&str; 6] = ["bearer", "basic", "digest", "negotiate", "ntlm", "aws4-hmac-sha256"];

/// Shortest word after a scheme taken for a credential: "Basic auth" and "Bearer tokens" in a
/// comment stay readable; real credentials are longer.
const MIN_CREDENTIAL: usize = 8;

/// `Bearer abc.def-ghi` → `Bearer <redacted>`, whatever key or header it sits under. The scheme
/// stays (it says what kind of credential it was); only a word of token68 characters (RFC 9110:
/// letters, digits, `-._~+/` and trailing `=`) of `MIN_CREDENTIAL` or more is replaced.
fn after_schemes(s: &str) -> String {
    let token68 = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let at_word = i == 0 || !s[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let scheme = AUTH_SCHEMES.iter().find(|k| at_word && lower[i..].starts_with(**k) && s[i + k.len()..].starts_with(' '));
        if let Some(k) = scheme {
            let start = i + k.len() + 1;
            let word = s[start..].find(|c: char| !token68(c)).map_or(&s[start..], |e| &s[start..start + e]);
            if word.len() >= MIN_CREDENTIAL {
                out.push_str(&s[i..start]);
                out.push_str(REDACTED);
                i = start + word.len();
                continue;
            }
        }
        let c = s[i..].chars().next().expect("i is below the length, on a char boundary");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// A shell command (exec fault) made safe: patterns plus the values of secret-looking
/// environment variables it might expand.
pub fn command(s: &str) -> String {
    text_with(s, &tidy(env_secrets()))
}

/// `scheme://user:pass@host` → `scheme://<redacted>@host`.
fn userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find("://") {
        let (head, tail) = rest.split_at(p + 3);
        out.push_str(head);
        let auth_end = tail.find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\'').unwrap_or(tail.len());
        match tail[..auth_end].rfind('@') {
            Some(at) if tail[..at] != *REDACTED => {
                out.push_str(REDACTED);
                rest = &tail[at..];
            }
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// `--password hunter2`, `-token abc`: a secret-looking flag without `=` takes the next word.
fn flag_args(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut redact_next = false;
    for piece in s.split_inclusive([' ', '\n', '\t']) {
        let word = piece.trim_end_matches([' ', '\n', '\t']);
        let sep = &piece[word.len()..];
        if redact_next && !word.is_empty() && !word.starts_with('-') && word != REDACTED && word.trim_matches(['"', '\'']) != REDACTED {
            out.push_str(REDACTED);
            out.push_str(sep);
            redact_next = false;
            continue;
        }
        redact_next = false;
        if let Some(flag) = word.strip_prefix("--").or_else(|| word.strip_prefix('-')) {
            if !flag.is_empty() && !flag.contains(['=', '/', ':']) && flag.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) && is_secret_name(flag) {
                redact_next = sep.starts_with(' ') || sep.starts_with('\t');
            }
        }
        out.push_str(piece);
    }
    out
}

/// Values of `name = value` and `name: value` pairs whose name looks secret.
fn pairs(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if b[i] == b'=' || b[i] == b':' {
            let line_start = s[..i].rfind('\n').map_or(0, |p| p + 1);
            let key = key_before(&s[line_start..i]);
            let colon = b[i] == b':';
            // `==`, `://` and `:=`-less `a:b` inside a word are not pairs.
            let not_pair = (b[i] == b'=' && b.get(i + 1) == Some(&b'='))
                || (colon && b.get(i + 1) == Some(&b'/'))
                || (colon && i > 0 && b[i - 1] == b':');
            if !not_pair && !key.is_empty() && is_secret_name(key) && !names_a_file(&s[value_start(b, i + 1)..]) {
                let start = value_start(b, i + 1);
                if let Some((end, repl)) = value(s, start, colon) {
                    out.push_str(&s[copied..start]);
                    out.push_str(&repl);
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&s[copied..]);
    out
}

/// Whether a value is the path of a key or certificate file (`key = "certs/client.key"`,
/// `--key: /etc/tls/client.key does not match`): the file holds the secret, its name does not, and
/// an error that hid it would not say which file is wrong.
fn names_a_file(v: &str) -> bool {
    const EXT: [&str; 8] = [".pem", ".key", ".crt", ".cer", ".der", ".p12", ".pfx", ".csr"];
    let v = v.trim_start_matches(['"', '\'']);
    let end = v.find(|c: char| !(c.is_ascii_alphanumeric() || "._-/~+".contains(c))).unwrap_or(v.len());
    let is_file = |t: &str| EXT.iter().any(|e| t.len() > e.len() && t.to_ascii_lowercase().ends_with(e));
    if is_file(&v[..end]) {
        return true;
    }
    // A sentence about such a file (`--key: the key in /etc/tls/a.key does not match …`): secrets
    // are one or two words, never prose of four or more that names a key or certificate file.
    let line = v.lines().next().unwrap_or("");
    let words: Vec<&str> = line.split_whitespace().collect();
    words.len() >= 4 && words.iter().any(|w| is_file(w.trim_end_matches([',', ';', ':', '.', ')'])))
}

/// The name written just before `=` or `:`, without quotes or spaces; empty when it is part of a
/// file name (`dir/other-key.pem`) or a longer word.
fn key_before(s: &str) -> &str {
    let t = s.trim_end_matches([' ', '\t']).trim_end_matches(['"', '\'']);
    let start = t.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).map_or(0, |p| p + 1);
    if start > 0 && matches!(t.as_bytes()[start - 1], b'/' | b'\\') {
        return "";
    }
    &t[start..]
}

fn value_start(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Where the value starting at `start` ends and what replaces it; None when there is nothing to
/// replace (empty, or already redacted).
fn value(s: &str, start: usize, colon: bool) -> Option<(usize, String)> {
    let b = s.as_bytes();
    if start >= b.len() {
        return None;
    }
    let rest = &s[start..];
    let quoted = |q: &str| format!("{q}{REDACTED}{q}");
    let (end, repl) = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        let q = &rest[..3];
        let close = rest[3..].find(q).map_or(s.len(), |p| start + 3 + p + 3);
        (close, quoted("\""))
    } else if b[start] == b'"' || b[start] == b'\'' {
        let q = b[start];
        let mut j = start + 1;
        while j < b.len() && b[j] != q && b[j] != b'\n' {
            j += if b[j] == b'\\' && q == b'"' { 2 } else { 1 };
        }
        (if j < b.len() && b[j] == q { j + 1 } else { j.min(b.len()) }, quoted(if q == b'"' { "\"" } else { "'" }))
    } else if b[start] == b'[' {
        return array(s, start);
    } else if b[start] == b'{' {
        // An inline table: its own keys are looked at one by one.
        return None;
    } else {
        // A backtick ends it too: messages quote commands in backticks (`--token=abc`).
        let stop: &[u8] = if colon { b"\"'\n\r" } else { b"&,}]#\"'` \t\n\r;" };
        let end = b[start..].iter().position(|c| stop.contains(c)).map_or(b.len(), |p| start + p);
        (end, REDACTED.to_string())
    };
    let v = &s[start..end];
    // Already redacted (text that went through here once, then got quoted into a message): what
    // follows the mark is the message's, and redacting again must change nothing.
    if end <= start || v.starts_with(REDACTED) || v.trim_matches(['"', '\'']) == REDACTED {
        return None;
    }
    Some((end, repl))
}

/// An array of secrets: each string in it becomes `"<redacted>"`, so the count and the TOML stay.
fn array(s: &str, start: usize) -> Option<(usize, String)> {
    let b = s.as_bytes();
    let mut out = String::from("[");
    let mut j = start + 1;
    let mut depth = 1;
    while j < b.len() && depth > 0 {
        match b[j] {
            b'"' | b'\'' => {
                let q = b[j];
                let mut k = j + 1;
                while k < b.len() && b[k] != q {
                    k += if b[k] == b'\\' && q == b'"' { 2 } else { 1 };
                }
                out.push('"');
                out.push_str(REDACTED);
                out.push('"');
                j = (k + 1).min(b.len());
                continue;
            }
            b'[' => depth += 1,
            b']' => depth -= 1,
            _ => {}
        }
        out.push(b[j] as char);
        j += 1;
    }
    if s[start..j] == *out {
        return None;
    }
    Some((j, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command quoted in a message keeps its closing backtick, and redacting twice changes
    /// nothing (`faults clear` printed "`touch X --token=<redacted> (exec fault" before).
    #[test]
    fn a_quoted_command_keeps_its_backtick_and_redacting_is_idempotent() {
        assert_eq!(text("stop command `touch X --token=abc123xyz` (exec fault)"), "stop command `touch X --token=<redacted>` (exec fault)");
        let once = text("stop command `touch X --token=<redacted>` (exec fault `f`)");
        assert_eq!(once, "stop command `touch X --token=<redacted>` (exec fault `f`)");
        for s in ["password: hunter22 and more", "api_key=\"sk-123456\" x", "curl -H 'Authorization: Bearer abcdefghijk'", "--token=abc123xyz`"] {
            let r = text(s);
            assert_eq!(text(&r), r, "{s}");
            assert!(!r.contains("hunter22") && !r.contains("sk-123456") && !r.contains("abcdefghijk") && !r.contains("abc123xyz"), "{r}");
        }
    }

    #[test]
    fn names_that_carry_credentials() {
        for n in [
            "Authorization", "cookie", "Set-Cookie", "X-Api-Key", "x-auth-token", "x-session-id", "x-auth", "x-auth-key",
            "ocp-apim-subscription-key", "api_key", "sig", "X-Amz-Signature", "client_secret", "PASSWORD", "apiKey",
            "x_csrf_token", "SKYLOAD_CONTROL_TOKEN", "credentials", "pwd", "private_key", "sid", "AccessKeyId",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["content-type", "x-pod", "accept", "x-fn-version", "x-cold-start", "design", "rate", "duration", "url", "host"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn replaces_longest_first() {
        let s = redact("a=abcdef b=abc", &["abcdef".into(), "abc".into()]);
        assert_eq!(s, "a=<redacted> b=<redacted>");
    }

    #[test]
    fn secret_values_go_whatever_the_form() {
        let t = "authorization = \"Bearer s3cr3t\"\n\
                 headers = { Authorization = \"Bearer s3cr3t\", accept = \"*/*\" }\n\
                 tokens = [\"s3cr3t\", \"other-s3cr3t\"]\n\
                 # flags: -H 'Authorization: Bearer s3cr3t' --rate 5\n\
                 x-api-key: s3cr3t\n\
                 path = \"/v1/items?api_key=s3cr3t&page=2&sig=s3cr3t\"\n\
                 url = \"http://user:s3cr3t@example.test/x\"\n\
                 body = '{\"password\": \"s3cr3t\", \"n\": 1}'\n\
                 start = \"kubectl --token s3cr3t delete pod x; API_TOKEN=s3cr3t curl --password=s3cr3t http://h\"\n\
                 name = \"token-less\"\n";
        let s = text(t);
        assert!(!s.contains("s3cr3t"), "{s}");
        assert!(s.contains("accept = \"*/*\"") && s.contains("--rate 5") && s.contains("page=2"), "{s}");
        assert!(s.contains("headers = { Authorization = \"<redacted>\", accept"), "{s}");
        assert!(s.contains("tokens = [\"<redacted>\", \"<redacted>\"]"), "{s}");
        assert!(s.contains("delete pod x"), "{s}");
    }

    /// A credential after an auth scheme goes under any name (a reviewer's `-H 'X-Upstream: Bearer
    /// …'` reached scenario.toml and report.html); prose and short words after a scheme stay.
    #[test]
    fn a_credential_after_an_auth_scheme_goes_under_any_name() {
        let t = "\"X-Upstream\" = \"Bearer SECRET456\"\n# -H 'X-Fwd: basic dXNlcjpwYXNz' and bearer eyJhbGciOi.J9.x-_~+/==\n\
                 # Basic auth, Bearer tokens; NegotiateSECRETXYZ is one word; AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7/x\n";
        let s = text(t);
        for leaked in ["SECRET456", "dXNlcjpwYXNz", "eyJhbGciOi"] {
            assert!(!s.contains(leaked), "{leaked}: {s}");
        }
        assert!(s.contains("\"X-Upstream\" = \"Bearer <redacted>\"") && s.contains("basic <redacted>'"), "{s}");
        assert!(s.contains("Basic auth, Bearer tokens;") && s.contains("NegotiateSECRETXYZ"), "{s}");
        assert!(!s.contains("AKIAIOSFODNN7"), "{s}");
        assert!(starts_with_scheme("Bearer x") && starts_with_scheme(" basic x") && !starts_with_scheme("Bearerx") && !starts_with_scheme("text/plain"));
    }

    #[test]
    fn toml_stays_valid() {
        let t = "[target]\nurl = \"http://127.0.0.1:8080\"\ntoken = \"\"\"\nline one\nline two\n\"\"\"\n\
                 secrets = [\"a\", 'b', [\"c\"]]\nkey = 'x'\n[target.headers]\n\"X-Api-Key\" = \"abc\"\nx-session = 'tok'\n";
        let s = text(t);
        let v: toml::Value = toml::from_str(&s).unwrap_or_else(|e| panic!("{e}\n{s}"));
        assert_eq!(v["target"]["token"].as_str(), Some(REDACTED), "{s}");
        assert!(!s.contains("line one") && !s.contains("abc") && !s.contains("tok'"), "{s}");
        assert_eq!(v["target"]["secrets"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn already_redacted_and_ordinary_text_is_kept() {
        let t = "[target]\nurl = \"http://127.0.0.1:8080\"\nauthorization = \"<redacted>\"\ntimeout = \"2s\"\n\
                 tls_cert = \"dir/other-key.pem\"\ncmd = \"cat dir/other-key.pem: x\"\n";
        assert_eq!(text(t), t);
        assert_eq!(text(&text("a x-api-key: v")), "a x-api-key: <redacted>");
    }

    #[test]
    fn key_file_names_are_not_secrets() {
        assert_eq!(text("error: --key: /tmp/x/other.key does not match the certificate"), "error: --key: /tmp/x/other.key does not match the certificate");
        assert_eq!(text("key = \"certs/client.pem\""), "key = \"certs/client.pem\"");
        assert_eq!(text("api_key: s3cr3tvalue"), format!("api_key: {REDACTED}"));
        let prose = "--key: the key in /tmp/x/other.key does not match the certificate in /tmp/x/c.pem";
        assert_eq!(text(prose), prose);
        assert_eq!(text("token: abc /x/a.pem"), format!("token: {REDACTED}"));
    }

    #[test]
    fn url_user_info() {
        assert_eq!(text("cannot reach http://bob:pw@h:8/x"), "cannot reach http://<redacted>@h:8/x");
        assert_eq!(text("http://h:8/x"), "http://h:8/x");
    }
}
