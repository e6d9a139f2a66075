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
//! When a service account is configured, an owner may instead share a
//! calendar with it ("Use a shared calendar"): the bot shows the account's
//! address and waits for the calendar's ID (a dialogue, so a restart keeps
//! waiting); the ID is checked for form at once, and access is tested at
//! Google after commit, beside the reply ([`check_beside`]): the result —
//! a stored service-account connection, or what is wrong — follows as its
//! own message. Disconnecting it just forgets it (nothing to revoke).
//!
//! ```text
//! owner: /calendar → … [🤝 Use a shared calendar]
//! owner: (presses it) → Share it with robot@…iam.gserviceaccount.com … send the calendar's ID
//! owner: ann@example.com → ⏳ Checking access to ann@example.com…
//! bot:   ✅ Shared calendar ann@example.com connected.   (or: not shared / wrong ID; nothing stored)
//! ```
//!
//! Every command and press re-checks that the caller is an active owner or
//! manager. The revocation at Google and the access test run beside the
//! reply, never before it: a reply does not wait for Google.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::clock::Clock;
use shared::db::audit::{self, AuditEntry};
use shared::db::google_connections::{self, ConnectionKind, GoogleConnection};
use shared::db::oauth_states::{self, NewOAuthState};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{OutboxMessageId, TelegramId, UserId};
use shared::db::users::{self, User};
use shared::db::{Db, DbConn, DbError, dialogues};
use shared::domain::delivery::Lane;
use shared::domain::user::Role;
use shared::google::ExposeSecret;
use shared::google::calendar::{CalendarClient, CalendarError, ListQuery};
use shared::google::crypto::{TokenCipher, state_hash};
use shared::google::oauth::GoogleOAuth;
use shared::google::service_account::ServiceAccount;
use shared::google::tokens::{self, pkce_context};
use shared::i18n::t;
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;
use tracing::Instrument;

use super::dialogue::{self, Dialogue};
use super::{Actor, Turn, callbacks};

/// What connecting a calendar needs from the settings: the OAuth client
/// and the key for tokens at rest. Absent when Google is not configured.
#[derive(Debug, Clone)]
pub(crate) struct CalendarSetup {
    pub oauth: GoogleOAuth,
    pub cipher: TokenCipher,
}

/// What connecting a shared calendar needs: the deployment's service
/// account, and a Calendar client to test access with. Absent when no
/// service account is configured.
#[derive(Debug, Clone)]
pub(crate) struct SharedCalendars {
    pub account: ServiceAccount,
    pub calendar: CalendarClient,
}

/// What the bot waits for in the calendar dialogue; stored as
/// `{"calendar":"shared_calendar_id"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "calendar", rename_all = "snake_case")]
pub(crate) enum CalendarInput {
    /// The ID of a calendar the owner shared with the service account.
    SharedCalendarId,
}

/// An access test owed after commit: can the service account open
/// `calendar_id` for `user`?
#[derive(Debug, Clone)]
pub struct SharedCalendarCheck {
    user: UserId,
    telegram_id: TelegramId,
    calendar_id: String,
}

/// Button data after the `cal:` prefix.
const SHOW: &str = "show";
const ASK_DISCONNECT: &str = "ask_off";
const DISCONNECT: &str = "off";
const SHARED: &str = "shared";

