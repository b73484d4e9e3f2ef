//! Random input never panics the loader.
//!
//! Property tests feed `load_str` arbitrary bytes, TOML-looking noise, and mutated copies of
//! `scenarios/starter.toml` and the flagship scenario (lines deleted, duplicated or swapped,
//! numbers replaced by extreme or malformed values, the file truncated, stray bytes inserted).
//! Most such edits break the TOML, so a second property only replaces numbers, which keeps the
//! file parseable and exercises the semantic checks and distribution constructors instead.
//! Whatever the input, loading must return `Ok` or diagnostics that point at a line of the file;
//! a panic is a failure.

use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use proptest::sample::Index;
use supplyshock::model::load_str;

/// Valid scenarios to mutate: the starter and the flagship (many shocks, distributions, strategies).
const BASES: [&str; 2] = [
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/starter.toml"
    )),
    include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/japan-eu-critical-materials.toml"
    )),
];

/// Load `bytes` (as lossy UTF-8) and check the result is well formed.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let n_lines = text.lines().count().max(1) + 1;
    let result = catch_unwind(AssertUnwindSafe(|| load_str("fuzz.toml", text.clone())));
    let Ok(result) = result else {
        return Err(TestCaseError::fail(format!(
            "load_str panicked on:\n{text}"
        )));
    };
    if let Err(diags) = result {
        prop_assert!(
            diags.0.iter().any(|d| d.is_error()),
            "Err without an error:\n{diags}"
        );
        for d in &diags.0 {
            prop_assert!(d.line >= 1, "line 0 in\n{d}\nfor input:\n{text}");
            prop_assert!(
                d.line <= n_lines,
                "line beyond the file's {n_lines} lines in\n{d}\nfor input:\n{text}"
            );
        }
    }
    Ok(())
}

/// One edit to a scenario's bytes; indices are taken modulo whatever they index.
#[derive(Debug, Clone)]
pub(crate) enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    ReplaceNumber(Index, String),
    Truncate(Index),
    InsertByte(Index, u8),
}

/// Replacement numbers: any f64 as Rust prints it (`NaN`, `inf`, `1e-300`), TOML's special
/// floats, and integers at and past the i64 limits.
pub(crate) fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|x| format!("{x:?}")),
        any::<i64>().prop_map(|x| x.to_string()),
        prop::sample::select(vec![
            "nan",
            "-nan",
            "inf",
            "-inf",
            "NaN",
            "0",
            "-0.0",
            "-1",
            "1.5",
            "1e400",
            "-1e400",
            "1e-400",
            "5e-324",
            "1.7976931348623157e308",
            "9223372036854775807",
            "-9223372036854775808",
            "99999999999999999999",
            "1_000",
            "0x10",
            "1.",
            ".5",
            "",
        ])
        .prop_map(str::to_owned),
    ]
}

pub(crate) fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<Index>().prop_map(Mutation::DeleteLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<Index>(), number()).prop_map(|(i, n)| Mutation::ReplaceNumber(i, n)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::InsertByte(i, b)),
    ]
}

/// Byte ranges of the numbers in `text` (digit runs with their sign, point and exponent).
fn numbers(text: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_digit() {
            let start = if i > 0 && text[i - 1] == b'-' {
                i - 1
            } else {
                i
            };
            while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] == b'.') {
                i += 1;
            }
            out.push(start..i);
        } else {
            i += 1;
        }
    }
    out
}

pub(crate) fn apply(text: &mut Vec<u8>, m: &Mutation) {
    let len = text.len();
    match m {
        Mutation::ReplaceNumber(i, n) => {
            let spans = numbers(text);
            if !spans.is_empty() {
                let span = spans[i.index(spans.len())].clone();
                text.splice(span, n.bytes());
            }
        }
        Mutation::Truncate(i) => text.truncate(i.index(len + 1)),
        Mutation::InsertByte(i, b) => text.insert(i.index(len + 1), *b),
        line_edit => {
            let mut lines: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').collect();
            let n = lines.len();
            if n == 0 {
                return;
            }
            match line_edit {
                Mutation::DeleteLine(i) => {
                    lines.remove(i.index(n));
                }
                Mutation::DuplicateLine(i) => {
                    let i = i.index(n);
                    lines.insert(i, lines[i]);
                }
                Mutation::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
                _ => unreachable!("byte edits handled above"),
            }
            let edited = lines.concat();
            *text = edited;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes)?;
    }

    #[test]
    fn toml_like_noise_never_panics(text in "[\\[\\]a-z_=\"{},.0-9\n #-]{0,400}") {
        check(text.as_bytes())?;
    }

    #[test]
    fn mutated_scenarios_never_panic(
        base in prop::sample::select(BASES.to_vec()),
        edits in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut text = base.as_bytes().to_vec();
        for m in &edits {
            apply(&mut text, m);
        }
        check(&text)?;
    }

    #[test]
    fn extreme_numbers_never_panic(
        base in prop::sample::select(BASES.to_vec()),
        edits in prop::collection::vec((any::<Index>(), number()), 1..8),
    ) {
        let mut text = base.as_bytes().to_vec();
        for (i, n) in edits {
            apply(&mut text, &Mutation::ReplaceNumber(i, n));
        }
        check(&text)?;
    }
}

#[test]
fn bases_load() {
    for base in BASES {
        if let Err(d) = load_str("base.toml", base.to_owned()) {
            panic!("a fuzz base must be valid:\n{d}");
        }
    }
}
