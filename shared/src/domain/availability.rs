//! Owner availability as the owner edits it in `/availability`: the
//! half-hour start grid of one day (a draft until saved), the slot lengths
//! offered, blocked periods typed as text in the owner's zone, the
//! 15-minute cells a period claims, and the data of every `av:` button.
//!
//! ```text
//! owner: /availability
//! bot:   🗓 Your availability … Mon: 10:00, 10:30 … [Mon] … [⏱ Slot length] [🚫 Blocked time]
//! owner: (presses Mon, ticks 11:00)                      → av:day:1, av:t:1:660
//! owner: (presses 💾 Save)                               → av:save:1
//! owner: (presses 🚫 Blocked time, ➕ Add)                → av:blk, av:blk:add
//! owner: 24.12.2026 – 02.01.2027 Vacation
//! bot:   ✅ Blocked: 24.12.2026 – 02.01.2027 · Vacation
//! ```
//!
//! How the booking flow reads what is stored here: `shared::db::availability`
//! and `shared::db::blocked_periods`; free slots: `shared::domain::slots`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::db::types::BlockedPeriodId;
use crate::domain::registration::MAX_CALLBACK_BYTES;
pub use crate::domain::slots::{
    FIRST_START_MINUTE, LAST_START_MINUTE, START_STEP_MINUTES, SlotLength, WeeklyGrid,
};

/// Start times on one day's grid: 07:00, 07:30, …, 21:00.
pub const STARTS_PER_DAY: usize =
    ((LAST_START_MINUTE - FIRST_START_MINUTE) / START_STEP_MINUTES + 1) as usize;

/// The slot lengths offered as buttons, in minutes (the database accepts any
/// multiple of 15 up to 480; these are the ones people actually use).
pub const SLOT_LENGTH_CHOICES: [u16; 6] = [15, 30, 45, 60, 90, 120];

/// Every start time of a day's grid, earliest first, as minutes from local
/// midnight.
pub fn grid_starts() -> impl Iterator<Item = u16> {
    (FIRST_START_MINUTE..=LAST_START_MINUTE).step_by(usize::from(START_STEP_MINUTES))
}

/// `HH:MM` of a minute of the day (`600` → `10:00`).
pub fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// The ISO number of a weekday (Monday = 1), as stored and in button data.
pub fn iso_number(weekday: Weekday) -> u8 {
    // 1..=7 always fits.
    weekday.number_from_monday() as u8
}

/// The weekday of an ISO number; `None` outside 1..=7.
pub fn weekday_of(iso: u8) -> Option<Weekday> {
    (1..=7)
        .contains(&iso)
        .then(|| Weekday::try_from(iso - 1).ok())
        .flatten()
}

/// Monday to Sunday.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// The working days "Copy to Mon–Fri" writes.
pub const WORKING_DAYS: [Weekday; 5] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// The chosen start times of one day: a validated set (only grid times can
/// be in it), kept while the owner toggles and written at once on "Save".
/// Stored in the dialogue as a list of minutes (`[600, 630]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<u16>", into = "Vec<u16>")]
pub struct DayStarts {
    /// Bit `i` is `FIRST_START_MINUTE + 30 * i`.
    mask: u32,
}

/// A start minute that is not on the 07:00–21:00 half-hour grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not a start minute of the 07:00–21:00 half-hour grid")]
pub struct OffGrid(pub u16);

impl DayStarts {
    /// The starts of `weekday` in a stored weekly grid.
    pub fn of(grid: &WeeklyGrid, weekday: Weekday) -> Self {
        let mut day = Self::default();
        for minute in grid.starts_on(weekday) {
            if let Some(cell) = cell_of(minute) {
                day.mask |= 1 << cell;
            }
        }
        day
    }

    /// Chosen or not?
    pub fn contains(&self, minute: u16) -> bool {
        cell_of(minute).is_some_and(|cell| self.mask & (1 << cell) != 0)
    }

    /// Flips one start time; off-grid minutes are refused.
    pub fn toggle(&mut self, minute: u16) -> Result<(), OffGrid> {
        let cell = cell_of(minute).ok_or(OffGrid(minute))?;
        self.mask ^= 1 << cell;
        Ok(())
    }

    /// The chosen minutes, earliest first.
    pub fn minutes(&self) -> Vec<u16> {
        grid_starts().filter(|m| self.contains(*m)).collect()
    }

    /// The chosen times as `HH:MM`, earliest first.
    pub fn times(&self) -> Vec<String> {
        self.minutes().into_iter().map(hhmm).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.mask == 0
    }
}

impl TryFrom<Vec<u16>> for DayStarts {
    type Error = OffGrid;

    fn try_from(minutes: Vec<u16>) -> Result<Self, OffGrid> {
        let mut day = Self::default();
        for minute in minutes {
            let cell = cell_of(minute).ok_or(OffGrid(minute))?;
            day.mask |= 1 << cell;
        }
        Ok(day)
    }
}

