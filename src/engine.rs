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

use crate::model::{Model, ShockKind};
use crate::shocks::Event;
use crate::stats::{CurveAcc, SlotTrial};

const NONE: u32 = u32::MAX;
/// Relative tolerance under which a shortfall counts as none (float noise).
const EPS: f64 = 1e-9;

/// The model flattened into arrays for the step loop (built once per model).
#[derive(Debug, Clone)]
struct Net {
    /// Suppliers in production order (inputs before outputs).
    prod: Vec<u32>,
    /// (material, end index into `prod`) for each material in production order.
    material_ends: Vec<(u32, u32)>,
    sup_capacity: Vec<f64>,
    sup_edges: Vec<(u32, u32)>,
    sup_inputs: Vec<(u32, u32)>,
    sup_has_priority: Vec<bool>,
    /// Every contract edge of the supplier delivers in the same step (no pipe).
    sup_same_step: Vec<bool>,
    e_slot: Vec<u32>,
    e_share: Vec<f64>,
    e_pipe: Vec<u32>,
    e_route: Vec<u32>,
    e_priority: Vec<bool>,
    route_edges: Vec<Vec<u32>>,
    slot_ratio: Vec<f64>,
    /// Importers: demand per step net of recycling.
    slot_base_order: Vec<f64>,
    /// Inventory position the refill aims for: stock target plus steady-state pipeline.
    slot_level: Vec<f64>,
    slot_refill: Vec<f64>,
    slot_nominal: Vec<f64>,
    slot_recycled: Vec<f64>,
    slot_pool: Vec<u32>,
    pool_share: Vec<f64>,
    first_importer_slot: usize,
    /// Importer slots that can re-source, per material.
    switch_slots: Vec<Vec<u32>>,
    /// Position of each supplier among its material's suppliers (indexes spot links).
    sup_pos: Vec<u32>,
    ring_offset: Vec<u32>,
}

