//! The queue handle: open it, set its tables up, push jobs.
//!
//! apalis talks to the database through its own sqlx pool, separate from the
//! diesel pool of [`crate::db::Db`]: a push cannot join the caller's
//! transaction, so callers push after they committed.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskId, TaskSink, TaskSinkError};
use apalis_postgres::{PgConnectOptions, PgPool, PostgresStorage};
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::Connection;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqliteSynchronous;
use ulid::Ulid;

use super::{Job, QUEUES, QueueError, QueueSettings};
use crate::db::{Backend, DatabaseUrl};

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// A new job was queued.
    Queued,
    /// A job with the same idempotency key is (or was) in the queue already:
    /// nothing was added.
    AlreadyQueued,
}

/// A handle on the job queue; cheap to clone, shared by pushers and workers.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

struct Inner {
    pool: QueuePool,
    settings: QueueSettings,
}

/// The sqlx pool apalis works through.
#[derive(Clone)]
pub(super) enum QueuePool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("backend", &self.backend())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// Upper bound for one connection attempt and for waiting on a pool slot.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// `PRAGMA busy_timeout` of every queue connection on SQLite.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of a setup step that lost a race for the SQLite write lock.
const SETUP_ATTEMPTS: u32 = 20;

impl Queue {
    /// Opens the queue in the application database (the queue tables must
    /// exist: see [`Queue::setup`]).
    pub async fn connect(url: &DatabaseUrl, settings: QueueSettings) -> Result<Self, QueueError> {
        settings.validate()?;
        let pool = match url {
            DatabaseUrl::Postgres(_) => {
                // Workers hold one extra connection per job type for LISTEN.
                let listeners = u32::try_from(QUEUES.len()).unwrap_or(u32::MAX);
                QueuePool::Postgres(
                    pg_pool(url, settings.pool_size.saturating_add(listeners)).await?,
                )
            }
            DatabaseUrl::Sqlite(_) => {
                QueuePool::Sqlite(sqlite_pool(url, settings.pool_size).await?)
            }
        };
        Ok(Self {
            inner: Arc::new(Inner { pool, settings }),
        })
    }

    /// Creates or upgrades apalis' own tables (apalis' migrations): the
    /// `apalis` schema on PostgreSQL, `Jobs`/`Workers` in the SQLite file.
    ///
    /// Safe when several processes run it at the same moment: on PostgreSQL
    /// sqlx's migrator holds an advisory lock; on SQLite the whole run is one
    /// `BEGIN IMMEDIATE` transaction (sqlx takes no lock there), retried if
    /// the write lock stays busy. Run it after the diesel migrations.
    pub async fn setup(url: &DatabaseUrl) -> Result<(), QueueError> {
        match url {
            DatabaseUrl::Postgres(_) => {
                let pool = pg_pool(url, 1).await?;
                let outcome = setup_postgres(&pool).await;
                pool.close().await;
                outcome
            }
            DatabaseUrl::Sqlite(_) => {
                let pool = sqlite_pool(url, 1).await?;
                let outcome = setup_sqlite(&pool).await;
                pool.close().await;
                outcome
            }
        }
    }

