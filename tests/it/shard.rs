//! Sharded runs merge into exactly the one-machine result; bad sets of parts are refused.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

use serde_json::{json, Value};
use supplyshock::shard::PartHeader;

use crate::support::{dir_files, repo};

fn starter() -> PathBuf {
    repo().join("scenarios/starter.toml")
}

fn bin() -> Command {
    Command::cargo_bin("supplyshock").unwrap()
}

fn run_shard(parts: &Path, trials: &str, seed: &str, spec: &str) {
    run_shard_of(&starter(), parts, trials, seed, spec);
}

fn run_shard_of(scenario: &Path, parts: &Path, trials: &str, seed: &str, spec: &str) {
    bin()
        .args([
            "run", "-q", "--trials", trials, "--seed", seed, "--shard", spec, "-o",
        ])
        .arg(parts)
        .arg(scenario)
        .assert()
        .success();
}

/// Merge every part in `parts` into `out`.
fn merge_into(parts: &Path, out: &Path) {
    bin()
        .args(["merge", "-q", "-o"])
        .arg(out)
        .args(parts_in(parts))
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

/// `part` with the first `from` in its bytes replaced by `to`, and the seal left as it was.
fn edited_bytes(part: &Path, out: &Path, from: &str, to: &str) {
    let bytes = std::fs::read(part).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("`{from}` not in {}", part.display()));
    let mut bad = bytes[..at].to_vec();
    bad.extend_from_slice(to.as_bytes());
    bad.extend_from_slice(&bytes[at + from.len()..]);
    std::fs::write(out, bad).unwrap();
}

/// Merging `parts` fails with exit code 2, without a panic, naming `culprit` and saying each
/// of `needles`.
fn refused(parts: &[PathBuf], culprit: &Path, needles: &[&str]) {
    let out_dir = culprit.with_extension("out");
    let out = bin()
        .args(["merge", "-q", "-o"])
        .arg(&out_dir)
        .args(parts)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}: {err}", culprit.display());
    assert!(!err.contains("panicked"), "{err}");
    let name = culprit.file_name().unwrap().to_string_lossy();
    assert!(err.contains(&*name), "expected `{name}` in: {err}");
    for needle in needles {
        assert!(err.contains(needle), "expected `{needle}` in: {err}");
    }
    assert!(
        !out_dir.exists(),
        "a refused merge wrote {}",
        out_dir.display()
    );
}

/// Two shards of a 200-trial run of the starter (13 blocks of 16 trials, the last of 8: shard 0
/// is blocks 0..6, shard 1 blocks 6..13), in `dir`.
fn two_shards(dir: &Path) -> Vec<PathBuf> {
    run_shard(dir, "200", "1", "0/2");
    run_shard(dir, "200", "1", "1/2");
    parts_in(dir)
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
        merge_into(&parts, &merged);
        assert!(
            dir_files(&single) == dir_files(&merged),
            "{n} shards: merged output differs from the one-machine run"
        );
    }
}

