//! The request mix and the outcome rules: names, weights, methods, templated paths/headers/bodies
//! (compiled against the feeders), default headers merged in, and the ordered matchers that name
//! each response's outcome. Template errors point at the placeholder's own column in the file.

use toml::Spanned;
use super::error::{suggestion, Reporter, ScenarioError};
use super::model::{RawHeaders, RawOutcome, RawRequest, RawStatus};
use super::plan::{Feeder, HeaderMatch, Matcher, Part, RequestPlan, StatusMatch, Template};
use super::resolve::valid_name;
use super::template::{self, TemplateError};
use http::{HeaderName, Method};

/// Methods a request may use. Extension methods are refused on purpose: `GTE` is far more often a
/// typo than a custom verb.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// Outcome names the runner gives to transport failures; a rule may not reuse them.
pub const TRANSPORT_OUTCOMES: [&str; 5] = ["timeout", "connect", "reset", "protocol", "dropped"];

pub fn resolve(
    raw: Option<&Spanned<Vec<Spanned<RawRequest>>>>,
    defaults: Option<RawHeaders>,
    feeders: &[Feeder],
    rep: &Reporter,
) -> Result<Vec<RequestPlan>, ScenarioError> {
    let raw = match raw {
        Some(r) if !r.get_ref().is_empty() => r.get_ref(),
        Some(r) => {
            return Err(rep.span(
                r.span(),
                "requests",
                "at least one request is needed, e.g. [[requests]] path = \"/\"",
            ))
        }
        None => return Err(rep.at(
            None,
            "requests",
            "missing [[requests]]: add at least one, e.g.\n  [[requests]]\n  name = \"home\"\n  path = \"/\"",
        )),
    };
    let defaults = match &defaults {
        Some(h) => headers(h, "target.headers", feeders, rep)?,
        None => Vec::new(),
    };
    let mut out: Vec<RequestPlan> = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let f = |name: &str| format!("requests[{i}].{name}");
        let raw = r.get_ref();
        let name = match &raw.name {
            Some(n) if !valid_name(n.get_ref()) => {
                return Err(rep.span(n.span(), f("name"), format!("`{}` is not allowed: a request name is letters, digits, `.`, `_` and `-` (it tags output files)", n.get_ref())))
            }
            Some(n) if out.iter().any(|o| o.name == *n.get_ref()) => {
                return Err(rep.span(n.span(), f("name"), format!("`{}` is already the name of an earlier request; names must be unique", n.get_ref())))
            }
            Some(n) => n.get_ref().clone(),
            None => format!("request-{}", i + 1),
        };
        let weight = match &raw.weight {
            Some(w) => match u32::try_from(*w.get_ref()) {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(rep.span(
                        w.span(),
                        f("weight"),
                        format!(
                        "{} is not allowed: a weight is a whole number > 0 (this request's share of the mix)",
                        w.get_ref()
                    ),
                    ))
                }
            },
            None => 1,
        };
        let method = match &raw.method {
            Some(m) => parse_method(m.get_ref()).map_err(|msg| rep.span(m.span(), f("method"), msg))?,
            None => Method::GET,
        };
        let Some(p) = &raw.path else {
            return Err(rep.span(
                r.span(),
                format!("requests[{i}]"),
                "missing path: the path and query to request, starting with `/` (e.g. path = \"/fn/hello\")",
            ));
        };
        if !p.get_ref().starts_with('/') {
            return Err(rep.span(
                p.span(),
                f("path"),
                format!(
                    "`{}` is not allowed: a path starts with `/` (it is appended to the target URL)",
                    p.get_ref()
                ),
            ));
        }
        let path = compile(p, &f("path"), feeders, rep)?;
        if let Some(bad) = literal_chars(&path).find(|c| c.is_whitespace() || c.is_control()) {
            return Err(rep.span(
                p.span(),
                f("path"),
                format!(
                    "`{}` contains {bad:?}: percent-encode it in a URL path (a space is %20)",
                    p.get_ref()
                ),
            ));
        }
        let mut hs = defaults.clone();
        if let Some(own) = &raw.headers {
            for (name, value) in headers(own, &f("headers"), feeders, rep)? {
                hs.retain(|(n, _)| *n != name);
                hs.push((name, value));
            }
        }
        if let Some(b) = raw.body.as_ref().filter(|b| b.get_ref().len() > super::bounds::MAX_BODY_BYTES) {
            return Err(rep.span(b.span(), f("body"), format!("a body of {} bytes; at most {}", b.get_ref().len(), super::bounds::MAX_BODY_BYTES)));
        }
        let body = raw.body.as_ref().map(|b| compile(b, &f("body"), feeders, rep)).transpose()?;
        out.push(RequestPlan { name, weight, method, path, headers: hs, body });
    }
    Ok(out)
}

