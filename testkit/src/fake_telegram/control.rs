//! The control API under `/control/...` (JSON), for the runnable binary,
//! scripts and demos: play users, hold the bot, inject faults, read
//! transcripts and statistics. Never under `/bot<token>/...`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::faults::{Chaos, ChaosState, Fault};
use super::state::{Shared, UserStatus};

type AppState = AxumState<Arc<Shared>>;

/// The control routes (state attached by the caller).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/control/users/{id}/text", post(user_text))
        .route("/control/users/{id}/press", post(user_press))
        .route("/control/users/{id}/block", post(block))
        .route("/control/users/{id}/unblock", post(unblock))
        .route("/control/users/{id}/deactivate", post(deactivate))
        .route("/control/chats/{id}/transcript", get(transcript))
        .route("/control/chats/{id}/messages", get(messages))
        .route("/control/hold", post(hold))
        .route("/control/release", post(release))
        .route("/control/faults", post(add_fault).delete(clear_faults))
        .route("/control/chaos", post(set_chaos).delete(clear_chaos))
        .route("/control/stats", get(stats))
        .route("/control/commands", get(commands))
}

/// A malformed control request: 400 with `{"error": ...}`.
struct ControlError(String);

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, Json(json!({ "error": self.0 }))).into_response()
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|error| ControlError(format!("bad JSON body: {error}")))
}

fn ok() -> Json<Value> {
    Json(json!({ "ok": true }))
}

/// Body of `POST /control/users/{id}/text`; profile fields are optional and
/// stick to the user.
#[derive(Deserialize)]
struct TextBody {
    text: String,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    language_code: Option<String>,
}

async fn user_text(
    AxumState(shared): AppState,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: TextBody = parse(&body)?;
    shared.update(|state| {
        let user = state.user_mut(id);
        if let Some(first_name) = body.first_name {
            user.first_name = first_name;
        }
        if body.last_name.is_some() {
            user.last_name = body.last_name;
        }
        if body.username.is_some() {
            user.username = body.username;
        }
        if body.language_code.is_some() {
            user.language_code = body.language_code;
        }
    });
    let update_id = shared.user_text(id, &body.text);
    Ok(Json(json!({ "update_id": update_id })))
}

#[derive(Deserialize)]
struct PressBody {
    message_id: i64,
    data: String,
}

async fn user_press(
    AxumState(shared): AppState,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: PressBody = parse(&body)?;
    let update_id = shared.user_press(id, body.message_id, &body.data);
    Ok(Json(json!({ "update_id": update_id })))
}

async fn block(AxumState(shared): AppState, Path(id): Path<i64>) -> Json<Value> {
    shared.set_user_status(id, UserStatus::Blocked);
    ok()
}

async fn unblock(AxumState(shared): AppState, Path(id): Path<i64>) -> Json<Value> {
    shared.set_user_status(id, UserStatus::Active);
    ok()
}

async fn deactivate(AxumState(shared): AppState, Path(id): Path<i64>) -> Json<Value> {
    shared.set_user_status(id, UserStatus::Deactivated);
    ok()
}

async fn transcript(AxumState(shared): AppState, Path(id): Path<i64>) -> Json<Value> {
    Json(json!(shared.transcript(id)))
}

async fn messages(AxumState(shared): AppState, Path(id): Path<i64>) -> Json<Value> {
    Json(json!(shared.bot_messages(id)))
}

async fn hold(AxumState(shared): AppState) -> Json<Value> {
    shared.set_held(true);
    ok()
}

async fn release(AxumState(shared): AppState) -> Json<Value> {
    shared.set_held(false);
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
    Json(json!(shared.lock().stats_snapshot()))
}

async fn commands(AxumState(shared): AppState) -> Json<Value> {
    let lists: Vec<Value> = shared
        .lock()
        .commands
        .iter()
        .map(|((scope, language), commands)| {
            json!({ "scope": scope, "language_code": language, "commands": commands })
        })
        .collect();
    Json(Value::Array(lists))
}
