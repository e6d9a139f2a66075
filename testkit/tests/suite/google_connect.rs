//! Connecting Google Calendar through the real binaries and the fake
//! Google, on both databases: `/calendar` gives a consent link (code +
//! PKCE, a single-use `state`), the browser comes back to the bot's
//! callback, the connection is stored with its tokens encrypted, the chat
//! is told, and Disconnect revokes the grant and forgets it. Forged,
//! replayed, expired, denied and incomplete callbacks get an error page and
//! store nothing. The token source refreshes and persists expired access
//! tokens, and marks a revoked grant broken and asks to reconnect. No log
//! line holds a token, code, state or the client secret.

use std::time::Duration;

use chrono::TimeDelta;
use diesel::prelude::*;
use shared::clock::{self, Clock};
use shared::config::{Config, Env};
use shared::db::Db;
use shared::db::google_connections::{self, ConnectionStatus, GoogleConnection};
use shared::db::schema::{google_connections as connections_table, oauth_states};
use shared::db::types::UserId;
use shared::db::users::User;
use shared::domain::user::{Language, Role};
use shared::google::ExposeSecret;
use shared::google::crypto::TokenCipher;
use shared::google::oauth::{GoogleOAuth, OAuthError};
use shared::google::tokens::{TokenError, TokenSource, stored_refresh_token};
use testkit::db::TestDb;
use testkit::fake_google::{Consent, DEFAULT_CLIENT_SECRET, FakeGoogle, FakeGoogleConfig};
use testkit::fake_telegram::BotMessage;
use testkit::google_people::link;
use testkit::people::{Person, WAIT};
use testkit::records::{SeedUser, audit_actions};
use testkit::stack::{Stack, StackConfig, TOKEN};
use url::Url;

const OWNER: i64 = 7501;
const MANAGER: i64 = 7502;
const ANN: &str = "ann@example.com";

