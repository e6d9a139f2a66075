//! Vocabulary of outbound messages: which budget they draw on and where they
//! stand.

stored_enum! {
    /// Which share of the Telegram budget a message uses.
    pub enum Lane {
        /// Replies to what a user just did: the whole budget.
        Interactive,
        /// Broadcasts, reminders, nudges, notices: at most the bulk rate.
        Bulk,
    }
}

stored_enum! {
    /// Where an outbound message stands.
    pub enum OutboxState {
        /// Owed; a job (or the sweep) will send it.
        Pending,
        /// Telegram accepted it; never sent again.
        Sent,
        /// Gave up (bad request or attempts exhausted).
        Failed,
        /// The user blocked the bot or was deactivated.
        Blocked,
        /// No longer wanted (e.g. its meeting was cancelled).
        Cancelled,
    }
}
