//! The bot: one long-polling process that handles every user interaction,
//! writes to the database and enqueues jobs for the worker. It also serves
//! `/health` and `/ready` over HTTP, and the Google OAuth callback.

mod google_push;
mod handlers;
mod handling;
mod health;
mod inbox;
mod lanes;
mod leader;
mod oauth_callback;
mod poller;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use shared::clock::Clock;
use shared::config::{Config, HttpConfig};
use shared::google::crypto::TokenCipher;
use shared::google::oauth::GoogleOAuth;
use shared::startup::{self, ShutdownSignal};
use shared::telegram::TelegramClient;
use shared::telegram::delivery::Delivery;

use crate::handlers::calendar::CalendarSetup;
use crate::handling::Handling;
use crate::health::Health;
use crate::inbox::Inbox;
use crate::lanes::Lanes;
use crate::oauth_callback::OAuthCallback;
use crate::poller::Poller;
use tokio::sync::Semaphore;

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
    /// Check the deployment and say what is wrong and what to do (exit 0
    /// healthy, 1 warnings, 2 failures).
    Diagnose(shared::diagnostics::cli::DiagnoseArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Some(Command::Migrate) => startup::run_migrate("bot"),
        Some(Command::Diagnose(args)) => shared::diagnostics::cli::run("bot", &args),
        None => startup::run_service("bot", serve),
    }
}

/// This process among bot replicas: host, pid and a random boot id.
fn replica_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "bot".to_owned());
    let boot = handling::new_correlation_id();
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
    let calendar_setup = calendar_setup(&config, port)?;
    let shared_calendars = shared_calendars(&config, &clock)?.map(Arc::new);
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let app = health::router(
        db.clone(),
        queue.clone(),
        clock.clone(),
        Arc::clone(&health),
    )
    .merge(google_push::router(google_push::GooglePush {
        db: db.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        secrets: google_push::secrets(&config),
    }))
    .merge(oauth_callback::router(OAuthCallback {
        db: db.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        setup: calendar_setup.clone(),
    }));
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = http_stopped.await;
            })
            .await
    });
    tracing::info!(port, "http listening");
    let replica = replica_name();
    let (stop_publish, publish_stopped) = tokio::sync::watch::channel(false);
    let publisher = tokio::spawn(health::publish(
        Arc::clone(&health),
        db.clone(),
        clock.clone(),
        replica.clone(),
        publish_stopped,
    ));

    let handling = Handling {
        db: db.clone(),
        client: client.clone(),
        delivery,
        queue: queue.clone(),
        clock: clock.clone(),
        bootstrap_admins: config.telegram.admin_ids.clone(),
        company_zone: config.timezone,
        health: Arc::clone(&health),
        calendar: calendar_setup.map(Arc::new),
        shared_calendars,
        // One connection is left for storing batches and delivering replies.
        transactions: Arc::new(Semaphore::new(
            config.database.pool_size.saturating_sub(1).max(1),
        )),
    };
    let lanes = Lanes::new(handling.clone(), config.telegram.chat_update_limit);
    let poller = Poller {
        db: db.clone(),
        client,
        clock: clock.clone(),
        poll_timeout: config.telegram.poll_timeout,
        health,
        inbox: Inbox {
            db: db.clone(),
            clock,
            lanes,
            handling,
        },
    };
    tracing::info!(backend = %db.backend(), "bot started");
    leader::poll_as_leader(poller, replica, &mut shutdown).await;
    tracing::info!("bot stopping");
    let _ = stop_publish.send(true);
    if let Err(error) = publisher.await {
        tracing::warn!(%error, "polling state publisher ended abnormally");
    }
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

/// The service account owners share calendars with, if one is configured.
fn shared_calendars(
    config: &Config,
    clock: &Clock,
) -> anyhow::Result<Option<crate::handlers::calendar::SharedCalendars>> {
    let Some(account) = shared::google::service_account_from_config(&config.google, clock)
        .context("cannot use the Google service account (GOOGLE_SERVICE_ACCOUNT_*)")?
    else {
        return Ok(None);
    };
    let calendar = shared::google::calendar::CalendarClient::new(
        config.google.api_url.clone(),
        config.google.http_timeout,
    )
    .context("cannot build the Google Calendar client")?;
    tracing::info!(account = account.email(), "shared calendars enabled");
    Ok(Some(crate::handlers::calendar::SharedCalendars {
        account,
        calendar,
    }))
}

/// The Google consent setup, if Google is configured. Without `PUBLIC_URL`
/// the redirect names the port actually bound (`PORT=0` picks a free one).
fn calendar_setup(config: &Config, port: u16) -> anyhow::Result<Option<CalendarSetup>> {
    let http = HttpConfig {
        port,
        public_url: config.http.public_url.clone(),
    };
    let oauth = GoogleOAuth::from_config(&config.google, &http, config.queue.http_timeout)
        .context("cannot build the Google OAuth client")?;
    Ok(match (oauth, &config.google.token_encryption_key) {
        (Some(oauth), Some(key)) => {
            tracing::info!(
                redirect = oauth.redirect_url(),
                "Google Calendar connection enabled"
            );
            Some(CalendarSetup {
                oauth,
                cipher: TokenCipher::new(key),
            })
        }
        _ => None,
    })
}
