//! Google: the Calendar v3 REST client (and, alongside, OAuth and tokens).
//!
//! - [`oauth`]: the consent flow (code + PKCE), refresh, revoke, identity;
//! - [`crypto`]: tokens encrypted at rest, `state` kept as a hash;
//! - [`tokens`]: "a valid access token for user X", refreshing and
//!   persisting, marking dead grants broken;
//! - [`service_account`]: the JWT-bearer token of a service account that
//!   owners share their calendars with.

pub mod calendar;
pub mod crypto;
pub mod oauth;
pub mod service_account;
pub mod tokens;

/// Secrets cross this module's boundary wrapped, so they are never printed
/// by accident; callers expose them only at the point of use.
pub use secrecy::{ExposeSecret, SecretString};

/// The OAuth client and token cipher of this deployment, built from the
/// settings: what a process needs to act on a person's calendar with their
/// consent (the bot to store a consent, the worker to refresh tokens).
/// `None` when Google OAuth is not configured (no client, or no key).
pub fn oauth_from_config(
    google: &crate::config::GoogleConfig,
    http: &crate::config::HttpConfig,
    timeout: std::time::Duration,
) -> Result<Option<(oauth::GoogleOAuth, crypto::TokenCipher)>, oauth::OAuthError> {
    let oauth = oauth::GoogleOAuth::from_config(google, http, timeout)?;
    Ok(match (oauth, &google.token_encryption_key) {
        (Some(oauth), Some(key)) => Some((oauth, crypto::TokenCipher::new(key))),
        _ => None,
    })
}

/// The service account of this deployment, built from the settings:
/// what a process needs to act on calendars owners shared with it.
/// `None` when no key is configured; an unusable key is an error.
pub fn service_account_from_config(
    google: &crate::config::GoogleConfig,
    clock: &crate::clock::Clock,
) -> Result<Option<service_account::ServiceAccount>, service_account::ServiceAccountError> {
    google
        .service_account
        .as_ref()
        .map(|key| {
            service_account::ServiceAccount::new(
                key,
                google.token_url.clone(),
                google.http_timeout,
                clock.clone(),
            )
        })
        .transpose()
}
