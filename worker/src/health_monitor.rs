//! The health monitor and the `/diag` answers, both in the worker (the
//! bot never waits for an outside call on a reply).
//!
//! - **Monitor**: once per `HEALTH_CHECK_INTERVAL` (claimed in
//!   `periodic_runs` as `health-monitor:<period>`, so any number of
//!   workers run it once) the quick checks run; each check's state goes to
//!   `health_states` and every active admin is told when one starts or
//!   stops failing, at most once a minute per check
//!   ([`shared::diagnostics::monitor`]). The claim is taken before the
//!   checks run (they take seconds and call Telegram): a worker dying in
//!   between skips that period, the next one runs.
//! - **Requests**: `/diag` rows in `diag_requests` are claimed by one
//!   worker, answered in the admin's language, and repairs made (only if a
//!   fresh run still offers them), audited and re-checked.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::clock::Clock;
use shared::config::Config;
use shared::db::audit::{self, AuditEntry};
use shared::db::diagnostics::{self as store, DiagRequest};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::OutboxMessageId;
use shared::db::{Db, DbConn, DbError, periodic, users};
use shared::diagnostics::callback::DiagCallback;
use shared::diagnostics::render::{self, TELEGRAM_LIMIT, Target};
use shared::diagnostics::{self, Mode, Probe, Repair, Report, monitor};
use shared::domain::delivery::Lane;
use shared::domain::user::Language;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::message::Button;
use shared::telegram::{OutgoingMessage, TelegramClient};
use tokio::sync::watch;

/// A request claimed this long ago by a worker that never finished it is
/// taken over.
const STUCK: chrono::TimeDelta = chrono::TimeDelta::minutes(5);
/// How often the worker looks for `/diag` requests at most.
const REQUEST_POLL: Duration = Duration::from_secs(1);

/// The monitor of one worker process.
#[derive(Debug)]
pub struct HealthMonitor {
    pub probe: Arc<Probe>,
    pub queue: Queue,
    pub worker: String,
    /// How often the loop wakes (requests, and the monitor's period).
    pub poll: Duration,
}

impl HealthMonitor {
    pub fn new(
        config: Arc<Config>,
        clock: Clock,
        db: Db,
        queue: Queue,
        telegram: TelegramClient,
        worker: String,
    ) -> Self {
        let poll = config.periodic_tick.min(REQUEST_POLL);
        Self {
            probe: Arc::new(Probe::with_parts(
                config,
                clock,
                db,
                queue.clone(),
                telegram,
            )),
            queue,
            worker,
            poll,
        }
    }

