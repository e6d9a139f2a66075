//! Shared calendars through the deployment's service account
//! (`GOOGLE_SERVICE_ACCOUNT_JSON`), with the real binaries, the fake
//! Telegram and the fake Google: an owner shares their calendar with the
//! account and connects it through `/calendar` (malformed IDs, the
//! account's own address and a calendar not shared yet are explained and
//! store nothing; a bot restart keeps the dialogue); Disconnect forgets it. A booking then becomes exactly
//! one event on that calendar through the JWT-bearer token; where Google
//! refuses the account guests and a Meet (no domain-wide delegation) the
//! event is made without them and says so, the owner is told once, the
//! manager gets the meeting as an `.ics` file instead, and nothing fails;
//! with domain-wide delegation nothing is degraded.
//! No log line holds the key, a token or an assertion.

use chrono::TimeDelta;
use diesel::prelude::*;
use shared::clock::Clock;
use shared::db::Db;
use shared::db::busy_intervals::{self, BusyInterval};
use shared::db::google_connections::{self, ConnectionKind, GoogleConnection};
use shared::db::schema::outbox_messages;
use shared::db::types::{MeetingId, UserId};
use shared::db::users::{self, User};
use shared::domain::booking::MeetingStatus;
use shared::domain::user::{Language, Role};
use shared::google::calendar::deterministic_event_id;
use testkit::db::TestDb;
use testkit::fake_google::{FakeGoogle, FakeGoogleConfig, ServiceAccountKey};
use testkit::fake_telegram::BotMessage;
use testkit::meetings::{
    Booking, cancel_and_sync, days_ahead, find, live_events, move_and_sync, synced,
};
use testkit::people::Person;
use testkit::records::{SeedUser, audit_actions};
use testkit::stack::{Stack, StackConfig};

const OWNER: i64 = 7801;
const MANAGER: i64 = 7802;
const ANN: &str = "ann.shared@example.com";
const MAX_EMAIL: &str = "max.shared@example.com";
const ROBOT: &str = "robot@fake-project.iam.gserviceaccount.com";

/// The deployment's settings: the fake's, plus the service account's key
/// file; without the OAuth client when `oauth` is false (a deployment
/// with only a service account).
fn deployment(fake: &FakeGoogle, key: &ServiceAccountKey, oauth: bool) -> Vec<(String, String)> {
    let mut env = fake.deployment_env();
    if !oauth {
        env.retain(|(name, _)| name != "GOOGLE_CLIENT_ID" && name != "GOOGLE_CLIENT_SECRET");
    }
    env.push((
        "GOOGLE_SERVICE_ACCOUNT_JSON".to_owned(),
        key.to_json().to_string(),
    ));
    env
}

async fn seed(db: &Db, telegram_id: i64, first_name: &str, role: Role) -> User {
    SeedUser::new(telegram_id, first_name, "Smith")
        .role(Some(role))
        .language(Language::En)
        .department_named("IT")
        .insert(db)
        .await
}

async fn connection(db: &Db, user: UserId) -> Option<GoogleConnection> {
    db.read(move |c| google_connections::find(c, user))
        .await
        .unwrap()
}

/// The callback data of button `label` on `message`.
fn button(message: &BotMessage, label: &str) -> String {
    message
        .all_buttons()
        .find(|button| button.text == label)
        .and_then(|button| button.callback_data.clone())
        .unwrap_or_else(|| panic!("no button {label:?} in {:?}", message.text))
}

/// `/calendar` → "Use a shared calendar": the instructions name the
/// service account.
async fn asks_to_share(person: &Person) {
    let screen = person.says("/calendar", "Google Calendar").await;
    let data = button(&screen, "🤝 Use a shared calendar");
    let (ask, _) = person
        .presses(screen.message_id, &data, "Shared calendar")
        .await;
    assert!(ask.text.contains(ROBOT), "{}", ask.text);
    assert!(ask.text.contains("Make changes to events"), "{}", ask.text);
}

/// No log line holds the bot token, the service account's private key, an
/// assertion, or an access token Google handed out.
fn assert_no_secret_in_logs(stack: &Stack, fake: &FakeGoogle, key: &ServiceAccountKey) {
    stack.assert_no_secret_in_logs();
    let key_lines: Vec<&str> = key
        .private_key_pem
        .lines()
        .filter(|line| !line.starts_with("-----") && line.len() > 20)
        .collect();
    assert!(!key_lines.is_empty());
    let mut secrets: Vec<String> = key_lines.iter().map(|line| (*line).to_owned()).collect();
    for request in fake.requests() {
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("authorization")
                && let Some(token) = value.strip_prefix("Bearer ")
            {
                secrets.push(token.to_owned());
            }
        }
        if request.method.as_deref() == Some("oauth.token") {
            for (name, value) in url::form_urlencoded::parse(request.body.as_bytes()) {
                if name == "assertion" {
                    secrets.push(value.into_owned());
                }
            }
        }
    }
    assert!(
        secrets.len() > key_lines.len(),
        "the service account was used"
    );
    for line in stack.all_logs() {
        for secret in &secrets {
            assert!(
                !line.contains(secret.as_str()),
                "a log line holds a secret: {line}"
            );
        }
    }
}

