//! The Calendar client (`shared::google::calendar`) against the in-process
//! fake Google over real HTTP: events with Meet links under deterministic
//! ids, conflicts read back, moves, repeated deletes, full and incremental
//! listings, typed errors, free/busy and push channels, and the retry
//! helper under seeded chaos without a duplicate event.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use oauth2::PkceCodeChallenge;
use serde_json::{Value, json};
use shared::db::types::MeetingId;
use shared::google::SecretString;
use shared::google::calendar::{
    Attendee, CalendarClient, CalendarError, Deleted, Event, EventTime, ListQuery, RetryPolicy,
    SendUpdates, Transparency, WatchRequest, deterministic_event_id, retry,
};
use testkit::fake_google::{
    CALENDAR_SCOPE, Chaos, Consent, EMAIL_SCOPE, FakeGoogle, FakeGoogleConfig, Fault, FaultKind,
};
use url::Url;

const BERLIN: Tz = Tz::Europe__Berlin;
const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const REDIRECT: &str = "http://localhost:4567/oauth/google/callback";

/// A fake with Ann's calendar and a client for it.
async fn setup(http_timeout: Duration) -> (FakeGoogle, CalendarClient, SecretString) {
    let fake = FakeGoogle::start(FakeGoogleConfig::default().with_http_push()).await;
    fake.add_account_with(ANN, "Ann", BERLIN.name());
    let token = user_token(&fake, ANN).await;
    let client = CalendarClient::new(Url::parse(&fake.base_url()).unwrap(), http_timeout).unwrap();
    (fake, client, SecretString::from(token))
}

