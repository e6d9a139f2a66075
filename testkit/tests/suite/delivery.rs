//! The one delivery path (`shared::telegram::delivery`) in-process against
//! the fake Telegram, on both backends: the sending lease (a message held
//! by another sender is left to it without a failed attempt, every outcome
//! ends the lease, the sweep's query leaves running leases alone) and the
//! lane a 429 pauses (a chat's flood pauses that chat only, a 429 while the
//! token sends at its full rate pauses everyone).

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use shared::clock::Clock;
use shared::config::{Config, Env};
use shared::db::budget::{self, Bucket, Draw};
use shared::db::outbox::{self, Lease, NewOutboxMessage, OutboxMessage};
use shared::db::types::OutboxMessageId;
use shared::domain::delivery::{Lane, OutboxState};
use shared::telegram::TelegramClient;
use shared::telegram::delivery::{Delivery, DeliveryOutcome, Fresh, reply_lease};
use shared::telegram::message::OutgoingMessage;
use testkit::db::TestDb;
use testkit::fake_telegram::{FakeTelegram, FakeTelegramConfig, Fault, FaultKind};

/// The token's rate in these tests (messages a second).
const RATE: f64 = 20.0;

struct Rig {
    db: TestDb,
    fake: FakeTelegram,
    delivery: Delivery,
    clock: Clock,
}

async fn rig(db: TestDb) -> Rig {
    let fake = FakeTelegram::start(FakeTelegramConfig::default()).await;
    let base_url = fake.base_url();
    let rate = RATE.to_string();
    let config = Config::from_env(&Env::from_pairs([
        ("TELEGRAM_BOT_TOKEN", fake.token()),
        ("TELEGRAM_API_URL", base_url.as_str()),
        ("TELEGRAM_RATE", rate.as_str()),
        ("TELEGRAM_BULK_RATE", rate.as_str()),
        ("HTTP_TIMEOUT", "5s"),
    ]))
    .unwrap();
    let clock = Clock::system();
    let client = TelegramClient::new(&config.telegram).unwrap();
    let delivery = Delivery::new(db.db.clone(), client, clock.clone(), &config.telegram);
    Rig {
        db,
        fake,
        delivery,
        clock,
    }
}

impl Rig {
    /// Queues a reply-lane message to `chat` (a chat the fake knows).
    async fn queue(&self, chat: i64, text: &str) -> OutboxMessageId {
        self.queue_leased(chat, text, None).await
    }

    async fn queue_leased(&self, chat: i64, text: &str, lease: Option<Lease>) -> OutboxMessageId {
        self.fake.user(chat).has_chat();
        let body = OutgoingMessage::text(text).to_json();
        let now = self.clock.now();
        self.db
            .db
            .write(move |c| {
                let message = NewOutboxMessage {
                    chat_id: chat,
                    recipient: None,
                    kind: "test",
                    lane: Lane::Interactive,
                    body,
                    broadcast: None,
                    dedupe_key: None,
                    correlation_id: None,
                };
                let id = match &lease {
                    Some(lease) => outbox::insert_leased(c, &message, now, lease)?,
                    None => outbox::insert(c, &message, now)?,
                };
                Ok(id.unwrap())
            })
            .await
            .unwrap()
    }

    async fn row(&self, id: OutboxMessageId) -> OutboxMessage {
        self.db
            .db
            .read(move |c| outbox::get(c, id))
            .await
            .unwrap()
            .unwrap()
    }

    async fn claim(&self, id: OutboxMessageId, lease: Lease) -> bool {
        let now = self.clock.now();
        self.db
            .db
            .write_single(move |c| outbox::claim(c, id, &lease, now))
            .await
            .unwrap()
            .is_some()
    }

    /// The ids the sweep would queue again, given when leases must have
    /// ended for it to take a message over.
    async fn swept(&self, leases_ended_before: Option<DateTime<Utc>>) -> Vec<OutboxMessageId> {
        let due_before = self.clock.now() + TimeDelta::hours(1);
        self.db
            .db
            .read(move |c| outbox::overdue(c, due_before, leases_ended_before, 100))
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect()
    }
}

