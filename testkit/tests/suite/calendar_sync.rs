//! The calendar sync without Google, through the real worker, on both
//! databases: a meeting booked, moved and cancelled reaches both
//! participants' chats as `.ics` files (one event UID, a growing SEQUENCE,
//! times in each reader's zone); the sweep finds a sync whose push was
//! lost; a meeting cancelled before its first invite sends nothing; and no
//! run sends anything twice.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use shared::clock::{self, Clock};
use shared::db::Db;
use shared::db::meetings::{self, NewTime};
use shared::db::schema::outbox_messages;
use shared::domain::booking::{MeetingStatus, SyncState};
use shared::domain::user::{Language, Role};
use shared::jobs::trace::{self, Outcome};
use shared::jobs::{Job, Pushed, SyncCalendar};
use testkit::db::TestDb;
use testkit::fake_telegram::SentDocument;
use testkit::meetings::{Booking, days_ahead, find};
use testkit::people::WAIT;
use testkit::records::SeedUser;
use testkit::stack::{Stack, StackConfig};

const OWNER: i64 = 7301;
const MANAGER: i64 = 7302;
const BERLIN: Tz = Tz::Europe__Berlin;
const NEW_YORK: Tz = Tz::America__New_York;

/// An `.ics` file as content lines (unfolded), checked for its line ends
/// and line lengths on the way.
fn ics_lines(document: &SentDocument) -> Vec<String> {
    let text = document.text().expect("an .ics file is UTF-8 text");
    assert!(text.ends_with("\r\n"), "CRLF line ends: {text:?}");
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "a line longer than 75 octets: {line}");
    }
    text.replace("\r\n ", "")
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The value of the first property `name` (with any parameters).
fn property<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines.iter().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key == name || key.starts_with(&format!("{name};"))).then_some(value)
    })
}

fn has_line(lines: &[String], expected: &str) -> bool {
    lines.iter().any(|line| line == expected)
}

/// `DTSTART;TZID=<zone>:<local time>` of `at` in `zone`.
fn local_start(zone: Tz, at: DateTime<Utc>) -> String {
    format!(
        "DTSTART;TZID={}:{}",
        zone.name(),
        at.with_timezone(&zone).format("%Y%m%dT%H%M%S")
    )
}

