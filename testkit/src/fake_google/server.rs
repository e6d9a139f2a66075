//! The HTTP side: every request is read whole, logged, routed (OAuth
//! endpoints by path, Calendar methods through the discovery document),
//! checked, passed through injected faults, and applied in one locked
//! section.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::time::Instant;

use super::calendar::{self, Call};
use super::control;
use super::discovery::discovery;
use super::faults::FaultKind;
use super::oauth::{self, Ctx};
use super::state::{RecordedRequest, Shared, State};
use super::wire::{ApiError, Reply, reply_status};
use super::{Incoming, push};

/// Largest accepted body.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Requests longer than this are logged cut.
const LOGGED_BODY: usize = 64 * 1024;

/// The whole app: the control API, and Google for every other path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    control::routes().fallback(google).with_state(shared)
}

/// Where a request goes.
#[derive(Debug, Clone)]
enum Route {
    Authorize,
    Decide,
    Token,
    Revoke,
    UserInfo {
        v2: bool,
    },
    Api {
        method: String,
        params: std::collections::HashMap<String, String>,
    },
    Unknown,
}

impl Route {
    fn method_id(&self) -> Option<String> {
        Some(match self {
            Self::Authorize => "oauth.authorize".to_owned(),
            Self::Decide => "oauth.decide".to_owned(),
            Self::Token => "oauth.token".to_owned(),
            Self::Revoke => "oauth.revoke".to_owned(),
            Self::UserInfo { .. } => "oauth.userinfo".to_owned(),
            Self::Api { method, .. } => method.clone(),
            Self::Unknown => return None,
        })
    }

    /// Faults never touch the consent screen (a browser page).
    fn faultable(&self) -> bool {
        !matches!(self, Self::Authorize | Self::Decide | Self::Unknown)
    }
}

fn route(http_method: &str, path: &str) -> Route {
    match (http_method, path) {
        ("GET", "/o/oauth2/v2/auth" | "/o/oauth2/auth") => Route::Authorize,
        ("GET", "/o/oauth2/v2/auth/decide") => Route::Decide,
        ("POST", "/token" | "/o/oauth2/token" | "/oauth2/v4/token") => Route::Token,
        ("POST", "/revoke" | "/o/oauth2/revoke") => Route::Revoke,
        ("GET", "/oauth2/v3/userinfo" | "/openidconnect/v1/userinfo" | "/v1/userinfo") => {
            Route::UserInfo { v2: false }
        }
        ("GET", "/oauth2/v2/userinfo") => Route::UserInfo { v2: true },
        _ => match path.strip_prefix("/calendar/v3/") {
            Some(rest) => match discovery().resolve(http_method, rest) {
                Some((method, params)) => Route::Api {
                    method: method.id.clone(),
                    params,
                },
                None => Route::Unknown,
            },
            None => Route::Unknown,
        },
    }
}

async fn google(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let http_method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let route = route(&http_method, &path);
    let method_id = route.method_id();
    let mut pending = Pending::new(&shared);
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::bad_request("Request body too large or unreadable").into_response();
        }
    };
    let incoming = Incoming {
        query: url::form_urlencoded::parse(raw_query.as_bytes())
            .into_owned()
            .collect(),
        headers: parts.headers.clone(),
        body,
    };
    let seq = shared.update(|state| {
        if let Some(id) = &method_id {
            *state.stats.calls.entry(id.clone()).or_default() += 1;
        }
        let seq = state.requests.len() as u64 + 1;
        state.requests.push(RecordedRequest {
            seq,
            method: method_id.clone(),
            http_method: http_method.clone(),
            path: path.clone(),
            query: raw_query.clone(),
            headers: header_list(&parts.headers),
            body: String::from_utf8_lossy(&incoming.body[..incoming.body.len().min(LOGGED_BODY)])
                .into_owned(),
            status: None,
        });
        seq
    });
    let fault = if route.faultable() {
        let key = request_key(&http_method, &path, &incoming);
        let id = method_id.clone().unwrap_or_default();
        shared.update(|state| {
            let fault = state
                .faults
                .take(&id)
                .or_else(|| state.chaos.as_mut().and_then(|chaos| chaos.roll(&id, &key)));
            if fault.is_some() {
                state.stats.injected_faults += 1;
            }
            fault
        })
    } else {
        None
    };
    let is_oauth = !matches!(route, Route::Api { .. });
    let result = match fault {
        None => apply(&shared, &route, &incoming),
        Some(kind) => match kind.hold() {
            Some((hold, applied)) => {
                if applied {
                    let _ = apply(&shared, &route, &incoming);
                }
                hold_unless_closed(&shared, hold).await;
                Err(ApiError::backend(503))
            }
            None => Err(fault_error(kind)),
        },
    };
    let result = if is_oauth {
        result.map_err(|error| {
            if fault.is_some() {
                error.for_oauth()
            } else {
                error
            }
        })
    } else {
        result
    };
    deliver_pushes(&shared);
    let status = reply_status(&result);
    shared.update(|state| {
        if let Some(request) = state
            .requests
            .get_mut(usize::try_from(seq - 1).unwrap_or(usize::MAX))
        {
            request.status = Some(status);
        }
    });
    pending.answered = true;
    match result {
        Ok(reply) => reply.into_response(),
        Err(error) => error.into_response(),
    }
}

