//! report.md: the run in one document, ready to paste into a briefing. Tables of the headline
//! metrics and the strategy comparison, with the charts embedded by relative path in reading
//! order ([`crate::plot::chart_plan`]).

use std::collections::BTreeSet;

use crate::plot::format::{count, days, display_id, money, percent, percent_pm, quantity};
use crate::plot::{chart_plan, loss_reduction, ChartInfo, ChartKind};
use crate::report::{Difference, Summary, Timing, VariantSummary};

/// report.md for a run: `check_table` is the rendered static concentration table; charts are
/// embedded for the files in `chart_files` (names relative to report.md).
pub fn report_md(summary: &Summary, check_table: &str, chart_files: &[String]) -> String {
    let s = summary;
    let files: BTreeSet<&str> = chart_files.iter().map(String::as_str).collect();
    let plan = chart_plan(s);
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut out = String::new();
    let mut embed = |out: &mut String, pick: &dyn Fn(&ChartInfo) -> bool| {
        for info in plan.iter().filter(|c| pick(c)) {
            let png = format!("{}.png", info.stem);
            let svg = format!("{}.svg", info.stem);
            let file = if files.contains(png.as_str()) {
                png
            } else if files.contains(svg.as_str()) {
                svg
            } else {
                continue;
            };
            out.push_str(&format!("![{}]({})\n\n", alt(&info.title), file));
            used.insert(format!("{}.png", info.stem));
            used.insert(format!("{}.svg", info.stem));
        }
    };
    let multi = s.variants.len() > 1;
    let h = s.horizon_days;

    out.push_str(&format!("# {}\n\n", s.scenario.trim()));
    if let Some(d) = s.description.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str(&format!("{}\n\n", d.trim()));
    }

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
        ("horizon", format!("{h} days, {step}")),
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
    if s.trials < 10_000 {
        out.push_str(&format!(
            "> With {} trials, only {} trials lie beyond the 99th percentile: P99 and CVaR99 are \
             unstable. Run 10,000 trials or more for a stable tail.\n\n",
            count(s.trials),
            count(s.trials / 100)
        ));
    }
    out.push_str(
        "Charts are embedded as PNG; an SVG of each, with the same name, sits beside this file.\n\n",
    );

    out.push_str("## Supply concentration\n\nStatic indicators from the scenario's capacities and sourcing, before any simulation.\n\n");
    let fence = fence_for(check_table);
    out.push_str(&format!(
        "{fence}text\n{}\n{fence}\n\n",
        check_table.trim_end()
    ));

    if let Some(base) = s.variants.first() {
        out.push_str("## Baseline\n\n");
        out.push_str(&format!(
            "Means over {} trials (± one standard error). Loss is the value of unmet demand over the \
             {h}-day horizon. TTS (time to survive): days from the onset of a supply deficit to the \
             first shortage, over the trials that ran short; TTR (time to recover): days from the \
             first shortage back to sustained full service, over the trials that recovered. \
             Both as mean (P95).\n\n",
            count(s.trials)
        ));
        for im in &base.importers {
            out.push_str(&format!("### {}\n\n", display_id(&im.importer)));
            out.push_str(&importer_table(s, base, &im.importer));
            out.push('\n');
            embed(&mut out, &|c| {
                c.kind == ChartKind::Fan && c.importer.as_deref() == Some(im.importer.as_str())
            });
        }

        out.push_str("## Loss distribution\n\n");
        out.push_str(
            "The probability that an importer's loss exceeds a given amount (log scale: the tail \
             is what a stockpile or a second source is for), and the mean loss in the worst 5% of \
             trials (CVaR95).\n\n",
        );
        embed(&mut out, &|c| c.kind == ChartKind::LossExceedance);
        embed(&mut out, &|c| c.kind == ChartKind::Cvar);
    }

    if multi {
        out.push_str("## Strategies\n\n");
        out.push_str(&format!(
            "Each strategy runs on the same random numbers as the baseline, so differences are \
             paired; intervals are 95% confidence intervals. Loss avoided is over the {h}-day \
             horizon; cost is per year. Loss avoided per unit of cost is the efficiency of the \
             strategy (above 1: the strategy pays for itself in expected value alone, before any \
             value placed on the tail).\n\n"
        ));
        out.push_str(&strategy_table(s));
        out.push('\n');
        out.push_str(&importer_diff_table(s));
        out.push('\n');
        embed(&mut out, &|c| c.kind == ChartKind::Frontier);
        out.push_str("### Fill over time by strategy\n\n");
        embed(&mut out, &|c| c.kind == ChartKind::Strategies);
        out.push_str("### Sourcing by region, before and after each strategy\n\n");
    } else {
        out.push_str("## Sourcing by region\n\n");
    }
    embed(&mut out, &|c| c.kind == ChartKind::Sourcing);

    let others: Vec<&str> = chart_files
        .iter()
        .map(String::as_str)
        .filter(|f| !used.contains(*f))
        .filter(|f| {
            f.ends_with(".png")
                || (f.ends_with(".svg")
                    && !files.contains(format!("{}.png", &f[..f.len() - 4]).as_str()))
        })
        .collect();
    if !others.is_empty() {
        out.push_str("## Other charts\n\n");
        for f in others {
            out.push_str(&format!("![{}]({f})\n\n", alt(f)));
        }
    }
    out
}

