//! Step 4 for a material with a market, in place of contract allocation and the spot market:
//! its buyers are grouped into access classes (buyers barred from the same suppliers, to the
//! same degree, by bans and closed routes), each supplier's offer is split into portions by
//! whom it may reach, and the market clears ([`crate::market::Clearing`]): a price per class,
//! what each class buys, what each portion sells. Deliveries then go along each buyer's link to
//! each supplier (through its route's pipe), and each supplier uses the inputs of what it sold.
//! Written per lane: classes and prices differ between lanes.

use super::net::Net;
use super::orders::pool_refill;
use super::produce::{input_limit, input_limit_lane, use_inputs, use_inputs_lane};
use super::state::Scratch;
use super::transport::{ship, ship_lanes};
use super::NONE;
use crate::lanes::{Lanes, Mask, LANES};
use crate::market::{loss_parts, Clearing, MAX_CLASSES};
use crate::model::{Market, Model, Owner};
use std::ops::Range;

/// Reused buffers of the market step.
#[derive(Debug, Clone, Default)]
pub(super) struct MarketScratch {
    clearing: Clearing,
    /// Per class, its access factor to each supplier (class-major).
    keys: Vec<f64>,
    /// This buyer's access factors.
    factors: Vec<f64>,
    /// Per class, what its buyers take from each supplier in the steady state, as a fraction
    /// of the supplier's steady output (class-major).
    calm: Vec<f64>,
    /// Per buyer: its class, price-responsive and fixed demand, what it still wants.
    class_of: Vec<usize>,
    d0: Vec<f64>,
    fixed: Vec<f64>,
    want: Vec<f64>,
    /// Per class: demand multiplier at its price.
    mult: Vec<f64>,
    /// Per portion: its supplier (position) and reach.
    portion_seller: Vec<usize>,
    portion_reach: Vec<u32>,
    /// Portions, most restricted first.
    by_reach: Vec<usize>,
    /// Per portion: what is still to deliver.
    left: Vec<f64>,
    /// Per supplier (position): its portions.
    seller_portions: Vec<(usize, usize)>,
    /// Per buyer: what it wants at its price before deliveries.
    want0: Vec<f64>,
    /// Per supplier (position): what it sold.
    sold: Vec<f64>,
    /// Per buyer: its stockpile's and its pool share's refill bids, and its stock's release
    /// (indices in the clearing, or `usize::MAX`).
    refill_own: Vec<usize>,
    refill_pool: Vec<usize>,
    release: Vec<usize>,
    /// Per buyer and portion (buyer-major): what it was given of it.
    took: Vec<f64>,
    /// Deliveries decided: (buyer, supplier position, pipe, quantity), shipped in this order.
    shipments: Vec<(usize, usize, u32, f64)>,
    /// [`rebalance`]'s search: per buyer the portion it would get more of, per portion the
    /// buyer that would give it up and whether it was queued, and the portions to visit.
    via: Vec<usize>,
    freed: Vec<usize>,
    queued: Vec<bool>,
    queue: Vec<usize>,
    /// This lane's inputs to the clearing ([`inputs`]) and its releasable stocks.
    inputs: Vec<f64>,
    stocks: Vec<Stock>,
    /// Per material and lane (`m * LANES + l`): its last clearing.
    last: Vec<Cleared>,
}

/// A lane's clearing, kept to be repeated when its inputs recur: the inputs, each buyer's
/// price and demand multiplier, the deliveries in the order they were made, and what each
/// supplier sold.
#[derive(Debug, Clone, Default)]
struct Cleared {
    inputs: Vec<f64>,
    stocks: Vec<Stock>,
    price: Vec<f64>,
    mult: Vec<f64>,
    /// The deliveries, as [`clear_lane`] decided them (`MarketScratch::shipments`).
    shipped: Vec<(usize, usize, u32, f64)>,
    sold: Vec<f64>,
}

impl Cleared {
    /// Whether a clearing with these inputs and releasable stocks is this one again: inputs
    /// equal bit for bit (0.0 and -0.0 are not the same input), stocks inert ([`Stock::inert`]).
    fn recurs(&self, inputs: &[f64], stocks: &[Stock]) -> bool {
        self.inputs.len() == inputs.len()
            && self
                .inputs
                .iter()
                .zip(inputs)
                .all(|(x, y)| x.to_bits() == y.to_bits())
            && self.stocks.len() == stocks.len()
            && self
                .stocks
                .iter()
                .zip(stocks)
                .all(|(a, b)| a.inert(b, self.price[a.buyer]))
    }
}

/// A buyer's stock that can release into a spike (its stockpile's and its pool share's, at the
/// lower threshold where both release), as an input to a clearing.
#[derive(Debug, Clone, Copy, Default)]
struct Stock {
    /// The buyer's position among the market's buyers.
    buyer: usize,
    amount: f64,
    above: f64,
}

