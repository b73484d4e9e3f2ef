//! report.md: the run in one document, ready to paste into a briefing. Tables of the headline
//! metrics and the strategy comparison, with the charts embedded by relative path in reading
//! order (`crate::plot::chart_plan`). No timestamps and no absolute paths: the same run gives
//! the same bytes wherever it was written.

use std::collections::BTreeSet;
use std::path::Path;

use crate::format::{
    compact, count, days, display_name, fixed, money, money_pm, percent, percent_pm, quantity,
};
use crate::indicators::Indicators;
use crate::plot::{chart_plan, ChartInfo, ChartKind};
use crate::report::{Difference, Summary, Timing, VariantSummary};

/// report.md for a run: `indicators` are the static concentration figures; charts are
/// embedded for the files in `chart_files` (names relative to report.md; any directory part is
/// dropped). Charts the run calls for come in reading order, PNG preferred over SVG; other files
/// (a sweep or stress chart) follow at the end. Unless `all_charts`, only the charts that carry
/// the message are embedded (see [`carries_message`]); the others are listed at the end.
pub fn report_md(
    summary: &Summary,
    indicators: &Indicators,
    chart_files: &[String],
    all_charts: bool,
) -> String {
    let s = summary;
    let names: Vec<String> = chart_files
        .iter()
        .map(|f| {
            Path::new(f)
                .file_name()
                .map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    let mut charts = Charts {
        plan: chart_plan(s),
        files: names.iter().map(String::as_str).collect(),
        used: BTreeSet::new(),
        keep: (!all_charts).then(|| message_slots(s)),
        cover: s.totals_cover.clone(),
        listed: Vec::new(),
    };
    let mut out = String::new();
    title_section(&mut out, s);
    out.push_str(&crate::briefing::executive_summary(s));
    out.push_str(&crate::briefing::who_pays(s));
    run_section(&mut out, s);
    concentration_section(&mut out, indicators);
    if let Some(base) = s.variants.first() {
        headline_section(&mut out, s, base);
        if let Some(a) = &s.attribution {
            attribution_section(&mut out, s, a);
        }
        loss_section(&mut out, &mut charts);
        importer_sections(&mut out, base, s, &mut charts);
    }
    strategy_and_sourcing_sections(&mut out, s, &mut charts);
    other_chart_sections(&mut out, &names, &charts);
    if !charts.listed.is_empty() {
        out.push_str(
            "## More charts\n\nWritten beside this report, not embedded (`--charts all` embeds \
             every chart):\n\n",
        );
        for (title, file) in &charts.listed {
            out.push_str(&format!("- [{}]({file})\n", alt(title)));
        }
        out.push('\n');
    }
    out
}

/// The importer slots whose charts carry the message, as (importer, material): per importer
/// the totals count, its three materials with the largest expected loss (a loss above zero).
fn message_slots(s: &Summary) -> BTreeSet<(String, String)> {
    let mut keep = BTreeSet::new();
    let Some(base) = s.variants.first() else {
        return keep;
    };
    for im in &s.totals_cover {
        let mut slots: Vec<_> = base
            .slots
            .iter()
            .filter(|sl| sl.importer == *im && sl.metrics.loss_value.mean > 0.0)
            .collect();
        slots.sort_by(|a, b| {
            b.metrics
                .loss_value
                .mean
                .total_cmp(&a.metrics.loss_value.mean)
        });
        for sl in slots.into_iter().take(3) {
            keep.insert((sl.importer.clone(), sl.material.clone()));
        }
    }
    keep
}

/// Whether a chart is embedded by default: the loss of the importers the totals count, the
/// comparison of strategies, the prices that moved, and the per-material charts of
/// `keep`'s slots.
fn carries_message(info: &ChartInfo, cover: &[String], keep: &BTreeSet<(String, String)>) -> bool {
    if info.kind == ChartKind::Conditional {
        // One per counted importer: the story of its main shock.
        return true;
    }
    match (&info.importer, &info.material) {
        (Some(i), Some(m)) => keep.contains(&(i.clone(), m.clone())),
        (Some(i), None) => cover.contains(i),
        _ => true,
    }
}

/// The charts the run calls for, the chart files given, and the ones embedded so far.
struct Charts<'a> {
    plan: Vec<ChartInfo>,
    files: BTreeSet<&'a str>,
    /// PNG and SVG names of every chart embedded.
    used: BTreeSet<String>,
    /// The slots whose charts are embedded; `None`: every chart.
    keep: Option<BTreeSet<(String, String)>>,
    /// The importers the totals count.
    cover: Vec<String>,
    /// Charts written but not embedded: (title, file).
    listed: Vec<(String, String)>,
}

impl Charts<'_> {
    /// Embed the planned charts `pick` selects that have a file, PNG preferred over SVG.
    fn embed(&mut self, out: &mut String, pick: impl Fn(&ChartInfo) -> bool) {
        for info in self.plan.iter().filter(|c| pick(c)) {
            let png = format!("{}.png", info.stem);
            let svg = format!("{}.svg", info.stem);
            let file = if self.files.contains(png.as_str()) {
                png
            } else if self.files.contains(svg.as_str()) {
                svg
            } else {
                continue;
            };
            self.used.insert(format!("{}.png", info.stem));
            self.used.insert(format!("{}.svg", info.stem));
            if let Some(keep) = &self.keep {
                if !carries_message(info, &self.cover, keep) {
                    self.listed.push((info.title.clone(), file));
                    continue;
                }
            }
            out.push_str(&format!("![{}]({})\n\n", alt(&info.title), file));
        }
    }
}

