//! The binary under random command lines.
//!
//! Each case picks a subcommand (or garbage) and a random subset of its flags, with values drawn
//! from valid, edge and garbage ones, and runs the real binary on a scenario mutated from
//! `scenarios/minimal.toml` or `scenarios/starter.toml` (see `fuzz.rs`) and on part files with
//! bytes flipped, cut or inserted, or edited and sealed again. Every case gets a temporary
//! directory holding the scenario and the parts, and `out/`, the only place it may write (its
//! working directory; sometimes holding earlier results and a user's file). Whatever the input:
//!
//! - the process exits 0, 1 or 2 within the time limit: no panic, no signal;
//! - nothing outside `out/` changes (a shard run told to write its part beside the scenario
//!   aside), and no staging or temporary directory is left anywhere;
//! - every results directory holds every file its manifest lists, and a user's file stays;
//! - no file (and no JSON on stdout) holds inf or NaN: not as a CSV field, not as a word of
//!   text, and not as a JSON `null` where the schema has a number.
//!
//! Each case costs a process, so the default number of cases is small; set
//! `SUPPLYSHOCK_FUZZ_CASES` for a longer search.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

use crate::fuzz::{apply, mutation, number, Mutation};
use crate::support::{dir_files, repo};

/// Scenarios to mutate: the smallest and the starter (a strategy, distributions, recovery).
const BASES: [&str; 2] = ["scenarios/minimal.toml", "scenarios/starter.toml"];
/// Longest a case's process may take: far beyond any case (trials are capped), so a timeout
/// means the binary hung.
const TIMEOUT: Duration = Duration::from_secs(30);
/// About 15 s on two idle cores: most command lines fail in milliseconds, a run takes up to a
/// few tenths of a second.
const DEFAULT_CASES: u32 = 320;

fn cases() -> u32 {
    std::env::var("SUPPLYSHOCK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

/// What every case starts from: the bases' text, the two parts of a small sharded run of the
/// minimal scenario, and the files of a small run of it (to plant as earlier results).
struct Fixture {
    bases: [String; 2],
    parts: [Vec<u8>; 2],
    results: Vec<(String, Vec<u8>)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let minimal = repo().join(BASES[0]);
        let run = |args: &[&str], out: &Path| {
            assert_cmd::Command::cargo_bin("supplyshock")
                .unwrap()
                .args(["run", "--trials", "40", "-q"])
                .args(args)
                .arg("-o")
                .arg(out)
                .arg(&minimal)
                .timeout(TIMEOUT)
                .assert()
                .success();
        };
        let parts = tmp.path().join("parts");
        run(&["--shard", "0/2"], &parts);
        run(&["--shard", "1/2"], &parts);
        let results = tmp.path().join("results");
        run(&[], &results);
        Fixture {
            bases: BASES.map(|b| std::fs::read_to_string(repo().join(b)).unwrap()),
            parts: [0, 1].map(|k| std::fs::read(parts.join(part_name(k))).unwrap()),
            results: dir_files(&results),
        }
    })
}

fn part_name(k: usize) -> String {
    format!("part-{k:04}-of-0002.json")
}

/// One edit to a part file.
#[derive(Debug, Clone)]
enum PartEdit {
    /// A bit flipped, the seal left as it was.
    Flip(Index, u8),
    Truncate(Index),
    Insert(Index, u8),
    /// A number of the header line (`body: false`) or of the body's JSON replaced, then the part
    /// sealed again: only the consistency checks stand in the way.
    Resealed {
        body: bool,
        at: Index,
        number: String,
    },
    /// The scenario text in the header edited, its hash computed again (or not), sealed again.
    Scenario {
        edit: Mutation,
        rehash: bool,
    },
}

