//! Totals that leave balancing importers out (or count a chosen focus), and the executive
//! summary that opens report.md.

use assert_cmd::Command;
use supplyshock::briefing::{executive_summary, ranked_strategies};
use supplyshock::format::{count, money, percent};
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
    // Each importer's precision, balancing ones too, and the trials that would bring every
    // headline figure within 5% (one standard error; the error falls as the root of trials).
    let mut worst: f64 = 0.0;
    for im in &s.variants[0].importers {
        let m = &im.metrics.loss_value;
        let cvar = im.loss_cvar95_se.unwrap() / im.loss_cvar95;
        worst = worst.max(m.se / m.mean).max(cvar);
        let name = if im.balancing {
            "row (balancing)"
        } else {
            &im.importer.to_uppercase()
        };
        let want = format!(
            "{name} expected loss ±{}, CVaR95 ±{}",
            percent(m.se / m.mean),
            percent(cvar)
        );
        assert!(text.contains(&want), "{want} in {text}");
    }
    let need = (400.0 * (worst / 0.05_f64).powi(2) / 1000.0).ceil() * 1000.0;
    if worst > 0.05 {
        let want = format!("About {} trials would bring", count(need as u64));
        assert!(text.contains(&want), "{want} in {text}");
    }
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

/// One importer of 10 units a day with 10 days of stock, one supplier of exactly that, no
/// market: a full ban from day 5 for 20 days. By hand: stock carries days 5-14, days 15-24
/// go unmet in full, supply is back from day 25. Days short 10, deepest day 100%, time to
/// survive 10 (deficit from day 5, first shortage day 15), time to recover 10 (back to full
/// service on day 25), loss 10 days x 10 units x 100 = 10,000, and none without the shock.
/// A 30-day stock (the strategy) carries the whole ban: no shortage, 10,000 less loss.
#[test]
fn whatif_fires_the_named_shock_on_a_hand_computed_path() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("one.toml");
    let extra = r#"
[[shock]]
id = "ban"
name = "Full ban"
kind = "export_ban"
target = { supplier = "s1" }
rate_per_year = 3
duration_days = 7
severity = 0.5

[[strategy]]
id = "stock30"
changes = [{ importer = "imp", stockpile.m = { days = 30 } }]
"#;
    std::fs::write(
        &file,
        crate::support::single(60, "stockpile.m = { days = 10 }", extra),
    )
    .unwrap();
    let dir = tmp.path().join("out");
    let v = json_of(
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args([
                "whatif",
                "--shock",
                "ban",
                "--start",
                "5",
                "--days",
                "20",
                "--severity",
                "1",
                "--format",
                "json",
                "-o",
            ])
            .arg(&dir)
            .arg(&file),
    );
    assert_eq!(v["schema"], "supplyshock.whatif/1");
    assert_eq!(v["shock"]["start_day"], 5.0);
    assert_eq!(v["shock"]["days"], 20.0);
    let base = &v["variants"][0]["slots"][0];
    let fill: Vec<f64> = base["fill"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let want: Vec<f64> = (0..60)
        .map(|d| if (15..25).contains(&d) { 0.0 } else { 1.0 })
        .collect();
    assert_eq!(fill, want);
    assert_eq!(base["days_short"], 10.0);
    assert_eq!(base["max_depth"], 1.0);
    assert_eq!(base["time_to_survive_days"], 10.0);
    assert_eq!(base["time_to_recover_days"], 10.0);
    assert_eq!(base["loss"], 10_000.0);
    assert_eq!(base["calm_loss"], 0.0);
    assert!(base["price"].as_array().unwrap().iter().all(|p| p == 1.0));
    let stock = &v["variants"][1]["slots"][0];
    assert_eq!(v["variants"][1]["id"], "stock30");
    assert_eq!(stock["days_short"], 0.0);
    assert_eq!(stock["loss"], 0.0);
    assert!(stock["time_to_recover_days"].is_null());
    // The day-by-day path, written beside the JSON.
    let csv = std::fs::read_to_string(dir.join("path.csv")).unwrap();
    assert!(csv.starts_with("variant,importer,material,step,day,fill,price\n"));
    assert!(csv.contains("\nbaseline,imp,m,15,15,0,1\n"), "{csv}");
    assert!(csv.contains("\nstock30,imp,m,15,15,1,1\n"), "{csv}");
    // The table says what the strategy changes.
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args([
            "whatif",
            "--shock",
            "ban",
            "--start",
            "5",
            "--days",
            "20",
            "--severity",
            "1",
        ])
        .arg(&file)
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("-$10.0k vs baseline"), "{table}");
    // Unknown shocks and out-of-range overrides are errors with the fix, exit 2.
    for (args, needle) in [
        (vec!["--shock", "bam"], "did you mean `ban`?"),
        (vec!["--shock", "ban", "--severity", "1.5"], "from 0 to 1"),
        (
            vec!["--shock", "ban", "--start", "60"],
            "outside the horizon",
        ),
        (
            vec!["--shock", "ban", "--days", "0"],
            "positive number of days",
        ),
    ] {
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .arg("whatif")
            .args(&args)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// With `--background` the named shock comes on top of the random ones in every trial: the
/// expected loss rises above that of a run without it, and a full 30-day ban against buyers
/// without stock runs every trial short.
#[test]
fn whatif_in_the_background_adds_the_shock_to_every_trial() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("three.toml");
    std::fs::write(&file, THREE).unwrap();
    let run = json_of(
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["run", "--trials", "200", "-q", "-o", "-"])
            .arg(&file),
    );
    let whatif = json_of(
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args([
                "whatif",
                "--shock",
                "ban",
                "--start",
                "10",
                "--days",
                "30",
                "--severity",
                "1",
                "--background",
                "--trials",
                "200",
                "-q",
                "-o",
                "-",
            ])
            .arg(&file),
    );
    let loss = |v: &serde_json::Value| v["variants"][0]["total_loss"]["mean"].as_f64().unwrap();
    let p = |v: &serde_json::Value| {
        v["variants"][0]["importers"][0]["p_shortage"]["mean"]
            .as_f64()
            .unwrap()
    };
    assert!(
        loss(&whatif) > loss(&run),
        "{} {}",
        loss(&whatif),
        loss(&run)
    );
    // A full 30-day ban with no stock runs every trial short.
    assert_eq!(p(&whatif), 1.0);
    assert!(p(&run) < 1.0);
}

