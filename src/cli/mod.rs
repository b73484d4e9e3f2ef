//! The command line: argument definitions and the pipelines behind each subcommand.
//!
//! Only `main.rs` turns a [`Failure`] into text on stderr and an exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod replay;
mod stress;
mod sweep;
mod whatif;

use crate::diag::{render, Diagnostics};
use crate::format::money_terse;
use crate::model::{load, Loaded};
use crate::output::{self, RunResults};
use crate::report::{self, Summary};
use crate::runner::{n_blocks, run_blocks, Plan, Sums};
use crate::table::{Align, Table};

/// Exit code 1: the run failed.
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code 2: invalid input (scenario, arguments).
pub const EXIT_INVALID: u8 = 2;

#[derive(Debug, Parser)]
#[command(name = "supplyshock", version, about = "Supply-chain dependency risk simulator: Monte Carlo shocks through multi-tier material networks", long_about = None,
    after_help = "Examples:\n  supplyshock init my-scenario.toml\n  supplyshock check scenarios/japan-eu-critical-materials.toml\n  supplyshock run scenarios/japan-eu-critical-materials.toml --trials 10000 -o out/flagship\n  supplyshock run scenarios/minimal.toml -o - | jq .variants[0].slots")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

impl Cli {
    /// [`Parser::try_parse`], with a suggestion for a mistyped subcommand that clap's own
    /// similarity measure misses: it wants a Jaro score above 0.7, and `rnu` against `run` scores
    /// 0.56 (in a three-letter word, swapped letters do not count as matches). Edit distance, as
    /// for scenario keys, catches those; the suggestion goes into the error's context, where
    /// clap prints it as it prints its own.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        Cli::try_parse().map_err(suggest_subcommand)
    }
}

fn suggest_subcommand(mut e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::CommandFactory;
    if e.kind() != ErrorKind::InvalidSubcommand {
        return e;
    }
    if let Some(ContextValue::Strings(s)) = e.get(ContextKind::SuggestedSubcommand) {
        if !s.is_empty() {
            return e;
        }
    }
    let typed = match e.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => return e,
    };
    let cmd = Cli::command();
    let names = cmd
        .get_subcommands()
        .flat_map(|c| std::iter::once(c.get_name()).chain(c.get_all_aliases()));
    if let Some(best) = crate::diag::did_you_mean(&typed, names) {
        e.insert(
            ContextKind::SuggestedSubcommand,
            ContextValue::Strings(vec![best.to_owned()]),
        );
    }
    e
}

/// How many trials, from which seed, on how many threads.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Sampling {
    /// Trials (default: the scenario's `trials`).
    #[arg(long)]
    pub trials: Option<u64>,
    /// Seed (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores; at most 1024).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// What the results of `run` and `merge` count and show: the totals' importers, the split of
/// the loss by shock, the charts embedded.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Importers the totals, the strategy ranking and the frontier count (repeatable, or
    /// comma-separated); default: every importer not declared balancing.
    #[arg(long, value_name = "IMPORTER", value_delimiter = ',')]
    pub focus: Vec<String>,
    /// Split the baseline's loss over its shocks: which shocks drive each importer's
    /// expected and tail loss (replays the baseline's trials, one run per shock in each).
    #[arg(long)]
    pub attribution: bool,
    /// Charts the report embeds: those that carry the message (default), or all.
    #[arg(long, value_enum, default_value_t = ChartSet::Message)]
    pub charts: ChartSet,
}

