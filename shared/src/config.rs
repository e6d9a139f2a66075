//! Typed settings, read once at start from the environment and `.env`.
//!
//! Every variable the services read, with its default (`.env.example` lists
//! the same, commented):
//!
//! | variable | default |
//! |---|---|
//! | `TELEGRAM_BOT_TOKEN` | required |
//! | `TELEGRAM_API_URL` | `https://api.telegram.org` (base; `/bot<token>/<method>` is appended) |
//! | `ADMIN_TELEGRAM_IDS` | none (comma-separated Telegram user ids) |
//! | `DATABASE_URL` | `sqlite://./data/scheduler.db` (`postgres://` selects PostgreSQL) |
//! | `DATABASE_POOL_SIZE` | `5` |
//! | `TIMEZONE` | `Europe/Moscow` (company zone) |
//! | `PORT` | `8080` (on 0.0.0.0) |
//! | `LOG_FORMAT` | `pretty` on a terminal, else `json` |
//! | `RUST_LOG` | `info` |
//! | `PUBLIC_URL` | unset |
//! | `GOOGLE_CLIENT_ID`, `GOOGLE_CLIENT_SECRET` | unset (both or neither) |
//! | `GOOGLE_AUTH_URL` | `https://accounts.google.com/o/oauth2/v2/auth` |
//! | `GOOGLE_TOKEN_URL` | `https://oauth2.googleapis.com/token` |
//! | `GOOGLE_REVOKE_URL` | `https://oauth2.googleapis.com/revoke` |
//! | `GOOGLE_API_URL` | `https://www.googleapis.com` (base) |
//! | `GOOGLE_SERVICE_ACCOUNT_JSON` / `GOOGLE_SERVICE_ACCOUNT_FILE` | unset (one or neither) |
//! | `GOOGLE_RETRY_BASE` / `GOOGLE_RETRY_CAP` / `GOOGLE_RETRY_ATTEMPTS` | `500ms` / `30s` / `6` (one Google call) |
//! | `GOOGLE_HTTP_TIMEOUT` | `20s` |
//! | `GOOGLE_BUSY_SYNC_INTERVAL` | `5m` (busy times read from each connected calendar at least this often) |
//! | `TOKEN_ENCRYPTION_KEY` | unset; 32 bytes base64, required with Google |
//! | `TELEGRAM_RATE` / `TELEGRAM_BULK_RATE` | `28` / `20` messages per second |
//! | `TELEGRAM_POLL_TIMEOUT` | `25s` |
//! | `CHAT_UPDATE_LIMIT` | `20` (updates one chat may have waiting; past it they are dropped, the chat told once to slow down) |
//! | `HTTP_TIMEOUT` | `15s` |
//! | `WORKER_CONCURRENCY` / `WORKER_BATCH_SIZE` | `8` / `8` |
//! | `WORKER_HEARTBEAT` / `WORKER_MISSED_HEARTBEATS` | `10s` / `6` |
//! | `JOB_BACKOFF_BASE` / `JOB_BACKOFF_CAP` / `JOB_MAX_ATTEMPTS` | `2s` / `10m` / `12` |
//! | `PERIODIC_TICK` | `30s` |
//! | `BOOKING_HORIZON_DAYS` | `14` |
//! | `BOOKING_MIN_NOTICE` / `BOOKING_CANCEL_NOTICE` | `2h` / `2h` |
//! | `BOOKING_WEEKENDS` | `false` |
//! | `BOOKING_LIMIT` / `BOOKING_LIMIT_PERIOD` | `1` / `week` |
//! | `BOOKING_MODE` | `single` |
//! | `MEETING_CADENCE_DAYS` | `14` |
//! | `REMINDER_OFFSETS` | `24h,1h` |
//! | `OVERDUE_REPORT_TIME` | `09:00` |
//! | `DIAG_DISK_MIN_FREE_PERCENT` | `10` (diagnostics fail below this much free disk where the data lives) |
//! | `DIAG_QUEUE_MAX_WAIT` | `5m` (a due job waiting longer is a queue backlog) |
//! | `HEALTH_CHECK_INTERVAL` | `1m` (how often the worker's health monitor runs the quick checks; `0s` switches it off) |
//! | `TEST_CLOCK_FILE` | unset (tests only: a file holding a clock offset in seconds) |
//!
//! Durations use the `humantime` syntax (`90s`, `2h`, `1h 30m`). A mistake
//! yields one [`ConfigError`] naming the variable; secrets are never echoed.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use chrono::{NaiveTime, TimeDelta};
use chrono_tz::Tz;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use url::Url;

