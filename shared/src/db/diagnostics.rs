//! What diagnostics read and write: queue and worker figures from apalis'
//! own tables, job-run traces, owed work, the poller's last word, the
//! monitor's per-check states and the admins' `/diag` requests.
//!
//! apalis stamps its rows with the database's own clock (`now()` on
//! PostgreSQL, `strftime('%s','now')` on SQLite), so ages of queue rows and
//! worker heartbeats are measured against that same clock here, never
//! against the process clock (which a test may move).

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::schema::{
    diag_requests, google_connections, health_states, job_runs, meetings, outbox_messages,
    poller_status, users,
};
use super::types::{OptionalUtcTime, UserId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::booking::SyncState;
use crate::domain::delivery::OutboxState;
use crate::per_backend;

/// Queue figures of one job type.
#[derive(Debug, Clone, Default, PartialEq, Eq, QueryableByName)]
pub struct QueueFigures {
    #[diesel(sql_type = Text)]
    pub job_type: String,
    /// Due and not yet taken by a worker.
    #[diesel(sql_type = BigInt)]
    pub waiting: i64,
    /// Seconds the oldest due job has waited (0 when none waits).
    #[diesel(sql_type = BigInt)]
    pub oldest_wait_secs: i64,
    #[diesel(sql_type = BigInt)]
    pub running: i64,
    /// Running (or fetched) jobs whose worker stopped sending heartbeats.
    #[diesel(sql_type = BigInt)]
    pub stale: i64,
    /// Jobs that ended failed in the last hour, by apalis' record.
    #[diesel(sql_type = BigInt)]
    pub failed_last_hour: i64,
}

/// Per job type figures of the queue; `stale_after_secs` is the orphan
/// window (heartbeat × missed heartbeats).
pub fn queue_figures(
    conn: &mut DbConn,
    stale_after_secs: i64,
) -> Result<Vec<QueueFigures>, DbError> {
    Ok(match conn {
        DbConn::Pg(pg) => diesel::sql_query(
            "SELECT j.job_type, \
               COUNT(*) FILTER (WHERE j.status IN ('Pending', 'Queued') AND j.run_at <= now() AND j.lock_by IS NULL) AS waiting, \
               COALESCE(EXTRACT(EPOCH FROM now() - MIN(j.run_at) FILTER (WHERE j.status IN ('Pending', 'Queued') AND j.run_at <= now() AND j.lock_by IS NULL))::BIGINT, 0) AS oldest_wait_secs, \
               COUNT(*) FILTER (WHERE j.status = 'Running') AS running, \
               COUNT(*) FILTER (WHERE j.status IN ('Running', 'Queued') AND w.last_seen < now() - make_interval(secs => $1)) AS stale, \
               COUNT(*) FILTER (WHERE j.status IN ('Failed', 'Killed') AND j.done_at >= now() - interval '1 hour') AS failed_last_hour \
             FROM apalis.jobs j LEFT JOIN apalis.workers w ON w.id = j.lock_by \
             WHERE j.status <> 'Done' \
             GROUP BY j.job_type ORDER BY j.job_type",
        )
        .bind::<BigInt, _>(stale_after_secs)
        .load(pg)?,
        DbConn::Sqlite(sqlite) => diesel::sql_query(
            "SELECT j.job_type AS job_type, \
               SUM(CASE WHEN j.status IN ('Pending', 'Queued') AND j.run_at <= CAST(strftime('%s','now') AS INTEGER) AND j.lock_by IS NULL THEN 1 ELSE 0 END) AS waiting, \
               COALESCE(CAST(strftime('%s','now') AS INTEGER) - MIN(CASE WHEN j.status IN ('Pending', 'Queued') AND j.run_at <= CAST(strftime('%s','now') AS INTEGER) AND j.lock_by IS NULL THEN j.run_at END), 0) AS oldest_wait_secs, \
               SUM(CASE WHEN j.status = 'Running' THEN 1 ELSE 0 END) AS running, \
               SUM(CASE WHEN j.status IN ('Running', 'Queued') AND w.last_seen < CAST(strftime('%s','now') AS INTEGER) - ?1 THEN 1 ELSE 0 END) AS stale, \
               SUM(CASE WHEN j.status IN ('Failed', 'Killed') AND j.done_at >= CAST(strftime('%s','now') AS INTEGER) - 3600 THEN 1 ELSE 0 END) AS failed_last_hour \
             FROM Jobs j LEFT JOIN Workers w ON w.id = j.lock_by \
             WHERE j.status <> 'Done' \
             GROUP BY j.job_type ORDER BY j.job_type",
        )
        .bind::<BigInt, _>(stale_after_secs)
        .load(sqlite)?,
    })
}

/// A queue worker as apalis registered it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct WorkerBeat {
    /// `<queue>@<host>:<pid>:<boot id>`.
    #[diesel(sql_type = Text)]
    pub id: String,
    #[diesel(sql_type = Text)]
    pub worker_type: String,
    /// Seconds since its last heartbeat, by the database's clock.
    #[diesel(sql_type = BigInt)]
    pub silent_secs: i64,
}

