//! The binary end to end: determinism across threads, output handling, exit codes.

use assert_cmd::Command;

use crate::support::{dir_files, json_output, repo};

fn run_to(dir: &std::path::Path, threads: &str) {
    run_scenario_to(dir, threads, "scenarios/starter.toml");
}

fn run_scenario_to(dir: &std::path::Path, threads: &str, scenario: &str) {
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args([
            "run",
            "--trials",
            "300",
            "--seed",
            "7",
            "--threads",
            threads,
            "-q",
            "-o",
        ])
        .arg(dir)
        .arg(repo().join(scenario))
        .assert()
        .success();
}

#[test]
fn one_thread_and_two_threads_give_identical_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("t1"), tmp.path().join("t2"));
    run_to(&a, "1");
    run_to(&b, "2");
    let (da, db) = (dir_files(&a), dir_files(&b));
    let names: Vec<&String> = da.iter().map(|x| &x.0).collect();
    for want in ["curves.csv", "metrics.csv", "summary.json", "report.md"] {
        assert!(
            names.iter().any(|n| *n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(names.iter().any(|n| n.ends_with(".png")) && names.iter().any(|n| n.ends_with(".svg")));
    assert!(
        da == db,
        "outputs differ between --threads 1 and --threads 2"
    );
}

/// Markets too: prices, price curves and price fans do not depend on the thread count (the
/// 2010 replay splits its market into two tiers).
#[test]
fn markets_give_identical_directories_on_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("t1"), tmp.path().join("t2"));
    let replay = "scenarios/rare-earths-2010-replay.toml";
    run_scenario_to(&a, "1", replay);
    run_scenario_to(&b, "2", replay);
    let (da, db) = (dir_files(&a), dir_files(&b));
    for want in ["prices.csv", "price-ree_oxide.png"] {
        assert!(da.iter().any(|x| x.0 == want), "{want} missing");
    }
    assert!(
        da == db,
        "market outputs differ between --threads 1 and --threads 2"
    );
}

#[test]
fn existing_results_are_kept_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("out");
    run_to(&a, "2");
    let before = dir_files(&a);
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "50", "-q", "-o"])
        .arg(&a)
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .code(2);
    assert!(dir_files(&a) == before);
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "50", "-q", "--force", "-o"])
        .arg(&a)
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .success();
}

#[test]
fn summary_to_stdout_is_json() {
    let v = json_output(
        &["run", "--trials", "64", "-q", "-o", "-"],
        &repo().join("scenarios/starter.toml"),
    );
    assert_eq!(v["schema"], "supplyshock.summary/7");
    assert_eq!(v["variants"][1]["id"], "stockpile-90");
}

/// With a market, each importer's loss comes in parts that add up: in summary.json (every
/// variant, with paired differences on each part) and as columns of the terminal table.
#[test]
fn loss_parts_add_up_and_show_where_prices_move() {
    let replay = repo().join("scenarios/rare-earths-2010-replay.toml");
    let v = json_output(&["run", "--trials", "64", "-q", "-o", "-"], &replay);
    for variant in v["variants"].as_array().unwrap() {
        for im in variant["importers"].as_array().unwrap() {
            let mean = |k: &str| im[k]["mean"].as_f64().unwrap();
            let parts = mean("unmet_loss") + mean("extra_spend") + mean("surplus_lost");
            let total = mean("loss_value");
            assert!(
                (parts - total).abs() <= 1e-9 * total.abs(),
                "{parts} vs {total}"
            );
        }
    }
    // The balancing buyer is flagged, in every variant, and only it.
    for variant in v["variants"].as_array().unwrap() {
        let flagged: Vec<&str> = variant["importers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|im| im["balancing"] == true)
            .map(|im| im["importer"].as_str().unwrap())
            .collect();
        assert_eq!(flagged, ["rest_of_world"]);
        // Its name says so in every table and chart.
        let name = variant["importers"][1]["name"].as_str().unwrap();
        assert_eq!(name, "Other buyers of Chinese exports (balancing)");
    }
    let diffs = &v["variants"][1]["importers"][0]["vs_baseline"];
    let named: Vec<&str> = diffs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap())
        .collect();
    assert!(
        named.contains(&"extra_spend") && named.contains(&"unmet_loss"),
        "{named:?}"
    );
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "64", "-o"])
        .arg(tempfile::tempdir().unwrap().path().join("out"))
        .arg(&replay)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    let header = table.lines().find(|l| l.starts_with("variant")).unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert!(
        columns
            .windows(3)
            .any(|w| w == ["E[loss]", "unmet", "price"]),
        "{header}"
    );
    assert!(table.contains("price curves: prices.csv"), "{table}");
}

