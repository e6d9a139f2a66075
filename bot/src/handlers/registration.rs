//! The registration dialogue: load the state, take one step
//! (`shared::domain::registration`), save it, reply; at the end store the
//! applicant and pass the request to the admins.

use serde_json::json;
use shared::db::DbError;
use shared::db::departments::{self, Department};
use shared::db::types::DepartmentId;
use shared::db::users::{self, NewUser, Reapplication};
use shared::domain::registration::{
    Application, DepartmentPick, Input, MAX_NAME_CHARS, NameError, Problem, Registration,
    RegistrationCallback, Step,
};
use shared::domain::user::{Role, Status};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::dialogue::{self, Dialogue};
use super::{Actor, Turn, approval, callbacks, start};

/// Whether the actor may (re-)apply: no user row yet, or rejected.
pub(super) fn may_register(actor: &Actor<'_>) -> bool {
    matches!(actor.status(), None | Some(Status::Rejected))
}

/// The registration in progress, if the actor may register and has one.
pub(super) fn load(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
) -> Result<Option<Registration>, DbError> {
    if !may_register(actor) {
        return Ok(None);
    }
    Ok(match dialogue::load(turn, actor)? {
        Some(Dialogue::Registration(state)) => Some(state),
        _ => None,
    })
}

/// Starts a registration: with the welcome (`/start`) or just the first
/// question ("apply again").
pub(super) fn begin(turn: &mut Turn<'_>, actor: &Actor<'_>, welcome: bool) -> Result<(), DbError> {
    dialogue::save(
        turn,
        actor,
        &Dialogue::Registration(Registration::FirstName),
    )?;
    let text = if welcome {
        let key = if actor.bootstrap {
            "start.new_admin"
        } else {
            "start.new"
        };
        t(actor.language, key, &[("name", &actor.from.first_name)])
    } else {
        t(actor.language, "reg.ask_first_name", &[])
    };
    turn.reply(actor, OutgoingMessage::text(text))
}

/// Says the registration continues and asks its current question again.
pub(super) fn remind(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    state: &Registration,
) -> Result<(), DbError> {
    let prefix = t(actor.language, "reg.continue", &[]);
    let message = question(turn, actor, state, Some(prefix))?;
    turn.reply(actor, message)
}

/// Text typed while registering.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    state: Registration,
    text: &str,
) -> Result<(), DbError> {
    advance(turn, actor, state, Input::Text(text))
}

/// A department button (`reg:dept:<id>`), checked again here. Returns the
/// toast for the press.
pub(super) fn on_department(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    id: DepartmentId,
) -> Result<Option<String>, DbError> {
    let Some(state) = load(turn, actor)? else {
        return callbacks::stale(turn, actor, "department button outside a registration");
    };
    let pick = match departments::find(turn.conn, id)? {
        Some(department) if department.retired_at.is_none() => DepartmentPick::Active(id),
        _ => DepartmentPick::Unavailable,
    };
    advance(turn, actor, state, Input::Department(pick))?;
    Ok(None)
}

/// "Apply again" (`reg:again`) under a rejection.
pub(super) fn apply_again(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
) -> Result<Option<String>, DbError> {
    if !may_register(actor) {
        return callbacks::stale(
            turn,
            actor,
            "apply-again button of someone who may not apply",
        );
    }
    match load(turn, actor)? {
        Some(state) => remind(turn, actor, &state)?,
        None => begin(turn, actor, false)?,
    }
    Ok(None)
}

fn advance(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    state: Registration,
    input: Input<'_>,
) -> Result<(), DbError> {
    match state.step(input) {
        Step::Continue { next, problem } => {
            dialogue::save(turn, actor, &Dialogue::Registration(next.clone()))?;
            let before = problem.map(|problem| problem_text(actor, problem));
            let message = question(turn, actor, &next, before)?;
            turn.reply(actor, message)
        }
        Step::Complete(application) => complete(turn, actor, application),
    }
}

/// The question `state` waits for, after an optional first paragraph.
fn question(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    state: &Registration,
    before: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = actor.language;
    let mut buttons = Vec::new();
    let text = match state {
        Registration::FirstName => t(language, "reg.ask_first_name", &[]),
        Registration::LastName { first_name } => t(
            language,
            "reg.ask_last_name",
            &[("first_name", first_name.as_str())],
        ),
        Registration::Department {
            first_name,
            last_name,
        } => {
            let departments = departments::list_active(turn.conn)?;
            if departments.is_empty() {
                t(language, "reg.no_departments", &[])
            } else {
                buttons = department_buttons(&departments);
                t(
                    language,
                    "reg.ask_department",
                    &[
                        ("last_name", last_name.as_str()),
                        ("first_name", first_name.as_str()),
                    ],
                )
            }
        }
    };
    let text = match before {
        Some(before) => format!("{before}\n\n{text}"),
        None => text,
    };
    Ok(OutgoingMessage::with_buttons(text, buttons))
}

