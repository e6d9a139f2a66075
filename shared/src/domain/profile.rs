//! Self-service rules as pure functions: what counts as an email address,
//! which time zones are offered and how a typed one is read, the "until"
//! date of an absence, when an absence is over, and the callback data of
//! every `/profile` and `/language` button. Names are checked by the
//! registration rules (`registration::PersonName`), not by rules of their
//! own.
//!
//! ```text
//! manager: /profile
//! bot:     👤 Anna Smith … Department: IT … Email: not set … Status: working
//!          [✏️ Name] [🏢 Department] [✉️ Email] [🌐 Language] [🕒 Time zone] [📍 Status]
//! manager: (presses 🏢 Department, then HR)            → prf:dept / prf:dept:3
//! bot:     ✅ Department: HR. … Department: HR
//! manager: (presses 📍 Status, then 🌴 Vacation)        → prf:ws / prf:ws:vacation
//! bot:     Until when? Type the last day (DD.MM.YYYY)   [No end date]
//! manager: 31.02.2027
//! bot:     ⚠️ There is no such date. … Until when?
//! manager: 14.01.2027
//! bot:     ✅ Saved. … Status: 🌴 vacation, until 14.01.2027 inclusive
//! worker:  (on 15.01.2027 in Anna's zone) 👋 Your vacation is over … working again
//! ```

use std::str::FromStr;

use chrono::{DateTime, Months, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::db::types::DepartmentId;
use crate::domain::callback::canonical_id;
use crate::domain::registration::MAX_CALLBACK_BYTES;
use crate::domain::user::{Language, WorkStatus};

/// Longest email address accepted (the limit of RFC 5321 paths, and the
/// database's CHECK).
pub const MAX_EMAIL_CHARS: usize = 254;

/// An email address fit for calendar invitations: one `@`, a plain local
/// part, a domain with a dot, no spaces, at most [`MAX_EMAIL_CHARS`]
/// characters; the domain is stored in lower case (it is case-insensitive,
/// the local part is not). Internationalised addresses are not accepted:
/// calendar invitations need the ASCII (punycode) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

/// Why an email address was refused, so the user can fix it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the address is empty")]
    Empty,
    #[error("the address has {chars} characters; at most {MAX_EMAIL_CHARS} are allowed")]
    TooLong { chars: usize },
    #[error("the address contains spaces or line breaks")]
    Spaces,
    #[error("the address needs exactly one @")]
    AtSign,
    #[error("nothing before the @")]
    EmptyLocalPart,
    #[error("the address contains characters an email address cannot have")]
    Characters,
    #[error("the part after the @ is not a domain such as example.com")]
    Domain,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        let chars = text.chars().count();
        if chars > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong { chars });
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Spaces);
        }
        let mut parts = text.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::AtSign);
        };
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        if !local.chars().all(is_local_char) || !domain.chars().all(is_domain_char) {
            return Err(EmailError::Characters);
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(EmailError::Characters);
        }
        let domain = domain.to_ascii_lowercase();
        if !is_domain(&domain) {
            return Err(EmailError::Domain);
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 5322 `atext` and the dot: what an unquoted local part may hold.
fn is_local_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.'
}

/// Dot-separated labels of letters, digits and inner hyphens, at least two,
/// the last one not numeric (so `1.2.3.4` is not taken for a domain).
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.iter().all(|label| {
        (1..=63).contains(&label.len()) && !label.starts_with('-') && !label.ends_with('-')
    });
    let top_ok = labels
        .last()
        .is_some_and(|top| top.len() >= 2 && !top.bytes().all(|b| b.is_ascii_digit()));
    labels.len() >= 2 && labels_ok && top_ok && domain.len() <= 253
}

/// Zones offered as buttons besides the company zone: the Russian zones
/// from west to east, then the usual foreign offices.
pub const COMMON_ZONES: &[Tz] = &[
    chrono_tz::Europe::Kaliningrad,
    chrono_tz::Europe::Moscow,
    chrono_tz::Europe::Samara,
    chrono_tz::Asia::Yekaterinburg,
    chrono_tz::Asia::Omsk,
    chrono_tz::Asia::Novosibirsk,
    chrono_tz::Asia::Irkutsk,
    chrono_tz::Asia::Vladivostok,
    chrono_tz::Europe::London,
    chrono_tz::Europe::Berlin,
    chrono_tz::Asia::Dubai,
    chrono_tz::America::New_York,
];

