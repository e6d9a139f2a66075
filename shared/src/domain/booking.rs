//! Booking rules that need no database: which limit period a meeting counts
//! in, when the next period begins (what a manager at the limit is told),
//! which reminders a meeting gets, and the outcomes of the booking
//! transaction (`crate::db::meetings`) the UI turns into messages.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::db::DbError;
use crate::domain::period::limit_period;
use crate::domain::settings::LimitPeriod;

stored_enum! {
    /// Where a meeting stands; only `Scheduled` holds slot claims and counts
    /// as "active".
    pub enum MeetingStatus {
        Scheduled,
        Cancelled,
        Completed,
        NoShow,
    }
}

stored_enum! {
    /// Whether the calendar event follows the meeting's latest revision.
    pub enum SyncState {
        /// A change waits for the calendar-sync job.
        Pending,
        Synced,
        Failed,
    }
}

stored_enum! {
    /// Why a person takes part in a meeting.
    pub enum ParticipantRole {
        Owner,
        Manager,
    }
}

stored_enum! {
    /// The life of one reminder row.
    pub enum ReminderState {
        /// Waits for its due time.
        Pending,
        Sent,
        /// The meeting was cancelled, moved or closed before it was due.
        Cancelled,
        Failed,
    }
}

/// How a meeting that took place ended, as the manager reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    NoShow,
}

impl From<Outcome> for MeetingStatus {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Completed => Self::Completed,
            Outcome::NoShow => Self::NoShow,
        }
    }
}

/// Why a booking, cancellation, move or outcome was refused. Every refusal
/// leaves the database as it was; the UI tells the user and, for the race
/// losers, shows fresh slots.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    /// One of the cells is held by another meeting or a blocked period
    /// (someone was quicker, or a block was added meanwhile).
    #[error("the slot is taken")]
    SlotTaken,
    /// The manager has used up the meetings of the period.
    #[error("the booking limit of the period is reached")]
    LimitReached,
    /// The meeting does not exist.
    #[error("no such meeting")]
    NotFound,
    /// The meeting is no longer scheduled, or changed meanwhile (a stale
    /// button, or a concurrent cancel or move won).
    #[error("the meeting is no longer scheduled as shown")]
    NotScheduled,
    /// An outcome was reported before the meeting started.
    #[error("the meeting has not started yet")]
    NotStarted,
    /// The request itself is malformed (no owners, empty interval, …):
    /// a programming error of the caller, never a race.
    #[error("invalid booking: {0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for BookingError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(error))
    }
}

/// The key of the limit period `starts_at` falls in, in the company zone:
/// `2026-W48` (ISO week, so the days around New Year belong to the week's
/// ISO year) or `2026-12` (calendar month).
pub fn period_key(starts_at: DateTime<Utc>, period: LimitPeriod, company_zone: Tz) -> String {
    let local = starts_at.with_timezone(&company_zone).date_naive();
    match period {
        LimitPeriod::Week => {
            let week = local.iso_week();
            format!("{:04}-W{:02}", week.year(), week.week())
        }
        LimitPeriod::Month => format!("{:04}-{:02}", local.year(), local.month()),
    }
}

/// The first local day of the period after the one `at` falls in (the
/// Monday after, or the 1st of the next month), in the company zone: the
/// "next possible date" a manager at the limit is told.
pub fn next_period_first_day(
    at: DateTime<Utc>,
    period: LimitPeriod,
    company_zone: Tz,
) -> NaiveDate {
    let last_day = limit_period(at, period, &company_zone).last_day;
    // Only fails at the end of chrono's calendar (year 262,143).
    last_day.succ_opt().unwrap_or(NaiveDate::MAX)
}

/// The instant the period after the one `at` falls in begins: local
/// midnight of [`next_period_first_day`] in the company zone, or the first
/// local instant after a DST gap at midnight.
pub fn next_period_start(
    at: DateTime<Utc>,
    period: LimitPeriod,
    company_zone: Tz,
) -> DateTime<Utc> {
    limit_period(at, period, &company_zone).to
}

/// One reminder a participant gets before a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedReminder {
    /// How long before the start, in whole minutes (> 0).
    pub offset_minutes: i32,
    pub due_at: DateTime<Utc>,
}

