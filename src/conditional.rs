//! Fill after the shock that matters, in the trials where it hit: for a rare shock the fan over
//! every trial sits flat at full service and hides what a shortage looks like, so each importer
//! the totals count gets the path of one material (the one the shock leaves shortest in value,
//! else its costliest) over the trials in which its main shock struck, aligned on the day that shock's first event began. Per day since onset: the
//! percentiles and mean of fill, and the probability of being short that day.
//!
//! The main shock is the one the attribution credits with the largest share of the importer's
//! expected loss when `--attribution` was asked for; without it, the shock whose trials carry the
//! most loss above the importer's mean (its loss less the mean, summed over the trials the shock
//! hit: a co-occurrence, not a cause, and the chart says which shock it is). The trials are the
//! first [`MAX_HITS`] of the run in which the shock hit, replayed exactly with the events the
//! run drew for them.

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::{run_group, Scratch};
use crate::lanes::LANES;
use crate::model::Model;
use crate::shocks::{sample_trial_with, Event};

/// Trials replayed per fan at most: the first ones in which the shock hit.
pub const MAX_HITS: usize = 400;
/// Days shown before the onset.
pub const DAYS_BEFORE: u32 = 14;
/// Days shown after the onset at most (less when the horizon is shorter).
pub const DAYS_AFTER: u32 = 365;
/// The percentiles of each day: P5, P25, median, P75, P95.
pub const QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// What a fan shows, as the summary records it (the day-by-day values are in conditional.csv).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FanRef {
    pub importer: String,
    pub material: String,
    pub shock: String,
    pub shock_name: String,
    /// How the shock was chosen: `attribution` or `co-occurrence`.
    pub chosen_by: &'static str,
    /// Trials of the run in which the shock hit, and those replayed for the fan.
    pub trials_hit: u64,
    pub trials_used: u64,
}

/// One fan: per step since the onset (from `-before` to `after - 1`), over the trials replayed
/// that reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fan {
    pub what: FanRef,
    pub importer_name: String,
    pub material_name: String,
    pub step_days: u32,
    /// Steps shown before the onset.
    pub before: u32,
    /// Per step since `-before`: the percentiles of fill, its mean, the share of trials short,
    /// and the trials that reach that step.
    pub bands: Vec<[f64; 5]>,
    pub mean: Vec<f64>,
    pub p_short: Vec<f64>,
    pub trials: Vec<u32>,
}

/// One fan to compute: importer `importer` aligned on shock `shock`; of its materials, the one
/// the shock leaves shortest, else `slot` (its costliest, an importer-slot index).
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    pub importer: usize,
    pub slot: usize,
    pub shock: u32,
    pub by_attribution: bool,
}

/// The fans to draw for the importers `counted` of the baseline: each one's costliest material (the fallback)
/// (by mean loss, `slot_loss[k]`), and the shock that drives its loss (`attributed`: per
/// importer, the top shock of the attribution; else the co-occurrence with `losses[i]`, the
/// importer's per-trial losses).
pub fn asks(
    model: &Model,
    seed: u64,
    forced: &[Event],
    counted: &[usize],
    slot_loss: &[f64],
    losses: &dyn Fn(usize) -> Vec<f32>,
    attributed: &dyn Fn(usize) -> Option<u32>,
) -> Vec<Ask> {
    let first = model.first_importer_slot();
    let mut hit: Option<Vec<Vec<u32>>> = None;
    let mut out = Vec::new();
    for &i in counted {
        let imp = &model.importers[i];
        let Some(slot) = imp
            .slots
            .clone()
            .map(|b| b as usize - first)
            .filter(|&k| slot_loss[k] > 0.0)
            .max_by(|&a, &b| slot_loss[a].total_cmp(&slot_loss[b]).then(b.cmp(&a)))
        else {
            continue;
        };
        let (shock, by_attribution) = match attributed(i) {
            Some(s) => (Some(s), true),
            None => {
                let l = losses(i);
                let shocks =
                    hit.get_or_insert_with(|| shocks_per_trial(model, seed, forced, l.len()));
                // The loss above the mean summed over the trials each shock hit: a shock in
                // almost every trial carries little above the mean, however large the loss.
                let mean = l.iter().map(|&x| f64::from(x)).sum::<f64>() / l.len().max(1) as f64;
                let mut weight = vec![0.0; model.shocks.len()];
                for (t, list) in shocks.iter().enumerate() {
                    for &s in list {
                        weight[s as usize] += f64::from(l[t]) - mean;
                    }
                }
                let best = (0..weight.len())
                    .filter(|&s| weight[s] > 0.0)
                    .max_by(|&a, &b| weight[a].total_cmp(&weight[b]).then(b.cmp(&a)));
                (best.map(|s| s as u32), false)
            }
        };
        if let Some(shock) = shock {
            out.push(Ask {
                importer: i,
                slot,
                shock,
                by_attribution,
            });
        }
    }
    out
}

