//! Claims on periodic work: each unit (e.g. `overdue-report` for
//! `2026-11-25`) is claimed by inserting a uniquely keyed row, in the same
//! transaction as its effects, so it happens once however many workers run
//! and is caught up after a restart.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::periodic_runs;
use super::types::UtcTime;
use super::{DbConn, DbError};
use crate::per_backend;

/// Claims `name` for `period_key`; `false` if another worker (or an earlier
/// run) has it already — then do nothing.
pub fn claim(
    conn: &mut DbConn,
    name: &str,
    period_key: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let row = (
        periodic_runs::name.eq(name),
        periodic_runs::period_key.eq(period_key),
        periodic_runs::claimed_by.eq(worker),
        periodic_runs::claimed_at.eq(UtcTime::from(now)),
    );
    let inserted = per_backend!(conn, |c| diesel::insert_into(periodic_runs::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Forgets claims older than `before` (their periods are long past).
pub fn prune(conn: &mut DbConn, before: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::delete(
        periodic_runs::table.filter(periodic_runs::claimed_at.lt(UtcTime::from(before))),
    )
    .execute(conn)?)
}
