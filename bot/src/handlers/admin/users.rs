//! The user list (paged, filtered by role, status and department), a
//! user's card, and what an admin can do from it: promote, demote, grant
//! or revoke the admin flag, remove. Each action checks the target's state
//! now, changes it with a conditional update (a second press changes
//! nothing), writes an audit row, tells the target and refreshes their
//! command menu. Nobody can leave the bot without an active admin.

use serde_json::json;
use shared::db::DbError;
use shared::db::departments::{self, Department};
use shared::db::dialogues;
use shared::db::types::{DepartmentId, UserId};
use shared::db::users::{self, User};
use shared::domain::admin::{AdminCallback, ListView, Paging, USERS_PER_PAGE, UserAction};
use shared::domain::user::{Language, Role, Status, WorkStatus};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::super::{Actor, Notice, Turn, callbacks};
use super::{back, button, outdated_toast, short, with_notice};

/// A page of the user list.
pub(super) fn list(turn: &mut Turn<'_>, actor: &Actor<'_>, view: ListView) -> Result<(), DbError> {
    let language = actor.language;
    let filter = view.filter;
    let total = users::count(turn.conn, &filter)?;
    let paging = Paging::new(view.page, total, USERS_PER_PAGE);
    let shown = users::list(turn.conn, &filter, paging.limit, paging.offset)?;
    let all_departments = departments::list_all(turn.conn)?;
    let here = ListView {
        filter,
        page: paging.page,
    };

    let department = department_label(language, &all_departments, filter.department);
    let mut text = t(
        language,
        "adm.users.title",
        &[
            ("total", &total.to_string()),
            ("page", &(paging.page + 1).to_string()),
            ("pages", &paging.pages.to_string()),
            ("role", &role_filter_label(language, filter.role)),
            ("status", &status_filter_label(language, filter.status)),
            ("department", &department),
        ],
    );
    if shown.is_empty() {
        text.push_str("\n\n");
        text.push_str(&t(language, "adm.users.empty", &[]));
    }

    let mut buttons: Vec<Vec<Button>> = shown
        .iter()
        .map(|user| {
            vec![button(
                user_label(user),
                AdminCallback::User {
                    user: user.id,
                    back: here,
                },
            )]
        })
        .collect();
    let mut paging_row = Vec::new();
    if paging.has_previous() {
        paging_row.push(button(
            t(language, "adm.previous", &[]),
            AdminCallback::Users(ListView {
                page: paging.page - 1,
                ..here
            }),
        ));
    }
    if paging.has_next() {
        paging_row.push(button(
            t(language, "adm.next", &[]),
            AdminCallback::Users(ListView {
                page: paging.page + 1,
                ..here
            }),
        ));
    }
    if !paging_row.is_empty() {
        buttons.push(paging_row);
    }
    let first_page = |filter| AdminCallback::Users(ListView { filter, page: 0 });
    buttons.push(vec![
        button(
            t(
                language,
                "adm.users.filter_role",
                &[("role", &role_filter_label(language, filter.role))],
            ),
            first_page(filter.next_role()),
        ),
        button(
            t(
                language,
                "adm.users.filter_status",
                &[("status", &status_filter_label(language, filter.status))],
            ),
            first_page(filter.next_status()),
        ),
    ]);
    buttons.push(vec![button(
        t(
            language,
            "adm.users.filter_department",
            &[("department", &short(&department, 24))],
        ),
        AdminCallback::UserDepartments(here),
    )]);
    buttons.push(back(actor, AdminCallback::Home));
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))
}

/// Picks the department the list is filtered by.
pub(super) fn department_filter(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    view: ListView,
) -> Result<(), DbError> {
    let language = actor.language;
    let all_departments = departments::list_all(turn.conn)?;
    let pick = |department: Option<DepartmentId>| {
        AdminCallback::Users(ListView {
            filter: view.filter.with_department(department),
            page: 0,
        })
    };
    let mut buttons = vec![vec![button(
        t(language, "adm.users.any_department", &[]),
        pick(None),
    )]];
    for row in all_departments.chunks(2) {
        buttons.push(
            row.iter()
                .map(|d| button(department_button_label(language, d), pick(Some(d.id))))
                .collect(),
        );
    }
    buttons.push(back(actor, AdminCallback::Users(view)));
    let text = t(language, "adm.users.pick_department", &[]);
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))
}

