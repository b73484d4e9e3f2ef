//! Strategies: named change sets applied to the baseline scenario, each compiled to its own model.
//!
//! Changes edit the raw scenario, so a strategy is checked by exactly the rules that check the
//! baseline, and its errors point at the strategy's own lines.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ck::Ck;
use super::compile::compile;
use super::network::{Model, Owner, Slot, SlotIdx};
use crate::diag::{did_you_mean, Diagnostic, SourceFile};
use crate::scenario::{RawChange, RawPool, RawScenario, RawStockpile, Spanned};

/// The baseline and the strategies to compare with it.
#[derive(Debug, Clone)]
pub struct Study {
    pub baseline: Model,
    pub strategies: Vec<Strategy>,
    /// `[[expect]]`: the observed bands a replay compares with (`replay`).
    pub expects: Vec<super::Expect>,
}

#[derive(Debug, Clone)]
pub struct Strategy {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub model: Model,
    pub cost: Cost,
}

/// A strategy's yearly cost, in the scenario's currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Holding cost of the stock added over the baseline.
    pub carrying: f64,
    /// Price premium on the volume moved between suppliers.
    pub premium: f64,
    /// Declared fixed yearly cost.
    pub fixed: f64,
    pub total: f64,
    /// Who pays what of `total`, per importer id: each importer its own stock and switch and
    /// its part of a pool's stock (by its use); the rest (the fixed cost, stock held at
    /// suppliers) by the declared `paid_by` shares.
    pub by_importer: BTreeMap<String, f64>,
    /// The part no importer pays: without `paid_by`, the fixed cost and stock held at suppliers.
    pub unassigned: f64,
}

pub type ChangeSet = Vec<Spanned<RawChange>>;

pub(crate) fn compile_strategies(
    raw: &RawScenario,
    src: &SourceFile,
    baseline: Option<&Model>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Strategy> {
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, rs) in raw.strategy.iter().enumerate() {
        let s = rs.get_ref();
        let key = format!("strategy[{i}]");
        if seen.insert(s.id.get_ref().clone(), i).is_some() {
            diags.push(
                Diagnostic::error(
                    src,
                    s.id.span(),
                    format!("{key}.id"),
                    format!("duplicate strategy id `{}`", s.id.get_ref()),
                )
                .with_hint("every strategy needs its own id"),
            );
        }
        if s.id.get_ref() == "baseline" {
            diags.push(
                Diagnostic::error(
                    src,
                    s.id.span(),
                    format!("{key}.id"),
                    "`baseline` is reserved for the unchanged scenario",
                )
                .with_hint("choose another id"),
            );
        }
        let prefix = format!("{key}({}).", s.id.get_ref());
        let mut ck = Ck {
            src,
            diags: Vec::new(),
            prefix: &prefix,
        };
        if s.changes.is_empty() {
            ck.err(
                rs.span(),
                "changes",
                "a strategy needs at least one change",
                "e.g. changes = [{ importer = \"japan\", stockpile.ree_oxide = { days = 90 } }]",
            );
        }
        let edited = apply_changes(raw, &s.changes, &mut ck);
        let mut cost_parts = (0.0, 0.0, 0.0);
        let mut paid_by = BTreeMap::new();
        if let Some(c) = &s.cost {
            paid_by = payers(c.get_ref(), &raw.importer, &mut ck);
            let c = c.get_ref();
            cost_parts = (
                c.carry_rate
                    .as_ref()
                    .map_or(0.0, |v| ck_nonneg(&mut ck, v, "cost.carry_rate")),
                c.premium
                    .as_ref()
                    .map_or(0.0, |v| ck_nonneg(&mut ck, v, "cost.premium")),
                c.per_year
                    .as_ref()
                    .map_or(0.0, |v| ck_nonneg(&mut ck, v, "cost.per_year")),
            );
        }
        let mut local = ck.diags;
        if local.iter().any(Diagnostic::is_error) {
            diags.append(&mut local);
            continue;
        }
        if baseline.is_none() {
            // The baseline's own errors would only repeat here, once per strategy.
            diags.append(&mut local);
            continue;
        }
        let (model, mut more) = compile(&edited, src, &prefix);
        // The edited scenario repeats the baseline's warnings; keep only its errors.
        more.retain(Diagnostic::is_error);
        diags.append(&mut local);
        diags.append(&mut more);
        if let (Some(model), Some(base)) = (model, baseline) {
            let mut cost = yearly_cost(base, &model, cost_parts);
            if !paid_by.is_empty() {
                for (id, share) in paid_by {
                    *cost.by_importer.entry(id).or_default() += cost.unassigned * share;
                }
                cost.unassigned = 0.0;
            }
            out.push(Strategy {
                id: s.id.get_ref().clone(),
                name: s.name.clone().unwrap_or_else(|| s.id.get_ref().clone()),
                description: s.description.clone(),
                model,
                cost,
            });
        }
    }
    out
}