/// Longest calendar ID taken (Google's are addresses: 254 at most).
const MAX_CALENDAR_ID: usize = 254;

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
        SHARED => ask_shared(turn, actor, &user),
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
    let setup = turn.ctx.calendar.clone();
    let shared = turn.ctx.shared_calendars.clone();
    // Without OAuth, only owners have something to connect (a shared
    // calendar); a connection made earlier is still shown.
    let connection = google_connections::find(turn.conn, user.id)?;
    let shared_for_owner = shared.is_some() && user.role == Some(Role::Owner);
    if setup.is_none() && !shared_for_owner && connection.is_none() {
        let text = t(language, "calendar.not_configured", &[]);
        return Ok(OutgoingMessage::text(with_note(text)));
    }
    // A shared calendar is offered to owners (it carries their meetings).
    let shared_button = shared_for_owner.then(|| {
        Button::new(
            t(language, "calendar.shared.button", &[]),
            format!("cal:{SHARED}"),
        )
    });
    let why_key = if user.role == Some(Role::Owner) {
        "calendar.why.owner"
    } else {
        "calendar.why.manager"
    };
    let why = t(language, why_key, &[]);
    let disconnect = || {
        Button::new(
            t(language, "calendar.button.disconnect", &[]),
            format!("cal:{ASK_DISCONNECT}"),
        )
    };
    let hint = t(language, "calendar.link_hint", &[]);
    let (text, buttons) = match &connection {
        // Busy times are read through the owner's own consent only, so the
        // general "why" would promise too much here.
        Some(c) if c.kind == ConnectionKind::ServiceAccount => (
            t(
                language,
                "calendar.status.service_account",
                &[("calendar", &c.calendar_id)],
            ),
            vec![vec![disconnect()]],
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
            let mut text = format!("{text}\n\n{why}");
            if let Some(setup) = &setup
                && let Some(url) = consent_link(turn, actor, setup, user)?
            {
                let label = t(language, "calendar.button.reconnect", &[]);
                buttons.push(vec![Button::link(label, url)]);
                text = format!("{text}\n\n{hint}");
            }
            buttons.extend(shared_button.map(|button| vec![button]));
            buttons.push(vec![disconnect()]);
            (text, buttons)
        }
        None => {
            let text = t(language, "calendar.status.none", &[]);
            let mut buttons = Vec::new();
            let mut text = format!("{text}\n\n{why}");
            if let Some(setup) = &setup
                && let Some(url) = consent_link(turn, actor, setup, user)?
            {
                let label = t(language, "calendar.button.connect", &[]);
                buttons.push(vec![Button::link(label, url)]);
                text = format!("{text}\n\n{hint}");
            }
            buttons.extend(shared_button.map(|button| vec![button]));
            (text, buttons)
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
    let Some(connection) = connection else {
        let message = status_screen(turn, actor, user, None)?;
        turn.show(actor, message)?;
        return Ok(Some(t(language, "calendar.toast.nothing_connected", &[])));
    };
    let text = match connection.kind {
        ConnectionKind::Oauth => t(
            language,
            "calendar.confirm_disconnect",
            &[("email", email_of(&connection))],
        ),
        ConnectionKind::ServiceAccount => t(
            language,
            "calendar.shared.confirm_disconnect",
            &[
                ("calendar", &connection.calendar_id),
                ("account", &account_email(turn)),
            ],
        ),
    };
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
    let Some(connection) = existing else {
        let message = status_screen(turn, actor, user, None)?;
        turn.show(actor, message)?;
        return Ok(Some(t(language, "calendar.toast.nothing_connected", &[])));
    };
    if connection.kind == ConnectionKind::ServiceAccount {
        return forget_shared(turn, actor, user, &connection);
    }
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

/// The service account's address, or `""` when none is configured any
/// more.
fn account_email(turn: &Turn<'_>) -> String {
    turn.ctx
        .shared_calendars
        .as_ref()
        .map(|shared| shared.account.email().to_owned())
        .unwrap_or_default()
}

/// Forgets a shared-calendar connection (and its busy times): nothing to
/// revoke, the calendar stays shared until its owner unshares it.
fn forget_shared(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    connection: &GoogleConnection,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    google_connections::delete(turn.conn, user.id)?;
    turn.audit(
        actor,
        "calendar.disconnected",
        Some(user.id),
        json!({ "kind": "service_account", "calendar_id": connection.calendar_id, "revoked": false }),
    )?;
    let note = t(
        language,
        "calendar.shared.disconnected",
        &[
            ("calendar", &connection.calendar_id),
            ("account", &account_email(turn)),
        ],
    );
    let message = status_screen(turn, actor, user, Some(note))?;
    turn.show(actor, message)?;
    Ok(Some(t(language, "calendar.toast.disconnected", &[])))
}

/// "Use a shared calendar": the service account's address, how to share,
/// and the dialogue waiting for the calendar's ID.
fn ask_shared(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    let Some(shared) = turn.ctx.shared_calendars.clone() else {
        let message = status_screen(turn, actor, user, None)?;
        turn.show(actor, message)?;
        return Ok(None);
    };
    if user.role != Some(Role::Owner) {
        let text = t(language, "calendar.shared.owners_only", &[]);
        return Ok(Some(text));
    }
    let connection = google_connections::find(turn.conn, user.id)?;
    if connection.is_some_and(|c| c.kind == ConnectionKind::Oauth && c.is_active()) {
        let note = t(language, "calendar.shared.oauth_connected", &[]);
        let message = status_screen(turn, actor, user, Some(note))?;
        turn.show(actor, message)?;
        return Ok(None);
    }
    dialogue::save(
        turn,
        actor,
        &Dialogue::Calendar(CalendarInput::SharedCalendarId),
    )?;
    let text = t(
        language,
        "calendar.shared.ask",
        &[("account", shared.account.email())],
    );
    turn.show(actor, OutgoingMessage::text(text))?;
    Ok(None)
}

/// The text of the calendar dialogue: a calendar ID. A malformed one is
/// explained and the dialogue keeps waiting; a plausible one is answered
/// "checking…" and tested at Google after commit.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: CalendarInput,
    text: &str,
) -> Result<(), DbError> {
    let CalendarInput::SharedCalendarId = input;
    let language = actor.language;
    let Some(owner) = actor.active_as(Role::Owner) else {
        dialogue::clear(turn, actor)?;
        let text = t(language, "calendar.shared.owners_only", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    let Some(shared) = turn.ctx.shared_calendars.clone() else {
        dialogue::clear(turn, actor)?;
        let text = t(language, "calendar.not_configured", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    let key = match calendar_id(text, shared.account.email()) {
        Ok(calendar_id) => {
            let reply = t(
                language,
                "calendar.shared.checking",
                &[("calendar", &calendar_id)],
            );
            turn.effects
                .shared_calendar_checks
                .push(SharedCalendarCheck {
                    user: owner.id,
                    telegram_id: owner.telegram_id,
                    calendar_id,
                });
            return turn.reply(actor, OutgoingMessage::text(reply));
        }
        Err(IdProblem::Malformed) => "calendar.shared.invalid_id",
        Err(IdProblem::OwnAccount) => "calendar.shared.own_account",
    };
    turn.reply(actor, OutgoingMessage::text(t(language, key, &[])))
}

/// Why a text is not taken as a calendar ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdProblem {
    Malformed,
    /// The service account's own address: its own calendar, which nobody
    /// else sees.
    OwnAccount,
}

/// The calendar ID in `text`, as Google spells IDs: an address
/// (`name@example.com`, `…@group.calendar.google.com`), lower case.
fn calendar_id(text: &str, account: &str) -> Result<String, IdProblem> {
    let id = text.trim().to_lowercase();
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._%+-@#".contains(c);
    let Some((local, domain)) = id.split_once('@') else {
        return Err(IdProblem::Malformed);
    };
    let well_formed = id.len() <= MAX_CALENDAR_ID
        && id.chars().all(allowed)
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    if !well_formed {
        return Err(IdProblem::Malformed);
    }
    if id.eq_ignore_ascii_case(account) {
        return Err(IdProblem::OwnAccount);
    }
    Ok(id)
}

/// What the access test found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Granted,
    /// Not shared with the account, or no such calendar (Google says 404
    /// for both, or 403).
    NotShared,
    /// Google refused the ID itself (400).
    InvalidCalendar,
    /// Google failed or did not answer: try again later.
    Unavailable,
    /// Google refused the service account's own token.
    AccountRefused,
}

/// Tests `check` at Google beside the poller (a reply never waits for
/// Google), then stores the connection or explains what is wrong, in a
/// message the worker delivers.
pub(crate) fn check_beside(
    shared: Arc<SharedCalendars>,
    db: Db,
    queue: Queue,
    clock: Clock,
    check: SharedCalendarCheck,
    correlation_id: String,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no runtime to test the shared calendar on");
        return;
    };
    runtime.spawn(
        async move {
            let access = probe(&shared, &check.calendar_id, clock.now()).await;
            tracing::info!(user = %check.user, ?access, "shared calendar access tested");
            let account = shared.account.email().to_owned();
            let now = clock.now();
            let correlation = correlation_id.clone();
            let recorded = db
                .write(move |c| record_check(c, &check, access, &account, &correlation, now))
                .await;
            match recorded {
                Ok(Some(message)) => {
                    DeliverMessage::push_after_commit(&queue, message, &correlation_id).await;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot record the shared calendar test");
                }
            }
        }
        .in_current_span(),
    );
}

/// Lists at most one event of the calendar with the service account's
/// token: what every later sync needs to work.
async fn probe(shared: &SharedCalendars, calendar_id: &str, now: DateTime<Utc>) -> Access {
    let token = match shared.account.access_token().await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, "no service-account token for the shared calendar test");
            return if error.is_retryable() {
                Access::Unavailable
            } else {
                Access::AccountRefused
            };
        }
    };
    let query = ListQuery::Full {
        time_min: now,
        time_max: now + TimeDelta::days(1),
    };
    let list = |token| {
        let query = &query;
        async move {
            shared
                .calendar
                .list_events(&token, calendar_id, query, None, Some(1))
                .await
        }
    };
    let mut answer = list(token.clone()).await;
    if matches!(answer, Err(CalendarError::Unauthorized)) {
        answer = match shared.account.refreshed_access_token(&token).await {
            Ok(fresh) => list(fresh).await,
            Err(error) => {
                tracing::warn!(%error, "no fresh service-account token");
                return Access::AccountRefused;
            }
        };
    }
    match answer {
        Ok(_) => Access::Granted,
        Err(CalendarError::NotFound | CalendarError::Forbidden(_)) => Access::NotShared,
        Err(CalendarError::BadRequest(_)) => Access::InvalidCalendar,
        Err(CalendarError::Unauthorized) => Access::AccountRefused,
        Err(error) => {
            tracing::warn!(%error, "shared calendar test failed");
            Access::Unavailable
        }
    }
}

