//! `supplyshock sweep`: one parameter over a list of values, on common random numbers. The
//! variants are [`crate::sweep::variants`]; this module resolves the arguments, runs them and
//! prints the table.

use std::path::PathBuf;

use std::collections::BTreeMap;

use super::{execute, load_scenario, print_stdout, Display, Failure, Format, Sampling};
use crate::format::{compact, count, money_pm, money_terse, percent, percent_pm};
use crate::model::{stock_value_change, Cost};
use crate::output;
use crate::report::{self, Summary};
use crate::runner::Plan;
use crate::sweep::{as_written, parse, unit, variants, Sweep, SweepInfo, VariantError};
use crate::table::{Align, Table};

/// A `sweep`, resolved and validated.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    pub scenario: PathBuf,
    pub sweep: Sweep,
    /// `--carry-rate`: the yearly cost of stock held over the scenario as written, as a share
    /// of its value.
    pub carry_rate: Option<f64>,
    /// `--focus`, as given (checked against the scenario once it is loaded).
    pub focus: Vec<String>,
    pub sampling: Sampling,
    /// Directory for sweep.json, sweep.csv and the chart (`-`: the summary JSON on stdout).
    pub output: Option<PathBuf>,
    pub display: Display,
}

impl SweepOptions {
    pub fn resolve(
        scenario: PathBuf,
        set: &str,
        (carry_rate, focus): (Option<f64>, Vec<String>),
        sampling: Sampling,
        output: Option<PathBuf>,
        display: Display,
    ) -> Result<SweepOptions, Failure> {
        let sweep = parse(set).map_err(|e| Failure::invalid(format!("error: {e}")))?;
        if let Some(r) = carry_rate.filter(|r| !(r.is_finite() && *r >= 0.0)) {
            return Err(Failure::invalid(format!(
                "error: --carry-rate must be a yearly share of the stock's value, 0 or more \
                 (e.g. 0.08), found {r}"
            )));
        }
        if let Some(dir) = output.as_ref().filter(|d| d.as_os_str() != "-") {
            crate::output::check_dir(dir, display.force).map_err(super::write_failure)?;
        }
        Ok(SweepOptions {
            scenario,
            sweep,
            carry_rate,
            focus,
            sampling,
            output,
            display,
        })
    }
}

/// The yearly cost of each swept value's stock over the scenario as written (None without a
/// carry rate): paid by the importer whose key is swept, else not assigned.
fn costs(
    base: &crate::model::Model,
    swept: &[(String, crate::model::Model)],
    key: &str,
    carry_rate: Option<f64>,
) -> Vec<Option<Cost>> {
    let payer = match key.split('.').collect::<Vec<_>>().as_slice() {
        ["importer", id, ..] => Some((*id).to_owned()),
        _ => None,
    };
    let mut out = vec![None];
    out.extend(swept.iter().map(|(_, m)| {
        let rate = carry_rate?;
        let carrying = rate * stock_value_change(base, m);
        let (by_importer, unassigned) = match &payer {
            Some(id) => (BTreeMap::from([(id.clone(), carrying)]), 0.0),
            None => (BTreeMap::new(), carrying),
        };
        Some(Cost {
            carrying,
            premium: 0.0,
            fixed: 0.0,
            total: carrying,
            by_importer,
            unassigned,
        })
    }));
    out
}

pub fn sweep(o: &SweepOptions) -> Result<(), Failure> {
    let (spec, quiet) = (&o.sweep, o.display.quiet);
    let loaded = load_scenario(&o.scenario, quiet)?;
    let base = &loaded.study.baseline;
    let focus = super::focus_ids(&loaded.study, &o.focus)?;
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
    let plan = Plan::from_models(all, ids.clone()).with_focus(focus);
    let acc = execute(
        &plan,
        trials,
        seed,
        0..crate::runner::n_blocks(trials),
        crate::runner::Sums::Folded,
        o.sampling.threads.map(usize::from),
        quiet,
    )?;
    let costs = costs(base, &swept, &spec.key, o.carry_rate);
    let mut summary = report::summarize(&plan, &costs, &ids, &acc, trials, seed);
    summary.sweep = Some(SweepInfo {
        key: spec.key.clone(),
        unit: unit(&spec.key),
        values: spec.values.clone(),
        as_written: as_written(&loaded.raw, &spec.key),
        carry_rate: o.carry_rate,
    });
    let json = report::summary_json(&summary);
    match &o.output {
        Some(d) if d.as_os_str() == "-" => {
            return print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8"))
        }
        Some(dir) => {
            let files = output::sweep_files(&summary);
            output::write_dir(dir, &files, o.display.force).map_err(super::write_failure)?;
        }
        None => {}
    }
    if quiet {
        return Ok(());
    }
    match o.display.format {
        Format::Json => print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8")),
        Format::Table => print_stdout(&render(&summary)),
    }
}

/// The value as the table prints it, marked where it is the scenario as written.
fn value_cell(x: f64, info: &SweepInfo) -> String {
    if info.as_written == Some(x) {
        format!("{} (as written)", compact(x))
    } else {
        compact(x)
    }
}

