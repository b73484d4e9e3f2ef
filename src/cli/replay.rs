//! `replay`: run every scenario that carries observed bands (`[[expect]]`) and print, band by
//! band, the model's value, the band, and whether it lands inside or how far out.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{execute, load_scenario, print_stdout, Failure, Format, Sampling};
use crate::model::{load, Loaded};
use crate::output::RunResults;
use crate::replay::{self, Check, Verdict};
use crate::runner::n_blocks;

/// What `--format json` prints (docs/output-schema.md).
#[derive(Serialize)]
struct ReplayJson<'a> {
    schema: &'static str,
    program_version: &'static str,
    replays: &'a [Replayed],
}

/// One replayed scenario.
#[derive(Serialize)]
struct Replayed {
    file: String,
    scenario: String,
    trials: u64,
    seed: u64,
    bands: Vec<Check>,
}

/// `replay SCENARIO...`, or every scenario under `scenarios/` with a band when none is given.
pub(super) fn replay(
    scenarios: &[PathBuf],
    sampling: Sampling,
    format: Format,
    quiet: bool,
) -> Result<(), Failure> {
    // Every file is read and checked before any runs: a mistake in the last stops the first.
    let (files, loaded) = if scenarios.is_empty() {
        with_bands(Path::new("scenarios"), quiet)?
    } else {
        named(scenarios, quiet)?
    };
    let mut out = Vec::new();
    for (f, l) in files.iter().zip(&loaded) {
        let study = &l.study;
        let trials = sampling.trials.unwrap_or(study.baseline.trials);
        let seed = sampling.seed.unwrap_or(study.baseline.seed);
        if trials == 0 {
            return Err(Failure::invalid("error: --trials must be at least 1"));
        }
        // The strategies the bands name, in file order.
        let chosen: Vec<usize> = (0..study.strategies.len())
            .filter(|&i| {
                let id = Some(&study.strategies[i].id);
                study.expects.iter().any(|e| e.strategy.as_ref() == id)
            })
            .collect();
        let plan = crate::runner::Plan::new(study, &chosen);
        let acc = execute(
            &plan,
            trials,
            seed,
            0..n_blocks(trials),
            crate::runner::Sums::Folded,
            sampling.threads.map(usize::from),
            quiet,
        )?;
        let summary = RunResults::new(study, &chosen, acc, trials, seed).summary();
        out.push(Replayed {
            file: f.display().to_string(),
            scenario: summary.scenario.clone(),
            trials,
            seed,
            bands: replay::check(study, &summary),
        });
    }
    if quiet {
        return Ok(());
    }
    let text = match format {
        Format::Json => {
            let json = ReplayJson {
                schema: "supplyshock.replay/1",
                program_version: env!("CARGO_PKG_VERSION"),
                replays: &out,
            };
            let mut s = serde_json::to_string_pretty(&json).expect("checks serialize");
            s.push('\n');
            s
        }
        Format::Table => {
            let mut s = String::new();
            for r in &out {
                s.push_str(&format!(
                    "{} ({}, {} trials, seed {})\n",
                    r.scenario, r.file, r.trials, r.seed
                ));
                s.push_str(&replay::render(&r.bands));
                s.push('\n');
            }
            let all: Vec<&Check> = out.iter().flat_map(|r| &r.bands).collect();
            let inside = all.iter().filter(|c| c.verdict == Verdict::Inside).count();
            s.push_str(&format!(
                "{inside} of {} bands inside, {} outside ({} scenario{})\n",
                all.len(),
                all.len() - inside,
                out.len(),
                if out.len() == 1 { "" } else { "s" }
            ));
            s
        }
    };
    print_stdout(&text)
}

/// The files named, loaded; each must have a band.
fn named(files: &[PathBuf], quiet: bool) -> Result<(Vec<PathBuf>, Vec<Loaded>), Failure> {
    let mut loaded = Vec::new();
    for f in files {
        let l = load_scenario(f, quiet)?;
        if l.study.expects.is_empty() {
            return Err(Failure::invalid(format!(
                "error: {} has no [[expect]] band to compare with\n  hint: add an [[expect]] table with metric, importer, material, low, high and source (docs/model.md, \"Replays of history\")",
                f.display()
            )));
        }
        loaded.push(l);
    }
    Ok((files.to_vec(), loaded))
}

/// The scenario files in `dir` (not below it) that have a band, by name, loaded. Every file
/// there is read and checked: a broken one is an error, as it would be if named.
fn with_bands(dir: &Path, quiet: bool) -> Result<(Vec<PathBuf>, Vec<Loaded>), Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::invalid(format!(
            "error: no scenario given, and {} cannot be read: {e}\n  hint: name the replay scenarios, e.g. supplyshock replay scenarios/rare-earths-2010-replay.toml",
            dir.display()
        ))
    })?;
    let mut all: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .collect();
    all.sort();
    let (mut files, mut loaded) = (Vec::new(), Vec::new());
    for f in all {
        let l = load(&f)?;
        if !l.study.expects.is_empty() {
            if !quiet {
                for w in &l.warnings {
                    eprintln!("{w}");
                }
            }
            files.push(f);
            loaded.push(l);
        }
    }
    if files.is_empty() {
        return Err(Failure::invalid(format!(
            "error: no scenario in {} has an [[expect]] band\n  hint: name the scenarios to replay",
            dir.display()
        )));
    }
    Ok((files, loaded))
}
