//! Replays of history against what was observed: each `[[expect]]` band of a scenario, the
//! model's value for it from a run's summary, and whether the value lands inside the band or
//! how far out.

use serde::Serialize;

use crate::format::compact;
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
    /// The band as the scenario writes it.
    #[serde(flatten)]
    pub band: Expect,
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
            let variant_id = e.strategy.as_deref().unwrap_or("baseline");
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
                let p95 = slot
                    .peak_price_p95
                    .expect("a band's price percentile has a market");
                (p95, None)
            } else {
                let (_, est) = slot
                    .metrics
                    .named()
                    .into_iter()
                    .find(|(name, _)| *name == e.metric)
                    .expect("a known metric");
                (est.mean, Some(est.se))
            };
            judge(e, value, se)
        })
        .collect()
}

fn judge(e: &Expect, value: f64, se: Option<f64>) -> Check {
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
        band: e.clone(),
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
        let b = &c.band;
        let value = match c.se {
            // Rounding noise of identical trials is not an interval.
            Some(se) if 1.96 * se > 1e-6 * c.value.abs().max(1.0) => {
                format!("{} ± {}", compact(c.value), compact(1.96 * se))
            }
            _ => compact(c.value),
        };
        let band = if b.low == b.high {
            compact(b.low)
        } else {
            format!("{} to {}", compact(b.low), compact(b.high))
        };
        let verdict = match c.verdict {
            Verdict::Inside => "inside".to_owned(),
            Verdict::Below => format!("{} below", compact(c.distance)),
            Verdict::Above => format!("{} above", compact(c.distance)),
        };
        let verdict = if c.within_noise {
            format!("{verdict} (within noise)")
        } else {
            verdict
        };
        t.row([
            b.metric.to_owned(),
            format!("{} / {}", b.importer, b.material),
            b.strategy.clone().unwrap_or_else(|| "baseline".to_owned()),
            value,
            band,
            verdict,
            b.source.clone(),
        ]);
    }
    let mut out = t.render();
    for c in checks.iter().filter(|c| c.verdict != Verdict::Inside) {
        let b = &c.band;
        if let Some(note) = &b.note {
            let head = format!(
                "{} of {} / {}, outside: {note}",
                b.metric, b.importer, b.material
            );
            out.push_str(&wrap(&head, 96, "  ", "    "));
        }
    }
    out
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