/// One importer's headline table: a row per material, then the importer in value terms.
fn importer_table(s: &Summary, v: &VariantSummary, importer: &str) -> String {
    let cur = &s.currency;
    let mut t = String::from(
        "| material | fill rate | P(shortage) | E[unmet] | E[loss] | P95 loss | P99 loss | CVaR95 | CVaR99 | TTS | TTR |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for sl in v.slots.iter().filter(|sl| sl.importer == importer) {
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} | – | – | – | – | {} | {} |\n",
            cell(&sl.material),
            percent_pm(sl.fill_rate.mean, sl.fill_rate.se),
            percent(sl.p_shortage.mean),
            quantity(sl.unmet_units.mean, &sl.unit),
            money(sl.loss_value.mean, cur),
            tts(sl.time_to_survive_days, sl.p_shortage.mean),
            ttr(
                sl.time_to_recover_days,
                sl.p_shortage.mean,
                sl.not_recovered_share
            ),
        ));
    }
    if let Some(im) = v.importers.iter().find(|i| i.importer == importer) {
        t.push_str(&format!(
            "| **all, by value** | {} | {} | – | {} ± {} | {} | {} | {} | {} | – | – |\n",
            percent_pm(im.value_fill_rate.mean, im.value_fill_rate.se),
            percent(im.p_shortage.mean),
            money(im.loss_value.mean, cur),
            money(im.loss_value.se, cur),
            money(im.loss_p95, cur),
            money(im.loss_p99, cur),
            money(im.loss_cvar95, cur),
            money(im.loss_cvar99, cur),
        ));
    }
    t
}

