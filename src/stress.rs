//! Stress tests in the spirit of Simchi-Levi's time-to-survive analysis: remove one supplier,
//! region or route at step 0 for a fixed number of days, with no other shock, and measure each
//! importer's time to survive (TTS) and time to recover (TTR). An importer whose TTS is shorter
//! than the removal lasts is flagged: it runs short before the element comes back. With
//! `against`, a supplier or region is not removed but banned from selling to the buyers named;
//! the rows and the ranking count the focus importers (by default every one not balancing).

use serde::Serialize;

use crate::dist::Dist;
use crate::model::{
    EdgeIdx, ImporterIdx, Model, Owner, RouteIdx, Shock, ShockKind, SlotIdx, SupplierIdx, Target,
    Timing,
};
use crate::report::summarize;
use crate::runner::{run_all, Plan};

/// The schema of stress.json.
pub const STRESS_SCHEMA: &str = "supplyshock.stress/3";

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
    /// The buyers the removed suppliers are banned from selling to (empty: removed outright).
    pub against: Vec<String>,
    /// The importers the rows and the ranking count.
    pub importers: Vec<String>,
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
    /// The scenario's shocks that can strike what was removed (a targeted supplier, one in the
    /// region, or the route), by id.
    pub shocks: Vec<String>,
}

/// How a stress test removes its elements and whom it counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stress {
    /// How long each removal lasts, in days: positive.
    pub days: f64,
    /// Importer or region ids: ban exports to these buyers instead of removing the supplier
    /// (empty: remove it outright).
    pub against: Vec<String>,
    /// The importers to count (None: every importer not declared balancing).
    pub focus: Option<Vec<String>>,
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

