//! `skyload invoke -w FORMAT` (curl's `--write-out`): a line of the call's facts, for scripts.
//! The format is parsed once, before anything is sent, so an unknown `%{name}` is an error that
//! lists the known ones (curl only warns and prints nothing for it). No variable shows a header
//! or a body, and the URL is redacted as in every other output: `-w` cannot print a secret.

/// What `-w` can show of one call (after its redirects).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// 0 when no response came (curl prints `000`).
    pub http_code: u16,
    /// `1.1`, `2`, `1.0`; `0` when no response came (as curl).
    pub http_version: String,
    /// Seconds from the start to each step's end, added up over redirects as curl does.
    pub time_namelookup: f64,
    pub time_connect: f64,
    /// 0 when no TLS handshake was made.
    pub time_appconnect: f64,
    pub time_starttransfer: f64,
    pub time_total: f64,
    pub size_download: u64,
    pub size_header: u64,
    pub remote_ip: String,
    pub remote_port: u16,
    /// Already redacted.
    pub url_effective: String,
    pub num_redirects: u32,
    /// `HTTP` or `HTTPS`, as curl prints it.
    pub scheme: String,
}

/// The variables, in the order the error message lists them.
pub const VARIABLES: [&str; 15] = [
    "http_code",
    "response_code",
    "http_version",
    "time_namelookup",
    "time_connect",
    "time_appconnect",
    "time_starttransfer",
    "time_total",
    "size_download",
    "size_header",
    "remote_ip",
    "remote_port",
    "url_effective",
    "num_redirects",
    "scheme",
];

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(&'static str),
}

/// A parsed `-w` format.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    pieces: Vec<Piece>,
}

impl Format {
    /// The flag's value: the format itself, `@FILE` to read it from a file, `@-` from stdin.
    pub fn from_arg(arg: &str) -> Result<Format, String> {
        let text = match arg.strip_prefix('@') {
            Some("-") => std::io::read_to_string(std::io::stdin()).map_err(|e| format!("-w @-: cannot read the format from stdin: {e}"))?,
            Some(path) => std::fs::read_to_string(path).map_err(|e| format!("-w @{path}: cannot read the format from {path}: {e}"))?,
            None => arg.to_string(),
        };
        Format::parse(&text).map_err(|m| format!("-w: {m}"))
    }

    /// `%{name}`, `%%`, and the escapes `\n`, `\r`, `\t`, `\\`; anything else is kept as written.
    pub fn parse(s: &str) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match (c, chars.peek().map(|p| p.1)) {
                ('%', Some('%')) => {
                    chars.next();
                    text.push('%');
                }
                ('%', Some('{')) => {
                    let rest = &s[i + 2..];
                    let Some(end) = rest.find('}') else { return Err(format!("`%{{` at byte {i} has no closing `}}`")) };
                    let name = &rest[..end];
                    let Some(var) = VARIABLES.iter().find(|v| **v == name) else {
                        return Err(format!("unknown variable %{{{name}}}; known: {}", VARIABLES.map(|v| format!("%{{{v}}}")).join(" ")));
                    };
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Var(var));
                    for _ in 0..end + 2 {
                        chars.next();
                    }
                }
                ('\\', Some(e @ ('n' | 'r' | 't' | '\\'))) => {
                    chars.next();
                    text.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        _ => '\\',
                    });
                }
                (c, _) => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Format { pieces })
    }

    pub fn render(&self, f: &Facts) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v) => out.push_str(&value(v, f)),
            }
        }
        out
    }
}

fn value(name: &str, f: &Facts) -> String {
    let secs = |s: f64| format!("{s:.6}");
    match name {
        "http_code" | "response_code" => format!("{:03}", f.http_code),
        "http_version" => f.http_version.clone(),
        "time_namelookup" => secs(f.time_namelookup),
        "time_connect" => secs(f.time_connect),
        "time_appconnect" => secs(f.time_appconnect),
        "time_starttransfer" => secs(f.time_starttransfer),
        "time_total" => secs(f.time_total),
        "size_download" => f.size_download.to_string(),
        "size_header" => f.size_header.to_string(),
        "remote_ip" => f.remote_ip.clone(),
        "remote_port" => f.remote_port.to_string(),
        "url_effective" => f.url_effective.clone(),
        "num_redirects" => f.num_redirects.to_string(),
        "scheme" => f.scheme.clone(),
        other => unreachable!("`{other}` is checked against VARIABLES when parsed"),
    }
}

