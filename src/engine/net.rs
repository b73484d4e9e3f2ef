//! The model flattened into arrays for the step loop (built once per model), and the fast
//! paths chosen for it.

use super::events::{Instances, OutageMasks};
use super::NONE;
use crate::model::{Model, Owner, ShockKind};

/// The fast paths the step loop takes. Each is exact (it computes the bits the per-lane
/// reference rules compute) and is named after what it exploits; [`Paths::ALL`] in production,
/// [`Paths::NONE`] for the tests that compare the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Paths {
    /// Every lane of a group does the same arithmetic on its own numbers: orders, production,
    /// pro-rata allocation and consumption run on whole groups ([`crate::lanes::Lanes`])
    /// instead of lane by lane.
    pub lane_arithmetic: bool,
    /// A supplier whose every buyer is served in the same step (no pipe) ships without looking
    /// up a route clock.
    pub same_step_suppliers: bool,
    /// Edges that no ban or closure can reach keep a gate of 1: orders skip the product.
    pub ungated_edges: bool,
    /// A lane's events change factors only on the steps where one starts, ends or eases off:
    /// other steps skip the event bookkeeping.
    pub quiet_steps: bool,
    /// Outages with a fixed severity, no recovery ramp and suppliers of their own are laid
    /// out on per-step lane masks when a group starts.
    pub outage_masks: bool,
    /// Without pools, an importer's step is settled as soon as its stockpile is drawn.
    pub settle_without_pools: bool,
    /// A market lane whose every input equals the one it last cleared with (a stock refilled
    /// at its capped rate into an unchanged market, a ban whose buyers hold no releasable
    /// stock) repeats that clearing's prices and deliveries instead of solving again.
    pub repeated_markets: bool,
}

impl Paths {
    pub const ALL: Paths = Paths {
        lane_arithmetic: true,
        same_step_suppliers: true,
        ungated_edges: true,
        quiet_steps: true,
        outage_masks: true,
        settle_without_pools: true,
        repeated_markets: true,
    };
    pub const NONE: Paths = Paths {
        lane_arithmetic: false,
        same_step_suppliers: false,
        ungated_edges: false,
        quiet_steps: false,
        outage_masks: false,
        settle_without_pools: false,
        repeated_markets: false,
    };
}

/// How a supplier ships its output to its contract buyers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alloc {
    /// The reference rules, lane by lane: production and allocation.
    Reference,
    /// Output in lane arithmetic; pro rata, every buyer in the same step, no route clock.
    SameStep,
    /// Output in lane arithmetic; pro rata, some buyers through pipes (lane arithmetic but for
    /// the pipe's cell).
    ProRata,
    /// Output in lane arithmetic; priority rationing by the reference rule, lane by lane.
    ByLane,
}

