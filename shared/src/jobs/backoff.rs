//! The delay before a failed job's next attempt: exponential, capped, jittered.

use std::time::Duration;

use apalis::layers::retry::backoff::Backoff;
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;

/// `base · 2^n` capped at `cap` for the `n`-th retry (from 0), then drawn
/// from the upper half of that ("equal jitter"), so workers that failed
/// together do not retry together and the delay still grows.
///
/// The wait ends early when `stop` turns true, so a stopping worker does
/// not sit out a long backoff before handing the job back.
#[derive(Debug, Clone)]
pub(super) struct JitteredBackoff {
    base: Duration,
    cap: Duration,
    retries: u32,
    stop: watch::Receiver<bool>,
}

impl JitteredBackoff {
    pub(super) fn new(base: Duration, cap: Duration, stop: watch::Receiver<bool>) -> Self {
        Self {
            base,
            cap,
            retries: 0,
            stop,
        }
    }

    /// The ceiling of the `n`-th retry's delay.
    fn ceiling(&self, n: u32) -> Duration {
        self.base
            .checked_mul(2_u32.saturating_pow(n))
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The `n`-th retry's delay for a jitter draw in `[0, 1]`.
    fn delay(&self, n: u32, draw: f64) -> Duration {
        let ceiling = self.ceiling(n);
        ceiling / 2 + (ceiling / 2).mul_f64(draw.clamp(0.0, 1.0))
    }
}

/// Plugs into apalis' `BackoffRetryPolicy`, which keeps one instance per job.
impl Backoff for JitteredBackoff {
    type Future = BoxFuture<'static, ()>;

    fn next_backoff(&mut self) -> Self::Future {
        let delay = self.delay(self.retries, rand::random::<f64>());
        self.retries = self.retries.saturating_add(1);
        let mut stop = self.stop.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                // A dropped sender also ends the wait.
                _ = stop.wait_for(|stopped| *stopped) => {}
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(base: Duration, cap: Duration) -> JitteredBackoff {
        JitteredBackoff::new(base, cap, watch::channel(false).1)
    }

    #[test]
    fn delays_double_until_the_cap() {
        let backoff = backoff(Duration::from_secs(2), Duration::from_secs(60));
        let ceilings: Vec<_> = (0..8).map(|n| backoff.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let backoff = backoff(Duration::from_millis(100), Duration::from_secs(10));
        assert_eq!(backoff.delay(2, 0.0), Duration::from_millis(200));
        assert_eq!(backoff.delay(2, 1.0), Duration::from_millis(400));
        let middle = backoff.delay(2, 0.5);
        assert!(middle > Duration::from_millis(200) && middle < Duration::from_millis(400));
    }
}

#[cfg(test)]
mod stop_tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_cuts_the_wait_short() {
        let (stop, stopped) = watch::channel(false);
        let mut backoff =
            JitteredBackoff::new(Duration::from_secs(600), Duration::from_secs(600), stopped);
        let wait = backoff.next_backoff();
        let _ = stop.send(true);
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("the backoff ignored the stop");
    }
}
