//! The executive summary that opens report.md: per importer the totals count, what it stands to
//! lose and what drives it; the strategies ranked by net benefit over the horizon; and the
//! caveats the run itself can detect. Every number is read from the [`Summary`], so the text
//! and summary.json agree.

use crate::format::{compact, count, display_name, fixed, money, money_err, percent};
use crate::report::{Difference, ImporterSummary, Summary, VariantSummary};

/// "2 years", "1 year", "180 days".
fn years_text(horizon_days: u32) -> String {
    match horizon_days {
        365 => "one year".to_owned(),
        d if d % 365 == 0 => format!("{} years", d / 365),
        d => format!("{d} days"),
    }
}

/// A strategy's net benefit over the horizon, for the importers the totals count: the expected
/// loss it avoids minus what they pay for it over the horizon (counted yearly cost x
/// `cost_years`, discounted as the losses are).
#[derive(Debug, Clone, PartialEq)]
pub struct NetBenefit {
    pub id: String,
    pub name: String,
    /// Expected loss avoided: minus the paired change in total loss, with its 95% interval.
    pub avoided: f64,
    pub avoided_ci95: [f64; 2],
    /// Cost over the horizon (0 without a cost).
    pub cost: f64,
    pub net: f64,
    pub net_ci95: [f64; 2],
}

impl NetBenefit {
    /// Whether the interval of the net benefit includes zero: the run cannot tell the
    /// strategy's sign.
    pub fn uncertain(&self) -> bool {
        self.net_ci95[0] <= 0.0 && self.net_ci95[1] >= 0.0
    }
}

/// Strategies by net benefit, best first (ties in file order).
pub fn ranked_strategies(s: &Summary) -> Vec<NetBenefit> {
    let mut out: Vec<NetBenefit> = s
        .variants
        .iter()
        .skip(1)
        .filter_map(|v| {
            let d: Difference = v.total_loss_vs_baseline?;
            let cost = v.counted_yearly_cost.unwrap_or(0.0) * s.cost_years;
            Some(NetBenefit {
                id: v.id.clone(),
                name: v.name.clone(),
                avoided: -d.mean,
                avoided_ci95: [-d.high(), -d.low()],
                cost,
                net: -d.mean - cost,
                net_ci95: [-d.high() - cost, -d.low() - cost],
            })
        })
        .collect();
    out.sort_by(|a, b| b.net.total_cmp(&a.net));
    out
}

/// The executive summary, in Markdown.
pub fn executive_summary(s: &Summary) -> String {
    let Some(base) = s.variants.first() else {
        return String::new();
    };
    let cur = &s.currency;
    let mut out = String::from("## Executive summary\n\n");
    let counted: Vec<&ImporterSummary> = base
        .importers
        .iter()
        .filter(|im| s.totals_cover.contains(&im.importer))
        .collect();
    let apart: Vec<&ImporterSummary> = base
        .importers
        .iter()
        .filter(|im| !s.totals_cover.contains(&im.importer))
        .collect();
    if let Some(w) = &s.whatif {
        out.push_str(&format!(
            "**What-if:** every trial, of the baseline and of every strategy, also suffers {} \
             (`{}`) from day {} for {} days at severity {}, on top of the scenario's random \
             shocks.\n\n",
            w.name,
            w.id,
            fixed(w.start_day, 0),
            fixed(w.days, 0),
            compact(w.severity)
        ));
    }
    out.push_str(&format!(
        "The baseline over {} days and {} trials{}. Totals and rankings count {}.\n\n",
        s.horizon_days,
        count(s.trials),
        if s.focus { ", with a chosen focus" } else { "" },
        if counted.is_empty() {
            "no importer".to_owned()
        } else {
            names(&counted)
        }
    ));
    for im in &counted {
        out.push_str(&importer_paragraph(s, base, im));
    }
    for im in &apart {
        let why = if im.balancing {
            "stands for every other buyer"
        } else {
            "is outside the focus"
        };
        out.push_str(&format!(
            "**{}** {why}: expected loss {}, reported in the tables below but not in totals \
             or rankings.\n\n",
            display_name(&im.importer, &im.name),
            money(im.metrics.loss_value.mean, cur)
        ));
    }
    let any_loss = base
        .importers
        .iter()
        .any(|im| im.metrics.loss_value.mean != 0.0);
    match &s.attribution {
        Some(a) if a.trials < s.trials => out.push_str(&format!(
            "Shares by shock are from the first {} trials, replayed shock by shock.\n\n",
            count(a.trials)
        )),
        Some(_) => {}
        None if any_loss => out.push_str(
            "Run with `--attribution` to see which shocks drive each loss and its tail.\n\n",
        ),
        None => {}
    }
    if counted.is_empty() {
        out.push_str(
            "With no importer counted there is nothing to rank strategies by: name the \
             importers to count with `--focus`.\n\n",
        );
    } else {
        strategies_paragraph(&mut out, s);
    }
    caveats(&mut out, s, base);
    out
}

