//! Schema migrations, embedded in both binaries and run under a lock so a
//! bot and any number of workers can start at the same moment.

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sqlite::Sqlite;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Db, DbConn, DbError};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// Key of the PostgreSQL advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x5343_4845_4455_4c45; // "SCHEDULE"

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run (empty when the schema was current).
    pub applied: Vec<String>,
}

/// Applies every pending migration, holding the migration lock
/// (`pg_advisory_lock` on PostgreSQL, one immediate transaction on SQLite).
pub async fn run(db: &Db) -> Result<MigrationReport, DbError> {
    db.read(|conn| match conn {
        DbConn::Pg(pg) => run_postgres(pg),
        DbConn::Sqlite(sqlite) => run_sqlite(sqlite),
    })
    .await
}

/// Migrations known to the binary but not applied to the database.
pub async fn pending(db: &Db) -> Result<Vec<String>, DbError> {
    db.read(|conn| match conn {
        DbConn::Pg(pg) => pending_names(pg, POSTGRES),
        DbConn::Sqlite(sqlite) => pending_names(sqlite, SQLITE),
    })
    .await
}

/// Every migration version the binary carries, oldest first.
pub fn known_versions(backend: super::Backend) -> Vec<String> {
    let versions = match backend {
        super::Backend::Postgres => MigrationSource::<Pg>::migrations(&POSTGRES).map(|list| {
            list.iter()
                .map(|m| m.name().version().to_string())
                .collect()
        }),
        super::Backend::Sqlite => MigrationSource::<Sqlite>::migrations(&SQLITE).map(|list| {
            list.iter()
                .map(|m| m.name().version().to_string())
                .collect()
        }),
    };
    versions.unwrap_or_default()
}

fn run_postgres(conn: &mut PgConnection) -> Result<MigrationReport, DbError> {
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))?;
    let outcome = apply(conn, POSTGRES);
    let unlocked = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
    let report = outcome?;
    unlocked?;
    Ok(report)
}

fn run_sqlite(conn: &mut SqliteConnection) -> Result<MigrationReport, DbError> {
    conn.immediate_transaction(|conn| apply(conn, SQLITE))
        .map_err(|e| match e {
            DbError::Query(e) => DbError::Migration(format!("cannot take the migration lock: {e}")),
            other => other,
        })
}

fn apply<C, B>(conn: &mut C, source: EmbeddedMigrations) -> Result<MigrationReport, DbError>
where
    C: MigrationHarness<B>,
    B: diesel::backend::Backend,
    EmbeddedMigrations: MigrationSource<B>,
{
    let applied = conn
        .run_pending_migrations(source)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(MigrationReport {
        applied: applied.iter().map(ToString::to_string).collect(),
    })
}

fn pending_names<C, B>(conn: &mut C, source: EmbeddedMigrations) -> Result<Vec<String>, DbError>
where
    C: MigrationHarness<B>,
    B: diesel::backend::Backend,
    EmbeddedMigrations: MigrationSource<B>,
{
    let pending = conn
        .pending_migrations(source)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(pending
        .iter()
        .map(|m| m.name().version().to_string())
        .collect())
}
