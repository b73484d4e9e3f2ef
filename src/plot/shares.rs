//! Sourcing shares by supplier region: stacked horizontal bars, one per variant.

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, font};
use super::{
    Area, ChartInfo, DrawResult, LegendEntry, Regions, Swatch, AXIS_PT, GRID, TEXT, TICK_PT,
};
use crate::format::percent;
use crate::report::SourcingShares;

/// Region colours, largest regions first. The first six differ by at least 7 in CIE L* (in the
/// comments) so they stay apart in a greyscale print; segments also carry their region and share
/// as text, and a white gap separates them.
pub(crate) const REGIONS: [RGBColor; 10] = [
    RGBColor(0x1f, 0x4e, 0x9c), // dark blue, L* 34
    RGBColor(0xe6, 0x9f, 0x00), // orange, 71
    RGBColor(0x1b, 0x78, 0x37), // green, 44
    RGBColor(0xb2, 0xdf, 0x8a), // light green, 84
    RGBColor(0xd5, 0x5e, 0x00), // vermillion, 54
    RGBColor(0xcc, 0x79, 0xa7), // pink, 61
    RGBColor(0xa6, 0xce, 0xe3), // light blue, 81
    RGBColor(0x76, 0x2a, 0x83), // purple, 32
    RGBColor(0x56, 0xb4, 0xe9), // sky blue, 70
    RGBColor(0x8c, 0x51, 0x0a), // brown, 40
];

fn region_colour(i: usize) -> RGBColor {
    REGIONS[i % REGIONS.len()]
}

/// Whether white text reads better than dark text on `c` (relative luminance below 0.18, about L* 50).
fn is_dark(c: RGBColor) -> bool {
    let lin = |v: u8| {
        let v = v as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.0) + 0.7152 * lin(c.1) + 0.0722 * lin(c.2) < 0.18
}

/// Contracted supply of one importer and material by supplier region: a stacked bar per variant
/// (baseline on top), segments in a fixed region order and colour.
pub(super) fn sourcing<DB: DrawingBackend>(
    root: &Area<DB>,
    info: &ChartInfo,
    shares: &[&SourcingShares],
    regions: &Regions,
) -> DrawResult<DB> {
    let body = draw::title(root, &info.title, &info.subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let nb = shares.len().max(1);
    let total_max = shares
        .iter()
        .map(|x| x.shares.iter().map(|r| r.1).sum::<f64>())
        .fold(1.0, f64::max);
    // Variant ids sit left of the bars: size the label area to the longest.
    let label_style = font(TICK_PT + 1);
    let longest = shares
        .iter()
        .map(|x| draw::text_width(root, &x.variant, &label_style))
        .max()
        .unwrap_or(0)
        .clamp(60, 260);
    let mut chart = ChartBuilder::on(&plot)
        .margin_left(10)
        .margin_right(30)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(longest + 20)
        .build_cartesian_2d(0f64..total_max, 0f64..nb as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .disable_y_axis()
        .x_desc("share of contracted supply")
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| percent(*v))
        .draw()?;
    let mut used: Vec<usize> = Vec::new();
    let seg_style = font(TICK_PT);
    // Bars at most 56 pixels thick, however few there are.
    let slot_px = (chart.backend_coord(&(0.0, 0.0)).1 - chart.backend_coord(&(0.0, 1.0)).1).max(1);
    let half = 0.3f64.min(28.0 / slot_px as f64);
    for (k, x) in shares.iter().enumerate() {
        let y_mid = nb as f64 - k as f64 - 0.5;
        let (y0, y1) = (y_mid - half, y_mid + half);
        let mut segs: Vec<(&str, f64, usize)> = x
            .shares
            .iter()
            .map(|(r, v)| {
                (
                    r.as_str(),
                    *v,
                    regions.colours.get(r).copied().unwrap_or(usize::MAX),
                )
            })
            .collect();
        segs.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.cmp(b.0)));
        let mut acc = 0.0;
        for (r, v, ci) in segs {
            if !(v > 0.0) {
                continue;
            }
            let color = if ci == usize::MAX {
                GRID
            } else {
                region_colour(ci)
            };
            if ci != usize::MAX && !used.contains(&ci) {
                used.push(ci);
            }
            chart.draw_series(std::iter::once(Rectangle::new(
                [(acc, y0), (acc + v, y1)],
                color.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(acc, y0), (acc + v, y1)],
                WHITE.stroke_width(2),
            )))?;
            let (l, yc) = chart.backend_coord(&(acc, y_mid));
            let (r_px, _) = chart.backend_coord(&(acc + v, y_mid));
            let room = r_px - l - 8;
            // The region's name with its share where it fits, else its id, else less.
            let name = regions.name(r);
            let text = [
                format!("{name} {}", percent(v)),
                format!("{r} {}", percent(v)),
                percent(v),
                r.to_owned(),
            ]
            .into_iter()
            .find(|t| draw::text_width(root, t, &seg_style) <= room);
            if let Some(t) = text {
                let c = if is_dark(color) { WHITE } else { TEXT };
                root.draw(&Text::new(
                    t,
                    ((l + r_px) / 2, yc),
                    seg_style
                        .clone()
                        .color(&c)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))?;
            }
            acc += v;
        }
        let (x_px, y_px) = chart.backend_coord(&(0.0, y_mid));
        root.draw(&Text::new(
            draw::fit(root, &x.variant, &label_style, longest),
            (x_px - 10, y_px),
            label_style.clone().pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }
    used.sort_unstable();
    let by_index: BTreeMap<usize, &str> = regions
        .colours
        .iter()
        .map(|(r, &i)| (i, regions.name(r)))
        .collect();
    let entries: Vec<LegendEntry> = used
        .iter()
        .map(|i| LegendEntry {
            label: by_index.get(i).copied().unwrap_or("?").to_owned(),
            swatch: Swatch::Fill(region_colour(*i)),
        })
        .collect();
    draw::legend(&legend_area, Some("supplier region"), &entries)?;
    Ok(())
}
