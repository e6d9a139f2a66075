//! `/my_meetings`: a manager's upcoming meetings, each with Cancel and
//! Move. Cancelling asks first and is allowed up to the cancel notice;
//! moving reuses the `/schedule` screens (see [`super::booking`]) and
//! keeps the old slot until the new one is won.
//!
//! ```text
//! manager: /my_meetings
//! bot:     📋 Your meetings (Europe/Moscow)
//!          1. Tue 01.12.2026, 10:00–11:00 (Europe/Moscow) · with Anna Smith
//!          [❌ 1. Tue 01.12 10:00] [🔁 1. Tue 01.12 10:00]
//! manager: (❌ …)      → Cancel Tue 01.12.2026, 10:00–11:00 with Anna Smith?  [Yes, cancel] [⬅️ Back]
//! manager: (Yes)       → ✅ Cancelled. …  (Anna is told)
//! ```
//!
//! Every press re-checks that the caller is an active manager and that the
//! meeting named is theirs and still scheduled.

use serde_json::json;
use shared::db::meetings::{self, Meeting};
use shared::db::users::User;
use shared::db::{DbError, booking_settings};
use shared::domain::booking::BookingError;
use shared::domain::schedule::{MyMeetingsCallback, Purpose, ScheduleCallback};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::booking::{self, movable, refusal_text};
use super::meeting_text::{MeetingPeople, line, tell_others, weekday_short, when, zone_of};
use super::{Actor, Turn, callbacks};
use shared::domain::user::Role;

/// Meetings listed at most (each with two buttons).
const MAX_LISTED: usize = 10;

/// `/my_meetings` (the router lets only active users in).
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let Some(manager) = actor.active_as(Role::Manager) else {
        let text = t(actor.language, "mymeetings.managers_only", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    let message = list(turn, &manager, None)?;
    turn.reply(actor, message)
}

/// A press on an `mm:` button; `data` is what follows the prefix.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(manager) = actor.active_as(Role::Manager) else {
        return callbacks::refused(turn, actor, "my-meetings button of a non-manager");
    };
    let Some(press) = MyMeetingsCallback::parse(data) else {
        return callbacks::stale(turn, actor, "my-meetings button data that does not parse");
    };
    let id = match press {
        MyMeetingsCallback::List => {
            let message = list(turn, &manager, None)?;
            turn.show(actor, message)?;
            return Ok(None);
        }
        MyMeetingsCallback::AskCancel(id)
        | MyMeetingsCallback::Cancel(id)
        | MyMeetingsCallback::Reschedule(id) => id,
    };
    let Some(meeting) = meetings::find(turn.conn, id)? else {
        return callbacks::refused(turn, actor, "my-meetings button naming an unknown meeting");
    };
    if meeting.manager_id != manager.id {
        return callbacks::refused(
            turn,
            actor,
            "my-meetings button naming someone else's meeting",
        );
    }
    match press {
        MyMeetingsCallback::Reschedule(id) => {
            let data = ScheduleCallback::Days(Purpose::Move(id)).data();
            booking::on_press(turn, actor, data.trim_start_matches("bk:"))
        }
        MyMeetingsCallback::AskCancel(_) => ask_cancel(turn, actor, &manager, &meeting),
        MyMeetingsCallback::Cancel(_) => cancel(turn, actor, &manager, &meeting),
        MyMeetingsCallback::List => Ok(None),
    }
}

