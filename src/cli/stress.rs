//! `supplyshock stress`: deterministic removals, time to survive and to recover, ranking. The
//! work is [`crate::stress::run`]; this module resolves the arguments and prints the table.

use std::path::PathBuf;

use super::{load_scenario, print_stdout, Display, Failure, Format};
use crate::format::money_terse;
use crate::output;
use crate::stress::{Removals, Stress, StressResult};
use crate::table::{Align, Table};

/// A `stress`, resolved and validated.
#[derive(Debug, Clone)]
pub struct StressOptions {
    pub scenario: PathBuf,
    pub removals: Removals,
    /// How long each removal lasts (positive), whom it bans, whom it counts.
    pub spec: Stress,
    /// Directory for stress.json, stress.csv and the chart (`-`: none).
    pub output: Option<PathBuf>,
    pub display: Display,
}

impl StressOptions {
    pub fn resolve(
        scenario: PathBuf,
        removals: Removals,
        spec: Stress,
        output: Option<PathBuf>,
        display: Display,
    ) -> Result<StressOptions, Failure> {
        let days = spec.days;
        if !(days.is_finite() && days > 0.0) {
            return Err(Failure::invalid(format!(
                "error: --days must be a positive number of days, found {days}"
            )));
        }
        let output = output.filter(|d| d.as_os_str() != "-");
        if let Some(dir) = &output {
            output::check_dir(dir, display.force).map_err(super::write_failure)?;
        }
        Ok(StressOptions {
            scenario,
            removals,
            spec,
            output,
            display,
        })
    }
}

pub fn stress(o: &StressOptions) -> Result<(), Failure> {
    let loaded = load_scenario(&o.scenario, o.display.quiet)?;
    let base = &loaded.study.baseline;
    let result = crate::stress::run(base, &o.removals, &o.spec)
        .map_err(|e| Failure::invalid(format!("error: {e}")))?;
    if let Some(dir) = &o.output {
        output::write_dir(dir, &output::stress_files(&result), o.display.force)
            .map_err(super::write_failure)?;
    }
    if o.display.quiet {
        return Ok(());
    }
    match o.display.format {
        Format::Json => print_stdout(std::str::from_utf8(&result.json()).expect("JSON is UTF-8")),
        Format::Table => print_stdout(&render(
            &result,
            base.currency.as_str(),
            o.removals == Removals::EachInTurn,
        )),
    }
}

/// Up to two shock ids, then how many more (every one is in stress.json).
fn shock_list(ids: &[String]) -> String {
    match ids.len() {
        0 => "none".to_owned(),
        n if n <= 2 => ids.join(", "),
        n => format!("{} +{} more", ids[..2].join(", "), n - 2),
    }
}

fn fmt_days(d: Option<f64>, none: &str) -> String {
    d.map_or_else(|| none.to_owned(), |d| format!("{d:.0}"))
}

fn render(r: &StressResult, currency: &str, ranking: bool) -> String {
    let what = if r.against.is_empty() {
        "elements removed".to_owned()
    } else {
        format!("exports banned to {}", r.against.join(", "))
    };
    let mut out = format!(
        "{}: {what} at day 0 for {} days (horizon {} days); importers counted: {}\n\n",
        r.scenario,
        r.days,
        r.horizon_days,
        if r.importers.is_empty() {
            "none".to_owned()
        } else {
            r.importers.join(", ")
        }
    );
    // Where a price moved, the loss is split into its unmet and price parts.
    let priced = r.rows.iter().any(|x| x.price_loss != 0.0);
    let loss_cols = |mut cols: Vec<(&'static str, Align)>| {
        cols.push(("loss", Align::Right));
        if priced {
            cols.extend([("unmet", Align::Right), ("price", Align::Right)]);
        }
        cols
    };
    let losses = |total: f64, unmet: f64, price: f64| {
        let mut cells = vec![money_terse(total, currency)];
        if priced {
            cells.extend([money_terse(unmet, currency), money_terse(price, currency)]);
        }
        cells
    };
    if ranking {
        let mut cols = loss_cols(vec![("rank", Align::Right), ("removed", Align::Left)]);
        cols.extend([
            ("min TTS", Align::Right),
            ("flagged", Align::Right),
            ("scenario shocks that can do this", Align::Left),
        ]);
        let mut t = Table::new(&cols);
        for (i, x) in r.removals.iter().enumerate() {
            let mut row = vec![(i + 1).to_string(), x.removed.clone()];
            row.extend(losses(x.loss_value, x.unmet_loss, x.price_loss));
            row.extend([
                fmt_days(x.min_tts_days, "never"),
                x.flagged.to_string(),
                shock_list(&x.shocks),
            ]);
            t.row(row);
        }
        out.push_str(&t.render());
        out.push('\n');
    }
    let mut cols = loss_cols(vec![
        ("removed", Align::Left),
        ("importer", Align::Left),
        ("material", Align::Left),
        ("TTS", Align::Right),
        ("TTR", Align::Right),
    ]);
    cols.push(("flag", Align::Left));
    let mut t = Table::new(&cols);
    for row in &r.rows {
        if ranking && row.tts_days.is_none() {
            continue; // the ranking already shows them; list only those that run short
        }
        let mut cells = vec![
            row.removed.clone(),
            row.importer.clone(),
            row.material.clone(),
            fmt_days(row.tts_days, "never"),
            if row.tts_days.is_none() {
                "-".to_owned()
            } else {
                fmt_days(row.ttr_days, "beyond")
            },
        ];
        cells.extend(losses(row.loss_value, row.unmet_loss, row.price_loss));
        cells.push(
            if row.flagged {
                "runs short before the element is back"
            } else {
                ""
            }
            .to_owned(),
        );
        t.row(cells);
    }
    out.push_str(&t.render());
    if !ranking {
        for x in &r.removals {
            out.push_str(&format!(
                "\nScenario shocks that can strike {}: {}.\n",
                x.removed,
                if x.shocks.is_empty() {
                    "none".to_owned()
                } else {
                    x.shocks.join(", ")
                }
            ));
        }
    }
    out.push_str("\nTTS: days from the removal to the first shortage (never: survives the whole horizon).\nTTR: days from the first shortage to sustained full service (beyond: not within the horizon).\n");
    out
}
