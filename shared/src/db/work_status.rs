//! The automatic return to working: who may be due, and the return itself
//! as one conditional change with its audit row and the message that says
//! so, so any number of workers running it at once change and tell each
//! user once.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::json;

use super::audit::{self, AuditEntry};
use super::outbox::{self, NewOutboxMessage};
use super::schema::users;
use super::types::{OutboxMessageId, UserId, UtcTime};
use super::users::User;
use super::{DbConn, DbError};
use crate::domain::delivery::Lane;
use crate::domain::user::{Status, WorkStatus};

/// The audit action of an automatic return.
pub const RETURN_ACTION: &str = "work_status.returned";

/// Active users away with a last day before `before`, oldest absence first:
/// the candidates for a return. The caller decides per user, in their own
/// zone, whether the absence is really over (pass the latest date it can
/// be anywhere, so no one due is missed).
pub fn away_until_before(
    conn: &mut DbConn,
    before: NaiveDate,
    limit: i64,
) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .filter(users::status.eq(Status::Active))
        .filter(users::work_status.ne(WorkStatus::Working))
        .filter(users::work_status_until.lt(before))
        .order((users::work_status_until, users::id))
        .limit(limit)
        .select(User::as_select())
        .load(conn)?)
}

/// One return, as the worker decided it.
#[derive(Debug, Clone)]
pub struct Return {
    pub user: UserId,
    /// The status and last day the decision was made on: the change happens
    /// only if the user still has exactly these.
    pub was: WorkStatus,
    pub until: NaiveDate,
    /// The message for the user (an `OutgoingMessage` as JSON).
    pub chat_id: i64,
    pub body: String,
    pub correlation_id: String,
}

impl Return {
    /// Names the message: one per user and absence, however many workers.
    pub fn dedupe_key(&self) -> String {
        format!("work-status-return:{}:{}", self.user, self.until)
    }
}

/// Sets the user back to working if they still have the status and last
/// day of `ret`, records it (actor: the system) and queues the message.
/// Returns the message to push, or `None` when someone else did it first
/// or the user changed their status meanwhile. Call it in a write
/// transaction.
pub fn return_to_working(
    conn: &mut DbConn,
    ret: &Return,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let changed = diesel::update(
        users::table
            .find(ret.user)
            .filter(users::status.eq(Status::Active))
            .filter(users::work_status.eq(ret.was))
            .filter(users::work_status_until.eq(ret.until)),
    )
    .set((
        users::work_status.eq(WorkStatus::Working),
        users::work_status_until.eq(None::<NaiveDate>),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Ok(None);
    }
    audit::record(
        conn,
        &AuditEntry {
            actor: None,
            actor_telegram_id: None,
            action: RETURN_ACTION,
            target_user: Some(ret.user),
            target: None,
            data: json!({
                "from": ret.was,
                "until": ret.until,
                "to": WorkStatus::Working,
            }),
            correlation_id: Some(&ret.correlation_id),
        },
        now,
    )?;
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: ret.chat_id,
            recipient: Some(ret.user),
            kind: RETURN_ACTION,
            lane: Lane::Bulk,
            body: ret.body.clone(),
            broadcast: None,
            dedupe_key: Some(ret.dedupe_key()),
            correlation_id: Some(&ret.correlation_id),
        },
        now,
    )
}
