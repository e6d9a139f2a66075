//! Booking through the real bot, on both databases: `/schedule` → owner →
//! day (with counts) → time → confirm; the owner told in their own zone;
//! the limit with the next possible date; "I'm back" for an away manager;
//! `/my_meetings` cancel and move; forged and stale presses refused with
//! nothing changed; and managers racing for one slot (or for overlapping
//! slots) through the bot: exactly one meeting, everyone else told.

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc, Weekday};
use diesel::prelude::*;
use shared::clock::Clock;
use shared::db::Db;
use shared::db::meetings::{self, Meeting};
use shared::db::schema;
use shared::db::types::{MeetingId, UserId, UtcTime};
use shared::db::users::User;
use shared::domain::booking::{MeetingStatus, period_key};
use shared::domain::settings::LimitPeriod;
use shared::domain::user::{Language, Role, WorkStatus};
use testkit::db::TestDb;
use testkit::fake_telegram::BotMessage;
use testkit::people::Person;
use testkit::records::{SeedUser, audit_actions, offer_weekdays, user};
use testkit::stack::{Stack, StackConfig};

const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;
/// UTC+5 all year: two hours ahead of Moscow.
const YEKATERINBURG: chrono_tz::Tz = chrono_tz::Asia::Yekaterinburg;

async fn seed(db: &Db, telegram_id: i64, first: &str, role: Role, zone: chrono_tz::Tz) -> User {
    SeedUser::new(telegram_id, first, "Test")
        .role(Some(role))
        .language(Language::En)
        .time_zone(zone.name())
        .department_named("IT")
        .insert(db)
        .await
}

/// Everything booking can change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    meetings: Vec<(MeetingId, String, UtcTime, i32)>,
    claims: i64,
    quotas: Vec<(UserId, String, i32)>,
    reminders: i64,
    audit_rows: i64,
}

async fn snapshot(db: &Db) -> Snapshot {
    db.read(|c| {
        use schema::{audit_log, booking_quotas as q, meetings as m, reminders, slot_claims};
        Ok(Snapshot {
            meetings: m::table
                .order(m::id)
                .select((m::id, m::status, m::starts_at, m::revision))
                .load(c)?,
            claims: slot_claims::table.count().get_result(c)?,
            quotas: q::table
                .order((q::manager_id, q::period_key))
                .select((q::manager_id, q::period_key, q::used))
                .load(c)?,
            reminders: reminders::table.count().get_result(c)?,
            audit_rows: audit_log::table.count().get_result(c)?,
        })
    })
    .await
    .unwrap()
}

async fn meetings_of(db: &Db, manager: UserId) -> Vec<Meeting> {
    db.read(move |c| {
        use schema::meetings as m;
        Ok(m::table
            .filter(m::manager_id.eq(manager))
            .order(m::id)
            .select(Meeting::as_select())
            .load(c)?)
    })
    .await
    .unwrap()
}

async fn find_meeting(db: &Db, id: MeetingId) -> Meeting {
    db.read(move |c| meetings::find(c, id))
        .await
        .unwrap()
        .unwrap()
}

async fn claims_of(db: &Db, meeting: MeetingId) -> Vec<DateTime<Utc>> {
    db.read(move |c| {
        use schema::slot_claims as sc;
        let cells: Vec<UtcTime> = sc::table
            .filter(sc::meeting_id.eq(meeting))
            .order(sc::cell_start)
            .select(sc::cell_start)
            .load(c)?;
        Ok(cells.into_iter().map(|c| c.0).collect())
    })
    .await
    .unwrap()
}

/// The `.ics` text a message carries.
fn ics_of(message: &BotMessage) -> String {
    let document = message.document.clone().expect("a document");
    String::from_utf8(document.bytes.to_vec()).expect("UTF-8")
}

