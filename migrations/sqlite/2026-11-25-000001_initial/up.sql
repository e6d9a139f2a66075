-- The whole data model. PostgreSQL and SQLite trees keep the same directory
-- names and the same tables; instants are fixed-width UTC text here
-- (2026-11-25T09:00:00.000000Z, so text order is time order) and TIMESTAMPTZ
-- on PostgreSQL. Enums are TEXT with a CHECK listing their names.

CREATE TABLE departments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 64),
    retired_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX departments_name_key ON departments (lower(name));

INSERT INTO departments (name, created_at) VALUES
    ('Pharma', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')),
    ('Finance', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')),
    ('HR', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')),
    ('Tech', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')),
    ('IT', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')),
    ('BizDev', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')),
    ('GameDev', strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now'));

CREATE TABLE users (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    telegram_id        BIGINT NOT NULL UNIQUE,
    username           TEXT,
    first_name         TEXT NOT NULL CHECK (length(first_name) BETWEEN 1 AND 256),
    last_name          TEXT NOT NULL CHECK (length(last_name) BETWEEN 1 AND 256),
    department_id      BIGINT REFERENCES departments (id),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'active', 'rejected', 'removed')),
    role               TEXT CHECK (role IN ('manager', 'owner')),
    is_admin           BOOLEAN NOT NULL DEFAULT FALSE,
    language           TEXT NOT NULL CHECK (language IN ('ru', 'en')),
    time_zone          TEXT NOT NULL,
    email              TEXT CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254),
    work_status        TEXT NOT NULL DEFAULT 'working'
                       CHECK (work_status IN ('working', 'vacation', 'sick_leave', 'business_trip')),
    work_status_until  TEXT,
    unreachable_at     TEXT,
    decided_at         TEXT,
    decided_by         BIGINT REFERENCES users (id),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CHECK (status <> 'active' OR role IS NOT NULL),
    CHECK (work_status_until IS NULL OR work_status <> 'working')
);
CREATE INDEX users_status_role ON users (status, role);
CREATE INDEX users_department ON users (department_id);

-- Per-owner slot settings; the owner's zone is users.time_zone.
CREATE TABLE owner_settings (
    owner_id      BIGINT PRIMARY KEY REFERENCES users (id),
    slot_minutes  INTEGER NOT NULL DEFAULT 60
                  CHECK (slot_minutes BETWEEN 15 AND 480 AND slot_minutes % 15 = 0),
    updated_at    TEXT NOT NULL
);

-- Weekly recurring availability: start times on a 30-minute grid, 07:00-21:00
-- owner-local; weekday is ISO (1 = Monday).
CREATE TABLE availability_slots (
    owner_id      BIGINT NOT NULL REFERENCES users (id),
    weekday       INTEGER NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_minute  INTEGER NOT NULL CHECK (start_minute BETWEEN 420 AND 1260 AND start_minute % 30 = 0),
    PRIMARY KEY (owner_id, weekday, start_minute)
);

CREATE TABLE blocked_periods (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id    BIGINT NOT NULL REFERENCES users (id),
    starts_at   TEXT NOT NULL,
    ends_at     TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '' CHECK (length(reason) <= 500),
    created_by  BIGINT REFERENCES users (id),
    created_at  TEXT NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX blocked_periods_owner ON blocked_periods (owner_id, starts_at);

-- Company-wide booking rules: exactly one row, seeded from the environment.
CREATE TABLE booking_settings (
    id                     INTEGER PRIMARY KEY CHECK (id = 1),
    horizon_days           INTEGER NOT NULL CHECK (horizon_days BETWEEN 1 AND 365),
    min_notice_minutes     INTEGER NOT NULL CHECK (min_notice_minutes BETWEEN 0 AND 43200),
    cancel_notice_minutes  INTEGER NOT NULL CHECK (cancel_notice_minutes BETWEEN 0 AND 43200),
    weekends_enabled       BOOLEAN NOT NULL,
    limit_per_period       INTEGER NOT NULL CHECK (limit_per_period BETWEEN 1 AND 100),
    limit_period           TEXT NOT NULL CHECK (limit_period IN ('week', 'month')),
    mode                   TEXT NOT NULL CHECK (mode IN ('single', 'collective')),
    cadence_days           INTEGER NOT NULL CHECK (cadence_days BETWEEN 1 AND 365),
    reminder_offsets       TEXT NOT NULL,
    overdue_report_minute  INTEGER NOT NULL CHECK (overdue_report_minute BETWEEN 0 AND 1439),
    updated_by             BIGINT REFERENCES users (id),
    updated_at             TEXT NOT NULL
);

-- A meeting; `revision` grows with every change the outside world (Google,
-- reminders) must follow, and sync_state says whether it has.
CREATE TABLE meetings (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    manager_id         BIGINT NOT NULL REFERENCES users (id),
    mode               TEXT NOT NULL CHECK (mode IN ('single', 'collective')),
    starts_at          TEXT NOT NULL,
    ends_at            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled', 'completed', 'no_show')),
    period_key         TEXT NOT NULL,
    revision           INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 1),
    sync_state         TEXT NOT NULL CHECK (sync_state IN ('pending', 'synced', 'failed')),
    synced_revision    INTEGER,
    sync_attempts      INTEGER NOT NULL DEFAULT 0,
    sync_error         TEXT,
    calendar_owner_id  BIGINT REFERENCES users (id),
    google_event_id    TEXT,
    meet_link          TEXT,
    cancel_reason      TEXT CHECK (cancel_reason IS NULL OR length(cancel_reason) <= 500),
    cancelled_by       BIGINT REFERENCES users (id),
    cancelled_at       TEXT,
    correlation_id     TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX meetings_manager_starts ON meetings (manager_id, starts_at);
CREATE INDEX meetings_starts ON meetings (starts_at);
CREATE INDEX meetings_sync_pending ON meetings (id) WHERE sync_state = 'pending';

-- The owners (and the manager) of a meeting.
CREATE TABLE meeting_participants (
    meeting_id  BIGINT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    role        TEXT NOT NULL CHECK (role IN ('owner', 'manager')),
    PRIMARY KEY (meeting_id, user_id)
);
CREATE INDEX meeting_participants_user ON meeting_participants (user_id);

-- One row per owner per 15-minute cell taken by a meeting or a block: the
-- primary key makes overlapping bookings impossible without row locks.
CREATE TABLE slot_claims (
    owner_id           BIGINT NOT NULL REFERENCES users (id),
    cell_start         TEXT NOT NULL,
    meeting_id         BIGINT REFERENCES meetings (id) ON DELETE CASCADE,
    blocked_period_id  BIGINT REFERENCES blocked_periods (id) ON DELETE CASCADE,
    PRIMARY KEY (owner_id, cell_start),
    CHECK ((meeting_id IS NULL) <> (blocked_period_id IS NULL))
);
CREATE INDEX slot_claims_meeting ON slot_claims (meeting_id);
CREATE INDEX slot_claims_block ON slot_claims (blocked_period_id);

-- Meetings a manager booked per limit period (e.g. 2026-W48), taken with a
-- conditional increment so quick double taps cannot exceed the limit.
CREATE TABLE booking_quotas (
    manager_id  BIGINT NOT NULL REFERENCES users (id),
    period_key  TEXT NOT NULL,
    used        INTEGER NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (manager_id, period_key)
);

CREATE TABLE reminders (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id        BIGINT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    recipient_id      BIGINT NOT NULL REFERENCES users (id),
    meeting_revision  INTEGER NOT NULL,
    offset_minutes    INTEGER NOT NULL CHECK (offset_minutes > 0),
    due_at            TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'cancelled', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    sent_at           TEXT,
    UNIQUE (meeting_id, recipient_id, meeting_revision, offset_minutes),
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE state = 'pending';

CREATE TABLE broadcasts (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id            BIGINT NOT NULL REFERENCES users (id),
    body                 TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4096),
    state                TEXT NOT NULL CHECK (state IN ('running', 'finished')),
    total                INTEGER NOT NULL DEFAULT 0,
    delivered            INTEGER NOT NULL DEFAULT 0,
    failed               INTEGER NOT NULL DEFAULT 0,
    blocked              INTEGER NOT NULL DEFAULT 0,
    progress_chat_id     BIGINT,
    progress_message_id  BIGINT,
    progress_edited_at   TEXT,
    correlation_id       TEXT,
    created_at           TEXT NOT NULL,
    finished_at          TEXT
);

-- Every message the bot owes someone. `body` is JSON (text, parse mode,
-- buttons); `lane` says which Telegram budget it draws on.
CREATE TABLE outbox_messages (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id              BIGINT NOT NULL,
    recipient_id         BIGINT REFERENCES users (id),
    kind                 TEXT NOT NULL,
    lane                 TEXT NOT NULL CHECK (lane IN ('interactive', 'bulk')),
    body                 TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'blocked', 'cancelled')),
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT NOT NULL,
    last_error           TEXT,
    telegram_message_id  BIGINT,
    broadcast_id         BIGINT REFERENCES broadcasts (id),
    dedupe_key           TEXT UNIQUE,
    correlation_id       TEXT,
    created_at           TEXT NOT NULL,
    sent_at              TEXT,
    CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX outbox_pending ON outbox_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_broadcast ON outbox_messages (broadcast_id, state);

-- Dialogue state per Telegram user (JSON of the bot's dialogue enum), so a
-- restart continues the conversation.
CREATE TABLE dialogue_states (
    telegram_id  BIGINT PRIMARY KEY,
    state        TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Telegram update ids already handled: a redelivered update is skipped.
CREATE TABLE handled_updates (
    update_id   BIGINT PRIMARY KEY,
    handled_at  TEXT NOT NULL
);
CREATE INDEX handled_updates_at ON handled_updates (handled_at);

-- A user's Google Calendar link. Tokens are encrypted (key_id names the key).
CREATE TABLE google_connections (
    user_id                  BIGINT PRIMARY KEY REFERENCES users (id),
    kind                     TEXT NOT NULL CHECK (kind IN ('oauth', 'service_account')),
    status                   TEXT NOT NULL CHECK (status IN ('active', 'broken')),
    google_email             TEXT,
    calendar_id              TEXT NOT NULL,
    refresh_token_enc        BLOB,
    access_token_enc         BLOB,
    access_token_expires_at  TEXT,
    key_id                   TEXT,
    sync_token               TEXT,
    busy_synced_at           TEXT,
    watch_channel_id         TEXT,
    watch_resource_id        TEXT,
    watch_expires_at         TEXT,
    broken_reason            TEXT,
    created_at               TEXT NOT NULL,
    updated_at               TEXT NOT NULL,
    CHECK (kind = 'service_account' OR refresh_token_enc IS NOT NULL)
);

-- Pending OAuth consents: single-use, bound to a user, short-lived. Only a
-- hash of `state` is kept; the PKCE verifier is encrypted.
CREATE TABLE oauth_states (
    state_hash          TEXT PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (id),
    pkce_verifier_enc   BLOB NOT NULL,
    key_id              TEXT NOT NULL,
    created_at          TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    used_at             TEXT
);

-- Busy times from a user's calendar, kept fresh by the worker.
CREATE TABLE busy_intervals (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    event_id   TEXT NOT NULL,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    PRIMARY KEY (user_id, event_id),
    CHECK (ends_at >= starts_at)
);
CREATE INDEX busy_intervals_user_time ON busy_intervals (user_id, starts_at);

-- Periodic work claimed by key (e.g. overdue-report / 2026-11-25): one
-- effect however many workers run.
CREATE TABLE periodic_runs (
    name        TEXT NOT NULL,
    period_key  TEXT NOT NULL,
    claimed_by  TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    PRIMARY KEY (name, period_key)
);

-- One row per job attempt, for diagnostics (p50/p95, error rate per type).
CREATE TABLE job_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    job_type        TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    correlation_id  TEXT,
    attempt         INTEGER NOT NULL CHECK (attempt >= 1),
    worker          TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    duration_ms     BIGINT NOT NULL CHECK (duration_ms >= 0),
    outcome         TEXT NOT NULL CHECK (outcome IN ('succeeded', 'retrying', 'failed')),
    error           TEXT
);
CREATE INDEX job_runs_type_started ON job_runs (job_type, started_at);

-- Health-check states, so the monitor alerts only on a change.
CREATE TABLE health_states (
    check_name  TEXT PRIMARY KEY,
    status      TEXT NOT NULL CHECK (status IN ('ok', 'warning', 'critical')),
    detail      TEXT NOT NULL DEFAULT '',
    changed_at  TEXT NOT NULL,
    alerted_at  TEXT
);

-- Every state-changing action: who, what, to whom, data, correlation id.
CREATE TABLE audit_log (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    at                 TEXT NOT NULL,
    actor_id           BIGINT REFERENCES users (id),
    actor_telegram_id  BIGINT,
    action             TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    target_user_id     BIGINT REFERENCES users (id),
    target             TEXT,
    data               TEXT NOT NULL DEFAULT '{}',
    correlation_id     TEXT
);
CREATE INDEX audit_log_target_user ON audit_log (target_user_id, at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);
CREATE INDEX audit_log_at ON audit_log (at);
