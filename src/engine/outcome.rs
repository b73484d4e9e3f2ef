//! A trial's outcomes from its fill series: each importer slot's step is settled (its demand,
//! unmet units, fill and the sums over fills), and at the end of the group the per-trial
//! outcomes are read off (days short, depth, resilience triangle, time to survive and to
//! recover: `docs/model.md`, "Metrics").

use super::state::{Balance, Scratch};
use super::EPS;
use crate::lanes::{self, Lanes, LANES};
use crate::model::Model;
use crate::stats::{CurveAcc, PriceAcc, SlotTrial};

/// Per importer slot and lane: what the trial so far amounts to. Sums over the fill series
/// are kept step by step; timings (time to survive and recover) are read off per-step bits at
/// the end.
#[derive(Debug, Clone)]
pub(super) struct Track {
    demand: Vec<Lanes>,
    unmet: Vec<Lanes>,
    /// Unmet units weighted by their step's discount factor (with a discount rate only).
    unmet_pv: Vec<Lanes>,
    /// This step's shortfall.
    pub short_now: Vec<Lanes>,
    /// Per importer slot and step, one bit per lane: contract supply fell short of need (before
    /// stocks). Slot-major.
    pub deficit: Vec<u16>,
    /// Per importer slot and step, one bit per lane: fill below 1. Slot-major.
    short: Vec<u16>,
    sums: Vec<SeriesSums>,
    /// Market materials: extra spend, surplus lost, highest and lowest price.
    pub extra_spend: Vec<Lanes>,
    pub surplus_lost: Vec<Lanes>,
    pub peak_price: Vec<Lanes>,
    pub trough_price: Vec<Lanes>,
    /// Per importer slot and step, slot-major: the price paid (markets only; empty without).
    /// Only the steps of `price_span` are written in a group: at every other step the slot
    /// paid the reference price in every lane, and its entries hold stale values from earlier
    /// groups (read the span only).
    pub price: Vec<Lanes>,
    /// Per importer slot: the steps `[start, end)` of `price` written in this group (the first
    /// to the last step at which some lane paid other than the reference price; empty when
    /// none did).
    pub price_span: Vec<(u32, u32)>,
}

impl Track {
    pub(super) fn new(k: usize, n_steps: usize, priced: bool) -> Track {
        Track {
            demand: vec![Lanes::ZERO; k],
            unmet: vec![Lanes::ZERO; k],
            unmet_pv: vec![Lanes::ZERO; k],
            short_now: vec![Lanes::ZERO; k],
            deficit: vec![0; k * n_steps],
            short: vec![0; k * n_steps],
            sums: vec![SeriesSums::ZERO; k],
            extra_spend: vec![Lanes::ZERO; k],
            surplus_lost: vec![Lanes::ZERO; k],
            peak_price: vec![Lanes::ONE; k],
            trough_price: vec![Lanes::ONE; k],
            price: if priced {
                vec![Lanes::ONE; k * n_steps]
            } else {
                Vec::new()
            },
            price_span: vec![(0, 0); k],
        }
    }

    /// The number of importer slots.
    pub(super) fn slots(&self) -> usize {
        self.demand.len()
    }

    pub(super) fn reset(&mut self) {
        for v in [
            &mut self.demand,
            &mut self.unmet,
            &mut self.unmet_pv,
            &mut self.short_now,
            &mut self.extra_spend,
            &mut self.surplus_lost,
        ] {
            v.fill(Lanes::ZERO);
        }
        self.peak_price.fill(Lanes::ONE);
        self.trough_price.fill(Lanes::ONE);
        self.price_span.fill((0, 0));
        self.sums.fill(SeriesSums::ZERO);
    }

    /// Importer slot `k` paid `price` at step `t` (not the reference price in every lane): it
    /// is written, after the reference price at the steps since the last one written.
    #[inline(always)]
    pub(super) fn note_price(&mut self, k: usize, t: u32, n_steps: usize, price: Lanes) {
        let (start, end) = &mut self.price_span[k];
        debug_assert!(start == end || t >= *end, "steps are noted in order");
        if start == end {
            *start = t;
        } else {
            self.price[k * n_steps + *end as usize..k * n_steps + t as usize].fill(Lanes::ONE);
        }
        self.price[k * n_steps + t as usize] = price;
        *end = t + 1;
    }
}

/// Importer slot `at.k` at step `at.t`, in the per-step series of a group.
#[derive(Debug, Clone, Copy)]
pub(super) struct SlotStep {
    pub k: usize,
    pub t: u32,
    pub n_steps: usize,
}

impl SlotStep {
    /// The index of this slot and step in the slot-major per-step series.
    #[inline(always)]
    pub(super) fn row(self) -> usize {
        self.k * self.n_steps + self.t as usize
    }
}

