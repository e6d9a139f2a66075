//! OAuth 2.0 as accounts.google.com and oauth2.googleapis.com speak it:
//! the consent screen (`/o/oauth2/v2/auth`), the token endpoint
//! (`/token`: authorization code with PKCE, refresh token, JWT bearer),
//! `/revoke`, userinfo, and the bearer check of API calls.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::Incoming;
use super::state::{AccessToken, AuthCode, AuthRequest, Consent, Grant, PendingConsent, State};
use super::wire::{ApiError, Reply, html_escape};

/// Scopes outside the Calendar API that the consent screen knows.
const IDENTITY_SCOPES: &[&str] = &[
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
];

/// Parameters the authorization endpoint accepts.
const AUTH_PARAMETERS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "access_type",
    "prompt",
    "login_hint",
    "include_granted_scopes",
    "nonce",
    "hd",
    "enable_granular_consent",
];

/// Where the real token endpoint lives (accepted as a JWT audience too).
const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// How long an authorization code may wait for its exchange.
const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// What a handler needs besides the state.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub config: &'a super::FakeGoogleConfig,
    /// `http://127.0.0.1:PORT`.
    pub base_url: &'a str,
}

/// Who an access token speaks for.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    pub email: String,
    pub scopes: Vec<String>,
    pub service_account: bool,
}

fn known_scope(scope: &str) -> bool {
    IDENTITY_SCOPES.contains(&scope)
        || super::discovery::discovery()
            .scopes
            .iter()
            .any(|s| s == scope)
}

fn single(pairs: &[(String, String)]) -> HashMap<&str, &str> {
    pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect()
}

/// Whether `given` is one of the client's redirect URIs (any port on a
/// loopback host, like Google's loopback redirects).
fn redirect_registered(registered: &[String], given: &str) -> bool {
    let Ok(given) = Url::parse(given) else {
        return false;
    };
    registered.iter().any(|candidate| {
        let Ok(candidate) = Url::parse(candidate) else {
            return false;
        };
        let loopback = matches!(
            candidate.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]")
        );
        candidate.scheme() == given.scheme()
            && candidate.host_str() == given.host_str()
            && (loopback || candidate.port_or_known_default() == given.port_or_known_default())
            && candidate.path() == given.path()
            && candidate.query() == given.query()
    })
}

/// `GET /o/oauth2/v2/auth`: validates the request, then follows the
/// queued or automatic decision (302), or shows a consent page to decide
/// on.
pub(crate) fn authorize(
    state: &mut State,
    ctx: &Ctx<'_>,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let request = validate_authorization(state, ctx, &incoming.query)?;
    let decision = state
        .consent_queue
        .pop_front()
        .or_else(|| state.auto_consent.clone());
    match decision {
        Some(consent) => finish(state, ctx, &request, &consent),
        None => {
            let id = state.next();
            state.pending_consents.insert(
                id,
                PendingConsent {
                    id,
                    client_id: request.client_id.clone(),
                    scopes: request.scopes.clone(),
                    login_hint: request.login_hint.clone(),
                    request,
                },
            );
            Ok(Reply::Html(consent_page(state, id)))
        }
    }
}

fn consent_page(state: &State, id: u64) -> String {
    let mut page = String::from(
        "<!doctype html><html><head><title>Sign in - Google Accounts (fake)</title></head><body>\
         <h1>Choose an account</h1><ul>",
    );
    for email in state.accounts.keys() {
        let account = url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>();
        page.push_str(&format!(
            "<li>{} — <a href=\"/o/oauth2/v2/auth/decide?request={id}&amp;account={account}&amp;decision=allow\">Allow</a> \
             <a href=\"/o/oauth2/v2/auth/decide?request={id}&amp;account={account}&amp;decision=deny\">Cancel</a></li>",
            html_escape(email)
        ));
    }
    page.push_str("</ul></body></html>");
    page
}

/// `GET /o/oauth2/v2/auth/decide?request=ID&account=EMAIL&decision=allow|deny`:
/// the buttons of the consent page.
pub(crate) fn decide(
    state: &mut State,
    ctx: &Ctx<'_>,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let query = single(&incoming.query);
    let id = query
        .get("request")
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or_else(|| ApiError::page(400, "invalid_request", "Missing request id"))?;
    let consent = Consent {
        email: query.get("account").map(|email| (*email).to_owned()),
        grant: query.get("decision") == Some(&"allow"),
    };
    decide_pending(state, ctx, id, &consent)
}

