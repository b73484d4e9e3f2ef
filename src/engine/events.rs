//! A lane's events turned into factors on the elements they target.
//!
//! Every event starts, ends and eases off in its own lane. Elements keep, per lane, a count of
//! the active events that target them: an element one event alone targets takes that event's
//! factor directly; where several overlap, the element is marked and recomputed from all of
//! them (the largest severity holds). What a factor means for each shock kind is in `kinds.rs`.
//!
//! Fast path (`Paths::outage_masks`): capacity outages with a fixed severity, no recovery ramp
//! and suppliers no other shock targets are laid out on per-step lane masks when a group
//! starts, instead of being started and ended here one by one.

use super::kinds::{self, Table, ALL, TABLES};
use super::state::Scratch;
use super::{Steps, NONE};
use crate::dist::DistParams;
use crate::lanes::{Lanes, LANES};
use crate::model::{Model, ShockKind};
use crate::shocks::Event;

/// One shock instance, flattened for the step loop: what it hits, as ranges of
/// [`Instances::elems`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Instance {
    kind: ShockKind,
    recovery: u32,
    table: Table,
    /// Elements of `table`.
    elems: (u32, u32),
    /// Spot links (export bans).
    spots: (u32, u32),
    /// Materials with a market that the elements belong to, in [`Instances::markets`].
    markets: (u32, u32),
}

/// Every shock instance of a model, flattened: instance `i` of shock `k` is
/// `list[first[k] + i]`.
#[derive(Debug, Clone, Default)]
pub(super) struct Instances {
    list: Vec<Instance>,
    first: Vec<u32>,
    elems: Vec<u32>,
    markets: Vec<u32>,
    /// Per instance: its outage mask, or `NONE` (see [`OutageMasks`]).
    mask: Vec<u32>,
}

/// Capacity-loss instances whose events are laid out on a step mask when a group starts: no
/// recovery ramp, a fixed severity (so every event gives the same factor, and overlapping ones
/// combine to it), and suppliers that no other instance of any shock targets (so nothing else
/// sets their factors). Typical of a supplier's own Markov outage.
#[derive(Debug, Clone, Default)]
pub(super) struct OutageMasks {
    /// Per mask: the capacity factor of its suppliers while an event is in force.
    pub factor: Vec<f64>,
    /// (supplier, mask) for every supplier a mask targets.
    pub sups: Vec<(u32, u32)>,
}

impl Instances {
    /// Flatten `model`'s shocks; with `masks`, lay out the outages that qualify on step masks.
    pub(super) fn new(model: &Model, masks: bool) -> (Instances, OutageMasks) {
        let mut x = Instances::default();
        for shock in &model.shocks {
            x.first.push(x.list.len() as u32);
            for target in &shock.instances {
                let (table, elems, spots) = kinds::targets(shock.kind, target);
                let a = x.elems.len() as u32;
                x.elems.extend(elems);
                let b = x.elems.len() as u32;
                x.elems.extend(spots);
                let c = x.elems.len() as u32;
                let m0 = x.markets.len();
                let mut markets: Vec<u32> = [(table, a..b), (Table::Spot, b..c)]
                    .into_iter()
                    .flat_map(|(t, range)| range.map(move |i| (t, i)))
                    .flat_map(|(t, i)| materials_of(model, t, x.elems[i as usize] as usize))
                    .collect();
                markets.sort_unstable();
                markets.dedup();
                x.markets.extend(markets);
                x.list.push(Instance {
                    kind: shock.kind,
                    recovery: shock.recovery_steps,
                    table,
                    elems: (a, b),
                    spots: (b, c),
                    markets: (m0 as u32, x.markets.len() as u32),
                });
            }
        }
        let mut out = OutageMasks::default();
        x.mask = vec![NONE; x.list.len()];
        if masks {
            x.lay_out_masks(model, &mut out);
        }
        (x, out)
    }

    fn lay_out_masks(&mut self, model: &Model, out: &mut OutageMasks) {
        // Count the capacity-loss instances that target each supplier.
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
        let mut i = 0;
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
                if let Some(sev) = sev {
                    let k = out.factor.len() as u32;
                    self.mask[i] = k;
                    // What an event gives a supplier at full capacity.
                    out.factor.push(kinds::level(shock.kind, sev, true));
                    out.sups.extend(target.suppliers.iter().map(|x| (x.0, k)));
                }
                i += 1;
            }
        }
    }

    /// The index of instance `instance` of shock `shock`.
    #[inline]
    pub(super) fn index(&self, shock: u32, instance: u32) -> u32 {
        self.first[shock as usize] + instance
    }

    /// The outage mask of instance `i`, or `NONE`.
    #[inline]
    pub(super) fn mask(&self, i: u32) -> u32 {
        self.mask[i as usize]
    }
}

