//! The Google Calendar v3 REST client: the few event, free/busy and push
//! channel calls the worker makes, typed errors it can act on, and a retry
//! helper for the transient ones.
//!
//! The client never holds credentials: every call takes an access token,
//! and a 401 comes back as [`CalendarError::Unauthorized`] so the caller
//! refreshes the token once and calls again. Nothing in an error's text
//! carries the token or a request URL (reqwest errors are stripped with
//! `without_url()`), so errors are safe to log.
//!
//! Repeat safety: the bot inserts its events under a
//! [`deterministic_event_id`], so an insert retried after a lost answer
//! meets its own earlier success as [`CalendarError::Conflict`] instead of
//! creating a second event; the caller then reads the event back.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use reqwest::header::RETRY_AFTER;
use reqwest::{Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::db::types::MeetingId;

/// The private extended property that marks the bot's own events, so a
/// sync can tell them from the owner's other appointments.
pub const MEETING_ID_PROPERTY: &str = "scheduler_meeting_id";

/// A failed Calendar call, sorted by what the caller should do about it.
///
/// No variant carries an access token, a URL or a query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// 401: the access token expired or was revoked; refresh it once and
    /// call again.
    #[error("Google rejected the access token (401)")]
    Unauthorized,
    /// 429, or 403 `rateLimitExceeded` / `userRateLimitExceeded`: slow down
    /// (for `retry_after` when Google said so).
    #[error("Google rate limit exceeded")]
    RateLimited {
        /// The `Retry-After` Google sent, if any.
        retry_after: Option<Duration>,
    },
    /// 409: an event with this id exists already (on insert: usually our
    /// own earlier insert whose answer was lost — read it back).
    #[error("the event id is taken (409)")]
    Conflict,
    /// 410: a stale sync token (start a full sync) or an event deleted
    /// before.
    #[error("the resource or sync token is gone (410)")]
    Gone,
    /// 404: no such calendar or event, or no access to it.
    #[error("not found (404)")]
    NotFound,
    /// 5xx: Google failed; usually passes.
    #[error("Google server error ({0})")]
    Server(u16),
    /// No answer within the HTTP timeout. The call may have taken effect.
    #[error("Google did not answer in time")]
    Timeout,
    /// 400: the request is wrong and will stay wrong; the reason is
    /// Google's (`invalid`, `timeRangeEmpty`, ...).
    #[error("Google refused the request as invalid (400 {0})")]
    BadRequest(String),
    /// 403 for another reason than rate limits (`insufficientPermissions`,
    /// `forbiddenForServiceAccounts`, ...): a missing grant, not a glitch.
    #[error("Google refused access (403 {0})")]
    Forbidden(String),
    /// Any other status (412, ...), with Google's reason.
    #[error("unexpected answer from Google ({status} {reason})")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// Google's reason, or empty.
        reason: String,
    },
    /// The connection failed before an answer (refused, reset, DNS).
    #[error("could not reach Google: {0}")]
    Network(String),
    /// A success answer this client cannot read.
    #[error("unreadable answer from Google: {0}")]
    InvalidResponse(String),
    /// The client cannot be built (bad base URL, TLS setup).
    #[error("the Calendar client cannot be set up: {0}")]
    Setup(String),
}

impl CalendarError {
    /// Whether the same call may succeed when repeated unchanged: rate
    /// limits, server errors, timeouts and broken connections. A 401 is
    /// not: the token must be refreshed first.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout | Self::Network(_) => true,
            // 501 means "not implemented": repeating changes nothing.
            Self::Server(status) => *status != 501,
            _ => false,
        }
    }

    /// How long Google asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    fn from_reqwest(error: reqwest::Error) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        let error = error.without_url();
        if error.is_decode() {
            Self::InvalidResponse(error.to_string())
        } else {
            Self::Network(error.to_string())
        }
    }

    /// The error for a non-success answer: the status, the `Retry-After`
    /// header and Google's error JSON
    /// (`{"error": {"errors": [{"reason"}], "code", "message"}}`).
    pub fn from_answer(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Self {
        let reason = error_reason(body);
        match status {
            400 => Self::BadRequest(reason),
            401 => Self::Unauthorized,
            403 if matches!(
                reason.as_str(),
                "rateLimitExceeded" | "userRateLimitExceeded"
            ) =>
            {
                Self::RateLimited { retry_after }
            }
            403 => Self::Forbidden(reason),
            404 => Self::NotFound,
            408 => Self::Timeout,
            409 => Self::Conflict,
            410 => Self::Gone,
            429 => Self::RateLimited { retry_after },
            500..=599 => Self::Server(status),
            _ => Self::Unexpected { status, reason },
        }
    }
}

