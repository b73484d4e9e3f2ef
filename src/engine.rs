//! Trials: shocks through the network, step by step, in the order of DESIGN.md section 2.
//!
//! Up to [`LANES`] trials run side by side as one group: the network is walked once per step and
//! every element's quantities are [`Lanes`], one value per trial, so each operation serves the
//! whole group. Each lane computes exactly what its trial would compute alone.
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
//! The engine does no IO and allocates nothing per step: [`Scratch`] holds all per-group state
//! and is reused.

use crate::dist::DistParams;
use crate::lanes::{Lanes, LANES};
use crate::model::{Model, Pipe, ShockKind};
use crate::shocks::Event;
use crate::stats::{CurveAcc, SlotTrial};

const NONE: u32 = u32::MAX;
/// One step number (or count of steps) per lane.
type Steps = [u32; LANES];
/// Relative tolerance under which a shortfall counts as none (float noise).
const EPS: f64 = 1e-9;
// Switch masks hold one bit per lane in a u8.
const _: () = assert!(LANES <= 8);

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
    /// Some contract edge of the supplier can be banned or closed (its gate is not always 1).
    sup_gated: Vec<bool>,
    /// The supplier's material has a spot market (its spare output and contract deliveries
    /// are needed).
    sup_spot: Vec<bool>,
    any_spot: bool,
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
    /// Shock instances, flattened: instance `i` of shock `k` is `instances[instance_first[k] + i]`.
    instances: Vec<Instance>,
    instance_first: Vec<u32>,
    instance_elems: Vec<u32>,
    /// Per flattened instance: its switch, or `NONE`. A switch is a capacity-loss instance
    /// whose events are laid out on a step mask when a group starts, instead of being started
    /// and ended one by one in the step loop: it has no recovery ramp, a fixed severity (so
    /// every event of it gives the same factor, and overlapping ones combine to it), and
    /// suppliers that no other instance of any shock targets (so nothing else sets their
    /// factors). Typical of a supplier's own Markov outage.
    instance_switch: Vec<u32>,
    /// Per switch: the capacity factor of its suppliers while an event is in force.
    switch_factor: Vec<f64>,
    /// (supplier, switch) for every supplier a switch targets.
    switch_sups: Vec<(u32, u32)>,
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
        let mut e_gated: Vec<bool> = model.edges.iter().map(|e| e.route.is_some()).collect();
        for shock in &model.shocks {
            if shock.kind == ShockKind::ExportBan {
                for target in &shock.instances {
                    for e in &target.edges {
                        e_gated[e.ix()] = true;
                    }
                }
            }
        }
        let sup_spot: Vec<bool> = model
            .suppliers
            .iter()
            .map(|s| !switch_slots[s.material.ix()].is_empty())
            .collect();
        let (mut instances, mut instance_first, mut instance_elems) =
            (Vec::new(), Vec::new(), Vec::new());
        for shock in &model.shocks {
            instance_first.push(instances.len() as u32);
            for target in &shock.instances {
                let mut push = |xs: &mut dyn Iterator<Item = u32>| {
                    let a = instance_elems.len() as u32;
                    instance_elems.extend(xs);
                    (a, instance_elems.len() as u32)
                };
                let elems = match shock.kind {
                    ShockKind::CapacityLoss => push(&mut target.suppliers.iter().map(|x| x.0)),
                    ShockKind::ExportBan => push(&mut target.edges.iter().map(|x| x.0)),
                    ShockKind::RouteClosure => push(&mut target.routes.iter().map(|x| x.0)),
                    ShockKind::DemandSurge => push(&mut target.slots.iter().map(|x| x.0)),
                };
                let spots = if shock.kind == ShockKind::ExportBan {
                    push(&mut target.spot_links.iter().copied())
                } else {
                    (elems.1, elems.1)
                };
                instances.push(Instance {
                    kind: shock.kind,
                    recovery: shock.recovery_steps,
                    elems,
                    spots,
                });
            }
        }
        // Switches: count the capacity-loss instances that target each supplier.
        let mut hits = vec![0u32; model.suppliers.len()];
        for shock in &model.shocks {
            if shock.kind == ShockKind::CapacityLoss {
                for target in &shock.instances {
                    for x in &target.suppliers {
                        hits[x.ix()] += 1;
                    }
                }
            }
        }
        let (mut instance_switch, mut switch_factor, mut switch_sups) =
            (Vec::new(), Vec::new(), Vec::new());
        for shock in &model.shocks {
            let fixed = match shock.severity.params() {
                DistParams::Fixed { value } => Some(*value),
                _ => None,
            };
            for target in &shock.instances {
                let sev = fixed.filter(|_| {
                    shock.kind == ShockKind::CapacityLoss
                        && shock.recovery_steps == 0
                        && target.suppliers.iter().all(|x| hits[x.ix()] == 1)
                });
                let Some(sev) = sev else {
                    instance_switch.push(NONE);
                    continue;
                };
                let k = switch_factor.len() as u32;
                instance_switch.push(k);
                // What `apply` gives a supplier at full capacity.
                switch_factor.push(1.0f64.min(1.0 - sev));
                switch_sups.extend(target.suppliers.iter().map(|x| (x.0, k)));
            }
        }
        Net {
            instances,
            instance_first,
            instance_elems,
            instance_switch,
            switch_factor,
            switch_sups,
            prod,
            sup_gated: model
                .suppliers
                .iter()
                .map(|s| {
                    e_gated[s.out_edges.start as usize..s.out_edges.end as usize].contains(&true)
                })
                .collect(),
            any_spot: sup_spot.contains(&true),
            sup_spot,
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

/// Per importer slot and lane: what the trial so far amounts to. Sums over the fill series
/// are kept step by step; timings (time to survive and recover) are read off per-step bits at
/// the end.
#[derive(Debug, Clone)]
struct Track {
    demand: Vec<Lanes>,
    unmet: Vec<Lanes>,
    /// This step's shortfall.
    short_now: Vec<Lanes>,
    /// Per importer slot and step, one bit per lane: contract supply fell short of need (before
    /// stocks). Slot-major.
    deficit: Vec<u16>,
    /// Per importer slot and step, one bit per lane: fill below 1. Slot-major.
    short: Vec<u16>,
    sums: Vec<SeriesSums>,
}

impl Track {
    fn new(k: usize, n_steps: usize) -> Track {
        Track {
            demand: vec![Lanes::ZERO; k],
            unmet: vec![Lanes::ZERO; k],
            short_now: vec![Lanes::ZERO; k],
            deficit: vec![0; k * n_steps],
            short: vec![0; k * n_steps],
            sums: vec![SeriesSums::ZERO; k],
        }
    }

    fn reset(&mut self) {
        for v in [&mut self.demand, &mut self.unmet, &mut self.short_now] {
            v.fill(Lanes::ZERO);
        }
        self.sums.fill(SeriesSums::ZERO);
    }
}

/// Running totals of goods moved, per lane, for the mass balance.
#[derive(Debug, Clone, Copy)]
struct Flow {
    shipped: Lanes,
    arrived: Lanes,
    used: Lanes,
}

/// Reusable state of a group of up to [`LANES`] trials, sized once for a model.
#[derive(Debug, Clone)]
pub struct Scratch {
    net: Net,
    cap_factor: Vec<Lanes>,
    ban: Vec<Lanes>,
    /// Share of an edge's order that can flow: ban factor times route open.
    gate: Vec<Lanes>,
    spot_factor: Vec<Lanes>,
    route_open: Vec<[bool; LANES]>,
    demand_factor: Vec<Lanes>,
    stock: Vec<Lanes>,
    arrived: Vec<Lanes>,
    in_transit: Vec<Lanes>,
    order: Vec<Lanes>,
    contract_shipped: Vec<Lanes>,
    eff_order: Vec<Lanes>,
    servable: Vec<Lanes>,
    planned: Vec<Lanes>,
    spot_avail: Vec<Lanes>,
    spot_need: Vec<Lanes>,
    short_since: Vec<[u32; LANES]>,
    spare_online: Vec<Lanes>,
    /// Pipes' ring buffers, cell-major: cell `c` of lane `l` is at `c * LANES + l`.
    ring: Vec<f64>,
    route_clock: Vec<[u32; LANES]>,
    pool_stock: Vec<Lanes>,
    /// Per lane, this group's events that are not a switch's, sorted by start.
    general: Vec<Vec<Event>>,
    /// Per switch and step, the lanes in which one of its events is in force (bit `l`).
    switch_on: Vec<u8>,
    /// Per lane, the events in force or easing off, sorted by end.
    active: Vec<Vec<Active>>,
    next_event: [usize; LANES],
    /// First step at which each lane's shocks change anything (an event starts, ends or eases).
    shocks_due: Steps,
    /// Per element and lane: active events that target it.
    touch: Touch,
    marks: Marks,
    track: Track,
    /// Keep the mass balance (`flow`, `balances`): for checks, off in production runs.
    audit: bool,
    flow: Flow,
    /// This group's fill per importer slot and step (slot-major), when audited.
    fills: Vec<Lanes>,
    /// Outcomes of the last group, lane-major: lane `l`, importer slot `k` at `l * K + k`.
    outcomes: Vec<SlotTrial>,
    balances: Vec<Balance>,
}

/// Per element and lane, the number of active events that target it.
#[derive(Debug, Clone)]
struct Touch {
    sup: Vec<Steps>,
    edge: Vec<Steps>,
    spot: Vec<Steps>,
    route: Vec<Steps>,
    slot: Vec<Steps>,
}

/// Elements whose factors must be recomputed this step (used one lane at a time).
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
        let k = n_slots - net.first_importer_slot;
        Scratch {
            cap_factor: vec![Lanes::ONE; ns],
            ban: vec![Lanes::ONE; ne],
            gate: vec![Lanes::ONE; ne],
            spot_factor: vec![Lanes::ONE; nl],
            route_open: vec![[true; LANES]; nr],
            demand_factor: vec![Lanes::ONE; n_slots],
            stock: vec![Lanes::ZERO; n_slots],
            arrived: vec![Lanes::ZERO; n_slots],
            in_transit: vec![Lanes::ZERO; n_slots],
            order: vec![Lanes::ZERO; n_slots],
            contract_shipped: vec![Lanes::ZERO; n_slots],
            eff_order: vec![Lanes::ZERO; ne],
            servable: vec![Lanes::ZERO; ns],
            planned: vec![Lanes::ZERO; ns],
            spot_avail: vec![Lanes::ZERO; ns],
            spot_need: vec![Lanes::ZERO; n_slots],
            short_since: vec![[NONE; LANES]; n_slots],
            spare_online: vec![Lanes::ZERO; ns],
            ring: vec![0.0; *net.ring_offset.last().unwrap() as usize * LANES],
            route_clock: vec![[0; LANES]; nr],
            pool_stock: vec![Lanes::ZERO; model.pools.len()],
            general: vec![Vec::new(); LANES],
            switch_on: vec![0; net.switch_factor.len() * model.n_steps as usize],
            active: vec![Vec::new(); LANES],
            next_event: [0; LANES],
            shocks_due: [0; LANES],
            touch: Touch {
                sup: vec![[0; LANES]; ns],
                edge: vec![[0; LANES]; ne],
                spot: vec![[0; LANES]; nl],
                route: vec![[0; LANES]; nr],
                slot: vec![[0; LANES]; n_slots],
            },
            marks: Marks {
                sup: vec![false; ns],
                edge: vec![false; ne],
                spot: vec![false; nl],
                route: vec![false; nr],
                slot: vec![false; n_slots],
                ..Marks::default()
            },
            track: Track::new(k, model.n_steps as usize),
            audit: true,
            flow: Flow {
                shipped: Lanes::ZERO,
                arrived: Lanes::ZERO,
                used: Lanes::ZERO,
            },
            fills: Vec::new(),
            outcomes: vec![SlotTrial::default(); k * LANES],
            balances: vec![Balance::default(); LANES],
            net,
        }
    }

    /// Importer-slot outcomes of lane `lane` of the last group (of the last trial for
    /// [`run_trial`], which uses lane 0).
    pub fn outcome(&self, lane: usize) -> &[SlotTrial] {
        let k = self.track.demand.len();
        &self.outcomes[lane * k..(lane + 1) * k]
    }

    /// Fill of every importer slot (slot-major) at every step of the last group, one lane per
    /// trial; kept for checks, empty when unaudited.
    pub fn fills(&self) -> &[Lanes] {
        &self.fills
    }

    /// The same scratch without what is kept for checks (the mass balance and the fill series:
    /// a few percent of the step, and the series' memory), for runs that do not check them.
    pub fn unaudited(mut self) -> Scratch {
        self.audit = false;
        self.fills = Vec::new();
        self
    }

    /// Mass-balance totals of lane `lane` of the last group (None when unaudited).
    pub fn balance(&self, lane: usize) -> Option<&Balance> {
        self.audit.then(|| &self.balances[lane])
    }

    fn reset(&mut self, model: &Model) {
        self.cap_factor.fill(Lanes::ONE);
        self.ban.fill(Lanes::ONE);
        self.gate.fill(Lanes::ONE);
        self.spot_factor.fill(Lanes::ONE);
        self.route_open.fill([true; LANES]);
        self.demand_factor.fill(Lanes::ONE);
        self.arrived.fill(Lanes::ZERO);
        self.in_transit.fill(Lanes::ZERO);
        self.short_since.fill([NONE; LANES]);
        self.spare_online.fill(Lanes::ZERO);
        self.route_clock.fill([0; LANES]);
        for a in &mut self.active {
            a.clear();
        }
        self.next_event = [0; LANES];
        self.shocks_due = [0; LANES];
        for v in [
            &mut self.touch.sup,
            &mut self.touch.edge,
            &mut self.touch.spot,
            &mut self.touch.route,
            &mut self.touch.slot,
        ] {
            v.fill([0; LANES]);
        }
        for (b, s) in model.slots.iter().enumerate() {
            self.stock[b] = Lanes::splat(s.stock_initial);
        }
        for (p, pipe) in model.pipes.iter().enumerate() {
            let (a, z) = (
                self.net.ring_offset[p] as usize * LANES,
                self.net.ring_offset[p + 1] as usize * LANES,
            );
            self.ring[a..z].fill(pipe.initial_per_step);
            self.in_transit[pipe.slot.ix()] +=
                Lanes::splat(pipe.initial_per_step * pipe.lead_steps as f64);
        }
        for (p, pool) in model.pools.iter().enumerate() {
            self.pool_stock[p] = Lanes::splat(pool.stock_target);
        }
        self.track.reset();
        if self.audit {
            // Every entry is written before it is read; only the length matters.
            self.fills
                .resize(self.track.demand.len() * model.n_steps as usize, Lanes::ONE);
        }
        self.flow = Flow {
            shipped: Lanes::ZERO,
            arrived: Lanes::ZERO,
            used: Lanes::ZERO,
        };
    }
}