/// A user's card with the actions that fit their state now. `notice`:
/// what just happened, shown above.
pub(super) fn card(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    id: UserId,
    back_to: ListView,
    notice: Option<String>,
) -> Result<Option<String>, DbError> {
    let Some(target) = users::find(turn.conn, id)? else {
        return callbacks::stale(turn, actor, "a card of an unknown user");
    };
    let message = card_message(turn, actor, &target, back_to, notice)?;
    turn.show(actor, message)?;
    Ok(None)
}

fn card_message(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    target: &User,
    back_to: ListView,
    notice: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = actor.language;
    let department = match target.department_id {
        Some(id) => departments::find(turn.conn, id)?.map(|d| d.name),
        None => None,
    }
    .unwrap_or_else(|| "—".to_owned());
    let zone = super::audit_log::zone_of(turn, actor);
    let registered = target
        .created_at
        .with_timezone(&zone)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let work = match target.work_status_until {
        Some(until) => t(
            language,
            "adm.card.work_until",
            &[
                ("status", &work_status_label(language, target.work_status)),
                ("until", &until.format("%Y-%m-%d").to_string()),
            ],
        ),
        None => work_status_label(language, target.work_status),
    };
    let yes_no = |flag| t(language, if flag { "adm.yes" } else { "adm.no" }, &[]);
    let text = t(
        language,
        "adm.card",
        &[
            ("name", &target.full_name()),
            (
                "username",
                &target
                    .username
                    .as_deref()
                    .map_or_else(|| "—".to_owned(), |u| format!("@{u}")),
            ),
            ("telegram_id", &target.telegram_id.to_string()),
            ("department", &department),
            ("role", &role_label(language, target.role)),
            ("admin", &yes_no(target.is_admin)),
            ("status", &status_label(language, target.status)),
            ("work", &work),
            ("language", language_label(target.language)),
            ("zone", &target.time_zone),
            ("email", target.email.as_deref().unwrap_or("—")),
            ("registered", &registered),
        ],
    );

    let act = |action, key| {
        button(
            t(language, key, &[]),
            AdminCallback::Act {
                action,
                user: target.id,
                back: back_to,
            },
        )
    };
    let mut buttons = Vec::new();
    if target.is_active() {
        let role_action = match target.role {
            Some(Role::Owner) => act(UserAction::Demote, "adm.card.demote"),
            _ => act(UserAction::Promote, "adm.card.promote"),
        };
        let admin_action = if target.is_admin {
            act(UserAction::RevokeAdmin, "adm.card.revoke_admin")
        } else {
            act(UserAction::GrantAdmin, "adm.card.grant_admin")
        };
        buttons.push(vec![role_action, admin_action]);
    }
    let mut last_row = Vec::new();
    if target.status != Status::Removed {
        last_row.push(act(UserAction::Remove, "adm.card.remove"));
    }
    last_row.push(button(
        t(language, "adm.card.log", &[]),
        AdminCallback::Log {
            user: target.id,
            page: 0,
            back: back_to,
        },
    ));
    buttons.push(last_row);
    buttons.push(back(actor, AdminCallback::Users(back_to)));
    Ok(OutgoingMessage::with_buttons(
        with_notice(notice, text),
        buttons,
    ))
}

/// What a successful action changed, for the audit row and the messages.
struct Change {
    action: &'static str,
    data: serde_json::Value,
    /// The target's notice (`None`: not told, e.g. about themselves).
    notice_key: &'static str,
    /// Shown to the admin above the card.
    done_key: &'static str,
}

