//! The scenario file as users write it: serde structs that mirror the TOML one to one.
//!
//! Nothing here is validated beyond TOML syntax, types and unknown keys; `model::compile` turns a
//! [`RawScenario`] into a [`crate::model::Model`] that cannot be invalid. Every value that a later
//! check may complain about is wrapped in [`Spanned`] so the complaint can point at its line and
//! column.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
pub use toml::Spanned;

use crate::diag::{Diagnostic, SourceFile};

mod recover;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub scenario: Spanned<RawMeta>,
    #[serde(default)]
    pub region: Vec<Spanned<RawRegion>>,
    #[serde(default)]
    pub material: Vec<Spanned<RawMaterial>>,
    #[serde(default)]
    pub supplier: Vec<Spanned<RawSupplier>>,
    #[serde(default)]
    pub importer: Vec<Spanned<RawImporter>>,
    #[serde(default)]
    pub route: Vec<Spanned<RawRoute>>,
    #[serde(default)]
    pub shock: Vec<Spanned<RawShock>>,
    #[serde(default)]
    pub pool: Vec<Spanned<RawPool>>,
    #[serde(default)]
    pub strategy: Vec<Spanned<RawStrategy>>,
    #[serde(default)]
    pub expect: Vec<Spanned<RawExpect>>,
}

/// `[scenario]`: run-wide settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeta {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub horizon_days: Option<Spanned<i64>>,
    pub step_days: Option<Spanned<i64>>,
    pub trials: Option<Spanned<i64>>,
    pub seed: Option<Spanned<i64>>,
    pub currency: Option<Spanned<String>>,
    /// Days of full service after a shortage that count as "recovered" (time to recover).
    pub sustain_days: Option<Spanned<i64>>,
    /// Yearly discount rate of losses and costs (present values at the start of the run).
    pub discount_rate: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegion {
    pub id: Spanned<String>,
    pub name: Option<String>,
    /// Worldwide Governance Indicators mean, -2.5 (worst) to 2.5 (best).
    pub governance: Option<Spanned<f64>>,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaterial {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub unit: Option<String>,
    /// Currency per unit.
    pub value: Option<Spanned<f64>>,
    /// Bill of materials: units of input per unit of output.
    #[serde(default)]
    pub inputs: BTreeMap<String, Spanned<f64>>,
    /// Value lost downstream per unit of value missing.
    pub loss_multiplier: Option<Spanned<f64>>,
    /// End-of-life recycling input rate (0..1), for the supply-risk index.
    pub recycling_input_rate: Option<Spanned<f64>>,
    /// Substitution index (0 = easily substituted .. 1 = no substitute), for the supply-risk index.
    pub substitution_index: Option<Spanned<f64>>,
    /// Prices that clear (`[material.market]`); without it the material is rationed by
    /// quantity alone.
    pub market: Option<Spanned<RawMarket>>,
}

/// `[material.market]`: the material's price response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarket {
    /// Short-run own-price elasticity of importers' demand (>= 0).
    pub demand_elasticity: Spanned<f64>,
    /// Short-run price elasticity of suppliers' output (>= 0).
    pub supply_elasticity: Spanned<f64>,
    /// The same below the reference price: how far output is held back when the price falls
    /// (>= 0; default `supply_elasticity`).
    pub supply_elasticity_below: Option<Spanned<f64>>,
    /// Price ceiling, a multiple of `value` (>= 1).
    pub max_price: Option<Spanned<f64>>,
    /// Price floor, a multiple of `value` (in (0, 1]).
    pub min_price: Option<Spanned<f64>>,
    /// Days for the price to close all but 1/e of its gap to the clearing price (0: it clears
    /// every step).
    pub adjust_days: Option<Spanned<f64>>,
}

