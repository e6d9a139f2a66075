//! Owner availability through the real bot, on both databases: the week
//! overview, a day's start times toggled in a draft and saved at once,
//! "Back" dropping a draft, "Copy to Mon–Fri", the slot length; blocked
//! time added from typed text (bad texts explained), listed, refused when
//! it overlaps another block or a meeting, removed with its claims; and
//! everyone who may not touch it — managers, other owners, forged and
//! stale buttons — refused with nothing changed.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;
use shared::clock::Clock;
use shared::db::Db;
use shared::db::audit::AuditRecord;
use shared::db::blocked_periods::{self, AddOutcome, NewBlockedPeriod};
use shared::db::schema;
use shared::db::types::{BlockedPeriodId, MeetingId, UserId, UtcTime};
use shared::db::users::{self, User};
use shared::domain::user::{Language, Role};
use testkit::db::TestDb;
use testkit::people::Person;
use testkit::records::{SeedUser, audit_trail, dialogue};
use testkit::stack::{Stack, StackConfig};

const MOSCOW: chrono_tz::Tz = chrono_tz::Europe::Moscow;

/// Stores an active user directly (registration has its own tests).
async fn seed(db: &Db, telegram_id: i64, name: &str, role: Role, language: Language) -> User {
    SeedUser::new(telegram_id, name, "Test")
        .role(Some(role))
        .language(language)
        .time_zone(MOSCOW.name())
        .department_named("IT")
        .insert(db)
        .await
}

/// Everything availability can change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    slots: Vec<(i64, i32, i32)>,
    settings: Vec<(i64, i32)>,
    blocks: Vec<(i64, i64, String)>,
    claims: Vec<(i64, UtcTime, Option<MeetingId>, Option<BlockedPeriodId>)>,
    audit_rows: i64,
    dialogues: Vec<(i64, String)>,
}

