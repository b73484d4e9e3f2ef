//! Results out: the summary (a versioned, serialize-only schema), CSV exports and chart inputs.
//! Which files an output directory holds, and writing it, is [`crate::output`].

use serde::Serialize;

use crate::metrics::{self, ImporterMetrics, SlotMetrics};
use crate::model::Cost;
use crate::runner::{losses_of, reduce_blocks, Accumulated, Plan};
use crate::stats::{quantile_sorted, var_cvar, Moments, PriceAcc};

pub const SUMMARY_SCHEMA: &str = "supplyshock.summary/7";
/// Percentiles of the resilience curves.
pub const CURVE_QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema: &'static str,
    pub program_version: &'static str,
    pub scenario: String,
    pub description: Option<String>,
    pub seed: u64,
    pub trials: u64,
    pub horizon_days: u32,
    pub step_days: u32,
    pub currency: String,
    /// Yearly discount rate: every loss and cost in money is a present value at this rate (0:
    /// undiscounted).
    pub discount_rate: f64,
    /// Years of a yearly cost over the horizon, discounted as losses are: a strategy's cost
    /// over the horizon is its yearly cost times this.
    pub cost_years: f64,
    /// The importers the totals (`total_loss`, its paired change, loss avoided per cost) count:
    /// those given with `--focus`, else every importer not declared balancing.
    pub totals_cover: Vec<String>,
    /// Whether `totals_cover` is a focus the user chose.
    pub focus: bool,
    pub variants: Vec<VariantSummary>,
    /// The baseline's expected and tail loss split over its shocks (`run` and `merge`; absent
    /// where nothing was replayed, as in a sweep or a scenario without shocks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<crate::attribution::Attribution>,
    /// `whatif --background`: the shock added to every trial of every variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatif: Option<crate::whatif::Firing>,
    /// Per importer counted: the fan of the material its main shock leaves shortest over the trials its main shock
    /// hit, aligned on the shock's onset (the values are in conditional.csv).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditional: Vec<crate::conditional::FanRef>,
    /// `sweep`: the key swept, its unit, values and value as written, and the carry rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<crate::sweep::SweepInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantSummary {
    pub id: String,
    pub name: String,
    pub yearly_cost: Option<Cost>,
    /// The part of `yearly_cost` the totals count: what the importers in `totals_cover` pay,
    /// plus the unassigned part unless the totals are a chosen focus (strategies with a cost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counted_yearly_cost: Option<f64>,
    /// Units met over units demanded, across every importer and material.
    pub network_fill_rate: Estimate,
    /// Loss value summed over the importers in `totals_cover`, per trial.
    pub total_loss: Estimate,
    /// Strategies: paired change in total loss from the baseline (negative = less loss).
    pub total_loss_vs_baseline: Option<Difference>,
    /// Strategies: expected loss avoided over the horizon per unit of counted yearly cost
    /// (-mean change in total loss / `counted_yearly_cost`); None without a cost.
    pub loss_avoided_per_cost: Option<f64>,
    pub slots: Vec<SlotSummary>,
    pub importers: Vec<ImporterSummary>,
}

/// A mean with its standard error.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Estimate {
    pub mean: f64,
    pub se: f64,
}

impl From<&Moments> for Estimate {
    fn from(m: &Moments) -> Self {
        Estimate {
            mean: m.mean(),
            se: m.se(),
        }
    }
}

impl SlotMetrics<Estimate> {
    /// The expected price part of the loss: extra spend plus surplus lost.
    pub fn price_loss(&self) -> f64 {
        self.extra_spend.mean + self.surplus_lost.mean
    }

    /// Whether the price moved in some trial: a peak above the reference, or a price part (a
    /// price that only fell shows as a gain).
    pub fn price_moved(&self) -> bool {
        self.peak_price.mean != 1.0 || self.extra_spend.mean != 0.0 || self.surplus_lost.mean != 0.0
    }
}

/// A paired difference from the baseline: mean, standard error, and 95% interval.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Difference {
    pub mean: f64,
    pub se: f64,
    pub ci95: [f64; 2],
}

impl Difference {
    /// Lower end of the 95% interval.
    pub fn low(&self) -> f64 {
        self.ci95[0]
    }

    /// Upper end of the 95% interval.
    pub fn high(&self) -> f64 {
        self.ci95[1]
    }
}

