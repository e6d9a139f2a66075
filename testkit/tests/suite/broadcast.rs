//! `/broadcast` through the real binaries, on both databases: 500
//! recipients with blocked users and injected 429s, the progress message
//! edited in place to the final counts, nobody served twice; and everything
//! that must not send (non-admins, forged presses, bad text, cancel).

use std::time::Duration;

use diesel::prelude::*;
use shared::db::Db;
use shared::db::broadcasts::{self, Broadcast};
use shared::db::schema;
use shared::domain::delivery::OutboxState;
use shared::domain::user::{Language, Role};
use testkit::db::TestDb;
use testkit::fake_telegram::{Fault, FaultKind, Limits};
use testkit::people::Person;
use testkit::records::SeedUser;
use testkit::stack::{Stack, StackConfig};

const ADMIN: i64 = 7100;
const FIRST_RECIPIENT: i64 = 30_000;

/// Stores an active user directly (registration is tested elsewhere).
async fn seed(db: &Db, people: Vec<(i64, Role, bool, Language)>) {
    for (telegram_id, role, is_admin, language) in people {
        SeedUser::new(telegram_id, &format!("User{telegram_id}"), "Test")
            .role(Some(role))
            .admin(is_admin)
            .language(language)
            .insert(db)
            .await;
    }
}

async fn all_broadcasts(db: &Db) -> Vec<Broadcast> {
    db.read(|c| {
        Ok(schema::broadcasts::table
            .order(schema::broadcasts::id)
            .select(Broadcast::as_select())
            .load(c)?)
    })
    .await
    .unwrap()
}

/// Outbox rows of recipients' broadcast messages, by state.
async fn broadcast_messages(db: &Db) -> Vec<(i64, OutboxState)> {
    db.read(|c| {
        Ok(schema::outbox_messages::table
            .filter(schema::outbox_messages::kind.eq(broadcasts::MESSAGE_KIND))
            .select((
                schema::outbox_messages::chat_id,
                schema::outbox_messages::state,
            ))
            .load(c)?)
    })
    .await
    .unwrap()
}

async fn audit_actions(db: &Db) -> Vec<String> {
    db.read(|c| {
        Ok(schema::audit_log::table
            .filter(schema::audit_log::action.like("broadcast.%"))
            .order(schema::audit_log::id)
            .select(schema::audit_log::action)
            .load(c)?)
    })
    .await
    .unwrap()
}

async fn five_hundred_recipients_blocked_users_and_429s(db: TestDb) {
    let recipients: Vec<i64> = (FIRST_RECIPIENT..FIRST_RECIPIENT + 500).collect();
    let blocked: Vec<i64> = recipients.iter().copied().step_by(25).collect();
    let config = StackConfig {
        admins: vec![],
        limits: Limits {
            global: Some(150),
            ..Limits::default()
        },
        rate: 140.0,
        bulk_rate: 120.0,
        ..StackConfig::default()
    };
    let mut stack = Stack::new(db, config).await;
    let db = stack.db.db.clone();
    let mut people = vec![(ADMIN, Role::Owner, true, Language::En)];
    people.extend(recipients.iter().map(|&id| {
        let language = if id % 2 == 0 {
            Language::Ru
        } else {
            Language::En
        };
        (id, Role::Manager, false, language)
    }));
    seed(&db, people).await;
    for &id in &recipients {
        let user = stack.telegram.user(id).has_chat();
        if blocked.contains(&id) {
            user.block();
        }
    }
    stack.start_bot().await;
    stack.start_worker().await;
    stack.start_worker().await;
    let admin = Person::new(&stack, ADMIN, "Ada", "en");

    admin
        .says("/broadcast", "What should I send to everyone")
        .await;
    let text = "Office <closed> on Friday & *Saturday* 🎉 — שלום";
    let preview = admin.says(text, "this goes to 500 users").await;
    assert!(
        preview.text.contains(text),
        "shown as typed: {}",
        preview.text
    );

    // Telegram pushes back twice during the run; the budget waits it out.
    stack.telegram.inject(Fault {
        method: Some("sendMessage".to_owned()),
        kind: FaultKind::TooManyRequests { retry_after: 1 },
        times: 3,
    });
    let (progress, toast) = admin
        .presses_button("📤 Send to 500", "Broadcast in progress")
        .await;
    assert_eq!(toast.as_deref(), Some("Sending to 500"));
    assert_eq!(
        progress.message_id, preview.message_id,
        "the preview became the progress"
    );

    let finished = stack
        .telegram
        .wait_for_bot_message(
            ADMIN,
            |m| m.message_id == preview.message_id && m.text.contains("Broadcast finished"),
            Duration::from_secs(180),
        )
        .await
        .unwrap();
    assert!(
        finished
            .text
            .contains("Delivered: 480 · failed: 0 · blocked the bot: 20"),
        "{}",
        finished.text
    );
    assert!(finished.buttons.is_empty());
    assert!(
        finished.edits >= 2,
        "preview → progress → … → final, in place"
    );

    let stats = stack.telegram.stats();
    assert!(stats.too_many_requests >= 3, "the injected 429s happened");
    for &id in &recipients {
        let expected = u64::from(!blocked.contains(&id));
        assert_eq!(stack.telegram.sent_count(id), expected, "chat {id}");
    }
    let russian = stack
        .telegram
        .last_bot_message(FIRST_RECIPIENT + 2)
        .unwrap();
    assert!(
        russian.text.starts_with("📣 Сообщение от администраторов") && russian.text.contains(text),
        "{}",
        russian.text
    );

    let stored = all_broadcasts(&db).await;
    assert_eq!(stored.len(), 1);
    let broadcast = &stored[0];
    assert!(broadcast.is_finished());
    assert_eq!(
        (
            broadcast.total,
            broadcast.delivered,
            broadcast.failed,
            broadcast.blocked
        ),
        (500, 480, 0, 20)
    );
    assert_eq!(broadcast.body, text);
    let messages = broadcast_messages(&db).await;
    assert_eq!(messages.len(), 500, "one message per recipient");
    assert!(messages.iter().all(|(chat, state)| {
        *state
            == if blocked.contains(chat) {
                OutboxState::Blocked
            } else {
                OutboxState::Sent
            }
    }));
    assert_eq!(
        audit_actions(&db).await,
        ["broadcast.sent", "broadcast.finished"]
    );

    // Still nobody got it twice a while later (no sweep revival).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total: u64 = recipients
        .iter()
        .map(|&id| stack.telegram.sent_count(id))
        .sum();
    assert_eq!(total, 480);
    stack.assert_no_secret_in_logs();
}