async fn snapshot(db: &Db) -> Snapshot {
    db.read(|c| {
        use schema::{
            audit_log, availability_slots as s, blocked_periods as b, dialogue_states as d,
            owner_settings as o, slot_claims as sc,
        };
        Ok(Snapshot {
            slots: s::table
                .order((s::owner_id, s::weekday, s::start_minute))
                .select((s::owner_id, s::weekday, s::start_minute))
                .load(c)?,
            settings: o::table
                .order(o::owner_id)
                .select((o::owner_id, o::slot_minutes))
                .load(c)?,
            blocks: b::table
                .order(b::id)
                .select((b::id, b::owner_id, b::reason))
                .load(c)?,
            claims: sc::table
                .order((sc::owner_id, sc::cell_start))
                .select((
                    sc::owner_id,
                    sc::cell_start,
                    sc::meeting_id,
                    sc::blocked_period_id,
                ))
                .load(c)?,
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

/// The owner's weekly grid rows `(weekday, start minute)`.
async fn slots(db: &Db, owner: UserId) -> Vec<(i32, i32)> {
    db.read(move |c| {
        use schema::availability_slots as s;
        Ok(s::table
            .filter(s::owner_id.eq(owner))
            .order((s::weekday, s::start_minute))
            .select((s::weekday, s::start_minute))
            .load(c)?)
    })
    .await
    .unwrap()
}

/// The audit rows about a user with this action, oldest first.
async fn audited(db: &Db, id: UserId, action: &str) -> Vec<AuditRecord> {
    let mut records = audit_trail(db, id).await;
    records.retain(|r| r.action == action);
    records
}

/// Claims per holder: `(blocked period or meeting, cells)`.
async fn claims_of_block(db: &Db, id: BlockedPeriodId) -> Vec<DateTime<Utc>> {
    db.read(move |c| {
        use schema::slot_claims as sc;
        let cells: Vec<UtcTime> = sc::table
            .filter(sc::blocked_period_id.eq(id))
            .order(sc::cell_start)
            .select(sc::cell_start)
            .load(c)?;
        Ok(cells.into_iter().map(|c| c.0).collect())
    })
    .await
    .unwrap()
}

async fn blocks_of(db: &Db, owner: UserId) -> Vec<blocked_periods::BlockedPeriod> {
    db.read(move |c| {
        use schema::blocked_periods as b;
        Ok(b::table
            .filter(b::owner_id.eq(owner))
            .order(b::starts_at)
            .select(blocked_periods::BlockedPeriod::as_select())
            .load(c)?)
    })
    .await
    .unwrap()
}

fn today() -> NaiveDate {
    Clock::system().now().with_timezone(&MOSCOW).date_naive()
}

fn typed(date: NaiveDate) -> String {
    date.format("%d.%m.%Y").to_string()
}

/// Local midnight in Moscow (no DST there), as UTC.
fn moscow_midnight(date: NaiveDate) -> DateTime<Utc> {
    MOSCOW
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

/// The week overview, a day's draft saved at once, "Back" dropping a
/// draft, stale toggles, "Copy to Mon–Fri" and the slot length — each
/// change in the database with its audit row, drafts only in the dialogue.
async fn the_week_grid_and_the_slot_length(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let owner_row = seed(&db, 501, "Olga", Role::Owner, Language::En).await;
    let olga = Person::new(&stack, 501, "Olga", "en");

    let overview = olga.says("/availability", "Your availability").await;
    for expected in [
        "Time zone: Europe/Moscow, UTC+3 (change it in /profile)",
        "Slot length: 60 min",
        "Mon: —",
        "Sun: —",
        "nobody can book you",
    ] {
        assert!(
            overview.text.contains(expected),
            "{expected}: {}",
            overview.text
        );
    }
    for label in [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
        "⏱ Slot length",
        "🚫 Blocked time",
    ] {
        assert!(overview.callback_data(label).is_some(), "{label}");
    }

    // Monday: the grid, toggles in a draft only.
    let (day, _) = olga.presses_button("Mon", "Chosen: none").await;
    assert_eq!(day.message_id, overview.message_id, "changes in place");
    assert!(day.text.contains("Monday"), "{}", day.text);
    let times: Vec<&str> = day
        .all_buttons()
        .filter(|b| b.text.contains(':'))
        .map(|b| b.text.as_str())
        .collect();
    assert_eq!(times.len(), 29);
    assert_eq!((times[0], times[28]), ("07:00", "21:00"));
    assert_eq!(day.buttons[0].len(), 4, "four times per row");
    for label in ["💾 Save", "🧹 Clear", "📋 Copy to Mon–Fri", "⬅️ Back"] {
        assert!(day.callback_data(label).is_some(), "{label}");
    }
    assert!(
        day.all_buttons()
            .all(|b| b.callback_data.as_ref().unwrap().len() <= 64)
    );
    olga.presses_button("10:00", "Chosen: 10:00").await;
    olga.presses_button("10:30", "Chosen: 10:00, 10:30").await;
    let (day, _) = olga
        .presses_button("11:00", "Chosen: 10:00, 10:30, 11:00")
        .await;
    assert!(day.callback_data("✅ 10:30").is_some());
    assert!(day.callback_data("10:30").is_none());
    olga.presses_button("✅ 10:30", "Chosen: 10:00, 11:00")
        .await;
    assert!(
        slots(&db, owner_row.id).await.is_empty(),
        "a draft is not saved"
    );
    let draft = dialogue(&db, 501).await.expect("the draft is kept");
    assert_eq!(draft["availability"], "draft");
    assert_eq!(draft["starts"], serde_json::json!([600, 660]));

    // Text while the grid is open: a hint, the draft stays.
    olga.says("hello", "Choose the start times of Monday with the buttons")
        .await;
    assert_eq!(dialogue(&db, 501).await, Some(draft));

    let (saved, toast) = olga
        .presses_button("💾 Save", "✅ Monday saved: 10:00, 11:00.")
        .await;
    assert_eq!(toast.as_deref(), Some("Saved"));
    assert!(saved.text.contains("Mon: 10:00, 11:00"), "{}", saved.text);
    assert!(saved.text.contains("Tue: —"), "{}", saved.text);
    assert_eq!(slots(&db, owner_row.id).await, [(1, 600), (1, 660)]);
    assert_eq!(dialogue(&db, 501).await, None);
    let rows = audited(&db, owner_row.id, "availability.day_saved").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].data_json(),
        serde_json::json!({"weekday": 1, "old": [], "new": ["10:00", "11:00"]})
    );
    assert_eq!(rows[0].actor_id, Some(owner_row.id));

    // Tuesday: toggled, then "Back" drops the draft and says so.
    olga.presses_button("Tue", "Tuesday").await;
    let (tuesday, _) = olga.presses_button("09:00", "Chosen: 09:00").await;
    let toggle_tuesday = tuesday.callback_data("09:30").unwrap().to_owned();
    let (back, _) = olga
        .presses_button("⬅️ Back", "Your changes to Tuesday were not saved.")
        .await;
    assert!(back.text.contains("Tue: —"), "{}", back.text);
    assert_eq!(slots(&db, owner_row.id).await, [(1, 600), (1, 660)]);
    assert_eq!(dialogue(&db, 501).await, None);

    // A toggle without a draft, and one for another day's draft: stale.
    let before = snapshot(&db).await;
    let (_, toast) = olga
        .presses(tuesday.message_id, &toggle_tuesday, "Welcome back")
        .await;
    assert_eq!(toast.as_deref(), Some("This menu is out of date."));
    assert_eq!(snapshot(&db).await, before);
    olga.says("/availability", "Your availability").await;
    olga.presses_button("Wed", "Wednesday").await;
    let before = snapshot(&db).await;
    for data in [
        toggle_tuesday.as_str(),
        "av:save:2",
        "av:clear:2",
        "av:copy:2",
    ] {
        let (_, toast) = olga.presses(tuesday.message_id, data, "Welcome back").await;
        assert_eq!(
            toast.as_deref(),
            Some("This menu is out of date."),
            "{data}"
        );
    }
    assert_eq!(snapshot(&db).await, before);

    // Wednesday 14:00 copied to Monday–Friday at once.
    olga.presses_button("14:00", "Chosen: 14:00").await;
    let (copied, toast) = olga
        .presses_button(
            "📋 Copy to Mon–Fri",
            "Monday to Friday now have the start times of Wednesday: 14:00.",
        )
        .await;
    assert_eq!(toast.as_deref(), Some("Saved"));
    for line in [
        "Mon: 14:00",
        "Tue: 14:00",
        "Wed: 14:00",
        "Thu: 14:00",
        "Fri: 14:00",
        "Sat: —",
    ] {
        assert!(copied.text.contains(line), "{line}: {}", copied.text);
    }
    assert_eq!(
        slots(&db, owner_row.id).await,
        [(1, 840), (2, 840), (3, 840), (4, 840), (5, 840)]
    );
    let rows = audited(&db, owner_row.id, "availability.day_saved").await;
    assert_eq!(rows.len(), 6);
    assert_eq!(
        rows[1].data_json(),
        serde_json::json!({"weekday": 1, "old": ["10:00", "11:00"], "new": ["14:00"], "copied_from": 3})
    );

    // Clearing a day and saving it.
    olga.presses_button("Thu", "Chosen: 14:00").await;
    olga.presses_button("🧹 Clear", "Chosen: none").await;
    olga.presses_button("💾 Save", "✅ Thursday saved: none.")
        .await;
    assert_eq!(
        slots(&db, owner_row.id).await,
        [(1, 840), (2, 840), (3, 840), (5, 840)]
    );

    // The slot length.
    let (lengths, _) = olga.presses_button("⏱ Slot length", "Now: 60 min").await;
    for label in [
        "15 min",
        "30 min",
        "45 min",
        "✅ 60 min",
        "90 min",
        "120 min",
    ] {
        assert!(lengths.callback_data(label).is_some(), "{label}");
    }
    let (set, toast) = olga
        .presses_button("30 min", "✅ Slot length: 30 min.")
        .await;
    assert_eq!(toast.as_deref(), Some("Saved"));
    assert!(set.text.contains("Slot length: 30 min"), "{}", set.text);
    let stored = db
        .read(move |c| shared::db::availability::slot_minutes(c, owner_row.id))
        .await
        .unwrap();
    assert_eq!(stored.minutes(), 30);
    let rows = audited(&db, owner_row.id, "availability.slot_length_set").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].data_json(),
        serde_json::json!({"from": 60, "to": 30})
    );

    // The same length again changes nothing.
    let before = snapshot(&db).await;
    olga.presses_button("⏱ Slot length", "Now: 30 min").await;
    let (_, toast) = olga
        .presses_button("✅ 30 min", "The slot length stays 30 min.")
        .await;
    assert_eq!(toast.as_deref(), Some("Nothing changed"));
    assert_eq!(snapshot(&db).await, before);

    // /cancel leaves an open draft.
    olga.presses_button("Fri", "Friday").await;
    olga.says("/cancel", "Cancelled.").await;
    assert_eq!(dialogue(&db, 501).await, None);
    stack.assert_no_secret_in_logs();
}

/// Blocked time: bad texts explained and nothing stored; a block added with
/// its claims and listed; overlaps with a block or a meeting refused with
/// what they overlap; a back-to-back block accepted; removal frees the
/// cells; the old remove button is stale.
async fn blocked_time_added_listed_refused_and_removed(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let owner_row = seed(&db, 511, "Boris", Role::Owner, Language::En).await;
    let manager_row = seed(&db, 512, "Mila", Role::Manager, Language::En).await;
    let boris = Person::new(&stack, 511, "Boris", "en");

    boris.says("/availability", "Your availability").await;
    let (empty, _) = boris
        .presses_button("🚫 Blocked time", "Nothing is blocked ahead.")
        .await;
    let (asked, _) = boris.presses_button("➕ Add", "New blocked time").await;
    assert_eq!(asked.message_id, empty.message_id, "changes in place");
    assert!(
        asked.text.contains("Times are in Europe/Moscow"),
        "{}",
        asked.text
    );

    let first = today() + TimeDelta::days(10);
    let last = first + TimeDelta::days(2);
    let long_reason = format!("{} – {} {}", typed(first), typed(last), "x".repeat(5_000));
    let past = today() - TimeDelta::days(10);
    let before = snapshot(&db).await;
    for (text, problem) in [
        ("   ", "Please send the period as text."),
        (&"a".repeat(5_000), "I could not read the period"),
        (
            long_reason.as_str(),
            "The reason is too long: 5000 characters, at most 200",
        ),
        ("😀🎉 – 🎄", "I could not read the period"),
        ("מחר – מחרתיים חופשה", "I could not read the period"),
        (
            "<b>1.1.2027</b> & – <i>x</i>",
            "I could not read the period",
        ),
        (
            &format!("{} – {}", typed(last), typed(first)),
            "The end must come after the start.",
        ),
        (
            &format!("{} – {}", typed(past), typed(past + TimeDelta::days(2))),
            "That period is already over.",
        ),
        (
            &format!("{} – {}", typed(first), typed(first + TimeDelta::days(400))),
            "at most 366 days",
        ),
        ("31.02.2027 – 01.03.2027", "There is no such date."),
        (
            &format!("{} 25:00 – {}", typed(first), typed(last)),
            "There is no such time of day",
        ),
    ] {
        let reply = boris.says(text, problem).await;
        assert!(
            reply.text.contains("Please send the period again"),
            "{}",
            reply.text
        );
    }
    assert_eq!(snapshot(&db).await, before, "bad input changes nothing");
    assert_eq!(dialogue(&db, 511).await.unwrap()["availability"], "block");

    // A valid period: stored with its 15-minute cells, listed.
    let reason = "Vacation <b>&</b> \"family\"";
    let period = format!("{} – {}", typed(first), typed(last));
    let added = boris
        .says(
            &format!("{}  –  {},  {reason}", typed(first), typed(last)),
            &format!("✅ Blocked: {period}."),
        )
        .await;
    assert!(
        added.text.contains(&format!("1. {period} · {reason}")),
        "{}",
        added.text
    );
    assert!(
        added.source.contains("&lt;b&gt;&amp;&lt;/b&gt;"),
        "{}",
        added.source
    );
    let remove_first = added
        .callback_data(&format!("🗑 {period}"))
        .expect("a remove button")
        .to_owned();
    let blocks = blocks_of(&db, owner_row.id).await;
    assert_eq!(blocks.len(), 1);
    let block = blocks[0].clone();
    assert_eq!(block.starts_at, moscow_midnight(first));
    assert_eq!(block.ends_at, moscow_midnight(last + TimeDelta::days(1)));
    assert_eq!(block.reason, reason);
    assert_eq!(block.created_by, Some(owner_row.id));
    let cells = claims_of_block(&db, block.id).await;
    assert_eq!(cells.len(), 3 * 96);
    assert_eq!(cells.first(), Some(&block.starts_at));
    assert_eq!(
        cells.last(),
        Some(&(block.ends_at - TimeDelta::minutes(15)))
    );
    assert_eq!(dialogue(&db, 511).await, None);
    let rows = audited(&db, owner_row.id, "availability.block_added").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].data_json()["block"], block.id.0);
    assert_eq!(rows[0].data_json()["cells"], 288);
    assert_eq!(rows[0].data_json()["reason"], reason);

    // Overlapping the block: refused with its dates, nothing stored.
    boris.presses_button("➕ Add", "New blocked time").await;
    let before = snapshot(&db).await;
    boris
        .says(
            &format!("{} 14:00 – 18:00 Doctor", typed(last)),
            &format!("This overlaps your blocked time {period} ({reason}). Nothing was saved."),
        )
        .await;
    assert_eq!(snapshot(&db).await, before);

    // Overlapping a meeting: refused with its time.
    let meeting_day = first + TimeDelta::days(5);
    let meeting_start = moscow_midnight(meeting_day) + TimeDelta::hours(10);
    let (owner_id, manager_id) = (owner_row.id, manager_row.id);
    db.write(move |c| {
        use schema::{meetings as m, slot_claims as sc};
        let now = UtcTime::from(Clock::system().now());
        let id: MeetingId = diesel::insert_into(m::table)
            .values((
                m::manager_id.eq(manager_id),
                m::mode.eq("single"),
                m::starts_at.eq(UtcTime::from(meeting_start)),
                m::ends_at.eq(UtcTime::from(meeting_start + TimeDelta::hours(1))),
                m::status.eq("scheduled"),
                m::period_key.eq("test"),
                m::sync_state.eq("pending"),
                m::created_at.eq(now),
                m::updated_at.eq(now),
            ))
            .returning(m::id)
            .get_result(c)?;
        for quarter in 0..4 {
            diesel::insert_into(sc::table)
                .values((
                    sc::owner_id.eq(owner_id),
                    sc::cell_start.eq(UtcTime::from(
                        meeting_start + TimeDelta::minutes(15 * quarter),
                    )),
                    sc::meeting_id.eq(Some(id)),
                ))
                .execute(c)?;
        }
        Ok(())
    })
    .await
    .unwrap();
    let before = snapshot(&db).await;
    boris
        .says(
            &typed(meeting_day),
            &format!(
                "This overlaps a meeting booked with you: {} 10:00 – 11:00.",
                typed(meeting_day)
            ),
        )
        .await;
    assert_eq!(snapshot(&db).await, before);

    // Back to back with the first block: no shared cell, accepted.
    let next_day = last + TimeDelta::days(1);
    let listed = boris
        .says(
            &format!(
                "{} 00:00 – {} 09:30 Conference",
                typed(next_day),
                typed(next_day)
            ),
            "✅ Blocked:",
        )
        .await;
    assert!(
        listed.text.contains(&format!("1. {period}")),
        "{}",
        listed.text
    );
    assert!(
        listed.text.contains(&format!(
            "2. {} 00:00 – 09:30 · Conference",
            typed(next_day)
        )),
        "{}",
        listed.text
    );
    let blocks = blocks_of(&db, owner_row.id).await;
    assert_eq!(blocks.len(), 2);
    let second = blocks[1].clone();
    assert_eq!(claims_of_block(&db, second.id).await.len(), 38);

    // Removing the first block frees its cells; the rest stays.
    let (removed, toast) = boris
        .presses(
            listed.message_id,
            &remove_first,
            &format!("🗑 Removed: {period}."),
        )
        .await;
    assert_eq!(toast.as_deref(), Some("Removed"));
    assert!(
        !removed.text.contains(&format!("· {reason}")),
        "{}",
        removed.text
    );
    assert!(removed.text.contains("1. "), "{}", removed.text);
    assert!(claims_of_block(&db, block.id).await.is_empty());
    assert_eq!(claims_of_block(&db, second.id).await.len(), 38);
    assert_eq!(blocks_of(&db, owner_row.id).await, vec![second.clone()]);
    let rows = audited(&db, owner_row.id, "availability.block_removed").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].data_json()["block"], block.id.0);

    // The same remove button again: the block is gone, the menu stale.
    let before = snapshot(&db).await;
    let (_, toast) = boris
        .presses(removed.message_id, &remove_first, "Welcome back")
        .await;
    assert_eq!(toast.as_deref(), Some("This menu is out of date."));
    assert_eq!(snapshot(&db).await, before);
    stack.assert_no_secret_in_logs();
}

