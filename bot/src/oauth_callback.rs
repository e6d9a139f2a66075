//! `GET /oauth/google/callback`: where Google sends the browser back after
//! the consent screen of a `/calendar` link.
//!
//! The `state` is spent first (hash look-up; unknown, used or expired
//! states are refused), then the person is checked (still an active owner
//! or manager), the code exchanged with the stored PKCE verifier, the
//! account's email and primary calendar read, and the connection stored
//! with its tokens encrypted — audited, and "✅ Calendar connected" queued
//! for the chat through the outbox. The browser gets a small page in the
//! person's language. Every refusal is a page with a clear reason and
//! status 400, and stores nothing (a spent state stays spent).
//!
//! The query holds `code` and `state`: the access log records the path
//! only, and no log line here carries either, nor a token.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use shared::clock::Clock;
use shared::db::audit::{self, AuditEntry};
use shared::db::oauth_states::{self, Spend};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::OutboxMessageId;
use shared::db::users::{self, User};
use shared::db::{Db, DbConn, DbError};
use shared::domain::delivery::Lane;
use shared::domain::user::{Language, Role};
use shared::google::SecretString;
use shared::google::crypto::state_hash;
use shared::google::oauth::GrantedTokens;
use shared::google::tokens::{SealError, SealedConnection, pkce_context};
use shared::i18n::{escape_html, t};
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::OutgoingMessage;
use tracing::Instrument;

use crate::handlers::calendar::CalendarSetup;

/// The callback's path, as registered with Google (see
/// `HttpConfig::oauth_redirect_url`).
pub const PATH: &str = "/oauth/google/callback";

/// What the callback needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct OAuthCallback {
    pub db: Db,
    pub queue: Queue,
    pub clock: Clock,
    /// `None` when Google is not configured: every callback is refused.
    pub setup: Option<CalendarSetup>,
}

/// The callback route, with an access log that records the path only.
pub fn router(state: OAuthCallback) -> Router {
    Router::new()
        .route(PATH, get(callback))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// One line per request: method, path (never the query), status.
async fn access_log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(%method, path, status = response.status().as_u16(), "http request");
    response
}

/// Why a callback was refused: the page's reason and the log's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotConfigured,
    MissingState,
    UnknownState,
    UsedState,
    ExpiredState,
    Denied,
    GoogleError,
    MissingCode,
    InactiveUser,
    ExchangeFailed,
    NoRefreshToken,
    IdentityFailed,
    Unavailable,
}

impl Refusal {
    fn key(self) -> &'static str {
        match self {
            Self::NotConfigured => "calendar.page.not_configured",
            Self::MissingState => "calendar.page.missing_state",
            Self::UnknownState => "calendar.page.unknown_state",
            Self::UsedState => "calendar.page.used_state",
            Self::ExpiredState => "calendar.page.expired_state",
            Self::Denied => "calendar.page.denied",
            Self::GoogleError => "calendar.page.google_error",
            Self::MissingCode => "calendar.page.missing_code",
            Self::InactiveUser => "calendar.page.inactive_user",
            Self::ExchangeFailed => "calendar.page.exchange_failed",
            Self::NoRefreshToken => "calendar.page.no_refresh_token",
            Self::IdentityFailed => "calendar.page.identity_failed",
            Self::Unavailable => "calendar.page.unavailable",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// For the log line (no value from the request).
    fn reason(self) -> &'static str {
        self.key().trim_start_matches("calendar.page.")
    }
}

/// A refusal and the page language known so far.
struct Refused {
    refusal: Refusal,
    language: Language,
    /// Google's `error` value, already checked to be a plain word.
    google_error: Option<String>,
}

impl Refused {
    fn new(refusal: Refusal, language: Language) -> Self {
        Self {
            refusal,
            language,
            google_error: None,
        }
    }
}

async fn callback(
    State(app): State<OAuthCallback>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let correlation_id = crate::handling::new_correlation_id();
    let span = tracing::info_span!("oauth_callback", correlation_id = %correlation_id);
    async {
        let take = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        let answer = Answer {
            state: take("state"),
            code: take("code"),
            error: take("error"),
        };
        let language = browser_language(&headers);
        match complete(app, language, answer, correlation_id.clone()).await {
            Ok((language, email)) => {
                let text = t(language, "calendar.page.connected", &[("email", &email)]);
                page(
                    StatusCode::OK,
                    language,
                    &t(language, "calendar.page.connected_title", &[]),
                    &text,
                    None,
                )
            }
            Err(refused) => {
                tracing::warn!(
                    reason = refused.refusal.reason(),
                    "Google consent callback refused"
                );
                let language = refused.language;
                let error = refused.google_error.unwrap_or_default();
                let text = t(language, refused.refusal.key(), &[("error", &error)]);
                let retry = (refused.refusal != Refusal::NotConfigured)
                    .then(|| t(language, "calendar.page.retry", &[]));
                page(
                    refused.refusal.status(),
                    language,
                    &t(language, "calendar.page.error_title", &[]),
                    &text,
                    retry.as_deref(),
                )
            }
        }
    }
    .instrument(span)
    .await
}

