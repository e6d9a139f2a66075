//! Calendar periods in a zone — ISO weeks and calendar months, as UTC
//! instants — shared by the per-manager booking limit and the statistics,
//! so both count the same days.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

use super::settings::LimitPeriod;

/// A calendar period in a zone: `[from, to)` in UTC, and its local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub first_day: NaiveDate,
    /// The last local day included.
    pub last_day: NaiveDate,
}

/// The ISO week (Monday to Sunday) containing `now` in `zone`.
pub fn iso_week<Tz: TimeZone>(now: DateTime<Utc>, zone: &Tz) -> Period {
    let today = now.with_timezone(zone).date_naive();
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let next_monday = monday + Days::new(7);
    period(zone, monday, next_monday)
}

/// The calendar month containing `now` in `zone`.
pub fn calendar_month<Tz: TimeZone>(now: DateTime<Utc>, zone: &Tz) -> Period {
    let today = now.with_timezone(zone).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    period(zone, first, next)
}

fn period<Tz: TimeZone>(zone: &Tz, first_day: NaiveDate, next: NaiveDate) -> Period {
    Period {
        from: start_of_day(zone, first_day),
        to: start_of_day(zone, next),
        first_day,
        last_day: next.pred_opt().unwrap_or(next),
    }
}

/// The first instant of `day` in `zone` (midnight, or the first minute that
/// exists when a DST change skips midnight; a gap lasts hours at most, so a
/// day is probed in 15-minute steps).
pub fn start_of_day<Tz: TimeZone>(zone: &Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_time(NaiveTime::MIN);
    (0..=24 * 60)
        .step_by(15)
        .find_map(|minutes| {
            zone.from_local_datetime(&(midnight + TimeDelta::minutes(minutes)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |at| at.with_timezone(&Utc))
}

/// The limit period (week or month) containing `at` in `zone`.
pub fn limit_period<Tz: TimeZone>(at: DateTime<Utc>, period: LimitPeriod, zone: &Tz) -> Period {
    match period {
        LimitPeriod::Week => iso_week(at, zone),
        LimitPeriod::Month => calendar_month(at, zone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_the_company_zone() {
        let zone = chrono_tz::Europe::Moscow;
        // Wednesday 2026-11-25 23:30 in Moscow is 20:30 UTC.
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 20, 30, 0).unwrap();
        let week = iso_week(now, &zone);
        assert_eq!(
            week.from,
            Utc.with_ymd_and_hms(2026, 11, 22, 21, 0, 0).unwrap()
        );
        assert_eq!(
            week.to,
            Utc.with_ymd_and_hms(2026, 11, 29, 21, 0, 0).unwrap()
        );
        assert_eq!(
            week.last_day,
            NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
        );
        // Sunday 22:00 UTC is already Monday in Moscow: a new week.
        let monday = Utc.with_ymd_and_hms(2026, 11, 29, 22, 0, 0).unwrap();
        assert_eq!(
            iso_week(monday, &zone).first_day,
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        let month = calendar_month(now, &zone);
        assert_eq!(
            month.from,
            Utc.with_ymd_and_hms(2026, 10, 31, 21, 0, 0).unwrap()
        );
        assert_eq!(
            month.to,
            Utc.with_ymd_and_hms(2026, 11, 30, 21, 0, 0).unwrap()
        );
        // A zone whose DST change skips midnight still gets a start.
        let santiago = chrono_tz::America::Santiago;
        let day = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let start = start_of_day(&santiago, day);
        assert_eq!(start.with_timezone(&santiago).date_naive(), day);
    }
}