impl Stock {
    /// A clearing made with stock `self` is the clearing with stock `now`, to the bit, when the
    /// price it set (`price`) was below the release threshold: the same amount, or a larger
    /// one of a stock that was already there (the release bid then exists in both, and counts
    /// only at prices above the threshold, where a larger stock only lowers excess demand: the
    /// price stays below it). A refilling stock thus lets the clearing recur.
    fn inert(&self, now: &Stock, price: f64) -> bool {
        self.amount.to_bits() == now.amount.to_bits()
            || (self.amount > 0.0 && now.amount >= self.amount && price < self.above)
    }
}

/// No bid.
const NO_BID: usize = usize::MAX;

/// Material `m`'s market, every lane. `prod` is where its suppliers are in the net's
/// production order.
///
/// A calm market ([`calm_lanes`]) clears at the reference price with every order met, so it
/// delivers along contracts as a material without a market does ([`calm_deliver`]); the other
/// lanes clear in [`market_lane`]. Inlined into the step loop (the calm path is lane
/// arithmetic, compiled with it for each instruction set); a lane's clearing is not.
#[inline(always)]
pub(super) fn market(
    model: &Model,
    s: &mut Scratch,
    m: usize,
    prod: Range<usize>,
    base: Option<&MarketScratch>,
) {
    let calm = calm_lanes(model, s, m, prod.clone());
    if calm != 0 {
        for p in prod {
            calm_deliver(model, s, s.net.prod[p] as usize, calm);
        }
        let mask = Mask::from_bits(calm);
        for &b in &s.net.market_buyers[m] {
            let b = b as usize;
            s.slot_price[b] = Lanes::select(mask, Lanes::ONE, s.slot_price[b]);
            s.slot_mult[b] = Lanes::select(mask, Lanes::ONE, s.slot_mult[b]);
        }
    }
    if calm != ALL_LANES {
        uncalm(model, s, m, calm, base);
    }
}

/// The lanes of material `m`'s market that are not calm (clear bits of `calm`), one by one.
/// `base` is the baseline's market scratch, when this is a variant's step run in lockstep with
/// it.
#[inline(never)]
fn uncalm(model: &Model, s: &mut Scratch, m: usize, calm: u8, base: Option<&MarketScratch>) {
    let mut w = s.market.take().expect("the market scratch, between steps");
    for l in 0..LANES {
        if calm >> l & 1 == 0 {
            market_lane(model, s, &mut w, m, l, base);
        }
    }
    s.market = Some(w);
}

/// In the calm lanes (bits of `calm`), supplier `si` makes and ships what it was ordered, along
/// its contracts, and uses the inputs of it (what contract allocation does when output meets
/// the orders). The other lanes get zeros.
#[inline(always)]
fn calm_deliver(model: &Model, s: &mut Scratch, si: usize, calm: u8) {
    let mask = Mask::from_bits(calm);
    let (e0, e1) = s.net.sup_edges[si];
    for e in e0 as usize..e1 as usize {
        let q = Lanes::select(mask, s.eff_order[e], Lanes::ZERO);
        let b = s.net.e_slot[e] as usize;
        ship_lanes(model, s, b, s.net.e_pipe[e], q);
    }
    let output = Lanes::select(mask, s.planned[si], Lanes::ZERO);
    if s.audit {
        s.flow.shipped += output;
    }
    let (i0, i1) = s.net.sup_inputs[si];
    if i0 == i1 {
        // A raw-material supplier uses no inputs.
    } else if calm == ALL_LANES {
        use_inputs(s, si, output);
    } else {
        for l in 0..LANES {
            if calm >> l & 1 != 0 {
                use_inputs_lane(s, si, output.0[l], l);
            }
        }
    }
}

/// Every lane, as bits.
const ALL_LANES: u8 = u8::MAX;

/// The lanes (bit `l`) in which material `m`'s market is calm: no shock targets it (no ban,
/// closure, capacity loss or demand surge on its suppliers, links, routes or buyers), every
/// supplier can make what it was ordered, no importer orders a refill (a refill bids the price
/// up, to its threshold at most), and the orders, all told, equal the suppliers' reference
/// supply (to 1e-12, as in the clearing), and, with sticky prices, every buyer paid the
/// reference price last step. Such a market clears at the reference price and meets every
/// order. (No stock releases there: release thresholds are above the reference
/// price.)
#[inline(always)]
fn calm_lanes(model: &Model, s: &Scratch, m: usize, prod: Range<usize>) -> u8 {
    let touch = &s.market_touch[m];
    let mut calm = Mask::from_fn(|l| touch[l] == 0);
    if calm.bits() == 0 {
        return 0;
    }
    let mut demand = Lanes::ZERO;
    let mut supply = 0.0;
    for p in prod {
        let si = s.net.prod[p] as usize;
        // Masked outages set capacity factors without counting in `market_touch`.
        let planned = s.planned[si];
        calm &= s.cap_factor[si].eq_mask(Lanes::ONE)
            & planned.eq_mask(s.servable[si])
            & input_limit(s, si).ge(planned);
        demand += s.servable[si];
        supply += model.suppliers[si].base_output;
    }
    // Every lane's supply is the same sum, in the same order.
    calm &= (demand * 1e-12).ge((demand - supply).abs());
    // A sticky price still on its way back is no calm market.
    let sticky = model.materials[m].market.is_some_and(|k| k.adjust < 1.0);
    for &b in &s.net.market_buyers[m] {
        let b = b as usize;
        if sticky {
            calm &= s.slot_price[b].eq_mask(Lanes::ONE);
        }
        if let Owner::Importer(_) = model.slots[b].owner {
            calm &= s.order[b].eq_mask(s.use_order[b]);
        }
    }
    calm.bits() as u8
}