/// Which charts report.md and report.html embed.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ChartSet {
    /// The loss of the importers the totals count, the strategy comparison, the prices that
    /// moved, and per importer its three costliest materials.
    Message,
    /// Every chart written.
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a scenario and print its static concentration indicators.
    #[command(
        after_help = "Example:\n  supplyshock check scenarios/japan-eu-critical-materials.toml --format json"
    )]
    Check {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// What to print: a table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Monte Carlo run of the baseline and every strategy; writes report.md, report.html, charts, summary.json, metrics.csv, curves.csv.
    #[command(
        after_help = "Examples:\n  supplyshock run scenarios/japan-eu-critical-materials.toml -o out/flagship\n  supplyshock run scenarios/minimal.toml --trials 100000 --threads 2 --force\n  supplyshock run scenarios/minimal.toml -o -      # summary JSON on stdout"
    )]
    Run {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Output directory (`-` writes the summary JSON to stdout). Default: out/<scenario name>.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        sampling: Sampling,
        /// Run only these strategies (repeatable); default: all.
        #[arg(long = "strategy", value_name = "ID")]
        strategies: Vec<String>,
        #[command(flatten)]
        report: ReportArgs,
        /// Replace an existing output directory.
        #[arg(long)]
        force: bool,
        /// What to print: a table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Run only shard K of N (0-based) and write a part file into the output directory.
        /// Without it, the shard comes from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or
        /// JOB_COMPLETION_INDEX (with --shards) when set.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Number of shards, for Kubernetes Indexed Jobs (JOB_COMPLETION_INDEX gives K).
        #[arg(long, value_name = "N")]
        shards: Option<u64>,
    },
    /// Combine the part files of a sharded run into the results a single machine writes.
    #[command(after_help = "Example:\n  supplyshock merge parts/part-*.json -o out/flagship")]
    Merge {
        /// Part files written by `run --shard`.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        #[arg(long, short)]
        output: PathBuf,
        #[command(flatten)]
        report: ReportArgs,
        /// Replace existing results.
        #[arg(long)]
        force: bool,
        /// What to print: a table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Fire one named shock at a chosen day, for a chosen time and severity: the day-by-day path of every importer, and every strategy's effect on it.
    #[command(
        after_help = "Examples:\n  supplyshock whatif scenarios/japan-eu-critical-materials.toml --shock cn_ga_ge_licensing --days 60 --severity 0.85\n  supplyshock whatif scenarios/japan-eu-critical-materials.toml --shock drc_cobalt_suspension -o out/drc\n  supplyshock whatif scenarios/taiwan-advanced-chips.toml --shock tw_quake --background --trials 2000 -o out/quake\n\nWithout --background the shock is the only event: one deterministic path per variant, beside the\nsame variant with no event. With --background it is added to every trial's random shocks, and\nthe run writes what `run` writes."
    )]
    Whatif {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Id of the shock to fire.
        #[arg(long, value_name = "ID")]
        shock: String,
        /// Day it starts (default: the shock's at_day, else 0).
        #[arg(long, value_name = "DAY", allow_negative_numbers = true)]
        start: Option<f64>,
        /// How long it lasts at full severity, in days (default: the mean of its duration).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        days: Option<f64>,
        /// Its severity (default: the mean of its severity).
        #[arg(long, value_name = "S", allow_negative_numbers = true)]
        severity: Option<f64>,
        /// Add it to every trial of a Monte Carlo run of the scenario's random shocks.
        #[arg(long)]
        background: bool,
        /// Only these strategies (repeatable); default: all.
        #[arg(long = "strategy", value_name = "ID")]
        strategies: Vec<String>,
        /// Importers the totals count (repeatable, or comma-separated); default: every
        /// importer not declared balancing.
        #[arg(long, value_name = "IMPORTER", value_delimiter = ',')]
        focus: Vec<String>,
        /// With --background: split the baseline's loss over its shocks: which shocks drive each importer's
        /// expected and tail loss (replays the baseline's trials, one run per shock in each).
        #[arg(long)]
        attribution: bool,
        #[command(flatten)]
        sampling: Sampling,
        /// Output directory: whatif.json and path.csv (with --background, what `run` writes).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace an existing output directory.
        #[arg(long)]
        force: bool,
        /// What to print: a table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Remove suppliers, regions or routes at day 0 for a fixed time: time to survive and to recover.
    #[command(
        after_help = "Examples:\n  supplyshock stress scenarios/japan-eu-critical-materials.toml --remove CN --days 60\n  supplyshock stress scenarios/taiwan-advanced-chips.toml --remove taiwan_strait --days 30\n  supplyshock stress scenarios/japan-eu-critical-materials.toml --remove cn_ga --against japan --days 60 --focus japan\n  supplyshock stress scenarios/japan-eu-critical-materials.toml --all --days 90 --format json"
    )]
    Stress {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Supplier, region or route id to remove (repeatable: removed together).
        #[arg(long, value_name = "ID", required_unless_present = "all")]
        remove: Vec<String>,
        /// Remove each supplier, region and route in turn and rank them by the loss they cause.
        #[arg(long, conflicts_with = "remove")]
        all: bool,
        /// How long the element stays removed.
        #[arg(long)]
        days: f64,
        /// Ban the removed suppliers or regions from selling to these buyers only (importer or
        /// region ids, repeatable or comma-separated) instead of removing them for everyone.
        #[arg(long, value_name = "BUYER", value_delimiter = ',')]
        against: Vec<String>,
        /// Importers to list and rank by (repeatable or comma-separated); default: every
        /// importer not declared balancing.
        #[arg(long, value_name = "IMPORTER", value_delimiter = ',')]
        focus: Vec<String>,
        /// Also write stress.json and stress.csv here.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace existing results.
        #[arg(long)]
        force: bool,
        /// What to print: a table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Vary one parameter over a list of values, on common random numbers.
    #[command(
        after_help = "Examples:\n  supplyshock sweep scenarios/japan-eu-critical-materials.toml --set importer.japan.stockpile.gallium.days=0,30,60,90,180\n  supplyshock sweep scenarios/starter.toml --set shock.a_ban.rate_per_year=0.1,0.2,0.5 -o out/sweep\n  supplyshock sweep scenarios/starter.toml --set importer.home.stockpile.oxide.days=0,30,60,90 --carry-rate 0.08\n\nKeys: importer.<id>.stockpile.<material>.days|release_above|refill_below, importer.<id>.switch_days,\n      importer.<id>.demand.<material>, importer.<id>.recycling.<material>, supplier.<id>.capacity|spare|ramp_days,\n      supplier.<id>.stock_days.<material>, shock.<id>.rate_per_year|severity|duration_days, route.<id>.lead_days,\n      pool.<id>.days|refill_below|release_above"
    )]
    Sweep {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// The parameter and its values (keys below).
        #[arg(long = "set", value_name = "KEY=V1,V2,...")]
        set: String,
        /// Price the stock each value holds over the scenario as written at this fraction of
        /// its value a year (e.g. 0.08), for a cost and a net benefit per value.
        #[arg(long, value_name = "RATE")]
        carry_rate: Option<f64>,
        /// Importers the totals count (repeatable or comma-separated); default: every
        /// importer not declared balancing.
        #[arg(long, value_name = "IMPORTER", value_delimiter = ',')]
        focus: Vec<String>,
        #[command(flatten)]
        sampling: Sampling,
        /// Output directory for sweep.json and sweep.csv (`-` for JSON on stdout).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Replace existing results.
        #[arg(long)]
        force: bool,
        /// What to print: a table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Replay history: run scenarios with observed bands ([[expect]]) and compare, band by band.
    #[command(
        after_help = "Examples:\n  supplyshock replay                      # every scenario in scenarios/ with a band\n  supplyshock replay scenarios/rare-earths-2010-replay.toml --format json"
    )]
    Replay {
        /// Scenario files (default: every scenarios/*.toml with an [[expect]] table).
        scenarios: Vec<PathBuf>,
        #[command(flatten)]
        sampling: Sampling,
        /// What to print: a table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  supplyshock completions bash > ~/.local/share/bash-completion/completions/supplyshock"
    )]
    Completions { shell: clap_complete::Shell },
    /// Write a commented starter scenario.
    Init {
        /// File to create (default: scenario.toml).
        name: Option<PathBuf>,
        /// Replace existing results.
        #[arg(long)]
        force: bool,
    },
}

