//! Scale-out: a run split into shards of whole trial blocks, each written as a part file, and
//! merged back into exactly the result a single machine computes.
//!
//! Shard `k` of `n` (0-based) runs blocks `[k*B/n, (k+1)*B/n)` of the run's `B` blocks (block
//! size depends on the trial count alone, see `runner::block_size`). A part file is one JSON
//! header line, then the body (the shard's `Accumulated` as JSON, gzip-compressed); the header
//! carries the scenario text and its SHA-256, the run's parameters, and one SHA-256 over header
//! and body (the seal).
//!
//! The seal catches corruption and careless edits, but anyone can compute it again: what makes a
//! merged result right is that a merge trusts no claim of a part it can check. The scenario text
//! must match its hash, the blocks must be the shard's, the body must hold exactly those blocks
//! and have every dimension of the scenario's variants, and all parts must describe one run.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::Loaded;
use crate::runner::{n_blocks, Accumulated, Plan};

/// The part-file format. 2: fill histograms in 16-bit counters with sparse carries. 3: their
/// rows step-major. 4: one seal over header and body, the body compressed, the fill histograms
/// stored sparsely. 7: per-importer loss sums and products in place of loss totals.
pub const PART_SCHEMA: &str = "supplyshock.part/7";

/// Which shard this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: u64,
    pub count: u64,
}

impl ShardSpec {
    /// Blocks this shard runs.
    pub fn blocks(&self, trials: u64) -> Range<u64> {
        // In 128 bits: a header read from a file may hold any numbers.
        let (b, k, n) = (
            u128::from(n_blocks(trials)),
            u128::from(self.index),
            u128::from(self.count),
        );
        ((k * b / n) as u64)..(((k + 1) * b / n) as u64)
    }

    pub fn file_name(&self) -> String {
        format!("part-{:04}-of-{:04}.json", self.index, self.count)
    }
}

/// Parse `K/N` (0 <= K < N).
pub fn parse_spec(s: &str) -> Result<ShardSpec, String> {
    let (k, n) = s.split_once('/').ok_or_else(|| {
        format!("--shard expects K/N (shard K of N, counting from 0), found `{s}`")
    })?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("--shard {s}: `{k}` is not a whole number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("--shard {s}: `{n}` is not a whole number"))?;
    spec(k, n, "--shard")
}

fn spec(k: u64, n: u64, source: &str) -> Result<ShardSpec, String> {
    if n == 0 {
        return Err(format!("{source}: the number of shards must be at least 1"));
    }
    if k >= n {
        return Err(format!(
            "{source}: shard {k} does not exist among {n} shards (they count from 0 to {})",
            n - 1
        ));
    }
    Ok(ShardSpec { index: k, count: n })
}

/// The shard from the batch scheduler's environment, when there is one: Slurm job arrays
/// (SLURM_ARRAY_TASK_ID with SLURM_ARRAY_TASK_COUNT; arrays must run 0..N-1), or a Kubernetes
/// Indexed Job (JOB_COMPLETION_INDEX, with the count from `--shards`). Never SLURM_JOB_ID.
pub fn from_env(
    env: &dyn Fn(&str) -> Option<String>,
    shards_flag: Option<u64>,
) -> Result<Option<ShardSpec>, String> {
    let num = |name: &str| -> Result<Option<u64>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}={v} is not a whole number")),
        }
    };
    if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        let count = num("SLURM_ARRAY_TASK_COUNT")?.ok_or("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: submit with sbatch --array=0-N")?;
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let max = num("SLURM_ARRAY_TASK_MAX")?.unwrap_or(count.saturating_sub(1));
        if min != 0 || max + 1 != count || id >= count {
            return Err(format!("the Slurm array must be 0..N-1 with no gaps (found task {id}, min {min}, max {max}, count {count})\n  hint: submit with sbatch --array=0-{}", count.saturating_sub(1)));
        }
        return spec(id, count, "SLURM_ARRAY_TASK_ID").map(Some);
    }
    if let Some(idx) = num("JOB_COMPLETION_INDEX")? {
        let n = shards_flag.ok_or("JOB_COMPLETION_INDEX is set but the number of shards is not: pass --shards N (Kubernetes Indexed Jobs do not pass it)")?;
        return spec(idx, n, "JOB_COMPLETION_INDEX").map(Some);
    }
    Ok(None)
}

