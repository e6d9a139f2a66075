//! A fake Telegram Bot API server that speaks the real protocol over HTTP,
//! so the real `bot` and `worker` binaries can be tested without internet.
//!
//! Start one with [`FakeTelegram::start`], point `TELEGRAM_API_URL` at
//! [`FakeTelegram::base_url`], play users with [`FakeTelegram::user`] and
//! look at what the bot did with [`FakeTelegram::transcript`],
//! [`FakeTelegram::bot_messages`] and [`FakeTelegram::stats`]. Flood limits,
//! blocked users, held requests, injected faults and chaos reproduce what
//! the real service does to a bot.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use testkit::fake_telegram::{FakeTelegram, FakeTelegramConfig};
//!
//! let fake = FakeTelegram::start(FakeTelegramConfig::default()).await;
//! // Run the bot with TELEGRAM_API_URL=fake.base_url(), TELEGRAM_BOT_TOKEN=fake.token().
//! let ann = fake.user(42).first_name("Ann");
//! ann.send_text("/start");
//! let menu = fake
//!     .wait_for_bot_message(42, |m| !m.buttons.is_empty(), Duration::from_secs(10))
//!     .await?;
//! ann.press(menu.message_id, "some:data");
//! # Ok(())
//! # }
//! ```
//!
//! The same controls are served as JSON on the same port, for the
//! `fake-telegram` binary and scripts (bodies and answers are JSON):
//!
//! | request | effect |
//! |---|---|
//! | `POST /control/users/{id}/text` `{"text", "first_name"?, "last_name"?, "username"?, "language_code"?}` | the user sends text; answers `{"update_id"}` |
//! | `POST /control/users/{id}/press` `{"message_id", "data"}` | the user presses a button; answers `{"update_id"}` |
//! | `POST /control/users/{id}/block`, `/unblock`, `/deactivate` | user status |
//! | `GET /control/chats/{id}/transcript` | the chat's [`Entry`] list |
//! | `GET /control/chats/{id}/messages` | the bot's messages as they are now |
//! | `POST /control/hold`, `POST /control/release` | hold / release bot requests |
//! | `POST /control/faults` (a [`Fault`]), `DELETE /control/faults` | inject / clear faults |
//! | `POST /control/chaos` (a [`Chaos`]), `DELETE /control/chaos` | start / stop chaos |
//! | `GET /control/stats` | [`Stats`] |
//! | `GET /control/commands` | command lists stored by `setMyCommands` |

mod control;
mod faults;
mod limits;
mod markup;
mod methods;
mod params;
mod server;
mod state;
mod transcript;
mod wire;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use shared::clock::Clock;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::faults::ChaosState;
pub use self::faults::{Chaos, Fault, FaultKind};
pub use self::limits::Limits;
use self::state::{Shared, UserStatus};
pub use self::transcript::{
    BotCommandEntry, BotEdit, BotMessage, Button, CommandScope, Entry, SentDocument, Stats,
};

/// The token accepted by default (its prefix is the bot id, like a real one).
pub const DEFAULT_TOKEN: &str = "123456789:AAFakeTelegramTokenForTheTestSuite";

/// How the fake behaves: the one bot it serves and its limits.
#[derive(Debug, Clone)]
pub struct FakeTelegramConfig {
    /// The only accepted token; any other answers 401.
    pub token: String,
    /// The bot's user id (`getMe`, `from` of its messages).
    pub bot_id: i64,
    /// The bot's `@username` (without `@`).
    pub bot_username: String,
    /// The bot's display name.
    pub bot_first_name: String,
    /// Flood limits for counted calls.
    pub limits: Limits,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Source of message dates (a test clock moves them too).
    pub clock: Clock,
}

impl Default for FakeTelegramConfig {
    fn default() -> Self {
        Self::new(DEFAULT_TOKEN)
    }
}

impl FakeTelegramConfig {
    /// Real limits for `token`; the bot id is the token's numeric prefix.
    pub fn new(token: impl Into<String>) -> Self {
        let token = token.into();
        let bot_id = token
            .split_once(':')
            .and_then(|(id, _)| id.parse().ok())
            .unwrap_or(123_456_789);
        Self {
            token,
            bot_id,
            bot_username: "fake_scheduler_bot".to_owned(),
            bot_first_name: "Scheduler".to_owned(),
            limits: Limits::default(),
            port: 0,
            clock: Clock::system(),
        }
    }