use crate::db::DatabaseUrl;
use crate::domain::settings::{BookingMode, BookingSettings, LimitPeriod};
use crate::google::calendar::RetryPolicy;

/// One wrong or missing setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong, readable on its own; never contains a secret.
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        Self {
            var,
            problem: problem.into(),
        }
    }
}

/// Everything the bot and the worker need to know, loaded once and passed down.
#[derive(Debug)]
pub struct Config {
    pub telegram: TelegramConfig,
    pub database: DatabaseConfig,
    /// The company zone: default zone of new users, zone of calendar weeks
    /// and daily report times.
    pub timezone: Tz,
    pub http: HttpConfig,
    pub log: LogConfig,
    pub google: GoogleConfig,
    pub queue: QueueConfig,
    /// Initial booking settings, stored in the database on first start.
    pub booking_defaults: BookingSettings,
    /// Interval of the worker's periodic tick.
    pub periodic_tick: Duration,
    /// Thresholds of `diagnose`, `/diag` and the health monitor.
    pub diagnostics: DiagnosticsConfig,
    /// When set, the clock adds the offset written in this file.
    pub test_clock_file: Option<PathBuf>,
}

/// Thresholds of the diagnostics: settings, so a test can trip them.
#[derive(Debug, Clone)]
pub struct DiagnosticsConfig {
    /// Free disk (percent of the volume holding the data) below which the
    /// host check fails.
    pub disk_min_free_percent: f64,
    /// A due job waiting longer than this is a queue backlog.
    pub queue_max_wait: Duration,
    /// How often the worker's health monitor runs the quick checks.
    pub health_interval: Duration,
}

impl DiagnosticsConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            disk_min_free_percent: env.number("DIAG_DISK_MIN_FREE_PERCENT", 10.0, 0.0, 100.0)?,
            queue_max_wait: env.duration(
                "DIAG_QUEUE_MAX_WAIT",
                Duration::from_secs(300),
                Duration::from_secs(1),
                Duration::from_secs(86_400),
            )?,
            health_interval: env.duration(
                "HEALTH_CHECK_INTERVAL",
                Duration::from_secs(60),
                Duration::ZERO,
                Duration::from_secs(3_600),
            )?,
        })
    }
}

#[derive(Debug)]
pub struct TelegramConfig {
    pub token: SecretString,
    /// Base URL; the client appends `/bot<token>/<method>`.
    pub api_url: Url,
    /// Users who skip approval and become active owners with the admin flag.
    pub admin_ids: Vec<i64>,
    /// Messages per second for the whole token, bot and workers together.
    pub rate: f64,
    /// The share of `rate` that bulk traffic (broadcasts, reminders) may use.
    pub bulk_rate: f64,
    /// Long-poll timeout of `getUpdates`.
    pub poll_timeout: Duration,
    /// Timeout of every other Telegram request.
    pub request_timeout: Duration,
    /// Updates one chat may have waiting or in hand; a flood past it is
    /// dropped (and the chat told once to slow down).
    pub chat_update_limit: usize,
}

#[derive(Debug)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub pool_size: usize,
}

#[derive(Debug)]
pub struct HttpConfig {
    pub port: u16,
    /// The bot's public base URL, if it has one.
    pub public_url: Option<Url>,
}

impl HttpConfig {
    /// Where Google sends the user back after consent.
    pub fn oauth_redirect_url(&self) -> String {
        let base = self
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://localhost:{}", self.port));
        format!("{base}/oauth/google/callback")
    }

