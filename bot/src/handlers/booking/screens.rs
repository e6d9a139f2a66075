//! The screens of slot picking: whom to meet, which day (with the count of
//! free slots), which time, and "book this?". Times are shown in the
//! manager's own zone.

use chrono::{DateTime, NaiveDate, Utc};
use shared::db::DbError;
use shared::db::booking_settings;
use shared::db::users::User;
use shared::domain::schedule::{MyMeetingsCallback, Purpose, ScheduleCallback};
use shared::domain::settings::{BookingMode, LimitPeriod};
use shared::domain::slots::{count_by_local_day, slots_on_local_day};
use shared::domain::user::{Language, WorkStatus};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::super::meeting_text::{weekday_short, when, zone_of};
use super::{Actor, Target, Turn, active_owners, next_bookable, offered};

/// Day buttons shown at most (the horizon may be up to a year).
const MAX_DAYS: usize = 31;
const DAYS_PER_ROW: usize = 3;
const TIMES_PER_ROW: usize = 4;

/// The first screen: the owners to choose from, or — in collective mode —
/// straight to the days free for all of them. `note` says what just
/// happened.
pub(super) fn start(
    turn: &mut Turn<'_>,
    manager: &User,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = manager.language;
    if booking_settings::get(turn.conn)?.mode == BookingMode::Collective {
        return match Target::resolve(turn, manager, Purpose::AllOwners)? {
            Ok(target) => days_message(turn, manager, &target, note),
            Err(_) => Ok(OutgoingMessage::text(with_note(
                note,
                t(language, "schedule.no_owners", &[]),
            ))),
        };
    }
    let owners: Vec<User> = active_owners(turn)?
        .into_iter()
        .filter(|owner| owner.id != manager.id)
        .collect();
    if owners.is_empty() {
        let text = with_note(note, t(language, "schedule.no_owners", &[]));
        return Ok(OutgoingMessage::text(text));
    }
    let buttons = owners
        .iter()
        .map(|owner| {
            let data = ScheduleCallback::Days(Purpose::Owner(owner.id)).data();
            vec![Button::new(owner.full_name(), data)]
        })
        .collect();
    let text = with_note(note, t(language, "schedule.owners", &[]));
    Ok(OutgoingMessage::with_buttons(text, buttons))
}

/// A manager away from work is asked to come back first (one tap).
pub(super) fn away(manager: &User) -> OutgoingMessage {
    let language = manager.language;
    let status = work_status_text(language, manager.work_status);
    let text = t(language, "schedule.away", &[("status", &status)]);
    let button = Button::new(
        t(language, "schedule.button.back_to_work", &[]),
        ScheduleCallback::Back.data(),
    );
    OutgoingMessage::with_buttons(text, vec![vec![button]])
}

fn work_status_text(language: Language, status: WorkStatus) -> String {
    let key = match status {
        WorkStatus::Working => "profile.ws.working",
        WorkStatus::Vacation => "profile.ws.vacation",
        WorkStatus::SickLeave => "profile.ws.sick_leave",
        WorkStatus::BusinessTrip => "profile.ws.business_trip",
    };
    t(language, key, &[])
}

/// "Pick a day" for `target`, shown in place.
pub(super) fn days(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
    target: &Target,
    note: Option<String>,
) -> Result<Option<String>, DbError> {
    let message = days_message(turn, manager, target, note)?;
    turn.show(actor, message)?;
    Ok(None)
}

/// The days with free slots and their counts, in the manager's calendar;
/// when there are none, why (the limit, with the next possible date, or
/// simply no free time).
pub(super) fn days_message(
    turn: &mut Turn<'_>,
    manager: &User,
    target: &Target,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = manager.language;
    let zone = zone_of(turn, manager);
    let (slots, limited) = offered(turn, manager, target)?;
    let mut rows = Vec::new();
    let text = if slots.is_empty() {
        if limited || target.moving.is_none() && limit_reached_now(turn, manager, target)? {
            limit_text(turn, manager, target)?
        } else {
            t(
                language,
                "schedule.no_slots",
                &[
                    ("with", &target.owner_names()),
                    ("days", &target.settings.horizon_days.to_string()),
                ],
            )
        }
    } else {
        let days = count_by_local_day(&slots, zone);
        for chunk in days
            .chunks(DAYS_PER_ROW)
            .take(MAX_DAYS.div_ceil(DAYS_PER_ROW))
        {
            rows.push(
                chunk
                    .iter()
                    .map(|day| {
                        let label = t(
                            language,
                            "schedule.button.day",
                            &[
                                ("weekday", &weekday_short(language, day.date)),
                                ("date", &day.date.format("%d.%m").to_string()),
                                ("count", &day.count.to_string()),
                            ],
                        );
                        Button::new(
                            label,
                            ScheduleCallback::Times(target.purpose, day.date).data(),
                        )
                    })
                    .collect(),
            );
        }
        let mut text = match &target.moving {
            Some(meeting) => t(
                language,
                "schedule.days.move",
                &[
                    (
                        "when",
                        &when(language, zone, meeting.starts_at, meeting.ends_at),
                    ),
                    ("with", &target.owner_names()),
                    ("zone", zone.name()),
                ],
            ),
            None => t(
                language,
                "schedule.days",
                &[("with", &target.owner_names()), ("zone", zone.name())],
            ),
        };
        if limited {
            text.push_str(&t(language, "schedule.days.limited", &[]));
        }
        text
    };
    rows.push(vec![back_button(language, target.purpose)]);
    Ok(OutgoingMessage::with_buttons(with_note(note, text), rows))
}

