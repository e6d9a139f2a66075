//! The worker: consumes the job queue (calendar sync, reminders, outbound
//! messages) and runs the periodic work; any number of copies may run.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::clock::Clock;
use shared::config::Config;
use shared::startup;

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
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Migrate) => startup::run_migrate("worker"),
        None => {
            let config = match startup::load_config("worker") {
                Ok(config) => config,
                Err(code) => return code,
            };
            let outcome = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")
                .and_then(|runtime| runtime.block_on(serve(config)));
            match outcome {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "worker stopped");
                    ExitCode::from(startup::EXIT_FAILURE)
                }
            }
        }
    }
}

/// Runs the worker until SIGTERM or SIGINT.
async fn serve(config: Config) -> anyhow::Result<()> {
    let mut shutdown = startup::ShutdownSignal::listen().context("cannot listen for signals")?;
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
