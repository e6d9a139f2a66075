//! The admin panel through the real binaries, on both databases.
//!
//! Two scenarios, each in one deployment with people seeded straight into
//! the database: users (pending list, list paging and filters, card actions
//! with menus and notices, the last-admin rule, the audit log, forged and
//! outdated presses), and departments, booking settings and statistics
//! (bad input of every kind, repeated presses, meetings counted per
//! department and period).

use chrono::{DateTime, TimeDelta, Utc};
use diesel::prelude::*;
use shared::clock::Clock;
use shared::db::audit::{self, AuditEntry};
use shared::db::departments::{self, Department};
use shared::db::types::{DepartmentId, TelegramId, UserId, UtcTime};
use shared::db::users::{self, User};
use shared::db::{Db, booking_settings, dialogues, schema, stats};
use shared::domain::period::{calendar_month, iso_week};
use shared::domain::settings::{BookingMode, BookingSettings};
use shared::domain::user::{Role, Status};
use testkit::db::TestDb;
use testkit::people::{Person, menu};
use testkit::records::{self, SeedUser};
use testkit::stack::{Stack, StackConfig};

const STALE: &str = "This menu is out of date.";
const NOT_ALLOWED: &str = "You are not allowed to do that.";

/// What a refused action must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<User>,
    departments: Vec<Department>,
    settings: BookingSettings,
    audit_rows: i64,
    dialogues: i64,
}

async fn snapshot(db: &Db) -> Snapshot {
    db.read(|c| {
        let users = schema::users::table
            .order(schema::users::id)
            .select(User::as_select())
            .load(c)?;
        Ok(Snapshot {
            users,
            departments: departments::list_all(c)?,
            settings: booking_settings::get(c)?,
            audit_rows: schema::audit_log::table.count().get_result(c)?,
            dialogues: schema::dialogue_states::table.count().get_result(c)?,
        })
    })
    .await
    .unwrap()
}

async fn user(db: &Db, telegram_id: i64) -> User {
    records::user(db, telegram_id)
        .await
        .expect("the user exists")
}

/// The audit rows about a user, oldest first: `(action, data)`.
async fn actions(db: &Db, id: UserId) -> Vec<(String, serde_json::Value)> {
    records::audit_trail(db, id)
        .await
        .into_iter()
        .filter(|r| r.target_user_id == Some(id))
        .map(|r| {
            let data = r.data_json();
            (r.action, data)
        })
        .collect()
}

/// Audit rows about anything but users, oldest first: `(action, target, data)`.
async fn object_actions(db: &Db) -> Vec<(String, String, serde_json::Value)> {
    db.read(|c| {
        let rows: Vec<(String, Option<String>, String)> = schema::audit_log::table
            .filter(schema::audit_log::target.is_not_null())
            .order(schema::audit_log::id)
            .select((
                schema::audit_log::action,
                schema::audit_log::target,
                schema::audit_log::data,
            ))
            .load(c)?;
        Ok(rows
            .into_iter()
            .map(|(action, target, data)| {
                (
                    action,
                    target.unwrap_or_default(),
                    serde_json::from_str(&data).unwrap(),
                )
            })
            .collect())
    })
    .await
    .unwrap()
}

async fn department_id(db: &Db, name: &str) -> DepartmentId {
    db.read(departments::list_all)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("department {name}"))
        .id
}

