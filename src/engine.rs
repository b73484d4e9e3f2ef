//! One trial: shocks through the network, step by step, in the order of DESIGN.md section 2.
//!
//! Within a step:
//! 1. shocks: events starting now start, ended ones recover; factors are recomputed (largest
//!    severity holds);
//! 2. arrivals: goods whose lead time is up arrive, unless their route is closed (they wait);
//! 3. orders, downstream to upstream: importers order use plus stock refill; each supplier plans
//!    the output its unbanned, reachable buyers ordered, capped by its effective capacity, and
//!    orders the inputs that output needs plus its own input-stock refill;
//! 4. production and allocation, upstream to downstream, material by material: output is the
//!    plan capped by inputs on hand (Leontief), shipped pro rata to orders (priority regions
//!    first when the supplier has them); then the material's spot market offers leftover and
//!    ramped spare capacity to buyers short of contract supply for longer than `switch_days`,
//!    pro rata to their unmet need;
//! 5. consumption: importers meet demand from recycling and arrivals, then their stockpile, then
//!    their pool; surplus refills the stockpile and overflow tops up the pool.
//!
//! The engine does no IO and allocates nothing per step: [`Scratch`] holds all per-trial state
//! and is reused.

use crate::model::{Model, Owner, ShockKind};
use crate::shocks::Event;
use crate::stats::{CurveAcc, SlotTrial};

const NONE: u32 = u32::MAX;
/// Relative tolerance under which a shortfall counts as none (float noise).
const EPS: f64 = 1e-9;

/// Reusable per-trial state, sized once for a model.
#[derive(Debug, Clone)]
pub struct Scratch {
    cap_factor: Vec<f64>,
    edge_factor: Vec<f64>,
    spot_factor: Vec<f64>,
    route_open: Vec<bool>,
    demand_factor: Vec<f64>,
    stock: Vec<f64>,
    arrived: Vec<f64>,
    in_transit: Vec<f64>,
    order: Vec<f64>,
    contract_shipped: Vec<f64>,
    eff_order: Vec<f64>,
    planned: Vec<f64>,
    spot_avail: Vec<f64>,
    spot_need: Vec<f64>,
    short_since: Vec<u32>,
    spare_online: Vec<f64>,
    ring: Vec<f64>,
    ring_offset: Vec<u32>,
    route_clock: Vec<u32>,
    pool_stock: Vec<f64>,
    deficit_since: Vec<u32>,
    run_start: Vec<u32>,
    active: Vec<u32>,
    /// Importer slots that can re-source, per material.
    switch_slots: Vec<Vec<u32>>,
    /// Position of each supplier among its material's suppliers (indexes spot links).
    sup_pos: Vec<u32>,
    first_importer_slot: usize,
    /// Per importer slot outcome of the last trial.
    pub slots: Vec<SlotTrial>,
    pub balance: Balance,
}

/// Totals for the mass-balance invariant of a trial.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Balance {
    pub shipped: f64,
    pub arrived: f64,
    pub in_transit_initial: f64,
    pub in_transit_final: f64,
    pub stock_initial: f64,
    pub stock_final: f64,
    /// Goods used up: importers' consumption (recycling excluded) and suppliers' inputs.
    pub used: f64,
}