/// Per trial of the run, the shocks with an event in it (each once).
fn shocks_per_trial(model: &Model, seed: u64, forced: &[Event], trials: usize) -> Vec<Vec<u32>> {
    (0..trials as u64)
        .into_par_iter()
        .map(|t| {
            let mut e = Vec::new();
            sample_trial_with(model, seed, t, forced, &mut e);
            let mut s: Vec<u32> = e.iter().map(|e| e.shock).collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect()
}

/// The fans `asks` calls for, over the run's `trials` trials drawn from `seed` (with the
/// `forced` events of a what-if). The same values on any thread count.
pub fn fans(model: &Model, seed: u64, trials: u64, forced: &[Event], asks: &[Ask]) -> Vec<Fan> {
    let first = model.first_importer_slot();
    let mut out = Vec::new();
    // Asks of one shock share its replays: per shock, in the order asked, the slots it is
    // asked for.
    let mut shocks: Vec<u32> = Vec::new();
    for a in asks {
        if !shocks.contains(&a.shock) {
            shocks.push(a.shock);
        }
    }
    // One pass over the run's trials for every shock: per shock, the trials it hit, and for the
    // first of them the step its first event began and the trial's events.
    let mut n_hit = vec![0u64; shocks.len()];
    let mut hits: Vec<Vec<(u32, Vec<Event>)>> = vec![Vec::new(); shocks.len()];
    let mut e = Vec::new();
    for t in 0..trials {
        e.clear();
        sample_trial_with(model, seed, t, forced, &mut e);
        for (i, &shock) in shocks.iter().enumerate() {
            let onset = e.iter().filter(|e| e.shock == shock).map(|e| e.start).min();
            if let Some(onset) = onset {
                n_hit[i] += 1;
                if hits[i].len() < MAX_HITS {
                    hits[i].push((onset, e.clone()));
                }
            }
        }
    }
    for (i, shock) in shocks.into_iter().enumerate() {
        let these: Vec<&Ask> = asks.iter().filter(|a| a.shock == shock).collect();
        // Every material of the importers asked for: the fan shows the one the shock leaves
        // shortest.
        let cand: Vec<usize> = these
            .iter()
            .flat_map(|a| model.importers[a.importer].slots.clone())
            .map(|b| b as usize - first)
            .collect();
        let (n_hit, hits) = (n_hit[i], &hits[i]);
        if hits.is_empty() {
            continue;
        }
        let events_of: Vec<&[Event]> = hits.iter().map(|(_, e)| e.as_slice()).collect();
        let onsets: Vec<u32> = hits.iter().map(|&(o, _)| o).collect();
        // Replayed in groups of lanes, in fixed chunks reduced in order: per trial, the fill
        // path of every slot asked for.
        let paths: Vec<Vec<Vec<f64>>> = events_of
            .par_chunks(LANES)
            .map(|group| {
                let mut s = Scratch::new(model);
                run_group(model, &mut s, group, None);
                (0..group.len())
                    .map(|l| {
                        cand.iter()
                            .map(|&k| s.fill_path(l, k).expect("an audited scratch keeps fills"))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect();
        for ask in &these {
            // The value short from the onset on, summed over the trials: the largest picks the
            // material (ties to the first; none short: the costliest).
            let mut best = (0.0, ask.slot);
            for (x, &k) in cand.iter().enumerate() {
                let b = first + k;
                if !model.importers[ask.importer].slots.contains(&(b as u32)) {
                    continue;
                }
                let per_step = model.slots[b].nominal_use
                    * model.materials[model.slots[b].material.ix()].value;
                let short: f64 = paths
                    .iter()
                    .zip(&onsets)
                    .map(|(p, &onset)| p[x][onset as usize..].iter().map(|f| 1.0 - f).sum::<f64>())
                    .sum::<f64>()
                    * per_step;
                if short > best.0 {
                    best = (short, k);
                }
            }
            let x = cand.iter().position(|&k| k == best.1).expect("a candidate");
            let slot_paths: Vec<&[f64]> = paths.iter().map(|p| p[x].as_slice()).collect();
            out.push(fan_of(model, ask, best.1, &onsets, n_hit, &slot_paths));
        }
    }
    out
}

/// The fan of importer slot `slot` for `ask` from its replayed `paths`, one per trial of
/// `onsets` (the step the shock began in each), among the `n_hit` trials the shock hit.
fn fan_of(
    model: &Model,
    ask: &Ask,
    slot: usize,
    onsets: &[u32],
    n_hit: u64,
    paths: &[&[f64]],
) -> Fan {
    let n_steps = model.n_steps as usize;
    let before = DAYS_BEFORE.div_ceil(model.step_days) as usize;
    let after = (DAYS_AFTER.div_ceil(model.step_days) as usize).min(n_steps);
    let width = before + after;
    let mut bands = Vec::with_capacity(width);
    let mut mean = Vec::with_capacity(width);
    let mut p_short = Vec::with_capacity(width);
    let mut reach = Vec::with_capacity(width);
    let mut day: Vec<f64> = Vec::with_capacity(onsets.len());
    for j in 0..width {
        day.clear();
        for (path, &onset) in paths.iter().zip(onsets) {
            let t = i64::from(onset) + j as i64 - before as i64;
            if (0..n_steps as i64).contains(&t) {
                day.push(path[t as usize]);
            }
        }
        reach.push(day.len() as u32);
        if day.is_empty() {
            bands.push([f64::NAN; 5]);
            mean.push(f64::NAN);
            p_short.push(f64::NAN);
            continue;
        }
        day.sort_by(f64::total_cmp);
        bands.push(QUANTILES.map(|q| crate::stats::quantile_sorted(&day, q)));
        mean.push(day.iter().sum::<f64>() / day.len() as f64);
        p_short.push(day.iter().filter(|&&f| f < 1.0).count() as f64 / day.len() as f64);
    }
    // Steps at either end that no trial reaches are dropped (every trial reaches its onset).
    while reach.last() == Some(&0) {
        reach.pop();
        bands.pop();
        mean.pop();
        p_short.pop();
    }
    let lead = reach.iter().take_while(|&&r| r == 0).count();
    mean.drain(..lead);
    p_short.drain(..lead);
    bands.drain(..lead);
    reach.drain(..lead);
    let first = model.first_importer_slot();
    let imp = &model.importers[ask.importer];
    let mat = &model.materials[model.slots[first + slot].material.ix()];
    let shock = &model.shocks[ask.shock as usize];
    Fan {
        what: FanRef {
            importer: imp.id.clone(),
            material: mat.id.clone(),
            shock: shock.id.clone(),
            shock_name: shock.name.clone(),
            chosen_by: if ask.by_attribution {
                "attribution"
            } else {
                "co-occurrence"
            },
            trials_hit: n_hit,
            trials_used: onsets.len() as u64,
        },
        importer_name: imp.name.clone(),
        material_name: mat.name.clone(),
        step_days: model.step_days,
        before: (before - lead) as u32,
        bands,
        mean,
        p_short,
        trials: reach,
    }
}

/// conditional.csv: one line per fan and step since the onset.
pub fn csv(fans: &[Fan]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "importer",
        "material",
        "shock",
        "day_since_onset",
        "fill_p5",
        "fill_p25",
        "fill_p50",
        "fill_p75",
        "fill_p95",
        "fill_mean",
        "p_short",
        "trials",
    ])
    .expect("in-memory CSV");
    for f in fans {
        for (j, b) in f.bands.iter().enumerate() {
            let day = (j as i64 - i64::from(f.before)) * i64::from(f.step_days);
            let mut row = vec![
                f.what.importer.clone(),
                f.what.material.clone(),
                f.what.shock.clone(),
                day.to_string(),
            ];
            row.extend(b.iter().map(|x| format!("{x}")));
            row.push(format!("{}", f.mean[j]));
            row.push(format!("{}", f.p_short[j]));
            row.push(f.trials[j].to_string());
            w.write_record(&row).expect("in-memory CSV");
        }
    }
    w.into_inner().expect("in-memory CSV")
}
