//! Render the charts of real (small) runs, stress tests and sweeps, and check the bytes: PNGs
//! decode at the chart size and show the palette in the plot area, SVGs carry their titles, and
//! output is deterministic.

use std::collections::HashSet;

use super::*;
use crate::model::{load_str, Loaded};
use crate::report::{curve_sets, loss_samples, price_sets, sourcing_shares, summarize};
use crate::runner::{run_all, Plan};
use crate::stress::Removals;

const STARTER: &str = include_str!("../../scenarios/starter.toml");

/// What `charts` and `report_md` take, from one run.
pub(crate) struct Run {
    pub summary: Summary,
    pub curves: Vec<CurveSet>,
    pub prices: Vec<CurveSet>,
    /// (variant, importer, per-trial losses), owned: see [`Run::loss_samples`].
    pub losses: Vec<(String, String, Vec<f32>)>,
    pub sourcing: Vec<SourcingShares>,
    pub indicators: crate::indicators::Indicators,
    /// The fans after each counted importer's main shock, as a run computes them.
    pub fans: Vec<crate::conditional::Fan>,
}

fn load(text: &str) -> Loaded {
    match load_str("test.toml", text.to_owned()) {
        Ok(l) => l,
        Err(d) => panic!("scenario should load:\n{d}"),
    }
}

pub(crate) fn run(text: &str, trials: u64) -> Run {
    let loaded = load(text);
    let study = &loaded.study;
    let chosen: Vec<usize> = (0..study.strategies.len()).collect();
    let acc = run_all(&Plan::new(study, &chosen), trials, study.baseline.seed);
    let ind = crate::indicators::compute(&study.baseline);
    // The summary and the fans after the main shocks as a run makes them.
    let results = crate::output::RunResults::new(study, &chosen, acc, trials, study.baseline.seed);
    let summary = results.summary();
    let fans = results.fans.get().cloned().unwrap_or_default();
    let (plan, acc) = (&results.plan, &results.acc);
    Run {
        summary,
        fans,
        curves: curve_sets(plan, acc, trials),
        prices: price_sets(plan, acc, trials),
        losses: loss_samples(plan, acc)
            .iter()
            .map(|l| (l.variant.clone(), l.importer.clone(), l.values().collect()))
            .collect(),
        sourcing: sourcing_shares(plan),
        indicators: ind,
    }
}

impl Run {
    /// Every chart of the run, as `charts` draws them.
    pub fn charts(&self) -> Vec<(String, Vec<u8>)> {
        charts(
            &self.summary,
            &self.curves,
            &self.fans,
            &self.prices,
            &self.loss_samples(),
            &self.sourcing,
        )
    }

    pub fn loss_samples(&self) -> Vec<LossSample<'_>> {
        self.losses
            .iter()
            .map(|(v, i, x)| LossSample::new(v, i, x))
            .collect()
    }
}

pub(crate) fn starter(trials: u64) -> Run {
    run(STARTER, trials)
}

/// The starter scenario with frequent bans, no spare capacity and a thin stockpile, so both of
/// the fan's bands leave 100%.
fn stormy_starter(trials: u64) -> Run {
    let mut text = STARTER.to_owned();
    for (from, to) in [
        ("rate_per_year = 0.2", "rate_per_year = 8.0"),
        ("spare = 0.2", "spare = 0.0"),
        ("days = 30, refill_days", "days = 5, refill_days"),
    ] {
        assert!(text.contains(from), "{from:?} not in the starter scenario");
        text = text.replace(from, to);
    }
    run(&text, trials)
}

/// Stress points as `supplyshock stress` computes them.
fn stress_rows(text: &str, removals: &Removals, days: f64) -> Vec<StressPoint> {
    let loaded = load(text);
    let spec = crate::stress::Stress {
        days,
        ..crate::stress::Stress::default()
    };
    crate::stress::run(&loaded.study.baseline, removals, &spec)
        .expect("known elements")
        .points()
}

fn region_a() -> Removals {
    Removals::Together(vec!["A".to_owned()])
}

/// A sweep's summary as `supplyshock sweep` computes it.
fn sweep_summary(text: &str, key: &str, values: &[f64], trials: u64) -> Summary {
    let loaded = load(text);
    let base = &loaded.study.baseline;
    let sweep = crate::sweep::Sweep {
        key: key.to_owned(),
        values: values.to_vec(),
    };
    let swept = crate::sweep::variants(&loaded, &sweep).expect("valid variants");
    let mut ids = vec!["baseline".to_owned()];
    ids.extend(swept.iter().map(|(label, _)| label.clone()));
    let mut all = vec![base];
    all.extend(swept.iter().map(|(_, m)| m));
    let plan = Plan::from_models(all, ids.clone());
    let acc = run_all(&plan, trials, base.seed);
    let mut s = summarize(&plan, &vec![None; ids.len()], &ids, &acc, trials, base.seed);
    s.sweep = Some(crate::sweep::SweepInfo {
        key: key.to_owned(),
        unit: crate::sweep::unit(key),
        values: values.to_vec(),
        as_written: crate::sweep::as_written(&loaded.raw, key),
        carry_rate: None,
    });
    s
}