#[test]
fn a_mistyped_subcommand_gets_a_suggestion() {
    // Swapped letters: clap's own similarity measure misses `rnu` for `run`.
    for (typed, meant) in [("rnu", "run"), ("chekc", "check"), ("sweeep", "sweep")] {
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .args([typed, "x.toml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("a similar subcommand exists: '{meant}'")),
            "{typed}: {stderr}"
        );
    }
    // A scenario given without a subcommand is not taken for a typo.
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("scenario.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("similar subcommand"), "{stderr}");
}

#[test]
fn bad_arguments_exit_2() {
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--strategy", "nope", "-q"])
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .code(2);
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["check", "/nonexistent/x.toml"])
        .assert()
        .code(2);
    Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("frobnicate")
        .assert()
        .code(2);
}

#[test]
fn the_same_run_twice_gives_identical_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_to(&a, "2");
    run_to(&b, "2");
    assert!(dir_files(&a) == dir_files(&b));
}

/// A run killed part-way leaves no output directory and no partial file in it.
#[test]
fn a_killed_run_leaves_no_partial_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("killed");
    let bin = assert_cmd::cargo::cargo_bin("supplyshock");
    let mut child = std::process::Command::new(bin)
        .args(["run", "--trials", "2000000", "-q", "-o"])
        .arg(&out)
        .arg(repo().join("scenarios/bench/reference-30.toml"))
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run created {}", out.display());
    // Nothing half-written beside it either: only a staging directory may be left, never the
    // output's own name.
    for e in std::fs::read_dir(tmp.path()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(name.starts_with(".killed.partial"), "unexpected {name}");
    }
}

#[test]
fn completions_are_generated() {
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("supplyshock"));
}

/// Charts use the embedded font only: with no system fonts visible (fontconfig pointed at an
/// empty configuration, no font directories) the output is byte for byte the same.
#[test]
fn charts_are_identical_without_system_fonts() {
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("empty-fonts.conf");
    std::fs::write(&conf, "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig></fontconfig>\n").unwrap();
    let (a, b) = (tmp.path().join("fonts"), tmp.path().join("nofonts"));
    run_to(&a, "2");
    Command::cargo_bin("supplyshock")
        .unwrap()
        .env("FONTCONFIG_FILE", &conf)
        .env("FONTCONFIG_PATH", tmp.path())
        .env("XDG_DATA_HOME", tmp.path())
        .args([
            "run",
            "--trials",
            "300",
            "--seed",
            "7",
            "--threads",
            "2",
            "-q",
            "-o",
        ])
        .arg(&b)
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .success();
    let (fa, fb) = (dir_files(&a), dir_files(&b));
    assert!(fa.iter().filter(|f| f.0.ends_with(".png")).count() >= 5);
    assert!(fa == fb, "charts differ when no system fonts are visible");
}

/// `run` into `dir` (starter scenario, 50 trials) with extra arguments; its output.
fn run_into(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "50", "-q"])
        .args(extra)
        .arg("-o")
        .arg(dir)
        .arg(repo().join("scenarios/starter.toml"))
        .output()
        .unwrap()
}

