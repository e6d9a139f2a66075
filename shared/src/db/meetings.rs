//! Meetings: booking, cancelling, moving and closing them, race-free on
//! both backends without row locks.
//!
//! Two structures settle every race:
//! - **slot claims**: a meeting holds one `slot_claims` row per owner per
//!   15-minute cell it covers (the same cells blocked periods claim, see
//!   `super::blocked_periods`), so two meetings of one owner — whatever
//!   their lengths, single or collective — or a meeting and a block cannot
//!   overlap: the primary key `(owner_id, cell_start)` refuses the second;
//! - **quotas**: the per-period limit is a counter taken with a conditional
//!   `UPDATE … SET used = used + 1 WHERE used < limit`, so quick double taps
//!   cannot exceed it.
//!
//! Every change runs in a savepoint of the caller's transaction: a refusal
//! rolls back only the savepoint and comes back as a typed
//! [`BookingError`], leaving the caller free to audit and reply. Writers
//! touch rows in one order — the meeting row, then quota rows (by period
//! key), then claims (by owner, then cell) — so concurrent writers on
//! PostgreSQL wait for each other instead of deadlocking.
//!
//! Audit rows and the calendar-sync job are the caller's: the repository
//! only leaves `sync_state = 'pending'` for the job to find.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::schema::{booking_quotas, meeting_participants, meetings, reminders, slot_claims};
use super::types::{MeetingId, OptionalUtcTime, UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::availability::covered_cells;
use crate::domain::booking::{
    BookingError, MeetingStatus, Outcome, ParticipantRole, ReminderState, SyncState, plan_reminders,
};
use crate::domain::settings::BookingMode;
use crate::per_backend;

/// Claims written per INSERT statement (3 bind values a row), far below
/// both backends' parameter limits.
const CLAIMS_PER_STATEMENT: usize = 1_000;

/// A stored meeting.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = meetings)]
pub struct Meeting {
    pub id: MeetingId,
    pub manager_id: UserId,
    pub mode: BookingMode,
    #[diesel(deserialize_as = UtcTime)]
    pub starts_at: DateTime<Utc>,
    #[diesel(deserialize_as = UtcTime)]
    pub ends_at: DateTime<Utc>,
    pub status: MeetingStatus,
    /// The limit period the meeting counts in (`2026-W48`, `2026-12`).
    pub period_key: String,
    /// Grows with every change the calendar and reminders must follow.
    pub revision: i32,
    pub sync_state: SyncState,
    pub synced_revision: Option<i32>,
    pub calendar_owner_id: Option<UserId>,
    pub google_event_id: Option<String>,
    pub meet_link: Option<String>,
    pub cancel_reason: Option<String>,
    pub cancelled_by: Option<UserId>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub cancelled_at: Option<DateTime<Utc>>,
    pub correlation_id: Option<String>,
    #[diesel(deserialize_as = UtcTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(deserialize_as = UtcTime)]
    pub updated_at: DateTime<Utc>,
}

/// A person taking part in a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = meeting_participants)]
pub struct Participant {
    pub user_id: UserId,
    pub role: ParticipantRole,
}

/// A meeting to book, already checked against availability by the caller
/// (the claims and the quota decide the races, not that check).
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub manager: UserId,
    /// One owner in single mode; all the chosen owners in collective mode.
    pub owners: Vec<UserId>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub mode: BookingMode,
    /// `crate::domain::booking::period_key` of `starts_at`.
    pub period_key: String,
    /// Meetings the manager may have in that period.
    pub limit: u16,
    /// Reminders before the start, for every participant.
    pub reminder_offsets: Vec<TimeDelta>,
    pub correlation_id: Option<String>,
}

/// Where a meeting moves to.
#[derive(Debug, Clone)]
pub struct NewTime {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The period of the new start; the quota moves when it differs.
    pub period_key: String,
    pub limit: u16,
    pub reminder_offsets: Vec<TimeDelta>,
}

