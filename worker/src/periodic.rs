//! Periodic work: a short real-time tick asks the clock what is due. Work
//! that must happen once is claimed by key in `periodic_runs`, so any number
//! of workers do it once and a worker that was down catches up.

use std::time::Duration;

use chrono::TimeDelta;
use shared::clock::Clock;
use shared::db::{Db, DbError, calendar_sync, outbox, periodic, updates};
use shared::jobs::{DeliverMessage, Pushed, Queue, SyncCalendar};
use tokio::sync::watch;

// Periodic work only: the tick below is their only caller.

/// Pending messages (and meetings pending a calendar sync) older than this
/// are presumed to have lost their push.
const SWEEP_GRACE: TimeDelta = TimeDelta::seconds(30);
/// Messages re-pushed per sweep at most.
const SWEEP_BATCH: i64 = 500;
/// Handled update ids are kept this long (redeliveries come within hours).
const KEEP_HANDLED_UPDATES: TimeDelta = TimeDelta::days(7);

/// This process's name in claims: host, pid and a random boot id.
pub fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
    let boot = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &boot[..8])
}

/// Runs the periodic work every `every` until told to stop.
#[derive(Debug)]
pub struct Ticker {
    pub db: Db,
    pub queue: Queue,
    pub clock: Clock,
    pub every: Duration,
    pub worker: String,
    /// The company zone (`TIMEZONE`): the daily report's clock.
    pub company_zone: chrono_tz::Tz,
}

impl Ticker {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(self.every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = interval.tick() => self.tick().await,
            }
        }
    }

    async fn tick(&self) {
        if let Err(error) = self.sweep_outbox().await {
            tracing::warn!(%error, "outbox sweep failed");
        }
        if let Err(error) = self.sweep_calendar_syncs().await {
            tracing::warn!(%error, "calendar sync sweep failed");
        }
        if let Err(error) = self.prune_daily().await {
            tracing::warn!(%error, "daily cleanup failed");
        }
        crate::work_status::return_due(&self.db, &self.queue, &self.clock).await;
        crate::nudges::send_due(&self.db, &self.queue, &self.clock, &self.worker).await;
        crate::overdue::send_due(
            &self.db,
            &self.queue,
            &self.clock,
            &self.worker,
            self.company_zone,
        )
        .await;
    }

    /// Re-pushes messages still pending well after they were due (their push
    /// was lost in a crash). Pushing is idempotent by key, so a message whose
    /// job is still queued or retrying is not doubled.
    async fn sweep_outbox(&self) -> Result<(), DbError> {
        let due_before = self.clock.now() - SWEEP_GRACE;
        let overdue = self
            .db
            .read(move |c| outbox::overdue(c, due_before, SWEEP_BATCH))
            .await?;
        let mut pushed = 0;
        for message in overdue {
            let correlation_id = message.correlation_id.as_deref().unwrap_or_default();
            match DeliverMessage::push(&self.queue, message.id, correlation_id).await {
                Ok(Pushed::Queued) => pushed += 1,
                Ok(Pushed::AlreadyQueued) => {}
                Err(error) => tracing::warn!(%error, outbox_id = %message.id, "sweep cannot push"),
            }
        }
        if pushed > 0 {
            tracing::info!(pushed, "sweep re-queued messages whose push was lost");
        }
        Ok(())
    }

    /// Re-pushes the calendar sync of meetings still pending well after
    /// their last change (the push after that commit was lost). The key
    /// names the meeting's revision, so a sync still queued or retrying is
    /// not doubled, and one that ran and failed for good is not revived.
    async fn sweep_calendar_syncs(&self) -> Result<(), DbError> {
        let changed_before = self.clock.now() - SWEEP_GRACE;
        let pending = self
            .db
            .read(move |c| calendar_sync::pending_since_before(c, changed_before, SWEEP_BATCH))
            .await?;
        let mut pushed = 0;
        for sync in pending {
            let correlation_id = sync.correlation_id.as_deref().unwrap_or_default();
            match SyncCalendar::push(&self.queue, sync.meeting, sync.revision, correlation_id).await
            {
                Ok(Pushed::Queued) => pushed += 1,
                Ok(Pushed::AlreadyQueued) => {}
                Err(error) => {
                    tracing::warn!(%error, meeting_id = %sync.meeting, "sweep cannot push");
                }
            }
        }
        if pushed > 0 {
            tracing::info!(pushed, "sweep re-queued calendar syncs whose push was lost");
        }
        Ok(())
    }

    /// Once a day (claimed): forget old handled-update marks and claims.
    async fn prune_daily(&self) -> Result<(), DbError> {
        let now = self.clock.now();
        let day = now.format("%Y-%m-%d").to_string();
        let worker = self.worker.clone();
        let pruned = self
            .db
            .write(move |c| {
                if !periodic::claim(c, "daily-cleanup", &day, &worker, now)? {
                    return Ok(None);
                }
                let updates = updates::prune(c, now - KEEP_HANDLED_UPDATES)?;
                let claims = periodic::prune(c, now - TimeDelta::days(90))?;
                Ok(Some((updates, claims)))
            })
            .await?;
        if let Some((updates, claims)) = pruned {
            tracing::info!(updates, claims, "daily cleanup done");
        }
        Ok(())
    }
}
