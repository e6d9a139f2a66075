//! Updates as the bot receives them: decoded one by one, tolerantly.
//!
//! A `getUpdates` answer is split into its raw updates first, so one that
//! cannot be read never hides the others (a lone surrogate in callback
//! data, say). Each is then decoded into the few fields the bot uses;
//! fields and update kinds it does not know are ignored rather than
//! refused, so a new Telegram feature or chat type cannot stop polling.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// One update as received: its id, raw JSON and what could be read of it.
#[derive(Debug, Clone)]
pub struct Received {
    /// `None` only when not even the id could be read.
    pub update_id: Option<i64>,
    /// The chat it belongs to (its lane), when that could be read.
    pub chat_id: Option<i64>,
    /// The update's kind: `message`, `callback_query`, or the name of a
    /// kind the bot does not handle; `unreadable` when undecodable.
    pub kind: String,
    /// The update exactly as Telegram sent it.
    pub raw: String,
    /// The decoded update; `Err` with the reason when it is unreadable.
    pub update: Result<Update, String>,
}

/// A decoded update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub update_id: i64,
    pub content: Content,
}

/// What an update carries, of the kinds the bot handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Message(Message),
    CallbackQuery(CallbackQuery),
    /// Any other kind, by its field name (`edited_message`, `poll`, …).
    Other(String),
}

/// The sender of a message or a button press.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sender {
    pub id: i64,
    #[serde(default)]
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
}

/// A chat, with its type as Telegram names it (`private`, `group`, …).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Chat {
    pub id: i64,
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl Chat {
    /// A one-to-one chat with a user (the only kind the bot talks in).
    pub fn is_private(&self) -> bool {
        self.kind == "private"
    }
}

/// A message sent to the bot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message {
    pub message_id: i64,
    pub from: Option<Sender>,
    pub chat: Chat,
    pub text: Option<String>,
}

/// The message a pressed button sits under (possibly no longer
/// accessible: then only its id and chat are known).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PressedMessage {
    pub message_id: i64,
    pub chat: Chat,
    /// 0 for a message the bot can no longer see (Telegram's
    /// `InaccessibleMessage`).
    #[serde(default)]
    pub date: i64,
}

impl PressedMessage {
    /// Whether the bot can still see (and so edit) the message.
    pub fn is_accessible(&self) -> bool {
        self.date != 0
    }
}

/// A button press.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CallbackQuery {
    pub id: String,
    pub from: Sender,
    pub message: Option<PressedMessage>,
    pub data: Option<String>,
}

impl Update {
    /// The chat whose lane handles this update.
    pub fn chat_id(&self) -> Option<i64> {
        match &self.content {
            Content::Message(message) => Some(message.chat.id),
            Content::CallbackQuery(query) => Some(
                query
                    .message
                    .as_ref()
                    .map_or(query.from.id, |message| message.chat.id),
            ),
            Content::Other(_) => None,
        }
    }

    /// The update's kind as Telegram names its field.
    pub fn kind(&self) -> &str {
        match &self.content {
            Content::Message(_) => "message",
            Content::CallbackQuery(_) => "callback_query",
            Content::Other(kind) => kind,
        }
    }
}

impl<'de> Deserialize<'de> for Update {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UpdateVisitor;

        impl<'de> Visitor<'de> for UpdateVisitor {
            type Value = Update;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Telegram update object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Update, A::Error> {
                let mut update_id = None;
                let mut content = None;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "update_id" => update_id = Some(map.next_value::<i64>()?),
                        "message" if content.is_none() => {
                            content = Some(Content::Message(map.next_value()?));
                        }
                        "callback_query" if content.is_none() => {
                            content = Some(Content::CallbackQuery(map.next_value()?));
                        }
                        other => {
                            map.next_value::<IgnoredAny>()?;
                            if content.is_none() {
                                content = Some(Content::Other(other.to_owned()));
                            }
                        }
                    }
                }
                Ok(Update {
                    update_id: update_id.ok_or_else(|| de::Error::missing_field("update_id"))?,
                    content: content.unwrap_or_else(|| Content::Other("empty".to_owned())),
                })
            }
        }

        deserializer.deserialize_map(UpdateVisitor)
    }
}

/// What can still be read of an update that does not decode: its id and
/// chat (string values are skipped unread, so a broken one does not
/// matter here).
#[derive(Debug, Deserialize)]
struct Skeleton {
    update_id: Option<i64>,
    message: Option<SkeletonMessage>,
    callback_query: Option<SkeletonQuery>,
}

#[derive(Debug, Deserialize)]
struct SkeletonMessage {
    chat: Option<SkeletonId>,
}

#[derive(Debug, Deserialize)]
struct SkeletonQuery {
    from: Option<SkeletonId>,
}

#[derive(Debug, Deserialize)]
struct SkeletonId {
    id: i64,
}