/// The deployment's settings as the binaries read them (for the test's
/// own cipher and OAuth client).
fn settings(fake: &FakeGoogle) -> Config {
    let mut pairs = fake.deployment_env();
    pairs.push(("TELEGRAM_BOT_TOKEN".to_owned(), TOKEN.to_owned()));
    Config::from_env(&Env::from_pairs(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
    .unwrap()
}

fn cipher(fake: &FakeGoogle) -> TokenCipher {
    TokenCipher::new(settings(fake).google.token_encryption_key.as_ref().unwrap())
}

fn oauth(fake: &FakeGoogle) -> GoogleOAuth {
    let config = settings(fake);
    GoogleOAuth::from_config(&config.google, &config.http, Duration::from_secs(5))
        .unwrap()
        .unwrap()
}

/// A fake Google with Ann's account, and a deployment (bot + worker)
/// pointed at it.
async fn start(db: TestDb) -> (Stack, FakeGoogle) {
    let fake = FakeGoogle::start(FakeGoogleConfig::default()).await;
    fake.add_account(ANN);
    let config = StackConfig {
        env: fake.deployment_env(),
        ..StackConfig::default()
    };
    let mut stack = Stack::new(db, config).await;
    stack.start_bot().await;
    stack.start_worker().await;
    (stack, fake)
}

async fn seed(db: &Db, telegram_id: i64, first_name: &str, role: Role) -> User {
    SeedUser::new(telegram_id, first_name, "Smith")
        .role(Some(role))
        .language(Language::En)
        .department_named("IT")
        .insert(db)
        .await
}

/// A browser that does not follow redirects: (status, body).
async fn browse(url: &str) -> (u16, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 || status == 400 {
        let kind = response.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert_eq!(kind, "text/html; charset=utf-8");
    }
    (status, response.text().await.unwrap())
}

fn query_value(url: &str, name: &str) -> Option<String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `url` without query parameter `name`.
fn without(url: &str, name: &str) -> String {
    let mut parsed = Url::parse(url).unwrap();
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(key, _)| key != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept);
    parsed.into()
}

async fn connection(db: &Db, user: UserId) -> Option<GoogleConnection> {
    db.read(move |c| google_connections::find(c, user))
        .await
        .unwrap()
}

async fn connection_count(db: &Db) -> i64 {
    db.read(|c| Ok(connections_table::table.count().get_result(c)?))
        .await
        .unwrap()
}

/// `/calendar`, then the consent link: the screen and the link.
async fn consent_link(person: &Person, label: &str, expected: &str) -> (BotMessage, String) {
    let screen = person.says("/calendar", expected).await;
    let url = link(&screen, label);
    (screen, url)
}

/// Ann connects her calendar: the link, Google's consent, the callback
/// page, the chat message. Returns the callback address the browser used.
async fn connects(person: &Person, fake: &FakeGoogle, label: &str, expected: &str) -> String {
    let (_, url) = consent_link(person, label, expected).await;
    assert!(url.starts_with(&fake.auth_url()), "{url}");
    let location = fake.consent(&url, Consent::grant(ANN)).await.unwrap();
    assert!(
        location.contains("/oauth/google/callback?"),
        "Google sends the browser to the bot: {location}"
    );
    let after = person.last_message_id();
    let (status, page) = browse(&location).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Calendar connected"), "{page}");
    assert!(page.contains(ANN), "{page}");
    person
        .gets_after(after, &format!("Calendar connected: {ANN}"))
        .await;
    location
}

/// Every log line of the deployment, checked for each secret.
fn assert_logs_hold_none_of(stack: &Stack, secrets: &[(&str, &str)]) {
    stack.assert_no_secret_in_logs();
    let logs = stack.all_logs();
    assert!(!logs.is_empty());
    for (what, secret) in secrets {
        assert!(secret.len() >= 8, "{what} is too short to grep for");
        for line in &logs {
            assert!(
                !line.contains(secret),
                "a log line holds the {what}: {line}"
            );
        }
    }
}

/// The whole happy path: link, consent, callback page, chat message, the
/// row with encrypted tokens, the audit; a replayed callback is refused;
/// the token source hands out the stored token, refreshes an expired one
/// and persists it; Disconnect revokes at Google and forgets; no secret in
/// any log line.
async fn an_owner_connects_and_disconnects_google_calendar(db: TestDb) {
    let (stack, fake) = start(db).await;
    let db = stack.db.db.clone();
    let ann = seed(&db, OWNER, "Ann", Role::Owner).await;
    let person = Person::new(&stack, OWNER, "Ann", "en");

    let location = connects(
        &person,
        &fake,
        "🔗 Connect Google Calendar",
        "not connected",
    )
    .await;

    // Stored: active, whose, encrypted under the configured key.
    let stored = connection(&db, ann.id).await.unwrap();
    assert_eq!(stored.status, ConnectionStatus::Active);
    assert_eq!(stored.google_email.as_deref(), Some(ANN));
    assert_eq!(stored.calendar_id, ANN);
    let cipher = cipher(&fake);
    assert_eq!(stored.key_id.as_deref(), Some(cipher.key_id()));
    let refresh = stored_refresh_token(&cipher, &stored).unwrap();
    let refresh = refresh.expose_secret().to_owned();
    assert!(
        refresh.starts_with("1//0fakeRefresh"),
        "a real refresh token"
    );
    let refresh_enc = stored.refresh_token_enc.clone().unwrap();
    let access_enc = stored.access_token_enc.clone().unwrap();
    for bytes in [&refresh_enc, &access_enc] {
        for clear in [&refresh[..], "1//0fake", "ya29."] {
            assert!(
                !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "a stored token is readable in clear"
            );
        }
    }
    assert!(stored.access_token_expires_at.is_some());
    assert!(
        audit_actions(&db, ann.id)
            .await
            .contains(&"calendar.connected".to_owned())
    );

    // The same callback again: the state is spent.
    let (status, page) = browse(&location).await;
    assert_eq!(status, 400);
    assert!(page.contains("already used"), "{page}");
    let unchanged = connection(&db, ann.id).await.unwrap();
    assert_eq!(unchanged.refresh_token_enc, Some(refresh_enc.clone()));
    assert_eq!(connection_count(&db).await, 1);

    // The token source: the stored token while it lives …
    let clock = Clock::with_offset_file(stack.clock_file());
    let source = TokenSource::new(
        db.clone(),
        stack.queue().await,
        clock,
        oauth(&fake),
        cipher.clone(),
    );
    let token_calls = fake.calls("oauth.token");
    let first = source.access_token(ann.id, "test-1").await.unwrap();
    assert!(first.expose_secret().starts_with("ya29."));
    assert_eq!(fake.calls("oauth.token"), token_calls, "no refresh needed");
    // … and a refreshed one once it has expired, stored encrypted.
    clock::write_offset(&stack.clock_file(), TimeDelta::hours(2)).unwrap();
    let second = source.access_token(ann.id, "test-2").await.unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert_eq!(fake.calls("oauth.token"), token_calls + 1);
    let refreshed = connection(&db, ann.id).await.unwrap();
    assert_ne!(refreshed.access_token_enc, Some(access_enc));
    assert_eq!(refreshed.refresh_token_enc, Some(refresh_enc));
    assert!(refreshed.access_token_expires_at > stored.access_token_expires_at);
    let identity = oauth(&fake).identity(&second).await.unwrap();
    assert_eq!(identity.email, ANN, "the refreshed token works");
    let third = source.access_token(ann.id, "test-3").await.unwrap();
    assert_eq!(third.expose_secret(), second.expose_secret(), "persisted");

    // Disconnect: asked first, then revoked at Google and forgotten.
    person
        .says("/calendar", &format!("connected as {ANN}"))
        .await;
    person
        .presses_button("🔌 Disconnect", "Disconnect Google Calendar")
        .await;
    let (_, toast) = person
        .presses_button("🔌 Yes, disconnect", "access revoked, tokens deleted")
        .await;
    assert_eq!(toast.as_deref(), Some("Disconnected"));
    assert_eq!(connection(&db, ann.id).await, None);
    fake.wait_for_stats(|stats| stats.calls.get("oauth.revoke") >= Some(&1), WAIT)
        .await
        .unwrap();
    // The bot revokes after its commit, in the background: wait until the
    // old refresh token is refused, then no grant may be left.
    let refresh_secret = shared::google::SecretString::from(refresh.clone());
    let deadline = tokio::time::Instant::now() + WAIT;
    while !matches!(
        oauth(&fake).refresh(&refresh_secret).await,
        Err(OAuthError::InvalidGrant { .. })
    ) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the grant was never revoked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(fake.revoke_account(ANN), 0, "no grant of Ann's left alive");
    assert!(
        audit_actions(&db, ann.id)
            .await
            .contains(&"calendar.disconnected".to_owned())
    );
    assert!(matches!(
        source.access_token(ann.id, "test-4").await,
        Err(TokenError::NotConnected)
    ));
    // The screen offers a new link.
    let (screen, _) = consent_link(&person, "🔗 Connect Google Calendar", "not connected").await;
    assert!(screen.text.contains("10 minutes"), "{}", screen.text);

    let code = query_value(&location, "code").unwrap();
    let state = query_value(&location, "state").unwrap();
    assert_logs_hold_none_of(
        &stack,
        &[
            ("refresh token", &refresh),
            ("access token", first.expose_secret()),
            ("refreshed access token", second.expose_secret()),
            ("authorization code", &code),
            ("state", &state),
            ("client secret", DEFAULT_CLIENT_SECRET),
        ],
    );
}

/// Missing, forged, denied, incomplete, replayed and expired callbacks:
/// an error page with the reason, status 400, nothing stored. A manager
/// gets the screen too, in a manager's words.
async fn refused_callbacks_store_nothing(db: TestDb) {
    let (stack, fake) = start(db).await;
    let db = stack.db.db.clone();
    let ann = seed(&db, OWNER, "Ann", Role::Owner).await;
    seed(&db, MANAGER, "Max", Role::Manager).await;
    let person = Person::new(&stack, OWNER, "Ann", "en");
    let port = stack.bot.as_ref().unwrap().http_port().await;
    let callback = format!("http://127.0.0.1:{port}/oauth/google/callback");

    let (status, page) = browse(&callback).await;
    assert_eq!(status, 400);
    assert!(page.contains("carries no sign-in request"), "{page}");
    let (status, page) = browse(&format!("{callback}?state=forged-state&code=4/0Afake")).await;
    assert_eq!(status, 400);
    assert!(page.contains("sign-in request is unknown"), "{page}");

    // Ann presses Cancel on Google's screen.
    let (_, url) = consent_link(&person, "🔗 Connect Google Calendar", "not connected").await;
    let location = fake.consent(&url, Consent::deny()).await.unwrap();
    assert_eq!(
        query_value(&location, "error").as_deref(),
        Some("access_denied")
    );
    let (status, page) = browse(&location).await;
    assert_eq!(status, 400);
    assert!(page.contains("did not allow access"), "{page}");
    assert!(page.contains("Nothing was stored"), "{page}");

    // A callback without its code, then the same state with it: spent.
    let (_, url) = consent_link(&person, "🔗 Connect Google Calendar", "not connected").await;
    let location = fake.consent(&url, Consent::grant(ANN)).await.unwrap();
    let (status, page) = browse(&without(&location, "code")).await;
    assert_eq!(status, 400);
    assert!(page.contains("no authorization code"), "{page}");
    let (status, page) = browse(&location).await;
    assert_eq!(status, 400);
    assert!(page.contains("already used"), "{page}");

    // A link used after its 10 minutes.
    let (_, url) = consent_link(&person, "🔗 Connect Google Calendar", "not connected").await;
    clock::write_offset(&stack.clock_file(), TimeDelta::minutes(11)).unwrap();
    let location = fake.consent(&url, Consent::grant(ANN)).await.unwrap();
    let (status, page) = browse(&location).await;
    assert_eq!(status, 400);
    assert!(page.contains("expired"), "{page}");

    assert_eq!(connection_count(&db).await, 0, "nothing stored");
    assert!(
        !audit_actions(&db, ann.id)
            .await
            .contains(&"calendar.connected".to_owned())
    );
    assert_eq!(fake.calls("oauth.token"), 0, "no code was exchanged");
    let spent: i64 = db
        .read(|c| {
            Ok(oauth_states::table
                .filter(oauth_states::used_at.is_not_null())
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(
        spent, 2,
        "the denied and the code-less callbacks spent their states"
    );

    // A manager may connect too (their busy times then filter slots).
    let max = Person::new(&stack, MANAGER, "Max", "en");
    let (screen, url) = consent_link(&max, "🔗 Connect Google Calendar", "not connected").await;
    assert!(
        screen.text.contains("left out of the slots"),
        "{}",
        screen.text
    );
    assert!(url.starts_with(&fake.auth_url()));

    assert_logs_hold_none_of(
        &stack,
        &[
            ("state", &query_value(&location, "state").unwrap()),
            (
                "authorization code",
                &query_value(&location, "code").unwrap(),
            ),
            ("client secret", DEFAULT_CLIENT_SECRET),
        ],
    );
}

/// A grant revoked in Google: the token source marks the connection
/// broken (audited) and the owner is asked to reconnect, once; `/calendar`
/// says so and offers a new link that restores the connection.
async fn a_revoked_grant_asks_the_owner_to_reconnect(db: TestDb) {
    let (stack, fake) = start(db).await;
    let db = stack.db.db.clone();
    let ann = seed(&db, OWNER, "Ann", Role::Owner).await;
    let person = Person::new(&stack, OWNER, "Ann", "en");
    connects(
        &person,
        &fake,
        "🔗 Connect Google Calendar",
        "not connected",
    )
    .await;

    assert_eq!(
        fake.revoke_account(ANN),
        1,
        "Ann removes the bot's access in Google"
    );
    let source = TokenSource::new(
        db.clone(),
        stack.queue().await,
        Clock::with_offset_file(stack.clock_file()),
        oauth(&fake),
        cipher(&fake),
    );
    let after = person.last_message_id();
    assert!(matches!(
        source.refreshed_access_token(ann.id, "revoked-1").await,
        Err(TokenError::NowBroken { .. })
    ));
    let broken = connection(&db, ann.id).await.unwrap();
    assert_eq!(broken.status, ConnectionStatus::Broken);
    assert_eq!(broken.access_token_enc, None);
    assert!(broken.broken_reason.unwrap().contains("revoked"));
    person
        .gets_after(after, "Google Calendar stopped working")
        .await;
    // Asked once: later calls find it broken and say nothing.
    assert!(matches!(
        source.access_token(ann.id, "revoked-2").await,
        Err(TokenError::Broken { .. })
    ));
    let actions = audit_actions(&db, ann.id).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "calendar.broken").count(),
        1,
        "{actions:?}"
    );

    // Reconnecting from the status screen makes it work again.
    connects(&person, &fake, "🔗 Reconnect", "stopped working").await;
    let restored = connection(&db, ann.id).await.unwrap();
    assert_eq!(restored.status, ConnectionStatus::Active);
    assert_eq!(restored.broken_reason, None);
    let token = source.access_token(ann.id, "restored").await.unwrap();
    assert_eq!(oauth(&fake).identity(&token).await.unwrap().email, ANN);
    assert_eq!(
        person
            .messages_with("Google Calendar stopped working")
            .len(),
        1,
        "the reconnect request came once"
    );
}

/// Without Google settings the screen and the callback say so.
async fn without_google_the_screen_says_it_is_not_set_up(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    seed(&db, OWNER, "Ann", Role::Owner).await;
    let person = Person::new(&stack, OWNER, "Ann", "en");
    let screen = person.says("/calendar", "not set up on this server").await;
    assert!(screen.buttons.is_empty());
    let port = stack.bot.as_ref().unwrap().http_port().await;
    let (status, page) = browse(&format!(
        "http://127.0.0.1:{port}/oauth/google/callback?state=x&code=y"
    ))
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("not set up on this server"), "{page}");
    assert_eq!(connection_count(&db).await, 0);
}

on_both_backends!(
    an_owner_connects_and_disconnects_google_calendar,
    refused_callbacks_store_nothing,
    a_revoked_grant_asks_the_owner_to_reconnect,
    without_google_the_screen_says_it_is_not_set_up,
);
