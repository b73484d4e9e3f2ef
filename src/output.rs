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

/// A file of an output directory: its name and what it holds.
pub type File<'a> = (String, Content<'a>);

/// A file's content: bytes built in memory, or written straight to the file as it is made
/// (for files that grow with trials x steps, such as curves.csv, so a long run never holds
/// them whole).
pub enum Content<'a> {
    Bytes(Vec<u8>),
    Stream(Writer<'a>),
}

/// Writes a streamed file's content.
pub type Writer<'a> = Box<dyn Fn(&mut dyn Write) -> std::io::Result<()> + 'a>;

impl From<Vec<u8>> for Content<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        Content::Bytes(bytes)
    }
}

/// A finished run of the baseline and some strategies, ready to summarize and write.
pub struct RunResults<'a> {
    pub plan: Plan<'a>,
    /// Display name of each variant: `Baseline`, then the strategies' names.
    pub names: Vec<String>,
    /// Yearly cost of each variant (`None` for the baseline).
    pub costs: Vec<Option<Cost>>,
    pub acc: Accumulated,
    pub trials: u64,
    /// The seed the trials were drawn from (the scenario's, or the one given instead).
    pub seed: u64,
    /// Split the baseline's loss over its shocks (replays its trials: see [`crate::attribution`]).
    pub attribution: bool,
    /// Embed every chart in the report, not only those that carry the message.
    pub all_charts: bool,
    /// `whatif --background`: the shock added to every trial.
    pub whatif: Option<crate::whatif::Firing>,
    /// Worker threads for the attribution's replays (`None`: all cores).
    pub threads: Option<usize>,
    /// The fans of fill after each counted importer's main shock, replayed once by
    /// [`RunResults::summary`] (see [`crate::conditional`]).
    pub fans: std::cell::OnceCell<Vec<crate::conditional::Fan>>,
}

impl<'a> RunResults<'a> {
    /// The results `acc` of `trials` trials drawn from `seed`, of the baseline and the
    /// strategies `chosen` (indices into `study.strategies`).
    pub fn new(
        study: &'a Study,
        chosen: &[usize],
        acc: Accumulated,
        trials: u64,
        seed: u64,
    ) -> Self {
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
            seed,
            attribution: false,
            all_charts: false,
            whatif: None,
            threads: None,
            fans: std::cell::OnceCell::new(),
        }
    }

    /// Replay on `threads` worker threads (`None`: all cores), as the run itself did.
    pub fn with_threads(mut self, threads: Option<usize>) -> Self {
        self.threads = threads;
        self
    }

    /// The run added `firing` to every trial (`whatif --background`): said in the summary.
    pub fn with_whatif(mut self, firing: crate::whatif::Firing) -> Self {
        self.whatif = Some(firing);
        self
    }

    /// Embed every chart in the report, if `on`.
    pub fn with_all_charts(mut self, on: bool) -> Self {
        self.all_charts = on;
        self
    }

    /// Split the baseline's loss over its shocks in the summary, if `on`.
    pub fn with_attribution(mut self, on: bool) -> Self {
        self.attribution = on;
        self
    }

    /// The run added `events` to every trial (`whatif --background`).
    pub fn with_forced(mut self, events: Vec<crate::shocks::Event>) -> Self {
        self.plan = self.plan.with_forced(events);
        self
    }

    /// Totals count only the importers `focus` names (ids checked against the scenario).
    pub fn with_focus(mut self, focus: Option<Vec<String>>) -> Self {
        self.plan = self.plan.with_focus(focus);
        self
    }

    pub fn summary(&self) -> Summary {
        let mut s = report::summarize(
            &self.plan,
            &self.costs,
            &self.names,
            &self.acc,
            self.trials,
            self.seed,
        );
        s.whatif = self.whatif.clone();
        let base = self.plan.models[0];
        // Replays give the same values on any pool (fixed chunks, reduced in order); a pool
        // of the threads asked for when one can be had.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads.unwrap_or(0))
            .build()
            .ok();
        let on_pool = |f: &mut (dyn FnMut() + Send)| match &pool {
            Some(pool) => pool.install(f),
            None => f(),
        };
        let (plan, acc, seed, trials) = (&self.plan, &self.acc, self.seed, self.trials);
        if self.attribution && !base.shocks.is_empty() {
            on_pool(&mut || {
                s.attribution = Some(crate::attribution::attribute(
                    base,
                    seed,
                    trials,
                    &plan.total_set(0),
                    plan.forced(),
                ))
            });
        }
        let fans = self.fans.get_or_init(|| {
            let mut fans = Vec::new();
            on_pool(&mut || fans = conditional_fans(plan, acc, seed, trials, &s));
            fans
        });
        s.conditional = fans.iter().map(|f| f.what.clone()).collect();
        s
    }
}

