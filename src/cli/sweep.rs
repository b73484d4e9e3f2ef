//! `supplyshock sweep`: one parameter over a list of values, on common random numbers.

use std::path::Path;

use super::{execute, load_scenario, print_stdout, Failure, Format, Sampling};
use crate::model::variant;
use crate::report::{self, write_dir};
use crate::runner::Plan;
use crate::sweep::{changes_for, parse};

#[allow(clippy::too_many_arguments)] // one per command-line flag
pub fn sweep(
    path: &Path,
    set: &str,
    sampling: Sampling,
    output: Option<&Path>,
    force: bool,
    format: Format,
    quiet: bool,
) -> Result<(), Failure> {
    let spec = parse(set).map_err(|e| Failure::invalid(format!("error: {e}")))?;
    let loaded = load_scenario(path, quiet)?;
    let base = &loaded.study.baseline;
    let trials = sampling.trials.unwrap_or(base.trials);
    let seed = sampling.seed.unwrap_or(base.seed);
    let mut models = Vec::new();
    let mut labels = Vec::new();
    for &v in &spec.values {
        let label = format!("{}={v}", spec.key);
        let changes =
            changes_for(&spec.key, v).map_err(|e| Failure::invalid(format!("error: {e}")))?;
        let m = variant(&loaded.raw, &loaded.source, &changes, &label)?;
        models.push(m);
        labels.push(label);
    }
    let mut all = vec![base];
    all.extend(models.iter());
    let mut ids = vec!["baseline".to_owned()];
    ids.extend(labels.iter().cloned());
    let plan = Plan::from_models(all, ids.clone());
    let acc = execute(
        &plan,
        trials,
        seed,
        0..crate::runner::n_blocks(trials),
        sampling.threads,
        quiet,
    )?;
    let costs = vec![None; ids.len()];
    let summary = report::summarize(&plan, &costs, &ids, &acc, trials);
    let json = report::summary_json(&summary);
    match output {
        Some(d) if d.as_os_str() == "-" => {
            return print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8"))
        }
        Some(dir) => {
            let mut files = vec![
                ("sweep.json".to_owned(), json.clone()),
                ("sweep.csv".to_owned(), report::metrics_csv(&summary)),
            ];
            files.extend(crate::plot::sweep_chart(&summary, &spec.key, &spec.values));
            write_dir(dir, &files, force).map_err(super::write_failure)?;
        }
        None => {}
    }
    if quiet {
        return Ok(());
    }
    match format {
        Format::Json => print_stdout(std::str::from_utf8(&json).expect("JSON is UTF-8")),
        Format::Table => {
            let mut out = format!(
                "{}: {} = each value, {trials} trials, seed {seed}, common random numbers\n\n",
                summary.scenario, spec.key
            );
            out.push_str(&format!(
                "{:<12} {:<10} {:<20} {:>16} {:>10} {:>14} {:>22}\n",
                "value",
                "importer",
                "material",
                "fill rate",
                "P(short)",
                "E[loss]",
                "dE[loss] vs baseline"
            ));
            for (i, v) in summary.variants.iter().enumerate().skip(1) {
                for sl in &v.slots {
                    let d = sl.vs_baseline.as_ref().map(|d| d.loss_value);
                    out.push_str(&format!(
                        "{:<12} {:<10} {:<20} {:>8.4}±{:<7.4} {:>10.3} {:>14} {:>22}\n",
                        spec.values[i - 1],
                        sl.importer,
                        sl.material,
                        sl.metrics.fill_rate.mean,
                        sl.metrics.fill_rate.se,
                        sl.metrics.p_shortage.mean,
                        super::human_money(sl.metrics.loss_value.mean, &summary.currency),
                        d.map_or(String::new(), |d| format!(
                            "{} ±{}",
                            super::human_money(d.mean, &summary.currency),
                            super::human_money(1.96 * d.se, &summary.currency)
                        ))
                    ));
                }
            }
            print_stdout(&out)
        }
    }
}
