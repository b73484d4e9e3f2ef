//! The steady state: the network with no shocks, from which stocks and pipelines start.

use super::network::{Model, Owner, SupplierIdx};

/// What the steady state found: the flow on each contract edge per step, and the suppliers
/// whose contracts ask more than their capacity (with what they ask, per step).
pub(super) struct Steady {
    pub edge_flow: Vec<f64>,
    pub oversubscribed: Vec<(SupplierIdx, f64)>,
}

/// Orders flow upstream from importers, use flows back: set each supplier input slot's use and
/// its stock (given in days until now).
pub(super) fn steady_state(model: &mut Model) -> Steady {
    let step_days = model.step_days;
    let edges = &model.edges;
    let slots = &mut model.slots;
    let mut edge_flow = vec![0.0; edges.len()];
    let mut oversubscribed = Vec::new();
    let mut base_output = vec![0.0; model.suppliers.len()];
    let mut slot_use: Vec<f64> = slots
        .iter()
        .map(|s| {
            if matches!(s.owner, Owner::Importer(_)) {
                s.nominal_use * (1.0 - s.recycled)
            } else {
                0.0
            }
        })
        .collect();
    for &m in model.material_order.iter().rev() {
        // Buyers of m's suppliers are downstream of m, so their use is already known.
        for &s in &model.material_suppliers[m.ix()] {
            let sup = &model.suppliers[s.ix()];
            let orders: f64 = sup
                .out_edges
                .clone()
                .map(|e| slot_use[edges[e as usize].slot.ix()] * edges[e as usize].share)
                .sum();
            // A relative margin: balancing buyers take exactly what others leave.
            if orders > sup.capacity * (1.0 + 1e-9) {
                oversubscribed.push((s, orders));
            }
            let planned = orders.min(sup.capacity);
            for slot in sup.input_slots.clone() {
                slot_use[slot as usize] = planned * slots[slot as usize].ratio;
            }
            base_output[s.ix()] = planned;
        }
    }
    for (sup, x) in model.suppliers.iter_mut().zip(base_output) {
        sup.base_output = x;
    }
    for (ei, e) in edges.iter().enumerate() {
        edge_flow[ei] = slot_use[e.slot.ix()] * e.share;
    }
    for (si, slot) in slots.iter_mut().enumerate() {
        if let Owner::Supplier(_) = slot.owner {
            let use_ = slot_use[si];
            slot.nominal_use = use_;
            let days = slot.stock_target;
            slot.stock_target = days * use_ / step_days as f64;
            slot.stock_initial = slot.stock_target;
            // Input stocks refill over 30 days.
            slot.refill_per_step = slot.stock_target * step_days as f64 / 30.0;
        }
    }
    Steady {
        edge_flow,
        oversubscribed,
    }
}