impl Scratch {
    pub fn new(model: &Model) -> Scratch {
        let n_slots = model.slots.len();
        let mut ring_offset = Vec::with_capacity(model.pipes.len() + 1);
        let mut total = 0u32;
        for p in &model.pipes {
            ring_offset.push(total);
            total += p.lead_steps;
        }
        ring_offset.push(total);
        let mut switch_slots = vec![Vec::new(); model.materials.len()];
        for (si, s) in model.slots.iter().enumerate() {
            if s.switch_steps.is_some() && !s.spot_links.is_empty() {
                switch_slots[s.material.ix()].push(si as u32);
            }
        }
        let mut sup_pos = vec![0; model.suppliers.len()];
        for list in &model.material_suppliers {
            for (p, s) in list.iter().enumerate() {
                sup_pos[s.ix()] = p as u32;
            }
        }
        let first_importer_slot = model
            .importers
            .first()
            .map_or(n_slots, |i| i.slots.start as usize);
        Scratch {
            cap_factor: vec![1.0; model.suppliers.len()],
            edge_factor: vec![1.0; model.edges.len()],
            spot_factor: vec![1.0; model.spot_links.len()],
            route_open: vec![true; model.routes.len()],
            demand_factor: vec![1.0; n_slots],
            stock: vec![0.0; n_slots],
            arrived: vec![0.0; n_slots],
            in_transit: vec![0.0; n_slots],
            order: vec![0.0; n_slots],
            contract_shipped: vec![0.0; n_slots],
            eff_order: vec![0.0; model.edges.len()],
            planned: vec![0.0; model.suppliers.len()],
            spot_avail: vec![0.0; model.suppliers.len()],
            spot_need: vec![0.0; n_slots],
            short_since: vec![NONE; n_slots],
            spare_online: vec![0.0; model.suppliers.len()],
            ring: vec![0.0; total as usize],
            ring_offset,
            route_clock: vec![0; model.routes.len()],
            pool_stock: vec![0.0; model.pools.len()],
            deficit_since: vec![NONE; n_slots],
            run_start: vec![NONE; n_slots],
            active: Vec::new(),
            switch_slots,
            sup_pos,
            first_importer_slot,
            slots: vec![SlotTrial::default(); n_slots - first_importer_slot],
            balance: Balance::default(),
        }
    }

    fn reset(&mut self, model: &Model) {
        self.cap_factor.fill(1.0);
        self.edge_factor.fill(1.0);
        self.spot_factor.fill(1.0);
        self.route_open.fill(true);
        self.demand_factor.fill(1.0);
        self.arrived.fill(0.0);
        self.in_transit.fill(0.0);
        self.short_since.fill(NONE);
        self.spare_online.fill(0.0);
        self.route_clock.fill(0);
        self.deficit_since.fill(NONE);
        self.run_start.fill(NONE);
        self.active.clear();
        for (b, s) in model.slots.iter().enumerate() {
            self.stock[b] = s.stock_initial;
        }
        for (p, pipe) in model.pipes.iter().enumerate() {
            let (a, z) = (
                self.ring_offset[p] as usize,
                self.ring_offset[p + 1] as usize,
            );
            self.ring[a..z].fill(pipe.initial_per_step);
            self.in_transit[pipe.slot.ix()] += pipe.initial_per_step * pipe.lead_steps as f64;
        }
        for (p, pool) in model.pools.iter().enumerate() {
            self.pool_stock[p] = pool.stock_target;
        }
        for s in &mut self.slots {
            *s = SlotTrial::default();
        }
        let stock_initial = self.stock.iter().sum::<f64>() + self.pool_stock.iter().sum::<f64>();
        let in_transit = self.in_transit.iter().sum();
        self.balance = Balance {
            stock_initial,
            in_transit_initial: in_transit,
            ..Balance::default()
        };
    }
}

