//! `--scenario schedule`: the `/schedule` day list under load (see the
//! binary's docs), on seeded data.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use diesel::prelude::*;
use shared::clock::Clock;
use shared::db::blocked_periods::{self, AddOutcome, NewBlockedPeriod};
use shared::db::free_slots::{self, SlotQuery};
use shared::db::meetings::{self, NewBooking};
use shared::db::types::{TelegramId, UserId};
use shared::db::{
    Backend, DatabaseUrl, Db, DbError, availability, booking_settings, schema, users,
};
use shared::domain::availability::DayStarts;
use shared::domain::booking::{BookingError, SyncState, period_key};
use shared::domain::settings::{BookingMode, BookingSettings, LimitPeriod};
use shared::domain::slots::{FIRST_START_MINUTE, LAST_START_MINUTE, START_STEP_MINUTES};
use shared::domain::user::{Language, Role};
use testkit::fake_telegram::{BotEdit, Entry, FakeTelegram, FakeUser};
use testkit::records::SeedUser;

use crate::common::{REPLY_TIMEOUT, ROUND_PAUSE, cpu_seconds, summary};
use crate::{Bench, COMPANY_ZONE};

/// Telegram ids of the seeded people, far from the basic scenario's.
const ADMIN_TELEGRAM_ID: i64 = 7_100_000;
const FIRST_OWNER_TELEGRAM_ID: i64 = 7_100_001;
const FIRST_MANAGER_TELEGRAM_ID: i64 = 7_200_000;

/// The owners: name and zone (two zones besides the company's, one with
/// DST).
const OWNERS: [(&str, &str, &str); 5] = [
    ("Anna", "Smith", "Europe/Moscow"),
    ("Boris", "Ivanov", "Europe/Moscow"),
    ("Clara", "Berg", "Europe/Berlin"),
    ("Dmitry", "Orlov", "Asia/Yekaterinburg"),
    ("Elena", "Novak", "Europe/Moscow"),
];

/// Zones the managers live in, in turn.
const MANAGER_ZONES: [&str; 4] = [
    "Europe/Moscow",
    "Asia/Yekaterinburg",
    "Europe/Berlin",
    "Asia/Novosibirsk",
];

/// Existing meetings seeded over the horizon.
const MEETINGS: usize = 200;

/// Managers seeded at least, whoever presses: the meetings are theirs, two
/// each, so the data is the same at every `--chats`.
const SEEDED_MANAGERS: i64 = 100;

/// One seeded manager in the fake: their chat and the owner list the bot
/// showed them (the message every press edits).
#[derive(Clone)]
struct Manager {
    user: FakeUser,
    owner_list: i64,
}

/// What was seeded, for the printout and the presses.
struct Seeded {
    owners: Vec<UserId>,
    managers: Vec<i64>,
    blocks: usize,
    meetings: usize,
    settings: BookingSettings,
}