/// `cost.paid_by`: the declared shares of the cost no importer bears of itself, checked (known
/// importers, non-negative, adding up to 1).
fn payers(
    c: &crate::scenario::RawCost,
    importers: &[Spanned<crate::scenario::RawImporter>],
    ck: &mut Ck,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut sum = 0.0;
    for (id, share) in &c.paid_by {
        let key = format!("cost.paid_by.{id}");
        if !importers.iter().any(|i| i.get_ref().id.get_ref() == id) {
            let known: Vec<&str> = importers
                .iter()
                .map(|i| i.get_ref().id.get_ref().as_str())
                .collect();
            ck.err(
                share.span(),
                &key,
                format!("unknown importer `{id}`"),
                match did_you_mean(id, known.iter().copied()) {
                    Some(b) => format!("did you mean `{b}`?"),
                    None => format!("the payers are importers: {}", known.join(", ")),
                },
            );
            continue;
        }
        let v = ck_nonneg(ck, share, &key);
        sum += v;
        out.insert(id.clone(), v);
    }
    if let (Some((_, first)), false) = (c.paid_by.iter().next(), (sum - 1.0).abs() <= 1e-9) {
        if !out.is_empty() {
            ck.err(
                first.span(),
                "cost.paid_by",
                format!("the shares add up to {sum}, not 1"),
                "each payer's share of the fixed cost and of stock held at suppliers, e.g. \
                 paid_by = { japan = 0.5, eu = 0.5 }",
            );
        }
    }
    out
}

fn ck_nonneg(ck: &mut Ck, v: &Spanned<f64>, key: &str) -> f64 {
    ck.nonneg(v, key, "costs are yearly amounts or fractions")
}

/// Apply a change set to a copy of the raw scenario. Problems (unknown targets, keys that do not
/// apply to the selected kind) are reported through `ck`.
pub(crate) fn apply_changes(
    raw: &RawScenario,
    changes: &[Spanned<RawChange>],
    ck: &mut Ck,
) -> RawScenario {
    let mut out = raw.clone();
    for (j, ch) in changes.iter().enumerate() {
        let key = format!("changes[{j}]");
        let c = ch.get_ref();
        let selectors = [
            c.importer.is_some(),
            c.supplier.is_some(),
            c.shock.is_some(),
            c.route.is_some(),
            c.pool.is_some(),
        ];
        if selectors.iter().filter(|&&b| b).count() != 1 {
            ck.err(
                ch.span(),
                &key,
                "a change needs exactly one of importer, supplier, shock, route or pool",
                "e.g. { importer = \"japan\", stockpile.ree_oxide = { days = 90 } }",
            );
            continue;
        }
        let (kind, allowed) = if let Some(id) = &c.importer {
            ("an importer", change_importer(&mut out, ch, id, &key, ck))
        } else if let Some(id) = &c.supplier {
            ("a supplier", change_supplier(&mut out, ch, id, &key, ck))
        } else if let Some(id) = &c.shock {
            ("a shock", change_shock(&mut out, ch, id, &key, ck))
        } else if let Some(id) = &c.route {
            ("a route", change_route(&mut out, ch, id, &key, ck))
        } else if let Some(id) = &c.pool {
            ("a pool", change_pool(&mut out, ch, id, &key, ck))
        } else {
            unreachable!("one selector checked above");
        };
        if let Some(allowed) = allowed {
            check_keys_apply(ch, &key, kind, allowed, ck);
        }
    }
    out
}

