//! The instruction-set dispatch: the step loop is compiled once for the baseline and once for
//! AVX2, and the widest the CPU has is chosen at run time.

use super::state::Scratch;
use super::step::lockstep;
use super::Lockstep;
use crate::model::Model;
use crate::shocks::Event;
use crate::stats::CurveAcc;

/// Instruction sets the step loop is compiled for. Every lane operation is IEEE arithmetic
/// lane by lane (no fused multiply-add), so each computes the same bits; wider vectors only
/// take fewer instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// What every CPU of the target has (SSE2 on x86-64): two `f64` per instruction.
    Baseline,
    /// x86-64 with AVX2 (and POPCNT, which every CPU with AVX2 has): four `f64` per
    /// instruction.
    Avx2,
}

impl Isa {
    /// The widest instruction set this CPU has, unless the environment variable
    /// `SUPPLYSHOCK_ISA=baseline` asks for the baseline (to compare speeds: results are the
    /// same either way). Decided once per process.
    pub fn best() -> Isa {
        static BEST: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            let forced = std::env::var("SUPPLYSHOCK_ISA").is_ok_and(|v| v == "baseline");
            if Isa::Avx2.supported() && !forced {
                Isa::Avx2
            } else {
                Isa::Baseline
            }
        })
    }

    /// Whether this CPU can run code compiled for `self` (detected once, then cached).
    pub fn supported(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx2 => false,
        }
    }
}

/// [`run_lockstep`](super::run_lockstep) on the step loop compiled for `isa`; on a CPU without
/// it, on the baseline.
pub fn run_lockstep_on<E: AsRef<[Event]>>(isa: Isa, runs: &mut [Lockstep<'_, E>]) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if isa.supported() => {
            // SAFETY: the one requirement for calling a function compiled with a target
            // feature is that the CPU has it, and the guard of this arm has just checked that.
            #[allow(unsafe_code)]
            unsafe {
                lockstep_avx2(runs)
            }
        }
        _ => lockstep(runs),
    }
}

/// [`run_group`](super::run_group) on the step loop compiled for `isa`.
pub fn run_group_on<E: AsRef<[Event]>>(
    isa: Isa,
    model: &Model,
    scratch: &mut Scratch,
    events: &[E],
    curves: Option<&mut CurveAcc>,
) {
    let run = Lockstep {
        model,
        scratch,
        events,
        curves,
    };
    run_lockstep_on(isa, &mut [run]);
}

/// The step loop compiled for AVX2: everything hot is inlined into it, so it all is.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn lockstep_avx2<E: AsRef<[Event]>>(runs: &mut [Lockstep<'_, E>]) {
    lockstep(runs);
}
