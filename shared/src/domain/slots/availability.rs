//! An owner's weekly grid of start times in their own zone, and how it turns
//! into UTC instants on real calendar days (DST included).
//!
//! The grid is stored as one bit mask per weekday so a whole year of
//! candidates is produced without touching the heap; the zone is consulted
//! twice per day, not once per start, which is what keeps a year of
//! availability well under a millisecond.

use chrono::{
    DateTime, Datelike, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// Earliest owner-local start offered (07:00), as in `availability_slots`.
pub const FIRST_START_MINUTE: u16 = 7 * 60;
/// Latest owner-local start offered (21:00), as in `availability_slots`.
pub const LAST_START_MINUTE: u16 = 21 * 60;
/// Distance between two grid starts: owners toggle half-hour cells.
pub const START_STEP_MINUTES: u16 = 30;
/// Cells per day: 07:00, 07:30, …, 21:00.
const CELLS_PER_DAY: usize =
    ((LAST_START_MINUTE - FIRST_START_MINUTE) / START_STEP_MINUTES + 1) as usize;

/// Availability values that the database constraints would also refuse;
/// rejected here so a bad row can never produce a strange slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AvailabilityError {
    #[error("weekday {0} is not an ISO weekday (1 = Monday … 7 = Sunday)")]
    Weekday(i32),
    #[error("start minute {0} is not on the 30-minute grid from 07:00 (420) to 21:00 (1260)")]
    StartMinute(i32),
    #[error("slot length {0} min is not a multiple of 15 between 15 and 480")]
    SlotLength(i32),
}

/// How long one meeting with an owner lasts. Kept as a validated type so the
/// slot arithmetic never sees a zero, negative or odd length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotLength(u16);

impl SlotLength {
    /// The product default for an owner who never chose a length.
    pub const DEFAULT: Self = Self(60);
    pub const MIN_MINUTES: u16 = 15;
    pub const MAX_MINUTES: u16 = 480;
    pub const STEP_MINUTES: u16 = 15;

    /// Accepts the `owner_settings.slot_minutes` range: 15..=480, step 15.
    pub fn from_minutes(minutes: i32) -> Result<Self, AvailabilityError> {
        match u16::try_from(minutes) {
            Ok(m)
                if (Self::MIN_MINUTES..=Self::MAX_MINUTES).contains(&m)
                    && m.is_multiple_of(Self::STEP_MINUTES) =>
            {
                Ok(Self(m))
            }
            _ => Err(AvailabilityError::SlotLength(minutes)),
        }
    }

    pub fn minutes(self) -> u16 {
        self.0
    }

    pub fn duration(self) -> TimeDelta {
        TimeDelta::minutes(i64::from(self.0))
    }

    /// Slots are measured in absolute time: a 21:00 slot that crosses a DST
    /// change at night still lasts exactly this long.
    pub(super) fn seconds(self) -> i64 {
        i64::from(self.0) * 60
    }
}

impl Default for SlotLength {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The weekly recurring start times an owner ticked, owner-local.
///
/// One bit per half-hour cell per weekday: cheap to copy, compare and scan,
/// and impossible to hold an off-grid value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct WeeklyGrid {
    /// Index 0 is Monday; bit `i` is `FIRST_START_MINUTE + 30 * i`.
    days: [u32; 7],
}

impl WeeklyGrid {
    /// Builds the grid from `availability_slots` rows `(weekday, start_minute)`
    /// with ISO weekdays; duplicates are harmless, off-grid values are errors.
    pub fn from_rows(
        rows: impl IntoIterator<Item = (i32, i32)>,
    ) -> Result<Self, AvailabilityError> {
        let mut grid = Self::default();
        for (weekday, start_minute) in rows {
            let weekday = iso_weekday(weekday)?;
            let minute = u16::try_from(start_minute)
                .map_err(|_| AvailabilityError::StartMinute(start_minute))?;
            grid.insert(weekday, minute)?;
        }
        Ok(grid)
    }