/// Whether a lane of `market` may repeat a clearing whose inputs recur: on that fast path, and
/// with prices that clear every step (a sticky price's path runs from the prices paid last
/// step).
fn repeatable(net: &Net, market: &Market) -> bool {
    net.paths.repeated_markets && market.adjust == 1.0
}

/// Lane `l` of material `m`'s market: its last clearing again if every input recurs, or the
/// baseline's (`base`) if it is shared and its inputs recur, otherwise a new one.
fn market_lane(
    model: &Model,
    s: &mut Scratch,
    w: &mut MarketScratch,
    m: usize,
    l: usize,
    base: Option<&MarketScratch>,
) {
    let market = model.materials[m].market.expect("a material with a market");
    if !repeatable(&s.net, &market) {
        clear_lane(model, s, w, m, l, None);
        return;
    }
    let k = m * LANES + l;
    inputs(model, s, &mut w.inputs, &mut w.stocks, m, l);
    if w.last.len() <= k {
        w.last.resize_with(k + 1, Cleared::default);
    }
    if w.last[k].recurs(&w.inputs, &w.stocks) {
        repeat(model, s, &w.last[k], m, l);
        return;
    }
    // The baseline's last clearing of this material and lane, in a variant whose market is
    // the baseline's ([`Scratch::shares_market_with`]): the same inputs give the same
    // clearing.
    let base = base
        .filter(|_| s.shares_market(m))
        .and_then(|b| b.last.get(k))
        .filter(|c| c.recurs(&w.inputs, &w.stocks));
    if let Some(c) = base {
        s.shared_repeats += 1;
        repeat(model, s, c, m, l);
        return;
    }
    let mut rec = std::mem::take(&mut w.last[k]);
    std::mem::swap(&mut rec.inputs, &mut w.inputs);
    std::mem::swap(&mut rec.stocks, &mut w.stocks);
    clear_lane(model, s, w, m, l, Some(&mut rec));
    w.last[k] = rec;
}

/// Every input of lane `l` of material `m`'s clearing: into `out`, each buyer's use, order,
/// pool refill and (a processor) planned output, and each supplier's input limit and capacity
/// factor, then, where a shock targets the market, each buyer's access factor to each
/// supplier (the longer list keeps a touched and an untouched lane from comparing equal:
/// [`clear_lane`] forms their classes differently); into `stocks`, each importer's
/// releasable stock ([`releasable`]). [`clear_lane`] reads nothing else that can change
/// between steps; what it reads of the model is in [`market_print`].
fn inputs(
    model: &Model,
    s: &Scratch,
    out: &mut Vec<f64>,
    stocks: &mut Vec<Stock>,
    m: usize,
    l: usize,
) {
    out.clear();
    stocks.clear();
    for (i, &b) in s.net.market_buyers[m].iter().enumerate() {
        let b = b as usize;
        let slot = &model.slots[b];
        out.push(s.use_order[b].0[l]);
        out.push(s.order[b].0[l]);
        out.push(pool_refill(model, s, b, l));
        if let Owner::Importer(_) = slot.owner {
            if let Some((amount, above)) = releasable(model, s, b, l) {
                stocks.push(Stock {
                    buyer: i,
                    amount,
                    above,
                });
            }
        }
        if let Owner::Supplier(x) = slot.owner {
            out.push(s.planned[x.ix()].0[l]);
        }
    }
    for &sup in &model.material_suppliers[m] {
        out.push(input_limit_lane(s, sup.ix(), l));
        out.push(s.cap_factor[sup.ix()].0[l]);
    }
    if s.market_touch[m][l] != 0 {
        let n_sel = model.material_suppliers[m].len();
        for &b in &s.net.market_buyers[m] {
            for j in 0..n_sel {
                out.push(access(model, s, b as usize, j, l));
            }
        }
    }
}

/// Lane `l`'s access factor of importer or processor slot `b` to supplier `j` (its position
/// among the material's suppliers): its spot link's factor, or 0 while the link's route is
/// closed.
fn access(model: &Model, s: &Scratch, b: usize, j: usize, l: usize) -> f64 {
    let x = model.slots[b].spot_links.start as usize + j;
    let open = model.spot_links[x]
        .route
        .is_none_or(|r| s.route_open[r.ix()][l]);
    if open {
        s.spot_factor[x].0[l]
    } else {
        0.0
    }
}

