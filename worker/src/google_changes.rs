//! Changes an owner made to a meeting's event in Google Calendar, applied to
//! the meeting: Google is the owner's own calendar, so what they did there
//! stands. A deleted event cancels the meeting (the bot never puts it
//! back) and the manager is told once. A moved event moves the meeting
//! (cells re-claimed, reminders re-planned, the manager and the other
//! owners told in their zones) — unless the new time collides with another
//! meeting or blocked time of an owner: then the meeting keeps its time,
//! the event is put back by the calendar sync and the owner is told why
//! (see [`event_moved`]).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use shared::db::audit::{self, AuditEntry};
use shared::db::meetings::{self, CalendarMove, Meeting};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{MeetingId, OutboxMessageId, UserId};
use shared::db::users;
use shared::db::{DbConn, DbError, booking_settings, calendar_sync};
use shared::domain::booking::{
    BookingError, MeetingStatus, ParticipantRole, SyncState, period_key,
};
use shared::domain::delivery::Lane;
use shared::domain::profile::stored_zone;
use shared::i18n::dates::meeting_when;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, JobContext, SyncCalendar};
use shared::telegram::OutgoingMessage;

use crate::jobs::Clients;

/// The audit action of a meeting cancelled because its owner deleted the
/// event in Google Calendar.
const DELETED_IN_CALENDAR_ACTION: &str = "meeting.cancelled_in_calendar";

/// The audit action of a meeting moved because its owner moved the event
/// in Google Calendar.
const MOVED_IN_CALENDAR_ACTION: &str = "meeting.moved_in_calendar";
/// The audit action of a move in Google the bot refused (collision).
const MOVE_REFUSED_ACTION: &str = "meeting.calendar_move_refused";

/// What [`event_moved`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moved {
    /// The meeting now starts and ends where the event does.
    Followed,
    /// The new time collides with another meeting or blocked time of an
    /// owner: the meeting kept its time, the event is being put back.
    Refused,
    /// Nothing to do: same time, not scheduled, a change of the bot's own
    /// still on its way to Google, or another owner's calendar.
    Ignored,
}

/// The owner moved the event `event_id` of meeting `id` in Google to
/// `[starts_at, ends_at)`.
///
/// Only a meeting whose current revision is synced is followed: while a
/// change made in the bot is pending, the event still shows the old time
/// and the calendar sync is about to write the new one.
///
/// The move is followed like a reschedule (every owner's 15-minute cells
/// at the new time claimed, the old ones freed, reminders re-planned), the
/// new revision marked synced so the calendar sync does not patch it back,
/// an audit row written and the manager and the other owners told in their
/// own zones. The quota moves with the period without a limit check: the
/// owner decided.
///
/// A collision with another meeting or blocked time of an owner is not
/// followed: two meetings in one slot would break the promise the slot
/// claims make to the other manager (or the owner's own block), and
/// silently cancelling either is worse. The meeting keeps its time, a new
/// revision puts the event back in Google through the calendar sync, and
/// the owner is told why (the manager sees no change).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn event_moved(
    ctx: &JobContext<Clients>,
    id: MeetingId,
    owner: UserId,
    event_id: &str,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    correlation_id: &str,
) -> Result<Moved, DbError> {
    let now = ctx.clock.now();
    let audit_correlation = correlation_id.to_owned();
    let event_id = event_id.to_owned();
    let company_zone = ctx.clients.company_zone;
    let outcome = ctx
        .db
        .write(move |c| {
            let Some(meeting) = meetings::find(c, id)? else {
                return Ok(None);
            };
            let synced = meeting.sync_state == SyncState::Synced
                && meeting.synced_revision == Some(meeting.revision);
            if meeting.status != MeetingStatus::Scheduled
                || !synced
                || meeting.calendar_owner_id != Some(owner)
                || meeting.google_event_id.as_deref() != Some(event_id.as_str())
                || (meeting.starts_at == starts_at && meeting.ends_at == ends_at)
                || ends_at <= starts_at
            {
                return Ok(None);
            }
            let settings = booking_settings::get(c)?;
            let to = CalendarMove {
                starts_at,
                ends_at,
                period_key: period_key(starts_at, settings.limit_period, company_zone),
                reminder_offsets: settings.reminder_offsets.clone(),
            };
            match meetings::move_from_calendar(c, id, meeting.revision, &to, now) {
                Ok(moved) => {
                    record(
                        c,
                        owner,
                        &moved,
                        MOVED_IN_CALENDAR_ACTION,
                        json!({
                            "revision": moved.revision,
                            "event_id": event_id,
                            "from": meeting.starts_at,
                            "to": moved.starts_at,
                        }),
                        &audit_correlation,
                        now,
                    )?;
                    let notices = tell_moved(
                        c,
                        &meeting,
                        &moved,
                        owner,
                        company_zone,
                        &audit_correlation,
                        now,
                    )?;
                    Ok(Some((Moved::Followed, moved.revision, notices)))
                }
                Err(BookingError::SlotTaken | BookingError::LimitReached) => {
                    let kept = match meetings::resync_calendar(c, id, meeting.revision, now) {
                        Ok(kept) => kept,
                        Err(BookingError::Db(error)) => return Err(error),
                        Err(_) => return Ok(None),
                    };
                    record(
                        c,
                        owner,
                        &kept,
                        MOVE_REFUSED_ACTION,
                        json!({
                            "revision": kept.revision,
                            "event_id": event_id,
                            "wanted": starts_at,
                        }),
                        &audit_correlation,
                        now,
                    )?;
                    let notice = tell_owner_refused(
                        c,
                        &kept,
                        owner,
                        (starts_at, ends_at),
                        company_zone,
                        &audit_correlation,
                        now,
                    )?;
                    Ok(Some((
                        Moved::Refused,
                        kept.revision,
                        notice.into_iter().collect(),
                    )))
                }
                Err(BookingError::Db(error)) => Err(error),
                // Changed, cancelled or closed meanwhile: that change wins.
                Err(_) => Ok(None),
            }
        })
        .await?;
    let Some((moved, revision, notices)) = outcome else {
        return Ok(Moved::Ignored);
    };
    for outbox_id in notices {
        DeliverMessage::push_after_commit(&ctx.clients.queue, outbox_id, correlation_id).await;
    }
    match moved {
        Moved::Followed => {
            tracing::info!(meeting_id = %id, "the owner moved the event in Google; meeting moved");
        }
        _ => {
            tracing::info!(
                meeting_id = %id,
                "the owner moved the event in Google onto taken time; the event is put back"
            );
            SyncCalendar::push_after_commit(&ctx.clients.queue, id, revision, correlation_id).await;
        }
    }
    Ok(moved)
}