    /// Ticks one cell; `start_minute` counts from local midnight.
    pub fn insert(&mut self, weekday: Weekday, start_minute: u16) -> Result<(), AvailabilityError> {
        let cell =
            cell_of(start_minute).ok_or(AvailabilityError::StartMinute(i32::from(start_minute)))?;
        self.days[day_index(weekday)] |= 1 << cell;
        Ok(())
    }

    pub fn contains(&self, weekday: Weekday, start_minute: u16) -> bool {
        cell_of(start_minute).is_some_and(|cell| self.mask(weekday) & (1 << cell) != 0)
    }

    /// The ticked local start minutes of one weekday, earliest first.
    pub fn starts_on(&self, weekday: Weekday) -> impl Iterator<Item = u16> + use<> {
        let mask = self.mask(weekday);
        (0..CELLS_PER_DAY)
            .filter(move |cell| mask & (1 << cell) != 0)
            .map(minute_of_cell)
    }

    pub fn is_empty(&self) -> bool {
        self.days.iter().all(|mask| *mask == 0)
    }

    fn mask(&self, weekday: Weekday) -> u32 {
        self.days[day_index(weekday)]
    }
}

/// Everything about an owner that decides *when* they can be booked, apart
/// from what blocks them (`Blocking`) and the company rules (`Window`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerAvailability {
    zone: Tz,
    grid: WeeklyGrid,
    slot_length: SlotLength,
}

impl OwnerAvailability {
    /// Infallible: the grid and the length are validated on their own.
    pub fn new(zone: Tz, grid: WeeklyGrid, slot_length: SlotLength) -> Self {
        Self {
            zone,
            grid,
            slot_length,
        }
    }

    pub fn zone(&self) -> Tz {
        self.zone
    }

    pub fn grid(&self) -> &WeeklyGrid {
        &self.grid
    }

    pub fn slot_length(&self) -> SlotLength {
        self.slot_length
    }

    /// Grid starts as UTC seconds in `[from, until)`, strictly ascending.
    pub(super) fn candidate_starts(
        &self,
        from: i64,
        until: i64,
        weekends_enabled: bool,
    ) -> CandidateStarts<'_> {
        let local_date = |secs: i64| {
            DateTime::<Utc>::from_timestamp(secs, 0)
                .map(|at| at.with_timezone(&self.zone).date_naive())
        };
        // Two days of margin each side: where a zone turns its clock back
        // across midnight (or repeats a whole day) a later instant can carry
        // an earlier local date. Extra days cost two zone look-ups each.
        let margin = |date: Option<NaiveDate>, days: i64| {
            date.and_then(|d| d.checked_add_signed(TimeDelta::days(days)))
        };
        let dates = match (margin(local_date(from), -2), margin(local_date(until), 2)) {
            (Some(first), Some(last)) if from < until => Some((first, last)),
            _ => None,
        };
        CandidateStarts {
            owner: self,
            next_date: dates.map(|(first, _)| first),
            last_date: dates.map_or(NaiveDate::MIN, |(_, last)| last),
            weekends_enabled,
            from,
            until,
            day: DayStarts::default(),
        }
    }

    /// The UTC starts of one local day, via the zone twice when the offset is
    /// the same at the first and last ticked cell (every day but DST days),
    /// else per cell: a start in a gap is dropped, one in an overlap taken at
    /// its earlier instant.
    ///
    /// The shortcut assumes no day holds two offset changes within 07:00–21:00
    /// that cancel out. A one-off scan of every chrono-tz 0.10 zone for every
    /// day of 1900–2039 found the shortcut equal to per-cell conversion
    /// everywhere; the tests below and the property tests keep comparing.
    fn fill_day(&self, date: NaiveDate, weekends_enabled: bool, day: &mut DayStarts) {
        day.len = 0;
        day.pos = 0;
        let weekday = date.weekday();
        let mask = self.grid.mask(weekday);
        if mask == 0 || (!weekends_enabled && matches!(weekday, Weekday::Sat | Weekday::Sun)) {
            return;
        }
        let first_cell = mask.trailing_zeros() as usize;
        let last_cell = (u32::BITS - 1 - mask.leading_zeros()) as usize;
        let offset_at = |cell: usize| match local_at(date, cell)
            .map(|local| self.zone.offset_from_local_datetime(&local))
        {
            Some(MappedLocalTime::Single(offset)) => Some(offset.fix().local_minus_utc()),
            _ => None,
        };
        match (offset_at(first_cell), offset_at(last_cell)) {
            (Some(first), Some(last)) if first == last => {
                let midnight =
                    date.and_time(NaiveTime::MIN).and_utc().timestamp() - i64::from(first);
                for cell in cells(mask) {
                    day.push(midnight + i64::from(minute_of_cell(cell)) * 60);
                }
            }
            _ => {
                for cell in cells(mask) {
                    let earliest = local_at(date, cell)
                        .and_then(|local| self.zone.from_local_datetime(&local).earliest());
                    if let Some(start) = earliest {
                        day.push(start.timestamp());
                    }
                }
            }
        }
    }
}

