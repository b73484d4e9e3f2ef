//! Every scenario in scenarios/ validates; the flagship shows the concentration the data implies.

use assert_cmd::Command;

use crate::support::{json_output, repo};

fn scenario_files() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("scenarios")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_scenario_passes_check() {
    let files = scenario_files();
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .arg("check")
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn flagship_rare_earths_and_gallium_are_highly_concentrated() {
    let v = json_output(
        &["check", "--format", "json"],
        &repo().join("scenarios/japan-eu-critical-materials.toml"),
    );
    let hhi = |id: &str| {
        v["materials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["material"] == id)
            .unwrap_or_else(|| panic!("no {id}"))["hhi"]
            .as_f64()
            .unwrap()
    };
    assert!(hhi("ree_oxide") > 2500.0, "{}", hhi("ree_oxide"));
    assert!(hhi("gallium") > 2500.0, "{}", hhi("gallium"));
}

/// The format reference documents every key of the schema.
#[test]
fn reference_documents_every_key() {
    let src = std::fs::read_to_string(repo().join("src/scenario.rs")).unwrap();
    let doc = std::fs::read_to_string(repo().join("scenarios/README.md")).unwrap();
    let mut missing = Vec::new();
    for line in src.lines() {
        let l = line.trim();
        let Some(rest) = l.strip_prefix("pub ") else {
            continue;
        };
        let Some((name, _)) = rest.split_once(':') else {
            continue;
        };
        if name.contains(' ') || name.contains('(') {
            continue;
        }
        if !doc.contains(&format!("`{name}`")) {
            missing.push(name.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "keys missing from scenarios/README.md: {missing:?}"
    );
}

#[test]
fn init_writes_a_scenario_that_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("init")
        .arg(&path)
        .assert()
        .success();
    Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("check")
        .arg(&path)
        .assert()
        .success();
    // A second init refuses to overwrite.
    Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("init")
        .arg(&path)
        .assert()
        .code(2);
}

/// With no shock, every scenario runs at full service: the steady state the engine starts in is
/// kept (a regression test for refill orders that ignored this step's arrivals).
#[test]
fn every_scenario_without_shocks_runs_at_full_service() {
    use supplyshock::runner::{run_all, Plan};
    for f in scenario_files() {
        let loaded = supplyshock::model::load(&f).unwrap();
        let calm = supplyshock::stress::stressed(&loaded.study.baseline, Vec::new());
        let plan = Plan::from_models(vec![&calm], vec!["calm".into()]);
        let acc = run_all(&plan, 2, 0);
        let s = supplyshock::report::summarize(&plan, &[None], &["calm".into()], &acc, 2, 0);
        for sl in &s.variants[0].slots {
            assert!(
                sl.metrics.fill_rate.mean > 1.0 - 1e-9 && sl.metrics.p_shortage.mean == 0.0,
                "{}: {} {} fill {}",
                f.display(),
                sl.importer,
                sl.material,
                sl.metrics.fill_rate.mean
            );
        }
    }
}
