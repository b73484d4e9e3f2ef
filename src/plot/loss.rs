//! Loss charts: exceedance curves, expected loss with CVaR, and cost against loss avoided.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, font, LabelPlacer};
use super::lines::variant_index;
use super::{
    plot_placer, series_style, Area, Chart, ChartInfo, DrawResult, Drawn, LegendEntry, Marker,
    Swatch, AXIS_PT, GRID, NOTE_PT, REFERENCE, SUBTLE, TEXT, TICK_PT,
};
use crate::format::{money, percent};
use crate::report::{LossSample, Summary};
use crate::stats::cvar_se;

/// Exceedance curves P(loss > x) of one importer, one per variant, on a log probability axis.
pub(super) fn exceedance<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
    samples: &[&LossSample<'_>],
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let n_max = samples.iter().map(|l| l.len()).max().unwrap_or(1).max(1);
    let curves: Vec<Vec<(f64, f64)>> = samples.iter().map(|l| exceedance_points(l)).collect();
    let loss_max = curves
        .iter()
        .filter_map(|c| c.last().map(|p| p.0))
        .fold(0.0, f64::max);
    let p_max = curves
        .iter()
        .filter_map(|c| c.first().map(|p| p.1))
        .fold(0.0, f64::max);
    let x_max = if loss_max > 0.0 { loss_max * 1.04 } else { 1.0 };
    let y_lo = 0.5 / n_max as f64;
    // The decade above the highest probability, so the curves fill the height.
    let y_hi = if p_max > 0.0 {
        10f64.powf((p_max * 1.3).log10().ceil()).min(1.0)
    } else {
        1.0
    };
    let cur = s.currency.clone();
    let x_fmt = move |v: &f64| money(*v, &cur);
    let mut chart =
        draw::builder(&plot, 30, 90).build_cartesian_2d(0f64..x_max, (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "loss over {} days, x ({})",
            s.horizon_days, s.currency
        ))
        .y_desc("P(loss > x), log scale")
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|v| percent(*v))
        .draw()?;
    // Return-period references: the curve crosses them at VaR95 and VaR99. Without a loss there
    // is no curve to cross them, and they would strike through the note saying so.
    let any_loss = curves.iter().any(|c| !c.is_empty());
    for (p, label) in [(0.05, "1 in 20 trials"), (0.01, "1 in 100 trials")] {
        if any_loss && p > y_lo && p < y_hi {
            draw::line(
                &mut chart,
                vec![(0.0, p), (x_max, p)],
                REFERENCE,
                1,
                Some((3, 5)),
            )?;
            let (x, y) = chart.backend_coord(&(x_max, p));
            root.draw(&Text::new(
                label,
                (x - 6, y - 4),
                font(NOTE_PT)
                    .color(&SUBTLE)
                    .pos(Pos::new(HPos::Right, VPos::Bottom)),
            ))?;
        }
    }
    let n = samples.len();
    let mut entries = Vec::new();
    let mut any = false;
    // The baseline drawn last, on top.
    let order: Vec<usize> = (1..n).chain(std::iter::once(0)).take(n).collect();
    for &k in &order {
        let l = samples[k];
        let st = series_style(variant_index(s, &l.variant, k));
        let mut pts = curves[k].clone();
        let Some(&(last_x, _)) = pts.last() else {
            continue;
        };
        any = true;
        // The drop to zero at the largest loss.
        pts.push((last_x, y_lo));
        draw::line(&mut chart, pts.clone(), st.color, 3, st.dash)?;
        for j in 0..6 {
            let at = (j as f64 + (k as f64 + 0.5) / n as f64) / 6.0 * last_x;
            if let Some(y) = value_at(&pts, at) {
                let px = chart.backend_coord(&(at, y));
                draw::draw_marker(root, px, st.marker, st.color, 6)?;
            }
        }
    }
    for (k, l) in samples.iter().enumerate() {
        let st = series_style(variant_index(s, &l.variant, k));
        let label = if curves[k].is_empty() {
            format!("{} (no loss)", l.variant)
        } else {
            l.variant.clone()
        };
        entries.push(LegendEntry {
            label,
            swatch: Swatch::series(st),
        });
    }
    if !any {
        draw::note(
            &chart.plotting_area().strip_coord_spec(),
            "no trial had a loss",
            NOTE_PT + 5,
        )?;
    }
    let heading = if n > 1 { "strategy" } else { "variant" };
    draw::legend(&legend_area, Some(heading), &entries)?;
    Ok(())
}

