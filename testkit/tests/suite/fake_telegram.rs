//! The fake Telegram Bot API behaves like the real one.
//!
//! Every test talks real HTTP to its own fake, mostly through frankenstein
//! (the client the bot uses) so its types prove the answers parse.

use std::time::Duration;

use frankenstein::AsyncTelegramApi;
use frankenstein::ParseMode;
use frankenstein::client_reqwest::Bot;
use frankenstein::input_file::InputFile;
use frankenstein::methods::{
    AnswerCallbackQueryParams, DeleteMyCommandsParams, DeleteWebhookParams,
    EditMessageReplyMarkupParams, EditMessageTextParams, GetMyCommandsParams, GetUpdatesParams,
    SendDocumentParams, SendMessageParams, SetMyCommandsParams, SetWebhookParams,
};
use frankenstein::response::{ErrorResponse, MessageOrBool, MethodResponse};
use frankenstein::types::{
    AllowedUpdate, BotCommand, BotCommandScope, BotCommandScopeChat, ChatType,
    InlineKeyboardButton, InlineKeyboardMarkup, MaybeInaccessibleMessage, MessageEntityType,
    ReplyKeyboardRemove, ReplyMarkup,
};
use frankenstein::updates::{Update, UpdateContent};
use serde_json::{Value, json};
use testkit::fake_telegram::{
    Chaos, CommandScope, Entry, FakeTelegram, FakeTelegramConfig, Fault, FaultKind, Limits,
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Generous bound for things that should happen at once.
const WAIT: Duration = Duration::from_secs(10);

async fn unlimited() -> FakeTelegram {
    FakeTelegram::start(FakeTelegramConfig::unlimited()).await
}

fn bot(fake: &FakeTelegram) -> Bot {
    Bot::new_url(fake.api_url())
}

/// The API error of a call that must fail.
fn api_error<T: std::fmt::Debug>(
    result: Result<MethodResponse<T>, frankenstein::Error>,
) -> ErrorResponse {
    match result {
        Err(frankenstein::Error::Api(error)) => error,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A raw JSON call: (status, body).
async fn raw(url: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn call(fake: &FakeTelegram, method: &str, body: Value) -> (u16, Value) {
    raw(&format!("{}/{method}", fake.api_url()), &body).await
}

fn text(chat_id: i64, text: &str) -> SendMessageParams {
    SendMessageParams::builder()
        .chat_id(chat_id)
        .text(text)
        .build()
}

fn poll(offset: i64, timeout: u32) -> GetUpdatesParams {
    GetUpdatesParams::builder()
        .offset(offset)
        .timeout(timeout)
        .build()
}

fn keyboard(buttons: &[(&str, &str)]) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::builder()
        .inline_keyboard(vec![
            buttons
                .iter()
                .map(|(label, data)| {
                    InlineKeyboardButton::builder()
                        .text(*label)
                        .callback_data(*data)
                        .build()
                })
                .collect(),
        ])
        .build()
}

async fn updates(bot: &Bot, params: &GetUpdatesParams) -> Vec<Update> {
    bot.get_updates(params).await.unwrap().result
}

#[tokio::test]
async fn a_start_reaches_get_updates_and_the_offset_forgets_it() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let ann = fake
        .user(42)
        .first_name("Ann")
        .last_name("Lee")
        .username("ann_l")
        .language_code("de");
    let first = ann.send_text("/start hello");
    let second = ann.send_text("plain");
    assert_eq!(second, first + 1);

    let got = updates(&bot, &poll(0, 0)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(i64::from(got[0].update_id), first);
    let UpdateContent::Message(message) = &got[0].content else {
        panic!("not a message: {:?}", got[0]);
    };
    assert_eq!(message.text.as_deref(), Some("/start hello"));
    assert_eq!(message.message_id, 1);
    assert_eq!(message.chat.id, 42);
    assert_eq!(message.chat.type_field, ChatType::Private);
    assert_eq!(message.chat.first_name.as_deref(), Some("Ann"));
    let from = message.from.as_ref().unwrap();
    assert_eq!((from.id, from.is_bot), (42, false));
    assert_eq!(from.username.as_deref(), Some("ann_l"));
    assert_eq!(from.language_code.as_deref(), Some("de"));
    assert!(message.date > 1_600_000_000);
    let entities = message.entities.as_ref().unwrap();
    assert_eq!(entities[0].type_field, MessageEntityType::BotCommand);
    assert_eq!((entities[0].offset, entities[0].length), (0, 6));
    let UpdateContent::Message(plain) = &got[1].content else {
        panic!("not a message");
    };
    assert_eq!(plain.message_id, 2);
    assert_eq!(plain.entities, None);

    // Unconfirmed updates come again; an offset confirms and forgets them.
    assert_eq!(updates(&bot, &poll(0, 0)).await.len(), 2);
    let rest = updates(&bot, &poll(first + 1, 0)).await;
    assert_eq!(rest.len(), 1);
    assert_eq!(i64::from(rest[0].update_id), second);
    assert!(updates(&bot, &poll(second + 1, 0)).await.is_empty());
    assert!(updates(&bot, &poll(0, 0)).await.is_empty());
    assert_eq!(fake.stats().pending_updates, 0);
}

#[tokio::test]
async fn limit_and_allowed_updates_filter_the_batch() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let user = fake.user(5);
    for i in 0..3 {
        user.send_text(&format!("m{i}"));
    }
    user.press(1, "x");
    let limited = GetUpdatesParams::builder().limit(2).build();
    assert_eq!(updates(&bot, &limited).await.len(), 2);
    let only_callbacks = GetUpdatesParams::builder()
        .allowed_updates(vec![AllowedUpdate::CallbackQuery])
        .build();
    let got = updates(&bot, &only_callbacks).await;
    assert_eq!(got.len(), 1);
    assert!(matches!(got[0].content, UpdateContent::CallbackQuery(_)));
}

#[tokio::test]
async fn a_long_poll_answers_when_an_update_arrives_and_empty_at_timeout() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let waiting = tokio::spawn({
        let bot = bot.clone();
        async move { updates(&bot, &poll(0, 30)).await }
    });
    fake.wait_for_stats(|stats| stats.polling, WAIT)
        .await
        .unwrap();
    let id = fake.user(7).send_text("hi");
    let got = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(i64::from(got[0].update_id), id);

    // Nothing new: a short long poll ends with [].
    assert!(updates(&bot, &poll(id + 1, 1)).await.is_empty());
    assert!(!fake.stats().polling);
}

#[tokio::test]
async fn a_second_poller_ends_the_waiting_one_with_409() {
    let fake = unlimited().await;
    let first = tokio::spawn({
        let bot = bot(&fake);
        async move { bot.get_updates(&poll(0, 30)).await }
    });
    fake.wait_for_stats(|stats| stats.polling, WAIT)
        .await
        .unwrap();
    let second = tokio::spawn({
        let bot = bot(&fake);
        async move { bot.get_updates(&poll(0, 30)).await }
    });
    let error = api_error(tokio::time::timeout(WAIT, first).await.unwrap().unwrap());
    assert_eq!(error.error_code, 409);
    assert_eq!(
        error.description,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
    );
    // The newer poll is still waiting and gets the update.
    fake.wait_for_stats(|stats| stats.polling, WAIT)
        .await
        .unwrap();
    fake.user(8).send_text("hello");
    let got = tokio::time::timeout(WAIT, second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.result.len(), 1);
}

#[tokio::test]
async fn a_long_poll_whose_client_left_steals_nothing() {
    let fake = unlimited().await;
    let waiting = tokio::spawn({
        let bot = bot(&fake);
        async move { bot.get_updates(&poll(0, 30)).await }
    });
    fake.wait_for_stats(|stats| stats.polling, WAIT)
        .await
        .unwrap();
    waiting.abort();
    fake.wait_for_stats(|stats| !stats.polling && stats.abandoned == 1, WAIT)
        .await
        .unwrap();
    let id = fake.user(9).send_text("still here");
    let got = updates(&bot(&fake), &poll(0, 0)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(i64::from(got[0].update_id), id);
}

#[tokio::test]
async fn messages_presses_and_edits_round_trip_through_frankenstein() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let user = fake.user(11).first_name("Bo");
    let start = user.send_text("/start");

    let params = SendMessageParams::builder()
        .chat_id(11)
        .text("<b>Pick</b> a slot, &lt;Bo&gt;")
        .parse_mode(ParseMode::Html)
        .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard(&[
            ("Mon", "slot:1"),
            ("Tue", "slot:2"),
        ])))
        .build();
    let sent = bot.send_message(&params).await.unwrap().result;
    assert_eq!(sent.message_id, 2, "message ids count per chat, both sides");
    assert_eq!(sent.text.as_deref(), Some("Pick a slot, <Bo>"));
    assert_eq!(sent.chat.id, 11);
    let from = sent.from.as_ref().unwrap();
    assert!(from.is_bot);
    assert_eq!(from.id, 123_456_789);
    let entities = sent.entities.as_ref().unwrap();
    assert_eq!(entities[0].type_field, MessageEntityType::Bold);
    let markup = sent.reply_markup.as_ref().unwrap();
    assert_eq!(
        markup.inline_keyboard[0][1].callback_data.as_deref(),
        Some("slot:2")
    );

    // A press carries the message with its keyboard.
    let press = user.press_button("Tue").unwrap();
    let got = updates(&bot, &poll(start + 1, 0)).await;
    assert_eq!(i64::from(got[0].update_id), press);
    let UpdateContent::CallbackQuery(query) = &got[0].content else {
        panic!("not a callback query: {:?}", got[0]);
    };
    assert_eq!(query.data.as_deref(), Some("slot:2"));
    assert_eq!(query.from.id, 11);
    assert!(!query.chat_instance.is_empty());
    let Some(MaybeInaccessibleMessage::Message(pressed)) = &query.message else {
        panic!("no message in the query");
    };
    assert_eq!(pressed.message_id, sent.message_id);
    assert!(pressed.reply_markup.is_some());

    let answer = AnswerCallbackQueryParams::builder()
        .callback_query_id(query.id.clone())
        .text("Booked")
        .build();
    assert!(bot.answer_callback_query(&answer).await.unwrap().result);
    let again = api_error(bot.answer_callback_query(&answer).await);
    assert_eq!(
        again.description,
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    );

    let edit = EditMessageTextParams::builder()
        .chat_id(11)
        .message_id(sent.message_id)
        .text("Booked *Tue*")
        .parse_mode(ParseMode::MarkdownV2)
        .build();
    let edited = bot.edit_message_text(&edit).await.unwrap().result;
    let MessageOrBool::Message(edited) = edited else {
        panic!("edit did not answer a message");
    };
    assert_eq!(edited.text.as_deref(), Some("Booked Tue"));
    assert!(edited.edit_date.is_some());
    assert!(
        edited.reply_markup.is_none(),
        "an edit without markup drops the keyboard"
    );
    let same = api_error(bot.edit_message_text(&edit).await);
    assert!(
        same.description
            .starts_with("Bad Request: message is not modified")
    );
    let missing = EditMessageTextParams::builder()
        .chat_id(11)
        .message_id(99)
        .text("x")
        .build();
    assert_eq!(
        api_error(bot.edit_message_text(&missing).await).description,
        "Bad Request: message to edit not found"
    );
    let markup = EditMessageReplyMarkupParams::builder()
        .chat_id(11)
        .message_id(sent.message_id)
        .reply_markup(keyboard(&[("Undo", "undo")]))
        .build();
    bot.edit_message_reply_markup(&markup).await.unwrap();

    let now = fake
        .wait_for_bot_message(11, |m| m.callback_data("Undo") == Some("undo"), WAIT)
        .await
        .unwrap();
    assert_eq!(now.text, "Booked Tue");
    assert_eq!(now.source, "Booked *Tue*");
    assert_eq!(now.parse_mode.as_deref(), Some("MarkdownV2"));
    assert_eq!(now.edits, 2);
    let kinds: Vec<&str> = fake
        .transcript(11)
        .iter()
        .map(|entry| match entry {
            Entry::UserText { .. } => "text",
            Entry::UserPress { .. } => "press",
            Entry::BotMessage(_) => "bot",
            Entry::BotEdit(_) => "edit",
            Entry::BotDelete { .. } => "delete",
            Entry::CallbackAnswer { .. } => "answer",
        })
        .collect();
    assert_eq!(kinds, ["text", "bot", "press", "answer", "edit", "edit"]);
    assert_eq!(fake.sent_count(11), 1);
    let stats = fake.stats();
    assert_eq!(stats.calls_of("editMessageText"), 3);
    assert_eq!(stats.delivered.get(&11), Some(&1));
}