/// The first `reason` of Google's error JSON, or its `status`, or empty.
fn error_reason(body: &[u8]) -> String {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let error = &body["error"];
    error["errors"][0]["reason"]
        .as_str()
        .or_else(|| error["status"].as_str())
        // The OAuth endpoints' flat shape, should a proxy answer with it.
        .or_else(|| error.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// `Retry-After` in seconds (Google does not send the HTTP-date form).
fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The event id the bot gives a meeting's event: stable per meeting, so a
/// repeated insert is refused with 409 instead of creating a duplicate.
///
/// Google wants base32hex (`a`-`v`, `0`-`9`), 5 to 1024 characters: a
/// fixed prefix of allowed letters, then the id's 8 bytes in lowercase
/// base32hex without padding (always 13 characters).
pub fn deterministic_event_id(meeting_id: MeetingId) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    // The bit pattern (negative ids map one to one too), padded with one
    // zero bit to 65 = 13 · 5 bits.
    let bits = u128::from(u64::from_be_bytes(meeting_id.0.to_be_bytes())) << 1;
    let mut id = String::from("schedmeet");
    for group in (0..13u32).rev() {
        let digit = (bits >> (5 * group)) & 31;
        id.push(char::from(ALPHABET[digit as usize]));
    }
    id
}

/// Whether Google accepts `id` as an event id (base32hex, 5-1024 long).
pub fn is_valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'v').contains(&byte))
}

/// An event's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventStatus {
    Confirmed,
    Tentative,
    /// Deleted (incremental results keep deleted events in this state).
    Cancelled,
}

/// Whether an event blocks time in free/busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Transparency {
    Opaque,
    Transparent,
}

/// An event's `start` or `end`: an instant (and the zone Google shows it
/// in), or a date for all-day events someone else made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventTime {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<DateTime<Utc>>,
    /// All-day events only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// IANA zone name, so Google shows the time in the owner's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

impl EventTime {
    /// A timed start or end shown in `zone` (the owner's).
    pub fn at(instant: DateTime<Utc>, zone: Tz) -> Self {
        Self {
            date_time: Some(instant),
            date: None,
            time_zone: Some(zone.name().to_owned()),
        }
    }
}

/// A guest and their answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attendee {
    pub email: String,
    /// `needsAction`, `declined`, `tentative` or `accepted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_status: Option<String>,
}

/// `conferenceData`; only the part that asks Google for a Meet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConferenceData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_request: Option<CreateConferenceRequest>,
}

/// Asks for a new conference; the same `request_id` again yields the same
/// Meet, so a retried insert does not make a second link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateConferenceRequest {
    pub request_id: String,
    pub conference_solution_key: ConferenceSolutionKey,
}

/// The kind of conference: `hangoutsMeet` for Google Meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceSolutionKey {
    #[serde(rename = "type")]
    pub kind: String,
}

/// `extendedProperties`; the private ones are visible to this app only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendedProperties {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub private: BTreeMap<String, String>,
}

/// The fields of a Calendar event the bot reads or writes. Every field is
/// optional because a deleted event in incremental results carries only
/// `id`, `status` and `updated`, and because a patch sends only what it
/// sets. `hangoutLink`, `updated` and `sequence` are Google's and never
/// sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<EventStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<EventTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<EventTime>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conference_data: Option<ConferenceData>,
    /// The Meet link, once Google made one.
    #[serde(default, skip_serializing)]
    pub hangout_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transparency: Option<Transparency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_properties: Option<ExtendedProperties>,
    /// When Google last changed the event.
    #[serde(default, skip_serializing)]
    pub updated: Option<DateTime<Utc>>,
    /// The iCalendar SEQUENCE. Google raises it when the time changes
    /// unless the request names one, so it is read, never sent back.
    #[serde(default, skip_serializing)]
    pub sequence: Option<i64>,
}

