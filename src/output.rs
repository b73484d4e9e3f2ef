//! The output directory: which files each command writes there ([`run_files`] for `run` and
//! `merge`, [`stress_files`], [`sweep_files`]), and the one writer that owns it (staged in a
//! temporary directory, then renamed into place, so an interrupted run leaves the previous
//! results or none, never half a file).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::{Cost, Study};
use crate::report::{self, Summary};
use crate::runner::{Accumulated, Plan};
use crate::stress::StressResult;

/// A file of an output directory: its name and bytes.
pub type File = (String, Vec<u8>);

/// A finished run of the baseline and some strategies, ready to summarize and write.
pub struct RunResults<'a> {
    pub plan: Plan<'a>,
    /// Display name of each variant: `Baseline`, then the strategies' names.
    pub names: Vec<String>,
    /// Yearly cost of each variant (`None` for the baseline).
    pub costs: Vec<Option<Cost>>,
    pub acc: Accumulated,
    pub trials: u64,
}

impl<'a> RunResults<'a> {
    /// The results `acc` of `trials` trials of the baseline and the strategies `chosen` (indices
    /// into `study.strategies`).
    pub fn new(study: &'a Study, chosen: &[usize], acc: Accumulated, trials: u64) -> Self {
        let mut names = vec!["Baseline".to_owned()];
        let mut costs = vec![None];
        for &i in chosen {
            names.push(study.strategies[i].name.clone());
            costs.push(Some(study.strategies[i].cost.clone()));
        }
        RunResults {
            plan: Plan::new(study, chosen),
            names,
            costs,
            acc,
            trials,
        }
    }

    pub fn summary(&self) -> Summary {
        report::summarize(&self.plan, &self.costs, &self.names, &self.acc, self.trials)
    }
}

/// The files of a run (and of a merge): summary.json, metrics.csv, curves.csv, report.md, then
/// every chart as PNG and SVG.
pub fn run_files(r: &RunResults, summary: &Summary) -> Vec<File> {
    let (plan, acc, trials) = (&r.plan, &r.acc, r.trials);
    let mut files = vec![
        ("summary.json".to_owned(), report::summary_json(summary)),
        ("metrics.csv".to_owned(), report::metrics_csv(summary)),
        (
            "curves.csv".to_owned(),
            report::curves_csv(plan, acc, trials),
        ),
    ];
    let curves = report::curve_sets(plan, acc, trials);
    let charts = crate::plot::charts(
        summary,
        &curves,
        &report::loss_samples(plan, acc),
        &report::sourcing_shares(plan),
    );
    let base = plan.models[0];
    let check = crate::indicators::render_table(&crate::indicators::compute(base));
    let chart_names: Vec<String> = charts.iter().map(|(n, _)| n.clone()).collect();
    files.push((
        "report.md".to_owned(),
        crate::markdown::report_md(summary, &check, &chart_names).into_bytes(),
    ));
    files.extend(charts);
    files
}

/// The files of a stress test: stress.json, stress.csv and its chart.
pub fn stress_files(result: &StressResult) -> Vec<File> {
    let mut files = vec![
        ("stress.json".to_owned(), result.json()),
        ("stress.csv".to_owned(), result.csv()),
    ];
    files.extend(crate::plot::stress_chart(
        &result.points(),
        result.days,
        &format!(
            "{}: time to survive against time to recover, elements removed for {} days",
            result.scenario, result.days
        ),
    ));
    files
}

/// The files of a sweep of `key` over `values`: sweep.json (a summary), sweep.csv (its
/// metrics) and its chart.
pub fn sweep_files(summary: &Summary, key: &str, values: &[f64]) -> Vec<File> {
    let mut files = vec![
        ("sweep.json".to_owned(), report::summary_json(summary)),
        ("sweep.csv".to_owned(), report::metrics_csv(summary)),
    ];
    files.extend(crate::plot::sweep_chart(summary, key, values));
    files
}

/// Errors from writing results.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("output directory {0} already holds results; pass --force to replace them")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Whether `dir` exists and holds any file (results a command would replace).
pub fn holds_results(dir: &Path) -> Result<bool, WriteError> {
    Ok(dir.exists() && fs::read_dir(dir).map_err(io(dir))?.next().is_some())
}

/// Write `files` (name, bytes) as the directory `dir`: staged beside it, then renamed into place.
pub fn write_dir(dir: &Path, files: &[(String, Vec<u8>)], force: bool) -> Result<(), WriteError> {
    if !force && holds_results(dir)? {
        return Err(WriteError::Exists(dir.to_owned()));
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let name = dir
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    let stage = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(io(&stage))?;
    }
    fs::create_dir(&stage).map_err(io(&stage))?;
    for (fname, bytes) in files {
        let p = stage.join(fname);
        let mut f = fs::File::create(&p).map_err(io(&p))?;
        f.write_all(bytes).map_err(io(&p))?;
        f.sync_all().map_err(io(&p))?;
    }
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        fs::rename(dir, &old).map_err(io(dir))?;
        fs::rename(&stage, dir).map_err(io(dir))?;
        fs::remove_dir_all(&old).map_err(io(&old))?;
    } else {
        fs::rename(&stage, dir).map_err(io(dir))?;
    }
    Ok(())
}

/// Write one file atomically (temporary name in the same directory, then rename).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map_or("out".into(), |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))
}