#[tokio::test]
async fn reply_keyboards_are_accepted_but_not_echoed() {
    let fake = unlimited().await;
    fake.user(12).send_text("hi");
    let params = SendMessageParams::builder()
        .chat_id(12)
        .text("bye")
        .reply_markup(ReplyMarkup::ReplyKeyboardRemove(
            ReplyKeyboardRemove::builder().remove_keyboard(true).build(),
        ))
        .build();
    let sent = bot(&fake).send_message(&params).await.unwrap().result;
    assert!(sent.reply_markup.is_none());
    let stored = fake.last_bot_message(12).unwrap();
    assert_eq!(
        stored.reply_markup,
        Some(json!({ "remove_keyboard": true }))
    );
    assert!(stored.buttons.is_empty());
}

#[tokio::test]
async fn commands_are_stored_per_scope_and_language() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let commands = |names: &[&str]| -> Vec<BotCommand> {
        names
            .iter()
            .map(|name| {
                BotCommand::builder()
                    .command(*name)
                    .description(format!("Do {name}"))
                    .build()
            })
            .collect()
    };
    let default = SetMyCommandsParams::builder()
        .commands(commands(&["start", "help"]))
        .build();
    assert!(bot.set_my_commands(&default).await.unwrap().result);
    let german_chat = SetMyCommandsParams::builder()
        .commands(commands(&["start", "admin"]))
        .scope(BotCommandScope::Chat(
            BotCommandScopeChat::builder().chat_id(77).build(),
        ))
        .language_code("de")
        .build();
    assert!(bot.set_my_commands(&german_chat).await.unwrap().result);

    let stored = fake.commands(&CommandScope::default_scope(), "").unwrap();
    assert_eq!(stored[1].command, "help");
    let stored = fake.commands(&CommandScope::chat(77), "de").unwrap();
    assert_eq!(stored[1].command, "admin");
    assert!(fake.commands(&CommandScope::chat(77), "").is_none());

    let got = bot
        .get_my_commands(&GetMyCommandsParams::builder().build())
        .await
        .unwrap()
        .result;
    assert_eq!(got.len(), 2);
    bot.delete_my_commands(&DeleteMyCommandsParams::builder().build())
        .await
        .unwrap();
    assert!(fake.commands(&CommandScope::default_scope(), "").is_none());

    let invalid = SetMyCommandsParams::builder()
        .commands(commands(&["Bad-Name"]))
        .build();
    assert_eq!(
        api_error(bot.set_my_commands(&invalid).await).description,
        "Bad Request: BOT_COMMAND_INVALID"
    );
}

