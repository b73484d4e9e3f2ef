//! Mergeable summaries of many trials.
//!
//! Two kinds of accumulator keep results independent of thread count and sharding:
//! - integer ones (histograms, fixed-point sums) merge in any order;
//! - float moments are summed sequentially within a fixed block of trials, and blocks are merged
//!   in block order, so float sums never depend on scheduling.
//!
//! Nothing is stored per trial and step. Per trial only each importer's loss is kept (exact tail
//! metrics need the sample).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lanes::{Lanes, LANES};

const NONE: u32 = u32::MAX;

/// One importer slot's outcome in one trial, filled in by the engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotTrial {
    pub demand: f64,
    pub unmet: f64,
    /// `unmet` with each step's units weighted by its discount factor (equal to `unmet`
    /// without a discount rate): what the unmet loss is counted on.
    pub unmet_pv: f64,
    /// Market materials: extra spend on what was bought, (p - p0) x quantity, in currency.
    pub extra_spend: f64,
    /// Market materials: consumer surplus lost on the demand given up, in currency.
    pub surplus_lost: f64,
    /// Market materials: the highest price paid, a multiple of the reference price (1
    /// elsewhere).
    pub peak_price: f64,
    /// Market materials: the lowest price paid, a multiple of the reference price (1
    /// elsewhere).
    pub trough_price: f64,
    pub steps_short: u32,
    /// Sum over steps of (1 - fill): the resilience triangle, in steps.
    pub shortfall_frac_sum: f64,
    pub max_depth: f64,
    /// First step with a shortage, or `u32::MAX`.
    pub first_short: u32,
    /// Steps from the onset of the supply deficit to the first shortage.
    pub tts: u32,
    /// Start of the first sustained full-service run after the first shortage, or `u32::MAX`.
    pub recovered_at: u32,
}

impl Default for SlotTrial {
    fn default() -> Self {
        SlotTrial {
            demand: 0.0,
            unmet: 0.0,
            unmet_pv: 0.0,
            extra_spend: 0.0,
            surplus_lost: 0.0,
            peak_price: 1.0,
            trough_price: 1.0,
            steps_short: 0,
            shortfall_frac_sum: 0.0,
            max_depth: 0.0,
            first_short: NONE,
            tts: 0,
            recovered_at: NONE,
        }
    }
}

impl SlotTrial {
    pub fn fill_rate(&self) -> f64 {
        if self.demand > 0.0 {
            (self.demand - self.unmet) / self.demand
        } else {
            1.0
        }
    }

    pub fn had_shortage(&self) -> bool {
        self.first_short != NONE
    }

    /// Time to survive in steps, when the slot ran short.
    pub fn tts_steps(&self) -> Option<u32> {
        self.had_shortage().then_some(self.tts)
    }

    /// Time to recover in steps, when the slot ran short and recovered within the horizon.
    pub fn ttr_steps(&self) -> Option<u32> {
        (self.had_shortage() && self.recovered_at != NONE)
            .then(|| self.recovered_at - self.first_short)
    }
}

/// Count, sum and sum of squares; merged in a fixed order. Stored as `[n, sum, sum_sq]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "(u64, f64, f64)", into = "(u64, f64, f64)")]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    #[inline]
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        self.sum += x;
        self.sum_sq += x * x;
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// Sample standard deviation.
    pub fn sd(&self) -> f64 {
        if self.n < 2 {
            return 0.0;
        }
        let n = self.n as f64;
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0))
            .max(0.0)
            .sqrt()
    }

    /// Standard error of the mean.
    pub fn se(&self) -> f64 {
        if self.n < 2 {
            0.0
        } else {
            self.sd() / (self.n as f64).sqrt()
        }
    }
}

impl From<(u64, f64, f64)> for Moments {
    fn from((n, sum, sum_sq): (u64, f64, f64)) -> Moments {
        Moments { n, sum, sum_sq }
    }
}

impl From<Moments> for (u64, f64, f64) {
    fn from(m: Moments) -> (u64, f64, f64) {
        (m.n, m.sum, m.sum_sq)
    }
}

impl std::ops::AddAssign<&Moments> for Moments {
    fn add_assign(&mut self, o: &Moments) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum_sq += o.sum_sq;
    }
}

/// Sums over trials of a vector of values and of every product of two of them: enough to give
/// the moments of the sum over any subset of the vector, exactly as if each trial's subset sum
/// had been pushed, up to the order of additions. Stored as `[n, sums, products]`, the products
/// of `i <= j` row by row; merged by addition in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "(u64, Vec<f64>, Vec<f64>)", into = "(u64, Vec<f64>, Vec<f64>)")]
pub struct CrossMoments {
    pub n: u64,
    pub sum: Vec<f64>,
    pub prod: Vec<f64>,
}

impl CrossMoments {
    /// Sums for vectors of `k` values.
    pub fn new(k: usize) -> CrossMoments {
        CrossMoments {
            n: 0,
            sum: vec![0.0; k],
            prod: vec![0.0; k * (k + 1) / 2],
        }
    }

    /// The length of the vectors summed.
    pub fn len(&self) -> usize {
        self.sum.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sum.is_empty()
    }

    /// Whether the products match the sums' length (a part read from a file may hold anything).
    pub fn is_consistent(&self) -> bool {
        let k = self.sum.len();
        self.prod.len() == k * (k + 1) / 2
    }

    pub fn push(&mut self, x: &[f64]) {
        debug_assert_eq!(x.len(), self.sum.len());
        self.n += 1;
        let mut p = 0;
        for (i, &a) in x.iter().enumerate() {
            self.sum[i] += a;
            for &b in &x[i..] {
                self.prod[p] += a * b;
                p += 1;
            }
        }
    }

    /// The moments of the per-trial sum over the entries `subset` (indices in increasing order).
    pub fn of_sum(&self, subset: &[usize]) -> Moments {
        let k = self.sum.len();
        // Row i starts after rows 0..i, of k - r products each.
        let row = |i: usize| i * k - i * i.saturating_sub(1) / 2;
        let mut m = Moments {
            n: self.n,
            sum: 0.0,
            sum_sq: 0.0,
        };
        for (a, &i) in subset.iter().enumerate() {
            m.sum += self.sum[i];
            for &j in &subset[a..] {
                let x = self.prod[row(i) + (j - i)];
                m.sum_sq += if i == j { x } else { 2.0 * x };
            }
        }
        m
    }
}

impl From<(u64, Vec<f64>, Vec<f64>)> for CrossMoments {
    fn from((n, sum, prod): (u64, Vec<f64>, Vec<f64>)) -> CrossMoments {
        CrossMoments { n, sum, prod }
    }
}

impl From<CrossMoments> for (u64, Vec<f64>, Vec<f64>) {
    fn from(m: CrossMoments) -> (u64, Vec<f64>, Vec<f64>) {
        (m.n, m.sum, m.prod)
    }
}

impl std::ops::AddAssign<&CrossMoments> for CrossMoments {
    fn add_assign(&mut self, o: &CrossMoments) {
        self.n += o.n;
        self.sum.iter_mut().zip(&o.sum).for_each(|(a, b)| *a += b);
        self.prod.iter_mut().zip(&o.prod).for_each(|(a, b)| *a += b);
    }
}

/// What a [`CurveAcc`] or a [`PriceAcc`] holds, its nonzero entries only: the histograms of
/// one trial touch one bin per row, so this is far smaller than the accumulator, and can be
/// added to one any number of times (integers: exactly).
#[derive(Debug, Clone, Default)]
pub struct Sparse {
    counts: Vec<(u32, u64)>,
    /// Per-row integers (sums, and a fill row's full-service count), per array.
    rows: Vec<Vec<(u32, u64)>>,
    /// Price rows' lowest and highest price (rows recorded only).
    ranges: Vec<(u32, (f64, f64))>,
}

impl Sparse {
    fn of(counts: &Counters, rows: &[&[u64]], range: &[(f64, f64)]) -> Sparse {
        let nonzero = |(i, &x): (usize, &u64)| (x != 0).then_some((i as u32, x));
        Sparse {
            counts: counts.nonzero().map(|(c, n)| (c as u32, n)).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().enumerate().filter_map(nonzero).collect())
                .collect(),
            ranges: range
                .iter()
                .enumerate()
                .filter(|(_, r)| r.1 != 0.0)
                .map(|(i, &r)| (i as u32, r))
                .collect(),
        }
    }

    /// Add `k` times the counts and per-row integers to `counts` and `rows` (the arrays
    /// this was made of, in the same order).
    fn add_to(&self, counts: &mut Counters, rows: &mut [&mut [u64]], k: u64) {
        for &(c, n) in &self.counts {
            counts.add(c as usize, n * k);
        }
        for (row, sparse) in rows.iter_mut().zip(&self.rows) {
            for &(i, x) in sparse {
                row[i as usize] += x * k;
            }
        }
    }
}

/// A row's lowest and highest price over two sets of trials, `(0, 0)` for a set without any.
fn merge_range(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    match (a.1 == 0.0, b.1 == 0.0) {
        (_, true) => a,
        (true, false) => b,
        (false, false) => (a.0.min(b.0), a.1.max(b.1)),
    }
}

