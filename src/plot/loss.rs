//! Loss charts: exceedance curves, CVaR bars, and cost against risk reduction.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, font};
use super::format::{money, percent};
use super::{
    series_style, Area, ChartInfo, DrawResult, LegendEntry, Marker, Swatch, AXIS_PT, GRID, NOTE_PT,
    REFERENCE, TICK_PT,
};
use crate::report::{LossSample, Summary, VariantSummary};

/// Exceedance curves P(loss > x) of one importer, one per variant, on a log probability axis.
pub(super) fn exceedance<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
    samples: &[&LossSample],
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let n_max = samples
        .iter()
        .map(|l| l.losses.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let loss_max = samples
        .iter()
        .flat_map(|l| l.losses.iter().copied())
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    let x_max = if loss_max > 0.0 { loss_max * 1.03 } else { 1.0 };
    let y_lo = 0.5 / n_max as f64;
    let cur = s.currency.clone();
    let x_fmt = move |v: &f64| money(*v, &cur);
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..x_max, (y_lo..1.0).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "loss over {} days ({})",
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
    let n = samples.len();
    let mut entries = Vec::new();
    let mut any = false;
    for (k, l) in samples.iter().enumerate() {
        let v = s
            .variants
            .iter()
            .position(|v| v.id == l.variant)
            .unwrap_or(k);
        let st = series_style(v);
        let mut pts = exceedance_points(&l.losses);
        entries.push(LegendEntry {
            label: l.variant.clone(),
            swatch: Swatch::series(st),
        });
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
    if !any {
        draw::note(
            &chart.plotting_area().strip_coord_spec(),
            "no trial had a loss",
            NOTE_PT + 5,
        )?;
    }
    draw::legend(&legend_area, Some("strategy"), &entries)
}

/// The empirical exceedance curve P(L > x) as a staircase from x = 0 to the largest loss, with
/// steps narrower than a pixel merged unless they move the curve visibly on a log axis.
fn exceedance_points(losses: &[f64]) -> Vec<(f64, f64)> {
    let n = losses.len() as f64;
    let mut v: Vec<f64> = losses
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .collect();
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_by(f64::total_cmp);
    let x_max = v[v.len() - 1];
    let min_dx = x_max / 1500.0;
    let mut p = v.len() as f64 / n;
    let mut pts = vec![(0.0, p)];
    let (mut last_x, mut last_p) = (0.0, p);
    let mut i = 0;
    while i < v.len() {
        let u = v[i];
        let mut j = i;
        while j < v.len() && v[j] == u {
            j += 1;
        }
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

/// Standard error of the CVaR estimate at level `a` from a sample, by the normal approximation:
/// CVaR = VaR + E[(L - VaR)+] / (1 - a) is, to first order, a sample mean of
/// (L - VaR)+ / (1 - a) (the VaR term is stationary: its estimation error enters at second
/// order; Manistre and Hancock 2005, Hong, Hu and Liu 2014), so its variance is
/// Var[(L - VaR)+] / ((1 - a)^2 n). Needs a tail of at least 20 trials; `None` otherwise.
pub(super) fn cvar_se(losses: &[f64], a: f64) -> Option<f64> {
    let n = losses.len();
    if (n as f64) * (1.0 - a) < 20.0 {
        return None;
    }
    let mut v = losses.to_vec();
    let (var, _) = crate::stats::var_cvar(&mut v, a);
    let excess = v.iter().map(|&x| (x - var).max(0.0));
    let mean = excess.clone().sum::<f64>() / n as f64;
    let ss: f64 = excess.map(|e| (e - mean) * (e - mean)).sum();
    let sd = (ss / (n - 1) as f64).sqrt();
    Some(sd / (n as f64).sqrt() / (1.0 - a))
}

/// CVaR95 bars per importer and variant with 95% intervals (normal approximation, see
/// [`cvar_se`]), and the expected loss with its 95% interval as a marker on each bar.
pub(super) fn cvar<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
    losses: &[LossSample],
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let importers: Vec<&str> = s.variants[0]
        .importers
        .iter()
        .map(|i| i.importer.as_str())
        .collect();
    struct Bar {
        group: usize,
        variant: usize,
        cvar: f64,
        cvar_ci: Option<(f64, f64)>,
        mean: f64,
        mean_ci: (f64, f64),
    }
    let mut bars = Vec::new();
    for (vi, v) in s.variants.iter().enumerate() {
        for im in &v.importers {
            let Some(g) = importers.iter().position(|&i| i == im.importer) else {
                continue;
            };
            let sample = losses
                .iter()
                .find(|l| l.variant == v.id && l.importer == im.importer);
            let cvar_ci = sample
                .and_then(|l| cvar_se(&l.losses, 0.95))
                .map(|se| (im.loss_cvar95 - 1.96 * se, im.loss_cvar95 + 1.96 * se));
            let (m, se) = (im.loss_value.mean, im.loss_value.se);
            bars.push(Bar {
                group: g,
                variant: vi,
                cvar: im.loss_cvar95,
                cvar_ci,
                mean: m,
                mean_ci: (m - 1.96 * se, m + 1.96 * se),
            });
        }
    }
    let top = bars
        .iter()
        .map(|b| b.cvar.max(b.cvar_ci.map_or(0.0, |c| c.1)).max(b.mean_ci.1))
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    let y_max = if top > 0.0 { top * 1.1 } else { 1.0 };
    let groups = importers.len().max(1);
    let cur = s.currency.clone();
    let y_fmt = move |v: &f64| money(*v, &cur);
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(20)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..groups as f64, 0f64..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups + 1)
        .x_label_formatter(&|_| String::new())
        .y_desc(format!(
            "loss over {} days ({})",
            s.horizon_days, s.currency
        ))
        .x_desc("importer")
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&y_fmt)
        .draw()?;
    let nv = s.variants.len().max(1) as f64;
    let bw = 0.8 / nv;
    let edge = BLACK.stroke_width(1);
    for b in &bars {
        let x0 = b.group as f64 + 0.1 + b.variant as f64 * bw;
        let (l, r) = (x0 + 0.08 * bw, x0 + 0.92 * bw);
        let c = (x0 + x0 + bw) / 2.0;
        let color = series_style(b.variant).color;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(l, 0.0), (r, b.cvar)],
            color.filled(),
        )))?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(l, 0.0), (r, b.cvar)],
            edge,
        )))?;
        if let Some((lo, hi)) = b.cvar_ci {
            let cap = 0.25 * bw;
            let st = BLACK.stroke_width(2);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(c, lo.max(0.0)), (c, hi)],
                st,
            )))?;
            for y in [lo.max(0.0), hi] {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(c - cap, y), (c + cap, y)],
                    st,
                )))?;
            }
        }
        let (lo, hi) = b.mean_ci;
        let st = BLACK.stroke_width(1);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(c, lo.max(0.0)), (c, hi)],
            st,
        )))?;
        let px = chart.backend_coord(&(c, b.mean));
        draw::draw_marker(root, px, Marker::Diamond, WHITE, 6)?;
    }
    // Importer names under their groups.
    for (g, imp) in importers.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
        let style = font(TICK_PT + 2);
        let max_w = (plot.dim_in_pixel().0 as i32 - 100) / groups as i32;
        root.draw(&Text::new(
            draw::fit(root, &super::format::display_id(imp), &style, max_w),
            (x, y + 10),
            style.pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
    }
    let mut entries: Vec<LegendEntry> = s
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| LegendEntry {
            label: v.id.clone(),
            swatch: Swatch::Fill(series_style(i).color),
        })
        .collect();
    entries.push(LegendEntry {
        label: "expected loss".into(),
        swatch: Swatch::Point(WHITE, Marker::Diamond),
    });
    draw::legend(&legend_area, Some("CVaR95 by strategy"), &entries)?;
    let note_style = font(NOTE_PT);
    let (_, h) = legend_area.dim_in_pixel();
    for (i, line) in [
        "Whiskers: 95% intervals;",
        "CVaR95 by the normal",
        "approximation of its",
        "influence function.",
    ]
    .iter()
    .enumerate()
    {
        legend_area.draw(&Text::new(
            line.to_string(),
            (8, h as i32 - 110 + 20 * i as i32),
            note_style.clone(),
        ))?;
    }
    Ok(())
}

