//! Diagnostics end to end: `diagnose` run as a command against real
//! deployments (fake Telegram, a real database, real bot and worker
//! processes) with a failure created on purpose, asserting the verdict and
//! the suggested fix; `--fix --apply` repairs; the `--json` document
//! checked against the schema documented in the README.
//!
//! Tests wait for outcomes with generous deadlines and never assert
//! durations; the quick run's time is printed for the record.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::OutboxMessageId;
use shared::db::{Db, DbConn, DbError};
use shared::diagnostics::monitor;
use shared::domain::delivery::Lane;
use shared::domain::user::{Language, Role};
use shared::jobs::DeliverMessage;
use shared::telegram::OutgoingMessage;
use testkit::bins::binary;
use testkit::db::TestDb;
use testkit::fake_google::{FakeGoogle, FakeGoogleConfig};
use testkit::fake_telegram::{Fault, FaultKind};
use testkit::people::Person;
use testkit::records::SeedUser;
use testkit::stack::{Stack, StackConfig, TOKEN};

/// Generous: the machine is shared and slow at times.
const DEADLINE: Duration = Duration::from_secs(90);

/// What one `diagnose` run printed and returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("diagnose --json printed no JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `<binary> diagnose <args>` with the deployment's environment
/// (plus `extra`), in a scratch directory.
async fn diagnose(env: &[(String, String)], binary_name: &str, args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    diagnose_in(env, binary_name, args, dir.path()).await
}

async fn diagnose_in(
    env: &[(String, String)],
    binary_name: &str,
    args: &[&str],
    dir: &Path,
) -> Run {
    let output = tokio::process::Command::new(binary(binary_name))
        .arg("diagnose")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "json")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(DEADLINE, output)
        .await
        .expect("diagnose finishes")
        .expect("diagnose runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let secret = TOKEN.split_once(':').map_or(TOKEN, |(_, s)| s);
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "diagnose printed the bot token"
    );
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout,
    }
}

fn with(env: &[(String, String)], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    for (key, value) in extra {
        env.retain(|(k, _)| k != key);
        env.push(((*key).to_owned(), (*value).to_owned()));
    }
    env
}

/// The environment of a deployment without processes (the fake Telegram
/// only), for checks that need no running service.
fn bare_env(stack: &Stack, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    with(&stack.env(), extra)
}

fn hypothesis<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["hypotheses"]
        .as_array()
        .and_then(|all| all.iter().find(|h| h["id"] == id))
        .unwrap_or_else(|| panic!("no hypothesis {id} in {report:#}"))
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

fn confirmed(report: &Value, id: &str) -> bool {
    hypothesis(report, id)["verdict"] == "confirmed"
}

/// No check fails or warns, except the host's figures (the load of this
/// shared machine is no business of the deployment under test).
fn clean(report: &Value) -> bool {
    report["checks"].as_array().is_some_and(|checks| {
        checks
            .iter()
            .all(|c| c["status"] == "ok" || c["name"] == "host")
    }) && report["status"] != "fail"
}