/// Managers cannot open or press anything of `/availability`; another
/// owner cannot remove someone else's block; garbage `av:` data is stale;
/// an owner demoted mid-draft is refused. Nothing changes in any case.
async fn only_owners_and_only_their_own_blocks(db: TestDb) {
    let mut stack = Stack::new(db, StackConfig::default()).await;
    stack.start_bot().await;
    let db = stack.db.db.clone();
    let anna_row = seed(&db, 521, "Anna", Role::Owner, Language::En).await;
    seed(&db, 522, "Дмитрий", Role::Manager, Language::Ru).await;
    seed(&db, 523, "Karl", Role::Owner, Language::En).await;
    let dmitry = Person::new(&stack, 522, "Дмитрий", "ru");
    let karl = Person::new(&stack, 523, "Karl", "en");
    let anna = Person::new(&stack, 521, "Anna", "en");

    // Anna's block, stored directly.
    let start = moscow_midnight(today() + TimeDelta::days(20));
    let anna_id = anna_row.id;
    let outcome = db
        .write(move |c| {
            blocked_periods::add_with_claims(
                c,
                &NewBlockedPeriod {
                    owner: anna_id,
                    starts_at: start,
                    ends_at: start + TimeDelta::days(1),
                    reason: "Trip",
                    created_by: Some(anna_id),
                },
                Clock::system().now(),
            )
        })
        .await
        .unwrap();
    let AddOutcome::Added { block, cells } = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(cells, 96);
    let remove_annas = format!("av:blk:rm:{}", block.id);

    // A manager: the command and every button refused.
    let before = snapshot(&db).await;
    let refusal = dmitry
        .says(
            "/availability",
            "Расписание настраивают только руководители",
        )
        .await;
    for data in [
        "av:home",
        "av:day:1",
        "av:t:1:600",
        "av:save:1",
        "av:copy:1",
        "av:len",
        "av:len:30",
        "av:blk",
        "av:blk:add",
        remove_annas.as_str(),
        "av:garbage",
    ] {
        let (_, toast) = dmitry
            .presses(refusal.message_id, data, "С возвращением")
            .await;
        assert_eq!(
            toast.as_deref(),
            Some("У вас нет прав на это действие."),
            "{data}"
        );
    }
    assert_eq!(snapshot(&db).await, before);

    // Another owner: Anna's block is not theirs to remove.
    let overview = karl.says("/availability", "Your availability").await;
    let before = snapshot(&db).await;
    let (_, toast) = karl
        .presses(overview.message_id, &remove_annas, "Welcome back")
        .await;
    assert_eq!(toast.as_deref(), Some("You are not allowed to do that."));
    let (karls_list, _) = karl
        .presses_button("🚫 Blocked time", "Nothing is blocked ahead.")
        .await;
    assert!(!karls_list.text.contains("Trip"));
    assert_eq!(snapshot(&db).await, before);

    // Garbage and near misses: stale, nothing changes.
    let over_long = format!("av:blk:rm:{}", "9".repeat(60));
    for data in [
        "av:",
        "av:t:1:615",
        "av:t:1:0600",
        "av:t:0:600",
        "av:len:75",
        "av:len:+30",
        "av:day:8",
        "av:blk:rm:0",
        "av:blk:rm:-1",
        "av:blk:rm:12:1",
        "av:home:extra",
        "av:blk:rm:999999",
        over_long.as_str(),
    ] {
        let (_, toast) = karl
            .presses(overview.message_id, data, "Welcome back")
            .await;
        assert_eq!(
            toast.as_deref(),
            Some("This menu is out of date."),
            "{data}"
        );
    }
    assert_eq!(snapshot(&db).await, before);

    // Anna sees her block and opens Monday; then she becomes a manager.
    anna.says("/availability", "Your availability").await;
    let (list, _) = anna.presses_button("🚫 Blocked time", "Trip").await;
    assert!(
        list.callback_data(&format!("🗑 {}", typed(today() + TimeDelta::days(20))))
            .is_some()
    );
    anna.presses_button("⬅️ Back", "Your availability").await;
    let (monday, _) = anna.presses_button("Mon", "Monday").await;
    db.write(move |c| {
        users::change_role(
            c,
            anna_id,
            Role::Owner,
            Role::Manager,
            Clock::system().now(),
        )
    })
    .await
    .unwrap();
    let before = snapshot(&db).await;
    let toggle = monday.callback_data("10:00").unwrap().to_owned();
    let (_, toast) = anna
        .presses(monday.message_id, &toggle, "Welcome back")
        .await;
    assert_eq!(toast.as_deref(), Some("You are not allowed to do that."));
    assert_eq!(snapshot(&db).await, before);
    // Typed text in the abandoned draft: where she stands now.
    anna.says("hello", "Welcome back").await;
    assert_eq!(dialogue(&db, 521).await, None);
    anna.says("/availability", "Only owners set availability")
        .await;
    stack.assert_no_secret_in_logs();
}