/// Seeds a user; a pending one gets an application on record (the round
/// the approve/reject buttons name).
#[expect(clippy::too_many_arguments, reason = "a seed row, field by field")]
async fn seed(
    db: &Db,
    telegram_id: i64,
    first: &str,
    last: &str,
    department: Option<DepartmentId>,
    status: Status,
    role: Option<Role>,
    is_admin: bool,
) -> User {
    let seed = SeedUser::new(telegram_id, first, last)
        .username(&format!("{}_{telegram_id}", first.to_lowercase()))
        .department(department)
        .status(status)
        .role(role)
        .admin(is_admin);
    db.write(move |c| {
        let user = seed.insert_with(c)?;
        if status == Status::Pending {
            audit::record(
                c,
                &AuditEntry {
                    actor: Some(user.id),
                    actor_telegram_id: Some(user.telegram_id),
                    action: users::APPLICATION_ACTION,
                    target_user: Some(user.id),
                    target: None,
                    data: serde_json::json!({}),
                    correlation_id: None,
                },
                user.created_at,
            )?;
        }
        Ok(user)
    })
    .await
    .unwrap()
}

/// The pending list, paging and filters, every card action with the
/// target's menu and notice, a removal with confirmation, the last-admin
/// rule, the audit log, and forged or outdated presses changing nothing.
async fn users_roles_and_the_last_admin(db: TestDb) {
    let mut stack = Stack::new(
        db,
        StackConfig {
            admins: vec![7101],
            ..StackConfig::default()
        },
    )
    .await;
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let it = department_id(&db, "IT").await;
    let hr = department_id(&db, "HR").await;
    let ada_row = seed(
        &db,
        7101,
        "Ada",
        "Admin",
        Some(it),
        Status::Active,
        Some(Role::Owner),
        true,
    )
    .await;
    let bob_row = seed(
        &db,
        7102,
        "Bob",
        "Builder",
        Some(it),
        Status::Active,
        Some(Role::Manager),
        false,
    )
    .await;
    let pete_row = seed(
        &db,
        7104,
        "Pete",
        "Pending",
        Some(hr),
        Status::Pending,
        None,
        false,
    )
    .await;
    let rick_row = seed(
        &db,
        7105,
        "Rick",
        "Removed",
        Some(hr),
        Status::Removed,
        Some(Role::Manager),
        false,
    )
    .await;
    for n in 0..8 {
        seed(
            &db,
            7200 + n,
            "Many",
            &format!("Manager{n}"),
            Some(hr),
            Status::Active,
            Some(Role::Manager),
            false,
        )
        .await;
    }
    let ada = Person::new(&stack, 7101, "User7101", "en").with_chat();
    let bob = Person::new(&stack, 7102, "User7102", "en").with_chat();
    let pete = Person::new(&stack, 7104, "User7104", "en").with_chat();

    // Only active admins get the panel.
    bob.says("/admin", "for administrators only").await;
    let panel = ada.says("/admin", "Administration").await;
    assert!(
        panel.text.contains("waiting for a decision: 1"),
        "{}",
        panel.text
    );

    // Pending: approved from the list; the list is shown again in place.
    let (list, _) = ada
        .presses_button(
            "📝 Pending applications (1)",
            "Pete Pending (@pete_7104), HR",
        )
        .await;
    let approve = list.callback_data("✅ Pete Pending").unwrap().to_owned();
    let (_, toast) = ada
        .presses(list.message_id, &approve, "No applications are waiting")
        .await;
    assert_eq!(toast.as_deref(), Some("Approved"));
    ada.gets_after(list.message_id, "You approved Pete Pending")
        .await;
    let pete_now = user(&db, 7104).await;
    assert_eq!(
        (pete_now.status, pete_now.role),
        (Status::Active, Some(Role::Manager))
    );
    pete.gets_after(0, "Your request has been approved").await;
    menu(&stack.telegram, 7104, |m| m.contains(&"schedule")).await;

    // The user list: 12 users, two pages; filters narrow it down.
    ada.presses_button("⬅️ Back", "Administration").await;
    let (page_one, _) = ada
        .presses_button("👥 Users", "12 found, page 1 of 2")
        .await;
    // 8 users, Next, the role and status filters, the department, Back.
    assert_eq!(page_one.buttons.len(), 8 + 4, "{:?}", page_one.buttons);
    assert!(
        page_one.callback_data("⛔ Rick Removed").is_some(),
        "{page_one:?}"
    );
    assert!(
        page_one.callback_data("👑 Ada Admin 🛡").is_some(),
        "{page_one:?}"
    );
    let (page_two, _) = ada.presses_button("Next ▶️", "page 2 of 2").await;
    assert!(
        page_two.callback_data("👤 Many Manager7").is_some(),
        "{page_two:?}"
    );
    assert!(
        page_two.callback_data("◀️ Previous").is_some(),
        "{page_two:?}"
    );
    ada.presses_button("Role: any 🔄", "Role: manager · Status: any")
        .await;
    let (pending_managers, _) = ada
        .presses_button("Status: any 🔄", "Status: pending")
        .await;
    assert!(
        pending_managers.text.contains("0 found"),
        "{}",
        pending_managers.text
    );
    assert!(
        pending_managers.text.contains("Nobody matches"),
        "{}",
        pending_managers.text
    );
    ada.presses_button("Status: pending 🔄", "Status: active")
        .await;
    ada.presses_button("Department: any ▾", "which department")
        .await;
    let (it_managers, _) = ada.presses_button("IT", "Department: IT").await;
    assert!(it_managers.text.contains("1 found"), "{}", it_managers.text);

    // Bob's card; promote: his menu and his notice follow.
    let (card, _) = ada.presses_button("👤 Bob Builder", "Bob Builder").await;
    for expected in [
        "@bob_7102",
        "Department: IT",
        "Role: manager",
        "Administrator: no",
        "Status: active",
        "Work status: working",
        "Language: English",
        "Time zone: Europe/Moscow",
    ] {
        assert!(card.text.contains(expected), "{expected}: {}", card.text);
    }
    let promote = card.callback_data("⬆️ Make owner").unwrap().to_owned();
    let (card, toast) = ada
        .presses(card.message_id, &promote, "Bob Builder is an owner now")
        .await;
    assert_eq!(toast.as_deref(), Some("Done"));
    assert!(card.text.contains("Role: owner"), "{}", card.text);
    assert_eq!(user(&db, 7102).await.role, Some(Role::Owner));
    bob.gets_after(0, "made you an owner").await;
    menu(&stack.telegram, 7102, |m| {
        m.contains(&"availability") && !m.contains(&"schedule")
    })
    .await;

    // The same press again (a double tap, an old card): nothing changes.
    let before = snapshot(&db).await;
    let (_, toast) = ada
        .presses(card.message_id, &promote, "This menu was out of date")
        .await;
    assert_eq!(toast.as_deref(), Some(STALE));
    assert_eq!(snapshot(&db).await, before);

    // Demote, grant and revoke the admin flag.
    ada.presses_button("⬇️ Make manager", "Bob Builder is a manager now")
        .await;
    bob.gets_after(0, "made you a manager").await;
    menu(&stack.telegram, 7102, |m| m.contains(&"schedule")).await;
    ada.presses_button(
        "🛡 Make administrator",
        "Bob Builder is an administrator now",
    )
    .await;
    bob.gets_after(0, "You are an administrator now").await;
    menu(&stack.telegram, 7102, |m| m.contains(&"admin")).await;
    ada.presses_button(
        "🚫 Revoke administrator",
        "Bob Builder is not an administrator",
    )
    .await;
    bob.gets_after(0, "administrator rights were withdrawn")
        .await;
    menu(&stack.telegram, 7102, |m| {
        m.contains(&"schedule") && !m.contains(&"admin")
    })
    .await;

    // Forged presses by a manager, garbage and unknown targets from the
    // admin, actions on a removed user: refused, nothing changes.
    let before = snapshot(&db).await;
    let own = format!("adm:do:pr:{}:___:0", bob_row.id);
    for data in ["adm:home", own.as_str(), "adm:do:ga:7102:___:0", "adm:set"] {
        assert_eq!(
            bob.forges(data).await.as_deref(),
            Some(NOT_ALLOWED),
            "{data}"
        );
    }
    let on_rick = |action: &str| format!("adm:do:{action}:{}:___:0", rick_row.id);
    for data in [
        "adm:zzz".to_owned(),
        "adm:do:pr:999999:___:0".to_owned(),
        format!("adm:do:pr:{}:___:0:1", bob_row.id),
        format!("adm:do:pr:0{}:___:0", bob_row.id),
        format!("adm:u:{}:___:0{}", bob_row.id, "0".repeat(60)),
        "adm:".to_owned(),
    ] {
        assert_eq!(ada.forges(&data).await.as_deref(), Some(STALE), "{data}");
    }
    for action in ["pr", "de", "ga", "ra", "rm", "rx"] {
        assert_eq!(
            ada.forges(&on_rick(action)).await.as_deref(),
            Some(STALE),
            "{action}"
        );
    }
    assert_eq!(snapshot(&db).await, before);

    // The last admin cannot step down or remove themselves.
    let on_ada = |action: &str| format!("adm:do:{action}:{}:___:0", ada_row.id);
    let (reply, toast) = ada
        .presses(
            ada.last_message_id(),
            &on_ada("ra"),
            "only active administrator",
        )
        .await;
    assert!(reply.text.contains("Ada Admin"), "{}", reply.text);
    assert_eq!(toast.as_deref(), Some("You are the last administrator"));
    for action in ["rm", "rx"] {
        let toast = ada.forges(&on_ada(action)).await;
        assert_eq!(toast.as_deref(), Some("You are the last administrator"));
    }
    assert_eq!(snapshot(&db).await, before);

    // Removal asks first; the removed user is told, loses the menu and
    // their dialogue.
    db.write(|c| {
        dialogues::save(
            c,
            TelegramId(7102),
            &serde_json::json!({"profile": "email"}),
            Clock::system().now(),
        )
    })
    .await
    .unwrap();
    let card_data = format!("adm:u:{}:___:0", bob_row.id);
    ada.presses(ada.last_message_id(), &card_data, "Bob Builder")
        .await;
    ada.presses_button("⛔ Remove", "Remove Bob Builder?").await;
    let (removed, _) = ada
        .presses_button("⛔ Yes, remove", "Bob Builder was removed")
        .await;
    assert!(removed.text.contains("Status: removed"), "{}", removed.text);
    assert!(removed.callback_data("⛔ Remove").is_none());
    assert_eq!(user(&db, 7102).await.status, Status::Removed);
    bob.gets_after(0, "access to the bot was removed").await;
    menu(&stack.telegram, 7102, |m| m == ["start"]).await;
    let dialogue = db
        .read(|c| dialogues::load::<serde_json::Value>(c, TelegramId(7102)))
        .await
        .unwrap();
    assert_eq!(dialogue, None);
    let bob_actions: Vec<String> = actions(&db, bob_row.id)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        bob_actions,
        [
            "user.promoted",
            "user.demoted",
            "user.admin_granted",
            "user.admin_revoked",
            "user.removed"
        ]
    );
    let pete_actions: Vec<String> = actions(&db, pete_row.id)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(pete_actions, ["user.registered", "user.approved"]);

    // The audit log, newest first, in the admin's zone.
    let (log, _) = ada
        .presses_button("📜 Audit log", "Audit log: Bob Builder")
        .await;
    assert!(
        log.text.contains("page 1 of 1 (times in Europe/Moscow)"),
        "{}",
        log.text
    );
    let newest = log.text.find("user.removed").expect("removal logged");
    let oldest = log.text.find("user.promoted").expect("promotion logged");
    assert!(newest < oldest, "{}", log.text);
    assert!(log.text.contains("Ada Admin"), "{}", log.text);
    assert!(
        log.text.contains(r#"{"from":"manager","to":"owner"}"#),
        "{}",
        log.text
    );

    // With a second admin, the first may step down; her panel closes.
    let card_data = format!("adm:u:{}:___:0", pete_row.id);
    ada.presses(ada.last_message_id(), &card_data, "Pete Pending")
        .await;
    ada.presses_button(
        "🛡 Make administrator",
        "Pete Pending is an administrator now",
    )
    .await;
    let card_data = format!("adm:u:{}:___:0", ada_row.id);
    ada.presses(ada.last_message_id(), &card_data, "Ada Admin")
        .await;
    ada.presses_button(
        "🚫 Revoke administrator",
        "not an administrator any more; the panel is closed",
    )
    .await;
    menu(&stack.telegram, 7101, |m| {
        !m.contains(&"admin") && m.contains(&"availability")
    })
    .await;
    ada.says("/admin", "for administrators only").await;
    assert_eq!(ada.forges("adm:home").await.as_deref(), Some(NOT_ALLOWED));
    stack.assert_no_secret_in_logs();
}

