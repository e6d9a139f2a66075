//! "Book your next meeting" nudges: every tick, each worker finds the
//! managers whose nudge is due now (the rules are
//! `shared::domain::nudges`) and sends each nudge once.
//!
//! Only active, working managers the bot can reach are looked at, so a
//! nudge pauses while the manager is away and resumes when they are back
//! (within the catch-up window). A nudge is claimed in `periodic_runs`
//! (`nudge` / `<manager>:<due date>:<7|3|1>`) in the transaction that
//! writes its outbox row, after the manager and their meetings were read
//! again in that transaction: any number of workers send it once, a worker
//! that was down catches up, and a booking made meanwhile (which moves the
//! due date) stops it. After commit the delivery job is pushed; the outbox
//! sweep re-pushes a lost push. No audit rows: a nudge changes no data.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use shared::clock::Clock;
use shared::db::reminders::{self, MeetingStart, NudgeMessage};
use shared::db::types::{OutboxMessageId, UserId};
use shared::db::users::{self, User};
use shared::db::{Db, DbConn, DbError, booking_settings};
use shared::domain::booking::MeetingStatus;
use shared::domain::nudges::{Cadence, Nudge};
use shared::domain::profile::stored_zone;
use shared::domain::schedule::ScheduleCallback;
use shared::domain::user::{Role, WorkStatus};
use shared::i18n::dates::weekday_short;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::{Button, OutgoingMessage};

/// Meetings older than the cadence plus this cannot make anyone due (their
/// last nudge's window closed): they are not read.
const LOOKBACK_MARGIN: TimeDelta = TimeDelta::days(2);
/// Claims younger than this are read up front, so a tick writes only for
/// nudges not sent yet (a nudge is claimed within a day of its moment).
const CLAIMS_LOOKBACK: TimeDelta = TimeDelta::days(3);
/// The zone of a manager whose stored zone is unknown (never expected:
/// zones are validated when set).
const FALLBACK_ZONE: Tz = Tz::UTC;

/// One pass, logging its own failure so the tick goes on with other work.
pub async fn send_due(db: &Db, queue: &Queue, clock: &Clock, worker: &str) {
    match send_once(db, queue, clock, worker).await {
        Ok(0) => {}
        Ok(sent) => tracing::info!(sent, "nudges queued"),
        Err(error) => tracing::warn!(%error, "nudges pass failed"),
    }
}

/// Sends every nudge due now; returns how many this worker queued.
pub async fn send_once(
    db: &Db,
    queue: &Queue,
    clock: &Clock,
    worker: &str,
) -> Result<usize, DbError> {
    let now = clock.now();
    let (cadence_days, managers, starts, claimed) = db
        .read(move |c| {
            let cadence_days = booking_settings::get(c)?.cadence_days;
            let since = lookback(cadence_days, now);
            Ok((
                cadence_days,
                reminders::nudge_candidates(c)?,
                reminders::meeting_starts_since(c, None, since)?,
                reminders::nudge_claims_since(c, now - CLAIMS_LOOKBACK)?,
            ))
        })
        .await?;
    let claimed: HashSet<String> = claimed.into_iter().collect();
    let mut by_manager: HashMap<UserId, Vec<MeetingStart>> = HashMap::new();
    for start in starts {
        by_manager.entry(start.manager).or_default().push(start);
    }
    let mut sent = 0;
    for manager in managers {
        if manager.unreachable_at.is_some() {
            continue;
        }
        let meetings = by_manager.get(&manager.id).map_or(&[][..], Vec::as_slice);
        let Some(nudge) = cadence(&manager, meetings, cadence_days, now).due_nudge(now) else {
            continue;
        };
        let key = claim_key(manager.id, nudge);
        if claimed.contains(&key) {
            continue;
        }
        let id = manager.id;
        let worker = worker.to_owned();
        let correlation_id = new_correlation_id();
        let written = {
            let correlation_id = correlation_id.clone();
            db.write(move |c| write(c, id, nudge, cadence_days, &worker, &correlation_id, now))
                .await
        };
        match written {
            Ok(Some(outbox_id)) => {
                sent += 1;
                tracing::info!(
                    user_id = %id,
                    due = %nudge.due,
                    days_before = nudge.level.days_before(),
                    correlation_id,
                    "nudge queued"
                );
                DeliverMessage::push_after_commit(queue, outbox_id, &correlation_id).await;
            }
            Ok(None) => {}
            // One manager failing does not hold up the others; the nudge is
            // tried again on the next tick.
            Err(error) => tracing::warn!(%error, user_id = %id, "cannot queue a nudge"),
        }
    }
    Ok(sent)
}