/// The scenario's name and description.
fn title_section(out: &mut String, s: &Summary) {
    out.push_str(&format!("# {}\n\n", s.scenario.trim()));
    if let Some(d) = s.description.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str(&format!("{}\n\n", d.trim()));
    }
}

/// The run's parameters.
fn run_section(out: &mut String, s: &Summary) {
    out.push_str("## Run\n\n| parameter | value |\n|---|---|\n");
    let step = if s.step_days == 1 {
        "daily steps".to_owned()
    } else {
        format!("{}-day steps", s.step_days)
    };
    let strategies: Vec<String> = s
        .variants
        .iter()
        .skip(1)
        .map(|v| format!("`{}`", cell(&v.id)))
        .collect();
    for (k, v) in [
        ("seed", s.seed.to_string()),
        ("trials", count(s.trials)),
        ("horizon", format!("{} days, {step}", s.horizon_days)),
        ("currency", cell(&s.currency)),
        (
            "strategies",
            if strategies.is_empty() {
                "none".to_owned()
            } else {
                strategies.join(", ")
            },
        ),
        ("program", format!("supplyshock {}", s.program_version)),
        ("summary schema", format!("`{}`", s.schema)),
    ] {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out.push('\n');
    out.push_str(
        "Charts are embedded as PNG; an SVG of each, with the same name, sits beside this file.\n\n",
    );
}

/// The static concentration indicators: per material, then per importer and material.
fn concentration_section(out: &mut String, ind: &Indicators) {
    out.push_str(
        "## Supply concentration\n\nStatic indicators from the scenario's capacities and \
         sourcing, before any simulation. By material: the Herfindahl-Hirschman index of \
         capacity by supplier region (flagged above 2500), the top region's share (flagged above \
         65%, the EU Critical Raw Materials Act's single-country benchmark) and the EU-style \
         supply-risk index where governance scores are given.\n\n",
    );
    out.push_str(
        "| material | HHI | top region | top share | supply risk | flags |\n\
         |---|--:|---|--:|--:|---|\n",
    );
    for m in &ind.materials {
        let mut flags = Vec::new();
        if m.hhi_flag {
            flags.push("HHI > 2500");
        }
        if m.single_country_flag {
            flags.push("> 65% one country");
        }
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {} | {} |\n",
            cell(&m.name),
            m.hhi,
            cell(&m.top_region_name),
            percent(m.top_share),
            m.supply_risk.map_or("–".to_owned(), |s| format!("{s:.2}")),
            flags.join(", ")
        ));
    }
    out.push_str(
        "\nBy importer and material: the region it buys most from (direct), and the foreign \
         region the largest share of its supply depends on at any stage of the bill of \
         materials (upstream; a product made at home counts where its inputs come from), \
         flagged above 65%.\n\n\
         | importer | material | direct | upstream, foreign | flag |\n\
         |---|---|---|---|---|\n",
    );
    for d in &ind.dependence {
        out.push_str(&format!(
            "| {} | {} | {} {} | {} | {} |\n",
            cell(&display_name(&d.importer, &d.importer_name)),
            cell(&d.material_name),
            cell(&d.direct_top_region_name),
            percent(d.direct_top_share),
            match &d.upstream_top_region_name {
                Some(r) => format!("{} {}", cell(r), percent(d.upstream_top_share)),
                None => "domestic".to_owned(),
            },
            if d.flag { "> 65% one country" } else { "" }
        ));
    }
    out.push('\n');
}

