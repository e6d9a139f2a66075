//! Busy times read from a user's Google Calendar (`busy_intervals`), one
//! row per event, which the free-slot computation (`super::free_slots`)
//! reads for owners and managers. Only the busy sync writes them, always
//! in the transaction that also stores the sync token they correspond to
//! (`super::google_connections::finish_busy_sync`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::busy_intervals;
use super::types::{UserId, UtcTime};
use super::{DbConn, DbError};
use crate::per_backend;

/// Rows written per INSERT statement (4 bind values a row).
const ROWS_PER_STATEMENT: usize = 500;

/// One busy event of a user.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = busy_intervals)]
pub struct BusyInterval {
    pub user_id: UserId,
    pub event_id: String,
    #[diesel(deserialize_as = UtcTime)]
    pub starts_at: DateTime<Utc>,
    #[diesel(deserialize_as = UtcTime)]
    pub ends_at: DateTime<Utc>,
}

/// What an incremental listing says about one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusyChange {
    /// The event blocks `[starts_at, ends_at)` (new or changed).
    Busy {
        event_id: String,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    /// The event no longer blocks time: deleted, marked free, moved out of
    /// the horizon, or one of the bot's own events.
    Free { event_id: String },
}

/// The user's busy intervals, by start (for tests and diagnostics).
pub fn for_user(conn: &mut DbConn, user: UserId) -> Result<Vec<BusyInterval>, DbError> {
    Ok(busy_intervals::table
        .filter(busy_intervals::user_id.eq(user))
        .order((busy_intervals::starts_at, busy_intervals::event_id))
        .select(BusyInterval::as_select())
        .load(conn)?)
}

/// Replaces all of the user's intervals with `busy` (a full sync).
pub fn replace_all(
    conn: &mut DbConn,
    user: UserId,
    busy: &[(String, DateTime<Utc>, DateTime<Utc>)],
) -> Result<(), DbError> {
    diesel::delete(busy_intervals::table.filter(busy_intervals::user_id.eq(user))).execute(conn)?;
    for chunk in busy.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(event_id, starts_at, ends_at)| {
                (
                    busy_intervals::user_id.eq(user),
                    busy_intervals::event_id.eq(event_id),
                    busy_intervals::starts_at.eq(UtcTime::from(*starts_at)),
                    busy_intervals::ends_at.eq(UtcTime::from(*ends_at)),
                )
            })
            .collect();
        // A multi-row INSERT, which the enum connection cannot express;
        // one listing may name an event twice, hence the upsert.
        per_backend!(conn, |c| diesel::insert_into(busy_intervals::table)
            .values(&rows)
            .on_conflict((busy_intervals::user_id, busy_intervals::event_id))
            .do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// Applies the changes of an incremental listing, in order.
pub fn apply(conn: &mut DbConn, user: UserId, changes: &[BusyChange]) -> Result<(), DbError> {
    for change in changes {
        match change {
            BusyChange::Busy {
                event_id,
                starts_at,
                ends_at,
            } => {
                let row = (
                    busy_intervals::user_id.eq(user),
                    busy_intervals::event_id.eq(event_id),
                    busy_intervals::starts_at.eq(UtcTime::from(*starts_at)),
                    busy_intervals::ends_at.eq(UtcTime::from(*ends_at)),
                );
                let times = (
                    busy_intervals::starts_at.eq(UtcTime::from(*starts_at)),
                    busy_intervals::ends_at.eq(UtcTime::from(*ends_at)),
                );
                per_backend!(conn, |c| diesel::insert_into(busy_intervals::table)
                    .values(row)
                    .on_conflict((busy_intervals::user_id, busy_intervals::event_id))
                    .do_update()
                    .set(times)
                    .execute(c))?;
            }
            BusyChange::Free { event_id } => {
                diesel::delete(
                    busy_intervals::table
                        .filter(busy_intervals::user_id.eq(user))
                        .filter(busy_intervals::event_id.eq(event_id)),
                )
                .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Forgets intervals that ended before `before` (past time blocks no
/// slot), so incremental syncs do not keep them forever.
pub fn prune_ended(
    conn: &mut DbConn,
    user: UserId,
    before: DateTime<Utc>,
) -> Result<usize, DbError> {
    Ok(diesel::delete(
        busy_intervals::table
            .filter(busy_intervals::user_id.eq(user))
            .filter(busy_intervals::ends_at.lt(UtcTime::from(before))),
    )
    .execute(conn)?)
}