/// Three bans at fixed days, no stock, no market, 10 units a day of each material at 100 a
/// unit. By hand: `ban_a` stops material a for 10 days: 10,000. On material b, `ban_b1` removes
/// half from day 20 for 20 days (10,000 alone); `ban_b2` removes all from day 30 for 20 days,
/// and where both are in force the larger severity holds: 25,000 together. Credited in the
/// order of their first event, `ban_b1` gets its 10,000 alone and `ban_b2` the 15,000 it adds.
const FIXED: &str = r#"
[scenario]
name = "fixed bans"
horizon_days = 100

[[region]]
id = "S"

[[region]]
id = "D"

[[material]]
id = "a"
value = 100

[[material]]
id = "b"
value = 100

[[supplier]]
id = "sa"
region = "S"
material = "a"
capacity = 3650

[[supplier]]
id = "sb"
region = "S"
material = "b"
capacity = 3650

[[importer]]
id = "imp"
region = "D"
demand = { a = 3650, b = 3650 }

[[shock]]
id = "ban_b2"
kind = "export_ban"
target = { supplier = "sb" }
at_day = 30
duration_days = 20
severity = 1.0

[[shock]]
id = "ban_a"
kind = "export_ban"
target = { supplier = "sa" }
at_day = 10
duration_days = 10
severity = 1.0

[[shock]]
id = "ban_b1"
kind = "export_ban"
target = { supplier = "sb" }
at_day = 20
duration_days = 20
severity = 0.5
"#;

fn attributed(text: &str, extra: &[&str]) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, text).unwrap();
    json_of(
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["run", "-q", "-o", "-", "--attribution"])
            .args(extra)
            .arg(&file),
    )
}

