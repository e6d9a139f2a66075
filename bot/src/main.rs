//! The bot: one long-polling process that handles every user interaction,
//! writes to the database and enqueues jobs for the worker.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::clock::Clock;
use shared::config::Config;
use shared::startup::{self, ShutdownSignal};

#[derive(Debug, Parser)]
#[command(name = "bot", version, about = "Telegram meeting-scheduler bot")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::Migrate) => startup::run_migrate("bot"),
        None => startup::run_service("bot", serve),
    }
}

/// Runs the bot until SIGTERM or SIGINT.
async fn serve(config: Config, mut shutdown: ShutdownSignal) -> anyhow::Result<()> {
    let clock = Clock::from_setting(config.test_clock_file.as_deref());
    let db = startup::prepare_database(&config, &clock)
        .await
        .context("cannot prepare the database")?;
    tracing::info!(backend = %db.backend(), "bot started");
    shutdown.recv().await;
    tracing::info!("bot stopping");
    db.close();
    Ok(())
}