/// Markets: price curves (integer histograms) and price losses merge exactly too.
#[test]
fn merged_shards_of_a_market_scenario_equal_the_one_machine_run() {
    let tmp = tempfile::tempdir().unwrap();
    let replay = repo().join("scenarios/rare-earths-2010-replay.toml");
    let single = tmp.path().join("single");
    bin()
        .args(["run", "-q", "--trials", "300", "--seed", "5", "-o"])
        .arg(&single)
        .arg(&replay)
        .assert()
        .success();
    let parts = tmp.path().join("parts");
    for k in [2, 0, 1] {
        run_shard_of(&replay, &parts, "300", "5", &format!("{k}/3"));
    }
    let merged = tmp.path().join("merged");
    merge_into(&parts, &merged);
    let files = dir_files(&single);
    assert!(files.iter().any(|f| f.0 == "prices.csv"));
    assert!(files == dir_files(&merged), "merged market output differs");
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
    merge_into(&parts, &merged);
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
    merge_into(&parts, &merged);
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

/// One byte of a price in the header's scenario: the seal catches it; sealed again, the
/// scenario's hash does; with that recomputed too, the other part's scenario does.
#[test]
fn merge_refuses_an_edited_scenario_text() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let a = two_shards(&p("a"));
    assert!(std::fs::read_to_string(starter())
        .unwrap()
        .contains("value = 50000"));
    edited_bytes(&a[1], &p("price.json"), "value = 50000", "value = 50001");
    refused(
        &[a[0].clone(), p("price.json")],
        &p("price.json"),
        &["checksum"],
    );
    let cheaper = |h: &mut PartHeader| {
        h.scenario_text = h
            .scenario_text
            .replacen("value = 50000", "value = 50001", 1);
    };
    resealed(&a[1], &p("sealed.json"), |h, _| cheaper(h));
    refused(
        &[a[0].clone(), p("sealed.json")],
        &p("sealed.json"),
        &["scenario text does not match"],
    );
    resealed(&a[1], &p("rehashed.json"), |h, _| {
        cheaper(h);
        h.scenario_sha256 = supplyshock::shard::sha256_hex(h.scenario_text.as_bytes());
    });
    refused(
        &[a[0].clone(), p("rehashed.json")],
        &p("rehashed.json"),
        &["different runs: scenario"],
    );
}

/// An edited trial count: the seal catches it; sealed again in both parts, the blocks the
/// count implies, or the trials the last block's sums hold, do.
#[test]
fn merge_refuses_an_edited_trial_count() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let a = two_shards(&p("a"));
    edited_bytes(&a[1], &p("raw.json"), "\"trials\":200", "\"trials\":201");
    refused(
        &[a[0].clone(), p("raw.json")],
        &p("raw.json"),
        &["checksum"],
    );
    // 300 trials are 19 blocks: shard 1 of 2 would be blocks 9..19.
    resealed(&a[0], &p("t300-0.json"), |h, _| h.trials = 300);
    resealed(&a[1], &p("t300-1.json"), |h, _| h.trials = 300);
    refused(
        &[p("t300-0.json"), p("t300-1.json")],
        &p("t300-0.json"),
        &["the header says blocks 0..6 but shard 0 of 2 of a 300-trial run is blocks 0..9"],
    );
    // 201 trials are 13 blocks too, the last of 9 trials, not 8.
    resealed(&a[0], &p("t201-0.json"), |h, _| h.trials = 201);
    resealed(&a[1], &p("t201-1.json"), |h, _| h.trials = 201);
    refused(
        &[p("t201-0.json"), p("t201-1.json")],
        &p("t201-1.json"),
        &["block 12", "expected 9"],
    );
}

/// Shard 1 relabelled as shard 0 (block 0..6 counted twice, 6..13 missing) or a copy of shard
/// 0 relabelled as shard 1: refused whether only the shard or also the blocks are relabelled.
#[test]
fn merge_refuses_a_part_relabelled_as_another_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let a = two_shards(&p("a"));
    edited_bytes(&a[1], &p("raw.json"), "\"shard\":1", "\"shard\":0");
    refused(
        &[a[0].clone(), p("raw.json")],
        &p("raw.json"),
        &["checksum"],
    );
    resealed(&a[1], &p("as-0.json"), |h, _| h.shard = 0);
    refused(
        &[p("as-0.json"), a[1].clone()],
        &p("as-0.json"),
        &["the header says blocks 6..13 but shard 0 of 2 of a 200-trial run is blocks 0..6"],
    );
    resealed(&a[1], &p("as-0-blocks.json"), |h, _| {
        h.shard = 0;
        h.blocks = [0, 6];
    });
    refused(
        &[p("as-0-blocks.json"), a[1].clone()],
        &p("as-0-blocks.json"),
        &["block 6, which is not among blocks 0..6"],
    );
    resealed(&a[0], &p("as-1-blocks.json"), |h, _| {
        h.shard = 1;
        h.blocks = [6, 13];
    });
    refused(
        &[a[0].clone(), p("as-1-blocks.json")],
        &p("as-1-blocks.json"),
        &["block 0, which is not among blocks 6..13"],
    );
    // A shard that does not exist.
    resealed(&a[1], &p("as-5.json"), |h, _| h.shard = 5);
    refused(
        &[a[0].clone(), p("as-5.json")],
        &p("as-5.json"),
        &["shard 5 does not exist among 2 shards"],
    );
}