#[test]
fn attribution_credits_each_shock_with_the_loss_it_adds_in_order() {
    let v = attributed(FIXED, &["--trials", "9"]);
    let a = &v["attribution"];
    assert_eq!(a["trials"], 9);
    let imp = &a["importers"][0];
    let credit = |id: &str| {
        let s = imp["shocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["shock"] == id)
            .unwrap();
        (s["mean"].as_f64().unwrap(), s["tail"].as_f64().unwrap())
    };
    assert_eq!(credit("ban_a"), (10_000.0, 10_000.0));
    assert_eq!(credit("ban_b1"), (10_000.0, 10_000.0));
    assert_eq!(credit("ban_b2"), (15_000.0, 15_000.0));
    assert_eq!(imp["calm"], 0.0);
    assert_eq!(imp["expected_loss"], 35_000.0);
    assert_eq!(imp["tail_trials"], 1);
    let summary_loss = v["variants"][0]["importers"][0]["loss_value"]["mean"]
        .as_f64()
        .unwrap();
    assert_eq!(summary_loss, 35_000.0);
}

/// On random shocks (THREE: a ban at a random rate, three buyers), the credits of every
/// importer add up to its expected loss in the summary and to the mean loss of its tail, and
/// the split does not depend on the thread count.
#[test]
fn attribution_adds_up_to_each_importers_loss_and_tail() {
    let text = THREE.replace(
        "[[strategy]]\nid = \"jp-stock\"",
        "[[shock]]\nid = \"cut\"\nkind = \"capacity_loss\"\ntarget = { supplier = \"s1\" }\nrate_per_year = 2\nduration_days = 15\nseverity = 0.6\n\n[[strategy]]\nid = \"jp-stock\"",
    );
    let one = attributed(&text, &["--trials", "300", "--threads", "1"]);
    let two = attributed(&text, &["--trials", "300", "--threads", "2"]);
    assert_eq!(one, two);
    let a = &one["attribution"];
    for (i, im) in a["importers"].as_array().unwrap().iter().enumerate() {
        let f = |k: &str| im[k].as_f64().unwrap();
        let sum = |k: &str| {
            f("calm")
                + im["shocks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s[k].as_f64().unwrap())
                    .sum::<f64>()
        };
        let loss = one["variants"][0]["importers"][i]["loss_value"]["mean"]
            .as_f64()
            .unwrap();
        assert!(loss > 0.0);
        assert!((sum("mean") - loss).abs() <= 1e-9 * loss, "{im}");
        assert!((f("expected_loss") - loss).abs() <= 1e-9 * loss, "{im}");
        assert!(
            (sum("tail") - f("tail_loss")).abs() <= 1e-9 * f("tail_loss"),
            "{im}"
        );
        assert_eq!(im["tail_trials"], 15);
        // Both shocks matter.
        assert!(im["shocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["mean"].as_f64().unwrap() > 0.0));
    }
    // The worst trials, ranked by the total over the importers counted, with their events.
    let worst = a["worst_trials"].as_array().unwrap();
    assert_eq!(worst.len(), 5);
    assert!(worst
        .windows(2)
        .all(|w| w[0]["loss"].as_f64() >= w[1]["loss"].as_f64()));
    assert!(worst
        .iter()
        .all(|w| !w["events"].as_array().unwrap().is_empty()));
}

/// report.html is one page: every chart report.md embeds is inline as a PNG data URI, nothing
/// is fetched from elsewhere, and its tags nest. By default a balancing importer's charts are
/// listed, not embedded; `--charts all` embeds them.
#[test]
fn the_html_report_is_valid_and_self_contained() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("three.toml");
    std::fs::write(&file, THREE).unwrap();
    let run = |dir: &std::path::Path, extra: &[&str]| {
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["run", "--trials", "100", "-q", "-o"])
            .arg(dir)
            .args(extra)
            .arg(&file)
            .assert()
            .success();
        (
            std::fs::read_to_string(dir.join("report.md")).unwrap(),
            std::fs::read_to_string(dir.join("report.html")).unwrap(),
        )
    };
    let (md, html) = run(&tmp.path().join("default"), &[]);
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">")
    );
    assert!(html.ends_with("</body>\n</html>\n"));
    let embedded = md.matches("![").count();
    assert!(embedded > 0);
    assert_eq!(
        html.matches("<img src=\"data:image/png;base64,").count(),
        embedded
    );
    assert_eq!(html.matches("<img ").count(), embedded);
    for outside in [
        "src=\"http",
        "href=\"http",
        "<script",
        "<link",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(outside), "{outside}");
    }
    // Non-void tags open and close in order.
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html.as_str();
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        if tag.starts_with('!') || ["meta", "img", "br", "hr", "input"].contains(&name.as_str()) {
            continue;
        }
        if tag.starts_with('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.as_str()),
                "closing </{name}>"
            );
        } else {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "{stack:?} left open");
    // The balancing importer's exceedance chart is listed, not embedded, by default.
    assert!(md.contains("## More charts"));
    assert!(md.contains("](loss-exceedance-row.png)\n"));
    assert!(!md.contains("![row (balancing)"));
    let (all_md, _) = run(&tmp.path().join("all"), &["--charts", "all"]);
    assert!(all_md.contains("![row (balancing): probability"));
    assert!(!all_md.contains("## More charts"));
}