/// The zone buttons: the company zone first, then [`COMMON_ZONES`] without
/// repeating it.
pub fn zone_choices(company_zone: Tz) -> Vec<Tz> {
    let mut zones = vec![company_zone];
    zones.extend(COMMON_ZONES.iter().filter(|&&z| z != company_zone));
    zones
}

/// Longest text read as a zone name (the longest IANA name has 32).
pub const MAX_ZONE_CHARS: usize = 64;

/// Why a typed zone name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("no zone name given")]
    Empty,
    #[error("not an IANA time zone name")]
    Unknown,
}

/// A zone name as typed: trimmed, any letter case (`europe/moscow` is
/// `Europe/Moscow`).
pub fn parse_zone_name(raw: &str) -> Result<Tz, ZoneError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ZoneError::Empty);
    }
    if text.chars().count() > MAX_ZONE_CHARS {
        return Err(ZoneError::Unknown);
    }
    if let Ok(zone) = Tz::from_str(text) {
        return Ok(zone);
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .find(|zone| zone.name().eq_ignore_ascii_case(text))
        .copied()
        .ok_or(ZoneError::Unknown)
}

/// A stored zone name; `fallback` for a name this build does not know (the
/// zone database changes between releases).
pub fn stored_zone(name: &str, fallback: Tz) -> Tz {
    Tz::from_str(name).unwrap_or(fallback)
}

/// The calendar date at `now` in `zone`.
pub fn local_today(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone).date_naive()
}

/// The latest date it can be anywhere on Earth at `now` (UTC+14): no
/// absence whose last day is on or after it can be over yet, whatever the
/// user's zone. Narrows the database query before the per-zone check.
pub fn latest_today_anywhere(now: DateTime<Utc>) -> NaiveDate {
    now.checked_add_signed(chrono::TimeDelta::hours(14))
        .unwrap_or(now)
        .date_naive()
}

/// Whether an absence whose last day is `until` is over for someone whose
/// date is `today`: the day after `until` has begun.
pub fn absence_over(until: NaiveDate, today: NaiveDate) -> bool {
    until < today
}

/// Whether an absence ending on `until` is over at `now` for someone in the
/// zone stored as `zone_name` (UTC if this build does not know the name).
pub fn absence_over_at(until: NaiveDate, zone_name: &str, now: DateTime<Utc>) -> bool {
    absence_over(until, local_today(stored_zone(zone_name, Tz::UTC), now))
}

/// How far ahead an absence may be planned.
pub const MAX_AWAY_MONTHS: u32 = 12;

/// Why a typed "until" date was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UntilError {
    #[error("not a date in the form DD.MM.YYYY or YYYY-MM-DD")]
    Format,
    #[error("no such day in the calendar")]
    NoSuchDay,
    #[error("the date has passed")]
    Past,
    #[error("the date is more than a year ahead (latest {latest})")]
    TooFar { latest: NaiveDate },
}

/// The last day of an absence, typed as `DD.MM.YYYY` (one-digit day and
/// month allowed) or `YYYY-MM-DD`: from `today` (the user's date) to a year
/// ahead.
pub fn parse_until(raw: &str, today: NaiveDate) -> Result<NaiveDate, UntilError> {
    let text = raw.trim();
    let (year, month, day) = if let Some((d, m, y)) = split3(text, '.') {
        (y, m, d)
    } else if let Some((y, m, d)) = split3(text, '-') {
        (y, m, d)
    } else {
        return Err(UntilError::Format);
    };
    let field = |s: &str, min: usize, max: usize| -> Result<u32, UntilError> {
        let ok = (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if ok {
            s.parse().map_err(|_| UntilError::Format)
        } else {
            Err(UntilError::Format)
        }
    };
    let year = field(year, 4, 4)?;
    let month = field(month, 1, 2)?;
    let day = field(day, 1, 2)?;
    let year = i32::try_from(year).map_err(|_| UntilError::Format)?;
    let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(UntilError::NoSuchDay)?;
    if date < today {
        return Err(UntilError::Past);
    }
    let latest = latest_until(today);
    if date > latest {
        return Err(UntilError::TooFar { latest });
    }
    Ok(date)
}

/// The furthest "until" date allowed for someone whose date is `today`.
pub fn latest_until(today: NaiveDate) -> NaiveDate {
    today
        .checked_add_months(Months::new(MAX_AWAY_MONTHS))
        .unwrap_or(NaiveDate::MAX)
}

/// `a<sep>b<sep>c`, exactly three parts.
fn split3(text: &str, sep: char) -> Option<(&str, &str, &str)> {
    let mut parts = text.split(sep);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), Some(c), None) => Some((a, b, c)),
        _ => None,
    }
}