/// An owner's time taken by an active meeting, for slot computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusyMeeting {
    pub owner_id: UserId,
    pub meeting_id: MeetingId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Books a meeting: takes the manager's quota, claims every cell for every
/// owner, and stores the meeting (scheduled, revision 1, sync pending), its
/// participants and its reminders — all or nothing, in a savepoint.
/// `SlotTaken` and `LimitReached` are the race outcomes the UI reports.
pub fn book(
    conn: &mut DbConn,
    new: &NewBooking,
    now: DateTime<Utc>,
) -> Result<Meeting, BookingError> {
    let mut owners = new.owners.clone();
    owners.sort_unstable();
    owners.dedup();
    validate_booking(new, &owners)?;
    let id = conn.transaction(|conn| -> Result<MeetingId, BookingError> {
        take_quota(conn, new.manager, &new.period_key, new.limit)?;
        let id: MeetingId = diesel::insert_into(meetings::table)
            .values((
                meetings::manager_id.eq(new.manager),
                meetings::mode.eq(new.mode),
                meetings::starts_at.eq(UtcTime::from(new.starts_at)),
                meetings::ends_at.eq(UtcTime::from(new.ends_at)),
                meetings::status.eq(MeetingStatus::Scheduled),
                meetings::period_key.eq(&new.period_key),
                meetings::revision.eq(1),
                meetings::sync_state.eq(SyncState::Pending),
                meetings::correlation_id.eq(new.correlation_id.as_deref()),
                meetings::created_at.eq(UtcTime::from(now)),
                meetings::updated_at.eq(UtcTime::from(now)),
            ))
            .returning(meetings::id)
            .get_result(conn)?;
        let cells: Vec<UtcTime> = covered_cells(new.starts_at, new.ends_at)
            .map(UtcTime::from)
            .collect();
        for owner in &owners {
            claim(conn, id, *owner, &cells)?;
        }
        let mut participants = vec![(new.manager, ParticipantRole::Manager)];
        participants.extend(owners.iter().map(|o| (*o, ParticipantRole::Owner)));
        let rows: Vec<_> = participants
            .iter()
            .map(|(user, role)| {
                (
                    meeting_participants::meeting_id.eq(id),
                    meeting_participants::user_id.eq(*user),
                    meeting_participants::role.eq(*role),
                )
            })
            .collect();
        per_backend!(conn, |c| diesel::insert_into(meeting_participants::table)
            .values(&rows)
            .execute(c))?;
        let recipients: Vec<UserId> = participants.iter().map(|(user, _)| *user).collect();
        plan(
            conn,
            id,
            1,
            &recipients,
            new.starts_at,
            &new.reminder_offsets,
            now,
        )?;
        Ok(id)
    })?;
    get(conn, id)
}

fn validate_booking(new: &NewBooking, owners: &[UserId]) -> Result<(), BookingError> {
    if new.ends_at <= new.starts_at {
        return Err(BookingError::Invalid(
            "the meeting must end after it starts",
        ));
    }
    if owners.is_empty() {
        return Err(BookingError::Invalid("a meeting needs an owner"));
    }
    if new.mode == BookingMode::Single && owners.len() != 1 {
        return Err(BookingError::Invalid(
            "a single meeting has exactly one owner",
        ));
    }
    if owners.contains(&new.manager) {
        return Err(BookingError::Invalid(
            "the manager cannot be an owner of the meeting",
        ));
    }
    if new.limit == 0 {
        return Err(BookingError::LimitReached);
    }
    Ok(())
}

