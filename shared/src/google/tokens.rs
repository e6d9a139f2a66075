//! "Give me a valid access token for user X": the stored connection is
//! read and decrypted, refreshed with Google when its access token is about
//! to expire, and the refreshed token persisted (encrypted). When Google
//! refuses the refresh token (`invalid_grant`: revoked, expired) or the
//! stored tokens cannot be decrypted any more (the key changed), the
//! connection is marked broken, audited, and the person is asked — once —
//! to reconnect through `/calendar`.
//!
//! A connection through the deployment's service account (a calendar the
//! owner shared with it) stores no tokens: it is answered with the
//! account's own token ([`super::service_account`]), one for every owner.
//!
//! Also here: how tokens are encrypted for storage (the associated data
//! that binds each ciphertext to its user and column), for the bot's OAuth
//! callback and `/calendar` screen.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::SecretString;

use super::crypto::{CryptoError, TokenCipher};
use super::oauth::{GoogleOAuth, GrantedTokens, Identity, OAuthError};
use super::service_account::{ServiceAccount, ServiceAccountError};
use crate::clock::Clock;
use crate::db::audit::{self, AuditEntry};
use crate::db::google_connections::{self, ConnectionKind, GoogleConnection, NewOAuthConnection};
use crate::db::outbox::{self, NewOutboxMessage};
use crate::db::types::{OutboxMessageId, UserId};
use crate::db::{Db, DbError, users};
use crate::domain::delivery::Lane;
use crate::i18n::t;
use crate::jobs::{DeliverMessage, Queue};
use crate::telegram::message::{Button, OutgoingMessage};

/// An access token this close to its expiry is refreshed first, so a
/// request made with it does not fail half-way.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(60);

/// When Google does not say how long a token lives: its usual hour.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Why no access token could be had. Never holds a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no Google calendar is connected")]
    NotConnected,
    /// For callers that need the person's own consent; [`TokenSource`]
    /// answers a service-account connection with the account's token.
    #[error("the calendar is reached through a service account, not a user's consent")]
    NotOAuth,
    /// The connection's kind (OAuth or service account) is not configured
    /// in this process any more.
    #[error("Google {0} is not configured")]
    NotConfigured(&'static str),
    /// Broken earlier; the person was asked to reconnect then.
    #[error("the Google connection is broken ({reason}); the person must reconnect")]
    Broken { reason: String },
    /// Found dead just now (`invalid_grant`, or unreadable tokens): marked
    /// broken and the person asked to reconnect.
    #[error("the Google connection stopped working ({reason}); marked broken")]
    NowBroken { reason: String },
    #[error(transparent)]
    Google(#[from] OAuthError),
    #[error(transparent)]
    ServiceAccount(#[from] ServiceAccountError),
    #[error("cannot encrypt the refreshed token: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl TokenError {
    /// Worth trying again later; the rest will not change by waiting.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Google(error) => error.is_retryable(),
            Self::ServiceAccount(error) => error.is_retryable(),
            Self::Db(_) => true,
            Self::NotConnected
            | Self::NotOAuth
            | Self::NotConfigured(_)
            | Self::Broken { .. }
            | Self::NowBroken { .. }
            | Self::Crypto(_) => false,
        }
    }
}

/// The associated data of a stored refresh token.
fn refresh_context(user: UserId) -> String {
    format!("refresh_token:user:{user}")
}

/// The associated data of a stored access token.
fn access_context(user: UserId) -> String {
    format!("access_token:user:{user}")
}

/// The associated data of a stored PKCE verifier (bound to its state).
pub fn pkce_context(state_hash: &str) -> String {
    format!("pkce_verifier:{state_hash}")
}

/// A connection a consent produced, tokens already encrypted: made
/// before the transaction that stores it, so the clear tokens stay with
/// the caller (to revoke them if storing fails).
#[derive(Debug, Clone)]
pub struct SealedConnection {
    user: UserId,
    identity: Identity,
    refresh_token_enc: Vec<u8>,
    access_token_enc: Vec<u8>,
    access_token_expires_at: DateTime<Utc>,
    key_id: String,
}

impl SealedConnection {
    /// Encrypts what a consent granted `user`. Needs a refresh token:
    /// without one the bot could not act later.
    pub fn seal(
        cipher: &TokenCipher,
        user: UserId,
        identity: Identity,
        tokens: &GrantedTokens,
        now: DateTime<Utc>,
    ) -> Result<Self, SealError> {
        use secrecy::ExposeSecret;
        let refresh = tokens
            .refresh_token
            .as_ref()
            .ok_or(SealError::NoRefreshToken)?;
        Ok(Self {
            user,
            refresh_token_enc: cipher.encrypt(refresh.expose_secret(), &refresh_context(user))?,
            access_token_enc: cipher
                .encrypt(tokens.access_token.expose_secret(), &access_context(user))?,
            access_token_expires_at: expiry(now, tokens.expires_in),
            key_id: cipher.key_id().to_owned(),
            identity,
        })
    }

