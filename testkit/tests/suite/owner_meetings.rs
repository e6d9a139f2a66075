//! The owner's `/meetings` through the real bot and worker, on both
//! databases: meetings listed under today / this week / later / to close
//! by the owner's own zone, cancelling with a reason (bad reasons
//! explained, the question surviving a restart, `/cancel` keeping the
//! meeting) with the manager told why, closing meetings as completed or
//! no-show; and every press that must not work — another owner's meeting,
//! a manager pressing owner buttons, meetings already cancelled or closed,
//! outcomes of meetings not started, garbage data — refused with nothing
//! changed.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;
use shared::clock::{self, Clock};
use shared::db::meetings::{self, Meeting, NewBooking};
use shared::db::types::{MeetingId, UserId};
use shared::db::users::User;
use shared::db::{Db, schema};
use shared::domain::booking::{MeetingStatus, Outcome, period_key};
use shared::domain::settings::{BookingMode, LimitPeriod};
use shared::domain::user::Role;
use testkit::db::TestDb;
use testkit::people::Person;
use testkit::records::{SeedUser, audit_trail, dialogue};
use testkit::stack::{Stack, StackConfig};

const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;
const NOT_ALLOWED: &str = "You are not allowed to do that.";
const STALE: &str = "This menu is out of date.";

/// "Now" for every process: Wednesday 2 December 2026, 12:00 UTC — 17:00
/// for the owner in Yekaterinburg (UTC+5), 15:00 for the manager in Moscow.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).unwrap()
}

fn utc(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let month = if day >= 20 { 11 } else { 12 };
    Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0)
        .unwrap()
}

/// Moves the clock of every process (started or not) to `at`.
fn move_clock_to(stack: &Stack, at: DateTime<Utc>) {
    let offset = at - Clock::system().now();
    clock::write_offset(&stack.clock_file(), offset).unwrap();
}

async fn seed(db: &Db, telegram_id: i64, first: &str, last: &str, role: Role, zone: &str) -> User {
    SeedUser::new(telegram_id, first, last)
        .role(Some(role))
        .time_zone(zone)
        .department_named("IT")
        .insert(db)
        .await
}

/// Books a one-hour meeting directly (booking has its own tests).
async fn book(db: &Db, manager: UserId, owner: UserId, starts_at: DateTime<Utc>) -> Meeting {
    let new = NewBooking {
        manager,
        owners: vec![owner],
        starts_at,
        ends_at: starts_at + TimeDelta::hours(1),
        mode: BookingMode::Single,
        period_key: period_key(starts_at, LimitPeriod::Week, MOSCOW),
        limit: 10,
        reminder_offsets: Vec::new(),
        correlation_id: Some("seed".to_owned()),
    };
    db.write(move |c| Ok(meetings::book(c, &new, now())))
        .await
        .unwrap()
        .unwrap()
}

async fn meeting(db: &Db, id: MeetingId) -> Meeting {
    db.read(move |c| meetings::find(c, id))
        .await
        .unwrap()
        .unwrap()
}

/// What the owner's actions change in a meeting (the worker's calendar
/// sync changes other columns meanwhile).
fn state(meeting: &Meeting) -> (MeetingStatus, Option<String>, i32, DateTime<Utc>) {
    (
        meeting.status,
        meeting.cancel_reason.clone(),
        meeting.revision,
        meeting.starts_at,
    )
}

/// The people and meetings of both tests.
struct World {
    olga: User,
    anna: User,
    /// Wed 19:00–20:00 in Yekaterinburg.
    today: Meeting,
    /// Wed 19:30 UTC: already Thursday 00:30 in Yekaterinburg.
    thursday: Meeting,
    /// Fri 14:00 in Yekaterinburg.
    friday: Meeting,
    /// Sun 19:30 UTC: Monday 00:30 next week in Yekaterinburg.
    monday: Meeting,
    /// Mon 30.11 11:00 in Yekaterinburg, never closed.
    past_monday: Meeting,
    /// Tue 01.12 11:00 in Yekaterinburg, never closed.
    past_tuesday: Meeting,
    /// 15.11: over for too long to be offered for closing.
    old: Meeting,
    /// Pavel's meeting with Anna.
    pavels: Meeting,
}