/// A failed command: what to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_INVALID,
            message: message.into(),
        }
    }
    pub(crate) fn runtime(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_RUNTIME,
            message: message.into(),
        }
    }
}

impl From<Diagnostics> for Failure {
    fn from(d: Diagnostics) -> Failure {
        Failure::invalid(render(&d.0))
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Check { scenario, format } => check(&scenario, format, quiet),
        Command::Run {
            scenario,
            output,
            sampling,
            strategies,
            report,
            force,
            format,
            shard,
            shards,
        } => {
            let loaded = load_scenario(&scenario, quiet)?;
            let args = RunArgs {
                scenario,
                output,
                sampling,
                strategies,
                focus: report.focus,
                attribution: report.attribution,
                all_charts: report.charts == ChartSet::All,
                shard,
                shards,
            };
            let display = Display {
                force,
                format,
                quiet,
            };
            run_cmd(&loaded, &RunOptions::resolve(args, &loaded.study, display)?)
        }
        Command::Merge {
            parts,
            output,
            report,
            force,
            format,
        } => merge(
            &parts,
            &output,
            &report,
            &Display {
                force,
                format,
                quiet,
            },
        ),
        Command::Whatif {
            scenario,
            shock,
            start,
            days,
            severity,
            background,
            strategies,
            focus,
            attribution,
            sampling,
            output,
            force,
            format,
        } => whatif::whatif(
            whatif::WhatIfArgs {
                scenario,
                shock,
                start,
                days,
                severity,
                background,
                strategies,
                focus,
                attribution,
                sampling,
                output,
            },
            Display {
                force,
                format,
                quiet,
            },
        ),
        Command::Stress {
            scenario,
            remove,
            all,
            days,
            against,
            focus,
            output,
            force,
            format,
        } => {
            let removals = if all {
                crate::stress::Removals::EachInTurn
            } else {
                crate::stress::Removals::Together(remove)
            };
            let display = Display {
                force,
                format,
                quiet,
            };
            let spec = crate::stress::Stress {
                days,
                against,
                focus: (!focus.is_empty()).then_some(focus),
            };
            stress::stress(&stress::StressOptions::resolve(
                scenario, removals, spec, output, display,
            )?)
        }
        Command::Sweep {
            scenario,
            set,
            carry_rate,
            focus,
            sampling,
            output,
            force,
            format,
        } => sweep::sweep(&sweep::SweepOptions::resolve(
            scenario,
            &set,
            (carry_rate, focus),
            sampling,
            output,
            Display {
                force,
                format,
                quiet,
            },
        )?),
        Command::Replay {
            scenarios,
            sampling,
            format,
        } => replay::replay(&scenarios, sampling, format, quiet),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "supplyshock", &mut out);
            print_stdout(&String::from_utf8_lossy(&out))
        }
        Command::Init { name, force } => init(
            name.as_deref().unwrap_or(Path::new("scenario.toml")),
            force,
            quiet,
        ),
    }
}

