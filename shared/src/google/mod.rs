//! Google: the Calendar v3 REST client (and, alongside, OAuth and tokens).
//!
//! - [`oauth`]: the consent flow (code + PKCE), refresh, revoke, identity;
//! - [`crypto`]: tokens encrypted at rest, `state` kept as a hash;
//! - [`tokens`]: "a valid access token for user X", refreshing and
//!   persisting, marking dead grants broken.

pub mod calendar;
pub mod crypto;
pub mod oauth;
pub mod tokens;

/// Secrets cross this module's boundary wrapped, so they are never printed
/// by accident; callers expose them only at the point of use.
pub use secrecy::{ExposeSecret, SecretString};