/// `--force` replaces supplyshock's results and nothing else: a directory holding a user's
/// files (the scenario itself, notes, results with a note dropped in) is refused, with or
/// without `--force`, exit 2, and every file in it stays as it was.
#[test]
fn force_never_deletes_files_supplyshock_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    // A folder with the user's scenario and notes, as `-o .` or `-o ~` would name.
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::copy(repo().join("scenarios/starter.toml"), home.join("my.toml")).unwrap();
    std::fs::write(home.join("notes.txt"), "mine").unwrap();
    let before = dir_files(&home);
    for extra in [&[][..], &["--force"][..]] {
        let out = run_into(&home, extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("did not write") && err.contains("notes.txt"),
            "{err}"
        );
        assert!(!err.contains("--force"), "must not suggest --force: {err}");
        assert!(
            dir_files(&home) == before,
            "{extra:?} changed the user's files"
        );
    }
    // Results with a user's file dropped in: not replaced either.
    let out_dir = tmp.path().join("out");
    assert!(run_into(&out_dir, &[]).status.success());
    std::fs::write(out_dir.join("my-analysis.md"), "mine").unwrap();
    let before = dir_files(&out_dir);
    let out = run_into(&out_dir, &["--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(dir_files(&out_dir) == before);
    // An output path that is a file is never replaced.
    let file = tmp.path().join("file.txt");
    std::fs::write(&file, "mine").unwrap();
    assert_eq!(run_into(&file, &["--force"]).status.code(), Some(2));
    assert_eq!(std::fs::read(&file).unwrap(), b"mine");
}

/// Results carry a manifest of their files; `--force` replaces them; without it the refusal says
/// how to replace them, once.
#[test]
fn results_are_marked_and_force_replaces_only_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    assert!(run_into(&dir, &[]).status.success());
    let manifest = std::fs::read_to_string(dir.join(".supplyshock-results")).unwrap();
    let mut listed: Vec<&str> = manifest.lines().skip(1).collect();
    listed.sort_unstable();
    let mut names: Vec<String> = dir_files(&dir).into_iter().map(|f| f.0).collect();
    names.retain(|n| n != ".supplyshock-results");
    assert_eq!(listed, names);
    let out = run_into(&dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("--force").count(), 1, "{err}");
    assert!(run_into(&dir, &["--force"]).status.success());
    // An empty directory the user made is filled.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(run_into(&empty, &[]).status.success());
}

/// Two runs into the same new directory at once: one writes it, the other is refused (exit 2);
/// neither silently replaces the other.
#[test]
fn two_runs_into_one_new_directory_never_both_succeed() {
    for i in 0..4 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let spawn = |seed: &str| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("supplyshock"))
                .args(["run", "--trials", "50", "-q", "--seed", seed, "-o"])
                .arg(&dir)
                .arg(repo().join("scenarios/starter.toml"))
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn("1"), spawn("2"));
        let codes: Vec<Option<i32>> = [a, b]
            .into_iter()
            .map(|c| c.wait_with_output().unwrap().status.code())
            .collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(sorted, [Some(0), Some(2)], "try {i}: {codes:?}");
        let leftovers: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "out")
            .collect();
        assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
    }
}

/// A staging directory left by a run that died (its process is gone) is removed by the next
/// run into the same place.
#[test]
fn staging_left_by_a_dead_run_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    // Above the largest process id Linux hands out.
    let stale = tmp.path().join(".out.partial-4194305");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("summary.json"), "{}").unwrap();
    assert!(run_into(&tmp.path().join("out"), &[]).status.success());
    if cfg!(target_os = "linux") {
        assert!(!stale.exists());
    }
}

/// The seed a run used is the one its results record: `--seed` when given (it was the
/// scenario's, so a run could not be reproduced from its own record).
#[test]
fn results_record_the_seed_the_run_used() {
    let starter = repo().join("scenarios/starter.toml");
    let seed_of = |args: &[&str]| -> u64 {
        let args = [args, &["--trials", "20", "--seed", "99", "-q", "-o", "-"]].concat();
        json_output(&args, &starter)["seed"].as_u64().unwrap()
    };
    assert_eq!(seed_of(&["run"]), 99);
    assert_eq!(
        seed_of(&["sweep", "--set", "shock.a_ban.rate_per_year=0.1,0.2"]),
        99
    );
}

/// `sweep --trials 0` is refused like `run --trials 0` (it reached an index out of bounds).
#[test]
fn sweep_with_no_trials_is_refused() {
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args([
            "sweep",
            "--trials",
            "0",
            "--set",
            "shock.a_ban.rate_per_year=0.1,0.2",
            "-q",
        ])
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--trials must be at least 1"));
}

/// `check -q` on a valid scenario prints nothing (it printed the whole table).
#[test]
fn check_quiet_prints_nothing_on_a_valid_scenario() {
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["check", "-q"])
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .success()
        .stdout("")
        .stderr("");
}

/// `init` into a directory that does not exist says so, with the fix (it named a temporary
/// file and exited 1).
#[test]
fn init_into_a_missing_directory_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("newdir/x.toml");
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("init")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not exist") && err.contains("mkdir -p"),
        "{err}"
    );
    assert!(!err.contains(".tmp-"), "{err}");
}

