//! A fake Google (OAuth 2.0 and Calendar v3) that speaks the real HTTP
//! protocols, so the bot's consent flow and the worker's calendar sync can
//! be tested without internet.
//!
//! Start one with [`FakeGoogle::start`] and point the settings at it:
//! `GOOGLE_AUTH_URL` = [`FakeGoogle::auth_url`], `GOOGLE_TOKEN_URL` =
//! [`FakeGoogle::token_url`], `GOOGLE_REVOKE_URL` =
//! [`FakeGoogle::revoke_url`], `GOOGLE_API_URL` = [`FakeGoogle::base_url`],
//! `GOOGLE_CLIENT_ID` / `_SECRET` from [`FakeGoogle::client`]. Seed
//! accounts with [`FakeGoogle::add_account`], decide the consent screen
//! with [`FakeGoogle::queue_consent`] / [`FakeGoogle::set_auto_consent`]
//! (or [`FakeGoogle::consent`], which also follows the URL), change events
//! "as the owner in Google" with [`FakeGoogle::move_event`] and
//! [`FakeGoogle::delete_event`], and read what the client did with
//! [`FakeGoogle::events`], [`FakeGoogle::stats`] and
//! [`FakeGoogle::requests`].
//!
//! Faithful where a client can tell: Google's error bodies, single-use
//! codes checked against the PKCE verifier, a refresh token only for
//! `access_type=offline`, `invalid_grant` after a revoke, expiring access
//! tokens, base32hex event ids, 409 on a taken id (cancelled events keep
//! theirs), 410 on a second delete and for stale sync tokens, deleted
//! entries in incremental results, `nextSyncToken` on the last page only,
//! a Meet link only for `conferenceData.createRequest` with
//! `conferenceDataVersion=1`, query parameters and bodies checked against
//! the discovery document. Where it differs, on purpose: unknown body
//! fields are refused (Google ignores them; see
//! [`FakeGoogleConfig::reject_unknown_fields`]), PKCE with S256 and a
//! `state` are required, recurring events are not expanded
//! (`singleEvents` is accepted and changes nothing), and push
//! notifications reach loopback addresses only.
//!
//! The same controls are served as JSON under `/control/...` for the
//! `fake-google` binary and scripts:
//!
//! | request | effect |
//! |---|---|
//! | `POST /control/accounts` `{"email", "name"?, "time_zone"?}` | seed an account and its primary calendar |
//! | `POST /control/clients` an [`OAuthClient`] | register another OAuth client |
//! | `POST /control/service-accounts` `{"email", "delegation"?, "public_key_pem"?, "key_id"?}` | register a service account; answers its key file |
//! | `POST /control/consent` a [`Consent`] | decide the next consent screen |
//! | `PUT /control/consent/auto` a [`Consent`] or `null` | decide every consent screen |
//! | `GET /control/consents`, `POST /control/consents/{id}` a [`Consent`] | pending consent screens; decide one (answers `{"location"}`) |
//! | `POST /control/revoke` `{"token"}` or `{"email"}` | revoke a grant / every grant of an account |
//! | `POST /control/expire-tokens` | every access token expires now |
//! | `POST /control/calendars/{id}/share` `{"email"}` | give another account write access |
//! | `GET /control/calendars/{id}/events` | every event, cancelled ones too |
//! | `POST /control/calendars/{id}/events` an event | the owner creates an event |
//! | `PATCH /control/calendars/{id}/events/{event}` a patch | the owner edits an event |
//! | `POST /control/calendars/{id}/events/{event}/move` `{"start", "end"}` | the owner moves an event |
//! | `DELETE /control/calendars/{id}/events/{event}` | the owner deletes an event |
//! | `POST /control/calendars/{id}/invalidate-sync-tokens` | older sync tokens answer 410 |
//! | `POST /control/faults` a [`Fault`], `DELETE /control/faults` | inject / clear faults |
//! | `POST /control/chaos` a [`Chaos`], `DELETE /control/chaos` | start / stop seeded faults |
//! | `GET /control/stats`, `/control/requests`, `/control/channels`, `/control/notifications` | what happened |