/// Identity and parameters of a shard's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartHeader {
    pub schema: String,
    pub program_version: String,
    /// File name of the scenario, for messages only.
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub scenario_text: String,
    pub seed: u64,
    pub trials: u64,
    pub strategies: Vec<String>,
    pub shard: u64,
    pub shards: u64,
    pub blocks: [u64; 2],
    /// SHA-256 of this header with this field empty, a newline, and the stored body: see
    /// [`seal`].
    pub sha256: String,
}

/// Whether `path` holds no part, or a part of the very run `header` describes (the same
/// scenario, seed, trials, strategies and shard: a shard run again, whose part it may replace).
/// A part of any other run, of another format, or a file that is not a part, is not to be
/// replaced silently.
pub fn same_run_or_absent(path: &Path, header: &PartHeader) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return !path.exists();
    };
    let mut line = String::new();
    if std::io::BufRead::read_line(&mut std::io::BufReader::new(file), &mut line).is_err() {
        return false;
    }
    serde_json::from_str::<PartHeader>(&line).is_ok_and(|h| {
        PartHeader {
            sha256: String::new(),
            scenario_file: String::new(),
            ..h
        } == PartHeader {
            sha256: String::new(),
            scenario_file: String::new(),
            ..header.clone()
        }
    })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The seal of a part: the SHA-256 of its header serialized with `sha256` empty (serde_json's
/// compact form, fields in declaration order), a newline, and the stored (compressed) body.
pub fn seal(header: &PartHeader, stored_body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(canonical_header(header));
    h.update(b"\n");
    h.update(stored_body);
    format!("{:x}", h.finalize())
}

fn canonical_header(header: &PartHeader) -> Vec<u8> {
    let blank = PartHeader {
        sha256: String::new(),
        ..header.clone()
    };
    serde_json::to_vec(&blank).expect("header serializes")
}

/// A part file's bytes from its header and its body's JSON: the header line, sealed, then the
/// body compressed (gzip). The header's own `sha256` is ignored and replaced.
pub fn pack(header: &PartHeader, body_json: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(3));
    std::io::Write::write_all(&mut gz, body_json).expect("compressing into memory");
    let stored = gz.finish().expect("compressing into memory");
    let header = PartHeader {
        sha256: seal(header, &stored),
        ..header.clone()
    };
    let mut out = serde_json::to_vec(&header).expect("header serializes");
    out.push(b'\n');
    out.extend_from_slice(&stored);
    out
}

/// Serialize a part: header line, newline, compressed body.
pub fn encode(header: &PartHeader, body: &Accumulated) -> Vec<u8> {
    pack(
        header,
        &serde_json::to_vec(body).expect("accumulated results serialize"),
    )
}

/// A part file's header and stored body, the header's format checked, nothing verified.
fn split(bytes: &[u8]) -> Result<(PartHeader, &[u8]), String> {
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("not a supplyshock part file, or truncated (no header line)")?;
    let value: serde_json::Value = serde_json::from_slice(&bytes[..nl])
        .map_err(|e| format!("not a supplyshock part file (bad header: {e})"))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(PART_SCHEMA) => {}
        Some(other) => {
            return Err(format!(
                "part format `{other}` is not `{PART_SCHEMA}`, the one this version of supplyshock reads\n  hint: run the shards again with this version"
            ))
        }
        None => return Err("not a supplyshock part file (no `schema` in the header)".into()),
    }
    let header: PartHeader = serde_json::from_value(value)
        .map_err(|e| format!("not a supplyshock part file (bad header: {e})"))?;
    Ok((header, &bytes[nl + 1..]))
}

/// The most a body may expand when decompressed, per stored byte: parts compress about 4 to 1,
/// and a forged part must not expand into all of memory.
const MAX_EXPANSION: u64 = 100;

fn decompress(stored: &[u8]) -> Result<Vec<u8>, String> {
    let limit = (stored.len() as u64).saturating_mul(MAX_EXPANSION) + (1 << 20);
    let mut json = Vec::new();
    let gz = flate2::read::GzDecoder::new(stored);
    std::io::Read::read_to_end(&mut std::io::Read::take(gz, limit + 1), &mut json)
        .map_err(|e| format!("the part file's body does not decompress: {e}"))?;
    if json.len() as u64 > limit {
        return Err(format!(
            "the part file's body expands beyond {MAX_EXPANSION} times its stored size: it is not a part supplyshock wrote"
        ));
    }
    Ok(json)
}

