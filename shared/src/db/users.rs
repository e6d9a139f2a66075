//! Users: who they are, their application status, role and preferences.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

use super::schema::{audit_log, departments, users};
use super::types::{AuditId, DepartmentId, OptionalUtcTime, TelegramId, UserId, UtcTime};
use super::{DbConn, DbError, MultiBackend};
use crate::domain::admin::UserFilter;
use crate::domain::registration::PersonName;
use crate::domain::user::{Language, Role, Status, WorkStatus};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub telegram_id: TelegramId,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub department_id: Option<DepartmentId>,
    pub status: Status,
    pub role: Option<Role>,
    pub is_admin: bool,
    pub language: Language,
    pub time_zone: String,
    pub email: Option<String>,
    pub work_status: WorkStatus,
    pub work_status_until: Option<NaiveDate>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub unreachable_at: Option<DateTime<Utc>>,
    #[diesel(deserialize_as = OptionalUtcTime)]
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<UserId>,
    #[diesel(deserialize_as = UtcTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(deserialize_as = UtcTime)]
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// "First Last", as shown to other users.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }

    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }
}

/// What registration stores about a new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub telegram_id: TelegramId,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub department_id: Option<DepartmentId>,
    pub status: Status,
    pub role: Option<Role>,
    pub is_admin: bool,
    pub language: Language,
    pub time_zone: String,
}

#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct UserRow<'a> {
    telegram_id: TelegramId,
    username: Option<&'a str>,
    first_name: &'a str,
    last_name: &'a str,
    department_id: Option<DepartmentId>,
    status: Status,
    role: Option<Role>,
    is_admin: bool,
    language: Language,
    time_zone: &'a str,
    created_at: UtcTime,
    updated_at: UtcTime,
}

/// Stores a new user; fails with a unique violation if the Telegram id exists.
pub fn insert(conn: &mut DbConn, new: &NewUser, now: DateTime<Utc>) -> Result<User, DbError> {
    let id: UserId = diesel::insert_into(users::table)
        .values(UserRow {
            telegram_id: new.telegram_id,
            username: new.username.as_deref(),
            first_name: &new.first_name,
            last_name: &new.last_name,
            department_id: new.department_id,
            status: new.status,
            role: new.role,
            is_admin: new.is_admin,
            language: new.language,
            time_zone: &new.time_zone,
            created_at: now.into(),
            updated_at: now.into(),
        })
        .returning(users::id)
        .get_result(conn)?;
    get(conn, id)
}

/// What a rejected user's new application changes.
#[derive(Debug, Clone)]
pub struct Reapplication {
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub department_id: DepartmentId,
    /// `Pending`, or `Active` for a bootstrap admin.
    pub status: Status,
    pub role: Option<Role>,
    pub is_admin: bool,
}

/// Puts a rejected user's new application in place, only if they are still
/// rejected (a removed user cannot apply again). The previous decision is
/// cleared; the audit log keeps it. Returns whether it happened.
pub fn reapply(
    conn: &mut DbConn,
    id: UserId,
    new: &Reapplication,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        users::table
            .find(id)
            .filter(users::status.eq(Status::Rejected)),
    )
    .set((
        users::username.eq(new.username.as_deref()),
        users::first_name.eq(&new.first_name),
        users::last_name.eq(&new.last_name),
        users::department_id.eq(Some(new.department_id)),
        users::status.eq(new.status),
        users::role.eq(new.role),
        users::is_admin.eq(new.is_admin),
        users::decided_at.eq(None::<UtcTime>),
        users::decided_by.eq(None::<UserId>),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// The audit action that records an application (first or repeated).
pub const APPLICATION_ACTION: &str = "user.registered";

/// The audit id of the user's latest application: it names the application
/// round, so approve/reject buttons of an earlier round can be told apart.
pub fn application_round(conn: &mut DbConn, id: UserId) -> Result<Option<AuditId>, DbError> {
    Ok(audit_log::table
        .filter(audit_log::target_user_id.eq(id))
        .filter(audit_log::action.eq(APPLICATION_ACTION))
        .order(audit_log::id.desc())
        .select(audit_log::id)
        .first(conn)
        .optional()?)
}

pub fn get(conn: &mut DbConn, id: UserId) -> Result<User, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)?)
}