/// The fans of fill after each counted importer's main shock (none without shocks), from the
/// run's `trials` trials drawn from `seed`.
fn conditional_fans(
    plan: &Plan,
    acc: &Accumulated,
    seed: u64,
    trials: u64,
    s: &Summary,
) -> Vec<crate::conditional::Fan> {
    let base = plan.models[0];
    if base.shocks.is_empty() || s.variants.is_empty() {
        return Vec::new();
    }
    let slot_loss: Vec<f64> = s.variants[0]
        .slots
        .iter()
        .map(|sl| sl.metrics.loss_value.mean)
        .collect();
    let ni = base.importers.len();
    let losses = |i: usize| crate::runner::losses_of(acc, 0, i, ni);
    let attributed = |i: usize| -> Option<u32> {
        let a = s.attribution.as_ref()?;
        let top = a
            .importers
            .get(i)?
            .shocks
            .iter()
            .filter(|x| x.mean > 0.0)
            .max_by(|a, b| a.mean.total_cmp(&b.mean))?;
        base.shocks
            .iter()
            .position(|sh| sh.id == top.shock)
            .map(|p| p as u32)
    };
    let asks = crate::conditional::asks(
        base,
        seed,
        plan.forced(),
        &plan.total_set(0),
        &slot_loss,
        &losses,
        &attributed,
    );
    crate::conditional::fans(base, seed, trials, plan.forced(), &asks)
}

/// The files of a run (and of a merge): summary.json, metrics.csv, curves.csv, report.md, then
/// every chart as PNG and SVG.
pub fn run_files<'a>(r: &'a RunResults, summary: &Summary) -> Vec<File<'a>> {
    let (plan, acc, trials) = (&r.plan, &r.acc, r.trials);
    let mut files: Vec<File<'a>> = vec![
        (
            "summary.json".to_owned(),
            report::summary_json(summary).into(),
        ),
        (
            "metrics.csv".to_owned(),
            report::metrics_csv(summary).into(),
        ),
        (
            "curves.csv".to_owned(),
            Content::Stream(Box::new(move |w| {
                report::write_curves_csv(w, plan, acc, trials)
            })),
        ),
    ];
    if acc.ints.iter().any(|i| !i.prices.is_empty()) {
        files.push((
            "prices.csv".to_owned(),
            Content::Stream(Box::new(move |w| {
                report::write_prices_csv(w, plan, acc, trials)
            })),
        ));
    }
    let fans: &[crate::conditional::Fan] = r.fans.get().map_or(&[], Vec::as_slice);
    if !fans.is_empty() {
        files.push((
            "conditional.csv".to_owned(),
            crate::conditional::csv(fans).into(),
        ));
    }
    let curves = report::curve_sets(plan, acc, trials);
    let prices = report::price_sets(plan, acc, trials);
    let charts = crate::plot::charts(
        summary,
        &curves,
        fans,
        &prices,
        &report::loss_samples(plan, acc),
        &report::sourcing_shares(plan),
    );
    let base = plan.models[0];
    let indicators = crate::indicators::compute(base);
    let chart_names: Vec<String> = charts.iter().map(|(n, _)| n.clone()).collect();
    let md = crate::markdown::report_md(summary, &indicators, &chart_names, r.all_charts);
    let pngs: std::collections::BTreeMap<String, Vec<u8>> = charts
        .iter()
        .filter(|(n, _)| n.ends_with(".png") && md.contains(&format!("]({n})")))
        .cloned()
        .collect();
    let html = crate::html::report_html(&md, &summary.scenario, &pngs);
    files.push(("report.md".to_owned(), md.into_bytes().into()));
    files.push(("report.html".to_owned(), html.into_bytes().into()));
    files.extend(bytes(charts));
    files
}

/// Files built in memory.
fn bytes<'a>(files: Vec<(String, Vec<u8>)>) -> impl Iterator<Item = File<'a>> {
    files.into_iter().map(|(name, b)| (name, Content::Bytes(b)))
}

/// The files of a stress test: stress.json, stress.csv and its chart.
pub fn stress_files(result: &StressResult) -> Vec<File<'static>> {
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
    bytes(files).collect()
}

/// The files of a sweep of `key` over `values`: sweep.json (a summary), sweep.csv (its
/// metrics) and its chart.
pub fn sweep_files(summary: &Summary) -> Vec<File<'static>> {
    let mut files = vec![
        ("sweep.json".to_owned(), report::summary_json(summary)),
        ("sweep.csv".to_owned(), report::metrics_csv(summary)),
    ];
    files.extend(crate::plot::sweep_chart(summary));
    bytes(files).collect()
}

