//! An owner's weekly availability: the start-time grid per weekday
//! (`availability_slots`) and the slot length (`owner_settings`). The
//! owner's zone is `users.time_zone`.
//!
//! The booking flow reads [`weekly`] and [`slot_minutes`] and hands them to
//! `crate::domain::slots::OwnerAvailability`; `/availability` writes them
//! with [`replace_day`] and [`set_slot_minutes`].

use chrono::{DateTime, Utc, Weekday};
use diesel::prelude::*;

use super::schema::{availability_slots, owner_settings};
use super::types::{UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::availability::{DayStarts, iso_number};
use crate::domain::slots::{SlotLength, WeeklyGrid};
use crate::per_backend;

/// The owner's weekly grid of local start times (empty when they chose
/// none: an owner without availability cannot be booked).
pub fn weekly(conn: &mut DbConn, owner: UserId) -> Result<WeeklyGrid, DbError> {
    let rows: Vec<(i32, i32)> = availability_slots::table
        .filter(availability_slots::owner_id.eq(owner))
        .select((
            availability_slots::weekday,
            availability_slots::start_minute,
        ))
        .load(conn)?;
    // The table's CHECKs allow exactly what the grid holds.
    WeeklyGrid::from_rows(rows).map_err(|error| corrupt(error.to_string()))
}

/// Replaces the start times of one weekday with `starts`, all at once
/// (inside a savepoint, so a failure leaves the day as it was). Returns the
/// starts the day had before, for the audit row.
pub fn replace_day(
    conn: &mut DbConn,
    owner: UserId,
    weekday: Weekday,
    starts: DayStarts,
) -> Result<DayStarts, DbError> {
    let day = i32::from(iso_number(weekday));
    conn.transaction(|conn| {
        let old: Vec<i32> = availability_slots::table
            .filter(availability_slots::owner_id.eq(owner))
            .filter(availability_slots::weekday.eq(day))
            .select(availability_slots::start_minute)
            .load(conn)?;
        let old = old
            .into_iter()
            .map(|minute| u16::try_from(minute).map_err(|_| corrupt(format!("minute {minute}"))))
            .collect::<Result<Vec<u16>, DbError>>()?;
        let old = DayStarts::try_from(old).map_err(|error| corrupt(error.to_string()))?;
        diesel::delete(
            availability_slots::table
                .filter(availability_slots::owner_id.eq(owner))
                .filter(availability_slots::weekday.eq(day)),
        )
        .execute(conn)?;
        let rows: Vec<_> = starts
            .minutes()
            .into_iter()
            .map(|minute| {
                (
                    availability_slots::owner_id.eq(owner),
                    availability_slots::weekday.eq(day),
                    availability_slots::start_minute.eq(i32::from(minute)),
                )
            })
            .collect();
        if !rows.is_empty() {
            // One multi-row INSERT; the enum connection cannot express it.
            per_backend!(conn, |c| diesel::insert_into(availability_slots::table)
                .values(&rows)
                .execute(c))?;
        }
        Ok(old)
    })
}

/// How long a meeting with the owner lasts: their choice, or the product
/// default (60 minutes) when they never chose.
pub fn slot_minutes(conn: &mut DbConn, owner: UserId) -> Result<SlotLength, DbError> {
    let minutes: Option<i32> = owner_settings::table
        .find(owner)
        .select(owner_settings::slot_minutes)
        .first(conn)
        .optional()?;
    match minutes {
        None => Ok(SlotLength::DEFAULT),
        Some(minutes) => {
            SlotLength::from_minutes(minutes).map_err(|error| corrupt(error.to_string()))
        }
    }
}

/// Stores the owner's slot length (bookings made before keep theirs).
pub fn set_slot_minutes(
    conn: &mut DbConn,
    owner: UserId,
    length: SlotLength,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let minutes = i32::from(length.minutes());
    let row = (
        owner_settings::owner_id.eq(owner),
        owner_settings::slot_minutes.eq(minutes),
        owner_settings::updated_at.eq(UtcTime::from(now)),
    );
    let update = (
        owner_settings::slot_minutes.eq(minutes),
        owner_settings::updated_at.eq(UtcTime::from(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(owner_settings::table)
        .values(row)
        .on_conflict(owner_settings::owner_id)
        .do_update()
        .set(update)
        .execute(c))?;
    Ok(())
}

fn corrupt(what: String) -> DbError {
    DbError::Query(diesel::result::Error::DeserializationError(
        format!("stored availability is invalid: {what}").into(),
    ))
}
