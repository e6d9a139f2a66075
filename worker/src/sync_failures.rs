//! A calendar sync that gave up: the meeting's sync is recorded as failed
//! (the sweep leaves it alone; the meeting's next change tries again) and,
//! in the same transaction, every active admin is told once per meeting
//! revision, in their language and zone, so a person can look at it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use shared::db::meetings::{self, Meeting};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{MeetingId, OutboxMessageId};
use shared::db::users;
use shared::db::{DbConn, DbError, calendar_sync};
use shared::domain::booking::ParticipantRole;
use shared::domain::delivery::Lane;
use shared::domain::profile::stored_zone;
use shared::i18n::dates::meeting_when;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, JobContext};
use shared::telegram::OutgoingMessage;

use crate::jobs::Clients;

/// The longest failure reason an admin is shown; Google's messages can be
/// long and the rest is in the log.
const REASON_CHARS: usize = 300;

/// Records that syncing meeting `id` gave up for `reason` and tells the
/// admins (once: only the call that moves the sync from pending to failed
/// writes the alerts). Errors are logged, not returned: the job fails
/// either way.
pub(crate) async fn gave_up(
    ctx: &JobContext<Clients>,
    id: MeetingId,
    reason: String,
    correlation_id: &str,
) {
    let now = ctx.clock.now();
    let company_zone = ctx.clients.company_zone;
    let correlation = correlation_id.to_owned();
    let written = ctx
        .db
        .write(move |c| {
            let Some(meeting) = meetings::find(c, id)? else {
                return Ok(Vec::new());
            };
            if !calendar_sync::mark_failed(c, id, meeting.revision, &reason)? {
                return Ok(Vec::new());
            }
            tell_admins(c, &meeting, &reason, company_zone, &correlation, now)
        })
        .await;
    match written {
        Ok(alerts) => {
            for outbox_id in alerts {
                DeliverMessage::push_after_commit(&ctx.clients.queue, outbox_id, correlation_id)
                    .await;
            }
        }
        Err(error) => {
            tracing::warn!(%error, meeting_id = %id, "cannot record the failed sync");
        }
    }
}

/// One alert per active, reachable admin, keyed by meeting revision and
/// admin so a second run writes nothing.
fn tell_admins(
    conn: &mut DbConn,
    meeting: &Meeting,
    reason: &str,
    company_zone: Tz,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<OutboxMessageId>, DbError> {
    let mut manager = String::new();
    let mut owners = Vec::new();
    for participant in meetings::participants(conn, meeting.id)? {
        let Some(user) = users::find(conn, participant.user_id)? else {
            continue;
        };
        match participant.role {
            ParticipantRole::Manager => manager = user.full_name(),
            ParticipantRole::Owner => owners.push(user.full_name()),
        }
    }
    let owners = owners.join(", ");
    let reason: String = reason.chars().take(REASON_CHARS).collect();
    let id = meeting.id.0.to_string();
    let mut queued = Vec::new();
    for admin in users::active_admins(conn)? {
        if admin.unreachable_at.is_some() {
            continue;
        }
        let zone = stored_zone(&admin.time_zone, company_zone);
        let when = meeting_when(admin.language, zone, meeting.starts_at, meeting.ends_at);
        let text = t(
            admin.language,
            "adm.calendar_sync_failed",
            &[
                ("id", &id),
                ("when", &when),
                ("manager", &manager),
                ("owners", &owners),
                ("reason", &reason),
            ],
        );
        let message = NewOutboxMessage {
            chat_id: admin.telegram_id.0,
            recipient: Some(admin.id),
            kind: "admin.calendar_sync_failed",
            lane: Lane::Bulk,
            body: OutgoingMessage::text(text).to_json(),
            broadcast: None,
            dedupe_key: Some(format!(
                "sync-failed:{}:{}:{}",
                meeting.id.0, meeting.revision, admin.id.0
            )),
            correlation_id: Some(correlation_id),
        };
        queued.extend(outbox::insert(conn, &message, now)?);
    }
    Ok(queued)
}