/// `sourcing.<material> = { supplier = share, ... }`
pub type RawSourcing = BTreeMap<String, Spanned<BTreeMap<String, Spanned<f64>>>>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSupplier {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub region: Spanned<String>,
    pub material: Spanned<String>,
    /// Units per year.
    pub capacity: Spanned<f64>,
    pub spare: Option<Spanned<f64>>,
    pub ramp_days: Option<Spanned<f64>>,
    #[serde(default)]
    pub sourcing: RawSourcing,
    #[serde(default)]
    pub stock_days: BTreeMap<String, Spanned<f64>>,
    /// Regions whose buyers are served first when output is short (domestic or allies first).
    #[serde(default)]
    pub priority_regions: Vec<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStockpile {
    /// Target stock, in days of demand.
    pub days: Option<Spanned<f64>>,
    /// Stock at step 0, in days of demand (default: the target).
    pub initial_days: Option<Spanned<f64>>,
    /// Days to refill from empty to the target (default 365).
    pub refill_days: Option<Spanned<f64>>,
    /// `false`: drawn down but never refilled.
    pub refill: Option<Spanned<bool>>,
    /// Material with a market: serve the holder's own use from stock once the price exceeds
    /// this multiple of the reference price (default: only when short).
    pub release_above: Option<Spanned<f64>>,
    /// Material with a market: refill only at a price at most this multiple of the reference
    /// price (default 1.05).
    pub refill_below: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImporter {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub region: Spanned<String>,
    /// Units per year, per material.
    pub demand: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    pub sourcing: RawSourcing,
    /// Days to qualify a new supplier after losing one; absent = never re-sources.
    pub switch_days: Option<Spanned<f64>>,
    #[serde(default)]
    pub stockpile: BTreeMap<String, Spanned<RawStockpile>>,
    /// Fraction of demand met from domestic recycling, immune to shocks.
    #[serde(default)]
    pub recycling: BTreeMap<String, Spanned<f64>>,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    /// Stands for every other buyer (the rest of the world), so that suppliers sell what they
    /// make: reports set it apart from the importers a study is about.
    #[serde(default)]
    pub balancing: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLane {
    pub from: Spanned<String>,
    pub to: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub lead_days: Option<Spanned<f64>>,
    pub carries: Vec<Spanned<RawLane>>,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
}

/// One string or a list of strings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OneOrMany(pub Vec<Spanned<String>>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Spanned<String>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an id or a list of ids")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                // A bare string has no span of its own here; the caller's span covers it.
                Ok(vec![Spanned::new(0..0, v.to_owned())])
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<Spanned<String>>()? {
                    out.push(s);
                }
                Ok(out)
            }
        }
        d.deserialize_any(V).map(OneOrMany)
    }
}

