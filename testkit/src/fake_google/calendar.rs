//! Calendar v3 under `/calendar/v3/`: calendars.get, events
//! insert/get/update/patch/delete/list/watch, freeBusy and channels.stop,
//! with Google's rules on ids, times, conference data, sync tokens and
//! deleted events.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::oauth::{Ctx, Principal};
use super::state::{Calendar, Channel, Notification, State, StoredEvent};
use super::wire::{ApiError, Reply};

/// Default and largest page of `events.list`.
const DEFAULT_PAGE: usize = 250;
const MAX_PAGE: usize = 2500;

/// Fields only the server sets.
const READ_ONLY: &[&str] = &[
    "kind",
    "etag",
    "htmlLink",
    "created",
    "updated",
    "creator",
    "hangoutLink",
];

/// Filters that may not accompany a sync token.
const NOT_WITH_SYNC: &[&str] = &[
    "timeMin",
    "timeMax",
    "orderBy",
    "q",
    "updatedMin",
    "iCalUID",
    "privateExtendedProperty",
    "sharedExtendedProperty",
];

/// One Calendar API call, routed and authenticated.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub params: HashMap<String, String>,
    pub query: &'a [(String, String)],
    pub body: Option<Value>,
    pub principal: Principal,
}

impl Call<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(given, _)| given == name)
            .map(|(_, value)| value.as_str())
    }

    fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(given, _)| given == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    fn flag(&self, name: &str) -> bool {
        self.query(name)
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    fn conference_version(&self) -> i64 {
        self.query("conferenceDataVersion")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    }

    fn body_object(&self) -> Map<String, Value> {
        self.body
            .as_ref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }
}

/// RFC 3339 in UTC with milliseconds, as Google writes timestamps.
pub(crate) fn stamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Dispatches a Calendar method.
pub(crate) fn call(state: &mut State, ctx: &Ctx<'_>, call: &Call<'_>) -> Result<Reply, ApiError> {
    match call.method {
        "calendar.calendars.get" => calendar_get(state, call),
        "calendar.events.insert" => insert(state, ctx, call),
        "calendar.events.get" => get(state, call),
        "calendar.events.update" => update(state, ctx, call, false),
        "calendar.events.patch" => update(state, ctx, call, true),
        "calendar.events.delete" => delete(state, ctx, call),
        "calendar.events.list" => list(state, call),
        "calendar.events.watch" => watch(state, ctx, call),
        "calendar.channels.stop" => stop(state, call),
        "calendar.freebusy.query" => free_busy(state, call),
        other => Err(ApiError::not_implemented(other)),
    }
}

/// The calendar id behind `id` (`primary` is the principal's own), if the
/// principal may use it.
fn resolve_calendar(state: &State, principal: &Principal, id: &str) -> Result<String, ApiError> {
    let id = if id == "primary" {
        state.accounts.get(&principal.email).map_or_else(
            || principal.email.clone(),
            |account| account.primary_calendar.clone(),
        )
    } else {
        id.to_owned()
    };
    match state.calendars.get(&id) {
        Some(calendar) if calendar.can_write(&principal.email) => Ok(id),
        _ => Err(ApiError::not_found()),
    }
}

fn calendar_mut<'a>(state: &'a mut State, id: &str) -> Result<&'a mut Calendar, ApiError> {
    state.calendars.get_mut(id).ok_or_else(ApiError::not_found)
}

fn calendar_get(state: &State, call: &Call<'_>) -> Result<Reply, ApiError> {
    let id = resolve_calendar(state, &call.principal, call.param("calendarId"))?;
    let calendar = state.calendars.get(&id).ok_or_else(ApiError::not_found)?;
    Ok(Reply::Json(json!({
        "kind": "calendar#calendar",
        "etag": format!("\"{}\"", calendar.seq),
        "id": calendar.id,
        "summary": calendar.summary,
        "timeZone": calendar.time_zone,
        "conferenceProperties": { "allowedConferenceSolutionTypes": ["hangoutsMeet"] },
    })))
}

/// Event ids: base32hex characters (`a`-`v`, `0`-`9`), 5 to 1024 long.
fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'v').contains(&byte))
}

