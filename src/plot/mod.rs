//! Charts of a run, a stress test and a sweep, as PNG and SVG bytes from the same drawing code
//! (plotters).
//!
//! Three entry points: [`charts`] for a run, [`stress_chart`] and [`sweep_chart`]. Inside, one
//! function per chart (`lines::fan`, `lines::strategies`, `loss::exceedance`,
//! `loss::expected_loss`, `loss::frontier`, `shares::sourcing`, `stress::tts_ttr`,
//! `sweep::response`); size, palette and fonts are the constants below. Text is drawn with
//! DejaVu Sans compiled into the binary (plotters' `ab_glyph` support, no font-kit), so nothing
//! reads fontconfig or system fonts. Output is deterministic: the same inputs give the same bytes
//! (no hash-map order, no clock, ordered inputs only).
//!
//! `chart_plan` lists the charts a summary calls for, in reading order, with their file stems
//! and titles; [`charts`] draws them and `crate::markdown` embeds them in that order.

mod draw;
mod lines;
mod loss;
mod prices;
mod shares;
mod stress;
mod sweep;

#[cfg(test)]
pub(crate) mod tests;

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::format::{count, display_name};
use crate::report::{CurveSet, LossSample, SourcingShares, Summary};

/// Chart size in pixels (PNG) and user units (SVG).
pub(crate) const SIZE: (u32, u32) = (1200, 700);
/// Width of the legend panel at the right of a chart.
const LEGEND_W: u32 = 250;
/// Font family registered with the embedded DejaVu Sans. SVG viewers get the generic family, so
/// an SVG never asks for a font the reader's machine may lack.
const FONT: &str = "sans-serif";
const TITLE_PT: u32 = 26;
const SUBTITLE_PT: u32 = 17;
const AXIS_PT: u32 = 20;
const TICK_PT: u32 = 16;
const LEGEND_PT: u32 = 16;
const NOTE_PT: u32 = 15;

/// Series colours, consecutive ones far apart in lightness (CIE L* in the comments) so that a
/// greyscale print still tells them apart; lines also differ in dash and marker.
pub(crate) const SERIES: [RGBColor; 8] = [
    RGBColor(0x26, 0x26, 0x26), // near-black, L* 15 (baseline)
    RGBColor(0xe6, 0x9f, 0x00), // orange, 71
    RGBColor(0x1f, 0x4e, 0x9c), // dark blue, 34
    RGBColor(0x8c, 0xc8, 0x6a), // green, 75
    RGBColor(0xd5, 0x5e, 0x00), // vermillion, 54
    RGBColor(0x56, 0xb4, 0xe9), // sky blue, 70
    RGBColor(0x76, 0x2a, 0x83), // purple, 32
    RGBColor(0xcc, 0x79, 0xa7), // pink, 61
];
/// Fan chart: outer band (P5-P95), inner band (P25-P75), median, mean.
pub(crate) const BAND_OUTER: RGBColor = RGBColor(0xc6, 0xdb, 0xef); // L* 86
pub(crate) const BAND_INNER: RGBColor = RGBColor(0x6b, 0xae, 0xd6); // L* 68
pub(crate) const MEDIAN: RGBColor = RGBColor(0x08, 0x30, 0x6b); // L* 21
pub(crate) const MEAN: RGBColor = RGBColor(0xd5, 0x5e, 0x00); // L* 54
/// Reference lines (full service, zero, break-even) and grid.
const REFERENCE: RGBColor = RGBColor(0x70, 0x70, 0x70);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const TEXT: RGBColor = RGBColor(0x20, 0x20, 0x20);
const SUBTLE: RGBColor = RGBColor(0x55, 0x55, 0x55);
/// Background of a flagged region (stress test: short before the element is back), L* 93.
const FLAG_BG: RGBColor = RGBColor(0xfb, 0xe3, 0xd6);

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChartKind {
    /// Loss exceedance curves of every variant, per importer.
    LossExceedance,
    /// Expected total loss with its interval and CVaR95, per variant.
    ExpectedLoss,
    /// Resilience fan of the baseline, per importer and material.
    Fan,
    /// Fill after an importer's main shock, in the trials it hit, aligned on its onset.
    Conditional,
    /// Price fans of the baseline, per material with a market whose price moved, a panel per
    /// access group.
    PriceFan,
    /// Yearly cost against expected loss avoided, per strategy.
    Frontier,
    /// Mean fill of every variant, per importer and material.
    Strategies,
    /// Contracted sourcing by supplier region, per importer and material.
    Sourcing,
}