/// A scenario without importers is refused by `check` with a located error; `run` exits 2
/// instead of panicking.
#[test]
fn a_scenario_without_importers_is_an_error() {
    let text = std::fs::read_to_string(repo().join("scenarios/minimal.toml")).unwrap();
    let start = text.find("[[importer]]").unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    let mut cut = format!("{}{}", &text[..start], &text[end..]);
    // Shocks and strategies that name the importer go too: keep the file otherwise valid.
    if let Some(s) = cut.find("[[strategy]]") {
        cut.truncate(s);
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("no-importers.toml");
    std::fs::write(&path, &cut).unwrap();
    for cmd in ["check", "run"] {
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .args([cmd, "-q"])
            .arg(&path)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(err.contains("no importer"), "{cmd}: {err}");
    }
}

/// Chart file names are unique even where ids with `-` would give the same name (importer
/// `a-b` with material `c`, importer `a` with material `b-c`): one chart overwrote the other and
/// report.md showed it twice.
#[test]
fn chart_names_are_unique_whatever_the_ids() {
    let text = r#"
[scenario]
name = "Colliding ids"
trials = 50

[[region]]
id = "R"

[[material]]
id = "c"
value = 10

[[material]]
id = "b-c"
value = 10

[[supplier]]
id = "p1"
region = "R"
material = "c"
capacity = 1000

[[supplier]]
id = "p2"
region = "R"
material = "b-c"
capacity = 1000

[[importer]]
id = "a-b"
region = "R"
demand = { c = 900 }

[[importer]]
id = "a"
region = "R"
demand = { "b-c" = 900 }

[[shock]]
id = "outage"
kind = "capacity_loss"
target = { supplier = "p1" }
rate_per_year = 2
duration_days = 30
"#;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("collide.toml");
    std::fs::write(&path, text).unwrap();
    let dir = tmp.path().join("out");
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "-q", "-o"])
        .arg(&dir)
        .arg(&path)
        .assert()
        .success();
    let files: Vec<String> = dir_files(&dir).into_iter().map(|f| f.0).collect();
    let fans: Vec<&String> = files
        .iter()
        .filter(|n| n.starts_with("fan-") && n.ends_with(".png"))
        .collect();
    assert_eq!(fans.len(), 2, "{files:?}");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for fan in fans {
        assert_eq!(
            report.matches(fan.as_str()).count(),
            1,
            "{fan} in report.md"
        );
    }
}

/// What sizes memory or work is bounded before a run: a trial count that cannot fit in memory
/// and a thread count beyond any machine are refused with exit 2 and the fix, before any work.
#[test]
fn runs_that_cannot_fit_are_refused_before_they_start() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "18446744073709551615", "-q", "-o"])
        .arg(tmp.path().join("out"))
        .arg(repo().join("scenarios/minimal.toml"))
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("of memory") && err.contains("--shard"),
        "{err}"
    );
    assert!(!tmp.path().join("out").exists());
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--threads", "100000", "-q", "-o", "-"])
        .arg(repo().join("scenarios/minimal.toml"))
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("1..=1024"));
}

/// Lead times, recoveries and trigger chains that would blow up memory or counters are
/// located errors (`lead_days = 1e9` tried to allocate 64 GB; `recovery.days = 4294967295`
/// wrapped a counter and wrote inf into the results; 24 layers of two triggered shocks took
/// 5.5 GB).
#[test]
fn sizes_beyond_reason_are_located_errors() {
    let base = std::fs::read_to_string(repo().join("scenarios/minimal.toml")).unwrap();
    let lead = format!(
        "{base}\n[[route]]\nid = \"r\"\nlead_days = 1e9\ncarries = [{{ from = \"A\", to = \"A\" }}]\n"
    );
    let recovery = base.replace(
        "severity = 0.5 ",
        "recovery = { days = 4294967295 }\nseverity = 0.5 ",
    );
    let mut chain = base.clone();
    for layer in 0..24 {
        for j in 0..2 {
            let triggers = if layer < 23 {
                format!(
                    "triggers = [{{ shock = \"s{}_0\", probability = 1 }}, {{ shock = \"s{}_1\", probability = 1 }}]\n",
                    layer + 1,
                    layer + 1
                )
            } else {
                String::new()
            };
            let timing = if layer == 0 { "at_day = 1\n" } else { "" };
            chain += &format!(
                "\n[[shock]]\nid = \"s{layer}_{j}\"\nkind = \"capacity_loss\"\ntarget = {{ supplier = \"plant\" }}\n{timing}duration_days = 1\nseverity = 0.01\n{triggers}"
            );
        }
    }
    for (text, key) in [
        (lead, "route[0].lead_days"),
        (recovery, "shock[0].recovery.days"),
        (chain, "shock[1].triggers"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.toml");
        std::fs::write(&path, &text).unwrap();
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["check"])
            .arg(&path)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains(&format!(": {key}: ")), "{key}: {err}");
    }
}

