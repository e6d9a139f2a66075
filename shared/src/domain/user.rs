//! Who a user is to the bot: application status, role, availability, language.

stored_enum! {
    /// Where a user stands with their application.
    pub enum Status {
        /// Registered and waiting for an admin's decision.
        Pending,
        /// Approved; has a role.
        Active,
        /// Turned down; may apply again.
        Rejected,
        /// Access withdrawn by an admin; may not apply again.
        Removed,
    }
}

stored_enum! {
    /// What an active user does: books time (manager) or offers it (owner).
    pub enum Role {
        Manager,
        Owner,
    }
}

stored_enum! {
    /// A manager's availability; anything but `Working` pauses nudges and booking.
    pub enum WorkStatus {
        Working,
        Vacation,
        SickLeave,
        BusinessTrip,
    }
}

stored_enum! {
    /// The two languages the bot speaks.
    pub enum Language {
        Ru,
        En,
    }
}

impl Language {
    /// Telegram's `language_code` (an IETF tag such as `ru-RU`): Russian for
    /// any `ru…`, English for everything else, including no code at all.
    pub fn from_telegram_code(code: Option<&str>) -> Self {
        match code {
            Some(code) if code.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("ru")) => Self::Ru,
            _ => Self::En,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use strum::VariantArray;

    #[test]
    fn telegram_language_codes_map_to_russian_or_english() {
        assert_eq!(Language::from_telegram_code(Some("ru")), Language::Ru);
        assert_eq!(Language::from_telegram_code(Some("ru-RU")), Language::Ru);
        assert_eq!(Language::from_telegram_code(Some("RU")), Language::Ru);
        assert_eq!(Language::from_telegram_code(Some("en-US")), Language::En);
        assert_eq!(Language::from_telegram_code(Some("uk")), Language::En);
        assert_eq!(Language::from_telegram_code(Some("r")), Language::En);
        assert_eq!(Language::from_telegram_code(Some("")), Language::En);
        assert_eq!(Language::from_telegram_code(None), Language::En);
    }

    #[test]
    fn stored_names_round_trip() {
        for status in Status::VARIANTS {
            let name: &'static str = status.into();
            assert_eq!(Status::from_str(name).ok(), Some(*status));
        }
        for status in WorkStatus::VARIANTS {
            let name: &'static str = status.into();
            assert_eq!(WorkStatus::from_str(name).ok(), Some(*status));
        }
        let name: &'static str = WorkStatus::SickLeave.into();
        assert_eq!(name, "sick_leave");
        assert!(Role::from_str("admin").is_err());
    }
}