pub fn find(conn: &mut DbConn, id: UserId) -> Result<Option<User>, DbError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_telegram_id(
    conn: &mut DbConn,
    telegram_id: TelegramId,
) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(users::telegram_id.eq(telegram_id))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// The users among `telegram_ids` who have a row.
pub fn find_by_telegram_ids(
    conn: &mut DbConn,
    telegram_ids: &[TelegramId],
) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .filter(users::telegram_id.eq_any(telegram_ids))
        .order(users::id)
        .select(User::as_select())
        .load(conn)?)
}

/// Active admins, who receive registration requests and reports.
pub fn active_admins(conn: &mut DbConn) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .filter(users::is_admin.eq(true))
        .filter(users::status.eq(Status::Active))
        .order(users::id)
        .select(User::as_select())
        .load(conn)?)
}

/// Users with the given status, oldest first (e.g. the pending list).
pub fn with_status(conn: &mut DbConn, status: Status) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .filter(users::status.eq(status))
        .order(users::id)
        .select(User::as_select())
        .load(conn)?)
}

/// Moves a user from `from` to `to` status only if they are still in `from`
/// (a second admin pressing the same button changes nothing). Returns
/// whether it happened.
pub fn decide(
    conn: &mut DbConn,
    id: UserId,
    from: Status,
    to: Status,
    role: Option<Role>,
    decided_by: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(users::table.find(id).filter(users::status.eq(from)))
        .set((
            users::status.eq(to),
            users::role.eq(role),
            users::decided_at.eq(Some(UtcTime::from(now))),
            users::decided_by.eq(decided_by),
            users::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Changes an active user's role. Returns whether the user was active.
pub fn set_role(
    conn: &mut DbConn,
    id: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        users::table
            .find(id)
            .filter(users::status.eq(Status::Active)),
    )
    .set((
        users::role.eq(Some(role)),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Grants or revokes the admin flag. Revoking is refused (returns false) when
/// it would leave no active admin.
pub fn set_admin(
    conn: &mut DbConn,
    id: UserId,
    is_admin: bool,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    if !is_admin && count_other_active_admins(conn, id)? == 0 {
        return Ok(false);
    }
    let changed = diesel::update(users::table.find(id))
        .set((
            users::is_admin.eq(is_admin),
            users::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}

/// Key of the PostgreSQL advisory lock that serialises changes which take
/// admin rights away (see [`count_other_active_admins`]).
const ADMIN_CHANGES_LOCK_KEY: i64 = 0x5C4E_AD01;

/// Active admins other than `id`: the last admin cannot step down.
///
/// Two admins revoking each other at once must not both see the other one
/// still in office: on PostgreSQL the count first takes a transaction-scoped
/// advisory lock, so the second transaction counts only after the first
/// committed (read committed takes a fresh snapshot per statement); SQLite
/// serialises writers with `BEGIN IMMEDIATE` already.
pub fn count_other_active_admins(conn: &mut DbConn, id: UserId) -> Result<i64, DbError> {
    if let DbConn::Pg(pg) = conn {
        diesel::sql_query(format!(
            "SELECT pg_advisory_xact_lock({ADMIN_CHANGES_LOCK_KEY})"
        ))
        .execute(pg)?;
    }
    Ok(users::table
        .filter(users::is_admin.eq(true))
        .filter(users::status.eq(Status::Active))
        .filter(users::id.ne(id))
        .count()
        .get_result(conn)?)
}

pub fn set_language(
    conn: &mut DbConn,
    id: UserId,
    language: Language,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::language.eq(language),
            users::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_time_zone(
    conn: &mut DbConn,
    id: UserId,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::time_zone.eq(zone.name()),
            users::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_email(
    conn: &mut DbConn,
    id: UserId,
    email: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set((
            users::email.eq(email),
            users::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Renames an active user: both names in one statement, so nobody ever
/// reads the new first name with the old last name. The names are
/// [`PersonName`]s, checked by the same rules as at registration. Returns
/// whether it happened (false: the user is not active any more).
pub fn set_name(
    conn: &mut DbConn,
    id: UserId,
    first_name: &PersonName,
    last_name: &PersonName,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        users::table
            .find(id)
            .filter(users::status.eq(Status::Active)),
    )
    .set((
        users::first_name.eq(first_name.as_str()),
        users::last_name.eq(last_name.as_str()),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Moves an active user to `department`, only if that department exists
/// and is not retired, checked in the same statement (an admin may retire
/// it while the user looks at the buttons). Returns whether it happened.
pub fn set_department(
    conn: &mut DbConn,
    id: UserId,
    department: DepartmentId,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let pickable = departments::table
        .filter(departments::id.eq(department))
        .filter(departments::retired_at.is_null());
    let changed = diesel::update(
        users::table
            .find(id)
            .filter(users::status.eq(Status::Active))
            .filter(diesel::dsl::exists(pickable)),
    )
    .set((
        users::department_id.eq(Some(department)),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

pub fn set_work_status(
    conn: &mut DbConn,
    id: UserId,
    status: WorkStatus,
    until: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let until = if status == WorkStatus::Working {
        None
    } else {
        until
    };
    diesel::update(users::table.find(id))
        .set((
            users::work_status.eq(status),
            users::work_status_until.eq(until),
            users::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records that Telegram refused delivery (the user blocked the bot), or
/// clears it when they write again.
pub fn set_unreachable(
    conn: &mut DbConn,
    id: UserId,
    at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    diesel::update(users::table.find(id))
        .set(users::unreachable_at.eq(at.map(UtcTime::from)))
        .execute(conn)?;
    Ok(())
}

/// The users `filter` selects, as a query to page or count.
fn filtered(filter: &UserFilter) -> users::BoxedQuery<'static, MultiBackend> {
    let mut query = users::table.into_boxed();
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role));
    }
    if let Some(status) = filter.status {
        query = query.filter(users::status.eq(status));
    }
    if let Some(department) = filter.department {
        query = query.filter(users::department_id.eq(department));
    }
    query
}

/// One page of the users `filter` selects, in registration order (stable
/// while the admin pages through).
pub fn list(
    conn: &mut DbConn,
    filter: &UserFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<User>, DbError> {
    Ok(filtered(filter)
        .order(users::id)
        .limit(limit)
        .offset(offset)
        .select(User::as_select())
        .load(conn)?)
}

/// How many users `filter` selects (for paging).
pub fn count(conn: &mut DbConn, filter: &UserFilter) -> Result<i64, DbError> {
    Ok(filtered(filter).count().get_result(conn)?)
}

/// Changes an active user's role from `from` to `to`, only if it is still
/// `from` (a second press of the same button changes nothing). Returns
/// whether it happened.
pub fn change_role(
    conn: &mut DbConn,
    id: UserId,
    from: Role,
    to: Role,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = diesel::update(
        users::table
            .find(id)
            .filter(users::status.eq(Status::Active))
            .filter(users::role.eq(from)),
    )
    .set((
        users::role.eq(Some(to)),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Gives an active user the admin flag, only if they do not have it yet.
pub fn grant_admin(conn: &mut DbConn, id: UserId, now: DateTime<Utc>) -> Result<bool, DbError> {
    let changed = diesel::update(
        users::table
            .find(id)
            .filter(users::status.eq(Status::Active))
            .filter(users::is_admin.eq(false)),
    )
    .set((
        users::is_admin.eq(true),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Takes the admin flag from an active admin, only if another active admin
/// remains (there is always someone to run the bot).
pub fn revoke_admin(conn: &mut DbConn, id: UserId, now: DateTime<Utc>) -> Result<bool, DbError> {
    if count_other_active_admins(conn, id)? == 0 {
        return Ok(false);
    }
    let changed = diesel::update(
        users::table
            .find(id)
            .filter(users::status.eq(Status::Active))
            .filter(users::is_admin.eq(true)),
    )
    .set((
        users::is_admin.eq(false),
        users::updated_at.eq(UtcTime::from(now)),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Withdraws a user's access (soft: the row, their meetings and the audit
/// log stay), only if they are in `from` still and are not the last active
/// admin. Returns whether it happened.
pub fn remove(
    conn: &mut DbConn,
    id: UserId,
    from: Status,
    now: DateTime<Utc>,
) -> Result<bool, DbError> {
    if from == Status::Removed {
        return Ok(false);
    }
    let is_active_admin = users::table
        .find(id)
        .filter(users::status.eq(Status::Active))
        .filter(users::is_admin.eq(true))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if is_active_admin && count_other_active_admins(conn, id)? == 0 {
        return Ok(false);
    }
    let changed = diesel::update(users::table.find(id).filter(users::status.eq(from)))
        .set((
            users::status.eq(Status::Removed),
            users::updated_at.eq(UtcTime::from(now)),
        ))
        .execute(conn)?;
    Ok(changed == 1)
}