/// One audit row about a change that came from Google.
fn record(
    conn: &mut DbConn,
    owner: UserId,
    meeting: &Meeting,
    action: &'static str,
    data: serde_json::Value,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    audit::record(
        conn,
        &AuditEntry {
            actor: Some(owner),
            actor_telegram_id: None,
            action,
            target_user: Some(meeting.manager_id),
            target: Some(format!("meeting:{}", meeting.id.0)),
            data,
            correlation_id: Some(correlation_id),
        },
        now,
    )?;
    Ok(())
}

/// Tells the manager and the other owners of `moved` (once per revision)
/// that the owner moved it in Google: the new and the old time in each
/// reader's language and zone. Nobody inactive or unreachable.
fn tell_moved(
    conn: &mut DbConn,
    before: &Meeting,
    moved: &Meeting,
    owner: UserId,
    company_zone: Tz,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxMessageId>, DbError> {
    let owner_name = users::find(conn, owner)?
        .map(|o| o.full_name())
        .unwrap_or_default();
    let readers: Vec<(UserId, ParticipantRole)> = meetings::participants(conn, moved.id)?
        .into_iter()
        .filter(|p| p.user_id != owner)
        .map(|p| (p.user_id, p.role))
        .collect();
    let mut ids = Vec::new();
    for (reader, _) in readers {
        let Some(user) = users::find(conn, reader)? else {
            continue;
        };
        if !user.is_active() || user.unreachable_at.is_some() {
            continue;
        }
        let zone = stored_zone(&user.time_zone, company_zone);
        let when = meeting_when(user.language, zone, moved.starts_at, moved.ends_at);
        let was = meeting_when(user.language, zone, before.starts_at, before.ends_at);
        let text = t(
            user.language,
            "calendar.moved_in_google",
            &[("when", &when), ("with", &owner_name), ("was", &was)],
        );
        let inserted = outbox::insert(
            conn,
            &NewOutboxMessage {
                chat_id: user.telegram_id.0,
                recipient: Some(user.id),
                kind: "meeting.moved_in_calendar",
                lane: Lane::Bulk,
                body: OutgoingMessage::text(text).to_json(),
                broadcast: None,
                dedupe_key: Some(format!(
                    "moved-in-google:{}:{}:{}",
                    moved.id.0, moved.revision, user.id.0
                )),
                correlation_id: Some(correlation_id),
            },
            now,
        )?;
        ids.extend(inserted);
    }
    Ok(ids)
}

/// Tells the owner that their move in Google was not applied because the
/// time is taken: the time they wanted and the meeting's, in their zone.
fn tell_owner_refused(
    conn: &mut DbConn,
    kept: &Meeting,
    owner: UserId,
    (wanted_start, wanted_end): (DateTime<Utc>, DateTime<Utc>),
    company_zone: Tz,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let Some(user) = users::find(conn, owner)? else {
        return Ok(None);
    };
    if !user.is_active() || user.unreachable_at.is_some() {
        return Ok(None);
    }
    let manager_name = users::find(conn, kept.manager_id)?
        .map(|m| m.full_name())
        .unwrap_or_default();
    let zone = stored_zone(&user.time_zone, company_zone);
    let when = meeting_when(user.language, zone, kept.starts_at, kept.ends_at);
    let wanted = meeting_when(user.language, zone, wanted_start, wanted_end);
    let text = t(
        user.language,
        "calendar.move_refused",
        &[
            ("when", &when),
            ("with", &manager_name),
            ("wanted", &wanted),
        ],
    );
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: user.telegram_id.0,
            recipient: Some(user.id),
            kind: "meeting.calendar_move_refused",
            lane: Lane::Bulk,
            body: OutgoingMessage::text(text).to_json(),
            broadcast: None,
            dedupe_key: Some(format!("move-refused:{}:{}", kept.id.0, kept.revision)),
            correlation_id: Some(correlation_id),
        },
        now,
    )
}

