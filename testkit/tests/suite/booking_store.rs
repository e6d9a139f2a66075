//! The booking transaction in the repository layer (`shared::db::meetings`)
//! on both backends: the happy paths with their rows, and the races the
//! slot claims and quotas must settle without row locks.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;
use shared::db::blocked_periods::{self, AddOutcome, NewBlockedPeriod};
use shared::db::meetings::{self, Meeting, NewBooking, NewTime};
use shared::db::schema::{booking_quotas, meeting_participants, reminders, slot_claims};
use shared::db::types::{BlockedPeriodId, MeetingId, UserId, UtcTime};
use shared::db::{DatabaseUrl, Db, DbConn, DbError};
use shared::domain::booking::{BookingError, MeetingStatus, Outcome, ReminderState, SyncState};
use shared::domain::settings::BookingMode;
use shared::domain::user::Role;
use testkit::db::TestDb;
use testkit::records::SeedUser;

/// "Now" of every test: Sunday 29 November 2026, 09:00 UTC.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 9, 0, 0).unwrap()
}

/// Tuesday 1 December 2026 at `hour:minute` UTC.
fn tuesday(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0).unwrap()
}

async fn person(db: &Db, telegram_id: i64, role: Role) -> UserId {
    SeedUser::new(
        telegram_id,
        &format!("First{telegram_id}"),
        &format!("Last{telegram_id}"),
    )
    .role(Some(role))
    .insert(db)
    .await
    .id
}

fn booking(manager: UserId, owner: UserId, starts_at: DateTime<Utc>, minutes: i64) -> NewBooking {
    NewBooking {
        manager,
        owners: vec![owner],
        starts_at,
        ends_at: starts_at + TimeDelta::minutes(minutes),
        mode: BookingMode::Single,
        period_key: "2026-W49".to_owned(),
        limit: 1,
        reminder_offsets: vec![TimeDelta::hours(24), TimeDelta::hours(1)],
        correlation_id: Some("test".to_owned()),
    }
}

fn new_time(starts_at: DateTime<Utc>, minutes: i64, period_key: &str) -> NewTime {
    NewTime {
        starts_at,
        ends_at: starts_at + TimeDelta::minutes(minutes),
        period_key: period_key.to_owned(),
        limit: 1,
        reminder_offsets: vec![TimeDelta::hours(24), TimeDelta::hours(1)],
    }
}

async fn book(db: &Db, new: NewBooking) -> Result<Meeting, BookingError> {
    db.write(move |c| Ok(meetings::book(c, &new, now())))
        .await
        .unwrap()
}

/// A second pool on the same database, wide enough for real races.
async fn wide_pool(test: &TestDb) -> Arc<Db> {
    let url = DatabaseUrl::parse(&test.url).unwrap();
    Arc::new(Db::connect(&url, 8).await.unwrap())
}

/// Claimed cells: (owner, cell start, meeting, blocked period).
type Claim = (UserId, UtcTime, Option<MeetingId>, Option<BlockedPeriodId>);

fn claims(c: &mut DbConn) -> Result<Vec<Claim>, DbError> {
    Ok(slot_claims::table
        .order((slot_claims::owner_id, slot_claims::cell_start))
        .select((
            slot_claims::owner_id,
            slot_claims::cell_start,
            slot_claims::meeting_id,
            slot_claims::blocked_period_id,
        ))
        .load(c)?)
}

fn quota(c: &mut DbConn, manager: UserId, key: &str) -> Result<Option<i32>, DbError> {
    Ok(booking_quotas::table
        .filter(booking_quotas::manager_id.eq(manager))
        .filter(booking_quotas::period_key.eq(key))
        .select(booking_quotas::used)
        .first(c)
        .optional()?)
}

/// Reminders: (recipient, revision, offset, due, state).
type ReminderRow = (UserId, i32, i32, UtcTime, ReminderState);

fn reminder_rows(c: &mut DbConn, id: MeetingId) -> Result<Vec<ReminderRow>, DbError> {
    Ok(reminders::table
        .filter(reminders::meeting_id.eq(id))
        .order(reminders::id)
        .select((
            reminders::recipient_id,
            reminders::meeting_revision,
            reminders::offset_minutes,
            reminders::due_at,
            reminders::state,
        ))
        .load(c)?)
}

/// Everything the booking transaction writes, to compare before and after
/// a refused change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    meetings: Vec<Meeting>,
    participants: Vec<(MeetingId, UserId)>,
    claims: Vec<Claim>,
    quotas: Vec<(UserId, String, i32)>,
    reminders: Vec<(MeetingId, ReminderRow)>,
}

