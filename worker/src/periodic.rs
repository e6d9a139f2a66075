//! Periodic work: a short real-time tick asks the clock what is due. Work
//! that must happen once is claimed by key in `periodic_runs`, so any number
//! of workers do it once and a worker that was down catches up.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use shared::clock::Clock;
use shared::db::{Db, DbError, calendar_sync, outbox, periodic, updates};
use shared::jobs::{DeliverMessage, Pushed, Queue, SyncCalendar};
use tokio::sync::watch;

// Periodic work only: the tick below is their only caller.

/// Pending messages (and meetings pending a calendar sync) older than this
/// are presumed to have lost their push.
const SWEEP_GRACE: TimeDelta = TimeDelta::seconds(30);
/// Beyond one tick: how long after a message's sending lease ended, and
/// after this process last failed to reach the database, the sweep takes
/// the message over (see [`Ticker::lease_takeover_before`]).
const LEASE_TAKEOVER_MARGIN: Duration = Duration::from_secs(5);
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
        // Since when this process has reached the database without a
        // failed sweep (`None`: the last one failed). The start counts as
        // a return: a process that just came up has not had it for long.
        let mut database_since = Some(Instant::now());
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = interval.tick() => self.tick(&mut database_since).await,
            }
        }
    }

    async fn tick(&self, database_since: &mut Option<Instant>) {
        match self.sweep_outbox(*database_since).await {
            Ok(()) => {
                database_since.get_or_insert_with(Instant::now);
            }
            Err(error) => {
                tracing::warn!(%error, "outbox sweep failed");
                *database_since = None;
            }
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

    /// The instant before which a sending lease must have ended for the
    /// sweep to take its message over (`None`: not yet).
    ///
    /// A lease ends while its holder may still be waiting for the database
    /// to record a send it made (an outage longer than the lease). That
    /// holder retries the record at least every second, so it writes first
    /// if nobody takes the message over within a few seconds of the
    /// database's return. The sweep waits for a tick plus
    /// [`LEASE_TAKEOVER_MARGIN`] on both clocks: since the lease ended, and
    /// since this process reached the database again after a failed sweep
    /// (an outage longer than a tick fails a tick: PostgreSQL refuses
    /// connections at once while it is down; a shorter one is over within
    /// the wait after the lease). A dead holder's message is taken over
    /// that much after its lease ran out.
    fn lease_takeover_before(
        &self,
        database_since: Option<Instant>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        let wait = self.every + LEASE_TAKEOVER_MARGIN;
        database_since
            .filter(|since| since.elapsed() >= wait)
            .map(|_| self.clock.now() - TimeDelta::from_std(wait).unwrap_or(SWEEP_GRACE))
    }

    /// Re-pushes messages still pending well after they were due (their push
    /// was lost in a crash, or their job ended because a sender that then
    /// died held them). Pushing is idempotent by key, so a message whose
    /// job is still queued or retrying is not doubled; the key names the
    /// message's hand-offs, so one whose job ended that way is queued anew.
    async fn sweep_outbox(&self, database_since: Option<Instant>) -> Result<(), DbError> {
        let due_before = self.clock.now() - SWEEP_GRACE;
        let leases_ended_before = self.lease_takeover_before(database_since);
        let overdue = self
            .db
            .read(move |c| outbox::overdue(c, due_before, leases_ended_before, SWEEP_BATCH))
            .await?;
        let mut pushed = 0;
        for message in overdue {
            let correlation_id = message.correlation_id.as_deref().unwrap_or_default();
            let revision = i64::from(message.handoffs);
            match DeliverMessage::push(&self.queue, message.id, revision, correlation_id).await {
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
