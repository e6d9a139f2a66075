//! A whole deployment for end-to-end tests: the fake Telegram, a real
//! database, and the real `bot` and `worker` processes pointed at them.

use std::path::PathBuf;
use std::time::Duration;

use shared::db::DatabaseUrl;
use shared::jobs::{Queue, QueueSettings};

use crate::db::TestDb;
use crate::fake_telegram::{FakeTelegram, FakeTelegramConfig, Limits};
use crate::process::Service;

/// The bot token every end-to-end test uses; the suite greps logs for it.
pub const TOKEN: &str = "424242:AAE2e-secret_token_value";

/// Settings of a test deployment; the defaults keep tests quick.
#[derive(Debug, Clone)]
pub struct StackConfig {
    pub admins: Vec<i64>,
    pub limits: Limits,
    /// `TELEGRAM_RATE` / `TELEGRAM_BULK_RATE`.
    pub rate: f64,
    pub bulk_rate: f64,
    /// Extra environment for both processes.
    pub env: Vec<(String, String)>,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            admins: vec![7001],
            limits: Limits::default(),
            rate: 28.0,
            bulk_rate: 20.0,
            env: Vec::new(),
        }
    }
}

/// A running deployment; processes are killed when it is dropped.
#[derive(Debug)]
pub struct Stack {
    pub db: TestDb,
    pub telegram: FakeTelegram,
    pub bot: Option<Service>,
    pub workers: Vec<Service>,
    pub config: StackConfig,
    dir: tempfile::TempDir,
    started: usize,
}

impl Stack {
    /// Starts the fake Telegram only; add processes with [`Stack::start_bot`]
    /// and [`Stack::start_worker`].
    pub async fn new(db: TestDb, config: StackConfig) -> Self {
        let telegram =
            FakeTelegram::start(FakeTelegramConfig::new(TOKEN).with_limits(config.limits.clone()))
                .await;
        Self {
            db,
            telegram,
            bot: None,
            workers: Vec::new(),
            config,
            dir: tempfile::tempdir().expect("temp dir"),
            started: 0,
        }
    }

    /// The environment both binaries run with.
    pub fn env(&self) -> Vec<(String, String)> {
        let admins = self
            .config
            .admins
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut env: Vec<(String, String)> = [
            ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
            ("TELEGRAM_API_URL", self.telegram.base_url()),
            ("DATABASE_URL", self.db.url.clone()),
            ("ADMIN_TELEGRAM_IDS", admins),
            ("PORT", "0".to_owned()),
            ("RUST_LOG", "info".to_owned()),
            ("TELEGRAM_POLL_TIMEOUT", "2s".to_owned()),
            ("TELEGRAM_RATE", self.config.rate.to_string()),
            ("TELEGRAM_BULK_RATE", self.config.bulk_rate.to_string()),
            ("HTTP_TIMEOUT", "15s".to_owned()),
            ("WORKER_HEARTBEAT", "1s".to_owned()),
            ("WORKER_MISSED_HEARTBEATS", "3".to_owned()),
            ("JOB_BACKOFF_BASE", "100ms".to_owned()),
            ("JOB_BACKOFF_CAP", "2s".to_owned()),
            ("JOB_MAX_ATTEMPTS", "20".to_owned()),
            ("PERIODIC_TICK", "1s".to_owned()),
            // The health monitor alerts admins when a check fails; the
            // tests that count admins' messages exactly must not see one
            // (the diagnostics tests switch it on).
            ("HEALTH_CHECK_INTERVAL", "0s".to_owned()),
            ("TEST_CLOCK_FILE", self.clock_file().display().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(self.config.env.iter().cloned());
        env
    }

    /// A handle on the deployment's job queue, to push jobs as the bot
    /// would.
    pub async fn queue(&self) -> Queue {
        let settings = QueueSettings {
            max_attempts: 20,
            pool_size: 2,
            ..QueueSettings::default()
        };
        let url = DatabaseUrl::parse(&self.db.url).expect("the test database URL parses");
        Queue::connect(&url, settings)
            .await
            .expect("the queue opens")
    }

    /// The file the services read their clock offset from.
    pub fn clock_file(&self) -> PathBuf {
        self.dir.path().join("clock-offset")
    }

    /// Starts the bot and waits until it polls.
    pub async fn start_bot(&mut self) -> &Service {
        let bot = Service::start("bot", "bot", &self.env(), self.dir.path());
        bot.wait_for_log(&["\"message\":\"bot started\""], Duration::from_secs(60))
            .await;
        self.bot = Some(bot);
        self.bot.as_ref().expect("just set")
    }

    /// Starts another bot replica (it stands by while the first one polls).
    pub async fn start_standby_bot(&mut self) -> Service {
        self.started += 1;
        let label = format!("bot{}", self.started);
        let bot = Service::start("bot", &label, &self.env(), self.dir.path());
        bot.wait_for_log(&["\"message\":\"bot started\""], Duration::from_secs(60))
            .await;
        bot
    }

    /// Starts one more worker and waits until it consumes the queue.
    pub async fn start_worker(&mut self) -> usize {
        self.started += 1;
        let label = format!("worker{}", self.started);
        let worker = Service::start("worker", &label, &self.env(), self.dir.path());
        worker
            .wait_for_log(
                &["\"message\":\"job worker running\""],
                Duration::from_secs(60),
            )
            .await;
        self.workers.push(worker);
        self.workers.len() - 1
    }

    /// Every log line of every process started so far.
    pub fn all_logs(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.bot.iter().flat_map(Service::logs).collect();
        lines.extend(self.workers.iter().flat_map(Service::logs));
        lines
    }

    /// Asserts that no log line holds the bot token or its secret part.
    pub fn assert_no_secret_in_logs(&self) {
        let secret = TOKEN.split_once(':').map_or(TOKEN, |(_, s)| s);
        for line in self.all_logs() {
            assert!(
                !line.contains(TOKEN) && !line.contains(secret),
                "a log line holds the bot token: {line}"
            );
        }
    }
}