/// What [`clear_lane`] did with these inputs, done again: the same prices, the same deliveries
/// in the same order, the same inputs used.
fn repeat(model: &Model, s: &mut Scratch, c: &Cleared, m: usize, l: usize) {
    for (i, &b) in s.net.market_buyers[m].iter().enumerate() {
        s.slot_price[b as usize].0[l] = c.price[i];
        s.slot_mult[b as usize].0[l] = c.mult[i];
    }
    ship_all(model, s, &c.shipped, m, l);
    use_sold(model, s, &c.sold, m, l);
}

/// Step 6: suppliers use the inputs of what they sold.
fn use_sold(model: &Model, s: &mut Scratch, sold: &[f64], m: usize, l: usize) {
    for (j, &sup) in model.material_suppliers[m].iter().enumerate() {
        if s.audit {
            s.flow.shipped.0[l] += sold[j];
        }
        use_inputs_lane(s, sup.ix(), sold[j], l);
    }
}

/// Lane `l` of material `m`'s market, cleared; what it did is kept in `rec` if given (a
/// clearing that may be repeated).
fn clear_lane(
    model: &Model,
    s: &mut Scratch,
    w: &mut MarketScratch,
    m: usize,
    l: usize,
    mut rec: Option<&mut Cleared>,
) {
    let market = model.materials[m].market.expect("a material with a market");
    let curve = market.curve;
    let sellers = &model.material_suppliers[m];
    let n_sel = sellers.len();
    let n_buy = s.net.market_buyers[m].len();
    // 1. Access classes.
    w.keys.clear();
    w.class_of.clear();
    let mut n_classes = 0;
    // No shock targets this market: every buyer reaches every supplier in full, one class
    // (what the patterns below come to, without reading them).
    // With sticky prices, buyers that paid different prices last step are classes apart
    // (their prices lag from different places): a class's key is its access factors and
    // then its last price.
    let sticky = market.adjust < 1.0;
    let stride = n_sel + usize::from(sticky);
    let untouched = s.market_touch[m][l] == 0 && n_buy > 0 && !sticky;
    if untouched {
        w.keys.resize(n_sel, 1.0);
        w.class_of.resize(n_buy, 0);
        n_classes = 1;
    }
    let patterns = if untouched { 0 } else { n_buy };
    w.calm.clear();
    for i in 0..patterns {
        let b = s.net.market_buyers[m][i] as usize;
        w.factors.clear();
        w.factors
            .extend((0..n_sel).map(|j| access(model, s, b, j, l)));
        if sticky {
            w.factors.push(s.slot_price[b].0[l]);
        }
        let c = (0..n_classes)
            .find(|&c| w.keys[c * stride..(c + 1) * stride] == w.factors[..])
            .unwrap_or_else(|| {
                if n_classes < MAX_CLASSES {
                    w.keys.extend_from_slice(&w.factors);
                    n_classes += 1;
                    n_classes - 1
                } else {
                    nearest(&w.keys, &w.factors, n_classes)
                }
            });
        w.class_of.push(c);
        // What the class's buyers take from each supplier in calm, times their own access
        // factor (a class merged from several patterns, when there are more than MAX_CLASSES,
        // reaches what its members would).
        w.calm.resize(n_classes * n_sel, 0.0);
        let links = model.slots[b].spot_links.start as usize;
        for j in 0..n_sel {
            w.calm[c * n_sel + j] += w.factors[j] * model.spot_links[links + j].calm_share;
        }
    }
    w.calm.resize(n_classes * n_sel, 0.0);
    // 2. Demand: importers' use responds to price, their stock refills bid only up to their
    // thresholds and their stocks may serve their use above theirs; processors' input orders
    // do not respond.
    w.clearing.reset(n_classes);
    if sticky {
        // Every buyer in a class paid the price its key ends with.
        for c in 0..n_classes {
            w.clearing.last_price(c, w.keys[c * stride + n_sel]);
        }
    }
    w.d0.clear();
    w.fixed.clear();
    w.refill_own.clear();
    w.refill_pool.clear();
    w.release.clear();
    for i in 0..n_buy {
        let b = s.net.market_buyers[m][i] as usize;
        let c = w.class_of[i];
        let slot = &model.slots[b];
        let (mut own, mut pooled, mut release) = (NO_BID, NO_BID, NO_BID);
        let (d0, fixed) = match slot.owner {
            Owner::Importer(_) => {
                let use_ = s.use_order[b].0[l];
                let refill = s.order[b].0[l] - use_;
                if refill > 0.0 {
                    // The pool share's refill, as the order counted it; the rest is the
                    // stockpile's.
                    let pool_part = pool_refill(model, s, b, l);
                    let mine = refill - pool_part;
                    if mine > 0.0 {
                        own = w.clearing.refill(c, mine, slot.refill_below);
                    }
                    if pool_part > 0.0 {
                        let below = model.pools[s.net.slot_pool[b] as usize].refill_below;
                        pooled = w.clearing.refill(c, pool_part, below);
                    }
                }
                if let Some((stock, above)) = releasable(model, s, b, l) {
                    if stock > 0.0 {
                        release = w.clearing.release(c, use_, stock, above);
                    }
                }
                (use_, 0.0)
            }
            Owner::Supplier(x) => {
                // A processor's input order is fixed demand (its plan's inputs and its
                // input-stock refill: it values inputs at what its output is worth), except
                // the inputs of output planned for its buyers' stock refills, which bid like
                // those refills, at the slot's threshold.
                let order = s.order[b].0[l];
                let planned_inputs = s.planned[x.ix()].0[l] * s.net.slot_ratio[b];
                let downstream_refill = planned_inputs - s.use_order[b].0[l];
                if downstream_refill > 0.0 {
                    own = w.clearing.refill(c, downstream_refill, slot.refill_below);
                }
                (0.0, order - downstream_refill.max(0.0))
            }
        };
        w.d0.push(d0);
        w.fixed.push(fixed);
        w.refill_own.push(own);
        w.refill_pool.push(pooled);
        w.release.push(release);
        w.clearing.class(c, d0, fixed);
    }
    // 3. Supply: each supplier's offer, split by the classes it may reach. A class the
    // supplier is open to (factor 1) reaches all of it. A class a partial ban covers (factor f
    // between 0 and 1) reaches only f times what its buyers take from the supplier under
    // contract in the steady state: a portion of its own, which the open classes may buy too.
    // The rest goes to the open classes alone. So a ban that removes 74% of a supplier's
    // exports to some buyers leaves them 26% of what they bought, whatever the supplier sells
    // at home; a buyer without a contract with the supplier gets nothing from it while the ban
    // lasts, and a covered buyer nothing beyond its share until the ban is over.
    w.portion_seller.clear();
    w.portion_reach.clear();
    w.seller_portions.clear();
    for (j, &sup) in sellers.iter().enumerate() {
        let start = w.portion_seller.len();
        let si = sup.ix();
        let supplier = &model.suppliers[si];
        let limit = input_limit_lane(s, si, l);
        let up = s.cap_factor[si].0[l];
        let s0 = (supplier.base_output * up).min(limit);
        let cap = (up * supplier.capacity * (1.0 + supplier.spare)).min(limit);
        let open = (0..n_classes).fold(0u32, |acc, c| {
            acc | (u32::from(w.keys[c * stride + j] >= 1.0) << c)
        });
        // The open classes' portion first, so that their contract deliveries draw on it before
        // the covered classes' portions.
        let covered = |c: usize| {
            let f = w.keys[c * stride + j];
            f > 0.0 && f < 1.0
        };
        let reserved: f64 = (0..n_classes)
            .filter(|&c| covered(c))
            .map(|c| w.calm[c * n_sel + j])
            .sum::<f64>()
            .min(1.0);
        if open != 0 && reserved < 1.0 {
            let rest = 1.0 - reserved;
            w.clearing.portion(open, s0 * rest, cap * rest);
            w.portion_seller.push(j);
            w.portion_reach.push(open);
        }
        for c in 0..n_classes {
            let share = w.calm[c * n_sel + j] / reserved.max(1.0);
            if covered(c) && share > 0.0 {
                w.clearing.portion(open | 1 << c, s0 * share, cap * share);
                w.portion_seller.push(j);
                w.portion_reach.push(open | 1 << c);
            }
        }
        w.seller_portions.push((start, w.portion_seller.len()));
    }
    // 4. Prices.
    w.clearing.solve_adjusting(&curve, market.adjust);
    w.mult.clear();
    for c in 0..n_classes {
        w.mult.push(w.clearing.mult(c));
    }
    w.want.clear();
    for i in 0..n_buy {
        let b = s.net.market_buyers[m][i] as usize;
        let c = w.class_of[i];
        let price = w.clearing.price(c);
        let mut want = w.d0[i] * w.mult[c] + w.fixed[i];
        for k in [w.refill_own[i], w.refill_pool[i]] {
            if k != NO_BID {
                want += w.clearing.refill_bought(k);
            }
        }
        if w.release[i] != NO_BID {
            want = (want - w.clearing.released(w.release[i])).max(0.0);
        }
        w.want.push(want * w.clearing.fill(c));
        s.slot_price[b].0[l] = price;
        s.slot_mult[b].0[l] = w.mult[c];
    }
    if let Some(rec) = rec.as_deref_mut() {
        rec.price.clear();
        rec.mult.clear();
        for &b in &s.net.market_buyers[m] {
            rec.price.push(s.slot_price[b as usize].0[l]);
            rec.mult.push(s.slot_mult[b as usize].0[l]);
        }
    }
    // 5. Deliveries. First along contracts: each buyer gets its contract share of what it
    // wants from each contract supplier, through the contract's route, as far as that
    // supplier's sales to the buyer's group go (in calm this is every delivery, on the same
    // routes as without a market). Then the rest of each portion to the buyers it reaches in
    // the group that bought it, pro rata to what they still want, most restricted first.
    // Then, where a buyer is still short of what its group's clearing gives it while a portion
    // it cannot reach is left over, deliveries are exchanged ([`rebalance`]). Shipments are
    // made at the end, in the order they were decided.
    let n_por = w.portion_seller.len();
    w.left.clear();
    w.left.extend((0..n_por).map(|p| w.clearing.sold(p).0));
    w.want0.clear();
    w.want0.extend_from_slice(&w.want);
    w.sold.clear();
    w.sold.resize(n_sel, 0.0);
    w.took.clear();
    w.took.resize(n_buy * n_por, 0.0);
    w.shipments.clear();
    for (j, &sup) in sellers.iter().enumerate() {
        let (p0, p1) = w.seller_portions[j];
        let edges = model.suppliers[sup.ix()].out_edges.clone();
        for e in edges.start as usize..edges.end as usize {
            let b = s.net.e_slot[e] as usize;
            let i = s.net.market_buyer_index[b];
            if i == NONE {
                continue;
            }
            let i = i as usize;
            let c = w.class_of[i];
            let mut q = (w.want0[i] * s.net.e_share[e]).min(w.want[i]);
            let mut got = 0.0;
            for p in p0..p1 {
                let serves = (w.clearing.sold(p).1 & w.portion_reach[p]) >> c & 1 != 0;
                if q <= 0.0 || w.left[p] <= 0.0 || !serves {
                    continue;
                }
                let take = q.min(w.left[p]);
                w.left[p] -= take;
                q -= take;
                got += take;
                w.took[i * n_por + p] += take;
            }
            if got > 0.0 {
                w.want[i] -= got;
                w.sold[j] += got;
                w.shipments.push((i, j, s.net.e_pipe[e], got));
            }
        }
    }
    w.by_reach.clear();
    w.by_reach.extend(0..n_por);
    let reach = &w.portion_reach;
    // Keys are unique: an unstable sort (it allocates nothing) gives the one order.
    w.by_reach
        .sort_unstable_by_key(|&p| (reach[p].count_ones(), p));
    for k in 0..w.by_reach.len() {
        let p = w.by_reach[k];
        let amount = w.left[p];
        let mask = w.clearing.sold(p).1 & w.portion_reach[p];
        if amount <= 0.0 {
            continue;
        }
        let total: f64 = (0..n_buy)
            .filter(|&i| mask >> w.class_of[i] & 1 != 0)
            .map(|i| w.want[i])
            .sum();
        if total <= 0.0 {
            continue;
        }
        let r = (amount / total).min(1.0);
        let j = w.portion_seller[p];
        for i in 0..n_buy {
            if mask >> w.class_of[i] & 1 == 0 || w.want[i] <= 0.0 {
                continue;
            }
            let q = w.want[i] * r;
            w.want[i] -= q;
            w.left[p] -= q;
            w.sold[j] += q;
            w.took[i * n_por + p] += q;
            let pipe = spot_pipe(model, s.net.market_buyers[m][i] as usize, j);
            w.shipments.push((i, j, pipe, q));
        }
    }
    rebalance(model, s, w, m);
    ship_all(model, s, &w.shipments, m, l);
    // 6. Suppliers use the inputs of what they sold.
    use_sold(model, s, &w.sold, m, l);
    if let Some(rec) = rec {
        rec.shipped.clone_from(&w.shipments);
        rec.sold.clone_from(&w.sold);
    }
}

