-- The Telegram budget shared by the bot and every worker: virtual-time
-- token buckets (the next free send instant, in microseconds since the Unix
-- epoch, so both backends can do the arithmetic). One row per lane
-- ('total', 'bulk'); one row per chat for Telegram's 1 message/s per chat.
CREATE TABLE telegram_budget (
    lane        TEXT PRIMARY KEY CHECK (lane IN ('total', 'bulk')),
    next_at_us  BIGINT NOT NULL
);

CREATE TABLE chat_send_slots (
    chat_id     BIGINT PRIMARY KEY,
    next_at_us  BIGINT NOT NULL
);
