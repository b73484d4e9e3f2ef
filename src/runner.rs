//! Many trials in parallel: fixed-size blocks of trials on rayon, the baseline and every strategy
//! run in lockstep on the same trial (common random numbers), merged in block order.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::{run_group, run_lockstep, Lockstep, Scratch};
use crate::lanes::LANES;
use crate::metrics::{self, ImporterMetrics, Record, SlotMetrics};
use crate::model::{Model, Study};
use crate::shocks::{sample_trial_with, Event};
use crate::stats::{CrossMoments, CurveAcc, Moments, PriceAcc, SlotTrial, Sparse, StepHist};

/// Trials per block: fixed by the trial count alone, so blocks (and float sums) are the same
/// whatever the threads or shards. At most about 256 blocks.
pub fn block_size(trials: u64) -> u64 {
    trials.div_ceil(256).clamp(16, 4096)
}

pub fn n_blocks(trials: u64) -> u64 {
    trials.div_ceil(block_size(trials))
}

/// What running `blocks` of a `trials`-trial run of `plan` on `workers` threads needs, estimated
/// before it starts: memory in bytes, and its work: steps of network nodes (suppliers and
/// importer slots) to compute, and steps of markets to clear, which cost far more each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub bytes: f64,
    pub node_steps: f64,
    pub market_steps: f64,
}

pub fn estimate(plan: &Plan, trials: u64, blocks: Range<u64>, workers: usize) -> Estimate {
    let bs = block_size(trials) as f64;
    let n_trials = ((blocks.end.saturating_sub(blocks.start)) as f64 * bs).min(trials as f64);
    let (mut per_worker, mut kept, mut node_steps, mut market_steps) = (0.0, 0.0, 0.0, 0.0);
    for m in &plan.models {
        let (slots, steps) = (m.importer_slots().count(), m.n_steps as usize);
        let (k, n) = (slots as f64, steps as f64);
        // Two step histograms per slot (the fill and price histograms, one set shared by the
        // workers, are counted below).
        let ints = 2.0 * k * (n + 1.0) * 8.0;
        let markets = m.materials.iter().filter(|x| x.market.is_some()).count();
        // A worker's state (`Scratch`): a lane-vector per field, eight per slot, five per
        // supplier and three per edge, a pipe cell per step of lead time, a group's fills (16
        // bytes per importer slot and step), and with a market a lane-vector of prices per
        // importer slot and step.
        let scratch = (8 * m.slots.len() + 5 * m.suppliers.len() + 3 * m.edges.len()) as f64
            * LANES as f64
            * 8.0
            + m.pipes
                .iter()
                .map(|p| p.lead_steps as f64 * LANES as f64 * 8.0)
                .sum::<f64>()
            + k * n * 16.0
            + if markets > 0 {
                k * n * LANES as f64 * 8.0
            } else {
                0.0
            };
        per_worker += ints + scratch;
        // Losses per trial and importer (f32), the fill curves drawn (seven per step), and the
        // fill and price histograms.
        kept += n_trials * m.importers.len() as f64 * 4.0
            + k * n * 7.0 * 8.0
            + (CurveAcc::bytes(slots, steps) + PriceAcc::bytes(&priced_slots(m).1, steps)) as f64;
        node_steps += n_trials * (m.slots.len() + m.suppliers.len()) as f64 * n;
        market_steps += n_trials * markets as f64 * n;
    }
    Estimate {
        // Every worker's state; the workers' step histograms merge into the first's.
        bytes: workers as f64 * per_worker + kept,
        node_steps,
        market_steps,
    }
}

/// One variant's sums over one block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantBlock {
    /// Per trial: units met over units demanded across every importer and material.
    pub network_fill: Moments,
    /// Per trial: each importer's loss value, and the products of every two, so that the total
    /// over any set of importers has its moments (see [`Plan::total_set`]).
    pub losses: CrossMoments,
    /// Strategies: per trial, each importer's paired change in loss from the baseline (its loss
    /// where the baseline has no such importer); empty for the baseline.
    pub diff_losses: CrossMoments,
    /// Per importer slot.
    #[serde(with = "metrics::rows")]
    pub slot: Vec<SlotMetrics<Moments>>,
    pub tts_days: Vec<Moments>,
    pub ttr_days: Vec<Moments>,
    /// Per importer.
    #[serde(with = "metrics::rows")]
    pub importer: Vec<ImporterMetrics<Moments>>,
    /// Paired differences from the baseline (empty for the baseline), per slot and per importer.
    #[serde(with = "metrics::rows")]
    pub diff_slot: Vec<SlotMetrics<Moments>>,
    #[serde(with = "metrics::rows")]
    pub diff_importer: Vec<ImporterMetrics<Moments>>,
}

