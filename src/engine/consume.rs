//! Step 5, consumption: each importer meets its demand (its nominal use times any demand
//! surge) from recycling and this step's arrivals, then from its stockpile, then from its pool;
//! what is left over refills the stockpile, and stock above the importer's target tops up the
//! pool; what is still above the target overflows (no stock holds more than its target). What
//! stays unmet is the step's shortfall (`outcome.rs` records it). For a material with a market,
//! the need is the demand at this step's price.

use super::outcome::{settle, settle_lane, SlotStep};
use super::state::Scratch;
use super::EPS;
use crate::lanes::{self, Lanes, LANES};
use crate::model::Model;

/// Step 5 at step `t` for every lane; the fills of the first `n` lanes (the group's trials)
/// are kept for the histograms.
#[inline(always)]
pub(super) fn consume(model: &Model, s: &mut Scratch, t: u32, n: usize) {
    if s.net.paths.lane_arithmetic {
        consume_lanes(model, s, t, n);
    } else {
        for l in 0..LANES {
            consume_lane(model, s, t, l, l < n);
        }
    }
}

/// The rule, for lane `l` (keeping its fills for the histograms if `record`).
fn consume_lane(model: &Model, s: &mut Scratch, t: u32, l: usize, record: bool) {
    let n_steps = model.n_steps as usize;
    let first = s.net.first_importer_slot;
    for b in first..model.slots.len() {
        let k = b - first;
        let need = need_lane(s, b, l);
        let recycled = need * s.net.slot_recycled[b];
        let arrived = s.arrived[b].0[l];
        s.arrived[b].0[l] = 0.0;
        let direct = lanes::min(need, recycled + arrived);
        let surplus = recycled + arrived - direct;
        let short = need - direct;
        if s.audit {
            s.flow.arrived.0[l] += arrived;
            s.flow.used.0[l] += direct - recycled;
        }
        // Short of contract supply: the stockpile covers what it can.
        let is_short = short > need * EPS;
        let bit = 1u16 << l;
        let deficit = &mut s.track.deficit[SlotStep { k, t, n_steps }.row()];
        *deficit = if is_short {
            *deficit | bit
        } else {
            *deficit & !bit
        };
        let draw = if is_short {
            lanes::min(short, s.stock[b].0[l])
        } else {
            0.0
        };
        s.stock[b].0[l] -= draw;
        if s.audit {
            s.flow.used.0[l] += draw;
        }
        s.stock[b].0[l] += surplus;
        s.track.short_now[k].0[l] = if is_short { short - draw } else { 0.0 };
    }
    pools(model, s, l);
    for b in first..model.slots.len() {
        cap_stock_lane(s, b, l);
    }
    for b in first..model.slots.len() {
        let need = need_lane(s, b, l);
        let k = b - first;
        let short_now = s.track.short_now[k].0[l];
        let at = SlotStep { k, t, n_steps };
        settle_lane(s, at, l, need, short_now, record);
    }
}

