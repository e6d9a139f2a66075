//! `sync-calendar`: make the calendars of one meeting match its current
//! revision.
//!
//! The job names a meeting, not a change: it reads the meeting as it is
//! now, so a job for an older revision syncs the newest one and the job of
//! that newest one then finds nothing to do. How the meeting reaches the
//! calendars is chosen per meeting ([`Route`]).
//!
//! **Google** (Google is configured and an owner connected their calendar;
//! in collective mode the first owner, by participant order, with an active
//! connection): the owner's calendar is made to match the meeting, and
//! Google mails the guests (`sendUpdates=all`):
//!
//! - scheduled, no event yet: inserted under the meeting's deterministic
//!   event id with a Meet, the manager (and the other owners) as guests; a
//!   409 is our own earlier insert, read back — unless the owner deleted
//!   it, which cancels the meeting (the bot never resurrects an event).
//!   Where the event lives is stored, the meeting marked synced at the
//!   revision (if still at it), and the manager gets the Meet link once
//!   (`meet:<meeting>`);
//! - scheduled, event stored, a newer revision (moved): start and end
//!   patched (a patch keeps what the owner edited in Google);
//! - cancelled: the event deleted (already gone counts as done).
//!
//! A 401 refreshes the token and tries once more; transient failures (429,
//! rate-limit 403s, 5xx, timeouts) are retried per call with backoff and
//! jitter (`GOOGLE_RETRY_*`), then by the queue; a refused request (400,
//! 403) fails the sync at once. A sync that gives up is recorded failed and
//! the admins are told once ([`crate::sync_failures`]). A connection that turns out broken (revoked grant, unreadable
//! tokens: the owner was asked to reconnect) sends THIS revision as `.ics`
//! files instead, so the meeting still reaches the calendars; a meeting
//! whose first sync went out as `.ics` stays on `.ics`.
//!
//! **A shared calendar** (the owner shared it with the deployment's
//! service account; no domain-wide delegation): the same, with the
//! account's token — but Google refuses a service account guests (403
//! `forbiddenForServiceAccounts`) and a Meet (400 `invalid`). Such an
//! insert is made again without them, with a note in the event's
//! description (the owner's language); the sync does not fail. The owner
//! is told once per meeting what is missing (`degraded:<meeting>`), and
//! every participant Google did not invite (the manager, other owners)
//! gets each revision as an `.ics` file instead — keyed like the `.ics`
//! branch's — so the meeting still reaches their calendar and follows its
//! moves and cancellation (a cancel first reads the event to know whom
//! Google invited).
//!
//! **`.ics`** files in Telegram (no connected calendar):
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
use shared::db::google_connections::{self, ConnectionKind};
use shared::db::meetings::{self, Meeting};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::types::{MeetingId, OutboxMessageId, UserId};
use shared::db::users::{self, User};
use shared::db::{DbConn, DbError, calendar_sync};
use shared::domain::booking::{MeetingStatus, ParticipantRole};
use shared::domain::delivery::Lane;
use shared::domain::ics::{self, Invite, Method, Owed, Party};
use shared::domain::profile::stored_zone;
use shared::domain::user::Language;
use shared::google::SecretString;
use shared::google::calendar::{
    Attendee, CalendarError, Deleted, Event, EventTime, SendUpdates, deterministic_event_id, retry,
};
use shared::google::tokens::TokenError;
use shared::i18n::dates::meeting_when;
use shared::i18n::{t, t_plain};
use shared::jobs::{DeliverMessage, JobContext, JobError, SyncCalendar};
use shared::telegram::OutgoingMessage;
use shared::telegram::message::{Attachment, Button};

use crate::jobs::{Clients, GoogleSync};
use crate::{google_changes, sync_failures};

/// The audit action of a synced revision.
const SYNCED_ACTION: &str = "meeting.calendar_synced";