impl Event {
    /// The meeting this event belongs to, if the bot made it.
    pub fn meeting_id(&self) -> Option<MeetingId> {
        self.extended_properties
            .as_ref()?
            .private
            .get(MEETING_ID_PROPERTY)?
            .parse()
            .ok()
            .map(MeetingId)
    }

    /// Marks the event as the bot's own for `meeting_id`.
    pub fn mark_meeting(&mut self, meeting_id: MeetingId) {
        self.extended_properties
            .get_or_insert_with(ExtendedProperties::default)
            .private
            .insert(MEETING_ID_PROPERTY.to_owned(), meeting_id.to_string());
    }

    /// Whether the event was deleted.
    pub fn is_cancelled(&self) -> bool {
        self.status == Some(EventStatus::Cancelled)
    }
}

/// Whom Google emails about a change (`sendUpdates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendUpdates {
    All,
    ExternalOnly,
    None,
}

impl SendUpdates {
    fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::ExternalOnly => "externalOnly",
            Self::None => "none",
        }
    }
}

/// What a delete found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// This call deleted it.
    Deleted,
    /// It was deleted before (410) or never existed (404): the goal holds.
    AlreadyGone,
}

/// Which events `events.list` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListQuery {
    /// Every live event overlapping `[time_min, time_max)`; the last page
    /// carries the sync token for later incremental calls.
    Full {
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    },
    /// Changes since the token, deleted events included; Google answers
    /// 410 ([`CalendarError::Gone`]) when the token is stale.
    Incremental { sync_token: String },
}

/// One page of `events.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    #[serde(default)]
    pub items: Vec<Event>,
    /// Present when more pages follow.
    pub next_page_token: Option<String>,
    /// Present on the last page only.
    pub next_sync_token: Option<String>,
}

/// Every page of one listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventListing {
    pub items: Vec<Event>,
    /// The token for the next incremental listing.
    pub next_sync_token: Option<String>,
}

/// A busy span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct BusySpan {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One calendar's part of a free/busy answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CalendarBusy {
    #[serde(default)]
    pub busy: Vec<BusySpan>,
    /// Google's reasons when this calendar could not be read
    /// (`notFound`, ...).
    #[serde(default, deserialize_with = "reasons")]
    pub errors: Vec<String>,
}

fn reasons<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        reason: String,
    }
    let items = Vec::<Item>::deserialize(deserializer)?;
    Ok(items.into_iter().map(|item| item.reason).collect())
}

#[derive(Deserialize)]
struct FreeBusyAnswer {
    #[serde(default)]
    calendars: HashMap<String, CalendarBusy>,
}

/// What to watch for `events.watch`.
#[derive(Clone)]
pub struct WatchRequest {
    /// Our id for the channel (unique per channel).
    pub id: String,
    /// The HTTPS address Google posts notifications to.
    pub address: String,
    /// Echoed in `X-Goog-Channel-Token`, so a notification can be checked.
    pub token: Option<SecretString>,
    /// When the channel should end (Google may pick earlier).
    pub expiration: Option<DateTime<Utc>>,
}

impl fmt::Debug for WatchRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchRequest")
            .field("id", &self.id)
            .field("address", &self.address)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// An open push channel: what `channels.stop` needs later.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    pub id: String,
    pub resource_id: String,
    #[serde(default)]
    pub resource_uri: Option<String>,
    /// When Google ends the channel.
    #[serde(default, deserialize_with = "millis")]
    pub expiration: Option<DateTime<Utc>>,
}

/// Google writes channel expirations as milliseconds, as a string.
fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let value = Option::<Value>::deserialize(deserializer)?;
    let ms = match value {
        Some(Value::String(text)) => text.parse::<i64>().ok(),
        Some(Value::Number(number)) => number.as_i64(),
        _ => None,
    };
    Ok(ms.and_then(DateTime::<Utc>::from_timestamp_millis))
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The Calendar v3 client; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct CalendarClient {
    http: reqwest::Client,
    /// `{api_base}/calendar/v3`.
    base: Url,
}

