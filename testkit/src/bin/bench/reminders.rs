//! `--scenario reminders`: `--reminders N` (default 10,000) reminders due
//! at the same instant, the fake Telegram at the real limits (30 messages a
//! second for the token, one a second per chat), the worker(s) at
//! `TELEGRAM_BULK_RATE=28`. Prints the delivered rate as a fraction of that
//! budget (target ≥ 95 %), Telegram's 429s (target 0), the lateness
//! (delivery minus due time) p50/p99/max, and the workers' peak RSS.
//!
//! Meetings are booked through the real booking transaction (which plans
//! the reminders), each between a manager and an owner of its own, a day
//! and an hour ahead with a reminder a day ahead; then the services' clock
//! (`TEST_CLOCK_FILE`) jumps to the reminders' due time.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use shared::clock::{self, Clock};
use shared::db::reminders::REMINDER_KIND;
use shared::db::schema::{outbox_messages, users};
use shared::db::types::{TelegramId, UtcTime};
use shared::db::{DatabaseUrl, Db};
use testkit::fake_telegram::{FakeTelegram, FakeTelegramConfig};
use testkit::meetings::book_pairs_synced;

use crate::common::{Process, ms, percentile};
use crate::{Bench, TOKEN};

/// Telegram ids of the seeded people, apart from the other scenarios'.
const FIRST_CHAT: i64 = 7_500_000;
/// The workers' budget for reminders (`TELEGRAM_BULK_RATE`), just under
/// Telegram's 30 a second.
const BULK_RATE: f64 = 28.0;
/// How long before its meeting each reminder is due.
const LEAD: TimeDelta = TimeDelta::hours(24);
/// Meetings booked per write transaction while seeding.
const SEED_CHUNK: i64 = 500;

/// Resident memory high-water mark of a process in MiB (`VmHWM`).
fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Books `count` meetings at `starts_at` (chats from [`FIRST_CHAT`] on),
/// in chunks of [`SEED_CHUNK`] per transaction; returns every chat.
async fn seed(db: &Db, count: i64, starts_at: DateTime<Utc>) -> Vec<i64> {
    let now = Clock::system().now();
    let mut chats = Vec::new();
    let mut first = 0;
    while first < count {
        let last = (first + SEED_CHUNK).min(count);
        let booked = db
            .write(move |c| book_pairs_synced(c, FIRST_CHAT, first..last, starts_at, LEAD, now))
            .await
            .expect("seed meetings");
        chats.extend(booked);
        first = last;
    }
    chats
}

/// The delivery instants of the reminders sent so far.
async fn sent_times(db: &Db) -> Vec<DateTime<Utc>> {
    db.read(|c| {
        Ok(outbox_messages::table
            .filter(outbox_messages::kind.eq(REMINDER_KIND))
            .filter(outbox_messages::sent_at.is_not_null())
            .select(outbox_messages::sent_at.assume_not_null())
            .load::<UtcTime>(c)?)
    })
    .await
    .expect("read delivery times")
    .into_iter()
    .map(|t| t.0)
    .collect()
}