/// Resolution of the fill histograms behind the percentile curves: bins of 1% of demand, the
/// last one holding full service exactly.
pub const FILL_BINS: usize = 101;
/// The bin of full service, the last.
const FULL_BIN: usize = FILL_BINS - 1;
const FIXED_ONE: f64 = (1u64 << 32) as f64;

/// The low bits of a counter, kept densely (see [`Counters`]).
pub trait Low: Copy + Default + Into<u64> {
    const BITS: u32;
    /// The low [`Low::BITS`] bits of `x`.
    fn truncate(x: u64) -> Self;
    fn overflowing_add(self, k: Self) -> (Self, bool);
}

macro_rules! impl_low {
    ($($t:ty),*) => {$(
        impl Low for $t {
            const BITS: u32 = <$t>::BITS;
            fn truncate(x: u64) -> $t {
                x as $t
            }
            #[inline(always)]
            fn overflowing_add(self, k: $t) -> ($t, bool) {
                <$t>::overflowing_add(self, k)
            }
        }
    )*};
}
impl_low!(u8, u16);

/// Add `k` to the low bits of counter `c`, `low`; a wrap carries 2^BITS into `carry`.
#[inline(always)]
fn add_counted<L: Low>(low: &mut L, k: L, carry: &mut Carry, c: usize) {
    let (v, wrapped) = low.overflowing_add(k);
    *low = v;
    if wrapped {
        carry.add(c, 1);
    }
}

/// The multiples of 2^BITS carried out of counters' low bits, by counter, and how many times
/// a carry was made.
#[derive(Debug, Clone, Default)]
struct Carry {
    map: BTreeMap<u32, u32>,
    made: u64,
}

impl Carry {
    fn add(&mut self, c: usize, k: u32) {
        *self.map.entry(c as u32).or_insert(0) += k;
        self.made += 1;
    }
}

/// The low bits of every counter: one byte each, or two once widened.
#[derive(Debug, Clone)]
enum Hist {
    Narrow(Vec<u8>),
    Wide(Vec<u16>),
}

/// Counters of trials: the low bits of each kept densely, the multiples of 2^bits carried out
/// of them kept by counter in `carry` (few while most counts are small: histograms of many
/// rows are mostly zeros and a few large bins). A count is `low[i] + 2^bits * carry[i]`.
/// Integer, so merging is exact in any order.
///
/// The low bits start one byte wide and widen to two for good once the carries would cost more
/// than the second byte: once there are more than one per sixteen counters (each takes about
/// sixteen bytes in the map), or a carry was made for one in four counters (a carry costs a map
/// update, and a byte-wide histogram of heavy bins makes one every 256 counts). A run keeps a
/// set of histograms per variant, shared by its worker threads: at a few thousand trials the
/// narrow width halves them; at a million the counts outgrow it, and the wide width keeps their
/// carries few. The width changes how counts are held, never what they are: equality,
/// merging and the stored form see counts only.
///
/// Serialized sparsely: the nonzero counts only, as pairs `gap, count` flattened into one
/// array, where `gap` is the number of zero counters skipped since the previous nonzero one
/// (or since the start), the carry folded into the count.
#[derive(Debug, Clone)]
pub struct Counters {
    hist: Hist,
    carry: Carry,
}

/// Run `$body` with `$h` bound to the low bits of `$hist`, whichever their width.
macro_rules! with_hist {
    ($hist:expr, $h:ident => $body:expr) => {
        match $hist {
            Hist::Narrow($h) => $body,
            Hist::Wide($h) => $body,
        }
    };
}

/// The nonzero counts of low bits `hist` (of [`Low::BITS`] bits) with carries `carry`, in
/// order.
fn nonzero_of<'a, L: Low>(
    hist: &'a [L],
    carry: &'a BTreeMap<u32, u32>,
) -> impl Iterator<Item = (usize, u64)> + 'a {
    let mut carry = carry.iter().peekable();
    hist.iter().enumerate().filter_map(move |(i, &low)| {
        let high = match carry.peek() {
            Some(&(&at, &k)) if at as usize == i => {
                carry.next();
                k
            }
            _ => 0,
        };
        let count = low.into() + (u64::from(high) << L::BITS);
        (count > 0).then_some((i, count))
    })
}

/// Add `k` to counter `c` of low bits `hist` with carries `carry`.
fn add_to_low<L: Low>(hist: &mut [L], carry: &mut Carry, c: usize, k: u64) {
    let total = hist[c].into() + k;
    hist[c] = L::truncate(total);
    let wraps = total >> L::BITS;
    if wraps > 0 {
        carry.add(
            c,
            u32::try_from(wraps).expect("a count below 2^(32 + BITS)"),
        );
    }
}

impl Counters {
    pub fn new(len: usize) -> Counters {
        Counters {
            hist: Hist::Narrow(vec![0; len]),
            carry: Carry::default(),
        }
    }

    pub fn len(&self) -> usize {
        with_hist!(&self.hist, h => h.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The width of the low bits.
    fn bits(&self) -> u32 {
        match self.hist {
            Hist::Narrow(_) => u8::BITS,
            Hist::Wide(_) => u16::BITS,
        }
    }

    /// Count one more in counter `c`.
    #[inline(always)]
    pub fn bump(&mut self, c: usize) {
        let made = self.carry.made;
        with_hist!(&mut self.hist, h => add_counted(&mut h[c], Low::truncate(1), &mut self.carry, c));
        if self.carry.made != made {
            self.widen_if_due();
        }
    }

    /// The count in counter `c`.
    pub fn count(&self, c: usize) -> u64 {
        let low: u64 = with_hist!(&self.hist, h => h[c].into());
        let high = self.carry.map.get(&(c as u32)).copied().unwrap_or(0);
        low + (u64::from(high) << self.bits())
    }

    pub fn merge(&mut self, o: &Counters) {
        if let (Hist::Narrow(_), Hist::Wide(_)) = (&self.hist, &o.hist) {
            self.widen();
        }
        match (&mut self.hist, &o.hist) {
            (Hist::Narrow(a), Hist::Narrow(b)) => merge_low(a, b, &mut self.carry, &o.carry),
            (Hist::Wide(a), Hist::Wide(b)) => merge_low(a, b, &mut self.carry, &o.carry),
            (Hist::Wide(_), Hist::Narrow(_)) => {
                for (c, k) in o.nonzero() {
                    self.add(c, k);
                }
            }
            (Hist::Narrow(_), Hist::Wide(_)) => unreachable!("widened above"),
        }
        self.widen_if_due();
    }

    /// The counters that are not zero, with their counts (carries folded in), in order.
    fn nonzero(&self) -> Box<dyn Iterator<Item = (usize, u64)> + '_> {
        with_hist!(&self.hist, h => Box::new(nonzero_of(h, &self.carry.map)))
    }

    /// Add `k` to counter `c`.
    fn add(&mut self, c: usize, k: u64) {
        with_hist!(&mut self.hist, h => add_to_low(h, &mut self.carry, c, k));
        self.widen_if_due();
    }

    /// Take counter `c`'s count out, leaving it zero.
    fn take(&mut self, c: usize) -> u64 {
        let count = self.count(c);
        with_hist!(&mut self.hist, h => h[c] = Low::truncate(0));
        self.carry.map.remove(&(c as u32));
        count
    }

    /// Widen the low bits to two bytes if the carries cost more than the second byte would
    /// (see [`Counters`]).
    fn widen_if_due(&mut self) {
        if let Hist::Narrow(h) = &self.hist {
            let len = h.len() as u64;
            if 16 * self.carry.map.len() as u64 > len || 4 * self.carry.made > len {
                self.widen();
            }
        }
    }

    /// The same counts, in two-byte low bits.
    fn widen(&mut self) {
        let Hist::Narrow(narrow) = &self.hist else {
            return;
        };
        let mut wide: Vec<u16> = narrow.iter().map(|&x| u16::from(x)).collect();
        let mut carry = Carry::default();
        for (&c, &k) in &self.carry.map {
            let count = u64::from(wide[c as usize]) + (u64::from(k) << u8::BITS);
            wide[c as usize] = count as u16;
            if count >> u16::BITS > 0 {
                carry.map.insert(c, (count >> u16::BITS) as u32);
            }
        }
        self.hist = Hist::Wide(wide);
        self.carry = carry;
    }

    /// Read the sparse form back into `len` counters; `what` names them in errors.
    fn from_sparse(pairs: &[u64], len: usize, what: &str) -> Result<Counters, String> {
        if pairs.len() % 2 != 0 {
            return Err(format!("{what} counts are not gap, count pairs"));
        }
        if u32::try_from(len).is_err() {
            return Err(format!("{what} of {len} counters are too large"));
        }
        let mut c = Counters::new(len);
        let mut next = 0u64;
        for pair in pairs.chunks_exact(2) {
            let (gap, count) = (pair[0], pair[1]);
            let at = next.saturating_add(gap);
            if at >= len as u64 {
                return Err(format!(
                    "a {what} count lies beyond the {len} counters of the histogram"
                ));
            }
            if u32::try_from(count >> u8::BITS).is_err() {
                return Err(format!("{what} count {count} is too large"));
            }
            if count == 0 {
                return Err(format!("{what} counts list a zero"));
            }
            c.add(at as usize, count);
            next = at + 1;
        }
        Ok(c)
    }
}

#[cfg(test)]
impl Counters {
    /// The low bits of counter `c`.
    fn low(&self, c: usize) -> u64 {
        with_hist!(&self.hist, h => h[c].into())
    }