pub(crate) fn load_scenario(path: &Path, quiet: bool) -> Result<Loaded, Failure> {
    let loaded = load(path)?;
    if !quiet {
        for w in &loaded.warnings {
            eprintln!("{w}");
        }
    }
    Ok(loaded)
}

fn check(path: &Path, format: Format, quiet: bool) -> Result<(), Failure> {
    let loaded = load_scenario(path, quiet)?;
    if quiet {
        // Valid: nothing to say but errors, and there are none.
        return Ok(());
    }
    let model = &loaded.study.baseline;
    let ind = crate::indicators::compute(model);
    let out = match format {
        Format::Json => {
            let mut v = serde_json::to_string_pretty(&ind).expect("indicators serialize");
            v.push('\n');
            v
        }
        Format::Table => {
            let mut s = crate::indicators::render_table(&ind);
            s.push_str(&format!(
                "\nOK: {} regions, {} materials, {} suppliers, {} importers, {} routes, {} shocks, {} strategies\n",
                model.regions.len(),
                model.materials.len(),
                model.suppliers.len(),
                model.importers.len(),
                model.routes.len(),
                model.shocks.len(),
                loaded.study.strategies.len()
            ));
            s
        }
    };
    print_stdout(&out)
}

pub(crate) fn print_stdout(s: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // A closed pipe (`| head`) is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::runtime(format!("cannot write to stdout: {e}"))),
    }
}

/// How a command treats existing results and what it prints.
#[derive(Debug, Clone, Copy)]
pub struct Display {
    /// Replace existing results.
    pub force: bool,
    pub format: Format,
    /// Print nothing but errors.
    pub quiet: bool,
}

/// The arguments of `run` as given.
pub struct RunArgs {
    pub scenario: PathBuf,
    pub output: Option<PathBuf>,
    pub sampling: Sampling,
    pub strategies: Vec<String>,
    pub focus: Vec<String>,
    pub attribution: bool,
    pub all_charts: bool,
    pub shard: Option<String>,
    pub shards: Option<u64>,
}

/// Where a run's results go.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOutput {
    /// The summary JSON on stdout (`-o -`).
    Stdout,
    /// Every file, in this directory.
    Dir(PathBuf),
    /// One shard's part file, in this directory.
    Part(PathBuf, crate::shard::ShardSpec),
}

