//! Departments: the list, one department's card, adding and renaming (the
//! name comes as text), retiring and restoring. Retired departments are
//! not offered at registration; their members keep them.
//!
//! ```text
//! admin: (presses ➕ Add department)
//! bot:   Send the name of the new department (/cancel to stop).
//! admin: (5,000 characters)
//! bot:   ⚠️ The name is too long … Send another name.
//! admin: Legal
//! bot:   ✅ Department Legal added.  (the list)
//! ```

use diesel::Connection;
use serde_json::json;
use shared::db::DbError;
use shared::db::departments::{self, Department, DepartmentError};
use shared::db::types::DepartmentId;
use shared::domain::admin::{
    AdminCallback, DepartmentNameError, MAX_DEPARTMENT_CHARS, department_name, same_department_name,
};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::super::dialogue::{self, Dialogue};
use super::super::{Actor, Turn};
use super::users::department_button_label;
use super::{AdminInput, audit_object, back, button, outdated_toast, with_notice};

/// Every department with its members, and the way to add one.
pub(super) fn list(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    notice: Option<String>,
) -> Result<(), DbError> {
    let message = list_message(turn, actor, notice)?;
    turn.show(actor, message)
}

fn list_message(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    notice: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = actor.language;
    let all = departments::list_all(turn.conn)?;
    let members = departments::member_counts(turn.conn)?;
    let count_of = |id| {
        members
            .iter()
            .find(|(d, _)| *d == id)
            .map_or(0, |(_, n)| *n)
            .to_string()
    };
    let lines: Vec<String> = all
        .iter()
        .map(|d| {
            let key = if d.retired_at.is_some() {
                "adm.deps.entry_retired"
            } else {
                "adm.deps.entry"
            };
            t(
                language,
                key,
                &[("name", &d.name), ("members", &count_of(d.id))],
            )
        })
        .collect();
    let text = if lines.is_empty() {
        t(language, "adm.deps.none", &[])
    } else {
        format!(
            "{}\n\n{}",
            t(language, "adm.deps.title", &[]),
            lines.join("\n")
        )
    };
    let mut buttons: Vec<Vec<Button>> = all
        .chunks(2)
        .map(|row| {
            row.iter()
                .map(|d| {
                    button(
                        department_button_label(language, d),
                        AdminCallback::Department(d.id),
                    )
                })
                .collect()
        })
        .collect();
    buttons.push(vec![button(
        t(language, "adm.deps.add", &[]),
        AdminCallback::AddDepartment,
    )]);
    buttons.push(back(actor, AdminCallback::Home));
    Ok(OutgoingMessage::with_buttons(
        with_notice(notice, text),
        buttons,
    ))
}

/// One department: its state, members, and what can be done.
pub(super) fn card(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    id: DepartmentId,
    notice: Option<String>,
) -> Result<Option<String>, DbError> {
    let Some(department) = departments::find(turn.conn, id)? else {
        list(turn, actor, None)?;
        return Ok(outdated_toast(actor, "an unknown department"));
    };
    let message = card_message(turn, actor, &department, notice)?;
    turn.show(actor, message)?;
    Ok(None)
}

fn card_message(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    department: &Department,
    notice: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = actor.language;
    let members = departments::member_counts(turn.conn)?
        .into_iter()
        .find(|(d, _)| *d == department.id)
        .map_or(0, |(_, n)| n);
    let state = t(
        language,
        if department.retired_at.is_some() {
            "adm.dep.retired"
        } else {
            "adm.dep.active"
        },
        &[],
    );
    let text = t(
        language,
        "adm.dep.card",
        &[
            ("name", &department.name),
            ("state", &state),
            ("members", &members.to_string()),
        ],
    );
    let toggle = if department.retired_at.is_some() {
        button(
            t(language, "adm.dep.restore", &[]),
            AdminCallback::RestoreDepartment(department.id),
        )
    } else {
        button(
            t(language, "adm.dep.retire", &[]),
            AdminCallback::RetireDepartment(department.id),
        )
    };
    let buttons = vec![
        vec![
            button(
                t(language, "adm.dep.rename", &[]),
                AdminCallback::RenameDepartment(department.id),
            ),
            toggle,
        ],
        back(actor, AdminCallback::Departments),
    ];
    Ok(OutgoingMessage::with_buttons(
        with_notice(notice, text),
        buttons,
    ))
}

/// "Add department": waits for the name.
pub(super) fn ask_new(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    dialogue::save(turn, actor, &Dialogue::Admin(AdminInput::NewDepartment))?;
    let text = t(actor.language, "adm.deps.ask_name", &[]);
    let buttons = vec![back(actor, AdminCallback::Departments)];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))
}

/// "Rename": waits for the new name.
pub(super) fn ask_rename(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    id: DepartmentId,
) -> Result<Option<String>, DbError> {
    let Some(department) = departments::find(turn.conn, id)? else {
        list(turn, actor, None)?;
        return Ok(outdated_toast(actor, "renaming an unknown department"));
    };
    dialogue::save(
        turn,
        actor,
        &Dialogue::Admin(AdminInput::RenameDepartment { department: id }),
    )?;
    let text = t(
        actor.language,
        "adm.dep.ask_rename",
        &[("name", &department.name)],
    );
    let buttons = vec![back(actor, AdminCallback::Department(id))];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))?;
    Ok(None)
}