/// Run one trial of `model` under `events` (sorted by start). Its outcomes are
/// [`Scratch::outcome`]`(0)` and [`Scratch::balance`]`(0)`; if `curves` is given, its fill at
/// every step is recorded.
pub fn run_trial(model: &Model, s: &mut Scratch, events: &[Event], curves: Option<&mut CurveAcc>) {
    run_group(model, s, &[events], curves);
}

/// Run one group of trials of `model` side by side, trial `l` under `events[l]` (each sorted by
/// start; at most [`LANES`] trials). Lane `l`'s outcomes are [`Scratch::outcome`]`(l)`; if
/// `curves` is given, every importer slot's fill at every step of every trial is recorded into
/// it as it is computed (where the histogram rows' cache misses overlap with the step's work).
pub fn run_group<E: AsRef<[Event]>>(
    model: &Model,
    s: &mut Scratch,
    events: &[E],
    curves: Option<&mut CurveAcc>,
) {
    run_group_on(Isa::best(), model, s, events, curves);
}

/// Instruction sets the step loop is compiled for. Every lane operation is IEEE arithmetic
/// lane by lane (no fused multiply-add), so each computes the same bits; wider vectors only
/// take fewer instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// What every CPU of the target has (SSE2 on x86-64): two `f64` per instruction.
    Baseline,
    /// x86-64 with AVX2 (and POPCNT, which every CPU with AVX2 has): four `f64` per
    /// instruction.
    Avx2,
}

