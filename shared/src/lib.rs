//! Everything the bot and the worker share: settings, the clock, storage,
//! the product's rules and the telemetry setup.
//!
//! Error policy: each boundary has its own `thiserror` enum (`ConfigError`,
//! `DbError`, …); binaries wrap them with `anyhow` at their edge only.

pub mod clock;
pub mod config;
pub mod db;
pub mod diagnostics;
pub mod domain;
pub mod google;
pub mod i18n;
pub mod jobs;
pub mod startup;
pub mod telegram;
pub mod telemetry;