/// The name of a new department, typed.
pub(super) fn on_new_name(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    text: &str,
) -> Result<(), DbError> {
    let Some(name) = checked_name(turn, actor, text, None)? else {
        return Ok(());
    };
    let now = turn.ctx.now;
    // A savepoint: a unique violation (a race with another admin) must not
    // abort the whole update's transaction.
    let added = turn
        .conn
        .transaction(|conn| departments::add(conn, &name, now));
    let department = match added {
        Ok(department) => department,
        Err(DepartmentError::Db(e)) => return Err(e),
        Err(e) => return ask_again(turn, actor, refusal(actor, &e)),
    };
    dialogue::clear(turn, actor)?;
    audit_object(
        turn,
        actor,
        "department.added",
        format!("department:{}", department.id),
        json!({ "id": department.id, "name": department.name }),
    )?;
    let done = t(
        actor.language,
        "adm.deps.added",
        &[("name", &department.name)],
    );
    let message = list_message(turn, actor, Some(done))?;
    turn.reply(actor, message)
}

/// A new name for department `id`, typed.
pub(super) fn on_rename(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    id: DepartmentId,
    text: &str,
) -> Result<(), DbError> {
    let Some(department) = departments::find(turn.conn, id)? else {
        dialogue::clear(turn, actor)?;
        let message = list_message(turn, actor, Some(t(actor.language, "adm.outdated", &[])))?;
        return turn.reply(actor, message);
    };
    let Some(name) = checked_name(turn, actor, text, Some(id))? else {
        return Ok(());
    };
    if name == department.name {
        dialogue::clear(turn, actor)?;
        let notice = t(actor.language, "adm.unchanged", &[]);
        let message = card_message(turn, actor, &department, Some(notice))?;
        return turn.reply(actor, message);
    }
    let renamed = turn
        .conn
        .transaction(|conn| departments::rename(conn, id, &name));
    match renamed {
        Ok(()) => {}
        Err(DepartmentError::Db(e)) => return Err(e),
        Err(e) => return ask_again(turn, actor, refusal(actor, &e)),
    }
    dialogue::clear(turn, actor)?;
    audit_object(
        turn,
        actor,
        "department.renamed",
        format!("department:{id}"),
        json!({ "id": id, "from": department.name, "to": name }),
    )?;
    let renamed = Department { name, ..department };
    let done = t(
        actor.language,
        "adm.dep.renamed",
        &[("name", &renamed.name)],
    );
    let message = card_message(turn, actor, &renamed, Some(done))?;
    turn.reply(actor, message)
}

/// The cleaned name, or `None` after telling the admin what is wrong (the
/// dialogue stays, so they can send another one).
fn checked_name(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    text: &str,
    renaming: Option<DepartmentId>,
) -> Result<Option<String>, DbError> {
    let language = actor.language;
    let problem = match department_name(text) {
        Ok(name) => {
            let taken = departments::list_all(turn.conn)?
                .iter()
                .any(|d| Some(d.id) != renaming && same_department_name(&d.name, &name));
            if !taken {
                return Ok(Some(name));
            }
            t(language, "adm.deps.error.duplicate", &[])
        }
        Err(DepartmentNameError::Empty) => t(language, "adm.deps.error.empty", &[]),
        Err(DepartmentNameError::TooLong { chars }) => t(
            language,
            "adm.deps.error.too_long",
            &[
                ("count", &chars.to_string()),
                ("max", &MAX_DEPARTMENT_CHARS.to_string()),
            ],
        ),
        Err(DepartmentNameError::ControlCharacters) => t(language, "adm.deps.error.control", &[]),
    };
    ask_again(turn, actor, problem)?;
    Ok(None)
}

/// Why the repository refused a name it was given (a race with another
/// admin, or a department deleted meanwhile).
fn refusal(actor: &Actor<'_>, error: &DepartmentError) -> String {
    let key = match error {
        DepartmentError::Duplicate => "adm.deps.error.duplicate",
        DepartmentError::NotFound => "adm.outdated",
        DepartmentError::InvalidName | DepartmentError::Db(_) => "adm.deps.error.empty",
    };
    t(actor.language, key, &[])
}

fn ask_again(turn: &mut Turn<'_>, actor: &Actor<'_>, problem: String) -> Result<(), DbError> {
    let text = format!(
        "{problem}\n\n{}",
        t(actor.language, "adm.deps.send_another", &[])
    );
    turn.reply(actor, OutgoingMessage::text(text))
}

/// Retire (`retire`) or restore department `id`; a press that no longer
/// fits shows the card as it is.
pub(super) fn retire(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    id: DepartmentId,
    retire: bool,
) -> Result<Option<String>, DbError> {
    let Some(department) = departments::find(turn.conn, id)? else {
        list(turn, actor, None)?;
        return Ok(outdated_toast(actor, "retiring an unknown department"));
    };
    let changed = if retire {
        departments::retire(turn.conn, id, turn.ctx.now)?
    } else {
        departments::restore(turn.conn, id)?
    };
    if !changed {
        let notice = t(actor.language, "adm.outdated", &[]);
        card(turn, actor, id, Some(notice))?;
        return Ok(outdated_toast(actor, "department already in that state"));
    }
    let (action, done) = if retire {
        ("department.retired", "adm.dep.done_retired")
    } else {
        ("department.restored", "adm.dep.done_restored")
    };
    audit_object(
        turn,
        actor,
        action,
        format!("department:{id}"),
        json!({ "id": id, "name": department.name }),
    )?;
    let notice = t(actor.language, done, &[("name", &department.name)]);
    card(turn, actor, id, Some(notice))?;
    Ok(Some(t(actor.language, "adm.toast.done", &[])))
}
