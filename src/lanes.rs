//! A fixed group of trials computed side by side: one `f64` per trial, operated on together.
//!
//! Every trial runs the same network, so the engine walks the network once per step for the
//! whole group and does each element's arithmetic on all lanes at once. The per-element cost of
//! walking the network (indices, loop control, bounds checks) is shared by [`LANES`] trials, and
//! the lane loops compile to SIMD instructions. Each lane computes exactly what a trial run on
//! its own would: the operations are the same, lane by lane.

use std::ops::{Add, AddAssign, Div, Mul, Sub, SubAssign};

/// Trials per group.
pub const LANES: usize = 8;
// A mask's lanes fit the bits of a u16 (`Mask::bits`).
const _: () = assert!(LANES <= 16);

/// One flag per lane, as all-ones or all-zero bits (what a SIMD compare yields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mask(pub [u64; LANES]);

impl Mask {
    /// Lanes where `f(l)` holds.
    #[inline(always)]
    pub fn from_fn(f: impl Fn(usize) -> bool) -> Mask {
        Mask(std::array::from_fn(|l| if f(l) { u64::MAX } else { 0 }))
    }

    /// One bit per lane, lane 0 lowest.
    /// The mask with lane `l` set where bit `l` of `bits` is.
    #[inline(always)]
    pub fn from_bits(bits: u8) -> Mask {
        BIT_MASKS[bits as usize]
    }

    #[inline(always)]
    pub fn bits(self) -> u16 {
        (0..LANES).fold(0, |acc, l| acc | (u16::from(self.0[l] != 0) << l))
    }
}

impl std::ops::BitAnd for Mask {
    type Output = Mask;
    #[inline(always)]
    fn bitand(self, o: Mask) -> Mask {
        Mask(std::array::from_fn(|l| self.0[l] & o.0[l]))
    }
}

impl std::ops::BitAndAssign for Mask {
    #[inline(always)]
    fn bitand_assign(&mut self, o: Mask) {
        *self = *self & o;
    }
}

/// The lane mask of each u8 bit pattern: lane `l` set where bit `l` is.
static BIT_MASKS: [Mask; 256] = {
    let mut t = [Mask([0; LANES]); 256];
    let mut b = 0;
    while b < 256 {
        let mut l = 0;
        while l < LANES {
            if b >> l & 1 != 0 {
                t[b].0[l] = u64::MAX;
            }
            l += 1;
        }
        b += 1;
    }
    t
};