/// Every key a change sets must be one its `kind` of element can change.
fn check_keys_apply(ch: &Spanned<RawChange>, key: &str, kind: &str, allowed: &[&str], ck: &mut Ck) {
    let c = ch.get_ref();
    let mut used: Vec<&str> = Vec::new();
    macro_rules! mark {
            ($($f:ident),*) => {$( if c.$f.is_some() { used.push(stringify!($f)); } )*};
        }
    mark!(
        demand,
        sourcing,
        switch_days,
        stockpile,
        recycling,
        capacity,
        spare,
        ramp_days,
        stock_days,
        priority_regions,
        rate_per_year,
        severity,
        duration_days,
        enabled,
        lead_days,
        members,
        material,
        days,
        refill_days,
        refill_below,
        release_above
    );
    for u in used {
        if !allowed.contains(&u) {
            ck.err(
                ch.span(),
                format!("{key}.{u}"),
                format!("`{u}` cannot be changed on {kind}"),
                format!("keys for {kind}: {}", allowed.join(", ")),
            );
        }
    }
}

/// Apply one change to an importer; returns the keys an importer can change, or None when the change could
/// not be applied (reported).
fn change_importer(
    out: &mut RawScenario,
    ch: &Spanned<RawChange>,
    id: &Spanned<String>,
    key: &str,
    ck: &mut Ck,
) -> Option<&'static [&'static str]> {
    let c = ch.get_ref();
    let allowed: &[&str] = &[
        "demand",
        "sourcing",
        "switch_days",
        "stockpile",
        "recycling",
    ];
    let i = find(
        ck,
        out.importer
            .iter()
            .map(|x| x.get_ref().id.get_ref().as_str()),
        id,
        &format!("{key}.importer"),
        "importer",
    )?;
    let imp = out.importer[i].get_mut();
    if let Some(d) = &c.demand {
        imp.demand.extend(d.clone());
    }
    if let Some(s) = &c.sourcing {
        imp.sourcing.extend(s.clone());
    }
    if let Some(s) = &c.switch_days {
        imp.switch_days = Some(s.clone());
    }
    if let Some(sp) = &c.stockpile {
        for (m, new) in sp {
            let merged = match imp.stockpile.get(m) {
                Some(old) => {
                    Spanned::new(new.span(), merge_stockpile(old.get_ref(), new.get_ref()))
                }
                None => new.clone(),
            };
            imp.stockpile.insert(m.clone(), merged);
        }
    }
    if let Some(r) = &c.recycling {
        imp.recycling.extend(r.clone());
    }
    Some(allowed)
}

/// Apply one change to a supplier; returns the keys a supplier can change, or None when the change could
/// not be applied (reported).
fn change_supplier(
    out: &mut RawScenario,
    ch: &Spanned<RawChange>,
    id: &Spanned<String>,
    key: &str,
    ck: &mut Ck,
) -> Option<&'static [&'static str]> {
    let c = ch.get_ref();
    let allowed: &[&str] = &[
        "capacity",
        "spare",
        "ramp_days",
        "stock_days",
        "sourcing",
        "priority_regions",
    ];
    let i = find(
        ck,
        out.supplier
            .iter()
            .map(|x| x.get_ref().id.get_ref().as_str()),
        id,
        &format!("{key}.supplier"),
        "supplier",
    )?;
    let sup = out.supplier[i].get_mut();
    if let Some(v) = &c.capacity {
        sup.capacity = v.clone();
    }
    if let Some(v) = &c.spare {
        sup.spare = Some(v.clone());
    }
    if let Some(v) = &c.ramp_days {
        sup.ramp_days = Some(v.clone());
    }
    if let Some(v) = &c.stock_days {
        sup.stock_days.extend(v.clone());
    }
    if let Some(v) = &c.sourcing {
        sup.sourcing.extend(v.clone());
    }
    if let Some(v) = &c.priority_regions {
        sup.priority_regions = v.clone();
    }
    Some(allowed)
}