/// Slot `at`, lane `l`, is left `short_now` of its `need`: add up its demand, unmet units and
/// fill series, and keep its fill for the histograms if `record` (a lane of the group's
/// trials). The rule.
pub(super) fn settle_lane(
    s: &mut Scratch,
    at: SlotStep,
    l: usize,
    need: f64,
    short_now: f64,
    record: bool,
) {
    let short = if short_now > need * EPS {
        short_now
    } else {
        0.0
    };
    let tr = &mut s.track;
    tr.demand[at.k].0[l] += need;
    tr.unmet[at.k].0[l] += short;
    if let Some(w) = s.weight.get(at.t as usize) {
        tr.unmet_pv[at.k].0[l] += short * w;
    }
    // Below 1 exactly when short: short/need is then above EPS.
    let fill = if need > 0.0 { 1.0 - short / need } else { 1.0 };
    let i = at.row();
    tr.sums[at.k].add_lane(l, fill);
    let bit = 1u16 << l;
    tr.short[i] = if 1.0 > fill {
        tr.short[i] | bit
    } else {
        tr.short[i] & !bit
    };
    if s.audit {
        s.fills[i].0[l] = fill;
    }
    if record {
        s.fill_rec.record(at.k, at.t as usize, l, fill);
    }
}

/// [`settle_lane`] for all lanes at once (fills of the first `n` lanes kept for the
/// histograms).
#[inline(always)]
pub(super) fn settle(s: &mut Scratch, at: SlotStep, need: Lanes, short_now: Lanes, n: usize) {
    let short = Lanes::select(short_now.gt(need * EPS), short_now, Lanes::ZERO);
    let tr = &mut s.track;
    tr.demand[at.k] += need;
    tr.unmet[at.k] += short;
    if let Some(&w) = s.weight.get(at.t as usize) {
        tr.unmet_pv[at.k] += short * Lanes::splat(w);
    }
    let fill = Lanes::select(need.gt(Lanes::ZERO), Lanes::ONE - short / need, Lanes::ONE);
    let i = at.row();
    tr.sums[at.k].add(fill);
    tr.short[i] = Lanes::ONE.gt(fill).bits();
    if s.audit {
        s.fills[i] = fill;
    }
    s.fill_rec.record_lanes(at.k, at.t as usize, &fill, n);
}

/// Close the group: outcomes and mass balance of its first `n` lanes.
#[inline(always)]
pub(super) fn finish(model: &Model, s: &mut Scratch, n: usize) {
    let n_steps = model.n_steps as usize;
    let k_slots = s.track.slots();
    let discounted = !s.weight.is_empty();
    let stock_initial: f64 = model.slots.iter().map(|x| x.stock_initial).sum::<f64>()
        + model.pools.iter().map(|p| p.stock_target).sum::<f64>();
    let in_transit_initial: f64 = model
        .pipes
        .iter()
        .map(|p| p.initial_per_step * p.lead_steps as f64)
        .sum();
    for k in 0..k_slots {
        let short = &s.track.short[k * n_steps..(k + 1) * n_steps];
        let deficit = &s.track.deficit[k * n_steps..(k + 1) * n_steps];
        let sums = &s.track.sums[k];
        for l in 0..n {
            s.outcomes[l * k_slots + k] = SlotTrial {
                demand: s.track.demand[k].0[l],
                unmet: s.track.unmet[k].0[l],
                unmet_pv: if discounted {
                    s.track.unmet_pv[k].0[l]
                } else {
                    s.track.unmet[k].0[l]
                },
                extra_spend: s.track.extra_spend[k].0[l],
                surplus_lost: s.track.surplus_lost[k].0[l],
                peak_price: s.track.peak_price[k].0[l],
                trough_price: s.track.trough_price[k].0[l],
                ..read_series(short, deficit, sums, l, model.sustain_steps.max(1))
            };
        }
    }
    for l in 0..n {
        s.balances[l] = Balance {
            shipped: s.flow.shipped.0[l],
            arrived: s.flow.arrived.0[l],
            in_transit_initial,
            in_transit_final: s.in_transit.iter().map(|x| x.0[l]).sum(),
            stock_initial,
            stock_final: s.stock.iter().map(|x| x.0[l]).sum::<f64>()
                + s.pool_stock.iter().map(|x| x.0[l]).sum::<f64>(),
            used: s.flow.used.0[l],
            overflow: s.flow.overflow.0[l],
            over_target: s.flow.over_target.0[l],
        };
    }
}

/// Sums over the steps of one importer slot's fill series so far, all lanes at once, without
/// branches: full service adds zero and leaves the depth.
#[derive(Debug, Clone, Copy)]
struct SeriesSums {
    shortfall: Lanes,
    max_depth: Lanes,
    steps_short: [u32; LANES],
}

