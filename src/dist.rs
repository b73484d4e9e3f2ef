//! Validated probability distributions for shock durations and severities.
//!
//! A [`Dist`] can only be built through [`Dist::new`], which checks every parameter (NaN-safe)
//! and says which rule failed; sampling then cannot fail.

use rand::Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma, LogNormal, Pert, Triangular, Uniform};
use serde::Serialize;

/// z such that P(Z <= z) = 0.95 for a standard normal.
const Z95: f64 = 1.644_853_626_951_472_2;

/// The parameters as the user wrote them, one variant per family.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum DistParams {
    Fixed { value: f64 },
    Uniform { min: f64, max: f64 },
    Triangular { min: f64, mode: f64, max: f64 },
    Pert { min: f64, mode: f64, max: f64 },
    Exponential { mean: f64 },
    Lognormal { mu: f64, sigma: f64 },
    Gamma { shape: f64, scale: f64 },
    Beta { alpha: f64, beta: f64 },
    Empirical { values: Vec<f64> },
}

/// A distribution ready to sample.
#[derive(Debug, Clone)]
pub struct Dist {
    params: DistParams,
    sampler: Sampler,
}

#[derive(Debug, Clone)]
enum Sampler {
    Fixed(f64),
    Uniform(Uniform<f64>),
    Triangular(Triangular<f64>),
    Pert(Pert<f64>),
    Exp(Exp<f64>),
    LogNormal(LogNormal<f64>),
    Gamma(Gamma<f64>),
    Beta(Beta<f64>),
    Empirical(Vec<f64>),
}

/// Why a set of parameters does not describe a distribution; `key` names the offending parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct DistError {
    pub key: &'static str,
    pub message: String,
    pub hint: String,
}

fn err(key: &'static str, message: impl Into<String>, hint: impl Into<String>) -> DistError {
    DistError {
        key,
        message: message.into(),
        hint: hint.into(),
    }
}

/// The family names users may write after `dist =`.
pub const FAMILIES: &[&str] = &[
    "fixed",
    "uniform",
    "triangular",
    "pert",
    "exponential",
    "lognormal",
    "gamma",
    "beta",
    "empirical",
];

impl Dist {
    pub fn fixed(value: f64) -> Result<Dist, DistError> {
        Dist::new(DistParams::Fixed { value })
    }