/// An action from a user's card, checked against the target's state now.
pub(super) fn act(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    admin: &User,
    action: UserAction,
    id: UserId,
    back_to: ListView,
) -> Result<Option<String>, DbError> {
    let language = actor.language;
    let Some(target) = users::find(turn.conn, id)? else {
        return callbacks::stale(turn, actor, "an action on an unknown user");
    };
    let now = turn.ctx.now;
    let active_role = target.is_active().then_some(target.role).flatten();
    let last_admin = is_last_admin(turn, &target)?;
    let change = match action {
        UserAction::Promote if active_role == Some(Role::Manager) => {
            users::change_role(turn.conn, id, Role::Manager, Role::Owner, now)?.then(|| Change {
                action: "user.promoted",
                data: json!({ "from": Role::Manager, "to": Role::Owner }),
                notice_key: "adm.notice.promoted",
                done_key: "adm.done.promoted",
            })
        }
        UserAction::Demote if active_role == Some(Role::Owner) => {
            users::change_role(turn.conn, id, Role::Owner, Role::Manager, now)?.then(|| Change {
                action: "user.demoted",
                data: json!({ "from": Role::Owner, "to": Role::Manager }),
                notice_key: "adm.notice.demoted",
                done_key: "adm.done.demoted",
            })
        }
        UserAction::GrantAdmin if target.is_active() && !target.is_admin => {
            users::grant_admin(turn.conn, id, now)?.then(|| Change {
                action: "user.admin_granted",
                data: json!({ "is_admin": true }),
                notice_key: "adm.notice.admin_granted",
                done_key: "adm.done.admin_granted",
            })
        }
        UserAction::RevokeAdmin | UserAction::Remove | UserAction::ConfirmRemove if last_admin => {
            let text = t(language, "adm.last_admin", &[]);
            let message = card_message(turn, actor, &target, back_to, Some(text))?;
            turn.show(actor, message)?;
            return Ok(Some(t(language, "adm.toast.last_admin", &[])));
        }
        UserAction::RevokeAdmin if target.is_active() && target.is_admin => {
            users::revoke_admin(turn.conn, id, now)?.then(|| Change {
                action: "user.admin_revoked",
                data: json!({ "is_admin": false }),
                notice_key: "adm.notice.admin_revoked",
                done_key: "adm.done.admin_revoked",
            })
        }
        UserAction::Remove if target.status != Status::Removed => {
            return confirm_removal(turn, actor, &target, back_to);
        }
        UserAction::ConfirmRemove if target.status != Status::Removed => {
            users::remove(turn.conn, id, target.status, now)?.then(|| Change {
                action: "user.removed",
                data: json!({ "from": target.status }),
                notice_key: "adm.notice.removed",
                done_key: "adm.done.removed",
            })
        }
        _ => None,
    };
    let Some(change) = change else {
        // The card was older than the target's state (or a second press).
        let target = users::get(turn.conn, id)?;
        let text = t(language, "adm.outdated", &[]);
        let message = card_message(turn, actor, &target, back_to, Some(text))?;
        turn.show(actor, message)?;
        return Ok(outdated_toast(actor, "a user action that no longer fits"));
    };
    let audit_id = turn.audit(actor, change.action, Some(id), change.data)?;
    let changed = users::get(turn.conn, id)?;
    if change.action == "user.removed" {
        dialogues::clear(turn.conn, changed.telegram_id)?;
    }
    turn.set_menu(&changed);
    if changed.id != admin.id {
        turn.notify(Notice {
            chat_id: changed.telegram_id.0,
            recipient: Some(changed.id),
            kind: change.action,
            message: OutgoingMessage::text(t(changed.language, change.notice_key, &[])),
            dedupe_key: format!("{}:{}:{audit_id}", change.action, changed.id),
        })?;
    }
    let done = t(language, change.done_key, &[("name", &changed.full_name())]);
    let still_admin = changed.id != admin.id || (changed.is_active() && changed.is_admin);
    if still_admin {
        let message = card_message(turn, actor, &changed, back_to, Some(done))?;
        turn.show(actor, message)?;
    } else {
        // The admin gave up their own rights: no panel any more.
        let text = format!("{done}\n\n{}", t(language, "adm.self_no_longer_admin", &[]));
        turn.show(actor, OutgoingMessage::text(text))?;
    }
    Ok(Some(t(language, "adm.toast.done", &[])))
}