/// A method name, upper-cased; only the common HTTP methods.
pub fn parse_method(m: &str) -> Result<Method, String> {
    let upper = m.to_ascii_uppercase();
    if METHODS.contains(&upper.as_str()) {
        return Method::from_bytes(upper.as_bytes()).map_err(|e| e.to_string());
    }
    Err(format!("`{m}` is not allowed; allowed: {}{}", METHODS.join(", "), suggestion(&upper, METHODS)))
}

/// A header table → lower-case names with compiled values; a name given twice (in any case) is an error.
fn headers(
    raw: &RawHeaders,
    field: &str,
    feeders: &[Feeder],
    rep: &Reporter,
) -> Result<Vec<(HeaderName, Template)>, ScenarioError> {
    let mut out: Vec<(HeaderName, Template)> = Vec::new();
    for (k, v) in raw {
        if out.len() == super::bounds::MAX_HEADERS {
            return Err(rep.span(k.span(), format!("{field}.{}", k.get_ref()), format!("more than {} headers; servers refuse far fewer", super::bounds::MAX_HEADERS)));
        }
        if v.get_ref().len() > super::bounds::MAX_HEADER_VALUE_BYTES {
            return Err(rep.span(
                v.span(),
                format!("{field}.{}", k.get_ref()),
                format!("a value of {} bytes; at most {} bytes per header", v.get_ref().len(), super::bounds::MAX_HEADER_VALUE_BYTES),
            ));
        }
        let name = HeaderName::from_bytes(k.get_ref().as_bytes()).map_err(|_| {
            rep.span(
                k.span(),
                format!("{field}.{}", k.get_ref()),
                format!(
                    "`{}` is not a valid header name: letters, digits and `-` (e.g. x-request-id)",
                    k.get_ref()
                ),
            )
        })?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(rep.span(
                k.span(),
                format!("{field}.{}", k.get_ref()),
                format!("header `{name}` is given twice (names are case-insensitive)"),
            ));
        }
        let vfield = format!("{field}.{}", k.get_ref());
        let value = compile(v, &vfield, feeders, rep)?;
        if let Some(bad) = literal_chars(&value).find(|c| c.is_control() && *c != '\t') {
            return Err(rep.span(v.span(), vfield, format!("{bad:?} is not allowed in a header value")));
        }
        out.push((name, value));
    }
    Ok(out)
}

fn literal_chars(t: &Template) -> impl Iterator<Item = char> + '_ {
    t.parts.iter().flat_map(|p| match p {
        Part::Lit(s) => s.chars().collect::<Vec<_>>(),
        _ => Vec::new(),
    })
}

/// Compiles a template string value; an error points at the placeholder inside the string when
/// the string is written plainly (no escapes), else at the string's start.
fn compile(
    v: &Spanned<String>,
    field: &str,
    feeders: &[Feeder],
    rep: &Reporter,
) -> Result<Template, ScenarioError> {
    template::compile(v.get_ref(), feeders).map_err(|TemplateError { offset, message }| {
        let span = v.span();
        let written = rep.text.get(span.clone()).unwrap_or("");
        let plain = [('"', 1), ('\'', 1)].iter().any(|(q, n)| {
            written.len() == v.get_ref().len() + 2 * n
                && written.starts_with(*q)
                && written[*n..written.len() - n] == *v.get_ref()
        });
        let at = if plain { span.start + 1 + offset } else { span.start };
        rep.at(Some(at), field, message)
    })
}

