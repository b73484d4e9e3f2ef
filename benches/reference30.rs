//! reference-30 (docs/model.md, "The reference-30 benchmark") through the engine, side by side
//! in one run with two hand-written kernels of the same model: the per-step one beside the
//! checkout (../shared/bench/limit, when present) and one that samples outage lengths
//! (`reference30/lengths.rs`, a stronger yardstick). Prints one line:
//! `engine_node_steps_per_s=E kernel_node_steps_per_s=K ratio=E/K
//! lengths_node_steps_per_s=L ratio_lengths=E/L fill=F fill_se=S lengths_fill=G
//! lengths_fill_se=T fill_z=Z threads=N`, where `fill_z` is the difference of the engine's and
//! the lengths kernel's mean fill in standard errors (independent samples of one quantity:
//! |Z| above about 3 says one of them is wrong).
//!
//! `cargo bench --bench reference30`; REF30_TRIALS sets the trial count (default 200000).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use supplyshock::model::load;
use supplyshock::report::summarize;
use supplyshock::runner::{run_all, Plan};

#[path = "reference30/lengths.rs"]
mod lengths;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let trials: u64 = std::env::var("REF30_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let loaded =
        load(&root.join("scenarios/bench/reference-30.toml")).unwrap_or_else(|e| panic!("{e}"));
    let model = &loaded.study.baseline;
    let plan = Plan::new(&loaded.study, &[]);
    let start = Instant::now();
    let acc = run_all(&plan, trials, model.seed);
    let secs = start.elapsed().as_secs_f64();
    let s = summarize(
        &plan,
        &[None],
        &["baseline".into()],
        &acc,
        trials,
        model.seed,
    );
    let node_steps = model.n_nodes() as f64 * model.n_steps as f64 * trials as f64;
    let engine = node_steps / secs;
    let fill = s.variants[0].network_fill_rate;

    let kernel = run_kernel(root, trials);
    let (k, ratio) = match kernel {
        Some(k) => (format!("{k:.4e}"), format!("{:.3}", engine / k)),
        None => ("NA".into(), "NA".into()),
    };
    let (lengths, l_fill, l_se) = lengths::run(trials);
    let z = (fill.mean - l_fill) / (fill.se * fill.se + l_se * l_se).sqrt();
    println!(
        "engine_node_steps_per_s={engine:.4e} kernel_node_steps_per_s={k} ratio={ratio} lengths_node_steps_per_s={lengths:.4e} ratio_lengths={:.3} fill={:.4} fill_se={:.5} lengths_fill={l_fill:.4} lengths_fill_se={l_se:.5} fill_z={z:.2} threads={}",
        engine / lengths,
        fill.mean,
        fill.se,
        rayon::current_num_threads()
    );
}

/// Build and run the kernel; its node-periods per second, or None when it is not there.
fn run_kernel(root: &Path, trials: u64) -> Option<f64> {
    let manifest = root.join("../shared/bench/limit/Cargo.toml");
    if !manifest.exists() {
        eprintln!("kernel not found at {}: engine only", manifest.display());
        return None;
    }
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--release", "--manifest-path"])
        .arg(&manifest)
        .arg("--")
        .arg(trials.to_string())
        .env("CARGO_TARGET_DIR", root.join("target/limit"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let v = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix("node_periods_per_s="))?;
    v.parse().ok()
}
