//! The queue's knobs, filled by the owner from the configuration.

use std::time::Duration;

use super::QueueError;
use crate::config::QueueConfig;

/// How workers fetch, retry and prove they are alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSettings {
    /// Jobs of one type run at once in one process.
    pub concurrency: usize,
    /// Jobs fetched at once; at most `concurrency` (bigger batches let live
    /// workers steal each other's jobs).
    pub batch_size: usize,
    /// How often a worker reports that it is alive (whole seconds, ≥ 1 s).
    pub heartbeat: Duration,
    /// Heartbeats missed before a worker's jobs are handed to others; the
    /// orphan window `heartbeat × missed_heartbeats` must be ≥ 3 s and longer
    /// than any stall.
    pub missed_heartbeats: u32,
    /// First retry delay; doubles per attempt, with jitter.
    pub backoff_base: Duration,
    /// Longest retry delay.
    pub backoff_cap: Duration,
    /// Attempts per job in total (retries + 1).
    pub max_attempts: u32,
    /// How often an idle SQLite worker looks for new jobs (≤ 500 ms);
    /// PostgreSQL workers are woken by `LISTEN/NOTIFY` instead.
    pub poll_interval: Duration,
    /// sqlx connections of one `Queue` handle (PostgreSQL workers hold one
    /// more per job type, for `LISTEN`).
    pub pool_size: u32,
}

impl Default for QueueSettings {
    /// The production defaults of `shared::config`.
    fn default() -> Self {
        Self {
            concurrency: 8,
            batch_size: 8,
            heartbeat: Duration::from_secs(10),
            missed_heartbeats: 6,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(600),
            max_attempts: 12,
            poll_interval: Duration::from_millis(250),
            pool_size: 4,
        }
    }
}

impl From<&QueueConfig> for QueueSettings {
    fn from(config: &QueueConfig) -> Self {
        Self {
            concurrency: config.concurrency,
            batch_size: config.batch_size,
            heartbeat: config.heartbeat,
            missed_heartbeats: config.missed_heartbeats,
            backoff_base: config.backoff_base,
            backoff_cap: config.backoff_cap,
            max_attempts: config.max_attempts,
            ..Self::default()
        }
    }
}

impl QueueSettings {
    /// The orphan window: after this long without a heartbeat, a worker's
    /// jobs go back to the queue.
    pub fn orphan_window(&self) -> Duration {
        self.heartbeat.saturating_mul(self.missed_heartbeats)
    }

    /// Rejects values apalis would mishandle (it panics on a zero batch and
    /// counts heartbeats in whole seconds).
    pub fn validate(&self) -> Result<(), QueueError> {
        let fail = |problem: String| Err(QueueError::Settings(problem));
        if self.concurrency == 0 {
            return fail("concurrency must be at least 1".to_owned());
        }
        if self.batch_size == 0 || self.batch_size > self.concurrency {
            return fail(format!(
                "batch size {} must be between 1 and the concurrency ({})",
                self.batch_size, self.concurrency
            ));
        }
        if self.heartbeat < Duration::from_secs(1) {
            return fail("the heartbeat must be at least 1 s".to_owned());
        }
        if self.orphan_window() < Duration::from_secs(3) {
            return fail(format!(
                "the orphan window (heartbeat × missed heartbeats = {:?}) must be at least 3 s",
                self.orphan_window()
            ));
        }
        if self.backoff_cap.is_zero() || self.backoff_base > self.backoff_cap {
            return fail("the backoff cap must be positive and at least the base".to_owned());
        }
        if self.max_attempts == 0 {
            return fail("max attempts must be at least 1".to_owned());
        }
        if self.poll_interval.is_zero() || self.poll_interval > Duration::from_millis(500) {
            return fail("the SQLite poll interval must be between 1 ms and 500 ms".to_owned());
        }
        if self.pool_size == 0 {
            return fail("the queue pool needs at least 1 connection".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(QueueSettings::default().validate().is_ok());
    }

    #[test]
    fn mistakes_are_rejected() {
        let base = QueueSettings::default();
        for bad in [
            QueueSettings {
                batch_size: 9,
                ..base.clone()
            },
            QueueSettings {
                batch_size: 0,
                ..base.clone()
            },
            QueueSettings {
                heartbeat: Duration::from_millis(500),
                ..base.clone()
            },
            QueueSettings {
                heartbeat: Duration::from_secs(1),
                missed_heartbeats: 2,
                ..base.clone()
            },
            QueueSettings {
                backoff_base: Duration::from_secs(5),
                backoff_cap: Duration::from_secs(1),
                ..base.clone()
            },
            QueueSettings {
                max_attempts: 0,
                ..base.clone()
            },
            QueueSettings {
                poll_interval: Duration::from_secs(1),
                ..base.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
