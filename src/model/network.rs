//! The compiled network's types: immutable, always valid, dense indices only.
//!
//! Quantities are per step; ids survive only as labels for reports. The engine never looks
//! anything up by name.

use std::ops::Range;

use crate::dist::Dist;

macro_rules! index_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            #[inline(always)]
            pub fn ix(self) -> usize { self.0 as usize }
        }
    )*};
}
index_type!(
    RegionIdx,
    MaterialIdx,
    SupplierIdx,
    ImporterIdx,
    SlotIdx,
    EdgeIdx,
    RouteIdx,
    PipeIdx,
    ShockIdx,
    PoolIdx
);

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub description: Option<String>,
    pub currency: String,
    pub step_days: u32,
    pub horizon_days: u32,
    pub n_steps: u32,
    pub trials: u64,
    pub seed: u64,
    /// Consecutive steps of full service that count as recovered.
    pub sustain_steps: u32,
    /// Yearly discount rate: a loss or cost at day d counts (1 + r)^(-d/365) of its amount.
    pub discount_rate: f64,
    pub regions: Vec<Region>,
    pub materials: Vec<Material>,
    /// Materials ordered so that every input comes before the materials made from it.
    pub material_order: Vec<MaterialIdx>,
    /// Suppliers of each material, in file order.
    pub material_suppliers: Vec<Vec<SupplierIdx>>,
    pub suppliers: Vec<Supplier>,
    pub importers: Vec<Importer>,
    pub slots: Vec<Slot>,
    /// Contract flows, grouped by supplier (see `Supplier::out_edges`).
    pub edges: Vec<Edge>,
    /// For each slot, its contract edges (see `Slot::in_edges`).
    pub slot_edges: Vec<EdgeIdx>,
    /// Spot-market links for slots that can re-source, grouped by slot (see `Slot::spot_links`).
    pub spot_links: Vec<SpotLink>,
    pub routes: Vec<Route>,
    pub pipes: Vec<Pipe>,
    pub shocks: Vec<Shock>,
    pub pools: Vec<Pool>,
}

#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub governance: Option<f64>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Material {
    pub id: String,
    pub name: String,
    pub unit: String,
    /// Currency per unit.
    pub value: f64,
    pub loss_multiplier: f64,
    /// Units of each input per unit of this material.
    pub inputs: Vec<(MaterialIdx, f64)>,
    pub recycling_input_rate: Option<f64>,
    pub substitution_index: Option<f64>,
    /// Prices that clear, or None: rationing by quantity alone.
    pub market: Option<Market>,
}

/// A material's market (`[material.market]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Market {
    pub curve: crate::market::Curve,
    /// Share of the gap between the price and the clearing price that one step closes: 1
    /// clears every step; `1 - exp(-step_days / adjust_days)` with sticky prices.
    pub adjust: f64,
}

#[derive(Debug, Clone)]
pub struct Supplier {
    pub id: String,
    pub name: String,
    pub region: RegionIdx,
    pub material: MaterialIdx,
    /// Units per step.
    pub capacity: f64,
    /// Extra output for new customers, fraction of capacity.
    pub spare: f64,
    pub ramp_steps: u32,
    /// Output per step in the steady state (what its contracts take, up to capacity).
    pub base_output: f64,
    pub input_slots: Range<u32>,
    pub out_edges: Range<u32>,
    /// Buyers in these regions are served first when output is short.
    pub priority_regions: Vec<RegionIdx>,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Importer {
    pub id: String,
    pub name: String,
    pub region: RegionIdx,
    pub slots: Range<u32>,
    pub tags: Vec<String>,
    /// Stands for every other buyer (`balancing = true`): set apart in reports.
    pub balancing: bool,
}

/// Who holds a slot: an importer's demand for a material, or a supplier's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Importer(ImporterIdx),
    Supplier(SupplierIdx),
}

/// The price multiple at or below which a stock of a material with a market refills, unless
/// its scenario says otherwise.
pub const DEFAULT_REFILL_BELOW: f64 = 1.05;