/// Expected loss avoided by a strategy, summed over importers: −Σ Δ E[loss] from the paired
/// differences, with a conservative 95% interval (the half-widths add, which bounds the interval
/// of the sum whatever the correlation between importers).
#[derive(Debug, Clone, Copy)]
pub struct Reduction {
    pub mean: f64,
    pub ci95: [f64; 2],
}

/// The [`Reduction`] of a strategy; `None` for the baseline (no paired differences).
pub fn loss_reduction(v: &VariantSummary) -> Option<Reduction> {
    let mut mean = 0.0;
    let mut half = 0.0;
    for im in &v.importers {
        let d = im
            .vs_baseline
            .as_ref()?
            .iter()
            .find(|(name, _)| name == "loss_value")?
            .1;
        mean -= d.mean;
        half += (d.ci95[1] - d.ci95[0]) / 2.0;
    }
    Some(Reduction {
        mean,
        ci95: [mean - half, mean + half],
    })
}

/// Yearly cost of each strategy against the expected loss it avoids, with 95% intervals and the
/// break-even line (loss avoided equal to the cost over the horizon).
pub(super) fn frontier<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title)?;
    let (plot, legend_area) = draw::split_legend(&body);
    struct Point<'a> {
        id: &'a str,
        variant: usize,
        cost: f64,
        red: Reduction,
    }
    let pts: Vec<Point> = s
        .variants
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(i, v)| {
            Some(Point {
                id: &v.id,
                variant: i,
                cost: v.yearly_cost.as_ref().map_or(0.0, |c| c.total),
                red: loss_reduction(v)?,
            })
        })
        .collect();
    let horizon_years = s.horizon_days as f64 / 365.0;
    let cost_max = pts.iter().map(|p| p.cost).fold(0.0, f64::max);
    let x_max = if cost_max > 0.0 { cost_max * 1.3 } else { 1.0 };
    let y_hi = pts
        .iter()
        .map(|p| p.red.ci95[1].max(p.red.mean))
        .fold(0.0, f64::max);
    let y_lo = pts
        .iter()
        .map(|p| p.red.ci95[0].min(p.red.mean))
        .fold(0.0, f64::min);
    let span = if y_hi - y_lo > 0.0 { y_hi - y_lo } else { 1.0 };
    let (y_lo, y_hi) = (y_lo - 0.08 * span, y_hi + 0.12 * span);
    let cur = s.currency.clone();
    let fmt = move |v: &f64| money(*v, &cur);
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(100)
        .build_cartesian_2d(0f64..x_max, y_lo..y_hi)?;
    chart
        .configure_mesh()
        .x_desc(format!("yearly cost of the strategy ({})", s.currency))
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
    draw::line(
        &mut chart,
        vec![(0.0, 0.0), (x_max, 0.0)],
        REFERENCE,
        1,
        None,
    )?;
    // Break-even: y = cost * horizon / 1 year, clipped to the plot.
    if horizon_years > 0.0 {
        let x_end = x_max.min(y_hi / horizon_years);
        draw::line(
            &mut chart,
            vec![(0.0, 0.0), (x_end, x_end * horizon_years)],
            REFERENCE,
            2,
            Some((10, 6)),
        )?;
    }
    let mut placed: Vec<(i32, i32, i32, i32)> = Vec::new();
    let label_style = font(TICK_PT);
    let (px0, py0) = chart.backend_coord(&(0.0, y_hi));
    let (px1, py1) = chart.backend_coord(&(x_max, y_lo));
    let mut draw_point =
        |id: &str, variant: usize, x: f64, y: f64, ci: Option<[f64; 2]>| -> DrawResult<DB> {
            let st = series_style(variant);
            if let Some([lo, hi]) = ci {
                let a = chart.backend_coord(&(x, lo));
                let b = chart.backend_coord(&(x, hi));
                root.draw(&PathElement::new(vec![a, b], BLACK.stroke_width(2)))?;
                for yy in [a.1, b.1] {
                    root.draw(&PathElement::new(
                        vec![(a.0 - 6, yy), (a.0 + 6, yy)],
                        BLACK.stroke_width(2),
                    ))?;
                }
            }
            let c = chart.backend_coord(&(x, y));
            draw::draw_marker(root, c, st.marker, st.color, 8)?;
            placed.push((c.0 - 9, c.1 - 9, c.0 + 9, c.1 + 9));
            let w = draw::text_width(root, id, &label_style);
            let h = TICK_PT as i32 + 2;
            let tries = [
                (12, -h - 4),
                (12, 4),
                (-12 - w, -h - 4),
                (-12 - w, 4),
                (12, -h / 2),
                (-12 - w, -h / 2),
            ];
            let overlaps = |r: (i32, i32, i32, i32), o: &(i32, i32, i32, i32)| {
                r.0 < o.2 && o.0 < r.2 && r.1 < o.3 && o.1 < r.3
            };
            let inside =
                |r: (i32, i32, i32, i32)| r.0 >= px0 && r.2 <= px1 && r.1 >= py0 && r.3 <= py1;
            let rect_at = |(dx, dy): (i32, i32)| (c.0 + dx, c.1 + dy, c.0 + dx + w, c.1 + dy + h);
            let pick = tries
                .iter()
                .map(|&t| rect_at(t))
                .find(|r| inside(*r) && !placed.iter().any(|o| overlaps(*r, o)))
                .unwrap_or_else(|| rect_at(tries[0]));
            placed.push(pick);
            root.draw(&Text::new(
                id.to_owned(),
                (pick.0, pick.1),
                label_style.clone().pos(Pos::new(HPos::Left, VPos::Top)),
            ))
        };
    draw_point(&s.variants[0].id, 0, 0.0, 0.0, None)?;
    for p in &pts {
        draw_point(p.id, p.variant, p.cost, p.red.mean, Some(p.red.ci95))?;
    }
    let mut entries: Vec<LegendEntry> = std::iter::once((0, s.variants[0].id.as_str()))
        .chain(pts.iter().map(|p| (p.variant, p.id)))
        .map(|(i, id)| {
            let st = series_style(i);
            LegendEntry {
                label: id.to_owned(),
                swatch: Swatch::Point(st.color, st.marker),
            }
        })
        .collect();
    entries.push(LegendEntry {
        label: "break-even".into(),
        swatch: Swatch::Line {
            color: REFERENCE,
            width: 2,
            dash: Some((10, 6)),
            marker: None,
        },
    });
    draw::legend(&legend_area, Some("strategy"), &entries)?;
    let note_style = font(NOTE_PT);
    let (_, h) = legend_area.dim_in_pixel();
    let years = if s.horizon_days == 365 {
        "a year".to_owned()
    } else {
        format!("{} days", s.horizon_days)
    };
    for (i, line) in [
        "Whiskers: 95% intervals of".to_owned(),
        "paired differences, summed".to_owned(),
        "over importers (conservative).".to_owned(),
        "Break-even: loss avoided".to_owned(),
        format!("= cost over {years}."),
    ]
    .iter()
    .enumerate()
    {
        legend_area.draw(&Text::new(
            line.clone(),
            (8, h as i32 - 130 + 20 * i as i32),
            note_style.clone(),
        ))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exceedance_is_a_falling_staircase() {
        let pts = exceedance_points(&[0.0, 0.0, 1.0, 2.0, 2.0, 5.0]);
        assert_eq!(pts[0], (0.0, 4.0 / 6.0));
        assert_eq!(pts.last(), Some(&(5.0, 1.0 / 6.0)));
        assert!(pts.windows(2).all(|w| w[1].0 >= w[0].0 && w[1].1 <= w[0].1));
        assert!(exceedance_points(&[0.0, 0.0]).is_empty());
    }

    #[test]
    fn cvar_se_is_a_scaled_mean_when_var_is_zero() {
        // 1000 trials, 10 with loss 100: VaR95 = 0, CVaR95 = mean / 0.05 = 20.
        let mut l = vec![0.0; 990];
        l.extend([100.0; 10]);
        let se = cvar_se(&l, 0.95).unwrap();
        let sd = (l.iter().map(|x| (x - 1.0) * (x - 1.0)).sum::<f64>() / 999.0).sqrt();
        assert!((se - sd / 1000f64.sqrt() / 0.05).abs() < 1e-9);
        assert!(cvar_se(&l[..100], 0.95).is_none());
    }
}
