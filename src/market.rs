//! Clearing one material's market in one step: prices per access class, what each class buys
//! and what each supply portion sells (`docs/model.md`, "Markets").
//!
//! Buyers fall into *access classes*: buyers barred from the same suppliers. Supply comes in
//! *portions*, each with the set of classes it may be sold to (a bitmask). Demand of a class at
//! price `x` (a multiple of the reference price) is `d0 x^-ed + fixed`; a portion offers
//! `min(s0 x^es, cap)`. Sellers go where the price is highest, so the equilibrium is found from
//! the top down: of every set `G` of the classes not yet priced, the one whose own clearing
//! price (its demand against every remaining portion that can reach it) is highest is the most
//! expensive group; it takes all those portions, and the rest is cleared in the same way.
//! This is exact: no set of classes can clear above the top group's price, since at any lower
//! prices its members would demand more than the portions that reach them can supply; and the
//! top group's price is reached by the top group itself. A set whose price would exceed the
//! ceiling sits at the ceiling and is rationed (each member gets the same fraction of its
//! demand); among sets at the ceiling the most constrained (lowest fraction) goes first. A set
//! whose supply exceeds its demand even at the floor sits at the floor, and its portions sell
//! only what is demanded.
//!
//! The solver allocates only when it grows past the largest problem it has seen.

/// Price response of a material's market. Prices are multiples of the reference price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    /// Short-run own-price elasticity of demand (>= 0).
    pub demand_elasticity: f64,
    /// Short-run price elasticity of supply (>= 0).
    pub supply_elasticity: f64,
    /// Floor, at most 1.
    pub min_price: f64,
    /// Ceiling, at least 1.
    pub max_price: f64,
}

/// The most access classes one clearing handles (sets of classes are enumerated).
pub const MAX_CLASSES: usize = 12;

