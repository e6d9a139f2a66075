//! `deliver-message`: send one `outbox_messages` row to Telegram.

use serde::{Deserialize, Serialize};

use super::{Job, idempotency_key};

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
    /// `deliver-message:<outbox id>:<revision>`; an outbox row is delivered
    /// once, so its revision normally stays 0.
    pub fn idempotency_key(&self, revision: i64) -> String {
        idempotency_key(Self::QUEUE, self.outbox_id, revision)
    }
}
