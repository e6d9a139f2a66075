//! The project's test kit: real databases per test, helpers that build and
//! spawn the real binaries, and (later) fake Telegram and Google servers.

#![expect(
    clippy::expect_used,
    reason = "test kit: a failed setup must stop the test at once"
)]

pub mod bins;
pub mod db;
pub mod fake_google;
pub mod fake_telegram;
pub mod google_people;
pub mod meetings;
pub mod people;
pub mod pg_cluster;
pub mod process;
pub mod records;
pub mod stack;
mod watched;
