//! Known failure modes, each tested against what the checks measured:
//! confirmed, rejected, or inconclusive (not measured in this mode), with
//! a confidence and the fix. The report's root cause is the most urgent
//! confirmed one.

use serde::Serialize;

use super::{Kind, Priority, Signals, Text};

/// What the evidence says about a hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Confirmed,
    Rejected,
    Inconclusive,
}

/// One known failure mode, tested.
#[derive(Debug, Clone)]
pub struct Hypothesis {
    /// Stable id (`webhook_set`, …), also the key of its texts
    /// (`diag.hyp.<id>`).
    pub id: &'static str,
    pub verdict: Verdict,
    /// 0–100: how sure the verdict is.
    pub confidence: u8,
    pub evidence: Text,
    pub fix: Text,
    pub priority: Priority,
    pub kind: Kind,
}

/// Every hypothesis, in a fixed order.
pub fn test(signals: &Signals) -> Vec<Hypothesis> {
    vec![
        token_revoked(signals),
        webhook_set(signals),
        second_poller(signals),
        dead_worker(signals),
        queue_backlog(signals),
        pool_exhaustion(signals),
        pending_migrations(signals),
        disk_nearly_full(signals),
        clock_skew(signals),
        refresh_token_revoked(signals),
        calendar_not_shared(signals),
    ]
}

fn hypothesis(
    id: &'static str,
    priority: Priority,
    kind: Kind,
    outcome: Option<(bool, u8, Text)>,
) -> Hypothesis {
    let (verdict, confidence, evidence) = match outcome {
        Some((true, confidence, evidence)) => (Verdict::Confirmed, confidence, evidence),
        Some((false, confidence, evidence)) => (Verdict::Rejected, confidence, evidence),
        None => (Verdict::Inconclusive, 0, Text::new("diag.hyp.not_measured")),
    };
    Hypothesis {
        id,
        verdict,
        confidence,
        evidence,
        fix: Text::new(fix_key(id)),
        priority,
        kind,
    }
}

fn fix_key(id: &str) -> &'static str {
    match id {
        "token_revoked" => "diag.tg.token_rejected.fix",
        "webhook_set" => "diag.tg.webhook.fix",
        "second_poller" => "diag.tg.second_poller.fix",
        "dead_worker" => "diag.workers.none.fix",
        "queue_backlog" => "diag.queue.backlog.fix",
        "pool_exhaustion" => "diag.db.connections.fix",
        "pending_migrations" => "diag.db.pending.fix",
        "disk_nearly_full" => "diag.host.disk.fix",
        "clock_skew" => "diag.clock.skew.fix",
        "refresh_token_revoked" => "diag.google.reconnect.fix",
        _ => "diag.google.not_shared.fix",
    }
}

fn token_revoked(s: &Signals) -> Hypothesis {
    let outcome = s.token_accepted.map(|accepted| {
        if accepted {
            (false, 99, Text::new("diag.hyp.token_revoked.no"))
        } else {
            (true, 99, Text::new("diag.hyp.token_revoked.yes"))
        }
    });
    hypothesis("token_revoked", Priority::P0, Kind::Configuration, outcome)
}

fn webhook_set(s: &Signals) -> Hypothesis {
    let outcome = s.webhook.as_ref().map(|webhook| match webhook {
        Some(host) => (
            true,
            95,
            Text::new("diag.hyp.webhook_set.yes").with("host", host),
        ),
        None => (false, 95, Text::new("diag.hyp.webhook_set.no")),
    });
    hypothesis("webhook_set", Priority::P0, Kind::Integration, outcome)
}

fn second_poller(s: &Signals) -> Hypothesis {
    let webhook = matches!(s.webhook, Some(Some(_)));
    let outcome = s.recent_conflict.map(|conflict| {
        if conflict && !webhook {
            (true, 85, Text::new("diag.hyp.second_poller.yes"))
        } else if conflict {
            // A webhook also answers polls with 409: it explains them.
            (false, 60, Text::new("diag.hyp.second_poller.webhook"))
        } else {
            (false, 80, Text::new("diag.hyp.second_poller.no"))
        }
    });
    hypothesis("second_poller", Priority::P0, Kind::Integration, outcome)
}

fn dead_worker(s: &Signals) -> Hypothesis {
    let outcome = match (s.live_workers, s.stale_jobs, s.waiting_jobs) {
        (Some(0), _, waiting) => Some((
            true,
            if waiting.unwrap_or(0) > 0 { 95 } else { 80 },
            Text::new("diag.hyp.dead_worker.none"),
        )),
        (Some(_), Some(stale), _) if stale > 0 => Some((
            true,
            85,
            Text::new("diag.hyp.dead_worker.stale").with("count", stale),
        )),
        (Some(alive), _, _) => Some((
            false,
            85,
            Text::new("diag.hyp.dead_worker.no").with("count", alive),
        )),
        (None, _, _) => None,
    };
    hypothesis("dead_worker", Priority::P0, Kind::Runtime, outcome)
}