impl SeriesSums {
    const ZERO: SeriesSums = SeriesSums {
        shortfall: Lanes::ZERO,
        max_depth: Lanes::ZERO,
        steps_short: [0; LANES],
    };

    /// The next step's fill.
    #[inline(always)]
    fn add(&mut self, fill: Lanes) {
        let depth = Lanes::ONE - fill;
        self.shortfall += depth;
        self.max_depth = self.max_depth.max(depth);
        for (n, f) in self.steps_short.iter_mut().zip(&fill.0) {
            *n += u32::from(*f < 1.0);
        }
    }

    /// The next step's fill in lane `l`: [`SeriesSums::add`] for one lane.
    fn add_lane(&mut self, l: usize, fill: f64) {
        let depth = 1.0 - fill;
        self.shortfall.0[l] += depth;
        self.max_depth.0[l] = lanes::max(self.max_depth.0[l], depth);
        self.steps_short[l] += u32::from(fill < 1.0);
    }
}

/// Lane `l`'s step-by-step outcomes of one importer slot, from the steps it was short, the sums
/// over its fills, and the steps its contract supply fell short: days short, the resilience
/// triangle, the deepest shortfall, time to survive (from the onset of the deficit to the first
/// shortage) and to recover (to the start of the first run of `sustain` steps of full service
/// after it; full service through the end of the horizon counts).
#[inline(always)]
fn read_series(
    short: &[u16],
    deficit: &[u16],
    sums: &SeriesSums,
    l: usize,
    sustain: u32,
) -> SlotTrial {
    let mut r = SlotTrial {
        steps_short: sums.steps_short[l],
        shortfall_frac_sum: sums.shortfall.0[l],
        max_depth: sums.max_depth.0[l],
        ..SlotTrial::default()
    };
    if r.steps_short == 0 {
        return r;
    }
    let Some(first) = short.iter().position(|bits| bits >> l & 1 != 0) else {
        return r;
    };
    r.first_short = first as u32;
    let onset = deficit[..=first]
        .iter()
        .rposition(|bits| bits >> l & 1 == 0)
        .map_or(0, |i| i + 1);
    r.tts = (first - onset.min(first)) as u32;
    // Recovery: the start of the first run of `sustain` full steps after the first shortage,
    // or of the run of full service that reaches the end of the horizon.
    let mut run = 0u32;
    for (t, bits) in short.iter().enumerate().skip(first + 1) {
        run = if bits >> l & 1 != 0 { 0 } else { run + 1 };
        if run >= sustain {
            r.recovered_at = t as u32 + 1 - run;
            return r;
        }
    }
    if run > 0 {
        r.recovered_at = short.len() as u32 - run;
    }
    r
}

impl Scratch {
    /// Importer slot `k`'s fill (share of its need met) at every step of lane `lane` of the
    /// last group; `None` when the scratch is unaudited (the series is not kept).
    pub fn fill_path(&self, lane: usize, k: usize) -> Option<Vec<f64>> {
        let n = self.fills.len() / self.track.slots().max(1);
        (!self.fills.is_empty()).then(|| (0..n).map(|t| self.fills[k * n + t].0[lane]).collect())
    }

    /// The price importer slot `k` paid at every step of lane `lane` of the last group, as a
    /// multiple of the reference price (1 at every step for a material without a market).
    pub fn price_path(&self, lane: usize, k: usize, n_steps: usize) -> Vec<f64> {
        let mut out = vec![1.0; n_steps];
        if self.track.price.is_empty() {
            return out;
        }
        let (start, end) = (
            self.track.price_span[k].0 as usize,
            self.track.price_span[k].1 as usize,
        );
        for (t, p) in out.iter_mut().enumerate().take(end).skip(start) {
            *p = self.track.price[k * n_steps + t].0[lane];
        }
        out
    }

    /// Count the fills of the first `n` lanes of the last group into `acc`: every importer
    /// slot's fill at every step.
    pub fn record_fills(&self, acc: &mut CurveAcc, n: usize) {
        acc.count_group(&self.fill_rec, n);
    }

    /// Record the prices of the first `n` lanes of the last group into `acc`: each priced
    /// slot's price at every step, and its peak.
    pub fn record_prices(&self, acc: &mut PriceAcc, n: usize) {
        let n_steps = acc.n_steps;
        for j in 0..acc.slots.len() {
            let k = acc.slots[j] as usize;
            // Outside its span, the slot paid the reference price, which records nothing.
            let (start, end) = self.track.price_span[k];
            for t in start as usize..end as usize {
                acc.record_lanes(j, t, &self.track.price[k * n_steps + t], n);
            }
            acc.record_lanes(j, n_steps, &self.track.peak_price[k], n);
        }
    }
}
