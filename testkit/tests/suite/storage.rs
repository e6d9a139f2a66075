//! Repositories and schema rules, on PostgreSQL and SQLite alike.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use diesel::RunQueryDsl;
use serde_json::json;
use shared::db::audit::{self, AuditEntry};
use shared::db::departments::{self, DepartmentError};
use shared::db::types::{TelegramId, UserId};
use shared::db::updates::NewInbound;
use shared::db::users::{self, NewUser};
use shared::db::{Db, DbConn, DbError, booking_settings, dialogues, migrate, updates};
use shared::domain::inbound::InboundState;
use shared::domain::settings::{BookingMode, BookingSettings};
use shared::domain::user::{Language, Role, Status};
use testkit::db::TestDb;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + seconds, 0).unwrap()
}

fn applicant(telegram_id: i64) -> NewUser {
    NewUser {
        telegram_id: TelegramId(telegram_id),
        username: Some(format!("user{telegram_id}")),
        first_name: "Анна".to_owned(),
        last_name: "O'Brien *bold* <b>".to_owned(),
        department_id: None,
        status: Status::Pending,
        role: None,
        is_admin: false,
        language: Language::Ru,
        time_zone: "Europe/Moscow".to_owned(),
    }
}

async fn insert_user(db: &Db, new: NewUser) -> users::User {
    db.write(move |c| users::insert(c, &new, at(0)))
        .await
        .unwrap()
}

fn raw(conn: &mut DbConn, sql: &str) -> Result<usize, DbError> {
    Ok(diesel::sql_query(sql).execute(conn)?)
}

