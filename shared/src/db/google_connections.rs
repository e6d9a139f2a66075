//! Google Calendar connections: one per user, holding the OAuth tokens
//! encrypted (`crate::google::crypto`), whose account and calendar they
//! open, and whether they still work.
//!
//! Tokens never appear here in clear: callers encrypt before and decrypt
//! after (`crate::google::tokens` does both). Changes that follow a token
//! Google issued earlier — a refreshed access token, "this grant is dead" —
//! are conditional on the row still holding the refresh token they came
//! from, so they never land on a connection made anew in between.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::schema::{busy_intervals, google_connections};
use super::types::{OptionalUtcTime, UserId, UtcTime};
use super::{DbConn, DbError};
use crate::per_backend;

/// How the calendar is reached.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[strum(serialize_all = "snake_case")]
#[diesel(sql_type = Text)]
pub enum ConnectionKind {
    /// The person's own consent (authorization code + PKCE).
    Oauth,
    /// A service account with access to a shared calendar.
    ServiceAccount,
}

/// Whether the connection still works.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[strum(serialize_all = "snake_case")]
#[diesel(sql_type = Text)]
pub enum ConnectionStatus {
    Active,
    /// Google refused the grant (revoked, expired, or the key changed):
    /// the person must connect again.
    Broken,
}

/// A stored connection (tokens still encrypted).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = google_connections)]
pub struct GoogleConnection {
    pub user_id: UserId,
    pub kind: ConnectionKind,
    pub status: ConnectionStatus,
    pub google_email: Option<String>,
    pub calendar_id: String,
    pub refresh_token_enc: Option<Vec<u8>>,
    pub access_token_enc: Option<Vec<u8>>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// The key that encrypted both tokens.
    pub key_id: Option<String>,
    pub sync_token: Option<String>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub busy_synced_at: Option<DateTime<Utc>>,
    pub watch_channel_id: Option<String>,
    pub watch_resource_id: Option<String>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub watch_expires_at: Option<DateTime<Utc>>,
    pub broken_reason: Option<String>,
    #[diesel(deserialize_as = UtcTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(deserialize_as = UtcTime)]
    pub updated_at: DateTime<Utc>,
}

impl GoogleConnection {
    /// Whether it works as far as the bot knows.
    pub fn is_active(&self) -> bool {
        self.status == ConnectionStatus::Active
    }
}

/// A connection just consented to, tokens already encrypted.
#[derive(Debug, Clone)]
pub struct NewOAuthConnection<'a> {
    pub user: UserId,
    pub google_email: &'a str,
    pub calendar_id: &'a str,
    pub refresh_token_enc: &'a [u8],
    pub access_token_enc: &'a [u8],
    pub access_token_expires_at: Option<DateTime<Utc>>,
    pub key_id: &'a str,
}

