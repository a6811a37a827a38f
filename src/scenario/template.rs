//! `{{...}}` templates in paths, headers and bodies, parsed once when the scenario is loaded so
//! the engine only concatenates. Parsing (`parse`) is separate from naming (`compile` looks names
//! up in the feeders) so each half is tested alone; errors carry the byte offset inside the
//! template text, which the caller maps to a line and column in the file.

use super::error::suggestion;
use super::plan::{Feeder, Part, Template};

/// A problem at byte `offset` of the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

/// A parsed piece before names are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawPart {
    Lit(String),
    /// `{{name}}` or `{{feeder.column}}`, with the offset of the `{{`.
    Name {
        name: String,
        offset: usize,
    },
    Seq,
    Uuid,
    RandInt(i64, i64),
    /// `{{trace_id}}`, with the offset of the `{{` (a feeder column of that name is refused).
    TraceId {
        offset: usize,
    },
}

const BUILTINS: &str = "seq, uuid, trace_id, rand_int A B";

/// Splits text into literals and placeholders. Whitespace inside the braces is ignored.
pub fn parse(text: &str) -> Result<Vec<RawPart>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut base = 0;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(RawPart::Lit(rest[..open].to_string()));
        }
        let offset = base + open;
        let inner_start = open + 2;
        let close = rest[inner_start..].find("}}").ok_or_else(|| TemplateError {
            offset,
            message: "`{{` is not closed: a placeholder is written {{name}}".to_string(),
        })?;
        let inner = &rest[inner_start..inner_start + close];
        parts.push(placeholder(inner, offset)?);
        let consumed = inner_start + close + 2;
        base += consumed;
        rest = &rest[consumed..];
    }
    if !rest.is_empty() {
        parts.push(RawPart::Lit(rest.to_string()));
    }
    Ok(parts)
}

fn placeholder(inner: &str, offset: usize) -> Result<RawPart, TemplateError> {
    let err = |message: String| TemplateError { offset, message };
    let words: Vec<&str> = inner.split_whitespace().collect();
    match words.as_slice() {
        [] => Err(err(format!("empty placeholder `{{{{}}}}`: name a feeder column or one of {BUILTINS}"))),
        ["seq"] => Ok(RawPart::Seq),
        ["uuid"] => Ok(RawPart::Uuid),
        ["trace_id"] => Ok(RawPart::TraceId { offset }),
        ["rand_int", args @ ..] => {
            let usage = "write {{rand_int A B}} with integers A <= B, e.g. {{rand_int 1 100}}";
            let [a, b] = args else {
                return Err(err(format!("`{{{{{}}}}}`: {usage}", inner.trim())));
            };
            match (a.parse::<i64>(), b.parse::<i64>()) {
                (Ok(a), Ok(b)) if a <= b => Ok(RawPart::RandInt(a, b)),
                _ => Err(err(format!("`{{{{{}}}}}`: {usage}", inner.trim()))),
            }
        }
        [name] => Ok(RawPart::Name { name: name.to_string(), offset }),
        [first, ..] => Err(err(format!(
            "`{{{{{}}}}}`: only rand_int takes arguments; `{first}` is a variable name, written {{{{{first}}}}}",
            inner.trim()
        ))),
    }
}

/// Parses and resolves names against the feeders: `{{column}}` is looked up in every feeder,
/// `{{feeder.column}}` in one. Unknown or ambiguous names are errors that list what is known.
pub fn compile(text: &str, feeders: &[Feeder]) -> Result<Template, TemplateError> {
    let mut parts = Vec::new();
    for p in parse(text)? {
        parts.push(match p {
            RawPart::Lit(s) => Part::Lit(s),
            RawPart::Seq => Part::Seq,
            RawPart::Uuid => Part::Uuid,
            RawPart::RandInt(a, b) => Part::RandInt(a, b),
            // Before `{{trace_id}}` existed it named a feeder column of that name: refuse rather
            // than silently send something else in a scenario written then.
            RawPart::TraceId { offset } => match feeders.iter().find(|f| f.columns.iter().any(|c| c == "trace_id")) {
                Some(f) => {
                    return Err(TemplateError {
                        offset,
                        message: format!(
                            "`{{{{trace_id}}}}` is the request's W3C trace id; feeder `{}` also has a column `trace_id`: write {{{{{}.trace_id}}}} for the column",
                            f.name, f.name
                        ),
                    })
                }
                None => Part::TraceId,
            },
            RawPart::Name { name, offset } => {
                lookup(&name, feeders).map_err(|message| TemplateError { offset, message })?
            }
        });
    }
    Ok(Template { parts })
}