async fn instants_round_trip_exactly(test: TestDb) {
    let db = &test.db;
    let instants = [
        Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap(),
        Utc.timestamp_opt(1_790_000_000, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap(),
        Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap(),
    ];
    for (i, instant) in instants.into_iter().enumerate() {
        let department = db
            .write(move |c| {
                departments::add(c, &format!("Dept {i}"), instant).map_err(|e| match e {
                    DepartmentError::Db(e) => e,
                    other => panic!("{other}"),
                })
            })
            .await
            .unwrap();
        let micros = instant.timestamp_micros();
        assert_eq!(
            department.created_at.timestamp_micros(),
            micros,
            "stored with microseconds"
        );
    }
    // Ordering in SQL is time order on both backends.
    let cutoff = shared::db::UtcTime::from(Utc.timestamp_opt(1_790_000_000, 1_000).unwrap());
    let later: i64 = db
        .read(move |c| {
            use diesel::prelude::*;
            use shared::db::schema::departments::dsl;
            Ok(dsl::departments
                .filter(dsl::name.like("Dept %"))
                .filter(dsl::created_at.gt(cutoff))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(
        later, 2,
        "2026-10-25 and 123ms past the base are after the cutoff"
    );
}

async fn users_are_registered_and_decided_once(test: TestDb) {
    let db = &test.db;
    let user = insert_user(db, applicant(1001)).await;
    assert_eq!(user.status, Status::Pending);
    assert_eq!(user.last_name, "O'Brien *bold* <b>");
    assert_eq!(user.created_at, at(0));

    let found = db
        .read(|c| users::find_by_telegram_id(c, TelegramId(1001)))
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&user));

    let duplicate = db
        .write(|c| users::insert(c, &applicant(1001), at(1)))
        .await;
    assert!(duplicate.is_err_and(|e| e.is_unique_violation()));

    let id = user.id;
    let approve = move |c: &mut DbConn| {
        users::decide(
            c,
            id,
            Status::Pending,
            Status::Active,
            Some(Role::Manager),
            None,
            at(5),
        )
    };
    assert!(db.write(approve).await.unwrap(), "first decision applies");
    assert!(
        !db.write(approve).await.unwrap(),
        "a second press changes nothing"
    );
    let user = db.read(move |c| users::get(c, id)).await.unwrap();
    assert_eq!(
        (user.status, user.role),
        (Status::Active, Some(Role::Manager))
    );
    assert_eq!(user.decided_at, Some(at(5)));

    // An active user without a role is impossible.
    let broken = db
        .write(move |c| raw(c, &format!("UPDATE users SET role = NULL WHERE id = {id}")))
        .await;
    assert!(
        broken.is_err(),
        "CHECK (status <> 'active' OR role IS NOT NULL)"
    );
    let unknown = db
        .write(move |c| {
            raw(
                c,
                &format!("UPDATE users SET status = 'ghost' WHERE id = {id}"),
            )
        })
        .await;
    assert!(unknown.is_err(), "status CHECK");
}

async fn the_last_admin_cannot_step_down(test: TestDb) {
    let db = &test.db;
    let mut admin = applicant(1);
    admin.status = Status::Active;
    admin.role = Some(Role::Owner);
    admin.is_admin = true;
    let first = insert_user(db, admin.clone()).await.id;
    assert!(
        !db.write(move |c| users::set_admin(c, first, false, at(1)))
            .await
            .unwrap()
    );

    admin.telegram_id = TelegramId(2);
    let second = insert_user(db, admin).await.id;
    assert!(
        db.write(move |c| users::set_admin(c, first, false, at(2)))
            .await
            .unwrap()
    );
    assert!(
        !db.write(move |c| users::set_admin(c, second, false, at(3)))
            .await
            .unwrap()
    );
    let admins = db.read(users::active_admins).await.unwrap();
    assert_eq!(admins.iter().map(|u| u.id).collect::<Vec<_>>(), [second]);
}

async fn departments_are_seeded_and_managed(test: TestDb) {
    let db = &test.db;
    let names =
        |list: Vec<departments::Department>| list.into_iter().map(|d| d.name).collect::<Vec<_>>();
    let seeded = names(db.read(departments::list_active).await.unwrap());
    assert_eq!(
        seeded,
        ["BizDev", "Finance", "GameDev", "HR", "IT", "Pharma", "Tech"]
    );

    let qa = db
        .write(|c| departments::add(c, "  Quality   Assurance ", at(0)).map_err(to_db))
        .await
        .unwrap();
    assert_eq!(qa.name, "Quality Assurance");
    let outcome = |r: Result<Result<(), DepartmentError>, DbError>| r.unwrap();
    let dup = db
        .write(|c| Ok(departments::add(c, "pharma", at(0)).map(|_| ())))
        .await;
    assert!(matches!(outcome(dup), Err(DepartmentError::Duplicate)));
    let long = "x".repeat(65);
    let invalid = db
        .write(move |c| Ok(departments::add(c, &long, at(0)).map(|_| ())))
        .await;
    assert!(matches!(
        outcome(invalid),
        Err(DepartmentError::InvalidName)
    ));

    let id = qa.id;
    db.write(move |c| departments::rename(c, id, "QA").map_err(to_db))
        .await
        .unwrap();
    db.write(move |c| departments::set_retired(c, id, Some(at(1))).map_err(to_db))
        .await
        .unwrap();
    assert!(!names(db.read(departments::list_active).await.unwrap()).contains(&"QA".to_owned()));
    assert!(names(db.read(departments::list_all).await.unwrap()).contains(&"QA".to_owned()));
}

fn to_db(e: DepartmentError) -> DbError {
    match e {
        DepartmentError::Db(e) => e,
        other => panic!("unexpected: {other}"),
    }
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum Dialogue {
    AwaitingLastName { first_name: String },
}

async fn dialogue_state_is_saved_replaced_and_cleared(test: TestDb) {
    let db = &test.db;
    let who = TelegramId(77);
    let state = Dialogue::AwaitingLastName {
        first_name: "Иван 🙂".to_owned(),
    };
    let loaded = db
        .write(move |c| {
            dialogues::save(c, who, &state, at(0))?;
            dialogues::save(
                c,
                who,
                &Dialogue::AwaitingLastName {
                    first_name: "Петр".to_owned(),
                },
                at(1),
            )?;
            dialogues::load::<Dialogue>(c, who)
        })
        .await
        .unwrap();
    assert_eq!(
        loaded,
        Some(Dialogue::AwaitingLastName {
            first_name: "Петр".to_owned()
        })
    );

    db.write(move |c| raw(c, "UPDATE dialogue_states SET state = '{\"Gone\":1}'"))
        .await
        .unwrap();
    let stale = db
        .read(move |c| dialogues::load::<Dialogue>(c, who))
        .await
        .unwrap();
    assert_eq!(stale, None, "an unparseable state starts afresh");

    db.write(move |c| dialogues::clear(c, who)).await.unwrap();
    let count: i64 = db
        .read(|c| {
            use diesel::prelude::*;
            Ok(shared::db::schema::dialogue_states::table
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// A received update for the inbox, `pending` unless said otherwise.
fn inbound(update_id: i64, state: InboundState) -> NewInbound<'static> {
    NewInbound {
        update_id,
        chat_id: Some(42),
        kind: "message",
        payload: r#"{"update_id":0}"#,
        state,
        note: None,
    }
}

/// Stores one pending update; `true` when it was new.
fn receive(c: &mut DbConn, update_id: i64, now: DateTime<Utc>) -> Result<bool, DbError> {
    Ok(!updates::store(c, &[inbound(update_id, InboundState::Pending)], now)?.is_empty())
}

async fn updates_are_stored_once_and_handled_once(test: TestDb) {
    let db = &test.db;
    assert_eq!(db.read(updates::last_received).await.unwrap(), None);
    let batch = [
        inbound(500, InboundState::Pending),
        inbound(501, InboundState::Pending),
        inbound(502, InboundState::Dropped),
    ];
    let fresh = db
        .write(move |c| updates::store(c, &batch, at(0)))
        .await
        .unwrap();
    assert_eq!(fresh, [500, 501, 502]);
    let again = [
        inbound(501, InboundState::Pending),
        inbound(503, InboundState::Pending),
    ];
    let fresh = db
        .write(move |c| updates::store(c, &again, at(1)))
        .await
        .unwrap();
    assert_eq!(fresh, [503], "a batch received twice is stored once");
    assert!(
        db.write(|c| updates::take_pending(c, 500, at(2)))
            .await
            .unwrap()
    );
    assert!(
        !db.write(|c| updates::take_pending(c, 500, at(3)))
            .await
            .unwrap(),
        "handled once"
    );
    assert!(
        !db.write(|c| updates::take_pending(c, 502, at(3)))
            .await
            .unwrap(),
        "a dropped update is never handled"
    );
    let pending: Vec<i64> = db
        .read(updates::pending)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.update_id)
        .collect();
    assert_eq!(pending, [501, 503]);
    assert_eq!(db.read(updates::last_received).await.unwrap(), Some(503));
    let pruned = db.write(|c| updates::prune(c, at(100))).await.unwrap();
    assert_eq!(
        pruned, 2,
        "handled and dropped go; pending and the newest stay"
    );
    assert_eq!(db.read(updates::last_received).await.unwrap(), Some(503));
    assert_eq!(db.read(updates::pending).await.unwrap().len(), 2);
}

async fn audit_rows_are_recorded_and_paged(test: TestDb) {
    let db = &test.db;
    let actor = insert_user(db, applicant(1)).await.id;
    let target = insert_user(db, applicant(2)).await.id;
    let other = insert_user(db, applicant(3)).await.id;
    for (i, (subject, action)) in [
        (target, "user.approved"),
        (other, "user.rejected"),
        (target, "user.promoted"),
    ]
    .into_iter()
    .enumerate()
    {
        db.write(move |c| {
            audit::record(
                c,
                &AuditEntry {
                    actor: Some(actor),
                    actor_telegram_id: Some(TelegramId(1)),
                    action,
                    target_user: Some(subject),
                    target: None,
                    data: json!({ "step": i, "note": "«кавычки» \"quotes\"" }),
                    correlation_id: Some("c0ffee"),
                },
                at(i64::try_from(i).unwrap()),
            )
        })
        .await
        .unwrap();
    }
    let page = db
        .read(move |c| audit::for_user(c, target, 10, 0))
        .await
        .unwrap();
    let actions: Vec<_> = page.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        ["user.promoted", "user.approved"],
        "newest first, this user only"
    );
    assert_eq!(page[0].data_json()["note"], "«кавычки» \"quotes\"");
    assert_eq!(page[0].correlation_id.as_deref(), Some("c0ffee"));
    assert_eq!(
        db.read(move |c| audit::count_for_user(c, actor))
            .await
            .unwrap(),
        3
    );
    let second_page = db
        .read(move |c| audit::for_user(c, target, 1, 1))
        .await
        .unwrap();
    assert_eq!(second_page[0].action, "user.approved");
    let _ = UserId(0);
}

async fn booking_settings_keep_admin_changes(test: TestDb) {
    let db = &test.db;
    let defaults = BookingSettings::product_defaults();
    let d = defaults.clone();
    db.write(move |c| booking_settings::ensure_defaults(c, &d, at(0)))
        .await
        .unwrap();
    assert_eq!(db.read(booking_settings::get).await.unwrap(), defaults);

    let mut admin = applicant(9);
    admin.status = Status::Active;
    admin.role = Some(Role::Owner);
    let by = insert_user(db, admin).await.id;
    let changed = BookingSettings {
        mode: BookingMode::Collective,
        min_notice: TimeDelta::minutes(45),
        reminder_offsets: vec![TimeDelta::hours(48), TimeDelta::minutes(10)],
        ..defaults.clone()
    };
    let c2 = changed.clone();
    db.write(move |c| booking_settings::update(c, &c2, by, at(1)))
        .await
        .unwrap();
    // A restart stores the environment defaults again: ignored.
    db.write(move |c| booking_settings::ensure_defaults(c, &defaults, at(2)))
        .await
        .unwrap();
    assert_eq!(db.read(booking_settings::get).await.unwrap(), changed);
}

async fn failed_transactions_leave_nothing(test: TestDb) {
    let db = &test.db;
    let outcome: Result<(), DbError> = db
        .write(|c| {
            users::insert(c, &applicant(42), at(0))?;
            receive(c, 9, at(0))?;
            Err(DbError::Migration(
                "simulated failure after writes".to_owned(),
            ))
        })
        .await;
    assert!(outcome.is_err());
    assert_eq!(
        db.read(|c| users::find_by_telegram_id(c, TelegramId(42)))
            .await
            .unwrap(),
        None
    );
    assert_eq!(db.read(updates::last_received).await.unwrap(), None);
}

async fn concurrent_writers_all_commit(test: TestDb) {
    let db = test.db.clone();
    let mut tasks = Vec::new();
    for writer in 0..8_i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..25_i64 {
                let id = writer * 1000 + n;
                db.write(move |c| {
                    let fresh = receive(c, id, at(id))?;
                    users::insert(c, &applicant(id + 1), at(id))?;
                    Ok(fresh)
                })
                .await
                .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let count: i64 = db
        .read(|c| {
            use diesel::prelude::*;
            Ok(shared::db::schema::users::table.count().get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(count, 200);
}

async fn schema_constraints_hold(test: TestDb) {
    let db = &test.db;
    let owner = insert_user(db, applicant(5)).await.id;
    let statements = [
        // A meeting that ends before it starts.
        format!(
            "INSERT INTO meetings (manager_id, mode, starts_at, ends_at, status, period_key, sync_state, created_at, updated_at) \
             VALUES ({owner}, 'single', '2026-12-01T10:00:00Z', '2026-12-01T09:00:00Z', 'scheduled', '2026-W49', 'pending', '2026-11-25T00:00:00Z', '2026-11-25T00:00:00Z')"
        ),
        // A slot length that is not a multiple of 15 minutes.
        format!("INSERT INTO owner_settings (owner_id, slot_minutes, updated_at) VALUES ({owner}, 50, '2026-11-25T00:00:00Z')"),
        // An availability start off the 30-minute grid.
        format!("INSERT INTO availability_slots (owner_id, weekday, start_minute) VALUES ({owner}, 1, 615)"),
        // A second booking-settings row.
        "INSERT INTO booking_settings (id, horizon_days, min_notice_minutes, cancel_notice_minutes, weekends_enabled, limit_per_period, limit_period, mode, cadence_days, reminder_offsets, overdue_report_minute, updated_at) \
         VALUES (2, 14, 120, 120, FALSE, 1, 'week', 'single', 14, '[]', 540, '2026-11-25T00:00:00Z')".to_owned(),
        // A department for a user that does not exist (foreign keys are on).
        "INSERT INTO availability_slots (owner_id, weekday, start_minute) VALUES (999999, 1, 600)".to_owned(),
    ];
    for sql in statements {
        let shown = sql.clone();
        let result = db.write(move |c| raw(c, &sql)).await;
        assert!(result.is_err(), "accepted: {shown}");
    }
    // Two claims of one 15-minute cell: the second loses.
    let claim = format!(
        "INSERT INTO slot_claims (owner_id, cell_start, blocked_period_id) \
         SELECT {owner}, '2026-12-01T10:00:00Z', id FROM blocked_periods"
    );
    db.write(move |c| {
        raw(c, &format!("INSERT INTO blocked_periods (owner_id, starts_at, ends_at, reason, created_at) VALUES ({owner}, '2026-12-01T10:00:00Z', '2026-12-01T11:00:00Z', 'x', '2026-11-25T00:00:00Z')"))
    })
    .await
    .unwrap();
    let c1 = claim.clone();
    assert_eq!(db.write(move |c| raw(c, &c1)).await.unwrap(), 1);
    assert!(
        db.write(move |c| raw(c, &claim))
            .await
            .is_err_and(|e| e.is_unique_violation())
    );
}

async fn migrations_are_current(test: TestDb) {
    let db = &test.db;
    assert_eq!(migrate::pending(db).await.unwrap(), Vec::<String>::new());
    let again = migrate::run(db).await.unwrap();
    assert!(again.applied.is_empty(), "a second run applies nothing");
    assert!(!migrate::known_versions(db.backend()).is_empty());
}

on_both_backends!(
    instants_round_trip_exactly,
    users_are_registered_and_decided_once,
    the_last_admin_cannot_step_down,
    departments_are_seeded_and_managed,
    dialogue_state_is_saved_replaced_and_cleared,
    updates_are_stored_once_and_handled_once,
    audit_rows_are_recorded_and_paged,
    booking_settings_keep_admin_changes,
    failed_transactions_leave_nothing,
    concurrent_writers_all_commit,
    schema_constraints_hold,
    migrations_are_current,
);
