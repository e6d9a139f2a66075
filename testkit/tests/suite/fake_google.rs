//! The fake Google behaves like the real one: OAuth (through the `oauth2`
//! crate, as the bot will use it) and Calendar v3 over real HTTP.

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::{Value, json};
use testkit::fake_google::{
    CALENDAR_SCOPE, Chaos, Consent, EMAIL_SCOPE, FakeGoogle, FakeGoogleConfig, Fault, FaultKind,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use url::Url;

const WAIT: Duration = Duration::from_secs(10);
const ANN: &str = "ann@example.com";
const REDIRECT: &str = "http://localhost:4567/oauth/google/callback";

/// The adapter the bot needs too: oauth2 5 over the shared reqwest 0.13.
async fn http(request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await?.to_vec();
    Ok(builder.body(body).unwrap())
}

async fn fake() -> FakeGoogle {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    fake
}

/// A user token for `email` with full calendar access (straight through
/// the protocol, no oauth2 crate).
async fn user_token(fake: &FakeGoogle, email: &str) -> String {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = authorize_url(fake, challenge.as_str(), "xyz");
    let location = fake.consent(&url, Consent::grant(email)).await.unwrap();
    let code = query_value(&location, "code").unwrap();
    let client = fake.client();
    let (status, body) = form(
        &fake.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client.client_id),
            ("client_secret", &client.client_secret),
            ("code_verifier", verifier.secret()),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn authorize_url(fake: &FakeGoogle, challenge: &str, state: &str) -> String {
    let mut url = Url::parse(&fake.auth_url()).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &fake.client().client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", &format!("{CALENDAR_SCOPE} {EMAIL_SCOPE}"))
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline");
    url.into()
}

fn query_value(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

async fn form(url: &str, fields: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// An API call: (status, JSON body or null).
async fn api(
    fake: &FakeGoogle,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/calendar/v3/{path}", fake.base_url()))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(fake: &FakeGoogle, token: &str, path: &str) -> (u16, Value) {
    api(fake, token, reqwest::Method::GET, path, None).await
}

async fn post(fake: &FakeGoogle, token: &str, path: &str, body: Value) -> (u16, Value) {
    api(fake, token, reqwest::Method::POST, path, Some(body)).await
}

fn event(id: &str, hour: u32) -> Value {
    json!({
        "id": id,
        "summary": format!("Meeting {id}"),
        "start": { "dateTime": format!("2030-01-10T{hour:02}:00:00Z") },
        "end": { "dateTime": format!("2030-01-10T{hour:02}:30:00Z") },
    })
}

fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn consent_code_pkce_refresh_and_revoke_through_the_oauth2_crate() {
    let fake = fake().await;
    let registered = fake.client();
    let client = BasicClient::new(ClientId::new(registered.client_id.clone()))
        .set_client_secret(ClientSecret::new(registered.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(fake.auth_url()).unwrap())
        .set_token_uri(TokenUrl::new(fake.token_url()).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(CALENDAR_SCOPE.to_owned()))
        .add_scope(Scope::new(EMAIL_SCOPE.to_owned()))
        .add_extra_param("access_type", "offline")
        .set_pkce_challenge(challenge)
        .url();
    let location = fake
        .consent(url.as_str(), Consent::grant(ANN))
        .await
        .unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        query_value(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_value(&location, "code").unwrap();
    let verifier_copy = PkceCodeVerifier::new(verifier.secret().clone());

    let token = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let access = token.access_token().secret().clone();
    let refresh = token.refresh_token().unwrap().clone();
    assert!(token.expires_in().is_some());

    // The token reaches the primary calendar and tells the email.
    let (status, calendar) = get(&fake, &access, "calendars/primary").await;
    assert_eq!(status, 200, "{calendar}");
    assert_eq!(calendar["id"], ANN);
    let info: Value = reqwest::Client::new()
        .get(fake.userinfo_url())
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], ANN);

    // Codes are single-use.
    let reused = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier_copy)
        .request_async(&http)
        .await;
    match reused {
        Err(RequestTokenError::ServerResponse(error)) => {
            assert_eq!(*error.error(), BasicErrorResponseType::InvalidGrant);
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }

    // Refresh gives a new access token (and no new refresh token).
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(refreshed.access_token().secret(), &access);
    assert!(refreshed.refresh_token().is_none());

    // Revoke; then refresh is invalid_grant and the access token is dead.
    // oauth2 refuses a revocation URL that is not HTTPS, so the revoke is a
    // plain form POST (token in the body), as the bot does it.
    let (status, _) = form(&fake.revoke_url(), &[("token", refresh.secret())]).await;
    assert_eq!(status, 200);
    match client
        .exchange_refresh_token(&refresh)
        .request_async(&http)
        .await
    {
        Err(RequestTokenError::ServerResponse(error)) => {
            assert_eq!(*error.error(), BasicErrorResponseType::InvalidGrant);
            assert_eq!(
                error.error_description().map(String::as_str),
                Some("Token has been expired or revoked.")
            );
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
    let (status, body) = get(
        &fake,
        refreshed.access_token().secret(),
        "calendars/primary",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(reason(&body), "authError");

    // The client secret never travelled in a URL.
    let secret = &registered.client_secret;
    assert!(
        fake.requests()
            .iter()
            .all(|request| !request.query.contains(secret.as_str()))
    );
    assert_eq!(fake.calls("oauth.token"), 4);
}

#[tokio::test]
async fn the_token_endpoint_checks_verifier_redirect_and_client() {
    let fake = fake().await;
    let client = fake.client();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let location = fake
        .consent(
            &authorize_url(&fake, challenge.as_str(), "s1"),
            Consent::grant(ANN),
        )
        .await
        .unwrap();
    let code = query_value(&location, "code").unwrap();
    let exchange = |code: String, verifier: String, redirect: &'static str, secret: String| {
        let url = fake.token_url();
        let id = client.client_id.clone();
        async move {
            form(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    let wrong_verifier = "x".repeat(50);
    let (status, body) = exchange(
        code.clone(),
        wrong_verifier,
        REDIRECT,
        client.client_secret.clone(),
    )
    .await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    assert_eq!(body["error_description"], "Invalid code verifier.");
    let (status, body) = exchange(
        code.clone(),
        verifier.secret().clone(),
        REDIRECT,
        "wrong".to_owned(),
    )
    .await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    let (status, body) = exchange(
        code.clone(),
        verifier.secret().clone(),
        "http://localhost:4567/other",
        client.client_secret.clone(),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("redirect_uri_mismatch"))
    );
    let (status, body) = form(&fake.token_url(), &[("grant_type", "password")]).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("unsupported_grant_type"))
    );
    let (status, body) = form(&fake.revoke_url(), &[("token", "nonsense")]).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_token")));
}

#[tokio::test]
async fn the_consent_screen_validates_denies_and_waits_for_a_decision() {
    let fake = fake().await;
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = authorize_url(&fake, challenge.as_str(), "st");
    let denied = fake.consent(&url, Consent::deny()).await.unwrap();
    assert_eq!(
        query_value(&denied, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_value(&denied, "state").as_deref(), Some("st"));
    assert!(query_value(&denied, "code").is_none());

    let broken = |from: &str, to: &str| url.replace(from, to);
    let cases = [
        (broken("client_id=", "client_id=x"), 401, "invalid_client"),
        (
            broken("4567%2Foauth", "4567%2Fevil"),
            400,
            "redirect_uri_mismatch",
        ),
        (
            broken("response_type=code", "response_type=token"),
            400,
            "unsupported_response_type",
        ),
        (broken("S256", "plain"), 400, "invalid_request"),
        (broken("state=st", "state="), 400, "invalid_request"),
        (format!("{url}&bogus=1"), 400, "invalid_request"),
    ];
    for (bad, status, error) in cases {
        let result = fake.consent(&bad, Consent::grant(ANN)).await;
        let error_seen = result.unwrap_err();
        assert_eq!(error_seen.status, status, "{bad}");
        assert!(
            error_seen.body.as_str().unwrap().contains(error),
            "{bad}: {}",
            error_seen.body
        );
    }

    // No decision: a page with the accounts; the control API decides it.
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().contains(ANN));
    let pending = fake.pending_consents();
    assert_eq!(pending.len(), 1);
    let decided: Value = reqwest::Client::new()
        .post(format!(
            "{}/control/consents/{}",
            fake.base_url(),
            pending[0].id
        ))
        .json(&json!({ "email": ANN, "grant": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let location = decided["location"].as_str().unwrap();
    assert!(query_value(location, "code").is_some(), "{location}");
    assert!(fake.pending_consents().is_empty());
}

#[tokio::test]
async fn service_accounts_use_signed_assertions() {
    let fake = fake().await;
    let key = fake.add_service_account("robot@fake-project.iam.gserviceaccount.com", false);
    let now = shared::clock::Clock::system().now();
    let assertion = key.assertion(&[CALENDAR_SCOPE], now, None).unwrap();
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let (status, body) = form(
        &fake.token_url(),
        &[("grant_type", grant), ("assertion", &assertion)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, calendar) = get(&fake, &token, "calendars/primary").await;
    assert_eq!((status, &calendar["id"]), (200, &json!(key.client_email)));
    // Without delegation it may not invite attendees.
    let mut with_guest = event("guest001", 9);
    with_guest["attendees"] = json!([{ "email": ANN }]);
    let (status, body) = post(&fake, &token, "calendars/primary/events", with_guest).await;
    assert_eq!(
        (status, reason(&body)),
        (403, "forbiddenForServiceAccounts")
    );

    let mut tampered = assertion.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, body) = form(
        &fake.token_url(),
        &[("grant_type", grant), ("assertion", &tampered)],
    )
    .await;
    assert_eq!(
        (status, &body["error_description"]),
        (400, &json!("Invalid JWT Signature."))
    );
    let stale = key
        .assertion(&[CALENDAR_SCOPE], now - TimeDelta::hours(2), None)
        .unwrap();
    let (status, body) = form(
        &fake.token_url(),
        &[("grant_type", grant), ("assertion", &stale)],
    )
    .await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    let acting = key.assertion(&[CALENDAR_SCOPE], now, Some(ANN)).unwrap();
    let (status, body) = form(
        &fake.token_url(),
        &[("grant_type", grant), ("assertion", &acting)],
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("unauthorized_client"))
    );
}

#[tokio::test]
async fn expired_and_missing_tokens_get_401() {
    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    let missing = reqwest::get(format!("{}/calendar/v3/calendars/primary", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    fake.expire_access_tokens();
    let (status, body) = get(&fake, &token, "calendars/primary").await;
    assert_eq!((status, reason(&body)), (401, "authError"));
    assert_eq!(body["error"]["code"], 401);
}

#[tokio::test]
async fn events_insert_get_update_patch_delete() {
    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    let path = "calendars/primary/events";
    let (status, created) = post(&fake, &token, path, event("meeting0001", 9)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        (&created["status"], &created["sequence"]),
        (&json!("confirmed"), &json!(0))
    );
    let (status, body) = post(&fake, &token, path, event("meeting0001", 10)).await;
    assert_eq!((status, reason(&body)), (409, "duplicate"));
    let (status, body) = post(&fake, &token, path, event("Not_Base32", 10)).await;
    assert_eq!((status, reason(&body)), (400, "invalid"));
    let mut backwards = event("reversed01", 10);
    backwards["end"] = json!({ "dateTime": "2030-01-10T09:00:00Z" });
    let (status, body) = post(&fake, &token, path, backwards).await;
    assert_eq!((status, reason(&body)), (400, "timeRangeEmpty"));

    let one = "calendars/primary/events/meeting0001";
    let (status, got) = get(&fake, &token, one).await;
    assert_eq!(
        (status, &got["summary"]),
        (200, &json!("Meeting meeting0001"))
    );
    let mut moved = event("meeting0001", 11);
    moved["summary"] = json!("Moved");
    let (status, updated) = api(&fake, &token, reqwest::Method::PUT, one, Some(moved)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (&updated["summary"], &updated["sequence"]),
        (&json!("Moved"), &json!(1))
    );
    let (status, patched) = api(
        &fake,
        &token,
        reqwest::Method::PATCH,
        one,
        Some(json!({ "description": "agenda" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&patched["summary"], &patched["description"]),
        (&json!("Moved"), &json!("agenda"))
    );
    let (status, body) = api(
        &fake,
        &token,
        reqwest::Method::PATCH,
        one,
        Some(json!({ "sequence": 0 })),
    )
    .await;
    assert_eq!((status, reason(&body)), (400, "invalid"));

    let (status, _) = api(&fake, &token, reqwest::Method::DELETE, one, None).await;
    assert_eq!(status, 204);
    let (status, got) = get(&fake, &token, one).await;
    assert_eq!((status, &got["status"]), (200, &json!("cancelled")));
    let (status, body) = api(&fake, &token, reqwest::Method::DELETE, one, None).await;
    assert_eq!((status, reason(&body)), (410, "deleted"));
    let (status, body) = api(
        &fake,
        &token,
        reqwest::Method::DELETE,
        "calendars/primary/events/unknown1",
        None,
    )
    .await;
    assert_eq!((status, reason(&body)), (404, "notFound"));
    let (status, _) = post(&fake, &token, path, event("meeting0001", 9)).await;
    assert_eq!(status, 409, "a cancelled event keeps its id");
    let (status, _) = get(
        &fake,
        &token,
        "calendars/bob@example.com/events/meeting0001",
    )
    .await;
    assert_eq!(status, 404, "another person's calendar is not reachable");
}

#[tokio::test]
async fn list_pages_and_incremental_sync() {
    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    for (index, id) in ["evta0", "evtb0", "evtc0", "evtd0", "evte0"]
        .iter()
        .enumerate()
    {
        let (status, _) = post(
            &fake,
            &token,
            "calendars/primary/events",
            event(id, 8 + index as u32),
        )
        .await;
        assert_eq!(status, 200);
    }
    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    let sync_token = loop {
        let mut path = "calendars/primary/events?maxResults=2&singleEvents=true".to_owned();
        if let Some(token) = &page_token {
            path.push_str(&format!("&pageToken={token}"));
        }
        let (status, page) = get(&fake, &token, &path).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["nextPageToken"].as_str() {
            Some(next) => {
                assert!(
                    page.get("nextSyncToken").is_none(),
                    "sync token only on the last page"
                );
                page_token = Some(next.to_owned());
            }
            None => break page["nextSyncToken"].as_str().unwrap().to_owned(),
        }
    };
    assert_eq!(seen, ["evta0", "evtb0", "evtc0", "evtd0", "evte0"]);

    // Changes: one by the client, one moved and one deleted by the owner in Google.
    let (status, _) = post(
        &fake,
        &token,
        "calendars/primary/events",
        event("evtf0", 14),
    )
    .await;
    assert_eq!(status, 200);
    let start = Utc.with_ymd_and_hms(2030, 1, 11, 9, 0, 0).unwrap();
    fake.move_event(ANN, "evtb0", start, start + TimeDelta::minutes(30))
        .unwrap();
    fake.delete_event(ANN, "evtc0").unwrap();
    let (status, changes) = get(
        &fake,
        &token,
        &format!("calendars/primary/events?syncToken={sync_token}"),
    )
    .await;
    assert_eq!(status, 200, "{changes}");
    let items = changes["items"].as_array().unwrap();
    let by_id = |id: &str| items.iter().find(|item| item["id"] == id).cloned();
    assert_eq!(items.len(), 3, "{changes}");
    assert_eq!(by_id("evtc0").unwrap()["status"], "cancelled");
    assert_eq!(
        by_id("evtb0").unwrap()["start"]["dateTime"],
        "2030-01-11T09:00:00Z"
    );
    assert!(by_id("evtf0").is_some());
    let next = changes["nextSyncToken"].as_str().unwrap();
    let (_, quiet) = get(
        &fake,
        &token,
        &format!("calendars/primary/events?syncToken={next}"),
    )
    .await;
    assert_eq!(quiet["items"], json!([]));

    let (status, _) = get(
        &fake,
        &token,
        &format!("calendars/primary/events?syncToken={next}&timeMin=2030-01-01T00:00:00Z"),
    )
    .await;
    assert_eq!(status, 400);
    fake.invalidate_sync_tokens(ANN);
    let (status, body) = get(
        &fake,
        &token,
        &format!("calendars/primary/events?syncToken={next}"),
    )
    .await;
    assert_eq!((status, reason(&body)), (410, "fullSyncRequired"));
    // A full list leaves the deleted one out unless asked.
    let (_, full) = get(
        &fake,
        &token,
        "calendars/primary/events?timeMin=2030-01-10T10:00:00Z",
    )
    .await;
    let ids: Vec<&str> = full["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["evtd0", "evte0", "evtf0", "evtb0"]);
}

#[tokio::test]
async fn a_meet_link_needs_a_create_request_and_version_1() {
    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    let with_request = |id: &str| {
        let mut body = event(id, 9);
        body["conferenceData"] = json!({
            "createRequest": { "requestId": format!("req-{id}"), "conferenceSolutionKey": { "type": "hangoutsMeet" } }
        });
        body
    };
    let (status, plain) = post(
        &fake,
        &token,
        "calendars/primary/events?sendUpdates=all",
        with_request("nomeet01"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        plain.get("hangoutLink").is_none() && plain.get("conferenceData").is_none(),
        "{plain}"
    );
    let (status, meet) = post(
        &fake,
        &token,
        "calendars/primary/events?conferenceDataVersion=1",
        with_request("meet0001"),
    )
    .await;
    assert_eq!(status, 200);
    let link = meet["hangoutLink"].as_str().unwrap();
    assert!(link.starts_with("https://meet.google.com/"), "{link}");
    assert_eq!(meet["conferenceData"]["entryPoints"][0]["uri"], link);
    // A later patch without conference data keeps the meeting's link.
    let (_, patched) = api(
        &fake,
        &token,
        reqwest::Method::PATCH,
        "calendars/primary/events/meet0001",
        Some(json!({ "summary": "x" })),
    )
    .await;
    assert_eq!(patched["hangoutLink"], link);
}

#[tokio::test]
async fn requests_are_checked_against_the_discovery_document() {
    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    let (status, body) = get(&fake, &token, "calendars/primary/events?bogus=1").await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown name \"bogus\""),
        "{body}"
    );
    let (status, body) = get(&fake, &token, "calendars/primary/events?maxResults=many").await;
    assert_eq!((status, reason(&body)), (400, "invalidParameter"));
    let (status, _) = get(&fake, &token, "calendars/primary/events?maxResults=0").await;
    assert_eq!(status, 400);
    let (status, _) = post(
        &fake,
        &token,
        "calendars/primary/events?sendUpdates=sometimes",
        event("abcde1", 9),
    )
    .await;
    assert_eq!(status, 400);
    let mut wrong_type = event("abcde2", 9);
    wrong_type["summary"] = json!(5);
    let (status, body) = post(&fake, &token, "calendars/primary/events", wrong_type).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resource.summary"),
        "{body}"
    );
    let mut unknown = event("abcde3", 9);
    unknown["summmary"] = json!("typo");
    let (status, body) = post(&fake, &token, "calendars/primary/events", unknown).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert!(fake.events(ANN).is_empty(), "nothing was stored");
}

#[tokio::test]
async fn free_busy_watch_and_stop() {
    let fake = FakeGoogle::start(FakeGoogleConfig::default().with_http_push()).await;
    fake.add_account(ANN);
    let token = user_token(&fake, ANN).await;
    for (id, hour) in [("slot1a", 9), ("slot2b", 10), ("slot3c", 14)] {
        post(&fake, &token, "calendars/primary/events", event(id, hour)).await;
    }
    let mut overlapping = event("slot4d", 9);
    overlapping["end"] = json!({ "dateTime": "2030-01-10T10:15:00Z" });
    post(&fake, &token, "calendars/primary/events", overlapping).await;
    let (status, busy) = post(
        &fake,
        &token,
        "freeBusy",
        json!({
            "timeMin": "2030-01-10T00:00:00Z",
            "timeMax": "2030-01-11T00:00:00Z",
            "items": [{ "id": ANN }, { "id": "nobody@example.com" }],
        }),
    )
    .await;
    assert_eq!(status, 200, "{busy}");
    assert_eq!(
        busy["calendars"][ANN]["busy"],
        json!([
            { "start": "2030-01-10T09:00:00Z", "end": "2030-01-10T10:30:00Z" },
            { "start": "2030-01-10T14:00:00Z", "end": "2030-01-10T14:30:00Z" },
        ])
    );
    assert_eq!(
        busy["calendars"]["nobody@example.com"]["errors"][0]["reason"],
        "notFound"
    );

    let (status, channel) = post(&fake, &token, "calendars/primary/events/watch", json!({
        "id": "chan-1", "type": "web_hook", "address": "http://127.0.0.1:9/push", "token": "verify-me",
    })).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["kind"], "api#channel");
    post(
        &fake,
        &token,
        "calendars/primary/events",
        event("afterchan1", 16),
    )
    .await;
    let states: Vec<String> = fake
        .notifications()
        .iter()
        .map(|n| n.resource_state.clone())
        .collect();
    assert_eq!(states, ["sync", "exists"]);
    let stop = json!({ "id": "chan-1", "resourceId": channel["resourceId"] });
    let (status, _) = post(&fake, &token, "channels/stop", stop.clone()).await;
    assert_eq!(status, 204);
    let (status, _) = post(&fake, &token, "channels/stop", stop).await;
    assert_eq!(status, 404);

    let strict = FakeGoogle::start(FakeGoogleConfig::default()).await;
    strict.add_account(ANN);
    let token = user_token(&strict, ANN).await;
    let (status, body) = post(
        &strict,
        &token,
        "calendars/primary/events/watch",
        json!({
            "id": "chan-2", "type": "web_hook", "address": "http://127.0.0.1:9/push",
        }),
    )
    .await;
    assert_eq!((status, reason(&body)), (400, "push.webhookUrlNotHttps"));
}

/// The statuses of `calls` reads of the primary calendar under chaos.
async fn chaos_run(seed: u64, calls: usize) -> Vec<u16> {
    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    fake.set_chaos(Chaos::new(seed, 0.5, 2));
    let mut statuses = Vec::new();
    for _ in 0..calls {
        statuses.push(get(&fake, &token, "calendars/primary").await.0);
    }
    statuses
}

#[tokio::test]
async fn chaos_is_reproducible_and_capped() {
    let first = chaos_run(7, 40).await;
    assert_eq!(
        first,
        chaos_run(7, 40).await,
        "the same seed fails the same calls"
    );
    assert!(first.iter().any(|&status| status != 200), "{first:?}");
    assert!(
        first
            .iter()
            .all(|status| [200, 403, 429, 500, 503].contains(status)),
        "{first:?}"
    );
    // Never more than two failures in a row for one request.
    assert!(first.windows(3).all(|run| run.contains(&200)), "{first:?}");

    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    fake.set_chaos(Chaos::new(1, 1.0, 2));
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(get(&fake, &token, "calendars/primary").await.0);
        }
        statuses
    };
    assert_eq!(
        statuses.iter().map(|&s| s == 200).collect::<Vec<_>>(),
        [false, false, true, false, false, true]
    );
    // Another request key has its own run.
    fake.clear_chaos();
    assert_eq!(fake.stats().injected_faults, 4);
}

#[tokio::test]
async fn scripted_faults_and_a_timeout_after_the_effect() {
    let fake = fake().await;
    let token = user_token(&fake, ANN).await;
    fake.inject(Fault::on(
        "calendar.events.insert",
        FaultKind::Status(503),
        2,
    ));
    let path = "calendars/primary/events";
    assert_eq!(
        post(&fake, &token, path, event("retri00001", 9)).await.0,
        503
    );
    assert_eq!(
        post(&fake, &token, path, event("retri00001", 9)).await.0,
        503
    );
    assert_eq!(
        post(&fake, &token, path, event("retri00001", 9)).await.0,
        200
    );
    fake.inject(Fault::on("calendar.", FaultKind::RateLimitForbidden, 1));
    let (status, body) = get(&fake, &token, "calendars/primary").await;
    assert_eq!((status, reason(&body)), (403, "rateLimitExceeded"));

    // The answer is lost after the event was made: the retry meets a 409.
    fake.inject(Fault::on(
        "calendar.events.insert",
        FaultKind::Timeout {
            hold_ms: 5_000,
            applied: true,
        },
        1,
    ));
    let lost = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap()
        .post(format!("{}/calendar/v3/{path}", fake.base_url()))
        .bearer_auth(&token)
        .json(&event("lostresult1", 10))
        .send()
        .await;
    assert!(lost.is_err_and(|error| error.is_timeout()));
    assert!(fake.event(ANN, "lostresult1").is_some());
    assert_eq!(
        post(&fake, &token, path, event("lostresult1", 10)).await.0,
        409
    );
    assert_eq!(fake.calls("calendar.events.insert"), 5);
    fake.shutdown().await;
}

#[tokio::test]
async fn the_binary_announces_its_address_and_serves() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-google"))
        .args(["--port", "0", "--auto-consent", ANN])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(WAIT, BufReader::new(stdout).read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("fake-google listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let created: Value = reqwest::Client::new()
        .post(format!("{base}/control/accounts"))
        .json(&json!({ "email": "bob@example.com" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["primary_calendar"], "bob@example.com");
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}
