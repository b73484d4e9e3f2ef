//! Stress tests in the spirit of Simchi-Levi's time-to-survive analysis: remove one supplier,
//! region or route at step 0 for a fixed number of days, with no other shock, and measure each
//! importer's time to survive (TTS) and time to recover (TTR). An importer whose TTS is shorter
//! than the removal lasts is flagged: it runs short before the element comes back.

use serde::Serialize;

use crate::dist::Dist;
use crate::model::{Model, RouteIdx, Shock, ShockKind, SupplierIdx, Target, Timing};
use crate::report::summarize;
use crate::runner::{run_all, Plan};

/// The schema of stress.json.
pub const STRESS_SCHEMA: &str = "supplyshock.stress/2";

/// One importer and material under one removal: a row of the stress table, stress.json and
/// stress.csv.
#[derive(Debug, Clone, Serialize)]
pub struct StressRow {
    pub removed: String,
    pub importer: String,
    /// The importer's `name` (its id when the scenario gives none).
    pub importer_name: String,
    pub material: String,
    /// The material's `name` (its id when the scenario gives none).
    pub material_name: String,
    /// Days from the removal to the first shortage; None when it never runs short.
    pub tts_days: Option<f64>,
    /// Days from the first shortage to sustained full service; None when it never ran short or
    /// had not recovered by the horizon (see `recovered`).
    pub ttr_days: Option<f64>,
    pub recovered: bool,
    pub unmet_units: f64,
    pub loss_value: f64,
    /// The parts of `loss_value`: unmet demand, and (materials with a market) extra spend plus
    /// surplus lost on demand given up.
    pub unmet_loss: f64,
    pub price_loss: f64,
    /// Runs short before the removed element comes back (TTS < removal days).
    pub flagged: bool,
}

/// A stress test's results: the removals ranked worst first, and every row.
#[derive(Debug, Clone, Serialize)]
pub struct StressResult {
    pub schema: &'static str,
    pub scenario: String,
    pub days: f64,
    pub horizon_days: u32,
    pub removals: Vec<Removal>,
    pub rows: Vec<StressRow>,
}

/// A removal and what it costs in all, for the ranking (worst first).
#[derive(Debug, Clone, Serialize)]
pub struct Removal {
    pub removed: String,
    pub kind: Vec<ElementKind>,
    pub loss_value: f64,
    /// The parts of `loss_value` (see [`StressRow`]).
    pub unmet_loss: f64,
    pub price_loss: f64,
    pub min_tts_days: Option<f64>,
    pub flagged: usize,
}

/// What to remove: one set of elements together, or each element of the network in turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Removals {
    Together(Vec<String>),
    EachInTurn,
}

impl Removals {
    /// The sets of ids removed together, one per stressed variant.
    pub fn sets(&self, model: &Model) -> Vec<Vec<String>> {
        match self {
            Removals::Together(ids) => vec![ids.clone()],
            Removals::EachInTurn => all_elements(model).into_iter().map(|id| vec![id]).collect(),
        }
    }
}

/// Days from day 0 to each importer slot's first shortage in the one trial of `model` (whose
/// shocks are all scheduled); None for a slot never short.
fn first_shortage_days(model: &Model) -> Vec<Option<f64>> {
    let mut scratch = crate::engine::Scratch::new(model).unaudited();
    let mut events = Vec::new();
    crate::shocks::sample_trial(model, 0, 0, &mut events);
    crate::engine::run_trial(model, &mut scratch, &events, None);
    scratch
        .outcome(0)
        .iter()
        .map(|o| {
            o.had_shortage()
                .then(|| o.first_short as f64 * f64::from(model.step_days))
        })
        .collect()
}