/// The empirical exceedance curve P(L > x) as a staircase from x = 0 to the largest loss, with
/// steps narrower than a pixel merged unless they move the curve visibly on a log axis.
fn exceedance_points(losses: &LossSample<'_>) -> Vec<(f64, f64)> {
    let n = losses.len() as f64;
    // Sorted as stored (f32), read as f64: half the memory of an f64 copy, the same values.
    let mut v: Vec<f32> = losses
        .values()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_by(f32::total_cmp);
    let x_max = f64::from(v[v.len() - 1]);
    let min_dx = x_max / 1500.0;
    let mut p = v.len() as f64 / n;
    let mut pts = vec![(0.0, p)];
    let (mut last_x, mut last_p) = (0.0, p);
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j] == v[i] {
            j += 1;
        }
        let u = f64::from(v[i]);
        let above = v.len() - j;
        if above == 0 {
            pts.push((u, p));
            break;
        }
        let next = above as f64 / n;
        if u - last_x >= min_dx || (last_p / next).log10() >= 0.004 {
            pts.push((u, p));
            pts.push((u, next));
            (last_x, last_p) = (u, next);
        }
        p = next;
        i = j;
    }
    pts
}

/// The curve's value at `x` (the first point at or beyond it).
fn value_at(pts: &[(f64, f64)], x: f64) -> Option<f64> {
    pts.iter().find(|p| p.0 >= x).map(|p| p.1)
}

/// Per-trial loss summed over the importers the totals count (`cover`) for one variant (the
/// trials line up across importers).
fn total_per_trial(losses: &[LossSample<'_>], variant: &str, cover: &[String]) -> Vec<f64> {
    let mut total: Vec<f64> = Vec::new();
    for l in losses
        .iter()
        .filter(|l| l.variant == variant && cover.contains(&l.importer))
    {
        if total.len() < l.len() {
            total.resize(l.len(), 0.0);
        }
        for (t, x) in total.iter_mut().zip(l.values()) {
            *t += f64::from(x);
        }
    }
    total
}

/// One variant's bar: the expected total loss with its 95% interval, and the CVaR95 of the
/// per-trial total with its interval when the tail holds enough trials.
struct Bar<'a> {
    id: &'a str,
    mean: f64,
    mean_ci: (f64, f64),
    cvar: Option<f64>,
    cvar_ci: Option<(f64, f64)>,
}

/// A value label of a bar or diamond, placed once every bar, whisker and diamond blocks its
/// space.
struct ValueLabel {
    at: (i32, i32),
    text: String,
    /// Tried above the point first (the expected loss, over its whisker).
    above: bool,
}

/// Expected total loss per variant (bars, with the 95% interval from its standard error) and
/// the CVaR95 of the per-trial total (diamonds, with a 95% interval by [`cvar_se`] when the
/// tail holds enough trials), each labelled with its value.
pub(super) fn expected_loss<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
    losses: &[LossSample<'_>],
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let bars = loss_bars(s, losses);
    let top = bars_top(&bars);
    let y_max = if top > 0.0 { top * 1.12 } else { 1.0 };
    let mut chart = expected_loss_axes(&plot, s, bars.len().max(1), y_max)?;
    let (mut placer, labels) = draw_bars(root, &mut chart, &bars, &s.currency)?;
    let value_style = font(TICK_PT);
    for ValueLabel { at, text, above } in labels {
        if above {
            placer.place_above(root, at, &text, &value_style)?;
        } else {
            placer.place(root, at, &text, &value_style)?;
        }
    }
    if !(top > 0.0) {
        draw::note(
            &chart.plotting_area().strip_coord_spec(),
            "No trial had a loss.",
            AXIS_PT,
        )?;
    }
    draw_bar_ids(root, &chart, &bars)?;
    draw::legend(&legend_area, None, &expected_loss_legend())?;
    draw::legend_note(
        &legend_area,
        "Bars are coloured by strategy. CVaR95: mean total loss in the worst 5% of trials; \
         its interval by the normal approximation, shown from 400 trials.",
    )
}

