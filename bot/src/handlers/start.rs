//! `/start`, `/help` and the replies that depend only on who is writing:
//! greetings by status and role, the pending and removed notices, hints.

use shared::db::DbError;
use shared::domain::registration::RegistrationCallback;
use shared::domain::user::{Language, Role, Status};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, Turn, approval, registration};

/// `/start` outside a registration: a newcomer starts registering, everyone
/// else sees where they stand.
pub(super) fn start(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    if actor.user.is_none() {
        approval::notify_admins_of_newcomer(turn, actor)?;
        return registration::begin(turn, actor, true);
    }
    turn.reply(actor, status(actor))
}

/// A command other than `/start` and `/cancel`. `registering`: a
/// registration is in progress (and will be asked for again afterwards).
pub(super) fn command(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    command: &str,
    registering: bool,
) -> Result<(), DbError> {
    let language = actor.language;
    let message = match (command, actor.status()) {
        (_, Some(Status::Pending | Status::Removed)) => status(actor),
        ("/help", None | Some(Status::Rejected)) => {
            OutgoingMessage::text(t(language, "help.guest", &[]))
        }
        ("/help", Some(Status::Active)) => OutgoingMessage::text(help(actor)),
        (_, Some(Status::Active)) => OutgoingMessage::text(t(language, "unknown", &[])),
        _ if registering => OutgoingMessage::text(t(language, "unknown", &[])),
        _ => status(actor),
    };
    turn.reply(actor, message)
}

/// Plain text outside any dialogue.
pub(super) fn on_text(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let message = match actor.status() {
        Some(Status::Active) => OutgoingMessage::text(t(actor.language, "unknown", &[])),
        _ => status(actor),
    };
    turn.reply(actor, message)
}

/// Where the user stands, with the buttons that fit (the "fresh menu").
pub(super) fn status(actor: &Actor<'_>) -> OutgoingMessage {
    let language = actor.language;
    let Some(user) = &actor.user else {
        return OutgoingMessage::text(t(language, "guest.hint", &[]));
    };
    let name = [("name", user.first_name.as_str())];
    match (user.status, user.role) {
        (Status::Pending, _) => OutgoingMessage::text(t(language, "start.pending", &[])),
        (Status::Removed, _) => OutgoingMessage::text(t(language, "start.removed", &[])),
        (Status::Rejected, _) => apply_again(t(language, "start.rejected", &[]), language),
        (Status::Active, role) => {
            let key = if role == Some(Role::Owner) {
                "start.owner"
            } else {
                "start.manager"
            };
            let mut text = t(language, key, &name);
            if user.is_admin {
                text.push_str(&t(language, "start.admin", &[]));
            }
            OutgoingMessage::text(text)
        }
    }
}

/// `text` with an "apply again" button under it.
pub(super) fn apply_again(text: String, language: Language) -> OutgoingMessage {
    OutgoingMessage::with_buttons(
        text,
        vec![vec![Button::new(
            t(language, "reg.apply_again", &[]),
            RegistrationCallback::ApplyAgain.data(),
        )]],
    )
}

/// `/help` for an active user's role, plus the admin commands.
fn help(actor: &Actor<'_>) -> String {
    let language = actor.language;
    let Some(user) = &actor.user else {
        return t(language, "help.guest", &[]);
    };
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
