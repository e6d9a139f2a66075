//! Handling one stored update: its transaction, retried until the
//! database answers, then what it owes (replies, queued jobs, menus).
//!
//! The transaction takes the update's inbox row from `pending` to
//! `handled` together with its effects, so an update is handled once
//! however often this runs. A database that is away (a restart, an outage)
//! is waited out with backoff for as long as it takes: the update stays
//! stored meanwhile. Any other failure is tried a few times and then the
//! update is set aside as `failed`, so one poisonous update cannot hold up
//! its chat forever.

use std::sync::Arc;
use std::time::Duration;

use shared::clock::Clock;
use shared::db::{Db, DbError, updates};
use shared::domain::inbound::InboundState;
use shared::google::SecretString;
use shared::google::oauth::GoogleOAuth;
use shared::jobs::{DeliverMessage, Queue, SyncCalendar};
use shared::telegram::TelegramClient;
use shared::telegram::delivery::{Delivery, DeliveryOutcome, Fresh};
use shared::telegram::updates::Update;
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::handlers::calendar::{self, CalendarSetup, SharedCalendars};
use crate::handlers::{self, Context, Effects};
use crate::health::Health;

/// Attempts the bot makes at a reply before handing it to the worker.
const REPLY_ATTEMPTS: u32 = 3;
/// The pause after the first failed attempt (then twice that).
const REPLY_RETRY_PAUSE: Duration = Duration::from_millis(300);
/// A `retry_after` longer than this goes to the worker at once.
const MAX_REPLY_RETRY_PAUSE: Duration = Duration::from_secs(2);

/// The first and the longest pause between two tries of a transaction.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const MAX_PAUSE: Duration = Duration::from_secs(5);
/// Tries of a transaction that fails for a reason other than the database
/// being away, before its update is set aside.
const ATTEMPTS_BEFORE_SETTING_ASIDE: u32 = 5;

/// A stored update on its way through its chat's lane.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub update_id: i64,
    pub chat_id: i64,
    pub update: Arc<Update>,
}

/// Everything handling an update needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct Handling {
    pub db: Db,
    pub client: TelegramClient,
    pub delivery: Delivery,
    pub queue: Queue,
    pub clock: Clock,
    pub bootstrap_admins: Vec<i64>,
    /// The company zone (`TIMEZONE`): new users start in it.
    pub company_zone: chrono_tz::Tz,
    pub health: Arc<Health>,
    /// Google Calendar connection settings, when configured.
    pub calendar: Option<Arc<CalendarSetup>>,
    /// The service account for shared calendars, when configured.
    pub shared_calendars: Option<Arc<SharedCalendars>>,
    /// Transactions in progress at once: at most the pool's size, so a
    /// thousand busy chats queue here in order instead of timing out
    /// against the pool.
    pub transactions: Arc<Semaphore>,
}

/// A fresh id for one user action, carried into jobs and log lines.
pub fn new_correlation_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_owned()
}