mod calendar;
mod control;
mod discovery;
mod faults;
mod oauth;
mod push;
mod server;
mod state;
mod wire;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use shared::clock::Clock;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::faults::ChaosState;
pub use self::faults::{Chaos, Fault, FaultKind};
use self::oauth::Ctx;
pub use self::state::{
    Account, Channel, Consent, Notification, OAuthClient, PendingConsent, RecordedRequest, Stats,
};
use self::state::{ServiceAccount, Shared};
use self::wire::{ApiError, ErrorBody, Reply};

/// The private key of the test service account (PKCS#1 PEM). A key made
/// for this test kit only; it protects nothing.
pub const TEST_SERVICE_ACCOUNT_PRIVATE_KEY: &str =
    include_str!("../../reference/test-service-account.key.pem");

/// The public half of [`TEST_SERVICE_ACCOUNT_PRIVATE_KEY`].
pub const TEST_SERVICE_ACCOUNT_PUBLIC_KEY: &str =
    include_str!("../../reference/test-service-account.pub.pem");

/// The scope for full Calendar access.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// The scope for events only.
pub const CALENDAR_EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";

/// The scope that lets userinfo tell the email.
pub const EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeGoogleConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The time source for token expiry and timestamps (share the
    /// services' test clock).
    pub clock: Clock,
    /// How long an access token lives.
    pub access_token_lifetime: Duration,
    /// The OAuth client registered from the start.
    pub client: OAuthClient,
    /// Refuse body fields the discovery document does not know (Google
    /// ignores them; a test wants to hear of a misspelt field).
    pub reject_unknown_fields: bool,
    /// Require `code_challenge` (S256) on the consent screen.
    pub require_pkce: bool,
    /// Require a non-empty `state` on the consent screen.
    pub require_state: bool,
    /// Accept `http://` push addresses in `events.watch` (Google wants
    /// HTTPS; tests have none).
    pub allow_http_push: bool,
    /// Deliver notifications for `https://` loopback addresses over plain
    /// HTTP, as a TLS terminator in front of the deployment would.
    pub push_over_http: bool,
}

/// The default client id.
pub const DEFAULT_CLIENT_ID: &str = "1234567890-fake.apps.googleusercontent.com";

/// The default client secret.
pub const DEFAULT_CLIENT_SECRET: &str = "GOCSPX-fake-client-secret";

impl Default for FakeGoogleConfig {
    fn default() -> Self {
        Self {
            port: 0,
            clock: Clock::system(),
            access_token_lifetime: Duration::from_secs(3600),
            client: OAuthClient {
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
                redirect_uris: vec![
                    "http://localhost/oauth/google/callback".to_owned(),
                    "http://127.0.0.1/oauth/google/callback".to_owned(),
                ],
            },
            reject_unknown_fields: true,
            require_pkce: true,
            require_state: true,
            allow_http_push: false,
            push_over_http: false,
        }
    }
}

impl FakeGoogleConfig {
    /// A fixed port instead of a free one.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The clock for expiry and timestamps.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Another access-token lifetime.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }

    /// Another default client.
    pub fn with_client(mut self, client: OAuthClient) -> Self {
        self.client = client;
        self
    }

    /// Accept `http://` push addresses.
    pub fn with_http_push(mut self) -> Self {
        self.allow_http_push = true;
        self
    }

    /// Reach `https://` loopback push addresses over plain HTTP.
    pub fn with_push_over_http(mut self) -> Self {
        self.push_over_http = true;
        self
    }
}

/// A request as the handlers see it.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A control call was refused: Google's status and body.
#[derive(Debug, Clone)]
pub struct GoogleError {
    /// HTTP status Google would answer.
    pub status: u16,
    /// The body (JSON, or an HTML page as a string).
    pub body: Value,
}