/// A `run`, resolved and validated against its scenario.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The scenario file, for part headers.
    pub scenario: PathBuf,
    pub trials: u64,
    pub seed: u64,
    pub threads: Option<usize>,
    /// Indices into the study's strategies.
    pub strategies: Vec<usize>,
    /// The importers totals count, if not the default.
    pub focus: Option<Vec<String>>,
    pub attribution: bool,
    pub all_charts: bool,
    pub output: RunOutput,
    pub display: Display,
}

impl RunOptions {
    /// Defaults from the scenario; trials, strategy ids, the shard (flag or scheduler
    /// environment) and existing results checked.
    pub fn resolve(
        a: RunArgs,
        study: &crate::model::Study,
        display: Display,
    ) -> Result<RunOptions, Failure> {
        let trials = a.sampling.trials.unwrap_or(study.baseline.trials);
        let seed = a.sampling.seed.unwrap_or(study.baseline.seed);
        if trials == 0 {
            return Err(Failure::invalid("error: --trials must be at least 1"));
        }
        let strategies = if a.strategies.is_empty() {
            (0..study.strategies.len()).collect()
        } else {
            a.strategies
                .iter()
                .map(|id| strategy_index(study, id))
                .collect::<Result<Vec<usize>, Failure>>()?
        };
        let focus = focus_ids(study, &a.focus)?;
        let dir = a.output.clone().unwrap_or_else(|| {
            PathBuf::from("out").join(a.scenario.file_stem().unwrap_or_default())
        });
        let shard = match &a.shard {
            Some(spec) => Some(
                crate::shard::parse_spec(spec)
                    .map_err(|e| Failure::invalid(format!("error: {e}")))?,
            ),
            None => crate::shard::from_env(&|k| std::env::var(k).ok(), a.shards)
                .map_err(|e| Failure::invalid(format!("error: {e}")))?,
        };
        let output = match shard {
            Some(_) if dir.as_os_str() == "-" => {
                return Err(Failure::invalid(
                    "error: a shard writes a part file into a directory, not to stdout\n  hint: give the parts' directory with -o DIR",
                ))
            }
            Some(sh) => RunOutput::Part(dir, sh),
            None if dir.as_os_str() == "-" => RunOutput::Stdout,
            None => {
                output::check_dir(&dir, display.force).map_err(write_failure)?;
                RunOutput::Dir(dir)
            }
        };
        Ok(RunOptions {
            scenario: a.scenario,
            trials,
            seed,
            threads: a.sampling.threads.map(usize::from),
            strategies,
            focus,
            attribution: a.attribution,
            all_charts: a.all_charts,
            output,
            display,
        })
    }
}

/// `--focus` checked against the scenario: `None` when not given; each id once, in the order
/// given; an unknown id is an error with the importers there are.
pub fn focus_ids(
    study: &crate::model::Study,
    given: &[String],
) -> Result<Option<Vec<String>>, Failure> {
    if given.is_empty() {
        return Ok(None);
    }
    let ids: Vec<&str> = study
        .baseline
        .importers
        .iter()
        .map(|i| i.id.as_str())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for id in given {
        let id = id.trim();
        if !ids.contains(&id) {
            let hint = crate::diag::did_you_mean(id, ids.iter().copied()).map_or_else(
                || format!("importers in this scenario: {}", ids.join(", ")),
                |b| format!("did you mean `{b}`?"),
            );
            return Err(Failure::invalid(format!(
                "error: --focus names unknown importer `{id}`\n  hint: {hint}"
            )));
        }
        if !out.iter().any(|o| o == id) {
            out.push(id.to_owned());
        }
    }
    Ok(Some(out))
}

/// The index of strategy `id`, or an error with a hint.
pub(crate) fn strategy_index(study: &crate::model::Study, id: &str) -> Result<usize, Failure> {
    study
        .strategies
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| {
            let ids: Vec<&str> = study.strategies.iter().map(|s| s.id.as_str()).collect();
            let hint = crate::diag::did_you_mean(id, ids.iter().copied()).map_or_else(
                || format!("strategies in this scenario: {}", ids.join(", ")),
                |b| format!("did you mean `{b}`?"),
            );
            Failure::invalid(format!("error: unknown strategy `{id}`\n  hint: {hint}"))
        })
}