/// The baseline's headline metrics, one row per importer.
fn headline_section(out: &mut String, s: &Summary, base: &VariantSummary) {
    out.push_str("## Headline by importer\n\n");
    out.push_str(&format!(
        "Baseline, over {} trials. Fill rate by value: value met over value demanded, with \
         one standard error. Loss: the value of unmet demand times the material's loss \
         multiplier, over the {}-day horizon; P95 and P99 are quantiles of the per-trial \
         loss, CVaR95 and CVaR99 the mean loss in the worst 5% and 1% of trials.\n\n",
        count(s.trials),
        s.horizon_days
    ));
    out.push_str(&headline_table(s, base));
    out.push('\n');
}

/// Each counted importer's expected and tail loss by shock, then the worst trials.
fn attribution_section(out: &mut String, s: &Summary, a: &crate::attribution::Attribution) {
    let cur = &s.currency;
    out.push_str("## What drives the loss\n\n");
    out.push_str(&format!(
        "Baseline, {} trials replayed shock by shock on the same random numbers: each shock of \
         a trial is credited with the loss it adds given the shocks whose first event started \
         before its own, so a trial's credits add up to its loss less the loss with no event \
         (calm). Per importer, each shock's mean credit over all trials, then over the worst 5% \
         of that importer's trials.\n\n",
        count(a.trials)
    ));
    for im in a
        .importers
        .iter()
        .filter(|im| s.totals_cover.contains(&im.importer))
    {
        out.push_str(&format!(
            "### {}\n\n| shock | expected loss | share | worst 5% ({} trials) | share |\n|---|--:|--:|--:|--:|\n",
            display_name(&im.importer, &im.name),
            count(im.tail_trials)
        ));
        let mut rows: Vec<&crate::attribution::ShockShare> = im
            .shocks
            .iter()
            .filter(|x| x.mean != 0.0 || x.tail != 0.0)
            .collect();
        rows.sort_by(|a, b| b.mean.total_cmp(&a.mean));
        let share = |x: f64, of: f64| {
            if of != 0.0 {
                percent(x / of)
            } else {
                "–".to_owned()
            }
        };
        for x in rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&x.name),
                money(x.mean, cur),
                share(x.mean, im.expected_loss),
                money(x.tail, cur),
                share(x.tail, im.tail_loss)
            ));
        }
        if im.calm != 0.0 {
            out.push_str(&format!(
                "| calm (no event) | {} | {} | {} | {} |\n",
                money(im.calm, cur),
                share(im.calm, im.expected_loss),
                money(im.calm, cur),
                share(im.calm, im.tail_loss)
            ));
        }
        out.push_str(&format!(
            "| **total** | {} | 100% | {} | 100% |\n\n",
            money(im.expected_loss, cur),
            money(im.tail_loss, cur)
        ));
    }
    if !a.worst_trials.is_empty() {
        out.push_str("### The worst trials\n\nBy total loss over the importers counted, with the events that hit them (start day, days at full severity, severity).\n\n| trial | loss | events |\n|--:|--:|---|\n");
        for w in &a.worst_trials {
            let ev: Vec<String> = w
                .events
                .iter()
                .map(|e| {
                    format!(
                        "`{}` day {}, {} d, {}",
                        e.shock,
                        fixed(e.start_day, 0),
                        fixed(e.days, 0),
                        compact(e.severity)
                    )
                })
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                w.trial,
                money(w.loss, cur),
                ev.join("; ")
            ));
        }
        out.push('\n');
    }
}