fn parse_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// The instant of an event's `start` or `end`.
fn instant(value: &Value, calendar_zone: &str, which: &str) -> Result<DateTime<Utc>, ApiError> {
    let zone_name = value["timeZone"].as_str();
    let zone = match zone_name {
        Some(name) => Some(parse_zone(name).ok_or_else(|| {
            ApiError::invalid(&format!("Invalid time zone definition for {which} time."))
        })?),
        None => None,
    };
    if let Some(text) = value["dateTime"].as_str() {
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            return Ok(time.with_timezone(&Utc));
        }
        let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|_| ApiError::invalid(&format!("Invalid {which} time.")))?;
        let zone = zone.ok_or_else(|| {
            ApiError::required(&format!("Missing time zone definition for {which} time."))
        })?;
        return zone
            .from_local_datetime(&local)
            .earliest()
            .map(|time| time.with_timezone(&Utc))
            .ok_or_else(|| ApiError::invalid(&format!("Invalid {which} time.")));
    }
    if let Some(text) = value["date"].as_str() {
        let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid(&format!("Invalid {which} time.")))?;
        let zone = zone
            .or_else(|| parse_zone(calendar_zone))
            .unwrap_or(Tz::UTC);
        return zone
            .from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map(|time| time.with_timezone(&Utc))
            .ok_or_else(|| ApiError::invalid(&format!("Invalid {which} time.")));
    }
    Err(ApiError::required(&format!("Missing {which} time.")))
}

