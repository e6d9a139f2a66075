//! The real `bot` and `worker` processes: start-up, configuration errors,
//! concurrent migrations and clean shutdown.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use shared::db::{Backend, migrate};
use testkit::bins::binary;
use testkit::db::{create_empty_postgres_database, drop_postgres_database, unique_name};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const TOKEN: &str = "123456789:AAtest-token_for_the_suite";

/// A command for `name` with a clean environment and `dir` as working
/// directory (so no developer `.env` leaks in).
fn command(name: &str, dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary(name));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .envs(vars.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn configuration_mistakes_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "TELEGRAM_BOT_TOKEN"),
        (
            &[("TELEGRAM_BOT_TOKEN", TOKEN), ("DATABASE_URL", "mysql://x")],
            "DATABASE_URL",
        ),
        (
            &[
                ("TELEGRAM_BOT_TOKEN", TOKEN),
                ("TIMEZONE", "Mars/Olympus_Mons"),
            ],
            "TIMEZONE",
        ),
        (&[("TELEGRAM_BOT_TOKEN", TOKEN), ("PORT", "http")], "PORT"),
    ];
    for name in ["bot", "worker"] {
        for (vars, variable) in cases {
            let output = command(name, dir.path(), vars).output().await.unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{name} {vars:?}: {stderr}");
            let lines: Vec<_> = stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{name} {vars:?}: {stderr}");
            assert!(
                lines[0].starts_with(&format!("{name}: configuration error: {variable}:")),
                "{stderr}"
            );
            assert!(
                !stderr.contains("panicked") && !stderr.contains(TOKEN),
                "{stderr}"
            );
        }
    }
    // `migrate` needs only the database settings, and checks them the same way.
    let output = command("bot", dir.path(), &[("DATABASE_URL", "mysql://x")])
        .arg("migrate")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        !dir.path().join("data").exists(),
        "a bad URL never creates a file"
    );
}

async fn migrate_both_at_once(dir: &Path, url: &str) {
    let vars = [("DATABASE_URL", url), ("RUST_LOG", "warn")];
    let bot = command("bot", dir, &vars).arg("migrate").spawn().unwrap();
    let worker = command("worker", dir, &vars)
        .arg("migrate")
        .spawn()
        .unwrap();
    let (bot, worker) = tokio::join!(bot.wait_with_output(), worker.wait_with_output());
    for (name, output) in [("bot", bot.unwrap()), ("worker", worker.unwrap())] {
        assert!(
            output.status.success(),
            "{name} migrate failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count<C: Connection>(conn: &mut C, sql: &str) -> i64
where
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Count>,
{
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

const ROUNDS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_postgres_always_succeed() {
    let versions = i64::try_from(migrate::known_versions(Backend::Postgres).len()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..ROUNDS {
        let name = unique_name("scheduler_migrate");
        let url = create_empty_postgres_database(&name);
        migrate_both_at_once(dir.path(), &url).await;
        let mut conn = PgConnection::establish(&url).unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM __diesel_schema_migrations"
            ),
            versions
        );
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM departments"),
            7,
            "seeded once"
        );
        drop(conn);
        drop_postgres_database(&name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_sqlite_always_succeed() {
    let versions = i64::try_from(migrate::known_versions(Backend::Sqlite).len()).unwrap();
    for _ in 0..ROUNDS {
        let dir = tempfile::tempdir().unwrap();
        // The default URL: both processes also race to create ./data.
        migrate_both_at_once(dir.path(), "sqlite://./data/scheduler.db").await;
        let path = dir.path().join("data/scheduler.db");
        let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
        assert_eq!(
            count(
                &mut conn,
                "SELECT count(*) AS n FROM __diesel_schema_migrations"
            ),
            versions
        );
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM departments"),
            7,
            "seeded once"
        );
        #[derive(diesel::QueryableByName)]
        struct Mode {
            #[diesel(sql_type = diesel::sql_types::Text)]
            journal_mode: String,
        }
        let mode = diesel::sql_query("PRAGMA journal_mode")
            .get_result::<Mode>(&mut conn)
            .unwrap();
        assert_eq!(mode.journal_mode, "wal");
    }
}

/// Waits for a JSON log line whose message is `message`.
async fn wait_for_log(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStderr>>,
    message: &str,
) {
    let wanted = format!("\"message\":\"{message}\"");
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains(&wanted) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no `{message}` in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_start_on_the_embedded_default_and_stop_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["bot", "worker"] {
        let mut child = command(name, dir.path(), &[("TELEGRAM_BOT_TOKEN", TOKEN)])
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        wait_for_log(&mut lines, &format!("{name} started")).await;
        let pid = child.id().unwrap().to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        wait_for_log(&mut lines, &format!("{name} stopping")).await;
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "{name} exited with {status}");
    }
    assert!(dir.path().join("data/scheduler.db").exists());
}