/// Lazily walks the owner's local days and yields their grid starts as UTC
/// seconds inside the window; no allocation.
#[derive(Debug)]
pub(super) struct CandidateStarts<'a> {
    owner: &'a OwnerAvailability,
    /// `None` once the walk is over.
    next_date: Option<NaiveDate>,
    last_date: NaiveDate,
    weekends_enabled: bool,
    from: i64,
    until: i64,
    day: DayStarts,
}

impl Iterator for CandidateStarts<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        loop {
            if let Some(start) = self.day.next() {
                if start < self.from {
                    continue;
                }
                if start >= self.until {
                    // Starts ascend, so nothing later can fit either.
                    self.next_date = None;
                    self.day = DayStarts::default();
                    return None;
                }
                return Some(start);
            }
            let date = self.next_date.filter(|date| *date <= self.last_date)?;
            self.next_date = date.succ_opt();
            self.owner
                .fill_day(date, self.weekends_enabled, &mut self.day);
        }
    }
}

/// One day's UTC starts, buffered in place.
#[derive(Debug, Clone, Copy)]
struct DayStarts {
    starts: [i64; CELLS_PER_DAY],
    len: usize,
    pos: usize,
}

impl Default for DayStarts {
    fn default() -> Self {
        Self {
            starts: [0; CELLS_PER_DAY],
            len: 0,
            pos: 0,
        }
    }
}

impl DayStarts {
    fn push(&mut self, start: i64) {
        if let Some(slot) = self.starts.get_mut(self.len) {
            *slot = start;
            self.len += 1;
        }
    }
}

impl Iterator for DayStarts {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        let start = self.starts.get(self.pos..self.len)?.first().copied()?;
        self.pos += 1;
        Some(start)
    }
}

fn iso_weekday(iso: i32) -> Result<Weekday, AvailabilityError> {
    u8::try_from(iso)
        .ok()
        .filter(|n| (1..=7).contains(n))
        .and_then(|n| Weekday::try_from(n - 1).ok())
        .ok_or(AvailabilityError::Weekday(iso))
}

fn day_index(weekday: Weekday) -> usize {
    weekday.num_days_from_monday() as usize
}

fn cell_of(start_minute: u16) -> Option<usize> {
    let on_grid = (FIRST_START_MINUTE..=LAST_START_MINUTE).contains(&start_minute)
        && start_minute.is_multiple_of(START_STEP_MINUTES);
    on_grid.then(|| usize::from((start_minute - FIRST_START_MINUTE) / START_STEP_MINUTES))
}

fn minute_of_cell(cell: usize) -> u16 {
    // `cell < CELLS_PER_DAY` (29), so the cast never truncates.
    FIRST_START_MINUTE + START_STEP_MINUTES * cell as u16
}

/// The ticked cells of a day mask, earliest first.
fn cells(mask: u32) -> impl Iterator<Item = usize> {
    (0..CELLS_PER_DAY).filter(move |cell| mask & (1 << cell) != 0)
}

