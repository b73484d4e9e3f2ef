//! Invalid scenarios and the diagnostics they produce.
//!
//! Each case is a small scenario with one problem (or, for `several_problems`,
//! `two_unknown_keys_in_one_table` and `key_and_type_errors_in_four_tables`, several). The
//! rendered diagnostics are snapshotted with insta, so every case pins the message, line, column,
//! key and hint a user sees; a snapshot's name is its case's name in [`CASES`]. Most cases append
//! to [`base!`], a valid one-material network that ends inside its `[[importer]]` table, so a case
//! can add importer keys as well as new tables (line 34 is a case's first line).
//!
//! Refresh the snapshots with `INSTA_UPDATE=always cargo test --release --test it invalid`, then
//! read every changed `.snap`: it is what a user will be told.

use std::panic::{catch_unwind, AssertUnwindSafe};

use supplyshock::diag::{render, Diagnostic};
use supplyshock::model::load_str;

/// A valid scenario (lines 1-33): regions A, B, HOME; material `oxide`; suppliers `a_refiner`
/// (A) and `b_refiner` (B); importer `home` (HOME) buying oxide at market shares.
macro_rules! base {
    () => {
        r#"[scenario]
name = "test"
horizon_days = 365

[[region]]
id = "A"

[[region]]
id = "B"

[[region]]
id = "HOME"

[[material]]
id = "oxide"
value = 100

[[supplier]]
id = "a_refiner"
region = "A"
material = "oxide"
capacity = 800

[[supplier]]
id = "b_refiner"
region = "B"
material = "oxide"
capacity = 200

[[importer]]
id = "home"
region = "HOME"
demand = { oxide = 100 }
"#
    };
}