/// Run one trial of `model` under `events` (sorted by start). Outcomes land in `s.slots`; if
/// `curves` is given, every importer slot's fill at every step is recorded into it.
pub fn run_trial(
    model: &Model,
    s: &mut Scratch,
    events: &[Event],
    mut curves: Option<&mut CurveAcc>,
) {
    s.reset(model);
    let n_steps = model.n_steps;
    let mut next_event = 0usize;
    let mut ramping = false;
    for t in 0..n_steps {
        // 1. Shocks.
        let mut changed = false;
        while next_event < events.len() && events[next_event].start <= t {
            s.active.push(next_event as u32);
            next_event += 1;
            changed = true;
        }
        let before = s.active.len();
        s.active.retain(|&e| {
            let ev = &events[e as usize];
            ev.end
                .saturating_add(model.shocks[ev.shock as usize].recovery_steps)
                > t
        });
        changed |= s.active.len() != before;
        if changed || ramping {
            ramping = apply_shocks(model, s, events, t);
        }

        // 2. Arrivals from pipelines on open routes.
        for (p, pipe) in model.pipes.iter().enumerate() {
            let r = pipe.route.ix();
            if !s.route_open[r] {
                continue;
            }
            let cell = s.ring_offset[p] as usize + (s.route_clock[r] % pipe.lead_steps) as usize;
            let q = s.ring[cell];
            s.ring[cell] = 0.0;
            let b = pipe.slot.ix();
            s.arrived[b] += q;
            s.in_transit[b] -= q;
        }

        // 3. Orders, downstream first.
        for b in s.first_importer_slot..model.slots.len() {
            let slot = &model.slots[b];
            let need = slot.nominal_use * s.demand_factor[b];
            let mut order = need * (1.0 - slot.recycled)
                + refill(
                    slot.refill_per_step,
                    slot.stock_target + slot.pipeline_nominal - s.stock[b] - s.in_transit[b],
                );
            if let Some(p) = slot.pool {
                let pool = &model.pools[p.ix()];
                let deficit = refill(
                    pool.refill_per_step,
                    pool.stock_target - s.pool_stock[p.ix()],
                );
                if deficit > 0.0 {
                    let total: f64 = pool
                        .slots
                        .iter()
                        .map(|x| model.slots[x.ix()].nominal_use)
                        .sum();
                    order += deficit * slot.nominal_use / total;
                }
            }
            s.order[b] = order;
            s.contract_shipped[b] = 0.0;
        }
        for &m in model.material_order.iter().rev() {
            for &sup in &model.material_suppliers[m.ix()] {
                let si = sup.ix();
                let supplier = &model.suppliers[si];
                let mut servable = 0.0;
                for e in supplier.out_edges.clone() {
                    let e = e as usize;
                    let edge = &model.edges[e];
                    let open = edge.route.is_none_or(|r| s.route_open[r.ix()]);
                    let q = if open {
                        s.order[edge.slot.ix()] * edge.share * s.edge_factor[e]
                    } else {
                        0.0
                    };
                    s.eff_order[e] = q;
                    servable += q;
                }
                let planned = servable.min(supplier.capacity * s.cap_factor[si]);
                s.planned[si] = planned;
                for b in supplier.input_slots.clone() {
                    let b = b as usize;
                    let slot = &model.slots[b];
                    s.order[b] = planned * slot.ratio
                        + refill(
                            slot.refill_per_step,
                            slot.stock_target + slot.pipeline_nominal
                                - s.stock[b]
                                - s.in_transit[b],
                        );
                    s.contract_shipped[b] = 0.0;
                }
            }
        }

        // 4. Production and allocation, upstream first.
        for &m in &model.material_order {
            for &sup in &model.material_suppliers[m.ix()] {
                produce(model, s, sup.ix());
            }
            if !s.switch_slots[m.ix()].is_empty() {
                spot_market(model, s, m.ix(), t);
            }
        }

        // 5. Consumption.
        consume(model, s, t, curves.as_deref_mut());

        for (r, open) in s.route_open.iter().enumerate() {
            if *open {
                s.route_clock[r] = s.route_clock[r].wrapping_add(1);
            }
        }
    }
    finish(model, s);
}

#[inline(always)]
fn refill(rate: f64, gap: f64) -> f64 {
    if rate > 0.0 && gap > 0.0 {
        gap.min(rate)
    } else {
        0.0
    }
}

