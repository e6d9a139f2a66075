//! What the bot does with one update: check who is writing, change the
//! database in one transaction (including the messages it owes), and say
//! which messages to deliver now and which to hand to the worker.
//!
//! The routing, in one place ([`on_message`], [`callbacks::on_press`]):
//! - `/cancel` leaves any dialogue;
//! - `/start` continues a registration in progress, else greets by status
//!   and role and starts a newcomer's registration ([`start`]);
//! - any other command is answered for the caller's status; a registration
//!   in progress is then asked for again, so it continues;
//! - other text feeds the registration in progress ([`registration`]), or
//!   gets the caller's status or a hint;
//! - buttons: department while registering, "apply again", an admin's
//!   approve/reject ([`approval`]); anything else is a stale menu.
//!
//! ```text
//! stranger: /start
//! bot:      👋 Hello, Anna! … What is your first name?
//! …         (see shared::domain::registration)
//! bot:      ✅ Your request has been sent to the administrators.
//! admins:   📝 New registration request … [✅ Approve] [❌ Reject]   (via the worker)
//! admin:    (presses Approve)
//! bot:      ✅ You approved Anna Smith: they are a manager now.
//! Anna:     🎉 Your request has been approved! …                    (via the worker)
//! ```

mod admin;
mod approval;
mod availability;
mod booking;
mod broadcast;
pub(crate) mod calendar;
mod callbacks;
mod diag;
mod dialogue;
mod meeting_text;
mod menu;
mod my_meetings;
mod owner_meetings;
mod profile;
mod registration;
mod start;

use chrono::{DateTime, Utc};
use shared::db::audit::{self, AuditEntry};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{AuditId, MeetingId, OutboxMessageId, TelegramId, UserId};
use shared::db::users::{self, User};
use shared::db::{DbConn, DbError, updates};
use shared::domain::delivery::Lane;
use shared::domain::user::{Language, Role, Status};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::updates::{Content, Sender as TelegramUser, Update};

use dialogue::Dialogue;

/// What the transaction decided; carried out after commit.
#[derive(Debug, Default)]
pub struct Effects {
    /// Replies to deliver at once, in order (as written, so delivery need
    /// not read them back).
    pub replies: Vec<shared::telegram::delivery::Fresh>,
    /// Messages for the worker.
    pub queued: Vec<OutboxMessageId>,
    /// A button press to acknowledge, with an optional toast text.
    pub callback_answer: Option<(String, Option<String>)>,
    /// Command menus to set, per chat (after a status or role change).
    pub commands: Vec<(i64, menu::Commands)>,
    /// Meetings whose calendars must follow a change, at that revision.
    pub calendar_sync: Vec<(MeetingId, i32)>,
    /// Google grants to revoke (a calendar was disconnected).
    pub revocations: Vec<shared::google::SecretString>,
    /// Shared calendars to test for the service account's access.
    pub shared_calendar_checks: Vec<calendar::SharedCalendarCheck>,
}

/// Everything the handler needs to know besides the database.
#[derive(Debug, Clone)]
pub struct Context {
    pub update_id: i64,
    pub correlation_id: String,
    pub now: DateTime<Utc>,
    pub bootstrap_admins: Vec<i64>,
    /// The company zone (`TIMEZONE`): new users start in it.
    pub company_zone: chrono_tz::Tz,
    /// Google Calendar connection settings; `None` when Google is not
    /// configured.
    pub calendar: Option<std::sync::Arc<calendar::CalendarSetup>>,
    /// The service account owners may share a calendar with; `None` when
    /// not configured.
    pub shared_calendars: Option<std::sync::Arc<calendar::SharedCalendars>>,
}

/// The command menus of chats without their own, by Telegram language code
/// (`None`: everyone else).
pub fn default_menus() -> Vec<(Option<&'static str>, menu::Commands)> {
    vec![
        (None, menu::commands(None, Language::En)),
        (Some("ru"), menu::commands(None, Language::Ru)),
    ]
}

/// Handles one update inside the caller's transaction. Returns `None` when
/// the update was handled before (redelivered after a crash).
pub fn handle(
    conn: &mut DbConn,
    ctx: &Context,
    update: &Update,
) -> Result<Option<Effects>, DbError> {
    if !updates::take_pending(conn, ctx.update_id, ctx.now)? {
        return Ok(None);
    }
    let mut turn = Turn {
        conn,
        ctx,
        effects: Effects::default(),
        pressed_message: None,
    };
    match &update.content {
        // The bot talks in private chats only (chat id = user id).
        Content::Message(message) if message.chat.is_private() => {
            if let Some(from) = &message.from {
                let actor = Actor::load(turn.conn, ctx, from)?;
                on_message(
                    &mut turn,
                    &actor,
                    message.text.as_deref().unwrap_or_default(),
                )?;
            }
        }
        Content::CallbackQuery(query) => callbacks::on_press(&mut turn, query)?,
        _ => {}
    }
    Ok(Some(turn.effects))
}

