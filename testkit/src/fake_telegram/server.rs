//! The HTTP side: routing `/bot<token>/<method>` requests through hold,
//! injected faults and the methods, and `getUpdates` long polling.
//!
//! A request whose client disconnects is dropped by hyper at its next
//! `.await`; effects are applied only after the last wait, in one locked
//! section, so such a request never has any effect.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State as AxumState};
use axum::response::Response;
use tokio::time::Instant;

use super::control;
use super::faults::FaultKind;
use super::methods::{self, Context, Method};
use super::params::{MAX_BODY, Params};
use super::state::{Shared, State};
use super::wire::{Answer, TgError, respond};

/// The whole app: the control API, and the Bot API for every other path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    control::routes()
        .fallback(bot_api)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// `("<token>", "<method>")` from `/bot<token>/<method>`.
fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/bot")?;
    let (token, method) = rest.split_once('/')?;
    (!token.is_empty() && !method.is_empty() && !method.contains('/')).then_some((token, method))
}

async fn bot_api(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let Some((token, method_name)) = split_path(request.uri().path()) else {
        return respond(Err(TgError::not_found()));
    };
    if token != shared.config.token {
        return respond(Err(TgError::unauthorized()));
    }
    let method = Method::from_name(method_name);
    let name = method.map_or_else(|| method_name.to_owned(), |method| method.name().to_owned());
    let mut pending = Pending::new(&shared);
    shared.update(|state| *state.stats.calls.entry(name.clone()).or_default() += 1);
    // Read the whole body first: only then does hyper notice a client that
    // goes away while the request waits.
    let params = Params::read(request).await;
    let result = process(&shared, method, &name, params).await;
    pending.answered = true;
    if result.as_ref().is_err_and(|error| error.code == 429) {
        shared.update(|state| state.stats.too_many_requests += 1);
    }
    respond(result)
}

/// Hold, faults, then the method itself.
async fn process(
    shared: &Shared,
    method: Option<Method>,
    name: &str,
    params: Result<Params, TgError>,
) -> Result<Answer, TgError> {
    wait_while_held(shared).await?;
    match shared.update(|state| state.faults.take(name)) {
        None => {}
        Some(FaultKind::Delay(delay)) => sleep_unless_closed(shared, delay).await?,
        Some(FaultKind::Status(code)) => {
            shared.update(|state| state.stats.injected_errors += 1);
            return Err(TgError::status(code));
        }
        Some(FaultKind::TooManyRequests { retry_after }) => {
            return Err(TgError::too_many_requests(retry_after));
        }
    }
    let params = params?;
    let method = method.ok_or_else(TgError::not_found)?;
    if method == Method::GetUpdates {
        return get_updates(shared, &params).await.map(Answer::Updates);
    }
    let context = Context {
        config: &shared.config,
        date: shared.unix_now(),
        now: Instant::now(),
    };
    shared
        .update(|state| methods::call(state, &context, method, &params))
        .map(Answer::Value)
}

/// The answer when the server stops under a waiting request.
fn stopping() -> TgError {
    TgError::status(502)
}

async fn wait_while_held(shared: &Shared) -> Result<(), TgError> {
    let held = shared.update(|state| {
        if state.held {
            state.stats.held += 1;
        }
        state.held
    });
    if !held {
        return Ok(());
    }
    let _held = HeldGuard(shared);
    shared
        .wait_until(None, |state| {
            if state.closed {
                Some(Err(stopping()))
            } else if state.held {
                None
            } else {
                Some(Ok(()))
            }
        })
        .await
        .unwrap_or(Ok(()))
}

async fn sleep_unless_closed(shared: &Shared, delay: Duration) -> Result<(), TgError> {
    let deadline = Instant::now() + delay;
    match shared
        .wait_until(Some(deadline), |state| state.closed.then_some(()))
        .await
    {
        Some(()) => Err(stopping()),
        None => Ok(()),
    }
}

/// Long polling: answers as soon as updates wait (and the fake is not held),
/// `[]` at the timeout, 409 when another `getUpdates` replaces this one or a
/// webhook is set.
async fn get_updates(shared: &Shared, params: &Params) -> Result<Vec<String>, TgError> {
    let offset = params.int("offset")?.unwrap_or(0);
    let limit = usize::try_from(params.int("limit")?.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let timeout = u64::try_from(params.int("timeout")?.unwrap_or(0)).unwrap_or(0);
    let allowed = params.typed::<Vec<String>>("allowed_updates", "allowed updates")?;
    let ticket = shared.update(|state| {
        if state.webhook_url.is_some() {
            return Err(TgError::webhook_active());
        }
        state.confirm(offset);
        if let Some(allowed) = allowed {
            state.allowed_updates = Some(allowed).filter(|kinds| !kinds.is_empty());
        }
        state.poll_seq += 1;
        state.active_poll = Some(state.poll_seq);
        Ok(state.poll_seq)
    })?;
    let _poll = PollGuard { shared, ticket };
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let answer = |state: &State, at_deadline: bool| -> Option<Result<Vec<String>, TgError>> {
        if state.closed {
            return Some(Err(stopping()));
        }
        if state.active_poll != Some(ticket) {
            return Some(Err(TgError::terminated_by_other_poll()));
        }
        if state.webhook_url.is_some() {
            return Some(Err(TgError::webhook_active()));
        }
        let updates = if state.held {
            Vec::new()
        } else {
            state.deliverable(limit)
        };
        (at_deadline || !updates.is_empty()).then_some(Ok(updates))
    };
    match shared
        .wait_until(Some(deadline), |state| answer(state, false))
        .await
    {
        Some(result) => result,
        None => {
            let state = shared.lock();
            answer(&state, true).unwrap_or(Ok(Vec::new()))
        }
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

/// Keeps `stats.held` right however the held request ends.
struct HeldGuard<'a>(&'a Shared);

impl Drop for HeldGuard<'_> {
    fn drop(&mut self) {
        self.0.update(|state| state.stats.held -= 1);
    }
}

/// Frees the poll slot when this poll ends or its client leaves.
struct PollGuard<'a> {
    shared: &'a Shared,
    ticket: u64,
}

impl Drop for PollGuard<'_> {
    fn drop(&mut self) {
        self.shared.update(|state| {
            if state.active_poll == Some(self.ticket) {
                state.active_poll = None;
            }
        });
    }
}