/// `(name, scenario text)`; the name is also the snapshot's name.
const CASES: &[(&str, &str)] = &[
    // ---- TOML syntax, types and keys (a syntax error alone; every key and type error at once)
    (
        "toml_syntax_error",
        r#"[scenario]
name = "broken"

[[region]
id = "A"
"#,
    ),
    (
        "toml_duplicate_key",
        concat!(base!(), "demand = { oxide = 50 }\n"),
    ),
    (
        "unknown_key_did_you_mean",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacty = 100
"#
        ),
    ),
    (
        "wrong_type",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacity = "lots"
"#
        ),
    ),
    (
        "missing_required_key",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
capacity = 100
"#
        ),
    ),
    (
        "two_unknown_keys_in_one_table",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacty = 100
spaer = 0.1
"#
        ),
    ),
    (
        "key_and_type_errors_in_four_tables",
        concat!(
            base!(),
            r#"switch_days = "ninety"

[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacty = 100

[[strategy]]
id = "expand"
changes = [{ supplier = "a_refiner", capacity = 1000, spair = 0.2 }]

[setings]
trials = 10
"#
        ),
    ),
    (
        "missing_scenario_table",
        r#"[[region]]
id = "A"
"#,
    ),
    // ---- [scenario]
    (
        "horizon_zero",
        r#"[scenario]
name = "test"
horizon_days = 0
"#,
    ),
    (
        "step_longer_than_horizon",
        r#"[scenario]
name = "test"
horizon_days = 30
step_days = 60
"#,
    ),
    // ---- ids
    (
        "unknown_region",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "HOEM"
material = "oxide"
capacity = 100
"#
        ),
    ),
    (
        "unknown_material",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxyde"
capacity = 100
"#
        ),
    ),
    (
        "unknown_supplier_in_sourcing",
        concat!(base!(), "sourcing.oxide = { a_refinr = 1.0 }\n"),
    ),
    (
        "duplicate_id",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "a_refiner"
region = "B"
material = "oxide"
capacity = 100
"#
        ),
    ),
    (
        "invalid_id_characters",
        concat!(
            base!(),
            r#"
[[region]]
id = "South Korea"
"#
        ),
    ),
    (
        "id_clash_region_supplier",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "A"
region = "A"
material = "oxide"
capacity = 100
"#
        ),
    ),
    // ---- numbers
    (
        "negative_capacity",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacity = -100
"#
        ),
    ),
    (
        "nan_capacity",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacity = nan
"#
        ),
    ),
    (
        "inf_value",
        concat!(
            base!(),
            r#"
[[material]]
id = "ore"
value = inf
"#
        ),
    ),
    (
        "governance_out_of_range",
        concat!(
            base!(),
            r#"
[[region]]
id = "C"
governance = 3.5
"#
        ),
    ),
    // ---- sourcing, stockpiles, bill of materials
    (
        "shares_over_one",
        concat!(
            base!(),
            "sourcing.oxide = { a_refiner = 0.8, b_refiner = 0.3 }\n"
        ),
    ),
    (
        "shares_under_one",
        concat!(
            base!(),
            "sourcing.oxide = { a_refiner = 0.5, b_refiner = 0.3 }\n"
        ),
    ),
    (
        "share_above_one",
        concat!(base!(), "sourcing.oxide = { a_refiner = 1.5 }\n"),
    ),
    (
        "sourcing_from_wrong_material",
        concat!(
            base!(),
            r#"sourcing.oxide = { ore_mine = 1.0 }

[[material]]
id = "ore"

[[supplier]]
id = "ore_mine"
region = "A"
material = "ore"
capacity = 100
"#
        ),
    ),
    (
        "supplier_sourcing_not_an_input",
        concat!(
            base!(),
            r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacity = 100
sourcing.ore = { a_refiner = 1.0 }
"#
        ),
    ),
    (
        "stockpile_not_demanded",
        concat!(base!(), "stockpile.oxid = { days = 30 }\n"),
    ),
    (
        "stockpile_without_days",
        concat!(base!(), "stockpile.oxide = { refill_days = 90 }\n"),
    ),
    (
        "demand_nobody_supplies",
        concat!(
            base!(),
            r#"
[[material]]
id = "ore"

[[importer]]
id = "home2"
region = "HOME"
demand = { ore = 10 }
"#
        ),
    ),
    (
        "bill_of_materials_cycle",
        concat!(
            base!(),
            r#"
[[material]]
id = "magnet"
inputs = { alloy = 0.3 }

[[material]]
id = "alloy"
inputs = { magnet = 0.1 }
"#
        ),
    ),
    (
        "trade_flow_claimed_twice",
        concat!(
            base!(),
            r#"
[[route]]
id = "sea"
carries = [{ from = "A", to = "HOME" }]

[[route]]
id = "rail"
carries = [{ from = "B", to = "HOME" }, { from = "A", to = "HOME" }]
"#
        ),
    ),
    // ---- shocks: targets
    (
        "unknown_shock_kind",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export-ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = 60
"#
        ),
    ),
    (
        "unknown_region_in_target",
        concat!(
            base!(),
            r#"
[[shock]]
id = "quake"
kind = "capacity_loss"
target = { region = "AA" }
rate_per_year = 0.2
duration_days = 60
"#
        ),
    ),
    (
        "target_selects_nothing",
        concat!(
            base!(),
            r#"
[[shock]]
id = "quake"
kind = "capacity_loss"
target = { region = "HOME" }
rate_per_year = 0.2
duration_days = 60
"#
        ),
    ),
    (
        "export_ban_cuts_no_flow",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
against = { region = "B" }
rate_per_year = 0.2
duration_days = 60
"#
        ),
    ),
    // ---- shocks: timing
    (
        "two_timings",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
at_day = 100
duration_days = 60
"#
        ),
    ),
    (
        "never_fires",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
duration_days = 60
"#
        ),
    ),
    (
        "missing_duration",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
"#
        ),
    ),
    (
        "at_day_beyond_horizon",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
at_day = 400
duration_days = 60
"#
        ),
    ),
    (
        "markov_probability_above_one",
        concat!(
            base!(),
            r#"
[[shock]]
id = "outage"
kind = "capacity_loss"
target = { supplier = "a_refiner" }
markov = { down = 1.5, up = 0.1 }
"#
        ),
    ),
    (
        "trigger_probability_above_one",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = 60
triggers = [{ shock = "panic_buying", probability = 1.2 }]

[[shock]]
id = "panic_buying"
kind = "demand_surge"
target = { importer = "home" }
duration_days = 30
severity = 0.3
"#
        ),
    ),
    (
        "trigger_loop",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = 60
triggers = [{ shock = "retaliation", probability = 0.5 }]

[[shock]]
id = "retaliation"
kind = "capacity_loss"
target = { region = "B" }
duration_days = 30
triggers = [{ shock = "ban", probability = 0.5 }]
"#
        ),
    ),
    // ---- shocks: distributions and severity
    (
        "lognormal_p95_below_median",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = { dist = "lognormal", median = 60, p95 = 30 }
"#
        ),
    ),
    (
        "beta_sd_too_large",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = 60
severity = { dist = "beta", mean = 0.9, sd = 0.4 }
"#
        ),
    ),
    (
        "beta_sd_too_small",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = 60
severity = { dist = "beta", mean = 0.5, sd = 1e-200 }
"#
        ),
    ),
    (
        "rate_per_year_too_high",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 1e308
duration_days = 60
"#
        ),
    ),
    (
        "uniform_max_below_min",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = { dist = "uniform", min = 30, max = 10 }
"#
        ),
    ),
    (
        "unknown_distribution",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = { dist = "lognormol", median = 60, p95 = 240 }
"#
        ),
    ),
    (
        "parameter_family_does_not_take",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = { dist = "exponential", mean = 30, sd = 5 }
"#
        ),
    ),
    (
        "distribution_without_dist",
        concat!(
            base!(),
            r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "A" }
rate_per_year = 0.2
duration_days = { median = 60, p95 = 240 }
"#
        ),
    ),
    (
        "severity_above_one",
        concat!(
            base!(),
            r#"
[[shock]]
id = "fire"
kind = "capacity_loss"
target = { supplier = "a_refiner" }
rate_per_year = 0.2
duration_days = 60
severity = 1.5
"#
        ),
    ),
    (
        "severity_on_route_closure",
        concat!(
            base!(),
            r#"
[[route]]
id = "strait"
carries = [{ from = "A", to = "HOME" }]

[[shock]]
id = "closure"
kind = "route_closure"
target = { route = "strait" }
rate_per_year = 0.2
duration_days = 20
severity = 0.5
"#
        ),
    ),
    // ---- strategies
    (
        "strategy_unknown_importer",
        concat!(
            base!(),
            r#"
[[strategy]]
id = "qualify"
changes = [{ importer = "hom", switch_days = 30 }]
"#
        ),
    ),
    (
        "strategy_key_not_allowed",
        concat!(
            base!(),
            r#"
[[strategy]]
id = "expand"
changes = [{ importer = "home", capacity = 5000 }]
"#
        ),
    ),
    (
        // A stock threshold belongs in the stockpile table (or on a pool), not on the importer.
        "strategy_threshold_on_importer",
        concat!(
            base!(),
            r#"
[[strategy]]
id = "release"
changes = [{ importer = "home", release_above = 1.5 }]
"#
        ),
    ),
    (
        "strategy_invalid_sourcing",
        concat!(
            base!(),
            r#"
[[strategy]]
id = "diversify"
changes = [{ importer = "home", sourcing.oxide = { a_refiner = 0.5, b_refiner = 0.4 } }]
"#
        ),
    ),
    (
        "strategy_reserved_id",
        concat!(
            base!(),
            r#"
[[strategy]]
id = "baseline"
changes = [{ importer = "home", switch_days = 30 }]
"#
        ),
    ),
    // ---- several problems: all reported in one pass, sorted by line
    (
        "several_problems",
        r#"[scenario]
name = "many"
horizon_days = 0

[[region]]
id = "A"
governance = 4

[[material]]
id = "oxide"
value = -1

[[supplier]]
id = "a_refiner"
region = "AA"
material = "oxide"
capacity = -5

[[supplier]]
id = "a_refiner"
region = "A"
material = "oxide"
capacity = nan
"#,
    ),
    // ---- markets
    (
        "market_out_of_bounds",
        concat!(
            base!(),
            r#"
[[material]]
id = "gallium"
value = 300000
[material.market]
demand_elasticity = -0.2
supply_elasticity = 50
max_price = 0.5
min_price = 2
"#
        ),
    ),
    (
        "market_unknown_key",
        concat!(
            base!(),
            r#"
[[material]]
id = "gallium"
value = 300000
[material.market]
demand_elasticity = 0.2
supply_elasticity = 0.05
adjust = 5
"#
        ),
    ),
    (
        "market_adjust_days",
        concat!(
            base!(),
            r#"
[[material]]
id = "gallium"
value = 300000
[material.market]
demand_elasticity = 0.2
supply_elasticity = 0.05
adjust_days = 5000
"#
        ),
    ),
];

