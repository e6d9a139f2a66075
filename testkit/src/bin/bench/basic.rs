//! `--scenario basic`: start → first reply, idle memory and CPU, /help
//! latency with concurrent chats, the bot's CPU per 1,000 updates.

use std::time::{Duration, Instant};

use crate::Bench;
use crate::common::{REPLY_TIMEOUT, ROUND_PAUSE, cpu_seconds, ms, percentile, rss_mib};

/// Telegram ids of the burst's chats, apart from every other scenario's.
const BURST_FIRST_CHAT: i64 = 3_000_000;
/// Updates in the CPU burst (the figure is per 1,000).
const BURST_UPDATES: i64 = 1_000;
/// How long the idle figures are taken over.
const IDLE_WINDOW: Duration = Duration::from_secs(5);

/// Start → first reply, idle memory and CPU, /help latency and CPU.
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
pub(crate) async fn basic(bench: &Bench) {
    let (args, fake) = (&bench.args, &bench.fake);
    // Start → first reply: the update waits in Telegram before the bot starts.
    let first = fake.user(1).first_name("First");
    first.send_text("/start");
    let started = Instant::now();
    let bot = bench.spawn_bot();
    fake.wait_for_bot_message(1, |_| true, REPLY_TIMEOUT)
        .await
        .expect("first reply");
    println!(
        "start → first reply: {:.0} ms (bar ≤ 300 ms)",
        ms(started.elapsed())
    );
    let worker = bench.spawn_worker();

    // Idle: both started a while ago and nothing is asked of them.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (bot_pid, worker_pid) = (bot.0.id(), worker.0.id());
    let (bot_cpu, worker_cpu) = (cpu_seconds(bot_pid), cpu_seconds(worker_pid));
    tokio::time::sleep(IDLE_WINDOW).await;
    let idle_ms_per_s =
        |before: f64, pid: u32| (cpu_seconds(pid) - before) * 1000.0 / IDLE_WINDOW.as_secs_f64();
    println!(
        "idle RSS: bot {:.1} MiB, worker {:.1} MiB (bar ≤ 20 MB = 19.1 MiB each)",
        rss_mib(bot_pid),
        rss_mib(worker_pid)
    );
    println!(
        "idle CPU: bot {:.1} ms/s, worker {:.1} ms/s (over {} s)",
        idle_ms_per_s(bot_cpu, bot_pid),
        idle_ms_per_s(worker_cpu, worker_pid),
        IDLE_WINDOW.as_secs()
    );

    // Reply latency: every chat sends /help and waits for the answer; a chat
    // writes at most once per 1.2 s (Telegram allows the bot about one
    // message per second per chat, and so does the fake).
    let users: Vec<_> = (0..args.chats)
        .map(|i| fake.user(1_000 + i).first_name("Load"))
        .collect();
    let cpu_before = cpu_seconds(bot_pid);
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
                    REPLY_TIMEOUT,
                )
                .await
                .expect("reply");
                sent.elapsed()
            });
        }
        while let Some(latency) = tasks.join_next().await {
            latencies.push(latency.expect("latency task"));
        }
        tokio::time::sleep(ROUND_PAUSE.saturating_sub(round_started.elapsed())).await;
    }
    let wall = load_started.elapsed();
    let cpu = cpu_seconds(bot_pid) - cpu_before;
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
        "  bot CPU over those rounds, per 1,000 updates: {:.3} s (the pauses between rounds included)",
        cpu * 1000.0 / total_updates as f64
    );

    cpu_burst(bench, bot_pid).await;
    drop(worker);
    drop(bot);
}

/// The bot's CPU (user + system, from /proc) over 1,000 `/help` updates
/// from 1,000 chats sent at once: each chat gets one reply, so Telegram's
/// per-chat spacing never makes the bot wait, and the figure holds the
/// work per update with as little idle time as the bot needs to get
/// through them.
#[expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
async fn cpu_burst(bench: &Bench, bot_pid: u32) {
    let fake = &bench.fake;
    let users: Vec<_> = (0..BURST_UPDATES)
        .map(|i| fake.user(BURST_FIRST_CHAT + i).first_name("Burst"))
        .collect();
    let delivered_before = fake.stats().delivered_total();
    let expected = delivered_before + users.len() as u64;
    let cpu_before = cpu_seconds(bot_pid);
    let started = Instant::now();
    for user in &users {
        user.send_text("/help");
    }
    loop {
        if fake.stats().delivered_total() >= expected {
            break;
        }
        assert!(
            started.elapsed() < REPLY_TIMEOUT,
            "the burst was not answered within {REPLY_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    // The last replies are recorded as sent after Telegram took them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu = cpu_seconds(bot_pid) - cpu_before;
    println!(
        "bot CPU per 1,000 simple updates (/help from {BURST_UPDATES} chats at once, user + system): {:.3} s (bar ≤ 0.1 s); all answered in {:.2} s",
        cpu * 1000.0 / BURST_UPDATES as f64,
        wall.as_secs_f64()
    );
}
