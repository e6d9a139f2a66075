//! Properties of the free-slot functions over random grids, zones, windows
//! and intervals, checked against a slow per-cell reference that converts
//! every local start with the zone and tests every interval.
//!
//! "Now" is drawn near DST changes of the zones in play and near two days
//! Samoa skipped (2011) and lived twice (1892), so gaps and overlaps at grid
//! times are exercised, not only the usual 02:00 ones.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

const ZONES: [Tz; 8] = [
    Tz::UTC,
    Tz::Europe__Moscow,
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::Australia__Lord_Howe,
    Tz::Asia__Kathmandu,
    Tz::Pacific__Apia,
    Tz::America__Anchorage,
];

/// A few days before: Berlin and New York spring and autumn 2025, Lord Howe
/// April 2025, Samoa's skipped 2011-12-30, its doubled 1892-07-04, Alaska's
/// doubled 1867-10-18, the US railway-time noon of 1883-11-18 (a change
/// between two grid cells of one day), and a plain June week.
const ANCHORS: [(i32, u32, u32); 10] = [
    (1883, 11, 15),
    (2025, 3, 27),
    (2025, 10, 23),
    (2025, 3, 6),
    (2025, 10, 30),
    (2025, 4, 3),
    (2011, 12, 27),
    (1892, 7, 1),
    (1867, 10, 16),
    (2025, 6, 10),
];

const ALL_CELLS: u32 = (1 << 29) - 1;

#[derive(Debug, Clone)]
struct OwnerCase {
    zone: Tz,
    masks: [u32; 7],
    slot_minutes: i32,
    /// Offsets from the anchor: (start seconds, length seconds, nanos).
    intervals: Vec<(i64, i64, u32)>,
}

impl OwnerCase {
    fn availability(&self) -> OwnerAvailability {
        let rows = self.masks.iter().zip(1..).flat_map(|(mask, weekday)| {
            (0..29)
                .filter(move |cell| mask & (1 << cell) != 0)
                .map(move |cell| (weekday, 420 + 30 * cell))
        });
        OwnerAvailability::new(
            self.zone,
            WeeklyGrid::from_rows(rows).unwrap(),
            SlotLength::from_minutes(self.slot_minutes).unwrap(),
        )
    }