/// Run a stress test of `model`: each set of `removals` removed (or banned from selling to
/// `spec.against`) at day 0 for `spec.days` days, with no other shock, in one exact trial; rows
/// per set, counted importer and material, and the sets ranked by the loss they cause to the
/// counted importers (worst first, then by label).
pub fn run(model: &Model, removals: &Removals, spec: &Stress) -> Result<StressResult, String> {
    let days = spec.days;
    let counted = counted_importers(model, spec.focus.as_deref())?;
    let buyers = buyers(model, &spec.against)?;
    let sets = removals.sets(model);
    let mut models = vec![stressed(model, Vec::new())];
    let mut labels = vec!["none".to_owned()];
    let mut kinds = vec![Vec::new()];
    for set in &sets {
        let mut shocks = Vec::new();
        let mut k = Vec::new();
        for id in set {
            let (kind, shock) = removal(model, id, days)?;
            match &buyers {
                Some(b) => shocks.extend(ban(model, id, kind, shock, b)?),
                None => shocks.push(shock),
            }
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
            if !counted.contains(&sl.importer) {
                continue;
            }
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
            shocks: striking(model, &sets[v - 1]),
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
        against: spec.against.clone(),
        importers: counted,
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

/// The importers a stress test counts: the focus (each checked), else every one not balancing.
fn counted_importers(model: &Model, focus: Option<&[String]>) -> Result<Vec<String>, String> {
    let ids = || model.importers.iter().map(|i| i.id.as_str());
    match focus {
        Some(f) => {
            for id in f {
                if !ids().any(|x| x == id) {
                    let hint = crate::diag::did_you_mean(id, ids()).map_or_else(
                        || format!("importers: {}", ids().collect::<Vec<_>>().join(", ")),
                        |b| format!("did you mean `{b}`?"),
                    );
                    return Err(format!("--focus: unknown importer `{id}`\n  hint: {hint}"));
                }
            }
            Ok(ids()
                .filter(|x| f.iter().any(|y| y == x))
                .map(str::to_owned)
                .collect())
        }
        None => Ok(model
            .importers
            .iter()
            .filter(|i| !i.balancing)
            .map(|i| i.id.clone())
            .collect()),
    }
}

/// The buyer slots `--against` names: every slot of the importers given, and of the importers
/// and buying suppliers in the regions given. None without `--against`.
fn buyers(model: &Model, against: &[String]) -> Result<Option<Vec<SlotIdx>>, String> {
    if against.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    let slots = || (0..model.slots.len() as u32).map(SlotIdx);
    for id in against {
        if let Some(i) = model.importers.iter().position(|x| &x.id == id) {
            let owner = Owner::Importer(ImporterIdx(i as u32));
            out.extend(slots().filter(|s| model.slots[s.ix()].owner == owner));
        } else if let Some(r) = model.regions.iter().position(|x| &x.id == id) {
            out.extend(slots().filter(|s| model.slots[s.ix()].region.ix() == r));
        } else {
            let all: Vec<&str> = model
                .importers
                .iter()
                .map(|x| x.id.as_str())
                .chain(model.regions.iter().map(|x| x.id.as_str()))
                .collect();
            let hint = crate::diag::did_you_mean(id, all.iter().copied()).map_or_else(
                || "`--against` takes importer or region ids (the buyers banned)".to_owned(),
                |b| format!("did you mean `{b}`?"),
            );
            return Err(format!(
                "--against: unknown importer or region `{id}`\n  hint: {hint}"
            ));
        }
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

/// `removed` (a supplier or region, shock `whole` removing it) turned into export bans against
/// `buyers`: one shock per supplier that sells to one of them.
fn ban(
    model: &Model,
    id: &str,
    kind: ElementKind,
    whole: Shock,
    buyers: &[SlotIdx],
) -> Result<Vec<Shock>, String> {
    if kind == ElementKind::Route {
        return Err(format!(
            "`{id}` is a route: --against bans a supplier's or region's exports, and a closed \
             route stops every buyer's flow\n  hint: drop --against to close the route"
        ));
    }
    let mut out = Vec::new();
    for &s in &whole.instances[0].suppliers {
        let mut t = Target {
            suppliers: vec![s],
            ..Target::default()
        };
        for e in model.suppliers[s.ix()].out_edges.clone() {
            if buyers.contains(&model.edges[e as usize].slot) {
                t.edges.push(EdgeIdx(e));
            }
        }
        for (li, l) in model.spot_links.iter().enumerate() {
            if l.supplier == s && buyers.contains(&l.slot) {
                t.spot_links.push(li as u32);
            }
        }
        if t.edges.is_empty() && t.spot_links.is_empty() {
            continue;
        }
        out.push(Shock {
            id: format!("ban-{}", model.suppliers[s.ix()].id),
            name: format!(
                "{} banned from selling to the buyers named",
                model.suppliers[s.ix()].id
            ),
            kind: ShockKind::ExportBan,
            instances: vec![t],
            ..whole.clone()
        });
    }
    if out.is_empty() {
        return Err(format!(
            "`{id}` sells to none of the buyers named with --against: the ban would cut nothing"
        ));
    }
    Ok(out)
}

/// The scenario's shocks that can strike one of the elements of `set`: a shock targeting a
/// supplier removed (or one in a region removed), or a route removed.
fn striking(model: &Model, set: &[String]) -> Vec<String> {
    let hit = |t: &Target| {
        set.iter().any(|id| {
            t.suppliers.iter().any(|s| {
                let sup = &model.suppliers[s.ix()];
                &sup.id == id || &model.regions[sup.region.ix()].id == id
            }) || t.routes.iter().any(|r| &model.routes[r.ix()].id == id)
        })
    };
    model
        .shocks
        .iter()
        .filter(|sh| sh.enabled && sh.instances.iter().any(hit))
        .map(|sh| sh.id.clone())
        .collect()
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
        let spec = Stress {
            days: 60.0,
            ..Stress::default()
        };
        let r = run(base, &Removals::EachInTurn, &spec).expect("every element exists");
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
        assert!(run(base, &Removals::Together(vec!["nowhere".into()]), &spec).is_err());
    }
}