fn render_all(r: &Run) -> Vec<(String, Vec<u8>)> {
    r.charts()
}

/// Width, height and RGB pixels of a PNG.
fn decode(bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
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
    for y in 80..h {
        for x in 0..(w - LEGEND_W) {
            set.insert(px[(y * w + x) as usize]);
        }
    }
    set
}

/// Text as the SVG backend writes it.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A PNG and an SVG for `stem`, checked: the PNG decodes at `SIZE` with a plot area that is not
/// blank and holds `colours`; the SVG is whole and carries every one of `texts`.
fn check_chart(files: &[(String, Vec<u8>)], stem: &str, colours: &[RGBColor], texts: &[&str]) {
    let get = |ext: &str| {
        let name = format!("{stem}.{ext}");
        &files
            .iter()
            .find(|f| f.0 == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .1
    };
    let (w, h, px) = decode(get("png"));
    assert_eq!((w, h), SIZE, "{stem}");
    let seen = plot_colours(w, h, &px);
    // Anti-aliased text and shapes give many shades; a blank plot gives a handful.
    assert!(seen.len() > 50, "{stem}: only {} colours", seen.len());
    for c in colours {
        assert!(
            seen.contains(&rgb(*c)),
            "{stem}: {c:?} missing from the plot area"
        );
    }
    let svg = std::str::from_utf8(get("svg")).expect("SVG is UTF-8");
    assert!(svg.starts_with("<svg"), "{stem}");
    assert!(svg.trim_end().ends_with("</svg>"), "{stem}");
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    // A long title takes two lines: look for texts in the SVG's text elements run together.
    let words: String = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .and_then(|(_, rest)| rest.split_once("</text>"))
        })
        .map(|(content, _)| content.trim())
        .collect::<Vec<_>>()
        .join(" ");
    for t in texts {
        assert!(
            svg.contains(&xml(t)) || words.contains(&xml(t)),
            "{stem}: {t:?} missing from the SVG"
        );
    }
    assert!(!svg.contains("NaN"), "{stem}: NaN coordinates");
}

#[test]
fn starter_charts_are_complete_decodable_and_not_blank() {
    let r = starter(300);
    let files = render_all(&r);
    let plan = chart_plan(&r.summary);
    let kinds: Vec<ChartKind> = plan.iter().map(|c| c.kind).collect();
    for k in [
        ChartKind::Fan,
        ChartKind::Strategies,
        ChartKind::LossExceedance,
        ChartKind::ExpectedLoss,
        ChartKind::Frontier,
        ChartKind::Sourcing,
    ] {
        assert!(kinds.contains(&k), "the starter calls for a {k:?} chart");
    }
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(files.len(), plan.len() * 2, "{names:?}");
    for n in [
        "fan-home-oxide.png",
        "strategies-home-oxide.svg",
        "loss-exceedance-home.png",
        "expected-loss.png",
        "frontier.svg",
        "sourcing-home-oxide.png",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    for info in &plan {
        let colours: Vec<RGBColor> = match info.kind {
            ChartKind::Fan | ChartKind::PriceFan => vec![MEDIAN],
            ChartKind::Conditional => vec![MEDIAN, SERIES[1]],
            ChartKind::Strategies => vec![SERIES[0], SERIES[1]],
            ChartKind::LossExceedance => vec![SERIES[0]],
            ChartKind::ExpectedLoss => vec![SERIES[0]],
            ChartKind::Frontier => vec![SERIES[1]],
            ChartKind::Sourcing => vec![shares::REGIONS[0], shares::REGIONS[1]],
        };
        check_chart(&files, &info.stem, &colours, &[&info.title, &info.subtitle]);
    }
}

/// Every PNG the flagship run writes decodes at full size, has a plot area that is not blank and
/// shows its series colours; every SVG is whole and carries its title.
#[test]
fn flagship_charts_are_complete_decodable_and_not_blank() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/japan-eu-critical-materials.toml"
    ))
    .unwrap();
    let r = run(&text, 200);
    let files = render_all(&r);
    let plan = chart_plan(&r.summary);
    assert_eq!(files.len(), plan.len() * 2);
    assert!(plan.len() > 60, "{} charts", plan.len());
    assert!(
        plan.iter().any(|c| c.kind == ChartKind::PriceFan),
        "the flagship's prices move: it has price fans"
    );
    for info in &plan {
        let colours: Vec<RGBColor> = match info.kind {
            ChartKind::Fan => vec![MEDIAN],
            ChartKind::Conditional => vec![MEDIAN, SERIES[1]],
            // Drawn only where the mean price moved.
            ChartKind::PriceFan => vec![MEDIAN, MEAN],
            ChartKind::Strategies => vec![SERIES[0], SERIES[1]],
            ChartKind::LossExceedance | ChartKind::ExpectedLoss => vec![SERIES[0]],
            ChartKind::Frontier => vec![SERIES[1]],
            ChartKind::Sourcing => vec![],
        };
        check_chart(&files, &info.stem, &colours, &[&info.title]);
        if info.kind == ChartKind::Sourcing {
            // Regions take palette colours in a fixed order across the run; some must show.
            let png = &files
                .iter()
                .find(|f| f.0 == format!("{}.png", info.stem))
                .unwrap()
                .1;
            let (w, h, px) = decode(png);
            let seen = plot_colours(w, h, &px);
            assert!(
                shares::REGIONS.iter().any(|c| seen.contains(&rgb(*c))),
                "{}: no region colour",
                info.stem
            );
        }
    }
}

