//! Clearing one material's market in one step: prices per access class, what each class buys
//! and what each supply portion sells (`docs/model.md`, "Markets").
//!
//! Buyers fall into *access classes*: buyers barred from the same suppliers. Supply comes in
//! *portions*, each with the set of classes it may be sold to (a bitmask). Demand of a class at
//! price `x` (a multiple of the reference price) is `d0 x^-ed + fixed`; a portion offers
//! `min(s0 x^es, cap)` (with `es` the supply elasticity above the reference price, or the one
//! below it when `x < 1`). Sellers go where the price is highest, so the equilibrium is found from
//! the top down: of every set `G` of the classes not yet priced, the one whose own clearing
//! price (its demand against every remaining portion that can reach it) is highest is the most
//! expensive group; it takes all those portions, and the rest is cleared in the same way.
//! This is exact: no set of classes can clear above the top group's price, since at any lower
//! prices its members would demand more than the portions that reach them can supply; and the
//! top group's price is reached by the top group itself. A set whose price would exceed the
//! ceiling sits at the ceiling and is rationed (each member gets the same fraction of its
//! demand); among sets at the ceiling the most constrained (lowest fraction) goes first, and
//! likewise among sets at a stock threshold (the smallest share of refills bought, then the
//! largest share of releases served). A set whose supply exceeds its demand even at the floor
//! sits at the floor, and its portions sell only what is demanded; among sets at the floor,
//! the one whose demand takes the largest share of its supply goes first. Pricing the most
//! constrained of the sets at one price first is what lets the portions that reach each class
//! deliver what it buys. Sticky prices ([`Clearing::solve_adjusting`]) keep these groups but
//! not that guarantee: at lagging prices a group's classes can demand more than the portions
//! that reach them sell.
//!
//! The solver allocates only when it grows past the largest problem it has seen.

/// Price response of a material's market. Prices are multiples of the reference price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    /// Short-run own-price elasticity of demand (>= 0).
    pub demand_elasticity: f64,
    /// Short-run price elasticity of supply (>= 0), at prices at or above the reference.
    pub supply_elasticity: f64,
    /// Short-run price elasticity of supply below the reference price (>= 0): how far output
    /// is held back when the price falls (by default `supply_elasticity`).
    pub supply_elasticity_below: f64,
    /// Floor, at most 1.
    pub min_price: f64,
    /// Ceiling, at least 1.
    pub max_price: f64,
}

impl Curve {
    /// The supply elasticity that applies at log price `y` (above or below the reference).
    #[inline]
    pub fn es_at(&self, y: f64) -> f64 {
        if y < 0.0 {
            self.supply_elasticity_below
        } else {
            self.supply_elasticity
        }
    }

    /// Offered supply at price `x` as a multiple of the reference offer: `x^es` above the
    /// reference, `x^es_below` below it.
    #[inline]
    pub fn supply_scale(&self, x: f64) -> f64 {
        if x < 1.0 {
            pow(x, self.supply_elasticity_below)
        } else {
            pow(x, self.supply_elasticity)
        }
    }
}

/// The most access classes one clearing handles (sets of classes are enumerated).
pub const MAX_CLASSES: usize = 12;

