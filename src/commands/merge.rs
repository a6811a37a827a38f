//! `skyload merge DIR... --out DIR`: loads shard Results in parallel (rayon), checks that they are
//! disjoint shares of one run, folds them with the exact `merge` (in a parallel tree: merging is
//! associative) and writes one normal Results directory that verify and report read like any run;
//! then judges the scenario's checks on it (`merge_judge`), so a sharded CI gate has a whole-run verdict.

use crate::cli::MergeArgs;
use super::error::{CliError, CliResult};
use crate::record::read::{self, Results};
use crate::record::merge::merge;
use crate::report::terminal;
use anyhow::Context;
use rayon::prelude::*;

pub fn run(args: &MergeArgs) -> CliResult {
    for d in &args.dirs {
        // Canonical: `y/../y`, `./y` and a symlink to `y` are all `y`.
        if crate::record::outdir::same(d, &args.out) {
            return Err(CliError::Usage(format!("--out {} is also an input: write the merge to a new directory", args.out.display())));
        }
    }
    // A refused --junit/--summary-json path is found before anything is read or written.
    if let Err(msg) = super::outfile::check_gate(&args.gate) {
        return Err(CliError::Usage(msg));
    }
    if let Err(e) = crate::record::outdir::prepare_new(&args.out) {
        return Err(CliError::Usage(e.to_string()));
    }
    let loaded: Vec<Result<Results, _>> = args.dirs.par_iter().map(|d| read::results(d)).collect();
    for (d, r) in args.dirs.iter().zip(&loaded) {
        if let Ok(r) = r {
            if r.info.status == crate::record::summary::RunStatus::Incomplete {
                super::incomplete::warn(d, &r.summary());
            }
        }
    }
    let mut parts = Vec::with_capacity(loaded.len());
    for r in loaded {
        match r {
            Ok(r) => parts.push(r),
            Err(e) => {
                return Err(CliError::Usage(e.to_string()));
            }
        }
    }
    // accounting.csv is written at a run's end: a killed run's Results have none, and a sum
    // without that share would not add up to the schedule.
    for (d, _) in args.dirs.iter().zip(&parts).filter(|(_, r)| !r.accounted) {
        crate::errln!(
            "warning: {} has no {} (a killed run, or an older skyload): the merged Results have none",
            d.display(),
            crate::record::results::ACCOUNTING
        );
    }
    // intended.hlog likewise: windows and recovery are then judged by completion second.
    if parts.iter().any(|r| r.intended.is_some()) {
        for (d, _) in args.dirs.iter().zip(&parts).filter(|(_, r)| r.intended.is_none()) {
            crate::errln!(
                "warning: {} has no {} (an older skyload): the merged Results have none, and their windows are judged by the second requests ended",
                d.display(),
                crate::record::results::INTENDED
            );
        }
    }
    // The drill's faults, from the shard that drove them (judged on the merged data below).
    let faults = super::merge_judge::fault_records(&args.dirs)?;
    // Each shard's own generator guard, judged on its own machine's seconds (see merge_judge).
    let own_guards: Vec<Option<String>> = parts.iter().map(super::merge_judge::own_guard).collect();
    // rayon's reduce keeps the order of an indexed iterator, so `merged_from` lists the inputs as given.
    let merged = parts.into_par_iter().map(Ok).reduce_with(|a, b| merge(&a?, &b?));
    let merged = match merged {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            return Err(CliError::Usage(e.to_string()));
        }
        None => unreachable!("clap requires at least one directory"),
    };
    merged.save(&args.out).with_context(|| format!("cannot write the merged Results to {}", args.out.display()))?;
    // Traced shards: their slow.csv files merge into the run's (slowest per name, first failures per outcome).
    let mut slow = Vec::new();
    for d in &args.dirs {
        match crate::record::slow::read_csv(d) {
            Some(Ok(rows)) => slow.push(rows),
            Some(Err(e)) => crate::errln!("warning: {e}: left out of the merged slow.csv"),
            None => {}
        }
    }
    if !slow.is_empty() {
        let rows = crate::record::slow::merge_rows(&slow);
        crate::record::slow::write_csv(&args.out, &rows).with_context(|| format!("cannot write {}/slow.csv", args.out.display()))?;
    }
    let summary = merged.summary();
    crate::errln!(
        "skyload: merged {} Results ({} of {} shards) into {}",
        merged.sources.len(),
        merged.shards().indices.len(),
        merged.shards().count,
        args.out.display()
    );
    let mut out = crate::out::Lenient::new(std::io::stdout().lock());
    terminal::render(&summary, &args.out, &mut out)?;
    // The whole run's verdict: the scenario's checks on the merged Results (each shard judged its share).
    let code = super::merge_judge::judge(&merged, &args.out, &args.gate, &own_guards, &faults, args.allow_missing, &mut out)?;
    super::report::write_into(&args.out, &mut out)?;
    CliError::from_status(code)
}
