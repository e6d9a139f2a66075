//! Workers: which worker processes are alive by their queue heartbeats,
//! and when the silent ones were last heard from.

use std::collections::BTreeMap;

use super::age;
use crate::db::diagnostics;
use crate::diagnostics::{Check, Kind, Priority, Probe, Signals, Status, Text};

pub const NAME: &str = "workers";

/// Workers silent longer than this are not mentioned at all.
const REMEMBERED_SECS: i64 = 86_400;

pub async fn check(probe: &Probe, signals: &mut Signals) -> Check {
    let Ok(db) = &probe.db else {
        return super::no_database(NAME);
    };
    let beats = match db
        .read(|c| diagnostics::worker_beats(c, REMEMBERED_SECS))
        .await
    {
        Ok(beats) => beats,
        Err(error) => {
            let mut check = Check::ok(NAME, "-");
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Configuration,
                Text::new("diag.queue.unreadable").with("error", error),
                Some(Text::new("diag.db.pending.fix")),
            );
            return check;
        }
    };
    let window = super::queue::orphan_window_secs(probe);
    // One process runs one queue worker per job type, each named
    // `<queue>@<host>:<pid>:<boot id>`: the process is `<host>:<pid>`.
    let mut processes: BTreeMap<String, i64> = BTreeMap::new();
    for beat in &beats {
        let name = beat.id.split_once('@').map_or(beat.id.as_str(), |(_, p)| p);
        let process = name.rsplit_once(':').map_or(name, |(p, _)| p).to_owned();
        let silent = processes.entry(process).or_insert(i64::MAX);
        *silent = (*silent).min(beat.silent_secs);
    }
    let alive: Vec<&String> = processes
        .iter()
        .filter(|(_, silent)| **silent <= window)
        .map(|(name, _)| name)
        .collect();
    let gone: Vec<(&String, &i64)> = processes
        .iter()
        .filter(|(_, silent)| **silent > window)
        .collect();
    signals.live_workers = Some(alive.len());
    let freshest = processes.values().min().copied();
    let mut check = Check::ok(
        NAME,
        format!(
            "{} alive, last heartbeat {}",
            alive.len(),
            freshest.map_or_else(|| "never".to_owned(), |s| format!("{} ago", age(s)))
        ),
    );
    if alive.is_empty() {
        check.finding(
            Status::Fail,
            Priority::P0,
            Kind::Runtime,
            Text::new("diag.workers.none").with(
                "last",
                freshest.map_or_else(|| "never".to_owned(), |s| format!("{} ago", age(s))),
            ),
            Some(Text::new("diag.workers.none.fix")),
        );
    } else {
        let names: Vec<&str> = alive.iter().map(|n| n.as_str()).collect();
        check.note(Text::new("diag.workers.alive").with("names", names.join(", ")));
    }
    if !gone.is_empty() {
        let names: Vec<String> = gone
            .iter()
            .take(5)
            .map(|(name, silent)| format!("{name} ({} ago)", age(**silent)))
            .collect();
        check.note(Text::new("diag.workers.gone").with("names", names.join(", ")));
    }
    check
}
