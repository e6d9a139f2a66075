//! Registration and approval through the real binaries, on both databases.
//!
//! Two scenarios, each with several people in one deployment: the happy
//! paths (bootstrap admin, approval from the notification, rejection and a
//! new application), and everything that must not work or must not break
//! (bad names, commands and /cancel mid-dialogue, forged and stale buttons,
//! a removed user, a bot restart in the middle of a registration).

use diesel::prelude::*;
use shared::clock::Clock;
use shared::db::departments;
use shared::db::schema;
use shared::db::types::TelegramId;
use shared::db::users::{self, NewUser, User};
use shared::db::{Db, dialogues};
use shared::domain::user::{Language, Role, Status};
use testkit::db::TestDb;
use testkit::people::{Person, menu};
use testkit::records::{audit_actions, user};
use testkit::stack::{Stack, StackConfig};

/// What a refused action must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<User>,
    audit_rows: i64,
    dialogues: i64,
}

async fn snapshot(db: &Db) -> Snapshot {
    db.read(|c| {
        let users = schema::users::table
            .order(schema::users::id)
            .select(User::as_select())
            .load(c)?;
        let audit_rows = schema::audit_log::table.count().get_result(c)?;
        let dialogues = schema::dialogue_states::table.count().get_result(c)?;
        Ok(Snapshot {
            users,
            audit_rows,
            dialogues,
        })
    })
    .await
    .unwrap()
}

async fn department_name(db: &Db, user: &User) -> String {
    let id = user.department_id.expect("a department");
    db.read(move |c| departments::find(c, id))
        .await
        .unwrap()
        .expect("the department exists")
        .name
}

