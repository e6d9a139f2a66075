//! What a diagnostics run works with: the settings, the clock, the
//! database (when it answers), the job queue and the Telegram client.
//! Opening them is itself measured: a database that cannot be opened is the
//! database check's finding, not an error of the run.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{DatabaseUrl, Db};
use crate::jobs::{Queue, QueueSettings};
use crate::telegram::TelegramClient;

/// How much a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Seconds; no outside calls beyond Telegram's `getMe` and
    /// `getWebhookInfo`.
    Quick,
    /// Every phase: Google per connected owner (token, calendar), trends.
    Full,
    /// The calendar access test of one owner (by Telegram id): read the
    /// calendar, create and delete a probe event.
    Owner(i64),
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Full => "full",
            Self::Owner(_) => "owner",
        }
    }
}

/// Longest wait for opening the database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The deployment under examination.
#[derive(Debug)]
pub struct Probe {
    pub config: Arc<Config>,
    pub clock: Clock,
    /// `Err` holds why the database could not be opened.
    pub db: Result<Db, String>,
    /// Opened on first use (repairs push jobs).
    pub queue: tokio::sync::OnceCell<Result<Queue, String>>,
    /// `Err` holds why the client could not be built.
    pub telegram: Result<TelegramClient, String>,
}

impl Probe {
    /// Opens what a run needs, never failing: a part that cannot be opened
    /// is reported by its check. Runs no migrations: pending ones are a
    /// finding.
    pub async fn open(config: Config, clock: Clock) -> Self {
        let db = open_db(&config).await;
        let telegram = TelegramClient::new(&config.telegram).map_err(|e| e.to_string());
        Self {
            config: Arc::new(config),
            clock,
            db,
            queue: tokio::sync::OnceCell::new(),
            telegram,
        }
    }

    /// A probe over handles a service already holds (the worker's monitor).
    pub fn with_parts(
        config: Arc<Config>,
        clock: Clock,
        db: Db,
        queue: Queue,
        telegram: TelegramClient,
    ) -> Self {
        Self {
            config,
            clock,
            db: Ok(db),
            queue: tokio::sync::OnceCell::new_with(Some(Ok(queue))),
            telegram: Ok(telegram),
        }
    }

    /// The job queue, opened on first use.
    pub async fn queue(&self) -> Result<&Queue, String> {
        let opened = self
            .queue
            .get_or_init(|| async {
                let settings = QueueSettings {
                    pool_size: 2,
                    ..QueueSettings::from(&self.config.queue)
                };
                Queue::connect(&self.config.database.url, settings)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await;
        opened.as_ref().map_err(Clone::clone)
    }

    /// Where the data lives on disk: the SQLite file's directory, or the
    /// working directory for PostgreSQL (whose disk this host may not see).
    pub fn data_dir(&self) -> std::path::PathBuf {
        match &self.config.database.url {
            DatabaseUrl::Sqlite(path) => path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map_or_else(|| Path::new(".").to_owned(), Path::to_owned),
            DatabaseUrl::Postgres(_) => Path::new(".").to_owned(),
        }
    }

    /// Closes the pools (before the runtime ends).
    pub async fn close(&self) {
        if let Some(Ok(queue)) = self.queue.get() {
            queue.close().await;
        }
        if let Ok(db) = &self.db {
            db.close();
        }
    }
}

async fn open_db(config: &Config) -> Result<Db, String> {
    if let DatabaseUrl::Sqlite(path) = &config.database.url {
        // Opening would create an empty file: say that there is none.
        if !path.exists() {
            return Err(format!("the SQLite file {} does not exist", path.display()));
        }
    }
    match tokio::time::timeout(CONNECT_TIMEOUT, Db::connect(&config.database.url, 2)).await {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(CONNECT_TIMEOUT)
        )),
    }
}