impl Handling {
    /// Handles `inbound` to the end: its transaction, then its effects.
    pub async fn handle(&self, inbound: &Inbound) {
        let correlation_id = new_correlation_id();
        let span = tracing::info_span!(
            "update",
            update_id = inbound.update_id,
            chat_id = inbound.chat_id,
            correlation_id = %correlation_id
        );
        async {
            match self.transact(inbound, &correlation_id).await {
                None => {}
                Some(effects) => {
                    tracing::info!(
                        replies = effects.replies.len(),
                        queued = effects.queued.len(),
                        "update handled"
                    );
                    self.carry_out(effects, &correlation_id).await;
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Runs the update's transaction until it commits; `None` when there
    /// is nothing to carry out (handled before, or set aside).
    async fn transact(&self, inbound: &Inbound, correlation_id: &str) -> Option<Effects> {
        let mut pause = FIRST_PAUSE;
        let mut outages = 0_u32;
        let mut failures = 0_u32;
        loop {
            let ctx = Context {
                update_id: inbound.update_id,
                correlation_id: correlation_id.to_owned(),
                now: self.clock.now(),
                bootstrap_admins: self.bootstrap_admins.clone(),
                company_zone: self.company_zone,
                calendar: self.calendar.clone(),
                shared_calendars: self.shared_calendars.clone(),
            };
            let update = Arc::clone(&inbound.update);
            let outcome = {
                let _permit = self.transactions.acquire().await.ok();
                self.db
                    .write(move |c| handlers::handle(c, &ctx, &update))
                    .await
            };
            match outcome {
                Ok(effects) => {
                    if outages > 0 {
                        tracing::info!(tries = outages + 1, "handled once the database was back");
                    }
                    self.health.handling_recovered();
                    if effects.is_none() {
                        tracing::info!("update was handled before; skipped");
                    }
                    return effects;
                }
                Err(error) if error.is_unavailable() => {
                    outages += 1;
                    self.health.handling_blocked(self.clock.now());
                    if outages == 1 || outages.is_multiple_of(20) {
                        tracing::warn!(%error, tries = outages, "database away; the update waits, stored");
                    }
                }
                Err(error) => {
                    failures += 1;
                    if failures >= ATTEMPTS_BEFORE_SETTING_ASIDE {
                        tracing::error!(%error, tries = failures, "handling keeps failing; the update is set aside");
                        self.set_aside(inbound.update_id, &error).await;
                        return None;
                    }
                    tracing::warn!(%error, tries = failures, "handling failed; retrying");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// Records that an update could not be handled (best effort: if even
    /// that fails, it stays pending and is tried again after a restart).
    async fn set_aside(&self, update_id: i64, error: &DbError) {
        let reason = error.to_string();
        let now = self.clock.now();
        let recorded = self
            .db
            .write_single(move |c| {
                updates::set_aside(c, update_id, InboundState::Failed, &reason, now)
            })
            .await;
        if let Err(error) = recorded {
            tracing::warn!(%error, "cannot set the update aside; it stays pending");
        }
    }

    /// Delivers a reply now, retrying a passing failure briefly (the user
    /// is waiting for it); what still fails, or must wait longer, goes to
    /// the worker. The first attempt starts from the row as written; a
    /// retry reads it back (someone may have sent it meanwhile).
    pub async fn deliver_reply(&self, reply: &Fresh, correlation_id: &str) {
        let id = reply.id;
        for attempt in 1..=REPLY_ATTEMPTS {
            let outcome = if attempt == 1 {
                self.delivery.deliver_fresh(reply).await
            } else {
                self.delivery.deliver(id).await
            };
            let pause = match outcome {
                Ok(DeliveryOutcome::Retry { after, reason }) => {
                    let pause = after.unwrap_or(REPLY_RETRY_PAUSE * attempt);
                    if attempt == REPLY_ATTEMPTS || pause > MAX_REPLY_RETRY_PAUSE {
                        tracing::warn!(%reason, outbox_id = %id, "reply not delivered yet; the worker retries");
                        break;
                    }
                    tracing::info!(%reason, attempt, outbox_id = %id, "reply not delivered yet; retrying");
                    pause
                }
                Ok(_) => return,
                Err(error) if attempt == REPLY_ATTEMPTS => {
                    tracing::warn!(%error, outbox_id = %id, "reply delivery failed; the worker retries");
                    break;
                }
                Err(error) => {
                    tracing::info!(%error, attempt, outbox_id = %id, "reply delivery failed; retrying");
                    REPLY_RETRY_PAUSE * attempt
                }
            };
            tokio::time::sleep(pause).await;
        }
        DeliverMessage::push_after_commit(&self.queue, id, correlation_id).await;
    }

    /// After commit: answer the button and deliver replies now, queue the
    /// rest, then refresh command menus.
    async fn carry_out(&self, effects: Effects, correlation_id: &str) {
        // The press is answered while the reply is on its way: neither
        // waits for the other's round trip to Telegram.
        let answer = async {
            if let Some((callback_id, text)) = &effects.callback_answer
                && let Err(error) = self
                    .client
                    .answer_callback(callback_id, text.as_deref())
                    .await
            {
                tracing::warn!(%error, "cannot answer the button press");
            }
        };
        let replies = async {
            for reply in &effects.replies {
                self.deliver_reply(reply, correlation_id).await;
            }
        };
        tokio::join!(answer, replies);
        for id in effects.queued {
            DeliverMessage::push_after_commit(&self.queue, id, correlation_id).await;
        }
        for (meeting, revision) in effects.calendar_sync {
            SyncCalendar::push_after_commit(&self.queue, meeting, revision, correlation_id).await;
        }
        if let Some(setup) = &self.calendar {
            for token in effects.revocations {
                revoke_beside(setup.oauth.clone(), token);
            }
        }
        if let Some(shared) = &self.shared_calendars {
            for check in effects.shared_calendar_checks {
                calendar::check_beside(
                    Arc::clone(shared),
                    self.db.clone(),
                    self.queue.clone(),
                    self.clock.clone(),
                    check,
                    correlation_id.to_owned(),
                );
            }
        }
        for (chat_id, commands) in effects.commands {
            if let Err(error) = self.client.set_chat_commands(chat_id, &commands).await {
                tracing::warn!(%error, chat_id, "cannot set the command menu");
            }
        }
    }
}

/// Revokes `token` at Google in the background, without holding up the
/// next updates. A token Google already forgot is fine; any
/// other failure is logged (the grant then stays until the person removes
/// it in their Google account, but the bot no longer holds it).
fn revoke_beside(oauth: GoogleOAuth, token: SecretString) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no runtime to revoke the Google grant on");
        return;
    };
    runtime.spawn(async move {
        match oauth.revoke(&token).await {
            Ok(()) => tracing::info!("Google grant revoked"),
            Err(error) if error.is_invalid_token() => {
                tracing::info!("Google grant was already revoked")
            }
            Err(error) => tracing::warn!(%error, "cannot revoke the Google grant"),
        }
    });
}