    fn is_narrow(&self) -> bool {
        matches!(self.hist, Hist::Narrow(_))
    }
}

/// Add low bits `b` with carries `cb` to low bits `a` with carries `ca`, of the same width.
fn merge_low<L: Low>(a: &mut [L], b: &[L], ca: &mut Carry, cb: &Carry) {
    for (c, (x, &y)) in a.iter_mut().zip(b).enumerate() {
        add_counted(x, y, ca, c);
    }
    for (&c, &k) in &cb.map {
        *ca.map.entry(c).or_insert(0) += k;
    }
}

/// Counters are equal when their counts are, whatever their width.
impl PartialEq for Counters {
    fn eq(&self, o: &Counters) -> bool {
        self.len() == o.len() && self.nonzero().eq(o.nonzero())
    }
}

/// Write nonzero counts `(counter, count)`, in counter order, in the sparse form of
/// [`Counters`].
fn serialize_sparse<S: serde::Serializer>(
    s: S,
    nonzero: impl Iterator<Item = (usize, u64)>,
) -> Result<S::Ok, S::Error> {
    let mut next = 0usize;
    let pairs = nonzero.map(move |(i, count)| {
        let gap = (i - next) as u64;
        next = i + 1;
        [gap, count]
    });
    s.collect_seq(pairs.flatten())
}

impl Serialize for Counters {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize_sparse(s, self.nonzero())
    }
}

/// Per (importer slot, step) fill histograms and fixed-point fill sums. Integer, so merging is
/// exact in any order. Step-major: the rows a step of the engine records into are adjacent.
///
/// A run keeps one per variant (shared by its worker threads), and the flagship scenario has
/// about 20,000 (slot, step) rows of 101 bins per variant. Most trials are at full service at
/// most steps: the full-service bin is a whole count per row (`full`), so the partial bins'
/// [`Counters`] can start one byte wide with few carries, and a row of a group whose lanes are
/// all at full service is counted at once ([`CurveAcc::count_group`]). The full-service
/// counter in `counts` stays zero. Stored sparsely in part files, every bin alike. Reading
/// checks the shape: `n_slots * n_steps` sums, counters within the histogram.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "CurveWire<Vec<u64>, Vec<u64>>")]
pub struct CurveAcc {
    pub n_slots: usize,
    pub n_steps: usize,
    counts: Counters,
    /// Per row, the count of its full-service bin.
    full: Vec<u64>,
    pub sum: Vec<u64>,
}

impl CurveAcc {
    /// The bytes of an accumulator of `n_slots` slots over `n_steps` steps, at most: a counter
    /// per bin, two bytes wide once widened (their carries are then few: see [`Counters`]), and
    /// a full-service count and a sum per row.
    pub fn bytes(n_slots: usize, n_steps: usize) -> usize {
        n_slots * n_steps * (FILL_BINS * std::mem::size_of::<u16>() + 8 + 8)
    }

    pub fn new(n_slots: usize, n_steps: usize) -> CurveAcc {
        CurveAcc {
            n_slots,
            n_steps,
            counts: Counters::new(n_slots * n_steps * FILL_BINS),
            full: vec![0; n_slots * n_steps],
            sum: vec![0; n_slots * n_steps],
        }
    }

    /// The row of (slot, step).
    #[inline(always)]
    fn row(&self, slot: usize, step: usize) -> usize {
        step * self.n_slots + slot
    }

    /// Record one trial's fill for (slot, step): the rule, one lane at a time, that a group's
    /// kept fills counted after it ([`CurveAcc::count_group`]) must equal; the tests' reference
    /// and their way of filling an accumulator.
    #[cfg(test)]
    pub fn record(&mut self, slot: usize, step: usize, fill: f64) {
        let i = self.row(slot, step);
        let fill = fill.clamp(0.0, 1.0);
        match Self::bin(fill) {
            FULL_BIN => self.full[i] += 1,
            bin => self.counts.bump(i * FILL_BINS + bin),
        }
        self.sum[i] += Self::fixed(fill);
    }

    /// Count the first `n` lanes of group `rec` (of this accumulator's shape): what recording
    /// them as the group ran would have counted.
    pub fn count_group(&mut self, rec: &FillRec, n: usize) {
        assert_eq!(rec.sum.len(), self.sum.len(), "a group of this shape");
        for (a, &b) in self.sum.iter_mut().zip(&rec.sum) {
            *a += b;
        }
        let Counters { hist, carry } = &mut self.counts;
        let made = carry.made;
        with_hist!(hist, h => Self::count_rows(h, carry, &mut self.full, &rec.bins, n));
        if carry.made != made {
            self.counts.widen_if_due();
        }
    }

    /// [`CurveAcc::count_group`]'s counts, row by row; a row whose lanes are all at full
    /// service (most rows, in most scenarios) counts them at once.
    fn count_rows<L: Low>(
        hist: &mut [L],
        carry: &mut Carry,
        full: &mut [u64],
        bins: &[[u8; LANES]],
        n: usize,
    ) {
        const ALL_FULL: [u8; LANES] = [FULL_BIN as u8; LANES];
        for (i, (b, f)) in bins.iter().zip(full).enumerate() {
            *f += if n == LANES && *b == ALL_FULL {
                LANES as u64
            } else {
                Self::record_row(hist, carry, i, &b[..n])
            };
        }
    }

    /// Bump row `i`'s bin `bins[l]` for each lane `l`, without a branch on whether it is at full
    /// service; the full-service counter (at most LANES here: no carry) is then taken out and
    /// returned, to be counted in `full`.
    #[inline(always)]
    fn record_row<L: Low>(hist: &mut [L], carry: &mut Carry, i: usize, bins: &[u8]) -> u64 {
        let row = i * FILL_BINS;
        let hist: &mut [L; FILL_BINS] = (&mut hist[row..row + FILL_BINS])
            .try_into()
            .expect("a row holds FILL_BINS counters");
        for &bin in bins {
            let bin = usize::from(bin);
            add_counted(&mut hist[bin], L::truncate(1), carry, row + bin);
        }
        std::mem::take(&mut hist[FULL_BIN]).into()
    }

    /// The count in counter `c`.
    fn count(&self, c: usize) -> u64 {
        if c % FILL_BINS == FULL_BIN {
            self.full[c / FILL_BINS]
        } else {
            self.counts.count(c)
        }
    }

    /// Every bin's nonzero count, full service included, in counter order.
    fn nonzero(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        let mut partial = self.counts.nonzero().peekable();
        let mut full = (self.full.iter().enumerate())
            .filter(|&(_, &n)| n > 0)
            .map(|(i, &n)| (i * FILL_BINS + FULL_BIN, n))
            .peekable();
        std::iter::from_fn(move || match (partial.peek(), full.peek()) {
            (Some(p), Some(f)) if p.0 < f.0 => partial.next(),
            (Some(_), None) => partial.next(),
            _ => full.next(),
        })
    }

    /// The histogram bin of a fill in [0, 1]: full service alone in the last bin. Both
    /// candidates are computed and one selected, without a branch (whether a lane is at full
    /// service is unpredictable); the cast goes through u32, one instruction where the unsigned
    /// 64-bit cast takes several.
    #[inline(always)]
    fn bin(fill: f64) -> usize {
        let partial = ((fill * (FILL_BINS - 1) as f64) as u32).min(FILL_BINS as u32 - 2);
        let full = FILL_BINS as u32 - 1;
        (if fill >= 1.0 { full } else { partial }) as usize
    }

    /// A fill in [0, 1] in 32-bit fixed point (through i64, exact below 2^63, for the same
    /// reason).
    #[inline(always)]
    fn fixed(fill: f64) -> u64 {
        (fill * FIXED_ONE) as i64 as u64
    }

    pub fn merge(&mut self, o: &CurveAcc) {
        self.counts.merge(&o.counts);
        for (a, b) in self.full.iter_mut().zip(&o.full) {
            *a += b;
        }
        for (a, b) in self.sum.iter_mut().zip(&o.sum) {
            *a += b;
        }
    }

    /// What this holds, its nonzero entries only.
    pub fn sparse(&self) -> Sparse {
        Sparse::of(&self.counts, &[&self.full, &self.sum], &[])
    }

    /// Add `k` times `o`, the [`CurveAcc::sparse`] form of an accumulator of this shape: the
    /// same as merging that accumulator `k` times.
    pub fn add_sparse(&mut self, o: &Sparse, k: u64) {
        o.add_to(&mut self.counts, &mut [&mut self.full, &mut self.sum], k);
    }

