//! Meetings in end-to-end tests, written straight to the store as the bot
//! writes them (booking through the bot has its own tests), with the
//! calendar sync queued after commit as the bot queues it; and waiting
//! until the worker synced a meeting.

use std::ops::Range;

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use serde_json::Value;
use shared::clock::Clock;
use shared::db::meetings::{self, Meeting, NewBooking, NewTime};
use shared::db::types::{MeetingId, UserId};
use shared::db::{Db, DbConn, DbError, calendar_sync};
use shared::domain::booking::{BookingError, SyncState};
use shared::domain::settings::BookingMode;
use shared::domain::user::Role;
use shared::jobs::{Queue, SyncCalendar};

use crate::people::WAIT;
use crate::records::SeedUser;

/// Meetings a test books in one limit period at most (the tests' own
/// period keys never collide with a real week).
const LIMIT: u16 = 5;

/// A one-hour meeting to book: single mode, one reminder an hour before,
/// unless changed.
#[derive(Debug, Clone)]
pub struct Booking(NewBooking);

impl Booking {
    /// `manager` with `owner` from `starts` for an hour.
    pub fn one_hour(manager: UserId, owner: UserId, starts: DateTime<Utc>) -> Self {
        Self(NewBooking {
            manager,
            owners: vec![owner],
            starts_at: starts,
            ends_at: starts + TimeDelta::hours(1),
            mode: BookingMode::Single,
            period_key: period_key(starts),
            limit: LIMIT,
            reminder_offsets: vec![TimeDelta::hours(1)],
            correlation_id: Some(format!("test-book-{}", starts.timestamp())),
        })
    }

    /// A collective meeting with all of `owners`, in this order.
    pub fn collective(mut self, owners: Vec<UserId>) -> Self {
        self.0.owners = owners;
        self.0.mode = BookingMode::Collective;
        self
    }

    /// Reminders at these offsets before the start instead.
    pub fn reminders(mut self, offsets: Vec<TimeDelta>) -> Self {
        self.0.reminder_offsets = offsets;
        self
    }

    /// What the store is given, for a test that books in a transaction of
    /// its own.
    pub fn into_new_booking(self) -> NewBooking {
        self.0
    }

    /// Books it; panics when the store refuses.
    pub async fn book(self, db: &Db, clock: &Clock) -> Meeting {
        let now = clock.now();
        let new = self.0;
        db.write(move |c| Ok(meetings::book(c, &new, now)))
            .await
            .expect("the store answers")
            .expect("the slot is free")
    }

    /// Books it and queues its calendar sync.
    pub async fn book_and_sync(self, db: &Db, queue: &Queue, clock: &Clock) -> Meeting {
        let booked = self.book(db, clock).await;
        push_sync(queue, &booked).await;
        booked
    }
}

/// Moves meeting `id` to one hour from `starts` (reminders an hour before)
/// and queues its calendar sync.
pub async fn move_and_sync(
    db: &Db,
    queue: &Queue,
    clock: &Clock,
    id: MeetingId,
    starts: DateTime<Utc>,
) -> Meeting {
    let to = NewTime {
        starts_at: starts,
        ends_at: starts + TimeDelta::hours(1),
        period_key: period_key(starts),
        limit: LIMIT,
        reminder_offsets: vec![TimeDelta::hours(1)],
    };
    let now = clock.now();
    let moved = db
        .write(move |c| Ok(meetings::reschedule(c, id, &to, now)))
        .await
        .expect("the store answers")
        .expect("the new slot is free");
    push_sync(queue, &moved).await;
    moved
}

/// Cancels meeting `id` as `by` (a participant) and queues its calendar
/// sync.
pub async fn cancel_and_sync(
    db: &Db,
    queue: &Queue,
    clock: &Clock,
    id: MeetingId,
    by: UserId,
) -> Meeting {
    let now = clock.now();
    let cancelled = db
        .write(move |c| Ok(meetings::cancel(c, id, by, None, now)))
        .await
        .expect("the store answers")
        .expect("the meeting can be cancelled");
    push_sync(queue, &cancelled).await;
    cancelled
}

