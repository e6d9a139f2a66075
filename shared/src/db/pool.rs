//! The connection enum, the database URL, the pool and transactions.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use deadpool_diesel::Runtime;
use deadpool_sync::SyncWrapper;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretString};

/// One connection to either backend; repositories take `&mut DbConn`.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl fmt::Debug for DbConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pg(_) => "DbConn::Pg",
            Self::Sqlite(_) => "DbConn::Sqlite",
        })
    }
}

/// Which database a deployment runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display)]
pub enum Backend {
    #[strum(to_string = "PostgreSQL")]
    Postgres,
    #[strum(to_string = "SQLite")]
    Sqlite,
}

/// A validated `DATABASE_URL`: the backend is chosen strictly by scheme.
#[derive(Clone)]
pub enum DatabaseUrl {
    /// A libpq URL; may hold a password, so it stays secret.
    Postgres(SecretString),
    /// The path of the SQLite file.
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// The embedded default: a file under `./data`.
    pub const DEFAULT: &'static str = "sqlite://./data/scheduler.db";

    /// Accepts `postgres://`, `postgresql://` and `sqlite://PATH`; anything
    /// else is an error, never a new file.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let scheme = raw.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("postgres" | "postgresql") => {
                url::Url::parse(raw).map_err(|_| "is not a valid postgres:// URL".to_owned())?;
                Ok(Self::Postgres(SecretString::from(raw.to_owned())))
            }
            Some("sqlite") => {
                let path = raw["sqlite:".len()..]
                    .strip_prefix("//")
                    .unwrap_or(&raw["sqlite:".len()..]);
                let path = path.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err("names no file (expected sqlite://./data/scheduler.db)".to_owned());
                }
                if path == ":memory:" || path.starts_with("file:") {
                    return Err("must name a file (in-memory databases lose data)".to_owned());
                }
                Ok(Self::Sqlite(PathBuf::from(path)))
            }
            Some(other) => Err(format!(
                "has the unsupported scheme `{other}` (use postgres:// or sqlite://)"
            )),
            None => Err("is not a URL (use postgres://… or sqlite://PATH)".to_owned()),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The URL with any password masked, for logs and diagnostics.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(secret) => match url::Url::parse(secret.expose_secret()) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    url.set_query(None);
                    url.to_string()
                }
                Err(_) => "postgres://***".to_owned(),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Failures of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the {backend} database: {message}")]
    Connect { backend: Backend, message: String },
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("a database task panicked")]
    Panicked,
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("cannot prepare the database directory: {0}")]
    Io(#[from] std::io::Error),
}

impl DbError {
    /// A unique or primary-key violation: someone else won a race.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// The database is away (down, restarting, unreachable, or busy) rather
    /// than refusing this statement: the same work will succeed once it is
    /// back, so it is worth waiting for however long that takes.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        /// What PostgreSQL and SQLite say when the server, not the
        /// statement, is the problem.
        const AWAY: &[&str] = &[
            "connection",
            "shutting down",
            "starting up",
            "recovery mode",
            "terminating",
            "database is locked",
            "could not connect",
            "timed out",
        ];
        match self {
            Self::Connect { .. } | Self::Pool(_) => true,
            Self::Query(Error::BrokenTransactionManager) => true,
            Self::Query(Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )) => true,
            Self::Query(Error::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                let message = info.message().to_ascii_lowercase();
                AWAY.iter().any(|sign| message.contains(sign))
            }
            _ => false,
        }
    }
}

/// Opens connections of the configured backend with the project's session
/// settings. (deadpool-diesel's own manager goes through
/// `MultiConnection::establish`, which tries every backend in turn and would
/// hand an unreachable PostgreSQL URL to SQLite as a file name.)
struct Manager {
    url: DatabaseUrl,
    /// Bumped whenever a call fails: every connection verified before the
    /// bump is pinged again at its next checkout (after a server restart
    /// the first failure makes the whole pool look again).
    generation: AtomicU64,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("url", &self.url.redacted())
            .finish()
    }
}

/// How long a connection that just answered is trusted without a ping at
/// checkout. A `SELECT 1` on every checkout was a fifth of the statements
/// of a button press; a connection in steady use is never pinged, an idle
/// one is, and any failure on any connection re-checks them all.
const TRUSTED_FOR: Duration = Duration::from_secs(2);

