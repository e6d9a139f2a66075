//! Google Calendar per connected owner: the connection's state (broken
//! by a revoked grant), push channel expiry, the age of the last busy-time
//! sync; in full mode also a token refresh and a read of the calendar.

use chrono::TimeDelta;

use super::age;
use crate::db::diagnostics::{self, CalendarLink};
use crate::diagnostics::{Check, Kind, Mode, Priority, Probe, Repair, Signals, Status, Text};

pub const NAME: &str = "google";

/// A push channel expiring within this is renewed by a repair.
pub const CHANNEL_SOON: TimeDelta = TimeDelta::hours(24);

pub async fn check(probe: &Probe, mode: Mode, signals: &mut Signals) -> Vec<Check> {
    let google = &probe.config.google;
    if google.oauth_client.is_none() && google.service_account.is_none() {
        return vec![Check::ok(NAME, "not configured")];
    }
    let Ok(db) = &probe.db else {
        return vec![super::no_database(NAME)];
    };
    let links = match db.read(diagnostics::calendar_links).await {
        Ok(links) => links,
        Err(error) => {
            let mut check = Check::ok(NAME, "-");
            check.finding(
                Status::Fail,
                Priority::P2,
                Kind::Data,
                Text::new("diag.check.query_failed").with("error", error),
                None,
            );
            return vec![check];
        }
    };
    let owners: Vec<&CalendarLink> = match mode {
        Mode::Owner(telegram_id) => links
            .iter()
            .filter(|l| l.telegram_id == telegram_id)
            .collect(),
        _ => links.iter().collect(),
    };
    if let Mode::Owner(telegram_id) = mode
        && owners.is_empty()
    {
        let mut check = Check::ok(format!("google:{telegram_id}"), "-");
        check.finding(
            Status::Fail,
            Priority::P2,
            Kind::Data,
            Text::new("diag.google.not_connected").with("owner", telegram_id),
            Some(Text::new("diag.google.reconnect.fix")),
        );
        return vec![check];
    }
    let mut checks = Vec::new();
    for link in &owners {
        let mut check = owner_from_records(probe, link, signals);
        if mode != Mode::Quick && link.status == "active" {
            super::google_probe::probe(probe, link, mode, &mut check, signals).await;
        }
        checks.push(check);
    }
    if mode == Mode::Quick {
        // One line for all owners, the worst of them.
        let mut summary = Check::ok(
            NAME,
            format!(
                "{} connected, {} broken",
                owners.len(),
                owners.iter().filter(|l| l.status != "active").count()
            ),
        );
        for check in checks {
            if check.status != Status::Ok
                && let (Some(priority), Some(kind)) = (check.priority, check.kind)
            {
                for evidence in check.evidence {
                    summary.finding(check.status, priority, kind, evidence, check.fix.clone());
                }
                for repair in check.repairs {
                    if !summary.repairs.contains(&repair) {
                        summary.repairs.push(repair);
                    }
                }
            }
        }
        return vec![summary];
    }
    checks
}

/// What the stored connection says, without calling Google.
fn owner_from_records(probe: &Probe, link: &CalendarLink, signals: &mut Signals) -> Check {
    let now = probe.clock.now();
    let mut check = Check::ok(
        format!("google:{}", link.telegram_id),
        format!(
            "{} ({}), busy sync {}",
            link.kind,
            link.status,
            link.busy_synced_at.map_or_else(
                || "never".to_owned(),
                |at| format!("{} ago", age((now - at).num_seconds()))
            )
        ),
    );
    if link.status != "active" {
        let reason = link.broken_reason.clone().unwrap_or_default();
        if is_revocation(&reason) {
            signals.revoked_owners.push(link.telegram_id);
        }
        check.finding(
            Status::Fail,
            Priority::P1,
            Kind::Integration,
            Text::new("diag.google.broken")
                .with("owner", link.telegram_id)
                .with("reason", reason),
            Some(Text::new("diag.google.reconnect.fix")),
        );
        return check;
    }
    if let Some(expires) = link.watch_expires_at
        && expires - now < CHANNEL_SOON
    {
        check.finding(
            Status::Warn,
            Priority::P3,
            Kind::Integration,
            Text::new("diag.google.channel_expiring")
                .with("owner", link.telegram_id)
                .with("in", age((expires - now).num_seconds())),
            Some(Text::new("diag.google.channel_expiring.fix")),
        );
        check.repairs.push(Repair::RenewChannels);
    }
    let interval = TimeDelta::from_std(probe.config.google.busy_sync_interval)
        .unwrap_or(TimeDelta::minutes(5));
    if let Some(at) = link.busy_synced_at
        && now - at > interval * 3
    {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Integration,
            Text::new("diag.google.busy_stale")
                .with("owner", link.telegram_id)
                .with("age", age((now - at).num_seconds())),
            Some(Text::new("diag.google.busy_stale.fix")),
        );
    }
    check
}

/// Whether Google's answer means the grant was revoked or expired.
pub fn is_revocation(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    reason.contains("invalid_grant") || reason.contains("revoked") || reason.contains("expired")
}
