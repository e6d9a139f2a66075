//! Configuration: every setting parsed (a mistake never gets this far: it
//! is reported by [`invalid`]); here what is valid but unwise or
//! inconsistent, and which integrations are on.

use crate::config::{Config, ConfigError};
use crate::diagnostics::{Check, Kind, Priority, Status, Text};

pub const NAME: &str = "configuration";

/// The settings that did load.
pub fn check(config: &Config) -> Check {
    let google = match (
        config.google.oauth_client.is_some(),
        config.google.service_account.is_some(),
    ) {
        (true, true) => "OAuth + service account",
        (true, false) => "OAuth",
        (false, true) => "service account",
        (false, false) => "off",
    };
    let mut check = Check::ok(
        NAME,
        format!(
            "{}, Google {google}, {} bootstrap admin(s)",
            config.database.url.backend(),
            config.telegram.admin_ids.len()
        ),
    );
    if config.telegram.admin_ids.is_empty() {
        check.finding(
            Status::Warn,
            Priority::P3,
            Kind::Configuration,
            Text::new("diag.config.no_admins"),
            Some(Text::new("diag.config.no_admins.fix")),
        );
    }
    if config.google.oauth_client.is_some()
        && config
            .http
            .public_url
            .as_ref()
            .is_none_or(|url| url.scheme() != "https")
    {
        check.note(Text::new("diag.config.no_push"));
    }
    if config.test_clock_file.is_some() {
        // As in `/health`: shown, not a fault (the test suite sets it).
        check.note(Text::new("diag.config.test_clock"));
    }
    check
}

/// The settings did not load: nothing else can be checked.
pub fn invalid(error: &ConfigError) -> Check {
    let mut check = Check::ok(NAME, "-");
    check.finding(
        Status::Fail,
        Priority::P0,
        Kind::Configuration,
        Text::new("diag.config.invalid").with("error", error),
        Some(Text::new("diag.config.invalid.fix").with("var", error.var)),
    );
    check
}
