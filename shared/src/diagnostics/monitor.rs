//! The health monitor's memory: each check's observed status in
//! `health_states`, and alerts to every active admin only when a check
//! starts or stops failing — at most once a minute per check, however it
//! flaps, and once however many workers observe it.
//!
//! What admins last heard is `alerted_status`; an alert is due when
//! "failing" (critical) differs between the observation and what they
//! heard, and is claimed by a conditional update in the transaction that
//! writes the messages, so two workers never both send it.

use chrono::{DateTime, TimeDelta, Utc};

use super::render::{self, Target};
use super::{Check, Status, Text};
use crate::db::diagnostics::{self as store, HealthState};
use crate::db::outbox::{self, NewOutboxMessage};
use crate::db::types::OutboxMessageId;
use crate::db::{Db, DbConn, DbError, users};
use crate::domain::delivery::Lane;
use crate::i18n::t;
use crate::telegram::OutgoingMessage;

/// The shortest time between two alerts about one check.
pub const QUIET: TimeDelta = TimeDelta::minutes(1);

/// Whether a stored status is a failure (what admins are told about).
fn failing(stored: &str) -> bool {
    stored == Status::Fail.stored()
}

/// Stores the observed `checks` and writes the alerts that are due, in one
/// transaction; returns the messages to push.
pub async fn record(
    db: &Db,
    checks: Vec<Check>,
    now: DateTime<Utc>,
    correlation_id: &str,
) -> Result<Vec<OutboxMessageId>, DbError> {
    let correlation_id = correlation_id.to_owned();
    db.write(move |conn| {
        let mut queued = Vec::new();
        for check in &checks {
            queued.extend(observe(conn, check, now, &correlation_id)?);
        }
        Ok(queued)
    })
    .await
}

/// The stored states (for `/diag` and tests).
pub async fn states(db: &Db) -> Result<Vec<HealthState>, DbError> {
    db.read(store::health_states).await
}

fn observe(
    conn: &mut DbConn,
    check: &Check,
    now: DateTime<Utc>,
    correlation_id: &str,
) -> Result<Vec<OutboxMessageId>, DbError> {
    let status = check.status.stored();
    store::observe_health(conn, &check.name, status, &check.figure, now)?;
    let heard = store::health_states(conn)?
        .into_iter()
        .find(|state| state.check_name == check.name)
        .and_then(|state| state.alerted_status);
    let heard_failing = heard.as_deref().is_some_and(failing);
    if failing(status) == heard_failing {
        return Ok(Vec::new());
    }
    if !store::claim_alert(conn, &check.name, heard.as_deref(), status, now, QUIET)? {
        return Ok(Vec::new());
    }
    tracing::info!(check = %check.name, status, "health alert: a check changed state");
    alert_admins(conn, check, now, correlation_id)
}

/// One message per active, reachable admin, in their language.
fn alert_admins(
    conn: &mut DbConn,
    check: &Check,
    now: DateTime<Utc>,
    correlation_id: &str,
) -> Result<Vec<OutboxMessageId>, DbError> {
    let mut queued = Vec::new();
    for admin in users::active_admins(conn)? {
        if admin.unreachable_at.is_some() {
            continue;
        }
        let language = admin.language;
        let text = if check.status == Status::Fail {
            let mut text = t(language, "diag.alert.failing", &[("check", &check.name)]);
            if let Some(evidence) = check.evidence.first() {
                text.push('\n');
                text.push_str(&render::text(language, Target::Html, evidence));
            }
            if let Some(fix) = &check.fix {
                text.push('\n');
                text.push_str(&render::text(
                    language,
                    Target::Html,
                    &Text::new("diag.alert.fix")
                        .with("fix", render::text(language, Target::Plain, fix)),
                ));
            }
            text
        } else {
            t(language, "diag.alert.recovered", &[("check", &check.name)])
        };
        let message = NewOutboxMessage {
            chat_id: admin.telegram_id.0,
            recipient: Some(admin.id),
            kind: "admin.health_alert",
            lane: Lane::Bulk,
            body: OutgoingMessage::text(text).to_json(),
            broadcast: None,
            dedupe_key: Some(format!(
                "health:{}:{}:{}:{}",
                check.name,
                check.status.stored(),
                now.timestamp_millis(),
                admin.id.0
            )),
            correlation_id: Some(correlation_id),
        };
        queued.extend(outbox::insert(conn, &message, now)?);
    }
    Ok(queued)
}