/// A bootstrap admin registers and becomes an active owner and admin; an
/// applicant is approved from the notification; a second press changes
/// nothing; a rejected applicant applies again, the old buttons are stale,
/// the new ones work. (People act concurrently where nothing is compared.)
async fn approval_from_the_notification_rejection_and_a_new_application(db: TestDb) {
    let mut stack = Stack::new(
        db,
        StackConfig {
            admins: vec![7001],
            ..StackConfig::default()
        },
    )
    .await;
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let ada = Person::new(&stack, 7001, "Ada", "ru");
    let anna = Person::new(&stack, 101, "Anna", "en");
    let _ = anna.user.clone().username("anna");
    let boris = Person::new(&stack, 102, "Boris", "ru");

    // The bootstrap admin skips approval.
    let ada_registers = async {
        ada.says("/start", "Вы указаны как администратор").await;
        ada.says("Ада", "фамилия").await;
        let question = ada.says("Лавлейс", "в каком вы отделе").await;
        assert!(question.text.contains("Ада Лавлейс"), "{}", question.text);
        assert!(question.callback_data("IT").is_some(), "{question:?}");
        ada.presses_button("Tech", "Добро пожаловать, Ада Лавлейс")
            .await;
    };
    // An applicant; names with emoji and HTML characters are shown as typed.
    let anna_applies = async {
        anna.says("/start", "What is your first name").await;
        anna.says("Anna 👩‍💻", "Thank you, Anna 👩‍💻").await;
        let question = anna.says(" <b>&*_[ ", "which department").await;
        assert!(
            question.text.contains("Anna 👩‍💻 <b>&*_[, which"),
            "{}",
            question.text
        );
        assert!(
            question.source.contains("&lt;b&gt;&amp;*_["),
            "escaped: {}",
            question.source
        );
        anna.presses_button("IT", "sent to the administrators")
            .await;
        anna.says("hello", "waiting for an administrator").await;
    };
    // Another one, with a right-to-left name.
    let boris_applies = async {
        boris.says("/start", "Здравствуйте, Boris").await;
        boris.registers("محمد", "Петров", "HR", "отправлена").await;
    };
    tokio::join!(ada_registers, anna_applies, boris_applies);

    let admin = user(&db, 7001).await.expect("the admin is stored");
    assert_eq!(
        (admin.status, admin.role, admin.is_admin),
        (Status::Active, Some(Role::Owner), true)
    );
    assert_eq!(admin.language, Language::Ru);
    assert_eq!(department_name(&db, &admin).await, "Tech");
    assert_eq!(audit_actions(&db, admin.id).await, ["user.bootstrap_admin"]);
    menu(&stack.telegram, 7001, |m| {
        m.contains(&"availability") && m.contains(&"admin") && !m.contains(&"schedule")
    })
    .await;
    let applicant = user(&db, 101).await.expect("the applicant is stored");
    assert_eq!((applicant.status, applicant.role), (Status::Pending, None));
    assert_eq!(
        (applicant.first_name.as_str(), applicant.last_name.as_str()),
        ("Anna 👩‍💻", "<b>&*_[")
    );
    assert_eq!(department_name(&db, &applicant).await, "IT");

    // The admin approves right in the request (delivered by the worker).
    let notice = ada.gets_after(0, "Anna 👩‍💻 <b>&*_[").await;
    for expected in ["Новая заявка", "@anna", "IT", "101"] {
        assert!(
            notice.text.contains(expected),
            "{expected}: {}",
            notice.text
        );
    }
    let approve = notice.callback_data("✅ Одобрить").unwrap().to_owned();
    let reject = notice.callback_data("❌ Отклонить").unwrap().to_owned();
    let (_, toast) = ada
        .presses(notice.message_id, &approve, "Вы одобрили заявку")
        .await;
    assert_eq!(toast.as_deref(), Some("Одобрено"));
    let approved = user(&db, 101).await.unwrap();
    assert_eq!(
        (approved.status, approved.role, approved.decided_by),
        (Status::Active, Some(Role::Manager), Some(admin.id))
    );
    assert_eq!(
        audit_actions(&db, approved.id).await,
        ["user.registered", "user.approved"]
    );
    menu(&stack.telegram, 101, |m| {
        m.contains(&"schedule") && !m.contains(&"admin")
    })
    .await;

    // The admin rejects the other request.
    let first_notice = ada.gets_after(0, "محمد Петров").await;
    let (old_approve, old_reject) = (
        first_notice
            .callback_data("✅ Одобрить")
            .unwrap()
            .to_owned(),
        first_notice
            .callback_data("❌ Отклонить")
            .unwrap()
            .to_owned(),
    );
    let (_, toast) = ada
        .presses(first_notice.message_id, &old_reject, "Вы отклонили заявку")
        .await;
    assert_eq!(toast.as_deref(), Some("Отклонено"));
    assert_eq!(user(&db, 102).await.unwrap().status, Status::Rejected);
    menu(&stack.telegram, 102, |m| {
        m == ["start", "help", "language", "cancel"]
    })
    .await;

    // Pressed twice, or the other button afterwards: nothing changes. The
    // applicants meanwhile read their news (which changes nothing either).
    let before = snapshot(&db).await;
    let presses_again = async {
        let (reply, toast) = ada
            .presses(notice.message_id, &approve, "уже есть решение")
            .await;
        assert!(
            reply.text.contains("одобрено, решил(а) Ада Лавлейс"),
            "{}",
            reply.text
        );
        assert_eq!(toast.as_deref(), Some("Решение уже принято"));
        // The notice already says so: the same text again is no edit, just
        // the toast.
        let update_id = ada.user.press(notice.message_id, &reject);
        assert_eq!(
            ada.toast(update_id).await.as_deref(),
            Some("Решение уже принято")
        );
    };
    let anna_reads = async {
        anna.gets_after(0, "Your request has been approved").await;
        anna.says("/start", "Welcome back, Anna 👩‍💻").await;
    };
    let boris_reads = async {
        boris.gets_after(0, "заявка на регистрацию отклонена").await;
        let again = boris.says("/start", "Вы можете подать её снова").await;
        assert!(again.callback_data("📝 Подать заявку снова").is_some());
    };
    tokio::join!(presses_again, anna_reads, boris_reads);
    assert_eq!(snapshot(&db).await, before);

    // A new application after the rejection.
    boris
        .presses_button("📝 Подать заявку снова", "Как вас")
        .await;
    boris
        .registers("Борис", "Петров", "Finance", "отправлена")
        .await;
    let reapplied = user(&db, 102).await.unwrap();
    assert_eq!(
        (
            reapplied.status,
            reapplied.first_name.as_str(),
            reapplied.decided_by
        ),
        (Status::Pending, "Борис", None)
    );
    assert_eq!(department_name(&db, &reapplied).await, "Finance");
    menu(&stack.telegram, 102, |m| m == ["start", "help"]).await;
    let second_notice = ada
        .gets_after(first_notice.message_id, "Борис Петров")
        .await;

    // The buttons of the first application are stale now.
    let before = snapshot(&db).await;
    let (_, toast) = ada
        .presses(first_notice.message_id, &old_approve, "С возвращением")
        .await;
    assert_eq!(toast.as_deref(), Some("Это меню устарело."));
    assert_eq!(snapshot(&db).await, before);

    let approve = second_notice.callback_data("✅ Одобрить").unwrap();
    ada.presses(second_notice.message_id, approve, "Вы одобрили заявку")
        .await;
    boris.gets_after(0, "Ваша заявка одобрена").await;
    let boris_row = user(&db, 102).await.unwrap();
    assert_eq!(
        (boris_row.status, boris_row.role),
        (Status::Active, Some(Role::Manager))
    );
    menu(&stack.telegram, 102, |m| m.contains(&"my_meetings")).await;
    assert_eq!(
        audit_actions(&db, boris_row.id).await,
        [
            "user.registered",
            "user.rejected",
            "user.registered",
            "user.approved"
        ]
    );
    stack.assert_no_secret_in_logs();
}