/// The body's blocks must be exactly the shard's, each once, in order.
#[test]
fn merge_refuses_a_body_with_missing_extra_or_foreign_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let a = two_shards(&p("a"));
    type Edit = fn(&mut Vec<Value>);
    let cases: [(&str, Edit, &str); 6] = [
        (
            "none.json",
            |b| b.clear(),
            "lacks block 6 (it holds 0 of blocks 6..13)",
        ),
        (
            "missing-last.json",
            |b| {
                b.pop();
            },
            "lacks block 12",
        ),
        (
            "missing-middle.json",
            |b| {
                b.remove(2);
            },
            "block 9 where block 8 should be",
        ),
        (
            "twice.json",
            |b| {
                let again = b[3].clone();
                b.push(again);
            },
            "block 9 twice",
        ),
        (
            "far.json",
            |b| {
                let mut far = b[6].clone();
                far["block"] = json!(999999);
                b.push(far);
            },
            "block 999999, which is not among blocks 6..13",
        ),
        (
            "swapped.json",
            |b| b.swap(0, 1),
            "block 7 where block 6 should be",
        ),
    ];
    for (name, edit, needle) in cases {
        resealed(&a[1], &p(name), |_, body| {
            edit(body["blocks"].as_array_mut().unwrap())
        });
        refused(&[a[0].clone(), p(name)], &p(name), &[needle]);
    }
}

