//! `scripts/bench`: figures of the release binaries against the fake
//! Telegram on an embedded SQLite file (or `--database-url`): start → first
//! reply, idle memory, CPU per 1,000 simple updates, reply latency with 100
//! concurrent chats, binary sizes. Not a test: it prints numbers.

#![expect(
    clippy::expect_used,
    reason = "a benchmark stops at the first broken setup step"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use testkit::fake_telegram::{FakeTelegram, FakeTelegramConfig};

const TOKEN: &str = "777000:bench-token";

#[derive(Debug, Parser)]
struct Args {
    /// Directory with the release `bot` and `worker`.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Database to run on (default: a fresh SQLite file per run).
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent chats for the latency figure.
    #[arg(long, default_value_t = 100)]
    chats: i64,
    /// Rounds per chat for the latency figure.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn spawn(bin: &Path, dir: &Path, env: &[(String, String)]) -> Process {
    let child = Command::new(bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a service");
    Process(child)
}

/// Resident memory of a process in MiB (from /proc).
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of /proc/pid/stat (utime, stime), counted after the name.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
#[tokio::main]
async fn main() {
    let args = Args::parse();
    let bot_bin = args.bin_dir.join("bot");
    let worker_bin = args.bin_dir.join("worker");
    for bin in [&bot_bin, &worker_bin] {
        let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
        println!(
            "binary {}: {:.1} MiB",
            bin.display(),
            size as f64 / 1_048_576.0
        );
    }

    let fake = FakeTelegram::start(FakeTelegramConfig::unlimited().with_token(TOKEN)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let env: Vec<(String, String)> = [
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", fake.base_url()),
        ("DATABASE_URL", database_url),
        ("PORT", "0".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
        ("TELEGRAM_RATE", "10000".to_owned()),
        ("TELEGRAM_BULK_RATE", "10000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

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

    // Start → first reply: the update waits in Telegram before the bot starts.
    let first = fake.user(1).first_name("First");
    first.send_text("/start");
    let started = Instant::now();
    let bot = spawn(&bot_bin, dir.path(), &env);
    fake.wait_for_bot_message(1, |_| true, Duration::from_secs(60))
        .await
        .expect("first reply");
    println!("start → first reply: {:.0} ms", ms(started.elapsed()));
    let worker = spawn(&worker_bin, dir.path(), &env);

    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "idle RSS: bot {:.1} MiB, worker {:.1} MiB",
        rss_mib(bot.0.id()),
        rss_mib(worker.0.id())
    );

    // Reply latency: every chat sends /help and waits for the answer; a chat
    // writes at most once per 1.2 s (Telegram allows the bot about one
    // message per second per chat, and so does the fake).
    let users: Vec<_> = (0..args.chats)
        .map(|i| fake.user(1_000 + i).first_name("Load"))
        .collect();
    let cpu_before = cpu_seconds(bot.0.id());
    let mut latencies = Vec::new();
    let total_updates = args.chats as usize * args.rounds;
    let load_started = Instant::now();
    for round in 0..args.rounds {
        let round_started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for user in &users {
            let (fake, user) = (fake.clone(), user.clone());
            let expected = round + 1;
            tasks.spawn(async move {
                let sent = Instant::now();
                user.send_text("/help");
                fake.wait_for_stats(
                    |s| s.delivered.get(&user.id()).copied().unwrap_or(0) >= expected as u64,
                    Duration::from_secs(60),
                )
                .await
                .expect("reply");
                sent.elapsed()
            });
        }
        while let Some(latency) = tasks.join_next().await {
            latencies.push(latency.expect("latency task"));
        }
        tokio::time::sleep(Duration::from_millis(1_200).saturating_sub(round_started.elapsed()))
            .await;
    }
    let wall = load_started.elapsed();
    let cpu = cpu_seconds(bot.0.id()) - cpu_before;
    latencies.sort();
    println!(
        "reply latency, {} concurrent chats × {} rounds: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({:.0} updates/s offered)",
        args.chats,
        args.rounds,
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(percentile(&latencies, 100.0)),
        total_updates as f64 / wall.as_secs_f64()
    );
    println!(
        "bot CPU per 1,000 simple updates: {:.3} s",
        cpu * 1000.0 / total_updates as f64
    );
    drop(worker);
    drop(bot);
}
