//! What keeps an owner from being booked: meetings, calendar busy time and
//! blocked periods, merged once into a sorted list a sweep can walk.

use chrono::{DateTime, Utc};

/// A half-open UTC period `[start, end)`: a meeting ending at 11:00 and one
/// starting at 11:00 do not collide. An interval whose end is not after its
/// start is empty and blocks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Interval {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self { start, end }
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Shares at least one instant with `other`; touching ends do not count.
    pub fn overlaps(&self, other: &Interval) -> bool {
        !self.is_empty() && !other.is_empty() && self.start < other.end && other.start < self.end
    }
}

impl From<(DateTime<Utc>, DateTime<Utc>)> for Interval {
    fn from((start, end): (DateTime<Utc>, DateTime<Utc>)) -> Self {
        Self::new(start, end)
    }
}

/// Everything that blocks one owner, in any order and from any source
/// (bookings, Google busy time, blocked periods), sorted and merged once so
/// the slot sweep is a single forward pass.
///
/// Kept in whole seconds: slot starts are whole seconds, so rounding a
/// blocking start down and its end up changes no answer (`s < end` ⇔
/// `s < ceil(end)` for whole `s`) while making comparisons plain integers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocking {
    /// Disjoint, non-touching, ascending.
    spans: Vec<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    start: i64,
    end: i64,
}

impl Blocking {
    /// Sorts and merges; O(n log n), once per computation.
    pub fn new(intervals: impl IntoIterator<Item = Interval>) -> Self {
        let mut spans: Vec<Span> = intervals
            .into_iter()
            .filter(|interval| !interval.is_empty())
            .map(|interval| Span {
                start: interval.start.timestamp(),
                end: ceil_seconds(interval.end),
            })
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for span in spans {
            match merged.last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => merged.push(span),
            }
        }
        Self { spans: merged }
    }

    /// Nothing blocks: every grid start in the window is free.
    pub fn none() -> Self {
        Self::default()
    }

    /// Merged periods, for display or debugging; widened to whole seconds.
    pub fn periods(&self) -> impl Iterator<Item = Interval> + '_ {
        self.spans.iter().filter_map(|span| {
            Some(Interval::new(
                DateTime::from_timestamp(span.start, 0)?,
                DateTime::from_timestamp(span.end, 0)?,
            ))
        })
    }

    pub(super) fn sweep(&self) -> Sweep<'_> {
        Sweep {
            spans: &self.spans,
            pos: 0,
            last_start: i64::MIN,
        }
    }
}

impl FromIterator<Interval> for Blocking {
    fn from_iter<I: IntoIterator<Item = Interval>>(intervals: I) -> Self {
        Self::new(intervals)
    }
}

/// A moving pointer into the merged periods for ascending slot starts:
/// O(slots + periods) over a whole computation.
#[derive(Debug)]
pub(super) struct Sweep<'a> {
    spans: &'a [Span],
    pos: usize,
    last_start: i64,
}

impl Sweep<'_> {
    /// Whether `[start, end)` overlaps no blocking period. Meant for
    /// ascending starts; a start earlier than the previous one re-seeks by
    /// binary search, so the answer is right in any order.
    pub(super) fn is_free(&mut self, start: i64, end: i64) -> bool {
        if start < self.last_start {
            self.pos = self.spans.partition_point(|span| span.end <= start);
        }
        self.last_start = start;
        while self
            .spans
            .get(self.pos)
            .is_some_and(|span| span.end <= start)
        {
            self.pos += 1;
        }
        // Merged periods are disjoint and ascending: the first one ending
        // after `start` is the only one that can reach into the slot.
        self.spans
            .get(self.pos)
            .is_none_or(|span| span.start >= end)
    }
}

/// Whole seconds at or after `at`: the exclusive bounds (window ends,
/// period ends) must not move earlier when the fraction is dropped.
pub(super) fn ceil_seconds(at: DateTime<Utc>) -> i64 {
    at.timestamp() + i64::from(at.timestamp_subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 2, h, m, 0).unwrap()
    }

    fn secs(h: u32, m: u32) -> i64 {
        at(h, m).timestamp()
    }

    #[test]
    fn merges_overlapping_and_touching_periods_and_drops_empty_ones() {
        let blocking = Blocking::new([
            Interval::new(at(13, 0), at(14, 0)),
            Interval::new(at(9, 0), at(10, 0)),
            Interval::new(at(10, 0), at(10, 30)),
            Interval::new(at(9, 30), at(9, 45)),
            Interval::new(at(12, 0), at(12, 0)),
            Interval::new(at(16, 0), at(15, 0)),
        ]);
        let periods: Vec<_> = blocking.periods().collect();
        assert_eq!(
            periods,
            [
                Interval::new(at(9, 0), at(10, 30)),
                Interval::new(at(13, 0), at(14, 0))
            ]
        );
    }

    #[test]
    fn touching_ends_are_free_and_one_nanosecond_is_not() {
        let nano = chrono::TimeDelta::nanoseconds(1);
        let blocking = Blocking::new([Interval::new(at(10, 0), at(11, 0))]);
        let mut sweep = blocking.sweep();
        assert!(sweep.is_free(secs(9, 0), secs(10, 0)));
        assert!(!sweep.is_free(secs(9, 30), secs(10, 30)));
        assert!(!sweep.is_free(secs(10, 0), secs(11, 0)));
        assert!(sweep.is_free(secs(11, 0), secs(12, 0)));

        let late_end = Blocking::new([Interval::new(at(10, 0), at(11, 0) + nano)]);
        assert!(!late_end.sweep().is_free(secs(11, 0), secs(12, 0)));
        let early_start = Blocking::new([Interval::new(at(10, 0) - nano, at(10, 30))]);
        assert!(!early_start.sweep().is_free(secs(9, 0), secs(10, 0)));
    }

    #[test]
    fn out_of_order_starts_still_get_the_right_answer() {
        let blocking = Blocking::new([
            Interval::new(at(8, 0), at(9, 0)),
            Interval::new(at(12, 0), at(13, 0)),
        ]);
        let mut sweep = blocking.sweep();
        assert!(!sweep.is_free(secs(12, 30), secs(13, 30)));
        assert!(!sweep.is_free(secs(8, 30), secs(9, 30)));
        assert!(sweep.is_free(secs(10, 0), secs(11, 0)));
    }

    #[test]
    fn interval_overlap_is_half_open() {
        let a = Interval::new(at(10, 0), at(11, 0));
        assert!(!a.overlaps(&Interval::new(at(11, 0), at(12, 0))));
        assert!(a.overlaps(&Interval::new(at(10, 59), at(12, 0))));
        assert!(!a.overlaps(&Interval::new(at(10, 30), at(10, 30))));
    }
}