impl Received {
    /// Decodes one raw update.
    pub fn decode(raw: &str) -> Self {
        match serde_json::from_str::<Update>(raw) {
            Ok(update) => Self {
                update_id: Some(update.update_id),
                chat_id: update.chat_id(),
                kind: update.kind().to_owned(),
                raw: raw.to_owned(),
                update: Ok(update),
            },
            Err(error) => {
                let skeleton = serde_json::from_str::<Skeleton>(raw).ok();
                let chat_id = skeleton.as_ref().and_then(|s| {
                    s.message
                        .as_ref()
                        .and_then(|m| m.chat.as_ref().map(|c| c.id))
                        .or_else(|| {
                            s.callback_query
                                .as_ref()
                                .and_then(|q| q.from.as_ref().map(|f| f.id))
                        })
                });
                Self {
                    update_id: skeleton.and_then(|s| s.update_id),
                    chat_id,
                    kind: "unreadable".to_owned(),
                    raw: raw.to_owned(),
                    // Only the class and position: serde_json's own message
                    // may quote the offending value, which is user text.
                    update: Err(format!(
                        "{:?} error at line {} column {}",
                        error.classify(),
                        error.line(),
                        error.column()
                    )),
                }
            }
        }
    }
}

/// A `getUpdates` answer split into raw updates (not yet decoded).
#[derive(Debug, Deserialize)]
pub(crate) struct RawBatch<'a> {
    #[serde(borrow)]
    pub result: Vec<&'a RawValue>,
}

/// Splits a successful `getUpdates` answer and decodes each update alone.
pub(crate) fn decode_batch(body: &str) -> Result<Vec<Received>, serde_json::Error> {
    let batch: RawBatch<'_> = serde_json::from_str(body)?;
    Ok(batch
        .result
        .iter()
        .map(|raw| Received::decode(raw.get()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"{"update_id":7,"message":{"message_id":3,"date":1,
        "from":{"id":42,"is_bot":false,"first_name":"Anna","language_code":"ru"},
        "chat":{"id":42,"type":"private","first_name":"Anna"},"text":"/help",
        "entities":[{"offset":0,"length":5,"type":"bot_command"}]}}"#;

    #[test]
    fn a_text_message_is_read() {
        let received = Received::decode(TEXT);
        let update = received.update.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(received.chat_id, Some(42));
        assert_eq!(received.kind, "message");
        let Content::Message(message) = update.content else {
            panic!("not a message");
        };
        assert_eq!(message.text.as_deref(), Some("/help"));
        assert!(message.chat.is_private());
        assert_eq!(
            message.from.and_then(|f| f.language_code).as_deref(),
            Some("ru")
        );
    }

    #[test]
    fn a_press_belongs_to_the_chat_of_its_message() {
        let raw = r#"{"update_id":8,"callback_query":{"id":"q1","chat_instance":"-1",
            "from":{"id":42,"is_bot":false,"first_name":"Anna"},
            "message":{"message_id":9,"date":0,"chat":{"id":42,"type":"private"}},"data":"x:1"}}"#;
        let received = Received::decode(raw);
        assert_eq!(received.chat_id, Some(42));
        assert_eq!(received.kind, "callback_query");
        assert!(received.update.is_ok());
    }

    #[test]
    fn unknown_kinds_and_chat_types_are_read_not_refused() {
        let unknown = Received::decode(r#"{"update_id":9,"guest_message":{"whatever":[1,2]}}"#);
        assert_eq!(unknown.kind, "guest_message");
        assert_eq!(unknown.chat_id, None);
        assert!(unknown.update.is_ok());
        let chat = Received::decode(
            r#"{"update_id":10,"message":{"message_id":1,"chat":{"id":-5,"type":"channel_direct"},"text":"hi"}}"#,
        );
        let Ok(Update {
            content: Content::Message(message),
            ..
        }) = chat.update
        else {
            panic!("not read");
        };
        assert!(!message.chat.is_private());
    }

    #[test]
    fn a_lone_surrogate_makes_only_its_update_unreadable() {
        let body = format!(
            r#"{{"ok":true,"result":[{TEXT},{{"update_id":8,"callback_query":{{"id":"q","from":{{"id":5,"first_name":"X"}},"data":"\ud800"}}}},{TEXT}]}}"#
        );
        let batch = decode_batch(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(batch.len(), 3);
        assert!(batch[0].update.is_ok());
        assert!(batch[2].update.is_ok());
        let broken = &batch[1];
        assert!(broken.update.is_err());
        assert_eq!(broken.update_id, Some(8));
        assert_eq!(broken.chat_id, Some(5));
        assert_eq!(broken.kind, "unreadable");
        assert!(broken.raw.contains(r"\ud800"));
    }

    #[test]
    fn garbage_is_unreadable_without_an_id() {
        let received = Received::decode(r#"{"message":"#);
        assert_eq!(received.update_id, None);
        assert!(received.update.is_err());
    }
}
