//! The layer order of the crate, checked: each top-level module may import only modules below it,
//! so data flows one way (scenario → load → record → verify / report → commands) and no cycle can
//! form. The test reads every `crate::` path in `src/` and compares the upward edges with the known
//! ones still to be removed (a ratchet: a new upward edge fails, and so does a listed one that is
//! gone, so the list only shrinks).

/// Lowest first. `out` (terminal and stream writing) sits above `record` because every line it
/// prints goes through `record::redact`; `metrics` reads the runner's live counters, and `gateway`
/// serves faults and metrics, so both sit above `load`; `accept` (the accept loop the gateway and
/// the fault proxy share) imports no crate module and sits below both. `session` (one run: the
/// embedded gateway booted, the fault timeline driven, the runner given a URL) sits above
/// everything it wires together and below `cli`/`commands`. `UPWARD` lists the edges that still
/// break this order.
pub const ORDER: [&str; 15] =
    ["units", "scenario", "record", "out", "load", "metrics", "accept", "fault", "gateway", "verify", "report", "k8s", "session", "cli", "commands"];

/// Upward edges still to be removed (file, imported module), each a known defect with its fix.
/// None are left: keep it so. A new upward import fails the test below; move the code instead.
pub const UPWARD: &[(&str, &str)] = &[];

/// The top-level modules a source text names through `crate::x` or `crate::{x, y::z}`; the
/// exported macros (`errln!`, `outln!`, `err!`) count as `out`.
pub fn imported_modules(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        // `$crate::` inside a macro body is the macro's own crate path, not an import.
        let before = &rest[..i];
        rest = &rest[i + "crate::".len()..];
        if before.ends_with('$') || before.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top_level(&group[..end]) {
                push_module(&mut out, item.trim());
            }
        } else {
            push_module(&mut out, rest);
        }
    }
    out.sort();
    out.dedup();
    out
}

fn push_module(out: &mut Vec<String>, path: &str) {
    let name: String = path.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    let name = match name.as_str() {
        "errln" | "outln" | "err" => "out".to_string(),
        _ => name,
    };
    if !name.is_empty() && name != "self" {
        out.push(name);
    }
}

/// Index of the `}` closing a group whose `{` was just consumed.
fn matching_brace(s: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

/// Splits `a, b::{c, d}, e` at the commas outside braces.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Every `.rs` file under `src/`, sorted: the tree the source-reading tests (this module's, and
/// the Results-name test in `record::results`) check.
#[cfg(test)]
pub(crate) fn source_files() -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    (src, files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn reads_plain_grouped_and_macro_paths() {
        let text = "use crate::record::hist;\nuse crate::{scenario::Plan, units::{a, b}, load};\ncrate::errln!(\"x\");\n$crate::out::x\n";
        assert_eq!(imported_modules(text), ["load", "out", "record", "scenario", "units"]);
    }

    #[test]
    fn imports_flow_downward_only() {
        let (src, files) = source_files();
        let mut upward = Vec::new();
        for f in &files {
            let rel = f.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
            let top = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
            let Some(level) = ORDER.iter().position(|m| *m == top) else { continue };
            for m in imported_modules(&std::fs::read_to_string(f).unwrap()) {
                if ORDER.iter().position(|o| *o == m).is_some_and(|l| l > level) {
                    upward.push((rel.clone(), m));
                }
            }
        }
        let known: Vec<(String, String)> = UPWARD.iter().map(|(f, m)| (f.to_string(), m.to_string())).collect();
        let new: Vec<_> = upward.iter().filter(|e| !known.contains(e)).collect();
        let gone: Vec<_> = known.iter().filter(|e| !upward.contains(e)).collect();
        assert!(new.is_empty(), "imports against the layer order {ORDER:?} (file, imported module): {new:?}; move the code so that it imports downward");
        assert!(gone.is_empty(), "these upward imports are gone: remove them from layers::UPWARD: {gone:?}");
    }

    #[test]
    fn every_top_level_module_has_a_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        for line in lib.lines().filter_map(|l| l.trim().strip_prefix("pub mod ")) {
            let name = line.trim_end_matches(';').trim();
            if name == "exit" || name == "layers" || name.ends_with('{') {
                continue;
            }
            assert!(ORDER.contains(&name), "src/lib.rs declares `{name}`, which has no place in layers::ORDER");
        }
    }
}
