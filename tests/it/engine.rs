//! The engine against closed forms, with tolerances from the standard error, and its invariants.

use proptest::prelude::*;
use supplyshock::engine::{run_group, run_group_on, run_trial, Isa, Scratch};
use supplyshock::lanes::LANES;
use supplyshock::shocks::{sample_trial, Event};
use supplyshock::stats::CurveAcc;

use crate::support::{load, repo, run, single};

/// Reference-30 (docs/model.md, "The reference-30 benchmark"): mean fill 0.6510 (SE 0.00004
/// over 200,000 trials).
#[test]
fn reference_30_fill_matches_the_reference() {
    let text = std::fs::read_to_string(repo().join("scenarios/bench/reference-30.toml")).unwrap();
    let s = run(&text, 20_000, 1);
    let slots = &s.variants[0].slots;
    assert_eq!(slots.len(), 10);
    // The network's fill is the mean of the importers' fills (equal demand). Its standard error is
    // at most the mean of theirs (the standard deviation of a mean is at most the mean of the sds).
    let fill = slots.iter().map(|x| x.metrics.fill_rate.mean).sum::<f64>() / 10.0;
    let se_bound = slots.iter().map(|x| x.metrics.fill_rate.se).sum::<f64>() / 10.0;
    let tol = 3.0 * (se_bound.powi(2) + 0.00004f64.powi(2)).sqrt();
    assert!(
        (fill - 0.6510).abs() < tol,
        "fill {fill} vs 0.6510 (tolerance {tol})"
    );
}

/// One supplier with a Markov outage (down 0.05, up 0.2 per step), no stock: the expected fill is
/// the mean probability of being up, pi + (1 - pi) * (1 - p - r)^(t + 1) at step t (up before
/// step 0), which tends to pi = r / (p + r) = 0.8.
#[test]
fn markov_outage_fill_is_the_stationary_availability() {
    let n = 3650;
    let shock = r#"
[[shock]]
id = "outage"
kind = "capacity_loss"
target = { supplier = "s1" }
markov = { down = 0.05, up = 0.2 }
"#;
    let s = run(&single(n, "", shock), 400, 3);
    let f = &s.variants[0].slots[0].metrics.fill_rate;
    let (p, r) = (0.05f64, 0.2f64);
    let pi = r / (p + r);
    let lambda = 1.0 - p - r;
    let exact = pi + (1.0 - pi) * (0..n).map(|t| lambda.powi(t as i32 + 1)).sum::<f64>() / n as f64;
    assert!((exact - 0.8).abs() < 1e-3);
    assert!(
        (f.mean - exact).abs() < 4.0 * f.se,
        "fill {} vs {exact} (se {})",
        f.mean,
        f.se
    );
}

/// A scheduled full outage of D steps against a stockpile of k steps: unmet demand is exactly
/// d * (D - k); time to survive is k, time to recover D - k, resilience loss D - k days.
#[test]
fn scheduled_outage_against_a_stockpile_is_exact() {
    let (d, big_d, k) = (10.0, 20.0, 7.0);
    let shock = format!(
        r#"
[[shock]]
id = "fire"
kind = "capacity_loss"
target = {{ supplier = "s1" }}
at_day = 0
duration_days = {big_d}
"#
    );
    let s = run(
        &single(60, "stockpile.m = { days = 7, refill = false }", &shock),
        16,
        1,
    );
    let sl = &s.variants[0].slots[0];
    assert_eq!(sl.metrics.unmet_units.mean, d * (big_d - k));
    assert_eq!(sl.metrics.unmet_units.se, 0.0);
    assert_eq!(sl.metrics.p_shortage.mean, 1.0);
    assert_eq!(sl.time_to_survive_days.unwrap().mean, k);
    assert_eq!(sl.time_to_recover_days.unwrap().mean, big_d - k);
    assert_eq!(sl.metrics.resilience_loss_days.mean, big_d - k);
    assert_eq!(sl.metrics.days_short.mean, big_d - k);
    assert_eq!(sl.metrics.max_depth.mean, 1.0);
}

/// Outage lengths Geometric(r) from step 0: the stockpile of k steps runs out with probability
/// (1 - r)^k.
#[test]
fn geometric_outage_exhausts_the_stockpile_with_the_closed_form_probability() {
    let (r, k) = (0.3f64, 3);
    let shock = format!(
        r#"
[[shock]]
id = "outage"
kind = "capacity_loss"
target = {{ supplier = "s1" }}
markov = {{ down = 1.0, up = {r} }}
"#
    );
    // Horizon k + 1: only the first outage can exhaust the stock within it.
    let n = 20_000;
    let s = run(
        &single(k + 1, "stockpile.m = { days = 3, refill = false }", &shock),
        n,
        5,
    );
    let p_hat = s.variants[0].slots[0].metrics.p_shortage.mean;
    let p = (1.0 - r).powi(k as i32);
    let se = (p * (1.0 - p) / n as f64).sqrt();
    assert!((p_hat - p).abs() < 4.0 * se, "{p_hat} vs {p} (se {se})");
}

/// Leontief, two tiers deep: losing half of the raw supply halves the final output.
#[test]
fn halving_an_input_halves_the_output_two_tiers_deep() {
    let text = r#"
[scenario]
name = "bom"
horizon_days = 30

[[region]]
id = "A"

[[material]]
id = "raw"
value = 1

[[material]]
id = "mid"
value = 1
inputs = { raw = 2.0 }

[[material]]
id = "final"
value = 1
inputs = { mid = 0.5 }

[[supplier]]
id = "r1"
region = "A"
material = "raw"
capacity = 182.5

[[supplier]]
id = "r2"
region = "A"
material = "raw"
capacity = 182.5

[[supplier]]
id = "mid1"
region = "A"
material = "mid"
capacity = 365
sourcing.raw = { r1 = 0.5, r2 = 0.5 }

[[supplier]]
id = "fin"
region = "A"
material = "final"
capacity = 365

[[importer]]
id = "imp"
region = "A"
demand = { final = 365 }

[[shock]]
id = "loss"
kind = "capacity_loss"
target = { supplier = "r1" }
at_day = 0
duration_days = 30
"#;
    let s = run(text, 4, 1);
    let f = &s.variants[0].slots[0].metrics.fill_rate;
    assert!((f.mean - 0.5).abs() < 1e-12, "{}", f.mean);
}

