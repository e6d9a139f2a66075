//! The fake's memory (users, chats, the update queue, transcripts, counters)
//! and the lock plus change signal around it.
//!
//! The state sits in a [`Watched`]: a `std` mutex that is only held for
//! short sections without `.await` (tokio's advice for such data), and a
//! signal bumped after each change that every wait goes through.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::MutexGuard;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::watched::Watched;

use super::FakeTelegramConfig;
use super::faults::{ChaosState, FaultQueue};
use super::limits::Limiter;
use super::markup::{Entity, ParseMode, utf16_len};
use super::transcript::{
    BotCommandEntry, BotMessage, Button, CommandScope, Entry, SentDocument, Stats,
};

/// What the server and every handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: FakeTelegramConfig,
    state: Watched<State>,
}

impl Shared {
    pub(crate) fn new(config: FakeTelegramConfig) -> Self {
        let bot = json!({
            "id": config.bot_id,
            "is_bot": true,
            "first_name": config.bot_first_name,
            "username": config.bot_username,
        });
        Self {
            config,
            state: Watched::new(State::new(bot)),
        }
    }

    /// Reads the state (never held across `.await`).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Changes the state and wakes everyone waiting for a change.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        self.state.update(change)
    }

    /// Waits until `check` finds something, re-checking after every change,
    /// or until `deadline` (then `None`).
    pub(crate) async fn wait_until<T>(
        &self,
        deadline: Option<Instant>,
        check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        self.state.wait_until(deadline, check).await
    }

    /// Today's Unix time by the configured clock (message dates).
    pub(crate) fn unix_now(&self) -> i64 {
        self.config.clock.now().timestamp()
    }

    /// A simulated user sends text; returns the update id.
    pub(crate) fn user_text(&self, user_id: i64, text: &str) -> i64 {
        let date = self.unix_now();
        self.update(|state| state.user_text(user_id, text, date))
    }

    /// A simulated user presses a button; returns the update id.
    pub(crate) fn user_press(&self, user_id: i64, message_id: i64, data: &str) -> i64 {
        self.update(|state| state.user_press(user_id, message_id, data))
    }

    pub(crate) fn set_user_status(&self, user_id: i64, status: UserStatus) {
        self.update(|state| state.user_mut(user_id).status = status);
    }

    pub(crate) fn set_held(&self, held: bool) {
        self.update(|state| state.held = held);
    }

    pub(crate) fn transcript(&self, chat_id: i64) -> Vec<Entry> {
        self.lock()
            .chats
            .get(&chat_id)
            .map(|chat| chat.transcript.clone())
            .unwrap_or_default()
    }

    pub(crate) fn bot_messages(&self, chat_id: i64) -> Vec<BotMessage> {
        self.lock()
            .chats
            .get(&chat_id)
            .map(|chat| {
                chat.bot_messages
                    .values()
                    .map(StoredMessage::public)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Whether a user still talks to the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserStatus {
    Active,
    Blocked,
    Deactivated,
}

/// A simulated Telegram user.
#[derive(Debug, Clone)]
pub(crate) struct UserProfile {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub language_code: Option<String>,
    pub status: UserStatus,
}

impl UserProfile {
    fn new(id: i64) -> Self {
        Self {
            id,
            first_name: format!("User{id}"),
            last_name: None,
            username: None,
            language_code: Some("en".to_owned()),
            status: UserStatus::Active,
        }
    }

    /// The Bot API `User` object.
    pub(crate) fn user_json(&self) -> Value {
        let mut user = json!({ "id": self.id, "is_bot": false, "first_name": self.first_name });
        insert_some(&mut user, "last_name", self.last_name.clone());
        insert_some(&mut user, "username", self.username.clone());
        insert_some(&mut user, "language_code", self.language_code.clone());
        user
    }

    /// The Bot API `Chat` object of the private chat with this user.
    pub(crate) fn chat_json(&self) -> Value {
        let mut chat = json!({ "id": self.id, "type": "private", "first_name": self.first_name });
        insert_some(&mut chat, "last_name", self.last_name.clone());
        insert_some(&mut chat, "username", self.username.clone());
        chat
    }
}

/// Sets `key` on a JSON object when `value` is present.
pub(crate) fn insert_some(object: &mut Value, key: &str, value: Option<impl Into<Value>>) {
    if let (Value::Object(map), Some(value)) = (object, value) {
        map.insert(key.to_owned(), value.into());
    }
}

/// A message the bot sent, as it is now.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub message_id: i64,
    pub date: i64,
    pub edit_date: Option<i64>,
    /// Visible text or caption.
    pub text: String,
    /// Entities as Bot API JSON.
    pub entities: Vec<Value>,
    pub source: String,
    pub parse_mode: Option<ParseMode>,
    /// The inline keyboard echoed in `reply_markup` (other kinds are not).
    pub inline_markup: Option<Value>,
    pub reply_markup: Option<Value>,
    pub document: Option<SentDocument>,
    pub edits: u32,
}

impl StoredMessage {
    /// The Bot API `Message` object.
    pub(crate) fn to_json(&self, bot: &Value, chat: &Value) -> Value {
        let mut message = json!({
            "message_id": self.message_id,
            "from": bot,
            "chat": chat,
            "date": self.date,
        });
        insert_some(&mut message, "edit_date", self.edit_date);
        let (text_key, entities_key) = if self.document.is_some() {
            ("caption", "caption_entities")
        } else {
            ("text", "entities")
        };
        if !(self.document.is_some() && self.text.is_empty()) {
            insert_some(&mut message, text_key, Some(self.text.clone()));
        }
        if !self.entities.is_empty() {
            insert_some(&mut message, entities_key, Some(self.entities.clone()));
        }
        if let Some(document) = &self.document {
            insert_some(
                &mut message,
                "document",
                Some(json!({
                    "file_id": document.file_id,
                    "file_unique_id": unique_file_id(&document.file_id),
                    "file_name": document.file_name,
                    "mime_type": document.mime_type,
                    "file_size": document.bytes.len(),
                })),
            );
        }
        insert_some(&mut message, "reply_markup", self.inline_markup.clone());
        message
    }

    /// The public view.
    pub(crate) fn public(&self) -> BotMessage {
        BotMessage {
            message_id: self.message_id,
            text: self.text.clone(),
            source: self.source.clone(),
            parse_mode: self.parse_mode.map(|mode| mode.name().to_owned()),
            buttons: buttons_of(self.inline_markup.as_ref()),
            reply_markup: self.reply_markup.clone(),
            document: self.document.clone(),
            edits: self.edits,
        }
    }
}

/// The short unique id Telegram pairs with a file id.
fn unique_file_id(file_id: &str) -> String {
    format!(
        "AgAD{}",
        file_id
            .get(file_id.len().saturating_sub(8)..)
            .unwrap_or(file_id)
    )
}

/// Rows of buttons of an inline keyboard markup.
pub(crate) fn buttons_of(markup: Option<&Value>) -> Vec<Vec<Button>> {
    let Some(rows) = markup
        .and_then(|markup| markup.get("inline_keyboard"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    rows.iter()
        .map(|row| {
            row.as_array()
                .map(|buttons| {
                    buttons
                        .iter()
                        .map(|button| Button {
                            text: text_field(button, "text").unwrap_or_default(),
                            callback_data: text_field(button, "callback_data"),
                            url: text_field(button, "url"),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

fn text_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// One private chat between a user and the bot.
#[derive(Debug, Default)]
pub(crate) struct ChatState {
    next_message_id: i64,
    pub user_messages: HashSet<i64>,
    pub bot_messages: BTreeMap<i64, StoredMessage>,
    pub transcript: Vec<Entry>,
    pub delivered: u64,
}

impl ChatState {
    /// Message ids in a private chat count up for both sides together.
    pub(crate) fn take_message_id(&mut self) -> i64 {
        self.next_message_id += 1;
        self.next_message_id
    }
}

/// An update waiting for confirmation.
#[derive(Debug, Clone)]
pub(crate) struct QueuedUpdate {
    pub id: i64,
    /// The update's field name: `message`, `callback_query`, ...
    pub kind: String,
    /// The update's JSON text, sent as it is (it may hold what a JSON
    /// value cannot, such as a lone surrogate escape).
    pub body: String,
    /// Sent whatever `allowed_updates` says (a kind Telegram added after
    /// the bot was written).
    pub unsolicited: bool,
}

/// Everything the fake remembers.
#[derive(Debug)]
pub(crate) struct State {
    /// The bot's own `User` object.
    pub bot: Value,
    pub users: HashMap<i64, UserProfile>,
    pub chats: HashMap<i64, ChatState>,
    pub updates: VecDeque<QueuedUpdate>,
    next_update_id: i64,
    /// The last `allowed_updates` a poller set (`None`: all but the
    /// member/reaction kinds Telegram leaves out by default).
    pub allowed_updates: Option<Vec<String>>,
    pub poll_seq: u64,
    /// The ticket of the `getUpdates` call allowed to answer.
    pub active_poll: Option<u64>,
    pub webhook_url: Option<String>,
    pub held: bool,
    /// The server is stopping: waiting requests give up.
    pub closed: bool,
    /// Unanswered callback queries and their chats.
    pub callback_queries: HashMap<String, i64>,
    next_callback_seq: u64,
    pub commands: BTreeMap<(CommandScope, String), Vec<BotCommandEntry>>,
    pub limiter: Limiter,
    pub faults: FaultQueue,
    pub chaos: Option<ChaosState>,
    pub stats: Stats,
    /// Files sent so far, by file id (they can be sent again by id).
    pub files: HashMap<String, SentDocument>,
    next_file_seq: u64,
}

/// Update kinds Telegram does not send unless asked for explicitly.
const OPT_IN_UPDATES: &[&str] = &["chat_member", "message_reaction", "message_reaction_count"];

impl State {
    fn new(bot: Value) -> Self {
        Self {
            bot,
            users: HashMap::new(),
            chats: HashMap::new(),
            updates: VecDeque::new(),
            next_update_id: 0,
            allowed_updates: None,
            poll_seq: 0,
            active_poll: None,
            webhook_url: None,
            held: false,
            closed: false,
            callback_queries: HashMap::new(),
            next_callback_seq: 0,
            commands: BTreeMap::new(),
            limiter: Limiter::default(),
            faults: FaultQueue::default(),
            chaos: None,
            stats: Stats::default(),
            files: HashMap::new(),
            next_file_seq: 0,
        }
    }

    /// The profile of user `id`, created with defaults when new.
    pub(crate) fn user_mut(&mut self, id: i64) -> &mut UserProfile {
        self.users.entry(id).or_insert_with(|| UserProfile::new(id))
    }

    fn enqueue(&mut self, kind: &'static str, body: Value) -> i64 {
        self.next_update_id += 1;
        let id = self.next_update_id;
        let mut update = json!({ "update_id": id });
        insert_some(&mut update, kind, Some(body));
        self.updates.push_back(QueuedUpdate {
            id,
            kind: kind.to_owned(),
            body: update.to_string(),
            unsolicited: false,
        });
        id
    }

    /// Queues an update of any `kind` whose content is the JSON text
    /// `content`, taken as it is; returns the update id.
    pub(crate) fn enqueue_raw(&mut self, kind: &str, content: &str) -> i64 {
        self.next_update_id += 1;
        let id = self.next_update_id;
        let kind_json = Value::String(kind.to_owned());
        self.updates.push_back(QueuedUpdate {
            id,
            kind: kind.to_owned(),
            body: format!(r#"{{"update_id":{id},{kind_json}:{content}}}"#),
            unsolicited: true,
        });
        id
    }

    /// User `user_id` sends `text` to the bot; returns the update id.
    pub(crate) fn user_text(&mut self, user_id: i64, text: &str, date: i64) -> i64 {
        let user = self.user_mut(user_id).clone();
        let chat = self.chats.entry(user_id).or_default();
        let message_id = chat.take_message_id();
        chat.user_messages.insert(message_id);
        let mut message = json!({
            "message_id": message_id,
            "from": user.user_json(),
            "chat": user.chat_json(),
            "date": date,
            "text": text,
        });
        if text.starts_with('/') {
            let command = text.split_whitespace().next().unwrap_or(text);
            insert_some(
                &mut message,
                "entities",
                Some(json!([{ "offset": 0, "length": utf16_len(command), "type": "bot_command" }])),
            );
        }
        let update_id = self.enqueue("message", message);
        self.chats
            .entry(user_id)
            .or_default()
            .transcript
            .push(Entry::UserText {
                update_id,
                message_id,
                text: text.to_owned(),
            });
        update_id
    }

    /// User `user_id` presses a button with `data` under bot message
    /// `message_id`; returns the update id.
    pub(crate) fn user_press(&mut self, user_id: i64, message_id: i64, data: &str) -> i64 {
        let user = self.user_mut(user_id).clone();
        self.next_callback_seq += 1;
        let query_id = format!("{}", 4_000_000_000_000_000_000u64 + self.next_callback_seq);
        let bot = self.bot.clone();
        let chat = self.chats.entry(user_id).or_default();
        let message = match chat.bot_messages.get(&message_id) {
            Some(stored) => stored.to_json(&bot, &user.chat_json()),
            // Telegram's shape for a message the bot can no longer see.
            None => json!({ "chat": user.chat_json(), "message_id": message_id, "date": 0 }),
        };
        let query = json!({
            "id": query_id,
            "from": user.user_json(),
            "message": message,
            "chat_instance": format!("{}", -(user_id.wrapping_mul(7919))),
            "data": data,
        });
        self.callback_queries.insert(query_id.clone(), user_id);
        let update_id = self.enqueue("callback_query", query);
        self.chats
            .entry(user_id)
            .or_default()
            .transcript
            .push(Entry::UserPress {
                update_id,
                callback_query_id: query_id,
                message_id,
                data: data.to_owned(),
            });
        update_id
    }

    /// Forgets updates confirmed by `offset` (Telegram's semantics: all
    /// below a positive offset; a negative one keeps only the last `-offset`).
    pub(crate) fn confirm(&mut self, offset: i64) {
        if offset > 0 {
            while self
                .updates
                .front()
                .is_some_and(|update| update.id < offset)
            {
                self.updates.pop_front();
            }
        } else if offset < 0 {
            let keep = usize::try_from(offset.unsigned_abs()).unwrap_or(usize::MAX);
            while self.updates.len() > keep {
                self.updates.pop_front();
            }
        }
    }

    /// Up to `limit` waiting updates of the allowed kinds, oldest first.
    pub(crate) fn deliverable(&self, limit: usize) -> Vec<String> {
        self.updates
            .iter()
            .filter(|update| {
                update.unsolicited
                    || match &self.allowed_updates {
                        Some(allowed) => allowed.contains(&update.kind),
                        None => !OPT_IN_UPDATES.contains(&update.kind.as_str()),
                    }
            })
            .take(limit)
            .map(|update| update.body.clone())
            .collect()
    }

    /// A new file id.
    pub(crate) fn new_file_id(&mut self) -> String {
        self.next_file_seq += 1;
        format!("BQACAgIAAxkDAAIB{:08X}", self.next_file_seq)
    }

    /// The counters with the derived parts filled in.
    pub(crate) fn stats_snapshot(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.delivered = self
            .chats
            .iter()
            .filter(|(_, chat)| chat.delivered > 0)
            .map(|(&id, chat)| (id, chat.delivered))
            .collect();
        stats.pending_updates = self.updates.len();
        stats.polling = self.active_poll.is_some();
        stats
    }

    /// The entities of a formatted text as Bot API JSON; mentions of
    /// unknown users are dropped.
    pub(crate) fn entities_json(&self, entities: &[Entity]) -> Vec<Value> {
        entities
            .iter()
            .filter_map(|entity| match entity.mention_user_id {
                Some(id) => self
                    .users
                    .get(&id)
                    .map(|user| entity.to_json(Some(user.user_json()))),
                None => Some(entity.to_json(None)),
            })
            .collect()
    }
}
