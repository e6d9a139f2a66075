//! The bot: one long-polling process that handles every user interaction,
//! writes to the database and enqueues jobs for the worker.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::clock::Clock;
use shared::config::Config;
use shared::startup;

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
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Migrate) => startup::run_migrate("bot"),
        None => {
            let config = match startup::load_config("bot") {
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
                    tracing::error!(error = format!("{error:#}"), "bot stopped");
                    ExitCode::from(startup::EXIT_FAILURE)
                }
            }
        }
    }
}

/// Runs the bot until SIGTERM or SIGINT.
async fn serve(config: Config) -> anyhow::Result<()> {
    let mut shutdown = startup::ShutdownSignal::listen().context("cannot listen for signals")?;
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
