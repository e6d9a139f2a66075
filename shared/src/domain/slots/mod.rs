//! Free meeting slots: when a manager may book one owner, or all owners
//! together in collective mode.
//!
//! Pure functions over validated inputs, no clock and no database:
//!
//! - [`OwnerAvailability`]: the owner's weekly grid of local start times, their
//!   zone and slot length (rows of `availability_slots` and `owner_settings`).
//! - [`Blocking`]: everything that makes the owner unavailable, as half-open
//!   UTC intervals: meetings, Google busy time, blocked periods.
//! - [`Window`]: the company rules (minimum notice, horizon, weekends) applied
//!   to "now".
//!
//! A slot `[start, start + length)` is offered when its start is a grid start
//! of the owner's local calendar inside the window and it overlaps nothing in
//! the blocking list. DST: a grid start that does not exist locally (spring
//! gap) is skipped; one that happens twice (autumn) is offered once, at the
//! earlier instant. Lengths are absolute time, so a late slot that crosses a
//! night-time DST change still lasts exactly its length.
//!
//! Cost: candidates are produced in ascending order without allocating and
//! checked by one forward sweep over the merged blocking list, so a year of
//! availability against thousands of busy intervals is O(candidates +
//! intervals) plus one sort when the blocking list is built (see
//! `benches/slots.rs`).

mod availability;
mod days;
mod intervals;
mod window;

#[cfg(test)]
mod examples;
#[cfg(test)]
mod properties;

use chrono::{DateTime, Utc};

pub use availability::{
    AvailabilityError, FIRST_START_MINUTE, LAST_START_MINUTE, OwnerAvailability,
    START_STEP_MINUTES, SlotLength, WeeklyGrid,
};
pub use days::{DayCount, count_by_local_day, slots_on_local_day};
pub use intervals::{Blocking, Interval};
pub use window::Window;

use intervals::ceil_seconds;

/// Windows are cut to this many seconds (two years): the product offers at
/// most 365 days, and the bound keeps a corrupt window from walking the
/// calendar for ages.
const MAX_WINDOW_SECONDS: i64 = 2 * 366 * 24 * 60 * 60;

/// A bookable period, UTC, half-open like every interval here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Slot {
    fn from_seconds(start: i64, length: SlotLength) -> Option<Self> {
        Some(Self {
            start: DateTime::from_timestamp(start, 0)?,
            end: DateTime::from_timestamp(start.checked_add(length.seconds())?, 0)?,
        })
    }

    pub fn interval(&self) -> Interval {
        Interval::new(self.start, self.end)
    }
}

/// The free slots of one owner in the window, ascending by start, each of the
/// owner's own slot length.
pub fn free_slots(owner: &OwnerAvailability, blocking: &Blocking, window: &Window) -> Vec<Slot> {
    let Some((from, until)) = window_seconds(window) else {
        return Vec::new();
    };
    let length = owner.slot_length();
    let mut sweep = blocking.sweep();
    let slots = owner
        .candidate_starts(from, until, window.weekends_enabled)
        .filter(|start| sweep.is_free(*start, start.saturating_add(length.seconds())))
        .filter_map(|start| Slot::from_seconds(start, length));
    sorted(slots.collect())
}

/// The slots free for EVERY owner at once: the start must be a grid start of
/// each owner's own local calendar (their zone, their weekends) and the slot
/// must overlap nothing that blocks any of them.
///
/// The length is a parameter, not taken from any one owner: owners may have
/// chosen different lengths, and which one a joint meeting gets is the
/// booking flow's decision (the longest of them shortchanges nobody).
/// No owners means nobody to meet: no slots.
pub fn collective_free_slots(
    owners: &[(OwnerAvailability, Blocking)],
    length: SlotLength,
    window: &Window,
) -> Vec<Slot> {
    let (Some(((lead, lead_blocking), others)), Some((from, until))) =
        (owners.split_first(), window_seconds(window))
    else {
        return Vec::new();
    };
    let mut others: Vec<_> = others
        .iter()
        .map(|(owner, blocking)| {
            (
                owner
                    .candidate_starts(from, until, window.weekends_enabled)
                    .peekable(),
                blocking.sweep(),
            )
        })
        .collect();
    let mut lead_sweep = lead_blocking.sweep();
    let slots = lead
        .candidate_starts(from, until, window.weekends_enabled)
        .filter(|start| {
            let end = start.saturating_add(length.seconds());
            lead_sweep.is_free(*start, end)
                && others.iter_mut().all(|(starts, sweep)| {
                    // Each owner's starts ascend too: skip to this one.
                    while starts.next_if(|other| other < start).is_some() {}
                    starts.peek() == Some(start) && sweep.is_free(*start, end)
                })
        })
        .filter_map(|start| Slot::from_seconds(start, length));
    sorted(slots.collect())
}

/// The window as whole UTC seconds `[from, until)`, `None` when empty.
/// Slot starts are whole seconds, so rounding both bounds up is exact.
fn window_seconds(window: &Window) -> Option<(i64, i64)> {
    let from = ceil_seconds(window.starts_from);
    let until = ceil_seconds(window.starts_before).min(from.saturating_add(MAX_WINDOW_SECONDS));
    (from < until).then_some((from, until))
}

/// Candidates come out ascending by construction; this O(n) check keeps the
/// "sorted, no duplicates" promise even if a zone ever broke that.
fn sorted(mut slots: Vec<Slot>) -> Vec<Slot> {
    if !slots.is_sorted_by(|a, b| a.start < b.start) {
        slots.sort_unstable();
        slots.dedup_by_key(|slot| slot.start);
    }
    slots
}