/// The materials with a market that element `x` of table `t` belongs to (a route: every
/// material whose contracts or spot links take it).
fn materials_of(model: &Model, t: Table, x: usize) -> Vec<u32> {
    let of_supplier = |si: usize| model.suppliers[si].material.ix();
    let ms: Vec<usize> = match t {
        Table::Supplier => vec![of_supplier(x)],
        Table::Edge => vec![of_supplier(model.edges[x].supplier.ix())],
        Table::Spot => vec![of_supplier(model.spot_links[x].supplier.ix())],
        Table::Slot => vec![model.slots[x].material.ix()],
        Table::Route => {
            let edges = model.edges.iter().map(|e| (e.route, e.supplier));
            let links = model.spot_links.iter().map(|k| (k.route, k.supplier));
            edges
                .chain(links)
                .filter(|(r, _)| r.is_some_and(|r| r.ix() == x))
                .map(|(_, si)| of_supplier(si.ix()))
                .collect()
        }
    };
    ms.into_iter()
        .filter(|&m| model.materials[m].market.is_some())
        .map(|m| m as u32)
        .collect()
}

/// An event in force or easing off, in a lane's active list.
#[derive(Debug, Clone, Copy)]
pub(super) struct Active {
    end: u32,
    /// Index into [`Instances::list`].
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

/// Per element and lane: the number of active events that target it, by table.
#[derive(Debug, Clone)]
pub(super) struct Touch(pub [Vec<Steps>; TABLES]);

/// Elements whose factors must be recomputed this step (used one lane at a time), by table.
#[derive(Debug, Clone)]
pub(super) struct Marks {
    flags: [Vec<bool>; TABLES],
    lists: [Vec<u32>; TABLES],
}

/// The tables in order, with the number of elements of each.
fn table_sizes(model: &Model) -> [(Table, usize); TABLES] {
    [
        (Table::Supplier, model.suppliers.len()),
        (Table::Edge, model.edges.len()),
        (Table::Spot, model.spot_links.len()),
        (Table::Route, model.routes.len()),
        (Table::Slot, model.slots.len()),
    ]
}

impl Touch {
    pub(super) fn new(model: &Model) -> Touch {
        Touch(table_sizes(model).map(|(_, n)| vec![[0; LANES]; n]))
    }
}

impl Marks {
    pub(super) fn new(model: &Model) -> Marks {
        Marks {
            flags: table_sizes(model).map(|(_, n)| vec![false; n]),
            lists: Default::default(),
        }
    }
}

/// Lay this group's events out: those of a masked outage on its step mask, the others in each
/// lane's list of general events (kept sorted by start).
pub(super) fn lay_out<E: AsRef<[Event]>>(s: &mut Scratch, events: &[E], n_steps: usize) {
    s.mask_on.fill(0);
    for (l, ev) in events.iter().enumerate() {
        s.general[l].clear();
        for e in ev.as_ref() {
            let k = s
                .net
                .instances
                .mask(s.net.instances.index(e.shock, e.instance));
            if k == NONE {
                s.general[l].push(*e);
            } else {
                let row = &mut s.mask_on[k as usize * n_steps..(k as usize + 1) * n_steps];
                let end = (e.end as usize).min(n_steps);
                for on in &mut row[(e.start as usize).min(end)..end] {
                    *on |= 1 << l;
                }
            }
        }
    }
}

/// The capacity factors of masked outages' suppliers at step `t`, all lanes at once.
#[inline(always)]
pub(super) fn apply_masks(s: &mut Scratch, t: usize, n_steps: usize) {
    let (cap_factor, mask_on) = (&mut s.cap_factor[..], &s.mask_on[..]);
    for &(si, k) in &s.net.masks.sups {
        let on = mask_on[k as usize * n_steps + t];
        cap_factor[si as usize] = Lanes::select_bits(on, s.net.masks.factor[k as usize], 1.0);
    }
}

/// Start events of lane `l` that begin at `t`, and bring up to date the elements of its events
/// that recover or end. Overlapping events on one element: the largest severity holds.
pub(super) fn step_shocks(s: &mut Scratch, l: usize, t: u32) {
    // Events ending or easing off (the active list is sorted by end, so they come first): an
    // element only this event targets takes its eased severity directly; an element other
    // events also target is marked and recomputed from them all.
    let mut i = 0;
    let mut any_marked = false;
    while i < s.active[l].len() && s.active[l][i].end <= t {
        let a = s.active[l][i];
        let inst = s.net.instances.list[a.instance as usize];
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
        recompute_marked(s, t, l);
    }
    while s.next_event[l] < s.general[l].len() && s.general[l][s.next_event[l]].start <= t {
        let ev = s.general[l][s.next_event[l]];
        s.next_event[l] += 1;
        let a = Active {
            end: ev.end,
            instance: s.net.instances.index(ev.shock, ev.instance),
            severity: ev.severity,
        };
        let inst = s.net.instances.list[a.instance as usize];
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

/// Count an event in (or out of) the elements it targets, and the materials with a market
/// they belong to, in lane `l`.
fn touch(s: &mut Scratch, inst: &Instance, l: usize, add: bool) {
    for i in inst.markets.0..inst.markets.1 {
        let m = s.net.instances.markets[i as usize] as usize;
        let n = &mut s.market_touch[m][l];
        *n = if add { *n + 1 } else { *n - 1 };
    }
    for (t, (a, z)) in [(inst.table, inst.elems), (Table::Spot, inst.spots)] {
        for i in a..z {
            let x = s.net.instances.elems[i as usize] as usize;
            let n = &mut s.touch.0[t as usize][x][l];
            *n = if add { *n + 1 } else { *n - 1 };
        }
    }
}

/// An event past its end now has severity `sev` (0 once recovered) in lane `l`. Elements it
/// alone targets take that severity at once (what a recompute from the active events would
/// give); the others are marked for a recompute. True when something was marked.
fn ease(s: &mut Scratch, inst: &Instance, sev: f64, l: usize) -> bool {
    let mut marked = false;
    let v = kinds::level(inst.kind, sev, false);
    for (t, (a, z)) in [(inst.table, inst.elems), (Table::Spot, inst.spots)] {
        for i in a..z {
            let x = s.net.instances.elems[i as usize] as usize;
            if s.touch.0[t as usize][x][l] == 1 {
                kinds::set(s, t, x, l, v, true);
            } else {
                marked |= mark(&mut s.marks, t, x);
            }
        }
    }
    marked
}

fn mark(m: &mut Marks, t: Table, x: usize) -> bool {
    let t = t as usize;
    if !m.flags[t][x] {
        m.flags[t][x] = true;
        m.lists[t].push(x as u32);
    }
    true
}

/// Recompute every marked element of lane `l` from the active events at `t`, then clear the
/// marks.
fn recompute_marked(s: &mut Scratch, t: u32, l: usize) {
    for table in ALL {
        for i in 0..s.marks.lists[table as usize].len() {
            let x = s.marks.lists[table as usize][i] as usize;
            kinds::set(s, table, x, l, 1.0, false);
        }
    }
    for k in 0..s.active[l].len() {
        let a = s.active[l][k];
        let inst = s.net.instances.list[a.instance as usize];
        apply(
            s,
            &inst,
            a.severity_at(t, inst.recovery),
            t < a.end,
            true,
            l,
        );
    }
    for table in ALL {
        for i in 0..s.marks.lists[table as usize].len() {
            let x = s.marks.lists[table as usize][i] as usize;
            kinds::regate(s, table, x, l);
            s.marks.flags[table as usize][x] = false;
        }
        s.marks.lists[table as usize].clear();
    }
}

/// Apply an event's severity `sev` in lane `l` (`in_force`: before its end, which a route
/// closure needs). With `only_marked`, touch marked elements only (the others already hold
/// their factors, and their gates are recomputed with the marks).
fn apply(s: &mut Scratch, inst: &Instance, sev: f64, in_force: bool, only_marked: bool, l: usize) {
    let v = kinds::level(inst.kind, sev, in_force);
    for (t, (a, z)) in [(inst.table, inst.elems), (Table::Spot, inst.spots)] {
        for i in a..z {
            let x = s.net.instances.elems[i as usize] as usize;
            if !only_marked || s.marks.flags[t as usize][x] {
                let old = kinds::get(s, t, x, l);
                kinds::set(s, t, x, l, kinds::combine(inst.kind, old, v), !only_marked);
            }
        }
    }
}