fn part_edit() -> impl Strategy<Value = PartEdit> {
    prop_oneof![
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| PartEdit::Flip(i, b)),
        1 => any::<Index>().prop_map(PartEdit::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| PartEdit::Insert(i, b)),
        2 => (any::<bool>(), any::<Index>(), number()).prop_map(|(body, at, number)| {
            PartEdit::Resealed { body, at, number }
        }),
        1 => (mutation(), any::<bool>())
            .prop_map(|(edit, rehash)| PartEdit::Scenario { edit, rehash }),
    ]
}

fn edit_part(bytes: &mut Vec<u8>, e: &PartEdit) {
    use supplyshock::shard::{pack, sha256_hex, unpack, PartHeader};
    let len = bytes.len();
    match e {
        PartEdit::Flip(i, bit) => {
            if len > 0 {
                bytes[i.index(len)] ^= 1 << (bit % 8);
            }
        }
        PartEdit::Truncate(i) => bytes.truncate(i.index(len + 1)),
        PartEdit::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
        PartEdit::Resealed { body, at, number } => {
            // An earlier edit may have broken the part beyond unpacking: leave it so.
            let Ok((header, mut json)) = unpack(bytes) else {
                return;
            };
            if *body {
                apply(&mut json, &Mutation::ReplaceNumber(*at, number.clone()));
                *bytes = pack(&header, &json);
                return;
            }
            let mut line = serde_json::to_vec(&header).unwrap();
            apply(&mut line, &Mutation::ReplaceNumber(*at, number.clone()));
            let packed = pack(&header, &json);
            let stored = &packed[packed.iter().position(|&b| b == b'\n').unwrap() + 1..];
            *bytes = match serde_json::from_slice::<PartHeader>(&line) {
                Ok(edited) => pack(&edited, &json),
                // A header that no longer parses, with the body as it was.
                Err(_) => [&line[..], b"\n", stored].concat(),
            };
        }
        PartEdit::Scenario { edit, rehash } => {
            let Ok((mut header, json)) = unpack(bytes) else {
                return;
            };
            let mut text = header.scenario_text.clone().into_bytes();
            apply(&mut text, edit);
            header.scenario_text = String::from_utf8_lossy(&text).into_owned();
            if *rehash {
                header.scenario_sha256 = sha256_hex(header.scenario_text.as_bytes());
            }
            *bytes = pack(&header, &json);
        }
    }
}

/// A scenario edit: mostly a number replaced (the file still parses, so the run goes further):
/// by a plain one, a tiny or huge one that is still in range, or anything `fuzz.rs` draws; and
/// sometimes any edit `fuzz.rs` makes.
fn scenario_edit() -> impl Strategy<Value = Mutation> {
    let mild = prop::sample::select(vec![
        "0", "1", "2", "30", "0.5", "1000", "1e6", "-5", "5e-324", "1e-300", "9e14",
    ])
    .prop_map(str::to_owned);
    prop_oneof![
        2 => (any::<Index>(), mild).prop_map(|(i, n)| Mutation::ReplaceNumber(i, n)),
        2 => (any::<Index>(), number()).prop_map(|(i, n)| Mutation::ReplaceNumber(i, n)),
        1 => mutation(),
    ]
}

/// Tokens of a command line; `{tmp}`, `{out}`, `{scen}`, `{part0}` and `{part1}` stand for the
/// case's directory, its output directory, the scenario and the parts.
type Group = BoxedStrategy<Vec<String>>;

/// Values of a flag: usual ones, and odd ones (edge or garbage) drawn a sixth of the time, so
/// that most command lines get past the argument parser and a good share run to the end.
type Values = (&'static [&'static str], &'static [&'static str]);

/// `flag VALUE`.
fn with(flag: &'static str, (usual, odd): Values) -> Group {
    prop_oneof![5 => prop::sample::select(usual), 1 => prop::sample::select(odd)]
        .prop_map(move |v| vec![flag.to_owned(), v.to_owned()])
        .boxed()
}

/// `g` with probability `p`, else nothing.
fn sometimes(p: f64, g: Group) -> Group {
    prop::option::weighted(p, g)
        .prop_map(Option::unwrap_or_default)
        .boxed()
}