/// The `/schedule` day list under load (see the module docs).
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) async fn schedule(bench: &Bench) {
    let (args, fake) = (&bench.args, &bench.fake);
    let url = DatabaseUrl::parse(&bench.database_url).expect("database URL");
    let db = Db::connect(&url, 2).await.expect("connect for seeding");
    let seeded = seed(&db, args.chats.max(SEEDED_MANAGERS), args.horizon_days).await;
    if !analyze(&bench.database_url).await {
        println!("  (ANALYZE failed: the planner works without statistics)");
    }
    let backend = match db.backend() {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    };
    let pool = args
        .pool_size
        .map_or_else(|| "default".to_owned(), |size| size.to_string());
    println!(
        "schedule data: {} owners (Mon–Fri 07:00–21:00 every 30 min, 60 min slots), {} blocked periods, {} meetings, {} managers seeded, horizon {} days",
        seeded.owners.len(),
        seeded.blocks,
        seeded.meetings,
        seeded.managers.len(),
        seeded.settings.horizon_days
    );
    println!(
        "  free slots offered to the first manager per owner: {}",
        offered_counts(&db, &seeded).await
    );

    let bot = bench.spawn_bot();
    // Start-up: one manager's /schedule, answered once the bot polls.
    let managers: Vec<FakeUser> = seeded
        .managers
        .iter()
        .take(usize::try_from(args.chats).unwrap_or(0))
        .map(|&id| fake.user(id).first_name("Manager"))
        .collect();
    let first = managers.first().expect("at least one manager");
    first.send_text("/schedule");
    fake.wait_for_bot_message(first.id(), |_| true, REPLY_TIMEOUT)
        .await
        .expect("the bot answers /schedule");
    tokio::time::sleep(ROUND_PAUSE).await;

    // Every manager opens /schedule at once: the owner list (one round).
    let mut tasks = tokio::task::JoinSet::new();
    for user in &managers {
        let (fake, user) = (fake.clone(), user.clone());
        tasks.spawn(async move {
            let sent = Instant::now();
            let update_id = user.send_text("/schedule");
            let message = wait_for_reply_after(&fake, user.id(), update_id)
                .await
                .expect("the owner list");
            let latency = sent.elapsed();
            (
                Manager {
                    user,
                    owner_list: message,
                },
                latency,
            )
        });
    }
    let mut opened = Vec::new();
    let mut latencies = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (manager, latency) = joined.expect("a /schedule task");
        opened.push(manager);
        latencies.push(latency);
    }
    opened.sort_by_key(|manager| manager.user.id());
    println!(
        "/schedule → owner list, {} concurrent managers on {backend} (pool {pool}): {}",
        opened.len(),
        summary(&mut latencies)
    );
    tokio::time::sleep(ROUND_PAUSE).await;

    // One warm-up round, then the measured ones.
    let spread = Duration::from_millis(args.spread_ms);
    press_round(fake, &opened, &seeded.owners, 0, spread).await;
    tokio::time::sleep(ROUND_PAUSE).await;
    let pg_before = pg_snapshot(&bench.database_url, None).await;
    let cpu_before = cpu_seconds(bot.0.id());
    let own_cpu_before = cpu_seconds(std::process::id());
    let mut latencies = Vec::new();
    for round in 1..=args.schedule_rounds {
        latencies.extend(press_round(fake, &opened, &seeded.owners, round, spread).await);
        tokio::time::sleep(ROUND_PAUSE).await;
    }
    let cpu = cpu_seconds(bot.0.id()) - cpu_before;
    let own_cpu = cpu_seconds(std::process::id()) - own_cpu_before;
    let presses = latencies.len();
    let per_press = |seconds: f64| seconds * 1000.0 / presses.max(1) as f64;
    let when = if spread.is_zero() {
        "all pressing at once".to_owned()
    } else {
        format!("presses spread over {} ms", spread.as_millis())
    };
    println!(
        "/schedule day list (press an owner → edited day list), {} managers × {} rounds, {when}, on {backend} (pool {pool}): {}",
        opened.len(),
        args.schedule_rounds,
        summary(&mut latencies)
    );
    println!(
        "  CPU per press: bot {:.2} ms, bench process (fake Telegram + waiters) {:.2} ms",
        per_press(cpu),
        per_press(own_cpu)
    );
    if let Some(before) = pg_before {
        let after = pg_snapshot(&bench.database_url, Some(before.backends.clone())).await;
        if let Some(after) = after {
            println!(
                "  PostgreSQL per press: {}, backends' CPU {:.2} ms",
                after.counters.per_press(&before.counters, presses),
                per_press(after.backends_cpu - before.backends_cpu)
            );
        }
    }
    drop(bot);

    // The slot read alone, on one connection with nothing else running.
    let mut alone = slot_read_alone(&db, &seeded).await;
    println!(
        "  free_slots::for_query alone (its SQL + computation, one connection, sequential): {}",
        summary(&mut alone)
    );
    db.close();
}

