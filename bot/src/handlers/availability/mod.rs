//! `/availability`: an owner's weekly start times, slot length and blocked
//! time. One message that changes in place; a day's start times are
//! toggled in a draft kept in the dialogue state and written at once on
//! "Save". Every command, press and typed text re-checks that the caller
//! is an active owner right now; button data is parsed strictly and what
//! it names (a weekday's draft, a block) is checked against the server.
//!
//! ```text
//! owner: /availability
//! bot:   🗓 Your availability … Mon: — …  [Mon][Tue]…[⏱ Slot length][🚫 Blocked time]
//! owner: (presses Mon)          → the grid 07:00…21:00, 4 per row, [💾 Save][🧹 Clear]…
//! owner: (presses 10:00, 10:30) → ✅ 10:00, ✅ 10:30 (draft only)
//! owner: (presses 💾 Save)       → ✅ Monday saved: 10:00, 10:30.  🗓 Your availability …
//! owner: (presses 🚫 Blocked time, ➕ Add)
//! bot:   Send the start and the end of the period …
//! owner: 24.12.2026 – 02.01.2027 Vacation
//! bot:   ✅ Blocked: 24.12.2026 – 02.01.2027.  1. 24.12.2026 – 02.01.2027 · Vacation [🗑 …]
//! ```
//!
//! The rules (button data, the grid, reading a typed period) live in
//! `shared::domain::availability`; storage in `shared::db::availability`
//! and `shared::db::blocked_periods`.

mod blocks;
mod week;

use chrono::Weekday;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use shared::db::DbError;
use shared::db::users::User;
use shared::domain::availability::{AvailabilityCallback, DayStarts};
use shared::domain::profile::stored_zone;
use shared::domain::user::Role;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::dialogue::{self, Dialogue};
use super::{Actor, Turn, callbacks, start};

/// What `/availability` keeps between presses and waits for. Stored as
/// `{"availability":"draft","weekday":"Mon","starts":[600,630]}` or
/// `{"availability":"block"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "availability", rename_all = "snake_case")]
pub(crate) enum AvailabilityInput {
    /// The start times of `weekday` as toggled so far, not saved yet.
    Draft { weekday: Weekday, starts: DayStarts },
    /// The text of a new blocked period.
    Block,
}

/// `/availability` (the router lets only active users in).
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let Some(owner) = actor.active_as(Role::Owner) else {
        let text = t(actor.language, "availability.owners_only", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    let message = week::overview(turn, &owner, None)?;
    turn.reply(actor, message)
}

/// A press on an `av:` button; `data` is what follows the prefix. Returns
/// the toast.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(owner) = actor.active_as(Role::Owner) else {
        return callbacks::refused(turn, actor, "availability button of a non-owner");
    };
    let Some(press) = AvailabilityCallback::parse(data) else {
        return callbacks::stale(turn, actor, "availability button data that does not parse");
    };
    let draft = match dialogue::load(turn, actor)? {
        Some(Dialogue::Availability(AvailabilityInput::Draft { weekday, starts })) => {
            Some((weekday, starts))
        }
        _ => None,
    };
    // The draft a day button works on: only the day's own, still open.
    let draft_of = |day: Weekday| draft.filter(|(weekday, _)| *weekday == day).map(|d| d.1);
    match press {
        AvailabilityCallback::Overview => week::back(turn, actor, &owner, draft),
        AvailabilityCallback::Day(day) => week::open_day(turn, actor, &owner, day),
        AvailabilityCallback::Toggle(day, minute) => match draft_of(day) {
            Some(starts) => week::toggle(turn, actor, &owner, day, starts, minute),
            None => callbacks::stale(turn, actor, "toggle without an open draft of that day"),
        },
        AvailabilityCallback::Save(day) => match draft_of(day) {
            Some(starts) => week::save(turn, actor, &owner, day, starts),
            None => callbacks::stale(turn, actor, "save without an open draft of that day"),
        },
        AvailabilityCallback::Clear(day) => match draft_of(day) {
            Some(_) => week::clear(turn, actor, &owner, day),
            None => callbacks::stale(turn, actor, "clear without an open draft of that day"),
        },
        AvailabilityCallback::CopyToWorkingDays(day) => match draft_of(day) {
            Some(starts) => week::copy_to_working_days(turn, actor, &owner, day, starts),
            None => callbacks::stale(turn, actor, "copy without an open draft of that day"),
        },
        AvailabilityCallback::SlotLengths => {
            leave_dialogue(turn, actor)?;
            week::slot_lengths(turn, actor, &owner)
        }
        AvailabilityCallback::SetSlotLength(length) => {
            leave_dialogue(turn, actor)?;
            week::set_slot_length(turn, actor, &owner, length)
        }
        AvailabilityCallback::Blocks => {
            leave_dialogue(turn, actor)?;
            blocks::list(turn, actor, &owner, None)
        }
        AvailabilityCallback::AddBlock => blocks::ask(turn, actor, &owner),
        AvailabilityCallback::RemoveBlock(id) => {
            leave_dialogue(turn, actor)?;
            blocks::remove(turn, actor, &owner, id)
        }
    }
}

