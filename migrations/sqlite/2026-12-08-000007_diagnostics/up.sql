-- Diagnostics (expand only: nothing existing changes meaning).

-- The status admins were last told about, per check: the monitor alerts
-- when a check's failing-or-not differs from it (at most once a minute),
-- so a flapping check sends one failure and one recovery, not a storm.
ALTER TABLE health_states ADD COLUMN alerted_status TEXT
    CHECK (alerted_status IN ('ok', 'warning', 'critical'));

-- /diag asks the worker to run the checks (a reply never waits for an
-- outside call): one row per request, claimed by one worker.
CREATE TABLE diag_requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_by    BIGINT NOT NULL REFERENCES users (id),
    chat_id         BIGINT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('quick', 'full', 'fix')),
    fix             TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done')),
    claimed_by      TEXT,
    correlation_id  TEXT,
    created_at      TEXT NOT NULL,
    claimed_at      TEXT,
    done_at         TEXT
);
CREATE INDEX diag_requests_pending ON diag_requests (created_at) WHERE state = 'pending';

-- What the active poller last saw of getUpdates, so that `diagnose` (another
-- process) can tell a second poller (409) or a revoked token (401).
CREATE TABLE poller_status (
    name              TEXT PRIMARY KEY,
    holder            TEXT NOT NULL,
    last_success_at   TEXT,
    last_error        TEXT,
    last_error_at     TEXT,
    last_conflict_at  TEXT,
    conflicts         BIGINT NOT NULL DEFAULT 0,
    updated_at        TEXT NOT NULL
);