/// One bar per variant, in the summary's order.
fn loss_bars<'a>(s: &'a Summary, losses: &[LossSample<'_>]) -> Vec<Bar<'a>> {
    s.variants
        .iter()
        .map(|v| {
            let mut total = total_per_trial(losses, &v.id, &s.totals_cover);
            let cvar_ci = cvar_se(&mut total, 0.95);
            let cvar = (!total.is_empty()).then(|| crate::stats::var_cvar(&mut total, 0.95).1);
            let (m, se) = (v.total_loss.mean, v.total_loss.se);
            Bar {
                id: &v.id,
                mean: m,
                mean_ci: (m - 1.96 * se, m + 1.96 * se),
                cvar,
                cvar_ci: cvar
                    .zip(cvar_ci)
                    .map(|(c, se)| (c - 1.96 * se, c + 1.96 * se)),
            }
        })
        .collect()
}

/// The highest finite value a bar's whisker or diamond reaches, or 0 if none is positive.
fn bars_top(bars: &[Bar]) -> f64 {
    bars.iter()
        .flat_map(|b| {
            [
                b.mean_ci.1,
                b.cvar.unwrap_or(0.0),
                b.cvar_ci.map_or(0.0, |c| c.1),
            ]
        })
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max)
}

/// Axes of the expected-loss chart: `nb` slots along x (the ids are drawn under them by
/// [`draw_bar_ids`]), total loss from 0 to `y_max`.
fn expected_loss_axes<'a, DB: DrawingBackend>(
    plot: &'a Area<DB>,
    s: &Summary,
    nb: usize,
    y_max: f64,
) -> Drawn<Chart<'a, DB>, DB> {
    let cur = s.currency.clone();
    let y_fmt = move |v: &f64| money(*v, &cur);
    let mut chart = draw::builder(plot, 20, 95).build_cartesian_2d(0f64..nb as f64, 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(format!(
            "total loss over {} days ({})",
            s.horizon_days, s.currency
        ))
        .x_desc(if nb > 1 { "strategy" } else { "" })
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&y_fmt)
        .draw()?;
    Ok(chart)
}

/// The left and right edges of the plotting area, in pixels.
fn x_extent<DB: DrawingBackend>(chart: &Chart<'_, DB>) -> (i32, i32) {
    let x = chart.x_range();
    (
        chart.backend_coord(&(x.start, 0.0)).0,
        chart.backend_coord(&(x.end, 0.0)).0,
    )
}

/// Each bar with its whisker and, beside it, the CVaR95 diamond with its whisker. Returns the
/// label placer with all of them blocked, and the value labels to place.
fn draw_bars<DB: DrawingBackend>(
    root: &Area<DB>,
    chart: &mut Chart<'_, DB>,
    bars: &[Bar],
    currency: &str,
) -> Drawn<(LabelPlacer, Vec<ValueLabel>), DB> {
    let nb = bars.len().max(1);
    let mut placer = plot_placer(chart);
    let edge = BLACK.stroke_width(1);
    // Half the slot, at most 120 pixels.
    let (px0, px1) = x_extent(chart);
    let slot_px = (px1 - px0).max(1) as f64 / nb as f64;
    let bar_w = 0.5f64.min(120.0 / slot_px);
    let mut labels = Vec::new();
    for (i, b) in bars.iter().enumerate() {
        let c = i as f64 + 0.5;
        let (l, r) = (c - bar_w / 2.0, c + bar_w / 2.0);
        let color = series_style(i).color;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(l, 0.0), (r, b.mean.max(0.0))],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(l, 0.0), (r, b.mean.max(0.0))],
            edge,
        )))?;
        let (x, y_lo) = chart.backend_coord(&(c, b.mean_ci.0.max(0.0)));
        let (_, y_hi) = chart.backend_coord(&(c, b.mean_ci.1));
        draw::error_bar(root, x, y_lo, y_hi, 8, 2)?;
        placer.block_rect((x - 9, y_hi - 1, x + 9, y_lo + 1));
        let (bl, bt) = chart.backend_coord(&(l, b.mean.max(0.0)));
        let (br, bb) = chart.backend_coord(&(r, 0.0));
        placer.block_rect((bl, bt, br, bb));
        labels.push(ValueLabel {
            at: (x, y_hi),
            text: money(b.mean, currency),
            above: true,
        });
        if let Some(cv) = b.cvar {
            // Beside the bar, so the diamond never hides the expected-loss whisker.
            let cx = c + bar_w * 0.25;
            if let Some((lo, hi)) = b.cvar_ci {
                let (x, y_lo) = chart.backend_coord(&(cx, lo.max(0.0)));
                let (_, y_hi) = chart.backend_coord(&(cx, hi));
                draw::error_bar(root, x, y_lo, y_hi, 5, 1)?;
                placer.block_rect((x - 6, y_hi - 1, x + 6, y_lo + 1));
            }
            let p = chart.backend_coord(&(cx, cv));
            draw::draw_marker(root, p, Marker::Diamond, WHITE, 8)?;
            placer.block(p, 9);
            labels.push(ValueLabel {
                at: p,
                text: money(cv, currency),
                above: false,
            });
        }
    }
    Ok((placer, labels))
}