/// Two department buttons per row.
fn department_buttons(departments: &[Department]) -> Vec<Vec<Button>> {
    departments
        .chunks(2)
        .map(|row| {
            row.iter()
                .map(|d| Button {
                    text: d.name.clone(),
                    data: RegistrationCallback::Department(d.id).data(),
                    url: None,
                })
                .collect()
        })
        .collect()
}

fn problem_text(actor: &Actor<'_>, problem: Problem) -> String {
    let language = actor.language;
    match problem {
        Problem::Name(NameError::Empty) => t(language, "reg.error.empty", &[]),
        Problem::Name(NameError::TooLong { chars }) => t(
            language,
            "reg.error.too_long",
            &[
                ("count", &chars.to_string()),
                ("max", &MAX_NAME_CHARS.to_string()),
            ],
        ),
        Problem::Name(NameError::ControlCharacters) => t(language, "reg.error.control", &[]),
        Problem::DepartmentUnavailable => t(language, "reg.error.department_unavailable", &[]),
        Problem::UseButtons => t(language, "reg.error.use_buttons", &[]),
        Problem::UnexpectedButton => t(language, "reg.error.unexpected_button", &[]),
    }
}

/// Everything collected: the newcomer becomes pending (a bootstrap admin:
/// an active owner and admin), and the admins get the request.
fn complete(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    application: Application,
) -> Result<(), DbError> {
    dialogue::clear(turn, actor)?;
    let Some(department) = departments::find(turn.conn, application.department_id)? else {
        // Checked by the caller in this transaction; kept total anyway.
        return start::start(turn, actor);
    };
    let bootstrap = actor.bootstrap;
    let (status, role) = if bootstrap {
        (Status::Active, Some(Role::Owner))
    } else {
        (Status::Pending, None)
    };
    let reapplied = actor.user.is_some();
    let user = match &actor.user {
        None => users::insert(
            turn.conn,
            &NewUser {
                telegram_id: actor.telegram_id,
                username: actor.from.username.clone(),
                first_name: application.first_name.to_string(),
                last_name: application.last_name.to_string(),
                department_id: Some(department.id),
                status,
                role,
                is_admin: bootstrap,
                language: actor.language,
                time_zone: turn.ctx.company_zone.name().to_owned(),
            },
            turn.ctx.now,
        )?,
        Some(existing) => {
            let reapplication = Reapplication {
                username: actor.from.username.clone(),
                first_name: application.first_name.to_string(),
                last_name: application.last_name.to_string(),
                department_id: department.id,
                status,
                role,
                is_admin: bootstrap || existing.is_admin,
            };
            if !users::reapply(turn.conn, existing.id, &reapplication, turn.ctx.now)? {
                // No longer rejected (removed meanwhile): nothing to apply to.
                callbacks::stale(
                    turn,
                    actor,
                    "registration finished by someone who may not apply",
                )?;
                return Ok(());
            }
            users::get(turn.conn, existing.id)?
        }
    };
    let actor = Actor {
        user: Some(user.clone()),
        ..*actor
    };
    let action = if bootstrap {
        "user.bootstrap_admin"
    } else {
        users::APPLICATION_ACTION
    };
    let round = turn.audit(
        &actor,
        action,
        Some(user.id),
        json!({
            "first_name": user.first_name,
            "last_name": user.last_name,
            "department_id": department.id,
            "department": department.name,
            "status": user.status,
            "role": user.role,
            "is_admin": user.is_admin,
            "reapplied": reapplied,
        }),
    )?;
    turn.set_menu(&user);
    if bootstrap {
        let text = t(
            actor.language,
            "reg.bootstrap_done",
            &[("name", &user.full_name())],
        );
        return turn.reply(&actor, OutgoingMessage::text(text));
    }
    let text = t(
        actor.language,
        "reg.sent",
        &[
            ("department", &department.name),
            ("name", &user.full_name()),
        ],
    );
    turn.reply(&actor, OutgoingMessage::text(text))?;
    approval::notify_admins(turn, &user, &department.name, round)?;
    Ok(())
}