/// Everything a block of trials contributes, for every variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockStats {
    pub block: u64,
    /// Per variant, the block's sums; empty once folded into [`Accumulated::folded`].
    pub variants: Vec<VariantBlock>,
    /// Per variant, per trial, per importer: loss value (trial-major).
    /// Stored as f32 (seven significant digits) to keep a million-trial run small; tail metrics
    /// are computed in f64 from these values.
    pub losses: Vec<Vec<f32>>,
}

/// Integer accumulators of one variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantInts {
    pub curves: CurveAcc,
    /// Price curves of the importer slots whose material has a market (none without).
    pub prices: PriceAcc,
    pub tts: Vec<StepHist>,
    pub ttr: Vec<StepHist>,
}

/// Raw result of a range of blocks: a part's (every block's sums kept) merges with other
/// parts; a run on one machine's has its block sums folded already.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accumulated {
    pub blocks: Vec<BlockStats>,
    pub ints: Vec<VariantInts>,
    /// A run on one machine ([`Sums::Folded`]): every block's sums, folded in block order as
    /// the blocks finished, which is what [`reduce_blocks`] computes; its blocks then keep only
    /// their losses. None in a part, whose blocks keep their sums for a merge in block order.
    #[serde(skip)]
    pub folded: Option<Vec<VariantBlock>>,
}

/// What [`run_blocks`] keeps of each block's sums: the blocks' own (a part, merged later with
/// other parts' blocks in block order), or only their fold in block order (every block of a
/// run on one machine, whose per-block sums would otherwise grow with the block count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sums {
    PerBlock,
    Folded,
}

/// Trials in block `b` of a `trials`-trial run (0 past the last block).
pub fn block_trials(trials: u64, b: u64) -> u64 {
    let bs = block_size(trials);
    let start = b.saturating_mul(bs).min(trials);
    let end = b.saturating_add(1).saturating_mul(bs).min(trials);
    end - start
}

