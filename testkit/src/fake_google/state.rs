//! The fake's memory (accounts, OAuth clients and grants, calendars and
//! their events, push channels, faults, the request log) and the lock plus
//! change signal around it ([`Watched`], shared with the fake Telegram).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::MutexGuard;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::watched::Watched;

use super::FakeGoogleConfig;
use super::faults::{ChaosState, FaultQueue};

/// What the server and every handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: FakeGoogleConfig,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    state: Watched<State>,
}

impl Shared {
    pub(crate) fn new(config: FakeGoogleConfig, base_url: String) -> Self {
        let mut state = State::default();
        state
            .clients
            .insert(config.client.client_id.clone(), config.client.clone());
        Self {
            config,
            base_url,
            state: Watched::new(state),
        }
    }

    /// Reads the state (never held across `.await`).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Changes the state and wakes everyone waiting for a change.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        self.state.update(change)
    }

    /// Waits until `check` finds something, re-checking after every change,
    /// or until `deadline` (then `None`).
    pub(crate) async fn wait_until<T>(
        &self,
        deadline: Option<Instant>,
        check: impl FnMut(&State) -> Option<T>,
    ) -> Option<T> {
        self.state.wait_until(deadline, check).await
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Now, by the configured clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }
}

/// A Google account (a person, or a service account's own identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// The address, also the id of its primary calendar.
    pub email: String,
    /// Display name.
    pub name: String,
    /// The stable subject id (`sub` of userinfo).
    pub sub: String,
    /// Id of the primary calendar.
    pub primary_calendar: String,
}

/// A registered OAuth client (a "web application" in the Cloud console).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OAuthClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// Registered redirect URIs; for a loopback host (`localhost`,
    /// `127.0.0.1`) any port matches, so the bot may listen anywhere.
    pub redirect_uris: Vec<String>,
}

/// A service account whose JWT assertions the token endpoint accepts.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAccount {
    pub email: String,
    pub key_id: String,
    pub public_key_pem: String,
    /// Domain-wide delegation: may act as another account (`sub`).
    pub delegation: bool,
}

/// An authorization request waiting on the consent screen.
#[derive(Debug, Clone, Serialize)]
pub struct PendingConsent {
    /// Id to decide it by.
    pub id: u64,
    /// The requesting client.
    pub client_id: String,
    /// Requested scopes.
    pub scopes: Vec<String>,
    /// `login_hint`, if given.
    pub login_hint: Option<String>,
    #[serde(skip)]
    pub(crate) request: AuthRequest,
}

/// A validated authorization request.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub offline: bool,
    pub login_hint: Option<String>,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub request: AuthRequest,
    pub email: String,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

/// A grant: what a consent (or an assertion) allowed, with its tokens.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// Whose calendars the tokens reach.
    pub principal: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
    /// A service account acting as itself (may not invite attendees).
    pub service_account: bool,
}

/// An access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub grant: u64,
    pub expires_at: DateTime<Utc>,
}

/// A stored event and when it last changed.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    /// The resource as `events.get` returns it.
    pub resource: Value,
    /// The calendar's change counter at the last change.
    pub changed: u64,
}

/// A calendar and its events.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    pub id: String,
    pub summary: String,
    pub time_zone: String,
    pub owner: String,
    /// Other accounts with write access.
    pub writers: BTreeSet<String>,
    pub events: BTreeMap<String, StoredEvent>,
    /// Change counter (sync tokens carry it).
    pub seq: u64,
    /// Sync tokens below this are stale (410).
    pub min_sync: u64,
}

impl Calendar {
    pub(crate) fn can_write(&self, principal: &str) -> bool {
        self.owner == principal || self.writers.contains(principal)
    }
}

/// A push channel opened by `events.watch`.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// The client's channel id.
    pub id: String,
    /// The id Google gives the watched resource.
    pub resource_id: String,
    /// The watched calendar.
    pub calendar_id: String,
    /// Where notifications go.
    pub address: String,
    /// The client's verification token, echoed in `X-Goog-Channel-Token`.
    pub token: Option<String>,
    /// Expiration, Unix milliseconds.
    pub expiration: i64,
    /// Messages sent so far.
    pub messages: u64,
}

