//! Received updates: where each stands, and which ones a flooding chat
//! loses.
//!
//! The rule: a chat may have at most `limit` updates waiting or in hand.
//! Past that, its further updates are acknowledged and dropped; the first
//! drop of an *episode* (the time from the first drop until the chat's
//! backlog has drained) earns the chat one "slow down" notice. Other chats
//! are never affected: each chat is handled in its own lane.

use std::collections::HashMap;

stored_enum! {
    /// Where a received update stands (`inbound_updates.state`).
    pub enum InboundState {
        /// Stored, owed a handling.
        Pending,
        /// Handled: its effects committed with this state.
        Handled,
        /// Set aside unhandled because its chat was flooding.
        Dropped,
        /// Could not be decoded; kept raw for diagnosis.
        Unreadable,
        /// A kind the bot does not handle (no chat to answer).
        Skipped,
        /// Its handling kept failing for a reason other than the database
        /// being away; kept for diagnosis.
        Failed,
    }
}

/// What becomes of one received update of a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handled in the chat's lane.
    Accept,
    /// Dropped; `notify` for the one drop of the episode that tells the
    /// chat to slow down.
    Drop { notify: bool },
}

/// What the admission rule needs to know of a chat's lane right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneLoad {
    /// Updates waiting or in hand.
    pub waiting: usize,
    /// The chat was told to slow down in the current episode already.
    pub notified: bool,
}

/// Decides each update of a received batch, in order: `chats[i]` is the
/// chat of update `i` (`None` for updates without one, always accepted:
/// they are not handled in a lane). `load` tells a chat's lane as it is
/// before this batch.
pub fn admit(
    chats: &[Option<i64>],
    limit: usize,
    load: impl Fn(i64) -> LaneLoad,
) -> Vec<Admission> {
    let mut seen: HashMap<i64, LaneLoad> = HashMap::new();
    chats
        .iter()
        .map(|chat| {
            let Some(chat) = *chat else {
                return Admission::Accept;
            };
            let lane = seen.entry(chat).or_insert_with(|| load(chat));
            if lane.waiting < limit {
                lane.waiting += 1;
                Admission::Accept
            } else {
                let notify = !lane.notified;
                lane.notified = true;
                Admission::Drop { notify }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(_: i64) -> LaneLoad {
        LaneLoad::default()
    }

    #[test]
    fn a_chat_under_its_limit_keeps_everything() {
        let chats = [Some(1), Some(2), Some(1), None];
        assert_eq!(admit(&chats, 2, idle), vec![Admission::Accept; 4]);
    }

    #[test]
    fn past_the_limit_a_chat_loses_the_rest_and_is_told_once() {
        let chats = [Some(1); 5];
        assert_eq!(
            admit(&chats, 2, idle),
            vec![
                Admission::Accept,
                Admission::Accept,
                Admission::Drop { notify: true },
                Admission::Drop { notify: false },
                Admission::Drop { notify: false },
            ]
        );
    }

    #[test]
    fn a_flooding_chat_leaves_the_others_alone() {
        let chats = [Some(1), Some(1), Some(2), Some(1), Some(2)];
        let decisions = admit(&chats, 1, idle);
        assert_eq!(decisions[2], Admission::Accept);
        assert_eq!(decisions[4], Admission::Drop { notify: true });
        assert_eq!(decisions[1], Admission::Drop { notify: true });
        assert_eq!(decisions[3], Admission::Drop { notify: false });
    }

    #[test]
    fn what_waits_already_counts_and_an_episode_is_told_once() {
        let busy = |chat| LaneLoad {
            waiting: if chat == 1 { 3 } else { 0 },
            notified: chat == 1,
        };
        assert_eq!(
            admit(&[Some(1), Some(2)], 3, busy),
            vec![Admission::Drop { notify: false }, Admission::Accept]
        );
    }
}
