//! Approval: the request every admin gets, and the Approve / Reject buttons
//! in it. Every press is checked again here: the presser must (still) be
//! allowed to decide, the applicant must still be pending with the same
//! application, and the change is a conditional update, so a second press
//! — by the same or another admin — changes nothing.

use serde_json::json;
use shared::db::DbError;
use shared::db::types::{AuditId, TelegramId, UserId};
use shared::db::users::{self, User};
use shared::domain::registration::{self, Authority, Decision, RegistrationCallback};
use shared::domain::user::{Language, Role, Status};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, Notice, Turn, callbacks, start};

/// Everyone who gets registration notices: active admins, and bootstrap
/// admins who are active or not registered yet (they can decide once they
/// have), never `except` (the newcomer themself). With each, their row.
fn admins(turn: &mut Turn<'_>, except: TelegramId) -> Result<Vec<(i64, Option<User>)>, DbError> {
    let mut recipients: Vec<(i64, Option<User>)> = users::active_admins(turn.conn)?
        .into_iter()
        .map(|admin| (admin.telegram_id.0, Some(admin)))
        .collect();
    let bootstrap: Vec<TelegramId> = turn
        .ctx
        .bootstrap_admins
        .iter()
        .map(|&id| TelegramId(id))
        .collect();
    let registered = users::find_by_telegram_ids(turn.conn, &bootstrap)?;
    for id in bootstrap {
        if recipients.iter().any(|(known, _)| *known == id.0) {
            continue;
        }
        match registered.iter().find(|user| user.telegram_id == id) {
            None => recipients.push((id.0, None)),
            Some(user) if user.is_active() => recipients.push((id.0, Some(user.clone()))),
            Some(_) => {}
        }
    }
    recipients.retain(|(id, _)| *id != except.0);
    Ok(recipients)
}

/// An admin's language; Russian for a bootstrap admin without a row.
fn language_of(admin: Option<&User>) -> Language {
    admin.map_or(Language::Ru, |a| a.language)
}

fn username_of(username: Option<&str>) -> String {
    username.map_or_else(|| "—".to_owned(), |u| format!("@{u}"))
}

/// Tells the admins that a newcomer started the bot (once per newcomer and
/// admin, however often they press /start); their request follows.
pub(super) fn notify_admins_of_newcomer(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
) -> Result<(), DbError> {
    let from = actor.from;
    let name = match &from.last_name {
        Some(last) => format!("{} {last}", from.first_name),
        None => from.first_name.clone(),
    };
    let username = username_of(from.username.as_deref());
    let mut queued = 0;
    for (chat_id, admin) in admins(turn, actor.telegram_id)? {
        let text = t(
            language_of(admin.as_ref()),
            "admin.new_user",
            &[
                ("telegram_id", &actor.telegram_id.to_string()),
                ("username", &username),
                ("name", &name),
            ],
        );
        let notice = Notice {
            chat_id,
            recipient: admin.as_ref().map(|a| a.id),
            kind: "admin.new_user",
            message: OutgoingMessage::text(text),
            dedupe_key: format!("new-user:{}:{chat_id}", actor.telegram_id),
        };
        if turn.notify(notice)? {
            queued += 1;
        }
    }
    if queued > 0 {
        turn.audit(
            actor,
            "user.first_contact",
            None,
            json!({ "notified_admins": queued }),
        )?;
    }
    Ok(())
}

