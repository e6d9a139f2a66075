//! Self-service: `/profile` (name, role, department, email, language, time
//! zone and, for managers, the work status with its "until" date) and
//! `/language`. Everything but the role can be changed here. The profile
//! is one message that changes in place; every press and every typed answer
//! re-checks who the caller is now, and a change is written with its audit
//! row only when something changes.
//!
//! ```text
//! manager: /profile
//! bot:     👤 Your profile … Email: not set …   [✏️ Name] [🏢 Department]
//!                                               [✉️ Email] [🌐 Language] [🕒 Time zone] [📍 Status]
//! manager: (presses ✉️ Email)                   → the message asks for the address
//! manager: anna@@example.com
//! bot:     ⚠️ An email address has exactly one @ … Please send the address again
//! manager: Anna@Example.com
//! bot:     ✅ Email saved: Anna@example.com  👤 Your profile …
//! manager: (presses ✏️ Name)                    → What is your first name?
//! manager: Анна
//! bot:     Thank you, Анна. And your last name?
//! manager: (5,000 characters)
//! bot:     ⚠️ The name is too long … Please send your last name again
//! manager: Смирнова
//! bot:     ✅ Name: Анна Смирнова.  👤 Your profile …
//! ```
//!
//! The rules (what an address, a zone name or a date is; the button data)
//! live in `shared::domain::profile`.

mod department;
mod email;
mod language;
mod name;
mod view;
mod work_status;
mod zone;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::db::DbError;
use shared::db::users::{self, User};
use shared::domain::profile::{ProfileCallback, stored_zone};
use shared::domain::registration::PersonName;
use shared::domain::user::{Status, WorkStatus};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::dialogue::{self, Dialogue};
use super::{Actor, Turn, callbacks, start};

/// Text the profile waits for. Stored as `{"profile":"email"}`,
/// `{"profile":"zone"}`, `{"profile":"until","status":"vacation"}`,
/// `{"profile":"first_name"}` or
/// `{"profile":"last_name","first_name":"Anna"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "profile", rename_all = "snake_case")]
pub(crate) enum ProfileInput {
    /// An email address.
    Email,
    /// An IANA time zone name.
    Zone,
    /// The last day of an absence with this status.
    Until { status: WorkStatus },
    /// A new first name.
    FirstName,
    /// A new last name, to go with the first name already typed.
    LastName { first_name: PersonName },
}

/// `/profile` (the router lets only active users in; checked again here).
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    match active_user(actor) {
        Some(user) => {
            let message = view::profile(turn, user, None)?;
            turn.reply(actor, message)
        }
        None => turn.reply(actor, start::status(actor)),
    }
}

/// `/language`: anyone may ask; see [`language`].
pub(super) fn language(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    language::command(turn, actor)
}

/// A press on a `prf:` button; `data` is what follows the prefix. Returns
/// the toast.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(press) = ProfileCallback::parse(data) else {
        return callbacks::stale(turn, actor, "unknown profile button data");
    };
    if let ProfileCallback::SetLanguage(language) = press {
        // Also offered by /language to users who are not active (yet).
        return language::on_choice(turn, actor, language);
    }
    let Some(user) = active_user(actor) else {
        return callbacks::refused(turn, actor, "profile button of a user who is not active");
    };
    let manager_only = matches!(
        press,
        ProfileCallback::WorkStatuses
            | ProfileCallback::PickWorkStatus(_)
            | ProfileCallback::AwayWithoutEnd(_)
    );
    if manager_only && !work_status::applies_to(user) {
        return callbacks::refused(turn, actor, "work status button of a non-manager");
    }
    if let ProfileCallback::SetDepartment(id) = press {
        // Checked before the question in progress is left: a department
        // that cannot be picked changes nothing.
        return department::pick(turn, actor, user, id);
    }
    // A press answers any question the profile was waiting for.
    leave_dialogue(turn, actor)?;
    match press {
        ProfileCallback::Menu => {
            let message = view::profile(turn, user, None)?;
            turn.show(actor, message)?;
            Ok(None)
        }
        ProfileCallback::Name => name::ask(turn, actor, user),
        ProfileCallback::Departments => department::choose(turn, actor, user),
        ProfileCallback::SetDepartment(id) => department::pick(turn, actor, user, id),
        ProfileCallback::Email => email::ask(turn, actor, user),
        ProfileCallback::RemoveEmail => email::remove(turn, actor, user),
        ProfileCallback::Languages => language::choose(turn, actor, user),
        ProfileCallback::SetLanguage(language) => language::on_choice(turn, actor, language),
        ProfileCallback::Zones => zone::choose(turn, actor, user),
        ProfileCallback::TypeZone => zone::ask(turn, actor, user),
        ProfileCallback::SetZone(zone) => zone::set(turn, actor, user, zone),
        ProfileCallback::WorkStatuses => work_status::choose(turn, actor, user),
        ProfileCallback::PickWorkStatus(status) => work_status::pick(turn, actor, user, status),
        ProfileCallback::AwayWithoutEnd(status) => {
            work_status::set(turn, actor, user, status, None)
        }
    }
}

