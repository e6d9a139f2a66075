//! `/broadcast [text]`: an admin's message to every active user.
//!
//! The text (typed after the command, or asked for) is shown as a preview
//! with "Send" / "Cancel"; the draft lives in the author's own dialogue, so
//! a press can only send the presser's text. "Send" stores the broadcast and
//! one outbox message per recipient in one transaction and turns the
//! preview into the progress message; the workers push the messages through
//! the delivery path (bulk lane) and edit the progress at most every few
//! seconds until the final delivered / failed / blocked count.

use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::db::DbError;
use shared::db::broadcasts::{self, NewBroadcast};
use shared::db::outbox::{self, NewOutboxMessage};
use shared::db::users::{self, User};
use shared::domain::admin::UserFilter;
use shared::domain::broadcast::{
    BroadcastText, BroadcastTextError, CANCEL_DATA, MAX_BROADCAST_CHARS, SEND_DATA,
};
use shared::domain::delivery::Lane;
use shared::domain::user::Status;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::dialogue::{self, Dialogue};
use super::{Actor, Turn, callbacks};

/// What the broadcast dialogue waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "broadcast", rename_all = "snake_case")]
pub(crate) enum BroadcastInput {
    /// The text to send.
    Text,
    /// A press on the preview of `text` (a new text replaces it).
    Confirm { text: BroadcastText },
}

/// The author, if the actor may broadcast right now.
fn author<'a>(actor: &'a Actor<'_>) -> Option<&'a User> {
    actor
        .user
        .as_ref()
        .filter(|user| user.is_active() && user.is_admin)
}

fn refuse(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    tracing::warn!("broadcast refused: not an active admin");
    turn.reply(
        actor,
        OutgoingMessage::text(t(actor.language, "not_allowed", &[])),
    )
}

/// `/broadcast [text]`.
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>, text: &str) -> Result<(), DbError> {
    if author(actor).is_none() {
        return refuse(turn, actor);
    }
    if text.is_empty() {
        dialogue::save(turn, actor, &Dialogue::Broadcast(BroadcastInput::Text))?;
        let ask = t(actor.language, "broadcast.ask_text", &[]);
        return turn.reply(actor, OutgoingMessage::text(ask));
    }
    preview(turn, actor, text)
}

/// Text while the broadcast dialogue waits: the (new) text to send.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    input: BroadcastInput,
    text: &str,
) -> Result<(), DbError> {
    if author(actor).is_none() {
        dialogue::clear(turn, actor)?;
        return refuse(turn, actor);
    }
    match input {
        BroadcastInput::Text | BroadcastInput::Confirm { .. } => preview(turn, actor, text),
    }
}

/// Checks `text` and shows the preview with Send / Cancel; bad text is
/// explained and asked for again.
fn preview(turn: &mut Turn<'_>, actor: &Actor<'_>, text: &str) -> Result<(), DbError> {
    let language = actor.language;
    let text = match BroadcastText::parse(text) {
        Ok(text) => text,
        Err(error) => {
            let problem = match error {
                BroadcastTextError::Empty => t(language, "broadcast.error.empty", &[]),
                BroadcastTextError::TooLong { count, .. } => t(
                    language,
                    "broadcast.error.too_long",
                    &[
                        ("count", &count.to_string()),
                        ("max", &MAX_BROADCAST_CHARS.to_string()),
                    ],
                ),
            };
            dialogue::save(turn, actor, &Dialogue::Broadcast(BroadcastInput::Text))?;
            return turn.reply(actor, OutgoingMessage::text(problem));
        }
    };
    let recipients = recipient_count(turn, actor)?;
    let body = t(
        language,
        "broadcast.preview",
        &[("count", &recipients.to_string()), ("text", text.as_str())],
    );
    let buttons = vec![vec![
        Button::new(
            t(
                language,
                "broadcast.send",
                &[("count", &recipients.to_string())],
            ),
            SEND_DATA,
        ),
        Button::new(t(language, "broadcast.cancel", &[]), CANCEL_DATA),
    ]];
    dialogue::save(
        turn,
        actor,
        &Dialogue::Broadcast(BroadcastInput::Confirm { text }),
    )?;
    turn.reply(actor, OutgoingMessage::with_buttons(body, buttons))
}

