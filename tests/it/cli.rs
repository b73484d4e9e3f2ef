//! The binary end to end: determinism across threads, output handling, exit codes.

use assert_cmd::Command;

use crate::support::{dir_files, repo};

fn run_to(dir: &std::path::Path, threads: &str) {
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
        .arg(repo().join("scenarios/starter.toml"))
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
    let out = Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "64", "-q", "-o", "-"])
        .arg(repo().join("scenarios/starter.toml"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema"], "supplyshock.summary/1");
    assert_eq!(v["variants"][1]["id"], "stockpile-90");
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