fn run_cmd(loaded: &Loaded, o: &RunOptions) -> Result<(), Failure> {
    let study = &loaded.study;
    let trials = o.trials;
    if !o.display.quiet && trials < 10_000 {
        eprintln!("warning: {trials} trials leave {} beyond the 99th percentile: P99 and CVaR99 are unstable\n  hint: use --trials 10000 or more (100 trials beyond P99) for a stable tail", trials / 100);
    }
    let plan = Plan::new(study, &o.strategies);
    let (blocks, sums) = match &o.output {
        RunOutput::Part(_, sh) => (sh.blocks(trials), Sums::PerBlock),
        _ => (0..n_blocks(trials), Sums::Folded),
    };
    let acc = execute(
        &plan,
        trials,
        o.seed,
        blocks,
        sums,
        o.threads,
        o.display.quiet,
    )?;
    match &o.output {
        RunOutput::Part(dir, sh) => write_part(loaded, o, &plan, &acc, dir, *sh),
        RunOutput::Stdout => emit(
            &RunResults::new(study, &o.strategies, acc, trials, o.seed)
                .with_focus(o.focus.clone())
                .with_attribution(o.attribution)
                .with_all_charts(o.all_charts)
                .with_threads(o.threads),
            Path::new("-"),
            &o.display,
        ),
        RunOutput::Dir(dir) => emit(
            &RunResults::new(study, &o.strategies, acc, trials, o.seed)
                .with_focus(o.focus.clone())
                .with_attribution(o.attribution)
                .with_all_charts(o.all_charts)
                .with_threads(o.threads),
            dir,
            &o.display,
        ),
    }
}

/// Write one shard's part file into `dir`.
fn write_part(
    loaded: &Loaded,
    o: &RunOptions,
    plan: &Plan,
    acc: &crate::runner::Accumulated,
    dir: &Path,
    sh: crate::shard::ShardSpec,
) -> Result<(), Failure> {
    let blocks = sh.blocks(o.trials);
    let header = crate::shard::PartHeader {
        schema: crate::shard::PART_SCHEMA.into(),
        program_version: env!("CARGO_PKG_VERSION").into(),
        scenario_file: crate::shard::file_label(&o.scenario),
        scenario_sha256: crate::shard::sha256_hex(loaded.source.text.as_bytes()),
        scenario_text: loaded.source.text.clone(),
        seed: o.seed,
        trials: o.trials,
        strategies: plan.ids[1..].to_vec(),
        shard: sh.index,
        shards: sh.count,
        blocks: [blocks.start, blocks.end],
        sha256: String::new(),
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::runtime(format!("error: cannot create {}: {e}", dir.display())))?;
    let path = dir.join(sh.file_name());
    if !o.display.force && !crate::shard::same_run_or_absent(&path, &header) {
        return Err(Failure::invalid(format!(
            "error: part file {} already exists and holds another run's results\n  hint: write this run's parts to another directory with -o, or pass --force to replace it",
            path.display()
        )));
    }
    output::write_file(&path, &crate::shard::encode(&header, acc))
        .map_err(|e| Failure::runtime(format!("error: {e}")))?;
    if !o.display.quiet {
        eprintln!(
            "wrote {} (shard {} of {}, blocks {}..{}); combine all parts with `supplyshock merge`",
            path.display(),
            sh.index,
            sh.count,
            blocks.start,
            blocks.end
        );
    }
    Ok(())
}

/// An output directory that holds results, or anything supplyshock did not write, is invalid
/// input (exit 2, with the fix); anything else failed.
pub(crate) fn write_failure(e: output::WriteError) -> Failure {
    let text = format!("error: {e}\n  hint: {}", e.hint());
    match e {
        output::WriteError::Exists(_) | output::WriteError::Foreign { .. } => {
            Failure::invalid(text)
        }
        output::WriteError::Io { .. } | output::WriteError::NonFinite { .. } => {
            Failure::runtime(text)
        }
    }
}

/// Summarize, write the output directory (or the summary to stdout for `-`), print the summary.
pub(crate) fn emit(r: &RunResults, out_dir: &Path, d: &Display) -> Result<(), Failure> {
    let summary = r.summary();
    if out_dir.as_os_str() == "-" {
        let json = report::summary_json(&summary);
        return print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8"));
    }
    output::write_dir(out_dir, &output::run_files(r, &summary), d.force).map_err(write_failure)?;
    if !d.quiet {
        let text = match d.format {
            Format::Table => render_summary(&summary, out_dir),
            Format::Json => {
                String::from_utf8(report::summary_json(&summary)).expect("JSON is UTF-8")
            }
        };
        print_stdout(&text)?;
    }
    Ok(())
}