/// The exceedance charts per importer, then expected loss and CVaR95.
fn loss_section(out: &mut String, charts: &mut Charts) {
    out.push_str("## Loss distribution\n\n");
    out.push_str(
        "The probability that an importer's loss exceeds a given amount (log scale: the tail \
         is what a stockpile or a second source is for), then the expected total loss with \
         the mean loss in the worst 5% of trials (CVaR95).\n\n",
    );
    charts.embed(out, |c| c.kind == ChartKind::LossExceedance);
    charts.embed(out, |c| c.kind == ChartKind::ExpectedLoss);
    if charts.plan.iter().any(|c| c.kind == ChartKind::PriceFan) {
        out.push_str(
            "## Prices\n\nThe price paid each day in the baseline, as a multiple of the \
             reference price, for each material whose price moved: a panel per access group \
             (buyers a ban cuts off pay apart from the rest).\n\n",
        );
        charts.embed(out, |c| c.kind == ChartKind::PriceFan);
    }
}

/// Per importer: the baseline's table by material, then its fan charts.
fn importer_sections(out: &mut String, base: &VariantSummary, s: &Summary, charts: &mut Charts) {
    out.push_str("## By importer and material\n\n");
    out.push_str(
        "Baseline. Fill rate: units met over units demanded (± one standard error). TTS \
         (time to survive): days from the onset of a supply deficit to the first shortage, \
         over the trials that ran short; TTR (time to recover): days from the first shortage \
         back to sustained full service, over the trials that recovered. Both as mean \
         (P95).\n\n",
    );
    for im in &base.importers {
        out.push_str(&format!("### {}\n\n", display_name(&im.importer, &im.name)));
        out.push_str(&slot_table(s, base, &im.importer));
        out.push('\n');
        charts.embed(out, |c| {
            c.kind == ChartKind::Conditional && c.importer.as_deref() == Some(im.importer.as_str())
        });
        charts.embed(out, |c| {
            c.kind == ChartKind::Fan && c.importer.as_deref() == Some(im.importer.as_str())
        });
    }
}

/// With strategies: their comparison, the frontier, the change by importer and fill by
/// strategy, then sourcing before and after each. Without: sourcing alone.
fn strategy_and_sourcing_sections(out: &mut String, s: &Summary, charts: &mut Charts) {
    if s.variants.len() > 1 {
        out.push_str("## Strategies\n\n");
        out.push_str(&format!(
            "Each strategy runs on the same random numbers as the baseline, so differences are \
             paired; intervals are 95% confidence intervals. Δ is the strategy minus the \
             baseline: a negative Δ loss is loss avoided. Loss is over the {}-day horizon, cost \
             is per year; loss avoided per unit of cost above {} means the strategy pays for \
             itself in expected value alone, before any value placed on the tail. Totals \
             count {}.\n\n",
            s.horizon_days,
            compact(s.cost_years),
            totals_cover(s)
        ));
        out.push_str(&strategy_table(s));
        out.push('\n');
        charts.embed(out, |c| c.kind == ChartKind::Frontier);
        out.push_str("### Change by importer\n\n");
        out.push_str(&importer_diff_table(s));
        out.push('\n');
        out.push_str("### Fill over time by strategy\n\n");
        charts.embed(out, |c| c.kind == ChartKind::Strategies);
        out.push_str("### Sourcing by region, before and after each strategy\n\n");
    } else {
        out.push_str("## Sourcing by region\n\n");
    }
    charts.embed(out, |c| c.kind == ChartKind::Sourcing);
}