    /// Whether this holds `trials` trials' curves of `n_slots` slots over `n_steps` steps: the
    /// size, every row's counts adding up to `trials` (each trial records every slot and step
    /// once), and fixed-point sums no larger than `trials` full fills.
    pub fn check(&self, n_slots: usize, n_steps: usize, trials: u64) -> Result<(), String> {
        if (self.n_slots, self.n_steps) != (n_slots, n_steps) {
            return Err(format!(
                "fill curves of {} slots by {} steps, expected {n_slots} by {n_steps}",
                self.n_slots, self.n_steps
            ));
        }
        let full = u128::from(trials) << 32;
        for step in 0..n_steps {
            for slot in 0..n_slots {
                let i = self.row(slot, step);
                let n: u64 = (0..FILL_BINS).map(|b| self.count(i * FILL_BINS + b)).sum();
                if n != trials {
                    return Err(format!(
                        "the fill curve of slot {slot} at step {step} counts {n} trials, expected {trials}"
                    ));
                }
                if u128::from(self.sum[i]) > full {
                    return Err(format!(
                        "the fill curve of slot {slot} at step {step} sums to more than {trials} full fills"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Fill at quantile `q` for (slot, step): the bin's midpoint, or 1 for the full-service bin.
    pub fn quantile(&self, slot: usize, step: usize, q: f64, n: u64) -> f64 {
        let i = self.row(slot, step);
        let want = ((q * n as f64).ceil() as u64).max(1);
        let mut acc = 0u64;
        for bin in 0..FILL_BINS {
            acc += self.count(i * FILL_BINS + bin);
            if acc >= want {
                return if bin == FILL_BINS - 1 {
                    1.0
                } else {
                    (bin as f64 + 0.5) / (FILL_BINS - 1) as f64
                };
            }
        }
        1.0
    }

    pub fn mean(&self, slot: usize, step: usize, n: u64) -> f64 {
        if n == 0 {
            return 0.0;
        }
        self.sum[self.row(slot, step)] as f64 / FIXED_ONE / n as f64
    }
}

/// One group's fills, kept as they are computed, to be counted into a [`CurveAcc`] after the
/// group ([`CurveAcc::count_group`]): per (slot, step) row, step-major as in the accumulator,
/// each lane's bin and the fixed-point sum of the lanes recorded. Every row is written in every
/// group (each importer slot is settled once per step, at every step): the count reads every
/// row, and would count stale bins of a row left unwritten. Keeping here and counting after
/// counts what recording each lane as it came would ([`CurveAcc::record`]); 16 bytes a row let
/// a worker keep one group's fills where a histogram per worker would cost 101 counters a
/// row.
#[derive(Debug, Clone)]
pub struct FillRec {
    n_slots: usize,
    bins: Vec<[u8; LANES]>,
    sum: Vec<u64>,
}

impl FillRec {
    pub fn new(n_slots: usize, n_steps: usize) -> FillRec {
        FillRec {
            n_slots,
            bins: vec![[0; LANES]; n_slots * n_steps],
            sum: vec![0; n_slots * n_steps],
        }
    }

    /// Row (slot, step), as [`CurveAcc`]'s.
    #[inline(always)]
    fn row(&self, slot: usize, step: usize) -> usize {
        step * self.n_slots + slot
    }

    /// Start a group: no lane recorded yet.
    pub fn clear(&mut self) {
        self.sum.fill(0);
    }

    /// The first `n` lanes of `fill` for (slot, step), every lane's bin: the arithmetic of
    /// [`FillRec::record`] on all lanes at once (clamping, bins and fixed-point values through
    /// [`Lanes::trunc_ints`]).
    #[inline(always)]
    pub fn record_lanes(&mut self, slot: usize, step: usize, fill: &Lanes, n: usize) {
        let i = self.row(slot, step);
        let f = fill.max(Lanes::ZERO).min(Lanes::ONE);
        let fixed = (f * FIXED_ONE).trunc_ints();
        // A full group (the common case) has its lane count known when compiled.
        self.sum[i] = if n == LANES {
            fixed.iter().sum::<u64>()
        } else {
            fixed[..n].iter().sum::<u64>()
        };
        // A clamped fill times 100, truncated, is 100 exactly at full service: the largest fill
        // below 1 times 100 rounds to below 100.
        let bins = (f * (FILL_BINS - 1) as f64).trunc_ints();
        self.bins[i] = std::array::from_fn(|l| bins[l] as u8);
    }

    /// Lane `lane`'s fill for (slot, step), one of the lanes recorded: the scalar rule.
    #[inline(always)]
    pub fn record(&mut self, slot: usize, step: usize, lane: usize, fill: f64) {
        let i = self.row(slot, step);
        let fill = fill.clamp(0.0, 1.0);
        self.bins[i][lane] = CurveAcc::bin(fill) as u8;
        self.sum[i] += CurveAcc::fixed(fill);
    }
}

/// The stored form of a [`CurveAcc`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CurveWire<C, S> {
    n_slots: usize,
    n_steps: usize,
    counts: C,
    sum: S,
}

impl Serialize for CurveAcc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// Every bin's count, full service in its place in the row.
        struct Bins<'a>(&'a CurveAcc);
        impl Serialize for Bins<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serialize_sparse(s, self.0.nonzero())
            }
        }
        CurveWire {
            n_slots: self.n_slots,
            n_steps: self.n_steps,
            counts: Bins(self),
            sum: &self.sum,
        }
        .serialize(s)
    }
}

impl TryFrom<CurveWire<Vec<u64>, Vec<u64>>> for CurveAcc {
    type Error = String;

    fn try_from(w: CurveWire<Vec<u64>, Vec<u64>>) -> Result<CurveAcc, String> {
        let rows = w.n_slots.checked_mul(w.n_steps);
        if rows != Some(w.sum.len()) {
            return Err(format!(
                "fill curves of {} slots by {} steps hold {} sums",
                w.n_slots,
                w.n_steps,
                w.sum.len()
            ));
        }
        // The histogram is the size the sums (present in full) imply, so a forged size cannot
        // make it large.
        let len = w
            .sum
            .len()
            .checked_mul(FILL_BINS)
            .ok_or("fill curves are too large")?;
        let mut counts = Counters::from_sparse(&w.counts, len, "fill curve")?;
        let full = (0..w.sum.len())
            .map(|i| counts.take(i * FILL_BINS + FULL_BIN))
            .collect();
        Ok(CurveAcc {
            n_slots: w.n_slots,
            n_steps: w.n_steps,
            counts,
            full,
            sum: w.sum,
        })
    }
}

/// Mantissa bits kept in a price bin's key: 32 bins to each doubling of the price, each at
/// most 3.2% wide (the key of a float is its bits shifted: exponent and leading mantissa).
const PRICE_SHIFT: u32 = 52 - 5;
/// Prices below this multiple of the reference share the lowest bin.
const PRICE_LOWEST: f64 = 1.0 / 1024.0;
/// The bins of a price row before the key bins: the reference price exactly, the ceiling and
/// the floor.
const CALM_BIN: usize = 0;
const CEILING_BIN: usize = 1;
const FLOOR_BIN: usize = 2;
const KEY_BINS: usize = 3;

#[inline(always)]
fn price_key(x: f64) -> u64 {
    x.to_bits() >> PRICE_SHIFT
}

/// Per priced importer slot (one whose material has a market) and step, the distribution over
/// trials of the price it paid, a multiple of the reference price; and, in one more row per
/// slot, the distribution of the trial's peak price. Integer, so merging is exact in any order.
///
/// A row's bins: the reference price exactly (a calm market), the ceiling exactly, then bins
/// of the price's leading bits from the floor to the ceiling (32 per doubling). The reference
/// price is most trials' price at most steps, so it is not recorded: its count is the trials
/// less every other bin of the row, and its share of the fixed-point sum implied likewise.
/// Sums are of the price over the ceiling in 32-bit fixed point. Each row also keeps the
/// lowest and highest price it recorded, so that a percentile in the bin of either is reported
/// no further out than what was seen (prices just above the reference, where most of them lie
/// under a refill at 1.05, would otherwise read as the bin's midpoint, up to 1.6% above).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "PriceWire")]
pub struct PriceAcc {
    /// Per priced slot: its importer slot, and its price bounds (floor, ceiling).
    pub slots: Vec<u32>,
    pub bounds: Vec<(f64, f64)>,
    pub n_steps: usize,
    /// Per priced slot: its first counter and the bins of each of its rows.
    start: Vec<usize>,
    bins: Vec<usize>,
    counts: Counters,
    /// Per priced slot and row (steps, then the peak).
    sum: Vec<u64>,
    /// Per row: the lowest and highest price recorded, (0, 0) before any.
    range: Vec<(f64, f64)>,
}

/// The stored form of a [`PriceAcc`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceWire<C = Vec<u64>, S = Vec<u64>, B = Vec<(f64, f64)>> {
    slots: Vec<u32>,
    bounds: B,
    n_steps: usize,
    counts: C,
    sum: S,
    range: B,
}

impl PriceAcc {
    /// Price rows for importer slots `slots` with price bounds `bounds` over `n_steps` steps.
    pub fn new(slots: Vec<u32>, bounds: Vec<(f64, f64)>, n_steps: usize) -> PriceAcc {
        let bins: Vec<usize> = bounds.iter().map(|&b| Self::row_bins(b)).collect();
        let rows = n_steps + 1;
        let mut start = Vec::with_capacity(bins.len());
        let mut len = 0usize;
        for &b in &bins {
            start.push(len);
            len += b * rows;
        }
        PriceAcc {
            sum: vec![0; bins.len() * rows],
            range: vec![(0.0, 0.0); bins.len() * rows],
            slots,
            bounds,
            n_steps,
            start,
            bins,
            counts: Counters::new(len),
        }
    }