#[derive(Debug, Clone, Copy, Default)]
struct Class {
    d0: f64,
    fixed: f64,
    price: f64,
    fill: f64,
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

/// One material's market in one step: fill it with [`Clearing::class`] and
/// [`Clearing::portion`], then [`Clearing::solve`].
#[derive(Debug, Clone, Default)]
pub struct Clearing {
    classes: Vec<Class>,
    portions: Vec<Portion>,
}

/// The clearing of one set of classes against the portions that reach it.
#[derive(Debug, Clone, Copy)]
struct SetPrice {
    price: f64,
    /// Share of demand at `price` that supply meets (1 unless at the ceiling).
    fill: f64,
}

impl Clearing {
    /// An empty market with `n` access classes (at most [`MAX_CLASSES`]).
    pub fn reset(&mut self, n: usize) {
        assert!(n <= MAX_CLASSES, "at most {MAX_CLASSES} access classes");
        self.classes.clear();
        self.classes.resize(n, Class::default());
        self.portions.clear();
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

    /// Share of class `c`'s demand at its price that is met (below 1 only at the ceiling).
    pub fn fill(&self, c: usize) -> f64 {
        self.classes[c].fill
    }

    /// What class `c` demands at price `x`.
    pub fn demand(&self, c: usize, x: f64, curve: &Curve) -> f64 {
        let k = &self.classes[c];
        k.d0 * pow(x, -curve.demand_elasticity) + k.fixed
    }

    /// What class `c` buys: its demand at its price times its fill.
    pub fn bought(&self, c: usize, curve: &Curve) -> f64 {
        self.demand(c, self.classes[c].price, curve) * self.classes[c].fill
    }

    /// What portion `p` sells, and the classes it sells to (all at one price).
    pub fn sold(&self, p: usize) -> (f64, u32) {
        (self.portions[p].sold, self.portions[p].to)
    }

    /// Prices, fills and sales, from the top group down.
    pub fn solve(&mut self, curve: &Curve) {
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
                                && (p.fill < b.fill
                                    || (p.fill == b.fill && g.count_ones() > bg.count_ones())))
                    }
                };
                if better {
                    best = Some((g, p));
                }
                g = (g - 1) & open;
            }
            let (g, p) = best.expect("a non-empty set of classes");
            self.settle(g, p, curve);
            open &= !g;
        }
    }

    /// Demand of the classes in `g` at price `x`.
    fn set_demand(&self, g: u32, x: f64, curve: &Curve) -> f64 {
        let (d0, fixed) = self.set_parts(g);
        d0 * pow(x, -curve.demand_elasticity) + fixed
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

    /// Supply of the unsold portions that reach `g`, at price `x`.
    fn set_supply(&self, g: u32, x: f64, curve: &Curve) -> f64 {
        let scale = pow(x, curve.supply_elasticity);
        self.portions
            .iter()
            .filter(|p| p.to == 0 && p.reach & g != 0)
            .map(|p| (p.s0 * scale).min(p.cap))
            .sum()
    }

    /// The price at which the classes in `g` clear against the unsold portions that reach them.
    fn set_price(&self, g: u32, curve: &Curve) -> SetPrice {
        let (d0, fixed) = self.set_parts(g);
        let (ed, es) = (curve.demand_elasticity, curve.supply_elasticity);
        let reach = || {
            self.portions
                .iter()
                .filter(move |p| p.to == 0 && p.reach & g != 0)
        };
        // Excess demand at the log price `y`, and its slope in `y` (negative: demand falls
        // and supply rises with the price).
        let excess = |y: f64| -> (f64, f64) {
            let (demand_mult, scale) = if y == 0.0 {
                (1.0, 1.0)
            } else {
                ((-ed * y).exp(), (es * y).exp())
            };
            let (mut supply, mut slope) = (0.0, 0.0);
            for p in reach() {
                let q = p.s0 * scale;
                if q < p.cap {
                    supply += q;
                    slope += es * q;
                } else {
                    supply += p.cap;
                }
            }
            let responsive = d0 * demand_mult;
            (responsive + fixed - supply, -ed * responsive - slope)
        };
        let interior = |price| SetPrice { price, fill: 1.0 };
        // The reference price when supply meets demand there (up to float noise): the calm
        // case, first.
        if excess(0.0).0.abs() <= 1e-12 * (d0 + fixed) {
            return interior(1.0);
        }
        let (lo, hi) = (curve.min_price, curve.max_price);
        let (a, b) = (lo.ln(), hi.ln());
        let at_max = excess(b).0;
        if at_max > 0.0 {
            let d = self.set_demand(g, hi, curve);
            return SetPrice {
                price: hi,
                fill: (d - at_max) / d,
            };
        }
        if excess(a).0 <= 0.0 {
            return interior(lo);
        }
        // Closed form when nothing is fixed and no cap binds.
        let e = ed + es;
        let s0: f64 = reach().map(|p| p.s0).sum();
        if fixed == 0.0 && e > 0.0 && s0 > 0.0 {
            let x = (d0 / s0).powf(1.0 / e);
            let scale = x.powf(es);
            if (lo..=hi).contains(&x) && reach().all(|p| p.s0 * scale <= p.cap) {
                return interior(x);
            }
        }
        // Newton's method on the log price, kept inside a bracket [a, b] with excess above
        // zero at a and below at b; a step that would leave the bracket bisects it instead.
        let (mut a, mut b) = (a, b);
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
            let (f, slope) = excess(y);
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
            let done = (next - y).abs() <= 4.0 * f64::EPSILON * y.abs().max(1.0)
                || next <= a
                || next >= b;
            y = next;
            if done {
                break;
            }
        }
        interior(y.exp())
    }

    /// Give the classes in `g` their price, and the portions that reach them to them.
    fn settle(&mut self, g: u32, p: SetPrice, curve: &Curve) {
        let demand = self.set_demand(g, p.price, curve);
        let supply = self.set_supply(g, p.price, curve);
        // At the floor supply may exceed demand: every portion sells the same share.
        let share = if supply > demand && supply > 0.0 {
            demand / supply
        } else {
            1.0
        };
        let scale = pow(p.price, curve.supply_elasticity);
        for q in &mut self.portions {
            if q.to == 0 && q.reach & g != 0 {
                q.sold = (q.s0 * scale).min(q.cap) * share;
                q.to = g;
            }
        }
        for (c, k) in self.classes.iter_mut().enumerate() {
            if g >> c & 1 != 0 {
                k.price = p.price;
                k.fill = p.fill;
            }
        }
    }
}

/// The whole consumer loss of a buyer whose demand is `spend0` (quantity times price) at the
/// reference price when the price moves to `x` times it: the area under its isoelastic demand
/// curve between the two prices, `spend0 (x^(1-ed) - 1) / (1 - ed)` (`spend0 ln x` at ed = 1).
/// Negative below the reference price (a gain).
pub fn consumer_loss(spend0: f64, x: f64, ed: f64) -> f64 {
    if x == 1.0 {
        0.0
    } else if (ed - 1.0).abs() < 1e-12 {
        spend0 * x.ln()
    } else {
        spend0 * (x.powf(1.0 - ed) - 1.0) / (1.0 - ed)
    }
}

/// The part of [`consumer_loss`] that is extra spend on what is still bought:
/// `(x - 1) spend0 x^-ed`. The rest is surplus lost on the demand given up.
pub fn extra_spend(spend0: f64, x: f64, ed: f64) -> f64 {
    if x == 1.0 {
        0.0
    } else {
        (x - 1.0) * spend0 * x.powf(-ed)
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
