//! The long-polling loop: fetch updates, handle each chat's updates in
//! order and different chats in parallel, then confirm the batch.
//!
//! The offset moves past a batch only after it was handled, and every update
//! id is recorded in the handler's transaction, so a crash neither loses an
//! update nor applies one twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use frankenstein::updates::Update;
use shared::clock::Clock;
use shared::db::Db;
use shared::google::SecretString;
use shared::google::oauth::GoogleOAuth;
use shared::jobs::{DeliverMessage, Queue, SyncCalendar};
use shared::startup::ShutdownSignal;
use shared::telegram::delivery::{Delivery, DeliveryOutcome, Fresh};
use shared::telegram::{TelegramClient, TelegramError};
use tokio::task::JoinSet;
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

/// Everything the poller and its handlers use.
#[derive(Debug, Clone)]
pub struct Poller {
    pub db: Db,
    pub client: TelegramClient,
    pub delivery: Delivery,
    pub queue: Queue,
    pub clock: Clock,
    pub bootstrap_admins: Vec<i64>,
    /// The company zone (`TIMEZONE`): new users start in it.
    pub company_zone: chrono_tz::Tz,
    pub poll_timeout: Duration,
    pub health: Arc<Health>,
    /// Google Calendar connection settings, when configured.
    pub calendar: Option<Arc<CalendarSetup>>,
    /// The service account for shared calendars, when configured.
    pub shared_calendars: Option<Arc<SharedCalendars>>,
}

/// A fresh id for one user action, carried into jobs and log lines.
pub fn new_correlation_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_owned()
}

impl Poller {
    /// Polls until a shutdown signal arrives; a batch in hand is finished first.
    pub async fn run(self, shutdown: &mut ShutdownSignal) {
        self.set_default_menus().await;
        let mut offset = match self.db.read(shared::db::updates::last_handled).await {
            Ok(last) => last.map(|id| id + 1),
            Err(error) => {
                tracing::warn!(%error, "cannot read the last handled update; starting from Telegram's queue");
                None
            }
        };
        let mut failures = 0_u32;
        loop {
            let polled = tokio::select! {
                () = shutdown.recv() => break,
                polled = self.client.get_updates(offset, self.poll_timeout) => polled,
            };
            match polled {
                Ok(batch) => {
                    failures = 0;
                    self.health.poll_succeeded(self.clock.now());
                    if let Some(last) = batch.iter().map(|u| i64::from(u.update_id)).max() {
                        self.handle_batch(batch).await;
                        offset = Some(last + 1);
                    }
                }
                Err(error) => {
                    failures += 1;
                    let pause = Duration::from_secs(u64::from(failures.min(30)));
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
                    tokio::select! {
                        () = shutdown.recv() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
        tracing::info!("polling stopped");
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

    async fn handle_batch(&self, batch: Vec<Update>) {
        let mut chats: Vec<(i64, Vec<Update>)> = Vec::new();
        let mut index: HashMap<i64, usize> = HashMap::new();
        for update in batch {
            let chat = handlers::chat_of(&update).unwrap_or_default();
            let slot = *index.entry(chat).or_insert_with(|| {
                chats.push((chat, Vec::new()));
                chats.len() - 1
            });
            chats[slot].1.push(update);
        }
        let mut tasks = JoinSet::new();
        for (chat_id, updates) in chats {
            let poller = self.clone();
            tasks.spawn(async move {
                for update in updates {
                    poller.handle_update(chat_id, update).await;
                }
            });
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "an update handler panicked");
            }
        }
    }

    async fn handle_update(&self, chat_id: i64, update: Update) {
        let correlation_id = new_correlation_id();
        let update_id = i64::from(update.update_id);
        let span =
            tracing::info_span!("update", update_id, chat_id, correlation_id = %correlation_id);
        async {
            let ctx = Context {
                update_id,
                correlation_id: correlation_id.clone(),
                now: self.clock.now(),
                bootstrap_admins: self.bootstrap_admins.clone(),
                company_zone: self.company_zone,
                calendar: self.calendar.clone(),
                shared_calendars: self.shared_calendars.clone(),
            };
            let update = Arc::new(update);
            let mut attempt = 0;
            let effects = loop {
                attempt += 1;
                let (ctx, update) = (ctx.clone(), Arc::clone(&update));
                match self
                    .db
                    .write(move |c| handlers::handle(c, &ctx, &update))
                    .await
                {
                    Ok(effects) => break effects,
                    Err(error) if attempt < 3 => {
                        tracing::warn!(%error, attempt, "handling failed; retrying");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                    }
                    Err(error) => {
                        tracing::error!(%error, "update dropped after repeated database failures");
                        return;
                    }
                }
            };
            match effects {
                None => tracing::info!("update was handled before; skipped"),
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

    /// Delivers a reply now, retrying a passing failure briefly (the user
    /// is waiting for it); what still fails, or must wait longer, goes to
    /// the worker. The first attempt starts from the row as written; a
    /// retry reads it back (someone may have sent it meanwhile).
    async fn deliver_reply(&self, reply: &Fresh, correlation_id: &str) {
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