/// A buyer's position in one material: orders, receives, stocks and uses it.
#[derive(Debug, Clone)]
pub struct Slot {
    pub owner: Owner,
    pub material: MaterialIdx,
    pub region: RegionIdx,
    /// Importers: demand per step. Suppliers: input used at full capacity per step.
    pub nominal_use: f64,
    /// Supplier inputs: units per unit of output (bill of materials); importers: 1.
    pub ratio: f64,
    pub stock_target: f64,
    pub stock_initial: f64,
    /// Largest refill ordered per step; 0 = never refilled.
    pub refill_per_step: f64,
    /// Material with a market: the stock refills only at a price at most this multiple of the
    /// reference price.
    pub refill_below: f64,
    /// Material with a market: the stock serves the holder's use once the price exceeds this
    /// multiple of the reference price (infinite: only when short).
    pub release_above: f64,
    /// Goods in transit to this slot in the steady state (counted in its inventory position).
    pub pipeline_nominal: f64,
    /// Steps short of contract supply before the spot market serves it; None = never re-sources.
    pub switch_steps: Option<u32>,
    /// Fraction of demand met by domestic recycling (importers only).
    pub recycled: f64,
    pub pool: Option<PoolIdx>,
    pub in_edges: Range<u32>,
    pub spot_links: Range<u32>,
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub supplier: SupplierIdx,
    pub slot: SlotIdx,
    pub share: f64,
    pub route: Option<RouteIdx>,
    /// Pipeline the goods travel through when the lead time is positive.
    pub pipe: Option<PipeIdx>,
}

/// A possible spot purchase: a supplier of the slot's material that it does not need a contract with.
#[derive(Debug, Clone)]
pub struct SpotLink {
    pub supplier: SupplierIdx,
    pub slot: SlotIdx,
    pub route: Option<RouteIdx>,
    pub pipe: Option<PipeIdx>,
    /// What the slot buys from the supplier under contract in the steady state, as a fraction
    /// of the supplier's steady output (0 without a contract): the part of the supplier's
    /// offer a partial export ban still lets it reach is this times the ban's open fraction.
    pub calm_share: f64,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub id: String,
    pub name: String,
    pub lead_steps: u32,
    pub tags: Vec<String>,
}

/// Goods in transit to one slot over one route (every flow on it shares lead time and state).
#[derive(Debug, Clone)]
pub struct Pipe {
    pub slot: SlotIdx,
    pub route: RouteIdx,
    pub lead_steps: u32,
    /// Units in transit at step 0 (the steady state).
    pub initial_per_step: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShockKind {
    ExportBan,
    CapacityLoss,
    RouteClosure,
    DemandSurge,
}

impl ShockKind {
    pub const NAMES: &'static [&'static str] = &[
        "export_ban",
        "capacity_loss",
        "route_closure",
        "demand_surge",
    ];

