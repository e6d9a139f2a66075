//! The changes `/schedule` makes: booking a slot or moving a meeting to
//! it (each with its audit row, the calendar sync after commit and a notice
//! to the other side), and "I'm back".

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::db::DbError;
use shared::db::meetings::{self, NewBooking, NewTime};
use shared::db::users::{self, User};
use shared::domain::booking::{BookingError, period_key};
use shared::domain::schedule::MyMeetingsCallback;
use shared::domain::slots::Slot;
use shared::domain::user::WorkStatus;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::super::meeting_text::{MeetingPeople, tell_others, tell_others_with, when, zone_of};
use super::screens;
use super::{Actor, Target, Turn, callbacks, offered};

/// Books (or moves the meeting to) the slot starting at `start`, if it is
/// among the slots free right now. A lost race is told with fresh days.
pub(super) fn book(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
    target: &Target,
    start: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    let language = manager.language;
    let (slots, _) = offered(turn, manager, target)?;
    let Some(slot) = slots.iter().find(|slot| slot.start == start).copied() else {
        // Taken meanwhile, or never offered (a forged or stale button):
        // either way nothing changes and the fresh days are shown.
        tracing::info!(%start, "pressed slot is not free now");
        let note = t(language, "schedule.slot_gone", &[]);
        screens::days(turn, actor, manager, target, Some(note))?;
        return Ok(Some(t(language, "schedule.toast.taken", &[])));
    };
    let outcome = match &target.moving {
        None => new_meeting(turn, manager, target, slot),
        Some(meeting) => meetings::reschedule(
            turn.conn,
            meeting.id,
            &NewTime {
                starts_at: slot.start,
                ends_at: slot.end,
                period_key: slot_period(turn, target, slot),
                limit: target.settings.limit_per_period,
                reminder_offsets: target.settings.reminder_offsets.clone(),
            },
            turn.ctx.now,
        ),
    };
    let meeting = match outcome {
        Ok(meeting) => meeting,
        Err(BookingError::SlotTaken) => {
            let note = t(language, "schedule.taken", &[]);
            screens::days(turn, actor, manager, target, Some(note))?;
            return Ok(Some(t(language, "schedule.toast.taken", &[])));
        }
        Err(BookingError::LimitReached) => {
            screens::days(turn, actor, manager, target, None)?;
            return Ok(Some(t(language, "schedule.toast.limit", &[])));
        }
        Err(BookingError::NotScheduled | BookingError::NotFound) => {
            let note = t(language, "mymeetings.not_scheduled", &[]);
            let message = screens::start(turn, manager, Some(note))?;
            turn.show(actor, message)?;
            return Ok(None);
        }
        Err(BookingError::Invalid(why)) => return callbacks::stale(turn, actor, why),
        Err(BookingError::NotStarted) => {
            return callbacks::stale(turn, actor, "not a booking outcome");
        }
        Err(BookingError::Db(error)) => return Err(error),
    };
    let people = MeetingPeople::load(turn.conn, &meeting)?;
    let zone = zone_of(turn, manager);
    let new_time = when(language, zone, meeting.starts_at, meeting.ends_at);
    let target_user = target.owners.first().map(|owner| owner.id);
    let (text, toast) = match &target.moving {
        None => {
            turn.audit_about(
                actor,
                "meeting.booked",
                target_user,
                Some(format!("meeting:{}", meeting.id)),
                json!({
                    "meeting": meeting.id.0,
                    "owners": target.owner_ids().iter().map(|o| o.0).collect::<Vec<_>>(),
                    "starts_at": meeting.starts_at,
                    "ends_at": meeting.ends_at,
                    "period": meeting.period_key,
                }),
            )?;
            tell_others(
                turn,
                &meeting,
                &people,
                manager.id,
                "meeting.booked",
                "meeting.notice.booked",
                &[],
            )?;
            let text = t(
                language,
                "schedule.booked",
                &[("when", &new_time), ("with", &target.owner_names())],
            );
            (text, t(language, "schedule.toast.booked", &[]))
        }
        Some(old) => {
            turn.audit_about(
                actor,
                "meeting.rescheduled",
                target_user,
                Some(format!("meeting:{}", meeting.id)),
                json!({
                    "meeting": meeting.id.0,
                    "from": {"starts_at": old.starts_at, "ends_at": old.ends_at},
                    "to": {"starts_at": meeting.starts_at, "ends_at": meeting.ends_at},
                    "revision": meeting.revision,
                }),
            )?;
            let (old_start, old_end) = (old.starts_at, old.ends_at);
            tell_others_with(
                turn,
                &meeting,
                &people,
                manager.id,
                "meeting.moved",
                "meeting.notice.moved",
                |reader, zone| vec![("old", when(reader.language, zone, old_start, old_end))],
            )?;
            let text = t(
                language,
                "schedule.moved",
                &[
                    ("old", &when(language, zone, old.starts_at, old.ends_at)),
                    ("when", &new_time),
                    ("with", &target.owner_names()),
                ],
            );
            (text, t(language, "schedule.toast.moved", &[]))
        }
    };
    turn.effects
        .calendar_sync
        .push((meeting.id, meeting.revision));
    let button = Button::new(
        t(language, "meeting.button.my_meetings", &[]),
        MyMeetingsCallback::List.data(),
    );
    turn.show(
        actor,
        OutgoingMessage::with_buttons(text, vec![vec![button]]),
    )?;
    Ok(Some(toast))
}

fn new_meeting(
    turn: &mut Turn<'_>,
    manager: &User,
    target: &Target,
    slot: Slot,
) -> Result<meetings::Meeting, BookingError> {
    meetings::book(
        turn.conn,
        &NewBooking {
            manager: manager.id,
            owners: target.owner_ids(),
            starts_at: slot.start,
            ends_at: slot.end,
            mode: target.settings.mode,
            period_key: slot_period(turn, target, slot),
            limit: target.settings.limit_per_period,
            reminder_offsets: target.settings.reminder_offsets.clone(),
            correlation_id: Some(turn.ctx.correlation_id.clone()),
        },
        turn.ctx.now,
    )
}

fn slot_period(turn: &Turn<'_>, target: &Target, slot: Slot) -> String {
    period_key(
        slot.start,
        target.settings.limit_period,
        turn.ctx.company_zone,
    )
}

/// "I'm back": an away manager becomes working (audited) and goes on to
/// booking.
pub(super) fn come_back(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
) -> Result<Option<String>, DbError> {
    let mut note = None;
    if manager.work_status != WorkStatus::Working {
        users::set_work_status(
            turn.conn,
            manager.id,
            WorkStatus::Working,
            None,
            turn.ctx.now,
        )?;
        turn.audit(
            actor,
            "profile.work_status_set",
            Some(manager.id),
            json!({
                "from": manager.work_status,
                "from_until": manager.work_status_until,
                "to": WorkStatus::Working,
                "until": null,
            }),
        )?;
        note = Some(t(manager.language, "schedule.welcome_back", &[]));
    }
    let message = screens::start(turn, manager, note.clone())?;
    turn.show(actor, message)?;
    Ok(note.map(|_| t(manager.language, "schedule.toast.back", &[])))
}