/// Text while the profile waits for `input`.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: ProfileInput,
    text: &str,
) -> Result<(), DbError> {
    let Some(user) = active_user(actor) else {
        // No longer active since the question was asked.
        dialogue::clear(turn, actor)?;
        return turn.reply(actor, start::status(actor));
    };
    match input {
        ProfileInput::Email => email::on_text(turn, actor, user, text),
        ProfileInput::Zone => zone::on_text(turn, actor, user, text),
        ProfileInput::FirstName => name::on_first_name(turn, actor, user, text),
        ProfileInput::LastName { first_name } => {
            name::on_last_name(turn, actor, user, first_name, text)
        }
        ProfileInput::Until { status } if work_status::applies_to(user) => {
            work_status::on_until(turn, actor, user, status, text)
        }
        ProfileInput::Until { .. } => {
            // Became an owner since the question was asked.
            dialogue::clear(turn, actor)?;
            let message = view::profile(turn, user, None)?;
            turn.reply(actor, message)
        }
    }
}

/// The actor's row if they are active: only active users have a profile.
fn active_user<'a>(actor: &'a Actor<'_>) -> Option<&'a User> {
    actor.user.as_ref().filter(|u| u.status == Status::Active)
}

/// Forgets a profile question in progress (other dialogues stay).
fn leave_dialogue(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    if let Some(Dialogue::Profile(_)) = dialogue::load(turn, actor)? {
        dialogue::clear(turn, actor)?;
    }
    Ok(())
}

/// Asks the profile question `input`: the answer is the next text.
fn wait_for(turn: &mut Turn<'_>, actor: &Actor<'_>, input: ProfileInput) -> Result<(), DbError> {
    dialogue::save(turn, actor, &Dialogue::Profile(input))
}

/// The user's zone; the company zone if the stored name is unknown to
/// this build.
fn zone_of(turn: &Turn<'_>, user: &User) -> Tz {
    stored_zone(&user.time_zone, turn.ctx.company_zone)
}

/// After a change (or none): the fresh profile with `note` above it, in
/// place of the pressed message or as a reply to typed text. Returns the
/// toast for a press.
fn show_saved(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    note: String,
    changed: bool,
) -> Result<Option<String>, DbError> {
    let fresh = users::get(turn.conn, user.id)?;
    let message = view::profile(turn, &fresh, Some(note))?;
    turn.show(actor, message)?;
    let toast = if changed {
        "profile.toast.saved"
    } else {
        "profile.toast.unchanged"
    };
    Ok(Some(t(fresh.language, toast, &[])))
}

/// Records a change the user made to their own profile.
fn audit_change(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    action: &str,
    data: Value,
) -> Result<(), DbError> {
    turn.audit(actor, action, Some(user.id), data)?;
    Ok(())
}

/// A problem with typed text, then the question again.
fn problem(text: String, again: String) -> OutgoingMessage {
    OutgoingMessage::text(format!("{text}\n\n{again}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored form is what a restart reads back: the name questions
    /// keep the first name typed, and a stored name that breaks the rules
    /// is not taken.
    #[test]
    fn name_questions_are_stored_with_the_first_name() {
        let first_name = PersonName::parse("🌸 <b>Анна</b>").unwrap();
        let waiting = Dialogue::Profile(ProfileInput::LastName { first_name });
        let stored = serde_json::to_value(&waiting).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({ "profile": "last_name", "first_name": "🌸 <b>Анна</b>" })
        );
        assert_eq!(serde_json::from_value::<Dialogue>(stored).unwrap(), waiting);
        assert_eq!(
            serde_json::from_value::<Dialogue>(serde_json::json!({ "profile": "first_name" }))
                .unwrap(),
            Dialogue::Profile(ProfileInput::FirstName)
        );
        for bad in [
            serde_json::json!({ "profile": "last_name" }),
            serde_json::json!({ "profile": "last_name", "first_name": "" }),
            serde_json::json!({ "profile": "last_name", "first_name": "a\nb" }),
        ] {
            assert!(
                serde_json::from_value::<Dialogue>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