/// Every manager presses an owner's button at once (a different owner each
/// round, so every press really changes the message) and waits for the
/// edited day list. Returns the round trips.
async fn press_round(
    fake: &FakeTelegram,
    managers: &[Manager],
    owners: &[UserId],
    round: usize,
    spread: Duration,
) -> Vec<Duration> {
    let mut tasks = tokio::task::JoinSet::new();
    let started = tokio::time::Instant::now();
    for (i, manager) in managers.iter().enumerate() {
        let owner = owners[(i + round) % owners.len()];
        let data = format!("bk:d:o{}", owner.0);
        let (fake, manager) = (fake.clone(), manager.clone());
        let press_at = started + spread.mul_f64(i as f64 / managers.len() as f64);
        tasks.spawn(async move {
            tokio::time::sleep_until(press_at).await;
            let chat = manager.user.id();
            let sent = Instant::now();
            let update_id = manager.user.press(manager.owner_list, &data);
            let edit = wait_for_edit_after(&fake, chat, update_id, manager.owner_list)
                .await
                .expect("the day list");
            let latency = sent.elapsed();
            let shows_days = edit.buttons.iter().flatten().any(|button| {
                button
                    .callback_data
                    .as_deref()
                    .is_some_and(|data| data.starts_with("bk:t:"))
            });
            assert!(
                shows_days,
                "chat {chat}: the edit is not a day list: {:?}",
                edit.text
            );
            latency
        });
    }
    let mut latencies = Vec::with_capacity(managers.len());
    while let Some(joined) = tasks.join_next().await {
        latencies.push(joined.expect("a press task"));
    }
    latencies
}

/// Waits for the bot's edit of `message_id` that answers the press
/// `update_id`: the first edit of it after that press in the chat's
/// transcript.
///
/// Cheap on purpose: a hundred waiters re-check on every change of the
/// fake, so the check walks the transcript by reference and clones only
/// the edit it returns (cloning messages on every check costs enough CPU to
/// show in the figures). The scan is in order and every scan starts at the
/// chat's first entry, the manager's own `/schedule`; any user entry
/// resets "after my press".
async fn wait_for_edit_after(
    fake: &FakeTelegram,
    chat: i64,
    update_id: i64,
    message_id: i64,
) -> Result<BotEdit, testkit::fake_telegram::WaitError> {
    let after_press = AtomicBool::new(false);
    let entry = fake
        .wait_for_entry(
            chat,
            |entry| match entry {
                Entry::UserText { .. } => {
                    after_press.store(false, Ordering::Relaxed);
                    false
                }
                Entry::UserPress { update_id: id, .. } => {
                    after_press.store(*id == update_id, Ordering::Relaxed);
                    false
                }
                Entry::BotEdit(edit) => {
                    edit.message_id == message_id && after_press.load(Ordering::Relaxed)
                }
                _ => false,
            },
            REPLY_TIMEOUT,
        )
        .await?;
    match entry {
        Entry::BotEdit(edit) => Ok(edit),
        _ => unreachable!("the predicate matches edits only"),
    }
}

/// Waits for the bot's first message in `chat` after the text `update_id`
/// and returns its id (the same cheap walk as [`wait_for_edit_after`]).
async fn wait_for_reply_after(
    fake: &FakeTelegram,
    chat: i64,
    update_id: i64,
) -> Result<i64, testkit::fake_telegram::WaitError> {
    let after_text = AtomicBool::new(false);
    let entry = fake
        .wait_for_entry(
            chat,
            |entry| match entry {
                Entry::UserText { update_id: id, .. } | Entry::UserPress { update_id: id, .. } => {
                    after_text.store(*id == update_id, Ordering::Relaxed);
                    false
                }
                Entry::BotMessage(_) => after_text.load(Ordering::Relaxed),
                _ => false,
            },
            REPLY_TIMEOUT,
        )
        .await?;
    match entry {
        Entry::BotMessage(message) => Ok(message.message_id),
        _ => unreachable!("the predicate matches messages only"),
    }
}

/// A small deterministic generator: the same data on every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound.max(1)
    }
}