/// Extreme inputs are refused where they are written (a demand or value near 1e308 made
/// results overflow and a chart loop forever), and an output with inf or NaN is never
/// written.
#[test]
fn no_non_finite_number_reaches_an_output() {
    let base = std::fs::read_to_string(repo().join("scenarios/minimal.toml")).unwrap();
    for (from, to, key) in [
        ("value = 1000 ", "value = 1e308 ", "material[0].value"),
        (
            "demand = { widget = 900 }",
            "demand = { widget = 1e300 }",
            "importer[0].demand.widget",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.toml");
        std::fs::write(&path, base.replace(from, to)).unwrap();
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .args(["run", "-q", "--trials", "20", "-o"])
            .arg(tmp.path().join("out"))
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(key) && err.contains("1e15"), "{err}");
        assert!(!tmp.path().join("out").exists());
    }
    let csv = b"variant,importer,material,metric,mean,se\nbaseline,inf,m,fill_rate,-inf,0\n";
    let e = supplyshock::output::check_finite_csv("metrics.csv", csv).unwrap_err();
    assert!(
        e.to_string()
            .contains("row 2 (baseline, inf, m, fill_rate), column mean"),
        "{e}"
    );
    let fine = b"variant,importer,material,metric,mean,se\nbaseline,NaN,m,fill_rate,0.5,0\n";
    assert!(supplyshock::output::check_finite_csv("metrics.csv", fine).is_ok());
}

/// A scenario whose ids and names are longer than any column the tables used to reserve.
const LONG_IDS: &str = r#"
[scenario]
name = "Long ids"
horizon_days = 120
trials = 200
seed = 3

[[region]]
id = "CN"
[[region]]
id = "united_states_of_america_incl_territories"
name = "United States"

[[material]]
id = "gallium_primary_low_purity_for_compound_semiconductors"
name = "Gallium"
value = 500

[[supplier]]
id = "chinese_primary_gallium_refiners_all_provinces"
region = "CN"
material = "gallium_primary_low_purity_for_compound_semiconductors"
capacity = 1000

[[supplier]]
id = "us_ga"
region = "united_states_of_america_incl_territories"
material = "gallium_primary_low_purity_for_compound_semiconductors"
capacity = 200

[[importer]]
id = "us_defence_radar_and_electronic_warfare_programmes"
name = "US defence radar and electronic warfare programmes, all services and agencies"
region = "united_states_of_america_incl_territories"
demand = { gallium_primary_low_purity_for_compound_semiconductors = 300 }

[[importer]]
id = "eu"
region = "CN"
demand = { gallium_primary_low_purity_for_compound_semiconductors = 500 }

[[shock]]
id = "ban"
kind = "export_ban"
target = { region = "CN" }
against = { region = "united_states_of_america_incl_territories" }
rate_per_year = 2
duration_days = 30

[[strategy]]
id = "hold-ninety-days-of-gallium-at-every-defence-programme"
changes = [{ importer = "us_defence_radar_and_electronic_warfare_programmes", stockpile.gallium_primary_low_purity_for_compound_semiconductors = { days = 90 } }]
"#;