/// Apply one change to a shock; returns the keys a shock can change, or None when the change could
/// not be applied (reported).
fn change_shock(
    out: &mut RawScenario,
    ch: &Spanned<RawChange>,
    id: &Spanned<String>,
    key: &str,
    ck: &mut Ck,
) -> Option<&'static [&'static str]> {
    let c = ch.get_ref();
    let allowed: &[&str] = &["rate_per_year", "severity", "duration_days", "enabled"];
    let i = find(
        ck,
        out.shock.iter().map(|x| x.get_ref().id.get_ref().as_str()),
        id,
        &format!("{key}.shock"),
        "shock",
    )?;
    if c.enabled.as_ref().is_some_and(|e| !*e.get_ref()) {
        // A disabled shock keeps its place (so trial streams stay aligned) but never fires.
        let s = out.shock[i].get_mut();
        s.rate_per_year = Some(Spanned::new(id.span(), 0.0));
        s.markov = None;
        s.at_day = None;
        s.triggers.clear();
        if s.duration_days.is_none() {
            s.duration_days = Some(Spanned::new(
                id.span(),
                crate::scenario::RawDist::Fixed(1.0),
            ));
        }
    }
    let s = out.shock[i].get_mut();
    if let Some(v) = &c.rate_per_year {
        if s.rate_per_year.is_none() {
            ck.err(
                v.span(),
                format!("{key}.rate_per_year"),
                format!("shock `{}` is not a Poisson shock", id.get_ref()),
                "only shocks timed by rate_per_year can change their rate",
            );
        }
        s.rate_per_year = Some(v.clone());
    }
    if let Some(v) = &c.severity {
        s.severity = Some(v.clone());
    }
    if let Some(v) = &c.duration_days {
        s.duration_days = Some(v.clone());
    }
    Some(allowed)
}

/// Apply one change to a route; returns the keys a route can change, or None when the change could
/// not be applied (reported).
fn change_route(
    out: &mut RawScenario,
    ch: &Spanned<RawChange>,
    id: &Spanned<String>,
    key: &str,
    ck: &mut Ck,
) -> Option<&'static [&'static str]> {
    let c = ch.get_ref();
    let allowed: &[&str] = &["lead_days"];
    let i = find(
        ck,
        out.route.iter().map(|x| x.get_ref().id.get_ref().as_str()),
        id,
        &format!("{key}.route"),
        "route",
    )?;
    if let Some(v) = &c.lead_days {
        out.route[i].get_mut().lead_days = Some(v.clone());
    }
    Some(allowed)
}

/// Apply one change to a pool; returns the keys a pool can change, or None when the change could
/// not be applied (reported).
fn change_pool(
    out: &mut RawScenario,
    ch: &Spanned<RawChange>,
    id: &Spanned<String>,
    key: &str,
    ck: &mut Ck,
) -> Option<&'static [&'static str]> {
    let c = ch.get_ref();
    let allowed: &[&str] = &[
        "members",
        "material",
        "days",
        "refill_days",
        "refill_below",
        "release_above",
    ];
    match out
        .pool
        .iter()
        .position(|p| p.get_ref().id.get_ref() == id.get_ref())
    {
        Some(i) => {
            let p = out.pool[i].get_mut();
            if let Some(v) = &c.members {
                p.members = v.clone();
            }
            if let Some(v) = &c.material {
                p.material = v.clone();
            }
            if let Some(v) = &c.days {
                p.days = v.clone();
            }
            if let Some(v) = &c.refill_days {
                p.refill_days = Some(v.clone());
            }
            if let Some(v) = &c.refill_below {
                p.refill_below = Some(v.clone());
            }
            if let Some(v) = &c.release_above {
                p.release_above = Some(v.clone());
            }
        }
        None => {
            // A new pool.
            let (Some(members), Some(material), Some(days)) = (&c.members, &c.material, &c.days)
            else {
                ck.err(ch.span(), key, format!("new pool `{}` needs members, material and days", id.get_ref()), "e.g. { pool = \"jp_eu_ree\", members = [\"japan\", \"eu\"], material = \"ree_oxide\", days = 60 }");
                return None;
            };
            out.pool.push(Spanned::new(
                ch.span(),
                RawPool {
                    id: id.clone(),
                    name: None,
                    members: members.clone(),
                    material: material.clone(),
                    days: days.clone(),
                    refill_days: c.refill_days.clone(),
                    refill_below: c.refill_below.clone(),
                    release_above: c.release_above.clone(),
                },
            ));
        }
    }
    Some(allowed)
}

