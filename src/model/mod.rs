//! The compiled network: immutable, always valid, dense indices only.
//!
//! Built by [`compile`] from a [`crate::scenario::RawScenario`]. Quantities are per step; ids
//! survive only as labels for reports. The engine never looks anything up by name. The scenario
//! format and the meaning of each element are described in `docs/model.md`.
//!
//! The files follow the nouns of a scenario, and their imports go one way (no two import each
//! other): `load` -> `strategies` -> `compile` -> the per-noun steps (`settings`, `regions`,
//! `materials`, `suppliers`, `importers`, `contracts`, `steady_state`, `routes`, `pools`,
//! `shocks`, with `shocks` -> `targets` and `distributions`, and `suppliers`/`importers` ->
//! `contracts`) -> `ck` -> `network`.

mod ck;
mod compile;
mod contracts;
mod distributions;
mod expect;
mod importers;
mod load;
mod materials;
mod network;
mod pools;
mod regions;
mod routes;
mod settings;
mod shocks;
mod steady_state;
mod strategies;
mod suppliers;
mod targets;

pub use compile::compile;
pub use expect::{Expect, METRICS};
pub use load::{load, load_str, Loaded};
pub use network::*;
pub use strategies::{stock_value_change, variant, ChangeSet, Cost, Strategy, Study};