fn merge(
    parts: &[PathBuf],
    output: &Path,
    report: &ReportArgs,
    d: &Display,
) -> Result<(), Failure> {
    let read =
        crate::shard::read_parts(parts).map_err(|e| Failure::invalid(format!("error: {e}")))?;
    let m = crate::shard::merge_parts(read).map_err(|e| Failure::invalid(format!("error: {e}")))?;
    let focus = focus_ids(&m.loaded.study, &report.focus)?;
    emit(
        &RunResults::new(
            &m.loaded.study,
            &m.strategies,
            m.acc,
            m.header.trials,
            m.header.seed,
        )
        .with_focus(focus)
        .with_attribution(report.attribution)
        .with_all_charts(report.charts == ChartSet::All),
        output,
        d,
    )
}

/// Node-steps a worker computes per second, on the slow side: the flagship's engine ran at
/// about 9e7 per second on one busy core, markets apart, when this was set.
const NODE_STEPS_PER_SECOND: f64 = 5.0e7;

/// Market-steps (a material's market in one trial and step) a worker clears per second, on
/// top of the node-steps, on the slow side: when this was set, the flagship at 240 trials on
/// one thread took 8.7 s, which less its 1.9e8 node-steps at the rate above leaves about 3.8e6
/// market-steps per second (every strategy stepped beside the baseline).
const MARKET_STEPS_PER_SECOND: f64 = 2.0e6;

/// Refuse a run that cannot fit in memory (exit 2, with the fix); announce a long one.
fn check_fits(
    need: crate::runner::Estimate,
    available: Option<f64>,
    workers: usize,
    quiet: bool,
) -> Result<(), Failure> {
    let gb = |b: f64| match b / 1e9 {
        g if g < 1e4 => format!("{g:.1} GB"),
        g => format!("{g:.1e} GB"),
    };
    if let Some(avail) = available {
        if need.bytes > avail {
            return Err(Failure::invalid(format!(
                "error: this run needs about {} of memory, and {} is available\n  hint: fewer trials per machine (--trials, or --shard K/N and merge), fewer strategies (--strategy ID, repeated), fewer --threads, a longer step_days or a shorter horizon_days",
                gb(need.bytes),
                gb(avail)
            )));
        }
    }
    let seconds = (need.node_steps / NODE_STEPS_PER_SECOND
        + need.market_steps / MARKET_STEPS_PER_SECOND)
        / workers as f64;
    if seconds > 60.0 && !quiet {
        let time = if seconds < 3600.0 * 48.0 {
            format!("{:.0} minutes", (seconds / 60.0).ceil())
        } else {
            format!("{:.0} days", (seconds / 86_400.0).ceil())
        };
        eprintln!(
            "note: a long run: about {:.1e} node-steps and {:.1e} market-steps, roughly {time} at most on {workers} thread{}, and {} of memory; stop it with Ctrl-C (the output directory is only written at the end)",
            need.node_steps,
            need.market_steps,
            if workers == 1 { "" } else { "s" },
            gb(need.bytes)
        );
    }
    Ok(())
}

/// Memory the system can give this process, in bytes, where it says (Linux).
fn available_memory() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// Run every trial of `plan` on `threads` workers, with a progress bar on a terminal.
pub(crate) fn execute(
    plan: &Plan,
    trials: u64,
    seed: u64,
    blocks: std::ops::Range<u64>,
    sums: crate::runner::Sums,
    threads: Option<usize>,
    quiet: bool,
) -> Result<crate::runner::Accumulated, Failure> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start worker threads: {e}")))?;
    let workers = pool.current_num_threads();
    let need = crate::runner::estimate(plan, trials, blocks.clone(), workers);
    check_fits(need, available_memory(), workers, quiet)?;
    let progress = AtomicU64::new(0);
    let show_bar = !quiet
        && std::io::stderr().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
    let done = std::sync::atomic::AtomicBool::new(false);
    let acc = std::thread::scope(|scope| {
        if show_bar {
            let bar = indicatif::ProgressBar::new(
                (blocks.end.min(n_blocks(trials)) - blocks.start)
                    * crate::runner::block_size(trials).min(trials),
            );
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} {bar:40} {pos}/{len} trials  {per_sec}  ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            let (p, d) = (&progress, &done);
            scope.spawn(move || {
                while !d.load(Ordering::Relaxed) {
                    bar.set_position(p.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            });
        }
        let acc =
            pool.install(|| run_blocks(plan, trials, seed, blocks.clone(), sums, Some(&progress)));
        done.store(true, Ordering::Relaxed);
        acc
    });
    Ok(acc)
}

