//! Every scenario in scenarios/ validates; the flagship shows the concentration the data implies.

use assert_cmd::Command;

use crate::support::{json_output, repo};

fn scenario_files() -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![repo().join("scenarios")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_scenario_passes_check() {
    let files = scenario_files();
    assert!(files.len() >= 7, "{files:?}");
    for f in files {
        let out = Command::cargo_bin("supplyshock")
            .unwrap()
            .arg("check")
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `check` on the flagship reads back China's share of each processing stage as the sources give
/// it (docs/sources.md §11): separation far above mining for rare earths, all of Dy/Tb,
/// nearly all anode material, 70% of lithium chemicals and of refined cobalt.
#[test]
fn flagship_check_shows_chinas_share_of_each_processing_stage() {
    let v = json_output(
        &["check", "--format", "json"],
        &repo().join("scenarios/japan-eu-critical-materials.toml"),
    );
    let china = |id: &str| {
        let m = v["materials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["material"] == id)
            .unwrap_or_else(|| panic!("no material {id}"));
        m["shares"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s[0] == "CN")
            .map_or(0.0, |s| s[1].as_f64().unwrap())
    };
    // (material, low, high): the band the sources give for China's share, §11.
    let bands = [
        ("light_ree_feed", 0.55, 0.70), // mining and the feed China mines itself
        ("ndpr_oxide", 0.88, 0.93),     // ~90% of NdPr, 91-92% of all separation
        ("dytb_oxide", 0.99, 1.0),      // none outside China before May 2025
        ("ndfeb_magnet", 0.90, 0.95),   // 92-94%
        ("spherical_graphite", 0.98, 1.0), // 99%
        ("synthetic_anode", 0.90, 0.97), // >90-95% of anode material
        ("lithium_chemicals", 0.65, 0.72), // ~70% of refining
        ("refined_cobalt", 0.64, 0.80), // 64% (2017) to nearly 80% (2024)
        ("gallium", 0.97, 1.0),         // 99% of primary output
    ];
    for (id, low, high) in bands {
        let share = china(id);
        assert!(
            (low..=high).contains(&share),
            "China's share of {id} is {share:.3}, outside [{low}, {high}]"
        );
    }
    assert!(china("ndpr_oxide") > china("light_ree_feed") + 0.2);
}

/// The format reference documents every key of the schema.
#[test]
fn reference_documents_every_key() {
    let src = std::fs::read_to_string(repo().join("src/scenario.rs")).unwrap();
    let doc = std::fs::read_to_string(repo().join("scenarios/README.md")).unwrap();
    let mut missing = Vec::new();
    for line in src.lines() {
        let l = line.trim();
        let Some(rest) = l.strip_prefix("pub ") else {
            continue;
        };
        let Some((name, _)) = rest.split_once(':') else {
            continue;
        };
        if name.contains(' ') || name.contains('(') {
            continue;
        }
        if !doc.contains(&format!("`{name}`")) {
            missing.push(name.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "keys missing from scenarios/README.md: {missing:?}"
    );
}

/// The section numbers a line cites (`§1.5`, `§7`): an empty number is the header's "§n", the
/// notation itself, not a citation.
fn cited_sections(line: &str) -> impl Iterator<Item = &str> {
    line.match_indices('§').filter_map(move |(at, _)| {
        let rest = &line[at + '§'.len_utf8()..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        Some(rest[..end].trim_end_matches('.')).filter(|s| !s.is_empty())
    })
}

/// Every source tag (`[P: TAG]`, `[S: TAG]`) cited in scenarios/ is a row of the bibliography
/// in docs/sources.md, and every section cited (`§1.5`, `§7`) is one of its headings.
#[test]
fn every_source_the_scenarios_cite_resolves() {
    let sources = std::fs::read_to_string(repo().join("docs/sources.md")).unwrap();
    let tags: std::collections::BTreeSet<&str> = sources
        .lines()
        .filter_map(|l| l.strip_prefix("| ")?.split_once(" |").map(|(tag, _)| tag))
        .collect();
    let sections: std::collections::BTreeSet<&str> = sources
        .lines()
        .filter_map(|l| l.strip_prefix("### ").or_else(|| l.strip_prefix("## ")))
        .filter_map(|h| h.split_once(' ').map(|(n, _)| n))
        .collect();
    let mut unresolved = Vec::new();
    let mut cited = 0;
    for f in scenario_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for (i, line) in text.lines().enumerate() {
            for open in ["[P: ", "[S: "] {
                for (at, _) in line.match_indices(open) {
                    let rest = &line[at + open.len()..];
                    let tag = rest.split_once(']').map_or(rest, |(tag, _)| tag);
                    // The header's explanation of the notation, not a citation.
                    if tag == "..." {
                        continue;
                    }
                    cited += 1;
                    if !tags.contains(tag) {
                        unresolved.push(format!("{name}:{}: {open}{tag}]", i + 1));
                    }
                }
            }
            for section in cited_sections(line) {
                if !sections.contains(section) {
                    unresolved.push(format!("{name}:{}: §{section}", i + 1));
                }
            }
        }
    }
    assert!(
        cited > 100,
        "only {cited} citations found: is the notation still [P: TAG]?"
    );
    assert!(
        unresolved.is_empty(),
        "citations that docs/sources.md does not resolve: {unresolved:#?}"
    );
}

#[test]
fn init_writes_a_scenario_that_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("init")
        .arg(&path)
        .assert()
        .success();
    Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("check")
        .arg(&path)
        .assert()
        .success();
    // A second init refuses to overwrite.
    Command::cargo_bin("supplyshock")
        .unwrap()
        .arg("init")
        .arg(&path)
        .assert()
        .code(2);
}

/// With no shock, every scenario runs at full service: the steady state the engine starts in is
/// kept (a regression test for refill orders that ignored this step's arrivals).
#[test]
fn every_scenario_without_shocks_runs_at_full_service() {
    use supplyshock::runner::{run_all, Plan};
    for f in scenario_files() {
        let loaded = supplyshock::model::load(&f).unwrap();
        let calm = supplyshock::stress::stressed(&loaded.study.baseline, Vec::new());
        let plan = Plan::from_models(vec![&calm], vec!["calm".into()]);
        let acc = run_all(&plan, 2, 0);
        let s = supplyshock::report::summarize(&plan, &[None], &["calm".into()], &acc, 2, 0);
        for sl in &s.variants[0].slots {
            assert!(
                sl.metrics.fill_rate.mean > 1.0 - 1e-9 && sl.metrics.p_shortage.mean == 0.0,
                "{}: {} {} fill {}",
                f.display(),
                sl.importer,
                sl.material,
                sl.metrics.fill_rate.mean
            );
        }
    }
}

/// How a figure of a scenario is labelled: by a source (a tag, `calc.`, a section `§n` or
/// `calibrated`), as illustrative (`illustrative` or `modelling choice`, which win over a tag
/// on the same comment), or not at all.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Label {
    Sourced,
    Illustrative,
    Unlabelled,
}

/// Every figure of a scenario file, with its line and label. A figure is a key line outside
/// `[scenario]` and `[[expect]]` with a number after an `=`; its label comes from its own
/// comment, else from the comment lines right above it, else from the last comment that
/// labelled a figure of the same table (or the comment above the table's header). A file whose
/// first lines say that every number or figure in it is illustrative labels them all so.
fn figures(text: &str) -> Vec<(usize, Label)> {
    let lines: Vec<&str> = text.lines().collect();
    let all_illustrative = lines.iter().take(10).any(|l| {
        let l = l.to_lowercase();
        (l.contains("every number") || l.contains("every figure")) && l.contains("illustrative")
    });
    let label = |ctx: &str| {
        let has_section = cited_sections(ctx).next().is_some();
        if all_illustrative || ctx.contains("illustrative") || ctx.contains("modelling choice") {
            Label::Illustrative
        } else if ctx.contains("[P: ")
            || ctx.contains("[S: ")
            || ctx.contains("calc.")
            || ctx.contains("calibrated")
            || has_section
        {
            Label::Sourced
        } else {
            Label::Unlabelled
        }
    };
    let has_number = |code: &str| {
        code.match_indices('=').any(|(i, _)| {
            let rest = code[i + 1..].trim_start();
            let rest = rest.strip_prefix('-').unwrap_or(rest);
            rest.starts_with(|c: char| c.is_ascii_digit())
        })
    };
    let mut out = Vec::new();
    let (mut table, mut block, mut table_ctx) = (String::new(), Vec::new(), String::new());
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if let Some(c) = t.strip_prefix('#') {
            block.push(c.to_owned());
            continue;
        }
        if t.is_empty() {
            block.clear();
            continue;
        }
        if t.starts_with('[') {
            table = t.to_owned();
            table_ctx = block.join(" ");
            block.clear();
            continue;
        }
        let (code, comment) = line.split_once('#').unwrap_or((line, ""));
        let skip = table.is_empty() || table == "[scenario]" || table == "[[expect]]";
        if !skip && has_number(code) {
            let ctx = if !comment.trim().is_empty() {
                comment.to_owned()
            } else if !block.is_empty() {
                block.join(" ")
            } else {
                table_ctx.clone()
            };
            out.push((i + 1, label(&ctx)));
            table_ctx = ctx;
        }
        block.clear();
    }
    out
}

/// Every figure in scenarios/ carries a source or the word illustrative, and the README's table
/// of how many figures of each scenario are illustrative is what the files hold.
#[test]
fn every_figure_is_sourced_or_illustrative_as_the_readme_counts() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let mut unlabelled = Vec::new();
    let mut missing = Vec::new();
    for f in scenario_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        let rel = f
            .strip_prefix(repo())
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let figs = figures(&text);
        for (line, l) in &figs {
            if *l == Label::Unlabelled {
                unlabelled.push(format!("{rel}:{line}"));
            }
        }
        let illustrative = figs.iter().filter(|x| x.1 == Label::Illustrative).count();
        let row = format!("| `{rel}` | {} | {illustrative} |", figs.len());
        if !readme.contains(&row) {
            missing.push(row);
        }
    }
    assert!(
        unlabelled.is_empty(),
        "figures with neither a source nor 'illustrative': {unlabelled:#?}"
    );
    assert!(
        missing.is_empty(),
        "README rows that do not match the files (figures, illustrative): {missing:#?}"
    );
}

/// The labelling rule on a small text: own comment first, then the block above, then the
/// table's last label; `illustrative` wins over a tag; run settings and bands are not figures.
#[test]
fn figures_are_labelled_by_their_nearest_comment() {
    let text = r#"
[scenario]
horizon_days = 365

# Section comment [P: USGS-RE]
[[supplier]]
capacity = 10          # [P: USGS-RE]
spare = 0.1
ramp_days = 30         # illustrative (see [S: X])
region = "CN"
# a block with no label
ramp_days = 5

[[expect]]
low = 1
"#;
    let got: Vec<Label> = figures(text).into_iter().map(|x| x.1).collect();
    assert_eq!(
        got,
        [
            Label::Sourced,
            Label::Sourced,
            Label::Illustrative,
            Label::Unlabelled
        ]
    );
}
