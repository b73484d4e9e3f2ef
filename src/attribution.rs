//! Which shocks drive each importer's loss: every trial of the baseline is replayed with its
//! shocks switched on one at a time, in the order of their first event, on the same random
//! numbers. Each shock is credited with the loss it adds to the trial given the shocks switched
//! on before it; the credits of a trial add up to its loss less the loss of a trial with no
//! event at all (the calm loss), because the sum telescopes. Summed per shock over trials, they split the expected loss; summed
//! over the worst 5% of an importer's trials, they split the mean loss of its tail.
//!
//! The order matters only where shocks overlap in their effect: a later shock is credited with
//! what it adds on top of those already in force (so of two overlapping bans, the first gets
//! its loss alone and the second the rest). Averaging over every order (Shapley values) would
//! remove that choice at a cost exponential in the shocks of a trial. Replaying costs one run
//! of the trial per shock it holds, so it is asked for (`--attribution`), not done by default.

use rayon::prelude::*;
use serde::Serialize;

use crate::engine::{run_group, Scratch};
use crate::lanes::LANES;
use crate::metrics::ImporterMetrics;
use crate::model::Model;
use crate::shocks::{sample_trial_with, Event};

/// Trials replayed at most: the first ones, so the split is an estimate from them.
pub const MAX_TRIALS: u64 = 20_000;
/// The tail whose loss is split: the worst 5% of an importer's trials.
pub const TAIL: f64 = 0.05;
/// Trials listed among the worst.
pub const WORST: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct Attribution {
    /// How the split is made, in a sentence.
    pub method: &'static str,
    /// Trials replayed (the first ones of the run).
    pub trials: u64,
    pub importers: Vec<ImporterShares>,
    /// The trials with the largest total loss (over the importers the totals count).
    pub worst_trials: Vec<WorstTrial>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImporterShares {
    pub importer: String,
    pub name: String,
    pub balancing: bool,
    /// Mean loss over the trials replayed: `calm` plus every shock's `mean`.
    pub expected_loss: f64,
    /// The loss with no event at all (a market may cost something even calm).
    pub calm: f64,
    /// Trials in the tail: the worst `ceil(0.05 n)` by this importer's loss.
    pub tail_trials: u64,
    /// Mean loss over the tail trials: `calm` plus every shock's `tail`.
    pub tail_loss: f64,
    pub shocks: Vec<ShockShare>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShockShare {
    pub shock: String,
    pub name: String,
    /// Mean credit per trial, over all trials replayed.
    pub mean: f64,
    /// Mean credit per trial, over the importer's tail trials.
    pub tail: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorstTrial {
    pub trial: u64,
    pub loss: f64,
    pub events: Vec<EventLabel>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventLabel {
    pub shock: String,
    pub start_day: f64,
    pub days: f64,
    pub severity: f64,
}

/// Per trial: each importer's loss, and its credit per shock (importer-major).
struct TrialSplit {
    loss: Vec<f64>,
    credit: Vec<f64>,
}

/// Losses of every importer for each event list in `lists` (at most [`LANES`]).
fn losses(model: &Model, s: &mut Scratch, lists: &[&[Event]]) -> Vec<Vec<f64>> {
    run_group(model, s, lists, None);
    (0..lists.len())
        .map(|l| {
            let out = s.outcome(l);
            model
                .importers
                .iter()
                .map(|imp| ImporterMetrics::of_trial(model, imp, out).loss_value)
                .collect()
        })
        .collect()
}

/// Replay each trial's shocks one at a time and credit each with the loss it adds.
fn split_trials(
    model: &Model,
    seed: u64,
    forced: &[Event],
    trials: &[u64],
    calm: &[f64],
) -> Vec<TrialSplit> {
    let (ni, ns) = (model.importers.len(), model.shocks.len());
    let mut s = Scratch::new(model).unaudited();
    let events: Vec<Vec<Event>> = trials
        .iter()
        .map(|&t| trial_events(model, seed, forced, t))
        .collect();
    // Per trial, its shocks in the order of their first event; then every prefix of that
    // order: the trial with the events of its first k shocks (still sorted by start).
    let order: Vec<Vec<u32>> = events
        .iter()
        .map(|e| {
            let mut o: Vec<u32> = Vec::new();
            for ev in e {
                if !o.contains(&ev.shock) {
                    o.push(ev.shock);
                }
            }
            o
        })
        .collect();
    let prefixes: Vec<Vec<Event>> = events
        .iter()
        .zip(&order)
        .flat_map(|(e, o)| {
            (1..=o.len()).map(move |k| {
                e.iter()
                    .filter(|ev| o[..k].contains(&ev.shock))
                    .copied()
                    .collect()
            })
        })
        .collect();
    let mut prefix_loss: Vec<Vec<f64>> = Vec::with_capacity(prefixes.len());
    for group in prefixes.chunks(LANES) {
        let lists: Vec<&[Event]> = group.iter().map(Vec::as_slice).collect();
        prefix_loss.extend(losses(model, &mut s, &lists));
    }
    let mut at = 0;
    order
        .iter()
        .map(|o| {
            let mut credit = vec![0.0; ni * ns];
            let mut before = calm.to_vec();
            for &shock in o {
                let after = &prefix_loss[at];
                at += 1;
                for i in 0..ni {
                    credit[i * ns + shock as usize] += after[i] - before[i];
                }
                before.clone_from(after);
            }
            TrialSplit {
                loss: before,
                credit,
            }
        })
        .collect()
}

/// Trial `t`'s events as the run drew them (with the `forced` ones of a what-if).
fn trial_events(model: &Model, seed: u64, forced: &[Event], t: u64) -> Vec<Event> {
    let mut e = Vec::new();
    sample_trial_with(model, seed, t, forced, &mut e);
    e
}

/// The mean of `values` (0 for none), summed in order.
fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut k) = (0.0, 0usize);
    for x in values {
        sum += x;
        k += 1;
    }
    if k == 0 {
        0.0
    } else {
        sum / k as f64
    }
}

/// Split the baseline's loss over its shocks, replaying the first `min(trials, MAX_TRIALS)`
/// trials drawn from `seed` (with the `forced` events a what-if adds to each);
/// `in_total` are the importers the worst trials are ranked by.
pub fn attribute(
    model: &Model,
    seed: u64,
    trials: u64,
    in_total: &[usize],
    forced: &[Event],
) -> Attribution {
    let n = trials.min(MAX_TRIALS);
    let ns = model.shocks.len();
    let mut calm_scratch = Scratch::new(model).unaudited();
    let calm = losses(model, &mut calm_scratch, &[&[]]).remove(0);
    // Fixed chunks, reduced in order: the same sums whatever the thread count.
    let ids: Vec<u64> = (0..n).collect();
    let splits: Vec<TrialSplit> = ids
        .par_chunks(64)
        .map(|c| split_trials(model, seed, forced, c, &calm))
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    let tail_n = ((n as f64 * TAIL).ceil() as usize).max(1).min(splits.len());
    let importers = model
        .importers
        .iter()
        .enumerate()
        .map(|(i, imp)| {
            // The tail: the worst trials by this importer's loss (ties: earlier trial first).
            let mut order: Vec<usize> = (0..splits.len()).collect();
            order.sort_by(|&a, &b| {
                splits[b].loss[i]
                    .total_cmp(&splits[a].loss[i])
                    .then(a.cmp(&b))
            });
            let tail = &order[..tail_n.min(order.len())];
            let shocks = model
                .shocks
                .iter()
                .enumerate()
                .map(|(j, sh)| ShockShare {
                    shock: sh.id.clone(),
                    name: sh.name.clone(),
                    mean: mean(splits.iter().map(|x| x.credit[i * ns + j])),
                    tail: mean(tail.iter().map(|&t| splits[t].credit[i * ns + j])),
                })
                .collect();
            ImporterShares {
                importer: imp.id.clone(),
                name: imp.name.clone(),
                balancing: imp.balancing,
                expected_loss: mean(splits.iter().map(|x| x.loss[i])),
                calm: calm[i],
                tail_trials: tail.len() as u64,
                tail_loss: mean(tail.iter().map(|&t| splits[t].loss[i])),
                shocks,
            }
        })
        .collect();
    let total = |x: &TrialSplit| in_total.iter().map(|&i| x.loss[i]).sum::<f64>();
    let mut order: Vec<usize> = (0..splits.len()).collect();
    order.sort_by(|&a, &b| {
        total(&splits[b])
            .total_cmp(&total(&splits[a]))
            .then(a.cmp(&b))
    });
    let step = f64::from(model.step_days);
    let worst_trials = order
        .iter()
        .take(WORST)
        .filter(|&&t| total(&splits[t]) > 0.0)
        .map(|&t| {
            let e = trial_events(model, seed, forced, t as u64);
            WorstTrial {
                trial: t as u64,
                loss: total(&splits[t]),
                events: e
                    .iter()
                    .map(|ev| EventLabel {
                        shock: model.shocks[ev.shock as usize].id.clone(),
                        start_day: f64::from(ev.start) * step,
                        days: f64::from(ev.end - ev.start) * step,
                        severity: ev.severity,
                    })
                    .collect(),
            }
        })
        .collect();
    Attribution {
        method: "each shock of a trial is credited with the loss it adds given the shocks \
                 whose first event started before its own (same random numbers); a trial's \
                 credits add up to its loss less the calm loss",
        trials: n,
        importers,
        worst_trials,
    }
}
