//! One integration-test binary: modules by area.

mod briefing;
mod cli;
mod cli_fuzz;
mod engine;
mod fuzz;
mod invalid;
mod kill;
mod market;
mod replay;
mod scenarios;
mod shard;
mod strategy;
mod support;
