//! The checking context shared by every compile step: diagnostics, id tables and small helpers.

use std::collections::BTreeMap;
use std::ops::Range;

use super::network::{Material, MaterialIdx};
use crate::diag::{did_you_mean, Diagnostic, Severity, SourceFile};
use crate::scenario::Spanned;

/// The largest number a scenario may give a quantity, price, cost or duration: products and
/// sums of such numbers over trials stay far from overflowing.
pub(super) const MAX_INPUT: f64 = 1e15;

/// Where the diagnostics of one compile go; `prefix` is put before every key (a strategy's name).
pub(super) struct Ck<'a> {
    pub(super) src: &'a SourceFile,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) prefix: &'a str,
}

impl<'a> Ck<'a> {
    pub(super) fn err(
        &mut self,
        span: Range<usize>,
        key: impl AsRef<str>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(Severity::Error, span, key.as_ref(), msg.into(), hint.into());
    }

    pub(super) fn warn(
        &mut self,
        span: Range<usize>,
        key: impl AsRef<str>,
        msg: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(
            Severity::Warning,
            span,
            key.as_ref(),
            msg.into(),
            hint.into(),
        );
    }

    fn push(
        &mut self,
        severity: Severity,
        span: Range<usize>,
        key: &str,
        msg: String,
        hint: String,
    ) {
        let key = format!("{}{key}", self.prefix);
        let d = match severity {
            Severity::Error => Diagnostic::error(self.src, span, key, msg),
            Severity::Warning => Diagnostic::warning(self.src, span, key, msg),
        };
        self.diags.push(d.with_hint(hint));
    }

    fn too_large(&mut self, v: &Spanned<f64>, key: &str) {
        self.err(
            v.span(),
            key,
            format!(
                "{} is larger than any quantity, price or duration here can be (at most 1e15): results would overflow",
                crate::diag::num(*v.get_ref())
            ),
            "check the unit: quantities per year, money per unit, days",
        );
    }

    pub(super) fn errors(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }

    /// A stock's price thresholds (`refill_below`, `release_above`, multiples of the reference
    /// price) for a material whose market is `market` (`None`: it has none, and the keys are
    /// an error). Returns them with their defaults: 1.05, and infinite (release only when
    /// short).
    pub(super) fn stock_thresholds(
        &mut self,
        refill_below: Option<&Spanned<f64>>,
        release_above: Option<&Spanned<f64>>,
        key: &str,
        material: &Material,
    ) -> (f64, f64) {
        let default = (super::network::DEFAULT_REFILL_BELOW, f64::INFINITY);
        let Some(market) = &material.market else {
            for (v, name) in [
                (refill_below, "refill_below"),
                (release_above, "release_above"),
            ] {
                if let Some(v) = v {
                    self.err(
                        v.span(),
                        format!("{key}.{name}"),
                        format!(
                            "`{name}` is a price threshold, and `{}` has no market",
                            material.id
                        ),
                        format!(
                            "add a [material.market] table to `{}`, or remove `{name}`",
                            material.id
                        ),
                    );
                }
            }
            return default;
        };
        let (lo, hi) = (market.curve.min_price, market.curve.max_price);
        let mut within = |v: &Spanned<f64>, name: &str, what: &str| -> Option<f64> {
            let x = *v.get_ref();
            if x.is_finite() && x >= lo && x <= hi {
                Some(x)
            } else {
                self.err(
                    v.span(),
                    format!("{key}.{name}"),
                    format!("{name} = {} is outside the market's price range", crate::diag::num(x)),
                    format!("{what}: a multiple of the reference price from min_price = {} to max_price = {}", fmt_num(lo), fmt_num(hi)),
                );
                None
            }
        };
        let below = refill_below
            .and_then(|v| within(v, "refill_below", "refill only at or below this price"))
            .unwrap_or(default.0);
        let above = release_above
            .and_then(|v| {
                within(
                    v,
                    "release_above",
                    "serve own use from stock above this price",
                )
            })
            .unwrap_or(default.1);
        if let Some(v) = release_above.filter(|_| above < 1.0) {
            self.err(
                v.span(),
                format!("{key}.release_above"),
                format!("release_above = {} is below the reference price", fmt_num(above)),
                "a stock serves its holder's use above the reference price: use 1 or more (e.g. 1.5)",
            );
        }
        if above <= below {
            let v = release_above.expect("a finite release threshold was given");
            self.err(
                v.span(),
                format!("{key}.release_above"),
                format!(
                    "release_above = {} is not above refill_below = {}: the stock would refill and release at the same prices",
                    fmt_num(above),
                    fmt_num(below)
                ),
                "set release_above above refill_below (e.g. release_above = 1.5, refill_below = 1.05)",
            );
        }
        (below, above)
    }

    /// A finite number >= 0, at most [`MAX_INPUT`].
    pub(super) fn nonneg(&mut self, v: &Spanned<f64>, key: &str, unit_hint: &str) -> f64 {
        let x = *v.get_ref();
        if x > MAX_INPUT && x.is_finite() {
            self.too_large(v, key);
            0.0
        } else if x.is_finite() && x >= 0.0 {
            x
        } else {
            self.err(
                v.span(),
                key,
                format!(
                    "expected a finite number >= 0, found {}",
                    crate::diag::num(x)
                ),
                unit_hint.to_owned(),
            );
            0.0
        }
    }

