//! Step 4, after each material's production: the spot market. Importers that can re-source
//! (`switch_days`) and have been short of contract supply for that long ask for their unmet
//! need; every supplier of the material offers what its contracts left unused plus spare
//! capacity that comes online over its ramp, pro rata to what buyers ask of it, along spot
//! links that bans and closed routes can cut. As in contract allocation, the unmet use part of
//! every buyer's need is served before any refill part. Written per lane: it is the reference rule and,
//! as shortfalls are rare and differ between lanes, also the fast one.

use super::produce::{input_limit_lane, use_inputs_lane};
use super::state::Scratch;
use super::transport::ship;
use super::{EPS, NONE};
use crate::model::Model;

/// Material `m`'s spot market in lane `l`.
pub(super) fn spot_market(model: &Model, s: &mut Scratch, m: usize, t: u32, l: usize) {
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
                let use_short = s.use_order[b].0[l] - s.contract_shipped[b].0[l];
                s.spot_use[b].0[l] = use_short.clamp(0.0, shortfall);
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
        // Two passes: unmet use, then unmet refill (the need beyond use).
        let mut sold = 0.0;
        for refill in [false, true] {
            let part = |s: &Scratch, b: usize| {
                let (need, use_) = (s.spot_need[b].0[l], s.spot_use[b].0[l]);
                if refill {
                    need - use_
                } else {
                    use_
                }
            };
            let mut asked = 0.0;
            for &b in &s.net.switch_slots[m] {
                let b = b as usize;
                let x = model.slots[b].spot_links.start as usize + pos;
                if s.spot_need[b].0[l] > 0.0 && link_open(s, x) {
                    asked += part(s, b) * s.spot_factor[x].0[l];
                }
            }
            let left = offer - sold;
            if asked <= 0.0 || left <= 0.0 {
                continue;
            }
            let ratio = (left / asked).min(1.0);
            for i in 0..s.net.switch_slots[m].len() {
                let b = s.net.switch_slots[m][i] as usize;
                let x = model.slots[b].spot_links.start as usize + pos;
                if s.spot_need[b].0[l] <= 0.0 || !link_open(s, x) {
                    continue;
                }
                let q = part(s, b) * s.spot_factor[x].0[l] * ratio;
                if q > 0.0 {
                    s.spot_need[b].0[l] -= q;
                    if !refill {
                        s.spot_use[b].0[l] -= q;
                    }
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
        }
        s.flow.shipped.0[l] += sold;
        use_inputs_lane(s, si, sold, l);
        s.spot_avail[si].0[l] = (s.spot_avail[si].0[l] - sold).max(0.0);
    }
}
