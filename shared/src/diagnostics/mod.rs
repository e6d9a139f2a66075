//! Diagnostics: the checks, triage, hypotheses, repairs and reports that
//! `diagnose` (both binaries), the admins' `/diag` and the worker's health
//! monitor share, so all three always say the same thing.
//!
//! A run is: every [`checks`] module measures one part of the deployment
//! (status, figure, evidence, suggested fix, offered repairs) and leaves
//! facts on a [`Signals`] board; [`hypotheses`] tests the known failure
//! modes against those facts; [`Report`] ranks what fails (triage P0–P3 by
//! kind) and names the most likely root cause. Texts are i18n keys with
//! values ([`Text`]), rendered in the reader's language by [`render`].
//!
//! Error policy: a check never fails the run; what it cannot measure is
//! itself a finding ("cannot reach Telegram").

pub mod callback;
pub mod checks;
pub mod cli;
pub mod context;
pub mod hypotheses;
pub mod monitor;
pub mod render;
pub mod repairs;
pub mod trends;

use serde::Serialize;

pub use context::{Mode, Probe};
pub use hypotheses::{Hypothesis, Verdict};
pub use repairs::Repair;
pub use trends::Trend;

/// Version of the `--json` document (`schema` field); bump on any
/// incompatible change, and document it in the README.
pub const SCHEMA: &str = "scheduler.diagnose/1";

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    /// The exit code of `diagnose`: 0 healthy, 1 warnings, 2 failures.
    pub fn exit_code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Warn => 1,
            Self::Fail => 2,
        }
    }

    /// As stored in `health_states.status`.
    pub fn stored(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warning",
            Self::Fail => "critical",
        }
    }

    pub fn icon(self) -> &'static str {
        match self {
            Self::Ok => "✅",
            Self::Warn => "⚠️",
            Self::Fail => "❌",
        }
    }
}

/// How urgent a problem is: P0 nobody is served, P1 a main flow is broken
/// or about to be, P2 some users or some work are affected, P3 worth a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Priority {
    P0,
    P1,
    P2,
    P3,
}

/// What sort of problem it is, which says who fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::AsRefStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Kind {
    Runtime,
    Performance,
    Integration,
    Data,
    Configuration,
}

/// A text for people: a catalogue key and its values; rendered in the
/// reader's language ([`render`]), and in English in `--json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub key: &'static str,
    pub args: Vec<(&'static str, String)>,
}

impl Text {
    pub fn new(key: &'static str) -> Self {
        Self {
            key,
            args: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.args.push((name, value.to_string()));
        self
    }
}

/// The outcome of one check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Stable name (`database`, `telegram`, `google:<telegram id>` …): the
    /// key of `health_states` and of the JSON output.
    pub name: String,
    pub status: Status,
    /// The measured figure, in one short line (numbers and units only).
    pub figure: String,
    pub evidence: Vec<Text>,
    /// What to do about it (for a warning or a failure).
    pub fix: Option<Text>,
    /// Set when the status is not ok.
    pub priority: Option<Priority>,
    pub kind: Option<Kind>,
    /// Correlation ids of failed work, to grep the logs for.
    pub correlation_ids: Vec<String>,
    /// Repairs `--fix` may make for it.
    pub repairs: Vec<Repair>,
}

impl Check {
    pub fn ok(name: impl Into<String>, figure: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: Status::Ok,
            figure: figure.into(),
            evidence: Vec::new(),
            fix: None,
            priority: None,
            kind: None,
            correlation_ids: Vec::new(),
            repairs: Vec::new(),
        }
    }

    /// Lowers the check to `status` (never raises it back), with the
    /// triage of that finding; the first, worse finding keeps its triage.
    pub fn finding(
        &mut self,
        status: Status,
        priority: Priority,
        kind: Kind,
        evidence: Text,
        fix: Option<Text>,
    ) {
        if status > self.status
            || (status == self.status && self.priority.is_none_or(|p| priority < p))
        {
            self.status = status;
            self.priority = Some(priority);
            self.kind = Some(kind);
            if fix.is_some() {
                self.fix = fix;
            }
        } else if self.fix.is_none() {
            self.fix = fix;
        }
        self.evidence.push(evidence);
    }

    /// An informational line that changes no status.
    pub fn note(&mut self, evidence: Text) {
        self.evidence.push(evidence);
    }
}