    /// The bytes of an accumulator of price bounds `bounds` over `n_steps` steps, at most: a
    /// counter per bin, two bytes wide once widened (as [`CurveAcc::bytes`]), and per row a sum
    /// and a range.
    pub fn bytes(bounds: &[(f64, f64)], n_steps: usize) -> usize {
        let rows = n_steps + 1;
        let counters: usize = bounds.iter().map(|&b| Self::row_bins(b) * rows).sum();
        counters * std::mem::size_of::<u16>() + bounds.len() * rows * (8 + 16)
    }

    /// None: a run without markets.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn low_key((floor, _): (f64, f64)) -> u64 {
        price_key(floor.max(PRICE_LOWEST))
    }

    fn row_bins(b: (f64, f64)) -> usize {
        KEY_BINS + (price_key(b.1) - Self::low_key(b)) as usize + 1
    }

    /// The bin of price `x` in a row of priced slot `j` (not the calm one: `x` is not 1).
    #[inline(always)]
    fn bin(&self, j: usize, x: f64) -> usize {
        let b = self.bounds[j];
        if x >= b.1 {
            CEILING_BIN
        } else if x <= b.0 {
            FLOOR_BIN
        } else {
            let key = price_key(x.max(PRICE_LOWEST));
            KEY_BINS + key.saturating_sub(Self::low_key(b)) as usize
        }
    }

    #[inline(always)]
    fn fixed(&self, j: usize, x: f64) -> u64 {
        ((x / self.bounds[j].1).clamp(0.0, 1.0) * FIXED_ONE) as i64 as u64
    }

    /// Record price `x` of priced slot `j` at step `t` (`n_steps`: the trial's peak). The
    /// reference price records nothing: see the type.
    #[inline(always)]
    pub fn record(&mut self, j: usize, t: usize, x: f64) {
        if x == 1.0 {
            return;
        }
        let (floor, ceiling) = self.bounds[j];
        // The engine's prices lie within the bounds; a NaN (none is expected) counts as the
        // ceiling rather than poison the row's range.
        let x = if x.is_nan() {
            ceiling
        } else {
            x.clamp(floor, ceiling)
        };
        let row = j * (self.n_steps + 1) + t;
        let c = self.start[j] + t * self.bins[j] + self.bin(j, x);
        self.counts.bump(c);
        self.sum[row] += self.fixed(j, x);
        let r = &mut self.range[row];
        *r = if r.1 == 0.0 {
            (x, x)
        } else {
            (r.0.min(x), r.1.max(x))
        };
    }

    /// Record the first `n` lanes of `x`: the whole group at once where every lane is calm.
    #[inline(always)]
    pub fn record_lanes(&mut self, j: usize, t: usize, x: &Lanes, n: usize) {
        if x.0[..n].iter().all(|&v| v == 1.0) {
            return;
        }
        for &v in &x.0[..n] {
            self.record(j, t, v);
        }
    }

    pub fn merge(&mut self, o: &PriceAcc) {
        self.counts.merge(&o.counts);
        for (a, b) in self.sum.iter_mut().zip(&o.sum) {
            *a += b;
        }
        self.merge_ranges(o);
    }

    /// What this holds, its nonzero entries only.
    pub fn sparse(&self) -> Sparse {
        Sparse::of(&self.counts, &[&self.sum], &self.range)
    }

    /// Add `k` (at least 1) times `o`, the [`PriceAcc::sparse`] form of an accumulator of this
    /// shape: the same as merging that accumulator `k` times.
    pub fn add_sparse(&mut self, o: &Sparse, k: u64) {
        o.add_to(&mut self.counts, &mut [&mut self.sum], k);
        for &(row, b) in &o.ranges {
            let a = &mut self.range[row as usize];
            *a = merge_range(*a, b);
        }
    }

    /// Each row's lowest and highest price, over both.
    fn merge_ranges(&mut self, o: &PriceAcc) {
        for (a, &b) in self.range.iter_mut().zip(&o.range) {
            *a = merge_range(*a, b);
        }
    }

    /// Priced slot `j`'s price distribution at step `t` (`n_steps`: of the peak) over `trials`
    /// trials.
    pub fn row(&self, j: usize, t: usize, trials: u64) -> PriceRow {
        let first = self.start[j] + t * self.bins[j];
        let nb = self.bins[j];
        let (floor, ceiling) = self.bounds[j];
        let low = Self::low_key(self.bounds[j]);
        let counts: Vec<u64> = (first..first + nb).map(|c| self.counts.count(c)).collect();
        let recorded: u64 = counts[1..].iter().sum();
        let calm = trials.saturating_sub(recorded);
        let seen = self.range[j * (self.n_steps + 1) + t];
        let keyed = |b: usize| {
            let key = low + (b - KEY_BINS) as u64;
            let lo = f64::from_bits(key << PRICE_SHIFT);
            let hi = f64::from_bits((key + 1) << PRICE_SHIFT);
            // Within the bounds, and within what the row saw.
            let mid = (0.5 * (lo + hi)).clamp(floor, ceiling);
            (counts[b], mid.clamp(seen.0, seen.1))
        };
        // The floor, key bins below the reference, the reference exactly, key bins above (the
        // bin of the reference's own key holds prices just above it), the ceiling.
        let split = (KEY_BINS + (price_key(1.0).max(low) - low) as usize).min(nb);
        let bins = std::iter::once((counts[FLOOR_BIN], floor))
            .chain((KEY_BINS..split).map(keyed))
            .chain(std::iter::once((calm, 1.0)))
            .chain((split..nb).map(keyed))
            .chain(std::iter::once((counts[CEILING_BIN], ceiling)))
            .filter(|&(c, _)| c > 0)
            .collect();
        // The calm trials' price is 1 exactly, not its truncated fixed-point form.
        let recorded_sum = self.sum[j * (self.n_steps + 1) + t] as f64 / FIXED_ONE * ceiling;
        PriceRow {
            bins,
            trials,
            mean: if trials == 0 {
                1.0
            } else {
                (recorded_sum + calm as f64) / trials as f64
            },
        }
    }

    fn count(&self, c: usize) -> u64 {
        self.counts.count(c)
    }

    /// Whether this holds `trials` trials of `slots` with `bounds` over `n_steps` steps: the
    /// shape, and no row recording more trials than that or summing above their ceiling.
    pub fn check(
        &self,
        slots: &[u32],
        bounds: &[(f64, f64)],
        n_steps: usize,
        trials: u64,
    ) -> Result<(), String> {
        if self.slots != slots || self.bounds != bounds || self.n_steps != n_steps {
            return Err(format!(
                "price curves of slots {:?} over {} steps, expected slots {slots:?} over {n_steps}",
                self.slots, self.n_steps
            ));
        }
        for j in 0..self.slots.len() {
            for t in 0..=n_steps {
                let first = self.start[j] + t * self.bins[j];
                let recorded: u64 = (1..self.bins[j]).map(|b| self.count(first + b)).sum();
                let what = if t == n_steps {
                    "peak".to_owned()
                } else {
                    format!("step {t}")
                };
                let at = format!("the price curve of slot {} at {what}", self.slots[j]);
                if self.count(first + CALM_BIN) != 0 {
                    return Err(format!("{at} stores a count of the reference price"));
                }
                if recorded > trials {
                    return Err(format!(
                        "{at} counts {recorded} trials, expected at most {trials}"
                    ));
                }
                if u128::from(self.sum[j * (n_steps + 1) + t]) > u128::from(recorded) << 32 {
                    return Err(format!(
                        "{at} sums above its {recorded} prices at the ceiling"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One row of a [`PriceAcc`]: the trials' prices, binned.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    /// Nonempty bins in price order: (trials, the bin's price).
    bins: Vec<(u64, f64)>,
    trials: u64,
    pub mean: f64,
}

impl PriceRow {
    /// The price at quantile `q`: the reference, the ceiling or the floor exactly, else the
    /// midpoint of its bin (cut back to the lowest and highest price the row saw).
    pub fn quantile(&self, q: f64) -> f64 {
        let want = ((q * self.trials as f64).ceil() as u64).max(1);
        let mut acc = 0u64;
        for &(count, price) in &self.bins {
            acc += count;
            if acc >= want {
                return price;
            }
        }
        self.bins.last().map_or(1.0, |b| b.1)
    }
}

impl Serialize for PriceAcc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PriceWire {
            slots: self.slots.clone(),
            bounds: &self.bounds,
            n_steps: self.n_steps,
            counts: &self.counts,
            sum: &self.sum,
            range: &self.range,
        }
        .serialize(s)
    }
}

impl TryFrom<PriceWire> for PriceAcc {
    type Error = String;

    fn try_from(w: PriceWire) -> Result<PriceAcc, String> {
        if w.slots.len() != w.bounds.len() {
            return Err(format!(
                "price curves of {} slots hold {} price bounds",
                w.slots.len(),
                w.bounds.len()
            ));
        }
        for &(floor, ceiling) in &w.bounds {
            if !(floor > 0.0 && floor <= 1.0 && (1.0..=1e6).contains(&ceiling)) {
                return Err(format!(
                    "price bounds {floor}..{ceiling} are not a floor in (0, 1] and a ceiling in [1, 1e6]"
                ));
            }
        }
        let rows = w
            .n_steps
            .checked_add(1)
            .and_then(|r| r.checked_mul(w.slots.len()));
        if rows != Some(w.sum.len()) {
            return Err(format!(
                "price curves of {} slots over {} steps hold {} sums",
                w.slots.len(),
                w.n_steps,
                w.sum.len()
            ));
        }
        if w.range.len() != w.sum.len() {
            return Err(format!(
                "price curves of {} rows hold {} price ranges",
                w.sum.len(),
                w.range.len()
            ));
        }
        for (i, &(lo, hi)) in w.range.iter().enumerate() {
            let (floor, ceiling) = w.bounds[i / (w.n_steps + 1)];
            if !((lo, hi) == (0.0, 0.0) || (floor <= lo && lo <= hi && hi <= ceiling)) {
                return Err(format!(
                    "price range {lo}..{hi} of row {i} is not within its bounds {floor}..{ceiling}"
                ));
            }
        }
        // The histograms are the size the sums and ranges (present in full) and the bounds
        // imply; a row's bins are at most a thousand (bounds 2^-10 to 1e6).
        let counters = w.bounds.iter().try_fold(0usize, |n, &b| {
            n.checked_add(Self::row_bins(b).checked_mul(w.n_steps + 1)?)
        });
        if counters.is_none_or(|n| u32::try_from(n).is_err()) {
            return Err("price curves are too large".into());
        }
        let mut acc = PriceAcc::new(w.slots, w.bounds, w.n_steps);
        acc.counts = Counters::from_sparse(&w.counts, acc.counts.len(), "price curve")?;
        acc.sum = w.sum;
        acc.range = w.range;
        Ok(acc)
    }
}

/// Counts of an integer quantity (steps) over trials, with the top bin for "beyond".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepHist {
    pub counts: Vec<u64>,
}

impl StepHist {
    pub fn new(n_steps: usize) -> StepHist {
        StepHist {
            counts: vec![0; n_steps + 1],
        }
    }

    #[inline]
    pub fn push(&mut self, steps: u32) {
        let i = (steps as usize).min(self.counts.len() - 1);
        self.counts[i] += 1;
    }

    pub fn merge(&mut self, o: &StepHist) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Whether this counts at most `trials` trials over `n_steps` steps (`n_steps + 1` bins).
    pub fn check(&self, n_steps: usize, trials: u64) -> Result<(), String> {
        if self.counts.len() != n_steps + 1 {
            return Err(format!(
                "{} bins, expected {} (steps 0..{n_steps} and beyond)",
                self.counts.len(),
                n_steps + 1
            ));
        }
        let total = self
            .counts
            .iter()
            .try_fold(0u64, |a, &c| a.checked_add(c))
            .filter(|&t| t <= trials);
        if total.is_none() {
            return Err(format!("counts more than the {trials} trials"));
        }
        Ok(())
    }

    /// Smallest value v with P(X <= v) >= q among the recorded trials.
    pub fn quantile(&self, q: f64) -> Option<u32> {
        let n = self.total();
        if n == 0 {
            return None;
        }
        let want = ((q * n as f64).ceil() as u64).max(1);
        let mut acc = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            acc += c;
            if acc >= want {
                return Some(i as u32);
            }
        }
        None
    }
}