    /// Google push notifications need a public HTTPS address.
    pub fn push_notifications_enabled(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive, already validated.
    pub filter: String,
}

#[derive(Debug)]
pub struct GoogleConfig {
    /// OAuth client for the consent flow; `None` when not configured.
    pub oauth_client: Option<OAuthClient>,
    pub auth_url: Url,
    pub token_url: Url,
    pub revoke_url: Url,
    /// Base URL; the client appends `/calendar/v3/...`.
    pub api_url: Url,
    pub service_account: Option<ServiceAccountKey>,
    /// Key for tokens at rest; present whenever Google is configured.
    pub token_encryption_key: Option<EncryptionKey>,
    /// How one Calendar call is repeated on 429, rate-limit 403s, 5xx and
    /// timeouts before the job itself counts an attempt as failed.
    pub retry: RetryPolicy,
    /// Longest wait for one answer from Google.
    pub http_timeout: Duration,
    /// How stale a connected calendar's busy times may get before the
    /// worker's sweep reads them again (push notifications, when
    /// `PUBLIC_URL` is HTTPS, bring changes sooner).
    pub busy_sync_interval: Duration,
}

impl GoogleConfig {
    /// Whether any Google integration is configured.
    pub fn enabled(&self) -> bool {
        self.oauth_client.is_some() || self.service_account.is_some()
    }
}

#[derive(Debug)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: SecretString,
}

/// The parts of a Google service-account key file the bot uses.
#[derive(Debug)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key: SecretString,
}

/// The 32-byte key that encrypts OAuth tokens at rest.
pub struct EncryptionKey {
    key: SecretBox<[u8; 32]>,
    /// Short public fingerprint stored beside each ciphertext, so a rotated
    /// key is recognised instead of producing garbage.
    pub key_id: String,
}

impl EncryptionKey {
    pub fn bytes(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Knobs of the job queue and its retries.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub concurrency: usize,
    /// Jobs fetched at once; never above `concurrency`.
    pub batch_size: usize,
    pub heartbeat: Duration,
    pub missed_heartbeats: u32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    pub max_attempts: u32,
    /// Timeout of outgoing HTTP requests (Google, Telegram sends).
    pub http_timeout: Duration,
}

/// Reads variables by name: the process environment, or a map in tests.
#[derive(Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    not_unicode: Vec<String>,
}

impl Env {
    /// The process environment, after `.env` was merged into it.
    pub fn from_process() -> Self {
        let mut env = Self::default();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str().map(str::to_owned) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => {
                    env.vars.insert(key, value);
                }
                Err(_) => env.not_unicode.push(key),
            }
        }
        env
    }

    /// A fixed set of variables, for tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            not_unicode: Vec::new(),
        }
    }

    /// The trimmed value, `None` when unset or blank.
    fn get(&self, var: &'static str) -> Result<Option<&str>, ConfigError> {
        if self.not_unicode.iter().any(|k| k == var) {
            return Err(ConfigError::new(var, "is not valid UTF-8"));
        }
        Ok(self
            .vars
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty()))
    }

    fn required(&self, var: &'static str) -> Result<&str, ConfigError> {
        self.get(var)?
            .ok_or_else(|| ConfigError::new(var, "is required but not set"))
    }

    /// Parses a non-secret value with `parse`, whose error says what was expected.
    fn parse_or<T>(
        &self,
        var: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(var)? {
            None => Ok(default),
            Some(raw) => parse(raw).map_err(|why| ConfigError::new(var, format!("`{raw}` {why}"))),
        }
    }

    fn number<T: FromStr + PartialOrd + std::fmt::Display + Copy>(
        &self,
        var: &'static str,
        default: T,
        min: T,
        max: T,
    ) -> Result<T, ConfigError> {
        self.parse_or(var, default, |raw| match raw.parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(format!("is not a number from {min} to {max}")),
        })
    }

    fn duration(
        &self,
        var: &'static str,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        self.parse_or(var, default, |raw| match humantime::parse_duration(raw) {
            Ok(d) if d >= min && d <= max => Ok(d),
            Ok(_) => Err(format!(
                "is out of range ({} to {})",
                humantime::format_duration(min),
                humantime::format_duration(max)
            )),
            Err(_) => Err("is not a duration such as 30s, 2h or 1h 30m".to_owned()),
        })
    }

    fn boolean(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        self.parse_or(var, default, |raw| {
            match raw.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err("is not true or false".to_owned()),
            }
        })
    }

    fn url(&self, var: &'static str, default: &str) -> Result<Url, ConfigError> {
        match self.get(var)? {
            Some(raw) => {
                parse_http_url(raw).map_err(|why| ConfigError::new(var, format!("`{raw}` {why}")))
            }
            None => parse_http_url(default).map_err(|why| ConfigError::new(var, why)),
        }
    }
}