async fn an_owner_connects_a_shared_calendar(db: TestDb) {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let key = fake.add_service_account(ROBOT, false);
    let config = StackConfig {
        env: deployment(&fake, &key, true),
        ..StackConfig::default()
    };
    let mut stack = Stack::new(db, config).await;
    let db = stack.db.db.clone();
    let owner = seed(&db, OWNER, "Ann", Role::Owner).await;
    let manager = seed(&db, MANAGER, "Max", Role::Manager).await;
    stack.start_bot().await;
    stack.start_worker().await;
    let person = Person::new(&stack, OWNER, "Ann", "en");

    // Both ways are offered to an owner: their own consent, or sharing.
    let screen = person.says("/calendar", "not connected").await;
    assert!(
        screen
            .all_buttons()
            .any(|b| b.text == "🔗 Connect Google Calendar"),
        "{:?}",
        screen.buttons
    );
    asks_to_share(&person).await;

    // Malformed input, and the account's own address: explained, the
    // dialogue keeps waiting, nothing stored.
    person
        .says("my calendar", "That is not a calendar ID")
        .await;
    person.says(ROBOT, "the bot's own address").await;
    assert_eq!(connection(&db, owner.id).await, None);

    // A restart of the bot keeps the dialogue waiting for the ID.
    assert!(stack.bot.as_mut().unwrap().terminate().await.success());
    stack.start_bot().await;

    // Not shared yet: Google says 404, the owner is told, nothing stored.
    person.says(ANN, "Checking access").await;
    let refused = person.gets_after(0, "The bot cannot open").await;
    assert!(refused.text.contains(ROBOT), "{}", refused.text);
    assert_eq!(connection(&db, owner.id).await, None);

    // Shared: the same ID now connects (the dialogue was still waiting).
    assert!(fake.share_calendar(ANN, ROBOT));
    let after = person.last_message_id();
    person.user.send_text(&ANN.to_uppercase());
    person
        .gets_after(after, &format!("Shared calendar {ANN} connected"))
        .await;
    let stored = connection(&db, owner.id).await.expect("stored");
    assert_eq!(stored.kind, ConnectionKind::ServiceAccount);
    assert_eq!(stored.calendar_id, ANN);
    assert!(stored.is_active());
    assert_eq!(
        (
            stored.refresh_token_enc,
            stored.access_token_enc,
            stored.key_id
        ),
        (None, None, None),
        "no tokens are stored"
    );
    // The dialogue is over: text is no longer taken as an ID.
    person.says("hello", "").await;
    assert!(person.messages_with("Checking access").len() == 2);

    // The status shows it; Disconnect just forgets it.
    let screen = person.says("/calendar", "shared calendar").await;
    assert!(screen.text.contains(ANN), "{}", screen.text);
    let (confirm, _) = person
        .presses(
            screen.message_id,
            &button(&screen, "🔌 Disconnect"),
            "Stop adding meetings",
        )
        .await;
    assert!(confirm.text.contains(ROBOT), "{}", confirm.text);
    let (done, _) = person
        .presses(
            confirm.message_id,
            &button(&confirm, "🔌 Yes, disconnect"),
            "disconnected",
        )
        .await;
    assert!(done.text.contains("not connected"), "{}", done.text);
    assert_eq!(connection(&db, owner.id).await, None);
    let actions = audit_actions(&db, owner.id).await;
    for action in ["calendar.shared_connected", "calendar.disconnected"] {
        assert!(actions.iter().any(|a| a == action), "{actions:?}");
    }

    // A manager is not offered a shared calendar.
    let max = Person::new(&stack, MANAGER, "Max", "en");
    let screen = max.says("/calendar", "not connected").await;
    assert!(
        !screen.all_buttons().any(|b| b.text.contains("shared")),
        "{:?}",
        screen.buttons
    );
    assert_eq!(connection(&db, manager.id).await, None);

    assert_no_secret_in_logs(&stack, &fake, &key);
    fake.shutdown().await;
}

on_both_backends!(an_owner_connects_a_shared_calendar);

