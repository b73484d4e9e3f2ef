//! Step 4, production and contract allocation, for one supplier: output is the plan capped by
//! the inputs on hand (Leontief: each input in its fixed ratio), shipped to contract buyers pro
//! rata to their orders, buyers in the supplier's priority regions first; whatever capacity is
//! left is offered on the material's spot market.

use super::net::Alloc;
use super::state::Scratch;
use super::transport::{ship, ship_lanes};
use super::EPS;
use crate::lanes::{self, Lanes, Mask, LANES};
use crate::model::Model;

/// Step 4 for supplier `si`, every lane of the group.
#[inline(always)]
pub(super) fn produce(model: &Model, s: &mut Scratch, si: usize) {
    match s.net.sup_alloc[si] {
        Alloc::Reference => {
            for l in 0..LANES {
                produce_lane(model, s, si, l);
            }
        }
        Alloc::SameStep => {
            let output = output_lanes(s, si);
            let split = Split::new(s, si, output);
            pro_rata_same_step(s, si, &split);
            use_inputs_lanes(s, si, output);
        }
        Alloc::ProRata => {
            let output = output_lanes(s, si);
            let split = Split::new(s, si, output);
            pro_rata(model, s, si, &split);
            use_inputs_lanes(s, si, output);
        }
        Alloc::ByLane => {
            let output = output_lanes(s, si);
            for l in 0..LANES {
                allocate_lane(model, s, si, output.0[l], l);
            }
            use_inputs_lanes(s, si, output);
        }
    }
}

/// The rule, for lane `l`.
fn produce_lane(model: &Model, s: &mut Scratch, si: usize, l: usize) {
    let output = lanes::min(s.planned[si].0[l], input_limit_lane(s, si, l));
    if s.audit {
        s.flow.shipped.0[l] += output;
    }
    allocate_lane(model, s, si, output, l);
    use_inputs_lane(s, si, output, l);
    if s.net.sup_spot[si] {
        let cap = s.cap_factor[si].0[l] * s.net.sup_capacity[si];
        s.spot_avail[si].0[l] = lanes::max(cap - output, 0.0);
    }
}

/// Ship supplier `si`'s `output` in lane `l` to its buyers, through pipes where routes have
/// lead times. When the output falls short of the orders, it serves in two passes: the use part
/// of every order, then the stock-refill parts; in each pass, buyers in the supplier's priority
/// regions first, pro rata among them, the rest sharing what is left.
fn allocate_lane(model: &Model, s: &mut Scratch, si: usize, output: f64, l: usize) {
    if output <= 0.0 {
        return;
    }
    let servable = s.servable[si].0[l];
    let (e0, e1) = s.net.sup_edges[si];
    let (e0, e1) = (e0 as usize, e1 as usize);
    if output >= servable * (1.0 - EPS) {
        let r = lanes::min(output / servable, 1.0);
        for e in e0..e1 {
            let q = s.eff_order[e].0[l] * r;
            deliver(model, s, e, q, l);
        }
        return;
    }
    // Each edge's order splits into its use part and the rest (refill).
    let use_of = |s: &Scratch, e: usize| {
        s.use_order[s.net.e_slot[e] as usize].0[l] * s.net.e_share[e] * s.gate[e].0[l]
    };
    let (mut prio_use, mut all_use, mut prio_refill, mut all_refill) = (0.0, 0.0, 0.0, 0.0);
    for e in e0..e1 {
        let (u, q) = (use_of(s, e), s.eff_order[e].0[l]);
        all_use += u;
        all_refill += q - u;
        if s.net.e_priority[e] {
            prio_use += u;
            prio_refill += q - u;
        }
    }
    let (use_prio, use_rest, left) = pass(output, prio_use, all_use);
    let (refill_prio, refill_rest, _) = pass(left, prio_refill, all_refill);
    for e in e0..e1 {
        let (u, q) = (use_of(s, e), s.eff_order[e].0[l]);
        let (r_use, r_refill) = if s.net.e_priority[e] {
            (use_prio, refill_prio)
        } else {
            (use_rest, refill_rest)
        };
        deliver(model, s, e, u * r_use + (q - u) * r_refill, l);
    }
}

/// One allocation pass: `amount` shared among orders summing to `total`, of which `prio` is
/// in priority regions and served first. Returns the ratios of the priority orders and the
/// rest, and what is left.
fn pass(amount: f64, prio: f64, total: f64) -> (f64, f64, f64) {
    if prio <= 0.0 {
        let r = if total > 0.0 {
            lanes::min(amount / total, 1.0)
        } else {
            0.0
        };
        (r, r, lanes::max(amount - total * r, 0.0))
    } else {
        let r_prio = lanes::min(amount / prio, 1.0);
        let left = lanes::max(amount - prio * r_prio, 0.0);
        let rest = total - prio;
        let r_rest = if rest > 0.0 {
            lanes::min(left / rest, 1.0)
        } else {
            0.0
        };
        (r_prio, r_rest, lanes::max(left - rest * r_rest, 0.0))
    }
}