/// A message another sender holds is left to it: no send, no failed
/// attempt, a hand-off counted for the sweep's key; the sweep leaves it
/// alone until the lease is over. Once that sender's lease ran out (it
/// died), the next delivery sends it and ends the lease.
async fn a_held_message_is_left_to_its_holder(db: TestDb) {
    let rig = rig(db).await;
    let id = rig.queue(501, "held").await;
    let now = rig.clock.now();
    let elsewhere = Lease::new("elsewhere", now + TimeDelta::seconds(60));
    assert!(rig.claim(id, elsewhere.clone()).await);
    assert!(
        !rig.claim(id, Lease::new("third", now + TimeDelta::seconds(60)))
            .await,
        "one holder at a time"
    );

    let outcome = rig.delivery.deliver(id).await.unwrap();
    assert_eq!(
        outcome,
        DeliveryOutcome::HeldElsewhere {
            until: Some(elsewhere.until)
        }
    );
    let row = rig.row(id).await;
    assert_eq!(row.state, OutboxState::Pending);
    assert_eq!(row.attempts, 0, "not a failed attempt");
    assert_eq!(row.handoffs, 1);
    assert_eq!(row.sender.as_deref(), Some("elsewhere"));
    assert_eq!(rig.fake.sent_count(501), 0);

    // The sweep takes a message over only once its lease ended early enough.
    assert!(rig.swept(None).await.is_empty());
    assert!(rig.swept(Some(now)).await.is_empty());
    assert_eq!(rig.swept(Some(now + TimeDelta::minutes(2))).await, vec![id]);

    // The holder died: its lease ran out.
    rig.db
        .db
        .write_single(move |c| outbox::release(c, id, &elsewhere))
        .await
        .unwrap();
    assert!(
        rig.claim(id, Lease::new("dead", now - TimeDelta::seconds(1)))
            .await
    );
    let outcome = rig.delivery.deliver(id).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Sent { .. }),
        "{outcome:?}"
    );
    let row = rig.row(id).await;
    assert_eq!(row.state, OutboxState::Sent);
    assert_eq!(row.sending_until, None);
    assert_eq!(rig.fake.sent_count(501), 1);
}

/// Every outcome ends the lease: a failed send leaves the message free for
/// its retry, a delivered one is settled. A reply written already claimed
/// by this process is delivered from what was written, and may be claimed
/// again by this process (a retry after a database error).
async fn every_outcome_ends_the_lease(db: TestDb) {
    let rig = rig(db).await;
    let id = rig.queue(601, "first").await;
    rig.fake
        .inject(Fault::on("sendMessage", FaultKind::Status(502), 1));
    let outcome = rig.delivery.deliver(id).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Retry { after: None, .. }),
        "{outcome:?}"
    );
    let row = rig.row(id).await;
    assert_eq!((row.state, row.attempts), (OutboxState::Pending, 1));
    assert_eq!(row.sending_until, None, "a failure ends the lease");

    let outcome = rig.delivery.deliver(id).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Sent { .. }),
        "{outcome:?}"
    );
    let row = rig.row(id).await;
    assert_eq!((row.state, row.attempts), (OutboxState::Sent, 2));
    assert_eq!(row.sending_until, None, "a delivery ends the lease");
    assert_eq!(
        rig.delivery.deliver(id).await.unwrap(),
        DeliveryOutcome::AlreadyDone
    );

    // A reply as the bot writes it: claimed in its insert.
    let now = rig.clock.now();
    let lease = reply_lease(now);
    let id = rig.queue_leased(602, "reply", Some(lease.clone())).await;
    assert_eq!(rig.row(id).await.sending_until, Some(lease.until));
    let fresh = Fresh {
        id,
        chat_id: 602,
        recipient_id: None,
        lane: Lane::Interactive,
        message: OutgoingMessage::text("reply"),
        lease: lease.clone(),
    };
    let outcome = rig.delivery.deliver_fresh(&fresh).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Sent { .. }),
        "{outcome:?}"
    );
    assert_eq!(rig.row(id).await.sending_until, None);

    // This process's own unexpired lease does not stop its retry.
    let id = rig.queue_leased(603, "retry", Some(reply_lease(now))).await;
    let outcome = rig.delivery.deliver(id).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Sent { .. }),
        "{outcome:?}"
    );
    assert_eq!(rig.fake.sent_count(601), 1);
    assert_eq!(rig.fake.sent_count(602), 1);
    assert_eq!(rig.fake.sent_count(603), 1);
}