/// An instant of a local wall time in `zone` (`None` in a DST gap).
fn local(zone: Tz, date: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
    let time = date.and_hms_opt(minute / 60, minute % 60, 0)?;
    zone.from_local_datetime(&time)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

fn zone_named(name: &str) -> Tz {
    name.parse().expect("a known zone")
}

/// Seeds settings, owners (grid, blocks), managers and meetings straight
/// through the repositories, as the flows would have left them.
async fn seed(db: &Db, managers: i64, horizon_days: u16) -> Seeded {
    let now = Clock::system().now();
    let taken = db
        .read(|c| users::find_by_telegram_id(c, TelegramId(ADMIN_TELEGRAM_ID)))
        .await
        .expect("look for earlier seeds");
    assert!(
        taken.is_none(),
        "this database holds an earlier bench run's users; create a fresh database"
    );
    let settings = BookingSettings {
        horizon_days,
        // Each manager has two seeded meetings; the limit must not hide a
        // whole day list (that is another screen).
        limit_per_period: 3,
        limit_period: LimitPeriod::Week,
        mode: BookingMode::Single,
        ..BookingSettings::product_defaults()
    }
    .validated()
    .expect("valid bench settings");

    // An active user needs a role; a manager admin shows in no owner list.
    let admin = SeedUser::new(ADMIN_TELEGRAM_ID, "Bench", "Admin")
        .admin(true)
        .insert(db)
        .await;
    {
        let settings = settings.clone();
        db.write(move |c| {
            booking_settings::ensure_defaults(c, &BookingSettings::product_defaults(), now)?;
            booking_settings::update(c, &settings, admin.id, now)
        })
        .await
        .expect("booking settings");
    }

    let grid: Vec<u16> = (FIRST_START_MINUTE..=LAST_START_MINUTE)
        .step_by(usize::from(START_STEP_MINUTES))
        .collect();
    let day_starts = DayStarts::try_from(grid).expect("the full grid");
    let mut owners = Vec::new();
    let mut blocks = 0;
    for (i, (first, last, zone)) in OWNERS.iter().enumerate() {
        let owner = SeedUser::new(FIRST_OWNER_TELEGRAM_ID + i as i64, first, last)
            .role(Some(Role::Owner))
            .time_zone(zone)
            .insert(db)
            .await;
        let (id, tz) = (owner.id, zone_named(zone));
        let today = now.with_timezone(&tz).date_naive();
        // A whole day off, an afternoon, and for the first owner a week of
        // vacation.
        let mut periods = vec![
            (today + TimeDelta::days(2 + i as i64), 0, 24 * 60),
            (today + TimeDelta::days(6 + i as i64), 12 * 60, 15 * 60),
        ];
        if i == 0 {
            periods.push((today + TimeDelta::days(8), 0, 5 * 24 * 60));
        }
        blocks += db
            .write(move |c| {
                for day in [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ] {
                    availability::replace_day(c, id, day, day_starts)?;
                }
                let mut added = 0;
                for (date, from, to) in periods {
                    let (Some(starts_at), Some(day_start)) =
                        (local(tz, date, from), local(tz, date, 0))
                    else {
                        continue;
                    };
                    let ends_at = day_start + TimeDelta::minutes(i64::from(to));
                    let new = NewBlockedPeriod {
                        owner: id,
                        starts_at,
                        ends_at,
                        reason: "bench",
                        created_by: Some(admin.id),
                    };
                    if let AddOutcome::Added { .. } =
                        blocked_periods::add_with_claims(c, &new, now)?
                    {
                        added += 1;
                    }
                }
                Ok(added)
            })
            .await
            .expect("owner availability");
        owners.push(id);
    }

    let mut manager_ids = Vec::new();
    let mut telegram_ids = Vec::new();
    for i in 0..managers {
        let telegram_id = FIRST_MANAGER_TELEGRAM_ID + i;
        let language = if i % 3 == 2 {
            Language::Ru
        } else {
            Language::En
        };
        let zone = MANAGER_ZONES[i as usize % MANAGER_ZONES.len()];
        let manager = SeedUser::new(telegram_id, "Manager", &format!("No{i:03}"))
            .language(language)
            .time_zone(zone)
            .insert(db)
            .await;
        manager_ids.push(manager.id);
        telegram_ids.push(telegram_id);
    }

    let meetings = seed_meetings(db, &owners, &manager_ids, &settings, now).await;
    Seeded {
        owners,
        managers: telegram_ids,
        blocks,
        meetings,
        settings,
    }
}

/// Books up to [`MEETINGS`] one-hour meetings at random grid starts over
/// the horizon (two per manager with 100 managers), through the real
/// booking transaction, then marks them synced so no calendar work waits.
async fn seed_meetings(
    db: &Db,
    owners: &[UserId],
    managers: &[UserId],
    settings: &BookingSettings,
    now: DateTime<Utc>,
) -> usize {
    let mut random = Lcg(0x9E37_79B9_7F4A_7C15);
    let window_start = now + settings.min_notice;
    let window_end = now + TimeDelta::days(i64::from(settings.horizon_days));
    let cells = u64::from((LAST_START_MINUTE - FIRST_START_MINUTE) / START_STEP_MINUTES);
    let mut booked = 0;
    for _ in 0..MEETINGS * 50 {
        if booked == MEETINGS || managers.is_empty() {
            break;
        }
        let manager = managers[booked % managers.len()];
        let owner_index = random.below(owners.len() as u64) as usize;
        let owner = owners[owner_index];
        let zone = zone_named(OWNERS[owner_index].2);
        let date = now.with_timezone(&zone).date_naive()
            + TimeDelta::days(random.below(u64::from(settings.horizon_days)) as i64);
        let minute = u32::from(FIRST_START_MINUTE)
            + u32::from(START_STEP_MINUTES) * random.below(cells + 1) as u32;
        let Some(starts_at) = local(zone, date, minute) else {
            continue;
        };
        if matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            || starts_at < window_start
            || starts_at >= window_end
        {
            continue;
        }
        let new = NewBooking {
            manager,
            owners: vec![owner],
            starts_at,
            ends_at: starts_at + TimeDelta::hours(1),
            mode: BookingMode::Single,
            period_key: period_key(starts_at, settings.limit_period, COMPANY_ZONE),
            limit: settings.limit_per_period,
            reminder_offsets: settings.reminder_offsets.clone(),
            correlation_id: None,
        };
        let stored = db
            .write(move |c| match meetings::book(c, &new, now) {
                Ok(_) => Ok(true),
                Err(BookingError::Db(error)) => Err(error),
                Err(_) => Ok(false),
            })
            .await
            .expect("book a seeded meeting");
        if stored {
            booked += 1;
        }
    }
    db.write(|c| {
        use schema::meetings as m;
        diesel::update(m::table)
            .set((
                m::sync_state.eq(SyncState::Synced),
                m::synced_revision.eq(m::revision.nullable()),
            ))
            .execute(c)?;
        Ok(())
    })
    .await
    .expect("mark seeded meetings synced");
    booked
}

/// The free slots the first manager is offered with each owner, e.g.
/// "98 / 105 / 112 / 100 / 60".
async fn offered_counts(db: &Db, seeded: &Seeded) -> String {
    let (owners, settings) = (seeded.owners.clone(), seeded.settings.clone());
    let first = *seeded.managers.first().expect("a manager");
    db.read(move |c| {
        let manager = users::find_by_telegram_id(c, TelegramId(first))?
            .expect("the first manager")
            .id;
        let now = Clock::system().now();
        let mut counts = Vec::new();
        for owner in owners {
            let query = SlotQuery {
                owners: &[owner],
                manager,
                moving: None,
                settings: &settings,
                now,
                company_zone: COMPANY_ZONE,
            };
            counts.push(free_slots::for_query(c, &query)?.len().to_string());
        }
        Ok(counts.join(" / "))
    })
    .await
    .expect("count free slots")
}

/// `free_slots::for_query` timed alone: the slot read of one press, with
/// its SQL, on one pooled connection, one call after another.
async fn slot_read_alone(db: &Db, seeded: &Seeded) -> Vec<Duration> {
    const CALLS: usize = 500;
    let (owners, settings) = (seeded.owners.clone(), seeded.settings.clone());
    let managers = seeded.managers.clone();
    db.read(move |c| {
        let telegram_ids: Vec<TelegramId> = managers.iter().map(|&id| TelegramId(id)).collect();
        let managers: Vec<UserId> = users::find_by_telegram_ids(c, &telegram_ids)?
            .into_iter()
            .map(|user| user.id)
            .collect();
        let mut times = Vec::with_capacity(CALLS);
        for call in 0..CALLS {
            let owner = [owners[call % owners.len()]];
            let query = SlotQuery {
                owners: &owner,
                manager: managers[call % managers.len().max(1)],
                moving: None,
                settings: &settings,
                now: Clock::system().now(),
                company_zone: COMPANY_ZONE,
            };
            let started = Instant::now();
            let slots = free_slots::for_query(c, &query)?;
            times.push(started.elapsed());
            std::hint::black_box(slots);
        }
        Ok::<_, DbError>(times)
    })
    .await
    .expect("time the slot read")
}

/// PostgreSQL's own counters for the bench database: what the bot asked of
/// it, whatever the client code looks like.
#[derive(Debug, Clone, Copy, QueryableByName)]
struct PgStats {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    commits: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rollbacks: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    index_scans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq_scans: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows_read: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows_written: i64,
}

impl PgStats {
    fn per_press(&self, before: &Self, presses: usize) -> String {
        let per = |after: i64, before: i64| (after - before) as f64 / presses.max(1) as f64;
        format!(
            "{:.1} transactions (incl. single statements), {:.1} rollbacks, {:.1} index scans, {:.1} sequential scans, {:.0} rows read, {:.1} rows written",
            per(self.commits, before.commits),
            per(self.rollbacks, before.rollbacks),
            per(self.index_scans, before.index_scans),
            per(self.seq_scans, before.seq_scans),
            per(self.rows_read, before.rows_read),
            per(self.rows_written, before.rows_written),
        )
    }
}

/// PostgreSQL's counters and the CPU its backends serving the bench
/// database have used.
struct PgSnapshot {
    counters: PgStats,
    /// The backends' process ids (the bot's pool is steady after warm-up).
    backends: Vec<u32>,
    backends_cpu: f64,
}

#[derive(QueryableByName)]
struct BackendPid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// Gathers planner statistics for the freshly seeded tables, as autovacuum
/// would in a running deployment (without them the planner guesses, e.g.
/// nested loops over every meeting). True on SQLite, where there is
/// nothing to do.
async fn analyze(url: &str) -> bool {
    if !url.starts_with("postgres") {
        return true;
    }
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&url).ok()?;
        diesel::sql_query("ANALYZE").execute(&mut conn).ok()
    })
    .await
    .ok()
    .flatten()
    .is_some()
}