/// Recompute every factor from the active events; returns whether any event is recovering.
fn apply_shocks(model: &Model, s: &mut Scratch, events: &[Event], t: u32) -> bool {
    s.cap_factor.fill(1.0);
    s.edge_factor.fill(1.0);
    s.spot_factor.fill(1.0);
    s.route_open.fill(true);
    s.demand_factor.fill(1.0);
    let mut ramping = false;
    for &e in &s.active {
        let ev = &events[e as usize];
        let shock = &model.shocks[ev.shock as usize];
        let sev = ev.severity_at(t, shock.recovery_steps);
        ramping |= t >= ev.end;
        let target = &shock.instances[ev.instance as usize];
        match shock.kind {
            ShockKind::CapacityLoss => {
                for &x in &target.suppliers {
                    let f = &mut s.cap_factor[x.ix()];
                    *f = f.min(1.0 - sev);
                }
            }
            ShockKind::ExportBan => {
                for &x in &target.edges {
                    let f = &mut s.edge_factor[x.ix()];
                    *f = f.min(1.0 - sev);
                }
                for &x in &target.spot_links {
                    let f = &mut s.spot_factor[x as usize];
                    *f = f.min(1.0 - sev);
                }
            }
            ShockKind::RouteClosure => {
                if t < ev.end {
                    for &x in &target.routes {
                        s.route_open[x.ix()] = false;
                    }
                }
            }
            ShockKind::DemandSurge => {
                for &x in &target.slots {
                    let f = &mut s.demand_factor[x.ix()];
                    *f = f.max(1.0 + sev);
                }
            }
        }
    }
    ramping
}

/// Send `q` units from a supplier to slot `b`, through `pipe` if the flow has a lead time.
#[inline(always)]
fn ship(model: &Model, s: &mut Scratch, b: usize, pipe: Option<crate::model::PipeIdx>, q: f64) {
    s.balance.shipped += q;
    match pipe {
        None => s.arrived[b] += q,
        Some(p) => {
            let pipe = &model.pipes[p.ix()];
            let cell = s.ring_offset[p.ix()] as usize
                + (s.route_clock[pipe.route.ix()] % pipe.lead_steps) as usize;
            s.ring[cell] += q;
            s.in_transit[b] += q;
        }
    }
}

/// Units of output the inputs on hand allow (infinite for a raw-material supplier).
#[inline(always)]
fn input_limit(model: &Model, s: &Scratch, si: usize) -> f64 {
    let mut limit = f64::INFINITY;
    for b in model.suppliers[si].input_slots.clone() {
        let b = b as usize;
        limit = limit.min((s.stock[b] + s.arrived[b]) / model.slots[b].ratio);
    }
    limit
}

#[inline(always)]
fn use_inputs(model: &Model, s: &mut Scratch, si: usize, output: f64) {
    for b in model.suppliers[si].input_slots.clone() {
        let b = b as usize;
        let used = output * model.slots[b].ratio;
        s.balance.arrived += s.arrived[b];
        s.balance.used += used;
        s.stock[b] = (s.stock[b] + s.arrived[b] - used).max(0.0);
        s.arrived[b] = 0.0;
    }
}

fn produce(model: &Model, s: &mut Scratch, si: usize) {
    let supplier = &model.suppliers[si];
    let limit = input_limit(model, s, si);
    let output = s.planned[si].min(limit);
    let cap = supplier.capacity * s.cap_factor[si];
    if output > 0.0 {
        let edges = supplier.out_edges.start as usize..supplier.out_edges.end as usize;
        let servable: f64 = s.eff_order[edges].iter().sum();
        if supplier.priority_regions.is_empty() || output >= servable * (1.0 - EPS) {
            let ratio = if servable > 0.0 {
                (output / servable).min(1.0)
            } else {
                0.0
            };
            for e in supplier.out_edges.clone() {
                let e = e as usize;
                let q = s.eff_order[e] * ratio;
                if q > 0.0 {
                    let edge = &model.edges[e];
                    s.contract_shipped[edge.slot.ix()] += q;
                    ship(model, s, edge.slot.ix(), edge.pipe, q);
                }
            }
        } else {
            // Priority buyers first, pro rata among them; the rest share what is left.
            let is_prio = |e: usize| {
                supplier
                    .priority_regions
                    .contains(&model.slots[model.edges[e].slot.ix()].region)
            };
            let prio: f64 = supplier
                .out_edges
                .clone()
                .filter(|&e| is_prio(e as usize))
                .map(|e| s.eff_order[e as usize])
                .sum();
            let rest = servable - prio;
            let r_prio = if prio > 0.0 {
                (output / prio).min(1.0)
            } else {
                0.0
            };
            let left = (output - prio * r_prio).max(0.0);
            let r_rest = if rest > 0.0 {
                (left / rest).min(1.0)
            } else {
                0.0
            };
            for e in supplier.out_edges.clone() {
                let e = e as usize;
                let q = s.eff_order[e] * if is_prio(e) { r_prio } else { r_rest };
                if q > 0.0 {
                    let edge = &model.edges[e];
                    s.contract_shipped[edge.slot.ix()] += q;
                    ship(model, s, edge.slot.ix(), edge.pipe, q);
                }
            }
        }
    }
    use_inputs(model, s, si, output);
    s.spot_avail[si] = (cap - output).max(0.0);
}