    pub fn parse(s: &str) -> Option<ShockKind> {
        Some(match s {
            "export_ban" => ShockKind::ExportBan,
            "capacity_loss" => ShockKind::CapacityLoss,
            "route_closure" => ShockKind::RouteClosure,
            "demand_surge" => ShockKind::DemandSurge,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ShockKind::ExportBan => "export_ban",
            ShockKind::CapacityLoss => "capacity_loss",
            ShockKind::RouteClosure => "route_closure",
            ShockKind::DemandSurge => "demand_surge",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Timing {
    /// Poisson arrivals, mean events per day.
    Poisson { rate_per_day: f64 },
    /// Two-state chain moved once at the start of every step.
    Markov { down: f64, up: f64 },
    /// One event at this step.
    At { step: u32 },
    /// Fires only when another shock triggers it.
    Triggered,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub shock: ShockIdx,
    pub probability: f64,
    pub lag_steps: u32,
}

/// The elements one event hits.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub suppliers: Vec<SupplierIdx>,
    pub edges: Vec<EdgeIdx>,
    pub spot_links: Vec<u32>,
    pub routes: Vec<RouteIdx>,
    pub slots: Vec<SlotIdx>,
}

#[derive(Debug, Clone)]
pub struct Shock {
    pub id: String,
    pub name: String,
    pub kind: ShockKind,
    pub timing: Timing,
    /// Days; None for Markov shocks, whose duration follows from `up`.
    pub duration_days: Option<Dist>,
    /// Capacity or flow removed (fraction), or extra demand for surges.
    pub severity: Dist,
    pub recovery_steps: u32,
    pub triggers: Vec<Trigger>,
    /// One target for a common-cause shock; one per element for an independent one.
    pub instances: Vec<Target>,
    pub enabled: bool,
}

#[derive(Debug, Clone)]
pub struct Pool {
    pub id: String,
    pub name: String,
    pub material: MaterialIdx,
    pub members: Vec<ImporterIdx>,
    pub slots: Vec<SlotIdx>,
    pub stock_target: f64,
    pub refill_per_step: f64,
    /// Material with a market: the pool refills only at a price at most this multiple of the
    /// reference price.
    pub refill_below: f64,
    /// Material with a market: the pool serves its members' use once the price exceeds this
    /// multiple of the reference price (infinite: only when they are short).
    pub release_above: f64,
}

impl Model {
    /// Per step, the weight of a loss at that step: (1 + r)^(-day/365) at the step's first day;
    /// empty without a discount rate (every weight 1).
    pub fn step_weights(&self) -> Vec<f64> {
        if self.discount_rate == 0.0 {
            return Vec::new();
        }
        let per_day = (1.0 + self.discount_rate).ln() / 365.0;
        (0..self.n_steps)
            .map(|t| (-per_day * f64::from(t * self.step_days)).exp())
            .collect()
    }

    /// Years of a yearly cost paid over the horizon, paid step by step and weighted as losses
    /// are ([`Model::step_weights`]); the horizon in years without a discount rate.
    pub fn cost_years(&self) -> f64 {
        let w = self.step_weights();
        if w.is_empty() {
            return f64::from(self.horizon_days) / 365.0;
        }
        // The last step may be cut short by the horizon.
        (0..self.n_steps as usize)
            .map(|t| {
                let days = (self.horizon_days - t as u32 * self.step_days).min(self.step_days);
                f64::from(days) / 365.0 * w[t]
            })
            .sum()
    }

    pub fn slot_label(&self, slot: SlotIdx) -> (String, String) {
        let s = &self.slots[slot.ix()];
        let owner = match s.owner {
            Owner::Importer(i) => self.importers[i.ix()].id.clone(),
            Owner::Supplier(i) => self.suppliers[i.ix()].id.clone(),
        };
        (owner, self.materials[s.material.ix()].id.clone())
    }

    /// The `name`s of a slot's owner and material, as [`Model::slot_label`] gives their ids.
    pub fn slot_names(&self, slot: SlotIdx) -> (String, String) {
        let s = &self.slots[slot.ix()];
        let owner = match s.owner {
            Owner::Importer(i) => self.importers[i.ix()].name.clone(),
            Owner::Supplier(i) => self.suppliers[i.ix()].name.clone(),
        };
        (owner, self.materials[s.material.ix()].name.clone())
    }

    /// Slots that belong to importers, in importer then material order.
    pub fn importer_slots(&self) -> impl Iterator<Item = SlotIdx> + '_ {
        self.importers
            .iter()
            .flat_map(|imp| imp.slots.clone().map(SlotIdx))
    }

    /// The first importer slot (importers' slots follow the suppliers' input slots, in
    /// importer order); the slot count when there is no importer.
    pub fn first_importer_slot(&self) -> usize {
        self.importers
            .first()
            .map_or(self.slots.len(), |i| i.slots.start as usize)
    }

    /// Node count used for throughput figures: suppliers plus importers.
    pub fn n_nodes(&self) -> usize {
        self.suppliers.len() + self.importers.len()
    }

    pub fn days_to_steps(&self, days: f64) -> u32 {
        days_to_steps(days, self.step_days)
    }
}

/// Whole steps covering `days` (rounded to nearest, at least one for a positive duration).
pub fn days_to_steps(days: f64, step_days: u32) -> u32 {
    if !(days > 0.0) {
        return 0;
    }
    let steps = (days / step_days as f64).round();
    (steps.max(1.0)).min(u32::MAX as f64) as u32
}