impl From<&Moments> for Difference {
    fn from(m: &Moments) -> Self {
        let (mean, se) = (m.mean(), m.se());
        Difference {
            mean,
            se,
            ci95: [mean - 1.96 * se, mean + 1.96 * se],
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SlotSummary {
    pub importer: String,
    /// The importer's `name` (its id when the scenario gives none).
    pub importer_name: String,
    pub material: String,
    /// The material's `name` (its id when the scenario gives none).
    pub material_name: String,
    pub unit: String,
    /// Every slot metric, each a key of its own.
    #[serde(flatten)]
    pub metrics: SlotMetrics<Estimate>,
    /// Days from the onset of a supply deficit to the first shortage, over trials that ran short.
    pub time_to_survive_days: Option<Timing>,
    /// Days from the first shortage to sustained full service, over trials that recovered.
    pub time_to_recover_days: Option<Timing>,
    /// Trials that ran short and had not recovered by the horizon.
    pub not_recovered_share: f64,
    /// Markets: the 95th percentile over trials of the peak price, a multiple of the reference
    /// price (to the resolution of the price histograms: 1, the floor, the ceiling, or a bin's
    /// midpoint, within 1.6%); None without a market.
    pub peak_price_p95: Option<f64>,
    /// Paired differences from the baseline (strategies only), as `[name, difference]` pairs.
    #[serde(serialize_with = "metrics::named_pairs")]
    pub vs_baseline: Option<SlotMetrics<Difference>>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Timing {
    pub mean: f64,
    pub p95: f64,
    pub trials: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImporterSummary {
    pub importer: String,
    /// The importer's `name` (its id when the scenario gives none).
    pub name: String,
    /// It stands for every other buyer (`balancing = true` in the scenario).
    pub balancing: bool,
    /// Every importer metric, each a key of its own.
    #[serde(flatten)]
    pub metrics: ImporterMetrics<Estimate>,
    pub loss_p50: f64,
    pub loss_p95: f64,
    pub loss_p99: f64,
    pub loss_cvar95: f64,
    /// Standard error of `loss_cvar95` by the normal approximation (absent below 400 trials,
    /// a tail of fewer than 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_cvar95_se: Option<f64>,
    pub loss_cvar99: f64,
    /// Paired differences from the baseline (strategies only), as `[name, difference]` pairs.
    #[serde(serialize_with = "metrics::named_pairs")]
    pub vs_baseline: Option<ImporterMetrics<Difference>>,
}

/// The price rows of importer slot `k` in `prices`, if its material has a market.
fn priced(prices: &PriceAcc, k: usize) -> Option<usize> {
    prices.slots.iter().position(|&s| s as usize == k)
}

/// Turn accumulated results of `trials` trials drawn from `seed` into the summary.
pub fn summarize(
    plan: &Plan,
    costs: &[Option<Cost>],
    names: &[String],
    acc: &Accumulated,
    trials: u64,
    seed: u64,
) -> Summary {
    let reduced = reduce_blocks(acc);
    let base = plan.models[0];
    let mut variants = Vec::new();
    for (v, model) in plan.models.iter().enumerate() {
        let red = &reduced[v];
        let in_total = plan.total_set(v);
        let total_loss = red.losses.of_sum(&in_total);
        let diff_total_loss = (v > 0).then(|| red.diff_losses.of_sum(&in_total));
        let ints = &acc.ints[v];
        let mut slots = Vec::new();
        for (k, b) in model.importer_slots().enumerate() {
            let (importer, material) = model.slot_label(b);
            let (importer_name, material_name) = model.slot_names(b);
            let m = &red.slot[k];
            let timing = |mo: &Moments, h: &crate::stats::StepHist| {
                (mo.n > 0).then(|| Timing {
                    mean: mo.mean(),
                    p95: h.quantile(0.95).unwrap_or(0) as f64 * model.step_days as f64,
                    trials: mo.n,
                })
            };
            let shortages = m.p_shortage.sum;
            let mut ttr_hist = ints.ttr[k].clone();
            let censored = ttr_hist.counts.pop().unwrap_or(0);
            slots.push(SlotSummary {
                importer,
                importer_name,
                material_name,
                unit: model.materials[model.slots[b.ix()].material.ix()]
                    .unit
                    .clone(),
                material,
                metrics: m.map(|x| Estimate::from(x)),
                time_to_survive_days: timing(&red.tts_days[k], &ints.tts[k]),
                time_to_recover_days: timing(
                    &red.ttr_days[k],
                    &crate::stats::StepHist {
                        counts: ttr_hist.counts,
                    },
                ),
                not_recovered_share: if shortages > 0.0 {
                    censored as f64 / shortages
                } else {
                    0.0
                },
                peak_price_p95: priced(&ints.prices, k).map(|j| {
                    ints.prices
                        .row(j, ints.prices.n_steps, trials)
                        .quantile(0.95)
                }),
                vs_baseline: (v > 0).then(|| red.diff_slot[k].map(|x| Difference::from(x))),
            });
        }
        let ni = model.importers.len();
        let importers = model
            .importers
            .iter()
            .enumerate()
            .map(|(i, imp)| {
                let mut losses = losses_of(acc, v, i, ni);
                let cvar95_se = crate::stats::cvar_se(&mut losses, 0.95);
                let (_, cvar95) = var_cvar(&mut losses, 0.95);
                let (_, cvar99) = var_cvar(&mut losses, 0.99);
                let m = &red.importer[i];
                ImporterSummary {
                    importer: imp.id.clone(),
                    name: imp.name.clone(),
                    balancing: imp.balancing,
                    metrics: m.map(|x| Estimate::from(x)),
                    loss_p50: quantile_sorted(&losses, 0.5),
                    loss_p95: quantile_sorted(&losses, 0.95),
                    loss_p99: quantile_sorted(&losses, 0.99),
                    loss_cvar95: cvar95,
                    loss_cvar95_se: cvar95_se,
                    loss_cvar99: cvar99,
                    vs_baseline: (v > 0).then(|| red.diff_importer[i].map(|x| Difference::from(x))),
                }
            })
            .collect();
        let counted = costs[v].as_ref().map(|c| {
            let paid: f64 = in_total
                .iter()
                .filter_map(|&i| c.by_importer.get(&model.importers[i].id))
                .sum();
            let all_counted = c
                .by_importer
                .keys()
                .all(|id| in_total.iter().any(|&i| &model.importers[i].id == id));
            match plan.focus() {
                Some(_) => paid,
                // The whole cost, to the bit, when every payer is counted.
                None if all_counted => c.total,
                None => paid + c.unassigned,
            }
        });
        variants.push(VariantSummary {
            id: plan.ids[v].clone(),
            name: names[v].clone(),
            yearly_cost: costs[v].clone(),
            counted_yearly_cost: counted,
            network_fill_rate: (&red.network_fill).into(),
            total_loss: (&total_loss).into(),
            total_loss_vs_baseline: diff_total_loss.as_ref().map(Difference::from),
            loss_avoided_per_cost: match (counted, &diff_total_loss) {
                // None too where a cost near zero makes the ratio overflow.
                (Some(c), Some(d)) if c > 0.0 => Some(-d.mean() / c).filter(|r| r.is_finite()),
                _ => None,
            },
            slots,
            importers,
        });
    }
    Summary {
        schema: SUMMARY_SCHEMA,
        program_version: env!("CARGO_PKG_VERSION"),
        scenario: base.name.clone(),
        description: base.description.clone(),
        seed,
        trials,
        horizon_days: base.horizon_days,
        step_days: base.step_days,
        currency: base.currency.clone(),
        discount_rate: base.discount_rate,
        cost_years: base.cost_years(),
        totals_cover: plan
            .total_set(0)
            .into_iter()
            .map(|i| base.importers[i].id.clone())
            .collect(),
        focus: plan.focus().is_some(),
        variants,
        attribution: None,
        whatif: None,
        sweep: None,
        conditional: Vec::new(),
    }
}

pub fn summary_json(s: &Summary) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(s).expect("summary serializes");
    v.push(b'\n');
    v
}

/// metrics.csv: one row per variant, importer, material and metric.
pub fn metrics_csv(s: &Summary) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "variant",
        "importer",
        "material",
        "metric",
        "mean",
        "se",
        "diff_mean",
        "diff_ci95_low",
        "diff_ci95_high",
    ])
    .unwrap();
    for v in &s.variants {
        for sl in &v.slots {
            let rows = sl.metrics.named_with(sl.vs_baseline.as_ref());
            for (name, e, d) in rows {
                metric_row(&mut w, (&v.id, &sl.importer, &sl.material), name, e, d);
            }
        }
        for im in &v.importers {
            let rows = im.metrics.named_with(im.vs_baseline.as_ref());
            for (name, e, d) in rows {
                metric_row(&mut w, (&v.id, &im.importer, "*"), name, e, d);
            }
        }
    }
    w.into_inner().unwrap()
}

/// One row of metrics.csv: a metric's estimate and, for strategies, its paired difference.
fn metric_row(
    w: &mut csv::Writer<Vec<u8>>,
    (variant, importer, material): (&str, &str, &str),
    name: &str,
    e: &Estimate,
    d: Option<&Difference>,
) {
    let num = |x: f64| format!("{x}");
    let diff = |f: fn(&Difference) -> f64| d.map_or(String::new(), |d| num(f(d)));
    w.write_record([
        variant,
        importer,
        material,
        name,
        &num(e.mean),
        &num(e.se),
        &diff(|d| d.mean),
        &diff(Difference::low),
        &diff(Difference::high),
    ])
    .unwrap();
}

/// The columns of curves.csv and prices.csv.
const CURVE_COLUMNS: [&str; 11] = [
    "variant", "importer", "material", "step", "day", "p5", "p25", "p50", "p75", "p95", "mean",
];

/// Start a row of curves.csv or prices.csv in `row`: variant, importer, material, step, day.
fn curve_row_head(row: &mut Vec<String>, ids: [&str; 3], t: usize, day: u64) {
    row.clear();
    row.extend(ids.map(str::to_owned));
    row.extend([t.to_string(), day.to_string()]);
}

/// curves.csv, row by row into `out`: fill percentiles and mean per variant, importer,
/// material and step.
pub fn write_curves_csv(
    out: &mut dyn std::io::Write,
    plan: &Plan,
    acc: &Accumulated,
    trials: u64,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CURVE_COLUMNS)?;
    let mut row: Vec<String> = Vec::with_capacity(CURVE_COLUMNS.len());
    for (v, model) in plan.models.iter().enumerate() {
        let c = &acc.ints[v].curves;
        for (k, b) in model.importer_slots().enumerate() {
            let (imp, mat) = model.slot_label(b);
            for t in 0..c.n_steps {
                let day = t as u64 * model.step_days as u64;
                curve_row_head(&mut row, [&plan.ids[v], &imp, &mat], t, day);
                for q in CURVE_QUANTILES {
                    row.push(format!("{}", c.quantile(k, t, q, trials)));
                }
                row.push(format!("{:.6}", c.mean(k, t, trials)));
                w.write_record(&row)?;
            }
        }
    }
    w.flush()
}