/// In one transaction: if the owner still waits for this test (still an
/// active owner, still in the calendar dialogue), the connection stored
/// (when granted, and no own calendar got connected meanwhile) with an
/// audit row, the dialogue ended, and the message saying how it went.
fn record_check(
    conn: &mut DbConn,
    check: &SharedCalendarCheck,
    access: Access,
    account: &str,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let Some(owner) = users::find(conn, check.user)? else {
        return Ok(None);
    };
    let waiting = dialogues::load::<Dialogue>(conn, check.telegram_id)?
        == Some(Dialogue::Calendar(CalendarInput::SharedCalendarId));
    if !waiting || !owner.is_active() || owner.role != Some(Role::Owner) {
        tracing::info!(user = %owner.id, "shared calendar test no longer awaited; dropped");
        return Ok(None);
    }
    let language = owner.language;
    let calendar = check.calendar_id.as_str();
    let text = match access {
        Access::Granted => {
            let existing = google_connections::find(conn, owner.id)?;
            dialogues::clear(conn, check.telegram_id)?;
            if existing.is_some_and(|c| c.kind == ConnectionKind::Oauth && c.is_active()) {
                t(language, "calendar.shared.oauth_connected", &[])
            } else {
                google_connections::upsert_service_account(conn, owner.id, calendar, now)?;
                audit::record(
                    conn,
                    &AuditEntry {
                        actor: Some(owner.id),
                        actor_telegram_id: Some(owner.telegram_id),
                        action: "calendar.shared_connected",
                        target_user: Some(owner.id),
                        target: None,
                        data: json!({ "calendar_id": calendar, "account": account }),
                        correlation_id: Some(correlation_id),
                    },
                    now,
                )?;
                t(
                    language,
                    "calendar.shared.connected",
                    &[("calendar", calendar)],
                )
            }
        }
        Access::AccountRefused => {
            dialogues::clear(conn, check.telegram_id)?;
            t(language, "calendar.shared.account_refused", &[])
        }
        Access::NotShared => t(
            language,
            "calendar.shared.not_shared",
            &[("calendar", calendar), ("account", account)],
        ),
        Access::InvalidCalendar => t(
            language,
            "calendar.shared.invalid_calendar",
            &[("calendar", calendar)],
        ),
        Access::Unavailable => t(
            language,
            "calendar.shared.unavailable",
            &[("calendar", calendar)],
        ),
    };
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: owner.telegram_id.0,
            recipient: Some(owner.id),
            kind: "calendar.shared_check",
            lane: Lane::Interactive,
            body: OutgoingMessage::text(text).to_json(),
            broadcast: None,
            dedupe_key: None,
            correlation_id: Some(correlation_id),
        },
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::{CalendarInput, IdProblem, calendar_id};

    const ACCOUNT: &str = "robot@project.iam.gserviceaccount.com";

    #[test]
    fn calendar_ids_are_addresses() {
        assert_eq!(
            calendar_id("  Ann@Example.com\n", ACCOUNT),
            Ok("ann@example.com".to_owned())
        );
        assert_eq!(
            calendar_id("c_0123abc@group.calendar.google.com", ACCOUNT),
            Ok("c_0123abc@group.calendar.google.com".to_owned())
        );
        assert_eq!(
            calendar_id("en.usa#holiday@group.v.calendar.google.com", ACCOUNT),
            Ok("en.usa#holiday@group.v.calendar.google.com".to_owned())
        );
        for bad in [
            "",
            "primary",
            "ann",
            "@example.com",
            "ann@localhost",
            "ann@example.com.",
            "ann@@example.com",
            "ann smith@example.com",
            "ann@example.com/events",
            "<b>ann@example.com</b>",
            &format!("{}@example.com", "a".repeat(250)),
        ] {
            assert_eq!(
                calendar_id(bad, ACCOUNT),
                Err(IdProblem::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            calendar_id("Robot@project.iam.gserviceaccount.com", ACCOUNT),
            Err(IdProblem::OwnAccount)
        );
    }

    #[test]
    fn the_dialogue_state_is_tagged() {
        let json = serde_json::to_string(&CalendarInput::SharedCalendarId).unwrap();
        assert_eq!(json, r#"{"calendar":"shared_calendar_id"}"#);
    }
}
