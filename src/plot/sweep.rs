//! Sensitivity sweep: the headline metrics against the swept values of one parameter.
//!
//! One key per sweep, so the chart is a response curve rather than a tornado: total expected
//! loss (with its 95% interval) on top, each importer's value fill rate below, on a shared x
//! axis of the swept values, with the scenario as written as a dashed reference.

use plotters::prelude::*;

use super::draw::{self, font};
use super::{
    plot_placer, series_style, Area, Chart, DrawResult, Drawn, LegendEntry, Marker, Swatch,
    AXIS_PT, GRID, NOTE_PT, REFERENCE, TICK_PT,
};
use crate::format::{compact, count, display_name, money_axis};
use crate::report::Summary;

struct SweepPoint {
    value: f64,
    total_mean: f64,
    /// 95% interval of the total from the paired change against the scenario as written (on
    /// common random numbers, far narrower than the total's own interval).
    total_ci: (f64, f64),
    /// Value fill rate per importer, in `SweepSpec::labels` order (NaN if missing).
    fill: Vec<f64>,
}

pub(super) struct SweepSpec {
    key: String,
    currency: String,
    horizon_days: u32,
    trials: u64,
    base_total: Option<f64>,
    base_fill: Vec<f64>,
    /// What the legend calls each importer, in the order of `SweepPoint::fill`.
    labels: Vec<String>,
    points: Vec<SweepPoint>,
}

impl SweepSpec {
    pub(super) fn new(s: &Summary, key: &str, values: &[f64]) -> Self {
        let first = s.variants.first().map_or(&[][..], |v| &v.importers[..]);
        let importers: Vec<String> = first.iter().map(|i| i.importer.clone()).collect();
        let labels = first
            .iter()
            .map(|i| display_name(&i.importer, &i.name))
            .collect();
        let fill_of = |v: &crate::report::VariantSummary| -> Vec<f64> {
            importers
                .iter()
                .map(|id| {
                    v.importers
                        .iter()
                        .find(|i| &i.importer == id)
                        .map_or(f64::NAN, |i| i.metrics.value_fill_rate.mean)
                })
                .collect()
        };
        let mut points: Vec<SweepPoint> = values
            .iter()
            .zip(s.variants.iter().skip(1))
            .filter(|(x, _)| x.is_finite())
            .map(|(&value, v)| {
                let m = v.total_loss.mean;
                let half = 1.96 * v.total_loss_vs_baseline.map_or(v.total_loss.se, |d| d.se);
                SweepPoint {
                    value,
                    total_mean: m,
                    total_ci: (m - half, m + half),
                    fill: fill_of(v),
                }
            })
            .collect();
        points.sort_by(|a, b| a.value.total_cmp(&b.value));
        SweepSpec {
            key: key.to_owned(),
            currency: s.currency.clone(),
            horizon_days: s.horizon_days,
            trials: s.trials,
            base_total: s.variants.first().map(|v| v.total_loss.mean),
            base_fill: s.variants.first().map(fill_of).unwrap_or_default(),
            labels,
            points,
        }
    }
}

/// One of the two stacked panels: its plotting area and its part of the legend.
struct Panel<DB: DrawingBackend> {
    plot: Area<DB>,
    legend: Area<DB>,
}

/// The response chart: total expected loss on top, value fill rate per importer below, on the
/// swept values' shared x range.
pub(super) fn response<DB: DrawingBackend>(root: &Area<DB>, spec: &SweepSpec) -> DrawResult<DB> {
    let title = format!(
        "Sweep of {}: total expected loss and fill rate by importer",
        spec.key
    );
    let subtitle = format!(
        "{} trials per value on common random numbers; whiskers: 95% CI of the paired change \
         from the scenario as written (dashed).",
        count(spec.trials)
    );
    let body = draw::title(root, &title, &subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let (_, h) = plot.dim_in_pixel();
    let split = h * 52 / 100;
    let (top, bottom) = plot.split_vertically(split);
    let (legend_top, legend_bottom) = legend_area.split_vertically(split);
    let x = swept_range(spec);
    let top = Panel {
        plot: top,
        legend: legend_top,
    };
    total_panel(root, &top, spec, x)?;
    let bottom = Panel {
        plot: bottom,
        legend: legend_bottom,
    };
    fill_panel(root, &bottom, spec, x)
}

/// The x range: the swept values with a little room either side (a fixed pad around a single
/// value).
fn swept_range(spec: &SweepSpec) -> (f64, f64) {
    let (v_lo, v_hi) = spec
        .points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.value), hi.max(p.value))
        });
    if !(v_hi > v_lo) {
        let c = if v_lo.is_finite() { v_lo } else { 0.0 };
        let pad = (c.abs() * 0.1).max(1.0);
        (c - pad, c + pad)
    } else {
        let pad = (v_hi - v_lo) * 0.06;
        (v_lo - pad, v_hi + pad)
    }
}

fn x_tick(v: &f64) -> String {
    compact(*v)
}

/// The total-loss axis, fitted to the intervals and the scenario as written (the changes are
/// what matter, and they can be small against the level).
fn total_range(spec: &SweepSpec) -> (f64, f64) {
    let (lo, hi) = spec
        .points
        .iter()
        .flat_map(|p| [p.total_ci.0, p.total_ci.1])
        .chain(spec.base_total)
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
    if !(hi >= lo) {
        (0.0, 1.0)
    } else {
        let span = if hi > lo {
            hi - lo
        } else {
            (hi.abs() * 0.1).max(1.0)
        };
        ((lo - 0.2 * span).max(0.0), hi + 0.3 * span)
    }
}

