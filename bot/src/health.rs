//! The bot's HTTP endpoints: `/health` (is the process working), `/ready`
//! (can it reach its database and queue), with no secret in any answer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use shared::clock::Clock;
use shared::db::Db;
use shared::jobs::Queue;

/// What the poller and the lanes report about themselves.
#[derive(Debug, Default)]
pub struct Health {
    last_poll_ok_unix: AtomicI64,
    active: AtomicBool,
    problem: Mutex<Option<String>>,
    /// Updates stored and waiting in lanes (or in hand).
    queued: AtomicUsize,
    /// When handling started waiting for the database (Unix seconds; 0:
    /// it is not waiting).
    blocked_since_unix: AtomicI64,
    received: AtomicU64,
    unreadable: AtomicU64,
    skipped: AtomicU64,
    dropped: AtomicU64,
    /// Failed polls, and those that met another poller (409 "terminated
    /// by other getUpdates"), counted for diagnostics ([`publish`]).
    failures: AtomicI64,
    conflicts: AtomicI64,
}

/// What became of received updates, as counted by the poller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Stored for handling in its chat's lane.
    Queued,
    /// Could not be decoded.
    Unreadable,
    /// A kind or chat the bot does not handle.
    Skipped,
    /// Its chat was flooding.
    Dropped,
}

impl Health {
    /// Counts a received update by what became of it.
    pub fn received(&self, receipt: Receipt) {
        self.received.fetch_add(1, Ordering::Relaxed);
        let counter = match receipt {
            Receipt::Queued => return,
            Receipt::Unreadable => &self.unreadable,
            Receipt::Skipped => &self.skipped,
            Receipt::Dropped => &self.dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn update_queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }

    pub fn update_done(&self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }

    /// Handling waits for the database (first call of an outage wins).
    pub fn handling_blocked(&self, at: DateTime<Utc>) {
        let _ = self.blocked_since_unix.compare_exchange(
            0,
            at.timestamp().max(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// A handling transaction committed: the database answers again.
    pub fn handling_recovered(&self) {
        self.blocked_since_unix.store(0, Ordering::Relaxed);
    }

    pub fn poll_succeeded(&self, at: DateTime<Utc>) {
        self.last_poll_ok_unix
            .store(at.timestamp(), Ordering::Relaxed);
        if let Ok(mut problem) = self.problem.lock() {
            *problem = None;
        }
    }

    pub fn poll_failed(&self, problem: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        // Telegram's words for a second poller; a webhook's 409 says
        // "webhook is active" and is told apart by getWebhookInfo.
        if problem.contains("terminated by other getUpdates") {
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut current) = self.problem.lock() {
            *current = Some(problem);
        }
    }

    /// Whether this replica holds the poller lease (others stand by).
    pub fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }
}

/// How often the active poller writes what it saw for `diagnose`.
const PUBLISH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes this replica's polling state to `poller_status` every few
/// seconds while it is the active poller, so `diagnose` and `/diag` (other
/// processes) can tell a second poller (409), a failing poll or a silent
/// bot. Failures are stamped when first seen here (within 5 s).
pub async fn publish(
    health: std::sync::Arc<Health>,
    db: Db,
    clock: Clock,
    holder: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let (mut failures, mut conflicts) = (0_i64, 0_i64);
    let (mut last_error_at, mut last_conflict_at) = (None, None);
    loop {
        let now = clock.now();
        let seen_failures = health.failures.load(Ordering::Relaxed);
        let seen_conflicts = health.conflicts.load(Ordering::Relaxed);
        if seen_failures > failures {
            last_error_at = Some(now);
        }
        if seen_conflicts > conflicts {
            last_conflict_at = Some(now);
        }
        (failures, conflicts) = (seen_failures, seen_conflicts);
        if health.active.load(Ordering::Relaxed) {
            let last_poll = health.last_poll_ok_unix.load(Ordering::Relaxed);
            let last_success_at = DateTime::from_timestamp(last_poll, 0).filter(|_| last_poll > 0);
            let problem = health.problem();
            let holder = holder.clone();
            let written = db
                .write_single(move |c| {
                    shared::db::diagnostics::report_poller(
                        c,
                        &shared::db::diagnostics::PollerReport {
                            holder: &holder,
                            last_success_at,
                            last_error: problem.as_deref(),
                            last_error_at,
                            last_conflict_at,
                            conflicts,
                        },
                        now,
                    )
                })
                .await;
            if let Err(error) = written {
                tracing::debug!(%error, "cannot record the polling state");
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(PUBLISH_EVERY) => {}
        }
    }
}

#[derive(Debug, Clone)]
struct AppState {
    db: Db,
    queue: Queue,
    clock: Clock,
    health: std::sync::Arc<Health>,
}

/// The router of the bot's HTTP server.
pub fn router(db: Db, queue: Queue, clock: Clock, health: std::sync::Arc<Health>) -> axum::Router {
    axum::Router::new()
        .route("/health", get(health_check))
        .route("/ready", get(ready))
        .with_state(AppState {
            db,
            queue,
            clock,
            health,
        })
}

async fn health_check(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let problem = state.health.problem();
    let last_poll = state.health.last_poll_ok_unix.load(Ordering::Relaxed);
    let status = if problem.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = json!({
        "status": if problem.is_some() {
            "degraded"
        } else if state.health.blocked_since_unix.load(Ordering::Relaxed) > 0 {
            "behind"
        } else {
            "ok"
        },
        "service": "bot",
        "version": env!("CARGO_PKG_VERSION"),
        "database": state.db.backend().to_string(),
        "polling": {
            "role": if state.health.active.load(Ordering::Relaxed) { "active" } else { "standby" },
            "last_success": DateTime::from_timestamp(last_poll, 0).filter(|_| last_poll > 0),
            "problem": problem,
        },
        "handling": handling(&state.health),
        "test_clock": state.clock.is_test_clock(),
    });
    (status, Json(body))
}

/// Whether handling keeps up, and what became of received updates: a
/// database outage shows as `behind` (the updates wait, stored) without
/// failing the liveness check, since restarting would not help.
fn handling(health: &Health) -> Value {
    let blocked = health.blocked_since_unix.load(Ordering::Relaxed);
    json!({
        "state": if blocked > 0 { "behind" } else { "ok" },
        "behind_since": DateTime::from_timestamp(blocked, 0).filter(|_| blocked > 0),
        "waiting": health.queued.load(Ordering::Relaxed),
        "received": health.received.load(Ordering::Relaxed),
        "unreadable": health.unreadable.load(Ordering::Relaxed),
        "skipped": health.skipped.load(Ordering::Relaxed),
        "dropped": health.dropped.load(Ordering::Relaxed),
    })
}

async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    use diesel::connection::SimpleConnection;
    let database = state
        .db
        .read(|c| c.batch_execute("SELECT 1").map_err(Into::into))
        .await;
    let queue = state.queue.ping().await;
    if database.is_ok() && queue.is_ok() {
        return (StatusCode::OK, Json(json!({ "status": "ready" })));
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "status": "not ready",
            "database": database.err().map(|e| e.to_string()),
            "queue": queue.err().map(|e| e.to_string()),
        })),
    )
}