/// Every row of the text table starting at `header` (up to the first blank line) has its cells
/// where the header's are: a left-aligned cell starts where its heading starts, a right-aligned
/// one ends where its heading ends. Cells are separated by two spaces or more.
fn assert_aligned(out: &str, header: &str) {
    let spans = |line: &str| -> Vec<(usize, usize)> {
        let chars: Vec<char> = line.chars().collect();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == ' ' {
                i += 1;
                continue;
            }
            let start = i;
            // A cell runs on over single spaces.
            while i < chars.len()
                && !(chars[i] == ' ' && chars.get(i + 1).is_none_or(|c| *c == ' '))
            {
                i += 1;
            }
            spans.push((start, i));
        }
        spans
    };
    let mut lines = out.lines().skip_while(|l| !l.starts_with(header));
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("no table {header:?} in:\n{out}"));
    let columns = spans(head);
    let mut rows = 0;
    for line in lines.take_while(|l| !l.trim().is_empty()) {
        rows += 1;
        let mut col = 0;
        for (start, end) in spans(line) {
            while col < columns.len() && columns[col].0 != start && columns[col].1 != end {
                col += 1;
            }
            assert!(
                col < columns.len(),
                "cell {:?} out of line with the header:\n{head}\n{line}",
                line.chars()
                    .skip(start)
                    .take(end - start)
                    .collect::<String>()
            );
            col += 1;
        }
    }
    assert!(rows > 0, "table {header:?} has no rows:\n{out}");
}

/// Tables size their columns to their content: a 50-character importer id, a 55-character
/// material id and a long strategy id kept every row of `check`, `run`, `stress` and `sweep`
/// in line with its header (they pushed the later columns right, row by row).
#[test]
fn tables_stay_aligned_with_long_ids_and_names() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("long.toml");
    std::fs::write(&path, LONG_IDS).unwrap();
    let stdout = |args: &[&str]| {
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .args(args)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let check = stdout(&["check"]);
    assert_aligned(&check, "material ");
    assert_aligned(&check, "importer ");
    assert!(check.contains("us_defence_radar_and_electronic_warfare_programmes"));
    let dir = tmp.path().join("out");
    let run = stdout(&["run", "-o", dir.to_str().unwrap()]);
    assert_aligned(&run, "variant ");
    let stress = stdout(&["stress", "--all", "--days", "60"]);
    assert_aligned(&stress, "rank ");
    assert_aligned(&stress, "removed ");
    let sweep = stdout(&[
        "sweep",
        "--trials",
        "100",
        "--set",
        "shock.ban.rate_per_year=1,4",
    ]);
    assert_aligned(&sweep, "value ");
    // Ids this long are still printed whole.
    for out in [&check, &stress, &sweep] {
        assert!(
            out.contains("gallium_primary_low_purity_for_compound_semiconductors  "),
            "{out}"
        );
    }
    assert!(run.contains("hold-ninety-days-of-gallium-at-every-defence-programme  "));
}

/// The run summary calls an importer by its `name`, cut with an ellipsis when very long; the
/// machine outputs keep the id as the key and carry the name beside it.
#[test]
fn run_summary_uses_names_and_files_keep_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("long.toml");
    std::fs::write(&path, LONG_IDS).unwrap();
    let dir = tmp.path().join("out");
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "-o", dir.to_str().unwrap()])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table
        .lines()
        .find(|l| l.starts_with("baseline") && l.contains("US defence"))
        .unwrap_or_else(|| panic!("no row for the named importer:\n{table}"));
    assert!(
        row.contains("US defence radar and electronic warfare programmes, all service…  "),
        "{row}"
    );
    assert!(!row.contains("us_defence_radar"), "{row}");
    // The importer without a name is shown by its id, as before.
    assert!(table
        .lines()
        .any(|l| l.starts_with("baseline") && l.contains("  eu  ")));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    let im = &summary["variants"][0]["importers"][0];
    assert_eq!(
        im["importer"],
        "us_defence_radar_and_electronic_warfare_programmes"
    );
    assert_eq!(
        im["name"],
        "US defence radar and electronic warfare programmes, all services and agencies"
    );
    let slot = &summary["variants"][0]["slots"][0];
    assert_eq!(
        slot["material"],
        "gallium_primary_low_purity_for_compound_semiconductors"
    );
    assert_eq!(slot["material_name"], "Gallium");
    assert_eq!(summary["variants"][0]["importers"][1]["name"], "eu");
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    assert!(metrics.contains(
        "baseline,us_defence_radar_and_electronic_warfare_programmes,gallium_primary_low_purity_for_compound_semiconductors,"
    ));
    assert!(!metrics.contains("US defence"));
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains(
        "### US defence radar and electronic warfare programmes, all services and agencies"
    ));
}