/// A part file's header and its body's JSON, without verifying the seal (to inspect a part, or
/// to edit one and [`pack`] it again).
pub fn unpack(bytes: &[u8]) -> Result<(PartHeader, Vec<u8>), String> {
    let (header, stored) = split(bytes)?;
    Ok((header, decompress(stored)?))
}

/// Parse a part file's bytes and verify its seal. What the header claims is checked by
/// [`merge_parts`].
pub fn decode(bytes: &[u8]) -> Result<(PartHeader, Accumulated), String> {
    let (header, stored) = split(bytes)?;
    if seal(&header, stored) != header.sha256 {
        return Err(
            "the part file is corrupted, truncated or edited (its checksum does not match)".into(),
        );
    }
    let acc: Accumulated = serde_json::from_slice(&decompress(stored)?)
        .map_err(|e| format!("the part file's body does not parse: {e}"))?;
    Ok((header, acc))
}

/// What a header claims on its own: the scenario text is the one hashed, the shard exists, and
/// its blocks are that shard's.
fn check_header(h: &PartHeader) -> Result<(), String> {
    if sha256_hex(h.scenario_text.as_bytes()) != h.scenario_sha256 {
        return Err(
            "the header's scenario text does not match its scenario_sha256 (the text was edited)"
                .into(),
        );
    }
    if h.trials == 0 {
        return Err("the header says 0 trials".into());
    }
    let sh = spec(h.shard, h.shards, "the header").map_err(|e| e.to_string())?;
    let b = sh.blocks(h.trials);
    if h.blocks != [b.start, b.end] {
        return Err(format!(
            "the header says blocks {}..{} but shard {} of {} of a {}-trial run is blocks {}..{}",
            h.blocks[0], h.blocks[1], h.shard, h.shards, h.trials, b.start, b.end
        ));
    }
    Ok(())
}

/// The parts of a sharded run, merged, with the scenario they ran.
pub struct Merged {
    /// The header of the first shard.
    pub header: PartHeader,
    /// The scenario compiled from the parts' text.
    pub loaded: Loaded,
    /// Indices of the run's strategies in the study.
    pub strategies: Vec<usize>,
    pub acc: Accumulated,
}