/// The token idle, one chat's send answered 429: only that chat waits
/// `retry_after`; another chat's message goes out meanwhile.
async fn a_chats_429_pauses_only_that_chat(db: TestDb) {
    const RETRY_AFTER: u32 = 15;
    let rig = rig(db).await;
    let first = rig.queue(701, "first to the flooded chat").await;
    let second = rig.queue(701, "second to the flooded chat").await;
    let other = rig.queue(702, "to another chat").await;

    rig.fake.inject(Fault::on(
        "sendMessage",
        FaultKind::TooManyRequests {
            retry_after: RETRY_AFTER,
        },
        1,
    ));
    let started = Instant::now();
    let outcome = rig.delivery.deliver(first).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Retry { after: Some(after), .. } if after == Duration::from_secs(RETRY_AFTER.into())),
        "{outcome:?}"
    );

    let delivery = rig.delivery.clone();
    let flooded = tokio::spawn(async move { delivery.deliver(second).await });
    let outcome = rig.delivery.deliver(other).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Sent { .. }),
        "{outcome:?}"
    );
    assert_eq!(
        rig.fake.sent_count(701),
        0,
        "the other chat was not held up by the flooded one"
    );

    let outcome = flooded.await.unwrap().unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Sent { .. }),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(RETRY_AFTER.into()),
        "the flooded chat waited out retry_after"
    );
    assert_eq!(rig.fake.sent_count(701), 1);
    assert_eq!(rig.fake.sent_count(702), 1);
}

/// The token sending at its full rate (its turns reserved ahead), a send
/// answered 429: the whole token waits `retry_after`, other chats too.
async fn a_token_wide_429_pauses_everyone(db: TestDb) {
    const RETRY_AFTER: u32 = 6;
    let rig = rig(db).await;
    let first = rig.queue(801, "first").await;
    let other = rig.queue(802, "another chat").await;

    // Other senders hold the token's next turns: this send has to wait.
    let step_us = (1_000_000.0 / RATE) as i64;
    let now_us = rig.clock.now().timestamp_micros();
    rig.db
        .db
        .read(move |c| {
            for _ in 0..5 {
                let total = Draw {
                    bucket: Bucket::Lane("total"),
                    step_us,
                };
                budget::reserve_in_order(c, &[total], now_us)?;
            }
            Ok(())
        })
        .await
        .unwrap();

    rig.fake.inject(Fault::on(
        "sendMessage",
        FaultKind::TooManyRequests {
            retry_after: RETRY_AFTER,
        },
        1,
    ));
    let started = Instant::now();
    let outcome = rig.delivery.deliver(first).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Retry { after: Some(_), .. }),
        "{outcome:?}"
    );
    let outcome = rig.delivery.deliver(other).await.unwrap();
    assert!(
        matches!(outcome, DeliveryOutcome::Sent { .. }),
        "{outcome:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(RETRY_AFTER.into()),
        "another chat waited out the token's retry_after"
    );
    assert_eq!(rig.fake.sent_count(802), 1);
}

on_both_backends!(
    a_held_message_is_left_to_its_holder,
    every_outcome_ends_the_lease,
    a_chats_429_pauses_only_that_chat,
    a_token_wide_429_pauses_everyone,
);
