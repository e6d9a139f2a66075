//! Self-service through the real binaries, on both databases: `/profile`
//! and every change in it (name, department, email, time zone, language,
//! work status),
//! `/language`, bad input, forged and repeated presses, and the worker
//! setting managers back to working when their absence is over, once,
//! with two workers running.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use diesel::prelude::*;
use shared::clock::{self, Clock};
use shared::db::audit::AuditRecord;
use shared::db::schema;
use shared::db::types::DepartmentId;
use shared::db::users::{self, User};
use shared::db::{Db, departments};
use shared::domain::profile::ProfileCallback;
use shared::domain::user::{Language, Role, Status, WorkStatus};
use testkit::db::TestDb;
use testkit::fake_telegram::{CommandScope, FakeTelegram};
use testkit::people::{Person, WAIT};
use testkit::records::{SeedUser, audit_actions, audit_trail, dialogue, user};
use testkit::stack::{Stack, StackConfig};

/// Stores an active user directly (registration has its own tests).
async fn seed(
    db: &Db,
    telegram_id: i64,
    (first_name, last_name): (&str, &str),
    status: Status,
    role: Option<Role>,
    language: Language,
    time_zone: &str,
) -> User {
    SeedUser::new(telegram_id, first_name, last_name)
        .status(status)
        .role(role)
        .language(language)
        .time_zone(time_zone)
        .department_named("IT")
        .insert(db)
        .await
}

/// What a refused action must leave untouched.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<User>,
    audit_rows: i64,
    dialogues: Vec<(i64, String)>,
}

async fn snapshot(db: &Db) -> Snapshot {
    db.read(|c| {
        let users = schema::users::table
            .order(schema::users::id)
            .select(User::as_select())
            .load(c)?;
        let audit_rows = schema::audit_log::table.count().get_result(c)?;
        let dialogues = schema::dialogue_states::table
            .order(schema::dialogue_states::telegram_id)
            .select((
                schema::dialogue_states::telegram_id,
                schema::dialogue_states::state,
            ))
            .load(c)?;
        Ok(Snapshot {
            users,
            audit_rows,
            dialogues,
        })
    })
    .await
    .unwrap()
}

