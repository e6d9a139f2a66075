//! The audit log: every state-changing action, written in the same
//! transaction as the change itself.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::audit_log;
use super::types::{AuditId, TelegramId, UserId, UtcTime};
use super::{DbConn, DbError};

/// One action to record.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    /// The user who acted; `None` for the system (worker, periodic work).
    pub actor: Option<UserId>,
    /// The actor's Telegram id, also known before they are a user.
    pub actor_telegram_id: Option<TelegramId>,
    /// What happened, e.g. `user.approved`.
    pub action: &'a str,
    /// The user the action concerns, for the per-user audit view.
    pub target_user: Option<UserId>,
    /// Another object concerned, e.g. `meeting:42`.
    pub target: Option<String>,
    /// Details as JSON.
    pub data: serde_json::Value,
    pub correlation_id: Option<&'a str>,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRecord {
    pub id: AuditId,
    #[diesel(deserialize_as = UtcTime)]
    pub at: DateTime<Utc>,
    pub actor_id: Option<UserId>,
    pub actor_telegram_id: Option<TelegramId>,
    pub action: String,
    pub target_user_id: Option<UserId>,
    pub target: Option<String>,
    pub data: String,
    pub correlation_id: Option<String>,
}

impl AuditRecord {
    /// The details as JSON (`null` if the stored text is not JSON).
    pub fn data_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null)
    }
}

/// Writes one audit row. Call it with the transaction of the change.
pub fn record(
    conn: &mut DbConn,
    entry: &AuditEntry<'_>,
    at: DateTime<Utc>,
) -> Result<AuditId, DbError> {
    Ok(diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(UtcTime::from(at)),
            audit_log::actor_id.eq(entry.actor),
            audit_log::actor_telegram_id.eq(entry.actor_telegram_id),
            audit_log::action.eq(entry.action),
            audit_log::target_user_id.eq(entry.target_user),
            audit_log::target.eq(entry.target.as_deref()),
            audit_log::data.eq(entry.data.to_string()),
            audit_log::correlation_id.eq(entry.correlation_id),
        ))
        .returning(audit_log::id)
        .get_result(conn)?)
}

/// Actions by or about a user, newest first, one page at a time.
pub fn for_user(
    conn: &mut DbConn,
    user: UserId,
    limit: i64,
    offset: i64,
) -> Result<Vec<AuditRecord>, DbError> {
    Ok(audit_log::table
        .filter(
            audit_log::target_user_id
                .eq(user)
                .or(audit_log::actor_id.eq(user)),
        )
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(limit)
        .offset(offset)
        .select(AuditRecord::as_select())
        .load(conn)?)
}

/// Number of actions by or about a user (for paging).
pub fn count_for_user(conn: &mut DbConn, user: UserId) -> Result<i64, DbError> {
    Ok(audit_log::table
        .filter(
            audit_log::target_user_id
                .eq(user)
                .or(audit_log::actor_id.eq(user)),
        )
        .count()
        .get_result(conn)?)
}