async fn world(db: &Db) -> World {
    let olga = seed(db, 801, "Olga", "Owner", Role::Owner, "Asia/Yekaterinburg").await;
    let pavel = seed(db, 802, "Pavel", "Other", Role::Owner, "Europe/Moscow").await;
    let anna = seed(db, 803, "Anna", "Smith", Role::Manager, "Europe/Moscow").await;
    let with_olga = |at| book(db, anna.id, olga.id, at);
    World {
        today: with_olga(utc(2, 14, 0)).await,
        thursday: with_olga(utc(2, 19, 30)).await,
        friday: with_olga(utc(4, 9, 0)).await,
        monday: with_olga(utc(6, 19, 30)).await,
        past_monday: with_olga(utc(30, 6, 0)).await,
        past_tuesday: with_olga(utc(1, 6, 0)).await,
        old: with_olga(Utc.with_ymd_and_hms(2026, 11, 15, 6, 0, 0).unwrap()).await,
        pavels: book(db, anna.id, pavel.id, utc(3, 6, 0)).await,
        olga,
        anna,
    }
}

/// Everything `/meetings` can change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    meetings: Vec<Meeting>,
    audit_rows: i64,
    dialogues: Vec<(i64, String)>,
}

async fn snapshot(db: &Db) -> Snapshot {
    db.read(|c| {
        use schema::{audit_log, dialogue_states as d, meetings as m};
        Ok(Snapshot {
            meetings: m::table.order(m::id).select(Meeting::as_select()).load(c)?,
            audit_rows: audit_log::table.count().get_result(c)?,
            dialogues: d::table
                .order(d::telegram_id)
                .select((d::telegram_id, d::state))
                .load(c)?,
        })
    })
    .await
    .unwrap()
}