fn switch(flag: &'static str, p: f64) -> Group {
    sometimes(p, Just(vec![flag.to_owned()]).boxed())
}

/// Usual counts are at most 200; the huge ones are refused before any work (they cannot fit in
/// memory).
const TRIALS: Values = (
    &["1", "17", "40", "200"],
    &[
        "0",
        "-1",
        "abc",
        "",
        "1e3",
        "1000000000000",
        "18446744073709551615",
        "18446744073709551616",
    ],
);
const SEEDS: Values = (&["0", "1", "42", "18446744073709551615"], &["-1", "x"]);
const THREADS: Values = (&["1", "2"], &["0", "5000", "1024", "-2", "two"]);
const SHARD: Values = (
    &["0/2", "1/2", "0/1", "3/5", "0/18446744073709551615"],
    &["2/2", "0/0", "1/0", "a/b", "1", "-1/2", " 1 / 2 "],
);
const SHARDS: Values = (&["2"], &["0", "x"]);
const STRATEGY: Values = (&["stockpile-90"], &["nope", ""]);
const OUTPUT: Values = (
    &[
        "{out}/res",
        "{out}/a/b/c",
        "-",
        "{out}",
        "{out}/prev",
        "res",
    ],
    &["{out}/foreign", "{out}/prev/inner", "{scen}", "{tmp}", ""],
);
const FORMAT: Values = (&["json", "table"], &["xml", ""]);
const SET: Values = (
    &[
        "shock.outage.rate_per_year=0,1,4",
        "importer.buyer.stockpile.widget.days=0,30,1e6",
        "shock.a_ban.rate_per_year=0.1,0.2",
        "importer.home.stockpile.oxide.days=0,90",
        "supplier.plant.capacity=0,1e15",
        "supplier.a_refiner.spare=0,1,2",
        "shock.a_ban.severity=0,1",
        "shock.outage.duration_days=0,1e9",
    ],
    &[
        "importer.buyer.demand.widget=1e300",
        "shock.outage.severity=2,-1",
        "shock.outage.rate_per_year=1e308",
        "shock.outage.rate_per_year=nan",
        "shock.outage.rate_per_year=",
        "route.r.lead_days=5",
        "pool.p.days=1",
        "x=1",
        "=",
    ],
);
const REMOVE: Values = (&["plant", "A", "a_refiner", "HOME"], &["nope", ""]);
const DAYS: Values = (
    &["30", "1", "365", "0.001", "100000"],
    &["0", "-1", "nan", "inf", "1e300", "abc"],
);

/// Whole command lines, mostly wrong.
const GARBAGE: &[&[&str]] = &[
    &["rnu", "{scen}"],
    &[""],
    &[],
    &["--version"],
    &["--help"],
    &["-q"],
    &["run", "--help"],
    &["help", "merge"],
    &["completions", "bash"],
    &["completions", "nope"],
    &["merge"],
    &["run"],
    &["check", "{scen}", "extra"],
    &["run", "{scen}", "--trials"],
    &["{scen}"],
];

/// The scenario argument: mostly the case's scenario.
fn scenario() -> Group {
    prop_oneof![
        9 => Just("{scen}"),
        1 => prop::sample::select(&["{tmp}/missing.toml", "{tmp}", "{part0}", "{out}", ""][..]),
    ]
    .prop_map(|s| vec![s.to_owned()])
    .boxed()
}

fn output() -> Group {
    prop_oneof![with("-o", OUTPUT), with("--output", OUTPUT)].boxed()
}

/// Flags every writing command shares.
fn common(p_output: f64) -> Vec<Group> {
    vec![
        sometimes(p_output, output()),
        switch("--force", 0.4),
        switch("-q", 0.5),
        sometimes(0.3, with("--format", FORMAT)),
    ]
}

fn sampling() -> Vec<Group> {
    vec![
        sometimes(0.9, with("--trials", TRIALS)),
        sometimes(0.3, with("--seed", SEEDS)),
        sometimes(0.3, with("--threads", THREADS)),
    ]
}

