//! Outbound messages owed to someone: written in the transaction of the
//! action that causes them, sent afterwards, never sent twice once recorded.
//!
//! A sender holds a short **sending lease** on a message while it sends it
//! and records the outcome ([`claim`], or [`insert_leased`] for a reply the
//! bot sends right after its commit); every outcome clears it. Nobody else
//! claims a message whose lease has not run out, so a message in flight
//! while the database is away is not sent a second time by the sweep or a
//! re-run job; a lease left by a dead sender simply runs out.

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
    /// The end of the current sending lease (`None`: nobody is sending).
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub sending_until: Option<DateTime<Utc>>,
    /// Who holds (or last held) the lease.
    pub sender: Option<String>,
    /// Deliveries that ended because another sender held the lease.
    pub handoffs: i32,
}

/// A sending lease: who holds message and until when. The pair identifies
/// one claim, so a holder renews or clears only its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    /// Truncated to microseconds, as stored, so it compares equal to the
    /// column.
    pub until: DateTime<Utc>,
}

impl Lease {
    pub fn new(holder: impl Into<String>, until: DateTime<Utc>) -> Self {
        Self {
            holder: holder.into(),
            until: UtcTime::new(until).0,
        }
    }
}

/// Queues a message; `None` when its dedupe key was taken already.
pub fn insert(
    conn: &mut DbConn,
    message: &NewOutboxMessage<'_>,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    insert_row(conn, message, now, None)
}

/// Queues a message already claimed by `lease`: the sender that wrote it
/// delivers it right after its commit (the bot's replies), and claiming in
/// the insert costs no statement of its own.
pub fn insert_leased(
    conn: &mut DbConn,
    message: &NewOutboxMessage<'_>,
    now: DateTime<Utc>,
    lease: &Lease,
) -> Result<Option<OutboxMessageId>, DbError> {
    insert_row(conn, message, now, Some(lease))
}

