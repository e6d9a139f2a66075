//! Start-up steps both binaries share: settings, logging, database, signals.
//!
//! A configuration mistake ends the process with exit code 2 and one line on
//! stderr naming the variable; everything after that is logged.

use std::process::ExitCode;

use crate::clock::Clock;
use crate::config::{self, Config, ConfigError, DatabaseConfig, Env, LogConfig};
use crate::db::{self, Db, DbError};
use crate::jobs::{Queue, QueueError, QueueSettings};
use crate::telemetry;

/// Exit code of a process stopped by a configuration mistake.
pub const EXIT_CONFIG: u8 = 2;

/// Exit code of a process that failed after start-up.
pub const EXIT_FAILURE: u8 = 1;

fn report(binary: &str, error: &ConfigError) -> ExitCode {
    eprintln!("{binary}: configuration error: {error}");
    ExitCode::from(EXIT_CONFIG)
}

/// Reads `.env` and every setting, then starts logging.
pub fn load_config(binary: &str) -> Result<Config, ExitCode> {
    config::load_dotenv().map_err(|e| report(binary, &e))?;
    let config = Config::from_env(&Env::from_process()).map_err(|e| report(binary, &e))?;
    telemetry::init(&config.log);
    if let Some(file) = &config.test_clock_file {
        tracing::warn!(file = %file.display(), "TEST_CLOCK_FILE is set: the clock can be moved by a test");
    }
    Ok(config)
}

/// Reads only what `migrate` needs (database and logging), then starts logging.
pub fn load_database_config(binary: &str) -> Result<DatabaseConfig, ExitCode> {
    config::load_dotenv().map_err(|e| report(binary, &e))?;
    let env = Env::from_process();
    let log = LogConfig::from_env(&env).map_err(|e| report(binary, &e))?;
    let database = DatabaseConfig::from_env(&env).map_err(|e| report(binary, &e))?;
    telemetry::init(&log);
    Ok(database)
}

/// Why the database or the queue could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Opens the pool and applies pending migrations (ours under the migration
/// lock, then the job queue's own tables).
pub async fn open_database(config: &DatabaseConfig) -> Result<Db, StartupError> {
    let db = Db::connect(&config.url, config.pool_size).await?;
    let report = db::migrate::run(&db).await?;
    Queue::setup(&config.url).await?;
    if report.applied.is_empty() {
        tracing::info!(database = %config.url.redacted(), "database schema is current");
    } else {
        tracing::info!(
            database = %config.url.redacted(),
            applied = ?report.applied,
            "database migrations applied"
        );
    }
    Ok(db)
}

/// Opens the database and stores the booking-settings defaults if absent:
/// what every service does before it starts working.
pub async fn prepare_database(config: &Config, clock: &Clock) -> Result<Db, StartupError> {
    let db = open_database(&config.database).await?;
    let defaults = config.booking_defaults.clone();
    let now = clock.now();
    db.write(move |conn| db::booking_settings::ensure_defaults(conn, &defaults, now))
        .await?;
    Ok(db)
}

/// Connects to the job queue with the configured knobs.
pub async fn open_queue(config: &Config) -> Result<Queue, QueueError> {
    Queue::connect(&config.database.url, QueueSettings::from(&config.queue)).await
}

/// Runs a service binary: loads the settings (exit 2 on a mistake), starts
/// the runtime and the signal listeners, and runs `serve` until it returns.
/// An error is logged with its whole chain and ends the process with exit 1.
pub fn run_service<F, Fut, E>(binary: &str, serve: F) -> ExitCode
where
    F: FnOnce(Config, ShutdownSignal) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let config = match load_config(binary) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let outcome = runtime.block_on(async {
        let shutdown = match ShutdownSignal::listen() {
            Ok(shutdown) => shutdown,
            Err(error) => return Err(format!("cannot listen for signals: {error}")),
        };
        serve(config, shutdown).await.map_err(|e| format!("{e:#}"))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error, "{binary} stopped");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The `migrate` subcommand: apply migrations and exit.
pub fn run_migrate(binary: &str) -> ExitCode {
    let config = match load_database_config(binary) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{binary}: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // The pool must be closed and dropped inside the runtime.
    let outcome = runtime.block_on(async {
        let db = open_database(&config).await?;
        db.close();
        Ok::<_, StartupError>(())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "migration failed");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// SIGTERM and SIGINT listeners, installed before the service reports that
/// it started, so a stop request that arrives early is never lost.
#[derive(Debug)]
pub struct ShutdownSignal {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the listeners (needs a running Tokio runtime).
    pub fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves on the first SIGTERM or SIGINT (Ctrl-C).
    pub async fn recv(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
