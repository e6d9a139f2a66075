//! Reminders at scale, through the real workers against the fake's enforced
//! limits: thousands due at once arrive without a 429 and exactly once;
//! a worker SIGKILLed mid-delivery loses and doubles nothing; workers ride
//! out a restart of PostgreSQL on their own.
//!
//! Meetings are booked in bulk through the real booking transaction (which
//! plans their reminders), all in one write transaction, each between a
//! manager and an owner of its own so that everyone expects exactly one
//! message; then the test clock is moved past the reminders' due time.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use shared::clock::Clock;
use shared::db::reminders::REMINDER_KIND;
use shared::db::schema::reminders as reminders_table;
use shared::db::{DatabaseUrl, Db};
use shared::domain::booking::ReminderState;
use testkit::db::TestDb;
use testkit::fake_telegram::{Fault, FaultKind, Limits};
use testkit::meetings::book_pairs_synced;
use testkit::pg_cluster::PgCluster;
use testkit::stack::{Stack, StackConfig};

use super::pipe::{assert_each_got_exactly_one, kill_mid_delivery};
use super::reminders::{at, day, keys_of, move_clock_to};

const WAIT: Duration = Duration::from_secs(120);

/// How long before its meeting each reminder is due: a day, so nothing
/// seeded here is ever dropped as too late, however slow the machine.
const LEAD: TimeDelta = TimeDelta::hours(24);

/// Limits far above the default ones where the limit is not the point; the
/// fake still enforces them (and Telegram's one message per second per
/// chat).
fn raised(global: u32, rate: f64, bulk_rate: f64) -> StackConfig {
    StackConfig {
        limits: Limits {
            global: Some(global),
            ..Limits::default()
        },
        rate,
        bulk_rate,
        ..StackConfig::default()
    }
}

/// Books `count` one-hour meetings starting at `starts_at`, each between a
/// manager and an owner of its own (Telegram ids from `first_chat` on),
/// with one reminder [`LEAD`] ahead: users and bookings through the same
/// repository functions the bot uses, in one write transaction. Their
/// calendars are marked synced (the invites are not the point here and
/// would double the traffic). Returns every participant's chat, each known
/// to the fake.
async fn book_many(
    stack: &Stack,
    db: &Db,
    first_chat: i64,
    count: i64,
    starts_at: DateTime<Utc>,
) -> Vec<i64> {
    let now = Clock::system().now();
    let booked = db
        .write(move |c| book_pairs_synced(c, first_chat, 0..count, starts_at, LEAD, now))
        .await
        .unwrap();
    for chat in &booked {
        stack.telegram.user(*chat).has_chat();
    }
    booked
}

/// How many of `chats` got their message so far.
fn delivered(stack: &Stack, chats: &[i64]) -> usize {
    let stats = stack.telegram.stats();
    chats
        .iter()
        .filter(|c| stats.delivered.contains_key(c))
        .count()
}

/// The reminders in `state`.
async fn reminders_in(db: &Db, state: ReminderState) -> i64 {
    db.read(move |c| {
        Ok(reminders_table::table
            .filter(reminders_table::state.eq(state))
            .count()
            .get_result(c)?)
    })
    .await
    .unwrap()
}

/// Every chat got exactly one message (its reminder), every reminder row
/// is sent and has exactly one outbox row, and Telegram never said 429.
async fn assert_each_reminded_once(stack: &Stack, db: &Db, chats: &[i64]) {
    assert_each_got_exactly_one(stack, chats).await;
    let total = i64::try_from(chats.len()).unwrap();
    assert_eq!(reminders_in(db, ReminderState::Sent).await, total);
    let keys = keys_of(db, REMINDER_KIND).await;
    assert_eq!(keys.len(), chats.len(), "one outbox row per reminder");
    let stats = stack.telegram.stats();
    assert_eq!(stats.too_many_requests, 0, "the budget kept the limits");
    for chat in [chats[0], chats[chats.len() - 1]] {
        let got = stack.telegram.bot_messages(chat);
        assert!(got[0].text.starts_with("⏰"), "{}", got[0].text);
    }
}