/// Waits until the command menu of `chat` describes `/profile` as
/// `description`.
async fn menu_says(telegram: &FakeTelegram, chat: i64, description: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let commands = telegram
            .commands(&CommandScope::chat(chat), "")
            .unwrap_or_default();
        if commands
            .iter()
            .any(|c| c.command == "profile" && c.description == description)
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "menu of chat {chat}: {commands:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `DD.MM.YYYY`, as users type dates.
fn typed(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

fn today_in(zone: chrono_tz::Tz) -> NaiveDate {
    Clock::system().now().with_timezone(&zone).date_naive()
}

/// The profile and every change in it, with bad input re-asked and the
/// audit log following each change; the same button twice changes nothing
/// the second time; an owner has no work status.
async fn the_profile_and_every_change_in_it(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let anna_row = seed(
        &db,
        301,
        ("Anna", "Smith"),
        Status::Active,
        Some(Role::Manager),
        Language::En,
        "Europe/Moscow",
    )
    .await;
    let oleg_row = seed(
        &db,
        302,
        ("Олег", "Иванов"),
        Status::Active,
        Some(Role::Owner),
        Language::Ru,
        "Europe/Moscow",
    )
    .await;
    let anna = Person::new(&stack, 301, "Anna", "en");
    let oleg = Person::new(&stack, 302, "Олег", "ru");

    // The owner's profile has no work status; a forged status press is
    // refused and changes nothing. (Meanwhile Anna works on hers.)
    let oleg_looks = async {
        let profile = oleg.says("/profile", "Ваш профиль").await;
        for expected in [
            "Имя: Олег Иванов",
            "Роль: руководитель",
            "Отдел: IT",
            "Эл. почта: не указана",
            "Язык: Русский",
            "Часовой пояс: Europe/Moscow, UTC+3",
        ] {
            assert!(
                profile.text.contains(expected),
                "{expected}: {}",
                profile.text
            );
        }
        assert!(!profile.text.contains("Статус"), "{}", profile.text);
        assert!(profile.callback_data("📍 Статус").is_none());
        for data in ["prf:ws", "prf:ws:vacation", "prf:ws:open:sick_leave"] {
            let (_, toast) = oleg
                .presses(profile.message_id, data, "С возвращением")
                .await;
            assert_eq!(toast.as_deref(), Some("У вас нет прав на это действие."));
        }
    };

    // Anna's profile.
    let anna_email = async {
        let profile = anna.says("/profile", "Your profile").await;
        for expected in [
            "Name: Anna Smith",
            "Role: manager",
            "Department: IT",
            "Email: not set",
            "Language: English",
            "Time zone: Europe/Moscow, UTC+3 (now ",
            "Status: ✅ working",
        ] {
            assert!(
                profile.text.contains(expected),
                "{expected}: {}",
                profile.text
            );
        }

        // Email: bad addresses are explained and asked for again.
        let (asked, _) = anna
            .presses(
                profile.message_id,
                "prf:email",
                "Send me your email address",
            )
            .await;
        assert_eq!(asked.message_id, profile.message_id, "changes in place");
        assert!(asked.callback_data("🗑 Remove email").is_none());
        let long = format!("{}@example.com", "a".repeat(4_988));
        for (typed, reason) in [
            ("   ", "The address is empty"),
            (
                long.as_str(),
                "That is 5000 characters; an email address has at most 254",
            ),
            ("anna smith@example.com", "cannot contain spaces"),
            ("anna@@example.com", "exactly one @"),
            ("a@b@example.com", "exactly one @"),
            ("😀@example.com", "characters an email address cannot have"),
            (
                "محمد@example.com",
                "characters an email address cannot have",
            ),
            (
                "<b>anna</b>@example.com",
                "characters an email address cannot have",
            ),
            ("anna@localhost", "a domain with a dot"),
            ("@example.com", "Something must come before the @"),
        ] {
            let reply = anna.says(typed, reason).await;
            assert!(
                reply.text.contains("Please send the address again"),
                "{}",
                reply.text
            );
        }
        assert_eq!(user(&db, 301).await.unwrap().email, None);
        let saved = anna
            .says(
                "O'Brien&Co@Example.COM",
                "Email saved: O'Brien&Co@example.com",
            )
            .await;
        assert!(
            saved.source.contains("O'Brien&amp;Co@example.com"),
            "{}",
            saved.source
        );
        assert!(
            saved.text.contains("Email: O'Brien&Co@example.com"),
            "{}",
            saved.text
        );
        assert_eq!(
            user(&db, 301).await.unwrap().email.as_deref(),
            Some("O'Brien&Co@example.com")
        );
        assert_eq!(dialogue(&db, 301).await, None);

        // Removed again from the address question.
        let (asked, _) = anna
            .presses_button("✉️ Email", "Now: O'Brien&Co@example.com")
            .await;
        let (removed, toast) = anna
            .presses(asked.message_id, "prf:email:rm", "Email removed")
            .await;
        assert_eq!(toast.as_deref(), Some("Saved"));
        assert!(removed.text.contains("Email: not set"), "{}", removed.text);
        assert_eq!(user(&db, 301).await.unwrap().email, None);
        assert_eq!(
            dialogue(&db, 301).await,
            None,
            "a press leaves the question"
        );
        // The same button once more: nothing to remove.
        let toast = anna.presses_quietly(asked.message_id, "prf:email:rm").await;
        assert_eq!(toast.as_deref(), Some("Already so"));
    };
    tokio::join!(oleg_looks, anna_email);
    assert_eq!(user(&db, 302).await.as_ref(), Some(&oleg_row));
    assert!(audit_actions(&db, oleg_row.id).await.is_empty());
    assert_eq!(dialogue(&db, 302).await, None);

    // Time zone: from the list, then typed (a wrong name is explained).
    let (list, _) = anna.presses_button("🕒 Time zone", "Pick one below").await;
    assert!(
        list.callback_data("✓ 🏢 Moscow, UTC+3").is_some(),
        "{:?}",
        list.buttons
    );
    assert_eq!(
        list.callback_data("Dubai, UTC+4"),
        Some("prf:tz:set:Asia/Dubai")
    );
    let (dubai, toast) = anna
        .presses_button("Dubai, UTC+4", "Time zone: Asia/Dubai, UTC+4")
        .await;
    assert_eq!(toast.as_deref(), Some("Saved"));
    assert!(
        dubai.text.contains("Time zone: Asia/Dubai, UTC+4 (now "),
        "{}",
        dubai.text
    );
    assert_eq!(user(&db, 301).await.unwrap().time_zone, "Asia/Dubai");
    anna.presses_button("🕒 Time zone", "Pick one below").await;
    anna.presses_button("⌨️ Type a zone name", "Send the name of your time zone")
        .await;
    let wrong = anna
        .says(
            "Europe/Atlantis",
            "I do not know the time zone “Europe/Atlantis”",
        )
        .await;
    assert!(
        wrong.text.contains("or /cancel to keep Asia/Dubai"),
        "{}",
        wrong.text
    );
    let wrong = anna
        .says(&"<i>x</i>".repeat(700), "I do not know the time zone")
        .await;
    assert!(
        wrong.source.contains("&lt;i&gt;x&lt;/i&gt;"),
        "{}",
        wrong.source
    );
    assert!(
        wrong.text.chars().count() < 400,
        "quoted shortened: {}",
        wrong.text
    );
    assert_eq!(user(&db, 301).await.unwrap().time_zone, "Asia/Dubai");
    anna.says("asia/tokyo", "Time zone: Asia/Tokyo, UTC+9")
        .await;
    assert_eq!(user(&db, 301).await.unwrap().time_zone, "Asia/Tokyo");

    // Language: the answer and the menu switch; pressed twice, nothing more.
    let (choice, _) = anna.presses_button("🌐 Language", "Which language").await;
    assert!(
        choice.callback_data("✓ 🇬🇧 English").is_some(),
        "{:?}",
        choice.buttons
    );
    let russian = choice.callback_data("🇷🇺 Русский").unwrap().to_owned();
    let (switched, toast) = anna
        .presses(
            choice.message_id,
            &russian,
            "Теперь я говорю с вами по-русски",
        )
        .await;
    assert_eq!(toast.as_deref(), Some("Сохранено"));
    assert!(switched.text.contains("Язык: Русский"), "{}", switched.text);
    assert!(
        switched.text.contains("Статус: ✅ работаю"),
        "{}",
        switched.text
    );
    assert_eq!(user(&db, 301).await.unwrap().language, Language::Ru);
    menu_says(&stack.telegram, 301, "Ваш профиль").await;
    let audit_before = audit_trail(&db, anna_row.id).await.len();
    let toast = anna.presses_quietly(choice.message_id, &russian).await;
    assert_eq!(toast.as_deref(), Some("Уже так"));
    assert_eq!(audit_trail(&db, anna_row.id).await.len(), audit_before);
    anna.says("/help", "Команды").await;
    let choice = anna.says("/language", "На каком языке").await;
    assert!(
        choice.callback_data("« Назад").is_none(),
        "{:?}",
        choice.buttons
    );
    anna.presses_button("🇬🇧 English", "I speak English with you now")
        .await;
    menu_says(&stack.telegram, 301, "Your profile").await;

    // Work status: an absence with a last day (bad dates re-asked), back
    // to working, an absence without an end.
    let today = today_in(chrono_tz::Asia::Tokyo);
    let until = today + Days::new(3);
    anna.presses_button("📍 Status", "Your status: ✅ working")
        .await;
    let (asked, _) = anna.presses_button("🌴 Vacation", "until when?").await;
    assert!(asked.text.contains(&typed(today)), "{}", asked.text);
    for (text, reason) in [
        ("soon", "could not read a date"),
        ("31.02.2027", "no such day"),
        (typed(today - Days::new(1)).as_str(), "That day has passed"),
        (
            typed(today + Days::new(400)).as_str(),
            "more than a year ahead",
        ),
    ] {
        let reply = anna.says(text, reason).await;
        assert!(
            reply.text.contains("Please send the last day again"),
            "{}",
            reply.text
        );
    }
    assert_eq!(
        user(&db, 301).await.unwrap().work_status,
        WorkStatus::Working
    );
    let saved = anna
        .says(
            &until.format("%Y-%m-%d").to_string(),
            &format!("Status: 🌴 on vacation until {} inclusive", typed(until)),
        )
        .await;
    assert!(saved.text.contains("Your profile"), "{}", saved.text);
    let row = user(&db, 301).await.unwrap();
    assert_eq!(
        (row.work_status, row.work_status_until),
        (WorkStatus::Vacation, Some(until))
    );
    anna.presses_button("📍 Status", "Your status: 🌴 on vacation")
        .await;
    anna.presses_button("✅ Working", "Status: ✅ working")
        .await;
    let row = user(&db, 301).await.unwrap();
    assert_eq!(
        (row.work_status, row.work_status_until),
        (WorkStatus::Working, None)
    );
    anna.presses_button("📍 Status", "Your status: ✅ working")
        .await;
    anna.presses_button("🤒 Sick leave", "until when?").await;
    let (no_end_message, no_end) = anna.button(|_| true, "No end date");
    anna.presses(no_end_message, &no_end, "on sick leave, no end date")
        .await;
    let toast = anna.presses_quietly(no_end_message, &no_end).await;
    assert_eq!(toast.as_deref(), Some("Already so"));
    let row = user(&db, 301).await.unwrap();
    assert_eq!(
        (row.work_status, row.work_status_until),
        (WorkStatus::SickLeave, None)
    );

    let rows = audit_trail(&db, anna_row.id).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "profile.email_set",
            "profile.email_removed",
            "profile.time_zone_set",
            "profile.time_zone_set",
            "profile.language_set",
            "profile.language_set",
            "profile.work_status_set",
            "profile.work_status_set",
            "profile.work_status_set",
        ]
    );
    assert!(rows.iter().all(|r| r.actor_id == Some(anna_row.id)));
    assert_eq!(
        rows[0].data_json(),
        serde_json::json!({ "from": null, "to": "O'Brien&Co@example.com" })
    );
    assert_eq!(
        rows[2].data_json(),
        serde_json::json!({ "from": "Europe/Moscow", "to": "Asia/Dubai" })
    );
    assert_eq!(
        rows[4].data_json(),
        serde_json::json!({ "from": "en", "to": "ru" })
    );
    assert_eq!(
        rows[6].data_json(),
        serde_json::json!({
            "from": "working",
            "from_until": null,
            "to": "vacation",
            "until": until.format("%Y-%m-%d").to_string(),
        })
    );
    stack.assert_no_secret_in_logs();
}