impl Isa {
    /// The widest instruction set this CPU has, unless the environment variable
    /// `SUPPLYSHOCK_ISA=baseline` asks for the baseline (to compare speeds: results are the
    /// same either way). Decided once per process.
    pub fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let forced = std::env::var("SUPPLYSHOCK_ISA").is_ok_and(|v| v == "baseline");
            if Isa::Avx2.supported() && !forced {
                Isa::Avx2
            } else {
                Isa::Baseline
            }
        })
    }

    /// Whether this CPU can run code compiled for `self` (detected once, then cached).
    pub fn supported(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 => false,
        }
    }
}

/// [`run_group`] on the step loop compiled for `isa`; on a CPU without it, on the baseline.
pub fn run_group_on<E: AsRef<[Event]>>(
    isa: Isa,
    model: &Model,
    s: &mut Scratch,
    events: &[E],
    curves: Option<&mut CurveAcc>,
) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.supported() => {
            // SAFETY: the one requirement for calling a function compiled with a target
            // feature is that the CPU has it, and the guard of this arm has just checked that.
            #[allow(unsafe_code)]
            unsafe {
                group_avx2(model, s, events, curves)
            }
        }
        _ => group(model, s, events, curves),
    }
}

/// The step loop compiled for AVX2: everything hot is inlined into it, so it all is.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn group_avx2<E: AsRef<[Event]>>(
    model: &Model,
    s: &mut Scratch,
    events: &[E],
    curves: Option<&mut CurveAcc>,
) {
    group(model, s, events, curves);
}

