//! Dialogue state per Telegram user, stored as JSON so a restart of the bot
//! continues the conversation where it was.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::schema::dialogue_states;
use super::types::{TelegramId, UtcTime};
use super::{DbConn, DbError};
use crate::per_backend;

/// The saved state, or `None` when there is none or it no longer parses
/// (after a release changed the dialogue type: the user starts afresh rather
/// than hitting an error).
pub fn load<T: DeserializeOwned>(
    conn: &mut DbConn,
    telegram_id: TelegramId,
) -> Result<Option<T>, DbError> {
    let stored: Option<String> = dialogue_states::table
        .find(telegram_id)
        .select(dialogue_states::state)
        .first(conn)
        .optional()?;
    Ok(stored.and_then(|json| match serde_json::from_str(&json) {
        Ok(state) => Some(state),
        Err(error) => {
            tracing::warn!(%error, "dropping a dialogue state that no longer parses");
            None
        }
    }))
}

/// Saves (or replaces) the state.
pub fn save<T: Serialize>(
    conn: &mut DbConn,
    telegram_id: TelegramId,
    state: &T,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let json = serde_json::to_string(state)
        .map_err(|e| DbError::Query(diesel::result::Error::SerializationError(Box::new(e))))?;
    let row = (
        dialogue_states::telegram_id.eq(telegram_id),
        dialogue_states::state.eq(&json),
        dialogue_states::updated_at.eq(UtcTime::from(now)),
    );
    let update = (
        dialogue_states::state.eq(&json),
        dialogue_states::updated_at.eq(UtcTime::from(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(dialogue_states::table)
        .values(row)
        .on_conflict(dialogue_states::telegram_id)
        .do_update()
        .set(update)
        .execute(c))?;
    Ok(())
}

/// Ends any dialogue (`/cancel`, or a dialogue that finished).
pub fn clear(conn: &mut DbConn, telegram_id: TelegramId) -> Result<(), DbError> {
    diesel::delete(dialogue_states::table.find(telegram_id)).execute(conn)?;
    Ok(())
}
