//! Meeting reminders: every tick, each worker hands the due reminders
//! (planned at booking, one row per participant and offset) over to the
//! delivery path.
//!
//! Due reminders are settled a few at a time per write transaction (one
//! each if that fails): each reminder is read again and, if still pending,
//! either
//! - marked `sent` (conditionally, `WHERE state = 'pending'`) together with
//!   its outbox row keyed `reminder:<id>` — so of any number of workers
//!   exactly one hands it over, and a second copy of the message cannot be
//!   written; or
//! - marked `cancelled` with the reason in `last_error`, sending nothing:
//!   the meeting is gone, no longer scheduled or at another revision (a
//!   cancel or move normally cancels its reminders itself; this catches any
//!   left behind), the recipient is not active or blocked the bot, or the
//!   reminder is [too late](too_late) to make sense.
//!
//! After commit the delivery job is pushed; if the worker dies between the
//! commit and the push, the outbox row is pending and the outbox sweep
//! pushes it, so nothing is lost. No audit rows: a reminder changes no
//! one's data, and the reminder and outbox rows are its record.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use shared::clock::Clock;
use shared::db::meetings::{self, Meeting};
use shared::db::reminders::{self, Handover, Reminder};
use shared::db::types::{MeetingId, OutboxMessageId, ReminderId};
use shared::db::users::{self, User};
use shared::db::{Db, DbConn, DbError};
use shared::domain::booking::{MeetingStatus, ReminderState};
use shared::domain::profile::stored_zone;
use shared::domain::user::Language;
use shared::i18n::dates::meeting_when;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::OutgoingMessage;
use tokio::sync::watch;

/// Reminders read per query.
const BATCH: i64 = 200;
/// Batches handled per tick at most (the rest follow on the next tick).
const MAX_BATCHES: usize = 10;
/// A reminder handed over within this of its due time announces its
/// planned lead ("in 1 hour"); a later one says how much time is left.
const ON_TIME: TimeDelta = TimeDelta::minutes(5);
/// The zone of a reader whose stored zone is unknown (never expected:
/// zones are validated when set).
const FALLBACK_ZONE: Tz = Tz::UTC;

/// What one pass did (this worker's share; others may have done the rest).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub cancelled: usize,
}

/// How often due reminders are looked for: their lateness is at most this
/// (plus delivery), far tighter than the periodic tick.
pub const REMINDER_POLL: Duration = Duration::from_secs(1);

/// Hands due reminders over every `every` until told to stop. Its own loop,
/// not the periodic tick, so a reminder goes out within a second of its
/// time; the query is one indexed range scan, cheap to repeat.
pub async fn run(
    db: Db,
    queue: Queue,
    clock: Clock,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = interval.tick() => send_due(&db, &queue, &clock).await,
        }
    }
}

/// One pass, logging its own failure so the loop goes on.
pub async fn send_due(db: &Db, queue: &Queue, clock: &Clock) {
    match send_once(db, queue, clock).await {
        Ok(Pass {
            sent: 0,
            cancelled: 0,
        }) => {}
        Ok(pass) => tracing::info!(
            sent = pass.sent,
            cancelled = pass.cancelled,
            "due reminders handed over"
        ),
        Err(error) => tracing::warn!(%error, "reminders pass failed"),
    }
}

/// Hands every reminder due by now over (or cancels it), oldest batch
/// first.
///
/// A batch is settled [`CHUNK`] reminders per write transaction (one
/// commit each instead of one per reminder), each worker starting at a
/// chunk of its own choosing: workers racing over the same due reminders
/// mostly settle different ones instead of queueing behind each other's
/// row locks, and skip the ones already settled at the cost of one read.
/// Within a chunk the reminders are taken in due order, as by every
/// worker, so two transactions never wait on each other in a cycle.
pub async fn send_once(db: &Db, queue: &Queue, clock: &Clock) -> Result<Pass, DbError> {
    let mut pass = Pass::default();
    for _ in 0..MAX_BATCHES {
        let now = clock.now();
        let due = db.read(move |c| reminders::due(c, now, BATCH)).await?;
        let full = i64::try_from(due.len()).unwrap_or(i64::MAX) >= BATCH;
        let ids: Vec<ReminderId> = due.iter().map(|r| r.id).collect();
        let mut chunks: Vec<Vec<ReminderId>> = ids.chunks(CHUNK).map(<[_]>::to_vec).collect();
        if !chunks.is_empty() {
            let start = uuid::Uuid::new_v4().as_u128() % chunks.len() as u128;
            chunks.rotate_left(usize::try_from(start).unwrap_or(0));
        }
        for chunk in chunks {
            for (id, settled) in settle_chunk(db, chunk, clock).await {
                record(&mut pass, queue, id, settled).await;
            }
        }
        if !full {
            break;
        }
    }
    Ok(pass)
}

