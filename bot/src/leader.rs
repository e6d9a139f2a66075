//! One active poller per token: bot replicas hold a lease in the database;
//! the holder polls and renews it, the others stand by and take over when it
//! stops renewing (crash) or gives it up (shutdown).

use std::time::Duration;

use chrono::TimeDelta;
use shared::clock::Clock;
use shared::db::{Db, leases};
use shared::startup::ShutdownSignal;

use crate::poller::Poller;

/// Name of the poller's lease.
const LEASE: &str = "telegram-poller";
/// A holder silent this long is presumed dead.
const TTL: TimeDelta = TimeDelta::seconds(15);
const RENEW_EVERY: Duration = Duration::from_secs(5);
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Polls while holding the lease; stands by while another replica holds it.
/// Returns on shutdown, after giving the lease up.
pub async fn poll_as_leader(poller: Poller, holder: String, shutdown: &mut ShutdownSignal) {
    let (db, clock) = (poller.db.clone(), poller.clock.clone());
    let mut announced_standby = false;
    loop {
        match try_acquire(&db, &clock, &holder).await {
            Some(true) => {
                poller.health.set_active(true);
                tracing::info!(holder, "this bot is the active poller");
                announced_standby = false;
                tokio::select! {
                    () = poller.clone().run(shutdown) => {
                        release(&db, &holder).await;
                        return;
                    }
                    () = keep(&db, &clock, &holder) => {
                        poller.health.set_active(false);
                        tracing::warn!(holder, "lost the poller lease; standing by");
                    }
                }
            }
            Some(false) if !announced_standby => {
                poller.health.set_active(false);
                tracing::info!(holder, "another bot replica polls; standing by");
                announced_standby = true;
            }
            _ => {}
        }
        tokio::select! {
            () = shutdown.recv() => return,
            () = tokio::time::sleep(RETRY_EVERY) => {}
        }
    }
}

async fn try_acquire(db: &Db, clock: &Clock, holder: &str) -> Option<bool> {
    let (holder, now) = (holder.to_owned(), clock.now());
    match db
        .write(move |c| leases::acquire(c, LEASE, &holder, now, TTL))
        .await
    {
        Ok(acquired) => Some(acquired),
        Err(error) => {
            tracing::warn!(%error, "cannot check the poller lease");
            None
        }
    }
}

/// Renews the lease until it is lost: taken by another replica, or not
/// renewed within its lifetime (database unreachable).
async fn keep(db: &Db, clock: &Clock, holder: &str) {
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match try_acquire(db, clock, holder).await {
            Some(true) => last_renewed = tokio::time::Instant::now(),
            Some(false) => return,
            None if last_renewed.elapsed() >= TTL.to_std().unwrap_or(RENEW_EVERY * 3) => return,
            None => {}
        }
    }
}

async fn release(db: &Db, holder: &str) {
    let holder = holder.to_owned();
    if let Err(error) = db.write(move |c| leases::release(c, LEASE, &holder)).await {
        tracing::warn!(%error, "cannot give the poller lease up; it expires by itself");
    }
}
