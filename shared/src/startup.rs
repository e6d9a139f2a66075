//! Start-up steps both binaries share: settings, logging, database, signals.
//!
//! A configuration mistake ends the process with exit code 2 and one line on
//! stderr naming the variable; everything after that is logged.

use std::process::ExitCode;

use crate::clock::Clock;
use crate::config::{self, Config, ConfigError, DatabaseConfig, Env, LogConfig};
use crate::db::{self, Db, DbError};
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

/// Opens the pool and applies pending migrations under the migration lock.
pub async fn open_database(config: &DatabaseConfig) -> Result<Db, DbError> {
    let db = Db::connect(&config.url, config.pool_size).await?;
    let report = db::migrate::run(&db).await?;
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
pub async fn prepare_database(config: &Config, clock: &Clock) -> Result<Db, DbError> {
    let db = open_database(&config.database).await?;
    let defaults = config.booking_defaults.clone();
    let now = clock.now();
    db.write(move |conn| db::booking_settings::ensure_defaults(conn, &defaults, now))
        .await?;
    Ok(db)
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
        Ok::<_, DbError>(())
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "migration failed");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the process");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
