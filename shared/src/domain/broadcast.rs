//! What an admin may broadcast: the text as typed, checked before anything
//! is queued, so a broadcast never fails at Telegram for its length.

use serde::{Deserialize, Serialize};

/// Visible characters a broadcast may have: Telegram allows 4,096 per
/// message, and the recipients' header takes the rest.
pub const MAX_BROADCAST_CHARS: usize = 3_900;

/// Callback data of the preview's buttons. The draft itself lives in the
/// author's dialogue, so a press can only ever send the presser's own text.
pub const SEND_DATA: &str = "bc:send";
pub const CANCEL_DATA: &str = "bc:cancel";

/// A broadcast text that fits in one message: trimmed, not empty, no
/// control characters other than line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BroadcastText(String);

/// Why a text cannot be broadcast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BroadcastTextError {
    #[error("the text is empty")]
    Empty,
    #[error("the text has {count} characters, at most {max} are allowed")]
    TooLong { count: usize, max: usize },
}

impl BroadcastText {
    pub fn parse(text: &str) -> Result<Self, BroadcastTextError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
            .collect();
        let cleaned = cleaned.trim().to_owned();
        let count = cleaned.chars().count();
        if count == 0 {
            return Err(BroadcastTextError::Empty);
        }
        if count > MAX_BROADCAST_CHARS {
            return Err(BroadcastTextError::TooLong {
                count,
                max: MAX_BROADCAST_CHARS,
            });
        }
        Ok(Self(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BroadcastText {
    type Error = BroadcastTextError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<BroadcastText> for String {
    fn from(text: BroadcastText) -> Self {
        text.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_and_checked() {
        assert_eq!(
            BroadcastText::parse("  Hello\nteam \u{0} ")
                .unwrap()
                .as_str(),
            "Hello\nteam"
        );
        assert_eq!(
            BroadcastText::parse(" \n\t "),
            Err(BroadcastTextError::Empty)
        );
        assert_eq!(
            BroadcastText::parse(&"я".repeat(5_000)),
            Err(BroadcastTextError::TooLong {
                count: 5_000,
                max: MAX_BROADCAST_CHARS
            })
        );
        let rtl_and_emoji = "שלום 👋 <b>&amp;</b> *_[x]_*";
        assert_eq!(
            BroadcastText::parse(rtl_and_emoji).unwrap().as_str(),
            rtl_and_emoji
        );
    }

    #[test]
    fn stored_drafts_are_checked_again() {
        assert!(serde_json::from_str::<BroadcastText>("\"\"").is_err());
        let json = serde_json::to_string(&BroadcastText::parse("Hi").unwrap()).unwrap();
        assert_eq!(json, "\"Hi\"");
    }
}