#[tokio::test]
async fn documents_upload_as_multipart_and_keep_their_bytes() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    fake.user(13).send_text("/export");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meeting.ics");
    let content = "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";
    std::fs::write(&path, content).unwrap();
    let params = SendDocumentParams::builder()
        .chat_id(13)
        .document(InputFile { path })
        .caption("Your <i>invite</i>")
        .parse_mode(ParseMode::Html)
        .build();
    let sent = bot.send_document(&params).await.unwrap().result;
    let document = sent.document.as_ref().unwrap();
    assert_eq!(document.file_name.as_deref(), Some("meeting.ics"));
    assert_eq!(document.mime_type.as_deref(), Some("text/calendar"));
    assert_eq!(document.file_size, Some(content.len() as u64));
    assert_eq!(sent.caption.as_deref(), Some("Your invite"));
    assert_eq!(
        sent.caption_entities.as_ref().unwrap()[0].type_field,
        MessageEntityType::Italic
    );

    let stored = fake.documents(13);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].text(), Some(content));
    assert_eq!(fake.last_bot_message(13).unwrap().text, "Your invite");
    assert_eq!(fake.sent_count(13), 1);

    // Sending again by file id needs no upload.
    let again = SendDocumentParams::builder()
        .chat_id(13)
        .document(document.file_id.clone())
        .build();
    bot.send_document(&again).await.unwrap();
    assert_eq!(fake.documents(13).len(), 2);
}