/// Book, be told in both zones, hit the limit, cancel, move; the audit
/// trail and the database follow every step.
async fn a_manager_books_cancels_and_moves(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    stack.start_worker().await;
    let db = stack.db.db.clone();
    let owner = seed(&db, 601, "Olga", Role::Owner, MOSCOW).await;
    let manager = seed(&db, 602, "Ivan", Role::Manager, YEKATERINBURG).await;
    offer_weekdays(&db, owner.id, &[600, 660, 840]).await;
    let olga = Person::new(&stack, 601, "Olga", "en");
    let ivan = Person::new(&stack, 602, "Ivan", "en");

    // Owners are not offered booking; managers are.
    olga.says("/schedule", "Booking is for managers").await;
    let confirm = ivan.reaches_confirm("Olga Test").await;
    assert!(
        confirm.text.contains("(Asia/Yekaterinburg)"),
        "{}",
        confirm.text
    );
    let (booked, toast) = ivan
        .presses(
            confirm.message_id,
            confirm.callback_data("✅ Book").unwrap(),
            "Booked!",
        )
        .await;
    assert_eq!(toast.as_deref(), Some("Booked"));
    assert_eq!(booked.message_id, confirm.message_id, "changes in place");
    let [meeting] = meetings_of(&db, manager.id).await.try_into().unwrap();
    assert_eq!(meeting.status, MeetingStatus::Scheduled);
    assert_eq!(meeting.ends_at - meeting.starts_at, TimeDelta::hours(1));
    assert_eq!(claims_of(&db, meeting.id).await.len(), 4);
    // Ivan sees his own zone; Olga is told in hers (two hours earlier).
    let ivan_time = meeting
        .starts_at
        .with_timezone(&YEKATERINBURG)
        .format("%H:%M")
        .to_string();
    let olga_time = meeting
        .starts_at
        .with_timezone(&MOSCOW)
        .format("%H:%M")
        .to_string();
    assert!(
        booked.text.contains(&format!(", {ivan_time}–")),
        "{}",
        booked.text
    );
    let notice = olga.gets_after(0, "New meeting").await;
    assert!(
        notice.text.contains(&format!(", {olga_time}–")),
        "{}",
        notice.text
    );
    assert!(notice.text.contains("(Europe/Moscow)"), "{}", notice.text);
    assert!(notice.text.contains("with Ivan Test"), "{}", notice.text);
    let weekday = meeting
        .starts_at
        .with_timezone(&MOSCOW)
        .weekday()
        .to_string();
    assert!(
        notice.text.contains(&weekday[..3]),
        "{weekday}: {}",
        notice.text
    );
    assert!(
        audit_actions(&db, manager.id)
            .await
            .contains(&"meeting.booked".to_owned())
    );
    // The worker follows with the calendar invite, each in their own zone.
    for (person, zone) in [(&ivan, YEKATERINBURG), (&olga, MOSCOW)] {
        let invite = ics_of(&person.gets_after(0, "Calendar invite").await);
        assert!(invite.contains("METHOD:REQUEST"), "{invite}");
        assert!(
            invite.contains(&format!("TZID={}", zone.name())),
            "{invite}"
        );
    }

    // The week of that meeting is full now (limit 1 per week): its days
    // are left out, and when every offered week is full, the next possible
    // date is named.
    let owners = ivan.says("/schedule", "Whom would you like to meet?").await;
    let (days, _) = ivan
        .presses(
            owners.message_id,
            owners.callback_data("Olga Test").unwrap(),
            "Olga Test",
        )
        .await;
    let full_week = meeting.period_key.clone();
    for (_, data) in days.buttons_with(" · ") {
        let date = data.rsplit(':').next().unwrap();
        let date = chrono::NaiveDate::parse_from_str(date, "%Y%m%d").unwrap();
        let noon = MOSCOW
            .from_local_datetime(&date.and_hms_opt(12, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc);
        assert_ne!(
            period_key(noon, LimitPeriod::Week, MOSCOW),
            full_week,
            "{date}"
        );
    }
    fill_every_week(&db, manager.id).await;
    let (limit, _) = ivan
        .presses(
            owners.message_id,
            owners.callback_data("Olga Test").unwrap(),
            "that is the limit",
        )
        .await;
    assert!(
        limit.text.contains("The next possible date is"),
        "{}",
        limit.text
    );
    clear_quota_rows_except(&db, manager.id, &full_week).await;

    // Cancel from /my_meetings: asked first, then the owner is told.
    let (cancelled, toast) = ivan.cancels_first_meeting("Cancelled:").await;
    assert_eq!(toast.as_deref(), Some("Cancelled"));
    assert!(
        cancelled.text.contains("no upcoming meetings"),
        "{}",
        cancelled.text
    );
    olga.gets_after(0, "Meeting cancelled").await;
    let cancel = ics_of(&ivan.gets_after(0, "❌ Cancelled:").await);
    assert!(cancel.contains("METHOD:CANCEL"), "{cancel}");
    let [meeting] = meetings_of(&db, manager.id).await.try_into().unwrap();
    assert_eq!(meeting.status, MeetingStatus::Cancelled);
    assert_eq!(meeting.cancelled_by, Some(manager.id));
    assert!(claims_of(&db, meeting.id).await.is_empty());
    assert!(
        snapshot(&db)
            .await
            .quotas
            .iter()
            .all(|(_, _, used)| *used == 0)
    );

    // Book again, then move it: the old cells are freed, the owner told.
    ivan.books_first_free_slot("Olga Test").await;
    let booked = meetings_of(&db, manager.id).await.pop().unwrap();
    let (moved, toast) = ivan.moves_first_meeting_to_last_slot().await;
    assert_eq!(toast.as_deref(), Some("Moved"));
    assert!(moved.text.contains("was:"), "{}", moved.text);
    let after = find_meeting(&db, booked.id).await;
    assert_ne!(after.starts_at, booked.starts_at);
    assert_eq!(after.revision, 2);
    assert_eq!(
        claims_of(&db, booked.id).await.first().copied(),
        Some(after.starts_at)
    );
    olga.gets_after(0, "Meeting moved").await;
    let actions = audit_actions(&db, manager.id).await;
    for action in ["meeting.booked", "meeting.cancelled", "meeting.rescheduled"] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action}: {actions:?}"
        );
    }
}

