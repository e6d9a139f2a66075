//! A fresh, migrated database per test, on either backend.
//!
//! PostgreSQL: the server from `TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); a template database is
//! migrated once per migration set and cloned per test (fast), then the test
//! database is dropped. SQLite: a file in a temporary directory, never
//! `:memory:`.

use std::path::PathBuf;
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use shared::db::{Backend, DatabaseUrl, Db};

/// Default server when `TEST_DATABASE_URL` is unset (the CI machine's).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The maintenance URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `admin_url` pointing at database `name` instead.
pub fn postgres_url_for(name: &str) -> String {
    let admin = postgres_admin_url();
    match url::Url::parse(&admin) {
        Ok(mut url) => {
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        Err(_) => panic!("TEST_DATABASE_URL is not a URL"),
    }
}

fn admin_connection() -> PgConnection {
    PgConnection::establish(&postgres_admin_url())
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server: {e}"))
}

/// A name that is unique across concurrently running test processes.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Creates an empty PostgreSQL database and returns its URL (for tests that
/// run migrations themselves). Drop it with [`drop_postgres_database`].
pub fn create_empty_postgres_database(name: &str) -> String {
    admin_connection()
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    postgres_url_for(name)
}

/// Drops a test database even if connections are still open.
pub fn drop_postgres_database(name: &str) {
    if let Err(e) = admin_connection()
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
    {
        eprintln!("warning: cannot drop test database {name}: {e}");
    }
}

/// Name of the template for the current migrations: a hash of the migration
/// files, so a changed migration gets a new template.
fn template_name() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations/postgres");
    let mut files = Vec::new();
    collect_files(&dir, &mut files);
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for b in file.to_string_lossy().bytes().chain(bytes) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("scheduler_template_{hash:016x}")
}

fn collect_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Makes sure the migrated template exists; serialised across processes by
/// an advisory lock.
async fn ensure_template() -> String {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let exists = {
                let name = name.clone();
                tokio::task::spawn_blocking(move || {
                    let mut admin = admin_connection();
                    admin
                        .batch_execute("SELECT pg_advisory_lock(4242424242)")
                        .expect("advisory lock");
                    let found = diesel::sql_query(
                        "SELECT count(*) AS n FROM pg_database WHERE datname = $1",
                    )
                    .bind::<diesel::sql_types::Text, _>(&name)
                    .get_result::<Count>(&mut admin)
                    .is_ok_and(|c| c.n > 0);
                    (admin, found)
                })
                .await
                .expect("template check")
            };
            let (mut admin, found) = exists;
            if !found {
                let building = format!("{name}_building_{}", std::process::id());
                for sql in [
                    format!("DROP DATABASE IF EXISTS \"{building}\""),
                    format!("CREATE DATABASE \"{building}\""),
                ] {
                    admin.batch_execute(&sql).expect("create template");
                }
                let url = DatabaseUrl::parse(&postgres_url_for(&building)).expect("template url");
                let db = Db::connect(&url, 1).await.expect("connect template");
                shared::db::migrate::run(&db)
                    .await
                    .expect("migrate template");
                db.close();
                drop(db);
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                    ))
                    .expect("publish template");
            }
            let _ = admin.batch_execute("SELECT pg_advisory_unlock(4242424242)");
            name
        })
        .await
        .clone()
}

/// One test's own migrated database; dropped (PostgreSQL) or deleted
/// (SQLite) when it goes out of scope.
pub struct TestDb {
    pub db: Db,
    /// The URL the binaries under test should use.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Postgres(String),
    Sqlite(#[expect(dead_code, reason = "held until drop")] tempfile::TempDir),
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDb").field("url", &self.url).finish()
    }
}

impl TestDb {
    /// A fresh database on `backend`.
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => Self::postgres().await,
            Backend::Sqlite => Self::sqlite().await,
        }
    }

    /// A clone of the migrated PostgreSQL template.
    pub async fn postgres() -> Self {
        let template = ensure_template().await;
        let name = unique_name("scheduler_test");
        {
            let name = name.clone();
            tokio::task::spawn_blocking(move || {
                admin_connection()
                    .batch_execute(&format!(
                        "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                    ))
                    .unwrap_or_else(|e| panic!("cannot clone the template: {e}"));
            })
            .await
            .expect("clone template");
        }
        let url = postgres_url_for(&name);
        let parsed = DatabaseUrl::parse(&url).expect("test url");
        let db = Db::connect(&parsed, 4)
            .await
            .expect("connect test database");
        Self {
            db,
            url,
            cleanup: Cleanup::Postgres(name),
        }
    }

    /// A migrated SQLite file in a temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = Db::connect(&DatabaseUrl::parse(&url).expect("sqlite url"), 4)
            .await
            .expect("open sqlite");
        shared::db::migrate::run(&db).await.expect("migrate sqlite");
        Self {
            db,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.db.close();
        if let Cleanup::Postgres(name) = &self.cleanup {
            let name = name.clone();
            // Blocking work off the async runtime's threads.
            let _ = std::thread::spawn(move || drop_postgres_database(&name)).join();
        }
    }
}

/// Whether a PostgreSQL test server is configured and reachable (checked once).
pub fn postgres_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| PgConnection::establish(&postgres_admin_url()).is_ok())
}
