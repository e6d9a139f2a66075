//! The user consent flow with Google (OAuth 2.0 authorization code + PKCE):
//! the consent link, the code exchange, refresh, revocation, and who the
//! token belongs to (email and primary calendar).
//!
//! Built on the `oauth2` crate over the project's reqwest 0.13 (through
//! [`send`], since oauth2's own reqwest support would pull a second
//! reqwest). Revocation is a plain form POST: oauth2 refuses a revocation
//! URL that is not HTTPS, and tests run Google over plain HTTP.
//!
//! Errors never contain a token, code, verifier or client secret: the
//! server's body is dropped, reqwest errors lose their URL
//! (`without_url`), and only Google's error code and description stay.

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::config::{GoogleConfig, HttpConfig};

/// Full Calendar access: events on the owner's calendar, busy times.
pub const CALENDAR_SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// The account's email, to show whose calendar is connected.
pub const EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";

/// Bytes of randomness in a `state` (43 characters once encoded).
const STATE_BYTES: u32 = 32;

/// Longest error description kept from Google's answer.
const MAX_DESCRIPTION: usize = 200;

/// A failed exchange with Google. Holds no token, code or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The code or refresh token is unknown, used, expired or revoked: the
    /// grant is gone and only a new consent helps.
    #[error("Google refused the grant (invalid_grant): {description}")]
    InvalidGrant { description: String },
    /// Google answered with another OAuth error (`invalid_client`,
    /// `invalid_token`, `redirect_uri_mismatch`, ...).
    #[error("Google refused the request ({status} {error}): {description}")]
    Rejected {
        status: u16,
        error: String,
        description: String,
    },
    /// An API call (userinfo, the primary calendar) failed with `status`.
    #[error("Google answered {status} to {what}")]
    Api { status: u16, what: &'static str },
    /// The answer was not what the protocol promises.
    #[error("unexpected answer from Google: {0}")]
    Unexpected(String),
    /// Google could not be reached or did not answer in time.
    #[error("cannot reach Google: {0}")]
    Transport(String),
}

impl OAuthError {
    /// Worth trying again later (network trouble, Google's 5xx or 429);
    /// everything else needs a person.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Rejected { status, .. } | Self::Api { status, .. } => {
                *status >= 500 || *status == 429
            }
            Self::InvalidGrant { .. } | Self::Unexpected(_) => false,
        }
    }

    /// The token was already revoked or never existed (a revoke then has
    /// nothing left to do).
    pub fn is_invalid_token(&self) -> bool {
        matches!(self, Self::Rejected { error, .. } if error == "invalid_token")
    }
}

/// A reqwest failure without its URL (a URL may carry a token).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

impl From<reqwest::Error> for HttpFailure {
    fn from(error: reqwest::Error) -> Self {
        Self(error.without_url().to_string())
    }
}

/// A consent link for one person, and what must be kept to finish it.
#[derive(Debug)]
pub struct ConsentLink {
    /// Google's consent page with every parameter; for the user's browser.
    pub url: String,
    /// The random `state` in the link (store only its hash).
    pub state: SecretString,
    /// The PKCE verifier the code exchange must present (store encrypted).
    pub pkce_verifier: SecretString,
}

/// Tokens from a code exchange or a refresh.
#[derive(Debug)]
pub struct GrantedTokens {
    pub access_token: SecretString,
    /// Sent on the first consent (with `access_type=offline`), rarely on a
    /// refresh.
    pub refresh_token: Option<SecretString>,
    /// How long the access token lives, as Google says.
    pub expires_in: Option<Duration>,
    /// The scopes actually granted (the person may untick some).
    pub scopes: Vec<String>,
}

/// Whose calendar a token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The Google account's email (`userinfo`).
    pub email: String,
    /// The id of the primary calendar (`calendars/primary`).
    pub calendar_id: String,
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The OAuth client of this deployment; cheap to clone.
#[derive(Clone)]
pub struct GoogleOAuth {
    client: Client,
    http: reqwest::Client,
    revoke_url: Url,
    api_url: Url,
}

impl std::fmt::Debug for GoogleOAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleOAuth")
            .field("client_id", self.client.client_id())
            .field("api_url", &self.api_url.as_str())
            .finish_non_exhaustive()
    }
}