#[tokio::test]
async fn a_webhook_blocks_polling_until_deleted() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    fake.user(14).send_text("x");
    let info = bot.get_webhook_info().await.unwrap().result;
    assert_eq!(info.url, "");
    assert_eq!(info.pending_update_count, 1);
    let set = SetWebhookParams::builder()
        .url("https://example.com/hook")
        .build();
    assert!(bot.set_webhook(&set).await.unwrap().result);
    assert_eq!(
        bot.get_webhook_info().await.unwrap().result.url,
        "https://example.com/hook"
    );
    let conflict = api_error(bot.get_updates(&poll(0, 0)).await);
    assert_eq!(conflict.error_code, 409);
    assert_eq!(
        conflict.description,
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
    );
    bot.delete_webhook(&DeleteWebhookParams::builder().build())
        .await
        .unwrap();
    assert_eq!(updates(&bot, &poll(0, 0)).await.len(), 1);
    let me = bot.get_me().await.unwrap().result;
    assert!(me.is_bot);
    assert_eq!(me.username.as_deref(), Some("fake_scheduler_bot"));
}

#[tokio::test]
async fn the_per_chat_limit_answers_429_without_effect() {
    let limits = Limits {
        global: None,
        per_chat: Some(1),
        window: Duration::from_secs(60),
    };
    let fake = FakeTelegram::start(FakeTelegramConfig::default().with_limits(limits)).await;
    let bot = bot(&fake);
    fake.user(21).send_text("a");
    fake.user(22).send_text("b");
    bot.send_message(&text(21, "first")).await.unwrap();
    let error = api_error(bot.send_message(&text(21, "second")).await);
    assert_eq!(error.error_code, 429);
    let retry_after = error.parameters.unwrap().retry_after.unwrap();
    assert!(
        (59..=60).contains(&retry_after),
        "retry_after {retry_after}"
    );
    assert_eq!(
        error.description,
        format!("Too Many Requests: retry after {retry_after}")
    );
    // Another chat has its own slot.
    bot.send_message(&text(22, "other")).await.unwrap();
    let texts: Vec<String> = fake.bot_messages(21).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["first"]);
    assert_eq!(fake.sent_count(21), 1);
    let stats = fake.stats();
    assert_eq!(stats.too_many_requests, 1);
    assert_eq!(stats.delivered_total(), 2);
}