/// Waits until the busy intervals stored for `user` satisfy `check`.
async fn busy_until(db: &Db, user: UserId, check: impl Fn(&[BusyInterval]) -> bool) {
    let deadline = tokio::time::Instant::now() + testkit::people::WAIT;
    loop {
        let busy = db
            .read(move |c| busy_intervals::for_user(c, user))
            .await
            .unwrap();
        if check(&busy) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "busy times never matched: {busy:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The kinds of the messages queued about meetings' calendars, in order.
async fn calendar_messages(db: &Db) -> Vec<(String, i64)> {
    db.read(|c| {
        Ok(outbox_messages::table
            .filter(outbox_messages::kind.like("calendar.%"))
            .filter(outbox_messages::kind.ne("calendar.shared_check"))
            .order(outbox_messages::id.asc())
            .select((outbox_messages::kind, outbox_messages::chat_id))
            .load(c)?)
    })
    .await
    .unwrap()
}

/// A deployment with only a service account (no OAuth client), Ann (an
/// owner) who connected her shared calendar through `/calendar`, and Max
/// (a manager with an email address).
struct Shared {
    stack: Stack,
    fake: FakeGoogle,
    key: ServiceAccountKey,
    owner: User,
    manager: User,
    clock: Clock,
    person: Person,
}

async fn shared_calendar_deployment(db: TestDb, delegation: bool) -> Shared {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let key = fake.add_service_account(ROBOT, delegation);
    assert!(fake.share_calendar(ANN, ROBOT));
    let mut env = deployment(&fake, &key, false);
    env.push(("GOOGLE_BUSY_SYNC_INTERVAL".to_owned(), "1s".to_owned()));
    let config = StackConfig {
        env,
        ..StackConfig::default()
    };
    let mut stack = Stack::new(db, config).await;
    let db = stack.db.db.clone();
    let owner = seed(&db, OWNER, "Ann", Role::Owner).await;
    let manager = seed(&db, MANAGER, "Max", Role::Manager).await;
    let clock = Clock::with_offset_file(stack.clock_file());
    let now = clock.now();
    let manager_id = manager.id;
    db.write(move |c| users::set_email(c, manager_id, Some(MAX_EMAIL), now))
        .await
        .unwrap();
    stack.telegram.user(MANAGER).has_chat();
    stack.start_bot().await;
    stack.start_worker().await;
    let person = Person::new(&stack, OWNER, "Ann", "en");
    let screen = person.says("/calendar", "not connected").await;
    assert!(
        !screen.all_buttons().any(|b| b.url.is_some()),
        "no consent link without OAuth: {:?}",
        screen.buttons
    );
    asks_to_share(&person).await;
    person.says(ANN, "Checking access").await;
    person
        .gets_after(0, &format!("Shared calendar {ANN} connected"))
        .await;
    Shared {
        stack,
        fake,
        key,
        owner,
        manager,
        clock,
        person,
    }
}

/// Books Max with Ann `days` days ahead and queues its sync.
async fn book(shared: &Shared, days: i64) -> MeetingId {
    let starts = days_ahead(shared.clock.now(), days);
    let queue = shared.stack.queue().await;
    Booking::one_hour(shared.manager.id, shared.owner.id, starts)
        .book_and_sync(&shared.stack.db.db, &queue, &shared.clock)
        .await
        .id
}

async fn a_booking_lands_on_the_shared_calendar_without_guests_or_meet(db: TestDb) {
    let shared = shared_calendar_deployment(db, false).await;
    let Shared {
        stack,
        fake,
        key,
        owner,
        clock,
        person,
        ..
    } = &shared;
    let db = stack.db.db.clone();
    let queue = stack.queue().await;

    // Ann's own appointment in the shared calendar is busy time while it
    // stands: read through the service account like an own calendar.
    let dentist = days_ahead(clock.now(), 2) + TimeDelta::hours(4);
    let rfc3339 = |at: chrono::DateTime<chrono::Utc>| serde_json::json!({ "dateTime": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) });
    let appointment = fake
        .insert_event(
            ANN,
            serde_json::json!({
                "summary": "Dentist",
                "start": rfc3339(dentist),
                "end": rfc3339(dentist + TimeDelta::hours(1)),
            }),
        )
        .unwrap();
    busy_until(&db, owner.id, |busy| {
        busy.iter().any(|b| b.starts_at == dentist)
    })
    .await;
    let appointment_id = appointment["id"].as_str().unwrap();
    fake.delete_event(ANN, appointment_id).unwrap();
    busy_until(&db, owner.id, <[_]>::is_empty).await;

    // Booked: ONE event on Ann's calendar, made by the service account,
    // without guests or a Meet (Google refuses both), saying so.
    let id = book(&shared, 3).await;
    let starts = find(&db, id).await.starts_at;
    let stored = synced(&db, id).await;
    let event_id = deterministic_event_id(id);
    assert_eq!(stored.calendar_owner_id, Some(owner.id));
    assert_eq!(stored.google_event_id.as_deref(), Some(event_id.as_str()));
    assert_eq!(stored.meet_link, None);
    let events = fake.events(ANN);
    let current = live_events(&events);
    assert_eq!(current.len(), 1, "{events:#?}");
    let event = current[0];
    assert_eq!(event["id"], event_id.as_str());
    assert_eq!(event["creator"]["email"], ROBOT);
    assert!(event.get("attendees").is_none(), "{event:#}");
    assert!(event.get("hangoutLink").is_none(), "{event:#}");
    let description = event["description"].as_str().unwrap();
    assert!(
        description.contains("did not let the bot invite the guests")
            && description.contains(MAX_EMAIL)
            && description.contains("Google Meet"),
        "{description}"
    );

    // The owner is told once; the manager gets the meeting as a file.
    let notice = person.gets_after(0, "with limits").await;
    assert!(notice.text.contains("invite guests"), "{}", notice.text);
    assert!(notice.text.contains("Google Meet"), "{}", notice.text);
    let max = Person::new(stack, MANAGER, "Max", "en");
    max.gets_after(0, "Calendar invite").await;

    // Moved: the same event follows, the manager gets the updated file,
    // the owner is not told again.
    let moved_to = starts + TimeDelta::days(1);
    move_and_sync(&db, &queue, clock, id, moved_to).await;
    synced(&db, id).await;
    max.gets_after(0, "updated invite").await;
    let events = fake.events(ANN);
    assert_eq!(live_events(&events).len(), 1, "{events:#?}");

    // Cancelled: the event is deleted, the manager gets the cancellation.
    cancel_and_sync(&db, &queue, clock, id, owner.id).await;
    let done = synced(&db, id).await;
    assert_eq!(done.status, MeetingStatus::Cancelled);
    assert!(live_events(&fake.events(ANN)).is_empty());
    max.gets_after(0, "Cancelled").await;

    // Exactly: one notice to the owner, three files to the manager, none
    // to the owner, no Meet link, no failure.
    let sent = calendar_messages(&db).await;
    let kinds: Vec<(&str, i64)> = sent
        .iter()
        .map(|(kind, chat)| (kind.as_str(), *chat))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("calendar.degraded", OWNER),
            ("calendar.invite", MANAGER),
            ("calendar.invite", MANAGER),
            ("calendar.cancel", MANAGER),
        ],
    );
    assert!(stack.telegram.documents(OWNER).is_empty());
    assert_eq!(stack.telegram.documents(MANAGER).len(), 3);
    assert!(
        !stack
            .all_logs()
            .iter()
            .any(|line| line.contains("calendar sync failed"))
    );
    assert_no_secret_in_logs(stack, fake, key);
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_lands_on_the_shared_calendar_without_guests_or_meet_on_postgres() {
    a_booking_lands_on_the_shared_calendar_without_guests_or_meet(TestDb::postgres().await).await;
}