impl Accumulated {
    /// Whether this is the shape of what [`run_blocks`] gives, keeping every block's sums
    /// ([`Sums::PerBlock`]: a part), for blocks `blocks` of a `trials`-trial run of `plan`:
    /// those blocks, each once and in order; per block and variant,
    /// a row per slot and importer (paired differences for strategies only), one loss per trial
    /// and importer, and sums over the block's trials; per variant, histograms over the
    /// horizon's steps that count the part's trials. [`Accumulated::merge`] and the reports
    /// assume all of it: a part read from a file is checked before either sees it.
    pub fn check(&self, plan: &Plan, trials: u64, blocks: Range<u64>) -> Result<(), String> {
        self.check_block_numbers(&blocks)?;
        let n_var = plan.models.len();
        let name = |v: usize| format!("variant `{}`", plan.ids[v]);
        let count = |what: &str, found: usize, expected: usize| {
            if found == expected {
                Ok(())
            } else {
                Err(format!("{found} {what}, expected {expected}"))
            }
        };
        let mut part_trials = 0u64;
        // Per variant and slot: trials that ran short, and that recovered, by the block sums.
        let mut short: Vec<Vec<u64>> = plan
            .models
            .iter()
            .map(|m| vec![0; m.importer_slots().count()])
            .collect();
        let mut recovered = short.clone();
        for b in &self.blocks {
            let bt = block_trials(trials, b.block);
            part_trials += bt;
            let at = |e: String| format!("block {}: {e}", b.block);
            count("variants", b.variants.len(), n_var).map_err(at)?;
            count("variants' losses", b.losses.len(), n_var).map_err(at)?;
            for (v, (vb, m)) in b.variants.iter().zip(&plan.models).enumerate() {
                let at = |e: String| format!("block {}, {}: {e}", b.block, name(v));
                let k = m.importer_slots().count();
                let ni = m.importers.len();
                let strategy = v > 0;
                count("slot rows", vb.slot.len(), k).map_err(at)?;
                count("time-to-survive rows", vb.tts_days.len(), k).map_err(at)?;
                count("time-to-recover rows", vb.ttr_days.len(), k).map_err(at)?;
                count("importer rows", vb.importer.len(), ni).map_err(at)?;
                count(
                    "slot difference rows",
                    vb.diff_slot.len(),
                    if strategy { k } else { 0 },
                )
                .map_err(at)?;
                count(
                    "importer difference rows",
                    vb.diff_importer.len(),
                    if strategy { ni } else { 0 },
                )
                .map_err(at)?;
                let n_losses = usize::try_from(bt)
                    .ok()
                    .and_then(|t| t.checked_mul(ni))
                    .ok_or_else(|| at("too many trials".into()))?;
                count("losses", b.losses[v].len(), n_losses).map_err(at)?;
                let sums = |what: &str, n: u64, expected: u64| {
                    if n == expected {
                        Ok(())
                    } else {
                        Err(at(format!(
                            "{what} sums {} trials, but block {} of a {trials}-trial run has {expected}",
                            n, b.block
                        )))
                    }
                };
                sums("network fill", vb.network_fill.n, bt)?;
                let cross = |what: &str, c: &CrossMoments, len: usize, n: u64| {
                    if c.len() != len || !c.is_consistent() {
                        Err(at(format!("{what}: sums of the wrong size")))
                    } else {
                        sums(what, c.n, n)
                    }
                };
                cross("importer losses", &vb.losses, ni, bt)?;
                cross(
                    "importer loss differences",
                    &vb.diff_losses,
                    if strategy { ni } else { 0 },
                    if strategy { bt } else { 0 },
                )?;
                for (j, row) in vb.slot.iter().enumerate() {
                    for mo in row.values() {
                        sums(&format!("slot {j}"), mo.n, bt)?;
                    }
                }
                for (j, row) in vb.importer.iter().enumerate() {
                    for mo in row.values() {
                        sums(&format!("importer {j}"), mo.n, bt)?;
                    }
                }
                for (j, row) in vb.diff_slot.iter().enumerate() {
                    let paired = plan.slot_map[v][j].is_some();
                    for mo in row.values() {
                        sums(
                            &format!("slot {j} difference"),
                            mo.n,
                            if paired { bt } else { 0 },
                        )?;
                    }
                }
                for (j, row) in vb.diff_importer.iter().enumerate() {
                    let paired = plan.importer_map[v][j].is_some();
                    for mo in row.values() {
                        sums(
                            &format!("importer {j} difference"),
                            mo.n,
                            if paired { bt } else { 0 },
                        )?;
                    }
                }
                for j in 0..k {
                    let (tts, ttr) = (vb.tts_days[j].n, vb.ttr_days[j].n);
                    if tts > bt || ttr > tts {
                        return Err(at(format!(
                            "slot {j}: {tts} trials short and {ttr} recovered of {bt}"
                        )));
                    }
                    short[v][j] += tts;
                    recovered[v][j] += ttr;
                }
            }
        }
        count("variants' histograms", self.ints.len(), n_var)?;
        for (v, (ints, m)) in self.ints.iter().zip(&plan.models).enumerate() {
            let at = |e: String| format!("{}: {e}", name(v));
            let k = m.importer_slots().count();
            let n = m.n_steps as usize;
            ints.curves.check(k, n, part_trials).map_err(at)?;
            let (slots, bounds) = priced_slots(m);
            ints.prices
                .check(&slots, &bounds, n, part_trials)
                .map_err(at)?;
            count("time-to-survive histograms", ints.tts.len(), k).map_err(at)?;
            count("time-to-recover histograms", ints.ttr.len(), k).map_err(at)?;
            for j in 0..k {
                let hist = |what: &str, h: &StepHist| {
                    h.check(n, part_trials)
                        .map_err(|e| at(format!("slot {j}: the {what} histogram has {e}")))
                };
                hist("time-to-survive", &ints.tts[j])?;
                hist("time-to-recover", &ints.ttr[j])?;
                let (tts, ttr) = (ints.tts[j].total(), ints.ttr[j].total());
                let ttr_recovered = ttr - ints.ttr[j].counts[n];
                if tts != short[v][j] || ttr != short[v][j] || ttr_recovered != recovered[v][j] {
                    return Err(at(format!(
                        "slot {j}: the histograms count {tts} trials short and {ttr_recovered} recovered, the block sums {} and {}",
                        short[v][j], recovered[v][j]
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether the blocks are exactly `expected`, each once, in order.
    fn check_block_numbers(&self, expected: &Range<u64>) -> Result<(), String> {
        let want = || format!("blocks {}..{}", expected.start, expected.end);
        for (i, b) in self.blocks.iter().enumerate() {
            let e = expected.start.saturating_add(i as u64);
            if b.block == e && e < expected.end {
                continue;
            }
            let what = if !expected.contains(&b.block) {
                format!("block {}, which is not among {}", b.block, want())
            } else if self.blocks[..i].iter().any(|p| p.block == b.block) {
                format!("block {} twice", b.block)
            } else {
                format!("block {} where block {e} should be", b.block)
            };
            return Err(format!("the body holds {what}"));
        }
        let n = self.blocks.len() as u64;
        if n < expected.end - expected.start {
            return Err(format!(
                "the body lacks block {} (it holds {n} of {})",
                expected.start + n,
                want()
            ));
        }
        Ok(())
    }

    /// Merge another part (blocks are re-sorted so the order is that of a single run).
    pub fn merge(&mut self, other: Accumulated) {
        assert!(
            self.folded.is_none() && other.folded.is_none(),
            "parts keep their block sums"
        );
        self.blocks.extend(other.blocks);
        self.blocks.sort_by_key(|b| b.block);
        for (a, b) in self.ints.iter_mut().zip(&other.ints) {
            a.curves.merge(&b.curves);
            a.prices.merge(&b.prices);
            for (x, y) in a.tts.iter_mut().zip(&b.tts) {
                x.merge(y);
            }
            for (x, y) in a.ttr.iter_mut().zip(&b.ttr) {
                x.merge(y);
            }
        }
    }
}

/// The variants a run compares: the baseline first, then the chosen strategies.
pub struct Plan<'a> {
    pub models: Vec<&'a Model>,
    pub ids: Vec<String>,
    /// For each variant, the index in the baseline's importer slots of each of its own, if any.
    slot_map: Vec<Vec<Option<usize>>>,
    importer_map: Vec<Vec<Option<usize>>>,
    /// The importers totals count, by id: `None` for every importer not declared balancing.
    focus: Option<Vec<String>>,
    /// Events added to every trial's random ones (`whatif --background`).
    forced: Vec<Event>,
}

impl<'a> Plan<'a> {
    pub fn new(study: &'a Study, strategies: &[usize]) -> Plan<'a> {
        let mut models = vec![&study.baseline];
        let mut ids = vec!["baseline".to_owned()];
        for &i in strategies {
            models.push(&study.strategies[i].model);
            ids.push(study.strategies[i].id.clone());
        }
        Self::from_models(models, ids)
    }

    pub fn from_models(models: Vec<&'a Model>, ids: Vec<String>) -> Plan<'a> {
        let base = models[0];
        let base_slots: Vec<(String, String)> =
            base.importer_slots().map(|s| base.slot_label(s)).collect();
        let base_imps: Vec<&str> = base.importers.iter().map(|i| i.id.as_str()).collect();
        let slot_map = models
            .iter()
            .map(|m| {
                m.importer_slots()
                    .map(|s| base_slots.iter().position(|l| *l == m.slot_label(s)))
                    .collect()
            })
            .collect();
        let importer_map = models
            .iter()
            .map(|m| {
                m.importers
                    .iter()
                    .map(|i| base_imps.iter().position(|b| *b == i.id))
                    .collect()
            })
            .collect();
        Plan {
            models,
            ids,
            slot_map,
            importer_map,
            focus: None,
            forced: Vec::new(),
        }
    }

    /// Totals count only these importers (ids the caller has checked), balancing or not.
    pub fn with_focus(mut self, focus: Option<Vec<String>>) -> Self {
        self.focus = focus;
        self
    }

    /// Every trial also suffers `events` (shock indices are the same in every variant).
    pub fn with_forced(mut self, events: Vec<Event>) -> Self {
        self.forced = events;
        self
    }

    /// The events added to every trial.
    pub fn forced(&self) -> &[Event] {
        &self.forced
    }

    /// The focus given, if any.
    pub fn focus(&self) -> Option<&[String]> {
        self.focus.as_deref()
    }

    /// The indices, in increasing order, of variant `v`'s importers that totals count: the
    /// focus if one is given, else every importer not declared balancing (balancing importers
    /// stand for the rest of the world and are reported apart).
    pub fn total_set(&self, v: usize) -> Vec<usize> {
        self.models[v]
            .importers
            .iter()
            .enumerate()
            .filter(|(_, imp)| match &self.focus {
                Some(f) => f.contains(&imp.id),
                None => !imp.balancing,
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Empty price curves for `model`: a row set per importer slot whose material has a market.
pub fn price_acc(model: &Model) -> PriceAcc {
    let (slots, bounds) = priced_slots(model);
    PriceAcc::new(slots, bounds, model.n_steps as usize)
}

/// The importer slots (positions among the importer slots) whose material has a market, and
/// that market's price bounds (floor, ceiling).
fn priced_slots(model: &Model) -> (Vec<u32>, Vec<(f64, f64)>) {
    let (mut slots, mut bounds) = (Vec::new(), Vec::new());
    for (k, b) in model.importer_slots().enumerate() {
        if let Some(market) = &model.materials[model.slots[b.ix()].material.ix()].market {
            slots.push(k as u32);
            bounds.push((market.curve.min_price, market.curve.max_price));
        }
    }
    (slots, bounds)
}

/// Per-trial values of the slot metrics of every importer slot of `model`, in slot order.
fn slot_values(model: &Model, outcome: &[SlotTrial]) -> Vec<SlotMetrics<f64>> {
    let first = model.first_importer_slot();
    let step_days = model.step_days as f64;
    outcome
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let mat = &model.materials[model.slots[first + k].material.ix()];
            SlotMetrics::of_trial(r, mat, step_days)
        })
        .collect()
}

struct Worker<'a> {
    scratch: Vec<Scratch>,
    /// Per variant, the events of each trial of the current group.
    events: Vec<Vec<Vec<Event>>>,
    /// Per variant: the step histograms of this worker's trials (the fill curves and prices
    /// are in `hists`).
    steps: Vec<StepHists>,
    /// Per variant, the fill and price histograms every worker records into (see
    /// [`run_blocks`]).
    hists: &'a [Mutex<Histograms>],
    /// Per variant: a trial without events, run once (see [`Quiet`]), and how many of the
    /// worker's trials were such trials.
    quiet: Vec<Option<Quiet>>,
    quiet_trials: Vec<u64>,
}

/// A trial without events (in any variant) is the same in every such trial: it is run once per
/// variant and worker thread, and its outcome reused. Lanes never read each other, so it is
/// the outcome the trial would have had in any group. What it adds to the curve and price
/// histograms (integers) is kept in sparse form and added once per worker, times the number of
/// such trials.
struct Quiet {
    outcome: Vec<SlotTrial>,
    curves: Sparse,
    prices: Sparse,
}

impl Quiet {
    fn run(model: &Model, scratch: &mut Scratch) -> Quiet {
        let mut curves = CurveAcc::new(model.importer_slots().count(), model.n_steps as usize);
        let mut prices = price_acc(model);
        run_group(model, scratch, &[Vec::<Event>::new()], Some(&mut curves));
        if !prices.is_empty() {
            scratch.record_prices(&mut prices, 1);
        }
        Quiet {
            outcome: scratch.outcome(0).to_vec(),
            curves: curves.sparse(),
            prices: prices.sparse(),
        }
    }
}

/// Run blocks `blocks` of a `trials`-trial run of every variant in `plan`. `progress` is bumped
/// by the number of trials done as blocks finish.
pub fn run_blocks(
    plan: &Plan,
    trials: u64,
    seed: u64,
    blocks: Range<u64>,
    sums: Sums,
    progress: Option<&AtomicU64>,
) -> Accumulated {
    let bs = block_size(trials);
    let fold = Mutex::new(Fold::new(blocks.start));
    // Fill and price histograms are counted after each group, from what the group kept: the
    // workers share one set, each taking a variant's lock for a group at a time, where a set
    // per worker would cost the largest structures of a run again for each thread.
    let hists: Vec<Mutex<Histograms>> = plan
        .models
        .iter()
        .map(|&m| {
            Mutex::new(Histograms {
                curves: CurveAcc::new(m.importer_slots().count(), m.n_steps as usize),
                prices: price_acc(m),
            })
        })
        .collect();
    // A worker's own: its step histograms.
    let new_steps = || -> Vec<StepHists> {
        plan.models
            .iter()
            .map(|&m| {
                let n = m.n_steps as usize;
                let per_slot = vec![StepHist::new(n); m.importer_slots().count()];
                StepHists {
                    tts: per_slot.clone(),
                    ttr: per_slot,
                }
            })
            .collect()
    };
    // One worker per thread, each pulling the next block from a shared counter: per-thread state
    // (scratch, step histograms) exists once per thread, not once per rayon split. Which thread
    // runs a block does not matter: block sums are merged in block order, histograms are integers.
    let next = AtomicU64::new(blocks.start);
    let n_workers = rayon::current_num_threads()
        .max(1)
        .min((blocks.end - blocks.start).max(1) as usize);
    let per_worker: Vec<(Vec<BlockStats>, Vec<StepHists>)> = (0..n_workers)
        .into_par_iter()
        .map(|_| {
            let n_var = plan.models.len();
            let mut w = Worker {
                scratch: plan
                    .models
                    .iter()
                    .map(|m| Scratch::new(m).unaudited())
                    .collect(),
                events: vec![vec![Vec::new(); LANES]; n_var],
                steps: new_steps(),
                hists: &hists,
                quiet: (0..n_var).map(|_| None).collect(),
                quiet_trials: vec![0; n_var],
            };
            let mut out = Vec::new();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= blocks.end {
                    break;
                }
                let range = b * bs..((b + 1) * bs).min(trials);
                let n = range.end - range.start;
                let stats = run_block(plan, seed, b, range, &mut w);
                match sums {
                    Sums::PerBlock => out.push(stats),
                    Sums::Folded => out.extend(
                        fold.lock()
                            .expect("no worker panics holding the fold")
                            .add(stats),
                    ),
                }
                if let Some(p) = progress {
                    p.fetch_add(n, Ordering::Relaxed);
                }
            }
            for (v, h) in hists.iter().enumerate() {
                if let (Some(q), k @ 1..) = (&w.quiet[v], w.quiet_trials[v]) {
                    let mut h = lock(h);
                    h.curves.add_sparse(&q.curves, k);
                    h.prices.add_sparse(&q.prices, k);
                }
            }
            (out, w.steps)
        })
        .collect();
    let mut blocks_out = Vec::new();
    let mut steps: Option<Vec<StepHists>> = None;
    for (out, w_steps) in per_worker {
        blocks_out.extend(out);
        match &mut steps {
            None => steps = Some(w_steps),
            Some(acc) => {
                for (p, q) in acc.iter_mut().zip(&w_steps) {
                    p.tts.iter_mut().zip(&q.tts).for_each(|(u, v)| u.merge(v));
                    p.ttr.iter_mut().zip(&q.ttr).for_each(|(u, v)| u.merge(v));
                }
            }
        }
    }
    blocks_out.sort_by_key(|b: &BlockStats| b.block);
    let fold = fold
        .into_inner()
        .expect("no worker panics holding the fold");
    assert!(fold.pending.is_empty(), "every block folded");
    let ints = (steps.unwrap_or_else(new_steps).into_iter())
        .zip(hists)
        .map(|(st, h)| {
            let h = h
                .into_inner()
                .expect("no worker panics holding the histograms");
            VariantInts {
                curves: h.curves,
                prices: h.prices,
                tts: st.tts,
                ttr: st.ttr,
            }
        })
        .collect();
    Accumulated {
        blocks: blocks_out,
        ints,
        folded: fold.total,
    }
}

/// A worker's step histograms of one variant, per importer slot: time to survive, to recover.
struct StepHists {
    tts: Vec<StepHist>,
    ttr: Vec<StepHist>,
}

/// A variant's fill and price histograms, one set the workers share.
struct Histograms {
    curves: CurveAcc,
    prices: PriceAcc,
}

/// A variant's shared histograms, for a worker to count a group into.
fn lock(h: &Mutex<Histograms>) -> std::sync::MutexGuard<'_, Histograms> {
    h.lock().expect("no worker panics holding the histograms")
}

/// Block sums folded in block order as blocks finish, in whatever order: a block waits in
/// `pending` until every block before it is folded. Workers pull blocks in order, so few wait
/// while they run at the same pace; a worker held up on one block keeps every later block
/// waiting, up to what keeping every block's sums would hold.
struct Fold {
    next: u64,
    pending: BTreeMap<u64, BlockStats>,
    total: Option<Vec<VariantBlock>>,
}

impl Fold {
    /// Nothing folded yet; block `first` comes first.
    fn new(first: u64) -> Fold {
        Fold {
            next: first,
            pending: BTreeMap::new(),
            total: None,
        }
    }

    /// Take block `b`; returns the blocks folded now, their sums dropped.
    fn add(&mut self, b: BlockStats) -> Vec<BlockStats> {
        self.pending.insert(b.block, b);
        let mut done = Vec::new();
        while let Some(mut b) = self.pending.remove(&self.next) {
            fold_block(&mut self.total, &b.variants);
            b.variants = Vec::new();
            done.push(b);
            self.next += 1;
        }
        done
    }
}

fn run_block(plan: &Plan, seed: u64, block: u64, trials: Range<u64>, w: &mut Worker) -> BlockStats {
    let n_var = plan.models.len();
    let mut variants: Vec<VariantBlock> = plan
        .models
        .iter()
        .enumerate()
        .map(|(v, m)| {
            let k = m.importer_slots().count();
            let ni = m.importers.len();
            VariantBlock {
                network_fill: Moments::default(),
                losses: CrossMoments::new(ni),
                diff_losses: CrossMoments::new(if v == 0 { 0 } else { ni }),
                slot: vec![SlotMetrics::default(); k],
                tts_days: vec![Moments::default(); k],
                ttr_days: vec![Moments::default(); k],
                importer: vec![ImporterMetrics::default(); ni],
                diff_slot: if v == 0 {
                    Vec::new()
                } else {
                    vec![SlotMetrics::default(); k]
                },
                diff_importer: if v == 0 {
                    Vec::new()
                } else {
                    vec![ImporterMetrics::default(); ni]
                },
            }
        })
        .collect();
    let mut losses: Vec<Vec<f32>> = plan
        .models
        .iter()
        .map(|m| Vec::with_capacity((trials.end - trials.start) as usize * m.importers.len()))
        .collect();
    let mut base_slot_vals: Vec<SlotMetrics<f64>> = Vec::new();
    let mut base_imp_vals: Vec<ImporterMetrics<f64>> = Vec::new();
    let mut trial_losses: Vec<f64> = Vec::new();
    // Trials run in groups, side by side, those without events apart ([`Quiet`]); their
    // outcomes are then taken in trial order. `lanes` holds, per trial from `first` on, its
    // lane in the group, or None for a trial without events.
    let mut lanes: Vec<Option<usize>> = Vec::new();
    let mut first = trials.start;
    while first < trials.end {
        lanes.clear();
        let mut n = 0;
        while n < LANES && first + (lanes.len() as u64) < trials.end {
            let trial = first + lanes.len() as u64;
            let mut quiet = true;
            for (v, &model) in plan.models.iter().enumerate() {
                let events = &mut w.events[v][n];
                sample_trial_with(model, seed, trial, &plan.forced, events);
                quiet &= events.is_empty();
            }
            if quiet {
                lanes.push(None);
            } else {
                lanes.push(Some(n));
                n += 1;
            }
        }
        let quiet = (lanes.len() - n) as u64;
        for (v, &model) in plan.models.iter().enumerate() {
            if quiet > 0 && w.quiet[v].is_none() {
                w.quiet[v] = Some(Quiet::run(model, &mut w.scratch[v]));
            }
            w.quiet_trials[v] += quiet;
        }
        if n > 0 {
            let mut runs = Lockstep::each(
                &plan.models,
                &mut w.scratch,
                w.events.iter().map(|e| &e[..n]),
                plan.models.iter().map(|_| None),
            );
            run_lockstep(&mut runs);
            drop(runs);
            for (s, h) in w.scratch.iter().zip(w.hists) {
                let mut h = lock(h);
                s.record_fills(&mut h.curves, n);
                if !h.prices.is_empty() {
                    s.record_prices(&mut h.prices, n);
                }
            }
        }
        for &lane in &lanes {
            for v in 0..n_var {
                let model = plan.models[v];
                let outcome = match lane {
                    Some(l) => w.scratch[v].outcome(l),
                    None => &w.quiet[v].as_ref().expect("run above").outcome[..],
                };
                let vb = &mut variants[v];
                let step_days = model.step_days as f64;
                let slot_vals = slot_values(model, outcome);
                for (k, r) in outcome.iter().enumerate() {
                    vb.slot[k].push(&slot_vals[k]);
                    if let Some(tts) = r.tts_steps() {
                        vb.tts_days[k].push(tts as f64 * step_days);
                        w.steps[v].tts[k].push(tts);
                    }
                    if r.had_shortage() {
                        match r.ttr_steps() {
                            Some(ttr) => {
                                vb.ttr_days[k].push(ttr as f64 * step_days);
                                w.steps[v].ttr[k].push(ttr);
                            }
                            None => w.steps[v].ttr[k].push(u32::MAX),
                        }
                    }
                }
                let (met, demand) = outcome.iter().fold((0.0, 0.0), |(m, d), r| {
                    (m + r.demand - r.unmet, d + r.demand)
                });
                vb.network_fill
                    .push(if demand > 0.0 { met / demand } else { 1.0 });
                let imp_vals: Vec<ImporterMetrics<f64>> = model
                    .importers
                    .iter()
                    .map(|imp| ImporterMetrics::of_trial(model, imp, outcome))
                    .collect();
                for (i, vals) in imp_vals.iter().enumerate() {
                    vb.importer[i].push(vals);
                    losses[v].push(vals.loss_value as f32);
                }
                trial_losses.clear();
                trial_losses.extend(imp_vals.iter().map(|x| x.loss_value));
                vb.losses.push(&trial_losses);
                if v > 0 {
                    for (i, x) in trial_losses.iter_mut().enumerate() {
                        if let Some(bi) = plan.importer_map[v][i] {
                            *x -= base_imp_vals[bi].loss_value;
                        }
                    }
                    vb.diff_losses.push(&trial_losses);
                }
                if v == 0 {
                    base_slot_vals = slot_vals;
                    base_imp_vals = imp_vals;
                } else {
                    for (k, vals) in slot_vals.iter().enumerate() {
                        if let Some(bk) = plan.slot_map[v][k] {
                            vb.diff_slot[k].push(&(vals - &base_slot_vals[bk]));
                        }
                    }
                    for (i, vals) in imp_vals.iter().enumerate() {
                        if let Some(bi) = plan.importer_map[v][i] {
                            vb.diff_importer[i].push(&(vals - &base_imp_vals[bi]));
                        }
                    }
                }
            }
        }
        first += lanes.len() as u64;
    }
    BlockStats {
        block,
        variants,
        losses,
    }
}

/// Reduce blocks in order into one set of moments per variant (already done in a run on one
/// machine: [`Accumulated::folded`]).
pub fn reduce_blocks(acc: &Accumulated) -> Vec<VariantBlock> {
    if let Some(folded) = &acc.folded {
        return folded.clone();
    }
    let mut total = None;
    for b in &acc.blocks {
        fold_block(&mut total, &b.variants);
    }
    total.unwrap_or_default()
}

/// Add one block's sums to `total`, variant by variant, starting from zeros of the first
/// block's shape.
fn fold_block(total: &mut Option<Vec<VariantBlock>>, block: &[VariantBlock]) {
    let out = total.get_or_insert_with(|| block.iter().map(zero_like).collect());
    for (o, v) in out.iter_mut().zip(block) {
        o.network_fill += &v.network_fill;
        o.losses += &v.losses;
        o.diff_losses += &v.diff_losses;
        add_all(&mut o.slot, &v.slot);
        add_all(&mut o.tts_days, &v.tts_days);
        add_all(&mut o.ttr_days, &v.ttr_days);
        add_all(&mut o.importer, &v.importer);
        add_all(&mut o.diff_slot, &v.diff_slot);
        add_all(&mut o.diff_importer, &v.diff_importer);
    }
}

fn zero_like(v: &VariantBlock) -> VariantBlock {
    VariantBlock {
        network_fill: Moments::default(),
        losses: CrossMoments::new(v.losses.len()),
        diff_losses: CrossMoments::new(v.diff_losses.len()),
        slot: vec![SlotMetrics::default(); v.slot.len()],
        tts_days: vec![Moments::default(); v.tts_days.len()],
        ttr_days: vec![Moments::default(); v.ttr_days.len()],
        importer: vec![ImporterMetrics::default(); v.importer.len()],
        diff_slot: vec![SlotMetrics::default(); v.diff_slot.len()],
        diff_importer: vec![ImporterMetrics::default(); v.diff_importer.len()],
    }
}

/// Add `b` to `a`, element by element.
fn add_all<T: for<'x> std::ops::AddAssign<&'x T>>(a: &mut [T], b: &[T]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Per-trial losses of variant `v`, importer `i`, in trial order.
pub fn losses_of(acc: &Accumulated, v: usize, i: usize, n_importers: usize) -> Vec<f32> {
    acc.blocks
        .iter()
        .flat_map(|b| b.losses[v].iter().skip(i).step_by(n_importers).copied())
        .collect()
}

/// Run all `trials` trials of every variant in `plan` on the current rayon pool.
pub fn run_all(plan: &Plan, trials: u64, seed: u64) -> Accumulated {
    run_blocks(plan, trials, seed, 0..n_blocks(trials), Sums::Folded, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks of one variant whose fill sums depend on the order they are added in (values of
    /// very different sizes).
    fn blocks(n: u64) -> Vec<BlockStats> {
        (0..n)
            .map(|b| {
                let mut v = VariantBlock::default();
                let x = ((b * 2_654_435_761) % 1000) as f64 * 10f64.powi((b % 7) as i32 * 3);
                v.network_fill.push(if b % 2 == 0 { x } else { -x / 3.0 });
                BlockStats {
                    block: b,
                    variants: vec![v],
                    losses: vec![vec![b as f32]],
                }
            })
            .collect()
    }

    /// Blocks given out of order are folded in block order, each once, as soon as every
    /// block before it is in: the sums of folding them all at the end in order, to the bit.
    #[test]
    fn blocks_finishing_out_of_order_fold_in_block_order() {
        let n = 40;
        let in_order = Accumulated {
            blocks: blocks(n),
            ints: Vec::new(),
            folded: None,
        };
        let want = format!("{:?}", reduce_blocks(&in_order));
        let mut reversed = blocks(n);
        reversed.reverse();
        let reversed = Accumulated {
            blocks: reversed,
            ints: Vec::new(),
            folded: None,
        };
        assert_ne!(
            format!("{:?}", reduce_blocks(&reversed)),
            want,
            "the test's sums depend on the order"
        );
        let mut fold = Fold::new(0);
        let mut out = Vec::new();
        let mut given: Vec<Option<BlockStats>> = blocks(n).into_iter().map(Some).collect();
        // 17 is prime to 40: every block once, far out of order.
        for i in 0..n {
            let b = given[((i * 17) % n) as usize]
                .take()
                .expect("each block once");
            let done = fold.add(b);
            let first = out.len() as u64;
            for (k, d) in done.iter().enumerate() {
                assert_eq!(d.block, first + k as u64);
                assert!(d.variants.is_empty());
                assert_eq!(d.losses, vec![vec![d.block as f32]]);
            }
            assert_eq!(fold.next, first + done.len() as u64);
            assert!(fold.pending.keys().all(|&p| p > fold.next));
            out.extend(done);
        }
        assert_eq!(out.len() as u64, n);
        assert!(fold.pending.is_empty());
        assert_eq!(format!("{:?}", fold.total.expect("folded")), want);
    }
}