/// The owner deleted the event `event_id` of meeting `id` in Google: the
/// meeting is cancelled, the manager told (once) and the sync of the
/// cancellation queued. Returns whether this call cancelled it (a meeting
/// cancelled or moved meanwhile is left to that change's own job).
pub(crate) async fn event_deleted(
    ctx: &JobContext<Clients>,
    id: MeetingId,
    owner: UserId,
    event_id: &str,
    correlation_id: &str,
) -> Result<bool, DbError> {
    let now = ctx.clock.now();
    let audit_correlation = correlation_id.to_owned();
    let event_id = event_id.to_owned();
    let company_zone = ctx.clients.company_zone;
    let cancelled = ctx
        .db
        .write(move |c| {
            calendar_sync::record_event(c, id, owner, &event_id, None)?;
            let cancelled = match meetings::cancel(c, id, owner, None, now) {
                Ok(cancelled) => cancelled,
                Err(BookingError::Db(error)) => return Err(error),
                // Cancelled or moved meanwhile: that change's job syncs.
                Err(_) => return Ok(None),
            };
            audit::record(
                c,
                &AuditEntry {
                    actor: Some(owner),
                    actor_telegram_id: None,
                    action: DELETED_IN_CALENDAR_ACTION,
                    target_user: Some(cancelled.manager_id),
                    target: Some(format!("meeting:{}", id.0)),
                    data: json!({ "revision": cancelled.revision, "event_id": event_id }),
                    correlation_id: Some(&audit_correlation),
                },
                now,
            )?;
            let notice =
                tell_manager_deleted(c, &cancelled, owner, company_zone, &audit_correlation, now)?;
            Ok(Some((cancelled.revision, notice)))
        })
        .await?;
    let Some((revision, notice)) = cancelled else {
        return Ok(false);
    };
    tracing::info!(meeting_id = %id, "the owner deleted the event in Google; meeting cancelled");
    if let Some(outbox_id) = notice {
        DeliverMessage::push_after_commit(&ctx.clients.queue, outbox_id, correlation_id).await;
    }
    SyncCalendar::push_after_commit(&ctx.clients.queue, id, revision, correlation_id).await;
    Ok(true)
}

/// Tells the manager (once) that the owner deleted the meeting's event in
/// Google Calendar, so the meeting is cancelled: in their language and
/// zone. Nothing for a manager who is not active or blocked the bot.
fn tell_manager_deleted(
    conn: &mut DbConn,
    meeting: &Meeting,
    owner: UserId,
    company_zone: Tz,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<OutboxMessageId>, DbError> {
    let Some(manager) = users::find(conn, meeting.manager_id)? else {
        return Ok(None);
    };
    if !manager.is_active() || manager.unreachable_at.is_some() {
        return Ok(None);
    }
    let owner_name = users::find(conn, owner)?
        .map(|o| o.full_name())
        .unwrap_or_default();
    let zone = stored_zone(&manager.time_zone, company_zone);
    let when = meeting_when(manager.language, zone, meeting.starts_at, meeting.ends_at);
    let text = t(
        manager.language,
        "calendar.deleted_in_google",
        &[("when", &when), ("with", &owner_name)],
    );
    outbox::insert(
        conn,
        &NewOutboxMessage {
            chat_id: manager.telegram_id.0,
            recipient: Some(manager.id),
            kind: "meeting.cancelled_in_calendar",
            lane: Lane::Bulk,
            body: OutgoingMessage::text(text).to_json(),
            broadcast: None,
            dedupe_key: Some(format!("deleted-in-google:{}", meeting.id.0)),
            correlation_id: Some(correlation_id),
        },
        now,
    )
}