/// The strategy ids under their bars, each fitted to its slot.
fn draw_bar_ids<DB: DrawingBackend>(
    root: &Area<DB>,
    chart: &Chart<'_, DB>,
    bars: &[Bar],
) -> DrawResult<DB> {
    let nb = bars.len().max(1);
    let (px0, px1) = x_extent(chart);
    let slot_w = (px1 - px0) / nb as i32;
    let style = font(TICK_PT + 1);
    for (i, b) in bars.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(
            draw::fit(root, b.id, &style, slot_w - 8),
            (x, y + 8),
            style.pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    Ok(())
}

fn expected_loss_legend() -> Vec<LegendEntry> {
    vec![
        LegendEntry {
            label: "expected loss".into(),
            swatch: Swatch::Fill(series_style(0).color),
        },
        LegendEntry {
            label: "CVaR95".into(),
            swatch: Swatch::Marker(WHITE, Marker::Diamond),
        },
        LegendEntry {
            label: "95% CI".into(),
            swatch: Swatch::Point(TEXT, Marker::Circle),
        },
    ]
}

/// One strategy on the frontier chart: its yearly cost against the expected loss it avoids.
struct FrontierPoint<'a> {
    id: &'a str,
    variant: usize,
    cost: f64,
    has_cost: bool,
    avoided: f64,
    ci: [f64; 2],
}

/// The frontier chart's ranges: yearly cost from 0 to `x_max`, loss avoided from `y_lo` to
/// `y_hi` (a token -1 to 1 when `flat`: nothing avoided anywhere, no trial had a loss).
struct FrontierRanges {
    x_max: f64,
    y_lo: f64,
    y_hi: f64,
    flat: bool,
}

/// A line segment in chart coordinates.
type Segment = ((f64, f64), (f64, f64));

/// Yearly cost of each strategy against the expected loss it avoids (minus the paired change
/// in total expected loss), with 95% intervals, the efficient frontier and the break-even line
/// (loss avoided over the horizon equal to the cost over the horizon).
pub(super) fn frontier<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let pts = frontier_points(s);
    // Both axes over the horizon: break-even is the diagonal.
    let r = frontier_ranges(&pts);
    let mut chart = frontier_axes(&plot, s, &r)?;
    let segments = frontier_lines(&mut chart, &r, s.horizon_days, &pts)?;
    frontier_marks(root, &chart, &pts, segments)?;
    draw::legend(&legend_area, Some("strategy"), &frontier_legend(&pts))?;
    if r.flat {
        draw::note(
            &chart.plotting_area().strip_coord_spec(),
            "No strategy changes the expected loss.",
            AXIS_PT,
        )?;
    }
    let years = match (s.horizon_days, s.discount_rate > 0.0) {
        (365, false) => "one year".to_owned(),
        (d, false) => format!("{d} days"),
        (d, true) => format!("{d} days, discounted"),
    };
    draw::legend_note(
        &legend_area,
        &format!(
            "Whiskers: 95% CI of the paired difference on common random numbers. Break-even: \
             loss avoided equals the cost over {years}; above it a strategy pays for itself in \
             expected value alone."
        ),
    )
}

