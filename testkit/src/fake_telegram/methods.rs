//! The Bot API methods the fake knows (all but `getUpdates`, which waits and
//! lives in `server`), each applied atomically to the state: a call either
//! has its whole effect or, when answered with an error, none.

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::FakeTelegramConfig;
use super::faults::ChaosFailure;
use super::markup::{self, Formatted, ParseMode, utf16_len};
use super::params::{Params, Upload};
use super::state::{State, StoredMessage, UserStatus, buttons_of, insert_some};
use super::transcript::{BotCommandEntry, BotEdit, CommandScope, Entry, SentDocument};
use super::wire::TgError;

/// A known method; names are matched case-insensitively, like Telegram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    GetUpdates,
    GetMe,
    SendMessage,
    EditMessageText,
    EditMessageReplyMarkup,
    AnswerCallbackQuery,
    SetMyCommands,
    DeleteMyCommands,
    GetMyCommands,
    SendDocument,
    GetWebhookInfo,
    SetWebhook,
    DeleteWebhook,
    SendChatAction,
    DeleteMessage,
}

const METHODS: &[(Method, &str)] = &[
    (Method::GetUpdates, "getUpdates"),
    (Method::GetMe, "getMe"),
    (Method::SendMessage, "sendMessage"),
    (Method::EditMessageText, "editMessageText"),
    (Method::EditMessageReplyMarkup, "editMessageReplyMarkup"),
    (Method::AnswerCallbackQuery, "answerCallbackQuery"),
    (Method::SetMyCommands, "setMyCommands"),
    (Method::DeleteMyCommands, "deleteMyCommands"),
    (Method::GetMyCommands, "getMyCommands"),
    (Method::SendDocument, "sendDocument"),
    (Method::GetWebhookInfo, "getWebhookInfo"),
    (Method::SetWebhook, "setWebhook"),
    (Method::DeleteWebhook, "deleteWebhook"),
    (Method::SendChatAction, "sendChatAction"),
    (Method::DeleteMessage, "deleteMessage"),
];

impl Method {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        METHODS
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(name))
            .map(|&(method, _)| method)
    }

    pub(crate) fn name(self) -> &'static str {
        METHODS
            .iter()
            .find(|&&(method, _)| method == self)
            .map_or("unknown", |&(_, name)| name)
    }
}

/// What a method needs besides the state.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub config: &'a FakeTelegramConfig,
    /// Unix time for message dates.
    pub date: i64,
    /// Monotonic time for the flood limits.
    pub now: Instant,
}

const MAX_TEXT: usize = 4096;
const MAX_CAPTION: usize = 1024;
const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

/// Applies `method` (not `getUpdates`) and returns its `result`.
pub(crate) fn call(
    state: &mut State,
    context: &Context<'_>,
    method: Method,
    params: &Params,
) -> Result<Value, TgError> {
    match method {
        Method::GetMe => Ok(get_me(state)),
        Method::SendMessage => send_message(state, context, params),
        Method::EditMessageText => edit_message_text(state, context, params),
        Method::EditMessageReplyMarkup => edit_message_reply_markup(state, context, params),
        Method::AnswerCallbackQuery => answer_callback_query(state, params),
        Method::SetMyCommands => set_my_commands(state, params),
        Method::DeleteMyCommands => delete_my_commands(state, params),
        Method::GetMyCommands => get_my_commands(state, params),
        Method::SendDocument => send_document(state, context, params),
        Method::GetWebhookInfo => Ok(get_webhook_info(state)),
        Method::SetWebhook => set_webhook(state, params),
        Method::DeleteWebhook => {
            state.webhook_url = None;
            if params.flag("drop_pending_updates") {
                state.updates.clear();
            }
            Ok(Value::Bool(true))
        }
        Method::SendChatAction => {
            reachable_chat(state, params.chat_id()?)?;
            Ok(Value::Bool(true))
        }
        Method::DeleteMessage => delete_message(state, params),
        // Handled by the server, which can wait.
        Method::GetUpdates => Err(TgError::not_found()),
    }
}

fn get_me(state: &State) -> Value {
    let mut me = state.bot.clone();
    for (key, value) in [
        ("can_join_groups", true),
        ("can_read_all_group_messages", false),
        ("supports_inline_queries", false),
        ("can_connect_to_business", false),
        ("has_main_web_app", false),
    ] {
        insert_some(&mut me, key, Some(value));
    }
    me
}

