//! The whole pipe end to end: fake Telegram → bot → database → queue →
//! worker → fake Telegram, with the real binaries on both databases.

use std::collections::HashMap;
use std::time::Duration;

use testkit::db::TestDb;
use testkit::fake_telegram::{Chaos, Limits};
use testkit::stack::{Stack, StackConfig};

const WAIT: Duration = Duration::from_secs(90);

/// `/start` from a stranger: a greeting from the bot, a notice to the admin
/// from the worker, one correlation id across both processes, no secret in
/// any log, a healthy `/health`.
async fn start_greets_and_the_worker_tells_the_admin(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    stack.start_worker().await;
    let admin = stack.telegram.user(7001).first_name("Ada").has_chat();
    let stranger = stack
        .telegram
        .user(555)
        .first_name("Анна <b>*")
        .last_name("O'Brien")
        .username("anna")
        .language_code("ru");

    stranger.send_text("/start");
    let greeting = stack
        .telegram
        .wait_for_bot_message(555, |m| m.text.contains("Здравствуйте"), WAIT)
        .await
        .unwrap();
    assert!(greeting.text.contains("Анна <b>*"), "{}", greeting.text);

    let notice = stack
        .telegram
        .wait_for_bot_message(admin.id(), |m| m.text.contains("запустил(а) бота"), WAIT)
        .await
        .unwrap();
    assert!(notice.text.contains("Анна <b>* O'Brien"), "{}", notice.text);
    assert!(notice.text.contains("@anna"), "{}", notice.text);

    // The same correlation id in the bot's update span and the worker's job.
    let bot = stack.bot.as_ref().unwrap();
    let line = bot
        .wait_for_log(&["\"correlation_id\"", "\"update_id\":"], WAIT)
        .await;
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    let correlation_id = json["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find_map(|s| s["correlation_id"].as_str()))
        .expect("correlation id in the update span")
        .to_owned();
    stack.workers[0]
        .wait_for_log(&[&format!("\"correlation_id\":\"{correlation_id}\"")], WAIT)
        .await;

    // A second /start greets again but does not notify the admin twice.
    stranger.send_text("/start");
    stack
        .telegram
        .wait_for_stats(|s| s.delivered.get(&555).copied().unwrap_or(0) >= 2, WAIT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stack.telegram.sent_count(admin.id()),
        1,
        "one notice per newcomer"
    );

    let port = bot.http_port().await;
    let health = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body = health.text().await.unwrap();
    assert!(
        body.contains("\"status\":\"ok\"") && !body.contains(testkit::stack::TOKEN),
        "{body}"
    );
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    stack.assert_no_secret_in_logs();
    for worker in &mut stack.workers {
        assert!(
            worker.terminate().await.success(),
            "worker stops cleanly on SIGTERM"
        );
    }
    assert!(stack.bot.as_mut().unwrap().terminate().await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_greets_and_the_worker_tells_the_admin_on_postgres() {
    start_greets_and_the_worker_tells_the_admin(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_greets_and_the_worker_tells_the_admin_on_sqlite() {
    start_greets_and_the_worker_tells_the_admin(TestDb::sqlite().await).await;
}

/// Chats of `count` admins who opened the bot earlier.
fn admins(from: i64, count: i64) -> Vec<i64> {
    (from..from + count).collect()
}

/// Waits until each admin got exactly one message and nobody got two.
pub(crate) async fn assert_each_got_exactly_one(stack: &Stack, chats: &[i64]) {
    let expected = chats.len();
    stack
        .telegram
        .wait_for_stats(
            |s| {
                chats
                    .iter()
                    .filter(|c| s.delivered.get(c).copied().unwrap_or(0) >= 1)
                    .count()
                    == expected
            },
            Duration::from_secs(240),
        )
        .await
        .unwrap();
    // Anything still in flight lands now, or never.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = stack.telegram.stats();
    let doubled: HashMap<i64, u64> = chats
        .iter()
        .filter_map(|c| {
            stats
                .delivered
                .get(c)
                .filter(|n| **n != 1)
                .map(|n| (*c, *n))
        })
        .collect();
    assert!(
        doubled.is_empty(),
        "chats that did not get exactly one message: {doubled:?}"
    );
}

/// Once `reached` of `chats` got their message, kills the first worker
/// while Telegram holds every request (so none is in flight at the kill:
/// what Telegram answered before is recorded within the pause), then lets
/// Telegram answer again.
pub(crate) async fn kill_mid_delivery(stack: &mut Stack, chats: &[i64], reached: usize) {
    stack
        .telegram
        .wait_for_stats(
            |s| chats.iter().filter(|c| s.delivered.contains_key(c)).count() >= reached,
            WAIT,
        )
        .await
        .unwrap();
    stack.telegram.hold();
    // Long enough for a loaded machine to record what Telegram answered
    // before the hold (the record now also ends the message's lease).
    tokio::time::sleep(Duration::from_secs(3)).await;
    stack.workers[0].kill().await;
    stack.telegram.release();
}

/// 200 notices queued; the worker is killed while Telegram holds its
/// requests; a new worker delivers every notice, none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_doubles_nothing() {
    let chats = admins(10_000, 200);
    let config = StackConfig {
        admins: chats.clone(),
        ..StackConfig::default()
    };
    let mut stack = Stack::new(TestDb::postgres().await, config).await;
    for chat in &chats {
        stack.telegram.user(*chat).has_chat();
    }
    stack.start_bot().await;
    stack
        .telegram
        .user(99)
        .first_name("New")
        .send_text("/start");
    stack
        .telegram
        .wait_for_bot_message(99, |_| true, WAIT)
        .await
        .unwrap();

    stack.start_worker().await;
    kill_mid_delivery(&mut stack, &chats, 20).await;

    stack.start_worker().await;
    assert_each_got_exactly_one(&stack, &chats).await;
    assert_eq!(
        stack.telegram.stats().too_many_requests,
        0,
        "the budget kept Telegram's limits"
    );
}

/// The bot and two workers at raised limits deliver 1,000 notices without
/// a single 429; then a storm of 429s and 5xx loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_stay_within_the_limits_and_survive_a_storm() {
    let chats = admins(20_000, 1_000);
    let config = StackConfig {
        admins: chats.clone(),
        limits: Limits {
            global: Some(150),
            ..Limits::default()
        },
        rate: 140.0,
        bulk_rate: 120.0,
        ..StackConfig::default()
    };
    let mut stack = Stack::new(TestDb::postgres().await, config).await;
    for chat in &chats {
        stack.telegram.user(*chat).has_chat();
    }
    stack.start_bot().await;
    stack.start_worker().await;
    stack.start_worker().await;

    stack
        .telegram
        .user(98)
        .first_name("Calm")
        .send_text("/start");
    assert_each_got_exactly_one(&stack, &chats).await;
    assert_eq!(
        stack.telegram.stats().too_many_requests,
        0,
        "no 429 within the budget"
    );

    // A storm: 30 % of sends fail with 429 or 5xx, at most 3 in a row per chat.
    stack.telegram.set_chaos(Chaos {
        seed: 7,
        error_rate: 0.3,
        max_consecutive: 3,
    });
    stack
        .telegram
        .user(97)
        .first_name("Stormy")
        .send_text("/start");
    stack
        .telegram
        .wait_for_stats(
            |s| {
                chats
                    .iter()
                    .filter(|c| s.delivered.get(c).copied().unwrap_or(0) >= 2)
                    .count()
                    == chats.len()
            },
            Duration::from_secs(240),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = stack.telegram.stats();
    let wrong: Vec<_> = chats
        .iter()
        .filter(|c| stats.delivered.get(c).copied().unwrap_or(0) != 2)
        .collect();
    assert!(
        wrong.is_empty(),
        "chats without exactly two notices: {wrong:?}"
    );
    stack.assert_no_secret_in_logs();
}

/// Two bot replicas: one polls, the other stands by and takes over when the
/// first dies; users are answered once throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_bot_takes_over_polling_when_the_active_one_dies() {
    let mut stack = Stack::new(TestDb::postgres().await, StackConfig::default()).await;
    stack.start_bot().await;
    let mut standby = stack.start_standby_bot().await;
    stack
        .bot
        .as_ref()
        .unwrap()
        .wait_for_log(&["this bot is the active poller"], WAIT)
        .await;
    standby.wait_for_log(&["standing by"], WAIT).await;

    let user = stack
        .telegram
        .user(321)
        .first_name("Pat")
        .language_code("en");
    user.send_text("/help");
    stack
        .telegram
        .wait_for_bot_message(321, |m| m.text.contains("/start"), WAIT)
        .await
        .unwrap();

    stack.bot.as_mut().unwrap().kill().await;
    standby
        .wait_for_log(&["this bot is the active poller"], WAIT)
        .await;
    user.send_text("/help");
    stack
        .telegram
        .wait_for_stats(|s| s.delivered.get(&321).copied().unwrap_or(0) >= 2, WAIT)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stack.telegram.sent_count(321),
        2,
        "each update answered once"
    );
    assert!(standby.terminate().await.success());
}