/// The repositories on their own: defaults, a day replaced at once, the
/// slot length upserted, and four owners' writers racing for overlapping
/// blocks of one owner — exactly one wins, the others learn what they
/// overlap, and no stray block or claim is left behind.
async fn repositories_and_racing_blocks(db: TestDb) {
    use shared::db::availability;
    use shared::domain::availability::DayStarts;
    use shared::domain::slots::SlotLength;

    let db = db.db.clone();
    let owner = seed(&db, 531, "Vera", Role::Owner, Language::En).await.id;

    let (grid, length) = db
        .read(move |c| {
            Ok((
                availability::weekly(c, owner)?,
                availability::slot_minutes(c, owner)?,
            ))
        })
        .await
        .unwrap();
    assert!(grid.is_empty());
    assert_eq!(length, SlotLength::DEFAULT);

    let monday = DayStarts::try_from(vec![420, 600, 1260]).unwrap();
    let (first_old, second_old, grid) = db
        .write(move |c| {
            let first = availability::replace_day(c, owner, chrono::Weekday::Mon, monday)?;
            let second = availability::replace_day(
                c,
                owner,
                chrono::Weekday::Mon,
                DayStarts::try_from(vec![630]).unwrap(),
            )?;
            availability::replace_day(c, owner, chrono::Weekday::Sun, monday)?;
            Ok((first, second, availability::weekly(c, owner)?))
        })
        .await
        .unwrap();
    assert!(first_old.is_empty());
    assert_eq!(second_old, monday);
    assert_eq!(DayStarts::of(&grid, chrono::Weekday::Mon).minutes(), [630]);
    assert_eq!(
        DayStarts::of(&grid, chrono::Weekday::Sun).minutes(),
        [420, 600, 1260]
    );

    for minutes in [30, 90, 90] {
        let length = SlotLength::from_minutes(minutes).unwrap();
        db.write(move |c| availability::set_slot_minutes(c, owner, length, Clock::system().now()))
            .await
            .unwrap();
    }
    let length = db
        .read(move |c| availability::slot_minutes(c, owner))
        .await
        .unwrap();
    assert_eq!(length.minutes(), 90);

    // Four writers, overlapping periods; each holds its transaction open a
    // moment so the others collide with uncommitted claims.
    let base = moscow_midnight(today() + TimeDelta::days(30));
    let attempts: Vec<_> = (0..4i64)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |c| {
                    let outcome = blocked_periods::add_with_claims(
                        c,
                        &NewBlockedPeriod {
                            owner,
                            starts_at: base + TimeDelta::hours(i),
                            ends_at: base + TimeDelta::hours(i + 5),
                            reason: "race",
                            created_by: Some(owner),
                        },
                        Clock::system().now(),
                    )?;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    Ok(outcome)
                })
                .await
                .unwrap()
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap());
    }
    let winners: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            AddOutcome::Added { block, cells } => Some((block.clone(), *cells)),
            AddOutcome::Overlaps(_) => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let (winner, cells) = winners[0].clone();
    assert_eq!(cells, 20);
    for outcome in &outcomes {
        if let AddOutcome::Overlaps(overlap) = outcome {
            assert_eq!(overlap, &blocked_periods::Overlap::Block(winner.clone()));
        }
    }
    assert_eq!(blocks_of(&db, owner).await, vec![winner.clone()]);
    let claims = db
        .read(|c| Ok(schema::slot_claims::table.count().get_result::<i64>(c)?))
        .await
        .unwrap();
    assert_eq!(claims, 20);

    // What the booking flow reads: blocks overlapping a window.
    let found = db
        .read(move |c| {
            Ok((
                blocked_periods::overlapping(c, owner, base - TimeDelta::days(1), base)?,
                blocked_periods::overlapping(c, owner, base, base + TimeDelta::days(1))?,
                blocked_periods::upcoming(c, owner, Clock::system().now())?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(found.0, vec![]);
    assert_eq!(found.1, vec![winner.clone()]);
    assert_eq!(found.2, vec![winner.clone()]);

    // Only the owner removes it; the claims go with it.
    let other = seed(&db, 532, "Ivan", Role::Owner, Language::En).await.id;
    let id = winner.id;
    let (by_other, by_owner, again) = db
        .write(move |c| {
            Ok((
                blocked_periods::remove(c, other, id)?,
                blocked_periods::remove(c, owner, id)?,
                blocked_periods::remove(c, owner, id)?,
            ))
        })
        .await
        .unwrap();
    assert_eq!((by_other, by_owner, again), (None, Some(winner), None));
    assert!(claims_of_block(&db, id).await.is_empty());
}

on_both_backends!(
    the_week_grid_and_the_slot_length,
    blocked_time_added_listed_refused_and_removed,
    only_owners_and_only_their_own_blocks,
    repositories_and_racing_blocks,
);