/// `(start, end)` of an event resource, checked like Google does.
fn event_span(
    resource: &Value,
    calendar_zone: &str,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let start = instant(&resource["start"], calendar_zone, "start")?;
    let end = instant(&resource["end"], calendar_zone, "end")?;
    if end <= start {
        return Err(ApiError::google(
            400,
            "global",
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    Ok((start, end))
}

/// A Meet code like `abc-defg-hij`, stable for one request id.
fn meet_code(calendar: &str, event: &str, request_id: &str) -> String {
    let digest = Sha256::digest(format!("{calendar}\n{event}\n{request_id}").as_bytes());
    let letters: String = digest
        .iter()
        .take(10)
        .map(|byte| char::from(b'a' + byte % 26))
        .collect();
    format!("{}-{}-{}", &letters[..3], &letters[3..7], &letters[7..])
}

fn new_conference(calendar: &str, event: &str, request: &Value) -> Result<Value, ApiError> {
    let kind = request["conferenceSolutionKey"]["type"]
        .as_str()
        .unwrap_or("hangoutsMeet");
    if kind != "hangoutsMeet" {
        return Err(ApiError::invalid("Invalid conference type value."));
    }
    let request_id = request["requestId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            ApiError::invalid("Invalid conference create request: missing requestId.")
        })?;
    let code = meet_code(calendar, event, request_id);
    let uri = format!("https://meet.google.com/{code}");
    Ok(json!({
        "createRequest": {
            "requestId": request_id,
            "conferenceSolutionKey": { "type": "hangoutsMeet" },
            "status": { "statusCode": "success" },
        },
        "entryPoints": [{
            "entryPointType": "video",
            "uri": uri,
            "label": format!("meet.google.com/{code}"),
        }],
        "conferenceSolution": {
            "key": { "type": "hangoutsMeet" },
            "name": "Google Meet",
            "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
        },
        "conferenceId": code,
    }))
}

/// Applies Google's conference rules to the resource about to be stored:
/// with `conferenceDataVersion=0` the client's conference data is ignored
/// (and an existing conference kept); with 1 a `createRequest` makes a
/// Meet (the same one again for the same request id).
fn settle_conference(
    resource: &mut Map<String, Value>,
    incoming: Option<&Value>,
    existing: Option<&Value>,
    version: i64,
    replace: bool,
    calendar: &str,
    event: &str,
) -> Result<(), ApiError> {
    let kept = existing
        .map(|old| old["conferenceData"].clone())
        .filter(|data| !data.is_null());
    let data = if version < 1 {
        kept
    } else {
        match incoming {
            None => kept.filter(|_| !replace),
            Some(Value::Null) => None,
            Some(data) => {
                if data["createRequest"].is_object() {
                    let request_id = &data["createRequest"]["requestId"];
                    match kept {
                        Some(old) if &old["createRequest"]["requestId"] == request_id => Some(old),
                        _ => Some(new_conference(calendar, event, &data["createRequest"])?),
                    }
                } else {
                    Some(data.clone())
                }
            }
        }
    };
    resource.remove("hangoutLink");
    match data {
        Some(data) => {
            if let Some(uri) = data["entryPoints"]
                .as_array()
                .and_then(|points| {
                    points
                        .iter()
                        .find(|point| point["entryPointType"] == "video")
                })
                .and_then(|point| point["uri"].as_str())
            {
                resource.insert("hangoutLink".to_owned(), json!(uri));
            }
            resource.insert("conferenceData".to_owned(), data);
        }
        None => {
            resource.remove("conferenceData");
        }
    }
    Ok(())
}

/// Refuses attendees from a service account without delegation.
fn check_attendees(principal: &Principal, resource: &Map<String, Value>) -> Result<(), ApiError> {
    let has_attendees = resource
        .get("attendees")
        .and_then(Value::as_array)
        .is_some_and(|attendees| !attendees.is_empty());
    if principal.service_account && has_attendees {
        return Err(ApiError::forbidden(
            "forbiddenForServiceAccounts",
            "Service accounts cannot invite attendees without Domain-Wide Delegation of Authority.",
        ));
    }
    Ok(())
}

/// Refuses a new Meet to a service account without delegation: Google
/// answers such a `createRequest` with 400 `invalid` "Invalid conference
/// type value." (a service account acting as itself has no Meet).
fn check_conference(
    principal: &Principal,
    incoming: Option<&Value>,
    version: i64,
) -> Result<(), ApiError> {
    let creates = version >= 1 && incoming.is_some_and(|data| data["createRequest"].is_object());
    if principal.service_account && creates {
        return Err(ApiError::invalid("Invalid conference type value."));
    }
    Ok(())
}

/// Records a change of `calendar_id` and queues push notifications.
fn touched(state: &mut State, ctx: &Ctx<'_>, calendar_id: &str) -> u64 {
    let seq = match state.calendars.get_mut(calendar_id) {
        Some(calendar) => {
            calendar.seq += 1;
            calendar.seq
        }
        None => 0,
    };
    notify(state, ctx, calendar_id, None, "exists");
    seq
}

/// Queues a message for every live channel on the calendar (or only
/// `only`, for the `sync` message of a new channel).
fn notify(
    state: &mut State,
    ctx: &Ctx<'_>,
    calendar_id: &str,
    only: Option<&str>,
    resource_state: &str,
) {
    let now_ms = ctx.now.timestamp_millis();
    let api = ctx.base_url;
    let mut fresh = Vec::new();
    for channel in state.channels.values_mut() {
        if channel.calendar_id != calendar_id
            || channel.expiration <= now_ms
            || only.is_some_and(|only| only != channel.id)
        {
            continue;
        }
        channel.messages += 1;
        let mut headers = vec![
            ("X-Goog-Channel-ID".to_owned(), channel.id.clone()),
            (
                "X-Goog-Message-Number".to_owned(),
                channel.messages.to_string(),
            ),
            ("X-Goog-Resource-ID".to_owned(), channel.resource_id.clone()),
            (
                "X-Goog-Resource-State".to_owned(),
                resource_state.to_owned(),
            ),
            (
                "X-Goog-Resource-URI".to_owned(),
                format!(
                    "{api}/calendar/v3/calendars/{}/events?alt=json",
                    channel.calendar_id
                ),
            ),
            (
                "X-Goog-Channel-Expiration".to_owned(),
                DateTime::<Utc>::from_timestamp_millis(channel.expiration)
                    .map(|time| time.to_rfc2822())
                    .unwrap_or_default(),
            ),
        ];
        if let Some(token) = &channel.token {
            headers.push(("X-Goog-Channel-Token".to_owned(), token.clone()));
        }
        fresh.push(Notification {
            channel_id: channel.id.clone(),
            address: channel.address.clone(),
            resource_state: resource_state.to_owned(),
            message_number: channel.messages,
            headers,
            delivered: None,
        });
    }
    for notification in fresh {
        state.outbox.push(state.notifications.len());
        state.notifications.push(notification);
    }
}

fn insert(state: &mut State, ctx: &Ctx<'_>, call: &Call<'_>) -> Result<Reply, ApiError> {
    let calendar_id = resolve_calendar(state, &call.principal, call.param("calendarId"))?;
    let mut resource = call.body_object();
    let incoming_conference = resource.remove("conferenceData");
    for field in READ_ONLY {
        resource.remove(*field);
    }
    let id = match resource.get("id").and_then(Value::as_str) {
        Some(id) => {
            if !valid_event_id(id) {
                return Err(ApiError::invalid("Invalid resource id value."));
            }
            id.to_owned()
        }
        None => {
            let n = state.next();
            let digest = Sha256::digest(format!("{calendar_id}\n{n}").as_bytes());
            digest
                .iter()
                .take(13)
                .flat_map(|byte| [byte >> 4, byte & 15])
                .map(|nibble| {
                    char::from(if nibble < 10 {
                        b'0' + nibble
                    } else {
                        b'a' + nibble - 10
                    })
                })
                .collect()
        }
    };
    let calendar = state
        .calendars
        .get(&calendar_id)
        .ok_or_else(ApiError::not_found)?;
    if calendar.events.contains_key(&id) {
        return Err(ApiError::duplicate());
    }
    let zone = calendar.time_zone.clone();
    let owner = calendar.owner.clone();
    event_span(&Value::Object(resource.clone()), &zone)?;
    check_attendees(&call.principal, &resource)?;
    check_conference(
        &call.principal,
        incoming_conference.as_ref(),
        call.conference_version(),
    )?;
    settle_conference(
        &mut resource,
        incoming_conference.as_ref(),
        None,
        call.conference_version(),
        true,
        &calendar_id,
        &id,
    )?;
    let now = stamp(ctx.now);
    resource.insert("kind".to_owned(), json!("calendar#event"));
    resource.insert("id".to_owned(), json!(id));
    resource
        .entry("status")
        .or_insert_with(|| json!("confirmed"));
    resource.insert(
        "htmlLink".to_owned(),
        json!(format!(
            "https://www.google.com/calendar/event?eid={}",
            URL_SAFE_NO_PAD.encode(format!("{id} {calendar_id}"))
        )),
    );
    resource.insert("created".to_owned(), json!(now));
    resource.insert("updated".to_owned(), json!(now));
    resource.insert(
        "creator".to_owned(),
        json!({ "email": call.principal.email }),
    );
    resource.insert(
        "organizer".to_owned(),
        json!({ "email": owner, "self": true }),
    );
    resource
        .entry("iCalUID")
        .or_insert_with(|| json!(format!("{id}@google.com")));
    resource.entry("sequence").or_insert_with(|| json!(0));
    resource
        .entry("reminders")
        .or_insert_with(|| json!({ "useDefault": true }));
    resource
        .entry("eventType")
        .or_insert_with(|| json!("default"));
    let seq = touched(state, ctx, &calendar_id);
    resource.insert("etag".to_owned(), json!(format!("\"{seq}\"")));
    let resource = Value::Object(resource);
    calendar_mut(state, &calendar_id)?.events.insert(
        id,
        StoredEvent {
            resource: resource.clone(),
            changed: seq,
        },
    );
    Ok(Reply::Json(resource))
}

fn get(state: &State, call: &Call<'_>) -> Result<Reply, ApiError> {
    let calendar_id = resolve_calendar(state, &call.principal, call.param("calendarId"))?;
    state
        .calendars
        .get(&calendar_id)
        .and_then(|calendar| calendar.events.get(call.param("eventId")))
        .map(|event| Reply::Json(event.resource.clone()))
        .ok_or_else(ApiError::not_found)
}

/// RFC 7396 merge patch: objects merge, `null` removes, the rest replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn update(
    state: &mut State,
    ctx: &Ctx<'_>,
    call: &Call<'_>,
    patch: bool,
) -> Result<Reply, ApiError> {
    let calendar_id = resolve_calendar(state, &call.principal, call.param("calendarId"))?;
    let event_id = call.param("eventId").to_owned();
    let calendar = state
        .calendars
        .get(&calendar_id)
        .ok_or_else(ApiError::not_found)?;
    let zone = calendar.time_zone.clone();
    let existing = calendar
        .events
        .get(&event_id)
        .ok_or_else(ApiError::not_found)?
        .resource
        .clone();
    let mut incoming = call.body_object();
    let incoming_conference = incoming.remove("conferenceData");
    for field in READ_ONLY {
        incoming.remove(*field);
    }
    if incoming
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id != event_id)
    {
        return Err(ApiError::invalid("Invalid resource id value."));
    }
    let mut resource = if patch {
        let mut merged = existing.clone();
        merge(&mut merged, &Value::Object(incoming.clone()));
        merged.as_object().cloned().unwrap_or_default()
    } else {
        let mut replaced = incoming.clone();
        for kept in [
            "id",
            "created",
            "creator",
            "organizer",
            "iCalUID",
            "htmlLink",
            "eventType",
        ] {
            if let Some(value) = existing.get(kept) {
                replaced.insert(kept.to_owned(), value.clone());
            }
        }
        replaced
            .entry("status")
            .or_insert_with(|| existing["status"].clone());
        replaced
            .entry("reminders")
            .or_insert_with(|| json!({ "useDefault": true }));
        replaced
    };
    let (old_start, old_end) = event_span(&existing, &zone).unwrap_or_default();
    let (start, end) = event_span(&Value::Object(resource.clone()), &zone)?;
    check_attendees(&call.principal, &resource)?;
    check_conference(
        &call.principal,
        incoming_conference.as_ref(),
        call.conference_version(),
    )?;
    let current_sequence = existing["sequence"].as_i64().unwrap_or(0);
    let sequence = match incoming.get("sequence").and_then(Value::as_i64) {
        Some(given) if given < current_sequence => {
            return Err(ApiError::invalid(
                "Invalid sequence value. The specified sequence number is below the current \
                 sequence number of the resource.",
            ));
        }
        Some(given) => given,
        None if (start, end) != (old_start, old_end) => current_sequence + 1,
        None => current_sequence,
    };
    resource.insert("sequence".to_owned(), json!(sequence));
    settle_conference(
        &mut resource,
        incoming_conference.as_ref(),
        Some(&existing),
        call.conference_version(),
        // A full replace without conference data drops the conference (v1).
        !patch,
        &calendar_id,
        &event_id,
    )?;
    resource.insert("kind".to_owned(), json!("calendar#event"));
    resource.insert("updated".to_owned(), json!(stamp(ctx.now)));
    let seq = touched(state, ctx, &calendar_id);
    resource.insert("etag".to_owned(), json!(format!("\"{seq}\"")));
    let resource = Value::Object(resource);
    calendar_mut(state, &calendar_id)?.events.insert(
        event_id,
        StoredEvent {
            resource: resource.clone(),
            changed: seq,
        },
    );
    Ok(Reply::Json(resource))
}