impl From<DayStarts> for Vec<u16> {
    fn from(day: DayStarts) -> Self {
        day.minutes()
    }
}

fn cell_of(minute: u16) -> Option<usize> {
    let on_grid = (FIRST_START_MINUTE..=LAST_START_MINUTE).contains(&minute)
        && minute.is_multiple_of(START_STEP_MINUTES);
    on_grid.then(|| usize::from((minute - FIRST_START_MINUTE) / START_STEP_MINUTES))
}

/// A button of `/availability`. The data is `av:` + what
/// [`AvailabilityCallback::data`] writes; [`AvailabilityCallback::parse`]
/// accepts exactly those strings (canonical numbers, no extra fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailabilityCallback {
    /// `av:home`: the week overview (also "Back" from a day, dropping an
    /// unsaved draft).
    Overview,
    /// `av:day:<1-7>`: a day's grid; starts a draft from what is stored.
    Day(Weekday),
    /// `av:t:<1-7>:<minute>`: flips one start time in that day's draft.
    Toggle(Weekday, u16),
    /// `av:save:<1-7>`: writes the day's draft.
    Save(Weekday),
    /// `av:clear:<1-7>`: empties the day's draft (not saved yet).
    Clear(Weekday),
    /// `av:copy:<1-7>`: writes the day's draft to Monday–Friday.
    CopyToWorkingDays(Weekday),
    /// `av:len`: the slot length choice.
    SlotLengths,
    /// `av:len:<minutes>`: one of [`SLOT_LENGTH_CHOICES`].
    SetSlotLength(SlotLength),
    /// `av:blk`: the blocked periods ahead.
    Blocks,
    /// `av:blk:add`: asks for a new blocked period.
    AddBlock,
    /// `av:blk:rm:<id>`: removes a blocked period (ownership checked then).
    RemoveBlock(BlockedPeriodId),
}

/// The prefix of every availability button's data (stripped by the router).
pub const PREFIX: &str = "av:";

impl AvailabilityCallback {
    /// Reads what follows `av:`; `None` for anything [`Self::data`] would
    /// not write, byte for byte.
    pub fn parse(rest: &str) -> Option<Self> {
        if rest.len() + PREFIX.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        let parsed = Self::read(rest)?;
        // Canonical form only: no `+5`, `05`, or padding that a lenient
        // number parser would let through.
        (parsed.data().get(PREFIX.len()..) == Some(rest)).then_some(parsed)
    }

    fn read(rest: &str) -> Option<Self> {
        let fields: Vec<&str> = rest.split(':').collect();
        let day = |field: &str| field.parse::<u8>().ok().and_then(weekday_of);
        Some(match fields.as_slice() {
            ["home"] => Self::Overview,
            ["len"] => Self::SlotLengths,
            ["blk"] => Self::Blocks,
            ["blk", "add"] => Self::AddBlock,
            ["day", d] => Self::Day(day(d)?),
            ["save", d] => Self::Save(day(d)?),
            ["clear", d] => Self::Clear(day(d)?),
            ["copy", d] => Self::CopyToWorkingDays(day(d)?),
            ["t", d, minute] => {
                let minute = minute
                    .parse::<u16>()
                    .ok()
                    .filter(|m| cell_of(*m).is_some())?;
                Self::Toggle(day(d)?, minute)
            }
            ["len", minutes] => {
                let minutes = minutes
                    .parse::<u16>()
                    .ok()
                    .filter(|m| SLOT_LENGTH_CHOICES.contains(m))?;
                Self::SetSlotLength(SlotLength::from_minutes(i32::from(minutes)).ok()?)
            }
            ["blk", "rm", id] => {
                let id = id.parse::<i64>().ok().filter(|id| *id > 0)?;
                Self::RemoveBlock(BlockedPeriodId(id))
            }
            _ => return None,
        })
    }

    /// The full callback data, `av:` included.
    pub fn data(&self) -> String {
        let rest = match self {
            Self::Overview => "home".to_owned(),
            Self::Day(d) => format!("day:{}", iso_number(*d)),
            Self::Toggle(d, minute) => format!("t:{}:{minute}", iso_number(*d)),
            Self::Save(d) => format!("save:{}", iso_number(*d)),
            Self::Clear(d) => format!("clear:{}", iso_number(*d)),
            Self::CopyToWorkingDays(d) => format!("copy:{}", iso_number(*d)),
            Self::SlotLengths => "len".to_owned(),
            Self::SetSlotLength(length) => format!("len:{}", length.minutes()),
            Self::Blocks => "blk".to_owned(),
            Self::AddBlock => "blk:add".to_owned(),
            Self::RemoveBlock(id) => format!("blk:rm:{id}"),
        };
        format!("{PREFIX}{rest}")
    }
}

