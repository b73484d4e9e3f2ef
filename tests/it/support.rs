//! Shared helpers: load scenario text, run it, read the summary.

use std::path::PathBuf;

use supplyshock::model::{load_str, Loaded};
use supplyshock::report::{summarize, Summary};
use supplyshock::runner::{run_all, Plan};

/// Run the binary with `args`, then `path`; it must succeed, and its stdout is JSON.
pub fn json_output(args: &[&str], path: &std::path::Path) -> serde_json::Value {
    json_of(
        assert_cmd::Command::cargo_bin("supplyshock")
            .unwrap()
            .args(args)
            .arg(path),
    )
}

/// Run `cmd`; it must succeed, and its stdout is JSON.
pub fn json_of(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn load(text: &str) -> Loaded {
    match load_str("test.toml", text.to_owned()) {
        Ok(l) => l,
        Err(d) => panic!("scenario should load:\n{d}"),
    }
}

/// Run the baseline and every strategy of a scenario; returns the summary.
pub fn run(text: &str, trials: u64, seed: u64) -> Summary {
    let loaded = load(text);
    let study = &loaded.study;
    let chosen: Vec<usize> = (0..study.strategies.len()).collect();
    let plan = Plan::new(study, &chosen);
    let acc = run_all(&plan, trials, seed);
    let names: Vec<String> = plan.ids.clone();
    let mut costs = vec![None];
    costs.extend(study.strategies.iter().map(|s| Some(s.cost.clone())));
    summarize(&plan, &costs, &names, &acc, trials, seed)
}

/// One importer, one material, one supplier: a scaffold for closed-form tests. `extra` is
/// appended (shocks, strategies); `importer` holds extra importer keys.
pub fn single(horizon_days: u32, importer: &str, extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "single"
horizon_days = {horizon_days}

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
id = "imp"
region = "D"
demand = {{ m = 3650 }}
{importer}

{extra}
"#
    )
}

/// Every file of a directory, by name, with its bytes (sorted by name).
pub fn dir_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
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