/// A subcommand and its argument groups in random order.
fn command(name: &'static str, groups: Vec<Group>) -> BoxedStrategy<Vec<String>> {
    groups
        .prop_shuffle()
        .prop_map(move |gs| {
            let mut v = vec![name.to_owned()];
            v.extend(gs.into_iter().flatten());
            v
        })
        .boxed()
}

fn args() -> impl Strategy<Value = Vec<String>> {
    let run = {
        let mut g = vec![scenario()];
        g.extend(sampling());
        g.extend(common(0.85));
        g.push(sometimes(0.25, with("--shard", SHARD)));
        g.push(sometimes(0.1, with("--shards", SHARDS)));
        g.push(sometimes(
            0.2,
            prop::collection::vec(with("--strategy", STRATEGY), 1..3)
                .prop_map(|v| v.concat())
                .boxed(),
        ));
        // Not a flag (it is `--strategy`, repeated): refused.
        g.push(sometimes(
            0.05,
            with("--strategies", (&["stockpile-90"], &["stockpile-90,nope"])),
        ));
        command("run", g)
    };
    let sweep = {
        let mut g = vec![scenario(), sometimes(0.95, with("--set", SET))];
        g.extend(sampling());
        g.extend(common(0.6));
        command("sweep", g)
    };
    let merge = {
        let parts = prop_oneof![
            5 => Just(vec!["{part0}".to_owned(), "{part1}".to_owned()]),
            1 => prop::collection::vec(
                prop::sample::select(
                    &["{part0}", "{part1}", "{tmp}/missing.json", "{scen}", "{tmp}"][..]
                )
                .prop_map(str::to_owned),
                1..4,
            ),
        ]
        .boxed();
        let mut g = vec![parts];
        g.extend(common(0.9));
        command("merge", g)
    };
    let stress = {
        let mut g = vec![
            scenario(),
            prop_oneof![
                prop::collection::vec(with("--remove", REMOVE), 0..3)
                    .prop_map(|v| v.concat())
                    .boxed(),
                Just(vec!["--all".to_owned()]).boxed(),
            ]
            .boxed(),
            sometimes(0.9, with("--days", DAYS)),
        ];
        g.extend(common(0.5));
        command("stress", g)
    };
    let check = command(
        "check",
        vec![
            scenario(),
            sometimes(0.5, with("--format", FORMAT)),
            switch("-q", 0.5),
        ],
    );
    let init = command(
        "init",
        vec![
            sometimes(
                0.8,
                prop::sample::select(
                    &[
                        "{out}/new.toml",
                        "{out}/a/new.toml",
                        "{out}",
                        "{out}/prev",
                        "{out}/new.toml/",
                        "",
                    ][..],
                )
                .prop_map(|s| vec![s.to_owned()])
                .boxed(),
            ),
            switch("--force", 0.4),
            switch("-q", 0.5),
        ],
    );
    let garbage =
        prop::sample::select(GARBAGE).prop_map(|v| v.iter().map(|s| (*s).to_owned()).collect());
    prop_oneof![
        3 => run,
        2 => sweep,
        2 => merge,
        1 => stress,
        1 => check,
        1 => init,
        1 => garbage,
    ]
}

/// Scheduler variables that make `run` a shard (they must not leak in from the test's own
/// environment otherwise).
const SCHEDULER: [&str; 5] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "JOB_COMPLETION_INDEX",
];