/// How one meeting reaches its participants' calendars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// No calendar the bot can write to: an `.ics` file to each
    /// participant in Telegram.
    Invites,
    /// An event on the connected Google Calendar of `calendar_owner`, one
    /// of the meeting's owners.
    Google { calendar_owner: UserId },
}

/// Chooses the [`Route`] of `meeting`: where its event lives once it has
/// one; `.ics` when its first sync went out as files (one meeting is never
/// in a calendar twice); else the first owner with an active connection.
async fn route(ctx: &JobContext<Clients>, meeting: &Meeting) -> Result<Route, DbError> {
    if ctx.clients.google.is_none() {
        return Ok(Route::Invites);
    }
    if let (Some(calendar_owner), Some(_)) = (meeting.calendar_owner_id, &meeting.google_event_id) {
        return Ok(Route::Google { calendar_owner });
    }
    if meeting.synced_revision.is_some() {
        return Ok(Route::Invites);
    }
    let id = meeting.id;
    let owner = ctx.db.read(move |c| first_connected_owner(c, id)).await?;
    Ok(
        owner.map_or(Route::Invites, |calendar_owner| Route::Google {
            calendar_owner,
        }),
    )
}

/// The first owner of the meeting (participant order) whose Google
/// connection is active (their own consent, or a calendar shared with the
/// service account).
fn first_connected_owner(conn: &mut DbConn, id: MeetingId) -> Result<Option<UserId>, DbError> {
    for participant in meetings::participants(conn, id)? {
        if participant.role != ParticipantRole::Owner {
            continue;
        }
        if let Some(connection) = google_connections::find(conn, participant.user_id)?
            && connection.is_active()
        {
            return Ok(Some(participant.user_id));
        }
    }
    Ok(None)
}

/// Why a run did not finish.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("Google Calendar: {0}")]
    Calendar(#[from] CalendarError),
    /// No token for now (Google's token endpoint failing, ...).
    #[error("Google token: {0}")]
    Token(TokenError),
    /// The owner's connection is dead: this revision goes out as `.ics`.
    #[error("the Google connection is unusable: {0}")]
    Unusable(TokenError),
}

impl Failure {
    /// Whether another attempt may succeed.
    fn is_retryable(&self) -> bool {
        match self {
            Self::Db(_) => true,
            Self::Calendar(error) => error.is_retryable(),
            Self::Token(error) | Self::Unusable(error) => error.is_retryable(),
        }
    }
}

