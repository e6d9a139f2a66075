//! The worker: consumes the job queue (calendar sync, reminders, outbound
//! messages) and runs the periodic work; any number of copies may run.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::clock::Clock;
use shared::config::Config;
use shared::startup::{self, ShutdownSignal};

#[derive(Debug, Parser)]
#[command(
    name = "worker",
    version,
    about = "Job worker of the Telegram meeting-scheduler bot"
)]
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
        Some(Command::Migrate) => startup::run_migrate("worker"),
        None => startup::run_service("worker", serve),
    }
}

/// Runs the worker until SIGTERM or SIGINT.
async fn serve(config: Config, mut shutdown: ShutdownSignal) -> anyhow::Result<()> {
    let clock = Clock::from_setting(config.test_clock_file.as_deref());
    let db = startup::prepare_database(&config, &clock)
        .await
        .context("cannot prepare the database")?;
    tracing::info!(backend = %db.backend(), "worker started");
    shutdown.recv().await;
    tracing::info!("worker stopping");
    db.close();
    Ok(())
}