/// Ship `q` along contract edge `e` in lane `l`.
fn deliver(model: &Model, s: &mut Scratch, e: usize, q: f64, l: usize) {
    if q > 0.0 {
        let b = s.net.e_slot[e] as usize;
        s.contract_shipped[b].0[l] += q;
        ship(model, s, b, s.net.e_pipe[e], q, l);
    }
}

/// Units of output the inputs on hand allow in lane `l` (infinite for a raw-material
/// supplier).
pub(super) fn input_limit_lane(s: &Scratch, si: usize, l: usize) -> f64 {
    let (i0, i1) = s.net.sup_inputs[si];
    let mut limit = f64::INFINITY;
    for b in i0 as usize..i1 as usize {
        let on_hand = s.stock[b].0[l] + s.arrived[b].0[l];
        limit = lanes::min(limit, on_hand / s.net.slot_ratio[b]);
    }
    limit
}

/// Use up the inputs of `output` units in lane `l`: what arrived joins the input stock, and
/// the output's share of each input leaves it; the stock keeps at most its target.
pub(super) fn use_inputs_lane(s: &mut Scratch, si: usize, output: f64, l: usize) {
    let (i0, i1) = s.net.sup_inputs[si];
    for b in i0 as usize..i1 as usize {
        let used = output * s.net.slot_ratio[b];
        let (stock, arrived) = (s.stock[b].0[l], s.arrived[b].0[l]);
        if s.audit {
            s.flow.arrived.0[l] += arrived;
            s.flow.used.0[l] += used;
        }
        s.stock[b].0[l] = lanes::max(stock + arrived - used, 0.0);
        s.arrived[b].0[l] = 0.0;
        super::consume::cap_stock_lane(s, b, l);
    }
}

/// Fast path `lane_arithmetic`: the output of [`produce_lane`] for all lanes at once.
#[inline(always)]
fn output_lanes(s: &mut Scratch, si: usize) -> Lanes {
    let (i0, i1) = s.net.sup_inputs[si];
    // A raw-material supplier has no input limit.
    let output = if i0 == i1 {
        s.planned[si]
    } else {
        s.planned[si].min(input_limit(s, si))
    };
    if s.audit {
        s.flow.shipped += output;
    }
    output
}

/// Fast path `lane_arithmetic`: the end of [`produce_lane`] for all lanes at once, once
/// `output` is shipped: inputs used, and what is left for the spot market.
#[inline(always)]
fn use_inputs_lanes(s: &mut Scratch, si: usize, output: Lanes) {
    use_inputs(s, si, output);
    if s.net.sup_spot[si] {
        s.spot_avail[si] = (s.cap_factor[si] * s.net.sup_capacity[si] - output).max(Lanes::ZERO);
    }
}

/// How a supplier without priority regions shares its output among its orders, in lane
/// arithmetic: one ratio of every order (`r`) where output covers the orders, or where it falls
/// short but nobody orders a refill; two passes ([`allocate_lane`]'s use, then refill) in the
/// lanes (`two_pass`) where it falls short and some buyer orders a refill. Without refill parts
/// the use parts are the orders, so one ratio is the same bits as the two passes.
struct Split {
    r: Lanes,
    two_pass: Option<TwoPass>,
}

struct TwoPass {
    lanes: Mask,
    r_use: Lanes,
    r_refill: Lanes,
}

impl Split {
    #[inline(always)]
    fn new(s: &Scratch, si: usize, output: Lanes) -> Split {
        let servable = s.servable[si];
        let r = (output / servable).min(Lanes::ONE);
        if !s.net.sup_refills[si] {
            return Split { r, two_pass: None };
        }
        let short = (0..LANES).fold(0u8, |acc, l| {
            let (o, v) = (output.0[l], servable.0[l]);
            acc | (u8::from(o > 0.0 && o < v * (1.0 - EPS)) << l)
        });
        if short == 0 {
            return Split { r, two_pass: None };
        }
        Split {
            r,
            two_pass: two_pass(s, si, output, short),
        }
    }

    /// What edge `e` (order `eff`) ships.
    #[inline(always)]
    fn of(&self, s: &Scratch, e: usize, eff: Lanes) -> Lanes {
        match &self.two_pass {
            None => eff * self.r,
            Some(tp) => {
                let u = use_part(s, e);
                Lanes::select(
                    tp.lanes,
                    u * tp.r_use + (eff - u) * tp.r_refill,
                    eff * self.r,
                )
            }
        }
    }
}

/// The use part of edge `e`'s order, as [`allocate_lane`] computes it.
#[inline(always)]
fn use_part(s: &Scratch, e: usize) -> Lanes {
    s.use_order[s.net.e_slot[e] as usize] * s.net.e_share[e] * s.gate[e]
}