/// Whether the manager's current period is full (so an empty day list is
/// the limit's doing even when no slot was hidden).
fn limit_reached_now(
    turn: &mut Turn<'_>,
    manager: &User,
    target: &Target,
) -> Result<bool, DbError> {
    Ok(next_bookable(turn, manager, &target.settings)? > turn.ctx.now)
}

/// "You have reached the limit … next possible date …".
fn limit_text(turn: &mut Turn<'_>, manager: &User, target: &Target) -> Result<String, DbError> {
    let language = manager.language;
    let next = next_bookable(turn, manager, &target.settings)?;
    let day = next.with_timezone(&turn.ctx.company_zone).date_naive();
    let period = match target.settings.limit_period {
        LimitPeriod::Week => "schedule.period.week",
        LimitPeriod::Month => "schedule.period.month",
    };
    Ok(t(
        language,
        "schedule.limit",
        &[
            ("limit", &target.settings.limit_per_period.to_string()),
            ("period", &t(language, period, &[])),
            ("date", &long_date(language, day)),
        ],
    ))
}

/// The free times of one day, shown in place; a day that has none left
/// goes back to the days.
pub(super) fn times(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
    target: &Target,
    date: NaiveDate,
) -> Result<Option<String>, DbError> {
    let language = manager.language;
    let zone = zone_of(turn, manager);
    let (slots, _) = offered(turn, manager, target)?;
    let day: Vec<_> = slots_on_local_day(&slots, zone, date).collect();
    if day.is_empty() {
        let note = t(
            language,
            "schedule.day_gone",
            &[("date", &long_date(language, date))],
        );
        return days(turn, actor, manager, target, Some(note));
    }
    let mut rows: Vec<Vec<Button>> = day
        .chunks(TIMES_PER_ROW)
        .map(|chunk| {
            chunk
                .iter()
                .map(|slot| {
                    let label = slot.start.with_timezone(&zone).format("%H:%M").to_string();
                    Button::new(
                        label,
                        ScheduleCallback::Confirm(target.purpose, slot.start).data(),
                    )
                })
                .collect()
        })
        .collect();
    rows.push(vec![Button::new(
        t(language, "schedule.button.days", &[]),
        ScheduleCallback::Days(target.purpose).data(),
    )]);
    let text = t(
        language,
        "schedule.times",
        &[
            ("date", &long_date(language, date)),
            ("with", &target.owner_names()),
            ("zone", zone.name()),
        ],
    );
    turn.show(actor, OutgoingMessage::with_buttons(text, rows))?;
    Ok(None)
}

/// "Book this?" for the slot starting at `start`, if it is still free.
pub(super) fn confirm(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    manager: &User,
    target: &Target,
    start: DateTime<Utc>,
) -> Result<Option<String>, DbError> {
    let language = manager.language;
    let zone = zone_of(turn, manager);
    let (slots, _) = offered(turn, manager, target)?;
    let Some(slot) = slots.iter().find(|slot| slot.start == start) else {
        let note = t(language, "schedule.slot_gone", &[]);
        return days(turn, actor, manager, target, Some(note));
    };
    let new_time = when(language, zone, slot.start, slot.end);
    let text = match &target.moving {
        Some(meeting) => t(
            language,
            "schedule.confirm.move",
            &[
                (
                    "old",
                    &when(language, zone, meeting.starts_at, meeting.ends_at),
                ),
                ("when", &new_time),
                ("with", &target.owner_names()),
            ],
        ),
        None => t(
            language,
            "schedule.confirm",
            &[("when", &new_time), ("with", &target.owner_names())],
        ),
    };
    let date = slot.start.with_timezone(&zone).date_naive();
    let yes = match target.moving {
        Some(_) => "schedule.button.move",
        None => "schedule.button.book",
    };
    let buttons = vec![
        vec![Button::new(
            t(language, yes, &[]),
            ScheduleCallback::Book(target.purpose, slot.start).data(),
        )],
        vec![Button::new(
            t(language, "schedule.button.times", &[]),
            ScheduleCallback::Times(target.purpose, date).data(),
        )],
    ];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))?;
    Ok(None)
}

/// Where "back" leads from the day list.
fn back_button(language: Language, purpose: Purpose) -> Button {
    match purpose {
        Purpose::Move(_) => Button::new(
            t(language, "meeting.button.my_meetings", &[]),
            MyMeetingsCallback::List.data(),
        ),
        Purpose::Owner(_) => Button::new(
            t(language, "schedule.button.owners", &[]),
            ScheduleCallback::Owners.data(),
        ),
        Purpose::AllOwners => Button::new(
            t(language, "meeting.button.my_meetings", &[]),
            MyMeetingsCallback::List.data(),
        ),
    }
}

/// "Tue 01.12.2026".
fn long_date(language: Language, date: NaiveDate) -> String {
    format!(
        "{} {}",
        weekday_short(language, date),
        date.format("%d.%m.%Y")
    )
}

/// `note` (what just happened) above `text`.
pub(super) fn with_note(note: Option<String>, text: String) -> String {
    match note {
        Some(note) => format!("{note}\n\n{text}"),
        None => text,
    }
}
