//! Booking settings: the company-wide rules admins can change in `/admin`.
//!
//! Defaults come from the environment (see `crate::config`), the live values
//! from the `booking_settings` row.

use chrono::{NaiveTime, TimeDelta};
use serde::{Deserialize, Serialize};

stored_enum! {
    /// Whether a manager books one owner at a time or all owners together.
    pub enum BookingMode {
        Single,
        Collective,
    }
}

stored_enum! {
    /// The calendar period the per-manager booking limit counts over.
    pub enum LimitPeriod {
        /// ISO week, Monday to Sunday, in the company zone.
        Week,
        /// Calendar month in the company zone.
        Month,
    }
}

/// Company-wide booking rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookingSettings {
    /// How far ahead slots are offered.
    pub horizon_days: u16,
    /// How soon a slot may start after booking.
    pub min_notice: TimeDelta,
    /// Until how long before the start a manager may cancel.
    pub cancel_notice: TimeDelta,
    /// Whether Saturday and Sunday slots are offered.
    pub weekends_enabled: bool,
    /// Meetings one manager may book per period, across all owners.
    pub limit_per_period: u16,
    pub limit_period: LimitPeriod,
    pub mode: BookingMode,
    /// A manager is due for the next meeting this long after the last one.
    pub cadence_days: u16,
    /// Reminders go out this long before a meeting, largest first.
    pub reminder_offsets: Vec<TimeDelta>,
    /// Local time (company zone) of the daily overdue report.
    pub overdue_report_at: NaiveTime,
}

/// A booking setting outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct SettingsError {
    pub field: &'static str,
    pub problem: String,
}

impl BookingSettings {
    pub const MAX_HORIZON_DAYS: u16 = 365;
    pub const MAX_CADENCE_DAYS: u16 = 365;
    pub const MAX_LIMIT: u16 = 100;
    pub const MAX_REMINDERS: usize = 5;
    pub const MAX_NOTICE: TimeDelta = TimeDelta::days(30);

    /// The product's documented defaults.
    pub fn product_defaults() -> Self {
        Self {
            horizon_days: 14,
            min_notice: TimeDelta::hours(2),
            cancel_notice: TimeDelta::hours(2),
            weekends_enabled: false,
            limit_per_period: 1,
            limit_period: LimitPeriod::Week,
            mode: BookingMode::Single,
            cadence_days: 14,
            reminder_offsets: vec![TimeDelta::hours(24), TimeDelta::hours(1)],
            overdue_report_at: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        }
    }

    /// Checks ranges and normalises the reminder offsets (unique, largest
    /// first), so stored settings are always usable.
    pub fn validated(mut self) -> Result<Self, SettingsError> {
        let fail = |field, problem: &str| {
            Err(SettingsError {
                field,
                problem: problem.to_owned(),
            })
        };
        if !(1..=Self::MAX_HORIZON_DAYS).contains(&self.horizon_days) {
            return fail("horizon_days", "must be between 1 and 365 days");
        }
        if !(1..=Self::MAX_CADENCE_DAYS).contains(&self.cadence_days) {
            return fail("cadence_days", "must be between 1 and 365 days");
        }
        if !(1..=Self::MAX_LIMIT).contains(&self.limit_per_period) {
            return fail("limit_per_period", "must be between 1 and 100");
        }
        for (field, notice) in [
            ("min_notice", self.min_notice),
            ("cancel_notice", self.cancel_notice),
        ] {
            if notice < TimeDelta::zero() || notice > Self::MAX_NOTICE {
                return fail(field, "must be between 0 and 30 days");
            }
        }
        self.reminder_offsets.sort_unstable_by(|a, b| b.cmp(a));
        self.reminder_offsets.dedup();
        if self.reminder_offsets.len() > Self::MAX_REMINDERS {
            return fail("reminder_offsets", "at most 5 reminders");
        }
        if self
            .reminder_offsets
            .iter()
            .any(|o| *o < TimeDelta::minutes(1) || *o > Self::MAX_NOTICE)
        {
            return fail(
                "reminder_offsets",
                "each must be between 1 minute and 30 days",
            );
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_defaults_are_valid() {
        let defaults = BookingSettings::product_defaults();
        assert_eq!(defaults.clone().validated(), Ok(defaults));
    }

    #[test]
    fn reminder_offsets_are_sorted_and_deduplicated() {
        let settings = BookingSettings {
            reminder_offsets: vec![
                TimeDelta::hours(1),
                TimeDelta::hours(24),
                TimeDelta::hours(1),
            ],
            ..BookingSettings::product_defaults()
        }
        .validated()
        .map(|s| s.reminder_offsets);
        assert_eq!(
            settings,
            Ok(vec![TimeDelta::hours(24), TimeDelta::hours(1)])
        );
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let cases = [
            BookingSettings {
                horizon_days: 0,
                ..BookingSettings::product_defaults()
            },
            BookingSettings {
                limit_per_period: 0,
                ..BookingSettings::product_defaults()
            },
            BookingSettings {
                min_notice: TimeDelta::hours(-1),
                ..BookingSettings::product_defaults()
            },
            BookingSettings {
                reminder_offsets: vec![TimeDelta::seconds(5)],
                ..BookingSettings::product_defaults()
            },
        ];
        let fields: Vec<_> = cases
            .into_iter()
            .map(|c| c.validated().err().map(|e| e.field))
            .collect();
        assert_eq!(
            fields,
            [
                Some("horizon_days"),
                Some("limit_per_period"),
                Some("min_notice"),
                Some("reminder_offsets")
            ]
        );
    }
}
