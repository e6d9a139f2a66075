//! The free slots a manager is offered right now: reads everything the
//! pure slot functions (`crate::domain::slots`) need — each owner's grid,
//! zone and slot length, their meetings, blocked periods and calendar busy
//! time, the manager's own meetings and busy time — and runs them. One
//! short read, no external call: the reply never waits for Google.
//!
//! Every day-list, time-list and confirm screen runs this read, so it reads
//! each kind of row once for all owners (six statements, however many
//! owners a collective meeting has) instead of once per owner.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;

use super::schema::{availability_slots, blocked_periods, busy_intervals, owner_settings, users};
use super::types::{MeetingId, UserId, UtcTime};
use super::users::User;
use super::{DbConn, DbError, meetings};
use crate::domain::profile::stored_zone;
use crate::domain::settings::BookingSettings;
use crate::domain::slots::{
    Blocking, Interval, OwnerAvailability, Slot, SlotLength, WeeklyGrid, Window,
    collective_free_slots, free_slots,
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
    let calendar = calendar_busy(conn, query.manager, query.owners, from, until)?;
    shared_busy.extend(busy_of(&calendar, query.manager));
    let taken = meetings::busy_for_owners(conn, query.owners, from, until)?;
    let people = owners_with_lengths(conn, query.owners)?;
    let grids = grid_rows(conn, query.owners)?;
    let blocks = blocked(conn, query.owners, from, until)?;
    let mut owners = Vec::with_capacity(query.owners.len());
    for &owner in query.owners {
        let Some((user, slot_minutes)) = people.get(&owner) else {
            return Ok(Vec::new());
        };
        let zone = stored_zone(&user.time_zone, query.company_zone);
        let grid = WeeklyGrid::from_rows(grids.get(&owner).into_iter().flatten().copied())
            .map_err(|error| corrupt(error.to_string()))?;
        let length = match slot_minutes {
            None => SlotLength::DEFAULT,
            Some(minutes) => {
                SlotLength::from_minutes(*minutes).map_err(|error| corrupt(error.to_string()))?
            }
        };
        let availability = OwnerAvailability::new(zone, grid, length);
        let mut busy = shared_busy.clone();
        busy.extend(
            taken
                .iter()
                .filter(|m| m.owner_id == owner && Some(m.meeting_id) != query.moving)
                .map(|m| Interval::new(m.starts_at, m.ends_at)),
        );
        busy.extend(busy_of(&blocks, owner));
        busy.extend(busy_of(&calendar, owner));
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

/// `user`'s intervals in a per-user map (none when absent).
fn busy_of(
    by_user: &HashMap<UserId, Vec<Interval>>,
    user: UserId,
) -> impl Iterator<Item = Interval> + '_ {
    by_user.get(&user).into_iter().flatten().copied()
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

/// Busy time from the connected calendars of `manager` and `owners`
/// overlapping `[from, until)`, per user.
fn calendar_busy(
    conn: &mut DbConn,
    manager: UserId,
    owners: &[UserId],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<HashMap<UserId, Vec<Interval>>, DbError> {
    let mut people = owners.to_vec();
    people.push(manager);
    let rows: Vec<(UserId, UtcTime, UtcTime)> = busy_intervals::table
        .filter(busy_intervals::user_id.eq_any(people))
        .filter(busy_intervals::starts_at.lt(UtcTime::from(until)))
        .filter(busy_intervals::ends_at.gt(UtcTime::from(from)))
        .select((
            busy_intervals::user_id,
            busy_intervals::starts_at,
            busy_intervals::ends_at,
        ))
        .load(conn)?;
    let mut busy: HashMap<UserId, Vec<Interval>> = HashMap::new();
    for (user, start, end) in rows {
        busy.entry(user)
            .or_default()
            .push(Interval::new(start.0, end.0));
    }
    Ok(busy)
}

/// Each owner's row and chosen slot length (`None`: the product default),
/// by id; unknown owners are missing.
fn owners_with_lengths(
    conn: &mut DbConn,
    owners: &[UserId],
) -> Result<HashMap<UserId, (User, Option<i32>)>, DbError> {
    let rows: Vec<(User, Option<i32>)> = users::table
        .left_join(owner_settings::table)
        .filter(users::id.eq_any(owners.to_vec()))
        .select((User::as_select(), owner_settings::slot_minutes.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user, minutes)| (user.id, (user, minutes)))
        .collect())
}

/// The owners' weekly grid rows `(weekday, start minute)`, by owner.
fn grid_rows(
    conn: &mut DbConn,
    owners: &[UserId],
) -> Result<HashMap<UserId, Vec<(i32, i32)>>, DbError> {
    let rows: Vec<(UserId, i32, i32)> = availability_slots::table
        .filter(availability_slots::owner_id.eq_any(owners.to_vec()))
        .select((
            availability_slots::owner_id,
            availability_slots::weekday,
            availability_slots::start_minute,
        ))
        .load(conn)?;
    let mut grids: HashMap<UserId, Vec<(i32, i32)>> = HashMap::new();
    for (owner, weekday, minute) in rows {
        grids.entry(owner).or_default().push((weekday, minute));
    }
    Ok(grids)
}

/// The owners' blocked periods overlapping `[from, until)`, by owner.
fn blocked(
    conn: &mut DbConn,
    owners: &[UserId],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<HashMap<UserId, Vec<Interval>>, DbError> {
    let rows: Vec<(UserId, UtcTime, UtcTime)> = blocked_periods::table
        .filter(blocked_periods::owner_id.eq_any(owners.to_vec()))
        .filter(blocked_periods::starts_at.lt(UtcTime::from(until)))
        .filter(blocked_periods::ends_at.gt(UtcTime::from(from)))
        .select((
            blocked_periods::owner_id,
            blocked_periods::starts_at,
            blocked_periods::ends_at,
        ))
        .load(conn)?;
    let mut blocks: HashMap<UserId, Vec<Interval>> = HashMap::new();
    for (owner, start, end) in rows {
        blocks
            .entry(owner)
            .or_default()
            .push(Interval::new(start.0, end.0));
    }
    Ok(blocks)
}

/// Stored availability the grid or slot length refuses (the table CHECKs
/// make it impossible): the same error `super::availability` reports.
fn corrupt(what: String) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(
        format!("stored availability is invalid: {what}").into(),
    ))
}
