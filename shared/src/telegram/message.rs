//! An outbound message as stored in the outbox: text (HTML), buttons, and
//! optionally a small text file sent with the text as its caption.

use serde::{Deserialize, Serialize};

/// A message to send; stored as JSON in `outbox_messages.body`. Fields are
/// only ever added, optional, so bodies written by an older build still
/// parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// HTML-formatted text (arguments already escaped by `i18n`); the
    /// caption when there is an [`attachment`](Self::attachment).
    pub text: String,
    /// Inline keyboard rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Vec<Button>>,
    /// Replace this earlier bot message of the chat instead of sending a new
    /// one (menus that change in place, a broadcast's progress). When it can
    /// no longer be edited, the text is sent as a new message. Ignored for a
    /// message with an attachment: a file is always sent anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_message_id: Option<i64>,
    /// A file sent as a document (`sendDocument`), with `text` as its
    /// caption: e.g. an `.ics` invite when no Google calendar is connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

/// A small text file carried inside the outbox row itself, so delivery
/// needs nothing but the row (no temp files that a crash could lose).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The name the recipient sees, e.g. `invite.ics`; its extension is
    /// what makes phones offer "add to calendar".
    pub file_name: String,
    /// The MIME type of the upload, e.g. `text/calendar`.
    pub mime_type: String,
    /// The file's content (UTF-8 text).
    pub content: String,
}

/// An inline button that calls back with `data`, or opens `url` (a link
/// button, e.g. Google's consent page; then `data` is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub text: String,
    #[serde(default)]
    pub data: String,
    /// Opens this address instead of calling back. Optional and skipped
    /// when absent, so bodies of older builds parse and plain buttons stay
    /// as they were stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Button {
    pub fn new(text: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            data: data.into(),
            url: None,
        }
    }

    /// A button that opens `url` in the browser.
    pub fn link(text: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            data: String::new(),
            url: Some(url.into()),
        }
    }
}

impl OutgoingMessage {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            buttons: Vec::new(),
            edit_message_id: None,
            attachment: None,
        }
    }

    /// A message with inline keyboard rows.
    pub fn with_buttons(text: impl Into<String>, buttons: Vec<Vec<Button>>) -> Self {
        Self {
            text: text.into(),
            buttons,
            edit_message_id: None,
            attachment: None,
        }
    }

    /// A document with `caption` (HTML) as its text.
    pub fn document(caption: impl Into<String>, attachment: Attachment) -> Self {
        Self {
            attachment: Some(attachment),
            ..Self::text(caption)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_written_before_attachments_still_parse() {
        let old = r#"{"text":"<b>Hi</b>","buttons":[[{"text":"OK","data":"ok"}]]}"#;
        let message = OutgoingMessage::from_json(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(message.attachment, None);
        assert_eq!(message.edit_message_id, None);
        assert_eq!(message.buttons[0][0], Button::new("OK", "ok"));
    }

    #[test]
    fn a_document_round_trips_and_plain_messages_stay_small() {
        let message = OutgoingMessage::document(
            "📅 invite",
            Attachment {
                file_name: "invite.ics".to_owned(),
                mime_type: "text/calendar".to_owned(),
                content: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".to_owned(),
            },
        );
        let json = message.to_json();
        assert_eq!(OutgoingMessage::from_json(&json).ok(), Some(message));
        assert_eq!(OutgoingMessage::text("hi").to_json(), r#"{"text":"hi"}"#);
    }

    #[test]
    fn link_buttons_round_trip_and_plain_buttons_keep_their_old_form() {
        let message = OutgoingMessage::with_buttons(
            "x",
            vec![vec![
                Button::link("Open", "https://example.com/?a=1&b=2"),
                Button::new("OK", "ok"),
            ]],
        );
        let json = message.to_json();
        assert!(json.contains(r#"{"text":"OK","data":"ok"}"#), "{json}");
        assert_eq!(OutgoingMessage::from_json(&json).ok(), Some(message));
        let link_only = r#"{"text":"x","buttons":[[{"text":"Open","url":"https://e.com"}]]}"#;
        let parsed = OutgoingMessage::from_json(link_only).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.buttons[0][0], Button::link("Open", "https://e.com"));
    }
}
