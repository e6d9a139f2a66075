//! `sync-calendar`: make the calendars of one meeting match its current
//! revision.
//!
//! The job names a meeting, not a change: it reads the meeting as it is
//! now, so a job for an older revision syncs the newest one and the job of
//! that newest one then finds nothing to do. How the meeting reaches the
//! calendars is chosen per meeting ([`Route`]); today that is always `.ics`
//! files in Telegram:
//!
//! - in ONE transaction: one outbox message per active participant (the
//!   manager and the owners) carrying the file in their zone and language,
//!   keyed `ics:<meeting>:<revision>:<user>`; the meeting marked synced at
//!   that revision (only if it is still at it, else nothing is written and
//!   the newer revision's job takes over); an audit row;
//! - after commit, the delivery jobs of the new messages (the outbox sweep
//!   re-pushes any push lost in a crash).
//!
//! Running twice sends nothing twice: a synced revision is skipped, and the
//! keys refuse a second copy of a message.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use shared::db::audit::{self, AuditEntry};
use shared::db::meetings::{self, Meeting};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{MeetingId, OutboxMessageId, UserId};
use shared::db::users::{self, User};
use shared::db::{DbConn, DbError, calendar_sync};
use shared::domain::booking::ParticipantRole;
use shared::domain::delivery::Lane;
use shared::domain::ics::{self, Invite, Method, Owed, Party};
use shared::domain::profile::stored_zone;
use shared::i18n::dates::meeting_when;
use shared::i18n::{t, t_plain};
use shared::jobs::{DeliverMessage, JobContext, JobError, SyncCalendar};
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Attachment;

use crate::jobs::Clients;

/// The audit action of a synced revision.
const SYNCED_ACTION: &str = "meeting.calendar_synced";

/// How one meeting reaches its participants' calendars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// No calendar the bot can write to: an `.ics` file to each
    /// participant in Telegram.
    Invites,
    // The Google branch goes here: an event on the connected calendar of
    // one of the meeting's owners (`Google { calendar_owner: UserId }`),
    // chosen when Google is configured and an owner connected theirs.
}

/// Chooses the [`Route`] of `meeting`.
fn route(_meeting: &Meeting) -> Route {
    Route::Invites
}

/// What one run wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Written {
    /// The meeting no longer exists.
    Gone,
    /// This revision was synced already.
    UpToDate,
    /// The meeting changed while this run looked at it; the newer
    /// revision's own job syncs it.
    Superseded,
    /// Synced at `revision`; `messages` were queued (none when nothing was
    /// owed).
    Synced {
        revision: i32,
        method: Option<Method>,
        messages: Vec<OutboxMessageId>,
    },
}

/// The `sync-calendar` handler. Database failures are retried; the last
/// attempt records the sync as failed, so the sweep leaves it alone.
pub async fn sync_calendar(job: SyncCalendar, ctx: JobContext<Clients>) -> Result<(), JobError> {
    let id = MeetingId(job.meeting_id);
    match run(&job, &ctx).await {
        Ok(()) => Ok(()),
        Err(error) if ctx.is_last_attempt() => {
            let reason = format!("gave up after {} attempts: {error}", ctx.attempt);
            let marked = ctx
                .db
                .write(move |c| {
                    let Some(meeting) = meetings::find(c, id)? else {
                        return Ok(false);
                    };
                    calendar_sync::mark_failed(c, id, meeting.revision, &reason)
                })
                .await;
            if let Err(mark_error) = marked {
                tracing::warn!(error = %mark_error, meeting_id = %id, "cannot record the failed sync");
            }
            tracing::error!(%error, meeting_id = %id, "calendar sync failed");
            Err(JobError::permanent(error))
        }
        Err(error) => Err(JobError::retryable(error)),
    }
}

async fn run(job: &SyncCalendar, ctx: &JobContext<Clients>) -> Result<(), DbError> {
    let id = MeetingId(job.meeting_id);
    let Some(meeting) = ctx.db.read(move |c| meetings::find(c, id)).await? else {
        tracing::info!(meeting_id = %id, "meeting is gone; nothing to sync");
        return Ok(());
    };
    if meeting.synced_revision == Some(meeting.revision) {
        return Ok(());
    }
    match route(&meeting) {
        Route::Invites => send_invites(job, ctx).await,
    }
}