/// Decides a pending consent request; the answer is the redirect.
pub(crate) fn decide_pending(
    state: &mut State,
    ctx: &Ctx<'_>,
    id: u64,
    consent: &Consent,
) -> Result<Reply, ApiError> {
    let pending = state.pending_consents.remove(&id).ok_or_else(|| {
        ApiError::page(
            400,
            "invalid_request",
            "This sign-in request has expired or was already used",
        )
    })?;
    finish(state, ctx, &pending.request, consent)
}

fn validate_authorization(
    state: &State,
    ctx: &Ctx<'_>,
    pairs: &[(String, String)],
) -> Result<AuthRequest, ApiError> {
    for (name, _) in pairs {
        if !AUTH_PARAMETERS.contains(&name.as_str()) {
            return Err(ApiError::page(
                400,
                "invalid_request",
                &format!("Parameter not allowed for this message type: {name}"),
            ));
        }
    }
    let query = single(pairs);
    let missing = |name: &str| {
        ApiError::page(
            400,
            "invalid_request",
            &format!("Missing required parameter: {name}"),
        )
    };
    let client_id = *query.get("client_id").ok_or_else(|| missing("client_id"))?;
    let client = state
        .clients
        .get(client_id)
        .ok_or_else(|| ApiError::page(401, "invalid_client", "The OAuth client was not found."))?;
    let redirect_uri = *query
        .get("redirect_uri")
        .ok_or_else(|| missing("redirect_uri"))?;
    if !redirect_registered(&client.redirect_uris, redirect_uri) {
        return Err(ApiError::page(
            400,
            "redirect_uri_mismatch",
            &format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 \
                 policy. redirect_uri={redirect_uri}"
            ),
        ));
    }
    let response_type = *query
        .get("response_type")
        .ok_or_else(|| missing("response_type"))?;
    if response_type != "code" {
        return Err(ApiError::page(
            400,
            "unsupported_response_type",
            &format!("Invalid response_type: {response_type}"),
        ));
    }
    let scope = *query.get("scope").ok_or_else(|| missing("scope"))?;
    let scopes: Vec<String> = scope.split_whitespace().map(str::to_owned).collect();
    let invalid: Vec<&String> = scopes.iter().filter(|scope| !known_scope(scope)).collect();
    if scopes.is_empty() || !invalid.is_empty() {
        return Err(ApiError::page(
            400,
            "invalid_scope",
            &format!("Some requested scopes were invalid. {{invalid={invalid:?}}}"),
        ));
    }
    let state_param = query.get("state").map(|s| (*s).to_owned());
    if ctx.config.require_state && state_param.as_deref().is_none_or(str::is_empty) {
        return Err(missing("state"));
    }
    let code_challenge = query.get("code_challenge").map(|c| (*c).to_owned());
    match (&code_challenge, query.get("code_challenge_method")) {
        (None, _) if ctx.config.require_pkce => return Err(missing("code_challenge")),
        (None, _) => {}
        (Some(challenge), method) => {
            if method != Some(&"S256") {
                return Err(ApiError::page(
                    400,
                    "invalid_request",
                    &format!(
                        "Invalid code_challenge_method: {} (the fake accepts S256 only)",
                        method.unwrap_or(&"plain")
                    ),
                ));
            }
            if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
                return Err(ApiError::page(
                    400,
                    "invalid_request",
                    "Invalid code_challenge",
                ));
            }
        }
    }
    let offline = match query.get("access_type") {
        None | Some(&"online") => false,
        Some(&"offline") => true,
        Some(other) => {
            return Err(ApiError::page(
                400,
                "invalid_request",
                &format!("Invalid access_type: {other}"),
            ));
        }
    };
    Ok(AuthRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state: state_param,
        code_challenge,
        offline,
        login_hint: query.get("login_hint").map(|hint| (*hint).to_owned()),
    })
}