fn fault_error(kind: FaultKind) -> ApiError {
    match kind {
        FaultKind::Status(code) if code >= 500 => ApiError::backend(code),
        FaultKind::Status(429) | FaultKind::TooManyRequests => ApiError::too_many_requests(),
        FaultKind::Status(403) | FaultKind::RateLimitForbidden => ApiError::rate_limit_forbidden(),
        FaultKind::Status(code) => ApiError::google(code, "global", "injected", "Injected fault"),
        FaultKind::Timeout { .. } => ApiError::backend(503),
    }
}

/// Method + path + a client-chosen id: the "same request" a client retries.
fn request_key(http_method: &str, path: &str, incoming: &Incoming) -> String {
    let id = serde_json::from_slice::<Value>(&incoming.body)
        .ok()
        .and_then(|body| body["id"].as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("{http_method} {path} {id}")
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

async fn hold_unless_closed(shared: &Shared, hold: Duration) {
    let deadline = Instant::now() + hold;
    let _ = shared
        .wait_until(Some(deadline), |state| state.closed.then_some(()))
        .await;
}

/// Handles a request in one locked section.
fn apply(shared: &Shared, route: &Route, incoming: &Incoming) -> Result<Reply, ApiError> {
    let base_url = shared.base_url();
    let ctx = Ctx {
        now: shared.now(),
        config: &shared.config,
        base_url: &base_url,
    };
    shared.update(|state| handle(state, &ctx, route, incoming))
}

fn handle(
    state: &mut State,
    ctx: &Ctx<'_>,
    route: &Route,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    match route {
        Route::Authorize => oauth::authorize(state, ctx, incoming),
        Route::Decide => oauth::decide(state, ctx, incoming),
        Route::Token => oauth::token(state, ctx, incoming),
        Route::Revoke => oauth::revoke(state, incoming),
        Route::UserInfo { v2 } => {
            let principal = oauth::authenticate(state, ctx, incoming)?;
            oauth::userinfo(state, &principal, *v2)
        }
        Route::Api { method, params } => {
            let spec = discovery()
                .resolve_id(method)
                .ok_or_else(|| ApiError::not_implemented(method))?;
            discovery().check_query(spec, &incoming.query)?;
            let body = match &spec.request {
                Some(schema) => {
                    let body: Value = if incoming.body.is_empty() {
                        Value::Object(serde_json::Map::new())
                    } else {
                        serde_json::from_slice(&incoming.body).map_err(|error| {
                            ApiError::google(
                                400,
                                "global",
                                "parseError",
                                &format!("Parse Error: {error}"),
                            )
                        })?
                    };
                    discovery().check_body(schema, &body, ctx.config.reject_unknown_fields)?;
                    Some(body)
                }
                None => None,
            };
            let principal = oauth::authenticate(state, ctx, incoming)?;
            if !spec.scopes.is_empty()
                && !spec
                    .scopes
                    .iter()
                    .any(|scope| principal.scopes.contains(scope))
            {
                return Err(ApiError::insufficient_scopes());
            }
            let call = Call {
                method,
                params: params.clone(),
                query: &incoming.query,
                body,
                principal,
            };
            calendar::call(state, ctx, &call)
        }
        Route::Unknown => Err(ApiError::not_found()),
    }
}

/// POSTs queued push notifications (to loopback addresses only; others are
/// only recorded, as these machines have no other network).
pub(crate) fn deliver_pushes(shared: &Arc<Shared>) {
    let queued: Vec<(usize, super::state::Notification)> = shared.update(|state| {
        std::mem::take(&mut state.outbox)
            .into_iter()
            .filter_map(|index| state.notifications.get(index).cloned().map(|n| (index, n)))
            .collect()
    });
    let plain_http = shared.config.push_over_http;
    for (index, notification) in queued {
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            let delivered = push::deliver(&notification, plain_http).await;
            shared.update(|state| {
                if let Some(stored) = state.notifications.get_mut(index) {
                    stored.delivered = delivered;
                }
            });
        });
    }
}

/// Counts a request whose client left before it was answered.
struct Pending<'a> {
    shared: &'a Shared,
    answered: bool,
}

impl<'a> Pending<'a> {
    fn new(shared: &'a Shared) -> Self {
        Self {
            shared,
            answered: false,
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.shared.update(|state| state.stats.abandoned += 1);
        }
    }
}
