//! Sensitivity sweeps: one parameter over a list of values, every value a variant run on the
//! same random numbers as the baseline, so the table reads as a clean response curve.
//!
//! Keys name one scalar of the scenario by kind, id and key path:
//! `importer.<id>.stockpile.<material>.days` (and `.release_above`, `.refill_below`),
//! `importer.<id>.switch_days`,
//! `importer.<id>.demand.<material>`, `importer.<id>.recycling.<material>`,
//! `supplier.<id>.capacity`, `supplier.<id>.spare`, `supplier.<id>.ramp_days`,
//! `supplier.<id>.stock_days.<material>`, `shock.<id>.rate_per_year`, `shock.<id>.severity`,
//! `shock.<id>.duration_days`, `route.<id>.lead_days`, `pool.<id>.days`,
//! `pool.<id>.refill_below`, `pool.<id>.release_above`.

use std::collections::BTreeMap;

use crate::diag::Diagnostics;
use crate::model::{variant, Loaded, Model};
use crate::scenario::{RawChange, RawDist, RawStockpile, Spanned};

/// The keys `--set` accepts, for messages.
pub const KEYS: &[&str] = &[
    "importer.<id>.stockpile.<material>.days",
    "importer.<id>.stockpile.<material>.release_above",
    "importer.<id>.stockpile.<material>.refill_below",
    "importer.<id>.switch_days",
    "importer.<id>.demand.<material>",
    "importer.<id>.recycling.<material>",
    "supplier.<id>.capacity",
    "supplier.<id>.spare",
    "supplier.<id>.ramp_days",
    "supplier.<id>.stock_days.<material>",
    "shock.<id>.rate_per_year",
    "shock.<id>.severity",
    "shock.<id>.duration_days",
    "route.<id>.lead_days",
    "pool.<id>.days",
    "pool.<id>.refill_below",
    "pool.<id>.release_above",
];

/// What a sweep's report needs beyond the summary: the key, its unit, the values, the value
/// the scenario is written with, and the carry rate its stock is priced at.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SweepInfo {
    pub key: String,
    /// The key's unit, for axes and tables.
    pub unit: &'static str,
    pub values: Vec<f64>,
    /// The key's value in the scenario as written (the defaults of an absent stock, recycling
    /// or demand: 0); None where it is not one number (a default that depends on the model, a
    /// distribution that is not fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_written: Option<f64>,
    /// `--carry-rate`: the yearly cost of the stock each value holds over the scenario as
    /// written is this fraction of its value (None: costs not priced).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carry_rate: Option<f64>,
}

/// The unit of a sweep key's values.
pub fn unit(key: &str) -> &'static str {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        ["importer", _, "stockpile", _, "days"] => "days of demand",
        [.., "release_above" | "refill_below"] => "x the reference price",
        ["importer", _, "demand", _] | ["supplier", _, "capacity"] => "units a year",
        ["importer", _, "recycling", _] => "share of demand",
        ["supplier", _, "spare"] => "share of capacity",
        ["supplier", _, "stock_days", _] => "days of use",
        ["shock", _, "rate_per_year"] => "events a year",
        ["shock", _, "severity"] => "share cut",
        ["pool", _, "days"] => "days of the members' demand",
        _ => "days",
    }
}

/// The entry of `list` whose id (`id_of`) is `id`.
fn by_id<'a, T>(
    list: &'a [Spanned<T>],
    id: &str,
    id_of: impl Fn(&T) -> &Spanned<String>,
) -> Option<&'a T> {
    list.iter()
        .map(|x| x.get_ref())
        .find(|x| id_of(x).get_ref() == id)
}

