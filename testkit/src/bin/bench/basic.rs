//! `--scenario basic`: start → first reply, idle memory, /help latency
//! with concurrent chats, the bot's CPU per update.

use std::time::{Duration, Instant};

use crate::Bench;
use crate::common::{REPLY_TIMEOUT, ROUND_PAUSE, cpu_seconds, ms, percentile, rss_mib};

/// Start → first reply, idle memory, /help latency and CPU.
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
    println!("start → first reply: {:.0} ms", ms(started.elapsed()));
    let worker = bench.spawn_worker();

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