/// Routes a message (text, or `""` for anything without text).
///
/// A registration survives commands (it is asked for again afterwards);
/// any other dialogue is left when the user sends a command instead of the
/// text it waits for.
fn on_message(turn: &mut Turn<'_>, actor: &Actor<'_>, text: &str) -> Result<(), DbError> {
    let dialogue = dialogue::load(turn, actor)?;
    match (command_of(text), dialogue) {
        (Some("/cancel"), dialogue) => cancel(turn, actor, dialogue),
        (Some(command), Some(Dialogue::Registration(state)))
            if registration::may_register(actor) =>
        {
            if command != "/start" {
                start::command(turn, actor, command, true)?;
            }
            registration::remind(turn, actor, &state)
        }
        (Some(command), dialogue) => {
            if dialogue.is_some() {
                dialogue::clear(turn, actor)?;
            }
            on_command(turn, actor, command, arguments_of(text))
        }
        (None, Some(Dialogue::Registration(state))) if registration::may_register(actor) => {
            registration::on_text(turn, actor, state, text)
        }
        (None, Some(Dialogue::Profile(input))) => profile::on_text(turn, actor, input, text),
        (None, Some(Dialogue::Admin(input))) => admin::on_text(turn, actor, input, text),
        (None, Some(Dialogue::Broadcast(input))) => broadcast::on_text(turn, actor, input, text),
        (None, Some(Dialogue::Availability(input))) => {
            availability::on_text(turn, actor, input, text)
        }
        (None, Some(Dialogue::OwnerMeetings(input))) => {
            owner_meetings::on_text(turn, actor, input, text)
        }
        (None, Some(Dialogue::Calendar(input))) => calendar::on_text(turn, actor, input, text),
        (None, _) => start::on_text(turn, actor),
    }
}

/// A command outside a registration. Each handler checks the caller's
/// status and role itself.
fn on_command(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    command: &str,
    arguments: &str,
) -> Result<(), DbError> {
    let active = actor.status() == Some(Status::Active);
    match command {
        "/start" => start::start(turn, actor),
        "/language" => profile::language(turn, actor),
        "/profile" if active => profile::command(turn, actor),
        "/admin" if active => admin::command(turn, actor),
        "/broadcast" if active => broadcast::command(turn, actor, arguments),
        "/availability" if active => availability::command(turn, actor),
        "/schedule" if active => booking::command(turn, actor),
        "/my_meetings" if active => my_meetings::command(turn, actor),
        "/meetings" if active => owner_meetings::command(turn, actor),
        "/calendar" if active => calendar::command(turn, actor),
        "/diag" if active => diag::command(turn, actor),
        _ => start::command(turn, actor, command, false),
    }
}

/// `/cancel`: leaves whatever dialogue the user is in.
fn cancel(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    dialogue: Option<Dialogue>,
) -> Result<(), DbError> {
    let key = match dialogue {
        None => "cancel.nothing",
        Some(Dialogue::Registration(_)) => "reg.cancelled",
        Some(_) => "cancel.done",
    };
    if dialogue.is_some() {
        dialogue::clear(turn, actor)?;
    }
    turn.reply(actor, OutgoingMessage::text(t(actor.language, key, &[])))
}

/// Whoever sent the update: their Telegram identity and their row, if any.
#[derive(Debug)]
struct Actor<'a> {
    from: &'a TelegramUser,
    telegram_id: TelegramId,
    user: Option<User>,
    /// Their stored language, or their client's before they registered.
    language: Language,
    /// Listed in `ADMIN_TELEGRAM_IDS`.
    bootstrap: bool,
}

impl<'a> Actor<'a> {
    fn load(conn: &mut DbConn, ctx: &Context, from: &'a TelegramUser) -> Result<Self, DbError> {
        let telegram_id = TelegramId(from.id);
        let user = users::find_by_telegram_id(conn, telegram_id)?;
        let language = user.as_ref().map_or_else(
            || Language::from_telegram_code(from.language_code.as_deref()),
            |u| u.language,
        );
        Ok(Self {
            from,
            telegram_id,
            user,
            language,
            bootstrap: ctx.bootstrap_admins.contains(&telegram_id.0),
        })
    }

    fn status(&self) -> Option<Status> {
        self.user.as_ref().map(|u| u.status)
    }

    fn user_id(&self) -> Option<UserId> {
        self.user.as_ref().map(|u| u.id)
    }

    /// The actor's row if they are active in `role` right now (every
    /// role-bound command and button checks this anew).
    fn active_as(&self, role: Role) -> Option<User> {
        self.user
            .as_ref()
            .filter(|user| user.is_active() && user.role == Some(role))
            .cloned()
    }
}

/// One update's work: the transaction and what to do after commit.
struct Turn<'a> {
    conn: &'a mut DbConn,
    ctx: &'a Context,
    effects: Effects,
    /// The bot message whose button was pressed, in the presser's chat.
    pressed_message: Option<i64>,
}

