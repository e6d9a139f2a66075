//! Busy times from Google Calendar, and the owner's changes to the bot's
//! own events there.
//!
//! **The `sync-busy` job** reads one connected user's calendar: a full
//! listing (`timeMin` = now, `timeMax` = now + booking horizon + a day,
//! every page) when no sync token is stored or the last sync was on an
//! earlier UTC day (so events that existed beyond the horizon enter it as
//! days pass), else the changes since the stored token (Google allows no
//! time range with a token: the horizon is applied here). A stale token
//! (410) is dropped and the listing starts over in full. Both listings use
//! `singleEvents=true`, so each occurrence of a recurring meeting counts.
//!
//! Events marked free (transparent), cancelled ones and the bot's own
//! events never count as busy (the bot's meetings block time through their
//! slot claims already). The intervals are written in ONE transaction with
//! the new sync token and `busy_synced_at`, conditional on the token the
//! listing started from: a sync that lost a race with another one for the
//! same user writes nothing and starts again from the winner's token.
//!
//! The bot's own events are then compared with their meetings: a moved
//! one moves the meeting, a deleted one cancels it
//! (`crate::google_changes`).
//!
//! Transient Google errors are retried in place by the call retry policy
//! and then by the queue with backoff; a dead grant marks the connection
//! broken (`TokenSource` does it) and the job ends quietly.
//!
//! **The sweep** ([`Sweep`]) runs on its own tick: it queues `sync-busy`
//! for every active connection not synced for `GOOGLE_BUSY_SYNC_INTERVAL`
//! (the job's key names the interval period and the last sync, so any
//! number of workers queue one job), and when `PUBLIC_URL` is HTTPS it
//! opens a push channel (`events.watch`) per connection, renews it a day
//! before it ends and stops the old one. Each channel's secret is derived
//! from the token key and its id ([`ChannelSecrets`]): nothing about it is
//! stored. A disconnected calendar's channel is left to expire: its
//! notifications no longer name a connection and are refused.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use shared::clock::Clock;
use shared::db::busy_intervals::{self, BusyChange};
use shared::db::google_connections::{self, Watch};
use shared::db::meetings;
use shared::db::types::{MeetingId, UserId};
use shared::db::{Db, DbError, booking_settings, users};
use shared::domain::profile::stored_zone;
use shared::google::SecretString;
use shared::google::calendar::{
    CalendarError, Event, EventTime, ListQuery, Transparency, WatchRequest, retry,
};
use shared::google::tokens::TokenError;
use shared::jobs::{ChannelSecrets, JobContext, JobError, Pushed, Queue, SyncBusy};
use tokio::sync::watch;

use crate::google_changes;
use crate::jobs::{Clients, GoogleSync};

/// Listings beyond the booking horizon by this much, so the day the
/// horizon moves into is known before the next day's full listing.
const HORIZON_MARGIN: TimeDelta = TimeDelta::days(1);
/// A sync that lost a race to another one starts again at most this often.
const RACE_RETRIES: u32 = 3;
/// Connections queued per sweep at most.
const SWEEP_BATCH: i64 = 500;
/// How long a push channel is asked to live (Google may end it sooner).
const CHANNEL_LIFETIME: TimeDelta = TimeDelta::days(7);
/// A channel is renewed when it ends within this.
const RENEW_AHEAD: TimeDelta = TimeDelta::days(1);

/// Why one sync attempt failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Calls Google with the user's access token, retrying transient errors
/// by the policy, and once more with a refreshed token after a 401.
async fn with_token<T, F, Fut>(
    google: &GoogleSync,
    user: UserId,
    correlation_id: &str,
    call: F,
) -> Result<T, Failure>
where
    F: Fn(SecretString) -> Fut,
    Fut: Future<Output = Result<T, CalendarError>>,
{
    let token = google.tokens.access_token(user, correlation_id).await?;
    match retry(google.retry, || call(token.clone())).await {
        Err(CalendarError::Unauthorized) => {
            let token = google
                .tokens
                .refreshed_access_token(user, correlation_id)
                .await?;
            Ok(retry(google.retry, || call(token.clone())).await?)
        }
        answer => Ok(answer?),
    }
}

