//! "Book your next meeting" nudges: when a manager is due for their next
//! meeting, and which nudge (if any) is due at a given instant.
//!
//! The rules (PRODUCT.md, "Nudge due date"):
//! - the **anchor** is the later of the manager's latest non-cancelled
//!   meeting start (past or future) and their approval date — the approval
//!   date counts for a manager without meetings, and a manager approved
//!   again after being removed starts afresh;
//! - the **due date** is the anchor's local date in the manager's zone plus
//!   the cadence (booking settings, default 14 days);
//! - a manager with an upcoming scheduled meeting is **never due**: booking
//!   one moves the anchor and so the due date, and the nudges stop;
//! - nudges go out 7, 3 and 1 days before the due date at **10:00 in the
//!   manager's zone**, with rising urgency;
//! - **catch-up**: a nudge is still sent up to [`CATCH_UP`] after its moment
//!   (a worker that was down sends it late), and skipped beyond that — a
//!   "7 days left" message two days late would be wrong, and the next, more
//!   urgent nudge follows anyway. The windows of the three nudges never
//!   overlap (their moments are at least two days apart);
//! - a nudge whose moment is not after the anchor is skipped (a short
//!   cadence must not nudge before the meeting it counts from).
//!
//! Who is nudged at all (active, manager, working) is the caller's filter.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// The local time of day nudges go out, in the manager's zone.
pub const NUDGE_TIME: NaiveTime = match NaiveTime::from_hms_opt(10, 0, 0) {
    Some(time) => time,
    None => NaiveTime::MIN,
};

/// How late a nudge may still go out after its moment.
pub const CATCH_UP: TimeDelta = TimeDelta::days(1);

/// One of the three nudges before a due date, least urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NudgeLevel {
    /// A week before: a friendly heads-up.
    Week,
    /// Three days before: nothing booked yet.
    ThreeDays,
    /// The day before: book today.
    LastDay,
}

impl NudgeLevel {
    /// Every level, least urgent first.
    pub const ALL: [Self; 3] = [Self::Week, Self::ThreeDays, Self::LastDay];

    /// How many days before the due date this nudge goes out.
    pub fn days_before(self) -> u64 {
        match self {
            Self::Week => 7,
            Self::ThreeDays => 3,
            Self::LastDay => 1,
        }
    }
}

/// What the rules need to know about one manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// The start of the latest meeting that was not cancelled, if any.
    pub latest_meeting_start: Option<DateTime<Utc>>,
    /// When the manager was approved (their account's creation when the
    /// decision was not recorded).
    pub approved_at: DateTime<Utc>,
    /// Whether a scheduled meeting starts after "now".
    pub has_upcoming: bool,
    /// Days between meetings (booking settings).
    pub cadence_days: u16,
    /// The manager's zone.
    pub zone: Tz,
}

/// A nudge that is due: which one, and for which due date (both name it,
/// so it is sent once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nudge {
    pub due: NaiveDate,
    pub level: NudgeLevel,
}

impl Cadence {
    /// The instant the cadence counts from (see the module docs).
    pub fn anchor(&self) -> DateTime<Utc> {
        self.latest_meeting_start
            .map_or(self.approved_at, |start| start.max(self.approved_at))
    }