#[derive(Debug, Clone, Copy, Default)]
struct Class {
    d0: f64,
    fixed: f64,
    price: f64,
    fill: f64,
    /// Demand's response at its price, `pow(price, -demand_elasticity)` (set when the class is
    /// settled).
    mult: f64,
    /// Sticky prices: what its buyers paid last step.
    last: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Portion {
    reach: u32,
    s0: f64,
    cap: f64,
    sold: f64,
    /// The classes it was sold to (the group that took it), 0 if unsold.
    to: u32,
}

/// A stock refill that buys only at a price at most `below`.
#[derive(Debug, Clone, Copy, Default)]
struct Refill {
    class: usize,
    amount: f64,
    below: f64,
    /// Share bought (set by the solve).
    share: f64,
}

/// A stock that serves its holder's own demand (`d0` at the reference price) once the price
/// exceeds `above`, up to `stock`.
#[derive(Debug, Clone, Copy, Default)]
struct Release {
    class: usize,
    d0: f64,
    stock: f64,
    above: f64,
    /// Share of what it can release that it releases (set by the solve).
    share: f64,
}

/// One material's market in one step: fill it with [`Clearing::class`],
/// [`Clearing::portion`] and any stock bids ([`Clearing::refill`], [`Clearing::release`]),
/// then [`Clearing::solve`].
#[derive(Debug, Clone, Default)]
pub struct Clearing {
    classes: Vec<Class>,
    portions: Vec<Portion>,
    refills: Vec<Refill>,
    releases: Vec<Release>,
    /// Stock thresholds of the set being priced, sorted.
    thresholds: Vec<f64>,
    /// The floors and ceilings of the curves solved with (a few: a curve per material), and
    /// which is this solve's.
    ends: Vec<Ends>,
    this_curve: usize,
    /// The set of classes being priced ([`Clearing::set_price`]).
    set: SetView,
}

/// A set of classes, gathered once for the many evaluations of its excess demand while it is
/// priced: its demand, and the unsold portions and the stock bids that reach it, in the
/// clearing's order (sums over them add in the same order as sums over the whole clearing).
#[derive(Debug, Clone, Default)]
struct SetView {
    /// Demand at the reference price that responds to price, and fixed demand.
    d0: f64,
    fixed: f64,
    /// Per portion: `s0` and `cap`.
    portions: Vec<(f64, f64)>,
    /// Per refill: `below` and `amount`.
    refills: Vec<(f64, f64)>,
    /// Per release: `above`, `d0` and `stock`.
    releases: Vec<(f64, f64, f64)>,
}

/// The most curves whose ends a clearing keeps: past it, it forgets them all.
const KEPT_CURVES: usize = 64;

/// What a solve evaluates at a curve's floor and ceiling, computed once per curve (a clearing
/// is reused across materials, steps and models, and most solves test both ends of every set
/// of classes): the same values, to the bit, as computing them at each use.
#[derive(Debug, Clone, Copy)]
struct Ends {
    /// The curve's bits: the ends are this curve's.
    curve: [u64; 5],
    lo: End,
    hi: End,
}

/// A price at which the solve evaluates the curve.
#[derive(Debug, Clone, Copy)]
struct End {
    x: f64,
    /// Its log, where [`Clearing::excess`] is evaluated.
    y: f64,
    /// Demand's response and supply's scale there, as [`responses`] gives them at `y`.
    at_y: (f64, f64),
    /// Demand's response `pow(x, -demand_elasticity)` and supply's scale
    /// [`Curve::supply_scale`] at `x`, as `settle` would compute them at a price `x`.
    mult: f64,
    scale: f64,
}

impl End {
    /// `curve` evaluated at price `x`, with the calls the solve makes there.
    fn new(x: f64, curve: &Curve) -> End {
        let y = x.ln();
        End {
            x,
            y,
            at_y: responses(y, curve),
            mult: pow(x, -curve.demand_elasticity),
            scale: curve.supply_scale(x),
        }
    }
}

impl Ends {
    /// Every field of `curve`, as bits: curves with one key are the same curve to the bit
    /// (0.0 and -0.0 are two keys; a NaN is its own). A field added to [`Curve`] must be
    /// added here (the pattern names every field, so it will not compile until it is).
    fn key(curve: &Curve) -> [u64; 5] {
        let Curve {
            demand_elasticity,
            supply_elasticity,
            supply_elasticity_below,
            min_price,
            max_price,
        } = *curve;
        [
            demand_elasticity,
            supply_elasticity,
            supply_elasticity_below,
            min_price,
            max_price,
        ]
        .map(f64::to_bits)
    }

    /// `curve`'s floor and ceiling, evaluated.
    fn new(curve: &Curve) -> Ends {
        Ends {
            curve: Ends::key(curve),
            lo: End::new(curve.min_price, curve),
            hi: End::new(curve.max_price, curve),
        }
    }

    /// The end at price `x` (the same bits), if `x` is one.
    fn at_price(&self, x: f64) -> Option<&End> {
        [&self.lo, &self.hi]
            .into_iter()
            .find(|e| e.x.to_bits() == x.to_bits())
    }

