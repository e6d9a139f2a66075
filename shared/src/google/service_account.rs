//! A service account's access token (the JWT-bearer grant, RFC 7523):
//! the bot signs a short assertion with the account's private key (RS256:
//! `iss` = the account's email, `scope` = Calendar, `aud` = the token
//! endpoint, at most an hour long) and trades it for an access token.
//!
//! One token serves every owner whose calendar is shared with the account,
//! so it is kept in memory until shortly before it expires; callers
//! arriving while it is being fetched wait for that one fetch instead of
//! starting their own. Nothing is stored: a restart simply signs anew.
//!
//! No `sub` claim is sent (no domain-wide delegation): the account acts as
//! itself on calendars shared with it, which is why Google refuses it
//! guests and Meet links (the calendar sync degrades, see the worker).
//!
//! Errors never contain the key, the assertion or a token: only Google's
//! error code and a short description stay.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::clock::Clock;
use crate::config::ServiceAccountKey;

/// Full Calendar access (events on shared calendars).
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// The grant type of RFC 7523.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an assertion claims to be valid (Google's limit is an hour).
const ASSERTION_LIFETIME: TimeDelta = TimeDelta::minutes(60);

/// A token this close to its expiry is fetched anew first, so a request
/// made with it does not fail half-way.
const EXPIRY_MARGIN: TimeDelta = TimeDelta::seconds(120);

/// When Google does not say how long a token lives: its usual hour.
const DEFAULT_LIFETIME: TimeDelta = TimeDelta::hours(1);

/// A forced refresh this soon after a fetch reuses that fetch's token.
const RECENT_FETCH: TimeDelta = TimeDelta::seconds(10);

/// Longest error description kept from Google's answer.
const MAX_DESCRIPTION: usize = 200;

/// Why no service-account token could be had. Never holds the key, an
/// assertion or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceAccountError {
    /// The configured private key is not an RSA key in PEM form.
    #[error("the service-account private key is not a usable RSA key (PEM)")]
    InvalidKey,
    /// Google refused the assertion or the account (`invalid_grant`: key
    /// deleted or clock skew; `unauthorized_client`, ...).
    #[error("Google refused the service account ({status} {error}): {description}")]
    Rejected {
        status: u16,
        error: String,
        description: String,
    },
    /// The answer was not what the protocol promises.
    #[error("unexpected answer from Google's token endpoint: {0}")]
    Unexpected(String),
    /// Google could not be reached or did not answer in time.
    #[error("cannot reach Google's token endpoint: {0}")]
    Transport(String),
}

impl ServiceAccountError {
    /// Worth trying again later (network trouble, Google's 5xx or 429);
    /// a refused key or account needs an operator.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Rejected { status, .. } => *status >= 500 || *status == 429,
            Self::InvalidKey | Self::Unexpected(_) => false,
        }
    }
}

/// The claims of one assertion.
#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

/// A token in hand and when it stops working.
struct Cached {
    token: SecretString,
    fetched_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

struct Inner {
    email: String,
    key: EncodingKey,
    token_url: Url,
    http: reqwest::Client,
    clock: Clock,
    /// The token in hand; the lock is held while a new one is fetched, so
    /// concurrent callers share one fetch.
    cached: tokio::sync::Mutex<Option<Cached>>,
}

/// The service account of this deployment; cheap to clone (the cached
/// token is shared by every clone).
#[derive(Clone)]
pub struct ServiceAccount {
    inner: Arc<Inner>,
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("email", &self.inner.email)
            .field("token_url", &self.inner.token_url.as_str())
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// The account of `key`, trading assertions at `token_url`
    /// (`GOOGLE_TOKEN_URL`). The key is tried at once, so a broken one is
    /// a start-up error rather than a failed sync later.
    pub fn new(
        key: &ServiceAccountKey,
        token_url: Url,
        http_timeout: Duration,
        clock: Clock,
    ) -> Result<Self, ServiceAccountError> {
        let encoding = EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes())
            .map_err(|_| ServiceAccountError::InvalidKey)?;
        let http = reqwest::Client::builder()
            .connect_timeout(http_timeout.min(Duration::from_secs(10)))
            .timeout(http_timeout)
            .build()
            .map_err(|error| ServiceAccountError::Transport(error.without_url().to_string()))?;
        let account = Self {
            inner: Arc::new(Inner {
                email: key.client_email.clone(),
                key: encoding,
                token_url,
                http,
                clock,
                cached: tokio::sync::Mutex::new(None),
            }),
        };
        // Signing is where a malformed key shows.
        account.assertion(account.inner.clock.now())?;
        Ok(account)
    }