fn merge_stockpile(old: &RawStockpile, new: &RawStockpile) -> RawStockpile {
    RawStockpile {
        days: new.days.clone().or_else(|| old.days.clone()),
        initial_days: new.initial_days.clone().or_else(|| {
            // Raising the target raises the starting stock with it unless the old one was set apart.
            if new.days.is_some() {
                None
            } else {
                old.initial_days.clone()
            }
        }),
        refill_days: new.refill_days.clone().or_else(|| old.refill_days.clone()),
        refill: new.refill.clone().or_else(|| old.refill.clone()),
        release_above: new
            .release_above
            .clone()
            .or_else(|| old.release_above.clone()),
        refill_below: new
            .refill_below
            .clone()
            .or_else(|| old.refill_below.clone()),
    }
}

/// The position of `id` among `ids` (the scenario's elements of one kind); an unknown id is
/// reported, with the closest known one.
fn find<'a>(
    ck: &mut Ck,
    ids: impl Iterator<Item = &'a str> + Clone,
    id: &Spanned<String>,
    key: &str,
    kind: &str,
) -> Option<usize> {
    if let Some(i) = ids.clone().position(|x| x == id.get_ref()) {
        return Some(i);
    }
    let hint = match did_you_mean(id.get_ref(), ids) {
        Some(b) => format!("did you mean `{b}`?"),
        None => format!("the strategy must change a {kind} declared in the scenario"),
    };
    ck.err(
        id.span(),
        key,
        format!("unknown {kind} `{}`", id.get_ref()),
        hint,
    );
    None
}

/// Yearly cost of a strategy relative to the baseline.
fn yearly_cost(base: &Model, strat: &Model, (carry_rate, premium, fixed): (f64, f64, f64)) -> Cost {
    let steps_per_year = 365.0 / base.step_days as f64;
    let slot_key = |m: &Model, s: usize| -> (String, String) { m.slot_label(SlotIdx(s as u32)) };
    let base_slots: BTreeMap<(String, String), usize> = (0..base.slots.len())
        .map(|s| (slot_key(base, s), s))
        .collect();
    let mut carrying = 0.0;
    let mut moved_value = 0.0;
    // Per importer (None: a supplier's stock): carrying and moved value, before the rates.
    let mut parts: BTreeMap<Option<String>, (f64, f64)> = BTreeMap::new();
    for (si, slot) in strat.slots.iter().enumerate() {
        let value = strat.materials[slot.material.ix()].value;
        let Some(&bi) = base_slots.get(&slot_key(strat, si)) else {
            continue;
        };
        let b = &base.slots[bi];
        let payer = match slot.owner {
            Owner::Importer(i) => Some(strat.importers[i.ix()].id.clone()),
            Owner::Supplier(_) => None,
        };
        let added = (slot.stock_target - b.stock_target).max(0.0) * value;
        carrying += added;
        parts.entry(payer.clone()).or_default().0 += added;
        if let Owner::Importer(_) = slot.owner {
            let shares = |m: &Model, s: &Slot| -> BTreeMap<String, f64> {
                s.in_edges
                    .clone()
                    .map(|e| {
                        let e = &m.edges[m.slot_edges[e as usize].ix()];
                        (m.suppliers[e.supplier.ix()].id.clone(), e.share)
                    })
                    .collect()
            };
            let (new, old) = (shares(strat, slot), shares(base, b));
            let moved: f64 = new
                .iter()
                .map(|(k, v)| (v - old.get(k).copied().unwrap_or(0.0)).max(0.0))
                .sum();
            let mv = moved * slot.nominal_use * (1.0 - slot.recycled) * steps_per_year * value;
            moved_value += mv;
            parts.entry(payer).or_default().1 += mv;
        }
    }
    let base_pools = pool_targets(base);
    for p in &strat.pools {
        let old = base_pools.get(p.id.as_str()).copied().unwrap_or(0.0);
        let added = (p.stock_target - old).max(0.0) * strat.materials[p.material.ix()].value;
        carrying += added;
        // Members share the pool's stock by their use of its material.
        let use_of = |s: &SlotIdx| strat.slots[s.ix()].nominal_use;
        let all: f64 = p.slots.iter().map(use_of).sum();
        for s in &p.slots {
            if let Owner::Importer(i) = strat.slots[s.ix()].owner {
                let share = if all > 0.0 {
                    use_of(s) / all
                } else {
                    1.0 / p.slots.len() as f64
                };
                let id = strat.importers[i.ix()].id.clone();
                parts.entry(Some(id)).or_default().0 += added * share;
            }
        }
    }
    let mut by_importer = BTreeMap::new();
    let mut unassigned = fixed;
    for (who, (c, m)) in parts {
        let v = c * carry_rate + m * premium;
        match who {
            Some(id) if v > 0.0 => {
                by_importer.insert(id, v);
            }
            Some(_) => {}
            None => unassigned += v,
        }
    }
    let carrying = carrying * carry_rate;
    let premium = moved_value * premium;
    Cost {
        carrying,
        premium,
        fixed,
        total: carrying + premium + fixed,
        by_importer,
        unassigned,
    }
}