/// Check that parts are what they claim and belong together, and that they cover every shard
/// once; merge them in block order. Identical duplicates are accepted once; differing ones are
/// refused.
///
/// Each header must be consistent in itself (scenario text and hash, shard, blocks); all must
/// describe the same run; and each body must have the shape running its blocks of that
/// scenario's variants gives ([`Accumulated::check`]). Nothing is merged before all of it holds.
pub fn merge_parts(parts: Vec<(PathBuf, PartHeader, Accumulated)>) -> Result<Merged, String> {
    let Some((first_path, first, _)) = parts.first() else {
        return Err("no part files given".into());
    };
    let (first_path, first) = (first_path.clone(), first.clone());
    for (path, h, _) in &parts {
        check_header(h).map_err(|e| format!("{}: {e}", path.display()))?;
        let mismatch = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            format!(
                "{} and {} come from different runs: {what} {a} vs {b}",
                first_path.display(),
                path.display()
            )
        };
        if h.scenario_sha256 != first.scenario_sha256 {
            return Err(mismatch("scenario", &first.scenario_file, &h.scenario_file));
        }
        if h.program_version != first.program_version {
            return Err(mismatch(
                "program version",
                &first.program_version,
                &h.program_version,
            ));
        }
        if h.seed != first.seed {
            return Err(mismatch("seed", &first.seed, &h.seed));
        }
        if h.trials != first.trials {
            return Err(mismatch("trials", &first.trials, &h.trials));
        }
        if h.shards != first.shards {
            return Err(mismatch("number of shards", &first.shards, &h.shards));
        }
        if h.strategies != first.strategies {
            return Err(mismatch(
                "strategies",
                &first.strategies.join(","),
                &h.strategies.join(","),
            ));
        }
    }
    // Every header holds the same text, the one hashed: compile it once.
    let in_first = |e: String| format!("{}: {e}", first_path.display());
    let loaded = crate::model::load_str(&first.scenario_file, first.scenario_text.clone())
        .map_err(|d| {
            in_first(format!(
                "the part's scenario does not load:\n{}",
                crate::diag::render(&d.0)
            ))
        })?;
    let study = &loaded.study;
    let strategies = first
        .strategies
        .iter()
        .map(|id| {
            study
                .strategies
                .iter()
                .position(|s| &s.id == id)
                .ok_or_else(|| {
                    in_first(format!(
                        "the header names strategy `{id}`, which its scenario does not have"
                    ))
                })
        })
        .collect::<Result<Vec<usize>, String>>()?;
    let plan = Plan::new(study, &strategies);
    let mut by_shard: BTreeMap<u64, (PathBuf, PartHeader, Accumulated)> = BTreeMap::new();
    for (path, h, acc) in parts {
        acc.check(&plan, h.trials, h.blocks[0]..h.blocks[1])
            .map_err(|e| {
                format!(
                    "{}: {e} (shard {} of {} of a {}-trial run of {} variants)",
                    path.display(),
                    h.shard,
                    h.shards,
                    h.trials,
                    plan.models.len()
                )
            })?;
        match by_shard.get(&h.shard) {
            Some((p, prev, prev_acc)) if prev.sha256 != h.sha256 && *prev_acc != acc => {
                return Err(format!(
                    "shard {} appears twice with different results: {} and {}",
                    h.shard,
                    p.display(),
                    path.display()
                ));
            }
            Some(_) => {}
            None => {
                by_shard.insert(h.shard, (path, h, acc));
            }
        }
    }
    if by_shard.len() as u64 != first.shards {
        // The first few gaps: as many steps as parts, whatever the count claims.
        let missing: Vec<String> = (0..first.shards)
            .filter(|k| !by_shard.contains_key(k))
            .take(10)
            .map(|k| k.to_string())
            .collect();
        let n_missing = first.shards - by_shard.len() as u64;
        return Err(format!(
            "missing shard{} {}{} of {} (parts from the same run are needed for every shard 0..{})",
            if n_missing == 1 { "" } else { "s" },
            missing.join(", "),
            if n_missing > missing.len() as u64 {
                format!(" and {} more", n_missing - missing.len() as u64)
            } else {
                String::new()
            },
            first.shards,
            first.shards - 1
        ));
    }
    let mut it = by_shard.into_values();
    let (_, header, mut acc) = it.next().expect("at least one shard");
    for (_, _, a) in it {
        acc.merge(a);
    }
    Ok(Merged {
        header,
        loaded,
        strategies,
        acc,
    })
}

/// Read and verify part files.
pub fn read_parts(paths: &[PathBuf]) -> Result<Vec<(PathBuf, PartHeader, Accumulated)>, String> {
    let mut out = Vec::new();
    for p in paths {
        let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let (h, a) = decode(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        out.push((p.clone(), h, a));
    }
    Ok(out)
}

/// Scenario file name for part headers (no directories: merged reports must not depend on where
/// the shards ran).
pub fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || "scenario.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_tile_the_blocks() {
        for trials in [1u64, 17, 1000, 123_457] {
            for n in [1u64, 2, 3, 7, 300] {
                let mut next = 0;
                for k in 0..n {
                    let r = ShardSpec { index: k, count: n }.blocks(trials);
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, n_blocks(trials));
            }
        }
    }

    #[test]
    fn environment_rules() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            from_env(
                &env(&[
                    ("SLURM_ARRAY_TASK_ID", "2"),
                    ("SLURM_ARRAY_TASK_COUNT", "4")
                ]),
                None
            )
            .unwrap(),
            Some(ShardSpec { index: 2, count: 4 })
        );
        assert!(from_env(
            &env(&[
                ("SLURM_ARRAY_TASK_ID", "5"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("SLURM_ARRAY_TASK_MIN", "2"),
                ("SLURM_ARRAY_TASK_MAX", "5")
            ]),
            None
        )
        .unwrap_err()
        .contains("0..N-1"));
        assert_eq!(
            from_env(&env(&[("JOB_COMPLETION_INDEX", "1")]), Some(3)).unwrap(),
            Some(ShardSpec { index: 1, count: 3 })
        );
        assert!(from_env(&env(&[("JOB_COMPLETION_INDEX", "1")]), None)
            .unwrap_err()
            .contains("--shards"));
        assert_eq!(
            from_env(&env(&[("SLURM_JOB_ID", "99")]), None).unwrap(),
            None
        );
        assert!(parse_spec("3/3").is_err());
        assert_eq!(parse_spec("0/1").unwrap(), ShardSpec { index: 0, count: 1 });
    }
}
