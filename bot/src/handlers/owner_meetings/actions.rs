//! What an owner does to a meeting: cancel it with a reason (asked for,
//! checked, passed on to the others) or record how it ended. Each change
//! is audited, pushes the calendar sync and tells the other participants;
//! a refusal changes nothing and says why.

use serde_json::json;
use shared::db::DbError;
use shared::db::meetings::{self, Meeting};
use shared::db::users::User;
use shared::domain::booking::{BookingError, Outcome};
use shared::domain::owner_meetings::{
    MAX_CANCEL_REASON_CHARS, OwnerMeetingsCallback, ReasonError, Tab, parse_cancel_reason,
};
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::super::meeting_text::{MeetingPeople, tell_others, when, zone_of};
use super::{Actor, OwnerMeetingsInput, Turn, dialogue, list, no_longer_open, tab_for};

/// ❌ on an upcoming meeting: the next text is the reason. A meeting that
/// has started can no longer be cancelled (it is to be closed instead).
pub(super) fn ask_reason(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    meeting: &Meeting,
    people: &MeetingPeople,
) -> Result<Option<String>, DbError> {
    if meeting.starts_at <= turn.ctx.now {
        let note = t(owner.language, "om.started", &[]);
        return list::refresh(turn, actor, owner, Tab::ToClose, note);
    }
    dialogue::save(
        turn,
        actor,
        &dialogue::Dialogue::OwnerMeetings(OwnerMeetingsInput::CancelReason {
            meeting: meeting.id.0,
        }),
    )?;
    let text = t(
        owner.language,
        "om.ask_reason",
        &[
            ("when", &when_for(turn, owner, meeting)),
            ("with", &people.others_of(owner.id)),
            ("max", &MAX_CANCEL_REASON_CHARS.to_string()),
        ],
    );
    let keep = keep_button(turn, owner, meeting);
    turn.show(actor, OutgoingMessage::with_buttons(text, keep))?;
    Ok(None)
}

/// The reason typed for cancelling `meeting`: the meeting is cancelled and
/// the others are told why; a bad reason is explained and asked for again
/// (nothing changes, the question stays).
pub(super) fn on_reason(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    meeting: &Meeting,
    people: &MeetingPeople,
    text: &str,
) -> Result<(), DbError> {
    let language = owner.language;
    if meeting.starts_at <= turn.ctx.now {
        // It started while the owner was typing.
        dialogue::clear(turn, actor)?;
        let note = t(language, "om.started", &[]);
        return list::refresh(turn, actor, owner, Tab::ToClose, note).map(drop);
    }
    let reason = match parse_cancel_reason(text) {
        Ok(reason) => reason,
        Err(error) => {
            let problem = reason_problem(language, error);
            let again = t(language, "om.reason.again", &[]);
            let keep = keep_button(turn, owner, meeting);
            let message = OutgoingMessage::with_buttons(format!("{problem}\n\n{again}"), keep);
            return turn.reply(actor, message);
        }
    };
    let tab = tab_for(turn, owner, meeting);
    let now = turn.ctx.now;
    let cancelled = match meetings::cancel(turn.conn, meeting.id, owner.id, Some(&reason), now) {
        Ok(cancelled) => cancelled,
        Err(error) => {
            dialogue::clear(turn, actor)?;
            let note = refusal(turn, owner, meeting, error)?;
            return list::refresh(turn, actor, owner, tab, note).map(drop);
        }
    };
    dialogue::clear(turn, actor)?;
    audit_meeting(
        turn,
        actor,
        "meeting.cancelled",
        &cancelled,
        json!({
            "meeting": cancelled.id,
            "reason": reason,
            "starts_at": cancelled.starts_at.to_rfc3339(),
            "ends_at": cancelled.ends_at.to_rfc3339(),
            "cancelled_at": now.to_rfc3339(),
            "revision": cancelled.revision,
        }),
    )?;
    turn.effects
        .calendar_sync
        .push((cancelled.id, cancelled.revision));
    tell_others(
        turn,
        &cancelled,
        people,
        owner.id,
        "om.cancelled",
        "om.notice.cancelled",
        &[("reason", &reason)],
    )?;
    let note = t(
        language,
        "om.cancelled",
        &[
            ("when", &when_for(turn, owner, &cancelled)),
            ("with", &people.others_of(owner.id)),
        ],
    );
    let message = list::message(turn, owner, tab, 0, Some(note))?;
    turn.reply(actor, message)
}