/// Queues the calendar sync of `meeting`'s current revision, as the bot
/// does after its commit.
pub async fn push_sync(queue: &Queue, meeting: &Meeting) {
    let correlation = format!("test-sync-{}-{}", meeting.id.0, meeting.revision);
    SyncCalendar::push(queue, meeting.id, meeting.revision, &correlation)
        .await
        .expect("the job is queued");
}

/// The meeting as stored now.
pub async fn find(db: &Db, id: MeetingId) -> Meeting {
    db.read(move |c| meetings::find(c, id))
        .await
        .expect("the store answers")
        .expect("the meeting exists")
}

/// Whether the calendars match the meeting's current revision.
pub fn is_synced(meeting: &Meeting) -> bool {
    meeting.sync_state == SyncState::Synced && meeting.synced_revision == Some(meeting.revision)
}

/// Waits until `check` holds for the stored meeting; returns it.
pub async fn meeting_until(
    db: &Db,
    id: MeetingId,
    what: &str,
    check: impl Fn(&Meeting) -> bool,
) -> Meeting {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let current = find(db, id).await;
        if check(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {what}: {current:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until the worker synced the meeting's current revision.
pub async fn synced(db: &Db, id: MeetingId) -> Meeting {
    meeting_until(db, id, "synced", is_synced).await
}

/// 10:00 UTC, `days` days after `now`.
pub fn days_ahead(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let day = now + TimeDelta::days(days);
    Utc.with_ymd_and_hms(day.year(), day.month(), day.day(), 10, 0, 0)
        .single()
        .expect("10:00 UTC exists every day")
}

/// The live (not cancelled) events of a fake Google calendar.
pub fn live_events(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|event| event["status"] != "cancelled")
        .collect()
}

/// The instant of an event's `start` or `end`.
pub fn event_instant(time: &Value) -> DateTime<Utc> {
    time["dateTime"]
        .as_str()
        .and_then(|raw| DateTime::parse_from_rfc3339(raw).ok())
        .map(|at| at.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a timed event: {time}"))
}

/// A limit period of the tests' own, one per start.
fn period_key(starts: DateTime<Utc>) -> String {
    format!("test-{}", starts.timestamp())
}

/// In `conn`'s transaction, for each `i` of `pairs`: a manager (chat
/// `first_chat + 2i`) and an owner of their own (the next chat), booked
/// together from `starts_at` for an hour with one reminder `lead` ahead,
/// through the repository functions the bot uses; the calendar is marked
/// synced (no invites: load tests are about the reminders). Answers both
/// chats of every pair.
pub fn book_pairs_synced(
    conn: &mut DbConn,
    first_chat: i64,
    pairs: Range<i64>,
    starts_at: DateTime<Utc>,
    lead: TimeDelta,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbError> {
    let mut chats = Vec::new();
    for i in pairs {
        let manager_chat = first_chat + 2 * i;
        let owner_chat = manager_chat + 1;
        let manager = SeedUser::new(manager_chat, "Mia", "Manager").insert_with(conn)?;
        let owner = SeedUser::new(owner_chat, "Otto", "Owner")
            .role(Some(Role::Owner))
            .insert_with(conn)?;
        let new = Booking::one_hour(manager.id, owner.id, starts_at)
            .reminders(vec![lead])
            .into_new_booking();
        let meeting = match meetings::book(conn, &new, now) {
            Ok(meeting) => meeting,
            Err(BookingError::Db(error)) => return Err(error),
            Err(other) => panic!("a seeded booking was refused: {other}"),
        };
        calendar_sync::mark_synced(conn, meeting.id, meeting.revision)?;
        chats.extend([manager_chat, owner_chat]);
    }
    Ok(chats)
}
