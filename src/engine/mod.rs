//! Trials: shocks through the network, step by step.
//!
//! Up to [`LANES`] trials run side by side as one group: the network is walked once per step and
//! every element's quantities are [`Lanes`](crate::lanes::Lanes), one value per trial, so each
//! operation serves the whole group. Each lane computes exactly what its trial would compute
//! alone. What a step does and in which order is in `docs/model.md` ("One step of a trial"); the loop
//! itself is [`step`].
//!
//! The files are the engine's seams:
//! - `step.rs`: the group's step loop, in the documented order;
//! - `net.rs`: the model flattened into arrays, and the fast paths chosen for it;
//! - `state.rs`: per-group state ([`Scratch`]) and the mass balance ([`Balance`]);
//! - `events.rs`: a lane's events turned into factors on the elements they target;
//!   `kinds.rs`: what each shock kind does to its elements, in one place;
//! - `transport.rs` (arrivals, shipping through pipes), `orders.rs`, `produce.rs` (production
//!   and contract allocation), `spot.rs` (re-sourcing on the spot market), `market.rs` (prices
//!   and deliveries of a material with a market), `consume.rs` (consumption, stockpiles and
//!   pools): the flow steps;
//! - `outcome.rs`: a trial's outcomes from its fill series;
//! - `isa.rs`: the instruction-set dispatch (the crate's one `unsafe` block).
//!
//! Each economic rule has one reference implementation, written for one lane and plainly (the
//! `*_lane` functions). Fast paths compute the same bits for a whole group or skip work that
//! cannot change anything; which ones apply is decided once per model ([`net::Paths`]) and
//! named after what they exploit. [`Scratch::reference`] turns every fast path off, for the
//! tests that compare the two.
//!
//! The engine does no IO and allocates nothing per step: [`Scratch`] holds all per-group state
//! and is reused.

mod consume;
mod events;
mod isa;
mod kinds;
mod market;
mod net;
mod orders;
mod outcome;
mod produce;
mod spot;
mod state;
mod step;
mod transport;

pub use isa::{run_group_on, run_lockstep_on, Isa};
pub use state::{Balance, Scratch};

use crate::lanes::LANES;
use crate::shocks::Event;
use crate::stats::CurveAcc;

use crate::model::Model;

/// "No such index" in the flattened arrays (no pipe, no pool, no route, not short).
const NONE: u32 = u32::MAX;
/// One step number (or count of steps) per lane.
type Steps = [u32; LANES];
/// Relative tolerance under which a shortfall counts as none (float noise).
const EPS: f64 = 1e-9;
// Outage masks hold one bit per lane in a u8.
const _: () = assert!(LANES <= 8);

/// Run one trial of `model` under `events` (sorted by start). Its outcomes are
/// [`Scratch::outcome`]`(0)` and [`Scratch::balance`]`(0)`; if `curves` is given, its fill at
/// every step is recorded.
pub fn run_trial(model: &Model, s: &mut Scratch, events: &[Event], curves: Option<&mut CurveAcc>) {
    run_group(model, s, &[events], curves);
}

/// Run one group of trials of `model` side by side, trial `l` under `events[l]` (each sorted by
/// start; at most [`LANES`] trials). Lane `l`'s outcomes are [`Scratch::outcome`]`(l)`; if
/// `curves` is given, every importer slot's fill at every step of every trial is counted into
/// it after the group, from the fills the group kept ([`Scratch::record_fills`]).
pub fn run_group<E: AsRef<[Event]>>(
    model: &Model,
    s: &mut Scratch,
    events: &[E],
    curves: Option<&mut CurveAcc>,
) {
    run_group_on(Isa::best(), model, s, events, curves);
}

/// One model's group of trials, to run in lockstep with others ([`run_lockstep`]): trial `l`
/// under `events[l]` (each sorted by start; 1 to [`LANES`] trials), its fill recorded into
/// `curves` if given.
pub struct Lockstep<'a, E> {
    pub model: &'a Model,
    pub scratch: &'a mut Scratch,
    pub events: &'a [E],
    pub curves: Option<&'a mut CurveAcc>,
}

impl<'a, E> Lockstep<'a, E> {
    /// One run per model, in order: model `v` on `scratch[v]` under the `v`-th of `events`,
    /// its fill recorded into the `v`-th of `curves` if given. Each list has one entry per
    /// model.
    pub fn each(
        models: &[&'a Model],
        scratch: &'a mut [Scratch],
        events: impl IntoIterator<Item = &'a [E]>,
        curves: impl IntoIterator<Item = Option<&'a mut CurveAcc>>,
    ) -> Vec<Lockstep<'a, E>> {
        let runs: Vec<Lockstep<'a, E>> = models
            .iter()
            .zip(scratch)
            .zip(events)
            .zip(curves)
            .map(|(((&model, scratch), events), curves)| Lockstep {
                model,
                scratch,
                events,
                curves,
            })
            .collect();
        assert_eq!(
            runs.len(),
            models.len(),
            "one scratch, events and curves per model"
        );
        runs
    }
}

/// Run several models' groups step by step side by side, the first (a run's baseline) ahead of
/// the others at every step. Each run computes exactly what [`run_group`] computes for it
/// alone; in a market it shares with the first ([`Scratch::shares_market_with`]) a lane may
/// repeat the first's last clearing of that lane when its inputs recur, which the lockstep
/// keeps at hand.
pub fn run_lockstep<E: AsRef<[Event]>>(runs: &mut [Lockstep<'_, E>]) {
    run_lockstep_on(Isa::best(), runs);
}
