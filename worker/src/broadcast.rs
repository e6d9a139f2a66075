//! Broadcast progress: a one-second loop over the running broadcasts.
//!
//! For each, the first worker to claim it pushes the delivery jobs of its
//! messages (the bot only commits them); afterwards the author's progress
//! message is edited at most every [`PROGRESS_EVERY`], and when nothing is
//! pending any more the broadcast is finished with its final counts. Every
//! step is a conditional update, so any number of workers do each once; a
//! worker that dies leaves the broadcast to the others (or to itself after
//! a restart), and the outbox sweep re-pushes messages whose push was lost.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use shared::clock::Clock;
use shared::db::audit::{self, AuditEntry};
use shared::db::broadcasts::{self, Broadcast, Tally};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::OutboxMessageId;
use shared::db::{Db, DbError, users};
use shared::domain::delivery::Lane;
use shared::domain::user::Language;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::OutgoingMessage;
use tokio::sync::watch;
use tracing::Instrument;

/// The progress message changes at most this often.
pub const PROGRESS_EVERY: TimeDelta = TimeDelta::seconds(3);
/// How often the running broadcasts are looked at.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Keeps running broadcasts moving until told to stop.
#[derive(Debug)]
pub struct Monitor {
    pub db: Db,
    pub queue: Queue,
    pub clock: Clock,
}

/// What one look at a broadcast decided, to carry out after commit.
#[derive(Debug, Default)]
struct Step {
    /// Delivery jobs to push (the broadcast's messages on the first claim,
    /// then progress edits).
    push: Vec<OutboxMessageId>,
}

impl Monitor {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(LOOK_EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = interval.tick() => {
                    if let Err(error) = self.look().await {
                        tracing::warn!(%error, "broadcast progress failed");
                    }
                }
            }
        }
    }

    async fn look(&self) -> Result<(), DbError> {
        let running = self.db.read(broadcasts::running).await?;
        for broadcast in running {
            let span = tracing::info_span!(
                "broadcast",
                broadcast_id = %broadcast.id,
                correlation_id = broadcast.correlation_id.as_deref().unwrap_or_default(),
            );
            let correlation_id = broadcast.correlation_id.clone().unwrap_or_default();
            let now = self.clock.now();
            let step = self
                .db
                .write(move |c| advance(c, &broadcast, now))
                .instrument(span.clone())
                .await?;
            self.push(&step.push, &correlation_id)
                .instrument(span)
                .await;
        }
        Ok(())
    }

    async fn push(&self, ids: &[OutboxMessageId], correlation_id: &str) {
        for &id in ids {
            DeliverMessage::push_after_commit(&self.queue, id, correlation_id).await;
        }
    }
}

/// One look at `broadcast`, in one transaction.
fn advance(
    conn: &mut shared::db::DbConn,
    broadcast: &Broadcast,
    now: DateTime<Utc>,
) -> Result<Step, DbError> {
    let mut step = Step::default();
    let first_look = broadcast.progress_edited_at.is_none();
    let tally = broadcasts::tally(conn, broadcast.id)?;
    if tally.pending == 0 {
        if broadcasts::finish(conn, broadcast.id, &tally, now)? {
            step.push
                .extend(report(conn, broadcast, &tally, true, now)?);
            audit::record(
                conn,
                &AuditEntry {
                    actor: None,
                    actor_telegram_id: None,
                    action: "broadcast.finished",
                    target_user: None,
                    target: Some(format!("broadcast:{}", broadcast.id)),
                    data: json!({
                        "total": broadcast.total,
                        "delivered": tally.delivered,
                        "failed": tally.failed,
                        "blocked": tally.blocked,
                    }),
                    correlation_id: broadcast.correlation_id.as_deref(),
                },
                now,
            )?;
            tracing::info!(
                total = broadcast.total,
                delivered = tally.delivered,
                failed = tally.failed,
                blocked = tally.blocked,
                "broadcast finished"
            );
        }
        return Ok(step);
    }
    if !broadcasts::claim_progress(conn, broadcast.id, now, PROGRESS_EVERY)? {
        return Ok(step);
    }
    if first_look {
        step.push = broadcasts::pending_messages(conn, broadcast.id)?;
        tracing::info!(messages = step.push.len(), "broadcast started");
    } else {
        step.push
            .extend(report(conn, broadcast, &tally, false, now)?);
    }
    Ok(step)
}

/// Queues the progress (or final) text as an edit of the author's progress
/// message; a progress edit not sent yet is updated instead of queueing a
/// second one, and the final report supersedes any still waiting.
fn report(
    conn: &mut shared::db::DbConn,
    broadcast: &Broadcast,
    tally: &Tally,
    finished: bool,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let Some(chat_id) = broadcast.progress_chat_id else {
        return Ok(None);
    };
    let author = users::find(conn, broadcast.author_id)?;
    let language = author.as_ref().map_or(Language::Ru, |a| a.language);
    let key = if finished {
        "broadcast.finished"
    } else {
        "broadcast.progress"
    };
    let text = t(
        language,
        key,
        &[
            ("done", &tally.done().to_string()),
            ("total", &broadcast.total.to_string()),
            ("delivered", &tally.delivered.to_string()),
            ("failed", &tally.failed.to_string()),
            ("blocked", &tally.blocked.to_string()),
        ],
    );
    let body = OutgoingMessage::text(text)
        .editing(broadcast.progress_message_id)
        .to_json();
    if finished {
        outbox::cancel_pending_of_broadcast(conn, broadcast.id, broadcasts::PROGRESS_KIND)?;
    } else if let Some(waiting) = broadcasts::pending_progress(conn, broadcast.id)?
        && outbox::replace_pending_body(conn, waiting, &body)?
    {
        return Ok(Some(waiting));
    }
    let dedupe_key = if finished {
        format!("broadcast-final:{}", broadcast.id)
    } else {
        format!("broadcast-progress:{}:{}", broadcast.id, tally.done())
    };
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id,
            recipient: author.map(|a| a.id),
            kind: broadcasts::PROGRESS_KIND,
            lane: Lane::Interactive,
            body,
            broadcast: Some(broadcast.id),
            dedupe_key: Some(dedupe_key),
            correlation_id: broadcast.correlation_id.as_deref(),
        },
        now,
    )
}