/// Facts the checks measured, for the hypotheses. `None`: not measured
/// (the check could not run, or not in this mode).
#[derive(Debug, Clone, Default)]
pub struct Signals {
    pub database_reachable: Option<bool>,
    pub pending_migrations: Option<Vec<String>>,
    /// Server connections in use and allowed (PostgreSQL), and callers
    /// waiting for this process's pool.
    pub server_connections: Option<(i64, i64)>,
    pub pool_waiting: Option<usize>,
    /// Seconds the oldest due job has waited, over all job types.
    pub oldest_wait_secs: Option<i64>,
    pub waiting_jobs: Option<i64>,
    /// Some job type's oldest due job waited past `DIAG_QUEUE_MAX_WAIT`.
    pub backlog: bool,
    pub stale_jobs: Option<i64>,
    pub live_workers: Option<usize>,
    /// getMe: `Some(false)` when Telegram refused the token (401).
    pub token_accepted: Option<bool>,
    /// The webhook URL's host when one is set (`Some(None)`: none set).
    pub webhook: Option<Option<String>>,
    /// A 409 "terminated by other getUpdates" seen by the poller lately.
    pub recent_conflict: Option<bool>,
    pub last_poll_age_secs: Option<i64>,
    pub disk_free_percent: Option<f64>,
    pub disk_threshold_percent: Option<f64>,
    pub clock_skew_ms: Option<i64>,
    /// Owners (Telegram ids) whose refresh token Google refused.
    pub revoked_owners: Vec<i64>,
    /// Owners whose shared calendar the service account cannot reach.
    pub unshared_owners: Vec<i64>,
    /// Google owners probed at all (full mode).
    pub google_probed: bool,
    pub failed_syncs: Option<i64>,
}

/// A whole run: checks, hypotheses, triage and (in full mode) trends.
#[derive(Debug, Clone)]
pub struct Report {
    pub mode: Mode,
    pub generated_at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: u64,
    pub checks: Vec<Check>,
    pub hypotheses: Vec<Hypothesis>,
    pub trends: Vec<Trend>,
    pub repairs: Vec<repairs::Outcome>,
}

impl Report {
    /// The worst status of any check.
    pub fn status(&self) -> Status {
        self.checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Ok)
    }

    pub fn exit_code(&self) -> u8 {
        self.status().exit_code()
    }

    /// Checks that are not ok, most urgent first.
    pub fn triage(&self) -> Vec<&Check> {
        let mut problems: Vec<&Check> = self
            .checks
            .iter()
            .filter(|c| c.status != Status::Ok)
            .collect();
        problems.sort_by_key(|c| {
            (
                c.priority.unwrap_or(Priority::P3),
                std::cmp::Reverse(c.status),
            )
        });
        problems
    }

    /// The most likely root cause: the confirmed hypothesis with the
    /// highest priority, then confidence.
    pub fn root_cause(&self) -> Option<&Hypothesis> {
        self.hypotheses
            .iter()
            .filter(|h| h.verdict == Verdict::Confirmed)
            .min_by_key(|h| (h.priority, std::cmp::Reverse(h.confidence)))
    }

    /// Repairs the checks offer (each once).
    pub fn offered_repairs(&self) -> Vec<Repair> {
        let mut offered: Vec<Repair> = Vec::new();
        for repair in self.checks.iter().flat_map(|c| c.repairs.iter()) {
            if !offered.contains(repair) {
                offered.push(*repair);
            }
        }
        offered
    }
}

/// Runs the checks of `mode` and tests the hypotheses (no repairs).
pub async fn run(probe: &Probe, mode: Mode) -> Report {
    let started = std::time::Instant::now();
    let (mut checks, signals) = checks::run(probe, mode).await;
    let mut trends = Vec::new();
    if mode == Mode::Full {
        let (measured, check) = trends::measure(probe).await;
        trends = measured;
        checks.push(check);
    }
    let hypotheses = hypotheses::test(&signals);
    Report {
        mode,
        generated_at: probe.clock.now(),
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        checks,
        hypotheses,
        trends,
        repairs: Vec::new(),
    }
}

/// `--fix`: runs, then plans (dry run) or makes (`apply`) the repairs the
/// checks offer — only `only` when given — and, after making any, runs
/// again so the report shows the state after the repair.
pub async fn run_with_repairs(
    probe: &Probe,
    mode: Mode,
    apply: bool,
    only: Option<Repair>,
) -> Report {
    let before = run(probe, mode).await;
    let offered: Vec<Repair> = before
        .offered_repairs()
        .into_iter()
        .filter(|repair| only.is_none_or(|only| only == *repair))
        .collect();
    if !apply || offered.is_empty() {
        let mut report = before;
        report.repairs = offered.into_iter().map(repairs::plan).collect();
        return report;
    }
    let mut outcomes = Vec::new();
    for repair in offered {
        outcomes.push(repairs::apply(probe, repair).await);
    }
    let mut after = run(probe, mode).await;
    after.repairs = outcomes;
    after
}
