//! Concrete cases of the free-slot rules: zones with and without DST, days a
//! zone skipped or repeated, notice, horizon, weekends, touching intervals,
//! collective mode.

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::*;
use crate::domain::settings::BookingSettings;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// An owner ticking `(iso_weekday, "HH:MM")` cells.
fn owner(zone: Tz, cells: &[(i32, &str)], minutes: i32) -> OwnerAvailability {
    let rows = cells.iter().map(|(weekday, hhmm)| {
        let (h, m) = hhmm.split_once(':').unwrap();
        (
            *weekday,
            h.parse::<i32>().unwrap() * 60 + m.parse::<i32>().unwrap(),
        )
    });
    OwnerAvailability::new(
        zone,
        WeeklyGrid::from_rows(rows).unwrap(),
        SlotLength::from_minutes(minutes).unwrap(),
    )
}

/// Every day of the week at the given times.
fn every_day(times: &[&'static str]) -> Vec<(i32, &'static str)> {
    (1..=7)
        .flat_map(|d| times.iter().map(move |t| (d, *t)))
        .collect()
}

fn window(from: DateTime<Utc>, before: DateTime<Utc>, weekends_enabled: bool) -> Window {
    Window {
        starts_from: from,
        starts_before: before,
        weekends_enabled,
    }
}

fn starts(slots: &[Slot]) -> Vec<DateTime<Utc>> {
    slots.iter().map(|slot| slot.start).collect()
}

fn local_starts(slots: &[Slot], zone: Tz) -> Vec<String> {
    slots
        .iter()
        .map(|slot| {
            slot.start
                .with_timezone(&zone)
                .format("%a %Y-%m-%d %H:%M")
                .to_string()
        })
        .collect()
}

#[test]
fn moscow_grid_with_product_defaults() {
    // Monday 09:00 and 10:00, Wednesday 14:00; Moscow is UTC+3 all year.
    let owner = owner(
        Tz::Europe__Moscow,
        &[(1, "09:00"), (1, "10:00"), (3, "14:00")],
        60,
    );
    // Monday 2025-06-02 08:00 Moscow; defaults: 2 h notice, 14 days, no weekends.
    let now = utc(2025, 6, 2, 5, 0);
    let window = Window::from_settings(now, &BookingSettings::product_defaults());
    let slots = free_slots(&owner, &Blocking::none(), &window);
    assert_eq!(
        local_starts(&slots, Tz::Europe__Moscow),
        [
            "Mon 2025-06-02 10:00",
            "Wed 2025-06-04 14:00",
            "Mon 2025-06-09 09:00",
            "Mon 2025-06-09 10:00",
            "Wed 2025-06-11 14:00",
        ],
        "09:00 today is inside the notice, Monday 16th beyond the horizon"
    );
    assert_eq!(slots[0].start, utc(2025, 6, 2, 7, 0));
    assert!(
        slots
            .iter()
            .all(|slot| slot.end - slot.start == TimeDelta::hours(1))
    );
}

#[test]
fn minimum_notice_is_inclusive() {
    let owner = owner(Tz::Europe__Moscow, &[(1, "10:00")], 60);
    let ten = utc(2025, 6, 2, 7, 0);
    let end = utc(2025, 6, 3, 0, 0);
    assert_eq!(
        starts(&free_slots(
            &owner,
            &Blocking::none(),
            &window(ten, end, false)
        )),
        [ten]
    );
    let just_after = ten + TimeDelta::nanoseconds(1);
    assert!(free_slots(&owner, &Blocking::none(), &window(just_after, end, false)).is_empty());
}

#[test]
fn horizon_is_exclusive() {
    let owner = owner(Tz::Europe__Moscow, &[(1, "10:00")], 60);
    let ten = utc(2025, 6, 2, 7, 0);
    let from = utc(2025, 6, 2, 0, 0);
    assert!(free_slots(&owner, &Blocking::none(), &window(from, ten, false)).is_empty());
    let just_after = ten + TimeDelta::nanoseconds(1);
    assert_eq!(
        starts(&free_slots(
            &owner,
            &Blocking::none(),
            &window(from, just_after, false)
        )),
        [ten]
    );
}

#[test]
fn empty_window_offers_nothing() {
    let owner = owner(Tz::UTC, &every_day(&["10:00"]), 60);
    let at = utc(2025, 6, 2, 0, 0);
    assert!(free_slots(&owner, &Blocking::none(), &window(at, at, true)).is_empty());
    assert!(
        free_slots(
            &owner,
            &Blocking::none(),
            &window(at, at - TimeDelta::days(3), true)
        )
        .is_empty()
    );
}

#[test]
fn weekends_follow_the_owner_calendar() {
    // Auckland in June is UTC+12: Saturday 07:00 there is Friday 19:00 UTC,
    // Monday 07:00 there is Sunday 19:00 UTC.
    let owner = owner(Tz::Pacific__Auckland, &[(6, "07:00"), (1, "07:00")], 60);
    let from = utc(2025, 6, 5, 0, 0);
    let before = utc(2025, 6, 10, 0, 0);
    let weekdays_only = free_slots(&owner, &Blocking::none(), &window(from, before, false));
    assert_eq!(starts(&weekdays_only), [utc(2025, 6, 8, 19, 0)]);
    let with_weekends = free_slots(&owner, &Blocking::none(), &window(from, before, true));
    assert_eq!(
        starts(&with_weekends),
        [utc(2025, 6, 6, 19, 0), utc(2025, 6, 8, 19, 0)]
    );
}

#[test]
fn bookings_busy_time_and_blocked_periods_block_but_touching_ends_do_not() {
    let owner = owner(
        Tz::Europe__Moscow,
        &[
            (1, "09:00"),
            (1, "10:00"),
            (1, "10:30"),
            (1, "11:00"),
            (1, "12:00"),
        ],
        60,
    );
    let msk = |h: u32, m: u32| utc(2025, 6, 2, h - 3, m);
    let booking = Interval::new(msk(10, 0), msk(11, 0));
    let busy = Interval::new(msk(12, 59) + TimeDelta::seconds(59), msk(13, 0));
    let blocked = Interval::new(msk(8, 0), msk(9, 0));
    let blocking: Blocking = [booking, busy, blocked].into_iter().collect();
    let slots = free_slots(
        &owner,
        &blocking,
        &window(utc(2025, 6, 2, 0, 0), utc(2025, 6, 3, 0, 0), false),
    );
    assert_eq!(starts(&slots), [msk(9, 0), msk(11, 0)]);
}

#[test]
fn berlin_spring_forward_keeps_local_times_and_absolute_lengths() {
    // 2025-03-30 (Sunday) 02:00 CET -> 03:00 CEST.
    let owner = owner(Tz::Europe__Berlin, &every_day(&["09:00", "21:00"]), 480);
    let slots = free_slots(
        &owner,
        &Blocking::none(),
        &window(utc(2025, 3, 29, 0, 0), utc(2025, 3, 31, 0, 0), true),
    );
    assert_eq!(
        starts(&slots),
        [
            utc(2025, 3, 29, 8, 0),  // Saturday 09:00 CET
            utc(2025, 3, 29, 20, 0), // Saturday 21:00 CET
            utc(2025, 3, 30, 7, 0),  // Sunday 09:00 CEST
            utc(2025, 3, 30, 19, 0), // Sunday 21:00 CEST
        ]
    );
    assert!(
        slots
            .iter()
            .all(|slot| slot.end - slot.start == TimeDelta::hours(8))
    );
    // The Saturday-night slot spans the lost hour: 8 h long, ends 06:00 local.
    let night_end = slots[1].end.with_timezone(&Tz::Europe__Berlin);
    assert_eq!((night_end.hour(), night_end.minute()), (6, 0));
}

#[test]
fn berlin_fall_back_keeps_local_times() {
    // 2025-10-26 (Sunday) 03:00 CEST -> 02:00 CET.
    let owner = owner(Tz::Europe__Berlin, &every_day(&["09:00", "21:00"]), 480);
    let slots = free_slots(
        &owner,
        &Blocking::none(),
        &window(utc(2025, 10, 25, 0, 0), utc(2025, 10, 27, 0, 0), true),
    );
    assert_eq!(
        starts(&slots),
        [
            utc(2025, 10, 25, 7, 0),  // Saturday 09:00 CEST
            utc(2025, 10, 25, 19, 0), // Saturday 21:00 CEST
            utc(2025, 10, 26, 8, 0),  // Sunday 09:00 CET
            utc(2025, 10, 26, 20, 0), // Sunday 21:00 CET
        ]
    );
    let night_end = slots[1].end.with_timezone(&Tz::Europe__Berlin);
    assert_eq!(
        (night_end.hour(), night_end.minute()),
        (4, 0),
        "8 h after 21:00 CEST is 04:00 CET: the wall clock moved only 7 h"
    );
}

#[test]
fn new_york_dst_days() {
    let owner = owner(Tz::America__New_York, &every_day(&["09:00", "21:00"]), 480);
    let nothing = Blocking::none();
    // 2025-03-09 (Sunday) 02:00 EST -> 03:00 EDT.
    let spring = free_slots(
        &owner,
        &nothing,
        &window(utc(2025, 3, 8, 3, 0), utc(2025, 3, 10, 4, 0), true),
    );
    assert_eq!(
        starts(&spring),
        [
            utc(2025, 3, 8, 14, 0), // Saturday 09:00 EST
            utc(2025, 3, 9, 2, 0),  // Saturday 21:00 EST
            utc(2025, 3, 9, 13, 0), // Sunday 09:00 EDT
            utc(2025, 3, 10, 1, 0), // Sunday 21:00 EDT
        ]
    );
    // 2025-11-02 (Sunday) 02:00 EDT -> 01:00 EST.
    let autumn = free_slots(
        &owner,
        &nothing,
        &window(utc(2025, 11, 1, 2, 0), utc(2025, 11, 3, 4, 0), true),
    );
    assert_eq!(
        starts(&autumn),
        [
            utc(2025, 11, 1, 13, 0), // Saturday 09:00 EDT
            utc(2025, 11, 2, 1, 0),  // Saturday 21:00 EDT
            utc(2025, 11, 2, 14, 0), // Sunday 09:00 EST
            utc(2025, 11, 3, 2, 0),  // Sunday 21:00 EST
        ]
    );
    // 8 h after Saturday 21:00 EDT, across the repeated hour: 04:00 EST.
    let night_end = autumn[1].end.with_timezone(&Tz::America__New_York);
    assert_eq!((night_end.hour(), night_end.minute()), (4, 0));
}

#[test]
fn a_local_day_that_does_not_exist_offers_nothing() {
    // Samoa skipped Friday 2011-12-30 to join the other side of the date line.
    let owner = owner(Tz::Pacific__Apia, &every_day(&["09:00", "15:30"]), 60);
    let slots = free_slots(
        &owner,
        &Blocking::none(),
        &window(utc(2011, 12, 28, 2, 0), utc(2012, 1, 2, 0, 0), true),
    );
    assert_eq!(
        local_starts(&slots, Tz::Pacific__Apia),
        [
            "Wed 2011-12-28 09:00",
            "Wed 2011-12-28 15:30",
            "Thu 2011-12-29 09:00",
            "Thu 2011-12-29 15:30",
            "Sat 2011-12-31 09:00",
            "Sat 2011-12-31 15:30",
            "Sun 2012-01-01 09:00",
            "Sun 2012-01-01 15:30",
            "Mon 2012-01-02 09:00",
        ]
    );
}

#[test]
fn a_local_day_that_happens_twice_is_offered_once_at_the_earlier_instant() {
    // Samoa lived Monday 1892-07-04 twice when it moved east of the date line
    // (LMT +12:33:04, then -11:26:56).
    let owner = owner(Tz::Pacific__Apia, &every_day(&["09:00"]), 60);
    let slots = free_slots(
        &owner,
        &Blocking::none(),
        &window(utc(1892, 7, 1, 0, 0), utc(1892, 7, 8, 0, 0), true),
    );
    let dates: Vec<NaiveDate> = slots
        .iter()
        .map(|slot| slot.start.with_timezone(&Tz::Pacific__Apia).date_naive())
        .collect();
    let july = |d| NaiveDate::from_ymd_opt(1892, 7, d).unwrap();
    assert_eq!(
        dates,
        [july(2), july(3), july(4), july(5), july(6), july(7)]
    );
    let fourth = slots[2].start;
    assert_eq!(
        fourth,
        Utc.with_ymd_and_hms(1892, 7, 3, 20, 26, 56).unwrap()
    );
    assert_eq!(
        Tz::Pacific__Apia
            .from_local_datetime(&july(4).and_hms_opt(9, 0, 0).unwrap())
            .earliest()
            .map(|at| at.to_utc()),
        Some(fourth)
    );
}

#[test]
fn collective_slots_need_every_owners_grid_and_freedom() {
    // June: Moscow UTC+3, Berlin UTC+2.
    let moscow = owner(
        Tz::Europe__Moscow,
        &[(1, "10:00"), (1, "11:00"), (1, "12:00")],
        60,
    );
    let berlin = owner(Tz::Europe__Berlin, &[(1, "09:00"), (1, "10:00")], 30);
    let berlin_busy = Blocking::new([Interval::new(utc(2025, 6, 2, 8, 0), utc(2025, 6, 2, 8, 30))]);
    let monday = window(utc(2025, 6, 2, 0, 0), utc(2025, 6, 3, 0, 0), false);
    let half_hour = SlotLength::from_minutes(30).unwrap();
    let owners = [
        (moscow.clone(), Blocking::none()),
        (berlin.clone(), berlin_busy.clone()),
    ];

    // 07:00 UTC is on both grids; 08:00 is busy for Berlin; 09:00 is not on
    // Berlin's grid.
    let together = collective_free_slots(&owners, half_hour, &monday);
    assert_eq!(starts(&together), [utc(2025, 6, 2, 7, 0)]);
    assert!(
        together
            .iter()
            .all(|slot| slot.end - slot.start == TimeDelta::minutes(30))
    );

    // Ninety minutes from 07:00 reach into Berlin's busy half hour.
    let long = SlotLength::from_minutes(90).unwrap();
    assert!(collective_free_slots(&owners, long, &monday).is_empty());

    // Moscow busy at 07:00 UTC removes the last common slot.
    let moscow_busy = Blocking::new([Interval::new(
        utc(2025, 6, 2, 7, 15),
        utc(2025, 6, 2, 7, 20),
    )]);
    let owners = [(moscow.clone(), moscow_busy), (berlin, berlin_busy)];
    assert!(collective_free_slots(&owners, half_hour, &monday).is_empty());

    // One owner alone is the single-owner answer at the given length.
    let alone = [(moscow.clone(), Blocking::none())];
    let moscow_half_hours = OwnerAvailability::new(moscow.zone(), *moscow.grid(), half_hour);
    assert_eq!(
        collective_free_slots(&alone, half_hour, &monday),
        free_slots(&moscow_half_hours, &Blocking::none(), &monday)
    );
    assert!(collective_free_slots(&[], half_hour, &monday).is_empty());
}

#[test]
fn collective_weekends_follow_each_owners_calendar() {
    // Monday 07:00 in Auckland (June, UTC+12) is Sunday 19:00 in UTC: a
    // weekday for one owner, the weekend for the other.
    let auckland = owner(Tz::Pacific__Auckland, &[(1, "07:00")], 60);
    let london = owner(Tz::UTC, &[(7, "19:00")], 60);
    let owners = [(auckland, Blocking::none()), (london, Blocking::none())];
    let from = utc(2025, 6, 6, 0, 0);
    let before = utc(2025, 6, 10, 0, 0);
    let length = SlotLength::DEFAULT;
    assert!(collective_free_slots(&owners, length, &window(from, before, false)).is_empty());
    assert_eq!(
        starts(&collective_free_slots(
            &owners,
            length,
            &window(from, before, true)
        )),
        [utc(2025, 6, 8, 19, 0)]
    );
}

#[test]
fn grouping_free_slots_for_a_viewer_in_another_zone() {
    let owner = owner(
        Tz::Europe__Moscow,
        &[(2, "07:00"), (2, "10:00"), (3, "07:00")],
        60,
    );
    let slots = free_slots(
        &owner,
        &Blocking::none(),
        &window(utc(2025, 1, 13, 0, 0), utc(2025, 1, 16, 0, 0), false),
    );
    let date = |d| NaiveDate::from_ymd_opt(2025, 1, d).unwrap();
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
    // 07:00 Moscow is 23:00 the evening before in New York (EST).
    assert_eq!(
        count_by_local_day(&slots, Tz::America__New_York),
        [
            DayCount {
                date: date(13),
                count: 1
            },
            DayCount {
                date: date(14),
                count: 2
            }
        ]
    );
}

#[test]
fn windows_at_the_ends_of_time_do_not_panic() {
    let owner = owner(Tz::Pacific__Apia, &every_day(&["07:00", "21:00"]), 480);
    let busy = Blocking::new([Interval::new(
        DateTime::<Utc>::MIN_UTC,
        DateTime::<Utc>::MAX_UTC,
    )]);
    let three_days = TimeDelta::days(3);
    for (from, before) in [
        (
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MIN_UTC + three_days,
        ),
        (
            DateTime::<Utc>::MAX_UTC - three_days,
            DateTime::<Utc>::MAX_UTC,
        ),
        (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
    ] {
        let window = window(from, before, true);
        let free = free_slots(&owner, &Blocking::none(), &window);
        assert!(
            free.iter()
                .all(|slot| slot.start >= from && slot.start < before)
        );
        assert!(free_slots(&owner, &busy, &window).is_empty());
        let owners = [
            (owner.clone(), Blocking::none()),
            (owner.clone(), busy.clone()),
        ];
        assert!(collective_free_slots(&owners, SlotLength::DEFAULT, &window).is_empty());
        count_by_local_day(&free, Tz::Pacific__Kiritimati);
    }
}
