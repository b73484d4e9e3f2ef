//! Charts of a run, as PNG and SVG bytes from the same drawing code (plotters).
//!
//! One function per chart ([`fan`], [`strategies`], [`exceedance`], [`cvar`], [`frontier`],
//! [`sourcing`]); size, palette and fonts are the constants below. Text is drawn with DejaVu
//! Sans compiled into the binary (plotters' `ab_glyph` support), so nothing depends on system
//! fonts. Output is deterministic: the same inputs give the same bytes.
//!
//! [`chart_plan`] lists the charts a summary calls for, in reading order, with their file stems
//! and titles; [`charts`] draws them and `crate::markdown` embeds them in that order.

mod draw;
pub mod format;
mod lines;
mod loss;
mod shares;

#[cfg(test)]
pub(crate) mod tests;

pub use loss::{loss_reduction, Reduction};

use std::collections::BTreeMap;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::report::{CurveSet, LossSample, SourcingShares, Summary};
use format::{count, display_id};

/// Chart size in pixels (PNG) and user units (SVG).
pub const SIZE: (u32, u32) = (1200, 700);
/// Width of the legend panel at the right of a chart.
const LEGEND_W: u32 = 250;
/// Font family registered with the embedded DejaVu Sans.
const FONT: &str = "sans-serif";
const TITLE_PT: u32 = 26;
const AXIS_PT: u32 = 20;
const TICK_PT: u32 = 16;
const LEGEND_PT: u32 = 16;
const NOTE_PT: u32 = 15;

/// Series colours, consecutive ones far apart in lightness (CIE L* in the comments) so that a
/// greyscale print still tells them apart; lines also differ in dash and marker.
pub const SERIES: [RGBColor; 8] = [
    RGBColor(0x26, 0x26, 0x26), // near-black, L* 15 (baseline)
    RGBColor(0xe6, 0x9f, 0x00), // orange, 71
    RGBColor(0x1f, 0x4e, 0x9c), // dark blue, 34
    RGBColor(0xb2, 0xdf, 0x8a), // light green, 84
    RGBColor(0xd5, 0x5e, 0x00), // vermillion, 54
    RGBColor(0x56, 0xb4, 0xe9), // sky blue, 70
    RGBColor(0x76, 0x2a, 0x83), // purple, 32
    RGBColor(0xcc, 0x79, 0xa7), // pink, 61
];
/// Fan chart: outer band (P5-P95), inner band (P25-P75), median, mean.
pub const BAND_OUTER: RGBColor = RGBColor(0xc6, 0xdb, 0xef); // L* 86
pub const BAND_INNER: RGBColor = RGBColor(0x6b, 0xae, 0xd6); // L* 68
pub const MEDIAN: RGBColor = RGBColor(0x08, 0x30, 0x6b); // L* 21
pub const MEAN: RGBColor = RGBColor(0xd5, 0x5e, 0x00); // L* 54
/// Reference lines (no shock, zero, break-even) and grid.
const REFERENCE: RGBColor = RGBColor(0x70, 0x70, 0x70);
const GRID: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);
const TEXT: RGBColor = RGBColor(0x20, 0x20, 0x20);

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Resilience fan of the baseline, per importer and material.
    Fan,
    /// Mean fill of every variant, per importer and material.
    Strategies,
    /// Loss exceedance curves of every variant, per importer.
    LossExceedance,
    /// CVaR95 and expected loss per importer and variant.
    Cvar,
    /// Yearly cost against expected loss avoided, per strategy.
    Frontier,
    /// Contracted sourcing by supplier region, per importer and material.
    Sourcing,
}

/// One chart a summary calls for: files `<stem>.png` and `<stem>.svg`.
#[derive(Debug, Clone)]
pub struct ChartInfo {
    pub kind: ChartKind,
    pub stem: String,
    pub title: String,
    pub importer: Option<String>,
    pub material: Option<String>,
}