/// prices.csv, row by row into `out`: price percentiles and mean per variant, importer,
/// material (those with a market) and step, as multiples of the material's reference price.
pub fn write_prices_csv(
    out: &mut dyn std::io::Write,
    plan: &Plan,
    acc: &Accumulated,
    trials: u64,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CURVE_COLUMNS)?;
    let mut row: Vec<String> = Vec::with_capacity(CURVE_COLUMNS.len());
    for set in price_sets(plan, acc, trials) {
        for t in 0..set.day.len() {
            let ids = [&*set.variant, &*set.importer, &*set.material];
            curve_row_head(&mut row, ids, t, set.day[t] as u64);
            // Bin midpoints, good to 1.6%: four decimals say all they know.
            for q in [&set.p5, &set.p25, &set.p50, &set.p75, &set.p95] {
                row.push(format!("{:.4}", q[t]));
            }
            row.push(format!("{:.6}", set.mean[t]));
            w.write_record(&row)?;
        }
    }
    w.flush()
}

/// Price fans: per variant and importer slot whose material has a market, the price's
/// percentiles and mean per step (multiples of the reference price; `unit` is empty).
pub fn price_sets(plan: &Plan, acc: &Accumulated, trials: u64) -> Vec<CurveSet> {
    let mut out = Vec::new();
    for (v, model) in plan.models.iter().enumerate() {
        let c = &acc.ints[v].prices;
        for (k, b) in model.importer_slots().enumerate() {
            let Some(j) = priced(c, k) else { continue };
            let (importer, material) = model.slot_label(b);
            let rows: Vec<_> = (0..c.n_steps).map(|t| c.row(j, t, trials)).collect();
            let q = |p: f64| rows.iter().map(|r| r.quantile(p)).collect::<Vec<_>>();
            out.push(CurveSet {
                variant: plan.ids[v].clone(),
                importer,
                material,
                unit: String::new(),
                day: (0..c.n_steps)
                    .map(|t| (t as u64 * model.step_days as u64) as f64)
                    .collect(),
                p5: q(0.05),
                p25: q(0.25),
                p50: q(0.5),
                p75: q(0.75),
                p95: q(0.95),
                mean: rows.iter().map(|r| r.mean).collect(),
            });
        }
    }
    out
}

