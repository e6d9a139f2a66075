//! Reservations on the shared Telegram budget: virtual-time token buckets
//! kept in the database so the bot and every worker draw on one budget.
//!
//! Each reservation moves the bucket's "next free instant" forward by one
//! step (1/rate) and returns the instant at which the caller may send.

use std::fmt::Write as _;

use diesel::connection::TransactionManager;
use diesel::dsl::case_when;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use super::schema::{chat_send_slots, telegram_budget};
use super::{DbConn, DbError, immediate_tx};
use crate::per_backend;

/// A bucket one send draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// One chat (Telegram allows about one message a second per chat).
    Chat(i64),
    /// A lane of the whole token: "total" or "bulk".
    Lane(&'static str),
}

/// A turn to take on a bucket whose rate is 1/`step_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    pub bucket: Bucket,
    pub step_us: i64,
}

/// What [`reserve_in_order`] took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// How many of the draws, from the first, were reserved.
    pub count: usize,
    /// The instant (µs since the epoch) the last reserved turn comes.
    pub at_us: i64,
}

/// Reserves `draws` in order at `now_us` and stops after the first whose
/// turn lies in the future: the later buckets are drawn on once that turn
/// came (reserving them now would hold their turns idle meanwhile). A send
/// is due when every draw was reserved and the last turn came.
///
/// Outside a transaction on PostgreSQL this is a single statement that
/// commits without waiting for the disk (`synchronous_commit = off` for it
/// alone: a reservation lost in a server crash costs nothing), so the hot
/// "total" row is locked only for the statement. Inside a transaction it
/// leaves the commit to the caller. On SQLite: one immediate transaction.
pub fn reserve_in_order(
    conn: &mut DbConn,
    draws: &[Draw],
    now_us: i64,
) -> Result<Reserved, DbError> {
    if draws.is_empty() {
        return Ok(Reserved {
            count: 0,
            at_us: now_us,
        });
    }
    let in_transaction =
        <DbConn as Connection>::TransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()?
            .is_some();
    match conn {
        DbConn::Pg(pg) => reserve_in_order_pg(pg, draws, now_us, !in_transaction),
        DbConn::Sqlite(_) if in_transaction => reserve_each(conn, draws, now_us),
        DbConn::Sqlite(_) => immediate_tx(conn, |conn| reserve_each(conn, draws, now_us)),
    }
}

/// [`reserve_in_order`] a statement at a time (SQLite, in a transaction).
fn reserve_each(conn: &mut DbConn, draws: &[Draw], now_us: i64) -> Result<Reserved, DbError> {
    let mut reserved = Reserved {
        count: 0,
        at_us: now_us,
    };
    for draw in draws {
        reserved.at_us = match draw.bucket {
            Bucket::Chat(chat_id) => reserve_chat(conn, chat_id, now_us, draw.step_us)?,
            Bucket::Lane(lane) => reserve_lane(conn, lane, now_us, draw.step_us)?,
        };
        reserved.count += 1;
        if reserved.at_us > now_us {
            break;
        }
    }
    Ok(reserved)
}

/// One row of [`reserve_in_order_pg`]: the turn of draw `stage`.
#[derive(Debug, QueryableByName)]
struct StageTurn {
    #[diesel(sql_type = Integer)]
    stage: i32,
    #[diesel(sql_type = BigInt)]
    at: i64,
}

/// The PostgreSQL form of [`reserve_in_order`]: one upsert per draw in a
/// chain of CTEs, each gated on the turn before it being due now.
fn reserve_in_order_pg(
    conn: &mut PgConnection,
    draws: &[Draw],
    now_us: i64,
    relax_commit: bool,
) -> Result<Reserved, DbError> {
    // $1 is `now_us`; draw i binds its key as $(2i+2) and its step as $(2i+3).
    let mut sql = String::from("WITH ");
    if relax_commit {
        sql.push_str("cfg AS (SELECT set_config('synchronous_commit', 'off', true) AS v), ");
    }
    let mut select = String::new();
    for (i, draw) in draws.iter().enumerate() {
        let (key, step) = (2 * i + 2, 2 * i + 3);
        let (table, column) = match draw.bucket {
            Bucket::Chat(_) => ("chat_send_slots", "chat_id"),
            Bucket::Lane(_) => ("telegram_budget", "lane"),
        };
        let source = match (i, relax_commit) {
            (0, true) => " FROM cfg".to_owned(),
            (0, false) => String::new(),
            (_, _) => format!(" FROM s{} WHERE s{}.at <= $1", i - 1, i - 1),
        };
        if i > 0 {
            sql.push_str(", ");
            select.push_str(" UNION ALL ");
        }
        // `write!` to a String cannot fail.
        let _ = write!(
            sql,
            "s{i} AS (INSERT INTO {table} AS b ({column}, next_at_us) \
             SELECT ${key}, $1 + ${step}{source} \
             ON CONFLICT ({column}) DO UPDATE SET next_at_us = GREATEST(b.next_at_us, $1) + ${step} \
             RETURNING b.next_at_us - ${step} AS at)"
        );
        let _ = write!(select, "SELECT {i} AS stage, at FROM s{i}");
    }
    sql.push(' ');
    sql.push_str(&select);
    let mut query = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<BigInt, _>(now_us);
    for draw in draws {
        query = match draw.bucket {
            Bucket::Chat(chat_id) => query.bind::<BigInt, _>(chat_id),
            Bucket::Lane(lane) => query.bind::<Text, _>(lane),
        }
        .bind::<BigInt, _>(draw.step_us);
    }
    let turns: Vec<StageTurn> = query.load(conn)?;
    let last = turns
        .iter()
        .max_by_key(|turn| turn.stage)
        .ok_or_else(|| DbError::Query(diesel::result::Error::NotFound))?;
    Ok(Reserved {
        count: usize::try_from(last.stage).unwrap_or_default() + 1,
        at_us: last.at,
    })
}

/// Reserves one send on `lane` ("total" or "bulk") and returns the instant
/// (µs since the epoch) the caller may send at. `step_us` is 1/rate.
fn reserve_lane(conn: &mut DbConn, lane: &str, now_us: i64, step_us: i64) -> Result<i64, DbError> {
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

/// Pushes a lane's next free instant to at least `until_us` (after a 429
/// charged to the whole token: everyone waits).
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

/// Pushes a chat's next free instant to at least `until_us` (after a 429
/// charged to that chat: only its messages wait).
pub fn pause_chat(conn: &mut DbConn, chat_id: i64, until_us: i64) -> Result<(), DbError> {
    per_backend!(&mut *conn, |c| diesel::insert_into(chat_send_slots::table)
        .values((
            chat_send_slots::chat_id.eq(chat_id),
            chat_send_slots::next_at_us.eq(until_us)
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    diesel::update(
        chat_send_slots::table
            .find(chat_id)
            .filter(chat_send_slots::next_at_us.lt(until_us)),
    )
    .set(chat_send_slots::next_at_us.eq(until_us))
    .execute(conn)?;
    Ok(())
}

/// Reserves the next send to one chat (Telegram allows about one message
/// per second per chat) and returns the instant it may go out.
fn reserve_chat(
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