impl fmt::Debug for CalendarClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CalendarClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl CalendarClient {
    /// A client for the API under `api_base` (`GOOGLE_API_URL`); every
    /// request gives up after `http_timeout`.
    pub fn new(api_base: Url, http_timeout: Duration) -> Result<Self, CalendarError> {
        let mut base = api_base;
        base.set_query(None);
        base.set_fragment(None);
        base.path_segments_mut()
            .map_err(|()| CalendarError::Setup("the API URL cannot be a base".to_owned()))?
            .pop_if_empty()
            .extend(["calendar", "v3"]);
        let http = reqwest::Client::builder()
            .connect_timeout(http_timeout.min(Duration::from_secs(10)))
            .timeout(http_timeout)
            .build()
            .map_err(|error| CalendarError::Setup(error.without_url().to_string()))?;
        Ok(Self { http, base })
    }

    fn url(&self, segments: &[&str]) -> Result<Url, CalendarError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| CalendarError::Setup("the API URL cannot be a base".to_owned()))?
            .extend(segments);
        Ok(url)
    }

    fn events_url(&self, calendar_id: &str, rest: &[&str]) -> Result<Url, CalendarError> {
        let mut segments = vec!["calendars", calendar_id, "events"];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Sends with the token; a non-success status becomes its error.
    async fn send(
        &self,
        token: &SecretString,
        request: RequestBuilder,
    ) -> Result<Response, CalendarError> {
        let response = request
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(CalendarError::from_reqwest)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = parse_retry_after(
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok()),
        );
        // An unreadable error body still leaves the status to go by.
        let body = response.bytes().await.unwrap_or_default();
        Err(CalendarError::from_answer(
            status.as_u16(),
            retry_after,
            &body,
        ))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        token: &SecretString,
        request: RequestBuilder,
    ) -> Result<T, CalendarError> {
        let response = self.send(token, request).await?;
        let body = response
            .bytes()
            .await
            .map_err(CalendarError::from_reqwest)?;
        serde_json::from_slice(&body)
            .map_err(|error| CalendarError::InvalidResponse(error.to_string()))
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url)
    }

    /// Creates an event. With `with_meet` Google attaches a Meet link
    /// (`conferenceDataVersion=1` and a create request whose id derives
    /// from the event id, so a retry does not make a second Meet). An id
    /// already taken — also by a deleted event — is
    /// [`CalendarError::Conflict`].
    pub async fn insert_event(
        &self,
        token: &SecretString,
        calendar_id: &str,
        event: &Event,
        send_updates: SendUpdates,
        with_meet: bool,
    ) -> Result<Event, CalendarError> {
        let mut url = self.events_url(calendar_id, &[])?;
        url.query_pairs_mut()
            .append_pair("sendUpdates", send_updates.as_str());
        let mut body = event.clone();
        if with_meet {
            url.query_pairs_mut()
                .append_pair("conferenceDataVersion", "1");
            let has_request = body
                .conference_data
                .as_ref()
                .is_some_and(|data| data.create_request.is_some());
            if !has_request {
                let request_id = match &body.id {
                    Some(id) => format!("meet-{id}"),
                    None => format!("meet-{:016x}", rand::random::<u64>()),
                };
                body.conference_data = Some(ConferenceData {
                    create_request: Some(CreateConferenceRequest {
                        request_id,
                        conference_solution_key: ConferenceSolutionKey {
                            kind: "hangoutsMeet".to_owned(),
                        },
                    }),
                });
            }
        } else {
            // Without version 1 Google would ignore it anyway.
            body.conference_data = None;
        }
        self.call(token, self.request(Method::POST, url).json(&body))
            .await
    }

    /// Reads one event (deleted ones too, with status `cancelled`).
    pub async fn get_event(
        &self,
        token: &SecretString,
        calendar_id: &str,
        event_id: &str,
    ) -> Result<Event, CalendarError> {
        let url = self.events_url(calendar_id, &[event_id])?;
        self.call(token, self.request(Method::GET, url)).await
    }

    /// Replaces an event (PUT). Fields this client does not model are
    /// dropped, so use it for the bot's own events; an existing Meet stays
    /// (conference data is left to Google). A deleted event comes back to
    /// life with `status: confirmed`.
    pub async fn update_event(
        &self,
        token: &SecretString,
        calendar_id: &str,
        event_id: &str,
        event: &Event,
        send_updates: SendUpdates,
    ) -> Result<Event, CalendarError> {
        let mut url = self.events_url(calendar_id, &[event_id])?;
        url.query_pairs_mut()
            .append_pair("sendUpdates", send_updates.as_str());
        let mut body = event.clone();
        body.conference_data = None;
        self.call(token, self.request(Method::PUT, url).json(&body))
            .await
    }

    /// Changes only the fields set in `changes` (PATCH); everything else,
    /// also what the owner added in Google, stays.
    pub async fn patch_event(
        &self,
        token: &SecretString,
        calendar_id: &str,
        event_id: &str,
        changes: &Event,
        send_updates: SendUpdates,
    ) -> Result<Event, CalendarError> {
        let mut url = self.events_url(calendar_id, &[event_id])?;
        url.query_pairs_mut()
            .append_pair("sendUpdates", send_updates.as_str());
        let mut body = changes.clone();
        body.conference_data = None;
        self.call(token, self.request(Method::PATCH, url).json(&body))
            .await
    }

    /// Deletes an event; one that is gone already is success
    /// ([`Deleted::AlreadyGone`]), so a repeated delete is harmless.
    pub async fn delete_event(
        &self,
        token: &SecretString,
        calendar_id: &str,
        event_id: &str,
        send_updates: SendUpdates,
    ) -> Result<Deleted, CalendarError> {
        let mut url = self.events_url(calendar_id, &[event_id])?;
        url.query_pairs_mut()
            .append_pair("sendUpdates", send_updates.as_str());
        match self.send(token, self.request(Method::DELETE, url)).await {
            Ok(_) => Ok(Deleted::Deleted),
            Err(CalendarError::Gone | CalendarError::NotFound) => Ok(Deleted::AlreadyGone),
            Err(error) => Err(error),
        }
    }

    /// One page of events (`singleEvents=true`: recurring events come as
    /// their instances). Pass the previous page's `next_page_token` as
    /// `page_token` with the same query for the next page; `max_results`
    /// limits a page (Google's default is 250).
    pub async fn list_events(
        &self,
        token: &SecretString,
        calendar_id: &str,
        query: &ListQuery,
        page_token: Option<&str>,
        max_results: Option<u32>,
    ) -> Result<EventPage, CalendarError> {
        let mut url = self.events_url(calendar_id, &[])?;
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("singleEvents", "true");
            match query {
                ListQuery::Full { time_min, time_max } => {
                    pairs
                        .append_pair("timeMin", &rfc3339(*time_min))
                        .append_pair("timeMax", &rfc3339(*time_max));
                }
                ListQuery::Incremental { sync_token } => {
                    pairs.append_pair("syncToken", sync_token);
                }
            }
            if let Some(max) = max_results {
                pairs.append_pair("maxResults", &max.to_string());
            }
            if let Some(page) = page_token {
                pairs.append_pair("pageToken", page);
            }
        }
        self.call(token, self.request(Method::GET, url)).await
    }

    /// Every page of a listing, and the sync token from the last one.
    pub async fn list_all_events(
        &self,
        token: &SecretString,
        calendar_id: &str,
        query: &ListQuery,
        max_results: Option<u32>,
    ) -> Result<EventListing, CalendarError> {
        let mut listing = EventListing::default();
        let mut page_token: Option<String> = None;
        loop {
            let page = self
                .list_events(
                    token,
                    calendar_id,
                    query,
                    page_token.as_deref(),
                    max_results,
                )
                .await?;
            listing.items.extend(page.items);
            match page.next_page_token {
                Some(next) => page_token = Some(next),
                None => {
                    listing.next_sync_token = page.next_sync_token;
                    return Ok(listing);
                }
            }
        }
    }

    /// Busy spans of each calendar in `[time_min, time_max)`, keyed by the
    /// id as asked.
    pub async fn free_busy(
        &self,
        token: &SecretString,
        calendar_ids: &[&str],
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    ) -> Result<HashMap<String, CalendarBusy>, CalendarError> {
        let url = self.url(&["freeBusy"])?;
        let body = json!({
            "timeMin": rfc3339(time_min),
            "timeMax": rfc3339(time_max),
            "items": calendar_ids.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        });
        let answer: FreeBusyAnswer = self
            .call(token, self.request(Method::POST, url).json(&body))
            .await?;
        Ok(answer.calendars)
    }

    /// Asks Google to post a notification to `watch.address` whenever the
    /// calendar's events change.
    pub async fn watch_events(
        &self,
        token: &SecretString,
        calendar_id: &str,
        watch: &WatchRequest,
    ) -> Result<Channel, CalendarError> {
        let url = self.events_url(calendar_id, &["watch"])?;
        let mut body = json!({
            "id": watch.id,
            "type": "web_hook",
            "address": watch.address,
        });
        if let Some(secret) = &watch.token {
            body["token"] = json!(secret.expose_secret());
        }
        if let Some(expiration) = watch.expiration {
            body["expiration"] = json!(expiration.timestamp_millis().to_string());
        }
        self.call(token, self.request(Method::POST, url).json(&body))
            .await
    }

    /// Ends a push channel; an unknown one counts as ended already.
    pub async fn stop_channel(
        &self,
        token: &SecretString,
        channel_id: &str,
        resource_id: &str,
    ) -> Result<Deleted, CalendarError> {
        let url = self.url(&["channels", "stop"])?;
        let body = json!({ "id": channel_id, "resourceId": resource_id });
        match self
            .send(token, self.request(Method::POST, url).json(&body))
            .await
        {
            Ok(_) => Ok(Deleted::Deleted),
            Err(CalendarError::NotFound | CalendarError::Gone) => Ok(Deleted::AlreadyGone),
            Err(error) => Err(error),
        }
    }
}

