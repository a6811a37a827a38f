//! Which names carry credentials. The scenario format refuses such a header as `pod_header` or a
//! label (its values would be written to the Results), and `record::redact` scrubs the values of
//! such names from everything written, so both ask this one test; it is plain string logic and
//! sits low enough for both.

/// Name fragments that mark a credential wherever they appear in a name (separators removed).
const SECRET_PARTS: [&str; 15] = [
    "auth", "token", "key", "secret", "passw", "cookie", "session", "signature", "credential", "bearer", "private",
    "csrf", "xsrf", "jwt", "apim",
];
/// Short names that mark a credential only as a whole word (`sig`, but not `design`).
const SECRET_WORDS: [&str; 6] = ["sig", "sid", "pwd", "pass", "sas", "otp"];

/// Whether a header, query parameter, TOML key, flag or environment variable with this name
/// carries a credential. Case and separators (`-`, `_`, `.`, camelCase) do not matter.
pub fn is_secret_name(name: &str) -> bool {
    let flat: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    if flat.is_empty() {
        return false;
    }
    if SECRET_PARTS.iter().any(|p| flat.contains(p)) {
        return true;
    }
    words(name).iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
}

/// `x-amz-Sig`, `sigValue`, `SIG` → lower-case words split at separators and camelCase humps.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
