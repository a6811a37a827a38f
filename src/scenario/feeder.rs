//! CSV feeders: the only I/O in building a Plan. A feeder is read whole at load time (a header
//! row and at least one data row) so that a bad file fails `validate`, not minute five of a run.

use super::plan::{FeedMode, Feeder};
use std::path::Path;

/// Reads a feeder's CSV. The error is a sentence about the file (the caller adds where in the
/// scenario the file was named).
pub fn load(name: &str, shown: &str, path: &Path, mode: FeedMode) -> Result<Feeder, String> {
    let bytes = super::bounds::read_bounded(path, super::bounds::MAX_FEEDER_BYTES, "feeder").map_err(|e| {
        let looked = if path == Path::new(shown) {
            String::new()
        } else {
            format!(" (looked for {})", path.display())
        };
        // Where the file was looked for explains only a file that is not there; a directory, a
        // FIFO or a file too big was found, and the hint would send the user the wrong way.
        let hint = if e.kind() == std::io::ErrorKind::NotFound { "; a feeder's file is relative to the scenario file" } else { "" };
        format!("cannot read `{shown}`{looked}: {e}{hint}")
    })?;
    parse(name, shown, &bytes, mode)
}

/// Parses CSV bytes into a feeder; `shown` names the file in messages.
pub fn parse(name: &str, shown: &str, bytes: &[u8], mode: FeedMode) -> Result<Feeder, String> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::Headers).from_reader(bytes);
    let headers = reader.headers().map_err(|e| format!("`{shown}`: {e}"))?.clone();
    let columns: Vec<String> = headers.iter().map(str::to_string).collect();
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(format!(
            "`{shown}` is empty: a feeder needs a header row naming its columns, then data rows"
        ));
    }
    for (i, c) in columns.iter().enumerate() {
        if !valid_column(c) {
            return Err(format!(
                "`{shown}`: column {} is named `{c}`; column names are letters, digits, `_` and `-` (templates write them as {{{{name}}}})",
                i + 1
            ));
        }
        if columns[..i].contains(c) {
            return Err(format!("`{shown}`: column `{c}` appears twice in the header row"));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| match e.position() {
            Some(p) => format!("`{shown}` line {}: {}", p.line(), csv_reason(&e)),
            None => format!("`{shown}`: {e}"),
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.as_slice().len() > super::bounds::MAX_FEEDER_ROW_BYTES {
            return Err(format!(
                "`{shown}` line {line}: a row of {} bytes; at most {} (its values go into URLs, headers and bodies)",
                record.as_slice().len(),
                super::bounds::MAX_FEEDER_ROW_BYTES
            ));
        }
        if rows.len() == super::bounds::MAX_FEEDER_ROWS {
            return Err(format!("`{shown}` line {line}: more than {} rows; split the file or sample it", super::bounds::MAX_FEEDER_ROWS));
        }
        rows.push(record.iter().map(str::to_string).collect());
    }
    if rows.is_empty() {
        return Err(format!("`{shown}` has a header row but no data rows; a feeder needs at least one row"));
    }
    Ok(Feeder { name: name.to_string(), columns, rows, mode })
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!(
                "{len} fields, but the header row has {expected_len}; every row needs one value per column"
            )
        }
        _ => e.to_string(),
    }
}

pub fn valid_column(c: &str) -> bool {
    !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_and_rows() {
        let f = parse("users", "u.csv", b"user_id, tier\n1,gold\n2,silver\n", FeedMode::Random).unwrap();
        assert_eq!(f.columns, vec!["user_id", "tier"]);
        assert_eq!(f.rows, vec![vec!["1", "gold"], vec!["2", "silver"]]);
        assert_eq!(f.mode, FeedMode::Random);
    }

    #[test]
    fn refuses_bad_files() {
        for (csv, needle) in [
            ("", "is empty"),
            ("id\n", "no data rows"),
            ("id,id\n1,2\n", "appears twice"),
            ("user id\n1\n", "column 1 is named `user id`"),
            ("a,b\n1,2\n3\n", "line 3: 1 fields, but the header row has 2"),
        ] {
            let e = parse("f", "f.csv", csv.as_bytes(), FeedMode::Cycle).unwrap_err();
            assert!(e.contains(needle), "{csv:?}: {e}");
        }
    }

    #[test]
    fn the_relative_path_hint_is_for_a_missing_file_only() {
        const HINT: &str = "relative to the scenario file";
        let dir = std::env::temp_dir();
        let missing = dir.join(format!("skyload-no-such-feeder-{}.csv", std::process::id()));
        let e = load("f", "f.csv", &missing, FeedMode::Cycle).unwrap_err();
        assert!(e.contains(HINT) && e.contains("looked for"), "{e}");
        // A directory was found where the file was looked for: no hint about where to look.
        let e = load("f", "f.csv", &dir, FeedMode::Cycle).unwrap_err();
        assert!(e.contains("not a regular file") && !e.contains(HINT), "{e}");
        #[cfg(unix)]
        {
            let e = load("f", "/dev/null", Path::new("/dev/null"), FeedMode::Cycle).unwrap_err();
            assert!(e.contains("not a regular file") && !e.contains(HINT), "{e}");
        }
    }
}