impl Net {
    fn new(model: &Model) -> Net {
        let mut prod = Vec::new();
        let mut material_ends = Vec::new();
        for &m in &model.material_order {
            prod.extend(model.material_suppliers[m.ix()].iter().map(|s| s.0));
            material_ends.push((m.0, prod.len() as u32));
        }
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
        let mut route_edges = vec![Vec::new(); model.routes.len()];
        for (e, edge) in model.edges.iter().enumerate() {
            if let Some(r) = edge.route {
                route_edges[r.ix()].push(e as u32);
            }
        }
        let pool_share = model
            .slots
            .iter()
            .map(|s| {
                s.pool.map_or(0.0, |p| {
                    let total: f64 = model.pools[p.ix()]
                        .slots
                        .iter()
                        .map(|x| model.slots[x.ix()].nominal_use)
                        .sum();
                    if total > 0.0 {
                        s.nominal_use / total
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        Net {
            prod,
            material_ends,
            sup_capacity: model.suppliers.iter().map(|s| s.capacity).collect(),
            sup_edges: model
                .suppliers
                .iter()
                .map(|s| (s.out_edges.start, s.out_edges.end))
                .collect(),
            sup_inputs: model
                .suppliers
                .iter()
                .map(|s| (s.input_slots.start, s.input_slots.end))
                .collect(),
            sup_same_step: model
                .suppliers
                .iter()
                .map(|s| {
                    model.edges[s.out_edges.start as usize..s.out_edges.end as usize]
                        .iter()
                        .all(|e| e.pipe.is_none())
                })
                .collect(),
            sup_has_priority: model
                .suppliers
                .iter()
                .map(|s| !s.priority_regions.is_empty())
                .collect(),
            e_slot: model.edges.iter().map(|e| e.slot.0).collect(),
            e_share: model.edges.iter().map(|e| e.share).collect(),
            e_pipe: model
                .edges
                .iter()
                .map(|e| e.pipe.map_or(NONE, |p| p.0))
                .collect(),
            e_route: model
                .edges
                .iter()
                .map(|e| e.route.map_or(NONE, |r| r.0))
                .collect(),
            e_priority: model
                .edges
                .iter()
                .map(|e| {
                    model.suppliers[e.supplier.ix()]
                        .priority_regions
                        .contains(&model.slots[e.slot.ix()].region)
                })
                .collect(),
            route_edges,
            slot_ratio: model.slots.iter().map(|s| s.ratio).collect(),
            slot_base_order: model
                .slots
                .iter()
                .map(|s| s.nominal_use * (1.0 - s.recycled))
                .collect(),
            slot_level: model
                .slots
                .iter()
                .map(|s| s.stock_target + s.pipeline_nominal)
                .collect(),
            slot_refill: model.slots.iter().map(|s| s.refill_per_step).collect(),
            slot_nominal: model.slots.iter().map(|s| s.nominal_use).collect(),
            slot_recycled: model.slots.iter().map(|s| s.recycled).collect(),
            slot_pool: model
                .slots
                .iter()
                .map(|s| s.pool.map_or(NONE, |p| p.0))
                .collect(),
            pool_share,
            first_importer_slot: model
                .importers
                .first()
                .map_or(model.slots.len(), |i| i.slots.start as usize),
            switch_slots,
            sup_pos,
            ring_offset,
        }
    }
}

/// Reusable per-trial state, sized once for a model.
#[derive(Debug, Clone)]
pub struct Scratch {
    net: Net,
    cap_factor: Vec<f64>,
    ban: Vec<f64>,
    /// Share of an edge's order that can flow: ban factor times route open.
    gate: Vec<f64>,
    spot_factor: Vec<f64>,
    route_open: Vec<bool>,
    demand_factor: Vec<f64>,
    stock: Vec<f64>,
    arrived: Vec<f64>,
    in_transit: Vec<f64>,
    order: Vec<f64>,
    contract_shipped: Vec<f64>,
    eff_order: Vec<f64>,
    servable: Vec<f64>,
    planned: Vec<f64>,
    spot_avail: Vec<f64>,
    spot_need: Vec<f64>,
    short_since: Vec<u32>,
    spare_online: Vec<f64>,
    ring: Vec<f64>,
    route_clock: Vec<u32>,
    pool_stock: Vec<f64>,
    deficit_since: Vec<u32>,
    run_start: Vec<u32>,
    active: Vec<u32>,
    marks: Marks,
    /// This trial's fill per importer slot and step (slot-major).
    fills: Vec<f64>,
    /// Per importer slot outcome of the last trial.
    pub slots: Vec<SlotTrial>,
    pub balance: Balance,
}

/// Elements whose factors must be recomputed this step.
#[derive(Debug, Clone, Default)]
struct Marks {
    sup: Vec<bool>,
    edge: Vec<bool>,
    spot: Vec<bool>,
    route: Vec<bool>,
    slot: Vec<bool>,
    sup_list: Vec<u32>,
    edge_list: Vec<u32>,
    spot_list: Vec<u32>,
    route_list: Vec<u32>,
    slot_list: Vec<u32>,
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
        let net = Net::new(model);
        let n_slots = model.slots.len();
        let (ns, ne, nl, nr) = (
            model.suppliers.len(),
            model.edges.len(),
            model.spot_links.len(),
            model.routes.len(),
        );
        Scratch {
            cap_factor: vec![1.0; ns],
            ban: vec![1.0; ne],
            gate: vec![1.0; ne],
            spot_factor: vec![1.0; nl],
            route_open: vec![true; nr],
            demand_factor: vec![1.0; n_slots],
            stock: vec![0.0; n_slots],
            arrived: vec![0.0; n_slots],
            in_transit: vec![0.0; n_slots],
            order: vec![0.0; n_slots],
            contract_shipped: vec![0.0; n_slots],
            eff_order: vec![0.0; ne],
            servable: vec![0.0; ns],
            planned: vec![0.0; ns],
            spot_avail: vec![0.0; ns],
            spot_need: vec![0.0; n_slots],
            short_since: vec![NONE; n_slots],
            spare_online: vec![0.0; ns],
            ring: vec![0.0; *net.ring_offset.last().unwrap() as usize],
            route_clock: vec![0; nr],
            pool_stock: vec![0.0; model.pools.len()],
            deficit_since: vec![NONE; n_slots],
            run_start: vec![NONE; n_slots],
            active: Vec::new(),
            fills: vec![1.0; (n_slots - net.first_importer_slot) * model.n_steps as usize],
            marks: Marks {
                sup: vec![false; ns],
                edge: vec![false; ne],
                spot: vec![false; nl],
                route: vec![false; nr],
                slot: vec![false; n_slots],
                ..Marks::default()
            },
            slots: vec![SlotTrial::default(); n_slots - net.first_importer_slot],
            balance: Balance::default(),
            net,
        }
    }

    fn reset(&mut self, model: &Model) {
        self.cap_factor.fill(1.0);
        self.ban.fill(1.0);
        self.gate.fill(1.0);
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
                self.net.ring_offset[p] as usize,
                self.net.ring_offset[p + 1] as usize,
            );
            self.ring[a..z].fill(pipe.initial_per_step);
            self.in_transit[pipe.slot.ix()] += pipe.initial_per_step * pipe.lead_steps as f64;
        }
        for (p, pool) in model.pools.iter().enumerate() {
            self.pool_stock[p] = pool.stock_target;
        }
        self.slots.fill(SlotTrial::default());
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
pub fn run_trial(model: &Model, s: &mut Scratch, events: &[Event], curves: Option<&mut CurveAcc>) {
    s.reset(model);
    let mut s_fills = std::mem::take(&mut s.fills);
    let mut next_event = 0usize;
    for t in 0..model.n_steps {
        // 1. Shocks.
        if next_event < events.len() || !s.active.is_empty() {
            step_shocks(model, s, events, &mut next_event, t);
        }
        // 2. Arrivals.
        if !model.pipes.is_empty() {
            arrivals(model, s);
        }
        // 3. Orders, downstream first.
        orders(model, s);
        // 4. Production and allocation, upstream first, with each material's spot market.
        let mut begin = 0usize;
        for i in 0..s.net.material_ends.len() {
            let (m, end) = s.net.material_ends[i];
            for p in begin..end as usize {
                let si = s.net.prod[p] as usize;
                produce(model, s, si);
            }
            begin = end as usize;
            if !s.net.switch_slots[m as usize].is_empty() {
                spot_market(model, s, m as usize, t);
            }
        }
        // 5. Consumption.
        consume(model, s, t, curves.is_some().then_some(&mut s_fills[..]));
        for (clock, &open) in s.route_clock.iter_mut().zip(&s.route_open) {
            *clock = clock.wrapping_add(u32::from(open));
        }
    }
    finish(model, s);
    // Histograms are updated slot by slot, sweeping memory forward, after the trial.
    if let Some(c) = curves {
        c.record_trial(&s_fills);
    }
    s.fills = s_fills;
}

#[inline(always)]
fn refill(rate: f64, gap: f64) -> f64 {
    if rate > 0.0 && gap > 0.0 {
        gap.min(rate)
    } else {
        0.0
    }
}

/// Start events that begin at `t`, and recompute the elements of events that recover or end.
/// Overlapping events on one element: the largest severity holds.
fn step_shocks(model: &Model, s: &mut Scratch, events: &[Event], next: &mut usize, t: u32) {
    // Events ending or ramping down: their elements are recomputed from scratch.
    let mut i = 0;
    let mut any_marked = false;
    while i < s.active.len() {
        let ev = &events[s.active[i] as usize];
        let shock = &model.shocks[ev.shock as usize];
        if t >= ev.end {
            mark_target(s, shock.kind, &shock.instances[ev.instance as usize]);
            any_marked = true;
            if t >= ev.end.saturating_add(shock.recovery_steps) {
                s.active.swap_remove(i);
                continue;
            }
        }
        i += 1;
    }
    if any_marked {
        reset_marked(s);
        for k in 0..s.active.len() {
            let ev = events[s.active[k] as usize];
            apply_event(model, s, &ev, t, true);
        }
        finish_marked(s);
    }
    while *next < events.len() && events[*next].start <= t {
        let ev = events[*next];
        s.active.push(*next as u32);
        *next += 1;
        if t < ev.end {
            apply_event(model, s, &ev, t, false);
        }
    }
}

fn mark_target(s: &mut Scratch, kind: ShockKind, target: &crate::model::Target) {
    let m = &mut s.marks;
    match kind {
        ShockKind::CapacityLoss => mark_all(
            &mut m.sup,
            &mut m.sup_list,
            target.suppliers.iter().map(|x| x.0),
        ),
        ShockKind::ExportBan => {
            mark_all(
                &mut m.edge,
                &mut m.edge_list,
                target.edges.iter().map(|x| x.0),
            );
            mark_all(
                &mut m.spot,
                &mut m.spot_list,
                target.spot_links.iter().copied(),
            );
        }
        ShockKind::RouteClosure => mark_all(
            &mut m.route,
            &mut m.route_list,
            target.routes.iter().map(|x| x.0),
        ),
        ShockKind::DemandSurge => mark_all(
            &mut m.slot,
            &mut m.slot_list,
            target.slots.iter().map(|x| x.0),
        ),
    }
}

fn mark_all(flags: &mut [bool], list: &mut Vec<u32>, xs: impl Iterator<Item = u32>) {
    for x in xs {
        if !flags[x as usize] {
            flags[x as usize] = true;
            list.push(x);
        }
    }
}

fn reset_marked(s: &mut Scratch) {
    for &x in &s.marks.sup_list {
        s.cap_factor[x as usize] = 1.0;
    }
    for &x in &s.marks.edge_list {
        s.ban[x as usize] = 1.0;
    }
    for &x in &s.marks.spot_list {
        s.spot_factor[x as usize] = 1.0;
    }
    for &x in &s.marks.route_list {
        s.route_open[x as usize] = true;
    }
    for &x in &s.marks.slot_list {
        s.demand_factor[x as usize] = 1.0;
    }
}

/// Recompute gates of marked edges and routes, then clear the marks.
fn finish_marked(s: &mut Scratch) {
    let m = &mut s.marks;
    for &x in &m.edge_list {
        let e = x as usize;
        let r = s.net.e_route[e];
        s.gate[e] = s.ban[e]
            * if r == NONE || s.route_open[r as usize] {
                1.0
            } else {
                0.0
            };
        m.edge[e] = false;
    }
    for &x in &m.route_list {
        let open = if s.route_open[x as usize] { 1.0 } else { 0.0 };
        for &e in &s.net.route_edges[x as usize] {
            s.gate[e as usize] = s.ban[e as usize] * open;
        }
        m.route[x as usize] = false;
    }
    for &x in &m.sup_list {
        m.sup[x as usize] = false;
    }
    for &x in &m.spot_list {
        m.spot[x as usize] = false;
    }
    for &x in &m.slot_list {
        m.slot[x as usize] = false;
    }
    m.sup_list.clear();
    m.edge_list.clear();
    m.spot_list.clear();
    m.route_list.clear();
    m.slot_list.clear();
}

/// Apply one event's severity at step `t`. With `only_marked`, touch marked elements only (the
/// others already hold their factors).
fn apply_event(model: &Model, s: &mut Scratch, ev: &Event, t: u32, only_marked: bool) {
    let shock = &model.shocks[ev.shock as usize];
    let sev = ev.severity_at(t, shock.recovery_steps);
    let target = &shock.instances[ev.instance as usize];
    match shock.kind {
        ShockKind::CapacityLoss => {
            for x in &target.suppliers {
                let i = x.ix();
                if !only_marked || s.marks.sup[i] {
                    s.cap_factor[i] = s.cap_factor[i].min(1.0 - sev);
                }
            }
        }
        ShockKind::ExportBan => {
            for x in &target.edges {
                let e = x.ix();
                if !only_marked || s.marks.edge[e] {
                    s.ban[e] = s.ban[e].min(1.0 - sev);
                    if !only_marked {
                        let r = s.net.e_route[e];
                        s.gate[e] = s.ban[e]
                            * if r == NONE || s.route_open[r as usize] {
                                1.0
                            } else {
                                0.0
                            };
                    }
                }
            }
            for &l in &target.spot_links {
                let l = l as usize;
                if !only_marked || s.marks.spot[l] {
                    s.spot_factor[l] = s.spot_factor[l].min(1.0 - sev);
                }
            }
        }
        ShockKind::RouteClosure => {
            if t < ev.end {
                for x in &target.routes {
                    let r = x.ix();
                    if !only_marked || s.marks.route[r] {
                        s.route_open[r] = false;
                        if !only_marked {
                            for &e in &s.net.route_edges[r] {
                                s.gate[e as usize] = 0.0;
                            }
                        }
                    }
                }
            }
        }
        ShockKind::DemandSurge => {
            for x in &target.slots {
                let i = x.ix();
                if !only_marked || s.marks.slot[i] {
                    s.demand_factor[i] = s.demand_factor[i].max(1.0 + sev);
                }
            }
        }
    }
}

fn arrivals(model: &Model, s: &mut Scratch) {
    for (p, pipe) in model.pipes.iter().enumerate() {
        let r = pipe.route.ix();
        if !s.route_open[r] {
            continue;
        }
        let cell = s.net.ring_offset[p] as usize + (s.route_clock[r] % pipe.lead_steps) as usize;
        let q = s.ring[cell];
        s.ring[cell] = 0.0;
        let b = pipe.slot.ix();
        s.arrived[b] += q;
        s.in_transit[b] -= q;
    }
}

fn orders(model: &Model, s: &mut Scratch) {
    // Disjoint borrows as local slices: the compiler can then keep every base pointer in a
    // register instead of reloading it after each store.
    let net = &s.net;
    let order = &mut s.order[..];
    let contract_shipped = &mut s.contract_shipped[..];
    let (stock, arrived, in_transit) = (&s.stock[..], &s.arrived[..], &s.in_transit[..]);
    let demand_factor = &s.demand_factor[..];
    for b in net.first_importer_slot..model.slots.len() {
        let mut o = net.slot_base_order[b] * demand_factor[b];
        if net.slot_refill[b] > 0.0 {
            o += refill(
                net.slot_refill[b],
                net.slot_level[b] - stock[b] - arrived[b] - in_transit[b],
            );
        }
        if net.slot_pool[b] != NONE {
            let p = net.slot_pool[b] as usize;
            let pool = &model.pools[p];
            o += refill(pool.refill_per_step, pool.stock_target - s.pool_stock[p])
                * net.pool_share[b];
        }
        order[b] = o;
        contract_shipped[b] = 0.0;
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
        let mut servable = 0.0;
        for e in e0..e1 {
            let q = order[e_slot[e] as usize] * e_share[e] * gate[e];
            eff_order[e] = q;
            servable += q;
        }
        servable_out[si] = servable;
        let cap = net.sup_capacity[si] * cap_factor[si];
        let planned = if servable < cap { servable } else { cap };
        planned_out[si] = planned;
        let (i0, i1) = net.sup_inputs[si];
        for b in i0 as usize..i1 as usize {
            let mut o = planned * net.slot_ratio[b];
            if net.slot_refill[b] > 0.0 {
                o += refill(
                    net.slot_refill[b],
                    net.slot_level[b] - stock[b] - arrived[b] - in_transit[b],
                );
            }
            order[b] = o;
            contract_shipped[b] = 0.0;
        }
    }
}

/// Send `q` units to slot `b`, through pipe `pipe` (NONE: arrives now).
#[inline(always)]
fn ship(model: &Model, s: &mut Scratch, b: usize, pipe: u32, q: f64) {
    if pipe == NONE {
        s.arrived[b] += q;
    } else {
        let p = pipe as usize;
        let lead = model.pipes[p].lead_steps;
        let clock = s.route_clock[model.pipes[p].route.ix()];
        s.ring[s.net.ring_offset[p] as usize + (clock % lead) as usize] += q;
        s.in_transit[b] += q;
    }
}

/// Units of output the inputs on hand allow (infinite for a raw-material supplier).
#[inline(always)]
fn input_limit(s: &Scratch, si: usize) -> f64 {
    let (i0, i1) = s.net.sup_inputs[si];
    let mut limit = f64::INFINITY;
    for b in i0 as usize..i1 as usize {
        limit = limit.min((s.stock[b] + s.arrived[b]) / s.net.slot_ratio[b]);
    }
    limit
}

#[inline(always)]
fn use_inputs(s: &mut Scratch, si: usize, output: f64) {
    let (i0, i1) = s.net.sup_inputs[si];
    for b in i0 as usize..i1 as usize {
        let used = output * s.net.slot_ratio[b];
        s.balance.arrived += s.arrived[b];
        s.balance.used += used;
        s.stock[b] = (s.stock[b] + s.arrived[b] - used).max(0.0);
        s.arrived[b] = 0.0;
    }
}

fn produce(model: &Model, s: &mut Scratch, si: usize) {
    let output = s.planned[si].min(input_limit(s, si));
    let servable = s.servable[si];
    if output > 0.0 {
        s.balance.shipped += output;
        let (e0, e1) = s.net.sup_edges[si];
        let (e0, e1) = (e0 as usize, e1 as usize);
        let (r_prio, r_rest) = if !s.net.sup_has_priority[si] || output >= servable * (1.0 - EPS) {
            let r = (output / servable).min(1.0);
            (r, r)
        } else {
            // Priority buyers first, pro rata among them; the rest share what is left.
            let prio: f64 = (e0..e1)
                .filter(|&e| s.net.e_priority[e])
                .map(|e| s.eff_order[e])
                .sum();
            let rest = servable - prio;
            let r_prio = if prio > 0.0 {
                (output / prio).min(1.0)
            } else {
                0.0
            };
            let left = (output - prio * r_prio).max(0.0);
            (
                r_prio,
                if rest > 0.0 {
                    (left / rest).min(1.0)
                } else {
                    0.0
                },
            )
        };
        if s.net.sup_same_step[si] && r_prio == r_rest {
            // Common case: every buyer gets the same share of its order, all arriving now.
            let (eff, e_slot) = (&s.eff_order[e0..e1], &s.net.e_slot[e0..e1]);
            let (arrived, shipped) = (&mut s.arrived[..], &mut s.contract_shipped[..]);
            for (&o, &b) in eff.iter().zip(e_slot) {
                let q = o * r_rest;
                arrived[b as usize] += q;
                shipped[b as usize] += q;
            }
        } else {
            for e in e0..e1 {
                let q = s.eff_order[e] * if s.net.e_priority[e] { r_prio } else { r_rest };
                if q > 0.0 {
                    let b = s.net.e_slot[e] as usize;
                    s.contract_shipped[b] += q;
                    ship(model, s, b, s.net.e_pipe[e], q);
                }
            }
        }
    }
    use_inputs(s, si, output);
    s.spot_avail[si] = (s.net.sup_capacity[si] * s.cap_factor[si] - output).max(0.0);
}

fn spot_market(model: &Model, s: &mut Scratch, m: usize, t: u32) {
    let mut any = false;
    for i in 0..s.net.switch_slots[m].len() {
        let b = s.net.switch_slots[m][i] as usize;
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
        let pos = s.net.sup_pos[si] as usize;
        let link_open = |s: &Scratch, l: usize| {
            model.spot_links[l]
                .route
                .is_none_or(|r| s.route_open[r.ix()])
        };
        let mut asked = 0.0;
        for &b in &s.net.switch_slots[m] {
            let b = b as usize;
            let l = model.slots[b].spot_links.start as usize + pos;
            if s.spot_need[b] > 0.0 && link_open(s, l) {
                asked += s.spot_need[b] * s.spot_factor[l];
            }
        }
        if asked <= 0.0 {
            s.spare_online[si] = 0.0;
            continue;
        }
        let spare = supplier.spare * supplier.capacity * s.cap_factor[si] * s.spare_online[si];
        let offer = (s.spot_avail[si] + spare).min(input_limit(s, si));
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
        for i in 0..s.net.switch_slots[m].len() {
            let b = s.net.switch_slots[m][i] as usize;
            let l = model.slots[b].spot_links.start as usize + pos;
            if s.spot_need[b] <= 0.0 || !link_open(s, l) {
                continue;
            }
            let q = s.spot_need[b] * s.spot_factor[l] * ratio;
            if q > 0.0 {
                s.spot_need[b] -= q;
                sold += q;
                ship(
                    model,
                    s,
                    b,
                    model.spot_links[l].pipe.map_or(NONE, |p| p.0),
                    q,
                );
            }
        }
        s.balance.shipped += sold;
        use_inputs(s, si, sold);
        s.spot_avail[si] = (s.spot_avail[si] - sold).max(0.0);
    }
}

fn consume(model: &Model, s: &mut Scratch, t: u32, mut fills: Option<&mut [f64]>) {
    let n_steps = model.n_steps as usize;
    let first = s.net.first_importer_slot;
    for b in first..model.slots.len() {
        let need = s.net.slot_nominal[b] * s.demand_factor[b];
        let recycled = need * s.net.slot_recycled[b];
        let arrived = s.arrived[b];
        s.arrived[b] = 0.0;
        s.balance.arrived += arrived;
        let direct = need.min(recycled + arrived);
        let surplus = recycled + arrived - direct;
        let mut short = need - direct;
        s.balance.used += direct - recycled;
        if short > EPS * need {
            if s.deficit_since[b] == NONE {
                s.deficit_since[b] = t;
            }
            let draw = short.min(s.stock[b]);
            s.stock[b] -= draw;
            s.balance.used += draw;
            short -= draw;
        } else {
            s.deficit_since[b] = NONE;
            short = 0.0;
        }
        s.stock[b] += surplus;
        s.slots[b - first].short_now = short;
    }
    if !model.pools.is_empty() {
        pools(model, s);
    }
    let sustain = model.sustain_steps.max(1);
    for b in first..model.slots.len() {
        let need = s.net.slot_nominal[b] * s.demand_factor[b];
        let k = b - first;
        let r = &mut s.slots[k];
        let mut short = r.short_now;
        if short <= EPS * need {
            short = 0.0;
        }
        let fill = if need > 0.0 { 1.0 - short / need } else { 1.0 };
        r.demand += need;
        if short > 0.0 {
            r.unmet += short;
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
        if let Some(buf) = fills.as_deref_mut() {
            buf[k * n_steps + t as usize] = fill;
        }
    }
}

/// Pools serve what members' own stockpiles could not, pro rata to that need; members' stock
/// above their own target tops the pool up.
fn pools(model: &Model, s: &mut Scratch) {
    let first = s.net.first_importer_slot;
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
}

fn finish(model: &Model, s: &mut Scratch) {
    let first = s.net.first_importer_slot;
    for b in first..model.slots.len() {
        let r = &mut s.slots[b - first];
        // Full service through the end of the horizon counts as recovered.
        if r.first_short != NONE && r.recovered_at == NONE && s.run_start[b] != NONE {
            r.recovered_at = s.run_start[b];
        }
    }
    s.balance.stock_final = s.stock.iter().sum::<f64>() + s.pool_stock.iter().sum::<f64>();
    s.balance.in_transit_final = s.in_transit.iter().sum();
}