    /// The default token without any flood limits, for benchmarks.
    pub fn unlimited() -> Self {
        Self::default().with_limits(Limits::unlimited())
    }

    /// Another token (and the bot id from its prefix).
    pub fn with_token(self, token: impl Into<String>) -> Self {
        Self {
            limits: self.limits,
            port: self.port,
            clock: self.clock,
            bot_username: self.bot_username,
            bot_first_name: self.bot_first_name,
            ..Self::new(token)
        }
    }

    /// Other flood limits (e.g. a long window so a test sees 429 reliably).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// A fixed port instead of a free one.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The bot's identity as `getMe` reports it.
    pub fn with_bot(mut self, id: i64, username: impl Into<String>) -> Self {
        self.bot_id = id;
        self.bot_username = username.into();
        self
    }

    /// The clock for message dates (share the services' test clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// A running fake; cheap to clone. The server stops when the last clone is
/// dropped or on [`FakeTelegram::shutdown`].
#[derive(Clone)]
pub struct FakeTelegram {
    shared: Arc<Shared>,
    server: Arc<Server>,
}

/// Owns the server task; stopping it makes waiting requests give up.
struct Server {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    fn stop(&self) {
        self.shared.update(|state| state.closed = true);
        self.stop.send_replace(true);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl fmt::Debug for FakeTelegram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeTelegram")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl FakeTelegram {
    /// Starts serving on 127.0.0.1 (panics if the port cannot be bound).
    pub async fn start(config: FakeTelegramConfig) -> Self {
        Self::try_start(config)
            .await
            .expect("bind the fake Telegram server")
    }