    /// `x.ln()`.
    fn ln(&self, x: f64) -> f64 {
        self.at_price(x).map_or_else(|| x.ln(), |e| e.y)
    }
}

/// Demand's response `exp(-ed y)` and supply's scale `exp(es y)` at the log price `y` (1 and 1
/// at the reference price, without the calls).
fn responses(y: f64, curve: &Curve) -> (f64, f64) {
    if y == 0.0 {
        (1.0, 1.0)
    } else {
        (
            (-curve.demand_elasticity * y).exp(),
            (curve.es_at(y) * y).exp(),
        )
    }
}

/// A sticky price has reached the clearing price once within this share of it (it would
/// otherwise only approach it).
const SETTLED: f64 = 1e-4;

/// The clearing of one set of classes against the portions that reach it.
#[derive(Debug, Clone, Copy)]
struct SetPrice {
    price: f64,
    /// Share of demand at `price` that supply meets (1 unless at the ceiling).
    fill: f64,
    /// Shares of the refills and releases whose threshold is `price` (the price sits at it).
    refill_share: f64,
    release_share: f64,
    /// Share of supply at `price` that demand takes (1 unless at the floor).
    sold_share: f64,
}

impl SetPrice {
    /// Whether this set is more constrained than `other` at the same price: at the ceiling, a
    /// lower fill; at a stock threshold, its refills buying a smaller share, or else its
    /// releases serving a larger one; at the floor, its demand taking a larger share of
    /// supply. Among sets at one price the most constrained is priced first, so that what it
    /// buys can be delivered: a set that adds to it classes whose portions cannot reach it
    /// would count their supply as its own. (Every subset of the most constrained set is no
    /// more constrained, so the portions that reach a subset can serve it.) A set whose
    /// releases serve at a threshold has cut all its refills there, or has none: its refill
    /// share is 0 either way, so that its releases' share decides.
    fn tighter(&self, other: &SetPrice) -> bool {
        (
            self.fill,
            self.refill_share,
            -self.release_share,
            -self.sold_share,
        ) < (
            other.fill,
            other.refill_share,
            -other.release_share,
            -other.sold_share,
        )
    }
}

/// Which stock bids count at a price: refills with `below` at least `refill_from` (strictly
/// above it with `refill_strict`), releases with `above` below `release_to` (at most it with
/// `release_inclusive`).
#[derive(Debug, Clone, Copy)]
struct Side {
    refill_from: f64,
    refill_strict: bool,
    release_to: f64,
    release_inclusive: bool,
}

impl Side {
    /// The bids in force at the price `x` itself: refills at or below their threshold,
    /// releases above theirs.
    fn at(x: f64) -> Side {
        Side {
            refill_from: x,
            refill_strict: false,
            release_to: x,
            release_inclusive: false,
        }
    }

    /// Just above the threshold `x`: its refills off, its releases in full.
    fn above(x: f64) -> Side {
        Side {
            refill_from: x,
            refill_strict: true,
            release_to: x,
            release_inclusive: true,
        }
    }

    fn refills(&self, below: f64) -> bool {
        below > self.refill_from || (!self.refill_strict && below == self.refill_from)
    }

    fn releases(&self, above: f64) -> bool {
        above < self.release_to || (self.release_inclusive && above == self.release_to)
    }
}

impl Clearing {
    /// An empty market with `n` access classes (at most [`MAX_CLASSES`]).
    pub fn reset(&mut self, n: usize) {
        assert!(n <= MAX_CLASSES, "at most {MAX_CLASSES} access classes");
        self.classes.clear();
        self.classes.resize(n, Class::default());
        self.portions.clear();
        self.refills.clear();
        self.releases.clear();
    }

    /// A stock refill of `amount` in class `c` that buys only at a price at most `below`.
    /// Returns its index.
    pub fn refill(&mut self, c: usize, amount: f64, below: f64) -> usize {
        self.refills.push(Refill {
            class: c,
            amount,
            below,
            share: 0.0,
        });
        self.refills.len() - 1
    }

    /// A stock in class `c` that serves its holder's demand (`d0` at the reference price,
    /// already added with [`Clearing::class`]) once the price exceeds `above`, up to `stock`:
    /// its holder then buys that much less. Returns its index.
    pub fn release(&mut self, c: usize, d0: f64, stock: f64, above: f64) -> usize {
        self.releases.push(Release {
            class: c,
            d0,
            stock,
            above,
            share: 0.0,
        });
        self.releases.len() - 1
    }

    /// What refill `k` buys, before its class's fill.
    pub fn refill_bought(&self, k: usize) -> f64 {
        self.refills[k].amount * self.refills[k].share
    }

    /// What release `k` serves from stock (its holder buys that much less).
    pub fn released(&self, k: usize) -> f64 {
        let r = &self.releases[k];
        r.share * r.stock.min(r.d0 * self.classes[r.class].mult)
    }

    /// Add demand to class `c`: `d0` at the reference price that responds to price, `fixed`
    /// that does not.
    pub fn class(&mut self, c: usize, d0: f64, fixed: f64) {
        self.classes[c].d0 += d0;
        self.classes[c].fixed += fixed;
    }

    /// Add a supply portion that may be sold to the classes in `reach` (bit `c` for class
    /// `c`): `s0` at the reference price, at most `cap`. Returns its index.
    pub fn portion(&mut self, reach: u32, s0: f64, cap: f64) -> usize {
        self.portions.push(Portion {
            reach,
            s0,
            cap,
            ..Portion::default()
        });
        self.portions.len() - 1
    }