fn env() -> impl Strategy<Value = Vec<(String, String)>> {
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, x)| ((*k).to_owned(), (*x).to_owned()))
            .collect()
    };
    prop_oneof![
        12 => Just(vec![]),
        1 => Just(pairs(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_COUNT", "2")])),
        1 => Just(pairs(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "2")])),
        1 => Just(pairs(&[("JOB_COMPLETION_INDEX", "0")])),
        1 => Just(pairs(&[("JOB_COMPLETION_INDEX", "x")])),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    args: Vec<String>,
    base: usize,
    scenario_edits: Vec<Mutation>,
    /// Which part (0, 1, or 2 for both) and the edit.
    part_edits: Vec<(u8, PartEdit)>,
    /// Plant earlier results in `out/prev` and a user's file in `out/foreign`.
    plant: bool,
    env: Vec<(String, String)>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        args(),
        0..BASES.len(),
        prop_oneof![Just(vec![]), prop::collection::vec(scenario_edit(), 1..4),],
        prop_oneof![
            Just(vec![]),
            prop::collection::vec((0u8..3, part_edit()), 1..3),
        ],
        any::<bool>(),
        env(),
    )
        .prop_map(
            |(args, base, scenario_edits, part_edits, plant, env)| Case {
                args,
                base,
                scenario_edits,
                part_edits,
                plant,
                env,
            },
        )
}

/// A file-system entry, for before-and-after comparisons.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Dir,
    File(Vec<u8>),
    Other(String),
}

/// Every entry under `root`, by path relative to it.
fn tree(root: &Path) -> BTreeMap<String, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.insert(rel, Node::Dir);
                walk(root, &p, out);
            } else if meta.is_file() {
                out.insert(rel, Node::File(std::fs::read(&p).unwrap()));
            } else {
                out.insert(rel, Node::Other(format!("{:?}", meta.file_type())));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Keys whose value may be `null` in supplyshock's JSON; anywhere else a `null` is a number
/// serde_json could not write (inf or NaN).
const MAY_BE_NULL: &[&str] = &[
    "description",
    "yearly_cost",
    "total_loss_vs_baseline",
    "loss_avoided_per_cost",
    "time_to_survive_days",
    "time_to_recover_days",
    "vs_baseline",
    "tts_days",
    "ttr_days",
    "min_tts_days",
    "supply_risk",
    "upstream_top_region",
    "upstream_top_region_name",
    "peak_price_p95",
];

fn json_finite(v: &Value, at: &str) -> Result<(), String> {
    match v {
        Value::Null => {
            let key = at.rsplit('.').next().unwrap_or("");
            if MAY_BE_NULL.contains(&key) {
                Ok(())
            } else {
                Err(format!("null (a non-finite number) at {at}"))
            }
        }
        Value::Array(a) => a
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| json_finite(x, &format!("{at}[{i}]"))),
        Value::Object(o) => o
            .iter()
            .try_for_each(|(k, x)| json_finite(x, &format!("{at}.{k}"))),
        Value::Number(_) | Value::String(_) | Value::Bool(_) => Ok(()),
    }
}

/// JSON text: it parses (serde_json refuses `NaN` and `Infinity`) and has no stray `null`.
fn check_json(bytes: &[u8]) -> Result<(), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    json_finite(&v, "$")
}

/// The quoted strings of a scenario's text (names and descriptions, which outputs echo), one
/// per line: a `nan` put where a number was is not among them.
fn quoted(text: &str) -> String {
    text.lines()
        .flat_map(|line| line.split('"').skip(1).step_by(2))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The words of `text`: runs of letters, digits and underscores.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
}

/// Plain text (tables, report.md, SVG): no `inf`, `NaN` or `Infinity` as a word, unless a
/// quoted string of the scenario (`given`, see [`quoted`]) has that word itself (a name such
/// as "Hold nan days" is echoed as written).
fn check_text(text: &str, given: &str) -> Result<(), String> {
    let odd = |w: &str| ["inf", "nan", "infinity"].contains(&w.to_ascii_lowercase().as_str());
    let bad = words(text).find(|&w| odd(w) && !words(given).any(|g| g == w));
    bad.map_or(Ok(()), |w| Err(format!("`{w}` in the text")))
}

/// No field of a CSV file is a non-finite number.
fn check_csv(bytes: &[u8]) -> Result<(), String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| format!("not CSV: {e}"))?;
        if let Some(f) = rec
            .iter()
            .find(|f| f.parse::<f64>().is_ok_and(|x| !x.is_finite()))
        {
            return Err(format!("`{f}` in row {}", i + 1));
        }
    }
    Ok(())
}