async fn snapshot(db: &Db) -> Snapshot {
    db.read(|c| {
        let ids: Vec<MeetingId> = shared::db::schema::meetings::table
            .order(shared::db::schema::meetings::id)
            .select(shared::db::schema::meetings::id)
            .load(c)?;
        let mut all = Vec::new();
        let mut all_reminders = Vec::new();
        for id in ids {
            all.push(meetings::find(c, id)?.unwrap());
            for row in reminder_rows(c, id)? {
                all_reminders.push((id, row));
            }
        }
        Ok(Snapshot {
            meetings: all,
            participants: meeting_participants::table
                .order((
                    meeting_participants::meeting_id,
                    meeting_participants::user_id,
                ))
                .select((
                    meeting_participants::meeting_id,
                    meeting_participants::user_id,
                ))
                .load(c)?,
            claims: claims(c)?,
            quotas: booking_quotas::table
                .order((booking_quotas::manager_id, booking_quotas::period_key))
                .select((
                    booking_quotas::manager_id,
                    booking_quotas::period_key,
                    booking_quotas::used,
                ))
                .load(c)?,
            reminders: all_reminders,
        })
    })
    .await
    .unwrap()
}

fn scheduled_count(snapshot: &Snapshot) -> usize {
    snapshot
        .meetings
        .iter()
        .filter(|m| m.status == MeetingStatus::Scheduled)
        .count()
}