/// The manifest every results directory holds: its first line marks the directory as written
/// by supplyshock, the others name the files written with it. `--force` replaces a directory
/// only when it holds nothing but those files, so it can never delete anything else.
pub const MANIFEST: &str = ".supplyshock-results";
const MANIFEST_HEADER: &str = "supplyshock results: files written by one command";

/// Errors from writing results.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("output directory {0} already holds results")]
    Exists(PathBuf),
    #[error(
        "output directory {} holds files supplyshock did not write ({}); it never replaces them",
        .dir.display(),
        crate::format::preview(.names)
    )]
    Foreign { dir: PathBuf, names: Vec<String> },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {what} is not a finite number ({value}); nothing was written")]
    NonFinite {
        file: String,
        what: String,
        value: String,
    },
}

impl WriteError {
    /// What to do about it, for the user.
    pub fn hint(&self) -> &'static str {
        match self {
            WriteError::Exists(_) => {
                "pass --force to replace them, or choose another directory with -o"
            }
            WriteError::Foreign { .. } => {
                "choose a new or empty directory with -o (results go in a directory of their own)"
            }
            WriteError::Io { .. } => "check the path, the permissions and the free space",
            WriteError::NonFinite { .. } => {
                "a result overflowed: check the scenario for extreme values (demand, capacity, value, costs), and report it with the scenario if they are reasonable"
            }
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What an output path holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirState {
    /// Nothing there: the results will create it.
    Absent,
    /// An empty directory.
    Empty,
    /// Results a supplyshock command wrote, and nothing else.
    Results,
    /// Anything else: these entries were not written by supplyshock (or the path is a file).
    Foreign(Vec<String>),
}

/// What `dir` holds: absent, empty, supplyshock's results alone, or anything else.
pub fn dir_state(dir: &Path) -> Result<DirState, WriteError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DirState::Absent),
        Err(e) => return Err(io(dir)(e)),
    };
    if !meta.is_dir() {
        return Ok(DirState::Foreign(vec![dir.display().to_string()]));
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        names.push(
            entry
                .map_err(io(dir))?
                .file_name()
                .to_string_lossy()
                .into_owned(),
        );
    }
    if names.is_empty() {
        return Ok(DirState::Empty);
    }
    names.sort();
    let listed = fs::read_to_string(dir.join(MANIFEST))
        .ok()
        .and_then(|text| {
            let mut lines = text.lines();
            (lines.next() == Some(MANIFEST_HEADER)).then(|| {
                lines
                    .map(str::to_owned)
                    .collect::<std::collections::BTreeSet<_>>()
            })
        });
    let foreign: Vec<String> = match listed {
        Some(listed) => names
            .into_iter()
            .filter(|n| n != MANIFEST && !listed.contains(n))
            .collect(),
        None => names,
    };
    Ok(if foreign.is_empty() {
        DirState::Results
    } else {
        DirState::Foreign(foreign)
    })
}

/// Whether results may be written to `dir`: it is absent or empty, or (with `force`) holds
/// supplyshock's results alone. Checked before a run starts and again when it writes; what
/// commands that died while writing `dir` left beside it is cleared first ([`remove_stale`]).
pub fn check_dir(dir: &Path, force: bool) -> Result<(), WriteError> {
    let (parent, name) = parent_and_name(dir);
    remove_stale(parent, &name);
    match dir_state(dir)? {
        DirState::Absent | DirState::Empty => Ok(()),
        DirState::Results if force => Ok(()),
        other => Err(refused(dir, other)),
    }
}

/// Why results may not be written to `dir`, which holds `state` (results without `force`, or
/// anything else).
fn refused(dir: &Path, state: DirState) -> WriteError {
    match state {
        DirState::Foreign(names) => WriteError::Foreign {
            dir: dir.to_owned(),
            names,
        },
        _ => WriteError::Exists(dir.to_owned()),
    }
}

/// Write `files` (name, bytes) as the directory `dir`, with its manifest: staged beside it, then
/// renamed into place. Without `force` the rename never replaces anything (another command that
/// wrote `dir` meanwhile wins, and this one fails); with it, only supplyshock's results are
/// replaced. Staging directories left by commands that died are removed first.
pub fn write_dir(dir: &Path, files: &[File], force: bool) -> Result<(), WriteError> {
    check_dir(dir, force)?;
    // Streamed files hold fills, ratios of integer counts: always finite.
    for (name, content) in files {
        if let (true, Content::Bytes(bytes)) = (name.ends_with(".csv"), content) {
            check_finite_csv(name, bytes)?;
        }
    }
    let (parent, name) = parent_and_name(dir);
    fs::create_dir_all(parent).map_err(io(parent))?;
    let stage = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if stage.exists() {
        fs::remove_dir_all(&stage).map_err(io(&stage))?;
    }
    fs::create_dir(&stage).map_err(io(&stage))?;
    let staged = stage_files(&stage, files).and_then(|()| place(dir, &stage, parent, &name, force));
    if staged.is_err() {
        let _ = fs::remove_dir_all(&stage);
    }
    staged
}