    /// Class `c`'s price (a multiple of the reference price).
    pub fn price(&self, c: usize) -> f64 {
        self.classes[c].price
    }

    /// Class `c`'s demand response at its price: `pow(price, -demand_elasticity)` (after a
    /// solve).
    pub fn mult(&self, c: usize) -> f64 {
        self.classes[c].mult
    }

    /// Share of class `c`'s demand at its price that is met (below 1 only at the ceiling).
    pub fn fill(&self, c: usize) -> f64 {
        self.classes[c].fill
    }

    /// Class `c`'s buyers paid `price` last step (sticky prices move from there: see
    /// [`Clearing::solve_adjusting`]).
    pub fn last_price(&mut self, c: usize, price: f64) {
        self.classes[c].last = Some(price);
    }

    /// What class `c` demands at price `x` (stock bids apart).
    pub fn demand(&self, c: usize, x: f64, curve: &Curve) -> f64 {
        let k = &self.classes[c];
        k.d0 * pow(x, -curve.demand_elasticity) + k.fixed
    }

    /// What class `c` buys: its demand at its price times its fill (stock bids apart: see
    /// [`Clearing::refill_bought`] and [`Clearing::released`]).
    pub fn bought(&self, c: usize, curve: &Curve) -> f64 {
        self.demand(c, self.classes[c].price, curve) * self.classes[c].fill
    }

    /// What portion `p` sells, and the classes it sells to (all at one price).
    pub fn sold(&self, p: usize) -> (f64, u32) {
        (self.portions[p].sold, self.portions[p].to)
    }

    /// Prices, fills and sales, from the top group down.
    pub fn solve(&mut self, curve: &Curve) {
        self.solve_adjusting(curve, 1.0);
    }

    /// As [`Clearing::solve`], with sticky prices: each class's price closes only the share
    /// `adjust` of the gap between its buyers' last price (given with
    /// [`Clearing::last_price`]; a class without one clears) and its group's clearing price
    /// (`adjust` 1: prices clear). The
    /// groups, and the supply each takes, are those of the clearing; at the lagging prices,
    /// demand above that supply is rationed (use before refills) and supply above demand goes
    /// unsold.
    pub fn solve_adjusting(&mut self, curve: &Curve, adjust: f64) {
        // The last solve's curve first: a market's lanes clear one after another.
        let key = Ends::key(curve);
        let hit = match self.ends.get(self.this_curve) {
            Some(e) if e.curve == key => Some(self.this_curve),
            _ => self.ends.iter().position(|e| e.curve == key),
        };
        self.this_curve = match hit {
            Some(i) => i,
            None => {
                if self.ends.len() == KEPT_CURVES {
                    self.ends.clear();
                }
                self.ends.push(Ends::new(curve));
                self.ends.len() - 1
            }
        };
        // A refill whose threshold is at or above the ceiling bids up to the ceiling only.
        for r in &mut self.refills {
            r.below = r.below.min(curve.max_price);
        }
        let n = self.classes.len();
        let mut open: u32 = (1u32 << n) - 1;
        while open != 0 {
            let mut best: Option<(u32, SetPrice)> = None;
            // Every non-empty subset of the open classes.
            let mut g = open;
            while g != 0 {
                let p = self.set_price(g, curve);
                let better = match best {
                    None => true,
                    Some((bg, b)) => {
                        p.price > b.price
                            || (p.price == b.price
                                && (p.tighter(&b)
                                    || (!b.tighter(&p) && g.count_ones() > bg.count_ones())))
                    }
                };
                if better {
                    best = Some((g, p));
                }
                g = (g - 1) & open;
            }
            let (g, p) = best.expect("a non-empty set of classes");
            if adjust < 1.0 && self.lag(g, p.price, adjust, curve) {
                self.settle_lagging(g, p, curve);
            } else {
                self.settle(g, p, curve);
            }
            open &= !g;
        }
    }

    /// The ends of the curve being solved with.
    fn ends(&self) -> &Ends {
        &self.ends[self.this_curve]
    }

    /// The stock bids of the set being priced ([`Clearing::gather`]) at a price whose demand
    /// response is `mult`
    /// (`x^-ed`), counting those `side` admits: refills bought less stock released, and its
    /// slope in the log price.
    fn stock_demand(&self, mult: f64, side: Side, curve: &Curve) -> (f64, f64) {
        let ed = curve.demand_elasticity;
        let (mut net, mut slope) = (0.0, 0.0);
        for &(below, amount) in &self.set.refills {
            if side.refills(below) {
                net += amount;
            }
        }
        for &(above, d0, stock) in &self.set.releases {
            if side.releases(above) {
                let want = d0 * mult;
                if want < stock {
                    net -= want;
                    slope += ed * want;
                } else {
                    net -= stock;
                }
            }
        }
        (net, slope)
    }