/// The tabs in the owner's zone, cancelling with a reason (bad ones
/// explained, a restart in between, `/cancel` keeping a meeting), closing
/// as completed and no-show — each change audited and the manager told.
async fn owners_list_cancel_and_close_their_meetings(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    move_clock_to(&stack, now());
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let w = world(&db).await;
    let olga = Person::new(&stack, 801, "Olga", "en");
    let anna = Person::new(&stack, 803, "Anna", "en").with_chat();

    // Today, in Olga's zone.
    let list = olga.says("/meetings", "Meetings with you today").await;
    assert!(
        list.text
            .contains("1. Wed 02.12.2026, 19:00–20:00 (Asia/Yekaterinburg) · with Anna Smith"),
        "{}",
        list.text
    );
    for label in [
        "• Today (1)",
        "This week (2)",
        "Later (1)",
        "To close (2)",
        "❌ 1. Wed 02.12 19:00",
    ] {
        assert!(list.callback_data(label).is_some(), "{label}: {list:?}");
    }

    // The rest of the week starts at Olga's midnight, not UTC's.
    let (week, _) = olga
        .presses_button("This week (2)", "later this week")
        .await;
    assert_eq!(week.message_id, list.message_id, "changes in place");
    for expected in [
        "1. Thu 03.12.2026, 00:30–01:30 (Asia/Yekaterinburg) · with Anna Smith",
        "2. Fri 04.12.2026, 14:00–15:00 (Asia/Yekaterinburg) · with Anna Smith",
    ] {
        assert!(week.text.contains(expected), "{expected}: {}", week.text);
    }
    assert!(week.callback_data("• This week (2)").is_some());
    let (later, _) = olga.presses_button("Later (1)", "after this week").await;
    assert!(
        later
            .text
            .contains("1. Mon 07.12.2026, 00:30–01:30 (Asia/Yekaterinburg)"),
        "{}",
        later.text
    );
    let (to_close, _) = olga
        .presses_button("To close (2)", "Meetings to close")
        .await;
    for expected in [
        "1. Mon 30.11.2026, 11:00–12:00 (Asia/Yekaterinburg)",
        "2. Tue 01.12.2026, 11:00–12:00 (Asia/Yekaterinburg)",
    ] {
        assert!(to_close.text.contains(expected), "{}", to_close.text);
    }
    assert!(!to_close.text.contains("15.11.2026"), "{}", to_close.text);
    assert!(to_close.callback_data("✅ 2. Completed").is_some());
    assert!(to_close.callback_data("❌ 1. Mon 30.11 11:00").is_none());

    // Cancel today's meeting: the question survives a restart.
    olga.presses_button("Today (1)", "Meetings with you today")
        .await;
    let (question, _) = olga
        .presses_button("❌ 1. Wed 02.12 19:00", "Cancel the meeting?")
        .await;
    assert!(
        question.text.contains("with Anna Smith"),
        "{}",
        question.text
    );
    assert_eq!(
        dialogue(&db, 801).await,
        Some(serde_json::json!({"owner_meetings": "cancel_reason", "meeting": w.today.id.0}))
    );
    assert!(stack.bot.as_mut().unwrap().terminate().await.success());
    stack.start_bot().await;
    olga.says("   ", "The reason is empty").await;
    olga.says(&"x".repeat(501), "has 501 characters").await;
    olga.says("bell\u{7}", "control characters").await;
    assert_eq!(
        state(&meeting(&db, w.today.id).await),
        state(&w.today),
        "nothing changed"
    );

    let reason = "Ill today, <sorry> & co";
    let done = olga.says(reason, "is cancelled").await;
    assert!(
        done.text.contains("Nothing more is booked with you today."),
        "{}",
        done.text
    );
    assert!(done.callback_data("• Today (0)").is_some(), "{done:?}");
    let notice = anna.gets_after(0, "Meeting cancelled").await;
    for expected in [
        "Olga Owner cancelled the meeting Wed 02.12.2026, 17:00–18:00 (Europe/Moscow).",
        &format!("Reason: {reason}"),
    ] {
        assert!(
            notice.text.contains(expected),
            "{expected}: {}",
            notice.text
        );
    }
    assert!(notice.callback_data("📋 My meetings").is_some());
    let cancelled = meeting(&db, w.today.id).await;
    assert_eq!(cancelled.status, MeetingStatus::Cancelled);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some(reason));
    assert_eq!(cancelled.cancelled_by, Some(w.olga.id));
    assert_eq!(cancelled.revision, w.today.revision + 1);
    assert_eq!(dialogue(&db, 801).await, None);
    let trail = audit_trail(&db, w.anna.id).await;
    let row = trail
        .iter()
        .find(|r| r.action == "meeting.cancelled")
        .expect("audited");
    assert_eq!(row.actor_id, Some(w.olga.id));
    assert_eq!(
        row.target.as_deref(),
        Some(&*format!("meeting:{}", w.today.id))
    );
    assert_eq!(row.data_json()["reason"], reason);
    assert_eq!(row.data_json()["starts_at"], w.today.starts_at.to_rfc3339());

    // `/cancel` leaves the question and keeps the meeting.
    olga.presses_button("This week (2)", "later this week")
        .await;
    olga.presses_button("❌ 2. Fri 04.12 14:00", "Cancel the meeting?")
        .await;
    olga.says("/cancel", "Cancelled.").await;
    assert_eq!(state(&meeting(&db, w.friday.id).await), state(&w.friday));
    assert_eq!(dialogue(&db, 801).await, None);

    // Closing: completed, then no-show; the manager told once each.
    olga.says("/meetings", "Meetings with you today").await;
    olga.presses_button("To close (2)", "Meetings to close")
        .await;
    let (closed, toast) = olga
        .presses_button("✅ 1. Completed", "Marked as completed")
        .await;
    assert_eq!(toast.as_deref(), Some("Marked as completed."));
    assert!(
        closed
            .text
            .contains("1. Tue 01.12.2026, 11:00–12:00 (Asia/Yekaterinburg)"),
        "{}",
        closed.text
    );
    assert!(closed.callback_data("• To close (1)").is_some());
    let (_, toast) = olga
        .presses_button("🚫 1. No-show", "Marked as a no-show")
        .await;
    assert_eq!(toast.as_deref(), Some("Marked as a no-show."));
    anna.gets_after(
        0,
        "Olga Owner marked the meeting Mon 30.11.2026, 09:00–10:00 (Europe/Moscow) as completed.",
    )
    .await;
    anna.gets_after(
        0,
        "Olga Owner marked the meeting Tue 01.12.2026, 09:00–10:00 (Europe/Moscow) as a no-show.",
    )
    .await;
    assert_eq!(anna.messages_with("as completed").len(), 1);
    assert_eq!(anna.messages_with("as a no-show").len(), 1);
    assert_eq!(
        meeting(&db, w.past_monday.id).await.status,
        MeetingStatus::Completed
    );
    assert_eq!(
        meeting(&db, w.past_tuesday.id).await.status,
        MeetingStatus::NoShow
    );
    for (action, id) in [
        ("meeting.completed", w.past_monday.id),
        ("meeting.no_show", w.past_tuesday.id),
    ] {
        let trail = audit_trail(&db, w.anna.id).await;
        let row = trail
            .iter()
            .find(|r| r.action == action)
            .unwrap_or_else(|| panic!("{action} audited"));
        assert_eq!(row.target.as_deref(), Some(&*format!("meeting:{id}")));
        assert_eq!(row.actor_id, Some(w.olga.id));
    }
    // Untouched: the old one, the others of the week, Pavel's.
    for untouched in [&w.old, &w.thursday, &w.monday, &w.pavels] {
        assert_eq!(state(&meeting(&db, untouched.id).await), state(untouched));
    }
    stack.assert_no_secret_in_logs();
}