    /// Whose calendar it opens.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Whose connection it is.
    pub fn user(&self) -> UserId {
        self.user
    }

    /// Stores it (replacing any earlier connection of the user) in the
    /// caller's transaction.
    pub fn store(&self, conn: &mut crate::db::DbConn, now: DateTime<Utc>) -> Result<(), DbError> {
        google_connections::upsert_oauth(
            conn,
            &NewOAuthConnection {
                user: self.user,
                google_email: &self.identity.email,
                calendar_id: &self.identity.calendar_id,
                refresh_token_enc: &self.refresh_token_enc,
                access_token_enc: &self.access_token_enc,
                access_token_expires_at: Some(self.access_token_expires_at),
                key_id: &self.key_id,
            },
            now,
        )
    }
}

/// Why a consent's tokens cannot be kept.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("Google sent no refresh token")]
    NoRefreshToken,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The stored refresh token in clear (to revoke it on disconnect).
pub fn stored_refresh_token(
    cipher: &TokenCipher,
    connection: &GoogleConnection,
) -> Result<SecretString, CryptoError> {
    let (Some(stored), Some(key_id)) = (&connection.refresh_token_enc, &connection.key_id) else {
        return Err(CryptoError::Corrupt);
    };
    cipher.decrypt(stored, key_id, &refresh_context(connection.user_id))
}

fn expiry(now: DateTime<Utc>, expires_in: Option<Duration>) -> DateTime<Utc> {
    let lifetime = expires_in.unwrap_or(DEFAULT_LIFETIME);
    now + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::hours(1))
}

/// Hands out valid access tokens for users' calendars (their own consent,
/// or the service account for a shared calendar); cheap to clone.
#[derive(Debug, Clone)]
pub struct TokenSource {
    db: Db,
    queue: Queue,
    clock: Clock,
    oauth: Option<GoogleOAuth>,
    cipher: TokenCipher,
    service_account: Option<ServiceAccount>,
}

impl TokenSource {
    pub fn new(
        db: Db,
        queue: Queue,
        clock: Clock,
        oauth: GoogleOAuth,
        cipher: TokenCipher,
    ) -> Self {
        Self {
            db,
            queue,
            clock,
            oauth: Some(oauth),
            cipher,
            service_account: None,
        }
    }

    /// A source for a deployment with any mix of OAuth and a service
    /// account (the worker's: either may be configured alone).
    pub fn with_parts(
        db: Db,
        queue: Queue,
        clock: Clock,
        cipher: TokenCipher,
        oauth: Option<GoogleOAuth>,
        service_account: Option<ServiceAccount>,
    ) -> Self {
        Self {
            db,
            queue,
            clock,
            oauth,
            cipher,
            service_account,
        }
    }

    /// Also answers service-account connections, with `account`'s token.
    #[must_use]
    pub fn with_service_account(mut self, account: ServiceAccount) -> Self {
        self.service_account = Some(account);
        self
    }

    /// A valid access token for `user`'s calendar: the stored one while it
    /// lives, else a refreshed one (persisted). `correlation_id` goes with
    /// the reconnect request if the connection turns out dead.
    pub async fn access_token(
        &self,
        user: UserId,
        correlation_id: &str,
    ) -> Result<SecretString, TokenError> {
        self.get(user, correlation_id, false).await
    }

    /// A new access token even if the stored one has not expired (Google
    /// answered 401 to it).
    pub async fn refreshed_access_token(
        &self,
        user: UserId,
        correlation_id: &str,
    ) -> Result<SecretString, TokenError> {
        self.get(user, correlation_id, true).await
    }

