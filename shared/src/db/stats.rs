//! Counts for the admins' statistics, straight from the live tables.

use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::schema::{meetings, users};
use super::types::{DepartmentId, UtcTime};
use super::{DbConn, DbError};
use crate::domain::user::{Role, Status};

// Meetings are counted per department of their manager.
diesel::allow_columns_to_appear_in_same_group_by_clause!(users::department_id, meetings::status);

/// Users per role (none while not active) and status.
pub fn users_by_role_and_status(
    conn: &mut DbConn,
) -> Result<Vec<(Option<Role>, Status, i64)>, DbError> {
    Ok(users::table
        .group_by((users::role, users::status))
        .select((users::role, users::status, count_star()))
        .load(conn)?)
}

/// Meetings of one department (its managers' meetings) by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeetingCounts {
    pub scheduled: i64,
    pub completed: i64,
    pub cancelled: i64,
    pub no_show: i64,
}

impl MeetingCounts {
    pub fn total(&self) -> i64 {
        self.scheduled + self.completed + self.cancelled + self.no_show
    }

    fn add(&mut self, status: &str, count: i64) {
        match status {
            "scheduled" => self.scheduled += count,
            "completed" => self.completed += count,
            "cancelled" => self.cancelled += count,
            "no_show" => self.no_show += count,
            other => tracing::warn!(status = other, "unknown meeting status in statistics"),
        }
    }
}

/// Meetings starting in `[from, to)`, per department of the booking
/// manager (a collective meeting counts once), by status. Departments
/// without meetings are left out; `None` is "no department".
pub fn meetings_per_department(
    conn: &mut DbConn,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(Option<DepartmentId>, MeetingCounts)>, DbError> {
    let rows: Vec<(Option<DepartmentId>, String, i64)> = meetings::table
        .inner_join(users::table)
        .filter(meetings::starts_at.ge(UtcTime::from(from)))
        .filter(meetings::starts_at.lt(UtcTime::from(to)))
        .group_by((users::department_id, meetings::status))
        .select((users::department_id, meetings::status, count_star()))
        .load(conn)?;
    let mut per_department: Vec<(Option<DepartmentId>, MeetingCounts)> = Vec::new();
    for (department, status, count) in rows {
        match per_department.iter_mut().find(|(d, _)| *d == department) {
            Some((_, counts)) => counts.add(&status, count),
            None => {
                let mut counts = MeetingCounts::default();
                counts.add(&status, count);
                per_department.push((department, counts));
            }
        }
    }
    Ok(per_department)
}