/// Presses that must not work — by a manager, by another owner, on
/// meetings cancelled or closed, outcomes of meetings not started yet,
/// cancelling a started one, garbage — change nothing; a reason typed
/// after the meeting was cancelled meanwhile cancels nothing.
async fn forged_and_outdated_presses_change_nothing(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    move_clock_to(&stack, now());
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let w = world(&db).await;
    let (anna_id, monday, past_monday) = (w.anna.id, w.monday.id, w.past_monday.id);
    db.write(move |c| {
        meetings::cancel(c, monday, anna_id, Some("manager's reason"), now()).unwrap();
        meetings::mark_outcome(c, past_monday, Outcome::Completed, now()).unwrap();
        Ok(())
    })
    .await
    .unwrap();
    let olga = Person::new(&stack, 801, "Olga", "en");
    let pavel = Person::new(&stack, 802, "Pavel", "en");
    let anna = Person::new(&stack, 803, "Anna", "en");

    anna.says("/meetings", "booked with an owner").await;

    // A long tab comes a page at a time: Pavel has eight meetings in the
    // week of 14 December.
    let pavel_id = db
        .read(|c| {
            Ok(schema::users::table
                .filter(schema::users::telegram_id.eq(802))
                .select(schema::users::id)
                .first::<UserId>(c)?)
        })
        .await
        .unwrap();
    for day in 14..=17 {
        for hour in [6, 8] {
            book(&db, anna_id, pavel_id, utc(day, hour, 0)).await;
        }
    }
    pavel.says("/meetings", "Meetings with you").await;
    let (first, _) = pavel.presses_button("Later (8)", "Page 1 of 2").await;
    assert!(
        first
            .text
            .contains("6. Wed 16.12.2026, 11:00–12:00 (Europe/Moscow) · with Anna Smith"),
        "{}",
        first.text
    );
    assert!(!first.text.contains("7. "), "{}", first.text);
    assert!(first.callback_data("◀️ Earlier").is_none());
    let (second, _) = pavel.presses_button("Later ▶️", "Page 2 of 2").await;
    assert!(
        second.text.contains("8. Thu 17.12.2026, 11:00–12:00"),
        "{}",
        second.text
    );
    assert!(
        second.callback_data("❌ 7. Thu 17.12 09:00").is_some(),
        "{second:?}"
    );
    assert!(second.callback_data("Later ▶️").is_none());
    pavel.presses_button("◀️ Earlier", "Page 1 of 2").await;
    olga.says("/meetings", "Meetings with you today").await;
    let before = snapshot(&db).await;

    let cancel = |id: MeetingId| format!("om:cancel:{id}");
    let done = |id: MeetingId| format!("om:done:{id}");
    let no_show = |id: MeetingId| format!("om:noshow:{id}");
    // A manager pressing owner buttons, even on their own meetings.
    for data in [
        "om:list".to_owned(),
        cancel(w.today.id),
        done(w.past_tuesday.id),
    ] {
        assert_eq!(
            anna.forges(&data).await.as_deref(),
            Some(NOT_ALLOWED),
            "{data}"
        );
    }
    // Another owner on Olga's meetings.
    for data in [
        cancel(w.today.id),
        done(w.past_tuesday.id),
        no_show(w.past_tuesday.id),
    ] {
        assert_eq!(
            pavel.forges(&data).await.as_deref(),
            Some(NOT_ALLOWED),
            "{data}"
        );
    }
    // Olga on meetings that cannot take the action any more (or yet).
    for (data, expected) in [
        (
            cancel(w.monday.id),
            "This meeting has already been cancelled.",
        ),
        (
            done(w.monday.id),
            "This meeting has already been cancelled.",
        ),
        (
            done(w.past_monday.id),
            "This meeting has already been closed.",
        ),
        (
            cancel(w.past_monday.id),
            "This meeting has already been closed.",
        ),
        (
            done(w.friday.id),
            "This meeting has not started yet: mark it completed or no-show once it has begun.",
        ),
        (
            no_show(w.today.id),
            "This meeting has not started yet: mark it completed or no-show once it has begun.",
        ),
        (
            cancel(w.past_tuesday.id),
            "This meeting has already started, so it can no longer be cancelled: mark how it went under “To close”.",
        ),
        (cancel(w.pavels.id), NOT_ALLOWED),
        (cancel(MeetingId(999_999)), STALE),
        ("om:cancel:01".to_owned(), STALE),
        ("om:cancel:".to_owned(), STALE),
        ("om:".to_owned(), STALE),
        ("om:tab:today:1000".to_owned(), STALE),
        ("om:tab:tomorrow:0".to_owned(), STALE),
        ("om:done:-1".to_owned(), STALE),
    ] {
        assert_eq!(
            olga.forges(&data).await.as_deref(),
            Some(expected),
            "{data}"
        );
    }
    assert_eq!(snapshot(&db).await, before, "nothing changed");

    // A reason typed after the manager cancelled meanwhile cancels nothing.
    olga.says("/meetings", "Meetings with you today").await;
    olga.presses_button("❌ 1. Wed 02.12 19:00", "Cancel the meeting?")
        .await;
    let today = w.today.id;
    db.write(move |c| {
        meetings::cancel(c, today, anna_id, Some("conflict"), now()).unwrap();
        Ok(())
    })
    .await
    .unwrap();
    olga.says("Sorry, ill", "already been cancelled").await;
    let row = meeting(&db, w.today.id).await;
    assert_eq!(row.cancel_reason.as_deref(), Some("conflict"));
    assert_eq!(row.cancelled_by, Some(w.anna.id));
    assert_eq!(dialogue(&db, 801).await, None);
    assert!(
        audit_trail(&db, w.anna.id)
            .await
            .iter()
            .all(|r| r.actor_id != Some(w.olga.id)),
        "nothing audited for Olga"
    );
}

on_both_backends!(
    owners_list_cancel_and_close_their_meetings,
    forged_and_outdated_presses_change_nothing,
);
