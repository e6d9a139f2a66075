//! The systematic checks, one module per part of the deployment. Each
//! returns [`Check`]s (status, figure, evidence, fix, repairs) and leaves
//! the facts it measured on the [`Signals`] board for the hypotheses.
//!
//! Every check runs under a deadline, so one that hangs (a Telegram that
//! does not answer) is a finding and never stalls the run.

pub mod calendar_sync;
pub mod clock;
pub mod config;
pub mod database;
pub mod google;
pub mod google_probe;
pub mod host;
pub mod outbox;
pub mod queue;
pub mod telegram;
pub mod workers;

use std::future::Future;
use std::time::Duration;

use super::{Check, Kind, Mode, Priority, Probe, Signals, Status, Text};

/// Longest time one check may take.
const CHECK_DEADLINE: Duration = Duration::from_secs(20);

/// Runs the checks of `mode` in a fixed order (the order of the report).
pub async fn run(probe: &Probe, mode: Mode) -> (Vec<Check>, Signals) {
    let mut signals = Signals::default();
    let mut checks = vec![config::check(&probe.config)];
    checks.push(deadline("database", database::check(probe, &mut signals)).await);
    checks.extend(deadline_many("queue", queue::check(probe, &mut signals)).await);
    checks.push(deadline("workers", workers::check(probe, &mut signals)).await);
    checks.push(deadline("telegram", telegram::check(probe, &mut signals)).await);
    checks.push(deadline("outbox", outbox::check(probe)).await);
    checks.push(deadline("calendar-sync", calendar_sync::check(probe, &mut signals)).await);
    checks.extend(deadline_many("google", google::check(probe, mode, &mut signals)).await);
    checks.push(host::check(probe, &mut signals).await);
    checks.push(deadline("clock", clock::check(probe, &mut signals)).await);
    (checks, signals)
}

async fn deadline(name: &str, check: impl Future<Output = Check>) -> Check {
    match tokio::time::timeout(CHECK_DEADLINE, check).await {
        Ok(check) => check,
        Err(_) => timed_out(name),
    }
}

async fn deadline_many(name: &str, checks: impl Future<Output = Vec<Check>>) -> Vec<Check> {
    match tokio::time::timeout(CHECK_DEADLINE, checks).await {
        Ok(checks) => checks,
        Err(_) => vec![timed_out(name)],
    }
}

fn timed_out(name: &str) -> Check {
    let mut check = Check::ok(name, "-");
    check.finding(
        Status::Fail,
        Priority::P1,
        Kind::Performance,
        Text::new("diag.check.timeout").with("seconds", CHECK_DEADLINE.as_secs()),
        None,
    );
    check
}

/// The check `name` when the database is not open: it cannot measure.
pub(crate) fn no_database(name: &str) -> Check {
    let mut check = Check::ok(name, "-");
    check.finding(
        Status::Warn,
        Priority::P3,
        Kind::Runtime,
        Text::new("diag.check.needs_database"),
        None,
    );
    check
}

/// "3 s", "4 min", "2 h", "3 d": an age for people.
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..120 => format!("{secs} s"),
        120..7_200 => format!("{} min", secs / 60),
        7_200..172_800 => format!("{} h", secs / 3_600),
        _ => format!("{} d", secs / 86_400),
    }
}