/// "A, B and C".
fn names(list: &[&ImporterSummary]) -> String {
    let n: Vec<String> = list
        .iter()
        .map(|im| display_name(&im.importer, &im.name))
        .collect();
    match n.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => n.join(""),
    }
}

/// What one importer stands to lose, how often it runs short, and what drives the loss.
fn importer_paragraph(s: &Summary, base: &VariantSummary, im: &ImporterSummary) -> String {
    let cur = &s.currency;
    let m = &im.metrics;
    let loss = m.loss_value.mean;
    let mut t = format!(
        "**{}**: expected loss {} over the horizon (± {}, one standard error); {} on average \
         in the worst 5% of trials (CVaR95). ",
        display_name(&im.importer, &im.name),
        money(loss, cur),
        money_err(m.loss_value.se, cur),
        money(im.loss_cvar95, cur)
    );
    let slots: Vec<_> = base
        .slots
        .iter()
        .filter(|sl| sl.importer == im.importer)
        .collect();
    if m.p_shortage.mean > 0.0 {
        t.push_str(&format!(
            "Some material runs short in {} of trials",
            percent(m.p_shortage.mean)
        ));
        // Over the trials where the material ran short: the rare shock's shortage is what a
        // briefing needs, not its mean over every trial.
        let when_short = |x: f64, p: f64| if p > 0.0 { x / p } else { 0.0 };
        if let Some(worst) = slots
            .iter()
            .filter(|sl| sl.metrics.days_short.mean > 0.0)
            .max_by(|a, b| {
                a.metrics
                    .days_short
                    .mean
                    .total_cmp(&b.metrics.days_short.mean)
            })
        {
            let p = worst.metrics.p_shortage.mean;
            t.push_str(&format!(
                "; the most days short are in {}: in a trial where it runs short, {} days \
                 in all on average, its deepest day leaving {} of need unmet",
                worst.material_name,
                fixed(when_short(worst.metrics.days_short.mean, p), 0),
                percent(when_short(worst.metrics.max_depth.mean, p))
            ));
        }
        t.push_str(". ");
    } else {
        t.push_str("No material runs short in any trial. ");
    }
    if loss > 0.0 {
        let price = m.extra_spend.mean + m.surplus_lost.mean;
        if price != 0.0 {
            t.push_str(&format!(
                "Of the loss, {} is higher prices (extra spend and demand given up) and {} \
                 unmet demand. ",
                percent(price / loss),
                percent(m.unmet_loss.mean / loss)
            ));
        }
        let mut by: Vec<(&str, f64)> = slots
            .iter()
            .map(|sl| (sl.material_name.as_str(), sl.metrics.loss_value.mean))
            .filter(|(_, x)| *x > 0.0)
            .collect();
        by.sort_by(|a, b| b.1.total_cmp(&a.1));
        let top: Vec<String> = by
            .iter()
            .take(3)
            .map(|(n, x)| format!("{n} {}", percent(x / loss)))
            .collect();
        if !top.is_empty() {
            t.push_str(&format!("Materials driving it: {}.", top.join(", ")));
        }
        if let Some(a) = s.attribution.as_ref() {
            t.push_str(&shock_drivers(a, &im.importer));
        }
    }
    t.push_str("\n\n");
    t
}

/// The shocks with the largest shares of an importer's expected loss and of its tail.
fn shock_drivers(a: &crate::attribution::Attribution, importer: &str) -> String {
    let Some(sh) = a.importers.iter().find(|x| x.importer == importer) else {
        return String::new();
    };
    let top = |f: fn(&crate::attribution::ShockShare) -> f64, of: f64| -> Vec<String> {
        let mut v: Vec<(&str, f64)> = sh
            .shocks
            .iter()
            .map(|x| (x.name.as_str(), f(x)))
            .filter(|(_, x)| *x > 0.0)
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.iter()
            .take(3)
            .map(|(n, x)| format!("{n} {}", percent(x / of)))
            .collect()
    };
    let mut t = String::new();
    if sh.expected_loss > 0.0 {
        let m = top(|x| x.mean, sh.expected_loss);
        if !m.is_empty() {
            t.push_str(&format!(" Shocks driving it: {}", m.join(", ")));
            let tail = top(|x| x.tail, sh.tail_loss);
            if sh.tail_loss > 0.0 && !tail.is_empty() {
                t.push_str(&format!("; in its worst 5% of trials: {}", tail.join(", ")));
            }
            t.push('.');
        }
    }
    t
}

