//! The company rules that bound when any slot may start: minimum notice,
//! horizon and weekends. Taken from `BookingSettings` and "now" so the slot
//! functions never read a clock.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::settings::BookingSettings;

/// When slots may start, for one computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive: a slot starting exactly at now + minimum notice is offered.
    pub starts_from: DateTime<Utc>,
    /// Exclusive: the horizon counts whole 24-hour days from now, so a slot
    /// starting exactly at now + horizon is not offered.
    pub starts_before: DateTime<Utc>,
    /// When false, Saturday and Sunday of each owner's OWN calendar are
    /// skipped (an owner in Auckland is off on their Saturday, which is
    /// still Friday in UTC).
    pub weekends_enabled: bool,
}

impl Window {
    /// The product rule: from now + minimum notice, for `horizon_days` days.
    /// Bounds that would overflow the calendar saturate, so no input panics.
    pub fn from_settings(now: DateTime<Utc>, settings: &BookingSettings) -> Self {
        let after = |delta: TimeDelta| {
            now.checked_add_signed(delta)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        Self {
            starts_from: after(settings.min_notice),
            starts_before: after(TimeDelta::days(i64::from(settings.horizon_days))),
            weekends_enabled: settings.weekends_enabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn product_defaults_give_two_hours_notice_and_fourteen_days() {
        let now = Utc.with_ymd_and_hms(2025, 6, 2, 8, 0, 0).unwrap();
        let window = Window::from_settings(now, &BookingSettings::product_defaults());
        assert_eq!(
            window.starts_from,
            Utc.with_ymd_and_hms(2025, 6, 2, 10, 0, 0).unwrap()
        );
        assert_eq!(
            window.starts_before,
            Utc.with_ymd_and_hms(2025, 6, 16, 8, 0, 0).unwrap()
        );
        assert!(!window.weekends_enabled);
    }

    #[test]
    fn bounds_near_the_end_of_time_saturate() {
        let window = Window::from_settings(
            DateTime::<Utc>::MAX_UTC,
            &BookingSettings::product_defaults(),
        );
        assert_eq!(window.starts_from, DateTime::<Utc>::MAX_UTC);
        assert_eq!(window.starts_before, DateTime::<Utc>::MAX_UTC);
    }
}