fn finish(
    state: &mut State,
    ctx: &Ctx<'_>,
    request: &AuthRequest,
    consent: &Consent,
) -> Result<Reply, ApiError> {
    let mut location = Url::parse(&request.redirect_uri)
        .map_err(|_| ApiError::page(400, "redirect_uri_mismatch", "bad redirect_uri"))?;
    if !consent.grant {
        {
            let mut pairs = location.query_pairs_mut();
            pairs.append_pair("error", "access_denied");
            if let Some(value) = &request.state {
                pairs.append_pair("state", value);
            }
        }
        return Ok(Reply::Redirect(location.into()));
    }
    let email = consent
        .email
        .clone()
        .or_else(|| {
            request
                .login_hint
                .clone()
                .filter(|hint| state.accounts.contains_key(hint))
        })
        .or_else(|| state.accounts.keys().next().cloned())
        .ok_or_else(|| ApiError::page(400, "invalid_request", "No Google account is seeded"))?;
    if !state.accounts.contains_key(&email) {
        return Err(ApiError::page(
            400,
            "invalid_request",
            &format!("No such Google account: {email}"),
        ));
    }
    let code = state.token("4/0AfakeCode");
    state.codes.insert(
        code.clone(),
        AuthCode {
            request: request.clone(),
            email,
            issued_at: ctx.now,
            used: false,
        },
    );
    {
        let mut pairs = location.query_pairs_mut();
        if let Some(value) = &request.state {
            pairs.append_pair("state", value);
        }
        pairs.append_pair("code", &code);
        pairs.append_pair("scope", &request.scopes.join(" "));
        pairs.append_pair("authuser", "0");
        pairs.append_pair("prompt", "consent");
    }
    Ok(Reply::Redirect(location.into()))
}

/// Reads an `application/x-www-form-urlencoded` body.
fn form(incoming: &Incoming) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&incoming.body)
        .into_owned()
        .collect()
}