/// What Google's redirect carries (each `None` when absent or empty).
#[derive(Debug)]
struct Answer {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// The whole callback; answers the page language and the connected email.
async fn complete(
    app: OAuthCallback,
    mut language: Language,
    answer: Answer,
    correlation_id: String,
) -> Result<(Language, String), Refused> {
    let Some(setup) = &app.setup else {
        return Err(Refused::new(Refusal::NotConfigured, language));
    };
    let Some(state) = answer.state else {
        return Err(Refused::new(Refusal::MissingState, language));
    };
    let hash = state_hash(&state);
    let now = app.clock.now();
    let spend_hash = hash.clone();
    let spent = app
        .db
        .write(move |c: &mut DbConn| oauth_states::spend(c, &spend_hash, now))
        .await
        .map_err(|error| unavailable(&error, language))?;
    let spent = match spent {
        Spend::Spent(spent) => spent,
        Spend::Unknown => return Err(Refused::new(Refusal::UnknownState, language)),
        Spend::AlreadyUsed => return Err(Refused::new(Refusal::UsedState, language)),
        Spend::Expired => return Err(Refused::new(Refusal::ExpiredState, language)),
    };
    let user_id = spent.user;
    let person = app
        .db
        .read(move |c: &mut DbConn| users::find(c, user_id))
        .await
        .map_err(|error| unavailable(&error, language))?;
    if let Some(person) = &person {
        language = person.language;
    }
    if let Some(error) = answer.error {
        let refusal = if error == "access_denied" {
            Refusal::Denied
        } else {
            Refusal::GoogleError
        };
        let plain = error.len() <= 64
            && error
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return Err(Refused {
            refusal,
            language,
            google_error: Some(if plain { error } else { "unknown".to_owned() }),
        });
    }
    if !person.as_ref().is_some_and(may_connect) {
        return Err(Refused::new(Refusal::InactiveUser, language));
    }
    let Some(code) = answer.code else {
        return Err(Refused::new(Refusal::MissingCode, language));
    };
    let verifier = setup
        .cipher
        .decrypt(
            &spent.pkce_verifier_enc,
            &spent.key_id,
            &pkce_context(&hash),
        )
        .map_err(|error| {
            tracing::warn!(%error, "stored PKCE verifier unreadable");
            Refused::new(Refusal::ExchangeFailed, language)
        })?;
    let tokens = setup
        .oauth
        .exchange_code(&code, &verifier)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "Google refused the code exchange");
            Refused::new(Refusal::ExchangeFailed, language)
        })?;
    let identity = match setup.oauth.identity(&tokens.access_token).await {
        Ok(identity) => identity,
        Err(error) => {
            tracing::warn!(%error, "cannot read the Google account's email or calendar");
            revoke_granted(setup, &tokens).await;
            return Err(Refused::new(Refusal::IdentityFailed, language));
        }
    };
    let sealed =
        match SealedConnection::seal(&setup.cipher, user_id, identity, &tokens, app.clock.now()) {
            Ok(sealed) => sealed,
            Err(SealError::NoRefreshToken) => {
                revoke_granted(setup, &tokens).await;
                return Err(Refused::new(Refusal::NoRefreshToken, language));
            }
            Err(error) => {
                tracing::error!(%error, "cannot encrypt the Google tokens");
                revoke_granted(setup, &tokens).await;
                return Err(Refused::new(Refusal::Unavailable, language));
            }
        };
    let email = sealed.identity().email.clone();
    match store(
        app.db.clone(),
        app.clock.now(),
        sealed,
        correlation_id.clone(),
    )
    .await
    {
        Ok(Some(notice)) => {
            tracing::info!(user = %user_id, "Google calendar connected");
            if let Some(notice) = notice {
                DeliverMessage::push_after_commit(&app.queue, notice, &correlation_id).await;
            }
            Ok((language, email))
        }
        Ok(None) => {
            revoke_granted(setup, &tokens).await;
            Err(Refused::new(Refusal::InactiveUser, language))
        }
        Err(error) => {
            tracing::error!(%error, "cannot store the Google connection");
            revoke_granted(setup, &tokens).await;
            Err(Refused::new(Refusal::Unavailable, language))
        }
    }
}

/// An active owner or manager.
fn may_connect(user: &User) -> bool {
    user.is_active() && matches!(user.role, Some(Role::Owner | Role::Manager))
}

