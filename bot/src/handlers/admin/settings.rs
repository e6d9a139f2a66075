//! Booking settings: every value on one screen; on/off and one-of-two
//! choices by button, numbers, durations and times by text. Bad input gets
//! a reason and changes nothing; every change is audited with the old and
//! new value.

use chrono::TimeDelta;
use serde_json::json;
use shared::db::DbError;
use shared::db::booking_settings;
use shared::db::users::User;
use shared::domain::admin::{
    AdminCallback, SettingChoice, SettingField, SettingInputError, apply_text, split_duration,
};
use shared::domain::settings::{BookingMode, BookingSettings, LimitPeriod};
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::super::dialogue::{self, Dialogue};
use super::super::{Actor, Turn};
use super::{AdminInput, audit_object, back, button, with_notice};

/// The settings screen, with `notice` (what just happened) above.
pub(super) fn show(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    notice: Option<String>,
) -> Result<(), DbError> {
    let message = screen(turn, actor, notice)?;
    turn.show(actor, message)
}

fn screen(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    notice: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = actor.language;
    let settings = booking_settings::get(turn.conn)?;
    let text = t(
        language,
        "adm.set.screen",
        &[
            ("horizon", &settings.horizon_days.to_string()),
            ("min_notice", &duration(language, settings.min_notice)),
            ("cancel_notice", &duration(language, settings.cancel_notice)),
            ("weekends", &on_off(language, settings.weekends_enabled)),
            ("limit", &settings.limit_per_period.to_string()),
            ("period", &period_label(language, settings.limit_period)),
            ("mode", &mode_label(language, settings.mode)),
            ("cadence", &settings.cadence_days.to_string()),
            ("reminders", &offsets(language, &settings.reminder_offsets)),
            (
                "report_at",
                &settings.overdue_report_at.format("%H:%M").to_string(),
            ),
        ],
    );
    let edit = |field, key| button(t(language, key, &[]), AdminCallback::EditSetting(field));
    let choose = |choice, key| button(t(language, key, &[]), AdminCallback::Choose(choice));
    let buttons = vec![
        vec![
            edit(SettingField::HorizonDays, "adm.set.edit.horizon"),
            edit(SettingField::CadenceDays, "adm.set.edit.cadence"),
        ],
        vec![
            edit(SettingField::MinNotice, "adm.set.edit.min_notice"),
            edit(SettingField::CancelNotice, "adm.set.edit.cancel_notice"),
        ],
        vec![
            edit(SettingField::LimitPerPeriod, "adm.set.edit.limit"),
            edit(SettingField::ReminderOffsets, "adm.set.edit.reminders"),
        ],
        vec![edit(
            SettingField::OverdueReportAt,
            "adm.set.edit.report_at",
        )],
        vec![if settings.weekends_enabled {
            choose(SettingChoice::Weekends(false), "adm.set.weekends_off")
        } else {
            choose(SettingChoice::Weekends(true), "adm.set.weekends_on")
        }],
        vec![match settings.mode {
            BookingMode::Single => choose(
                SettingChoice::Mode(BookingMode::Collective),
                "adm.set.mode_collective",
            ),
            BookingMode::Collective => choose(
                SettingChoice::Mode(BookingMode::Single),
                "adm.set.mode_single",
            ),
        }],
        vec![match settings.limit_period {
            LimitPeriod::Week => choose(
                SettingChoice::LimitPeriod(LimitPeriod::Month),
                "adm.set.period_month",
            ),
            LimitPeriod::Month => choose(
                SettingChoice::LimitPeriod(LimitPeriod::Week),
                "adm.set.period_week",
            ),
        }],
        back(actor, AdminCallback::Home),
    ];
    Ok(OutgoingMessage::with_buttons(
        with_notice(notice, text),
        buttons,
    ))
}

/// A choice button: sets the value it names (so a repeated or outdated
/// press changes nothing).
pub(super) fn choose(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    admin: &User,
    choice: SettingChoice,
) -> Result<Option<String>, DbError> {
    let current = booking_settings::get(turn.conn)?;
    let changed = choice.apply(&current);
    if changed == current {
        show(turn, actor, Some(t(actor.language, "adm.outdated", &[])))?;
        return Ok(super::outdated_toast(
            actor,
            "a setting already at that value",
        ));
    }
    save(turn, actor, admin, choice.name(), &current, &changed)?;
    show(turn, actor, Some(t(actor.language, "adm.set.saved", &[])))?;
    Ok(Some(t(actor.language, "adm.toast.done", &[])))
}

/// "Change …": asks for the value as text.
pub(super) fn ask(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    field: SettingField,
) -> Result<(), DbError> {
    let current = booking_settings::get(turn.conn)?;
    dialogue::save(turn, actor, &Dialogue::Admin(AdminInput::Setting { field }))?;
    let text = t(
        actor.language,
        ask_key(field),
        &[("current", &value_text(actor.language, &current, field))],
    );
    let buttons = vec![back(actor, AdminCallback::Settings)];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))
}

