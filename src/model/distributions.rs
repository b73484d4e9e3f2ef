//! Distributions as written (a fixed number or a `{ dist = ... }` table) checked and built.

use std::ops::Range;

use super::ck::Ck;
use crate::diag::did_you_mean;
use crate::dist::{Dist, DistError, DistParams, FAMILIES};
use crate::scenario::{self, RawDist, Spanned};

/// Validate a distribution; `range` is the support its draws must stay within.
pub(super) fn compile_dist(
    ck: &mut Ck,
    v: &Spanned<RawDist>,
    key: &str,
    range: (f64, f64),
    what: &str,
) -> Option<Dist> {
    let result: Result<Dist, (Range<usize>, DistError)> = match v.get_ref() {
        RawDist::Fixed(x) => Dist::fixed(*x).map_err(|e| (v.span(), e)),
        RawDist::Spec(spec) => dist_from_spec(spec, v.span()),
    };
    let dist = match result {
        Ok(d) => d,
        Err((span, e)) => {
            let k = if e.key.is_empty() {
                key.to_owned()
            } else {
                format!("{key}.{}", e.key)
            };
            ck.err(span, k, e.message, e.hint);
            return None;
        }
    };
    let (lo, hi) = dist.support();
    if lo < range.0 || hi > range.1 {
        let allowed = if range.1.is_infinite() {
            format!(">= {}", range.0)
        } else {
            format!("within [{}, {}]", range.0, range.1)
        };
        ck.err(
            v.span(),
            key,
            format!(
                "draws must be {allowed} ({what}), but this distribution ranges over [{lo}, {hi}]"
            ),
            if range.1 == 1.0 {
                "use beta, uniform, triangular or pert within [0, 1], or a fixed fraction"
            } else {
                "use a distribution with non-negative support"
            },
        );
        return None;
    }
    Some(dist)
}

fn dist_from_spec(
    s: &scenario::RawDistSpec,
    span: Range<usize>,
) -> Result<Dist, (Range<usize>, DistError)> {
    let Some(name) = &s.dist else {
        return Err((
            span,
            DistError {
                key: "dist",
                message: "a distribution table needs `dist`".into(),
                hint: format!("one of: {}", FAMILIES.join(", ")),
            },
        ));
    };
    // Which parameters each family takes; anything else given is an error.
    let given: Vec<(&'static str, Option<Range<usize>>)> = vec![
        ("value", s.value.as_ref().map(|v| v.span())),
        ("min", s.min.as_ref().map(|v| v.span())),
        ("mode", s.mode.as_ref().map(|v| v.span())),
        ("max", s.max.as_ref().map(|v| v.span())),
        ("mean", s.mean.as_ref().map(|v| v.span())),
        ("sd", s.sd.as_ref().map(|v| v.span())),
        ("median", s.median.as_ref().map(|v| v.span())),
        ("p95", s.p95.as_ref().map(|v| v.span())),
        ("mu", s.mu.as_ref().map(|v| v.span())),
        ("sigma", s.sigma.as_ref().map(|v| v.span())),
        ("shape", s.shape.as_ref().map(|v| v.span())),
        ("scale", s.scale.as_ref().map(|v| v.span())),
        ("values", s.values.as_ref().map(|v| v.span())),
    ];
    let g = |o: &Option<Spanned<f64>>| o.as_ref().map(|v| *v.get_ref());
    let need = |k: &'static str,
                o: &Option<Spanned<f64>>,
                fam: &str|
     -> Result<f64, (Range<usize>, DistError)> {
        g(o).ok_or_else(|| {
            (
                span.clone(),
                DistError {
                    key: k,
                    message: format!("{fam} needs `{k}`"),
                    hint: format!("add {k} = ..."),
                },
            )
        })
    };
    let fam = name.get_ref().as_str();
    let allowed: &[&str] = match fam {
        "fixed" => &["value"],
        "uniform" => &["min", "max"],
        "triangular" | "pert" => &["min", "mode", "max"],
        "exponential" => &["mean"],
        "lognormal" if s.mu.is_some() || s.sigma.is_some() => &["mu", "sigma"],
        "lognormal" => &["median", "p95"],
        "gamma" if s.mean.is_some() || s.sd.is_some() => &["mean", "sd"],
        "gamma" => &["shape", "scale"],
        "beta" => &["mean", "sd"],
        "empirical" => &["values"],
        other => {
            let hint = match did_you_mean(other, FAMILIES.iter().copied()) {
                Some(b) => format!("did you mean \"{b}\"?"),
                None => format!("one of: {}", FAMILIES.join(", ")),
            };
            return Err((
                name.span(),
                DistError {
                    key: "dist",
                    message: format!("unknown distribution \"{other}\""),
                    hint,
                },
            ));
        }
    };
    for (k, sp) in &given {
        if let Some(sp) = sp {
            if !allowed.contains(k) {
                return Err((
                    sp.clone(),
                    DistError {
                        key: k,
                        message: format!("{fam} does not take `{k}`"),
                        hint: format!("{fam} takes: {}", allowed.join(", ")),
                    },
                ));
            }
        }
    }
    let at = |k: &'static str| {
        given
            .iter()
            .find(|(n, _)| *n == k)
            .and_then(|(_, s)| s.clone())
            .unwrap_or(span.clone())
    };
    let r = match fam {
        "fixed" => Dist::fixed(need("value", &s.value, fam)?),
        "uniform" => Dist::new(DistParams::Uniform {
            min: need("min", &s.min, fam)?,
            max: need("max", &s.max, fam)?,
        }),
        "triangular" => Dist::new(DistParams::Triangular {
            min: need("min", &s.min, fam)?,
            mode: need("mode", &s.mode, fam)?,
            max: need("max", &s.max, fam)?,
        }),
        "pert" => Dist::new(DistParams::Pert {
            min: need("min", &s.min, fam)?,
            mode: need("mode", &s.mode, fam)?,
            max: need("max", &s.max, fam)?,
        }),
        "exponential" => Dist::new(DistParams::Exponential {
            mean: need("mean", &s.mean, fam)?,
        }),
        "lognormal" if s.mu.is_some() || s.sigma.is_some() => Dist::new(DistParams::Lognormal {
            mu: need("mu", &s.mu, fam)?,
            sigma: need("sigma", &s.sigma, fam)?,
        }),
        "lognormal" => {
            Dist::lognormal_median_p95(need("median", &s.median, fam)?, need("p95", &s.p95, fam)?)
        }
        "gamma" if s.mean.is_some() || s.sd.is_some() => {
            Dist::gamma_mean_sd(need("mean", &s.mean, fam)?, need("sd", &s.sd, fam)?)
        }
        "gamma" => Dist::new(DistParams::Gamma {
            shape: need("shape", &s.shape, fam)?,
            scale: need("scale", &s.scale, fam)?,
        }),
        "beta" => Dist::beta_mean_sd(need("mean", &s.mean, fam)?, need("sd", &s.sd, fam)?),
        "empirical" => Dist::new(DistParams::Empirical {
            values: s
                .values
                .as_ref()
                .map(|v| v.get_ref().clone())
                .unwrap_or_default(),
        }),
        _ => unreachable!("family checked above"),
    };
    r.map_err(|e| (at(e.key), e))
}