fn unavailable(error: &DbError, language: Language) -> Refused {
    tracing::error!(%error, "database unavailable in the OAuth callback");
    Refused::new(Refusal::Unavailable, language)
}

/// One transaction: the person re-checked (still an active owner or
/// manager, else `None` and nothing stored), the connection, the audit row
/// and the chat notice (its outbox id, to push).
async fn store(
    db: Db,
    now: chrono::DateTime<chrono::Utc>,
    sealed: SealedConnection,
    correlation: String,
) -> Result<Option<Option<OutboxMessageId>>, DbError> {
    db.write(move |c: &mut DbConn| {
        let user = sealed_user(&sealed, c)?;
        let Some(person) = user else {
            return Ok(None);
        };
        sealed.store(c, now)?;
        let identity = sealed.identity();
        audit::record(
            c,
            &AuditEntry {
                actor: Some(person.id),
                actor_telegram_id: Some(person.telegram_id),
                action: "calendar.connected",
                target_user: Some(person.id),
                target: None,
                data: json!({ "email": identity.email, "calendar_id": identity.calendar_id }),
                correlation_id: Some(&correlation),
            },
            now,
        )?;
        let message = OutgoingMessage::text(t(
            person.language,
            "calendar.connected_notice",
            &[("email", &identity.email)],
        ));
        let notice = outbox::insert(
            c,
            &NewOutboxMessage {
                chat_id: person.telegram_id.0,
                recipient: Some(person.id),
                kind: "calendar.connected",
                lane: Lane::Interactive,
                body: message.to_json(),
                broadcast: None,
                dedupe_key: None,
                correlation_id: Some(&correlation),
            },
            now,
        )?;
        Ok(Some(notice))
    })
    .await
}

/// The person the sealed connection is for, if they may still connect.
fn sealed_user(sealed: &SealedConnection, conn: &mut DbConn) -> Result<Option<User>, DbError> {
    Ok(users::find(conn, sealed.user())?.filter(may_connect))
}

/// Revokes what a consent granted when it is not kept (best effort).
async fn revoke_granted(setup: &CalendarSetup, tokens: &GrantedTokens) {
    let token = tokens
        .refresh_token
        .as_ref()
        .unwrap_or(&tokens.access_token);
    revoke_quietly(setup, token).await;
}

async fn revoke_quietly(setup: &CalendarSetup, token: &SecretString) {
    if let Err(error) = setup.oauth.revoke(token).await {
        tracing::warn!(%error, "cannot revoke a grant that was not kept");
    }
}

/// The page language before the person is known: Russian if the browser
/// prefers it, else English.
fn browser_language(headers: &HeaderMap) -> Language {
    let preferred = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .map(|first| first.trim().to_ascii_lowercase());
    match preferred {
        Some(tag) if tag.starts_with("ru") => Language::Ru,
        _ => Language::En,
    }
}

/// A small self-contained HTML page. `message` and `retry` are catalogue
/// HTML (their values already escaped); the title is escaped here. No
/// referrer leaves it (the address holds the code), and it is not cached.
fn page(
    status: StatusCode,
    language: Language,
    title: &str,
    message: &str,
    retry: Option<&str>,
) -> Response {
    let lang = match language {
        Language::En => "en",
        Language::Ru => "ru",
    };
    let heading = t(language, "calendar.page.title", &[]);
    let retry = retry
        .map(|text| format!("<p class=\"retry\">{text}</p>"))
        .unwrap_or_default();
    let body = format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;background:#f5f6f8;margin:0;padding:2rem}}\
         main{{max-width:32rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;\
         box-shadow:0 2px 8px rgba(0,0,0,.08)}}h1{{font-size:1.3rem;margin-top:0}}\
         .app{{color:#666;font-size:.9rem}}.retry{{color:#444}}</style></head>\
         <body><main><p class=\"app\">{heading}</p><h1>{title}</h1><p>{message}</p>{retry}</main></body></html>\n",
        title = escape_html(title),
        heading = escape_html(&heading),
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_language_follows_the_browser_until_the_person_is_known() {
        let mut headers = HeaderMap::new();
        assert_eq!(browser_language(&headers), Language::En);
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("ru-RU,ru;q=0.9,en;q=0.8"),
        );
        assert_eq!(browser_language(&headers), Language::Ru);
        headers.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("de, ru"));
        assert_eq!(browser_language(&headers), Language::En);
    }

    #[test]
    fn pages_escape_their_title_and_are_not_cached() {
        let response = page(
            StatusCode::BAD_REQUEST,
            Language::En,
            "<x>",
            "msg",
            Some("again"),
        );
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            HeaderValue::from_static("no-store")
        );
    }
}