fn queue_backlog(s: &Signals) -> Hypothesis {
    let outcome = s.oldest_wait_secs.map(|oldest| {
        let waiting = s.waiting_jobs.unwrap_or(0);
        // Jobs wait because nobody runs them: that is a dead worker.
        let workers = s.live_workers.unwrap_or(0);
        if oldest > 0 && workers > 0 && s.backlog {
            (
                true,
                80,
                Text::new("diag.hyp.queue_backlog.yes")
                    .with("count", waiting)
                    .with("age", super::checks::age(oldest)),
            )
        } else {
            (
                false,
                if workers == 0 { 50 } else { 80 },
                Text::new("diag.hyp.queue_backlog.no")
                    .with("count", waiting)
                    .with("age", super::checks::age(oldest)),
            )
        }
    });
    hypothesis("queue_backlog", Priority::P1, Kind::Performance, outcome)
}

fn pool_exhaustion(s: &Signals) -> Hypothesis {
    let outcome = match (s.server_connections, s.pool_waiting) {
        (Some((used, max)), _) if used * 10 >= max * 9 => Some((
            true,
            80,
            Text::new("diag.hyp.pool_exhaustion.yes")
                .with("used", used)
                .with("max", max),
        )),
        (_, Some(waiting)) if waiting > 0 => Some((
            true,
            60,
            Text::new("diag.db.pool_waiting").with("count", waiting),
        )),
        (_, Some(_)) => Some((false, 75, Text::new("diag.hyp.pool_exhaustion.no"))),
        (_, None) => None,
    };
    hypothesis("pool_exhaustion", Priority::P1, Kind::Performance, outcome)
}

fn pending_migrations(s: &Signals) -> Hypothesis {
    let outcome = s.pending_migrations.as_ref().map(|pending| {
        if pending.is_empty() {
            (false, 99, Text::new("diag.hyp.pending_migrations.no"))
        } else {
            (
                true,
                99,
                Text::new("diag.hyp.pending_migrations.yes").with("versions", pending.join(", ")),
            )
        }
    });
    hypothesis(
        "pending_migrations",
        Priority::P1,
        Kind::Configuration,
        outcome,
    )
}

fn disk_nearly_full(s: &Signals) -> Hypothesis {
    let outcome = s.disk_free_percent.map(|free| {
        let threshold = s.disk_threshold_percent.unwrap_or(10.0);
        let text = |key| {
            Text::new(key)
                .with("free", format!("{free:.1}"))
                .with("threshold", threshold)
        };
        if free < threshold {
            (true, 95, text("diag.hyp.disk_nearly_full.yes"))
        } else {
            (false, 95, text("diag.hyp.disk_nearly_full.no"))
        }
    });
    hypothesis("disk_nearly_full", Priority::P1, Kind::Runtime, outcome)
}

fn clock_skew(s: &Signals) -> Hypothesis {
    let outcome = s.clock_skew_ms.map(|skew| {
        let text = |key| Text::new(key).with("ms", skew);
        if skew.abs() > 2_000 {
            (true, 90, text("diag.hyp.clock_skew.yes"))
        } else {
            (false, 90, text("diag.hyp.clock_skew.no"))
        }
    });
    hypothesis("clock_skew", Priority::P2, Kind::Configuration, outcome)
}

fn refresh_token_revoked(s: &Signals) -> Hypothesis {
    let outcome = if !s.revoked_owners.is_empty() {
        Some((
            true,
            95,
            Text::new("diag.hyp.refresh_token_revoked.yes")
                .with("owners", owners(&s.revoked_owners)),
        ))
    } else if s.google_probed {
        Some((false, 90, Text::new("diag.hyp.refresh_token_revoked.no")))
    } else {
        None
    };
    hypothesis(
        "refresh_token_revoked",
        Priority::P1,
        Kind::Integration,
        outcome,
    )
}

fn calendar_not_shared(s: &Signals) -> Hypothesis {
    let outcome = if !s.unshared_owners.is_empty() {
        Some((
            true,
            90,
            Text::new("diag.hyp.calendar_not_shared.yes")
                .with("owners", owners(&s.unshared_owners)),
        ))
    } else if s.google_probed {
        Some((false, 85, Text::new("diag.hyp.calendar_not_shared.no")))
    } else {
        None
    };
    hypothesis(
        "calendar_not_shared",
        Priority::P1,
        Kind::Integration,
        outcome,
    )
}

fn owners(ids: &[i64]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
