//! Criterion benchmarks of the engine: one group of trials (side by side, as runs do) of
//! reference-30 and of the flagship, with its markets and without them (what the market layer
//! costs); the flagship's baseline and six strategies on one group, one model after another and
//! in lockstep (where a strategy repeats the baseline's clearings of the markets it leaves as
//! they are, as runs do); and a scaling series over ring networks of about 30, 300 and 3000
//! nodes (three tiers, as reference-30), reported as node-steps per second, so cost per
//! node-step can be compared across sizes.
//!
//! `cargo bench --bench engine`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use supplyshock::engine::{run_group, run_lockstep, Lockstep, Scratch};
use supplyshock::lanes::LANES;
use supplyshock::model::{load_str, Model, Study};
use supplyshock::shocks::{sample_trial, Event};
use supplyshock::stats::CurveAcc;

/// reference-30 scaled: `k` raw suppliers, `k` processors, `k` importers, thirds sourcing.
fn ring_network(k: usize) -> String {
    let third = "0.3333333333333333";
    let last = "0.3333333333333334";
    let mut t = format!("[scenario]\nname = \"ring-{k}\"\nhorizon_days = 365\n[[region]]\nid = \"X\"\n[[material]]\nid = \"raw\"\nvalue = 1\n[[material]]\nid = \"processed\"\nvalue = 1\ninputs = {{ raw = 1.0 }}\n");
    for i in 0..k {
        t += &format!(
            "[[supplier]]\nid = \"r{i}\"\nregion = \"X\"\nmaterial = \"raw\"\ncapacity = 3650\n"
        );
    }
    for j in 0..k {
        t += &format!("[[supplier]]\nid = \"p{j}\"\nregion = \"X\"\nmaterial = \"processed\"\ncapacity = 3650\nsourcing.raw = {{ r{} = {third}, r{} = {third}, r{} = {last} }}\n", j, (j + 1) % k, (j + 2) % k);
    }
    for i in 0..k {
        t += &format!("[[importer]]\nid = \"i{i}\"\nregion = \"X\"\ndemand = {{ processed = 3650 }}\nsourcing.processed = {{ p{} = {third}, p{} = {third}, p{} = {last} }}\nstockpile.processed = {{ days = 3, refill = false }}\n", i, (i + 1) % k, (i + 2) % k);
    }
    t += "[[shock]]\nid = \"outage\"\nkind = \"capacity_loss\"\ntarget = { material = [\"raw\", \"processed\"] }\nmarkov = { down = 0.05, up = 0.2 }\nindependent = true\n";
    t
}

/// `text` without its markets: every `[material.market]` table and the stock keys that need
/// one (`refill_below`, `release_above`) removed.
fn without_markets(text: &str) -> String {
    fn strip(v: &mut toml::Value) {
        match v {
            toml::Value::Table(t) => {
                for key in ["market", "refill_below", "release_above"] {
                    t.remove(key);
                }
                t.iter_mut().for_each(|(_, v)| strip(v));
            }
            toml::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: toml::Value = toml::from_str(text).expect("the flagship parses");
    strip(&mut v);
    toml::to_string(&v).expect("a TOML value serializes")
}

fn compile(text: String) -> Model {
    load_str("bench.toml", text)
        .unwrap_or_else(|e| panic!("{e}"))
        .study
        .baseline
}

fn bench_group(c: &mut Criterion, group: &str, label: &str, model: &Model) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(
        (LANES * model.n_nodes()) as u64 * model.n_steps as u64,
    ));
    let mut scratch = Scratch::new(model).unaudited();
    let mut curves = CurveAcc::new(model.importer_slots().count(), model.n_steps as usize);
    let mut events = vec![Vec::new(); LANES];
    let mut first = 0u64;
    g.bench_function(BenchmarkId::from_parameter(label), |b| {
        b.iter(|| {
            for (l, ev) in events.iter_mut().enumerate() {
                sample_trial(model, 1, first + l as u64, ev);
            }
            run_group(model, &mut scratch, &events, Some(&mut curves));
            first += LANES as u64;
        })
    });
    g.finish();
}

/// Every model of `study` (baseline first) on the same group of trials: one after another
/// (`one-by-one`), and in lockstep with shared markets (`lockstep`).
fn bench_strategies(c: &mut Criterion, study: &Study) {
    let models: Vec<&Model> = std::iter::once(&study.baseline)
        .chain(study.strategies.iter().map(|s| &s.model))
        .collect();
    let mut g = c.benchmark_group("strategies");
    g.sample_size(10);
    let new_curves = |m: &Model| CurveAcc::new(m.importer_slots().count(), m.n_steps as usize);
    let mut scratch: Vec<Scratch> = models.iter().map(|m| Scratch::new(m).unaudited()).collect();
    let mut curves: Vec<CurveAcc> = models.iter().map(|m| new_curves(m)).collect();
    let mut events = vec![vec![Vec::new(); LANES]; models.len()];
    let mut first = 0u64;
    let sample = |events: &mut Vec<Vec<Vec<Event>>>, first: &mut u64| {
        for (m, ev) in models.iter().zip(events.iter_mut()) {
            for (l, e) in ev.iter_mut().enumerate() {
                sample_trial(m, 1, *first + l as u64, e);
            }
        }
        *first += LANES as u64;
    };
    g.bench_function("flagship-one-by-one", |b| {
        b.iter(|| {
            sample(&mut events, &mut first);
            for (v, m) in models.iter().enumerate() {
                run_group(m, &mut scratch[v], &events[v], Some(&mut curves[v]));
            }
        })
    });
    g.bench_function("flagship-lockstep", |b| {
        b.iter(|| {
            sample(&mut events, &mut first);
            let mut runs = Lockstep::each(
                &models,
                &mut scratch,
                events.iter().map(Vec::as_slice),
                curves.iter_mut().map(Some),
            );
            run_lockstep(&mut runs);
        })
    });
    g.finish();
}

fn engine(c: &mut Criterion) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference =
        compile(std::fs::read_to_string(root.join("scenarios/bench/reference-30.toml")).unwrap());
    bench_group(c, "group", "reference-30", &reference);
    let text =
        std::fs::read_to_string(root.join("scenarios/japan-eu-critical-materials.toml")).unwrap();
    let stripped = compile(without_markets(&text));
    assert!(stripped.materials.iter().all(|m| m.market.is_none()));
    let study = load_str("flagship.toml", text.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .study;
    bench_strategies(c, &study);
    let flagship = compile(text);
    bench_group(c, "group", "flagship", &flagship);
    bench_group(c, "group", "flagship-without-markets", &stripped);
    for k in [10, 100, 1000] {
        let model = compile(ring_network(k));
        bench_group(c, "scaling", &format!("{}-nodes", model.n_nodes()), &model);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = engine
}
criterion_main!(benches);
