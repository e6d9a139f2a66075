//! The admin panel, `/admin`: pending applications, users, departments,
//! statistics, booking settings and the audit log. Every command, press and
//! text re-checks that the caller is an active admin right now.

use serde::{Deserialize, Serialize};
use shared::db::DbError;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::{Actor, Turn, callbacks};

/// Text the admin panel waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "admin", rename_all = "snake_case")]
pub(crate) enum AdminInput {
    /// The name of a new department.
    NewDepartment,
}

/// `/admin`.
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "unknown", &[])),
    )
}

/// A press on an `adm:` button; `data` is what follows the prefix.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let _ = data;
    callbacks::stale(turn, actor, "admin panel not built yet")
}

/// Text while the panel waits for `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: AdminInput,
    text: &str,
) -> Result<(), DbError> {
    let _ = (input, text);
    super::dialogue::clear(turn, actor)?;
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "unknown", &[])),
    )
}
