//! `--scenario flood`: one user floods while others ask for `/help`. The
//! fake Telegram keeps Telegram's per-chat limit (one message a second per
//! chat) with the token's limit switched off, and the bot's budget
//! (`TELEGRAM_RATE`) is raised likewise, so only per-chat pacing and the
//! bot's own handling stand between a bystander and their reply.
//!
//! A stranger sends `--flood-updates` (default 300) text messages evenly
//! within one second; meanwhile `--bystanders` (default 50) other users
//! each send `/help` once, spread over the same second. Prints the
//! bystanders' reply times (their send → their reply, p50/p99/max; bar: all
//! within 3 s), how many never got one within `--flood-timeout-secs`, and
//! what the flooder got: ordinary replies and other notices (a "slow down"
//! notice is any message that is not the ordinary reply).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use shared::domain::user::Language;
use shared::i18n::t;

use crate::Bench;
use crate::common::{Process, summary};

/// The flooder's Telegram id; the bystanders follow it.
const FLOODER: i64 = 4_000_000;
/// When the flood starts after the services did.
const SETTLE: Duration = Duration::from_secs(3);
/// The time over which the flood and the bystanders' messages are spread.
const FLOOD_SPAN: Duration = Duration::from_secs(1);
/// How long after the last bystander's reply the flooder's messages are
/// still counted.
const AFTERMATH: Duration = Duration::from_secs(5);

/// The flood (see the module docs).
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) async fn flood(bench: &Bench) {
    let (args, fake) = (&bench.args, &bench.fake);
    let bot = bench.spawn_bot();
    let worker = bench.spawn_worker();
    tokio::time::sleep(SETTLE).await;

    let flooder = fake.user(FLOODER).first_name("Flood");
    let bystanders: Vec<_> = (1..=i64::from(args.bystanders))
        .map(|i| fake.user(FLOODER + i).first_name("Bystander"))
        .collect();
    let timeout = Duration::from_secs(args.flood_timeout_secs);
    let started = Instant::now();
    let flood_updates = args.flood_updates;
    let flood = tokio::spawn(async move {
        for i in 0..flood_updates {
            let at = FLOOD_SPAN.mul_f64(f64::from(i) / f64::from(flood_updates.max(1)));
            tokio::time::sleep_until((started + at).into()).await;
            flooder.send_text(&format!("flood {i}"));
        }
    });
    let count = bystanders.len();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, user) in bystanders.into_iter().enumerate() {
        let fake = fake.clone();
        let at = FLOOD_SPAN.mul_f64((i as f64 + 0.5) / count.max(1) as f64);
        tasks.spawn(async move {
            tokio::time::sleep_until((started + at).into()).await;
            let sent = Instant::now();
            user.send_text("/help");
            fake.wait_for_bot_message(user.id(), |_| true, timeout)
                .await
                .ok()
                .map(|_| sent.elapsed())
        });
    }
    let mut answered: Vec<Duration> = Vec::new();
    let mut unanswered = 0;
    while let Some(outcome) = tasks.join_next().await {
        match outcome.expect("bystander task") {
            Some(latency) => answered.push(latency),
            None => unanswered += 1,
        }
    }
    flood.await.expect("flood task");
    let bystanders_done = started.elapsed();
    tokio::time::sleep(AFTERMATH).await;

    let ordinary = t(Language::En, "guest.hint", &[]);
    let mut notices: BTreeMap<String, usize> = BTreeMap::new();
    let mut replies = 0;
    for message in fake.bot_messages(FLOODER) {
        if message.source == ordinary {
            replies += 1;
        } else {
            *notices.entry(message.text).or_default() += 1;
        }
    }
    let within_bar = answered
        .iter()
        .filter(|latency| **latency <= Duration::from_secs(3))
        .count();
    // A bystander never answered counts as the whole wait.
    let mut all = answered;
    all.extend(std::iter::repeat_n(timeout, unanswered));
    let alive = |process: &Process| {
        // `try_wait` needs `&mut`; /proc tells as much.
        std::path::Path::new(&format!("/proc/{}", process.0.id())).exists()
    };
    println!(
        "flood: one user sent {flood_updates} updates within {} s while {count} others each sent /help (Telegram: 1/s per chat, token limit off)",
        FLOOD_SPAN.as_secs()
    );
    println!(
        "  bystanders' reply time: {} (bar: all within 3 s; one not answered counts as {} s); {within_bar} of {count} within 3 s, {unanswered} not answered within {} s",
        summary(&mut all),
        timeout.as_secs(),
        timeout.as_secs()
    );
    println!(
        "  flooder, {:.0} s after the flood began: {replies} ordinary replies, {} other notices{}",
        (bystanders_done + AFTERMATH).as_secs_f64(),
        notices.values().sum::<usize>(),
        if notices.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                notices
                    .iter()
                    .map(|(text, n)| format!(
                        "{n} × \"{}\"",
                        text.chars().take(60).collect::<String>()
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    println!(
        "  processes still running: bot {}, worker {}",
        alive(&bot),
        alive(&worker)
    );
    drop(worker);
    drop(bot);
}
