//! The control API under `/control/...` (JSON) for the runnable binary,
//! scripts and demos: the same helpers as [`FakeGoogle`](super::FakeGoogle)
//! offers in process. Never under Google's own paths.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::faults::{Chaos, ChaosState, Fault};
use super::oauth::{self, Ctx};
use super::state::{Consent, OAuthClient, ServiceAccount, Shared, State};
use super::wire::{ApiError, Reply};
use super::{TEST_SERVICE_ACCOUNT_PRIVATE_KEY, TEST_SERVICE_ACCOUNT_PUBLIC_KEY, calendar, server};

type AppState = AxumState<Arc<Shared>>;

/// The control routes (state attached by the caller).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/control/accounts", post(add_account))
        .route("/control/clients", post(add_client))
        .route("/control/service-accounts", post(add_service_account))
        .route("/control/consent", post(queue_consent))
        .route("/control/consent/auto", put(auto_consent))
        .route("/control/consents", get(pending_consents))
        .route("/control/consents/{id}", post(decide_consent))
        .route("/control/revoke", post(revoke))
        .route("/control/expire-tokens", post(expire_tokens))
        .route("/control/calendars/{id}/share", post(share))
        .route(
            "/control/calendars/{id}/events",
            get(events).post(insert_event),
        )
        .route(
            "/control/calendars/{id}/events/{event}",
            axum::routing::patch(patch_event).delete(delete_event),
        )
        .route(
            "/control/calendars/{id}/events/{event}/move",
            post(move_event),
        )
        .route(
            "/control/calendars/{id}/invalidate-sync-tokens",
            post(invalidate_sync_tokens),
        )
        .route("/control/faults", post(add_fault).delete(clear_faults))
        .route("/control/chaos", post(set_chaos).delete(clear_chaos))
        .route("/control/stats", get(stats))
        .route("/control/requests", get(requests))
        .route("/control/channels", get(channels))
        .route("/control/notifications", get(notifications))
}

