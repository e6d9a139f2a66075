//! Busy times and two-way sync with Google Calendar, through the real
//! binaries and the fake Google: events the owner has in Google leave the
//! slots a manager is offered (events marked free do not); moves, deletes
//! and a stale sync token (410 → full listing) are followed; the owner
//! moving the bot's own event moves the meeting (manager told in their
//! zone, reminders re-planned, nothing patched back) unless the new time is
//! taken (the meeting stays, the event is put back, the owner told);
//! deleting it cancels the meeting and tells the manager once. With an
//! HTTPS `PUBLIC_URL` the worker opens a push channel and renews it, a
//! notification on it triggers a sync, and a forged one changes nothing.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};
use shared::clock::{self, Clock};
use shared::config::{Config, Env};
use shared::db::free_slots::{self, SlotQuery};
use shared::db::google_connections::{self, GoogleConnection};
use shared::db::types::{MeetingId, UserId};
use shared::db::users::User;
use shared::db::{Db, booking_settings, busy_intervals};
use shared::domain::booking::{MeetingStatus, ReminderState};
use shared::domain::user::{Language, Role};
use shared::google::ExposeSecret;
use shared::google::calendar::deterministic_event_id;
use shared::jobs::ChannelSecrets;
use testkit::db::TestDb;
use testkit::fake_google::{FakeGoogle, FakeGoogleConfig, TEST_TOKEN_KEY};
use testkit::google_people::connects;
use testkit::meetings::{Booking, find, is_synced, meeting_until, synced};
use testkit::people::{Person, WAIT};
use testkit::records::{SeedUser, offer_weekdays};
use testkit::stack::{Stack, StackConfig, TOKEN};

const OWNER: i64 = 7701;
const MANAGER: i64 = 7702;
const ANN: &str = "ann.busy@example.com";
const BERLIN: Tz = Tz::Europe__Berlin;
const NEW_YORK: Tz = Tz::America__New_York;
/// The company zone of test deployments (the default `TIMEZONE`).
const COMPANY: Tz = Tz::Europe__Moscow;

async fn seed(db: &Db, telegram_id: i64, first: &str, role: Role, zone: Tz) -> User {
    SeedUser::new(telegram_id, first, "Smith")
        .role(Some(role))
        .language(Language::En)
        .time_zone(zone.name())
        .department_named("IT")
        .insert(db)
        .await
}

/// A workday at least three days ahead.
fn workday(now: DateTime<Utc>) -> NaiveDate {
    let mut day = (now + TimeDelta::days(3)).date_naive();
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day = day.succ_opt().unwrap();
    }
    day
}

