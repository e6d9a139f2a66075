//! The calendar sync with Google, through the real binaries and the fake
//! Google (PostgreSQL): an owner who connected their calendar gets the
//! meeting as ONE event there (deterministic id, a Meet, the manager as
//! guest, shown in the owner's zone), the manager gets the Meet link once
//! in Telegram, a move patches the event's times, a cancel deletes it, and
//! no `.ics` file goes out for that meeting.

use chrono::TimeDelta;
use chrono_tz::Tz;
use diesel::prelude::*;
use serde_json::Value;
use shared::clock::Clock;
use shared::db::Db;
use shared::db::meetings::{self, Meeting};
use shared::db::schema::outbox_messages;
use shared::db::types::MeetingId;
use shared::db::users::{self, User};
use shared::domain::booking::{MeetingStatus, SyncState};
use shared::domain::user::{Language, Role};
use shared::google::calendar::deterministic_event_id;
use testkit::db::TestDb;
use testkit::fake_google::{FakeGoogle, FakeGoogleConfig};
use testkit::google_people::connects;
use testkit::meetings::{
    Booking, cancel_and_sync, days_ahead, event_instant, find, is_synced, live_events,
    move_and_sync, push_sync, synced,
};
use testkit::people::{Person, WAIT};
use testkit::records::{SeedUser, offer_weekdays};
use testkit::stack::{Stack, StackConfig};

const OWNER: i64 = 7601;
const MANAGER: i64 = 7602;
const ANN: &str = "ann.sync@example.com";
const MAX_EMAIL: &str = "max@example.com";
const BERLIN: Tz = Tz::Europe__Berlin;
const NEW_YORK: Tz = Tz::America__New_York;

async fn seed(db: &Db, telegram_id: i64, first: &str, role: Option<Role>, zone: Tz) -> User {
    SeedUser::new(telegram_id, first, "Smith")
        .role(role)
        .language(Language::En)
        .time_zone(zone.name())
        .department_named("IT")
        .insert(db)
        .await
}

