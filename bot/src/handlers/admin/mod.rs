//! The admin panel, `/admin`: pending applications, users, departments,
//! statistics, booking settings and the audit log. Every command, press and
//! text re-checks that the caller is an active admin right now; the screens
//! change in place (`Turn::show`) and each has a way back.
//!
//! The button data is `shared::domain::admin::AdminCallback`; this module
//! routes it to one submodule per screen.

mod audit_log;
mod departments;
mod panel;
mod settings;
mod stats;
mod users;

use serde::{Deserialize, Serialize};
use shared::db::DbError;
use shared::db::audit::{self, AuditEntry};
use shared::db::types::{AuditId, DepartmentId};
use shared::db::users::User;
use shared::domain::admin::{AdminCallback, SettingField};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::dialogue::{self, Dialogue};
use super::{Actor, Turn, callbacks};

/// Text the admin panel waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "admin", rename_all = "snake_case")]
pub(crate) enum AdminInput {
    /// The name of a new department.
    NewDepartment,
    /// A new name for `department`.
    RenameDepartment { department: DepartmentId },
    /// A new value of a booking setting.
    Setting { field: SettingField },
}

/// The actor's row if they are an active admin right now.
fn current_admin(actor: &Actor<'_>) -> Option<User> {
    actor
        .user
        .as_ref()
        .filter(|user| user.is_active() && user.is_admin)
        .cloned()
}

/// `/admin`.
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    if current_admin(actor).is_none() {
        let text = t(actor.language, "adm.only_admins", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    }
    panel::home(turn, actor)
}

/// A press on an `adm:` button; `data` is what follows the prefix.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(admin) = current_admin(actor) else {
        return callbacks::refused(turn, actor, "an admin panel button pressed by a non-admin");
    };
    let Some(callback) = AdminCallback::parse(data) else {
        return callbacks::stale(turn, actor, "admin callback data that does not parse");
    };
    // Moving around the panel abandons a half-finished text input.
    if let Some(Dialogue::Admin(_)) = dialogue::load(turn, actor)? {
        dialogue::clear(turn, actor)?;
    }
    let toast = match callback {
        AdminCallback::Home => panel::home(turn, actor).map(|()| None)?,
        AdminCallback::Pending => panel::pending(turn, actor).map(|()| None)?,
        AdminCallback::Decide {
            decision,
            user,
            round,
        } => panel::decide(turn, actor, decision, user, round)?,
        AdminCallback::Users(view) => users::list(turn, actor, view).map(|()| None)?,
        AdminCallback::UserDepartments(view) => {
            users::department_filter(turn, actor, view).map(|()| None)?
        }
        AdminCallback::User { user, back } => users::card(turn, actor, user, back, None)?,
        AdminCallback::Act { action, user, back } => {
            users::act(turn, actor, &admin, action, user, back)?
        }
        AdminCallback::Log { user, page, back } => {
            audit_log::page(turn, actor, &admin, user, page, back)?
        }
        AdminCallback::Departments => departments::list(turn, actor, None).map(|()| None)?,
        AdminCallback::Department(id) => departments::card(turn, actor, id, None)?,
        AdminCallback::AddDepartment => departments::ask_new(turn, actor).map(|()| None)?,
        AdminCallback::RenameDepartment(id) => departments::ask_rename(turn, actor, id)?,
        AdminCallback::RetireDepartment(id) => departments::retire(turn, actor, id, true)?,
        AdminCallback::RestoreDepartment(id) => departments::retire(turn, actor, id, false)?,
        AdminCallback::Stats => stats::show(turn, actor).map(|()| None)?,
        AdminCallback::Settings => settings::show(turn, actor, None).map(|()| None)?,
        AdminCallback::EditSetting(field) => settings::ask(turn, actor, field).map(|()| None)?,
        AdminCallback::Choose(choice) => settings::choose(turn, actor, &admin, choice)?,
    };
    Ok(toast)
}

/// Text while the panel waits for `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: AdminInput,
    text: &str,
) -> Result<(), DbError> {
    if current_admin(actor).is_none() {
        dialogue::clear(turn, actor)?;
        let text = t(actor.language, "adm.only_admins", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    }
    match input {
        AdminInput::NewDepartment => departments::on_new_name(turn, actor, text),
        AdminInput::RenameDepartment { department } => {
            departments::on_rename(turn, actor, department, text)
        }
        AdminInput::Setting { field } => settings::on_value(turn, actor, field, text),
    }
}

/// A button of the panel.
fn button(label: String, callback: AdminCallback) -> Button {
    Button::new(label, callback.data())
}

/// The "back" button of a screen.
fn back(actor: &Actor<'_>, to: AdminCallback) -> Vec<Button> {
    vec![button(t(actor.language, "adm.back", &[]), to)]
}

/// `text` under an optional first paragraph (what just happened).
fn with_notice(notice: Option<String>, text: String) -> String {
    match notice {
        Some(notice) => format!("{notice}\n\n{text}"),
        None => text,
    }
}

/// The toast of a press on a screen that no longer matched the data; the
/// caller shows the screen as it is now.
fn outdated_toast(actor: &Actor<'_>, why: &'static str) -> Option<String> {
    tracing::info!(reason = why, "outdated admin panel press");
    Some(t(actor.language, "menu.stale", &[]))
}

/// Records a change to something other than a user (a department, the
/// settings), named by `target`, e.g. `department:5`.
fn audit_object(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    action: &str,
    target: String,
    data: serde_json::Value,
) -> Result<AuditId, DbError> {
    audit::record(
        turn.conn,
        &AuditEntry {
            actor: actor.user_id(),
            actor_telegram_id: Some(actor.telegram_id),
            action,
            target_user: None,
            target: Some(target),
            data,
            correlation_id: Some(&turn.ctx.correlation_id),
        },
        turn.ctx.now,
    )
}

/// Shortens a button label to what fits on a phone.
fn short(label: &str, max_chars: usize) -> String {
    if label.chars().count() <= max_chars {
        return label.to_owned();
    }
    let mut cut: String = label.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_are_shortened() {
        assert_eq!(short("Anna", 5), "Anna");
        assert_eq!(short("Annabelle", 5), "Anna…");
        assert_eq!(short("😀😀😀😀😀😀", 3), "😀😀…");
    }

    #[test]
    fn inputs_are_stored_with_their_own_tag() {
        let input = AdminInput::Setting {
            field: SettingField::MinNotice,
        };
        let json = serde_json::to_string(&input).unwrap();
        assert_eq!(json, r#"{"admin":"setting","field":"min_notice"}"#);
        assert_eq!(serde_json::from_str::<AdminInput>(&json).unwrap(), input);
    }
}