async fn booking_stores_everything_in_one_go(test: TestDb) {
    let db = &test.db;
    let manager = person(db, 1, Role::Manager).await;
    let owner = person(db, 2, Role::Owner).await;
    let meeting = book(db, booking(manager, owner, tuesday(10, 0), 60))
        .await
        .unwrap();
    assert_eq!(meeting.status, MeetingStatus::Scheduled);
    assert_eq!(meeting.revision, 1);
    assert_eq!(meeting.sync_state, SyncState::Pending);
    assert_eq!(meeting.period_key, "2026-W49");
    assert_eq!(meeting.mode, BookingMode::Single);
    assert_eq!(
        (meeting.starts_at, meeting.ends_at),
        (tuesday(10, 0), tuesday(11, 0))
    );
    assert_eq!(meeting.correlation_id.as_deref(), Some("test"));

    let id = meeting.id;
    let (people, cells, used, rows, busy, mine, theirs) = db
        .read(move |c| {
            Ok((
                meetings::participants(c, id)?,
                claims(c)?,
                quota(c, manager, "2026-W49")?,
                reminder_rows(c, id)?,
                meetings::busy_for_owners(c, &[owner], tuesday(0, 0), tuesday(23, 0))?,
                meetings::upcoming_for_manager(c, manager, now())?,
                meetings::upcoming_for_owner(c, owner, now())?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(people[0].user_id, manager, "manager first");
    assert_eq!(people[1].user_id, owner);
    let expected_cells: Vec<Claim> = [0, 15, 30, 45]
        .into_iter()
        .map(|m| (owner, UtcTime::from(tuesday(10, m)), Some(id), None))
        .collect();
    assert_eq!(cells, expected_cells);
    assert_eq!(used, Some(1));
    assert_eq!(rows.len(), 4, "two reminders for each of two people");
    for (recipient, revision, offset, due, state) in &rows {
        assert!([manager, owner].contains(recipient));
        assert_eq!((*revision, *state), (1, ReminderState::Pending));
        assert_eq!(
            due.0,
            tuesday(10, 0) - TimeDelta::minutes(i64::from(*offset))
        );
    }
    assert_eq!(busy.len(), 1);
    assert_eq!((busy[0].owner_id, busy[0].meeting_id), (owner, id));
    assert_eq!(mine, vec![meeting.clone()]);
    assert_eq!(theirs, vec![meeting]);

    // Booked 30 minutes ahead: the reminders already due are skipped.
    let other_manager = person(db, 3, Role::Manager).await;
    let late = booking(other_manager, owner, now() + TimeDelta::minutes(30), 30);
    let late = db
        .write(move |c| Ok(meetings::book(c, &late, now())))
        .await
        .unwrap()
        .unwrap();
    let late_id = late.id;
    let late_rows = db.read(move |c| reminder_rows(c, late_id)).await.unwrap();
    assert!(late_rows.is_empty());

    // The limit answers: the same manager cannot book a second meeting.
    let before = snapshot(db).await;
    let second = book(db, booking(manager, owner, tuesday(14, 0), 60)).await;
    assert!(
        matches!(second, Err(BookingError::LimitReached)),
        "{second:?}"
    );
    assert_eq!(snapshot(db).await, before);
    // A malformed request is refused without touching anything.
    let mut twice = booking(other_manager, owner, tuesday(16, 0), 60);
    twice.owners = vec![owner, person(db, 4, Role::Owner).await];
    let refused = book(db, twice).await;
    assert!(
        matches!(refused, Err(BookingError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(snapshot(db).await, before);
}

async fn cancel_frees_the_cells_and_the_quota(test: TestDb) {
    let db = &test.db;
    let manager = person(db, 1, Role::Manager).await;
    let owner = person(db, 2, Role::Owner).await;
    let meeting = book(db, booking(manager, owner, tuesday(10, 0), 60))
        .await
        .unwrap();
    let id = meeting.id;
    let cancelled = db
        .write(move |c| Ok(meetings::cancel(c, id, manager, Some("ill"), now())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.status, MeetingStatus::Cancelled);
    assert_eq!(cancelled.revision, 2);
    assert_eq!(cancelled.sync_state, SyncState::Pending);
    assert_eq!(cancelled.cancel_reason.as_deref(), Some("ill"));
    assert_eq!(cancelled.cancelled_by, Some(manager));
    assert_eq!(cancelled.cancelled_at, Some(now()));
    let (cells, used, rows, busy) = db
        .read(move |c| {
            Ok((
                claims(c)?,
                quota(c, manager, "2026-W49")?,
                reminder_rows(c, id)?,
                meetings::busy_for_owners(c, &[owner], tuesday(0, 0), tuesday(23, 0))?,
            ))
        })
        .await
        .unwrap();
    assert!(cells.is_empty());
    assert_eq!(used, Some(0));
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r.4 == ReminderState::Cancelled));
    assert!(busy.is_empty());

    // A stale second press changes nothing.
    let before = snapshot(db).await;
    let again = db
        .write(move |c| Ok(meetings::cancel(c, id, manager, None, now())))
        .await
        .unwrap();
    assert!(
        matches!(again, Err(BookingError::NotScheduled)),
        "{again:?}"
    );
    assert_eq!(snapshot(db).await, before);

    // The slot and the quota are free again.
    let rebooked = book(db, booking(manager, owner, tuesday(10, 0), 60)).await;
    assert!(rebooked.is_ok(), "{rebooked:?}");
}

async fn reschedule_moves_cells_reminders_and_quota(test: TestDb) {
    let db = &test.db;
    let manager = person(db, 1, Role::Manager).await;
    let owner = person(db, 2, Role::Owner).await;
    let meeting = book(db, booking(manager, owner, tuesday(10, 0), 60))
        .await
        .unwrap();
    let id = meeting.id;
    // Half an hour later: overlaps its own cells, which must not collide.
    let moved = db
        .write(move |c| {
            Ok(meetings::reschedule(
                c,
                id,
                &new_time(tuesday(10, 30), 60, "2026-W49"),
                now(),
            ))
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (moved.starts_at, moved.ends_at),
        (tuesday(10, 30), tuesday(11, 30))
    );
    assert_eq!(moved.revision, 2);
    assert_eq!(moved.sync_state, SyncState::Pending);
    let (cells, rows, used) = db
        .read(move |c| {
            Ok((
                claims(c)?,
                reminder_rows(c, id)?,
                quota(c, manager, "2026-W49")?,
            ))
        })
        .await
        .unwrap();
    let expected: Vec<Claim> = [(10, 30), (10, 45), (11, 0), (11, 15)]
        .into_iter()
        .map(|(h, m)| (owner, UtcTime::from(tuesday(h, m)), Some(id), None))
        .collect();
    assert_eq!(cells, expected);
    assert_eq!(used, Some(1));
    let old: Vec<_> = rows.iter().filter(|r| r.1 == 1).collect();
    let new: Vec<_> = rows.iter().filter(|r| r.1 == 2).collect();
    assert_eq!(old.len(), 4);
    assert!(old.iter().all(|r| r.4 == ReminderState::Cancelled));
    assert_eq!(new.len(), 4);
    assert!(new.iter().all(|r| r.4 == ReminderState::Pending));
    assert!(
        new.iter()
            .all(|r| r.3.0 == tuesday(10, 30) - TimeDelta::minutes(i64::from(r.2)))
    );

    // To the next week: the quota moves with it.
    let next_week = tuesday(10, 0) + TimeDelta::days(7);
    let moved = db
        .write(move |c| {
            Ok(meetings::reschedule(
                c,
                id,
                &new_time(next_week, 30, "2026-W50"),
                now(),
            ))
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.period_key, "2026-W50");
    assert_eq!(moved.revision, 3);
    let (cells, old_week, new_week) = db
        .read(move |c| {
            Ok((
                claims(c)?,
                quota(c, manager, "2026-W49")?,
                quota(c, manager, "2026-W50")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(cells.len(), 2);
    assert!(cells.iter().all(|c| c.1.0 >= next_week));
    assert_eq!((old_week, new_week), (Some(0), Some(1)));
}

async fn reschedule_into_a_taken_slot_or_full_period_changes_nothing(test: TestDb) {
    let db = &test.db;
    let first_manager = person(db, 1, Role::Manager).await;
    let second_manager = person(db, 2, Role::Manager).await;
    let owner = person(db, 3, Role::Owner).await;
    book(db, booking(first_manager, owner, tuesday(10, 0), 60))
        .await
        .unwrap();
    let second = book(db, booking(second_manager, owner, tuesday(12, 0), 60))
        .await
        .unwrap();
    // The second manager already has a meeting in week 50.
    let mut next_week = booking(
        second_manager,
        owner,
        tuesday(12, 0) + TimeDelta::days(7),
        60,
    );
    next_week.period_key = "2026-W50".to_owned();
    book(db, next_week).await.unwrap();

    let before = snapshot(db).await;
    let id = second.id;
    let taken = db
        .write(move |c| {
            Ok(meetings::reschedule(
                c,
                id,
                &new_time(tuesday(10, 30), 60, "2026-W49"),
                now(),
            ))
        })
        .await
        .unwrap();
    assert!(matches!(taken, Err(BookingError::SlotTaken)), "{taken:?}");
    assert_eq!(snapshot(db).await, before);

    let full = db
        .write(move |c| {
            Ok(meetings::reschedule(
                c,
                id,
                &new_time(tuesday(15, 0) + TimeDelta::days(7), 60, "2026-W50"),
                now(),
            ))
        })
        .await
        .unwrap();
    assert!(matches!(full, Err(BookingError::LimitReached)), "{full:?}");
    assert_eq!(snapshot(db).await, before);
}

async fn outcome_only_after_the_start_and_only_once(test: TestDb) {
    let db = &test.db;
    let manager = person(db, 1, Role::Manager).await;
    let owner = person(db, 2, Role::Owner).await;
    let meeting = book(db, booking(manager, owner, tuesday(10, 0), 60))
        .await
        .unwrap();
    let id = meeting.id;
    let before = snapshot(db).await;
    let early = db
        .write(move |c| Ok(meetings::mark_outcome(c, id, Outcome::Completed, now())))
        .await
        .unwrap();
    assert!(matches!(early, Err(BookingError::NotStarted)), "{early:?}");
    assert_eq!(snapshot(db).await, before);

    let after = tuesday(10, 5);
    let done = db
        .write(move |c| Ok(meetings::mark_outcome(c, id, Outcome::NoShow, after)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, MeetingStatus::NoShow);
    let rows = db.read(move |c| reminder_rows(c, id)).await.unwrap();
    assert!(rows.iter().all(|r| r.4 != ReminderState::Pending));

    let before = snapshot(db).await;
    let again = db
        .write(move |c| Ok(meetings::mark_outcome(c, id, Outcome::Completed, after)))
        .await
        .unwrap();
    assert!(
        matches!(again, Err(BookingError::NotScheduled)),
        "{again:?}"
    );
    let cancel = db
        .write(move |c| Ok(meetings::cancel(c, id, manager, None, after)))
        .await
        .unwrap();
    assert!(
        matches!(cancel, Err(BookingError::NotScheduled)),
        "{cancel:?}"
    );
    assert_eq!(snapshot(db).await, before);
}

/// Runs every booking at once on a wide pool; returns the results.
async fn race(test: &TestDb, bookings: Vec<NewBooking>) -> Vec<Result<Meeting, BookingError>> {
    let pool = wide_pool(test).await;
    let tasks: Vec<_> = bookings
        .into_iter()
        .map(|new| {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.write(move |c| Ok(meetings::book(c, &new, now())))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    pool.close();
    results
}

async fn fifty_managers_race_for_one_slot(test: TestDb) {
    let db = &test.db;
    let owner = person(db, 1000, Role::Owner).await;
    let mut bookings = Vec::new();
    for i in 0..50 {
        let manager = person(db, i + 1, Role::Manager).await;
        bookings.push(booking(manager, owner, tuesday(10, 0), 60));
    }
    let results = race(&test, bookings).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(BookingError::SlotTaken)))
        .count();
    assert_eq!((won, taken), (1, 49), "{results:?}");
    let after = snapshot(db).await;
    assert_eq!(after.meetings.len(), 1);
    assert_eq!(after.claims.len(), 4);
    assert_eq!(after.participants.len(), 2);
    assert_eq!(after.reminders.len(), 4);
    // Only the winner's quota counts.
    assert_eq!(after.quotas.iter().map(|q| q.2).sum::<i32>(), 1);
}

async fn overlapping_slots_of_different_lengths_race(test: TestDb) {
    let db = &test.db;
    let owner = person(db, 100, Role::Owner).await;
    let mut bookings = Vec::new();
    for i in 0..10 {
        let manager = person(db, i + 1, Role::Manager).await;
        bookings.push(if i % 2 == 0 {
            booking(manager, owner, tuesday(10, 0), 60)
        } else {
            booking(manager, owner, tuesday(10, 30), 30)
        });
    }
    let results = race(&test, bookings).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(BookingError::SlotTaken)))
    );
    let after = snapshot(db).await;
    assert_eq!(scheduled_count(&after), 1);
}

async fn one_manager_racing_two_slots_with_limit_one(test: TestDb) {
    let db = &test.db;
    let manager = person(db, 1, Role::Manager).await;
    let first_owner = person(db, 2, Role::Owner).await;
    let second_owner = person(db, 3, Role::Owner).await;
    let mut bookings = Vec::new();
    for _ in 0..5 {
        bookings.push(booking(manager, first_owner, tuesday(10, 0), 60));
        bookings.push(booking(manager, second_owner, tuesday(14, 0), 60));
    }
    let results = race(&test, bookings).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(BookingError::LimitReached)))
    );
    let after = snapshot(db).await;
    assert_eq!(after.meetings.len(), 1);
    assert_eq!(after.quotas, vec![(manager, "2026-W49".to_owned(), 1)]);
}

async fn a_booking_racing_a_block_on_the_same_cells(test: TestDb) {
    let db = &test.db;
    let owner = person(db, 100, Role::Owner).await;
    // Several rounds, so either side gets to win sometimes; each round is
    // on its own day.
    for round in 0..6_i64 {
        let manager = person(db, round + 1, Role::Manager).await;
        let day = TimeDelta::days(round);
        let mut new = booking(manager, owner, tuesday(10, 0) + day, 60);
        new.period_key = format!("round-{round}");
        let pool = wide_pool(&test).await;
        let booking_pool = Arc::clone(&pool);
        let booking_task = tokio::spawn(async move {
            booking_pool
                .write(move |c| Ok(meetings::book(c, &new, now())))
                .await
                .unwrap()
        });
        let block_pool = Arc::clone(&pool);
        let block_task = tokio::spawn(async move {
            block_pool
                .write(move |c| {
                    blocked_periods::add_with_claims(
                        c,
                        &NewBlockedPeriod {
                            owner,
                            starts_at: tuesday(10, 45) + day,
                            ends_at: tuesday(12, 0) + day,
                            reason: "Doctor",
                            created_by: Some(owner),
                        },
                        now(),
                    )
                })
                .await
                .unwrap()
        });
        let booked = booking_task.await.unwrap();
        let blocked = block_task.await.unwrap();
        pool.close();
        let block_won = matches!(blocked, AddOutcome::Added { .. });
        assert!(
            booked.is_ok() != block_won,
            "exactly one wins: {booked:?} / {blocked:?}"
        );
        if !block_won {
            assert!(matches!(blocked, AddOutcome::Overlaps(_)));
        } else {
            assert!(matches!(booked, Err(BookingError::SlotTaken)), "{booked:?}");
        }
    }
    let after = snapshot(db).await;
    // Every claim belongs to exactly one holder and no cell is held twice
    // (the primary key), and a refused side left no rows behind.
    let meeting_cells = after.claims.iter().filter(|c| c.2.is_some()).count();
    assert_eq!(meeting_cells, 4 * after.meetings.len());
}

on_both_backends!(
    booking_stores_everything_in_one_go,
    cancel_frees_the_cells_and_the_quota,
    reschedule_moves_cells_reminders_and_quota,
    reschedule_into_a_taken_slot_or_full_period_changes_nothing,
    outcome_only_after_the_start_and_only_once,
    fifty_managers_race_for_one_slot,
    overlapping_slots_of_different_lengths_race,
    one_manager_racing_two_slots_with_limit_one,
    a_booking_racing_a_block_on_the_same_cells,
);
