//! Price fans: one chart per material with a market, one panel per set of importers that paid
//! the same price every day (an access group, as the bans in force drew it), each a fan of the
//! price across trials.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, bold, font};
use super::lines;
use super::{Area, ChartInfo, DrawResult, AXIS_PT, GRID, TICK_PT};
use crate::report::CurveSet;

/// At most this many panels on one chart: the groups with the highest mean price come first.
pub(super) const MAX_PANELS: usize = 4;

/// One panel: the importers (display names) that share `curve`.
pub(super) struct Panel<'a> {
    pub who: Vec<String>,
    pub curve: &'a CurveSet,
}

/// The panels of one material's price fans: importers whose curves are equal in every
/// percentile and mean share a panel (in the order of their first importer), the
/// `MAX_PANELS` with the highest mean price over the horizon kept, in that order; and the
/// number of panels left out.
pub(super) fn panels<'a>(
    curves: &[&'a CurveSet],
    name: impl Fn(&str) -> String,
) -> (Vec<Panel<'a>>, usize) {
    let same = |a: &CurveSet, b: &CurveSet| {
        a.p5 == b.p5
            && a.p25 == b.p25
            && a.p50 == b.p50
            && a.p75 == b.p75
            && a.p95 == b.p95
            && a.mean == b.mean
    };
    let mut out: Vec<Panel<'a>> = Vec::new();
    for &c in curves {
        match out.iter_mut().find(|p| same(p.curve, c)) {
            Some(p) => p.who.push(name(&c.importer)),
            None => out.push(Panel {
                who: vec![name(&c.importer)],
                curve: c,
            }),
        }
    }
    let level = |c: &CurveSet| c.mean.iter().sum::<f64>();
    // Stable: equal levels keep the importers' order.
    out.sort_by(|a, b| level(b.curve).total_cmp(&level(a.curve)));
    let dropped = out.len().saturating_sub(MAX_PANELS);
    out.truncate(MAX_PANELS);
    (out, dropped)
}

/// A material's price fans under the baseline, a panel per access group.
pub(super) fn price_fan<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    panels: &[Panel<'_>],
    dropped: usize,
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let finite = |v: &[f64]| {
        v.iter()
            .copied()
            .filter(|x| x.is_finite())
            .collect::<Vec<_>>()
    };
    // One price axis for every panel, so that panels compare at a glance.
    let all: Vec<f64> = panels
        .iter()
        .flat_map(|p| {
            [
                finite(&p.curve.p5),
                finite(&p.curve.p95),
                finite(&p.curve.mean),
            ]
        })
        .flatten()
        .collect();
    let lo = all.iter().copied().fold(1.0, f64::min);
    let hi = all.iter().copied().fold(1.0, f64::max);
    let pad = ((hi - lo) * 0.06).max(0.02);
    let (y_lo, y_hi) = ((lo - pad).max(0.0), hi + pad);
    let dec = if y_hi - y_lo < 0.2 { 2 } else { 1 };
    let cols = if panels.len() > 1 { 2 } else { 1 };
    let rows = panels.len().div_ceil(cols).max(1);
    let areas = plot.split_evenly((rows, cols));
    for (p, area) in panels.iter().zip(&areas) {
        let c = p.curve;
        let x_max = c.day.iter().copied().fold(1.0, f64::max);
        let (w, _) = area.dim_in_pixel();
        let caption = draw::fit(area, &p.who.join(", "), &bold(TICK_PT + 2), w as i32 - 20);
        area.draw(&Text::new(
            caption,
            (w as i32 / 2, 4),
            bold(TICK_PT + 2).pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        let y_fmt = move |v: &f64| format!("{v:.dec$}×");
        let mut chart = ChartBuilder::on(area)
            .margin_left(6)
            .margin_right(14)
            .margin_top(TICK_PT + 12)
            .margin_bottom(4)
            .x_label_area_size(if rows > 1 { 44 } else { 56 })
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, y_lo..y_hi)?;
        chart
            .configure_mesh()
            .x_desc("day")
            .y_desc(if cols == 1 || areas.len() == 1 {
                "price, × reference"
            } else {
                ""
            })
            .axis_desc_style(font(AXIS_PT - 4))
            .label_style(font(TICK_PT - 2))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|v| crate::format::fixed(*v, 0))
            .y_label_formatter(&y_fmt)
            .draw()?;
        lines::fan_series(&mut chart, c, y_lo, (0.0, x_max))?;
    }
    lines::fan_legend(&legend_area, "reference price (1×)")?;
    let mut note = String::from(
        "Importers in one panel paid the same price every day in every percentile: one access \
         group. Percentiles are read from bins 3% wide.",
    );
    // Price spikes are rare in most scenarios: say why a band is missing.
    let at_one = |v: &[f64]| v.iter().all(|&x| x == 1.0);
    if panels
        .iter()
        .all(|p| at_one(&p.curve.p95) && at_one(&p.curve.p5))
    {
        note.push_str(
            " Both bands stay at 1×: on every day at least 95% of trials pay the reference \
             price; the mean shows the expected price.",
        );
    }
    if dropped > 0 {
        note.push_str(&format!(
            " {dropped} more group(s) with lower prices are in prices.csv."
        ));
    }
    draw::legend_note(&legend_area, &note)
}
