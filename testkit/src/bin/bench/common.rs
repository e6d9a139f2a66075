//! What every scenario uses: the services as child processes, their
//! memory and CPU from /proc, latency summaries.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The bot spaces two messages to one chat by 1.1 s (Telegram's per-chat
/// limit); a round starts this long after the previous one ended, so no
/// press waits for that spacing.
pub(crate) const ROUND_PAUSE: Duration = Duration::from_millis(1_200);

/// How long one reply may take before the bench gives up.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

pub(crate) fn spawn(bin: &Path, dir: &Path, env: &[(String, String)]) -> Process {
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
pub(crate) fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// CPU seconds (user + system) a process has used so far.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
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

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// "p50 … ms, p99 … ms, max … ms" of unsorted latencies.
pub(crate) fn summary(latencies: &mut [Duration]) -> String {
    latencies.sort_unstable();
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms(percentile(latencies, 50.0)),
        ms(percentile(latencies, 99.0)),
        ms(percentile(latencies, 100.0)),
    )
}