/// The client's id and secret from HTTP Basic or the form.
fn client_credentials(
    incoming: &Incoming,
    form: &HashMap<&str, &str>,
) -> Option<(String, Option<String>)> {
    let basic = incoming
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, rest) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if let Some(pair) = basic {
        let (id, secret) = pair.split_once(':')?;
        let decode = |text: &str| {
            url::form_urlencoded::parse(format!("x={text}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        return Some((decode(id), Some(decode(secret))));
    }
    form.get("client_id").map(|id| {
        (
            (*id).to_owned(),
            form.get("client_secret").map(|s| (*s).to_owned()),
        )
    })
}

fn check_client(
    state: &State,
    incoming: &Incoming,
    form: &HashMap<&str, &str>,
) -> Result<String, ApiError> {
    let (client_id, secret) = client_credentials(incoming, form)
        .ok_or_else(|| ApiError::invalid_request("Missing required parameter: client_id"))?;
    let client = state
        .clients
        .get(&client_id)
        .ok_or_else(|| ApiError::oauth(401, "invalid_client", "The OAuth client was not found."))?;
    if secret.as_deref() != Some(client.client_secret.as_str()) {
        return Err(ApiError::oauth(401, "invalid_client", "Unauthorized"));
    }
    Ok(client_id)
}

/// `POST /token`.
pub(crate) fn token(
    state: &mut State,
    ctx: &Ctx<'_>,
    incoming: &Incoming,
) -> Result<Reply, ApiError> {
    let pairs = form(incoming);
    let form = single(&pairs);
    let grant_type = *form
        .get("grant_type")
        .ok_or_else(|| ApiError::invalid_request("Missing required parameter: grant_type"))?;
    match grant_type {
        "authorization_code" => exchange_code(state, ctx, incoming, &form),
        "refresh_token" => refresh(state, ctx, incoming, &form),
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => jwt_bearer(state, ctx, &form),
        other => Err(ApiError::oauth(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        )),
    }
}

fn issue_access(state: &mut State, ctx: &Ctx<'_>, grant: u64) -> (String, i64) {
    let token = state.token("ya29.a0Fake");
    let lifetime =
        TimeDelta::from_std(ctx.config.access_token_lifetime).unwrap_or(TimeDelta::hours(1));
    state.access_tokens.insert(
        token.clone(),
        AccessToken {
            grant,
            expires_at: ctx.now + lifetime,
        },
    );
    // Google says 3599 for an hour: a second of margin.
    (token, (lifetime.num_seconds() - 1).max(1))
}

fn exchange_code(
    state: &mut State,
    ctx: &Ctx<'_>,
    incoming: &Incoming,
    form: &HashMap<&str, &str>,
) -> Result<Reply, ApiError> {
    let client_id = check_client(state, incoming, form)?;
    let code = *form
        .get("code")
        .ok_or_else(|| ApiError::invalid_request("Missing required parameter: code"))?;
    let Some(stored) = state.codes.get_mut(code) else {
        return Err(ApiError::invalid_grant("Malformed auth code."));
    };
    if stored.used
        || ctx.now - stored.issued_at > CODE_LIFETIME
        || stored.request.client_id != client_id
    {
        return Err(ApiError::invalid_grant("Bad Request"));
    }
    let redirect_uri = form.get("redirect_uri").copied().unwrap_or_default();
    if redirect_uri != stored.request.redirect_uri {
        return Err(ApiError::oauth(400, "redirect_uri_mismatch", "Bad Request"));
    }
    if let Some(challenge) = &stored.request.code_challenge {
        let verifier = form
            .get("code_verifier")
            .ok_or_else(|| ApiError::invalid_grant("Missing code verifier."))?;
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if verifier.len() < 43 || verifier.len() > 128 || &computed != challenge {
            return Err(ApiError::invalid_grant("Invalid code verifier."));
        }
    }
    // Single use, also when the exchange fails later.
    stored.used = true;
    let stored = stored.clone();
    let grant_id = state.next();
    let refresh_token = stored
        .request
        .offline
        .then(|| state.token("1//0fakeRefresh"));
    state.grants.insert(
        grant_id,
        Grant {
            principal: stored.email.clone(),
            client_id,
            scopes: stored.request.scopes.clone(),
            revoked: false,
            service_account: false,
        },
    );
    if let Some(refresh) = &refresh_token {
        state.refresh_tokens.insert(refresh.clone(), grant_id);
    }
    let (access, expires_in) = issue_access(state, ctx, grant_id);
    let mut body = json!({
        "access_token": access,
        "expires_in": expires_in,
        "scope": stored.request.scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(refresh) = refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    Ok(Reply::Json(body))
}

fn refresh(
    state: &mut State,
    ctx: &Ctx<'_>,
    incoming: &Incoming,
    form: &HashMap<&str, &str>,
) -> Result<Reply, ApiError> {
    let client_id = check_client(state, incoming, form)?;
    let refresh_token = *form
        .get("refresh_token")
        .ok_or_else(|| ApiError::invalid_request("Missing required parameter: refresh_token"))?;
    let grant_id = state
        .refresh_tokens
        .get(refresh_token)
        .copied()
        .filter(|id| state.grants.get(id).is_some_and(|grant| !grant.revoked))
        .ok_or_else(|| ApiError::invalid_grant("Token has been expired or revoked."))?;
    let scopes = match state.grants.get(&grant_id) {
        Some(grant) if grant.client_id == client_id => grant.scopes.join(" "),
        _ => return Err(ApiError::oauth(401, "unauthorized_client", "Unauthorized")),
    };
    let (access, expires_in) = issue_access(state, ctx, grant_id);
    Ok(Reply::Json(json!({
        "access_token": access,
        "expires_in": expires_in,
        "scope": scopes,
        "token_type": "Bearer",
    })))
}

fn jwt_bearer(
    state: &mut State,
    ctx: &Ctx<'_>,
    form: &HashMap<&str, &str>,
) -> Result<Reply, ApiError> {
    let assertion = *form
        .get("assertion")
        .ok_or_else(|| ApiError::invalid_request("Missing required parameter: assertion"))?;
    let bad_signature = || ApiError::invalid_grant("Invalid JWT Signature.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad_signature())?;
    if header.alg != Algorithm::RS256 {
        return Err(bad_signature());
    }
    // Read `iss` before checking the signature, to know whose key to use.
    let payload = assertion
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .ok_or_else(bad_signature)?;
    let issuer = payload["iss"].as_str().unwrap_or_default();
    let account = state
        .service_accounts
        .get(issuer)
        .cloned()
        .ok_or_else(|| ApiError::invalid_grant("Invalid grant: account not found"))?;
    if header
        .kid
        .as_deref()
        .is_some_and(|kid| kid != account.key_id)
    {
        return Err(bad_signature());
    }
    let key = DecodingKey::from_rsa_pem(account.public_key_pem.as_bytes())
        .map_err(|_| bad_signature())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(assertion, &key, &validation)
        .map_err(|_| bad_signature())?
        .claims;
    let token_url = format!("{}/token", ctx.base_url);
    let audience = claims["aud"].as_str().unwrap_or_default();
    if audience != token_url && audience != GOOGLE_TOKEN_URL {
        return Err(ApiError::invalid_grant(
            "Invalid JWT: Failed audience check.",
        ));
    }
    let now = ctx.now.timestamp();
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(ApiError::invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    };
    if exp <= now || exp - iat > 3600 || iat > now + 300 || exp < iat {
        return Err(ApiError::invalid_grant(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if scopes.is_empty() || !scopes.iter().all(|scope| known_scope(scope)) {
        return Err(ApiError::oauth(
            400,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        ));
    }
    let (principal, service_account) = match claims["sub"].as_str() {
        Some(subject) if subject != account.email => {
            if !account.delegation {
                return Err(ApiError::oauth(
                    401,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
                ));
            }
            if !state.accounts.contains_key(subject) {
                return Err(ApiError::invalid_grant("Invalid email or User ID"));
            }
            (subject.to_owned(), false)
        }
        _ => (account.email.clone(), !account.delegation),
    };
    let grant_id = state.next();
    state.grants.insert(
        grant_id,
        Grant {
            principal,
            client_id: account.email.clone(),
            scopes,
            revoked: false,
            service_account,
        },
    );
    let (access, expires_in) = issue_access(state, ctx, grant_id);
    Ok(Reply::Json(json!({
        "access_token": access,
        "expires_in": expires_in,
        "token_type": "Bearer",
    })))
}

/// `POST /revoke` (token in the form body or the query): revokes the
/// whole grant — the refresh token and every access token of it.
pub(crate) fn revoke(state: &mut State, incoming: &Incoming) -> Result<Reply, ApiError> {
    let mut pairs = form(incoming);
    pairs.extend(incoming.query.iter().cloned());
    let form = single(&pairs);
    let token = *form
        .get("token")
        .ok_or_else(|| ApiError::invalid_request("Missing required parameter: token"))?;
    let grant_id = state
        .refresh_tokens
        .get(token)
        .copied()
        .or_else(|| state.access_tokens.get(token).map(|access| access.grant))
        .filter(|id| state.grants.get(id).is_some_and(|grant| !grant.revoked))
        .ok_or_else(|| ApiError::oauth(400, "invalid_token", "Token expired or revoked"))?;
    state.revoke_grant(grant_id);
    Ok(Reply::Empty)
}

/// The bearer token of an API call: `Authorization: Bearer`, or the
/// `access_token` / `oauth_token` query parameter.
pub(crate) fn authenticate(
    state: &State,
    ctx: &Ctx<'_>,
    incoming: &Incoming,
) -> Result<Principal, ApiError> {
    let header = incoming
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let token = match header {
        Some(value) => match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                token.trim().to_owned()
            }
            _ => return Err(ApiError::unauthenticated(false)),
        },
        None => incoming
            .query
            .iter()
            .find(|(name, _)| name == "access_token" || name == "oauth_token")
            .map(|(_, value)| value.clone())
            .ok_or_else(|| ApiError::unauthenticated(true))?,
    };
    let access = state
        .access_tokens
        .get(&token)
        .filter(|access| access.expires_at > ctx.now)
        .ok_or_else(|| ApiError::unauthenticated(false))?;
    let grant = state
        .grants
        .get(&access.grant)
        .filter(|grant| !grant.revoked)
        .ok_or_else(|| ApiError::unauthenticated(false))?;
    Ok(Principal {
        email: grant.principal.clone(),
        scopes: grant.scopes.clone(),
        service_account: grant.service_account,
    })
}

/// `GET /oauth2/v3/userinfo` (and `/v2/`, `/openidconnect/v1/`): who the
/// token belongs to; the email only with an email scope.
pub(crate) fn userinfo(state: &State, principal: &Principal, v2: bool) -> Result<Reply, ApiError> {
    let account = state.accounts.get(&principal.email);
    let sub = account.map_or_else(|| principal.email.clone(), |account| account.sub.clone());
    let with_email = principal.scopes.iter().any(|scope| {
        matches!(
            scope.as_str(),
            "email" | "openid" | "https://www.googleapis.com/auth/userinfo.email"
        )
    });
    let mut body = if v2 {
        json!({ "id": sub })
    } else {
        json!({ "sub": sub })
    };
    if with_email {
        if v2 {
            body["email"] = json!(principal.email);
            body["verified_email"] = json!(true);
        } else {
            body["email"] = json!(principal.email);
            body["email_verified"] = json!(true);
        }
    }
    if let Some(account) = account {
        body["name"] = json!(account.name);
    }
    Ok(Reply::Json(body))
}