/// The body of [`run_group`]. It and the step's hot functions are inlined wherever they are
/// called, so that each compiled [`Isa`] gets its own copy of them all.
#[inline(always)]
fn group<E: AsRef<[Event]>>(
    model: &Model,
    s: &mut Scratch,
    events: &[E],
    mut curves: Option<&mut CurveAcc>,
) {
    let n = events.len();
    assert!(
        (1..=LANES).contains(&n),
        "a group holds 1 to {LANES} trials"
    );
    s.reset(model);
    let n_steps = model.n_steps as usize;
    s.switch_on.fill(0);
    for (l, ev) in events.iter().enumerate() {
        s.general[l].clear();
        for e in ev.as_ref() {
            let k = s.net.instance_switch
                [(s.net.instance_first[e.shock as usize] + e.instance) as usize];
            if k == NONE {
                s.general[l].push(*e);
            } else {
                let row = &mut s.switch_on[k as usize * n_steps..(k as usize + 1) * n_steps];
                let end = (e.end as usize).min(n_steps);
                for on in &mut row[(e.start as usize).min(end)..end] {
                    *on |= 1 << l;
                }
            }
        }
    }
    for t in 0..model.n_steps {
        // 1. Shocks: switches for all lanes at once, then other events trial by trial (each
        // has its own).
        let (cap_factor, switch_on) = (&mut s.cap_factor[..], &s.switch_on[..]);
        for &(si, k) in &s.net.switch_sups {
            let on = switch_on[k as usize * n_steps + t as usize];
            cap_factor[si as usize] = Lanes::select_bits(on, s.net.switch_factor[k as usize], 1.0);
        }
        for l in 0..n {
            if t >= s.shocks_due[l] {
                step_shocks(s, l, t);
            }
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
                for l in 0..n {
                    spot_market(model, s, m as usize, t, l);
                }
            }
        }
        // 5. Consumption.
        consume(model, s, t, curves.as_deref_mut().map(|c| (c, n)));
        for (clock, open) in s.route_clock.iter_mut().zip(&s.route_open) {
            for l in 0..LANES {
                clock[l] = clock[l].wrapping_add(u32::from(open[l]));
            }
        }
    }
    finish(model, s, n);
}

/// Start events of lane `l` that begin at `t`, and bring up to date the elements of its events
/// that recover or end. Overlapping events on one element: the largest severity holds.
fn step_shocks(s: &mut Scratch, l: usize, t: u32) {
    // Events ending or easing off (the active list is sorted by end, so they come first): an
    // element only this event targets takes its eased severity directly; an element other
    // events also target is marked and recomputed from them all.
    let mut i = 0;
    let mut any_marked = false;
    while i < s.active[l].len() && s.active[l][i].end <= t {
        let a = s.active[l][i];
        let inst = s.net.instances[a.instance as usize];
        let over = t >= a.end.saturating_add(inst.recovery);
        let sev = if over {
            0.0
        } else {
            a.severity_at(t, inst.recovery)
        };
        any_marked |= ease(s, &inst, sev, l);
        if over {
            touch(s, &inst, l, false);
            s.active[l].remove(i);
        } else {
            i += 1;
        }
    }
    if any_marked {
        reset_marked(s, l);
        for k in 0..s.active[l].len() {
            let a = s.active[l][k];
            let inst = s.net.instances[a.instance as usize];
            apply(
                s,
                &inst,
                a.severity_at(t, inst.recovery),
                t < a.end,
                true,
                l,
            );
        }
        finish_marked(s, l);
    }
    while s.next_event[l] < s.general[l].len() && s.general[l][s.next_event[l]].start <= t {
        let ev = s.general[l][s.next_event[l]];
        s.next_event[l] += 1;
        let a = Active {
            end: ev.end,
            instance: s.net.instance_first[ev.shock as usize] + ev.instance,
            severity: ev.severity,
        };
        let inst = s.net.instances[a.instance as usize];
        touch(s, &inst, l, true);
        let at = s.active[l].partition_point(|x| x.end <= a.end);
        s.active[l].insert(at, a);
        if t < ev.end {
            apply(s, &inst, ev.severity, true, false, l);
        }
    }
    // Nothing changes before the next start, or before the first active event's end (every
    // step after it while it eases off).
    let next_start = s.general[l].get(s.next_event[l]).map_or(NONE, |e| e.start);
    let first_end = s.active[l].first().map_or(NONE, |a| a.end.max(t + 1));
    s.shocks_due[l] = next_start.min(first_end);
}

/// An event in force or easing off, in a lane's active list.
#[derive(Debug, Clone, Copy)]
struct Active {
    end: u32,
    /// Index into [`Net::instances`].
    instance: u32,
    severity: f64,
}

impl Active {
    /// Severity in force at `t`, counting the linear recovery after the end.
    #[inline]
    fn severity_at(&self, t: u32, recovery: u32) -> f64 {
        crate::shocks::severity_at(self.severity, self.end, t, recovery)
    }
}