/// Text while `/availability` keeps `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: AvailabilityInput,
    text: &str,
) -> Result<(), DbError> {
    let Some(owner) = actor.active_as(Role::Owner) else {
        // No longer an active owner since the screen was opened.
        dialogue::clear(turn, actor)?;
        return turn.reply(actor, start::status(actor));
    };
    match input {
        AvailabilityInput::Draft { weekday, .. } => {
            let day = day_name(owner.language, weekday);
            let text = t(owner.language, "availability.use_buttons", &[("day", &day)]);
            turn.reply(actor, OutgoingMessage::text(text))
        }
        AvailabilityInput::Block => blocks::on_text(turn, actor, &owner, text),
    }
}

/// Forgets an availability draft or question in progress (other dialogues
/// stay).
fn leave_dialogue(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    if let Some(Dialogue::Availability(_)) = dialogue::load(turn, actor)? {
        dialogue::clear(turn, actor)?;
    }
    Ok(())
}

/// Keeps `input` for the next press or text.
fn keep(turn: &mut Turn<'_>, actor: &Actor<'_>, input: AvailabilityInput) -> Result<(), DbError> {
    dialogue::save(turn, actor, &Dialogue::Availability(input))
}

/// The owner's zone; the company zone if the stored name is unknown to
/// this build.
fn zone_of(turn: &Turn<'_>, owner: &User) -> Tz {
    stored_zone(&owner.time_zone, turn.ctx.company_zone)
}

/// "Monday" / "Понедельник".
fn day_name(language: shared::domain::user::Language, day: Weekday) -> String {
    let iso = shared::domain::availability::iso_number(day);
    t(language, &format!("availability.day.{iso}"), &[])
}

/// `note` (what just happened) above `text`.
fn with_note(note: Option<String>, text: String) -> String {
    match note {
        Some(note) => format!("{note}\n\n{text}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_and_questions_are_stored_under_their_own_tag() {
        let starts = DayStarts::try_from(vec![630, 600]).unwrap();
        let draft = Dialogue::Availability(AvailabilityInput::Draft {
            weekday: Weekday::Mon,
            starts,
        });
        let json = serde_json::to_string(&draft).unwrap();
        assert_eq!(
            json,
            r#"{"availability":"draft","weekday":"Mon","starts":[600,630]}"#
        );
        assert_eq!(serde_json::from_str::<Dialogue>(&json).unwrap(), draft);
        let block = Dialogue::Availability(AvailabilityInput::Block);
        let json = serde_json::to_string(&block).unwrap();
        assert_eq!(json, r#"{"availability":"block"}"#);
        assert_eq!(serde_json::from_str::<Dialogue>(&json).unwrap(), block);
        // A stored draft with an off-grid time is no dialogue at all.
        let bad = r#"{"availability":"draft","weekday":"Mon","starts":[601]}"#;
        assert!(serde_json::from_str::<Dialogue>(bad).is_err());
    }
}
