//! `supplyshock sweep`: one parameter over a list of values, on common random numbers. The
//! variants are [`crate::sweep::variants`]; this module resolves the arguments, runs them and
//! prints the table.

use std::path::PathBuf;

use super::{execute, load_scenario, print_stdout, Display, Failure, Format, Sampling};
use crate::format::money_terse;
use crate::output;
use crate::report;
use crate::runner::Plan;
use crate::sweep::{parse, variants, Sweep, VariantError};
use crate::table::{Align, Table};

/// A `sweep`, resolved and validated.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub scenario: PathBuf,
    pub sweep: Sweep,
    pub sampling: Sampling,
    /// Directory for sweep.json, sweep.csv and the chart (`-`: the summary JSON on stdout).
    pub output: Option<PathBuf>,
    pub display: Display,
}

impl SweepOptions {
    pub fn resolve(
        scenario: PathBuf,
        set: &str,
        sampling: Sampling,
        output: Option<PathBuf>,
        display: Display,
    ) -> Result<SweepOptions, Failure> {
        let sweep = parse(set).map_err(|e| Failure::invalid(format!("error: {e}")))?;
        if let Some(dir) = output.as_ref().filter(|d| d.as_os_str() != "-") {
            crate::output::check_dir(dir, display.force).map_err(super::write_failure)?;
        }
        Ok(SweepOptions {
            scenario,
            sweep,
            sampling,
            output,
            display,
        })
    }
}

pub fn sweep(o: &SweepOptions) -> Result<(), Failure> {
    let (spec, quiet) = (&o.sweep, o.display.quiet);
    let loaded = load_scenario(&o.scenario, quiet)?;
    let base = &loaded.study.baseline;
    let trials = o.sampling.trials.unwrap_or(base.trials);
    if trials == 0 {
        return Err(Failure::invalid("error: --trials must be at least 1"));
    }
    let seed = o.sampling.seed.unwrap_or(base.seed);
    let swept = variants(&loaded, spec).map_err(|e| match e {
        VariantError::Key(e) => Failure::invalid(format!("error: {e}")),
        VariantError::Scenario(d) => d.into(),
    })?;
    let mut all = vec![base];
    all.extend(swept.iter().map(|(_, m)| m));
    let mut ids = vec!["baseline".to_owned()];
    ids.extend(swept.iter().map(|(label, _)| label.clone()));
    let plan = Plan::from_models(all, ids.clone());
    let acc = execute(
        &plan,
        trials,
        seed,
        0..crate::runner::n_blocks(trials),
        o.sampling.threads.map(usize::from),
        quiet,
    )?;
    let costs = vec![None; ids.len()];
    let summary = report::summarize(&plan, &costs, &ids, &acc, trials, seed);
    let json = report::summary_json(&summary);
    match &o.output {
        Some(d) if d.as_os_str() == "-" => {
            return print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8"))
        }
        Some(dir) => {
            let files = output::sweep_files(&summary, &spec.key, &spec.values);
            output::write_dir(dir, &files, o.display.force).map_err(super::write_failure)?;
        }
        None => {}
    }
    if quiet {
        return Ok(());
    }
    match o.display.format {
        Format::Json => print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8")),
        Format::Table => {
            let mut out = format!(
                "{}: {} = each value, {trials} trials, seed {seed}, common random numbers\n\n",
                summary.scenario, spec.key
            );
            // Where a price moved, the expected loss is split into its unmet and price parts.
            let priced = summary
                .variants
                .iter()
                .flat_map(|v| &v.slots)
                .any(|sl| sl.metrics.price_loss() != 0.0);
            let mut cols = vec![
                ("value", Align::Left),
                ("importer", Align::Left),
                ("material", Align::Left),
                ("fill rate", Align::Right),
                ("P(short)", Align::Right),
                ("E[loss]", Align::Right),
            ];
            if priced {
                cols.extend([("unmet", Align::Right), ("price", Align::Right)]);
            }
            cols.push(("dE[loss] vs baseline", Align::Right));
            let mut t = Table::new(&cols);
            let cur = &summary.currency;
            for (i, v) in summary.variants.iter().enumerate().skip(1) {
                for sl in &v.slots {
                    let m = &sl.metrics;
                    let d = sl.vs_baseline.as_ref().map(|d| d.loss_value);
                    let mut row = vec![
                        spec.values[i - 1].to_string(),
                        sl.importer.clone(),
                        sl.material.clone(),
                        format!("{:.4} ± {:.4}", m.fill_rate.mean, m.fill_rate.se),
                        format!("{:.3}", m.p_shortage.mean),
                        money_terse(m.loss_value.mean, cur),
                    ];
                    if priced {
                        row.push(money_terse(m.unmet_loss.mean, cur));
                        row.push(money_terse(m.price_loss(), cur));
                    }
                    row.push(d.map_or(String::new(), |d| {
                        format!(
                            "{} ± {}",
                            money_terse(d.mean, cur),
                            money_terse(1.96 * d.se, cur)
                        )
                    }));
                    t.row(row);
                }
            }
            out.push_str(&t.render());
            print_stdout(&out)
        }
    }
}