/// One shock instance, flattened for the step loop: what it hits, as ranges of
/// [`Net::instance_elems`].
#[derive(Debug, Clone, Copy)]
struct Instance {
    kind: ShockKind,
    recovery: u32,
    /// Suppliers, edges, routes or slots, by kind.
    elems: (u32, u32),
    /// Spot links (export bans).
    spots: (u32, u32),
}

/// The elements of `inst` in `net` (by kind), then its spot links.
#[inline(always)]
fn elems<'a>(net: &'a Net, inst: &Instance) -> (&'a [u32], &'a [u32]) {
    (
        &net.instance_elems[inst.elems.0 as usize..inst.elems.1 as usize],
        &net.instance_elems[inst.spots.0 as usize..inst.spots.1 as usize],
    )
}

/// Count an event in (or out of) the elements it targets, in lane `l`.
fn touch(s: &mut Scratch, inst: &Instance, l: usize, add: bool) {
    let (xs, spots) = elems(&s.net, inst);
    let c = &mut s.touch;
    let counts = match inst.kind {
        ShockKind::CapacityLoss => &mut c.sup,
        ShockKind::ExportBan => &mut c.edge,
        ShockKind::RouteClosure => &mut c.route,
        ShockKind::DemandSurge => &mut c.slot,
    };
    for &x in xs {
        let n = &mut counts[x as usize][l];
        *n = if add { *n + 1 } else { *n - 1 };
    }
    for &x in spots {
        let n = &mut c.spot[x as usize][l];
        *n = if add { *n + 1 } else { *n - 1 };
    }
}

/// An event past its end now has severity `sev` (0 once recovered) in lane `l`. Elements it
/// alone targets take that severity at once (what a recompute from the active events would
/// give); the others are marked for a recompute. True when something was marked.
fn ease(s: &mut Scratch, inst: &Instance, sev: f64, l: usize) -> bool {
    let mut marked = false;
    let (xs, spots) = elems(&s.net, inst);
    match inst.kind {
        ShockKind::CapacityLoss => {
            for &i in xs {
                let i = i as usize;
                if s.touch.sup[i][l] == 1 {
                    s.cap_factor[i].0[l] = 1.0f64.min(1.0 - sev);
                } else {
                    marked |= mark(&mut s.marks.sup, &mut s.marks.sup_list, i);
                }
            }
        }
        ShockKind::ExportBan => {
            for &e in xs {
                let e = e as usize;
                if s.touch.edge[e][l] == 1 {
                    s.ban[e].0[l] = 1.0f64.min(1.0 - sev);
                    s.gate[e].0[l] = gate_of(s, e, l);
                } else {
                    marked |= mark(&mut s.marks.edge, &mut s.marks.edge_list, e);
                }
            }
            for &x in spots {
                let x = x as usize;
                if s.touch.spot[x][l] == 1 {
                    s.spot_factor[x].0[l] = 1.0f64.min(1.0 - sev);
                } else {
                    marked |= mark(&mut s.marks.spot, &mut s.marks.spot_list, x);
                }
            }
        }
        // A closure holds until its end only: past it, a route it alone closes is open.
        ShockKind::RouteClosure => {
            for &r in xs {
                let r = r as usize;
                if s.touch.route[r][l] == 1 {
                    s.route_open[r][l] = true;
                    for &e in &s.net.route_edges[r] {
                        s.gate[e as usize].0[l] = s.ban[e as usize].0[l] * 1.0;
                    }
                } else {
                    marked |= mark(&mut s.marks.route, &mut s.marks.route_list, r);
                }
            }
        }
        ShockKind::DemandSurge => {
            for &i in xs {
                let i = i as usize;
                if s.touch.slot[i][l] == 1 {
                    s.demand_factor[i].0[l] = 1.0f64.max(1.0 + sev);
                } else {
                    marked |= mark(&mut s.marks.slot, &mut s.marks.slot_list, i);
                }
            }
        }
    }
    marked
}

fn mark(flags: &mut [bool], list: &mut Vec<u32>, x: usize) -> bool {
    if !flags[x] {
        flags[x] = true;
        list.push(x as u32);
    }
    true
}

fn reset_marked(s: &mut Scratch, l: usize) {
    for &x in &s.marks.sup_list {
        s.cap_factor[x as usize].0[l] = 1.0;
    }
    for &x in &s.marks.edge_list {
        s.ban[x as usize].0[l] = 1.0;
    }
    for &x in &s.marks.spot_list {
        s.spot_factor[x as usize].0[l] = 1.0;
    }
    for &x in &s.marks.route_list {
        s.route_open[x as usize][l] = true;
    }
    for &x in &s.marks.slot_list {
        s.demand_factor[x as usize].0[l] = 1.0;
    }
}

/// The gate of edge `e` in lane `l`: its ban factor, or nothing while its route is closed.
#[inline]
fn gate_of(s: &Scratch, e: usize, l: usize) -> f64 {
    let r = s.net.e_route[e];
    s.ban[e].0[l]
        * if r == NONE || s.route_open[r as usize][l] {
            1.0
        } else {
            0.0
        }
}

