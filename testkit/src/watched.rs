//! A fake server's memory behind a lock, with a signal bumped after every
//! change so tests (and long polls) can wait for a condition instead of
//! sleeping. Shared by the fake Telegram and the fake Google.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use tokio::time::Instant;

/// State `S` plus its change signal.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    state: Mutex<S>,
    events: watch::Sender<u64>,
}

impl<S> Watched<S> {
    pub(crate) fn new(state: S) -> Self {
        Self {
            state: Mutex::new(state),
            events: watch::Sender::new(0),
        }
    }

    /// Reads the state (no waiting inside; never held across `.await`).
    pub(crate) fn lock(&self) -> MutexGuard<'_, S> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state and wakes everyone waiting for a change.
    pub(crate) fn update<T>(&self, change: impl FnOnce(&mut S) -> T) -> T {
        let result = {
            let mut state = self.lock();
            change(&mut state)
        };
        self.events
            .send_modify(|version| *version = version.wrapping_add(1));
        result
    }

    /// Waits until `check` finds something, re-checking after every change,
    /// or until `deadline` (then `None`).
    pub(crate) async fn wait_until<T>(
        &self,
        deadline: Option<Instant>,
        mut check: impl FnMut(&S) -> Option<T>,
    ) -> Option<T> {
        let mut events = self.events.subscribe();
        loop {
            events.mark_unchanged();
            let found = {
                let state = self.lock();
                check(&state)
            };
            if found.is_some() {
                return found;
            }
            let changed = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, events.changed())
                    .await
                    .ok(),
                None => Some(events.changed().await),
            };
            match changed {
                None => return None,
                Some(Ok(())) => {}
                // The sender lives as long as `self`; check a last time.
                Some(Err(_)) => {
                    let state = self.lock();
                    return check(&state);
                }
            }
        }
    }
}
