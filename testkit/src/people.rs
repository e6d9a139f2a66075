//! People in end-to-end tests: one user's chat with the bot through the fake
//! Telegram — send text, press buttons, wait for what the bot says (new
//! messages or edits in place), read toasts and command menus.

use std::time::Duration;

use crate::fake_telegram::{BotMessage, CommandScope, Entry, FakeTelegram, FakeUser};
use crate::stack::Stack;

/// How long a test waits for the bot to say something.
pub const WAIT: Duration = Duration::from_secs(60);

/// One person's chat with the bot.
#[derive(Debug)]
pub struct Person {
    pub telegram: FakeTelegram,
    pub user: FakeUser,
}

impl Person {
    pub fn new(stack: &Stack, id: i64, first_name: &str, language: &str) -> Self {
        Self {
            telegram: stack.telegram.clone(),
            user: stack
                .telegram
                .user(id)
                .first_name(first_name)
                .language_code(language),
        }
    }

    /// The same person, with a chat the bot may write to before they wrote.
    pub fn with_chat(self) -> Self {
        Self {
            user: self.user.has_chat(),
            telegram: self.telegram,
        }
    }

    pub fn id(&self) -> i64 {
        self.user.id()
    }

    pub fn last_message_id(&self) -> i64 {
        self.telegram
            .last_bot_message(self.id())
            .map_or(0, |m| m.message_id)
    }

    /// Waits for a bot message newer than `after` whose visible text
    /// contains `expected`.
    pub async fn gets_after(&self, after: i64, expected: &str) -> BotMessage {
        self.telegram
            .wait_for_bot_message(
                self.id(),
                |m| m.message_id > after && m.text.contains(expected),
                WAIT,
            )
            .await
            .unwrap_or_else(|e| panic!("waiting for {expected:?}: {e}"))
    }

    /// Sends `text`; returns the first new bot message containing `expected`.
    pub async fn says(&self, text: &str, expected: &str) -> BotMessage {
        let after = self.last_message_id();
        self.user.send_text(text);
        self.gets_after(after, expected).await
    }

    /// Presses `data` under message `message_id`; returns the new bot
    /// message containing `expected` and the toast.
    pub async fn presses(
        &self,
        message_id: i64,
        data: &str,
        expected: &str,
    ) -> (BotMessage, Option<String>) {
        let after = self.last_message_id();
        let edits = self.edits_of(message_id);
        let update_id = self.user.press(message_id, data);
        let reply = self
            .telegram
            .wait_for_bot_message(
                self.id(),
                |m| {
                    let fresh =
                        m.message_id > after || (m.message_id == message_id && m.edits > edits);
                    fresh && m.text.contains(expected)
                },
                WAIT,
            )
            .await
            .unwrap_or_else(|e| panic!("waiting for {expected:?}: {e}"));
        (reply, self.toast(update_id).await)
    }

    /// How often bot message `message_id` has been edited so far.
    pub fn edits_of(&self, message_id: i64) -> u32 {
        self.telegram
            .bot_messages(self.id())
            .into_iter()
            .find(|m| m.message_id == message_id)
            .map_or(0, |m| m.edits)
    }

    /// Presses the button labelled `label` on the newest message with one.
    pub async fn presses_button(
        &self,
        label: &str,
        expected: &str,
    ) -> (BotMessage, Option<String>) {
        let (message_id, data) = self.button(|_| true, label);
        self.presses(message_id, &data, expected).await
    }

    /// The newest bot message that matches `which` and has a button
    /// labelled `label`: its id and the button's data.
    pub fn button(&self, which: impl Fn(&BotMessage) -> bool, label: &str) -> (i64, String) {
        self.telegram
            .bot_messages(self.id())
            .into_iter()
            .rev()
            .filter(|m| which(m))
            .find_map(|m| {
                m.callback_data(label)
                    .map(|data| (m.message_id, data.to_owned()))
            })
            .unwrap_or_else(|| panic!("no button {label:?} in chat {}", self.id()))
    }

    /// The answer to the press carried by `update_id`.
    pub async fn toast(&self, update_id: i64) -> Option<String> {
        let query_id = self
            .telegram
            .transcript(self.id())
            .into_iter()
            .find_map(|entry| match entry {
                Entry::UserPress {
                    update_id: id,
                    callback_query_id,
                    ..
                } if id == update_id => Some(callback_query_id),
                _ => None,
            })
            .expect("the press is in the transcript");
        match self
            .telegram
            .wait_for_entry(
                self.id(),
                |entry| {
                    matches!(entry, Entry::CallbackAnswer { callback_query_id, .. }
                        if *callback_query_id == query_id)
                },
                WAIT,
            )
            .await
            .expect("every press is answered")
        {
            Entry::CallbackAnswer { text, .. } => text,
            _ => None,
        }
    }

