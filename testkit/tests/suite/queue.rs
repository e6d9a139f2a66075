//! The job queue on both backends: push, idempotency, retries, recovery.
//!
//! Settings are small (1 s heartbeats, millisecond backoffs) so the file
//! stays quick; assertions are about counts and order, never durations.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::clock::Clock;
use shared::db::{DatabaseUrl, Db};
use shared::jobs::trace::{self, JobRun};
use shared::jobs::{
    DeliverMessage, Job, JobContext, JobError, Pushed, Queue, QueueError, QueueSettings, Runner,
};
use testkit::db::TestDb;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Generous bound for anything that should happen "soon"; only a hang hits it.
const DEADLINE: Duration = Duration::from_secs(60);

fn settings() -> QueueSettings {
    QueueSettings {
        concurrency: 4,
        batch_size: 4,
        heartbeat: Duration::from_secs(1),
        missed_heartbeats: 3,
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(200),
        max_attempts: 3,
        poll_interval: Duration::from_millis(50),
        pool_size: 4,
    }
}

fn job(outbox_id: i64) -> DeliverMessage {
    DeliverMessage {
        outbox_id,
        correlation_id: format!("corr-{outbox_id}"),
    }
}

async fn queue_for(test: &TestDb, settings: QueueSettings) -> Queue {
    let url = DatabaseUrl::parse(&test.url).unwrap();
    Queue::setup(&url).await.unwrap();
    Queue::connect(&url, settings).await.unwrap()
}

async fn push_all(queue: &Queue, ids: impl IntoIterator<Item = i64>) {
    for id in ids {
        let job = job(id);
        let pushed = queue.push(&job, &job.idempotency_key(0)).await.unwrap();
        assert_eq!(pushed, Pushed::Queued);
    }
}

/// One handler attempt as the test saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    outbox_id: i64,
    attempt: u32,
    job_id: String,
    worker: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn log_attempt(log: &Log, job: &DeliverMessage, ctx: &JobContext<()>) {
    log.lock().unwrap().push(Seen {
        outbox_id: job.outbox_id,
        attempt: ctx.attempt,
        job_id: ctx.job_id.clone(),
        worker: ctx.worker.clone(),
    });
}

/// A runner in the background, like a worker process.
struct Running {
    stop: oneshot::Sender<()>,
    done: JoinHandle<Result<(), QueueError>>,
}

impl Running {
    fn start<F, Fut>(queue: Queue, db: &Db, handler: F) -> Self
    where
        F: Fn(DeliverMessage, JobContext<()>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let runner = Runner::new(queue, db.clone(), Clock::system(), Arc::new(())).handle(handler);
        let done = tokio::spawn(runner.run(async move {
            let _ = stopped.await;
        }));
        Self { stop, done }
    }

    /// Sends the shutdown signal and waits for the runner to return.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(DEADLINE, self.done)
            .await
            .unwrap_or_else(|_| panic!("the runner did not stop"))
            .unwrap()
            .unwrap();
    }
}

/// Waits until `check` holds, polling; fails the test after [`DEADLINE`].
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn runs(db: &Db) -> Vec<JobRun> {
    db.read(|c| trace::for_type(c, DeliverMessage::QUEUE))
        .await
        .unwrap()
}

async fn runs_of(db: &Db, job_id: &str) -> Vec<JobRun> {
    let job_id = job_id.to_owned();
    db.read(move |c| trace::for_job(c, &job_id)).await.unwrap()
}

fn attempts_of(log: &Log, outbox_id: i64) -> Vec<Seen> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|s| s.outbox_id == outbox_id)
        .cloned()
        .collect()
}

async fn two_runners_handle_every_job_exactly_once(test: TestDb) {
    const JOBS: i64 = 200;
    let pusher = queue_for(&test, settings()).await;
    push_all(&pusher, 1..=JOBS).await;

    let log: Log = Arc::default();
    let handler = |log: Log| {
        move |job: DeliverMessage, ctx: JobContext<()>| {
            log_attempt(&log, &job, &ctx);
            async { Ok(()) }
        }
    };
    // Separate handles and pools, like two worker processes.
    let first = Running::start(
        queue_for(&test, settings()).await,
        &test.db,
        handler(log.clone()),
    );
    let second = Running::start(
        queue_for(&test, settings()).await,
        &test.db,
        handler(log.clone()),
    );
    eventually("all jobs recorded", async || {
        runs(&test.db).await.len() >= JOBS as usize
    })
    .await;
    first.stop().await;
    second.stop().await;

    let seen = log.lock().unwrap().clone();
    let mut per_job: HashMap<i64, usize> = HashMap::new();
    for s in &seen {
        *per_job.entry(s.outbox_id).or_default() += 1;
        assert_eq!(s.attempt, 1);
    }
    assert_eq!(per_job.len(), JOBS as usize);
    assert!(per_job.values().all(|&n| n == 1), "a job ran twice");
    let workers: std::collections::HashSet<_> = seen.iter().map(|s| &s.worker).collect();
    assert!(workers.iter().all(|w| w.starts_with("deliver-message@")));

    let runs = runs(&test.db).await;
    assert_eq!(runs.len(), JOBS as usize);
    assert!(
        runs.iter()
            .all(|r| r.outcome == "succeeded" && r.attempt == 1)
    );
    assert!(runs.iter().all(|r| {
        r.correlation_id
            .as_deref()
            .is_some_and(|c| c.starts_with("corr-"))
    }));
}