/// One resilience fan: fill percentiles per step for a variant, importer and material.
#[derive(Debug, Clone, Serialize)]
pub struct CurveSet {
    pub variant: String,
    pub importer: String,
    pub material: String,
    pub unit: String,
    pub day: Vec<f64>,
    pub p5: Vec<f64>,
    pub p25: Vec<f64>,
    pub p50: Vec<f64>,
    pub p75: Vec<f64>,
    pub p95: Vec<f64>,
    pub mean: Vec<f64>,
}

pub fn curve_sets(plan: &Plan, acc: &Accumulated, trials: u64) -> Vec<CurveSet> {
    let mut out = Vec::new();
    for (v, model) in plan.models.iter().enumerate() {
        let c = &acc.ints[v].curves;
        for (k, b) in model.importer_slots().enumerate() {
            let (importer, material) = model.slot_label(b);
            let q = |p: f64| {
                (0..c.n_steps)
                    .map(|t| c.quantile(k, t, p, trials))
                    .collect::<Vec<_>>()
            };
            out.push(CurveSet {
                variant: plan.ids[v].clone(),
                importer,
                unit: model.materials[model.slots[b.ix()].material.ix()]
                    .unit
                    .clone(),
                material,
                day: (0..c.n_steps)
                    .map(|t| (t as u64 * model.step_days as u64) as f64)
                    .collect(),
                p5: q(0.05),
                p25: q(0.25),
                p50: q(0.5),
                p75: q(0.75),
                p95: q(0.95),
                mean: (0..c.n_steps).map(|t| c.mean(k, t, trials)).collect(),
            });
        }
    }
    out
}

