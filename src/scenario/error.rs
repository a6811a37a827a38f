//! Errors a person can act on: every problem in a scenario names the file, the line and column,
//! the field path (`stages[1].rate`), the bad value and what is allowed. This module holds the
//! error type and the small pure helpers behind it: byte offset → line:col, and "did you mean".

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(thiserror::Error, Debug)]
pub enum ScenarioError {
    /// The scenario file itself could not be read.
    #[error("cannot read {}: {err}", path.display())]
    Read { path: PathBuf, err: std::io::Error },
    /// Something in the file is wrong; it says where and why.
    #[error("{0}")]
    Invalid(Box<Located>),
    /// A command-line flag is wrong (`--rate: ...`).
    #[error("{flag}: {message}")]
    Flag { flag: String, message: String },
}

/// A problem at a place in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub file: PathBuf,
    /// 1-based line and column (in characters); None when the problem has no place (a missing table).
    pub position: Option<(usize, usize)>,
    /// Dotted field path with 0-based indexes, e.g. `stages[1].rate`; empty for the whole file.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ScenarioError {
    pub fn flag(flag: &str, message: impl Into<String>) -> Self {
        ScenarioError::Flag { flag: flag.to_string(), message: message.into() }
    }

    /// The located detail, when the error points into a file (tests and tools read it).
    pub fn located(&self) -> Option<&Located> {
        match self {
            ScenarioError::Invalid(l) => Some(l),
            _ => None,
        }
    }
}

/// Builds located errors for one scenario text: knows the file name and turns byte offsets into
/// line:col, so the checks only say "this span, this field, this message".
pub struct Reporter<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl Reporter<'_> {
    /// An error at byte offset `at` (None: no particular place).
    pub fn at(
        &self,
        at: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid(Box::new(Located {
            file: self.file.to_path_buf(),
            position: at.map(|o| line_col(self.text, o)),
            field: field.into(),
            message: message.into(),
        }))
    }

    /// An error at the start of a span.
    pub fn span(
        &self,
        span: std::ops::Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.at(Some(span.start), field, message)
    }
}

/// 1-based line and column (counted in characters) of a byte offset; offsets past the end or
/// inside a character are clamped to something sensible rather than panicking.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

/// The closest candidate to a misspelt word, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = word.chars().count().max(3) / 3 + 1;
    let word = word.to_lowercase();
    let score = |c: &str| {
        let c = c.to_lowercase();
        // A word typed short (`ramp` for `ramp_to`) is a stronger hint than a near miss.
        if word.len() >= 3 && c.starts_with(&word) {
            1
        } else {
            edit_distance(&word, &c)
        }
    };
    candidates
        .into_iter()
        .map(|c| (score(c), c))
        .filter(|(d, c)| *d <= limit && *d < c.chars().count())
        .min_by_key(|(d, c)| (*d, !c.to_lowercase().starts_with(&word)))
        .map(|(_, c)| c)
}

/// " (did you mean `rate`?)" or "".
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates).map_or(String::new(), |s| format!(" (did you mean `{s}`?)"))
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_characters() {
        let t = "a = 1\nbé = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (1, 5));
        assert_eq!(line_col(t, 6), (2, 1));
        // 'é' is two bytes; the `=` after it is the 4th character of line 2.
        assert_eq!(line_col(t, t.find("= 2").unwrap()), (2, 4));
        assert_eq!(line_col(t, 999), (3, 1));
        assert_eq!(line_col(t, 8), (2, 2), "inside a character clamps to its start");
    }

    #[test]
    fn edit_distance_table() {
        for (a, b, d) in
            [("", "", 0), ("rat", "rate", 1), ("rate", "rate", 0), ("kitten", "sitting", 3), ("", "ab", 2)]
        {
            assert_eq!(edit_distance(a, b), d, "{a} {b}");
        }
    }

    #[test]
    fn suggests_only_close_words() {
        let fields = ["name", "rate", "ramp_to", "from", "steps", "duration"];
        assert_eq!(did_you_mean("rat", fields), Some("rate"));
        assert_eq!(did_you_mean("duraton", fields), Some("duration"));
        assert_eq!(did_you_mean("RATE", fields), Some("rate"));
        assert_eq!(did_you_mean("ramp", fields), Some("ramp_to"), "a prefix beats a near miss");
        assert_eq!(did_you_mean("xyzzy", fields), None);
        assert_eq!(did_you_mean("x", ["url", "embedded"]), None);
        assert_eq!(suggestion("usr_id", ["user_id"]), " (did you mean `user_id`?)");
    }

    #[test]
    fn located_display_has_every_part() {
        let l = Located {
            file: "s.toml".into(),
            position: Some((3, 7)),
            field: "stages[0].rate".into(),
            message: "-5 is not allowed".into(),
        };
        assert_eq!(l.to_string(), "s.toml:3:7: stages[0].rate: -5 is not allowed");
        let l = Located { position: None, field: String::new(), ..l };
        assert_eq!(l.to_string(), "s.toml: -5 is not allowed");
    }
}