/// Value-at-risk and conditional value-at-risk at level `a` from a sample (sorted in place;
/// f32 samples are summed in f64). VaR is the order statistic at ceil(a*n);
/// CVaR = VaR + E[(X - VaR)+] / (1 - a).
pub fn var_cvar<T: Copy + Into<f64>>(sample: &mut [T], a: f64) -> (f64, f64) {
    if sample.is_empty() {
        return (0.0, 0.0);
    }
    sample.sort_by(|x, y| (*x).into().total_cmp(&(*y).into()));
    let n = sample.len();
    let k = ((a * n as f64).ceil() as usize).clamp(1, n) - 1;
    let var = sample[k].into();
    let excess: f64 = sample
        .iter()
        .map(|&x| (x.into() - var).max(0.0))
        .sum::<f64>()
        / n as f64;
    (var, var + excess / (1.0 - a))
}

/// Standard error of the CVaR estimate at level `a` from a sample, by the normal approximation:
/// CVaR = VaR + E[(L - VaR)+] / (1 - a) is, to first order, a sample mean of
/// (L - VaR)+ / (1 - a) (the VaR term is stationary: its estimation error enters at second
/// order; Manistre and Hancock 2005, Hong, Hu and Liu 2014), so its variance is
/// Var[(L - VaR)+] / ((1 - a)^2 n). Needs a tail of at least 20 trials; `None` otherwise.
/// Sorts `losses` in place.
pub fn cvar_se<T: Copy + Into<f64>>(losses: &mut [T], a: f64) -> Option<f64> {
    let n = losses.len();
    if (n as f64) * (1.0 - a) < 20.0 {
        return None;
    }
    let (var, _) = var_cvar(losses, a);
    let excess = losses.iter().map(|&x| (x.into() - var).max(0.0));
    let mean = excess.clone().sum::<f64>() / n as f64;
    let ss: f64 = excess.map(|e| (e - mean) * (e - mean)).sum();
    let sd = (ss / (n - 1) as f64).sqrt();
    Some(sd / (n as f64).sqrt() / (1.0 - a))
}