/// Longest reason kept with a blocked period (the database allows 500).
pub const MAX_REASON_CHARS: usize = 200;
/// Longest blocked period.
pub const MAX_BLOCK_DAYS: i64 = 366;
/// How far ahead a blocked period may start: further is almost surely a
/// typo in the year, and no booking horizon reaches it.
pub const MAX_YEARS_AHEAD: i64 = 2;

/// A blocked period as the owner typed it, validated and resolved to UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRequest {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Trimmed, runs of white space folded to one space; may be empty.
    pub reason: String,
}

/// Why a typed blocked period was refused, so the owner can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("nothing was typed")]
    Empty,
    #[error("not of the form `FROM – TO reason`")]
    Format,
    #[error("no such day in the calendar")]
    NoSuchDate,
    #[error("no such time of day")]
    NoSuchTime,
    #[error("the end is not after the start")]
    EndNotAfterStart,
    #[error("the period is over")]
    Past,
    #[error("longer than {MAX_BLOCK_DAYS} days")]
    TooLong,
    #[error("starts more than {MAX_YEARS_AHEAD} years ahead")]
    TooFarAhead,
    #[error("the reason has {chars} characters; at most {MAX_REASON_CHARS} are allowed")]
    ReasonTooLong { chars: usize },
    #[error("the reason contains control characters")]
    ReasonCharacters,
}

/// A point typed by the owner: a date, with a time or without (a date alone
/// means the start of that day as a start, its end as an end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Moment {
    date: NaiveDate,
    time: Option<NaiveTime>,
}

/// Reads `FROM – TO [reason]` in the owner's `zone`:
///
/// - a point is `DD.MM.YYYY` or `YYYY-MM-DD`, optionally followed by
///   `HH:MM`; the end may also be a time alone (same date as the start):
///   `24.12.2026 14:00 – 18:00 Doctor`;
/// - the dash is `–`, `—`, `−`, or `-` (spaced, or right after a dotted
///   date or a time);
/// - a start date without a time is the start of that day, an end date
///   without a time the end of that day (`24.12 – 24.12` is one whole day),
///   and a single date without a dash is that whole day;
/// - the rest is the reason (a leading `,` `;` `:` is dropped).
///
/// DST: a local time that does not exist (spring gap) means the first
/// instant after the gap, i.e. the moment the clocks jump — the earliest
/// instant that is at or after what was typed; a local time that happens
/// twice (autumn) means the earlier instant. So a typed day always covers
/// the whole local day, however long it is.
///
/// The period must end after it starts, end after `now`, last at most
/// [`MAX_BLOCK_DAYS`] days and start at most [`MAX_YEARS_AHEAD`] years
/// ahead; the reason has at most [`MAX_REASON_CHARS`] characters.
pub fn parse_block(raw: &str, zone: Tz, now: DateTime<Utc>) -> Result<BlockRequest, BlockError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(BlockError::Empty);
    }
    let (from, to, reason) = read_range(text)?;
    let starts_at = resolve(
        zone,
        from.date.and_time(from.time.unwrap_or(NaiveTime::MIN)),
    )
    .ok_or(BlockError::NoSuchDate)?;
    let end_local = match to.time {
        Some(time) => to.date.and_time(time),
        None => to
            .date
            .succ_opt()
            .ok_or(BlockError::NoSuchDate)?
            .and_time(NaiveTime::MIN),
    };
    let ends_at = resolve(zone, end_local).ok_or(BlockError::NoSuchDate)?;
    if ends_at <= starts_at {
        return Err(BlockError::EndNotAfterStart);
    }
    if ends_at <= now {
        return Err(BlockError::Past);
    }
    if ends_at - starts_at > TimeDelta::days(MAX_BLOCK_DAYS) {
        return Err(BlockError::TooLong);
    }
    if starts_at - now > TimeDelta::days(366 * MAX_YEARS_AHEAD) {
        return Err(BlockError::TooFarAhead);
    }
    Ok(BlockRequest {
        starts_at,
        ends_at,
        reason: clean_reason(reason)?,
    })
}

/// Splits the text into its two points and the reason.
fn read_range(text: &str) -> Result<(Moment, Moment, &str), BlockError> {
    if let Some((left, right)) = split_at_dash(text) {
        match exact_moment(left.trim()) {
            Ok(from) => {
                let (to, reason) = leading_moment(right.trim_start(), Some(from.date))?;
                return Ok((from, to, reason));
            }
            // `25.12.2026 Christmas – family`: the dash belongs to the reason.
            Err(error) => {
                return match single_day(text) {
                    Some(day) => Ok(day),
                    None => Err(error),
                };
            }
        }
    }
    single_day(text).ok_or(BlockError::Format)
}

