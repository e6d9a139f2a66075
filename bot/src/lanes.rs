//! One lane per chat: a chat's updates are handled one after another, in
//! the order received; chats are independent of each other.
//!
//! A lane exists while its chat has updates waiting or in hand, run by a
//! task of its own that ends when the lane is empty. Whatever one chat's
//! handling waits for (its one-message-a-second turn at Telegram, a
//! database retry) delays that chat only. How much a chat may have
//! waiting is bounded by the admission rule of
//! [`shared::domain::inbound`]; the poller asks before it stores.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::FutureExt;
use shared::domain::inbound::{self, Admission, LaneLoad};

use crate::handling::{Handling, Inbound};

/// The lanes of every chat with work in hand; cheap to clone.
#[derive(Debug, Clone)]
pub struct Lanes {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    chats: Mutex<HashMap<i64, Lane>>,
    handling: Handling,
    /// Updates a chat may have waiting or in hand.
    limit: usize,
}

#[derive(Debug, Default)]
struct Lane {
    /// Waiting updates; the front one is in hand.
    waiting: VecDeque<Inbound>,
    /// Told to slow down in this episode (until the lane drains).
    notified: bool,
    /// A task runs the lane (from the first push until it drains).
    running: bool,
}

impl Lanes {
    pub fn new(handling: Handling, limit: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                chats: Mutex::new(HashMap::new()),
                handling,
                limit: limit.max(1),
            }),
        }
    }

    /// Decides a received batch by the admission rule (`chats[i]` is the
    /// chat of update `i`, `None` for updates handled in no lane). Only
    /// the poller adds to lanes, so the decision holds until it pushes.
    pub fn admit(&self, chats: &[Option<i64>]) -> Vec<Admission> {
        let lanes = self.inner.lock();
        inbound::admit(chats, self.inner.limit, |chat| {
            lanes
                .get(&chat)
                .map_or_else(LaneLoad::default, |lane| LaneLoad {
                    waiting: lane.waiting.len(),
                    notified: lane.notified,
                })
        })
    }

    /// Notes that `chat` was told to slow down in its current episode.
    pub fn mark_notified(&self, chat: i64) {
        if let Some(lane) = self.inner.lock().get_mut(&chat) {
            lane.notified = true;
        }
    }

    /// Queues a stored update at the end of its chat's lane, starting the
    /// lane when the chat had nothing in hand. An update the lane holds
    /// already (resumed twice) is not queued again.
    pub fn push(&self, update: Inbound) {
        let chat = update.chat_id;
        let start = {
            let mut lanes = self.inner.lock();
            let lane = lanes.entry(chat).or_default();
            if lane
                .waiting
                .iter()
                .any(|held| held.update_id == update.update_id)
            {
                return;
            }
            lane.waiting.push_back(update);
            !std::mem::replace(&mut lane.running, true)
        };
        self.inner.handling.health.update_queued();
        if start {
            tokio::spawn(Arc::clone(&self.inner).run(chat));
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Lane>> {
        // A panic while the map was held cannot leave it half-changed
        // (each change is one call), so a poisoned lock is still sound.
        self.chats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Handles the chat's updates until its lane is empty, then removes
    /// the lane (under the same lock a push takes, so none is stranded).
    async fn run(self: Arc<Self>, chat: i64) {
        loop {
            let next = {
                let mut lanes = self.lock();
                match lanes.get(&chat).and_then(|lane| lane.waiting.front()) {
                    Some(update) => update.clone(),
                    None => {
                        lanes.remove(&chat);
                        return;
                    }
                }
            };
            let handled = AssertUnwindSafe(self.handling.handle(&next))
                .catch_unwind()
                .await;
            if handled.is_err() {
                tracing::error!(
                    update_id = next.update_id,
                    chat_id = chat,
                    "handling an update panicked; the chat goes on with the next"
                );
            }
            if let Some(lane) = self.lock().get_mut(&chat) {
                lane.waiting.pop_front();
            }
            self.handling.health.update_done();
        }
    }
}
