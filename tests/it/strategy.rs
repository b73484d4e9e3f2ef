//! Strategies on common random numbers, stress tests and sweeps.

use assert_cmd::Command;
use supplyshock::engine::{run_trial, Scratch};
use supplyshock::model::variant;
use supplyshock::shocks::sample_trial;
use supplyshock::sweep::changes_for;

use crate::support::{json_output, load, repo, run, single};

const BAN: &str = r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { supplier = "s1" }
rate_per_year = 3
duration_days = { dist = "lognormal", median = 20, p95 = 90 }
severity = { dist = "beta", mean = 0.8, sd = 0.1 }
"#;

/// A strategy identical to the baseline: every paired difference is exactly 0, interval [0, 0].
#[test]
fn a_strategy_identical_to_the_baseline_differs_by_exactly_zero() {
    let extra = format!("{BAN}\n[[strategy]]\nid = \"same\"\nchanges = [{{ importer = \"imp\", stockpile.m = {{ days = 10 }} }}]\n");
    let s = run(&single(365, "stockpile.m = { days = 10 }", &extra), 300, 4);
    let v = &s.variants[1];
    for sl in &v.slots {
        for (metric, d) in sl.vs_baseline.as_ref().unwrap().named() {
            assert_eq!((d.mean, d.se, d.ci95), (0.0, 0.0, [0.0, 0.0]), "{metric}");
        }
    }
    for im in &v.importers {
        for (metric, d) in im.vs_baseline.as_ref().unwrap().named() {
            assert_eq!((d.mean, d.ci95), (0.0, [0.0, 0.0]), "{metric}");
        }
    }
    assert!(
        s.variants[0].slots[0].metrics.p_shortage.mean > 0.0,
        "the ban must bite for the test to mean anything"
    );
}

/// `stress --remove s1 --days 20` against a 7-day stockpile: TTS 7, TTR 13, flagged.
#[test]
fn stress_test_times_match_the_hand_computation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, single(60, "stockpile.m = { days = 7 }", BAN)).unwrap();
    let v = json_output(
        &[
            "stress", "--remove", "s1", "--days", "20", "--format", "json",
        ],
        &path,
    );
    let row = &v["rows"][0];
    assert_eq!(row["tts_days"], 7.0);
    assert_eq!(row["ttr_days"], 13.0);
    assert_eq!(row["unmet_units"], 130.0);
    assert_eq!(row["flagged"], true);
}

/// Time to survive counts from the removal, as its definition says: behind a 10-day lead time
/// and a 7-day stockpile, goods already at sea carry the importer 10 days and the stockpile 7
/// more, so TTS is 17 (it was 7, counted from the onset of the deficit). A 15-day removal is
/// not flagged: the importer runs short only after the supplier is back, on the days its
/// unshipped goods would have arrived (8 days, 80 units).
#[test]
fn stress_time_to_survive_counts_from_the_removal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    let route =
        "[[route]]\nid = \"sea\"\nlead_days = 10\ncarries = [{ from = \"S\", to = \"D\" }]\n";
    std::fs::write(&path, single(90, "stockpile.m = { days = 7 }", route)).unwrap();
    let stress = |days: &str| {
        json_output(
            &[
                "stress", "--remove", "s1", "--days", days, "--format", "json",
            ],
            &path,
        )
    };
    let row = &stress("30")["rows"][0];
    assert_eq!(row["tts_days"], 17.0, "{row}");
    assert_eq!(row["flagged"], true);
    let row = &stress("15")["rows"][0];
    assert_eq!(row["tts_days"], 17.0, "{row}");
    assert_eq!(row["unmet_units"], 80.0, "{row}");
    assert_eq!(row["flagged"], false);
}