/// A push notification the fake sent (or would send) to a channel.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    /// The channel's id.
    pub channel_id: String,
    /// The channel's address.
    pub address: String,
    /// `sync` first, then `exists`.
    pub resource_state: String,
    /// `X-Goog-Message-Number`.
    pub message_number: u64,
    /// The headers as sent.
    pub headers: Vec<(String, String)>,
    /// Whether it was POSTed (only to loopback addresses) and answered 2xx.
    pub delivered: Option<bool>,
}

/// One request as received, to check that no secret leaked into a URL, a
/// log-able header or a body where it does not belong.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// The method id (`calendar.events.insert`, `oauth.token`, ...), or
    /// `None` for an unknown path.
    pub method: Option<String>,
    /// `GET`, `POST`, ...
    pub http_method: String,
    /// The path, as sent.
    pub path: String,
    /// The raw query string, as sent.
    pub query: String,
    /// Every header, as sent.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The status answered (`None` while pending or abandoned).
    pub status: Option<u16>,
}

/// Counters over the fake's life.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Calls per method id (also those answered by a fault).
    pub calls: BTreeMap<String, u64>,
    /// Calls answered by a scripted fault or chaos.
    pub injected_faults: u64,
    /// Requests whose client left before the answer.
    pub abandoned: u64,
}

/// A decision for the consent screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Consent {
    /// The account that signs in; `None` picks the `login_hint` account,
    /// else the first seeded one.
    #[serde(default)]
    pub email: Option<String>,
    /// Allow (a code) or deny (`error=access_denied`).
    pub grant: bool,
}

impl Consent {
    /// `email` signs in and allows access.
    pub fn grant(email: impl Into<String>) -> Self {
        Self {
            email: Some(email.into()),
            grant: true,
        }
    }

    /// The user presses "Cancel".
    pub fn deny() -> Self {
        Self {
            email: None,
            grant: false,
        }
    }
}

/// The fake's memory.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub accounts: BTreeMap<String, Account>,
    pub clients: BTreeMap<String, OAuthClient>,
    pub service_accounts: BTreeMap<String, ServiceAccount>,
    /// Decisions for the next authorization requests, in order.
    pub consent_queue: VecDeque<Consent>,
    /// The decision for every request when the queue is empty.
    pub auto_consent: Option<Consent>,
    pub pending_consents: BTreeMap<u64, PendingConsent>,
    pub codes: HashMap<String, AuthCode>,
    pub grants: BTreeMap<u64, Grant>,
    pub refresh_tokens: HashMap<String, u64>,
    pub access_tokens: HashMap<String, AccessToken>,
    pub calendars: BTreeMap<String, Calendar>,
    pub channels: BTreeMap<String, Channel>,
    pub notifications: Vec<Notification>,
    /// Indexes into `notifications` still to be POSTed.
    pub outbox: Vec<usize>,
    pub faults: FaultQueue,
    pub chaos: Option<ChaosState>,
    pub stats: Stats,
    pub requests: Vec<RecordedRequest>,
    /// Counter for ids, tokens and codes.
    pub counter: u64,
    pub closed: bool,
}

impl State {
    /// A fresh number.
    pub(crate) fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A fresh opaque string like Google's (`prefix` + counter + random).
    pub(crate) fn token(&mut self, prefix: &str) -> String {
        let n = self.next();
        format!("{prefix}{n}-{}", uuid::Uuid::new_v4().simple())
    }

    /// Creates the account and its primary calendar (no-op when known).
    pub(crate) fn add_account(&mut self, email: &str, name: &str, time_zone: &str) -> Account {
        if let Some(account) = self.accounts.get(email) {
            return account.clone();
        }
        let n = self.next();
        let account = Account {
            email: email.to_owned(),
            name: name.to_owned(),
            sub: format!("1{n:020}"),
            primary_calendar: email.to_owned(),
        };
        self.accounts.insert(email.to_owned(), account.clone());
        self.calendars
            .entry(email.to_owned())
            .or_insert_with(|| Calendar {
                id: email.to_owned(),
                summary: email.to_owned(),
                time_zone: time_zone.to_owned(),
                owner: email.to_owned(),
                writers: BTreeSet::new(),
                events: BTreeMap::new(),
                seq: 1,
                min_sync: 0,
            });
        account
    }

    /// Revokes a grant and every token of it.
    pub(crate) fn revoke_grant(&mut self, grant_id: u64) {
        if let Some(grant) = self.grants.get_mut(&grant_id) {
            grant.revoked = true;
        }
        self.access_tokens
            .retain(|_, token| token.grant != grant_id);
    }
}
