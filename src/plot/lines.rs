//! Fill over time: the baseline fan chart and the strategies overlaid.
//!
//! Shortages are rare events in most scenarios, so the share axis zooms in on the dip (from
//! [`draw::zoom_floor`]) instead of always running from 0: a 0.2% mean shortfall is invisible on
//! a 0-100% axis.

use plotters::prelude::*;

use super::draw::{self, font};
use super::{
    series_style, Area, Chart, ChartInfo, DrawResult, LegendEntry, Swatch, AXIS_PT, BAND_INNER,
    BAND_OUTER, GRID, MEAN, MEDIAN, REFERENCE, TICK_PT,
};
use crate::report::{CurveSet, Summary};

const X_DESC: &str = "day";

/// Axes for a share of demand over days, zoomed so the lowest value `min` shows; returns the
/// chart and the axis floor.
#[allow(clippy::type_complexity)] // plotters' chart type
fn share_axes<'a, DB: DrawingBackend>(
    plot: &'a Area<DB>,
    (x_lo, x_max): (f64, f64),
    min: f64,
    (x_desc, y_desc): (&str, &str),
) -> Result<
    (
        ChartContext<
            'a,
            DB,
            Cartesian2d<
                plotters::coord::types::RangedCoordf64,
                plotters::coord::types::RangedCoordf64,
            >,
        >,
        f64,
    ),
    DrawingAreaErrorKind<DB::ErrorType>,
> {
    let lo = draw::zoom_floor(min);
    let hi = 1.0 + (1.0 - lo) * 0.04;
    let dec = draw::percent_decimals(1.0 - lo);
    let y_fmt = move |v: &f64| draw::share_tick(*v, dec);
    let mut chart = draw::builder(plot, 20, 95).build_cartesian_2d(x_lo..x_max, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| crate::format::fixed(*v, 0))
        .y_label_formatter(&y_fmt)
        .y_labels(8)
        .draw()?;
    Ok((chart, lo))
}

/// Resilience fan of one importer and material under the baseline: P5-P95 and P25-P75 bands,
/// median and mean lines, and the full-service reference at 100%.
pub(super) fn fan<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    c: &CurveSet,
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let x_max = x_max(&c.day);
    let min =
        c.p5.iter()
            .chain(&c.mean)
            .copied()
            .filter(|v| v.is_finite())
            .fold(1.0, f64::min);
    let (mut chart, lo) = share_axes(&plot, (0.0, x_max), min, (X_DESC, "share of demand met"))?;
    fan_series(&mut chart, c, lo, (0.0, x_max))?;
    let full = |v: &[f64]| v.iter().all(|&x| !(x < 1.0));
    // Shortages are rare in most scenarios: say why a band is missing rather than leave the
    // reader looking for it.
    let legend_note = if full(&c.mean) {
        draw::note(
            &chart.plotting_area().strip_coord_spec(),
            "No trial ran short: full demand met every day.",
            AXIS_PT,
        )?;
        None
    } else if full(&c.p5) {
        Some(
            "Both bands stay at 100%: on every day at least 95% of trials meet full demand; \
             the mean shows the expected shortfall.",
        )
    } else if full(&c.p25) {
        Some(
            "The P25–P75 band stays at 100%: on every day at least 75% of trials meet full demand.",
        )
    } else {
        None
    };
    fan_legend(&legend_area, "full service (100%)")?;
    if let Some(text) = legend_note {
        draw::legend_note(&legend_area, text)?;
    }
    Ok(())
}

