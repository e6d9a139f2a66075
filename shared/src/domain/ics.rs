//! `.ics` invites: the calendar of a meeting for people whose calendar the
//! bot cannot write to (no Google), as an RFC 5545 file with an iTIP
//! (RFC 5546) method, one file per recipient.
//!
//! - The event's UID comes from the meeting id alone, so every revision
//!   and every recipient's copy is the same event to a calendar app; the
//!   `SEQUENCE` (revision − 1) tells a newer copy from an older one, so an
//!   app replaces the event on a reschedule and removes it on a `CANCEL`.
//! - Times are written in the recipient's own IANA zone (`TZID`) with a
//!   `VTIMEZONE` describing that zone's offsets around the meeting, DST
//!   transitions included, so apps without that zone in their database
//!   still place the meeting right.
//! - Every participant needs a calendar address (`ORGANIZER` is required
//!   by iTIP, and apps match attendees by address). Without a known email
//!   the address is `mailto:user-<id>@meeting-scheduler.invalid`: a mailbox
//!   every app accepts, the same in every revision (so updates and
//!   cancellations match the event), and undeliverable by definition (the
//!   `.invalid` TLD, RFC 2606), so no reply ever reaches a stranger.
//!   `RSVP=FALSE` and `PARTSTAT=ACCEPTED` say the meeting is already agreed:
//!   answering, moving and cancelling happen in the bot, which reads no
//!   calendar replies.
//!
//! Written by hand rather than with the `icalendar` crate: that crate
//! writes a `DTSTAMP` from the system clock and a random `UID` into every
//! component it prints (a `VTIMEZONE` and its `STANDARD`/`DAYLIGHT` parts
//! included, where RFC 5545 allows neither) and offers no public way to
//! build a `VTIMEZONE`. What it would have done for us is small and tested
//! here: TEXT escaping, parameter quoting, folding at 75 octets on UTF-8
//! character boundaries, CRLF line ends.

use chrono::{DateTime, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

use crate::db::types::{MeetingId, UserId};
use crate::domain::booking::MeetingStatus;

/// Who made the file, as RFC 5545 wants it (`-//owner//product//language`).
pub const PRODID: &str = "-//Meeting Scheduler Bot//Telegram//EN";
/// The MIME type of an `.ics` file.
pub const MIME_TYPE: &str = "text/calendar";
/// The domain part of every UID: a name of this product, not a host.
const UID_DOMAIN: &str = "meeting-scheduler-bot";
/// The domain of the stand-in address of a participant without an email.
const NO_EMAIL_DOMAIN: &str = "meeting-scheduler.invalid";
/// How far back a zone's last offset change is looked for; a zone without
/// one in this window is described as fixed.
const LOOKBACK_DAYS: i64 = 400;
/// Offset changes described at most (a meeting spans one or two).
const MAX_OBSERVANCES: usize = 8;
/// Longest content line in octets, CRLF excluded (RFC 5545 §3.1).
const LINE_OCTETS: usize = 75;

/// What the file asks of the recipient's calendar (the iTIP method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add the event, or update it when the UID is known.
    Request,
    /// Remove the event.
    Cancel,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Cancel => "CANCEL",
        }
    }
}

/// A participant as a calendar shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Party<'a> {
    pub user: UserId,
    /// Shown by the app (`CN`).
    pub name: &'a str,
    /// A checked address (`crate::domain::profile::Email`), if the user
    /// gave one.
    pub email: Option<&'a str>,
}

/// One meeting as one recipient's calendar should see it.
#[derive(Debug, Clone)]
pub struct Invite<'a> {
    pub meeting: MeetingId,
    /// The meeting's revision (from 1); gives the `SEQUENCE`.
    pub revision: i32,
    pub method: Method,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// When this file was made (`DTSTAMP`).
    pub stamp: DateTime<Utc>,
    /// The recipient's zone: the times are written in it.
    pub zone: Tz,
    /// Plain text in the recipient's language (escaped here).
    pub summary: &'a str,
    pub description: &'a str,
    /// The owner whose time the meeting takes.
    pub organizer: Party<'a>,
    /// Everyone else taking part.
    pub attendees: &'a [Party<'a>],
}

