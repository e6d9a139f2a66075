//! Receiving a batch: decide each update (handle, drop for flooding, set
//! aside), store them all in one transaction, and only then hand the ones
//! to handle to their chats' lanes.
//!
//! What is stored is owed: the polling offset moves past a batch only
//! after this commit, and updates still pending after a restart are
//! handed to their lanes again before polling resumes.

use std::sync::Arc;

use shared::clock::Clock;
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::TelegramId;
use shared::db::updates::{self, NewInbound};
use shared::db::{Db, DbError, users};
use shared::domain::delivery::Lane;
use shared::domain::inbound::{Admission, InboundState};
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::delivery::{Fresh, reply_lease};
use shared::telegram::updates::{Content, Received, Update};

use crate::handling::{Handling, Inbound, new_correlation_id};
use crate::health::Receipt;
use crate::lanes::Lanes;

/// Stores received batches and feeds the lanes.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub db: Db,
    pub clock: Clock,
    pub lanes: Lanes,
    pub handling: Handling,
}

/// One received update and what is to become of it.
struct Decided<'a> {
    received: &'a Received,
    update_id: i64,
    state: InboundState,
    /// Tell the chat to slow down (the first drop of a flood episode).
    notify: bool,
}

/// What a committed batch leaves to do.
#[derive(Default)]
struct Stored {
    /// New updates to handle, in the order received.
    to_handle: Vec<Inbound>,
    /// "Slow down" notices written with the batch.
    notices: Vec<Fresh>,
}

impl Inbox {
    /// Hands every update still pending (a crash or a restart left them)
    /// to the lanes, oldest first. Call before polling starts.
    pub async fn resume(&self) -> Result<usize, DbError> {
        let pending = self.db.read(updates::pending).await?;
        let mut resumed = 0;
        for row in pending {
            match serde_json::from_str::<Update>(&row.payload) {
                Ok(update) => {
                    let chat_id = row.chat_id.or_else(|| update.chat_id()).unwrap_or_default();
                    self.lanes.push(Inbound {
                        update_id: row.update_id,
                        chat_id,
                        update: Arc::new(update),
                    });
                    resumed += 1;
                }
                Err(_) => {
                    tracing::warn!(
                        update_id = row.update_id,
                        "a stored update no longer decodes; set aside"
                    );
                    let (id, now) = (row.update_id, self.clock.now());
                    self.db
                        .write_single(move |c| {
                            updates::set_aside(
                                c,
                                id,
                                InboundState::Unreadable,
                                "no longer decodes",
                                now,
                            )
                        })
                        .await?;
                }
            }
        }
        if resumed > 0 {
            tracing::info!(resumed, "updates received before a restart are handled now");
        }
        Ok(resumed)
    }

    /// Stores a received batch and hands the updates to handle to their
    /// lanes. An error means nothing was stored: the caller must not move
    /// the offset past the batch.
    pub async fn receive(&self, batch: &[Received]) -> Result<(), DbError> {
        let decided = self.decide(batch);
        let now = self.clock.now();
        let owned: Vec<OwnedRow> = decided.iter().map(OwnedRow::from).collect();
        let notices: Vec<Notice> = decided
            .iter()
            .filter(|d| d.notify)
            .filter_map(|d| Notice::for_update(d.received))
            .collect();
        let correlation_id = new_correlation_id();
        let cid = correlation_id.clone();
        let (fresh_ids, written) = self
            .db
            .write(move |c| {
                let rows: Vec<NewInbound<'_>> = owned.iter().map(OwnedRow::as_new).collect();
                let fresh = updates::store(c, &rows, now)?;
                let mut written = Vec::new();
                for notice in &notices {
                    if let Some(fresh) = notice.write(c, &cid, now)? {
                        written.push(fresh);
                    }
                }
                Ok((fresh, written))
            })
            .await?;
        let stored = self.stored(&decided, &fresh_ids, written);
        for update in stored.to_handle {
            self.lanes.push(update);
        }
        for notice in stored.notices {
            self.lanes.mark_notified(notice.chat_id);
            let handling = self.handling.clone();
            let correlation_id = correlation_id.clone();
            tokio::spawn(async move { handling.deliver_reply(&notice, &correlation_id).await });
        }
        Ok(())
    }

