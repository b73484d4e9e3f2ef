//! Stress test: time to survive against time to recover per removal, importer and material.
//!
//! Pairs that never ran short are left out and counted in a note (they would all sit at one
//! "never" edge and hide nothing but each other); pairs that ran short and had not recovered by
//! the horizon sit in a strip at the top. The region left of the removal's end is shaded: a
//! point there runs short before the element is back (Simchi-Levi's TTS < TTR test).

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::draw::{self, font, LabelPlacer};
use super::{
    plot_placer, series_style, Area, Chart, DrawResult, Drawn, LegendEntry, Swatch, AXIS_PT,
    FLAG_BG, GRID, NOTE_PT, REFERENCE, SUBTLE, TICK_PT,
};
use crate::format::display_name;

/// Labels drawn at most; the rest of the flagged points are counted in the note.
const MAX_LABELS: usize = 16;

/// One marker: the (removal, material) cases of one importer that share a TTS and a TTR.
struct MergedPoint {
    importer: usize,
    /// (removed, material), in input order.
    cases: Vec<(String, String)>,
    tts_days: f64,
    ttr_days: Option<f64>,
}

impl MergedPoint {
    /// `oxide`, or with several removals `A, a_refiner: oxide; B: gallium`.
    fn label(&self, show_removed: bool) -> String {
        if !show_removed {
            let mut mats: Vec<&str> = Vec::new();
            for (_, m) in &self.cases {
                if !mats.contains(&m.as_str()) {
                    mats.push(m);
                }
            }
            return mats.join(", ");
        }
        // Materials per removal, then removals that share the same materials.
        let mut by_removed: Vec<(&str, Vec<&str>)> = Vec::new();
        for (r, m) in &self.cases {
            match by_removed.iter_mut().find(|(x, _)| x == r) {
                Some((_, ms)) => ms.push(m),
                None => by_removed.push((r, vec![m])),
            }
        }
        let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
        for (r, ms) in by_removed {
            let mats = ms.join(", ");
            match groups.iter_mut().find(|(m, _)| *m == mats) {
                Some((_, rs)) => rs.push(r),
                None => groups.push((mats, vec![r])),
            }
        }
        groups
            .iter()
            .map(|(mats, rs)| format!("{}: {mats}", rs.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub(super) struct StressSpec {
    title: String,
    removal_days: f64,
    /// What the legend calls each importer, in order of first appearance.
    labels: Vec<String>,
    points: Vec<MergedPoint>,
    n_rows: usize,
    n_never: usize,
    n_removals: usize,
}

impl StressSpec {
    pub(super) fn new(rows: &[super::StressPoint], removal_days: f64, title: &str) -> Self {
        let mut importers: Vec<String> = Vec::new();
        let mut labels: Vec<String> = Vec::new();
        let mut removals: Vec<&str> = Vec::new();
        // Keyed by (importer, TTS bits, TTR bits): identical points become one marker.
        let mut merged: BTreeMap<(usize, u64, Option<u64>), MergedPoint> = BTreeMap::new();
        let mut n_never = 0;
        for super::StressPoint {
            removed,
            importer,
            importer_name,
            material,
            tts_days: tts,
            ttr_days: ttr,
        } in rows
        {
            if !removals.contains(&removed.as_str()) {
                removals.push(removed);
            }
            let imp = match importers.iter().position(|i| i == importer) {
                Some(i) => i,
                None => {
                    importers.push(importer.clone());
                    labels.push(display_name(importer, importer_name));
                    importers.len() - 1
                }
            };
            let Some(tts) = tts.filter(|t| t.is_finite()) else {
                n_never += 1;
                continue;
            };
            let ttr = ttr.filter(|t| t.is_finite());
            merged
                .entry((imp, tts.to_bits(), ttr.map(f64::to_bits)))
                .or_insert_with(|| MergedPoint {
                    importer: imp,
                    cases: Vec::new(),
                    tts_days: tts,
                    ttr_days: ttr,
                })
                .cases
                .push((removed.clone(), material.clone()));
        }
        let mut points: Vec<MergedPoint> = merged.into_values().collect();
        // Shortest time to survive first: those are labelled first.
        points.sort_by(|a, b| {
            a.tts_days
                .total_cmp(&b.tts_days)
                .then(a.importer.cmp(&b.importer))
                .then_with(|| a.cases.cmp(&b.cases))
        });
        StressSpec {
            title: title.to_owned(),
            removal_days,
            labels,
            points,
            n_rows: rows.len(),
            n_never,
            n_removals: removals.len(),
        }
    }

    fn flagged(&self, p: &MergedPoint) -> bool {
        p.tts_days < self.removal_days
    }

    /// The points that sit at one place (the same time to survive and to recover), importers
    /// in legend order; groups in the order of their first point.
    fn groups(&self) -> Vec<Vec<&MergedPoint>> {
        let mut out: Vec<Vec<&MergedPoint>> = Vec::new();
        for p in &self.points {
            let same = |q: &&MergedPoint| {
                q.tts_days.to_bits() == p.tts_days.to_bits()
                    && q.ttr_days.map(f64::to_bits) == p.ttr_days.map(f64::to_bits)
            };
            match out.iter_mut().find(|g| same(&g[0])) {
                Some(g) => g.push(p),
                None => out.push(vec![p]),
            }
        }
        for g in &mut out {
            g.sort_by_key(|p| p.importer);
        }
        out
    }
}

/// Horizontal distance between the markers of importers that share a point, in pixels.
const DODGE_PX: i32 = 15;

/// One label for the points at one place: their cases, each once.
fn group_label(group: &[&MergedPoint], show_removed: bool) -> String {
    let mut cases: Vec<(String, String)> = Vec::new();
    for p in group {
        for c in &p.cases {
            if !cases.contains(c) {
                cases.push(c.clone());
            }
        }
    }
    MergedPoint {
        importer: group[0].importer,
        cases,
        tts_days: group[0].tts_days,
        ttr_days: group[0].ttr_days,
    }
    .label(show_removed)
}

/// The chart's ranges. Time to survive runs from `x_lo` (a little room left of 0, where the
/// pairs without any buffer sit) to `x_max`; time to recover up to `y_cap`, with a strip above
/// it up to `y_top` when some points had not recovered by the horizon (`stuck`): those sit at
/// `y_stuck`.
struct StressAxes {
    removal_days: f64,
    /// The removal has a finite, positive length: its end is drawn and the region before it
    /// shaded.
    has_line: bool,
    x_lo: f64,
    x_max: f64,
    y_cap: f64,
    y_stuck: f64,
    y_top: f64,
    stuck: bool,
}

impl StressAxes {
    fn new(spec: &StressSpec) -> Self {
        let d = spec.removal_days;
        let has_line = d.is_finite() && d > 0.0;
        let tts_max = spec.points.iter().map(|p| p.tts_days).fold(0.0, f64::max);
        let x_max = (tts_max.max(if has_line { d } else { 0.0 }) * 1.1).max(1.0);
        let ttr_max = spec
            .points
            .iter()
            .filter_map(|p| p.ttr_days)
            .fold(0.0, f64::max);
        let y_cap = (ttr_max * 1.1).max(10.0);
        let stuck = spec.points.iter().any(|p| p.ttr_days.is_none());
        let (y_top, y_stuck) = if stuck {
            (y_cap * 1.16, y_cap * 1.08)
        } else {
            (y_cap, y_cap)
        };
        StressAxes {
            removal_days: d,
            has_line,
            x_lo: -0.025 * x_max,
            x_max,
            y_cap,
            y_stuck,
            y_top,
            stuck,
        }
    }

    /// Where a point sits: at its time to recover, or in the strip if it had not recovered.
    fn at(&self, p: &MergedPoint) -> (f64, f64) {
        (p.tts_days, p.ttr_days.unwrap_or(self.y_stuck))
    }
}

/// The chart being drawn: the whole image (markers and notes are drawn on it in pixels), the
/// axes, and the label placer for the plotting area.
struct StressPlot<'r, 'a, DB: DrawingBackend> {
    root: &'r Area<DB>,
    chart: Chart<'a, DB>,
    placer: LabelPlacer,
    ax: StressAxes,
}

pub(super) fn tts_ttr<DB: DrawingBackend>(root: &Area<DB>, spec: &StressSpec) -> DrawResult<DB> {
    let d = spec.removal_days;
    let subtitle = format!(
        "Each point: an importer and material that ran short after the removal at day 0 for \
         {d:.0} days. Shaded: short before the element is back."
    );
    let body = draw::title(root, &spec.title, &subtitle)?;
    let (plot, legend_area) = draw::split_legend(&body);
    let ax = StressAxes::new(spec);
    let chart = stress_axes(&plot, &ax)?;
    let mut sp = StressPlot {
        root,
        placer: plot_placer(&chart),
        chart,
        ax,
    };
    sp.references()?;
    sp.points(spec)?;
    let (labelled, unlabelled_flagged) = sp.labels(spec)?;
    draw::legend(&legend_area, Some("importer"), &stress_legend(spec))?;
    draw::legend_note(
        &legend_area,
        &stress_note(spec, labelled, unlabelled_flagged),
    )
}

/// The axes, with the region before the removal's end shaded under the grid.
fn stress_axes<'a, DB: DrawingBackend>(
    plot: &'a Area<DB>,
    ax: &StressAxes,
) -> Drawn<Chart<'a, DB>, DB> {
    let y_cap = ax.y_cap;
    let y_fmt = move |v: &f64| {
        if *v > y_cap + 1e-9 {
            String::new()
        } else {
            crate::format::fixed(*v, 0)
        }
    };
    let mut chart =
        draw::builder(plot, 30, 90).build_cartesian_2d(ax.x_lo..ax.x_max, 0f64..ax.y_top)?;
    if ax.has_line {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(ax.x_lo, 0.0), (ax.removal_days.min(ax.x_max), ax.y_top)],
            FLAG_BG.filled(),
        )))?;
    }
    chart
        .configure_mesh()
        .x_desc("time to survive: days from the removal to the first shortage")
        .y_desc("time to recover (days)")
        .axis_desc_style(font(AXIS_PT))
        .label_style(font(TICK_PT))
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|v| {
            if *v < -1e-9 {
                String::new()
            } else {
                crate::format::fixed(*v, 0)
            }
        })
        .y_label_formatter(&y_fmt)
        .draw()?;
    Ok(chart)
}