/// One chart a summary calls for: files `<stem>.png` and `<stem>.svg`.
#[derive(Debug, Clone)]
pub(crate) struct ChartInfo {
    pub kind: ChartKind,
    pub stem: String,
    /// What is shown, drawn across the top.
    pub title: String,
    /// How to read it (percentiles, intervals, references), drawn under the title.
    pub subtitle: String,
    pub importer: Option<String>,
    pub material: Option<String>,
}

/// A file-name-safe form of an id: anything outside `[A-Za-z0-9_.-]` becomes `_`.
pub(crate) fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The importers a total counts, for a title: `all importers`, or their names (`importers
/// counted` past three).
fn counted(s: &Summary) -> String {
    let Some(base) = s.variants.first() else {
        return "all importers".to_owned();
    };
    if base.importers.len() == s.totals_cover.len() {
        return "all importers".to_owned();
    }
    let names: Vec<String> = base
        .importers
        .iter()
        .filter(|im| s.totals_cover.contains(&im.importer))
        .map(|im| display_name(&im.importer, &im.name))
        .collect();
    match names.len() {
        0 => "no importer".to_owned(),
        1..=3 => names.join(", "),
        n => format!("{n} importers"),
    }
}

/// The charts `summary` calls for, in reading order: loss distribution (exceedance per
/// importer, expected loss and CVaR), fans per importer and material, then the strategy
/// comparison (frontier, fill by strategy) and sourcing.
pub(crate) fn chart_plan(s: &Summary) -> Vec<ChartInfo> {
    let Some(base) = s.variants.first() else {
        return Vec::new();
    };
    let multi = s.variants.len() > 1;
    let n = count(s.trials);
    let h = s.horizon_days;
    let by = if multi { "by strategy" } else { "baseline" };
    let mut out = Vec::new();
    let slot_chart = |kind, prefix: &str, imp: &str, mat: &str, title, subtitle| ChartInfo {
        kind,
        stem: format!("{prefix}-{}-{}", safe(imp), safe(mat)),
        title,
        subtitle,
        importer: Some(imp.to_owned()),
        material: Some(mat.to_owned()),
    };
    for im in &base.importers {
        let who = display_name(&im.importer, &im.name);
        out.push(ChartInfo {
            kind: ChartKind::LossExceedance,
            stem: format!("loss-exceedance-{}", safe(&im.importer)),
            title: format!("{who}: probability that the loss over {h} days exceeds x, {by}"),
            subtitle: format!(
                "Share of {n} trials with a loss above x (log scale); each curve ends at its \
                 largest loss. Dotted: 1 in 20 and 1 in 100 trials."
            ),
            importer: Some(im.importer.clone()),
            material: None,
        });
    }
    out.push(ChartInfo {
        kind: ChartKind::ExpectedLoss,
        stem: "expected-loss".to_owned(),
        title: format!(
            "Total loss over {h} days, {}: expected loss and CVaR95, {by}",
            counted(s)
        ),
        subtitle: format!(
            "Bars: expected loss with its 95% CI. ◆: CVaR95, the mean loss in the worst 5% of \
             {n} trials, with its 95% CI."
        ),
        importer: None,
        material: None,
    });
    for (k, sl) in base.slots.iter().enumerate() {
        // An importer's fan after its main shock comes before its fans of every day.
        if k == 0 || base.slots[k - 1].importer != sl.importer {
            for c in s.conditional.iter().filter(|c| c.importer == sl.importer) {
                let Some(sl) = base
                    .slots
                    .iter()
                    .find(|sl| sl.importer == c.importer && sl.material == c.material)
                else {
                    continue;
                };
                let who = display_name(&sl.importer, &sl.importer_name);
                let chosen = if c.chosen_by == "attribution" {
                    "credited with most of its loss"
                } else {
                    "whose trials carry most loss above the mean"
                };
                out.push(slot_chart(
                    ChartKind::Conditional,
                    "after",
                    &sl.importer,
                    &sl.material,
                    format!(
                        "{who} — {}: share of demand met after {} begins",
                        sl.material_name, c.shock_name
                    ),
                    format!(
                        "The shock {chosen}. {} of the {} trials it hit, aligned on its first event: \
                         percentiles and mean of the day's fill.",
                        count(c.trials_used),
                        count(c.trials_hit)
                    ),
                ));
            }
        }
        let who = display_name(&sl.importer, &sl.importer_name);
        out.push(slot_chart(
            ChartKind::Fan,
            "fan",
            &sl.importer,
            &sl.material,
            format!(
                "{who} — {}: share of demand met each day, baseline",
                sl.material_name
            ),
            format!(
                "Across {n} trials: median, 25th–75th and 5th–95th percentile of the day's fill, \
                 and the mean. P(any shortage in {h} days) {}.",
                crate::format::percent(sl.metrics.p_shortage.mean)
            ),
        ));
    }
    let mut priced: Vec<&str> = Vec::new();
    for sl in &base.slots {
        let moved = sl.peak_price_p95.is_some() && sl.metrics.price_moved();
        if moved && !priced.contains(&sl.material.as_str()) {
            priced.push(&sl.material);
            out.push(ChartInfo {
                kind: ChartKind::PriceFan,
                stem: format!("price-{}", safe(&sl.material)),
                title: format!(
                    "{}: price paid each day, by access group, baseline",
                    sl.material_name
                ),
                subtitle: format!(
                    "Across {n} trials: median, 25th–75th and 5th–95th percentile of the day's \
                     price as a multiple of the reference price, and the mean."
                ),
                importer: None,
                material: Some(sl.material.clone()),
            });
        }
    }
    if multi {
        out.push(ChartInfo {
            kind: ChartKind::Frontier,
            stem: "frontier".to_owned(),
            title: format!(
                "Cost against loss avoided: each strategy's cost and expected loss avoided over {h} days"
            ),
            subtitle: format!(
                "Loss avoided: minus the paired change in total expected loss, {}; whiskers: \
                 95% CI. Solid: efficient frontier.",
                counted(s)
            ),
            importer: None,
            material: None,
        });
        for sl in &base.slots {
            let who = display_name(&sl.importer, &sl.importer_name);
            out.push(slot_chart(
                ChartKind::Strategies,
                "strategies",
                &sl.importer,
                &sl.material,
                format!(
                    "{who} — {}: mean share of demand met each day, by strategy",
                    sl.material_name
                ),
                format!(
                    "Mean over the same {n} trials for every strategy (common random numbers); \
                     the axis starts where the curves need it."
                ),
            ));
        }
    }
    for sl in &base.slots {
        let who = display_name(&sl.importer, &sl.importer_name);
        out.push(slot_chart(
            ChartKind::Sourcing,
            "sourcing",
            &sl.importer,
            &sl.material,
            format!(
                "{who} — {}: contracted supply by supplier region, {by}",
                sl.material_name
            ),
            if multi {
                "Share of the importer's contracted sourcing by the supplier's region: the \
                 baseline, then one bar per strategy."
                    .to_owned()
            } else {
                "Share of the importer's contracted sourcing by the supplier's region.".to_owned()
            },
        ));
    }
    unique_stems(&mut out);
    out
}

