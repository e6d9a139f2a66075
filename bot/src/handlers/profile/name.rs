//! The name: the first name, then the last name, each checked by the
//! registration rules (`shared::domain::registration::PersonName`) and
//! asked again with the reason when refused. The first name waits in the
//! dialogue state while the last one is asked, so a restart of the bot
//! continues the question; both are saved together at the end.

use serde_json::json;
use shared::db::DbError;
use shared::db::users::{self, User};
use shared::domain::registration::{MAX_NAME_CHARS, NameError, PersonName};
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::{Actor, ProfileInput, Turn, audit_change, problem, show_saved, view, wait_for};
use super::{dialogue, start};

/// "✏️ Name": asks for the first name (the message changes in place).
pub(super) fn ask(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    wait_for(turn, actor, ProfileInput::FirstName)?;
    let text = t(
        language,
        "profile.name.ask_first",
        &[("first_name", &user.first_name)],
    );
    let back = vec![vec![view::back(language)]];
    turn.show(actor, OutgoingMessage::with_buttons(text, back))?;
    Ok(None)
}

/// The first name typed while it is asked for: kept in the dialogue, and
/// the last name asked.
pub(super) fn on_first_name(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    text: &str,
) -> Result<(), DbError> {
    let language = user.language;
    let first_name = match PersonName::parse(text) {
        Ok(name) => name,
        Err(error) => {
            // The dialogue stays: the next text is the next try.
            let again = t(language, "profile.name.again_first", &[]);
            return turn.reply(actor, problem(error_text(language, error), again));
        }
    };
    let question = t(
        language,
        "profile.name.ask_last",
        &[
            ("first_name", first_name.as_str()),
            ("last_name", &user.last_name),
        ],
    );
    wait_for(turn, actor, ProfileInput::LastName { first_name })?;
    let back = vec![vec![view::back(language)]];
    turn.reply(actor, OutgoingMessage::with_buttons(question, back))
}

/// The last name typed while it is asked for: both names are saved (when
/// they differ from the stored ones) and the profile shown again.
pub(super) fn on_last_name(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    first_name: PersonName,
    text: &str,
) -> Result<(), DbError> {
    let language = user.language;
    let last_name = match PersonName::parse(text) {
        Ok(name) => name,
        Err(error) => {
            // The dialogue stays, the first name in it.
            let again = t(language, "profile.name.again_last", &[]);
            return turn.reply(actor, problem(error_text(language, error), again));
        }
    };
    dialogue::clear(turn, actor)?;
    let changed = user.first_name != first_name.as_str() || user.last_name != last_name.as_str();
    if changed {
        if !users::set_name(turn.conn, user.id, &first_name, &last_name, turn.ctx.now)? {
            // No longer active (removed while answering): nothing changed.
            return turn.reply(actor, start::status(actor));
        }
        audit_change(
            turn,
            actor,
            user,
            "profile.name",
            json!({
                "from": { "first_name": user.first_name, "last_name": user.last_name },
                "to": { "first_name": first_name.as_str(), "last_name": last_name.as_str() },
            }),
        )?;
    }
    let name = format!("{first_name} {last_name}");
    let note = t(language, "profile.name.saved", &[("name", &name)]);
    show_saved(turn, actor, user, note, changed)?;
    Ok(())
}

/// Why a name was refused, in the user's language.
fn error_text(language: Language, error: NameError) -> String {
    match error {
        NameError::Empty => t(language, "profile.name.error.empty", &[]),
        NameError::TooLong { chars } => t(
            language,
            "profile.name.error.too_long",
            &[
                ("count", &chars.to_string()),
                ("max", &MAX_NAME_CHARS.to_string()),
            ],
        ),
        NameError::ControlCharacters => t(language, "profile.name.error.control", &[]),
    }
}