/// With domain-wide delegation Google lets the account invite and make a
/// Meet: nothing is degraded, exactly as with the owner's own consent.
async fn with_delegation_the_event_has_guests_and_meet(db: TestDb) {
    let shared = shared_calendar_deployment(db, true).await;
    let db = shared.stack.db.db.clone();
    let id = book(&shared, 4).await;
    let stored = synced(&db, id).await;
    let meet = stored.meet_link.clone().expect("a Meet link is stored");
    let events = shared.fake.events(ANN);
    let current = live_events(&events);
    assert_eq!(current.len(), 1, "{events:#?}");
    let event = current[0];
    assert_eq!(event["hangoutLink"], meet.as_str());
    assert_eq!(event["attendees"][0]["email"], MAX_EMAIL, "{event:#}");
    assert!(
        !event["description"]
            .as_str()
            .unwrap_or_default()
            .contains("did not let"),
        "{event:#}"
    );
    Person::new(&shared.stack, MANAGER, "Max", "en")
        .gets_after(0, "Google Meet link")
        .await;
    let sent = calendar_messages(&db).await;
    assert_eq!(sent, vec![("calendar.meet_link".to_owned(), MANAGER)]);
    assert!(shared.stack.telegram.documents(MANAGER).is_empty());
    assert_no_secret_in_logs(&shared.stack, &shared.fake, &shared.key);
    shared.fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_delegation_the_event_has_guests_and_meet_on_sqlite() {
    with_delegation_the_event_has_guests_and_meet(TestDb::sqlite().await).await;
}