/// Charts from other commands (a stress test, a sweep), then anything else, in the order
/// given: every PNG not embedded yet, and every SVG without a PNG beside it.
fn other_chart_sections(out: &mut String, names: &[String], charts: &Charts) {
    let others: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|f| !charts.used.contains(*f))
        .filter(|f| {
            f.ends_with(".png")
                || (f.ends_with(".svg")
                    && !charts
                        .files
                        .contains(format!("{}.png", &f[..f.len() - 4]).as_str()))
        })
        .collect();
    let stem = |f: &str| f.rsplit_once('.').map_or(f, |(s, _)| s).to_owned();
    for (want, heading, alt_text) in [
        (
            "stress-tts-ttr",
            "## Stress test",
            "Stress test: time to survive against time to recover",
        ),
        (
            "sweep",
            "## Sensitivity sweep",
            "Sweep: total expected loss and fill rate against the swept values",
        ),
    ] {
        if let Some(f) = others.iter().find(|f| stem(f) == want) {
            out.push_str(&format!("{heading}\n\n![{alt_text}]({f})\n\n"));
        }
    }
    let rest: Vec<&&str> = others
        .iter()
        .filter(|f| !matches!(stem(f).as_str(), "stress-tts-ttr" | "sweep"))
        .collect();
    if !rest.is_empty() {
        out.push_str("## Other charts\n\n");
        for f in rest {
            out.push_str(&format!("![{}]({f})\n\n", alt(f)));
        }
    }
}

/// One row per importer in value terms: fill, P(shortage), loss moments and tail.
fn headline_table(s: &Summary, v: &VariantSummary) -> String {
    let cur = &s.currency;
    let mut t = String::from(
        "| importer | fill rate, by value | P(shortage) | E[loss] | P95 loss | P99 loss | CVaR95 | CVaR99 |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for im in &v.importers {
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&display_name(&im.importer, &im.name)),
            percent_pm(
                im.metrics.value_fill_rate.mean,
                im.metrics.value_fill_rate.se
            ),
            percent(im.metrics.p_shortage.mean),
            money_pm(im.metrics.loss_value.mean, im.metrics.loss_value.se, cur),
            money(im.loss_p95, cur),
            money(im.loss_p99, cur),
            money(im.loss_cvar95, cur),
            money(im.loss_cvar99, cur),
        ));
    }
    t
}

/// One importer's materials: fill, P(shortage), expected shortfall and loss, TTS and TTR; where
/// any material's price moved in the run, the loss split into its unmet and price parts, with
/// the peak price's mean and 95th percentile.
fn slot_table(s: &Summary, v: &VariantSummary, importer: &str) -> String {
    let cur = &s.currency;
    let prices = v.slots.iter().any(|sl| sl.metrics.price_moved());
    let mut t = String::from(if prices {
        "| material | fill rate | P(shortage) | E[unmet] | E[loss] | of which unmet | of which price | peak price: mean, P95 | TTS | TTR |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
    } else {
        "| material | fill rate | P(shortage) | E[unmet] | E[loss] | TTS | TTR |\n\
         |---|--:|--:|--:|--:|--:|--:|\n"
    });
    for sl in v.slots.iter().filter(|sl| sl.importer == importer) {
        let m = &sl.metrics;
        let split = if !prices {
            String::new()
        } else if m.price_moved() {
            format!(
                " {} | {} | {}x, {} |",
                money(m.unmet_loss.mean, cur),
                money(m.price_loss(), cur),
                fixed(m.peak_price.mean, 2),
                sl.peak_price_p95
                    .map_or("–".to_owned(), |p| format!("{}x", fixed(p, 2)))
            )
        } else {
            format!(" {} | – | – |", money(m.unmet_loss.mean, cur))
        };
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} |{split} {} | {} |\n",
            cell(&sl.material_name),
            percent_pm(m.fill_rate.mean, m.fill_rate.se),
            percent(m.p_shortage.mean),
            quantity(m.unmet_units.mean, &sl.unit),
            money(m.loss_value.mean, cur),
            tts(sl.time_to_survive_days, m.p_shortage.mean),
            ttr(
                sl.time_to_recover_days,
                m.p_shortage.mean,
                sl.not_recovered_share
            ),
        ));
    }
    t
}

fn tts(t: Option<Timing>, p_short: f64) -> String {
    match t {
        Some(t) => format!("{} ({})", days(t.mean), days(t.p95)),
        None if p_short > 0.0 => "–".to_owned(),
        None => "never short".to_owned(),
    }
}

fn ttr(t: Option<Timing>, p_short: f64, not_recovered: f64) -> String {
    let tail = if not_recovered > 0.0 {
        format!("; {} not recovered", percent(not_recovered))
    } else {
        String::new()
    };
    match t {
        Some(t) => format!("{} ({}){tail}", days(t.mean), days(t.p95)),
        None if p_short > 0.0 => "not recovered".to_owned(),
        None => "–".to_owned(),
    }
}