/// The reminders of a meeting starting at `starts_at`, largest offset
/// first: offsets under a minute and duplicates are dropped, and so are
/// reminders whose due time is not after `now` (booking at 13:30 for 14:00
/// sends no "in one hour" reminder late).
pub fn plan_reminders(
    starts_at: DateTime<Utc>,
    offsets: &[TimeDelta],
    now: DateTime<Utc>,
) -> Vec<PlannedReminder> {
    let mut minutes: Vec<i32> = offsets
        .iter()
        .filter_map(|offset| i32::try_from(offset.num_minutes()).ok())
        .filter(|minutes| *minutes > 0)
        .collect();
    minutes.sort_unstable_by(|a, b| b.cmp(a));
    minutes.dedup();
    minutes
        .into_iter()
        .filter_map(|offset_minutes| {
            let due_at =
                starts_at.checked_sub_signed(TimeDelta::minutes(i64::from(offset_minutes)))?;
            (due_at > now).then_some(PlannedReminder {
                offset_minutes,
                due_at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    const MOSCOW: Tz = chrono_tz::Europe::Moscow;

    fn utc(text: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
    }

    #[test]
    fn iso_weeks_belong_to_their_iso_year_at_year_boundaries() {
        // Thursday 1 January 2026 is in week 1 of 2026.
        assert_eq!(
            period_key(utc("2026-01-01 12:00"), LimitPeriod::Week, Tz::UTC),
            "2026-W01"
        );
        // Monday 29 December 2025 is in the same week 1 of 2026.
        assert_eq!(
            period_key(utc("2025-12-29 12:00"), LimitPeriod::Week, Tz::UTC),
            "2026-W01"
        );
        // Friday 1 January 2027 is in week 53 of 2026.
        assert_eq!(
            period_key(utc("2027-01-01 12:00"), LimitPeriod::Week, Tz::UTC),
            "2026-W53"
        );
        // Sunday 3 January 2027 still is; Monday 4 January starts 2027-W01.
        assert_eq!(
            period_key(utc("2027-01-03 12:00"), LimitPeriod::Week, Tz::UTC),
            "2026-W53"
        );
        assert_eq!(
            period_key(utc("2027-01-04 12:00"), LimitPeriod::Week, Tz::UTC),
            "2027-W01"
        );
        assert_eq!(
            period_key(utc("2026-11-25 12:00"), LimitPeriod::Week, MOSCOW),
            "2026-W48"
        );
    }

    #[test]
    fn months_are_calendar_months() {
        assert_eq!(
            period_key(utc("2026-12-31 12:00"), LimitPeriod::Month, Tz::UTC),
            "2026-12"
        );
        assert_eq!(
            period_key(utc("2027-01-01 00:00"), LimitPeriod::Month, Tz::UTC),
            "2027-01"
        );
    }

    #[test]
    fn periods_follow_the_company_zone_not_utc() {
        // Sunday 22:30 UTC is already Monday 01:30 in Moscow.
        let sunday_night = utc("2026-11-29 22:30");
        assert_eq!(
            period_key(sunday_night, LimitPeriod::Week, Tz::UTC),
            "2026-W48"
        );
        assert_eq!(
            period_key(sunday_night, LimitPeriod::Week, MOSCOW),
            "2026-W49"
        );
        // 31 December 21:00 UTC is New Year in Moscow, still December in New York.
        let new_year = utc("2026-12-31 21:00");
        assert_eq!(period_key(new_year, LimitPeriod::Month, MOSCOW), "2027-01");
        assert_eq!(
            period_key(new_year, LimitPeriod::Month, chrono_tz::America::New_York),
            "2026-12"
        );
    }

    #[test]
    fn the_next_period_starts_at_local_midnight() {
        // Wednesday 25 November 2026 → Monday 30 November, 00:00 Moscow.
        let wednesday = utc("2026-11-25 09:00");
        assert_eq!(
            next_period_first_day(wednesday, LimitPeriod::Week, MOSCOW),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        assert_eq!(
            next_period_start(wednesday, LimitPeriod::Week, MOSCOW),
            utc("2026-11-29 21:00")
        );
        // A Monday's next period is the Monday after, not itself.
        let monday = utc("2026-11-30 09:00");
        assert_eq!(
            next_period_first_day(monday, LimitPeriod::Week, MOSCOW),
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
        );
        // Months roll over the year; 31 January goes to 1 February.
        assert_eq!(
            next_period_start(utc("2026-12-15 09:00"), LimitPeriod::Month, MOSCOW),
            utc("2026-12-31 21:00")
        );
        assert_eq!(
            next_period_first_day(utc("2027-01-31 09:00"), LimitPeriod::Month, Tz::UTC),
            NaiveDate::from_ymd_opt(2027, 2, 1).unwrap()
        );
    }

    #[test]
    fn a_period_starting_in_a_midnight_dst_gap_starts_after_the_gap() {
        // Asunción skipped 00:00–01:00 on Sunday 1 October 2023 (−04 → −03).
        let asuncion = chrono_tz::America::Asuncion;
        assert_eq!(
            next_period_start(utc("2023-09-15 12:00"), LimitPeriod::Month, asuncion),
            utc("2023-10-01 04:00")
        );
        // Tehran skipped 00:00–01:00 on Monday 22 March 2021 (+03:30 → +04:30).
        let tehran = chrono_tz::Asia::Tehran;
        assert_eq!(
            next_period_start(utc("2021-03-17 12:00"), LimitPeriod::Week, tehran),
            utc("2021-03-21 20:30")
        );
    }

    #[test]
    fn reminders_skip_past_due_times_and_bad_offsets() {
        let starts = utc("2026-12-01 14:00");
        let offsets = [
            TimeDelta::hours(1),
            TimeDelta::hours(24),
            TimeDelta::hours(1),
            TimeDelta::seconds(30),
        ];
        let all = plan_reminders(starts, &offsets, utc("2026-11-29 09:00"));
        assert_eq!(
            all,
            vec![
                PlannedReminder {
                    offset_minutes: 1440,
                    due_at: utc("2026-11-30 14:00")
                },
                PlannedReminder {
                    offset_minutes: 60,
                    due_at: utc("2026-12-01 13:00")
                },
            ]
        );
        let late = plan_reminders(starts, &offsets, utc("2026-12-01 10:00"));
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].offset_minutes, 60);
        assert!(plan_reminders(starts, &offsets, utc("2026-12-01 13:00")).is_empty());
    }
}
