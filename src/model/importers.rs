//! Importers: their demand slots, with stockpiles, recycling and re-sourcing delays.

use super::ck::{check_keys_are, Ck, Ids};
use super::contracts::SlotSource;
use super::network::{
    days_to_steps, Importer, ImporterIdx, MaterialIdx, Model, Owner, RegionIdx, Slot,
    DEFAULT_REFILL_BELOW,
};
use crate::scenario::{self, RawImporter, RawScenario, Spanned};

/// Declare the importers' ids (pools and shocks refer to them).
pub(super) fn declare_importers(raw: &RawScenario, ck: &mut Ck) -> Ids {
    let mut importer_ids = Ids::new("importer");
    for (i, imp) in raw.importer.iter().enumerate() {
        importer_ids.declare(ck, &imp.get_ref().id, &format!("importer[{i}].id"));
    }
    importer_ids
}

/// The region and material ids importers refer to.
pub(super) struct ImporterRefs<'a> {
    pub(super) region: &'a Ids,
    pub(super) material: &'a Ids,
}

/// Add the importers to the model, each with one slot per material it demands. Returns where
/// each slot's sourcing comes from.
pub(super) fn compile_importers<'r>(
    raw: &'r RawScenario,
    ck: &mut Ck,
    model: &mut Model,
    ids: &ImporterRefs,
) -> Vec<SlotSource<'r>> {
    let mut sources = Vec::new();
    for (i, ri) in raw.importer.iter().enumerate() {
        compile_importer(ck, model, ids, i, ri, &mut sources);
    }
    sources
}

/// One importer and its demand slots.
fn compile_importer<'r>(
    ck: &mut Ck,
    model: &mut Model,
    ids: &ImporterRefs,
    i: usize,
    ri: &'r Spanned<RawImporter>,
    sources: &mut Vec<SlotSource<'r>>,
) {
    let per_step = model.step_days as f64 / 365.0;
    let span = ri.span();
    let r = ri.get_ref();
    let key = format!("importer[{i}]");
    let region = ids
        .region
        .resolve(ck, &r.region, span.clone(), &format!("{key}.region"))
        .map(RegionIdx);
    let switch_steps = r.switch_days.as_ref().map(|d| {
        days_to_steps(
            ck.nonneg(
                d,
                &format!("{key}.switch_days"),
                "days to qualify a new supplier",
            ),
            model.step_days,
        )
    });
    if r.demand.is_empty() {
        ck.err(
            span.clone(),
            format!("{key}.demand"),
            format!("importer `{}` demands nothing", r.id.get_ref()),
            "add demand = { material_id = <units per year> }",
        );
    }
    let demanded: Vec<(MaterialIdx, f64)> = r
        .demand
        .iter()
        .filter_map(|(name, d)| {
            let k = format!("{key}.demand.{name}");
            let m = ids.material.resolve_name(ck, name, d.span(), &k)?;
            Some((MaterialIdx(m), ck.nonneg(d, &k, "units per year")))
        })
        .collect();
    let dem_list: Vec<(MaterialIdx, f64)> = demanded.iter().map(|&(m, _)| (m, 1.0)).collect();
    check_keys_are(
        ck,
        &r.sourcing,
        &dem_list,
        &model.materials,
        &format!("{key}.sourcing"),
        "a material this importer demands",
    );
    check_keys_are(
        ck,
        &r.stockpile,
        &dem_list,
        &model.materials,
        &format!("{key}.stockpile"),
        "a material this importer demands",
    );
    check_keys_are(
        ck,
        &r.recycling,
        &dem_list,
        &model.materials,
        &format!("{key}.recycling"),
        "a material this importer demands",
    );
    let start = model.slots.len() as u32;
    for &(m, demand_per_year) in &demanded {
        let mid = &model.materials[m.ix()].id;
        if model.material_suppliers[m.ix()].is_empty() {
            let d = &r.demand[mid];
            ck.err(
                d.span(),
                format!("{key}.demand.{mid}"),
                format!(
                    "importer `{}` demands `{mid}` but no supplier produces it",
                    r.id.get_ref()
                ),
                format!("add a [[supplier]] with material = \"{mid}\", or remove this demand"),
            );
        }
        let demand = demand_per_year * per_step;
        let recycled = r.recycling.get(mid).map_or(0.0, |v| {
            ck.fraction(
                v,
                &format!("{key}.recycling.{mid}"),
                "share of demand met by recycling",
            )
        });
        let (target, initial, refill) = match r.stockpile.get(mid) {
            None => (0.0, 0.0, 0.0),
            Some(sp) => stockpile(
                ck,
                sp,
                &format!("{key}.stockpile.{mid}"),
                demand_per_year / 365.0,
                model.step_days,
            ),
        };
        let (refill_below, release_above) = match r.stockpile.get(mid) {
            None => (DEFAULT_REFILL_BELOW, f64::INFINITY),
            Some(sp) => ck.stock_thresholds(
                sp.get_ref().refill_below.as_ref(),
                sp.get_ref().release_above.as_ref(),
                &format!("{key}.stockpile.{mid}"),
                &model.materials[m.ix()],
            ),
        };
        model.slots.push(Slot {
            owner: Owner::Importer(ImporterIdx(i as u32)),
            material: m,
            region: region.unwrap_or(RegionIdx(0)),
            nominal_use: demand,
            ratio: 1.0,
            stock_target: target,
            stock_initial: initial,
            refill_per_step: refill,
            refill_below,
            release_above,
            pipeline_nominal: 0.0,
            switch_steps,
            recycled,
            pool: None,
            in_edges: 0..0,
            spot_links: 0..0,
        });
        sources.push(SlotSource {
            sourcing: r.sourcing.get(mid),
            key: format!("{key}.sourcing.{mid}"),
            table_span: span.clone(),
            demand_per_step: demand,
        });
    }
    model.importers.push(Importer {
        id: r.id.get_ref().clone(),
        name: importer_name(r),
        region: region.unwrap_or(RegionIdx(0)),
        slots: start..model.slots.len() as u32,
        tags: r.tags.iter().map(|t| t.get_ref().clone()).collect(),
        balancing: r.balancing,
    });
}

