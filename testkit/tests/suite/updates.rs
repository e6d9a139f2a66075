//! Receiving updates under traffic no person makes: a flood from one user,
//! updates the bot cannot read, a database outage and a killed bot. Each
//! is driven through the fake Telegram against the real binaries.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use shared::db::schema::inbound_updates;
use shared::db::{DatabaseUrl, Db};
use testkit::db::TestDb;
use testkit::fake_telegram::Limits;
use testkit::pg_cluster::PgCluster;
use testkit::stack::{Stack, StackConfig};

const WAIT: Duration = Duration::from_secs(90);

/// The flooder's share: small, so its backlog drains quickly.
const CHAT_LIMIT: usize = 5;

/// Telegram's real per-chat limit, a global one no test here reaches.
fn config() -> StackConfig {
    StackConfig {
        limits: Limits {
            global: Some(1_000),
            ..Limits::default()
        },
        rate: 500.0,
        bulk_rate: 100.0,
        env: vec![("CHAT_UPDATE_LIMIT".to_owned(), CHAT_LIMIT.to_string())],
        ..StackConfig::default()
    }
}

/// Updates stored in the inbox, by state.
async fn inbox_states(db: &Db) -> Vec<(String, i64)> {
    db.read(|c| {
        Ok(inbound_updates::table
            .group_by(inbound_updates::state)
            .select((inbound_updates::state, diesel::dsl::count_star()))
            .order(inbound_updates::state)
            .load(c)?)
    })
    .await
    .unwrap()
}

fn count_in(states: &[(String, i64)], state: &str) -> i64 {
    states
        .iter()
        .find(|(s, _)| s == state)
        .map_or(0, |(_, n)| *n)
}

