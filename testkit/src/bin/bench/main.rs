//! `scripts/bench`: figures of the release binaries against the fake
//! Telegram on an embedded SQLite file (or `--database-url`). Not a test: it
//! prints numbers.
//!
//! - `--scenario basic` (the default): start → first reply, idle memory,
//!   CPU per 1,000 simple updates, reply latency with 100 concurrent chats,
//!   binary sizes.
//! - `--scenario schedule`: the `/schedule` day list under load. The
//!   database is seeded directly (5 owners with a full weekday grid, blocked
//!   periods, ~200 meetings over the horizon, 100 managers), then every
//!   manager presses an owner's button at the same moment and waits for the
//!   bot's edited day list, round after round: the round trip a manager
//!   feels, with the slot computation, the SQL and the delivery budget in
//!   it. Also prints what PostgreSQL did per press and how long the slot
//!   read alone takes, to tell where the time goes.
//! - `--scenario reminders`: `--reminders N` (default 10,000) reminders due
//!   at the same instant, delivered by `--workers N` workers at
//!   `TELEGRAM_BULK_RATE=28` against Telegram's real limits: the rate as a
//!   fraction of that budget, 429s, lateness, peak worker RSS (see
//!   `reminders.rs`). Takes about N / 28 seconds.
//! - `--scenario flood`: one user sends 300 updates within a second while
//!   50 others each send `/help`, Telegram's per-chat limit on: the
//!   bystanders' reply times and what the flooder got (see `flood.rs`).
//! - `--scenario all`: basic and schedule, one after the other.
//!
//! The seeded users have their own Telegram id range; the bench refuses a
//! database that has them already (create a fresh database per run).

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at the first broken setup step"
)]

mod basic;
mod common;
mod flood;
mod reminders;
mod schedule;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use chrono_tz::Tz;
use clap::{Parser, ValueEnum};
use testkit::fake_telegram::{FakeTelegram, FakeTelegramConfig, Limits};

use crate::common::{Process, spawn};

pub(crate) const TOKEN: &str = "777000:bench-token";

/// The bot's company zone (`TIMEZONE`), which the limit periods follow.
pub(crate) const COMPANY_ZONE: Tz = chrono_tz::Europe::Moscow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Start-up, memory, CPU and /help latency.
    Basic,
    /// The /schedule day list with concurrent managers.
    Schedule,
    /// Reminders due at once, delivered within Telegram's real limits.
    Reminders,
    /// One user floods, others send /help: the others' reply times.
    Flood,
    /// Basic and schedule.
    All,
}

#[derive(Debug, Parser)]
pub(crate) struct Args {
    /// Directory with the release `bot` and `worker`.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Database to run on (default: a fresh SQLite file per run). For the
    /// schedule scenario it must not hold the bench's seeded users yet.
    #[arg(long)]
    database_url: Option<String>,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Basic)]
    scenario: Scenario,
    /// Concurrent chats for the latency figures (managers in the schedule
    /// scenario).
    #[arg(long, default_value_t = 100)]
    chats: i64,
    /// Rounds per chat for the /help latency figure.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Measured rounds of the day-list figure (each manager presses once
    /// per round; one more warm-up round is not counted).
    #[arg(long, default_value_t = 30)]
    schedule_rounds: usize,
    /// Booking horizon of the schedule scenario (the product default is 14).
    #[arg(long, default_value_t = 14)]
    horizon_days: u16,
    /// The bot's `DATABASE_POOL_SIZE` (default: the product's default).
    #[arg(long)]
    pool_size: Option<usize>,
    /// Spread each round's presses evenly over this many milliseconds
    /// (0: every manager presses at the same moment, the worst case).
    #[arg(long, default_value_t = 0)]
    spread_ms: u64,
    /// Reminders due at once in the reminders scenario (two per meeting).
    #[arg(long, default_value_t = 10_000)]
    reminders: usize,
    /// Workers delivering them.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// The services' `RUST_LOG` (the product's default is `info`; logs go
    /// to /dev/null, JSON-formatted as in production).
    #[arg(long, default_value = "info")]
    rust_log: String,
    /// Updates the flooding user sends within one second (flood scenario).
    #[arg(long, default_value_t = 300)]
    flood_updates: u32,
    /// Users who each send /help during the flood.
    #[arg(long, default_value_t = 50)]
    bystanders: u32,
    /// How long a bystander waits for their reply before counting as not
    /// answered.
    #[arg(long, default_value_t = 60)]
    flood_timeout_secs: u64,
}

/// Everything both scenarios share: the fake, the working directory, the
/// services' environment.
pub(crate) struct Bench {
    args: Args,
    fake: FakeTelegram,
    dir: tempfile::TempDir,
    database_url: String,
    env: Vec<(String, String)>,
    bot_bin: PathBuf,
    worker_bin: PathBuf,
}

impl Bench {
    fn spawn_bot(&self) -> Process {
        spawn(&self.bot_bin, self.dir.path(), &self.env)
    }

    fn spawn_worker(&self) -> Process {
        spawn(&self.worker_bin, self.dir.path(), &self.env)
    }
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
#[tokio::main]
async fn main() {
    let args = Args::parse();
    // The services run in a temporary directory: a relative --bin-dir would
    // be resolved there.
    let bin_dir = std::fs::canonicalize(&args.bin_dir).expect("the --bin-dir directory");
    let bot_bin = bin_dir.join("bot");
    let worker_bin = bin_dir.join("worker");
    for bin in [&bot_bin, &worker_bin] {
        let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
        println!(
            "binary {}: {:.1} MiB",
            bin.display(),
            size as f64 / 1_048_576.0
        );
    }

    // The flood keeps Telegram's per-chat limit (the token's is off, and
    // the bot's budget raised, as everywhere here); the others have none.
    let limits = if args.scenario == Scenario::Flood {
        Limits {
            global: None,
            ..Limits::default()
        }
    } else {
        Limits::unlimited()
    };
    let fake = FakeTelegram::start(
        FakeTelegramConfig::unlimited()
            .with_token(TOKEN)
            .with_limits(limits),
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let mut env: Vec<(String, String)> = [
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", fake.base_url()),
        ("DATABASE_URL", database_url.clone()),
        ("TIMEZONE", COMPANY_ZONE.name().to_owned()),
        ("PORT", "0".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", args.rust_log.clone()),
        ("TELEGRAM_RATE", "10000".to_owned()),
        ("TELEGRAM_BULK_RATE", "10000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(size) = args.pool_size {
        env.push(("DATABASE_POOL_SIZE".to_owned(), size.to_string()));
    }

    // Migrate once so start-up below is the steady-state start.
    let status = Command::new(&bot_bin)
        .arg("migrate")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(dir.path())
        .stderr(Stdio::null())
        .status()
        .expect("migrate");
    assert!(status.success(), "migrate failed");

    let scenario = args.scenario;
    let bench = Bench {
        args,
        fake,
        dir,
        database_url,
        env,
        bot_bin,
        worker_bin,
    };
    if matches!(scenario, Scenario::Basic | Scenario::All) {
        basic::basic(&bench).await;
    }
    if matches!(scenario, Scenario::Schedule | Scenario::All) {
        schedule::schedule(&bench).await;
    }
    if scenario == Scenario::Reminders {
        reminders::reminders(&bench).await;
    }
    if scenario == Scenario::Flood {
        flood::flood(&bench).await;
    }
}