#[test]
fn fan_shows_bands_median_and_mean() {
    let r = stormy_starter(300);
    let files = render_all(&r);
    let fan = chart_plan(&r.summary)
        .into_iter()
        .find(|c| c.kind == ChartKind::Fan)
        .unwrap();
    assert!(r.curves[0].p25.iter().any(|&v| v < 0.9), "bands leave 100%");
    check_chart(
        &files,
        &fan.stem,
        &[BAND_OUTER, BAND_INNER, MEDIAN, MEAN],
        &[&fan.title, "P5–P95", "P25–P75", "median", "mean"],
    );
}

#[test]
fn titles_say_what_is_shown() {
    let r = starter(200);
    let plan = chart_plan(&r.summary);
    let title = |k: ChartKind| plan.iter().find(|c| c.kind == k).unwrap().title.clone();
    assert_eq!(
        title(ChartKind::Fan),
        "Home — Refined oxide: share of demand met each day, baseline"
    );
    assert_eq!(
        title(ChartKind::ExpectedLoss),
        "Total loss over 365 days, all importers: expected loss and CVaR95, by strategy"
    );
    let fan = plan.iter().find(|c| c.kind == ChartKind::Fan).unwrap();
    assert!(fan.subtitle.contains("200 trials"), "{}", fan.subtitle);
}

#[test]
fn rendering_is_deterministic() {
    let r = starter(200);
    let a = render_all(&r);
    let b = render_all(&r);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert!(x.1 == y.1, "{} differs between renders", x.0);
    }
    let rows = stress_rows(STARTER, &region_a(), 60.0);
    assert!(stress_chart(&rows, 60.0, "t") == stress_chart(&rows, 60.0, "t"));
}

#[test]
fn file_names_are_safe() {
    assert_eq!(safe("a b/c\\..ü"), "a_b_c_.._");
    let r = starter(100);
    for (name, _) in render_all(&r) {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')),
            "{name}"
        );
    }
}

#[test]
fn a_run_without_losses_still_draws() {
    // No shocks: every curve is flat at 1 and every loss is zero.
    let text = STARTER.replace("rate_per_year = 0.2", "rate_per_year = 0.0");
    let r = run(&text, 100);
    let files = render_all(&r);
    assert_eq!(files.len(), chart_plan(&r.summary).len() * 2);
    for (name, bytes) in &files {
        if name.ends_with(".png") {
            assert_eq!(decode(bytes).0, SIZE.0, "{name}");
        } else {
            assert!(
                !std::str::from_utf8(bytes).unwrap().contains("NaN"),
                "{name}"
            );
        }
    }
}