/// The `.ics` branch (see the module docs).
async fn send_invites(job: &SyncCalendar, ctx: &JobContext<Clients>) -> Result<(), DbError> {
    let id = MeetingId(job.meeting_id);
    let now = ctx.clock.now();
    let company_zone = ctx.clients.company_zone;
    let correlation_id = job.correlation_id.clone();
    let written = ctx
        .db
        .write(move |c| write_invites(c, id, company_zone, &correlation_id, now))
        .await?;
    match written {
        Written::Gone | Written::UpToDate => {}
        Written::Superseded => {
            tracing::info!(meeting_id = %id, "meeting changed meanwhile; its newer revision syncs");
        }
        Written::Synced {
            revision,
            method,
            messages,
        } => {
            tracing::info!(
                meeting_id = %id,
                revision,
                method = method.map(method_name),
                invites = messages.len(),
                "calendar invites queued"
            );
            for message in messages {
                DeliverMessage::push_after_commit(&ctx.clients.queue, message, &job.correlation_id)
                    .await;
            }
        }
    }
    Ok(())
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Request => "request",
        Method::Cancel => "cancel",
    }
}

/// Everything the `.ics` branch writes, in the caller's transaction.
fn write_invites(
    conn: &mut DbConn,
    id: MeetingId,
    company_zone: Tz,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<Written, DbError> {
    let Some(meeting) = meetings::find(conn, id)? else {
        return Ok(Written::Gone);
    };
    let owed = ics::owed(
        meeting.status,
        meeting.revision,
        meeting.synced_revision,
        meeting.ends_at,
        now,
    );
    if owed == Owed::UpToDate {
        return Ok(Written::UpToDate);
    }
    // First, so a change committed since the read above wins and nothing
    // stale is queued (the row stays locked until commit on PostgreSQL).
    if !calendar_sync::mark_synced(conn, id, meeting.revision)? {
        return Ok(Written::Superseded);
    }
    let (method, messages) = match owed {
        Owed::Send(method) => {
            let people = People::load(conn, &meeting)?;
            let mut queued = Vec::new();
            for reader in people.recipients() {
                let message = NewOutboxMessage {
                    chat_id: reader.telegram_id.0,
                    recipient: Some(reader.id),
                    kind: match method {
                        Method::Request => "calendar.invite",
                        Method::Cancel => "calendar.cancel",
                    },
                    lane: Lane::Interactive,
                    body: people
                        .message_for(&meeting, reader, method, company_zone, now)
                        .to_json(),
                    broadcast: None,
                    dedupe_key: Some(format!("ics:{}:{}:{}", id.0, meeting.revision, reader.id.0)),
                    correlation_id: Some(correlation_id),
                };
                queued.extend(outbox::insert(conn, &message, now)?);
            }
            (Some(method), queued)
        }
        Owed::UpToDate | Owed::Nothing => (None, Vec::new()),
    };
    audit::record(
        conn,
        &AuditEntry {
            actor: None,
            actor_telegram_id: None,
            action: SYNCED_ACTION,
            target_user: None,
            target: Some(format!("meeting:{}", id.0)),
            data: json!({
                "revision": meeting.revision,
                "via": "ics",
                "method": method.map(method_name),
                "invites": messages.len(),
            }),
            correlation_id: Some(correlation_id),
        },
        now,
    )?;
    Ok(Written::Synced {
        revision: meeting.revision,
        method,
        messages,
    })
}

/// The participants of one meeting, as calendars and captions name them.
#[derive(Debug)]
struct People {
    manager: Option<User>,
    owners: Vec<User>,
}

impl People {
    fn load(conn: &mut DbConn, meeting: &Meeting) -> Result<Self, DbError> {
        let mut manager = None;
        let mut owners = Vec::new();
        for participant in meetings::participants(conn, meeting.id)? {
            let Some(user) = users::find(conn, participant.user_id)? else {
                continue;
            };
            match participant.role {
                ParticipantRole::Manager => manager = Some(user),
                ParticipantRole::Owner => owners.push(user),
            }
        }
        // The calendar owner organizes; else the first owner (by id).
        if let Some(first) = meeting
            .calendar_owner_id
            .and_then(|owner| owners.iter().position(|o| o.id == owner))
        {
            owners.swap(0, first);
        }
        Ok(Self { manager, owners })
    }

    /// Who gets a file: active participants the bot can still reach.
    fn recipients(&self) -> impl Iterator<Item = &User> {
        self.manager
            .iter()
            .chain(&self.owners)
            .filter(|user| user.is_active() && user.unreachable_at.is_none())
    }

    fn everyone(&self) -> impl Iterator<Item = &User> {
        self.manager.iter().chain(&self.owners)
    }

    /// The file and its caption for `reader`, in their zone and language.
    fn message_for(
        &self,
        meeting: &Meeting,
        reader: &User,
        method: Method,
        company_zone: Tz,
        now: DateTime<Utc>,
    ) -> OutgoingMessage {
        let language = reader.language;
        let zone = stored_zone(&reader.time_zone, company_zone);
        let others = self
            .everyone()
            .filter(|user| user.id != reader.id)
            .map(User::full_name)
            .collect::<Vec<_>>()
            .join(", ");
        let owners = self
            .owners
            .iter()
            .map(User::full_name)
            .collect::<Vec<_>>()
            .join(", ");
        let manager = self
            .manager
            .as_ref()
            .map(User::full_name)
            .unwrap_or_default();
        let summary = t_plain(language, "calendar.ics.summary", &[("with", &others)]);
        let mut description = t_plain(
            language,
            "calendar.ics.description",
            &[("manager", &manager), ("owners", &owners)],
        );
        if method == Method::Cancel
            && let Some(reason) = meeting.cancel_reason.as_deref().filter(|r| !r.is_empty())
        {
            description.push_str("\n\n");
            description.push_str(&t_plain(
                language,
                "calendar.ics.reason",
                &[("reason", reason)],
            ));
        }
        let parties: Vec<(UserId, String, Option<String>)> = self
            .everyone()
            .map(|user| (user.id, user.full_name(), user.email.clone()))
            .collect();
        let organizer_id = self.owners.first().map(|owner| owner.id);
        let organizer = parties
            .iter()
            .find(|(user, ..)| Some(*user) == organizer_id)
            .map(party);
        let attendees: Vec<Party<'_>> = parties
            .iter()
            .filter(|(user, ..)| Some(*user) != organizer_id)
            .map(party)
            .collect();
        let fallback_organizer = Party {
            user: meeting.manager_id,
            name: &manager,
            email: None,
        };
        let content = ics::render(&Invite {
            meeting: meeting.id,
            revision: meeting.revision,
            method,
            starts_at: meeting.starts_at,
            ends_at: meeting.ends_at,
            stamp: now,
            zone,
            summary: &summary,
            description: &description,
            organizer: organizer.unwrap_or(fallback_organizer),
            attendees: &attendees,
        });
        let when = meeting_when(language, zone, meeting.starts_at, meeting.ends_at);
        let (key, file_name) = match method {
            Method::Request if meeting.synced_revision.is_some() => {
                ("calendar.invite_updated", "invite.ics")
            }
            Method::Request => ("calendar.invite", "invite.ics"),
            Method::Cancel => ("calendar.cancelled", "cancellation.ics"),
        };
        let caption = t(language, key, &[("when", &when), ("with", &others)]);
        OutgoingMessage::document(
            caption,
            Attachment {
                file_name: file_name.to_owned(),
                mime_type: ics::MIME_TYPE.to_owned(),
                content,
            },
        )
    }
}

fn party((user, name, email): &(UserId, String, Option<String>)) -> Party<'_> {
    Party {
        user: *user,
        name,
        email: email.as_deref(),
    }
}
