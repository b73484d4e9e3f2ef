//! `supplyshock whatif`: a named shock fired at a chosen day, for a chosen time and severity.
//! Alone, it is one deterministic path per variant ([`crate::whatif`]); with `--background`,
//! it is added to every trial of a Monte Carlo run, which writes what `run` writes.

use std::path::{Path, PathBuf};

use super::{
    emit, execute, focus_ids, load_scenario, print_stdout, strategy_index, write_failure, Display,
    Failure, Format, Sampling,
};
use crate::format::{display_name, fixed, money_terse};
use crate::model::{ShockKind, Timing};
use crate::output::{self, RunResults};
use crate::runner::{n_blocks, Plan};
use crate::table::{Align, Table};
use crate::whatif::{events, Firing, WhatIf};

/// The arguments of `whatif` as given.
pub struct WhatIfArgs {
    pub scenario: PathBuf,
    pub shock: String,
    pub start: Option<f64>,
    pub days: Option<f64>,
    pub severity: Option<f64>,
    pub background: bool,
    pub strategies: Vec<String>,
    pub focus: Vec<String>,
    pub attribution: bool,
    pub sampling: Sampling,
    pub output: Option<PathBuf>,
}

pub fn whatif(a: WhatIfArgs, d: Display) -> Result<(), Failure> {
    let loaded = load_scenario(&a.scenario, d.quiet)?;
    let study = &loaded.study;
    let base = &study.baseline;
    let firing = firing(base, &a)?;
    let chosen: Vec<usize> = if a.strategies.is_empty() {
        (0..study.strategies.len()).collect()
    } else {
        a.strategies
            .iter()
            .map(|id| strategy_index(study, id))
            .collect::<Result<_, _>>()?
    };
    let focus = focus_ids(study, &a.focus)?;
    if !a.background {
        let given = [
            ("--attribution", a.attribution),
            ("--trials", a.sampling.trials.is_some()),
            ("--seed", a.sampling.seed.is_some()),
            ("--threads", a.sampling.threads.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|g| g.1) {
            return Err(Failure::invalid(format!(
                "error: {flag} applies to a Monte Carlo run, and this what-if is one \
                 deterministic path\n  hint: add --background to run the shock over the \
                 scenario's random shocks, or drop {flag}"
            )));
        }
    }
    let out_dir = a.output.filter(|o| o.as_os_str() != "-");
    if let Some(dir) = &out_dir {
        output::check_dir(dir, d.force).map_err(write_failure)?;
    }
    if a.background {
        let trials = a.sampling.trials.unwrap_or(base.trials);
        let seed = a.sampling.seed.unwrap_or(base.seed);
        if trials == 0 {
            return Err(Failure::invalid("error: --trials must be at least 1"));
        }
        let forced = events(base, &firing);
        let plan = Plan::new(study, &chosen).with_forced(forced.clone());
        let acc = execute(
            &plan,
            trials,
            seed,
            0..n_blocks(trials),
            crate::runner::Sums::Folded,
            a.sampling.threads.map(usize::from),
            d.quiet,
        )?;
        let results = RunResults::new(study, &chosen, acc, trials, seed)
            .with_focus(focus)
            .with_forced(forced)
            .with_attribution(a.attribution)
            .with_whatif(firing.clone())
            .with_threads(a.sampling.threads.map(usize::from));
        let dir = out_dir.unwrap_or_else(|| PathBuf::from("-"));
        return emit(&results, &dir, &d);
    }
    let plan = Plan::new(study, &chosen).with_focus(focus);
    let mut names = vec!["Baseline".to_owned()];
    names.extend(chosen.iter().map(|&i| study.strategies[i].name.clone()));
    let result = crate::whatif::run(&plan.models, &plan.ids, &names, &firing);
    if let Some(dir) = &out_dir {
        let files: Vec<output::File> = vec![
            ("whatif.json".to_owned(), result.json().into()),
            ("path.csv".to_owned(), result.path_csv().into()),
        ];
        output::write_dir(dir, &files, d.force).map_err(write_failure)?;
    }
    if d.quiet {
        return Ok(());
    }
    match d.format {
        Format::Json => print_stdout(std::str::from_utf8(&result.json()).expect("JSON is UTF-8")),
        Format::Table => print_stdout(&render(&result, &plan, out_dir.as_deref())),
    }
}

/// The shock to fire, from its id and the overrides, each checked.
fn firing(model: &crate::model::Model, a: &WhatIfArgs) -> Result<Firing, Failure> {
    let Some(si) = model.shocks.iter().position(|s| s.id == a.shock) else {
        let ids: Vec<&str> = model.shocks.iter().map(|s| s.id.as_str()).collect();
        let hint = crate::diag::did_you_mean(&a.shock, ids.iter().copied()).map_or_else(
            || format!("shocks in this scenario: {}", ids.join(", ")),
            |b| format!("did you mean `{b}`?"),
        );
        return Err(Failure::invalid(format!(
            "error: unknown shock `{}`\n  hint: {hint}",
            a.shock
        )));
    };
    let shock = &model.shocks[si];
    let step = f64::from(model.step_days);
    let start_day = match (a.start, &shock.timing) {
        (Some(d), _) => d,
        (None, Timing::At { step: s }) => f64::from(*s) * step,
        (None, _) => 0.0,
    };
    if !(start_day >= 0.0 && start_day < f64::from(model.horizon_days)) {
        return Err(Failure::invalid(format!(
            "error: --start {start_day} is outside the horizon (0 to {} days)\n  hint: give a day from 0 up to the horizon",
            model.horizon_days
        )));
    }
    let days = match (a.days, &shock.duration_days) {
        (Some(d), _) => d,
        (None, Some(dist)) => dist.mean(),
        (None, None) => {
            return Err(Failure::invalid(format!(
                "error: shock `{}` has no duration of its own (it fails and recovers at random)\n  hint: give one with --days N",
                shock.id
            )))
        }
    };
    if !(days.is_finite() && days > 0.0) {
        return Err(Failure::invalid(format!(
            "error: --days must be a positive number of days, found {days}"
        )));
    }
    let severity = a.severity.unwrap_or_else(|| shock.severity.mean());
    let surge = shock.kind == ShockKind::DemandSurge;
    let ok = severity.is_finite() && severity >= 0.0 && (surge || severity <= 1.0);
    if !ok {
        let want = if surge {
            "a demand surge's severity is the extra demand, 0 or more"
        } else {
            "a severity is the share removed, from 0 to 1"
        };
        return Err(Failure::invalid(format!(
            "error: --severity {severity} is out of range\n  hint: {want}"
        )));
    }
    // What runs: whole steps, within the horizon.
    let start = (start_day / step) as u32;
    let end = start
        .saturating_add(model.days_to_steps(days).max(1))
        .min(model.n_steps);
    Ok(Firing {
        shock: si,
        id: shock.id.clone(),
        name: shock.name.clone(),
        start_day: f64::from(start) * step,
        days: f64::from(end - start) * step,
        severity,
    })
}

/// The slots the shock touched in some variant, per variant, with the loss it added.
fn render(r: &WhatIf, plan: &Plan, dir: Option<&Path>) -> String {
    let cur = &r.currency;
    let f = &r.shock;
    let named = if f.name == f.id {
        f.id.clone()
    } else {
        format!("{} ({})", f.name, f.id)
    };
    let mut out = format!(
        "{}: what if {named} starts on day {} for {} days at severity {}\n\n",
        r.scenario,
        fixed(f.start_day, 0),
        fixed(f.days, 0),
        crate::format::compact(f.severity)
    );
    let n_slots = r.variants[0].slots.len();
    let touched: Vec<usize> = (0..n_slots)
        .filter(|&k| r.variants.iter().any(|v| v.slots[k].touched()))
        .collect();
    if touched.is_empty() {
        out.push_str(
            "No importer runs short or pays a different price: the shock changes nothing here.\n",
        );
        return out;
    }
    let mut t = Table::new(&[
        ("variant", Align::Left),
        ("importer", Align::Left),
        ("material", Align::Left),
        ("days short", Align::Right),
        ("max depth", Align::Right),
        ("TTS", Align::Right),
        ("TTR", Align::Right),
        ("peak price", Align::Right),
        ("loss from shock", Align::Right),
        ("vs baseline", Align::Right),
    ]);
    let days = |d: Option<f64>| d.map_or_else(|| "-".to_owned(), |d| fixed(d, 0));
    for v in &r.variants {
        for &k in &touched {
            let sl = &v.slots[k];
            let added = sl.loss - sl.calm_loss;
            let b = &r.variants[0].slots[k];
            // A strategy's row only where it changes the baseline's path.
            let same = sl.loss - sl.calm_loss == b.loss - b.calm_loss
                && sl.days_short == b.days_short
                && sl.peak_price == b.peak_price;
            if v.id != "baseline" && same {
                continue;
            }
            let vs = if v.id == "baseline" {
                String::new()
            } else {
                money_terse(added - (b.loss - b.calm_loss), cur)
            };
            t.row(vec![
                v.id.clone(),
                display_name(&sl.importer, &sl.importer_name),
                sl.material_name.clone(),
                fixed(sl.days_short, 0),
                format!("{}%", fixed(sl.max_depth * 100.0, 0)),
                days(sl.time_to_survive_days),
                if sl.days_short > 0.0 && sl.time_to_recover_days.is_none() {
                    "not by horizon".to_owned()
                } else {
                    days(sl.time_to_recover_days)
                },
                format!("{}x", fixed(sl.peak_price, 2)),
                money_terse(added, cur),
                vs,
            ]);
        }
    }
    out.push_str(&t.render());
    out.push_str("(strategies: only the rows where they change the baseline's path)\n\n");
    // The loss the shock adds over the importers the totals count, per variant.
    let set = plan.total_set(0);
    let added = |v: &crate::whatif::VariantPath| -> f64 {
        v.importers
            .iter()
            .filter(|im| {
                set.iter()
                    .any(|&i| plan.models[0].importers[i].id == im.importer)
            })
            .map(|im| im.loss - im.calm_loss)
            .sum()
    };
    let base_added = added(&r.variants[0]);
    out.push_str("Loss the shock adds, importers the totals count:\n");
    for v in &r.variants {
        let x = added(v);
        let vs = if v.id == "baseline" {
            String::new()
        } else {
            format!(" ({} vs baseline)", money_terse(x - base_added, cur))
        };
        out.push_str(&format!("  {:<24} {}{vs}\n", v.id, money_terse(x, cur)));
    }
    out.push_str(
        "\nTTS: days from the onset of a supply deficit to the first shortage; TTR: days from the first shortage back to full service.\n",
    );
    if let Some(d) = dir {
        out.push_str(&format!(
            "Day-by-day fill and price: {} (whatif.json has every slot)\n",
            d.join("path.csv").display()
        ));
    }
    out
}