/// The terminal table: totals per value against the scenario as written (cost and net benefit
/// with a carry rate), then the importer-material rows some value changes.
fn render(summary: &Summary) -> String {
    let info = summary.sweep.as_ref().expect("a sweep's summary");
    let cur = &summary.currency;
    let as_written = match info.as_written {
        Some(x) => format!("{} {}", compact(x), info.unit),
        None => "not one number (a default or a distribution)".to_owned(),
    };
    let mut out = format!(
        "{}: {} ({}) = each value, {} trials, seed {}, common random numbers\n\
         As written: {as_written}. Totals count {}. Changes are paired with the scenario as \
         written; ± is the 95% interval.\n\n",
        summary.scenario,
        info.key,
        info.unit,
        count(summary.trials),
        summary.seed,
        if summary.totals_cover.is_empty() {
            "no importer".to_owned()
        } else {
            summary.totals_cover.join(", ")
        },
    );
    let base = &summary.variants[0];
    let mut cols = vec![
        ("value", Align::Left),
        ("E[total loss]", Align::Right),
        ("change vs as written", Align::Right),
    ];
    let priced = info.carry_rate.is_some();
    if priced {
        cols.extend([
            ("yearly cost", Align::Right),
            ("net benefit over the horizon", Align::Right),
        ]);
    }
    let mut t = Table::new(&cols);
    if !info.values.iter().any(|&x| Some(x) == info.as_written) {
        let mut row = vec![
            format!(
                "{} (as written)",
                info.as_written.map_or("-".to_owned(), compact)
            ),
            money_terse(base.total_loss.mean, cur),
            "-".to_owned(),
        ];
        if priced {
            row.extend(["-".to_owned(), "-".to_owned()]);
        }
        t.row(row);
    }
    for (i, v) in summary.variants.iter().enumerate().skip(1) {
        let d = v.total_loss_vs_baseline.expect("a swept variant is paired");
        let mut row = vec![
            value_cell(info.values[i - 1], info),
            money_terse(v.total_loss.mean, cur),
            money_pm(d.mean, 1.96 * d.se, cur),
        ];
        if priced {
            let cost = v.counted_yearly_cost.unwrap_or(0.0);
            let net = -d.mean - cost * summary.cost_years;
            row.extend([money_terse(cost, cur), money_pm(net, 1.96 * d.se, cur)]);
        }
        t.row(row);
    }
    out.push_str(&t.render());
    if priced {
        out.push_str(&format!(
            "\nYearly cost: the stock held over the scenario as written at {} of its value a \
             year (negative: stock released). Net benefit: loss avoided minus that cost over the \
             horizon ({} of the yearly cost).\n",
            crate::format::percent(info.carry_rate.unwrap_or(0.0)),
            match compact(summary.cost_years).as_str() {
                "1" => "one year".to_owned(),
                y => format!("{y} years"),
            }
        ));
    }
    // Importer-material rows, the counted importers', where some value moves the expected loss.
    let n_slots = base.slots.len();
    let moved: Vec<usize> = (0..n_slots)
        .filter(|&k| summary.totals_cover.contains(&base.slots[k].importer))
        .filter(|&k| {
            summary.variants.iter().skip(1).any(|v| {
                v.slots[k]
                    .vs_baseline
                    .as_ref()
                    .is_some_and(|d| d.loss_value.mean != 0.0)
            })
        })
        .collect();
    let counted = (0..n_slots)
        .filter(|&k| summary.totals_cover.contains(&base.slots[k].importer))
        .count();
    let mut t = Table::new(&[
        ("value", Align::Left),
        ("importer", Align::Left),
        ("material", Align::Left),
        ("fill rate", Align::Right),
        ("P(short)", Align::Right),
        ("E[loss]", Align::Right),
        ("change vs as written", Align::Right),
    ]);
    for &k in &moved {
        for (i, v) in summary.variants.iter().enumerate().skip(1) {
            let sl = &v.slots[k];
            let m = &sl.metrics;
            let d = sl.vs_baseline.as_ref().map(|d| d.loss_value);
            t.row(vec![
                value_cell(info.values[i - 1], info),
                sl.importer.clone(),
                sl.material.clone(),
                percent_pm(m.fill_rate.mean, m.fill_rate.se),
                percent(m.p_shortage.mean),
                money_terse(m.loss_value.mean, cur),
                d.map_or(String::new(), |d| money_pm(d.mean, 1.96 * d.se, cur)),
            ]);
        }
    }
    if moved.is_empty() {
        out.push_str("\nNo value changes any counted importer's expected loss.\n");
    } else {
        out.push('\n');
        out.push_str(&t.render());
    }
    if counted > moved.len() {
        out.push_str(&format!(
            "\n{} other importer-material pairs counted are unchanged by every value (every \
             row, balancing importers' too: sweep.csv and sweep.json with -o).\n",
            counted - moved.len()
        ));
    }
    out
}