/// The two-pass ratios of [`allocate_lane`] in the `short` lanes (bit `l`) where some buyer
/// orders a refill; None if there is no such lane.
#[cold]
fn two_pass(s: &Scratch, si: usize, output: Lanes, short: u8) -> Option<TwoPass> {
    let (e0, e1) = s.net.sup_edges[si];
    let (e0, e1) = (e0 as usize, e1 as usize);
    let mut refill = 0u8;
    for e in e0..e1 {
        let b = s.net.e_slot[e] as usize;
        for l in 0..LANES {
            refill |= u8::from(s.order[b].0[l] != s.use_order[b].0[l]) << l;
        }
    }
    let lanes = short & refill;
    if lanes == 0 {
        return None;
    }
    let (mut all_use, mut all_refill) = (Lanes::ZERO, Lanes::ZERO);
    for e in e0..e1 {
        let u = use_part(s, e);
        all_use += u;
        all_refill += s.eff_order[e] - u;
    }
    let (mut r_use, mut r_refill) = (Lanes::ZERO, Lanes::ZERO);
    for l in 0..LANES {
        if lanes >> l & 1 != 0 {
            let (ru, _, left) = pass(output.0[l], 0.0, all_use.0[l]);
            let (rr, _, _) = pass(left, 0.0, all_refill.0[l]);
            (r_use.0[l], r_refill.0[l]) = (ru, rr);
        }
    }
    Some(TwoPass {
        lanes: Mask::from_bits(lanes),
        r_use,
        r_refill,
    })
}

/// Fast path `same_step_suppliers`: every buyer gets the same share of its order (or, where
/// output falls short and refills are ordered, of its use part first), all arriving now.
#[inline(always)]
fn pro_rata_same_step(s: &mut Scratch, si: usize, split: &Split) {
    let (e0, e1) = s.net.sup_edges[si];
    let (e0, e1) = (e0 as usize, e1 as usize);
    if split.two_pass.is_some() {
        for e in e0..e1 {
            let q = split.of(s, e, s.eff_order[e]);
            let b = s.net.e_slot[e] as usize;
            s.arrived[b] += q;
            s.contract_shipped[b] += q;
        }
        return;
    }
    let r = split.r;
    let (eff, e_slot) = (&s.eff_order[e0..e1], &s.net.e_slot[e0..e1]);
    let (arrived, shipped) = (&mut s.arrived[..], &mut s.contract_shipped[..]);
    if s.net.sup_spot[si] {
        for (&o, &b) in eff.iter().zip(e_slot) {
            let q = o * r;
            arrived[b as usize] += q;
            shipped[b as usize] += q;
        }
    } else {
        // Nobody reads contract deliveries without a spot market.
        for (&o, &b) in eff.iter().zip(e_slot) {
            arrived[b as usize] += o * r;
        }
    }
}

/// Pro rata, some buyers through pipes: the shares are lane arithmetic; a pipe's cell depends
/// on the lane's route clock. (Lanes with no output add zeros.)
#[inline(always)]
fn pro_rata(model: &Model, s: &mut Scratch, si: usize, split: &Split) {
    let (e0, e1) = s.net.sup_edges[si];
    for e in e0 as usize..e1 as usize {
        let q = split.of(s, e, s.eff_order[e]);
        let b = s.net.e_slot[e] as usize;
        s.contract_shipped[b] += q;
        ship_lanes(model, s, b, s.net.e_pipe[e], q);
    }
}

/// [`input_limit_lane`] for all lanes at once.
#[inline(always)]
pub(super) fn input_limit(s: &Scratch, si: usize) -> Lanes {
    let (i0, i1) = s.net.sup_inputs[si];
    let mut limit = Lanes::splat(f64::INFINITY);
    for b in i0 as usize..i1 as usize {
        let on_hand = s.stock[b] + s.arrived[b];
        let ratio = s.net.slot_ratio[b];
        // x / 1 is x: skip the division for one-for-one inputs.
        limit = limit.min(if ratio == 1.0 {
            on_hand
        } else {
            on_hand / ratio
        });
    }
    limit
}

/// [`use_inputs_lane`] for all lanes at once.
#[inline(always)]
pub(super) fn use_inputs(s: &mut Scratch, si: usize, output: Lanes) {
    let (i0, i1) = s.net.sup_inputs[si];
    for b in i0 as usize..i1 as usize {
        let used = output * s.net.slot_ratio[b];
        if s.audit {
            s.flow.arrived += s.arrived[b];
            s.flow.used += used;
        }
        s.stock[b] = (s.stock[b] + s.arrived[b] - used).max(Lanes::ZERO);
        s.arrived[b] = Lanes::ZERO;
        super::consume::cap_stock(s, b);
    }
}
