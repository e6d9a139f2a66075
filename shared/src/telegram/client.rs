//! A thin wrapper over frankenstein's client that hides the token and maps
//! errors to [`TelegramError`].
//!
//! Documents are the one exception to "frankenstein does the request":
//! its `sendDocument` uploads from a file path, and an outbox message
//! carries its file inline, so [`TelegramClient::send_document`] builds the
//! multipart request itself with the same reqwest client and API URL (and
//! the same care: no URL in any error, answers decoded like frankenstein's).

use std::fmt;
use std::time::Duration;

use frankenstein::AsyncTelegramApi;
use frankenstein::client_reqwest::Bot;
use frankenstein::methods::{
    AnswerCallbackQueryParams, DeleteWebhookParams, EditMessageTextParams, GetUpdatesParams,
    SendMessageParams, SetMyCommandsParams,
};
use frankenstein::response::{ErrorResponse, MethodResponse};
use frankenstein::types::Message;
use frankenstein::types::{
    AllowedUpdate, BotCommand, BotCommandScope, BotCommandScopeChat, InlineKeyboardButton,
    InlineKeyboardMarkup, ReplyMarkup,
};
use secrecy::ExposeSecret;

use super::error::TelegramError;
use super::message::{Attachment, OutgoingMessage};
use super::updates::{Received, decode_batch};
use crate::config::TelegramConfig;

/// The Telegram Bot API client; cheap to clone.
#[derive(Clone)]
pub struct TelegramClient {
    bot: Bot,
    poll_client: Bot,
}

impl fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TelegramClient { .. }")
    }
}

impl TelegramClient {
    pub fn new(config: &TelegramConfig) -> Result<Self, TelegramError> {
        let api_url = format!(
            "{}/bot{}",
            config.api_url.as_str().trim_end_matches('/'),
            config.token.expose_secret()
        );
        let build = |timeout: Duration| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .timeout(timeout)
                .build()
                .map_err(|e| TelegramError::Transient(e.without_url().to_string()))
        };
        let bot = Bot::builder()
            .api_url(api_url.clone())
            .client(build(config.request_timeout)?)
            .build();
        // Long polls need a timeout above the poll's own.
        let poll_client = Bot::builder()
            .api_url(api_url)
            .client(build(config.poll_timeout + Duration::from_secs(15))?)
            .build();
        Ok(Self { bot, poll_client })
    }

    /// Long-polls for updates after `offset` (which confirms every update
    /// before it). The answer is split and decoded update by update (see
    /// [`Received`]), so one unreadable update never hides the others.
    pub async fn get_updates(
        &self,
        offset: Option<i64>,
        timeout: Duration,
    ) -> Result<Vec<Received>, TelegramError> {
        let params = GetUpdatesParams::builder()
            .maybe_offset(offset)
            .limit(100)
            .timeout(u32::try_from(timeout.as_secs()).unwrap_or(25))
            .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .build();
        // The URL holds the token: it is built here, used once, never shown.
        let url = format!("{}/getUpdates", self.poll_client.api_url);
        let request = self.poll_client.client.post(url).json(&params);
        let (status, body) = send_for_text(request).await?;
        if !(200..300).contains(&status) {
            return Err(error_answer(status, &body));
        }
        decode_batch(&body).map_err(|e| TelegramError::Transient(format!("unreadable answer: {e}")))
    }

    /// Sends a message and returns its Telegram message id.
    pub async fn send(
        &self,
        chat_id: i64,
        message: &OutgoingMessage,
    ) -> Result<i64, TelegramError> {
        let params = SendMessageParams::builder()
            .chat_id(chat_id)
            .text(message.text.clone())
            .parse_mode(frankenstein::ParseMode::Html)
            .maybe_reply_markup(keyboard(message).map(ReplyMarkup::InlineKeyboardMarkup))
            .build();
        let sent = self.bot.send_message(&params).await?;
        Ok(i64::from(sent.result.message_id))
    }

    /// Sends `attachment` as a document with `message`'s text as its
    /// caption (HTML) and its buttons, uploaded as multipart/form-data;
    /// returns the Telegram message id.
    pub async fn send_document(
        &self,
        chat_id: i64,
        message: &OutgoingMessage,
        attachment: &Attachment,
    ) -> Result<i64, TelegramError> {
        let file = reqwest::multipart::Part::bytes(attachment.content.as_bytes().to_vec())
            .file_name(attachment.file_name.clone())
            .mime_str(&attachment.mime_type)
            .map_err(|_| {
                TelegramError::Rejected(format!(
                    "invalid MIME type of the attachment: {}",
                    attachment.mime_type
                ))
            })?;
        let mut form = reqwest::multipart::Form::new()
            .text("chat_id", chat_id.to_string())
            .text("caption", message.text.clone())
            .text("parse_mode", "HTML")
            .part("document", file);
        if let Some(markup) = keyboard(message) {
            let markup = serde_json::to_string(&markup)
                .map_err(|e| TelegramError::Rejected(format!("cannot encode the buttons: {e}")))?;
            form = form.text("reply_markup", markup);
        }
        // The URL holds the token: it is built here, used once, never shown.
        let url = format!("{}/sendDocument", self.bot.api_url);
        let (status, body) = send_for_text(self.bot.client.post(url).multipart(form)).await?;
        if !(200..300).contains(&status) {
            return Err(error_answer(status, &body));
        }
        let sent: MethodResponse<Message> = serde_json::from_str(&body)
            .map_err(|e| TelegramError::Transient(format!("unreadable answer: {e}")))?;
        Ok(i64::from(sent.result.message_id))
    }

    /// Replaces the text and buttons of bot message `message_id`. An edit
    /// that changes nothing counts as done.
    pub async fn edit(
        &self,
        chat_id: i64,
        message_id: i64,
        message: &OutgoingMessage,
    ) -> Result<(), TelegramError> {
        let message_id = i32::try_from(message_id)
            .map_err(|_| TelegramError::Rejected("message to edit not found".to_owned()))?;
        let params = EditMessageTextParams::builder()
            .chat_id(chat_id)
            .message_id(message_id)
            .text(message.text.clone())
            .parse_mode(frankenstein::ParseMode::Html)
            .maybe_reply_markup(keyboard(message))
            .build();
        match self.bot.edit_message_text(&params).await {
            Ok(_) => Ok(()),
            Err(error) => match TelegramError::from(error) {
                TelegramError::Rejected(reason) if reason.contains("message is not modified") => {
                    Ok(())
                }
                other => Err(other),
            },
        }
    }

    /// Acknowledges a button press (stops the client's spinner).
    pub async fn answer_callback(
        &self,
        callback_id: &str,
        text: Option<&str>,
    ) -> Result<(), TelegramError> {
        let params = AnswerCallbackQueryParams::builder()
            .callback_query_id(callback_id.to_owned())
            .maybe_text(text.map(str::to_owned))
            .build();
        self.bot.answer_callback_query(&params).await?;
        Ok(())
    }

    /// Sets the command menu shown in one chat.
    pub async fn set_chat_commands(
        &self,
        chat_id: i64,
        commands: &[(&str, String)],
    ) -> Result<(), TelegramError> {
        let params = SetMyCommandsParams::builder()
            .commands(bot_commands(commands))
            .scope(BotCommandScope::Chat(
                BotCommandScopeChat::builder().chat_id(chat_id).build(),
            ))
            .build();
        self.bot.set_my_commands(&params).await?;
        Ok(())
    }

    /// Sets the menu of chats without their own, for clients in
    /// `language_code` (all others when `None`).
    pub async fn set_default_commands(
        &self,
        commands: &[(&str, String)],
        language_code: Option<&str>,
    ) -> Result<(), TelegramError> {
        let params = SetMyCommandsParams::builder()
            .commands(bot_commands(commands))
            .scope(BotCommandScope::AllPrivateChats)
            .maybe_language_code(language_code.map(str::to_owned))
            .build();
        self.bot.set_my_commands(&params).await?;
        Ok(())
    }

    /// The bot's own username, to check the token at start.
    pub async fn get_me(&self) -> Result<Option<String>, TelegramError> {
        Ok(self.bot.get_me().await?.result.username)
    }

    /// The URL of the webhook Telegram delivers to, `None` when none is set.
    /// A webhook makes every `getUpdates` fail with 409, so diagnostics ask.
    pub async fn webhook_url(&self) -> Result<Option<String>, TelegramError> {
        let info = self.bot.get_webhook_info().await?.result;
        Ok(Some(info.url).filter(|url| !url.is_empty()))
    }

    /// Deletes the webhook so polling works again, keeping the updates
    /// Telegram holds (a diagnostics repair; setting it again undoes it).
    pub async fn delete_webhook(&self) -> Result<(), TelegramError> {
        let params = DeleteWebhookParams::builder()
            .drop_pending_updates(false)
            .build();
        self.bot.delete_webhook(&params).await?;
        Ok(())
    }
}