/// An export ban against one importer leaves every other importer's fill unchanged: paired
/// against the same scenario with the ban disabled, the other importer's differences are all 0.
#[test]
fn an_export_ban_against_one_importer_leaves_the_others_alone() {
    let text = r#"
[scenario]
name = "ban"
horizon_days = 365

[[region]]
id = "CN"

[[region]]
id = "JP"

[[region]]
id = "EU"

[[material]]
id = "m"
value = 10

[[supplier]]
id = "cn"
region = "CN"
material = "m"
capacity = 10000

[[importer]]
id = "japan"
region = "JP"
demand = { m = 2000 }
stockpile.m = { days = 20 }

[[importer]]
id = "eu"
region = "EU"
demand = { m = 3000 }
stockpile.m = { days = 20 }

[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "CN" }
against = { region = "JP" }
rate_per_year = 2
duration_days = { dist = "lognormal", median = 30, p95 = 120 }
severity = { dist = "beta", mean = 0.7, sd = 0.2 }

[[strategy]]
id = "no-ban"
changes = [{ shock = "ban", enabled = false }]
"#;
    let s = run(text, 500, 9);
    let strat = &s.variants[1];
    let eu = strat.slots.iter().find(|x| x.importer == "eu").unwrap();
    for (metric, d) in eu.vs_baseline.as_ref().unwrap().named() {
        assert_eq!((d.mean, d.se), (0.0, 0.0), "eu {metric} moved");
    }
    let jp = strat.slots.iter().find(|x| x.importer == "japan").unwrap();
    let fill = &jp.vs_baseline.as_ref().unwrap().fill_rate;
    assert!(fill.mean > 0.0, "lifting the ban must help japan");
    assert!(
        s.variants[0]
            .slots
            .iter()
            .find(|x| x.importer == "eu")
            .unwrap()
            .metrics
            .fill_rate
            .mean
            == 1.0
    );
}

/// Use before refill: a supplier cut to half its output serves every buyer's use pro rata
/// first, and a stockholder's refill takes only what is left. Capacity 120 a day, cut to 60
/// for 40 days; A uses 60 a day, B 40. Each gets 60% of its use: B is 16 a day short (640 in
/// all) whether or not A holds a stockpile that it is trying to refill; A is 24 a day short,
/// and a stock of 600 covers 25 of the 40 days (360 unmet).
#[test]
fn refill_never_takes_supply_from_another_buyers_use() {
    let text = |stockpile: &str| {
        format!(
            r#"
[scenario]
name = "use-first"
horizon_days = 120

[[region]]
id = "S"

[[region]]
id = "D"

[[material]]
id = "m"
value = 10

[[supplier]]
id = "s1"
region = "S"
material = "m"
capacity = 43800  # 120 a day

[[importer]]
id = "a"
region = "D"
demand = {{ m = 21900 }}  # 60 a day
{stockpile}

[[importer]]
id = "b"
region = "D"
demand = {{ m = 14600 }}  # 40 a day

[[shock]]
id = "cut"
kind = "capacity_loss"
target = {{ supplier = "s1" }}
at_day = 10
duration_days = 40
severity = 0.5
"#
        )
    };
    let unmet = |text: &str| {
        let s = run(text, 8, 1);
        let slot = |id: &str| {
            let x = s.variants[0]
                .slots
                .iter()
                .find(|x| x.importer == id)
                .unwrap();
            x.metrics.unmet_units.mean
        };
        (slot("a"), slot("b"))
    };
    let (a_bare, b_bare) = unmet(&text(""));
    let (a_held, b_held) = unmet(&text("stockpile.m = { days = 10, refill_days = 5 }"));
    assert!((b_bare - 640.0).abs() < 1e-9, "{b_bare}");
    assert_eq!(b_held, b_bare, "A's refill took supply from B");
    assert!((a_bare - 960.0).abs() < 1e-9, "{a_bare}");
    assert!((a_held - 360.0).abs() < 1e-9, "{a_held}");
}

/// A stockpile behind a lead time, emptied by a supplier outage, refills to its target and no
/// further: goods that arrive when it is full overflow (and are counted), the stock never holds
/// more than its target, and it ends at its target.
#[test]
fn a_stockpile_behind_a_lead_time_refills_to_its_target() {
    let route = r#"
[[route]]
id = "sea"
lead_days = 5
carries = [{ from = "S", to = "D" }]

[[shock]]
id = "fire"
kind = "capacity_loss"
target = { supplier = "s1" }
at_day = 10
duration_days = 20
"#;
    // Ten times the demand in capacity: the refill is limited by its own pace (the whole
    // target in a day), so the position reaches its aim while demand is still going unmet.
    let text = single(120, "stockpile.m = { days = 5, refill_days = 1 }", route)
        .replace("capacity = 3650", "capacity = 36500");
    let loaded = load(&text);
    let model = &loaded.study.baseline;
    let mut scratch = Scratch::new(model);
    let mut events = Vec::new();
    sample_trial(model, 1, 0, &mut events);
    run_trial(model, &mut scratch, &events, None);
    let b = scratch.balance(0).unwrap();
    // Demand 10 a day: the stockpile holds 50, and 15 days of the outage go unmet.
    assert!((scratch.outcome(0)[0].unmet - 150.0).abs() < 1e-9, "{b:?}");
    assert!(
        b.over_target <= 1e-9,
        "a stock went above its target: {b:?}"
    );
    assert!(
        (b.stock_initial + b.arrived - b.used - b.overflow - b.stock_final).abs() < 1e-9,
        "{b:?}"
    );
    assert!((b.stock_final - 50.0).abs() < 1e-9, "{b:?}");
}

