//! Suppliers: who makes what, where, how much; and the input slots of those that make a material
//! from others.

use super::ck::{check_keys_are, Ck, Ids};
use super::contracts::SlotSource;
use super::network::{
    days_to_steps, MaterialIdx, Model, Owner, RegionIdx, Slot, Supplier, SupplierIdx,
    DEFAULT_REFILL_BELOW,
};
use crate::scenario::RawScenario;

/// The region and material ids suppliers refer to.
pub(super) struct SupplierRefs<'a> {
    pub(super) region: &'a Ids,
    pub(super) material: &'a Ids,
}

/// Declare the suppliers and add them to the model; returns their ids. A supplier whose region or
/// material is unknown gets a NaN capacity, which keeps it out of `material_suppliers`.
pub(super) fn compile_suppliers(
    raw: &RawScenario,
    ck: &mut Ck,
    model: &mut Model,
    ids: &SupplierRefs,
) -> Ids {
    let per_step = model.step_days as f64 / 365.0;
    let mut supplier_ids = Ids::new("supplier");
    for (i, s) in raw.supplier.iter().enumerate() {
        supplier_ids.declare(ck, &s.get_ref().id, &format!("supplier[{i}].id"));
    }
    for (i, s) in raw.supplier.iter().enumerate() {
        let span = s.span();
        let s = s.get_ref();
        let key = format!("supplier[{i}]");
        let region = ids
            .region
            .resolve(ck, &s.region, span.clone(), &format!("{key}.region"));
        let material =
            ids.material
                .resolve(ck, &s.material, span.clone(), &format!("{key}.material"));
        let capacity = ck.nonneg(
            &s.capacity,
            &format!("{key}.capacity"),
            "units per year; 0 for an idle plant",
        );
        let spare = ck.opt_nonneg(
            &s.spare,
            &format!("{key}.spare"),
            0.0,
            "extra output for new customers as a fraction of capacity, e.g. 0.1",
        );
        let ramp_days = ck.opt_nonneg(
            &s.ramp_days,
            &format!("{key}.ramp_days"),
            0.0,
            "days to bring spare capacity online",
        );
        let priority_regions = s
            .priority_regions
            .iter()
            .filter_map(|r| {
                ids.region
                    .resolve(ck, r, span.clone(), &format!("{key}.priority_regions"))
                    .map(RegionIdx)
            })
            .collect();
        model.suppliers.push(Supplier {
            id: s.id.get_ref().clone(),
            name: s.name.clone().unwrap_or_else(|| s.id.get_ref().clone()),
            region: RegionIdx(region.unwrap_or(0)),
            material: MaterialIdx(material.unwrap_or(0)),
            capacity: capacity * per_step,
            spare,
            ramp_steps: days_to_steps(ramp_days, model.step_days),
            base_output: 0.0, // set by the steady state
            input_slots: 0..0,
            out_edges: 0..0,
            priority_regions,
            tags: s.tags.iter().map(|t| t.get_ref().clone()).collect(),
        });
        if region.is_none() || material.is_none() {
            model.suppliers.last_mut().unwrap().capacity = f64::NAN; // unusable; errors already reported
        }
    }
    supplier_ids
}

/// The usable suppliers of each material, in file order.
pub(super) fn index_by_material(model: &mut Model) {
    let mut material_suppliers = vec![Vec::new(); model.materials.len()];
    for (i, s) in model.suppliers.iter().enumerate() {
        if !s.capacity.is_nan() {
            material_suppliers[s.material.ix()].push(SupplierIdx(i as u32));
        }
    }
    model.material_suppliers = material_suppliers;
}

/// One slot per input of each supplier's material; stock is in days until the steady state is
/// known. Returns where each slot's sourcing comes from.
pub(super) fn input_slots<'r>(
    raw: &'r RawScenario,
    ck: &mut Ck,
    model: &mut Model,
) -> Vec<SlotSource<'r>> {
    let mut sources = Vec::new();
    for (i, (s, rs)) in model.suppliers.iter_mut().zip(&raw.supplier).enumerate() {
        let key = format!("supplier[{i}]");
        let r = rs.get_ref();
        let mat = &model.materials[s.material.ix()];
        check_keys_are(
            ck,
            &r.sourcing,
            &mat.inputs,
            &model.materials,
            &format!("{key}.sourcing"),
            &format!("an input of `{}`", mat.id),
        );
        check_keys_are(
            ck,
            &r.stock_days,
            &mat.inputs,
            &model.materials,
            &format!("{key}.stock_days"),
            &format!("an input of `{}`", mat.id),
        );
        let start = model.slots.len() as u32;
        for &(input, ratio) in &mat.inputs {
            let mid = &model.materials[input.ix()].id;
            let stock_days = r.stock_days.get(mid).map_or(0.0, |d| {
                ck.nonneg(
                    d,
                    &format!("{key}.stock_days.{mid}"),
                    "days of input use held in stock",
                )
            });
            model.slots.push(Slot {
                owner: Owner::Supplier(SupplierIdx(i as u32)),
                material: input,
                region: s.region,
                nominal_use: 0.0,
                ratio,
                stock_target: stock_days, // days for now; scaled once steady-state use is known
                stock_initial: stock_days,
                refill_per_step: 0.0,
                refill_below: DEFAULT_REFILL_BELOW,
                release_above: f64::INFINITY,
                pipeline_nominal: 0.0,
                switch_steps: None,
                recycled: 0.0,
                pool: None,
                in_edges: 0..0,
                spot_links: 0..0,
            });
            sources.push(SlotSource {
                sourcing: r.sourcing.get(mid),
                key: format!("{key}.sourcing.{mid}"),
                table_span: rs.span(),
                demand_per_step: 0.0,
            });
        }
        s.input_slots = start..model.slots.len() as u32;
    }
    sources
}