/// Two sources with shares s and 1 - s, one lost, no spare: fill is exactly s.
#[test]
fn losing_one_of_two_sources_leaves_exactly_its_share() {
    let text = r#"
[scenario]
name = "two sources"
horizon_days = 90

[[region]]
id = "A"

[[region]]
id = "B"

[[region]]
id = "D"

[[material]]
id = "m"
value = 1

[[supplier]]
id = "a"
region = "A"
material = "m"
capacity = 10000

[[supplier]]
id = "b"
region = "B"
material = "m"
capacity = 10000

[[importer]]
id = "imp"
region = "D"
demand = { m = 3650 }
sourcing.m = { a = 0.3, b = 0.7 }

[[shock]]
id = "b_down"
kind = "capacity_loss"
target = { supplier = "b" }
at_day = 0
duration_days = 90
"#;
    let s = run(text, 3, 1);
    let f = s.variants[0].slots[0].metrics.fill_rate.mean;
    assert!((f - 0.3).abs() < 1e-12, "{f}");
}

/// Common random numbers: the paired difference's standard error for a stockpile strategy on the
/// flagship is far smaller than that of two independent runs.
#[test]
fn common_random_numbers_shrink_the_standard_error_of_differences() {
    let text =
        std::fs::read_to_string(repo().join("scenarios/japan-eu-critical-materials.toml")).unwrap();
    let s = run(&text, 1000, 2024);
    let base = &s.variants[0];
    let strat = s.variants.iter().find(|v| v.id == "stockpile-180").unwrap();
    let i = base
        .importers
        .iter()
        .position(|x| x.importer == "japan")
        .unwrap();
    let paired = strat.importers[i]
        .vs_baseline
        .as_ref()
        .unwrap()
        .loss_value
        .se;
    let independent = (base.importers[i].metrics.loss_value.se.powi(2)
        + strat.importers[i].metrics.loss_value.se.powi(2))
    .sqrt();
    eprintln!(
        "japan loss: paired se {paired:.4e}, independent se {independent:.4e}, ratio {:.1}",
        independent / paired
    );
    assert!(
        independent >= 3.0 * paired,
        "paired {paired} vs independent {independent}"
    );
}

/// More stockpile never hurts: fill is non-decreasing in stockpile days, trial by trial.
#[test]
fn stockpile_sweep_is_monotone_trial_by_trial() {
    let loaded = load(&single(
        365,
        "stockpile.m = { days = 0 }\nswitch_days = 30",
        BAN,
    ));
    let models: Vec<_> = [0.0, 5.0, 15.0, 30.0, 60.0]
        .iter()
        .map(|&d| {
            variant(
                &loaded.raw,
                &loaded.source,
                &changes_for("importer.imp.stockpile.m.days", d).unwrap(),
                "sweep",
            )
            .unwrap()
        })
        .collect();
    let mut scratch: Vec<Scratch> = models.iter().map(Scratch::new).collect();
    let mut events = Vec::new();
    let mut strictly_better = 0;
    for trial in 0..300 {
        let mut prev = -1.0;
        for (m, sc) in models.iter().zip(&mut scratch) {
            sample_trial(m, 8, trial, &mut events);
            run_trial(m, sc, &events, None);
            let fill = sc.outcome(0)[0].fill_rate();
            assert!(
                fill >= prev - 1e-12,
                "trial {trial}: fill fell from {prev} to {fill}"
            );
            strictly_better += usize::from(prev >= 0.0 && fill > prev + 1e-9);
            prev = fill;
        }
    }
    assert!(strictly_better > 0);
}

#[test]
fn sweep_writes_a_response_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args([
            "sweep",
            "--set",
            "importer.home.stockpile.oxide.days=0,30,90",
            "--trials",
            "200",
            "-q",
            "-o",
        ])
        .arg(&out)
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .success();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sweep.json")).unwrap()).unwrap();
    let fills: Vec<f64> = v["variants"].as_array().unwrap()[1..]
        .iter()
        .map(|x| x["slots"][0]["fill_rate"]["mean"].as_f64().unwrap())
        .collect();
    assert_eq!(fills.len(), 3);
    assert!(fills.windows(2).all(|w| w[0] <= w[1]), "{fills:?}");
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["sweep", "--set", "importer.nobody.switch_days=1"])
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .code(2);
}