/// A route closure holds goods in transit: they arrive late, none are lost.
#[test]
fn route_closure_delays_goods_without_losing_them() {
    let text = r#"
[scenario]
name = "strait"
horizon_days = 60

[[region]]
id = "TW"

[[region]]
id = "JP"

[[material]]
id = "chips"
value = 1

[[supplier]]
id = "fab"
region = "TW"
material = "chips"
capacity = 3650

[[importer]]
id = "japan"
region = "JP"
demand = { chips = 3650 }

[[route]]
id = "strait"
lead_days = 5
carries = [{ from = "TW", to = "JP" }]

[[shock]]
id = "blockade"
kind = "route_closure"
target = { route = "strait" }
at_day = 10
duration_days = 10
"#;
    let loaded = load(text);
    let model = &loaded.study.baseline;
    let mut scratch = Scratch::new(model);
    let mut events = Vec::new();
    sample_trial(model, 1, 0, &mut events);
    run_trial(model, &mut scratch, &events, None);
    let b = scratch.balance(0).unwrap();
    assert!(
        (b.shipped + b.in_transit_initial - b.arrived - b.in_transit_final).abs() < 1e-9,
        "{b:?}"
    );
    assert!(
        (b.stock_initial + b.arrived - b.used - b.stock_final).abs() < 1e-9,
        "{b:?}"
    );
    // Ten days with nothing arriving, then deliveries resume at the normal pace, ten days late.
    assert!(
        (scratch.outcome(0)[0].unmet - 100.0).abs() < 1e-9,
        "{}",
        scratch.outcome(0)[0].unmet
    );
    assert!((b.in_transit_final - 50.0).abs() < 1e-9);
}

fn random_scenario(cfg: &[u32]) -> String {
    let c = |i: usize| cfg[i % cfg.len()];
    let mut t = String::from("[scenario]\nname = \"random\"\nhorizon_days = 120\n");
    t += &format!("step_days = {}\n", 1 + c(0) % 3);
    for r in ["A", "B", "C"] {
        t += &format!("[[region]]\nid = \"{r}\"\n");
    }
    // Some networks have markets, on either material or both, some with sticky prices.
    let market = |k: u32| {
        if k % 3 == 0 {
            format!(
                "[material.market]\ndemand_elasticity = {}\nsupply_elasticity = {}\nmax_price = {}\nadjust_days = {}\n",
                k as f64 / 100.0,
                (k % 7) as f64 / 20.0,
                1.5 + (k % 5) as f64,
                // Some prices are sticky.
                (k % 4) * 3
            )
        } else {
            String::new()
        }
    };
    t += &format!("[[material]]\nid = \"ore\"\nvalue = 5\n{}", market(c(3)));
    t += &format!(
        "[[material]]\nid = \"metal\"\nvalue = 50\ninputs = {{ ore = {} }}\n{}",
        0.5 + c(1) as f64 / 10.0,
        market(c(4))
    );
    for i in 0..3 {
        t += &format!("[[supplier]]\nid = \"ore{i}\"\nregion = \"{}\"\nmaterial = \"ore\"\ncapacity = {}\nspare = {}\nramp_days = {}\n", ["A", "B", "C"][i], 500 + c(2 + i) * 40, c(5 + i) as f64 / 20.0, c(8 + i) % 30);
    }
    for i in 0..2 {
        t += &format!("[[supplier]]\nid = \"metal{i}\"\nregion = \"{}\"\nmaterial = \"metal\"\ncapacity = {}\nstock_days.ore = {}\n", ["A", "B"][i], 300 + c(11 + i) * 30, c(13 + i) % 40);
        // Some networks ration by priority.
        if c(11 + i) % 3 == 0 {
            t += "priority_regions = [\"C\"]\n";
        }
    }
    for (i, r) in ["B", "C"].iter().enumerate() {
        t += &format!(
            "[[importer]]\nid = \"imp{i}\"\nregion = \"{r}\"\ndemand = {{ metal = {}, ore = {} }}\nswitch_days = {}\nstockpile.metal = {{ days = {}, refill_days = {} }}\n",
            100 + c(15 + i) * 10,
            50 + c(17 + i) * 5,
            c(19 + i) % 20,
            c(21 + i) % 60,
            10 + c(23 + i) % 100
        );
    }
    t += &format!("[[route]]\nid = \"sea\"\nlead_days = {}\ncarries = [{{ from = \"A\", to = \"B\" }}, {{ from = \"A\", to = \"C\" }}]\n", c(25) % 12);
    // Some networks have no pool.
    if c(26) % 4 != 0 {
        t += &format!(
            "[[pool]]\nid = \"pool\"\nmembers = [\"imp0\", \"imp1\"]\nmaterial = \"ore\"\ndays = {}\n",
            c(26) % 30
        );
    }
    t += &format!("[[shock]]\nid = \"outage\"\nkind = \"capacity_loss\"\ntarget = {{ material = \"ore\" }}\nrate_per_year = {}\nduration_days = {{ dist = \"exponential\", mean = {} }}\nseverity = {{ dist = \"uniform\", min = 0.2, max = 1.0 }}\nrecovery = {{ days = {} }}\nindependent = true\n", 1 + c(27) % 6, 5 + c(28) % 40, c(29) % 20);
    t += &format!("[[shock]]\nid = \"ban\"\nkind = \"export_ban\"\ntarget = {{ region = \"A\" }}\nagainst = {{ region = \"C\" }}\nrate_per_year = {}\nduration_days = {}\n", 1 + c(30) % 4, 5 + c(31) % 50);
    t += &format!("[[shock]]\nid = \"closure\"\nkind = \"route_closure\"\ntarget = {{ route = \"sea\" }}\nrate_per_year = {}\nduration_days = {}\n", c(32) % 5, 3 + c(33) % 30);
    t += &format!("[[shock]]\nid = \"surge\"\nkind = \"demand_surge\"\ntarget = {{ importer = \"imp1\" }}\nrate_per_year = {}\nduration_days = 20\nseverity = {}\n", c(34) % 4, c(35) as f64 / 10.0);
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The fast paths compute what the reference rules compute, bit for bit, in random
    /// networks (pools or none, priority rationing or pro rata, pipes, every shock kind).
    #[test]
    fn fast_paths_match_the_reference_in_random_networks(cfg in proptest::collection::vec(0u32..100, 36)) {
        let loaded = load(&random_scenario(&cfg));
        let model = &loaded.study.baseline;
        let events: Vec<Vec<Event>> = (0..5)
            .map(|trial| {
                let mut ev = Vec::new();
                sample_trial(model, 11, trial, &mut ev);
                ev
            })
            .collect();
        if let Err(e) = compare_with_reference(model, &events) {
            prop_assert!(false, "{}", e);
        }
    }

    /// Mass balance in every trial: everything shipped arrived or is in transit; everything that
    /// arrived was used, is in stock or overflowed a full stock. No stock ever holds more than
    /// its target.
    #[test]
    fn mass_balance_holds_in_random_networks(cfg in proptest::collection::vec(0u32..100, 36)) {
        let text = random_scenario(&cfg);
        let loaded = load(&text);
        let model = &loaded.study.baseline;
        let mut scratch = Scratch::new(model);
        // Five trials side by side: every lane balances on its own.
        let events: Vec<Vec<Event>> = (0..5)
            .map(|trial| {
                let mut ev = Vec::new();
                sample_trial(model, 11, trial, &mut ev);
                ev
            })
            .collect();
        run_group(model, &mut scratch, &events, None);
        for lane in 0..events.len() {
            let b = scratch.balance(lane).unwrap();
            let scale = 1.0 + b.shipped + b.stock_initial;
            prop_assert!((b.shipped + b.in_transit_initial - b.arrived - b.in_transit_final).abs() < 1e-9 * scale, "transit: {:?}", b);
            prop_assert!((b.stock_initial + b.arrived - b.used - b.overflow - b.stock_final).abs() < 1e-9 * scale, "stock: {:?}", b);
            prop_assert!(b.over_target <= 1e-9 * scale, "a stock above its target: {:?}", b);
            let first = model.importers[0].slots.start as usize;
            for (k, s) in scratch.outcome(lane).iter().enumerate() {
                prop_assert!(s.unmet >= 0.0 && s.unmet <= s.demand * (1.0 + 1e-12));
                // Markets: the highest price within the ceiling, the surplus part never
                // negative, and no price loss without a market.
                let mat = &model.materials[model.slots[first + k].material.ix()];
                match mat.market {
                    Some(m) => {
                        prop_assert!(s.peak_price >= 1.0 && s.peak_price <= m.curve.max_price, "{:?}", s);
                        prop_assert!(s.surplus_lost >= -1e-9 * (1.0 + s.extra_spend.abs()), "{:?}", s);
                    }
                    None => prop_assert!(s.peak_price == 1.0 && s.extra_spend == 0.0 && s.surplus_lost == 0.0),
                }
            }
        }
    }
}

