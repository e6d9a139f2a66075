-- A sending lease per outbox message: a sender claims the message (one
-- conditional UPDATE) until `sending_until` before it sends, and every
-- outcome clears the claim, so a second sender (the sweep's job, a re-run
-- job, the bot's retry) backs off while the first is still sending or
-- waiting to record its send through a database outage. `sender` names
-- the holder (diagnostics, and the holder's own renewals). `handoffs`
-- counts deliveries that ended because someone else held the lease: the
-- outbox sweep names it in its push key, so a message whose job ended that
-- way can be queued again once the lease ran out.
ALTER TABLE outbox_messages ADD COLUMN sending_until TIMESTAMPTZ;
ALTER TABLE outbox_messages ADD COLUMN sender TEXT;
ALTER TABLE outbox_messages ADD COLUMN handoffs INTEGER NOT NULL DEFAULT 0;