/// Per-trial losses of one importer under one variant (for loss exceedance curves), read in
/// place from the run's blocks: at a million trials a copy of them all would be the largest
/// allocation of the run.
#[derive(Debug, Clone)]
pub struct LossSample<'a> {
    pub variant: String,
    pub importer: String,
    /// Per block, the variant's losses as stored: trial-major, `stride` importers per trial
    /// (f32: see [`crate::runner::BlockStats::losses`]).
    blocks: Vec<&'a [f32]>,
    stride: usize,
    /// This importer's position within a trial.
    offset: usize,
}

impl<'a> LossSample<'a> {
    /// A sample held in one slice, one loss per trial.
    pub fn new(variant: &str, importer: &str, losses: &'a [f32]) -> LossSample<'a> {
        LossSample {
            variant: variant.to_owned(),
            importer: importer.to_owned(),
            blocks: vec![losses],
            stride: 1,
            offset: 0,
        }
    }

    /// Number of trials.
    pub fn len(&self) -> usize {
        self.blocks.iter().map(|b| b.len() / self.stride).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The losses in trial order.
    pub fn values(&self) -> impl Iterator<Item = f32> + '_ {
        self.blocks
            .iter()
            .flat_map(|b| b.iter().skip(self.offset).step_by(self.stride).copied())
    }
}

/// Every variant's and importer's per-trial losses.
pub fn loss_samples<'a>(plan: &Plan, acc: &'a Accumulated) -> Vec<LossSample<'a>> {
    let mut out = Vec::new();
    for (v, model) in plan.models.iter().enumerate() {
        let ni = model.importers.len().max(1);
        for (i, imp) in model.importers.iter().enumerate() {
            out.push(LossSample {
                variant: plan.ids[v].clone(),
                importer: imp.id.clone(),
                blocks: acc.blocks.iter().map(|b| &b.losses[v][..]).collect(),
                stride: ni,
                offset: i,
            });
        }
    }
    out
}

/// Contract sourcing by supplier region for one importer and material under one variant.
#[derive(Debug, Clone, Serialize)]
pub struct SourcingShares {
    pub variant: String,
    pub importer: String,
    pub material: String,
    /// (region id, share), largest first.
    pub shares: Vec<(String, f64)>,
    /// The `name` of each region in `shares`, in the same order (its id when it has none).
    pub region_names: Vec<String>,
}

pub fn sourcing_shares(plan: &Plan) -> Vec<SourcingShares> {
    let mut out = Vec::new();
    for (v, model) in plan.models.iter().enumerate() {
        for b in model.importer_slots() {
            let (importer, material) = model.slot_label(b);
            let mut by_region = vec![0.0; model.regions.len()];
            for e in model.slots[b.ix()].in_edges.clone() {
                let edge = &model.edges[model.slot_edges[e as usize].ix()];
                by_region[model.suppliers[edge.supplier.ix()].region.ix()] += edge.share;
            }
            let mut shares: Vec<(String, f64)> = by_region
                .iter()
                .enumerate()
                .filter(|(_, &s)| s > 0.0)
                .map(|(r, &s)| (model.regions[r].id.clone(), s))
                .collect();
            shares.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let region_names = shares
                .iter()
                .map(|(id, _)| {
                    model
                        .regions
                        .iter()
                        .find(|r| &r.id == id)
                        .map_or_else(|| id.clone(), |r| r.name.clone())
                })
                .collect();
            out.push(SourcingShares {
                variant: plan.ids[v].clone(),
                importer,
                material,
                shares,
                region_names,
            });
        }
    }
    out
}
