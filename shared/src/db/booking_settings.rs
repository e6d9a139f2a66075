//! The single row of company-wide booking settings.

use chrono::{DateTime, NaiveTime, TimeDelta, Timelike, Utc};
use diesel::prelude::*;

use super::schema::booking_settings;
use super::types::{UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::settings::{BookingMode, BookingSettings, LimitPeriod};
use crate::per_backend;

const ROW_ID: i32 = 1;

#[derive(Queryable, Selectable)]
#[diesel(table_name = booking_settings)]
struct Row {
    horizon_days: i32,
    min_notice_minutes: i32,
    cancel_notice_minutes: i32,
    weekends_enabled: bool,
    limit_per_period: i32,
    limit_period: LimitPeriod,
    mode: BookingMode,
    cadence_days: i32,
    reminder_offsets: String,
    overdue_report_minute: i32,
}

fn minutes(delta: TimeDelta) -> i32 {
    i32::try_from(delta.num_minutes()).unwrap_or(i32::MAX)
}

impl Row {
    fn into_settings(self) -> Result<BookingSettings, DbError> {
        let corrupt = |what: &str| {
            DbError::Query(diesel::result::Error::DeserializationError(
                format!("booking_settings.{what} is invalid").into(),
            ))
        };
        let offsets: Vec<i64> = serde_json::from_str(&self.reminder_offsets)
            .map_err(|_| corrupt("reminder_offsets"))?;
        let report_minute = u32::try_from(self.overdue_report_minute)
            .map_err(|_| corrupt("overdue_report_minute"))?;
        let settings = BookingSettings {
            horizon_days: u16::try_from(self.horizon_days).map_err(|_| corrupt("horizon_days"))?,
            min_notice: TimeDelta::minutes(self.min_notice_minutes.into()),
            cancel_notice: TimeDelta::minutes(self.cancel_notice_minutes.into()),
            weekends_enabled: self.weekends_enabled,
            limit_per_period: u16::try_from(self.limit_per_period)
                .map_err(|_| corrupt("limit_per_period"))?,
            limit_period: self.limit_period,
            mode: self.mode,
            cadence_days: u16::try_from(self.cadence_days).map_err(|_| corrupt("cadence_days"))?,
            reminder_offsets: offsets.into_iter().map(TimeDelta::minutes).collect(),
            overdue_report_at: NaiveTime::from_hms_opt(report_minute / 60, report_minute % 60, 0)
                .ok_or_else(|| corrupt("overdue_report_minute"))?,
        };
        settings.validated().map_err(|e| corrupt(e.field))
    }
}

type RowValues = (
    diesel::dsl::Eq<booking_settings::horizon_days, i32>,
    diesel::dsl::Eq<booking_settings::min_notice_minutes, i32>,
    diesel::dsl::Eq<booking_settings::cancel_notice_minutes, i32>,
    diesel::dsl::Eq<booking_settings::weekends_enabled, bool>,
    diesel::dsl::Eq<booking_settings::limit_per_period, i32>,
    diesel::dsl::Eq<booking_settings::limit_period, LimitPeriod>,
    diesel::dsl::Eq<booking_settings::mode, BookingMode>,
    diesel::dsl::Eq<booking_settings::cadence_days, i32>,
    diesel::dsl::Eq<booking_settings::reminder_offsets, String>,
    diesel::dsl::Eq<booking_settings::overdue_report_minute, i32>,
    diesel::dsl::Eq<booking_settings::updated_by, Option<UserId>>,
    diesel::dsl::Eq<booking_settings::updated_at, UtcTime>,
);

fn values(settings: &BookingSettings, by: Option<UserId>, now: DateTime<Utc>) -> RowValues {
    let offsets: Vec<i64> = settings
        .reminder_offsets
        .iter()
        .map(TimeDelta::num_minutes)
        .collect();
    let report = settings.overdue_report_at;
    (
        booking_settings::horizon_days.eq(i32::from(settings.horizon_days)),
        booking_settings::min_notice_minutes.eq(minutes(settings.min_notice)),
        booking_settings::cancel_notice_minutes.eq(minutes(settings.cancel_notice)),
        booking_settings::weekends_enabled.eq(settings.weekends_enabled),
        booking_settings::limit_per_period.eq(i32::from(settings.limit_per_period)),
        booking_settings::limit_period.eq(settings.limit_period),
        booking_settings::mode.eq(settings.mode),
        booking_settings::cadence_days.eq(i32::from(settings.cadence_days)),
        booking_settings::reminder_offsets.eq(serde_json::Value::from(offsets).to_string()),
        booking_settings::overdue_report_minute
            .eq(i32::try_from(report.hour() * 60 + report.minute()).unwrap_or(0)),
        booking_settings::updated_by.eq(by),
        booking_settings::updated_at.eq(UtcTime::from(now)),
    )
}

/// Stores the defaults from the environment unless settings exist already
/// (admins' changes are never overwritten by a restart).
pub fn ensure_defaults(
    conn: &mut DbConn,
    defaults: &BookingSettings,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let row = (booking_settings::id.eq(ROW_ID), values(defaults, None, now));
    per_backend!(conn, |c| diesel::insert_into(booking_settings::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// The live settings.
pub fn get(conn: &mut DbConn) -> Result<BookingSettings, DbError> {
    booking_settings::table
        .find(ROW_ID)
        .select(Row::as_select())
        .first(conn)?
        .into_settings()
}

/// Replaces the settings (admin panel); the caller validated them.
pub fn update(
    conn: &mut DbConn,
    settings: &BookingSettings,
    by: UserId,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(booking_settings::table.find(ROW_ID))
        .set(values(settings, Some(by), now))
        .execute(conn)?;
    Ok(())
}