/// Make every chart's file name unique: ids may hold `-`, so importer `a-b` with material `c`
/// and importer `a` with material `b-c` would both be `fan-a-b-c`. A name already taken gets
/// `-2`, `-3`, ... in reading order (names that do not collide are left as they are).
fn unique_stems(charts: &mut [ChartInfo]) {
    let mut taken = std::collections::BTreeSet::new();
    for c in charts.iter_mut() {
        if !taken.insert(c.stem.clone()) {
            let stem = (2..)
                .map(|k| format!("{}-{k}", c.stem))
                .find(|s| !taken.contains(s))
                .expect("some suffix is free");
            taken.insert(stem.clone());
            c.stem = stem;
        }
    }
}

/// Every chart of a run as (file name, bytes): a PNG and an SVG for each chart the summary calls
/// for (resilience fans, strategies overlaid, loss exceedance, expected loss and CVaR, cost
/// against loss avoided, sourcing shares), in reading order. Deterministic: the same inputs give
/// the same bytes.
pub fn charts(
    summary: &Summary,
    curves: &[CurveSet],
    fans: &[crate::conditional::Fan],
    prices: &[CurveSet],
    losses: &[LossSample<'_>],
    sourcing: &[SourcingShares],
) -> Vec<(String, Vec<u8>)> {
    let regions = Regions {
        colours: region_colours(summary, sourcing),
        names: sourcing
            .iter()
            .flat_map(|x| {
                x.shares
                    .iter()
                    .map(|r| r.0.clone())
                    .zip(x.region_names.clone())
            })
            .collect(),
    };
    let data = Data {
        curves,
        fans,
        prices,
        losses,
        sourcing,
        regions: &regions,
    };
    // Each chart is drawn on its own, so they are drawn on every core; collected in plan order,
    // the files and their bytes are those of drawing them one by one.
    let plan = chart_plan(summary);
    let drawn: Vec<Vec<(String, Vec<u8>)>> = plan
        .par_iter()
        .map(|info| {
            let mut out = Vec::new();
            if let Some(spec) = spec_for(info, summary, &data) {
                push_rendered(&mut out, &info.stem, &spec);
            }
            out
        })
        .collect();
    drawn.into_iter().flatten().collect()
}

/// One point of [`stress_chart`]: an importer and material under one removal.
#[derive(Debug, Clone, PartialEq)]
pub struct StressPoint {
    /// The removed element (or elements, joined by `+`).
    pub removed: String,
    pub importer: String,
    /// The importer's `name` (its id when the scenario gives none).
    pub importer_name: String,
    pub material: String,
    /// Time to survive in days; `None` when the pair never ran short.
    pub tts_days: Option<f64>,
    /// Time to recover in days; `None` when it had not recovered by the horizon.
    pub ttr_days: Option<f64>,
}

/// A stress test's chart, `stress-tts-ttr.png` and `.svg`: time to survive against time to
/// recover per removal, importer and material, with the removal's end marked; pairs that run
/// short before the element is back are flagged.
pub fn stress_chart(
    points: &[StressPoint],
    removal_days: f64,
    title: &str,
) -> Vec<(String, Vec<u8>)> {
    let spec = Spec::Stress(stress::StressSpec::new(points, removal_days, title));
    let mut out = Vec::new();
    push_rendered(&mut out, "stress-tts-ttr", &spec);
    out
}

/// A sweep's chart, `sweep.png` and `.svg`: the change in total expected loss (with its 95% CI,
/// and the net benefit with a carry rate) and the value fill rate of each counted importer
/// against the swept values. `summary` holds the scenario as written first, then one variant
/// per value of its `sweep` record, in the same order.
pub fn sweep_chart(summary: &Summary) -> Vec<(String, Vec<u8>)> {
    let spec = Spec::Sweep(sweep::SweepSpec::new(summary));
    let mut out = Vec::new();
    push_rendered(&mut out, "sweep", &spec);
    out
}

fn push_rendered(out: &mut Vec<(String, Vec<u8>)>, stem: &str, spec: &Spec) {
    if let Some((png, svg)) = render(spec) {
        out.push((format!("{stem}.png"), png));
        out.push((format!("{stem}.svg"), svg));
    }
}

/// The data one chart draws.
enum Spec<'a> {
    Fan {
        info: &'a ChartInfo,
        curve: &'a CurveSet,
    },
    Conditional {
        info: &'a ChartInfo,
        fan: &'a crate::conditional::Fan,
    },
    PriceFan {
        info: &'a ChartInfo,
        panels: Vec<prices::Panel<'a>>,
        dropped: usize,
    },
    Strategies {
        info: &'a ChartInfo,
        s: &'a Summary,
        curves: Vec<&'a CurveSet>,
    },
    Exceedance {
        info: &'a ChartInfo,
        s: &'a Summary,
        samples: Vec<&'a LossSample<'a>>,
    },
    ExpectedLoss {
        info: &'a ChartInfo,
        s: &'a Summary,
        losses: &'a [LossSample<'a>],
    },
    Frontier {
        info: &'a ChartInfo,
        s: &'a Summary,
    },
    Sourcing {
        info: &'a ChartInfo,
        shares: Vec<&'a SourcingShares>,
        regions: &'a Regions,
    },
    Stress(stress::StressSpec),
    Sweep(sweep::SweepSpec),
}