impl Turn<'_> {
    /// Shows `message` in place of the message whose button was pressed
    /// (menus that change in place), or as a reply to a command.
    fn show(&mut self, actor: &Actor<'_>, message: OutgoingMessage) -> Result<(), DbError> {
        let message = message.editing(self.pressed_message);
        self.reply(actor, message)
    }

    /// A reply to the actor, delivered at once: written already claimed by
    /// this process (its sending lease costs no statement of its own).
    fn reply(&mut self, actor: &Actor<'_>, message: OutgoingMessage) -> Result<(), DbError> {
        let (chat_id, lane) = (actor.telegram_id.0, Lane::Interactive);
        let lease = shared::telegram::delivery::reply_lease(self.ctx.now);
        let id = outbox::insert_leased(
            self.conn,
            &NewOutboxMessage {
                chat_id,
                recipient: actor.user_id(),
                kind: "reply",
                lane,
                body: message.to_json(),
                broadcast: None,
                dedupe_key: None,
                correlation_id: Some(&self.ctx.correlation_id),
            },
            self.ctx.now,
            &lease,
        )?;
        self.effects
            .replies
            .extend(id.map(|id| shared::telegram::delivery::Fresh {
                id,
                chat_id,
                recipient_id: actor.user_id(),
                lane,
                message,
                lease,
            }));
        Ok(())
    }

    /// A message to someone else, delivered by the worker; once per
    /// `dedupe_key`. Returns whether it was queued now.
    fn notify(&mut self, notice: Notice<'_>) -> Result<bool, DbError> {
        let id = outbox::insert(
            self.conn,
            &NewOutboxMessage {
                chat_id: notice.chat_id,
                recipient: notice.recipient,
                kind: notice.kind,
                lane: Lane::Bulk,
                body: notice.message.to_json(),
                broadcast: None,
                dedupe_key: Some(notice.dedupe_key),
                correlation_id: Some(&self.ctx.correlation_id),
            },
            self.ctx.now,
        )?;
        self.effects.queued.extend(id);
        Ok(id.is_some())
    }

    /// Refreshes `user`'s command menu after commit (their status, role or
    /// admin flag changed).
    fn set_menu(&mut self, user: &User) {
        let commands = menu::commands(Some(user), user.language);
        self.effects.commands.push((user.telegram_id.0, commands));
    }

    /// Records a state change made by `actor` in the audit log.
    fn audit(
        &mut self,
        actor: &Actor<'_>,
        action: &str,
        target_user: Option<UserId>,
        data: serde_json::Value,
    ) -> Result<AuditId, DbError> {
        self.audit_about(actor, action, target_user, None, data)
    }

    /// [`Turn::audit`] naming another object concerned too, e.g.
    /// `meeting:42`.
    fn audit_about(
        &mut self,
        actor: &Actor<'_>,
        action: &str,
        target_user: Option<UserId>,
        target: Option<String>,
        data: serde_json::Value,
    ) -> Result<AuditId, DbError> {
        audit::record(
            self.conn,
            &AuditEntry {
                actor: actor.user_id(),
                actor_telegram_id: Some(actor.telegram_id),
                action,
                target_user,
                target,
                data,
                correlation_id: Some(&self.ctx.correlation_id),
            },
            self.ctx.now,
        )
    }
}

/// A message for someone other than the actor.
#[derive(Debug)]
struct Notice<'a> {
    chat_id: i64,
    recipient: Option<UserId>,
    /// For logs and statistics, e.g. `admin.application`.
    kind: &'a str,
    message: OutgoingMessage,
    dedupe_key: String,
}

/// The command in a message (`/start@MyBot args` → `/start`).
fn command_of(text: &str) -> Option<&str> {
    let word = text.split_whitespace().next()?;
    word.starts_with('/')
        .then(|| word.split('@').next().unwrap_or(word))
}

/// What follows the command word, trimmed (`/broadcast  Hello` → `Hello`).
fn arguments_of(text: &str) -> &str {
    let text = text.trim_start();
    text.find(char::is_whitespace)
        .map_or("", |end| text[end..].trim())
}

#[cfg(test)]
mod tests {
    use super::{arguments_of, command_of};

    #[test]
    fn commands_are_recognised_with_bot_names_and_arguments() {
        assert_eq!(command_of("/start"), Some("/start"));
        assert_eq!(command_of("  /help@SchedulerBot now"), Some("/help"));
        assert_eq!(command_of("hello /start"), None);
        assert_eq!(command_of(""), None);
    }

    #[test]
    fn arguments_follow_the_command_word() {
        assert_eq!(arguments_of("/broadcast  Hello\nworld "), "Hello\nworld");
        assert_eq!(arguments_of("/broadcast"), "");
        assert_eq!(arguments_of("  /admin@Bot x"), "x");
    }
}
