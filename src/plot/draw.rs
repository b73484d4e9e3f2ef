//! Drawing helpers shared by the charts: title, legend panel, markers, dashed lines, text.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Area, DrawResult, LegendEntry, Marker, Swatch, FONT, LEGEND_PT, LEGEND_W, TEXT, TITLE_PT,
};

pub(super) fn font<'a>(pt: u32) -> TextStyle<'a> {
    TextStyle::from((FONT, pt).into_font()).color(&TEXT)
}

pub(super) fn bold<'a>(pt: u32) -> TextStyle<'a> {
    TextStyle::from((FONT, pt, FontStyle::Bold).into_font()).color(&TEXT)
}

/// Width in pixels of `text` drawn in `style` (0 if it cannot be measured).
pub(super) fn text_width<DB: DrawingBackend>(
    area: &Area<DB>,
    text: &str,
    style: &TextStyle,
) -> i32 {
    area.estimate_text_size(text, style)
        .map_or(0, |(w, _)| w as i32)
}

/// `text`, cut short with an ellipsis so that it fits in `max_w` pixels.
pub(super) fn fit<DB: DrawingBackend>(
    area: &Area<DB>,
    text: &str,
    style: &TextStyle,
    max_w: i32,
) -> String {
    if text_width(area, text, style) <= max_w {
        return text.to_owned();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let s: String = chars.iter().collect::<String>().trim_end().to_owned() + "…";
        if text_width(area, &s, style) <= max_w {
            return s;
        }
    }
    "…".to_owned()
}

/// Draw the chart title across the top (shrinking the font if it is too wide); returns the area
/// below it.
pub(super) fn title<DB: DrawingBackend>(
    root: &Area<DB>,
    text: &str,
) -> Result<Area<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, _) = root.dim_in_pixel();
    let max_w = w as i32 - 40;
    let mut pt = TITLE_PT;
    while pt > 14 && text_width(root, text, &bold(pt)) > max_w {
        pt -= 1;
    }
    let style = bold(pt);
    let text = fit(root, text, &style, max_w);
    root.draw(&Text::new(
        text,
        (w as i32 / 2, 14),
        style.pos(Pos::new(HPos::Center, VPos::Top)),
    ))?;
    Ok(root.margin(14 + TITLE_PT as i32 + 12, 0, 0, 0))
}

/// Split off the legend panel at the right.
pub(super) fn split_legend<DB: DrawingBackend>(area: &Area<DB>) -> (Area<DB>, Area<DB>) {
    let (w, _) = area.dim_in_pixel();
    area.split_horizontally(w.saturating_sub(LEGEND_W))
}

