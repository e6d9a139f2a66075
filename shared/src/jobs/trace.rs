//! Job-run traces: one `job_runs` row per attempt, written by the runner,
//! read by diagnostics (latency percentiles, error rate per job type).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::job_runs;
use crate::db::{DbConn, DbError, UtcTime};

/// How an attempt ended, as stored in `job_runs.outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::AsRefStr)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Failed; another attempt follows after a backoff.
    Retrying,
    /// Failed for good: a permanent error or the last attempt.
    Failed,
}

/// One attempt to record.
#[derive(Debug, Clone)]
pub struct NewJobRun {
    pub job_type: String,
    pub job_id: String,
    pub correlation_id: Option<String>,
    /// From 1.
    pub attempt: u32,
    pub worker: String,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub outcome: Outcome,
    pub error: Option<String>,
}

/// A stored attempt.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = job_runs)]
pub struct JobRun {
    pub id: i64,
    pub job_type: String,
    pub job_id: String,
    pub correlation_id: Option<String>,
    pub attempt: i32,
    pub worker: String,
    #[diesel(deserialize_as = UtcTime)]
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub outcome: String,
    pub error: Option<String>,
}

/// Longest error text kept per row.
const MAX_ERROR_CHARS: usize = 2000;

/// Writes one attempt.
pub fn record(conn: &mut DbConn, run: &NewJobRun) -> Result<(), DbError> {
    let error = run
        .error
        .as_deref()
        .map(|e| e.chars().take(MAX_ERROR_CHARS).collect::<String>());
    diesel::insert_into(job_runs::table)
        .values((
            job_runs::job_type.eq(&run.job_type),
            job_runs::job_id.eq(&run.job_id),
            job_runs::correlation_id.eq(run.correlation_id.as_deref()),
            job_runs::attempt.eq(i32::try_from(run.attempt.max(1)).unwrap_or(i32::MAX)),
            job_runs::worker.eq(&run.worker),
            job_runs::started_at.eq(UtcTime::from(run.started_at)),
            job_runs::duration_ms.eq(i64::try_from(run.duration.as_millis()).unwrap_or(i64::MAX)),
            job_runs::outcome.eq(run.outcome.as_ref()),
            job_runs::error.eq(error),
        ))
        .execute(conn)?;
    Ok(())
}

/// The attempts of one job, in order.
pub fn for_job(conn: &mut DbConn, job_id: &str) -> Result<Vec<JobRun>, DbError> {
    Ok(job_runs::table
        .filter(job_runs::job_id.eq(job_id))
        .order((job_runs::attempt, job_runs::id))
        .select(JobRun::as_select())
        .load(conn)?)
}

/// The attempts of one job type, oldest first.
pub fn for_type(conn: &mut DbConn, job_type: &str) -> Result<Vec<JobRun>, DbError> {
    Ok(job_runs::table
        .filter(job_runs::job_type.eq(job_type))
        .order((job_runs::started_at, job_runs::id))
        .select(JobRun::as_select())
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_match_the_check_constraint() {
        assert_eq!(Outcome::Succeeded.as_ref(), "succeeded");
        assert_eq!(Outcome::Retrying.to_string(), "retrying");
        assert_eq!("failed".parse::<Outcome>().ok(), Some(Outcome::Failed));
    }
}
