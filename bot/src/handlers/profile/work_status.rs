//! A manager's work status: working, or away (vacation, sick leave,
//! business trip) with an optional last day, typed in the manager's own
//! calendar and checked by `shared::domain::profile::parse_until`. The
//! worker sets them back to working when that day is over
//! (`worker::work_status`).
//!
//! Owners block their time with blocked periods instead, so this is for
//! managers only.

use chrono::NaiveDate;
use serde_json::json;
use shared::db::DbError;
use shared::db::users::{self, User};
use shared::domain::profile::{
    AWAY, ProfileCallback, UntilError, latest_until, local_today, parse_until,
};
use shared::domain::user::{Language, Role, WorkStatus};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::dialogue;
use super::{
    Actor, ProfileInput, Turn, audit_change, problem, show_saved, view, wait_for, zone_of,
};

/// Whether `user` has a work status to set.
pub(super) fn applies_to(user: &User) -> bool {
    user.role == Some(Role::Manager)
}

/// "📍 Status": the four statuses, the current one ticked.
pub(super) fn choose(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    let button = |status: WorkStatus| {
        let mut label = button_name(language, status);
        if status == user.work_status {
            label = format!("✓ {label}");
        }
        Button::new(label, ProfileCallback::PickWorkStatus(status).data())
    };
    let rows = vec![
        vec![button(WorkStatus::Working), button(AWAY[0])],
        vec![button(AWAY[1]), button(AWAY[2])],
        vec![view::back(language)],
    ];
    let status = view::work_status_text(language, user.work_status, user.work_status_until);
    let text = t(language, "profile.ws.choose", &[("status", &status)]);
    turn.show(actor, OutgoingMessage::with_buttons(text, rows))?;
    Ok(None)
}

/// A status button: working is set at once; an absence asks until when.
pub(super) fn pick(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    status: WorkStatus,
) -> Result<Option<String>, DbError> {
    if status == WorkStatus::Working {
        return set(turn, actor, user, status, None);
    }
    let language = user.language;
    wait_for(turn, actor, ProfileInput::Until { status })?;
    let today = local_today(zone_of(turn, user), turn.ctx.now);
    let text = t(
        language,
        "profile.ws.ask_until",
        &[
            ("status", &button_name(language, status)),
            ("today", &view::date(today)),
            ("latest", &view::date(latest_until(today))),
        ],
    );
    let rows = vec![vec![
        Button::new(
            t(language, "profile.ws.button.no_end", &[]),
            ProfileCallback::AwayWithoutEnd(status).data(),
        ),
        view::back(language),
    ]];
    turn.show(actor, OutgoingMessage::with_buttons(text, rows))?;
    Ok(None)
}

/// The last day of an absence, typed while it is asked for.
pub(super) fn on_until(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    status: WorkStatus,
    text: &str,
) -> Result<(), DbError> {
    let language = user.language;
    let today = local_today(zone_of(turn, user), turn.ctx.now);
    match parse_until(text, today) {
        Ok(until) => {
            dialogue::clear(turn, actor)?;
            set(turn, actor, user, status, Some(until))?;
            Ok(())
        }
        Err(error) => {
            let again = t(language, "profile.ws.again", &[]);
            turn.reply(actor, problem(error_text(language, error, today), again))
        }
    }
}

/// Sets the status (an absence with its last day, if any); working clears
/// the last day.
pub(super) fn set(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    status: WorkStatus,
    until: Option<NaiveDate>,
) -> Result<Option<String>, DbError> {
    let until = until.filter(|_| status != WorkStatus::Working);
    let changed = (user.work_status, user.work_status_until) != (status, until);
    if changed {
        users::set_work_status(turn.conn, user.id, status, until, turn.ctx.now)?;
        audit_change(
            turn,
            actor,
            user,
            "profile.work_status_set",
            json!({
                "from": user.work_status,
                "from_until": user.work_status_until,
                "to": status,
                "until": until,
            }),
        )?;
    }
    let language = user.language;
    let text = view::work_status_text(language, status, until);
    let note = t(language, "profile.ws.saved", &[("status", &text)]);
    show_saved(turn, actor, user, note, changed)
}

/// `🌴 Vacation`: a status as a choice.
fn button_name(language: Language, status: WorkStatus) -> String {
    t(language, &format!("profile.ws.button.{status}"), &[])
}

fn error_text(language: Language, error: UntilError, today: NaiveDate) -> String {
    match error {
        UntilError::Format => {
            let week_ahead = today.checked_add_days(chrono::Days::new(7));
            let example = view::date(week_ahead.unwrap_or(today));
            t(
                language,
                "profile.ws.error.format",
                &[("example", &example)],
            )
        }
        UntilError::NoSuchDay => t(language, "profile.ws.error.no_such_day", &[]),
        UntilError::Past => t(
            language,
            "profile.ws.error.past",
            &[("today", &view::date(today))],
        ),
        UntilError::TooFar { latest } => t(
            language,
            "profile.ws.error.too_far",
            &[("latest", &view::date(latest))],
        ),
    }
}