/// An output file holds only finite numbers.
fn check_file(name: &str, bytes: &[u8], given: &str) -> Result<(), String> {
    if name.ends_with(".csv") {
        check_csv(bytes)
    } else if name.starts_with("part-") && name.ends_with(".json") {
        let (header, body) = supplyshock::shard::unpack(bytes)?;
        check_json(&serde_json::to_vec(&header).unwrap())?;
        // A part's body has no optional field: any null is a number that was not finite.
        let v: Value = serde_json::from_slice(&body).map_err(|e| format!("body: {e}"))?;
        if serde_json::to_string(&v).unwrap().contains("null") {
            return Err("null (a non-finite number) in the body".into());
        }
        Ok(())
    } else if name.ends_with(".json") {
        check_json(bytes)
    } else if name.ends_with(".md") || name.ends_with(".svg") || name.ends_with(".toml") {
        check_text(&String::from_utf8_lossy(bytes), given)
    } else {
        Ok(())
    }
}

/// A staging or temporary name supplyshock gives while writing (`.NAME.partial-PID`,
/// `.NAME.old-PID`, `.NAME.tmp-PID`).
fn is_staging(name: &str) -> bool {
    name.starts_with('.')
        && [".partial-", ".old-", ".tmp-"].iter().any(|tag| {
            name.rsplit_once(tag)
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        })
}