/// Bodies of the wrong shape (a variant or a row missing, a short histogram, too few losses,
/// a count beyond the histogram): refused with exit code 2, never a panic.
#[test]
fn merge_refuses_badly_shaped_bodies_without_panicking() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let a = two_shards(&p("a"));
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str); 10] = [
        (
            "no-variant-ints.json",
            |b| {
                b["ints"].as_array_mut().unwrap().pop();
            },
            "1 variants' histograms, expected 2",
        ),
        (
            "no-variant-block.json",
            |b| {
                b["blocks"][2]["variants"].as_array_mut().unwrap().pop();
            },
            "block 8: 1 variants, expected 2",
        ),
        (
            "no-slot-row.json",
            |b| {
                b["blocks"][0]["variants"][1]["slot"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
            "block 6, variant `stockpile-90`: 0 slot rows, expected 1",
        ),
        (
            "short-metric-row.json",
            |b| {
                b["blocks"][0]["variants"][0]["importer"][0]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
            "expected 6 metrics",
        ),
        (
            "short-tts.json",
            |b| {
                b["ints"][1]["tts"][0]["counts"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            },
            "the time-to-survive histogram has 365 bins, expected 366",
        ),
        (
            "no-ttr.json",
            |b| {
                b["ints"][0]["ttr"].as_array_mut().unwrap().clear();
            },
            "0 time-to-recover histograms, expected 1",
        ),
        (
            "short-curve-sums.json",
            |b| {
                b["ints"][0]["curves"]["sum"].as_array_mut().unwrap().pop();
            },
            "fill curves of 1 slots by 365 steps hold 364 sums",
        ),
        (
            "curve-count-beyond.json",
            |b| {
                let counts = b["ints"][0]["curves"]["counts"].as_array_mut().unwrap();
                counts.extend([json!(1u64 << 40), json!(1)]);
            },
            "beyond the 36865 counters",
        ),
        (
            "curve-count-short.json",
            |b| {
                let counts = b["ints"][1]["curves"]["counts"].as_array_mut().unwrap();
                let last = counts.len() - 1;
                counts[last] = json!(counts[last].as_u64().unwrap() - 1);
            },
            "the fill curve of slot 0 at step 364 counts 103 trials, expected 104",
        ),
        (
            "few-losses.json",
            |b| {
                b["blocks"][6]["losses"][1].as_array_mut().unwrap().pop();
            },
            "block 12, variant `stockpile-90`: 7 losses, expected 8",
        ),
    ];
    for (name, edit, needle) in cases {
        resealed(&a[1], &p(name), |_, body| edit(body));
        refused(&[a[0].clone(), p(name)], &p(name), &[needle]);
    }
}

/// Bytes flipped anywhere (header, body, the compressed stream's end) are caught by the seal;
/// a part of an older format is refused as such.
#[test]
fn merge_refuses_flipped_bytes_and_old_formats() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let a = two_shards(&p("a"));
    let bytes = std::fs::read(&a[1]).unwrap();
    let header_len = bytes.iter().position(|&b| b == b'\n').unwrap();
    // The seed, 1, becomes 0: the header still parses.
    let seed_at = std::str::from_utf8(&bytes[..header_len])
        .unwrap()
        .find("\"seed\":1,")
        .unwrap()
        + "\"seed\":".len();
    for (name, at) in [
        ("header.json", seed_at),
        ("body.json", (header_len + bytes.len()) / 2),
        ("end.json", bytes.len() - 1),
    ] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x01;
        std::fs::write(p(name), &bad).unwrap();
        refused(&[a[0].clone(), p(name)], &p(name), &["checksum"]);
    }
    let old = supplyshock::shard::PART_SCHEMA.replace("/7", "/3");
    edited_bytes(&a[1], &p("old.json"), supplyshock::shard::PART_SCHEMA, &old);
    refused(
        &[a[0].clone(), p("old.json")],
        &p("old.json"),
        &["part format `supplyshock.part/3` is not `supplyshock.part/7`"],
    );
}

/// A sealed part whose body expands far beyond what supplyshock writes (a compression bomb) is
/// refused without expanding it into memory.
#[test]
fn merge_refuses_a_body_that_expands_too_far() {
    let tmp = tempfile::tempdir().unwrap();
    let a = two_shards(&tmp.path().join("a"));
    let (header, _) = supplyshock::shard::unpack(&std::fs::read(&a[0]).unwrap()).unwrap();
    let bomb = supplyshock::shard::pack(&header, &vec![b' '; 20 << 20]);
    let e = supplyshock::shard::unpack(&bomb).unwrap_err();
    assert!(e.contains("expands beyond"), "{e}");
}

/// A focus chosen at merge time gives what a single run with that focus gives: parts keep each
/// importer's losses and their products, not totals.
#[test]
fn merge_with_a_focus_equals_the_single_run_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo().join("scenarios/japan-eu-critical-materials.toml");
    let single = tmp.path().join("single");
    bin()
        .args([
            "run", "-q", "--trials", "96", "--seed", "3", "--focus", "japan,eu",
        ])
        .arg("-o")
        .arg(&single)
        .arg(&scenario)
        .assert()
        .success();
    let parts = tmp.path().join("parts");
    for k in [1, 0] {
        run_shard_of(&scenario, &parts, "96", "3", &format!("{k}/2"));
    }
    let merged = tmp.path().join("merged");
    bin()
        .args(["merge", "-q", "--focus", "japan", "--focus", "eu", "-o"])
        .arg(&merged)
        .args(parts_in(&parts))
        .assert()
        .success();
    let summary = std::fs::read_to_string(merged.join("summary.json")).unwrap();
    assert!(summary.contains("\"focus\": true"), "{summary}");
    assert!(
        dir_files(&single) == dir_files(&merged),
        "merged focus output differs"
    );
}