/// Checks that the bot may write into `chat_id`: the user wrote first and
/// has neither blocked the bot nor been deactivated.
fn reachable_chat(state: &State, chat_id: i64) -> Result<(), TgError> {
    let user = state
        .users
        .get(&chat_id)
        .filter(|_| state.chats.contains_key(&chat_id))
        .ok_or_else(|| TgError::bad_request("chat not found"))?;
    match user.status {
        UserStatus::Active => Ok(()),
        UserStatus::Blocked => Err(TgError::forbidden("bot was blocked by the user")),
        UserStatus::Deactivated => Err(TgError::forbidden("user is deactivated")),
    }
}

/// Chaos, then the flood limits, for a counted call into `chat_id`. A refused
/// call leaves no trace (not even a used slot).
fn admit(state: &mut State, context: &Context<'_>, chat_id: i64) -> Result<(), TgError> {
    if let Some(failure) = state.chaos.as_mut().and_then(|chaos| chaos.roll(chat_id)) {
        return Err(match failure {
            ChaosFailure::Status(code) => {
                state.stats.injected_errors += 1;
                TgError::status(code)
            }
            ChaosFailure::TooManyRequests => TgError::too_many_requests(1),
        });
    }
    state
        .limiter
        .admit(&context.config.limits, chat_id, context.now)
        .map_err(TgError::too_many_requests)
}

fn parse_mode(params: &Params) -> Result<Option<ParseMode>, TgError> {
    match params.string("parse_mode").filter(|mode| !mode.is_empty()) {
        None => Ok(None),
        Some(mode) => ParseMode::from_param(&mode)
            .map(Some)
            .ok_or_else(|| TgError::bad_request("unsupported parse_mode")),
    }
}

/// Formats `source`; explicit `entities` (without a parse mode) are kept.
fn formatted(
    state: &State,
    params: &Params,
    source: &str,
    mode: Option<ParseMode>,
    entities_key: &str,
) -> Result<(Formatted, Vec<Value>), TgError> {
    let formatted = markup::format(source, mode)
        .map_err(|error| TgError::bad_request(format!("can't parse entities: {error}")))?;
    let mut entities = state.entities_json(&formatted.entities);
    if mode.is_none()
        && let Some(Value::Array(given)) = params.json(entities_key, "entities JSON object")?
    {
        entities = given;
    }
    Ok((formatted, entities))
}

/// A checked `reply_markup`: the parameter as sent and, for an inline
/// keyboard, the markup Telegram echoes back.
struct Markup {
    raw: Option<Value>,
    inline: Option<Value>,
}

