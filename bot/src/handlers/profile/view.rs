//! How the profile and its values read: the profile message with its
//! buttons, zones with their offset, work statuses with their "until".

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use shared::db::DbError;
use shared::db::departments;
use shared::db::users::User;
use shared::domain::profile::ProfileCallback;
use shared::domain::profile::utc_offset;
use shared::domain::user::{Language, Role, WorkStatus};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Turn, work_status, zone_of};

/// The profile of `user` in their language, `note` (what just happened)
/// above it, with a button per thing they can change.
pub(super) fn profile(
    turn: &mut Turn<'_>,
    user: &User,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = user.language;
    let department = department_name(turn, user)?;
    let role_key = match user.role {
        Some(Role::Owner) => "profile.role.owner",
        _ => "profile.role.manager",
    };
    let mut role = t(language, role_key, &[]);
    if user.is_admin {
        // The role is filled in escaped: keep it plain text.
        role = t(language, "profile.role.admin", &[("role", &role)]);
    }
    let email = user
        .email
        .clone()
        .unwrap_or_else(|| t(language, "profile.email.none", &[]));
    let zone = zone_of(turn, user);
    let now = turn.ctx.now;
    let mut text = t(
        language,
        "profile.view",
        &[
            ("name", &user.full_name()),
            ("role", &role),
            ("department", &department),
            ("email", &email),
            ("language", &language_name(language)),
            ("zone", &zone_label(zone, now)),
            ("time", &local_time(zone, now)),
        ],
    );
    let manager = work_status::applies_to(user);
    if manager {
        let status = work_status_text(language, user.work_status, user.work_status_until);
        text.push_str(&t(
            language,
            "profile.view.work_status",
            &[("status", &status)],
        ));
    }
    if let Some(note) = note {
        text = format!("{note}\n\n{text}");
    }
    let button =
        |key: &str, press: ProfileCallback| Button::new(t(language, key, &[]), press.data());
    let mut second_row = vec![button("profile.button.zone", ProfileCallback::Zones)];
    if manager {
        second_row.push(button(
            "profile.button.work_status",
            ProfileCallback::WorkStatuses,
        ));
    }
    Ok(OutgoingMessage::with_buttons(
        text,
        vec![
            vec![
                button("profile.button.name", ProfileCallback::Name),
                button("profile.button.department", ProfileCallback::Departments),
            ],
            vec![
                button("profile.button.email", ProfileCallback::Email),
                button("profile.button.language", ProfileCallback::Languages),
            ],
            second_row,
        ],
    ))
}

/// The name of the user's department (retired ones too: it is still
/// theirs until they pick another), or a dash.
pub(super) fn department_name(turn: &mut Turn<'_>, user: &User) -> Result<String, DbError> {
    let name = match user.department_id {
        Some(id) => departments::find(turn.conn, id)?.map(|d| d.name),
        None => None,
    };
    Ok(name.unwrap_or_else(|| t(user.language, "profile.department.none", &[])))
}

/// A "« Back" button to the profile.
pub(super) fn back(language: Language) -> Button {
    Button::new(
        t(language, "profile.button.back", &[]),
        ProfileCallback::Menu.data(),
    )
}

/// "Русский" / "English": each language by its own name.
pub(super) fn language_name(language: Language) -> String {
    t(language, &format!("profile.language.name.{language}"), &[])
}

/// `Europe/Moscow, UTC+3`.
pub(super) fn zone_label(zone: Tz, now: DateTime<Utc>) -> String {
    format!("{}, {}", zone.name(), utc_offset(zone, now))
}

/// The time of day at `now` in `zone`, `14:05`.
pub(super) fn local_time(zone: Tz, now: DateTime<Utc>) -> String {
    now.with_timezone(&zone).format("%H:%M").to_string()
}

/// Dates as users type them: `14.01.2027`.
pub(super) fn date(day: NaiveDate) -> String {
    day.format("%d.%m.%Y").to_string()
}

/// `✅ working`, `🌴 on vacation until 14.01.2027 inclusive`, `🤒 on sick
/// leave, no end date`.
pub(super) fn work_status_text(
    language: Language,
    status: WorkStatus,
    until: Option<NaiveDate>,
) -> String {
    let name = t(language, &format!("profile.ws.{status}"), &[]);
    match (status, until) {
        (WorkStatus::Working, _) => name,
        (_, Some(until)) => t(
            language,
            "profile.ws.until",
            &[("status", &name), ("date", &date(until))],
        ),
        (_, None) => t(language, "profile.ws.open", &[("status", &name)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_are_labelled_with_their_offset() {
        let summer: DateTime<Utc> = "2027-07-14T12:00:00Z".parse().unwrap();
        assert_eq!(
            zone_label(chrono_tz::Asia::Dubai, summer),
            "Asia/Dubai, UTC+4"
        );
        assert_eq!(local_time(chrono_tz::Asia::Dubai, summer), "16:00");
    }

    #[test]
    fn statuses_read_with_their_end() {
        let day = NaiveDate::from_ymd_opt(2027, 1, 4).unwrap();
        assert_eq!(
            work_status_text(Language::En, WorkStatus::Vacation, Some(day)),
            "🌴 on vacation until 04.01.2027 inclusive"
        );
        assert_eq!(
            work_status_text(Language::Ru, WorkStatus::SickLeave, None),
            "🤒 на больничном, без даты окончания"
        );
        assert_eq!(
            work_status_text(Language::En, WorkStatus::Working, Some(day)),
            "✅ working"
        );
    }
}