fn delete(state: &mut State, ctx: &Ctx<'_>, call: &Call<'_>) -> Result<Reply, ApiError> {
    let calendar_id = resolve_calendar(state, &call.principal, call.param("calendarId"))?;
    let event_id = call.param("eventId").to_owned();
    let calendar = state
        .calendars
        .get(&calendar_id)
        .ok_or_else(ApiError::not_found)?;
    let event = calendar
        .events
        .get(&event_id)
        .ok_or_else(ApiError::not_found)?;
    if event.resource["status"] == "cancelled" {
        return Err(ApiError::deleted());
    }
    let seq = touched(state, ctx, &calendar_id);
    let now = stamp(ctx.now);
    if let Some(event) = calendar_mut(state, &calendar_id)?.events.get_mut(&event_id) {
        event.resource["status"] = json!("cancelled");
        event.resource["updated"] = json!(now);
        event.resource["etag"] = json!(format!("\"{seq}\""));
        event.changed = seq;
    }
    Ok(Reply::NoContent)
}

/// What a page token remembers: where the previous page ended, the change
/// counter when paging began (the eventual `nextSyncToken`), and the query.
#[derive(serde::Serialize, serde::Deserialize)]
struct PageToken {
    after: (i64, String),
    seq: u64,
    query: String,
}