    async fn get(
        &self,
        user: UserId,
        correlation_id: &str,
        force_refresh: bool,
    ) -> Result<SecretString, TokenError> {
        let connection = self
            .db
            .read(move |c| google_connections::find(c, user))
            .await?
            .ok_or(TokenError::NotConnected)?;
        if !connection.is_active() {
            return Err(TokenError::Broken {
                reason: connection.broken_reason.unwrap_or_default(),
            });
        }
        if connection.kind == ConnectionKind::ServiceAccount {
            let account = self
                .service_account
                .as_ref()
                .ok_or(TokenError::NotConfigured("service account"))?;
            return Ok(if force_refresh {
                account.refresh().await?
            } else {
                account.access_token().await?
            });
        }
        let Some(oauth) = &self.oauth else {
            return Err(TokenError::NotConfigured("OAuth"));
        };
        let key_id = connection.key_id.clone().unwrap_or_default();
        let now = self.clock.now();
        if !force_refresh
            && let (Some(stored), Some(expires_at)) = (
                &connection.access_token_enc,
                connection.access_token_expires_at,
            )
            && expires_at > now + EXPIRY_MARGIN
            && let Ok(token) = self.cipher.decrypt(stored, &key_id, &access_context(user))
        {
            return Ok(token);
        }
        let Some(used_refresh_enc) = connection.refresh_token_enc.clone() else {
            return Err(self
                .break_connection(&connection, None, "no refresh token stored", correlation_id)
                .await);
        };
        let refresh = match stored_refresh_token(&self.cipher, &connection) {
            Ok(refresh) => refresh,
            Err(error) => {
                let reason = match error {
                    CryptoError::WrongKey { .. } => "the token encryption key changed",
                    _ => "the stored token cannot be decrypted",
                };
                tracing::warn!(%error, %user, "stored Google token unreadable");
                return Err(self
                    .break_connection(&connection, Some(used_refresh_enc), reason, correlation_id)
                    .await);
            }
        };
        let granted = match oauth.refresh(&refresh).await {
            Ok(granted) => granted,
            Err(OAuthError::InvalidGrant { .. }) => {
                return Err(self
                    .break_connection(
                        &connection,
                        Some(used_refresh_enc),
                        "Google refused the refresh token (revoked or expired)",
                        correlation_id,
                    )
                    .await);
            }
            Err(error) => return Err(error.into()),
        };
        self.persist(user, used_refresh_enc, &granted).await?;
        Ok(granted.access_token)
    }

    /// Stores a refreshed access token; a failure to store is logged only
    /// (the token in hand is still good).
    async fn persist(
        &self,
        user: UserId,
        used_refresh_enc: Vec<u8>,
        granted: &GrantedTokens,
    ) -> Result<(), TokenError> {
        use secrecy::ExposeSecret;
        let now = self.clock.now();
        let access_enc = self
            .cipher
            .encrypt(granted.access_token.expose_secret(), &access_context(user))?;
        let rotated = match &granted.refresh_token {
            Some(token) => Some(
                self.cipher
                    .encrypt(token.expose_secret(), &refresh_context(user))?,
            ),
            None => None,
        };
        let expires_at = expiry(now, granted.expires_in);
        let stored = self
            .db
            .write(move |c| {
                google_connections::store_refreshed(
                    c,
                    user,
                    &used_refresh_enc,
                    &access_enc,
                    Some(expires_at),
                    rotated.as_deref(),
                    now,
                )
            })
            .await;
        match stored {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(%user, "refreshed Google token not stored: the connection changed meanwhile")
            }
            Err(error) => tracing::warn!(%error, %user, "cannot store the refreshed Google token"),
        }
        Ok(())
    }

    /// Marks the connection broken (if it still is the one we read), audits
    /// it and asks the person to reconnect; answers the error to return.
    async fn break_connection(
        &self,
        connection: &GoogleConnection,
        used_refresh_enc: Option<Vec<u8>>,
        reason: &'static str,
        correlation_id: &str,
    ) -> TokenError {
        let user = connection.user_id;
        let email = connection.google_email.clone().unwrap_or_default();
        let now = self.clock.now();
        let correlation = correlation_id.to_owned();
        let outcome = self
            .db
            .write(move |c| {
                if !google_connections::mark_broken(
                    c,
                    user,
                    used_refresh_enc.as_deref(),
                    reason,
                    now,
                )? {
                    return Ok(None);
                }
                audit::record(
                    c,
                    &AuditEntry {
                        actor: None,
                        actor_telegram_id: None,
                        action: "calendar.broken",
                        target_user: Some(user),
                        target: None,
                        data: serde_json::json!({ "reason": reason, "email": email }),
                        correlation_id: Some(&correlation),
                    },
                    now,
                )?;
                reconnect_notice(c, user, &email, &correlation, now)
            })
            .await;
        match outcome {
            Ok(Some(notice)) => {
                tracing::warn!(%user, reason, "Google connection broken; the owner was asked to reconnect");
                DeliverMessage::push_after_commit(&self.queue, notice, correlation_id).await;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, %user, "cannot mark the Google connection broken");
                return TokenError::Db(error);
            }
        }
        TokenError::NowBroken {
            reason: reason.to_owned(),
        }
    }
}

/// "Your calendar stopped working — reconnect" in the person's language.
fn reconnect_notice(
    conn: &mut crate::db::DbConn,
    user: UserId,
    email: &str,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let Some(person) = users::find(conn, user)? else {
        return Ok(None);
    };
    let language = person.language;
    let message = OutgoingMessage::with_buttons(
        t(language, "calendar.broken_notice", &[("email", email)]),
        vec![vec![Button::new(
            t(language, "calendar.button.reconnect", &[]),
            "cal:show",
        )]],
    );
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: person.telegram_id.0,
            recipient: Some(user),
            kind: "calendar.broken",
            lane: Lane::Interactive,
            body: message.to_json(),
            broadcast: None,
            dedupe_key: None,
            correlation_id: Some(correlation_id),
        },
        now,
    )
}