    /// Gather the set of classes `g` into [`Clearing::set`], for [`Clearing::excess`],
    /// [`Clearing::stock_demand`] and [`Clearing::root`], which read that set and no other:
    /// [`Clearing::set_price`] gathers its set first.
    fn gather(&mut self, g: u32) {
        let (d0, fixed) = self.set_parts(g);
        let v = &mut self.set;
        (v.d0, v.fixed) = (d0, fixed);
        v.portions.clear();
        v.portions.extend(
            self.portions
                .iter()
                .filter(|p| p.to == 0 && p.reach & g != 0)
                .map(|p| (p.s0, p.cap)),
        );
        v.refills.clear();
        v.refills.extend(
            self.refills
                .iter()
                .filter(|r| g >> r.class & 1 != 0)
                .map(|r| (r.below, r.amount)),
        );
        v.releases.clear();
        v.releases.extend(
            self.releases
                .iter()
                .filter(|r| g >> r.class & 1 != 0)
                .map(|r| (r.above, r.d0, r.stock)),
        );
    }

    /// The classes in `g`: demand at the reference price that responds to price, and fixed
    /// demand.
    fn set_parts(&self, g: u32) -> (f64, f64) {
        let (mut d0, mut fixed) = (0.0, 0.0);
        for (c, k) in self.classes.iter().enumerate() {
            if g >> c & 1 != 0 {
                d0 += k.d0;
                fixed += k.fixed;
            }
        }
        (d0, fixed)
    }

    /// Supply of the unsold portions that reach `g`, where supply's scale is `scale`.
    fn set_supply_scaled(&self, g: u32, scale: f64) -> f64 {
        self.portions
            .iter()
            .filter(|p| p.to == 0 && p.reach & g != 0)
            .map(|p| (p.s0 * scale).min(p.cap))
            .sum()
    }

    /// The price at which the classes in `g` clear against the unsold portions that reach them.
    ///
    /// Without stock bids excess demand is continuous and falls as the price rises. A refill
    /// adds a step down at its threshold (bought at or below it), a release another (its
    /// holder's demand served from stock above it); between thresholds excess is continuous.
    /// The price is where excess crosses zero: inside a stretch between thresholds, or at a
    /// threshold whose step straddles zero, where the refills at it buy (and then the releases
    /// at it release) just what closes the gap.
    fn set_price(&mut self, g: u32, curve: &Curve) -> SetPrice {
        // At a price that is no stock threshold, or at one where the bids are what they are
        // at the price itself: refills at it buy, releases at it wait.
        let interior = |price| SetPrice {
            price,
            fill: 1.0,
            refill_share: 1.0,
            release_share: 0.0,
            sold_share: 1.0,
        };
        // The reference price when supply meets demand there (up to float noise): the calm
        // case, first.
        self.gather(g);
        let (d0, fixed) = (self.set.d0, self.set.fixed);
        let at_one = self.excess(0.0, Side::at(1.0), curve).0;
        let d1 = d0 + fixed + self.stock_demand(1.0, Side::at(1.0), curve).0;
        if at_one.abs() <= 1e-12 * d1 {
            return interior(1.0);
        }
        let ends = self.ends();
        let (lo, hi) = (ends.lo.x, ends.hi.x);
        // At the ceiling, refills bid for nothing: use is rationed, and a refill never takes
        // supply from it (a refill whose threshold is at or above the ceiling counts as one at
        // the ceiling, below).
        let rationed = Side {
            refill_from: hi,
            refill_strict: true,
            release_to: hi,
            release_inclusive: false,
        };
        let at_max = self.excess_at(ends.hi.y, ends.hi.at_y, rationed, curve).0;
        if at_max > 0.0 {
            let mult = ends.hi.mult;
            let d = d0 * mult + fixed + self.stock_demand(mult, rationed, curve).0;
            return SetPrice {
                fill: (d - at_max) / d,
                refill_share: 0.0,
                ..interior(hi)
            };
        }
        let at_min = self
            .excess_at(ends.lo.y, ends.lo.at_y, Side::at(lo), curve)
            .0;
        if at_min <= 0.0 {
            let supply = self.set_supply_scaled(g, ends.lo.scale);
            return SetPrice {
                sold_share: if supply > 0.0 {
                    (supply + at_min) / supply
                } else {
                    1.0
                },
                ..interior(lo)
            };
        }
        // The stretch holding the root: below the first threshold at which excess is no
        // longer positive, or at that threshold.
        self.thresholds.clear();
        for r in &self.refills {
            if g >> r.class & 1 != 0 && r.below > lo {
                self.thresholds.push(r.below);
            }
        }
        for r in &self.releases {
            if g >> r.class & 1 != 0 && r.above > lo && r.above < hi {
                self.thresholds.push(r.above);
            }
        }
        self.thresholds.sort_unstable_by(f64::total_cmp);
        self.thresholds.dedup();
        let mut from = lo;
        let mut to = hi;
        for &th in &self.thresholds {
            let left = self.excess(th.ln(), Side::at(th), curve).0;
            if left < 0.0 {
                to = th;
                break;
            }
            let right = self.excess(th.ln(), Side::above(th), curve).0;
            if right <= 0.0 {
                return self.at_threshold(g, th, left, curve);
            }
            from = th;
        }
        // Inside (from, to), the bids in force are those of any price strictly between: those
        // just above `from`.
        interior(self.root(from, to, Side::above(from), curve))
    }