/// Whether `target` is the only active admin (who may not step down).
fn is_last_admin(turn: &mut Turn<'_>, target: &User) -> Result<bool, DbError> {
    Ok(target.is_active()
        && target.is_admin
        && users::count_other_active_admins(turn.conn, target.id)? == 0)
}

/// "Remove X?" with Yes / No.
fn confirm_removal(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    target: &User,
    back_to: ListView,
) -> Result<Option<String>, DbError> {
    let language = actor.language;
    let text = t(
        language,
        "adm.remove.confirm",
        &[("name", &target.full_name())],
    );
    let buttons = vec![
        vec![button(
            t(language, "adm.remove.yes", &[]),
            AdminCallback::Act {
                action: UserAction::ConfirmRemove,
                user: target.id,
                back: back_to,
            },
        )],
        vec![button(
            t(language, "adm.remove.no", &[]),
            AdminCallback::User {
                user: target.id,
                back: back_to,
            },
        )],
    ];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))?;
    Ok(None)
}

/// "Anna Smith" with a sign for the role or status and the admin flag.
fn user_label(user: &User) -> String {
    let sign = match (user.status, user.role) {
        (Status::Active, Some(Role::Owner)) => "👑",
        (Status::Active, _) => "👤",
        (Status::Pending, _) => "⏳",
        (Status::Rejected, _) => "🚫",
        (Status::Removed, _) => "⛔",
    };
    let admin = if user.is_admin && user.is_active() {
        " 🛡"
    } else {
        ""
    };
    format!("{sign} {}{admin}", short(&user.full_name(), 40))
}

fn department_label(
    language: Language,
    all: &[Department],
    department: Option<DepartmentId>,
) -> String {
    match department {
        None => t(language, "adm.users.any", &[]),
        Some(id) => all
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| "—".to_owned(), |d| d.name.clone()),
    }
}

/// A department's name on a button, marked when retired.
pub(super) fn department_button_label(language: Language, department: &Department) -> String {
    let name = short(&department.name, 30);
    if department.retired_at.is_some() {
        t(language, "adm.deps.retired_label", &[("name", &name)])
    } else {
        name
    }
}

fn role_filter_label(language: Language, role: Option<Role>) -> String {
    match role {
        None => t(language, "adm.users.any", &[]),
        Some(role) => role_label(language, Some(role)),
    }
}

fn status_filter_label(language: Language, status: Option<Status>) -> String {
    match status {
        None => t(language, "adm.users.any", &[]),
        Some(status) => status_label(language, status),
    }
}

pub(super) fn role_label(language: Language, role: Option<Role>) -> String {
    let key = match role {
        None => return "—".to_owned(),
        Some(Role::Manager) => "adm.role.manager",
        Some(Role::Owner) => "adm.role.owner",
    };
    t(language, key, &[])
}

pub(super) fn status_label(language: Language, status: Status) -> String {
    let key = match status {
        Status::Pending => "adm.status.pending",
        Status::Active => "adm.status.active",
        Status::Rejected => "adm.status.rejected",
        Status::Removed => "adm.status.removed",
    };
    t(language, key, &[])
}

fn work_status_label(language: Language, status: WorkStatus) -> String {
    let key = match status {
        WorkStatus::Working => "adm.work.working",
        WorkStatus::Vacation => "adm.work.vacation",
        WorkStatus::SickLeave => "adm.work.sick_leave",
        WorkStatus::BusinessTrip => "adm.work.business_trip",
    };
    t(language, key, &[])
}

fn language_label(language: Language) -> &'static str {
    match language {
        Language::Ru => "Русский",
        Language::En => "English",
    }
}
