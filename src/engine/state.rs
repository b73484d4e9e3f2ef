//! Per-group state: everything the step loop reads and writes for a group of trials, sized
//! once for a model and reused.

use super::events::{Active, Marks, Touch};
use super::market::{market_print, MarketScratch};
use super::net::{Net, Paths};
use super::outcome::Track;
use super::{Steps, NONE};
use crate::lanes::{Lanes, LANES};
use crate::model::Model;
use crate::shocks::Event;
use crate::stats::{FillRec, SlotTrial};

/// Running totals of goods moved, per lane, for the mass balance.
#[derive(Debug, Clone, Copy)]
pub(super) struct Flow {
    pub shipped: Lanes,
    pub arrived: Lanes,
    pub used: Lanes,
    pub overflow: Lanes,
    /// The most any stock or pool has held above its target at the end of a step.
    pub over_target: Lanes,
}

impl Flow {
    const ZERO: Flow = Flow {
        shipped: Lanes::ZERO,
        arrived: Lanes::ZERO,
        used: Lanes::ZERO,
        overflow: Lanes::ZERO,
        over_target: Lanes::ZERO,
    };

    /// Checks only: note how far any stock sits above its target at the end of a step.
    pub(super) fn note_stock_peaks(&mut self, model: &Model, stock: &[Lanes], pools: &[Lanes]) {
        let targets = model
            .slots
            .iter()
            .map(|s| s.stock_target)
            .chain(model.pools.iter().map(|p| p.stock_target));
        for (x, target) in stock.iter().chain(pools).zip(targets) {
            self.over_target = self.over_target.max(*x - Lanes::splat(target));
        }
    }
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
    /// Goods that arrived when a stock was full: passed on outside the network, since no stock
    /// holds more than its target.
    pub overflow: f64,
    /// The most any stock or pool held above its target at the end of a step (zero if none did).
    pub over_target: f64,
}

/// Reusable state of a group of up to [`LANES`] trials, sized once for a model.
#[derive(Debug, Clone)]
pub struct Scratch {
    pub(super) net: Net,
    /// Per supplier: the share of capacity up.
    pub(super) cap_factor: Vec<Lanes>,
    /// Per contract edge: the share of its order a ban lets through.
    pub(super) ban: Vec<Lanes>,
    /// Share of an edge's order that can flow: ban factor times route open.
    pub(super) gate: Vec<Lanes>,
    pub(super) spot_factor: Vec<Lanes>,
    pub(super) route_open: Vec<[bool; LANES]>,
    pub(super) demand_factor: Vec<Lanes>,
    pub(super) stock: Vec<Lanes>,
    pub(super) arrived: Vec<Lanes>,
    pub(super) in_transit: Vec<Lanes>,
    pub(super) order: Vec<Lanes>,
    /// The use part of `order` (the rest refills stock): allocation serves it first.
    pub(super) use_order: Vec<Lanes>,
    pub(super) contract_shipped: Vec<Lanes>,
    pub(super) eff_order: Vec<Lanes>,
    pub(super) servable: Vec<Lanes>,
    pub(super) planned: Vec<Lanes>,
    pub(super) spot_avail: Vec<Lanes>,
    pub(super) spot_need: Vec<Lanes>,
    /// The use part of `spot_need`.
    pub(super) spot_use: Vec<Lanes>,
    pub(super) short_since: Vec<[u32; LANES]>,
    pub(super) spare_online: Vec<Lanes>,
    /// Pipes' ring buffers, cell-major: cell `c` of lane `l` is at `c * LANES + l`.
    pub(super) ring: Vec<f64>,
    pub(super) route_clock: Vec<[u32; LANES]>,
    pub(super) pool_stock: Vec<Lanes>,
    /// Per slot of a material with a market: the price it paid this step (a multiple of the
    /// reference price; 1 elsewhere), and its demand multiplier at that price.
    pub(super) slot_price: Vec<Lanes>,
    pub(super) slot_mult: Vec<Lanes>,
    /// Boxed: the market step takes it out of the scratch and puts it back, a pointer's move.
    pub(super) market: Option<Box<MarketScratch>>,
    /// Per material: everything of the model its lane clearings read besides their inputs
    /// ([`market_print`]); empty without a repeatable market.
    pub(super) prints: Vec<Vec<u64>>,
    /// Per material: whether its market clears as that of the run this one steps in lockstep
    /// with ([`Scratch::shares_market_with`]), set by the lockstep for each group; empty
    /// otherwise.
    pub(super) shared_markets: Vec<bool>,
    /// How many lane clearings repeated the baseline's.
    pub(super) shared_repeats: u64,
    /// Per lane, this group's events that are not on an outage mask, sorted by start.
    pub(super) general: Vec<Vec<Event>>,
    /// Per outage mask and step, the lanes in which one of its events is in force (bit `l`).
    pub(super) mask_on: Vec<u8>,
    /// Per lane, the events in force or easing off, sorted by end.
    pub(super) active: Vec<Vec<Active>>,
    pub(super) next_event: [usize; LANES],
    /// First step at which each lane's shocks change anything (an event starts, ends or eases).
    pub(super) shocks_due: Steps,
    pub(super) touch: Touch,
    /// Per material and lane: the active events that target an element of its market.
    pub(super) market_touch: Vec<Steps>,
    pub(super) marks: Marks,
    pub(super) track: Track,
    /// Per step, the discount weight of its losses; empty without a discount rate.
    pub(super) weight: Vec<f64>,
    /// Keep the mass balance (`flow`, `balances`) and the fill series: for checks, off in
    /// production runs.
    pub(super) audit: bool,
    pub(super) flow: Flow,
    /// This group's fill per importer slot and step (slot-major), when audited.
    pub(super) fills: Vec<Lanes>,
    /// This group's fills as the histograms count them ([`Scratch::record_fills`]).
    pub(super) fill_rec: FillRec,
    /// Outcomes of the last group, lane-major: lane `l`, importer slot `k` at `l * K + k`.
    pub(super) outcomes: Vec<SlotTrial>,
    pub(super) balances: Vec<Balance>,
}