/// Queue workers heard from in the last `within_secs` seconds.
pub fn worker_beats(conn: &mut DbConn, within_secs: i64) -> Result<Vec<WorkerBeat>, DbError> {
    Ok(match conn {
        DbConn::Pg(pg) => diesel::sql_query(
            "SELECT id, worker_type, EXTRACT(EPOCH FROM now() - last_seen)::BIGINT AS silent_secs \
             FROM apalis.workers WHERE last_seen >= now() - make_interval(secs => $1) ORDER BY id",
        )
        .bind::<BigInt, _>(within_secs)
        .load(pg)?,
        DbConn::Sqlite(sqlite) => diesel::sql_query(
            "SELECT id, worker_type, CAST(strftime('%s','now') AS INTEGER) - last_seen AS silent_secs \
             FROM Workers WHERE last_seen >= CAST(strftime('%s','now') AS INTEGER) - ?1 ORDER BY id",
        )
        .bind::<BigInt, _>(within_secs)
        .load(sqlite)?,
    })
}

#[derive(Debug, QueryableByName)]
struct Millis {
    #[diesel(sql_type = BigInt)]
    ms: i64,
}

/// The database server's wall clock, in milliseconds since the epoch.
pub fn database_time_ms(conn: &mut DbConn) -> Result<i64, DbError> {
    let row: Millis = match conn {
        DbConn::Pg(pg) => {
            diesel::sql_query("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT AS ms")
                .get_result(pg)?
        }
        DbConn::Sqlite(sqlite) => diesel::sql_query(
            "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) AS ms",
        )
        .get_result(sqlite)?,
    };
    Ok(row.ms)
}

/// Connections in use and allowed by the server (PostgreSQL only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct ServerConnections {
    #[diesel(sql_type = BigInt)]
    pub used: i64,
    #[diesel(sql_type = BigInt)]
    pub max: i64,
}

/// `None` on SQLite, which has no connection limit.
pub fn server_connections(conn: &mut DbConn) -> Result<Option<ServerConnections>, DbError> {
    match conn {
        DbConn::Pg(pg) => Ok(Some(
            diesel::sql_query(
                "SELECT COUNT(*)::BIGINT AS used, current_setting('max_connections')::BIGINT AS max \
                 FROM pg_stat_activity",
            )
            .get_result(pg)?,
        )),
        DbConn::Sqlite(_) => Ok(None),
    }
}

/// One failed job attempt, for the report's correlation ids.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct FailedRun {
    pub job_type: String,
    pub correlation_id: Option<String>,
    pub error: Option<String>,
}