/// What a run's charts are drawn from.
struct Data<'a> {
    curves: &'a [CurveSet],
    fans: &'a [crate::conditional::Fan],
    prices: &'a [CurveSet],
    losses: &'a [LossSample<'a>],
    sourcing: &'a [SourcingShares],
    regions: &'a Regions,
}

fn spec_for<'a>(info: &'a ChartInfo, s: &'a Summary, data: &Data<'a>) -> Option<Spec<'a>> {
    let Data {
        curves,
        fans,
        prices,
        losses,
        sourcing,
        regions,
    } = *data;
    let base = &s.variants.first()?.id;
    let imp = info.importer.as_deref();
    let mat = info.material.as_deref();
    let slot_of =
        |c: &CurveSet| Some(c.importer.as_str()) == imp && Some(c.material.as_str()) == mat;
    // Series in the summary's variant order.
    let in_order = |variant: &str| s.variants.iter().position(|v| v.id == variant);
    let spec = match info.kind {
        ChartKind::Fan => Spec::Fan {
            info,
            curve: curves.iter().find(|c| &c.variant == base && slot_of(c))?,
        },
        ChartKind::Conditional => Spec::Conditional {
            info,
            fan: fans.iter().find(|f| {
                Some(f.what.importer.as_str()) == imp && Some(f.what.material.as_str()) == mat
            })?,
        },
        ChartKind::PriceFan => {
            let base_slots = &s.variants.first()?.slots;
            let name = |imp: &str| {
                base_slots
                    .iter()
                    .find(|x| x.importer == imp)
                    .map_or(imp.to_owned(), |x| {
                        display_name(&x.importer, &x.importer_name)
                    })
            };
            let sets: Vec<&CurveSet> = prices
                .iter()
                .filter(|c| &c.variant == base && Some(c.material.as_str()) == mat)
                .collect();
            if sets.is_empty() {
                return None;
            }
            let (panels, dropped) = prices::panels(&sets, name);
            Spec::PriceFan {
                info,
                panels,
                dropped,
            }
        }
        ChartKind::Strategies => {
            let mut curves: Vec<&CurveSet> = curves
                .iter()
                .filter(|c| slot_of(c) && in_order(&c.variant).is_some())
                .collect();
            curves.sort_by_key(|c| in_order(&c.variant));
            if curves.is_empty() {
                return None;
            }
            Spec::Strategies { info, s, curves }
        }
        ChartKind::LossExceedance => {
            let mut samples: Vec<&LossSample> = losses
                .iter()
                .filter(|l| Some(l.importer.as_str()) == imp && in_order(&l.variant).is_some())
                .collect();
            samples.sort_by_key(|l| in_order(&l.variant));
            if samples.is_empty() {
                return None;
            }
            Spec::Exceedance { info, s, samples }
        }
        ChartKind::ExpectedLoss => Spec::ExpectedLoss { info, s, losses },
        ChartKind::Frontier => Spec::Frontier { info, s },
        ChartKind::Sourcing => {
            let mut shares: Vec<&SourcingShares> = sourcing
                .iter()
                .filter(|x| {
                    Some(x.importer.as_str()) == imp
                        && Some(x.material.as_str()) == mat
                        && in_order(&x.variant).is_some()
                })
                .collect();
            shares.sort_by_key(|x| in_order(&x.variant));
            if shares.is_empty() {
                return None;
            }
            Spec::Sourcing {
                info,
                shares,
                regions,
            }
        }
    };
    Some(spec)
}

