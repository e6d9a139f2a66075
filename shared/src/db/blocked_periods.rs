//! Blocked periods: time an owner cannot be booked (vacation, a doctor's
//! visit), each holding the 15-minute cells it covers in `slot_claims`.
//!
//! The claims are what make overlaps impossible without row locks: a
//! booking and a block (or two blocks) that want the same cell of the same
//! owner collide on the primary key `(owner_id, cell_start)`, whichever
//! commits first wins, on both backends. Claims are inserted in ascending
//! cell order, so two writers wanting overlapping cells wait for each other
//! instead of deadlocking (claim meetings the same way). The booking flow
//! reads blocks
//! through [`overlapping`] to leave them out of the offered slots, and
//! claims its own cells the same way.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::{blocked_periods, meetings, slot_claims};
use super::types::{BlockedPeriodId, MeetingId, UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::availability::covered_cells;
use crate::per_backend;

/// Claims written per INSERT statement: 3 bind values a row keeps each
/// statement far below both backends' parameter limits (SQLite 32,766,
/// PostgreSQL 65,535), and a year-long block (≈ 35,000 cells) takes
/// a few dozen statements instead of thousands.
const CLAIMS_PER_STATEMENT: usize = 1_000;

/// A stored blocked period.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = blocked_periods)]
pub struct BlockedPeriod {
    pub id: BlockedPeriodId,
    pub owner_id: UserId,
    #[diesel(deserialize_as = UtcTime)]
    pub starts_at: DateTime<Utc>,
    #[diesel(deserialize_as = UtcTime)]
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub created_by: Option<UserId>,
    #[diesel(deserialize_as = UtcTime)]
    pub created_at: DateTime<Utc>,
}

/// A period to block for `owner`, already validated
/// (`crate::domain::availability::parse_block`).
#[derive(Debug, Clone)]
pub struct NewBlockedPeriod<'a> {
    pub owner: UserId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: &'a str,
    pub created_by: Option<UserId>,
}

/// What already holds a cell the new block wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlap {
    /// Another blocked period of the same owner.
    Block(BlockedPeriod),
    /// A meeting with the owner.
    Meeting {
        id: MeetingId,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    /// The holder went away between the collision and the look-up (it was
    /// removed meanwhile); trying again may succeed.
    Unknown,
}

/// The result of [`add_with_claims`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// Stored with this many claimed cells.
    Added { block: BlockedPeriod, cells: usize },
    /// Refused; nothing was stored.
    Overlaps(Overlap),
}

/// Stores a blocked period and claims every 15-minute cell it covers, in a
/// savepoint of the caller's transaction: if any cell is already claimed
/// (by a meeting or another block of the owner), the savepoint is rolled
/// back — nothing is stored — and the holder of the first taken cell is
/// returned. Race-free on both backends: the primary key of `slot_claims`
/// decides, not a prior look-up.
pub fn add_with_claims(
    conn: &mut DbConn,
    new: &NewBlockedPeriod<'_>,
    now: DateTime<Utc>,
) -> Result<AddOutcome, DbError> {
    let cells: Vec<UtcTime> = covered_cells(new.starts_at, new.ends_at)
        .map(UtcTime::from)
        .collect();
    let attempt = conn.transaction(|conn| -> Result<BlockedPeriodId, DbError> {
        let id: BlockedPeriodId = diesel::insert_into(blocked_periods::table)
            .values((
                blocked_periods::owner_id.eq(new.owner),
                blocked_periods::starts_at.eq(UtcTime::from(new.starts_at)),
                blocked_periods::ends_at.eq(UtcTime::from(new.ends_at)),
                blocked_periods::reason.eq(new.reason),
                blocked_periods::created_by.eq(new.created_by),
                blocked_periods::created_at.eq(UtcTime::from(now)),
            ))
            .returning(blocked_periods::id)
            .get_result(conn)?;
        for chunk in cells.chunks(CLAIMS_PER_STATEMENT) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|cell| {
                    (
                        slot_claims::owner_id.eq(new.owner),
                        slot_claims::cell_start.eq(*cell),
                        slot_claims::blocked_period_id.eq(Some(id)),
                    )
                })
                .collect();
            // A multi-row INSERT, which the enum connection cannot express.
            per_backend!(conn, |c| diesel::insert_into(slot_claims::table)
                .values(&rows)
                .execute(c))?;
        }
        Ok(id)
    });
    match attempt {
        Ok(id) => Ok(AddOutcome::Added {
            block: get(conn, id)?,
            cells: cells.len(),
        }),
        Err(error) if error.is_unique_violation() => {
            let (Some(first), Some(last)) = (cells.first(), cells.last()) else {
                return Ok(AddOutcome::Overlaps(Overlap::Unknown));
            };
            Ok(AddOutcome::Overlaps(holder(
                conn, new.owner, *first, *last,
            )?))
        }
        Err(error) => Err(error),
    }
}

