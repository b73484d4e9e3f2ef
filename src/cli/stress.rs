//! `supplyshock stress`: deterministic removals, time to survive and to recover, ranking.

use std::path::Path;

use serde::Serialize;

use super::{load_scenario, print_stdout, Failure, Format};
use crate::report::{self, write_dir};
use crate::runner::{run_all, Plan};
use crate::stress::{all_elements, removal, stressed, ElementKind};

/// One importer and material under one removal.
#[derive(Debug, Clone, Serialize)]
pub struct StressRow {
    pub removed: String,
    pub importer: String,
    pub material: String,
    /// Days from the removal to the first shortage; None when it never runs short.
    pub tts_days: Option<f64>,
    /// Days from the first shortage to sustained full service; None when it never ran short or
    /// had not recovered by the horizon (see `recovered`).
    pub ttr_days: Option<f64>,
    pub recovered: bool,
    pub unmet_units: f64,
    pub loss_value: f64,
    /// Runs short before the removed element comes back (TTS < removal days).
    pub flagged: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StressResult {
    pub schema: &'static str,
    pub scenario: String,
    pub days: f64,
    pub horizon_days: u32,
    pub removals: Vec<Removal>,
    pub rows: Vec<StressRow>,
}

/// A removal and what it costs in all, for the ranking (worst first).
#[derive(Debug, Clone, Serialize)]
pub struct Removal {
    pub removed: String,
    pub kind: Vec<ElementKind>,
    pub loss_value: f64,
    pub min_tts_days: Option<f64>,
    pub flagged: usize,
}

#[allow(clippy::too_many_arguments)] // one per command-line flag
pub fn stress(
    path: &Path,
    remove: &[String],
    all: bool,
    days: f64,
    output: Option<&Path>,
    force: bool,
    format: Format,
    quiet: bool,
) -> Result<(), Failure> {
    if !(days.is_finite() && days > 0.0) {
        return Err(Failure::invalid(format!(
            "error: --days must be a positive number of days, found {days}"
        )));
    }
    let loaded = load_scenario(path, quiet)?;
    let base = &loaded.study.baseline;
    // Each variant: a label and its removals.
    let sets: Vec<Vec<String>> = if all {
        all_elements(base).into_iter().map(|id| vec![id]).collect()
    } else {
        vec![remove.to_vec()]
    };
    let mut models = vec![stressed(base, Vec::new())];
    let mut labels = vec!["none".to_owned()];
    let mut kinds = vec![Vec::new()];
    for set in &sets {
        let mut shocks = Vec::new();
        let mut k = Vec::new();
        for id in set {
            let (kind, shock) =
                removal(base, id, days).map_err(|e| Failure::invalid(format!("error: {e}")))?;
            shocks.push(shock);
            k.push(kind);
        }
        models.push(stressed(base, shocks));
        labels.push(set.join("+"));
        kinds.push(k);
    }
    let plan = Plan::from_models(models.iter().collect(), labels.clone());
    // No random shock is left: one trial is exact.
    let acc = run_all(&plan, 1, 0);
    let names = labels.clone();
    let costs = vec![None; labels.len()];
    let summary = report::summarize(&plan, &costs, &names, &acc, 1);
    let mut rows = Vec::new();
    let mut removals = Vec::new();
    for (v, variant) in summary.variants.iter().enumerate().skip(1) {
        let mut total = 0.0;
        let mut min_tts: Option<f64> = None;
        let mut flagged = 0;
        for sl in &variant.slots {
            let short = sl.metrics.p_shortage.mean > 0.0;
            let tts = sl.time_to_survive_days.map(|t| t.mean);
            let ttr = sl.time_to_recover_days.map(|t| t.mean);
            let flag = tts.is_some_and(|t| t < days);
            flagged += usize::from(flag);
            total += sl.metrics.loss_value.mean;
            if let Some(t) = tts {
                min_tts = Some(min_tts.map_or(t, |m: f64| m.min(t)));
            }
            rows.push(StressRow {
                removed: variant.id.clone(),
                importer: sl.importer.clone(),
                material: sl.material.clone(),
                tts_days: tts,
                ttr_days: ttr,
                recovered: !short || ttr.is_some(),
                unmet_units: sl.metrics.unmet_units.mean,
                loss_value: sl.metrics.loss_value.mean,
                flagged: flag,
            });
        }
        removals.push(Removal {
            removed: variant.id.clone(),
            kind: kinds[v].clone(),
            loss_value: total,
            min_tts_days: min_tts,
            flagged,
        });
    }
    removals.sort_by(|a, b| {
        b.loss_value
            .total_cmp(&a.loss_value)
            .then_with(|| a.removed.cmp(&b.removed))
    });
    let result = StressResult {
        schema: "supplyshock.stress/1",
        scenario: base.name.clone(),
        days,
        horizon_days: base.horizon_days,
        removals,
        rows,
    };
    let json = {
        let mut v = serde_json::to_vec_pretty(&result).expect("stress result serializes");
        v.push(b'\n');
        v
    };
    if let Some(dir) = output {
        if dir.as_os_str() != "-" {
            let mut files = vec![
                ("stress.json".to_owned(), json.clone()),
                ("stress.csv".to_owned(), stress_csv(&result)),
            ];
            let points: Vec<_> = result
                .rows
                .iter()
                .map(|r| {
                    (
                        r.removed.clone(),
                        r.importer.clone(),
                        r.material.clone(),
                        r.tts_days,
                        r.ttr_days,
                    )
                })
                .collect();
            files.extend(crate::plot::stress_chart(
                &points,
                days,
                &format!(
                    "{}: time to survive against time to recover, elements removed for {days} days",
                    result.scenario
                ),
            ));
            write_dir(dir, &files, force).map_err(super::write_failure)?;
        }
    }
    if quiet {
        return Ok(());
    }
    match format {
        Format::Json => print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8")),
        Format::Table => print_stdout(&render(&result, base.currency.as_str(), all)),
    }
}

fn fmt_days(d: Option<f64>, none: &str) -> String {
    d.map_or_else(|| none.to_owned(), |d| format!("{d:.0}"))
}

fn render(r: &StressResult, currency: &str, ranking: bool) -> String {
    let mut out = format!(
        "{}: elements removed at day 0 for {} days (horizon {} days)\n\n",
        r.scenario, r.days, r.horizon_days
    );
    if ranking {
        out.push_str(&format!(
            "{:<4} {:<24} {:>14} {:>10} {:>8}\n",
            "rank", "removed", "loss", "min TTS", "flagged"
        ));
        for (i, x) in r.removals.iter().enumerate() {
            out.push_str(&format!(
                "{:<4} {:<24} {:>14} {:>10} {:>8}\n",
                i + 1,
                x.removed,
                super::human_money(x.loss_value, currency),
                fmt_days(x.min_tts_days, "never"),
                x.flagged
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{:<24} {:<10} {:<20} {:>8} {:>10} {:>14}  {}\n",
        "removed", "importer", "material", "TTS", "TTR", "loss", ""
    ));
    for row in &r.rows {
        if ranking && row.tts_days.is_none() {
            continue; // the ranking already shows them; list only those that run short
        }
        out.push_str(&format!(
            "{:<24} {:<10} {:<20} {:>8} {:>10} {:>14}  {}\n",
            row.removed,
            row.importer,
            row.material,
            fmt_days(row.tts_days, "never"),
            if row.tts_days.is_none() {
                "-".to_owned()
            } else {
                fmt_days(row.ttr_days, "beyond")
            },
            super::human_money(row.loss_value, currency),
            if row.flagged {
                "runs short before the element is back"
            } else {
                ""
            }
        ));
    }
    out.push_str("\nTTS: days from the removal to the first shortage (never: survives the whole horizon).\nTTR: days from the first shortage to sustained full service (beyond: not within the horizon).\n");
    out
}

fn stress_csv(r: &StressResult) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "removed",
        "importer",
        "material",
        "tts_days",
        "ttr_days",
        "recovered",
        "unmet_units",
        "loss_value",
        "flagged",
    ])
    .expect("in-memory CSV");
    let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x}"));
    for row in &r.rows {
        w.write_record([
            row.removed.clone(),
            row.importer.clone(),
            row.material.clone(),
            opt(row.tts_days),
            opt(row.ttr_days),
            row.recovered.to_string(),
            format!("{}", row.unmet_units),
            format!("{}", row.loss_value),
            row.flagged.to_string(),
        ])
        .expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}
