//! `sync-calendar`: make the outside calendars match one meeting.

use serde::{Deserialize, Serialize};

use super::{Job, Pushed, Queue, QueueError, idempotency_key};
use crate::db::types::MeetingId;

/// Bring the calendars (Google, or `.ics` invites without Google) of the
/// meeting with this id up to its current revision. The worker reads the
/// meeting and does nothing when `synced_revision` already matches, so a
/// job pushed twice or for an older revision is harmless.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncCalendar {
    pub meeting_id: i64,
    pub correlation_id: String,
}

impl Job for SyncCalendar {
    const QUEUE: &'static str = "sync-calendar";

    fn correlation_id(&self) -> &str {
        &self.correlation_id
    }
}

impl SyncCalendar {
    /// Queues the sync of `meeting` at `revision` (every change bumps the
    /// revision, so each change is synced once).
    pub async fn push(
        queue: &Queue,
        meeting: MeetingId,
        revision: i32,
        correlation_id: &str,
    ) -> Result<Pushed, QueueError> {
        let job = Self {
            meeting_id: meeting.0,
            correlation_id: correlation_id.to_owned(),
        };
        let key = idempotency_key(Self::QUEUE, meeting.0, i64::from(revision));
        queue.push(&job, &key).await
    }

    /// [`push`](Self::push) right after the commit that changed the
    /// meeting. A failure is only logged: the meeting stays `pending` and
    /// the worker's sweep pushes it again.
    pub async fn push_after_commit(
        queue: &Queue,
        meeting: MeetingId,
        revision: i32,
        correlation_id: &str,
    ) {
        if let Err(error) = Self::push(queue, meeting, revision, correlation_id).await {
            tracing::warn!(%error, %meeting, "cannot queue the calendar sync; the sweep will");
        }
    }
}
