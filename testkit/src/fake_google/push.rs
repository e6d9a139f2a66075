//! Delivery of push notifications (`events.watch` channels): an empty POST
//! with the `X-Goog-*` headers, like Google's. Only loopback addresses are
//! reached; anything else is just recorded.

use std::time::Duration;

use url::Url;

use super::state::Notification;

/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// `Some(answered 2xx)` for a loopback address, `None` when not attempted.
/// With `plain_http` an `https://` address is reached over plain HTTP (the
/// TLS terminator in front of a deployment under test).
pub(crate) async fn deliver(notification: &Notification, plain_http: bool) -> Option<bool> {
    let mut url = Url::parse(&notification.address).ok()?;
    if !matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) {
        return None;
    }
    if plain_http && url.scheme() == "https" {
        url.set_scheme("http").ok()?;
    }
    let client = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .build()
        .ok()?;
    let mut request = client.post(url).header("Content-Length", "0");
    for (name, value) in &notification.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    Some(
        request
            .send()
            .await
            .is_ok_and(|response| response.status().is_success()),
    )
}
