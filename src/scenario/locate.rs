//! Where a key is written in a TOML file, for the errors found after parsing (a bound the plan
//! breaks, a gateway field out of range): those hold a field's path, not a span, yet should name
//! file:line:col as the parser's own errors do. A line scanner is enough because the file has
//! already parsed: it only has to find the key, not to judge the syntax. Inline tables and keys
//! set by a command-line flag have no line of their own; the caller then names the file only.

/// One line of the file: its byte offset, its text, and the table header it opens, if any.
struct Line<'a> {
    off: usize,
    text: &'a str,
    header: Option<Header<'a>>,
}

#[derive(PartialEq)]
enum Header<'a> {
    /// `[name]`
    Table(&'a str),
    /// `[[name]]`
    Array(&'a str),
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut off = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        let header = if let Some(r) = t.strip_prefix("[[") {
            r.split("]]").next().map(|h| Header::Array(h.trim()))
        } else if let Some(r) = t.strip_prefix('[') {
            r.split(']').next().map(|h| Header::Table(h.trim()))
        } else {
            None
        };
        out.push(Line { off, text: line, header });
        off += line.len();
    }
    out
}

/// The first segment of a line's key (`pods` in `pods = 2`, `service_time` in
/// `service_time.mean = "1ms"`, `x-big` in `"x-big" = "…"`), None for a line that sets nothing.
fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if let Some(r) = t.strip_prefix('"') {
        return r.split('"').next();
    }
    let end = t.find(['=', '.'])?;
    Some(t[..end].trim())
}

/// Which table's lines to search: `("", None)` the top of the file (before the first header),
/// `("connections", None)` the lines under `[connections]`, `("stages", Some(1))` those under the
/// second `[[stages]]` (`("stages", None)`: the first). Returns the index of the header line (None for the top) and the lines of
/// the table's body.
fn table<'l, 'a>(lines: &'l [Line<'a>], name: &str, index: Option<usize>) -> Option<(Option<usize>, &'l [Line<'a>])> {
    let start = if name.is_empty() {
        None
    } else {
        let mut seen = 0;
        let at = lines.iter().position(|l| match (&l.header, index) {
            // No index on an array of tables: its first entry.
            (Some(Header::Table(h) | Header::Array(h)), None) => *h == name,
            (Some(Header::Array(h)), Some(i)) if *h == name => {
                seen += 1;
                seen == i + 1
            }
            _ => false,
        })?;
        Some(at)
    };
    let from = start.map_or(0, |s| s + 1);
    let len = lines[from..].iter().take_while(|l| l.header.is_none()).count();
    Some((start, &lines[from..from + len]))
}

/// The byte offset of `key = …` inside the table `name` (see [`table`] for `name` and `index`).
pub fn key_in(text: &str, name: &str, index: Option<usize>, key: &str) -> Option<usize> {
    let lines = lines(text);
    let (_, body) = table(&lines, name, index)?;
    body.iter().find(|l| key_of(l.text) == Some(key)).map(|l| l.off + (l.text.len() - l.text.trim_start().len()))
}

/// Where a dotted field (`functions.hello.pods`, `rate_limit.rate`) is written: the key's line
/// under the longest table header that starts the path (`[functions.hello]`, or the top of the
/// file for a top-level key), else that header; None when neither is found. An index in a segment
/// (`routes[2]`) is ignored: such fields are located by their table alone.
pub fn field(text: &str, field: &str) -> Option<usize> {
    let segs: Vec<&str> = field.split('.').map(|s| s.split('[').next().unwrap_or(s)).collect();
    let lines = lines(text);
    for k in (0..segs.len()).rev() {
        let name = segs[..k].join(".");
        let Some((header, body)) = table(&lines, &name, None) else { continue };
        if let Some(l) = body.iter().find(|l| key_of(l.text) == Some(segs[k])) {
            return Some(l.off + (l.text.len() - l.text.trim_start().len()));
        }
        if let Some(h) = header {
            return Some(lines[h].off);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::line_col;

    const TEXT: &str = "threads = 2\n[target]\nurl = \"http://x\"\n[target.headers]\n\"x-big\" = \"v\"\n[[stages]]\nrate = 1\n[[stages]]\n  rate = 2\n[functions.hello]\npods = 0\nservice_time.mean = \"1ms\"\n";

    fn at(off: Option<usize>) -> Option<(usize, usize)> {
        off.map(|o| line_col(TEXT, o))
    }

    #[test]
    fn keys_are_found_in_their_own_table() {
        assert_eq!(at(key_in(TEXT, "", None, "threads")), Some((1, 1)));
        assert_eq!(at(key_in(TEXT, "target", None, "url")), Some((3, 1)));
        assert_eq!(at(key_in(TEXT, "target.headers", None, "x-big")), Some((5, 1)));
        assert_eq!(at(key_in(TEXT, "stages", Some(0), "rate")), Some((7, 1)));
        assert_eq!(at(key_in(TEXT, "stages", Some(1), "rate")), Some((9, 3)));
        assert_eq!(at(key_in(TEXT, "stages", None, "rate")), Some((7, 1)));
        // Not in that table, or no such table: no place.
        assert_eq!(key_in(TEXT, "", None, "url"), None);
        assert_eq!(key_in(TEXT, "stages", Some(2), "rate"), None);
        assert_eq!(key_in(TEXT, "connections", None, "max"), None);
    }

    #[test]
    fn dotted_fields_fall_back_to_their_table() {
        assert_eq!(at(field(TEXT, "functions.hello.pods")), Some((11, 1)));
        assert_eq!(at(field(TEXT, "functions.hello.service_time.mean")), Some((12, 1)));
        // A key the table does not write: its header.
        assert_eq!(at(field(TEXT, "functions.hello.concurrency")), Some((10, 1)));
        assert_eq!(at(field(TEXT, "threads")), Some((1, 1)));
        assert_eq!(field(TEXT, "functions.other.pods"), None);
    }
}
