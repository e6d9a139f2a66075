//! Localized dates and times as people read them: weekday names from the
//! catalogues, times in the reader's own zone. The results carry no markup,
//! so they fit an HTML message and a plain-text `.ics` file alike.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

use super::t;
use crate::domain::user::Language;

/// The short weekday name of `date`: "Tue" / "Вт".
pub fn weekday_short(language: Language, date: NaiveDate) -> String {
    let iso = date.weekday().number_from_monday();
    t(language, &format!("availability.day_short.{iso}"), &[])
}

/// A meeting's time for a reader in `zone`:
/// "Tue 01.12.2026, 10:00–11:00 (Europe/Moscow)".
pub fn meeting_when(
    language: Language,
    zone: Tz,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
) -> String {
    let starts = starts_at.with_timezone(&zone);
    let ends = ends_at.with_timezone(&zone);
    t(
        language,
        "meeting.when",
        &[
            ("weekday", &weekday_short(language, starts.date_naive())),
            ("date", &starts.format("%d.%m.%Y").to_string()),
            ("from", &starts.format("%H:%M").to_string()),
            ("to", &ends.format("%H:%M").to_string()),
            ("zone", zone.name()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_meeting_reads_in_the_reader_s_zone_and_language() {
        let starts = Utc.with_ymd_and_hms(2026, 12, 1, 7, 0, 0).unwrap();
        let ends = starts + chrono::TimeDelta::hours(1);
        assert_eq!(
            meeting_when(Language::En, Tz::Europe__Moscow, starts, ends),
            "Tue 01.12.2026, 10:00–11:00 (Europe/Moscow)"
        );
        assert_eq!(
            meeting_when(Language::Ru, Tz::Asia__Tokyo, starts, ends),
            "Вт 01.12.2026, 16:00–17:00 (Asia/Tokyo)"
        );
    }
}