/// A refused control request: 400 with `{"error": ...}`, or Google's own
/// answer for event changes.
enum ControlError {
    Bad(String),
    Google(ApiError),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        match self {
            Self::Bad(message) => {
                (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
            }
            Self::Google(error) => error.into_response(),
        }
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlError> {
    serde_json::from_slice(body)
        .map_err(|error| ControlError::Bad(format!("bad JSON body: {error}")))
}

fn ok() -> Json<Value> {
    Json(json!({ "ok": true }))
}

/// Runs `action` with a handler context and delivers pushes it queued.
fn with_ctx<T>(shared: &Arc<Shared>, action: impl FnOnce(&mut State, &Ctx<'_>) -> T) -> T {
    let base_url = shared.base_url();
    let ctx = Ctx {
        now: shared.now(),
        config: &shared.config,
        base_url: &base_url,
    };
    let result = shared.update(|state| action(state, &ctx));
    server::deliver_pushes(shared);
    result
}

fn reply(result: Result<Reply, ApiError>) -> Result<Json<Value>, ControlError> {
    match result {
        Ok(Reply::Json(body)) => Ok(Json(body)),
        Ok(Reply::Redirect(location)) => Ok(Json(json!({ "location": location }))),
        Ok(_) => Ok(ok()),
        Err(error) => Err(ControlError::Google(error)),
    }
}

#[derive(Deserialize)]
struct AccountBody {
    email: String,
    name: Option<String>,
    time_zone: Option<String>,
}

async fn add_account(
    AxumState(shared): AppState,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: AccountBody = parse(&body)?;
    let name = body.name.unwrap_or_else(|| body.email.clone());
    let zone = body.time_zone.unwrap_or_else(|| "UTC".to_owned());
    let account = shared.update(|state| state.add_account(&body.email, &name, &zone));
    Ok(Json(json!(account)))
}

async fn add_client(AxumState(shared): AppState, body: Bytes) -> Result<Json<Value>, ControlError> {
    let client: OAuthClient = parse(&body)?;
    shared.update(|state| state.clients.insert(client.client_id.clone(), client));
    Ok(ok())
}

#[derive(Deserialize)]
struct ServiceAccountBody {
    email: String,
    #[serde(default)]
    delegation: bool,
    public_key_pem: Option<String>,
    key_id: Option<String>,
}

async fn add_service_account(
    AxumState(shared): AppState,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: ServiceAccountBody = parse(&body)?;
    let key_id = body.key_id.unwrap_or_else(|| "fake-key-1".to_owned());
    let own_key = body.public_key_pem.is_some();
    let public_key_pem = body
        .public_key_pem
        .unwrap_or_else(|| TEST_SERVICE_ACCOUNT_PUBLIC_KEY.to_owned());
    shared.update(|state| {
        state.add_account(&body.email, &body.email, "UTC");
        state.service_accounts.insert(
            body.email.clone(),
            ServiceAccount {
                email: body.email.clone(),
                key_id: key_id.clone(),
                public_key_pem,
                delegation: body.delegation,
            },
        );
    });
    let key = super::ServiceAccountKey {
        client_email: body.email,
        private_key_id: key_id,
        private_key_pem: if own_key {
            String::new()
        } else {
            TEST_SERVICE_ACCOUNT_PRIVATE_KEY.to_owned()
        },
        token_uri: format!("{}/token", shared.base_url()),
    };
    Ok(Json(key.to_json()))
}

async fn queue_consent(
    AxumState(shared): AppState,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let consent: Consent = parse(&body)?;
    shared.update(|state| state.consent_queue.push_back(consent));
    Ok(ok())
}

async fn auto_consent(
    AxumState(shared): AppState,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let consent: Option<Consent> = parse(&body)?;
    shared.update(|state| state.auto_consent = consent);
    Ok(ok())
}

async fn pending_consents(AxumState(shared): AppState) -> Json<Value> {
    let pending: Vec<_> = shared.lock().pending_consents.values().cloned().collect();
    Json(json!(pending))
}

async fn decide_consent(
    AxumState(shared): AppState,
    Path(id): Path<u64>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let consent: Consent = parse(&body)?;
    reply(with_ctx(&shared, |state, ctx| {
        oauth::decide_pending(state, ctx, id, &consent)
    }))
}

#[derive(Deserialize)]
struct RevokeBody {
    token: Option<String>,
    email: Option<String>,
}

async fn revoke(AxumState(shared): AppState, body: Bytes) -> Result<Json<Value>, ControlError> {
    let body: RevokeBody = parse(&body)?;
    let revoked = shared.update(|state| {
        let grants: Vec<u64> = match (&body.token, &body.email) {
            (Some(token), _) => state
                .refresh_tokens
                .get(token)
                .copied()
                .or_else(|| state.access_tokens.get(token).map(|access| access.grant))
                .into_iter()
                .collect(),
            (None, Some(email)) => state
                .grants
                .iter()
                .filter(|(_, grant)| &grant.principal == email && !grant.revoked)
                .map(|(id, _)| *id)
                .collect(),
            (None, None) => Vec::new(),
        };
        for grant in &grants {
            state.revoke_grant(*grant);
        }
        grants.len()
    });
    Ok(Json(json!({ "revoked": revoked })))
}

async fn expire_tokens(AxumState(shared): AppState) -> Json<Value> {
    let now = shared.now();
    shared.update(|state| {
        for token in state.access_tokens.values_mut() {
            token.expires_at = now;
        }
    });
    ok()
}

#[derive(Deserialize)]
struct ShareBody {
    email: String,
}

async fn share(
    AxumState(shared): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: ShareBody = parse(&body)?;
    let found = shared.update(|state| {
        state
            .calendars
            .get_mut(&id)
            .map(|calendar| calendar.writers.insert(body.email))
            .is_some()
    });
    if found {
        Ok(ok())
    } else {
        Err(ControlError::Google(ApiError::not_found()))
    }
}

async fn events(AxumState(shared): AppState, Path(id): Path<String>) -> Json<Value> {
    let events: Vec<Value> = shared
        .lock()
        .calendars
        .get(&id)
        .map(|calendar| {
            calendar
                .events
                .values()
                .map(|event| event.resource.clone())
                .collect()
        })
        .unwrap_or_default();
    Json(Value::Array(events))
}

async fn insert_event(
    AxumState(shared): AppState,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let event: Value = parse(&body)?;
    reply(with_ctx(&shared, |state, ctx| {
        calendar::as_owner(state, ctx, &id, None, "calendar.events.insert", Some(event))
    }))
}

async fn patch_event(
    AxumState(shared): AppState,
    Path((id, event)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let patch: Value = parse(&body)?;
    reply(with_ctx(&shared, |state, ctx| {
        calendar::as_owner(
            state,
            ctx,
            &id,
            Some(&event),
            "calendar.events.patch",
            Some(patch),
        )
    }))
}

#[derive(Deserialize)]
struct MoveBody {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

async fn move_event(
    AxumState(shared): AppState,
    Path((id, event)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: MoveBody = parse(&body)?;
    let time = |at: DateTime<Utc>| json!({ "dateTime": calendar::stamp(at) });
    let patch = json!({ "start": time(body.start), "end": time(body.end) });
    reply(with_ctx(&shared, |state, ctx| {
        calendar::as_owner(
            state,
            ctx,
            &id,
            Some(&event),
            "calendar.events.patch",
            Some(patch),
        )
    }))
}

async fn delete_event(
    AxumState(shared): AppState,
    Path((id, event)): Path<(String, String)>,
) -> Result<Json<Value>, ControlError> {
    reply(with_ctx(&shared, |state, ctx| {
        calendar::as_owner(
            state,
            ctx,
            &id,
            Some(&event),
            "calendar.events.delete",
            None,
        )
    }))
}

async fn invalidate_sync_tokens(
    AxumState(shared): AppState,
    Path(id): Path<String>,
) -> Json<Value> {
    shared.update(|state| {
        if let Some(calendar) = state.calendars.get_mut(&id) {
            calendar.seq += 1;
            calendar.min_sync = calendar.seq;
        }
    });
    ok()
}

async fn add_fault(AxumState(shared): AppState, body: Bytes) -> Result<Json<Value>, ControlError> {
    let fault: Fault = parse(&body)?;
    shared.update(|state| state.faults.push(fault));
    Ok(ok())
}

async fn clear_faults(AxumState(shared): AppState) -> Json<Value> {
    shared.update(|state| state.faults.clear());
    ok()
}

async fn set_chaos(AxumState(shared): AppState, body: Bytes) -> Result<Json<Value>, ControlError> {
    let chaos: Chaos = parse(&body)?;
    shared.update(|state| state.chaos = Some(ChaosState::new(chaos)));
    Ok(ok())
}

async fn clear_chaos(AxumState(shared): AppState) -> Json<Value> {
    shared.update(|state| state.chaos = None);
    ok()
}

async fn stats(AxumState(shared): AppState) -> Json<Value> {
    Json(json!(shared.lock().stats))
}

async fn requests(AxumState(shared): AppState) -> Json<Value> {
    Json(json!(shared.lock().requests))
}

async fn channels(AxumState(shared): AppState) -> Json<Value> {
    let channels: Vec<_> = shared.lock().channels.values().cloned().collect();
    Json(json!(channels))
}

async fn notifications(AxumState(shared): AppState) -> Json<Value> {
    Json(json!(shared.lock().notifications))
}