/// Per trial, the units importer `imp1` is left short of (all its materials), in `text`'s
/// network over `trials` trials of seed 11.
fn unmet_of_imp1(text: &str, trials: u64) -> Vec<f64> {
    let loaded = load(text);
    let model = &loaded.study.baseline;
    let mut scratch = Scratch::new(model);
    let imp1 = model.importers.iter().position(|i| i.id == "imp1").unwrap();
    let first = model.importers[0].slots.start as usize;
    let slots = model.importers[imp1].slots.clone();
    let mut ev = Vec::new();
    (0..trials)
        .map(|trial| {
            sample_trial(model, 11, trial, &mut ev);
            run_trial(model, &mut scratch, &ev, None);
            let out = scratch.outcome(0);
            slots.clone().map(|b| out[b as usize - first].unmet).sum()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A stockpile held by one importer, refilled only at or below 1.05 times the reference
    /// price and only after every buyer's use, never raises another importer's expected unmet
    /// demand: in random networks with markets on both materials, imp0 with and without its
    /// metal stockpile, on common random numbers, imp1's paired change in mean unmet units is
    /// not above zero beyond 3 standard errors.
    ///
    /// imp1 holds no stock of its own here (no stockpile, no pool): a stock of its own that
    /// refills at the same threshold shares the spare supply with imp0's refill, rebuilds more
    /// slowly and runs out sooner in a second shock, a real effect of two stocks rebuilding at
    /// once (docs/model.md, "What the model leaves out"). Prices clear at once, goods arrive
    /// the step they ship and processors hold no input stocks: the next three tests lift one
    /// of these each, and none of them holds (each says why).
    #[test]
    fn a_calm_refill_stockpile_never_raises_anothers_unmet(cfg in proptest::collection::vec(0u32..100, 36)) {
        imp1_unmet_does_not_rise(cfg, Widen::None)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// The same with a lead time on the sea route: it does not hold yet. Goods bought at one
    /// step's price meet the need at a later step's; a stockpile's refill moves the price (it
    /// bids, then stops), and when the price falls between purchase and arrival a buyer
    /// without stock is short by the difference. Measuring the need at the price paid does
    /// not cure it: a ban moves purchases meant for the pipe to a supplier without the lead
    /// time, and the pipe runs empty when it ends; buyers would have to order for the step
    /// goods arrive (docs/model.md, "What the model leaves out").
    #[test]
    #[ignore = "does not hold yet: buyers order at a steady rate, not for the step goods arrive"]
    fn a_calm_refill_stockpile_never_raises_anothers_unmet_with_lead_times(cfg in proptest::collection::vec(0u32..100, 36)) {
        imp1_unmet_does_not_rise(cfg, Widen::LeadTimes)?;
    }

    /// The same with sticky prices: it does not hold. The stockpile's refill orders raise the
    /// processors' planned output and input buying, so more metal can be offered and the
    /// lagging price runs lower; when a shock comes, demand at that lower price is larger and
    /// rationing at the lagging price leaves more of it unmet, although the other importer
    /// consumes about as much and pays less (in one network, 4,000 paired trials: unmet
    /// +0.24%, 13 standard errors; consumption -0.02%; extra spend -6%; surplus lost -8%).
    /// docs/model.md, "What the model leaves out".
    #[test]
    #[ignore = "does not hold: with sticky prices a stockpile lowers the lagging price, and unmet demand is measured at it"]
    fn a_calm_refill_stockpile_never_raises_anothers_unmet_with_sticky_prices(cfg in proptest::collection::vec(0u32..100, 36)) {
        imp1_unmet_does_not_rise(cfg, Widen::StickyPrices)?;
    }

    /// The same with the processors' input stocks: it does not hold yet. A processor can make
    /// output for a downstream stockpile's refill from its input stock, and its input stock is
    /// then rebuilt ahead of other buyers' use below the ceiling, so a refill downstream can
    /// draw down the buffer that later protects other buyers (in one network, +0.1% of imp1's
    /// unmet, 10 standard errors over 4,000 paired trials). docs/model.md, "What the model
    /// leaves out".
    #[test]
    #[ignore = "does not hold yet: a processor's input stock can serve a downstream refill"]
    fn a_calm_refill_stockpile_never_raises_anothers_unmet_with_input_stocks(cfg in proptest::collection::vec(0u32..100, 36)) {
        imp1_unmet_does_not_rise(cfg, Widen::InputStocks)?;
    }
}

/// Which feature [`imp1_unmet_does_not_rise`] lets random networks have beyond the domain
/// where the property holds.
#[derive(Clone, Copy, PartialEq)]
enum Widen {
    None,
    LeadTimes,
    StickyPrices,
    InputStocks,
}

/// imp1's paired change in mean unmet units, when imp0 holds 30 to 59 days of metal, is not
/// above zero beyond 3 standard errors, in `random_scenario(cfg)` with markets on both
/// materials, imp1 holding no stock and no pool, prices that clear at once, no lead time and
/// no processor's input stock, except the feature `widen` lets in. 200 paired trials.
fn imp1_unmet_does_not_rise(mut cfg: Vec<u32>, widen: Widen) -> Result<(), TestCaseError> {
    // Markets on both materials (see `random_scenario`): a multiple of 3; a multiple of 12
    // also clears at once.
    let market = if widen == Widen::StickyPrices { 3 } else { 12 };
    cfg[3] -= cfg[3] % market;
    cfg[4] -= cfg[4] % market;
    if widen != Widen::LeadTimes {
        cfg[25] -= cfg[25] % 12; // no lead time on the sea route
    }
    cfg[21] = 30 + cfg[21] % 30; // imp0 holds 30 to 59 days of metal
    cfg[22] = 0; // imp1 holds none
    cfg[26] = 0; // and there is no pool
    if widen != Widen::InputStocks {
        cfg[13] = 0;
        cfg[14] = 0;
    }
    let with = random_scenario(&cfg);
    let days = cfg[21];
    let line = format!("stockpile.metal = {{ days = {days}, refill_days");
    assert!(with.contains(&line), "{with}");
    let without = with.replacen(&line, "stockpile.metal = { days = 0, refill_days", 1);
    let trials = 200;
    let (a, b) = (
        unmet_of_imp1(&with, trials),
        unmet_of_imp1(&without, trials),
    );
    let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
    let n = trials as f64;
    let mean = d.iter().sum::<f64>() / n;
    let var = d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let (se, scale) = ((var / n).sqrt(), b.iter().sum::<f64>() / n);
    prop_assert!(
        mean <= 3.0 * se + 1e-9 * (1.0 + scale),
        "imp1's unmet rises by {} (se {}) from {}",
        mean,
        se,
        scale
    );
    Ok(())
}

/// A trial computed in a group gives exactly what it gives alone, in every lane and whatever its
/// neighbours: on every shipped scenario (pipes, pools, spot markets, priority rationing) and
/// on each strategy of the flagship.
#[test]
fn a_lane_of_a_group_is_the_trial_run_alone() {
    let names = [
        "japan-eu-critical-materials",
        "taiwan-advanced-chips",
        "us-japan-batteries",
        "rare-earths-2010-replay",
    ];
    for_every_model(&names, |name, model| {
        let mut group = Scratch::new(model);
        let mut alone = Scratch::new(model);
        // Trials 100.. have shocks in most lanes; a short group leaves lanes idle.
        for (first, n) in [(100u64, LANES), (7, 3)] {
            let events = group_events(model, first, n);
            run_group(model, &mut group, &events, None);
            for (lane, ev) in events.iter().enumerate() {
                run_trial(model, &mut alone, ev, None);
                assert_eq!(group.outcome(lane), alone.outcome(0), "{name} lane {lane}");
                assert_eq!(group.balance(lane), alone.balance(0), "{name} lane {lane}");
            }
        }
    });
}

/// Every shipped scenario.
const SHIPPED: [&str; 11] = [
    "bench/reference-30",
    "japan-eu-critical-materials",
    "taiwan-advanced-chips",
    "us-japan-batteries",
    "rare-earths-2010-replay",
    "cobalt-2025-replay",
    "gallium-2023-replay",
    "graphite-2023-replay",
    "magnets-2025-replay",
    "minimal",
    "starter",
];

/// The events of trials `first..first + n` (seed 5), one group.
fn group_events(model: &supplyshock::model::Model, first: u64, n: usize) -> Vec<Vec<Event>> {
    group_events_seeded(model, 5, first, n)
}

/// `f(name, model)` for the baseline and every strategy of each shipped scenario in `names`.
fn for_every_model(names: &[&str], mut f: impl FnMut(&str, &supplyshock::model::Model)) {
    for name in names {
        let loaded =
            supplyshock::model::load(&repo().join(format!("scenarios/{name}.toml"))).unwrap();
        f(name, &loaded.study.baseline);
        for strategy in &loaded.study.strategies {
            f(name, &strategy.model);
        }
    }
}

/// Every fast path off ([`Scratch::reference`]: the per-lane reference rules, every event on
/// the general path, every step's shock bookkeeping) computes the same bits as every fast path
/// on: fills, curves, outcomes and balances, on every shipped scenario and strategy, in full and
/// partial groups.
#[test]
fn fast_paths_compute_what_the_reference_rules_compute() {
    for_every_model(&SHIPPED, |name, model| {
        for (first, n) in [(100u64, LANES), (7, 3)] {
            let events = group_events(model, first, n);
            if let Err(e) = compare_with_reference(model, &events) {
                panic!("{name}, trials {first}..: {e}");
            }
        }
    });
}

/// Run one group both ways (all fast paths, none), each after another group on the same
/// scratch, and say where they differ.
fn compare_with_reference(
    model: &supplyshock::model::Model,
    events: &[Vec<Event>],
) -> Result<(), String> {
    let n_slots = model.importer_slots().count();
    let run_with = |mut scratch: Scratch| {
        // Another group first, on the same scratch: nothing it leaves (what a group keeps for
        // the histograms among the rest) may reach the next.
        let before: Vec<Vec<Event>> = events.iter().rev().cloned().collect();
        run_group(model, &mut scratch, &before, None);
        let mut curves = CurveAcc::new(n_slots, model.n_steps as usize);
        run_group(model, &mut scratch, events, Some(&mut curves));
        (scratch, curves)
    };
    let (fast, fast_curves) = run_with(Scratch::new(model));
    let (reference, reference_curves) = run_with(Scratch::reference(model));
    let bits = |s: &Scratch| -> Vec<u64> {
        s.fills()
            .iter()
            .flat_map(|f| {
                f.0[..events.len()]
                    .iter()
                    .map(|x| x.to_bits())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    if bits(&fast) != bits(&reference) {
        return Err("fills differ".into());
    }
    if fast_curves != reference_curves {
        return Err("curves differ".into());
    }
    for lane in 0..events.len() {
        let (a, b) = (fast.outcome(lane), reference.outcome(lane));
        let same = a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| format!("{x:?}") == format!("{y:?}"));
        if !same || fast.balance(lane) != reference.balance(lane) {
            return Err(format!(
                "lane {lane}: outcomes {a:?} against {b:?}, balances {:?} against {:?}",
                fast.balance(lane),
                reference.balance(lane)
            ));
        }
    }
    Ok(())
}

/// Capacity losses with a fixed severity, no ramp and suppliers of their own are laid out on
/// step masks ("outage masks") instead of being started and ended step by step: they give exactly
/// what the general event path gives. A disabled copy of each such shock (it fires nothing, but
/// shares the suppliers) sends the same events down the general path.
#[test]
fn outage_masks_give_what_the_event_path_gives() {
    for name in [
        "bench/reference-30",
        "japan-eu-critical-materials",
        "us-japan-batteries",
    ] {
        let loaded =
            supplyshock::model::load(&repo().join(format!("scenarios/{name}.toml"))).unwrap();
        let model = &loaded.study.baseline;
        let mut general = model.clone();
        for shock in &model.shocks {
            if shock.kind == supplyshock::model::ShockKind::CapacityLoss {
                general.shocks.push(supplyshock::model::Shock {
                    enabled: false,
                    ..shock.clone()
                });
            }
        }
        let events = group_events(model, 100, LANES);
        assert!(events.iter().any(|e| !e.is_empty()), "{name}: no events");
        let (mut a, mut b) = (Scratch::new(model), Scratch::new(&general));
        run_group(model, &mut a, &events, None);
        run_group(&general, &mut b, &events, None);
        assert_eq!(a.fills(), b.fills(), "{name}");
        for lane in 0..LANES {
            assert_eq!(a.outcome(lane), b.outcome(lane), "{name} lane {lane}");
            assert_eq!(a.balance(lane), b.balance(lane), "{name} lane {lane}");
        }
    }
}

/// The step loop compiled for a wider instruction set computes the same bits as the baseline:
/// fills, curves, outcomes and balances, on every shipped scenario and strategy, in full and
/// partial groups. (On a CPU with only the baseline there is nothing to compare.)
#[test]
fn every_instruction_set_computes_the_same_bits() {
    let wide: Vec<Isa> = [Isa::Avx2].into_iter().filter(|i| i.supported()).collect();
    if wide.is_empty() {
        eprintln!("this CPU has only the baseline instruction set: nothing to compare");
        return;
    }
    for_every_model(&SHIPPED, |name, model| {
        let n_slots = model.importer_slots().count();
        let run_on = |isa: Isa, events: &[Vec<Event>]| {
            let mut scratch = Scratch::new(model);
            let mut curves = CurveAcc::new(n_slots, model.n_steps as usize);
            run_group_on(isa, model, &mut scratch, events, Some(&mut curves));
            (scratch, curves)
        };
        for (first, n) in [(100u64, LANES), (7, 3)] {
            let events = group_events(model, first, n);
            let (base, base_curves) = run_on(Isa::Baseline, &events);
            for &isa in &wide {
                let (other, curves) = run_on(isa, &events);
                let bits = |s: &Scratch| -> Vec<u64> {
                    s.fills()
                        .iter()
                        .flat_map(|f| f.0.map(f64::to_bits))
                        .collect()
                };
                assert_eq!(bits(&base), bits(&other), "{name} {isa:?}: fills");
                assert_eq!(base_curves, curves, "{name} {isa:?}: curves");
                for lane in 0..n {
                    assert_eq!(base.outcome(lane), other.outcome(lane), "{name} {isa:?}");
                    assert_eq!(base.balance(lane), other.balance(lane), "{name} {isa:?}");
                }
            }
        }
    });
}

/// A run's variants step in lockstep with its baseline, and a variant whose market of a
/// material is the baseline's (everything its clearing reads besides its inputs is the same)
/// repeats the baseline's clearing of a lane when its inputs recur. Every variant computes the
/// same bits as when run alone: fills, curves, outcomes and balances, on every shipped scenario
/// with strategies, in full and partial groups. On the flagship such repeats happen, and a
/// stockpile strategy shares every market but those of the materials it stocks.
#[test]
fn variants_in_lockstep_compute_what_each_computes_alone() {
    use supplyshock::engine::{run_lockstep, Lockstep};
    use supplyshock::runner::Plan;
    for name in &SHIPPED {
        let loaded =
            supplyshock::model::load(&repo().join(format!("scenarios/{name}.toml"))).unwrap();
        if loaded.study.strategies.is_empty() {
            continue;
        }
        let strategies: Vec<usize> = (0..loaded.study.strategies.len()).collect();
        let plan = Plan::new(&loaded.study, &strategies);
        let base = plan.models[0];
        let new_curves = |m: &supplyshock::model::Model| {
            CurveAcc::new(m.importer_slots().count(), m.n_steps as usize)
        };
        // As in a run, each scratch serves group after group (a trial without events between
        // them), so records kept from earlier groups are in play.
        let mut scratch: Vec<Scratch> = plan.models.iter().map(|m| Scratch::new(m)).collect();
        let mut alone: Vec<Scratch> = plan.models.iter().map(|m| Scratch::new(m)).collect();
        let mut curves: Vec<CurveAcc> = plan.models.iter().map(|m| new_curves(m)).collect();
        let mut alone_curves: Vec<CurveAcc> = plan.models.iter().map(|m| new_curves(m)).collect();
        for (first, n) in [(100u64, LANES), (7, 3), (300, LANES)] {
            let events: Vec<Vec<Vec<Event>>> = plan
                .models
                .iter()
                .map(|m| group_events(m, first, n))
                .collect();
            let mut runs = Lockstep::each(
                &plan.models,
                &mut scratch,
                events.iter().map(Vec::as_slice),
                curves.iter_mut().map(Some),
            );
            run_lockstep(&mut runs);
            drop(runs);
            for (v, &model) in plan.models.iter().enumerate() {
                let id = &plan.ids[v];
                let solo = &mut alone[v];
                run_group(model, solo, &events[v], Some(&mut alone_curves[v]));
                let bits = |s: &Scratch| -> Vec<u64> {
                    s.fills()
                        .iter()
                        .flat_map(|f| f.0.map(f64::to_bits))
                        .collect()
                };
                let ours = &scratch[v];
                assert_eq!(bits(ours), bits(solo), "{name} {id}: fills");
                assert!(curves[v] == alone_curves[v], "{name} {id}: curves");
                for lane in 0..n {
                    assert_eq!(ours.outcome(lane), solo.outcome(lane), "{name} {id}");
                    assert_eq!(ours.balance(lane), solo.balance(lane), "{name} {id}");
                }
            }
            for (s, &model) in scratch.iter_mut().zip(&plan.models) {
                run_group(model, s, &[Vec::<Event>::new()], None);
            }
        }
        if *name == "japan-eu-critical-materials" {
            let repeats: u64 = scratch.iter().map(Scratch::shared_repeats).sum();
            assert!(repeats > 0, "{name}: no clearing repeated the baseline's");
            let v = plan.ids.iter().position(|id| id == "stockpile-60").unwrap();
            for (m, material) in base.materials.iter().enumerate() {
                let stocked =
                    ["gallium", "germanium", "natural_graphite"].contains(&material.id.as_str());
                assert_eq!(
                    scratch[v].shares_market_with(&scratch[0], m),
                    material.market.is_some() && !stocked,
                    "{name}: {}",
                    material.id
                );
            }
        }
    }
}

/// What a variant changes in one market keeps that market from being shared with the baseline,
/// and no other: copies of the flagship's baseline with gallium's suppliers' capacity raised,
/// with gallium's demand more elastic, or with magnet makers' spare capacity doubled, each share
/// every market but the one changed, and run in lockstep with the baseline compute what each
/// computes alone.
#[test]
fn a_variant_that_changes_one_market_shares_every_other() {
    use supplyshock::engine::{run_lockstep, Lockstep};
    let loaded =
        supplyshock::model::load(&repo().join("scenarios/japan-eu-critical-materials.toml"))
            .unwrap();
    let base = &loaded.study.baseline;
    let find = |id: &str| base.materials.iter().position(|m| m.id == id).unwrap();
    let (ga, magnets) = (find("gallium"), find("ndfeb_magnet"));
    let mut capacity = base.clone();
    for &x in &base.material_suppliers[ga] {
        capacity.suppliers[x.ix()].capacity *= 1.5;
    }
    let mut elastic = base.clone();
    elastic.materials[ga]
        .market
        .as_mut()
        .unwrap()
        .curve
        .demand_elasticity *= 2.0;
    let mut spare = base.clone();
    for &x in &base.material_suppliers[magnets] {
        spare.suppliers[x.ix()].spare = 2.0 * spare.suppliers[x.ix()].spare + 0.05;
    }
    let models = [base, &capacity, &elastic, &spare];
    let changed = [ga, ga, magnets];
    let events: Vec<Vec<Event>> = group_events(base, 100, LANES);
    assert!(events.iter().all(|e| !e.is_empty()));
    let mut scratch: Vec<Scratch> = models.iter().map(|m| Scratch::new(m)).collect();
    let (first, rest) = scratch.split_first_mut().unwrap();
    for (v, s) in rest.iter().enumerate() {
        for m in 0..base.materials.len() {
            let market = base.materials[m].market.is_some();
            assert_eq!(
                s.shares_market_with(first, m),
                market && m != changed[v],
                "variant {v}, material {m}"
            );
        }
    }
    let mut runs = Lockstep::each(
        &models,
        &mut scratch,
        std::iter::repeat(&events[..]),
        std::iter::repeat_with(|| None),
    );
    run_lockstep(&mut runs);
    drop(runs);
    for (v, &model) in models.iter().enumerate() {
        let mut alone = Scratch::new(model);
        run_group(model, &mut alone, &events, None);
        let first_difference = scratch[v]
            .fills()
            .iter()
            .zip(alone.fills())
            .position(|(a, b)| a.0.map(f64::to_bits) != b.0.map(f64::to_bits));
        assert_eq!(
            first_difference, None,
            "variant {v}: fills differ from this index"
        );
        for lane in 0..LANES {
            assert_eq!(scratch[v].outcome(lane), alone.outcome(lane), "variant {v}");
        }
        assert!(
            v == 0 || scratch[v].shared_repeats() > 0,
            "variant {v}: no repeats"
        );
    }
}

/// A trial in which no shock strikes is run once per variant and its outcome reused (the
/// runner's `Quiet`). What a run accumulates must be what running every trial gives: the fill
/// and price histograms and every trial's loss, per variant, compared here with each trial run
/// in groups of eight in trial order. On the chips scenario most trials have no event, on the
/// batteries scenario few do; the starter has markets too.
#[test]
fn trials_without_events_reused_give_what_running_every_trial_gives() {
    use supplyshock::metrics::ImporterMetrics;
    use supplyshock::runner::{losses_of, price_acc, run_all, Plan};
    let (trials, seed) = (200u64, 11);
    for name in ["taiwan-advanced-chips", "us-japan-batteries", "starter"] {
        let loaded =
            supplyshock::model::load(&repo().join(format!("scenarios/{name}.toml"))).unwrap();
        let strategies: Vec<usize> = (0..loaded.study.strategies.len()).collect();
        let plan = Plan::new(&loaded.study, &strategies);
        let acc = run_all(&plan, trials, seed);
        let mut quiet = vec![true; trials as usize];
        for (v, &model) in plan.models.iter().enumerate() {
            let mut scratch = Scratch::new(model).unaudited();
            let mut curves = CurveAcc::new(model.importer_slots().count(), model.n_steps as usize);
            let mut prices = price_acc(model);
            let mut losses = Vec::new();
            for first in (0..trials).step_by(LANES) {
                let n = (trials - first).min(LANES as u64) as usize;
                let events = group_events_seeded(model, seed, first, n);
                for (l, ev) in events.iter().enumerate() {
                    quiet[first as usize + l] &= ev.is_empty();
                }
                run_group(model, &mut scratch, &events, Some(&mut curves));
                if !prices.is_empty() {
                    scratch.record_prices(&mut prices, n);
                }
                for l in 0..n {
                    for imp in &model.importers {
                        let x = ImporterMetrics::of_trial(model, imp, scratch.outcome(l));
                        losses.push(x.loss_value as f32);
                    }
                }
            }
            assert!(
                acc.ints[v].curves == curves,
                "{name} variant {v}: fill histograms"
            );
            assert!(
                acc.ints[v].prices == prices,
                "{name} variant {v}: price histograms"
            );
            let ni = model.importers.len();
            for i in 0..ni {
                let each: Vec<u32> = losses
                    .iter()
                    .skip(i)
                    .step_by(ni)
                    .map(|x| x.to_bits())
                    .collect();
                let run: Vec<u32> = losses_of(&acc, v, i, ni)
                    .iter()
                    .map(|x| x.to_bits())
                    .collect();
                assert_eq!(run, each, "{name} variant {v} importer {i}: losses");
            }
        }
        let n_quiet = quiet.iter().filter(|&&q| q).count();
        assert!(
            n_quiet > 0 && n_quiet < trials as usize,
            "{name}: {n_quiet} of {trials} trials without events; the test needs both kinds"
        );
    }
}

/// The events of trials `first..first + n` with `seed`, one group.
fn group_events_seeded(
    model: &supplyshock::model::Model,
    seed: u64,
    first: u64,
    n: usize,
) -> Vec<Vec<Event>> {
    (first..first + n as u64)
        .map(|trial| {
            let mut ev = Vec::new();
            sample_trial(model, seed, trial, &mut ev);
            ev
        })
        .collect()
}

/// A run on one machine folds each block's sums as the blocks finish, in block order: the
/// same sums, to the bit, as a part's per-block sums reduced in order, whatever the threads
/// (with more workers than cores, blocks finish out of order), with the same losses and
/// histograms; its blocks keep no sums of their own.
#[test]
fn block_sums_folded_as_blocks_finish_are_the_block_sums_reduced_in_order() {
    use supplyshock::runner::{losses_of, n_blocks, reduce_blocks, run_blocks, Plan, Sums};
    let loaded = supplyshock::model::load(&repo().join("scenarios/starter.toml")).unwrap();
    let strategies: Vec<usize> = (0..loaded.study.strategies.len()).collect();
    let plan = Plan::new(&loaded.study, &strategies);
    let (trials, seed) = (2000u64, 5);
    let blocks = 0..n_blocks(trials);
    assert!(blocks.end > 100, "many blocks: {blocks:?}");
    let per_block = run_blocks(&plan, trials, seed, blocks.clone(), Sums::PerBlock, None);
    assert!(per_block.folded.is_none());
    let want = format!("{:?}", reduce_blocks(&per_block));
    for threads in [1, 3, 7] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let folded =
            pool.install(|| run_blocks(&plan, trials, seed, blocks.clone(), Sums::Folded, None));
        assert!(folded.folded.is_some());
        assert_eq!(
            format!("{:?}", reduce_blocks(&folded)),
            want,
            "{threads} threads"
        );
        assert_eq!(folded.blocks.len(), per_block.blocks.len());
        assert!(folded.blocks.iter().all(|b| b.variants.is_empty()));
        assert_eq!(folded.ints, per_block.ints);
        for (v, model) in plan.models.iter().enumerate() {
            let ni = model.importers.len();
            for i in 0..ni {
                assert_eq!(
                    losses_of(&folded, v, i, ni),
                    losses_of(&per_block, v, i, ni)
                );
            }
        }
    }
}