/// `DD.MM.YYYY [reason]`: that whole day.
fn single_day(text: &str) -> Option<(Moment, Moment, &str)> {
    let (token, rest) = next_token(text);
    let date = parse_date(token).ok()?;
    let (next, _) = next_token(rest.trim_start());
    if time_shaped(next) {
        // A start time without an end.
        return None;
    }
    let day = Moment { date, time: None };
    Some((day, day, rest))
}

/// A point and nothing else.
fn exact_moment(text: &str) -> Result<Moment, BlockError> {
    let (moment, rest) = leading_moment(text, None)?;
    if rest.trim().is_empty() {
        Ok(moment)
    } else {
        Err(BlockError::Format)
    }
}

/// A point at the start of `text`, and what follows it. With `same_date`,
/// a time alone is accepted (on that date).
fn leading_moment(text: &str, same_date: Option<NaiveDate>) -> Result<(Moment, &str), BlockError> {
    let (token, rest) = next_token(text);
    if let (Some(date), true) = (same_date, time_shaped(token)) {
        let time = parse_time(token)?;
        return Ok((
            Moment {
                date,
                time: Some(time),
            },
            rest,
        ));
    }
    let date = parse_date(token)?;
    let (next, after) = next_token(rest.trim_start());
    if time_shaped(next) {
        let time = parse_time(next)?;
        return Ok((
            Moment {
                date,
                time: Some(time),
            },
            after,
        ));
    }
    Ok((Moment { date, time: None }, rest))
}

/// The first white-space separated word (a trailing `,` `;` or `:` cut
/// off) and the text after it.
fn next_token(text: &str) -> (&str, &str) {
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let (token, rest) = text.split_at(end);
    (token.trim_end_matches([',', ';', ':']), rest)
}

/// The range dash: `–`, `—`, `−` anywhere; `-` when spaced, or right after
/// a dotted date or a time (`24.12.2026-02.01.2027`, `14:00-18:00`) —
/// never inside an ISO date.
fn split_at_dash(text: &str) -> Option<(&str, &str)> {
    for (at, c) in text.char_indices() {
        let after = at + c.len_utf8();
        let dash = match c {
            '–' | '—' | '−' => true,
            '-' => {
                let word_start = text[..at]
                    .char_indices()
                    .rev()
                    .find(|(_, c)| c.is_whitespace())
                    .map_or(0, |(i, c)| i + c.len_utf8());
                let word = &text[word_start..at];
                let spaced =
                    word.is_empty() && text[after..].chars().next().is_none_or(char::is_whitespace);
                spaced || (!word.is_empty() && word.contains(['.', ':']))
            }
            _ => false,
        };
        if dash {
            return Some((&text[..at], &text[after..]));
        }
    }
    None
}

/// `DD.MM.YYYY` (one-digit day and month allowed) or `YYYY-MM-DD`.
fn parse_date(token: &str) -> Result<NaiveDate, BlockError> {
    let parts: Vec<&str> = if token.contains('.') {
        token.split('.').rev().collect()
    } else {
        token.split('-').collect()
    };
    let [year, month, day] = parts.as_slice() else {
        return Err(BlockError::Format);
    };
    let year = digits(year, 4, 4)?;
    let month = digits(month, 1, 2)?;
    let day = digits(day, 1, 2)?;
    let year = i32::try_from(year).map_err(|_| BlockError::Format)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(BlockError::NoSuchDate)
}

/// `H:MM` or `HH:MM`, 00:00 to 23:59.
fn parse_time(token: &str) -> Result<NaiveTime, BlockError> {
    let (hour, minute) = token.split_once(':').ok_or(BlockError::Format)?;
    let hour = digits(hour, 1, 2)?;
    let minute = digits(minute, 2, 2)?;
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or(BlockError::NoSuchTime)
}

fn time_shaped(token: &str) -> bool {
    token.split_once(':').is_some_and(|(h, m)| {
        !h.is_empty() && !m.is_empty() && (h.len() + m.len()) <= 4 && {
            let all = [h, m];
            all.iter()
                .all(|part| part.bytes().all(|b| b.is_ascii_digit()))
        }
    })
}

fn digits(text: &str, min: usize, max: usize) -> Result<u32, BlockError> {
    let ok = (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(BlockError::Format);
    }
    text.parse().map_err(|_| BlockError::Format)
}

/// The reason: separators before it dropped, white space folded, control
/// characters refused, at most [`MAX_REASON_CHARS`].
fn clean_reason(raw: &str) -> Result<String, BlockError> {
    let text = raw.trim_start().trim_start_matches([',', ';', ':']).trim();
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(BlockError::ReasonCharacters);
    }
    let reason = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(BlockError::ReasonTooLong { chars });
    }
    Ok(reason)
}