fn query_fingerprint(call: &Call<'_>) -> String {
    let mut pairs: Vec<String> = call
        .query
        .iter()
        .filter(|(name, _)| name != "pageToken" && name != "maxResults")
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.sort();
    let digest =
        Sha256::digest(format!("{}\n{}", call.param("calendarId"), pairs.join("&")).as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

fn sync_token(calendar_id: &str, seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("fake-sync\n{calendar_id}\n{seq}"))
}

fn parse_sync_token(token: &str) -> Option<(String, u64)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let mut parts = text.splitn(3, '\n');
    (parts.next()? == "fake-sync").then_some(())?;
    let calendar = parts.next()?.to_owned();
    let seq = parts.next()?.parse().ok()?;
    Some((calendar, seq))
}

/// The short form of a deleted event in incremental results.
fn tombstone(resource: &Value) -> Value {
    json!({
        "kind": "calendar#event",
        "etag": resource["etag"],
        "id": resource["id"],
        "status": "cancelled",
        "updated": resource["updated"],
    })
}

fn matches_extended(resource: &Value, scope: &str, filters: &[&str]) -> bool {
    filters.iter().all(|filter| {
        filter.split_once('=').is_some_and(|(name, value)| {
            resource["extendedProperties"][scope][name].as_str() == Some(value)
        })
    })
}

