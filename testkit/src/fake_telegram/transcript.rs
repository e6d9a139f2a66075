//! What tests look at: per-chat transcripts, the bot's messages as a user
//! would see them now, stored commands and global statistics.

use std::collections::BTreeMap;
use std::fmt;

use axum::body::Bytes;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// One thing that happened in a chat, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// The user sent a text message.
    UserText {
        /// The update that carried it.
        update_id: i64,
        /// Its id in the chat.
        message_id: i64,
        /// The text as typed.
        text: String,
    },
    /// The user pressed an inline button.
    UserPress {
        /// The update that carried it.
        update_id: i64,
        /// The id the bot answers with `answerCallbackQuery`.
        callback_query_id: String,
        /// The bot message the button was under.
        message_id: i64,
        /// The button's `callback_data`.
        data: String,
    },
    /// The bot sent a message or a document (as it was when sent).
    BotMessage(BotMessage),
    /// The bot changed the text and/or keyboard of one of its messages.
    BotEdit(BotEdit),
    /// The bot deleted one of its messages.
    BotDelete {
        /// The deleted message.
        message_id: i64,
    },
    /// The bot answered a button press.
    CallbackAnswer {
        /// The answered press.
        callback_query_id: String,
        /// The notification text, if any.
        text: Option<String>,
        /// Whether it was an alert rather than a toast.
        show_alert: bool,
    },
}

/// A bot message: as sent (in [`Entry::BotMessage`]) or as it is now
/// (from `bot_messages`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BotMessage {
    /// Its id in the chat.
    pub message_id: i64,
    /// What the user sees: the text (or a document's caption) with markup
    /// removed and escapes resolved.
    pub text: String,
    /// Exactly what the bot sent, markup included.
    pub source: String,
    /// `HTML`, `MarkdownV2` or `Markdown` as sent, if any.
    pub parse_mode: Option<String>,
    /// The inline keyboard, row by row.
    pub buttons: Vec<Vec<Button>>,
    /// The `reply_markup` parameter as the bot sent it (any kind).
    pub reply_markup: Option<Value>,
    /// The file, for `sendDocument`.
    pub document: Option<SentDocument>,
    /// How many successful edits the message has had.
    pub edits: u32,
}

impl BotMessage {
    /// Every button in reading order.
    pub fn all_buttons(&self) -> impl Iterator<Item = &Button> {
        self.buttons.iter().flatten()
    }

    /// The `callback_data` of the button labelled `label`.
    pub fn callback_data(&self, label: &str) -> Option<&str> {
        self.all_buttons()
            .find(|button| button.text == label)
            .and_then(|button| button.callback_data.as_deref())
    }

    /// The buttons whose label contains `part`, as `(label, data)`, in
    /// reading order (e.g. every day of a day list: `" · "`).
    pub fn buttons_with(&self, part: &str) -> Vec<(String, String)> {
        self.all_buttons()
            .filter(|button| button.text.contains(part))
            .map(|button| {
                (
                    button.text.clone(),
                    button.callback_data.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// A change to a bot message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BotEdit {
    /// The edited message.
    pub message_id: i64,
    /// The new visible text (`None` when only the keyboard changed).
    pub text: Option<String>,
    /// The new text as sent.
    pub source: Option<String>,
    /// The parse mode of the new text.
    pub parse_mode: Option<String>,
    /// The keyboard after the edit (empty: removed).
    pub buttons: Vec<Vec<Button>>,
}

/// One inline keyboard button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Button {
    /// The label.
    pub text: String,
    /// What a press sends back to the bot.
    pub callback_data: Option<String>,
    /// For link buttons.
    pub url: Option<String>,
}

/// A file the bot sent.
#[derive(Clone, PartialEq)]
pub struct SentDocument {
    /// The id Telegram assigned (the bot may send it again by this id).
    pub file_id: String,
    /// The uploaded file's name.
    pub file_name: String,
    /// The part's type, else guessed from the extension.
    pub mime_type: String,
    /// The content.
    pub bytes: Bytes,
}

impl SentDocument {
    /// The content as UTF-8 text, if it is text.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.bytes).ok()
    }
}

impl fmt::Debug for SentDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentDocument")
            .field("file_id", &self.file_id)
            .field("file_name", &self.file_name)
            .field("mime_type", &self.mime_type)
            .field("size", &self.bytes.len())
            .finish()
    }
}

/// As JSON: the content is included as `text` when it is UTF-8.
impl Serialize for SentDocument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("SentDocument", 5)?;
        s.serialize_field("file_id", &self.file_id)?;
        s.serialize_field("file_name", &self.file_name)?;
        s.serialize_field("mime_type", &self.mime_type)?;
        s.serialize_field("size", &self.bytes.len())?;
        s.serialize_field("text", &self.text())?;
        s.end()
    }
}

/// A command list stored by `setMyCommands`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BotCommandEntry {
    /// Without the leading `/`.
    pub command: String,
    /// Shown in the command menu.
    pub description: String,
}

/// Where a command list applies (Telegram's `BotCommandScope`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CommandScope {
    /// `default`, `all_private_chats`, `chat`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// For the `chat*` kinds.
    pub chat_id: Option<i64>,
    /// For `chat_member`.
    pub user_id: Option<i64>,
}

impl CommandScope {
    /// The scope used when none is given.
    pub fn default_scope() -> Self {
        Self::of_kind("default")
    }

    /// `all_private_chats`.
    pub fn all_private_chats() -> Self {
        Self::of_kind("all_private_chats")
    }

    /// One chat.
    pub fn chat(chat_id: i64) -> Self {
        Self {
            chat_id: Some(chat_id),
            ..Self::of_kind("chat")
        }
    }

    /// Any scope kind without ids.
    pub fn of_kind(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            chat_id: None,
            user_id: None,
        }
    }
}

/// Counters over the fake's whole life.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Authorized bot API requests received, per method name.
    pub calls: BTreeMap<String, u64>,
    /// 429 answers of any origin (limits, faults, chaos).
    pub too_many_requests: u64,
    /// 5xx answers from injected faults and chaos.
    pub injected_errors: u64,
    /// Messages and documents answered 200, per chat.
    pub delivered: BTreeMap<i64, u64>,
    /// Requests waiting behind `hold()` right now.
    pub held: usize,
    /// Requests whose client went away before they were answered (never
    /// applied).
    pub abandoned: u64,
    /// Updates not yet confirmed by an offset.
    pub pending_updates: usize,
    /// Whether a `getUpdates` long poll is waiting right now.
    pub polling: bool,
}

impl Stats {
    /// Calls of `method` so far.
    pub fn calls_of(&self, method: &str) -> u64 {
        self.calls.get(method).copied().unwrap_or(0)
    }

    /// Messages delivered into all chats.
    pub fn delivered_total(&self) -> u64 {
        self.delivered.values().sum()
    }
}
