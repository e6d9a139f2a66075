//! The automatic return to working: a manager away "until DATE" is set
//! back to working once that day is over in their own zone, and told so.
//!
//! Every worker runs this on every tick. Each return is a conditional
//! change (only if the user still has the same status and last day) with
//! its audit row and its message in one transaction, the message keyed
//! `work-status-return:<user>:<until>`: however many workers race, the
//! change and the message happen once. The push after commit is only a
//! wake-up; the outbox sweep re-pushes a lost one.

use chrono::NaiveDate;
use shared::clock::Clock;
use shared::db::users::User;
use shared::db::work_status::{self, Return};
use shared::db::{Db, DbError};
use shared::domain::profile::{absence_over_at, latest_today_anywhere};
use shared::domain::user::WorkStatus;
use shared::i18n::t;
use shared::jobs::{DeliverMessage, Queue};
use shared::telegram::OutgoingMessage;

/// Users looked at per tick at most (the rest follow on the next ticks).
const BATCH: i64 = 200;

/// One pass, logging its own failure so the tick goes on with other work.
pub async fn return_due(db: &Db, queue: &Queue, clock: &Clock) {
    match return_once(db, queue, clock).await {
        Ok(0) => {}
        Ok(returned) => tracing::info!(returned, "absences over: set back to working"),
        Err(error) => tracing::warn!(%error, "return to working failed"),
    }
}

/// Sets everyone whose absence is over back to working; returns how many
/// this worker changed (others may have changed the rest).
pub async fn return_once(db: &Db, queue: &Queue, clock: &Clock) -> Result<usize, DbError> {
    let now = clock.now();
    let before = latest_today_anywhere(now);
    let candidates = db
        .read(move |c| work_status::away_until_before(c, before, BATCH))
        .await?;
    let mut returned = 0;
    for user in candidates {
        let Some(until) = user.work_status_until else {
            continue;
        };
        if !absence_over_at(until, &user.time_zone, now) {
            continue;
        }
        let ret = Return {
            user: user.id,
            was: user.work_status,
            until,
            chat_id: user.telegram_id.0,
            body: message(&user, user.work_status, until).to_json(),
            correlation_id: new_correlation_id(),
        };
        let correlation_id = ret.correlation_id.clone();
        let queued = db
            .write(move |c| work_status::return_to_working(c, &ret, now))
            .await?;
        let Some(outbox_id) = queued else {
            continue;
        };
        returned += 1;
        tracing::info!(user_id = %user.id, %until, correlation_id, "absence over: working again");
        DeliverMessage::push_after_commit(queue, outbox_id, &correlation_id).await;
    }
    Ok(returned)
}

/// "👋 Welcome back! Your vacation ended on …", in the user's language.
fn message(user: &User, was: WorkStatus, until: NaiveDate) -> OutgoingMessage {
    let date = until.format("%d.%m.%Y").to_string();
    let key = format!("profile.returned.{was}");
    OutgoingMessage::text(t(user.language, &key, &[("date", &date)]))
}

/// A fresh id for one return, carried into the delivery job and logs.
fn new_correlation_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..16].to_owned()
}