/// The start of the meetings that can matter at `now`.
fn lookback(cadence_days: u16, now: DateTime<Utc>) -> DateTime<Utc> {
    now - TimeDelta::days(i64::from(cadence_days)) - LOOKBACK_MARGIN
}

/// What the nudge rules need about `manager`, from their recent meetings
/// (not cancelled) as [`reminders::meeting_starts_since`] reads them.
fn cadence(
    manager: &User,
    meetings: &[MeetingStart],
    cadence_days: u16,
    now: DateTime<Utc>,
) -> Cadence {
    Cadence {
        latest_meeting_start: meetings.iter().map(|m| m.starts_at).max(),
        approved_at: manager.decided_at.unwrap_or(manager.created_at),
        has_upcoming: meetings
            .iter()
            .any(|m| m.status == MeetingStatus::Scheduled && m.starts_at > now),
        cadence_days,
        zone: stored_zone(&manager.time_zone, FALLBACK_ZONE),
    }
}

/// `<manager>:<due date>:<days before>`: names one nudge.
fn claim_key(manager: UserId, nudge: Nudge) -> String {
    format!(
        "{manager}:{}:{}",
        nudge.due.format("%Y-%m-%d"),
        nudge.level.days_before()
    )
}

/// Reads the manager again and, if `nudge` is still the one due, claims it
/// and queues its message — in the caller's write transaction.
fn write(
    conn: &mut DbConn,
    manager: UserId,
    nudge: Nudge,
    cadence_days: u16,
    worker: &str,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let Some(user) = users::find(conn, manager)? else {
        return Ok(None);
    };
    let may_be_nudged = user.is_active()
        && user.role == Some(Role::Manager)
        && user.work_status == WorkStatus::Working
        && user.unreachable_at.is_none();
    if !may_be_nudged {
        return Ok(None);
    }
    let meetings =
        reminders::meeting_starts_since(conn, Some(manager), lookback(cadence_days, now))?;
    if cadence(&user, &meetings, cadence_days, now).due_nudge(now) != Some(nudge) {
        return Ok(None);
    }
    reminders::send_nudge(
        conn,
        &NudgeMessage {
            manager,
            chat_id: user.telegram_id.0,
            key: claim_key(manager, nudge),
            body: message(&user, nudge, cadence_days).to_json(),
            correlation_id: Some(correlation_id),
        },
        worker,
        now,
    )
}

/// The nudge text of its urgency, with a "📅 Book now" button that opens
/// the owner list of /schedule.
fn message(user: &User, nudge: Nudge, cadence_days: u16) -> OutgoingMessage {
    let language = user.language;
    let date = format!(
        "{} {}",
        weekday_short(language, nudge.due),
        nudge.due.format("%d.%m.%Y")
    );
    let key = format!("reminders.nudge.{}", nudge.level.days_before());
    let text = t(
        language,
        &key,
        &[("date", &date), ("cadence", &cadence_days.to_string())],
    );
    let book = Button::new(
        t(language, "reminders.nudge.book", &[]),
        ScheduleCallback::Owners.data(),
    );
    OutgoingMessage::with_buttons(text, vec![vec![book]])
}

/// A fresh id for one nudge, carried into the delivery job and logs.
fn new_correlation_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use shared::domain::nudges::NudgeLevel;

    #[test]
    fn a_nudge_is_named_by_manager_due_date_and_days_before() {
        let nudge = Nudge {
            due: NaiveDate::from_ymd_opt(2026, 12, 16).unwrap_or_default(),
            level: NudgeLevel::ThreeDays,
        };
        assert_eq!(claim_key(UserId(42), nudge), "42:2026-12-16:3");
        assert_eq!(ScheduleCallback::Owners.data(), "bk:o");
    }
}
