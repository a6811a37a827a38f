//! `skyload invoke -L` (curl's `--location`): which answers are followed, with what method and
//! body, to which URL, and which headers go along. Pure functions, so curl's rules are pinned by
//! tables of cases here rather than found out against a server.

use http::Method;

/// curl's default `--max-redirs` when `-L` is given.
pub const DEFAULT_MAX_REDIRS: u32 = 50;

/// `--max-redirs -1` (curl's "no limit") still stops here: curl would follow a loop for ever,
/// and every hop is a request to a server; `--timeout` bounds the chain's time besides.
pub const UNLIMITED_REDIRS: u32 = 1000;

/// The bound `--max-redirs` sets, and whether it was `-1` (no limit asked for).
pub fn max_redirs(flag: Option<i64>) -> (u32, bool) {
    match flag {
        None => (DEFAULT_MAX_REDIRS, false),
        Some(n) if n < 0 => (UNLIMITED_REDIRS, true),
        Some(n) => (u32::try_from(n).unwrap_or(u32::MAX), false),
    }
}

/// The request to send after a redirect: curl's rules. 301 and 302 turn a POST into a GET without
/// its body (what browsers do, against the letter of RFC 9110); 303 turns anything but HEAD into a
/// GET without a body; 307 and 308 keep the method and the body. None: not a redirect to follow
/// (other 3xx such as 300 or 304 are shown as they are).
pub fn next_method(status: u16, method: &Method) -> Option<(Method, bool)> {
    match status {
        301 | 302 if *method == Method::POST => Some((Method::GET, false)),
        301 | 302 => Some((method.clone(), true)),
        303 if *method == Method::HEAD => Some((Method::HEAD, false)),
        303 => Some((Method::GET, false)),
        307 | 308 => Some((method.clone(), true)),
        _ => None,
    }
}

/// Where a `Location` points, resolved against the URL that answered (RFC 3986 section 5.2): an
/// absolute URL, `//host/path`, `/path`, `path` relative to the current directory (with `.` and
/// `..` removed), or `?query`. A fragment is dropped (it is never sent).
pub fn resolve(base: &str, location: &str) -> Result<String, String> {
    let location = location.trim();
    let location = location.split_once('#').map_or(location, |(l, _)| l);
    let (scheme, rest) = base.split_once("://").ok_or_else(|| format!("`{base}` is not an absolute URL"))?;
    let (authority, base_path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if has_scheme(location) {
        return Ok(location.to_string());
    }
    if let Some(r) = location.strip_prefix("//") {
        return Ok(format!("{scheme}://{r}"));
    }
    let base_path_only = base_path.split_once('?').map_or(base_path, |(p, _)| p);
    let joined = if location.is_empty() {
        base_path.to_string()
    } else if location.starts_with('?') {
        format!("{}{location}", if base_path_only.is_empty() { "/" } else { base_path_only })
    } else {
        let (path, query) = location.split_once('?').map_or((location, None), |(p, q)| (p, Some(q)));
        let merged = if path.starts_with('/') {
            path.to_string()
        } else {
            let dir = base_path_only.rfind('/').map_or("/", |i| &base_path_only[..=i]);
            format!("{dir}{path}")
        };
        let clean = remove_dot_segments(&merged);
        match query {
            Some(q) => format!("{clean}?{q}"),
            None => clean,
        }
    };
    Ok(format!("{scheme}://{authority}{joined}"))
}

/// `scheme:` at the start (letters, digits, `+`, `-`, `.` after a letter).
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// RFC 3986 section 5.2.4 over `/`-separated segments; the result starts with `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." | ".." => {
                if *seg == ".." {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Whether a header given with -H goes to this hop. curl sends `Authorization` and `Cookie` only
/// to the scheme, host and port of the first URL unless `--location-trusted`; skyload holds back
/// every header whose name looks secret (the same rule that redacts them in output: also
/// `x-api-key`, `proxy-authorization`, ...), so a redirect never hands a credential to a host the
/// user did not name.
pub fn sends_header(is_secret: bool, same_origin_as_first: bool, trusted: bool) -> bool {
    !is_secret || same_origin_as_first || trusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_redirs_minus_one_is_no_limit_under_the_hard_bound() {
        assert_eq!(max_redirs(None), (50, false));
        assert_eq!(max_redirs(Some(0)), (0, false));
        assert_eq!(max_redirs(Some(7)), (7, false));
        assert_eq!(max_redirs(Some(-1)), (UNLIMITED_REDIRS, true));
    }

    #[test]
    fn methods_follow_curl() {
        let cases = [
            (301, Method::POST, Some((Method::GET, false))),
            (302, Method::POST, Some((Method::GET, false))),
            (302, Method::PUT, Some((Method::PUT, true))),
            (301, Method::GET, Some((Method::GET, true))),
            (303, Method::POST, Some((Method::GET, false))),
            (303, Method::DELETE, Some((Method::GET, false))),
            (303, Method::HEAD, Some((Method::HEAD, false))),
            (307, Method::POST, Some((Method::POST, true))),
            (308, Method::PATCH, Some((Method::PATCH, true))),
            (300, Method::GET, None),
            (304, Method::GET, None),
            (200, Method::GET, None),
        ];
        for (status, m, want) in cases {
            assert_eq!(next_method(status, &m), want, "{status} {m}");
        }
    }

    #[test]
    fn locations_resolve_as_rfc_3986_says() {
        let base = "http://127.0.0.1:8080/a/b/c?q=1";
        let cases = [
            ("https://other:9/x", "https://other:9/x"),
            ("//localhost:7/y?z", "http://localhost:7/y?z"),
            ("/top", "http://127.0.0.1:8080/top"),
            ("d", "http://127.0.0.1:8080/a/b/d"),
            ("./d?k=v", "http://127.0.0.1:8080/a/b/d?k=v"),
            ("../d", "http://127.0.0.1:8080/a/d"),
            ("../../../../d", "http://127.0.0.1:8080/d"),
            ("..", "http://127.0.0.1:8080/a/"),
            ("?p=2", "http://127.0.0.1:8080/a/b/c?p=2"),
            ("/x#frag", "http://127.0.0.1:8080/x"),
            ("", "http://127.0.0.1:8080/a/b/c?q=1"),
        ];
        for (loc, want) in cases {
            assert_eq!(resolve(base, loc).unwrap(), want, "{loc}");
        }
        assert_eq!(resolve("http://h:1", "next").unwrap(), "http://h:1/next");
        assert_eq!(resolve("http://h:1", "?a").unwrap(), "http://h:1/?a");
        assert!(resolve("not a url", "/x").is_err());
    }

    #[test]
    fn secret_headers_stay_with_the_first_origin() {
        assert!(sends_header(false, false, false));
        assert!(sends_header(true, true, false));
        assert!(!sends_header(true, false, false));
        assert!(sends_header(true, false, true));
    }
}