fn stockpile(
    ck: &mut Ck,
    sp: &Spanned<scenario::RawStockpile>,
    key: &str,
    demand_per_day: f64,
    step_days: u32,
) -> (f64, f64, f64) {
    let r = sp.get_ref();
    let Some(days) = &r.days else {
        ck.err(
            sp.span(),
            format!("{key}.days"),
            "a stockpile needs `days`",
            "days of demand held, e.g. { days = 60 }",
        );
        return (0.0, 0.0, 0.0);
    };
    let days = ck.nonneg(days, &format!("{key}.days"), "days of demand held");
    let initial = r.initial_days.as_ref().map_or(days, |d| {
        let initial = ck.nonneg(
            d,
            &format!("{key}.initial_days"),
            "days of demand held at the start",
        );
        if initial > days {
            ck.err(
                d.span(),
                format!("{key}.initial_days"),
                format!("a stockpile starts at most full: initial_days = {initial} is above days = {days}"),
                format!("set initial_days to at most {days}, or raise days"),
            );
        }
        initial.min(days)
    });
    let refill_days = r
        .refill_days
        .as_ref()
        .and_then(|d| {
            ck.positive(
                d,
                &format!("{key}.refill_days"),
                "days to refill from empty; use refill = false to never refill",
            )
        })
        .unwrap_or(180.0);
    let refill = r.refill.as_ref().is_none_or(|b| *b.get_ref());
    let target = days * demand_per_day;
    let per_step = if refill {
        target * step_days as f64 / refill_days
    } else {
        0.0
    };
    (target, initial * demand_per_day, per_step)
}

/// The name reports give an importer: its `name` (its id without one), marked "(balancing)"
/// when it stands for every other buyer, so that every table and chart sets it apart.
fn importer_name(r: &RawImporter) -> String {
    let name = r.name.clone().unwrap_or_else(|| r.id.get_ref().clone());
    if r.balancing && !name.ends_with("(balancing)") {
        format!("{name} (balancing)")
    } else {
        name
    }
}