/// Recompute gates of marked edges and routes in lane `l`, then clear the marks.
fn finish_marked(s: &mut Scratch, l: usize) {
    for i in 0..s.marks.edge_list.len() {
        let e = s.marks.edge_list[i] as usize;
        s.gate[e].0[l] = gate_of(s, e, l);
        s.marks.edge[e] = false;
    }
    let m = &mut s.marks;
    for &x in &m.route_list {
        let open = if s.route_open[x as usize][l] {
            1.0
        } else {
            0.0
        };
        for &e in &s.net.route_edges[x as usize] {
            s.gate[e as usize].0[l] = s.ban[e as usize].0[l] * open;
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

/// Apply an event's severity `sev` in lane `l` (`in_force`: before its end, which a route
/// closure needs). With `only_marked`, touch marked elements only (the others already hold
/// their factors).
fn apply(s: &mut Scratch, inst: &Instance, sev: f64, in_force: bool, only_marked: bool, l: usize) {
    let (xs, spots) = elems(&s.net, inst);
    match inst.kind {
        ShockKind::CapacityLoss => {
            for &i in xs {
                let i = i as usize;
                if !only_marked || s.marks.sup[i] {
                    s.cap_factor[i].0[l] = s.cap_factor[i].0[l].min(1.0 - sev);
                }
            }
        }
        ShockKind::ExportBan => {
            for &e in xs {
                let e = e as usize;
                if !only_marked || s.marks.edge[e] {
                    s.ban[e].0[l] = s.ban[e].0[l].min(1.0 - sev);
                    if !only_marked {
                        s.gate[e].0[l] = gate_of(s, e, l);
                    }
                }
            }
            for &x in spots {
                let x = x as usize;
                if !only_marked || s.marks.spot[x] {
                    s.spot_factor[x].0[l] = s.spot_factor[x].0[l].min(1.0 - sev);
                }
            }
        }
        ShockKind::RouteClosure => {
            if in_force {
                for &r in xs {
                    let r = r as usize;
                    if !only_marked || s.marks.route[r] {
                        s.route_open[r][l] = false;
                        if !only_marked {
                            for &e in &s.net.route_edges[r] {
                                s.gate[e as usize].0[l] = 0.0;
                            }
                        }
                    }
                }
            }
        }
        ShockKind::DemandSurge => {
            for &i in xs {
                let i = i as usize;
                if !only_marked || s.marks.slot[i] {
                    s.demand_factor[i].0[l] = s.demand_factor[i].0[l].max(1.0 + sev);
                }
            }
        }
    }
}

#[inline(always)]
fn arrivals(model: &Model, s: &mut Scratch) {
    for (p, pipe) in model.pipes.iter().enumerate() {
        let (r, b) = (pipe.route.ix(), pipe.slot.ix());
        let offset = s.net.ring_offset[p];
        for l in 0..LANES {
            if !s.route_open[r][l] {
                continue;
            }
            let cell = ring_index(pipe, offset, s.route_clock[r][l], l);
            let q = s.ring[cell];
            s.ring[cell] = 0.0;
            s.arrived[b].0[l] += q;
            s.in_transit[b].0[l] -= q;
        }
    }
}

#[inline(always)]
fn orders(model: &Model, s: &mut Scratch) {
    // Disjoint borrows as local slices: the compiler can then keep every base pointer in a
    // register instead of reloading it after each store.
    let net = &s.net;
    let order = &mut s.order[..];
    let contract_shipped = &mut s.contract_shipped[..];
    let (stock, arrived, in_transit) = (&s.stock[..], &s.arrived[..], &s.in_transit[..]);
    let demand_factor = &s.demand_factor[..];
    for b in net.first_importer_slot..model.slots.len() {
        let mut o = demand_factor[b] * net.slot_base_order[b];
        if net.slot_refill[b] > 0.0 {
            let gap = Lanes::splat(net.slot_level[b]) - stock[b] - arrived[b] - in_transit[b];
            o += gap.positive_min(net.slot_refill[b]);
        }
        if net.slot_pool[b] != NONE {
            let p = net.slot_pool[b] as usize;
            let pool = &model.pools[p];
            if pool.refill_per_step > 0.0 {
                let gap = Lanes::splat(pool.stock_target) - s.pool_stock[p];
                o += gap.positive_min(pool.refill_per_step) * net.pool_share[b];
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
            // No ban or closure can reach these edges: their gates stay 1.
            for ((q_out, &b), &share) in edges {
                let q = order[b as usize] * share;
                *q_out = q;
                servable += q;
            }
        }
        servable_out[si] = servable;
        let cap = cap_factor[si] * net.sup_capacity[si];
        let planned = Lanes(std::array::from_fn(|l| {
            if servable.0[l] < cap.0[l] {
                servable.0[l]
            } else {
                cap.0[l]
            }
        }));
        planned_out[si] = planned;
        let (i0, i1) = net.sup_inputs[si];
        for b in i0 as usize..i1 as usize {
            let mut o = planned * net.slot_ratio[b];
            if net.slot_refill[b] > 0.0 {
                let gap = Lanes::splat(net.slot_level[b]) - stock[b] - arrived[b] - in_transit[b];
                o += gap.positive_min(net.slot_refill[b]);
            }
            order[b] = o;
        }
    }
}

/// Send `q` units to slot `b` in lane `l`, through pipe `pipe` (NONE: arrives now).
#[inline(always)]
fn ship(model: &Model, s: &mut Scratch, b: usize, pipe: u32, q: f64, l: usize) {
    if pipe == NONE {
        s.arrived[b].0[l] += q;
    } else {
        let p = pipe as usize;
        let clock = s.route_clock[model.pipes[p].route.ix()][l];
        s.ring[ring_index(&model.pipes[p], s.net.ring_offset[p], clock, l)] += q;
        s.in_transit[b].0[l] += q;
    }
}

/// Where in `ring` lane `l` of `pipe` (whose cells start at `offset`) loads and unloads this
/// step, at its route's `clock`: a cell per step of lead time, in turn.
#[inline(always)]
fn ring_index(pipe: &Pipe, offset: u32, clock: u32, l: usize) -> usize {
    (offset as usize + (clock % pipe.lead_steps) as usize) * LANES + l
}

/// Units of output the inputs on hand allow (infinite for a raw-material supplier).
#[inline(always)]
fn input_limit(s: &Scratch, si: usize) -> Lanes {
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

#[inline(always)]
fn use_inputs(s: &mut Scratch, si: usize, output: Lanes) {
    let (i0, i1) = s.net.sup_inputs[si];
    for b in i0 as usize..i1 as usize {
        let used = output * s.net.slot_ratio[b];
        if s.audit {
            s.flow.arrived += s.arrived[b];
            s.flow.used += used;
        }
        s.stock[b] = (s.stock[b] + s.arrived[b] - used).max(Lanes::ZERO);
        s.arrived[b] = Lanes::ZERO;
    }
}

#[inline(always)]
fn produce(model: &Model, s: &mut Scratch, si: usize) {
    let (i0, i1) = s.net.sup_inputs[si];
    // A raw-material supplier has no input limit.
    let output = if i0 == i1 {
        s.planned[si]
    } else {
        s.planned[si].min(input_limit(s, si))
    };
    // Lanes with no output add nothing below: their shares are zero (or their orders are).
    if s.audit {
        s.flow.shipped += output;
    }
    let (e0, e1) = s.net.sup_edges[si];
    let (e0, e1) = (e0 as usize, e1 as usize);
    if s.net.sup_same_step[si] && !s.net.sup_has_priority[si] {
        // Common case: every buyer gets the same share of its order, all arriving now.
        let r = (output / s.servable[si]).min(Lanes::ONE);
        let (eff, e_slot) = (&s.eff_order[e0..e1], &s.net.e_slot[e0..e1]);
        let (arrived, shipped) = (&mut s.arrived[..], &mut s.contract_shipped[..]);
        if s.net.sup_spot[si] {
            for (&o, &b) in eff.iter().zip(e_slot) {
                let q = o * r;
                arrived[b as usize] += q;
                shipped[b as usize] += q;
            }
        } else {
            for (&o, &b) in eff.iter().zip(e_slot) {
                arrived[b as usize] += o * r;
            }
        }
    } else if !s.net.sup_has_priority[si] {
        // Pro rata, some buyers through pipes: the shares are lane arithmetic; a pipe's cell
        // depends on the lane's route clock. What `allocate_lane` does, lane by lane (a lane
        // with nothing to ship adds zeros).
        let r = (output / s.servable[si]).min(Lanes::ONE);
        for e in e0..e1 {
            let q = s.eff_order[e] * r;
            let b = s.net.e_slot[e] as usize;
            s.contract_shipped[b] += q;
            let pipe = s.net.e_pipe[e];
            if pipe == NONE {
                s.arrived[b] += q;
            } else {
                let (pipe, offset) = (
                    &model.pipes[pipe as usize],
                    s.net.ring_offset[pipe as usize],
                );
                let clock = &s.route_clock[pipe.route.ix()];
                for (l, (&c, &q)) in clock.iter().zip(&q.0).enumerate() {
                    s.ring[ring_index(pipe, offset, c, l)] += q;
                }
                s.in_transit[b] += q;
            }
        }
    } else {
        for l in 0..LANES {
            allocate_lane(model, s, si, output.0[l], l);
        }
    }
    use_inputs(s, si, output);
    if s.net.sup_spot[si] {
        s.spot_avail[si] = (s.cap_factor[si] * s.net.sup_capacity[si] - output).max(Lanes::ZERO);
    }
}

/// Ship supplier `si`'s `output` in lane `l` to its buyers: priority regions first, pro rata
/// among them, the rest sharing what is left; through pipes where routes have lead times.
fn allocate_lane(model: &Model, s: &mut Scratch, si: usize, output: f64, l: usize) {
    if output <= 0.0 {
        return;
    }
    let servable = s.servable[si].0[l];
    let (e0, e1) = s.net.sup_edges[si];
    let (e0, e1) = (e0 as usize, e1 as usize);
    let (r_prio, r_rest) = if !s.net.sup_has_priority[si] || output >= servable * (1.0 - EPS) {
        let r = (output / servable).min(1.0);
        (r, r)
    } else {
        let prio: f64 = (e0..e1)
            .filter(|&e| s.net.e_priority[e])
            .map(|e| s.eff_order[e].0[l])
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
    for e in e0..e1 {
        let q = s.eff_order[e].0[l] * if s.net.e_priority[e] { r_prio } else { r_rest };
        if q > 0.0 {
            let b = s.net.e_slot[e] as usize;
            s.contract_shipped[b].0[l] += q;
            ship(model, s, b, s.net.e_pipe[e], q, l);
        }
    }
}

/// Lane `l` of [`input_limit`].
fn input_limit_lane(s: &Scratch, si: usize, l: usize) -> f64 {
    let (i0, i1) = s.net.sup_inputs[si];
    let mut limit = f64::INFINITY;
    for b in i0 as usize..i1 as usize {
        limit = limit.min((s.stock[b].0[l] + s.arrived[b].0[l]) / s.net.slot_ratio[b]);
    }
    limit
}

/// Lane `l` of [`use_inputs`].
fn use_inputs_lane(s: &mut Scratch, si: usize, output: f64, l: usize) {
    let (i0, i1) = s.net.sup_inputs[si];
    for b in i0 as usize..i1 as usize {
        let used = output * s.net.slot_ratio[b];
        let (stock, arrived) = (s.stock[b].0[l], s.arrived[b].0[l]);
        s.flow.arrived.0[l] += arrived;
        s.flow.used.0[l] += used;
        s.stock[b].0[l] = (stock + arrived - used).max(0.0);
        s.arrived[b].0[l] = 0.0;
    }
}

/// Material `m`'s spot market in lane `l`.
fn spot_market(model: &Model, s: &mut Scratch, m: usize, t: u32, l: usize) {
    let mut any = false;
    for i in 0..s.net.switch_slots[m].len() {
        let b = s.net.switch_slots[m][i] as usize;
        let order = s.order[b].0[l];
        let shortfall = order - s.contract_shipped[b].0[l];
        if shortfall > EPS * order.max(1.0) {
            if s.short_since[b][l] == NONE {
                s.short_since[b][l] = t;
            }
            let switch = model.slots[b].switch_steps.unwrap_or(u32::MAX);
            if t - s.short_since[b][l] >= switch {
                s.spot_need[b].0[l] = shortfall;
                any = true;
                continue;
            }
        } else {
            s.short_since[b][l] = NONE;
        }
        s.spot_need[b].0[l] = 0.0;
    }
    let suppliers = &model.material_suppliers[m];
    if !any {
        for sup in suppliers {
            s.spare_online[sup.ix()].0[l] = 0.0;
        }
        return;
    }
    let link_open = |s: &Scratch, x: usize| {
        model.spot_links[x]
            .route
            .is_none_or(|r| s.route_open[r.ix()][l])
    };
    for &sup in suppliers {
        let si = sup.ix();
        let supplier = &model.suppliers[si];
        let pos = s.net.sup_pos[si] as usize;
        let mut asked = 0.0;
        for &b in &s.net.switch_slots[m] {
            let b = b as usize;
            let x = model.slots[b].spot_links.start as usize + pos;
            if s.spot_need[b].0[l] > 0.0 && link_open(s, x) {
                asked += s.spot_need[b].0[l] * s.spot_factor[x].0[l];
            }
        }
        if asked <= 0.0 {
            s.spare_online[si].0[l] = 0.0;
            continue;
        }
        let spare =
            supplier.spare * supplier.capacity * s.cap_factor[si].0[l] * s.spare_online[si].0[l];
        let offer = (s.spot_avail[si].0[l] + spare).min(input_limit_lane(s, si, l));
        // Spare comes online gradually while buyers ask for it.
        s.spare_online[si].0[l] = if supplier.ramp_steps == 0 {
            1.0
        } else {
            (s.spare_online[si].0[l] + 1.0 / supplier.ramp_steps as f64).min(1.0)
        };
        if offer <= 0.0 {
            continue;
        }
        let ratio = (offer / asked).min(1.0);
        let mut sold = 0.0;
        for i in 0..s.net.switch_slots[m].len() {
            let b = s.net.switch_slots[m][i] as usize;
            let x = model.slots[b].spot_links.start as usize + pos;
            if s.spot_need[b].0[l] <= 0.0 || !link_open(s, x) {
                continue;
            }
            let q = s.spot_need[b].0[l] * s.spot_factor[x].0[l] * ratio;
            if q > 0.0 {
                s.spot_need[b].0[l] -= q;
                sold += q;
                ship(
                    model,
                    s,
                    b,
                    model.spot_links[x].pipe.map_or(NONE, |p| p.0),
                    q,
                    l,
                );
            }
        }
        s.flow.shipped.0[l] += sold;
        use_inputs_lane(s, si, sold, l);
        s.spot_avail[si].0[l] = (s.spot_avail[si].0[l] - sold).max(0.0);
    }
}

/// Consumption at step `t`; with `curves`, the fills of the first `n` lanes are recorded.
#[inline(always)]
fn consume(model: &Model, s: &mut Scratch, t: u32, mut curves: Option<(&mut CurveAcc, usize)>) {
    let n_steps = model.n_steps as usize;
    let first = s.net.first_importer_slot;
    // Without pools, each slot is settled as soon as its stockpile has been drawn.
    let pooled = !model.pools.is_empty();
    for b in first..model.slots.len() {
        let k = b - first;
        let need = s.demand_factor[b] * s.net.slot_nominal[b];
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
        s.track.deficit[k * n_steps + t as usize] = is_short.bits();
        let draw = Lanes::select(is_short, short.min(s.stock[b]), Lanes::ZERO);
        s.stock[b] -= draw;
        if s.audit {
            s.flow.used += draw;
        }
        s.stock[b] += surplus;
        let short_now = Lanes::select(is_short, short - draw, Lanes::ZERO);
        if pooled {
            s.track.short_now[k] = short_now;
        } else {
            settle(s, k, t, n_steps, need, short_now, &mut curves);
        }
    }
    if !pooled {
        return;
    }
    for l in 0..LANES {
        pools(model, s, l);
    }
    for b in first..model.slots.len() {
        let need = s.demand_factor[b] * s.net.slot_nominal[b];
        let k = b - first;
        let short_now = s.track.short_now[k];
        settle(s, k, t, n_steps, need, short_now, &mut curves);
    }
}

/// Importer slot `k` is left `short_now` of its `need` at step `t` (of `n_steps`): add up its
/// demand, unmet units and fill series, and record its fill in `curves` (first `n` lanes).
#[inline(always)]
fn settle(
    s: &mut Scratch,
    k: usize,
    t: u32,
    n_steps: usize,
    need: Lanes,
    short_now: Lanes,
    curves: &mut Option<(&mut CurveAcc, usize)>,
) {
    let short = Lanes::select(short_now.gt(need * EPS), short_now, Lanes::ZERO);
    let tr = &mut s.track;
    tr.demand[k] += need;
    tr.unmet[k] += short;
    // Below 1 exactly when short: short/need is then above EPS.
    let fill = Lanes::select(need.gt(Lanes::ZERO), Lanes::ONE - short / need, Lanes::ONE);
    let i = k * n_steps + t as usize;
    tr.sums[k].add(fill);
    tr.short[i] = Lanes::ONE.gt(fill).bits();
    if s.audit {
        s.fills[i] = fill;
    }
    if let Some((c, n)) = curves {
        c.record_lanes(k, t as usize, &fill, *n);
    }
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

/// Close the group: outcomes and mass balance of its first `n` lanes.
#[inline(always)]
fn finish(model: &Model, s: &mut Scratch, n: usize) {
    let n_steps = model.n_steps as usize;
    let k_slots = s.track.demand.len();
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