#[derive(Deserialize)]
struct InlineButton {
    text: String,
    callback_data: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

fn reply_markup(params: &Params, inline_only: bool) -> Result<Markup, TgError> {
    let Some(raw) = params.json("reply_markup", "reply keyboard markup JSON object")? else {
        return Ok(Markup {
            raw: None,
            inline: None,
        });
    };
    let unparsable = || TgError::bad_request("can't parse reply keyboard markup JSON object");
    let Some(keyboard) = raw.get("inline_keyboard") else {
        let other_kind = ["keyboard", "remove_keyboard", "force_reply"]
            .iter()
            .any(|key| raw.get(key).is_some());
        if inline_only || !other_kind {
            return Err(unparsable());
        }
        return Ok(Markup {
            raw: Some(raw),
            inline: None,
        });
    };
    let rows: Vec<Vec<InlineButton>> =
        serde_json::from_value(keyboard.clone()).map_err(|_| unparsable())?;
    for button in rows.iter().flatten() {
        if let Some(data) = &button.callback_data {
            if data.is_empty() || data.len() > 64 {
                return Err(TgError::bad_request("BUTTON_DATA_INVALID"));
            }
        } else if button.other.values().all(Value::is_null) {
            return Err(TgError::bad_request(
                "text buttons are unallowed in the inline keyboard",
            ));
        }
        if button.text.is_empty() {
            return Err(TgError::bad_request("text must be non-empty"));
        }
    }
    let inline = rows
        .iter()
        .any(|row| !row.is_empty())
        .then(|| json!({ "inline_keyboard": keyboard }));
    Ok(Markup {
        raw: Some(raw),
        inline,
    })
}

fn send_message(
    state: &mut State,
    context: &Context<'_>,
    params: &Params,
) -> Result<Value, TgError> {
    let chat_id = params.chat_id()?;
    if !state.chats.contains_key(&chat_id) {
        return Err(TgError::bad_request("chat not found"));
    }
    let source = params.string("text").unwrap_or_default();
    let mode = parse_mode(params)?;
    let (text, entities) = formatted(state, params, &source, mode, "entities")?;
    if text.text.trim().is_empty() {
        return Err(TgError::bad_request("message text is empty"));
    }
    if utf16_len(&text.text) > MAX_TEXT {
        return Err(TgError::bad_request("message is too long"));
    }
    let markup = reply_markup(params, false)?;
    reachable_chat(state, chat_id)?;
    admit(state, context, chat_id)?;
    let message = StoredMessage {
        message_id: 0,
        date: context.date,
        edit_date: None,
        text: text.text,
        entities,
        source,
        parse_mode: mode,
        inline_markup: markup.inline,
        reply_markup: markup.raw,
        document: None,
        edits: 0,
    };
    Ok(deliver(state, chat_id, message))
}

/// Stores a new bot message in its chat and answers its JSON.
fn deliver(state: &mut State, chat_id: i64, mut message: StoredMessage) -> Value {
    let chat_json = state
        .users
        .get(&chat_id)
        .map(|user| user.chat_json())
        .unwrap_or_default();
    let bot = state.bot.clone();
    let Some(chat) = state.chats.get_mut(&chat_id) else {
        return Value::Null;
    };
    message.message_id = chat.take_message_id();
    chat.delivered += 1;
    chat.transcript.push(Entry::BotMessage(message.public()));
    let answer = message.to_json(&bot, &chat_json);
    chat.bot_messages.insert(message.message_id, message);
    answer
}

/// The bot message an edit targets, checked like Telegram does.
fn message_to_edit(state: &State, params: &Params) -> Result<(i64, i64), TgError> {
    if params.has("inline_message_id") {
        return Err(TgError::bad_request("MESSAGE_ID_INVALID"));
    }
    let chat_id = params.chat_id()?;
    let message_id = params
        .int("message_id")?
        .ok_or_else(|| TgError::bad_request("message identifier is not specified"))?;
    let chat = state
        .chats
        .get(&chat_id)
        .ok_or_else(|| TgError::bad_request("chat not found"))?;
    if !chat.bot_messages.contains_key(&message_id) {
        return Err(if chat.user_messages.contains(&message_id) {
            TgError::bad_request("message can't be edited")
        } else {
            TgError::bad_request("message to edit not found")
        });
    }
    Ok((chat_id, message_id))
}

fn edit_message_text(
    state: &mut State,
    context: &Context<'_>,
    params: &Params,
) -> Result<Value, TgError> {
    let (chat_id, message_id) = message_to_edit(state, params)?;
    let source = params.string("text").unwrap_or_default();
    let mode = parse_mode(params)?;
    let (text, entities) = formatted(state, params, &source, mode, "entities")?;
    if text.text.trim().is_empty() {
        return Err(TgError::bad_request("message text is empty"));
    }
    if utf16_len(&text.text) > MAX_TEXT {
        return Err(TgError::bad_request("MESSAGE_TOO_LONG"));
    }
    let markup = reply_markup(params, true)?;
    let current = stored(state, chat_id, message_id)?;
    if current.document.is_some() {
        return Err(TgError::bad_request(
            "there is no text in the message to edit",
        ));
    }
    if current.text == text.text
        && current.entities == entities
        && current.inline_markup == markup.inline
    {
        return Err(TgError::bad_request(NOT_MODIFIED));
    }
    reachable_chat(state, chat_id)?;
    admit(state, context, chat_id)?;
    let edit = BotEdit {
        message_id,
        text: Some(text.text.clone()),
        source: Some(source.clone()),
        parse_mode: mode.map(|mode| mode.name().to_owned()),
        buttons: buttons_of(markup.inline.as_ref()),
    };
    apply_edit(state, context, chat_id, message_id, edit, |message| {
        message.text = text.text;
        message.entities = entities;
        message.source = source;
        message.parse_mode = mode;
        message.inline_markup = markup.inline;
        message.reply_markup = markup.raw;
    })
}

fn edit_message_reply_markup(
    state: &mut State,
    context: &Context<'_>,
    params: &Params,
) -> Result<Value, TgError> {
    let (chat_id, message_id) = message_to_edit(state, params)?;
    let markup = reply_markup(params, true)?;
    if stored(state, chat_id, message_id)?.inline_markup == markup.inline {
        return Err(TgError::bad_request(NOT_MODIFIED));
    }
    reachable_chat(state, chat_id)?;
    admit(state, context, chat_id)?;
    let edit = BotEdit {
        message_id,
        text: None,
        source: None,
        parse_mode: None,
        buttons: buttons_of(markup.inline.as_ref()),
    };
    apply_edit(state, context, chat_id, message_id, edit, |message| {
        message.inline_markup = markup.inline;
        message.reply_markup = markup.raw;
    })
}

fn stored(state: &State, chat_id: i64, message_id: i64) -> Result<&StoredMessage, TgError> {
    state
        .chats
        .get(&chat_id)
        .and_then(|chat| chat.bot_messages.get(&message_id))
        .ok_or_else(|| TgError::bad_request("message to edit not found"))
}

fn apply_edit(
    state: &mut State,
    context: &Context<'_>,
    chat_id: i64,
    message_id: i64,
    edit: BotEdit,
    change: impl FnOnce(&mut StoredMessage),
) -> Result<Value, TgError> {
    let chat_json = state
        .users
        .get(&chat_id)
        .map(|user| user.chat_json())
        .unwrap_or_default();
    let bot = state.bot.clone();
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| TgError::bad_request("chat not found"))?;
    let message = chat
        .bot_messages
        .get_mut(&message_id)
        .ok_or_else(|| TgError::bad_request("message to edit not found"))?;
    change(message);
    message.edits += 1;
    message.edit_date = Some(context.date);
    let answer = message.to_json(&bot, &chat_json);
    chat.transcript.push(Entry::BotEdit(edit));
    Ok(answer)
}