/// Runs `diagnose --json` until `until` holds (or the deadline passes).
async fn diagnose_until(
    env: &[(String, String)],
    args: &[&str],
    what: &str,
    until: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = diagnose(env, "worker", &all).await;
        let report = run.json();
        if until(&report) {
            return report;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "diagnose never showed {what}; last report:\n{report:#}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn deployment(db: TestDb, extra: &[(&str, &str)]) -> Stack {
    let config = StackConfig {
        env: extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..StackConfig::default()
    };
    let mut stack = Stack::new(db, config).await;
    stack.start_bot().await;
    stack.start_worker().await;
    stack
}

async fn telegram_call(stack: &Stack, method: &str, body: Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/{method}", stack.telegram.api_url()))
        .json(&body)
        .send()
        .await
        .expect("the fake Telegram answers")
        .json()
        .await
        .expect("a JSON answer")
}

// --- the JSON schema of the README -------------------------------------

/// The schema between the README's markers.
fn documented_schema() -> Value {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let start = readme
        .find("<!-- diagnose-json-schema -->")
        .expect("the schema marker");
    let rest = &readme[start..];
    let open = rest.find("```json").expect("a json block") + "```json".len();
    let close = rest[open..].find("```").expect("the block's end") + open;
    serde_json::from_str(&rest[open..close]).expect("the documented schema is JSON")
}

/// Checks `value` against the JSON Schema subset the README uses (type,
/// enum, required, properties, additionalProperties, items, minimum,
/// maximum); returns every violation with its path.
fn violations(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = allowed
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"));
        if !fits {
            out.push(format!("{path}: {actual} is not {allowed:?}"));
            return;
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        out.push(format!("{path}: {value} is not one of {options:?}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        out.push(format!("{path}: {n} < {min}"));
    }
    if let (Some(max), Some(n)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n > max
    {
        out.push(format!("{path}: {n} > {max}"));
    }
    if let Value::Object(fields) = value {
        for name in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str()
                && !fields.contains_key(name)
            {
                out.push(format!("{path}: missing {name}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => violations(sub, field, &format!("{path}.{name}"), out),
                None if schema["additionalProperties"] == false => {
                    out.push(format!("{path}: unexpected field {name}"));
                }
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            violations(sub, item, &format!("{path}[{i}]"), out);
        }
    }
}

fn assert_matches_schema(report: &Value) {
    let mut found = Vec::new();
    violations(&documented_schema(), report, "$", &mut found);
    assert!(
        found.is_empty(),
        "the JSON breaks the documented schema: {found:#?}"
    );
}

#[test]
fn the_schema_checker_catches_what_breaks_the_schema() {
    let schema = documented_schema();
    let mut found = Vec::new();
    violations(
        &schema,
        &json!({"schema": "other/9", "extra": 1}),
        "$",
        &mut found,
    );
    assert!(found.iter().any(|v| v.contains("missing checks")));
    assert!(found.iter().any(|v| v.contains("unexpected field extra")));
    assert!(found.iter().any(|v| v.contains("is not one of")));
}

// --- healthy ------------------------------------------------------------

async fn a_healthy_deployment_is_clean(db: TestDb) {
    let stack = deployment(db, &[]).await;
    let env = stack.env();
    // The bot reports its polls every few seconds: wait for a clean run.
    let report = diagnose_until(&env, &[], "a clean report", clean).await;
    assert_matches_schema(&report);
    assert!(report["root_cause"].is_null(), "{report:#}");
    for id in [
        "token_revoked",
        "webhook_set",
        "second_poller",
        "dead_worker",
    ] {
        assert_eq!(
            hypothesis(&report, id)["verdict"],
            "rejected",
            "{id}: {report:#}"
        );
    }
    // Both binaries answer, as text, with the time it took.
    let started = Instant::now();
    let text = diagnose(&env, "bot", &[]).await;
    eprintln!(
        "diagnose (quick) on a healthy system: {} ms wall clock, report {}",
        started.elapsed().as_millis(),
        text.stdout.lines().next().unwrap_or_default()
    );
    assert!(text.code == 0 || text.code == 1, "{}", text.stdout);
    assert!(text.stdout.contains("Diagnosis (quick)"), "{}", text.stdout);
    assert!(text.stdout.contains("database — "), "{}", text.stdout);
    // The full run adds trends and stays valid.
    let full = diagnose(&env, "worker", &["--full", "--json"]).await.json();
    assert_matches_schema(&full);
    assert!(
        full["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "trends")
    );
    stack.assert_no_secret_in_logs();
}

// --- Telegram -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_set_while_polling_is_found_and_deleted() {
    let stack = deployment(TestDb::postgres().await, &[]).await;
    let env = stack.env();
    diagnose_until(&env, &[], "a clean report", clean).await;
    let set = telegram_call(
        &stack,
        "setWebhook",
        json!({"url": "https://hooks.example.com/hook-secret-path"}),
    )
    .await;
    assert_eq!(set["ok"], true);

    let run = diagnose(&env, "worker", &["--json"]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        !run.stdout.contains("hook-secret-path"),
        "the webhook's path is shown"
    );
    let report = run.json();
    assert_matches_schema(&report);
    assert!(confirmed(&report, "webhook_set"), "{report:#}");
    assert_eq!(report["root_cause"]["hypothesis"], "webhook_set");
    assert!(
        report["root_cause"]["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("Delete the webhook")),
        "{report:#}"
    );
    assert_eq!(hypothesis(&report, "second_poller")["verdict"], "rejected");
    let telegram = check(&report, "telegram");
    assert_eq!(telegram["status"], "fail");
    assert_eq!(telegram["priority"], "P0");
    assert_eq!(telegram["repairs"], json!(["delete-webhook"]));

    // A dry run changes nothing.
    let dry = diagnose(&env, "worker", &["--fix", "--json"]).await.json();
    assert_eq!(dry["repairs"][0]["id"], "delete-webhook");
    assert_eq!(dry["repairs"][0]["applied"], false);
    assert!(stack.telegram.webhook_url().is_some());

    // Applied, the webhook goes and the run after it says so.
    let applied = diagnose(&env, "bot", &["--fix", "--apply", "--json"])
        .await
        .json();
    assert_eq!(applied["repairs"][0]["id"], "delete-webhook");
    assert_eq!(applied["repairs"][0]["applied"], true);
    assert_eq!(applied["repairs"][0]["ok"], true);
    assert_eq!(stack.telegram.webhook_url(), None);
    assert_eq!(hypothesis(&applied, "webhook_set")["verdict"], "rejected");
    // Once the bot polls again, a second run is clean.
    diagnose_until(&env, &[], "a clean report after the repair", clean).await;
    stack.assert_no_secret_in_logs();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_poller_is_seen_as_409() {
    let stack = deployment(TestDb::postgres().await, &[]).await;
    let env = stack.env();
    diagnose_until(&env, &[], "a clean report", clean).await;
    // Another copy of the bot somewhere polls with the same token.
    let api = stack.telegram.api_url();
    let rogue = tokio::spawn(async move {
        let client = reqwest::Client::new();
        loop {
            let _ = client
                .post(format!("{api}/getUpdates"))
                .json(&json!({"timeout": 1, "offset": -1}))
                .send()
                .await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let report = diagnose_until(&env, &[], "the second poller", |r| {
        confirmed(r, "second_poller")
    })
    .await;
    rogue.abort();
    assert_eq!(
        report["root_cause"]["hypothesis"], "second_poller",
        "{report:#}"
    );
    assert_eq!(hypothesis(&report, "webhook_set")["verdict"], "rejected");
    assert!(
        report["root_cause"]["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("Stop the other deployment")),
        "{report:#}"
    );
    assert_eq!(check(&report, "telegram")["status"], "fail");
}

async fn a_revoked_telegram_token_is_named(db: TestDb) {
    let stack = Stack::new(db, StackConfig::default()).await;
    let env = bare_env(&stack, &[("TELEGRAM_BOT_TOKEN", "424242:revoked-token")]);
    let run = diagnose(&env, "worker", &["--json"]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(!run.stdout.contains("revoked-token"));
    let report = run.json();
    assert_matches_schema(&report);
    assert!(confirmed(&report, "token_revoked"), "{report:#}");
    assert_eq!(hypothesis(&report, "token_revoked")["confidence"], 99);
    assert_eq!(report["root_cause"]["hypothesis"], "token_revoked");
    assert!(
        report["root_cause"]["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("@BotFather")),
        "{report:#}"
    );
}

// --- database and host ------------------------------------------------------

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// Forgets that the newest migration ran, as on a database a newer binary
/// has not migrated yet; returns its version.
fn forget_newest_migration(conn: &mut DbConn) -> Result<String, DbError> {
    const NEWEST: &str = "SELECT MAX(version) AS version FROM __diesel_schema_migrations";
    const FORGET: &str = "DELETE FROM __diesel_schema_migrations \
        WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)";
    Ok(match conn {
        DbConn::Pg(pg) => {
            let newest: Version = diesel::sql_query(NEWEST).get_result(pg)?;
            diesel::sql_query(FORGET).execute(pg)?;
            newest.version
        }
        DbConn::Sqlite(sqlite) => {
            let newest: Version = diesel::sql_query(NEWEST).get_result(sqlite)?;
            diesel::sql_query(FORGET).execute(sqlite)?;
            newest.version
        }
    })
}

async fn pending_migrations_are_found(db: TestDb) {
    let newest = db.db.write(forget_newest_migration).await.unwrap();
    let stack = Stack::new(db, StackConfig::default()).await;
    let report = diagnose(&bare_env(&stack, &[]), "worker", &["--json"])
        .await
        .json();
    assert_matches_schema(&report);
    assert!(confirmed(&report, "pending_migrations"), "{report:#}");
    let database = check(&report, "database");
    assert_eq!(database["status"], "fail");
    assert!(
        database["evidence"][0]["text"]
            .as_str()
            .is_some_and(|text| text.contains(&newest)),
        "{report:#}"
    );
    assert!(
        database["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("migrate")),
        "{report:#}"
    );
}

async fn a_nearly_full_disk_trips_the_threshold(db: TestDb) {
    let stack = Stack::new(db, StackConfig::default()).await;
    let env = bare_env(&stack, &[("DIAG_DISK_MIN_FREE_PERCENT", "100")]);
    let run = diagnose(&env, "bot", &["--json"]).await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    let report = run.json();
    assert!(confirmed(&report, "disk_nearly_full"), "{report:#}");
    let host = check(&report, "host");
    assert_eq!(host["status"], "fail");
    assert!(
        host["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("Free space")),
        "{report:#}"
    );
    // The default threshold is not tripped on this machine.
    let normal = diagnose(&bare_env(&stack, &[]), "bot", &["--json"])
        .await
        .json();
    assert_eq!(
        hypothesis(&normal, "disk_nearly_full")["verdict"],
        "rejected"
    );
}

on_both_backends!(
    a_healthy_deployment_is_clean,
    a_revoked_telegram_token_is_named,
    pending_migrations_are_found,
    a_nearly_full_disk_trips_the_threshold,
);

// --- queue and workers ------------------------------------------------------

/// `count` messages owed to `chat`, each with its delivery job queued.
async fn owe_messages(stack: &Stack, db: &Db, chat: i64, count: usize) -> Vec<OutboxMessageId> {
    let now = Clock::system().now();
    let ids = db
        .write(move |c| {
            let mut ids = Vec::new();
            for i in 0..count {
                ids.extend(outbox::insert(
                    c,
                    &NewOutboxMessage {
                        chat_id: chat,
                        recipient: None,
                        kind: "test",
                        lane: Lane::Bulk,
                        body: OutgoingMessage::text(format!("message {i}")).to_json(),
                        broadcast: None,
                        dedupe_key: None,
                        correlation_id: Some("test-owed"),
                    },
                    now,
                )?);
            }
            Ok(ids)
        })
        .await
        .unwrap();
    let queue = stack.queue().await;
    for id in &ids {
        DeliverMessage::push(&queue, *id, 0, "test-owed")
            .await
            .unwrap();
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_backlog_with_live_workers_is_a_backlog() {
    let db = TestDb::postgres().await;
    let handle = db.db.clone();
    let stack = deployment(db, &[("DIAG_QUEUE_MAX_WAIT", "2s")]).await;
    let env = stack.env();
    diagnose_until(&env, &[], "a clean report", clean).await;
    // Telegram answers sends slowly: the worker's slots fill, the rest waits.
    stack.telegram.inject(Fault::on(
        "sendMessage",
        FaultKind::Delay(Duration::from_secs(5)),
        1000,
    ));
    let chat = stack.telegram.user(7555).has_chat().id();
    owe_messages(&stack, &handle, chat, 40).await;
    let report = diagnose_until(&env, &[], "a backlog", |r| confirmed(r, "queue_backlog")).await;
    stack.telegram.clear_faults();
    assert_eq!(
        hypothesis(&report, "dead_worker")["verdict"],
        "rejected",
        "{report:#}"
    );
    let queue = check(&report, "queue:deliver-message");
    assert_eq!(queue["status"], "fail");
    assert!(
        queue["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("more workers")),
        "{report:#}"
    );
    assert_eq!(
        report["root_cause"]["hypothesis"], "queue_backlog",
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_worker_leaves_its_jobs_behind() {
    let db = TestDb::postgres().await;
    let handle = db.db.clone();
    let mut stack = deployment(db, &[]).await;
    let env = stack.env();
    diagnose_until(&env, &[], "a clean report", clean).await;
    // The worker takes jobs, waits on Telegram, and is killed mid-run.
    stack.telegram.inject(Fault::on(
        "sendMessage",
        FaultKind::Delay(Duration::from_secs(60)),
        1000,
    ));
    let chat = stack.telegram.user(7556).has_chat().id();
    owe_messages(&stack, &handle, chat, 3).await;
    let running = diagnose_until(&env, &[], "jobs running", |r| {
        check(r, "queue:deliver-message")["figure"]
            .as_str()
            .is_some_and(|f| !f.contains(", 0 running"))
    })
    .await;
    drop(running);
    stack.workers[0].kill().await;
    let report = diagnose_until(&env, &[], "the dead worker and its stale jobs", |r| {
        confirmed(r, "dead_worker")
            && check(r, "workers")["status"] == "fail"
            && check(r, "queue:deliver-message")["evidence"]
                .as_array()
                .is_some_and(|all| all.iter().any(|e| e["key"] == "diag.queue.stale"))
    })
    .await;
    stack.telegram.clear_faults();
    assert_eq!(check(&report, "workers")["status"], "fail", "{report:#}");
    assert_eq!(
        report["root_cause"]["hypothesis"], "dead_worker",
        "{report:#}"
    );
    assert!(
        report["root_cause"]["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("Start the worker")),
        "{report:#}"
    );
    let queue = check(&report, "queue:deliver-message");
    assert_eq!(queue["status"], "fail", "{report:#}");
}

// --- calendar sync ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_calendar_syncs_are_shown_and_resynced() {
    let db = TestDb::postgres().await;
    let handle = db.db.clone();
    let stack = deployment(db, &[]).await;
    let env = stack.env();
    let clock = Clock::with_offset_file(stack.clock_file());
    let owner = SeedUser::new(7601, "Olga", "Owner")
        .role(Some(Role::Owner))
        .insert(&handle)
        .await;
    let manager = SeedUser::new(7602, "Max", "Manager").insert(&handle).await;
    let starts = testkit::meetings::days_ahead(clock.now(), 3);
    let meeting = testkit::meetings::Booking::one_hour(manager.id, owner.id, starts)
        .book(&handle, &clock)
        .await;
    let (id, revision) = (meeting.id, meeting.revision);
    let failed = handle
        .write(move |c| {
            shared::db::calendar_sync::mark_failed(
                c,
                id,
                revision,
                "Google refused access (403 forbidden)",
            )
        })
        .await
        .unwrap();
    assert!(failed);

    let report = diagnose(&env, "worker", &["--json"]).await.json();
    let sync = check(&report, "calendar-sync");
    assert_eq!(sync["status"], "fail", "{report:#}");
    assert_eq!(sync["repairs"], json!(["resync-failed"]));
    assert!(
        sync["correlation_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().is_some_and(|c| c.starts_with("test-book-"))),
        "the failing work's correlation id is shown: {report:#}"
    );
    assert!(
        sync["evidence"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains(&id.0.to_string()) && t.contains("403")),
        "{report:#}"
    );

    let applied = diagnose(&env, "worker", &["--fix", "--apply", "--json"])
        .await
        .json();
    let outcome = applied["repairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "resync-failed")
        .cloned()
        .unwrap_or_else(|| panic!("no resync: {applied:#}"));
    assert_eq!(outcome["ok"], true);
    testkit::meetings::synced(&handle, id).await;
    let after = diagnose_until(&env, &[], "the sync repaired", |r| {
        check(r, "calendar-sync")["status"] == "ok"
    })
    .await;
    assert_matches_schema(&after);
}

// --- the health monitor -----------------------------------------------------

/// Bot messages to `chat` containing `text`.
fn messages_with(stack: &Stack, chat: i64, text: &str) -> usize {
    stack
        .telegram
        .bot_messages(chat)
        .iter()
        .filter(|m| m.text.contains(text))
        .count()
}

async fn wait_for_message(stack: &Stack, chat: i64, text: &str) {
    stack
        .telegram
        .wait_for_bot_message(chat, |m| m.text.contains(text), DEADLINE)
        .await
        .unwrap_or_else(|e| panic!("no message {text:?} to {chat}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_check_alerts_each_admin_once_each_way() {
    let db = TestDb::postgres().await;
    let handle = db.db.clone();
    let config = StackConfig {
        admins: Vec::new(),
        env: vec![("HEALTH_CHECK_INTERVAL".to_owned(), "1s".to_owned())],
        ..StackConfig::default()
    };
    let mut stack = Stack::new(db, config).await;
    let admins = [
        (
            7701,
            Language::En,
            "Health check telegram is failing",
            "Health check telegram has recovered",
        ),
        (
            7702,
            Language::Ru,
            "Проверка telegram не проходит",
            "Проверка telegram снова в порядке",
        ),
    ];
    for (id, language, _, _) in admins {
        SeedUser::new(id, "Admin", &id.to_string())
            .role(Some(Role::Owner))
            .admin(true)
            .language(language)
            .insert(&handle)
            .await;
        stack.telegram.user(id).has_chat();
    }
    stack.start_worker().await;
    stack.start_worker().await;
    // The monitor has looked at Telegram at least once (no bot: a warning).
    let started = Instant::now();
    while !monitor::states(&handle)
        .await
        .unwrap()
        .iter()
        .any(|s| s.check_name == "telegram")
    {
        assert!(started.elapsed() < DEADLINE, "the monitor never ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let hook = json!({"url": "https://hooks.example.com/x"});
    telegram_call(&stack, "setWebhook", hook.clone()).await;
    for (id, _, failing, _) in admins {
        wait_for_message(&stack, id, failing).await;
    }
    // Ten flaps within the minute after the alert.
    for _ in 0..10 {
        telegram_call(&stack, "deleteWebhook", json!({})).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        telegram_call(&stack, "setWebhook", hook.clone()).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    telegram_call(&stack, "deleteWebhook", json!({})).await;
    // The quiet minute passes.
    shared::clock::write_offset(&stack.clock_file(), chrono::TimeDelta::minutes(2)).unwrap();
    for (id, _, _, recovered) in admins {
        wait_for_message(&stack, id, recovered).await;
    }
    // Several more monitor runs change nothing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for (id, _, failing, recovered) in admins {
        assert_eq!(
            messages_with(&stack, id, failing),
            1,
            "admin {id}: failures"
        );
        assert_eq!(
            messages_with(&stack, id, recovered),
            1,
            "admin {id}: recoveries"
        );
    }
    let telegram = monitor::states(&handle)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.check_name == "telegram")
        .unwrap();
    assert_ne!(telegram.status, "critical");
    assert_ne!(telegram.alerted_status.as_deref(), Some("critical"));
    stack.assert_no_secret_in_logs();
}

// --- /diag --------------------------------------------------------------------

async fn audit_actions(db: &Db) -> Vec<String> {
    db.read(|c| {
        Ok(shared::db::schema::audit_log::table
            .filter(shared::db::schema::audit_log::action.like("diag.%"))
            .order(shared::db::schema::audit_log::id)
            .select(shared::db::schema::audit_log::action)
            .load::<String>(c)?)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_diagnose_in_the_chat_and_nobody_else_can() {
    let db = TestDb::postgres().await;
    let handle = db.db.clone();
    let stack = deployment(db, &[]).await;
    let clock = Clock::with_offset_file(stack.clock_file());
    let owner = SeedUser::new(7001, "Ada", "Admin")
        .role(Some(Role::Owner))
        .admin(true)
        .insert(&handle)
        .await;
    let manager_row = SeedUser::new(7002, "Max", "Manager").insert(&handle).await;
    let admin = Person::new(&stack, 7001, "Ada", "en").with_chat();
    let manager = Person::new(&stack, 7002, "Max", "en").with_chat();
    // A failed calendar sync: the report offers to re-sync it.
    let starts = testkit::meetings::days_ahead(clock.now(), 3);
    let meeting = testkit::meetings::Booking::one_hour(manager_row.id, owner.id, starts)
        .book(&handle, &clock)
        .await;
    let (id, revision) = (meeting.id, meeting.revision);
    handle
        .write(move |c| shared::db::calendar_sync::mark_failed(c, id, revision, "Google said no"))
        .await
        .unwrap();

    let report = admin.says("/diag", "Diagnosis (quick)").await;
    assert!(report.text.contains("calendar-sync"), "{}", report.text);
    assert!(report.text.contains("Fix:"), "{}", report.text);
    assert_eq!(report.callback_data("📋 Full report"), Some("dg:full"));
    let fix_label = "🔧 re-sync meetings whose calendar sync failed";
    assert_eq!(
        report.callback_data(fix_label),
        Some("dg:fix:resync-failed")
    );
    let (full, _) = admin
        .presses(report.message_id, "dg:full", "Hypotheses")
        .await;
    assert!(full.text.contains("Diagnosis (full)"), "{}", full.text);

    // Others are refused, and a forged repair button changes nothing.
    manager.says("/diag", "for administrators only").await;
    assert_eq!(
        manager.forges("dg:do:resync-failed").await.as_deref(),
        Some("You are not allowed to do that.")
    );
    assert_eq!(
        admin.forges("dg:do:drop-database").await.as_deref(),
        Some("This menu is out of date.")
    );
    let after = admin.last_message_id();
    admin.forges("dg:do:delete-webhook").await;
    admin.gets_after(after, "Nothing to repair").await;
    assert_eq!(stack.telegram.stats().calls_of("deleteWebhook"), 0);
    let still = testkit::meetings::find(&handle, id).await;
    assert_eq!(still.sync_state, shared::domain::booking::SyncState::Failed);

    // The real repair: confirmed, made, audited, re-checked.
    let (confirm, _) = admin
        .presses(
            report.message_id,
            "dg:fix:resync-failed",
            "Make this repair?",
        )
        .await;
    let after = admin.last_message_id();
    let toast = admin
        .presses_quietly(confirm.message_id, "dg:do:resync-failed")
        .await;
    assert!(
        toast.as_deref().is_some_and(|t| t.contains("Repairing")),
        "{toast:?}"
    );
    let result = admin.gets_after(after, "Repair resync-failed").await;
    assert!(result.text.contains("done (1)"), "{}", result.text);
    testkit::meetings::synced(&handle, id).await;
    // The forged request is audited too; only the real one made a repair.
    assert_eq!(
        audit_actions(&handle).await,
        vec![
            "diag.repair_requested".to_owned(),
            "diag.repair_requested".to_owned(),
            "diag.repair_made".to_owned()
        ]
    );
    stack.assert_no_secret_in_logs();
}

// --- Google -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_google_grant_is_named() {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account("ann@example.com");
    let db = TestDb::postgres().await;
    let handle = db.db.clone();
    let env = fake.deployment_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let stack = deployment(db, &env).await;
    SeedUser::new(7801, "Ann", "Owner")
        .role(Some(Role::Owner))
        .department_named("IT")
        .insert(&handle)
        .await;
    let ann = Person::new(&stack, 7801, "Ann", "en");
    testkit::google_people::connects(&ann, &fake, "ann@example.com").await;
    let env = stack.env();

    let healthy = diagnose(&env, "worker", &["--full", "--json"]).await.json();
    assert_matches_schema(&healthy);
    assert_eq!(
        check(&healthy, "google:7801")["status"],
        "ok",
        "{healthy:#}"
    );
    assert_eq!(
        hypothesis(&healthy, "refresh_token_revoked")["verdict"],
        "rejected"
    );

    assert_eq!(fake.revoke_account("ann@example.com"), 1);
    let report = diagnose(&env, "worker", &["--full", "--json"]).await.json();
    assert!(confirmed(&report, "refresh_token_revoked"), "{report:#}");
    assert_eq!(
        report["root_cause"]["hypothesis"], "refresh_token_revoked",
        "{report:#}"
    );
    let google = check(&report, "google:7801");
    assert_eq!(google["status"], "fail");
    assert!(
        google["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("/calendar")),
        "{report:#}"
    );
    // The quick check, without calling Google, sees the broken connection.
    let quick = diagnose(&env, "worker", &["--json"]).await.json();
    assert_eq!(check(&quick, "google")["status"], "fail", "{quick:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_not_shared_with_the_service_account_is_named() {
    const ROBOT: &str = "robot@fake-project.iam.gserviceaccount.com";
    const CALENDAR: &str = "olga@example.com";
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(CALENDAR);
    let key = fake.add_service_account(ROBOT, false);
    let db = TestDb::postgres().await;
    let handle = db.db.clone();
    let stack = Stack::new(db, StackConfig::default()).await;
    let olga = SeedUser::new(7902, "Olga", "Owner")
        .role(Some(Role::Owner))
        .insert(&handle)
        .await;
    let now = Clock::system().now();
    handle
        .write(move |c| {
            shared::db::google_connections::upsert_service_account(c, olga.id, CALENDAR, now)
        })
        .await
        .unwrap();
    let mut env = with(&stack.env(), &[]);
    env.extend(fake.deployment_env());
    env.push((
        "GOOGLE_SERVICE_ACCOUNT_JSON".to_owned(),
        key.to_json().to_string(),
    ));

    let report = diagnose(&env, "worker", &["--full", "--json"]).await.json();
    assert_matches_schema(&report);
    assert!(confirmed(&report, "calendar_not_shared"), "{report:#}");
    let google = check(&report, "google:7902");
    assert_eq!(google["status"], "fail", "{report:#}");
    assert!(
        google["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains(ROBOT)),
        "{report:#}"
    );

    // Shared, the owner's access test reads and writes the calendar.
    assert!(fake.share_calendar(CALENDAR, ROBOT));
    let report = diagnose(&env, "worker", &["--owner", "7902", "--json"])
        .await
        .json();
    assert_matches_schema(&report);
    assert_eq!(
        hypothesis(&report, "calendar_not_shared")["verdict"],
        "rejected",
        "{report:#}"
    );
    let google = check(&report, "google:7902");
    assert_eq!(google["status"], "ok", "{report:#}");
    assert!(
        google["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["key"] == "diag.google.writable"),
        "{report:#}"
    );
    assert!(
        fake.events(CALENDAR)
            .iter()
            .all(|e| e["status"] == "cancelled")
    );
}
