//! The email address: asked for in a dialogue, checked by
//! `shared::domain::profile::Email` (a bad one is explained and asked for
//! again), removable with a button.

use serde_json::json;
use shared::db::DbError;
use shared::db::users::{self, User};
use shared::domain::profile::{Email, EmailError, MAX_EMAIL_CHARS, ProfileCallback};
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::dialogue;
use super::{Actor, ProfileInput, Turn, audit_change, problem, show_saved, view, wait_for};

/// "✉️ Email": asks for the address (with "remove" when there is one).
pub(super) fn ask(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    wait_for(turn, actor, ProfileInput::Email)?;
    let current = current(language, user);
    let text = t(language, "profile.email.ask", &[("email", &current)]);
    let mut row = Vec::new();
    if user.email.is_some() {
        row.push(Button::new(
            t(language, "profile.button.remove_email", &[]),
            ProfileCallback::RemoveEmail.data(),
        ));
    }
    row.push(view::back(language));
    turn.show(actor, OutgoingMessage::with_buttons(text, vec![row]))?;
    Ok(None)
}

/// The address typed while it is asked for.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    text: &str,
) -> Result<(), DbError> {
    let language = user.language;
    let email = match Email::parse(text) {
        Ok(email) => email,
        Err(error) => {
            // The dialogue stays: the next text is the next try.
            let again = t(language, "profile.email.again", &[]);
            return turn.reply(actor, problem(error_text(language, error), again));
        }
    };
    dialogue::clear(turn, actor)?;
    let changed = user.email.as_deref() != Some(email.as_str());
    if changed {
        users::set_email(turn.conn, user.id, Some(email.as_str()), turn.ctx.now)?;
        audit_change(
            turn,
            actor,
            user,
            "profile.email_set",
            json!({ "from": user.email, "to": email.as_str() }),
        )?;
    }
    let note = t(
        language,
        "profile.email.saved",
        &[("email", email.as_str())],
    );
    show_saved(turn, actor, user, note, changed)?;
    Ok(())
}

/// "🗑 Remove email".
pub(super) fn remove(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let changed = user.email.is_some();
    if changed {
        users::set_email(turn.conn, user.id, None, turn.ctx.now)?;
        audit_change(
            turn,
            actor,
            user,
            "profile.email_removed",
            json!({ "from": user.email }),
        )?;
    }
    let note = t(user.language, "profile.email.removed", &[]);
    show_saved(turn, actor, user, note, changed)
}

fn current(language: Language, user: &User) -> String {
    user.email
        .clone()
        .unwrap_or_else(|| t(language, "profile.email.none", &[]))
}

fn error_text(language: Language, error: EmailError) -> String {
    match error {
        EmailError::Empty => t(language, "profile.email.error.empty", &[]),
        EmailError::TooLong { chars } => t(
            language,
            "profile.email.error.too_long",
            &[
                ("count", &chars.to_string()),
                ("max", &MAX_EMAIL_CHARS.to_string()),
            ],
        ),
        EmailError::Spaces => t(language, "profile.email.error.spaces", &[]),
        EmailError::AtSign => t(language, "profile.email.error.at_sign", &[]),
        EmailError::EmptyLocalPart => t(language, "profile.email.error.local_part", &[]),
        EmailError::Characters => t(language, "profile.email.error.characters", &[]),
        EmailError::Domain => t(language, "profile.email.error.domain", &[]),
    }
}