/// How often and how patiently [`retry`] repeats a call: attempt `n`
/// (from 0) waits up to `base · 2^n`, capped at `cap`, drawn from the
/// upper half ("equal jitter") so callers that failed together spread out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait's ceiling.
    pub base: Duration,
    /// The longest wait; a `Retry-After` beyond it ends the retries.
    pub cap: Duration,
    /// Calls in all, the first included (at least one is made).
    pub attempts: u32,
}

impl RetryPolicy {
    /// The wait after failed attempt `n` (from 0) for a jitter draw in
    /// `[0, 1]`, or `None` to stop: the error is not retryable, the
    /// attempts are used up, or Google asked for a longer pause than `cap`
    /// (the caller's job queue should wait that out, not a held worker).
    pub fn delay(&self, n: u32, error: &CalendarError, draw: f64) -> Option<Duration> {
        if !error.is_retryable() || n.saturating_add(1) >= self.attempts {
            return None;
        }
        let ceiling = self
            .base
            .checked_mul(2_u32.saturating_pow(n))
            .unwrap_or(self.cap)
            .min(self.cap);
        let backoff = ceiling / 2 + (ceiling / 2).mul_f64(draw.clamp(0.0, 1.0));
        match error.retry_after() {
            Some(asked) if asked > self.cap => None,
            Some(asked) => Some(asked.max(backoff)),
            None => Some(backoff),
        }
    }
}