fn tts(t: Option<Timing>, p_short: f64) -> String {
    match t {
        Some(t) => format!("{} ({})", days(t.mean), days(t.p95)),
        None if p_short > 0.0 => "–".to_owned(),
        None => "beyond horizon".to_owned(),
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

/// One row per strategy: cost, total loss avoided with its interval, and loss avoided per unit
/// of cost.
fn strategy_table(s: &Summary) -> String {
    let cur = &s.currency;
    let mut t = String::from(
        "| strategy | yearly cost | loss avoided, all importers (95% CI) | loss avoided per unit of cost (95% CI) |\n\
         |---|--:|--:|--:|\n",
    );
    for v in s.variants.iter().skip(1) {
        let cost = v.yearly_cost.as_ref();
        let total = cost.map_or(0.0, |c| c.total);
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
        let (avoided, per_cost) = match loss_reduction(v) {
            Some(r) => (
                format!(
                    "{} ({} to {})",
                    money(r.mean, cur),
                    money(r.ci95[0], cur),
                    money(r.ci95[1], cur)
                ),
                if total > 0.0 {
                    format!(
                        "{} ({} to {})",
                        ratio(r.mean / total),
                        ratio(r.ci95[0] / total),
                        ratio(r.ci95[1] / total)
                    )
                } else {
                    "– (no cost)".to_owned()
                },
            ),
            None => ("–".to_owned(), "–".to_owned()),
        };
        t.push_str(&format!(
            "| **{}**: {} | {} | {} | {} |\n",
            cell(&v.id),
            cell(&v.name),
            cost_txt,
            avoided,
            per_cost
        ));
    }
    t.push_str(
        "\nThe interval of the total adds the importers' half-widths: conservative whatever the \
         correlation between importers.\n",
    );
    t
}

/// Paired differences from the baseline per strategy and importer.
fn importer_diff_table(s: &Summary) -> String {
    let cur = &s.currency;
    let mut t = String::from(
        "| strategy | importer | Δ E[loss] (95% CI) | Δ fill rate, by value (95% CI) | Δ P(shortage) (95% CI) |\n\
         |---|---|--:|--:|--:|\n",
    );
    let get = |d: &Option<Vec<(String, Difference)>>, name: &str| {
        d.as_ref()
            .and_then(|d| d.iter().find(|(n, _)| n == name).map(|(_, x)| *x))
    };
    for v in s.variants.iter().skip(1) {
        for im in &v.importers {
            let money_d = |d: Option<Difference>| {
                d.map_or("–".to_owned(), |d| {
                    format!(
                        "{} ({} to {})",
                        signed(money(d.mean, cur), d.mean),
                        money(d.ci95[0], cur),
                        money(d.ci95[1], cur)
                    )
                })
            };
            let pp = |d: Option<Difference>| d.map_or("–".to_owned(), points_ci);
            t.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&v.id),
                display_id(&im.importer),
                money_d(get(&im.vs_baseline, "loss_value")),
                pp(get(&im.vs_baseline, "value_fill_rate")),
                pp(get(&im.vs_baseline, "p_shortage")),
            ));
        }
    }
    t
}

/// A difference of shares in percentage points with its interval: `+0.12 pp (0.05 to 0.19)`.
fn points_ci(d: Difference) -> String {
    let se = d.se * 100.0;
    let dec = if se > 0.0 && se.is_finite() {
        (1 - se.log10().floor() as i32).clamp(1, 4) as usize
    } else {
        2
    };
    format!(
        "{:+.dec$} pp ({:.dec$} to {:.dec$})",
        d.mean * 100.0,
        d.ci95[0] * 100.0,
        d.ci95[1] * 100.0
    )
}

fn signed(text: String, x: f64) -> String {
    if x > 0.0 {
        format!("+{text}")
    } else {
        text
    }
}

fn ratio(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
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

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::tests::starter;

    #[test]
    fn report_has_every_section_and_chart_in_order() {
        let r = starter(500);
        let files = crate::plot::charts(&r.summary, &r.curves, &r.losses, &r.sourcing);
        let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        let md = report_md(&r.summary, &r.check_table, &names);
        assert!(md.starts_with("# Starter scenario\n\nOne importer buying"));
        for needle in [
            "| seed | 1 |",
            "| trials | 500 |",
            "supplyshock 0.1.0",
            "## Supply concentration",
            "```text\n",
            "### Home",
            "| oxide |",
            "**all, by value**",
            "## Strategies",
            "**stockpile-90**: Hold 90 days of oxide",
            "P99 and CVaR99 are unstable",
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
        assert!(!md.contains(".svg)"), "PNG is embedded when both exist");
        assert!(!md.contains("## Other charts"));
    }

    #[test]
    fn unknown_files_go_last_and_missing_charts_are_skipped() {
        let r = starter(200);
        let md = report_md(
            &r.summary,
            "table",
            &["tornado.png".to_owned(), "tornado.svg".to_owned()],
        );
        assert!(md.contains("## Other charts\n\n![tornado.png](tornado.png)\n"));
        assert!(!md.contains("fan-"));
    }

    #[test]
    fn fences_outgrow_backticks() {
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(cell("a|b"), "a\\|b");
    }
}
