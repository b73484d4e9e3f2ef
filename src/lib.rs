//! supplyshock: a supply-chain dependency risk simulator.
//!
//! The modules follow the data flow: [`scenario`] (TOML as written) -> [`model`] (the compiled,
//! always-valid network) -> [`shocks`] (sampled events) -> [`engine`] (one trial) -> [`stats`]
//! (mergeable summaries) -> [`runner`] (parallel trials, strategies) -> [`report`] (bytes out;
//! [`output`] decides the files), with [`cli`] on top. [`metrics`] names what is reported;
//! [`indicators`] computes the static concentration figures.

pub mod attribution;
pub mod briefing;
pub mod cli;
pub mod conditional;
pub mod diag;
pub mod dist;
pub mod engine;
pub mod format;
pub mod html;
pub mod indicators;
pub mod lanes;
pub mod markdown;
pub mod market;
pub mod metrics;
pub mod model;
pub mod output;
pub mod plot;
pub mod replay;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod shard;
pub mod shocks;
pub mod stats;
pub mod stress;
pub mod sweep;
pub mod table;
pub mod whatif;
