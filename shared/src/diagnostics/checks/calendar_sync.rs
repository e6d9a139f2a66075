//! Calendar sync of meetings: syncs that gave up (shown with their
//! meetings and correlation ids; a repair re-syncs them) and syncs still
//! pending long after their change (a push lost in a crash).

use chrono::TimeDelta;

use crate::db::diagnostics;
use crate::diagnostics::{Check, Kind, Priority, Probe, Repair, Signals, Status, Text};

pub const NAME: &str = "calendar-sync";

/// A sync pending this long after its change lost its push (the sweep's
/// grace is 30 s; a sync retrying with backoff keeps its job queued).
const STRANDED: TimeDelta = TimeDelta::minutes(10);

pub async fn check(probe: &Probe, signals: &mut Signals) -> Check {
    let Ok(db) = &probe.db else {
        return super::no_database(NAME);
    };
    let changed_before = probe.clock.now() - STRANDED;
    let figures = db
        .read(move |c| {
            Ok((
                diagnostics::failed_syncs(c, 100)?,
                diagnostics::stranded_syncs(c, changed_before)?,
            ))
        })
        .await;
    let (failed, stranded) = match figures {
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
    signals.failed_syncs = Some(i64::try_from(failed.len()).unwrap_or(i64::MAX));
    let mut check = Check::ok(
        NAME,
        format!("{} failed, {stranded} stranded", failed.len()),
    );
    if !failed.is_empty() {
        let ids: Vec<String> = failed
            .iter()
            .take(10)
            .map(|f| f.meeting_id.to_string())
            .collect();
        let error = failed
            .iter()
            .find_map(|f| f.error.as_deref())
            .map(|e| e.chars().take(200).collect::<String>())
            .unwrap_or_default();
        check.finding(
            Status::Fail,
            Priority::P2,
            Kind::Integration,
            Text::new("diag.sync.failed")
                .with("count", failed.len())
                .with("ids", ids.join(", "))
                .with("error", error),
            Some(Text::new("diag.sync.failed.fix")),
        );
        let mut ids: Vec<String> = Vec::new();
        for id in failed.iter().filter_map(|f| f.correlation_id.clone()) {
            if !ids.contains(&id) && ids.len() < 5 {
                ids.push(id);
            }
        }
        check.correlation_ids = ids;
        check.repairs.push(Repair::ResyncFailed);
    }
    if stranded > 0 {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Runtime,
            Text::new("diag.sync.stranded").with("count", stranded),
            Some(Text::new("diag.sync.stranded.fix")),
        );
        check.repairs.push(Repair::RepushSyncs);
    }
    check
}