/// The help's what-if examples name shocks that exist; flags of a Monte Carlo run are refused
/// on a deterministic what-if; a what-if over background shocks is recorded in the summary;
/// raw HTML in scenario text is shown, not interpreted, in report.html.
#[test]
fn whatif_examples_flags_records_and_html_text() {
    let help = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["whatif", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let repo = crate::support::repo();
    let mut ran = 0;
    for line in help
        .lines()
        .filter(|l| l.trim_start().starts_with("supplyshock whatif"))
    {
        let args: Vec<&str> = line.split_whitespace().skip(1).collect();
        if args.contains(&"--background") || args.contains(&"-o") {
            continue; // slow, or writes into the repository
        }
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .current_dir(&repo)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 1, "{help}");
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("three.toml");
    std::fs::write(
        &file,
        THREE.replace(
            "name = \"three buyers\"",
            "name = \"three buyers\"\ndescription = \"<img src=x onerror=alert(1)> and <b>bold</b>\"",
        ),
    )
    .unwrap();
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["whatif", "--shock", "ban", "--attribution"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("add --background"));
    let v = json_of(
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args([
                "whatif",
                "--shock",
                "ban",
                "--start",
                "10.6",
                "--days",
                "30",
                "--background",
                "--trials",
                "20",
                "-q",
                "-o",
                "-",
            ])
            .arg(&file),
    );
    assert_eq!(v["whatif"]["id"], "ban");
    // The day that runs: whole steps.
    assert_eq!(v["whatif"]["start_day"], 10.0);
    let dir = tmp.path().join("out");
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "20", "-q", "-o"])
        .arg(&dir)
        .arg(&file)
        .assert()
        .success();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("<img src=x"), "raw HTML passed through");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

