//! The long-polling loop: fetch a batch, store it, and only then move the
//! offset past it. Polling never waits for a handler or a send slot: the
//! stored updates are handled in their chats' lanes ([`crate::lanes`]).

use std::sync::Arc;
use std::time::Duration;

use shared::clock::Clock;
use shared::db::{Db, updates};
use shared::startup::ShutdownSignal;
use shared::telegram::{TelegramClient, TelegramError};

use crate::handlers;
use crate::health::Health;
use crate::inbox::Inbox;

/// The first and the longest pause before storing a batch again.
const STORE_FIRST_PAUSE: Duration = Duration::from_millis(200);
const STORE_MAX_PAUSE: Duration = Duration::from_secs(5);

/// Everything the poller uses.
#[derive(Debug, Clone)]
pub struct Poller {
    pub db: Db,
    pub client: TelegramClient,
    pub clock: Clock,
    pub poll_timeout: Duration,
    pub health: Arc<Health>,
    pub inbox: Inbox,
}

impl Poller {
    /// Polls until a shutdown signal arrives. Updates stored before a
    /// restart are handed to their lanes first.
    pub async fn run(self, shutdown: &mut ShutdownSignal) {
        self.set_default_menus().await;
        let Some(mut offset) = self.resume(shutdown).await else {
            return;
        };
        let mut failures = 0_u32;
        let mut store_pause = STORE_FIRST_PAUSE;
        loop {
            let polled = tokio::select! {
                () = shutdown.recv() => break,
                polled = self.client.get_updates(offset, self.poll_timeout) => polled,
            };
            let pause = match polled {
                Ok(batch) => {
                    failures = 0;
                    self.health.poll_succeeded(self.clock.now());
                    let Some(last) = batch.iter().filter_map(|u| u.update_id).max() else {
                        continue;
                    };
                    match self.inbox.receive(&batch).await {
                        Ok(()) => {
                            self.health.handling_recovered();
                            offset = Some(last + 1);
                            store_pause = STORE_FIRST_PAUSE;
                            continue;
                        }
                        Err(error) => {
                            // Not confirmed: Telegram hands the batch over again.
                            tracing::warn!(%error, updates = batch.len(), "cannot store the batch; polling it again");
                            self.health.handling_blocked(self.clock.now());
                            let pause = store_pause;
                            store_pause = (store_pause * 2).min(STORE_MAX_PAUSE);
                            pause
                        }
                    }
                }
                Err(error) => {
                    failures += 1;
                    match &error {
                        TelegramError::Conflict(_) => {
                            tracing::warn!(%error, "another poller or a webhook holds this token")
                        }
                        TelegramError::Unauthorized => {
                            tracing::error!("Telegram rejected the bot token")
                        }
                        _ => tracing::warn!(%error, "getUpdates failed"),
                    }
                    self.health.poll_failed(error.to_string());
                    Duration::from_secs(u64::from(failures.min(30)))
                }
            };
            tokio::select! {
                () = shutdown.recv() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("polling stopped");
    }

    /// Hands the updates still pending to their lanes and finds where
    /// polling resumes; waits for the database as long as it takes.
    /// `None` on shutdown.
    async fn resume(&self, shutdown: &mut ShutdownSignal) -> Option<Option<i64>> {
        let mut pause = STORE_FIRST_PAUSE;
        loop {
            let resumed = async {
                self.inbox.resume().await?;
                self.db.read(updates::last_received).await
            };
            match resumed.await {
                Ok(last) => return Some(last.map(|id| id + 1)),
                Err(error) => {
                    tracing::warn!(%error, "cannot read the stored updates yet; retrying");
                    self.health.handling_blocked(self.clock.now());
                }
            }
            tokio::select! {
                () = shutdown.recv() => return None,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(STORE_MAX_PAUSE);
        }
    }

    /// The menu of chats without one of their own (newcomers), per language;
    /// best effort: users set their own on registration.
    async fn set_default_menus(&self) {
        for (language_code, commands) in handlers::default_menus() {
            if let Err(error) = self
                .client
                .set_default_commands(&commands, language_code)
                .await
            {
                tracing::warn!(%error, "cannot set the default command menu");
            }
        }
    }
}