#[tokio::test]
async fn the_global_limit_counts_every_chat_and_edits() {
    let limits = Limits {
        global: Some(3),
        per_chat: None,
        window: Duration::from_secs(60),
    };
    let fake = FakeTelegram::start(FakeTelegramConfig::default().with_limits(limits)).await;
    for id in 31..=34 {
        fake.user(id).send_text("hi");
    }
    let (status, _) = call(&fake, "sendMessage", json!({"chat_id": 31, "text": "1"})).await;
    assert_eq!(status, 200);
    let (status, _) = call(&fake, "sendMessage", json!({"chat_id": 32, "text": "2"})).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &fake,
        "editMessageText",
        json!({"chat_id": 31, "message_id": 2, "text": "1b"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(&fake, "sendMessage", json!({"chat_id": 34, "text": "4"})).await;
    assert_eq!(status, 429);
    assert_eq!(body["ok"], json!(false));
    assert_eq!(body["error_code"], json!(429));
    assert!(body["parameters"]["retry_after"].as_u64().unwrap() >= 59);
    assert!(fake.bot_messages(34).is_empty());
    // Not counted: answering presses, reading.
    let (status, _) = call(&fake, "getMe", json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn blocked_deactivated_and_unknown_chats() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    let user = fake.user(41);
    user.send_text("/start");
    user.block();
    let blocked = api_error(bot.send_message(&text(41, "hi")).await);
    assert_eq!(blocked.error_code, 403);
    assert_eq!(
        blocked.description,
        "Forbidden: bot was blocked by the user"
    );
    user.unblock();
    bot.send_message(&text(41, "welcome back")).await.unwrap();
    user.deactivate();
    assert_eq!(
        api_error(bot.send_message(&text(41, "hi")).await).description,
        "Forbidden: user is deactivated"
    );
    let unknown = api_error(bot.send_message(&text(999, "hi")).await);
    assert_eq!(
        (unknown.error_code, unknown.description.as_str()),
        (400, "Bad Request: chat not found")
    );
    // A user who never wrote is no chat either.
    fake.user(42);
    assert_eq!(
        api_error(bot.send_message(&text(42, "hi")).await).description,
        "Bad Request: chat not found"
    );
    assert_eq!(fake.sent_count(41), 1);
}

#[tokio::test]
async fn held_requests_wait_and_apply_on_release() {
    let fake = unlimited().await;
    fake.user(51).send_text("hi");
    fake.hold();
    let sending = tokio::spawn({
        let bot = bot(&fake);
        async move { bot.send_message(&text(51, "later")).await }
    });
    fake.wait_for_stats(|stats| stats.held == 1, WAIT)
        .await
        .unwrap();
    assert!(fake.bot_messages(51).is_empty());
    fake.release();
    tokio::time::timeout(WAIT, sending)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(fake.bot_messages(51)[0].text, "later");
}

#[tokio::test]
async fn a_held_request_whose_client_left_is_never_applied() {
    let fake = unlimited().await;
    fake.user(52).send_text("hi");
    fake.hold();
    let sending = tokio::spawn({
        let bot = bot(&fake);
        async move { bot.send_message(&text(52, "lost")).await }
    });
    fake.wait_for_stats(|stats| stats.held == 1, WAIT)
        .await
        .unwrap();
    sending.abort();
    fake.wait_for_stats(|stats| stats.held == 0 && stats.abandoned == 1, WAIT)
        .await
        .unwrap();
    fake.release();
    bot(&fake).send_message(&text(52, "kept")).await.unwrap();
    let texts: Vec<String> = fake.bot_messages(52).into_iter().map(|m| m.text).collect();
    assert_eq!(texts, ["kept"]);
    assert_eq!(fake.sent_count(52), 1);
}

#[tokio::test]
async fn injected_faults_hit_the_next_matching_requests() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    fake.user(61).send_text("hi");
    fake.inject(Fault::on("sendMessage", FaultKind::Status(502), 2));
    fake.inject(Fault::on(
        "sendmessage",
        FaultKind::TooManyRequests { retry_after: 3 },
        1,
    ));
    bot.get_me().await.unwrap();
    for _ in 0..2 {
        let error = api_error(bot.send_message(&text(61, "x")).await);
        assert_eq!(
            (error.error_code, error.description.as_str()),
            (502, "Bad Gateway")
        );
    }
    let error = api_error(bot.send_message(&text(61, "x")).await);
    assert_eq!(error.description, "Too Many Requests: retry after 3");
    assert_eq!(error.parameters.unwrap().retry_after, Some(3));
    assert!(fake.bot_messages(61).is_empty());
    bot.send_message(&text(61, "finally")).await.unwrap();

    fake.inject(Fault::any(FaultKind::Delay(Duration::from_millis(50)), 1));
    fake.inject(Fault::any(FaultKind::Status(503), 1));
    bot.send_message(&text(61, "after a delay")).await.unwrap();
    assert_eq!(api_error(bot.get_me().await).error_code, 503);
    bot.get_me().await.unwrap();

    let stats = fake.stats();
    assert_eq!(stats.injected_errors, 3);
    assert_eq!(stats.too_many_requests, 1);
    assert_eq!(fake.sent_count(61), 2);
}

/// Status codes of 30 sends into two chats under chaos with `seed`.
async fn chaos_run(seed: u64) -> Vec<(i64, u16)> {
    let fake = unlimited().await;
    fake.user(71).send_text("a");
    fake.user(72).send_text("b");
    fake.set_chaos(Chaos {
        seed,
        error_rate: 0.6,
        max_consecutive: 2,
    });
    let mut outcomes = Vec::new();
    for i in 0..30 {
        let chat = if i % 3 == 0 { 72 } else { 71 };
        let (status, _) = call(&fake, "sendMessage", json!({"chat_id": chat, "text": "x"})).await;
        outcomes.push((chat, status));
    }
    let failures = outcomes.iter().filter(|(_, status)| *status != 200).count() as u64;
    let stats = fake.stats();
    assert_eq!(stats.injected_errors + stats.too_many_requests, failures);
    assert_eq!(stats.delivered_total(), 30 - failures);
    outcomes
}

#[tokio::test]
async fn chaos_is_deterministic_and_bounded() {
    let first = chaos_run(2024).await;
    assert_eq!(first, chaos_run(2024).await);
    let failures = first.iter().filter(|(_, status)| *status != 200).count();
    assert!(failures > 0 && failures < 30, "{first:?}");
    for chat in [71, 72] {
        let mut run = 0;
        for (_, status) in first.iter().filter(|(c, _)| *c == chat) {
            run = if *status == 200 { 0 } else { run + 1 };
            assert!(run <= 2, "more than 2 failures in a row: {first:?}");
            assert!([200, 429, 500, 502, 503].contains(status));
        }
    }
}

#[tokio::test]
async fn wrong_tokens_methods_and_bodies() {
    let fake = unlimited().await;
    let wrong = Bot::new_url(format!("{}/bot1:wrong", fake.base_url()));
    let error = api_error(wrong.get_me().await);
    assert_eq!(
        (error.error_code, error.description.as_str()),
        (401, "Unauthorized")
    );

    let (status, body) = call(&fake, "flyToTheMoon", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 404, "description": "Not Found"})
    );
    let (status, _) = raw(&format!("{}/nothing/here", fake.base_url()), &json!({})).await;
    assert_eq!(status, 404);

    let response = reqwest::Client::new()
        .post(format!("{}/sendMessage", fake.api_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["ok"], json!(false));

    // Telegram also takes form fields and any letter case of method names.
    fake.user(81).send_text("hi");
    let response = reqwest::Client::new()
        .post(format!("{}/SENDMESSAGE", fake.api_url()))
        .form(&[("chat_id", "81"), ("text", "via form")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(fake.bot_messages(81)[0].text, "via form");
}

#[tokio::test]
async fn text_and_markup_are_validated_like_telegram() {
    let fake = unlimited().await;
    let bot = bot(&fake);
    fake.user(91).send_text("hi");
    let send = |text: &str, mode: Option<ParseMode>| {
        let mut params = SendMessageParams::builder().chat_id(91).text(text).build();
        params.parse_mode = mode;
        params
    };
    let description =
        async |params: SendMessageParams| api_error(bot.send_message(&params).await).description;
    let unescaped = description(send("Hello *world", Some(ParseMode::MarkdownV2))).await;
    assert!(
        unescaped.starts_with("Bad Request: can't parse entities: "),
        "{unescaped}"
    );
    let dot = description(send("Meeting with Dr. Who", Some(ParseMode::MarkdownV2))).await;
    assert_eq!(
        dot,
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\\'"
    );
    let less = description(send("1 < 2", Some(ParseMode::Html))).await;
    assert!(
        less.starts_with("Bad Request: can't parse entities: "),
        "{less}"
    );
    let amp = description(send("Tom & Jerry", Some(ParseMode::Html))).await;
    assert!(
        amp.starts_with("Bad Request: can't parse entities: "),
        "{amp}"
    );
    let unclosed = description(send("<b>bold", Some(ParseMode::Html))).await;
    assert!(unclosed.contains("start tag \"b\""), "{unclosed}");
    assert_eq!(
        description(send("", None)).await,
        "Bad Request: message text is empty"
    );
    assert_eq!(
        description(send(&"x".repeat(4097), None)).await,
        "Bad Request: message is too long"
    );
    // Plain text may hold anything; escaped text passes.
    bot.send_message(&send("1 < 2 & Dr. Who *", None))
        .await
        .unwrap();
    let ok = bot
        .send_message(&send("Dr\\. Who \\*", Some(ParseMode::MarkdownV2)))
        .await
        .unwrap()
        .result;
    assert_eq!(ok.text.as_deref(), Some("Dr. Who *"));
    assert_eq!(fake.sent_count(91), 2);

    let (status, body) = call(
        &fake,
        "sendMessage",
        json!({"chat_id": 91, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "d".repeat(65)}]]}}),
    )
    .await;
    assert_eq!(
        (status, body["description"].as_str()),
        (400, Some("Bad Request: BUTTON_DATA_INVALID"))
    );
}

