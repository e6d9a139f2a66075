//! Meeting reminders and manager nudges: which are due, and handing one
//! over to delivery.
//!
//! A reminder row is planned at booking (`super::meetings`); when it is due
//! the worker hands it over in one transaction: the reminder is marked
//! `sent` only while it is still `pending` (so of two workers exactly one
//! wins), and the outbox row (keyed `reminder:<id>`) is written beside it.
//! Delivery then goes the way of every message: a push after commit, and
//! the outbox sweep for a push lost in a crash. A nudge is claimed in
//! `periodic_runs` (`nudge` / `<manager>:<due date>:<days before>`) in the
//! transaction that writes its outbox row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::outbox::{self, NewOutboxMessage};
use super::periodic;
use super::schema::{meetings, periodic_runs, reminders, users};
use super::types::{MeetingId, OptionalUtcTime, OutboxMessageId, ReminderId, UserId, UtcTime};
use super::users::User;
use super::{DbConn, DbError};
use crate::domain::booking::{MeetingStatus, ReminderState};
use crate::domain::delivery::Lane;
use crate::domain::user::{Role, Status, WorkStatus};

/// The outbox `kind` of a meeting reminder.
pub const REMINDER_KIND: &str = "meeting.reminder";
/// The outbox `kind` of a nudge.
pub const NUDGE_KIND: &str = "manager.nudge";
/// The `periodic_runs` name nudges are claimed under.
pub const NUDGE_CLAIM: &str = "nudge";

/// A stored reminder.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = reminders)]
pub struct Reminder {
    pub id: ReminderId,
    pub meeting_id: MeetingId,
    pub recipient_id: UserId,
    /// The meeting revision it was planned for; a reminder of an older
    /// revision must not go out.
    pub meeting_revision: i32,
    pub offset_minutes: i32,
    #[diesel(deserialize_as = UtcTime)]
    pub due_at: DateTime<Utc>,
    pub state: ReminderState,
    pub attempts: i32,
    pub last_error: Option<String>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// Pending reminders due by `now`, oldest first, at most `limit`.
pub fn due(conn: &mut DbConn, now: DateTime<Utc>, limit: i64) -> Result<Vec<Reminder>, DbError> {
    Ok(reminders::table
        .filter(reminders::state.eq(ReminderState::Pending))
        .filter(reminders::due_at.le(UtcTime::from(now)))
        .order((reminders::due_at, reminders::id))
        .limit(limit)
        .select(Reminder::as_select())
        .load(conn)?)
}

/// A reminder by id: the worker reads it again inside the transaction that
/// settles it, since another worker may have settled it meanwhile.
pub fn get(conn: &mut DbConn, id: ReminderId) -> Result<Option<Reminder>, DbError> {
    Ok(reminders::table
        .find(id)
        .select(Reminder::as_select())
        .first(conn)
        .optional()?)
}

/// Every reminder of a meeting (all revisions), in due order.
pub fn for_meeting(conn: &mut DbConn, meeting: MeetingId) -> Result<Vec<Reminder>, DbError> {
    Ok(reminders::table
        .filter(reminders::meeting_id.eq(meeting))
        .order((reminders::due_at, reminders::id))
        .select(Reminder::as_select())
        .load(conn)?)
}

/// Ends a pending reminder without sending it, keeping why; `false` if it
/// was not pending any more.
pub fn cancel(conn: &mut DbConn, id: ReminderId, reason: &str) -> Result<bool, DbError> {
    let changed = diesel::update(
        reminders::table
            .find(id)
            .filter(reminders::state.eq(ReminderState::Pending)),
    )
    .set((
        reminders::state.eq(ReminderState::Cancelled),
        reminders::last_error.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// One reminder's message, as the worker composed it.
#[derive(Debug, Clone)]
pub struct Handover<'a> {
    pub reminder: ReminderId,
    pub recipient: UserId,
    pub chat_id: i64,
    /// An `OutgoingMessage` as JSON.
    pub body: String,
    pub correlation_id: Option<&'a str>,
}

/// The outbox key of a reminder's message: one message per reminder row.
pub fn reminder_dedupe_key(id: ReminderId) -> String {
    format!("reminder:{id}")
}

/// Marks the reminder sent (only if still pending) and queues its message,
/// in the caller's write transaction. `None` when another worker handed it
/// over first, or it was cancelled meanwhile: then nothing is written.
pub fn hand_over(
    conn: &mut DbConn,
    handover: &Handover<'_>,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let changed = diesel::update(
        reminders::table
            .find(handover.reminder)
            .filter(reminders::state.eq(ReminderState::Pending)),
    )
    .set((
        reminders::state.eq(ReminderState::Sent),
        reminders::sent_at.eq(Some(UtcTime::from(now))),
        reminders::attempts.eq(reminders::attempts + 1),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Ok(None);
    }
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: handover.chat_id,
            recipient: Some(handover.recipient),
            kind: REMINDER_KIND,
            lane: Lane::Bulk,
            body: handover.body.clone(),
            broadcast: None,
            dedupe_key: Some(reminder_dedupe_key(handover.reminder)),
            correlation_id: handover.correlation_id,
        },
        now,
    )
}

/// Managers who may be nudged: active, role manager, working; by id.
pub fn nudge_candidates(conn: &mut DbConn) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .filter(users::status.eq(Status::Active))
        .filter(users::role.eq(Role::Manager))
        .filter(users::work_status.eq(WorkStatus::Working))
        .order(users::id)
        .select(User::as_select())
        .load(conn)?)
}

