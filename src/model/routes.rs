//! Routes: lead times, and which trade flows (region to region) each carries; then the pipes
//! that hold goods in transit on them.

use std::collections::BTreeMap;

use super::ck::{Ck, Ids};
use super::network::{
    days_to_steps, Model, Pipe, PipeIdx, Route, RouteIdx, Slot, SlotIdx, SpotLink, Supplier,
    SupplierIdx,
};
use crate::scenario::RawScenario;

/// Which route carries each trade flow: a (from, to) pair of regions.
pub(super) type TradeFlows = BTreeMap<(u32, u32), RouteIdx>;

/// Declare the routes and add them to the model; returns their ids and the trade flows
/// they carry.
pub(super) fn compile_routes(
    raw: &RawScenario,
    ck: &mut Ck,
    model: &mut Model,
    region_ids: &Ids,
) -> (Ids, TradeFlows) {
    let mut route_ids = Ids::new("route");
    let mut trade_flows = TradeFlows::new();
    for (i, r) in raw.route.iter().enumerate() {
        let span = r.span();
        let r = r.get_ref();
        let key = format!("route[{i}]");
        let idx = route_ids.declare(ck, &r.id, &format!("{key}.id"));
        let lead_days = ck.opt_nonneg(
            &r.lead_days,
            &format!("{key}.lead_days"),
            0.0,
            "days in transit on this route",
        );
        if lead_days > f64::from(model.horizon_days) {
            if let Some(v) = &r.lead_days {
                ck.err(
                    v.span(),
                    format!("{key}.lead_days"),
                    format!(
                        "a lead time of {} days is longer than the horizon ({} days): nothing shipped on this route would arrive",
                        crate::diag::num(lead_days),
                        model.horizon_days
                    ),
                    "use the days goods spend in transit (weeks, not years), or lengthen horizon_days",
                );
            }
        }
        let lead_days = lead_days.min(f64::from(model.horizon_days));
        if r.carries.is_empty() {
            ck.err(
                span.clone(),
                format!("{key}.carries"),
                "a route must carry at least one trade flow",
                "add carries = [{ from = \"TW\", to = \"JP\" }]",
            );
        }
        for (j, flow) in r.carries.iter().enumerate() {
            let fk = format!("{key}.carries[{j}]");
            let pair = flow.get_ref();
            let from = region_ids.resolve(ck, &pair.from, flow.span(), &format!("{fk}.from"));
            let to = region_ids.resolve(ck, &pair.to, flow.span(), &format!("{fk}.to"));
            if let (Some(f), Some(t)) = (from, to) {
                if let Some(prev) = trade_flows.insert((f, t), RouteIdx(idx)) {
                    ck.err(
                        flow.span(),
                        &fk,
                        format!(
                            "the trade flow {} -> {} is already carried by route `{}`",
                            pair.from.get_ref(),
                            pair.to.get_ref(),
                            route_ids.list[prev.ix()]
                        ),
                        "a trade flow takes exactly one route: remove it from one of them",
                    );
                }
            }
        }
        model.routes.push(Route {
            id: r.id.get_ref().clone(),
            name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()),
            lead_steps: days_to_steps(lead_days, model.step_days),
            tags: r.tags.iter().map(|t| t.get_ref().clone()).collect(),
        });
    }
    (route_ids, trade_flows)
}

/// Finds the route and pipe between a supplier and a slot, making one pipe per (slot, route) with
/// a lead time.
struct Router<'a> {
    trade_flows: &'a TradeFlows,
    suppliers: &'a [Supplier],
    routes: &'a [Route],
    pipe_of: BTreeMap<(u32, u32), PipeIdx>,
}

impl Router<'_> {
    fn route_for(
        &mut self,
        sup: SupplierIdx,
        slot: SlotIdx,
        slots: &[Slot],
        pipes: &mut Vec<Pipe>,
    ) -> (Option<RouteIdx>, Option<PipeIdx>) {
        let from = self.suppliers[sup.ix()].region;
        let to = slots[slot.ix()].region;
        let Some(&route) = self.trade_flows.get(&(from.0, to.0)) else {
            return (None, None);
        };
        let lead = self.routes[route.ix()].lead_steps;
        if lead == 0 {
            return (Some(route), None);
        }
        let pipe = *self.pipe_of.entry((slot.0, route.0)).or_insert_with(|| {
            pipes.push(Pipe {
                slot,
                route,
                lead_steps: lead,
                initial_per_step: 0.0,
            });
            PipeIdx(pipes.len() as u32 - 1)
        });
        (Some(route), Some(pipe))
    }
}

/// Put every contract edge and spot link on its route, and fill the pipes with the steady-state
/// flow (`edge_flow`, per edge) so that goods are already in transit at step 0.
pub(super) fn attach_routes(model: &mut Model, trade_flows: &TradeFlows, edge_flow: &[f64]) {
    let mut pipes: Vec<Pipe> = Vec::new();
    let mut router = Router {
        trade_flows,
        suppliers: &model.suppliers,
        routes: &model.routes,
        pipe_of: BTreeMap::new(),
    };
    let slots = &mut model.slots;
    for (ei, e) in model.edges.iter_mut().enumerate() {
        let (route, pipe) = router.route_for(e.supplier, e.slot, slots, &mut pipes);
        e.route = route;
        e.pipe = pipe;
        if let Some(p) = pipe {
            pipes[p.ix()].initial_per_step += edge_flow[ei];
        }
    }
    // What each supplier's contracts ask in the steady state (at least its output): the
    // denominator of its buyers' calm shares, so that they never add up to more than 1, even
    // when it is oversubscribed.
    let asked: Vec<f64> = router
        .suppliers
        .iter()
        .map(|sup| {
            let orders: f64 = sup.out_edges.clone().map(|e| edge_flow[e as usize]).sum();
            sup.base_output.max(orders)
        })
        .collect();
    let mut spot_links = Vec::new();
    for si in 0..slots.len() {
        let start = spot_links.len() as u32;
        // Re-sourcing buyers, and every buyer of a material with a market (which trades with
        // every supplier of the material, on the market's terms).
        let m = slots[si].material.ix();
        if slots[si].switch_steps.is_some() || model.materials[m].market.is_some() {
            for &s in &model.material_suppliers[m] {
                let (route, pipe) = router.route_for(s, SlotIdx(si as u32), slots, &mut pipes);
                let output = asked[s.ix()];
                let calm: f64 = slots[si]
                    .in_edges
                    .clone()
                    .map(|k| model.slot_edges[k as usize].ix())
                    .filter(|&e| model.edges[e].supplier == s)
                    .map(|e| edge_flow[e])
                    .sum();
                spot_links.push(SpotLink {
                    supplier: s,
                    slot: SlotIdx(si as u32),
                    route,
                    pipe,
                    calm_share: if output > 0.0 { calm / output } else { 0.0 },
                });
            }
        }
        slots[si].spot_links = start..spot_links.len() as u32;
    }
    for p in &pipes {
        slots[p.slot.ix()].pipeline_nominal += p.initial_per_step * p.lead_steps as f64;
    }
    model.pipes = pipes;
    model.spot_links = spot_links;
}