impl fmt::Display for GoogleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fake Google answered {}: {}", self.status, self.body)
    }
}

impl std::error::Error for GoogleError {}

impl From<ApiError> for GoogleError {
    fn from(error: ApiError) -> Self {
        Self {
            status: error.status,
            body: match error.body {
                ErrorBody::Json(body) => body,
                ErrorBody::Html(page) => Value::String(page),
            },
        }
    }
}

fn reply_json(reply: Reply) -> Value {
    match reply {
        Reply::Json(body) => body,
        Reply::Redirect(location) => json!({ "location": location }),
        Reply::Html(page) => Value::String(page),
        Reply::NoContent | Reply::Empty => Value::Null,
    }
}

/// A service account's key file (as the Cloud console downloads it) and
/// the means to sign assertions with it.
#[derive(Debug, Clone)]
pub struct ServiceAccountKey {
    /// `client_email`.
    pub client_email: String,
    /// `private_key_id` (the JWT `kid`).
    pub private_key_id: String,
    /// `private_key` (PEM).
    pub private_key_pem: String,
    /// `token_uri` (the fake's token endpoint).
    pub token_uri: String,
}

impl ServiceAccountKey {
    /// The key file as JSON (for `GOOGLE_SERVICE_ACCOUNT_JSON`).
    pub fn to_json(&self) -> Value {
        json!({
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        })
    }

    /// An RS256 assertion for the JWT-bearer grant, issued at `now`, valid
    /// an hour, acting as `subject` when given.
    pub fn assertion(
        &self,
        scopes: &[&str],
        now: DateTime<Utc>,
        subject: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.private_key_id.clone());
        let mut claims = json!({
            "iss": self.client_email,
            "scope": scopes.join(" "),
            "aud": self.token_uri,
            "iat": now.timestamp(),
            "exp": now.timestamp() + 3600,
        });
        if let Some(subject) = subject {
            claims["sub"] = json!(subject);
        }
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key_pem.as_bytes())?;
        jsonwebtoken::encode(&header, &claims, &key)
    }
}

/// A running fake; cheap to clone. The server stops when the last clone is
/// dropped or on [`FakeGoogle::shutdown`].
#[derive(Clone)]
pub struct FakeGoogle {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    fn stop(&self) {
        self.shared.update(|state| state.closed = true);
        self.stop.send_replace(true);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for FakeGoogle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeGoogle")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

/// 32 bytes (0, 1, …, 31) in base64: the token key of test deployments
/// (protects nothing).
pub const TEST_TOKEN_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

impl FakeGoogle {
    /// Starts serving on 127.0.0.1 (panics if the port cannot be bound).
    pub async fn start(config: FakeGoogleConfig) -> Self {
        Self::try_start(config)
            .await
            .expect("bind the fake Google server")
    }