/// Queues the request of `applicant` (application `round`) with Approve /
/// Reject buttons to every admin. Returns how many were queued.
pub(super) fn notify_admins(
    turn: &mut Turn<'_>,
    applicant: &User,
    department: &str,
    round: AuditId,
) -> Result<usize, DbError> {
    let username = username_of(applicant.username.as_deref());
    let mut queued = 0;
    for (chat_id, admin) in admins(turn, applicant.telegram_id)? {
        let language = language_of(admin.as_ref());
        let text = t(
            language,
            "admin.application",
            &[
                ("telegram_id", &applicant.telegram_id.to_string()),
                ("department", department),
                ("username", &username),
                ("name", &applicant.full_name()),
            ],
        );
        let button = |decision, key| Button {
            text: t(language, key, &[]),
            data: RegistrationCallback::Decide {
                decision,
                user: applicant.id,
                round,
            }
            .data(),
            url: None,
        };
        let message = OutgoingMessage::with_buttons(
            text,
            vec![vec![
                button(Decision::Approve, "admin.approve"),
                button(Decision::Reject, "admin.reject"),
            ]],
        );
        let notice = Notice {
            chat_id,
            recipient: admin.as_ref().map(|a| a.id),
            kind: "admin.application",
            message,
            dedupe_key: format!("application:{}:{round}:{chat_id}", applicant.id),
        };
        if turn.notify(notice)? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// An Approve / Reject press (`appr:<user>:<round>`, `rej:<user>:<round>`).
/// Returns the toast.
pub(super) fn on_decide(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    decision: Decision,
    target: UserId,
    round: AuditId,
) -> Result<Option<String>, DbError> {
    let language = actor.language;
    let admin = match (
        registration::authority(
            actor.status(),
            actor.user.as_ref().is_some_and(|u| u.is_admin),
            actor.bootstrap,
        ),
        &actor.user,
    ) {
        (Authority::Allowed, Some(admin)) => admin,
        (Authority::RegisterFirst, _) => {
            let text = t(language, "approval.register_first", &[]);
            turn.reply(actor, OutgoingMessage::text(text))?;
            return Ok(Some(t(language, "not_allowed", &[])));
        }
        _ => return callbacks::refused(turn, actor, "a decision by someone who may not decide"),
    };
    let Some(target) = users::find(turn.conn, target)? else {
        return callbacks::stale(turn, actor, "a decision on an unknown user");
    };
    match target.status {
        Status::Pending => {}
        Status::Active | Status::Rejected => return already_decided(turn, actor, &target),
        Status::Removed => return callbacks::stale(turn, actor, "a decision on a removed user"),
    }
    if users::application_round(turn.conn, target.id)? != Some(round) {
        return callbacks::stale(turn, actor, "a decision on an earlier application");
    }
    let (to, role, action, toast, confirmation) = match decision {
        Decision::Approve => (
            Status::Active,
            Some(Role::Manager),
            "user.approved",
            "approval.toast.approved",
            "approval.approved",
        ),
        Decision::Reject => (
            Status::Rejected,
            None,
            "user.rejected",
            "approval.toast.rejected",
            "approval.rejected",
        ),
    };
    let changed = users::decide(
        turn.conn,
        target.id,
        Status::Pending,
        to,
        role,
        Some(admin.id),
        turn.ctx.now,
    )?;
    if !changed {
        // Another admin's decision committed first.
        let target = users::get(turn.conn, target.id)?;
        return already_decided(turn, actor, &target);
    }
    turn.audit(
        actor,
        action,
        Some(target.id),
        json!({ "status": to, "role": role, "application": round }),
    )?;
    let decided = users::get(turn.conn, target.id)?;
    tell_applicant(turn, &decided, decision, round)?;
    turn.set_menu(&decided);
    // The request becomes the record of the decision, without its buttons.
    let text = t(language, confirmation, &[("name", &target.full_name())]);
    turn.show(actor, OutgoingMessage::text(text))?;
    Ok(Some(t(language, toast, &[])))
}

/// Queues the outcome to the applicant, in their language.
fn tell_applicant(
    turn: &mut Turn<'_>,
    applicant: &User,
    decision: Decision,
    round: AuditId,
) -> Result<(), DbError> {
    let language = applicant.language;
    let (kind, message) = match decision {
        Decision::Approve => (
            "user.approved",
            OutgoingMessage::text(t(language, "user.approved", &[])),
        ),
        Decision::Reject => (
            "user.rejected",
            start::apply_again(t(language, "user.rejected", &[]), language),
        ),
    };
    turn.notify(Notice {
        chat_id: applicant.telegram_id.0,
        recipient: Some(applicant.id),
        kind,
        message,
        dedupe_key: format!("decision:{}:{round}", applicant.id),
    })?;
    Ok(())
}

/// A press on a request decided before: say by whom; change nothing.
fn already_decided(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    target: &User,
) -> Result<Option<String>, DbError> {
    let language = actor.language;
    let admin = match target.decided_by {
        Some(id) => users::find(turn.conn, id)?.map(|admin| admin.full_name()),
        None => None,
    }
    .unwrap_or_else(|| t(language, "approval.someone", &[]));
    let key = if target.status == Status::Active {
        "approval.already_approved"
    } else {
        "approval.already_rejected"
    };
    let text = t(
        language,
        key,
        &[("admin", &admin), ("name", &target.full_name())],
    );
    turn.show(actor, OutgoingMessage::text(text))?;
    Ok(Some(t(language, "approval.toast.already", &[])))
}