    /// Queues `job` unless a job with the same `idempotency_key`
    /// (`<job>:<row id>:<revision>`, see [`super::idempotency_key`]) is
    /// already there. Call it after the transaction that recorded the owed
    /// work committed.
    pub async fn push<J: Job>(&self, job: &J, idempotency_key: &str) -> Result<Pushed, QueueError> {
        let args = serde_json::to_value(job).map_err(|e| QueueError::Encode {
            queue: J::QUEUE,
            message: e.to_string(),
        })?;
        let id = Ulid::generate();
        let task = TaskBuilder::new(args)
            .task_id(TaskId::from_ulid(id))
            .idempotency_key(idempotency_key)
            .max_attempts(usize::try_from(self.inner.settings.max_attempts).unwrap_or(usize::MAX))
            .build();
        let push_error = |message: String| QueueError::Push {
            queue: J::QUEUE,
            message,
        };
        let pushed = match &self.inner.pool {
            QueuePool::Postgres(pool) => {
                let mut storage = PostgresStorage::<Value>::new(pool)
                    .with_config(pg_config(J::QUEUE, &self.inner.settings));
                match storage.push_task(task).await {
                    Ok(()) => Pushed::Queued,
                    // PostgreSQL refuses a taken key with a unique violation.
                    Err(TaskSinkError::PushError(apalis_postgres::Error::Database(e)))
                        if is_unique_violation(&e) =>
                    {
                        Pushed::AlreadyQueued
                    }
                    Err(e) => return Err(push_error(e.to_string())),
                }
            }
            QueuePool::Sqlite(pool) => {
                let mut storage = SqliteStorage::<Value>::new(pool)
                    .with_config(sqlite_config(J::QUEUE, &self.inner.settings));
                storage
                    .push_task(task)
                    .await
                    .map_err(|e| push_error(e.to_string()))?;
                // SQLite drops a taken key silently: see whose job holds it.
                let holder: Option<String> = sqlx::query_scalar(
                    "SELECT id FROM Jobs WHERE job_type = ?1 AND idempotency_key = ?2",
                )
                .bind(J::QUEUE)
                .bind(idempotency_key)
                .fetch_optional(pool)
                .await
                .map_err(|e| push_error(e.to_string()))?;
                if holder == Some(id.to_string()) {
                    Pushed::Queued
                } else {
                    Pushed::AlreadyQueued
                }
            }
        };
        tracing::debug!(
            job = J::QUEUE,
            key = idempotency_key,
            correlation_id = job.correlation_id(),
            ?pushed,
            "job pushed"
        );
        Ok(pushed)
    }

    /// Checks that the queue's database answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), QueueError> {
        let outcome = match &self.inner.pool {
            QueuePool::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
            QueuePool::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.map(drop),
        };
        outcome.map_err(|e| QueueError::Connect {
            backend: self.backend(),
            message: e.to_string(),
        })
    }

    /// Closes the pool (after the workers stopped), waiting for connections
    /// in use to come back.
    pub async fn close(&self) {
        match &self.inner.pool {
            QueuePool::Postgres(pool) => pool.close().await,
            QueuePool::Sqlite(pool) => pool.close().await,
        }
    }

    pub fn backend(&self) -> Backend {
        match self.inner.pool {
            QueuePool::Postgres(_) => Backend::Postgres,
            QueuePool::Sqlite(_) => Backend::Sqlite,
        }
    }

    pub fn settings(&self) -> &QueueSettings {
        &self.inner.settings
    }

    pub(super) fn pool(&self) -> &QueuePool {
        &self.inner.pool
    }
}

/// apalis' PostgreSQL settings for one queue; `queue` is always set
/// (`Config::default()` would mean the queue "default").
pub(super) fn pg_config(queue: &str, settings: &QueueSettings) -> apalis_postgres::Config {
    apalis_postgres::Config::default()
        .queue(queue)
        .batch_size(settings.batch_size)
        .heartbeat_interval(settings.heartbeat)
        .missed_heartbeats(usize::try_from(settings.missed_heartbeats).unwrap_or(usize::MAX))
}

/// apalis' SQLite settings for one queue, as [`pg_config`].
pub(super) fn sqlite_config(queue: &str, settings: &QueueSettings) -> apalis_sqlite::Config {
    apalis_sqlite::Config::default()
        .queue(queue)
        .batch_size(settings.batch_size)
        .heartbeat_interval(settings.heartbeat)
        .missed_heartbeats(usize::try_from(settings.missed_heartbeats).unwrap_or(usize::MAX))
}

fn connect_error(backend: Backend, error: impl fmt::Display) -> QueueError {
    QueueError::Connect {
        backend,
        message: error.to_string(),
    }
}