async fn a_duplicate_key_is_already_queued_and_runs_once(test: TestDb) {
    let queue = queue_for(&test, settings()).await;
    let first = job(7);
    let key = first.idempotency_key(0);
    assert_eq!(queue.push(&first, &key).await.unwrap(), Pushed::Queued);
    // Same key, even with another payload: already queued, never an error.
    assert_eq!(
        queue.push(&job(8), &key).await.unwrap(),
        Pushed::AlreadyQueued
    );
    assert_eq!(
        queue.push(&first, &first.idempotency_key(1)).await.unwrap(),
        Pushed::Queued,
        "a new revision is a new job"
    );

    let log: Log = Arc::default();
    let running = Running::start(queue.clone(), &test.db, {
        let log = log.clone();
        move |job: DeliverMessage, ctx: JobContext<()>| {
            log_attempt(&log, &job, &ctx);
            async { Ok(()) }
        }
    });
    eventually("both jobs ran", async || runs(&test.db).await.len() >= 2).await;
    // The key stays taken while the finished job is kept.
    assert_eq!(
        queue.push(&first, &key).await.unwrap(),
        Pushed::AlreadyQueued
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.stop().await;

    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|s| s.outbox_id == 7));
    assert_ne!(seen[0].job_id, seen[1].job_id);
}

async fn retryable_failures_are_retried_with_backoff(test: TestDb) {
    const FLAKY: i64 = 1;
    const ALWAYS_DOWN: i64 = 2;
    let queue = queue_for(&test, settings()).await;
    push_all(&queue, [FLAKY, ALWAYS_DOWN]).await;

    let log: Log = Arc::default();
    let running = Running::start(queue, &test.db, {
        let log = log.clone();
        move |job: DeliverMessage, ctx: JobContext<()>| {
            log_attempt(&log, &job, &ctx);
            let outcome = match job.outbox_id {
                FLAKY if ctx.attempt < 3 => Err(JobError::retryable("telegram answered 502")),
                FLAKY => Ok(()),
                _ => Err(JobError::retryable("telegram answered 502")),
            };
            async move { outcome }
        }
    });
    eventually("six attempts recorded", async || {
        runs(&test.db).await.len() >= 6
    })
    .await;
    // No fourth attempt follows the last one.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    running.stop().await;

    for (outbox_id, last_outcome) in [(FLAKY, "succeeded"), (ALWAYS_DOWN, "failed")] {
        let seen = attempts_of(&log, outbox_id);
        let attempts: Vec<_> = seen.iter().map(|s| s.attempt).collect();
        assert_eq!(attempts, [1, 2, 3], "outbox {outbox_id}");
        assert!(seen.iter().all(|s| s.job_id == seen[0].job_id));

        let runs = runs_of(&test.db, &seen[0].job_id).await;
        let rows: Vec<_> = runs
            .iter()
            .map(|r| (r.attempt, r.outcome.as_str()))
            .collect();
        assert_eq!(
            rows,
            [(1, "retrying"), (2, "retrying"), (3, last_outcome)],
            "outbox {outbox_id}"
        );
        assert!(runs.windows(2).all(|w| w[0].started_at <= w[1].started_at));
        let expected_corr = format!("corr-{outbox_id}");
        assert!(runs.iter().all(|r| {
            r.job_type == DeliverMessage::QUEUE
                && r.correlation_id.as_deref() == Some(expected_corr.as_str())
                && r.duration_ms >= 0
                && !r.worker.is_empty()
        }));
        assert_eq!(
            runs[0].error.as_deref(),
            Some("telegram answered 502"),
            "the error is kept"
        );
    }
}