/// The model flattened into arrays for the step loop.
#[derive(Debug, Clone)]
pub(super) struct Net {
    pub paths: Paths,
    /// Suppliers in production order (inputs before outputs).
    pub prod: Vec<u32>,
    /// (material, end index into `prod`) for each material in production order.
    pub material_ends: Vec<(u32, u32)>,
    pub sup_capacity: Vec<f64>,
    pub sup_edges: Vec<(u32, u32)>,
    pub sup_inputs: Vec<(u32, u32)>,
    /// Some contract edge of the supplier can be banned or closed (its gate is not always 1);
    /// every supplier when the `ungated_edges` path is off.
    pub sup_gated: Vec<bool>,
    /// The supplier's material has a spot market (its spare output and contract deliveries
    /// are needed).
    pub sup_spot: Vec<bool>,
    pub any_spot: bool,
    /// Some contract buyer of the supplier can order a refill (a stockpile, a pool or an input
    /// stock that refills): only then can its allocation take two passes (use, then refill).
    pub sup_refills: Vec<bool>,
    pub sup_alloc: Vec<Alloc>,
    pub e_slot: Vec<u32>,
    pub e_share: Vec<f64>,
    pub e_pipe: Vec<u32>,
    pub e_route: Vec<u32>,
    pub e_priority: Vec<bool>,
    pub route_edges: Vec<Vec<u32>>,
    pub slot_ratio: Vec<f64>,
    /// Importers: demand per step net of recycling.
    pub slot_base_order: Vec<f64>,
    /// Inventory position the refill aims for: stock target plus steady-state pipeline.
    pub slot_level: Vec<f64>,
    pub slot_refill: Vec<f64>,
    /// The most a slot's stock may hold: its stock target (arrivals above it overflow).
    pub slot_target: Vec<f64>,
    pub slot_nominal: Vec<f64>,
    pub slot_recycled: Vec<f64>,
    pub slot_pool: Vec<u32>,
    pub pool_share: Vec<f64>,
    pub first_importer_slot: usize,
    /// Importer slots that can switch to the spot market (re-source), per material without a
    /// market.
    pub switch_slots: Vec<Vec<u32>>,
    /// Per material with a market, its buyers (importer and supplier input slots).
    pub market_buyers: Vec<Vec<u32>>,
    /// Per slot: the slot's material has a market.
    pub slot_market: Vec<bool>,
    /// Per slot: its index among its material's `market_buyers`, or `NONE`.
    pub market_buyer_index: Vec<u32>,
    pub any_market: bool,
    /// Position of each supplier among its material's suppliers (indexes spot links).
    pub sup_pos: Vec<u32>,
    pub ring_offset: Vec<u32>,
    pub instances: Instances,
    pub masks: OutageMasks,
}

impl Net {
    pub(super) fn new(model: &Model, paths: Paths) -> Net {
        let (prod, material_ends) = production_order(model);
        let sup_refills = refilling_suppliers(model, &prod);
        let switch_slots = switch_slots(model);
        let market_buyers = market_buyers(model);
        let sup_spot: Vec<bool> = model
            .suppliers
            .iter()
            .map(|s| !switch_slots[s.material.ix()].is_empty())
            .collect();
        let (instances, masks) = Instances::new(model, paths.outage_masks);
        Net {
            paths,
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
            sup_gated: gated_suppliers(model, paths),
            any_spot: sup_spot.contains(&true),
            sup_spot,
            sup_refills,
            sup_alloc: allocation_rules(model, paths),
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
            route_edges: route_edges(model),
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
            slot_target: model.slots.iter().map(|s| s.stock_target).collect(),
            slot_nominal: model.slots.iter().map(|s| s.nominal_use).collect(),
            slot_recycled: model.slots.iter().map(|s| s.recycled).collect(),
            slot_pool: model
                .slots
                .iter()
                .map(|s| s.pool.map_or(NONE, |p| p.0))
                .collect(),
            pool_share: pool_shares(model),
            first_importer_slot: model.first_importer_slot(),
            switch_slots,
            market_buyer_index: market_buyer_index(model, &market_buyers),
            market_buyers,
            any_market: model.materials.iter().any(|m| m.market.is_some()),
            slot_market: model
                .slots
                .iter()
                .map(|s| model.materials[s.material.ix()].market.is_some())
                .collect(),
            sup_pos: supplier_positions(model),
            ring_offset: ring_offsets(model),
            instances,
            masks,
        }
    }
}

/// Per supplier: whether some contract buyer of it can order a refill.
///
/// A supplier's input order carries a refill part when its own input stock refills or when
/// some of its own buyers can refill (the output planned for refills is a refill upstream):
/// worked out downstream first.
fn refilling_suppliers(model: &Model, prod: &[u32]) -> Vec<bool> {
    let mut out = vec![false; model.suppliers.len()];
    for &si in prod.iter().rev() {
        let s = &model.suppliers[si as usize];
        out[si as usize] = (s.out_edges.start..s.out_edges.end).any(|e| {
            let slot = &model.slots[model.edges[e as usize].slot.ix()];
            slot.refill_per_step > 0.0
                || slot
                    .pool
                    .is_some_and(|p| model.pools[p.ix()].refill_per_step > 0.0)
                || matches!(slot.owner, Owner::Supplier(x) if out[x.ix()])
        });
    }
    out
}

