//! Broadcasts: one row per `/broadcast`, its messages as outbox rows
//! (`kind = broadcast`, `broadcast_id` set), and the progress message the
//! worker keeps current. Every step a worker takes is claimed with a
//! conditional update, so several workers never do it twice.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::{broadcasts, outbox_messages};
use super::types::{BroadcastId, OptionalUtcTime, OutboxMessageId, UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::delivery::OutboxState;

/// The outbox kind of the messages a broadcast sends to its recipients.
pub const MESSAGE_KIND: &str = "broadcast";
/// The outbox kind of the author's progress message (an edit in place).
pub const PROGRESS_KIND: &str = "broadcast.progress";

/// Where a broadcast stands; `finished` once nothing is pending.
const RUNNING: &str = "running";
const FINISHED: &str = "finished";

/// A stored broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = broadcasts)]
pub struct Broadcast {
    pub id: BroadcastId,
    pub author_id: UserId,
    /// The author's text, as typed.
    pub body: String,
    pub state: String,
    pub total: i32,
    pub delivered: i32,
    pub failed: i32,
    pub blocked: i32,
    pub progress_chat_id: Option<i64>,
    pub progress_message_id: Option<i64>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub progress_edited_at: Option<DateTime<Utc>>,
    pub correlation_id: Option<String>,
    #[diesel(deserialize_as = UtcTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub finished_at: Option<DateTime<Utc>>,
}

impl Broadcast {
    pub fn is_finished(&self) -> bool {
        self.state == FINISHED
    }
}

/// A new broadcast; its messages are queued separately, in the same
/// transaction.
#[derive(Debug, Clone)]
pub struct NewBroadcast<'a> {
    pub author: UserId,
    pub body: &'a str,
    pub total: i32,
    /// The author's message that shows the progress (edited in place).
    pub progress_chat_id: i64,
    pub progress_message_id: Option<i64>,
    pub correlation_id: Option<&'a str>,
}

/// Where a broadcast's messages stand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    pub blocked: i64,
}

impl Tally {
    /// Messages that reached an end (sent or not).
    pub fn done(&self) -> i64 {
        self.delivered + self.failed + self.blocked
    }
}

pub fn create(
    conn: &mut DbConn,
    new: &NewBroadcast<'_>,
    now: DateTime<Utc>,
) -> Result<BroadcastId, DbError> {
    Ok(diesel::insert_into(broadcasts::table)
        .values((
            broadcasts::author_id.eq(new.author),
            broadcasts::body.eq(new.body),
            broadcasts::state.eq(RUNNING),
            broadcasts::total.eq(new.total),
            broadcasts::progress_chat_id.eq(Some(new.progress_chat_id)),
            broadcasts::progress_message_id.eq(new.progress_message_id),
            broadcasts::correlation_id.eq(new.correlation_id),
            broadcasts::created_at.eq(UtcTime::from(now)),
        ))
        .returning(broadcasts::id)
        .get_result(conn)?)
}

pub fn get(conn: &mut DbConn, id: BroadcastId) -> Result<Option<Broadcast>, DbError> {
    Ok(broadcasts::table
        .find(id)
        .select(Broadcast::as_select())
        .first(conn)
        .optional()?)
}

/// Broadcasts still sending, oldest first.
pub fn running(conn: &mut DbConn) -> Result<Vec<Broadcast>, DbError> {
    Ok(broadcasts::table
        .filter(broadcasts::state.eq(RUNNING))
        .order(broadcasts::id)
        .select(Broadcast::as_select())
        .load(conn)?)
}

/// Claims the right to update the progress message now: only if nobody did
/// since `every` ago (or ever). The first claim also means "push the
/// messages", which the bot leaves to the workers.
pub fn claim_progress(
    conn: &mut DbConn,
    id: BroadcastId,
    now: DateTime<Utc>,
    every: TimeDelta,
) -> Result<bool, DbError> {
    let due = broadcasts::progress_edited_at
        .is_null()
        .or(broadcasts::progress_edited_at.le(UtcTime::from(now - every)));
    let changed = diesel::update(
        broadcasts::table
            .find(id)
            .filter(broadcasts::state.eq(RUNNING))
            .filter(due),
    )
    .set(broadcasts::progress_edited_at.eq(Some(UtcTime::from(now))))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Where the messages of broadcast `id` stand.
pub fn tally(conn: &mut DbConn, id: BroadcastId) -> Result<Tally, DbError> {
    let rows: Vec<(OutboxState, i64)> = outbox_messages::table
        .filter(outbox_messages::broadcast_id.eq(id))
        .filter(outbox_messages::kind.eq(MESSAGE_KIND))
        .group_by(outbox_messages::state)
        .select((outbox_messages::state, count_star()))
        .load(conn)?;
    let mut tally = Tally::default();
    for (state, n) in rows {
        match state {
            OutboxState::Pending => tally.pending += n,
            OutboxState::Sent => tally.delivered += n,
            OutboxState::Blocked => tally.blocked += n,
            OutboxState::Failed | OutboxState::Cancelled => tally.failed += n,
        }
    }
    Ok(tally)
}

/// The ids of the messages still owed by broadcast `id`.
pub fn pending_messages(
    conn: &mut DbConn,
    id: BroadcastId,
) -> Result<Vec<OutboxMessageId>, DbError> {
    Ok(outbox_messages::table
        .filter(outbox_messages::broadcast_id.eq(id))
        .filter(outbox_messages::kind.eq(MESSAGE_KIND))
        .filter(outbox_messages::state.eq(OutboxState::Pending))
        .order(outbox_messages::id)
        .select(outbox_messages::id)
        .load(conn)?)
}

/// The progress edit not sent yet, if any (it is updated rather than a
/// second one queued behind it).
pub fn pending_progress(
    conn: &mut DbConn,
    id: BroadcastId,
) -> Result<Option<OutboxMessageId>, DbError> {
    Ok(outbox_messages::table
        .filter(outbox_messages::broadcast_id.eq(id))
        .filter(outbox_messages::kind.eq(PROGRESS_KIND))
        .filter(outbox_messages::state.eq(OutboxState::Pending))
        .order(outbox_messages::id.desc())
        .select(outbox_messages::id)
        .first(conn)
        .optional()?)
}

/// Marks broadcast `id` finished with its final counts, once: `false` when
/// another worker did it first.
pub fn finish(
    conn: &mut DbConn,
    id: BroadcastId,
    tally: &Tally,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    let changed = diesel::update(
        broadcasts::table
            .find(id)
            .filter(broadcasts::state.eq(RUNNING)),
    )
    .set((
        broadcasts::state.eq(FINISHED),
        broadcasts::delivered.eq(count(tally.delivered)),
        broadcasts::failed.eq(count(tally.failed)),
        broadcasts::blocked.eq(count(tally.blocked)),
        broadcasts::progress_edited_at.eq(Some(UtcTime::from(now))),
        broadcasts::finished_at.eq(Some(UtcTime::from(now))),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
