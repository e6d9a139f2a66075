//! An outbound message as stored in the outbox: text (HTML) and buttons.

use serde::{Deserialize, Serialize};

/// A message to send; stored as JSON in `outbox_messages.body`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// HTML-formatted text (arguments already escaped by `i18n`).
    pub text: String,
    /// Inline keyboard rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Vec<Button>>,
    /// Replace this earlier bot message of the chat instead of sending a new
    /// one (menus that change in place, a broadcast's progress). When it can
    /// no longer be edited, the text is sent as a new message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_message_id: Option<i64>,
}

/// An inline button that calls back with `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    pub data: String,
}

impl Button {
    pub fn new(text: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            data: data.into(),
        }
    }
}

impl OutgoingMessage {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            buttons: Vec::new(),
            edit_message_id: None,
        }
    }

    /// A message with inline keyboard rows.
    pub fn with_buttons(text: impl Into<String>, buttons: Vec<Vec<Button>>) -> Self {
        Self {
            text: text.into(),
            buttons,
            edit_message_id: None,
        }
    }

    /// The same message, replacing bot message `message_id` in place.
    #[must_use]
    pub fn editing(mut self, message_id: Option<i64>) -> Self {
        self.edit_message_id = message_id;
        self
    }

    pub fn to_json(&self) -> String {
        // Serialising plain strings cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}