/// Fast path `lane_arithmetic`: [`consume_lane`] for all lanes at once; with
/// `settle_without_pools` and no pools, each slot is settled as soon as its stockpile has been
/// drawn.
#[inline(always)]
fn consume_lanes(model: &Model, s: &mut Scratch, t: u32, n: usize) {
    let n_steps = model.n_steps as usize;
    let first = s.net.first_importer_slot;
    let settle_now = model.pools.is_empty() && s.net.paths.settle_without_pools;
    for b in first..model.slots.len() {
        let k = b - first;
        let need = need_lanes(s, b);
        let recycled = need * s.net.slot_recycled[b];
        let arrived = s.arrived[b];
        s.arrived[b] = Lanes::ZERO;
        let direct = need.min(recycled + arrived);
        let surplus = recycled + arrived - direct;
        let short = need - direct;
        if s.audit {
            s.flow.arrived += arrived;
            s.flow.used += direct - recycled;
        }
        // Short lanes draw on the stockpile.
        let is_short = short.gt(need * EPS);
        let at = SlotStep { k, t, n_steps };
        s.track.deficit[at.row()] = is_short.bits();
        let draw = Lanes::select(is_short, short.min(s.stock[b]), Lanes::ZERO);
        s.stock[b] -= draw;
        if s.audit {
            s.flow.used += draw;
        }
        s.stock[b] += surplus;
        let short_now = Lanes::select(is_short, short - draw, Lanes::ZERO);
        if settle_now {
            cap_stock(s, b);
            settle(s, at, need, short_now, n);
        } else {
            s.track.short_now[k] = short_now;
        }
    }
    if settle_now {
        return;
    }
    for l in 0..LANES {
        pools(model, s, l);
    }
    for b in first..model.slots.len() {
        cap_stock(s, b);
    }
    for b in first..model.slots.len() {
        let need = need_lanes(s, b);
        let k = b - first;
        let short_now = s.track.short_now[k];
        settle(s, SlotStep { k, t, n_steps }, need, short_now, n);
    }
}

/// Importer slot `b`'s need in lane `l`: its nominal use times any demand surge, and, for a
/// material with a market, times its demand's response to this step's price.
#[inline(always)]
fn need_lane(s: &Scratch, b: usize, l: usize) -> f64 {
    let need = s.demand_factor[b].0[l] * s.net.slot_nominal[b];
    if s.net.slot_market[b] {
        need * s.slot_mult[b].0[l]
    } else {
        need
    }
}

/// [`need_lane`] for all lanes at once.
#[inline(always)]
fn need_lanes(s: &Scratch, b: usize) -> Lanes {
    let need = s.demand_factor[b] * s.net.slot_nominal[b];
    if s.net.slot_market[b] {
        need * s.slot_mult[b]
    } else {
        need
    }
}

/// No stock holds more than its target: what is above it overflows, lane `l` of slot `b`.
#[inline]
pub(super) fn cap_stock_lane(s: &mut Scratch, b: usize, l: usize) {
    let stock = s.stock[b].0[l];
    let capped = lanes::min(stock, s.net.slot_target[b]);
    if s.audit {
        s.flow.overflow.0[l] += stock - capped;
    }
    s.stock[b].0[l] = capped;
}

/// [`cap_stock_lane`] for all lanes at once.
#[inline(always)]
pub(super) fn cap_stock(s: &mut Scratch, b: usize) {
    let stock = s.stock[b];
    let capped = stock.min(Lanes::splat(s.net.slot_target[b]));
    if s.audit {
        s.flow.overflow += stock - capped;
    }
    s.stock[b] = capped;
}

/// Pools serve what members' own stockpiles could not, pro rata to that need; members' stock
/// above their own target tops the pool up. Lane `l`.
fn pools(model: &Model, s: &mut Scratch, l: usize) {
    let first = s.net.first_importer_slot;
    let short = &mut s.track.short_now;
    for (p, pool) in model.pools.iter().enumerate() {
        let total: f64 = pool.slots.iter().map(|b| short[b.ix() - first].0[l]).sum();
        let pool_stock = &mut s.pool_stock[p].0[l];
        if total > 0.0 && *pool_stock > 0.0 {
            let give = total.min(*pool_stock);
            *pool_stock -= give;
            s.flow.used.0[l] += give;
            for b in &pool.slots {
                let x = &mut short[b.ix() - first].0[l];
                *x -= *x / total * give;
            }
        }
        for b in &pool.slots {
            let b = b.ix();
            let excess = s.stock[b].0[l] - model.slots[b].stock_target;
            let room = pool.stock_target - *pool_stock;
            if excess > 0.0 && room > 0.0 {
                let moved = excess.min(room);
                s.stock[b].0[l] -= moved;
                *pool_stock += moved;
            }
        }
    }
}