/// A pooled connection and what the pool knows about its health.
struct Pooled {
    conn: SyncWrapper<DbConn>,
    /// When a call on it last succeeded, and the manager's generation then.
    verified: Option<(Instant, u64)>,
    /// The last call left its transaction broken (e.g. a failed rollback).
    broken: bool,
}

impl Pooled {
    fn trusted(&self, generation: u64, now: Instant) -> bool {
        matches!(self.verified, Some((at, seen))
            if seen == generation && now.saturating_duration_since(at) < TRUSTED_FOR)
    }
}

fn establish(url: &DatabaseUrl) -> Result<DbConn, DbError> {
    let connect_error = |message: String| DbError::Connect {
        backend: url.backend(),
        message,
    };
    match url {
        DatabaseUrl::Postgres(secret) => {
            let mut conn = PgConnection::establish(secret.expose_secret())
                .map_err(|e| connect_error(e.to_string()))?;
            conn.batch_execute("SET TIME ZONE 'UTC'")?;
            Ok(DbConn::Pg(conn))
        }
        DatabaseUrl::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| connect_error(e.to_string()))?;
            conn.batch_execute(
                "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;",
            )?;
            Ok(DbConn::Sqlite(conn))
        }
    }
}

impl managed::Manager for Manager {
    type Type = Pooled;
    type Error = DbError;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let url = self.url.clone();
        let generation = self.generation.load(Ordering::Acquire);
        let conn = SyncWrapper::new(Runtime::Tokio1, move || establish(&url)).await?;
        Ok(Pooled {
            conn,
            verified: Some((Instant::now(), generation)),
            broken: false,
        })
    }

    /// Discards a connection that panicked or broke its transaction; pings
    /// one that has not answered lately (or since some call failed), so a
    /// connection a restarted server dropped is replaced, not handed out.
    async fn recycle(&self, pooled: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        if pooled.conn.is_mutex_poisoned() {
            return Err(RecycleError::message("connection mutex poisoned"));
        }
        if pooled.broken {
            return Err(RecycleError::message(
                "connection left inside a transaction",
            ));
        }
        let generation = self.generation.load(Ordering::Acquire);
        if pooled.trusted(generation, Instant::now()) {
            return Ok(());
        }
        pooled
            .conn
            .interact(|conn| {
                if <DbConn as Connection>::TransactionManager::is_broken_transaction_manager(conn) {
                    return Err(DbError::Pool(
                        "connection left inside a transaction".to_owned(),
                    ));
                }
                conn.batch_execute("SELECT 1").map_err(DbError::from)
            })
            .await
            .map_err(|_| RecycleError::message("connection check panicked"))?
            .map_err(RecycleError::Backend)?;
        pooled.verified = Some((Instant::now(), generation));
        Ok(())
    }
}

/// The connection pool, cheap to clone; every database call goes through it.
#[derive(Clone)]
pub struct Db {
    pool: managed::Pool<Manager>,
    backend: Backend,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .finish()
    }
}

impl Db {
    /// Opens the pool and checks that the database answers. On SQLite the
    /// directory is created and the file switched to WAL first, once, from a
    /// single connection.
    pub async fn connect(url: &DatabaseUrl, pool_size: usize) -> Result<Self, DbError> {
        if let DatabaseUrl::Sqlite(path) = url {
            prepare_sqlite_file(path.clone()).await?;
        }
        let manager = Manager {
            url: url.clone(),
            generation: AtomicU64::new(0),
        };
        let pool = managed::Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| DbError::Pool(e.to_string()))?;
        let db = Self {
            pool,
            backend: url.backend(),
        };
        db.read(|conn| conn.batch_execute("SELECT 1").map_err(DbError::from))
            .await?;
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Callers waiting for a connection right now (diagnostics: a pool
    /// too small for the load shows here first).
    pub fn waiting(&self) -> usize {
        self.pool.status().waiting
    }

    /// Runs `f` on a pooled connection, outside any transaction.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let mut pooled = self.pool.get().await.map_err(|e| match e {
            managed::PoolError::Backend(e) => e,
            other => DbError::Pool(other.to_string()),
        })?;
        let generation = self.pool.manager().generation.load(Ordering::Acquire);
        let (outcome, broken) = pooled
            .conn
            .interact(|conn| {
                let outcome = f(conn);
                let broken =
                    <DbConn as Connection>::TransactionManager::is_broken_transaction_manager(conn);
                (outcome, broken)
            })
            .await
            .map_err(|_| DbError::Panicked)?;
        pooled.broken = broken;
        if outcome.is_ok() {
            pooled.verified = Some((Instant::now(), generation));
        } else {
            // Most failures are the query's own, but a dropped connection
            // looks the same from here: check this one and the rest before
            // they are used again.
            pooled.verified = None;
            self.pool
                .manager()
                .generation
                .fetch_add(1, Ordering::AcqRel);
        }
        outcome
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.read(|conn| immediate_tx(conn, f)).await
    }

    /// Runs `f`, a single statement that changes rows, without a
    /// transaction around it: one statement is atomic on both backends (on
    /// SQLite a writing statement takes the write lock at its start,
    /// honouring `busy_timeout`), and PostgreSQL saves the `BEGIN` and
    /// `COMMIT` round trips. Anything with two statements uses [`Db::write`].
    pub async fn write_single<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.read(f).await
    }

    /// Closes idle connections and refuses new ones (before dropping a test
    /// database, or at shutdown).
    pub fn close(&self) {
        self.pool.close();
    }
}