/// Handles `sync-busy` (see the module docs).
pub async fn sync_busy(job: SyncBusy, ctx: JobContext<Clients>) -> Result<(), JobError> {
    let Some(google) = ctx.clients.google.as_ref() else {
        return Ok(());
    };
    let user = UserId(job.user_id);
    for _ in 0..RACE_RETRIES {
        match sync_once(&ctx, google, user, &job.correlation_id).await {
            Ok(true) => return Ok(()),
            Ok(false) => tracing::debug!(%user, "another busy sync won; reading again"),
            Err(Failure::Token(
                TokenError::NotConnected
                | TokenError::NotOAuth
                | TokenError::Broken { .. }
                | TokenError::NowBroken { .. },
            )) => return Ok(()),
            Err(Failure::Token(error)) if error.is_retryable() => {
                return Err(JobError::retryable(error));
            }
            Err(Failure::Calendar(error)) if error.is_retryable() => {
                return Err(JobError::retryable(error));
            }
            Err(Failure::Db(error)) => return Err(error.into()),
            Err(error) => {
                tracing::warn!(%user, %error, "busy sync failed for good");
                return Err(JobError::permanent(error));
            }
        }
    }
    Ok(())
}

/// The bot's own event as the listing showed it.
#[derive(Debug)]
enum OwnChange {
    Moved {
        meeting: MeetingId,
        event_id: String,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    Deleted {
        event_id: String,
    },
}

/// One listing and its write; `false` when another sync got there first.
async fn sync_once(
    ctx: &JobContext<Clients>,
    google: &GoogleSync,
    user: UserId,
    correlation_id: &str,
) -> Result<bool, Failure> {
    let company_zone = ctx.clients.company_zone;
    let loaded = ctx
        .db
        .read(move |c| {
            let connection = google_connections::find(c, user)?;
            let zone = users::find(c, user)?.map(|u| stored_zone(&u.time_zone, company_zone));
            let horizon = booking_settings::get(c)?.horizon_days;
            Ok((connection, zone, horizon))
        })
        .await?;
    let (Some(connection), Some(zone), horizon_days) = loaded else {
        return Ok(true);
    };
    if !connection.is_active() {
        return Ok(true);
    }
    let now = ctx.clock.now();
    let window = (
        now,
        now + TimeDelta::days(i64::from(horizon_days)) + HORIZON_MARGIN,
    );
    let calendar_id = connection.calendar_id.clone();
    let same_day = connection
        .busy_synced_at
        .is_some_and(|at| at.date_naive() == now.date_naive());
    let mut read_token = connection.sync_token.clone().filter(|_| same_day);
    // The token the stored state corresponds to: the write is conditional
    // on it (a full listing replaces whatever is stored).
    let mut expected_token = connection.sync_token.clone();
    let listing = loop {
        let query = match &read_token {
            Some(token) => ListQuery::Incremental {
                sync_token: token.clone(),
            },
            None => ListQuery::Full {
                time_min: window.0,
                time_max: window.1,
            },
        };
        let calendar = &google.calendar;
        let id = calendar_id.as_str();
        let answer = with_token(google, user, correlation_id, |token| {
            let query = query.clone();
            async move { calendar.list_all_events(&token, id, &query, None).await }
        })
        .await;
        match (answer, &read_token) {
            (Err(Failure::Calendar(CalendarError::Gone)), Some(stale)) => {
                tracing::info!(%user, "stale sync token; reading the calendar in full");
                let stale = stale.clone();
                ctx.db
                    .write(move |c| google_connections::drop_sync_token(c, user, &stale))
                    .await?;
                read_token = None;
                expected_token = None;
            }
            (answer, _) => break answer?,
        }
    };
    let full = read_token.is_none();
    let mut changes = Vec::new();
    let mut own = Vec::new();
    for event in &listing.items {
        let Some(event_id) = event.id.clone() else {
            continue;
        };
        if let Some(meeting) = event.meeting_id() {
            if !event.is_cancelled()
                && let Some((starts_at, ends_at)) = span(event, zone)
            {
                own.push(OwnChange::Moved {
                    meeting,
                    event_id: event_id.clone(),
                    starts_at,
                    ends_at,
                });
            }
            changes.push(BusyChange::Free { event_id });
            continue;
        }
        if event.is_cancelled() {
            // Tombstones carry no properties: the bot's own events are
            // recognised by their stored id below.
            own.push(OwnChange::Deleted {
                event_id: event_id.clone(),
            });
            changes.push(BusyChange::Free { event_id });
            continue;
        }
        let busy = event.transparency != Some(Transparency::Transparent);
        match span(event, zone) {
            Some((starts_at, ends_at)) if busy && ends_at > window.0 && starts_at < window.1 => {
                changes.push(BusyChange::Busy {
                    event_id,
                    starts_at,
                    ends_at,
                });
            }
            _ => changes.push(BusyChange::Free { event_id }),
        }
    }
    let new_token = listing.next_sync_token.clone();
    let written_calendar = calendar_id.clone();
    let count = changes.len();
    let written = ctx
        .db
        .write(move |c| {
            if !google_connections::finish_busy_sync(
                c,
                user,
                &written_calendar,
                expected_token.as_deref(),
                new_token.as_deref(),
                now,
            )? {
                return Ok(false);
            }
            if full {
                let busy: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = changes
                    .into_iter()
                    .filter_map(|change| match change {
                        BusyChange::Busy {
                            event_id,
                            starts_at,
                            ends_at,
                        } => Some((event_id, starts_at, ends_at)),
                        BusyChange::Free { .. } => None,
                    })
                    .collect();
                busy_intervals::replace_all(c, user, &busy)?;
            } else {
                busy_intervals::apply(c, user, &changes)?;
                busy_intervals::prune_ended(c, user, now)?;
            }
            Ok(true)
        })
        .await?;
    if !written {
        return Ok(false);
    }
    tracing::info!(%user, full, events = count, "busy times synced");
    follow_own_events(ctx, user, own, correlation_id).await?;
    Ok(true)
}

/// Applies what the owner did to the bot's own events.
async fn follow_own_events(
    ctx: &JobContext<Clients>,
    owner: UserId,
    own: Vec<OwnChange>,
    correlation_id: &str,
) -> Result<(), DbError> {
    let deleted: Vec<String> = own
        .iter()
        .filter_map(|change| match change {
            OwnChange::Deleted { event_id } => Some(event_id.clone()),
            OwnChange::Moved { .. } => None,
        })
        .collect();
    let gone = if deleted.is_empty() {
        Vec::new()
    } else {
        ctx.db
            .read(move |c| meetings::scheduled_with_events(c, owner, &deleted))
            .await?
    };
    for (meeting, event_id) in gone {
        google_changes::event_deleted(ctx, meeting, owner, &event_id, correlation_id).await?;
    }
    for change in own {
        if let OwnChange::Moved {
            meeting,
            event_id,
            starts_at,
            ends_at,
        } = change
        {
            google_changes::event_moved(
                ctx,
                meeting,
                owner,
                &event_id,
                starts_at,
                ends_at,
                correlation_id,
            )
            .await?;
        }
    }
    Ok(())
}

/// An event's `[start, end)`: timed events as given, all-day events from
/// midnight to midnight in `zone` (the user's). `None` when unreadable.
fn span(event: &Event, zone: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = instant(event.start.as_ref()?, zone)?;
    let end = instant(event.end.as_ref()?, zone)?;
    (end > start).then_some((start, end))
}

fn instant(time: &EventTime, zone: Tz) -> Option<DateTime<Utc>> {
    if let Some(at) = time.date_time {
        return Some(at);
    }
    let day: NaiveDate = time.date?;
    zone.from_local_datetime(&day.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

/// Push channels: where Google posts and how their secrets are made.
#[derive(Debug, Clone)]
pub struct PushChannels {
    /// `{PUBLIC_URL}/google/notify`.
    pub address: String,
    pub secrets: ChannelSecrets,
}

/// The busy-sync sweep (see the module docs).
#[derive(Debug)]
pub struct Sweep {
    pub db: Db,
    pub queue: Queue,
    pub clock: Clock,
    pub google: GoogleSync,
    /// How often the sweep looks (the worker's periodic tick).
    pub tick: Duration,
    /// `GOOGLE_BUSY_SYNC_INTERVAL`.
    pub interval: Duration,
    /// Set when `PUBLIC_URL` is HTTPS.
    pub push: Option<PushChannels>,
}

impl Sweep {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.tick.min(self.interval));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Connections whose channel could not be opened: not before then.
        let mut backoff: HashMap<UserId, DateTime<Utc>> = HashMap::new();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                _ = ticks.tick() => {
                    if let Err(error) = self.queue_due().await {
                        tracing::warn!(%error, "busy sync sweep failed");
                    }
                    if let Some(push) = &self.push
                        && let Err(error) = self.renew_watches(push, &mut backoff).await
                    {
                        tracing::warn!(%error, "push channel renewal failed");
                    }
                }
            }
        }
    }

    fn interval(&self) -> TimeDelta {
        TimeDelta::from_std(self.interval).unwrap_or(TimeDelta::minutes(5))
    }

    /// Queues `sync-busy` for every connection not synced for an interval.
    async fn queue_due(&self) -> Result<(), DbError> {
        let now = self.clock.now();
        let interval = self.interval();
        let due = self
            .db
            .read(move |c| google_connections::due_for_busy_sync(c, now - interval, SWEEP_BATCH))
            .await?;
        let period = now.timestamp() / interval.num_seconds().max(1);
        let mut queued = 0;
        for (user, synced_at) in due {
            let last = synced_at.map_or(0, |at| at.timestamp_millis());
            let occasion = format!("sweep:{period}:{last}");
            let correlation_id = format!("busy-sync:{}:{period}", user.0);
            match SyncBusy::push(&self.queue, user, &occasion, &correlation_id).await {
                Ok(Pushed::Queued) => queued += 1,
                Ok(Pushed::AlreadyQueued) => {}
                Err(error) => tracing::warn!(%error, %user, "cannot queue a busy sync"),
            }
        }
        if queued > 0 {
            tracing::debug!(queued, "busy syncs queued");
        }
        Ok(())
    }

    /// Opens a channel for connections without one, renews those ending
    /// soon, and stops the channels they replace.
    async fn renew_watches(
        &self,
        push: &PushChannels,
        backoff: &mut HashMap<UserId, DateTime<Utc>>,
    ) -> Result<(), DbError> {
        let now = self.clock.now();
        backoff.retain(|_, until| *until > now);
        let due = self
            .db
            .read(move |c| google_connections::watches_due(c, now + RENEW_AHEAD, SWEEP_BATCH))
            .await?;
        for connection in due {
            let user = connection.user_id;
            if backoff.contains_key(&user) {
                continue;
            }
            let correlation_id = format!("busy-watch:{}:{}", user.0, now.timestamp());
            if let Err(error) = self.renew(push, &connection, now, &correlation_id).await {
                tracing::warn!(%user, %error, "cannot open a push channel; trying again later");
                backoff.insert(user, now + self.interval());
            }
        }
        Ok(())
    }

    async fn renew(
        &self,
        push: &PushChannels,
        connection: &google_connections::GoogleConnection,
        now: DateTime<Utc>,
        correlation_id: &str,
    ) -> Result<(), Failure> {
        let user = connection.user_id;
        let channel_id = uuid::Uuid::new_v4().simple().to_string();
        let request = WatchRequest {
            id: channel_id.clone(),
            address: push.address.clone(),
            token: Some(push.secrets.token(&channel_id)),
            expiration: Some(now + CHANNEL_LIFETIME),
        };
        let calendar = &self.google.calendar;
        let calendar_id = connection.calendar_id.as_str();
        let channel = with_token(&self.google, user, correlation_id, |token| {
            let request = request.clone();
            async move { calendar.watch_events(&token, calendar_id, &request).await }
        })
        .await?;
        let previous = connection.watch_channel_id.clone();
        let stored_channel = channel.clone();
        let expires_at = channel.expiration.unwrap_or(now + CHANNEL_LIFETIME);
        let stored = self
            .db
            .write(move |c| {
                google_connections::replace_watch(
                    c,
                    user,
                    previous.as_deref(),
                    &Watch {
                        channel_id: &stored_channel.id,
                        resource_id: &stored_channel.resource_id,
                        expires_at,
                    },
                    now,
                )
            })
            .await?;
        let to_stop = if stored {
            tracing::info!(%user, %expires_at, "push channel opened");
            connection
                .watch_channel_id
                .clone()
                .zip(connection.watch_resource_id.clone())
        } else {
            // Another worker renewed it meanwhile: ours is surplus.
            Some((channel.id, channel.resource_id))
        };
        if let Some((id, resource)) = to_stop {
            let stopped = with_token(&self.google, user, correlation_id, |token| {
                let (id, resource) = (id.clone(), resource.clone());
                async move { calendar.stop_channel(&token, &id, &resource).await }
            })
            .await;
            if let Err(error) = stopped {
                // It ends by itself; its notifications are refused.
                tracing::info!(%user, %error, "an old push channel could not be stopped");
            }
        }
        Ok(())
    }
}

/// The sweep of this deployment: it ticks with the periodic work, and
/// opens push channels when `PUBLIC_URL` is HTTPS.
pub fn sweep(
    config: &shared::config::Config,
    db: &Db,
    queue: &Queue,
    clock: &Clock,
    google: GoogleSync,
) -> Sweep {
    let push = match (&config.http.public_url, &config.google.token_encryption_key) {
        (Some(base), Some(key)) if config.http.push_notifications_enabled() => {
            let address = format!(
                "{}{}",
                base.as_str().trim_end_matches('/'),
                shared::jobs::NOTIFY_PATH
            );
            tracing::info!(%address, "Google push notifications enabled");
            Some(PushChannels {
                address,
                secrets: ChannelSecrets::new(key),
            })
        }
        _ => None,
    };
    Sweep {
        db: db.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        google,
        tick: config.periodic_tick,
        interval: config.google.busy_sync_interval,
        push,
    }
}
