//! Totals that leave balancing importers out (or count a chosen focus), and the executive
//! summary that opens report.md.

use assert_cmd::Command;
use supplyshock::briefing::{executive_summary, ranked_strategies};
use supplyshock::format::money;
use supplyshock::report::{summarize, Summary};
use supplyshock::runner::{losses_of, run_all, Plan};

use crate::support::{json_of, load};

/// Two named importers and a balancing one share a supplier that an export ban hits; a
/// stockpile for `jp` (costed) and one for `eu` (free) are the strategies.
const THREE: &str = r#"
[scenario]
name = "three buyers"
horizon_days = 200

[[region]]
id = "S"

[[region]]
id = "D"

[[material]]
id = "m"
value = 100

[[supplier]]
id = "s1"
region = "S"
material = "m"
capacity = 3650

[[importer]]
id = "jp"
region = "D"
demand = { m = 1000 }

[[importer]]
id = "eu"
region = "D"
demand = { m = 1500 }

[[importer]]
id = "row"
region = "D"
balancing = true
demand = { m = 1100 }

[[shock]]
id = "ban"
kind = "export_ban"
target = { supplier = "s1" }
rate_per_year = 3
duration_days = { dist = "lognormal", median = 20, p95 = 90 }
severity = { dist = "beta", mean = 0.8, sd = 0.1 }

[[strategy]]
id = "jp-stock"
name = "Japan stocks 30 days"
changes = [{ importer = "jp", stockpile.m = { days = 30 } }]
cost = { per_year = 1000 }

[[strategy]]
id = "eu-stock"
name = "EU stocks 10 days"
changes = [{ importer = "eu", stockpile.m = { days = 10 } }]
"#;

fn summary_with(focus: Option<&[&str]>, trials: u64) -> (Summary, Vec<Vec<f64>>) {
    let loaded = load(THREE);
    let study = &loaded.study;
    let plan = Plan::new(study, &[0, 1])
        .with_focus(focus.map(|f| f.iter().map(|s| s.to_string()).collect()));
    let acc = run_all(&plan, trials, 9);
    let costs: Vec<_> = std::iter::once(None)
        .chain(study.strategies.iter().map(|s| Some(s.cost.clone())))
        .collect();
    let s = summarize(&plan, &costs, &plan.ids.clone(), &acc, trials, 9);
    // Per variant, per trial: the total over the set, from the stored per-trial losses.
    let set: Vec<usize> = plan.total_set(0);
    let totals = (0..plan.models.len())
        .map(|v| {
            let per: Vec<Vec<f32>> = (0..3).map(|i| losses_of(&acc, v, i, 3)).collect();
            (0..trials as usize)
                .map(|t| set.iter().map(|&i| per[i][t] as f64).sum())
                .collect()
        })
        .collect();
    (s, totals)
}

fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// Relative agreement to the precision of the per-trial losses kept (f32).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn totals_leave_balancing_importers_out_and_count_a_focus_when_given() {
    let (s, totals) = summary_with(None, 400);
    assert_eq!(s.totals_cover, ["jp", "eu"]);
    assert!(!s.focus);
    for (v, var) in s.variants.iter().enumerate() {
        let named: f64 = var
            .importers
            .iter()
            .filter(|im| !im.balancing)
            .map(|im| im.metrics.loss_value.mean)
            .sum();
        let row = var.importers.iter().find(|im| im.balancing).unwrap();
        assert!(
            row.metrics.loss_value.mean > 0.0,
            "the ban must hurt row too"
        );
        assert!(close(var.total_loss.mean, named), "{v}");
        // The standard error is that of the per-trial totals, not a sum of standard errors.
        let (m, se) = mean_se(&totals[v]);
        assert!(
            close(var.total_loss.mean, m),
            "{v}: {} {m}",
            var.total_loss.mean
        );
        assert!(
            close(var.total_loss.se, se),
            "{v}: {} {se}",
            var.total_loss.se
        );
        if v > 0 {
            let d = var.total_loss_vs_baseline.unwrap();
            let (dm, dse) = mean_se(
                &totals[v]
                    .iter()
                    .zip(&totals[0])
                    .map(|(a, b)| a - b)
                    .collect::<Vec<_>>(),
            );
            assert!(close(d.mean, dm), "{v}: {} {dm}", d.mean);
            assert!(close(d.se, dse), "{v}: {} {dse}", d.se);
        }
    }
    // A focus: totals count exactly the importers named, balancing or not.
    let (f, totals) = summary_with(Some(&["row", "jp"]), 400);
    assert_eq!(f.totals_cover, ["jp", "row"]);
    assert!(f.focus);
    let base = &f.variants[0];
    let want: f64 = base
        .importers
        .iter()
        .filter(|im| im.importer != "eu")
        .map(|im| im.metrics.loss_value.mean)
        .sum();
    assert!(close(base.total_loss.mean, want));
    assert!(close(base.total_loss.se, mean_se(&totals[0]).1));
}