fn parse_http_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("is not an http(s) URL".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".to_owned());
    }
    Ok(url)
}

/// Loads `.env` (if present) into the process environment. Call it before
/// any thread starts; variables already set win over the file.
pub fn load_dotenv() -> Result<(), ConfigError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(e) if e.not_found() => Ok(()),
        Err(dotenvy::Error::LineParse(_, index)) => Err(ConfigError::new(
            "(.env)",
            format!("cannot parse the file near character {index}"),
        )),
        Err(_) => Err(ConfigError::new("(.env)", "cannot be read")),
    }
}

impl Config {
    /// Reads and validates every setting.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let google = GoogleConfig::from_env(env)?;
        Ok(Self {
            telegram: TelegramConfig::from_env(env)?,
            database: DatabaseConfig::from_env(env)?,
            timezone: company_zone(env)?,
            http: HttpConfig {
                port: env.number("PORT", 8080, 0, u16::MAX)?,
                public_url: env
                    .get("PUBLIC_URL")?
                    .map(|raw| {
                        parse_http_url(raw)
                            .map_err(|why| ConfigError::new("PUBLIC_URL", format!("`{raw}` {why}")))
                    })
                    .transpose()?,
            },
            log: LogConfig::from_env(env)?,
            google,
            queue: QueueConfig::from_env(env)?,
            booking_defaults: booking_defaults(env)?,
            periodic_tick: env.duration(
                "PERIODIC_TICK",
                Duration::from_secs(30),
                Duration::from_millis(100),
                Duration::from_secs(600),
            )?,
            diagnostics: DiagnosticsConfig::from_env(env)?,
            test_clock_file: env.get("TEST_CLOCK_FILE")?.map(PathBuf::from),
        })
    }
}

fn company_zone(env: &Env) -> Result<Tz, ConfigError> {
    env.parse_or("TIMEZONE", chrono_tz::Europe::Moscow, |raw| {
        raw.parse::<Tz>()
            .map_err(|_| "is not an IANA time zone such as Europe/Moscow".to_owned())
    })
}

impl TelegramConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let token = env.required("TELEGRAM_BOT_TOKEN")?;
        if !is_plausible_bot_token(token) {
            return Err(ConfigError::new(
                "TELEGRAM_BOT_TOKEN",
                "does not look like a bot token (<digits>:<letters, digits, - or _>)",
            ));
        }
        let rate = env.number("TELEGRAM_RATE", 28.0, 0.1, 10_000.0)?;
        let bulk_rate = env.number("TELEGRAM_BULK_RATE", 20.0_f64.min(rate), 0.1, 10_000.0)?;
        if bulk_rate > rate {
            return Err(ConfigError::new(
                "TELEGRAM_BULK_RATE",
                format!("{bulk_rate} exceeds TELEGRAM_RATE ({rate})"),
            ));
        }
        Ok(Self {
            token: SecretString::from(token.to_owned()),
            api_url: env.url("TELEGRAM_API_URL", "https://api.telegram.org")?,
            admin_ids: env.parse_or("ADMIN_TELEGRAM_IDS", Vec::new(), parse_id_list)?,
            rate,
            bulk_rate,
            poll_timeout: env.duration(
                "TELEGRAM_POLL_TIMEOUT",
                Duration::from_secs(25),
                Duration::ZERO,
                Duration::from_secs(50),
            )?,
            request_timeout: env.duration(
                "HTTP_TIMEOUT",
                Duration::from_secs(15),
                Duration::from_millis(100),
                Duration::from_secs(300),
            )?,
            chat_update_limit: env.number("CHAT_UPDATE_LIMIT", 20, 1, 10_000)?,
        })
    }
}

fn is_plausible_bot_token(token: &str) -> bool {
    match token.split_once(':') {
        Some((id, secret)) => {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !secret.is_empty()
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    }
}

fn parse_id_list(raw: &str) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<i64>() {
            Ok(id) if id > 0 => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            _ => return Err(format!("has `{part}`, which is not a Telegram user id")),
        }
    }
    Ok(ids)
}