    fn db(&self) -> Option<&Db> {
        self.probe.db.as_ref().ok()
    }

    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut interval = tokio::time::interval(self.poll);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_period = None;
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = interval.tick() => {
                    while self.answer_one_request().await {}
                    let Some(period) = self.period() else { continue };
                    if last_period != Some(period) {
                        last_period = Some(period);
                        self.monitor(period).await;
                    }
                }
            }
        }
    }

    /// The number of the current monitoring period; `None` when the
    /// monitor is switched off (`HEALTH_CHECK_INTERVAL=0s`: `/diag` is
    /// still answered).
    fn period(&self) -> Option<i64> {
        let every = self.probe.config.diagnostics.health_interval.as_secs();
        if every == 0 {
            return None;
        }
        Some(self.probe.clock.now().timestamp() / i64::try_from(every).unwrap_or(60))
    }

    /// Runs the quick checks once for `period` (if this worker claims it)
    /// and records them, alerting admins of changes.
    async fn monitor(&self, period: i64) {
        let Some(db) = self.db() else { return };
        let (worker, now) = (self.worker.clone(), self.probe.clock.now());
        let key = period.to_string();
        let claimed = db
            .write(move |c| periodic::claim(c, "health-monitor", &key, &worker, now))
            .await;
        match claimed {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => {
                tracing::warn!(%error, "cannot claim the health check");
                return;
            }
        }
        let report = diagnostics::run(&self.probe, Mode::Quick).await;
        let correlation_id = format!("health-{period}");
        let now = self.probe.clock.now();
        match monitor::record(db, report.checks, now, &correlation_id).await {
            Ok(alerts) => {
                for id in alerts {
                    DeliverMessage::push_after_commit(&self.queue, id, &correlation_id).await;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot record the health states"),
        }
    }

    /// Answers the oldest `/diag` request, if any; `true` when one was
    /// answered (look again).
    async fn answer_one_request(&self) -> bool {
        let Some(db) = self.db() else { return false };
        let (worker, now) = (self.worker.clone(), self.probe.clock.now());
        let claimed = db
            .write(move |c| store::claim_diag_request(c, &worker, now, now - STUCK))
            .await;
        let request = match claimed {
            Ok(Some(request)) => request,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(%error, "cannot read diagnostics requests");
                return false;
            }
        };
        let correlation_id = request
            .correlation_id
            .clone()
            .unwrap_or_else(|| format!("diag-{}", request.id));
        let span = tracing::info_span!("diag_request", request = request.id, correlation_id);
        let _entered = span.enter();
        match self.answer(db, &request, &correlation_id).await {
            Ok(messages) => {
                for id in messages {
                    DeliverMessage::push_after_commit(&self.queue, id, &correlation_id).await;
                }
            }
            Err(error) => tracing::warn!(%error, "cannot answer a diagnostics request"),
        }
        true
    }

    async fn answer(
        &self,
        db: &Db,
        request: &DiagRequest,
        correlation_id: &str,
    ) -> Result<Vec<OutboxMessageId>, DbError> {
        let requester = request.requested_by;
        let admin = db
            .read(move |c| users::find(c, requester))
            .await?
            .filter(|user| user.is_active() && user.is_admin);
        let Some(admin) = admin else {
            // No longer an admin: the request lapses unanswered.
            let id = request.id;
            let now = self.probe.clock.now();
            db.write(move |c| store::finish_diag_request(c, id, now))
                .await?;
            return Ok(Vec::new());
        };
        let language = admin.language;
        let (texts, buttons, repair) = match (request.kind.as_str(), request.fix.as_deref()) {
            ("fix", Some(fix)) => match Repair::parse(fix) {
                Some(repair) => self.repair(language, repair).await,
                None => (vec![t(language, "menu.stale", &[])], Vec::new(), None),
            },
            ("full", _) => {
                let report = diagnostics::run(&self.probe, Mode::Full).await;
                report_messages(&report, language, true, None)
            }
            _ => {
                let report = diagnostics::run(&self.probe, Mode::Quick).await;
                report_messages(&report, language, false, None)
            }
        };
        let (id, chat_id, now) = (request.id, request.chat_id, self.probe.clock.now());
        let (admin_id, admin_telegram) = (admin.id, admin.telegram_id);
        let correlation = correlation_id.to_owned();
        db.write(move |c| {
            store::finish_diag_request(c, id, now)?;
            if let Some((repair, ok)) = repair {
                audit::record(
                    c,
                    &AuditEntry {
                        actor: Some(admin_id),
                        actor_telegram_id: Some(admin_telegram),
                        action: "diag.repair_made",
                        target_user: None,
                        target: Some(format!("diag_request:{id}")),
                        data: json!({ "repair": repair.id(), "ok": ok }),
                        correlation_id: Some(&correlation),
                    },
                    now,
                )?;
            }
            queue_messages(c, chat_id, admin_id, texts, buttons, id, &correlation, now)
        })
        .await
    }

    /// Makes `repair` if a fresh run still offers it, and reports the
    /// outcome with the checks run again.
    async fn repair(&self, language: Language, repair: Repair) -> Answer {
        let report =
            diagnostics::run_with_repairs(&self.probe, Mode::Quick, true, Some(repair)).await;
        let Some(outcome) = report.repairs.iter().find(|o| o.repair == repair) else {
            let what = render::text(language, Target::Plain, &repair.describe());
            return (
                vec![t(language, "diag.fix.nothing", &[("repair", &what)])],
                Vec::new(),
                None,
            );
        };
        let ok = outcome.ok;
        let title = t(language, "diag.fix.title", &[("repair", repair.id())]);
        let (texts, buttons, _) = report_messages(&report, language, false, Some(title));
        (texts, buttons, Some((repair, ok)))
    }
}

/// An answer: message texts, the last one's buttons, and the repair made
/// (with whether it worked) for the audit log.
type Answer = (Vec<String>, Vec<Vec<Button>>, Option<(Repair, bool)>);

/// The report as Telegram messages (split, never cut) and the buttons of
/// the last one: the full report (from the quick one) and each repair.
fn report_messages(
    report: &Report,
    language: Language,
    detailed: bool,
    title: Option<String>,
) -> Answer {
    let mut lines = render::lines(report, language, Target::Html, detailed);
    if let Some(title) = title {
        lines.insert(0, title);
    }
    let texts = render::split_messages(&lines, TELEGRAM_LIMIT);
    let mut buttons = Vec::new();
    if !detailed {
        buttons.push(vec![Button::new(
            t(language, "diag.button.full", &[]),
            DiagCallback::Full.data(),
        )]);
    }
    for repair in report.offered_repairs() {
        let what = render::text(language, Target::Plain, &repair.describe());
        buttons.push(vec![Button::new(
            t(language, "diag.button.fix", &[("repair", &what)]),
            DiagCallback::Ask(repair).data(),
        )]);
    }
    (texts, buttons, None)
}

/// Writes the answer as outbox messages, in order, buttons on the last.
#[expect(clippy::too_many_arguments, reason = "one row's fields, written once")]
fn queue_messages(
    conn: &mut DbConn,
    chat_id: i64,
    admin: shared::db::types::UserId,
    texts: Vec<String>,
    buttons: Vec<Vec<Button>>,
    request: i64,
    correlation_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<OutboxMessageId>, DbError> {
    let count = texts.len();
    let mut buttons = Some(buttons);
    let mut queued = Vec::new();
    for (index, text) in texts.into_iter().enumerate() {
        let message = if index + 1 == count {
            OutgoingMessage::with_buttons(text, buttons.take().unwrap_or_default())
        } else {
            OutgoingMessage::text(text)
        };
        queued.extend(outbox::insert(
            conn,
            &NewOutboxMessage {
                chat_id,
                recipient: Some(admin),
                kind: "admin.diagnostics",
                lane: Lane::Interactive,
                body: message.to_json(),
                broadcast: None,
                dedupe_key: Some(format!("diag:{request}:{index}")),
                correlation_id: Some(correlation_id),
            },
            now,
        )?);
    }
    Ok(queued)
}