#[test]
fn the_executive_summary_ranks_strategies_by_net_benefit_with_the_summarys_numbers() {
    let (s, _) = summary_with(None, 400);
    let ranked = ranked_strategies(&s);
    assert_eq!(ranked.len(), 2);
    let years = 200.0 / 365.0;
    for r in &ranked {
        let v = s.variants.iter().find(|v| v.id == r.id).unwrap();
        let d = v.total_loss_vs_baseline.unwrap();
        let cost = v.yearly_cost.as_ref().unwrap().total * years;
        assert_eq!(r.avoided, -d.mean);
        assert_eq!(r.cost, cost);
        assert_eq!(r.net, -d.mean - cost);
        assert_eq!(r.net_ci95, [-d.ci95[1] - cost, -d.ci95[0] - cost]);
        assert_eq!(r.uncertain(), r.net_ci95[0] <= 0.0 && r.net_ci95[1] >= 0.0);
    }
    assert!(ranked[0].net >= ranked[1].net);
    let text = executive_summary(&s);
    // The balancing importer is named apart, the others in the totals.
    assert!(
        text.contains("Totals and rankings count JP and EU."),
        "{text}"
    );
    assert!(
        text.contains("**row (balancing)** stands for every other buyer"),
        "{text}"
    );
    // The ranked table carries the summary's figures, best first.
    let first = text.find(&format!("| 1 | **{}**", ranked[0].id)).unwrap();
    let second = text.find(&format!("| 2 | **{}**", ranked[1].id)).unwrap();
    assert!(first < second);
    for r in &ranked {
        assert!(text.contains(&money(r.net, "USD")), "{text}");
        assert!(text.contains(&money(r.avoided, "USD")), "{text}");
    }
    // Each counted importer's expected loss, as summary.json has it.
    for im in s.variants[0].importers.iter().filter(|im| !im.balancing) {
        assert!(
            text.contains(&format!(
                "expected loss {} over the horizon",
                money(im.metrics.loss_value.mean, "USD")
            )),
            "{text}"
        );
    }
    // Too few trials for a stable tail: said among the caveats.
    assert!(
        text.contains("400 trials leave 20 beyond the 95th percentile"),
        "{text}"
    );
}

#[test]
fn focus_names_known_importers_or_fails_with_the_ones_there_are() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("three.toml");
    std::fs::write(&file, THREE).unwrap();
    let v = json_of(
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["run", "--trials", "50", "-q", "-o", "-", "--focus", "eu,jp"])
            .arg(&file),
    );
    assert_eq!(v["totals_cover"], serde_json::json!(["jp", "eu"]));
    assert_eq!(v["focus"], true);
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "50", "-q", "-o", "-", "--focus", "japan"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--focus names unknown importer `japan`")
            && err.contains("importers in this scenario: jp, eu, row"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