const MANIFEST: &str = ".supplyshock-results";

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let out = t.join("out");
    std::fs::create_dir(&out).unwrap();
    let mut text = f.bases[c.base].clone().into_bytes();
    for m in &c.scenario_edits {
        apply(&mut text, m);
    }
    std::fs::write(t.join("s.toml"), &text).unwrap();
    let given = quoted(&String::from_utf8_lossy(&text));
    let mut parts = f.parts.clone();
    for (which, e) in &c.part_edits {
        for (k, p) in parts.iter_mut().enumerate() {
            if *which == 2 || usize::from(*which) == k {
                edit_part(p, e);
            }
        }
    }
    for (k, p) in parts.iter().enumerate() {
        std::fs::write(t.join(part_name(k)), p).unwrap();
    }
    if c.plant {
        std::fs::create_dir(out.join("prev")).unwrap();
        for (name, bytes) in &f.results {
            std::fs::write(out.join("prev").join(name), bytes).unwrap();
        }
        std::fs::create_dir(out.join("foreign")).unwrap();
        std::fs::write(out.join("foreign/notes.txt"), "mine").unwrap();
    }
    let before = tree(t);
    let path = |p: &Path| p.to_str().unwrap().to_owned();
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| {
            a.replace("{tmp}", &path(t))
                .replace("{out}", &path(&out))
                .replace("{scen}", &path(&t.join("s.toml")))
                .replace("{part0}", &path(&t.join(part_name(0))))
                .replace("{part1}", &path(&t.join(part_name(1))))
        })
        .collect();
    let mut cmd = assert_cmd::Command::cargo_bin("supplyshock").unwrap();
    cmd.args(&args).current_dir(&out).timeout(TIMEOUT);
    for k in SCHEDULER {
        cmd.env_remove(k);
    }
    cmd.envs(c.env.iter().map(|(k, v)| (k, v)));
    let start = Instant::now();
    let o = cmd.output().unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let fail = |what: String| {
        TestCaseError::fail(format!(
            "{what}\nargs: {args:?}\nexit: {:?}, {took:?}\nstderr:\n{stderr}",
            o.status
        ))
    };
    if took >= TIMEOUT {
        return Err(fail("timed out".into()));
    }
    match o.status.code() {
        Some(0..=2) => {}
        _ => return Err(fail("exit status not 0, 1 or 2".into())),
    }
    if stderr.contains("panicked") {
        return Err(fail("panicked".into()));
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    let printed = if stdout.trim_start().starts_with('{') {
        check_json(stdout.as_bytes())
    } else {
        check_text(&stdout, &given)
    };
    printed.map_err(|e| fail(format!("stdout: {e}\n{stdout}")))?;

    let after = tree(t);
    // Outside out/, nothing changes; but a shard run told to write its part into the case's
    // directory (`-o {tmp}`) may write a part there.
    let part_here = c.args.first().is_some_and(|a| a == "run")
        && c.args
            .windows(2)
            .any(|w| (w[0] == "-o" || w[0] == "--output") && w[1] == "{tmp}");
    let outside = |m: &BTreeMap<String, Node>| -> BTreeMap<String, Node> {
        m.iter()
            .filter(|(k, _)| *k != "out" && !k.starts_with("out/"))
            .filter(|(k, _)| {
                !(part_here && k.starts_with("part-") && k.ends_with(".json") && !k.contains('/'))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (was, is) = (outside(&before), outside(&after));
    if was != is {
        let changed: Vec<&String> = was
            .keys()
            .chain(is.keys())
            .filter(|k| was.get(*k) != is.get(*k))
            .collect();
        return Err(fail(format!("changed outside out/: {changed:?}")));
    }
    for (rel, node) in &after {
        let name = rel.rsplit('/').next().unwrap();
        if is_staging(name) {
            return Err(fail(format!("left behind: {rel}")));
        }
        if let Node::File(bytes) = node {
            // What this process wrote: anything in out/, a part it wrote beside the scenario.
            let wrote_part = part_here && !rel.contains('/') && before.get(rel) != Some(node);
            if rel.starts_with("out/") || wrote_part {
                check_file(name, bytes, &given).map_err(|e| fail(format!("{rel}: {e}")))?;
            }
            if name == MANIFEST {
                let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
                for listed in String::from_utf8_lossy(bytes).lines().skip(1) {
                    let p = format!("{dir}/{listed}");
                    if !matches!(after.get(&p), Some(Node::File(_))) {
                        return Err(fail(format!("{rel} lists {listed}, which is missing")));
                    }
                }
            }
        }
    }
    if c.plant {
        if after.get("out/foreign/notes.txt") != Some(&Node::File(b"mine".to_vec())) {
            return Err(fail("the user's file in out/foreign changed".into()));
        }
        if !matches!(
            after.get("out/prev/.supplyshock-results"),
            Some(Node::File(_))
        ) {
            return Err(fail("earlier results in out/prev were lost".into()));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_command_lines_never_panic_escape_or_write_non_finite_numbers(c in case()) {
        run_case(&c)?;
    }
}

/// The checks themselves catch what they are for.
#[test]
fn the_fuzz_checks_catch_non_finite_numbers() {
    assert!(check_csv(b"a,b\nx,inf\n").is_err());
    assert!(check_csv(b"a,b\nx,NaN\n").is_err());
    assert!(check_csv(b"a,b\nstockpile-inf,1e300\n").is_ok());
    assert!(check_json(br#"{"mean": NaN}"#).is_err());
    assert!(check_json(br#"{"mean": null}"#).is_err());
    assert!(check_json(br#"{"vs_baseline": null, "v": [1.5]}"#).is_ok());
    assert!(check_text("loss: -inf days", "").is_err());
    assert!(check_text("<path d=\"M NaN 3\"/>", "").is_err());
    assert!(check_text("information, infinite supply", "").is_ok());
    // A word the scenario has itself is echoed, not computed; the same word in another case
    // is still caught.
    let given = quoted("name = \"Hold nan days\"\ndays = nan # \"inf\" in a comment");
    assert!(check_text("Hold nan days", &given).is_ok());
    assert!(check_text("Hold NaN days", &given).is_err());
    assert!(quoted("days = nan\nx = 1").is_empty());
    assert!(is_staging(".out.partial-123") && is_staging(".x.toml.tmp-9"));
    assert!(!is_staging(".supplyshock-results") && !is_staging("a.partial-1"));
}