/// A legend panel: an optional heading, then one row per entry (swatch, label).
pub(super) fn legend<DB: DrawingBackend>(
    area: &Area<DB>,
    heading: Option<&str>,
    entries: &[LegendEntry],
) -> DrawResult<DB> {
    let row = 30;
    let mut y = 30;
    let (w, _) = area.dim_in_pixel();
    let label_x = 56;
    let max_w = w as i32 - label_x - 8;
    if let Some(h) = heading {
        let style = bold(LEGEND_PT);
        area.draw(&Text::new(
            fit(area, h, &style, w as i32 - 16),
            (8, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        y += row;
    }
    for e in entries {
        let (x0, x1) = (8, 48);
        match &e.swatch {
            Swatch::Fill(c) => {
                area.draw(&Rectangle::new([(x0, y - 9), (x1, y + 9)], c.filled()))?;
                area.draw(&Rectangle::new(
                    [(x0, y - 9), (x1, y + 9)],
                    BLACK.stroke_width(1),
                ))?;
            }
            Swatch::Line {
                color,
                width,
                dash,
                marker,
            } => {
                let style = color.stroke_width(*width);
                let pts = vec![(x0, y), (x1, y)];
                match dash {
                    None => area.draw(&PathElement::new(pts, style))?,
                    Some((on, off)) => area.draw(&plotters::element::DashedPathElement::new(
                        pts.into_iter(),
                        *on,
                        *off,
                        style,
                    ))?,
                }
                if let Some(m) = marker {
                    draw_marker(area, ((x0 + x1) / 2, y), *m, *color, 6)?;
                }
            }
            Swatch::Point(c, m) => {
                area.draw(&PathElement::new(
                    vec![((x0 + x1) / 2, y - 11), ((x0 + x1) / 2, y + 11)],
                    BLACK.stroke_width(1),
                ))?;
                draw_marker(area, ((x0 + x1) / 2, y), *m, *c, 7)?;
            }
        }
        let style = font(LEGEND_PT);
        area.draw(&Text::new(
            fit(area, &e.label, &style, max_w),
            (label_x, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        y += row;
    }
    Ok(())
}

/// A marker of size `r` (pixels, about the half-width) at pixel `c`, filled with `color` and
/// outlined in black so light colours still show.
pub(super) fn draw_marker<DB: DrawingBackend>(
    area: &Area<DB>,
    c: (i32, i32),
    m: Marker,
    color: RGBColor,
    r: i32,
) -> DrawResult<DB> {
    let (x, y) = c;
    let fill = color.filled();
    let edge = BLACK.stroke_width(1);
    match m {
        Marker::Circle => {
            area.draw(&Circle::new(c, r, fill))?;
            area.draw(&Circle::new(c, r, edge))?;
        }
        Marker::Square => {
            let r = r - 1;
            area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], fill))?;
            area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], edge))?;
        }
        Marker::Triangle => {
            let pts = vec![(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)];
            area.draw(&Polygon::new(pts.clone(), fill))?;
            area.draw(&PathElement::new(
                pts.iter()
                    .copied()
                    .chain(std::iter::once(pts[0]))
                    .collect::<Vec<_>>(),
                edge,
            ))?;
        }
        Marker::Diamond => {
            let r = r + 1;
            let pts = vec![(x, y - r), (x + r, y), (x, y + r), (x - r, y)];
            area.draw(&Polygon::new(pts.clone(), fill))?;
            area.draw(&PathElement::new(
                pts.iter()
                    .copied()
                    .chain(std::iter::once(pts[0]))
                    .collect::<Vec<_>>(),
                edge,
            ))?;
        }
        Marker::Cross => {
            let t = (r / 3).max(2);
            // A plus sign as one polygon, so it can be filled and outlined.
            let pts = vec![
                (x - t, y - r),
                (x + t, y - r),
                (x + t, y - t),
                (x + r, y - t),
                (x + r, y + t),
                (x + t, y + t),
                (x + t, y + r),
                (x - t, y + r),
                (x - t, y + t),
                (x - r, y + t),
                (x - r, y - t),
                (x - t, y - t),
            ];
            area.draw(&Polygon::new(pts.clone(), fill))?;
            area.draw(&PathElement::new(
                pts.iter()
                    .copied()
                    .chain(std::iter::once(pts[0]))
                    .collect::<Vec<_>>(),
                edge,
            ))?;
        }
    }
    Ok(())
}

/// A solid or dashed line through `pts` (chart coordinates).
pub(super) fn line<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    pts: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    dash: Option<(u32, u32)>,
) -> DrawResult<DB> {
    let style = color.stroke_width(width);
    match dash {
        None => {
            chart.draw_series(LineSeries::new(pts, style))?;
        }
        Some((on, off)) => {
            chart.draw_series(DashedLineSeries::new(pts, on, off, style))?;
        }
    }
    Ok(())
}

/// A note centred in `area` (e.g. "no trial had a loss").
pub(super) fn note<DB: DrawingBackend>(area: &Area<DB>, text: &str, pt: u32) -> DrawResult<DB> {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        text.to_owned(),
        (w as i32 / 2, h as i32 / 2),
        font(pt).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
}