/// Three workers, the fake enforcing 300 messages a second and the budget
/// just under it: 3,000 reminders due at once (1,500 meetings, manager and
/// owner) all arrive, none twice, without a single 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_deliver_3000_due_reminders_within_the_limits_once_each() {
    let mut stack = Stack::new(TestDb::postgres().await, raised(300, 280.0, 270.0)).await;
    let db = stack.db.db.clone();
    let starts_at = at(day(3), 10);
    let chats = book_many(&stack, &db, 8_000_000, 1_500, starts_at).await;
    assert_eq!(chats.len(), 3_000);
    assert_eq!(reminders_in(&db, ReminderState::Pending).await, 3_000);
    for _ in 0..3 {
        stack.start_worker().await;
    }

    move_clock_to(&stack, starts_at - LEAD + TimeDelta::minutes(1));
    assert_each_reminded_once(&stack, &db, &chats).await;
    stack.assert_no_secret_in_logs();
}

/// A worker is SIGKILLed while 1,000 reminders are due and being delivered
/// (Telegram holding its requests at that moment); a new worker delivers
/// every one, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_with_1000_reminders_due_loses_none_and_doubles_none() {
    let mut stack = Stack::new(TestDb::postgres().await, raised(300, 250.0, 150.0)).await;
    let db = stack.db.db.clone();
    let starts_at = at(day(3), 10);
    let chats = book_many(&stack, &db, 8_100_000, 500, starts_at).await;
    stack.start_worker().await;

    let due_at = starts_at - LEAD;
    move_clock_to(&stack, due_at + TimeDelta::minutes(1));
    kill_mid_delivery(&mut stack, &chats, 150).await;
    let delivered_at_kill = delivered(&stack, &chats);

    // A hand-over the dead worker committed without pushing its delivery
    // waits for the outbox sweep's grace (30 s by the services' clock):
    // the clock jumps past it rather than the test waiting.
    move_clock_to(&stack, due_at + TimeDelta::minutes(2));
    stack.start_worker().await;
    assert_each_reminded_once(&stack, &db, &chats).await;
    assert!(
        delivered_at_kill < chats.len(),
        "the kill came while reminders were still being delivered"
    );
}

/// The test's own PostgreSQL cluster is stopped (`pg_ctl -m fast`) while
/// two workers deliver 1,000 due reminders, with sends in flight at
/// Telegram, and started again on the same port a few seconds later: the
/// workers recover on their own and every reminder arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_ride_out_a_postgres_restart_and_deliver_each_reminder_once() {
    assert!(
        PgCluster::available(),
        "this test starts a PostgreSQL cluster of its own: install the server (postgresql)"
    );
    let cluster = tokio::task::spawn_blocking(PgCluster::start_new)
        .await
        .unwrap();
    let url = cluster.create_database("scheduler");
    let db = Db::connect(&DatabaseUrl::parse(&url).unwrap(), 4)
        .await
        .unwrap();
    shared::db::migrate::run(&db).await.unwrap();

    // The stack's own test database stays unused: the services get the
    // cluster's URL instead (the later variable wins).
    let mut config = raised(300, 200.0, 100.0);
    config.env.push(("DATABASE_URL".to_owned(), url.clone()));
    // A worker is presumed dead after a silence far longer than the outage
    // (as in production: 10 s × 6), so no job is run twice meanwhile.
    config
        .env
        .push(("WORKER_MISSED_HEARTBEATS".to_owned(), "30".to_owned()));
    let mut stack = Stack::new(TestDb::postgres().await, config).await;
    let starts_at = at(day(3), 10);
    let chats = book_many(&stack, &db, 8_200_000, 500, starts_at).await;
    stack.start_worker().await;
    stack.start_worker().await;

    move_clock_to(&stack, starts_at - LEAD + TimeDelta::minutes(1));
    stack
        .telegram
        .wait_for_stats(
            |s| chats.iter().filter(|c| s.delivered.contains_key(c)).count() >= 150,
            WAIT,
        )
        .await
        .unwrap();
    // Requests are in flight at Telegram when the server goes down (the
    // next ones are slowed down so that some surely are): their senders
    // hold each message's sending lease and wait for the database to
    // record the send, so nobody sends one of them again meanwhile.
    stack.telegram.inject(Fault::on(
        "sendMessage",
        FaultKind::Delay(Duration::from_secs(2)),
        20,
    ));
    let delivered_at_stop = delivered(&stack, &chats);
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start();
        cluster
    })
    .await
    .unwrap();

    assert_each_reminded_once(&stack, &db, &chats).await;
    assert!(
        delivered_at_stop < chats.len(),
        "the restart came while reminders were still being delivered"
    );
    stack.assert_no_secret_in_logs();
    db.close();
    drop(stack);
    drop(cluster);
}
