//! Drawing helpers shared by the charts: title, legend panel, markers, dashed lines, notes, label
//! placement and axis formats.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Area, DrawResult, LegendEntry, Marker, Swatch, FONT, LEGEND_PT, LEGEND_W, NOTE_PT, SUBTITLE_PT,
    SUBTLE, TEXT, TITLE_PT,
};

/// A chart builder with the margins the plots share: 10 px left, 6 at the top, 10 at the
/// bottom and 60 px of x labels; `right` px on the right and `y_labels` px of y labels.
pub(super) fn builder<'a, 'b, DB: DrawingBackend>(
    area: &'a Area<DB>,
    right: u32,
    y_labels: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin_left(10)
        .margin_right(right)
        .margin_top(6)
        .margin_bottom(10)
        .x_label_area_size(60)
        .y_label_area_size(y_labels);
    b
}

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

/// The largest size from `pt` down to `min_pt` at which `text` fits in `max_w` pixels.
fn shrink_to_fit<DB: DrawingBackend>(
    area: &Area<DB>,
    text: &str,
    pt: u32,
    min_pt: u32,
    max_w: i32,
    style: impl Fn(u32) -> TextStyle<'static>,
) -> u32 {
    let mut pt = pt;
    while pt > min_pt && text_width(area, text, &style(pt)) > max_w {
        pt -= 1;
    }
    pt
}

/// The smallest a title shrinks to on one line before it takes two.
const TITLE_MIN_PT: u32 = 19;

