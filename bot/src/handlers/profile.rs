//! Self-service: `/profile` (name, department, email, language, time zone,
//! work status with an optional "until" date) and `/language`. Each press
//! and text re-checks who the caller is now.

use serde::{Deserialize, Serialize};
use shared::db::DbError;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::{Actor, Turn, callbacks};

/// Text the profile waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "profile", rename_all = "snake_case")]
pub(crate) enum ProfileInput {
    /// An email address.
    Email,
}

/// `/profile`.
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "unknown", &[])),
    )
}

/// A press on an `prf:` button; `data` is what follows the prefix.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let _ = data;
    callbacks::stale(turn, actor, "profile not built yet")
}

/// Text while the profile waits for `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: ProfileInput,
    text: &str,
) -> Result<(), DbError> {
    let _ = (input, text);
    super::dialogue::clear(turn, actor)?;
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "unknown", &[])),
    )
}

/// `/language`.
pub(super) fn language(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "unknown", &[])),
    )
}
