//! `/meetings`: the meetings booked with an owner — today, the rest of this
//! week, later, and those that have started but were never closed — with
//! cancelling (a reason is asked for and passed on) and marking a meeting
//! completed or a no-show. One message that changes in place. Every
//! command, press and typed text re-checks that the caller is an active
//! owner right now and takes part in the meeting as an owner; button data
//! is parsed strictly (`shared::domain::owner_meetings`).
//!
//! ```text
//! owner: /meetings
//! bot:   📋 Meetings with you today
//!        1. Tue 01.12.2026, 10:00–11:00 (Europe/Moscow) · with Anna Smith
//!        [❌ 1. Tue 01.12 10:00] [• Today (1)][This week (0)][Later (2)][To close (1)]
//! owner: (presses ❌ 1)
//! bot:   ❌ Cancel the meeting … with Anna Smith? Send the reason …   [↩️ Keep the meeting]
//! owner: I am ill, sorry
//! bot:   ✅ The meeting … is cancelled; Anna Smith is told why.  📋 Meetings with you today …
//! Anna:  ❌ Olga Ivanova cancelled the meeting … Reason: I am ill, sorry   (via the worker)
//! owner: (presses To close, then ✅ 1 Completed)
//! bot:   ✅ Marked as completed: …                                   (the list again)
//! ```

mod actions;
mod list;

use serde::{Deserialize, Serialize};
use shared::db::DbError;
use shared::db::meetings::{self, Meeting};
use shared::db::types::MeetingId;
use shared::db::users::User;
use shared::domain::booking::MeetingStatus;
use shared::domain::owner_meetings::{OwnerMeetingsCallback, Tab, tab_of};
use shared::domain::user::Role;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::dialogue::{self, Dialogue};
use super::meeting_text::{MeetingPeople, zone_of};
use super::{Actor, Turn, callbacks, start};

/// What `/meetings` waits for as text. Stored as
/// `{"owner_meetings":"cancel_reason","meeting":42}`, so a restart of the
/// bot still takes the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "owner_meetings", rename_all = "snake_case")]
pub(crate) enum OwnerMeetingsInput {
    /// The reason for cancelling a meeting.
    CancelReason { meeting: i64 },
}

/// `/meetings` (the router lets only active users in).
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let Some(owner) = actor.active_as(Role::Owner) else {
        let text = t(actor.language, "om.owners_only", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    let message = list::message(turn, &owner, Tab::Today, 0, None)?;
    turn.reply(actor, message)
}

/// A press on an `om:` button; `data` is what follows the prefix. Returns
/// the toast.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(owner) = actor.active_as(Role::Owner) else {
        return callbacks::refused(turn, actor, "owner meetings button of a non-owner");
    };
    let Some(press) = OwnerMeetingsCallback::parse(data) else {
        return callbacks::stale(
            turn,
            actor,
            "owner meetings button data that does not parse",
        );
    };
    match press {
        OwnerMeetingsCallback::List => {
            leave_dialogue(turn, actor)?;
            // A new message: the notice the button sits under stays readable.
            let message = list::message(turn, &owner, Tab::Today, 0, None)?;
            turn.reply(actor, message)?;
            Ok(None)
        }
        OwnerMeetingsCallback::Tab(tab, page) => {
            leave_dialogue(turn, actor)?;
            let message = list::message(turn, &owner, tab, page, None)?;
            turn.show(actor, message)?;
            Ok(None)
        }
        OwnerMeetingsCallback::Cancel(id) => match open(turn, actor, &owner, id, Tab::Today)? {
            Opened::Ready(ready) => actions::ask_reason(turn, actor, &owner, &ready.0, &ready.1),
            Opened::Answered(toast) => Ok(toast),
        },
        OwnerMeetingsCallback::Completed(id) | OwnerMeetingsCallback::NoShow(id) => {
            match open(turn, actor, &owner, id, Tab::ToClose)? {
                Opened::Ready(ready) => {
                    leave_dialogue(turn, actor)?;
                    actions::mark(turn, actor, &owner, &ready.0, &ready.1, press)
                }
                Opened::Answered(toast) => Ok(toast),
            }
        }
    }
}

/// Text while `/meetings` waits for `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: OwnerMeetingsInput,
    text: &str,
) -> Result<(), DbError> {
    let Some(owner) = actor.active_as(Role::Owner) else {
        // No longer an active owner since the question was asked.
        dialogue::clear(turn, actor)?;
        return turn.reply(actor, start::status(actor));
    };
    match input {
        OwnerMeetingsInput::CancelReason { meeting } => {
            match open(turn, actor, &owner, MeetingId(meeting), Tab::Today)? {
                Opened::Ready(ready) => {
                    actions::on_reason(turn, actor, &owner, &ready.0, &ready.1, text)
                }
                Opened::Answered(_) => dialogue::clear(turn, actor),
            }
        }
    }
}

/// A meeting a press or text names, as far as the caller may act on it.
enum Opened {
    /// Scheduled, the caller is one of its owners: go ahead.
    Ready(Box<(Meeting, MeetingPeople)>),
    /// Refused, stale, or no longer open: the caller has been answered
    /// (with this toast for a press) and nothing changed.
    Answered(Option<String>),
}

/// Looks up meeting `id` for `owner`: gone → stale; not one of theirs →
/// refused; cancelled or closed → said so, with a fresh list (`back`).
/// Whether it has started is the action's own check.
fn open(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    id: MeetingId,
    back: Tab,
) -> Result<Opened, DbError> {
    let Some(meeting) = meetings::find(turn.conn, id)? else {
        return callbacks::stale(
            turn,
            actor,
            "owner meetings button of a meeting that is gone",
        )
        .map(Opened::Answered);
    };
    let people = MeetingPeople::load(turn.conn, &meeting)?;
    if !people.owners.iter().any(|person| person.id == owner.id) {
        return callbacks::refused(turn, actor, "owner meetings button of another's meeting")
            .map(Opened::Answered);
    }
    if meeting.status != MeetingStatus::Scheduled {
        let note = no_longer_open(owner, &meeting);
        return list::refresh(turn, actor, owner, back, note).map(Opened::Answered);
    }
    Ok(Opened::Ready(Box::new((meeting, people))))
}

/// "Already cancelled" / "already closed", for a meeting no longer
/// scheduled.
fn no_longer_open(owner: &User, meeting: &Meeting) -> String {
    let key = if meeting.status == MeetingStatus::Cancelled {
        "om.already_cancelled"
    } else {
        "om.already_closed"
    };
    t(owner.language, key, &[])
}

/// The tab a still scheduled meeting is listed under for `owner` now.
fn tab_for(turn: &Turn<'_>, owner: &User, meeting: &Meeting) -> Tab {
    tab_of(meeting.starts_at, turn.ctx.now, zone_of(turn, owner))
}

/// Forgets a cancellation question in progress (other dialogues stay).
fn leave_dialogue(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    if let Some(Dialogue::OwnerMeetings(_)) = dialogue::load(turn, actor)? {
        dialogue::clear(turn, actor)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_is_stored_under_its_own_tag() {
        let asked = Dialogue::OwnerMeetings(OwnerMeetingsInput::CancelReason { meeting: 42 });
        let json = serde_json::to_string(&asked).unwrap();
        assert_eq!(json, r#"{"owner_meetings":"cancel_reason","meeting":42}"#);
        assert_eq!(serde_json::from_str::<Dialogue>(&json).unwrap(), asked);
    }
}
