//! The connection pool on PostgreSQL: connections the server dropped (a
//! restart, an operator's kill) are thrown away and replaced. The pool
//! skips the ping of a connection that has just answered, so the first call
//! on one may fail; every call after it works.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use shared::db::{Db, DbConn, DbError};
use testkit::db::{TestDb, postgres_admin_url};

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

async fn ping(db: &Db) -> Result<(), DbError> {
    db.read(|c| c.batch_execute("SELECT 1").map_err(DbError::from))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_dropped_are_replaced() {
    let test = TestDb::postgres().await;
    // Open every connection of the pool (four in tests).
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let db = test.db.clone();
        tasks.spawn(async move {
            db.read(|c| {
                c.batch_execute("SELECT pg_sleep(0.05)")
                    .map_err(DbError::from)
            })
            .await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap().unwrap();
    }
    let database = test
        .db
        .read(|c| match c {
            DbConn::Pg(pg) => Ok(diesel::sql_query("SELECT current_database() AS name")
                .get_result::<Name>(pg)?
                .name),
            DbConn::Sqlite(_) => unreachable!("a PostgreSQL test"),
        })
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || {
        let mut admin = PgConnection::establish(&postgres_admin_url()).unwrap();
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid)::text AS name FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind::<Text, _>(database)
        .load::<Name>(&mut admin)
        .unwrap();
    })
    .await
    .unwrap();

    let mut outcomes = Vec::new();
    for _ in 0..8 {
        outcomes.push(ping(&test.db).await.is_ok());
    }
    let failures = outcomes.iter().filter(|ok| !**ok).count();
    assert!(failures <= 1, "{outcomes:?}");
    let first_ok = outcomes.iter().position(|ok| *ok).unwrap();
    assert!(outcomes[first_ok..].iter().all(|ok| *ok), "{outcomes:?}");
}
