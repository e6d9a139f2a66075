//! The shared Telegram budget in the repository layer
//! (`shared::db::budget`) on both backends: turns due at once are reserved
//! together, a turn in the future stops the chain, concurrent senders never
//! get the same turn, and PostgreSQL's relaxed commit stays with the
//! reservation's own statement.

use std::collections::BTreeSet;

use diesel::prelude::*;
use diesel::sql_types::Text;
use shared::db::DbConn;
use shared::db::budget::{self, Bucket, Draw, Reserved};
use testkit::db::TestDb;

const NOW: i64 = 1_796_000_000_000_000;
const CHAT_STEP: i64 = 1_100_000;
const TOTAL_STEP: i64 = 40_000;
const BULK_STEP: i64 = 50_000;

fn chat(chat_id: i64) -> Draw {
    Draw {
        bucket: Bucket::Chat(chat_id),
        step_us: CHAT_STEP,
    }
}

fn lane(name: &'static str, step_us: i64) -> Draw {
    Draw {
        bucket: Bucket::Lane(name),
        step_us,
    }
}

async fn reserve(db: &TestDb, draws: Vec<Draw>, now_us: i64) -> Reserved {
    db.db
        .read(move |c| budget::reserve_in_order(c, &draws, now_us))
        .await
        .unwrap()
}

async fn chains_while_due_and_stops_at_a_wait(db: TestDb) {
    let reply = vec![chat(42), lane("total", TOTAL_STEP)];
    // A fresh chat and an idle token: both turns now, in one go.
    assert_eq!(
        reserve(&db, reply.clone(), NOW).await,
        Reserved {
            count: 2,
            at_us: NOW
        }
    );
    // The same chat again: its turn is a second away, so the token is not
    // drawn on yet (it would sit reserved and idle meanwhile).
    assert_eq!(
        reserve(&db, reply.clone(), NOW).await,
        Reserved {
            count: 1,
            at_us: NOW + CHAT_STEP
        }
    );
    assert_eq!(
        reserve(&db, reply[1..].to_vec(), NOW + CHAT_STEP).await,
        Reserved {
            count: 1,
            at_us: NOW + CHAT_STEP
        }
    );
    // Another chat now: due at once, then it waits for the token's turn.
    assert_eq!(
        reserve(&db, vec![chat(43), lane("total", TOTAL_STEP)], NOW).await,
        Reserved {
            count: 2,
            at_us: NOW + CHAT_STEP + TOTAL_STEP
        }
    );
    // Bulk: chat, bulk lane and token, the token last.
    let bulk = vec![chat(44), lane("bulk", BULK_STEP), lane("total", TOTAL_STEP)];
    assert_eq!(
        reserve(&db, bulk.clone(), NOW).await,
        Reserved {
            count: 3,
            at_us: NOW + CHAT_STEP + 2 * TOTAL_STEP
        }
    );
    assert_eq!(
        reserve(&db, bulk[1..].to_vec(), NOW).await,
        Reserved {
            count: 1,
            at_us: NOW + BULK_STEP
        }
    );
    // Inside a caller's transaction it works the same and leaves the
    // commit alone.
    let (reserved, setting) = db
        .db
        .write(|c| {
            let reserved =
                budget::reserve_in_order(c, &[chat(45), lane("total", TOTAL_STEP)], NOW)?;
            Ok((reserved, synchronous_commit(c)))
        })
        .await
        .unwrap();
    assert_eq!(
        reserved,
        Reserved {
            count: 2,
            at_us: NOW + CHAT_STEP + 3 * TOTAL_STEP
        }
    );
    assert_ne!(setting.as_deref(), Some("off"));
    // The relaxed commit of a reservation on its own does not outlive it.
    let setting = db
        .db
        .read(|c| {
            budget::reserve_in_order(c, &[chat(46), lane("total", TOTAL_STEP)], NOW)?;
            Ok(synchronous_commit(c))
        })
        .await
        .unwrap();
    assert_ne!(setting.as_deref(), Some("off"));
}

/// PostgreSQL's `synchronous_commit` on this connection (`None` on SQLite).
fn synchronous_commit(conn: &mut DbConn) -> Option<String> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }
    match conn {
        DbConn::Pg(pg) => {
            diesel::sql_query("SELECT current_setting('synchronous_commit') AS value")
                .get_result::<Setting>(pg)
                .map(|setting| setting.value)
                .ok()
        }
        DbConn::Sqlite(_) => None,
    }
}

async fn concurrent_senders_get_distinct_turns(db: TestDb) {
    let mut tasks = tokio::task::JoinSet::new();
    for chat_id in 0..40 {
        let db = db.db.clone();
        tasks.spawn(async move {
            let draws = [chat(1_000 + chat_id), lane("total", TOTAL_STEP)];
            db.read(move |c| budget::reserve_in_order(c, &draws, NOW))
                .await
                .unwrap()
        });
    }
    let mut turns = BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        let reserved = joined.unwrap();
        assert_eq!(reserved.count, 2);
        assert!(
            turns.insert(reserved.at_us),
            "turn {} twice",
            reserved.at_us
        );
    }
    let expected: BTreeSet<i64> = (0..40).map(|k| NOW + k * TOTAL_STEP).collect();
    assert_eq!(turns, expected);
}

on_both_backends!(
    chains_while_due_and_stops_at_a_wait,
    concurrent_senders_get_distinct_turns,
);
