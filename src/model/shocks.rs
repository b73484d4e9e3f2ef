//! Shocks: what each hits, when it fires, how long and how hard, and what it triggers.

use std::ops::Range;

use super::ck::{Ck, IdTables, Ids};
use super::distributions::compile_dist;
use super::network::{days_to_steps, Model, Shock, ShockIdx, ShockKind, Target, Timing, Trigger};
use super::targets::{ban_flows, select_targets};
use crate::diag::did_you_mean;
use crate::dist::Dist;
use crate::scenario::{RawScenario, RawShock, Spanned};

/// Poisson shocks arrive at most once a day on average.
const MAX_RATE_PER_YEAR: f64 = 365.0;

/// Declare the shocks, add those that compile to the model and check their trigger chains.
pub(super) fn compile_shocks(raw: &RawScenario, ck: &mut Ck, model: &mut Model, ids: &IdTables) {
    let mut shock_ids = Ids::new("shock");
    for (i, s) in raw.shock.iter().enumerate() {
        shock_ids.declare(ck, &s.get_ref().id, &format!("shock[{i}].id"));
    }
    for (i, rs) in raw.shock.iter().enumerate() {
        if let Some(shock) = compile_shock(ck, model, ids, &shock_ids, rs, i) {
            model.shocks.push(shock);
        }
    }
    check_trigger_cycles(ck, model, raw);
}

fn compile_shock(
    ck: &mut Ck,
    model: &Model,
    ids: &IdTables,
    shock_ids: &Ids,
    rs: &Spanned<RawShock>,
    i: usize,
) -> Option<Shock> {
    let span = rs.span();
    let r = rs.get_ref();
    let key = format!("shock[{i}]");
    let kind = shock_kind(ck, r, &key)?;
    let elements = select_targets(ck, model, ids, r, &key, kind)?;
    let elements = ban_flows(ck, model, ids, r, &key, kind, elements)?;
    let timing = timing(ck, r, &key, span.clone(), model);
    let duration_days = duration(ck, r, &key, span, &timing);
    let severity = severity(ck, r, &key, kind);
    let recovery_steps = recovery_steps(ck, r, &key, model.step_days);
    let triggers = triggers(ck, r, &key, shock_ids, model.step_days);
    let independent = r.independent.as_ref().is_some_and(|b| *b.get_ref());
    Some(Shock {
        id: r.id.get_ref().clone(),
        name: r.name.clone().unwrap_or_else(|| r.id.get_ref().clone()),
        kind,
        timing,
        duration_days,
        severity: severity?,
        recovery_steps,
        triggers,
        instances: instances(elements, independent),
        enabled: true,
    })
}

fn shock_kind(ck: &mut Ck, r: &RawShock, key: &str) -> Option<ShockKind> {
    match ShockKind::parse(r.kind.get_ref()) {
        Some(k) => Some(k),
        None => {
            let hint = match did_you_mean(r.kind.get_ref(), ShockKind::NAMES.iter().copied()) {
                Some(b) => format!("did you mean \"{b}\"?"),
                None => format!("one of: {}", ShockKind::NAMES.join(", ")),
            };
            ck.err(
                r.kind.span(),
                format!("{key}.kind"),
                format!("unknown shock kind \"{}\"", r.kind.get_ref()),
                hint,
            );
            None
        }
    }
}

/// One of: Poisson arrivals, a Markov chain, a fixed day; with none, the shock waits for a trigger.
fn timing(ck: &mut Ck, r: &RawShock, key: &str, span: Range<usize>, model: &Model) -> Timing {
    let step_days = model.step_days;
    let mut timings = Vec::new();
    if let Some(rate) = &r.rate_per_year {
        let mut x = ck.nonneg(
            rate,
            &format!("{key}.rate_per_year"),
            "expected events per year, e.g. 0.15",
        );
        if x > MAX_RATE_PER_YEAR {
            ck.err(rate.span(), format!("{key}.rate_per_year"), format!("{} events per year is more than one a day ({MAX_RATE_PER_YEAR} per year at most)", crate::diag::num(x)), "for a near-permanent disruption use at_day = 0 with a long duration_days, or a markov process");
            x = 0.0;
        }
        timings.push(Timing::Poisson {
            rate_per_day: x / 365.0,
        });
    }
    if let Some(mk) = &r.markov {
        let m = mk.get_ref();
        let down = ck.fraction(
            &m.down,
            &format!("{key}.markov.down"),
            "probability per step",
        );
        let up = ck.fraction(&m.up, &format!("{key}.markov.up"), "probability per step");
        timings.push(Timing::Markov { down, up });
    }
    if let Some(at) = &r.at_day {
        let x = ck.nonneg(at, &format!("{key}.at_day"), "day of the event, from 0");
        if x >= model.horizon_days as f64 {
            ck.err(
                at.span(),
                format!("{key}.at_day"),
                format!(
                    "day {x} is beyond the horizon ({} days)",
                    model.horizon_days
                ),
                "use a day inside the horizon",
            );
        }
        timings.push(Timing::At {
            step: (x / step_days as f64).floor() as u32,
        });
    }
    if timings.len() > 1 {
        ck.err(
            span,
            key,
            "a shock has one timing: rate_per_year, markov or at_day",
            "keep one of them; use triggers to chain events",
        );
    }
    timings.pop().unwrap_or(Timing::Triggered)
}