/// Waits until `chat_id` holds `count` documents; returns them.
async fn documents(stack: &Stack, chat_id: i64, count: usize) -> Vec<SentDocument> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let documents = stack.telegram.documents(chat_id);
        if documents.len() >= count {
            return documents;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} documents in chat {chat_id}, got {documents:?}; transcript: {:#?}",
            stack.telegram.transcript(chat_id)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The caption of the `index`-th document of a chat.
fn caption(stack: &Stack, chat_id: i64, index: usize) -> String {
    stack
        .telegram
        .bot_messages(chat_id)
        .into_iter()
        .filter(|message| message.document.is_some())
        .nth(index)
        .map(|message| message.text)
        .unwrap_or_default()
}

/// Dedupe keys of every calendar message written so far.
async fn calendar_keys(db: &Db) -> Vec<String> {
    db.read(|c| {
        Ok(outbox_messages::table
            .filter(outbox_messages::kind.like("calendar.%"))
            .order(outbox_messages::id)
            .select(outbox_messages::dedupe_key.assume_not_null())
            .load(c)?)
    })
    .await
    .unwrap()
}

/// Waits until a `sync-calendar` run carrying `correlation_id` succeeded.
async fn sync_ran(db: &Db, correlation_id: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let runs = db
            .read(|c| trace::for_type(c, SyncCalendar::QUEUE))
            .await
            .unwrap();
        if runs.iter().any(|run| {
            run.correlation_id.as_deref() == Some(correlation_id)
                && run.outcome == Outcome::Succeeded.to_string()
        }) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no successful sync for {correlation_id}: {runs:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn invites_follow_booking_move_and_cancel(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    let db = stack.db.db.clone();
    let owner = SeedUser::new(OWNER, "Olga", "Owner, Jr.")
        .role(Some(Role::Owner))
        .time_zone(BERLIN.name())
        .insert(&db)
        .await;
    let manager = SeedUser::new(MANAGER, "Максим", "Менеджер")
        .language(Language::Ru)
        .time_zone(NEW_YORK.name())
        .insert(&db)
        .await;
    stack.telegram.user(OWNER).has_chat();
    stack.telegram.user(MANAGER).has_chat();
    stack.start_worker().await;
    let queue = stack.queue().await;
    let clock = Clock::with_offset_file(stack.clock_file());

    // Booked without a push (as if the bot crashed right after its commit):
    // the sweep finds the pending sync once the grace is over.
    let starts = days_ahead(clock.now(), 3);
    let new = Booking::one_hour(manager.id, owner.id, starts).into_new_booking();
    let now = clock.now();
    let booked = db
        .write(move |c| Ok(meetings::book(c, &new, now)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(booked.sync_state, SyncState::Pending);
    clock::write_offset(&stack.clock_file(), TimeDelta::minutes(5)).unwrap();

    let owner_docs = documents(&stack, OWNER, 1).await;
    let manager_docs = documents(&stack, MANAGER, 1).await;
    let uid = format!("meeting-{}@meeting-scheduler-bot", booked.id.0);
    for (document, zone) in [(&owner_docs[0], BERLIN), (&manager_docs[0], NEW_YORK)] {
        assert_eq!(document.file_name, "invite.ics");
        assert!(
            document.mime_type.starts_with("text/calendar"),
            "{document:?}"
        );
        let lines = ics_lines(document);
        assert_eq!(property(&lines, "METHOD"), Some("REQUEST"));
        assert_eq!(property(&lines, "UID"), Some(uid.as_str()));
        assert_eq!(property(&lines, "SEQUENCE"), Some("0"));
        assert_eq!(property(&lines, "STATUS"), Some("CONFIRMED"));
        assert!(has_line(&lines, &local_start(zone, starts)), "{lines:#?}");
        assert!(
            has_line(&lines, &format!("TZID:{}", zone.name())),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("ORGANIZER;CN=\"Olga Owner, Jr.\":mailto:")),
            "{lines:#?}"
        );
    }
    let owner_lines = ics_lines(&owner_docs[0]);
    assert_eq!(
        property(&owner_lines, "SUMMARY"),
        Some("Meeting with Максим Менеджер")
    );
    let manager_lines = ics_lines(&manager_docs[0]);
    assert_eq!(
        property(&manager_lines, "SUMMARY"),
        Some("Встреча: Olga Owner\\, Jr.")
    );
    let local = starts.with_timezone(&BERLIN).format("%H:%M").to_string();
    let owner_caption = caption(&stack, OWNER, 0);
    assert!(
        owner_caption.contains("Calendar invite:") && owner_caption.contains(&local),
        "{owner_caption}"
    );
    assert!(owner_caption.contains("(Europe/Berlin)"), "{owner_caption}");
    let manager_caption = caption(&stack, MANAGER, 0);
    assert!(
        manager_caption.contains("Приглашение в календарь")
            && manager_caption.contains("(America/New_York)"),
        "{manager_caption}"
    );
    let synced = find(&db, booked.id).await;
    assert_eq!(synced.sync_state, SyncState::Synced);
    assert_eq!(synced.synced_revision, Some(1));

    // Moved: the same event, one SEQUENCE later, at the new time.
    let moved_to = starts + TimeDelta::days(1) + TimeDelta::hours(2);
    let to = NewTime {
        starts_at: moved_to,
        ends_at: moved_to + TimeDelta::hours(1),
        period_key: format!("test-{}", moved_to.format("%Y-%m-%d")),
        limit: 5,
        reminder_offsets: vec![TimeDelta::hours(1)],
    };
    let id = booked.id;
    let now = clock.now();
    let moved = db
        .write(move |c| Ok(meetings::reschedule(c, id, &to, now)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.revision, 2);
    let pushed = SyncCalendar::push(&queue, id, moved.revision, "test-move")
        .await
        .unwrap();
    assert_eq!(pushed, Pushed::Queued);
    let owner_docs = documents(&stack, OWNER, 2).await;
    let manager_docs = documents(&stack, MANAGER, 2).await;
    for (document, zone) in [(&owner_docs[1], BERLIN), (&manager_docs[1], NEW_YORK)] {
        let lines = ics_lines(document);
        assert_eq!(property(&lines, "METHOD"), Some("REQUEST"));
        assert_eq!(property(&lines, "UID"), Some(uid.as_str()));
        assert_eq!(property(&lines, "SEQUENCE"), Some("1"));
        assert!(has_line(&lines, &local_start(zone, moved_to)), "{lines:#?}");
    }
    assert!(
        caption(&stack, OWNER, 1).contains("updated invite"),
        "{}",
        caption(&stack, OWNER, 1)
    );

    // Cancelled: the same event, removed.
    let now = clock.now();
    let cancelled = db
        .write(move |c| Ok(meetings::cancel(c, id, owner.id, Some("Board; trip"), now)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.revision, 3);
    SyncCalendar::push(&queue, id, cancelled.revision, "test-cancel")
        .await
        .unwrap();
    let owner_docs = documents(&stack, OWNER, 3).await;
    let manager_docs = documents(&stack, MANAGER, 3).await;
    for document in [&owner_docs[2], &manager_docs[2]] {
        assert_eq!(document.file_name, "cancellation.ics");
        let lines = ics_lines(document);
        assert_eq!(property(&lines, "METHOD"), Some("CANCEL"));
        assert_eq!(property(&lines, "STATUS"), Some("CANCELLED"));
        assert_eq!(property(&lines, "UID"), Some(uid.as_str()));
        assert_eq!(property(&lines, "SEQUENCE"), Some("2"));
        assert!(
            property(&lines, "DESCRIPTION").is_some_and(|d| d.contains("Board\\; trip")),
            "{lines:#?}"
        );
    }
    assert!(caption(&stack, MANAGER, 2).contains("Отменена"));
    let done = find(&db, id).await;
    assert_eq!(done.status, MeetingStatus::Cancelled);
    assert_eq!(done.sync_state, SyncState::Synced);
    assert_eq!(done.synced_revision, Some(done.revision));

    // Running the sync again — the same key, or a new job for the meeting —
    // writes and sends nothing.
    assert_eq!(
        SyncCalendar::push(&queue, id, done.revision, "test-again")
            .await
            .unwrap(),
        Pushed::AlreadyQueued
    );
    let again = SyncCalendar {
        meeting_id: id.0,
        correlation_id: "test-rerun".to_owned(),
    };
    queue
        .push(&again, &format!("sync-calendar:{}:rerun", id.0))
        .await
        .unwrap();
    sync_ran(&db, "test-rerun").await;

    // A meeting booked and cancelled before its first invite: nothing to
    // take out of any calendar.
    let quiet_start = days_ahead(clock.now(), 5);
    let new = Booking::one_hour(manager.id, owner.id, quiet_start).into_new_booking();
    let now = clock.now();
    let quiet = db
        .write(move |c| {
            let booked = match meetings::book(c, &new, now) {
                Ok(booked) => booked,
                Err(error) => panic!("cannot book: {error}"),
            };
            Ok(meetings::cancel(c, booked.id, booked.manager_id, None, now))
        })
        .await
        .unwrap()
        .unwrap();
    SyncCalendar::push(&queue, quiet.id, quiet.revision, "test-quiet")
        .await
        .unwrap();
    sync_ran(&db, "test-quiet").await;
    let quiet = find(&db, quiet.id).await;
    assert_eq!(quiet.sync_state, SyncState::Synced);
    assert_eq!(quiet.synced_revision, Some(quiet.revision));

    // Nothing was written or sent twice.
    let keys = calendar_keys(&db).await;
    let mut expected = Vec::new();
    for revision in 1..=3 {
        for user in [manager.id, owner.id] {
            expected.push(format!("ics:{}:{revision}:{}", id.0, user.0));
        }
    }
    let mut sorted = keys.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected, "one message per reader and revision");
    for chat in [OWNER, MANAGER] {
        assert_eq!(stack.telegram.documents(chat).len(), 3, "chat {chat}");
    }
    stack.assert_no_secret_in_logs();
}

on_both_backends!(invites_follow_booking_move_and_cancel);