/// The minimum of `a` and `b` as lanes compute it: one compare, no NaN fix-up. A NaN in `a`
/// yields `b`, as `f64::min` does (`b` must not be NaN). Code written per lane uses this, so it
/// computes the bits that lane arithmetic does.
#[inline(always)]
pub fn min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// The maximum of `a` and `b` as lanes compute it; a NaN in `a` yields `b` (see [`min`]).
#[inline(always)]
pub fn max(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

/// `if gap > floor { gap.min(cap) } else { 0 }`: a refill order under its rate cap, none for a
/// gap at most `floor` (rounding's share of a stock's level: see [`refill_floor`]).
#[inline(always)]
pub fn positive_min(gap: f64, floor: f64, cap: f64) -> f64 {
    if gap > floor {
        gap.min(cap)
    } else {
        0.0
    }
}

/// The largest gap below `level` that counts as none: stock, arrivals and goods in transit
/// add up to the level only to rounding, and a gap of rounding would otherwise order a refill
/// of a few units in the last place of the level (and bid in a market that is calm).
#[inline(always)]
pub fn refill_floor(level: f64) -> f64 {
    level * 1e-12
}

/// One `f64` per lane.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(64))]
pub struct Lanes(pub [f64; LANES]);

impl Lanes {
    pub const ZERO: Lanes = Lanes([0.0; LANES]);
    pub const ONE: Lanes = Lanes([1.0; LANES]);

    #[inline(always)]
    pub const fn splat(x: f64) -> Lanes {
        Lanes([x; LANES])
    }

    #[inline(always)]
    fn zip(self, o: Lanes, f: impl Fn(f64, f64) -> f64) -> Lanes {
        Lanes(std::array::from_fn(|l| f(self.0[l], o.0[l])))
    }

    /// Lane-wise minimum; a NaN in `self` yields `o`, as `f64::min` does (one compare, no NaN
    /// fix-up: `o` must not be NaN).
    #[inline(always)]
    pub fn min(self, o: Lanes) -> Lanes {
        self.zip(o, |a, b| if a < b { a } else { b })
    }

    /// Lane-wise maximum; a NaN in `self` yields `o`, as `f64::max` does (`o` must not be NaN).
    #[inline(always)]
    pub fn max(self, o: Lanes) -> Lanes {
        self.zip(o, |a, b| if a > b { a } else { b })
    }

    /// Per lane `l`: `on` where bit `l` of `bits` is set, else `off` (no branch: the lane
    /// masks of all 256 bit patterns are a table).
    #[inline(always)]
    pub fn select_bits(bits: u8, on: f64, off: f64) -> Lanes {
        Lanes::select(
            BIT_MASKS[bits as usize],
            Lanes::splat(on),
            Lanes::splat(off),
        )
    }

    /// Lane-wise `if mask { a } else { b }`.
    #[inline(always)]
    pub fn select(mask: Mask, a: Lanes, b: Lanes) -> Lanes {
        Lanes(std::array::from_fn(|l| {
            f64::from_bits((a.0[l].to_bits() & mask.0[l]) | (b.0[l].to_bits() & !mask.0[l]))
        }))
    }

    /// Lanes where `self > o`.
    #[inline(always)]
    pub fn gt(self, o: Lanes) -> Mask {
        Mask::from_fn(|l| self.0[l] > o.0[l])
    }

    /// Lanes where `self >= o`.
    #[inline(always)]
    pub fn ge(self, o: Lanes) -> Mask {
        Mask::from_fn(|l| self.0[l] >= o.0[l])
    }

    /// Lanes where `self == o` (as numbers: 0.0 equals -0.0, NaN equals nothing). Not `eq`:
    /// `==` on the whole group (every lane equal) is `PartialEq`'s.
    #[inline(always)]
    pub fn eq_mask(self, o: Lanes) -> Mask {
        Mask::from_fn(|l| self.0[l] == o.0[l])
    }

    /// Lane-wise absolute value.
    #[inline(always)]
    pub fn abs(self) -> Lanes {
        Lanes(self.0.map(f64::abs))
    }

    /// Lane-wise [`positive_min`].
    #[inline(always)]
    pub fn positive_min(self, floor: f64, cap: f64) -> Lanes {
        Lanes(std::array::from_fn(|l| positive_min(self.0[l], floor, cap)))
    }

    /// Lane-wise `trunc`, as integers, of values in [0, 2^52): exact, in lane arithmetic (SSE2
    /// has no rounding instruction, and `as` casts compile to one conversion per lane). Adding
    /// 2^52, whose unit in the last place is 1, leaves the value rounded to the nearest integer
    /// in the low bits; a lane that rounded up is above its value, and its all-ones compare
    /// mask, added to the bits, takes one off.
    #[inline(always)]
    pub fn trunc_ints(self) -> [u64; LANES] {
        const TWO52: f64 = (1u64 << 52) as f64;
        let z = self + TWO52;
        let up = (z - TWO52).gt(self);
        std::array::from_fn(|l| {
            z.0[l]
                .to_bits()
                .wrapping_add(up.0[l])
                .wrapping_sub(TWO52.to_bits())
        })
    }
}

macro_rules! lane_op {
    ($tr:ident, $f:ident, $tra:ident, $fa:ident, $op:tt) => {
        impl $tr for Lanes {
            type Output = Lanes;
            #[inline(always)]
            fn $f(self, o: Lanes) -> Lanes {
                Lanes(std::array::from_fn(|l| self.0[l] $op o.0[l]))
            }
        }
        impl $tr<f64> for Lanes {
            type Output = Lanes;
            #[inline(always)]
            fn $f(self, o: f64) -> Lanes {
                Lanes(std::array::from_fn(|l| self.0[l] $op o))
            }
        }
        impl $tra for Lanes {
            #[inline(always)]
            fn $fa(&mut self, o: Lanes) {
                for l in 0..LANES {
                    self.0[l] = self.0[l] $op o.0[l];
                }
            }
        }
    };
}
lane_op!(Add, add, AddAssign, add_assign, +);
lane_op!(Sub, sub, SubAssign, sub_assign, -);
lane_op!(Mul, mul, MulAssign, mul_assign, *);
lane_op!(Div, div, DivAssign, div_assign, /);

use std::ops::{DivAssign, MulAssign};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunc_ints_is_exact() {
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            1.0,
            1.5,
            2.5,
            99.999_999_999,
            100.0,
            4294967295.75,
        ];
        xs.extend([
            1e-300,
            0.999_999_999_999_999_9,
            (1u64 << 32) as f64,
            4.5e15 + 0.5,
        ]);
        xs.extend((0..1000).map(|i| i as f64 * 0.1 + 1e-9 * (i % 7) as f64));
        for chunk in xs.chunks(LANES) {
            let mut v = Lanes::ZERO;
            v.0[..chunk.len()].copy_from_slice(chunk);
            let t = v.trunc_ints();
            for (l, &x) in chunk.iter().enumerate() {
                assert_eq!(t[l], x.trunc() as u64, "trunc of {x}");
            }
        }
    }

    #[test]
    fn lanes_compute_what_scalars_do() {
        let a = Lanes(std::array::from_fn(|l| l as f64 - 3.0));
        let b = Lanes::splat(2.0);
        for l in 0..LANES {
            let (x, y) = (a.0[l], b.0[l]);
            assert_eq!((a + b).0[l], x + y);
            assert_eq!((a - b).0[l], x - y);
            assert_eq!((a * b).0[l], x * y);
            assert_eq!((a / b).0[l], x / y);
            assert_eq!(a.min(b).0[l], x.min(y));
            assert_eq!(a.gt(b).0[l] != 0, x > y);
            assert_eq!(a.ge(b).0[l] != 0, x >= y);
            assert_eq!(a.eq_mask(b).0[l] != 0, x == y);
            assert_eq!((a.ge(b) & a.eq_mask(b)).0[l] != 0, x >= y && x == y);
            assert_eq!(a.abs().0[l], x.abs());
            assert_eq!(a.max(b).0[l], x.max(y));
            assert_eq!(
                a.positive_min(0.5, 1.5).0[l],
                if x > 0.5 { x.min(1.5) } else { 0.0 }
            );
        }
        let nan = Lanes::splat(f64::NAN);
        assert_eq!(
            nan.min(b),
            b,
            "a NaN in self yields the other operand, like f64::min"
        );
        assert_eq!(nan.max(b), b);
        let m = a.gt(Lanes::ZERO);
        for l in 0..LANES {
            let x = a.0[l];
            assert_eq!(m.bits() >> l & 1 == 1, x > 0.0);
            assert_eq!(Lanes::select(m, a, b).0[l], if x > 0.0 { x } else { 2.0 });
        }
    }
}