impl GoogleOAuth {
    /// The client from the settings; `None` when no OAuth client is
    /// configured (`GOOGLE_CLIENT_ID` / `_SECRET` unset).
    pub fn from_config(
        google: &GoogleConfig,
        http: &HttpConfig,
        timeout: Duration,
    ) -> Result<Option<Self>, OAuthError> {
        let Some(credentials) = &google.oauth_client else {
            return Ok(None);
        };
        let redirect = RedirectUrl::new(http.oauth_redirect_url())
            .map_err(|_| OAuthError::Unexpected("the OAuth redirect URL is invalid".to_owned()))?;
        let client = BasicClient::new(ClientId::new(credentials.client_id.clone()))
            .set_client_secret(ClientSecret::new(
                credentials.client_secret.expose_secret().to_owned(),
            ))
            .set_auth_uri(AuthUrl::from_url(google.auth_url.clone()))
            .set_token_uri(TokenUrl::from_url(google.token_url.clone()))
            .set_redirect_uri(redirect)
            // Credentials in the form body, as Google documents it.
            .set_auth_type(AuthType::RequestBody);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .map_err(|error| OAuthError::Transport(HttpFailure::from(error).0))?;
        Ok(Some(Self {
            client,
            http,
            revoke_url: google.revoke_url.clone(),
            api_url: google.api_url.clone(),
        }))
    }

    /// Where Google sends the person back.
    pub fn redirect_url(&self) -> &str {
        self.client
            .redirect_uri()
            .map_or("", |redirect| redirect.as_str())
    }

    /// A fresh consent link: PKCE S256, a random `state`, offline access
    /// (a refresh token) and the consent screen forced, so Google sends a
    /// refresh token even to someone who consented before.
    pub fn consent_link(&self, login_hint: Option<&str>) -> ConsentLink {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(|| CsrfToken::new_random_len(STATE_BYTES))
            .add_scope(Scope::new(CALENDAR_SCOPE.to_owned()))
            .add_scope(Scope::new(EMAIL_SCOPE.to_owned()))
            .set_pkce_challenge(challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent");
        if let Some(hint) = login_hint {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, state) = request.url();
        ConsentLink {
            url: url.into(),
            state: SecretString::from(state.into_secret()),
            pkce_verifier: SecretString::from(verifier.into_secret()),
        }
    }

    /// Trades the code from the callback for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &SecretString,
    ) -> Result<GrantedTokens, OAuthError> {
        let http = Http(self.http.clone());
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(
                pkce_verifier.expose_secret().to_owned(),
            ))
            .request_async(&http)
            .await
            .map_err(token_error)?;
        Ok(granted(&response))
    }

    /// A new access token for a refresh token.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<GrantedTokens, OAuthError> {
        let http = Http(self.http.clone());
        let token = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let response = self
            .client
            .exchange_refresh_token(&token)
            .request_async(&http)
            .await
            .map_err(token_error)?;
        Ok(granted(&response))
    }

    /// Revokes the grant behind `token` (a refresh token revokes every
    /// token of the grant): `POST revoke` with the token in the form body.
    pub async fn revoke(&self, token: &SecretString) -> Result<(), OAuthError> {
        let response = self
            .http
            .post(self.revoke_url.clone())
            .form(&[("token", token.expose_secret())])
            .send()
            .await
            .map_err(|error| OAuthError::Transport(HttpFailure::from(error).0))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(oauth_error_body(status, &body))
    }

    /// The account's email and primary calendar id for an access token.
    pub async fn identity(&self, access_token: &SecretString) -> Result<Identity, OAuthError> {
        #[derive(Deserialize)]
        struct UserInfo {
            email: Option<String>,
        }
        #[derive(Deserialize)]
        struct Calendar {
            id: String,
        }
        let info: UserInfo = self
            .get_json(access_token, "oauth2/v3/userinfo", "userinfo")
            .await?;
        let calendar: Calendar = self
            .get_json(
                access_token,
                "calendar/v3/calendars/primary",
                "the primary calendar",
            )
            .await?;
        let email = info
            .email
            .filter(|email| !email.trim().is_empty())
            .ok_or_else(|| OAuthError::Unexpected("userinfo has no email".to_owned()))?;
        Ok(Identity {
            email,
            calendar_id: calendar.id,
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        access_token: &SecretString,
        path: &str,
        what: &'static str,
    ) -> Result<T, OAuthError> {
        let url = format!("{}/{path}", self.api_url.as_str().trim_end_matches('/'));
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token.expose_secret())
            .send()
            .await
            .map_err(|error| OAuthError::Transport(HttpFailure::from(error).0))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(OAuthError::Api { status, what });
        }
        response
            .json()
            .await
            .map_err(|_| OAuthError::Unexpected(format!("{what} is not the JSON expected")))
    }
}