/// One row per strategy: yearly cost, the paired change in total expected loss with its
/// interval, and loss avoided per unit of yearly cost with the interval that implies.
fn strategy_table(s: &Summary) -> String {
    let cur = &s.currency;
    let mut t = String::from(
        "| strategy | yearly cost | Δ total expected loss (95% CI) | loss avoided per unit of yearly cost (95% CI) |\n\
         |---|--:|--:|--:|\n",
    );
    for v in s.variants.iter().skip(1) {
        let cost = v.yearly_cost.as_ref();
        // What the counted importers pay (the whole cost unless a focus leaves payers out).
        let total = v.counted_yearly_cost.unwrap_or(0.0);
        let cost_txt = match cost {
            None => "–".to_owned(),
            Some(c) => {
                let parts: Vec<String> = [
                    ("carrying", c.carrying),
                    ("premium", c.premium),
                    ("fixed", c.fixed),
                ]
                .iter()
                .filter(|p| p.1 != 0.0)
                .map(|(n, x)| format!("{n} {}", money(*x, cur)))
                .collect();
                if parts.len() > 1 {
                    format!("{} ({})", money(c.total, cur), parts.join(", "))
                } else {
                    money(c.total, cur)
                }
            }
        };
        let (delta, per_cost) = match v.total_loss_vs_baseline {
            Some(d) => (
                money_ci(d, cur),
                match v.loss_avoided_per_cost {
                    Some(r) if total > 0.0 => {
                        let (lo, hi) = (-d.high() / total, -d.low() / total);
                        if [r, lo, hi].iter().all(|x| x.is_finite()) {
                            format!("{} ({} to {})", ratio(r), ratio(lo), ratio(hi))
                        } else {
                            // A cost so near zero that the ratio overflows.
                            "– (cost near zero)".to_owned()
                        }
                    }
                    _ => "– (no cost)".to_owned(),
                },
            ),
            None => ("–".to_owned(), "–".to_owned()),
        };
        t.push_str(&format!(
            "| **{}**: {} | {} | {} | {} |\n",
            cell(&v.id),
            cell(&v.name),
            cost_txt,
            delta,
            per_cost
        ));
    }
    t
}

/// Paired differences from the baseline per strategy and importer.
fn importer_diff_table(s: &Summary) -> String {
    let cur = &s.currency;
    let mut t = String::from(
        "| strategy | importer | Δ E[loss] (95% CI) | Δ fill rate, by value (95% CI) | Δ P(shortage) (95% CI) |\n\
         |---|---|--:|--:|--:|\n",
    );
    for v in s.variants.iter().skip(1) {
        for im in &v.importers {
            let pp = |d: Option<Difference>| d.map_or("–".to_owned(), points_ci);
            let d = im.vs_baseline.as_ref();
            t.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&v.id),
                cell(&display_name(&im.importer, &im.name)),
                d.map_or("–".to_owned(), |d| money_ci(d.loss_value, cur)),
                pp(d.map(|d| d.value_fill_rate)),
                pp(d.map(|d| d.p_shortage)),
            ));
        }
    }
    t
}

/// The importers the totals count, by name, and whether that is a focus or the default.
fn totals_cover(s: &Summary) -> String {
    let base = s.variants.first();
    let named: Vec<String> = s
        .totals_cover
        .iter()
        .map(|id| {
            base.and_then(|b| b.importers.iter().find(|im| im.importer == *id))
                .map_or_else(|| id.clone(), |im| display_name(&im.importer, &im.name))
        })
        .collect();
    let list = if named.is_empty() {
        "no importer".to_owned()
    } else {
        named.join(", ")
    };
    if s.focus {
        format!("the focus chosen: {list}")
    } else {
        format!("every importer not declared balancing: {list}")
    }
}

/// A money difference with its interval: `-$12.3m (-$20.1m to -$4.5m)`.
fn money_ci(d: Difference, cur: &str) -> String {
    format!(
        "{} ({} to {})",
        signed(money(d.mean, cur), d.mean),
        money(d.low(), cur),
        money(d.high(), cur)
    )
}

