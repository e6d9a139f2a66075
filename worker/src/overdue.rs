//! The daily overdue report: once a day, at the booking settings' report
//! time in the company zone, every active admin gets the managers who are
//! past their meeting cadence, grouped by department.
//!
//! "Overdue" is the nudge rule's due date (`shared::domain::nudges`) in
//! the past with no upcoming meeting; managers away (vacation, sick leave,
//! business trip) are left out. The report is claimed in `periodic_runs`
//! (`overdue-report` / `<local date>`) in the transaction that writes the
//! admins' outbox rows, so any number of workers send it once, and a worker
//! that was down sends it when it returns (the same day). A day with nobody
//! overdue sends nothing. After commit the deliveries are pushed; the
//! outbox sweep re-pushes a lost push.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use shared::clock::Clock;
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::reminders::{self, MeetingStart};
use shared::db::types::{OutboxMessageId, UserId};
use shared::db::users::{self, User};
use shared::db::{Db, DbConn, DbError, booking_settings, departments, periodic};
use shared::domain::booking::MeetingStatus;
use shared::domain::delivery::Lane;
use shared::domain::nudges::Cadence;
use shared::domain::profile::stored_zone;
use shared::domain::user::Language;
use shared::i18n::dates::weekday_short;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::OutgoingMessage;

/// The claim name in `periodic_runs`.
const CLAIM: &str = "overdue-report";
/// Meetings older than this are not read: a manager whose latest meeting is
/// older is overdue whatever it was.
const LOOKBACK: TimeDelta = TimeDelta::days(400);
/// Managers listed per report at most (Telegram's 4,096 characters); the
/// rest are counted.
const MAX_LISTED: usize = 60;

/// One overdue manager.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Overdue {
    name: String,
    due: NaiveDate,
    days: i64,
}

/// Sends today's report if its time has come and nobody sent it yet;
/// logs its own failure so the tick goes on.
pub async fn send_due(db: &Db, queue: &Queue, clock: &Clock, worker: &str, company_zone: Tz) {
    let now = clock.now();
    let worker = worker.to_owned();
    let written = db
        .write(move |c| write(c, &worker, company_zone, now))
        .await;
    match written {
        Ok(Some((day, ids))) => {
            tracing::info!(%day, admins = ids.len(), "overdue report queued");
            let correlation_id = format!("{CLAIM}:{day}");
            for id in ids {
                DeliverMessage::push_after_commit(queue, id, &correlation_id).await;
            }
        }
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "overdue report failed; the next tick tries again"),
    }
}

/// Claims today's report (when due) and queues it for every admin.
/// `None` when it is not time yet or it was claimed before.
fn write(
    conn: &mut DbConn,
    worker: &str,
    company_zone: Tz,
    now: DateTime<Utc>,
) -> Result<Option<(NaiveDate, Vec<OutboxMessageId>)>, DbError> {
    let settings = booking_settings::get(conn)?;
    let local = now.with_timezone(&company_zone);
    if local.time() < settings.overdue_report_at {
        return Ok(None);
    }
    let day = local.date_naive();
    let key = day.format("%Y-%m-%d").to_string();
    if !periodic::claim(conn, CLAIM, &key, worker, now)? {
        return Ok(None);
    }
    let overdue = overdue_by_department(conn, settings.cadence_days, company_zone, now)?;
    let mut ids = Vec::new();
    if overdue.is_empty() {
        return Ok(Some((day, ids)));
    }
    for admin in users::active_admins(conn)? {
        if admin.unreachable_at.is_some() {
            continue;
        }
        let body = report(admin.language, day, &overdue).to_json();
        let id = outbox::insert(
            conn,
            &NewOutboxMessage {
                chat_id: admin.telegram_id.0,
                recipient: Some(admin.id),
                kind: "admin.overdue_report",
                lane: Lane::Bulk,
                body,
                broadcast: None,
                dedupe_key: Some(format!("{CLAIM}:{key}:{}", admin.id)),
                correlation_id: Some(&format!("{CLAIM}:{key}")),
            },
            now,
        )?;
        ids.extend(id);
    }
    Ok(Some((day, ids)))
}