#[tokio::test]
async fn the_control_api_drives_the_fake_over_http() {
    let fake = unlimited().await;
    let base = fake.base_url();
    let client = reqwest::Client::new();
    let (status, body) = raw(
        &format!("{base}/control/users/101/text"),
        &json!({"text": "/start", "first_name": "Cy", "language_code": "fr"}),
    )
    .await;
    assert_eq!(status, 200);
    let update_id = body["update_id"].as_i64().unwrap();
    let got = updates(&bot(&fake), &poll(0, 0)).await;
    assert_eq!(i64::from(got[0].update_id), update_id);
    let UpdateContent::Message(message) = &got[0].content else {
        panic!("not a message");
    };
    assert_eq!(
        message.from.as_ref().unwrap().language_code.as_deref(),
        Some("fr")
    );

    bot(&fake)
        .send_message(
            &SendMessageParams::builder()
                .chat_id(101)
                .text("Choose")
                .reply_markup(ReplyMarkup::InlineKeyboardMarkup(keyboard(&[("A", "a")])))
                .build(),
        )
        .await
        .unwrap();
    let (status, body) = raw(
        &format!("{base}/control/users/101/press"),
        &json!({"message_id": 2, "data": "a"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["update_id"].as_i64(), Some(update_id + 1));

    let transcript: Value = client
        .get(format!("{base}/control/chats/101/transcript"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = transcript
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["user_text", "bot_message", "user_press"]);
    assert_eq!(transcript[1]["buttons"][0][0]["callback_data"], json!("a"));

    let (status, _) = raw(
        &format!("{base}/control/faults"),
        &json!({"method": "getMe", "kind": {"status": 500}, "times": 1}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(api_error(bot(&fake).get_me().await).error_code, 500);
    let (status, _) = raw(
        &format!("{base}/control/faults"),
        &json!({"kind": "nonsense"}),
    )
    .await;
    assert_eq!(status, 400);

    raw(&format!("{base}/control/users/101/block"), &json!({})).await;
    assert_eq!(
        api_error(bot(&fake).send_message(&text(101, "x")).await).error_code,
        403
    );
    raw(&format!("{base}/control/users/101/unblock"), &json!({})).await;

    raw(&format!("{base}/control/hold"), &json!({})).await;
    let held = tokio::spawn({
        let bot = bot(&fake);
        async move { bot.get_me().await }
    });
    fake.wait_for_stats(|stats| stats.held == 1, WAIT)
        .await
        .unwrap();
    raw(&format!("{base}/control/release"), &json!({})).await;
    tokio::time::timeout(WAIT, held)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let stats: Value = client
        .get(format!("{base}/control/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["injected_errors"], json!(1));
    assert_eq!(stats["delivered"]["101"], json!(1));
}

#[tokio::test]
async fn the_binary_announces_its_address_and_serves() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fake-telegram"))
        .args(["--port", "0", "--token", "42:binary-token", "--rate", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::time::timeout(WAIT, BufReader::new(stdout).read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("fake-telegram listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"));
    let bot = Bot::new_url(format!("{base}/bot42:binary-token"));
    let me = bot.get_me().await.unwrap().result;
    assert_eq!(me.id, 42);
    raw(
        &format!("{base}/control/users/5/text"),
        &json!({"text": "/start"}),
    )
    .await;
    assert_eq!(updates(&bot, &poll(0, 0)).await.len(), 1);
    // SIGTERM stops it cleanly.
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn shutdown_ends_waiting_requests() {
    let fake = unlimited().await;
    let waiting = tokio::spawn({
        let bot = bot(&fake);
        async move { bot.get_updates(&poll(0, 30)).await }
    });
    fake.wait_for_stats(|stats| stats.polling, WAIT)
        .await
        .unwrap();
    tokio::time::timeout(WAIT, fake.shutdown()).await.unwrap();
    let result = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert!(result.is_err());
}
