//! Sharded runs merge into exactly the one-machine result; bad sets of parts are refused.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use serde_json::Value;
use supplyshock::shard::PartHeader;

use crate::support::{dir_files, repo};

fn starter() -> PathBuf {
    repo().join("scenarios/starter.toml")
}

fn bin() -> Command {
    Command::cargo_bin("supplyshock").unwrap()
}

fn run_shard(parts: &Path, trials: &str, seed: &str, spec: &str) {
    bin()
        .args([
            "run", "-q", "--trials", trials, "--seed", seed, "--shard", spec, "-o",
        ])
        .arg(parts)
        .arg(starter())
        .assert()
        .success();
}

fn parts_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

/// Write `part`, edited by `edit` (its header, and its body as JSON), to `out`, sealed again the
/// way the program seals a part: an edit only the consistency checks can catch.
fn resealed(part: &Path, out: &Path, edit: impl FnOnce(&mut PartHeader, &mut Value)) {
    let (mut header, json) = supplyshock::shard::unpack(&std::fs::read(part).unwrap()).unwrap();
    let mut body: Value = serde_json::from_slice(&json).unwrap();
    edit(&mut header, &mut body);
    std::fs::write(
        out,
        supplyshock::shard::pack(&header, &serde_json::to_vec(&body).unwrap()),
    )
    .unwrap();
}

#[test]
fn merged_shards_equal_the_one_machine_run_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let single = tmp.path().join("single");
    // 1000 trials: 63 blocks of 16, which 2, 3 and 7 shards do not divide evenly.
    bin()
        .args(["run", "-q", "--trials", "1000", "--seed", "3", "-o"])
        .arg(&single)
        .arg(starter())
        .assert()
        .success();
    for n in [1u64, 2, 3, 7] {
        let parts = tmp.path().join(format!("parts-{n}"));
        // Run the shards out of order: order must not matter.
        for k in (0..n).rev() {
            run_shard(&parts, "1000", "3", &format!("{k}/{n}"));
        }
        let merged = tmp.path().join(format!("merged-{n}"));
        bin()
            .args(["merge", "-q", "-o"])
            .arg(&merged)
            .args(parts_in(&parts))
            .assert()
            .success();
        assert!(
            dir_files(&single) == dir_files(&merged),
            "{n} shards: merged output differs from the one-machine run"
        );
    }
}

#[test]
fn merge_refuses_parts_that_do_not_belong_together() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    run_shard(&p("a"), "200", "1", "0/2");
    run_shard(&p("a"), "200", "1", "1/2");
    run_shard(&p("seed2"), "200", "2", "1/2");
    run_shard(&p("three"), "200", "1", "1/3");
    let a = parts_in(&p("a"));
    let refuse = |parts: Vec<PathBuf>, needle: &str| {
        let out = bin()
            .args(["merge", "-q", "-o"])
            .arg(tmp.path().join("out"))
            .args(&parts)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{needle}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
    };
    refuse(vec![a[0].clone()], "missing shard 1");
    refuse(vec![a[0].clone(), parts_in(&p("seed2"))[0].clone()], "seed");
    refuse(
        vec![a[0].clone(), parts_in(&p("three"))[0].clone()],
        "number of shards",
    );
    // Another scenario: same seed and trials, different text.
    let other = p("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(starter())
            .unwrap()
            .replace("capacity = 8000", "capacity = 7000"),
    )
    .unwrap();
    bin()
        .args([
            "run", "-q", "--trials", "200", "--seed", "1", "--shard", "1/2", "-o",
        ])
        .arg(p("other"))
        .arg(&other)
        .assert()
        .success();
    refuse(
        vec![a[0].clone(), parts_in(&p("other"))[0].clone()],
        "scenario",
    );
    // Corrupted and truncated parts.
    let bytes = std::fs::read(&a[1]).unwrap();
    let mut bad = bytes.clone();
    let at = bad.len() - 20;
    bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
    std::fs::write(p("corrupt.json"), &bad).unwrap();
    refuse(vec![a[0].clone(), p("corrupt.json")], "corrupted");
    std::fs::write(p("short.json"), &bytes[..bytes.len() / 2]).unwrap();
    refuse(vec![a[0].clone(), p("short.json")], "truncated");
    // A shard present twice with identical content is accepted once.
    std::fs::copy(&a[1], p("dup.json")).unwrap();
    bin()
        .args(["merge", "-q", "-o"])
        .arg(p("dup-ok"))
        .arg(&a[0])
        .arg(&a[1])
        .arg(p("dup.json"))
        .assert()
        .success();
    // Same shard, different content: refused. A part of shard 1 from a run with other
    // parameters is refused for those; so forge one with the same header but another loss.
    resealed(&a[1], &p("forged.json"), |_, body| {
        let loss = &mut body["blocks"][0]["losses"][0][0];
        *loss = serde_json::json!(loss.as_f64().unwrap() + 1.0);
    });
    refuse(
        vec![a[0].clone(), a[1].clone(), p("forged.json")],
        "appears twice with different results",
    );
}

