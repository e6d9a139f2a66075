//! What can go wrong when calling Telegram, classified by what to do next.

use std::time::Duration;

/// A failed Telegram call, sorted by the reaction it needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramError {
    /// 429: wait this long, then try again (everyone sharing the token).
    #[error("Telegram asks to retry after {0:?}")]
    RetryAfter(Duration),
    /// 403: the user blocked the bot or was deactivated; do not retry.
    #[error("the recipient cannot be reached: {0}")]
    Unreachable(String),
    /// 409 on getUpdates: another poller or a webhook is active.
    #[error("polling conflict: {0}")]
    Conflict(String),
    /// 401: the token is wrong or revoked.
    #[error("Telegram rejected the bot token")]
    Unauthorized,
    /// 400 and other answers that a retry cannot fix.
    #[error("Telegram refused the request: {0}")]
    Rejected(String),
    /// 5xx, timeouts, connection failures, unreadable answers: retry later.
    #[error("Telegram is unavailable: {0}")]
    Transient(String),
}

impl TelegramError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RetryAfter(_) | Self::Transient(_) | Self::Conflict(_)
        )
    }
}

impl From<frankenstein::Error> for TelegramError {
    fn from(error: frankenstein::Error) -> Self {
        match error {
            frankenstein::Error::Api(response) => {
                let description = response.description;
                match response.error_code {
                    429 => Self::RetryAfter(Duration::from_secs(u64::from(
                        response
                            .parameters
                            .and_then(|p| p.retry_after)
                            .unwrap_or(1)
                            .max(1),
                    ))),
                    403 => Self::Unreachable(description),
                    409 => Self::Conflict(description),
                    401 | 404 => Self::Unauthorized,
                    code if code >= 500 => Self::Transient(format!("{code} {description}")),
                    _ => Self::Rejected(description),
                }
            }
            // frankenstein strips the URL (and with it the token) from
            // reqwest errors; the message is safe to show.
            frankenstein::Error::HttpReqwest(e) => Self::Transient(e.to_string()),
            frankenstein::Error::JsonDecode { source, .. } => {
                Self::Transient(format!("unreadable answer: {source}"))
            }
            other => Self::Rejected(other.to_string()),
        }
    }
}