/// Job attempts that failed for good since `since`, newest first.
pub fn failed_runs(
    conn: &mut DbConn,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<FailedRun>, DbError> {
    Ok(job_runs::table
        .filter(job_runs::started_at.ge(UtcTime::from(since)))
        .filter(job_runs::outcome.eq("failed"))
        .order(job_runs::id.desc())
        .limit(limit)
        .select((
            job_runs::job_type,
            job_runs::correlation_id,
            job_runs::error,
        ))
        .load(conn)?)
}

/// One attempt's figures, for trends.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct RunSample {
    pub job_type: String,
    #[diesel(deserialize_as = UtcTime)]
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub outcome: String,
}

/// Attempts started since `since` (at most `limit`, newest first).
pub fn run_samples(
    conn: &mut DbConn,
    since: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RunSample>, DbError> {
    Ok(job_runs::table
        .filter(job_runs::started_at.ge(UtcTime::from(since)))
        .order(job_runs::id.desc())
        .limit(limit)
        .select((
            job_runs::job_type,
            job_runs::started_at,
            job_runs::duration_ms,
            job_runs::outcome,
        ))
        .load(conn)?)
}

/// Deliveries that failed with 429 since `since` (their error names the
/// wait Telegram asked for).
pub fn rate_limited_runs(conn: &mut DbConn, since: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(job_runs::table
        .filter(job_runs::started_at.ge(UtcTime::from(since)))
        .filter(job_runs::error.like("%retry after%"))
        .count()
        .get_result(conn)?)
}

/// Owed messages: how many are past due by more than the sweep's grace,
/// and since when the oldest is due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxFigures {
    pub overdue: i64,
    pub oldest_due: Option<DateTime<Utc>>,
    pub failed_last_hour: i64,
    /// Correlation ids of recent failures.
    pub failed_correlation_ids: Vec<String>,
}

pub fn outbox_figures(
    conn: &mut DbConn,
    due_before: DateTime<Utc>,
    hour_ago: DateTime<Utc>,
) -> Result<OutboxFigures, DbError> {
    let overdue = outbox_messages::table
        .filter(outbox_messages::state.eq(OutboxState::Pending))
        .filter(outbox_messages::next_attempt_at.lt(UtcTime::from(due_before)));
    let count: i64 = overdue.count().get_result(conn)?;
    let oldest: Option<UtcTime> = overdue
        .order(outbox_messages::next_attempt_at)
        .select(outbox_messages::next_attempt_at)
        .first(conn)
        .optional()?;
    let failed = outbox_messages::table
        .filter(outbox_messages::state.eq(OutboxState::Failed))
        .filter(outbox_messages::created_at.ge(UtcTime::from(hour_ago)));
    let failed_last_hour: i64 = failed.count().get_result(conn)?;
    let ids: Vec<Option<String>> = failed
        .order(outbox_messages::id.desc())
        .limit(5)
        .select(outbox_messages::correlation_id)
        .load(conn)?;
    Ok(OutboxFigures {
        overdue: count,
        oldest_due: oldest.map(|t| t.0),
        failed_last_hour,
        failed_correlation_ids: ids.into_iter().flatten().collect(),
    })
}

/// Active users the bot cannot reach (they blocked it).
pub fn unreachable_users(conn: &mut DbConn) -> Result<i64, DbError> {
    Ok(users::table
        .filter(users::unreachable_at.is_not_null())
        .count()
        .get_result(conn)?)
}

/// A meeting whose calendar sync gave up.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct FailedSync {
    pub meeting_id: i64,
    pub revision: i32,
    pub calendar_owner_id: Option<i64>,
    pub error: Option<String>,
    pub correlation_id: Option<String>,
}

