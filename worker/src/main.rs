//! The worker: consumes the job queue (outbound messages and calendar sync
//! now; reminders later) and runs the periodic work; any number of copies
//! may run side by side.

mod broadcast;
mod busy_sync;
mod calendar_sync;
mod google_changes;
mod health_monitor;
mod jobs;
mod nudges;
mod overdue;
mod periodic;
mod reminders;
mod sync_failures;
mod work_status;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::clock::Clock;
use shared::config::Config;
use shared::google::calendar::CalendarClient;
use shared::google::tokens::TokenSource;
use shared::jobs::Runner;
use shared::startup::{self, ShutdownSignal};
use shared::telegram::TelegramClient;
use shared::telegram::delivery::Delivery;

use crate::jobs::{Clients, GoogleSync};

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
    /// Check the deployment and say what is wrong and what to do (exit 0
    /// healthy, 1 warnings, 2 failures).
    Diagnose(shared::diagnostics::cli::DiagnoseArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::Migrate) => startup::run_migrate("worker"),
        Some(Command::Diagnose(args)) => shared::diagnostics::cli::run("worker", &args),
        None => startup::run_service("worker", serve),
    }
}

/// Runs the worker until SIGTERM or SIGINT: in-flight jobs finish first.
async fn serve(config: Config, mut shutdown: ShutdownSignal) -> anyhow::Result<()> {
    // Shared with the health monitor, whose checks read every setting.
    let config = Arc::new(config);
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
    let worker_name = periodic::worker_name();
    let google = google_sync(&config, &db, &queue, &clock)?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let broadcasts = tokio::spawn(
        broadcast::Monitor {
            db: db.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
        }
        .run(stopped.clone()),
    );
    let reminders = tokio::spawn(reminders::run(
        db.clone(),
        queue.clone(),
        clock.clone(),
        config.periodic_tick.min(reminders::REMINDER_POLL),
        stopped.clone(),
    ));
    let busy_sweep = google.clone().map(|google| {
        tokio::spawn(busy_sync::sweep(&config, &db, &queue, &clock, google).run(stopped.clone()))
    });
    let health = tokio::spawn(
        health_monitor::HealthMonitor::new(
            Arc::clone(&config),
            clock.clone(),
            db.clone(),
            queue.clone(),
            client,
            worker_name.clone(),
        )
        .run(stopped.clone()),
    );
    let ticker = tokio::spawn(
        periodic::Ticker {
            db: db.clone(),
            queue: queue.clone(),
            clock: clock.clone(),
            every: config.periodic_tick,
            worker: worker_name,
            company_zone: config.timezone,
        }
        .run(stopped),
    );

    let runner = Runner::new(
        queue.clone(),
        db.clone(),
        clock,
        Arc::new(Clients {
            delivery,
            queue: queue.clone(),
            company_zone: config.timezone,
            google,
        }),
    )
    .handle(jobs::deliver_message)
    .handle(jobs::sync_calendar)
    .handle(jobs::sync_busy);
    tracing::info!(backend = %db.backend(), "worker started");
    let outcome = runner
        .run(async move {
            shutdown.recv().await;
            tracing::info!("worker stopping");
        })
        .await;
    let _ = stop.send(true);
    if let Some(Err(error)) = match busy_sweep {
        Some(task) => Some(task.await),
        None => None,
    } {
        tracing::warn!(%error, "busy sync sweep ended abnormally");
    }
    if let Err(error) = health.await {
        tracing::warn!(%error, "health monitor ended abnormally");
    }
    if let Err(error) = ticker.await {
        tracing::warn!(%error, "periodic work ended abnormally");
    }
    if let Err(error) = reminders.await {
        tracing::warn!(%error, "reminders ended abnormally");
    }
    if let Err(error) = broadcasts.await {
        tracing::warn!(%error, "broadcast progress ended abnormally");
    }
    queue.close().await;
    db.close();
    outcome.context("job workers failed")
}

/// The Google side of the calendar sync, when Google OAuth or a service
/// account is configured (without either every meeting goes out as `.ics`
/// files).
fn google_sync(
    config: &Config,
    db: &shared::db::Db,
    queue: &shared::jobs::Queue,
    clock: &Clock,
) -> anyhow::Result<Option<GoogleSync>> {
    let timeout = config.queue.http_timeout;
    let oauth = shared::google::oauth_from_config(&config.google, &config.http, timeout)
        .context("cannot build the Google OAuth client")?;
    let service_account = shared::google::service_account_from_config(&config.google, clock)
        .context("cannot use the Google service account (GOOGLE_SERVICE_ACCOUNT_*)")?;
    let (oauth, cipher) = match (oauth, &config.google.token_encryption_key) {
        (Some((oauth, cipher)), _) => (Some(oauth), cipher),
        (None, Some(key)) if service_account.is_some() => {
            (None, shared::google::crypto::TokenCipher::new(key))
        }
        _ => return Ok(None),
    };
    let calendar = CalendarClient::new(config.google.api_url.clone(), config.google.http_timeout)
        .context("cannot build the Google Calendar client")?;
    tracing::info!(
        oauth = oauth.is_some(),
        service_account = service_account.as_ref().map(|account| account.email()),
        "Google Calendar sync enabled"
    );
    Ok(Some(GoogleSync {
        calendar,
        retry: config.google.retry,
        tokens: TokenSource::with_parts(
            db.clone(),
            queue.clone(),
            clock.clone(),
            cipher,
            oauth,
            service_account,
        ),
    }))
}