/// Bad names, commands and /cancel in the middle of the dialogue, forged
/// and stale buttons (all refused with the database unchanged), a removed
/// user, and a bot restart in the middle of a registration.
async fn bad_input_forged_buttons_and_a_restart_mid_dialogue(db: TestDb) {
    let mut stack = Stack::new(
        db,
        StackConfig {
            admins: vec![7002],
            ..StackConfig::default()
        },
    )
    .await;
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let removed = db
        .write(|c| {
            users::insert(
                c,
                &NewUser {
                    telegram_id: TelegramId(299),
                    username: None,
                    first_name: "Gone".to_owned(),
                    last_name: "User".to_owned(),
                    department_id: None,
                    status: Status::Removed,
                    role: Some(Role::Manager),
                    is_admin: false,
                    language: Language::En,
                    time_zone: "Europe/Moscow".to_owned(),
                },
                Clock::system().now(),
            )
        })
        .await
        .unwrap();
    let admin = Person::new(&stack, 7002, "Grace", "en");
    let _ = admin.user.clone().has_chat();
    let dan = Person::new(&stack, 202, "Dan", "en");
    let clara = Person::new(&stack, 201, "Clara", "en");
    let gone = Person::new(&stack, 299, "Gone", "en");
    let eve = Person::new(&stack, 203, "Eve", "en");

    // Bad names are re-asked with the reason; commands mid-dialogue are
    // answered and the dialogue goes on; /cancel leaves it.
    let dan_struggles = async {
        dan.says("/start", "What is your first name").await;
        for (typed, reason) in [
            ("   ", "cannot be empty"),
            ("\u{200B}\u{200F}", "cannot be empty"),
            (&"x".repeat(5_000), "too long: 5000 characters, at most 64"),
            ("Dan\nDan", "control characters"),
        ] {
            let reply = dan.says(typed, reason).await;
            assert!(
                reply.text.contains("What is your first name"),
                "{}",
                reply.text
            );
        }
        dan.says("Dan", "What is your last name").await;
        let after = dan.last_message_id();
        dan.user.send_text("/help");
        dan.gets_after(after, "register or see your status").await;
        let reminder = dan.gets_after(after, "middle of registration").await;
        assert!(
            reminder.text.contains("What is your last name"),
            "{}",
            reminder.text
        );
        let after = dan.last_message_id();
        dan.user.send_text("/schedule");
        dan.gets_after(after, "I did not understand").await;
        dan.gets_after(after, "middle of registration").await;
        dan.says("/start", "middle of registration").await;
        dan.says("/cancel", "Registration cancelled").await;
        dan.says("Smith", "register first").await;
        dan.says("/cancel", "nothing to cancel").await;
    };
    // A request reaches the bootstrap admin, who has not registered yet.
    let clara_applies = async {
        clara.says("/start", "What is your first name").await;
        clara
            .registers("Clara", "Stone", "HR", "sent to the administrators")
            .await;
        admin.gets_after(0, "Clara Stone").await
    };
    let others_start = async {
        let told = gone.says("/start", "access to the bot was removed").await;
        assert!(told.text.contains("cannot apply again"), "{}", told.text);
        gone.says("Gone", "access to the bot was removed").await;
        eve.says("/start", "What is your first name").await;
        eve.says("Eve", "What is your last name").await;
    };
    let ((), notice, ()) = tokio::join!(dan_struggles, clara_applies, others_start);
    assert_eq!(user(&db, 202).await, None);
    let stored = db
        .read(|c| dialogues::load::<serde_json::Value>(c, TelegramId(202)))
        .await
        .unwrap();
    assert_eq!(stored, None, "/cancel forgot the dialogue");

    // Refused, changing nothing: the unregistered admin deciding; a pending
    // user (who hears "awaiting approval" for anything) approving herself
    // or pressing foreign buttons; a removed user applying again.
    let approve = notice.callback_data("✅ Одобрить").unwrap().to_owned();
    let before = snapshot(&db).await;
    let admin_too_early = async {
        admin
            .presses(notice.message_id, &approve, "finish your own registration")
            .await;
    };
    let clara_forges = async {
        clara.says("hello", "waiting for an administrator").await;
        clara.says("/help", "waiting for an administrator").await;
        let message = clara.last_message_id();
        let (_, toast) = clara
            .presses(message, &approve, "waiting for an administrator")
            .await;
        assert_eq!(toast.as_deref(), Some("You are not allowed to do that."));
        for data in ["reg:dept:1", "reg:again", ""] {
            let (_, toast) = clara
                .presses(message, data, "waiting for an administrator")
                .await;
            assert_eq!(
                toast.as_deref(),
                Some("This menu is out of date."),
                "{data}"
            );
        }
    };
    let gone_reapplies = async {
        let (_, toast) = gone
            .presses(
                gone.last_message_id(),
                "reg:again",
                "access to the bot was removed",
            )
            .await;
        assert_eq!(toast.as_deref(), Some("This menu is out of date."));
    };
    tokio::join!(admin_too_early, clara_forges, gone_reapplies);
    assert_eq!(snapshot(&db).await, before);

    // The admin registers, then approves from the same message.
    admin.says("/start", "listed as an administrator").await;
    admin
        .registers(
            "Grace",
            "Hopper",
            "IT",
            "You are an owner and an administrator",
        )
        .await;
    admin
        .presses(notice.message_id, &approve, "You approved Clara Stone")
        .await;
    clara.gets_after(0, "approved").await;

    // Removed and unknown targets, garbage: stale, nothing changes.
    let before = snapshot(&db).await;
    for data in [
        format!("appr:{}:1", removed.id),
        format!("rej:{}:1", removed.id),
        "appr:999999:1".to_owned(),
        format!("appr:-{}:1", removed.id),
        format!("appr:{}:1{}", removed.id, "0".repeat(80)),
        "garbage".to_owned(),
    ] {
        let (_, toast) = admin
            .presses(notice.message_id, &data, "Welcome back, Grace")
            .await;
        assert_eq!(
            toast.as_deref(),
            Some("This menu is out of date."),
            "{data}"
        );
    }
    assert_eq!(snapshot(&db).await, before);

    // A restart in the middle of a registration continues it.
    assert!(stack.bot.as_mut().unwrap().terminate().await.success());
    stack.start_bot().await;
    let question = eve.says("Adams", "which department").await;
    assert!(question.text.contains("Eve Adams"), "{}", question.text);
    eve.says("IT", "with the buttons").await;

    // A department retired since the buttons were shown is asked again.
    db.write(|c| {
        let retired = departments::list_active(c)?
            .into_iter()
            .find(|d| d.name == "GameDev")
            .expect("seeded");
        departments::set_retired(c, retired.id, Some(Clock::system().now())).map_err(|e| match e {
            departments::DepartmentError::Db(e) => e,
            other => panic!("{other}"),
        })
    })
    .await
    .unwrap();
    let (asked_again, _) = eve
        .presses_button("GameDev", "not available any more")
        .await;
    assert!(asked_again.callback_data("GameDev").is_none());
    assert!(asked_again.callback_data("Pharma").is_some());
    let (pharma_message, pharma) = eve.button(|_| true, "Pharma");
    eve.presses(pharma_message, &pharma, "sent to the administrators")
        .await;
    let eve_row = user(&db, 203).await.unwrap();
    assert_eq!(eve_row.status, Status::Pending);
    assert_eq!(department_name(&db, &eve_row).await, "Pharma");
    admin.gets_after(notice.message_id, "Eve Adams").await;

    // The department button once more, after the registration: stale.
    let before = snapshot(&db).await;
    let (_, toast) = eve
        .presses(pharma_message, &pharma, "waiting for an administrator")
        .await;
    assert_eq!(toast.as_deref(), Some("This menu is out of date."));
    assert_eq!(snapshot(&db).await, before);
    stack.assert_no_secret_in_logs();
}

on_both_backends!(
    approval_from_the_notification_rejection_and_a_new_application,
    bad_input_forged_buttons_and_a_restart_mid_dialogue,
);