pub fn resolve_outcomes(raw: &[Spanned<RawOutcome>], rep: &Reporter) -> Result<Vec<Matcher>, ScenarioError> {
    raw.iter().enumerate().map(|(i, o)| outcome(i, o, rep)).collect()
}

fn outcome(i: usize, o: &Spanned<RawOutcome>, rep: &Reporter) -> Result<Matcher, ScenarioError> {
    let f = |name: &str| format!("outcomes[{i}].{name}");
    let raw = o.get_ref();
    let name = raw.name.get_ref();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(rep.span(raw.name.span(), f("name"), format!("`{name}` is not allowed: an outcome name is lower-case letters, digits and `_` (e.g. fallback)")));
    }
    if TRANSPORT_OUTCOMES.contains(&name.as_str()) {
        return Err(rep.span(
            raw.name.span(),
            f("name"),
            format!(
                "`{name}` is reserved for transport failures ({}); choose another name",
                TRANSPORT_OUTCOMES.join(", ")
            ),
        ));
    }
    if let (Some(e), None) = (&raw.equals, &raw.header) {
        return Err(rep.span(
            e.span(),
            f("equals"),
            "equals compares a header's value, so it needs header = \"name\"",
        ));
    }
    if raw.status.is_none() && raw.header.is_none() && raw.body_contains.is_none() {
        return Err(rep.span(
            o.span(),
            format!("outcomes[{i}]"),
            "a rule needs at least one condition: status, header (with optional equals) or body_contains",
        ));
    }
    let status =
        raw.status.as_ref().map(|s| status(s).map_err(|m| rep.span(s.span(), f("status"), m))).transpose()?;
    let header = match &raw.header {
        Some(h) => Some(HeaderMatch {
            name: HeaderName::from_bytes(h.get_ref().as_bytes()).map_err(|_| {
                rep.span(h.span(), f("header"), format!("`{}` is not a valid header name", h.get_ref()))
            })?,
            equals: raw.equals.as_ref().map(|e| e.get_ref().clone()),
        }),
        None => None,
    };
    Ok(Matcher {
        outcome: name.clone(),
        status,
        header,
        body_contains: raw.body_contains.as_ref().map(|b| b.get_ref().clone()),
    })
}

fn status(s: &Spanned<RawStatus>) -> Result<StatusMatch, String> {
    let rule = "a status is a code 100..=599, a list of codes, or a class \"1xx\"..\"5xx\"";
    match s.get_ref() {
        RawStatus::Codes(codes) if codes.is_empty() => Err(format!("an empty list is not allowed: {rule}")),
        RawStatus::Codes(codes) => codes
            .iter()
            .map(|c| {
                u16::try_from(*c)
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .ok_or_else(|| format!("{c} is not allowed: {rule}"))
            })
            .collect::<Result<_, _>>()
            .map(StatusMatch::Codes),
        RawStatus::Class(c) => {
            let b = c.to_ascii_lowercase().into_bytes();
            match b.as_slice() {
                [d @ b'1'..=b'5', b'x', b'x'] => Ok(StatusMatch::Class(d - b'0')),
                _ => Err(format!("\"{c}\" is not allowed: {rule}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods() {
        assert_eq!(parse_method("post").unwrap(), Method::POST);
        let e = parse_method("GTE").unwrap_err();
        assert!(e.contains("allowed: GET") && e.contains("did you mean `GET`?"), "{e}");
    }

    #[test]
    fn statuses() {
        #[derive(serde::Deserialize)]
        struct W {
            status: Spanned<RawStatus>,
        }
        let sp = |s: &str| toml::from_str::<W>(&format!("status = {s}")).unwrap().status;
        assert_eq!(status(&sp("200")).unwrap(), StatusMatch::Codes(vec![200]));
        assert_eq!(status(&sp("[200, 201]")).unwrap(), StatusMatch::Codes(vec![200, 201]));
        assert_eq!(status(&sp("\"5XX\"")).unwrap(), StatusMatch::Class(5));
        for bad in ["99", "[]", "\"6xx\"", "\"500\""] {
            assert!(status(&sp(bad)).is_err(), "{bad}");
        }
    }
}