/// The statuses that mean "away" (everything but working).
pub const AWAY: [WorkStatus; 3] = [
    WorkStatus::Vacation,
    WorkStatus::SickLeave,
    WorkStatus::BusinessTrip,
];

/// A `/profile` or `/language` button. The data is `prf:` + what
/// [`ProfileCallback::data`] writes; [`ProfileCallback::parse`] takes what
/// follows `prf:` and accepts exactly those forms, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileCallback {
    /// `prf:menu`: the profile itself (back from a sub-menu).
    Menu,
    /// `prf:name`: asks for the first name, then the last name.
    Name,
    /// `prf:dept`: the department choice.
    Departments,
    /// `prf:dept:<department id>`: move to this department (looked up again
    /// on the server: it may have been retired since the buttons were shown,
    /// or the id forged).
    SetDepartment(DepartmentId),
    /// `prf:email`: asks for an email address.
    Email,
    /// `prf:email:rm`: removes the stored address.
    RemoveEmail,
    /// `prf:lang`: the language choice.
    Languages,
    /// `prf:lang:ru` / `prf:lang:en`: speak this language.
    SetLanguage(Language),
    /// `prf:tz`: the zone choice.
    Zones,
    /// `prf:tz:type`: asks for a zone name.
    TypeZone,
    /// `prf:tz:set:<IANA name>`: use this zone.
    SetZone(Tz),
    /// `prf:ws`: the work status choice.
    WorkStatuses,
    /// `prf:ws:<status>`: working is set at once; an absence asks "until".
    PickWorkStatus(WorkStatus),
    /// `prf:ws:open:<away status>`: an absence without an end date.
    AwayWithoutEnd(WorkStatus),
}

/// The prefix of every profile button's data (stripped by the router).
pub const PREFIX: &str = "prf:";

impl ProfileCallback {
    /// Reads what follows `prf:`; `None` for anything [`Self::data`] does
    /// not write.
    pub fn parse(rest: &str) -> Option<Self> {
        if rest.len() + PREFIX.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        let parsed = match rest {
            "menu" => Self::Menu,
            "name" => Self::Name,
            "dept" => Self::Departments,
            "email" => Self::Email,
            "email:rm" => Self::RemoveEmail,
            "lang" => Self::Languages,
            "tz" => Self::Zones,
            "tz:type" => Self::TypeZone,
            "ws" => Self::WorkStatuses,
            _ => {
                if let Some(id) = rest.strip_prefix("dept:") {
                    Self::SetDepartment(DepartmentId(canonical_id(id)?))
                } else if let Some(code) = rest.strip_prefix("lang:") {
                    Self::SetLanguage(exact::<Language>(code)?)
                } else if let Some(name) = rest.strip_prefix("tz:set:") {
                    let zone = Tz::from_str(name).ok()?;
                    (zone.name() == name).then_some(Self::SetZone(zone))?
                } else if let Some(status) = rest.strip_prefix("ws:open:") {
                    let status = exact::<WorkStatus>(status)?;
                    AWAY.contains(&status)
                        .then_some(Self::AwayWithoutEnd(status))?
                } else {
                    Self::PickWorkStatus(exact::<WorkStatus>(rest.strip_prefix("ws:")?)?)
                }
            }
        };
        Some(parsed)
    }

    /// The full callback data, `prf:` included.
    pub fn data(&self) -> String {
        let rest = match self {
            Self::Menu => "menu".to_owned(),
            Self::Name => "name".to_owned(),
            Self::Departments => "dept".to_owned(),
            Self::SetDepartment(id) => format!("dept:{id}"),
            Self::Email => "email".to_owned(),
            Self::RemoveEmail => "email:rm".to_owned(),
            Self::Languages => "lang".to_owned(),
            Self::SetLanguage(language) => format!("lang:{language}"),
            Self::Zones => "tz".to_owned(),
            Self::TypeZone => "tz:type".to_owned(),
            Self::SetZone(zone) => format!("tz:set:{}", zone.name()),
            Self::WorkStatuses => "ws".to_owned(),
            Self::PickWorkStatus(status) => format!("ws:{status}"),
            Self::AwayWithoutEnd(status) => format!("ws:open:{status}"),
        };
        format!("{PREFIX}{rest}")
    }
}