    /// Presses `data` under message `message_id` when nothing visible is
    /// expected to change; returns the toast.
    pub async fn presses_quietly(&self, message_id: i64, data: &str) -> Option<String> {
        let update_id = self.user.press(message_id, data);
        self.toast(update_id).await
    }

    /// Presses forged or outdated `data` under the newest message; returns
    /// the toast once the bot answered.
    pub async fn forges(&self, data: &str) -> Option<String> {
        self.presses_quietly(self.last_message_id(), data).await
    }

    /// Bot messages (as they are now) whose text contains `text`.
    pub fn messages_with(&self, text: &str) -> Vec<BotMessage> {
        self.telegram
            .bot_messages(self.id())
            .into_iter()
            .filter(|m| m.text.contains(text))
            .collect()
    }

    /// Walks `/schedule` → `owner` → first free day → first free time;
    /// returns the confirm screen.
    pub async fn reaches_confirm(&self, owner: &str) -> BotMessage {
        let owners = self.says("/schedule", "Whom would you like to meet?").await;
        let data = owners
            .callback_data(owner)
            .unwrap_or_else(|| panic!("no owner {owner:?}"))
            .to_owned();
        let (days, _) = self.presses(owners.message_id, &data, "Pick a day").await;
        let (_, day) = days
            .buttons_with(" · ")
            .into_iter()
            .next()
            .expect("a free day");
        let (times, _) = self.presses(days.message_id, &day, "Pick a time").await;
        let (_, time) = times
            .buttons_with(":")
            .into_iter()
            .next()
            .expect("a free time");
        let (confirm, _) = self.presses(times.message_id, &time, "Book ").await;
        confirm
    }

    /// Books the first free slot with `owner` through `/schedule`; returns
    /// the "Booked!" screen.
    pub async fn books_first_free_slot(&self, owner: &str) -> BotMessage {
        let confirm = self.reaches_confirm(owner).await;
        let book = confirm
            .callback_data("✅ Book")
            .expect("a Book button")
            .to_owned();
        self.presses(confirm.message_id, &book, "Booked!").await.0
    }

    /// Moves the first meeting of `/my_meetings` to the last free slot of
    /// the last free day; returns the "Moved." screen and the toast.
    pub async fn moves_first_meeting_to_last_slot(&self) -> (BotMessage, Option<String>) {
        let list = self.says("/my_meetings", "Your meetings").await;
        let (move_label, _) = list
            .buttons_with("🔁")
            .into_iter()
            .next()
            .expect("a Move button");
        let (days, _) = self.presses_button(&move_label, "Move your meeting").await;
        let (_, day) = days
            .buttons_with(" · ")
            .into_iter()
            .last()
            .expect("a free day");
        let (times, _) = self.presses(days.message_id, &day, "Pick a time").await;
        let (_, time) = times
            .buttons_with(":")
            .into_iter()
            .last()
            .expect("a free time");
        let (confirm, _) = self
            .presses(times.message_id, &time, "Move your meeting with")
            .await;
        let here = confirm
            .callback_data("✅ Move here")
            .expect("a Move here button")
            .to_owned();
        self.presses(confirm.message_id, &here, "Moved.").await
    }

    /// Cancels the first meeting of `/my_meetings` (and confirms); returns
    /// the screen after and the toast.
    pub async fn cancels_first_meeting(&self, expected: &str) -> (BotMessage, Option<String>) {
        let list = self.says("/my_meetings", "Your meetings").await;
        let (cancel_label, _) = list
            .buttons_with("❌")
            .into_iter()
            .next()
            .expect("a Cancel button");
        let (ask, _) = self
            .presses_button(&cancel_label, "Cancel your meeting")
            .await;
        let yes = ask
            .callback_data("❌ Yes, cancel it")
            .expect("a Yes button")
            .to_owned();
        self.presses(ask.message_id, &yes, expected).await
    }

    /// Registers up to the department question, then picks `department`.
    pub async fn registers(&self, first: &str, last: &str, department: &str, done: &str) {
        self.says(first, "").await;
        self.says(last, "").await;
        self.presses_button(department, done).await;
    }
}

/// Waits until the command menu of `chat` satisfies `expected`; returns it.
pub async fn menu(
    telegram: &FakeTelegram,
    chat: i64,
    expected: impl Fn(&[&str]) -> bool,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let names: Vec<String> = telegram
            .commands(&CommandScope::chat(chat), "")
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.command)
            .collect();
        if expected(&names.iter().map(String::as_str).collect::<Vec<_>>()) {
            return names;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "menu of chat {chat}: {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
