//! Leases: at most one holder of a named role at a time (the Telegram
//! poller among bot replicas). The holder renews before expiry; a process
//! that stops renewing loses the lease to the next one that asks.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::schema::leases;
use super::types::UtcTime;
use super::{DbConn, DbError};
use crate::per_backend;

/// Takes or renews `name` for `holder` until `now + ttl`; `false` while
/// another holder's lease is still valid.
pub fn acquire(
    conn: &mut DbConn,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: TimeDelta,
) -> Result<bool, DbError> {
    let expires = UtcTime::from(now + ttl);
    let row = (
        leases::name.eq(name),
        leases::holder.eq(holder),
        leases::expires_at.eq(expires),
    );
    let inserted = per_backend!(&mut *conn, |c| diesel::insert_into(leases::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(true);
    }
    let taken = diesel::update(
        leases::table.find(name).filter(
            leases::holder
                .eq(holder)
                .or(leases::expires_at.lt(UtcTime::from(now))),
        ),
    )
    .set((leases::holder.eq(holder), leases::expires_at.eq(expires)))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives the lease up (at shutdown) so a standby takes over at once.
pub fn release(conn: &mut DbConn, name: &str, holder: &str) -> Result<(), DbError> {
    diesel::delete(leases::table.find(name).filter(leases::holder.eq(holder))).execute(conn)?;
    Ok(())
}

/// The current holder of `name`, if its lease is valid at `now`.
pub fn holder(
    conn: &mut DbConn,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    Ok(leases::table
        .find(name)
        .filter(leases::expires_at.ge(UtcTime::from(now)))
        .select(leases::holder)
        .first(conn)
        .optional()?)
}
