//! `supplyshock whatif`: one named shock, fired at a chosen day for a chosen time and severity,
//! run deterministically through the baseline and every strategy. Each variant is also run
//! calm (no event at all), so every figure can be read as what the shock adds.

use serde::Serialize;

use crate::engine::{run_trial, Scratch};
use crate::metrics::{ImporterMetrics, SlotMetrics};
use crate::model::Model;
use crate::shocks::Event;

/// The shock fired: which, when and how hard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Firing {
    /// Index of the shock in the scenario.
    #[serde(skip)]
    pub shock: usize,
    pub id: String,
    pub name: String,
    pub start_day: f64,
    pub days: f64,
    pub severity: f64,
}

/// The events of `firing` in `model`: one per instance of the shock (an independent shock
/// hits every element it targets at once), in the steps its day and duration cover.
pub fn events(model: &Model, f: &Firing) -> Vec<Event> {
    let shock = &model.shocks[f.shock];
    // The step the day falls in, as for a shock's own start day.
    let start = ((f.start_day / f64::from(model.step_days)) as u32).min(model.n_steps);
    let dur = model.days_to_steps(f.days).max(1);
    (0..shock.instances.len() as u32)
        .map(|instance| Event {
            shock: f.shock as u32,
            instance,
            start,
            end: start.saturating_add(dur).min(model.n_steps),
            severity: f.severity,
        })
        .collect()
}

/// One importer slot of one variant under the shock.
#[derive(Debug, Clone, Serialize)]
pub struct SlotPath {
    pub importer: String,
    pub importer_name: String,
    pub material: String,
    pub material_name: String,
    pub days_short: f64,
    pub max_depth: f64,
    /// Days from the onset of a supply deficit to the first shortage (none if never short).
    pub time_to_survive_days: Option<f64>,
    /// Days from the first shortage back to sustained full service (none if never short, or
    /// not recovered by the horizon).
    pub time_to_recover_days: Option<f64>,
    pub peak_price: f64,
    pub loss: f64,
    /// The same slot's loss with no event at all.
    pub calm_loss: f64,
    /// Share of need met each step.
    pub fill: Vec<f64>,
    /// Price paid each step, a multiple of the reference price (1 without a market).
    pub price: Vec<f64>,
}

impl SlotPath {
    /// Whether the shock touched this slot: a shortage, a price move or a loss unlike calm.
    pub fn touched(&self) -> bool {
        self.days_short > 0.0 || self.loss != self.calm_loss || self.price.iter().any(|&p| p != 1.0)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImporterOutcome {
    pub importer: String,
    pub name: String,
    pub balancing: bool,
    pub loss: f64,
    pub calm_loss: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantPath {
    pub id: String,
    pub name: String,
    pub importers: Vec<ImporterOutcome>,
    pub slots: Vec<SlotPath>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WhatIf {
    pub schema: &'static str,
    pub scenario: String,
    pub horizon_days: u32,
    pub step_days: u32,
    pub currency: String,
    pub shock: Firing,
    pub variants: Vec<VariantPath>,
}

pub const WHATIF_SCHEMA: &str = "supplyshock.whatif/1";

/// Run `firing` through every variant (`models[0]` the baseline; `ids`, `names` alike).
pub fn run(models: &[&Model], ids: &[String], names: &[String], firing: &Firing) -> WhatIf {
    let base = models[0];
    let variants = models
        .iter()
        .zip(ids.iter().zip(names))
        .map(|(model, (id, name))| variant(model, id, name, firing))
        .collect();
    WhatIf {
        schema: WHATIF_SCHEMA,
        scenario: base.name.clone(),
        horizon_days: base.horizon_days,
        step_days: base.step_days,
        currency: base.currency.clone(),
        shock: firing.clone(),
        variants,
    }
}

fn variant(model: &Model, id: &str, name: &str, firing: &Firing) -> VariantPath {
    let n_steps = model.n_steps as usize;
    let step_days = f64::from(model.step_days);
    let mut calm = Scratch::new(model);
    run_trial(model, &mut calm, &[], None);
    let mut hit = Scratch::new(model);
    run_trial(model, &mut hit, &events(model, firing), None);
    let (calm_out, hit_out) = (calm.outcome(0), hit.outcome(0));
    let slots = model
        .importer_slots()
        .enumerate()
        .map(|(k, b)| {
            let (importer, material) = model.slot_label(b);
            let (importer_name, material_name) = model.slot_names(b);
            let mat = &model.materials[model.slots[b.ix()].material.ix()];
            let m = SlotMetrics::of_trial(&hit_out[k], mat, step_days);
            let c = SlotMetrics::of_trial(&calm_out[k], mat, step_days);
            let r = &hit_out[k];
            SlotPath {
                importer,
                importer_name,
                material,
                material_name,
                days_short: m.days_short,
                max_depth: m.max_depth,
                time_to_survive_days: r.tts_steps().map(|t| f64::from(t) * step_days),
                time_to_recover_days: r
                    .had_shortage()
                    .then(|| r.ttr_steps())
                    .flatten()
                    .map(|t| f64::from(t) * step_days),
                peak_price: m.peak_price,
                loss: m.loss_value,
                calm_loss: c.loss_value,
                fill: hit.fill_path(0, k).unwrap_or_default(),
                price: hit.price_path(0, k, n_steps),
            }
        })
        .collect();
    let importers = model
        .importers
        .iter()
        .map(|imp| ImporterOutcome {
            importer: imp.id.clone(),
            name: imp.name.clone(),
            balancing: imp.balancing,
            loss: ImporterMetrics::of_trial(model, imp, hit_out).loss_value,
            calm_loss: ImporterMetrics::of_trial(model, imp, calm_out).loss_value,
        })
        .collect();
    VariantPath {
        id: id.to_owned(),
        name: name.to_owned(),
        importers,
        slots,
    }
}

impl WhatIf {
    pub fn json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("whatif serializes");
        v.push(b'\n');
        v
    }

    /// The day-by-day path: one row per variant, importer slot and step.
    pub fn path_csv(&self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "variant", "importer", "material", "step", "day", "fill", "price",
        ])
        .unwrap();
        for v in &self.variants {
            for sl in &v.slots {
                for (t, (f, p)) in sl.fill.iter().zip(&sl.price).enumerate() {
                    w.write_record([
                        v.id.as_str(),
                        &sl.importer,
                        &sl.material,
                        &t.to_string(),
                        &(t as u64 * u64::from(self.step_days)).to_string(),
                        &format!("{f}"),
                        &format!("{p}"),
                    ])
                    .unwrap();
                }
            }
        }
        w.into_inner().unwrap()
    }
}