/// The strategies ranked by net benefit, with their intervals.
fn strategies_paragraph(out: &mut String, s: &Summary) {
    let ranked = ranked_strategies(s);
    if ranked.is_empty() {
        return;
    }
    let cur = &s.currency;
    out.push_str(&format!(
        "**Strategies, by net benefit** over the {} days for the importers counted: expected \
         loss avoided minus what they pay for the strategy over the horizon ({}), with 95% \
         intervals from trials paired with the baseline.{}\n\n",
        s.horizon_days,
        cost_basis(s),
        if s.focus
            && s.variants
                .iter()
                .any(|v| v.yearly_cost.as_ref().is_some_and(|c| c.unassigned > 0.0))
        {
            " Costs no importer is declared to pay (`paid_by`) are not counted against the focus."
        } else {
            ""
        }
    ));
    out.push_str(
        "| rank | strategy | loss avoided (95% CI) | cost over the horizon | net benefit (95% CI) |\n\
         |--:|---|--:|--:|--:|\n",
    );
    for (k, r) in ranked.iter().enumerate() {
        out.push_str(&format!(
            "| {} | **{}**: {} | {} ({} to {}) | {} | {} ({} to {}){} |\n",
            k + 1,
            r.id,
            r.name.replace('|', "\\|"),
            money(r.avoided, cur),
            money(r.avoided_ci95[0], cur),
            money(r.avoided_ci95[1], cur),
            money(r.cost, cur),
            money(r.net, cur),
            money(r.net_ci95[0], cur),
            money(r.net_ci95[1], cur),
            if r.uncertain() {
                ", interval includes zero"
            } else {
                ""
            }
        ));
    }
    out.push('\n');
    let best = &ranked[0];
    // Intervals of two strategies that overlap cannot order them.
    let clear_lead = ranked
        .get(1)
        .is_none_or(|next| best.net_ci95[0] > next.net_ci95[1]);
    if best.net > 0.0 && !best.uncertain() && clear_lead {
        out.push_str(&format!(
            "**{}** buys the most: it avoids {} of expected loss for {} over the horizon.\n\n",
            best.name,
            money(best.avoided, cur),
            money(best.cost, cur)
        ));
    } else if best.net > 0.0 && !best.uncertain() {
        out.push_str(&format!(
            "**{}** ranks first: it avoids {} of expected loss for {} over the horizon; its \
             interval overlaps the next strategy's, so this run does not tell them apart.\n\n",
            best.name,
            money(best.avoided, cur),
            money(best.cost, cur)
        ));
    } else if best.net > 0.0 {
        out.push_str(&format!(
            "**{}** ranks first, but its net benefit cannot be told from zero at this trial \
             count.\n\n",
            best.name
        ));
    } else if best.uncertain() {
        out.push_str(
            "No strategy clearly avoids more expected loss than it costs over the horizon (the \
             best one's interval includes zero); a value placed on the tail (CVaR95 in the \
             tables below) may still justify one.\n\n",
        );
    } else {
        out.push_str(
            "No strategy avoids more expected loss than it costs over the horizon; a value \
             placed on the tail (CVaR95 in the tables below) may still justify one.\n\n",
        );
    }
}

/// How a yearly cost becomes a cost over the horizon, in words.
fn cost_basis(s: &Summary) -> String {
    if s.discount_rate > 0.0 {
        format!(
            "{} of the yearly cost, paid as it falls due and discounted at {} a year like the \
             losses: {} years' worth",
            years_text(s.horizon_days),
            percent(s.discount_rate),
            fixed(s.cost_years, 3)
        )
    } else {
        format!(
            "{} of the yearly cost, undiscounted",
            years_text(s.horizon_days)
        )
    }
}