/// Suppliers in production order (inputs before outputs), and where each material's end.
fn production_order(model: &Model) -> (Vec<u32>, Vec<(u32, u32)>) {
    let mut prod = Vec::new();
    let mut material_ends = Vec::new();
    for &m in &model.material_order {
        prod.extend(model.material_suppliers[m.ix()].iter().map(|s| s.0));
        material_ends.push((m.0, prod.len() as u32));
    }
    (prod, material_ends)
}

/// Where each pipe's ring of cells starts (a cell per step of lead time), and the total.
fn ring_offsets(model: &Model) -> Vec<u32> {
    let mut ring_offset = Vec::with_capacity(model.pipes.len() + 1);
    let mut total = 0u32;
    for p in &model.pipes {
        ring_offset.push(total);
        total += p.lead_steps;
    }
    ring_offset.push(total);
    ring_offset
}

/// Importer slots that can re-source on the spot market, per material.
fn switch_slots(model: &Model) -> Vec<Vec<u32>> {
    let mut switch_slots = vec![Vec::new(); model.materials.len()];
    for (si, s) in model.slots.iter().enumerate() {
        let market = model.materials[s.material.ix()].market.is_some();
        if s.switch_steps.is_some() && !s.spot_links.is_empty() && !market {
            switch_slots[s.material.ix()].push(si as u32);
        }
    }
    switch_slots
}

/// Per material with a market, its buyers (importer and supplier input slots); empty for the
/// others.
fn market_buyers(model: &Model) -> Vec<Vec<u32>> {
    let mut buyers = vec![Vec::new(); model.materials.len()];
    for (si, s) in model.slots.iter().enumerate() {
        if model.materials[s.material.ix()].market.is_some() && !s.spot_links.is_empty() {
            buyers[s.material.ix()].push(si as u32);
        }
    }
    buyers
}

/// Per slot: its index among its material's market buyers ([`market_buyers`]), or `NONE`.
fn market_buyer_index(model: &Model, market_buyers: &[Vec<u32>]) -> Vec<u32> {
    let mut index = vec![NONE; model.slots.len()];
    for list in market_buyers {
        for (i, &b) in list.iter().enumerate() {
            index[b as usize] = i as u32;
        }
    }
    index
}

fn supplier_positions(model: &Model) -> Vec<u32> {
    let mut sup_pos = vec![0; model.suppliers.len()];
    for list in &model.material_suppliers {
        for (p, s) in list.iter().enumerate() {
            sup_pos[s.ix()] = p as u32;
        }
    }
    sup_pos
}

fn route_edges(model: &Model) -> Vec<Vec<u32>> {
    let mut route_edges = vec![Vec::new(); model.routes.len()];
    for (e, edge) in model.edges.iter().enumerate() {
        if let Some(r) = edge.route {
            route_edges[r.ix()].push(e as u32);
        }
    }
    route_edges
}

/// Each pool member's share of the pool's refill: its nominal use over the members' total.
fn pool_shares(model: &Model) -> Vec<f64> {
    model
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
        .collect()
}

/// Suppliers with an edge whose gate can leave 1: on a route, or targeted by an export ban.
fn gated_suppliers(model: &Model, paths: Paths) -> Vec<bool> {
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
    model
        .suppliers
        .iter()
        .map(|s| {
            !paths.ungated_edges
                || e_gated[s.out_edges.start as usize..s.out_edges.end as usize].contains(&true)
        })
        .collect()
}

/// How each supplier produces and ships: in lane arithmetic unless the path is off; suppliers
/// with priority regions allocate lane by lane; pro-rata suppliers in lane arithmetic, without
/// route clocks when no buyer is behind a pipe.
fn allocation_rules(model: &Model, paths: Paths) -> Vec<Alloc> {
    model
        .suppliers
        .iter()
        .map(|s| {
            let same_step = model.edges[s.out_edges.start as usize..s.out_edges.end as usize]
                .iter()
                .all(|e| e.pipe.is_none());
            if !paths.lane_arithmetic {
                Alloc::Reference
            } else if !s.priority_regions.is_empty() {
                Alloc::ByLane
            } else if same_step && paths.same_step_suppliers {
                Alloc::SameStep
            } else {
                Alloc::ProRata
            }
        })
        .collect()
}