fn answer_callback_query(state: &mut State, params: &Params) -> Result<Value, TgError> {
    let query_id = params.string("callback_query_id").unwrap_or_default();
    let chat_id = state.callback_queries.remove(&query_id).ok_or_else(|| {
        TgError::bad_request("query is too old and response timeout expired or query ID is invalid")
    })?;
    if let Some(chat) = state.chats.get_mut(&chat_id) {
        chat.transcript.push(Entry::CallbackAnswer {
            callback_query_id: query_id,
            text: params.string("text").filter(|text| !text.is_empty()),
            show_alert: params.flag("show_alert"),
        });
    }
    Ok(Value::Bool(true))
}

#[derive(Deserialize)]
struct CommandParam {
    command: String,
    description: String,
}

#[derive(Deserialize)]
struct ScopeParam {
    #[serde(rename = "type")]
    kind: String,
    chat_id: Option<Value>,
    user_id: Option<i64>,
}

/// The scope and language a command list is stored under.
fn command_key(params: &Params) -> Result<(CommandScope, String), TgError> {
    let scope = match params.typed::<ScopeParam>("scope", "bot command scope JSON object")? {
        None => CommandScope::default_scope(),
        Some(scope) => {
            const KINDS: &[&str] = &[
                "default",
                "all_private_chats",
                "all_group_chats",
                "all_chat_administrators",
                "chat",
                "chat_administrators",
                "chat_member",
            ];
            if !KINDS.contains(&scope.kind.as_str()) {
                return Err(TgError::bad_request(
                    "wrong bot command scope type specified",
                ));
            }
            let chat_id = match scope.chat_id {
                None => None,
                Some(Value::Number(number)) => number.as_i64(),
                Some(Value::String(text)) => text.parse().ok(),
                Some(_) => None,
            };
            if scope.kind.starts_with("chat") && chat_id.is_none() {
                return Err(TgError::bad_request("chat not found"));
            }
            CommandScope {
                kind: scope.kind,
                chat_id,
                user_id: scope.user_id,
            }
        }
    };
    let language = params.string("language_code").unwrap_or_default();
    Ok((scope, language))
}