/// The value `key` has in the scenario as written (see [`SweepInfo::as_written`]).
pub fn as_written(raw: &crate::scenario::RawScenario, key: &str) -> Option<f64> {
    let parts: Vec<&str> = key.split('.').collect();
    let v = |x: &Option<Spanned<f64>>| x.as_ref().map(|x| *x.get_ref());
    let fixed = |d: &Option<Spanned<RawDist>>| match d.as_ref().map(|d| d.get_ref()) {
        Some(RawDist::Fixed(x)) => Some(*x),
        _ => None,
    };
    let importer = |id: &str| by_id(&raw.importer, id, |i| &i.id);
    let supplier = |id: &str| by_id(&raw.supplier, id, |s| &s.id);
    match parts.as_slice() {
        ["importer", id, "stockpile", m, field] => {
            let sp = importer(id)?.stockpile.get(*m).map(|s| s.get_ref());
            match (*field, sp) {
                ("days", None) => Some(0.0),
                ("days", Some(sp)) => v(&sp.days),
                ("release_above", Some(sp)) => v(&sp.release_above),
                ("refill_below", Some(sp)) => v(&sp.refill_below),
                _ => None,
            }
        }
        ["importer", id, "switch_days"] => v(&importer(id)?.switch_days),
        ["importer", id, "demand", m] => {
            Some(importer(id)?.demand.get(*m).map_or(0.0, |x| *x.get_ref()))
        }
        ["importer", id, "recycling", m] => Some(
            importer(id)?
                .recycling
                .get(*m)
                .map_or(0.0, |x| *x.get_ref()),
        ),
        ["supplier", id, "capacity"] => Some(*supplier(id)?.capacity.get_ref()),
        ["supplier", id, "spare"] => v(&supplier(id)?.spare),
        ["supplier", id, "ramp_days"] => v(&supplier(id)?.ramp_days),
        ["supplier", id, "stock_days", m] => Some(
            supplier(id)?
                .stock_days
                .get(*m)
                .map_or(0.0, |x| *x.get_ref()),
        ),
        ["shock", id, field] => {
            let sh = by_id(&raw.shock, id, |s| &s.id)?;
            match *field {
                "rate_per_year" => v(&sh.rate_per_year),
                "severity" => fixed(&sh.severity),
                _ => fixed(&sh.duration_days),
            }
        }
        ["route", id, "lead_days"] => v(&by_id(&raw.route, id, |r| &r.id)?.lead_days),
        ["pool", id, field] => {
            let p = by_id(&raw.pool, id, |p| &p.id)?;
            match *field {
                "days" => Some(*p.days.get_ref()),
                "refill_below" => v(&p.refill_below),
                _ => v(&p.release_above),
            }
        }
        _ => None,
    }
}

/// A parsed `--set KEY=V1,V2,...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub key: String,
    pub values: Vec<f64>,
}

/// Why a sweep's variants could not be built.
#[derive(Debug)]
pub enum VariantError {
    /// The key does not name a sweepable scalar, or a value does not fit it.
    Key(String),
    /// A value makes the scenario invalid.
    Scenario(Diagnostics),
}

/// One variant per value of `sweep`, in order: the scenario as written with the key set to the
/// value, labelled `KEY=VALUE`.
pub fn variants(loaded: &Loaded, sweep: &Sweep) -> Result<Vec<(String, Model)>, VariantError> {
    let mut out = Vec::new();
    for &v in &sweep.values {
        let label = format!("{}={v}", sweep.key);
        let changes = changes_for(&sweep.key, v).map_err(VariantError::Key)?;
        let m = variant(&loaded.raw, &loaded.source, &changes, &label)
            .map_err(VariantError::Scenario)?;
        out.push((label, m));
    }
    Ok(out)
}