impl DatabaseConfig {
    /// Just the database settings: all that `migrate` needs.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = match env.get("DATABASE_URL")? {
            None => DatabaseUrl::parse(DatabaseUrl::DEFAULT),
            Some(raw) => DatabaseUrl::parse(raw),
        }
        .map_err(|why| ConfigError::new("DATABASE_URL", why))?;
        Ok(Self {
            url,
            pool_size: env.number("DATABASE_POOL_SIZE", 5, 1, 100)?,
        })
    }
}

impl LogConfig {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let terminal_default = if std::io::stderr().is_terminal() {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        };
        let format = env.parse_or("LOG_FORMAT", terminal_default, |raw| {
            match raw.to_ascii_lowercase().as_str() {
                "pretty" => Ok(LogFormat::Pretty),
                "json" => Ok(LogFormat::Json),
                _ => Err("is neither pretty nor json".to_owned()),
            }
        })?;
        let filter = env.parse_or("RUST_LOG", "info".to_owned(), |raw| {
            tracing_subscriber::EnvFilter::try_new(raw)
                .map(|_| raw.to_owned())
                .map_err(|_| "is not a valid log filter such as info or bot=debug,info".to_owned())
        })?;
        Ok(Self { format, filter })
    }
}

impl GoogleConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let oauth_client = match (
            env.get("GOOGLE_CLIENT_ID")?,
            env.get("GOOGLE_CLIENT_SECRET")?,
        ) {
            (Some(id), Some(secret)) => Some(OAuthClient {
                client_id: id.to_owned(),
                client_secret: SecretString::from(secret.to_owned()),
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "GOOGLE_CLIENT_SECRET",
                    "is required when GOOGLE_CLIENT_ID is set",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "GOOGLE_CLIENT_ID",
                    "is required when GOOGLE_CLIENT_SECRET is set",
                ));
            }
        };
        let service_account = service_account_key(env)?;
        let token_encryption_key = env
            .get("TOKEN_ENCRYPTION_KEY")?
            .map(parse_encryption_key)
            .transpose()?;
        if (oauth_client.is_some() || service_account.is_some()) && token_encryption_key.is_none() {
            return Err(ConfigError::new(
                "TOKEN_ENCRYPTION_KEY",
                "is required when Google is configured (32 random bytes, base64; e.g. `openssl rand -base64 32`)",
            ));
        }
        Ok(Self {
            oauth_client,
            auth_url: env.url(
                "GOOGLE_AUTH_URL",
                "https://accounts.google.com/o/oauth2/v2/auth",
            )?,
            token_url: env.url("GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token")?,
            revoke_url: env.url("GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke")?,
            api_url: env.url("GOOGLE_API_URL", "https://www.googleapis.com")?,
            service_account,
            token_encryption_key,
            retry: google_retry(env)?,
            http_timeout: env.duration(
                "GOOGLE_HTTP_TIMEOUT",
                Duration::from_secs(20),
                Duration::from_millis(100),
                Duration::from_secs(300),
            )?,
            busy_sync_interval: env.duration(
                "GOOGLE_BUSY_SYNC_INTERVAL",
                Duration::from_secs(300),
                Duration::from_secs(1),
                Duration::from_secs(86_400),
            )?,
        })
    }
}

fn google_retry(env: &Env) -> Result<RetryPolicy, ConfigError> {
    let base = env.duration(
        "GOOGLE_RETRY_BASE",
        Duration::from_millis(500),
        Duration::from_millis(1),
        Duration::from_secs(60),
    )?;
    let cap = env.duration(
        "GOOGLE_RETRY_CAP",
        Duration::from_secs(30),
        Duration::from_millis(1),
        Duration::from_secs(600),
    )?;
    if cap < base {
        return Err(ConfigError::new(
            "GOOGLE_RETRY_CAP",
            "is shorter than GOOGLE_RETRY_BASE",
        ));
    }
    Ok(RetryPolicy {
        base,
        cap,
        attempts: env.number("GOOGLE_RETRY_ATTEMPTS", 6, 1, 20)?,
    })
}