/// Who pays for each strategy and who gains from it, per importer: the loss it avoids them
/// (paired, with its 95% interval), what they pay over the horizon, and the difference. The
/// balancing importers are shown too, marked, since a strategy can shift loss onto them.
pub fn who_pays(s: &Summary) -> String {
    let strategies: Vec<&VariantSummary> = s.variants.iter().skip(1).collect();
    if strategies.is_empty() {
        return String::new();
    }
    let cur = &s.currency;
    let mut out = String::from(
        "## Who pays and who gains

",
    );
    out.push_str(&format!(
        "Per strategy and importer: the expected loss it avoids that importer (95% interval \
         from paired trials; negative: loss it adds), what the importer pays over the horizon \
         ({}), and the difference. Each importer pays for its own stock and switch, pool \
         members for the pool by their use; the fixed cost and stock held at suppliers go by \
         the strategy's `paid_by` shares, or are shown as not assigned.\n\n",
        cost_basis(s)
    ));
    out.push_str(
        "| strategy | importer | loss avoided (95% CI) | paid over the horizon | net |\n\
         |---|---|--:|--:|--:|\n",
    );
    for v in &strategies {
        for im in &v.importers {
            let Some(d) = im.vs_baseline.as_ref().map(|m| m.loss_value) else {
                continue;
            };
            let paid = v
                .yearly_cost
                .as_ref()
                .and_then(|c| c.by_importer.get(&im.importer))
                .map_or(0.0, |c| c * s.cost_years);
            if d.mean == 0.0 && d.se == 0.0 && paid == 0.0 {
                continue;
            }
            out.push_str(&format!(
                "| {} | {} | {} ({} to {}) | {} | {} |\n",
                v.id,
                display_name(&im.importer, &im.name).replace('|', "\\|"),
                money(-d.mean, cur),
                money(-d.high(), cur),
                money(-d.low(), cur),
                money(paid, cur),
                money(-d.mean - paid, cur)
            ));
        }
        let unassigned = v
            .yearly_cost
            .as_ref()
            .map_or(0.0, |c| c.unassigned * s.cost_years);
        if unassigned > 0.0 {
            out.push_str(&format!(
                "| {} | not assigned to an importer | | {} | |\n",
                v.id,
                money(unassigned, cur)
            ));
        }
    }
    out.push('\n');
    out
}

/// Relative precision wanted of each headline figure, one standard error.
const PRECISION: f64 = 0.05;

/// How precise each importer's expected loss and CVaR95 are (balancing importers too), and the
/// trials that would bring them all within [`PRECISION`].
fn precision(s: &Summary, base: &VariantSummary) -> String {
    let n = s.trials as f64;
    let mut parts: Vec<String> = Vec::new();
    let mut worst: f64 = 0.0;
    let mut tail_known = true;
    for im in &base.importers {
        let m = &im.metrics.loss_value;
        if !(m.mean > 0.0) {
            continue;
        }
        let rel_mean = m.se / m.mean;
        worst = worst.max(rel_mean);
        let tail = match im.loss_cvar95_se {
            Some(se) if im.loss_cvar95 > 0.0 => {
                let r = se / im.loss_cvar95;
                worst = worst.max(r);
                format!("CVaR95 ±{}", percent(r))
            }
            _ => {
                tail_known = false;
                "CVaR95 precision not estimated (too few trials in the tail)".to_owned()
            }
        };
        parts.push(format!(
            "{} expected loss ±{}, {tail}",
            display_name(&im.importer, &im.name),
            percent(rel_mean)
        ));
    }
    if parts.is_empty() {
        return format!("{} trials; no importer had a loss.", count(s.trials));
    }
    let mut t = format!(
        "Precision at {} trials (one standard error): {}.",
        count(s.trials),
        parts.join("; ")
    );
    if !tail_known {
        t.push_str(&format!(
            " The precision of CVaR95 needs at least {} trials (20 beyond the 95th \
             percentile) to be estimated.",
            count(400)
        ));
    } else if worst > PRECISION {
        // The standard error falls as the square root of the trials.
        let need = (n * (worst / PRECISION).powi(2) / 1000.0).ceil() * 1000.0;
        t.push_str(&format!(
            " About {} trials would bring every one of these within ±{}.",
            count(need as u64),
            percent(PRECISION)
        ));
    } else {
        t.push_str(&format!(" All within ±{}.", percent(PRECISION)));
    }
    if s.trials < 10_000 {
        t.push_str(" P99 and CVaR99 move from run to run below 10,000 trials.");
    }
    t
}

/// What the run itself says about how far to trust it.
fn caveats(out: &mut String, s: &Summary, base: &VariantSummary) {
    let mut c: Vec<String> = vec![precision(s, base)];
    let carried = base.slots.iter().any(|sl| {
        sl.time_to_survive_days
            .as_ref()
            .is_some_and(|t| t.mean > 0.0)
    });
    if carried {
        c.push(
            "Stocks start at their initial level on day 0 (full, unless a scenario gives \
             `initial_days`), so the first days of a shock are covered; a shock that found \
             stocks already drawn would bite sooner."
                .to_owned(),
        );
    }
    if c.is_empty() {
        return;
    }
    out.push_str("**Caveats.**\n\n");
    for x in c {
        out.push_str(&format!("- {x}\n"));
    }
    out.push('\n');
}
