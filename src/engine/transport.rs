//! Goods on the move: pipes (a ring of cells per route with a lead time, one cell per step of
//! it), shipping into them, arrivals out of them, and route clocks that stand still while a
//! route is closed (goods in transit wait; nothing is lost).

use super::state::Scratch;
use super::NONE;
use crate::lanes::{Lanes, LANES};
use crate::model::{Model, Pipe};

/// Step 2: goods whose lead time is up arrive, on every route that is open.
#[inline(always)]
pub(super) fn arrivals(model: &Model, s: &mut Scratch) {
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

/// Send `q` units to slot `b` in lane `l`, through pipe `pipe` (NONE: arrives now).
#[inline(always)]
pub(super) fn ship(model: &Model, s: &mut Scratch, b: usize, pipe: u32, q: f64, l: usize) {
    if pipe == NONE {
        s.arrived[b].0[l] += q;
    } else {
        let p = pipe as usize;
        let clock = s.route_clock[model.pipes[p].route.ix()][l];
        s.ring[ring_index(&model.pipes[p], s.net.ring_offset[p], clock, l)] += q;
        s.in_transit[b].0[l] += q;
    }
}

/// [`ship`] for every lane at once: `q` per lane (lanes with nothing to send add zeros).
#[inline(always)]
pub(super) fn ship_lanes(model: &Model, s: &mut Scratch, b: usize, pipe: u32, q: Lanes) {
    if pipe == NONE {
        s.arrived[b] += q;
    } else {
        let p = pipe as usize;
        let (pipe, offset) = (&model.pipes[p], s.net.ring_offset[p]);
        let clock = &s.route_clock[pipe.route.ix()];
        for (l, (&c, &q)) in clock.iter().zip(&q.0).enumerate() {
            s.ring[ring_index(pipe, offset, c, l)] += q;
        }
        s.in_transit[b] += q;
    }
}

/// Where in `ring` lane `l` of `pipe` (whose cells start at `offset`) loads and unloads this
/// step, at its route's `clock`: a cell per step of lead time, in turn.
#[inline(always)]
pub(super) fn ring_index(pipe: &Pipe, offset: u32, clock: u32, l: usize) -> usize {
    (offset as usize + (clock % pipe.lead_steps) as usize) * LANES + l
}

/// End of a step: the clock of every open route moves on.
#[inline(always)]
pub(super) fn advance_clocks(s: &mut Scratch) {
    for (clock, open) in s.route_clock.iter_mut().zip(&s.route_open) {
        for l in 0..LANES {
            clock[l] = clock[l].wrapping_add(u32::from(open[l]));
        }
    }
}
