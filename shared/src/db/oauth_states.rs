//! Pending Google consents: one row per consent link, bound to the user
//! who asked for it, usable once and for [`STATE_LIFETIME`].
//!
//! Only the SHA-256 hash of `state` is stored (see
//! `crate::google::crypto::state_hash`), and the PKCE verifier encrypted:
//! a copy of the table completes nobody's consent. A state is spent by one
//! conditional `UPDATE … WHERE used_at IS NULL AND expires_at > now`, so of
//! two callbacks racing with the same state exactly one wins, on both
//! backends, without row locks.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;

use super::schema::oauth_states;
use super::types::{UserId, UtcTime};
use super::{DbConn, DbError};

/// How long a consent link works (the issue asks for 10 minutes).
pub const STATE_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// Rows kept after they expired, so a late callback can still be told
/// "expired" rather than "unknown"; older ones are purged.
const KEEP_EXPIRED: TimeDelta = TimeDelta::days(1);

/// A consent link to remember.
#[derive(Debug, Clone)]
pub struct NewOAuthState<'a> {
    /// Hex SHA-256 of the `state` in the link.
    pub state_hash: &'a str,
    pub user: UserId,
    /// The PKCE verifier, encrypted.
    pub pkce_verifier_enc: &'a [u8],
    /// The id of the key that encrypted it.
    pub key_id: &'a str,
}

/// A state just spent: whose it is and the verifier to finish with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpentState {
    pub user: UserId,
    pub pkce_verifier_enc: Vec<u8>,
    pub key_id: String,
}

/// What a callback's `state` turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spend {
    /// Valid: now marked used.
    Spent(SpentState),
    /// Never issued (forged, mistyped, or purged long ago).
    Unknown,
    /// Already used by an earlier callback (a replay or a reload).
    AlreadyUsed,
    /// Issued, unused, but older than [`STATE_LIFETIME`].
    Expired,
}

/// Remembers a consent link for [`STATE_LIFETIME`] from `now`, and purges
/// this user's links that expired long ago.
pub fn insert(
    conn: &mut DbConn,
    new: &NewOAuthState<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::delete(
        oauth_states::table
            .filter(oauth_states::user_id.eq(new.user))
            .filter(oauth_states::expires_at.lt(UtcTime::from(now - KEEP_EXPIRED))),
    )
    .execute(conn)?;
    diesel::insert_into(oauth_states::table)
        .values((
            oauth_states::state_hash.eq(new.state_hash),
            oauth_states::user_id.eq(new.user),
            oauth_states::pkce_verifier_enc.eq(new.pkce_verifier_enc),
            oauth_states::key_id.eq(new.key_id),
            oauth_states::created_at.eq(UtcTime::from(now)),
            oauth_states::expires_at.eq(UtcTime::from(now + STATE_LIFETIME)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Spends the state with this hash if it is unused and unexpired at `now`;
/// otherwise says why not. Call it inside a write transaction.
pub fn spend(conn: &mut DbConn, state_hash: &str, now: DateTime<Utc>) -> Result<Spend, DbError> {
    let now_stored = UtcTime::from(now);
    let spent: Option<(UserId, Vec<u8>, String)> = diesel::update(
        oauth_states::table
            .filter(oauth_states::state_hash.eq(state_hash))
            .filter(oauth_states::used_at.is_null())
            .filter(oauth_states::expires_at.gt(now_stored)),
    )
    .set(oauth_states::used_at.eq(Some(now_stored)))
    .returning((
        oauth_states::user_id,
        oauth_states::pkce_verifier_enc,
        oauth_states::key_id,
    ))
    .get_result(conn)
    .optional()?;
    if let Some((user, pkce_verifier_enc, key_id)) = spent {
        return Ok(Spend::Spent(SpentState {
            user,
            pkce_verifier_enc,
            key_id,
        }));
    }
    let used_at: Option<Option<UtcTime>> = oauth_states::table
        .filter(oauth_states::state_hash.eq(state_hash))
        .select(oauth_states::used_at)
        .first(conn)
        .optional()?;
    Ok(match used_at {
        None => Spend::Unknown,
        Some(Some(_)) => Spend::AlreadyUsed,
        Some(None) => Spend::Expired,
    })
}

/// Consent links of `user` issued and not used yet, still valid at `now`.
pub fn open_count(conn: &mut DbConn, user: UserId, now: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(oauth_states::table
        .filter(oauth_states::user_id.eq(user))
        .filter(oauth_states::used_at.is_null())
        .filter(oauth_states::expires_at.gt(UtcTime::from(now)))
        .count()
        .get_result(conn)?)
}
