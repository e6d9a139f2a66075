//! The `/diag` buttons (`dg:` prefix). Button data is never trusted: it is
//! parsed strictly here, the presser is checked again by the bot, and a
//! repair is made only if a fresh run still offers it.
//!
//! - `dg:full` — the full report;
//! - `dg:fix:<repair>` — asks to confirm a repair;
//! - `dg:do:<repair>` — the confirmation: the worker makes it and reports.

use super::Repair;

/// A parsed `/diag` button (the data after `dg:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagCallback {
    Full,
    Ask(Repair),
    Confirm(Repair),
}

impl DiagCallback {
    pub fn parse(data: &str) -> Option<Self> {
        match data.split_once(':') {
            None if data == "full" => Some(Self::Full),
            Some(("fix", repair)) => Repair::parse(repair).map(Self::Ask),
            Some(("do", repair)) => Repair::parse(repair).map(Self::Confirm),
            _ => None,
        }
    }

    /// The whole button data, prefix included (at most 64 bytes).
    pub fn data(self) -> String {
        match self {
            Self::Full => "dg:full".to_owned(),
            Self::Ask(repair) => format!("dg:fix:{}", repair.id()),
            Self::Confirm(repair) => format!("dg:do:{}", repair.id()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_round_trip_and_nothing_else_parses() {
        for callback in [
            DiagCallback::Full,
            DiagCallback::Ask(Repair::DeleteWebhook),
            DiagCallback::Confirm(Repair::ResyncFailed),
        ] {
            let data = callback.data();
            assert!(data.len() <= 64);
            assert_eq!(
                data.strip_prefix("dg:").and_then(DiagCallback::parse),
                Some(callback)
            );
        }
        for bad in [
            "",
            "full ",
            "fix",
            "fix:",
            "do:drop-all",
            "do:delete-webhook:1",
            "FULL",
        ] {
            assert_eq!(DiagCallback::parse(bad), None, "{bad:?}");
        }
    }
}