/// How many [`recipients`] there are, counted in the database (the preview
/// needs only the number).
fn recipient_count(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<i64, DbError> {
    let active = UserFilter {
        status: Some(Status::Active),
        ..UserFilter::default()
    };
    let author = i64::from(actor.status() == Some(Status::Active));
    Ok(users::count(turn.conn, &active)? - author)
}

/// Everyone a broadcast goes to: active users other than the author.
fn recipients(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<Vec<User>, DbError> {
    let mut everyone = users::with_status(turn.conn, Status::Active)?;
    everyone.retain(|user| user.telegram_id != actor.telegram_id);
    Ok(everyone)
}

/// A press on the preview (`bc:send`, `bc:cancel`; the prefix is stripped).
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(author) = author(actor).cloned() else {
        return callbacks::refused(turn, actor, "a broadcast press by a non-admin");
    };
    let draft = match dialogue::load(turn, actor)? {
        Some(Dialogue::Broadcast(BroadcastInput::Confirm { text })) => text,
        _ => return callbacks::stale(turn, actor, "a broadcast press without a draft"),
    };
    let language = actor.language;
    match format!("bc:{data}").as_str() {
        SEND_DATA => {
            dialogue::clear(turn, actor)?;
            let total = send(turn, actor, &author, &draft)?;
            Ok(Some(t(
                language,
                "broadcast.toast.sending",
                &[("count", &total.to_string())],
            )))
        }
        CANCEL_DATA => {
            dialogue::clear(turn, actor)?;
            let text = t(language, "broadcast.cancelled", &[]);
            turn.show(actor, OutgoingMessage::text(text))?;
            Ok(Some(t(language, "broadcast.toast.cancelled", &[])))
        }
        _ => callbacks::stale(turn, actor, "unknown broadcast button"),
    }
}

/// Stores the broadcast and its messages; the preview becomes the progress
/// message. Returns the number of recipients.
fn send(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    author: &User,
    text: &BroadcastText,
) -> Result<usize, DbError> {
    let recipients = recipients(turn, actor)?;
    let total = recipients.len();
    let id = broadcasts::create(
        turn.conn,
        &NewBroadcast {
            author: author.id,
            body: text.as_str(),
            total: i32::try_from(total).unwrap_or(i32::MAX),
            progress_chat_id: actor.telegram_id.0,
            progress_message_id: turn.pressed_message,
            correlation_id: Some(&turn.ctx.correlation_id),
        },
        turn.ctx.now,
    )?;
    for recipient in &recipients {
        let body = t(
            recipient.language,
            "broadcast.message",
            &[("text", text.as_str())],
        );
        outbox::insert(
            turn.conn,
            &NewOutboxMessage {
                chat_id: recipient.telegram_id.0,
                recipient: Some(recipient.id),
                kind: broadcasts::MESSAGE_KIND,
                lane: Lane::Bulk,
                body: OutgoingMessage::text(body).to_json(),
                broadcast: Some(id),
                dedupe_key: Some(format!("broadcast:{id}:{}", recipient.id)),
                correlation_id: Some(&turn.ctx.correlation_id),
            },
            turn.ctx.now,
        )?;
    }
    turn.audit(
        actor,
        "broadcast.sent",
        None,
        json!({ "broadcast": id, "recipients": total, "chars": text.as_str().chars().count() }),
    )?;
    let progress = t(
        actor.language,
        "broadcast.progress",
        &[
            ("done", "0"),
            ("total", &total.to_string()),
            ("delivered", "0"),
            ("failed", "0"),
            ("blocked", "0"),
        ],
    );
    turn.show(actor, OutgoingMessage::text(progress))?;
    Ok(total)
}