/// One screen: per variant (by id, as `--strategies` takes it) and importer (by name),
/// value-weighted fill, shortage probability, expected loss (split into its unmet and price
/// parts where a price moved) and its tail, and each strategy's paired change in expected loss;
/// then where the files are.
pub(crate) fn render_summary(s: &Summary, dir: &Path) -> String {
    let c = s.currency.as_str();
    let mut out = format!(
        "{}: {} trials, seed {}, {} days\n\n",
        s.scenario, s.trials, s.seed, s.horizon_days
    );
    // Where a price moved, the expected loss is split into its unmet and price parts.
    let priced = s
        .variants
        .iter()
        .flat_map(|v| &v.importers)
        .any(|im| im.metrics.extra_spend.mean != 0.0 || im.metrics.surplus_lost.mean != 0.0);
    let mut cols = vec![
        ("variant", Align::Left),
        ("importer", Align::Left),
        ("value fill", Align::Right),
        ("P(short)", Align::Right),
        ("E[loss]", Align::Right),
    ];
    if priced {
        cols.extend([("unmet", Align::Right), ("price", Align::Right)]);
    }
    cols.extend([
        ("CVaR95", Align::Right),
        ("dE[loss] (95% CI)", Align::Right),
        ("cost/yr", Align::Right),
    ]);
    let mut t = Table::new(&cols);
    for v in &s.variants {
        for im in &v.importers {
            let m = &im.metrics;
            let diff = im.vs_baseline.as_ref().map(|d| d.loss_value);
            let mut row = vec![
                v.id.clone(),
                im.name.clone(),
                crate::format::percent_pm(m.value_fill_rate.mean, m.value_fill_rate.se),
                crate::format::percent(m.p_shortage.mean),
                money_terse(m.loss_value.mean, c),
            ];
            if priced {
                row.push(money_terse(m.unmet_loss.mean, c));
                row.push(money_terse(m.extra_spend.mean + m.surplus_lost.mean, c));
            }
            row.extend([
                money_terse(im.loss_cvar95, c),
                diff.map_or(String::new(), |d| {
                    format!(
                        "{} [{}, {}]",
                        money_terse(d.mean, c),
                        money_terse(d.low(), c),
                        money_terse(d.high(), c)
                    )
                }),
                v.yearly_cost
                    .as_ref()
                    .map_or(String::new(), |k| money_terse(k.total, c)),
            ]);
            t.row(row);
        }
    }
    out.push_str(&t.render());
    out.push_str(&format!("\nReport with charts: {}/report.md, and as one page for e-mail report.html (every metric per material: summary.json, metrics.csv; resilience curves: curves.csv{})\n", dir.display(), if priced { "; price curves: prices.csv" } else { "" }));
    out
}

const STARTER: &str = include_str!("../../scenarios/starter.toml");

fn init(path: &Path, force: bool, quiet: bool) -> Result<(), Failure> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent.filter(|p| !p.is_dir()) {
        return Err(Failure::invalid(format!(
            "error: cannot write {}: directory {} does not exist\n  hint: create it first (mkdir -p {}), or choose another path",
            path.display(),
            dir.display(),
            dir.display()
        )));
    }
    if path.exists() && !force {
        return Err(Failure::invalid(format!(
            "error: {} already exists\n  hint: choose another name or pass --force",
            path.display()
        )));
    }
    let name = path
        .file_stem()
        .map_or("my scenario".into(), |s| s.to_string_lossy().into_owned());
    let text = STARTER.replace("Starter scenario", &name);
    output::write_file(path, text.as_bytes())
        .map_err(|e| Failure::runtime(format!("error: {e}")))?;
    if !quiet {
        eprintln!(
            "wrote {}: edit it, then `supplyshock check {}`",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