/// The typed value of `field`.
pub(super) fn on_value(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    field: SettingField,
    text: &str,
) -> Result<(), DbError> {
    let language = actor.language;
    let current = booking_settings::get(turn.conn)?;
    let changed = match apply_text(&current, field, text) {
        Ok(changed) => changed,
        Err(error) => {
            let problem = match error {
                SettingInputError::Format => format_key(field),
                SettingInputError::Range(e) => range_key(e.field),
            };
            let text = format!(
                "{}\n\n{}",
                t(language, problem, &[]),
                t(language, "adm.set.send_another", &[])
            );
            return turn.reply(actor, OutgoingMessage::text(text));
        }
    };
    dialogue::clear(turn, actor)?;
    let notice = if changed == current {
        t(language, "adm.unchanged", &[])
    } else {
        let Some(admin) = actor.user.clone() else {
            return Ok(());
        };
        save(turn, actor, &admin, field.name(), &current, &changed)?;
        t(language, "adm.set.saved", &[])
    };
    let message = screen(turn, actor, Some(notice))?;
    turn.reply(actor, message)
}

fn save(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    admin: &User,
    field: &'static str,
    old: &BookingSettings,
    new: &BookingSettings,
) -> Result<(), DbError> {
    booking_settings::update(turn.conn, new, admin.id, turn.ctx.now)?;
    audit_object(
        turn,
        actor,
        "settings.changed",
        "booking_settings".to_owned(),
        json!({ "field": field, "old": stored_value(old, field), "new": stored_value(new, field) }),
    )?;
    Ok(())
}

/// A setting as the audit log records it (minutes for durations).
fn stored_value(settings: &BookingSettings, field: &str) -> serde_json::Value {
    match field {
        "horizon_days" => json!(settings.horizon_days),
        "min_notice" => json!(settings.min_notice.num_minutes()),
        "cancel_notice" => json!(settings.cancel_notice.num_minutes()),
        "weekends_enabled" => json!(settings.weekends_enabled),
        "limit_per_period" => json!(settings.limit_per_period),
        "limit_period" => json!(settings.limit_period),
        "mode" => json!(settings.mode),
        "cadence_days" => json!(settings.cadence_days),
        "reminder_offsets" => json!(
            settings
                .reminder_offsets
                .iter()
                .map(TimeDelta::num_minutes)
                .collect::<Vec<_>>()
        ),
        "overdue_report_at" => json!(settings.overdue_report_at.format("%H:%M").to_string()),
        _ => serde_json::Value::Null,
    }
}

fn value_text(language: Language, settings: &BookingSettings, field: SettingField) -> String {
    match field {
        SettingField::HorizonDays => settings.horizon_days.to_string(),
        SettingField::MinNotice => duration(language, settings.min_notice),
        SettingField::CancelNotice => duration(language, settings.cancel_notice),
        SettingField::LimitPerPeriod => settings.limit_per_period.to_string(),
        SettingField::CadenceDays => settings.cadence_days.to_string(),
        SettingField::ReminderOffsets => offsets(language, &settings.reminder_offsets),
        SettingField::OverdueReportAt => settings.overdue_report_at.format("%H:%M").to_string(),
    }
}

fn ask_key(field: SettingField) -> &'static str {
    match field {
        SettingField::HorizonDays => "adm.set.ask.horizon",
        SettingField::MinNotice => "adm.set.ask.min_notice",
        SettingField::CancelNotice => "adm.set.ask.cancel_notice",
        SettingField::LimitPerPeriod => "adm.set.ask.limit",
        SettingField::CadenceDays => "adm.set.ask.cadence",
        SettingField::ReminderOffsets => "adm.set.ask.reminders",
        SettingField::OverdueReportAt => "adm.set.ask.report_at",
    }
}

fn format_key(field: SettingField) -> &'static str {
    match field {
        SettingField::HorizonDays | SettingField::LimitPerPeriod | SettingField::CadenceDays => {
            "adm.set.error.number"
        }
        SettingField::MinNotice | SettingField::CancelNotice => "adm.set.error.duration",
        SettingField::ReminderOffsets => "adm.set.error.durations",
        SettingField::OverdueReportAt => "adm.set.error.time",
    }
}

fn range_key(field: &str) -> &'static str {
    match field {
        "horizon_days" | "cadence_days" => "adm.set.range.days",
        "limit_per_period" => "adm.set.range.limit",
        "min_notice" | "cancel_notice" => "adm.set.range.notice",
        _ => "adm.set.range.reminders",
    }
}

/// `1 d 2 h 30 min`, `0` for nothing.
fn duration(language: Language, delta: TimeDelta) -> String {
    let (days, hours, minutes) = split_duration(delta);
    let parts: Vec<String> = [
        (days, "adm.unit.days"),
        (hours, "adm.unit.hours"),
        (minutes, "adm.unit.minutes"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, key)| t(language, key, &[("n", &n.to_string())]))
    .collect();
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join(" ")
    }
}

fn offsets(language: Language, offsets: &[TimeDelta]) -> String {
    if offsets.is_empty() {
        return t(language, "adm.set.no_reminders", &[]);
    }
    offsets
        .iter()
        .map(|o| duration(language, *o))
        .collect::<Vec<_>>()
        .join(", ")
}

fn on_off(language: Language, on: bool) -> String {
    t(language, if on { "adm.on" } else { "adm.off" }, &[])
}

fn period_label(language: Language, period: LimitPeriod) -> String {
    let key = match period {
        LimitPeriod::Week => "adm.set.period.week",
        LimitPeriod::Month => "adm.set.period.month",
    };
    t(language, key, &[])
}

fn mode_label(language: Language, mode: BookingMode) -> String {
    let key = match mode {
        BookingMode::Single => "adm.set.mode.single",
        BookingMode::Collective => "adm.set.mode.collective",
    };
    t(language, key, &[])
}