fn spot_market(model: &Model, s: &mut Scratch, m: usize, t: u32) {
    let mut any = false;
    for i in 0..s.switch_slots[m].len() {
        let b = s.switch_slots[m][i] as usize;
        let shortfall = s.order[b] - s.contract_shipped[b];
        if shortfall > EPS * s.order[b].max(1.0) {
            if s.short_since[b] == NONE {
                s.short_since[b] = t;
            }
            let switch = model.slots[b].switch_steps.unwrap_or(u32::MAX);
            if t - s.short_since[b] >= switch {
                s.spot_need[b] = shortfall;
                any = true;
                continue;
            }
        } else {
            s.short_since[b] = NONE;
        }
        s.spot_need[b] = 0.0;
    }
    let suppliers = &model.material_suppliers[m];
    if !any {
        for sup in suppliers {
            s.spare_online[sup.ix()] = 0.0;
        }
        return;
    }
    for &sup in suppliers {
        let si = sup.ix();
        let supplier = &model.suppliers[si];
        let pos = s.sup_pos[si] as usize;
        let mut asked = 0.0;
        for i in 0..s.switch_slots[m].len() {
            let b = s.switch_slots[m][i] as usize;
            if s.spot_need[b] > 0.0 {
                let l = model.slots[b].spot_links.start as usize + pos;
                let link = &model.spot_links[l];
                let open = link.route.is_none_or(|r| s.route_open[r.ix()]);
                if open {
                    asked += s.spot_need[b] * s.spot_factor[l];
                }
            }
        }
        if asked <= 0.0 {
            s.spare_online[si] = 0.0;
            continue;
        }
        let spare = supplier.spare * supplier.capacity * s.cap_factor[si] * s.spare_online[si];
        let offer = (s.spot_avail[si] + spare).min(input_limit(model, s, si));
        // Spare comes online gradually while buyers ask for it.
        s.spare_online[si] = if supplier.ramp_steps == 0 {
            1.0
        } else {
            (s.spare_online[si] + 1.0 / supplier.ramp_steps as f64).min(1.0)
        };
        if offer <= 0.0 {
            continue;
        }
        let ratio = (offer / asked).min(1.0);
        let mut sold = 0.0;
        for i in 0..s.switch_slots[m].len() {
            let b = s.switch_slots[m][i] as usize;
            if s.spot_need[b] <= 0.0 {
                continue;
            }
            let l = model.slots[b].spot_links.start as usize + pos;
            let link = &model.spot_links[l];
            if !link.route.is_none_or(|r| s.route_open[r.ix()]) {
                continue;
            }
            let q = s.spot_need[b] * s.spot_factor[l] * ratio;
            if q > 0.0 {
                s.spot_need[b] -= q;
                sold += q;
                ship(model, s, b, link.pipe, q);
            }
        }
        use_inputs(model, s, si, sold);
        s.spot_avail[si] = (s.spot_avail[si] - sold).max(0.0);
    }
}