fn lookup(name: &str, feeders: &[Feeder]) -> Result<Part, String> {
    let found: Vec<Part> = if let Some((f, c)) = name.split_once('.') {
        feeders
            .iter()
            .enumerate()
            .filter(|(_, fd)| fd.name == f)
            .flat_map(|(fi, fd)| {
                fd.columns.iter().position(|col| col == c).map(|ci| Part::Var { feeder: fi, column: ci })
            })
            .collect()
    } else {
        feeders
            .iter()
            .enumerate()
            .flat_map(|(fi, fd)| {
                fd.columns
                    .iter()
                    .enumerate()
                    .filter(|(_, col)| *col == name)
                    .map(move |(ci, _)| Part::Var { feeder: fi, column: ci })
            })
            .collect()
    };
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => {
            let known = known_variables(feeders);
            let hint = suggestion(name, known.iter().map(String::as_str));
            let list = if known.is_empty() {
                format!("no feeders are declared, so only the built-ins {BUILTINS} exist")
            } else {
                format!("known variables: {}; built-ins: {BUILTINS}", known.join(", "))
            };
            Err(format!("unknown variable `{name}`: {list}{hint}"))
        }
        many => {
            let options: Vec<String> = many
                .iter()
                .map(|p| match p {
                    Part::Var { feeder, .. } => format!("{{{{{}.{name}}}}}", feeders[*feeder].name),
                    _ => unreachable!(),
                })
                .collect();
            Err(format!("`{name}` is a column of more than one feeder: write {}", options.join(" or ")))
        }
    }
}

/// Every name a template may use for a feeder column: `column` (when unique) and `feeder.column`.
pub fn known_variables(feeders: &[Feeder]) -> Vec<String> {
    let mut out = Vec::new();
    for f in feeders {
        for c in &f.columns {
            let unique = feeders.iter().flat_map(|g| &g.columns).filter(|x| *x == c).count() == 1;
            if unique {
                out.push(c.clone());
            }
            out.push(format!("{}.{c}", f.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::plan::FeedMode;

    fn feeders() -> Vec<Feeder> {
        let f = |name: &str, cols: &[&str]| Feeder {
            name: name.into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            rows: vec![cols.iter().map(|_| "v".to_string()).collect()],
            mode: FeedMode::Cycle,
        };
        vec![f("users", &["user_id", "id"]), f("orders", &["id", "sku"])]
    }

    #[test]
    fn parses_literals_and_placeholders() {
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("/a").unwrap(), vec![RawPart::Lit("/a".into())]);
        assert_eq!(
            parse("/u/{{ user_id }}?n={{seq}}&r={{rand_int  -3 7}}{{uuid}}x{{ trace_id }}").unwrap(),
            vec![
                RawPart::Lit("/u/".into()),
                RawPart::Name { name: "user_id".into(), offset: 3 },
                RawPart::Lit("?n=".into()),
                RawPart::Seq,
                RawPart::Lit("&r=".into()),
                RawPart::RandInt(-3, 7),
                RawPart::Uuid,
                RawPart::Lit("x".into()),
                RawPart::TraceId { offset: 56 },
            ]
        );
        assert_eq!(parse("a }} b").unwrap(), vec![RawPart::Lit("a }} b".into())], "a lone }} is text");
    }

    #[test]
    fn refuses_malformed_placeholders() {
        for (text, offset, needle) in [
            ("/x/{{user", 3, "not closed"),
            ("{{}}", 0, "empty placeholder"),
            ("ab{{rand_int 5 1}}", 2, "A <= B"),
            ("{{rand_int 1}}", 0, "rand_int A B"),
            ("{{rand_int a b}}", 0, "integers"),
            ("{{user id}}", 0, "only rand_int takes arguments"),
            ("{{trace_id 32}}", 0, "only rand_int takes arguments"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{text}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }

    #[test]
    fn resolves_names_against_feeders() {
        let fs = feeders();
        let t = compile("{{user_id}}/{{orders.id}}/{{sku}}", &fs).unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Var { feeder: 0, column: 0 },
                Part::Lit("/".into()),
                Part::Var { feeder: 1, column: 0 },
                Part::Lit("/".into()),
                Part::Var { feeder: 1, column: 1 },
            ]
        );
        assert_eq!(compile("plain", &fs).unwrap().as_literal(), Some("plain"));
    }

    #[test]
    fn trace_id_is_a_builtin_and_a_feeder_column_of_that_name_is_refused() {
        let t = compile("id-{{trace_id}}", &feeders()).unwrap();
        assert_eq!(t.parts, vec![Part::Lit("id-".into()), Part::TraceId]);
        let fs = vec![feeders().remove(0), Feeder { name: "spans".into(), columns: vec!["trace_id".into()], rows: vec![vec!["t".into()]], mode: FeedMode::Cycle }];
        let e = compile("x{{trace_id}}", &fs).unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("feeder `spans`") && e.message.contains("{{spans.trace_id}}"), "{}", e.message);
        assert_eq!(compile("{{spans.trace_id}}", &fs).unwrap().parts, vec![Part::Var { feeder: 1, column: 0 }]);
    }

    #[test]
    fn unknown_and_ambiguous_names_say_what_is_known() {
        let fs = feeders();
        let e = compile("x{{usr_id}}", &fs).unwrap_err();
        assert_eq!(e.offset, 1);
        assert!(e.message.contains("unknown variable `usr_id`"), "{}", e.message);
        assert!(e.message.contains("users.user_id"), "{}", e.message);
        assert!(e.message.contains("did you mean `user_id`?"), "{}", e.message);
        let e = compile("{{id}}", &fs).unwrap_err();
        assert!(e.message.contains("{{users.id}} or {{orders.id}}"), "{}", e.message);
        let e = compile("{{users.sku}}", &fs).unwrap_err();
        assert!(e.message.contains("unknown variable `users.sku`"), "{}", e.message);
        let e = compile("{{name}}", &[]).unwrap_err();
        assert!(e.message.contains("no feeders are declared"), "{}", e.message);
    }
}
