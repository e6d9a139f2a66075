//! Departments: data, not code; admins add, rename and retire them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::schema::departments;
use super::types::{DepartmentId, OptionalUtcTime, UtcTime};
use super::{DbConn, DbError};

/// Longest department name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = departments)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub retired_at: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = UtcTime)]
    pub created_at: DateTime<Utc>,
}

/// Why a department change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DepartmentError {
    #[error("a department with this name already exists")]
    Duplicate,
    #[error("the name must be 1 to 64 characters")]
    InvalidName,
    #[error("no such department")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for DepartmentError {
    fn from(e: diesel::result::Error) -> Self {
        let e = DbError::from(e);
        if e.is_unique_violation() {
            Self::Duplicate
        } else {
            Self::Db(e)
        }
    }
}

fn clean_name(name: &str) -> Result<String, DepartmentError> {
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(DepartmentError::InvalidName);
    }
    Ok(name)
}

/// Departments a user can pick, by name.
pub fn list_active(conn: &mut DbConn) -> Result<Vec<Department>, DbError> {
    Ok(departments::table
        .filter(departments::retired_at.is_null())
        .order(departments::name)
        .select(Department::as_select())
        .load(conn)?)
}

/// Every department, retired ones included (for admins and statistics).
pub fn list_all(conn: &mut DbConn) -> Result<Vec<Department>, DbError> {
    Ok(departments::table
        .order(departments::name)
        .select(Department::as_select())
        .load(conn)?)
}

pub fn find(conn: &mut DbConn, id: DepartmentId) -> Result<Option<Department>, DbError> {
    Ok(departments::table
        .find(id)
        .select(Department::as_select())
        .first(conn)
        .optional()?)
}

/// Adds a department; names are unique regardless of case.
pub fn add(
    conn: &mut DbConn,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Department, DepartmentError> {
    let name = clean_name(name)?;
    let id: DepartmentId = diesel::insert_into(departments::table)
        .values((
            departments::name.eq(&name),
            departments::created_at.eq(UtcTime::from(now)),
        ))
        .returning(departments::id)
        .get_result(conn)?;
    find(conn, id)?.ok_or(DepartmentError::NotFound)
}

pub fn rename(conn: &mut DbConn, id: DepartmentId, name: &str) -> Result<(), DepartmentError> {
    let name = clean_name(name)?;
    let changed = diesel::update(departments::table.find(id))
        .set(departments::name.eq(&name))
        .execute(conn)?;
    if changed == 0 {
        Err(DepartmentError::NotFound)
    } else {
        Ok(())
    }
}

/// Retires (hides from pickers, keeps history) or restores a department.
pub fn set_retired(
    conn: &mut DbConn,
    id: DepartmentId,
    retired_at: Option<DateTime<Utc>>,
) -> Result<(), DepartmentError> {
    let changed = diesel::update(departments::table.find(id))
        .set(departments::retired_at.eq(retired_at.map(UtcTime::from)))
        .execute(conn)?;
    if changed == 0 {
        Err(DepartmentError::NotFound)
    } else {
        Ok(())
    }
}

/// Retires a department that is offered now. Returns whether it happened
/// (a second press changes nothing).
pub fn retire(conn: &mut DbConn, id: DepartmentId, now: DateTime<Utc>) -> Result<bool, DbError> {
    let changed = diesel::update(
        departments::table
            .find(id)
            .filter(departments::retired_at.is_null()),
    )
    .set(departments::retired_at.eq(Some(UtcTime::from(now))))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Offers a retired department again. Returns whether it happened.
pub fn restore(conn: &mut DbConn, id: DepartmentId) -> Result<bool, DbError> {
    let changed = diesel::update(
        departments::table
            .find(id)
            .filter(departments::retired_at.is_not_null()),
    )
    .set(departments::retired_at.eq(None::<UtcTime>))
    .execute(conn)?;
    Ok(changed == 1)
}

/// How many users (of any status) belong to each department.
pub fn member_counts(conn: &mut DbConn) -> Result<Vec<(DepartmentId, i64)>, DbError> {
    use super::schema::users;
    let rows: Vec<(Option<DepartmentId>, i64)> = users::table
        .filter(users::department_id.is_not_null())
        .group_by(users::department_id)
        .select((users::department_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, count)| id.map(|id| (id, count)))
        .collect())
}