    /// The local date by which the manager should have met again.
    pub fn due_date(&self) -> NaiveDate {
        let anchor_day = self.anchor().with_timezone(&self.zone).date_naive();
        anchor_day
            .checked_add_days(Days::new(u64::from(self.cadence_days)))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The nudge to send at `now`, if any: the one whose moment has come
    /// within [`CATCH_UP`], unless the manager has an upcoming meeting.
    pub fn due_nudge(&self, now: DateTime<Utc>) -> Option<Nudge> {
        if self.has_upcoming {
            return None;
        }
        let due = self.due_date();
        let anchor = self.anchor();
        NudgeLevel::ALL.into_iter().rev().find_map(|level| {
            let at = nudge_at(due, level, self.zone)?;
            (at > anchor && at <= now && now < at + CATCH_UP).then_some(Nudge { due, level })
        })
    }
}

/// The instant nudge `level` for `due` goes out: [`NUDGE_TIME`] in `zone`
/// that many days before (the earlier instant when the local time happens
/// twice, an hour later when it falls in a gap).
pub fn nudge_at(due: NaiveDate, level: NudgeLevel, zone: Tz) -> Option<DateTime<Utc>> {
    let day = due.checked_sub_days(Days::new(level.days_before()))?;
    let local = day.and_time(NUDGE_TIME);
    local
        .and_local_timezone(zone)
        .earliest()
        .or_else(|| {
            (local + TimeDelta::hours(1))
                .and_local_timezone(zone)
                .earliest()
        })
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const TOKYO: Tz = chrono_tz::Asia::Tokyo;
    const NEW_YORK: Tz = chrono_tz::America::New_York;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Approved on 1 Dec 2026 at 20:00 UTC — already 2 Dec in Tokyo.
    fn tokyo_manager() -> Cadence {
        Cadence {
            latest_meeting_start: None,
            approved_at: utc(2026, 12, 1, 20, 0),
            has_upcoming: false,
            cadence_days: 14,
            zone: TOKYO,
        }
    }

    #[test]
    fn the_due_date_counts_from_the_local_day_of_the_anchor() {
        let manager = tokyo_manager();
        assert_eq!(manager.due_date(), date(2026, 12, 16));
        let in_new_york = Cadence {
            zone: NEW_YORK,
            ..manager
        };
        assert_eq!(in_new_york.due_date(), date(2026, 12, 15));
    }

    #[test]
    fn the_latest_meeting_moves_the_anchor_but_never_before_the_approval() {
        let later = Cadence {
            latest_meeting_start: Some(utc(2026, 12, 10, 6, 0)),
            ..tokyo_manager()
        };
        assert_eq!(later.anchor(), utc(2026, 12, 10, 6, 0));
        assert_eq!(later.due_date(), date(2026, 12, 24));
        let older = Cadence {
            latest_meeting_start: Some(utc(2026, 11, 1, 6, 0)),
            ..tokyo_manager()
        };
        assert_eq!(older.anchor(), utc(2026, 12, 1, 20, 0));
    }

    #[test]
    fn nudges_go_out_at_ten_local_seven_three_and_one_days_before() {
        let manager = tokyo_manager();
        // Due 16 Dec: 10:00 Tokyo is 01:00 UTC on the 9th, 13th and 15th.
        let cases = [
            (utc(2026, 12, 9, 0, 59), None),
            (utc(2026, 12, 9, 1, 0), Some(NudgeLevel::Week)),
            (utc(2026, 12, 10, 0, 59), Some(NudgeLevel::Week)),
            (utc(2026, 12, 10, 1, 0), None),
            (utc(2026, 12, 13, 1, 30), Some(NudgeLevel::ThreeDays)),
            (utc(2026, 12, 15, 12, 0), Some(NudgeLevel::LastDay)),
            (utc(2026, 12, 16, 1, 0), None),
            (utc(2026, 12, 20, 1, 0), None),
        ];
        for (now, expected) in cases {
            assert_eq!(
                manager.due_nudge(now),
                expected.map(|level| Nudge {
                    due: date(2026, 12, 16),
                    level
                }),
                "at {now}"
            );
        }
    }

    #[test]
    fn an_upcoming_meeting_means_no_nudge() {
        let manager = Cadence {
            has_upcoming: true,
            ..tokyo_manager()
        };
        assert_eq!(manager.due_nudge(utc(2026, 12, 9, 2, 0)), None);
    }

    #[test]
    fn a_nudge_before_the_anchor_is_skipped() {
        // A two-day cadence from a meeting at 12:00 Tokyo on 1 Dec: due on
        // the 3rd; the 7- and 3-day moments precede the meeting.
        let manager = Cadence {
            latest_meeting_start: Some(utc(2026, 12, 1, 3, 0)),
            approved_at: utc(2026, 1, 1, 0, 0),
            cadence_days: 2,
            ..tokyo_manager()
        };
        assert_eq!(manager.due_date(), date(2026, 12, 3));
        assert_eq!(manager.due_nudge(utc(2026, 12, 1, 4, 0)), None);
        assert_eq!(
            manager.due_nudge(utc(2026, 12, 2, 1, 0)),
            Some(Nudge {
                due: date(2026, 12, 3),
                level: NudgeLevel::LastDay
            })
        );
    }

    #[test]
    fn ten_o_clock_is_found_across_daylight_saving_changes() {
        // New York moves to summer time on 8 March 2026.
        let at = nudge_at(date(2026, 3, 9), NudgeLevel::LastDay, NEW_YORK).unwrap();
        assert_eq!(at, utc(2026, 3, 8, 14, 0));
        let before = nudge_at(date(2026, 3, 14), NudgeLevel::Week, NEW_YORK).unwrap();
        assert_eq!(before, utc(2026, 3, 7, 15, 0));
        assert_eq!(
            nudge_at(date(2026, 12, 16), NudgeLevel::Week, TOKYO),
            Some(utc(2026, 12, 9, 1, 0))
        );
    }
}