impl<DB: DrawingBackend> StressPlot<'_, '_, DB> {
    /// A small note with its top-left corner at `(x, y)` (top-right if `right`), blocked for
    /// labels.
    fn note_at(&mut self, text: &str, (x, y): (i32, i32), right: bool) -> DrawResult<DB> {
        let note_style = font(NOTE_PT).color(&SUBTLE);
        let w = draw::text_width(self.root, text, &note_style);
        let x0 = if right { x - w } else { x };
        self.placer.block_rect((x0, y, x0 + w, y + NOTE_PT as i32));
        self.root.draw(&Text::new(
            text.to_owned(),
            (x0, y),
            note_style.pos(Pos::new(HPos::Left, VPos::Top)),
        ))
    }

    /// The cap of the not-recovered strip and the removal's end, each with its note.
    fn references(&mut self) -> DrawResult<DB> {
        let StressAxes {
            removal_days: d,
            has_line,
            x_lo,
            x_max,
            y_cap,
            y_top,
            stuck,
            ..
        } = self.ax;
        if stuck {
            draw::line(
                &mut self.chart,
                vec![(x_lo, y_cap), (x_max, y_cap)],
                REFERENCE,
                1,
                Some((4, 4)),
            )?;
            let (px0, py0) = self.chart.backend_coord(&(x_lo, y_top));
            self.note_at(
                "not recovered within the horizon",
                (px0 + 8, py0 + 4),
                false,
            )?;
        }
        if has_line && d <= x_max {
            draw::line(
                &mut self.chart,
                vec![(d, 0.0), (d, y_top)],
                REFERENCE,
                2,
                Some((10, 6)),
            )?;
            let (x, y0) = self.chart.backend_coord(&(d, 0.0));
            let (_, y) = self.chart.backend_coord(&(d, y_cap));
            // Labels keep off the line, which would strike them through.
            let (_, y1) = self.chart.backend_coord(&(d, y_top));
            self.placer.block_rect((x - 2, y1, x + 2, y0));
            self.note_at(&format!("element back: day {d:.0}"), (x - 6, y + 4), true)?;
        }
        Ok(())
    }

