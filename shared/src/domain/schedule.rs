//! The button data of `/schedule` and `/my_meetings`, parsed strictly.
//!
//! Picking a slot works the same for a new booking and for moving a
//! meeting, so every slot-picking button names its [`Purpose`]:
//!
//! ```text
//! bk:o                    owners to choose from
//! bk:d:<purpose>          days with free slots
//! bk:t:<purpose>:<date>   times on a day (date as YYYYMMDD, viewer's calendar)
//! bk:c:<purpose>:<unix>   "book this?" for a slot start (seconds)
//! bk:y:<purpose>:<unix>   book / move it
//! bk:back                 "I'm back": set my status to working
//! purpose = o<owner id> | all | m<meeting id>
//!
//! mm:list | mm:x:<meeting> | mm:xy:<meeting> | mm:r:<meeting>
//! ```
//!
//! Nothing here is trusted: the handler looks up again every owner,
//! meeting and slot the data names. Telegram allows 64 bytes of data; the
//! longest form here is well under it.

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::types::{MeetingId, UserId};
use crate::domain::callback::canonical_id;

/// What the slots being picked are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A new meeting with one owner.
    Owner(UserId),
    /// A new meeting with all owners together (collective mode).
    AllOwners,
    /// Moving one of the manager's meetings.
    Move(MeetingId),
}

impl Purpose {
    fn parse(raw: &str) -> Option<Self> {
        if raw == "all" {
            return Some(Self::AllOwners);
        }
        let (kind, id) = raw.split_at_checked(1)?;
        let id = canonical_id(id)?;
        match kind {
            "o" => Some(Self::Owner(UserId(id))),
            "m" => Some(Self::Move(MeetingId(id))),
            _ => None,
        }
    }

    fn data(self) -> String {
        match self {
            Self::Owner(owner) => format!("o{}", owner.0),
            Self::AllOwners => "all".to_owned(),
            Self::Move(meeting) => format!("m{}", meeting.0),
        }
    }
}

/// A `bk:` button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleCallback {
    Owners,
    Days(Purpose),
    Times(Purpose, NaiveDate),
    Confirm(Purpose, DateTime<Utc>),
    Book(Purpose, DateTime<Utc>),
    Back,
}

impl ScheduleCallback {
    /// Parses what follows `bk:`.
    pub fn parse(rest: &str) -> Option<Self> {
        let mut parts = rest.split(':');
        let kind = parts.next()?;
        let purpose = parts.next().map(Purpose::parse);
        let value = parts.next();
        if parts.next().is_some() {
            return None;
        }
        Some(match (kind, purpose, value) {
            ("o", None, None) => Self::Owners,
            ("back", None, None) => Self::Back,
            ("d", Some(purpose), None) => Self::Days(purpose?),
            ("t", Some(purpose), Some(date)) => Self::Times(purpose?, parse_date(date)?),
            ("c", Some(purpose), Some(start)) => Self::Confirm(purpose?, parse_instant(start)?),
            ("y", Some(purpose), Some(start)) => Self::Book(purpose?, parse_instant(start)?),
            _ => return None,
        })
    }

    /// The full callback data, `bk:` included.
    pub fn data(&self) -> String {
        match self {
            Self::Owners => "bk:o".to_owned(),
            Self::Back => "bk:back".to_owned(),
            Self::Days(purpose) => format!("bk:d:{}", purpose.data()),
            Self::Times(purpose, date) => {
                format!("bk:t:{}:{}", purpose.data(), date.format("%Y%m%d"))
            }
            Self::Confirm(purpose, start) => {
                format!("bk:c:{}:{}", purpose.data(), start.timestamp())
            }
            Self::Book(purpose, start) => format!("bk:y:{}:{}", purpose.data(), start.timestamp()),
        }
    }
}

/// An `mm:` button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MyMeetingsCallback {
    List,
    /// "Cancel this meeting?"
    AskCancel(MeetingId),
    /// Cancel it.
    Cancel(MeetingId),
    /// Pick a new time for it.
    Reschedule(MeetingId),
}

impl MyMeetingsCallback {
    /// Parses what follows `mm:`.
    pub fn parse(rest: &str) -> Option<Self> {
        if rest == "list" {
            return Some(Self::List);
        }
        let (kind, id) = rest.split_once(':')?;
        let id = MeetingId(canonical_id(id)?);
        match kind {
            "x" => Some(Self::AskCancel(id)),
            "xy" => Some(Self::Cancel(id)),
            "r" => Some(Self::Reschedule(id)),
            _ => None,
        }
    }

    /// The full callback data, `mm:` included.
    pub fn data(&self) -> String {
        match self {
            Self::List => "mm:list".to_owned(),
            Self::AskCancel(id) => format!("mm:x:{}", id.0),
            Self::Cancel(id) => format!("mm:xy:{}", id.0),
            Self::Reschedule(id) => format!("mm:r:{}", id.0),
        }
    }
}

fn parse_date(raw: &str) -> Option<NaiveDate> {
    if raw.len() != 8 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDate::parse_from_str(raw, "%Y%m%d").ok()
}

fn parse_instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(canonical_id(raw)?, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_button_round_trips() {
        let start = Utc.with_ymd_and_hms(2026, 12, 1, 7, 30, 0).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        for purpose in [
            Purpose::Owner(UserId(7)),
            Purpose::AllOwners,
            Purpose::Move(MeetingId(42)),
        ] {
            for press in [
                ScheduleCallback::Days(purpose),
                ScheduleCallback::Times(purpose, date),
                ScheduleCallback::Confirm(purpose, start),
                ScheduleCallback::Book(purpose, start),
            ] {
                let data = press.data();
                assert!(data.len() <= 64, "{data}");
                let rest = data.strip_prefix("bk:").unwrap();
                assert_eq!(ScheduleCallback::parse(rest), Some(press), "{data}");
            }
        }
        for press in [ScheduleCallback::Owners, ScheduleCallback::Back] {
            let data = press.data();
            assert_eq!(ScheduleCallback::parse(&data[3..]), Some(press));
        }
        for press in [
            MyMeetingsCallback::List,
            MyMeetingsCallback::AskCancel(MeetingId(3)),
            MyMeetingsCallback::Cancel(MeetingId(3)),
            MyMeetingsCallback::Reschedule(MeetingId(3)),
        ] {
            let data = press.data();
            assert_eq!(MyMeetingsCallback::parse(&data[3..]), Some(press));
        }
    }

    #[test]
    fn forged_or_garbled_data_does_not_parse() {
        for rest in [
            "",
            "d",
            "d:",
            "d:o",
            "d:o0",
            "d:o-1",
            "d:o+1",
            "d:o01",
            "d:x1",
            "d:o1:extra",
            "t:o1:20261301",
            "t:o1:2026121",
            "t:o1:+2026121",
            "c:o1:-5",
            "c:o1:abc",
            "c:o1:99999999999999999999",
            "y:all",
            "y:m1:1:2",
            "back:1",
            "o:1",
            "zzz",
        ] {
            assert_eq!(ScheduleCallback::parse(rest), None, "{rest:?}");
        }
        for rest in [
            "", "x", "x:", "x:0", "x:-1", "xy:1:2", "r:a", "list:1", "q:1",
        ] {
            assert_eq!(MyMeetingsCallback::parse(rest), None, "{rest:?}");
        }
    }
}