/// A difference of shares in percentage points with its interval: `+0.12 pp (0.05 to 0.19)`.
fn points_ci(d: Difference) -> String {
    let se = d.se * 100.0;
    let dec = if se > 0.0 && se.is_finite() {
        (1 - se.log10().floor() as i32).clamp(1, 4) as usize
    } else {
        2
    };
    let mean = fixed(d.mean * 100.0, dec);
    let mean = if d.mean > 0.0 && !mean.starts_with('-') && mean != fixed(0.0, dec) {
        format!("+{mean}")
    } else {
        mean
    };
    format!(
        "{mean} pp ({} to {})",
        fixed(d.low() * 100.0, dec),
        fixed(d.high() * 100.0, dec)
    )
}

fn signed(text: String, x: f64) -> String {
    if x > 0.0 && text != "$0" && !text.starts_with('0') {
        format!("+{text}")
    } else {
        text
    }
}

fn ratio(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 {
        fixed(x, 0)
    } else if a >= 10.0 {
        fixed(x, 1)
    } else if a >= 0.1 || a == 0.0 {
        fixed(x, 2)
    } else {
        // Two significant digits for small ratios (0.014, not 0.01).
        let d = (1 - a.log10().floor() as i32).clamp(2, 8) as usize;
        fixed(x, d)
    }
}

