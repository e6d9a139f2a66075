//! The Bot API's answer envelope (`{"ok":true,"result":...}` or
//! `{"ok":false,"error_code":...,"description":...}`) and its errors.

use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error answer exactly as Telegram words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TgError {
    pub code: u16,
    pub description: String,
    pub retry_after: Option<u32>,
}

impl TgError {
    fn new(code: u16, description: String) -> Self {
        Self {
            code,
            description,
            retry_after: None,
        }
    }

    /// 400 "Bad Request: {what}".
    pub(crate) fn bad_request(what: impl fmt::Display) -> Self {
        Self::new(400, format!("Bad Request: {what}"))
    }

    /// 403 "Forbidden: {what}".
    pub(crate) fn forbidden(what: impl fmt::Display) -> Self {
        Self::new(403, format!("Forbidden: {what}"))
    }

    /// 409 "Conflict: {what}".
    pub(crate) fn conflict(what: impl fmt::Display) -> Self {
        Self::new(409, format!("Conflict: {what}"))
    }

    /// A second `getUpdates` replaced this one.
    pub(crate) fn terminated_by_other_poll() -> Self {
        Self::conflict(
            "terminated by other getUpdates request; make sure that only one bot instance is running",
        )
    }

    /// `getUpdates` while a webhook is set.
    pub(crate) fn webhook_active() -> Self {
        Self::conflict(
            "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
        )
    }

    /// 401 for a token other than the bot's.
    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized".to_owned())
    }

    /// 404 for unknown methods and paths.
    pub(crate) fn not_found() -> Self {
        Self::new(404, "Not Found".to_owned())
    }

    /// 429 with `parameters.retry_after`.
    pub(crate) fn too_many_requests(retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(429, format!("Too Many Requests: retry after {retry_after}"))
        }
    }

    /// Any status with its standard reason as description ("Bad Gateway").
    pub(crate) fn status(code: u16) -> Self {
        let reason = StatusCode::from_u16(code)
            .ok()
            .and_then(|status| status.canonical_reason())
            .unwrap_or("Internal Server Error");
        Self::new(code, reason.to_owned())
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "ok": false,
            "error_code": self.code,
            "description": self.description,
        });
        if let (Some(retry_after), Value::Object(map)) = (self.retry_after, &mut body) {
            map.insert(
                "parameters".to_owned(),
                json!({ "retry_after": retry_after }),
            );
        }
        body
    }
}

impl IntoResponse for TgError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.body())).into_response()
    }
}

/// A successful answer: a JSON value, or updates as the JSON texts they
/// were queued as (spliced in verbatim, like bytes from Telegram).
#[derive(Debug)]
pub(crate) enum Answer {
    Value(Value),
    Updates(Vec<String>),
}

/// The answer to a bot request.
pub(crate) fn respond(result: Result<Answer, TgError>) -> Response {
    match result {
        Ok(Answer::Value(result)) => Json(json!({ "ok": true, "result": result })).into_response(),
        Ok(Answer::Updates(updates)) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"ok":true,"result":[{}]}}"#, updates.join(",")),
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}