/// A fan's series on `chart`: the P5-P95 and P25-P75 bands (cut at the axis floor `lo`), the
/// mean and median lines, and the reference at 1 on top (it stays visible where the median
/// sits on it).
pub(super) fn fan_series<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    c: &CurveSet,
    lo: f64,
    (x_lo, x_max): (f64, f64),
) -> DrawResult<DB> {
    let band = |upper: &[f64], lower: &[f64]| -> Vec<(f64, f64)> {
        let up = c.day.iter().zip(upper).map(|(&d, &v)| (d, v.max(lo)));
        let down = c.day.iter().zip(lower).rev().map(|(&d, &v)| (d, v.max(lo)));
        up.chain(down).filter(|p| p.1.is_finite()).collect()
    };
    chart.draw_series(std::iter::once(Polygon::new(
        band(&c.p95, &c.p5),
        BAND_OUTER.filled(),
    )))?;
    chart.draw_series(std::iter::once(Polygon::new(
        band(&c.p75, &c.p25),
        BAND_INNER.filled(),
    )))?;
    draw::line(chart, points(&c.day, &c.mean), MEAN, 2, Some((14, 6)))?;
    draw::line(chart, points(&c.day, &c.p50), MEDIAN, 3, None)?;
    draw::line(
        chart,
        vec![(x_lo, 1.0), (x_max, 1.0)],
        REFERENCE,
        2,
        Some((10, 8)),
    )?;
    Ok(())
}

/// Fill of one importer and material in the trials where a shock hit, aligned on its onset:
/// the fan of fill on top, the share of those trials short each day below.
pub(super) fn conditional<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    f: &crate::conditional::Fan,
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let (_, h) = plot.dim_in_pixel();
    let split = h * 62 / 100;
    let (top, bottom) = plot.split_vertically(split);
    let (legend_top, legend_bottom) = legend_area.split_vertically(split);
    let sd = f64::from(f.step_days);
    let day: Vec<f64> = (0..f.bands.len())
        .map(|j| (j as f64 - f64::from(f.before)) * sd)
        .collect();
    let c = CurveSet {
        variant: String::new(),
        importer: f.what.importer.clone(),
        material: f.what.material.clone(),
        unit: String::new(),
        p5: f.bands.iter().map(|b| b[0]).collect(),
        p25: f.bands.iter().map(|b| b[1]).collect(),
        p50: f.bands.iter().map(|b| b[2]).collect(),
        p75: f.bands.iter().map(|b| b[3]).collect(),
        p95: f.bands.iter().map(|b| b[4]).collect(),
        mean: f.mean.clone(),
        day,
    };
    // Up to a little past the last day some trial was short (at least 60 days): the rest is
    // full service and would squeeze the story into a sliver.
    let end = c.day.last().copied().unwrap_or(1.0).max(1.0);
    let last_short = c
        .day
        .iter()
        .zip(&f.p_short)
        .filter(|(_, &p)| p > 0.0)
        .map(|(&d, _)| d)
        .fold(0.0, f64::max);
    let x = (
        c.day.first().copied().unwrap_or(0.0),
        (last_short * 1.25 + 10.0).clamp(60.0_f64.min(end), end),
    );
    let min = c.p5.iter().chain(&c.mean).copied().fold(1.0, f64::min);
    let x_desc = format!("days since {} began", f.what.shock);
    let (mut chart, lo) = share_axes(&top, x, min, ("", "share of demand met"))?;
    fan_series(&mut chart, &c, lo, x)?;
    let top_y = chart.y_range().end;
    draw::line(
        &mut chart,
        vec![(0.0, lo), (0.0, top_y)],
        REFERENCE,
        2,
        Some((4, 4)),
    )?;
    fan_legend(&legend_top, "full service (100%)")?;
    // The share short, zoomed to its highest day (a tenth at least).
    let p_max = f.p_short.iter().copied().fold(0.0, f64::max);
    let p_top = (p_max * 1.2).clamp(0.1, 1.0);
    let p_dec = draw::percent_decimals(p_top);
    let mut chart = draw::builder(&bottom, 20, 95).build_cartesian_2d(x.0..x.1, 0f64..p_top)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("share of trials short")
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| crate::format::fixed(*v, 0))
        .y_label_formatter(&|v| draw::share_tick(*v, p_dec))
        .y_labels(5)
        .draw()?;
    draw::line(
        &mut chart,
        vec![(0.0, 0.0), (0.0, p_top)],
        REFERENCE,
        2,
        Some((4, 4)),
    )?;
    let st = series_style(1);
    draw::line(&mut chart, points(&c.day, &f.p_short), st.color, 3, None)?;
    draw::legend(
        &legend_bottom,
        Some("each day"),
        &[
            LegendEntry {
                label: "P(short that day)".into(),
                swatch: Swatch::Line {
                    color: st.color,
                    width: 3,
                    dash: None,
                    marker: None,
                },
            },
            LegendEntry {
                label: "onset (day 0)".into(),
                swatch: Swatch::Line {
                    color: REFERENCE,
                    width: 2,
                    dash: Some((4, 4)),
                    marker: None,
                },
            },
        ],
    )?;
    Ok(())
}