/// Meetings whose calendar sync failed, oldest id first.
pub fn failed_syncs(conn: &mut DbConn, limit: i64) -> Result<Vec<FailedSync>, DbError> {
    Ok(meetings::table
        .filter(meetings::sync_state.eq(SyncState::Failed))
        .order(meetings::id)
        .limit(limit)
        .select((
            meetings::id,
            meetings::revision,
            meetings::calendar_owner_id,
            meetings::sync_error,
            meetings::correlation_id,
        ))
        .load(conn)?)
}

/// Meetings still pending a sync long after their last change (a lost push).
pub fn stranded_syncs(conn: &mut DbConn, changed_before: DateTime<Utc>) -> Result<i64, DbError> {
    Ok(meetings::table
        .filter(meetings::sync_state.eq(SyncState::Pending))
        .filter(meetings::updated_at.lt(UtcTime::from(changed_before)))
        .count()
        .get_result(conn)?)
}

/// Puts a failed sync back to pending at the same revision (the repair
/// "re-sync"); `false` when the meeting moved on or is not failed.
pub fn reopen_failed_sync(conn: &mut DbConn, meeting: i64, revision: i32) -> Result<bool, DbError> {
    let changed = diesel::update(
        meetings::table
            .filter(meetings::id.eq(meeting))
            .filter(meetings::revision.eq(revision))
            .filter(meetings::sync_state.eq(SyncState::Failed)),
    )
    .set((
        meetings::sync_state.eq(SyncState::Pending),
        meetings::sync_error.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Hands jobs that failed for good in the last day back to the queue with
/// fresh attempts (the repair "retry failed jobs"); returns how many.
pub fn retry_failed_jobs(conn: &mut DbConn) -> Result<usize, DbError> {
    Ok(match conn {
        DbConn::Pg(pg) => diesel::sql_query(
            "UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = now(), \
               lock_by = NULL, lock_at = NULL, done_at = NULL \
             WHERE status IN ('Failed', 'Killed') AND done_at >= now() - interval '1 day'",
        )
        .execute(pg)?,
        DbConn::Sqlite(sqlite) => diesel::sql_query(
            "UPDATE Jobs SET status = 'Pending', attempts = 0, run_at = CAST(strftime('%s','now') AS INTEGER), \
               lock_by = NULL, lock_at = NULL, done_at = NULL \
             WHERE status IN ('Failed', 'Killed') AND done_at >= CAST(strftime('%s','now') AS INTEGER) - 86400",
        )
        .execute(sqlite)?,
    })
}

/// A connected calendar as diagnostics see it (no token material).
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct CalendarLink {
    pub user_id: UserId,
    pub telegram_id: i64,
    pub kind: String,
    pub status: String,
    pub calendar_id: String,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub busy_synced_at: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub watch_expires_at: Option<DateTime<Utc>>,
    pub broken_reason: Option<String>,
}

/// Every stored calendar connection, with its owner's Telegram id.
pub fn calendar_links(conn: &mut DbConn) -> Result<Vec<CalendarLink>, DbError> {
    Ok(google_connections::table
        .inner_join(users::table)
        .order(google_connections::user_id)
        .select((
            google_connections::user_id,
            users::telegram_id,
            google_connections::kind,
            google_connections::status,
            google_connections::calendar_id,
            google_connections::busy_synced_at,
            google_connections::watch_expires_at,
            google_connections::broken_reason,
        ))
        .load(conn)?)
}

/// Marks push channels expiring before `before` as due now, so the
/// worker's watch sweep renews them (the repair "renew channel").
pub fn make_channels_due(
    conn: &mut DbConn,
    before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        google_connections::table
            .filter(google_connections::watch_expires_at.lt(UtcTime::from(before)))
            .filter(google_connections::watch_expires_at.gt(UtcTime::from(now))),
    )
    .set(google_connections::watch_expires_at.eq(UtcTime::from(now)))
    .execute(conn)?)
}

/// What the active poller last reported.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct PollerStatus {
    pub holder: String,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub last_error_at: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub last_conflict_at: Option<DateTime<Utc>>,
    pub conflicts: i64,
    #[diesel(deserialize_as = UtcTime)]
    pub updated_at: DateTime<Utc>,
}

