//! Clock skew between this process and the database server: OAuth tokens,
//! service-account assertions and due times all assume they agree.

use std::time::Instant;

use crate::db::diagnostics;
use crate::diagnostics::{Check, Kind, Priority, Probe, Signals, Status, Text};

pub const NAME: &str = "clock";

/// Skew (ms) above which the check warns, and fails.
const WARN_MS: i64 = 2_000;
const FAIL_MS: i64 = 30_000;

pub async fn check(probe: &Probe, signals: &mut Signals) -> Check {
    let Ok(db) = &probe.db else {
        return super::no_database(NAME);
    };
    // The process's own wall clock, without a test offset.
    let before = probe.clock.now() - probe.clock.offset();
    let started = Instant::now();
    let server = db.read(diagnostics::database_time_ms).await;
    let trip = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let server = match server {
        Ok(ms) => ms,
        Err(error) => {
            let mut check = Check::ok(NAME, "-");
            check.note(Text::new("diag.check.query_failed").with("error", error));
            return check;
        }
    };
    let local = before.timestamp_millis() + trip / 2;
    let skew = local - server;
    signals.clock_skew_ms = Some(skew);
    let mut check = Check::ok(NAME, format!("skew {skew} ms (±{} ms)", trip / 2 + 1));
    if skew.abs() > WARN_MS {
        let (status, priority) = if skew.abs() > FAIL_MS {
            (Status::Fail, Priority::P1)
        } else {
            (Status::Warn, Priority::P2)
        };
        check.finding(
            status,
            priority,
            Kind::Configuration,
            Text::new("diag.clock.skew").with("ms", skew),
            Some(Text::new("diag.clock.skew.fix")),
        );
    }
    if probe.clock.is_test_clock() {
        check.note(
            Text::new("diag.clock.test_offset").with("seconds", probe.clock.offset().num_seconds()),
        );
    }
    check
}