/// The user's connection, if any.
pub fn find(conn: &mut DbConn, user: UserId) -> Result<Option<GoogleConnection>, DbError> {
    Ok(google_connections::table
        .find(user)
        .select(GoogleConnection::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a fresh OAuth connection, replacing any earlier one of the user
/// (reconnecting, perhaps to another account): it starts active, and the
/// sync state of the old calendar is forgotten so the next sync starts
/// over.
pub fn upsert_oauth(
    conn: &mut DbConn,
    new: &NewOAuthConnection<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let expires_at = new.access_token_expires_at.map(UtcTime::from);
    let row = (
        google_connections::user_id.eq(new.user),
        google_connections::kind.eq(ConnectionKind::Oauth),
        google_connections::status.eq(ConnectionStatus::Active),
        google_connections::google_email.eq(Some(new.google_email)),
        google_connections::calendar_id.eq(new.calendar_id),
        google_connections::refresh_token_enc.eq(Some(new.refresh_token_enc)),
        google_connections::access_token_enc.eq(Some(new.access_token_enc)),
        google_connections::access_token_expires_at.eq(expires_at),
        google_connections::key_id.eq(Some(new.key_id)),
        google_connections::created_at.eq(UtcTime::from(now)),
        google_connections::updated_at.eq(UtcTime::from(now)),
    );
    let update = (
        google_connections::kind.eq(ConnectionKind::Oauth),
        google_connections::status.eq(ConnectionStatus::Active),
        google_connections::google_email.eq(Some(new.google_email)),
        google_connections::calendar_id.eq(new.calendar_id),
        google_connections::refresh_token_enc.eq(Some(new.refresh_token_enc)),
        google_connections::access_token_enc.eq(Some(new.access_token_enc)),
        google_connections::access_token_expires_at.eq(expires_at),
        google_connections::key_id.eq(Some(new.key_id)),
        google_connections::sync_token.eq(None::<String>),
        google_connections::busy_synced_at.eq(None::<UtcTime>),
        // The old calendar's push channel is left to expire; a notification
        // on it no longer names this connection.
        google_connections::watch_channel_id.eq(None::<String>),
        google_connections::watch_resource_id.eq(None::<String>),
        google_connections::watch_expires_at.eq(None::<UtcTime>),
        google_connections::broken_reason.eq(None::<String>),
        google_connections::updated_at.eq(UtcTime::from(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(google_connections::table)
        .values(row)
        .on_conflict(google_connections::user_id)
        .do_update()
        .set(update)
        .execute(c))?;
    Ok(())
}

/// A refreshed access token (and a rotated refresh token, if Google sent
/// one), stored only while the row still holds `used_refresh_enc`.
/// Returns whether it was stored.
pub fn store_refreshed(
    conn: &mut DbConn,
    user: UserId,
    used_refresh_enc: &[u8],
    access_token_enc: &[u8],
    expires_at: Option<DateTime<Utc>>,
    rotated_refresh_enc: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let target = google_connections::table
        .filter(google_connections::user_id.eq(user))
        .filter(google_connections::status.eq(ConnectionStatus::Active))
        .filter(google_connections::refresh_token_enc.eq(used_refresh_enc));
    let refresh = rotated_refresh_enc.unwrap_or(used_refresh_enc);
    let changed = diesel::update(target)
        .set((
            google_connections::access_token_enc.eq(Some(access_token_enc)),
            google_connections::access_token_expires_at.eq(expires_at.map(UtcTime::from)),
            google_connections::refresh_token_enc.eq(Some(refresh)),
            google_connections::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Marks the connection broken with a short reason (no secrets), while it
/// still holds `used_refresh_enc` (any, when `None`). Returns whether it
/// changed: false when already broken, gone, or replaced meanwhile.
pub fn mark_broken(
    conn: &mut DbConn,
    user: UserId,
    used_refresh_enc: Option<&[u8]>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let active = google_connections::table
        .filter(google_connections::user_id.eq(user))
        .filter(google_connections::status.eq(ConnectionStatus::Active));
    let values = || {
        (
            google_connections::status.eq(ConnectionStatus::Broken),
            google_connections::broken_reason.eq(Some(reason)),
            google_connections::access_token_enc.eq(None::<Vec<u8>>),
            google_connections::access_token_expires_at.eq(None::<UtcTime>),
            google_connections::updated_at.eq(UtcTime::from(now)),
        )
    };
    let changed = match used_refresh_enc {
        Some(used) => diesel::update(active.filter(google_connections::refresh_token_enc.eq(used)))
            .set(values())
            .execute(conn)?,
        None => diesel::update(active).set(values()).execute(conn)?,
    };
    Ok(changed > 0)
}

/// Forgets the user's connection and the busy times read through it;
/// returns what was stored (to revoke its token after commit).
pub fn delete(conn: &mut DbConn, user: UserId) -> Result<Option<GoogleConnection>, DbError> {
    let Some(existing) = find(conn, user)? else {
        return Ok(None);
    };
    diesel::delete(busy_intervals::table.filter(busy_intervals::user_id.eq(user))).execute(conn)?;
    let deleted = diesel::delete(google_connections::table.find(user)).execute(conn)?;
    Ok((deleted > 0).then_some(existing))
}

/// A connection due for a busy sync: the user, and when their busy times
/// were last read (`None`: never).
pub type DueSync = (UserId, Option<DateTime<Utc>>);

/// Active connections whose busy times were never read or last read before
/// `synced_before`, least recently synced first: what the busy-sync sweep
/// queues. Each with when it was last synced (part of the job's key).
pub fn due_for_busy_sync(
    conn: &mut DbConn,
    synced_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<DueSync>, DbError> {
    let rows: Vec<(UserId, Option<UtcTime>)> = google_connections::table
        .filter(google_connections::status.eq(ConnectionStatus::Active))
        .filter(
            google_connections::busy_synced_at
                .is_null()
                .or(google_connections::busy_synced_at.lt(UtcTime::from(synced_before))),
        )
        .order((
            google_connections::busy_synced_at.asc(),
            google_connections::user_id.asc(),
        ))
        .limit(limit)
        .select((
            google_connections::user_id,
            google_connections::busy_synced_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user, at)| (user, at.map(DateTime::from)))
        .collect())
}

/// Records a finished busy sync: the new sync token and `busy_synced_at`,
/// only while the connection is still active, on `calendar_id`, and holds
/// `read_token` — the token the listing started from. `false` means
/// another sync (or a reconnect) got there first: the caller's results
/// are stale and must not be written. Call it in the transaction that
/// writes the intervals.
pub fn finish_busy_sync(
    conn: &mut DbConn,
    user: UserId,
    calendar_id: &str,
    read_token: Option<&str>,
    new_token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let target = google_connections::table
        .filter(google_connections::user_id.eq(user))
        .filter(google_connections::status.eq(ConnectionStatus::Active))
        .filter(google_connections::calendar_id.eq(calendar_id));
    let values = (
        google_connections::sync_token.eq(new_token),
        google_connections::busy_synced_at.eq(Some(UtcTime::from(now))),
    );
    let changed = match read_token {
        Some(token) => diesel::update(target.filter(google_connections::sync_token.eq(token)))
            .set(values)
            .execute(conn)?,
        None => diesel::update(target.filter(google_connections::sync_token.is_null()))
            .set(values)
            .execute(conn)?,
    };
    Ok(changed > 0)
}

/// Forgets the stored sync token (Google answered 410: it is stale), so
/// the next listing is a full one.
pub fn drop_sync_token(conn: &mut DbConn, user: UserId, stale: &str) -> Result<(), DbError> {
    diesel::update(
        google_connections::table
            .filter(google_connections::user_id.eq(user))
            .filter(google_connections::sync_token.eq(stale)),
    )
    .set(google_connections::sync_token.eq(None::<String>))
    .execute(conn)?;
    Ok(())
}

/// The connection a push channel belongs to, if any.
pub fn find_by_channel(
    conn: &mut DbConn,
    channel_id: &str,
) -> Result<Option<GoogleConnection>, DbError> {
    Ok(google_connections::table
        .filter(google_connections::watch_channel_id.eq(channel_id))
        .select(GoogleConnection::as_select())
        .first(conn)
        .optional()?)
}

/// Active connections (own or shared calendars) without a push channel,
/// or whose channel ends before `renew_before`: what the sweep (re)opens
/// channels for.
pub fn watches_due(
    conn: &mut DbConn,
    renew_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<GoogleConnection>, DbError> {
    Ok(google_connections::table
        .filter(google_connections::status.eq(ConnectionStatus::Active))
        .filter(
            google_connections::watch_channel_id
                .is_null()
                .or(google_connections::watch_expires_at.is_null())
                .or(google_connections::watch_expires_at.lt(UtcTime::from(renew_before))),
        )
        .order(google_connections::user_id.asc())
        .limit(limit)
        .select(GoogleConnection::as_select())
        .load(conn)?)
}

/// A push channel just opened on the user's calendar.
#[derive(Debug, Clone)]
pub struct Watch<'a> {
    pub channel_id: &'a str,
    pub resource_id: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// Stores `watch` as the user's push channel, replacing `previous` (the
/// channel id read before it was opened). `false` when the row changed
/// meanwhile (another worker renewed it, a reconnect, a disconnect): the
/// caller then stops the channel it opened.
pub fn replace_watch(
    conn: &mut DbConn,
    user: UserId,
    previous: Option<&str>,
    watch: &Watch<'_>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let target = google_connections::table
        .filter(google_connections::user_id.eq(user))
        .filter(google_connections::status.eq(ConnectionStatus::Active));
    let values = (
        google_connections::watch_channel_id.eq(Some(watch.channel_id)),
        google_connections::watch_resource_id.eq(Some(watch.resource_id)),
        google_connections::watch_expires_at.eq(Some(UtcTime::from(watch.expires_at))),
        google_connections::updated_at.eq(UtcTime::from(now)),
    );
    let changed = match previous {
        Some(id) => diesel::update(target.filter(google_connections::watch_channel_id.eq(id)))
            .set(values)
            .execute(conn)?,
        None => diesel::update(target.filter(google_connections::watch_channel_id.is_null()))
            .set(values)
            .execute(conn)?,
    };
    Ok(changed > 0)
}

/// Stores a connection through the deployment's service account to
/// `calendar_id` (a calendar the user shared with it), replacing any
/// earlier connection of the user. No tokens: the service account's own
/// token opens it. Sync and push state start over, as on a reconnect.
pub fn upsert_service_account(
    conn: &mut DbConn,
    user: UserId,
    calendar_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let row = (
        google_connections::user_id.eq(user),
        google_connections::kind.eq(ConnectionKind::ServiceAccount),
        google_connections::status.eq(ConnectionStatus::Active),
        google_connections::google_email.eq(None::<String>),
        google_connections::calendar_id.eq(calendar_id),
        google_connections::created_at.eq(UtcTime::from(now)),
        google_connections::updated_at.eq(UtcTime::from(now)),
    );
    let update = (
        google_connections::kind.eq(ConnectionKind::ServiceAccount),
        google_connections::status.eq(ConnectionStatus::Active),
        google_connections::google_email.eq(None::<String>),
        google_connections::calendar_id.eq(calendar_id),
        google_connections::refresh_token_enc.eq(None::<Vec<u8>>),
        google_connections::access_token_enc.eq(None::<Vec<u8>>),
        google_connections::access_token_expires_at.eq(None::<UtcTime>),
        google_connections::key_id.eq(None::<String>),
        google_connections::sync_token.eq(None::<String>),
        google_connections::busy_synced_at.eq(None::<UtcTime>),
        google_connections::watch_channel_id.eq(None::<String>),
        google_connections::watch_resource_id.eq(None::<String>),
        google_connections::watch_expires_at.eq(None::<UtcTime>),
        google_connections::broken_reason.eq(None::<String>),
        google_connections::updated_at.eq(UtcTime::from(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(google_connections::table)
        .values(row)
        .on_conflict(google_connections::user_id)
        .do_update()
        .set(update)
        .execute(c))?;
    Ok(())
}
