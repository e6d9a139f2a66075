//! Changes an owner made to a meeting's event in Google Calendar, applied to
//! the meeting: Google is the owner's own calendar, so what they did there
//! stands. A deleted event cancels the meeting (the bot never puts it
//! back) and the manager is told once.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use shared::db::audit::{self, AuditEntry};
use shared::db::meetings::{self, Meeting};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{MeetingId, OutboxMessageId, UserId};
use shared::db::users;
use shared::db::{DbConn, DbError, calendar_sync};
use shared::domain::booking::BookingError;
use shared::domain::delivery::Lane;
use shared::domain::profile::stored_zone;
use shared::i18n::dates::meeting_when;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, JobContext, SyncCalendar};
use shared::telegram::OutgoingMessage;

use crate::jobs::Clients;

/// The audit action of a meeting cancelled because its owner deleted the
/// event in Google Calendar.
const DELETED_IN_CALENDAR_ACTION: &str = "meeting.cancelled_in_calendar";

/// The owner deleted the event `event_id` of meeting `id` in Google: the
/// meeting is cancelled, the manager told (once) and the sync of the
/// cancellation queued. Returns whether this call cancelled it (a meeting
/// cancelled or moved meanwhile is left to that change's own job).
pub(crate) async fn event_deleted(
    ctx: &JobContext<Clients>,
    id: MeetingId,
    owner: UserId,
    event_id: &str,
    correlation_id: &str,
) -> Result<bool, DbError> {
    let now = ctx.clock.now();
    let audit_correlation = correlation_id.to_owned();
    let event_id = event_id.to_owned();
    let company_zone = ctx.clients.company_zone;
    let cancelled = ctx
        .db
        .write(move |c| {
            calendar_sync::record_event(c, id, owner, &event_id, None)?;
            let cancelled = match meetings::cancel(c, id, owner, None, now) {
                Ok(cancelled) => cancelled,
                Err(BookingError::Db(error)) => return Err(error),
                // Cancelled or moved meanwhile: that change's job syncs.
                Err(_) => return Ok(None),
            };
            audit::record(
                c,
                &AuditEntry {
                    actor: Some(owner),
                    actor_telegram_id: None,
                    action: DELETED_IN_CALENDAR_ACTION,
                    target_user: Some(cancelled.manager_id),
                    target: Some(format!("meeting:{}", id.0)),
                    data: json!({ "revision": cancelled.revision, "event_id": event_id }),
                    correlation_id: Some(&audit_correlation),
                },
                now,
            )?;
            let notice =
                tell_manager_deleted(c, &cancelled, owner, company_zone, &audit_correlation, now)?;
            Ok(Some((cancelled.revision, notice)))
        })
        .await?;
    let Some((revision, notice)) = cancelled else {
        return Ok(false);
    };
    tracing::info!(meeting_id = %id, "the owner deleted the event in Google; meeting cancelled");
    if let Some(outbox_id) = notice {
        DeliverMessage::push_after_commit(&ctx.clients.queue, outbox_id, correlation_id).await;
    }
    SyncCalendar::push_after_commit(&ctx.clients.queue, id, revision, correlation_id).await;
    Ok(true)
}

/// Tells the manager (once) that the owner deleted the meeting's event in
/// Google Calendar, so the meeting is cancelled: in their language and
/// zone. Nothing for a manager who is not active or blocked the bot.
fn tell_manager_deleted(
    conn: &mut DbConn,
    meeting: &Meeting,
    owner: UserId,
    company_zone: Tz,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let Some(manager) = users::find(conn, meeting.manager_id)? else {
        return Ok(None);
    };
    if !manager.is_active() || manager.unreachable_at.is_some() {
        return Ok(None);
    }
    let owner_name = users::find(conn, owner)?
        .map(|o| o.full_name())
        .unwrap_or_default();
    let zone = stored_zone(&manager.time_zone, company_zone);
    let when = meeting_when(manager.language, zone, meeting.starts_at, meeting.ends_at);
    let text = t(
        manager.language,
        "calendar.deleted_in_google",
        &[("when", &when), ("with", &owner_name)],
    );
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: manager.telegram_id.0,
            recipient: Some(manager.id),
            kind: "meeting.cancelled_in_calendar",
            lane: Lane::Bulk,
            body: OutgoingMessage::text(text).to_json(),
            broadcast: None,
            dedupe_key: Some(format!("deleted-in-google:{}", meeting.id.0)),
            correlation_id: Some(correlation_id),
        },
        now,
    )
}