#[test]
fn stress_chart_flags_what_runs_short_before_the_element_is_back() {
    let rows = stress_rows(STARTER, &region_a(), 120.0);
    assert!(
        rows.iter().any(|r| r.tts_days.is_some_and(|t| t < 120.0)),
        "{rows:?}"
    );
    let title = "Starter scenario: region A removed for 120 days";
    let files = stress_chart(&rows, 120.0, title);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["stress-tts-ttr.png", "stress-tts-ttr.svg"]);
    check_chart(
        &files,
        "stress-tts-ttr",
        &[FLAG_BG, SERIES[0]],
        &[title, "element back: day 120", "oxide"],
    );
    // Every element of the network, and a removal that hurts nobody.
    let rows = stress_rows(STARTER, &Removals::EachInTurn, 60.0);
    check_chart(
        &stress_chart(&rows, 60.0, "all"),
        "stress-tts-ttr",
        &[FLAG_BG],
        &["all"],
    );
    let never: Vec<_> = rows
        .iter()
        .filter(|r| r.tts_days.is_none())
        .cloned()
        .collect();
    let files = stress_chart(&never, 60.0, "none short");
    check_chart(
        &files,
        "stress-tts-ttr",
        &[],
        &["no importer and material ran short"],
    );
    assert_eq!(stress_chart(&[], 60.0, "empty").len(), 2);
}

#[test]
fn sweep_chart_shows_loss_and_fill_against_the_values() {
    let key = "shock.a_ban.rate_per_year";
    let values = [0.1, 0.5, 1.0, 2.0];
    let s = sweep_summary(STARTER, key, &values, 200);
    let files = sweep_chart(&s);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["sweep.png", "sweep.svg"]);
    check_chart(
        &files,
        "sweep",
        &[SERIES[0], SERIES[1]],
        &[
            key,
            "events a year",
            "value fill rate",
            "Home",
            "as written: 0.2",
        ],
    );
    // Values out of order and fewer values than variants still draw.
    let mut short = s.clone();
    short.sweep.as_mut().unwrap().values = vec![2.0, 0.1];
    let files = sweep_chart(&short);
    check_chart(&files, "sweep", &[SERIES[0]], &[key]);
    short.sweep.as_mut().unwrap().values = Vec::new();
    assert_eq!(sweep_chart(&short).len(), 2);
}

/// Writes the charts and report.md of a scenario for a look, with a stress test of every
/// element and a sweep when a key is given:
/// `SUPPLYSHOCK_CHARTS=/tmp/charts [SUPPLYSHOCK_SCENARIO=path] [SUPPLYSHOCK_TRIALS=n]
/// [SUPPLYSHOCK_SWEEP=key=v1,v2] [SUPPLYSHOCK_STRESS_DAYS=n] cargo test --release --lib
/// plot::tests::write_charts -- --ignored`
#[test]
#[ignore]
fn write_charts() {
    let Some(dir) = std::env::var_os("SUPPLYSHOCK_CHARTS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let text = match std::env::var_os("SUPPLYSHOCK_SCENARIO") {
        Some(p) => std::fs::read_to_string(p).unwrap(),
        None => STARTER.to_owned(),
    };
    let trials = std::env::var("SUPPLYSHOCK_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2000);
    let r = run(&text, trials);
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = render_all(&r);
    let days: f64 = std::env::var("SUPPLYSHOCK_STRESS_DAYS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(90.0);
    let rows = stress_rows(&text, &Removals::EachInTurn, days);
    files.extend(stress_chart(
        &rows,
        days,
        &format!(
            "{}: each element removed for {days} days",
            r.summary.scenario
        ),
    ));
    if let Ok(spec) = std::env::var("SUPPLYSHOCK_SWEEP") {
        let sweep = crate::sweep::parse(&spec).unwrap();
        let s = sweep_summary(&text, &sweep.key, &sweep.values, trials);
        files.extend(sweep_chart(&s));
    }
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    let md = crate::markdown::report_md(&r.summary, &r.indicators, &names, false);
    std::fs::write(dir.join("report.md"), md).unwrap();
}

/// Loss samples read each variant's and importer's losses in place, in trial order across
/// blocks: the same values as the summary's tail metrics read.
#[test]
fn loss_samples_read_every_importer_in_trial_order() {
    let loaded = load(include_str!("../../scenarios/us-japan-batteries.toml"));
    let study = &loaded.study;
    let chosen: Vec<usize> = (0..study.strategies.len()).collect();
    let plan = Plan::new(study, &chosen);
    // 100 trials: blocks of 16, the last one short.
    let acc = run_all(&plan, 100, study.baseline.seed);
    let samples = loss_samples(&plan, &acc);
    let mut seen = 0;
    for (v, model) in plan.models.iter().enumerate() {
        let ni = model.importers.len();
        for (i, imp) in model.importers.iter().enumerate() {
            let s = &samples[seen];
            seen += 1;
            assert_eq!((&s.variant, &s.importer), (&plan.ids[v], &imp.id));
            assert_eq!(s.len(), 100);
            let values: Vec<f32> = s.values().collect();
            assert_eq!(values, crate::runner::losses_of(&acc, v, i, ni));
        }
    }
    assert_eq!(seen, samples.len());
    assert!(samples.iter().any(|s| s.values().any(|x| x > 0.0)));
}