/// What a drawing step returns: `T`, or the backend's error.
type Drawn<T, DB> = Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;
type DrawResult<DB> = Drawn<(), DB>;
type Area<DB> = DrawingArea<DB, Shift>;
/// Axes with a linear f64 scale on both sides (every chart but the log-scale exceedance).
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A label placer confined to the plotting area of `chart`, 2 pixels in from its edges.
fn plot_placer<DB: DrawingBackend>(chart: &Chart<'_, DB>) -> draw::LabelPlacer {
    let (x, y) = (chart.x_range(), chart.y_range());
    let (px0, py0) = chart.backend_coord(&(x.start, y.end));
    let (px1, py1) = chart.backend_coord(&(x.end, y.start));
    draw::LabelPlacer::new((px0 + 2, py0 + 2, px1 - 2, py1 - 2))
}

fn draw<DB: DrawingBackend>(spec: &Spec, root: &Area<DB>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    match spec {
        Spec::Fan { info, curve } => lines::fan(root, info, curve),
        Spec::Conditional { info, fan } => lines::conditional(root, info, fan),
        Spec::PriceFan {
            info,
            panels,
            dropped,
        } => prices::price_fan(root, info, panels, *dropped),
        Spec::Strategies { info, s, curves } => lines::strategies(root, info, s, curves),
        Spec::Exceedance { info, s, samples } => loss::exceedance(root, info, s, samples),
        Spec::ExpectedLoss { info, s, losses } => loss::expected_loss(root, info, s, losses),
        Spec::Frontier { info, s } => loss::frontier(root, info, s),
        Spec::Sourcing {
            info,
            shares,
            regions,
        } => shares::sourcing(root, info, shares, regions),
        Spec::Stress(spec) => stress::tts_ttr(root, spec),
        Spec::Sweep(spec) => sweep::response(root, spec),
    }?;
    root.present()
}