/// A fan's legend: bands, median, mean, and the reference at 1 as `reference`.
pub(super) fn fan_legend<DB: DrawingBackend>(area: &Area<DB>, reference: &str) -> DrawResult<DB> {
    draw::legend(
        area,
        Some("across trials, each day"),
        &[
            LegendEntry {
                label: "P5–P95".into(),
                swatch: Swatch::Fill(BAND_OUTER),
            },
            LegendEntry {
                label: "P25–P75".into(),
                swatch: Swatch::Fill(BAND_INNER),
            },
            LegendEntry {
                label: "median".into(),
                swatch: Swatch::Line {
                    color: MEDIAN,
                    width: 3,
                    dash: None,
                    marker: None,
                },
            },
            LegendEntry {
                label: "mean".into(),
                swatch: Swatch::Line {
                    color: MEAN,
                    width: 2,
                    dash: Some((14, 6)),
                    marker: None,
                },
            },
            LegendEntry {
                label: reference.into(),
                swatch: Swatch::reference(),
            },
        ],
    )?;
    Ok(())
}

/// Mean fill of every variant for one importer and material, on one chart.
pub(super) fn strategies<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
    curves: &[&CurveSet],
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let x_max = curves.iter().map(|c| x_max(&c.day)).fold(1.0, f64::max);
    let min = curves
        .iter()
        .flat_map(|c| c.mean.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0, f64::min);
    let (mut chart, _) = share_axes(
        &plot,
        (0.0, x_max),
        min,
        (X_DESC, "mean share of demand met"),
    )?;
    draw::line(
        &mut chart,
        vec![(0.0, 1.0), (x_max, 1.0)],
        REFERENCE,
        2,
        Some((10, 8)),
    )?;
    let mut entries = Vec::new();
    let n = curves.len();
    // The baseline last, on top: the strategies are read against it.
    let order: Vec<usize> = (1..n).chain(std::iter::once(0)).take(n).collect();
    for &k in &order {
        let c = curves[k];
        let st = series_style(variant_index(s, &c.variant, k));
        draw::line(&mut chart, points(&c.day, &c.mean), st.color, 3, st.dash)?;
    }
    for (k, c) in curves.iter().enumerate() {
        let st = series_style(variant_index(s, &c.variant, k));
        let pts = points(&c.day, &c.mean);
        // Markers at staggered days, so overlapping lines still show each series.
        for j in 0..8 {
            let at = (j as f64 + (k as f64 + 0.5) / n as f64) / 8.0 * x_max;
            if let Some(p) = pts
                .iter()
                .min_by(|a, b| (a.0 - at).abs().total_cmp(&(b.0 - at).abs()))
            {
                let px = chart.backend_coord(p);
                draw::draw_marker(root, px, st.marker, st.color, 6)?;
            }
        }
        entries.push(LegendEntry {
            label: c.variant.clone(),
            swatch: Swatch::series(st),
        });
    }
    entries.push(LegendEntry {
        label: "full service (100%)".into(),
        swatch: Swatch::reference(),
    });
    draw::legend(&legend_area, Some("strategy"), &entries)?;
    Ok(())
}

/// The position of `variant` in the summary (its colour and dash), `fallback` if absent.
pub(super) fn variant_index(s: &Summary, variant: &str, fallback: usize) -> usize {
    s.variants
        .iter()
        .position(|v| v.id == variant)
        .unwrap_or(fallback)
}

fn points(day: &[f64], v: &[f64]) -> Vec<(f64, f64)> {
    day.iter()
        .zip(v)
        .filter(|(d, v)| d.is_finite() && v.is_finite())
        .map(|(&d, &v)| (d, v))
        .collect()
}

fn x_max(day: &[f64]) -> f64 {
    day.iter()
        .copied()
        .filter(|d| d.is_finite())
        .fold(0.0, f64::max)
        .max(1.0)
}