/// Parse `KEY=V1,V2,...`; errors say what was expected.
pub fn parse(arg: &str) -> Result<Sweep, String> {
    let Some((key, values)) = arg.split_once('=') else {
        return Err(format!("--set expects KEY=V1,V2,..., found `{arg}`"));
    };
    let mut out = Vec::new();
    for v in values.split(',') {
        let x: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("--set {key}: `{v}` is not a number"))?;
        if !x.is_finite() {
            return Err(format!("--set {key}: `{v}` is not a finite number"));
        }
        out.push(x);
    }
    if out.is_empty() {
        return Err(format!("--set {key}: give at least one value"));
    }
    // Validate the key shape now, with a zero value.
    change_for(key.trim(), 0.0)?;
    Ok(Sweep {
        key: key.trim().to_owned(),
        values: out,
    })
}

fn s<T>(v: T) -> Spanned<T> {
    Spanned::new(0..0, v)
}

/// The change that sets `key` to `value`.
pub fn change_for(key: &str, value: f64) -> Result<RawChange, String> {
    let parts: Vec<&str> = key.split('.').collect();
    let bad = || {
        format!(
            "unknown sweep key `{key}`; expected one of:\n  {}",
            KEYS.join("\n  ")
        )
    };
    let mut c = RawChange::default();
    let one = |m: &str| BTreeMap::from([(m.to_owned(), s(value))]);
    match parts.as_slice() {
        ["importer", id, "stockpile", m, field @ ("days" | "release_above" | "refill_below")] => {
            c.importer = Some(s(id.to_string()));
            let mut sp = RawStockpile::default();
            match *field {
                "days" => sp.days = Some(s(value)),
                "release_above" => sp.release_above = Some(s(value)),
                _ => sp.refill_below = Some(s(value)),
            }
            c.stockpile = Some(BTreeMap::from([(m.to_string(), s(sp))]));
        }
        ["importer", id, "switch_days"] => {
            c.importer = Some(s(id.to_string()));
            c.switch_days = Some(s(value));
        }
        ["importer", id, "demand", m] => {
            c.importer = Some(s(id.to_string()));
            c.demand = Some(one(m));
        }
        ["importer", id, "recycling", m] => {
            c.importer = Some(s(id.to_string()));
            c.recycling = Some(one(m));
        }
        ["supplier", id, field @ ("capacity" | "spare" | "ramp_days")] => {
            c.supplier = Some(s(id.to_string()));
            match *field {
                "capacity" => c.capacity = Some(s(value)),
                "spare" => c.spare = Some(s(value)),
                _ => c.ramp_days = Some(s(value)),
            }
        }
        ["supplier", id, "stock_days", m] => {
            c.supplier = Some(s(id.to_string()));
            c.stock_days = Some(one(m));
        }
        ["shock", id, field @ ("rate_per_year" | "severity" | "duration_days")] => {
            c.shock = Some(s(id.to_string()));
            match *field {
                "rate_per_year" => c.rate_per_year = Some(s(value)),
                "severity" => c.severity = Some(s(RawDist::Fixed(value))),
                _ => c.duration_days = Some(s(RawDist::Fixed(value))),
            }
        }
        ["route", id, "lead_days"] => {
            c.route = Some(s(id.to_string()));
            c.lead_days = Some(s(value));
        }
        ["pool", id, field @ ("days" | "refill_below" | "release_above")] => {
            c.pool = Some(s(id.to_string()));
            match *field {
                "days" => c.days = Some(s(value)),
                "refill_below" => c.refill_below = Some(s(value)),
                _ => c.release_above = Some(s(value)),
            }
        }
        _ => return Err(bad()),
    }
    Ok(c)
}

/// A change wrapped for `model::variant`.
pub fn changes_for(key: &str, value: f64) -> Result<Vec<Spanned<RawChange>>, String> {
    Ok(vec![s(change_for(key, value)?)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_values() {
        let sw = parse("importer.japan.stockpile.ree_oxide.days=0,30,60").unwrap();
        assert_eq!(sw.values, vec![0.0, 30.0, 60.0]);
        assert!(parse("importer.japan.stockpile=1")
            .unwrap_err()
            .contains("unknown sweep key"));
        assert!(parse("shock.x.rate_per_year=a")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse("novalue").is_err());
    }
}
