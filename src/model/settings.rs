//! The `[scenario]` table: horizon, step, trials, seed, currency.

use super::ck::Ck;
use super::network::{days_to_steps, Model};
use crate::scenario::{RawScenario, Spanned};

/// Check the `[scenario]` table and start the model from it, with every element list empty.
pub(super) fn compile_settings(raw: &RawScenario, ck: &mut Ck) -> Model {
    let meta = raw.scenario.get_ref();
    let int = |ck: &mut Ck,
               v: &Option<Spanned<i64>>,
               key: &str,
               min: i64,
               default: i64,
               hint: &str|
     -> i64 {
        match v {
            None => default,
            Some(v) if *v.get_ref() >= min => *v.get_ref(),
            Some(v) => {
                ck.err(
                    v.span(),
                    key,
                    format!("expected a whole number >= {min}, found {}", v.get_ref()),
                    hint.to_owned(),
                );
                default
            }
        }
    };
    let horizon_days = int(
        ck,
        &meta.horizon_days,
        "scenario.horizon_days",
        1,
        365,
        "the simulated period in days, e.g. 730 for two years",
    );
    let step_days = int(
        ck,
        &meta.step_days,
        "scenario.step_days",
        1,
        1,
        "1 = daily steps, 7 = weekly",
    );
    let trials = int(
        ck,
        &meta.trials,
        "scenario.trials",
        1,
        10_000,
        "Monte Carlo trials, e.g. 10000",
    );
    let seed = int(
        ck,
        &meta.seed,
        "scenario.seed",
        0,
        0,
        "any whole number >= 0",
    );
    let sustain_days = int(
        ck,
        &meta.sustain_days,
        "scenario.sustain_days",
        0,
        7,
        "days of full service that count as recovered",
    );
    if horizon_days > 36_500 {
        if let Some(v) = &meta.horizon_days {
            ck.err(
                v.span(),
                "scenario.horizon_days",
                format!("horizon of {horizon_days} days is longer than 100 years"),
                "use at most 36500 days",
            );
        }
    }
    let discount_rate = match &meta.discount_rate {
        None => 0.0,
        Some(v) if (0.0..1.0).contains(v.get_ref()) => *v.get_ref(),
        Some(v) => {
            ck.err(
                v.span(),
                "scenario.discount_rate",
                format!(
                    "expected a yearly rate from 0 to below 1, found {}",
                    v.get_ref()
                ),
                "e.g. 0.03 for 3% a year; 0 (the default) leaves losses and costs undiscounted",
            );
            0.0
        }
    };
    let horizon_days = horizon_days.min(36_500) as u32;
    let step_days = step_days.min(i64::from(horizon_days)).max(1) as u32;
    if let Some(v) = &meta.step_days {
        if *v.get_ref() > i64::from(horizon_days) {
            ck.err(
                v.span(),
                "scenario.step_days",
                format!(
                    "a step of {} days is longer than the horizon ({horizon_days} days)",
                    v.get_ref()
                ),
                "shorten step_days or lengthen horizon_days",
            );
        }
    }
    let n_steps = horizon_days.div_ceil(step_days);
    let currency = meta
        .currency
        .as_ref()
        .map_or_else(|| "USD".to_owned(), |c| c.get_ref().clone());
    Model {
        name: meta.name.get_ref().clone(),
        description: meta.description.clone(),
        currency,
        step_days,
        horizon_days,
        n_steps,
        trials: trials as u64,
        seed: seed as u64,
        sustain_steps: days_to_steps(sustain_days as f64, step_days),
        discount_rate,
        regions: Vec::new(),
        materials: Vec::new(),
        material_order: Vec::new(),
        material_suppliers: Vec::new(),
        suppliers: Vec::new(),
        importers: Vec::new(),
        slots: Vec::new(),
        edges: Vec::new(),
        slot_edges: Vec::new(),
        spot_links: Vec::new(),
        routes: Vec::new(),
        pipes: Vec::new(),
        shocks: Vec::new(),
        pools: Vec::new(),
    }
}