async fn a_connected_owner_gets_the_meeting_in_google_calendar(db: TestDb) {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let config = StackConfig {
        env: fake.deployment_env(),
        ..StackConfig::default()
    };
    let mut stack = Stack::new(db, config).await;
    let db = stack.db.db.clone();
    let owner = seed(&db, OWNER, "Ann", Some(Role::Owner), BERLIN).await;
    let manager = seed(&db, MANAGER, "Max", Some(Role::Manager), NEW_YORK).await;
    let clock = Clock::with_offset_file(stack.clock_file());
    let now = clock.now();
    let manager_id = manager.id;
    db.write(move |c| users::set_email(c, manager_id, Some(MAX_EMAIL), now))
        .await
        .unwrap();
    stack.telegram.user(OWNER).has_chat();
    stack.telegram.user(MANAGER).has_chat();
    stack.start_bot().await;
    stack.start_worker().await;
    let person = Person::new(&stack, OWNER, "Ann", "en");
    connects(&person, &fake, ANN).await;
    let queue = stack.queue().await;

    // Booked: one event on Ann's calendar, with a Meet and Max as guest.
    let starts = days_ahead(clock.now(), 3);
    let id = Booking::one_hour(manager.id, owner.id, starts)
        .book_and_sync(&db, &queue, &clock)
        .await
        .id;
    let stored = synced(&db, id).await;
    let event_id = deterministic_event_id(id);
    assert_eq!(stored.calendar_owner_id, Some(owner.id));
    assert_eq!(stored.google_event_id.as_deref(), Some(event_id.as_str()));
    let meet = stored.meet_link.clone().expect("a Meet link is stored");
    let events = fake.events(ANN);
    let current = live_events(&events);
    assert_eq!(current.len(), 1, "{events:#?}");
    let event = current[0];
    assert_eq!(event["id"], event_id.as_str());
    assert_eq!(event["hangoutLink"], meet.as_str());
    assert_eq!(event["summary"], "Meeting with Max Smith");
    assert_eq!(event["start"]["timeZone"], BERLIN.name());
    assert_eq!(event_instant(&event["start"]), starts);
    let guests: Vec<&str> = event["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["email"].as_str())
        .collect();
    assert!(guests.contains(&MAX_EMAIL), "{event:#}");

    // Max gets the Meet link once, in his zone.
    let meet_message = Person::new(&stack, MANAGER, "Max", "en")
        .gets_after(0, "Google Meet link")
        .await;
    assert!(meet_message.text.contains(&meet), "{}", meet_message.text);
    assert!(
        meet_message.text.contains("America/New_York"),
        "{}",
        meet_message.text
    );

    // Moved: the same event, at the new time.
    let moved_to = starts + TimeDelta::days(1) + TimeDelta::hours(2);
    move_and_sync(&db, &queue, &clock, id, moved_to).await;
    synced(&db, id).await;
    let events = fake.events(ANN);
    let current = live_events(&events);
    assert_eq!(current.len(), 1, "{events:#?}");
    assert_eq!(current[0]["id"], event_id.as_str());
    assert_eq!(event_instant(&current[0]["start"]), moved_to);
    assert_eq!(current[0]["hangoutLink"], meet.as_str(), "the Meet stays");

    // Cancelled: the event is deleted.
    cancel_and_sync(&db, &queue, &clock, id, owner.id).await;
    let done = synced(&db, id).await;
    assert_eq!(done.status, MeetingStatus::Cancelled);
    let events = fake.events(ANN);
    assert!(live_events(&events).is_empty(), "{events:#?}");

    // Nothing went out as .ics, and the Meet link only once.
    let kinds: Vec<String> = db
        .read(|c| {
            Ok(outbox_messages::table
                .filter(outbox_messages::kind.eq_any([
                    "calendar.invite",
                    "calendar.cancel",
                    "calendar.meet_link",
                ]))
                .select(outbox_messages::kind)
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(kinds, vec!["calendar.meet_link".to_owned()]);
    for chat in [OWNER, MANAGER] {
        assert!(stack.telegram.documents(chat).is_empty(), "chat {chat}");
    }

    // Deleted by the owner in Google: the next sync finds it gone, cancels
    // the meeting (never puts the event back) and tells the manager.
    let second_start = days_ahead(clock.now(), 5);
    let second_id = Booking::one_hour(manager.id, owner.id, second_start)
        .book_and_sync(&db, &queue, &clock)
        .await
        .id;
    synced(&db, second_id).await;
    let second_event = deterministic_event_id(second_id);
    fake.delete_event(ANN, &second_event).unwrap();
    let later = second_start + TimeDelta::hours(2);
    move_and_sync(&db, &queue, &clock, second_id, later).await;
    Person::new(&stack, MANAGER, "Max", "en")
        .gets_after(0, "deleted from their Google Calendar")
        .await;
    let gone = synced(&db, second_id).await;
    assert_eq!(gone.status, MeetingStatus::Cancelled);
    let events = fake.events(ANN);
    assert!(
        live_events(&events).is_empty(),
        "never resurrected: {events:#?}"
    );

    stack.assert_no_secret_in_logs();
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_owner_gets_the_meeting_in_google_calendar_on_postgres() {
    a_connected_owner_gets_the_meeting_in_google_calendar(TestDb::postgres().await).await;
}

/// Settings that keep a test under chaos quick: short per-call backoff,
/// an HTTP timeout below the fake's held answers, six calls per request.
fn quick_google_retries() -> Vec<(String, String)> {
    [
        ("GOOGLE_RETRY_BASE", "20ms"),
        ("GOOGLE_RETRY_CAP", "200ms"),
        ("GOOGLE_RETRY_ATTEMPTS", "6"),
        ("GOOGLE_HTTP_TIMEOUT", "400ms"),
        ("JOB_MAX_ATTEMPTS", "6"),
        ("WORKER_CONCURRENCY", "16"),
        ("WORKER_BATCH_SIZE", "16"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Ann's fake Google account and a PostgreSQL deployment with quick
/// Google retries whose one admin is `admin`; Ann (an owner) and the admin
/// seeded. Answers the fake, the stack (nothing started) and Ann.
async fn impatient_deployment(admin: i64) -> (FakeGoogle, Stack, User) {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let mut env = fake.deployment_env();
    env.extend(quick_google_retries());
    let config = StackConfig {
        admins: vec![admin],
        env,
        ..StackConfig::default()
    };
    let stack = Stack::new(TestDb::postgres().await, config).await;
    let db = &stack.db.db;
    let owner = seed(db, OWNER, "Ann", Some(Role::Owner), BERLIN).await;
    SeedUser::new(admin, "Ada", "Admin")
        .admin(true)
        .language(Language::En)
        .insert(db)
        .await;
    (fake, stack, owner)
}

/// Meetings whose calendar sync is not yet at their current revision.
async fn unsynced(db: &Db, ids: &[MeetingId]) -> Vec<Meeting> {
    let ids = ids.to_vec();
    db.read(move |c| {
        let mut left = Vec::new();
        for id in ids {
            if let Some(m) = meetings::find(c, id)?
                && !is_synced(&m)
            {
                left.push(m);
            }
        }
        Ok(left)
    })
    .await
    .unwrap()
}

/// 200 bookings while 30 % of Google's calendar calls fail (429, 403
/// rate limits, 5xx and timeouts, some applied before the answer was
/// lost; at most 3 in a row per request) and the worker is killed once
/// mid-run: exactly 200 events, each under its meeting's id, nothing
/// failed, no admin alarmed, every manager told the Meet link once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_bookings_survive_chaos_and_a_killed_worker() {
    const BOOKINGS: usize = 200;
    const ADMIN: i64 = 7690;
    let (fake, mut stack, owner) = impatient_deployment(ADMIN).await;
    let db = stack.db.db.clone();
    let mut managers = Vec::new();
    for n in 0..20 {
        let manager = seed(&db, 7700 + n, "Max", Some(Role::Manager), NEW_YORK).await;
        stack.telegram.user(manager.telegram_id.0).has_chat();
        managers.push(manager);
    }
    stack.telegram.user(OWNER).has_chat();
    stack.telegram.user(ADMIN).has_chat();
    stack.start_bot().await;
    stack.start_worker().await;
    let clock = Clock::with_offset_file(stack.clock_file());
    connects(&Person::new(&stack, OWNER, "Ann", "en"), &fake, ANN).await;
    fake.set_chaos(
        testkit::fake_google::Chaos::new(20_261_130, 0.3, 3)
            .with_timeouts(std::time::Duration::from_millis(1_500)),
    );

    let started = std::time::Instant::now();
    let queue = stack.queue().await;
    let first_day = days_ahead(clock.now(), 2);
    let mut ids = Vec::new();
    for n in 0..BOOKINGS {
        let day = i64::try_from(n / 10).unwrap();
        let hour = i64::try_from(n % 10).unwrap();
        let starts = first_day + TimeDelta::days(day) + TimeDelta::hours(hour);
        let manager = &managers[n % managers.len()];
        let booked = Booking::one_hour(manager.id, owner.id, starts)
            .reminders(Vec::new())
            .book_and_sync(&db, &queue, &clock)
            .await;
        ids.push(booked.id);
    }

    // Kill the worker once a third of the events exist; a new one finishes.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    while live_events(&fake.events(ANN)).len() < BOOKINGS / 3 {
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stack.workers[0].kill().await;
    stack.start_worker().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(240);
    loop {
        let left = unsynced(&db, &ids).await;
        if left.is_empty() {
            break;
        }
        assert!(
            left.iter().all(|m| m.sync_state != SyncState::Failed),
            "a sync failed: {left:#?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} meetings never synced",
            left.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let stats = fake.stats();
    eprintln!(
        "{BOOKINGS} bookings synced under chaos with a killed worker in {:.1} s \
         ({} calendar calls, {} failed on purpose, {} answers abandoned)",
        started.elapsed().as_secs_f64(),
        stats
            .calls
            .iter()
            .filter(|(method, _)| method.starts_with("calendar."))
            .map(|(_, n)| n)
            .sum::<u64>(),
        stats.injected_faults,
        stats.abandoned,
    );
    fake.clear_chaos();
    assert!(
        stats.injected_faults >= 50,
        "the chaos really struck: {stats:?}"
    );

    let events = fake.events(ANN);
    let live_ids: std::collections::BTreeSet<String> = live_events(&events)
        .iter()
        .filter_map(|event| event["id"].as_str().map(str::to_owned))
        .collect();
    let expected: std::collections::BTreeSet<String> =
        ids.iter().map(|id| deterministic_event_id(*id)).collect();
    assert_eq!(
        live_events(&events).len(),
        BOOKINGS,
        "one event per booking"
    );
    assert_eq!(live_ids, expected);
    for id in &ids {
        let stored = find(&db, *id).await;
        assert_eq!(stored.status, MeetingStatus::Scheduled);
        assert!(stored.meet_link.is_some(), "meeting {id} has its Meet");
    }
    let meet_links: i64 = db
        .read(|c| {
            Ok(outbox_messages::table
                .filter(outbox_messages::kind.eq("calendar.meet_link"))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(meet_links, i64::try_from(BOOKINGS).unwrap());
    assert!(
        stack.telegram.bot_messages(ADMIN).is_empty(),
        "no admin was alarmed"
    );
    stack.assert_no_secret_in_logs();
    fake.shutdown().await;
}

/// A request Google refuses for good (400) is not retried: the sync is
/// recorded failed, every admin is told once (a second run of the job
/// tells nobody again), the sweep leaves it alone, and the meeting's next
/// change syncs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sync_fails_once_and_tells_the_admins_once() {
    const ADMIN: i64 = 7691;
    let (fake, mut stack, owner) = impatient_deployment(ADMIN).await;
    let db = stack.db.db.clone();
    let manager = seed(&db, MANAGER, "Max", Some(Role::Manager), NEW_YORK).await;
    for chat in [OWNER, MANAGER, ADMIN] {
        stack.telegram.user(chat).has_chat();
    }
    stack.start_bot().await;
    stack.start_worker().await;
    let clock = Clock::with_offset_file(stack.clock_file());
    connects(&Person::new(&stack, OWNER, "Ann", "en"), &fake, ANN).await;
    let queue = stack.queue().await;

    fake.inject(testkit::fake_google::Fault::on(
        "calendar.events.insert",
        testkit::fake_google::FaultKind::Status(400),
        1,
    ));
    let starts = days_ahead(clock.now(), 3);
    let id = Booking::one_hour(manager.id, owner.id, starts)
        .book_and_sync(&db, &queue, &clock)
        .await
        .id;
    let admin = Person::new(&stack, ADMIN, "Ada", "en");
    let alert = admin.gets_after(0, "Calendar sync failed").await;
    assert!(alert.text.contains("Max Smith"), "{}", alert.text);
    let failed = find(&db, id).await;
    assert_eq!(failed.sync_state, SyncState::Failed);
    assert!(live_events(&fake.events(ANN)).is_empty());

    // The same job again (a duplicate push, a sweep): no second alert.
    push_sync(&queue, &failed).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(admin.messages_with("Calendar sync failed").len(), 1);

    // The next change syncs it.
    let later = starts + TimeDelta::hours(2);
    move_and_sync(&db, &queue, &clock, id, later).await;
    synced(&db, id).await;
    let events = fake.events(ANN);
    assert_eq!(live_events(&events).len(), 1, "{events:#?}");
    assert_eq!(admin.messages_with("Calendar sync failed").len(), 1);
    stack.assert_no_secret_in_logs();
    fake.shutdown().await;
}

/// The guests of an event, by email.
fn guests(event: &Value) -> Vec<String> {
    event["attendees"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|a| a["email"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A collective meeting becomes ONE event on the calendar of the first
/// owner who connected one (the other owner and the manager invited);
/// an access token Google stopped accepting (401) is refreshed once and
/// the call made again; a grant revoked in Google sends that revision as
/// `.ics` files instead (the owner asked to reconnect once) — nothing
/// fails, nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collective_meetings_expired_tokens_and_revoked_grants() {
    const BOB: i64 = 7603;
    const BOB_EMAIL: &str = "bob@example.com";
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let config = StackConfig {
        env: fake.deployment_env(),
        ..StackConfig::default()
    };
    let mut stack = Stack::new(TestDb::postgres().await, config).await;
    let db = stack.db.db.clone();
    let ann = seed(&db, OWNER, "Ann", Some(Role::Owner), BERLIN).await;
    let bob = seed(&db, BOB, "Bob", Some(Role::Owner), BERLIN).await;
    let max = seed(&db, MANAGER, "Max", Some(Role::Manager), NEW_YORK).await;
    let clock = Clock::with_offset_file(stack.clock_file());
    let now = clock.now();
    let (max_id, bob_id) = (max.id, bob.id);
    db.write(move |c| {
        users::set_email(c, max_id, Some(MAX_EMAIL), now)?;
        users::set_email(c, bob_id, Some(BOB_EMAIL), now)
    })
    .await
    .unwrap();
    for chat in [OWNER, BOB, MANAGER] {
        stack.telegram.user(chat).has_chat();
    }
    stack.start_bot().await;
    stack.start_worker().await;
    let ann_person = Person::new(&stack, OWNER, "Ann", "en");
    connects(&ann_person, &fake, ANN).await;
    let queue = stack.queue().await;

    // Bob (no calendar) comes first among the owners; Ann's calendar holds
    // the one event, Bob and Max are its guests.
    let starts = days_ahead(clock.now(), 4);
    let id = Booking::one_hour(max.id, bob.id, starts)
        .collective(vec![bob.id, ann.id])
        .book_and_sync(&db, &queue, &clock)
        .await
        .id;
    let stored = synced(&db, id).await;
    assert_eq!(stored.calendar_owner_id, Some(ann.id));
    let events = fake.events(ANN);
    let current = live_events(&events);
    assert_eq!(current.len(), 1, "{events:#?}");
    let mut invited = guests(current[0]);
    invited.sort();
    assert_eq!(invited, vec![BOB_EMAIL.to_owned(), MAX_EMAIL.to_owned()]);
    for chat in [OWNER, BOB, MANAGER] {
        assert!(stack.telegram.documents(chat).is_empty(), "chat {chat}");
    }

    // Google stops accepting the stored access token: one refresh, and the
    // move reaches the event.
    fake.expire_access_tokens();
    let token_calls = |fake: &FakeGoogle| fake.stats().calls.get("oauth.token").copied();
    let before = token_calls(&fake);
    let moved_to = starts + TimeDelta::hours(3);
    move_and_sync(&db, &queue, &clock, id, moved_to).await;
    synced(&db, id).await;
    let events = fake.events(ANN);
    assert_eq!(event_instant(&live_events(&events)[0]["start"]), moved_to);
    assert_eq!(
        token_calls(&fake).unwrap_or(0),
        before.unwrap_or(0) + 1,
        "one refresh"
    );

    // Ann revokes the bot's access in her Google account: the next
    // revision goes out as .ics files, and Ann is asked to reconnect once.
    assert!(fake.revoke_account(ANN) > 0);
    cancel_and_sync(&db, &queue, &clock, id, max_id).await;
    let done = synced(&db, id).await;
    assert_eq!(done.status, MeetingStatus::Cancelled);
    ann_person
        .gets_after(0, "Google Calendar stopped working")
        .await;
    for chat in [OWNER, BOB, MANAGER] {
        let deadline = tokio::time::Instant::now() + WAIT;
        while stack.telegram.documents(chat).is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no cancellation file for chat {chat}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        ann_person
            .messages_with("Google Calendar stopped working")
            .len(),
        1,
        "asked to reconnect once"
    );
    stack.assert_no_secret_in_logs();
    fake.shutdown().await;
}

/// The path people take, end to end: Ann connects her calendar through
/// Google's consent; Max books her through `/schedule` — exactly one event
/// with a Meet and Max as guest, the Meet link in his chat; he moves it in
/// `/my_meetings` — the event moves; he cancels — the event is deleted;
/// nobody gets an `.ics` file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booked_moved_and_cancelled_through_the_bot() {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let config = StackConfig {
        env: fake.deployment_env(),
        ..StackConfig::default()
    };
    let mut stack = Stack::new(TestDb::postgres().await, config).await;
    let db = stack.db.db.clone();
    let ann = seed(&db, OWNER, "Ann", Some(Role::Owner), BERLIN).await;
    let max = seed(&db, MANAGER, "Max", Some(Role::Manager), NEW_YORK).await;
    offer_weekdays(&db, ann.id, &[600, 660, 840]).await;
    let clock = Clock::with_offset_file(stack.clock_file());
    let (max_id, now) = (max.id, clock.now());
    db.write(move |c| users::set_email(c, max_id, Some(MAX_EMAIL), now))
        .await
        .unwrap();
    stack.start_bot().await;
    stack.start_worker().await;
    connects(&Person::new(&stack, OWNER, "Ann", "en"), &fake, ANN).await;
    let max_person = Person::new(&stack, MANAGER, "Max", "en");

    max_person.books_first_free_slot("Ann Smith").await;
    let id = only_meeting_of(&db, max_id).await;
    let booked = synced(&db, id).await;
    let events = fake.events(ANN);
    let [event] = live_events(&events)[..] else {
        panic!("one event: {events:#?}")
    };
    assert_eq!(event["id"], deterministic_event_id(id).as_str());
    assert_eq!(event_instant(&event["start"]), booked.starts_at);
    assert_eq!(guests(event), vec![MAX_EMAIL.to_owned()]);
    let meet = booked.meet_link.clone().expect("a Meet link");
    assert_eq!(event["hangoutLink"], meet.as_str());
    let link_message = max_person.gets_after(0, "Google Meet link").await;
    assert!(link_message.text.contains(&meet), "{}", link_message.text);

    let (_, toast) = max_person.moves_first_meeting_to_last_slot().await;
    assert_eq!(toast.as_deref(), Some("Moved"));
    let moved = synced(&db, id).await;
    assert_ne!(moved.starts_at, booked.starts_at);
    let events = fake.events(ANN);
    let [event] = live_events(&events)[..] else {
        panic!("still one event: {events:#?}")
    };
    assert_eq!(event["id"], deterministic_event_id(id).as_str());
    assert_eq!(event_instant(&event["start"]), moved.starts_at);

    max_person.cancels_first_meeting("Cancelled:").await;
    let cancelled = synced(&db, id).await;
    assert_eq!(cancelled.status, MeetingStatus::Cancelled);
    let events = fake.events(ANN);
    assert!(live_events(&events).is_empty(), "{events:#?}");
    for chat in [OWNER, MANAGER] {
        assert!(stack.telegram.documents(chat).is_empty(), "chat {chat}");
    }
    assert_eq!(max_person.messages_with("Google Meet link").len(), 1);
    stack.assert_no_secret_in_logs();
    fake.shutdown().await;
}

/// The id of the one meeting `manager` has.
async fn only_meeting_of(db: &Db, manager: shared::db::types::UserId) -> MeetingId {
    let ids: Vec<MeetingId> = db
        .read(move |c| {
            use shared::db::schema::meetings as table;
            Ok(table::table
                .filter(table::manager_id.eq(manager))
                .select(table::id)
                .load(c)?)
        })
        .await
        .unwrap();
    let [id] = ids[..] else {
        panic!("one meeting: {ids:?}")
    };
    id
}
