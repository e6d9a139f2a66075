//! People and Google Calendar in end-to-end tests: connecting a calendar
//! through the bot's `/calendar` link, the fake consent screen and the
//! bot's callback, as a person would.

use url::Url;

use crate::fake_google::{Consent, FakeGoogle};
use crate::fake_telegram::BotMessage;
use crate::people::Person;

/// The label of the connect button (English).
pub const CONNECT_BUTTON: &str = "🔗 Connect Google Calendar";

/// The address of link button `label`.
pub fn link(message: &BotMessage, label: &str) -> String {
    message
        .all_buttons()
        .find(|button| button.text == label)
        .and_then(|button| button.url.clone())
        .unwrap_or_else(|| panic!("no link button {label:?} in {:?}", message.text))
}

/// `person` (English) connects the calendar of `email`: `/calendar`,
/// Google's consent, the browser back at the bot's callback, the chat
/// told. A callback on an `https://` loopback address (a deployment whose
/// `PUBLIC_URL` is HTTPS) is reached over plain HTTP, as through the TLS
/// terminator in front of it.
pub async fn connects(person: &Person, fake: &FakeGoogle, email: &str) {
    let screen = person.says("/calendar", "not connected").await;
    let url = link(&screen, CONNECT_BUTTON);
    let location = fake
        .consent(&url, Consent::grant(email))
        .await
        .expect("Google's consent screen answers with a redirect");
    let mut location = Url::parse(&location).expect("the callback location is a URL");
    if location.scheme() == "https"
        && matches!(location.host_str(), Some("127.0.0.1" | "localhost"))
    {
        location.set_scheme("http").expect("https becomes http");
    }
    let after = person.last_message_id();
    let status = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a browser")
        .get(location)
        .send()
        .await
        .expect("the bot's callback answers")
        .status();
    assert_eq!(status.as_u16(), 200);
    person
        .gets_after(after, &format!("Calendar connected: {email}"))
        .await;
}