/// Load `input`, assert it fails with well-formed diagnostics, and snapshot what the user sees.
fn check(name: &str, input: &str) {
    let diags = match load_str("scenario.toml", input.to_owned()) {
        Ok(_) => panic!("{name}: the scenario should be rejected"),
        Err(d) => d.0,
    };
    let rendered = render(&diags);
    insta::assert_snapshot!(name, rendered);
    assert!(diags.iter().any(Diagnostic::is_error), "{name}: no error");
    for d in &diags {
        assert!(d.line >= 1, "{name}: line 0 in\n{d}");
        assert!(d.column >= 1, "{name}: column 0 in\n{d}");
        assert!(
            d.hint.as_deref().is_some_and(|h| !h.trim().is_empty()),
            "{name}: no hint in\n{d}"
        );
    }
}

#[test]
fn invalid_scenarios_are_rejected_with_actionable_diagnostics() {
    assert!(CASES.len() >= 30);
    // Run every case even when one fails, so one run shows (and snapshots) them all.
    let failed: Vec<&str> = CASES
        .iter()
        .filter(|(name, input)| catch_unwind(AssertUnwindSafe(|| check(name, input))).is_err())
        .map(|(name, _)| *name)
        .collect();
    assert!(failed.is_empty(), "failing cases: {failed:?}");
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len());
}

