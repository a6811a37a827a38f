//! `skyload k8s FILE --shards N --image IMAGE`: writes the manifests of a sharded run (see
//! `k8s`). The scenario is validated with the same flags the shards will get (`--run-arg`), so a
//! mistake shows here and not in N pods; its feeder files travel in the Secret beside it.

use crate::cli::{Cli, Command, K8sArgs};
use super::error::{CliError, CliResult};
use crate::commands::run::plan_from_args;
use crate::k8s::{build, Spec};
use crate::load::runner::rfc3339;
use crate::load::schedule::Schedule;
use crate::load::shard::parse_start_at;
use crate::units::parse_duration;
use anyhow::Context;
use clap::Parser;
use std::path::{Component, Path};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Secrets hold at most 1 MiB; leave room for the object around the data.
const CONFIG_MAP_LIMIT: usize = 1_000_000;
/// How long after the planned end the merge waits for a shard that has not finished.
const MERGE_GRACE: Duration = Duration::from_secs(300);

pub fn run(args: &K8sArgs) -> CliResult {
    match spec_from_args(args) {
        Ok(spec) => write(args, &spec),
        Err(msg) => {
            Err(CliError::Usage(msg.to_string()))
        }
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 50
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Everything checked and read; errors are usage errors (exit 2).
pub fn spec_from_args(args: &K8sArgs) -> Result<Spec, String> {
    if args.shards == 0 || args.shards > crate::k8s::MAX_JOB_SHARDS {
        return Err(format!("--shards: `{}` is not allowed: between 1 and {}", args.shards, crate::k8s::MAX_JOB_SHARDS));
    }
    for (what, v) in [("--name", &args.name), ("--namespace", &args.namespace)] {
        if !is_dns_label(v) {
            return Err(format!("{what} `{v}`: lower-case letters, digits and `-`, at most 50 characters"));
        }
    }
    for a in &args.run_args {
        let flag = a.split('=').next().unwrap_or("");
        if ["--shard", "--start-at", "--out", "-o"].contains(&flag) {
            return Err(format!("--run-arg {a}: the manifests set {flag} for every shard themselves"));
        }
    }
    // The shards' own command line, parsed and validated as they will parse it.
    let mut argv = vec!["skyload".to_string(), "run".into(), args.scenario.display().to_string()];
    argv.extend(args.run_args.iter().cloned());
    let run_args = match Cli::try_parse_from(&argv).map_err(|e| format!("--run-arg: {e}"))?.command {
        Command::Run(r) => r,
        _ => unreachable!("parsed as `run`"),
    };
    let plan = plan_from_args(&run_args)?;
    let planned = Schedule::new(&plan.stages).duration();

    let start = match &args.start_at {
        Some(s) => parse_start_at(s).map_err(|e| e.to_string().replace("--start-at", "k8s --start-at"))?,
        None => {
            let lead = parse_duration(&args.lead).map_err(|e| format!("--lead: {e}"))?;
            let at = SystemTime::now() + lead;
            // A whole second reads better in the manifests.
            let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() + 1;
            UNIX_EPOCH + Duration::from_secs(secs)
        }
    };
    if start < SystemTime::now() {
        return Err(format!("--start-at {} is in the past: the shards would refuse it", rfc3339(start)));
    }
    let start_secs = start.duration_since(UNIX_EPOCH).unwrap_or_default();
    let stamp = time::OffsetDateTime::from_unix_timestamp(start_secs.as_secs() as i64)
        .ok()
        .and_then(|t| t.format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).ok())
        .unwrap_or_else(|| start_secs.as_secs().to_string());
    let deadline = start_secs + planned + plan.timeout + MERGE_GRACE;

    let text = std::fs::read_to_string(&args.scenario).map_err(|e| format!("{}: {e}", args.scenario.display()))?;
    let files = feeder_files(&args.scenario, &text)?;
    let size = text.len() + files.iter().map(|f| f.2.len()).sum::<usize>();
    if size > CONFIG_MAP_LIMIT {
        return Err(format!(
            "the scenario and its feeder files are {size} bytes; a Secret holds at most about 1 MB: bake large feeders into the image instead"
        ));
    }
    Ok(Spec {
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        image: args.image.clone(),
        shards: args.shards,
        start_at: rfc3339(start),
        run_id: format!("{}-{stamp}", plan.name),
        scenario_text: text,
        files,
        claim: args.claim.clone(),
        storage: args.storage.clone(),
        storage_class: args.storage_class.clone(),
        run_args: args.run_args.clone(),
        merge_deadline_unix: deadline.as_secs(),
    })
}

/// The feeder files a scenario names (`[[feeders]] file = ...`), relative to it: (key, path, content).
fn feeder_files(scenario: &Path, text: &str) -> Result<Vec<(String, String, String)>, String> {
    let value: toml::Value = toml::from_str(text).map_err(|e| format!("{}: {e}", scenario.display()))?;
    let base = scenario.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    let feeders = value.get("feeders").and_then(|f| f.as_array()).cloned().unwrap_or_default();
    for (i, f) in feeders.iter().enumerate() {
        let Some(file) = f.get("file").and_then(|p| p.as_str()) else { continue };
        let rel = Path::new(file);
        if !rel.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
            return Err(format!(
                "feeders[{i}].file `{file}`: the manifests mount feeder files beside the scenario, so the path must be relative and stay below the scenario's directory"
            ));
        }
        let content = std::fs::read_to_string(base.join(rel)).map_err(|e| format!("feeders[{i}].file `{file}`: {e}"))?;
        out.push((format!("feeder-{i}"), file.trim_start_matches("./").to_string(), content));
    }
    Ok(out)
}

