//! Fill over time: the baseline fan chart and the strategies overlaid.

use plotters::prelude::*;

use super::draw::{self, font};
use super::{
    series_style, Area, ChartInfo, DrawResult, LegendEntry, Swatch, AXIS_PT, BAND_INNER,
    BAND_OUTER, GRID, MEAN, MEDIAN, REFERENCE, TICK_PT,
};
use crate::report::{CurveSet, Summary};

const FILL_DESC: &str = "fill (share of demand met)";

/// Resilience fan of one importer and material under the baseline: P5-P95 and P25-P75 bands,
/// median and mean lines, and the shock-free reference at 1.
pub(super) fn fan<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    c: &CurveSet,
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let x_max = x_max(&c.day);
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(20)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..x_max, 0f64..1.05)?;
    chart
        .configure_mesh()
        .x_desc("day")
        .y_desc(FILL_DESC)
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()?;
    let band = |upper: &[f64], lower: &[f64]| -> Vec<(f64, f64)> {
        let up = c.day.iter().zip(upper).map(|(&d, &v)| (d, v));
        let down = c.day.iter().zip(lower).rev().map(|(&d, &v)| (d, v));
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
    draw::line(
        &mut chart,
        vec![(0.0, 1.0), (x_max, 1.0)],
        REFERENCE,
        2,
        Some((10, 6)),
    )?;
    draw::line(&mut chart, points(&c.day, &c.p50), MEDIAN, 3, None)?;
    draw::line(&mut chart, points(&c.day, &c.mean), MEAN, 2, Some((14, 6)))?;
    draw::legend(
        &legend_area,
        Some("across trials"),
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
                label: "no shock (1.0)".into(),
                swatch: Swatch::Line {
                    color: REFERENCE,
                    width: 2,
                    dash: Some((10, 6)),
                    marker: None,
                },
            },
        ],
    )
}

/// Mean fill of every variant for one importer and material, on one chart. The y axis zooms in
/// when every curve stays high, so small dips stay visible.
pub(super) fn strategies<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    s: &Summary,
    curves: &[&CurveSet],
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let x_max = curves.iter().map(|c| x_max(&c.day)).fold(1.0, f64::max);
    let min = curves
        .iter()
        .flat_map(|c| c.mean.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0, f64::min);
    let lo = zoom_floor(min);
    let hi = 1.0 + (1.0 - lo) * 0.04;
    let decimals = match 1.0 - lo {
        s if s >= 0.5 => 1,
        s if s >= 0.05 => 2,
        s if s >= 0.005 => 3,
        _ => 4,
    };
    let y_fmt = move |v: &f64| format!("{v:.decimals$}");
    let y_desc = if lo > 0.0 {
        format!("mean {FILL_DESC}, axis from {}", y_fmt(&lo))
    } else {
        format!("mean {FILL_DESC}")
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(20)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..x_max, lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("day")
        .y_desc(y_desc)
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&y_fmt)
        .draw()?;
    draw::line(
        &mut chart,
        vec![(0.0, 1.0), (x_max, 1.0)],
        REFERENCE,
        2,
        Some((10, 6)),
    )?;
    let mut entries = Vec::new();
    let n = curves.len();
    for (k, c) in curves.iter().enumerate() {
        let v = s
            .variants
            .iter()
            .position(|v| v.id == c.variant)
            .unwrap_or(k);
        let st = series_style(v);
        let pts = points(&c.day, &c.mean);
        draw::line(&mut chart, pts.clone(), st.color, 3, st.dash)?;
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
        label: "no shock (1.0)".into(),
        swatch: Swatch::Line {
            color: REFERENCE,
            width: 2,
            dash: Some((10, 6)),
            marker: None,
        },
    });
    draw::legend(&legend_area, Some("strategy"), &entries)
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

/// The bottom of a fill axis that shows the dip below 1 at a readable scale.
fn zoom_floor(min: f64) -> f64 {
    const FLOORS: [f64; 9] = [0.999, 0.998, 0.995, 0.99, 0.98, 0.95, 0.9, 0.8, 0.5];
    let want = min - 0.1 * (1.0 - min).max(0.0005);
    FLOORS.iter().copied().find(|&f| f <= want).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::zoom_floor;

    #[test]
    fn zoom_keeps_the_dip_in_view() {
        assert_eq!(zoom_floor(1.0), 0.999);
        assert_eq!(zoom_floor(0.9995), 0.998);
        assert_eq!(zoom_floor(0.97), 0.95);
        assert_eq!(zoom_floor(0.6), 0.5);
        assert_eq!(zoom_floor(0.3), 0.0);
    }
}