#[test]
fn several_problems_are_reported_together_in_line_order() {
    let (_, input) = CASES
        .iter()
        .find(|(n, _)| *n == "several_problems")
        .unwrap();
    let diags = match load_str("scenario.toml", input.to_string()) {
        Ok(_) => panic!("should be rejected"),
        Err(d) => d.0,
    };
    let keys: Vec<&str> = diags.iter().map(|d| d.key.as_str()).collect();
    for want in [
        "scenario.horizon_days",
        "region[0].governance",
        "material[0].value",
        "supplier[0].region",
        "supplier[0].capacity",
        "supplier[1].id",
        "supplier[1].capacity",
    ] {
        assert!(keys.contains(&want), "{want} not reported; got {keys:?}");
    }
    let lines: Vec<usize> = diags.iter().map(|d| d.line).collect();
    assert!(lines.is_sorted(), "not sorted by line: {lines:?}");
}

fn case(name: &str) -> &'static str {
    CASES.iter().find(|(n, _)| *n == name).unwrap().1
}

#[test]
fn two_unknown_keys_in_one_table_are_both_reported() {
    let diags = match load_str(
        "scenario.toml",
        case("two_unknown_keys_in_one_table").to_owned(),
    ) {
        Ok(_) => panic!("should be rejected"),
        Err(d) => d.0,
    };
    let got: Vec<(usize, usize, &str)> = diags
        .iter()
        .map(|d| (d.line, d.column, d.key.as_str()))
        .collect();
    // `capacty` stands for `capacity`: the missing `capacity` is not a second problem.
    assert_eq!(
        got,
        [(39, 1, "supplier[2].capacty"), (40, 1, "supplier[2].spaer")],
        "{}",
        render(&diags)
    );
}

#[test]
fn check_reports_key_and_type_errors_of_every_table_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("four.toml");
    std::fs::write(&path, case("key_and_type_errors_in_four_tables")).unwrap();
    let out = assert_cmd::Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut at = 0;
    // In file order: an [[importer]] value, a [[supplier]] key, a key inside a [[strategy]]'s
    // changes, an unknown top-level table.
    for want in [
        "four.toml:34:15: importer[0].switch_days: invalid type: string \"ninety\", expected f64",
        "four.toml:40:1: supplier[2].capacty: unknown field `capacty`",
        "hint: did you mean `capacity`?",
        "four.toml:44:55: strategy[0](expand).changes[0].spair: unknown field `spair`",
        "hint: did you mean `spare`?",
        "four.toml:46:2: setings: unknown field `setings`",
        "4 errors found",
    ] {
        match stderr[at..].find(want) {
            Some(i) => at += i + want.len(),
            None => panic!("`{want}` not found in order in:\n{stderr}"),
        }
    }
}

#[test]
fn baseline_errors_are_not_repeated_for_each_strategy() {
    let input = concat!(
        base!(),
        r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacity = -100

[[strategy]]
id = "qualify"
changes = [{ importer = "home", switch_days = 30 }]
"#
    );
    let diags = match load_str("scenario.toml", input.to_owned()) {
        Ok(_) => panic!("should be rejected"),
        Err(d) => d.0,
    };
    assert_eq!(diags.len(), 1, "{}", render(&diags));
}

#[test]
fn check_command_exits_2_and_points_at_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad-scenario.toml");
    let text = concat!(
        base!(),
        r#"
[[supplier]]
id = "c_refiner"
region = "A"
material = "oxide"
capacity = -100
"#
    );
    std::fs::write(&path, text).unwrap();
    let out = assert_cmd::Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad-scenario.toml"), "{stderr}");
    assert!(stderr.contains(":39:12:"), "{stderr}");
    assert!(stderr.contains("supplier[2].capacity"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

/// Contracts asking more than a supplier's capacity leave buyers short with no shock at all:
/// `check` warns at the capacity (nothing did), and the file stays valid.
#[test]
fn contracts_above_capacity_are_warned_at_the_capacity() {
    let text = std::fs::read_to_string(crate::support::repo().join("scenarios/minimal.toml"))
        .unwrap()
        .replace("capacity = 1000 ", "capacity = 500 ");
    let loaded = supplyshock::model::load_str("s.toml", text).expect("still valid");
    let w = &loaded.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].key, "supplier[0].capacity");
    assert_eq!((w[0].line, w[0].column), (22, 12));
    assert!(
        w[0].message
            .contains("ask 900 a year, more than its capacity of 500"),
        "{}",
        w[0].message
    );
}
