//! Which names carry credentials. The scenario format refuses such a header as `pod_header` or a
//! label (its values would be written to the Results), and `record::redact` scrubs the values of
//! such names from everything written, so both ask this one test; it is plain string logic and
//! sits low enough for both. The control APIs that check a presented token (the embedded
//! gateway's, the fault proxy's) compare it here too, with [`constant_time_eq`].

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

/// Compares a presented token without stopping at the first differing byte, so response time
/// does not tell an attacker how much of a guess was right (the length may show; it is public).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    /// Equal only when every byte and the length agree; a difference in the last byte, the first
    /// byte or the length is caught alike, and empty equals only empty.
    #[test]
    fn token_compare() {
        assert!(constant_time_eq(b"Bearer abc", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abd", b"Bearer abc"));
        assert!(!constant_time_eq(b"bearer abc", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer ab", b"Bearer abc"));
        assert!(!constant_time_eq(b"Bearer abcd", b"Bearer abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"", b"x"));
    }
}