    /// Applies the admission rule and sorts out what is not handled.
    fn decide<'a>(&self, batch: &'a [Received]) -> Vec<Decided<'a>> {
        let readable: Vec<&Received> = batch.iter().filter(|r| r.update_id.is_some()).collect();
        for received in batch.iter().filter(|r| r.update_id.is_none()) {
            tracing::warn!(kind = %received.kind, "an update without a readable id was skipped");
            self.handling.health.received(Receipt::Unreadable);
        }
        let lanes: Vec<Option<i64>> = readable
            .iter()
            .map(|r| match &r.update {
                Ok(update) if handled_in_a_lane(update) => update.chat_id(),
                _ => None,
            })
            .collect();
        let admissions = self.lanes.admit(&lanes);
        readable
            .into_iter()
            .zip(lanes)
            .zip(admissions)
            .map(|((received, lane), admission)| {
                let update_id = received.update_id.unwrap_or_default();
                let (state, notify, receipt) = match (&received.update, lane, admission) {
                    (Err(reason), _, _) => {
                        tracing::warn!(update_id, %reason, "an unreadable update was stored raw and skipped");
                        (InboundState::Unreadable, false, Receipt::Unreadable)
                    }
                    (Ok(_), None, _) => {
                        tracing::info!(update_id, kind = %received.kind, "an update the bot does not handle was skipped");
                        (InboundState::Skipped, false, Receipt::Skipped)
                    }
                    (Ok(_), Some(_), Admission::Accept) => {
                        (InboundState::Pending, false, Receipt::Queued)
                    }
                    (Ok(_), Some(chat_id), Admission::Drop { notify }) => {
                        if notify {
                            tracing::warn!(update_id, chat_id, "a chat is flooding: its further updates are dropped");
                        }
                        (InboundState::Dropped, notify, Receipt::Dropped)
                    }
                };
                self.handling.health.received(receipt);
                Decided {
                    received,
                    update_id,
                    state,
                    notify,
                }
            })
            .collect()
    }

    /// The updates to hand to lanes (only the newly stored: one stored
    /// before is pending in a lane already, or handled) and the notices.
    fn stored(&self, decided: &[Decided<'_>], fresh: &[i64], notices: Vec<Fresh>) -> Stored {
        let fresh: std::collections::HashSet<i64> = fresh.iter().copied().collect();
        let to_handle = decided
            .iter()
            .filter(|d| d.state == InboundState::Pending && fresh.contains(&d.update_id))
            .filter_map(|d| {
                let update = d.received.update.as_ref().ok()?;
                Some(Inbound {
                    update_id: d.update_id,
                    chat_id: update.chat_id()?,
                    update: Arc::new(update.clone()),
                })
            })
            .collect();
        Stored { to_handle, notices }
    }
}

/// Messages in private chats and button presses are handled; other kinds
/// and chats are not the bot's business.
fn handled_in_a_lane(update: &Update) -> bool {
    match &update.content {
        Content::Message(message) => message.chat.is_private(),
        Content::CallbackQuery(_) => true,
        Content::Other(_) => false,
    }
}

/// An inbox row, owned so it can move into the database task.
struct OwnedRow {
    update_id: i64,
    chat_id: Option<i64>,
    kind: String,
    payload: String,
    state: InboundState,
    note: Option<String>,
}

impl OwnedRow {
    fn from(decided: &Decided<'_>) -> Self {
        let received = decided.received;
        Self {
            update_id: decided.update_id,
            chat_id: received.chat_id,
            kind: received.kind.clone(),
            payload: received.raw.clone(),
            state: decided.state,
            note: match (&received.update, decided.state) {
                (Err(reason), _) => Some(reason.clone()),
                (_, InboundState::Dropped) => Some("chat flooding".to_owned()),
                _ => None,
            },
        }
    }

    fn as_new(&self) -> NewInbound<'_> {
        NewInbound {
            update_id: self.update_id,
            chat_id: self.chat_id,
            kind: &self.kind,
            payload: &self.payload,
            state: self.state,
            note: self.note.as_deref(),
        }
    }
}

/// The "slow down" notice owed to a flooding chat.
struct Notice {
    chat_id: i64,
    update_id: i64,
    /// The sender's client language, for someone not registered.
    client_language: Option<String>,
}

impl Notice {
    fn for_update(received: &Received) -> Option<Self> {
        let update = received.update.as_ref().ok()?;
        let client_language = match &update.content {
            Content::Message(message) => message.from.as_ref()?.language_code.clone(),
            Content::CallbackQuery(query) => query.from.language_code.clone(),
            Content::Other(_) => None,
        };
        Some(Self {
            chat_id: update.chat_id()?,
            update_id: update.update_id,
            client_language,
        })
    }

    /// Writes the notice in the batch's transaction, in the user's
    /// language; once per episode (keyed by its first dropped update).
    fn write(
        &self,
        conn: &mut shared::db::DbConn,
        correlation_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<Fresh>, DbError> {
        let user = users::find_by_telegram_id(conn, TelegramId(self.chat_id))?;
        let language = user.as_ref().map_or_else(
            || Language::from_telegram_code(self.client_language.as_deref()),
            |u| u.language,
        );
        let message = OutgoingMessage::text(t(language, "flood.slow_down", &[]));
        let dedupe_key = format!("flood:{}:{}", self.chat_id, self.update_id);
        // Claimed by this process at once: it delivers the notice itself.
        let lease = reply_lease(now);
        let id = outbox::insert_leased(
            conn,
            &NewOutboxMessage {
                chat_id: self.chat_id,
                recipient: user.as_ref().map(|u| u.id),
                kind: "flood.slow_down",
                lane: Lane::Interactive,
                body: message.to_json(),
                broadcast: None,
                dedupe_key: Some(dedupe_key),
                correlation_id: Some(correlation_id),
            },
            now,
            &lease,
        )?;
        Ok(id.map(|id| Fresh {
            id,
            chat_id: self.chat_id,
            recipient_id: user.map(|u| u.id),
            lane: Lane::Interactive,
            message,
            lease,
        }))
    }
}