fn insert_row(
    conn: &mut DbConn,
    message: &NewOutboxMessage<'_>,
    now: DateTime<Utc>,
    lease: Option<&Lease>,
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
        outbox_messages::sending_until.eq(lease.map(|l| UtcTime::from(l.until))),
        outbox_messages::sender.eq(lease.map(|l| l.holder.as_str())),
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

/// Claims pending message `id` for `lease` unless another holder's lease
/// is still running at `now`, and returns the row. `None`: the message is
/// not pending any more, or someone else holds it (see [`hand_off`]). One
/// conditional UPDATE, no row lock held past it.
pub fn claim(
    conn: &mut DbConn,
    id: OutboxMessageId,
    lease: &Lease,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessage>, DbError> {
    // The holder's own unexpired lease counts as free: it is claimed again
    // only by a retry of the same process after a failure before the send.
    let free = outbox_messages::sending_until
        .is_null()
        .or(outbox_messages::sending_until.lt(UtcTime::from(now)))
        .or(outbox_messages::sender.eq(&lease.holder));
    Ok(diesel::update(pending(id).filter(free))
        .set((
            outbox_messages::sending_until.eq(Some(UtcTime::from(lease.until))),
            outbox_messages::sender.eq(Some(&lease.holder)),
        ))
        .returning(outbox_messages::all_columns)
        .get_result(conn)
        .optional()?)
}

/// Moves `lease`'s end to `until` while it is still this holder's; `false`
/// when it is not (it ran out and someone else claimed the message, or the
/// message was settled).
pub fn renew(
    conn: &mut DbConn,
    id: OutboxMessageId,
    lease: &Lease,
    until: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(held_by(id, lease))
        .set(outbox_messages::sending_until.eq(Some(UtcTime::new(until))))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Ends `lease` without an outcome (a failure before the send), so the
/// next try need not wait for it to run out.
pub fn release(conn: &mut DbConn, id: OutboxMessageId, lease: &Lease) -> Result<(), DbError> {
    diesel::update(held_by(id, lease))
        .set(outbox_messages::sending_until.eq(None::<UtcTime>))
        .execute(conn)?;
    Ok(())
}

/// Whose lease stopped a claim, as [`hand_off`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub sender: Option<String>,
    /// `None`: the lease ended just after the claim failed.
    pub until: Option<DateTime<Utc>>,
}

/// After a failed [`claim`]: counts a hand-off of pending message `id`
/// (the sweep's push key names the count, so the message can be queued
/// again once the lease ran out) and returns whose lease stopped the claim;
/// `None` when the message is not pending any more.
pub fn hand_off(conn: &mut DbConn, id: OutboxMessageId) -> Result<Option<Holder>, DbError> {
    let held: Option<(Option<String>, Option<UtcTime>)> = diesel::update(pending(id))
        .set(outbox_messages::handoffs.eq(outbox_messages::handoffs + 1))
        .returning((outbox_messages::sender, outbox_messages::sending_until))
        .get_result(conn)
        .optional()?;
    Ok(held.map(|(sender, until)| Holder {
        sender,
        until: until.map(|at| at.0),
    }))
}

/// Records delivery and ends any lease; `false` if the message was not
/// pending any more (a second sender lost the race and must not count it).
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
            outbox_messages::sending_until.eq(None::<UtcTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Ends a pending message without delivery (`Blocked`, `Failed`,
/// `Cancelled`), keeping the reason and ending any lease.
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
            outbox_messages::sending_until.eq(None::<UtcTime>),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Counts a failed attempt of the holder of `lease`, says when the next
/// one is due and ends the lease, so the retry can claim the message. Only
/// the lease's own holder counts it: if the lease ran out and another
/// sender claimed the message meanwhile, that sender's claim stands.
pub fn note_retry(
    conn: &mut DbConn,
    id: OutboxMessageId,
    lease: &Lease,
    next_attempt_at: DateTime<Utc>,
    reason: &str,
) -> Result<(), DbError> {
    diesel::update(held_by(id, lease))
        .set((
            outbox_messages::attempts.eq(outbox_messages::attempts + 1),
            outbox_messages::next_attempt_at.eq(UtcTime::from(next_attempt_at)),
            outbox_messages::last_error.eq(Some(reason)),
            outbox_messages::sending_until.eq(None::<UtcTime>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Pending messages that should have gone out by `due_before` and that
/// nobody is sending: the sweep pushes their jobs again (a crash between
/// commit and push loses the push, never the message). A message under a
/// lease is left alone unless `leases_ended_before` is given and its lease
/// ended before then (its sender died, or is still waiting for the
/// database to record a send: the caller picks an instant that leaves such
/// a sender time to finish).
pub fn overdue(
    conn: &mut DbConn,
    due_before: DateTime<Utc>,
    leases_ended_before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, DbError> {
    let query = outbox_messages::table
        .filter(outbox_messages::state.eq(OutboxState::Pending))
        .filter(outbox_messages::next_attempt_at.lt(UtcTime::from(due_before)))
        .order(outbox_messages::id)
        .limit(limit)
        .select(OutboxMessage::as_select());
    let unleased = outbox_messages::sending_until.is_null();
    Ok(match leases_ended_before {
        Some(ended) => query
            .filter(unleased.or(outbox_messages::sending_until.lt(UtcTime::from(ended))))
            .load(conn)?,
        None => query.filter(unleased).load(conn)?,
    })
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

/// The query of [`pending`].
type PendingRow = diesel::dsl::Filter<
    diesel::dsl::Find<outbox_messages::table, OutboxMessageId>,
    diesel::dsl::Eq<outbox_messages::state, OutboxState>,
>;

/// The query of [`held_by`].
type HeldRow = diesel::dsl::Filter<
    diesel::dsl::Filter<PendingRow, diesel::dsl::Eq<outbox_messages::sender, String>>,
    diesel::dsl::Eq<outbox_messages::sending_until, UtcTime>,
>;

/// Pending message `id` while `lease` is its current claim.
fn held_by(id: OutboxMessageId, lease: &Lease) -> HeldRow {
    pending(id)
        .filter(outbox_messages::sender.eq(lease.holder.clone()))
        .filter(outbox_messages::sending_until.eq(UtcTime::from(lease.until)))
}

fn pending(id: OutboxMessageId) -> PendingRow {
    outbox_messages::table
        .find(id)
        .filter(outbox_messages::state.eq(OutboxState::Pending))
}