/// Who pays: each importer its own stock (carry rate times the value of the stock added), the
/// fixed cost by the declared `paid_by` shares; a focus counts only what it pays.
#[test]
fn strategies_say_who_pays_and_a_focus_counts_only_its_share() {
    let text = THREE.replace(
        "cost = { per_year = 1000 }",
        "cost = { carry_rate = 0.1, per_year = 1000, paid_by = { jp = 0.25, eu = 0.75 } }",
    );
    let loaded = load(&text);
    let cost = &loaded.study.strategies[0].cost;
    // 30 days of 1000 a year at value 100, carried at 10% a year.
    let carry = 0.1 * 30.0 * 1000.0 / 365.0 * 100.0;
    assert!((cost.carrying - carry).abs() <= 1e-9 * carry, "{cost:?}");
    assert_eq!(cost.fixed, 1000.0);
    assert_eq!(cost.unassigned, 0.0);
    assert!((cost.by_importer["jp"] - (cost.carrying + 250.0)).abs() < 1e-9);
    assert_eq!(cost.by_importer["eu"], 750.0);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("three.toml");
    std::fs::write(&file, &text).unwrap();
    let run = |focus: &str| -> serde_json::Value {
        let dir = tmp.path().join(format!("out-{focus}"));
        let mut cmd = Command::cargo_bin("supplyshock").unwrap();
        cmd.args(["run", "--trials", "200", "-q", "-o"])
            .arg(&dir)
            .arg(&file);
        if !focus.is_empty() {
            cmd.args(["--focus", focus]);
        }
        assert!(cmd.output().unwrap().status.success());
        let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
        assert!(report.contains("## Who pays and who gains"), "{report}");
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
    };
    let all = run("");
    let v = &all["variants"][1];
    assert_eq!(v["counted_yearly_cost"], v["yearly_cost"]["total"]);
    let eu = run("eu");
    assert_eq!(eu["variants"][1]["counted_yearly_cost"], 750.0);
    let jp = run("jp");
    let want = cost.by_importer["jp"];
    let got = jp["variants"][1]["counted_yearly_cost"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
    // Bad payers are errors that say the fix.
    for (paid_by, needle) in [
        ("{ jq = 1 }", "did you mean `jp`?"),
        ("{ jp = 0.5, eu = 0.4 }", "add up to 0.9"),
        ("{ jp = -0.5, eu = 1.5 }", "paid_by.jp"),
    ] {
        let bad = THREE.replace(
            "cost = { per_year = 1000 }",
            &format!("cost = {{ per_year = 1000, paid_by = {paid_by} }}"),
        );
        std::fs::write(&file, &bad).unwrap();
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .arg("check")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{paid_by}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{paid_by}: {err}");
    }
}

/// A discount rate weights a loss at day d by (1 + r)^(-d/365): on the hand-computed what-if
/// path (10 days fully short, days 15 to 24, 1,000 a day) the loss is that geometric sum, and a
/// yearly cost counts the discounted years of the horizon.
#[test]
fn a_discount_rate_gives_present_values_of_losses_and_costs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("one.toml");
    let extra = r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { supplier = "s1" }
rate_per_year = 3
duration_days = 7
severity = 0.5
"#;
    let text = crate::support::single(60, "stockpile.m = { days = 10 }", extra).replace(
        "horizon_days = 60",
        "horizon_days = 60\ndiscount_rate = 0.05",
    );
    std::fs::write(&file, &text).unwrap();
    let v = json_of(
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["whatif", "--shock", "ban", "--start", "5", "--days", "20"])
            .args(["--severity", "1", "--format", "json", "-o"])
            .arg(tmp.path().join("out"))
            .arg(&file),
    );
    let base = &v["variants"][0]["slots"][0];
    assert_eq!(base["days_short"], 10.0);
    let want: f64 = (15..25)
        .map(|d| 1000.0 * 1.05_f64.powf(-d as f64 / 365.0))
        .sum();
    let got = base["loss"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-12 * want, "{got} vs {want}");
    assert!(got < 10_000.0);
    // Costs: 60 daily steps, each a 365th of a year, discounted as the losses are.
    let loaded = load(&text);
    let q = 1.05_f64.powf(-1.0 / 365.0);
    let years = (1.0 - q.powi(60)) / (1.0 - q) / 365.0;
    let got = loaded.study.baseline.cost_years();
    assert!((got - years).abs() <= 1e-12 * years, "{got} vs {years}");
    // Out of range: an error with the fix.
    std::fs::write(
        &file,
        text.replace("discount_rate = 0.05", "discount_rate = 1.5"),
    )
    .unwrap();
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scenario.discount_rate"));
}

