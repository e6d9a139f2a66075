//! Button presses: the data is parsed strictly and everything it names is
//! looked up again; a press that does not fit (forged, garbage, from an old
//! message) gets "this menu is out of date" and a fresh menu, and changes
//! nothing.

use shared::db::DbError;
use shared::domain::registration::RegistrationCallback;
use shared::i18n::t;
use shared::telegram::updates::CallbackQuery;

use super::{
    Actor, Turn, admin, approval, availability, booking, broadcast, calendar, diag, my_meetings,
    owner_meetings, profile, registration, start,
};

/// Handles a press and always answers it (stops the client's spinner).
pub(super) fn on_press(turn: &mut Turn<'_>, query: &CallbackQuery) -> Result<(), DbError> {
    let actor = Actor::load(turn.conn, turn.ctx, &query.from)?;
    turn.pressed_message = pressed_message(query, &actor);
    let data = query.data.as_deref().unwrap_or_default();
    let toast = if let Some(rest) = data.strip_prefix("adm:") {
        admin::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("prf:") {
        profile::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("bc:") {
        broadcast::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("av:") {
        availability::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("bk:") {
        booking::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("mm:") {
        my_meetings::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("om:") {
        owner_meetings::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("cal:") {
        calendar::on_press(turn, &actor, rest)?
    } else if let Some(rest) = data.strip_prefix("dg:") {
        diag::on_press(turn, &actor, rest)?
    } else {
        registration_press(turn, &actor, data)?
    };
    turn.effects.callback_answer = Some((query.id.clone(), toast));
    Ok(())
}

/// The pressed message, when it is a message of the presser's own chat
/// (the only kind the bot may edit in reply).
fn pressed_message(query: &CallbackQuery, actor: &Actor<'_>) -> Option<i64> {
    query
        .message
        .as_ref()
        .filter(|message| message.is_accessible() && message.chat.id == actor.telegram_id.0)
        .map(|message| message.message_id)
}

/// Registration and approval buttons (no prefix of their own).
fn registration_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    Ok(match RegistrationCallback::parse(data) {
        Some(RegistrationCallback::Department(id)) => registration::on_department(turn, actor, id)?,
        Some(RegistrationCallback::ApplyAgain) => registration::apply_again(turn, actor)?,
        Some(RegistrationCallback::Decide {
            decision,
            user,
            round,
        }) => approval::on_decide(turn, actor, decision, user, round)?,
        None => stale(turn, actor, "unknown callback data")?,
    })
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
