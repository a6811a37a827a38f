//! Turns a `toml::de::Error` (a message and a byte span) into a located scenario error with the
//! field path and a friendlier message. TOML errors carry no field path, so the text is parsed a
//! second time into a tree of spans only (`SpanTree`), and the path is the deepest key or value
//! that contains the error's position. serde's wording is rewritten where people trip most:
//! unknown fields get the table they are in, the allowed names and a "did you mean".

use super::error::{suggestion, Reporter, ScenarioError};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use toml::Spanned;

/// Converts a TOML parse/deserialize error for `text` into a located `ScenarioError`.
pub fn translate(rep: &Reporter, err: &toml::de::Error) -> ScenarioError {
    let (at, field, mut message) = explain(rep.text, err, &TOP_LEVEL_FIELDS);
    if field.is_empty() && message.starts_with("unknown field") && looks_like_gateway_config(rep.text) {
        message.push_str(GATEWAY_CONFIG_HINT);
    }
    rep.at(at, field, message)
}

/// Said when a gateway configuration (`scenarios/gateways/demo.toml`) is given where a scenario
/// is expected: its first gateway-wide field reads as an unknown scenario field, which alone does
/// not tell the user they picked the wrong kind of file.
const GATEWAY_CONFIG_HINT: &str = "; this file looks like a gateway configuration (a top-level [functions] table, no [target]): serve it with `skyload gateway --config FILE`, or put its tables under [gateway] in a scenario with [target] embedded = true";

/// A gateway configuration has its functions at the top level and no target.
fn looks_like_gateway_config(text: &str) -> bool {
    text.parse::<toml::Table>().is_ok_and(|t| t.contains_key("functions") && !t.contains_key("target"))
}

/// A TOML error in `text` as (byte offset, field path, message), in the words of [`translate`]:
/// the table an unknown field is in, what is allowed and a "did you mean". `top_level` are the
/// document's top-level fields, for the hint when one is written under a table by mistake. Also
/// for other files of the same kind (a gateway config).
pub fn explain(text: &str, err: &toml::de::Error, top_level: &[&str]) -> (Option<usize>, String, String) {
    let at = err.span().map(|s| s.start);
    let segments = at
        .map(|at| match toml::from_str::<Spanned<SpanTree>>(text) {
            Ok(t) => path_at(&t, at),
            // toml 0.8 gives no span to the keys of a table opened by a dotted header
            // (`[gateway.functions.hello]`), and the tree does not build: read the lines instead.
            Err(_) => path_by_lines(text, at),
        })
        .unwrap_or_default();
    let message = err.message().trim().replace('\n', ": ");
    if let Some((field, allowed)) = parse_unknown_field(&message) {
        let parent = &segments[..segments.len().saturating_sub(1)];
        let table = table_header(parent);
        let allowed_list = if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") };
        let mut hint = suggestion(&field, allowed.iter().map(String::as_str));
        if !parent.is_empty() && top_level.contains(&field.as_str()) {
            hint = format!(
                "; `{field}` is a top-level field: move it above the first [table] header (in TOML a key after a header belongs to that table)"
            );
        }
        return (at, join(parent), format!("unknown field `{field}` in {table}; allowed: {allowed_list}{hint}"));
    }
    if let Some((value, allowed)) = parse_unknown_variant(&message) {
        let hint = suggestion(&value, allowed.iter().map(String::as_str));
        return (at, join(&segments), format!("`{value}` is not allowed; allowed: {}{hint}", allowed.join(", ")));
    }
    if text.parse::<toml::Table>().is_err() {
        // Not a field's value but the file's syntax: "expected `.`, `=`" alone does not say so.
        return (at, join(&segments), format!("not valid TOML: {}", friendlier(&message)));
    }
    (at, join(&segments), friendlier(&message))
}