/// How long an event lasts, in days; None for Markov shocks (and when wrong, reported).
fn duration(
    ck: &mut Ck,
    r: &RawShock,
    key: &str,
    span: Range<usize>,
    timing: &Timing,
) -> Option<Dist> {
    match (timing, &r.duration_days) {
        (Timing::Markov { .. }, Some(d)) => {
            ck.err(
                d.span(),
                format!("{key}.duration_days"),
                "a Markov shock's duration follows from `markov.up`",
                "remove duration_days, or use rate_per_year instead of markov",
            );
            None
        }
        (Timing::Markov { .. }, None) => None,
        (_, None) => {
            ck.err(span, format!("{key}.duration_days"), "missing duration_days", "e.g. duration_days = { dist = \"lognormal\", median = 60, p95 = 365 }, or a fixed number of days");
            None
        }
        (_, Some(d)) => compile_dist(
            ck,
            d,
            &format!("{key}.duration_days"),
            (0.0, f64::INFINITY),
            "days",
        ),
    }
}

/// How hard an event hits: a fraction removed, or extra demand for a surge.
fn severity(ck: &mut Ck, r: &RawShock, key: &str, kind: ShockKind) -> Option<Dist> {
    match &r.severity {
        None => Dist::fixed(1.0).ok(),
        Some(s) if kind == ShockKind::RouteClosure => {
            ck.err(
                s.span(),
                format!("{key}.severity"),
                "a route is either open or closed: route_closure takes no severity",
                "remove severity",
            );
            None
        }
        Some(s) => {
            let range = if kind == ShockKind::DemandSurge {
                (0.0, f64::INFINITY)
            } else {
                (0.0, 1.0)
            };
            compile_dist(
                ck,
                s,
                &format!("{key}.severity"),
                range,
                if kind == ShockKind::DemandSurge {
                    "extra demand as a fraction (0.3 = +30%)"
                } else {
                    "a fraction of capacity or flow removed, 0..1"
                },
            )
        }
    }
}

/// The longest recovery: 100 years, the longest horizon.
const MAX_RECOVERY_DAYS: f64 = 36_500.0;

/// The most events one event may set off through trigger chains, itself included.
const MAX_CHAIN_EVENTS: u64 = 10_000;

/// Steps to ramp back to full service after an event ends.
fn recovery_steps(ck: &mut Ck, r: &RawShock, key: &str, step_days: u32) -> u32 {
    match &r.recovery {
        None => 0,
        Some(rec) => {
            let rr = rec.get_ref();
            let shape = rr.shape.as_ref().map_or("linear", |s| s.get_ref().as_str());
            if !matches!(shape, "linear" | "step") {
                let sp = rr.shape.as_ref().map_or(rec.span(), |s| s.span());
                ck.err(
                    sp,
                    format!("{key}.recovery.shape"),
                    format!("unknown recovery shape \"{shape}\""),
                    "use \"linear\" (severity ramps down over `days`) or \"step\" (back at once)",
                );
            }
            let days = ck.opt_nonneg(
                &rr.days,
                &format!("{key}.recovery.days"),
                0.0,
                "days to ramp back to full service",
            );
            if days > MAX_RECOVERY_DAYS {
                if let Some(v) = &rr.days {
                    ck.err(
                        v.span(),
                        format!("{key}.recovery.days"),
                        format!(
                            "a recovery of {} days is longer than 100 years",
                            crate::diag::num(days)
                        ),
                        format!("use at most {MAX_RECOVERY_DAYS} days: the days from the end of the event back to full service"),
                    );
                }
            }
            let days = days.min(MAX_RECOVERY_DAYS);
            if shape == "step" {
                0
            } else {
                days_to_steps(days, step_days)
            }
        }
    }
}