/// The overdue managers by department name (`None`: no department), most
/// overdue first within each.
fn overdue_by_department(
    conn: &mut DbConn,
    cadence_days: u16,
    company_zone: Tz,
    now: DateTime<Utc>,
) -> Result<BTreeMap<Option<String>, Vec<Overdue>>, DbError> {
    let names: BTreeMap<_, _> = departments::list_all(conn)?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect();
    let mut meetings: BTreeMap<UserId, Vec<MeetingStart>> = BTreeMap::new();
    for start in reminders::meeting_starts_since(conn, None, now - LOOKBACK)? {
        meetings.entry(start.manager).or_default().push(start);
    }
    let mut grouped: BTreeMap<Option<String>, Vec<Overdue>> = BTreeMap::new();
    // Active, working managers: those away are left out of the report.
    for manager in reminders::nudge_candidates(conn)? {
        let own = meetings.get(&manager.id).map_or(&[][..], Vec::as_slice);
        if let Some(overdue) = overdue(&manager, own, cadence_days, company_zone, now) {
            let department = manager.department_id.and_then(|id| names.get(&id).cloned());
            grouped.entry(department).or_default().push(overdue);
        }
    }
    for list in grouped.values_mut() {
        list.sort_by(|a, b| b.days.cmp(&a.days).then_with(|| a.name.cmp(&b.name)));
    }
    Ok(grouped)
}

/// `manager` past their due date (in their own zone) with no upcoming
/// meeting, or `None`.
fn overdue(
    manager: &User,
    meetings: &[MeetingStart],
    cadence_days: u16,
    company_zone: Tz,
    now: DateTime<Utc>,
) -> Option<Overdue> {
    let cadence = Cadence {
        latest_meeting_start: meetings.iter().map(|m| m.starts_at).max(),
        approved_at: manager.decided_at.unwrap_or(manager.created_at),
        has_upcoming: meetings
            .iter()
            .any(|m| m.status == MeetingStatus::Scheduled && m.starts_at > now),
        cadence_days,
        zone: stored_zone(&manager.time_zone, company_zone),
    };
    if cadence.has_upcoming {
        return None;
    }
    let today = now.with_timezone(&cadence.zone).date_naive();
    let due = cadence.due_date();
    (due < today).then(|| Overdue {
        name: manager.full_name(),
        due,
        days: (today - due).num_days(),
    })
}

/// The report text in `language`.
fn report(
    language: Language,
    day: NaiveDate,
    overdue: &BTreeMap<Option<String>, Vec<Overdue>>,
) -> OutgoingMessage {
    let total: usize = overdue.values().map(Vec::len).sum();
    let date = format!(
        "{} {}",
        weekday_short(language, day),
        day.format("%d.%m.%Y")
    );
    let mut lines = vec![t(
        language,
        "overdue.title",
        &[("date", &date), ("count", &total.to_string())],
    )];
    let mut listed = 0;
    for (department, managers) in overdue {
        if listed >= MAX_LISTED {
            break;
        }
        let department = department
            .clone()
            .unwrap_or_else(|| t(language, "overdue.no_department", &[]));
        lines.push(t(
            language,
            "overdue.department",
            &[("department", &department)],
        ));
        for manager in managers.iter().take(MAX_LISTED - listed) {
            lines.push(t(
                language,
                "overdue.manager",
                &[
                    ("name", &manager.name),
                    ("due", &manager.due.format("%d.%m.%Y").to_string()),
                    ("days", &manager.days.to_string()),
                ],
            ));
            listed += 1;
        }
    }
    if total > listed {
        let more = (total - listed).to_string();
        lines.push(t(language, "overdue.more", &[("count", &more)]));
    }
    OutgoingMessage::text(lines.join("\n"))
}