/// `hour`:00 in Berlin on `day`.
fn berlin(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    BERLIN
        .with_ymd_and_hms(day.year(), day.month(), day.day(), hour, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn time(at: DateTime<Utc>) -> Value {
    json!({ "dateTime": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) })
}

/// The owner adds an event in Google; answers its id.
fn add_event(fake: &FakeGoogle, start: DateTime<Utc>, hours: i64, free: bool) -> String {
    let mut event = json!({
        "summary": "Dentist",
        "start": time(start),
        "end": time(start + TimeDelta::hours(hours)),
    });
    if free {
        event["transparency"] = json!("transparent");
    }
    let created = fake.insert_event(ANN, event).unwrap();
    created["id"].as_str().unwrap().to_owned()
}

/// The starts of the slots the manager is offered with the owner now.
async fn offered(db: &Db, owner: UserId, manager: UserId, clock: &Clock) -> Vec<DateTime<Utc>> {
    let now = clock.now();
    db.read(move |c| {
        let settings = booking_settings::get(c)?;
        let owners = [owner];
        let query = SlotQuery {
            owners: &owners,
            manager,
            moving: None,
            settings: &settings,
            now,
            company_zone: COMPANY,
        };
        Ok(free_slots::for_query(c, &query)?
            .into_iter()
            .map(|slot| slot.start)
            .collect())
    })
    .await
    .unwrap()
}

/// Waits until the offered slots satisfy `check`.
async fn offered_until(
    db: &Db,
    owner: UserId,
    manager: UserId,
    clock: &Clock,
    what: &str,
    check: impl Fn(&[DateTime<Utc>]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let slots = offered(db, owner, manager, clock).await;
        if check(&slots) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {what}: {slots:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Books a one-hour meeting of the manager with the owner and waits until
/// its event is in Google.
async fn book(
    stack: &Stack,
    owner: UserId,
    manager: UserId,
    starts: DateTime<Utc>,
    clock: &Clock,
) -> MeetingId {
    let db = stack.db.db.clone();
    let queue = stack.queue().await;
    let booked = Booking::one_hour(manager, owner, starts)
        .book_and_sync(&db, &queue, clock)
        .await;
    synced(&db, booked.id).await;
    booked.id
}

fn event_start(event: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(event["start"]["dateTime"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn busy_times_and_moves_follow_google(db: TestDb) {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let mut env = fake.deployment_env();
    env.push(("GOOGLE_BUSY_SYNC_INTERVAL".to_owned(), "1s".to_owned()));
    let mut stack = Stack::new(
        db,
        StackConfig {
            env,
            ..StackConfig::default()
        },
    )
    .await;
    let db = stack.db.db.clone();
    let owner = seed(&db, OWNER, "Ann", Role::Owner, BERLIN).await.id;
    let manager = seed(&db, MANAGER, "Max", Role::Manager, NEW_YORK).await.id;
    // Every hour from 09:00 to 16:00 (Berlin), Monday to Friday.
    offer_weekdays(&db, owner, &[540, 600, 660, 720, 780, 840, 900]).await;
    stack.telegram.user(OWNER).has_chat();
    stack.telegram.user(MANAGER).has_chat();
    stack.start_bot().await;
    stack.start_worker().await;
    let ann = Person::new(&stack, OWNER, "Ann", "en");
    let max = Person::new(&stack, MANAGER, "Max", "en");
    connects(&ann, &fake, ANN).await;
    let clock = Clock::with_offset_file(stack.clock_file());
    let day = workday(clock.now());
    let at = |hour| berlin(day, hour);
    offered_until(&db, owner, manager, &clock, "offered", |s| {
        s.contains(&at(10))
    })
    .await;

    // A busy event takes its time; one marked free does not.
    let dentist = add_event(&fake, at(10), 1, false);
    add_event(&fake, at(12), 1, true);
    offered_until(&db, owner, manager, &clock, "busy at 10", |s| {
        !s.contains(&at(10)) && s.contains(&at(12)) && s.contains(&at(14))
    })
    .await;

    // Moved and then deleted in Google: followed incrementally.
    fake.move_event(ANN, &dentist, at(14), at(15)).unwrap();
    offered_until(&db, owner, manager, &clock, "moved to 14", |s| {
        s.contains(&at(10)) && !s.contains(&at(14))
    })
    .await;
    fake.delete_event(ANN, &dentist).unwrap();
    offered_until(&db, owner, manager, &clock, "free again", |s| {
        s.contains(&at(14))
    })
    .await;

    // A stale sync token (410): the calendar is read in full again.
    fake.invalidate_sync_tokens(ANN);
    add_event(&fake, at(15), 1, false);
    offered_until(&db, owner, manager, &clock, "busy at 15", |s| {
        !s.contains(&at(15)) && s.contains(&at(14))
    })
    .await;
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method.as_deref() == Some("calendar.events.list") && r.status == Some(410)),
        "a stale token was refused"
    );
    let after_gone = requests
        .iter()
        .rposition(|r| r.status == Some(410))
        .unwrap();
    assert!(
        requests[after_gone..]
            .iter()
            .any(|r| r.method.as_deref() == Some("calendar.events.list")
                && r.query.contains("timeMin")
                && r.query.contains("singleEvents=true")),
        "then a full listing"
    );
    let stored = db
        .read(move |c| busy_intervals::for_user(c, owner))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].starts_at, at(15));

    // The owner moves the bot's own event: the meeting follows, Max is
    // told in his zone, reminders are planned for the new time, and the
    // event is not patched back.
    let id = book(&stack, owner, manager, at(11), &clock).await;
    let event_id = deterministic_event_id(id);
    fake.move_event(ANN, &event_id, at(13), at(14)).unwrap();
    meeting_until(&db, id, "moved", |m| m.starts_at == at(13) && is_synced(m)).await;
    let moved = find(&db, id).await;
    assert_eq!(moved.ends_at, at(14));
    assert_eq!(moved.status, MeetingStatus::Scheduled);
    let told = max.gets_after(0, "Meeting moved").await;
    assert!(told.text.contains("America/New_York"), "{}", told.text);
    let reminders = db
        .read(move |c| shared::db::reminders::for_meeting(c, id))
        .await
        .unwrap();
    let pending: Vec<_> = reminders
        .iter()
        .filter(|r| r.state == ReminderState::Pending)
        .collect();
    // The settings' offsets (24 h and 1 h) for Ann and Max, at the new time.
    assert_eq!(pending.len(), 4, "{reminders:#?}");
    for reminder in &pending {
        assert_eq!(reminder.meeting_revision, moved.revision);
        assert_eq!(
            reminder.due_at,
            at(13) - TimeDelta::minutes(i64::from(reminder.offset_minutes))
        );
    }
    let recipients: std::collections::BTreeSet<UserId> =
        pending.iter().map(|r| r.recipient_id).collect();
    assert_eq!(recipients, [owner, manager].into_iter().collect());
    // Moved onto another meeting's time: refused, the event goes back,
    // Ann is told.
    let other = book(&stack, owner, manager, at(9), &clock).await;
    fake.move_event(ANN, &event_id, at(9), at(10)).unwrap();
    ann.gets_after(0, "Move not applied").await;
    fake.wait_for_events(
        ANN,
        |events| {
            events
                .iter()
                .any(|e| e["id"] == event_id.as_str() && event_start(e) == at(13))
        },
        WAIT,
    )
    .await
    .expect("the event is put back");
    meeting_until(&db, id, "synced again", is_synced).await;
    assert_eq!(find(&db, id).await.starts_at, at(13));
    assert_eq!(find(&db, other).await.starts_at, at(9));
    let event = fake.event(ANN, &event_id).unwrap();
    assert_eq!(event_start(&event), at(13), "{event:#}");

    // Deleted in Google: the meeting is cancelled and Max told once.
    fake.delete_event(ANN, &event_id).unwrap();
    meeting_until(&db, id, "cancelled", |m| {
        m.status == MeetingStatus::Cancelled
    })
    .await;
    max.gets_after(0, "deleted from their Google Calendar")
        .await;
    // A few more syncs pass; still one notice.
    let synced_at = connection(&db, owner).await.busy_synced_at;
    let deadline = tokio::time::Instant::now() + WAIT;
    while connection(&db, owner).await.busy_synced_at == synced_at {
        assert!(tokio::time::Instant::now() < deadline, "no later sync");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        max.messages_with("deleted from their Google Calendar")
            .len(),
        1
    );

    stack.assert_no_secret_in_logs();
    fake.shutdown().await;
}

async fn connection(db: &Db, user: UserId) -> GoogleConnection {
    db.read(move |c| google_connections::find(c, user))
        .await
        .unwrap()
        .expect("connected")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_times_and_moves_follow_google_on_postgres() {
    busy_times_and_moves_follow_google(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_times_and_moves_follow_google_on_sqlite() {
    busy_times_and_moves_follow_google(TestDb::sqlite().await).await;
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn channel_secrets() -> ChannelSecrets {
    let config = Config::from_env(&Env::from_pairs([
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("TOKEN_ENCRYPTION_KEY", TEST_TOKEN_KEY),
    ]))
    .unwrap();
    ChannelSecrets::new(config.google.token_encryption_key.as_ref().unwrap())
}

/// Posts a notification as Google would: (status).
async fn notify(port: u16, channel: &str, token: &str, number: u64) -> u16 {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/google/notify"))
        .header("X-Goog-Channel-ID", channel)
        .header("X-Goog-Channel-Token", token)
        .header("X-Goog-Message-Number", number.to_string())
        .header("X-Goog-Resource-State", "exists")
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn push_notifications_trigger_a_sync(db: TestDb) {
    let port = free_port();
    let mut config = FakeGoogleConfig::default();
    config
        .client
        .redirect_uris
        .push("https://127.0.0.1/oauth/google/callback".to_owned());
    let fake = FakeGoogle::start(config.with_push_over_http()).await;
    fake.add_account(ANN);
    let mut env = fake.deployment_env();
    env.extend(
        [
            ("PORT", port.to_string()),
            ("PUBLIC_URL", format!("https://127.0.0.1:{port}")),
            // Only the first sync comes from the sweep: later ones are
            // pushed.
            ("GOOGLE_BUSY_SYNC_INTERVAL", "1h".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    let mut stack = Stack::new(
        db,
        StackConfig {
            env,
            ..StackConfig::default()
        },
    )
    .await;
    let db = stack.db.db.clone();
    let owner = seed(&db, OWNER, "Ann", Role::Owner, BERLIN).await.id;
    stack.telegram.user(OWNER).has_chat();
    stack.start_bot().await;
    stack.start_worker().await;
    let ann = Person::new(&stack, OWNER, "Ann", "en");
    connects(&ann, &fake, ANN).await;

    // The worker opens a channel to the bot's HTTPS address.
    let deadline = tokio::time::Instant::now() + WAIT;
    let first = loop {
        let stored = connection(&db, owner).await;
        if let Some(id) = stored.watch_channel_id.clone()
            && stored.busy_synced_at.is_some()
        {
            break id;
        }
        assert!(tokio::time::Instant::now() < deadline, "no channel");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let channels = fake.channels();
    assert_eq!(channels.len(), 1, "{channels:?}");
    assert_eq!(channels[0].id, first);
    assert_eq!(
        channels[0].address,
        format!("https://127.0.0.1:{port}/google/notify")
    );
    let secrets = channel_secrets();
    assert_eq!(
        channels[0].token.as_deref(),
        Some(secrets.token(&first).expose_secret())
    );

    // A change in Google reaches the bot as a notification: synced.
    let dentist = add_event(&fake, berlin(workday(Clock::system().now()), 10), 1, false);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stored = db
            .read(move |c| busy_intervals::for_user(c, owner))
            .await
            .unwrap();
        if stored.iter().any(|b| b.event_id == dentist) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never synced");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        fake.notifications()
            .iter()
            .any(|n| n.resource_state == "exists" && n.delivered == Some(true)),
        "{:?}",
        fake.notifications()
    );

    // Forged: a wrong token, or a channel nobody holds. Nothing happens.
    let synced_at = connection(&db, owner).await.busy_synced_at;
    let lists = fake.calls("calendar.events.list");
    assert_eq!(notify(port, &first, "forged", 100).await, 404);
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        notify(port, unknown, secrets.token(unknown).expose_secret(), 101).await,
        404
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(connection(&db, owner).await.busy_synced_at, synced_at);
    assert_eq!(fake.calls("calendar.events.list"), lists);
    let logs = stack.all_logs().join("\n");
    assert!(!logs.contains(secrets.token(&first).expose_secret()));
    assert!(!logs.contains("forged"));

    // Genuine: a sync follows.
    assert_eq!(
        notify(port, &first, secrets.token(&first).expose_secret(), 102).await,
        200
    );
    fake.wait_for_stats(
        |stats| {
            stats
                .calls
                .get("calendar.events.list")
                .copied()
                .unwrap_or(0)
                > lists
        },
        WAIT,
    )
    .await
    .expect("a listing follows the notification");

    // Days later the channel is renewed before it ends; the old one stops.
    clock::write_offset(&stack.clock_file(), TimeDelta::hours(6 * 24 + 12)).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let stored = connection(&db, owner).await;
        let channels = fake.channels();
        if stored.watch_channel_id.as_deref() != Some(first.as_str())
            && channels.len() == 1
            && Some(&channels[0].id) == stored.watch_channel_id.as_ref()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never renewed: {stored:?} {channels:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    stack.assert_no_secret_in_logs();
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_notifications_trigger_a_sync_on_postgres() {
    push_notifications_trigger_a_sync(TestDb::postgres().await).await;
}
