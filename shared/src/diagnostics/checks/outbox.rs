//! Owed messages: pending well past their due time (a lost push the sweep
//! has not caught up with, or no worker), and failed in the last hour.

use chrono::TimeDelta;

use super::age;
use crate::db::diagnostics;
use crate::diagnostics::{Check, Kind, Priority, Probe, Repair, Status, Text};

pub const NAME: &str = "outbox";

/// Past due by more than this, a message counts as overdue (the worker's
/// sweep re-pushes after 30 s).
const GRACE: TimeDelta = TimeDelta::seconds(60);
/// Overdue for longer than this is a failure, not a warning.
const LATE: TimeDelta = TimeDelta::minutes(10);

pub async fn check(probe: &Probe) -> Check {
    let Ok(db) = &probe.db else {
        return super::no_database(NAME);
    };
    let now = probe.clock.now();
    let (due_before, hour_ago) = (now - GRACE, now - TimeDelta::hours(1));
    let figures = match db
        .read(move |c| diagnostics::outbox_figures(c, due_before, hour_ago))
        .await
    {
        Ok(figures) => figures,
        Err(error) => {
            let mut check = Check::ok(NAME, "-");
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Data,
                Text::new("diag.check.query_failed").with("error", error),
                None,
            );
            return check;
        }
    };
    let late = figures.oldest_due.map_or(0, |at| (now - at).num_seconds());
    let mut check = Check::ok(
        NAME,
        format!(
            "{} overdue (oldest {}), {} failed in 1 h",
            figures.overdue,
            age(late),
            figures.failed_last_hour
        ),
    );
    if figures.overdue > 0 {
        let status = if late > LATE.num_seconds() {
            Status::Fail
        } else {
            Status::Warn
        };
        check.finding(
            status,
            Priority::P1,
            Kind::Runtime,
            Text::new("diag.outbox.overdue")
                .with("count", figures.overdue)
                .with("age", age(late)),
            Some(Text::new("diag.outbox.overdue.fix")),
        );
        check.repairs.push(Repair::RepushOutbox);
    }
    if figures.failed_last_hour > 0 {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Integration,
            Text::new("diag.outbox.failed").with("count", figures.failed_last_hour),
            Some(Text::new("diag.outbox.failed.fix")),
        );
        check.correlation_ids = figures.failed_correlation_ids;
    }
    check
}
