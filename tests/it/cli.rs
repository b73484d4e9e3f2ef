//! The binary end to end: determinism across threads, output handling, exit codes.

use assert_cmd::Command;

use crate::support::repo;

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

fn read_dir(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn one_thread_and_two_threads_give_identical_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("t1"), tmp.path().join("t2"));
    run_to(&a, "1");
    run_to(&b, "2");
    let (da, db) = (read_dir(&a), read_dir(&b));
    assert_eq!(
        da.iter().map(|x| &x.0).collect::<Vec<_>>(),
        ["curves.csv", "metrics.csv", "summary.json"]
    );
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
    let before = read_dir(&a);
    Command::cargo_bin("supplyshock")
        .unwrap()
        .args(["run", "--trials", "50", "-q", "-o"])
        .arg(&a)
        .arg(repo().join("scenarios/starter.toml"))
        .assert()
        .code(2);
    assert!(read_dir(&a) == before);
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
