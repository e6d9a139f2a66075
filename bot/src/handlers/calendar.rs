//! `/calendar`: an owner (or, optionally, a manager) connects their Google
//! Calendar. The screen shows the status — not connected, connected as
//! whom, broken — with a consent link (a URL button to Google: code +
//! PKCE, a random single-use `state` bound to the person, 10 minutes) and
//! Disconnect. Google sends the browser back to the bot's HTTP callback
//! (`crate::oauth_callback`), which finishes the connection and tells the
//! chat.
//!
//! ```text
//! owner: /calendar
//! bot:   📅 Google Calendar: not connected. …  [🔗 Connect Google Calendar](https://accounts.google.com/…)
//! owner: (signs in at Google, allows access; the browser shows "Calendar connected")
//! bot:   ✅ Calendar connected: ann@example.com
//! owner: /calendar
//! bot:   📅 Google Calendar: ✅ connected as ann@example.com  [🔌 Disconnect]
//! owner: (presses Disconnect)   → Disconnect Google Calendar ann@example.com?  [🔌 Yes, disconnect] [⬅️ Back]
//! owner: (presses Yes)          → 🔌 … disconnected: access revoked, tokens deleted. 📅 … not connected …
//! ```
//!
//! Every command and press re-checks that the caller is an active owner or
//! manager. The revocation at Google runs beside the reply, never before
//! it: a reply does not wait for Google.

use serde_json::json;
use shared::db::DbError;
use shared::db::google_connections::{self, ConnectionKind, GoogleConnection};
use shared::db::oauth_states::{self, NewOAuthState};
use shared::db::users::User;
use shared::domain::user::Role;
use shared::google::ExposeSecret;
use shared::google::crypto::{TokenCipher, state_hash};
use shared::google::oauth::GoogleOAuth;
use shared::google::tokens::{self, pkce_context};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, Turn, callbacks};

/// What connecting a calendar needs from the settings: the OAuth client
/// and the key for tokens at rest. Absent when Google is not configured.
#[derive(Debug, Clone)]
pub(crate) struct CalendarSetup {
    pub oauth: GoogleOAuth,
    pub cipher: TokenCipher,
}

/// Button data after the `cal:` prefix.
const SHOW: &str = "show";
const ASK_DISCONNECT: &str = "ask_off";
const DISCONNECT: &str = "off";

/// The caller's row if they may connect a calendar now: an active owner
/// or manager.
fn person(actor: &Actor<'_>) -> Option<User> {
    actor
        .active_as(Role::Owner)
        .or_else(|| actor.active_as(Role::Manager))
}

/// `/calendar` (the router lets only active users in).
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let Some(user) = person(actor) else {
        let text = t(actor.language, "calendar.owners_managers_only", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    let message = status_screen(turn, actor, &user, None)?;
    turn.reply(actor, message)
}

/// A press on a `cal:` button; `data` is what follows the prefix. Returns
/// the toast.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(user) = person(actor) else {
        return callbacks::refused(turn, actor, "calendar button of a non-owner, non-manager");
    };
    match data {
        SHOW => {
            let message = status_screen(turn, actor, &user, None)?;
            turn.show(actor, message)?;
            Ok(None)
        }
        ASK_DISCONNECT => ask_disconnect(turn, actor, &user),
        DISCONNECT => disconnect(turn, actor, &user),
        _ => callbacks::stale(turn, actor, "calendar button data that does not parse"),
    }
}

/// The status with the buttons that fit; `note` (what just happened) on
/// top. A consent link is made anew each time it is shown.
fn status_screen(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = user.language;
    let with_note = |text: String| match &note {
        Some(note) => format!("{note}\n\n{text}"),
        None => text,
    };
    let Some(setup) = turn.ctx.calendar.clone() else {
        let text = t(language, "calendar.not_configured", &[]);
        return Ok(OutgoingMessage::text(with_note(text)));
    };
    let why_key = if user.role == Some(Role::Owner) {
        "calendar.why.owner"
    } else {
        "calendar.why.manager"
    };
    let why = t(language, why_key, &[]);
    let connection = google_connections::find(turn.conn, user.id)?;
    let disconnect = || {
        Button::new(
            t(language, "calendar.button.disconnect", &[]),
            format!("cal:{ASK_DISCONNECT}"),
        )
    };
    let hint = t(language, "calendar.link_hint", &[]);
    let (text, buttons) = match &connection {
        Some(c) if c.kind == ConnectionKind::ServiceAccount => (
            t(
                language,
                "calendar.status.service_account",
                &[("calendar", &c.calendar_id)],
            ),
            Vec::new(),
        ),
        Some(c) if c.is_active() => (
            format!(
                "{}\n\n{why}",
                t(
                    language,
                    "calendar.status.connected",
                    &[("email", email_of(c))]
                )
            ),
            vec![vec![disconnect()]],
        ),
        Some(c) => {
            let text = t(
                language,
                "calendar.status.broken",
                &[("email", email_of(c))],
            );
            let mut buttons = Vec::new();
            if let Some(url) = consent_link(turn, actor, &setup, user)? {
                let label = t(language, "calendar.button.reconnect", &[]);
                buttons.push(vec![Button::link(label, url)]);
            }
            buttons.push(vec![disconnect()]);
            (format!("{text}\n\n{why}\n\n{hint}"), buttons)
        }
        None => {
            let text = t(language, "calendar.status.none", &[]);
            let mut buttons = Vec::new();
            if let Some(url) = consent_link(turn, actor, &setup, user)? {
                let label = t(language, "calendar.button.connect", &[]);
                buttons.push(vec![Button::link(label, url)]);
            }
            (format!("{text}\n\n{why}\n\n{hint}"), buttons)
        }
    };
    Ok(OutgoingMessage::with_buttons(with_note(text), buttons))
}