fn list(state: &State, call: &Call<'_>) -> Result<Reply, ApiError> {
    let calendar_id = resolve_calendar(state, &call.principal, call.param("calendarId"))?;
    let calendar = state
        .calendars
        .get(&calendar_id)
        .ok_or_else(ApiError::not_found)?;
    let page_size = call
        .query("maxResults")
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE)
        .clamp(1, MAX_PAGE);
    if call.query("orderBy") == Some("startTime") && !call.flag("singleEvents") {
        return Err(ApiError::bad_request(
            "The requested ordering is not available for the particular query.",
        ));
    }
    let fingerprint = query_fingerprint(call);
    let page = match call.query("pageToken") {
        Some(token) => {
            let parsed = URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<PageToken>(&bytes).ok())
                .filter(|page| page.query == fingerprint)
                .ok_or_else(|| {
                    ApiError::invalid_parameter("pageToken", "Invalid page token value.")
                })?;
            Some(parsed)
        }
        None => None,
    };
    let snapshot = page.as_ref().map_or(calendar.seq, |page| page.seq);
    let since = match call.query("syncToken") {
        Some(token) => {
            if let Some(name) = NOT_WITH_SYNC.iter().find(|name| call.query(name).is_some()) {
                return Err(ApiError::bad_request(&format!(
                    "The syncToken parameter cannot be combined with {name}."
                )));
            }
            let (token_calendar, seq) = parse_sync_token(token).ok_or_else(|| {
                ApiError::invalid_parameter("syncToken", "Invalid sync token value.")
            })?;
            if token_calendar != calendar_id || seq < calendar.min_sync || seq > calendar.seq {
                return Err(ApiError::full_sync_required());
            }
            Some(seq)
        }
        None => None,
    };
    let time_min = call
        .query("timeMin")
        .and_then(|value| DateTime::parse_from_rfc3339(value).ok())
        .map(|time| time.with_timezone(&Utc));
    let time_max = call
        .query("timeMax")
        .and_then(|value| DateTime::parse_from_rfc3339(value).ok())
        .map(|time| time.with_timezone(&Utc));
    if let (Some(min), Some(max)) = (time_min, time_max)
        && max <= min
    {
        return Err(ApiError::bad_request("Bad Request"));
    }
    let updated_min = call
        .query("updatedMin")
        .and_then(|value| DateTime::parse_from_rfc3339(value).ok())
        .map(|time| time.with_timezone(&Utc));
    let show_deleted = call.flag("showDeleted");
    let text = call.query("q").map(str::to_lowercase);
    let private = call.query_all("privateExtendedProperty");
    let shared = call.query_all("sharedExtendedProperty");
    let ical = call.query("iCalUID");
    let mut items: Vec<((i64, String), Value)> = Vec::new();
    for (id, event) in &calendar.events {
        let resource = &event.resource;
        let cancelled = resource["status"] == "cancelled";
        let (start, end) = event_span(resource, &calendar.time_zone).unwrap_or_default();
        let key = (start.timestamp_millis(), id.clone());
        if let Some(seq) = since {
            if event.changed > seq && event.changed <= snapshot {
                items.push((
                    key,
                    if cancelled {
                        tombstone(resource)
                    } else {
                        resource.clone()
                    },
                ));
            }
            continue;
        }
        if cancelled && !show_deleted {
            continue;
        }
        if time_min.is_some_and(|min| end <= min) || time_max.is_some_and(|max| start >= max) {
            continue;
        }
        let updated = resource["updated"]
            .as_str()
            .and_then(|value| DateTime::parse_from_rfc3339(value).ok());
        if updated_min.is_some_and(|min| updated.is_none_or(|updated| updated < min)) {
            continue;
        }
        if let Some(text) = &text {
            let haystack = format!(
                "{} {} {}",
                resource["summary"].as_str().unwrap_or_default(),
                resource["description"].as_str().unwrap_or_default(),
                resource["location"].as_str().unwrap_or_default()
            )
            .to_lowercase();
            if !haystack.contains(text.as_str()) {
                continue;
            }
        }
        if ical.is_some_and(|uid| resource["iCalUID"].as_str() != Some(uid))
            || !matches_extended(resource, "private", &private)
            || !matches_extended(resource, "shared", &shared)
        {
            continue;
        }
        items.push((key, resource.clone()));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(page) = &page {
        items.retain(|(key, _)| key > &page.after);
    }
    let more = items.len() > page_size;
    items.truncate(page_size);
    let mut body = json!({
        "kind": "calendar#events",
        "etag": format!("\"{}\"", calendar.seq),
        "summary": calendar.summary,
        "updated": items
            .iter()
            .filter_map(|(_, item)| item["updated"].as_str())
            .max()
            .map_or_else(|| json!(null), |updated| json!(updated)),
        "timeZone": call.query("timeZone").unwrap_or(&calendar.time_zone),
        "accessRole": "owner",
        "defaultReminders": [],
    });
    if more {
        let after = items.last().map(|(key, _)| key.clone()).unwrap_or_default();
        let token = serde_json::to_vec(&PageToken {
            after,
            seq: snapshot,
            query: fingerprint,
        })
        .unwrap_or_default();
        body["nextPageToken"] = json!(URL_SAFE_NO_PAD.encode(token));
    } else {
        body["nextSyncToken"] = json!(sync_token(&calendar_id, snapshot));
    }
    if body["updated"].is_null() {
        body["updated"] = json!(stamp(DateTime::<Utc>::UNIX_EPOCH));
    }
    body["items"] = Value::Array(items.into_iter().map(|(_, item)| item).collect());
    Ok(Reply::Json(body))
}