async fn prepare_sqlite_file(path: PathBuf) -> Result<(), DbError> {
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        switch_to_wal(&path)
    })
    .await
    .map_err(|_| DbError::Panicked)?
}

/// Switches the file to WAL (a no-op when it already is). SQLite does not
/// call the busy handler for this pragma, so a process starting beside
/// another one retries for a few seconds instead of failing.
fn switch_to_wal(path: &Path) -> Result<(), DbError> {
    const ATTEMPTS: u32 = 100;
    let mut conn = establish(&DatabaseUrl::Sqlite(path.to_owned()))?;
    let mut attempt = 1;
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL") {
            Ok(()) => return Ok(()),
            Err(e) if attempt < ATTEMPTS && is_locked(&e) => {
                std::thread::sleep(Duration::from_millis(20 + 10 * u64::from(attempt.min(10))));
                attempt += 1;
            }
            Err(e) => {
                return Err(DbError::Connect {
                    backend: Backend::Sqlite,
                    message: format!("cannot switch to WAL: {e}"),
                });
            }
        }
    }
}

fn is_locked(error: &diesel::result::Error) -> bool {
    matches!(error, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("locked") || info.message().contains("busy"))
}

/// Runs `f` inside a transaction that takes the write lock at once on SQLite
/// (`BEGIN IMMEDIATE`: deferred transactions of two writers deadlock into
/// "database is locked"), and a plain transaction on PostgreSQL. Nested
/// transactions inside `f` become savepoints.
pub fn immediate_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConn::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    let outcome = f(conn);
    let DbConn::Sqlite(sqlite) = conn else {
        unreachable!("the connection variant cannot change inside a transaction")
    };
    match outcome {
        Ok(value) => match AnsiTransactionManager::commit_transaction(sqlite) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                if let Err(rollback_error) = AnsiTransactionManager::rollback_transaction(sqlite) {
                    tracing::warn!(error = %rollback_error, "rollback after a failed commit failed");
                }
                Err(commit_error.into())
            }
        },
        Err(error) => {
            if let Err(rollback_error) = AnsiTransactionManager::rollback_transaction(sqlite) {
                tracing::warn!(error = %rollback_error, "rollback failed");
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend_strictly_by_scheme() {
        assert!(matches!(
            DatabaseUrl::parse("sqlite://./data/scheduler.db"),
            Ok(DatabaseUrl::Sqlite(p)) if p == Path::new("./data/scheduler.db")
        ));
        assert!(matches!(
            DatabaseUrl::parse("sqlite:///var/lib/bot.db"),
            Ok(DatabaseUrl::Sqlite(p)) if p == Path::new("/var/lib/bot.db")
        ));
        assert!(matches!(
            DatabaseUrl::parse("postgresql://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in [
            "mysql://x",
            "./data/x.db",
            "sqlite://",
            "sqlite://:memory:",
            "http://x",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redacted_urls_hide_passwords() {
        let url = DatabaseUrl::parse("postgres://app:hunter2@db:5432/app?sslmode=require").unwrap();
        let shown = url.redacted();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("db:5432/app"), "{shown}");
        assert!(!format!("{url:?}").contains("hunter2"));
    }
}