impl From<TokenError> for Failure {
    fn from(error: TokenError) -> Self {
        if error.is_retryable() {
            Self::Token(error)
        } else {
            Self::Unusable(error)
        }
    }
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

/// The `sync-calendar` handler. Transient failures (database, Google's
/// 5xx, rate limits, timeouts) are retried; the last attempt, or a request
/// Google refuses for good, records the sync as failed, so the sweep
/// leaves it alone.
pub async fn sync_calendar(job: SyncCalendar, ctx: JobContext<Clients>) -> Result<(), JobError> {
    let id = MeetingId(job.meeting_id);
    match run(&job, &ctx).await {
        Ok(()) => Ok(()),
        Err(error) if ctx.is_last_attempt() || !error.is_retryable() => {
            let reason = if error.is_retryable() {
                format!("gave up after {} attempts: {error}", ctx.attempt)
            } else {
                format!("refused: {error}")
            };
            sync_failures::gave_up(&ctx, id, reason, &job.correlation_id).await;
            tracing::error!(%error, meeting_id = %id, "calendar sync failed");
            Err(JobError::permanent(error))
        }
        Err(error) => Err(JobError::retryable(error)),
    }
}

async fn run(job: &SyncCalendar, ctx: &JobContext<Clients>) -> Result<(), Failure> {
    let id = MeetingId(job.meeting_id);
    let Some(meeting) = ctx.db.read(move |c| meetings::find(c, id)).await? else {
        tracing::info!(meeting_id = %id, "meeting is gone; nothing to sync");
        return Ok(());
    };
    if meeting.synced_revision == Some(meeting.revision) {
        return Ok(());
    }
    match (route(ctx, &meeting).await?, &ctx.clients.google) {
        (Route::Google { calendar_owner }, Some(google)) => {
            match sync_google(job, ctx, google, &meeting, calendar_owner).await {
                Err(Failure::Unusable(error)) => {
                    tracing::warn!(
                        %error,
                        meeting_id = %id,
                        owner = %calendar_owner,
                        "Google connection unusable; this revision goes out as .ics"
                    );
                    Ok(send_invites(job, ctx).await?)
                }
                other => other,
            }
        }
        _ => Ok(send_invites(job, ctx).await?),
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

    /// Everyone taking part but `reader`, by name, for `reader`'s texts.
    fn others_than(&self, reader: &User) -> String {
        self.everyone()
            .filter(|user| user.id != reader.id)
            .map(User::full_name)
            .collect::<Vec<_>>()
            .join(", ")
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
        let others = self.others_than(reader);
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

/// Calls on one owner's calendar with one access token, refreshed once
/// when Google answers 401.
struct Session<'a> {
    google: &'a GoogleSync,
    owner: UserId,
    calendar_id: String,
    correlation_id: &'a str,
    token: Option<SecretString>,
    refreshed: bool,
}

/// One call on the owner's calendar.
#[derive(Debug, Clone, Copy)]
enum Call<'a> {
    Insert(&'a Event),
    /// An insert without a Meet (refused to a service account).
    InsertWithoutMeet(&'a Event),
    Get(&'a str),
    Patch(&'a str, &'a Event),
    Delete(&'a str),
}

/// What a [`Call`] answered.
#[derive(Debug)]
enum Answer {
    Event(Box<Event>),
    Deleted(Deleted),
}

impl Answer {
    fn event(self) -> Event {
        match self {
            Self::Event(event) => *event,
            Self::Deleted(_) => Event::default(),
        }
    }
}

impl Session<'_> {
    /// One call, repeated on transient failures by the retry policy (a
    /// 409 or 401 comes back at once, for the caller to handle).
    async fn send(&self, token: &SecretString, call: Call<'_>) -> Result<Answer, CalendarError> {
        retry(self.google.retry, || self.send_once(token, call)).await
    }

    async fn send_once(
        &self,
        token: &SecretString,
        call: Call<'_>,
    ) -> Result<Answer, CalendarError> {
        let calendar = &self.google.calendar;
        let id = self.calendar_id.as_str();
        Ok(match call {
            Call::Insert(event) => Answer::Event(Box::new(
                calendar
                    .insert_event(token, id, event, SendUpdates::All, true)
                    .await?,
            )),
            Call::InsertWithoutMeet(event) => Answer::Event(Box::new(
                calendar
                    .insert_event(token, id, event, SendUpdates::All, false)
                    .await?,
            )),
            Call::Get(event_id) => {
                Answer::Event(Box::new(calendar.get_event(token, id, event_id).await?))
            }
            Call::Patch(event_id, changes) => Answer::Event(Box::new(
                calendar
                    .patch_event(token, id, event_id, changes, SendUpdates::All)
                    .await?,
            )),
            Call::Delete(event_id) => Answer::Deleted(
                calendar
                    .delete_event(token, id, event_id, SendUpdates::All)
                    .await?,
            ),
        })
    }

    async fn call(&mut self, call: Call<'_>) -> Result<Answer, Failure> {
        let token = match self.token.take() {
            Some(token) => token,
            None => {
                self.google
                    .tokens
                    .access_token(self.owner, self.correlation_id)
                    .await?
            }
        };
        match self.send(&token, call).await {
            Err(CalendarError::Unauthorized) if !self.refreshed => {
                self.refreshed = true;
                let token = self
                    .google
                    .tokens
                    .refreshed_access_token(self.owner, self.correlation_id)
                    .await?;
                let answer = self.send(&token, call).await;
                self.token = Some(token);
                Ok(answer?)
            }
            answer => {
                self.token = Some(token);
                Ok(answer?)
            }
        }
    }
}

/// The Google branch (see the module docs). [`Failure::Unusable`] asks the
/// caller to send this revision as `.ics` files instead.
async fn sync_google(
    job: &SyncCalendar,
    ctx: &JobContext<Clients>,
    google: &GoogleSync,
    meeting: &Meeting,
    owner: UserId,
) -> Result<(), Failure> {
    let id = meeting.id;
    let connection = ctx
        .db
        .read(move |c| google_connections::find(c, owner))
        .await?;
    let (calendar_id, service_account) = match connection {
        Some(connection) if connection.is_active() => (
            connection.calendar_id,
            connection.kind == ConnectionKind::ServiceAccount,
        ),
        Some(connection) => {
            return Err(Failure::Unusable(TokenError::Broken {
                reason: connection.broken_reason.unwrap_or_default(),
            }));
        }
        None => return Err(Failure::Unusable(TokenError::NotConnected)),
    };
    let mut session = Session {
        google,
        owner,
        calendar_id,
        correlation_id: &job.correlation_id,
        token: None,
        refreshed: false,
    };
    let event_id = meeting
        .google_event_id
        .clone()
        .unwrap_or_else(|| deterministic_event_id(id));
    let company_zone = ctx.clients.company_zone;
    // A shared calendar's limits, and whom Google has as guests there.
    let mut limits = Limits::default();
    let mut invited: Option<Vec<String>> = None;
    let (operation, meet_link) = match meeting.status {
        MeetingStatus::Scheduled => {
            let loaded = meeting.clone();
            let people = ctx.db.read(move |c| People::load(c, &loaded)).await?;
            let times = people.times(meeting, owner, company_zone);
            if meeting.google_event_id.is_none() {
                let event = people.event_for(meeting, owner, company_zone, &event_id);
                let wanted = attendee_emails(&event);
                let degrade = service_account.then(|| people.owner_language(owner));
                let inserted =
                    match insert_degrading(&mut session, event, degrade, &mut limits).await {
                        Ok(inserted) => inserted,
                        // Our own earlier insert, whose answer was lost.
                        Err(Failure::Calendar(CalendarError::Conflict)) => {
                            let existing = session.call(Call::Get(&event_id)).await?.event();
                            if existing.is_cancelled() {
                                google_changes::event_deleted(
                                    ctx,
                                    meeting.id,
                                    owner,
                                    &event_id,
                                    &job.correlation_id,
                                )
                                .await?;
                                return Ok(());
                            }
                            if service_account {
                                limits = Limits::seen(&existing, &wanted);
                            }
                            if existing.start != times.start || existing.end != times.end {
                                session.call(Call::Patch(&event_id, &times)).await?.event()
                            } else {
                                existing
                            }
                        }
                        Err(error) => return Err(error),
                    };
                invited = Some(attendee_emails(&inserted));
                ("inserted", inserted.hangout_link)
            } else {
                let patched = session
                    .call(Call::Patch(&event_id, &times))
                    .await
                    .map(Answer::event);
                match patched {
                    Ok(event) if !event.is_cancelled() => {
                        invited = Some(attendee_emails(&event));
                        (
                            "moved",
                            event.hangout_link.or_else(|| meeting.meet_link.clone()),
                        )
                    }
                    Ok(_)
                    | Err(Failure::Calendar(CalendarError::NotFound | CalendarError::Gone)) => {
                        google_changes::event_deleted(
                            ctx,
                            meeting.id,
                            owner,
                            &event_id,
                            &job.correlation_id,
                        )
                        .await?;
                        return Ok(());
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        MeetingStatus::Cancelled => {
            if service_account {
                // Whom Google invited (and so tells of the cancellation).
                invited = Some(match session.call(Call::Get(&event_id)).await {
                    Ok(answer) => attendee_emails(&answer.event()),
                    Err(Failure::Calendar(CalendarError::NotFound | CalendarError::Gone)) => {
                        Vec::new()
                    }
                    Err(error) => return Err(error),
                });
            }
            let deleted = match session.call(Call::Delete(&event_id)).await? {
                Answer::Deleted(deleted) => deleted,
                Answer::Event(_) => Deleted::Deleted,
            };
            let operation = match deleted {
                Deleted::Deleted => "deleted",
                Deleted::AlreadyGone => "already_gone",
            };
            (operation, None)
        }
        // Held or missed: nothing in the calendar changes.
        MeetingStatus::Completed | MeetingStatus::NoShow => ("unchanged", None),
    };
    let revision = meeting.revision;
    let correlation_id = job.correlation_id.clone();
    let now = ctx.clock.now();
    let stored = GoogleWrite {
        id,
        revision,
        owner,
        event_id,
        meet_link,
        operation,
        invited: invited.filter(|_| service_account),
        limits,
    };
    let written = ctx
        .db
        .write(move |c| stored.write(c, company_zone, &correlation_id, now))
        .await?;
    match written {
        Written::Gone | Written::UpToDate => {}
        Written::Superseded => {
            tracing::info!(meeting_id = %id, "meeting changed meanwhile; its newer revision syncs");
        }
        Written::Synced {
            revision, messages, ..
        } => {
            tracing::info!(meeting_id = %id, revision, operation, "Google Calendar synced");
            for message in messages {
                DeliverMessage::push_after_commit(&ctx.clients.queue, message, &job.correlation_id)
                    .await;
            }
        }
    }
    Ok(())
}

/// What the Google branch records after Google matched the meeting.
struct GoogleWrite {
    id: MeetingId,
    revision: i32,
    owner: UserId,
    event_id: String,
    meet_link: Option<String>,
    operation: &'static str,
    /// On a shared calendar (service account): the guests Google has on
    /// the event; everyone else gets this revision as `.ics`.
    invited: Option<Vec<String>>,
    /// What Google refused the service account on insert.
    limits: Limits,
}

impl GoogleWrite {
    /// In one transaction: where the event lives (whatever the revision),
    /// the revision synced (only if still current), the Meet link to the
    /// manager (once per meeting), an audit row.
    fn write(
        &self,
        conn: &mut DbConn,
        company_zone: Tz,
        correlation_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Written, DbError> {
        let Some(meeting) = meetings::find(conn, self.id)? else {
            return Ok(Written::Gone);
        };
        if meeting.synced_revision == Some(meeting.revision) {
            return Ok(Written::UpToDate);
        }
        if self.operation != "unchanged" {
            calendar_sync::record_event(
                conn,
                self.id,
                self.owner,
                &self.event_id,
                self.meet_link.as_deref(),
            )?;
        }
        if !calendar_sync::mark_synced(conn, self.id, self.revision)? {
            return Ok(Written::Superseded);
        }
        let mut messages =
            self.service_account_messages(conn, &meeting, company_zone, correlation_id, now)?;
        if let Some(link) = self.meet_link.as_deref()
            && meeting.status == MeetingStatus::Scheduled
        {
            let people = People::load(conn, &meeting)?;
            if let Some(manager) = people
                .manager
                .as_ref()
                .filter(|user| user.is_active() && user.unreachable_at.is_none())
            {
                let message = NewOutboxMessage {
                    chat_id: manager.telegram_id.0,
                    recipient: Some(manager.id),
                    kind: "calendar.meet_link",
                    lane: Lane::Interactive,
                    body: people
                        .meet_message(&meeting, manager, link, company_zone)
                        .to_json(),
                    broadcast: None,
                    dedupe_key: Some(format!("meet:{}", self.id.0)),
                    correlation_id: Some(correlation_id),
                };
                messages.extend(outbox::insert(conn, &message, now)?);
            }
        }
        audit::record(
            conn,
            &AuditEntry {
                actor: None,
                actor_telegram_id: None,
                action: SYNCED_ACTION,
                target_user: None,
                target: Some(format!("meeting:{}", self.id.0)),
                data: json!({
                    "revision": self.revision,
                    "via": "google",
                    "calendar_owner": self.owner.0,
                    "event_id": self.event_id,
                    "operation": self.operation,
                }),
                correlation_id: Some(correlation_id),
            },
            now,
        )?;
        Ok(Written::Synced {
            revision: self.revision,
            method: None,
            messages,
        })
    }
}

impl People {
    /// The calendar owner among the owners (else the first).
    fn owner(&self, owner: UserId) -> Option<&User> {
        self.owners
            .iter()
            .find(|user| user.id == owner)
            .or(self.owners.first())
    }

    /// The zone the event is shown in: the calendar owner's.
    fn owner_zone(&self, owner: UserId, company_zone: Tz) -> Tz {
        self.owner(owner).map_or(company_zone, |user| {
            stored_zone(&user.time_zone, company_zone)
        })
    }

    /// A patch with only the meeting's start and end.
    fn times(&self, meeting: &Meeting, owner: UserId, company_zone: Tz) -> Event {
        let zone = self.owner_zone(owner, company_zone);
        Event {
            start: Some(EventTime::at(meeting.starts_at, zone)),
            end: Some(EventTime::at(meeting.ends_at, zone)),
            ..Event::default()
        }
    }

    /// The event on `owner`'s calendar, in their language and zone, with
    /// the manager and the other owners as guests where their address is
    /// known.
    fn event_for(
        &self,
        meeting: &Meeting,
        owner: UserId,
        company_zone: Tz,
        event_id: &str,
    ) -> Event {
        let language = self
            .owner(owner)
            .map_or(shared::domain::user::Language::En, |user| user.language);
        let names = |users: &mut dyn Iterator<Item = &User>| {
            users.map(User::full_name).collect::<Vec<_>>().join(", ")
        };
        let with = names(&mut self.everyone().filter(|user| user.id != owner));
        let owners = names(&mut self.owners.iter());
        let manager = self
            .manager
            .as_ref()
            .map(User::full_name)
            .unwrap_or_default();
        let attendees = self
            .everyone()
            .filter(|user| user.id != owner)
            .filter_map(|user| user.email.clone())
            .map(|email| Attendee {
                email,
                response_status: None,
            })
            .collect();
        let mut event = Event {
            id: Some(event_id.to_owned()),
            summary: Some(t_plain(
                language,
                "calendar.ics.summary",
                &[("with", &with)],
            )),
            description: Some(t_plain(
                language,
                "calendar.ics.description",
                &[("manager", &manager), ("owners", &owners)],
            )),
            attendees,
            ..self.times(meeting, owner, company_zone)
        };
        event.mark_meeting(meeting.id);
        event
    }

    /// The manager's one message with the Meet link, in their language
    /// and zone.
    fn meet_message(
        &self,
        meeting: &Meeting,
        reader: &User,
        link: &str,
        company_zone: Tz,
    ) -> OutgoingMessage {
        let language = reader.language;
        let zone = stored_zone(&reader.time_zone, company_zone);
        let others = self.others_than(reader);
        let when = meeting_when(language, zone, meeting.starts_at, meeting.ends_at);
        let text = t(
            language,
            "calendar.meet_link",
            &[("when", &when), ("with", &others), ("link", link)],
        );
        let button = Button::link(t_plain(language, "calendar.button.join_meet", &[]), link);
        OutgoingMessage::with_buttons(text, vec![vec![button]])
    }
}

/// What Google refused a service account on an event it inserted, so the
/// event was made without it (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Limits {
    /// The guests Google would not let it invite.
    guests: Vec<String>,
    /// No Meet could be created.
    meet: bool,
}

impl Limits {
    fn is_empty(&self) -> bool {
        self.guests.is_empty() && !self.meet
    }

    /// What an event read back (its insert's answer was lost) shows was
    /// left out of it.
    fn seen(event: &Event, wanted: &[String]) -> Self {
        Self {
            guests: if event.attendees.is_empty() {
                wanted.to_vec()
            } else {
                Vec::new()
            },
            meet: event.hangout_link.is_none(),
        }
    }

    /// `base` with a note per limit, in `language` (plain text: the
    /// event's description).
    fn describe(&self, language: Language, base: &str) -> String {
        let mut text = base.to_owned();
        if !self.guests.is_empty() {
            text.push_str("\n\n");
            text.push_str(&t_plain(
                language,
                "calendar.degraded.note_guests",
                &[("guests", &self.guests.join(", "))],
            ));
        }
        if self.meet {
            text.push_str("\n\n");
            text.push_str(&t_plain(language, "calendar.degraded.note_meet", &[]));
        }
        text
    }
}

/// The guests' addresses on an event.
fn attendee_emails(event: &Event) -> Vec<String> {
    event
        .attendees
        .iter()
        .map(|attendee| attendee.email.clone())
        .collect()
}

/// Inserts `event`. For a service account (`degrade`: the owner's
/// language) a refusal of guests (403 `forbiddenForServiceAccounts`) or of
/// a Meet (400 `invalid`) is met by inserting again without them, noted in
/// the description; `limits` says what was left out.
async fn insert_degrading(
    session: &mut Session<'_>,
    mut event: Event,
    degrade: Option<Language>,
    limits: &mut Limits,
) -> Result<Event, Failure> {
    let base = event.description.clone().unwrap_or_default();
    loop {
        let call = if limits.meet {
            Call::InsertWithoutMeet(&event)
        } else {
            Call::Insert(&event)
        };
        let answer = session.call(call).await;
        let Some(language) = degrade else {
            return answer.map(Answer::event);
        };
        match answer {
            Err(Failure::Calendar(CalendarError::Forbidden(reason)))
                if reason == "forbiddenForServiceAccounts" && !event.attendees.is_empty() =>
            {
                limits.guests = attendee_emails(&event);
                event.attendees.clear();
                tracing::info!("Google refused guests to the service account; inserting without");
            }
            Err(Failure::Calendar(CalendarError::BadRequest(reason)))
                if reason == "invalid" && !limits.meet =>
            {
                limits.meet = true;
                tracing::info!("Google refused a Meet to the service account; inserting without");
            }
            answer => return answer.map(Answer::event),
        }
        event.description = Some(limits.describe(language, &base));
    }
}

impl GoogleWrite {
    /// On a shared calendar: the owner told once what Google refused the
    /// service account, and the participants Google did not invite given
    /// this revision as an `.ics` file (in the caller's transaction).
    fn service_account_messages(
        &self,
        conn: &mut DbConn,
        meeting: &Meeting,
        company_zone: Tz,
        correlation_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessageId>, DbError> {
        let Some(invited) = &self.invited else {
            return Ok(Vec::new());
        };
        if self.operation == "unchanged" {
            return Ok(Vec::new());
        }
        let people = People::load(conn, meeting)?;
        let mut queued = Vec::new();
        if self.operation == "inserted"
            && !self.limits.is_empty()
            && let Some(owner) = people
                .owner(self.owner)
                .filter(|user| user.id == self.owner)
                .filter(|user| user.is_active() && user.unreachable_at.is_none())
        {
            let message = NewOutboxMessage {
                chat_id: owner.telegram_id.0,
                recipient: Some(owner.id),
                kind: "calendar.degraded",
                lane: Lane::Interactive,
                body: people
                    .degraded_notice(meeting, owner, &self.limits, company_zone)
                    .to_json(),
                broadcast: None,
                dedupe_key: Some(format!("degraded:{}", self.id.0)),
                correlation_id: Some(correlation_id),
            };
            queued.extend(outbox::insert(conn, &message, now)?);
        }
        let method = if meeting.status == MeetingStatus::Cancelled {
            Method::Cancel
        } else {
            Method::Request
        };
        let is_invited = |user: &User| {
            user.email.as_deref().is_some_and(|email| {
                invited
                    .iter()
                    .any(|guest| guest.eq_ignore_ascii_case(email))
            })
        };
        for reader in people
            .recipients()
            .filter(|user| user.id != self.owner && !is_invited(user))
        {
            let message = NewOutboxMessage {
                chat_id: reader.telegram_id.0,
                recipient: Some(reader.id),
                kind: match method {
                    Method::Request => "calendar.invite",
                    Method::Cancel => "calendar.cancel",
                },
                lane: Lane::Interactive,
                body: people
                    .message_for(meeting, reader, method, company_zone, now)
                    .to_json(),
                broadcast: None,
                dedupe_key: Some(format!(
                    "ics:{}:{}:{}",
                    self.id.0, meeting.revision, reader.id.0
                )),
                correlation_id: Some(correlation_id),
            };
            queued.extend(outbox::insert(conn, &message, now)?);
        }
        Ok(queued)
    }
}

impl People {
    /// The calendar owner's language (the event's texts are in it).
    fn owner_language(&self, owner: UserId) -> Language {
        self.owner(owner).map_or(Language::En, |user| user.language)
    }

    /// The owner's one message about what Google refused the service
    /// account on the meeting's event, in their language and zone.
    fn degraded_notice(
        &self,
        meeting: &Meeting,
        reader: &User,
        limits: &Limits,
        company_zone: Tz,
    ) -> OutgoingMessage {
        let language = reader.language;
        let zone = stored_zone(&reader.time_zone, company_zone);
        let others = self.others_than(reader);
        let when = meeting_when(language, zone, meeting.starts_at, meeting.ends_at);
        let mut refused = Vec::new();
        if !limits.guests.is_empty() {
            refused.push(t_plain(language, "calendar.degraded.guests", &[]));
        }
        if limits.meet {
            refused.push(t_plain(language, "calendar.degraded.meet", &[]));
        }
        let refused = refused.join(&t_plain(language, "calendar.degraded.and", &[]));
        OutgoingMessage::text(t(
            language,
            "calendar.degraded.notice",
            &[("when", &when), ("with", &others), ("limits", &refused)],
        ))
    }
}

#[cfg(test)]
mod tests {
    use shared::domain::user::Language;
    use shared::google::calendar::{Attendee, Event};

    use super::Limits;

    #[test]
    fn limits_are_noted_in_the_description() {
        let none = Limits::default();
        assert!(none.is_empty());
        assert_eq!(none.describe(Language::En, "Base"), "Base");
        let both = Limits {
            guests: vec!["max@example.com".to_owned(), "eve@example.com".to_owned()],
            meet: true,
        };
        let text = both.describe(Language::En, "Base");
        assert!(text.starts_with("Base\n\n"), "{text}");
        assert!(text.contains("max@example.com, eve@example.com"), "{text}");
        assert!(text.contains("Google Meet"), "{text}");
        assert!(!text.contains('<'), "plain text: {text}");
    }

    #[test]
    fn an_event_read_back_shows_what_was_left_out() {
        let wanted = vec!["max@example.com".to_owned()];
        let bare = Event::default();
        assert_eq!(
            Limits::seen(&bare, &wanted),
            Limits {
                guests: wanted.clone(),
                meet: true
            }
        );
        let full = Event {
            attendees: vec![Attendee {
                email: "max@example.com".to_owned(),
                response_status: None,
            }],
            hangout_link: Some("https://meet.google.com/abc".to_owned()),
            ..Event::default()
        };
        assert!(Limits::seen(&full, &wanted).is_empty());
    }
}