/// Lane `l` of material `m`'s deliveries (buyer position, supplier position, pipe, quantity),
/// in order; those that an exchange brought to nothing are skipped.
fn ship_all(
    model: &Model,
    s: &mut Scratch,
    shipments: &[(usize, usize, u32, f64)],
    m: usize,
    l: usize,
) {
    for &(i, _, pipe, q) in shipments {
        if q > 0.0 {
            let b = s.net.market_buyers[m][i] as usize;
            ship(model, s, b, pipe, q, l);
        }
    }
}

/// The pipe of importer slot `b`'s spot link to supplier `j` (its position among the
/// material's suppliers), or `NONE` without a lead time.
fn spot_pipe(model: &Model, b: usize, j: usize) -> u32 {
    let link = model.slots[b].spot_links.start as usize + j;
    model.spot_links[link].pipe.map_or(NONE, |p| p.0)
}

/// The stocks of importer slot `b` that release into a spike, and the threshold above which
/// they do: its stockpile's, and its share of its pool's (the pool's stock split by the
/// members' nominal use), at the lower threshold where both release. `None` when neither
/// releases on price.
fn releasable(model: &Model, s: &Scratch, b: usize, l: usize) -> Option<(f64, f64)> {
    let slot = &model.slots[b];
    let p = s.net.slot_pool[b];
    let pooled = p != NONE && model.pools[p as usize].release_above.is_finite();
    if !slot.release_above.is_finite() && !pooled {
        return None;
    }
    let (mut stock, mut above) = (0.0, f64::INFINITY);
    if slot.release_above.is_finite() {
        stock += s.stock[b].0[l];
        above = slot.release_above;
    }
    if pooled {
        stock += s.pool_stock[p as usize].0[l] * s.net.pool_share[b];
        above = above.min(model.pools[p as usize].release_above);
    }
    Some((stock, above))
}

