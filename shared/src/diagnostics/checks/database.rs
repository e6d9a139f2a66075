//! Database: reachable, round-trip latency, migrations current, room in
//! the pools (this process's waiters; the server's connection limit on
//! PostgreSQL).

use std::time::Instant;

use diesel::connection::SimpleConnection;

use crate::db::{self, DbError};
use crate::diagnostics::{Check, Kind, Priority, Probe, Signals, Status, Text};

pub const NAME: &str = "database";

/// Round trips measured; the median is reported.
const ROUND_TRIPS: usize = 3;
/// A round trip slower than this (ms) is a warning, ten times that a failure.
const SLOW_MS: f64 = 250.0;

pub async fn check(probe: &Probe, signals: &mut Signals) -> Check {
    let db = match &probe.db {
        Ok(db) => db,
        Err(error) => {
            signals.database_reachable = Some(false);
            let mut check = Check::ok(NAME, "-");
            check.finding(
                Status::Fail,
                Priority::P0,
                Kind::Runtime,
                Text::new("diag.db.unreachable").with("error", error),
                Some(Text::new("diag.db.unreachable.fix")),
            );
            return check;
        }
    };
    signals.database_reachable = Some(true);
    let mut trips = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let started = Instant::now();
        if let Err(error) = db
            .read(|c| c.batch_execute("SELECT 1").map_err(DbError::from))
            .await
        {
            signals.database_reachable = Some(false);
            let mut check = Check::ok(NAME, "-");
            check.finding(
                Status::Fail,
                Priority::P0,
                Kind::Runtime,
                Text::new("diag.db.unreachable").with("error", error),
                Some(Text::new("diag.db.unreachable.fix")),
            );
            return check;
        }
        trips.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    trips.sort_by(f64::total_cmp);
    let latency = trips[ROUND_TRIPS / 2];
    let known = db::migrate::known_versions(db.backend()).len();
    let pending = db::migrate::pending(db).await;
    let waiting = db.waiting();
    signals.pool_waiting = Some(waiting);
    let connections = db
        .read(db::diagnostics::server_connections)
        .await
        .ok()
        .flatten();
    let mut figure = format!("{}, {latency:.1} ms round trip", db.backend());
    match &pending {
        Ok(pending) => figure.push_str(&format!(
            ", migrations {}/{known}",
            known.saturating_sub(pending.len())
        )),
        Err(_) => figure.push_str(", migrations ?"),
    }
    if let Some(c) = connections {
        figure.push_str(&format!(", server connections {}/{}", c.used, c.max));
    }
    let mut check = Check::ok(NAME, figure);
    if latency > SLOW_MS * 10.0 {
        check.finding(
            Status::Fail,
            Priority::P1,
            Kind::Performance,
            Text::new("diag.db.slow").with("ms", format!("{latency:.0}")),
            Some(Text::new("diag.db.slow.fix")),
        );
    } else if latency > SLOW_MS {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Performance,
            Text::new("diag.db.slow").with("ms", format!("{latency:.0}")),
            Some(Text::new("diag.db.slow.fix")),
        );
    }
    match pending {
        Ok(pending) if !pending.is_empty() => {
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Configuration,
                Text::new("diag.db.pending")
                    .with("count", pending.len())
                    .with("versions", pending.join(", ")),
                Some(Text::new("diag.db.pending.fix")),
            );
            signals.pending_migrations = Some(pending);
        }
        Ok(pending) => signals.pending_migrations = Some(pending),
        Err(error) => check.finding(
            Status::Fail,
            Priority::P1,
            Kind::Data,
            Text::new("diag.db.migrations_unreadable").with("error", error),
            Some(Text::new("diag.db.pending.fix")),
        ),
    }
    if let Some(c) = connections {
        signals.server_connections = Some((c.used, c.max));
        let share = c.used as f64 / c.max.max(1) as f64;
        if share >= 0.75 {
            let status = if share >= 0.9 {
                Status::Fail
            } else {
                Status::Warn
            };
            check.finding(
                status,
                Priority::P1,
                Kind::Performance,
                Text::new("diag.db.connections")
                    .with("used", c.used)
                    .with("max", c.max),
                Some(Text::new("diag.db.connections.fix")),
            );
        }
    }
    if waiting > 0 {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Performance,
            Text::new("diag.db.pool_waiting").with("count", waiting),
            Some(Text::new("diag.db.connections.fix")),
        );
    }
    check
}