fn set_my_commands(state: &mut State, params: &Params) -> Result<Value, TgError> {
    let commands = params
        .typed::<Vec<CommandParam>>("commands", "BotCommand array")?
        .ok_or_else(|| TgError::bad_request("parameter \"commands\" is required"))?;
    if commands.len() > 100 {
        return Err(TgError::bad_request("too many commands"));
    }
    for command in &commands {
        let valid_name = (1..=32).contains(&command.command.len())
            && command
                .command
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid_name {
            return Err(TgError::bad_request("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&command.description.chars().count()) {
            return Err(TgError::bad_request(
                "command description is empty or too long",
            ));
        }
    }
    let key = command_key(params)?;
    if commands.is_empty() {
        state.commands.remove(&key);
    } else {
        let entries = commands
            .into_iter()
            .map(|command| BotCommandEntry {
                command: command.command,
                description: command.description,
            })
            .collect();
        state.commands.insert(key, entries);
    }
    Ok(Value::Bool(true))
}

fn delete_my_commands(state: &mut State, params: &Params) -> Result<Value, TgError> {
    let key = command_key(params)?;
    state.commands.remove(&key);
    Ok(Value::Bool(true))
}

fn get_my_commands(state: &State, params: &Params) -> Result<Value, TgError> {
    let key = command_key(params)?;
    let commands = state.commands.get(&key).cloned().unwrap_or_default();
    Ok(json!(commands))
}

fn send_document(
    state: &mut State,
    context: &Context<'_>,
    params: &Params,
) -> Result<Value, TgError> {
    let chat_id = params.chat_id()?;
    if !state.chats.contains_key(&chat_id) {
        return Err(TgError::bad_request("chat not found"));
    }
    let document = document_param(state, params)?;
    let source = params.string("caption").unwrap_or_default();
    let mode = parse_mode(params)?;
    let (caption, entities) = formatted(state, params, &source, mode, "caption_entities")?;
    if utf16_len(&caption.text) > MAX_CAPTION {
        return Err(TgError::bad_request("message caption is too long"));
    }
    let markup = reply_markup(params, false)?;
    reachable_chat(state, chat_id)?;
    admit(state, context, chat_id)?;
    state
        .files
        .insert(document.file_id.clone(), document.clone());
    let message = StoredMessage {
        message_id: 0,
        date: context.date,
        edit_date: None,
        text: caption.text,
        entities,
        source,
        parse_mode: mode,
        inline_markup: markup.inline,
        reply_markup: markup.raw,
        document: Some(document),
        edits: 0,
    };
    Ok(deliver(state, chat_id, message))
}

/// The `document` parameter: an uploaded part (directly or through
/// `attach://name`) or the id of a file sent before.
fn document_param(state: &mut State, params: &Params) -> Result<SentDocument, TgError> {
    let upload = match params.string("document") {
        Some(reference) => match reference.strip_prefix("attach://") {
            Some(part) => params.file(part),
            None => {
                return state.files.get(&reference).cloned().ok_or_else(|| {
                    TgError::bad_request("wrong file identifier/HTTP URL specified")
                });
            }
        },
        None => params.file("document"),
    };
    let Some(upload) = upload else {
        return Err(TgError::bad_request("there is no document in the request"));
    };
    if upload.bytes.is_empty() {
        return Err(TgError::bad_request("file must be non-empty"));
    }
    Ok(SentDocument {
        file_id: state.new_file_id(),
        file_name: upload
            .file_name
            .clone()
            .unwrap_or_else(|| "document".to_owned()),
        mime_type: mime_type(upload),
        bytes: upload.bytes.clone(),
    })
}

/// The part's own type, else a guess from the file name like Telegram's.
fn mime_type(upload: &Upload) -> String {
    if let Some(given) = upload
        .content_type
        .as_deref()
        .filter(|given| !given.is_empty() && *given != "application/octet-stream")
    {
        return given.to_owned();
    }
    let extension = upload
        .file_name
        .as_deref()
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "ics" => "text/calendar",
        "csv" => "text/csv",
        "txt" | "log" => "text/plain",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "html" | "htm" => "text/html",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
    .to_owned()
}

fn get_webhook_info(state: &State) -> Value {
    let mut info = json!({
        "url": state.webhook_url.clone().unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": state.updates.len(),
    });
    if state.webhook_url.is_some() {
        insert_some(&mut info, "max_connections", Some(40));
    }
    info
}

fn set_webhook(state: &mut State, params: &Params) -> Result<Value, TgError> {
    let url = params.string("url").unwrap_or_default();
    if !url.is_empty() && !url.starts_with("https://") {
        return Err(TgError::bad_request(
            "bad webhook: An HTTPS URL must be provided for webhook",
        ));
    }
    if params.flag("drop_pending_updates") {
        state.updates.clear();
    }
    state.webhook_url = Some(url).filter(|url| !url.is_empty());
    Ok(Value::Bool(true))
}

fn delete_message(state: &mut State, params: &Params) -> Result<Value, TgError> {
    let chat_id = params.chat_id()?;
    let message_id = params
        .int("message_id")?
        .ok_or_else(|| TgError::bad_request("message identifier is not specified"))?;
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| TgError::bad_request("chat not found"))?;
    let deleted =
        chat.bot_messages.remove(&message_id).is_some() || chat.user_messages.remove(&message_id);
    if !deleted {
        return Err(TgError::bad_request("message to delete not found"));
    }
    chat.transcript.push(Entry::BotDelete { message_id });
    Ok(Value::Bool(true))
}