/// The poller row's name (one poller per token).
pub const POLLER: &str = "telegram";

/// The last report of the active poller, if any bot ever reported.
pub fn poller_status(conn: &mut DbConn) -> Result<Option<PollerStatus>, DbError> {
    Ok(poller_status::table
        .find(POLLER)
        .select((
            poller_status::holder,
            poller_status::last_success_at,
            poller_status::last_error,
            poller_status::last_error_at,
            poller_status::last_conflict_at,
            poller_status::conflicts,
            poller_status::updated_at,
        ))
        .first(conn)
        .optional()?)
}

/// What a poller reports (the whole row, replaced each time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollerReport<'a> {
    pub holder: &'a str,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<&'a str>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_conflict_at: Option<DateTime<Utc>>,
    pub conflicts: i64,
}

pub fn report_poller(
    conn: &mut DbConn,
    report: &PollerReport<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let row = (
        poller_status::name.eq(POLLER),
        poller_status::holder.eq(report.holder),
        poller_status::last_success_at.eq(report.last_success_at.map(UtcTime::from)),
        poller_status::last_error.eq(report.last_error),
        poller_status::last_error_at.eq(report.last_error_at.map(UtcTime::from)),
        poller_status::last_conflict_at.eq(report.last_conflict_at.map(UtcTime::from)),
        poller_status::conflicts.eq(report.conflicts),
        poller_status::updated_at.eq(UtcTime::from(now)),
    );
    per_backend!(conn, |c| diesel::insert_into(poller_status::table)
        .values(row)
        .on_conflict(poller_status::name)
        .do_update()
        .set(row)
        .execute(c))?;
    Ok(())
}

/// One check's stored state (the monitor's memory).
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct HealthState {
    pub check_name: String,
    pub status: String,
    pub detail: String,
    #[diesel(deserialize_as = UtcTime)]
    pub changed_at: DateTime<Utc>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub alerted_at: Option<DateTime<Utc>>,
    pub alerted_status: Option<String>,
}

pub fn health_states(conn: &mut DbConn) -> Result<Vec<HealthState>, DbError> {
    Ok(health_states::table
        .order(health_states::check_name)
        .select((
            health_states::check_name,
            health_states::status,
            health_states::detail,
            health_states::changed_at,
            health_states::alerted_at,
            health_states::alerted_status,
        ))
        .load(conn)?)
}