/// The shocks an event may set off.
fn triggers(ck: &mut Ck, r: &RawShock, key: &str, shock_ids: &Ids, step_days: u32) -> Vec<Trigger> {
    let mut triggers = Vec::new();
    for (j, tr) in r.triggers.iter().enumerate() {
        let t = tr.get_ref();
        let k = format!("{key}.triggers[{j}]");
        let target = shock_ids.resolve(ck, &t.shock, tr.span(), &format!("{k}.shock"));
        let p = ck.fraction(&t.probability, &format!("{k}.probability"), "probability");
        let lag = ck.opt_nonneg(
            &t.lag_days,
            &format!("{k}.lag_days"),
            0.0,
            "days between the parent's start and this event",
        );
        if let Some(ti) = target {
            triggers.push(Trigger {
                shock: ShockIdx(ti),
                probability: p,
                lag_steps: (lag / step_days as f64).round() as u32,
            });
        }
    }
    triggers
}

/// One instance per element for an independent shock; one instance of them all otherwise.
fn instances(elements: Vec<Target>, independent: bool) -> Vec<Target> {
    if independent {
        elements
    } else {
        let mut all = Target::default();
        for e in elements {
            all.suppliers.extend(e.suppliers);
            all.edges.extend(e.edges);
            all.spot_links.extend(e.spot_links);
            all.routes.extend(e.routes);
            all.slots.extend(e.slots);
        }
        vec![all]
    }
}

/// Shocks with no timing must be triggered by another; trigger chains may not loop.
fn check_trigger_cycles(ck: &mut Ck, model: &Model, raw: &RawScenario) {
    if model.shocks.len() != raw.shock.len() {
        return; // some shocks failed to compile; indices would not line up
    }
    let n = model.shocks.len();
    let mut triggered = vec![false; n];
    for s in &model.shocks {
        for t in &s.triggers {
            triggered[t.shock.ix()] = true;
        }
    }
    for (i, s) in model.shocks.iter().enumerate() {
        if matches!(s.timing, Timing::Triggered) && !triggered[i] {
            ck.err(raw.shock[i].span(), format!("shock[{i}]"), format!("shock `{}` never fires: it has no timing and no shock triggers it", s.id), "add rate_per_year, markov = { down, up } or at_day, or trigger it from another shock");
        }
    }
    // Depth-first search for a cycle.
    let mut state = vec![0u8; n];
    fn dfs(
        i: usize,
        model: &Model,
        state: &mut [u8],
        stack: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = 1;
        stack.push(i);
        for t in &model.shocks[i].triggers {
            let j = t.shock.ix();
            if state[j] == 1 {
                let pos = stack.iter().position(|&x| x == j).unwrap();
                return Some(stack[pos..].to_vec());
            }
            if state[j] == 0 {
                if let Some(c) = dfs(j, model, state, stack) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        state[i] = 2;
        None
    }
    for i in 0..n {
        if state[i] == 0 {
            if let Some(cycle) = dfs(i, model, &mut state, &mut Vec::new()) {
                let names: Vec<&str> = cycle.iter().map(|&c| model.shocks[c].id.as_str()).collect();
                ck.err(
                    raw.shock[cycle[0]].span(),
                    format!("shock[{}].triggers", cycle[0]),
                    format!(
                        "triggers form a loop: {} -> {}",
                        names.join(" -> "),
                        names[0]
                    ),
                    "a shock cannot, directly or indirectly, trigger itself: remove one trigger",
                );
                return;
            }
        }
    }
    check_trigger_fan_out(ck, model, raw);
}

/// With no loops, an event of shock `i` sets off at most one event per path of triggers from
/// `i`: bound that count, so a chain cannot blow up a trial's memory.
fn check_trigger_fan_out(ck: &mut Ck, model: &Model, raw: &RawScenario) {
    fn events(i: usize, model: &Model, memo: &mut [Option<u64>]) -> u64 {
        if let Some(n) = memo[i] {
            return n;
        }
        let mut n = 1u64;
        for t in &model.shocks[i].triggers {
            n = n.saturating_add(events(t.shock.ix(), model, memo));
        }
        memo[i] = Some(n);
        n
    }
    let mut memo = vec![None; model.shocks.len()];
    for i in 0..model.shocks.len() {
        let n = events(i, model, &mut memo);
        if n > MAX_CHAIN_EVENTS {
            ck.err(
                raw.shock[i].span(),
                format!("shock[{i}].triggers"),
                format!(
                    "one event of `{}` can set off {} events through its trigger chains (at most {MAX_CHAIN_EVENTS})",
                    model.shocks[i].id,
                    if n == u64::MAX { "more than 10^19".to_owned() } else { n.to_string() }
                ),
                "chains fan out when several shocks trigger the same ones in turn: trigger one shock per stage, or merge shocks that always fire together",
            );
            return;
        }
    }
}