/// Step 5's exchanges: the clearing gives every buyer of a group the same share of its demand,
/// and some allocation of the group's portions meets those shares (no subset of its classes is
/// more constrained than the group). Contract deliveries can miss it: a buyer served along its
/// contract from a portion that others can reach as well, while a portion only it reaches is
/// left over, leaves those others short. While a buyer is short of what it wants and a portion
/// is left over, a chain of exchanges (augmenting paths: the left-over portion goes to a buyer
/// it reaches, which gives up as much of another portion, and so on until a buyer that is
/// short) moves the goods, each exchange as much as its links allow.
fn rebalance(model: &Model, s: &Scratch, w: &mut MarketScratch, m: usize) {
    let n_buy = w.want.len();
    let n_por = w.portion_seller.len();
    let short = |w: &MarketScratch, i: usize| w.want[i] > 1e-12 * w.want0[i] && w.want[i] > 0.0;
    let spare =
        |w: &MarketScratch, p: usize| w.left[p] > 1e-12 * w.clearing.sold(p).0 && w.left[p] > 0.0;
    for _ in 0..4 * (n_buy + n_por) {
        if !(0..n_buy).any(|i| short(w, i)) || !(0..n_por).any(|p| spare(w, p)) {
            return;
        }
        // Breadth first from the left-over portions: `via[i]` is the portion buyer `i` would
        // get more of, `freed[q]` the buyer that would give portion `q` up (NONE: a root).
        w.via.clear();
        w.via.resize(n_buy, usize::MAX);
        w.freed.clear();
        w.freed.resize(n_por, usize::MAX);
        w.queued.clear();
        w.queued.resize(n_por, false);
        w.queue.clear();
        for p in 0..n_por {
            if spare(w, p) {
                w.queue.push(p);
                w.queued[p] = true;
            }
        }
        let mut end = None;
        let mut head = 0;
        'search: while head < w.queue.len() {
            let p = w.queue[head];
            head += 1;
            let mask = w.clearing.sold(p).1 & w.portion_reach[p];
            for i in 0..n_buy {
                if mask >> w.class_of[i] & 1 == 0 || w.via[i] != usize::MAX {
                    continue;
                }
                w.via[i] = p;
                if short(w, i) {
                    end = Some(i);
                    break 'search;
                }
                for q in 0..n_por {
                    if w.took[i * n_por + q] > 0.0 && !w.queued[q] {
                        w.freed[q] = i;
                        w.queue.push(q);
                        w.queued[q] = true;
                    }
                }
            }
        }
        let Some(end) = end else { return };
        // The most the chain can move.
        let mut x = w.want[end];
        let mut i = end;
        loop {
            let p = w.via[i];
            match w.freed[p] {
                usize::MAX => {
                    x = x.min(w.left[p]);
                    break;
                }
                k => {
                    x = x.min(w.took[k * n_por + p]);
                    i = k;
                }
            }
        }
        // Move it: each buyer on the chain gets `x` of the portion before it and gives up `x`
        // of the one it held.
        w.want[end] -= x;
        let mut i = end;
        loop {
            let p = w.via[i];
            let j = w.portion_seller[p];
            w.took[i * n_por + p] += x;
            let pipe = spot_pipe(model, s.net.market_buyers[m][i] as usize, j);
            w.shipments.push((i, j, pipe, x));
            match w.freed[p] {
                usize::MAX => {
                    w.left[p] -= x;
                    w.sold[j] += x;
                    break;
                }
                k => {
                    w.took[k * n_por + p] -= x;
                    // Its shipments from that supplier shrink by `x`, the latest first.
                    let mut r = x;
                    for sh in w.shipments.iter_mut().rev() {
                        if r <= 0.0 {
                            break;
                        }
                        if sh.0 == k && sh.1 == j && sh.3 > 0.0 {
                            let d = r.min(sh.3);
                            sh.3 -= d;
                            r -= d;
                        }
                    }
                    i = k;
                }
            }
        }
    }
}

