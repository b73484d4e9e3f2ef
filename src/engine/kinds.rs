//! What each shock kind does to the elements it targets: the one place in the engine that
//! knows. Adding a shock kind here means a row in each `match` below (which elements it hits,
//! the factor one event gives them, how overlapping events combine); the event bookkeeping in
//! `events.rs` is the same for every kind. See `docs/model.md` ("Shocks") for the semantics.

use super::state::Scratch;
use super::NONE;
use crate::model::{ShockKind, Target};

/// The kinds of element an event can act on. Each holds one factor per lane (a route's is
/// whether it is open) and, per lane, the number of active events that target it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    /// A supplier's capacity factor.
    Supplier = 0,
    /// A contract edge's ban factor (its gate is that times its route's being open).
    Edge = 1,
    /// A spot link's ban factor.
    Spot = 2,
    /// A route: open or closed.
    Route = 3,
    /// An importer slot's demand factor.
    Slot = 4,
}

pub(super) const TABLES: usize = 5;

/// Every table, in order.
pub(super) const ALL: [Table; TABLES] = [
    Table::Supplier,
    Table::Edge,
    Table::Spot,
    Table::Route,
    Table::Slot,
];

/// The table an instance of `kind` acts on first, and the elements of `target` in it; then
/// the spot links it also acts on (export bans close the spot market along the contract).
pub(super) fn targets(kind: ShockKind, target: &Target) -> (Table, Vec<u32>, Vec<u32>) {
    match kind {
        ShockKind::CapacityLoss => (
            Table::Supplier,
            target.suppliers.iter().map(|x| x.0).collect(),
            vec![],
        ),
        ShockKind::ExportBan => (
            Table::Edge,
            target.edges.iter().map(|x| x.0).collect(),
            target.spot_links.clone(),
        ),
        ShockKind::RouteClosure => (
            Table::Route,
            target.routes.iter().map(|x| x.0).collect(),
            vec![],
        ),
        ShockKind::DemandSurge => (
            Table::Slot,
            target.slots.iter().map(|x| x.0).collect(),
            vec![],
        ),
    }
}

/// The factor one event of `kind` with severity `sev` gives an element (`in_force`: before
/// the event's end). Capacity losses and bans remove the severity's share of capacity or flow;
/// a route closure shuts the route while in force and not after, whatever its severity; a
/// demand surge adds the severity to demand.
#[inline]
pub(super) fn level(kind: ShockKind, sev: f64, in_force: bool) -> f64 {
    match kind {
        ShockKind::CapacityLoss | ShockKind::ExportBan => 1.0f64.min(1.0 - sev),
        ShockKind::RouteClosure => {
            if in_force {
                0.0
            } else {
                1.0
            }
        }
        ShockKind::DemandSurge => 1.0f64.max(1.0 + sev),
    }
}

/// Of two events of `kind` on one element, the factor that holds: the largest severity.
#[inline]
pub(super) fn combine(kind: ShockKind, a: f64, b: f64) -> f64 {
    match kind {
        ShockKind::DemandSurge => a.max(b),
        _ => a.min(b),
    }
}

/// Lane `l` of element `x`'s factor in table `t` (a route: 1 open, 0 closed).
#[inline]
pub(super) fn get(s: &Scratch, t: Table, x: usize, l: usize) -> f64 {
    match t {
        Table::Supplier => s.cap_factor[x].0[l],
        Table::Edge => s.ban[x].0[l],
        Table::Spot => s.spot_factor[x].0[l],
        Table::Route => f64::from(u8::from(s.route_open[x][l])),
        Table::Slot => s.demand_factor[x].0[l],
    }
}

/// Set lane `l` of element `x`'s factor in table `t` to `v`; with `regate`, bring the gates
/// that depend on it up to date at once (else [`regate`] does it later).
#[inline]
pub(super) fn set(s: &mut Scratch, t: Table, x: usize, l: usize, v: f64, regate_now: bool) {
    match t {
        Table::Supplier => s.cap_factor[x].0[l] = v,
        Table::Edge => s.ban[x].0[l] = v,
        Table::Spot => s.spot_factor[x].0[l] = v,
        Table::Route => s.route_open[x][l] = v > 0.0,
        Table::Slot => s.demand_factor[x].0[l] = v,
    }
    if regate_now {
        regate(s, t, x, l);
    }
}

/// Recompute the gates (ban factor times route open) that element `x` of table `t` feeds, in
/// lane `l`.
#[inline]
pub(super) fn regate(s: &mut Scratch, t: Table, x: usize, l: usize) {
    match t {
        Table::Edge => s.gate[x].0[l] = gate_of(s, x, l),
        Table::Route => {
            let open = if s.route_open[x][l] { 1.0 } else { 0.0 };
            for &e in &s.net.route_edges[x] {
                s.gate[e as usize].0[l] = s.ban[e as usize].0[l] * open;
            }
        }
        Table::Supplier | Table::Spot | Table::Slot => {}
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
