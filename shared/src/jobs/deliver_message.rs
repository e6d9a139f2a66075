//! `deliver-message`: send one `outbox_messages` row to Telegram.

use serde::{Deserialize, Serialize};

use super::{Job, Pushed, Queue, QueueError, idempotency_key};
use crate::db::types::OutboxMessageId;

/// Send the outbox message with this id (the worker reads the row and skips
/// it if its delivery is already recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverMessage {
    pub outbox_id: i64,
    pub correlation_id: String,
}

impl Job for DeliverMessage {
    const QUEUE: &'static str = "deliver-message";

    fn correlation_id(&self) -> &str {
        &self.correlation_id
    }
}

impl DeliverMessage {
    /// `deliver-message:<outbox id>:<revision>`. The revision is the row's
    /// hand-off count (`outbox_messages.handoffs`): 0 until a delivery ended
    /// because another sender held the message's lease; after that the
    /// outbox sweep needs a key the ended job does not hold.
    pub fn idempotency_key(&self, revision: i64) -> String {
        idempotency_key(Self::QUEUE, self.outbox_id, revision)
    }

    /// Queues the delivery of outbox row `outbox_id` at `revision` (see
    /// [`idempotency_key`](Self::idempotency_key)); a row already queued at
    /// that revision is not queued twice.
    pub async fn push(
        queue: &Queue,
        outbox_id: OutboxMessageId,
        revision: i64,
        correlation_id: &str,
    ) -> Result<Pushed, QueueError> {
        let job = Self {
            outbox_id: outbox_id.0,
            correlation_id: correlation_id.to_owned(),
        };
        queue.push(&job, &job.idempotency_key(revision)).await
    }

    /// [`push`](Self::push) right after the commit that wrote the row. A
    /// failure is only logged: the row stays pending and the outbox sweep
    /// pushes it again.
    pub async fn push_after_commit(
        queue: &Queue,
        outbox_id: OutboxMessageId,
        correlation_id: &str,
    ) {
        if let Err(error) = Self::push(queue, outbox_id, 0, correlation_id).await {
            tracing::warn!(%error, %outbox_id, "cannot queue the message; the outbox sweep will");
        }
    }
}