fn service_account_key(env: &Env) -> Result<Option<ServiceAccountKey>, ConfigError> {
    let (var, json) = match (
        env.get("GOOGLE_SERVICE_ACCOUNT_JSON")?,
        env.get("GOOGLE_SERVICE_ACCOUNT_FILE")?,
    ) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "GOOGLE_SERVICE_ACCOUNT_FILE",
                "set either it or GOOGLE_SERVICE_ACCOUNT_JSON, not both",
            ));
        }
        (Some(json), None) => ("GOOGLE_SERVICE_ACCOUNT_JSON", json.to_owned()),
        (None, Some(path)) => (
            "GOOGLE_SERVICE_ACCOUNT_FILE",
            std::fs::read_to_string(path).map_err(|e| {
                ConfigError::new(
                    "GOOGLE_SERVICE_ACCOUNT_FILE",
                    format!("`{path}` cannot be read: {}", e.kind()),
                )
            })?,
        ),
    };
    #[derive(serde::Deserialize)]
    struct KeyFile {
        client_email: String,
        private_key: String,
    }
    let key: KeyFile = serde_json::from_str(&json).map_err(|_| {
        ConfigError::new(
            var,
            "is not a service-account key (JSON with client_email and private_key)",
        )
    })?;
    if !key.private_key.contains("PRIVATE KEY") || !key.client_email.contains('@') {
        return Err(ConfigError::new(
            var,
            "is not a service-account key (JSON with client_email and private_key)",
        ));
    }
    Ok(Some(ServiceAccountKey {
        client_email: key.client_email,
        private_key: SecretString::from(key.private_key),
    }))
}

fn parse_encryption_key(raw: &str) -> Result<EncryptionKey, ConfigError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| ConfigError::new("TOKEN_ENCRYPTION_KEY", "is not valid base64"))?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| {
        ConfigError::new(
            "TOKEN_ENCRYPTION_KEY",
            "must decode to exactly 32 bytes (e.g. `openssl rand -base64 32`)",
        )
    })?;
    Ok(EncryptionKey {
        key_id: key_fingerprint(&key),
        key: SecretBox::new(Box::new(key)),
    })
}

/// A short, non-reversible id of the key (FNV-1a of its bytes): tells keys
/// apart without revealing anything usable.
fn key_fingerprint(key: &[u8; 32]) -> String {
    let hash = key.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("k{:08x}", hash >> 32)
}

impl QueueConfig {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let concurrency = env.number("WORKER_CONCURRENCY", 8, 1, 256)?;
        let batch_size = env.number("WORKER_BATCH_SIZE", concurrency.min(8), 1, 256)?;
        if batch_size > concurrency {
            return Err(ConfigError::new(
                "WORKER_BATCH_SIZE",
                format!(
                    "{batch_size} exceeds WORKER_CONCURRENCY ({concurrency}); live workers would steal each other's jobs"
                ),
            ));
        }
        let heartbeat = env.duration(
            "WORKER_HEARTBEAT",
            Duration::from_secs(10),
            Duration::from_secs(1),
            Duration::from_secs(300),
        )?;
        let missed_heartbeats = env.number("WORKER_MISSED_HEARTBEATS", 6, 3, 100)?;
        let backoff_base = env.duration(
            "JOB_BACKOFF_BASE",
            Duration::from_secs(2),
            Duration::from_millis(10),
            Duration::from_secs(600),
        )?;
        let backoff_cap = env.duration(
            "JOB_BACKOFF_CAP",
            Duration::from_secs(600),
            Duration::from_millis(10),
            Duration::from_secs(86_400),
        )?;
        if backoff_cap < backoff_base {
            return Err(ConfigError::new(
                "JOB_BACKOFF_CAP",
                "is shorter than JOB_BACKOFF_BASE",
            ));
        }
        Ok(Self {
            concurrency,
            batch_size,
            heartbeat,
            missed_heartbeats,
            backoff_base,
            backoff_cap,
            max_attempts: env.number("JOB_MAX_ATTEMPTS", 12, 1, 100)?,
            http_timeout: env.duration(
                "HTTP_TIMEOUT",
                Duration::from_secs(15),
                Duration::from_millis(100),
                Duration::from_secs(300),
            )?,
        })
    }
}

