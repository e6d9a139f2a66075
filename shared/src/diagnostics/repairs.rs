//! The safe repairs of `--fix` and `/diag`: each one reversible or
//! repeat-safe, dry-run unless asked to apply.
//!
//! - delete a webhook that blocks polling (setting it again undoes it);
//! - re-push outbox messages and calendar syncs whose push a crash lost
//!   (pushes are idempotent by key: a queued job is not doubled);
//! - re-sync meetings whose sync gave up (back to pending, a new job);
//! - retry jobs that failed for good in the last day;
//! - renew push channels that expire within a day (made due for the
//!   worker's watch sweep).

use chrono::TimeDelta;
use serde::Serialize;

use super::{Probe, Text};
use crate::db::{calendar_sync, diagnostics, outbox};
use crate::jobs::{DeliverMessage, Job, Pushed, Queue, SyncCalendar};

/// One kind of repair; its id is what `--json`, `/diag` buttons and the
/// audit log name it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Repair {
    DeleteWebhook,
    RepushOutbox,
    RepushSyncs,
    ResyncFailed,
    RetryFailedJobs,
    RenewChannels,
}

/// Every repair, for parsing.
const ALL: [Repair; 6] = [
    Repair::DeleteWebhook,
    Repair::RepushOutbox,
    Repair::RepushSyncs,
    Repair::ResyncFailed,
    Repair::RetryFailedJobs,
    Repair::RenewChannels,
];

/// Batch size of re-pushes.
const BATCH: i64 = 500;

impl Repair {
    pub fn id(self) -> &'static str {
        match self {
            Self::DeleteWebhook => "delete-webhook",
            Self::RepushOutbox => "repush-outbox",
            Self::RepushSyncs => "repush-syncs",
            Self::ResyncFailed => "resync-failed",
            Self::RetryFailedJobs => "retry-failed-jobs",
            Self::RenewChannels => "renew-channels",
        }
    }

    /// The repair named exactly `id`; anything else is none (button data
    /// is never trusted).
    pub fn parse(id: &str) -> Option<Self> {
        ALL.into_iter().find(|repair| repair.id() == id)
    }

    /// What the repair does, for people (`diag.repair.<id>`).
    pub fn describe(self) -> Text {
        Text::new(match self {
            Self::DeleteWebhook => "diag.repair.delete-webhook",
            Self::RepushOutbox => "diag.repair.repush-outbox",
            Self::RepushSyncs => "diag.repair.repush-syncs",
            Self::ResyncFailed => "diag.repair.resync-failed",
            Self::RetryFailedJobs => "diag.repair.retry-failed-jobs",
            Self::RenewChannels => "diag.repair.renew-channels",
        })
    }
}

/// What a repair did (or would do, in a dry run).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub repair: Repair,
    pub applied: bool,
    /// Whether it worked (a dry run is ok).
    pub ok: bool,
    pub detail: Text,
}

/// A dry run: what would be done.
pub fn plan(repair: Repair) -> Outcome {
    Outcome {
        repair,
        applied: false,
        ok: true,
        detail: repair.describe(),
    }
}

/// Makes the repair.
pub async fn apply(probe: &Probe, repair: Repair) -> Outcome {
    let result = match repair {
        Repair::DeleteWebhook => delete_webhook(probe).await,
        Repair::RepushOutbox => repush_outbox(probe).await,
        Repair::RepushSyncs => repush_syncs(probe).await,
        Repair::ResyncFailed => resync_failed(probe).await,
        Repair::RetryFailedJobs => retry_failed_jobs(probe).await,
        Repair::RenewChannels => renew_channels(probe).await,
    };
    let (ok, detail) = match result {
        Ok(count) => (
            true,
            Text::new("diag.repair.done")
                .with("repair", repair.id())
                .with("count", count),
        ),
        Err(error) => (
            false,
            Text::new("diag.repair.failed")
                .with("repair", repair.id())
                .with("error", error),
        ),
    };
    if ok {
        tracing::info!(repair = repair.id(), "diagnostics repair applied");
    } else {
        tracing::warn!(repair = repair.id(), "diagnostics repair failed");
    }
    Outcome {
        repair,
        applied: true,
        ok,
        detail,
    }
}

