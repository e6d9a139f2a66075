//! Job payloads and the queue: the contract between the bot and the worker.
//!
//! The bot commits its work as state first (an outbox row, a pending sync),
//! then pushes a job naming that row; the worker reads the current row and
//! makes the outside world match it. So:
//!
//! - a job carries **ids, not data**, plus the `correlation_id` of the update
//!   that caused it;
//! - every job type has a fixed queue name ([`Job::QUEUE`]) that never
//!   changes once shipped (queued rows are found by it), and its payload only
//!   ever gains optional fields;
//! - [`QUEUES`] is the one list of job types; the worker serves them with a
//!   [`Runner`];
//! - pushes are idempotent by key (`<job>:<row id>:<revision>`, see
//!   [`idempotency_key`]) and happen **after** the caller's transaction
//!   committed: apalis writes through its own sqlx pool.
//!
//! The queue lives in the application database: the `apalis` schema on
//! PostgreSQL, the `Jobs`/`Workers` tables inside the SQLite file.
//! Delivery is at least once: a worker killed mid-job leaves it to be run
//! again by another worker once its heartbeats stop, so handlers must be
//! safe to run twice.

mod backoff;
mod deliver_message;
mod queue;
mod runner;
mod settings;
mod sync_busy;
mod sync_calendar;
pub mod trace;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use deliver_message::DeliverMessage;
pub use queue::{Pushed, Queue};
pub use runner::{JobContext, Runner};
pub use settings::QueueSettings;
pub use sync_busy::{ChannelSecrets, NOTIFY_PATH, SyncBusy};
pub use sync_calendar::SyncCalendar;

/// Every job type's queue name: the one list of job types. A queue name
/// never changes once shipped; add new job types here (and give the worker
/// a handler for them with [`Runner::handle`]).
pub const QUEUES: &[&str] = &[DeliverMessage::QUEUE, SyncCalendar::QUEUE, SyncBusy::QUEUE];

/// A job type: a small serde payload of ids, stored in its own queue.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The queue name, also the `job_type` of its `job_runs` rows. Fixed
    /// forever once shipped, and listed in [`QUEUES`].
    const QUEUE: &'static str;

    /// The correlation id of the update that caused this job, carried into
    /// the worker's span and outgoing requests.
    fn correlation_id(&self) -> &str;
}

/// The idempotency key of a job about one row: `<job>:<row id>:<revision>`.
///
/// A key stays taken while the queue keeps the job (finished jobs included),
/// so pushing the same key again is a no-op; bump the revision when the
/// row's owed work changes and must run again.
pub fn idempotency_key(queue: &str, row_id: i64, revision: i64) -> String {
    format!("{queue}:{row_id}:{revision}")
}

/// Why a job attempt failed; the handler decides whether trying again helps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// A transient failure (timeout, 5xx, rate limit, database busy): the
    /// job is tried again after a backoff, up to `max_attempts`.
    #[error("{0}")]
    Retryable(String),
    /// Trying again cannot help (the row is gone, the request is invalid):
    /// the job fails now, without further attempts.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    /// A transient failure, worth another attempt.
    pub fn retryable(error: impl std::fmt::Display) -> Self {
        Self::Retryable(error.to_string())
    }

    /// A failure no further attempt can fix.
    pub fn permanent(error: impl std::fmt::Display) -> Self {
        Self::Permanent(error.to_string())
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

/// A database failure inside a handler is taken as transient (busy, lost
/// connection); a handler that knows better maps it to
/// [`JobError::Permanent`] itself.
impl From<crate::db::DbError> for JobError {
    fn from(error: crate::db::DbError) -> Self {
        Self::Retryable(error.to_string())
    }
}

/// Failures of the queue itself (connect, set up, push, run workers). Never
/// contains a database URL.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("invalid queue settings: {0}")]
    Settings(String),
    #[error("cannot open the {backend} job queue: {message}")]
    Connect {
        backend: crate::db::Backend,
        message: String,
    },
    #[error("cannot set up the job queue tables: {0}")]
    Setup(String),
    #[error("cannot encode a `{queue}` job: {message}")]
    Encode {
        queue: &'static str,
        message: String,
    },
    #[error("cannot push a `{queue}` job: {message}")]
    Push {
        queue: &'static str,
        message: String,
    },
    #[error("job type `{0}` is not listed in shared::jobs::QUEUES")]
    UnknownQueue(&'static str),
    #[error("job type `{0}` has two handlers")]
    DuplicateHandler(&'static str),
    #[error("the `{0}` worker supervisor panicked")]
    WorkerPanicked(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_unique_and_plain() {
        let mut seen = std::collections::HashSet::new();
        for queue in QUEUES {
            assert!(seen.insert(*queue), "{queue} listed twice");
            assert!(
                !queue.is_empty()
                    && queue
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{queue}: use lowercase words joined by '-'"
            );
        }
    }

    #[test]
    fn shipped_queue_names_never_change() {
        // Queued rows are found by these names: renaming one strands them.
        assert_eq!(DeliverMessage::QUEUE, "deliver-message");
        assert_eq!(SyncCalendar::QUEUE, "sync-calendar");
        assert_eq!(SyncBusy::QUEUE, "sync-busy");
    }

    #[test]
    fn keys_name_job_row_and_revision() {
        assert_eq!(
            idempotency_key(DeliverMessage::QUEUE, 42, 3),
            "deliver-message:42:3"
        );
    }
}
