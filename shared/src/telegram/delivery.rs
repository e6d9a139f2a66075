//! The one delivery path of every outbound message, used by the bot (its
//! replies) and the workers (everything else).
//!
//! A message is an `outbox_messages` row. Delivering it: claim its sending
//! lease, reserve a send on the shared budget (per chat and per lane, in
//! the database, so the bot and all workers together stay within
//! Telegram's limits), wait for the slot, send, record the outcome (which
//! ends the lease). A message recorded as sent is never sent again; one in
//! flight at a crash may arrive twice.
//!
//! **The lease** keeps a second sender off a message while the first is
//! sending it or waiting for the database to record that it did. It lasts
//! the request timeout plus [`LEASE_MARGIN`] from the moment the request
//! starts (renewed before the send if the slot wait ate into it), so a
//! killed sender's messages are free again within seconds. Recording a
//! send waits out a database that is away (a restart), retrying at least
//! every second, so once the database is back the recorder writes first:
//! nothing else claims an expired lease at once (the sweep takes over only
//! well after a lease ended and after its own process has had the
//! database for a while, see the worker's `periodic` module). A delivery
//! that finds the message held by someone else ends without counting a
//! failed attempt ([`DeliveryOutcome::HeldElsewhere`]).
//!
//! **429s** pause the lane they belong to: see [`Delivery::slow_down`].

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::client::TelegramClient;
use super::error::TelegramError;
use super::message::OutgoingMessage;
use crate::clock::Clock;
use crate::config::TelegramConfig;
use crate::db::budget::{Bucket, Draw};
use crate::db::outbox::Lease;
use crate::db::types::{OutboxMessageId, UserId};
use crate::db::{Db, DbError, budget, outbox, users};
use crate::domain::delivery::{Lane, OutboxState};

/// Spacing of two messages to one chat: Telegram allows about one per
/// second; the margin absorbs scheduling jitter.
const CHAT_STEP: Duration = Duration::from_millis(1_100);

/// How long recording a sent message may wait for the database to come
/// back before the message risks being sent again.
const RECORD_PATIENCE: Duration = Duration::from_secs(120);
/// The first and the longest pause between two tries of that record: at
/// most a second, so the recorder is back well before anyone may take over
/// its expired lease once the database returns.
const RECORD_FIRST_PAUSE: Duration = Duration::from_millis(100);
const RECORD_MAX_PAUSE: Duration = Duration::from_secs(1);

/// What a sending lease lasts beyond the request timeout: the time to
/// record the outcome of a request that took the whole timeout.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// The lease the bot writes with each reply it sends right after its
/// commit ([`reply_lease`]): the commit, the reply's turn on the budget
/// (a second per earlier reply to the same chat) and the request with
/// [`LEASE_MARGIN`] fit in it at the default 15 s timeout, so the reply is
/// claimed without a statement of its own; a reply that waited longer
/// renews it before sending.
pub const REPLY_LEASE: Duration = Duration::from_secs(30);

/// This process as a lease holder: `<pid>:<random>`, unique per run. A
/// holder may claim its own unexpired lease again (a retry after a database
/// error before the send, with nothing of its own in flight).
pub fn lease_holder() -> &'static str {
    static HOLDER: OnceLock<String> = OnceLock::new();
    HOLDER.get_or_init(|| {
        let boot = ulid::Ulid::generate().to_string();
        format!("{}:{}", std::process::id(), &boot[boot.len() - 8..])
    })
}

/// The lease to write with a reply the bot inserts and then delivers at
/// once through [`Delivery::deliver_fresh`] (see [`REPLY_LEASE`]).
pub fn reply_lease(now: DateTime<Utc>) -> Lease {
    Lease::new(
        lease_holder(),
        now + TimeDelta::from_std(REPLY_LEASE).unwrap_or(TimeDelta::seconds(30)),
    )
}

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
    /// Another sender holds the message's lease (it is sending it, or it
    /// died and its lease runs out at `until`). Not a failed attempt: the
    /// holder settles it, or the outbox sweep queues it again once the
    /// lease is over.
    HeldElsewhere { until: Option<DateTime<Utc>> },
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
    /// The lease written with the row ([`reply_lease`],
    /// `outbox::insert_leased`).
    pub lease: Lease,
}

