//! The one delivery path of every outbound message, used by the bot (its
//! replies) and the workers (everything else).
//!
//! A message is an `outbox_messages` row. Delivering it: reserve a send on
//! the shared budget (per chat and per lane, in the database, so the bot and
//! all workers together stay within Telegram's limits), wait for the slot,
//! send, record the outcome. A message recorded as sent is never sent again;
//! one in flight at a crash may arrive twice. Recording a send waits out a
//! database that is briefly away (a restart), so an outage does not make a
//! delivered message go out again.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::client::TelegramClient;
use super::error::TelegramError;
use super::message::OutgoingMessage;
use crate::clock::Clock;
use crate::config::TelegramConfig;
use crate::db::budget::{Bucket, Draw};
use crate::db::types::{OutboxMessageId, UserId};
use crate::db::{Db, DbError, budget, outbox, users};
use crate::domain::delivery::{Lane, OutboxState};

/// Spacing of two messages to one chat: Telegram allows about one per
/// second; the margin absorbs scheduling jitter.
const CHAT_STEP: Duration = Duration::from_millis(1_100);

/// How long recording a sent message may wait for the database to come
/// back before the message risks being sent again.
const RECORD_PATIENCE: Duration = Duration::from_secs(120);
/// The first and the longest pause between two tries of that record.
const RECORD_FIRST_PAUSE: Duration = Duration::from_millis(100);
const RECORD_MAX_PAUSE: Duration = Duration::from_secs(5);

/// What happened to one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Telegram accepted it now.
    Sent { telegram_message_id: i64 },
    /// Nothing to do: delivered, ended or unknown already.
    AlreadyDone,
    /// The recipient blocked the bot; the user is marked unreachable.
    Blocked,
    /// Telegram refused it for good (e.g. malformed); recorded as failed.
    Failed(String),
    /// Try again later: after `after` when Telegram said so (429).
    Retry {
        after: Option<Duration>,
        reason: String,
    },
}

/// A message its sender has just queued, as written to the outbox: the
/// bot delivers its replies from this instead of reading the row back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fresh {
    pub id: OutboxMessageId,
    pub chat_id: i64,
    pub recipient_id: Option<UserId>,
    pub lane: Lane,
    pub message: OutgoingMessage,
}

/// Sends outbox messages within the shared budget.
#[derive(Debug, Clone)]
pub struct Delivery {
    db: Db,
    client: TelegramClient,
    clock: Clock,
    total_step: Duration,
    bulk_step: Duration,
}

fn step_for(rate: f64) -> Duration {
    Duration::from_secs_f64(1.0 / rate.max(0.001))
}

fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn duration_us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Delivery {
    pub fn new(db: Db, client: TelegramClient, clock: Clock, config: &TelegramConfig) -> Self {
        Self {
            db,
            client,
            clock,
            total_step: step_for(config.rate),
            bulk_step: step_for(config.bulk_rate),
        }
    }

    pub fn client(&self) -> &TelegramClient {
        &self.client
    }

    /// Delivers one outbox message (see the module docs).
    #[tracing::instrument(skip(self, id), fields(outbox_id = %id))]
    pub async fn deliver(&self, id: OutboxMessageId) -> Result<DeliveryOutcome, DbError> {
        let Some(row) = self.db.read(move |c| outbox::get(c, id)).await? else {
            return Ok(DeliveryOutcome::AlreadyDone);
        };
        if row.state != OutboxState::Pending {
            return Ok(DeliveryOutcome::AlreadyDone);
        }
        let message = match OutgoingMessage::from_json(&row.body) {
            Ok(message) => message,
            Err(e) => {
                let reason = format!("unreadable message body: {e}");
                self.finish(id, OutboxState::Failed, &reason).await?;
                return Ok(DeliveryOutcome::Failed(reason));
            }
        };
        let fresh = Fresh {
            id,
            chat_id: row.chat_id,
            recipient_id: row.recipient_id,
            lane: row.lane,
            message,
        };
        self.send_pending(&fresh).await
    }

    /// Delivers a message just queued and committed by the caller (pending
    /// by construction), without reading it back. A retry goes through
    /// [`Delivery::deliver`], which sees whether someone else sent it
    /// meanwhile.
    #[tracing::instrument(skip(self, fresh), fields(outbox_id = %fresh.id))]
    pub async fn deliver_fresh(&self, fresh: &Fresh) -> Result<DeliveryOutcome, DbError> {
        self.send_pending(fresh).await
    }

    /// Records that Telegram accepted message `id`. The message is out, so
    /// losing this write would send it again on the job's retry: a failing
    /// database (a restart, a lost connection) is waited out with backoff
    /// for up to [`RECORD_PATIENCE`] before the error is given up to the
    /// caller.
    async fn record_sent(
        &self,
        id: OutboxMessageId,
        telegram_message_id: i64,
    ) -> Result<bool, DbError> {
        let started = std::time::Instant::now();
        let mut pause = RECORD_FIRST_PAUSE;
        loop {
            let now = self.clock.now();
            match self
                .db
                .write_single(move |c| outbox::mark_sent(c, id, telegram_message_id, now))
                .await
            {
                Ok(recorded) => return Ok(recorded),
                Err(error) if started.elapsed() + pause < RECORD_PATIENCE => {
                    tracing::warn!(%error, ?pause, "cannot record a sent message yet; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECORD_MAX_PAUSE);
                }
                Err(error) => {
                    tracing::error!(%error, "cannot record a sent message; it may be sent again");
                    return Err(error);
                }
            }
        }
    }

    /// Waits for the message's turn on the budget, sends it and records the
    /// outcome.
    async fn send_pending(&self, fresh: &Fresh) -> Result<DeliveryOutcome, DbError> {
        let id = fresh.id;
        self.wait_for_slot(fresh.chat_id, fresh.lane).await?;
        match self.send_or_edit(fresh.chat_id, &fresh.message).await {
            Ok(telegram_message_id) => {
                let recorded = self.record_sent(id, telegram_message_id).await?;
                if !recorded {
                    tracing::warn!("message was delivered by another sender at the same time");
                }
                Ok(DeliveryOutcome::Sent {
                    telegram_message_id,
                })
            }
            Err(TelegramError::RetryAfter(after)) => {
                let until =
                    self.clock.now() + TimeDelta::from_std(after).unwrap_or(TimeDelta::seconds(1));
                let reason = format!("429: retry after {}s", after.as_secs());
                let note = reason.clone();
                self.db
                    .write(move |c| {
                        // Everyone sharing the token waits, not just this message.
                        budget::pause_lane(c, "total", micros(until))?;
                        outbox::note_retry(c, id, until, &note)
                    })
                    .await?;
                tracing::info!(
                    retry_after_s = after.as_secs(),
                    "Telegram asked to slow down"
                );
                Ok(DeliveryOutcome::Retry {
                    after: Some(after),
                    reason,
                })
            }
            Err(TelegramError::Unreachable(reason)) => {
                let now = self.clock.now();
                let recipient = fresh.recipient_id;
                let note = reason.clone();
                self.db
                    .write(move |c| {
                        if let Some(user) = recipient {
                            users::set_unreachable(c, user, Some(now))?;
                        }
                        outbox::finish_undelivered(c, id, OutboxState::Blocked, &note)
                    })
                    .await?;
                tracing::info!(%reason, "recipient unreachable; not retrying");
                Ok(DeliveryOutcome::Blocked)
            }
            Err(TelegramError::Rejected(reason)) => {
                self.finish(id, OutboxState::Failed, &reason).await?;
                tracing::warn!(%reason, "Telegram refused the message");
                Ok(DeliveryOutcome::Failed(reason))
            }
            Err(error) => {
                let reason = error.to_string();
                let now = self.clock.now();
                let note = reason.clone();
                self.db
                    .write(move |c| outbox::note_retry(c, id, now, &note))
                    .await?;
                Ok(DeliveryOutcome::Retry {
                    after: None,
                    reason,
                })
            }
        }
    }

    /// Sends `message`, or edits the message it names; an edit Telegram
    /// refuses (too old, deleted) becomes a new message. A message with an
    /// attachment is always a new document: a file cannot be edited into
    /// a text message.
    async fn send_or_edit(
        &self,
        chat_id: i64,
        message: &OutgoingMessage,
    ) -> Result<i64, TelegramError> {
        if let Some(attachment) = &message.attachment {
            return self
                .client
                .send_document(chat_id, message, attachment)
                .await;
        }
        let Some(message_id) = message.edit_message_id else {
            return self.client.send(chat_id, message).await;
        };
        match self.client.edit(chat_id, message_id, message).await {
            Ok(()) => Ok(message_id),
            Err(TelegramError::Rejected(reason)) => {
                tracing::info!(%reason, "message cannot be edited; sending it anew");
                self.client.send(chat_id, message).await
            }
            Err(other) => Err(other),
        }
    }

    async fn finish(
        &self,
        id: OutboxMessageId,
        state: OutboxState,
        reason: &str,
    ) -> Result<(), DbError> {
        let reason = reason.to_owned();
        self.db
            .write(move |c| outbox::finish_undelivered(c, id, state, &reason))
            .await?;
        Ok(())
    }

    /// Reserves this message's turns (chat, then bulk for bulk messages,
    /// then the whole token) and sleeps until the last. Turns due at once
    /// are reserved together, in one statement on PostgreSQL; after a wait
    /// the rest are reserved at the new instant.
    async fn wait_for_slot(&self, chat_id: i64, lane: Lane) -> Result<(), DbError> {
        let mut draws = Vec::with_capacity(3);
        draws.push(Draw {
            bucket: Bucket::Chat(chat_id),
            step_us: duration_us(CHAT_STEP),
        });
        if lane == Lane::Bulk {
            draws.push(Draw {
                bucket: Bucket::Lane("bulk"),
                step_us: duration_us(self.bulk_step),
            });
        }
        draws.push(Draw {
            bucket: Bucket::Lane("total"),
            step_us: duration_us(self.total_step),
        });
        let mut taken = 0;
        while taken < draws.len() {
            let now = micros(self.clock.now());
            let rest = draws[taken..].to_vec();
            let reserved = self
                .db
                .read(move |c| budget::reserve_in_order(c, &rest, now))
                .await?;
            taken += reserved.count.max(1);
            self.sleep_until(reserved.at_us).await;
        }
        Ok(())
    }

    async fn sleep_until(&self, slot_us: i64) {
        let wait_us = slot_us - micros(self.clock.now());
        if let Ok(wait_us) = u64::try_from(wait_us)
            && wait_us > 0
        {
            tokio::time::sleep(Duration::from_micros(wait_us)).await;
        }
    }
}