/// The instant a local wall-clock time means in `zone`: the earlier one
/// when it happens twice; when it does not exist (a DST gap), the first
/// instant after the gap. `None` only past the end of the calendar.
pub fn resolve(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(at) = zone.from_local_datetime(&local).earliest() {
        return Some(at.with_timezone(&Utc));
    }
    // Gaps are at most a day long (Apia skipped 30.12.2011); the first
    // local minute that exists again is where the clocks landed (to the
    // minute: every present-day transition is on a whole minute).
    let mut probe = local;
    for _ in 0..(25 * 60) {
        probe = probe.checked_add_signed(TimeDelta::minutes(1))?;
        if let Some(at) = zone.from_local_datetime(&probe).earliest() {
            return Some(at.with_timezone(&Utc));
        }
    }
    None
}

/// Length of the cells of `slot_claims`.
pub const CELL_MINUTES: i64 = 15;

/// The 15-minute cells a period `[starts_at, ends_at)` covers, as their
/// UTC starts (:00, :15, :30, :45), the range rounded outward. A period
/// that touches a cell only at its edge does not take it, so back-to-back
/// periods do not collide.
pub fn covered_cells(
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> impl Iterator<Item = DateTime<Utc>> {
    let cell = CELL_MINUTES * 60;
    let first = starts_at.timestamp().div_euclid(cell) * cell;
    let end = ends_at.timestamp();
    let last = if end.rem_euclid(cell) == 0 && ends_at.timestamp_subsec_nanos() == 0 {
        end
    } else {
        (end.div_euclid(cell) + 1) * cell
    };
    (first..last)
        .step_by(usize::try_from(cell).unwrap_or(900))
        .filter_map(|at| DateTime::from_timestamp(at, 0))
}

/// A period as the owner reads it in `zone`: whole local days as dates
/// (`24.12.2026 – 02.01.2027`, the end day inclusive; one day alone),
/// otherwise with times (`24.12.2026 14:00 – 18:00`,
/// `24.12.2026 14:00 – 25.12.2026 09:00`).
pub fn format_period(starts_at: DateTime<Utc>, ends_at: DateTime<Utc>, zone: Tz) -> String {
    let from = starts_at.with_timezone(&zone).naive_local();
    let to = ends_at.with_timezone(&zone).naive_local();
    let date = |d: NaiveDate| d.format("%d.%m.%Y").to_string();
    let whole_days = from.time() == NaiveTime::MIN && to.time() == NaiveTime::MIN;
    if whole_days {
        let last_day = to.date().pred_opt().unwrap_or(to.date());
        if last_day <= from.date() {
            return date(from.date());
        }
        return format!("{} – {}", date(from.date()), date(last_day));
    }
    let time = |t: NaiveDateTime| t.format("%H:%M").to_string();
    if from.date() == to.date() {
        format!("{} {} – {}", date(from.date()), time(from), time(to))
    } else {
        format!(
            "{} {} – {} {}",
            date(from.date()),
            time(from),
            date(to.date()),
            time(to)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn moscow() -> Tz {
        chrono_tz::Europe::Moscow
    }

    fn now() -> DateTime<Utc> {
        utc(2026, 11, 25, 9, 0)
    }

    #[test]
    fn the_grid_has_29_starts_from_7_to_21() {
        let all: Vec<u16> = grid_starts().collect();
        assert_eq!(all.len(), STARTS_PER_DAY);
        assert_eq!(STARTS_PER_DAY, 29);
        assert_eq!(all.first().copied().map(hhmm).as_deref(), Some("07:00"));
        assert_eq!(all.last().copied().map(hhmm).as_deref(), Some("21:00"));
        assert_eq!(hhmm(630), "10:30");
    }

    #[test]
    fn weekdays_are_iso_numbers() {
        for (i, day) in WEEK.iter().enumerate() {
            let iso = u8::try_from(i + 1).unwrap();
            assert_eq!(iso_number(*day), iso);
            assert_eq!(weekday_of(iso), Some(*day));
        }
        assert_eq!(weekday_of(0), None);
        assert_eq!(weekday_of(8), None);
    }

    #[test]
    fn a_day_draft_toggles_only_grid_times_and_stores_as_minutes() {
        let mut day = DayStarts::default();
        day.toggle(600).unwrap();
        day.toggle(420).unwrap();
        day.toggle(1260).unwrap();
        day.toggle(420).unwrap();
        assert_eq!(day.minutes(), [600, 1260]);
        assert_eq!(day.times(), ["10:00", "21:00"]);
        assert_eq!(day.toggle(615), Err(OffGrid(615)));
        assert_eq!(day.toggle(390), Err(OffGrid(390)));
        assert_eq!(day.toggle(1290), Err(OffGrid(1290)));
        let json = serde_json::to_string(&day).unwrap();
        assert_eq!(json, "[600,1260]");
        assert_eq!(serde_json::from_str::<DayStarts>(&json).unwrap(), day);
        assert!(serde_json::from_str::<DayStarts>("[601]").is_err());
        assert!(serde_json::from_str::<DayStarts>("[-30]").is_err());

        let grid = WeeklyGrid::from_rows([(1, 600), (1, 660), (2, 420)]).unwrap();
        assert_eq!(DayStarts::of(&grid, Weekday::Mon).minutes(), [600, 660]);
        assert!(DayStarts::of(&grid, Weekday::Sun).is_empty());
    }

    #[test]
    fn every_button_round_trips() {
        let mut all = vec![
            AvailabilityCallback::Overview,
            AvailabilityCallback::SlotLengths,
            AvailabilityCallback::Blocks,
            AvailabilityCallback::AddBlock,
            AvailabilityCallback::RemoveBlock(BlockedPeriodId(1)),
            AvailabilityCallback::RemoveBlock(BlockedPeriodId(i64::MAX)),
        ];
        for day in WEEK {
            all.extend([
                AvailabilityCallback::Day(day),
                AvailabilityCallback::Save(day),
                AvailabilityCallback::Clear(day),
                AvailabilityCallback::CopyToWorkingDays(day),
            ]);
            all.extend(grid_starts().map(|m| AvailabilityCallback::Toggle(day, m)));
        }
        for minutes in SLOT_LENGTH_CHOICES {
            let length = SlotLength::from_minutes(i32::from(minutes)).unwrap();
            all.push(AvailabilityCallback::SetSlotLength(length));
        }
        for press in all {
            let data = press.data();
            assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
            let rest = data.strip_prefix(PREFIX).unwrap();
            assert_eq!(AvailabilityCallback::parse(rest), Some(press), "{data}");
        }
        assert_eq!(
            AvailabilityCallback::Toggle(Weekday::Wed, 630).data(),
            "av:t:3:630"
        );
        assert_eq!(
            AvailabilityCallback::RemoveBlock(BlockedPeriodId(42)).data(),
            "av:blk:rm:42"
        );
    }

    #[test]
    fn garbage_and_near_misses_are_refused() {
        let long = format!("blk:rm:{}", "1".repeat(70));
        for rest in [
            "",
            "home:",
            ":home",
            "home:1",
            "HOME",
            " home",
            "day",
            "day:0",
            "day:8",
            "day:01",
            "day:+1",
            "day:1:2",
            "day:-1",
            "day:mon",
            "t:1",
            "t:1:600:1",
            "t:1:615",
            "t:1:390",
            "t:1:1290",
            "t:1:0600",
            "t:1:+600",
            "t:9:600",
            "save:",
            "save:1:x",
            "clear:7:",
            "copy:",
            "back",
            "back:1",
            "len:0",
            "len:75",
            "len:060",
            "len:480",
            "len:60:1",
            "blk:add:1",
            "blk:rm",
            "blk:rm:",
            "blk:rm:0",
            "blk:rm:-5",
            "blk:rm:05",
            "blk:rm:1:2",
            "blk:rm:9223372036854775808",
            "blk:rm:1e3",
            long.as_str(),
            "t:1:6\u{0}00",
            "день:1",
        ] {
            assert_eq!(AvailabilityCallback::parse(rest), None, "{rest:?}");
        }
    }

    fn parsed(text: &str, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>, String) {
        let block = parse_block(text, zone, now()).unwrap_or_else(|e| panic!("{text}: {e}"));
        (block.starts_at, block.ends_at, block.reason)
    }

    #[test]
    fn whole_days_run_from_midnight_to_the_end_of_the_last_day() {
        let expected = (
            utc(2026, 12, 23, 21, 0),
            utc(2027, 1, 2, 21, 0),
            "Vacation".to_owned(),
        );
        for text in [
            "24.12.2026 – 02.01.2027 Vacation",
            "24.12.2026—02.01.2027 Vacation",
            "24.12.2026-02.01.2027 Vacation",
            "24.12.2026 - 02.01.2027,  Vacation ",
            "2026-12-24 – 2027-01-02 Vacation",
            "2026-12-24 - 2027-01-02: Vacation",
            "  24.12.2026 − 2.1.2027\nVacation",
        ] {
            assert_eq!(parsed(text, moscow()), expected, "{text}");
        }
        // One date alone is that whole day; a dash in the reason stays.
        assert_eq!(
            parsed("25.12.2026 Christmas – family", moscow()),
            (
                utc(2026, 12, 24, 21, 0),
                utc(2026, 12, 25, 21, 0),
                "Christmas – family".to_owned()
            )
        );
        assert_eq!(
            parsed("25.12.2026", chrono_tz::UTC),
            (
                utc(2026, 12, 25, 0, 0),
                utc(2026, 12, 26, 0, 0),
                String::new()
            )
        );
    }

    #[test]
    fn times_are_read_in_the_owners_zone() {
        let expected = (
            utc(2026, 12, 24, 11, 0),
            utc(2026, 12, 24, 15, 0),
            "Doctor".to_owned(),
        );
        for text in [
            "24.12.2026 14:00 – 24.12.2026 18:00 Doctor",
            "24.12.2026 14:00 – 18:00 Doctor",
            "24.12.2026 14:00-18:00 Doctor",
            "2026-12-24 14:00 - 2026-12-24 18:00 Doctor",
        ] {
            assert_eq!(parsed(text, moscow()), expected, "{text}");
        }
        let (start, end, reason) = parsed(
            "24.12.2026 9:30 – 25.12.2026 <b>Tom & Jerry</b> 😀 שלום",
            chrono_tz::America::New_York,
        );
        assert_eq!(start, utc(2026, 12, 24, 14, 30));
        assert_eq!(end, utc(2026, 12, 26, 5, 0));
        assert_eq!(reason, "<b>Tom & Jerry</b> 😀 שלום");
        let (start, _, _) = parsed("24.12.2026 10:00 – 11:00", chrono_tz::Asia::Kolkata);
        assert_eq!(start, utc(2026, 12, 24, 4, 30));
    }

    #[test]
    fn dst_days_resolve_to_the_earliest_valid_instant() {
        let berlin = chrono_tz::Europe::Berlin;
        // 28.03.2027: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
        let (start, end, _) = parsed("28.03.2027 02:30 – 28.03.2027 04:00", berlin);
        assert_eq!(start, utc(2027, 3, 28, 1, 0), "the moment the clocks jump");
        assert_eq!(end, utc(2027, 3, 28, 2, 0));
        // The whole spring day lasts 23 hours.
        let (start, end, _) = parsed("28.03.2027", berlin);
        assert_eq!(
            (start, end),
            (utc(2027, 3, 27, 23, 0), utc(2027, 3, 28, 22, 0))
        );
        // 31.10.2027: 02:30 happens twice; the earlier (CEST) instant wins.
        let (start, _, _) = parsed("31.10.2027 02:30 – 31.10.2027 05:00", berlin);
        assert_eq!(start, utc(2027, 10, 31, 0, 30));
        // The whole autumn day lasts 25 hours.
        let (start, end, _) = parsed("31.10.2027", berlin);
        assert_eq!(
            (start, end),
            (utc(2027, 10, 30, 22, 0), utc(2027, 10, 31, 23, 0))
        );
        // New York in spring: 02:00–03:00 is skipped.
        let ny = chrono_tz::America::New_York;
        let (start, _, _) = parsed("14.03.2027 02:15 – 14.03.2027 05:00", ny);
        assert_eq!(start, utc(2027, 3, 14, 7, 0));
        // A zone whose midnight is skipped (Santiago, 05.09.2027 00:00 → 01:00).
        let santiago = chrono_tz::America::Santiago;
        let (start, end, _) = parsed("05.09.2027", santiago);
        assert_eq!(start, utc(2027, 9, 5, 4, 0));
        assert_eq!(end, utc(2027, 9, 6, 3, 0));
    }

    #[test]
    fn resolve_lands_on_the_transition_in_a_gap() {
        let berlin = chrono_tz::Europe::Berlin;
        let local = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(2, 59, 0)
            .unwrap();
        assert_eq!(resolve(berlin, local), Some(utc(2026, 3, 29, 1, 0)));
    }

    #[test]
    fn bad_periods_say_why() {
        let long_reason = format!("24.12.2026 – 25.12.2026 {}", "a".repeat(5_000));
        let cases = [
            ("", BlockError::Empty),
            ("   \n", BlockError::Empty),
            ("tomorrow", BlockError::Format),
            ("😀😀😀", BlockError::Format),
            ("מחר – מחרתיים", BlockError::Format),
            ("<b>24.12.2026</b> – 25.12.2026", BlockError::Format),
            ("24.12.26 – 25.12.26", BlockError::Format),
            ("24.12.2026 14:00", BlockError::Format),
            ("24.12.2026 14:00 Doctor", BlockError::Format),
            ("24.12.2026 –", BlockError::Format),
            ("– 24.12.2026", BlockError::Format),
            ("31.02.2027 – 01.03.2027", BlockError::NoSuchDate),
            ("24.12.2026 – 31.13.2026", BlockError::NoSuchDate),
            ("24.12.2026 25:00 – 26.12.2026", BlockError::NoSuchTime),
            ("24.12.2026 14:60 – 26.12.2026", BlockError::NoSuchTime),
            ("25.12.2026 – 24.12.2026", BlockError::EndNotAfterStart),
            ("24.12.2026 18:00 – 14:00", BlockError::EndNotAfterStart),
            ("24.12.2026 14:00 – 14:00", BlockError::EndNotAfterStart),
            ("01.11.2026 – 20.11.2026 Past", BlockError::Past),
            ("25.11.2026 10:00 – 25.11.2026 12:00", BlockError::Past),
            ("01.12.2026 – 02.12.2027", BlockError::TooLong),
            ("01.12.2029 – 02.12.2029", BlockError::TooFarAhead),
            (
                long_reason.as_str(),
                BlockError::ReasonTooLong { chars: 5_000 },
            ),
            (
                "24.12.2026 – 25.12.2026 a\u{0}b",
                BlockError::ReasonCharacters,
            ),
        ];
        for (text, error) in cases {
            assert_eq!(parse_block(text, moscow(), now()), Err(error), "{text:?}");
        }
        // Exactly 366 days and exactly 200 characters are fine.
        assert!(parse_block("01.12.2026 – 01.12.2027", chrono_tz::UTC, now()).is_ok());
        let reason = "я".repeat(200);
        let block = parse_block(&format!("24.12.2026 {reason}"), moscow(), now()).unwrap();
        assert_eq!(block.reason, reason);
        // A period under way (started, not over) is accepted.
        assert!(parse_block("20.11.2026 – 30.11.2026", moscow(), now()).is_ok());
    }

    #[test]
    fn any_white_space_separates_words() {
        // No-break and ideographic spaces are several bytes long.
        for text in [
            "24.12.2026\u{a0}-\u{a0}25.12.2026\u{3000}Trip",
            "24.12.2026\u{3000}- 25.12.2026 Trip",
        ] {
            let (_, _, reason) = parsed(text, moscow());
            assert_eq!(reason, "Trip", "{text:?}");
        }
        assert_eq!(
            parse_block("\u{3000}-\u{a0}-", moscow(), now()),
            Err(BlockError::Format)
        );
    }

    proptest::proptest! {
        #[test]
        fn typed_text_never_panics(text in "\\PC{0,80}") {
            let _ = parse_block(&text, moscow(), now());
        }

        #[test]
        fn ranges_with_any_separators_never_panic(
            a in "[0-9.:\\- \u{a0}\u{3000}–]{0,30}",
            b in "[0-9.:\\- \u{a0}\u{3000}–a-z]{0,30}",
        ) {
            let _ = parse_block(&format!("{a}{b}"), chrono_tz::America::Santiago, now());
        }

        #[test]
        fn button_data_never_panics_and_what_parses_round_trips(rest in "\\PC{0,70}") {
            if let Some(press) = AvailabilityCallback::parse(&rest) {
                proptest::prop_assert_eq!(press.data(), format!("{PREFIX}{rest}"));
            }
        }
    }

    #[test]
    fn cells_round_outward_to_quarter_hours() {
        let cells: Vec<_> =
            covered_cells(utc(2026, 12, 24, 10, 7), utc(2026, 12, 24, 10, 31)).collect();
        assert_eq!(
            cells,
            [
                utc(2026, 12, 24, 10, 0),
                utc(2026, 12, 24, 10, 15),
                utc(2026, 12, 24, 10, 30)
            ]
        );
        let exact: Vec<_> =
            covered_cells(utc(2026, 12, 24, 10, 0), utc(2026, 12, 24, 11, 0)).collect();
        assert_eq!(exact.len(), 4);
        let day = covered_cells(utc(2026, 12, 23, 21, 0), utc(2026, 12, 24, 21, 0)).count();
        assert_eq!(day, 96);
        // India's half-hour offset: local midnight is on a cell edge too.
        let (start, end, _) = parsed("24.12.2026", chrono_tz::Asia::Kolkata);
        assert_eq!(covered_cells(start, end).count(), 96);
        // Nepal (+5:45) as well.
        let (start, end, _) = parsed("24.12.2026", chrono_tz::Asia::Kathmandu);
        assert_eq!(covered_cells(start, end).count(), 96);
        let odd = Utc.timestamp_opt(1_800_000_000, 500).unwrap();
        assert_eq!(covered_cells(odd, odd + TimeDelta::minutes(15)).count(), 2);
    }

    #[test]
    fn periods_read_as_dates_or_with_times() {
        let zone = moscow();
        let (s, e, _) = parsed("24.12.2026 – 02.01.2027", zone);
        assert_eq!(format_period(s, e, zone), "24.12.2026 – 02.01.2027");
        let (s, e, _) = parsed("24.12.2026", zone);
        assert_eq!(format_period(s, e, zone), "24.12.2026");
        let (s, e, _) = parsed("24.12.2026 14:00 – 18:00", zone);
        assert_eq!(format_period(s, e, zone), "24.12.2026 14:00 – 18:00");
        let (s, e, _) = parsed("24.12.2026 14:00 – 25.12.2026 09:00", zone);
        assert_eq!(
            format_period(s, e, zone),
            "24.12.2026 14:00 – 25.12.2026 09:00"
        );
        let (s, e, _) = parsed("24.12.2026 14:00 – 25.12.2026", zone);
        assert_eq!(
            format_period(s, e, zone),
            "24.12.2026 14:00 – 26.12.2026 00:00"
        );
    }
}