    pub fn new(params: DistParams) -> Result<Dist, DistError> {
        let finite = |key: &'static str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(err(
                    key,
                    format!("expected a finite number, found {v}"),
                    "write a plain number",
                ))
            }
        };
        let sampler = match &params {
            DistParams::Fixed { value } => {
                finite("value", *value)?;
                Sampler::Fixed(*value)
            }
            DistParams::Uniform { min, max } => {
                finite("min", *min)?;
                finite("max", *max)?;
                if !(max > min) {
                    return Err(err(
                        "max",
                        format!("uniform needs max > min, found min {min}, max {max}"),
                        "swap them, or use a fixed value",
                    ));
                }
                Sampler::Uniform(
                    Uniform::new(*min, *max)
                        .map_err(|e| err("max", e.to_string(), "check min and max"))?,
                )
            }
            DistParams::Triangular { min, mode, max } | DistParams::Pert { min, mode, max } => {
                finite("min", *min)?;
                finite("mode", *mode)?;
                finite("max", *max)?;
                if !(max > min) {
                    return Err(err(
                        "max",
                        format!("needs max > min, found min {min}, max {max}"),
                        "swap min and max",
                    ));
                }
                if !(*mode >= *min && *mode <= *max) {
                    return Err(err(
                        "mode",
                        format!("mode {mode} lies outside [min {min}, max {max}]"),
                        "the mode must lie between min and max",
                    ));
                }
                if matches!(params, DistParams::Pert { .. }) {
                    Sampler::Pert(
                        Pert::new(*min, *max)
                            .with_mode(*mode)
                            .map_err(|e| err("mode", e.to_string(), "check min, mode and max"))?,
                    )
                } else {
                    Sampler::Triangular(
                        Triangular::new(*min, *max, *mode)
                            .map_err(|e| err("mode", e.to_string(), "check min, mode and max"))?,
                    )
                }
            }
            DistParams::Exponential { mean } => {
                if !(mean.is_finite() && *mean > 0.0) {
                    return Err(err(
                        "mean",
                        format!("exponential needs a finite mean > 0, found {mean}"),
                        "the mean is the average of the draws",
                    ));
                }
                Sampler::Exp(
                    Exp::new(1.0 / mean)
                        .map_err(|e| err("mean", e.to_string(), "use a positive mean"))?,
                )
            }
            DistParams::Lognormal { mu, sigma } => {
                finite("mu", *mu)?;
                if !(sigma.is_finite() && *sigma >= 0.0) {
                    return Err(err(
                        "sigma",
                        format!("lognormal needs sigma >= 0, found {sigma}"),
                        "sigma is the standard deviation of ln(x)",
                    ));
                }
                Sampler::LogNormal(
                    LogNormal::new(*mu, *sigma)
                        .map_err(|e| err("sigma", e.to_string(), "check mu and sigma"))?,
                )
            }
            DistParams::Gamma { shape, scale } => {
                if !(shape.is_finite() && *shape > 0.0) {
                    return Err(err(
                        "shape",
                        format!("gamma needs shape > 0, found {shape}"),
                        "shape = mean^2 / variance",
                    ));
                }
                if !(scale.is_finite() && *scale > 0.0) {
                    return Err(err(
                        "scale",
                        format!("gamma needs scale > 0, found {scale}"),
                        "scale = variance / mean",
                    ));
                }
                Sampler::Gamma(
                    Gamma::new(*shape, *scale)
                        .map_err(|e| err("shape", e.to_string(), "check shape and scale"))?,
                )
            }
            DistParams::Beta { alpha, beta } => {
                if !(alpha.is_finite() && *alpha > 0.0 && beta.is_finite() && *beta > 0.0) {
                    return Err(err(
                        "sd",
                        format!(
                            "beta parameters must be positive, found alpha {alpha}, beta {beta}"
                        ),
                        "lower sd",
                    ));
                }
                Sampler::Beta(
                    Beta::new(*alpha, *beta).map_err(|e| err("sd", e.to_string(), "lower sd"))?,
                )
            }
            DistParams::Empirical { values } => {
                if values.is_empty() {
                    return Err(err(
                        "values",
                        "empirical needs at least one value",
                        "list the observed values, e.g. values = [30, 45, 60]",
                    ));
                }
                if let Some(v) = values.iter().find(|v| !v.is_finite()) {
                    return Err(err(
                        "values",
                        format!("every value must be finite, found {v}"),
                        "remove the bad entry",
                    ));
                }
                Sampler::Empirical(values.clone())
            }
        };
        Ok(Dist { params, sampler })
    }

    /// Lognormal from its median and 95th percentile.
    pub fn lognormal_median_p95(median: f64, p95: f64) -> Result<Dist, DistError> {
        if !(median.is_finite() && median > 0.0) {
            return Err(err(
                "median",
                format!("lognormal needs a median > 0, found {median}"),
                "the median is the typical value",
            ));
        }
        if !(p95.is_finite() && p95 >= median) {
            return Err(err(
                "p95",
                format!("p95 ({p95}) is below the median ({median})"),
                "p95 must be at least the median: 95% of draws fall below it",
            ));
        }
        Dist::new(DistParams::Lognormal {
            mu: median.ln(),
            sigma: (p95 / median).ln() / Z95,
        })
    }

    /// Beta from its mean and standard deviation on [0, 1].
    pub fn beta_mean_sd(mean: f64, sd: f64) -> Result<Dist, DistError> {
        if !(mean > 0.0 && mean < 1.0) {
            return Err(err(
                "mean",
                format!("beta needs 0 < mean < 1, found {mean}"),
                "use a fixed value for 0 or 1",
            ));
        }
        let max_var = mean * (1.0 - mean);
        if !(sd > 0.0 && sd * sd < max_var) {
            return Err(err(
                "sd",
                format!("sd {sd} is too large for mean {mean}: a beta needs sd < sqrt(mean*(1-mean)) = {:.4}", max_var.sqrt()),
                format!("lower sd below {:.4}, or move the mean towards 0.5", max_var.sqrt()),
            ));
        }
        let k = max_var / (sd * sd) - 1.0;
        if !(k * mean).is_finite() || !(k * (1.0 - mean)).is_finite() {
            return Err(err(
                "sd",
                format!(
                    "sd {} is too small for a beta distribution",
                    crate::diag::num(sd)
                ),
                format!("raise sd, or write the value as a fixed number ({mean}) for no spread"),
            ));
        }
        Dist::new(DistParams::Beta {
            alpha: mean * k,
            beta: (1.0 - mean) * k,
        })
    }

    /// Gamma from its mean and standard deviation.
    pub fn gamma_mean_sd(mean: f64, sd: f64) -> Result<Dist, DistError> {
        if !(mean.is_finite() && mean > 0.0) {
            return Err(err(
                "mean",
                format!("gamma needs a mean > 0, found {mean}"),
                "use a positive mean",
            ));
        }
        if !(sd.is_finite() && sd > 0.0) {
            return Err(err(
                "sd",
                format!("gamma needs sd > 0, found {sd}"),
                "use a positive sd",
            ));
        }
        Dist::new(DistParams::Gamma {
            shape: (mean / sd).powi(2),
            scale: sd * sd / mean,
        })
    }

    pub fn params(&self) -> &DistParams {
        &self.params
    }

    /// Smallest and largest value a draw can take (may be infinite).
    pub fn support(&self) -> (f64, f64) {
        match &self.params {
            DistParams::Fixed { value } => (*value, *value),
            DistParams::Uniform { min, max }
            | DistParams::Triangular { min, max, .. }
            | DistParams::Pert { min, max, .. } => (*min, *max),
            DistParams::Exponential { .. } | DistParams::Gamma { .. } => (0.0, f64::INFINITY),
            DistParams::Lognormal { sigma, mu } => {
                if *sigma == 0.0 {
                    (mu.exp(), mu.exp())
                } else {
                    (0.0, f64::INFINITY)
                }
            }
            DistParams::Beta { .. } => (0.0, 1.0),
            DistParams::Empirical { values } => values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                    (lo.min(v), hi.max(v))
                }),
        }
    }

    /// The distribution's mean (closed form).
    pub fn mean(&self) -> f64 {
        match &self.params {
            DistParams::Fixed { value } => *value,
            DistParams::Uniform { min, max } => 0.5 * (min + max),
            DistParams::Triangular { min, mode, max } => (min + mode + max) / 3.0,
            DistParams::Pert { min, mode, max } => (min + 4.0 * mode + max) / 6.0,
            DistParams::Exponential { mean } => *mean,
            DistParams::Lognormal { mu, sigma } => (mu + 0.5 * sigma * sigma).exp(),
            DistParams::Gamma { shape, scale } => shape * scale,
            DistParams::Beta { alpha, beta } => alpha / (alpha + beta),
            DistParams::Empirical { values } => values.iter().sum::<f64>() / values.len() as f64,
        }
    }

    /// One draw. A fixed value draws nothing, and is inlined where it is called (severities are
    /// mostly fixed, and sampled once per event).
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self.sampler {
            Sampler::Fixed(v) => v,
            _ => self.sample_random(rng),
        }
    }

    fn sample_random<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.sampler {
            Sampler::Fixed(v) => *v,
            Sampler::Uniform(d) => d.sample(rng),
            Sampler::Triangular(d) => d.sample(rng),
            Sampler::Pert(d) => d.sample(rng),
            Sampler::Exp(d) => d.sample(rng),
            Sampler::LogNormal(d) => d.sample(rng),
            Sampler::Gamma(d) => d.sample(rng),
            Sampler::Beta(d) => d.sample(rng),
            Sampler::Empirical(v) => v[rng.random_range(0..v.len())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lognormal_from_median_and_p95_hits_both() {
        let d = Dist::lognormal_median_p95(60.0, 365.0).unwrap();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let n = 200_000;
        let mut xs: Vec<f64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        xs.sort_by(f64::total_cmp);
        // Order statistics: the sample quantile's standard error is sqrt(p(1-p)/n)/f(x); test in
        // probability space instead, where it is sqrt(p(1-p)/n).
        let below_median = xs.partition_point(|&x| x < 60.0) as f64 / n as f64;
        let below_p95 = xs.partition_point(|&x| x < 365.0) as f64 / n as f64;
        let se = |p: f64| (p * (1.0 - p) / n as f64).sqrt();
        assert!((below_median - 0.5).abs() < 4.0 * se(0.5), "{below_median}");
        assert!((below_p95 - 0.95).abs() < 4.0 * se(0.95), "{below_p95}");
    }

    #[test]
    fn beta_rejects_sd_too_large_for_mean() {
        let e = Dist::beta_mean_sd(0.9, 0.4).unwrap_err();
        assert_eq!(e.key, "sd");
        assert!(e.message.contains("too large"));
        let d = Dist::beta_mean_sd(0.75, 0.15).unwrap();
        assert!((d.mean() - 0.75).abs() < 1e-12);
    }

    #[test]
    fn nan_parameters_are_rejected() {
        assert!(Dist::new(DistParams::Uniform {
            min: f64::NAN,
            max: 1.0
        })
        .is_err());
        assert!(Dist::new(DistParams::Exponential { mean: f64::NAN }).is_err());
        assert!(Dist::lognormal_median_p95(f64::NAN, 2.0).is_err());
        assert!(Dist::beta_mean_sd(0.5, f64::NAN).is_err());
    }
}
