//! Button presses: the data is parsed strictly and everything it names is
//! looked up again; a press that does not fit (forged, garbage, from an old
//! message) gets "this menu is out of date" and a fresh menu, and changes
//! nothing.

use frankenstein::types::CallbackQuery;
use shared::db::DbError;
use shared::domain::registration::RegistrationCallback;
use shared::i18n::t;

use super::{Actor, Turn, approval, registration, start};

/// Handles a press and always answers it (stops the client's spinner).
pub(super) fn on_press(turn: &mut Turn<'_>, query: &CallbackQuery) -> Result<(), DbError> {
    let actor = Actor::load(turn.conn, turn.ctx, &query.from)?;
    let parsed = query.data.as_deref().and_then(RegistrationCallback::parse);
    let toast = match parsed {
        Some(RegistrationCallback::Department(id)) => {
            registration::on_department(turn, &actor, id)?
        }
        Some(RegistrationCallback::ApplyAgain) => registration::apply_again(turn, &actor)?,
        Some(RegistrationCallback::Decide {
            decision,
            user,
            round,
        }) => approval::on_decide(turn, &actor, decision, user, round)?,
        None => stale(turn, &actor, "unknown callback data")?,
    };
    turn.effects.callback_answer = Some((query.id.clone(), toast));
    Ok(())
}

/// A press that no longer fits: "this menu is out of date", then where the
/// user stands now (the registration question, or their status).
pub(super) fn stale(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    why: &'static str,
) -> Result<Option<String>, DbError> {
    tracing::info!(reason = why, "stale or forged button refused");
    fresh_menu(turn, actor)?;
    Ok(Some(t(actor.language, "menu.stale", &[])))
}

/// A press the user is not allowed to make: refused, with a fresh menu.
pub(super) fn refused(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    why: &'static str,
) -> Result<Option<String>, DbError> {
    tracing::warn!(reason = why, "button refused: not allowed");
    fresh_menu(turn, actor)?;
    Ok(Some(t(actor.language, "not_allowed", &[])))
}

fn fresh_menu(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    match registration::load(turn, actor)? {
        Some(state) => registration::remind(turn, actor, &state),
        None => turn.reply(actor, start::status(actor)),
    }
}
