//! Step 3, orders, downstream to upstream: importers order their use plus a stock refill (and
//! their share of their pool's refill); each supplier plans the output its unbanned, reachable
//! buyers ordered, capped by its effective capacity, and orders the inputs that output needs
//! plus its own input-stock refill. Each order's use part is kept apart (`use_order`):
//! allocation serves it before any refill part. A refill downstream stays a refill upstream:
//! a supplier plans the use parts of its orders first, and only the inputs of the output
//! planned for its use parts are use parts of its own input orders.

use super::state::Scratch;
use super::NONE;
use crate::lanes::{self, Lanes, LANES};
use crate::model::Model;

/// Step 3 for every lane of the group.
#[inline(always)]
pub(super) fn orders(model: &Model, s: &mut Scratch) {
    if s.net.paths.lane_arithmetic {
        orders_lanes(model, s);
    } else {
        for l in 0..LANES {
            orders_lane(model, s, l);
        }
    }
}

/// The rule, for lane `l`.
fn orders_lane(model: &Model, s: &mut Scratch, l: usize) {
    let net = &s.net;
    let refill = |s: &Scratch, b: usize| {
        let gap = net.slot_level[b] - s.stock[b].0[l] - s.arrived[b].0[l] - s.in_transit[b].0[l];
        lanes::positive_min(
            gap,
            lanes::refill_floor(net.slot_level[b]),
            net.slot_refill[b],
        )
    };
    for b in net.first_importer_slot..model.slots.len() {
        let use_ = s.demand_factor[b].0[l] * net.slot_base_order[b];
        s.use_order[b].0[l] = use_;
        let mut o = use_;
        o += refill(s, b);
        o += pool_refill(model, s, b, l);
        s.order[b].0[l] = o;
    }
    if net.any_spot {
        for x in &mut s.contract_shipped {
            x.0[l] = 0.0;
        }
    }
    for &si in net.prod.iter().rev() {
        let si = si as usize;
        let (e0, e1) = net.sup_edges[si];
        let (mut servable, mut servable_use) = (0.0, 0.0);
        for e in e0 as usize..e1 as usize {
            let b = net.e_slot[e] as usize;
            let (share, gate) = (net.e_share[e], s.gate[e].0[l]);
            let q = s.order[b].0[l] * share * gate;
            s.eff_order[e].0[l] = q;
            servable += q;
            servable_use += s.use_order[b].0[l] * share * gate;
        }
        s.servable[si].0[l] = servable;
        let cap = s.cap_factor[si].0[l] * net.sup_capacity[si];
        let planned = lanes::min(servable, cap);
        s.planned[si].0[l] = planned;
        // The output planned for use parts, which capacity serves first.
        let planned_use = if net.sup_refills[si] {
            lanes::min(servable_use, planned)
        } else {
            planned
        };
        let (i0, i1) = net.sup_inputs[si];
        for b in i0 as usize..i1 as usize {
            let use_ = planned_use * net.slot_ratio[b];
            s.use_order[b].0[l] = use_;
            s.order[b].0[l] = planned * net.slot_ratio[b] + refill(s, b);
        }
    }
}

/// Importer slot `b`'s share of its pool's refill in lane `l` (0 outside a pool).
pub(super) fn pool_refill(model: &Model, s: &Scratch, b: usize, l: usize) -> f64 {
    let p = s.net.slot_pool[b];
    if p == NONE {
        return 0.0;
    }
    let pool = &model.pools[p as usize];
    let gap = pool.stock_target - s.pool_stock[p as usize].0[l];
    let floor = lanes::refill_floor(pool.stock_target);
    lanes::positive_min(gap, floor, pool.refill_per_step) * s.net.pool_share[b]
}

/// Fast path `lane_arithmetic` (and `ungated_edges`): [`orders_lane`] for all lanes at once.
#[inline(always)]
fn orders_lanes(model: &Model, s: &mut Scratch) {
    // Disjoint borrows as local slices: the compiler can then keep every base pointer in a
    // register instead of reloading it after each store.
    let net = &s.net;
    let order = &mut s.order[..];
    let use_order = &mut s.use_order[..];
    let contract_shipped = &mut s.contract_shipped[..];
    let (stock, arrived, in_transit) = (&s.stock[..], &s.arrived[..], &s.in_transit[..]);
    let demand_factor = &s.demand_factor[..];
    for b in net.first_importer_slot..model.slots.len() {
        let use_ = demand_factor[b] * net.slot_base_order[b];
        use_order[b] = use_;
        let mut o = use_;
        // A refill capped at zero adds zero.
        if net.slot_refill[b] > 0.0 {
            let gap = Lanes::splat(net.slot_level[b]) - stock[b] - arrived[b] - in_transit[b];
            o += gap.positive_min(lanes::refill_floor(net.slot_level[b]), net.slot_refill[b]);
        }
        if net.slot_pool[b] != NONE {
            let p = net.slot_pool[b] as usize;
            let pool = &model.pools[p];
            if pool.refill_per_step > 0.0 {
                let gap = Lanes::splat(pool.stock_target) - s.pool_stock[p];
                let floor = lanes::refill_floor(pool.stock_target);
                o += gap.positive_min(floor, pool.refill_per_step) * net.pool_share[b];
            }
        }
        order[b] = o;
    }
    if net.any_spot {
        contract_shipped.fill(Lanes::ZERO);
    }
    let eff_order = &mut s.eff_order[..];
    let gate = &s.gate[..];
    let (servable_out, planned_out) = (&mut s.servable[..], &mut s.planned[..]);
    let cap_factor = &s.cap_factor[..];
    let (e_slot, e_share) = (&net.e_slot[..], &net.e_share[..]);
    for &si in net.prod.iter().rev() {
        let si = si as usize;
        let (e0, e1) = net.sup_edges[si];
        let (e0, e1) = (e0 as usize, e1 as usize);
        let mut servable = Lanes::ZERO;
        let edges = eff_order[e0..e1]
            .iter_mut()
            .zip(&e_slot[e0..e1])
            .zip(&e_share[e0..e1]);
        if net.sup_gated[si] {
            for (((q_out, &b), &share), g) in edges.zip(&gate[e0..e1]) {
                let q = order[b as usize] * share * *g;
                *q_out = q;
                servable += q;
            }
        } else {
            // Fast path `ungated_edges`: no ban or closure can reach these edges, so their
            // gates stay 1.
            for ((q_out, &b), &share) in edges {
                let q = order[b as usize] * share;
                *q_out = q;
                servable += q;
            }
        }
        servable_out[si] = servable;
        let planned = servable.min(cap_factor[si] * net.sup_capacity[si]);
        planned_out[si] = planned;
        // The output planned for use parts, which capacity serves first.
        let planned_use = if net.sup_refills[si] {
            let mut servable_use = Lanes::ZERO;
            for e in e0..e1 {
                let q = use_order[e_slot[e] as usize] * e_share[e];
                servable_use += if net.sup_gated[si] { q * gate[e] } else { q };
            }
            servable_use.min(planned)
        } else {
            planned
        };
        let (i0, i1) = net.sup_inputs[si];
        for b in i0 as usize..i1 as usize {
            use_order[b] = planned_use * net.slot_ratio[b];
            let mut o = planned * net.slot_ratio[b];
            if net.slot_refill[b] > 0.0 {
                let gap = Lanes::splat(net.slot_level[b]) - stock[b] - arrived[b] - in_transit[b];
                o += gap.positive_min(lanes::refill_floor(net.slot_level[b]), net.slot_refill[b]);
            }
            order[b] = o;
        }
    }
}