async fn delete_webhook(probe: &Probe) -> Result<usize, String> {
    let client = probe.telegram.as_ref().map_err(Clone::clone)?;
    client.delete_webhook().await.map_err(|e| e.to_string())?;
    Ok(1)
}

fn db(probe: &Probe) -> Result<&crate::db::Db, String> {
    probe.db.as_ref().map_err(Clone::clone)
}

async fn queue(probe: &Probe) -> Result<&Queue, String> {
    probe.queue().await
}

async fn repush_outbox(probe: &Probe) -> Result<usize, String> {
    let due_before = probe.clock.now() - TimeDelta::seconds(60);
    let overdue = db(probe)?
        // A lease that ended a minute ago is far past any sender's time
        // (request timeout + a few seconds): its sender is gone.
        .read(move |c| outbox::overdue(c, due_before, Some(due_before), BATCH))
        .await
        .map_err(|e| e.to_string())?;
    let queue = queue(probe).await?;
    let mut pushed = 0;
    for message in overdue {
        let correlation_id = message.correlation_id.as_deref().unwrap_or("diagnose");
        let revision = i64::from(message.handoffs);
        if DeliverMessage::push(queue, message.id, revision, correlation_id)
            .await
            .map_err(|e| e.to_string())?
            == Pushed::Queued
        {
            pushed += 1;
        }
    }
    Ok(pushed)
}

async fn repush_syncs(probe: &Probe) -> Result<usize, String> {
    let changed_before = probe.clock.now() - TimeDelta::minutes(10);
    let pending = db(probe)?
        .read(move |c| calendar_sync::pending_since_before(c, changed_before, BATCH))
        .await
        .map_err(|e| e.to_string())?;
    let queue = queue(probe).await?;
    let mut pushed = 0;
    for sync in pending {
        let correlation_id = sync.correlation_id.as_deref().unwrap_or("diagnose");
        if SyncCalendar::push(queue, sync.meeting, sync.revision, correlation_id)
            .await
            .map_err(|e| e.to_string())?
            == Pushed::Queued
        {
            pushed += 1;
        }
    }
    Ok(pushed)
}

/// Puts each failed sync back to pending and queues a new job for it
/// (the old job's key stays taken, so the new one carries a suffix).
async fn resync_failed(probe: &Probe) -> Result<usize, String> {
    let db = db(probe)?;
    let failed = db
        .read(|c| diagnostics::failed_syncs(c, BATCH))
        .await
        .map_err(|e| e.to_string())?;
    let queue = queue(probe).await?;
    let stamp = probe.clock.now().timestamp_millis();
    let mut queued = 0;
    for sync in failed {
        let (id, revision) = (sync.meeting_id, sync.revision);
        let reopened = db
            .write(move |c| diagnostics::reopen_failed_sync(c, id, revision))
            .await
            .map_err(|e| e.to_string())?;
        if !reopened {
            continue;
        }
        let job = SyncCalendar {
            meeting_id: id,
            correlation_id: sync.correlation_id.unwrap_or_else(|| "diagnose".to_owned()),
        };
        let key = format!("{}:{id}:{revision}:resync-{stamp}", SyncCalendar::QUEUE);
        queue.push(&job, &key).await.map_err(|e| e.to_string())?;
        queued += 1;
    }
    Ok(queued)
}

async fn retry_failed_jobs(probe: &Probe) -> Result<usize, String> {
    db(probe)?
        .write(diagnostics::retry_failed_jobs)
        .await
        .map_err(|e| e.to_string())
}

async fn renew_channels(probe: &Probe) -> Result<usize, String> {
    let now = probe.clock.now();
    let before = now + super::checks::google::CHANNEL_SOON;
    db(probe)?
        .write(move |c| diagnostics::make_channels_due(c, before, now))
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_parse_only_their_exact_ids() {
        for repair in ALL {
            assert_eq!(Repair::parse(repair.id()), Some(repair));
        }
        for bad in [
            "",
            "delete_webhook",
            "DELETE-WEBHOOK",
            " delete-webhook",
            "drop-db",
        ] {
            assert_eq!(Repair::parse(bad), None, "{bad:?}");
        }
    }
}
