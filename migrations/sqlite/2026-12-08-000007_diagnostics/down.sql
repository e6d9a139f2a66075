DROP TABLE poller_status;
DROP TABLE diag_requests;
ALTER TABLE health_states DROP COLUMN alerted_status;
