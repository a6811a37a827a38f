//! A Results directory holds one run. Writing a run into a directory that already holds one mixed
//! them (the old verdict.json and faults.json stayed, and the new report showed the old verdict);
//! `--out .` overwrote the user's own scenario.toml. So a run starts only in an empty or new
//! directory; `--force` empties one that holds nothing but an earlier run's files. Paths compared
//! for "is the output an input?" are canonical, so `y/../y` and `./y` are `y`.

use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use super::results::{CAPACITY, KNOWN, SUMMARY, TIMESERIES};

#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error("--out {dir}: the directory is not empty (it holds {first}); choose a new directory{}", if *can_force { ", or add --force to replace the earlier run in it" } else { "" })]
    NotEmpty { dir: PathBuf, first: String, can_force: bool },
    #[error("--out {dir}: it holds {first}, which skyload did not write; --force empties only a directory holding an earlier run")]
    Foreign { dir: PathBuf, first: String },
    #[error("--out {dir}: {source}")]
    Io { dir: PathBuf, source: io::Error },
}

/// Makes `dir` ready for a new run: absent or empty is fine; a non-empty one is refused unless
/// `force`, and then only emptied when everything in it is an earlier run's. For commands that
/// have `--force`; the refusal suggests it.
pub fn prepare(dir: &Path, force: bool) -> Result<(), OutDirError> {
    prepare_with(dir, Some(force))
}

/// [`prepare`] for a command without `--force` (`merge`): a non-empty directory is refused, and
/// the message does not suggest a flag the command does not have.
pub fn prepare_new(dir: &Path) -> Result<(), OutDirError> {
    prepare_with(dir, None)
}

/// `force`: None when the command has no `--force`.
fn prepare_with(dir: &Path, force_flag: Option<bool>) -> Result<(), OutDirError> {
    let force = force_flag == Some(true);
    let io_err = |source| OutDirError::Io { dir: dir.to_path_buf(), source };
    let entries = match fs::read_dir(dir) {
        Ok(e) => e.collect::<Result<Vec<_>, _>>().map_err(io_err)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(e)),
    };
    let Some(first) = entries.first() else { return Ok(()) };
    if !force {
        return Err(OutDirError::NotEmpty { dir: dir.to_path_buf(), first: first.file_name().to_string_lossy().into_owned(), can_force: force_flag.is_some() });
    }
    // An earlier run is recognised by its per-second files (a capacity search by its
    // capacity.json beside the steps' runs); a scenario.toml alone is the user's.
    let is_run = [TIMESERIES, SUMMARY, CAPACITY].iter().any(|f| dir.join(f).is_file());
    if !is_run {
        return Err(OutDirError::Foreign { dir: dir.to_path_buf(), first: first.file_name().to_string_lossy().into_owned() });
    }
    if let Some(bad) = foreign(dir).map_err(io_err)? {
        return Err(OutDirError::Foreign { dir: dir.to_path_buf(), first: bad });
    }
    for e in entries {
        let p = e.path();
        if e.file_type().map_err(io_err)?.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) }.map_err(io_err)?;
    }
    Ok(())
}

/// The first entry (recursively) that is not a Results file, if any.
fn foreign(dir: &Path) -> io::Result<Option<String>> {
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type()?;
        if ft.is_dir() {
            if let Some(bad) = foreign(&e.path())? {
                return Ok(Some(format!("{name}/{bad}")));
            }
        } else if !ft.is_file() || !KNOWN.contains(&name.as_str()) {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// The path with symlinks and `..` resolved, for a path that may not exist yet: the longest
/// existing ancestor is canonicalized and the rest appended, lexically normalized.
pub fn canonical(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut normal = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    // `normal` has no `..` left; now resolve symlinks in the part that exists.
    let mut existing = normal.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(n), Some(parent)) => {
                rest.push(n);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = fs::canonicalize(&existing).unwrap_or(existing);
    for n in rest.into_iter().rev() {
        out.push(n);
    }
    out
}

/// Whether two paths name the same file or directory.
pub fn same(a: &Path, b: &Path) -> bool {
    canonical(a) == canonical(b)
}

/// Writes `path` so a reader (or a crash) never sees half of it: a temporary file beside it,
/// fsync, rename over, fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::results::{SCENARIO_COPY, VERDICT};

    #[test]
    fn canonical_paths_see_through_dots() {
        let t = tempfile::tempdir().unwrap();
        let y = t.path().join("y");
        fs::create_dir(&y).unwrap();
        assert!(same(&y, &y.join("..").join("y")));
        assert!(same(&y.join("new"), &y.join(".").join("new")));
        assert!(!same(&y, &t.path().join("z")));
    }

    #[test]
    fn a_non_empty_directory_needs_force_and_foreign_files_stay() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("run");
        prepare(&d, false).unwrap();
        fs::create_dir(&d).unwrap();
        prepare(&d, false).unwrap();
        fs::write(d.join(SCENARIO_COPY), "# the user's own").unwrap();
        assert!(matches!(prepare(&d, true), Err(OutDirError::Foreign { .. })), "a scenario file alone is not a run");
        fs::write(d.join(TIMESERIES), "second").unwrap();
        fs::write(d.join(VERDICT), "{}").unwrap();
        assert!(matches!(prepare(&d, false), Err(OutDirError::NotEmpty { .. })));
        // --force is suggested only by commands that have it.
        assert!(prepare(&d, false).unwrap_err().to_string().contains("add --force"));
        let merge = prepare_new(&d).unwrap_err().to_string();
        assert!(merge.contains("not empty") && merge.ends_with("choose a new directory") && !merge.contains("force"), "{merge}");
        prepare(&d, true).unwrap();
        assert_eq!(fs::read_dir(&d).unwrap().count(), 0);
        fs::write(d.join("notes.txt"), "mine").unwrap();
        assert!(matches!(prepare(&d, true), Err(OutDirError::Foreign { .. })));
        assert!(d.join("notes.txt").exists());
    }

    #[test]
    fn atomic_write_replaces_whole() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join(SUMMARY);
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
