-- Leases: one holder at a time for work that must not run twice at once
-- (e.g. the single Telegram poller among bot replicas). A holder renews its
-- lease; when it stops renewing, another process takes over after expiry.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
