//! Telegram update ids already handled, so a redelivered update is skipped.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::handled_updates;
use super::types::UtcTime;
use super::{DbConn, DbError};
use crate::per_backend;

/// Records `update_id` as handled; `false` if it already was (the caller
/// then rolls back and skips the update). Call it inside the handler's
/// transaction so the mark and the effects commit together.
pub fn mark_handled(
    conn: &mut DbConn,
    update_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let row = (
        handled_updates::update_id.eq(update_id),
        handled_updates::handled_at.eq(UtcTime::from(now)),
    );
    let inserted = per_backend!(conn, |c| diesel::insert_into(handled_updates::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// The highest handled update id: polling resumes after it.
pub fn last_handled(conn: &mut DbConn) -> Result<Option<i64>, DbError> {
    Ok(handled_updates::table
        .select(diesel::dsl::max(handled_updates::update_id))
        .first(conn)?)
}

/// Forgets marks older than `before`, keeping the newest one so the polling
/// offset survives. Returns how many were removed.
pub fn prune(conn: &mut DbConn, before: DateTime<Utc>) -> Result<usize, DbError> {
    let Some(newest) = last_handled(conn)? else {
        return Ok(0);
    };
    Ok(diesel::delete(
        handled_updates::table
            .filter(handled_updates::handled_at.lt(UtcTime::from(before)))
            .filter(handled_updates::update_id.ne(newest)),
    )
    .execute(conn)?)
}
