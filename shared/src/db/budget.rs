//! Reservations on the shared Telegram budget: virtual-time token buckets
//! kept in the database so the bot and every worker draw on one budget.
//!
//! Each reservation moves the bucket's "next free instant" forward by one
//! step (1/rate) and returns the instant at which the caller may send.

use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::schema::{chat_send_slots, telegram_budget};
use super::{DbConn, DbError};
use crate::per_backend;

/// Reserves one send on `lane` ("total" or "bulk") and returns the instant
/// (µs since the epoch) the caller may send at. `step_us` is 1/rate.
pub fn reserve_lane(
    conn: &mut DbConn,
    lane: &str,
    now_us: i64,
    step_us: i64,
) -> Result<i64, DbError> {
    per_backend!(&mut *conn, |c| diesel::insert_into(telegram_budget::table)
        .values((
            telegram_budget::lane.eq(lane),
            telegram_budget::next_at_us.eq(0_i64)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    let next = telegram_budget::next_at_us;
    let reserved_until: i64 =
        diesel::update(telegram_budget::table.find(lane))
            .set(next.eq(
                case_when(next.lt(now_us), now_us.into_sql::<BigInt>()).otherwise(next) + step_us,
            ))
            .returning(next)
            .get_result(conn)?;
    Ok(reserved_until - step_us)
}

/// Pushes a lane's next free instant to at least `until_us` (after Telegram
/// answered 429 with `retry_after`, everyone waits).
pub fn pause_lane(conn: &mut DbConn, lane: &str, until_us: i64) -> Result<(), DbError> {
    diesel::update(
        telegram_budget::table
            .find(lane)
            .filter(telegram_budget::next_at_us.lt(until_us)),
    )
    .set(telegram_budget::next_at_us.eq(until_us))
    .execute(conn)?;
    Ok(())
}

/// Reserves the next send to one chat (Telegram allows about one message
/// per second per chat) and returns the instant it may go out.
pub fn reserve_chat(
    conn: &mut DbConn,
    chat_id: i64,
    now_us: i64,
    step_us: i64,
) -> Result<i64, DbError> {
    per_backend!(&mut *conn, |c| diesel::insert_into(chat_send_slots::table)
        .values((
            chat_send_slots::chat_id.eq(chat_id),
            chat_send_slots::next_at_us.eq(0_i64)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    let next = chat_send_slots::next_at_us;
    let reserved_until: i64 =
        diesel::update(chat_send_slots::table.find(chat_id))
            .set(next.eq(
                case_when(next.lt(now_us), now_us.into_sql::<BigInt>()).otherwise(next) + step_us,
            ))
            .returning(next)
            .get_result(conn)?;
    Ok(reserved_until - step_us)
}