    /// The price sits at threshold `th`, where excess is `left` (> 0) with its refills bought
    /// and its releases not yet made: its refills buy less, then its releases serve, until
    /// excess is 0.
    fn at_threshold(&self, g: u32, th: f64, left: f64, curve: &Curve) -> SetPrice {
        let ed = curve.demand_elasticity;
        let refills: f64 = self
            .refills
            .iter()
            .filter(|r| g >> r.class & 1 != 0 && r.below == th)
            .map(|r| r.amount)
            .sum();
        let releases: f64 = self
            .releases
            .iter()
            .filter(|r| g >> r.class & 1 != 0 && r.above == th)
            .map(|r| r.stock.min(r.d0 * pow(th, -ed)))
            .sum();
        let cut = left.min(refills);
        SetPrice {
            price: th,
            fill: 1.0,
            // Without refills at the threshold, its releases close the gap: as constrained
            // as refills cut to nothing (see `SetPrice::tighter`).
            refill_share: if refills > 0.0 {
                1.0 - cut / refills
            } else {
                0.0
            },
            release_share: if releases > 0.0 {
                ((left - cut) / releases).min(1.0)
            } else {
                0.0
            },
            sold_share: 1.0,
        }
    }

    /// Sticky prices for the group `g`, whose clearing price is `to`: each class's price is
    /// its buyers' last price moved the share `adjust` of the way to `to` (or `to` itself once
    /// within [`SETTLED`] of it). Returns whether any class's price lags.
    fn lag(&mut self, g: u32, to: f64, adjust: f64, curve: &Curve) -> bool {
        let mut lags = false;
        for (c, k) in self.classes.iter_mut().enumerate() {
            if g >> c & 1 == 0 {
                continue;
            }
            k.price = to;
            if let Some(last) = k.last {
                let x = (last + adjust * (to - last)).clamp(curve.min_price, curve.max_price);
                if (x - to).abs() > SETTLED * to {
                    k.price = x;
                    lags = true;
                }
            }
        }
        lags
    }

    /// Settle the group `g` at its classes' sticky prices ([`Clearing::lag`]); `p` is its
    /// clearing. Suppliers sell what they offer at the clearing price `p.price`. Each class's
    /// use at its own price (less the stocks released above their thresholds) comes first: if
    /// that supply falls short of the group's use, every class gets the same fraction and
    /// refills nothing; what use leaves goes to the refills in force at their class's price,
    /// the same share each; any rest is unsold (every portion sells the same share).
    fn settle_lagging(&mut self, g: u32, p: SetPrice, curve: &Curve) {
        let ed = curve.demand_elasticity;
        let mut use_ = 0.0;
        for (c, k) in self.classes.iter_mut().enumerate() {
            if g >> c & 1 != 0 {
                k.mult = pow(k.price, -ed);
                use_ += k.d0 * k.mult + k.fixed;
            }
        }
        for r in &self.releases {
            let k = &self.classes[r.class];
            if g >> r.class & 1 != 0 && r.above < k.price {
                use_ -= r.stock.min(r.d0 * k.mult);
            }
        }
        let refills: f64 = self
            .refills
            .iter()
            .filter(|r| g >> r.class & 1 != 0 && r.below >= self.classes[r.class].price)
            .map(|r| r.amount)
            .sum();
        let scale = curve.supply_scale(p.price);
        let supply = self.set_supply_scaled(g, scale);
        let (fill, refill, sell) = if use_ >= supply {
            (if use_ > 0.0 { supply / use_ } else { 1.0 }, 0.0, 1.0)
        } else if use_ + refills > supply {
            (1.0, (supply - use_) / refills, 1.0)
        } else {
            (1.0, 1.0, (use_ + refills) / supply)
        };
        self.sell_scaled(g, scale, sell);
        for (c, k) in self.classes.iter_mut().enumerate() {
            if g >> c & 1 != 0 {
                k.fill = fill;
            }
        }
        for r in &mut self.refills {
            if g >> r.class & 1 != 0 {
                let x = self.classes[r.class].price;
                r.share = if r.below >= x { refill } else { 0.0 };
            }
        }
        for r in &mut self.releases {
            if g >> r.class & 1 != 0 {
                let x = self.classes[r.class].price;
                r.share = if r.above < x { 1.0 } else { 0.0 };
            }
        }
    }