async fn permanent_failures_and_panics_are_not_retried(test: TestDb) {
    const GONE: i64 = 1;
    const BUG: i64 = 2;
    let queue = queue_for(&test, settings()).await;
    push_all(&queue, [GONE, BUG]).await;

    let log: Log = Arc::default();
    let running = Running::start(queue, &test.db, {
        let log = log.clone();
        move |job: DeliverMessage, ctx: JobContext<()>| {
            log_attempt(&log, &job, &ctx);
            async move {
                if job.outbox_id == BUG {
                    panic!("handler bug");
                }
                Err(JobError::permanent("outbox row is gone"))
            }
        }
    });
    eventually("both failures recorded", async || {
        runs(&test.db).await.len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    running.stop().await;

    let runs = runs(&test.db).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs.iter().all(|r| r.outcome == "failed" && r.attempt == 1));
    assert_eq!(attempts_of(&log, GONE).len(), 1);
    assert_eq!(attempts_of(&log, BUG).len(), 1);
    let errors: Vec<_> = runs.iter().filter_map(|r| r.error.clone()).collect();
    assert!(
        errors.iter().any(|e| e == "outbox row is gone"),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("handler bug")),
        "{errors:?}"
    );
}

async fn shutdown_finishes_in_flight_jobs(test: TestDb) {
    let queue = queue_for(&test, settings()).await;
    push_all(&queue, 1..=3).await;

    let started: Log = Arc::default();
    let finished: Log = Arc::default();
    // The handlers wait at this gate, so the stop surely finds them in flight.
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let running = Running::start(queue, &test.db, {
        let (started, finished, gate) = (started.clone(), finished.clone(), gate.clone());
        move |job: DeliverMessage, ctx: JobContext<()>| {
            log_attempt(&started, &job, &ctx);
            let (finished, gate) = (finished.clone(), gate.clone());
            async move {
                let _permit = gate.acquire().await;
                log_attempt(&finished, &job, &ctx);
                Ok(())
            }
        }
    });
    eventually("three jobs in flight", async || {
        started.lock().unwrap().len() == 3
    })
    .await;
    assert!(finished.lock().unwrap().is_empty());
    let stopping = tokio::spawn(running.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    gate.add_permits(3);
    stopping.await.unwrap();

    assert_eq!(finished.lock().unwrap().len(), 3, "in-flight jobs finished");
    let runs = runs(&test.db).await;
    assert_eq!(runs.len(), 3);
    assert!(runs.iter().all(|r| r.outcome == "succeeded"));
}

async fn shutdown_during_a_backoff_hands_the_job_back(test: TestDb) {
    // A long backoff: the stop arrives while the job waits for attempt 2.
    let slow_retries = QueueSettings {
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(30),
        ..settings()
    };
    let queue = queue_for(&test, slow_retries).await;
    push_all(&queue, [1]).await;

    let log: Log = Arc::default();
    let failing = Running::start(queue, &test.db, {
        let log = log.clone();
        move |job: DeliverMessage, ctx: JobContext<()>| {
            log_attempt(&log, &job, &ctx);
            async { Err(JobError::retryable("google answered 503")) }
        }
    });
    eventually("first attempt failed", async || {
        runs(&test.db).await.len() == 1
    })
    .await;
    // Returns at once (well within the deadline) instead of hanging in the backoff.
    failing.stop().await;

    // Another worker picks the job up and finishes it.
    let healthy = Running::start(queue_for(&test, settings()).await, &test.db, {
        let log = log.clone();
        move |job: DeliverMessage, ctx: JobContext<()>| {
            log_attempt(&log, &job, &ctx);
            async { Ok(()) }
        }
    });
    eventually("second attempt recorded", async || {
        runs(&test.db).await.len() == 2
    })
    .await;
    healthy.stop().await;

    let seen = attempts_of(&log, 1);
    let attempts: Vec<_> = seen.iter().map(|s| s.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    assert_ne!(seen[0].worker, seen[1].worker);
    let rows: Vec<_> = runs(&test.db)
        .await
        .into_iter()
        .map(|r| (r.attempt, r.outcome))
        .collect();
    assert_eq!(
        rows,
        [(1, "retrying".to_owned()), (2, "succeeded".to_owned())]
    );
}

async fn a_handler_for_an_unlisted_job_type_is_refused(test: TestDb) {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Unlisted {
        correlation_id: String,
    }
    impl Job for Unlisted {
        const QUEUE: &'static str = "unlisted";
        fn correlation_id(&self) -> &str {
            &self.correlation_id
        }
    }
    let queue = queue_for(&test, settings()).await;
    let outcome = Runner::new(queue, test.db.clone(), Clock::system(), Arc::new(()))
        .handle(|_: Unlisted, _: JobContext<()>| async { Ok(()) })
        .run(std::future::ready(()))
        .await;
    assert!(matches!(outcome, Err(QueueError::UnknownQueue("unlisted"))));
}

/// Fields of the `job` span around each event the handler logged.
type SpanFields = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// Records, for every event, the fields of its enclosing `job` span.
struct JobSpanCapture(SpanFields);

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S> tracing_subscriber::Layer<S> for JobSpanCapture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut message = Fields::default();
        event.record(&mut message);
        if message.0.get("message").map(String::as_str) != Some("handler ran") {
            return;
        }
        let job_span = ctx
            .event_scope(event)
            .and_then(|mut scope| scope.find(|span| span.name() == "job"));
        let fields = job_span
            .and_then(|span| span.extensions().get::<Fields>().map(|f| f.0.clone()))
            .unwrap_or_default();
        self.0.lock().unwrap().push(fields);
    }
}

