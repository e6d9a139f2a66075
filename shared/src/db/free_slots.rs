//! The free slots a manager is offered right now: reads everything the
//! pure slot functions (`crate::domain::slots`) need — each owner's grid,
//! zone and slot length, their meetings, blocked periods and calendar busy
//! time, the manager's own meetings and busy time — and runs them. One
//! short read, no external call: the reply never waits for Google.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::schema::busy_intervals;
use super::types::{MeetingId, UserId, UtcTime};
use super::{DbConn, DbError, availability, blocked_periods, meetings, users};
use crate::domain::profile::stored_zone;
use crate::domain::settings::BookingSettings;
use crate::domain::slots::{
    Blocking, Interval, OwnerAvailability, Slot, Window, collective_free_slots, free_slots,
};

/// Whose slots, for whom, under which rules.
#[derive(Debug, Clone, Copy)]
pub struct SlotQuery<'a> {
    /// One owner, or all owners of a collective meeting.
    pub owners: &'a [UserId],
    /// The manager booking: their own meetings and busy time are not free
    /// either.
    pub manager: UserId,
    /// A meeting being moved: its own time does not count as taken.
    pub moving: Option<MeetingId>,
    pub settings: &'a BookingSettings,
    pub now: DateTime<Utc>,
    /// The zone of users whose stored zone this build does not know.
    pub company_zone: Tz,
}

/// The free slots of `query`, ascending. Collective meetings last as long as
/// the longest slot length among the owners (it shortchanges nobody).
/// Unknown owners have no slots.
pub fn for_query(conn: &mut DbConn, query: &SlotQuery<'_>) -> Result<Vec<Slot>, DbError> {
    let window = Window::from_settings(query.now, query.settings);
    let (from, until) = (window.starts_from, window.starts_before);
    if from >= until || query.owners.is_empty() {
        return Ok(Vec::new());
    }
    let mut shared_busy = manager_busy(conn, query, from, until)?;
    shared_busy.extend(calendar_busy(conn, query.manager, from, until)?);
    let taken = meetings::busy_for_owners(conn, query.owners, from, until)?;
    let mut owners = Vec::with_capacity(query.owners.len());
    for &owner in query.owners {
        let Some(user) = users::find(conn, owner)? else {
            return Ok(Vec::new());
        };
        let zone = stored_zone(&user.time_zone, query.company_zone);
        let availability = OwnerAvailability::new(
            zone,
            availability::weekly(conn, owner)?,
            availability::slot_minutes(conn, owner)?,
        );
        let mut busy = shared_busy.clone();
        busy.extend(
            taken
                .iter()
                .filter(|m| m.owner_id == owner && Some(m.meeting_id) != query.moving)
                .map(|m| Interval::new(m.starts_at, m.ends_at)),
        );
        busy.extend(
            blocked_periods::overlapping(conn, owner, from, until)?
                .into_iter()
                .map(|block| Interval::new(block.starts_at, block.ends_at)),
        );
        busy.extend(calendar_busy(conn, owner, from, until)?);
        owners.push((availability, Blocking::new(busy)));
    }
    Ok(match owners.as_slice() {
        [(availability, blocking)] => free_slots(availability, blocking, &window),
        _ => {
            let longest = owners
                .iter()
                .map(|(availability, _)| availability.slot_length())
                .max_by_key(|length| length.minutes());
            match longest {
                Some(length) => collective_free_slots(&owners, length, &window),
                None => Vec::new(),
            }
        }
    })
}

/// The manager's own scheduled meetings in the window (other than the one
/// being moved): nobody is offered two meetings at once.
fn manager_busy(
    conn: &mut DbConn,
    query: &SlotQuery<'_>,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Interval>, DbError> {
    Ok(meetings::upcoming_for_manager(conn, query.manager, from)?
        .into_iter()
        .filter(|m| m.starts_at < until && Some(m.id) != query.moving)
        .map(|m| Interval::new(m.starts_at, m.ends_at))
        .collect())
}

/// Busy time from `user`'s connected calendar overlapping `[from, until)`.
fn calendar_busy(
    conn: &mut DbConn,
    user: UserId,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Interval>, DbError> {
    let rows: Vec<(UtcTime, UtcTime)> = busy_intervals::table
        .filter(busy_intervals::user_id.eq(user))
        .filter(busy_intervals::starts_at.lt(UtcTime::from(until)))
        .filter(busy_intervals::ends_at.gt(UtcTime::from(from)))
        .select((busy_intervals::starts_at, busy_intervals::ends_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(start, end)| Interval::new(start.0, end.0))
        .collect())
}