    fn intervals(&self, anchor: DateTime<Utc>) -> Vec<Interval> {
        self.intervals
            .iter()
            .map(|(start, length, nanos)| {
                let start = anchor + TimeDelta::seconds(*start);
                Interval::new(
                    start,
                    start + TimeDelta::seconds(*length) + TimeDelta::nanoseconds(i64::from(*nanos)),
                )
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct WindowCase {
    anchor: DateTime<Utc>,
    now_offset_seconds: i64,
    now_nanos: u32,
    notice_minutes: i64,
    horizon_days: i64,
    weekends_enabled: bool,
}

impl WindowCase {
    fn window(&self) -> Window {
        let now = self.anchor
            + TimeDelta::seconds(self.now_offset_seconds)
            + TimeDelta::nanoseconds(i64::from(self.now_nanos));
        Window {
            starts_from: now + TimeDelta::minutes(self.notice_minutes),
            starts_before: now + TimeDelta::days(self.horizon_days),
            weekends_enabled: self.weekends_enabled,
        }
    }
}

fn owner_case() -> impl Strategy<Value = OwnerCase> {
    let mask = prop_oneof![
        any::<u32>().prop_map(|m| m & ALL_CELLS),
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| a & b & ALL_CELLS),
        Just(0),
        Just(ALL_CELLS),
    ];
    let interval = (
        -86_400i64..18 * 86_400,
        prop_oneof![0i64..3_600, 0i64..36_000, 0i64..4 * 86_400],
        prop_oneof![Just(0u32), 0u32..1_000_000_000],
    );
    (
        0..ZONES.len(),
        proptest::array::uniform7(mask),
        prop_oneof![
            (1i32..=8).prop_map(|q| q * 15),
            (1i32..=32).prop_map(|q| q * 15)
        ],
        proptest::collection::vec(interval, 0..40),
    )
        .prop_map(|(zone, masks, slot_minutes, intervals)| OwnerCase {
            zone: ZONES[zone],
            masks,
            slot_minutes,
            intervals,
        })
}

fn window_case() -> impl Strategy<Value = WindowCase> {
    (
        0..ANCHORS.len(),
        0i64..3 * 86_400,
        prop_oneof![Just(0u32), 0u32..1_000_000_000],
        prop_oneof![Just(0i64), 0i64..48 * 60],
        1i64..=12,
        any::<bool>(),
    )
        .prop_map(
            |(
                anchor,
                now_offset_seconds,
                now_nanos,
                notice_minutes,
                horizon_days,
                weekends_enabled,
            )| {
                let (y, m, d) = ANCHORS[anchor];
                WindowCase {
                    anchor: Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap(),
                    now_offset_seconds,
                    now_nanos,
                    notice_minutes,
                    horizon_days,
                    weekends_enabled,
                }
            },
        )
}

/// The rules read literally: every grid cell of every nearby local day,
/// converted one by one, kept if inside the window and clear of every
/// interval.
fn reference(
    owner: &OwnerAvailability,
    length: SlotLength,
    intervals: &[Interval],
    window: &Window,
) -> Vec<Slot> {
    let zone = owner.zone();
    let first = window.starts_from.with_timezone(&zone).date_naive() - TimeDelta::days(3);
    let last = window.starts_before.with_timezone(&zone).date_naive() + TimeDelta::days(3);
    let mut slots = Vec::new();
    for date in first.iter_days().take_while(|date| *date <= last) {
        let weekday = date.weekday();
        if !window.weekends_enabled && matches!(weekday, Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for minute in owner.grid().starts_on(weekday) {
            let local = date
                .and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)
                .unwrap();
            let Some(start) = zone
                .from_local_datetime(&local)
                .earliest()
                .map(|at| at.to_utc())
            else {
                continue;
            };
            let slot = Slot {
                start,
                end: start + length.duration(),
            };
            if start >= window.starts_from
                && start < window.starts_before
                && intervals
                    .iter()
                    .all(|interval| !interval.overlaps(&slot.interval()))
            {
                slots.push(slot);
            }
        }
    }
    slots.sort();
    slots.dedup();
    slots
}

fn local_date(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// The stated properties, each checked on its own.
    #[test]
    fn offered_slots_are_free_inside_availability_and_the_window(case in owner_case(), window_case in window_case()) {
        let owner = case.availability();
        let intervals = case.intervals(window_case.anchor);
        let window = window_case.window();
        let slots = free_slots(&owner, &Blocking::new(intervals.iter().copied()), &window);
        let zone = owner.zone();
        for pair in slots.windows(2) {
            prop_assert!(pair[0].start < pair[1].start, "sorted without duplicates: {pair:?}");
        }
        for slot in &slots {
            prop_assert_eq!(slot.end - slot.start, owner.slot_length().duration());
            prop_assert!(slot.start >= window.starts_from && slot.start < window.starts_before);
            for interval in &intervals {
                prop_assert!(!slot.interval().overlaps(interval), "{slot:?} overlaps {interval:?}");
            }
            // Inside availability: the local start is a ticked cell of that
            // local weekday, and the slot is its earlier instant when the
            // local time happens twice.
            let local = slot.start.with_timezone(&zone).naive_local();
            let minute = u16::try_from(local.time().signed_duration_since(chrono::NaiveTime::MIN).num_minutes()).unwrap();
            prop_assert_eq!(local.time().format("%S").to_string(), "00");
            prop_assert!(owner.grid().contains(local.weekday(), minute), "{local} not on the grid");
            prop_assert!(window.weekends_enabled || !matches!(local.weekday(), Weekday::Sat | Weekday::Sun));
            let earliest = zone.from_local_datetime(&local).earliest().map(|at| at.to_utc());
            prop_assert_eq!(earliest, Some(slot.start));
        }
    }

    /// Nothing free is left out either: the fast sweep equals the literal
    /// reference, on DST-gap, DST-overlap and skipped or doubled days alike.
    #[test]
    fn free_slots_equal_the_reference(case in owner_case(), window_case in window_case()) {
        let owner = case.availability();
        let intervals = case.intervals(window_case.anchor);
        let window = window_case.window();
        let slots = free_slots(&owner, &Blocking::new(intervals.iter().copied()), &window);
        prop_assert_eq!(slots, reference(&owner, owner.slot_length(), &intervals, &window));
    }

    /// Collective mode is the intersection of every owner's free slots at the
    /// common length.
    #[test]
    fn collective_slots_are_free_for_every_owner(
        cases in proptest::collection::vec(owner_case(), 1..4),
        window_case in window_case(),
        length_quarters in 1i32..=8,
    ) {
        let window = window_case.window();
        let length = SlotLength::from_minutes(length_quarters * 15).unwrap();
        let owners: Vec<(OwnerAvailability, Blocking)> = cases
            .iter()
            .map(|case| (case.availability(), Blocking::new(case.intervals(window_case.anchor))))
            .collect();
        let together = collective_free_slots(&owners, length, &window);
        let mut expected: Option<Vec<Slot>> = None;
        for case in &cases {
            let owner = OwnerAvailability::new(case.zone, *case.availability().grid(), length);
            let alone = reference(&owner, length, &case.intervals(window_case.anchor), &window);
            expected = Some(match expected {
                None => alone,
                Some(so_far) => so_far.into_iter().filter(|slot| alone.contains(slot)).collect(),
            });
        }
        prop_assert_eq!(together, expected.unwrap_or_default());
    }

    /// Day counts add up, every day appears once, and each count is the
    /// number of slots starting that day in the viewer's zone.
    #[test]
    fn day_counts_match_the_viewers_calendar(
        case in owner_case(),
        window_case in window_case(),
        viewer in 0..ZONES.len(),
    ) {
        let viewer = ZONES[viewer];
        let slots = free_slots(&case.availability(), &Blocking::none(), &window_case.window());
        let days = count_by_local_day(&slots, viewer);
        prop_assert_eq!(days.iter().map(|day| day.count).sum::<usize>(), slots.len());
        for pair in days.windows(2) {
            prop_assert!(pair[0].date < pair[1].date);
        }
        for day in &days {
            let on_day = slots.iter().filter(|slot| local_date(slot.start, viewer) == day.date).count();
            prop_assert_eq!(day.count, on_day);
            prop_assert_eq!(slots_on_local_day(&slots, viewer, day.date).count(), on_day);
        }
    }
}
