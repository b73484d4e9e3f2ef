//! Render the charts of real (small) runs and check the bytes: PNGs decode at the chart size and
//! show the palette in the plot area, SVGs carry their titles, and output is deterministic.

use std::collections::HashSet;

use super::*;
use crate::model::load_str;
use crate::report::{curve_sets, loss_samples, sourcing_shares, summarize};
use crate::runner::{run_all, Plan};

/// What `charts` and `report_md` take, from one run.
pub(crate) struct Run {
    pub summary: Summary,
    pub curves: Vec<CurveSet>,
    pub losses: Vec<LossSample>,
    pub sourcing: Vec<SourcingShares>,
    pub check_table: String,
}

pub(crate) fn run(text: &str, trials: u64) -> Run {
    let loaded = match load_str("test.toml", text.to_owned()) {
        Ok(l) => l,
        Err(d) => panic!("scenario should load:\n{d}"),
    };
    let study = &loaded.study;
    let chosen: Vec<usize> = (0..study.strategies.len()).collect();
    let plan = Plan::new(study, &chosen);
    let seed = study.baseline.seed;
    let acc = run_all(&plan, trials, seed);
    let mut names = vec!["Baseline".to_owned()];
    names.extend(study.strategies.iter().map(|s| s.name.clone()));
    let mut costs = vec![None];
    costs.extend(study.strategies.iter().map(|s| Some(s.cost.clone())));
    let ind = crate::indicators::compute(&study.baseline);
    Run {
        summary: summarize(&plan, &costs, &names, &acc, trials),
        curves: curve_sets(&plan, &acc, trials),
        losses: loss_samples(&plan, &acc),
        sourcing: sourcing_shares(&plan),
        check_table: crate::indicators::render_table(&ind, &study.baseline),
    }
}

pub(crate) fn starter(trials: u64) -> Run {
    run(include_str!("../../scenarios/starter.toml"), trials)
}

fn render_all(r: &Run) -> Vec<(String, Vec<u8>)> {
    charts(&r.summary, &r.curves, &r.losses, &r.sourcing)
}

/// Width, height and RGB pixels of a PNG.
fn decode(bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    let dec = png::Decoder::new(bytes);
    let mut reader = dec.read_info().expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, px)
}

fn rgb(c: RGBColor) -> [u8; 3] {
    [c.0, c.1, c.2]
}

/// Colours in the plot region: below the title, left of the legend panel.
fn plot_colours(w: u32, h: u32, px: &[[u8; 3]]) -> HashSet<[u8; 3]> {
    let mut set = HashSet::new();
    for y in 60..h {
        for x in 0..(w - LEGEND_W) {
            set.insert(px[(y * w + x) as usize]);
        }
    }
    set
}

#[test]
fn starter_charts_are_complete_decodable_and_not_blank() {
    let r = starter(2000);
    let files = render_all(&r);
    let plan = chart_plan(&r.summary);
    let kinds: Vec<ChartKind> = plan.iter().map(|c| c.kind).collect();
    for k in [
        ChartKind::Fan,
        ChartKind::Strategies,
        ChartKind::LossExceedance,
        ChartKind::Cvar,
        ChartKind::Frontier,
        ChartKind::Sourcing,
    ] {
        assert!(
            kinds.contains(&k),
            "the starter scenario calls for a {k:?} chart"
        );
    }
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(files.len(), plan.len() * 2, "{names:?}");
    assert!(names.contains(&"fan-home-oxide.png"), "{names:?}");
    assert!(names.contains(&"fan-home-oxide.svg"), "{names:?}");
    for info in &plan {
        let png = &files
            .iter()
            .find(|f| f.0 == format!("{}.png", info.stem))
            .unwrap()
            .1;
        let svg = &files
            .iter()
            .find(|f| f.0 == format!("{}.svg", info.stem))
            .unwrap()
            .1;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        let (w, h, px) = decode(png);
        assert_eq!((w, h), SIZE, "{}", info.stem);
        let colours = plot_colours(w, h, &px);
        // Anti-aliased text and shapes give many shades; a blank plot gives a handful.
        assert!(
            colours.len() > 50,
            "{}: {} colours",
            info.stem,
            colours.len()
        );
        let expect: Vec<RGBColor> = match info.kind {
            ChartKind::Fan => vec![BAND_OUTER, MEDIAN],
            ChartKind::Strategies | ChartKind::Cvar => vec![SERIES[0], SERIES[1]],
            ChartKind::LossExceedance => vec![SERIES[0], SERIES[1]],
            ChartKind::Frontier => vec![SERIES[1]],
            ChartKind::Sourcing => vec![shares::REGIONS[0], shares::REGIONS[1]],
        };
        for c in expect {
            assert!(
                colours.contains(&rgb(c)),
                "{}: {c:?} missing from the plot area",
                info.stem
            );
        }
        let svg = std::str::from_utf8(svg).expect("SVG is UTF-8");
        assert!(svg.starts_with("<svg"), "{}", info.stem);
        assert!(svg.trim_end().ends_with("</svg>"), "{}", info.stem);
        assert!(
            svg.contains(&info.title),
            "{}: title missing from the SVG",
            info.stem
        );
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }
}

#[test]
fn fan_title_names_importer_material_and_trials() {
    let r = starter(500);
    let fan = chart_plan(&r.summary)
        .into_iter()
        .find(|c| c.kind == ChartKind::Fan)
        .unwrap();
    assert_eq!(
        fan.title,
        "Home — oxide: share of demand met, baseline (500 trials)"
    );
}

#[test]
fn rendering_is_deterministic() {
    let r = starter(500);
    let a = render_all(&r);
    let b = render_all(&r);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert!(x.1 == y.1, "{} differs between renders", x.0);
    }
}

#[test]
fn file_names_are_safe() {
    assert_eq!(safe("a b/c\\..ü"), "a_b_c_..__");
    let r = starter(200);
    for (name, _) in render_all(&r) {
        assert!(name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')));
    }
}

#[test]
fn a_run_without_losses_still_draws() {
    // No shocks: every curve is flat at 1 and every loss is zero.
    let text = include_str!("../../scenarios/starter.toml")
        .replace("rate_per_year = 0.2", "rate_per_year = 0.0");
    let r = run(&text, 200);
    let files = render_all(&r);
    assert_eq!(files.len(), chart_plan(&r.summary).len() * 2);
    for (name, bytes) in &files {
        if name.ends_with(".png") {
            assert_eq!(decode(bytes).0, SIZE.0, "{name}");
        }
    }
}

/// Writes the charts and report.md of a scenario for a look:
/// `SUPPLYSHOCK_CHARTS=/tmp/charts [SUPPLYSHOCK_SCENARIO=path] [SUPPLYSHOCK_TRIALS=n] cargo test
/// --release --lib plot::tests::write_charts -- --ignored`
#[test]
#[ignore]
fn write_charts() {
    let Some(dir) = std::env::var_os("SUPPLYSHOCK_CHARTS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let text = match std::env::var_os("SUPPLYSHOCK_SCENARIO") {
        Some(p) => std::fs::read_to_string(p).unwrap(),
        None => include_str!("../../scenarios/starter.toml").to_owned(),
    };
    let trials = std::env::var("SUPPLYSHOCK_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2000);
    let r = run(&text, trials);
    std::fs::create_dir_all(&dir).unwrap();
    let files = render_all(&r);
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let md = crate::markdown::report_md(&r.summary, &r.check_table, &names);
    std::fs::write(dir.join("report.md"), md).unwrap();
}