/// The counters after the bot's connections had time to report them
/// (backends flush their statistics at most every 10 s when idle), and the
/// CPU of `backends` (or of every backend connected now); `None` on SQLite
/// or when they cannot be read.
async fn pg_snapshot(url: &str, backends: Option<Vec<u32>>) -> Option<PgSnapshot> {
    if !url.starts_with("postgres") {
        return None;
    }
    tokio::time::sleep(Duration::from_secs(11)).await;
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&url).ok()?;
        let counters = diesel::sql_query(
            "SELECT d.xact_commit AS commits, d.xact_rollback AS rollbacks, \
                    COALESCE(t.idx, 0)::bigint AS index_scans, COALESCE(t.seq, 0)::bigint AS seq_scans, \
                    (d.tup_returned + d.tup_fetched) AS rows_read, \
                    (d.tup_inserted + d.tup_updated + d.tup_deleted) AS rows_written \
             FROM pg_stat_database d, \
                  (SELECT sum(idx_scan) AS idx, sum(seq_scan) AS seq FROM pg_stat_user_tables) t \
             WHERE d.datname = current_database()",
        )
        .get_result::<PgStats>(&mut conn)
        .ok()?;
        let backends = match backends {
            Some(pids) => pids,
            None => diesel::sql_query(
                "SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .load::<BackendPid>(&mut conn)
            .ok()?
            .into_iter()
            .filter_map(|backend| u32::try_from(backend.pid).ok())
            .collect(),
        };
        let backends_cpu = backends.iter().map(|&pid| cpu_seconds(pid)).sum();
        Some(PgSnapshot {
            counters,
            backends,
            backends_cpu,
        })
    })
    .await
    .ok()
    .flatten()
}