/// Draw `spec` twice, to a PNG and to an SVG. `None` if drawing failed.
fn render(spec: &Spec) -> Option<(Vec<u8>, Vec<u8>)> {
    register_fonts();
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw(spec, &root).ok()?;
    }
    let png = encode_png(&rgb, w, h)?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(spec, &root).ok()?;
    }
    Some((png, svg.into_bytes()))
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // The default level: on the flagship's charts the best level made files only 3% smaller
    // and took about a fifth of the whole run's time.
    enc.set_compression(png::Compression::Default);
    let mut writer = enc.write_header().ok()?;
    writer.write_image_data(rgb).ok()?;
    writer.finish().ok()?;
    Some(out)
}

/// Register DejaVu Sans (compiled in) as the `sans-serif` family, once.
fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only fails on a malformed font file, which the tests would catch.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Every region a sourcing chart shows: its colour index and its name, by id.
pub(crate) struct Regions {
    pub colours: BTreeMap<String, usize>,
    pub names: BTreeMap<String, String>,
}

impl Regions {
    /// What a chart calls a region: its `name` (its id when the scenario gives none).
    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }
}

/// A colour index per region: regions ordered by their total baseline share over all importers
/// and materials (largest first, then by id), so a region keeps its colour across charts.
fn region_colours(s: &Summary, sourcing: &[SourcingShares]) -> BTreeMap<String, usize> {
    let base = s.variants.first().map(|v| v.id.as_str());
    let mut total: BTreeMap<&str, (f64, bool)> = BTreeMap::new();
    for x in sourcing {
        let is_base = Some(x.variant.as_str()) == base;
        for (r, share) in &x.shares {
            let e = total.entry(r).or_insert((0.0, false));
            if is_base {
                e.0 += share;
                e.1 = true;
            }
        }
    }
    let mut order: Vec<(&str, (f64, bool))> = total.into_iter().collect();
    order.sort_by(|a, b| {
        b.1 .1
            .cmp(&a.1 .1)
            .then(b.1 .0.total_cmp(&a.1 .0))
            .then(a.0.cmp(b.0))
    });
    order
        .into_iter()
        .enumerate()
        .map(|(i, (r, _))| (r.to_owned(), i))
        .collect()
}

/// How a series is drawn: colour, dash and marker, by its index.
#[derive(Debug, Clone, Copy)]
struct SeriesStyle {
    color: RGBColor,
    dash: Option<(u32, u32)>,
    marker: Marker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

const DASHES: [Option<(u32, u32)>; 5] = [
    None,
    Some((14, 6)),
    Some((5, 5)),
    Some((22, 6)),
    Some((2, 5)),
];
const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Triangle,
    Marker::Square,
    Marker::Diamond,
    Marker::Cross,
];

fn series_style(i: usize) -> SeriesStyle {
    SeriesStyle {
        color: SERIES[i % SERIES.len()],
        dash: DASHES[i % DASHES.len()],
        marker: MARKERS[i % MARKERS.len()],
    }
}

/// An entry of a legend panel.
struct LegendEntry {
    label: String,
    swatch: Swatch,
}

enum Swatch {
    /// A filled box.
    Fill(RGBColor),
    /// A line with optional dash and marker.
    Line {
        color: RGBColor,
        width: u32,
        dash: Option<(u32, u32)>,
        marker: Option<Marker>,
    },
    /// A lone marker with a short vertical error bar.
    Point(RGBColor, Marker),
    /// A lone marker.
    Marker(RGBColor, Marker),
}

impl Swatch {
    fn series(st: SeriesStyle) -> Swatch {
        Swatch::Line {
            color: st.color,
            width: 3,
            dash: st.dash,
            marker: Some(st.marker),
        }
    }

    fn reference() -> Swatch {
        Swatch::Line {
            color: REFERENCE,
            width: 2,
            dash: Some((10, 6)),
            marker: None,
        }
    }
}
