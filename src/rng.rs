//! Random streams keyed by (seed, trial index, purpose): a trial sees the same draws whatever the
//! thread count, the shard or the strategy being run (common random numbers).

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator every draw in the engine takes explicitly.
pub type TrialRng = Xoshiro256PlusPlus;

/// What a stream is for; each purpose gets an independent stream.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// Events of one shock instance.
    Shock { shock: u32, instance: u32 },
    /// Trigger coins of one shock (drawn in the order of its events).
    Trigger { shock: u32 },
    /// Durations and severities of events that another shock triggered.
    Triggered { shock: u32 },
    /// Losses drawn for estimator tests.
    Test(u32),
}

impl Purpose {
    fn code(self) -> u64 {
        match self {
            Purpose::Shock { shock, instance } => {
                (1 << 62) | (u64::from(shock) << 32) | u64::from(instance)
            }
            Purpose::Trigger { shock } => (2 << 62) | u64::from(shock),
            Purpose::Triggered { shock } => (3 << 62) | u64::from(shock),
            Purpose::Test(k) => (1 << 61) | u64::from(k),
        }
    }
}

/// SplitMix64 finaliser: a bijective mix of 64 bits.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn stream(seed: u64, trial: u64, purpose: Purpose) -> TrialRng {
    let key = mix64(mix64(mix64(seed) ^ trial) ^ purpose.code());
    TrialRng::seed_from_u64(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    const PINNED: &str = "8d348081e2e382e0";

    #[test]
    fn streams_are_pinned() {
        // Value stability: results files depend on these draws staying the same across versions.
        let mut r = stream(
            2024,
            7,
            Purpose::Shock {
                shock: 1,
                instance: 0,
            },
        );
        let x: u64 = r.random();
        let mut again = stream(
            2024,
            7,
            Purpose::Shock {
                shock: 1,
                instance: 0,
            },
        );
        assert_eq!(x, again.random::<u64>());
        let mut other = stream(
            2024,
            8,
            Purpose::Shock {
                shock: 1,
                instance: 0,
            },
        );
        assert_ne!(x, other.random::<u64>());
        assert_eq!(format!("{x:016x}"), PINNED);
    }
}
