//! Replays of history against what was observed: each `[[expect]]` band of a scenario, the
//! model's value for it from a run's summary, and whether the value lands inside the band or
//! how far out.

use serde::Serialize;

use crate::model::{Expect, Study};
use crate::report::Summary;
use crate::table::{Align, Table};

/// Where a model value falls against its band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Inside,
    Below,
    Above,
}

/// One band, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub metric: &'static str,
    pub importer: String,
    pub material: String,
    /// The strategy compared; `None`: the baseline.
    pub strategy: Option<String>,
    pub low: f64,
    pub high: f64,
    pub source: String,
    pub note: Option<String>,
    /// The model's value: the mean over trials (the 95th percentile for `peak_price_p95`).
    pub value: f64,
    /// The standard error of `value` (`None` for a percentile).
    pub se: Option<f64>,
    pub verdict: Verdict,
    /// How far outside the band the value is (0 inside).
    pub distance: f64,
    /// Outside, but within two standard errors of the band: more trials may move it in.
    pub within_noise: bool,
}

/// Every band of `study` checked against `summary`, which holds the baseline and every
/// strategy a band names.
///
/// # Panics
/// If the summary lacks a variant or slot a band names (the scenario's checks rule that out
/// for a summary of the same study).
pub fn check(study: &Study, summary: &Summary) -> Vec<Check> {
    study
        .expects
        .iter()
        .map(|e| {
            let strategy = e.strategy.map(|i| study.strategies[i].id.clone());
            let variant_id = strategy.as_deref().unwrap_or("baseline");
            let variant = summary
                .variants
                .iter()
                .find(|v| v.id == variant_id)
                .expect("the summary holds every variant a band names");
            let slot = variant
                .slots
                .iter()
                .find(|s| s.importer == e.importer && s.material == e.material)
                .expect("the band's importer demands its material");
            let (value, se) = if e.metric == "peak_price_p95" {
                (slot.peak_price_p95.unwrap_or(1.0), None)
            } else {
                let (_, est) = slot
                    .metrics
                    .named()
                    .into_iter()
                    .find(|(name, _)| *name == e.metric)
                    .expect("a known metric");
                (est.mean, Some(est.se))
            };
            judge(e, strategy, value, se)
        })
        .collect()
}

fn judge(e: &Expect, strategy: Option<String>, value: f64, se: Option<f64>) -> Check {
    let (verdict, distance) = if value.is_nan() {
        // No value is no match (NaN serializes as null).
        (Verdict::Above, f64::NAN)
    } else if value < e.low {
        (Verdict::Below, e.low - value)
    } else if value > e.high {
        (Verdict::Above, value - e.high)
    } else {
        (Verdict::Inside, 0.0)
    };
    let within_noise = verdict != Verdict::Inside && se.is_some_and(|se| distance <= 2.0 * se);
    Check {
        metric: e.metric,
        importer: e.importer.clone(),
        material: e.material.clone(),
        strategy,
        low: e.low,
        high: e.high,
        source: e.source.clone(),
        note: e.note.clone(),
        value,
        se,
        verdict,
        distance,
        within_noise,
    }
}

/// The bands of one scenario as a terminal table, with the notes of bands the model misses
/// under it.
pub fn render(checks: &[Check]) -> String {
    let mut t = Table::new(&[
        ("metric", Align::Left),
        ("importer / material", Align::Left),
        ("variant", Align::Left),
        ("model", Align::Right),
        ("observed", Align::Right),
        ("verdict", Align::Left),
        ("source", Align::Left),
    ]);
    for c in checks {
        let value = match c.se {
            Some(se) if se > 0.0 => format!("{} ± {}", num(c.value), num(1.96 * se)),
            _ => num(c.value),
        };
        let band = if c.low == c.high {
            num(c.low)
        } else {
            format!("{} to {}", num(c.low), num(c.high))
        };
        let verdict = match c.verdict {
            Verdict::Inside => "inside".to_owned(),
            Verdict::Below => format!("{} below", num(c.distance)),
            Verdict::Above => format!("{} above", num(c.distance)),
        };
        let verdict = if c.within_noise {
            format!("{verdict} (within noise)")
        } else {
            verdict
        };
        t.row([
            c.metric.to_owned(),
            format!("{} / {}", c.importer, c.material),
            c.strategy.clone().unwrap_or_else(|| "baseline".to_owned()),
            value,
            band,
            verdict,
            c.source.clone(),
        ]);
    }
    let mut out = t.render();
    for c in checks.iter().filter(|c| c.verdict != Verdict::Inside) {
        if let Some(note) = &c.note {
            let head = format!(
                "{} of {} / {}, outside: {note}",
                c.metric, c.importer, c.material
            );
            out.push_str(&wrap(&head, 96, "  ", "    "));
        }
    }
    out
}

/// Four significant digits, without trailing zeros.
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// `text` in lines of at most `width` columns (a longer word gets a line of its own), the
/// first after `first`, the others after `rest`, each ending in a newline.
fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}