/// A stored enum by its exact stored name (`strum` would accept nothing
/// else either, but say so here: no case folding, no padding).
fn exact<T>(name: &str) -> Option<T>
where
    T: FromStr + Into<&'static str> + Copy,
{
    let value = T::from_str(name).ok()?;
    let stored: &'static str = value.into();
    (stored == name).then_some(value)
}

/// `UTC+3`, `UTC-3:30`, `UTC`: a zone's offset at `now`, as the profile
/// and the availability overview show it.
pub fn utc_offset(zone: Tz, now: DateTime<Utc>) -> String {
    let seconds = zone
        .offset_from_utc_datetime(&now.naive_utc())
        .fix()
        .local_minus_utc();
    if seconds == 0 {
        return "UTC".to_owned();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    match minutes % 60 {
        0 => format!("UTC{sign}{}", minutes / 60),
        rest => format!("UTC{sign}{}:{rest:02}", minutes / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_like_utc_plus_hours() {
        let winter: DateTime<Utc> = "2027-01-14T12:00:00Z".parse().unwrap();
        let summer: DateTime<Utc> = "2027-07-14T12:00:00Z".parse().unwrap();
        assert_eq!(utc_offset(chrono_tz::Europe::Moscow, winter), "UTC+3");
        assert_eq!(utc_offset(chrono_tz::Europe::Berlin, winter), "UTC+1");
        assert_eq!(utc_offset(chrono_tz::Europe::Berlin, summer), "UTC+2");
        assert_eq!(utc_offset(chrono_tz::Asia::Kolkata, winter), "UTC+5:30");
        assert_eq!(utc_offset(chrono_tz::America::St_Johns, winter), "UTC-3:30");
        assert_eq!(utc_offset(chrono_tz::UTC, winter), "UTC");
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn good_addresses_are_kept_with_a_lower_case_domain() {
        for (typed, stored) in [
            ("anna@example.com", "anna@example.com"),
            ("  Anna.Smith@Example.COM \n", "Anna.Smith@example.com"),
            (
                "o'brien&co+tag@mail.example.co.uk",
                "o'brien&co+tag@mail.example.co.uk",
            ),
            ("a@b.io", "a@b.io"),
            (
                "x_y-z@sub-domain.example.org",
                "x_y-z@sub-domain.example.org",
            ),
        ] {
            assert_eq!(
                Email::parse(typed).map(|e| e.0),
                Ok(stored.to_owned()),
                "{typed}"
            );
        }
    }

    #[test]
    fn bad_addresses_say_why() {
        let long = format!("{}@example.com", "a".repeat(5_000));
        for (typed, error) in [
            ("", EmailError::Empty),
            ("   \n ", EmailError::Empty),
            (long.as_str(), EmailError::TooLong { chars: 5_012 }),
            ("anna smith@example.com", EmailError::Spaces),
            ("anna@exa\tmple.com", EmailError::Spaces),
            ("anna.example.com", EmailError::AtSign),
            ("anna@@example.com", EmailError::AtSign),
            ("a@b@example.com", EmailError::AtSign),
            ("@example.com", EmailError::EmptyLocalPart),
            ("😀@example.com", EmailError::Characters),
            ("anna@пример.рф", EmailError::Characters),
            ("محمد@example.com", EmailError::Characters),
            ("anna\u{200F}@example.com", EmailError::Characters),
            ("<b>anna</b>@example.com", EmailError::Characters),
            ("anna@<b>example.com", EmailError::Characters),
            ("\"anna\"@example.com", EmailError::Characters),
            (".anna@example.com", EmailError::Characters),
            ("an..na@example.com", EmailError::Characters),
            ("anna@", EmailError::Domain),
            ("anna@localhost", EmailError::Domain),
            ("anna@example.", EmailError::Domain),
            ("anna@.example.com", EmailError::Domain),
            ("anna@exa..mple.com", EmailError::Domain),
            ("anna@-example.com", EmailError::Domain),
            ("anna@example.c", EmailError::Domain),
            ("anna@1.2.3.4", EmailError::Domain),
        ] {
            assert_eq!(Email::parse(typed), Err(error), "{typed:?}");
        }
    }

    #[test]
    fn the_length_limit_is_254_characters() {
        let domain = format!(
            "{}.{}.{}.com",
            "d".repeat(63),
            "e".repeat(63),
            "f".repeat(63)
        );
        let at_limit = format!(
            "{}@{domain}",
            "a".repeat(MAX_EMAIL_CHARS - 1 - domain.len())
        );
        assert_eq!(at_limit.len(), MAX_EMAIL_CHARS);
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("a{at_limit}");
        assert_eq!(Email::parse(&over), Err(EmailError::TooLong { chars: 255 }));
    }

    #[test]
    fn zone_names_are_read_in_any_case_and_unknown_ones_refused() {
        assert_eq!(
            parse_zone_name("Europe/Moscow"),
            Ok(chrono_tz::Europe::Moscow)
        );
        assert_eq!(parse_zone_name("  asia/tokyo "), Ok(chrono_tz::Asia::Tokyo));
        assert_eq!(parse_zone_name("UTC"), Ok(chrono_tz::UTC));
        assert_eq!(
            parse_zone_name("america/argentina/buenos_aires"),
            Ok(chrono_tz::America::Argentina::Buenos_Aires)
        );
        assert_eq!(parse_zone_name(""), Err(ZoneError::Empty));
        assert_eq!(parse_zone_name("Moscow"), Err(ZoneError::Unknown));
        assert_eq!(parse_zone_name("Europe/Atlantis"), Err(ZoneError::Unknown));
        assert_eq!(parse_zone_name("+03:00"), Err(ZoneError::Unknown));
        assert_eq!(parse_zone_name(&"x".repeat(5_000)), Err(ZoneError::Unknown));
    }

    #[test]
    fn the_company_zone_comes_first_and_once() {
        let zones = zone_choices(chrono_tz::Europe::Moscow);
        assert_eq!(zones[0], chrono_tz::Europe::Moscow);
        assert_eq!(zones.len(), COMMON_ZONES.len());
        let zones = zone_choices(chrono_tz::Asia::Tokyo);
        assert_eq!(zones[0], chrono_tz::Asia::Tokyo);
        assert_eq!(zones.len(), COMMON_ZONES.len() + 1);
    }

    #[test]
    fn the_local_date_depends_on_the_zone() {
        let now = "2027-01-14T22:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            local_today(chrono_tz::Europe::London, now),
            date(2027, 1, 14)
        );
        assert_eq!(
            local_today(chrono_tz::Europe::Moscow, now),
            date(2027, 1, 15)
        );
        assert_eq!(
            local_today(chrono_tz::America::New_York, now),
            date(2027, 1, 14)
        );
        assert_eq!(latest_today_anywhere(now), date(2027, 1, 15));
        // Over in Moscow (the 15th began), not yet in London.
        let until = date(2027, 1, 14);
        assert!(absence_over(
            until,
            local_today(chrono_tz::Europe::Moscow, now)
        ));
        assert!(!absence_over(
            until,
            local_today(chrono_tz::Europe::London, now)
        ));
        assert!(until < latest_today_anywhere(now));
    }

    #[test]
    fn until_dates_are_read_in_both_forms_within_a_year() {
        let today = date(2026, 11, 25);
        assert_eq!(parse_until("14.01.2027", today), Ok(date(2027, 1, 14)));
        assert_eq!(parse_until(" 4.1.2027 ", today), Ok(date(2027, 1, 4)));
        assert_eq!(parse_until("2027-01-14", today), Ok(date(2027, 1, 14)));
        assert_eq!(parse_until("25.11.2026", today), Ok(today));
        assert_eq!(parse_until("2027-11-25", today), Ok(date(2027, 11, 25)));
        assert_eq!(
            parse_until("26.11.2027", today),
            Err(UntilError::TooFar {
                latest: date(2027, 11, 25)
            })
        );
        assert_eq!(parse_until("24.11.2026", today), Err(UntilError::Past));
        assert_eq!(parse_until("31.02.2027", today), Err(UntilError::NoSuchDay));
        assert_eq!(parse_until("2027-13-01", today), Err(UntilError::NoSuchDay));
        for bad in [
            "",
            "tomorrow",
            "14/01/2027",
            "14.01.27",
            "14.01",
            "2027-1-1-1",
            "+4.01.2027",
            "١٤.٠١.٢٠٢٧",
            "14.001.2027",
            "14 .01.2027",
        ] {
            assert_eq!(parse_until(bad, today), Err(UntilError::Format), "{bad:?}");
        }
    }

    #[test]
    fn every_button_round_trips_within_telegram_s_limit() {
        let mut all = vec![
            ProfileCallback::Menu,
            ProfileCallback::Name,
            ProfileCallback::Departments,
            ProfileCallback::SetDepartment(DepartmentId(1)),
            ProfileCallback::SetDepartment(DepartmentId(42)),
            ProfileCallback::SetDepartment(DepartmentId(999_999_999_999_999_999)),
            ProfileCallback::Email,
            ProfileCallback::RemoveEmail,
            ProfileCallback::Languages,
            ProfileCallback::SetLanguage(Language::Ru),
            ProfileCallback::SetLanguage(Language::En),
            ProfileCallback::Zones,
            ProfileCallback::TypeZone,
            ProfileCallback::WorkStatuses,
            ProfileCallback::PickWorkStatus(WorkStatus::Working),
        ];
        all.extend(
            chrono_tz::TZ_VARIANTS
                .iter()
                .map(|&z| ProfileCallback::SetZone(z)),
        );
        for status in AWAY {
            all.push(ProfileCallback::PickWorkStatus(status));
            all.push(ProfileCallback::AwayWithoutEnd(status));
        }
        for callback in all {
            let data = callback.data();
            assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
            let rest = data.strip_prefix(PREFIX).unwrap();
            assert_eq!(ProfileCallback::parse(rest), Some(callback), "{data}");
        }
        assert_eq!(
            ProfileCallback::SetZone(chrono_tz::Europe::Moscow).data(),
            "prf:tz:set:Europe/Moscow"
        );
        assert_eq!(
            ProfileCallback::AwayWithoutEnd(WorkStatus::SickLeave).data(),
            "prf:ws:open:sick_leave"
        );
        assert_eq!(ProfileCallback::Name.data(), "prf:name");
        assert_eq!(ProfileCallback::Departments.data(), "prf:dept");
        assert_eq!(
            ProfileCallback::SetDepartment(DepartmentId(7)).data(),
            "prf:dept:7"
        );
    }

    #[test]
    fn department_ids_are_read_in_canonical_form_only() {
        assert_eq!(
            ProfileCallback::parse("dept:5"),
            Some(ProfileCallback::SetDepartment(DepartmentId(5)))
        );
        assert_eq!(
            ProfileCallback::parse("dept:1234567890"),
            Some(ProfileCallback::SetDepartment(DepartmentId(1_234_567_890)))
        );
        for rest in [
            "dept:",
            "dept:0",
            "dept:05",
            "dept:-5",
            "dept:+5",
            "dept: 5",
            "dept:5 ",
            "dept:5:1",
            "dept:5a",
            "dept:0x5",
            "dept:١",
            "dept:1000000000000000000",
            "dept:99999999999999999999",
            "dept:IT",
            "Dept:5",
            "dept5",
            "name:",
            "name:x",
            "Name",
            "dept:dept:5",
        ] {
            assert_eq!(ProfileCallback::parse(rest), None, "{rest:?}");
        }
    }

    #[test]
    fn forged_data_is_refused() {
        for rest in [
            "",
            "menu:",
            "Menu",
            " menu",
            "email:rm:1",
            "lang:",
            "lang:de",
            "lang:RU",
            "lang:ru:x",
            "tz:",
            "tz:set:",
            "tz:set:europe/moscow",
            "tz:set:Europe/Atlantis",
            "tz:set:Europe/Moscow:x",
            "tz:Europe/Moscow",
            "ws:",
            "ws:holiday",
            "ws:Vacation",
            "ws:vacation:2027-01-01",
            "ws:open:",
            "ws:open:working",
            "ws:open:vacation:x",
            "prf:menu",
        ] {
            assert_eq!(ProfileCallback::parse(rest), None, "{rest:?}");
        }
        assert_eq!(ProfileCallback::parse(&"m".repeat(100)), None);
    }
}
