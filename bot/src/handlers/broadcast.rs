//! `/broadcast <text>`: a message to every active user through the delivery
//! path, with a progress message the worker edits.

use serde::{Deserialize, Serialize};
use shared::db::DbError;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::{Actor, Turn, callbacks};

/// Text the broadcast waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "broadcast", rename_all = "snake_case")]
pub(crate) enum BroadcastInput {
    /// The text to send.
    Text,
}

/// `/broadcast [text]`.
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>, text: &str) -> Result<(), DbError> {
    let _ = text;
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "unknown", &[])),
    )
}

/// A press on a `bc:` button.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let _ = data;
    callbacks::stale(turn, actor, "broadcast not built yet")
}

/// Text while the broadcast waits for `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: BroadcastInput,
    text: &str,
) -> Result<(), DbError> {
    let _ = (input, text);
    super::dialogue::clear(turn, actor)?;
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "unknown", &[])),
    )
}