async fn pg_pool(url: &DatabaseUrl, max_connections: u32) -> Result<PgPool, QueueError> {
    let DatabaseUrl::Postgres(secret) = url else {
        return Err(connect_error(Backend::Postgres, "not a PostgreSQL URL"));
    };
    let options = PgConnectOptions::from_str(secret.expose_secret())
        // sqlx may quote the URL in its message: say only what went wrong.
        .map_err(|_| connect_error(Backend::Postgres, "the URL is not usable by sqlx"))?
        .application_name("scheduler-queue");
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_error(Backend::Postgres, e))
}

async fn sqlite_pool(url: &DatabaseUrl, max_connections: u32) -> Result<SqlitePool, QueueError> {
    let DatabaseUrl::Sqlite(path) = url else {
        return Err(connect_error(Backend::Sqlite, "not a SQLite URL"));
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| connect_error(Backend::Sqlite, e))?;
    }
    // WAL is switched on once by the first opener (see `setup_sqlite` and
    // `Db::connect`), not per connection: that races on a fresh file.
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true)
        .synchronous(SqliteSynchronous::Normal);
    SqlitePoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| connect_error(Backend::Sqlite, e))
}

/// apalis' PostgreSQL migrations (what `PostgresStorage::setup` runs, on
/// one connection so the future stays `Send`); sqlx's migrator holds a
/// `pg_advisory_lock` meanwhile, so concurrent setups wait for each other.
async fn setup_postgres(pool: &PgPool) -> Result<(), QueueError> {
    let setup_error = |e: &dyn fmt::Display| QueueError::Setup(e.to_string());
    let mut conn = pool.acquire().await.map_err(|e| setup_error(&e))?;
    PostgresStorage::migrations()
        .run_direct(None, &mut *conn, false)
        .await
        .map_err(|e| match e {
            // What `PostgresStorage::setup` reports for a pre-1.0 schema.
            sqlx::migrate::MigrateError::VersionMismatch(20_220_530_084_123) => QueueError::Setup(
                "the apalis schema predates apalis 1.0 and needs its one-time manual upgrade"
                    .to_owned(),
            ),
            other => setup_error(&other),
        })
}

/// apalis' SQLite migrations, serialised across processes.
///
/// `SqliteStorage::setup` is not used: it also sets `synchronous = OFF` and
/// switches to WAL on every pooled connection, and sqlx takes no migration
/// lock on SQLite, so two processes applying the same migration collide.
/// Here WAL is switched once (retried: SQLite does not wait for that lock)
/// and the migrations run inside one `BEGIN IMMEDIATE` transaction (sqlx
/// nests each migration as a savepoint).
async fn setup_sqlite(pool: &SqlitePool) -> Result<(), QueueError> {
    let setup_error = |e: &dyn fmt::Display| QueueError::Setup(e.to_string());
    let mut attempt = 1;
    loop {
        let outcome = async {
            let mut conn = pool.acquire().await?;
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&mut *conn)
                .await?;
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            SqliteStorage::migrations()
                .run_direct(None, &mut *tx, false)
                .await
                .map_err(sqlx::Error::from)?;
            tx.commit().await
        }
        .await;
        match outcome {
            Ok(()) => return Ok(()),
            Err(e) if attempt < SETUP_ATTEMPTS && is_busy(&e) => {
                tracing::debug!(attempt, error = %e, "queue setup waits for the SQLite write lock");
                let pause =
                    20 + 10 * u64::from(attempt.min(10)) + u64::from(rand::random::<u8>() % 20);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                attempt += 1;
            }
            Err(e) => return Err(setup_error(&e)),
        }
    }
}

/// "database is locked" / "busy": another process holds the write lock.
fn is_busy(error: &sqlx::Error) -> bool {
    let text = match error {
        sqlx::Error::Migrate(inner) => inner.to_string(),
        other => other.to_string(),
    };
    let text = text.to_ascii_lowercase();
    text.contains("locked") || text.contains("busy")
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}