impl Scratch {
    /// State for `model`, with every fast path the model allows.
    pub fn new(model: &Model) -> Scratch {
        Scratch::with_paths(model, Paths::ALL)
    }

    /// State for `model` that runs the reference rules only: every fast path off. It computes
    /// the same bits as [`Scratch::new`], more slowly; for the tests that compare the two.
    pub fn reference(model: &Model) -> Scratch {
        Scratch::with_paths(model, Paths::NONE)
    }

    fn with_paths(model: &Model, paths: Paths) -> Scratch {
        let net = Net::new(model, paths);
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
            use_order: vec![Lanes::ZERO; n_slots],
            contract_shipped: vec![Lanes::ZERO; n_slots],
            eff_order: vec![Lanes::ZERO; ne],
            servable: vec![Lanes::ZERO; ns],
            planned: vec![Lanes::ZERO; ns],
            spot_avail: vec![Lanes::ZERO; ns],
            spot_need: vec![Lanes::ZERO; n_slots],
            spot_use: vec![Lanes::ZERO; n_slots],
            short_since: vec![[NONE; LANES]; n_slots],
            spare_online: vec![Lanes::ZERO; ns],
            ring: vec![0.0; *net.ring_offset.last().unwrap() as usize * LANES],
            route_clock: vec![[0; LANES]; nr],
            pool_stock: vec![Lanes::ZERO; model.pools.len()],
            slot_price: vec![Lanes::ONE; n_slots],
            slot_mult: vec![Lanes::ONE; n_slots],
            market: Some(Box::default()),
            prints: (0..model.materials.len())
                .map(|m| market_print(model, &net, m))
                .collect(),
            shared_markets: Vec::new(),
            shared_repeats: 0,
            general: vec![Vec::new(); LANES],
            mask_on: vec![0; net.masks.factor.len() * model.n_steps as usize],
            active: vec![Vec::new(); LANES],
            next_event: [0; LANES],
            shocks_due: [0; LANES],
            touch: Touch::new(model),
            market_touch: vec![[0; LANES]; model.materials.len()],
            marks: Marks::new(model),
            track: Track::new(
                k,
                model.n_steps as usize,
                model.materials.iter().any(|m| m.market.is_some()),
            ),
            weight: model.step_weights(),
            audit: true,
            flow: Flow::ZERO,
            fills: Vec::new(),
            fill_rec: FillRec::new(k, model.n_steps as usize),
            outcomes: vec![SlotTrial::default(); k * LANES],
            balances: vec![Balance::default(); LANES],
            net,
        }
    }

    /// Importer-slot outcomes of lane `lane` of the last group (of the last trial for
    /// [`run_trial`](super::run_trial), which uses lane 0).
    pub fn outcome(&self, lane: usize) -> &[SlotTrial] {
        let k = self.track.slots();
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

    /// Whether material `m`'s market clears in this scratch's model exactly as in `base`'s:
    /// everything its lane clearings read besides their inputs is the same ([`market_print`]),
    /// so equal inputs give equal clearings. Run in lockstep after `base`
    /// ([`run_lockstep`](super::run_lockstep)), a lane of such a market whose inputs equal those
    /// of `base`'s last clearing of that lane repeats it instead of solving again.
    pub fn shares_market_with(&self, base: &Scratch, m: usize) -> bool {
        let print = &self.prints[m];
        !print.is_empty() && base.prints.get(m) == Some(print)
    }

    /// Decide, for a group run in lockstep after `base`, which markets are shared with it.
    pub(super) fn share_markets_with(&mut self, base: &Scratch) {
        let mut shared = std::mem::take(&mut self.shared_markets);
        shared.clear();
        shared.extend((0..self.prints.len()).map(|m| self.shares_market_with(base, m)));
        self.shared_markets = shared;
    }

    /// Whether material `m`'s market is shared in the current lockstep group.
    pub(super) fn shares_market(&self, m: usize) -> bool {
        self.shared_markets.get(m).copied().unwrap_or(false)
    }

    /// How many lane clearings this scratch has taken from the baseline's, over every group it
    /// ran.
    pub fn shared_repeats(&self) -> u64 {
        self.shared_repeats
    }

    /// Mass-balance totals of lane `lane` of the last group (None when unaudited).
    pub fn balance(&self, lane: usize) -> Option<&Balance> {
        self.audit.then(|| &self.balances[lane])
    }

    /// Back to the state of a trial's first step.
    pub(super) fn reset(&mut self, model: &Model) {
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
        self.slot_price.fill(Lanes::ONE);
        self.slot_mult.fill(Lanes::ONE);
        for a in &mut self.active {
            a.clear();
        }
        self.next_event = [0; LANES];
        self.shocks_due = [0; LANES];
        for v in &mut self.touch.0 {
            v.fill([0; LANES]);
        }
        self.market_touch.fill([0; LANES]);
        self.fill_rec.clear();
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
                .resize(self.track.slots() * model.n_steps as usize, Lanes::ONE);
        }
        self.flow = Flow::ZERO;
    }
}
