//! The job queue on both backends: push, idempotency, retries, recovery.