/// Top panel: total expected loss against the swept value, with the scenario as written as a
/// dashed reference.
fn total_panel<DB: DrawingBackend>(
    root: &Area<DB>,
    panel: &Panel<DB>,
    spec: &SweepSpec,
    (x_lo, x_hi): (f64, f64),
) -> DrawResult<DB> {
    let (y_min, y_max) = total_range(spec);
    let axis_money = money_axis(y_min, y_max, &spec.currency);
    let y_fmt = |v: &f64| axis_money(*v);
    let mut chart = ChartBuilder::on(&panel.plot)
        .margin_left(10)
        .margin_right(30)
        .margin_top(6)
        .margin_bottom(4)
        .x_label_area_size(30)
        .y_label_area_size(95)
        .build_cartesian_2d(x_lo..x_hi, y_min..y_max)?;
    chart
        .configure_mesh()
        .y_desc(format!(
            "E[total loss], {} days ({})",
            spec.horizon_days, spec.currency
        ))
        .axis_desc_style(font(AXIS_PT - 2))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_fmt)
        .y_labels(6)
        .draw()?;
    if let Some(b) = spec.base_total {
        draw::line(
            &mut chart,
            vec![(x_lo, b), (x_hi, b)],
            REFERENCE,
            2,
            Some((10, 6)),
        )?;
    }
    draw_totals(root, &mut chart, spec, &axis_money)?;
    if spec.points.is_empty() {
        draw::note(&panel.plot, "no swept values", NOTE_PT + 5)?;
    }
    draw::legend(
        &panel.legend,
        Some("total loss"),
        &[
            LegendEntry {
                label: "expected, 95% CI".into(),
                swatch: Swatch::Line {
                    color: series_style(0).color,
                    width: 3,
                    dash: None,
                    marker: Some(Marker::Circle),
                },
            },
            LegendEntry {
                label: "as written".into(),
                swatch: Swatch::reference(),
            },
        ],
    )?;
    Ok(())
}

/// The total's line through the swept values, each point with its whisker and a value label
/// (`money` formats it as the axis does).
fn draw_totals<DB: DrawingBackend>(
    root: &Area<DB>,
    chart: &mut Chart<'_, DB>,
    spec: &SweepSpec,
    money: &dyn Fn(f64) -> String,
) -> DrawResult<DB> {
    let st = series_style(0);
    let pts: Vec<(f64, f64)> = spec
        .points
        .iter()
        .map(|p| (p.value, p.total_mean))
        .collect();
    draw::line(chart, pts, st.color, 3, None)?;
    // Whiskers are cut at the axis floor.
    let y_min = chart.y_range().start;
    let mut placer = plot_placer(chart);
    let mut centres = Vec::new();
    for p in &spec.points {
        let lo = chart.backend_coord(&(p.value, p.total_ci.0.max(y_min)));
        let hi = chart.backend_coord(&(p.value, p.total_ci.1));
        draw::error_bar(root, lo.0, lo.1, hi.1, 6, 2)?;
        placer.block_rect((lo.0 - 7, hi.1 - 1, lo.0 + 7, lo.1 + 1));
        let c = chart.backend_coord(&(p.value, p.total_mean));
        draw::draw_marker(root, c, st.marker, st.color, 7)?;
        placer.block(c, 9);
        centres.push((hi, money(p.total_mean)));
    }
    let label_style = font(TICK_PT - 1);
    for (hi, text) in centres {
        placer.place_above(root, hi, &text, &label_style)?;
    }
    Ok(())
}

/// Bottom panel: value fill rate per importer against the swept value, zoomed to the dip.
fn fill_panel<DB: DrawingBackend>(
    root: &Area<DB>,
    panel: &Panel<DB>,
    spec: &SweepSpec,
    (x_lo, x_hi): (f64, f64),
) -> DrawResult<DB> {
    let min = spec
        .points
        .iter()
        .flat_map(|p| p.fill.iter().copied())
        .chain(spec.base_fill.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0, f64::min);
    let lo = draw::zoom_floor(min);
    let hi = 1.0 + (1.0 - lo) * 0.05;
    let dec = draw::percent_decimals(1.0 - lo);
    let y_fmt = move |v: &f64| draw::share_tick(*v, dec);
    let mut chart = ChartBuilder::on(&panel.plot)
        .margin_left(10)
        .margin_right(30)
        .margin_top(10)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(95)
        .build_cartesian_2d(x_lo..x_hi, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc(&spec.key)
        .y_desc("value fill rate")
        .axis_desc_style(font(AXIS_PT - 2))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_fmt)
        .y_labels(6)
        .draw()?;
    let entries = draw_fills(root, &mut chart, spec)?;
    draw::legend(&panel.legend, Some("value fill rate"), &entries)?;
    Ok(())
}

/// One line with markers per importer; returns their legend entries.
fn draw_fills<DB: DrawingBackend>(
    root: &Area<DB>,
    chart: &mut Chart<'_, DB>,
    spec: &SweepSpec,
) -> Drawn<Vec<LegendEntry>, DB> {
    let mut entries = Vec::new();
    for (i, label) in spec.labels.iter().enumerate() {
        // Series colours from 1: the near-black is the total above.
        let st = series_style(i + 1);
        let pts: Vec<(f64, f64)> = spec
            .points
            .iter()
            .map(|p| (p.value, p.fill[i]))
            .filter(|p| p.1.is_finite())
            .collect();
        draw::line(chart, pts.clone(), st.color, 3, st.dash)?;
        for p in &pts {
            let c = chart.backend_coord(p);
            draw::draw_marker(root, c, st.marker, st.color, 6)?;
        }
        entries.push(LegendEntry {
            label: label.clone(),
            swatch: Swatch::series(st),
        });
    }
    Ok(entries)
}