/// ✅ / 🚫 on a meeting to close: records how it ended, once it has
/// started.
pub(super) fn mark(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    meeting: &Meeting,
    people: &MeetingPeople,
    press: OwnerMeetingsCallback,
) -> Result<Option<String>, DbError> {
    let language = owner.language;
    let (outcome, action, kind, key) = match press {
        OwnerMeetingsCallback::NoShow(_) => {
            (Outcome::NoShow, "meeting.no_show", "om.no_show", "no_show")
        }
        _ => (
            Outcome::Completed,
            "meeting.completed",
            "om.completed",
            "completed",
        ),
    };
    let now = turn.ctx.now;
    let closed = match meetings::mark_outcome(turn.conn, meeting.id, outcome, now) {
        Ok(closed) => closed,
        Err(error) => {
            let tab = if meeting.starts_at > now {
                tab_for(turn, owner, meeting)
            } else {
                Tab::ToClose
            };
            let note = refusal(turn, owner, meeting, error)?;
            return list::refresh(turn, actor, owner, tab, note);
        }
    };
    audit_meeting(
        turn,
        actor,
        action,
        &closed,
        json!({
            "meeting": closed.id,
            "starts_at": closed.starts_at.to_rfc3339(),
            "ends_at": closed.ends_at.to_rfc3339(),
            "closed_at": now.to_rfc3339(),
        }),
    )?;
    turn.effects
        .calendar_sync
        .push((closed.id, closed.revision));
    tell_others(
        turn,
        &closed,
        people,
        owner.id,
        kind,
        &format!("om.notice.{key}"),
        &[],
    )?;
    let note = t(
        language,
        &format!("om.{key}"),
        &[
            ("when", &when_for(turn, owner, &closed)),
            ("with", &people.others_of(owner.id)),
        ],
    );
    let message = list::message(turn, owner, Tab::ToClose, 0, Some(note))?;
    turn.show(actor, message)?;
    Ok(Some(t(language, &format!("om.toast.{key}"), &[])))
}

/// What to tell the owner when the repository refused a change that the
/// checks let through: the meeting changed meanwhile (a double tap, a
/// change by someone else) or has not started. Database failures go up.
fn refusal(
    turn: &mut Turn<'_>,
    owner: &User,
    meeting: &Meeting,
    error: BookingError,
) -> Result<String, DbError> {
    match error {
        BookingError::Db(error) => Err(error),
        BookingError::NotStarted => Ok(t(owner.language, "om.not_started", &[])),
        error => {
            tracing::info!(%error, meeting = %meeting.id, "owner's meeting change refused");
            Ok(match meetings::find(turn.conn, meeting.id)? {
                Some(current) if current.status != meeting.status => {
                    no_longer_open(owner, &current)
                }
                _ => t(owner.language, "om.changed", &[]),
            })
        }
    }
}

/// Records a change of `meeting` by the owner: about the manager (the
/// per-user audit view) and the meeting itself.
fn audit_meeting(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    action: &str,
    meeting: &Meeting,
    data: serde_json::Value,
) -> Result<(), DbError> {
    turn.audit_about(
        actor,
        action,
        Some(meeting.manager_id),
        Some(format!("meeting:{}", meeting.id)),
        data,
    )?;
    Ok(())
}

/// The meeting's time in the owner's zone.
fn when_for(turn: &Turn<'_>, owner: &User, meeting: &Meeting) -> String {
    when(
        owner.language,
        zone_of(turn, owner),
        meeting.starts_at,
        meeting.ends_at,
    )
}

/// "Keep the meeting": back to the tab the meeting is listed under (which
/// also drops the question).
fn keep_button(turn: &Turn<'_>, owner: &User, meeting: &Meeting) -> Vec<Vec<Button>> {
    let back = OwnerMeetingsCallback::Tab(tab_for(turn, owner, meeting), 0);
    vec![vec![Button::new(
        t(owner.language, "om.button.keep", &[]),
        back.data(),
    )]]
}

fn reason_problem(language: Language, error: ReasonError) -> String {
    match error {
        ReasonError::Empty => t(language, "om.reason.empty", &[]),
        ReasonError::TooLong { chars } => t(
            language,
            "om.reason.too_long",
            &[
                ("count", &chars.to_string()),
                ("max", &MAX_CANCEL_REASON_CHARS.to_string()),
            ],
        ),
        ReasonError::Characters => t(language, "om.reason.characters", &[]),
    }
}
