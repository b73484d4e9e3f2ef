//! The metrics a run reports, as records with named fields: [`SlotMetrics`] per importer and
//! material, [`ImporterMetrics`] per importer in value terms. The same record holds one trial's
//! values (`f64`), their sums over trials ([`Moments`]), the summary's estimates and the paired
//! differences from the baseline.
//!
//! This module is the one place that knows the metrics' names (summary.json keys, the `metric`
//! column of metrics.csv) and their order (the order of the fields below), and the one owner of
//! the loss formula ([`loss_value`]). Part files store a record as a plain array in field order
//! ([`rows`]); the summary's `vs_baseline` as `[name, value]` pairs ([`named_pairs`]).

use std::ops::AddAssign;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Importer, Material, Model};
use crate::stats::{Moments, SlotTrial};

/// What every metric record offers generic code (serialization in field order).
pub trait Record: Sized {
    type Item;
    /// Field names, in field order.
    const NAMES: &'static [&'static str];
    /// References to the fields, in field order.
    fn values(&self) -> Vec<&Self::Item>;
    /// A record from its fields in field order; `None` if the count is wrong.
    fn from_values(values: Vec<Self::Item>) -> Option<Self>;
}

macro_rules! metric_record {
    (
        $(#[$meta:meta])*
        $name:ident [$n:literal] {
            $( $(#[$fmeta:meta])* $field:ident, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
        pub struct $name<T> {
            $( $(#[$fmeta])* pub $field: T, )+
        }

        impl<T> $name<T> {
            /// Metric names in order: summary.json keys and the `metric` column of metrics.csv.
            pub const NAMES: [&'static str; $n] = [$(stringify!($field)),+];

            /// Every field through `f`.
            pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> $name<U> {
                $name { $( $field: f(&self.$field), )+ }
            }

            /// Field by field: `f(self, other)`.
            pub fn zip_with<U, V>(&self, other: &$name<U>, mut f: impl FnMut(&T, &U) -> V) -> $name<V> {
                $name { $( $field: f(&self.$field, &other.$field), )+ }
            }

            /// (name, value) in order.
            pub fn named(&self) -> [(&'static str, &T); $n] {
                [$( (stringify!($field), &self.$field), )+]
            }

            /// (name, value, the other record's value) in order, for paired rows.
            pub fn named_with<'a, U>(
                &'a self,
                other: Option<&'a $name<U>>,
            ) -> [(&'static str, &'a T, Option<&'a U>); $n] {
                [$( (stringify!($field), &self.$field, other.map(|o| &o.$field)), )+]
            }
        }

        impl<T> Record for $name<T> {
            type Item = T;
            const NAMES: &'static [&'static str] = &$name::<T>::NAMES;

            fn values(&self) -> Vec<&T> {
                vec![$( &self.$field, )+]
            }

            fn from_values(values: Vec<T>) -> Option<Self> {
                if values.len() != $n {
                    return None;
                }
                let mut it = values.into_iter();
                Some($name { $( $field: it.next()?, )+ })
            }
        }

        impl $name<Moments> {
            /// Add one trial's values.
            #[inline]
            pub fn push(&mut self, x: &$name<f64>) {
                $( self.$field.push(x.$field); )+
            }
        }

        impl AddAssign<&$name<Moments>> for $name<Moments> {
            fn add_assign(&mut self, o: &$name<Moments>) {
                $( self.$field += &o.$field; )+
            }
        }

        impl std::ops::Sub for &$name<f64> {
            type Output = $name<f64>;
            /// The paired difference, field by field.
            fn sub(self, base: &$name<f64>) -> $name<f64> {
                self.zip_with(base, |x, b| x - b)
            }
        }
    };
}

metric_record! {
    /// Per importer and material (an importer slot).
    SlotMetrics[13] {
        /// Units met over units demanded over the horizon.
        fill_rate,
        /// 1 if any step had unmet demand.
        p_shortage,
        /// Units short.
        unmet_units,
        /// Units short times the material's value.
        unmet_value,
        /// See [`slot_loss`].
        loss_value,
        /// Days with unmet demand.
        days_short,
        /// Largest share of demand unmet in one step.
        max_depth,
        /// Area between full service and the fill curve, in days of full demand.
        resilience_loss_days,
        /// The part of `loss_value` from unmet demand: unmet units x value x loss multiplier.
        unmet_loss,
        /// Markets: extra spend on what was bought, (price - reference) x quantity.
        extra_spend,
        /// Markets: consumer surplus lost on the demand given up.
        surplus_lost,
        /// Markets: the highest price paid, a multiple of the reference price (1 without a
        /// market).
        peak_price,
        /// Markets: the lowest price paid, a multiple of the reference price (1 without a
        /// market).
        trough_price,
    }
}

metric_record! {
    /// Per importer, in value terms over its materials.
    ImporterMetrics[6] {
        /// Value met over value demanded.
        value_fill_rate,
        /// 1 if any of its materials ran short.
        p_shortage,
        /// Sum of its materials' [`loss_value`].
        loss_value,
        /// The parts of `loss_value`, summed over its materials: unmet demand, extra spend,
        /// surplus lost (see [`SlotMetrics`]).
        unmet_loss,
        extra_spend,
        surplus_lost,
    }
}

/// The loss of `unmet` units of a material: their value times its loss multiplier.
#[inline]
pub fn loss_value(unmet: f64, mat: &Material) -> f64 {
    unmet * mat.value * mat.loss_multiplier
}

/// One trial's loss of an importer slot of material `mat`: its unmet demand's
/// [`loss_value`], plus, for a material with a market, the price losses (extra spend and
/// surplus lost on demand given up).
pub fn slot_loss(r: &SlotTrial, mat: &Material) -> f64 {
    let unmet = loss_value(r.unmet_pv, mat);
    if mat.market.is_some() {
        unmet + r.extra_spend + r.surplus_lost
    } else {
        unmet
    }
}

fn indicator(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

impl SlotMetrics<f64> {
    /// One trial's values for an importer slot of material `mat`.
    pub fn of_trial(r: &SlotTrial, mat: &Material, step_days: f64) -> SlotMetrics<f64> {
        SlotMetrics {
            fill_rate: r.fill_rate(),
            p_shortage: indicator(r.had_shortage()),
            unmet_units: r.unmet,
            unmet_value: r.unmet * mat.value,
            loss_value: slot_loss(r, mat),
            days_short: r.steps_short as f64 * step_days,
            max_depth: r.max_depth,
            resilience_loss_days: r.shortfall_frac_sum * step_days,
            unmet_loss: loss_value(r.unmet_pv, mat),
            extra_spend: r.extra_spend,
            surplus_lost: r.surplus_lost,
            peak_price: r.peak_price,
            trough_price: r.trough_price,
        }
    }
}

impl ImporterMetrics<f64> {
    /// One trial's values for importer `imp` of `model`; `slots` holds the outcomes of every
    /// importer slot of the model, the first importer's first slot first.
    pub fn of_trial(model: &Model, imp: &Importer, slots: &[SlotTrial]) -> ImporterMetrics<f64> {
        let first = model.first_importer_slot();
        let (mut dv, mut uv, mut loss, mut short) = (0.0, 0.0, 0.0, false);
        let (mut unmet, mut spend, mut surplus) = (0.0, 0.0, 0.0);
        for b in imp.slots.clone() {
            let r = &slots[b as usize - first];
            let mat = &model.materials[model.slots[b as usize].material.ix()];
            dv += r.demand * mat.value;
            uv += r.unmet * mat.value;
            loss += slot_loss(r, mat);
            short |= r.had_shortage();
            unmet += loss_value(r.unmet_pv, mat);
            if mat.market.is_some() {
                spend += r.extra_spend;
                surplus += r.surplus_lost;
            }
        }
        ImporterMetrics {
            value_fill_rate: if dv > 0.0 { (dv - uv) / dv } else { 1.0 },
            p_shortage: indicator(short),
            loss_value: loss,
            unmet_loss: unmet,
            extra_spend: spend,
            surplus_lost: surplus,
        }
    }
}

/// Serde `with` module for a list of records stored as arrays in field order (part files).
pub mod rows {
    use super::*;

    pub fn serialize<R, S>(rows: &[R], s: S) -> Result<S::Ok, S::Error>
    where
        R: Record,
        R::Item: Serialize,
        S: Serializer,
    {
        s.collect_seq(rows.iter().map(Record::values))
    }

    pub fn deserialize<'de, R, D>(d: D) -> Result<Vec<R>, D::Error>
    where
        R: Record,
        R::Item: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Vec::<Vec<R::Item>>::deserialize(d)?
            .into_iter()
            .map(|v| {
                let n = v.len();
                R::from_values(v).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "expected {} metrics ({}), found {n}",
                        R::NAMES.len(),
                        R::NAMES.join(", ")
                    ))
                })
            })
            .collect()
    }
}

/// Serialize an optional record as `[name, value]` pairs in field order (`vs_baseline`).
pub fn named_pairs<R, S>(r: &Option<R>, s: S) -> Result<S::Ok, S::Error>
where
    R: Record,
    R::Item: Serialize,
    S: Serializer,
{
    match r {
        None => s.serialize_none(),
        Some(r) => s.collect_seq(R::NAMES.iter().zip(r.values())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_fields() {
        assert_eq!(
            SlotMetrics::<f64>::NAMES,
            [
                "fill_rate",
                "p_shortage",
                "unmet_units",
                "unmet_value",
                "loss_value",
                "days_short",
                "max_depth",
                "resilience_loss_days",
                "unmet_loss",
                "extra_spend",
                "surplus_lost",
                "peak_price",
                "trough_price"
            ]
        );
        assert_eq!(
            ImporterMetrics::<f64>::NAMES,
            [
                "value_fill_rate",
                "p_shortage",
                "loss_value",
                "unmet_loss",
                "extra_spend",
                "surplus_lost"
            ]
        );
        let m = ImporterMetrics {
            value_fill_rate: 1,
            p_shortage: 2,
            loss_value: 3,
            unmet_loss: 4,
            extra_spend: 5,
            surplus_lost: 6,
        };
        assert_eq!(m.named()[2], ("loss_value", &3));
        assert_eq!(
            ImporterMetrics::from_values(m.values().into_iter().copied().collect()),
            Some(m)
        );
        assert_eq!(ImporterMetrics::<u8>::from_values(vec![1, 2]), None);
    }

    #[test]
    fn part_rows_and_pairs_keep_their_json_shape() {
        let rows = vec![ImporterMetrics {
            value_fill_rate: 1.5,
            p_shortage: 0.0,
            loss_value: 2.0,
            unmet_loss: 1.0,
            extra_spend: 0.5,
            surplus_lost: 0.5,
        }];
        let mut out = Vec::new();
        rows::serialize(&rows, &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "[[1.5,0.0,2.0,1.0,0.5,0.5]]"
        );
        let back: Vec<ImporterMetrics<f64>> =
            rows::deserialize(&mut serde_json::Deserializer::from_slice(&out)).unwrap();
        assert_eq!(back, rows);
        let mut out = Vec::new();
        named_pairs(&Some(rows[0]), &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[["value_fill_rate",1.5],["p_shortage",0.0],["loss_value",2.0],["unmet_loss",1.0],["extra_spend",0.5],["surplus_lost",0.5]]"#
        );
    }
}