/// Inserts a meeting booked by `manager` at `starts_at`.
async fn meeting(db: &Db, manager: UserId, starts_at: DateTime<Utc>, status: &'static str) {
    db.write(move |c| {
        use schema::meetings as m;
        let now = UtcTime::from(Clock::system().now());
        let cancelled_at = (status == "cancelled").then_some(now);
        diesel::insert_into(m::table)
            .values((
                m::manager_id.eq(manager),
                m::mode.eq("single"),
                m::starts_at.eq(UtcTime::from(starts_at)),
                m::ends_at.eq(UtcTime::from(starts_at + TimeDelta::hours(1))),
                m::status.eq(status),
                m::period_key.eq("test"),
                m::sync_state.eq("synced"),
                m::cancelled_at.eq(cancelled_at),
                m::created_at.eq(now),
                m::updated_at.eq(now),
            ))
            .execute(c)?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Departments (add with bad names of every kind, rename, retire and
/// restore), booking settings (bad values refused, choices, /cancel) and
/// statistics counted from meeting rows.
async fn departments_settings_and_statistics(db: TestDb) {
    let mut stack = Stack::new(
        db,
        StackConfig {
            admins: vec![7301],
            ..StackConfig::default()
        },
    )
    .await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let it = department_id(&db, "IT").await;
    let hr = department_id(&db, "HR").await;
    seed(
        &db,
        7301,
        "Grace",
        "Admin",
        Some(it),
        Status::Active,
        Some(Role::Owner),
        true,
    )
    .await;
    let it_manager = seed(
        &db,
        7302,
        "Ivan",
        "It",
        Some(it),
        Status::Active,
        Some(Role::Manager),
        false,
    )
    .await;
    let hr_manager = seed(
        &db,
        7303,
        "Hana",
        "Hr",
        Some(hr),
        Status::Active,
        Some(Role::Manager),
        false,
    )
    .await;
    let admin = Person::new(&stack, 7301, "User7301", "en").with_chat();

    // Adding a department: bad names are refused with the reason and the
    // question stays; an odd but valid name is kept as typed.
    admin.says("/admin", "Administration").await;
    admin.presses_button("🏢 Departments", "Departments").await;
    admin
        .presses_button("➕ Add department", "name of the new department")
        .await;
    let before = snapshot(&db).await;
    for (typed, reason) in [
        ("   ", "cannot be empty"),
        ("\u{200B}\u{200F}", "cannot be empty"),
        (&"x".repeat(5_000), "too long: 5000 characters, at most 64"),
        ("Line\nbreak", "one line"),
        ("it", "already exists"),
        ("  GAMEDEV ", "already exists"),
    ] {
        let reply = admin.says(typed, reason).await;
        assert!(reply.text.contains("Send another name"), "{}", reply.text);
    }
    assert_eq!(snapshot(&db).await, before);
    let odd = "<b>R&D</b> 🚀 قسم";
    let added = admin.says(odd, "added").await;
    assert!(
        added.text.contains(&format!("Department {odd} added")),
        "{}",
        added.text
    );
    assert!(
        added.source.contains("&lt;b&gt;R&amp;D&lt;/b&gt;"),
        "{}",
        added.source
    );

    // Rename, retire (twice: the second press is outdated), restore.
    let (card, _) = admin.presses_button(odd, "offered at registration").await;
    admin
        .presses(
            card.message_id,
            card.callback_data("✏️ Rename").unwrap(),
            "Send the new name",
        )
        .await;
    admin.says("Hr", "already exists").await;
    admin.says("Legal  Team", "Renamed to Legal Team").await;
    let legal = department_id(&db, "Legal Team").await;
    let (card, toast) = admin
        .presses_button("🗄 Retire", "Legal Team is retired")
        .await;
    assert_eq!(toast.as_deref(), Some("Done"));
    let retired = db
        .read(move |c| departments::find(c, legal))
        .await
        .unwrap()
        .unwrap();
    assert!(retired.retired_at.is_some());
    let before = snapshot(&db).await;
    let retire = format!("adm:dret:{legal}");
    let (_, toast) = admin
        .presses(card.message_id, &retire, "This menu was out of date")
        .await;
    assert_eq!(toast.as_deref(), Some(STALE));
    assert_eq!(snapshot(&db).await, before);
    admin
        .presses_button("♻️ Restore", "offered at registration again")
        .await;
    let restored = db
        .read(move |c| departments::find(c, legal))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restored.retired_at, None);
    let department_actions: Vec<(String, String)> = object_actions(&db)
        .await
        .into_iter()
        .map(|(action, target, _)| (action, target))
        .collect();
    let target = format!("department:{legal}");
    assert_eq!(
        department_actions,
        [
            ("department.added".to_owned(), target.clone()),
            ("department.renamed".to_owned(), target.clone()),
            ("department.retired".to_owned(), target.clone()),
            ("department.restored".to_owned(), target),
        ]
    );

    // Booking settings: bad values are refused with a reason and change
    // nothing; good ones are stored and audited with old and new values.
    admin.presses_button("⬅️ Back", "Departments").await;
    admin.presses_button("⬅️ Back", "Administration").await;
    let (screen, _) = admin
        .presses_button("⚙️ Booking settings", "Booking horizon: 14 days")
        .await;
    for expected in [
        "Minimum notice: 2 h",
        "Weekends: off",
        "Limit: 1 per week",
        "Mode: single",
        "every 14 days",
        "Reminders before a meeting: 1 d, 1 h",
        "Overdue report at: 09:00",
    ] {
        assert!(
            screen.text.contains(expected),
            "{expected}: {}",
            screen.text
        );
    }
    admin.presses_button("Horizon", "How many days ahead").await;
    let before = snapshot(&db).await;
    for (typed, reason) in [
        ("0", "from 1 to 365"),
        ("366", "from 1 to 365"),
        ("abc", "not a whole number"),
        (&"9".repeat(5_000), "not a whole number"),
        ("😀", "not a whole number"),
        ("<b>7</b>", "not a whole number"),
        ("٣٠", "not a whole number"),
    ] {
        let reply = admin.says(typed, reason).await;
        assert!(reply.text.contains("Send another value"), "{}", reply.text);
    }
    assert_eq!(snapshot(&db).await, before);
    admin.says("30", "Booking horizon: 30 days").await;
    admin.presses_button("Minimum notice", "How soon").await;
    admin.says("2", "not a duration").await;
    admin.says("1h 30m", "Minimum notice: 1 h 30 min").await;
    admin
        .presses_button("Reminders", "When before a meeting")
        .await;
    admin.says("1h,2h,3h,4h,5h,6h", "At most 5 reminders").await;
    admin
        .says(
            "24h, 15m, 1h",
            "Reminders before a meeting: 1 d, 1 h, 15 min",
        )
        .await;
    admin
        .presses_button("Overdue report time", "daily overdue report")
        .await;
    admin.says("25:00", "not a time of day").await;
    admin.says("/cancel", "Cancelled.").await;
    admin.says("08:30", "I did not understand").await;
    admin
        .presses_button("⬅️ Back", "Booking horizon: 30 days")
        .await;
    let (screen, _) = admin.presses_button("Allow weekends", "Weekends: on").await;
    let before = snapshot(&db).await;
    let (_, toast) = admin
        .presses(
            screen.message_id,
            "adm:sv:we:1",
            "This menu was out of date",
        )
        .await;
    assert_eq!(toast.as_deref(), Some(STALE));
    assert_eq!(snapshot(&db).await, before);
    admin
        .presses_button("Switch to collective mode", "Mode: collective")
        .await;
    let settings = db.read(booking_settings::get).await.unwrap();
    assert_eq!(settings.horizon_days, 30);
    assert_eq!(settings.min_notice, TimeDelta::minutes(90));
    assert_eq!(
        settings.reminder_offsets,
        [
            TimeDelta::hours(24),
            TimeDelta::hours(1),
            TimeDelta::minutes(15)
        ]
    );
    assert!(settings.weekends_enabled);
    assert_eq!(settings.mode, BookingMode::Collective);
    assert_eq!(
        settings.overdue_report_at,
        chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap()
    );
    let changes: Vec<serde_json::Value> = object_actions(&db)
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "settings.changed")
        .map(|(_, _, data)| data)
        .collect();
    assert_eq!(
        changes,
        [
            serde_json::json!({"field": "horizon_days", "old": 14, "new": 30}),
            serde_json::json!({"field": "min_notice", "old": 120, "new": 90}),
            serde_json::json!({"field": "reminder_offsets", "old": [1440, 60], "new": [1440, 60, 15]}),
            serde_json::json!({"field": "weekends_enabled", "old": false, "new": true}),
            serde_json::json!({"field": "mode", "old": "single", "new": "collective"}),
        ]
    );

    // Statistics from meeting rows: this week and month in the company
    // zone; a meeting of the previous month is not counted.
    let now = Clock::system().now();
    let zone = chrono_tz::Europe::Moscow;
    let (week, month) = (iso_week(now, &zone), calendar_month(now, &zone));
    let inside = week.from.max(month.from) + TimeDelta::hours(1);
    for status in ["scheduled", "completed", "cancelled"] {
        meeting(&db, it_manager.id, inside, status).await;
    }
    meeting(&db, hr_manager.id, inside, "no_show").await;
    meeting(
        &db,
        hr_manager.id,
        month.from - TimeDelta::days(1),
        "completed",
    )
    .await;
    let counted = db
        .read(move |c| stats::meetings_per_department(c, week.from, week.to))
        .await
        .unwrap();
    assert_eq!(counted.len(), 2, "{counted:?}");
    admin.presses_button("⬅️ Back", "Administration").await;
    let (report, _) = admin.presses_button("📊 Statistics", "Statistics").await;
    for (expected, times) in [
        ("Users: 3", 1),
        ("managers 2, owners 1, administrators 1", 1),
        (
            "IT: 3 (scheduled 1, completed 1, cancelled 1, no-show 0)",
            2,
        ),
        (
            "HR: 1 (scheduled 0, completed 0, cancelled 0, no-show 1)",
            2,
        ),
        (
            "All departments: 4 (scheduled 1, completed 1, cancelled 1, no-show 1)",
            2,
        ),
    ] {
        assert_eq!(
            report.text.matches(expected).count(),
            times,
            "{expected}: {}",
            report.text
        );
    }
    stack.assert_no_secret_in_logs();
}

on_both_backends!(
    users_roles_and_the_last_admin,
    departments_settings_and_statistics
);
