//! A second hand-written kernel of reference-30, as a stronger yardstick than the per-step one
//! in `../shared/bench/limit`: the same model, flows and arithmetic (f32 flows, f64 sums), but
//! each supplier's outages are sampled as spell lengths instead of with one draw per supplier
//! and step.
//!
//! A supplier that is up fails in a step with probability `p`, one that is down is repaired
//! with probability `r`: the steps an up spell lasts are geometric, and so are those of a down
//! spell. So each supplier keeps the step at which it next changes state and draws only when
//! it does (about one draw in twelve steps here, against one a step), from a table rather than
//! a logarithm; the flows, which change only when some supplier does, are worked out only
//! then; the importers' stocks still move step by step, with the same arithmetic. The first spell starts
//! before step 0, so the first failure can fall on step 0 itself, as in the per-step kernel;
//! a supplier down at step `t` is repaired at `t + D` with `D >= 1`, and one repaired at `t`
//! fails again at `t + U` with `U >= 1`.

// Written index by index, as the per-step kernel is, so that the two read side by side.
#![allow(clippy::needless_range_loop)]

use rayon::prelude::*;

const N: usize = 10;
/// Per-step probability that a working supplier fails, and that a failed one is repaired.
const FAIL: f64 = 0.05;
const REPAIR: f64 = 0.2;

/// splitmix64, as in the per-step kernel.
#[inline(always)]
fn next(s: &mut u64) -> u64 {
    *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *s;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Geometric spell lengths (the number of failures before the first success, success
/// probability `1 - q`) by inversion: for `u` uniform on (0, 1], the length is the largest `k`
/// with `q^k >= u`. A table of `q^k` and a guide table over the top bits of `u` (where to start
/// the search) make a draw a few comparisons, without a logarithm.
struct Geometric {
    /// `q^k`, until it falls below the smallest `u` (2^-53).
    tail: Vec<f64>,
    /// Per bucket `j` of `u` ((j/M, (j+1)/M]): the largest `k` with `q^k >= (j+1)/M`.
    guide: Vec<u32>,
}

/// Guide buckets: the top bits of a draw.
const GUIDE_BITS: u32 = 10;

impl Geometric {
    fn new(success: f64) -> Geometric {
        let q = 1.0 - success;
        let mut tail = vec![1.0];
        while *tail.last().expect("not empty") >= 1.0 / (1u64 << 53) as f64 {
            let last = *tail.last().expect("not empty");
            tail.push(last * q);
        }
        let m = 1usize << GUIDE_BITS;
        let guide = (0..m)
            .map(|j| {
                let edge = (j + 1) as f64 / m as f64;
                (tail.iter().take_while(|&&x| x >= edge).count() - 1) as u32
            })
            .collect();
        Geometric { tail, guide }
    }

    #[inline(always)]
    fn sample(&self, rng: &mut u64) -> u32 {
        let v = next(rng) >> 11;
        let u = (v + 1) as f64 * (1.0 / (1u64 << 53) as f64);
        let mut k = self.guide[(v >> (53 - GUIDE_BITS)) as usize] as usize;
        while self.tail[k + 1] >= u {
            k += 1;
        }
        k as u32
    }
}

/// One trial's fill rate over `periods` steps, with `up` and `down` the spell lengths (in
/// failures before a change) of a working and of a failed supplier, and `calendar` a buffer of
/// `periods` entries.
fn trial(seed: u64, periods: u32, up: &Geometric, down: &Geometric, calendar: &mut [u32]) -> f64 {
    let mut rng = seed;
    // Per step, the suppliers (bits) that change state at it.
    calendar.fill(0);
    let schedule = |calendar: &mut [u32], at: u32, i: usize| {
        if at < periods {
            calendar[at as usize] |= 1 << i;
        }
    };
    for i in 0..2 * N {
        let at = up.sample(&mut rng);
        schedule(calendar, at, i);
    }
    let mut failed = 0u32;
    let mut supply = [10.0f32; N];
    let mut inv = [30.0f32; N];
    let (mut served, mut demanded) = (0.0f64, 0.0f64);
    for t in 0..periods {
        let mut changed = calendar[t as usize];
        if changed != 0 {
            failed ^= changed;
            while changed != 0 {
                let i = changed.trailing_zeros() as usize;
                changed &= changed - 1;
                let spell = if failed >> i & 1 != 0 { down } else { up };
                let at = t.saturating_add(1).saturating_add(spell.sample(&mut rng));
                schedule(calendar, at, i);
            }
            // The flows change only with the suppliers' states.
            let mut raw = [0.0f32; N];
            for i in 0..N {
                raw[i] = if failed >> i & 1 != 0 { 0.0 } else { 10.0 };
            }
            let mut processed = [0.0f32; N];
            for j in 0..N {
                let avail = (raw[j] + raw[(j + 1) % N] + raw[(j + 2) % N]) / 3.0;
                processed[j] = if failed >> (N + j) & 1 != 0 {
                    0.0
                } else {
                    avail
                };
            }
            for k in 0..N {
                supply[k] = (processed[k] + processed[(k + 1) % N] + processed[(k + 2) % N]) / 3.0;
            }
        }
        for k in 0..N {
            let have = inv[k] + supply[k];
            let use_ = have.min(10.0);
            served += use_ as f64;
            demanded += 10.0;
            inv[k] = (have - use_).min(30.0);
        }
    }
    served / demanded
}

/// `trials` trials of 365 steps on every core: node-steps per second (30 nodes), the mean fill
/// rate and its standard error.
pub fn run(trials: u64) -> (f64, f64, f64) {
    let periods = 365;
    let (up, down) = (Geometric::new(FAIL), Geometric::new(REPAIR));
    let start = std::time::Instant::now();
    let (sum, sq) = (0..trials)
        .into_par_iter()
        .map_init(
            || vec![0u32; periods as usize],
            |calendar, i| {
                let seed = i.wrapping_mul(0x1234567).wrapping_add(1);
                trial(seed, periods, &up, &down, calendar)
            },
        )
        .map(|f| (f, f * f))
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let secs = start.elapsed().as_secs_f64();
    let n = trials as f64;
    let mean = sum / n;
    let se = ((sq / n - mean * mean) / n).max(0.0).sqrt();
    (30.0 * periods as f64 * n / secs, mean, se)
}