    /// Excess demand of the set being priced ([`Clearing::gather`]) at the log price `y`, the
    /// stock bids `side` admits included, and its slope in `y` (negative: demand falls and
    /// supply rises with price).
    fn excess(&self, y: f64, side: Side, curve: &Curve) -> (f64, f64) {
        self.excess_at(y, responses(y, curve), side, curve)
    }

    /// [`Clearing::excess`] given demand's response and supply's scale at `y` ([`responses`]).
    fn excess_at(
        &self,
        y: f64,
        (demand_mult, scale): (f64, f64),
        side: Side,
        curve: &Curve,
    ) -> (f64, f64) {
        let (ed, es) = (curve.demand_elasticity, curve.es_at(y));
        let (d0, fixed) = (self.set.d0, self.set.fixed);
        let (mut supply, mut slope) = (0.0, 0.0);
        for &(s0, cap) in &self.set.portions {
            let q = s0 * scale;
            if q < cap {
                supply += q;
                slope += es * q;
            } else {
                supply += cap;
            }
        }
        let responsive = d0 * demand_mult;
        let (stocks, stock_slope) = self.stock_demand(demand_mult, side, curve);
        (
            responsive + fixed + stocks - supply,
            -ed * responsive + stock_slope - slope,
        )
    }

    /// The price in `(from, to)` where the excess of the set being priced, with the stock bids
    /// of `side`, is zero (it is positive at `from` and at most zero at `to`).
    fn root(&self, from: f64, to: f64, side: Side, curve: &Curve) -> f64 {
        let v = &self.set;
        let (d0, fixed) = (v.d0, v.fixed);
        let s0: f64 = v.portions.iter().map(|p| p.0).sum();
        // The elasticity of the side of the reference the price lies on: below it when
        // reference demand falls short of reference supply.
        let (ed, es) = (
            curve.demand_elasticity,
            curve.es_at(((d0 + fixed) / s0).ln()),
        );
        let e = ed + es;
        let bids = !v.refills.is_empty() || !v.releases.is_empty();
        // Closed form when nothing is fixed, no stock bids and no cap binds.
        if fixed == 0.0 && !bids && e > 0.0 && s0 > 0.0 {
            let x = (d0 / s0).powf(1.0 / e);
            let scale = x.powf(es);
            if (from..=to).contains(&x) && v.portions.iter().all(|&(p_s0, cap)| p_s0 * scale <= cap)
            {
                return x;
            }
        }
        // Newton's method on the log price, kept inside a bracket [a, b] with excess above
        // zero at a and below at b; a step that would leave the bracket bisects it instead.
        let ends = self.ends();
        let (mut a, mut b) = (ends.ln(from), ends.ln(to));
        let guess = if e > 0.0 && s0 > 0.0 {
            ((d0 + fixed) / s0).ln() / e
        } else {
            f64::NAN
        };
        let mut y = if guess > a && guess < b {
            guess
        } else {
            0.5 * (a + b)
        };
        for _ in 0..200 {
            let (f, slope) = self.excess(y, side, curve);
            if f == 0.0 {
                break;
            }
            if f > 0.0 {
                a = y;
            } else {
                b = y;
            }
            let newton = y - f / slope;
            let next = if slope < 0.0 && newton > a && newton < b {
                newton
            } else {
                0.5 * (a + b)
            };
            let done =
                (next - y).abs() <= 4.0 * f64::EPSILON * y.abs().max(1.0) || next <= a || next >= b;
            y = next;
            if done {
                break;
            }
        }
        y.exp()
    }