fn watch(state: &mut State, ctx: &Ctx<'_>, call: &Call<'_>) -> Result<Reply, ApiError> {
    let calendar_id = resolve_calendar(state, &call.principal, call.param("calendarId"))?;
    let body = call.body_object();
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ApiError::required("Required channel id"))?
        .to_owned();
    let kind = body.get("type").and_then(Value::as_str).unwrap_or_default();
    if !matches!(kind, "web_hook" | "webhook") {
        return Err(ApiError::invalid(&format!("Invalid channel type: {kind}")));
    }
    let address = body
        .get("address")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::required("Required channel address"))?
        .to_owned();
    if !address.starts_with("https://") && !ctx.config.allow_http_push {
        return Err(ApiError::google(
            400,
            "global",
            "push.webhookUrlNotHttps",
            &format!("WebHook callback must be HTTPS: {address}"),
        ));
    }
    if state.channels.contains_key(&id) {
        return Err(ApiError::google(
            400,
            "global",
            "channelIdNotUnique",
            "Channel id not unique",
        ));
    }
    let expiration = body
        .get("expiration")
        .and_then(|value| {
            value
                .as_str()
                .and_then(|text| text.parse().ok())
                .or_else(|| value.as_i64())
        })
        .unwrap_or_else(|| (ctx.now + chrono::TimeDelta::days(7)).timestamp_millis());
    let resource_id = URL_SAFE_NO_PAD.encode(Sha256::digest(
        format!("resource\n{calendar_id}").as_bytes(),
    ))[..27]
        .to_owned();
    let token = body.get("token").and_then(Value::as_str).map(str::to_owned);
    let channel = Channel {
        id: id.clone(),
        resource_id: resource_id.clone(),
        calendar_id: calendar_id.clone(),
        address,
        token: token.clone(),
        expiration,
        messages: 0,
    };
    state.channels.insert(id.clone(), channel);
    notify(state, ctx, &calendar_id, Some(&id), "sync");
    let mut answer = json!({
        "kind": "api#channel",
        "id": id,
        "resourceId": resource_id,
        "resourceUri": format!("{}/calendar/v3/calendars/{calendar_id}/events?alt=json", ctx.base_url),
        "expiration": expiration.to_string(),
    });
    if let Some(token) = token {
        answer["token"] = json!(token);
    }
    Ok(Reply::Json(answer))
}

