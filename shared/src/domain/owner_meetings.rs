//! The rules of an owner's `/meetings` screen that need no database: its
//! button data (parsed strictly, since callback data is never trusted),
//! which tab a meeting falls under for the owner's zone, paging, and what
//! makes a cancellation reason acceptable.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::db::types::MeetingId;
use crate::domain::registration::MAX_CALLBACK_BYTES;

/// The prefix of every `/meetings` button's data (stripped by the router).
pub const PREFIX: &str = "om:";

/// How far back meetings that were never closed are offered for closing:
/// older ones are no longer worth a button on the screen (they can still be
/// closed by a press, e.g. from an older message).
pub const TO_CLOSE_DAYS: i64 = 14;

/// Meetings per page of one tab: a page with its buttons stays readable on
/// a phone.
pub const PAGE_SIZE: usize = 6;

/// Highest page number button data may carry: no owner has that many
/// meetings, and a bound keeps forged numbers out.
pub const MAX_PAGE: u16 = 999;

/// Longest cancellation reason (the database allows 500 characters).
pub const MAX_CANCEL_REASON_CHARS: usize = 500;

/// One part of the owner's meeting list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    /// Meetings starting later today (the owner's local day).
    Today,
    /// The rest of the owner's ISO week after today.
    Week,
    /// Everything after this week.
    Later,
    /// Meetings that have started but are still `scheduled`: the owner
    /// says how they ended.
    ToClose,
}

impl Tab {
    /// Every tab, in screen order.
    pub const ALL: [Self; 4] = [Self::Today, Self::Week, Self::Later, Self::ToClose];

    /// The tab's word in button data.
    pub fn code(self) -> &'static str {
        match self {
            Self::Today => "today",
            Self::Week => "week",
            Self::Later => "later",
            Self::ToClose => "close",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tab| tab.code() == code)
    }
}

/// Where a still scheduled meeting starting at `starts_at` belongs for an
/// owner in `zone` at `now`: started ones are to be closed; the others by
/// the owner's local calendar day (today, the rest of this ISO week, later).
pub fn tab_of(starts_at: DateTime<Utc>, now: DateTime<Utc>, zone: Tz) -> Tab {
    if starts_at <= now {
        return Tab::ToClose;
    }
    let today = now.with_timezone(&zone).date_naive();
    let day = starts_at.with_timezone(&zone).date_naive();
    if day == today {
        Tab::Today
    } else if day.iso_week() == today.iso_week() {
        Tab::Week
    } else {
        Tab::Later
    }
}

/// The earliest end a meeting may have to be listed at all at `now`: the
/// upcoming ones and those of the last [`TO_CLOSE_DAYS`] still open.
pub fn listed_since(now: DateTime<Utc>) -> DateTime<Utc> {
    now - TimeDelta::days(TO_CLOSE_DAYS)
}

/// How many pages `count` meetings fill (at least one, so an empty tab
/// still has a page to show).
pub fn page_count(count: usize) -> u16 {
    let pages = count.div_ceil(PAGE_SIZE).max(1);
    u16::try_from(pages).unwrap_or(u16::MAX)
}

/// `page` moved inside the pages `count` meetings fill (a list that shrank
/// since the button was drawn shows its last page instead).
pub fn clamp_page(page: u16, count: usize) -> u16 {
    page.min(page_count(count) - 1)
}

/// A button of `/meetings`. The data is `om:` + what
/// [`OwnerMeetingsCallback::data`] writes; [`OwnerMeetingsCallback::parse`]
/// accepts exactly those strings (canonical numbers, no extra fields). The
/// meeting a button names is checked against the server on every press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerMeetingsCallback {
    /// `om:list`: the list as a new message (the button under notices,
    /// which must stay readable).
    List,
    /// `om:tab:<tab>:<page>`: one page of one tab, in place.
    Tab(Tab, u16),
    /// `om:cancel:<id>`: asks for the reason to cancel the meeting.
    Cancel(MeetingId),
    /// `om:done:<id>`: the meeting took place.
    Completed(MeetingId),
    /// `om:noshow:<id>`: the manager did not come.
    NoShow(MeetingId),
}

impl OwnerMeetingsCallback {
    /// Reads what follows `om:`; `None` for anything [`Self::data`] would
    /// not write, byte for byte.
    pub fn parse(rest: &str) -> Option<Self> {
        if rest.len() + PREFIX.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        let parsed = Self::read(rest)?;
        // Canonical form only: no `+5`, `05` or padding a lenient number
        // parser would let through.
        (parsed.data().get(PREFIX.len()..) == Some(rest)).then_some(parsed)
    }

