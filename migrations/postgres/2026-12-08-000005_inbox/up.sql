-- Every update the bot received, stored before the polling offset moves on
-- past it, so a crash or a database outage never loses one. Handling runs
-- from here: `state` goes from 'pending' to 'handled' in the handler's own
-- transaction (a redelivered update is recognised and skipped), or the
-- update is set aside at once: 'dropped' (its chat was flooding),
-- 'unreadable' (the update could not be decoded: kept raw for diagnosis),
-- 'skipped' (a kind the bot does not handle), 'failed' (its handling kept
-- failing for a reason other than the database being away).
CREATE TABLE inbound_updates (
    update_id    BIGINT PRIMARY KEY,
    chat_id      BIGINT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'handled', 'dropped', 'unreadable', 'skipped', 'failed')),
    received_at  TIMESTAMPTZ NOT NULL,
    handled_at   TIMESTAMPTZ,
    last_error   TEXT
);
-- What is still owed, oldest first (restart, /health, diagnostics).
CREATE INDEX inbound_updates_pending ON inbound_updates (update_id) WHERE state = 'pending';
-- Pruning and the counts of recent trouble.
CREATE INDEX inbound_updates_received ON inbound_updates (received_at);
