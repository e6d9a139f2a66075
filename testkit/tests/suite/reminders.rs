//! Meeting reminders and "book your next meeting" nudges through the real
//! worker: meetings are booked directly (booking has its own tests) and the
//! test clock is moved past the due times. Reminders arrive in order, in
//! each reader's language and zone, follow a reschedule, vanish with a
//! cancel and are dropped when far too late; nudges come 7, 3 and 1 days
//! before the due date at 10:00 local and stop once a meeting is booked;
//! with three workers every reminder and nudge arrives exactly once.

use chrono::{DateTime, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use shared::clock::{self, Clock};
use shared::db::meetings::{self, Meeting, NewBooking, NewTime};
use shared::db::reminders::{self, NUDGE_CLAIM, NUDGE_KIND, REMINDER_KIND, Reminder};
use shared::db::schema::{meetings as meetings_table, outbox_messages, periodic_runs, users};
use shared::db::types::{MeetingId, UserId};
use shared::db::users::User;
use shared::db::{Db, UtcTime};
use shared::domain::booking::ReminderState;
use shared::domain::delivery::OutboxState;
use shared::domain::settings::BookingMode;
use shared::domain::user::{Language, Role, WorkStatus};
use shared::i18n::dates::meeting_when;
use shared::telegram::OutgoingMessage;
use testkit::db::TestDb;
use testkit::fake_telegram::BotMessage;
use testkit::people::WAIT;
use testkit::records::SeedUser;
use testkit::stack::{Stack, StackConfig};

const BERLIN: Tz = Tz::Europe__Berlin;
const NEW_YORK: Tz = Tz::America__New_York;
const TOKYO: Tz = Tz::Asia__Tokyo;
const MOSCOW: Tz = Tz::Europe__Moscow;
const MEET_LINK: &str = "https://meet.google.com/abc-defg-hij";

/// Moves the clock of every process to `at`.
pub(crate) fn move_clock_to(stack: &Stack, at: DateTime<Utc>) {
    let offset = at - Clock::system().now();
    clock::write_offset(&stack.clock_file(), offset).unwrap();
}

/// `hour`:00 UTC on `date`.
pub(crate) fn at(date: NaiveDate, hour: i64) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0).unwrap().and_utc() + TimeDelta::hours(hour)
}

/// Today's date (UTC) plus `days`, by the real clock.
pub(crate) fn day(days: u64) -> NaiveDate {
    Clock::system().now().date_naive() + Days::new(days)
}

async fn seed(
    db: &Db,
    telegram_id: i64,
    (first, last): (&str, &str),
    role: Role,
    language: Language,
    zone: Tz,
) -> User {
    SeedUser::new(telegram_id, first, last)
        .role(Some(role))
        .language(language)
        .time_zone(zone.name())
        .insert(db)
        .await
}

