//! What the bot does with one update: check who is writing, change the
//! database in one transaction (including the messages it owes), and say
//! which messages to deliver now and which to hand to the worker.
//!
//! ```text
//! stranger: /start
//! bot:      👋 Hello, Anna! … your request has been passed to the administrators
//! admins:   🆕 Anna Smith (@anna, id 42) started the bot.      (via the worker)
//! ```

use chrono::{DateTime, Utc};
use frankenstein::types::{MaybeInaccessibleMessage, User as TelegramUser};
use frankenstein::updates::{Update, UpdateContent};
use serde_json::json;
use shared::db::audit::{self, AuditEntry};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{OutboxMessageId, TelegramId};
use shared::db::users::{self, User};
use shared::db::{DbConn, DbError, updates};
use shared::domain::delivery::Lane;
use shared::domain::user::{Language, Role, Status};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

/// The chat an update belongs to (updates of one chat are handled in order).
pub fn chat_of(update: &Update) -> Option<i64> {
    match &update.content {
        UpdateContent::Message(message) => Some(message.chat.id),
        UpdateContent::CallbackQuery(query) => match &query.message {
            Some(MaybeInaccessibleMessage::Message(message)) => Some(message.chat.id),
            Some(MaybeInaccessibleMessage::InaccessibleMessage(message)) => Some(message.chat.id),
            None => i64::try_from(query.from.id).ok(),
        },
        _ => None,
    }
}

/// What the transaction decided; carried out after commit.
#[derive(Debug, Default)]
pub struct Effects {
    /// Replies to deliver at once, in order.
    pub replies: Vec<OutboxMessageId>,
    /// Messages for the worker.
    pub queued: Vec<OutboxMessageId>,
    /// A button press to acknowledge, with an optional toast text.
    pub callback_answer: Option<(String, Option<String>)>,
}

/// Everything the handler needs to know besides the database.
#[derive(Debug, Clone)]
pub struct Context {
    pub update_id: i64,
    pub correlation_id: String,
    pub now: DateTime<Utc>,
    pub bootstrap_admins: Vec<i64>,
}

/// Handles one update inside the caller's transaction. Returns `None` when
/// the update was handled before (redelivered after a crash).
pub fn handle(
    conn: &mut DbConn,
    ctx: &Context,
    update: &Update,
) -> Result<Option<Effects>, DbError> {
    if !updates::mark_handled(conn, ctx.update_id, ctx.now)? {
        return Ok(None);
    }
    let mut effects = Effects::default();
    match &update.content {
        UpdateContent::Message(message) => {
            if let (Some(from), Some(text)) = (&message.from, &message.text) {
                on_text(conn, ctx, &mut effects, message.chat.id, from, text)?;
            }
        }
        UpdateContent::CallbackQuery(query) => {
            let language = users::find_by_telegram_id(conn, telegram_id(&query.from))?
                .map_or_else(|| language_of(&query.from), |u| u.language);
            effects.callback_answer = Some((query.id.clone(), Some(t(language, "unknown", &[]))));
        }
        _ => {}
    }
    Ok(Some(effects))
}

fn telegram_id(user: &TelegramUser) -> TelegramId {
    TelegramId(i64::try_from(user.id).unwrap_or_default())
}

fn language_of(user: &TelegramUser) -> Language {
    Language::from_telegram_code(user.language_code.as_deref())
}

/// The command in a message (`/start@MyBot args` → `/start`).
fn command_of(text: &str) -> Option<&str> {
    let word = text.split_whitespace().next()?;
    word.starts_with('/')
        .then(|| word.split('@').next().unwrap_or(word))
}