/// The strategies with a paired difference against the baseline, at their cost over the
/// horizon: what the counted importers pay a year, times the summary's `cost_years`.
fn frontier_points(s: &Summary) -> Vec<FrontierPoint<'_>> {
    let years = s.cost_years;
    s.variants
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, v)| {
            let d = v.total_loss_vs_baseline?;
            Some(FrontierPoint {
                id: &v.id,
                variant: i,
                cost: v.counted_yearly_cost.unwrap_or(0.0) * years,
                has_cost: v.counted_yearly_cost.is_some_and(|c| c > 0.0),
                avoided: -d.mean,
                ci: [-d.high(), -d.low()],
            })
        })
        .collect()
}

fn frontier_ranges(pts: &[FrontierPoint]) -> FrontierRanges {
    let cost_max = pts.iter().map(|p| p.cost).fold(0.0, f64::max);
    let x_max = if cost_max > 0.0 { cost_max * 1.18 } else { 1.0 };
    let y_hi = pts
        .iter()
        .map(|p| p.ci[1].max(p.avoided))
        .fold(0.0, f64::max);
    let y_lo = pts
        .iter()
        .map(|p| p.ci[0].min(p.avoided))
        .fold(0.0, f64::min);
    let flat = !(y_hi - y_lo > 0.0);
    let span = if flat { 1.0 } else { y_hi - y_lo };
    let (y_lo, y_hi) = if flat {
        (-1.0, 1.0)
    } else {
        (y_lo - 0.06 * span, y_hi + 0.1 * span)
    };
    FrontierRanges {
        x_max,
        y_lo,
        y_hi,
        flat,
    }
}

fn frontier_axes<'a, DB: DrawingBackend>(
    plot: &'a Area<DB>,
    s: &Summary,
    r: &FrontierRanges,
) -> Drawn<Chart<'a, DB>, DB> {
    let cur = s.currency.clone();
    let fmt = move |v: &f64| money(*v, &cur);
    let mut chart =
        draw::builder(plot, 30, 100).build_cartesian_2d(0f64..r.x_max, r.y_lo..r.y_hi)?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "cost of the strategy over {} days ({})",
            s.horizon_days, s.currency
        ))
        .y_desc(format!(
            "expected loss avoided over {} days ({})",
            s.horizon_days, s.currency
        ))
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .draw()?;
    Ok(chart)
}

/// The zero line, the break-even line and the efficient frontier. Returns the segments drawn:
/// point labels must not cross them.
fn frontier_lines<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    r: &FrontierRanges,
    horizon_days: u32,
    pts: &[FrontierPoint],
) -> Drawn<Vec<Segment>, DB> {
    let x_max = r.x_max;
    draw::line(chart, vec![(0.0, 0.0), (x_max, 0.0)], REFERENCE, 1, None)?;
    let mut segments: Vec<Segment> = vec![((0.0, 0.0), (x_max, 0.0))];
    // Break-even: loss avoided = cost, both over the horizon.
    if horizon_days > 0 {
        let x_end = x_max.min(r.y_hi);
        let end = (x_end, x_end);
        draw::line(chart, vec![(0.0, 0.0), end], REFERENCE, 2, Some((10, 6)))?;
        segments.push(((0.0, 0.0), end));
    }
    let hull = efficient_frontier(pts);
    if hull.len() > 1 {
        segments.extend(hull.windows(2).map(|w| (w[0], w[1])));
        draw::line(chart, hull, TEXT, 2, None)?;
    }
    Ok(segments)
}

/// The efficient frontier: from doing nothing, each strategy that avoids more than every
/// cheaper one.
fn efficient_frontier(pts: &[FrontierPoint]) -> Vec<(f64, f64)> {
    let mut by_cost: Vec<&FrontierPoint> = pts.iter().collect();
    by_cost.sort_by(|a, b| {
        a.cost
            .total_cmp(&b.cost)
            .then(b.avoided.total_cmp(&a.avoided))
    });
    let mut hull = vec![(0.0, 0.0)];
    let mut best = 0.0;
    for p in by_cost {
        if p.avoided > best {
            best = p.avoided;
            hull.push((p.cost, p.avoided));
        }
    }
    hull
}