/// What a meeting's current state owes the calendars that got its
/// earlier invites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owed {
    /// This revision was synced already: nothing to do, nothing to write.
    UpToDate,
    /// Nothing to send (no calendar holds the meeting, or it is over or
    /// closed); the revision only needs to be recorded as synced.
    Nothing,
    /// Send every participant a file with this method.
    Send(Method),
}

/// The rule of the `.ics` branch of the calendar sync:
/// - a scheduled meeting not over yet gets a `REQUEST` (new or updated);
/// - a cancelled one gets a `CANCEL`, but only if some invite went out
///   before (`synced_revision` set): a meeting booked and cancelled before
///   its first invite is in no calendar;
/// - completed and no-show meetings, and meetings already over, are left
///   as the calendars have them.
pub fn owed(
    status: MeetingStatus,
    revision: i32,
    synced_revision: Option<i32>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Owed {
    if synced_revision == Some(revision) {
        return Owed::UpToDate;
    }
    match status {
        MeetingStatus::Scheduled if ends_at > now => Owed::Send(Method::Request),
        MeetingStatus::Cancelled if synced_revision.is_some() => Owed::Send(Method::Cancel),
        MeetingStatus::Scheduled
        | MeetingStatus::Cancelled
        | MeetingStatus::Completed
        | MeetingStatus::NoShow => Owed::Nothing,
    }
}

/// The event's UID: the same for every revision and every recipient.
pub fn uid(meeting: MeetingId) -> String {
    format!("meeting-{}@{UID_DOMAIN}", meeting.0)
}

/// The `SEQUENCE` of `revision`: 0 for the booking, +1 per change.
pub fn sequence(revision: i32) -> i32 {
    (revision - 1).max(0)
}

/// The calendar address of `party` (see the module docs for the stand-in
/// used without an email).
pub fn cal_address(party: &Party<'_>) -> String {
    match party.email {
        Some(email) if !email.is_empty() => format!("mailto:{}", percent_encode(email)),
        _ => format!("mailto:user-{}@{NO_EMAIL_DOMAIN}", party.user.0),
    }
}

/// The whole `.ics` file: CRLF line ends, folded lines.
pub fn render(invite: &Invite<'_>) -> String {
    let mut out = Lines::default();
    out.push("BEGIN:VCALENDAR");
    out.push(&format!("PRODID:{PRODID}"));
    out.push("VERSION:2.0");
    out.push("CALSCALE:GREGORIAN");
    out.push(&format!("METHOD:{}", invite.method.name()));
    let times = match (
        local_form(invite.zone, invite.starts_at),
        local_form(invite.zone, invite.ends_at),
    ) {
        (Some(start), Some(end)) => {
            timezone(&mut out, invite.zone, invite.starts_at, invite.ends_at);
            let tzid = invite.zone.name();
            [
                format!("DTSTART;TZID={tzid}:{}", local_stamp(start)),
                format!("DTEND;TZID={tzid}:{}", local_stamp(end)),
            ]
        }
        // A local time that happens twice (autumn) names its first
        // occurrence; a meeting touching the second one is written in UTC,
        // the one exact form left.
        _ => [
            format!("DTSTART:{}", utc_stamp(invite.starts_at)),
            format!("DTEND:{}", utc_stamp(invite.ends_at)),
        ],
    };
    out.push("BEGIN:VEVENT");
    out.push(&format!("UID:{}", uid(invite.meeting)));
    out.push(&format!("SEQUENCE:{}", sequence(invite.revision)));
    out.push(&format!("DTSTAMP:{}", utc_stamp(invite.stamp)));
    for line in &times {
        out.push(line);
    }
    out.push(&format!("SUMMARY:{}", escape_text(invite.summary)));
    if !invite.description.is_empty() {
        out.push(&format!("DESCRIPTION:{}", escape_text(invite.description)));
    }
    out.push(&format!(
        "ORGANIZER;CN={}:{}",
        param_value(invite.organizer.name),
        cal_address(&invite.organizer)
    ));
    for attendee in invite.attendees {
        out.push(&format!(
            "ATTENDEE;CN={};CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:{}",
            param_value(attendee.name),
            cal_address(attendee)
        ));
    }
    match invite.method {
        Method::Request => out.push("STATUS:CONFIRMED"),
        Method::Cancel => out.push("STATUS:CANCELLED"),
    }
    out.push("TRANSP:OPAQUE");
    out.push("END:VEVENT");
    out.push("END:VCALENDAR");
    out.0
}

/// Content lines, each folded and ended with CRLF.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn push(&mut self, line: &str) {
        self.0.push_str(&fold(line));
        self.0.push_str("\r\n");
    }
}

