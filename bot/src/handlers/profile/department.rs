//! The department: the active (not retired) departments as buttons, the
//! current one ticked. The id a button carries is looked up again when it
//! is pressed, and once more by the statement that saves it: a department
//! retired meanwhile, an unknown or forged id is "out of date" and changes
//! nothing.

use serde_json::json;
use shared::db::DbError;
use shared::db::departments::{self, Department};
use shared::db::types::DepartmentId;
use shared::db::users::{self, User};
use shared::domain::profile::ProfileCallback;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, Turn, audit_change, callbacks, leave_dialogue, show_saved, view};

/// "🏢 Department": the list, two per row, the current one ticked.
pub(super) fn choose(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    let choices = departments::list_active(turn.conn)?;
    let buttons: Vec<Button> = choices
        .iter()
        .map(|department| {
            let label = if user.department_id == Some(department.id) {
                format!("✓ {}", department.name)
            } else {
                department.name.clone()
            };
            Button::new(label, ProfileCallback::SetDepartment(department.id).data())
        })
        .collect();
    let mut rows: Vec<Vec<Button>> = buttons.chunks(2).map(<[Button]>::to_vec).collect();
    rows.push(vec![view::back(language)]);
    let key = if choices.is_empty() {
        "profile.department.no_choice"
    } else {
        "profile.department.choose"
    };
    let current = view::department_name(turn, user)?;
    let text = t(language, key, &[("department", &current)]);
    turn.show(actor, OutgoingMessage::with_buttons(text, rows))?;
    Ok(None)
}

/// A department button. Checked before anything changes, the question the
/// profile waited for included.
pub(super) fn pick(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    id: DepartmentId,
) -> Result<Option<String>, DbError> {
    let Some(department) = pickable(turn, id)? else {
        return callbacks::stale(turn, actor, "profile department unknown or retired");
    };
    let changed = user.department_id != Some(department.id);
    if changed && !users::set_department(turn.conn, user.id, department.id, turn.ctx.now)? {
        // Retired (or the user removed) between the look-up and the update.
        return callbacks::stale(turn, actor, "profile department retired meanwhile");
    }
    leave_dialogue(turn, actor)?;
    if changed {
        let from = match user.department_id {
            Some(old) => {
                let name = departments::find(turn.conn, old)?.map(|d| d.name);
                json!({ "id": old, "name": name })
            }
            None => serde_json::Value::Null,
        };
        audit_change(
            turn,
            actor,
            user,
            "profile.department",
            json!({
                "from": from,
                "to": { "id": department.id, "name": department.name },
            }),
        )?;
    }
    let note = t(
        user.language,
        "profile.department.saved",
        &[("department", &department.name)],
    );
    show_saved(turn, actor, user, note, changed)
}

/// The department `id` names if it exists and is not retired.
fn pickable(turn: &mut Turn<'_>, id: DepartmentId) -> Result<Option<Department>, DbError> {
    Ok(departments::find(turn.conn, id)?.filter(|d| d.retired_at.is_none()))
}