    fn read(rest: &str) -> Option<Self> {
        let meeting = |field: &str| {
            field
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .map(MeetingId)
        };
        let fields: Vec<&str> = rest.split(':').collect();
        Some(match fields.as_slice() {
            ["list"] => Self::List,
            ["tab", tab, page] => {
                let page = page.parse::<u16>().ok().filter(|p| *p <= MAX_PAGE)?;
                Self::Tab(Tab::from_code(tab)?, page)
            }
            ["cancel", id] => Self::Cancel(meeting(id)?),
            ["done", id] => Self::Completed(meeting(id)?),
            ["noshow", id] => Self::NoShow(meeting(id)?),
            _ => return None,
        })
    }

    /// The full callback data, `om:` included.
    pub fn data(&self) -> String {
        let rest = match self {
            Self::List => "list".to_owned(),
            Self::Tab(tab, page) => format!("tab:{}:{page}", tab.code()),
            Self::Cancel(id) => format!("cancel:{id}"),
            Self::Completed(id) => format!("done:{id}"),
            Self::NoShow(id) => format!("noshow:{id}"),
        };
        format!("{PREFIX}{rest}")
    }

    /// The meeting the press is about, if any.
    pub fn meeting(&self) -> Option<MeetingId> {
        match self {
            Self::List | Self::Tab(..) => None,
            Self::Cancel(id) | Self::Completed(id) | Self::NoShow(id) => Some(*id),
        }
    }
}

/// Why a typed cancellation reason was refused, so the owner can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReasonError {
    #[error("the reason is empty")]
    Empty,
    #[error("the reason has {chars} characters; at most {MAX_CANCEL_REASON_CHARS} are allowed")]
    TooLong { chars: usize },
    #[error("the reason contains control characters")]
    Characters,
}

