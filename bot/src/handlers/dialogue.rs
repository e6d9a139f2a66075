//! The one dialogue a user can be in, stored in `dialogue_states` so a
//! restart of the bot continues it.
//!
//! Each state type carries its own tag field (`registration`, `profile`,
//! `admin`, `broadcast`, `availability`, `owner_meetings`, `calendar`), so the stored JSON says which
//! dialogue it is and states saved before another dialogue existed still
//! parse.

use serde::{Deserialize, Serialize};
use shared::db::{DbError, dialogues};
use shared::domain::registration::Registration;

use super::{Actor, Turn, admin, availability, broadcast, calendar, owner_meetings, profile};

/// A dialogue in progress: what the bot waits for as the next text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Dialogue {
    Registration(Registration),
    Profile(profile::ProfileInput),
    Admin(admin::AdminInput),
    Broadcast(broadcast::BroadcastInput),
    Availability(availability::AvailabilityInput),
    OwnerMeetings(owner_meetings::OwnerMeetingsInput),
    Calendar(calendar::CalendarInput),
}

/// The actor's dialogue, if any.
pub(super) fn load(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<Option<Dialogue>, DbError> {
    dialogues::load(turn.conn, actor.telegram_id)
}

/// Starts (or replaces) the actor's dialogue.
pub(super) fn save(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    dialogue: &Dialogue,
) -> Result<(), DbError> {
    dialogues::save(turn.conn, actor.telegram_id, dialogue, turn.ctx.now)
}

/// Ends the actor's dialogue.
pub(super) fn clear(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    dialogues::clear(turn.conn, actor.telegram_id)
}
