//! The language: `/language` and the profile's "🌐 Language" button. Anyone
//! with a row (not removed) may switch, pending applicants too, since the
//! bot's notices to them come in the stored language. Before registering
//! there is no row to keep the choice in: the client's language is used,
//! and the user is told so.
//!
//! The answer comes in the new language and the command menu is set again,
//! because its descriptions are per language.

use serde_json::json;
use shared::db::DbError;
use shared::db::users::{self, User};
use shared::domain::profile::ProfileCallback;
use shared::domain::user::{Language, Status};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, Turn, audit_change, callbacks, leave_dialogue, show_saved, start, view};

/// `/language`.
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let message = match &actor.user {
        None => OutgoingMessage::text(t(actor.language, "profile.language.guest", &[])),
        Some(user) if user.status == Status::Removed => start::status(actor),
        Some(user) => choice(user, false),
    };
    turn.reply(actor, message)
}

/// The profile's "🌐 Language" (an active user).
pub(super) fn choose(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    turn.show(actor, choice(user, true))?;
    Ok(None)
}

/// "Русский" / "English", from `/language` or the profile.
pub(super) fn on_choice(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    language: Language,
) -> Result<Option<String>, DbError> {
    let Some(user) = &actor.user else {
        return callbacks::stale(turn, actor, "language button before registering");
    };
    if user.status == Status::Removed {
        return callbacks::refused(turn, actor, "language button of a removed user");
    }
    leave_dialogue(turn, actor)?;
    let changed = user.language != language;
    if changed {
        users::set_language(turn.conn, user.id, language, turn.ctx.now)?;
        audit_change(
            turn,
            actor,
            user,
            "profile.language_set",
            json!({ "from": user.language, "to": language }),
        )?;
    }
    let fresh = users::get(turn.conn, user.id)?;
    if changed {
        turn.set_menu(&fresh);
    }
    // From here on the actor speaks the new language.
    let actor = Actor {
        user: Some(fresh.clone()),
        language,
        ..*actor
    };
    let note = t(language, "profile.language.saved", &[]);
    if fresh.status == Status::Active {
        return show_saved(turn, &actor, &fresh, note, changed);
    }
    turn.show(&actor, OutgoingMessage::text(note))?;
    let toast = if changed {
        "profile.toast.saved"
    } else {
        "profile.toast.unchanged"
    };
    Ok(Some(t(language, toast, &[])))
}

/// The two languages, each in its own name, the current one ticked; with
/// "« Back" when it was opened from the profile.
fn choice(user: &User, from_profile: bool) -> OutgoingMessage {
    let language = user.language;
    let row: Vec<Button> = [(Language::Ru, "🇷🇺"), (Language::En, "🇬🇧")]
        .into_iter()
        .map(|(option, flag)| {
            let tick = if option == language { "✓ " } else { "" };
            Button::new(
                format!("{tick}{flag} {}", view::language_name(option)),
                ProfileCallback::SetLanguage(option).data(),
            )
        })
        .collect();
    let mut rows = vec![row];
    if from_profile {
        rows.push(vec![view::back(language)]);
    }
    OutgoingMessage::with_buttons(t(language, "profile.language.choose", &[]), rows)
}