fn booking_defaults(env: &Env) -> Result<BookingSettings, ConfigError> {
    let base = BookingSettings::product_defaults();
    let day = Duration::from_secs(86_400);
    let notice = |var, default: TimeDelta| -> Result<TimeDelta, ConfigError> {
        let std_default = default.to_std().unwrap_or_default();
        let value = env.duration(var, std_default, Duration::ZERO, 30 * day)?;
        TimeDelta::from_std(value).map_err(|_| ConfigError::new(var, "is out of range"))
    };
    let settings = BookingSettings {
        horizon_days: env.number(
            "BOOKING_HORIZON_DAYS",
            base.horizon_days,
            1,
            BookingSettings::MAX_HORIZON_DAYS,
        )?,
        min_notice: notice("BOOKING_MIN_NOTICE", base.min_notice)?,
        cancel_notice: notice("BOOKING_CANCEL_NOTICE", base.cancel_notice)?,
        weekends_enabled: env.boolean("BOOKING_WEEKENDS", base.weekends_enabled)?,
        limit_per_period: env.number(
            "BOOKING_LIMIT",
            base.limit_per_period,
            1,
            BookingSettings::MAX_LIMIT,
        )?,
        limit_period: env.parse_or("BOOKING_LIMIT_PERIOD", base.limit_period, |raw| {
            LimitPeriod::from_str(&raw.to_ascii_lowercase())
                .map_err(|_| "is neither week nor month".to_owned())
        })?,
        mode: env.parse_or("BOOKING_MODE", base.mode, |raw| {
            BookingMode::from_str(&raw.to_ascii_lowercase())
                .map_err(|_| "is neither single nor collective".to_owned())
        })?,
        cadence_days: env.number(
            "MEETING_CADENCE_DAYS",
            base.cadence_days,
            1,
            BookingSettings::MAX_CADENCE_DAYS,
        )?,
        reminder_offsets: env.parse_or(
            "REMINDER_OFFSETS",
            base.reminder_offsets.clone(),
            parse_offsets,
        )?,
        overdue_report_at: env.parse_or("OVERDUE_REPORT_TIME", base.overdue_report_at, |raw| {
            NaiveTime::parse_from_str(raw, "%H:%M")
                .map_err(|_| "is not a time of day such as 09:00".to_owned())
        })?,
    };
    settings.validated().map_err(|e| {
        let var = match e.field {
            "reminder_offsets" => "REMINDER_OFFSETS",
            "min_notice" => "BOOKING_MIN_NOTICE",
            "cancel_notice" => "BOOKING_CANCEL_NOTICE",
            "horizon_days" => "BOOKING_HORIZON_DAYS",
            "cadence_days" => "MEETING_CADENCE_DAYS",
            _ => "BOOKING_LIMIT",
        };
        ConfigError::new(var, e.problem)
    })
}