/// The adapter oauth2 needs: the shared reqwest client as its HTTP
/// client. (A named type with a boxed `Send` future rather than a closure:
/// a closure's future trips the compiler's `Send` check inside axum and
/// apalis handlers.)
#[derive(Debug, Clone)]
struct Http(reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpFailure>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// One oauth2 request through reqwest.
pub async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpFailure> {
    let (parts, body) = request.into_parts();
    let response = http
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
    builder
        .body(body)
        .map_err(|_| HttpFailure("cannot rebuild the HTTP response".to_owned()))
}

fn granted(response: &BasicTokenResponse) -> GrantedTokens {
    GrantedTokens {
        access_token: SecretString::from(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|token| SecretString::from(token.secret().clone())),
        expires_in: response.expires_in(),
        scopes: response
            .scopes()
            .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect())
            .unwrap_or_default(),
    }
}

fn short(text: &str) -> String {
    text.chars().take(MAX_DESCRIPTION).collect()
}

/// Maps oauth2's error, dropping the body it may keep (a parse error holds
/// the raw answer, which could contain tokens).
fn token_error(
    error: RequestTokenError<HttpFailure, oauth2::basic::BasicErrorResponse>,
) -> OAuthError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let description = short(response.error_description().map_or("", String::as_str));
            match response.error() {
                BasicErrorResponseType::InvalidGrant => OAuthError::InvalidGrant { description },
                other => OAuthError::Rejected {
                    status: 400,
                    error: other.to_string(),
                    description,
                },
            }
        }
        RequestTokenError::Request(failure) => OAuthError::Transport(failure.0),
        RequestTokenError::Parse(_, _) => {
            OAuthError::Unexpected("the token endpoint's answer does not parse".to_owned())
        }
        RequestTokenError::Other(message) => OAuthError::Unexpected(short(&message)),
    }
}

/// An OAuth error answer (`{"error": ..., "error_description": ...}`) of
/// the revocation endpoint.
fn oauth_error_body(status: u16, body: &[u8]) -> OAuthError {
    #[derive(Deserialize)]
    struct Body {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<Body>(body) {
        Ok(body) if body.error == "invalid_grant" => OAuthError::InvalidGrant {
            description: short(body.error_description.as_deref().unwrap_or_default()),
        },
        Ok(body) => OAuthError::Rejected {
            status,
            error: short(&body.error),
            description: short(body.error_description.as_deref().unwrap_or_default()),
        },
        Err(_) => OAuthError::Api {
            status,
            what: "the revocation",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Env};

    fn oauth() -> GoogleOAuth {
        let env = Env::from_pairs([
            ("TELEGRAM_BOT_TOKEN", "1:abc"),
            ("GOOGLE_CLIENT_ID", "client-1"),
            ("GOOGLE_CLIENT_SECRET", "very-secret"),
            (
                "TOKEN_ENCRYPTION_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
            ("PUBLIC_URL", "https://bot.example.com/"),
        ]);
        let config = Config::from_env(&env).unwrap_or_else(|e| panic!("{e}"));
        GoogleOAuth::from_config(&config.google, &config.http, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("configured"))
    }

    #[test]
    fn the_consent_link_asks_for_offline_access_with_pkce_and_state() {
        let oauth = oauth();
        let link = oauth.consent_link(Some("ann@example.com"));
        let url = Url::parse(&link.url).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            link.url
                .starts_with("https://accounts.google.com/o/oauth2/v2/auth?")
        );
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], "client-1");
        assert_eq!(
            query["redirect_uri"],
            "https://bot.example.com/oauth/google/callback"
        );
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["access_type"], "offline");
        assert_eq!(query["prompt"], "consent");
        assert_eq!(query["login_hint"], "ann@example.com");
        assert_eq!(query["state"], link.state.expose_secret());
        assert_eq!(query["state"].len(), 43);
        assert!(query["scope"].contains(CALENDAR_SCOPE) && query["scope"].contains(EMAIL_SCOPE));
        assert!(!link.url.contains("very-secret"));
        assert!(!link.url.contains(link.pkce_verifier.expose_secret()));
        // Every link is new.
        let other = oauth.consent_link(None);
        assert_ne!(other.state.expose_secret(), link.state.expose_secret());
        assert!(!other.url.contains("login_hint"));
        assert!(!format!("{oauth:?}").contains("very-secret"));
    }

    #[test]
    fn error_answers_keep_the_code_and_description_only() {
        let error = oauth_error_body(
            400,
            br#"{"error":"invalid_token","error_description":"Token expired or revoked"}"#,
        );
        assert!(error.is_invalid_token());
        assert!(!error.is_retryable());
        assert!(matches!(
            oauth_error_body(400, br#"{"error":"invalid_grant"}"#),
            OAuthError::InvalidGrant { .. }
        ));
        let garbage = oauth_error_body(503, b"<html>ya29.secret</html>");
        assert!(garbage.is_retryable());
        assert!(!garbage.to_string().contains("ya29"));
    }
}
