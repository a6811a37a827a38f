//! Secrets never leave the process: header values that carry credentials (Authorization, cookies,
//! tokens, API keys) and the embedded gateway's tokens are replaced before anything is written.

use crate::scenario::{Plan, Target};

pub const REDACTED: &str = "<redacted>";

/// Whether a header with this name carries a credential.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(n.as_str(), "authorization" | "proxy-authorization" | "cookie" | "set-cookie")
        || ["token", "secret", "api-key", "apikey", "password", "session"].iter().any(|k| n.contains(k))
}

/// Every secret value the plan holds.
pub fn secrets(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for r in &plan.requests {
        for (name, t) in &r.headers {
            if is_secret_header(name.as_str()) {
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
    out.sort();
    out.dedup();
    // Longest first, so a secret that contains another is replaced whole.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn collect_secret_strings(v: &toml::Value, secret_key: bool, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) if secret_key && s.len() >= 3 => out.push(s.clone()),
        toml::Value::Array(a) => a.iter().for_each(|x| collect_secret_strings(x, secret_key, out)),
        toml::Value::Table(t) => {
            for (k, x) in t {
                collect_secret_strings(x, secret_key || is_secret_header(k), out);
            }
        }
        _ => {}
    }
}

/// `text` with every secret replaced.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut s = text.to_string();
    for sec in secrets {
        s = s.replace(sec.as_str(), REDACTED);
    }
    s
}

/// The scenario as run, safe to write to disk.
pub fn scenario_text(plan: &Plan) -> String {
    super::scrub::scenario(&redact(&plan.source_text, &secrets(plan)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_carry_credentials() {
        for n in ["Authorization", "cookie", "X-Api-Key", "x-auth-token", "x-session-id"] {
            assert!(is_secret_header(n), "{n}");
        }
        for n in ["content-type", "x-pod", "accept"] {
            assert!(!is_secret_header(n), "{n}");
        }
    }

    #[test]
    fn replaces_longest_first() {
        let s = redact("a=abcdef b=abc", &["abcdef".into(), "abc".into()]);
        assert_eq!(s, "a=<redacted> b=<redacted>");
    }
}