fn stop(state: &mut State, call: &Call<'_>) -> Result<Reply, ApiError> {
    let body = call.body_object();
    let id = body.get("id").and_then(Value::as_str).unwrap_or_default();
    let resource_id = body
        .get("resourceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match state.channels.get(id) {
        Some(channel) if channel.resource_id == resource_id => {
            state.channels.remove(id);
            Ok(Reply::NoContent)
        }
        _ => Err(ApiError::google(
            404,
            "global",
            "notFound",
            &format!("Channel '{id}' not found for project 'fake-project'"),
        )),
    }
}

fn free_busy(state: &State, call: &Call<'_>) -> Result<Reply, ApiError> {
    let body = call.body.clone().unwrap_or_default();
    let parse = |name: &str| {
        body[name]
            .as_str()
            .and_then(|value| DateTime::parse_from_rfc3339(value).ok())
            .map(|time| time.with_timezone(&Utc))
            .ok_or_else(|| ApiError::required(&format!("Missing {name} parameter.")))
    };
    let time_min = parse("timeMin")?;
    let time_max = parse("timeMax")?;
    if time_max <= time_min {
        return Err(ApiError::google(
            400,
            "global",
            "timeRangeEmpty",
            "The specified time range is empty.",
        ));
    }
    let mut calendars = Map::new();
    for item in body["items"].as_array().into_iter().flatten() {
        let requested = item["id"].as_str().unwrap_or_default();
        let entry = match resolve_calendar(state, &call.principal, requested)
            .ok()
            .and_then(|id| state.calendars.get(&id))
        {
            None => json!({ "errors": [{ "domain": "global", "reason": "notFound" }], "busy": [] }),
            Some(calendar) => {
                let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = calendar
                    .events
                    .values()
                    .map(|event| &event.resource)
                    .filter(|resource| {
                        resource["status"] != "cancelled"
                            && resource["transparency"] != "transparent"
                    })
                    .filter_map(|resource| event_span(resource, &calendar.time_zone).ok())
                    .filter(|(start, end)| *end > time_min && *start < time_max)
                    .map(|(start, end)| (start.max(time_min), end.min(time_max)))
                    .collect();
                spans.sort();
                let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
                for (start, end) in spans {
                    match merged.last_mut() {
                        Some(last) if start <= last.1 => last.1 = last.1.max(end),
                        _ => merged.push((start, end)),
                    }
                }
                json!({
                    "busy": merged
                        .into_iter()
                        .map(|(start, end)| json!({
                            "start": start.to_rfc3339_opts(SecondsFormat::Secs, true),
                            "end": end.to_rfc3339_opts(SecondsFormat::Secs, true),
                        }))
                        .collect::<Vec<_>>()
                })
            }
        };
        calendars.insert(requested.to_owned(), entry);
    }
    Ok(Reply::Json(json!({
        "kind": "calendar#freeBusy",
        "timeMin": time_min.to_rfc3339_opts(SecondsFormat::Millis, true),
        "timeMax": time_max.to_rfc3339_opts(SecondsFormat::Millis, true),
        "calendars": calendars,
    })))
}

/// The owner changes or deletes an event in Google's own UI (for two-way
/// sync tests): the same rules as the API, as the calendar's owner.
pub(crate) fn as_owner(
    state: &mut State,
    ctx: &Ctx<'_>,
    calendar_id: &str,
    event_id: Option<&str>,
    method: &str,
    body: Option<Value>,
) -> Result<Reply, ApiError> {
    let owner = state
        .calendars
        .get(calendar_id)
        .map(|calendar| calendar.owner.clone())
        .ok_or_else(ApiError::not_found)?;
    let mut params = HashMap::from([("calendarId".to_owned(), calendar_id.to_owned())]);
    if let Some(event_id) = event_id {
        params.insert("eventId".to_owned(), event_id.to_owned());
    }
    let call = Call {
        method,
        params,
        query: &[],
        body,
        principal: Principal {
            email: owner,
            scopes: vec!["https://www.googleapis.com/auth/calendar".to_owned()],
            service_account: false,
        },
    };
    self::call(state, ctx, &call)
}