/// `stress --against` bans the supplier's sales to the buyers named only: on THREE, `jp` runs
/// fully short for the 30 days (30 days of 1000 a year at 100), `eu` keeps its supply; the
/// rows count the importers not balancing, or the focus; each removal names the scenario's
/// shocks that can strike it.
#[test]
fn stress_bans_exports_to_chosen_buyers_names_shocks_and_counts_a_focus() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("three.toml");
    std::fs::write(&file, THREE).unwrap();
    let stress = |args: &[&str]| -> std::process::Output {
        Command::cargo_bin("supplyshock")
            .unwrap()
            .arg("stress")
            .args(args)
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = stress(&[
        "--remove",
        "s1",
        "--against",
        "jp",
        "--days",
        "30",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "supplyshock.stress/3");
    assert_eq!(v["against"], serde_json::json!(["jp"]));
    assert_eq!(v["importers"], serde_json::json!(["jp", "eu"]));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let jp = rows.iter().find(|r| r["importer"] == "jp").unwrap();
    let eu = rows.iter().find(|r| r["importer"] == "eu").unwrap();
    let want = 30.0 * 1000.0 / 365.0 * 100.0;
    let got = jp["loss_value"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
    assert_eq!(jp["tts_days"], 0.0);
    assert_eq!(eu["loss_value"], 0.0);
    assert!(eu["tts_days"].is_null());
    assert_eq!(v["removals"][0]["shocks"], serde_json::json!(["ban"]));
    // Removed for everyone, eu runs short too; a focus lists only its own rows.
    let out = stress(&[
        "--remove", "s1", "--days", "30", "--focus", "eu", "--format", "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["importer"], "eu");
    let want = 30.0 * 1500.0 / 365.0 * 100.0;
    let got = rows[0]["loss_value"].as_f64().unwrap();
    assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
    // Unknown buyers and importers are errors with the fix, exit 2.
    for (args, needle) in [
        (
            vec!["--remove", "s1", "--against", "jq"],
            "did you mean `jp`?",
        ),
        (
            vec!["--remove", "s1", "--focus", "ew"],
            "did you mean `eu`?",
        ),
    ] {
        let mut a = args.clone();
        a.extend(["--days", "30"]);
        let out = stress(&a);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A sweep marks the value as written, prices each value's stock over it with `--carry-rate`
/// (the carry rate times the days added, times daily use, times value: 10 units a day at 100),
/// and lists only the rows some value changes.
#[test]
fn sweep_marks_the_value_as_written_and_prices_its_stock() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("one.toml");
    let extra = r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { supplier = "s1" }
rate_per_year = 3
duration_days = 20
severity = 1
"#;
    std::fs::write(
        &file,
        crate::support::single(200, "stockpile.m = { days = 10 }", extra),
    )
    .unwrap();
    let sweep = |extra: &[&str]| {
        Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["sweep", "--set", "importer.imp.stockpile.m.days=0,10,30"])
            .args(["--carry-rate", "0.1", "--trials", "300"])
            .args(extra)
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = sweep(&["-o", "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sweep"]["as_written"], 10.0);
    assert_eq!(v["sweep"]["unit"], "days of demand");
    let cost = |i: usize| v["variants"][i]["yearly_cost"]["total"].as_f64().unwrap();
    for (i, days) in [(1, 0.0), (2, 10.0), (3, 30.0)] {
        let want = 0.1 * (days - 10.0) * 10.0 * 100.0;
        assert!((cost(i) - want).abs() <= 1e-9, "{} vs {want}", cost(i));
        assert_eq!(
            v["variants"][i]["yearly_cost"]["by_importer"]["imp"],
            cost(i)
        );
    }
    // The value as written is the baseline itself: no change, to the bit.
    assert_eq!(v["variants"][2]["total_loss_vs_baseline"]["mean"], 0.0);
    assert_eq!(
        v["variants"][2]["total_loss"],
        v["variants"][0]["total_loss"]
    );
    let out = sweep(&[]);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("10 (as written)"), "{table}");
    assert!(table.contains("net benefit over the horizon"), "{table}");
    assert!(table.contains("As written: 10 days of demand."), "{table}");
    // A negative rate is refused with the fix.
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args([
            "sweep",
            "--set",
            "importer.imp.stockpile.m.days=0",
            "--carry-rate=-1",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--carry-rate"));
}

/// The fan after the main shock, on a toy whose path is known in closed form: 10 days of stock
/// and a full ban of 20 days, so in every trial the ban hit, aligned on its onset, days 0 to 9
/// are served from stock and days 10 to 19 run fully short; before the onset nothing is short.
#[test]
fn fill_after_the_main_shock_is_aligned_on_its_onset() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("one.toml");
    let extra = r#"
[[shock]]
id = "ban"
kind = "export_ban"
target = { supplier = "s1" }
rate_per_year = 1
duration_days = 20
severity = 1
"#;
    std::fs::write(
        &file,
        crate::support::single(120, "stockpile.m = { days = 10 }", extra),
    )
    .unwrap();
    let dir = tmp.path().join("out");
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "400", "-q", "-o"])
        .arg(&dir)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let c = &s["conditional"][0];
    assert_eq!(c["shock"], "ban");
    assert_eq!(c["chosen_by"], "co-occurrence");
    let used = c["trials_used"].as_u64().unwrap();
    assert!(
        used > 50 && used <= c["trials_hit"].as_u64().unwrap(),
        "{c}"
    );
    let csv = std::fs::read_to_string(dir.join("conditional.csv")).unwrap();
    let mut seen = 0;
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (day, p_short): (i64, f64) = (f[3].parse().unwrap(), f[10].parse().unwrap());
        match day {
            d if d < 10 => assert_eq!(p_short, 0.0, "day {d}"),
            d if d < 20 => assert_eq!(p_short, 1.0, "day {d}"),
            _ => {}
        }
        if (-14..20).contains(&day) {
            seen += 1;
        }
    }
    assert_eq!(seen, 34, "days -14 to 19 are all there");
    assert!(dir.join("after-imp-m.png").exists());
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("](after-imp-m.png)"), "embedded by default");
}
