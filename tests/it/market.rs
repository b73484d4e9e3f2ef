//! Market clearing against its closed forms (`docs/model.md`, "Markets").

use proptest::prelude::*;
use supplyshock::market::{consumer_loss, extra_spend, Clearing, Curve};

const CURVE: Curve = Curve {
    demand_elasticity: 0.15,
    supply_elasticity: 0.05,
    supply_elasticity_below: 0.05,
    min_price: 0.5,
    max_price: 8.0,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// One class, demand D0 = 1 at the reference price, supply cut by s: (1 - s) D0 x^es = D0
/// x^-ed, so x = (1 - s)^(-1 / (ed + es)); everything demanded at that price is bought.
#[test]
fn a_supply_cut_raises_the_price_to_the_closed_form() {
    for s in [0.0, 0.05, 0.2, 0.3] {
        let mut m = Clearing::default();
        m.reset(1);
        m.class(0, 1.0, 0.0);
        let p = m.portion(1, 1.0 - s, f64::INFINITY);
        m.solve(&CURVE);
        let want = (1.0 - s).powf(-1.0 / (CURVE.demand_elasticity + CURVE.supply_elasticity));
        assert!(close(m.price(0), want), "s {s}: {} vs {want}", m.price(0));
        assert_eq!(m.fill(0), 1.0);
        assert!(close(m.sold(p).0, m.bought(0, &CURVE)));
        assert!(close(
            m.bought(0, &CURVE),
            want.powf(-CURVE.demand_elasticity)
        ));
    }
}

/// A cut deep enough that the clearing price would pass the ceiling: the price sits at the
/// ceiling and what is unmet is demand at the ceiling minus supply at the ceiling.
#[test]
fn at_the_ceiling_the_shortfall_is_demand_at_the_ceiling_minus_supply() {
    let s = 0.5;
    // (0.5)^(-1/0.2) = 32 > 8.
    let mut m = Clearing::default();
    m.reset(1);
    m.class(0, 1.0, 0.0);
    m.portion(1, 1.0 - s, f64::INFINITY);
    m.solve(&CURVE);
    let top = CURVE.max_price;
    assert_eq!(m.price(0), top);
    let demand = top.powf(-CURVE.demand_elasticity);
    let supply = (1.0 - s) * top.powf(CURVE.supply_elasticity);
    assert!(close(m.bought(0, &CURVE), supply));
    assert!(close(
        m.demand(0, top, &CURVE) - m.bought(0, &CURVE),
        demand - supply
    ));
}

/// A region holding share r of supply bans buyers holding share b of demand. Classes: home
/// (1 - b) and barred (b); portions: the banning region's r (home only) and the free 1 - r
/// (both). (Shares are chosen so that both prices stay within the floor and the ceiling.)
/// Sellers go where the price is higher, so while free supply cannot close the barred
/// side's gap (1 - r < b), all of it goes there: b x^-ed = (1 - r) x^es, so the barred price is
/// ((1 - r) / b)^(-1/(ed+es)) > 1; the home side clears on the banning region's output alone:
/// (1 - b) x^-ed = r x^es, so its price is (r / (1 - b))^(-1/(ed+es)) < 1. With 1 - r >= b
/// free supply can serve both sides and there is one price, the reference price.
#[test]
fn a_ban_splits_the_market_into_two_tiers_only_when_free_supply_falls_short() {
    let e = CURVE.demand_elasticity + CURVE.supply_elasticity;
    let cleared = |r: f64, b: f64| {
        let mut m = Clearing::default();
        m.reset(2);
        m.class(0, 1.0 - b, 0.0);
        m.class(1, b, 0.0);
        m.portion(0b01, r, f64::INFINITY);
        m.portion(0b11, 1.0 - r, f64::INFINITY);
        m.solve(&CURVE);
        m
    };
    for (r, b) in [(0.65, 0.4), (0.85, 0.2), (0.55, 0.5)] {
        let m = cleared(r, b);
        let home = (r / (1.0 - b)).powf(-1.0 / e);
        let barred = ((1.0 - r) / b).powf(-1.0 / e);
        assert!(
            close(m.price(0), home),
            "r {r} b {b}: {} vs {home}",
            m.price(0)
        );
        assert!(
            close(m.price(1), barred),
            "r {r} b {b}: {} vs {barred}",
            m.price(1)
        );
        assert!(m.price(0) < 1.0 && m.price(1) > 1.0);
    }
    for (r, b) in [(0.7, 0.2), (0.5, 0.5), (0.3, 0.6)] {
        let m = cleared(r, b);
        assert_eq!((m.price(0), m.price(1)), (1.0, 1.0), "r {r} b {b}");
    }
}

/// Demand that does not respond and a capacity that binds: no closed form, so the price is
/// found by bisection; the market still clears to within float noise.
#[test]
fn fixed_demand_and_binding_capacity_still_clear() {
    let mut m = Clearing::default();
    m.reset(1);
    m.class(0, 0.6, 0.4);
    m.portion(1, 0.5, 0.52);
    m.portion(1, 0.3, f64::INFINITY);
    m.solve(&CURVE);
    let x = m.price(0);
    let supply = (0.5 * x.powf(0.05)).min(0.52) + 0.3 * x.powf(0.05);
    assert!(x > 1.0 && x < CURVE.max_price);
    assert!((m.demand(0, x, &CURVE) - supply).abs() < 1e-12, "{x}");
}

/// The consumer loss of a price rise is the area under the demand curve between the two
/// prices; checked against Simpson's rule on D0 p0 x^-ed, and split into extra spend and
/// surplus lost, neither negative for a rise.
#[test]
fn consumer_loss_is_the_area_under_the_demand_curve() {
    for ed in [0.0, 0.15, 0.5, 1.0, 1.5] {
        for x1 in [0.6, 1.0, 1.3, 4.0] {
            let n = 2000;
            let h = (x1 - 1.0) / n as f64;
            let f = |x: f64| 100.0 * x.powf(-ed);
            let mut area = f(1.0) + f(x1);
            for i in 1..n {
                area += f(1.0 + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
            }
            area *= h / 3.0;
            let loss = consumer_loss(100.0, x1, ed);
            assert!(
                (loss - area).abs() < 1e-9,
                "ed {ed} x {x1}: {loss} vs {area}"
            );
            if x1 >= 1.0 {
                let spend = extra_spend(100.0, x1, ed);
                assert!(spend >= 0.0 && loss - spend >= -1e-12, "ed {ed} x {x1}");
            }
        }
    }
}

proptest! {
    /// In random markets every price is within its bounds; no class buys more than it demands;
    /// sales add up to purchases; a portion sells only to a group it may reach, at the highest
    /// price among the classes it reaches (sellers go where the price is highest).
    #[test]
    fn random_markets_clear_within_bounds_and_sellers_chase_the_price(
        demand in proptest::collection::vec((0.0f64..10.0, 0.0f64..3.0), 1..5),
        supply in proptest::collection::vec((1u32..32, 0.0f64..10.0, 0.5f64..20.0), 0..6),
        ed in 0.0f64..1.2,
        es in 0.0f64..0.6,
        es_below in 0.0f64..2.0,
    ) {
        let curve = Curve {
            demand_elasticity: ed,
            supply_elasticity: es,
            supply_elasticity_below: es_below,
            min_price: 0.5,
            max_price: 8.0,
        };
        let n = demand.len();
        let mut m = Clearing::default();
        m.reset(n);
        for (c, &(d0, fixed)) in demand.iter().enumerate() {
            m.class(c, d0, fixed);
        }
        let mask = (1u32 << n) - 1;
        let portions: Vec<_> = supply
            .iter()
            .filter(|(reach, _, _)| reach & mask != 0)
            .map(|&(reach, s0, cap)| (m.portion(reach & mask, s0, cap), reach & mask))
            .collect();
        m.solve(&curve);
        let mut sold = 0.0;
        for &(p, reach) in &portions {
            let (q, to) = m.sold(p);
            prop_assert!(q >= 0.0);
            // It sells to a group of classes at one price, at least one of which it reaches.
            prop_assert!(to & reach != 0 || q == 0.0, "sold outside its reach");
            sold += q;
            if q > 0.0 {
                let c = to.trailing_zeros() as usize;
                for k in 0..n {
                    if reach >> k & 1 != 0 {
                        prop_assert!(m.price(k) <= m.price(c) * (1.0 + 1e-9), "sold below the best price it reaches");
                    }
                }
            }
        }
        let mut bought = 0.0;
        for c in 0..n {
            let x = m.price(c);
            prop_assert!((0.5..=8.0).contains(&x), "price {x}");
            prop_assert!(m.bought(c, &curve) <= m.demand(c, x, &curve) * (1.0 + 1e-12));
            bought += m.bought(c, &curve);
        }
        prop_assert!((sold - bought).abs() <= 1e-6 * bought.max(1.0), "sold {sold} bought {bought}");
    }
}

/// A scenario with one market: `suppliers` and `importers` as TOML, a shock, 120 days.
fn scenario(market: &str, body: &str) -> String {
    format!(
        r#"
[scenario]
name = "market"
horizon_days = 120

[[region]]
id = "CN"

[[region]]
id = "X"

[[region]]
id = "JP"

[[material]]
id = "m"
value = 100
[material.market]
{market}
{body}
"#
    )
}

/// Run one trial (the shocks here are scheduled) and return its importer-slot outcomes.
fn one_trial(text: &str) -> Vec<supplyshock::stats::SlotTrial> {
    one_trial_balance(text).0
}

/// [`one_trial`], with the trial's mass balance (checked to hold).
fn one_trial_balance(
    text: &str,
) -> (
    Vec<supplyshock::stats::SlotTrial>,
    supplyshock::engine::Balance,
) {
    let loaded = crate::support::load(text);
    let model = &loaded.study.baseline;
    let mut s = supplyshock::engine::Scratch::new(model);
    let mut events = Vec::new();
    supplyshock::shocks::sample_trial(model, 1, 0, &mut events);
    supplyshock::engine::run_trial(model, &mut s, &events, None);
    let b = s.balance(0).unwrap();
    assert!(
        (b.stock_initial + b.in_transit_initial + b.shipped
            - b.used
            - b.overflow
            - b.stock_final
            - b.in_transit_final)
            .abs()
            < 1e-6,
        "mass balance: {b:?}"
    );
    (s.outcome(0).to_vec(), b.clone())
}

const ONE_SUPPLIER: &str = r#"
[[supplier]]
id = "s1"
region = "X"
material = "m"
capacity = 73000   # twice demand: room for supply to respond

[[importer]]
id = "a"
region = "JP"
demand = { m = 21900 }   # 60 a day

[[importer]]
id = "b"
region = "JP"
demand = { m = 14600 }   # 40 a day

[[shock]]
id = "cut"
kind = "capacity_loss"
target = { supplier = "s1" }
at_day = 10
duration_days = 40
"#;

/// The engine, one group, a cut s for 40 days: the price every step of the cut is
/// (1 - s)^(-1/(ed+es)) (its peak, and the loss, which adds up 40 steps at that price), no
/// demand goes unmet, and each buyer's loss is 40 times the closed-form consumer loss.
#[test]
fn the_engine_prices_a_cut_at_the_closed_form_without_rationing() {
    let s = 0.2;
    let text = scenario(
        "demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8",
        &format!("{ONE_SUPPLIER}severity = {s}\n"),
    );
    let out = one_trial(&text);
    let x = (1.0f64 - s).powf(-1.0 / 0.2);
    for (r, per_day) in out.iter().zip([60.0, 40.0]) {
        assert!(
            (r.peak_price - x).abs() < 1e-12 * x,
            "{} vs {x}",
            r.peak_price
        );
        assert_eq!(r.unmet, 0.0);
        let want = 40.0 * consumer_loss(per_day * 100.0, x, 0.15);
        let got = r.extra_spend + r.surplus_lost;
        assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
        assert!(r.extra_spend >= 0.0 && r.surplus_lost >= 0.0);
    }
}

/// The price curves of a run: every trial of the cut scenario is the same (the shock is
/// scheduled), so each step's percentiles all sit in the bin of the closed-form price (its
/// midpoint, within 1/64 of it), the mean is that price to the fixed point, and outside the cut
/// the price is the reference exactly; the peak's P95 is the cut's price to the bin. The same
/// holds for both importers: one access group.
#[test]
fn price_curves_follow_the_closed_form_step_by_step() {
    let s = 0.2;
    let text = scenario(
        "demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8",
        &format!("{ONE_SUPPLIER}severity = {s}\n"),
    );
    let loaded = crate::support::load(&text);
    let model = &loaded.study.baseline;
    let plan = supplyshock::runner::Plan::from_models(vec![model], vec!["baseline".into()]);
    let trials = 40;
    let acc = supplyshock::runner::run_all(&plan, trials, 1);
    let x = (1.0f64 - s).powf(-1.0 / 0.2);
    let sets = supplyshock::report::price_sets(&plan, &acc, trials);
    assert_eq!(sets.len(), 2);
    for c in &sets {
        for (t, &day) in c.day.iter().enumerate() {
            let want = if (10.0..50.0).contains(&day) { x } else { 1.0 };
            for q in [&c.p5, &c.p25, &c.p50, &c.p75, &c.p95] {
                assert!(
                    (q[t] / want - 1.0).abs() <= 1.0 / 64.0,
                    "day {day}: {} vs {want}",
                    q[t]
                );
                assert_eq!(q[t] == 1.0, want == 1.0, "day {day}");
            }
            assert!(
                (c.mean[t] - want).abs() < 1e-8 * want,
                "day {day}: mean {}",
                c.mean[t]
            );
        }
    }
    let summary =
        supplyshock::report::summarize(&plan, &[None], &["Baseline".into()], &acc, trials, 1);
    for sl in &summary.variants[0].slots {
        let p95 = sl.peak_price_p95.expect("a market");
        assert!((p95 / x - 1.0).abs() <= 1.0 / 64.0, "{p95} vs {x}");
    }
}

/// At the ceiling: a cut of a half would need a price of 32 > 8. Each step of the cut the
/// price sits at 8 and what goes unmet is demand at 8 less supply at 8.
#[test]
fn the_engine_rations_only_at_the_ceiling() {
    let text = scenario(
        "demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8",
        &format!("{ONE_SUPPLIER}severity = 0.5\n"),
    );
    let out = one_trial(&text);
    let unmet: f64 = out.iter().map(|r| r.unmet).sum();
    let (d, sup) = (100.0 * 8f64.powf(-0.15), 50.0 * 8f64.powf(0.05));
    let want = 40.0 * (d - sup);
    assert!((unmet - want).abs() < 1e-9 * want, "{unmet} vs {want}");
    assert!(out.iter().all(|r| r.peak_price == 8.0));
}

/// A ban by CN (share r = 0.65 of supply at the reference price) against JP (share b = 0.4 of
/// demand), free supply from X unable to close the gap: JP pays ((1 - r)/b)^(-1/(ed+es)),
/// CN's home market ((r/(1 - b))^(-1/(ed+es)) (see the two-tier test above), every step of the
/// 40-day ban; JP's loss is 40 times its consumer loss at its price, CN's a gain (negative).
#[test]
fn the_engine_splits_a_banned_market_into_two_tiers() {
    let body = r#"
[[supplier]]
id = "cn"
region = "CN"
material = "m"
capacity = 47450   # twice its 65 a day

[[supplier]]
id = "x"
region = "X"
material = "m"
capacity = 25550   # twice its 35 a day

[[importer]]
id = "home"
region = "CN"
demand = { m = 21900 }   # 60 a day, all from cn
sourcing.m = { cn = 1.0 }

[[importer]]
id = "jp"
region = "JP"
demand = { m = 14600 }   # 40 a day: 5 from cn, 35 from x
sourcing.m = { cn = 0.125, x = 0.875 }

[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "CN" }
against = { region = "JP" }
at_day = 10
duration_days = 40
"#;
    let text = scenario("demand_elasticity = 0.15\nsupply_elasticity = 0.05", body);
    let out = one_trial(&text);
    let e = 0.2;
    let (r, b) = (0.65f64, 0.4f64);
    let home = (r / (1.0 - b)).powf(-1.0 / e);
    let barred = ((1.0 - r) / b).powf(-1.0 / e);
    let (h, j) = (&out[0], &out[1]);
    assert!(
        (j.peak_price - barred).abs() < 1e-9 * barred,
        "{} vs {barred}",
        j.peak_price
    );
    assert_eq!(h.peak_price, 1.0, "the home price never rises");
    let jp_loss = 40.0 * consumer_loss(40.0 * 100.0, barred, 0.15);
    let home_gain = 40.0 * consumer_loss(60.0 * 100.0, home, 0.15);
    assert!((j.extra_spend + j.surplus_lost - jp_loss).abs() < 1e-6 * jp_loss);
    assert!((h.extra_spend + h.surplus_lost - home_gain).abs() < 1e-6 * home_gain.abs());
    assert!(home_gain < 0.0);
    assert_eq!((h.unmet, j.unmet), (0.0, 0.0));
}

/// Deliveries meet the clearing's fills even where contract deliveries would not. CN's home
/// buyer wants 60 a day, 30 on contract from CN and 30 from X; JP wants 40, all from X; CN
/// makes 30 and X 70. X loses a fifth of its capacity (56 a day) while CN bans JP. X alone
/// still covers JP (56 x^es against 40 x^-ed at the price below), so there is one price, at
/// which all supply, 86 x^es, meets all demand, 100 x^-ed: x = (100/86)^(1/(ed+es)), and
/// nobody is short. Contract deliveries alone, with the home buyer served first, would leave
/// JP short: the home buyer's contract takes 30 x^-ed of X's output, JP gets the rest of it
/// (56 x^es - 30 x^-ed, less than its 40 x^-ed), and CN's output beyond the home buyer's
/// contract, which only the home buyer may take, would go unsold with the home buyer already
/// served. The exchange moves it: the home buyer takes more from CN and gives up as much of
/// X's to JP. Both orders of the buyers in the file are run (the first is the one where
/// contract deliveries alone fall short; in the second they and the pro-rata round suffice).
#[test]
fn deliveries_are_exchanged_until_every_buyer_gets_its_groups_fill() {
    let home = r#"
[[importer]]
id = "home"
region = "CN"
demand = { m = 21900 }   # 60 a day: 30 from cn, 30 from x
sourcing.m = { cn = 0.5, x = 0.5 }
"#;
    let jp = r#"
[[importer]]
id = "jp"
region = "JP"
demand = { m = 14600 }   # 40 a day, all from x
sourcing.m = { x = 1.0 }
"#;
    let suppliers = r#"
[[supplier]]
id = "cn"
region = "CN"
material = "m"
capacity = 21900   # twice its 30 a day

[[supplier]]
id = "x"
region = "X"
material = "m"
capacity = 51100   # twice its 70 a day

[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "CN" }
against = { region = "JP" }
at_day = 10
duration_days = 40

[[shock]]
id = "loss"
kind = "capacity_loss"
target = { supplier = "x" }
at_day = 10
duration_days = 40
severity = 0.2
"#;
    let x = (100.0f64 / 86.0).powf(1.0 / 0.2);
    for (first, second) in [(home, jp), (jp, home)] {
        let body = format!("{suppliers}{first}{second}");
        let text = scenario(
            "demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8",
            &body,
        );
        for o in one_trial(&text) {
            assert!(o.unmet < 1e-9 * o.demand, "short: {o:?}");
            assert!((o.peak_price - x).abs() < 1e-12 * x, "{o:?} against {x}");
        }
    }
}

/// With no shock, every market of the flagship (each of its materials has one) stays at its
/// reference price: no price loss, no unmet demand (deliveries follow the contracts' routes, so
/// nothing is delayed).
#[test]
fn a_calm_flagship_pays_the_reference_price_everywhere() {
    let path = crate::support::repo().join("scenarios/japan-eu-critical-materials.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let loaded = crate::support::load(&text);
    let model = &loaded.study.baseline;
    assert!(model.materials.iter().all(|m| m.market.is_some()));
    let mut s = supplyshock::engine::Scratch::new(model);
    supplyshock::engine::run_trial(model, &mut s, &[], None);
    for r in s.outcome(0) {
        assert_eq!(
            (r.peak_price, r.extra_spend, r.surplus_lost, r.unmet),
            (1.0, 0.0, 0.0, 0.0),
            "{r:?}"
        );
    }
}

/// A holder with share h = 0.4 of demand D0 = 1 and a stock that releases above T = 1.5; a cut
/// of s = 0.3 would take the price to 0.7^(-1/(ed+es)) = 5.95 without it. With stock to
/// spare the price stays at T exactly and the release is what closes the gap there,
/// D0 T^-ed - (1 - s) T^es (below the holder's own demand 0.4 T^-ed, so the holder can
/// release it). With a stock q too small to hold T the holder releases all of it and the
/// price x solves D0 x^-ed - q = (1 - s) x^es: the release lowers the price by exactly what it
/// takes off demand.
#[test]
fn a_release_holds_the_price_at_its_threshold_while_stock_lasts() {
    let (s, h, t) = (0.3, 0.4, 1.5);
    let (ed, es) = (CURVE.demand_elasticity, CURVE.supply_elasticity);
    let run = |stock: f64| {
        let mut m = Clearing::default();
        m.reset(1);
        m.class(0, 1.0 - h, 0.0);
        m.class(0, h, 0.0);
        let k = m.release(0, h, stock, t);
        m.portion(1, 1.0 - s, f64::INFINITY);
        m.solve(&CURVE);
        (m.price(0), m.released(k))
    };
    let (price, released) = run(10.0);
    assert_eq!(price, t);
    let want = t.powf(-ed) - (1.0 - s) * t.powf(es);
    assert!(want > 0.0 && want < h * t.powf(-ed));
    assert!(close(released, want), "{released} vs {want}");
    let q = 0.05;
    let (x, released) = run(q);
    assert!(x > t && x < (1.0f64 - s).powf(-1.0 / (ed + es)));
    assert_eq!(released, q);
    let excess = x.powf(-ed) - q - (1.0 - s) * x.powf(es);
    assert!(excess.abs() < 1e-12, "excess {excess} at {x}");
    // Without the stock: the closed form of the cut.
    let (x0, _) = run(0.0);
    assert!(close(x0, (1.0f64 - s).powf(-1.0 / (ed + es))));
}

/// A refill F that buys only at or below R = 1.05, into a balanced market (supply 1 meets
/// demand 1 at the reference price). A small refill is bought in full at the price x with
/// x^-ed + F = x^es (below R); a large one holds the price at R exactly and buys what supply
/// exceeds demand there, R^es - R^-ed; after a cut that takes the price above R without it,
/// it buys nothing and the price is the cut's closed form.
#[test]
fn a_refill_buys_only_at_or_below_its_threshold() {
    let r = 1.05;
    let (ed, es) = (CURVE.demand_elasticity, CURVE.supply_elasticity);
    let run = |supply: f64, f: f64| {
        let mut m = Clearing::default();
        m.reset(1);
        m.class(0, 1.0, 0.0);
        let k = m.refill(0, f, r);
        m.portion(1, supply, f64::INFINITY);
        m.solve(&CURVE);
        (m.price(0), m.refill_bought(k))
    };
    let small = 0.001;
    let (x, bought) = run(1.0, small);
    assert!(x > 1.0 && x < r);
    assert_eq!(bought, small);
    assert!((x.powf(-ed) + small - x.powf(es)).abs() < 1e-12);
    let (x, bought) = run(1.0, 0.5);
    assert_eq!(x, r);
    assert!(close(bought, r.powf(es) - r.powf(-ed)), "{bought}");
    let (x, bought) = run(0.8, 0.5);
    assert_eq!(bought, 0.0);
    assert!(close(x, 0.8f64.powf(-1.0 / (ed + es))));
}

/// A stock threshold in `range`, or as often one of a few values inside every range used, so
/// that thresholds of different stocks tie.
fn threshold(range: std::ops::Range<f64>) -> impl Strategy<Value = f64> {
    prop_oneof![prop::sample::select(vec![1.05, 1.2, 1.5, 2.0]), range]
}

proptest! {
    /// Random markets with stock bids: every price within its bounds; a refill buys only at
    /// a price at most its threshold, a release serves only at a price at least its own; and
    /// what the classes buy can be delivered by the portions that reach them.
    #[test]
    fn stock_bids_keep_prices_in_bounds_and_honour_thresholds(
        classes in prop::collection::vec((0.0f64..2.0, 0.0f64..0.5), 1..4),
        portions in prop::collection::vec((1u32..8, 0.0f64..2.0, 0.5f64..4.0), 1..4),
        refills in prop::collection::vec((0usize..3, 0.0f64..1.0, threshold(0.6..3.0)), 0..3),
        releases in prop::collection::vec((0usize..3, 0.0f64..1.0, 0.0f64..2.0, threshold(1.0..6.0)), 0..3),
    ) {
        let n = classes.len();
        let mut m = Clearing::default();
        m.reset(n);
        for (c, &(d0, fixed)) in classes.iter().enumerate() {
            m.class(c, d0, fixed);
        }
        let rel: Vec<(usize, f64, usize)> = releases
            .iter()
            .map(|&(c, d0, stock, above)| {
                let c = c % n;
                m.class(c, d0, 0.0);
                (m.release(c, d0, stock, above), above, c)
            })
            .collect();
        let refs: Vec<(usize, f64, usize)> = refills
            .iter()
            .map(|&(c, f, below)| (m.refill(c % n, f, below), below, c % n))
            .collect();
        let mask = (1u32 << n) - 1;
        let reaches: Vec<u32> = portions.iter().map(|&(reach, _, _)| reach & mask | 1).collect();
        for (&(_, s0, cap), &reach) in portions.iter().zip(&reaches) {
            m.portion(reach, s0, s0 * cap);
        }
        m.solve(&CURVE);
        for c in 0..n {
            let x = m.price(c);
            prop_assert!((CURVE.min_price..=CURVE.max_price).contains(&x));
        }
        for &(k, below, c) in &refs {
            if m.refill_bought(k) > 0.0 {
                prop_assert!(m.price(c) <= below);
            }
        }
        for &(k, above, c) in &rel {
            if m.released(k) > 0.0 {
                prop_assert!(m.price(c) >= above);
            }
        }
        // What the classes buy can be delivered: every set of classes buys no more than the
        // portions sold to it that reach it (Hall's condition for the deliveries).
        let mut net: Vec<f64> = (0..n).map(|c| m.bought(c, &CURVE)).collect();
        for &(k, _, c) in &refs {
            net[c] += m.refill_bought(k);
        }
        for &(k, _, c) in &rel {
            net[c] -= m.released(k);
        }
        let total: f64 = (0..portions.len()).map(|p| m.sold(p).0).sum();
        for set in 1..=mask {
            let bought: f64 = (0..n).filter(|c| set >> c & 1 != 0).map(|c| net[c]).sum();
            let reachable: f64 = reaches
                .iter()
                .enumerate()
                .map(|(p, &reach)| (m.sold(p), reach))
                .filter(|&((_, to), reach)| to & reach & set != 0)
                .map(|((q, _), _)| q)
                .sum();
            prop_assert!(bought <= reachable + 1e-9 * (1.0 + total), "set {set:b}: buys {bought}, can get {reachable}");
        }
    }
}

/// [`CURVE`] with neither demand nor supply responding to price.
const INELASTIC: Curve = Curve {
    demand_elasticity: 0.0,
    supply_elasticity: 0.0,
    supply_elasticity_below: 0.0,
    ..CURVE
};

/// Two access classes: class 0 reaches suppliers A (0.3 a step) and B, class 1 only B (1 a
/// step; supply and demand inelastic), and class 1 uses 0.5 a step and refills up to 1 at or
/// below R = 1.05, while class 0 wants nothing. Class 1's refill holds its price at R and buys
/// what B has left, 0.5: A's supply, which cannot reach it, is not counted as its own (it
/// would buy 0.8). Class 0 takes none, at the floor. (Both sets, class 1 alone and both
/// classes, clear at R; the one whose refill buys the smaller share is priced first.)
#[test]
fn a_refill_at_its_threshold_buys_only_what_reaches_it() {
    let curve = INELASTIC;
    let mut m = Clearing::default();
    m.reset(2);
    m.class(1, 0.0, 0.5);
    let k = m.refill(1, 1.0, 1.05);
    let a = m.portion(0b01, 0.3, 0.3);
    let b = m.portion(0b11, 1.0, 1.0);
    m.solve(&curve);
    assert_eq!(m.price(1), 1.05);
    assert_eq!(m.refill_bought(k), 0.5);
    assert_eq!(m.sold(b), (1.0, 0b10));
    assert_eq!(m.price(0), curve.min_price);
    assert_eq!(m.sold(a).0, 0.0);
}

/// Supply beyond demand everywhere, so every set of classes clears at the floor: class 1
/// (demand 1, inelastic) is reached only by B (2 a step), class 0 (no demand) by B and by A
/// (8 a step). B sells class 1 its whole demand; A sells nothing. (Priced as one group, every
/// portion would sell the same tenth of its offer, and B's 0.2 could not meet class 1's 1.)
#[test]
fn at_the_floor_each_class_buys_from_the_portions_that_reach_it() {
    let curve = INELASTIC;
    let mut m = Clearing::default();
    m.reset(2);
    m.class(1, 1.0, 0.0);
    let a = m.portion(0b01, 8.0, 8.0);
    let b = m.portion(0b11, 2.0, 2.0);
    m.solve(&curve);
    assert_eq!((m.price(0), m.price(1)), (curve.min_price, curve.min_price));
    assert_eq!(m.sold(b), (1.0, 0b10));
    assert_eq!(m.sold(a).0, 0.0);
    assert_eq!(m.fill(1), 1.0);
}

/// A release and a refill of different classes at the same threshold R = 1.1 (supply and
/// demand inelastic). Class 1 uses 1, reached only by B (0.8), and holds 0.5 of stock that
/// serves above R; class 0 refills up to 1, reached only by A (0.5). Class 1 alone clears at R
/// with its release serving 0.2 of the 0.5 it could; both classes together also clear at R,
/// with the refill cut to 0.3 and no release. Class 1 alone is the more constrained (its
/// release must serve; the pair would have it buy 1 where 0.8 reaches it): it buys 0.8 from B
/// and releases 0.2; class 0's refill then buys A's 0.5, at R.
#[test]
fn a_release_at_its_threshold_is_priced_before_a_refill_at_the_same_price() {
    let mut m = Clearing::default();
    m.reset(2);
    m.class(1, 1.0, 0.0);
    let release = m.release(1, 1.0, 0.5, 1.1);
    let refill = m.refill(0, 1.0, 1.1);
    let a = m.portion(0b01, 0.5, 0.5);
    let b = m.portion(0b10, 0.8, 0.8);
    m.solve(&INELASTIC);
    assert_eq!((m.price(0), m.price(1)), (1.1, 1.1));
    assert!(close(m.released(release), 0.2));
    assert_eq!(m.sold(b), (0.8, 0b10));
    assert_eq!(m.refill_bought(refill), 0.5);
    assert_eq!(m.sold(a), (0.5, 0b01));
}

/// An importer whose stockpile starts empty and refills only at or below 1.05 times the
/// reference price, in a market with no shock: its refill bids the price up, but never past
/// 1.05, and the stock still fills (at the threshold the refill buys what supply exceeds
/// demand there).
#[test]
fn the_engine_refills_a_stock_only_at_or_below_its_threshold() {
    let body = r#"
[[supplier]]
id = "s1"
region = "X"
material = "m"
capacity = 73000

[[importer]]
id = "a"
region = "JP"
demand = { m = 21900 }
stockpile.m = { days = 60, initial_days = 0, refill_days = 10 }

[[importer]]
id = "b"
region = "JP"
demand = { m = 14600 }
"#;
    let text = scenario(
        "demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8",
        body,
    );
    let (out, b) = one_trial_balance(&text);
    for r in &out {
        // The refill (360 a day wanted, far more than the 0.97 a day the market spares at
        // 1.05) holds the price at the threshold exactly.
        assert_eq!(r.peak_price, 1.05, "{r:?}");
        assert_eq!(r.unmet, 0.0);
    }
    // Supply spare at 1.05 over the 120 days: (100 * 1.05^0.05 - 100 * 1.05^-0.15) a day.
    let spare = 100.0 * (1.05f64.powf(0.05) - 1.05f64.powf(-0.15));
    assert!(b.stock_final > 0.0);
    assert!(
        (b.stock_final - 120.0 * spare).abs() < 1e-6 * b.stock_final,
        "{} vs {}",
        b.stock_final,
        120.0 * spare
    );
}

/// Use before refill at the ceiling: a cut of a half rations use at the ceiling of 8; a refill
/// bidding up to the ceiling buys nothing and leaves every buyer's fill as without it.
#[test]
fn at_the_ceiling_a_refill_takes_nothing_from_use() {
    let run = |refill: f64| {
        let mut m = Clearing::default();
        m.reset(1);
        m.class(0, 1.0, 0.0);
        let k = m.refill(0, refill, CURVE.max_price);
        m.portion(1, 0.5, f64::INFINITY);
        m.solve(&CURVE);
        (m.price(0), m.fill(0), m.refill_bought(k))
    };
    let (x0, fill0, _) = run(0.0);
    let (x, fill, bought) = run(0.3);
    assert_eq!((x, x0), (CURVE.max_price, CURVE.max_price));
    assert_eq!(bought, 0.0);
    assert_eq!(fill, fill0);
    assert!(fill < 1.0);
}

/// The sticky price in one step: buyers paid `last`, the clearing price is x* (a cut s), and
/// the price closes the share a of the gap: x = last + a (x* - last). Suppliers sell what
/// they offer at x*, (1 - s) x*^es = x*^-ed (the cut's clearing). On the way up (last = 1) the
/// buyers demand x^-ed > x*^-ed and get the fraction x*^-ed / x^-ed of it; on the way down
/// (last above x*) they demand less than is offered, buy all of it, and the rest is unsold.
/// Within 1e-4 of x* the price is x* (the clearing).
#[test]
fn a_sticky_price_closes_its_share_of_the_gap_and_rations_the_rest() {
    let (s, a) = (0.2, 0.3);
    let (ed, es) = (CURVE.demand_elasticity, CURVE.supply_elasticity);
    let xs = (1.0f64 - s).powf(-1.0 / (ed + es));
    let run = |last: f64| {
        let mut m = Clearing::default();
        m.reset(1);
        m.class(0, 1.0, 0.0);
        m.last_price(0, last);
        let p = m.portion(1, 1.0 - s, f64::INFINITY);
        m.solve_adjusting(&CURVE, a);
        (m.price(0), m.fill(0), m.bought(0, &CURVE), m.sold(p).0)
    };
    let up = 1.0 + a * (xs - 1.0);
    let (x, fill, bought, sold) = run(1.0);
    assert!(close(x, up), "{x} vs {up}");
    assert!(close(fill, xs.powf(-ed) / up.powf(-ed)));
    assert!(close(bought, xs.powf(-ed)) && close(sold, bought));
    let last = 5.0;
    let down = last + a * (xs - last);
    let (x, fill, bought, sold) = run(last);
    assert!(close(x, down), "{x} vs {down}");
    assert_eq!(fill, 1.0);
    assert!(close(bought, down.powf(-ed)) && close(sold, bought));
    assert!(sold < (1.0 - s) * xs.powf(es));
    // Settled: the clearing itself, to the bit.
    let mut m = Clearing::default();
    m.reset(1);
    m.class(0, 1.0, 0.0);
    m.portion(1, 1.0 - s, f64::INFINITY);
    m.solve(&CURVE);
    let (x, fill, _, _) = run(xs * (1.0 + 1e-5));
    assert_eq!((x, fill), (m.price(0), 1.0));
}

/// Sticky prices in the engine (`adjust_days = 5`, daily steps: a = 1 - e^-0.2 of the gap
/// each day). A cut s for 40 days from day 10: on its k-th day the price is
/// x_k = x* - (x* - 1)(1 - a)^k and what goes unmet is demand at x_k less supply at x*,
/// D0 (x_k^-ed - x*^-ed) with D0 = 100 a day. After the cut the price falls back by the same
/// rule from x_40 until within 1e-4 of the reference, then sits on it; nothing goes unmet on
/// the way down (demand is below supply). Each buyer's price loss is the closed-form consumer
/// loss at each day's price, the peak is x_40, and mass balance holds.
#[test]
fn the_engine_moves_a_sticky_price_step_by_step() {
    let s = 0.2;
    let text = scenario(
        "demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8\nadjust_days = 5",
        &format!("{ONE_SUPPLIER}severity = {s}\n"),
    );
    let out = one_trial(&text);
    let (ed, a) = (0.15, 1.0 - (-0.2f64).exp());
    let xs = (1.0f64 - s).powf(-1.0 / 0.2);
    let mut prices = Vec::new();
    let mut x = 1.0;
    for _ in 0..40 {
        x += a * (xs - x);
        prices.push(x);
    }
    let peak = x;
    let mut unmet = 0.0;
    for &x in &prices {
        unmet += 100.0 * (x.powf(-ed) - xs.powf(-ed));
    }
    loop {
        x += a * (1.0 - x);
        if (x - 1.0).abs() <= 1e-4 {
            break;
        }
        prices.push(x);
    }
    assert!(
        10 + prices.len() < 120,
        "the price settles within the horizon"
    );
    let got: f64 = out.iter().map(|r| r.unmet).sum();
    assert!((got - unmet).abs() < 1e-9 * unmet, "unmet {got} vs {unmet}");
    for (r, per_day) in out.iter().zip([60.0, 40.0]) {
        assert!(
            (r.peak_price - peak).abs() < 1e-12 * peak,
            "{} vs {peak}",
            r.peak_price
        );
        let want: f64 = prices
            .iter()
            .map(|&x| consumer_loss(per_day * 100.0, x, ed))
            .sum();
        let loss = r.extra_spend + r.surplus_lost;
        assert!((loss - want).abs() < 1e-9 * want, "{loss} vs {want}");
    }
}

/// Stocks that release into a spike, in the engine: a cut of s = 0.3 for 40 days would take the price to 0.7^-5 = 5.95, but a stock that releases above T = 1.5 holds
/// it at T exactly while it lasts: the release is 100 (T^-ed - 0.7 T^es) = 22.7 a day, 907 in
/// all, well within the stock. So no buyer pays more than T, nothing goes unmet, and each
/// buyer's price loss is 40 times the consumer loss at T. The same for importer a's stockpile
/// (60 days of its use) and for a pool of both buyers (30 days of theirs); both refill only at
/// the reference price (`refill_below = 1`), which spares nothing, so the price is 1 after
/// the cut.
#[test]
fn stockpiles_and_pools_release_to_hold_the_price_at_their_threshold() {
    let (s, t) = (0.3, 1.5);
    let own = "[importer.stockpile]\nm = { days = 60, release_above = 1.5, refill_below = 1 }\n";
    let pool = "[[pool]]\nid = \"p\"\nmembers = [\"a\", \"b\"]\nmaterial = \"m\"\ndays = 30\nrefill_below = 1\nrelease_above = 1.5\n";
    let base = scenario(
        "demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8",
        &format!("{ONE_SUPPLIER}severity = {s}\n"),
    );
    let none = one_trial(&base);
    assert!(none[0].peak_price > 5.9);
    // Importer a's table is the first [[importer]]: its stockpile goes right after its demand.
    let with_own = base.replacen(
        "demand = { m = 21900 }   # 60 a day\n",
        &format!("demand = {{ m = 21900 }}   # 60 a day\n{own}"),
        1,
    );
    assert_ne!(with_own, base);
    for text in [with_own, format!("{base}{pool}")] {
        let out = one_trial(&text);
        for (r, per_day) in out.iter().zip([60.0, 40.0]) {
            assert_eq!((r.peak_price, r.unmet), (t, 0.0), "{r:?}");
            let want = 40.0 * consumer_loss(per_day * 100.0, t, 0.15);
            let got = r.extra_spend + r.surplus_lost;
            assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
        }
    }
}

/// An exporter of 100 a day with a buyer at home (`home` a day) and one abroad (`far` a day),
/// whose exports to the buyer abroad are cut by `severity` from day 10 for 40 days.
fn exporter(market: &str, home: f64, far: f64, severity: f64) -> String {
    scenario(
        market,
        &format!(
            r#"
[[supplier]]
id = "s1"
region = "CN"
material = "m"
capacity = 36500

[[importer]]
id = "home"
region = "CN"
demand = {{ m = {} }}

[[importer]]
id = "far"
region = "JP"
demand = {{ m = {} }}

[[shock]]
id = "ban"
kind = "export_ban"
target = {{ supplier = "s1" }}
against = {{ region = "JP" }}
at_day = 10
duration_days = 40
severity = {severity}
"#,
            home * 365.0,
            far * 365.0
        ),
    )
}

/// A partial export ban takes its severity off what the covered buyers buy from the supplier,
/// not off the supplier's whole output: a supplier selling 80 a day at home and 20 abroad,
/// with half its exports banned for 40 days, leaves the foreign buyer 10 a day (at the ceiling
/// price, with no elasticity to close the gap): 40 x 10 units unmet, none at home. Were the ban
/// a cut of the foreign buyer's reach to half the output (50 a day), it would miss nothing.
#[test]
fn a_partial_ban_cuts_the_covered_buyers_flows_not_the_suppliers_output() {
    let market = "demand_elasticity = 0\nsupply_elasticity = 0\nmax_price = 8";
    let out = one_trial(&exporter(market, 80.0, 20.0, 0.5));
    assert_eq!(out[0].unmet, 0.0, "{:?}", out[0]);
    assert!((out[1].unmet - 400.0).abs() < 1e-9, "{:?}", out[1]);
    assert_eq!(out[1].peak_price, 8.0, "{:?}", out[1]);
}

/// The lowest price: a supplier that may not export for 40 days sells at home what it made for
/// abroad, and the home price falls to where home demand takes it, 95 x^-ed = 100 x^es_below,
/// so x = 0.95^(1/(ed+es_below)), its trough, with the supply response below the reference
/// price (`supply_elasticity_below`, by default the one above); the home buyer's peak stays at
/// the reference.
#[test]
fn a_ban_lowers_the_home_price_to_the_closed_form_trough() {
    for (below, es_below) in [("", 0.05), ("\nsupply_elasticity_below = 1.2", 1.2)] {
        let market =
            format!("demand_elasticity = 0.15\nsupply_elasticity = 0.05\nmax_price = 8{below}");
        let out = one_trial(&exporter(&market, 95.0, 5.0, 1.0));
        let x = 0.95f64.powf(1.0 / (0.15 + es_below));
        assert!(
            (out[0].trough_price - x).abs() < 1e-9 * x,
            "{} vs {x}",
            out[0].trough_price
        );
        assert_eq!(out[0].peak_price, 1.0, "{:?}", out[0]);
        assert_eq!(out[1].trough_price, 1.0, "{:?}", out[1]);
    }
}

/// Everything a solve sets, as bits: per class its price, demand response and fill; per
/// portion what it sells and to whom; per stock bid what it buys or serves.
fn solved_bits(m: &Clearing, n: usize, portions: usize, bids: (usize, usize)) -> Vec<u64> {
    let mut out = Vec::new();
    for c in 0..n {
        out.extend([m.price(c), m.mult(c), m.fill(c)].map(f64::to_bits));
    }
    for p in 0..portions {
        let (q, to) = m.sold(p);
        out.extend([q.to_bits(), u64::from(to)]);
    }
    out.extend((0..bids.0).map(|k| m.refill_bought(k).to_bits()));
    out.extend((0..bids.1).map(|k| m.released(k).to_bits()));
    out
}

/// The curves [`a_reused_clearing_solves_as_a_new_one`] cycles through: 80, each differing from
/// another in one field alone, some with the floor or the ceiling at the reference price.
const CURVES: usize = 80;

fn curve_number(k: usize) -> Curve {
    Curve {
        demand_elasticity: [0.0, 0.05, 0.3, 1.0, 1.1][k % 5],
        supply_elasticity: [0.0, 0.1][k / 5 % 2],
        supply_elasticity_below: [0.05, 0.5][k / 10 % 2],
        min_price: [0.5, 1.0][k / 20 % 2],
        max_price: [8.0, 1.0][k / 40],
    }
}

proptest! {
    /// A clearing is reused across materials, steps and models, and keeps what it computed at
    /// each curve's floor and ceiling and of the set it prices: solving market after market
    /// with one clearing gives to the bit what a new clearing gives for each. Every case runs
    /// through all the curves, more than a clearing keeps, and comes back to curves it has
    /// forgotten; some markets have sticky prices.
    #[test]
    fn a_reused_clearing_solves_as_a_new_one(
        markets in prop::collection::vec(
            (
                prop::collection::vec((0.0f64..2.0, 0.0f64..0.5, 0.5f64..3.0), 1..4),
                prop::collection::vec((1u32..8, 0.0f64..2.0, 0.5f64..4.0), 1..4),
                prop::collection::vec((0usize..3, 0.0f64..1.0, threshold(0.6..3.0)), 0..3),
                prop::collection::vec((0usize..3, 0.0f64..1.0, 0.0f64..2.0, threshold(1.0..6.0)), 0..3),
                prop::sample::select(vec![1.0, 1.0, 0.5]),
            ),
            CURVES + 20..CURVES + 60,
        ),
        first in 0..CURVES,
    ) {
        let mut reused = Clearing::default();
        for (i, (classes, portions, refills, releases, adjust)) in markets.iter().enumerate() {
            // 7 is prime to 80: the first 80 markets meet every curve once.
            let curve = curve_number((first + 7 * i) % CURVES);
            let solve = |m: &mut Clearing| {
                let n = classes.len();
                m.reset(n);
                for (c, &(d0, fixed, last)) in classes.iter().enumerate() {
                    m.class(c, d0, fixed);
                    if *adjust < 1.0 {
                        m.last_price(c, last);
                    }
                }
                for &(c, d0, stock, above) in releases {
                    m.class(c % n, d0, 0.0);
                    m.release(c % n, d0, stock, above);
                }
                for &(c, amount, below) in refills {
                    m.refill(c % n, amount, below);
                }
                let mask = (1u32 << n) - 1;
                for &(reach, s0, cap) in portions {
                    m.portion(reach & mask | 1, s0, s0 * cap);
                }
                m.solve_adjusting(&curve, *adjust);
                solved_bits(m, n, portions.len(), (refills.len(), releases.len()))
            };
            let mut new = Clearing::default();
            prop_assert_eq!(solve(&mut reused), solve(&mut new), "market {}", i);
        }
    }
}