/// The size of the response's header block as curl counts it: the status line, each header as
/// `name: value\r\n`, and the blank line. (Over HTTP/1.1 the server's own spacing is not kept, so
/// this is the size of the headers as received, give or take the blanks around each value.)
pub fn header_size(version: &str, status: http::StatusCode, reason: Option<&str>, headers: &http::HeaderMap) -> u64 {
    let reason = reason.or(status.canonical_reason()).unwrap_or("");
    let status_line = format!("HTTP/{version} {} {reason}\r\n", status.as_u16()).len();
    let fields: usize = headers.iter().map(|(n, v)| n.as_str().len() + 2 + v.as_bytes().len() + 2).sum();
    (status_line + fields + 2) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            http_code: 200,
            http_version: "1.1".into(),
            time_namelookup: 0.0,
            time_connect: 0.000_25,
            time_appconnect: 0.0,
            time_starttransfer: 0.0015,
            time_total: 1.25,
            size_download: 42,
            size_header: 77,
            remote_ip: "127.0.0.1".into(),
            remote_port: 8080,
            url_effective: "http://127.0.0.1:8080/x".into(),
            num_redirects: 2,
            scheme: "HTTP".into(),
        }
    }

    #[test]
    fn variables_escapes_and_percent() {
        let f = Format::parse(r"%{http_code} %{response_code}\t%{time_total}s %{time_connect} 100%% %{url_effective}\n").unwrap();
        assert_eq!(f.render(&facts()), "200 200\t1.250000s 0.000250 100% http://127.0.0.1:8080/x\n");
        let f = Format::parse("%{remote_ip}:%{remote_port} %{num_redirects} %{scheme} %{http_version} %{size_download}/%{size_header} %{time_namelookup} %{time_appconnect} %{time_starttransfer}").unwrap();
        assert_eq!(f.render(&facts()), "127.0.0.1:8080 2 HTTP 1.1 42/77 0.000000 0.000000 0.001500");
        assert_eq!(Format::parse("%{http_code}").unwrap().render(&Facts::default()), "000");
        // A lone % or backslash, and an unknown escape, are kept as written (as curl does).
        assert_eq!(Format::parse(r"50% \q \\").unwrap().render(&facts()), r"50% \q \");
    }

    #[test]
    fn unknown_or_unclosed_variables_are_errors_that_list_the_known_ones() {
        let e = Format::parse("%{http_code} %{header_json}").unwrap_err();
        assert!(e.contains("unknown variable %{header_json}") && e.contains("%{time_total}") && e.contains("%{scheme}"), "{e}");
        assert!(Format::parse("%{http_code").unwrap_err().contains("no closing"));
    }

    #[test]
    fn format_from_a_file() {
        let p = std::env::temp_dir().join(format!("skyload-w-{}.txt", std::process::id()));
        std::fs::write(&p, "code=%{http_code}\n").unwrap();
        assert_eq!(Format::from_arg(&format!("@{}", p.display())).unwrap().render(&facts()), "code=200\n");
        std::fs::remove_file(&p).unwrap();
        assert!(Format::from_arg(&format!("@{}", p.display())).unwrap_err().starts_with(&format!("-w @{}: cannot read", p.display())));
    }

    #[test]
    fn header_size_counts_lines_as_sent() {
        let mut h = http::HeaderMap::new();
        h.insert("content-length", http::HeaderValue::from_static("2"));
        // "HTTP/1.1 200 OK\r\n" 17 + "content-length: 2\r\n" 19 + "\r\n" 2
        assert_eq!(header_size("1.1", http::StatusCode::OK, None, &h), 38);
    }
}
