//! Sampling one trial's shock events from the model's shock processes.
//!
//! Every shock instance draws from its own stream, so adding a shock or a strategy never shifts
//! the draws of another. Markov outages are sampled as alternating sojourns (one draw per
//! outage, not one per step).

use rand::Rng;
use rand_distr::Exp1;

use crate::model::{Model, Shock, Timing};
use crate::rng::{stream, Purpose, TrialRng};

/// One shock event: it hits `instance` of `shock` with full `severity` on steps `[start, end)`,
/// then eases off over the shock's recovery steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub shock: u32,
    pub instance: u32,
    pub start: u32,
    pub end: u32,
    pub severity: f64,
}

impl Event {
    /// Severity in force at `step`, counting the linear recovery after `end`.
    #[inline]
    pub fn severity_at(&self, step: u32, recovery_steps: u32) -> f64 {
        severity_at(self.severity, self.end, step, recovery_steps)
    }
}

/// Severity in force at `step` of an event of full `severity` until `end`, easing off linearly
/// over `recovery_steps` after it.
#[inline]
pub fn severity_at(severity: f64, end: u32, step: u32, recovery_steps: u32) -> f64 {
    if step < end {
        severity
    } else {
        let j = step - end;
        if j >= recovery_steps {
            0.0
        } else {
            severity * f64::from(recovery_steps - j) / f64::from(recovery_steps + 1)
        }
    }
}

/// Steps until the first success of a Bernoulli(p) trial repeated each step, counting failures
/// only (0 when the first step succeeds).
///
/// Drawn as floor(E / λ) with E ~ Exp(1) and λ = -ln(1 - p): P(X >= k) = P(E >= kλ) = (1 - p)^k.
/// The exponential comes from a ziggurat (mostly a table look-up, no logarithm), and λ is
/// computed once per process, not per draw.
#[derive(Debug, Clone, Copy)]
pub struct Geometric {
    p: f64,
    rate: f64,
}

impl Geometric {
    pub fn new(p: f64) -> Geometric {
        Geometric {
            p,
            rate: -(-p).ln_1p(),
        }
    }

    /// One draw; `u32::MAX` for p = 0.
    #[inline]
    pub fn sample(&self, rng: &mut TrialRng) -> u32 {
        if self.p >= 1.0 {
            return 0;
        }
        if self.p <= 0.0 {
            return u32::MAX;
        }
        let e: f64 = rng.sample(Exp1);
        // Never negative, so the cast floors (and saturates at u32::MAX).
        (e / self.rate) as u32
    }
}

/// Sample every event of trial `trial` into `out` (cleared first), sorted by start step.
pub fn sample_trial(model: &Model, seed: u64, trial: u64, out: &mut Vec<Event>) {
    out.clear();
    let n_steps = model.n_steps;
    for (si, shock) in model.shocks.iter().enumerate() {
        let si = si as u32;
        for instance in 0..shock.instances.len() as u32 {
            let mut rng = stream(
                seed,
                trial,
                Purpose::Shock {
                    shock: si,
                    instance,
                },
            );
            sample_instance(model, shock, si, instance, n_steps, &mut rng, out);
        }
    }
    // Triggers: walk events in order of creation; triggered events may trigger further ones.
    if model.shocks.iter().any(|s| !s.triggers.is_empty()) {
        let mut coin: Vec<Option<TrialRng>> = vec![None; model.shocks.len()];
        let mut child: Vec<Option<TrialRng>> = vec![None; model.shocks.len()];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i];
            i += 1;
            // One trigger decision per parent event, not per instance of an independent parent.
            if parent.instance != 0 && model.shocks[parent.shock as usize].instances.len() > 1 {
                continue;
            }
            for t in &model.shocks[parent.shock as usize].triggers {
                let c = coin[parent.shock as usize].get_or_insert_with(|| {
                    stream(
                        seed,
                        trial,
                        Purpose::Trigger {
                            shock: parent.shock,
                        },
                    )
                });
                let fire = c.random::<f64>() < t.probability;
                let start = parent.start.saturating_add(t.lag_steps);
                if !fire || start >= n_steps {
                    continue;
                }
                let target = &model.shocks[t.shock.ix()];
                let r = child[t.shock.ix()].get_or_insert_with(|| {
                    stream(seed, trial, Purpose::Triggered { shock: t.shock.0 })
                });
                for instance in 0..target.instances.len() as u32 {
                    let (dur, sev) = draw_event(model, target, r);
                    out.push(Event {
                        shock: t.shock.0,
                        instance,
                        start,
                        end: start.saturating_add(dur).min(n_steps),
                        severity: sev,
                    });
                }
            }
        }
    }
    sort_by_start(out, n_steps);
}