    pub(super) fn positive(&mut self, v: &Spanned<f64>, key: &str, hint: &str) -> Option<f64> {
        let x = *v.get_ref();
        if x > MAX_INPUT && x.is_finite() {
            self.too_large(v, key);
            None
        } else if x.is_finite() && x > 0.0 {
            Some(x)
        } else {
            self.err(
                v.span(),
                key,
                format!(
                    "expected a finite number > 0, found {}",
                    crate::diag::num(x)
                ),
                hint.to_owned(),
            );
            None
        }
    }

    pub(super) fn fraction(&mut self, v: &Spanned<f64>, key: &str, what: &str) -> f64 {
        let x = *v.get_ref();
        if (0.0..=1.0).contains(&x) {
            x
        } else {
            self.err(
                v.span(),
                key,
                format!("expected a {what} between 0 and 1, found {x}"),
                "write it as a fraction: 0.25 means 25%",
            );
            x.clamp(0.0, 1.0)
        }
    }

    pub(super) fn opt_nonneg(
        &mut self,
        v: &Option<Spanned<f64>>,
        key: &str,
        default: f64,
        hint: &str,
    ) -> f64 {
        v.as_ref().map_or(default, |v| self.nonneg(v, key, hint))
    }
}

/// Ids of one kind, in file order.
pub(super) struct Ids {
    kind: &'static str,
    pub(super) list: Vec<String>,
    map: BTreeMap<String, u32>,
}

impl Ids {
    pub(super) fn new(kind: &'static str) -> Ids {
        Ids {
            kind,
            list: Vec::new(),
            map: BTreeMap::new(),
        }
    }

    /// Ids that are already checked (a compiled model's), to resolve references against.
    pub(super) fn known<'a>(kind: &'static str, names: impl IntoIterator<Item = &'a str>) -> Ids {
        let mut ids = Ids::new(kind);
        for name in names {
            ids.map.insert(name.to_owned(), ids.list.len() as u32);
            ids.list.push(name.to_owned());
        }
        ids
    }

    pub(super) fn declare(&mut self, ck: &mut Ck, id: &Spanned<String>, key: &str) -> u32 {
        let name = id.get_ref();
        let idx = self.list.len() as u32;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            ck.err(
                id.span(),
                key,
                format!(
                    "invalid {} id {name:?}: ids use letters, digits, '_', '-' and '.'",
                    self.kind
                ),
                "rename it, e.g. \"cn_ree\"",
            );
        }
        if self.map.contains_key(name) {
            ck.err(
                id.span(),
                key,
                format!("duplicate {} id `{name}`", self.kind),
                format!("every {} needs its own id", self.kind),
            );
        } else {
            self.map.insert(name.clone(), idx);
        }
        self.list.push(name.clone());
        idx
    }

    pub(super) fn get(&self, name: &str) -> Option<u32> {
        self.map.get(name).copied()
    }

    pub(super) fn resolve(
        &self,
        ck: &mut Ck,
        id: &Spanned<String>,
        fallback: Range<usize>,
        key: &str,
    ) -> Option<u32> {
        self.resolve_name(ck, id.get_ref(), span_or(id, fallback), key)
    }

    pub(super) fn resolve_name(
        &self,
        ck: &mut Ck,
        name: &str,
        span: Range<usize>,
        key: &str,
    ) -> Option<u32> {
        if let Some(i) = self.get(name) {
            return Some(i);
        }
        let hint = match did_you_mean(name, self.list.iter().map(String::as_str)) {
            Some(best) => format!("did you mean `{best}`?"),
            None if self.list.is_empty() => format!("declare it in a [[{}]] table", self.kind),
            None => format!("known {} ids: {}", self.kind, preview(&self.list)),
        };
        ck.err(span, key, format!("unknown {} `{name}`", self.kind), hint);
        None
    }
}

pub(super) use crate::format::preview;

pub(super) fn span_or<T>(v: &Spanned<T>, fallback: Range<usize>) -> Range<usize> {
    let s = v.span();
    if s.start == 0 && s.end == 0 {
        fallback
    } else {
        s
    }
}

pub(super) fn fmt_num(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

/// Keys of a per-material table must name materials from `allowed`.
pub(super) fn check_keys_are<V>(
    ck: &mut Ck,
    table: &BTreeMap<String, Spanned<V>>,
    allowed: &[(MaterialIdx, f64)],
    materials: &[Material],
    key: &str,
    what: &str,
) {
    for (name, v) in table {
        if !allowed.iter().any(|&(m, _)| materials[m.ix()].id == *name) {
            let names: Vec<&str> = allowed
                .iter()
                .map(|&(m, _)| materials[m.ix()].id.as_str())
                .collect();
            let hint = match did_you_mean(name, names.iter().copied()) {
                Some(b) => format!("did you mean `{b}`?"),
                None if names.is_empty() => "remove this entry".to_owned(),
                None => format!("expected one of: {}", names.join(", ")),
            };
            ck.err(
                v.span(),
                format!("{key}.{name}"),
                format!("`{name}` is not {what}"),
                hint,
            );
        }
    }
}

/// The id tables a scenario declares before its shocks, for steps that resolve ids.
pub(super) struct IdTables {
    pub(super) region: Ids,
    pub(super) material: Ids,
    pub(super) supplier: Ids,
    pub(super) importer: Ids,
    pub(super) route: Ids,
}