/// Marks every limit period of the horizon full for `manager`.
async fn fill_every_week(db: &Db, manager: UserId) {
    let now = Clock::system().now();
    let keys: Vec<String> = (0..=15)
        .map(|day| period_key(now + TimeDelta::days(day), LimitPeriod::Week, MOSCOW))
        .collect();
    db.write(move |c| {
        use schema::booking_quotas as q;
        for key in keys {
            diesel::delete(
                q::table
                    .filter(q::manager_id.eq(manager))
                    .filter(q::period_key.eq(&key)),
            )
            .execute(c)?;
            diesel::insert_into(q::table)
                .values((
                    q::manager_id.eq(manager),
                    q::period_key.eq(&key),
                    q::used.eq(1),
                ))
                .execute(c)?;
        }
        Ok(())
    })
    .await
    .unwrap();
}

/// Undoes [`fill_every_week`] except for the period the real meeting
/// counts in.
async fn clear_quota_rows_except(db: &Db, manager: UserId, keep: &str) {
    let keep = keep.to_owned();
    db.write(move |c| {
        use schema::booking_quotas as q;
        diesel::delete(
            q::table
                .filter(q::manager_id.eq(manager))
                .filter(q::period_key.ne(&keep)),
        )
        .execute(c)?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A manager on vacation is asked to come back first; one tap sets them
/// working (audited) and goes on to booking.
async fn an_away_manager_comes_back_first(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let owner = seed(&db, 611, "Olga", Role::Owner, MOSCOW).await;
    let manager = seed(&db, 612, "Ivan", Role::Manager, MOSCOW).await;
    offer_weekdays(&db, owner.id, &[600]).await;
    let id = manager.id;
    db.write(move |c| {
        shared::db::users::set_work_status(c, id, WorkStatus::Vacation, None, Clock::system().now())
    })
    .await
    .unwrap();
    let ivan = Person::new(&stack, 612, "Ivan", "en");
    let away = ivan.says("/schedule", "are you back?").await;
    assert!(away.text.contains("on vacation"), "{}", away.text);
    // Booking buttons do nothing while away.
    let before = snapshot(&db).await;
    ivan.forges(&format!("bk:d:o{}", owner.id.0)).await;
    ivan.gets_after(away.message_id - 1, "are you back?").await;
    assert_eq!(snapshot(&db).await, before);
    let (back, toast) = ivan.presses_button("👋 I'm back", "Welcome back!").await;
    assert_eq!(toast.as_deref(), Some("Welcome back"));
    assert!(
        back.text.contains("Whom would you like to meet?"),
        "{}",
        back.text
    );
    assert_eq!(
        user(&db, 612).await.unwrap().work_status,
        WorkStatus::Working
    );
    assert!(
        audit_actions(&db, manager.id)
            .await
            .contains(&"profile.work_status_set".to_owned())
    );
}

/// Forged presses change nothing: someone else's meeting, a slot outside
/// availability or in the past, moving a cancelled meeting, an owner
/// pressing booking buttons, garbage.
async fn forged_booking_presses_change_nothing(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let owner = seed(&db, 621, "Olga", Role::Owner, MOSCOW).await;
    let ivan_row = seed(&db, 622, "Ivan", Role::Manager, MOSCOW).await;
    seed(&db, 623, "Petr", Role::Manager, MOSCOW).await;
    offer_weekdays(&db, owner.id, &[600, 660]).await;
    let olga = Person::new(&stack, 621, "Olga", "en");
    let ivan = Person::new(&stack, 622, "Ivan", "en");
    let petr = Person::new(&stack, 623, "Petr", "en");

    let confirm = ivan.reaches_confirm("Olga Test").await;
    ivan.presses(
        confirm.message_id,
        confirm.callback_data("✅ Book").unwrap(),
        "Booked!",
    )
    .await;
    let meeting = meetings_of(&db, ivan_row.id).await.pop().unwrap();
    petr.says("/my_meetings", "no upcoming meetings").await;
    let before = snapshot(&db).await;

    // Someone else's meeting: cancel, ask to cancel, move.
    for data in [
        format!("mm:xy:{}", meeting.id.0),
        format!("mm:x:{}", meeting.id.0),
        format!("mm:r:{}", meeting.id.0),
        format!(
            "bk:y:m{}:{}",
            meeting.id.0,
            meeting.starts_at.timestamp() + 86_400
        ),
    ] {
        assert_eq!(
            petr.forges(&data).await.as_deref(),
            Some("You are not allowed to do that."),
            "{data}"
        );
    }
    // A slot outside availability (03:00), in the past, off the grid.
    let tomorrow_3am = (Clock::system().now() + TimeDelta::days(1))
        .with_timezone(&MOSCOW)
        .date_naive()
        .and_hms_opt(3, 0, 0)
        .unwrap();
    let outside = MOSCOW
        .from_local_datetime(&tomorrow_3am)
        .unwrap()
        .timestamp();
    let past = meeting.starts_at.timestamp() - 7 * 86_400;
    for start in [outside, past, meeting.starts_at.timestamp() + 60] {
        let toast = petr.forges(&format!("bk:y:o{}:{start}", owner.id.0)).await;
        assert_eq!(
            toast.as_deref(),
            Some("That time was just taken"),
            "{start}"
        );
    }
    // The slot Ivan holds.
    let toast = petr
        .forges(&format!(
            "bk:y:o{}:{}",
            owner.id.0,
            meeting.starts_at.timestamp()
        ))
        .await;
    assert_eq!(toast.as_deref(), Some("That time was just taken"));
    // Owners cannot book; garbage is stale.
    assert_eq!(
        olga.forges(&format!(
            "bk:y:o{}:{}",
            owner.id.0,
            meeting.starts_at.timestamp()
        ))
        .await
        .as_deref(),
        Some("You are not allowed to do that.")
    );
    for data in ["bk:zzz", "bk:y:o1", "mm:xy:abc", "bk:d:o999999"] {
        let toast = petr.forges(data).await;
        assert!(toast.is_some(), "{data}");
    }
    assert_eq!(snapshot(&db).await, before, "nothing changed");

    // Moving a cancelled meeting: told, nothing changes.
    let id = meeting.id;
    let manager = ivan_row.id;
    db.write(move |c| {
        meetings::cancel(c, id, manager, None, Clock::system().now())
            .map(|_| ())
            .map_err(|e| match e {
                shared::domain::booking::BookingError::Db(e) => e,
                other => panic!("{other:?}"),
            })
    })
    .await
    .unwrap();
    let before = snapshot(&db).await;
    let later = meeting.starts_at.timestamp() + 86_400;
    ivan.forges(&format!("bk:y:m{}:{later}", meeting.id.0))
        .await;
    ivan.gets_after(0, "no longer scheduled").await;
    assert_eq!(snapshot(&db).await, before);
}

/// Fifty managers press "Book" on the same slot at once: one meeting, 49
/// told the time was just taken. Then overlapping slots (10:00 and 10:30
/// with 60-minute meetings) raced the same way: still one meeting.
async fn fifty_managers_race_for_one_slot(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let owner = seed(&db, 631, "Olga", Role::Owner, MOSCOW).await;
    offer_weekdays(&db, owner.id, &[600, 630]).await;
    let mut managers = Vec::new();
    for n in 0..50 {
        let id = 6_400 + n;
        seed(&db, id, &format!("M{n}"), Role::Manager, MOSCOW).await;
        let person = Person::new(&stack, id, &format!("M{n}"), "en");
        let owners = person
            .says("/schedule", "Whom would you like to meet?")
            .await;
        managers.push((person, owners.message_id));
    }
    // The first free 10:00 slot (Moscow), as the day screens would offer it.
    let first = next_weekday_at(10, 0);
    let overlapping = first + TimeDelta::minutes(30);

    for (round, starts) in [
        (0, vec![first; 50]),
        (
            1,
            (0..50)
                .map(|n| if n % 2 == 0 { first } else { overlapping } + TimeDelta::days(7))
                .collect(),
        ),
    ] {
        let presses: Vec<i64> = managers
            .iter()
            .zip(&starts)
            .map(|((person, message), start)| {
                person.user.press(
                    *message,
                    &format!("bk:y:o{}:{}", owner.id.0, start.timestamp()),
                )
            })
            .collect();
        let mut booked = 0;
        let mut refused = 0;
        for ((person, _), update) in managers.iter().zip(presses) {
            match person.toast(update).await.as_deref() {
                Some("Booked") => booked += 1,
                Some("That time was just taken" | "Meeting limit reached") => refused += 1,
                other => panic!("round {round}: unexpected answer {other:?}"),
            }
        }
        assert_eq!((booked, refused), (1, 49), "round {round}");
    }
    let all = db
        .read(|c| {
            use schema::meetings as m;
            Ok(m::table.select(Meeting::as_select()).load::<Meeting>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "one meeting per round");
}

/// The next weekday (Moscow) at least a day ahead, at `hour:minute`.
fn next_weekday_at(hour: u32, minute: u32) -> DateTime<Utc> {
    let mut date = (Clock::system().now() + TimeDelta::days(1))
        .with_timezone(&MOSCOW)
        .date_naive();
    while matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        date = date.succ_opt().unwrap();
    }
    MOSCOW
        .from_local_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

on_both_backends!(
    a_manager_books_cancels_and_moves,
    an_away_manager_comes_back_first,
    forged_booking_presses_change_nothing,
    fifty_managers_race_for_one_slot,
);
