//! Sensitivity sweep: the headline metrics against the swept values of one parameter.
//!
//! One key per sweep, so the chart is a response curve rather than a tornado: the paired change
//! in total expected loss from the scenario as written (with its 95% interval, and the net
//! benefit when the stock is priced) on top, each counted importer's value fill rate below, on
//! a shared x axis of the swept values, with the value as written as a dashed vertical line.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, font};
use super::{
    plot_placer, series_style, Area, Chart, DrawResult, Drawn, LegendEntry, Marker, Swatch,
    AXIS_PT, GRID, NOTE_PT, REFERENCE, SUBTLE, TICK_PT,
};
use crate::format::{compact, count, display_name, money_axis};
use crate::report::Summary;

struct SweepPoint {
    value: f64,
    /// Paired change in total expected loss from the scenario as written, with its 95%
    /// interval (on common random numbers, far narrower than the total's own interval).
    change: f64,
    change_ci: (f64, f64),
    /// Loss avoided minus the yearly cost over the horizon (with a carry rate).
    net: Option<f64>,
    /// Value fill rate per importer, in `SweepSpec::labels` order (NaN if missing).
    fill: Vec<f64>,
}

pub(super) struct SweepSpec {
    key: String,
    unit: String,
    currency: String,
    horizon_days: u32,
    trials: u64,
    /// The total expected loss as written, and the key's value there (None: not one number).
    base_total: f64,
    as_written: Option<f64>,
    base_fill: Vec<f64>,
    /// What the legend calls each importer counted, in the order of `SweepPoint::fill`.
    labels: Vec<String>,
    points: Vec<SweepPoint>,
}

impl SweepSpec {
    /// From a sweep's summary: the scenario as written first, then one variant per value of
    /// its `sweep` record, in the same order (a summary without one draws no point).
    pub(super) fn new(s: &Summary) -> Self {
        let empty = crate::sweep::SweepInfo {
            key: String::new(),
            unit: "",
            values: Vec::new(),
            as_written: None,
            carry_rate: None,
        };
        let info = s.sweep.as_ref().unwrap_or(&empty);
        let first = s.variants.first().map_or(&[][..], |v| &v.importers[..]);
        let counted: Vec<&crate::report::ImporterSummary> = first
            .iter()
            .filter(|i| s.totals_cover.contains(&i.importer))
            .collect();
        let importers: Vec<String> = counted.iter().map(|i| i.importer.clone()).collect();
        let labels = counted
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
        let mut points: Vec<SweepPoint> = info
            .values
            .iter()
            .zip(s.variants.iter().skip(1))
            .filter(|(x, _)| x.is_finite())
            .filter_map(|(&value, v)| {
                let d = v.total_loss_vs_baseline?;
                Some(SweepPoint {
                    value,
                    change: d.mean,
                    change_ci: (d.low(), d.high()),
                    net: info
                        .carry_rate
                        .map(|_| -d.mean - v.counted_yearly_cost.unwrap_or(0.0) * s.cost_years),
                    fill: fill_of(v),
                })
            })
            .collect();
        // The scenario as written is a point of the curve too, with no change by definition.
        let as_written = info.as_written.filter(|x| x.is_finite());
        if let (Some(x), Some(base)) = (as_written, s.variants.first()) {
            if !points.is_empty() && !points.iter().any(|p| p.value == x) {
                points.push(SweepPoint {
                    value: x,
                    change: 0.0,
                    change_ci: (0.0, 0.0),
                    net: info.carry_rate.map(|_| 0.0),
                    fill: fill_of(base),
                });
            }
        }
        points.sort_by(|a, b| a.value.total_cmp(&b.value));
        SweepSpec {
            key: info.key.clone(),
            unit: info.unit.to_owned(),
            currency: s.currency.clone(),
            horizon_days: s.horizon_days,
            trials: s.trials,
            base_total: s.variants.first().map_or(0.0, |v| v.total_loss.mean),
            as_written,
            base_fill: s.variants.first().map(fill_of).unwrap_or_default(),
            labels,
            points,
        }
    }