fn local_at(date: NaiveDate, cell: usize) -> Option<NaiveDateTime> {
    let seconds = u32::from(minute_of_cell(cell)) * 60;
    NaiveTime::from_num_seconds_from_midnight_opt(seconds, 0).map(|time| date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_accepts_the_database_range() {
        let grid = WeeklyGrid::from_rows([(1, 420), (7, 1260), (3, 750), (3, 750)]).unwrap();
        assert!(grid.contains(Weekday::Mon, 420));
        assert!(grid.contains(Weekday::Sun, 1260));
        assert_eq!(grid.starts_on(Weekday::Wed).collect::<Vec<_>>(), [750]);
        assert_eq!(grid.starts_on(Weekday::Tue).count(), 0);
        assert!(!grid.is_empty());
        assert!(WeeklyGrid::default().is_empty());
    }

    #[test]
    fn grid_rejects_off_grid_values() {
        let cases = [
            ((0, 600), AvailabilityError::Weekday(0)),
            ((8, 600), AvailabilityError::Weekday(8)),
            ((-1, 600), AvailabilityError::Weekday(-1)),
            ((1, 390), AvailabilityError::StartMinute(390)),
            ((1, 1290), AvailabilityError::StartMinute(1290)),
            ((1, 435), AvailabilityError::StartMinute(435)),
            ((1, -30), AvailabilityError::StartMinute(-30)),
            ((1, 70_000), AvailabilityError::StartMinute(70_000)),
        ];
        for (row, expected) in cases {
            assert_eq!(WeeklyGrid::from_rows([row]), Err(expected), "{row:?}");
        }
    }

    #[test]
    fn slot_length_accepts_multiples_of_15_up_to_8_hours() {
        for ok in [15, 60, 90, 480] {
            assert_eq!(
                SlotLength::from_minutes(ok).map(SlotLength::minutes),
                Ok(ok as u16)
            );
        }
        for bad in [0, 10, 20, 495, -15, 100_000] {
            assert_eq!(
                SlotLength::from_minutes(bad),
                Err(AvailabilityError::SlotLength(bad))
            );
        }
        assert_eq!(SlotLength::default().duration(), TimeDelta::hours(1));
    }

    #[test]
    fn every_grid_cell_round_trips() {
        let all: Vec<u16> = (0..CELLS_PER_DAY).map(minute_of_cell).collect();
        assert_eq!(all.first(), Some(&FIRST_START_MINUTE));
        assert_eq!(all.last(), Some(&LAST_START_MINUTE));
        for (cell, minute) in all.iter().enumerate() {
            assert_eq!(cell_of(*minute), Some(cell));
        }
    }

    /// The two-look-ups shortcut against a per-cell conversion, every day of
    /// several years, in zones with DST at both hemispheres, half-hour DST
    /// (Lord Howe), odd offsets, a skipped day (Apia, 2011), a doubled day
    /// (Apia 1892, Alaska 1867) and a change at noon (US railway time, 1883).
    #[test]
    fn day_shortcut_matches_per_cell_conversion() {
        let zones = [
            Tz::Europe__Berlin,
            Tz::America__New_York,
            Tz::Europe__Moscow,
            Tz::Australia__Sydney,
            Tz::Australia__Lord_Howe,
            Tz::America__Santiago,
            Tz::Asia__Beirut,
            Tz::America__Havana,
            Tz::Pacific__Apia,
            Tz::Asia__Kathmandu,
            Tz::America__Anchorage,
            Tz::America__Chicago,
        ];
        let full = WeeklyGrid {
            days: [(1 << CELLS_PER_DAY) - 1; 7],
        };
        for zone in zones {
            let owner = OwnerAvailability::new(zone, full, SlotLength::DEFAULT);
            let mut day = DayStarts::default();
            for year in [1867, 1883, 1892, 2011, 2012, 2024, 2025, 2026, 2027] {
                let mut date = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
                while date.year() == year {
                    owner.fill_day(date, true, &mut day);
                    let fast: Vec<i64> = day.collect();
                    let slow: Vec<i64> = (0..CELLS_PER_DAY)
                        .filter_map(|cell| {
                            zone.from_local_datetime(&local_at(date, cell).unwrap())
                                .earliest()
                                .map(|at| at.timestamp())
                        })
                        .collect();
                    assert_eq!(fast, slow, "{zone} {date}");
                    date = date.succ_opt().unwrap();
                }
            }
        }
    }
}