/// Stores a check's observed status (inserting its row the first time,
/// with "ok" as what admins last heard); `changed_at` moves only when the
/// status changes.
pub fn observe_health(
    conn: &mut DbConn,
    check: &str,
    status: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    per_backend!(&mut *conn, |c| diesel::insert_into(health_states::table)
        .values((
            health_states::check_name.eq(check),
            health_states::status.eq(status),
            health_states::detail.eq(detail),
            health_states::changed_at.eq(UtcTime::from(now)),
            health_states::alerted_status.eq(Some("ok")),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    diesel::update(
        health_states::table
            .find(check)
            .filter(health_states::status.ne(status)),
    )
    .set((
        health_states::status.eq(status),
        health_states::changed_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    diesel::update(health_states::table.find(check))
        .set(health_states::detail.eq(detail))
        .execute(conn)?;
    Ok(())
}

/// Records that admins are told `status` about `check` now — only if what
/// they last heard is still `heard` and they were not told anything within
/// `quiet` (so two workers, or a flapping check, alert once). `true` when
/// this call won: then send the alert in the same transaction.
pub fn claim_alert(
    conn: &mut DbConn,
    check: &str,
    heard: Option<&str>,
    status: &str,
    now: DateTime<Utc>,
    quiet: TimeDelta,
) -> Result<bool, DbError> {
    let quiet_since = UtcTime::from(now - quiet);
    let target = health_states::table.find(check).filter(
        health_states::alerted_at
            .is_null()
            .or(health_states::alerted_at.le(quiet_since)),
    );
    let changed = match heard {
        Some(heard) => diesel::update(target.filter(health_states::alerted_status.eq(heard)))
            .set((
                health_states::alerted_status.eq(Some(status)),
                health_states::alerted_at.eq(Some(UtcTime::from(now))),
            ))
            .execute(conn)?,
        None => diesel::update(target.filter(health_states::alerted_status.is_null()))
            .set((
                health_states::alerted_status.eq(Some(status)),
                health_states::alerted_at.eq(Some(UtcTime::from(now))),
            ))
            .execute(conn)?,
    };
    Ok(changed == 1)
}

/// What an admin asked `/diag` for.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct DiagRequest {
    pub id: i64,
    pub requested_by: UserId,
    pub chat_id: i64,
    pub kind: String,
    pub fix: Option<String>,
    pub correlation_id: Option<String>,
}

/// A new request; returns its id.
pub fn request_diagnosis(
    conn: &mut DbConn,
    requested_by: UserId,
    chat_id: i64,
    kind: &str,
    fix: Option<&str>,
    correlation_id: &str,
    now: DateTime<Utc>,
) -> Result<i64, DbError> {
    let id: i64 = per_backend!(conn, |c| diesel::insert_into(diag_requests::table)
        .values((
            diag_requests::requested_by.eq(requested_by),
            diag_requests::chat_id.eq(chat_id),
            diag_requests::kind.eq(kind),
            diag_requests::fix.eq(fix),
            diag_requests::state.eq("pending"),
            diag_requests::correlation_id.eq(Some(correlation_id)),
            diag_requests::created_at.eq(UtcTime::from(now)),
        ))
        .returning(diag_requests::id)
        .get_result(c))?;
    Ok(id)
}

/// Takes the oldest pending request (or one whose worker vanished before
/// `stuck_before`) for `worker`; `None` when there is nothing to do or
/// another worker took it first.
pub fn claim_diag_request(
    conn: &mut DbConn,
    worker: &str,
    now: DateTime<Utc>,
    stuck_before: DateTime<Utc>,
) -> Result<Option<DiagRequest>, DbError> {
    let waiting = diag_requests::table
        .filter(
            diag_requests::state.eq("pending").or(diag_requests::state
                .eq("running")
                .and(diag_requests::claimed_at.lt(UtcTime::from(stuck_before)))),
        )
        .order(diag_requests::id)
        .select(diag_requests::id)
        .first::<i64>(conn)
        .optional()?;
    let Some(id) = waiting else {
        return Ok(None);
    };
    let taken = diesel::update(
        diag_requests::table.find(id).filter(
            diag_requests::state.eq("pending").or(diag_requests::state
                .eq("running")
                .and(diag_requests::claimed_at.lt(UtcTime::from(stuck_before)))),
        ),
    )
    .set((
        diag_requests::state.eq("running"),
        diag_requests::claimed_by.eq(Some(worker)),
        diag_requests::claimed_at.eq(Some(UtcTime::from(now))),
    ))
    .execute(conn)?;
    if taken != 1 {
        return Ok(None);
    }
    Ok(Some(
        diag_requests::table
            .find(id)
            .select((
                diag_requests::id,
                diag_requests::requested_by,
                diag_requests::chat_id,
                diag_requests::kind,
                diag_requests::fix,
                diag_requests::correlation_id,
            ))
            .first(conn)?,
    ))
}

pub fn finish_diag_request(conn: &mut DbConn, id: i64, now: DateTime<Utc>) -> Result<(), DbError> {
    diesel::update(diag_requests::table.find(id))
        .set((
            diag_requests::state.eq("done"),
            diag_requests::done_at.eq(Some(UtcTime::from(now))),
        ))
        .execute(conn)?;
    Ok(())
}