/// A user access token with full calendar access, through the consent
/// screen and the token endpoint.
async fn user_token(fake: &FakeGoogle, email: &str) -> String {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut url = Url::parse(&fake.auth_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &fake.client().client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", &format!("{CALENDAR_SCOPE} {EMAIL_SCOPE}"))
        .append_pair("state", "s1")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline");
    let location = fake
        .consent(url.as_str(), Consent::grant(email))
        .await
        .unwrap();
    let code = Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "code")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let client = fake.client();
    let body: Value = reqwest::Client::new()
        .post(fake.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
            ("code_verifier", verifier.secret().as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, day, hour, 0, 0).unwrap()
}

/// The bot's event for a meeting: deterministic id, marked, Bob invited.
fn meeting_event(meeting: i64, start: DateTime<Utc>) -> Event {
    let mut event = Event {
        id: Some(deterministic_event_id(MeetingId(meeting))),
        summary: Some(format!("Meeting {meeting}")),
        description: Some("Booked in Telegram".to_owned()),
        start: Some(EventTime::at(start, BERLIN)),
        end: Some(EventTime::at(start + TimeDelta::minutes(30), BERLIN)),
        attendees: vec![Attendee {
            email: BOB.to_owned(),
            response_status: Some("needsAction".to_owned()),
        }],
        ..Event::default()
    };
    event.mark_meeting(MeetingId(meeting));
    event
}

fn start_of(event: &Event) -> Option<DateTime<Utc>> {
    event.start.as_ref().and_then(|start| start.date_time)
}

/// The text of an error, checked for leaks of the token or a query.
fn safe_text(error: &CalendarError, token: &SecretString) -> String {
    use shared::google::ExposeSecret;
    let text = format!("{error} {error:?}");
    assert!(!text.contains(token.expose_secret()), "{text}");
    assert!(!text.contains("127.0.0.1"), "{text}");
    assert!(!text.contains('?'), "{text}");
    text
}

#[tokio::test]
async fn insert_conflict_update_patch_and_delete() {
    let (fake, client, token) = setup(Duration::from_secs(10)).await;
    let event = meeting_event(101, at(10, 9));
    let id = event.id.clone().unwrap();

    let made = client
        .insert_event(&token, "primary", &event, SendUpdates::All, true)
        .await
        .unwrap();
    assert_eq!(made.id.as_deref(), Some(id.as_str()));
    assert_eq!(made.meeting_id(), Some(MeetingId(101)));
    let meet = made.hangout_link.clone().unwrap();
    assert!(meet.starts_with("https://meet.google.com/"), "{meet}");
    assert_eq!(start_of(&made), Some(at(10, 9)));
    assert!(made.updated.is_some());
    let query = &fake
        .requests()
        .into_iter()
        .find(|request| request.method.as_deref() == Some("calendar.events.insert"))
        .unwrap()
        .query;
    assert!(query.contains("conferenceDataVersion=1"), "{query}");
    assert!(query.contains("sendUpdates=all"), "{query}");

    // The same insert again: the id is taken; reading it back gives ours.
    let again = client
        .insert_event(&token, "primary", &event, SendUpdates::All, true)
        .await;
    assert_eq!(again, Err(CalendarError::Conflict));
    assert!(!CalendarError::Conflict.is_retryable());
    let read = client.get_event(&token, "primary", &id).await.unwrap();
    assert_eq!(read.id, made.id);
    assert_eq!(read.hangout_link.as_deref(), Some(meet.as_str()));
    assert_eq!(fake.events(ANN).len(), 1);

    // Moved an hour later (PUT): the Meet stays, the sequence grows.
    let mut moved = read.clone();
    moved.start = Some(EventTime::at(at(10, 10), BERLIN));
    moved.end = Some(EventTime::at(at(10, 10) + TimeDelta::minutes(30), BERLIN));
    let updated = client
        .update_event(&token, "primary", &id, &moved, SendUpdates::All)
        .await
        .unwrap();
    assert_eq!(start_of(&updated), Some(at(10, 10)));
    assert_eq!(updated.hangout_link.as_deref(), Some(meet.as_str()));
    assert!(updated.sequence > read.sequence, "{updated:?}");
    assert_eq!(updated.attendees, event.attendees);
    let stored = fake.event(ANN, &id).unwrap();
    assert_eq!(stored["start"]["dateTime"], "2030-01-10T10:00:00Z");

    // A patch changes only what it sets.
    let patched = client
        .patch_event(
            &token,
            "primary",
            &id,
            &Event {
                summary: Some("Renamed".to_owned()),
                ..Event::default()
            },
            SendUpdates::None,
        )
        .await
        .unwrap();
    assert_eq!(patched.summary.as_deref(), Some("Renamed"));
    assert_eq!(patched.description, event.description);
    assert_eq!(start_of(&patched), Some(at(10, 10)));

    // Deleting twice is fine; a missing event counts as gone too.
    assert_eq!(
        client
            .delete_event(&token, "primary", &id, SendUpdates::All)
            .await,
        Ok(Deleted::Deleted)
    );
    assert_eq!(
        client
            .delete_event(&token, "primary", &id, SendUpdates::All)
            .await,
        Ok(Deleted::AlreadyGone)
    );
    assert_eq!(
        client
            .delete_event(&token, "primary", "neverthere1", SendUpdates::None)
            .await,
        Ok(Deleted::AlreadyGone)
    );
    assert!(
        client
            .get_event(&token, "primary", &id)
            .await
            .unwrap()
            .is_cancelled()
    );

    // Without a Meet request there is no link.
    let plain = client
        .insert_event(
            &token,
            ANN,
            &meeting_event(102, at(11, 9)),
            SendUpdates::None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(plain.hangout_link, None);
    fake.shutdown().await;
}

#[tokio::test]
async fn full_then_incremental_listing() {
    let (fake, client, token) = setup(Duration::from_secs(10)).await;
    for (meeting, start) in [(201, at(10, 9)), (202, at(10, 11)), (203, at(12, 9))] {
        client
            .insert_event(
                &token,
                "primary",
                &meeting_event(meeting, start),
                SendUpdates::None,
                true,
            )
            .await
            .unwrap();
    }
    let window = ListQuery::Full {
        time_min: at(10, 0),
        time_max: at(11, 0),
    };

    // Page by page: the sync token comes with the last page only.
    let first = client
        .list_events(&token, "primary", &window, None, Some(1))
        .await
        .unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.next_sync_token, None);
    let next = first.next_page_token.clone().unwrap();
    let second = client
        .list_events(&token, "primary", &window, Some(&next), Some(1))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.next_page_token, None);
    assert!(second.next_sync_token.is_some());
    let query = fake.requests().last().unwrap().query.clone();
    assert!(query.contains("singleEvents=true"), "{query}");

    let full = client
        .list_all_events(&token, "primary", &window, Some(1))
        .await
        .unwrap();
    let meetings: Vec<Option<MeetingId>> = full.items.iter().map(Event::meeting_id).collect();
    assert_eq!(
        meetings,
        [Some(MeetingId(201)), Some(MeetingId(202))],
        "the event outside the window is left out"
    );
    let sync_token = full.next_sync_token.unwrap();

    // The owner moves one event and deletes another in Google.
    let moved_id = deterministic_event_id(MeetingId(201));
    let deleted_id = deterministic_event_id(MeetingId(203));
    fake.move_event(ANN, &moved_id, at(10, 14), at(10, 15))
        .unwrap();
    fake.delete_event(ANN, &deleted_id).unwrap();
    let changes = client
        .list_all_events(
            &token,
            "primary",
            &ListQuery::Incremental {
                sync_token: sync_token.clone(),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(changes.items.len(), 2, "{changes:?}");
    let moved = changes
        .items
        .iter()
        .find(|event| event.id.as_deref() == Some(moved_id.as_str()))
        .unwrap();
    assert_eq!(start_of(moved), Some(at(10, 14)));
    assert!(!moved.is_cancelled());
    let deleted = changes
        .items
        .iter()
        .find(|event| event.id.as_deref() == Some(deleted_id.as_str()))
        .unwrap();
    assert!(deleted.is_cancelled(), "{deleted:?}");
    let query = fake.requests().last().unwrap().query.clone();
    assert!(
        query.contains("singleEvents=true") && !query.contains("timeMin"),
        "{query}"
    );

    // Nothing new since; then the token goes stale: 410, a full sync.
    let newer = changes.next_sync_token.unwrap();
    let quiet = client
        .list_all_events(
            &token,
            "primary",
            &ListQuery::Incremental {
                sync_token: newer.clone(),
            },
            None,
        )
        .await
        .unwrap();
    assert!(quiet.items.is_empty(), "{quiet:?}");
    fake.invalidate_sync_tokens(ANN);
    let stale = client
        .list_events(
            &token,
            "primary",
            &ListQuery::Incremental { sync_token: newer },
            None,
            None,
        )
        .await;
    assert_eq!(stale, Err(CalendarError::Gone));
    fake.shutdown().await;
}

#[tokio::test]
async fn refusals_are_typed_and_leak_nothing() {
    let (fake, client, token) = setup(Duration::from_secs(10)).await;

    // A malformed event: 400 with Google's reason, not worth a retry.
    let mut backwards = meeting_event(301, at(10, 9));
    backwards.end = Some(EventTime::at(at(10, 8), Tz::UTC));
    let error = client
        .insert_event(&token, "primary", &backwards, SendUpdates::None, true)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CalendarError::BadRequest("timeRangeEmpty".to_owned())
    );
    assert!(!error.is_retryable());
    safe_text(&error, &token);
    let mut bad_id = meeting_event(302, at(10, 9));
    bad_id.id = Some("wxyz-1".to_owned());
    let error = client
        .insert_event(&token, "primary", &bad_id, SendUpdates::None, false)
        .await
        .unwrap_err();
    assert_eq!(error, CalendarError::BadRequest("invalid".to_owned()));
    assert!(fake.events(ANN).is_empty());

    // Another's calendar: not found.
    let error = client
        .get_event(&token, "someone@example.com", "abcdefgh")
        .await
        .unwrap_err();
    assert_eq!(error, CalendarError::NotFound);

    // An expired token: 401, for the caller to refresh (not to retry).
    fake.expire_access_tokens();
    let error = client
        .get_event(&token, "primary", "abcdefgh")
        .await
        .unwrap_err();
    assert_eq!(error, CalendarError::Unauthorized);
    assert!(!error.is_retryable());
    safe_text(&error, &token);

    // A stale sync token in the query stays out of the error, too.
    let error = client
        .list_events(
            &token,
            "primary",
            &ListQuery::Incremental {
                sync_token: "secret-sync-token".to_owned(),
            },
            None,
            None,
        )
        .await
        .unwrap_err();
    assert!(!safe_text(&error, &token).contains("secret-sync-token"));

    // Nobody listening: a network error, retryable, without the URL.
    let port = fake.addr().port();
    fake.shutdown().await;
    let gone = CalendarClient::new(
        Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let error = gone
        .get_event(&token, "primary", "abcdefgh")
        .await
        .unwrap_err();
    assert!(
        matches!(error, CalendarError::Network(_) | CalendarError::Timeout),
        "{error:?}"
    );
    assert!(error.is_retryable());
    safe_text(&error, &token);
}

#[tokio::test]
async fn service_account_without_delegation_is_forbidden_to_invite() {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    let key = fake.add_service_account("robot@fake-project.iam.gserviceaccount.com", false);
    let assertion = key
        .assertion(
            &[CALENDAR_SCOPE],
            shared::clock::Clock::system().now(),
            None,
        )
        .unwrap();
    let body: Value = reqwest::Client::new()
        .post(fake.token_url())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = SecretString::from(body["access_token"].as_str().unwrap().to_owned());
    let client = CalendarClient::new(
        Url::parse(&fake.base_url()).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap();
    let error = client
        .insert_event(
            &token,
            "primary",
            &meeting_event(401, at(10, 9)),
            SendUpdates::None,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        CalendarError::Forbidden("forbiddenForServiceAccounts".to_owned())
    );
    assert!(!error.is_retryable());
    fake.shutdown().await;
}

#[tokio::test]
async fn free_busy_watch_and_stop() {
    let (fake, client, token) = setup(Duration::from_secs(10)).await;
    client
        .insert_event(
            &token,
            "primary",
            &meeting_event(501, at(10, 9)),
            SendUpdates::None,
            false,
        )
        .await
        .unwrap();
    let mut free = meeting_event(502, at(10, 12));
    free.transparency = Some(Transparency::Transparent);
    client
        .insert_event(&token, "primary", &free, SendUpdates::None, false)
        .await
        .unwrap();
    let busy = client
        .free_busy(&token, &[ANN, "nobody@example.com"], at(10, 0), at(11, 0))
        .await
        .unwrap();
    let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = busy[ANN]
        .busy
        .iter()
        .map(|span| (span.start, span.end))
        .collect();
    assert_eq!(spans, [(at(10, 9), at(10, 9) + TimeDelta::minutes(30))]);
    assert!(busy[ANN].errors.is_empty());
    assert_eq!(busy["nobody@example.com"].errors, ["notFound"]);

    let watch = WatchRequest {
        id: "channel-1".to_owned(),
        address: "http://127.0.0.1:9/google/push".to_owned(),
        token: Some(SecretString::from("verify-me".to_owned())),
        expiration: Some(at(20, 0)),
    };
    assert!(!format!("{watch:?}").contains("verify-me"));
    let channel = client
        .watch_events(&token, "primary", &watch)
        .await
        .unwrap();
    assert_eq!(channel.id, "channel-1");
    assert_eq!(channel.expiration, Some(at(20, 0)));
    assert!(!channel.resource_id.is_empty());
    let open = fake.channels();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].token.as_deref(), Some("verify-me"));
    assert_eq!(open[0].calendar_id, ANN);
    assert_eq!(
        client
            .stop_channel(&token, &channel.id, &channel.resource_id)
            .await,
        Ok(Deleted::Deleted)
    );
    assert_eq!(
        client
            .stop_channel(&token, &channel.id, &channel.resource_id)
            .await,
        Ok(Deleted::AlreadyGone)
    );
    assert!(fake.channels().is_empty());
    fake.shutdown().await;
}

/// One meeting's life under chaos, each call through the retry helper: an
/// insert whose conflict means "ours already", a move, a read-back.
async fn chaotic_meeting(
    client: &CalendarClient,
    token: &SecretString,
    policy: RetryPolicy,
    meeting: i64,
) -> Event {
    let event = meeting_event(meeting, at(10, 8) + TimeDelta::hours(meeting % 10));
    let id = event.id.clone().unwrap();
    let inserted = retry(policy, || {
        client.insert_event(token, "primary", &event, SendUpdates::All, true)
    })
    .await;
    let made = match inserted {
        Ok(made) => made,
        Err(CalendarError::Conflict) => retry(policy, || client.get_event(token, "primary", &id))
            .await
            .unwrap(),
        Err(error) => panic!("meeting {meeting}: {error:?}"),
    };
    let mut moved = made.clone();
    let start = at(15, 8) + TimeDelta::hours(meeting % 10);
    moved.start = Some(EventTime::at(start, BERLIN));
    moved.end = Some(EventTime::at(start + TimeDelta::minutes(45), BERLIN));
    retry(policy, || {
        client.update_event(token, "primary", &id, &moved, SendUpdates::All)
    })
    .await
    .unwrap();
    retry(policy, || client.get_event(token, "primary", &id))
        .await
        .unwrap()
}

#[tokio::test]
async fn retries_get_through_chaos_without_duplicates() {
    let policy = RetryPolicy {
        base: Duration::from_millis(5),
        cap: Duration::from_millis(40),
        attempts: 6,
    };
    let (mut timeouts, mut conflicts) = (0, 0);
    for seed in [11, 12, 13] {
        // A short client timeout: some faults are answers held past it.
        let (fake, client, token) = setup(Duration::from_millis(800)).await;
        // The first insert surely takes effect and loses its answer (the
        // retry meets its own event); chaos adds more of everything.
        fake.inject(Fault::on(
            "calendar.events.insert",
            FaultKind::Timeout {
                hold_ms: 3_000,
                applied: true,
            },
            1,
        ));
        fake.set_chaos(Chaos::new(seed, 0.3, 3).with_timeouts(Duration::from_secs(3)));
        let meetings: Vec<i64> = (600..610).collect();
        for &meeting in &meetings {
            let event = chaotic_meeting(&client, &token, policy, meeting).await;
            assert_eq!(event.meeting_id(), Some(MeetingId(meeting)));
            assert!(event.hangout_link.is_some(), "seed {seed}: {event:?}");
            assert_eq!(
                start_of(&event),
                Some(at(15, 8) + TimeDelta::hours(meeting % 10))
            );
        }
        let window = ListQuery::Full {
            time_min: at(15, 0),
            time_max: at(16, 0),
        };
        let listing = retry(policy, || {
            client.list_all_events(&token, "primary", &window, Some(4))
        })
        .await
        .unwrap();
        assert_eq!(listing.items.len(), meetings.len(), "seed {seed}");
        for &meeting in &meetings[..3] {
            let id = deterministic_event_id(MeetingId(meeting));
            let first = retry(policy, || {
                client.delete_event(&token, "primary", &id, SendUpdates::All)
            })
            .await
            .unwrap();
            assert!(matches!(first, Deleted::Deleted | Deleted::AlreadyGone));
        }
        fake.clear_chaos();
        assert!(fake.stats().injected_faults > 0, "seed {seed}");
        timeouts += fake.stats().abandoned;
        conflicts += fake
            .requests()
            .iter()
            .filter(|request| {
                request.method.as_deref() == Some("calendar.events.insert")
                    && request.status == Some(409)
            })
            .count();

        // Exactly one event per meeting, under its deterministic id.
        let stored = fake.events(ANN);
        let ids: BTreeSet<String> = stored
            .iter()
            .map(|event| event["id"].as_str().unwrap().to_owned())
            .collect();
        let expected: BTreeSet<String> = meetings
            .iter()
            .map(|&meeting| deterministic_event_id(MeetingId(meeting)))
            .collect();
        assert_eq!(ids, expected, "seed {seed}");
        assert_eq!(stored.len(), meetings.len(), "seed {seed}");
        let cancelled = stored
            .iter()
            .filter(|event| event["status"] == json!("cancelled"))
            .count();
        assert_eq!(cancelled, 3, "seed {seed}");
        fake.shutdown().await;
    }
    assert!(timeouts >= 3 && conflicts >= 3, "{timeouts} {conflicts}");
}