/// Reminders settled per write transaction.
const CHUNK: usize = 25;

/// Settles `chunk` in one write transaction; if that fails, one reminder
/// per transaction, so one reminder failing does not hold up the others
/// (a failed one is still pending and tried again on the next tick).
async fn settle_chunk(
    db: &Db,
    chunk: Vec<ReminderId>,
    clock: &Clock,
) -> Vec<(ReminderId, Settled)> {
    let now = clock.now();
    let ids = chunk.clone();
    let together = db
        .write(move |c| {
            ids.into_iter()
                .map(|id| settle(c, id, now).map(|settled| (id, settled)))
                .collect::<Result<Vec<_>, DbError>>()
        })
        .await;
    let error = match together {
        Ok(settled) => return settled,
        Err(error) => error,
    };
    tracing::info!(%error, reminders = chunk.len(), "settling reminders one by one");
    let mut settled = Vec::with_capacity(chunk.len());
    for id in chunk {
        let now = clock.now();
        match db.write(move |c| settle(c, id, now)).await {
            Ok(one) => settled.push((id, one)),
            Err(error) => {
                tracing::warn!(%error, reminder_id = %id, "cannot hand a reminder over");
            }
        }
    }
    settled
}

/// Counts and logs what became of reminder `id`, pushing the delivery of
/// a handed-over one (after its commit).
async fn record(pass: &mut Pass, queue: &Queue, id: ReminderId, settled: Settled) {
    match settled {
        Settled::Skipped => {}
        Settled::Cancelled { meeting, reason } => {
            pass.cancelled += 1;
            tracing::info!(reminder_id = %id, meeting_id = %meeting, reason = reason.text(), "reminder not sent");
        }
        Settled::Sent {
            meeting,
            outbox_id,
            correlation_id,
        } => {
            pass.sent += 1;
            tracing::info!(reminder_id = %id, meeting_id = %meeting, %outbox_id, correlation_id, "reminder queued");
            DeliverMessage::push_after_commit(queue, outbox_id, &correlation_id).await;
        }
    }
}

/// What became of one reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Settled {
    /// Someone else settled it first (or it is gone).
    Skipped,
    Cancelled {
        meeting: MeetingId,
        reason: SkipReason,
    },
    Sent {
        meeting: MeetingId,
        outbox_id: OutboxMessageId,
        correlation_id: String,
    },
}

/// Why a due reminder is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SkipReason {
    MeetingGone,
    NotScheduled,
    Superseded,
    RecipientGone,
    RecipientInactive,
    RecipientUnreachable,
    Started,
    TooLate,
}

impl SkipReason {
    /// Kept in `reminders.last_error`.
    fn text(self) -> &'static str {
        match self {
            Self::MeetingGone => "the meeting no longer exists",
            Self::NotScheduled => "the meeting is no longer scheduled",
            Self::Superseded => "the meeting changed since the reminder was planned",
            Self::RecipientGone => "the recipient no longer exists",
            Self::RecipientInactive => "the recipient is not active",
            Self::RecipientUnreachable => "the recipient blocked the bot",
            Self::Started => "too late: the meeting has started",
            Self::TooLate => "too late: more than half of its lead time passed",
        }
    }
}

/// Settles reminder `id` in the caller's write transaction.
fn settle(conn: &mut DbConn, id: ReminderId, now: DateTime<Utc>) -> Result<Settled, DbError> {
    let Some(reminder) = reminders::get(conn, id)? else {
        return Ok(Settled::Skipped);
    };
    if reminder.state != ReminderState::Pending {
        return Ok(Settled::Skipped);
    }
    let meeting = meetings::find(conn, reminder.meeting_id)?;
    let recipient = users::find(conn, reminder.recipient_id)?;
    let (meeting, recipient) = match (meeting, recipient) {
        (Some(meeting), Some(recipient)) => (meeting, recipient),
        (None, _) => return cancel(conn, &reminder, SkipReason::MeetingGone),
        (Some(_), None) => return cancel(conn, &reminder, SkipReason::RecipientGone),
    };
    if let Some(reason) = skip_reason(&reminder, &meeting, &recipient, now) {
        return cancel(conn, &reminder, reason);
    }
    let others = others(conn, &meeting, &recipient)?;
    let body = message(&reminder, &meeting, &recipient, &others, now).to_json();
    let correlation_id = meeting
        .correlation_id
        .clone()
        .unwrap_or_else(new_correlation_id);
    let queued = reminders::hand_over(
        conn,
        &Handover {
            reminder: id,
            recipient: recipient.id,
            chat_id: recipient.telegram_id.0,
            body,
            correlation_id: Some(&correlation_id),
        },
        now,
    )?;
    Ok(match queued {
        Some(outbox_id) => Settled::Sent {
            meeting: meeting.id,
            outbox_id,
            correlation_id,
        },
        None => Settled::Skipped,
    })
}

