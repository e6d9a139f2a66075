//! Free slots seen from the viewer's calendar: the "pick a day (with the
//! count)" and "pick a time" screens. The viewer's zone may differ from every
//! owner's, so a 07:00 Moscow slot can belong to the previous evening in
//! New York.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::Slot;

/// One day of the viewer's calendar that has free slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub date: NaiveDate,
    pub count: usize,
}

/// Free slots per local day of the viewer, days ascending, only days with at
/// least one slot.
///
/// Local dates are nearly but not strictly ascending along UTC (a clock
/// turned back across midnight steps into the previous date), so a day seen
/// again is found by binary search rather than assumed to be the last one.
pub fn count_by_local_day(slots: &[Slot], viewer_zone: Tz) -> Vec<DayCount> {
    let mut days: Vec<DayCount> = Vec::new();
    for slot in slots {
        let date = slot.start.with_timezone(&viewer_zone).date_naive();
        match days.last_mut() {
            Some(last) if last.date == date => last.count += 1,
            _ => match days.binary_search_by_key(&date, |day| day.date) {
                Ok(found) => {
                    if let Some(day) = days.get_mut(found) {
                        day.count += 1;
                    }
                }
                Err(insert_at) => days.insert(insert_at, DayCount { date, count: 1 }),
            },
        }
    }
    days
}

/// The slots starting on `date` in the viewer's calendar, in start order.
pub fn slots_on_local_day(
    slots: &[Slot],
    viewer_zone: Tz,
    date: NaiveDate,
) -> impl Iterator<Item = &Slot> {
    slots
        .iter()
        .filter(move |slot| slot.start.with_timezone(&viewer_zone).date_naive() == date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeDelta, TimeZone, Utc};

    fn slot(start: DateTime<Utc>) -> Slot {
        Slot {
            start,
            end: start + TimeDelta::hours(1),
        }
    }

    #[test]
    fn early_moscow_slots_fall_on_the_previous_new_york_evening() {
        // Tuesday 2025-01-14 07:00 and 10:00 Moscow = 04:00 and 07:00 UTC
        // = Monday 23:00 and Tuesday 02:00 in New York (EST).
        let slots = [
            slot(Utc.with_ymd_and_hms(2025, 1, 14, 4, 0, 0).unwrap()),
            slot(Utc.with_ymd_and_hms(2025, 1, 14, 7, 0, 0).unwrap()),
            slot(Utc.with_ymd_and_hms(2025, 1, 15, 7, 0, 0).unwrap()),
        ];
        let date = |d| NaiveDate::from_ymd_opt(2025, 1, d).unwrap();
        assert_eq!(
            count_by_local_day(&slots, Tz::America__New_York),
            [
                DayCount {
                    date: date(13),
                    count: 1
                },
                DayCount {
                    date: date(14),
                    count: 1
                },
                DayCount {
                    date: date(15),
                    count: 1
                }
            ]
        );
        assert_eq!(
            count_by_local_day(&slots, Tz::Europe__Moscow),
            [
                DayCount {
                    date: date(14),
                    count: 2
                },
                DayCount {
                    date: date(15),
                    count: 1
                }
            ]
        );
        let tuesday_ny: Vec<_> =
            slots_on_local_day(&slots, Tz::America__New_York, date(14)).collect();
        assert_eq!(tuesday_ny, [&slots[1]]);
    }

    #[test]
    fn a_date_seen_again_after_the_clock_steps_back_over_midnight_is_counted_once() {
        // Alaska left the Russian calendar on 1867-10-19 at 14:31:37 local,
        // 00:31:13 UTC, turning its clocks back a whole day.
        let slots = [
            slot(Utc.with_ymd_and_hms(1867, 10, 19, 0, 0, 0).unwrap()),
            slot(Utc.with_ymd_and_hms(1867, 10, 19, 1, 0, 0).unwrap()),
            slot(Utc.with_ymd_and_hms(1867, 10, 19, 2, 0, 0).unwrap()),
        ];
        let local: Vec<_> = slots
            .iter()
            .map(|s| {
                s.start
                    .with_timezone(&Tz::America__Anchorage)
                    .naive_local()
                    .to_string()
            })
            .collect();
        let date = |d| NaiveDate::from_ymd_opt(1867, 10, d).unwrap();
        let days = count_by_local_day(&slots, Tz::America__Anchorage);
        assert_eq!(
            days,
            [
                DayCount {
                    date: date(18),
                    count: 2
                },
                DayCount {
                    date: date(19),
                    count: 1
                }
            ],
            "{local:?}"
        );
    }

    #[test]
    fn no_slots_no_days() {
        assert!(count_by_local_day(&[], Tz::UTC).is_empty());
    }
}