#[test]
fn the_shard_comes_from_the_scheduler_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("parts");
    for k in 0..3 {
        bin()
            .env("JOB_COMPLETION_INDEX", k.to_string())
            .args(["run", "-q", "--trials", "300", "--shards", "3", "-o"])
            .arg(&parts)
            .arg(starter())
            .assert()
            .success();
    }
    assert_eq!(parts_in(&parts).len(), 3);
    let single = tmp.path().join("single");
    bin()
        .args(["run", "-q", "--trials", "300", "-o"])
        .arg(&single)
        .arg(starter())
        .assert()
        .success();
    let merged = tmp.path().join("merged");
    bin()
        .args(["merge", "-q", "-o"])
        .arg(&merged)
        .args(parts_in(&parts))
        .assert()
        .success();
    assert!(dir_files(&single) == dir_files(&merged));
    // Slurm arrays must be 0..N-1.
    let out = bin()
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_MAX", "3")
        .args(["run", "-q", "--trials", "30", "-o"])
        .arg(tmp.path().join("slurm"))
        .arg(starter())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0..N-1"));
    // Kubernetes does not pass N.
    bin()
        .env("JOB_COMPLETION_INDEX", "0")
        .args(["run", "-q", "--trials", "30", "-o"])
        .arg(tmp.path().join("k8s"))
        .arg(starter())
        .assert()
        .code(2);
}

#[test]
fn a_killed_shard_leaves_no_part_and_rerunning_it_completes_the_set() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("parts");
    // Killed long before it could finish (a hundred million trials would take minutes), so that
    // the kill lands mid-run however fast the engine is; the rerun below is a smaller set.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("supplyshock"))
        .args(["run", "-q", "--trials", "100000000", "--shard", "0/2", "-o"])
        .arg(&parts)
        .arg(starter())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !parts.exists() || parts_in(&parts).is_empty(),
        "a killed shard left {:?}",
        parts_in(&parts)
    );
    run_shard(&parts, "60000", "1", "0/2");
    run_shard(&parts, "60000", "1", "1/2");
    let merged = tmp.path().join("merged");
    bin()
        .args(["merge", "-q", "-o"])
        .arg(&merged)
        .args(parts_in(&parts))
        .assert()
        .success();
    let single = tmp.path().join("single");
    bin()
        .args(["run", "-q", "--trials", "60000", "-o"])
        .arg(&single)
        .arg(starter())
        .assert()
        .success();
    assert!(dir_files(&single) == dir_files(&merged));
}

/// A shard run again replaces its own part (the same run), but never a part of another run
/// without --force; and a shard cannot write to stdout (`-o -` made a directory named `-`).
#[test]
fn a_part_of_another_run_is_not_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let parts = tmp.path().join("parts");
    run_shard(&parts, "64", "3", "0/2");
    let part = parts_in(&parts).remove(0);
    let before = std::fs::read(&part).unwrap();
    run_shard(&parts, "64", "3", "0/2");
    assert_eq!(std::fs::read(&part).unwrap(), before);
    bin()
        .args([
            "run", "-q", "--trials", "64", "--seed", "4", "--shard", "0/2", "-o",
        ])
        .arg(&parts)
        .arg(starter())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("another run"));
    assert_eq!(std::fs::read(&part).unwrap(), before);
    bin()
        .args([
            "run", "-q", "--trials", "64", "--seed", "4", "--shard", "0/2", "--force", "-o",
        ])
        .arg(&parts)
        .arg(starter())
        .assert()
        .success();
    assert_ne!(std::fs::read(&part).unwrap(), before);
    let here = tmp.path().join("here");
    std::fs::create_dir(&here).unwrap();
    bin()
        .current_dir(&here)
        .args(["run", "-q", "--trials", "64", "--shard", "0/2", "-o", "-"])
        .arg(starter())
        .assert()
        .code(2);
    assert_eq!(std::fs::read_dir(&here).unwrap().count(), 0);
}