/// Counts one more meeting of `manager` in `period_key`, unless `limit`
/// are already counted. The row is created on first use; the conditional
/// increment is what settles two quick taps (the second waits for the first
/// on PostgreSQL and then sees its count; SQLite serialises writers).
fn take_quota(
    conn: &mut DbConn,
    manager: UserId,
    period_key: &str,
    limit: u16,
) -> Result<(), BookingError> {
    per_backend!(conn, |c| diesel::insert_into(booking_quotas::table)
        .values((
            booking_quotas::manager_id.eq(manager),
            booking_quotas::period_key.eq(period_key),
            booking_quotas::used.eq(0),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    let taken = diesel::update(
        booking_quotas::table
            .filter(booking_quotas::manager_id.eq(manager))
            .filter(booking_quotas::period_key.eq(period_key))
            .filter(booking_quotas::used.lt(i32::from(limit))),
    )
    .set(booking_quotas::used.eq(booking_quotas::used + 1))
    .execute(conn)?;
    if taken == 1 {
        Ok(())
    } else {
        Err(BookingError::LimitReached)
    }
}

/// Gives one meeting of the period back (never below zero).
fn give_back_quota(
    conn: &mut DbConn,
    manager: UserId,
    period_key: &str,
) -> Result<(), BookingError> {
    diesel::update(
        booking_quotas::table
            .filter(booking_quotas::manager_id.eq(manager))
            .filter(booking_quotas::period_key.eq(period_key))
            .filter(booking_quotas::used.gt(0)),
    )
    .set(booking_quotas::used.eq(booking_quotas::used - 1))
    .execute(conn)?;
    Ok(())
}

/// Claims `cells` (ascending) of `owner` for meeting `id`; a cell already
/// held by anything is `SlotTaken`.
fn claim(
    conn: &mut DbConn,
    id: MeetingId,
    owner: UserId,
    cells: &[UtcTime],
) -> Result<(), BookingError> {
    for chunk in cells.chunks(CLAIMS_PER_STATEMENT) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|cell| {
                (
                    slot_claims::owner_id.eq(owner),
                    slot_claims::cell_start.eq(*cell),
                    slot_claims::meeting_id.eq(Some(id)),
                )
            })
            .collect();
        // A multi-row INSERT, which the enum connection cannot express.
        per_backend!(conn, |c| diesel::insert_into(slot_claims::table)
            .values(&rows)
            .execute(c))
        .map_err(|error| {
            let error = DbError::Query(error);
            if error.is_unique_violation() {
                BookingError::SlotTaken
            } else {
                BookingError::Db(error)
            }
        })?;
    }
    Ok(())
}

/// Stores the reminders of `revision` for every recipient.
fn plan(
    conn: &mut DbConn,
    id: MeetingId,
    revision: i32,
    recipients: &[UserId],
    starts_at: DateTime<Utc>,
    offsets: &[TimeDelta],
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let planned = plan_reminders(starts_at, offsets, now);
    let rows: Vec<_> = recipients
        .iter()
        .flat_map(|recipient| {
            planned.iter().map(move |reminder| {
                (
                    reminders::meeting_id.eq(id),
                    reminders::recipient_id.eq(*recipient),
                    reminders::meeting_revision.eq(revision),
                    reminders::offset_minutes.eq(reminder.offset_minutes),
                    reminders::due_at.eq(UtcTime::from(reminder.due_at)),
                    reminders::state.eq(ReminderState::Pending),
                )
            })
        })
        .collect();
    if !rows.is_empty() {
        per_backend!(conn, |c| diesel::insert_into(reminders::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

/// Cancels the reminders of meeting `id` that have not gone out yet.
fn drop_pending_reminders(conn: &mut DbConn, id: MeetingId) -> Result<(), BookingError> {
    diesel::update(
        reminders::table
            .filter(reminders::meeting_id.eq(id))
            .filter(reminders::state.eq(ReminderState::Pending)),
    )
    .set(reminders::state.eq(ReminderState::Cancelled))
    .execute(conn)?;
    Ok(())
}

/// Cancels a scheduled meeting: frees its cells, gives the quota back,
/// cancels its pending reminders and leaves a new revision for the calendar
/// sync. `NotScheduled` when it was cancelled, closed or changed meanwhile.
/// Who may cancel (and the cancel notice) is the caller's check.
pub fn cancel(
    conn: &mut DbConn,
    id: MeetingId,
    by: UserId,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Meeting, BookingError> {
    let meeting = find(conn, id)?.ok_or(BookingError::NotFound)?;
    if meeting.status != MeetingStatus::Scheduled {
        return Err(BookingError::NotScheduled);
    }
    conn.transaction(|conn| -> Result<(), BookingError> {
        let changed = diesel::update(
            meetings::table
                .find(id)
                .filter(meetings::status.eq(MeetingStatus::Scheduled))
                .filter(meetings::revision.eq(meeting.revision)),
        )
        .set((
            meetings::status.eq(MeetingStatus::Cancelled),
            meetings::cancel_reason.eq(reason),
            meetings::cancelled_by.eq(Some(by)),
            meetings::cancelled_at.eq(Some(UtcTime::from(now))),
            meetings::revision.eq(meetings::revision + 1),
            meetings::sync_state.eq(SyncState::Pending),
            meetings::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(BookingError::NotScheduled);
        }
        give_back_quota(conn, meeting.manager_id, &meeting.period_key)?;
        diesel::delete(slot_claims::table.filter(slot_claims::meeting_id.eq(id))).execute(conn)?;
        drop_pending_reminders(conn, id)?;
        Ok(())
    })?;
    get(conn, id)
}

/// Meeting `id` and its participants, if it may move to
/// `[starts_at, ends_at)`: the span is not empty and the meeting is still
/// scheduled.
fn scheduled_to_move(
    conn: &mut DbConn,
    id: MeetingId,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> Result<(Meeting, Vec<Participant>), BookingError> {
    if ends_at <= starts_at {
        return Err(BookingError::Invalid(
            "the meeting must end after it starts",
        ));
    }
    let meeting = find(conn, id)?.ok_or(BookingError::NotFound)?;
    if meeting.status != MeetingStatus::Scheduled {
        return Err(BookingError::NotScheduled);
    }
    let people = participants(conn, id)?;
    Ok((meeting, people))
}

/// Moves a scheduled meeting to `to`, atomically: the new cells are claimed
/// first (`SlotTaken`: nothing changes, the old slot stays), then the old
/// ones are freed; the quota moves when the period changes (`LimitReached`
/// when the new period is full); reminders are planned anew for the new
/// revision and the calendar sync is left pending.
pub fn reschedule(
    conn: &mut DbConn,
    id: MeetingId,
    to: &NewTime,
    now: DateTime<Utc>,
) -> Result<Meeting, BookingError> {
    let (meeting, people) = scheduled_to_move(conn, id, to.starts_at, to.ends_at)?;
    let revision = meeting.revision + 1;
    conn.transaction(|conn| -> Result<(), BookingError> {
        let changed = diesel::update(
            meetings::table
                .find(id)
                .filter(meetings::status.eq(MeetingStatus::Scheduled))
                .filter(meetings::revision.eq(meeting.revision)),
        )
        .set((
            meetings::starts_at.eq(UtcTime::from(to.starts_at)),
            meetings::ends_at.eq(UtcTime::from(to.ends_at)),
            meetings::period_key.eq(&to.period_key),
            meetings::revision.eq(revision),
            meetings::sync_state.eq(SyncState::Pending),
            meetings::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(BookingError::NotScheduled);
        }
        if to.period_key != meeting.period_key {
            move_quota(conn, &meeting, to)?;
        }
        move_claims_and_reminders(
            conn,
            &meeting,
            &people,
            (to.starts_at, to.ends_at),
            revision,
            &to.reminder_offsets,
            now,
        )?;
        Ok(())
    })?;
    get(conn, id)
}

/// The claims and reminders of a meeting that moves to `(starts_at,
/// ends_at)` at `revision`: every owner's new cells claimed first (the
/// cells it already holds stay claimed; a taken one fails the move), the
/// cells left behind freed, pending reminders dropped and planned anew for
/// every participant. Part of the caller's transaction.
fn move_claims_and_reminders(
    conn: &mut DbConn,
    meeting: &Meeting,
    people: &[Participant],
    (starts_at, ends_at): (DateTime<Utc>, DateTime<Utc>),
    revision: i32,
    reminder_offsets: &[TimeDelta],
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let id = meeting.id;
    let old: Vec<UtcTime> = covered_cells(meeting.starts_at, meeting.ends_at)
        .map(UtcTime::from)
        .collect();
    let new: Vec<UtcTime> = covered_cells(starts_at, ends_at)
        .map(UtcTime::from)
        .collect();
    let wanted: Vec<UtcTime> = new.iter().filter(|c| !old.contains(c)).copied().collect();
    let mut owners: Vec<UserId> = people
        .iter()
        .filter(|p| p.role == ParticipantRole::Owner)
        .map(|p| p.user_id)
        .collect();
    owners.sort_unstable();
    for owner in &owners {
        claim(conn, id, *owner, &wanted)?;
    }
    if let (Some(first), Some(last)) = (new.first(), new.last()) {
        diesel::delete(
            slot_claims::table
                .filter(slot_claims::meeting_id.eq(id))
                .filter(
                    slot_claims::cell_start
                        .lt(*first)
                        .or(slot_claims::cell_start.gt(*last)),
                ),
        )
        .execute(conn)?;
    }
    drop_pending_reminders(conn, id)?;
    let recipients: Vec<UserId> = people.iter().map(|p| p.user_id).collect();
    plan(
        conn,
        id,
        revision,
        &recipients,
        starts_at,
        reminder_offsets,
        now,
    )
}

/// Where the owner dragged a meeting's event in Google Calendar.
#[derive(Debug, Clone)]
pub struct CalendarMove {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The period of the new start.
    pub period_key: String,
    pub reminder_offsets: Vec<TimeDelta>,
}

/// Moves meeting `id`, at `revision`, to where its owner moved its event
/// in Google Calendar: like [`reschedule`] (the new cells of every owner
/// claimed first, the old ones freed, reminders planned anew) except that
/// the quota follows without a limit check (the owner's calendar decides,
/// not the manager's booking allowance) and the new revision is marked
/// synced, since Google already shows it — the calendar sync has nothing
/// to patch back. `SlotTaken` when the new time collides with another
/// meeting or blocked period of an owner (nothing changes);
/// `NotScheduled` when the meeting changed or was cancelled meanwhile.
pub fn move_from_calendar(
    conn: &mut DbConn,
    id: MeetingId,
    revision: i32,
    to: &CalendarMove,
    now: DateTime<Utc>,
) -> Result<Meeting, BookingError> {
    let (meeting, people) = scheduled_to_move(conn, id, to.starts_at, to.ends_at)?;
    if meeting.revision != revision {
        return Err(BookingError::NotScheduled);
    }
    let next = revision + 1;
    conn.transaction(|conn| -> Result<(), BookingError> {
        let changed = diesel::update(
            meetings::table
                .find(id)
                .filter(meetings::status.eq(MeetingStatus::Scheduled))
                .filter(meetings::revision.eq(revision)),
        )
        .set((
            meetings::starts_at.eq(UtcTime::from(to.starts_at)),
            meetings::ends_at.eq(UtcTime::from(to.ends_at)),
            meetings::period_key.eq(&to.period_key),
            meetings::revision.eq(next),
            meetings::sync_state.eq(SyncState::Synced),
            meetings::synced_revision.eq(Some(next)),
            meetings::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(BookingError::NotScheduled);
        }
        if to.period_key != meeting.period_key {
            give_back_quota(conn, meeting.manager_id, &meeting.period_key)?;
            take_quota(conn, meeting.manager_id, &to.period_key, u16::MAX)?;
        }
        move_claims_and_reminders(
            conn,
            &meeting,
            &people,
            (to.starts_at, to.ends_at),
            next,
            &to.reminder_offsets,
            now,
        )?;
        Ok(())
    })?;
    get(conn, id)
}

/// Leaves a new revision of meeting `id` (at `revision`) for the calendar
/// sync without changing its time, so the sync writes the meeting's time
/// back over a move in Google the bot refused. The pending reminders carry
/// over to the new revision (same time, same recipients).
/// `NotScheduled` when the meeting changed or was cancelled meanwhile.
pub fn resync_calendar(
    conn: &mut DbConn,
    id: MeetingId,
    revision: i32,
    now: DateTime<Utc>,
) -> Result<Meeting, BookingError> {
    let next = revision + 1;
    conn.transaction(|conn| -> Result<(), BookingError> {
        let changed = diesel::update(
            meetings::table
                .find(id)
                .filter(meetings::status.eq(MeetingStatus::Scheduled))
                .filter(meetings::revision.eq(revision)),
        )
        .set((
            meetings::revision.eq(next),
            meetings::sync_state.eq(SyncState::Pending),
            meetings::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(BookingError::NotScheduled);
        }
        diesel::update(
            reminders::table
                .filter(reminders::meeting_id.eq(id))
                .filter(reminders::meeting_revision.eq(revision))
                .filter(reminders::state.eq(ReminderState::Pending)),
        )
        .set(reminders::meeting_revision.eq(next))
        .execute(conn)?;
        Ok(())
    })?;
    get(conn, id)
}

/// Takes the new period's quota and gives the old one back, touching the
/// two rows in key order like every other writer.
fn move_quota(conn: &mut DbConn, meeting: &Meeting, to: &NewTime) -> Result<(), BookingError> {
    if meeting.period_key < to.period_key {
        give_back_quota(conn, meeting.manager_id, &meeting.period_key)?;
        take_quota(conn, meeting.manager_id, &to.period_key, to.limit)
    } else {
        take_quota(conn, meeting.manager_id, &to.period_key, to.limit)?;
        give_back_quota(conn, meeting.manager_id, &meeting.period_key)
    }
}

/// Records how a meeting that has started ended. Only a scheduled meeting
/// whose start is not after `now` can be closed (`NotStarted`,
/// `NotScheduled` otherwise); its cells stay claimed (the time was used)
/// and reminders not yet sent are cancelled.
pub fn mark_outcome(
    conn: &mut DbConn,
    id: MeetingId,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<Meeting, BookingError> {
    let meeting = find(conn, id)?.ok_or(BookingError::NotFound)?;
    if meeting.status != MeetingStatus::Scheduled {
        return Err(BookingError::NotScheduled);
    }
    if meeting.starts_at > now {
        return Err(BookingError::NotStarted);
    }
    conn.transaction(|conn| -> Result<(), BookingError> {
        let changed = diesel::update(
            meetings::table
                .find(id)
                .filter(meetings::status.eq(MeetingStatus::Scheduled))
                .filter(meetings::starts_at.le(UtcTime::from(now))),
        )
        .set((
            meetings::status.eq(MeetingStatus::from(outcome)),
            meetings::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
        if changed != 1 {
            return Err(BookingError::NotScheduled);
        }
        drop_pending_reminders(conn, id)
    })?;
    get(conn, id)
}

/// The scheduled meetings of `owner`'s calendar whose Google event is one
/// of `event_ids`, with that event id: which deleted events were meetings.
pub fn scheduled_with_events(
    conn: &mut DbConn,
    owner: UserId,
    event_ids: &[String],
) -> Result<Vec<(MeetingId, String)>, DbError> {
    let mut found = Vec::new();
    for chunk in event_ids.chunks(CLAIMS_PER_STATEMENT) {
        let rows: Vec<(MeetingId, Option<String>)> = meetings::table
            .filter(meetings::calendar_owner_id.eq(owner))
            .filter(meetings::status.eq(MeetingStatus::Scheduled))
            .filter(meetings::google_event_id.eq_any(chunk))
            .order(meetings::id)
            .select((meetings::id, meetings::google_event_id))
            .load(conn)?;
        found.extend(
            rows.into_iter()
                .filter_map(|(id, event)| event.map(|event| (id, event))),
        );
    }
    Ok(found)
}

/// A meeting by id, whoever it belongs to (callers check who may see it).
pub fn find(conn: &mut DbConn, id: MeetingId) -> Result<Option<Meeting>, DbError> {
    Ok(meetings::table
        .find(id)
        .select(Meeting::as_select())
        .first(conn)
        .optional()?)
}

fn get(conn: &mut DbConn, id: MeetingId) -> Result<Meeting, BookingError> {
    find(conn, id)?.ok_or(BookingError::NotFound)
}

/// The manager and owners of a meeting, manager first.
pub fn participants(conn: &mut DbConn, id: MeetingId) -> Result<Vec<Participant>, DbError> {
    let mut people: Vec<Participant> = meeting_participants::table
        .filter(meeting_participants::meeting_id.eq(id))
        .order(meeting_participants::user_id)
        .select(Participant::as_select())
        .load(conn)?;
    people.sort_by_key(|p| p.role != ParticipantRole::Manager);
    Ok(people)
}

/// The manager's scheduled meetings that are not over at `now`, earliest
/// first (what "my meetings" lists and the cadence check reads).
pub fn upcoming_for_manager(
    conn: &mut DbConn,
    manager: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<Meeting>, DbError> {
    Ok(meetings::table
        .filter(meetings::manager_id.eq(manager))
        .filter(meetings::status.eq(MeetingStatus::Scheduled))
        .filter(meetings::ends_at.gt(UtcTime::from(now)))
        .order((meetings::starts_at, meetings::id))
        .select(Meeting::as_select())
        .load(conn)?)
}

/// The scheduled meetings `owner` takes part in that are not over at
/// `now`, earliest first.
pub fn upcoming_for_owner(
    conn: &mut DbConn,
    owner: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<Meeting>, DbError> {
    Ok(meetings::table
        .inner_join(meeting_participants::table)
        .filter(meeting_participants::user_id.eq(owner))
        .filter(meeting_participants::role.eq(ParticipantRole::Owner))
        .filter(meetings::status.eq(MeetingStatus::Scheduled))
        .filter(meetings::ends_at.gt(UtcTime::from(now)))
        .order((meetings::starts_at, meetings::id))
        .select(Meeting::as_select())
        .load(conn)?)
}

/// The time each of `owners` is taken by scheduled meetings overlapping
/// `[from, until)`, earliest first: what slot computation leaves out (the
/// claims still decide the race at booking time).
pub fn busy_for_owners(
    conn: &mut DbConn,
    owners: &[UserId],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<BusyMeeting>, DbError> {
    let rows: Vec<(UserId, MeetingId, UtcTime, UtcTime)> = meetings::table
        .inner_join(meeting_participants::table)
        .filter(meeting_participants::user_id.eq_any(owners.to_vec()))
        .filter(meeting_participants::role.eq(ParticipantRole::Owner))
        .filter(meetings::status.eq(MeetingStatus::Scheduled))
        .filter(meetings::starts_at.lt(UtcTime::from(until)))
        .filter(meetings::ends_at.gt(UtcTime::from(from)))
        .order((meetings::starts_at, meeting_participants::user_id))
        .select((
            meeting_participants::user_id,
            meetings::id,
            meetings::starts_at,
            meetings::ends_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(owner_id, meeting_id, starts_at, ends_at)| BusyMeeting {
            owner_id,
            meeting_id,
            starts_at: starts_at.0,
            ends_at: ends_at.0,
        })
        .collect())
}

/// The limit periods (keys) in which `manager` already has `limit`
/// meetings: slots there are not offered. The quota taken at booking time
/// still decides a race; this only keeps the offer honest.
pub fn full_periods(
    conn: &mut DbConn,
    manager: UserId,
    limit: u16,
) -> Result<Vec<String>, DbError> {
    Ok(booking_quotas::table
        .filter(booking_quotas::manager_id.eq(manager))
        .filter(booking_quotas::used.ge(i32::from(limit)))
        .select(booking_quotas::period_key)
        .load(conn)?)
}