fn email_of(connection: &GoogleConnection) -> &str {
    connection
        .google_email
        .as_deref()
        .unwrap_or(&connection.calendar_id)
}

/// A fresh consent link for `user`: its `state` stored as a hash, bound to
/// them, single use, 10 minutes; the PKCE verifier stored encrypted.
/// `None` (and a log line) if the verifier cannot be encrypted.
fn consent_link(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    setup: &CalendarSetup,
    user: &User,
) -> Result<Option<String>, DbError> {
    let link = setup.oauth.consent_link(user.email.as_deref());
    let hash = state_hash(link.state.expose_secret());
    let verifier_enc = match setup
        .cipher
        .encrypt(link.pkce_verifier.expose_secret(), &pkce_context(&hash))
    {
        Ok(encrypted) => encrypted,
        Err(error) => {
            tracing::error!(%error, "cannot encrypt a PKCE verifier; no consent link shown");
            return Ok(None);
        }
    };
    oauth_states::insert(
        turn.conn,
        &NewOAuthState {
            state_hash: &hash,
            user: user.id,
            pkce_verifier_enc: &verifier_enc,
            key_id: setup.cipher.key_id(),
        },
        turn.ctx.now,
    )?;
    turn.audit(
        actor,
        "calendar.consent_requested",
        Some(user.id),
        json!({ "expires_in_minutes": oauth_states::STATE_LIFETIME.num_minutes() }),
    )?;
    Ok(Some(link.url))
}

/// "Disconnect …?" with Yes and Back.
fn ask_disconnect(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    let connection = google_connections::find(turn.conn, user.id)?;
    let Some(connection) = connection.filter(|c| c.kind == ConnectionKind::Oauth) else {
        let message = status_screen(turn, actor, user, None)?;
        turn.show(actor, message)?;
        return Ok(Some(t(language, "calendar.toast.nothing_connected", &[])));
    };
    let text = t(
        language,
        "calendar.confirm_disconnect",
        &[("email", email_of(&connection))],
    );
    let buttons = vec![vec![
        Button::new(
            t(language, "calendar.button.confirm_disconnect", &[]),
            format!("cal:{DISCONNECT}"),
        ),
        Button::new(
            t(language, "calendar.button.back", &[]),
            format!("cal:{SHOW}"),
        ),
    ]];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))?;
    Ok(None)
}

/// Forgets the connection (and its busy times), audits it, and revokes
/// the grant at Google beside the reply.
fn disconnect(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    let existing = google_connections::find(turn.conn, user.id)?;
    let Some(connection) = existing.filter(|c| c.kind == ConnectionKind::Oauth) else {
        let message = status_screen(turn, actor, user, None)?;
        turn.show(actor, message)?;
        return Ok(Some(t(language, "calendar.toast.nothing_connected", &[])));
    };
    let refresh_token = turn.ctx.calendar.as_deref().and_then(|setup| {
        tokens::stored_refresh_token(&setup.cipher, &connection)
            .inspect_err(|error| {
                tracing::warn!(%error, "stored token unreadable; nothing to revoke at Google");
            })
            .ok()
    });
    google_connections::delete(turn.conn, user.id)?;
    let email = email_of(&connection).to_owned();
    turn.audit(
        actor,
        "calendar.disconnected",
        Some(user.id),
        json!({ "email": email, "calendar_id": connection.calendar_id, "revoked": refresh_token.is_some() }),
    )?;
    // Revoked after commit (the poller's job), so a failed transaction
    // never leaves a revoked grant behind a stored connection.
    turn.effects.revocations.extend(refresh_token);
    let note = t(language, "calendar.disconnected", &[("email", &email)]);
    let message = status_screen(turn, actor, user, Some(note))?;
    turn.show(actor, message)?;
    Ok(Some(t(language, "calendar.toast.disconnected", &[])))
}
