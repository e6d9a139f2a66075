//! The real `bot` and `worker` running as child processes, with their logs
//! captured (to assert on lines and to grep for secrets).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use crate::bins::binary;

/// A running service process.
#[derive(Debug)]
pub struct Service {
    pub name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    changed: watch::Receiver<usize>,
}

impl Service {
    /// Starts `binary_name` (`bot` or `worker`) with exactly `env` (plus
    /// PATH), in `dir`, logging JSON lines that the test can read.
    pub fn start(binary_name: &str, label: &str, env: &[(String, String)], dir: &Path) -> Self {
        let mut command = Command::new(binary(binary_name));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn service");
        let stderr = child.stderr.take().expect("stderr piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (notify, changed) = watch::channel(0_usize);
        let sink = Arc::clone(&lines);
        let echo = std::env::var_os("TEST_LOG").is_some();
        let prefix = label.to_owned();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if echo {
                    eprintln!("[{prefix}] {line}");
                }
                let count = {
                    let mut all = sink.lock().expect("log lock");
                    all.push(line);
                    all.len()
                };
                let _ = notify.send(count);
            }
        });
        Self {
            name: label.to_owned(),
            child,
            lines,
            changed,
        }
    }

    /// Every log line so far.
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().expect("log lock").clone()
    }

    /// Waits (generously) for a log line containing every one of `needles`.
    pub async fn wait_for_log(&self, needles: &[&str], timeout: Duration) -> String {
        let mut changed = self.changed.clone();
        let search = || {
            self.lines
                .lock()
                .expect("log lock")
                .iter()
                .find(|line| needles.iter().all(|n| line.contains(n)))
                .cloned()
        };
        let found = tokio::time::timeout(timeout, async {
            loop {
                if let Some(line) = search() {
                    return line;
                }
                if changed.changed().await.is_err() {
                    // The process ended; one last look.
                    return search().unwrap_or_default();
                }
            }
        })
        .await;
        match found {
            Ok(line) if !line.is_empty() => line,
            _ => panic!(
                "{}: no log line with {needles:?} within {timeout:?}; last lines:\n{}",
                self.name,
                self.logs()
                    .iter()
                    .rev()
                    .take(20)
                    .rev()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }

    /// The HTTP port the bot logged (`"http listening"` with `port`).
    pub async fn http_port(&self) -> u16 {
        let line = self
            .wait_for_log(&["\"message\":\"http listening\""], Duration::from_secs(60))
            .await;
        let json: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        json["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("port field")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL: the process dies between two lines, as in a crash.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGTERM, then waits for the exit.
    pub async fn terminate(&mut self) -> ExitStatus {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("service stops within a minute")
            .expect("wait for service")
    }
}

/// A scratch directory for a test's processes (their `./data`, clock file).
pub fn scratch_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_owned();
    (dir, path)
}
