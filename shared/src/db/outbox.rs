//! Outbound messages owed to someone: written in the transaction of the
//! action that causes them, sent afterwards, never sent twice once recorded.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::outbox_messages;
use super::types::{BroadcastId, OptionalUtcTime, OutboxMessageId, UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::delivery::{Lane, OutboxState};
use crate::per_backend;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewOutboxMessage<'a> {
    pub chat_id: i64,
    pub recipient: Option<UserId>,
    /// What it is, for logs and statistics (e.g. `admin.new_user`).
    pub kind: &'a str,
    pub lane: Lane,
    /// The message as JSON (text, parse mode, buttons).
    pub body: String,
    pub broadcast: Option<BroadcastId>,
    /// Makes the message unique: a second insert with the same key is
    /// ignored (e.g. `new-user:<user>:<admin>`).
    pub dedupe_key: Option<String>,
    pub correlation_id: Option<&'a str>,
}

/// A stored outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = outbox_messages)]
pub struct OutboxMessage {
    pub id: OutboxMessageId,
    pub chat_id: i64,
    pub recipient_id: Option<UserId>,
    pub kind: String,
    pub lane: Lane,
    pub body: String,
    pub state: OutboxState,
    pub attempts: i32,
    #[diesel(deserialize_as = UtcTime)]
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub telegram_message_id: Option<i64>,
    pub broadcast_id: Option<BroadcastId>,
    pub dedupe_key: Option<String>,
    pub correlation_id: Option<String>,
    #[diesel(deserialize_as = UtcTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// Queues a message; `None` when its dedupe key was taken already.
pub fn insert(
    conn: &mut DbConn,
    message: &NewOutboxMessage<'_>,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let row = (
        outbox_messages::chat_id.eq(message.chat_id),
        outbox_messages::recipient_id.eq(message.recipient),
        outbox_messages::kind.eq(message.kind),
        outbox_messages::lane.eq(message.lane),
        outbox_messages::body.eq(&message.body),
        outbox_messages::state.eq(OutboxState::Pending),
        outbox_messages::next_attempt_at.eq(UtcTime::from(now)),
        outbox_messages::broadcast_id.eq(message.broadcast),
        outbox_messages::dedupe_key.eq(message.dedupe_key.as_deref()),
        outbox_messages::correlation_id.eq(message.correlation_id),
        outbox_messages::created_at.eq(UtcTime::from(now)),
    );
    let inserted: Vec<OutboxMessageId> =
        per_backend!(conn, |c| diesel::insert_into(outbox_messages::table)
            .values(row)
            .on_conflict_do_nothing()
            .returning(outbox_messages::id)
            .get_results(c))?;
    Ok(inserted.into_iter().next())
}

pub fn get(conn: &mut DbConn, id: OutboxMessageId) -> Result<Option<OutboxMessage>, DbError> {
    Ok(outbox_messages::table
        .find(id)
        .select(OutboxMessage::as_select())
        .first(conn)
        .optional()?)
}

/// Records delivery; `false` if the message was not pending any more (a
/// second sender lost the race and must not count it).
pub fn mark_sent(
    conn: &mut DbConn,
    id: OutboxMessageId,
    telegram_message_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(pending(id))
        .set((
            outbox_messages::state.eq(OutboxState::Sent),
            outbox_messages::telegram_message_id.eq(Some(telegram_message_id)),
            outbox_messages::sent_at.eq(Some(UtcTime::from(now))),
            outbox_messages::attempts.eq(outbox_messages::attempts + 1),
            outbox_messages::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Ends a pending message without delivery (`Blocked`, `Failed`,
/// `Cancelled`), keeping the reason.
pub fn finish_undelivered(
    conn: &mut DbConn,
    id: OutboxMessageId,
    state: OutboxState,
    reason: &str,
) -> Result<bool, DbError> {
    let changed = diesel::update(pending(id))
        .set((
            outbox_messages::state.eq(state),
            outbox_messages::attempts.eq(outbox_messages::attempts + 1),
            outbox_messages::last_error.eq(Some(reason)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Counts a failed attempt and when the next one is due.
pub fn note_retry(
    conn: &mut DbConn,
    id: OutboxMessageId,
    next_attempt_at: DateTime<Utc>,
    reason: &str,
) -> Result<(), DbError> {
    diesel::update(pending(id))
        .set((
            outbox_messages::attempts.eq(outbox_messages::attempts + 1),
            outbox_messages::next_attempt_at.eq(UtcTime::from(next_attempt_at)),
            outbox_messages::last_error.eq(Some(reason)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Pending messages that should have gone out by `due_before`: the sweep
/// pushes their jobs again (a crash between commit and push loses the push,
/// never the message).
pub fn overdue(
    conn: &mut DbConn,
    due_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, DbError> {
    Ok(outbox_messages::table
        .filter(outbox_messages::state.eq(OutboxState::Pending))
        .filter(outbox_messages::next_attempt_at.lt(UtcTime::from(due_before)))
        .order(outbox_messages::id)
        .limit(limit)
        .select(OutboxMessage::as_select())
        .load(conn)?)
}

/// Replaces the body of a message not sent yet (a progress edit that has
/// newer news); `false` when it went out meanwhile.
pub fn replace_pending_body(
    conn: &mut DbConn,
    id: OutboxMessageId,
    body: &str,
) -> Result<bool, DbError> {
    let changed = diesel::update(pending(id))
        .set(outbox_messages::body.eq(body))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Drops the pending messages of `kind` for broadcast `broadcast`: a newer
/// message (the final report) supersedes them and they must never land
/// after it.
pub fn cancel_pending_of_broadcast(
    conn: &mut DbConn,
    broadcast: BroadcastId,
    kind: &str,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        outbox_messages::table
            .filter(outbox_messages::broadcast_id.eq(broadcast))
            .filter(outbox_messages::kind.eq(kind))
            .filter(outbox_messages::state.eq(OutboxState::Pending)),
    )
    .set((
        outbox_messages::state.eq(OutboxState::Cancelled),
        outbox_messages::last_error.eq(Some("superseded")),
    ))
    .execute(conn)?)
}

fn pending(
    id: OutboxMessageId,
) -> diesel::dsl::Filter<
    diesel::dsl::Find<outbox_messages::table, OutboxMessageId>,
    diesel::dsl::Eq<outbox_messages::state, OutboxState>,
> {
    outbox_messages::table
        .find(id)
        .filter(outbox_messages::state.eq(OutboxState::Pending))
}