/// Text safe inside a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Text safe as image alt text.
fn alt(s: &str) -> String {
    s.replace('[', "(").replace(']', ")").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::starter;

    /// A material whose price moved gets its loss split into the unmet and price parts, with
    /// its peak price's mean and P95; a run without price moves keeps the plain table.
    #[test]
    fn moved_prices_split_the_loss_in_the_material_table() {
        let mut r = starter(50);
        let plain = slot_table(&r.summary, &r.summary.variants[0], "home");
        assert!(!plain.contains("of which price"), "{plain}");
        let m = &mut r.summary.variants[0].slots[0].metrics;
        m.peak_price.mean = 1.5;
        m.extra_spend.mean = 2e6;
        m.surplus_lost.mean = 1e6;
        m.unmet_loss.mean = 4e6;
        r.summary.variants[0].slots[0].peak_price_p95 = Some(2.75);
        let split = slot_table(&r.summary, &r.summary.variants[0], "home");
        assert!(split.contains("| of which unmet | of which price | peak price: mean, P95 |"));
        assert!(split.contains("| $4m | $3m | 1.50x, 2.75x |"), "{split}");
    }

    #[test]
    fn report_has_every_section_and_chart_in_order() {
        let r = starter(300);
        let files = r.charts();
        let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        let md = report_md(&r.summary, &r.indicators, &names, false);
        assert!(md.starts_with("# Starter scenario\n\nOne importer buying"));
        for needle in [
            "| seed | 1 |",
            "| trials | 300 |",
            "supplyshock 0.1.0",
            "## Supply concentration",
            "| Refined oxide | 6800 | Country A | 80% |",
            "| Home | Refined oxide | Country A 80% | Country A 80% | > 65% one country |",
            "## Headline by importer",
            "| Home |",
            "### Home",
            "| Refined oxide |",
            "## Strategies",
            "**stockpile-90**: Hold 90 days of oxide",
            "Δ total expected loss (95% CI)",
            "## Executive summary",
            "Totals and rankings count Home.",
            "**Home**: expected loss",
            "**Strategies, by net benefit**",
            "| 1 | **stockpile-90**",
            "P99 and CVaR99 move from run to run",
        ] {
            assert!(md.contains(needle), "{needle:?} missing from:\n{md}");
        }
        let mut last = 0;
        for info in chart_plan(&r.summary) {
            let link = format!("]({}.png)", info.stem);
            let at = md.find(&link).unwrap_or_else(|| panic!("{link} missing"));
            assert!(at > last, "{} out of order", info.stem);
            last = at;
        }
        for name in &names {
            let stem = name.trim_end_matches(".png").trim_end_matches(".svg");
            assert!(
                md.contains(&format!("]({stem}.png)")),
                "{name} is not embedded"
            );
        }
        assert!(!md.contains(".svg)"), "PNG is embedded when both exist");
        assert!(!md.contains("## Other charts"));
        assert!(!md.contains("](/"), "no absolute paths");
    }

    /// An importer's `name` is what report.md and the charts call it (they said "Us def", the
    /// id made pretty); ids stay in file names. Without a name, the id is made pretty as before.
    #[test]
    fn display_names_replace_ids_where_given() {
        let text = include_str!("../scenarios/starter.toml").replace(
            "id = \"home\"\n",
            "id = \"us_def\"\nname = \"US defence radar programmes\"\n",
        );
        let text = text.replace("importer = \"home\"", "importer = \"us_def\"");
        let r = crate::plot::tests::run(&text, 200);
        let files = r.charts();
        let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        let md = report_md(&r.summary, &r.indicators, &names, false);
        for needle in [
            "### US defence radar programmes\n",
            "\n| US defence radar programmes | ",
            "| stockpile-90 | US defence radar programmes |",
            "| US defence radar programmes | Refined oxide | Country A 80% |",
            "![US defence radar programmes — Refined oxide: share of demand met",
            "](fan-us_def-oxide.png)",
        ] {
            assert!(md.contains(needle), "{needle:?} missing from:\n{md}");
        }
        assert!(!md.contains("Us def"), "{md}");
        let svg = |stem: &str| {
            let f = files.iter().find(|f| f.0 == format!("{stem}.svg")).unwrap();
            String::from_utf8(f.1.clone()).unwrap()
        };
        assert!(svg("loss-exceedance-us_def").contains("US defence radar programmes:"));
        let sourcing = svg("sourcing-us_def-oxide");
        assert!(sourcing.contains("Country A") && sourcing.contains("Country B"));
    }

    #[test]
    fn unknown_files_go_last_and_missing_charts_are_skipped() {
        let r = starter(200);
        let md = report_md(
            &r.summary,
            &r.indicators,
            &[
                "/tmp/out/sweep.png".to_owned(),
                "sweep.svg".to_owned(),
                "extra.png".to_owned(),
                "stress-tts-ttr.svg".to_owned(),
            ],
            false,
        );
        let stress = md.find("## Stress test\n\n![Stress test: ").unwrap();
        let sweep = md.find("## Sensitivity sweep\n\n![Sweep: ").unwrap();
        let other = md
            .find("## Other charts\n\n![extra.png](extra.png)\n")
            .unwrap();
        assert!(stress < sweep && sweep < other, "{md}");
        assert!(md.contains("](stress-tts-ttr.svg)"));
        assert!(md.contains("](sweep.png)"));
        assert!(!md.contains("fan-"));
        assert!(!md.contains("/tmp"));
    }

    #[test]
    fn small_pieces() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(ratio(2.444), "2.44");
        assert_eq!(ratio(0.01394), "0.014");
        assert_eq!(ratio(-0.5), "-0.50");
        assert_eq!(ratio(0.0), "0.00");
        assert_eq!(ratio(-0.0), "0.00");
        assert_eq!(ratio(-1e-12), "0.00000000");
    }

    #[test]
    fn zero_differences_have_no_sign() {
        let d = |mean: f64, se: f64| Difference {
            mean,
            se,
            ci95: [mean - 1.96 * se, mean + 1.96 * se],
        };
        assert_eq!(points_ci(d(0.0, 0.0)), "0.00 pp (0.00 to 0.00)");
        assert_eq!(points_ci(d(-0.0, 0.0)), "0.00 pp (0.00 to 0.00)");
        assert_eq!(points_ci(d(-1e-9, 0.0)), "0.00 pp (0.00 to 0.00)");
        assert_eq!(points_ci(d(0.0012, 0.0001)), "+0.120 pp (0.100 to 0.140)");
        assert_eq!(money_ci(d(0.0, 0.0), "USD"), "$0 ($0 to $0)");
        assert_eq!(money_ci(d(-0.0, 0.0), "EUR"), "0 EUR (0 EUR to 0 EUR)");
        assert_eq!(money_ci(d(5e6, 1e6), "USD"), "+$5m ($3.04m to $6.96m)");
    }
}