/// The top-level fields of a scenario, for the hint when one is written under a table by mistake
/// (kept in step with `RawScenario` by a test).
pub const TOP_LEVEL_FIELDS: [&str; 21] = [
    "name",
    "description",
    "seed",
    "threads",
    "pod_header",
    "labels",
    "max_in_flight",
    "max_lag",
    "pacer",
    "target",
    "connections",
    "stages",
    "requests",
    "feeders",
    "outcomes",
    "faults",
    "gateway",
    "checks",
    "windows",
    "capacity",
    "metrics",
];

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// `stages[1].rate`.
pub fn join(segs: &[Seg]) -> String {
    let mut out = String::new();
    for s in segs {
        match s {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k)
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// How the table at `segs` is written in the file: `[target]`, `[[stages]]`, or "the top level".
fn table_header(segs: &[Seg]) -> String {
    let keys: Vec<&str> =
        segs.iter().filter_map(|s| if let Seg::Key(k) = s { Some(k.as_str()) } else { None }).collect();
    match segs.last() {
        None => "the top level".to_string(),
        Some(Seg::Index(_)) => format!("[[{}]]", keys.join(".")),
        Some(Seg::Key(_)) => format!("[{}]", keys.join(".")),
    }
}

/// Any TOML value, keeping only the spans of keys and values (to find a path from a position).
#[derive(Debug)]
pub enum SpanTree {
    Leaf,
    Array(Vec<Spanned<SpanTree>>),
    Table(Vec<(Spanned<String>, Spanned<SpanTree>)>),
}

impl<'de> Deserialize<'de> for SpanTree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpanTree;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any TOML value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<SpanTree, E> {
                Ok(SpanTree::Leaf)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<SpanTree, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(SpanTree::Array(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<SpanTree, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    v.push(kv);
                }
                Ok(SpanTree::Table(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// The path of the deepest key or value containing byte offset `at`. The root's own span is not
/// meaningful in toml 0.8, so the search always starts inside it.
pub fn path_at(root: &Spanned<SpanTree>, at: usize) -> Vec<Seg> {
    let mut path = Vec::new();
    let mut node = root.get_ref();
    loop {
        let next = match node {
            SpanTree::Leaf => None,
            SpanTree::Array(items) => items
                .iter()
                .enumerate()
                .find(|(_, v)| v.span().contains(&at) || v.span().start == at)
                .map(|(i, v)| (Seg::Index(i), Some(v.get_ref()))),
            SpanTree::Table(entries) => entries.iter().find_map(|(k, v)| {
                if k.span().contains(&at) && !v.span().contains(&at) {
                    Some((Seg::Key(k.get_ref().clone()), None))
                } else if v.span().contains(&at) || v.span().start == at {
                    Some((Seg::Key(k.get_ref().clone()), Some(v.get_ref())))
                } else {
                    None
                }
            }),
        };
        match next {
            Some((seg, child)) => {
                path.push(seg);
                match child {
                    Some(c) => node = c,
                    None => return path,
                }
            }
            None => return path,
        }
    }
}

/// The path at byte `at` from the text's lines: the last table header above it (`[a.b]`, or
/// `[[a]]` counted to its index) and the key of its own line. For files the span tree cannot
/// read; without inline tables or multi-line values in between it is the same path.
fn path_by_lines(text: &str, at: usize) -> Vec<Seg> {
    let keys = |s: &str| -> Vec<Seg> { s.split('.').map(|k| Seg::Key(k.trim().trim_matches('"').trim_matches('\'').to_string())).collect() };
    let mut path = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let end = pos + line.len();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            seen.push(name.trim().to_string());
            path = keys(name);
            path.push(Seg::Index(seen.iter().filter(|n| *n == name.trim()).count() - 1));
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            path = keys(name);
        }
        if (pos..end).contains(&at) {
            if let Some((k, _)) = line.split_once('=').filter(|_| !t.starts_with('[') && !t.starts_with('#')) {
                path.extend(keys(k));
            }
            return path;
        }
        pos = end;
    }
    path
}

/// serde: "unknown field `rat`, expected one of `a`, `b`" / "expected `a` or `b`" / "there are no fields".
fn parse_unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (field, rest) = rest.split_once('`')?;
    Some((field.to_string(), backticked(rest)))
}

/// serde: "unknown variant `poison`, expected `uniform` or `poisson`".
fn parse_unknown_variant(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown variant `")?;
    let (value, rest) = rest.split_once('`')?;
    Some((value.to_string(), backticked(rest)))
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Replaces Rust type names in serde's messages with what they mean in a scenario file.
fn friendlier(msg: &str) -> String {
    let mut m = msg.to_string();
    for (rust, human) in [
        ("expected f64", "expected a number"),
        ("expected i64", "expected a whole number"),
        ("expected u64", "expected a whole number >= 0"),
        ("expected a boolean", "expected true or false"),
        ("expected a borrowed string", "expected a string"),
    ] {
        m = m.replace(rust, human);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str, needle: &str) -> String {
        let tree: Spanned<SpanTree> = toml::from_str(text).unwrap();
        join(&path_at(&tree, text.find(needle).unwrap()))
    }

    #[test]
    fn finds_paths_from_positions() {
        let t = "name = \"x\"\n[target]\nurl = \"u\"\n[[stages]]\nrate = 1\n[[stages]]\nrat = 2\nsteps = [1, 2]\n";
        assert_eq!(path(t, "\"x\""), "name");
        assert_eq!(path(t, "\"u\""), "target.url");
        assert_eq!(path(t, "rat ="), "stages[1].rat");
        assert_eq!(path(t, "2]"), "stages[1].steps[1]");
        assert_eq!(path("stages = [{rate = 1}, {rate = 7}]", "7"), "stages[1].rate");
        // Under a dotted header the key is in the innermost table (it read "the top level").
        let g = "name = \"g\"\n[[stages]]\nrate = 1\n[gateway.functions.hello]\npodz = 2\n[gateway.functions.other]\npods = 1\n";
        let by_lines = |needle: &str| join(&path_by_lines(g, g.find(needle).unwrap()));
        assert_eq!(by_lines("podz"), "gateway.functions.hello.podz");
        assert_eq!(by_lines("pods = 1"), "gateway.functions.other.pods");
        assert_eq!(by_lines("rate"), "stages[0].rate");
        assert_eq!(by_lines("\"g\""), "name");
        // On files the tree reads, both ways agree.
        for needle in ["\"x\"", "\"u\"", "rat ="] {
            assert_eq!(join(&path_by_lines(t, t.find(needle).unwrap())), path(t, needle), "{needle}");
        }
    }

    #[test]
    fn table_headers_read_like_the_file() {
        assert_eq!(table_header(&[]), "the top level");
        assert_eq!(table_header(&[Seg::Key("target".into())]), "[target]");
        assert_eq!(table_header(&[Seg::Key("stages".into()), Seg::Index(2)]), "[[stages]]");
    }

    #[test]
    fn top_level_fields_match_the_model() {
        let e = toml::from_str::<super::super::model::RawScenario>("zzz = 1").unwrap_err();
        let (_, allowed) = parse_unknown_field(e.message()).unwrap();
        assert_eq!(allowed, TOP_LEVEL_FIELDS.map(String::from).to_vec());
    }

    #[test]
    fn parses_serde_messages() {
        let (f, a) = parse_unknown_field("unknown field `rat`, expected one of `name`, `rate`").unwrap();
        assert_eq!((f.as_str(), a), ("rat", vec!["name".to_string(), "rate".to_string()]));
        let (f, a) = parse_unknown_field("unknown field `x`, there are no fields").unwrap();
        assert_eq!((f.as_str(), a.len()), ("x", 0));
        let (v, a) =
            parse_unknown_variant("unknown variant `poison`, expected `uniform` or `poisson`").unwrap();
        assert_eq!((v.as_str(), a), ("poison", vec!["uniform".to_string(), "poisson".to_string()]));
    }

    /// A syntax error says it is one; a wrong value in valid TOML does not.
    #[test]
    fn a_syntax_error_says_the_file_is_not_toml() {
        let e = toml::from_str::<toml::Table>("this is [ not toml").unwrap_err();
        let (at, _, m) = explain("this is [ not toml", &e, &TOP_LEVEL_FIELDS);
        assert!(at.is_some() && m.starts_with("not valid TOML: "), "{m}");
        #[derive(serde::Deserialize, Debug)]
        struct S {
            #[allow(dead_code)]
            rate: f64,
        }
        let e = toml::from_str::<S>("rate = \"x\"").unwrap_err();
        let (_, _, m) = explain("rate = \"x\"", &e, &TOP_LEVEL_FIELDS);
        assert!(!m.contains("TOML"), "{m}");
    }
}
