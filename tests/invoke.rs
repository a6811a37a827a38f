//! `skyload invoke` as curl users drive it: `-L` redirect chains (method and body per status,
//! relative Locations, secret headers held back from another host, the --max-redirs limit) and
//! `-w` output, against a scripted HTTP/1.1 server on loopback that records every request.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::{Arc, Mutex};

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Routes: `/go/CODE/REST` answers CODE with `Location: /REST`; `/cross/CODE` answers CODE with
/// `Location: http://localhost:PORT/final` (another host: the same server by another name);
/// `/dir/sub/rel` answers 302 `Location: ../../final`; `/loop` answers 302 to itself; anything
/// else 200 with `METHOD BODY` as its body.
struct Scripted {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Bytes of every response's header block, in order.
    header_bytes: Arc<Mutex<Vec<usize>>>,
}

impl Scripted {
    fn start() -> Scripted {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let header_bytes = Arc::new(Mutex::new(Vec::new()));
        let (s, h) = (seen.clone(), header_bytes.clone());
        std::thread::spawn(move || {
            // Bounded: a test opens a handful of connections; 200 is far past any of them.
            for c in l.incoming().take(200) {
                let Ok(c) = c else { return };
                let (s, h) = (s.clone(), h.clone());
                std::thread::spawn(move || serve(c, port, &s, &h));
            }
        });
        Scripted { port, seen, header_bytes }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// `--resolve` so `localhost` is this server's 127.0.0.1 whatever /etc/hosts says about ::1.
    fn resolve(&self) -> String {
        format!("localhost:{}:127.0.0.1", self.port)
    }
}

fn serve(c: TcpStream, port: u16, seen: &Mutex<Vec<Seen>>, header_bytes: &Mutex<Vec<usize>>) {
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut w = c;
    // At most 100 requests per connection (a loop test sends 51).
    for _ in 0..100 {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.insert(n.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let (code, location) = route(&path, port);
        let reply = if code == 200 { format!("{method} {body}") } else { String::new() };
        seen.lock().unwrap().push(Seen { method, path, headers, body });
        let reason = match code {
            200 => "OK",
            301 => "Moved Permanently",
            302 => "Found",
            303 => "See Other",
            307 => "Temporary Redirect",
            _ => "Permanent Redirect",
        };
        let mut head = format!("HTTP/1.1 {code} {reason}\r\nContent-Length: {}\r\n", reply.len());
        if let Some(l) = location {
            head.push_str(&format!("Location: {l}\r\n"));
        }
        head.push_str("\r\n");
        header_bytes.lock().unwrap().push(head.len());
        if w.write_all(head.as_bytes()).and_then(|_| w.write_all(reply.as_bytes())).is_err() {
            return;
        }
    }
}

fn route(path: &str, port: u16) -> (u16, Option<String>) {
    let segs: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    match segs.as_slice() {
        ["go", code, rest] => (code.parse().unwrap(), Some(format!("/{rest}"))),
        ["cross", code] => (code.parse().unwrap(), Some(format!("http://localhost:{port}/final"))),
        ["dir", "sub", "rel"] => (302, Some("../../final".into())),
        ["loop"] => (302, Some("/loop".into())),
        _ => (200, None),
    }
}

fn invoke(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_skyload")).arg("invoke").args(args).stdin(std::process::Stdio::null()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn trail(s: &Scripted) -> Vec<(String, String, String)> {
    s.seen().into_iter().map(|r| (r.method, r.path, r.body)).collect()
}

fn v(m: &str, p: &str, b: &str) -> (String, String, String) {
    (m.into(), p.into(), b.into())
}

/// Without -L a redirect is shown as it is; with -L, 303 turns the POST into a GET without its
/// body, 307 keeps the method and the body, and 301/302 turn a POST into a GET along a chain.
#[test]
fn redirects_change_method_and_body_as_curl_does() {
    let s = Scripted::start();
    let o = invoke(&[&s.url("/go/302/final")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("HTTP/1.1 302 Found") && text(&o).contains("location: /final"), "{}", text(&o));
    assert_eq!(trail(&s), [v("GET", "/go/302/final", "")]);

    let s = Scripted::start();
    let o = invoke(&[&s.url("/go/303/final"), "-L", "-d", "payload"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(trail(&s), [v("POST", "/go/303/final", "payload"), v("GET", "/final", "")]);
    let out = text(&o);
    assert!(out.contains(&format!("redirect 1: 303 See Other  {} -> {} (GET)", s.url("/go/303/final"), s.url("/final"))), "{out}");
    assert!(out.contains("HTTP/1.1 200 OK") && out.contains("GET "), "{out}");

    let s = Scripted::start();
    let o = invoke(&[&s.url("/go/307/final"), "--location", "-X", "PUT", "-d", "payload"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(trail(&s), [v("PUT", "/go/307/final", "payload"), v("PUT", "/final", "payload")]);

    let s = Scripted::start();
    let o = invoke(&[&s.url("/go/301/go/302/go/308/final"), "-L", "-d", "payload"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        trail(&s),
        [v("POST", "/go/301/go/302/go/308/final", "payload"), v("GET", "/go/302/go/308/final", ""), v("GET", "/go/308/final", ""), v("GET", "/final", "")]
    );

    // A relative Location is resolved against the URL that answered: /dir/sub/rel + ../../final.
    let s = Scripted::start();
    let o = invoke(&[&s.url("/dir/sub/rel"), "-L", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(trail(&s), [v("GET", "/dir/sub/rel", ""), v("GET", "/final", "")]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["redirects"][0]["location"], s.url("/final"));
    assert_eq!(j["url"], s.url("/final"));
}

/// Authorization and Cookie (and any other secret-looking -H header) are not sent to another host
/// after a redirect, and the output says so without the value; --location-trusted sends them.
#[test]
fn secret_headers_are_not_sent_to_another_host() {
    let s = Scripted::start();
    let headers = ["-H", "Authorization: Bearer TOPSECRET", "-H", "Cookie: session=COOKIESECRET", "-H", "x-trace: t1"];
    let mut args = vec![s.url("/cross/302"), "-L".into(), "--resolve".into(), s.resolve()];
    args.extend(headers.iter().map(|h| h.to_string()));
    let o = invoke(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = s.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].headers.get("authorization").map(String::as_str), Some("Bearer TOPSECRET"));
    assert_eq!(seen[0].headers.get("cookie").map(String::as_str), Some("session=COOKIESECRET"));
    assert_eq!(seen[1].headers.get("host").map(String::as_str), Some(format!("localhost:{}", s.port).as_str()));
    assert_eq!(seen[1].headers.get("x-trace").map(String::as_str), Some("t1"), "other headers go along");
    assert!(!seen[1].headers.contains_key("authorization") && !seen[1].headers.contains_key("cookie"), "{:?}", seen[1].headers);
    let out = text(&o);
    assert!(out.contains(&format!("authorization not sent to http://localhost:{}", s.port)) && out.contains("cookie not sent to"), "{out}");
    assert!(!out.contains("TOPSECRET") && !out.contains("COOKIESECRET"), "{out}");

    let s = Scripted::start();
    let mut args = vec![s.url("/cross/307"), "--location-trusted".into(), "--resolve".into(), s.resolve()];
    args.extend(headers.iter().map(|h| h.to_string()));
    let o = invoke(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let seen = s.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].headers.get("authorization").map(String::as_str), Some("Bearer TOPSECRET"));
    assert!(!text(&o).contains("not sent to"), "{}", text(&o));
}

/// A redirect loop stops at --max-redirs (curl's 50 by default) with exit 3 naming the count.
#[test]
fn a_redirect_loop_stops_at_max_redirs() {
    let s = Scripted::start();
    let o = invoke(&[&s.url("/loop"), "-L", "--max-redirs", "3"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("maximum (3) redirects followed"), "{}", text(&o));
    assert_eq!(s.seen().len(), 4, "the first request and 3 redirects");

    let s = Scripted::start();
    let o = invoke(&[&s.url("/loop"), "-L"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("maximum (50) redirects followed"), "{}", text(&o));
    assert_eq!(s.seen().len(), 51);

    let s = Scripted::start();
    let o = invoke(&[&s.url("/go/302/final"), "-L", "--max-redirs", "1"]);
    assert_eq!(o.status.code(), Some(0), "exactly the limit is fine: {}", text(&o));

    // -1 is curl's "no limit": a chain of any length is followed, and a loop still stops at the
    // hard bound (1000), said to be a loop.
    let s = Scripted::start();
    let o = invoke(&[&s.url("/go/302/final"), "-L", "--max-redirs", "-1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let s = Scripted::start();
    let o = invoke(&[&s.url("/loop"), "-L", "--max-redirs", "-1", "-s"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("maximum (1000) redirects followed") && err.contains("--max-redirs -1"), "{err}");
    assert_eq!(s.seen().len(), 1001);
}

/// `-w` with curl's variables after a redirect; with -s it is all that is printed. An unknown
/// variable is refused before anything is sent, listing the known ones; @FILE reads the format;
/// a secret in the URL's query is redacted in %{url_effective}.
#[test]
fn write_out_prints_curls_variables() {
    let s = Scripted::start();
    let fmt = r"%{http_code} %{response_code} %{http_version} %{num_redirects} %{url_effective} %{remote_ip} %{remote_port} %{scheme} %{size_download} %{size_header}\n";
    let o = invoke(&[&s.url("/go/302/final"), "-L", "-s", "-d", "hi", "-w", fmt]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let headers: usize = s.header_bytes.lock().unwrap().iter().sum();
    // The final answer's body is "GET " (the 302 turned the POST into a GET).
    let want = format!("200 200 1.1 1 {} 127.0.0.1 {} HTTP 4 {headers}\n", s.url("/final"), s.port);
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);

    let s = Scripted::start();
    let o = invoke(&[&s.url("/final"), "-w", r"\n%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{time_total}\n"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("HTTP/1.1 200 OK") && out.contains("timing:"), "without -s the call is shown first: {out}");
    let times: Vec<&str> = out.trim_end().lines().last().unwrap().split(' ').collect();
    assert_eq!(times.len(), 5, "{out}");
    for t in &times {
        let (_, decimals) = t.split_once('.').unwrap();
        assert!(decimals.len() == 6 && t.parse::<f64>().is_ok(), "{t} in {out}");
    }
    assert_eq!(times[2], "0.000000", "no TLS: appconnect is 0 as in curl");
    let (connect, start): (f64, f64) = (times[1].parse().unwrap(), times[3].parse().unwrap());
    assert!(connect <= start, "{out}");

    let o = invoke(&[&s.url("/final"), "-w", "%{http_code} %{header_json}"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("-w: unknown variable %{header_json}") && err.contains("%{http_code}") && err.contains("%{time_total}"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("fmt.txt");
    std::fs::write(&f, "code=%{http_code}\\tredirects=%{num_redirects}\n").unwrap();
    let o = invoke(&[&s.url("/final?user=7&api_key=QUERYSECRET"), "-s", "-w", &format!("@{}", f.display())]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "code=200\tredirects=0\n", "{}", text(&o));
    let o = invoke(&[&s.url("/final?user=7&api_key=QUERYSECRET"), "-s", "-w", "%{url_effective}"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.ends_with("user=7&api_key=<redacted>") && !out.contains("QUERYSECRET"), "{out}");
}

/// A listener that answers each of its connections with `reply` after reading the request's
/// head, then closes (`None`: reads and never answers, until the test's process ends).
fn one_shot(reply: Option<&'static [u8]>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        // Bounded: each test below makes one call.
        for c in l.incoming().take(4) {
            let Ok(mut c) = c else { return };
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                match reply {
                    Some(b) => {
                        let _ = c.write_all(b);
                    }
                    // Held open (not answered) for longer than the call's -m 1s; bounded.
                    None => std::thread::sleep(std::time::Duration::from_secs(30)),
                }
            });
        }
    });
    port
}

/// As curl: when no response came (refused, timed out, closed without an answer) `-w` is still
/// written, with `000`, http_version `0`, 0 for what was not reached, and the URL tried; the exit
/// code stays 3 and the error says why. A body that broke off keeps its status and the bytes
/// that came.
#[test]
fn write_out_is_written_when_no_response_came() {
    let fmt = r"%{http_code} %{response_code} %{http_version} %{size_download} %{size_header} %{num_redirects} %{time_appconnect} %{time_starttransfer} %{remote_ip}|%{remote_port} %{url_effective} %{scheme}\n";
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{closed}/x");
    let o = invoke(&[&url, "-s", "-w", fmt]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("000 000 0 0 0 0 0.000000 0.000000 |0 {url} HTTP\n"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot connect"), "{}", text(&o));

    // Connected, then closed without an answer: the address is known, nothing else.
    let port = one_shot(Some(b""));
    let url = format!("http://127.0.0.1:{port}/x");
    let o = invoke(&[&url, "-s", "-w", fmt]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("000 000 0 0 0 0 0.000000 0.000000 127.0.0.1|{port} {url} HTTP\n"));

    // No answer within -m: written after the error's cause is known, time_total included.
    let port = one_shot(None);
    let o = invoke(&[&format!("http://127.0.0.1:{port}/x"), "-s", "-m", "1s", "-w", "%{http_code} %{time_total}\n"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (code, total) = out.trim_end().split_once(' ').unwrap();
    assert!(code == "000" && total.parse::<f64>().is_ok(), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("within 1s"), "{}", text(&o));

    // The head came, then the body broke off after 4 of 10 bytes: curl's 200 and 4.
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd";
    let port = one_shot(Some(head));
    let o = invoke(&[&format!("http://127.0.0.1:{port}/x"), "-s", "-w", "%{http_code} %{http_version} %{size_download} %{size_header}\n"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("200 1.1 4 {}\n", head.len() - 4));
    assert!(String::from_utf8_lossy(&o.stderr).contains("broke off"), "{}", text(&o));

    // Past --max-redirs: the last answer's code and the redirects followed.
    let s = Scripted::start();
    let o = invoke(&[&s.url("/loop"), "-L", "--max-redirs", "2", "-s", "-w", "%{http_code} %{num_redirects} %{url_effective}\n"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("302 2 {}\n", s.url("/loop")));
}
