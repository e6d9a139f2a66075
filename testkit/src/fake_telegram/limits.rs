//! Telegram's flood limits: a sliding window for the whole token and one per
//! chat, over the calls that send or change messages.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// How many counted calls (`sendMessage`, `sendDocument`, `editMessageText`,
/// `editMessageReplyMarkup`) Telegram accepts per sliding window.
///
/// The defaults are the real ones: 30 per second for the token and 1 per
/// second per chat. `None` switches a limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Calls per window for the whole bot token.
    pub global: Option<u32>,
    /// Calls per window into one chat.
    pub per_chat: Option<u32>,
    /// The sliding window (Telegram's is one second).
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            global: Some(30),
            per_chat: Some(1),
            window: Duration::from_secs(1),
        }
    }
}

impl Limits {
    /// No limits at all, for benchmarks.
    pub fn unlimited() -> Self {
        Self {
            global: None,
            per_chat: None,
            window: Duration::from_secs(1),
        }
    }
}

/// The instants of recently accepted counted calls.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    global: VecDeque<Instant>,
    per_chat: HashMap<i64, VecDeque<Instant>>,
}

impl Limiter {
    /// Takes a slot for a call into `chat` at `now`, or answers how many
    /// whole seconds (at least 1) until one frees; a refused call takes
    /// nothing.
    pub(crate) fn admit(&mut self, limits: &Limits, chat: i64, now: Instant) -> Result<(), u32> {
        let window = limits.window;
        let global_wait = limits
            .global
            .and_then(|max| wait_for_slot(&mut self.global, max, window, now));
        let chat_calls = self.per_chat.entry(chat).or_default();
        let chat_wait = limits
            .per_chat
            .and_then(|max| wait_for_slot(chat_calls, max, window, now));
        match global_wait.max(chat_wait) {
            Some(wait) => Err(whole_seconds(wait)),
            None => {
                if limits.global.is_some() {
                    self.global.push_back(now);
                }
                if limits.per_chat.is_some() {
                    chat_calls.push_back(now);
                }
                Ok(())
            }
        }
    }
}

/// Forgets calls older than the window; `Some(wait)` when the window is full.
fn wait_for_slot(
    calls: &mut VecDeque<Instant>,
    max: u32,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    while calls
        .front()
        .is_some_and(|&at| now.saturating_duration_since(at) >= window)
    {
        calls.pop_front();
    }
    if calls.len() < max as usize {
        return None;
    }
    // The slot frees when the call that is `max` places back leaves the window.
    let index = calls.len() - max as usize;
    let at = calls.get(index).copied().unwrap_or(now);
    Some((at + window).saturating_duration_since(now))
}

/// Rounds up to whole seconds, at least 1 (Telegram's `retry_after`).
fn whole_seconds(wait: Duration) -> u32 {
    let mut seconds = wait.as_secs();
    if wait.subsec_nanos() > 0 {
        seconds += 1;
    }
    u32::try_from(seconds.max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_chat_and_global_windows() {
        let limits = Limits {
            global: Some(2),
            per_chat: Some(1),
            window: Duration::from_secs(3),
        };
        let mut limiter = Limiter::default();
        let t0 = Instant::now();
        assert_eq!(limiter.admit(&limits, 1, t0), Ok(()));
        assert_eq!(
            limiter.admit(&limits, 1, t0 + Duration::from_millis(500)),
            Err(3)
        );
        assert_eq!(
            limiter.admit(&limits, 2, t0 + Duration::from_millis(500)),
            Ok(())
        );
        assert_eq!(
            limiter.admit(&limits, 3, t0 + Duration::from_millis(1500)),
            Err(2)
        );
        assert_eq!(
            limiter.admit(&limits, 3, t0 + Duration::from_secs(3)),
            Ok(())
        );
        let mut unlimited = Limiter::default();
        for _ in 0..100 {
            assert_eq!(unlimited.admit(&Limits::unlimited(), 1, t0), Ok(()));
        }
    }
}
