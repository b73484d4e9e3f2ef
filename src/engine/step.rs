//! The step loop of a group of trials. Within a step, in this order (`docs/model.md`, "One
//! step of a trial"):
//! 1. shocks: events starting now start, ended ones recover; factors are recomputed (the
//!    largest severity holds);
//! 2. arrivals: goods whose lead time is up arrive, unless their route is closed (they wait);
//! 3. orders, downstream to upstream: importers order use plus stock refill; each supplier
//!    plans the output its unbanned, reachable buyers ordered, capped by its effective
//!    capacity, and orders the inputs that output needs plus its own input-stock refill;
//! 4. production and allocation, upstream to downstream, material by material: output is the
//!    plan capped by inputs on hand (Leontief), shipped pro rata to orders (priority regions
//!    first when the supplier has them); then the material's spot market offers leftover and
//!    ramped spare capacity to buyers short of contract supply for longer than `switch_days`,
//!    pro rata to their unmet need. A material with a market clears instead: a price per
//!    access class, demand that responds to it, supply that follows it, rationing only at the
//!    ceiling;
//! 5. consumption: importers meet demand from recycling and arrivals, then their stockpile,
//!    then their pool; surplus refills the stockpile and overflow tops up the pool.

use super::consume::consume;
use super::events::{apply_masks, lay_out, step_shocks};
use super::market::{market, price_losses, MarketScratch};
use super::orders::orders;
use super::outcome::finish;
use super::produce::produce;
use super::spot::spot_market;
use super::state::Scratch;
use super::transport::{advance_clocks, arrivals};
use super::Lockstep;
use crate::lanes::LANES;
use crate::model::Model;
use crate::shocks::Event;

/// The body of [`run_lockstep`](super::run_lockstep) (and so of
/// [`run_group`](super::run_group), a lockstep of one): every run's group set up, then step by
/// step each run in turn, the first (the baseline) before the others, then every group's
/// outcomes. It and the step's hot functions are inlined wherever they are called, so that each
/// compiled [`Isa`](super::Isa) gets its own copy of them all.
#[inline(always)]
pub(super) fn lockstep<E: AsRef<[Event]>>(runs: &mut [Lockstep<'_, E>]) {
    for r in runs.iter_mut() {
        let n = r.events.len();
        assert!(
            (1..=LANES).contains(&n),
            "a group holds 1 to {LANES} trials"
        );
        r.scratch.reset(r.model);
        lay_out(r.scratch, r.events, r.model.n_steps as usize);
    }
    let n_steps = runs.iter().map(|r| r.model.n_steps).max().unwrap_or(0);
    if let Some((base, rest)) = runs.split_first_mut() {
        base.scratch.shared_markets.clear();
        for r in rest.iter_mut() {
            r.scratch.share_markets_with(base.scratch);
        }
        for t in 0..n_steps {
            if t < base.model.n_steps {
                step(base.model, base.scratch, base.events.len(), t, None);
            }
            let shared = base.scratch.market.as_deref();
            for r in rest.iter_mut() {
                if t < r.model.n_steps {
                    step(r.model, r.scratch, r.events.len(), t, shared);
                }
            }
        }
    }
    for r in runs.iter_mut() {
        finish(r.model, r.scratch, r.events.len());
        if let Some(c) = r.curves.as_deref_mut() {
            r.scratch.record_fills(c, r.events.len());
        }
    }
}

/// Step `t` of the group of `n` trials in `s`. `base` is the baseline's market scratch when
/// this is a variant run in lockstep with it.
#[inline(always)]
fn step(model: &Model, s: &mut Scratch, n: usize, t: u32, base: Option<&MarketScratch>) {
    let n_steps = model.n_steps as usize;
    let quiet_steps = s.net.paths.quiet_steps;
    // 1. Shocks: outage masks for all lanes at once, then other events trial by trial
    // (each has its own).
    apply_masks(s, t as usize, n_steps);
    for l in 0..n {
        if !quiet_steps || t >= s.shocks_due[l] {
            step_shocks(s, l, t);
        }
    }
    // 2. Arrivals.
    arrivals(model, s);
    // 3. Orders, downstream first.
    orders(model, s);
    // 4. Production and allocation, upstream first, with each material's spot market.
    let mut begin = 0usize;
    for i in 0..s.net.material_ends.len() {
        let (m, end) = s.net.material_ends[i];
        if model.materials[m as usize].market.is_some() {
            // A market replaces contract allocation and the spot market.
            market(model, s, m as usize, begin..end as usize, base);
            begin = end as usize;
            continue;
        }
        for p in begin..end as usize {
            let si = s.net.prod[p] as usize;
            produce(model, s, si);
        }
        begin = end as usize;
        if !s.net.switch_slots[m as usize].is_empty() {
            for l in 0..n {
                spot_market(model, s, m as usize, t, l);
            }
        }
    }
    // 5. Consumption.
    consume(model, s, t, n);
    if s.net.any_market {
        price_losses(model, s, t);
    }
    if s.audit {
        s.flow.note_stock_peaks(model, &s.stock, &s.pool_stock);
    }
    advance_clocks(s);
}