/// One meeting as the cadence sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeetingStart {
    pub manager: UserId,
    pub starts_at: DateTime<Utc>,
    pub status: MeetingStatus,
}

/// The meetings (not cancelled) starting at or after `since`, of every
/// manager, or of `manager` only. Older meetings cannot matter to a nudge:
/// a manager whose latest meeting is older than the cadence is overdue.
pub fn meeting_starts_since(
    conn: &mut DbConn,
    manager: Option<UserId>,
    since: DateTime<Utc>,
) -> Result<Vec<MeetingStart>, DbError> {
    let query = meetings::table
        .filter(meetings::status.ne(MeetingStatus::Cancelled))
        .filter(meetings::starts_at.ge(UtcTime::from(since)))
        .order((meetings::manager_id, meetings::starts_at))
        .select((meetings::manager_id, meetings::starts_at, meetings::status));
    let rows: Vec<(UserId, UtcTime, MeetingStatus)> = match manager {
        Some(manager) => query.filter(meetings::manager_id.eq(manager)).load(conn)?,
        None => query.load(conn)?,
    };
    Ok(rows
        .into_iter()
        .map(|(manager, starts_at, status)| MeetingStart {
            manager,
            starts_at: starts_at.0,
            status,
        })
        .collect())
}

/// The nudge claims made at or after `since` (their period keys): what was
/// sent already, read once so a tick writes only for new nudges.
pub fn nudge_claims_since(conn: &mut DbConn, since: DateTime<Utc>) -> Result<Vec<String>, DbError> {
    Ok(periodic_runs::table
        .filter(periodic_runs::name.eq(NUDGE_CLAIM))
        .filter(periodic_runs::claimed_at.ge(UtcTime::from(since)))
        .select(periodic_runs::period_key)
        .load(conn)?)
}

/// One nudge, as the worker composed it.
#[derive(Debug, Clone)]
pub struct NudgeMessage<'a> {
    pub manager: UserId,
    pub chat_id: i64,
    /// `<manager>:<due date>:<days before>`, naming the nudge.
    pub key: String,
    /// An `OutgoingMessage` as JSON.
    pub body: String,
    pub correlation_id: Option<&'a str>,
}

/// Claims the nudge and queues its message, in the caller's write
/// transaction; `None` when it was claimed before (by any worker).
pub fn send_nudge(
    conn: &mut DbConn,
    nudge: &NudgeMessage<'_>,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    if !periodic::claim(conn, NUDGE_CLAIM, &nudge.key, worker, now)? {
        return Ok(None);
    }
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: nudge.chat_id,
            recipient: Some(nudge.manager),
            kind: NUDGE_KIND,
            lane: Lane::Bulk,
            body: nudge.body.clone(),
            broadcast: None,
            dedupe_key: Some(format!("{NUDGE_CLAIM}:{}", nudge.key)),
            correlation_id: nudge.correlation_id,
        },
        now,
    )
}