/// Waits until nothing is pending in the inbox.
async fn wait_until_all_handled(db: &Db) {
    let deadline = Instant::now() + WAIT;
    loop {
        let states = inbox_states(db).await;
        if count_in(&states, "pending") == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "still pending: {states:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until no outbox message is pending (a reply the killed bot had
/// in flight is re-sent by the worker's outbox sweep).
async fn wait_until_outbox_drained(db: &Db) {
    use shared::db::schema::outbox_messages;
    let deadline = Instant::now() + WAIT;
    loop {
        let pending: i64 = db
            .read(|c| {
                Ok(outbox_messages::table
                    .filter(outbox_messages::state.eq("pending"))
                    .count()
                    .get_result(c)?)
            })
            .await
            .unwrap();
        if pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{pending} messages still pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bot's `/health` answer.
async fn health(stack: &Stack) -> serde_json::Value {
    let port = stack.bot.as_ref().unwrap().http_port().await;
    reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// One user sends 300 updates at once while 50 others each send `/help`:
/// every bystander is answered within 3 s of sending, the flooder gets
/// its first few answers and exactly one "slow down" notice, and the rest
/// of the flood is recorded as dropped.
async fn a_flood_from_one_user_delays_nobody_else(db: TestDb) {
    let mut stack = Stack::new(db, config()).await;
    stack.start_bot().await;
    let flooder = stack.telegram.user(6_000).language_code("en");
    for _ in 0..300 {
        flooder.send_text("/help");
    }
    let bystanders: Vec<i64> = (6_001..6_051).collect();
    let sent_at = Instant::now();
    for id in &bystanders {
        stack
            .telegram
            .user(*id)
            .language_code("en")
            .send_text("/help");
    }
    stack
        .telegram
        .wait_for_stats(
            |s| bystanders.iter().all(|id| s.delivered.contains_key(id)),
            Duration::from_secs(3),
        )
        .await
        .unwrap_or_else(|_| {
            let stats = stack.telegram.stats();
            let missing: Vec<_> = bystanders
                .iter()
                .filter(|id| !stats.delivered.contains_key(id))
                .collect();
            panic!(
                "bystanders without an answer {:?} after sending: {missing:?}",
                sent_at.elapsed()
            )
        });

    // The flooder's lane drains: the updates it admitted are answered, one
    // notice, nothing else (the first getUpdates answer may carry only the
    // first of the flood, handled before the rest arrives: then the chat
    // gets one more answer than its limit).
    wait_until_all_handled(&stack.db.db).await;
    wait_until_outbox_drained(&stack.db.db).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flooder_handled: i64 = stack
        .db
        .db
        .read(|c| {
            Ok(inbound_updates::table
                .filter(inbound_updates::chat_id.eq(6_000))
                .filter(inbound_updates::state.eq("handled"))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    let limit = i64::try_from(CHAT_LIMIT).unwrap();
    assert!(
        (limit..=2 * limit).contains(&flooder_handled),
        "the flooder's lane took {flooder_handled} updates"
    );
    let flooder_messages = stack.telegram.bot_messages(6_000);
    let notices = flooder_messages
        .iter()
        .filter(|m| m.text.contains("set the rest of those messages aside"))
        .count();
    assert_eq!(notices, 1, "one slow-down notice per flood");
    assert_eq!(
        i64::try_from(flooder_messages.len()).unwrap(),
        flooder_handled + 1,
        "each admitted update answered once, plus the notice"
    );
    for id in &bystanders {
        assert_eq!(stack.telegram.sent_count(*id), 1, "chat {id}");
    }
    let states = inbox_states(&stack.db.db).await;
    let dropped = count_in(&states, "dropped");
    assert_eq!(dropped, 300 - flooder_handled, "{states:?}");
    assert_eq!(count_in(&states, "handled"), 50 + flooder_handled);
    let health = health(&stack).await;
    assert_eq!(health["handling"]["dropped"], dropped, "{health}");
    assert_eq!(health["status"], "ok", "{health}");
    stack.assert_no_secret_in_logs();
    assert!(stack.bot.as_mut().unwrap().terminate().await.success());
}

/// An update of a kind Telegram added later, a message from a chat type
/// the bot does not know and a button press whose data holds a lone
/// surrogate arrive in one batch with three ordinary messages: the three
/// are answered, the others are counted and stored, and polling goes on.
async fn unreadable_updates_never_stop_polling(db: TestDb) {
    let mut stack = Stack::new(db, config()).await;
    stack.start_bot().await;
    let users: Vec<_> = (7_101..7_104)
        .map(|id| stack.telegram.user(id).language_code("en"))
        .collect();
    // Held: everything below comes in one getUpdates answer.
    stack.telegram.hold();
    users[0].send_text("/help");
    stack
        .telegram
        .send_raw_update("guest_message", r#"{"message_id":1,"text":"hi"}"#);
    users[1].send_text("/help");
    stack.telegram.send_raw_update(
        "message",
        r#"{"message_id":2,"date":0,"from":{"id":7200,"is_bot":false,"first_name":"Q"},"chat":{"id":-7200,"type":"channel_direct"},"text":"/help"}"#,
    );
    stack.telegram.send_raw_update(
        "callback_query",
        r#"{"id":"77","chat_instance":"1","from":{"id":7201,"is_bot":false,"first_name":"Z"},"data":"adm:\ud800"}"#,
    );
    users[2].send_text("/help");
    stack.telegram.release();

    for user in &users {
        stack
            .telegram
            .wait_for_bot_message(user.id(), |m| m.text.contains("/start"), WAIT)
            .await
            .unwrap();
    }
    // Polling goes on after the batch.
    users[0].send_text("/help");
    stack
        .telegram
        .wait_for_stats(
            |s| s.delivered.get(&users[0].id()).copied().unwrap_or(0) >= 2,
            WAIT,
        )
        .await
        .unwrap();
    wait_until_all_handled(&stack.db.db).await;
    let states = inbox_states(&stack.db.db).await;
    assert_eq!(count_in(&states, "unreadable"), 1, "{states:?}");
    assert_eq!(count_in(&states, "skipped"), 2, "{states:?}");
    assert_eq!(count_in(&states, "handled"), 4, "{states:?}");
    let health = health(&stack).await;
    assert_eq!(health["handling"]["unreadable"], 1, "{health}");
    assert_eq!(health["handling"]["skipped"], 2, "{health}");
    assert_eq!(stack.telegram.sent_count(-7200), 0);
    assert_eq!(stack.telegram.sent_count(7201), 0);
    let logs = stack.bot.as_ref().unwrap().logs().join("\n");
    assert!(
        logs.contains("an unreadable update was stored raw and skipped"),
        "the unreadable update is logged"
    );
    assert!(!logs.contains("adm:"), "no user data in the logs");
    stack.assert_no_secret_in_logs();
}

on_both_backends!(
    a_flood_from_one_user_delays_nobody_else,
    unreadable_updates_never_stop_polling,
);

/// A stranger's registration, three messages that only make sense in
/// order: the last answer names them first name first.
struct Registrant {
    id: i64,
    first: String,
    last: String,
}

impl Registrant {
    fn new(id: i64) -> Self {
        Self {
            id,
            first: format!("Ann{id}"),
            last: format!("Lee{id}"),
        }
    }

    /// The question that ends the three steps, if they were handled in
    /// order.
    fn department_question(&self) -> String {
        format!("{} {}, which", self.first, self.last)
    }
}

/// Every registrant got each of their three answers exactly once, the
/// last one naming them in the order they typed (so their updates were
/// handled in order).
async fn assert_registered_in_order_once(stack: &Stack, db: &Db, people: &[Registrant]) {
    for person in people {
        let question = person.department_question();
        stack
            .telegram
            .wait_for_bot_message(person.id, |m| m.text.contains(&question), WAIT)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{} got {:?}",
                    person.id,
                    stack
                        .telegram
                        .bot_messages(person.id)
                        .iter()
                        .map(|m| m.text.clone())
                        .collect::<Vec<_>>()
                )
            });
    }
    wait_until_all_handled(db).await;
    wait_until_outbox_drained(db).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for person in people {
        let texts: Vec<String> = stack
            .telegram
            .bot_messages(person.id)
            .into_iter()
            .map(|m| m.text)
            .collect();
        assert_eq!(texts.len(), 3, "chat {}: {texts:?}", person.id);
        let once = |needle: &str| texts.iter().filter(|t| t.contains(needle)).count() == 1;
        assert!(once("first name"), "{texts:?}");
        assert!(once(&format!("Thank you, {}.", person.first)), "{texts:?}");
        assert!(once(&person.department_question()), "{texts:?}");
    }
}

/// The test's own PostgreSQL cluster is stopped for 20 s while users keep
/// sending; once it is back every update is handled exactly once, in
/// order per chat, and every answer arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_sent_while_the_database_is_down_are_all_handled_once_in_order() {
    assert!(
        PgCluster::available(),
        "this test starts a PostgreSQL cluster of its own: install the server (postgresql)"
    );
    let cluster = tokio::task::spawn_blocking(PgCluster::start_new)
        .await
        .unwrap();
    let url = cluster.create_database("scheduler");
    let db = Db::connect(&DatabaseUrl::parse(&url).unwrap(), 2)
        .await
        .unwrap();
    shared::db::migrate::run(&db).await.unwrap();
    let mut config = config();
    config.env.push(("DATABASE_URL".to_owned(), url.clone()));
    let mut stack = Stack::new(TestDb::postgres().await, config).await;
    stack.start_bot().await;
    stack.start_worker().await;

    let people: Vec<Registrant> = (7_301..7_321).map(Registrant::new).collect();
    for person in &people {
        stack
            .telegram
            .user(person.id)
            .language_code("en")
            .send_text("/start");
    }
    for person in &people {
        stack
            .telegram
            .wait_for_bot_message(person.id, |m| m.text.contains("first name"), WAIT)
            .await
            .unwrap();
    }

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .unwrap();
    for person in &people {
        let user = stack.telegram.user(person.id);
        user.send_text(&person.first);
        tokio::time::sleep(Duration::from_millis(250)).await;
        user.send_text(&person.last);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let behind = health(&stack).await;
    assert_eq!(behind["handling"]["state"], "behind", "{behind}");
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.start();
        cluster
    })
    .await
    .unwrap();

    assert_registered_in_order_once(&stack, &db, &people).await;
    let states = inbox_states(&db).await;
    assert_eq!(count_in(&states, "handled"), 60, "{states:?}");
    assert_eq!(health(&stack).await["handling"]["state"], "ok");
    stack.assert_no_secret_in_logs();
    db.close();
    drop(stack);
    drop(cluster);
}

/// The bot is SIGKILLed while it handles a batch (Telegram holds its
/// answers, so nothing it sent is in flight); a new bot and the worker
/// finish the work: nothing lost, nothing handled or answered twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_killed_mid_batch_loses_nothing_and_doubles_nothing() {
    let mut stack = Stack::new(TestDb::postgres().await, config()).await;
    stack.start_bot().await;
    stack.start_worker().await;
    let people: Vec<Registrant> = (7_401..7_441).map(Registrant::new).collect();
    for person in &people {
        let user = stack.telegram.user(person.id).language_code("en");
        user.send_text("/start");
        user.send_text(&person.first);
        user.send_text(&person.last);
    }
    // Some answers are out; then Telegram stops answering and the bot dies
    // with the rest of the batch in hand.
    stack
        .telegram
        .wait_for_stats(|s| s.delivered.len() >= 5, WAIT)
        .await
        .unwrap();
    stack.telegram.hold();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stack.bot.as_mut().unwrap().kill().await;
    let pending_at_kill = count_in(&inbox_states(&stack.db.db).await, "pending");
    stack.telegram.release();
    stack.start_bot().await;

    assert_registered_in_order_once(&stack, &stack.db.db, &people).await;
    let states = inbox_states(&stack.db.db).await;
    assert_eq!(count_in(&states, "handled"), 120, "{states:?}");
    assert!(
        pending_at_kill > 0,
        "the bot died with updates in hand ({states:?})"
    );
    stack.assert_no_secret_in_logs();
}