    /// The account's email: what an owner shares their calendar with.
    pub fn email(&self) -> &str {
        &self.inner.email
    }

    /// A valid access token: the one in hand while it lives, else a new one.
    pub async fn access_token(&self) -> Result<SecretString, ServiceAccountError> {
        let mut cached = self.inner.cached.lock().await;
        let now = self.inner.clock.now();
        if let Some(token) = cached
            .as_ref()
            .filter(|c| c.expires_at > now + EXPIRY_MARGIN)
        {
            return Ok(token.token.clone());
        }
        self.fetch(&mut cached).await
    }

    /// A new access token (Google answered 401 to the one in hand) — unless
    /// another caller fetched one since this caller's token was handed out.
    pub async fn refreshed_access_token(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, ServiceAccountError> {
        let mut cached = self.inner.cached.lock().await;
        let now = self.inner.clock.now();
        if let Some(token) = cached.as_ref().filter(|c| {
            c.expires_at > now + EXPIRY_MARGIN
                && c.token.expose_secret() != rejected.expose_secret()
        }) {
            return Ok(token.token.clone());
        }
        self.fetch(&mut cached).await
    }

    /// A new access token (Google answered 401) when the caller no longer
    /// has the rejected one: a token fetched in the last few seconds is
    /// taken as the answer to the same 401 and reused.
    pub async fn refresh(&self) -> Result<SecretString, ServiceAccountError> {
        let mut cached = self.inner.cached.lock().await;
        let now = self.inner.clock.now();
        if let Some(token) = cached
            .as_ref()
            .filter(|c| c.fetched_at > now - RECENT_FETCH && c.expires_at > now + EXPIRY_MARGIN)
        {
            return Ok(token.token.clone());
        }
        self.fetch(&mut cached).await
    }

    /// Signs an assertion issued at `now`.
    fn assertion(&self, now: DateTime<Utc>) -> Result<String, ServiceAccountError> {
        let claims = Claims {
            iss: &self.inner.email,
            scope: CALENDAR_SCOPE,
            aud: self.inner.token_url.as_str(),
            iat: now.timestamp(),
            exp: (now + ASSERTION_LIFETIME).timestamp(),
            sub: None,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.inner.key)
            .map_err(|_| ServiceAccountError::InvalidKey)
    }

    /// Trades a fresh assertion for a token and keeps it (the caller holds
    /// the lock).
    async fn fetch(
        &self,
        cached: &mut Option<Cached>,
    ) -> Result<SecretString, ServiceAccountError> {
        let now = self.inner.clock.now();
        let assertion = self.assertion(now)?;
        let response = self
            .inner
            .http
            .post(self.inner.token_url.clone())
            .form(&[
                ("grant_type", JWT_BEARER),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|error| ServiceAccountError::Transport(error.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|error| ServiceAccountError::Transport(error.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            return Err(rejection(status, &body));
        }
        let granted: Granted = serde_json::from_slice(&body).map_err(|_| {
            ServiceAccountError::Unexpected("the token answer is not the expected JSON".to_owned())
        })?;
        if granted.access_token.is_empty() {
            return Err(ServiceAccountError::Unexpected(
                "the token answer holds no access token".to_owned(),
            ));
        }
        let lifetime = granted
            .expires_in
            .and_then(|seconds| i64::try_from(seconds).ok())
            .map_or(DEFAULT_LIFETIME, TimeDelta::seconds);
        let token = SecretString::from(granted.access_token);
        *cached = Some(Cached {
            token: token.clone(),
            fetched_at: now,
            expires_at: now + lifetime,
        });
        tracing::info!(account = %self.inner.email, "service-account access token obtained");
        Ok(token)
    }
}

/// The token endpoint's success answer.
#[derive(Deserialize)]
struct Granted {
    access_token: String,
    expires_in: Option<u64>,
}

/// The error for a refused request: Google's `error` and a short
/// `error_description` (never the body as a whole).
fn rejection(status: u16, body: &[u8]) -> ServiceAccountError {
    #[derive(Deserialize)]
    struct Refusal {
        error: Option<String>,
        error_description: Option<String>,
    }
    let refusal = serde_json::from_slice::<Refusal>(body).ok();
    let error = refusal
        .as_ref()
        .and_then(|r| r.error.clone())
        .unwrap_or_else(|| "unknown".to_owned());
    let description: String = refusal
        .and_then(|r| r.error_description)
        .unwrap_or_default()
        .chars()
        .take(MAX_DESCRIPTION)
        .collect();
    ServiceAccountError::Rejected {
        status,
        error,
        description,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use jsonwebtoken::{DecodingKey, Validation};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const PRIVATE_KEY: &str =
        include_str!("../../../testkit/reference/test-service-account.key.pem");
    const PUBLIC_KEY: &str =
        include_str!("../../../testkit/reference/test-service-account.pub.pem");
    const EMAIL: &str = "robot@project.iam.gserviceaccount.com";

    fn key(pem: &str) -> ServiceAccountKey {
        ServiceAccountKey {
            client_email: EMAIL.to_owned(),
            private_key: SecretString::from(pem.to_owned()),
        }
    }

    /// A token endpoint answering `answer` (status, body) to every POST,
    /// counting the requests and keeping the last form body.
    async fn endpoint(
        status: u16,
        body: &'static str,
    ) -> (Url, Arc<AtomicUsize>, Arc<std::sync::Mutex<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/token", listener.local_addr().unwrap())).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(std::sync::Mutex::new(String::new()));
        let (counter, kept) = (Arc::clone(&count), Arc::clone(&last));
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (counter, kept) = (Arc::clone(&counter), Arc::clone(&kept));
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0_u8; 4096];
                    loop {
                        let read = socket.read(&mut buffer).await.unwrap();
                        if read == 0 {
                            return;
                        }
                        request.extend_from_slice(&buffer[..read]);
                        let text = String::from_utf8_lossy(&request).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|line| {
                                    let lower = line.to_ascii_lowercase();
                                    lower
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().parse::<usize>().unwrap())
                                })
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                *kept.lock().unwrap() = text[end + 4..].to_owned();
                                break;
                            }
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    // Slow enough that concurrent callers overlap.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let n = counter.load(Ordering::SeqCst);
                    let body = body.replace("TOKEN", &format!("ya29.sa{n}"));
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        (url, count, last)
    }

    fn form_value(form: &str, name: &str) -> String {
        url::form_urlencoded::parse(form.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn the_assertion_is_signed_and_shaped_as_google_wants() {
        let (url, _, last) = endpoint(200, r#"{"access_token":"TOKEN","expires_in":3599}"#).await;
        let account = ServiceAccount::new(
            &key(PRIVATE_KEY),
            url.clone(),
            Duration::from_secs(5),
            Clock::system(),
        )
        .unwrap();
        let token = account.access_token().await.unwrap();
        assert_eq!(token.expose_secret(), "ya29.sa1");
        let form = last.lock().unwrap().clone();
        assert_eq!(form_value(&form, "grant_type"), JWT_BEARER);
        let assertion = form_value(&form, "assertion");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[url.as_str()]);
        validation.set_issuer(&[EMAIL]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &assertion,
            &DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["scope"], CALENDAR_SCOPE);
        let (iat, exp) = (
            claims["iat"].as_i64().unwrap(),
            claims["exp"].as_i64().unwrap(),
        );
        assert!(exp > iat && exp - iat <= 3600, "{claims}");
        assert!(claims.get("sub").is_none(), "{claims}");
    }

    #[tokio::test]
    async fn one_token_serves_everyone_until_it_nears_expiry() {
        let (url, count, _) = endpoint(200, r#"{"access_token":"TOKEN","expires_in":3599}"#).await;
        let account = ServiceAccount::new(
            &key(PRIVATE_KEY),
            url,
            Duration::from_secs(5),
            Clock::system(),
        )
        .unwrap();
        let callers: Vec<_> = (0..8)
            .map(|_| {
                let account = account.clone();
                tokio::spawn(async move { account.access_token().await })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().unwrap().expose_secret(), "ya29.sa1");
        }
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "concurrent callers share one fetch"
        );
        account.access_token().await.unwrap();
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "the cached token is reused"
        );

        // A rejected token is replaced once; a caller holding an older
        // rejected token gets the replacement without another fetch.
        let rejected = SecretString::from("ya29.sa1".to_owned());
        let fresh = account.refreshed_access_token(&rejected).await.unwrap();
        assert_eq!(fresh.expose_secret(), "ya29.sa2");
        assert_eq!(count.load(Ordering::SeqCst), 2);
        account.refreshed_access_token(&rejected).await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2, "already replaced: reused");
        account.refresh().await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 2, "fetched just now: reused");
    }

    #[tokio::test]
    async fn a_short_lived_token_is_fetched_again() {
        let (url, count, _) = endpoint(200, r#"{"access_token":"TOKEN","expires_in":60}"#).await;
        let account = ServiceAccount::new(
            &key(PRIVATE_KEY),
            url,
            Duration::from_secs(5),
            Clock::system(),
        )
        .unwrap();
        account.access_token().await.unwrap();
        account.access_token().await.unwrap();
        assert_eq!(
            count.load(Ordering::SeqCst),
            2,
            "inside the margin: fetched anew"
        );
    }

    #[tokio::test]
    async fn refusals_are_typed_and_carry_no_secret() {
        let (url, _, last) = endpoint(
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
        )
        .await;
        let account = ServiceAccount::new(
            &key(PRIVATE_KEY),
            url,
            Duration::from_secs(5),
            Clock::system(),
        )
        .unwrap();
        let error = account.access_token().await.unwrap_err();
        assert_eq!(
            error,
            ServiceAccountError::Rejected {
                status: 400,
                error: "invalid_grant".to_owned(),
                description: "Invalid JWT Signature.".to_owned(),
            }
        );
        assert!(!error.is_retryable());
        let assertion = form_value(&last.lock().unwrap(), "assertion");
        let shown = format!("{error} {error:?} {account:?}");
        assert!(
            !shown.contains(&assertion) && !shown.contains("PRIVATE KEY"),
            "{shown}"
        );

        let (url, _, _) = endpoint(503, "oops").await;
        let account = ServiceAccount::new(
            &key(PRIVATE_KEY),
            url,
            Duration::from_secs(5),
            Clock::system(),
        )
        .unwrap();
        assert!(account.access_token().await.unwrap_err().is_retryable());
    }

    /// The same test key as Google's console hands it out (PKCS#8).
    const PKCS8_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQChz9S2qyJ+tbfb\nvTyVB3/Xhdb5dr+rOTH+2SX2sSkiabd8dxi7QB7uBc77Z77j+k1s+joFfSE5Huih\nuiTHdd5XBRJITlV2pbvywrHc9xwAHlFcYcFbtKRVDv6AfQdCgbeZqFfl/wb5XnyC\nBXruwk5S1I77cfi4cNHy9lMTBEYqvtaMgqCuWom/wXqcHArG1Xzf24XZrxYusgw5\neLCXjZTRr9caO3k+uu9JZVAqq2XKI/oYar3u3A38Op5syDg7ZyL2+hqihwVLR4UV\nhWmrZbThbyZLSijhEGYdq0ROyRp9h0P6IkGHoWdRo0+Z9sWaQ1mTSFdW51EroBV7\nxYIl9NMlAgMBAAECggEADhLJaWnRAjxD1XTMBBo24EPfwqq1WOsMkiHIz3/xF/Eh\n6E1jdUXKauFOc0c+rw1iFoxc54VOkm1Bxm8uK7rwr5jdUjSd8kfP5PlSBunnIYuB\ngAtwic1YTZ2UPRCixQILOe4OVw6rSJ0TLyvS2VlE/qdGGFB9VW1alUsfRpQklisH\nfb01t5L6lwKG8HbbYKpWHaiymIj8n6M73d2kpg5EOaO8vRx6v8oUVzwH+hy9O0ht\n1VYbjvGWXvvoCLSi/+u9twOL5sA6rTx9SayuPxq1+hvaBzWcykNAjdMNpuZI9QR9\njaWOZN1rfsEQaAx4JEMEqAYIL8azGXegls4DhUhvgQKBgQDYWcAOxxIESyBlD9y2\n5+oYh74RSpN/50z+yRsp9X8WOhm1CMD+qsaITLzyZiPCEvuiiTMGjJwlPru9rPto\nLd6AuNm7S0gMihDKjRPcns+GMQGPnxgz8d1lGDAlw+VhjfxI0puIh2R1b5b/vET4\no0V2GB0gbTq94mvQV9mxkUpFCQKBgQC/d1rB1aV7fE3Rr469WKUGNVEAz0LgziNS\nu+4H0HRuyYfVf+huK4qVRwQF0rChBQz8N+krY9CltJcstpuaIhH9625jjJiNcDq/\nSUxd/aH9m6+xe4bATYNcPByluwnQgEZrVtBggTwHytkmUStqH/1O9E+sgHMjW2fq\nquaAISdgPQKBgEFC6X1LrXKgGtiBbWm7EVFu+PWMUmv9oKsmjMweYsSYqBKE3nqz\nlwmcZE6WYujzAvbnff3Wwm81ujogCQJG+9xGZl9p+QTXTPNclQYy3ZS0Ca2CJzHc\nHpWVM0jhC7tesiBhb0tC1BncnGbuKrv5vEVARuD2Mgb/WthQ97jpg8bJAoGBAI85\nOSrGJoO4+H1iVeRN6yQ5vd5dLCn+CW5aJjSyOmalWnbat4OyDnicJuY0NOw+WvhQ\n2psaj3llHbDU6JDj65GGC41sHrGuwkNVEUs9729Ghqa9QI+ZbCoSzVssDqtpSUQC\nLN4DzmQF2WpQTamVRGdLWk4vx/Eq7xEbxlESe+IBAoGALmplttWTUK+Quw/HX356\nsfXZNWxI2CG3BqV5PtoQW5zXNvRmoysIlpA1H0QtZijAW89OitfoQd34gu6rhX04\n4PJ+iGdvQjlP608D0jaG2p6fturY5bq1CHOwtGMAQvYr1NhDhenY85APLoNFDbXv\nLy6+raLfJhUjGULW92N9YE4=\n-----END PRIVATE KEY-----\n";

    #[tokio::test]
    async fn console_keys_in_pkcs8_form_work_too() {
        let (url, _, last) = endpoint(200, r#"{"access_token":"TOKEN"}"#).await;
        let account = ServiceAccount::new(
            &key(PKCS8_KEY),
            url,
            Duration::from_secs(5),
            Clock::system(),
        )
        .unwrap();
        account.access_token().await.unwrap();
        let assertion = form_value(&last.lock().unwrap(), "assertion");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(
            &assertion,
            &DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap();
    }

    #[test]
    fn a_broken_key_is_refused_at_once() {
        let url = Url::parse("http://127.0.0.1:9/token").unwrap();
        let broken = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let error = ServiceAccount::new(&key(broken), url, Duration::from_secs(1), Clock::system())
            .unwrap_err();
        assert_eq!(error, ServiceAccountError::InvalidKey);
        assert!(!error.to_string().contains("AAAA"));
    }
}
