ALTER TABLE outbox_messages DROP COLUMN handoffs;
ALTER TABLE outbox_messages DROP COLUMN sender;
ALTER TABLE outbox_messages DROP COLUMN sending_until;
