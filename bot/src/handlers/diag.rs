//! `/diag`, for active admins: the bot only records the request (audited
//! for repairs) and says it is on its way; the worker runs the checks —
//! a reply never waits for an outside call — and sends the report in the
//! admin's language, with a button for the full report and one per safe
//! repair. A repair is confirmed first, made by the worker only if a fresh
//! run still offers it, and reported with the checks run again.
//!
//! ```text
//! admin: /diag
//! bot:   🩺 Running the diagnostics…
//! bot:   ❌ Diagnosis (quick): failing, 412 ms                   (via the worker)
//!        Root cause (95 %): Webhook set while polling. …
//!        ✅ configuration — …  ❌ telegram — …
//!        [📋 Full report] [🔧 delete the webhook that blocks polling]
//! admin: (presses 🔧)  bot: Make this repair? … [✅ Yes, do it]
//! admin: (presses ✅)  bot: 🔧 Repairing; the result follows.
//! ```

use serde_json::json;
use shared::db::DbError;
use shared::db::diagnostics::request_diagnosis;
use shared::db::users::User;
use shared::diagnostics::Repair;
use shared::diagnostics::callback::DiagCallback;
use shared::diagnostics::render::{self, Target};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, Turn, callbacks};

/// The actor's row if they are an active admin right now.
fn current_admin(actor: &Actor<'_>) -> Option<User> {
    actor
        .user
        .as_ref()
        .filter(|user| user.is_active() && user.is_admin)
        .cloned()
}

/// `/diag`.
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let Some(admin) = current_admin(actor) else {
        let text = t(actor.language, "diag.only_admins", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    request(turn, actor, &admin, "quick", None)?;
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "diag.running", &[])),
    )
}

/// A press on a `dg:` button; `data` is what follows the prefix.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(admin) = current_admin(actor) else {
        return callbacks::refused(turn, actor, "a /diag button pressed by a non-admin");
    };
    let Some(callback) = DiagCallback::parse(data) else {
        return callbacks::stale(turn, actor, "diag callback data that does not parse");
    };
    match callback {
        DiagCallback::Full => {
            request(turn, actor, &admin, "full", None)?;
            Ok(Some(t(actor.language, "diag.running", &[])))
        }
        DiagCallback::Ask(repair) => {
            let what = render::text(actor.language, Target::Plain, &repair.describe());
            let text = t(actor.language, "diag.confirm", &[("repair", &what)]);
            let button = Button::new(
                t(actor.language, "diag.button.confirm", &[]),
                DiagCallback::Confirm(repair).data(),
            );
            turn.reply(
                actor,
                OutgoingMessage::with_buttons(text, vec![vec![button]]),
            )?;
            Ok(None)
        }
        DiagCallback::Confirm(repair) => {
            request(turn, actor, &admin, "fix", Some(repair))?;
            Ok(Some(t(actor.language, "diag.fix.requested", &[])))
        }
    }
}

/// Records the request for the worker (and audits a repair request).
fn request(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    admin: &User,
    kind: &str,
    repair: Option<Repair>,
) -> Result<(), DbError> {
    let id = request_diagnosis(
        turn.conn,
        admin.id,
        actor.telegram_id.0,
        kind,
        repair.map(Repair::id),
        &turn.ctx.correlation_id,
        turn.ctx.now,
    )?;
    if let Some(repair) = repair {
        turn.audit_about(
            actor,
            "diag.repair_requested",
            None,
            Some(format!("diag_request:{id}")),
            json!({ "repair": repair.id() }),
        )?;
    }
    tracing::info!(request = id, kind, "diagnostics requested");
    Ok(())
}