/// Draw the chart title across the top, and under it the subtitle in a smaller grey font
/// (each shrinking its font if it is too wide, the title taking two lines if that is not
/// enough); returns the area below them.
pub(super) fn title<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    subtitle: &str,
) -> Result<Area<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let (w, _) = root.dim_in_pixel();
    let max_w = w as i32 - 40;
    // One line, smaller if need be; a title too long for that (long names) takes two lines.
    let pt = shrink_to_fit(root, title, TITLE_PT, TITLE_MIN_PT, max_w, bold);
    let style = bold(pt);
    let mut y = 12;
    if text_width(root, title, &style) <= max_w {
        root.draw(&Text::new(
            title.to_owned(),
            (w as i32 / 2, y),
            style.pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        y += TITLE_PT as i32 + 6;
    } else {
        let mut lines = wrap(root, title, &style, max_w);
        if lines.len() > 2 {
            let rest = lines.split_off(1).join(" ");
            lines.push(rest);
        }
        for line in &lines {
            root.draw(&Text::new(
                fit(root, line, &style, max_w),
                (w as i32 / 2, y),
                style.clone().pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
            y += pt as i32 + 5;
        }
        y += 1;
    }
    if !subtitle.is_empty() {
        let grey = |pt| font(pt).color(&SUBTLE);
        let pt = shrink_to_fit(root, subtitle, SUBTITLE_PT, 12, max_w, grey);
        let style = grey(pt);
        root.draw(&Text::new(
            fit(root, subtitle, &style, max_w),
            (w as i32 / 2, y),
            style.pos(Pos::new(HPos::Center, VPos::Top)),
        ))?;
        y += SUBTITLE_PT as i32 + 8;
    }
    Ok(root.margin(y + 6, 0, 0, 0))
}

/// Split off the legend panel at the right.
pub(super) fn split_legend<DB: DrawingBackend>(area: &Area<DB>) -> (Area<DB>, Area<DB>) {
    let (w, _) = area.dim_in_pixel();
    area.split_horizontally(w.saturating_sub(LEGEND_W))
}

/// A legend panel: an optional heading, then one row per entry (swatch, label). Returns the y
/// pixel below the last row.
pub(super) fn legend<DB: DrawingBackend>(
    area: &Area<DB>,
    heading: Option<&str>,
    entries: &[LegendEntry],
) -> Result<i32, DrawingAreaErrorKind<DB::ErrorType>> {
    let row = 30;
    let mut y = 24;
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
        let xc = (x0 + x1) / 2;
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
                        pts, *on, *off, style,
                    ))?,
                }
                if let Some(m) = marker {
                    draw_marker(area, (xc, y), *m, *color, 6)?;
                }
            }
            Swatch::Point(c, m) => {
                error_bar(area, xc, y - 10, y + 10, 5, 2)?;
                draw_marker(area, (xc, y), *m, *c, 7)?;
            }
            Swatch::Marker(c, m) => draw_marker(area, (xc, y), *m, *c, 7)?,
        }
        let style = font(LEGEND_PT);
        area.draw(&Text::new(
            fit(area, &e.label, &style, max_w),
            (label_x, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        y += row;
    }
    Ok(y)
}

/// Lines of small grey text at the bottom of the legend panel (what whiskers and references
/// mean), wrapped to the panel's width.
pub(super) fn legend_note<DB: DrawingBackend>(area: &Area<DB>, text: &str) -> DrawResult<DB> {
    let style = font(NOTE_PT).color(&SUBTLE);
    let (w, h) = area.dim_in_pixel();
    let lines = wrap(area, text, &style, w as i32 - 30);
    let line_h = NOTE_PT as i32 + 5;
    let mut y = h as i32 - 12 - line_h * lines.len() as i32;
    for l in lines {
        area.draw(&Text::new(l, (8, y), style.clone()))?;
        y += line_h;
    }
    Ok(())
}

/// Words of `text` in lines no wider than `max_w` pixels.
pub(super) fn wrap<DB: DrawingBackend>(
    area: &Area<DB>,
    text: &str,
    style: &TextStyle,
    max_w: i32,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let next = if cur.is_empty() {
            word.to_owned()
        } else {
            format!("{cur} {word}")
        };
        if !cur.is_empty() && text_width(area, &next, style) > max_w {
            lines.push(std::mem::replace(&mut cur, word.to_owned()));
        } else {
            cur = next;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A vertical error bar from `y0` to `y1` at pixel column `x`, with caps of half-width `cap`.
pub(super) fn error_bar<DB: DrawingBackend>(
    area: &Area<DB>,
    x: i32,
    y0: i32,
    y1: i32,
    cap: i32,
    width: u32,
) -> DrawResult<DB> {
    let st = BLACK.stroke_width(width);
    area.draw(&PathElement::new(vec![(x, y0), (x, y1)], st))?;
    for y in [y0, y1] {
        area.draw(&PathElement::new(vec![(x - cap, y), (x + cap, y)], st))?;
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
    let closed = |pts: &[(i32, i32)]| {
        pts.iter()
            .copied()
            .chain(std::iter::once(pts[0]))
            .collect::<Vec<_>>()
    };
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
            let pts = [(x, y - r - 1), (x + r + 1, y + r), (x - r - 1, y + r)];
            area.draw(&Polygon::new(pts.to_vec(), fill))?;
            area.draw(&PathElement::new(closed(&pts), edge))?;
        }
        Marker::Diamond => {
            let r = r + 1;
            let pts = [(x, y - r), (x + r, y), (x, y + r), (x - r, y)];
            area.draw(&Polygon::new(pts.to_vec(), fill))?;
            area.draw(&PathElement::new(closed(&pts), edge))?;
        }
        Marker::Cross => {
            let t = (r / 3).max(2);
            // A plus sign as one polygon, so it can be filled and outlined.
            let pts = [
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
            area.draw(&Polygon::new(pts.to_vec(), fill))?;
            area.draw(&PathElement::new(closed(&pts), edge))?;
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

/// A pixel rectangle: left, top, right, bottom.
pub(super) type Rect = (i32, i32, i32, i32);

fn overlaps(a: &Rect, b: &Rect) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Places point labels without overlapping each other, the points, or the plot's edges: each
/// label tries positions around its point, nearest first, then further out with a leader line.
pub(super) struct LabelPlacer {
    bounds: Rect,
    taken: Vec<Rect>,
    /// Labels placed so far: leader lines must not cross them.
    labels: Vec<Rect>,
}

/// Where a leader line from `c` to the label `r` ends: just outside the label.
fn leader_end(c: (i32, i32), r: &Rect) -> (i32, i32) {
    (c.0.clamp(r.0 - 4, r.2 + 4), c.1.clamp(r.1 - 3, r.3 + 3))
}

/// Whether a label at `r` needs a leader line to its point `c`.
fn needs_leader(c: (i32, i32), r: &Rect) -> bool {
    let e = leader_end(c, r);
    (e.0 - c.0).abs() + (e.1 - c.1).abs() > 24
}

impl LabelPlacer {
    pub(super) fn new(bounds: Rect) -> Self {
        LabelPlacer {
            bounds,
            taken: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Whether the leader from `c` to the label `r` would cross a placed label.
    fn leader_crosses(&self, c: (i32, i32), r: &Rect) -> bool {
        if !needs_leader(c, r) {
            return false;
        }
        let e = leader_end(c, r);
        let n = 32;
        (0..=n).any(|i| {
            let x = c.0 + (e.0 - c.0) * i / n;
            let y = c.1 + (e.1 - c.1) * i / n;
            self.labels
                .iter()
                .any(|o| x >= o.0 - 1 && x <= o.2 + 1 && y >= o.1 - 1 && y <= o.3 + 1)
        })
    }

    /// Reserve the space a marker of half-width `r` at `c` takes.
    pub(super) fn block(&mut self, c: (i32, i32), r: i32) {
        self.taken.push((c.0 - r, c.1 - r, c.0 + r, c.1 + r));
    }

    /// Reserve a rectangle (e.g. an error bar).
    pub(super) fn block_rect(&mut self, r: Rect) {
        self.taken.push(r);
    }

    /// Reserve the pixels along the segment from `a` to `b` (a reference line or a frontier).
    pub(super) fn block_line(&mut self, a: (i32, i32), b: (i32, i32)) {
        let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
        let steps = (dx.abs().max(dy.abs()) / 4.0).ceil().max(1.0) as i32;
        for i in 0..=steps {
            let t = i as f64 / steps as f64;
            let x = a.0 + (dx * t).round() as i32;
            let y = a.1 + (dy * t).round() as i32;
            self.taken.push((x - 2, y - 2, x + 2, y + 2));
        }
    }

    /// Draw `text` next to the point at `c` (right of it if there is room, else around it);
    /// `None` (and nothing drawn) when no position is free.
    pub(super) fn place<DB: DrawingBackend>(
        &mut self,
        area: &Area<DB>,
        c: (i32, i32),
        text: &str,
        style: &TextStyle,
    ) -> Result<Option<Rect>, DrawingAreaErrorKind<DB::ErrorType>> {
        self.place_from(area, c, 0, text, style, false)
    }

    /// Like [`LabelPlacer::place`] for a row of markers reaching `half` pixels either side of
    /// `c`: beside the row, not on it.
    pub(super) fn place_wide<DB: DrawingBackend>(
        &mut self,
        area: &Area<DB>,
        c: (i32, i32),
        half: i32,
        text: &str,
        style: &TextStyle,
    ) -> Result<Option<Rect>, DrawingAreaErrorKind<DB::ErrorType>> {
        self.place_from(area, c, half, text, style, false)
    }

    /// Like [`LabelPlacer::place`], trying above the point first.
    pub(super) fn place_above<DB: DrawingBackend>(
        &mut self,
        area: &Area<DB>,
        c: (i32, i32),
        text: &str,
        style: &TextStyle,
    ) -> Result<Option<Rect>, DrawingAreaErrorKind<DB::ErrorType>> {
        self.place_from(area, c, 0, text, style, true)
    }

    fn place_from<DB: DrawingBackend>(
        &mut self,
        area: &Area<DB>,
        c: (i32, i32),
        half: i32,
        text: &str,
        style: &TextStyle,
        above_first: bool,
    ) -> Result<Option<Rect>, DrawingAreaErrorKind<DB::ErrorType>> {
        let w = text_width(area, text, style);
        let h = style.font.get_size() as i32;
        let mut tries = Vec::new();
        if above_first {
            tries.extend([(-w / 2, -h - 6), (-w / 2, -h - 20)]);
        }
        for d in [14, 30, 50, 74] {
            tries.extend([
                (d + half, -h / 2),
                (d + half, -h - d / 2),
                (d + half, d / 2),
                (-d - w - half, -h / 2),
                (-d - w - half, -h - d / 2),
                (-d - w - half, d / 2),
                (-w / 2, -h - d),
                (-w / 2, d),
            ]);
        }
        let b = self.bounds;
        let pick = tries
            .iter()
            .map(|&(dx, dy)| (c.0 + dx, c.1 + dy, c.0 + dx + w, c.1 + dy + h))
            .find(|r| {
                r.0 >= b.0
                    && r.2 <= b.2
                    && r.1 >= b.1
                    && r.3 <= b.3
                    && !self
                        .taken
                        .iter()
                        .any(|o| overlaps(&(r.0 - 2, r.1 - 1, r.2 + 2, r.3 + 1), o))
                    && !self.leader_crosses(c, r)
            });
        let Some(r) = pick else {
            return Ok(None);
        };
        self.taken.push(r);
        self.labels.push(r);
        // A leader line when the label sits away from its point.
        if needs_leader(c, &r) {
            let e = leader_end(c, &r);
            area.draw(&PathElement::new(vec![c, e], SUBTLE.stroke_width(1)))?;
            self.block_line(c, e);
        }
        area.draw(&Text::new(
            text.to_owned(),
            (r.0, r.1),
            style.clone().pos(Pos::new(HPos::Left, VPos::Top)),
        ))?;
        Ok(Some(r))
    }
}

/// Decimals for percentage tick labels on a share axis spanning `span` (a fraction).
pub(super) fn percent_decimals(span: f64) -> usize {
    if span >= 0.1 {
        0
    } else if span >= 0.01 {
        1
    } else if span >= 0.001 {
        2
    } else {
        3
    }
}

/// A tick label for a share on an axis that may run a little above 1 (blank above 100%).
pub(super) fn share_tick(v: f64, decimals: usize) -> String {
    if v > 1.0 + 1e-9 {
        String::new()
    } else {
        format!("{}%", crate::format::fixed(v * 100.0, decimals))
    }
}

/// The bottom of a share axis that shows the dip below 1 at a readable scale.
pub(super) fn zoom_floor(min: f64) -> f64 {
    const FLOORS: [f64; 10] = [0.999, 0.998, 0.995, 0.99, 0.98, 0.95, 0.9, 0.8, 0.6, 0.5];
    let want = min - 0.1 * (1.0 - min).max(0.0005);
    FLOORS.iter().copied().find(|&f| f <= want).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_keeps_the_dip_in_view() {
        assert_eq!(zoom_floor(1.0), 0.999);
        assert_eq!(zoom_floor(0.9995), 0.999);
        assert_eq!(zoom_floor(0.9989), 0.998);
        assert_eq!(zoom_floor(0.97), 0.95);
        assert_eq!(zoom_floor(0.6), 0.5);
        assert_eq!(zoom_floor(0.3), 0.0);
    }

    #[test]
    fn share_ticks_have_the_precision_the_axis_needs() {
        assert_eq!(share_tick(0.9982, percent_decimals(0.002)), "99.82%");
        assert_eq!(share_tick(0.8, percent_decimals(0.2)), "80%");
        assert_eq!(share_tick(1.0, 2), "100.00%");
        assert_eq!(share_tick(1.001, 2), "");
        assert_eq!(share_tick(-0.0, 1), "0.0%");
        assert_eq!(share_tick(-1e-12, 0), "0%");
    }
}