/// Step 5's price losses of every importer slot of a material with a market, every lane: the
/// extra spend and the surplus lost on demand given up at this step's price (against its
/// nominal use times any surge, at the reference price), the price paid and the highest so
/// far.
pub(super) fn price_losses(model: &Model, s: &mut Scratch, t: u32) {
    let first = s.net.first_importer_slot;
    let n_steps = model.n_steps as usize;
    for b in first..model.slots.len() {
        if !s.net.slot_market[b] {
            continue;
        }
        let k = b - first;
        if s.slot_price[b] == Lanes::ONE {
            // The reference price in every lane: no loss, no new peak.
            continue;
        }
        s.track.note_price(k, t, n_steps, s.slot_price[b]);
        let mat = &model.materials[model.slots[b].material.ix()];
        let ed = mat.market.expect("a market").curve.demand_elasticity;
        let w = s.weight.get(t as usize).copied();
        for l in 0..LANES {
            let x = s.slot_price[b].0[l];
            if x == 1.0 {
                continue;
            }
            let spend0 = s.demand_factor[b].0[l] * s.net.slot_nominal[b] * mat.value;
            let (mut whole, mut spend) = loss_parts(spend0, x, s.slot_mult[b].0[l], ed);
            if let Some(w) = w {
                (whole, spend) = (whole * w, spend * w);
            }
            s.track.extra_spend[k].0[l] += spend;
            // Non-negative in exact arithmetic for a rise; rounding can leave a hair below.
            s.track.surplus_lost[k].0[l] += if x > 1.0 {
                (whole - spend).max(0.0)
            } else {
                whole - spend
            };
            let peak = &mut s.track.peak_price[k].0[l];
            *peak = peak.max(x);
            let trough = &mut s.track.trough_price[k].0[l];
            *trough = trough.min(x);
        }
    }
}