/// What waiting for a send's turn found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    /// The whole token's turn was not free at once: the token was sending
    /// at its full rate (see [`Delivery::slow_down`]).
    token_busy: bool,
}

/// Sends outbox messages within the shared budget.
#[derive(Debug, Clone)]
pub struct Delivery {
    db: Db,
    client: TelegramClient,
    clock: Clock,
    total_step: Duration,
    bulk_step: Duration,
    /// How long a claim made here lasts (request timeout + margin).
    lease: Duration,
    /// What must be left of a lease when the request starts.
    lease_needed: Duration,
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
            lease: config.request_timeout + LEASE_MARGIN,
            lease_needed: config.request_timeout + LEASE_MARGIN / 2,
        }
    }

    fn lease_from(&self, now: DateTime<Utc>) -> Lease {
        Lease::new(
            lease_holder(),
            now + TimeDelta::from_std(self.lease).unwrap_or(TimeDelta::seconds(20)),
        )
    }

    pub fn client(&self) -> &TelegramClient {
        &self.client
    }

    /// Delivers one outbox message (see the module docs). The claim reads
    /// the row in the same statement.
    #[tracing::instrument(skip(self, id), fields(outbox_id = %id))]
    pub async fn deliver(&self, id: OutboxMessageId) -> Result<DeliveryOutcome, DbError> {
        let now = self.clock.now();
        let lease = self.lease_from(now);
        let claim = lease.clone();
        let claimed = self
            .db
            .write_single(move |c| outbox::claim(c, id, &claim, now))
            .await?;
        let Some(row) = claimed else {
            return self.held_or_done(id).await;
        };
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
            lease,
        };
        self.send_pending(&fresh).await
    }

    /// Delivers a message just queued, claimed ([`reply_lease`]) and
    /// committed by the caller (pending by construction), without reading
    /// it back. A retry goes through [`Delivery::deliver`], which sees
    /// whether someone else sent it meanwhile.
    #[tracing::instrument(skip(self, fresh), fields(outbox_id = %fresh.id))]
    pub async fn deliver_fresh(&self, fresh: &Fresh) -> Result<DeliveryOutcome, DbError> {
        self.send_pending(fresh).await
    }

    /// After a failed claim: either the message is settled, or someone else
    /// holds it. The hand-off is counted, so the outbox sweep can queue the
    /// message again if that holder never settles it.
    async fn held_or_done(&self, id: OutboxMessageId) -> Result<DeliveryOutcome, DbError> {
        match self
            .db
            .write_single(move |c| outbox::hand_off(c, id))
            .await?
        {
            None => Ok(DeliveryOutcome::AlreadyDone),
            Some(holder) => {
                tracing::info!(
                    holder = holder.sender.as_deref().unwrap_or_default(),
                    until = ?holder.until,
                    "message is held by another sender; leaving it to them"
                );
                Ok(DeliveryOutcome::HeldElsewhere {
                    until: holder.until,
                })
            }
        }
    }

    /// Makes sure `lease` lasts through a request started now (a long wait
    /// for the slot may have eaten into it), renewing it if needed, and
    /// returns the lease as it now stands. `None` when it is no longer ours
    /// (it ran out and someone else claimed the message, or it was
    /// settled): then nothing is sent.
    async fn keep_lease(
        &self,
        id: OutboxMessageId,
        lease: &Lease,
    ) -> Result<Option<Lease>, DbError> {
        let now = self.clock.now();
        let needed = TimeDelta::from_std(self.lease_needed).unwrap_or(TimeDelta::seconds(20));
        if lease.until - now >= needed {
            return Ok(Some(lease.clone()));
        }
        let renewed = self.lease_from(now);
        let (held, until) = (lease.clone(), renewed.until);
        let kept = self
            .db
            .write_single(move |c| outbox::renew(c, id, &held, until))
            .await?;
        Ok(kept.then(|| Lease::new(lease.holder.clone(), until)))
    }

    /// Gives a lease back after a failure before the send, so a retry need
    /// not wait for it to run out. Best effort: the lease runs out anyway.
    async fn release(&self, id: OutboxMessageId, lease: &Lease) {
        let held = lease.clone();
        if let Err(error) = self
            .db
            .write_single(move |c| outbox::release(c, id, &held))
            .await
        {
            tracing::debug!(%error, "cannot give the sending lease back; it runs out");
        }
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
    /// outcome, which ends the lease.
    async fn send_pending(&self, fresh: &Fresh) -> Result<DeliveryOutcome, DbError> {
        let id = fresh.id;
        let lease = &fresh.lease;
        let slot = match self.wait_for_slot(fresh.chat_id, fresh.lane).await {
            Ok(slot) => slot,
            Err(error) => {
                self.release(id, lease).await;
                return Err(error);
            }
        };
        let lease = match self.keep_lease(id, lease).await {
            Ok(Some(lease)) => lease,
            Ok(None) => {
                tracing::info!("the sending lease ran out while waiting for the slot; not sending");
                return self.held_or_done(id).await;
            }
            Err(error) => {
                self.release(id, lease).await;
                return Err(error);
            }
        };
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
                self.slow_down(fresh, &lease, slot, after).await?;
                Ok(DeliveryOutcome::Retry {
                    after: Some(after),
                    reason: format!("429: retry after {}s", after.as_secs()),
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
                let held = lease.clone();
                self.db
                    .write_single(move |c| outbox::note_retry(c, id, &held, now, &note))
                    .await?;
                Ok(DeliveryOutcome::Retry {
                    after: None,
                    reason,
                })
            }
        }
    }

    /// Honours a 429 on the lane it belongs to. Telegram's answer does not
    /// say which limit was hit (its documented ones: about 30 messages a
    /// second for the whole token, about one a second per chat, 20 a minute
    /// per group), so the budget's own state decides:
    ///
    /// - the whole token's turn was **free at once** (`!slot.token_busy`):
    ///   every sender draws on that bucket, so the token was below its
    ///   rate and cannot have been over Telegram's; the 429 is the chat's
    ///   (a group's per-minute limit, or a flood from elsewhere), and only
    ///   that chat's bucket is paused for `retry_after`;
    /// - the token **was sending at its full rate**: the limit may be the
    ///   token's, and the whole token is paused for `retry_after` —
    ///   everyone waits, the safe reading of an ambiguous 429.
    ///
    /// Either way the message itself is due again after `retry_after`.
    async fn slow_down(
        &self,
        fresh: &Fresh,
        lease: &Lease,
        slot: Slot,
        after: Duration,
    ) -> Result<(), DbError> {
        let (id, chat_id) = (fresh.id, fresh.chat_id);
        let until = self.clock.now() + TimeDelta::from_std(after).unwrap_or(TimeDelta::seconds(1));
        let reason = format!("429: retry after {}s", after.as_secs());
        let lease = lease.clone();
        let token_wide = slot.token_busy;
        self.db
            .write(move |c| {
                if token_wide {
                    budget::pause_lane(c, "total", micros(until))?;
                } else {
                    budget::pause_chat(c, chat_id, micros(until))?;
                }
                outbox::note_retry(c, id, &lease, until, &reason)
            })
            .await?;
        tracing::info!(
            retry_after_s = after.as_secs(),
            paused = if token_wide { "token" } else { "chat" },
            "Telegram asked to slow down"
        );
        Ok(())
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
    async fn wait_for_slot(&self, chat_id: i64, lane: Lane) -> Result<Slot, DbError> {
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
        let mut slot = Slot { token_busy: false };
        while taken < draws.len() {
            let now = micros(self.clock.now());
            let rest = draws[taken..].to_vec();
            let reserved = self
                .db
                .read(move |c| budget::reserve_in_order(c, &rest, now))
                .await?;
            taken += reserved.count.max(1);
            // The token is drawn on last: the batch that reached it tells
            // whether its turn was free at once.
            if taken >= draws.len() {
                slot.token_busy = reserved.at_us > now;
            }
            self.sleep_until(reserved.at_us).await;
        }
        Ok(slot)
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
