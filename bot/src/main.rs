//! The bot: one long-polling process that handles every user interaction,
//! writes to the database and enqueues jobs for the worker. It also serves
//! `/health` and `/ready` over HTTP.

mod handlers;
mod health;
mod leader;
mod poller;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::clock::Clock;
use shared::config::Config;
use shared::startup::{self, ShutdownSignal};
use shared::telegram::TelegramClient;
use shared::telegram::delivery::Delivery;

use crate::health::Health;
use crate::poller::Poller;

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

/// This process among bot replicas: host, pid and a random boot id.
fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "bot".to_owned());
    let boot = poller::new_correlation_id();
    format!("{host}:{}:{}", std::process::id(), &boot[..8])
}

/// Runs the bot until SIGTERM or SIGINT.
async fn serve(config: Config, mut shutdown: ShutdownSignal) -> anyhow::Result<()> {
    let clock = Clock::from_setting(config.test_clock_file.as_deref());
    let db = startup::prepare_database(&config, &clock)
        .await
        .context("cannot prepare the database")?;
    let queue = startup::open_queue(&config)
        .await
        .context("cannot open the job queue")?;
    let client =
        TelegramClient::new(&config.telegram).context("cannot build the Telegram client")?;
    let delivery = Delivery::new(db.clone(), client.clone(), clock.clone(), &config.telegram);
    let health = Arc::new(Health::default());

    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.http.port))
        .await
        .with_context(|| format!("cannot listen on port {}", config.http.port))?;
    let port = listener.local_addr().context("no local address")?.port();
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let app = health::router(
        db.clone(),
        queue.clone(),
        clock.clone(),
        Arc::clone(&health),
    );
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = http_stopped.await;
            })
            .await
    });
    tracing::info!(port, "http listening");

    let poller = Poller {
        db: db.clone(),
        client,
        delivery,
        queue: queue.clone(),
        clock,
        bootstrap_admins: config.telegram.admin_ids.clone(),
        company_zone: config.timezone,
        poll_timeout: config.telegram.poll_timeout,
        health,
    };
    tracing::info!(backend = %db.backend(), "bot started");
    leader::poll_as_leader(poller, replica_name(), &mut shutdown).await;
    tracing::info!("bot stopping");
    let _ = stop_http.send(());
    match server.await {
        Ok(Err(error)) => tracing::warn!(%error, "http server stopped with an error"),
        Err(error) => tracing::warn!(%error, "http server task failed"),
        Ok(Ok(())) => {}
    }
    queue.close().await;
    db.close();
    Ok(())
}