/// The manifests as one YAML stream. A reader that stops early (`| head`, `| kubectl apply -f -`
/// failing) closes the pipe: that is the end of the output, not an error, and `print!` would have
/// panicked on it.
fn print_manifests(out: &mut impl std::io::Write, files: &[(String, String)]) -> std::io::Result<()> {
    let written = files.iter().enumerate().try_for_each(|(i, (name, yaml))| write!(out, "{}# {name}\n{yaml}", if i > 0 { "---\n" } else { "" })).and_then(|_| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Manifests already in `dir` may be an applied run's or edited by hand: they are overwritten only
/// with `--force`. Names the first that exists and how many more.
fn refuse_overwrite(dir: &Path, files: &[(String, String)], force: bool) -> Option<String> {
    if force {
        return None;
    }
    let existing: Vec<_> = files.iter().map(|(name, _)| dir.join(name)).filter(|p| p.symlink_metadata().is_ok()).collect();
    let first = existing.first()?;
    Some(format!(
        "{} exists{}: skyload k8s does not overwrite manifests; pass --force to overwrite them, or -o another directory",
        first.display(),
        match existing.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more of the {} it would write)", files.len()),
        }
    ))
}

fn write(args: &K8sArgs, spec: &Spec) -> CliResult {
    let files = build(spec).files().context("cannot write the manifests as YAML")?;
    if args.out == "-" {
        print_manifests(&mut std::io::stdout().lock(), &files).context("cannot write the manifests to stdout")?;
    } else {
        let dir = Path::new(&args.out);
        if let Some(msg) = refuse_overwrite(dir, &files, args.force) {
            return Err(CliError::Usage(msg));
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (name, yaml) in &files {
            std::fs::write(dir.join(name), yaml).with_context(|| format!("cannot write {}", dir.join(name).display()))?;
        }
        crate::errln!("wrote {} manifests to {}", files.len(), dir.display());
    }
    crate::errln!(
        "shards start at {} ({} shards, Results in {}/{}); apply before then: kubectl apply -f {}",
        spec.start_at,
        spec.shards,
        crate::k8s::RESULTS_DIR,
        spec.run_id,
        if args.out == "-" { "<file>" } else { &args.out }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::print_manifests;
    use std::io::{self, Write};

    /// Takes `room` bytes, then fails as a closed pipe (or as a full disk).
    struct Closing {
        room: usize,
        kind: io::ErrorKind,
        got: Vec<u8>,
    }
    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(self.kind.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_output_and_other_errors_are_reported() {
        let files = vec![("a.yaml".to_string(), "kind: A\n".to_string()), ("b.yaml".to_string(), "kind: B\n".to_string())];
        let mut all = Closing { room: usize::MAX, kind: io::ErrorKind::BrokenPipe, got: vec![] };
        print_manifests(&mut all, &files).unwrap();
        assert_eq!(String::from_utf8(all.got).unwrap(), "# a.yaml\nkind: A\n---\n# b.yaml\nkind: B\n");
        let mut head = Closing { room: 5, kind: io::ErrorKind::BrokenPipe, got: vec![] };
        print_manifests(&mut head, &files).expect("a reader that went away is the end, not an error");
        assert_eq!(head.got.len(), 5);
        let mut full = Closing { room: 5, kind: io::ErrorKind::StorageFull, got: vec![] };
        assert_eq!(print_manifests(&mut full, &files).unwrap_err().kind(), io::ErrorKind::StorageFull);
    }
}