/// The origin, then each strategy's whisker, marker and label, the labels clear of the
/// `segments` and of every whisker and marker.
fn frontier_marks<DB: DrawingBackend>(
    root: &Area<DB>,
    chart: &Chart<'_, DB>,
    pts: &[FrontierPoint],
    segments: Vec<Segment>,
) -> DrawResult<DB> {
    let mut placer = plot_placer(chart);
    for (a, b) in segments {
        placer.block_line(chart.backend_coord(&a), chart.backend_coord(&b));
    }
    let origin = chart.backend_coord(&(0.0, 0.0));
    draw::draw_marker(root, origin, Marker::Circle, REFERENCE, 4)?;
    placer.block(origin, 6);
    for p in pts {
        let a = chart.backend_coord(&(p.cost, p.ci[0]));
        let b = chart.backend_coord(&(p.cost, p.ci[1]));
        draw::error_bar(root, a.0, a.1, b.1, 6, 2)?;
        placer.block_rect((a.0 - 7, b.1 - 1, a.0 + 7, a.1 + 1));
    }
    for p in pts {
        let st = series_style(p.variant);
        let c = chart.backend_coord(&(p.cost, p.avoided));
        draw::draw_marker(root, c, st.marker, st.color, 8)?;
        placer.block(c, 9);
    }
    let label_style = font(TICK_PT);
    for p in pts {
        let c = chart.backend_coord(&(p.cost, p.avoided));
        let text = if p.has_cost {
            p.id.to_owned()
        } else {
            format!("{} (no cost)", p.id)
        };
        placer.place(root, c, &text, &label_style)?;
    }
    Ok(())
}

fn frontier_legend(pts: &[FrontierPoint]) -> Vec<LegendEntry> {
    let mut entries: Vec<LegendEntry> = pts
        .iter()
        .map(|p| {
            let st = series_style(p.variant);
            LegendEntry {
                label: p.id.to_owned(),
                swatch: Swatch::Point(st.color, st.marker),
            }
        })
        .collect();
    entries.push(LegendEntry {
        label: "efficient frontier".into(),
        swatch: Swatch::Line {
            color: TEXT,
            width: 2,
            dash: None,
            marker: None,
        },
    });
    entries.push(LegendEntry {
        label: "break-even".into(),
        swatch: Swatch::reference(),
    });
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceedance_is_a_falling_staircase() {
        let pts = exceedance_points(&LossSample::new("v", "i", &[0.0, 0.0, 1.0, 2.0, 2.0, 5.0]));
        assert_eq!(pts[0], (0.0, 4.0 / 6.0));
        assert_eq!(pts.last(), Some(&(5.0, 1.0 / 6.0)));
        assert!(pts.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 <= w[0].1));
        assert!(exceedance_points(&LossSample::new("v", "i", &[0.0, 0.0])).is_empty());
    }

    #[test]
    fn cvar_se_is_a_scaled_mean_when_var_is_zero() {
        // 1000 trials, 10 with loss 100: VaR95 = 0, CVaR95 = mean / 0.05 = 20.
        let mut l = vec![0.0; 990];
        l.extend([100.0; 10]);
        let sd = (l.iter().map(|x| (x - 1.0) * (x - 1.0)).sum::<f64>() / 999.0).sqrt();
        assert!(cvar_se(&mut l[..100], 0.95).is_none());
        let se = cvar_se(&mut l, 0.95).unwrap();
        assert!((se - sd / 1000f64.sqrt() / 0.05).abs() < 1e-9);
    }

    #[test]
    fn totals_add_importers_trial_by_trial() {
        let losses = [
            LossSample::new("baseline", "a", &[1.0, 0.0, 2.0]),
            LossSample::new("baseline", "b", &[0.5, 3.0, 0.0]),
            LossSample::new("other", "a", &[9.0, 9.0, 9.0]),
        ];
        let both = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            total_per_trial(&losses, "baseline", &both),
            vec![1.5, 3.0, 2.0]
        );
        // Only the importers the totals count.
        assert_eq!(
            total_per_trial(&losses, "baseline", &both[1..]),
            vec![0.5, 3.0, 0.0]
        );
        assert!(total_per_trial(&losses, "none", &both).is_empty());
    }
}
