//! `POST /google/notify`: Google's push notifications about a connected
//! calendar (`events.watch` channels the worker opens when `PUBLIC_URL` is
//! HTTPS).
//!
//! A notification carries no data, only "something changed": the channel
//! is checked — its secret (`X-Goog-Channel-Token`, derived from the token
//! key and the channel id, see `shared::jobs::ChannelSecrets`) first, in
//! constant time, then the channel id against an active connection — and
//! a `sync-busy` job is queued for that user; the answer is 200 at once.
//! A forged or unknown channel gets 404 and changes nothing; the log line
//! names neither the token nor the channel.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use shared::clock::Clock;
use shared::db::{Db, google_connections};
use shared::jobs::{ChannelSecrets, NOTIFY_PATH, Queue, SyncBusy};

/// What the endpoint needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct GooglePush {
    pub db: Db,
    pub queue: Queue,
    pub clock: Clock,
    /// `None` when Google is not configured: every notification is refused.
    pub secrets: Option<ChannelSecrets>,
}

/// The channel secrets of this deployment, when it has a token key.
pub fn secrets(config: &shared::config::Config) -> Option<ChannelSecrets> {
    config
        .google
        .token_encryption_key
        .as_ref()
        .map(ChannelSecrets::new)
}

/// The push route.
pub fn router(state: GooglePush) -> Router {
    Router::new()
        .route(NOTIFY_PATH, post(notify))
        .with_state(state)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
}

async fn notify(State(push): State<GooglePush>, headers: HeaderMap) -> StatusCode {
    let Some(secrets) = &push.secrets else {
        return StatusCode::NOT_FOUND;
    };
    let (Some(channel), Some(token)) = (
        header(&headers, "X-Goog-Channel-ID"),
        header(&headers, "X-Goog-Channel-Token"),
    ) else {
        tracing::warn!("push notification without channel id or token refused");
        return StatusCode::NOT_FOUND;
    };
    if !secrets.matches(channel, token) {
        tracing::warn!("push notification with a wrong channel token refused");
        return StatusCode::NOT_FOUND;
    }
    let channel_id = channel.to_owned();
    let connection = match push
        .db
        .read(move |c| google_connections::find_by_channel(c, &channel_id))
        .await
    {
        Ok(connection) => connection.filter(|c| c.is_active()),
        Err(error) => {
            // Google repeats notifications answered with 5xx.
            tracing::warn!(%error, "cannot check a push notification");
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    };
    let Some(connection) = connection else {
        tracing::info!("push notification for a channel no connection holds; refused");
        return StatusCode::NOT_FOUND;
    };
    let user = connection.user_id;
    // "sync" only says the channel works; the sweep read the calendar.
    if header(&headers, "X-Goog-Resource-State") == Some("sync") {
        tracing::info!(%user, "push channel confirmed by Google");
        return StatusCode::OK;
    }
    let message = header(&headers, "X-Goog-Message-Number")
        .and_then(|number| number.parse::<u64>().ok())
        .map_or_else(
            || format!("at-{}", push.clock.now().timestamp_millis()),
            |number| number.to_string(),
        );
    let occasion = format!("push:{channel}:{message}");
    let correlation_id = format!("google-push:{}:{message}", user.0);
    match SyncBusy::push(&push.queue, user, &occasion, &correlation_id).await {
        Ok(_) => {
            tracing::info!(%user, "push notification: busy sync queued");
            StatusCode::OK
        }
        Err(error) => {
            tracing::warn!(%error, %user, "cannot queue the busy sync of a push notification");
            StatusCode::SERVICE_UNAVAILABLE
        }
    }
}