/// Quantile of a sorted sample (same order-statistic rule as VaR).
pub fn quantile_sorted<T: Copy + Into<f64>>(sorted: &[T], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let n = sorted.len();
    sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1].into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adding one trial's histograms `k` times in sparse form is merging them `k` times: for
    /// fill curves with partial and full fills, and for price rows with prices inside the
    /// bounds, at the bounds and a peak (ranges included), with `k` past a counter's low bits'
    /// wrap so that carries are made.
    #[test]
    fn a_sparse_trial_added_k_times_is_k_merges() {
        let (n_slots, n_steps) = (3, 5);
        let mut one = CurveAcc::new(n_slots, n_steps);
        for slot in 0..n_slots {
            for step in 0..n_steps {
                one.record(slot, step, [1.0, 0.37, 0.0, 0.999][(slot + step) % 4]);
            }
        }
        let mut prices = PriceAcc::new(vec![0, 2], vec![(0.5, 10.0), (0.25, 4.0)], n_steps);
        for (t, x) in [1.0, 1.05, 3.7, 10.0, 0.5].into_iter().enumerate() {
            prices.record(0, t, x);
            prices.record(1, t, x.min(4.0) * 0.9);
        }
        prices.record(0, n_steps, 10.0);
        prices.record(1, n_steps, 3.6);
        for k in [1u64, 3, 70_000] {
            let (mut merged, mut added) = (one.clone(), one.clone());
            let (mut p_merged, mut p_added) = (prices.clone(), prices.clone());
            for _ in 0..k {
                merged.merge(&one);
                p_merged.merge(&prices);
            }
            added.add_sparse(&one.sparse(), k);
            p_added.add_sparse(&prices.sparse(), k);
            assert!(added == merged, "fill curves, k = {k}");
            assert!(p_added == p_merged, "price rows, k = {k}");
            if k > 65_535 {
                assert!(!added.counts.carry.map.is_empty() && !p_added.counts.carry.map.is_empty());
            }
        }
    }

    /// Counters widen to two bytes once carries were made for one counter in four, or the
    /// carries' map holds more than one counter in sixteen; widened or not, and merged in any
    /// mix of widths, they hold the counts added (against plain u64 counts) and store them
    /// alike.
    #[test]
    fn counters_widen_when_carries_cost_more_than_a_byte_and_keep_their_counts() {
        // One heavy counter: its 17th carry is one per four of 64 counters.
        let mut heavy = Counters::new(64);
        for k in 1..=256 * 17 {
            heavy.bump(3);
            assert_eq!(heavy.is_narrow(), k < 256 * 17, "after {k} bumps");
        }
        assert_eq!(heavy.count(3), 256 * 17);
        // Many counters with a carry each: the 11th entry is more than one per sixteen of 160.
        let mut many = Counters::new(160);
        for c in 0..11 {
            assert!(many.is_narrow());
            many.add(c * 7, 300);
        }
        assert!(!many.is_narrow());
        assert!((0..160).all(|c| many.count(c) == if c % 7 == 0 && c < 77 { 300 } else { 0 }));

        let mut rng = stream(5, 0, Purpose::Test(4));
        let len = 400;
        let mut parts: Vec<(Counters, Vec<u64>)> = Vec::new();
        for p in 0..6 {
            let (mut c, mut want) = (Counters::new(len), vec![0u64; len]);
            // Some parts stay narrow (few, small counts), others widen (heavy counters).
            for _ in 0..[50, 3_000, 90_000][p % 3] {
                let i = if rng.random::<f64>() < 0.7 {
                    rng.random_range(0..4)
                } else {
                    rng.random_range(0..len)
                };
                if rng.random::<f64>() < 0.1 {
                    let k = rng.random_range(1..1_000);
                    c.add(i, k);
                    want[i] += k;
                } else {
                    c.bump(i);
                    want[i] += 1;
                }
            }
            assert!((0..len).all(|i| c.count(i) == want[i]), "part {p}");
            parts.push((c, want));
        }
        assert!(parts.iter().any(|(c, _)| c.is_narrow()));
        assert!(parts.iter().any(|(c, _)| !c.is_narrow()));
        let want: Vec<u64> = (0..len)
            .map(|i| parts.iter().map(|p| p.1[i]).sum())
            .collect();
        for order in [[0, 1, 2, 3, 4, 5], [5, 3, 1, 0, 2, 4], [0, 3, 1, 4, 2, 5]] {
            let mut total = parts[order[0]].0.clone();
            for &p in &order[1..] {
                total.merge(&parts[p].0);
            }
            assert!(
                (0..len).all(|i| total.count(i) == want[i]),
                "order {order:?}"
            );
        }
        // The same counts, narrow and wide: equal, stored alike, read back alike.
        let (narrow, _) = &parts[0];
        let mut wide = narrow.clone();
        wide.widen();
        assert!(narrow.is_narrow() && !wide.is_narrow());
        assert_eq!(narrow, &wide);
        let stored = serde_json::to_value(narrow).unwrap();
        assert_eq!(stored, serde_json::to_value(&wide).unwrap());
        let pairs: Vec<u64> = serde_json::from_value(stored).unwrap();
        assert_eq!(&Counters::from_sparse(&pairs, len, "test").unwrap(), narrow);
    }

    /// The moments of a subset's per-trial sum from the cross sums equal those of pushing the
    /// sums themselves, for every subset of four values.
    #[test]
    fn cross_moments_give_the_moments_of_any_subsets_sum() {
        let rows: Vec<[f64; 4]> = (0..50)
            .map(|t| {
                let t = t as f64;
                [
                    t.sin() * 3.0,
                    (t * 0.7).cos(),
                    t * 0.01 - 0.2,
                    (t * 1.3).sin().abs() * 7.0,
                ]
            })
            .collect();
        let mut cross = CrossMoments::new(4);
        for r in &rows {
            cross.push(r);
        }
        for mask in 1u32..16 {
            let subset: Vec<usize> = (0..4).filter(|i| mask & (1 << i) != 0).collect();
            let mut direct = Moments::default();
            for r in &rows {
                direct.push(subset.iter().map(|&i| r[i]).sum());
            }
            let got = cross.of_sum(&subset);
            assert_eq!(got.n, direct.n);
            assert!((got.sum - direct.sum).abs() < 1e-9, "{subset:?}");
            assert!(
                (got.sum_sq - direct.sum_sq).abs() < 1e-9 * direct.sum_sq.max(1.0),
                "{subset:?}"
            );
        }
    }

    use crate::rng::{stream, Purpose};
    use rand::Rng;

    #[test]
    fn var_and_cvar_match_the_exponential_closed_form() {
        // Exponential(lambda): VaR_a = -ln(1 - a)/lambda, CVaR_a = VaR_a + 1/lambda.
        let lambda = 0.5;
        let n = 400_000;
        let mut rng = stream(7, 0, Purpose::Test(1));
        let draw = |rng: &mut crate::rng::TrialRng| -(1.0 - rng.random::<f64>()).ln() / lambda;
        let mut xs: Vec<f64> = (0..n).map(|_| draw(&mut rng)).collect();
        for a in [0.95, 0.99] {
            let (var, cvar) = var_cvar(&mut xs, a);
            let var_true = -(1.0f64 - a).ln() / lambda;
            let cvar_true = var_true + 1.0 / lambda;
            // SE of a sample quantile: sqrt(a(1-a)/n) / f(VaR), with f(VaR) = lambda (1 - a).
            let se_var = (a * (1.0 - a) / n as f64).sqrt() / (lambda * (1.0 - a));
            // SE of CVaR: sd of the tail over sqrt of the tail count (tail is VaR + Exp(lambda)).
            let se_cvar = (1.0 / lambda) / ((1.0 - a) * n as f64).sqrt() * 1.5;
            assert!(
                (var - var_true).abs() < 4.0 * se_var,
                "a={a}: VaR {var} vs {var_true} (se {se_var})"
            );
            assert!(
                (cvar - cvar_true).abs() < 4.0 * se_cvar,
                "a={a}: CVaR {cvar} vs {cvar_true} (se {se_cvar})"
            );
        }
    }

    #[test]
    fn curve_quantiles_and_means() {
        let mut c = CurveAcc::new(1, 1);
        for f in [1.0, 1.0, 0.5, 0.0] {
            c.record(0, 0, f);
        }
        assert_eq!(c.quantile(0, 0, 0.25, 4), 0.005);
        assert_eq!(c.quantile(0, 0, 0.5, 4), 0.505);
        assert_eq!(c.quantile(0, 0, 0.75, 4), 1.0);
        assert!((c.mean(0, 0, 4) - 0.625).abs() < 1e-9);
    }

    /// Fills at the edges of recording: empty, full, just below full, bins' edges, negative
    /// zero, out of range, NaN (bin 0, as the engine never gives).
    const EDGE_FILLS: [f64; 10] = [
        0.0,
        1.0,
        1.0 - f64::EPSILON / 2.0,
        0.5,
        0.01,
        0.995,
        -0.0,
        -0.2,
        1.3,
        f64::NAN,
    ];

    /// A group's fills kept and counted after the group are each lane recorded by the scalar
    /// rule: kept all lanes at once (the engine's lane arithmetic) and lane by lane, every row
    /// of each group; every edge fill ([`EDGE_FILLS`]) in every lane (each rotation), in full
    /// groups and partial ones; rows at full service in every lane (counted at once); random
    /// fills. Counts and fixed-point sums alike.
    #[test]
    fn counting_a_kept_group_is_recording_each_lane() {
        let mut rng = stream(9, 0, Purpose::Test(5));
        let ne = EDGE_FILLS.len();
        let rotation = |r: usize| Lanes(std::array::from_fn(|l| EDGE_FILLS[(r + l) % ne]));
        let (n_slots, n_steps) = (3, 4);
        let (mut counted, mut recorded) = (
            CurveAcc::new(n_slots, n_steps),
            CurveAcc::new(n_slots, n_steps),
        );
        let mut rec = FillRec::new(n_slots, n_steps);
        for g in 0..400 {
            let n = match g {
                ..10 => LANES,
                10..20 => 1 + g % LANES,
                _ if g % 4 == 0 => 1 + g % LANES,
                _ => LANES,
            };
            rec.clear();
            for step in 0..n_steps {
                for slot in 0..n_slots {
                    let fill = match g {
                        ..20 => rotation(g % 10 + slot + step),
                        _ if g % 5 == 1 => Lanes::ONE,
                        _ => Lanes(std::array::from_fn(|_| match rng.random_range(0..3) {
                            0 => EDGE_FILLS[rng.random_range(0..ne)],
                            1 => 1.0,
                            _ => rng.random::<f64>(),
                        })),
                    };
                    if g % 3 == 0 {
                        for l in 0..n {
                            rec.record(slot, step, l, fill.0[l]);
                        }
                    } else {
                        rec.record_lanes(slot, step, &fill, n);
                    }
                    for &f in &fill.0[..n] {
                        recorded.record(slot, step, f);
                    }
                }
            }
            counted.count_group(&rec, n);
        }
        assert_eq!(counted, recorded);
        assert!(counted.count(FULL_BIN) > 0 && counted.count(0) > 0);
    }

    /// Stored sparsely, carries folded in (one count is 2^17: zero low bits, the counters
    /// widened by its carries), full service in its place in the row, and read back to the
    /// same accumulator; malformed forms are errors.
    #[test]
    fn curves_are_stored_sparsely_and_read_back() {
        let mut c = CurveAcc::new(2, 3);
        for _ in 0..65_536 {
            c.record(1, 2, 1.0);
        }
        for _ in 0..131_072 {
            c.record(0, 0, 0.0);
        }
        c.record(0, 0, 0.5);
        let json = serde_json::to_value(&c).unwrap();
        let last = 5 * FILL_BINS + FULL_BIN;
        assert_eq!(
            json["counts"],
            serde_json::json!([0, 131_072, 49, 1, last - 51, 65_536])
        );
        assert!(!c.counts.is_narrow());
        assert_eq!((c.counts.low(0), c.counts.count(0)), (0, 131_072));
        assert_eq!((c.full[5], c.counts.count(last)), (65_536, 0));
        let back: CurveAcc = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, c);
        let bad = |edit: &dyn Fn(&mut serde_json::Value), needle: &str| {
            let mut j = json.clone();
            edit(&mut j);
            let e = serde_json::from_value::<CurveAcc>(j)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "expected `{needle}` in {e}");
        };
        bad(&|j| j["counts"][4] = last.into(), "beyond");
        bad(&|j| j["counts"][3] = 0.into(), "zero");
        bad(&|j| j["counts"][5] = (1u64 << 48).into(), "too large");
        bad(&|j| j["counts"] = serde_json::json!([0]), "pairs");
        bad(&|j| j["n_steps"] = 4.into(), "hold 6 sums");
        bad(&|j| j["n_slots"] = (usize::MAX / 2).into(), "hold 6 sums");
        assert!(c
            .check(2, 3, 131_073)
            .unwrap_err()
            .contains("slot 1 at step 0"));
        assert!(c.check(2, 4, 131_073).unwrap_err().contains("2 by 4"));
    }

    /// Row 1 (slot 0, step 1). One worker records 200,000 full-service fills and 70,000 half
    /// fills (273 carries and 112 left), the other 70,000 full and 70,080 half (273 carries
    /// and 192): merging wraps the half bin's low bits again. Full service is counted whole,
    /// apart from the counters. Twenty steps: enough counters to stay one byte wide.
    #[test]
    fn curve_counts_carry_past_8_bits_when_recorded_and_merged() {
        let (mut a, mut b) = (CurveAcc::new(1, 20), CurveAcc::new(1, 20));
        for _ in 0..200_000 {
            a.record(0, 1, 1.0);
        }
        for _ in 0..70_000 {
            a.record(0, 1, 0.5);
            b.record(0, 1, 1.0);
        }
        for _ in 0..70_080 {
            b.record(0, 1, 0.5);
        }
        let half = FILL_BINS + 50;
        assert!(a.counts.is_narrow() && b.counts.is_narrow());
        assert_eq!(a.counts.carry.map.get(&(half as u32)), Some(&273));
        assert_eq!(b.counts.low(half), 192);
        a.merge(&b);
        let full = FILL_BINS + FULL_BIN;
        assert_eq!(a.count(full), 270_000);
        assert_eq!(a.counts.count(full), 0);
        assert_eq!(a.count(half), 140_080);
        assert_eq!(
            a.counts.carry.map.get(&(half as u32)),
            Some(&(140_080 >> 8))
        );
        assert!(a.counts.is_narrow());
        assert_eq!(a.count(50), 0);
        let n = 410_080;
        assert_eq!(a.quantile(0, 1, 140_080.0 / n as f64, n), 0.505);
        assert_eq!(a.quantile(0, 1, 140_081.0 / n as f64, n), 1.0);
        assert!((a.mean(0, 1, n) - (270_000.0 + 70_040.0) / n as f64).abs() < 1e-9);
    }

    /// Prices: the reference and the ceiling exactly, others at their bin's midpoint (within
    /// 1.6%), calm trials implied; the mean exact to the fixed point; peaks in their own row.
    #[test]
    fn price_quantiles_and_means() {
        let mut p = PriceAcc::new(vec![3], vec![(0.5, 8.0)], 2);
        // Step 0 of 10 trials: 6 calm, 0.7, 1.3, 2.0 and the ceiling.
        for x in [1.0, 1.0, 1.0, 0.7, 1.0, 1.3, 1.0, 2.0, 8.0, 1.0] {
            p.record(0, 0, x);
        }
        let r = p.row(0, 0, 10);
        // Bins 1/64 wide in [0.5, 1), 1/32 in [1, 2), 1/16 in [2, 4); a midpoint beyond the
        // lowest or highest price recorded is cut back to it.
        assert_eq!(
            r.quantile(0.1),
            0.7,
            "0.7 lies in [0.6875, 0.703125): midpoint below 0.7"
        );
        assert_eq!(r.quantile(0.2), 1.0);
        assert_eq!(r.quantile(0.7), 1.0);
        assert_eq!(r.quantile(0.8), 1.296875, "1.3 lies in [1.28125, 1.3125)");
        assert_eq!(r.quantile(0.9), 2.03125);
        assert_eq!(r.quantile(1.0), 8.0);
        let mean = (6.0 + 0.7 + 1.3 + 2.0 + 8.0) / 10.0;
        assert!((r.mean - mean).abs() < 1e-8, "{} vs {mean}", r.mean);
        for x in [0.7, 1.3, 2.0, 1.999, 7.9, 0.5] {
            let mut one = PriceAcc::new(vec![0], vec![(0.5, 8.0)], 1);
            one.record(0, 0, x);
            let q = one.row(0, 0, 1).quantile(0.5);
            assert!((q / x - 1.0).abs() <= 1.0 / 64.0, "{x}: bin midpoint {q}");
        }
        // The floor is exact too, and calm trials add exactly 1 to the mean whatever the
        // ceiling.
        let mut wide = PriceAcc::new(vec![0], vec![(0.5, 1e6)], 1);
        wide.record(0, 0, 0.5);
        assert_eq!(wide.row(0, 0, 4).quantile(0.25), 0.5);
        assert_eq!(wide.row(0, 1, 4).mean, 1.0);
        // Recorded prices to 2^-32 of the ceiling.
        assert!((wide.row(0, 0, 4).mean - (0.5 + 3.0) / 4.0).abs() < 1e6 / FIXED_ONE);
        // A step where nothing moved: every quantile and the mean are 1 (up to the fixed point).
        let calm = p.row(0, 1, 10);
        assert_eq!(calm.quantile(0.05), 1.0);
        assert_eq!(calm.quantile(0.95), 1.0);
        assert!((calm.mean - 1.0).abs() < 1e-8);
        // The peak row, all lanes at once.
        p.record_lanes(0, 2, &Lanes::splat(1.0), LANES);
        p.record_lanes(0, 2, &Lanes::splat(3.0), 2);
        let peak = p.row(0, 2, 10);
        assert_eq!(peak.quantile(0.8), 1.0);
        assert_eq!(
            peak.quantile(0.81),
            3.0,
            "only 3 was seen: not its bin's midpoint"
        );
        p.record(0, 2, 3.1);
        assert_eq!(
            p.row(0, 2, 10).quantile(0.81),
            3.03125,
            "with 3.1 seen, the midpoint of [3, 3.0625)"
        );
    }

    /// Price counters are a byte wide: counts past 255 carry, when recorded and when merged,
    /// and read back whole.
    #[test]
    fn price_counts_carry_past_8_bits_when_recorded_and_merged() {
        let (mut a, mut b) = (
            PriceAcc::new(vec![0], vec![(0.5, 8.0)], 1),
            PriceAcc::new(vec![0], vec![(0.5, 8.0)], 1),
        );
        // 700 carry twice when recorded (188 left); merging 100 more wraps the low byte again.
        for _ in 0..700 {
            a.record(0, 0, 8.0);
        }
        for _ in 0..100 {
            b.record(0, 0, 8.0);
        }
        for _ in 0..257 {
            b.record(0, 0, 2.0);
        }
        assert_eq!(a.counts.carry.map.get(&(CEILING_BIN as u32)), Some(&2));
        a.merge(&b);
        assert_eq!(a.counts.count(CEILING_BIN), 800);
        assert_eq!(a.counts.carry.map.get(&(CEILING_BIN as u32)), Some(&3));
        // 43 calm trials, 257 at 2 and 800 at the ceiling.
        let n = 1100;
        let r = a.row(0, 0, n);
        assert_eq!(r.quantile(42.5 / n as f64), 1.0);
        assert_eq!(r.quantile(299.5 / n as f64), 2.03125);
        assert_eq!(r.quantile(300.5 / n as f64), 8.0);
        let mean = (43.0 + 257.0 * 2.0 + 800.0 * 8.0) / n as f64;
        assert!((r.mean - mean).abs() < 1e-8, "{} vs {mean}", r.mean);
    }

    /// Price rows merge exactly, are stored sparsely and read back, and refuse forged shapes.
    #[test]
    fn prices_merge_store_and_check() {
        let bounds = vec![(0.5, 10.0), (0.25, 4.0)];
        let (mut a, mut b) = (
            PriceAcc::new(vec![0, 2], bounds.clone(), 3),
            PriceAcc::new(vec![0, 2], bounds.clone(), 3),
        );
        let mut rng = stream(5, 0, Purpose::Test(3));
        let mut all = PriceAcc::new(vec![0, 2], bounds.clone(), 3);
        for i in 0..70_000 {
            let x = if i % 3 == 0 {
                1.0
            } else {
                0.3 + 4.0 * rng.random::<f64>()
            };
            let (j, t) = (i % 2, i % 4);
            if i % 5 == 0 { &mut a } else { &mut b }.record(j, t, x);
            all.record(j, t, x);
        }
        a.merge(&b);
        assert_eq!(a, all);
        let json = serde_json::to_value(&a).unwrap();
        let back: PriceAcc = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, a);
        assert!(a.check(&[0, 2], &bounds, 3, 70_000).is_ok());
        assert!(a
            .check(&[0, 2], &bounds, 3, 100)
            .unwrap_err()
            .contains("expected at most 100"));
        assert!(a.check(&[0, 1], &bounds, 3, 70_000).is_err());
        let mut forged = a.clone();
        forged.sum[0] = u64::MAX;
        let e = forged.check(&[0, 2], &bounds, 3, 70_000).unwrap_err();
        assert!(e.contains("sums above"), "{e}");
        let mut forged = a.clone();
        forged.counts.bump(CALM_BIN);
        let e = forged.check(&[0, 2], &bounds, 3, 70_000).unwrap_err();
        assert!(e.contains("count of the reference price"), "{e}");
        let bad = |edit: &dyn Fn(&mut serde_json::Value), needle: &str| {
            let mut j = json.clone();
            edit(&mut j);
            let e = serde_json::from_value::<PriceAcc>(j)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "expected `{needle}` in {e}");
        };
        bad(&|j| j["n_steps"] = 4.into(), "hold 8 sums");
        bad(&|j| j["bounds"][0][1] = 0.5.into(), "not a floor");
        bad(&|j| j["slots"] = serde_json::json!([0]), "1 slots hold 2");
        bad(
            &|j| j["counts"] = serde_json::json!([1_000_000, 1]),
            "beyond",
        );
        bad(
            &|j| j["range"][0] = serde_json::json!([0.2, 2.0]),
            "not within its bounds",
        );
        bad(
            &|j| j["range"] = serde_json::json!([]),
            "hold 0 price ranges",
        );
    }
}