/// Run a stress test of `model`: each set of `removals` removed at day 0 for `days` days, with
/// no other shock, in one exact trial; rows per set, importer and material, and the sets
/// ranked by the loss they cause (worst first, then by label). `days` must be positive.
pub fn run(model: &Model, removals: &Removals, days: f64) -> Result<StressResult, String> {
    let sets = removals.sets(model);
    let mut models = vec![stressed(model, Vec::new())];
    let mut labels = vec!["none".to_owned()];
    let mut kinds = vec![Vec::new()];
    for set in &sets {
        let mut shocks = Vec::new();
        let mut k = Vec::new();
        for id in set {
            let (kind, shock) = removal(model, id, days)?;
            shocks.push(shock);
            k.push(kind);
        }
        models.push(stressed(model, shocks));
        labels.push(set.join("+"));
        kinds.push(k);
    }
    let plan = Plan::from_models(models.iter().collect(), labels.clone());
    // No random shock is left: one trial is exact.
    let acc = run_all(&plan, 1, 0);
    let costs = vec![None; labels.len()];
    let summary = summarize(&plan, &costs, &labels, &acc, 1, 0);
    let mut rows = Vec::new();
    let mut ranked = Vec::new();
    for (v, variant) in summary.variants.iter().enumerate().skip(1) {
        let (mut total, mut unmet, mut price) = (0.0, 0.0, 0.0);
        let mut min_tts: Option<f64> = None;
        let mut flagged = 0;
        let first_short = first_shortage_days(&models[v]);
        for (k, sl) in variant.slots.iter().enumerate() {
            let short = sl.metrics.p_shortage.mean > 0.0;
            // Counted from the removal (day 0), not from the onset of the importer's deficit:
            // a lead time is time the importer survives too.
            let tts = first_short[k];
            let ttr = sl.time_to_recover_days.map(|t| t.mean);
            let flag = tts.is_some_and(|t| t < days);
            flagged += usize::from(flag);
            let m = &sl.metrics;
            let price_loss = m.price_loss();
            total += m.loss_value.mean;
            unmet += m.unmet_loss.mean;
            price += price_loss;
            if let Some(t) = tts {
                min_tts = Some(min_tts.map_or(t, |m: f64| m.min(t)));
            }
            rows.push(StressRow {
                removed: variant.id.clone(),
                importer: sl.importer.clone(),
                importer_name: sl.importer_name.clone(),
                material: sl.material.clone(),
                material_name: sl.material_name.clone(),
                tts_days: tts,
                ttr_days: ttr,
                recovered: !short || ttr.is_some(),
                unmet_units: sl.metrics.unmet_units.mean,
                loss_value: m.loss_value.mean,
                unmet_loss: m.unmet_loss.mean,
                price_loss,
                flagged: flag,
            });
        }
        ranked.push(Removal {
            removed: variant.id.clone(),
            kind: kinds[v].clone(),
            loss_value: total,
            unmet_loss: unmet,
            price_loss: price,
            min_tts_days: min_tts,
            flagged,
        });
    }
    ranked.sort_by(|a, b| {
        b.loss_value
            .total_cmp(&a.loss_value)
            .then_with(|| a.removed.cmp(&b.removed))
    });
    Ok(StressResult {
        schema: STRESS_SCHEMA,
        scenario: model.name.clone(),
        days,
        horizon_days: model.horizon_days,
        removals: ranked,
        rows,
    })
}

impl StressResult {
    /// The chart's points: one per row.
    pub fn points(&self) -> Vec<crate::plot::StressPoint> {
        self.rows
            .iter()
            .map(|r| crate::plot::StressPoint {
                removed: r.removed.clone(),
                importer: r.importer.clone(),
                importer_name: r.importer_name.clone(),
                material: r.material.clone(),
                tts_days: r.tts_days,
                ttr_days: r.ttr_days,
            })
            .collect()
    }

    /// stress.json.
    pub fn json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("stress result serializes");
        v.push(b'\n');
        v
    }

    /// stress.csv: one line per row.
    pub fn csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "removed",
            "importer",
            "material",
            "tts_days",
            "ttr_days",
            "recovered",
            "unmet_units",
            "loss_value",
            "flagged",
            "unmet_loss",
            "price_loss",
        ])
        .expect("in-memory CSV");
        let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x}"));
        for row in &self.rows {
            w.write_record([
                row.removed.clone(),
                row.importer.clone(),
                row.material.clone(),
                opt(row.tts_days),
                opt(row.ttr_days),
                row.recovered.to_string(),
                format!("{}", row.unmet_units),
                format!("{}", row.loss_value),
                row.flagged.to_string(),
                format!("{}", row.unmet_loss),
                format!("{}", row.price_loss),
            ])
            .expect("in-memory CSV");
        }
        w.into_inner().expect("in-memory CSV")
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_are_ranked_by_loss_worst_first() {
        let text = include_str!("../scenarios/starter.toml");
        let loaded = crate::model::load_str("starter.toml", text.to_owned()).expect("valid");
        let base = &loaded.study.baseline;
        let r = run(base, &Removals::EachInTurn, 60.0).expect("every element exists");
        assert_eq!(r.removals.len(), all_elements(base).len());
        assert!(r.removals.windows(2).all(|w| {
            w[0].loss_value > w[1].loss_value
                || (w[0].loss_value == w[1].loss_value && w[0].removed < w[1].removed)
        }));
        assert!(r.removals[0].loss_value > 0.0, "something must hurt");
        // A removal's loss is the sum of its rows' losses.
        for x in &r.removals {
            let sum: f64 = r
                .rows
                .iter()
                .filter(|row| row.removed == x.removed)
                .map(|row| row.loss_value)
                .sum();
            assert_eq!(sum, x.loss_value);
        }
        assert!(run(base, &Removals::Together(vec!["nowhere".into()]), 60.0).is_err());
    }
}
