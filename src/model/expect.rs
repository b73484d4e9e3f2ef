//! `[[expect]]`: observed outcome bands written in a replay scenario, checked by `replay`.

use super::ck::Ck;
use super::network::Model;
use super::strategies::Strategy;
use crate::diag::{did_you_mean, Diagnostic, SourceFile};
use crate::metrics::SlotMetrics;
use crate::scenario::{RawScenario, Spanned};

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

/// One band, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Expect {
    /// One of [`METRICS`].
    pub metric: &'static str,
    pub importer: String,
    pub material: String,
    /// The strategy compared, by position among the study's strategies; `None`: the baseline.
    pub strategy: Option<usize>,
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
    let importers: Vec<&str> = baseline.importers.iter().map(|i| i.id.as_str()).collect();
    let materials: Vec<&str> = baseline.materials.iter().map(|m| m.id.as_str()).collect();
    let mut out = Vec::new();
    for (k, re) in raw.expect.iter().enumerate() {
        let e = re.get_ref();
        let key = format!("expect[{k}]");
        let metric = METRICS.iter().copied().find(|m| m == e.metric.get_ref());
        if metric.is_none() {
            let hint = match did_you_mean(e.metric.get_ref(), METRICS.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("metrics: {}", METRICS.join(", ")),
            };
            ck.err(
                e.metric.span(),
                format!("{key}.metric"),
                format!("unknown metric `{}`", e.metric.get_ref()),
                hint,
            );
        }
        // A strategy that failed to compile has its own errors: its bands are not checked.
        let written = |id: &str| raw.strategy.iter().any(|s| s.get_ref().id.get_ref() == id);
        let mut skip = false;
        let strategy = e.strategy.as_ref().and_then(|s| {
            let found = strategies.iter().position(|x| &x.id == s.get_ref());
            if found.is_none() && written(s.get_ref()) {
                skip = true;
            } else if found.is_none() {
                let ids = strategies.iter().map(|x| x.id.as_str());
                let hint = match did_you_mean(s.get_ref(), ids.clone()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if strategies.is_empty() => {
                        "the file has no [[strategy]]; leave `strategy` out to compare the baseline"
                            .to_owned()
                    }
                    None => format!(
                        "strategies in this file: {}",
                        ids.collect::<Vec<_>>().join(", ")
                    ),
                };
                ck.err(
                    s.span(),
                    format!("{key}.strategy"),
                    format!("unknown strategy `{}`", s.get_ref()),
                    hint,
                );
            }
            found
        });
        if skip {
            continue;
        }
        // The model the band is read from: a strategy can add demand.
        let model = strategy.map_or(baseline, |i| &strategies[i].model);
        let imp = find(&mut ck, "importer", &importers, &e.importer, &key);
        let mat = find(&mut ck, "material", &materials, &e.material, &key);
        if let (Some(i), Some(m)) = (imp, mat) {
            let importer = &model.importers[i];
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
        if let (Some(metric), true) = (metric, ck.errors() == 0) {
            out.push(Expect {
                metric,
                importer: e.importer.get_ref().clone(),
                material: e.material.get_ref().clone(),
                strategy,
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

/// The position of `id` among `ids` (the ids of a `kind`), or an error at `[key].kind` with
/// the nearest id as a hint.
fn find(ck: &mut Ck, kind: &str, ids: &[&str], id: &Spanned<String>, key: &str) -> Option<usize> {
    let found = ids.iter().position(|x| x == id.get_ref());
    if found.is_none() {
        let hint = match did_you_mean(id.get_ref(), ids.iter().copied()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!("{kind} ids in this file: {}", ids.join(", ")),
        };
        ck.err(
            id.span(),
            format!("{key}.{kind}"),
            format!("unknown {kind} `{}`", id.get_ref()),
            hint,
        );
    }
    found
}