fn cancel(conn: &mut DbConn, reminder: &Reminder, reason: SkipReason) -> Result<Settled, DbError> {
    Ok(if reminders::cancel(conn, reminder.id, reason.text())? {
        Settled::Cancelled {
            meeting: reminder.meeting_id,
            reason,
        }
    } else {
        Settled::Skipped
    })
}

/// Why `reminder` must not go out at `now`, if it must not.
fn skip_reason(
    reminder: &Reminder,
    meeting: &Meeting,
    recipient: &User,
    now: DateTime<Utc>,
) -> Option<SkipReason> {
    if meeting.status != MeetingStatus::Scheduled {
        Some(SkipReason::NotScheduled)
    } else if meeting.revision != reminder.meeting_revision {
        Some(SkipReason::Superseded)
    } else if !recipient.is_active() {
        Some(SkipReason::RecipientInactive)
    } else if recipient.unreachable_at.is_some() {
        Some(SkipReason::RecipientUnreachable)
    } else if now >= meeting.starts_at {
        Some(SkipReason::Started)
    } else if too_late(reminder.offset_minutes, reminder.due_at, now) {
        Some(SkipReason::TooLate)
    } else {
        None
    }
}

/// A reminder more than half its lead time late (a worker was down) is
/// dropped: "tomorrow" twelve hours late, or "in 1 hour" with ten minutes
/// left, helps no one — the next, shorter reminder follows anyway.
fn too_late(offset_minutes: i32, due_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - due_at > TimeDelta::minutes(i64::from(offset_minutes)) / 2
}

/// The names of the meeting's other participants, for "With: …".
fn others(conn: &mut DbConn, meeting: &Meeting, reader: &User) -> Result<String, DbError> {
    let mut names = Vec::new();
    for participant in meetings::participants(conn, meeting.id)? {
        if participant.user_id == reader.id {
            continue;
        }
        if let Some(user) = users::find(conn, participant.user_id)? {
            names.push(user.full_name());
        }
    }
    Ok(names.join(", "))
}

/// "⏰ Reminder: meeting tomorrow …", in the reader's language and zone.
fn message(
    reminder: &Reminder,
    meeting: &Meeting,
    reader: &User,
    others: &str,
    now: DateTime<Utc>,
) -> OutgoingMessage {
    let language = reader.language;
    let zone = stored_zone(&reader.time_zone, FALLBACK_ZONE);
    let lead = lead(
        reminder.offset_minutes,
        reminder.due_at,
        meeting.starts_at,
        now,
        zone,
    );
    let when = meeting_when(language, zone, meeting.starts_at, meeting.ends_at);
    let mut text = t(
        language,
        "reminders.meeting",
        &[
            ("lead", &lead.text(language)),
            ("when", &when),
            ("with", others),
        ],
    );
    if let Some(link) = meeting.meet_link.as_deref().filter(|l| !l.is_empty()) {
        text.push_str(&t(language, "reminders.meet_link", &[("link", link)]));
    }
    OutgoingMessage::text(text)
}

/// How far off the meeting is, as the reminder says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lead {
    Tomorrow,
    Days(i64),
    Hours(i64),
    Minutes(i64),
}

const MINUTES_PER_DAY: i64 = 24 * 60;

/// The lead of a reminder handed over at `now`: its planned offset when on
/// time, else the time really left. Whole days read as days ("tomorrow"
/// when the meeting is on the reader's next local day); whole hours as
/// hours; under three hours as minutes; longer as hours, rounded.
fn lead(
    offset_minutes: i32,
    due_at: DateTime<Utc>,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: Tz,
) -> Lead {
    let minutes = if now - due_at <= ON_TIME {
        i64::from(offset_minutes)
    } else {
        (starts_at - now).num_minutes().max(1)
    };
    if minutes % MINUTES_PER_DAY == 0 {
        let days = minutes / MINUTES_PER_DAY;
        let today = now.with_timezone(&zone).date_naive();
        let meeting_day = starts_at.with_timezone(&zone).date_naive();
        return match days {
            1 if today.succ_opt() == Some(meeting_day) => Lead::Tomorrow,
            // Across a daylight-saving change 24 hours may not be tomorrow.
            1 => Lead::Hours(24),
            days => Lead::Days(days),
        };
    }
    if minutes % 60 == 0 {
        Lead::Hours(minutes / 60)
    } else if minutes < 3 * 60 {
        Lead::Minutes(minutes)
    } else {
        Lead::Hours((minutes + 30) / 60)
    }
}