/// Sort events by start step. Events with equal starts differ in what they hit or when they end,
/// and the engine combines overlapping events order-independently (largest severity), so their
/// order does not matter. With many events per step of horizon, a counting sort on the start
/// (linear, stable); otherwise a comparison sort.
fn sort_by_start(out: &mut Vec<Event>, n_steps: u32) {
    if out.len() < 32 || out.len() < n_steps as usize / 4 {
        out.sort_unstable_by_key(|e| (e.start, e.shock, e.instance));
        return;
    }
    let last = out.iter().map(|e| e.start).max().unwrap_or(0) as usize;
    let mut first = vec![0u32; last + 2];
    for e in out.iter() {
        first[e.start as usize + 1] += 1;
    }
    for t in 1..first.len() {
        first[t] += first[t - 1];
    }
    let mut sorted = vec![out[0]; out.len()];
    for e in out.iter() {
        let at = &mut first[e.start as usize];
        sorted[*at as usize] = *e;
        *at += 1;
    }
    *out = sorted;
}

/// Trial `trial`'s events, as [`sample_trial`] draws them, with `forced` ones added (the shock a
/// what-if fires in every trial), still sorted by start: a stable sort, so the drawn events keep
/// their order among equal starts.
pub fn sample_trial_with(
    model: &Model,
    seed: u64,
    trial: u64,
    forced: &[Event],
    out: &mut Vec<Event>,
) {
    sample_trial(model, seed, trial, out);
    if !forced.is_empty() {
        out.extend_from_slice(forced);
        out.sort_by_key(|e| e.start);
    }
}

fn draw_event(model: &Model, shock: &Shock, rng: &mut TrialRng) -> (u32, f64) {
    let dur = shock
        .duration_days
        .as_ref()
        .map_or(1, |d| model.days_to_steps(d.sample(rng)).max(1));
    (dur, shock.severity.sample(rng))
}

fn sample_instance(
    model: &Model,
    shock: &Shock,
    si: u32,
    instance: u32,
    n_steps: u32,
    rng: &mut TrialRng,
    out: &mut Vec<Event>,
) {
    if !shock.enabled {
        return;
    }
    match shock.timing {
        Timing::Poisson { rate_per_day } => {
            if rate_per_day <= 0.0 {
                return;
            }
            let horizon = f64::from(model.horizon_days);
            let mut day = 0.0;
            loop {
                day += -(1.0 - rng.random::<f64>()).ln() / rate_per_day;
                if day >= horizon {
                    break;
                }
                // Non-negative: the cast floors.
                let start = (day / f64::from(model.step_days)) as u32;
                let (dur, severity) = draw_event(model, shock, rng);
                out.push(Event {
                    shock: si,
                    instance,
                    start,
                    end: start.saturating_add(dur).min(n_steps),
                    severity,
                });
            }
        }
        Timing::Markov { down, up } => {
            // Up before step 0; each step moves the state once, step 0 included.
            let (fail, repair) = (Geometric::new(down), Geometric::new(up));
            let mut t: u32 = 0;
            loop {
                let start = t.saturating_add(fail.sample(rng));
                if start >= n_steps {
                    break;
                }
                let dur = repair.sample(rng).saturating_add(1);
                let end = start.saturating_add(dur).min(n_steps);
                let severity = shock.severity.sample(rng);
                out.push(Event {
                    shock: si,
                    instance,
                    start,
                    end,
                    severity,
                });
                if end >= n_steps {
                    break;
                }
                t = end + 1;
            }
        }
        Timing::At { step } => {
            let (dur, severity) = draw_event(model, shock, rng);
            out.push(Event {
                shock: si,
                instance,
                start: step,
                end: step.saturating_add(dur).min(n_steps),
                severity,
            });
        }
        Timing::Triggered => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn geometric_tail_matches_closed_form() {
        // P(X >= k) = (1 - p)^k; check k = 3 with p = 0.2 within 4 standard errors.
        let mut rng = TrialRng::seed_from_u64(9);
        let g = Geometric::new(0.2);
        let n = 100_000;
        let hits = (0..n).filter(|_| g.sample(&mut rng) >= 3).count() as f64 / n as f64;
        let p = 0.8f64.powi(3);
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((hits - p).abs() < 4.0 * se, "{hits} vs {p}");
    }

    #[test]
    fn recovery_ramps_linearly_to_zero() {
        let e = Event {
            shock: 0,
            instance: 0,
            start: 0,
            end: 10,
            severity: 1.0,
        };
        assert_eq!(e.severity_at(9, 3), 1.0);
        assert_eq!(e.severity_at(10, 3), 0.75);
        assert_eq!(e.severity_at(12, 3), 0.25);
        assert_eq!(e.severity_at(13, 3), 0.0);
    }
}
