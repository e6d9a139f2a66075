//! The job queue, per job type: jobs waiting and the oldest one's wait,
//! running, failed in the last hour (with their correlation ids), and
//! jobs held by a worker whose heartbeats stopped.

use chrono::TimeDelta;

use super::age;
use crate::db::diagnostics::{self, FailedRun, QueueFigures};
use crate::diagnostics::{Check, Kind, Priority, Probe, Repair, Signals, Status, Text};
use crate::jobs::QUEUES;

/// Correlation ids shown per job type at most.
const IDS_SHOWN: usize = 5;

pub async fn check(probe: &Probe, signals: &mut Signals) -> Vec<Check> {
    let Ok(db) = &probe.db else {
        return vec![super::no_database("queue")];
    };
    let orphan_after = orphan_window_secs(probe);
    let since = probe.clock.now() - TimeDelta::hours(1);
    let figures = db
        .read(move |c| diagnostics::queue_figures(c, orphan_after))
        .await;
    let failed = db
        .read(move |c| diagnostics::failed_runs(c, since, 500))
        .await
        .unwrap_or_default();
    let figures = match figures {
        Ok(figures) => figures,
        Err(error) => {
            let mut check = Check::ok("queue", "-");
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Configuration,
                Text::new("diag.queue.unreadable").with("error", error),
                Some(Text::new("diag.db.pending.fix")),
            );
            return vec![check];
        }
    };
    let max_wait =
        i64::try_from(probe.config.diagnostics.queue_max_wait.as_secs()).unwrap_or(i64::MAX);
    let mut checks = Vec::new();
    let (mut oldest, mut waiting, mut stale) = (0_i64, 0_i64, 0_i64);
    for queue in QUEUES {
        let figure = figures
            .iter()
            .find(|f| f.job_type == *queue)
            .cloned()
            .unwrap_or_else(|| QueueFigures {
                job_type: (*queue).to_owned(),
                ..QueueFigures::default()
            });
        oldest = oldest.max(figure.oldest_wait_secs);
        waiting += figure.waiting;
        stale += figure.stale;
        let runs: Vec<&FailedRun> = failed.iter().filter(|r| r.job_type == *queue).collect();
        checks.push(one(queue, &figure, &runs, max_wait));
    }
    signals.oldest_wait_secs = Some(oldest);
    signals.backlog = oldest > max_wait;
    signals.waiting_jobs = Some(waiting);
    signals.stale_jobs = Some(stale);
    checks
}

/// Seconds of silence after which diagnostics call a worker dead: apalis'
/// orphan window (heartbeat × missed heartbeats), doubled, so a worker
/// whose heartbeat is merely late on a busy host is not reported dead.
pub fn orphan_window_secs(probe: &Probe) -> i64 {
    let queue = &probe.config.queue;
    let window = queue.heartbeat.as_secs_f64() * f64::from(queue.missed_heartbeats.max(1));
    let window = (window.ceil() as i64).max(1);
    (window * 2).max(window + 2)
}

fn one(queue: &str, figure: &QueueFigures, failed: &[&FailedRun], max_wait: i64) -> Check {
    let mut check = Check::ok(
        format!("queue:{queue}"),
        format!(
            "{} waiting (oldest {}), {} running, {} failed in 1 h",
            figure.waiting,
            age(figure.oldest_wait_secs),
            figure.running,
            failed
                .len()
                .max(usize::try_from(figure.failed_last_hour).unwrap_or(0))
        ),
    );
    if figure.stale > 0 {
        check.finding(
            Status::Fail,
            Priority::P1,
            Kind::Runtime,
            Text::new("diag.queue.stale").with("count", figure.stale),
            Some(Text::new("diag.queue.stale.fix")),
        );
    }
    if figure.oldest_wait_secs > max_wait {
        check.finding(
            Status::Fail,
            Priority::P1,
            Kind::Performance,
            Text::new("diag.queue.backlog")
                .with("count", figure.waiting)
                .with("age", age(figure.oldest_wait_secs)),
            Some(Text::new("diag.queue.backlog.fix")),
        );
    } else if figure.oldest_wait_secs > max_wait / 2 {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Performance,
            Text::new("diag.queue.backlog")
                .with("count", figure.waiting)
                .with("age", age(figure.oldest_wait_secs)),
            Some(Text::new("diag.queue.backlog.fix")),
        );
    }
    if !failed.is_empty() || figure.failed_last_hour > 0 {
        let count = failed
            .len()
            .max(usize::try_from(figure.failed_last_hour).unwrap_or(0));
        let last_error = failed
            .iter()
            .find_map(|r| r.error.as_deref())
            .map(|e| e.chars().take(200).collect::<String>())
            .unwrap_or_default();
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Runtime,
            Text::new("diag.queue.failed")
                .with("count", count)
                .with("error", last_error),
            Some(Text::new("diag.queue.failed.fix")),
        );
        let mut ids: Vec<String> = Vec::new();
        for id in failed.iter().filter_map(|r| r.correlation_id.clone()) {
            if !ids.contains(&id) && ids.len() < IDS_SHOWN {
                ids.push(id);
            }
        }
        check.correlation_ids = ids;
        if figure.failed_last_hour > 0 {
            check.repairs.push(Repair::RetryFailedJobs);
        }
    }
    check
}
