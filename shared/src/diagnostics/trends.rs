//! Trends from the job-run traces: p50/p95 duration and error rate per job
//! type over the last hour and the last 24 hours. Percentiles are taken in
//! Rust from the samples (nearest rank), the same on both backends; a slow
//! or failing job type is a warning.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::{Check, Kind, Priority, Probe, Status, Text};
use crate::db::diagnostics::{self, RunSample};

/// Samples read at most (the newest): bounds the cost on a busy system.
const MAX_SAMPLES: i64 = 200_000;
/// p95 above this (ms) makes a job type slow.
const SLOW_P95_MS: i64 = 10_000;
/// An error rate above this, over at least [`MIN_RUNS`], is a warning.
const ERROR_RATE: f64 = 0.2;
const MIN_RUNS: usize = 5;

/// One job type over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub job_type: String,
    /// `1h` or `24h`.
    pub window: &'static str,
    pub runs: usize,
    pub p50_ms: i64,
    pub p95_ms: i64,
    /// Share of attempts that did not succeed (0–1).
    pub error_rate: f64,
}

/// The trends and the check that judges them.
pub async fn measure(probe: &Probe) -> (Vec<Trend>, Check) {
    let Ok(db) = &probe.db else {
        return (Vec::new(), super::checks::no_database("trends"));
    };
    let now = probe.clock.now();
    let since = now - TimeDelta::hours(24);
    let samples = match db
        .read(move |c| diagnostics::run_samples(c, since, MAX_SAMPLES))
        .await
    {
        Ok(samples) => samples,
        Err(error) => {
            let mut check = Check::ok("trends", "-");
            check.note(Text::new("diag.check.query_failed").with("error", error));
            return (Vec::new(), check);
        }
    };
    let trends = compute(&samples, now);
    (trends.clone(), judge(&trends))
}

/// Trends per job type for the last hour and the last day.
pub fn compute(samples: &[RunSample], now: DateTime<Utc>) -> Vec<Trend> {
    let mut trends = Vec::new();
    for (window, span) in [("1h", TimeDelta::hours(1)), ("24h", TimeDelta::hours(24))] {
        let mut by_type: BTreeMap<&str, Vec<&RunSample>> = BTreeMap::new();
        for sample in samples.iter().filter(|s| s.started_at >= now - span) {
            by_type.entry(&sample.job_type).or_default().push(sample);
        }
        for (job_type, runs) in by_type {
            let mut durations: Vec<i64> = runs.iter().map(|r| r.duration_ms).collect();
            durations.sort_unstable();
            let errors = runs.iter().filter(|r| r.outcome != "succeeded").count();
            trends.push(Trend {
                job_type: job_type.to_owned(),
                window,
                runs: runs.len(),
                p50_ms: percentile(&durations, 50),
                p95_ms: percentile(&durations, 95),
                error_rate: errors as f64 / runs.len().max(1) as f64,
            });
        }
    }
    trends
}

/// Nearest-rank percentile of sorted values (0 for none).
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn judge(trends: &[Trend]) -> Check {
    let hour: Vec<&Trend> = trends.iter().filter(|t| t.window == "1h").collect();
    let mut check = Check::ok(
        "trends",
        format!(
            "{} job type(s), {} run(s) in 1 h",
            hour.len(),
            hour.iter().map(|t| t.runs).sum::<usize>()
        ),
    );
    for trend in hour {
        if trend.p95_ms > SLOW_P95_MS {
            check.finding(
                Status::Warn,
                Priority::P2,
                Kind::Performance,
                Text::new("diag.trends.slow")
                    .with("job", &trend.job_type)
                    .with("p95", trend.p95_ms),
                Some(Text::new("diag.trends.slow.fix")),
            );
        }
        if trend.runs >= MIN_RUNS && trend.error_rate > ERROR_RATE {
            check.finding(
                Status::Warn,
                Priority::P2,
                Kind::Runtime,
                Text::new("diag.trends.errors")
                    .with("job", &trend.job_type)
                    .with("percent", format!("{:.0}", trend.error_rate * 100.0)),
                Some(Text::new("diag.queue.failed.fix")),
            );
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        job: &str,
        minutes_ago: i64,
        ms: i64,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> RunSample {
        RunSample {
            job_type: job.to_owned(),
            started_at: now - TimeDelta::minutes(minutes_ago),
            duration_ms: ms,
            outcome: outcome.to_owned(),
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), 50);
        assert_eq!(percentile(&values, 95), 95);
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn windows_and_error_rates_per_job_type() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let samples = vec![
            sample("a", 10, 100, "succeeded", now),
            sample("a", 20, 300, "failed", now),
            sample("a", 300, 900, "succeeded", now),
            sample("b", 120, 50, "retrying", now),
        ];
        let trends = compute(&samples, now);
        let a_hour = trends
            .iter()
            .find(|t| t.job_type == "a" && t.window == "1h");
        assert_eq!(
            a_hour.map(|t| (t.runs, t.p50_ms, t.p95_ms)),
            Some((2, 100, 300))
        );
        assert_eq!(a_hour.map(|t| t.error_rate), Some(0.5));
        assert!(!trends.iter().any(|t| t.job_type == "b" && t.window == "1h"));
        let b_day = trends
            .iter()
            .find(|t| t.job_type == "b" && t.window == "24h");
        assert_eq!(b_day.map(|t| t.error_rate), Some(1.0));
    }
}