    /// Starts serving on 127.0.0.1, or says why the port cannot be bound.
    pub async fn try_start(config: FakeGoogleConfig) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}")));
        let app = server::router(Arc::clone(&shared));
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                eprintln!("fake-google: server failed: {error}");
            }
        });
        let server = Arc::new(Server {
            shared: Arc::clone(&shared),
            addr,
            stop,
            task: Mutex::new(Some(task)),
        });
        Ok(Self { shared, server })
    }

    /// Stops the server and waits until it has closed its connections.
    pub async fn shutdown(&self) {
        self.server.stop();
        let task = self
            .server
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// The environment a deployment under test needs to talk to this fake
    /// (client, endpoints, [`TEST_TOKEN_KEY`]), for `StackConfig::env`.
    pub fn deployment_env(&self) -> Vec<(String, String)> {
        let client = self.client();
        [
            ("GOOGLE_CLIENT_ID", client.client_id),
            ("GOOGLE_CLIENT_SECRET", client.client_secret),
            ("GOOGLE_AUTH_URL", self.auth_url()),
            ("GOOGLE_TOKEN_URL", self.token_url()),
            ("GOOGLE_REVOKE_URL", self.revoke_url()),
            ("GOOGLE_API_URL", self.base_url()),
            ("TOKEN_ENCRYPTION_KEY", TEST_TOKEN_KEY.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// `http://127.0.0.1:PORT`: the value for `GOOGLE_API_URL`.
    pub fn base_url(&self) -> String {
        self.shared.base_url()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The consent screen: the value for `GOOGLE_AUTH_URL`.
    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.base_url())
    }

    /// The token endpoint: the value for `GOOGLE_TOKEN_URL`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The revocation endpoint: the value for `GOOGLE_REVOKE_URL`.
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base_url())
    }

    /// The userinfo endpoint.
    pub fn userinfo_url(&self) -> String {
        format!("{}/oauth2/v3/userinfo", self.base_url())
    }

    /// The default OAuth client.
    pub fn client(&self) -> OAuthClient {
        self.shared.config.client.clone()
    }

    fn ctx_call<T>(&self, action: impl FnOnce(&mut state::State, &Ctx<'_>) -> T) -> T {
        let base_url = self.shared.base_url();
        let ctx = Ctx {
            now: self.shared.now(),
            config: &self.shared.config,
            base_url: &base_url,
        };
        let result = self.shared.update(|state| action(state, &ctx));
        server::deliver_pushes(&self.shared);
        result
    }

    /// Seeds an account (and its primary calendar, id = email, zone UTC).
    pub fn add_account(&self, email: &str) -> Account {
        self.add_account_with(email, email.split('@').next().unwrap_or(email), "UTC")
    }

    /// Seeds an account with a display name and calendar zone.
    pub fn add_account_with(&self, email: &str, name: &str, time_zone: &str) -> Account {
        self.shared
            .update(|state| state.add_account(email, name, time_zone))
    }

    /// Registers another OAuth client.
    pub fn add_client(&self, client: OAuthClient) {
        self.shared.update(|state| {
            state.clients.insert(client.client_id.clone(), client);
        });
    }

    /// Registers a service account with the test key pair; it also gets an
    /// account and calendar of its own. With `delegation` it may act as
    /// other accounts (`sub`).
    pub fn add_service_account(&self, email: &str, delegation: bool) -> ServiceAccountKey {
        self.add_service_account_with_key(
            email,
            delegation,
            TEST_SERVICE_ACCOUNT_PUBLIC_KEY,
            "fake-key-1",
        );
        ServiceAccountKey {
            client_email: email.to_owned(),
            private_key_id: "fake-key-1".to_owned(),
            private_key_pem: TEST_SERVICE_ACCOUNT_PRIVATE_KEY.to_owned(),
            token_uri: self.token_url(),
        }
    }

    /// Registers a service account whose assertions are checked with this
    /// public key (PEM).
    pub fn add_service_account_with_key(
        &self,
        email: &str,
        delegation: bool,
        public_key_pem: &str,
        key_id: &str,
    ) {
        self.shared.update(|state| {
            state.add_account(email, email, "UTC");
            state.service_accounts.insert(
                email.to_owned(),
                ServiceAccount {
                    email: email.to_owned(),
                    key_id: key_id.to_owned(),
                    public_key_pem: public_key_pem.to_owned(),
                    delegation,
                },
            );
        });
    }

    /// Gives `email` write access to `calendar_id`.
    pub fn share_calendar(&self, calendar_id: &str, email: &str) -> bool {
        self.shared.update(|state| {
            state
                .calendars
                .get_mut(calendar_id)
                .map(|calendar| calendar.writers.insert(email.to_owned()))
                .is_some()
        })
    }

    /// Decides the next consent screen.
    pub fn queue_consent(&self, consent: Consent) {
        self.shared
            .update(|state| state.consent_queue.push_back(consent));
    }

    /// Decides every consent screen that has no queued decision (`None`:
    /// show the page and wait for a decision).
    pub fn set_auto_consent(&self, consent: Option<Consent>) {
        self.shared.update(|state| state.auto_consent = consent);
    }

    /// Consent screens shown and not decided yet.
    pub fn pending_consents(&self) -> Vec<PendingConsent> {
        self.shared
            .lock()
            .pending_consents
            .values()
            .cloned()
            .collect()
    }

    /// Decides a pending consent screen; answers the redirect location.
    pub fn decide_consent(&self, id: u64, consent: &Consent) -> Result<String, GoogleError> {
        let reply = self.ctx_call(|state, ctx| oauth::decide_pending(state, ctx, id, consent))?;
        match reply {
            Reply::Redirect(location) => Ok(location),
            other => Err(GoogleError {
                status: 500,
                body: reply_json(other),
            }),
        }
    }

    /// Plays the person in the browser: opens `auth_url` (the link the
    /// bot sent), answers the consent screen with `consent`, and returns
    /// the redirect location (the bot's callback URL with `code` and
    /// `state`, or `error=access_denied`), without following it.
    pub async fn consent(&self, auth_url: &str, consent: Consent) -> Result<String, GoogleError> {
        self.shared
            .update(|state| state.consent_queue.push_front(consent));
        let failed = |status: u16, body: String| GoogleError {
            status,
            body: Value::String(body),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| failed(0, error.to_string()))?;
        let response = client
            .get(auth_url)
            .send()
            .await
            .map_err(|error| failed(0, error.without_url().to_string()))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(location) if status == 302 => Ok(location),
            _ => {
                // The queued decision was not used: drop it.
                self.shared.update(|state| {
                    state.consent_queue.pop_front();
                });
                Err(failed(status, response.text().await.unwrap_or_default()))
            }
        }
    }

    /// Revokes one token's grant (as the user does in their Google
    /// account); false if unknown.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.shared.update(|state| {
            let grant = state
                .refresh_tokens
                .get(token)
                .copied()
                .or_else(|| state.access_tokens.get(token).map(|access| access.grant));
            grant.inspect(|&grant| state.revoke_grant(grant)).is_some()
        })
    }

    /// Revokes every grant of an account; answers how many.
    pub fn revoke_account(&self, email: &str) -> usize {
        self.shared.update(|state| {
            let grants: Vec<u64> = state
                .grants
                .iter()
                .filter(|(_, grant)| grant.principal == email && !grant.revoked)
                .map(|(id, _)| *id)
                .collect();
            for grant in &grants {
                state.revoke_grant(*grant);
            }
            grants.len()
        })
    }

    /// Every access token expires now (refresh tokens stay valid).
    pub fn expire_access_tokens(&self) {
        let now = self.shared.now();
        self.shared.update(|state| {
            for token in state.access_tokens.values_mut() {
                token.expires_at = now;
            }
        });
    }

    /// Every event of a calendar as `events.get` shows it, cancelled ones
    /// too, ordered by id.
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        self.shared
            .lock()
            .calendars
            .get(calendar_id)
            .map(|calendar| {
                calendar
                    .events
                    .values()
                    .map(|event| event.resource.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One event, cancelled or not.
    pub fn event(&self, calendar_id: &str, event_id: &str) -> Option<Value> {
        self.shared
            .lock()
            .calendars
            .get(calendar_id)
            .and_then(|calendar| calendar.events.get(event_id))
            .map(|event| event.resource.clone())
    }

    /// The owner creates an event in Google's UI.
    pub fn insert_event(&self, calendar_id: &str, event: Value) -> Result<Value, GoogleError> {
        self.owner_call(calendar_id, None, "calendar.events.insert", Some(event))
    }

    /// The owner edits an event in Google's UI (a merge patch).
    pub fn patch_event(
        &self,
        calendar_id: &str,
        event_id: &str,
        patch: Value,
    ) -> Result<Value, GoogleError> {
        self.owner_call(
            calendar_id,
            Some(event_id),
            "calendar.events.patch",
            Some(patch),
        )
    }

    /// The owner drags an event to another time in Google's UI.
    pub fn move_event(
        &self,
        calendar_id: &str,
        event_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Value, GoogleError> {
        let time = |at: DateTime<Utc>| json!({ "dateTime": at.to_rfc3339_opts(SecondsFormat::Secs, true) });
        self.patch_event(
            calendar_id,
            event_id,
            json!({ "start": time(start), "end": time(end) }),
        )
    }

    /// The owner deletes an event in Google's UI (it stays, cancelled).
    pub fn delete_event(&self, calendar_id: &str, event_id: &str) -> Result<(), GoogleError> {
        self.owner_call(calendar_id, Some(event_id), "calendar.events.delete", None)
            .map(|_| ())
    }

    fn owner_call(
        &self,
        calendar_id: &str,
        event_id: Option<&str>,
        method: &str,
        body: Option<Value>,
    ) -> Result<Value, GoogleError> {
        self.ctx_call(|state, ctx| {
            calendar::as_owner(state, ctx, calendar_id, event_id, method, body)
        })
        .map(reply_json)
        .map_err(GoogleError::from)
    }

    /// Every sync token issued so far for the calendar answers 410.
    pub fn invalidate_sync_tokens(&self, calendar_id: &str) {
        self.shared.update(|state| {
            if let Some(calendar) = state.calendars.get_mut(calendar_id) {
                calendar.seq += 1;
                calendar.min_sync = calendar.seq;
            }
        });
    }

    /// Queues a fault for the next matching calls.
    pub fn inject(&self, fault: Fault) {
        self.shared.update(|state| state.faults.push(fault));
    }

    /// Drops faults not used up yet.
    pub fn clear_faults(&self) {
        self.shared.update(|state| state.faults.clear());
    }

    /// Starts failing calls at random (deterministic per seed).
    pub fn set_chaos(&self, chaos: Chaos) {
        self.shared
            .update(|state| state.chaos = Some(ChaosState::new(chaos)));
    }

    /// Stops chaos.
    pub fn clear_chaos(&self) {
        self.shared.update(|state| state.chaos = None);
    }

    /// Counters over the fake's life.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats.clone()
    }

    /// Calls of one method id so far (`calendar.events.insert`,
    /// `oauth.token`, ...).
    pub fn calls(&self, method: &str) -> u64 {
        self.shared
            .lock()
            .stats
            .calls
            .get(method)
            .copied()
            .unwrap_or(0)
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Open push channels.
    pub fn channels(&self) -> Vec<Channel> {
        self.shared.lock().channels.values().cloned().collect()
    }

    /// Push notifications sent so far.
    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.lock().notifications.clone()
    }

    /// Waits until the calendar's events satisfy `predicate`.
    pub async fn wait_for_events(
        &self,
        calendar_id: &str,
        predicate: impl Fn(&[Value]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<Value>, Vec<Value>> {
        let found = self
            .shared
            .wait_until(Some(Instant::now() + timeout), |state| {
                let events: Vec<Value> = state
                    .calendars
                    .get(calendar_id)
                    .map(|calendar| {
                        calendar
                            .events
                            .values()
                            .map(|event| event.resource.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                predicate(&events).then_some(events)
            })
            .await;
        found.ok_or_else(|| self.events(calendar_id))
    }

    /// Waits until the statistics satisfy `predicate`.
    pub async fn wait_for_stats(
        &self,
        predicate: impl Fn(&Stats) -> bool,
        timeout: Duration,
    ) -> Result<Stats, Stats> {
        let found = self
            .shared
            .wait_until(Some(Instant::now() + timeout), |state| {
                Some(state.stats.clone()).filter(|stats| predicate(stats))
            })
            .await;
        found.ok_or_else(|| self.stats())
    }
}