async fn only_admins_send_and_bad_input_sends_nothing(db: TestDb) {
    let mut stack = Stack::new(
        db,
        StackConfig {
            admins: vec![],
            ..StackConfig::default()
        },
    )
    .await;
    let db = stack.db.db.clone();
    seed(
        &db,
        vec![
            (ADMIN, Role::Owner, true, Language::Ru),
            (501, Role::Manager, false, Language::En),
        ],
    )
    .await;
    stack.telegram.user(501).has_chat();
    stack.start_bot().await;
    stack.start_worker().await;
    let admin = Person::new(&stack, ADMIN, "Ада", "ru");
    let manager = Person::new(&stack, 501, "Max", "en");

    // A manager can neither start nor confirm a broadcast.
    manager.says("/broadcast Hello all", "not allowed").await;
    let forged = manager.user.press(1, "bc:send");
    assert_eq!(
        manager.toast(forged).await.as_deref(),
        Some("You are not allowed to do that.")
    );

    // Bad text is explained and asked for again.
    admin.says("/broadcast", "Что отправить всем").await;
    admin.says("   ", "Сообщение пустое").await;
    let long = "ж".repeat(5_000);
    let too_long = admin.says(&long, "слишком длинное").await;
    assert!(too_long.text.contains("5000"), "{}", too_long.text);

    // A command in the middle leaves the dialogue; text afterwards is not sent.
    admin.says("/help", "Команды").await;
    admin.says("Hello?", "").await;

    // Cancel from the preview: nothing is stored, and the old Send button is
    // out of date afterwards.
    let preview = admin
        .says("/broadcast Привет, <команда>!", "получат 1")
        .await;
    let send = preview
        .callback_data("📤 Отправить (1)")
        .unwrap()
        .to_owned();
    admin.presses_button("✖️ Отмена", "Рассылка отменена").await;
    let stale = admin.user.press(preview.message_id, &send);
    assert_eq!(
        admin.toast(stale).await.as_deref(),
        Some("Это меню устарело.")
    );
    let garbage = admin.user.press(preview.message_id, "bc:send:99");
    assert!(admin.toast(garbage).await.is_some());

    assert!(
        all_broadcasts(&db).await.is_empty(),
        "nothing was broadcast"
    );
    assert!(broadcast_messages(&db).await.is_empty());
    assert!(audit_actions(&db).await.is_empty());
    assert_eq!(
        stack.telegram.sent_count(501),
        2,
        "the manager saw only his own replies"
    );
}

on_both_backends!(
    five_hundred_recipients_blocked_users_and_429s,
    only_admins_send_and_bad_input_sends_nothing,
);