    /// Starts serving on 127.0.0.1, or says why the port cannot be bound.
    pub async fn try_start(config: FakeTelegramConfig) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let app = server::router(Arc::clone(&shared));
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let signal = async move {
                // Also ends when the sender is gone.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                eprintln!("fake-telegram: server failed: {error}");
            }
        });
        let server = Arc::new(Server {
            shared: Arc::clone(&shared),
            addr,
            stop,
            task: Mutex::new(Some(task)),
        });
        Ok(Self { shared, server })
    }

    /// Stops the server and waits until it has closed its connections;
    /// requests still waiting (held, long polls) are answered 502.
    pub async fn shutdown(&self) {
        self.server.stop();
        let task = self
            .server
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// `http://127.0.0.1:PORT`: the value for `TELEGRAM_API_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `{base_url}/bot{token}`: the `api_url` of a frankenstein `Bot`.
    pub fn api_url(&self) -> String {
        format!("{}/bot{}", self.base_url(), self.shared.config.token)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The accepted token.
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The simulated user `telegram_id` (created with defaults when new:
    /// first name `User<id>`, language `en`).
    pub fn user(&self, telegram_id: i64) -> FakeUser {
        self.shared.update(|state| {
            state.user_mut(telegram_id);
        });
        FakeUser {
            shared: Arc::clone(&self.shared),
            id: telegram_id,
        }
    }

    /// Makes every bot request wait (nothing is applied) until
    /// [`release`](Self::release); one whose client leaves meanwhile is
    /// discarded, like a request lost before reaching Telegram.
    pub fn hold(&self) {
        self.shared.set_held(true);
    }

    /// Lets held requests proceed.
    pub fn release(&self) {
        self.shared.set_held(false);
    }

    /// Queues an update of any `kind` (one the bot never asked for, like a
    /// kind Telegram added later) whose content is the JSON text `content`,
    /// sent byte for byte, even where it is not valid for a JSON parser
    /// (`"\ud800"`, a lone surrogate). Returns the update id.
    pub fn send_raw_update(&self, kind: &str, content: &str) -> i64 {
        self.shared.update(|state| state.enqueue_raw(kind, content))
    }

    /// Queues a fault for the next matching requests.
    pub fn inject(&self, fault: Fault) {
        self.shared.update(|state| state.faults.push(fault));
    }

    /// Drops faults not used up yet.
    pub fn clear_faults(&self) {
        self.shared.update(|state| state.faults.clear());
    }

    /// Starts failing counted calls at random (deterministic per seed).
    pub fn set_chaos(&self, chaos: Chaos) {
        self.shared
            .update(|state| state.chaos = Some(ChaosState::new(chaos)));
    }

    /// Stops chaos.
    pub fn clear_chaos(&self) {
        self.shared.update(|state| state.chaos = None);
    }

    /// Everything that happened in a chat, in order.
    pub fn transcript(&self, chat_id: i64) -> Vec<Entry> {
        self.shared.transcript(chat_id)
    }

    /// The bot's messages in a chat as they are now (after edits, without
    /// deleted ones), oldest first.
    pub fn bot_messages(&self, chat_id: i64) -> Vec<BotMessage> {
        self.shared.bot_messages(chat_id)
    }

    /// The newest bot message in a chat, as it is now.
    pub fn last_bot_message(&self, chat_id: i64) -> Option<BotMessage> {
        self.bot_messages(chat_id).pop()
    }

    /// Documents the bot sent into a chat.
    pub fn documents(&self, chat_id: i64) -> Vec<SentDocument> {
        self.bot_messages(chat_id)
            .into_iter()
            .filter_map(|message| message.document)
            .collect()
    }

    /// Messages and documents delivered (answered 200) into a chat.
    pub fn sent_count(&self, chat_id: i64) -> u64 {
        self.shared
            .lock()
            .chats
            .get(&chat_id)
            .map_or(0, |chat| chat.delivered)
    }

    /// Counters over the fake's life.
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats_snapshot()
    }

    /// The commands stored by `setMyCommands` for a scope and language
    /// (`""` for all languages).
    pub fn commands(
        &self,
        scope: &CommandScope,
        language_code: &str,
    ) -> Option<Vec<BotCommandEntry>> {
        self.shared
            .lock()
            .commands
            .get(&(scope.clone(), language_code.to_owned()))
            .cloned()
    }

    /// The webhook URL, if the bot set one.
    pub fn webhook_url(&self) -> Option<String> {
        self.shared.lock().webhook_url.clone()
    }

    /// Waits until a bot message in `chat_id` (as it is now, so edits
    /// count) satisfies `predicate`; messages already there count too.
    pub async fn wait_for_bot_message(
        &self,
        chat_id: i64,
        predicate: impl Fn(&BotMessage) -> bool,
        timeout: Duration,
    ) -> Result<BotMessage, WaitError> {
        let found = self
            .shared
            .wait_until(Some(Instant::now() + timeout), |state| {
                state.chats.get(&chat_id).and_then(|chat| {
                    chat.bot_messages
                        .values()
                        .map(|message| message.public())
                        .find(|message| predicate(message))
                })
            })
            .await;
        found.ok_or_else(|| self.wait_error("a matching bot message", chat_id, timeout))
    }

    /// Waits until a transcript entry of `chat_id` satisfies `predicate`.
    pub async fn wait_for_entry(
        &self,
        chat_id: i64,
        predicate: impl Fn(&Entry) -> bool,
        timeout: Duration,
    ) -> Result<Entry, WaitError> {
        let found = self
            .shared
            .wait_until(Some(Instant::now() + timeout), |state| {
                state.chats.get(&chat_id).and_then(|chat| {
                    chat.transcript
                        .iter()
                        .find(|entry| predicate(entry))
                        .cloned()
                })
            })
            .await;
        found.ok_or_else(|| self.wait_error("a matching transcript entry", chat_id, timeout))
    }

    /// Waits until the statistics satisfy `predicate`.
    pub async fn wait_for_stats(
        &self,
        predicate: impl Fn(&Stats) -> bool,
        timeout: Duration,
    ) -> Result<Stats, WaitError> {
        let found = self
            .shared
            .wait_until(Some(Instant::now() + timeout), |state| {
                Some(state.stats_snapshot()).filter(|stats| predicate(stats))
            })
            .await;
        found.ok_or_else(|| WaitError {
            what: format!("matching statistics (now {:?})", self.stats()),
            timeout,
            chat_id: None,
            transcript: Vec::new(),
        })
    }

    fn wait_error(&self, what: &str, chat_id: i64, timeout: Duration) -> WaitError {
        WaitError {
            what: what.to_owned(),
            timeout,
            chat_id: Some(chat_id),
            transcript: self.transcript(chat_id),
        }
    }
}

/// A wait timed out; shows the chat's transcript to explain why.
#[derive(Debug, Clone)]
pub struct WaitError {
    /// What was awaited.
    pub what: String,
    /// How long it was awaited.
    pub timeout: Duration,
    /// The chat concerned, if any.
    pub chat_id: Option<i64>,
    /// That chat's transcript when the wait gave up.
    pub transcript: Vec<Entry>,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no {} within {:?}", self.what, self.timeout)?;
        if let Some(chat_id) = self.chat_id {
            write!(f, "; transcript of chat {chat_id}:")?;
            if self.transcript.is_empty() {
                write!(f, " (empty)")?;
            }
            for entry in &self.transcript {
                write!(f, "\n  {entry:?}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for WaitError {}

/// A simulated user talking to the bot in a private chat (chat id = user
/// id). Profile setters change the user for later updates.
#[derive(Clone)]
pub struct FakeUser {
    shared: Arc<Shared>,
    id: i64,
}

impl fmt::Debug for FakeUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeUser").field("id", &self.id).finish()
    }
}

impl FakeUser {
    /// The Telegram user id, which is also the chat id.
    pub fn id(&self) -> i64 {
        self.id
    }

    fn edit(self, change: impl FnOnce(&mut state::UserProfile)) -> Self {
        self.shared.update(|state| change(state.user_mut(self.id)));
        self
    }

    /// Sets the first name shown in later updates.
    pub fn first_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.edit(|user| user.first_name = name)
    }

    /// Sets the last name shown in later updates.
    pub fn last_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.edit(|user| user.last_name = Some(name))
    }

    /// Sets the `@username` shown in later updates.
    pub fn username(self, username: impl Into<String>) -> Self {
        let username = username.into();
        self.edit(|user| user.username = Some(username))
    }

    /// Sets the client language (`en` by default) of later updates.
    pub fn language_code(self, code: impl Into<String>) -> Self {
        let code = code.into();
        self.edit(|user| user.language_code = Some(code))
    }

    /// A user whose client sends no language.
    pub fn no_language_code(self) -> Self {
        self.edit(|user| user.language_code = None)
    }

    /// Sends a text message (a `bot_command` entity when it starts with
    /// `/`); returns the update id.
    pub fn send_text(&self, text: &str) -> i64 {
        self.shared.user_text(self.id, text)
    }

    /// Presses a button with `callback_data` under bot message
    /// `message_id`; returns the update id.
    pub fn press(&self, message_id: i64, callback_data: &str) -> i64 {
        self.shared.user_press(self.id, message_id, callback_data)
    }

    /// Presses the button labelled `label` on the newest bot message that
    /// has one; `None` if no such button is shown.
    pub fn press_button(&self, label: &str) -> Option<i64> {
        let (message_id, data) =
            self.shared
                .bot_messages(self.id)
                .iter()
                .rev()
                .find_map(|message| {
                    message
                        .callback_data(label)
                        .map(|data| (message.message_id, data.to_owned()))
                })?;
        Some(self.press(message_id, &data))
    }

    /// The user opened a chat with the bot before the test began (so the
    /// bot may write to them) without sending an update now.
    pub fn has_chat(self) -> Self {
        self.shared.update(|state| {
            state.chats.entry(self.id).or_default();
        });
        self
    }

    /// The user blocks the bot: sends answer 403.
    pub fn block(&self) {
        self.shared.set_user_status(self.id, UserStatus::Blocked);
    }

    /// The user unblocks the bot.
    pub fn unblock(&self) {
        self.shared.set_user_status(self.id, UserStatus::Active);
    }

    /// The account is deleted: sends answer 403 "user is deactivated".
    pub fn deactivate(&self) {
        self.shared
            .set_user_status(self.id, UserStatus::Deactivated);
    }
}
