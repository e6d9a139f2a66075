//! What end-to-end tests store and read directly in the database: users
//! seeded without replaying registration, and the rows a flow must leave
//! (the user, their audit trail, their dialogue).

use shared::clock::Clock;
use shared::db::audit::{self, AuditRecord};
use shared::db::types::{DepartmentId, TelegramId, UserId};
use shared::db::users::{self, NewUser, User};
use shared::db::{Db, DbConn, DbError, availability, departments, dialogues};
use shared::domain::availability::DayStarts;
use shared::domain::user::{Language, Role, Status};

/// A user to store directly (registration has its own tests): an active
/// English-speaking manager in Europe/Moscow without a department unless
/// told otherwise.
#[derive(Debug, Clone)]
pub struct SeedUser {
    new: NewUser,
    department_name: Option<String>,
}

impl SeedUser {
    pub fn new(telegram_id: i64, first_name: &str, last_name: &str) -> Self {
        Self {
            new: NewUser {
                telegram_id: TelegramId(telegram_id),
                username: None,
                first_name: first_name.to_owned(),
                last_name: last_name.to_owned(),
                department_id: None,
                status: Status::Active,
                role: Some(Role::Manager),
                is_admin: false,
                language: Language::En,
                time_zone: "Europe/Moscow".to_owned(),
            },
            department_name: None,
        }
    }

    pub fn status(mut self, status: Status) -> Self {
        self.new.status = status;
        self
    }

    pub fn role(mut self, role: Option<Role>) -> Self {
        self.new.role = role;
        self
    }

    pub fn admin(mut self, is_admin: bool) -> Self {
        self.new.is_admin = is_admin;
        self
    }

    pub fn language(mut self, language: Language) -> Self {
        self.new.language = language;
        self
    }

    pub fn time_zone(mut self, zone: &str) -> Self {
        zone.clone_into(&mut self.new.time_zone);
        self
    }

    pub fn username(mut self, username: &str) -> Self {
        self.new.username = Some(username.to_owned());
        self
    }

    pub fn department(mut self, department: Option<DepartmentId>) -> Self {
        self.new.department_id = department;
        self
    }

    /// One of the seeded departments, by name (looked up on insert).
    pub fn department_named(mut self, name: &str) -> Self {
        self.department_name = Some(name.to_owned());
        self
    }

    /// Stores the user in `conn`'s transaction.
    pub fn insert_with(self, conn: &mut DbConn) -> Result<User, DbError> {
        let mut new = self.new;
        if let Some(name) = self.department_name {
            let department = departments::list_all(conn)?
                .into_iter()
                .find(|d| d.name == name)
                .unwrap_or_else(|| panic!("no department {name}"));
            new.department_id = Some(department.id);
        }
        users::insert(conn, &new, Clock::system().now())
    }

    pub async fn insert(self, db: &Db) -> User {
        db.write(move |c| self.insert_with(c))
            .await
            .expect("seeding a user")
    }
}

/// The user with this Telegram id, if any.
pub async fn user(db: &Db, telegram_id: i64) -> Option<User> {
    db.read(move |c| users::find_by_telegram_id(c, TelegramId(telegram_id)))
        .await
        .expect("reading a user")
}

/// The audit rows about `user`, oldest first.
pub async fn audit_trail(db: &Db, user: UserId) -> Vec<AuditRecord> {
    let mut records = db
        .read(move |c| audit::for_user(c, user, 500, 0))
        .await
        .expect("reading the audit log");
    records.reverse();
    records
}

/// The actions of [`audit_trail`], oldest first.
pub async fn audit_actions(db: &Db, user: UserId) -> Vec<String> {
    audit_trail(db, user)
        .await
        .into_iter()
        .map(|r| r.action)
        .collect()
}

/// The stored dialogue of a chat, as JSON.
pub async fn dialogue(db: &Db, telegram_id: i64) -> Option<serde_json::Value> {
    db.read(move |c| dialogues::load::<serde_json::Value>(c, TelegramId(telegram_id)))
        .await
        .expect("reading a dialogue")
}

/// Gives `owner` the same slot start times (minutes after midnight, in
/// their zone) Monday to Friday.
pub async fn offer_weekdays(db: &Db, owner: UserId, starts: &[u16]) {
    let starts = DayStarts::try_from(starts.to_vec()).expect("valid start times");
    db.write(move |c| {
        for day in [
            chrono::Weekday::Mon,
            chrono::Weekday::Tue,
            chrono::Weekday::Wed,
            chrono::Weekday::Thu,
            chrono::Weekday::Fri,
        ] {
            availability::replace_day(c, owner, day, starts)?;
        }
        Ok(())
    })
    .await
    .expect("availability is stored");
}