/// Reminders at scale (see the module docs).
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) async fn reminders(bench: &Bench) {
    let args = &bench.args;
    let meetings = i64::try_from(args.reminders.div_ceil(2)).unwrap_or(i64::MAX);
    let url = DatabaseUrl::parse(&bench.database_url).expect("database URL");
    let db = Db::connect(&url, 2).await.expect("connect for seeding");
    let taken: i64 = db
        .read(|c| {
            Ok(users::table
                .filter(users::telegram_id.ge(TelegramId(FIRST_CHAT)))
                .filter(users::telegram_id.lt(TelegramId(FIRST_CHAT + 1_000_000)))
                .count()
                .get_result(c)?)
        })
        .await
        .expect("look for an earlier run");
    assert_eq!(
        taken, 0,
        "the database holds an earlier reminders run: use a fresh one"
    );

    // Due an hour from now, so nothing is due while seeding and starting.
    let due_at = Clock::system().now() + TimeDelta::hours(1);
    let starts_at = due_at + LEAD;
    let seeding = Instant::now();
    let chats = seed(&db, meetings, starts_at).await;
    println!(
        "reminders data: {} meetings, {} reminders due at the same instant (seeded in {:.1} s)",
        meetings,
        chats.len(),
        seeding.elapsed().as_secs_f64()
    );

    // Telegram's real limits, on a fake of this scenario's own.
    let fake = FakeTelegram::start(FakeTelegramConfig::new(TOKEN)).await;
    for chat in &chats {
        fake.user(*chat).has_chat();
    }
    let clock_file = bench.dir.path().join("clock-offset");
    clock::write_offset(&clock_file, TimeDelta::zero()).expect("write the clock file");
    let mut env = bench.env.clone();
    env.retain(|(key, _)| {
        !matches!(
            key.as_str(),
            "TELEGRAM_API_URL" | "TELEGRAM_RATE" | "TELEGRAM_BULK_RATE"
        )
    });
    env.extend(
        [
            ("TELEGRAM_API_URL", fake.base_url()),
            ("TELEGRAM_RATE", BULK_RATE.to_string()),
            ("TELEGRAM_BULK_RATE", BULK_RATE.to_string()),
            ("TEST_CLOCK_FILE", clock_file.display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let workers: Vec<Process> = (0..args.workers.max(1))
        .map(|_| crate::common::spawn(&bench.worker_bin, bench.dir.path(), &env))
        .collect();
    // Let them start (migrations are done; the queue opens).
    tokio::time::sleep(Duration::from_secs(3)).await;

    clock::write_offset(&clock_file, due_at - Clock::system().now())
        .expect("move the services' clock");
    let started = Instant::now();
    let expected = chats.len();
    let budget_time = Duration::from_secs_f64(expected as f64 / BULK_RATE);
    let deadline = budget_time * 2 + Duration::from_secs(120);
    let mut last_report = Instant::now();
    loop {
        let stats = fake.stats();
        let delivered = chats
            .iter()
            .filter(|c| stats.delivered.contains_key(c))
            .count();
        if delivered >= expected {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            println!(
                "  … {delivered} of {expected} delivered after {:.0} s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        assert!(
            started.elapsed() < deadline,
            "only {delivered} of {expected} reminders delivered within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Anything still in flight lands now, or never.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let peaks: Vec<String> = workers
        .iter()
        .map(|w| format!("{:.1} MiB", peak_rss_mib(w.0.id())))
        .collect();
    let stats = fake.stats();
    drop(workers);

    let doubled = chats
        .iter()
        .filter(|c| stats.delivered.get(c).copied().unwrap_or(0) != 1)
        .count();
    let mut times = sent_times(&db).await;
    times.sort_unstable();
    db.close();
    let (Some(first), Some(last)) = (times.first().copied(), times.last().copied()) else {
        println!("no reminder recorded as sent");
        return;
    };
    let span = (last - first).to_std().unwrap_or_default();
    let since_due = (last - due_at).to_std().unwrap_or_default();
    let rate = (times.len() as f64 - 1.0) / span.as_secs_f64().max(0.001);
    let mut lateness: Vec<Duration> = times
        .iter()
        .map(|t| (*t - due_at).to_std().unwrap_or_default())
        .collect();
    lateness.sort_unstable();
    let workers = args.workers.max(1);
    println!(
        "reminders: {} delivered by {workers} worker(s) at TELEGRAM_BULK_RATE={BULK_RATE} against Telegram's limits (30/s, 1/s per chat)",
        times.len()
    );
    println!(
        "  delivered rate: {rate:.2}/s between the first and the last delivery = {:.1} % of the {BULK_RATE}/s budget (target ≥ 95 %); all done {:.1} s after due ({:.2}/s overall)",
        rate * 100.0 / BULK_RATE,
        since_due.as_secs_f64(),
        times.len() as f64 / since_due.as_secs_f64().max(0.001)
    );
    println!(
        "  429s: {} (target 0); chats without exactly one message: {doubled}",
        stats.too_many_requests
    );
    println!(
        "  lateness (delivery − due): first {:.0} ms, p50 {:.1} s, p99 {:.1} s, max {:.1} s",
        ms(lateness[0]),
        percentile(&lateness, 50.0).as_secs_f64(),
        percentile(&lateness, 99.0).as_secs_f64(),
        percentile(&lateness, 100.0).as_secs_f64()
    );
    println!("  peak worker RSS: {}", peaks.join(", "));
}