    /// One marker per merged point, all blocked for labels first. Importers that share a
    /// point are drawn side by side, centred on it, so that each can be told apart.
    fn points(&mut self, spec: &StressSpec) -> DrawResult<DB> {
        for group in spec.groups() {
            let (x, y) = self.chart.backend_coord(&self.ax.at(group[0]));
            let n = group.len() as i32;
            for (i, p) in group.iter().enumerate() {
                let px = (x + (2 * i as i32 - (n - 1)) * DODGE_PX / 2, y);
                self.placer.block(px, 9);
                let st = series_style(p.importer);
                draw::draw_marker(self.root, px, st.marker, st.color, 7)?;
            }
        }
        if spec.points.is_empty() {
            draw::note(
                &self.chart.plotting_area().strip_coord_spec(),
                "no importer and material ran short",
                NOTE_PT + 5,
            )?;
        }
        Ok(())
    }

    /// Label the flagged points (all points when they are few), worst first: not recovered,
    /// then the longest recovery after the quickest shortage. Returns how many were labelled
    /// and how many flagged points were left unlabelled.
    fn labels(&mut self, spec: &StressSpec) -> Drawn<(usize, usize), DB> {
        let groups = spec.groups();
        let few = groups.len() <= MAX_LABELS;
        let mut candidates: Vec<&Vec<&MergedPoint>> = groups
            .iter()
            .filter(|g| few || spec.flagged(g[0]))
            .collect();
        let badness = |p: &MergedPoint| p.ttr_days.map_or(f64::INFINITY, |r| r - p.tts_days);
        candidates.sort_by(|a, b| badness(b[0]).total_cmp(&badness(a[0])));
        let label_style = font(TICK_PT - 1);
        let mut labelled = 0;
        let mut unlabelled_flagged = 0;
        for g in candidates {
            let (x, y) = self.chart.backend_coord(&self.ax.at(g[0]));
            // The label clears the whole row of markers.
            let half = (g.len() as i32 - 1) * DODGE_PX / 2;
            let placed = labelled < MAX_LABELS
                && self
                    .placer
                    .place_wide(
                        self.root,
                        (x, y),
                        half,
                        &group_label(g, spec.n_removals > 1),
                        &label_style,
                    )?
                    .is_some();
            if placed {
                labelled += 1;
            } else if spec.flagged(g[0]) {
                unlabelled_flagged += g.len();
            }
        }
        Ok((labelled, unlabelled_flagged))
    }
}

