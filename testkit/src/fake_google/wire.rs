//! Answers in Google's shapes: the JSON error envelope of the REST APIs,
//! the flat `{"error", "error_description"}` of the OAuth endpoints, HTML
//! pages and redirects of the consent screen.

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What a handler answers when it succeeds.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// 200 with a JSON body.
    Json(Value),
    /// 204 with no body (`events.delete`, `channels.stop`).
    NoContent,
    /// 200 with an empty body (`/revoke`).
    Empty,
    /// 200 with an HTML page (the consent screen).
    Html(String),
    /// 302 to this location (the end of the consent screen).
    Redirect(String),
}

/// A failed call: status plus a body in the shape of the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub body: ErrorBody,
}

/// The body of an error answer.
#[derive(Debug, Clone)]
pub(crate) enum ErrorBody {
    Json(Value),
    Html(String),
}

/// Google's canonical status name for an HTTP code.
fn canonical_status(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        410 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

impl ApiError {
    /// `{"error": {"errors": [{domain, reason, message}], "code", "message", "status"}}`.
    pub(crate) fn google(code: u16, domain: &str, reason: &str, message: &str) -> Self {
        Self::google_with(
            code,
            json!({ "domain": domain, "reason": reason, "message": message }),
        )
    }

    fn google_with(code: u16, item: Value) -> Self {
        let message = item["message"].clone();
        Self {
            status: code,
            body: ErrorBody::Json(json!({
                "error": {
                    "errors": [item],
                    "code": code,
                    "message": message,
                    "status": canonical_status(code),
                }
            })),
        }
    }

    /// 400 `badRequest`.
    pub(crate) fn bad_request(message: &str) -> Self {
        Self::google(400, "global", "badRequest", message)
    }

    /// 400 `invalid`.
    pub(crate) fn invalid(message: &str) -> Self {
        Self::google(400, "global", "invalid", message)
    }

    /// 400 `required`.
    pub(crate) fn required(message: &str) -> Self {
        Self::google(400, "global", "required", message)
    }

    /// 400 `invalidParameter` about a query parameter.
    pub(crate) fn invalid_parameter(name: &str, message: &str) -> Self {
        Self::google_with(
            400,
            json!({
                "domain": "global",
                "reason": "invalidParameter",
                "message": message,
                "locationType": "parameter",
                "location": name,
            }),
        )
    }

    /// 401 for a missing, unknown, expired or revoked access token.
    pub(crate) fn unauthenticated(missing: bool) -> Self {
        let (reason, message) = if missing {
            ("required", "Login Required.")
        } else {
            ("authError", "Invalid Credentials")
        };
        let mut error = Self::google_with(
            401,
            json!({
                "domain": "global",
                "reason": reason,
                "message": message,
                "locationType": "header",
                "location": "Authorization",
            }),
        );
        if let ErrorBody::Json(body) = &mut error.body {
            body["error"]["message"] = json!(
                "Request had invalid authentication credentials. Expected OAuth 2 access token, \
                 login cookie or other valid authentication credential. \
                 See https://developers.google.com/identity/sign-in/web/devconsole-project."
            );
        }
        error
    }

    /// 403 when the token's scopes do not cover the method.
    pub(crate) fn insufficient_scopes() -> Self {
        Self::google(
            403,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
    }

    /// 403 with another reason.
    pub(crate) fn forbidden(reason: &str, message: &str) -> Self {
        Self::google(403, "global", reason, message)
    }

    /// 404 `notFound`.
    pub(crate) fn not_found() -> Self {
        Self::google(404, "global", "notFound", "Not Found")
    }

    /// 409 `duplicate` (an event id taken, also by a cancelled event).
    pub(crate) fn duplicate() -> Self {
        Self::google(
            409,
            "global",
            "duplicate",
            "The requested identifier already exists.",
        )
    }

    /// 410 `deleted` (deleting an event twice).
    pub(crate) fn deleted() -> Self {
        Self::google(410, "global", "deleted", "Resource has been deleted")
    }

    /// 410 `fullSyncRequired` (a stale sync token).
    pub(crate) fn full_sync_required() -> Self {
        Self::google(
            410,
            "global",
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
        )
    }

    /// 429 `rateLimitExceeded`.
    pub(crate) fn too_many_requests() -> Self {
        Self::google(
            429,
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        )
    }

    /// 403 `rateLimitExceeded` (the Calendar API's older way to say 429).
    pub(crate) fn rate_limit_forbidden() -> Self {
        Self::google(
            403,
            "usageLimits",
            "rateLimitExceeded",
            "Rate Limit Exceeded",
        )
    }

    /// 5xx `backendError`.
    pub(crate) fn backend(code: u16) -> Self {
        Self::google(code, "global", "backendError", "Backend Error")
    }

    /// 501 for a Calendar method the fake does not implement.
    pub(crate) fn not_implemented(method: &str) -> Self {
        Self::google(
            501,
            "global",
            "notImplemented",
            &format!("{method} is not implemented by the fake Google"),
        )
    }

    /// The OAuth endpoints' `{"error", "error_description"}`.
    pub(crate) fn oauth(status: u16, error: &str, description: &str) -> Self {
        Self {
            status,
            body: ErrorBody::Json(json!({ "error": error, "error_description": description })),
        }
    }

    /// 400 `invalid_grant`.
    pub(crate) fn invalid_grant(description: &str) -> Self {
        Self::oauth(400, "invalid_grant", description)
    }

    /// 400 `invalid_request`.
    pub(crate) fn invalid_request(description: &str) -> Self {
        Self::oauth(400, "invalid_request", description)
    }

    /// An error page of the consent screen ("Error 400: redirect_uri_mismatch").
    pub(crate) fn page(status: u16, error: &str, detail: &str) -> Self {
        Self {
            status,
            body: ErrorBody::Html(format!(
                "<!doctype html><html><head><title>Error {status}: {error}</title></head>\
                 <body><h1>Access blocked: authorization error</h1>\
                 <p>Error {status}: {error}</p><p>{}</p></body></html>",
                html_escape(detail)
            )),
        }
    }

    /// The same failure as seen by an OAuth endpoint (token, revoke).
    pub(crate) fn for_oauth(self) -> Self {
        let description = match &self.body {
            ErrorBody::Json(body) => body["error"]["message"]
                .as_str()
                .unwrap_or("Backend Error")
                .to_owned(),
            ErrorBody::Html(_) => "Backend Error".to_owned(),
        };
        let error = match self.status {
            429 | 403 => "rate_limit_exceeded",
            _ => "internal_failure",
        };
        Self::oauth(self.status, error, &description)
    }
}

/// Escapes text for HTML.
pub(crate) fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json_response(code: u16, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status(code);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

fn html_response(code: u16, page: String) -> Response {
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status(code);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.body {
            ErrorBody::Json(body) => json_response(self.status, &body),
            ErrorBody::Html(page) => html_response(self.status, page),
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match self {
            Self::Json(body) => json_response(200, &body),
            Self::NoContent => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
            Self::Empty => Response::new(Body::empty()),
            Self::Html(page) => html_response(200, page),
            Self::Redirect(location) => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::FOUND;
                match HeaderValue::from_str(&location) {
                    Ok(value) => {
                        response.headers_mut().insert(LOCATION, value);
                        response
                    }
                    Err(_) => {
                        ApiError::page(400, "invalid_request", "bad redirect").into_response()
                    }
                }
            }
        }
    }
}

/// The status a reply will have (for the request log).
pub(crate) fn reply_status(result: &Result<Reply, ApiError>) -> u16 {
    match result {
        Ok(Reply::NoContent) => 204,
        Ok(Reply::Redirect(_)) => 302,
        Ok(_) => 200,
        Err(error) => error.status,
    }
}
