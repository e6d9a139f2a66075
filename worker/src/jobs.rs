//! The worker's job handlers: each reads the row its job names and makes
//! the outside world match it.

use chrono_tz::Tz;
use shared::db::outbox;
use shared::db::types::OutboxMessageId;
use shared::domain::delivery::OutboxState;
use shared::google::calendar::{CalendarClient, RetryPolicy};
use shared::google::tokens::TokenSource;
use shared::jobs::{DeliverMessage, JobContext, JobError, Queue};
use shared::telegram::delivery::{Delivery, DeliveryOutcome};

pub use crate::busy_sync::sync_busy;
pub use crate::calendar_sync::sync_calendar;

/// The clients and settings handlers use.
#[derive(Debug)]
pub struct Clients {
    pub delivery: Delivery,
    /// For handlers that queue follow-up jobs (e.g. the deliveries of the
    /// invites a calendar sync wrote).
    pub queue: Queue,
    /// The company zone: the zone of a user whose stored zone this build
    /// does not know.
    pub company_zone: Tz,
    /// Set when Google OAuth is configured: the calendar sync then writes
    /// the meetings of owners who connected their calendar as events there
    /// instead of sending `.ics` files.
    pub google: Option<GoogleSync>,
}

/// What the calendar sync needs to write to an owner's Google Calendar.
#[derive(Debug, Clone)]
pub struct GoogleSync {
    pub calendar: CalendarClient,
    /// How one call is repeated on transient failures (429, rate-limit
    /// 403s, 5xx, timeouts) before the job counts a failed attempt.
    pub retry: RetryPolicy,
    /// Access tokens of the connected owners (refreshed, persisted, and a
    /// dead grant marked broken with a reconnect request).
    pub tokens: TokenSource,
}

/// Sends one outbox message through the shared delivery path. A message
/// that keeps failing is marked failed on the last attempt, so the sweep
/// never revives it. A message another sender holds ends the job without a
/// failed attempt: that sender settles it, or (if it died) the outbox sweep
/// queues it again once its lease is over.
pub async fn deliver_message(
    job: DeliverMessage,
    ctx: JobContext<Clients>,
) -> Result<(), JobError> {
    let id = OutboxMessageId(job.outbox_id);
    match ctx.clients.delivery.deliver(id).await? {
        DeliveryOutcome::Sent {
            telegram_message_id,
        } => {
            tracing::info!(outbox_id = %id, telegram_message_id, "message delivered");
            Ok(())
        }
        DeliveryOutcome::AlreadyDone
        | DeliveryOutcome::Blocked
        | DeliveryOutcome::Failed(_)
        | DeliveryOutcome::HeldElsewhere { .. } => Ok(()),
        DeliveryOutcome::Retry { reason, .. } if ctx.is_last_attempt() => {
            let note = format!("gave up after {} attempts: {reason}", ctx.attempt);
            ctx.db
                .write(move |c| outbox::finish_undelivered(c, id, OutboxState::Failed, &note))
                .await?;
            tracing::error!(outbox_id = %id, %reason, "message could not be delivered");
            Err(JobError::permanent(reason))
        }
        DeliveryOutcome::Retry { reason, .. } => Err(JobError::retryable(reason)),
    }
}