/// Columns of supplyshock's CSV files that hold names, not numbers.
const TEXT_COLUMNS: [&str; 6] = [
    "variant", "importer", "material", "metric", "removed", "flagged",
];

/// Every number of a CSV output is finite: inf or NaN is refused, never written.
pub fn check_finite_csv(name: &str, bytes: &[u8]) -> Result<(), WriteError> {
    let mut r = csv::Reader::from_reader(bytes);
    let header: Vec<String> = r
        .headers()
        .map(|h| h.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    for (row, rec) in r.records().enumerate() {
        let Ok(rec) = rec else { continue };
        for (col, field) in rec.iter().enumerate() {
            let column = header.get(col).map_or("", String::as_str);
            if TEXT_COLUMNS.contains(&column) {
                continue;
            }
            if field.parse::<f64>().is_ok_and(|x| !x.is_finite()) {
                let names: Vec<&str> = rec
                    .iter()
                    .zip(&header)
                    .filter(|(_, h)| TEXT_COLUMNS.contains(&h.as_str()))
                    .map(|(f, _)| f)
                    .collect();
                return Err(WriteError::NonFinite {
                    file: name.to_owned(),
                    what: format!("row {} ({}), column {column}", row + 2, names.join(", ")),
                    value: field.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Write `files` and the manifest into `stage`.
fn stage_files(stage: &Path, files: &[File]) -> Result<(), WriteError> {
    let mut manifest = format!("{MANIFEST_HEADER}\n");
    for (fname, content) in files {
        let p = stage.join(fname);
        let f = fs::File::create(&p).map_err(io(&p))?;
        let mut w = std::io::BufWriter::new(f);
        match content {
            Content::Bytes(bytes) => w.write_all(bytes),
            Content::Stream(write) => write(&mut w),
        }
        .map_err(io(&p))?;
        let f = w.into_inner().map_err(|e| io(&p)(e.into_error()))?;
        f.sync_all().map_err(io(&p))?;
        manifest += fname;
        manifest.push('\n');
    }
    let p = stage.join(MANIFEST);
    fs::write(&p, manifest).map_err(io(&p))
}

/// Rename the staged directory into place as `dir`, checking what is there at that moment.
fn place(
    dir: &Path,
    stage: &Path,
    parent: &Path,
    name: &str,
    force: bool,
) -> Result<(), WriteError> {
    match dir_state(dir)? {
        DirState::Results if force => {
            let old = parent.join(format!(".{name}.old-{}", std::process::id()));
            fs::rename(dir, &old).map_err(io(dir))?;
            if let Err(e) = fs::rename(stage, dir) {
                // Put the previous results back: a failed write must not lose them.
                let _ = fs::rename(&old, dir);
                return Err(io(dir)(e));
            }
            fs::remove_dir_all(&old).map_err(io(&old))
        }
        DirState::Absent | DirState::Empty => {
            // An empty directory goes first (rename would replace it silently, and so would
            // hide a race); then the rename itself refuses a directory another command has
            // filled meanwhile.
            if dir.exists() {
                fs::remove_dir(dir).map_err(io(dir))?;
            }
            fs::rename(stage, dir).map_err(|e| match dir_state(dir) {
                Ok(DirState::Results) => WriteError::Exists(dir.to_owned()),
                _ => io(dir)(e),
            })
        }
        other => Err(refused(dir, other)),
    }
}

/// The directory `dir` is written in (staged beside it), and its name.
fn parent_and_name(dir: &Path) -> (&Path, String) {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = dir
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    (parent, name)
}

/// Clear what commands that no longer run (their process id is gone) left beside `name` in
/// `parent`: staging directories are removed, and so are previous results moved aside for
/// replacement, unless nothing took their place (the command died between its two renames):
/// those are put back. Best effort: a directory that cannot be moved or removed stays.
fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let fname = entry.file_name().to_string_lossy().into_owned();
        let found = [".partial-", ".old-"].into_iter().find_map(|tag| {
            fname
                .strip_prefix(&format!(".{name}{tag}"))
                .and_then(|p| p.parse::<u32>().ok())
                .map(|pid| (tag, pid))
        });
        let Some((tag, pid)) = found else { continue };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let dir = parent.join(name);
        let vacant =
            fs::symlink_metadata(&dir).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
        if tag == ".old-" && vacant && fs::rename(entry.path(), &dir).is_ok() {
            continue;
        }
        let _ = fs::remove_dir_all(entry.path());
    }
}

/// Whether a process with this id runs (where the system tells; elsewhere, assume it does).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
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
    // Errors name the file asked for, not the temporary one.
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io(path))
}