fn consume(model: &Model, s: &mut Scratch, t: u32, mut curves: Option<&mut CurveAcc>) {
    let first = s.first_importer_slot;
    for b in first..model.slots.len() {
        let slot = &model.slots[b];
        let need = slot.nominal_use * s.demand_factor[b];
        let recycled = need * slot.recycled;
        let arrived = s.arrived[b];
        s.arrived[b] = 0.0;
        s.balance.arrived += arrived;
        let direct = need.min(recycled + arrived);
        let surplus = recycled + arrived - direct;
        let mut short = need - direct;
        s.balance.used += direct - recycled.min(direct);
        let k = b - first;
        if short > EPS * need {
            if s.deficit_since[b] == NONE {
                s.deficit_since[b] = t;
            }
        } else {
            s.deficit_since[b] = NONE;
            short = 0.0;
        }
        let draw = short.min(s.stock[b]);
        s.stock[b] -= draw;
        s.balance.used += draw;
        short -= draw;
        s.stock[b] += surplus;
        s.slots[k].short_now = short;
    }
    // Pools serve what members' own stockpiles could not, pro rata to that need.
    for (p, pool) in model.pools.iter().enumerate() {
        let total: f64 = pool
            .slots
            .iter()
            .map(|b| s.slots[b.ix() - first].short_now)
            .sum();
        if total > 0.0 && s.pool_stock[p] > 0.0 {
            let give = total.min(s.pool_stock[p]);
            s.pool_stock[p] -= give;
            s.balance.used += give;
            for b in &pool.slots {
                let k = b.ix() - first;
                s.slots[k].short_now -= s.slots[k].short_now / total * give;
            }
        }
        for b in &pool.slots {
            let b = b.ix();
            let excess = s.stock[b] - model.slots[b].stock_target;
            let room = pool.stock_target - s.pool_stock[p];
            if excess > 0.0 && room > 0.0 {
                let moved = excess.min(room);
                s.stock[b] -= moved;
                s.pool_stock[p] += moved;
            }
        }
    }
    let sustain = model.sustain_steps.max(1);
    for b in first..model.slots.len() {
        let slot = &model.slots[b];
        let need = slot.nominal_use * s.demand_factor[b];
        let k = b - first;
        let r = &mut s.slots[k];
        let mut short = r.short_now;
        if short <= EPS * need {
            short = 0.0;
        }
        let fill = if need > 0.0 { 1.0 - short / need } else { 1.0 };
        r.demand += need;
        r.unmet += short;
        if short > 0.0 {
            r.steps_short += 1;
            r.shortfall_frac_sum += 1.0 - fill;
            r.max_depth = r.max_depth.max(1.0 - fill);
            if r.first_short == NONE {
                r.first_short = t;
                r.tts = t - s.deficit_since[b].min(t);
            }
            s.run_start[b] = NONE;
        } else if r.first_short != NONE && r.recovered_at == NONE {
            if s.run_start[b] == NONE {
                s.run_start[b] = t;
            }
            if t + 1 - s.run_start[b] >= sustain {
                r.recovered_at = s.run_start[b];
            }
        }
        if let Some(c) = curves.as_deref_mut() {
            c.record(k, t as usize, fill);
        }
    }
}

fn finish(model: &Model, s: &mut Scratch) {
    let first = s.first_importer_slot;
    for b in first..model.slots.len() {
        let r = &mut s.slots[b - first];
        // Full service through the end of the horizon counts as recovered.
        if r.first_short != NONE && r.recovered_at == NONE && s.run_start[b] != NONE {
            r.recovered_at = s.run_start[b];
        }
    }
    s.balance.stock_final = s.stock.iter().sum::<f64>() + s.pool_stock.iter().sum::<f64>();
    s.balance.in_transit_final = s.in_transit.iter().sum();
    let _ = Owner::Importer;
}