    /// Give the classes in `g` their price, the portions that reach them to them, and their
    /// stock bids their shares.
    fn settle(&mut self, g: u32, p: SetPrice, curve: &Curve) {
        // Each power once: demand's response and supply's scale at the price.
        let (mult, scale) = match self.ends().at_price(p.price) {
            Some(e) => (e.mult, e.scale),
            None => (
                pow(p.price, -curve.demand_elasticity),
                curve.supply_scale(p.price),
            ),
        };
        let demand = self.set_demand_settled(g, p, mult);
        let supply = self.set_supply_scaled(g, scale);
        // At the floor supply may exceed demand: every portion sells the same share.
        let share = if supply > demand && supply > 0.0 {
            demand / supply
        } else {
            1.0
        };
        self.sell_scaled(g, scale, share);
        for (c, k) in self.classes.iter_mut().enumerate() {
            if g >> c & 1 != 0 {
                k.price = p.price;
                k.fill = p.fill;
                k.mult = mult;
            }
        }
        let x = p.price;
        for r in &mut self.refills {
            if g >> r.class & 1 != 0 {
                r.share = refill_share(r.below, x, p.refill_share);
            }
        }
        for r in &mut self.releases {
            if g >> r.class & 1 != 0 {
                r.share = release_share(r.above, x, p.release_share);
            }
        }
    }

    /// The unsold portions that reach `g` go to it, each selling the share `share` of its
    /// offer at the price where supply's scale is `scale`.
    fn sell_scaled(&mut self, g: u32, scale: f64, share: f64) {
        for q in &mut self.portions {
            if q.to == 0 && q.reach & g != 0 {
                q.sold = (q.s0 * scale).min(q.cap) * share;
                q.to = g;
            }
        }
    }

    /// Demand of the classes in `g` at their settled price, stock bids at their shares.
    /// `mult` is demand's response at that price.
    fn set_demand_settled(&self, g: u32, p: SetPrice, mult: f64) -> f64 {
        let (d0, fixed) = self.set_parts(g);
        let mut d = d0 * mult + fixed;
        for r in &self.refills {
            if g >> r.class & 1 != 0 {
                d += r.amount * refill_share(r.below, p.price, p.refill_share);
            }
        }
        for r in &self.releases {
            if g >> r.class & 1 != 0 {
                let can = r.stock.min(r.d0 * mult);
                d -= can * release_share(r.above, p.price, p.release_share);
            }
        }
        d
    }
}

/// The share a refill with threshold `below` buys at price `x` (`at`: the share of those whose
/// threshold is the price).
fn refill_share(below: f64, x: f64, at: f64) -> f64 {
    if below > x {
        1.0
    } else if below == x {
        at
    } else {
        0.0
    }
}

/// The share of what it can release that a release with threshold `above` releases at `x`.
fn release_share(above: f64, x: f64, at: f64) -> f64 {
    if above < x {
        1.0
    } else if above == x {
        at
    } else {
        0.0
    }
}

/// The whole consumer loss of a buyer whose demand is `spend0` (quantity times price) at the
/// reference price when the price moves to `x` times it: the area under its isoelastic demand
/// curve between the two prices, `spend0 (x^(1-ed) - 1) / (1 - ed)` (`spend0 ln x` at ed = 1).
/// Negative below the reference price (a gain).
pub fn consumer_loss(spend0: f64, x: f64, ed: f64) -> f64 {
    loss_parts(spend0, x, pow(x, -ed), ed).0
}

/// The part of [`consumer_loss`] that is extra spend on what is still bought:
/// `(x - 1) spend0 x^-ed`. The rest is surplus lost on the demand given up.
pub fn extra_spend(spend0: f64, x: f64, ed: f64) -> f64 {
    loss_parts(spend0, x, pow(x, -ed), ed).1
}

/// [`consumer_loss`] and [`extra_spend`] at once, given `mult = x^-ed` (the demand response
/// the market step already computed).
pub fn loss_parts(spend0: f64, x: f64, mult: f64, ed: f64) -> (f64, f64) {
    if x == 1.0 {
        (0.0, 0.0)
    } else if (ed - 1.0).abs() < 1e-12 {
        (spend0 * x.ln(), (x - 1.0) * spend0 * mult)
    } else {
        (
            spend0 * (x * mult - 1.0) / (1.0 - ed),
            (x - 1.0) * spend0 * mult,
        )
    }
}

/// `x^e`, without the call at the reference price (the calm case; the same bits).
pub fn pow(x: f64, e: f64) -> f64 {
    if x == 1.0 {
        1.0
    } else {
        x.powf(e)
    }
}
