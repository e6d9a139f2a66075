//! `/meetings`: the meetings booked with an owner. The screens come in the
//! next change; until then the owner gets their status.

use serde::{Deserialize, Serialize};
use shared::db::DbError;

use super::{Actor, Turn, callbacks, start};

/// What `/meetings` waits for as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "owner_meetings", rename_all = "snake_case")]
pub(crate) enum OwnerMeetingsInput {
    /// The reason for cancelling a meeting.
    CancelReason { meeting: i64 },
}

/// `/meetings` (the router lets only active users in).
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    turn.reply(actor, start::status(actor))
}

/// A press on an `om:` button.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    _data: &str,
) -> Result<Option<String>, DbError> {
    callbacks::stale(turn, actor, "owner meetings are not built yet")
}

/// Text while `/meetings` waits for `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    _input: OwnerMeetingsInput,
    _text: &str,
) -> Result<(), DbError> {
    turn.reply(actor, start::status(actor))
}