/// Sends a request built by hand and reads the answer as text; errors
/// carry no URL (it holds the token).
async fn send_for_text(request: reqwest::RequestBuilder) -> Result<(u16, String), TelegramError> {
    let response = request
        .send()
        .await
        .map_err(|e| TelegramError::Transient(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| TelegramError::Transient(e.without_url().to_string()))?;
    Ok((status, body))
}

/// The error of a failed answer, decoded like frankenstein's.
fn error_answer(status: u16, body: &str) -> TelegramError {
    match serde_json::from_str::<ErrorResponse>(body) {
        Ok(error) => TelegramError::from(frankenstein::Error::Api(error)),
        Err(_) if status >= 500 || status == 429 => {
            TelegramError::Transient(format!("HTTP {status}"))
        }
        Err(_) => TelegramError::Rejected(format!("HTTP {status}")),
    }
}

/// The inline keyboard of `message`, if it has buttons.
fn keyboard(message: &OutgoingMessage) -> Option<InlineKeyboardMarkup> {
    (!message.buttons.is_empty()).then(|| {
        InlineKeyboardMarkup::builder()
            .inline_keyboard(
                message
                    .buttons
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|b| match &b.url {
                                Some(url) => InlineKeyboardButton::builder()
                                    .text(b.text.clone())
                                    .url(url.clone())
                                    .build(),
                                None => InlineKeyboardButton::builder()
                                    .text(b.text.clone())
                                    .callback_data(b.data.clone())
                                    .build(),
                            })
                            .collect()
                    })
                    .collect(),
            )
            .build()
    })
}

fn bot_commands(commands: &[(&str, String)]) -> Vec<BotCommand> {
    commands
        .iter()
        .map(|(command, description)| {
            BotCommand::builder()
                .command((*command).to_owned())
                .description(description.clone())
                .build()
        })
        .collect()
}