/// Who holds the earliest claimed cell of `owner` in `[first, last]`.
fn holder(
    conn: &mut DbConn,
    owner: UserId,
    first: UtcTime,
    last: UtcTime,
) -> Result<Overlap, DbError> {
    let claim: Option<(Option<MeetingId>, Option<BlockedPeriodId>)> = slot_claims::table
        .filter(slot_claims::owner_id.eq(owner))
        .filter(slot_claims::cell_start.ge(first))
        .filter(slot_claims::cell_start.le(last))
        .order(slot_claims::cell_start)
        .select((slot_claims::meeting_id, slot_claims::blocked_period_id))
        .first(conn)
        .optional()?;
    Ok(match claim {
        Some((_, Some(block))) => find(conn, block)?.map_or(Overlap::Unknown, Overlap::Block),
        Some((Some(meeting), None)) => {
            let times: Option<(UtcTime, UtcTime)> = meetings::table
                .find(meeting)
                .select((meetings::starts_at, meetings::ends_at))
                .first(conn)
                .optional()?;
            times.map_or(Overlap::Unknown, |(starts_at, ends_at)| Overlap::Meeting {
                id: meeting,
                starts_at: starts_at.0,
                ends_at: ends_at.0,
            })
        }
        Some((None, None)) | None => Overlap::Unknown,
    })
}

/// The owner's blocked periods that are not over at `now`, earliest
/// first (what `/availability` lists).
pub fn upcoming(
    conn: &mut DbConn,
    owner: UserId,
    now: DateTime<Utc>,
) -> Result<Vec<BlockedPeriod>, DbError> {
    Ok(blocked_periods::table
        .filter(blocked_periods::owner_id.eq(owner))
        .filter(blocked_periods::ends_at.gt(UtcTime::from(now)))
        .order((blocked_periods::starts_at, blocked_periods::id))
        .select(BlockedPeriod::as_select())
        .load(conn)?)
}

/// The owner's blocked periods that overlap `[from, until)`, earliest
/// first: what the booking flow leaves out of the offered slots.
pub fn overlapping(
    conn: &mut DbConn,
    owner: UserId,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<BlockedPeriod>, DbError> {
    Ok(blocked_periods::table
        .filter(blocked_periods::owner_id.eq(owner))
        .filter(blocked_periods::starts_at.lt(UtcTime::from(until)))
        .filter(blocked_periods::ends_at.gt(UtcTime::from(from)))
        .order((blocked_periods::starts_at, blocked_periods::id))
        .select(BlockedPeriod::as_select())
        .load(conn)?)
}

/// A blocked period by id, whoever it belongs to (callers check the owner).
pub fn find(conn: &mut DbConn, id: BlockedPeriodId) -> Result<Option<BlockedPeriod>, DbError> {
    Ok(blocked_periods::table
        .find(id)
        .select(BlockedPeriod::as_select())
        .first(conn)
        .optional()?)
}

fn get(conn: &mut DbConn, id: BlockedPeriodId) -> Result<BlockedPeriod, DbError> {
    Ok(blocked_periods::table
        .find(id)
        .select(BlockedPeriod::as_select())
        .first(conn)?)
}

/// Removes `owner`'s blocked period `id` and frees its cells. Returns the
/// removed period, or `None` when there is no such period of this owner
/// (gone already, or someone else's: nothing is touched).
pub fn remove(
    conn: &mut DbConn,
    owner: UserId,
    id: BlockedPeriodId,
) -> Result<Option<BlockedPeriod>, DbError> {
    let Some(block) = find(conn, id)?.filter(|block| block.owner_id == owner) else {
        return Ok(None);
    };
    conn.transaction(|conn| -> Result<(), DbError> {
        diesel::delete(slot_claims::table.filter(slot_claims::blocked_period_id.eq(id)))
            .execute(conn)?;
        let deleted = diesel::delete(
            blocked_periods::table
                .find(id)
                .filter(blocked_periods::owner_id.eq(owner)),
        )
        .execute(conn)?;
        if deleted == 1 {
            Ok(())
        } else {
            // Removed by a concurrent press meanwhile: undo the claims part.
            Err(DbError::Query(diesel::result::Error::NotFound))
        }
    })
    .map(|()| Some(block))
    .or_else(|error| match error {
        DbError::Query(diesel::result::Error::NotFound) => Ok(None),
        other => Err(other),
    })
}
