//! The daily overdue report through the real worker, on both databases:
//! at the report time (company zone) the admins get the managers past
//! their cadence with nothing booked, grouped by department — not those
//! with an upcoming meeting, not those away — once, however many workers
//! run and ticks pass.

use chrono::{DateTime, Days, NaiveTime, TimeDelta, Utc};
use diesel::prelude::*;
use shared::clock::{self, Clock};
use shared::db::Db;
use shared::db::meetings::{self, NewBooking};
use shared::db::schema::periodic_runs;
use shared::db::users::User;
use shared::domain::booking::period_key;
use shared::domain::settings::{BookingMode, LimitPeriod};
use shared::domain::user::{Language, Role, WorkStatus};
use testkit::db::TestDb;
use testkit::people::Person;
use testkit::records::SeedUser;
use testkit::stack::{Stack, StackConfig};

const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;

async fn manager(db: &Db, telegram_id: i64, first: &str, department: Option<&str>) -> User {
    let seed = SeedUser::new(telegram_id, first, "Test")
        .role(Some(Role::Manager))
        .language(Language::En)
        .time_zone(MOSCOW.name());
    match department {
        Some(name) => seed.department_named(name),
        None => seed.department(None),
    }
    .insert(db)
    .await
}

/// Twenty days ahead (the default cadence is 14), at 12:00 Moscow: after
/// the default 09:00 report time.
fn report_day_noon() -> DateTime<Utc> {
    let day = Clock::system().now().with_timezone(&MOSCOW).date_naive() + Days::new(20);
    day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap())
        .and_local_timezone(MOSCOW)
        .unwrap()
        .with_timezone(&Utc)
}

async fn overdue_report(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    let db = stack.db.db.clone();
    let ada = Person::new(&stack, 7001, "Ada", "en").with_chat();
    let admin = SeedUser::new(7001, "Ada", "Admin")
        .role(Some(Role::Owner))
        .admin(true)
        .language(Language::En)
        .time_zone(MOSCOW.name())
        .department_named("IT")
        .insert(&db)
        .await;
    manager(&db, 801, "Ivan", Some("IT")).await;
    manager(&db, 802, "Oleg", None).await;
    let petr = manager(&db, 803, "Petr", Some("HR")).await;
    let vera = manager(&db, 804, "Vera", Some("HR")).await;
    let now = Clock::system().now();
    let vera_id = vera.id;
    db.write(move |c| {
        shared::db::users::set_work_status(c, vera_id, WorkStatus::Vacation, None, now)
    })
    .await
    .unwrap();
    // Petr has a meeting after the report day: never overdue.
    let at = report_day_noon();
    let starts_at = at + TimeDelta::days(2);
    let booking = NewBooking {
        manager: petr.id,
        owners: vec![admin.id],
        starts_at,
        ends_at: starts_at + TimeDelta::hours(1),
        mode: BookingMode::Single,
        period_key: period_key(starts_at, LimitPeriod::Week, MOSCOW),
        limit: 1,
        reminder_offsets: Vec::new(),
        correlation_id: None,
    };
    db.write(move |c| {
        meetings::book(c, &booking, now).map_err(|e| match e {
            shared::domain::booking::BookingError::Db(e) => e,
            other => panic!("{other:?}"),
        })
    })
    .await
    .unwrap();

    clock::write_offset(&stack.clock_file(), at - Clock::system().now()).unwrap();
    stack.start_worker().await;
    stack.start_worker().await;
    let report = ada.gets_after(0, "Overdue managers").await;
    for expected in [
        "2 manager(s) are past their meeting cadence",
        "IT",
        "• Ivan Test — due",
        "No department",
        "• Oleg Test — due",
        "6 day(s) overdue",
    ] {
        assert!(
            report.text.contains(expected),
            "{expected}: {}",
            report.text
        );
    }
    for absent in ["Petr", "Vera"] {
        assert!(!report.text.contains(absent), "{absent}: {}", report.text);
    }
    // Later ticks and the second worker send nothing more.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(ada.messages_with("Overdue managers").len(), 1);
    let claims: i64 = db
        .read(|c| {
            Ok(periodic_runs::table
                .filter(periodic_runs::name.eq("overdue-report"))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(claims, 1);
}

on_both_backends!(overdue_report);