/// Which elements a shock hits: the intersection of every selector given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub supplier: Option<Spanned<OneOrMany>>,
    pub region: Option<Spanned<OneOrMany>>,
    pub material: Option<Spanned<OneOrMany>>,
    pub route: Option<Spanned<OneOrMany>>,
    pub importer: Option<Spanned<OneOrMany>>,
    pub tag: Option<Spanned<OneOrMany>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarkov {
    /// Probability per step of going down while up.
    pub down: Spanned<f64>,
    /// Probability per step of coming back up while down.
    pub up: Spanned<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecovery {
    pub shape: Option<Spanned<String>>,
    pub days: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    pub shock: Spanned<String>,
    pub probability: Spanned<f64>,
    pub lag_days: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShock {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub kind: Spanned<String>,
    pub target: Spanned<RawTarget>,
    /// Export bans: the buyers cut off (default: every buyer outside the target's regions).
    pub against: Option<Spanned<RawTarget>>,
    pub rate_per_year: Option<Spanned<f64>>,
    pub markov: Option<Spanned<RawMarkov>>,
    pub at_day: Option<Spanned<f64>>,
    pub duration_days: Option<Spanned<RawDist>>,
    pub severity: Option<Spanned<RawDist>>,
    pub recovery: Option<Spanned<RawRecovery>>,
    #[serde(default)]
    pub triggers: Vec<Spanned<RawTrigger>>,
    /// `true`: every selected element gets its own copy of the process instead of one common event.
    pub independent: Option<Spanned<bool>>,
}

/// A number (a fixed value) or a distribution table `{ dist = "...", ... }`.
#[derive(Debug, Clone)]
pub enum RawDist {
    Fixed(f64),
    Spec(Box<RawDistSpec>),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistSpec {
    pub dist: Option<Spanned<String>>,
    pub value: Option<Spanned<f64>>,
    pub min: Option<Spanned<f64>>,
    pub mode: Option<Spanned<f64>>,
    pub max: Option<Spanned<f64>>,
    pub mean: Option<Spanned<f64>>,
    pub sd: Option<Spanned<f64>>,
    pub median: Option<Spanned<f64>>,
    pub p95: Option<Spanned<f64>>,
    pub mu: Option<Spanned<f64>>,
    pub sigma: Option<Spanned<f64>>,
    pub shape: Option<Spanned<f64>>,
    pub scale: Option<Spanned<f64>>,
    pub values: Option<Spanned<Vec<f64>>>,
}

impl<'de> Deserialize<'de> for RawDist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDist;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a distribution table such as { dist = \"lognormal\", median = 60, p95 = 365 }")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDist, E> {
                Ok(RawDist::Fixed(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawDist, A::Error> {
                let spec = RawDistSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RawDist::Spec(Box::new(spec)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub members: Vec<Spanned<String>>,
    pub material: Spanned<String>,
    /// Target stock, in days of the members' combined demand.
    pub days: Spanned<f64>,
    pub refill_days: Option<Spanned<f64>>,
    /// Material with a market: refill only at a price at most this multiple of the reference
    /// price (default 1.05).
    pub refill_below: Option<Spanned<f64>>,
    /// Material with a market: serve the members' own use from the pool once the price
    /// exceeds this multiple of the reference price (default: only when they are short).
    pub release_above: Option<Spanned<f64>>,
}

/// One edit a strategy (or a sweep value) makes to the baseline. Exactly one selector
/// (`importer`, `supplier`, `shock`, `route` or `pool`) says what it edits; the other keys are the edit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChange {
    pub importer: Option<Spanned<String>>,
    pub supplier: Option<Spanned<String>>,
    pub shock: Option<Spanned<String>>,
    pub route: Option<Spanned<String>>,
    pub pool: Option<Spanned<String>>,
    // importer edits
    pub demand: Option<BTreeMap<String, Spanned<f64>>>,
    pub sourcing: Option<RawSourcing>,
    pub switch_days: Option<Spanned<f64>>,
    pub stockpile: Option<BTreeMap<String, Spanned<RawStockpile>>>,
    pub recycling: Option<BTreeMap<String, Spanned<f64>>>,
    // supplier edits
    pub capacity: Option<Spanned<f64>>,
    pub spare: Option<Spanned<f64>>,
    pub ramp_days: Option<Spanned<f64>>,
    pub stock_days: Option<BTreeMap<String, Spanned<f64>>>,
    pub priority_regions: Option<Vec<Spanned<String>>>,
    // shock edits
    pub rate_per_year: Option<Spanned<f64>>,
    pub severity: Option<Spanned<RawDist>>,
    pub duration_days: Option<Spanned<RawDist>>,
    pub enabled: Option<Spanned<bool>>,
    // route edits
    pub lead_days: Option<Spanned<f64>>,
    // pool edits (a new pool needs members, material and days)
    pub members: Option<Vec<Spanned<String>>>,
    pub material: Option<Spanned<String>>,
    pub days: Option<Spanned<f64>>,
    pub refill_days: Option<Spanned<f64>>,
    pub refill_below: Option<Spanned<f64>>,
    pub release_above: Option<Spanned<f64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCost {
    /// Yearly holding cost as a fraction of the value of stock added over the baseline.
    pub carry_rate: Option<Spanned<f64>>,
    /// Price premium on the yearly volume moved between suppliers, fraction of material value.
    pub premium: Option<Spanned<f64>>,
    /// Any other yearly cost (recycling plant, substitution programme), currency per year.
    pub per_year: Option<Spanned<f64>>,
    /// Who pays the cost no importer bears of itself (the fixed cost, stock held at suppliers):
    /// importer id to share, the shares adding up to 1. Each importer always pays for its own
    /// stock and switch, pool members for their pool by their use.
    #[serde(default)]
    pub paid_by: BTreeMap<String, Spanned<f64>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStrategy {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub changes: Vec<Spanned<RawChange>>,
    #[serde(default)]
    pub cost: Option<Spanned<RawCost>>,
}

/// `[[expect]]`: an observed outcome band a replay of history should land in (`replay`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// A per-importer-and-material metric of summary.json (`fill_rate`, `days_short`,
    /// `peak_price`, ...).
    pub metric: Spanned<String>,
    pub importer: Spanned<String>,
    pub material: Spanned<String>,
    /// The strategy whose result is compared (default: the baseline).
    pub strategy: Option<Spanned<String>>,
    pub low: Spanned<f64>,
    pub high: Spanned<f64>,
    /// Where the band comes from: a tag of docs/sources.md.
    pub source: Spanned<String>,
    /// What the band is, in words, and what would have to change if the model misses it.
    pub note: Option<String>,
}

/// Parse TOML text into raw structs. A syntax error comes back alone (the text cannot be read
/// past it); otherwise every unknown key, wrong type and missing key of the file is reported,
/// each with its own position and key path, in file order. Semantic checks in `model::compile`
/// run only on a file that parsed.
pub fn parse(src: &SourceFile) -> Result<RawScenario, Vec<Diagnostic>> {
    recover::parse_all(src)
}

fn diagnose_toml_error(src: &SourceFile, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let msg = e.message().trim().to_owned();
    let (field, hint) = unknown_field_hint(&msg)
        .or_else(|| missing_field_hint(&msg))
        .unwrap_or_else(|| (String::new(), None));
    let table = table_path_at(&src.text, span.start);
    // Data errors (types, keys) belong to a table; pure syntax errors get no key path.
    let data_error =
        !field.is_empty() || msg.contains("invalid type") || msg.contains("duplicate key");
    let key = match (table.is_empty(), field.is_empty()) {
        _ if field == "scenario" || !data_error => field,
        (true, _) => field,
        (false, true) => table,
        (false, false) => format!("{table}.{field}"),
    };
    let mut d = Diagnostic::error(src, span, key, msg);
    if let Some(h) = hint {
        d = d.with_hint(h);
    } else {
        let hint = syntax_hint(&d.message);
        d = d.with_hint(hint);
    }
    d
}

/// The table a byte offset lies in, as a key path: `supplier[3]` for the fourth `[[supplier]]`,
/// `scenario` for `[scenario]`; empty before any header.
fn table_path_at(text: &str, offset: usize) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut path = String::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if pos > offset {
            break;
        }
        let l = line.trim();
        let valid = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if let Some(name) = l
            .strip_prefix("[[")
            .and_then(|r| r.split_once("]]"))
            .map(|(n, _)| n.trim())
            .filter(|n| valid(n))
        {
            let n = counts.entry(name).or_insert(0);
            path = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = l
            .strip_prefix('[')
            .filter(|r| !r.starts_with('['))
            .and_then(|r| r.split_once(']'))
            .map(|(n, _)| n.trim())
            .filter(|n| valid(n))
        {
            path = name.to_owned();
        }
        pos += line.len();
    }
    path
}

fn syntax_hint(msg: &str) -> &'static str {
    if msg.contains("invalid type") {
        "check the value's type: numbers unquoted, ids and names in quotes, lists in [ ], tables in { }"
    } else if msg.contains("duplicate key") {
        "each key may appear once per table: remove or rename the repeated one"
    } else if msg.contains("unclosed") || msg.contains("expected") {
        "fix the TOML syntax at this position: brackets and quotes must close on the same line"
    } else if msg.contains("invalid") {
        "fix the value at this position: see scenarios/README.md for the expected form"
    } else {
        "fix the TOML syntax at this position (see https://toml.io for the rules)"
    }
}

/// serde says: "unknown field `capacty`, expected one of `id`, `name`, ...". Returns the key,
/// the allowed key it is likely a typo of, and the hint.
fn unknown_field(msg: &str) -> Option<(String, Option<String>, String)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (name, rest) = rest.split_once('`')?;
    let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let best = crate::diag::did_you_mean(name, expected.iter().copied());
    let hint = match best {
        Some(best) => format!("did you mean `{best}`?"),
        None if !expected.is_empty() => format!("allowed keys here: {}", expected.join(", ")),
        None => "remove this key".to_owned(),
    };
    Some((name.to_owned(), best.map(str::to_owned), hint))
}

fn unknown_field_hint(msg: &str) -> Option<(String, Option<String>)> {
    unknown_field(msg).map(|(name, _, hint)| (name, Some(hint)))
}

fn missing_field_hint(msg: &str) -> Option<(String, Option<String>)> {
    let rest = msg.strip_prefix("missing field `")?;
    let (name, _) = rest.split_once('`')?;
    if name == "scenario" {
        return Some((
            name.to_owned(),
            Some(
                "add a [scenario] table with at least name = \"...\" (see scenarios/README.md)"
                    .to_owned(),
            ),
        ));
    }
    Some((
        name.to_owned(),
        Some(format!(
            "add `{name} = ...` to this table (see scenarios/README.md)"
        )),
    ))
}