    fn priced(&self) -> bool {
        self.points.iter().any(|p| p.net.is_some())
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
        "Sweep of {}: change in expected loss{} and fill rate",
        spec.key,
        if spec.priced() { ", net benefit" } else { "" }
    );
    let subtitle = format!(
        "{} trials per value on common random numbers; total as written {} over {} days; \
         whiskers: 95% CI of the paired change.",
        count(spec.trials),
        crate::format::money(spec.base_total, &spec.currency),
        spec.horizon_days
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
        .map(|p| p.value)
        .chain(spec.as_written)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
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

/// The change axis: every interval and net benefit, and zero (the scenario as written), so a
/// change reads against no change rather than against a zoomed level.
fn change_range(spec: &SweepSpec) -> (f64, f64) {
    let (lo, hi) = spec
        .points
        .iter()
        .flat_map(|p| [p.change_ci.0, p.change_ci.1].into_iter().chain(p.net))
        .filter(|x| x.is_finite())
        .fold((0.0_f64, 0.0_f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    (lo - 0.12 * span, hi + 0.18 * span)
}

/// The scenario as written, as a vertical dashed line across a panel, with its note on top
/// (`note`: in the top panel only).
fn as_written_line<DB: DrawingBackend>(
    root: &Area<DB>,
    chart: &mut Chart<'_, DB>,
    spec: &SweepSpec,
    note: bool,
) -> DrawResult<DB> {
    let Some(x) = spec.as_written else {
        return Ok(());
    };
    let y = chart.y_range();
    draw::line(
        chart,
        vec![(x, y.start), (x, y.end)],
        REFERENCE,
        2,
        Some((10, 6)),
    )?;
    if note {
        let (px, py) = chart.backend_coord(&(x, y.end));
        root.draw(&Text::new(
            format!("as written: {}", compact(x)),
            (px + 6, py + 4),
            font(NOTE_PT)
                .color(&SUBTLE)
                .pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
    }
    Ok(())
}

/// Top panel: the paired change in total expected loss against the swept value (negative:
/// loss avoided), and with a carry rate the net benefit over the horizon.
fn total_panel<DB: DrawingBackend>(
    root: &Area<DB>,
    panel: &Panel<DB>,
    spec: &SweepSpec,
    (x_lo, x_hi): (f64, f64),
) -> DrawResult<DB> {
    let (y_min, y_max) = change_range(spec);
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
        .y_desc(format!("change vs as written ({})", spec.currency))
        .axis_desc_style(font(AXIS_PT - 2))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_fmt)
        .y_labels(6)
        .draw()?;
    draw::line(&mut chart, vec![(x_lo, 0.0), (x_hi, 0.0)], SUBTLE, 1, None)?;
    as_written_line(root, &mut chart, spec, true)?;
    draw_changes(root, &mut chart, spec, &axis_money)?;
    if spec.points.is_empty() {
        draw::note(&panel.plot, "no swept values", NOTE_PT + 5)?;
    }
    let mut entries = vec![LegendEntry {
        label: "expected loss, 95% CI".into(),
        swatch: Swatch::Line {
            color: series_style(0).color,
            width: 3,
            dash: None,
            marker: Some(Marker::Circle),
        },
    }];
    if spec.priced() {
        let st = series_style(NET_SERIES);
        entries.push(LegendEntry {
            label: "net benefit".into(),
            swatch: Swatch::series(st),
        });
    }
    entries.push(LegendEntry {
        label: "as written".into(),
        swatch: Swatch::reference(),
    });
    draw::legend(&panel.legend, Some("change"), &entries)?;
    if spec.priced() {
        draw::legend_note(
            &panel.legend,
            "Net benefit: loss avoided minus the yearly cost of the stock held over the \
             scenario as written, over the horizon.",
        )?;
    }
    Ok(())
}

/// The series of the net benefit line (the fill panel's importers take 1, 2, ...).
const NET_SERIES: usize = 7;

/// The change's line through the swept values, each point with its whisker and a value label
/// (`money` formats it as the axis does); the net benefit's line with a carry rate.
fn draw_changes<DB: DrawingBackend>(
    root: &Area<DB>,
    chart: &mut Chart<'_, DB>,
    spec: &SweepSpec,
    money: &dyn Fn(f64) -> String,
) -> DrawResult<DB> {
    let st = series_style(0);
    let pts: Vec<(f64, f64)> = spec.points.iter().map(|p| (p.value, p.change)).collect();
    draw::line(chart, pts, st.color, 3, None)?;
    if spec.priced() {
        let nst = series_style(NET_SERIES);
        let net: Vec<(f64, f64)> = spec
            .points
            .iter()
            .filter_map(|p| Some((p.value, p.net?)))
            .collect();
        draw::line(chart, net.clone(), nst.color, 3, nst.dash)?;
        for p in net.iter().filter(|p| Some(p.0) != spec.as_written) {
            draw::draw_marker(root, chart.backend_coord(p), nst.marker, nst.color, 6)?;
        }
    }
    let mut placer = plot_placer(chart);
    for p in &spec.points {
        if let Some(n) = p.net {
            placer.block(chart.backend_coord(&(p.value, n)), 9);
        }
    }
    let mut centres = Vec::new();
    for p in spec
        .points
        .iter()
        .filter(|p| Some(p.value) != spec.as_written)
    {
        let lo = chart.backend_coord(&(p.value, p.change_ci.0));
        let hi = chart.backend_coord(&(p.value, p.change_ci.1));
        draw::error_bar(root, lo.0, lo.1, hi.1, 6, 2)?;
        placer.block_rect((lo.0 - 7, hi.1 - 1, lo.0 + 7, lo.1 + 1));
        let c = chart.backend_coord(&(p.value, p.change));
        draw::draw_marker(root, c, st.marker, st.color, 7)?;
        placer.block(c, 9);
        centres.push((hi, money(p.change)));
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
        .x_desc(if spec.unit.is_empty() {
            spec.key.clone()
        } else {
            format!("{} ({})", spec.key, spec.unit)
        })
        .y_desc("value fill rate")
        .axis_desc_style(font(AXIS_PT - 2))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&x_tick)
        .y_label_formatter(&y_fmt)
        .y_labels(6)
        .draw()?;
    as_written_line(root, &mut chart, spec, false)?;
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
