//! The calendar-sync state of meetings: what the `sync-calendar` job and
//! the worker's sweep read and record. Booking, cancelling and moving
//! (`super::meetings`) leave a meeting `pending` at a new revision; the job
//! brings the calendars to that revision and records it here, only if the
//! meeting is still at it (a newer change keeps it pending for its own job).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::meetings;
use super::types::{MeetingId, UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::booking::SyncState;

/// A meeting whose calendars still wait for its latest revision.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct PendingSync {
    pub meeting: MeetingId,
    pub revision: i32,
    /// Of the change that made it pending, for the re-pushed job.
    pub correlation_id: Option<String>,
}

/// Meetings pending since before `changed_before` (their last change is
/// older than that), oldest id first: the sweep pushes their jobs again,
/// since a crash between the commit and the push loses the push, never the
/// pending state.
pub fn pending_since_before(
    conn: &mut DbConn,
    changed_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PendingSync>, DbError> {
    Ok(meetings::table
        .filter(meetings::sync_state.eq(SyncState::Pending))
        .filter(meetings::updated_at.lt(UtcTime::from(changed_before)))
        .order(meetings::id)
        .limit(limit)
        .select((meetings::id, meetings::revision, meetings::correlation_id))
        .load(conn)?)
}

/// Records the calendars as matching `revision` — only if the meeting is
/// still at that revision; `false` when it changed meanwhile (the newer
/// revision stays pending for its own job) or is gone.
pub fn mark_synced(conn: &mut DbConn, id: MeetingId, revision: i32) -> Result<bool, DbError> {
    let changed = diesel::update(
        meetings::table
            .find(id)
            .filter(meetings::revision.eq(revision)),
    )
    .set((
        meetings::sync_state.eq(SyncState::Synced),
        meetings::synced_revision.eq(Some(revision)),
        meetings::sync_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Records that syncing `revision` gave up (`reason` kept for
/// diagnostics), only if the meeting is still at that revision and not
/// synced; the sweep does not revive a failed sync, the next change does.
pub fn mark_failed(
    conn: &mut DbConn,
    id: MeetingId,
    revision: i32,
    reason: &str,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        meetings::table
            .find(id)
            .filter(meetings::revision.eq(revision))
            .filter(meetings::sync_state.eq(SyncState::Pending)),
    )
    .set((
        meetings::sync_state.eq(SyncState::Failed),
        meetings::sync_attempts.eq(meetings::sync_attempts + 1),
        meetings::sync_error.eq(Some(reason)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Remembers where the meeting's Google event lives: on whose calendar,
/// its id and its Meet link (kept when `meet_link` is `None`). Written
/// whatever the revision, so a later job finds and moves or deletes the
/// event instead of inserting it again; `false` when the meeting is gone.
pub fn record_event(
    conn: &mut DbConn,
    id: MeetingId,
    calendar_owner: UserId,
    event_id: &str,
    meet_link: Option<&str>,
) -> Result<bool, DbError> {
    let target = meetings::table.find(id);
    let changed = match meet_link {
        Some(link) => diesel::update(target)
            .set((
                meetings::calendar_owner_id.eq(Some(calendar_owner)),
                meetings::google_event_id.eq(Some(event_id)),
                meetings::meet_link.eq(Some(link)),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                meetings::calendar_owner_id.eq(Some(calendar_owner)),
                meetings::google_event_id.eq(Some(event_id)),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}