fn on_text(
    conn: &mut DbConn,
    ctx: &Context,
    effects: &mut Effects,
    chat_id: i64,
    from: &TelegramUser,
    text: &str,
) -> Result<(), DbError> {
    let user = users::find_by_telegram_id(conn, telegram_id(from))?;
    let language = user
        .as_ref()
        .map_or_else(|| language_of(from), |u| u.language);
    let reply = match command_of(text) {
        Some("/start") => match &user {
            None => {
                notify_admins_of_newcomer(conn, ctx, effects, from)?;
                t(language, "start.new", &[("name", &from.first_name)])
            }
            Some(user) => greeting(user),
        },
        Some("/help") => help(user.as_ref(), language),
        _ => t(language, "unknown", &[]),
    };
    let id = outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id,
            recipient: user.as_ref().map(|u| u.id),
            kind: "reply",
            lane: Lane::Interactive,
            body: OutgoingMessage::text(reply).to_json(),
            broadcast: None,
            dedupe_key: None,
            correlation_id: Some(&ctx.correlation_id),
        },
        ctx.now,
    )?;
    effects.replies.extend(id);
    Ok(())
}

fn greeting(user: &User) -> String {
    let name = [("name", user.first_name.as_str())];
    let key = match (user.status, user.role) {
        (Status::Pending, _) => "start.pending",
        (Status::Rejected, _) => "start.rejected",
        (Status::Removed, _) => "start.removed",
        (Status::Active, Some(Role::Owner)) => "start.owner",
        (Status::Active, _) => "start.manager",
    };
    t(user.language, key, &name)
}

fn help(user: Option<&User>, language: Language) -> String {
    match user.filter(|u| u.is_active()) {
        None => t(language, "help.guest", &[]),
        Some(user) => {
            let key = if user.role == Some(Role::Owner) {
                "help.owner"
            } else {
                "help.manager"
            };
            let mut text = t(language, key, &[]);
            if user.is_admin {
                text.push_str(&t(language, "help.admin", &[]));
            }
            text
        }
    }
}

/// Queues one "new user" notice per admin (bootstrap ids and active admins),
/// once per newcomer and admin however often they press /start.
fn notify_admins_of_newcomer(
    conn: &mut DbConn,
    ctx: &Context,
    effects: &mut Effects,
    from: &TelegramUser,
) -> Result<(), DbError> {
    let newcomer = telegram_id(from);
    let mut recipients: Vec<(i64, Option<User>)> = users::active_admins(conn)?
        .into_iter()
        .map(|admin| (admin.telegram_id.0, Some(admin)))
        .collect();
    for id in &ctx.bootstrap_admins {
        if !recipients.iter().any(|(known, _)| known == id) {
            recipients.push((*id, None));
        }
    }
    let name = match &from.last_name {
        Some(last) => format!("{} {last}", from.first_name),
        None => from.first_name.clone(),
    };
    let username = from
        .username
        .as_ref()
        .map_or_else(|| "—".to_owned(), |u| format!("@{u}"));
    let mut queued = 0;
    for (admin_chat, admin) in recipients.into_iter().filter(|(id, _)| *id != newcomer.0) {
        let language = admin.as_ref().map_or(Language::Ru, |a| a.language);
        let text = t(
            language,
            "admin.new_user",
            &[
                ("name", &name),
                ("username", &username),
                ("telegram_id", &newcomer.0.to_string()),
            ],
        );
        let id = outbox::insert(
            conn,
            &NewOutboxMessage {
                chat_id: admin_chat,
                recipient: admin.as_ref().map(|a| a.id),
                kind: "admin.new_user",
                lane: Lane::Bulk,
                body: OutgoingMessage::text(text).to_json(),
                broadcast: None,
                dedupe_key: Some(format!("new-user:{}:{admin_chat}", newcomer.0)),
                correlation_id: Some(&ctx.correlation_id),
            },
            ctx.now,
        )?;
        if let Some(id) = id {
            effects.queued.push(id);
            queued += 1;
        }
    }
    if queued > 0 {
        audit::record(
            conn,
            &AuditEntry {
                actor: None,
                actor_telegram_id: Some(newcomer),
                action: "user.first_contact",
                target_user: None,
                target: Some(format!("telegram:{}", newcomer.0)),
                data: json!({ "notified_admins": queued }),
                correlation_id: Some(&ctx.correlation_id),
            },
            ctx.now,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::command_of;

    #[test]
    fn commands_are_recognised_with_bot_names_and_arguments() {
        assert_eq!(command_of("/start"), Some("/start"));
        assert_eq!(command_of("  /help@SchedulerBot now"), Some("/help"));
        assert_eq!(command_of("hello /start"), None);
        assert_eq!(command_of(""), None);
    }
}