/// Calls `call` until it succeeds, fails for good, or the policy gives
/// up; answers the last result. Only retryable errors are repeated, so a
/// [`CalendarError::Conflict`] on insert or an
/// [`CalendarError::Unauthorized`] reaches the caller at once.
pub async fn retry<T, F, Fut>(policy: RetryPolicy, mut call: F) -> Result<T, CalendarError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CalendarError>>,
{
    let mut attempt = 0_u32;
    loop {
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        match policy.delay(attempt, &error, rand::random::<f64>()) {
            Some(wait) => {
                tracing::debug!(attempt, ?wait, %error, "retrying a Google Calendar call");
                tokio::time::sleep(wait).await;
                attempt = attempt.saturating_add(1);
            }
            None => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_are_valid_base32hex_and_stable() {
        let samples = [0, 1, 2, 31, 32, 42, 1_000_000, i64::MAX, -1, i64::MIN];
        let ids: Vec<String> = samples
            .iter()
            .map(|&n| deterministic_event_id(MeetingId(n)))
            .collect();
        for id in &ids {
            assert!(is_valid_event_id(id), "{id}");
            assert_eq!(id.len(), "schedmeet".len() + 13, "{id}");
        }
        let unique: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert_eq!(deterministic_event_id(MeetingId(42)), ids[5]);
        assert_eq!(
            deterministic_event_id(MeetingId(0)),
            "schedmeet0000000000000"
        );
        assert_eq!(
            deterministic_event_id(MeetingId(1)),
            "schedmeet0000000000002"
        );
        assert_eq!(
            deterministic_event_id(MeetingId(-1)),
            "schedmeetvvvvvvvvvvvvu"
        );
    }

    #[test]
    fn the_id_check_follows_google() {
        assert!(!is_valid_event_id("ab12"), "too short");
        assert!(is_valid_event_id("ab12c"));
        assert!(!is_valid_event_id("abcdw"), "w is beyond base32hex");
        assert!(!is_valid_event_id("ABCDE"), "upper case");
        assert!(!is_valid_event_id("abc-de"));
        assert!(is_valid_event_id(&"a".repeat(1024)));
        assert!(!is_valid_event_id(&"a".repeat(1025)));
    }

    fn google_error(code: u16, reason: &str) -> Vec<u8> {
        json!({
            "error": {
                "errors": [{ "domain": "global", "reason": reason, "message": "m" }],
                "code": code,
                "message": "m",
            }
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn statuses_map_to_what_the_caller_does() {
        let map = |code: u16, reason: &str| {
            CalendarError::from_answer(code, None, &google_error(code, reason))
        };
        assert_eq!(
            map(400, "timeRangeEmpty"),
            CalendarError::BadRequest("timeRangeEmpty".into())
        );
        assert_eq!(map(401, "authError"), CalendarError::Unauthorized);
        assert_eq!(
            map(403, "rateLimitExceeded"),
            CalendarError::RateLimited { retry_after: None }
        );
        assert_eq!(
            map(403, "userRateLimitExceeded"),
            CalendarError::RateLimited { retry_after: None }
        );
        assert_eq!(
            map(403, "insufficientPermissions"),
            CalendarError::Forbidden("insufficientPermissions".into())
        );
        assert_eq!(map(404, "notFound"), CalendarError::NotFound);
        assert_eq!(map(409, "duplicate"), CalendarError::Conflict);
        assert_eq!(map(410, "fullSyncRequired"), CalendarError::Gone);
        assert_eq!(map(500, "backendError"), CalendarError::Server(500));
        assert_eq!(map(503, "backendError"), CalendarError::Server(503));
        assert_eq!(
            map(412, "conditionNotMet"),
            CalendarError::Unexpected {
                status: 412,
                reason: "conditionNotMet".into()
            }
        );
        assert_eq!(
            CalendarError::from_answer(429, Some(Duration::from_secs(3)), b"not json"),
            CalendarError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(
            CalendarError::from_answer(400, None, b""),
            CalendarError::BadRequest(String::new())
        );
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        let retryable = [
            CalendarError::RateLimited { retry_after: None },
            CalendarError::Server(500),
            CalendarError::Server(503),
            CalendarError::Timeout,
            CalendarError::Network("reset".into()),
        ];
        assert!(retryable.iter().all(CalendarError::is_retryable));
        let final_ = [
            CalendarError::Unauthorized,
            CalendarError::Conflict,
            CalendarError::Gone,
            CalendarError::NotFound,
            CalendarError::BadRequest("invalid".into()),
            CalendarError::Forbidden("insufficientPermissions".into()),
            CalendarError::Server(501),
            CalendarError::InvalidResponse("eof".into()),
        ];
        assert!(!final_.iter().any(CalendarError::is_retryable));
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after(Some(" 7 ")), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn the_backoff_doubles_jitters_and_honours_retry_after() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            attempts: 6,
        };
        let server = CalendarError::Server(503);
        assert_eq!(
            policy.delay(0, &server, 0.0),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            policy.delay(0, &server, 1.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            policy.delay(2, &server, 1.0),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            policy.delay(4, &server, 1.0),
            Some(Duration::from_secs(1)),
            "capped"
        );
        assert_eq!(policy.delay(5, &server, 1.0), None, "six attempts made");
        assert_eq!(policy.delay(0, &CalendarError::Conflict, 1.0), None);
        let asked = |secs| CalendarError::RateLimited {
            retry_after: Some(Duration::from_millis(secs)),
        };
        assert_eq!(
            policy.delay(0, &asked(700), 0.0),
            Some(Duration::from_millis(700))
        );
        assert_eq!(
            policy.delay(3, &asked(10), 1.0),
            Some(Duration::from_millis(800))
        );
        assert_eq!(policy.delay(0, &asked(5_000), 0.0), None, "beyond the cap");
    }

    #[tokio::test]
    async fn retry_repeats_transient_errors_only() {
        let policy = RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
            attempts: 4,
        };
        let mut calls = 0;
        let result = retry(policy, || {
            calls += 1;
            let outcome = if calls < 3 {
                Err(CalendarError::Server(503))
            } else {
                Ok(calls)
            };
            async move { outcome }
        })
        .await;
        assert_eq!(result, Ok(3));

        let mut calls = 0;
        let result: Result<(), _> = retry(policy, || {
            calls += 1;
            async { Err(CalendarError::Conflict) }
        })
        .await;
        assert_eq!((result, calls), (Err(CalendarError::Conflict), 1));

        let mut calls = 0;
        let result: Result<(), _> = retry(policy, || {
            calls += 1;
            async { Err(CalendarError::Timeout) }
        })
        .await;
        assert_eq!((result, calls), (Err(CalendarError::Timeout), 4));
    }

    #[test]
    fn events_serialise_only_what_is_set_and_never_server_fields() {
        let mut event = Event {
            id: Some(deterministic_event_id(MeetingId(9))),
            summary: Some("Talk".into()),
            start: Some(EventTime::at(
                DateTime::<Utc>::from_timestamp(1_900_000_000, 0).unwrap(),
                Tz::Europe__Berlin,
            )),
            hangout_link: Some("https://meet.google.com/abc".into()),
            updated: Some(DateTime::<Utc>::UNIX_EPOCH),
            ..Event::default()
        };
        event.mark_meeting(MeetingId(9));
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(
            value,
            json!({
                "id": "schedmeet000000000000i",
                "summary": "Talk",
                "start": { "dateTime": "2030-03-17T17:46:40Z", "timeZone": "Europe/Berlin" },
                "extendedProperties": { "private": { "scheduler_meeting_id": "9" } },
            })
        );
        assert_eq!(event.meeting_id(), Some(MeetingId(9)));
        let tombstone: Event = serde_json::from_value(json!({
            "kind": "calendar#event",
            "id": "abcde",
            "status": "cancelled",
            "updated": "2030-01-01T10:00:00.000Z",
            "etag": "\"3\"",
        }))
        .unwrap();
        assert!(tombstone.is_cancelled());
        assert_eq!(tombstone.meeting_id(), None);
        let channel: Channel = serde_json::from_value(json!({
            "id": "c1", "resourceId": "r1", "expiration": "1900000000000",
        }))
        .unwrap();
        assert_eq!(
            channel.expiration,
            DateTime::<Utc>::from_timestamp(1_900_000_000, 0)
        );
    }

    #[test]
    fn the_base_url_gets_the_api_path() {
        let client = CalendarClient::new(
            Url::parse("http://127.0.0.1:9/?key=x").unwrap(),
            Duration::from_secs(1),
        )
        .unwrap();
        let url = client.events_url("a b#c@x.org", &["e1"]).map(String::from);
        assert_eq!(
            url.as_deref(),
            Ok("http://127.0.0.1:9/calendar/v3/calendars/a%20b%23c@x.org/events/e1")
        );
        let behind_proxy = CalendarClient::new(
            Url::parse("https://proxy.example/google").unwrap(),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            behind_proxy.url(&["freeBusy"]).map(String::from).as_deref(),
            Ok("https://proxy.example/google/calendar/v3/freeBusy")
        );
    }
}