/// The class whose access factors are closest to `factors` (when there are more patterns than
/// one clearing handles).
fn nearest(keys: &[f64], factors: &[f64], n_classes: usize) -> usize {
    let n = factors.len();
    let distance = |c: usize| -> f64 {
        keys[c * n..(c + 1) * n]
            .iter()
            .zip(factors)
            .map(|(a, b)| (a - b).abs())
            .sum()
    };
    (0..n_classes)
        .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
        .unwrap_or(0)
}

/// Everything of the model that lane clearings of material `m` read besides their inputs
/// ([`inputs`]), and that their records hold ([`Cleared`]): the curve (prices clear every
/// step: [`repeatable`]); per supplier (in the market's order) its reference output, capacity
/// and spare, and per contract to a buyer of the market that buyer's position, the contract's
/// share and its pipe; per buyer (in order)
/// whether it is an importer, its thresholds, per supplier its spot link's steady share and
/// pipe, its pool's thresholds and its share of it, and its input ratio. Two models whose
/// prints of `m` are equal clear `m` alike: equal inputs give equal records. Numbers as bits;
/// each list of suppliers, buyers or links preceded by its length, each supplier's contracts
/// followed by `u64::MAX`. Empty for a material without a repeatable market.
pub(super) fn market_print(model: &Model, net: &Net, m: usize) -> Vec<u64> {
    let Some(market) = model.materials[m].market else {
        return Vec::new();
    };
    if !repeatable(net, &market) {
        return Vec::new();
    }
    let bits = |x: f64| x.to_bits();
    let c = market.curve;
    let mut out = vec![
        bits(c.demand_elasticity),
        bits(c.supply_elasticity),
        bits(c.supply_elasticity_below),
        bits(c.min_price),
        bits(c.max_price),
    ];
    let sellers = &model.material_suppliers[m];
    out.push(sellers.len() as u64);
    for &sup in sellers {
        let x = &model.suppliers[sup.ix()];
        out.extend([bits(x.base_output), bits(x.capacity), bits(x.spare)]);
        for e in x.out_edges.start as usize..x.out_edges.end as usize {
            let i = net.market_buyer_index[net.e_slot[e] as usize];
            if i != NONE {
                out.extend([u64::from(i), bits(net.e_share[e]), u64::from(net.e_pipe[e])]);
            }
        }
        out.push(u64::MAX);
    }
    let buyers = &net.market_buyers[m];
    out.push(buyers.len() as u64);
    for &b in buyers {
        let b = b as usize;
        let slot = &model.slots[b];
        out.push(u64::from(matches!(slot.owner, Owner::Importer(_))));
        out.extend([bits(slot.refill_below), bits(slot.release_above)]);
        let links = slot.spot_links.start as usize..slot.spot_links.end as usize;
        out.push(links.len() as u64);
        for link in &model.spot_links[links] {
            out.extend([
                bits(link.calm_share),
                link.pipe.map_or(u64::MAX, |p| u64::from(p.0)),
            ]);
        }
        match net.slot_pool[b] {
            NONE => out.push(u64::MAX),
            p => {
                let pool = &model.pools[p as usize];
                out.extend([1, bits(pool.refill_below), bits(pool.release_above)]);
            }
        }
        out.extend([bits(net.pool_share[b]), bits(net.slot_ratio[b])]);
    }
    out
}
