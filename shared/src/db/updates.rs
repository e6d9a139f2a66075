//! The inbox of received Telegram updates (`inbound_updates`).
//!
//! The poller stores each batch here in one transaction before the polling
//! offset moves past it; handling runs from the stored rows, and the
//! handler's transaction moves its row from `pending` to `handled`, so a
//! crash or a database outage neither loses an update nor handles one
//! twice. (`handled_updates`, the marks of the bot before the inbox, is
//! only read for the polling offset of a database that has no inbox yet.)

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{handled_updates, inbound_updates};
use super::types::UtcTime;
use super::{DbConn, DbError};
use crate::domain::inbound::InboundState;

/// A received update to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInbound<'a> {
    pub update_id: i64,
    pub chat_id: Option<i64>,
    pub kind: &'a str,
    /// The update as Telegram sent it.
    pub payload: &'a str,
    /// `Pending` for updates to handle; anything else is set aside at once.
    pub state: InboundState,
    /// Why it was set aside (never user text).
    pub note: Option<&'a str>,
}

/// A stored update still owed a handling.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct PendingUpdate {
    pub update_id: i64,
    pub chat_id: Option<i64>,
    pub payload: String,
}

/// How many updates stand in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    pub state: InboundState,
    pub count: i64,
}

/// Stores a received batch; returns the ids that were new (an update
/// stored before, by a poller that died before confirming it, is left as
/// it is). One call per batch: one transaction, one commit.
pub fn store(
    conn: &mut DbConn,
    batch: &[NewInbound<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbError> {
    let at = UtcTime::from(now);
    let rows: Vec<_> = batch
        .iter()
        .map(|update| {
            let set_aside = update.state != InboundState::Pending;
            (
                inbound_updates::update_id.eq(update.update_id),
                inbound_updates::chat_id.eq(update.chat_id),
                inbound_updates::kind.eq(update.kind),
                inbound_updates::payload.eq(update.payload),
                inbound_updates::state.eq(update.state),
                inbound_updates::received_at.eq(at),
                inbound_updates::handled_at.eq(set_aside.then_some(at)),
                inbound_updates::last_error.eq(update.note),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        DbConn::Pg(c) => Ok(diesel::insert_into(inbound_updates::table)
            .values(&rows)
            .on_conflict_do_nothing()
            .returning(inbound_updates::update_id)
            .get_results(c)?),
        // SQLite cannot take several rows with ON CONFLICT in one statement
        // through diesel: row by row, inside the caller's transaction.
        DbConn::Sqlite(c) => {
            let mut fresh = Vec::with_capacity(rows.len());
            for (row, update) in rows.iter().zip(batch) {
                let inserted = diesel::insert_into(inbound_updates::table)
                    .values(*row)
                    .on_conflict_do_nothing()
                    .execute(c)?;
                if inserted == 1 {
                    fresh.push(update.update_id);
                }
            }
            Ok(fresh)
        }
    }
}

/// Takes a stored update for handling: `true` once, when it was pending.
/// Call it inside the handler's transaction, so the mark and the effects
/// commit together; `false` means it was handled (or set aside) already
/// and the caller skips it.
pub fn take_pending(
    conn: &mut DbConn,
    update_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let taken = diesel::update(
        inbound_updates::table
            .filter(inbound_updates::update_id.eq(update_id))
            .filter(inbound_updates::state.eq(InboundState::Pending)),
    )
    .set((
        inbound_updates::state.eq(InboundState::Handled),
        inbound_updates::handled_at.eq(Some(UtcTime::from(now))),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Sets a pending update aside unhandled (`Failed`, with the reason).
pub fn set_aside(
    conn: &mut DbConn,
    update_id: i64,
    state: InboundState,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        inbound_updates::table
            .filter(inbound_updates::update_id.eq(update_id))
            .filter(inbound_updates::state.eq(InboundState::Pending)),
    )
    .set((
        inbound_updates::state.eq(state),
        inbound_updates::handled_at.eq(Some(UtcTime::from(now))),
        inbound_updates::last_error.eq(reason),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Every update still owed a handling, oldest first (after a restart).
pub fn pending(conn: &mut DbConn) -> Result<Vec<PendingUpdate>, DbError> {
    Ok(inbound_updates::table
        .filter(inbound_updates::state.eq(InboundState::Pending))
        .order(inbound_updates::update_id)
        .select((
            inbound_updates::update_id,
            inbound_updates::chat_id,
            inbound_updates::payload,
        ))
        .load(conn)?)
}

/// The highest update id received (or, on a database from before the
/// inbox, handled): polling resumes after it.
pub fn last_received(conn: &mut DbConn) -> Result<Option<i64>, DbError> {
    let inbox: Option<i64> = inbound_updates::table
        .select(diesel::dsl::max(inbound_updates::update_id))
        .first(conn)?;
    let legacy: Option<i64> = handled_updates::table
        .select(diesel::dsl::max(handled_updates::update_id))
        .first(conn)?;
    Ok(inbox.max(legacy))
}

/// How many updates received since `since` stand in each state.
pub fn counts_since(conn: &mut DbConn, since: DateTime<Utc>) -> Result<Vec<StateCount>, DbError> {
    let rows: Vec<(InboundState, i64)> = inbound_updates::table
        .filter(inbound_updates::received_at.ge(UtcTime::from(since)))
        .group_by(inbound_updates::state)
        .select((inbound_updates::state, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(state, count)| StateCount { state, count })
        .collect())
}

/// Forgets settled updates received before `before`, keeping the newest
/// row so the polling offset survives; pending ones always stay. Returns
/// how many were removed.
pub fn prune(conn: &mut DbConn, before: DateTime<Utc>) -> Result<usize, DbError> {
    let Some(newest) = last_received(conn)? else {
        return Ok(0);
    };
    let inbox = diesel::delete(
        inbound_updates::table
            .filter(inbound_updates::received_at.lt(UtcTime::from(before)))
            .filter(inbound_updates::state.ne(InboundState::Pending))
            .filter(inbound_updates::update_id.ne(newest)),
    )
    .execute(conn)?;
    let legacy = diesel::delete(
        handled_updates::table.filter(handled_updates::handled_at.lt(UtcTime::from(before))),
    )
    .execute(conn)?;
    Ok(inbox + legacy)
}