/// A file-name-safe form of an id: anything outside `[A-Za-z0-9_.-]` becomes `_`.
pub fn safe(id: &str) -> String {
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

/// The charts `summary` calls for, in reading order.
pub fn chart_plan(s: &Summary) -> Vec<ChartInfo> {
    let Some(base) = s.variants.first() else {
        return Vec::new();
    };
    let multi = s.variants.len() > 1;
    let n = count(s.trials);
    let h = s.horizon_days;
    let mut out = Vec::new();
    let slot_chart = |kind, prefix: &str, imp: &str, mat: &str, title: String| ChartInfo {
        kind,
        stem: format!("{prefix}-{}-{}", safe(imp), safe(mat)),
        title,
        importer: Some(imp.to_owned()),
        material: Some(mat.to_owned()),
    };
    for sl in &base.slots {
        let who = display_id(&sl.importer);
        out.push(slot_chart(
            ChartKind::Fan,
            "fan",
            &sl.importer,
            &sl.material,
            format!(
                "{who} — {}: share of demand met, baseline ({n} trials)",
                sl.material
            ),
        ));
    }
    for im in &base.importers {
        let who = display_id(&im.importer);
        let by = if multi { "by strategy" } else { "baseline" };
        out.push(ChartInfo {
            kind: ChartKind::LossExceedance,
            stem: format!("loss-exceedance-{}", safe(&im.importer)),
            title: format!(
                "{who}: probability that loss over {h} days exceeds x, {by} ({n} trials)"
            ),
            importer: Some(im.importer.clone()),
            material: None,
        });
    }
    out.push(ChartInfo {
        kind: ChartKind::Cvar,
        stem: "cvar".to_owned(),
        title: format!(
            "CVaR95 of loss over {h} days (bars, 95% CI) and expected loss (◆, 95% CI), {}",
            if multi { "by strategy" } else { "baseline" }
        ),
        importer: None,
        material: None,
    });
    if multi {
        out.push(ChartInfo {
            kind: ChartKind::Frontier,
            stem: "frontier".to_owned(),
            title: format!(
                "Cost against risk reduction: expected loss avoided over {h} days vs. yearly cost"
            ),
            importer: None,
            material: None,
        });
        for sl in &base.slots {
            let who = display_id(&sl.importer);
            out.push(slot_chart(
                ChartKind::Strategies,
                "strategies",
                &sl.importer,
                &sl.material,
                format!(
                    "{who} — {}: mean share of demand met, by strategy ({n} trials)",
                    sl.material
                ),
            ));
        }
    }
    for sl in &base.slots {
        let who = display_id(&sl.importer);
        out.push(slot_chart(
            ChartKind::Sourcing,
            "sourcing",
            &sl.importer,
            &sl.material,
            format!(
                "{who} — {}: contracted supply by supplier region{}",
                sl.material,
                if multi { ", per strategy" } else { "" }
            ),
        ));
    }
    out
}

/// Every chart of a run as (file name, bytes): a PNG and an SVG per entry of [`chart_plan`]
/// that has data.
pub fn charts(
    summary: &Summary,
    curves: &[CurveSet],
    losses: &[LossSample],
    sourcing: &[SourcingShares],
) -> Vec<(String, Vec<u8>)> {
    register_fonts();
    let regions = region_colours(summary, sourcing);
    let mut out = Vec::new();
    for info in chart_plan(summary) {
        let Some(spec) = spec_for(&info, summary, curves, losses, sourcing, &regions) else {
            continue;
        };
        if let Some((png, svg)) = render(&spec) {
            out.push((format!("{}.png", info.stem), png));
            out.push((format!("{}.svg", info.stem), svg));
        }
    }
    out
}

/// The data one chart draws.
enum Spec<'a> {
    Fan {
        info: &'a ChartInfo,
        curve: &'a CurveSet,
    },
    Strategies {
        info: &'a ChartInfo,
        s: &'a Summary,
        curves: Vec<&'a CurveSet>,
    },
    Exceedance {
        info: &'a ChartInfo,
        s: &'a Summary,
        samples: Vec<&'a LossSample>,
    },
    Cvar {
        info: &'a ChartInfo,
        s: &'a Summary,
        losses: &'a [LossSample],
    },
    Frontier {
        info: &'a ChartInfo,
        s: &'a Summary,
    },
    Sourcing {
        info: &'a ChartInfo,
        shares: Vec<&'a SourcingShares>,
        regions: &'a BTreeMap<String, usize>,
    },
}

fn spec_for<'a>(
    info: &'a ChartInfo,
    s: &'a Summary,
    curves: &'a [CurveSet],
    losses: &'a [LossSample],
    sourcing: &'a [SourcingShares],
    regions: &'a BTreeMap<String, usize>,
) -> Option<Spec<'a>> {
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
        ChartKind::Strategies => {
            let mut curves: Vec<&CurveSet> = curves.iter().filter(|c| slot_of(c)).collect();
            curves.retain(|c| in_order(&c.variant).is_some());
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
        ChartKind::Cvar => Spec::Cvar { info, s, losses },
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

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;
type Area<DB> = DrawingArea<DB, Shift>;

fn draw<DB: DrawingBackend>(spec: &Spec, root: &Area<DB>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    match spec {
        Spec::Fan { info, curve } => lines::fan(root, info, curve),
        Spec::Strategies { info, s, curves } => lines::strategies(root, info, s, curves),
        Spec::Exceedance { info, s, samples } => loss::exceedance(root, info, s, samples),
        Spec::Cvar { info, s, losses } => loss::cvar(root, info, s, losses),
        Spec::Frontier { info, s } => loss::frontier(root, info, s),
        Spec::Sourcing {
            info,
            shares,
            regions,
        } => shares::sourcing(root, info, shares, regions),
    }?;
    root.present()
}

/// Draw `spec` twice, to a PNG and to an SVG. `None` if drawing failed.
fn render(spec: &Spec) -> Option<(Vec<u8>, Vec<u8>)> {
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
    enc.set_compression(png::Compression::Best);
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
}