/// The importers with a point, then the removal's end and the shaded region.
fn stress_legend(spec: &StressSpec) -> Vec<LegendEntry> {
    let mut entries: Vec<LegendEntry> = spec
        .labels
        .iter()
        .enumerate()
        .filter(|(i, _)| spec.points.iter().any(|p| p.importer == *i))
        .map(|(i, label)| {
            let st = series_style(i);
            LegendEntry {
                label: label.clone(),
                swatch: Swatch::Marker(st.color, st.marker),
            }
        })
        .collect();
    entries.push(LegendEntry {
        label: "removal ends".into(),
        swatch: Swatch::reference(),
    });
    entries.push(LegendEntry {
        label: "short before it ends".into(),
        swatch: Swatch::Fill(FLAG_BG),
    });
    entries
}

/// How many cases run short before the element is back, how many never ran short, and how
/// many flagged points the labels left out.
fn stress_note(spec: &StressSpec, labelled: usize, unlabelled_flagged: usize) -> String {
    let flagged = spec
        .points
        .iter()
        .filter(|p| spec.flagged(p))
        .map(|p| p.cases.len())
        .sum::<usize>();
    let mut note = format!(
        "{flagged} of {} importer-material cases run short before the element is back; {} \
         never ran short (not shown).",
        spec.n_rows, spec.n_never
    );
    if spec.groups().iter().any(|g| g.len() > 1) {
        note.push_str(" Importers at the same point are drawn side by side.");
    }
    if unlabelled_flagged > 0 {
        note.push_str(&format!(
            " Labels: the {labelled} worst; {unlabelled_flagged} flagged points unlabelled."
        ));
    }
    note
}
