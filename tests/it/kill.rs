//! Commands killed at random points leave the output directory as it was or complete.
//!
//! `run` and `merge` replace earlier results of the same command (`--force`) and are killed
//! (SIGKILL: nothing of theirs runs after it) after random delays, seeded, from their start to a
//! little past their typical duration, so kills land while the scenario loads, while the engine
//! runs, while files are rendered and staged, and after the end. After each kill the output
//! directory must be byte for byte the previous results or the new ones, never a mixture and
//! never missing; then the same command run again to the end must leave its results and nothing
//! else beside them (no `.NAME.partial-PID`, no `.NAME.old-PID`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{dir_files, repo};

type Files = Vec<(String, Vec<u8>)>;

/// SplitMix64: a seeded sequence of delays, the same on every machine.
struct Delays(u64);

impl Delays {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n.max(1)
    }
}

fn bin() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("supplyshock"));
    c.stdin(Stdio::null()).stdout(Stdio::null());
    c
}

fn starter() -> PathBuf {
    repo().join("scenarios/starter.toml")
}

/// Run `cmd` to the end; it must succeed. How long it took.
fn complete(mut cmd: Command) -> Duration {
    let start = Instant::now();
    let out = cmd.stderr(Stdio::piped()).output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}

/// Names in `dir` other than `keep`.
fn others(dir: &Path, keep: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect()
}

/// What a directory that is neither result holds, for the failure message.
fn describe(files: &Files) -> String {
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    let listed = files
        .iter()
        .find(|f| f.0 == ".supplyshock-results")
        .map(|f| String::from_utf8_lossy(&f.1).into_owned());
    format!("files {names:?}, manifest {listed:?}")
}

/// `make(v, out)` is a command writing results `v` (0 or 1, which differ) into `out`, with
/// `--force`. Each is written once to the end for reference; then, starting from results 0,
/// `kills` times: the command writing the other results is started, killed after a random delay
/// (from `seed`), checked, run again to the end, and checked again.
fn kill_at_random_points(make: &dyn Fn(usize, &Path) -> Command, kills: usize, seed: u64) {
    let tmp = tempfile::tempdir().unwrap();
    // The faster of the two (the first also pays for a cold start).
    let mut typical = Duration::MAX;
    let refs: Vec<Files> = (0..2)
        .map(|v| {
            let dir = tmp.path().join(format!("ref{v}"));
            typical = typical.min(complete(make(v, &dir)));
            dir_files(&dir)
        })
        .collect();
    assert!(refs[0] != refs[1], "the two results must differ");
    let work = tmp.path().join("work");
    let out = work.join("out");
    std::fs::create_dir_all(&out).unwrap();
    for (name, bytes) in &refs[0] {
        std::fs::write(out.join(name), bytes).unwrap();
    }
    let mut delays = Delays(seed);
    let (mut old, mut landed) = (0, [0; 2]);
    for i in 0..kills {
        let new = 1 - old;
        // Up to a fifth past the typical duration: some kills come after the end.
        let wait = Duration::from_micros(delays.below(typical.as_micros() as u64 * 6 / 5));
        let mut child = make(new, &out).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(wait);
        // It may have finished already: then there is nothing to kill.
        let _ = child.kill();
        child.wait().unwrap();
        let ctx = format!("kill {i}, {wait:?} after the start (a whole run: {typical:?})");
        assert!(out.is_dir(), "{ctx}: the output directory is missing");
        let now = dir_files(&out);
        if now == refs[old] {
            landed[0] += 1;
        } else if now == refs[new] {
            landed[1] += 1;
        } else {
            panic!(
                "{ctx}: neither the previous results nor the new ones: {}",
                describe(&now)
            );
        }
        complete(make(new, &out));
        assert!(
            dir_files(&out) == refs[new],
            "{ctx}: the run after the kill did not write its results"
        );
        let left = others(&work, "out");
        assert!(left.is_empty(), "{ctx}: left beside the results: {left:?}");
        old = new;
    }
    eprintln!(
        "{kills} kills (whole run {typical:?}): {} left the previous results, {} the new ones",
        landed[0], landed[1]
    );
}

/// `run` of the starter, 10000 trials: about a second on two cores, a third of it in the engine.
#[test]
fn a_run_killed_anywhere_leaves_the_previous_results_or_the_new_ones() {
    let make = |v: usize, out: &Path| {
        let mut c = bin();
        c.args([
            "run",
            "--trials",
            "10000",
            "--threads",
            "2",
            "-q",
            "--force",
        ])
        .args(["--seed", ["1", "2"][v], "-o"])
        .arg(out)
        .arg(starter());
        c
    };
    kill_at_random_points(&make, 14, 0x5eed_0001);
}

/// `merge` of two parts of a 10000-trial run of the starter: about half a second.
#[test]
fn a_merge_killed_anywhere_leaves_the_previous_results_or_the_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let parts: Vec<PathBuf> = (0..2).map(|v| tmp.path().join(format!("p{v}"))).collect();
    for (v, dir) in parts.iter().enumerate() {
        for shard in ["0/2", "1/2"] {
            let mut c = bin();
            c.args(["run", "--trials", "10000", "--threads", "2", "-q"])
                .args(["--seed", ["1", "2"][v], "--shard", shard, "-o"])
                .arg(dir)
                .arg(starter());
            complete(c);
        }
    }
    let make = |v: usize, out: &Path| {
        let mut c = bin();
        c.arg("merge")
            .arg(parts[v].join("part-0000-of-0002.json"))
            .arg(parts[v].join("part-0001-of-0002.json"))
            .args(["-q", "--force", "-o"])
            .arg(out);
        c
    };
    kill_at_random_points(&make, 14, 0x5eed_0002);
}

/// A run killed between moving the previous results aside and renaming its own into place
/// leaves no output directory, only `.out.old-PID` and `.out.partial-PID`. The next command
/// puts the previous results back (they were deleted with the staging directory): without
/// `--force` it is refused, as it would have been before.
#[test]
fn results_moved_aside_by_a_killed_run_are_put_back() {
    if !cfg!(target_os = "linux") {
        return; // whether the process is gone is only known there
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let run = |trials: &str| {
        let mut c = bin();
        c.args(["run", "--trials", trials, "-q", "-o"])
            .arg(&out)
            .arg(starter());
        c
    };
    complete(run("40"));
    let before = dir_files(&out);
    // Above the largest process id Linux hands out: a process that is gone.
    std::fs::rename(&out, tmp.path().join(".out.old-4194305")).unwrap();
    let stage = tmp.path().join(".out.partial-4194305");
    std::fs::create_dir(&stage).unwrap();
    std::fs::write(stage.join("summary.json"), "{}").unwrap();
    let o = run("50").stderr(Stdio::piped()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("already holds results"), "{err}");
    assert!(
        dir_files(&out) == before,
        "the previous results were not put back"
    );
    assert_eq!(others(tmp.path(), "out"), Vec::<String>::new());
}