fn parse_offsets(raw: &str) -> Result<Vec<TimeDelta>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            humantime::parse_duration(part)
                .ok()
                .and_then(|d| TimeDelta::from_std(d).ok())
                .ok_or_else(|| format!("has `{part}`, which is not a duration such as 24h"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456:AAH-test_token";

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_env(&Env::from_pairs(pairs.iter().copied()))
    }

    fn error_var(pairs: &[(&str, &str)]) -> &'static str {
        match load(pairs) {
            Ok(_) => "(none)",
            Err(e) => e.var,
        }
    }

    #[test]
    fn defaults_need_only_a_token() {
        let config = load(&[("TELEGRAM_BOT_TOKEN", TOKEN)]).expect("defaults load");
        assert_eq!(
            config.telegram.api_url.as_str(),
            "https://api.telegram.org/"
        );
        assert_eq!(config.timezone, chrono_tz::Europe::Moscow);
        assert_eq!(config.http.port, 8080);
        assert_eq!(config.database.pool_size, 5);
        assert!(matches!(config.database.url, DatabaseUrl::Sqlite(_)));
        assert!((config.telegram.rate - 28.0).abs() < f64::EPSILON);
        assert!((config.telegram.bulk_rate - 20.0).abs() < f64::EPSILON);
        assert!(!config.google.enabled());
        assert_eq!(config.booking_defaults, BookingSettings::product_defaults());
        assert_eq!(
            config.http.oauth_redirect_url(),
            "http://localhost:8080/oauth/google/callback"
        );
        assert!(!config.http.push_notifications_enabled());
    }

    #[test]
    fn missing_and_malformed_values_name_their_variable() {
        assert_eq!(error_var(&[]), "TELEGRAM_BOT_TOKEN");
        assert_eq!(
            error_var(&[("TELEGRAM_BOT_TOKEN", "  ")]),
            "TELEGRAM_BOT_TOKEN"
        );
        assert_eq!(
            error_var(&[("TELEGRAM_BOT_TOKEN", "nocolon")]),
            "TELEGRAM_BOT_TOKEN"
        );
        let cases = [
            ("DATABASE_URL", "mysql://x"),
            ("TIMEZONE", "Mars/Olympus"),
            ("PORT", "99999"),
            ("ADMIN_TELEGRAM_IDS", "12,abc"),
            ("TELEGRAM_API_URL", "ftp://x"),
            ("TELEGRAM_BULK_RATE", "50"),
            ("LOG_FORMAT", "xml"),
            ("RUST_LOG", "info,[=="),
            ("PUBLIC_URL", "not a url"),
            ("BOOKING_MIN_NOTICE", "soon"),
            ("REMINDER_OFFSETS", "24h,2s"),
            ("OVERDUE_REPORT_TIME", "25:00"),
            ("BOOKING_MODE", "group"),
            ("WORKER_BATCH_SIZE", "64"),
            ("TOKEN_ENCRYPTION_KEY", "c2hvcnQ="),
            ("GOOGLE_CLIENT_ID", "id"),
        ];
        for (var, value) in cases {
            let expected = if var == "GOOGLE_CLIENT_ID" {
                "GOOGLE_CLIENT_SECRET"
            } else {
                var
            };
            assert_eq!(
                error_var(&[("TELEGRAM_BOT_TOKEN", TOKEN), (var, value)]),
                expected,
                "{var}={value}"
            );
        }
    }

    #[test]
    fn errors_never_echo_secrets() {
        let secret = "123456:VERY-SECRET";
        let err = load(&[("TELEGRAM_BOT_TOKEN", secret), ("TIMEZONE", "Nowhere")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!err.contains("VERY-SECRET"), "{err}");
        let err = load(&[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("TOKEN_ENCRYPTION_KEY", "not base64 secret!"),
        ])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(!err.contains("secret!"), "{err}");
        assert!(err.starts_with("TOKEN_ENCRYPTION_KEY"), "{err}");
    }

    #[test]
    fn google_needs_an_encryption_key() {
        let with_client = [
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("GOOGLE_CLIENT_ID", "client"),
            ("GOOGLE_CLIENT_SECRET", "secret"),
        ];
        assert_eq!(error_var(&with_client), "TOKEN_ENCRYPTION_KEY");
        let key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let mut pairs = with_client.to_vec();
        pairs.push(("TOKEN_ENCRYPTION_KEY", key));
        let config = load(&pairs).expect("google config loads");
        assert!(config.google.enabled());
        let debug = format!("{:?}", config.google);
        assert!(!debug.contains("secret\""), "{debug}");
        assert!(!debug.contains(key));
    }

    #[test]
    fn values_are_parsed_into_types() {
        let config = load(&[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("ADMIN_TELEGRAM_IDS", " 10, 20,,10 "),
            ("DATABASE_URL", "postgres://u:p@localhost/db"),
            ("TIMEZONE", "Asia/Tokyo"),
            ("PUBLIC_URL", "https://bot.example.com/"),
            ("REMINDER_OFFSETS", "1h, 24h, 15m"),
            ("BOOKING_WEEKENDS", "yes"),
            ("BOOKING_MODE", "Collective"),
            ("OVERDUE_REPORT_TIME", "08:30"),
            ("WORKER_HEARTBEAT", "1s"),
            ("WORKER_MISSED_HEARTBEATS", "3"),
        ])
        .expect("config loads");
        assert_eq!(config.telegram.admin_ids, [10, 20]);
        assert!(matches!(config.database.url, DatabaseUrl::Postgres(_)));
        assert_eq!(config.timezone, chrono_tz::Asia::Tokyo);
        assert_eq!(
            config.http.oauth_redirect_url(),
            "https://bot.example.com/oauth/google/callback"
        );
        assert!(config.http.push_notifications_enabled());
        assert_eq!(
            config.booking_defaults.reminder_offsets,
            [
                TimeDelta::hours(24),
                TimeDelta::hours(1),
                TimeDelta::minutes(15)
            ]
        );
        assert!(config.booking_defaults.weekends_enabled);
        assert_eq!(config.booking_defaults.mode, BookingMode::Collective);
        assert_eq!(config.queue.heartbeat, Duration::from_secs(1));
    }
}