/// The manager's upcoming meetings with their buttons; `note` on top.
fn list(
    turn: &mut Turn<'_>,
    manager: &User,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = manager.language;
    let zone = zone_of(turn, manager);
    let upcoming = meetings::upcoming_for_manager(turn.conn, manager.id, turn.ctx.now)?;
    let mut rows = Vec::new();
    let text = if upcoming.is_empty() {
        t(language, "mymeetings.empty", &[])
    } else {
        let mut lines = vec![t(language, "mymeetings.title", &[("zone", zone.name())])];
        for (index, meeting) in upcoming.iter().take(MAX_LISTED).enumerate() {
            let people = MeetingPeople::load(turn.conn, meeting)?;
            let number = (index + 1).to_string();
            lines.push(format!(
                "{number}. {}",
                line(turn, manager, meeting, &people)
            ));
            let local = meeting.starts_at.with_timezone(&zone);
            let short = format!(
                "{number}. {} {}",
                weekday_short(language, local.date_naive()),
                local.format("%d.%m %H:%M")
            );
            let label = |key: &str| t(language, key, &[("meeting", &short)]);
            rows.push(vec![
                Button::new(
                    label("mymeetings.button.cancel"),
                    MyMeetingsCallback::AskCancel(meeting.id).data(),
                ),
                Button::new(
                    label("mymeetings.button.move"),
                    MyMeetingsCallback::Reschedule(meeting.id).data(),
                ),
            ]);
        }
        if upcoming.len() > MAX_LISTED {
            let more = (upcoming.len() - MAX_LISTED).to_string();
            lines.push(t(language, "mymeetings.more", &[("count", &more)]));
        }
        lines.join("\n")
    };
    rows.push(vec![Button::new(
        t(language, "mymeetings.button.book", &[]),
        ScheduleCallback::Owners.data(),
    )]);
    Ok(OutgoingMessage::with_buttons(
        match note {
            Some(note) => format!("{note}\n\n{text}"),
            None => text,
        },
        rows,
    ))
}

/// "Cancel this meeting?", unless it is too late or already over.
fn ask_cancel(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
    meeting: &Meeting,
) -> Result<Option<String>, DbError> {
    let language = manager.language;
    let settings = booking_settings::get(turn.conn)?;
    if let Err(key) = movable(meeting, &settings, turn.ctx.now) {
        return refuse(turn, actor, manager, key, &settings);
    }
    let people = MeetingPeople::load(turn.conn, meeting)?;
    let zone = zone_of(turn, manager);
    let text = t(
        language,
        "mymeetings.ask_cancel",
        &[
            (
                "when",
                &when(language, zone, meeting.starts_at, meeting.ends_at),
            ),
            ("with", &people.others_of(manager.id)),
        ],
    );
    let buttons = vec![
        vec![Button::new(
            t(language, "mymeetings.button.confirm_cancel", &[]),
            MyMeetingsCallback::Cancel(meeting.id).data(),
        )],
        vec![Button::new(
            t(language, "mymeetings.button.keep", &[]),
            MyMeetingsCallback::List.data(),
        )],
    ];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))?;
    Ok(None)
}

/// Cancels the meeting (audited; the owners told; the calendar follows).
fn cancel(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
    meeting: &Meeting,
) -> Result<Option<String>, DbError> {
    let language = manager.language;
    let settings = booking_settings::get(turn.conn)?;
    if let Err(key) = movable(meeting, &settings, turn.ctx.now) {
        return refuse(turn, actor, manager, key, &settings);
    }
    let cancelled = match meetings::cancel(turn.conn, meeting.id, manager.id, None, turn.ctx.now) {
        Ok(cancelled) => cancelled,
        Err(BookingError::Db(error)) => return Err(error),
        Err(_) => return refuse(turn, actor, manager, "mymeetings.not_scheduled", &settings),
    };
    let people = MeetingPeople::load(turn.conn, &cancelled)?;
    turn.audit_about(
        actor,
        "meeting.cancelled",
        people.owners.first().map(|owner| owner.id),
        Some(format!("meeting:{}", cancelled.id)),
        json!({
            "meeting": cancelled.id.0,
            "starts_at": cancelled.starts_at,
            "ends_at": cancelled.ends_at,
            "by": "manager",
        }),
    )?;
    tell_others(
        turn,
        &cancelled,
        &people,
        manager.id,
        "meeting.cancelled",
        "meeting.notice.cancelled_by_manager",
        &[],
    )?;
    turn.effects
        .calendar_sync
        .push((cancelled.id, cancelled.revision));
    let zone = zone_of(turn, manager);
    let note = t(
        language,
        "mymeetings.cancelled",
        &[
            (
                "when",
                &when(language, zone, cancelled.starts_at, cancelled.ends_at),
            ),
            ("with", &people.others_of(manager.id)),
        ],
    );
    let message = list(turn, manager, Some(note))?;
    turn.show(actor, message)?;
    Ok(Some(t(language, "mymeetings.toast.cancelled", &[])))
}

/// Why the meeting cannot be cancelled or moved now, above the fresh list.
fn refuse(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
    key: &str,
    settings: &shared::domain::settings::BookingSettings,
) -> Result<Option<String>, DbError> {
    let note = refusal_text(manager.language, key, settings);
    let message = list(turn, manager, Some(note))?;
    turn.show(actor, message)?;
    Ok(None)
}