/// Every attempt runs inside a `job` span naming the job, its correlation
/// id and the attempt. (A current-thread runtime, so the scoped subscriber
/// sees the runner's tasks.)
#[tokio::test]
async fn attempts_run_inside_a_job_span() {
    use tracing_subscriber::layer::SubscriberExt;

    let captured = SpanFields::default();
    let subscriber = tracing_subscriber::registry().with(JobSpanCapture(captured.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);

    let test = TestDb::sqlite().await;
    let queue = queue_for(&test, settings()).await;
    push_all(&queue, [5]).await;
    let running = Running::start(queue, &test.db, |_: DeliverMessage, ctx: JobContext<()>| {
        tracing::info!("handler ran");
        async move {
            if ctx.attempt == 1 {
                Err(JobError::retryable("try again"))
            } else {
                Ok(())
            }
        }
    });
    eventually("two attempts recorded", async || {
        runs(&test.db).await.len() == 2
    })
    .await;
    running.stop().await;

    let captured = captured.lock().unwrap().clone();
    let attempts: Vec<_> = captured
        .iter()
        .map(|f| f.get("attempt").cloned().unwrap_or_default())
        .collect();
    assert_eq!(attempts, ["1", "2"], "{captured:?}");
    let job_id = &runs(&test.db).await[0].job_id;
    for fields in &captured {
        assert_eq!(
            fields.get("job").map(String::as_str),
            Some("deliver-message")
        );
        assert_eq!(
            fields.get("correlation_id").map(String::as_str),
            Some("corr-5")
        );
        assert_eq!(fields.get("job_id"), Some(job_id));
    }
}

on_both_backends!(
    two_runners_handle_every_job_exactly_once,
    a_duplicate_key_is_already_queued_and_runs_once,
    retryable_failures_are_retried_with_backoff,
    permanent_failures_and_panics_are_not_retried,
    shutdown_finishes_in_flight_jobs,
    shutdown_during_a_backoff_hands_the_job_back,
    a_handler_for_an_unlisted_job_type_is_refused,
);

/// Twenty `setup`s at once, from four OS threads with their own runtimes
/// and pools (like processes), on one fresh file.
#[test]
fn concurrent_setup_on_a_fresh_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::parse(&format!(
        "sqlite://{}",
        dir.path().join("fresh.db").display()
    ))
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let setups: Vec<_> = (0..5)
                        .map(|_| {
                            let url = url.clone();
                            tokio::spawn(async move { Queue::setup(&url).await })
                        })
                        .collect();
                    for setup in setups {
                        setup.await.unwrap().unwrap();
                    }
                });
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let queue = Queue::connect(&url, settings()).await.unwrap();
        assert_eq!(
            queue.push(&job(1), "deliver-message:1:0").await.unwrap(),
            Pushed::Queued
        );
        queue.close().await;
    });
}

/// Twenty `setup`s at once on one fresh, empty PostgreSQL database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_setup_on_a_fresh_postgres_database() {
    let name = testkit::db::unique_name("q");
    let raw = {
        let name = name.clone();
        tokio::task::spawn_blocking(move || testkit::db::create_empty_postgres_database(&name))
            .await
            .unwrap()
    };
    let url = DatabaseUrl::parse(&raw).unwrap();
    let setups: Vec<_> = (0..20)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Queue::setup(&url).await })
        })
        .collect();
    let mut failures = Vec::new();
    for setup in setups {
        if let Err(e) = setup.await.unwrap() {
            failures.push(e.to_string());
        }
    }
    let pushed = async {
        let queue = Queue::connect(&url, settings()).await?;
        let pushed = queue.push(&job(1), "deliver-message:1:0").await;
        queue.close().await;
        pushed
    }
    .await;
    tokio::task::spawn_blocking(move || testkit::db::drop_postgres_database(&name))
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(pushed.unwrap(), Pushed::Queued);
}
