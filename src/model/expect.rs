//! `[[expect]]`: observed outcome bands written in a replay scenario, checked by `replay`.

use super::ck::{Ck, Ids};
use super::network::Model;
use super::strategies::Strategy;
use crate::diag::{Diagnostic, SourceFile};
use crate::metrics::SlotMetrics;
use crate::scenario::RawScenario;

/// How many metrics a band can name: [`METRICS`].
const N_METRICS: usize = SlotMetrics::<()>::NAMES.len() + 1;

/// The metrics a band can name: every per-importer-and-material metric of summary.json (the
/// mean over trials), and the 95th percentile of the peak price.
pub const METRICS: [&str; N_METRICS] = {
    let names = SlotMetrics::<()>::NAMES;
    let mut out = [""; N_METRICS];
    let mut i = 0;
    while i < names.len() {
        out[i] = names[i];
        i += 1;
    }
    out[names.len()] = "peak_price_p95";
    out
};

/// One band, checked (summary of `replay --format json`: its fields are the band's keys).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Expect {
    /// One of [`METRICS`].
    pub metric: &'static str,
    pub importer: String,
    pub material: String,
    /// The id of the strategy compared; `None`: the baseline.
    pub strategy: Option<String>,
    pub low: f64,
    pub high: f64,
    pub source: String,
    pub note: Option<String>,
}

/// The file's bands, checked against the baseline model and the strategies; errors go to
/// `diags`.
pub(crate) fn compile_expects(
    raw: &RawScenario,
    src: &SourceFile,
    baseline: &Model,
    strategies: &[Strategy],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Expect> {
    let mut ck = Ck {
        src,
        diags: Vec::new(),
        prefix: "",
    };
    let importers = Ids::known("importer", baseline.importers.iter().map(|i| i.id.as_str()));
    let materials = Ids::known("material", baseline.materials.iter().map(|m| m.id.as_str()));
    let metrics = Ids::known("metric", METRICS);
    let compiled = Ids::known("strategy", strategies.iter().map(|s| s.id.as_str()));
    let mut out = Vec::new();
    for (k, re) in raw.expect.iter().enumerate() {
        let e = re.get_ref();
        let key = format!("expect[{k}]");
        let metric = metrics
            .resolve(&mut ck, &e.metric, 0..0, &format!("{key}.metric"))
            .map(|i| METRICS[i as usize]);
        // A strategy that failed to compile has its own errors: its bands are not checked.
        let strategy = match &e.strategy {
            None => None,
            Some(s) => match compiled.get(s.get_ref()) {
                Some(i) => Some(i as usize),
                None if raw
                    .strategy
                    .iter()
                    .any(|x| x.get_ref().id.get_ref() == s.get_ref()) =>
                {
                    continue;
                }
                None => {
                    compiled.resolve(&mut ck, s, 0..0, &format!("{key}.strategy"));
                    None
                }
            },
        };
        // The model the band is read from: a strategy can add demand.
        let model = strategy.map_or(baseline, |i| &strategies[i].model);
        let imp = importers.resolve(&mut ck, &e.importer, 0..0, &format!("{key}.importer"));
        let mat = materials.resolve(&mut ck, &e.material, 0..0, &format!("{key}.material"));
        if let (Some(i), Some(m)) = (imp, mat) {
            let (importer, m) = (&model.importers[i as usize], m as usize);
            let demands = importer
                .slots
                .clone()
                .any(|b| model.slots[b as usize].material.ix() == m);
            if !demands {
                ck.err(
                    e.material.span(),
                    format!("{key}.material"),
                    format!(
                        "importer `{}` has no demand for `{}`: there is nothing to compare",
                        importer.id,
                        e.material.get_ref()
                    ),
                    "name a material the importer's `demand` lists",
                );
            }
            if metric == Some("peak_price_p95") && model.materials[m].market.is_none() {
                ck.err(
                    e.metric.span(),
                    format!("{key}.metric"),
                    format!(
                        "`{}` has no [material.market]: its price never moves, so it has no price percentiles",
                        e.material.get_ref()
                    ),
                    "add a market block to the material, or compare another metric",
                );
            }
        }
        let (low, high) = (*e.low.get_ref(), *e.high.get_ref());
        for (v, name) in [(&e.low, "low"), (&e.high, "high")] {
            if !v.get_ref().is_finite() {
                ck.err(
                    v.span(),
                    format!("{key}.{name}"),
                    format!(
                        "expected a finite number, found {}",
                        crate::diag::num(*v.get_ref())
                    ),
                    "a band's ends are numbers in the metric's own unit",
                );
            }
        }
        if low.is_finite() && high.is_finite() && low > high {
            ck.err(
                e.high.span(),
                format!("{key}.high"),
                format!(
                    "the band is empty: high ({}) is below low ({})",
                    crate::diag::num(high),
                    crate::diag::num(low)
                ),
                "swap them, or give both ends the same value for an exact expectation",
            );
        }
        if e.source.get_ref().trim().is_empty() {
            ck.err(
                e.source.span(),
                format!("{key}.source"),
                "a band needs its source",
                "cite a tag of docs/sources.md, e.g. \"[S: GTA]\"",
            );
        }
        // A band with an error is not used: the file does not load.
        if let Some(metric) = metric {
            out.push(Expect {
                metric,
                importer: e.importer.get_ref().clone(),
                material: e.material.get_ref().clone(),
                strategy: e.strategy.as_ref().map(|s| s.get_ref().clone()),
                low,
                high,
                source: e.source.get_ref().clone(),
                note: e.note.clone(),
            });
        }
    }
    diags.append(&mut ck.diags);
    out
}
