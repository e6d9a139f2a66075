//! The panel's first screen and the pending applications, decided with the
//! same checks as the buttons in the admins' notices
//! ([`approval::on_decide`](super::super::approval::on_decide)).

use shared::db::DbError;
use shared::db::types::{AuditId, UserId};
use shared::db::users;
use shared::domain::admin::{AdminCallback, ListView, UserFilter};
use shared::domain::registration::Decision;
use shared::domain::user::Status;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::super::{Actor, Turn, approval};
use super::{back, button, short};

/// How many pending applications one screen lists (oldest first).
const PENDING_SHOWN: usize = 10;

/// The panel: the pending count and the sections.
pub(super) fn home(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let language = actor.language;
    let pending_filter = UserFilter {
        status: Some(Status::Pending),
        ..UserFilter::default()
    };
    let pending = users::count(turn.conn, &pending_filter)?.to_string();
    let text = t(language, "adm.home", &[("pending", &pending)]);
    let label = |key| t(language, key, &[]);
    let buttons = vec![
        vec![button(
            t(language, "adm.home.pending", &[("count", &pending)]),
            AdminCallback::Pending,
        )],
        vec![
            button(
                label("adm.home.users"),
                AdminCallback::Users(ListView::default()),
            ),
            button(label("adm.home.departments"), AdminCallback::Departments),
        ],
        vec![
            button(label("adm.home.stats"), AdminCallback::Stats),
            button(label("adm.home.settings"), AdminCallback::Settings),
        ],
    ];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))
}

/// The pending applications, oldest first, each with Approve / Reject.
pub(super) fn pending(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let language = actor.language;
    let waiting = users::with_status(turn.conn, Status::Pending)?;
    let mut lines = Vec::new();
    let mut buttons = Vec::new();
    for (number, user) in waiting.iter().take(PENDING_SHOWN).enumerate() {
        let username = user
            .username
            .as_deref()
            .map_or_else(|| "—".to_owned(), |u| format!("@{u}"));
        let department = match user.department_id {
            Some(id) => shared::db::departments::find(turn.conn, id)?.map(|d| d.name),
            None => None,
        }
        .unwrap_or_else(|| "—".to_owned());
        lines.push(t(
            language,
            "adm.pending.entry",
            &[
                ("number", &(number + 1).to_string()),
                ("name", &user.full_name()),
                ("username", &username),
                ("department", &department),
            ],
        ));
        // Without an application on record there is nothing to decide.
        let Some(round) = users::application_round(turn.conn, user.id)? else {
            continue;
        };
        let name = short(&user.full_name(), 24);
        let decide = |decision, key| {
            button(
                t(language, key, &[("name", &name)]),
                AdminCallback::Decide {
                    decision,
                    user: user.id,
                    round,
                },
            )
        };
        buttons.push(vec![
            decide(Decision::Approve, "adm.pending.approve"),
            decide(Decision::Reject, "adm.pending.reject"),
        ]);
    }
    let mut text = if waiting.is_empty() {
        t(language, "adm.pending.none", &[])
    } else {
        let count = waiting.len().to_string();
        format!(
            "{}\n\n{}",
            t(language, "adm.pending.title", &[("count", &count)]),
            lines.join("\n")
        )
    };
    if waiting.len() > PENDING_SHOWN {
        let more = (waiting.len() - PENDING_SHOWN).to_string();
        text.push_str("\n\n");
        text.push_str(&t(language, "adm.pending.more", &[("count", &more)]));
    }
    buttons.push(back(actor, AdminCallback::Home));
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))
}

/// Approve / Reject from the pending list: the decision (with its checks
/// and its record) comes as a message of its own, and the list is shown
/// again in place.
pub(super) fn decide(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    decision: Decision,
    user: UserId,
    round: AuditId,
) -> Result<Option<String>, DbError> {
    let list = turn.pressed_message.take();
    let toast = approval::on_decide(turn, actor, decision, user, round)?;
    turn.pressed_message = list;
    pending(turn, actor)?;
    Ok(toast)
}