/// Records `at` as the user's approval date.
async fn approved_at(db: &Db, user: UserId, at: DateTime<Utc>) {
    db.write(move |c| {
        diesel::update(users::table.find(user))
            .set(users::decided_at.eq(Some(UtcTime::from(at))))
            .execute(c)?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Books a one-hour meeting at `starts_at` with reminders at `offsets`.
async fn book(
    db: &Db,
    manager: UserId,
    owner: UserId,
    starts_at: DateTime<Utc>,
    offsets: &[TimeDelta],
    now: DateTime<Utc>,
) -> Meeting {
    let new = NewBooking {
        manager,
        owners: vec![owner],
        starts_at,
        ends_at: starts_at + TimeDelta::hours(1),
        mode: BookingMode::Single,
        period_key: format!("test-{}", starts_at.format("%Y-%m-%d")),
        limit: 10,
        reminder_offsets: offsets.to_vec(),
        correlation_id: Some("test-book".to_owned()),
    };
    db.write(move |c| Ok(meetings::book(c, &new, now)))
        .await
        .unwrap()
        .unwrap()
}

fn day_and_hour() -> [TimeDelta; 2] {
    [TimeDelta::hours(24), TimeDelta::hours(1)]
}

async fn reminders_of(db: &Db, meeting: MeetingId) -> Vec<Reminder> {
    db.read(move |c| reminders::for_meeting(c, meeting))
        .await
        .unwrap()
}

fn is_reminder(message: &BotMessage) -> bool {
    message.text.starts_with("⏰")
}

fn is_nudge(message: &BotMessage) -> bool {
    message
        .all_buttons()
        .any(|b| b.callback_data.as_deref() == Some("bk:o"))
}

/// The messages of `chat` that `which` selects, once there are `count`.
async fn messages(
    stack: &Stack,
    chat: i64,
    which: fn(&BotMessage) -> bool,
    count: usize,
) -> Vec<BotMessage> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found: Vec<BotMessage> = stack
            .telegram
            .bot_messages(chat)
            .into_iter()
            .filter(&which)
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} messages in chat {chat}, got {found:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits until no reminder due by `now` is pending and no message is
/// waiting for delivery: whatever this moment owes has been settled.
async fn settled(db: &Db, now: DateTime<Utc>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (due, unsent) = db
            .read(move |c| {
                let due = reminders::due(c, now, 1_000)?.len();
                let unsent: i64 = outbox_messages::table
                    .filter(outbox_messages::state.eq(OutboxState::Pending))
                    .count()
                    .get_result(c)?;
                Ok((due, unsent))
            })
            .await
            .unwrap();
        if due == 0 && unsent == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{due} reminders and {unsent} messages still pending"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Dedupe keys of the outbox messages of `kind`, sorted.
pub(crate) async fn keys_of(db: &Db, kind: &'static str) -> Vec<String> {
    let mut keys: Vec<String> = db
        .read(move |c| {
            Ok(outbox_messages::table
                .filter(outbox_messages::kind.eq(kind))
                .select(outbox_messages::dedupe_key.assume_not_null())
                .load(c)?)
        })
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn reminders_follow_the_meeting_in_each_zone(db: TestDb) {
    const OWNER: i64 = 7401;
    const MANAGER: i64 = 7402;
    let mut stack = Stack::new(db, StackConfig::default()).await;
    let db = stack.db.db.clone();
    let owner = seed(
        &db,
        OWNER,
        ("Olga", "Owner"),
        Role::Owner,
        Language::En,
        BERLIN,
    )
    .await;
    let manager = seed(
        &db,
        MANAGER,
        ("Максим", "Менеджер"),
        Role::Manager,
        Language::Ru,
        NEW_YORK,
    )
    .await;
    stack.telegram.user(OWNER).has_chat();
    stack.telegram.user(MANAGER).has_chat();

    // Four meetings three days ahead: the first with a Meet link, the
    // second moved a day later, the third cancelled, the fourth left to
    // be missed.
    let s = at(day(3), 10);
    let now = Clock::system().now();
    let first = book(&db, manager.id, owner.id, s, &day_and_hour(), now).await;
    let id = first.id;
    db.write(move |c| {
        diesel::update(meetings_table::table.find(id))
            .set(meetings_table::meet_link.eq(Some(MEET_LINK)))
            .execute(c)?;
        Ok(())
    })
    .await
    .unwrap();
    let second = book(
        &db,
        manager.id,
        owner.id,
        s + TimeDelta::hours(2),
        &day_and_hour(),
        now,
    )
    .await;
    let moved_to = s + TimeDelta::days(1) + TimeDelta::hours(2);
    let to = NewTime {
        starts_at: moved_to,
        ends_at: moved_to + TimeDelta::hours(1),
        period_key: format!("test-{}", moved_to.format("%Y-%m-%d")),
        limit: 10,
        reminder_offsets: day_and_hour().to_vec(),
    };
    let second_id = second.id;
    db.write(move |c| Ok(meetings::reschedule(c, second_id, &to, now)))
        .await
        .unwrap()
        .unwrap();
    let third = book(
        &db,
        manager.id,
        owner.id,
        s + TimeDelta::hours(4),
        &day_and_hour(),
        now,
    )
    .await;
    let third_id = third.id;
    db.write(move |c| Ok(meetings::cancel(c, third_id, owner.id, None, now)))
        .await
        .unwrap()
        .unwrap();
    let fourth = book(
        &db,
        manager.id,
        owner.id,
        s + TimeDelta::hours(6),
        &day_and_hour(),
        now,
    )
    .await;
    stack.start_worker().await;

    // A day before the first meeting (and a minute): "tomorrow", each in
    // their own zone and language, with the Meet link.
    move_clock_to(&stack, s - TimeDelta::hours(24) + TimeDelta::minutes(1));
    let owner_got = messages(&stack, OWNER, is_reminder, 1).await;
    let manager_got = messages(&stack, MANAGER, is_reminder, 1).await;
    let owner_when = meeting_when(Language::En, BERLIN, s, s + TimeDelta::hours(1));
    assert_eq!(
        owner_got[0].text,
        format!(
            "⏰ Reminder: meeting tomorrow\n{owner_when}\nWith: Максим Менеджер\n🎥 Google Meet: {MEET_LINK}"
        )
    );
    let manager_when = meeting_when(Language::Ru, NEW_YORK, s, s + TimeDelta::hours(1));
    assert!(manager_when.contains("05:00–06:00 (America/New_York)"));
    assert_eq!(
        manager_got[0].text,
        format!(
            "⏰ Напоминание: встреча завтра\n{manager_when}\nС кем: Olga Owner\n🎥 Google Meet: {MEET_LINK}"
        )
    );

    // An hour before: "in 1 hour". The fourth meeting's day-ahead reminder
    // is 17 hours late by now: dropped, not sent.
    move_clock_to(&stack, s - TimeDelta::hours(1) + TimeDelta::minutes(1));
    let owner_got = messages(&stack, OWNER, is_reminder, 2).await;
    let manager_got = messages(&stack, MANAGER, is_reminder, 2).await;
    assert!(
        owner_got[1]
            .text
            .starts_with(&format!("⏰ Reminder: meeting in 1 hour\n{owner_when}")),
        "{}",
        owner_got[1].text
    );
    assert!(
        manager_got[1]
            .text
            .starts_with("⏰ Напоминание: встреча через 1 час\n"),
        "{}",
        manager_got[1].text
    );

    // The moved meeting reminds at its new time only.
    move_clock_to(&stack, s + TimeDelta::hours(2) + TimeDelta::minutes(1));
    let owner_got = messages(&stack, OWNER, is_reminder, 3).await;
    let moved_when = meeting_when(
        Language::En,
        BERLIN,
        moved_to,
        moved_to + TimeDelta::hours(1),
    );
    assert_eq!(
        owner_got[2].text,
        format!("⏰ Reminder: meeting tomorrow\n{moved_when}\nWith: Максим Менеджер")
    );
    messages(&stack, MANAGER, is_reminder, 3).await;

    // Past the fourth meeting's start, an hour before the moved one.
    let end = moved_to - TimeDelta::hours(1) + TimeDelta::minutes(1);
    move_clock_to(&stack, end);
    let owner_got = messages(&stack, OWNER, is_reminder, 4).await;
    assert!(
        owner_got[3]
            .text
            .starts_with(&format!("⏰ Reminder: meeting in 1 hour\n{moved_when}")),
        "{}",
        owner_got[3].text
    );
    messages(&stack, MANAGER, is_reminder, 4).await;
    settled(&db, end).await;

    // Exactly four reminders each, in order; the rows say why the others
    // were not sent.
    for chat in [OWNER, MANAGER] {
        let got = messages(&stack, chat, is_reminder, 4).await;
        assert_eq!(got.len(), 4, "chat {chat}: {got:#?}");
        assert!(got.windows(2).all(|w| w[0].message_id < w[1].message_id));
    }
    let states = |rows: &[Reminder]| -> Vec<(i32, i32, ReminderState)> {
        rows.iter()
            .map(|r| (r.meeting_revision, r.offset_minutes, r.state))
            .collect()
    };
    let rows = reminders_of(&db, first.id).await;
    assert!(
        rows.iter()
            .all(|r| r.state == ReminderState::Sent && r.sent_at.is_some()),
        "{rows:#?}"
    );
    assert_eq!(rows.len(), 4);
    let rows = reminders_of(&db, second.id).await;
    let mut second_states = states(&rows);
    second_states.sort_by_key(|s| (s.0, s.1));
    assert_eq!(
        second_states,
        [
            (1, 60, ReminderState::Cancelled),
            (1, 60, ReminderState::Cancelled),
            (1, 1440, ReminderState::Cancelled),
            (1, 1440, ReminderState::Cancelled),
            (2, 60, ReminderState::Sent),
            (2, 60, ReminderState::Sent),
            (2, 1440, ReminderState::Sent),
            (2, 1440, ReminderState::Sent),
        ]
    );
    let rows = reminders_of(&db, third.id).await;
    assert!(
        rows.iter().all(|r| r.state == ReminderState::Cancelled),
        "{rows:#?}"
    );
    let rows = reminders_of(&db, fourth.id).await;
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(row.state, ReminderState::Cancelled, "{row:#?}");
        let reason = row.last_error.as_deref().unwrap_or_default();
        assert!(reason.starts_with("too late"), "{row:#?}");
    }
    let mut expected: Vec<String> = Vec::new();
    for meeting in [first.id, second.id] {
        for row in reminders_of(&db, meeting).await {
            if row.state == ReminderState::Sent {
                expected.push(format!("reminder:{}", row.id));
            }
        }
    }
    expected.sort();
    assert_eq!(keys_of(&db, REMINDER_KIND).await, expected);
    stack.assert_no_secret_in_logs();
}

async fn nudges_come_seven_three_and_one_days_before_until_a_booking(db: TestDb) {
    const ANNA: i64 = 7411;
    const BORIS: i64 = 7412;
    const CARL: i64 = 7413;
    const OWNER: i64 = 7414;
    let mut stack = Stack::new(db, StackConfig::default()).await;
    let db = stack.db.db.clone();
    let anna = seed(
        &db,
        ANNA,
        ("Anna", "Smith"),
        Role::Manager,
        Language::En,
        TOKYO,
    )
    .await;
    let boris = seed(
        &db,
        BORIS,
        ("Борис", "Котов"),
        Role::Manager,
        Language::Ru,
        TOKYO,
    )
    .await;
    let carl = seed(
        &db,
        CARL,
        ("Carl", "Away"),
        Role::Manager,
        Language::En,
        TOKYO,
    )
    .await;
    let owner = seed(
        &db,
        OWNER,
        ("Olga", "Owner"),
        Role::Owner,
        Language::En,
        TOKYO,
    )
    .await;
    for chat in [ANNA, BORIS, CARL, OWNER] {
        stack.telegram.user(chat).has_chat();
    }
    // Approved on day 0 at 12:00 in Tokyo: due on day 14; nudges at 10:00
    // Tokyo (01:00 UTC) on days 7, 11 and 13. Carl is on vacation.
    let d0 = day(2);
    for user in [anna.id, boris.id, carl.id] {
        approved_at(&db, user, at(d0, 3)).await;
    }
    let carl_id = carl.id;
    db.write(move |c| {
        shared::db::users::set_work_status(
            c,
            carl_id,
            WorkStatus::Vacation,
            None,
            Clock::system().now(),
        )
    })
    .await
    .unwrap();
    stack.start_worker().await;
    let due = d0 + Days::new(14);
    let due_text = due.format("%d.%m.%Y").to_string();

    move_clock_to(&stack, at(d0 + Days::new(7), 1) + TimeDelta::minutes(30));
    let anna_got = messages(&stack, ANNA, is_nudge, 1).await;
    assert!(
        anna_got[0]
            .text
            .starts_with("📅 Time to plan your next meeting.\nYou meet every 14 days"),
        "{}",
        anna_got[0].text
    );
    assert!(anna_got[0].text.contains(&due_text), "{}", anna_got[0].text);
    assert_eq!(anna_got[0].callback_data("📅 Book now"), Some("bk:o"));
    let boris_got = messages(&stack, BORIS, is_nudge, 1).await;
    assert!(
        boris_got[0]
            .text
            .starts_with("📅 Пора запланировать следующую встречу."),
        "{}",
        boris_got[0].text
    );
    assert_eq!(boris_got[0].callback_data("📅 Записаться"), Some("bk:o"));

    // Anna books (for day 12): her nudges stop; Boris's go on.
    let now = Clock::with_offset_file(stack.clock_file()).now();
    let meeting_at = at(d0 + Days::new(12), 10);
    book(&db, anna.id, owner.id, meeting_at, &[], now).await;
    move_clock_to(&stack, at(d0 + Days::new(11), 1) + TimeDelta::minutes(30));
    let boris_got = messages(&stack, BORIS, is_nudge, 2).await;
    assert!(
        boris_got[1]
            .text
            .starts_with("⏳ Следующая встреча нужна через 3 дня"),
        "{}",
        boris_got[1].text
    );
    assert!(
        boris_got[1].text.contains(&due_text),
        "{}",
        boris_got[1].text
    );
    move_clock_to(&stack, at(d0 + Days::new(13), 1) + TimeDelta::minutes(30));
    let boris_got = messages(&stack, BORIS, is_nudge, 3).await;
    assert!(
        boris_got[2]
            .text
            .starts_with("⚠️ Следующая встреча нужна уже завтра"),
        "{}",
        boris_got[2].text
    );

    // Anna's meeting (19:00 in Tokyo on day 12) moved her due date to day
    // 26: a new first nudge on day 19.
    let end = at(d0 + Days::new(19), 1) + TimeDelta::minutes(30);
    move_clock_to(&stack, end);
    let anna_got = messages(&stack, ANNA, is_nudge, 2).await;
    let new_due = (d0 + Days::new(26)).format("%d.%m.%Y").to_string();
    assert!(
        anna_got[1].text.starts_with("📅 Time to plan") && anna_got[1].text.contains(&new_due),
        "{}",
        anna_got[1].text
    );
    settled(&db, end).await;

    let key = |user: UserId, due: NaiveDate, days: u8| {
        format!("nudge:{user}:{}:{days}", due.format("%Y-%m-%d"))
    };
    let mut expected = vec![
        key(anna.id, due, 7),
        key(anna.id, d0 + Days::new(26), 7),
        key(boris.id, due, 7),
        key(boris.id, due, 3),
        key(boris.id, due, 1),
    ];
    expected.sort();
    assert_eq!(keys_of(&db, NUDGE_KIND).await, expected);
    assert_eq!(messages(&stack, ANNA, is_nudge, 2).await.len(), 2);
    assert_eq!(messages(&stack, BORIS, is_nudge, 3).await.len(), 3);
    assert!(
        stack.telegram.bot_messages(CARL).is_empty(),
        "no nudge while away"
    );
    stack.assert_no_secret_in_logs();
}

/// A worker that committed a hand-over and died before pushing the
/// delivery: the outbox sweep of another worker delivers it, once.
async fn a_hand_over_whose_push_was_lost_is_still_delivered(db: TestDb) {
    const OWNER: i64 = 7441;
    const MANAGER: i64 = 7442;
    let mut stack = Stack::new(db, StackConfig::default()).await;
    let db = stack.db.db.clone();
    let owner = seed(
        &db,
        OWNER,
        ("Olga", "Owner"),
        Role::Owner,
        Language::En,
        BERLIN,
    )
    .await;
    let manager = seed(
        &db,
        MANAGER,
        ("Mark", "Manager"),
        Role::Manager,
        Language::En,
        BERLIN,
    )
    .await;
    stack.telegram.user(OWNER).has_chat();
    stack.telegram.user(MANAGER).has_chat();
    let s = at(day(3), 10);
    let now = Clock::system().now();
    let meeting = book(&db, manager.id, owner.id, s, &[TimeDelta::hours(1)], now).await;

    // The crashed worker's transaction, at the due time.
    let due_at = s - TimeDelta::hours(1);
    let handed = db
        .write(move |c| {
            let mut queued = Vec::new();
            for reminder in reminders::due(c, due_at, 10)? {
                let recipient = shared::db::users::find(c, reminder.recipient_id)?.unwrap();
                let handover = reminders::Handover {
                    reminder: reminder.id,
                    recipient: recipient.id,
                    chat_id: recipient.telegram_id.0,
                    body: OutgoingMessage::text("⏰ Reminder handed over before a crash").to_json(),
                    correlation_id: None,
                };
                queued.extend(reminders::hand_over(c, &handover, due_at)?);
            }
            Ok(queued)
        })
        .await
        .unwrap();
    assert_eq!(handed.len(), 2);

    // A worker starts after the sweep's grace: it delivers both messages
    // and finds no reminder left to send.
    let end = due_at + TimeDelta::minutes(2);
    move_clock_to(&stack, end);
    stack.start_worker().await;
    for chat in [OWNER, MANAGER] {
        let got = messages(&stack, chat, is_reminder, 1).await;
        assert_eq!(got[0].text, "⏰ Reminder handed over before a crash");
    }
    settled(&db, end).await;
    for chat in [OWNER, MANAGER] {
        assert_eq!(messages(&stack, chat, is_reminder, 1).await.len(), 1);
    }
    let rows = reminders_of(&db, meeting.id).await;
    assert!(
        rows.iter().all(|r| r.state == ReminderState::Sent),
        "{rows:#?}"
    );
    assert_eq!(keys_of(&db, REMINDER_KIND).await.len(), 2);
}

on_both_backends!(
    reminders_follow_the_meeting_in_each_zone,
    nudges_come_seven_three_and_one_days_before_until_a_booking,
    a_hand_over_whose_push_was_lost_is_still_delivered,
);

/// Three workers race for the same due reminders and nudges: each arrives
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_send_every_reminder_and_nudge_once() {
    const OWNER: i64 = 7420;
    let managers_with_meetings = [7421, 7422, 7423];
    let managers_to_nudge = [7431, 7432, 7433];
    let mut stack = Stack::new(TestDb::postgres().await, StackConfig::default()).await;
    let db = stack.db.db.clone();
    let owner = seed(
        &db,
        OWNER,
        ("Olga", "Owner"),
        Role::Owner,
        Language::En,
        MOSCOW,
    )
    .await;
    stack.telegram.user(OWNER).has_chat();

    // Meetings at 10:00, 12:00 and 14:00 UTC on day D, reminded a day and
    // an hour before.
    let d = day(3);
    let s = at(d, 10);
    let now = Clock::system().now();
    let mut booked = Vec::new();
    for (i, chat) in managers_with_meetings.into_iter().enumerate() {
        let manager = seed(
            &db,
            chat,
            ("Meeting", "Manager"),
            Role::Manager,
            Language::En,
            MOSCOW,
        )
        .await;
        stack.telegram.user(chat).has_chat();
        let hours = 2 * i64::try_from(i).unwrap();
        booked.push(
            book(
                &db,
                manager.id,
                owner.id,
                s + TimeDelta::hours(hours),
                &day_and_hour(),
                now,
            )
            .await,
        );
    }
    // Managers approved on day D-8 (Moscow): due on D+6, first nudge at
    // 10:00 Moscow (07:00 UTC) on D-1.
    for chat in managers_to_nudge {
        let manager = seed(
            &db,
            chat,
            ("Nudged", "Manager"),
            Role::Manager,
            Language::En,
            MOSCOW,
        )
        .await;
        approved_at(&db, manager.id, at(d - Days::new(8), 9)).await;
        stack.telegram.user(chat).has_chat();
    }
    for _ in 0..3 {
        stack.start_worker().await;
    }

    // 14:01 UTC on D-1: every day-ahead reminder (up to four hours late,
    // still sent) and every first nudge.
    move_clock_to(&stack, s - TimeDelta::hours(20) + TimeDelta::minutes(1));
    messages(&stack, OWNER, is_reminder, 3).await;
    for chat in managers_with_meetings {
        messages(&stack, chat, is_reminder, 1).await;
    }
    for chat in managers_to_nudge {
        messages(&stack, chat, is_nudge, 1).await;
    }
    // Then an hour before each meeting.
    for (i, meeting) in booked.iter().enumerate() {
        let end = meeting.starts_at - TimeDelta::hours(1) + TimeDelta::minutes(1);
        move_clock_to(&stack, end);
        messages(&stack, OWNER, is_reminder, 4 + i).await;
        messages(&stack, managers_with_meetings[i], is_reminder, 2).await;
        settled(&db, end).await;
    }

    // Besides the calendar invites (documents), the six reminders only.
    let texts = |chat| {
        stack
            .telegram
            .bot_messages(chat)
            .into_iter()
            .filter(|m| m.document.is_none())
            .count()
    };
    assert_eq!(texts(OWNER), 6);
    for chat in managers_with_meetings {
        let got = messages(&stack, chat, is_reminder, 2).await;
        assert_eq!(got.len(), 2, "chat {chat}: {got:#?}");
        assert_eq!(texts(chat), 2, "chat {chat}");
    }
    for chat in managers_to_nudge {
        assert_eq!(texts(chat), 1, "chat {chat}");
    }
    assert_eq!(keys_of(&db, REMINDER_KIND).await.len(), 12);
    assert_eq!(keys_of(&db, NUDGE_KIND).await.len(), 3);
    let claims: i64 = db
        .read(|c| {
            Ok(periodic_runs::table
                .filter(periodic_runs::name.eq(NUDGE_CLAIM))
                .count()
                .get_result(c)?)
        })
        .await
        .unwrap();
    assert_eq!(claims, 3);
    stack.assert_no_secret_in_logs();
}