/// A command in the middle of a question leaves it; forged `prf:` data
/// is refused and changes nothing; people without a profile get none but
/// may switch the language when they have a row; a guest is told why not.
async fn forged_presses_commands_mid_dialogue_and_people_without_a_profile(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    seed(
        &db,
        401,
        ("Anna", "Smith"),
        Status::Active,
        Some(Role::Manager),
        Language::En,
        "Europe/Moscow",
    )
    .await;
    seed(
        &db,
        402,
        ("Пётр", "Петров"),
        Status::Pending,
        None,
        Language::Ru,
        "Europe/Moscow",
    )
    .await;
    seed(
        &db,
        403,
        ("Gone", "User"),
        Status::Removed,
        Some(Role::Manager),
        Language::En,
        "Europe/Moscow",
    )
    .await;
    let anna = Person::new(&stack, 401, "Anna", "en");
    let petr = Person::new(&stack, 402, "Пётр", "ru");
    let gone = Person::new(&stack, 403, "Gone", "en");
    let guest = Person::new(&stack, 404, "Guest", "en");

    // A command while the email is asked for: answered, the question left.
    let profile = anna.says("/profile", "Your profile").await;
    anna.presses(
        profile.message_id,
        "prf:email",
        "Send me your email address",
    )
    .await;
    assert!(dialogue(&db, 401).await.is_some());
    anna.says("/help", "Commands").await;
    assert_eq!(dialogue(&db, 401).await, None);
    anna.says("anna@example.com", "I did not understand").await;
    assert_eq!(user(&db, 401).await.unwrap().email, None);
    // /cancel leaves a question too. (The message shows the question
    // already: the press changes no text, only the dialogue.)
    anna.presses_quietly(profile.message_id, "prf:email").await;
    assert!(dialogue(&db, 401).await.is_some());
    anna.says("/cancel", "Cancelled").await;
    assert_eq!(dialogue(&db, 401).await, None);

    // Forged data while a question waits: refused, nothing changes (the
    // question included).
    anna.presses(
        profile.message_id,
        "prf:tz:type",
        "Send the name of your time zone",
    )
    .await;
    let before = snapshot(&db).await;
    assert_eq!(before.dialogues.len(), 1);
    for data in [
        "prf:".to_owned(),
        "prf:menu:1".to_owned(),
        "prf:email:rm:401".to_owned(),
        "prf:ws:open:working".to_owned(),
        "prf:ws:holiday".to_owned(),
        "prf:tz:set:Mars/Olympus".to_owned(),
        "prf:tz:set:europe/moscow".to_owned(),
        "prf:lang:de".to_owned(),
        format!("prf:tz:set:{}", "A".repeat(80)),
    ] {
        let (_, toast) = anna
            .presses(profile.message_id, &data, "Welcome back, Anna")
            .await;
        assert_eq!(
            toast.as_deref(),
            Some("This menu is out of date."),
            "{data}"
        );
    }
    assert_eq!(snapshot(&db).await, before);
    anna.says("Europe/London", "Time zone: Europe/London").await;

    // A pending applicant has no profile but may switch the language; a
    // removed user may not; a guest is told to register first.
    let before = snapshot(&db).await;
    petr.says("/profile", "ждёт решения администратора").await;
    let (_, toast) = petr
        .presses(
            petr.last_message_id(),
            "prf:email",
            "ждёт решения администратора",
        )
        .await;
    assert_eq!(toast.as_deref(), Some("У вас нет прав на это действие."));
    gone.says("/language", "access to the bot was removed")
        .await;
    let (_, toast) = gone
        .presses(
            gone.last_message_id(),
            "prf:lang:ru",
            "access to the bot was removed",
        )
        .await;
    assert_eq!(toast.as_deref(), Some("You are not allowed to do that."));
    guest
        .says(
            "/language",
            "Until you register I speak the language of your Telegram app",
        )
        .await;
    let (_, toast) = guest
        .presses(guest.last_message_id(), "prf:lang:ru", "register first")
        .await;
    assert_eq!(toast.as_deref(), Some("This menu is out of date."));
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(user(&db, 404).await, None);

    let choice = petr.says("/language", "На каком языке").await;
    petr.presses(
        choice.message_id,
        choice.callback_data("🇬🇧 English").unwrap(),
        "I speak English with you now",
    )
    .await;
    let petr_row = user(&db, 402).await.unwrap();
    assert_eq!(
        (petr_row.language, petr_row.status),
        (Language::En, Status::Pending)
    );
    assert_eq!(
        audit_actions(&db, petr_row.id).await,
        ["profile.language_set"]
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let commands = stack
            .telegram
            .commands(&CommandScope::chat(402), "")
            .unwrap_or_default();
        if commands
            .iter()
            .any(|c| c.command == "help" && c.description == "What I can do")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{commands:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    petr.says("/start", "waiting for an administrator").await;
    stack.assert_no_secret_in_logs();
}

/// The instant `date` begins in UTC, plus `hours`.
fn utc_on(date: NaiveDate, hours: i64) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap().and_utc() + TimeDelta::hours(hours)
}

/// Moves the test clock of every process to `at`.
fn move_clock_to(stack: &Stack, at: DateTime<Utc>) {
    let offset = at - Clock::system().now();
    clock::write_offset(&stack.clock_file(), offset).unwrap();
}

/// Absences end in each manager's own zone: the worker sets them back to
/// working and tells them, once each, with two workers racing; absences
/// without an end or ending later stay.
async fn absences_end_in_each_zone_once_with_two_workers(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    stack.start_worker().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let manager = |id, name, language, zone| {
        seed(
            &db,
            id,
            name,
            Status::Active,
            Some(Role::Manager),
            language,
            zone,
        )
    };
    let anna_row = manager(501, ("Anna", "Smith"), Language::En, "Asia/Tokyo").await;
    let boris_row = manager(502, ("Борис", "Котов"), Language::Ru, "America/New_York").await;
    let carl_row = manager(503, ("Carl", "Long"), Language::En, "Europe/Moscow").await;
    let dana_row = manager(504, ("Dana", "Later"), Language::En, "Asia/Tokyo").await;
    let anna = Person::new(&stack, 501, "Anna", "en");
    let boris = Person::new(&stack, 502, "Борис", "ru");
    let _ = boris.user.clone().has_chat();
    let _ = stack.telegram.user(503).has_chat();
    let _ = stack.telegram.user(504).has_chat();

    // The last day: two days ahead, so it is in the future everywhere.
    let until = Clock::system().now().date_naive() + Days::new(2);
    anna.says("/profile", "Your profile").await;
    anna.presses_button("📍 Status", "Your status").await;
    anna.presses_button("🌴 Vacation", "until when?").await;
    anna.says(&typed(until), "on vacation until").await;
    let set_away = |id, status, until| {
        db.write(move |c| users::set_work_status(c, id, status, until, Clock::system().now()))
    };
    set_away(boris_row.id, WorkStatus::BusinessTrip, Some(until))
        .await
        .unwrap();
    set_away(carl_row.id, WorkStatus::Vacation, None)
        .await
        .unwrap();
    set_away(
        dana_row.id,
        WorkStatus::SickLeave,
        Some(until + Days::new(5)),
    )
    .await
    .unwrap();

    // The day after `until`, 00:00 UTC: 09:00 in Tokyo (Anna is back),
    // still the evening of `until` in New York (Boris is not).
    move_clock_to(&stack, utc_on(until + Days::new(1), 0));
    let back = anna.gets_after(0, "Your vacation ended on").await;
    assert!(back.text.contains(&typed(until)), "{}", back.text);
    assert!(back.text.contains("working again"), "{}", back.text);
    let row = user(&db, 501).await.unwrap();
    assert_eq!(
        (row.work_status, row.work_status_until),
        (WorkStatus::Working, None)
    );
    assert_eq!(
        user(&db, 502).await.unwrap().work_status,
        WorkStatus::BusinessTrip
    );

    // Noon UTC that day: morning in New York, Boris is back too.
    move_clock_to(&stack, utc_on(until + Days::new(1), 12));
    let back = boris.gets_after(0, "Ваша командировка закончилась").await;
    assert!(back.text.contains(&typed(until)), "{}", back.text);
    let row = user(&db, 502).await.unwrap();
    assert_eq!(
        (row.work_status, row.work_status_until),
        (WorkStatus::Working, None)
    );
    assert_eq!(
        user(&db, 504).await.unwrap().work_status,
        WorkStatus::SickLeave
    );

    // Dana's sick leave ends five days later: by the time she is told,
    // both workers have ticked many times after the returns above.
    move_clock_to(&stack, utc_on(until + Days::new(6), 0));
    let dana = Person::new(&stack, 504, "Dana", "en");
    dana.gets_after(0, "Your sick leave ended on").await;
    anna.says("/profile", "Status: ✅ working").await;
    assert_eq!(anna.messages_with("ended on").len(), 1);
    assert_eq!(boris.messages_with("закончилась").len(), 1);
    for (row, from) in [(&anna_row, "vacation"), (&boris_row, "business_trip")] {
        let returns: Vec<AuditRecord> = audit_trail(&db, row.id)
            .await
            .into_iter()
            .filter(|r| r.action == "work_status.returned")
            .collect();
        assert_eq!(returns.len(), 1, "{returns:?}");
        assert_eq!(returns[0].actor_id, None);
        assert_eq!(
            returns[0].data_json(),
            serde_json::json!({
                "from": from,
                "until": until.format("%Y-%m-%d").to_string(),
                "to": "working",
            })
        );
        let key = format!("work-status-return:{}:{}", row.id, until.format("%Y-%m-%d"));
        let messages: i64 = db
            .read(move |c| {
                schema::outbox_messages::table
                    .filter(schema::outbox_messages::dedupe_key.eq(key))
                    .count()
                    .get_result(c)
                    .map_err(Into::into)
            })
            .await
            .unwrap();
        assert_eq!(messages, 1);
    }
    let carl = user(&db, 503).await.unwrap();
    assert_eq!(
        (carl.work_status, carl.work_status_until),
        (WorkStatus::Vacation, None)
    );
    assert_eq!(
        user(&db, 504).await.unwrap().work_status,
        WorkStatus::Working
    );
    assert_eq!(dana.messages_with("ended on").len(), 1);
    assert!(stack.telegram.bot_messages(503).is_empty());
    stack.assert_no_secret_in_logs();
}

/// The department named `name` (seeded), by id.
async fn department_id(db: &Db, name: &'static str) -> DepartmentId {
    db.read(departments::list_all)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no department {name}"))
        .id
}

/// The data of the button that moves the user to department `id`.
fn department_data(id: DepartmentId) -> String {
    ProfileCallback::SetDepartment(id).data()
}

/// The name in two steps (bad input re-asked with the reason, a bot
/// restart in between, `/cancel` keeping the old name, HTML shown
/// escaped), the department from the active ones (retired and unknown ids
/// refused, a user removed meanwhile refused), each change audited once.
async fn name_and_department_changes(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let anna_row = seed(
        &db,
        601,
        ("Anna", "Smith"),
        Status::Active,
        Some(Role::Manager),
        Language::En,
        "Europe/Moscow",
    )
    .await;
    let boris_row = seed(
        &db,
        602,
        ("Борис", "Котов"),
        Status::Active,
        Some(Role::Owner),
        Language::Ru,
        "Europe/Moscow",
    )
    .await;
    let anna = Person::new(&stack, 601, "Anna", "en");
    let boris = Person::new(&stack, 602, "Борис", "ru");
    let it = department_id(&db, "IT").await;
    let hr = department_id(&db, "HR").await;
    let game_dev = department_id(&db, "GameDev").await;
    db.write(move |c| departments::retire(c, game_dev, Clock::system().now()))
        .await
        .unwrap();

    // The name: the first name is asked in place of the profile.
    let profile = anna.says("/profile", "Your profile").await;
    assert!(
        profile.callback_data("🏢 Department").is_some(),
        "{:?}",
        profile.buttons
    );
    let (asked, _) = anna
        .presses_button("✏️ Name", "What is your first name?")
        .await;
    assert_eq!(asked.message_id, profile.message_id, "changes in place");
    assert!(asked.text.contains("Now: Anna"), "{}", asked.text);
    assert_eq!(
        dialogue(&db, 601).await,
        Some(serde_json::json!({ "profile": "first_name" }))
    );
    let long = "a".repeat(5_000);
    for (typed, reason) in [
        ("   ", "The name cannot be empty"),
        ("\u{200B}", "The name cannot be empty"),
        (
            long.as_str(),
            "The name is too long: 5000 characters, at most 64",
        ),
        ("An\nna", "control characters"),
        ("Anna\u{7}", "control characters"),
    ] {
        let reply = anna.says(typed, reason).await;
        assert!(
            reply.text.contains("Please send your first name again"),
            "{}",
            reply.text
        );
    }
    assert_eq!(user(&db, 601).await.as_ref(), Some(&anna_row));
    let first = "🌸 Анна";
    let last = "محمد <b>*O'Brien*</b>";
    let asked = anna.says(first, "And your last name?").await;
    assert!(
        asked.text.contains("Thank you, 🌸 Анна") && asked.text.contains("Now: Smith"),
        "{}",
        asked.text
    );
    assert_eq!(
        dialogue(&db, 601).await,
        Some(serde_json::json!({ "profile": "last_name", "first_name": first }))
    );
    assert_eq!(user(&db, 601).await.as_ref(), Some(&anna_row));

    // A restart between the two names continues the question.
    assert!(stack.bot.as_mut().unwrap().terminate().await.success());
    stack.start_bot().await;
    for (typed, reason) in [
        (" \u{200F} ", "The name cannot be empty"),
        (long.as_str(), "The name is too long"),
        ("Smi\tth", "control characters"),
    ] {
        let reply = anna.says(typed, reason).await;
        assert!(
            reply.text.contains("Please send your last name again"),
            "{}",
            reply.text
        );
    }
    assert_eq!(user(&db, 601).await.as_ref(), Some(&anna_row));
    let saved = anna
        .says(&format!("  {last} "), &format!("Name: {first} {last}."))
        .await;
    assert!(
        saved.text.contains(&format!("Name: {first} {last}\nRole")),
        "{}",
        saved.text
    );
    assert!(
        saved
            .source
            .contains("محمد &lt;b&gt;*O'Brien*&lt;/b&gt;</b>\nRole"),
        "{}",
        saved.source
    );
    let row = user(&db, 601).await.unwrap();
    assert_eq!(
        (row.first_name.as_str(), row.last_name.as_str()),
        (first, last)
    );
    assert_eq!(dialogue(&db, 601).await, None);

    // /cancel in the middle keeps the name; so does the same name again.
    anna.presses_button("✏️ Name", "What is your first name?")
        .await;
    anna.says("Zed", "And your last name?").await;
    anna.says("/cancel", "Cancelled").await;
    assert_eq!(dialogue(&db, 601).await, None);
    anna.says("Zed", "I did not understand").await;
    assert_eq!(user(&db, 601).await.as_ref(), Some(&row));
    anna.says("/profile", "Your profile").await;
    anna.presses_button("✏️ Name", "What is your first name?")
        .await;
    anna.says(first, "And your last name?").await;
    anna.says(last, "Your profile").await;
    assert_eq!(user(&db, 601).await.as_ref(), Some(&row));

    // The department: the active ones, the current one ticked.
    let (list, _) = anna
        .presses_button("🏢 Department", "Your department: IT")
        .await;
    assert!(list.callback_data("✓ IT").is_some(), "{:?}", list.buttons);
    assert!(
        list.callback_data("GameDev").is_none(),
        "{:?}",
        list.buttons
    );
    let hr_data = department_data(hr);
    assert_eq!(list.callback_data("HR"), Some(hr_data.as_str()));
    let (moved, toast) = anna
        .presses(list.message_id, &hr_data, "Department: HR.")
        .await;
    assert_eq!(toast.as_deref(), Some("Saved"));
    assert!(moved.text.contains("Department: HR\n"), "{}", moved.text);
    assert_eq!(user(&db, 601).await.unwrap().department_id, Some(hr));
    // The same button again: nothing to change.
    let audit_before = audit_trail(&db, anna_row.id).await.len();
    let toast = anna.presses_quietly(list.message_id, &hr_data).await;
    assert_eq!(toast.as_deref(), Some("Already so"));
    assert_eq!(audit_trail(&db, anna_row.id).await.len(), audit_before);

    // Retired, unknown and malformed ids are out of date, even while a
    // question waits, and change nothing (the question included).
    anna.says("/profile", "Your profile").await;
    anna.presses_button("✏️ Name", "What is your first name?")
        .await;
    let before = snapshot(&db).await;
    assert_eq!(before.dialogues.len(), 1);
    for data in [
        department_data(game_dev),
        department_data(DepartmentId(987_654_321)),
        "prf:dept:0".to_owned(),
        format!("prf:dept:0{}", it.0),
        format!("prf:dept:-{}", it.0),
        format!("prf:dept:{}:1", it.0),
        "prf:dept:IT".to_owned(),
        "prf:name:1".to_owned(),
    ] {
        let (_, toast) = anna
            .presses(anna.last_message_id(), &data, "Welcome back")
            .await;
        assert_eq!(
            toast.as_deref(),
            Some("This menu is out of date."),
            "{data}"
        );
    }
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(user(&db, 601).await.unwrap().department_id, Some(hr));

    // A user removed while looking at the list: refused, nothing changes.
    boris.says("/profile", "Ваш профиль").await;
    let (list, _) = boris.presses_button("🏢 Отдел", "Ваш отдел: IT").await;
    let boris_id = boris_row.id;
    db.write(move |c| users::remove(c, boris_id, Status::Active, Clock::system().now()))
        .await
        .unwrap();
    let before = snapshot(&db).await;
    let (_, toast) = boris
        .presses(
            list.message_id,
            list.callback_data("HR").unwrap(),
            "доступ к боту",
        )
        .await;
    assert_eq!(toast.as_deref(), Some("У вас нет прав на это действие."));
    assert_eq!(snapshot(&db).await, before);
    assert_eq!(user(&db, 602).await.unwrap().department_id, Some(it));

    // One audit row per change, with the old and the new values.
    let rows = audit_trail(&db, anna_row.id).await;
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["profile.name", "profile.department"]);
    assert!(rows.iter().all(|r| r.actor_id == Some(anna_row.id)));
    assert_eq!(
        rows[0].data_json(),
        serde_json::json!({
            "from": { "first_name": "Anna", "last_name": "Smith" },
            "to": { "first_name": first, "last_name": last },
        })
    );
    assert_eq!(
        rows[1].data_json(),
        serde_json::json!({
            "from": { "id": it.0, "name": "IT" },
            "to": { "id": hr.0, "name": "HR" },
        })
    );
    assert!(
        audit_actions(&db, boris_row.id)
            .await
            .iter()
            .all(|a| !a.starts_with("profile."))
    );
    stack.assert_no_secret_in_logs();
}

on_both_backends!(
    name_and_department_changes,
    the_profile_and_every_change_in_it,
    forged_presses_commands_mid_dialogue_and_people_without_a_profile,
    absences_end_in_each_zone_once_with_two_workers,
);