/// Each pool's stock target, by id.
fn pool_targets(m: &Model) -> BTreeMap<&str, f64> {
    m.pools
        .iter()
        .map(|p| (p.id.as_str(), p.stock_target))
        .collect()
}

/// The value of the stock `strat` holds over `base` (negative where it holds less): every
/// importer and supplier stock target and every pool, matched by owner and material, at the
/// material's value. What a sweep of stock days carries.
pub fn stock_value_change(base: &Model, strat: &Model) -> f64 {
    let slot_key = |m: &Model, s: usize| -> (String, String) { m.slot_label(SlotIdx(s as u32)) };
    let base_slots: BTreeMap<(String, String), f64> = (0..base.slots.len())
        .map(|s| (slot_key(base, s), base.slots[s].stock_target))
        .collect();
    let mut change = 0.0;
    for (si, slot) in strat.slots.iter().enumerate() {
        let old = base_slots.get(&slot_key(strat, si)).copied().unwrap_or(0.0);
        change += (slot.stock_target - old) * strat.materials[slot.material.ix()].value;
    }
    let base_pools = pool_targets(base);
    for p in &strat.pools {
        let old = base_pools.get(p.id.as_str()).copied().unwrap_or(0.0);
        change += (p.stock_target - old) * strat.materials[p.material.ix()].value;
    }
    change
}

/// Compile the baseline with `changes` applied (a sweep value, or an ad-hoc variant). Problems
/// come back as diagnostics prefixed with `label`.
pub fn variant(
    raw: &RawScenario,
    src: &SourceFile,
    changes: &[Spanned<RawChange>],
    label: &str,
) -> Result<Model, crate::diag::Diagnostics> {
    let prefix = format!("{label}: ");
    let mut ck = Ck {
        src,
        diags: Vec::new(),
        prefix: &prefix,
    };
    let edited = apply_changes(raw, changes, &mut ck);
    let mut diags = ck.diags;
    if !diags.iter().any(Diagnostic::is_error) {
        let (model, more) = compile(&edited, src, &prefix);
        if let Some(m) = model {
            return Ok(m);
        }
        diags.extend(more.into_iter().filter(Diagnostic::is_error));
    }
    Err(crate::diag::Diagnostics(
        diags.into_iter().filter(Diagnostic::is_error).collect(),
    ))
}