impl Lead {
    fn text(self, language: Language) -> String {
        let counted = |unit: &str, n: i64| {
            let key = format!("reminders.lead.{unit}.{}", plural_form(language, n));
            t(language, &key, &[("n", &n.to_string())])
        };
        match self {
            Self::Tomorrow => t(language, "reminders.lead.tomorrow", &[]),
            Self::Days(n) => counted("days", n),
            Self::Hours(n) => counted("hours", n),
            Self::Minutes(n) => t(language, "reminders.lead.minutes", &[("n", &n.to_string())]),
        }
    }
}

/// The plural form of `n` things: `one`, `few` or `many` (Russian: 1 час,
/// 2 часа, 5 часов; English has only `one` and `many`).
fn plural_form(language: Language, n: i64) -> &'static str {
    match language {
        Language::En if n == 1 => "one",
        Language::En => "many",
        Language::Ru => {
            let (last, last_two) = (n % 10, n % 100);
            if last == 1 && last_two != 11 {
                "one"
            } else if (2..=4).contains(&last) && !(12..=14).contains(&last_two) {
                "few"
            } else {
                "many"
            }
        }
    }
}

/// A fresh id for a reminder of a meeting that has none.
fn new_correlation_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap()
    }

    #[test]
    fn on_time_reminders_announce_their_planned_lead() {
        let starts = utc(10, 7, 0);
        let moscow = Tz::Europe__Moscow;
        assert_eq!(
            lead(1440, utc(9, 7, 0), starts, utc(9, 7, 1), moscow),
            Lead::Tomorrow
        );
        assert_eq!(
            lead(60, utc(10, 6, 0), starts, utc(10, 6, 4), moscow),
            Lead::Hours(1)
        );
        assert_eq!(
            lead(90, utc(10, 5, 30), starts, utc(10, 5, 30), moscow),
            Lead::Minutes(90)
        );
        assert_eq!(
            lead(2 * 1440, utc(8, 7, 0), starts, utc(8, 7, 0), moscow),
            Lead::Days(2)
        );
    }

    #[test]
    fn late_reminders_say_the_time_really_left() {
        let starts = utc(10, 7, 0);
        let zone = Tz::UTC;
        assert_eq!(
            lead(60, utc(10, 6, 0), starts, utc(10, 6, 20), zone),
            Lead::Minutes(40)
        );
        assert_eq!(
            lead(1440, utc(9, 7, 0), starts, utc(9, 10, 40), zone),
            Lead::Hours(20)
        );
    }

    #[test]
    fn a_day_ahead_is_tomorrow_only_on_the_next_local_day() {
        // New York's clocks go back at 02:00 on 1 November 2026: 24 hours
        // before 23:30 local that day is 00:30 local the same day.
        let zone = Tz::America__New_York;
        let starts = zone
            .with_ymd_and_hms(2026, 11, 1, 23, 30, 0)
            .unwrap()
            .with_timezone(&Utc);
        let due = starts - TimeDelta::days(1);
        assert_eq!(lead(1440, due, starts, due, zone), Lead::Hours(24));
    }

    #[test]
    fn reminders_more_than_half_their_lead_late_are_dropped() {
        assert!(!too_late(60, utc(10, 6, 0), utc(10, 6, 30)));
        assert!(too_late(60, utc(10, 6, 0), utc(10, 6, 31)));
        assert!(!too_late(1440, utc(9, 7, 0), utc(9, 18, 0)));
        assert!(too_late(1440, utc(9, 7, 0), utc(9, 19, 1)));
    }

    #[test]
    fn russian_has_three_plural_forms() {
        let forms: Vec<_> = [1, 2, 4, 5, 11, 12, 21, 22, 25, 111]
            .into_iter()
            .map(|n| plural_form(Language::Ru, n))
            .collect();
        assert_eq!(
            forms,
            [
                "one", "few", "few", "many", "many", "many", "one", "few", "many", "many"
            ]
        );
        assert_eq!(plural_form(Language::En, 1), "one");
        assert_eq!(plural_form(Language::En, 2), "many");
        assert_eq!(Lead::Hours(2).text(Language::Ru), "через 2 часа");
        assert_eq!(Lead::Hours(1).text(Language::En), "in 1 hour");
        assert_eq!(Lead::Tomorrow.text(Language::Ru), "завтра");
    }
}
