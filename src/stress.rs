//! Stress tests in the spirit of Simchi-Levi's time-to-survive analysis: remove one supplier,
//! region or route at step 0 for a fixed number of days, with no other shock, and measure each
//! importer's time to survive (TTS) and time to recover (TTR). An importer whose TTS is shorter
//! than the removal lasts is flagged: it runs short before the element comes back.

use serde::Serialize;

use crate::dist::Dist;
use crate::model::{Model, RouteIdx, Shock, ShockKind, SupplierIdx, Target, Timing};

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementKind {
    Supplier,
    Region,
    Route,
}

/// Resolve an id to the shock that removes it; error text lists what exists.
pub fn removal(model: &Model, id: &str, days: f64) -> Result<(ElementKind, Shock), String> {
    let (kind, shock_kind, target) =
        if let Some(i) = model.suppliers.iter().position(|s| s.id == id) {
            (
                ElementKind::Supplier,
                ShockKind::CapacityLoss,
                Target {
                    suppliers: vec![SupplierIdx(i as u32)],
                    ..Target::default()
                },
            )
        } else if let Some(r) = model.regions.iter().position(|r| r.id == id) {
            let suppliers: Vec<SupplierIdx> = (0..model.suppliers.len())
                .filter(|&s| model.suppliers[s].region.ix() == r)
                .map(|s| SupplierIdx(s as u32))
                .collect();
            if suppliers.is_empty() {
                return Err(format!(
                    "region `{id}` has no suppliers: removing it changes nothing"
                ));
            }
            (
                ElementKind::Region,
                ShockKind::CapacityLoss,
                Target {
                    suppliers,
                    ..Target::default()
                },
            )
        } else if let Some(r) = model.routes.iter().position(|r| r.id == id) {
            (
                ElementKind::Route,
                ShockKind::RouteClosure,
                Target {
                    routes: vec![RouteIdx(r as u32)],
                    ..Target::default()
                },
            )
        } else {
            let all: Vec<&str> = model
                .suppliers
                .iter()
                .map(|s| s.id.as_str())
                .chain(model.regions.iter().map(|r| r.id.as_str()))
                .chain(model.routes.iter().map(|r| r.id.as_str()))
                .collect();
            let hint = crate::diag::did_you_mean(id, all.iter().copied()).map_or_else(
                || "`--remove` takes a supplier, region or route id".to_owned(),
                |b| format!("did you mean `{b}`?"),
            );
            return Err(format!(
                "unknown supplier, region or route `{id}`\n  hint: {hint}"
            ));
        };
    let shock = Shock {
        id: format!("remove-{id}"),
        name: format!("{id} removed for {days} days"),
        kind: shock_kind,
        timing: Timing::At { step: 0 },
        duration_days: Some(Dist::fixed(days).map_err(|e| e.message)?),
        severity: Dist::fixed(1.0).expect("1 is a valid severity"),
        recovery_steps: 0,
        triggers: Vec::new(),
        instances: vec![target],
        enabled: true,
    };
    Ok((kind, shock))
}

/// The baseline with every stochastic shock replaced by the given removals.
pub fn stressed(model: &Model, removals: Vec<Shock>) -> Model {
    let mut m = model.clone();
    m.shocks = removals;
    m
}

/// Every element a `--all` stress test removes, in file order: suppliers, regions, routes.
pub fn all_elements(model: &Model) -> Vec<String> {
    let regions_with_suppliers = model
        .regions
        .iter()
        .enumerate()
        .filter(|(r, _)| model.suppliers.iter().any(|s| s.region.ix() == *r))
        .map(|(_, r)| r.id.clone());
    model
        .suppliers
        .iter()
        .map(|s| s.id.clone())
        .chain(regions_with_suppliers)
        .chain(model.routes.iter().map(|r| r.id.clone()))
        .collect()
}