/// Folds a content line (RFC 5545 §3.1): at most 75 octets per physical
/// line, continuations starting with one space (counted in their 75), never
/// inside a UTF-8 character.
fn fold(line: &str) -> String {
    let mut folded = String::with_capacity(line.len() + line.len() / 24);
    let mut rest = line;
    let mut budget = LINE_OCTETS;
    while rest.len() > budget {
        let mut cut = budget;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        folded.push_str(&rest[..cut]);
        folded.push_str("\r\n ");
        rest = &rest[cut..];
        budget = LINE_OCTETS - 1;
    }
    folded.push_str(rest);
    folded
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line
/// breaks escaped; other control characters, which TEXT cannot hold,
/// dropped.
fn escape_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => escaped.push_str("\\n"),
            '\t' => escaped.push('\t'),
            c if c.is_control() => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// A parameter value (RFC 5545 §3.2): quoted when it holds `:`, `;` or
/// `,`; a double quote, which no parameter value can hold, becomes a single
/// one, and control characters a space.
fn param_value(value: &str) -> String {
    let clean: String = value
        .chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// Percent-encodes what a `mailto:` URI cannot carry as is (RFC 6068), and
/// the separators an iCalendar reader might trip over.
fn percent_encode(address: &str) -> String {
    let mut encoded = String::with_capacity(address.len());
    for byte in address.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'*+=@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn utc_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local_stamp(local: NaiveDateTime) -> String {
    local.format("%Y%m%dT%H%M%S").to_string()
}

/// `at` as a wall-clock time in `zone`, if that wall-clock time names
/// `at` (its first occurrence); `None` for the second pass through a
/// repeated hour.
fn local_form(zone: Tz, at: DateTime<Utc>) -> Option<NaiveDateTime> {
    let local = at.with_timezone(&zone).naive_local();
    let first = zone.from_local_datetime(&local).earliest()?;
    (first.with_timezone(&Utc) == at).then_some(local)
}

/// A zone's state at one instant: total offset and DST part, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Period {
    offset: i32,
    dst: i64,
}

fn period_at(zone: Tz, at: i64) -> Period {
    let offset = zone.offset_from_utc_datetime(&instant(at).naive_utc());
    Period {
        offset: offset.fix().local_minus_utc(),
        dst: offset.dst_offset().num_seconds(),
    }
}

fn abbreviation_at(zone: Tz, at: i64) -> Option<String> {
    zone.offset_from_utc_datetime(&instant(at).naive_utc())
        .abbreviation()
        .map(str::to_owned)
}

fn instant(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(at, 0).unwrap_or_default()
}

/// The instant (Unix seconds) the period in force at `at` began, if the
/// zone changed its offset within [`LOOKBACK_DAYS`] before `at`.
fn onset(zone: Tz, at: i64) -> Option<i64> {
    let period = period_at(zone, at);
    let mut same = at;
    let mut other = None;
    for day in 1..=LOOKBACK_DAYS {
        let probe = at - day * 86_400;
        if period_at(zone, probe) == period {
            same = probe;
        } else {
            other = Some(probe);
            break;
        }
    }
    let mut before = other?;
    // `before` is in another period, `same` in this one: bisect to the second.
    while same - before > 1 {
        let middle = before + (same - before) / 2;
        if period_at(zone, middle) == period {
            same = middle;
        } else {
            before = middle;
        }
    }
    Some(same)
}

/// Writes the `VTIMEZONE` of `zone` for a meeting from `start` to `end`:
/// one observance per offset change that shapes those times (the one in
/// force at the start, any during the meeting) plus the one before, so
/// the usual standard/daylight pair is there; a zone without recent
/// changes gets one fixed observance.
fn timezone(out: &mut Lines, zone: Tz, start: DateTime<Utc>, end: DateTime<Utc>) {
    let start = start.timestamp();
    let mut onsets = Vec::new();
    let mut at = end.timestamp();
    while onsets.len() < MAX_OBSERVANCES {
        let Some(began) = onset(zone, at) else { break };
        onsets.push(began);
        if began <= start {
            if let Some(earlier) = onset(zone, began - 1) {
                onsets.push(earlier);
            }
            break;
        }
        at = began - 1;
    }
    onsets.sort_unstable();
    onsets.dedup();
    out.push("BEGIN:VTIMEZONE");
    out.push(&format!("TZID:{}", zone.name()));
    if onsets.is_empty() {
        let period = period_at(zone, start);
        observance(out, zone, start, period, period, "19700101T000000");
    }
    for began in onsets {
        let before = period_at(zone, began - 1);
        let after = period_at(zone, began);
        let local =
            instant(began).naive_utc() + chrono::TimeDelta::seconds(i64::from(before.offset));
        observance(out, zone, began, before, after, &local_stamp(local));
    }
    out.push("END:VTIMEZONE");
}

fn observance(out: &mut Lines, zone: Tz, at: i64, from: Period, to: Period, local_start: &str) {
    let kind = if to.dst == 0 { "STANDARD" } else { "DAYLIGHT" };
    out.push(&format!("BEGIN:{kind}"));
    out.push(&format!("DTSTART:{local_start}"));
    out.push(&format!("TZOFFSETFROM:{}", utc_offset(from.offset)));
    out.push(&format!("TZOFFSETTO:{}", utc_offset(to.offset)));
    if let Some(name) = abbreviation_at(zone, at) {
        out.push(&format!("TZNAME:{}", escape_text(&name)));
    }
    out.push(&format!("END:{kind}"));
}

/// `+0200`, `-0330`, `+053028` (seconds only when there are any).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let total = seconds.unsigned_abs();
    let (hours, minutes, secs) = (total / 3600, total % 3600 / 60, total % 60);
    if secs == 0 {
        format!("{sign}{hours:02}{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}{secs:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    const OWNER: Party<'static> = Party {
        user: UserId(1),
        name: "Olga Owner",
        email: Some("olga@example.com"),
    };
    const MANAGER: [Party<'static>; 1] = [Party {
        user: UserId(2),
        name: "Max Manager",
        email: None,
    }];

    fn invite(
        zone: Tz,
        starts_at: DateTime<Utc>,
        revision: i32,
        method: Method,
    ) -> Invite<'static> {
        Invite {
            meeting: MeetingId(42),
            revision,
            method,
            starts_at,
            ends_at: starts_at + TimeDelta::hours(1),
            stamp: utc(2026, 1, 5, 8, 30),
            zone,
            summary: "Meeting with Olga Owner",
            description: "Booked in the bot",
            organizer: OWNER,
            attendees: &MANAGER,
        }
    }

    /// Unfolded content lines.
    fn lines(ics: &str) -> Vec<String> {
        ics.replace("\r\n ", "")
            .split("\r\n")
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn value<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
        lines
            .iter()
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                (key == name || key.starts_with(&format!("{name};"))).then_some(value)
            })
            .collect()
    }

    fn block<'a>(lines: &'a [String], kind: &str) -> Vec<Vec<&'a str>> {
        let mut blocks = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in lines {
            if *line == format!("BEGIN:{kind}") {
                current = Some(Vec::new());
            } else if *line == format!("END:{kind}") {
                blocks.extend(current.take());
            } else if let Some(block) = current.as_mut() {
                block.push(line);
            }
        }
        blocks
    }

    #[test]
    fn a_request_has_the_calendar_and_event_shape() {
        let ics = render(&invite(
            Tz::Europe__Moscow,
            utc(2026, 12, 1, 7, 0),
            1,
            Method::Request,
        ));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        assert!(
            !ics.replace("\r\n", "").contains('\n'),
            "only CRLF line ends"
        );
        let lines = lines(&ics);
        assert_eq!(lines[0], "BEGIN:VCALENDAR");
        assert_eq!(value(&lines, "PRODID"), [PRODID]);
        assert_eq!(value(&lines, "VERSION"), ["2.0"]);
        assert_eq!(value(&lines, "CALSCALE"), ["GREGORIAN"]);
        assert_eq!(value(&lines, "METHOD"), ["REQUEST"]);
        assert_eq!(block(&lines, "VEVENT").len(), 1);
        assert_eq!(value(&lines, "UID"), ["meeting-42@meeting-scheduler-bot"]);
        assert_eq!(value(&lines, "SEQUENCE"), ["0"]);
        assert_eq!(value(&lines, "DTSTAMP"), ["20260105T083000Z"]);
        assert!(lines.contains(&"DTSTART;TZID=Europe/Moscow:20261201T100000".to_owned()));
        assert!(lines.contains(&"DTEND;TZID=Europe/Moscow:20261201T110000".to_owned()));
        assert_eq!(value(&lines, "STATUS"), ["CONFIRMED"]);
        assert!(lines.contains(&"ORGANIZER;CN=Olga Owner:mailto:olga@example.com".to_owned()));
        assert_eq!(
            value(&lines, "ATTENDEE"),
            ["mailto:user-2@meeting-scheduler.invalid"],
            "no email: the stable, undeliverable stand-in"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("ATTENDEE;CN=Max Manager;") && l.contains("RSVP=FALSE"))
        );
        // Moscow has had no offset change for years: one fixed observance.
        let standard = block(&lines, "STANDARD");
        assert_eq!(standard.len(), 1);
        assert!(
            standard[0].contains(&"TZOFFSETFROM:+0300")
                && standard[0].contains(&"TZOFFSETTO:+0300")
        );
        assert!(block(&lines, "DAYLIGHT").is_empty());
    }

    #[test]
    fn long_utf8_summaries_fold_at_75_octets_between_characters() {
        let summary = "Встреча с Ольгой Владимировной Собственниковой 📅 — обсуждение квартального плана, бюджета; и всего остального";
        let mut meeting = invite(
            Tz::Europe__Berlin,
            utc(2026, 6, 1, 8, 0),
            1,
            Method::Request,
        );
        meeting.summary = summary;
        let ics = render(&meeting);
        for physical in ics.split("\r\n") {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical}",
                physical.len()
            );
        }
        let continuations = ics
            .split("\r\n")
            .skip_while(|line| !line.starts_with("SUMMARY:"))
            .skip(1)
            .take_while(|line| line.starts_with(' '))
            .count();
        assert!(
            continuations >= 2,
            "the summary spans several lines:\n{ics}"
        );
        let lines = lines(&ics);
        assert_eq!(value(&lines, "SUMMARY"), [escape_text(summary).as_str()]);

        // A three-octet character straddling octet 75 moves to the next line.
        let line = format!("{}€tail", "x".repeat(73));
        assert_eq!(fold(&line), format!("{}\r\n €tail", "x".repeat(73)));
        let exact = "y".repeat(75);
        assert_eq!(fold(&exact), exact, "75 octets fit on one line");
        let long = "z".repeat(75 + 74 + 1);
        assert_eq!(
            fold(&long),
            format!("{}\r\n {}\r\n z", "z".repeat(75), "z".repeat(74))
        );
    }

    #[test]
    fn text_values_are_escaped_and_parameters_quoted() {
        assert_eq!(
            escape_text("a;b,c\\d\ne\r\nf\u{7}g"),
            "a\\;b\\,c\\\\d\\ne\\nfg"
        );
        let organizer = Party {
            user: UserId(1),
            name: "Smith, \"Olga\"; CEO",
            email: Some("o%lga?x@example.com"),
        };
        let mut meeting = invite(Tz::UTC, utc(2026, 6, 1, 8, 0), 1, Method::Request);
        meeting.organizer = organizer;
        meeting.summary = "1:1; budget, plans\\notes";
        meeting.description = "Line one\nLine two";
        let lines = lines(&render(&meeting));
        assert_eq!(
            value(&lines, "SUMMARY"),
            ["1:1\\; budget\\, plans\\\\notes"]
        );
        assert_eq!(value(&lines, "DESCRIPTION"), ["Line one\\nLine two"]);
        assert!(
            lines.contains(
                &"ORGANIZER;CN=\"Smith, 'Olga'; CEO\":mailto:o%25lga%3Fx@example.com".to_owned()
            ),
            "{lines:#?}"
        );
    }

    #[test]
    fn berlin_times_carry_the_offsets_of_their_date() {
        // 25 Oct 2026: clocks go back from 03:00 CEST to 02:00 CET (01:00 UTC).
        let after_change = render(&invite(
            Tz::Europe__Berlin,
            utc(2026, 10, 25, 8, 0),
            1,
            Method::Request,
        ));
        let lines = lines(&after_change);
        assert!(lines.contains(&"DTSTART;TZID=Europe/Berlin:20261025T090000".to_owned()));
        assert!(lines.contains(&"DTEND;TZID=Europe/Berlin:20261025T100000".to_owned()));
        assert_eq!(value(&lines, "TZID"), ["Europe/Berlin"]);
        let standard = block(&lines, "STANDARD");
        assert_eq!(
            standard,
            [vec![
                "DTSTART:20261025T030000",
                "TZOFFSETFROM:+0200",
                "TZOFFSETTO:+0100",
                "TZNAME:CET"
            ]]
        );
        let daylight = block(&lines, "DAYLIGHT");
        assert_eq!(
            daylight,
            [vec![
                "DTSTART:20260329T020000",
                "TZOFFSETFROM:+0100",
                "TZOFFSETTO:+0200",
                "TZNAME:CEST"
            ]]
        );

        // In summer the same wall-clock hour is an hour earlier in UTC.
        let summer = lines_of(Tz::Europe__Berlin, utc(2026, 7, 1, 8, 0));
        assert!(summer.contains(&"DTSTART;TZID=Europe/Berlin:20260701T100000".to_owned()));
        assert_eq!(block(&summer, "DAYLIGHT").len(), 1);
    }

    fn lines_of(zone: Tz, starts_at: DateTime<Utc>) -> Vec<String> {
        lines(&render(&invite(zone, starts_at, 1, Method::Request)))
    }

    #[test]
    fn a_meeting_in_the_repeated_hour_is_written_in_utc() {
        // 00:30–01:30 UTC on 25 Oct 2026 is 02:30 CEST – 02:30 CET in Berlin:
        // the end's wall-clock time names the earlier instant.
        let lines = lines_of(Tz::Europe__Berlin, utc(2026, 10, 25, 0, 30));
        assert_eq!(value(&lines, "DTSTART"), ["20261025T003000Z"]);
        assert_eq!(value(&lines, "DTEND"), ["20261025T013000Z"]);
        assert!(
            block(&lines, "VTIMEZONE").is_empty(),
            "no TZID, no VTIMEZONE"
        );
    }

    #[test]
    fn the_uid_is_stable_and_the_sequence_follows_the_revision() {
        let first = lines(&render(&invite(
            Tz::Europe__Berlin,
            utc(2026, 6, 1, 8, 0),
            1,
            Method::Request,
        )));
        let mut moved = invite(Tz::Asia__Tokyo, utc(2026, 6, 2, 8, 0), 2, Method::Request);
        moved.summary = "Встреча";
        let moved = lines(&render(&moved));
        let cancelled = lines(&render(&invite(
            Tz::America__New_York,
            utc(2026, 6, 2, 8, 0),
            3,
            Method::Cancel,
        )));
        let event_uid = value(&first, "UID");
        assert_eq!(event_uid, ["meeting-42@meeting-scheduler-bot"]);
        assert_eq!(value(&moved, "UID"), event_uid);
        assert_eq!(value(&cancelled, "UID"), event_uid);
        assert_eq!(value(&first, "SEQUENCE"), ["0"]);
        assert_eq!(value(&moved, "SEQUENCE"), ["1"]);
        assert_eq!(value(&cancelled, "SEQUENCE"), ["2"]);
        assert_ne!(uid(MeetingId(43)), uid(MeetingId(42)));
    }

    #[test]
    fn a_cancel_names_the_same_event_as_cancelled() {
        let lines = lines(&render(&invite(
            Tz::Europe__Berlin,
            utc(2026, 6, 1, 8, 0),
            3,
            Method::Cancel,
        )));
        assert_eq!(value(&lines, "METHOD"), ["CANCEL"]);
        assert_eq!(value(&lines, "STATUS"), ["CANCELLED"]);
        assert_eq!(value(&lines, "SEQUENCE"), ["2"]);
        assert_eq!(value(&lines, "ORGANIZER").len(), 1);
        assert_eq!(value(&lines, "ATTENDEE").len(), 1);
        assert!(lines.contains(&"DTSTART;TZID=Europe/Berlin:20260601T100000".to_owned()));
    }

    #[test]
    fn fixed_and_odd_offsets_are_written_exactly() {
        let tokyo = lines_of(Tz::Asia__Tokyo, utc(2026, 3, 29, 0, 0));
        assert!(tokyo.contains(&"DTSTART;TZID=Asia/Tokyo:20260329T090000".to_owned()));
        assert_eq!(value(&tokyo, "TZOFFSETTO"), ["+0900"]);
        let newfoundland = lines_of(Tz::America__St_Johns, utc(2026, 12, 1, 15, 0));
        assert!(newfoundland.contains(&"DTSTART;TZID=America/St_Johns:20261201T113000".to_owned()));
        assert!(value(&newfoundland, "TZOFFSETTO").contains(&"-0330"));
        assert_eq!(utc_offset(19_828), "+053028");
        assert_eq!(utc_offset(0), "+0000");
    }

    #[test]
    fn what_a_meeting_owes_its_calendars() {
        let now = utc(2026, 6, 1, 8, 0);
        let later = now + TimeDelta::hours(3);
        let earlier = now - TimeDelta::hours(3);
        use MeetingStatus::*;
        assert_eq!(
            owed(Scheduled, 1, None, later, now),
            Owed::Send(Method::Request)
        );
        assert_eq!(
            owed(Scheduled, 2, Some(1), later, now),
            Owed::Send(Method::Request)
        );
        assert_eq!(owed(Scheduled, 2, Some(2), later, now), Owed::UpToDate);
        assert_eq!(
            owed(Scheduled, 1, None, earlier, now),
            Owed::Nothing,
            "over already"
        );
        assert_eq!(
            owed(Cancelled, 3, Some(2), later, now),
            Owed::Send(Method::Cancel)
        );
        assert_eq!(
            owed(Cancelled, 2, None, later, now),
            Owed::Nothing,
            "never sent"
        );
        assert_eq!(owed(Cancelled, 2, Some(2), later, now), Owed::UpToDate);
        assert_eq!(owed(Completed, 2, Some(1), earlier, now), Owed::Nothing);
        assert_eq!(owed(NoShow, 1, None, earlier, now), Owed::Nothing);
    }
}
