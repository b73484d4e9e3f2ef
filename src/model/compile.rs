//! Scenario -> model: every check, every problem reported in one pass.
//!
//! Each noun has its own step, run here in order: later steps resolve the ids earlier ones
//! declare, and read what they built.

use std::collections::BTreeMap;

use super::ck::{Ck, IdTables};
use super::contracts::{compile_contracts, index_edges};
use super::importers::{compile_importers, declare_importers, ImporterRefs};
use super::materials::compile_materials;
use super::network::Model;
use super::pools::compile_pools;
use super::regions::compile_regions;
use super::routes::{attach_routes, compile_routes};
use super::settings::compile_settings;
use super::shocks::compile_shocks;
use super::steady_state::steady_state;
use super::suppliers::{compile_suppliers, index_by_material, input_slots, SupplierRefs};
use crate::diag::{Diagnostic, SourceFile};
use crate::scenario::{RawScenario, Spanned};

/// Compile one scenario (the baseline, or a strategy's edited copy). Returns a model when there
/// were no errors.
pub fn compile(
    raw: &RawScenario,
    src: &SourceFile,
    prefix: &str,
) -> (Option<Model>, Vec<Diagnostic>) {
    let mut ck = Ck {
        src,
        diags: Vec::new(),
        prefix,
    };
    let model = compile_inner(raw, &mut ck);
    let ok = ck.errors() == 0;
    (model.filter(|_| ok), ck.diags)
}

fn compile_inner(raw: &RawScenario, ck: &mut Ck) -> Option<Model> {
    let mut model = compile_settings(raw, ck);
    let region = compile_regions(raw, ck, &mut model);
    let material = compile_materials(raw, ck, &mut model)?;
    let refs = SupplierRefs {
        region: &region,
        material: &material,
    };
    let supplier = compile_suppliers(raw, ck, &mut model, &refs);
    if ck.errors() > 0 && model.materials.is_empty() {
        return None;
    }
    index_by_material(&mut model);
    let importer = declare_importers(raw, ck);
    if raw.importer.is_empty() {
        ck.err(
            0..0,
            "importer",
            "the scenario has no importer: nothing demands anything, so there is nothing to simulate",
            "add an [[importer]] with a region and a demand (see scenarios/README.md)",
        );
    }
    let (route, trade_flows) = compile_routes(raw, ck, &mut model, &region);
    check_shared_ids(raw, ck);
    if ck.errors() > 0 {
        // Later checks would only repeat the same problems through unresolved references.
        return None;
    }
    let ids = IdTables {
        region,
        material,
        supplier,
        importer,
        route,
    };

    // Slots: supplier inputs, then importer demands; then the contracts that feed them.
    let mut sources = input_slots(raw, ck, &mut model);
    let refs = ImporterRefs {
        region: &ids.region,
        material: &ids.material,
    };
    sources.extend(compile_importers(raw, ck, &mut model, &refs));
    compile_contracts(ck, &mut model, &ids.supplier, &sources);
    if ck.errors() > 0 {
        return None;
    }
    index_edges(&mut model);

    let steady = steady_state(&mut model);
    warn_oversubscribed(raw, ck, &model, &steady.oversubscribed);
    attach_routes(&mut model, &trade_flows, &steady.edge_flow);
    compile_pools(raw, ck, &mut model, &ids);
    compile_shocks(raw, ck, &mut model, &ids);
    if ck.errors() > 0 {
        return None;
    }
    Some(model)
}

/// A supplier whose contracts ask more than its capacity leaves its buyers short with no shock
/// at all, from day 0 in every trial: say so where the supplier is declared.
fn warn_oversubscribed(
    raw: &RawScenario,
    ck: &mut Ck,
    model: &Model,
    over: &[(super::network::SupplierIdx, f64)],
) {
    let per_year = 365.0 / f64::from(model.step_days);
    for &(s, orders) in over {
        let sup = &model.suppliers[s.ix()];
        let Some(i) = raw
            .supplier
            .iter()
            .position(|r| r.get_ref().id.get_ref() == &sup.id)
        else {
            continue;
        };
        let buyers: Vec<String> = sup
            .out_edges
            .clone()
            .map(|e| model.slot_label(model.edges[e as usize].slot).0)
            .collect();
        ck.warn(
            raw.supplier[i].get_ref().capacity.span(),
            format!("supplier[{i}].capacity"),
            format!(
                "`{}`'s contracts ask {} a year, more than its capacity of {}: its buyers ({}) run short with no shock at all, from day 0 in every trial",
                sup.id,
                crate::diag::num(orders * per_year),
                crate::diag::num(sup.capacity * per_year),
                crate::format::preview(&buyers)
            ),
            "raise capacity, lower the buyers' demand or sourcing shares for it, or add a supplier",
        );
    }
}

/// Regions, suppliers and routes share one namespace: stress tests remove an element by id.
fn check_shared_ids(raw: &RawScenario, ck: &mut Ck) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    let kinds: [(&str, Vec<&Spanned<String>>); 3] = [
        (
            "region",
            raw.region.iter().map(|r| &r.get_ref().id).collect(),
        ),
        (
            "supplier",
            raw.supplier.iter().map(|r| &r.get_ref().id).collect(),
        ),
        ("route", raw.route.iter().map(|r| &r.get_ref().id).collect()),
    ];
    for (kind, list) in &kinds {
        for (i, id) in list.iter().enumerate() {
            match seen.insert(id.get_ref().as_str(), kind) {
                Some(other) if other != *kind => ck.err(
                    id.span(),
                    format!("{kind}[{i}].id"),
                    format!("id `{}` is used by a {other} and a {kind}", id.get_ref()),
                    "regions, suppliers and routes share one namespace (stress tests remove elements by id): rename one",
                ),
                _ => {}
            }
        }
    }
}