/// The reason as stored and shown: trimmed, runs of white space (line
/// breaks included) folded to one space, control characters refused,
/// 1..=[`MAX_CANCEL_REASON_CHARS`] characters.
pub fn parse_cancel_reason(text: &str) -> Result<String, ReasonError> {
    if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(ReasonError::Characters);
    }
    let reason = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = reason.chars().count();
    if chars == 0 {
        return Err(ReasonError::Empty);
    }
    if chars > MAX_CANCEL_REASON_CHARS {
        return Err(ReasonError::TooLong { chars });
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn moscow() -> Tz {
        chrono_tz::Europe::Moscow
    }

    /// Wednesday 2 December 2026, 20:30 UTC = 23:30 in Moscow.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 20, 30, 0).unwrap()
    }

    #[test]
    fn every_button_reads_back_as_itself() {
        let mut all = vec![
            OwnerMeetingsCallback::List,
            OwnerMeetingsCallback::Cancel(MeetingId(1)),
            OwnerMeetingsCallback::Completed(MeetingId(42)),
            OwnerMeetingsCallback::NoShow(MeetingId(i64::MAX)),
        ];
        for tab in Tab::ALL {
            all.extend([0, 1, MAX_PAGE].map(|page| OwnerMeetingsCallback::Tab(tab, page)));
        }
        for press in all {
            let data = press.data();
            assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
            let rest = data.strip_prefix(PREFIX).unwrap();
            assert_eq!(OwnerMeetingsCallback::parse(rest), Some(press), "{data}");
        }
        assert_eq!(OwnerMeetingsCallback::List.data(), "om:list");
        assert_eq!(
            OwnerMeetingsCallback::Tab(Tab::ToClose, 2).data(),
            "om:tab:close:2"
        );
        assert_eq!(
            OwnerMeetingsCallback::Cancel(MeetingId(7)).data(),
            "om:cancel:7"
        );
        assert_eq!(
            OwnerMeetingsCallback::NoShow(MeetingId(7)).meeting(),
            Some(MeetingId(7))
        );
        assert_eq!(OwnerMeetingsCallback::Tab(Tab::Week, 0).meeting(), None);
    }

    #[test]
    fn garbage_and_near_misses_are_refused() {
        let long = format!("cancel:{}", "1".repeat(70));
        for rest in [
            "",
            "list:",
            ":list",
            "list:1",
            "LIST",
            " list",
            "om:list",
            "tab",
            "tab:today",
            "tab:today:",
            "tab:today:-1",
            "tab:today:01",
            "tab:today:+1",
            "tab:today:1000",
            "tab:today:65536",
            "tab:today:1:2",
            "tab:tomorrow:0",
            "tab:Today:0",
            "tab::0",
            "cancel",
            "cancel:",
            "cancel:0",
            "cancel:-3",
            "cancel:03",
            "cancel:+3",
            "cancel:3:4",
            "cancel:9223372036854775808",
            "cancel:1e3",
            "cancel: 3",
            "done:x",
            "noshow:",
            "no_show:3",
            "completed:3",
            long.as_str(),
            "done:1\u{0}",
            "отмена:1",
        ] {
            assert_eq!(OwnerMeetingsCallback::parse(rest), None, "{rest:?}");
        }
    }

    #[test]
    fn meetings_fall_under_the_owners_local_days() {
        let zone = moscow();
        let at = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap();
        // Started (or starting right now): to close, whatever the day.
        assert_eq!(tab_of(now(), now(), zone), Tab::ToClose);
        assert_eq!(tab_of(at(1, 9, 0), now(), zone), Tab::ToClose);
        // 20:45 UTC is 23:45 the same Moscow day.
        assert_eq!(tab_of(at(2, 20, 45), now(), zone), Tab::Today);
        // 21:00 UTC is already Thursday in Moscow.
        assert_eq!(tab_of(at(2, 21, 0), now(), zone), Tab::Week);
        // Sunday 6 December 23:59 Moscow is the end of the ISO week.
        assert_eq!(tab_of(at(6, 20, 59), now(), zone), Tab::Week);
        assert_eq!(tab_of(at(6, 21, 0), now(), zone), Tab::Later);
        // The same instants for an owner in New York (UTC-5): still
        // Wednesday there.
        let new_york = chrono_tz::America::New_York;
        assert_eq!(tab_of(at(3, 4, 59), now(), new_york), Tab::Today);
        assert_eq!(tab_of(at(3, 5, 0), now(), new_york), Tab::Week);
        assert_eq!(tab_of(at(7, 4, 59), now(), new_york), Tab::Week);
        assert_eq!(tab_of(at(7, 5, 0), now(), new_york), Tab::Later);
    }

    #[test]
    fn on_a_sunday_the_rest_of_the_week_is_empty() {
        // Sunday 6 December 2026, 10:00 Moscow.
        let sunday = Utc.with_ymd_and_hms(2026, 12, 6, 7, 0, 0).unwrap();
        let monday = Utc.with_ymd_and_hms(2026, 12, 7, 7, 0, 0).unwrap();
        assert_eq!(tab_of(monday, sunday, moscow()), Tab::Later);
        // Across the new year the ISO week still decides: Thursday
        // 31 December 2026 and Sunday 3 January 2027 share week 53.
        let thursday = Utc.with_ymd_and_hms(2026, 12, 31, 7, 0, 0).unwrap();
        let next_sunday = Utc.with_ymd_and_hms(2027, 1, 3, 7, 0, 0).unwrap();
        assert_eq!(tab_of(next_sunday, thursday, moscow()), Tab::Week);
    }

    #[test]
    fn pages_cover_the_list_and_follow_it_when_it_shrinks() {
        assert_eq!(page_count(0), 1);
        assert_eq!(page_count(PAGE_SIZE), 1);
        assert_eq!(page_count(PAGE_SIZE + 1), 2);
        assert_eq!(clamp_page(0, 0), 0);
        assert_eq!(clamp_page(3, PAGE_SIZE + 1), 1);
        assert_eq!(clamp_page(1, PAGE_SIZE * 3), 1);
        assert_eq!(listed_since(now()), now() - TimeDelta::days(TO_CLOSE_DAYS));
    }

    #[test]
    fn reasons_are_cleaned_and_bounded() {
        assert_eq!(
            parse_cancel_reason("  Sick,\n\tsorry  ").as_deref(),
            Ok("Sick, sorry")
        );
        assert_eq!(
            parse_cancel_reason("<b>Tom & Jerry</b> 😀").as_deref(),
            Ok("<b>Tom & Jerry</b> 😀")
        );
        assert_eq!(parse_cancel_reason(""), Err(ReasonError::Empty));
        assert_eq!(parse_cancel_reason(" \n "), Err(ReasonError::Empty));
        assert_eq!(
            parse_cancel_reason("bad\u{7}bell"),
            Err(ReasonError::Characters)
        );
        assert_eq!(
            parse_cancel_reason("nul\u{0}"),
            Err(ReasonError::Characters)
        );
        let longest = "я".repeat(MAX_CANCEL_REASON_CHARS);
        assert_eq!(parse_cancel_reason(&longest), Ok(longest.clone()));
        assert_eq!(
            parse_cancel_reason(&format!("{longest}a")),
            Err(ReasonError::TooLong {
                chars: MAX_CANCEL_REASON_CHARS + 1
            })
        );
    }
}
