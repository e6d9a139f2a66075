//! The worker side: one supervised apalis worker per job type.
//!
//! Each attempt of a job goes through, outside in: the concurrency limit
//! (per job type and process), the retry policy (apalis `RetryPolicy` with
//! a jittered exponential backoff, retrying only [`JobError::Retryable`] up
//! to `max_attempts`), a guard that hands the job back instead of retrying
//! once a stop began, panic catching, the tracing span (`job`, `job_id`,
//! `correlation_id`, `attempt`), and finally the handler, whose outcome is
//! written to `job_runs`.
//!
//! A final failure is returned to apalis as an abort, so the queue never
//! fetches that job again. On a stop, in-flight attempts finish, fetched
//! jobs not yet started go back to the queue, and a job waiting out a
//! backoff goes back as "failed, attempts left", which any worker fetches
//! again. apalis ends a worker on any database error; the supervisor then
//! starts a new one under a new name (the old one's running jobs return
//! after the orphan window).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apalis::layers::WorkerBuilderExt;
use apalis::layers::retry::RetryPolicy;
use apalis::layers::tracing::{DefaultOnFailure, TraceLayer};
use apalis::prelude::{
    AbortError, BackendExt, BoxDynError, Layer, Service, Task, WorkerBuilder, WorkerContext,
    WorkerError,
};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{Level, Span};

use super::backoff::JitteredBackoff;
use super::queue::{QueuePool, pg_config, sqlite_config};
use super::trace::{self, NewJobRun, Outcome};
use super::{Job, JobError, QUEUES, Queue, QueueError};
use crate::clock::Clock;
use crate::db::Db;

/// What a handler gets besides its job: the database, the clock, the
/// clients the worker set up (`C`, e.g. a struct holding the Telegram and
/// Google clients), and this attempt's facts.
pub struct JobContext<C> {
    pub db: Db,
    pub clock: Clock,
    /// The worker's own clients; the `Arc` is shared by all attempts.
    pub clients: Arc<C>,
    /// The queue's id of this job (stable across attempts).
    pub job_id: String,
    /// This attempt, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The apalis worker running the attempt (`<queue>@<host>:<pid>:<boot id>`).
    pub worker: String,
}

impl<C> JobContext<C> {
    /// Whether a retryable failure now fails the job for good.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

impl<C> fmt::Debug for JobContext<C> {
    /// Leaves out the clients: they may hold tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobContext")
            .field("job_id", &self.job_id)
            .field("attempt", &self.attempt)
            .field("max_attempts", &self.max_attempts)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

type HandlerFn<J, C> =
    dyn Fn(J, JobContext<C>) -> BoxFuture<'static, Result<(), JobError>> + Send + Sync;

type StartFn<C> = Box<dyn FnOnce(Queue, Deps<C>, StopSignal) -> BoxFuture<'static, ()> + Send>;

/// What every worker of a runner shares.
struct Deps<C> {
    db: Db,
    clock: Clock,
    clients: Arc<C>,
}

impl<C> Clone for Deps<C> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            clock: self.clock.clone(),
            clients: Arc::clone(&self.clients),
        }
    }
}

/// Runs the worker's handlers, one supervised apalis worker per job type,
/// until a shutdown signal:
///
/// ```ignore
/// Runner::new(queue, db, clock, Arc::new(clients))
///     .handle(deliver_message)   // async fn(DeliverMessage, JobContext<Clients>) -> Result<(), JobError>
///     .run(async move { signal.recv().await })
///     .await?;
/// ```
pub struct Runner<C> {
    queue: Queue,
    deps: Deps<C>,
    workers: Vec<(&'static str, StartFn<C>)>,
    problems: Vec<QueueError>,
}

impl<C> fmt::Debug for Runner<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queues: Vec<_> = self.workers.iter().map(|(queue, _)| *queue).collect();
        f.debug_struct("Runner")
            .field("queue", &self.queue)
            .field("job_types", &queues)
            .finish_non_exhaustive()
    }
}

impl<C: Send + Sync + 'static> Runner<C> {
    pub fn new(queue: Queue, db: Db, clock: Clock, clients: Arc<C>) -> Self {
        Self {
            queue,
            deps: Deps { db, clock, clients },
            workers: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Serves the job type `J` with `handler`. The job type must be listed
    /// in [`QUEUES`] and handled once; a mistake is reported by
    /// [`Runner::run`].
    pub fn handle<J, F, Fut>(mut self, handler: F) -> Self
    where
        J: Job,
        F: Fn(J, JobContext<C>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        if !QUEUES.contains(&J::QUEUE) {
            self.problems.push(QueueError::UnknownQueue(J::QUEUE));
        }
        if self.workers.iter().any(|(queue, _)| *queue == J::QUEUE) {
            self.problems.push(QueueError::DuplicateHandler(J::QUEUE));
        }
        let handler: Arc<HandlerFn<J, C>> = Arc::new(move |job, ctx| handler(job, ctx).boxed());
        let start: StartFn<C> = Box::new(move |queue, deps, stop| {
            supervise::<J, C>(queue, deps, handler, stop).boxed()
        });
        self.workers.push((J::QUEUE, start));
        self
    }

    /// Runs until `shutdown` resolves (the owner passes SIGTERM/SIGINT),
    /// then stops fetching, lets in-flight attempts finish, hands fetched
    /// but unstarted jobs back to the queue, and returns. A handler for a
    /// job type missing from [`QUEUES`], or a second handler for one, is an
    /// error before anything starts.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), QueueError> {
        if let Some(problem) = self.problems.into_iter().next() {
            return Err(problem);
        }
        let (stop, stop_signal) = watch::channel(false);
        let mut supervisors = JoinSet::new();
        for (_, start) in self.workers {
            supervisors.spawn(start(
                self.queue.clone(),
                self.deps.clone(),
                StopSignal(stop_signal.clone()),
            ));
        }
        let mut failure = None;
        tokio::select! {
            () = shutdown => {}
            // Supervisors only end when stopped: an early end is a panic.
            Some(ended) = supervisors.join_next() => {
                failure = Some(QueueError::WorkerPanicked(match ended {
                    Err(e) => e.to_string(),
                    Ok(()) => "ended early".to_owned(),
                }));
            }
        }
        tracing::info!("stopping job workers: finishing in-flight jobs");
        let _ = stop.send(true);
        while let Some(ended) = supervisors.join_next().await {
            if let Err(e) = ended {
                failure.get_or_insert(QueueError::WorkerPanicked(e.to_string()));
            }
        }
        tracing::info!("job workers stopped");
        failure.map_or(Ok(()), Err)
    }
}

/// Tells supervisors that a stop began.
#[derive(Clone)]
struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    async fn wait(&mut self) {
        // A dropped sender also means stop.
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    fn is_set(&self) -> bool {
        *self.0.borrow()
    }
}

/// Pause before replacing a failed worker: doubles from 1 s up to 30 s,
/// back to 1 s after a worker ran for a minute.
const RESTART_DELAY_MIN: Duration = Duration::from_secs(1);
const RESTART_DELAY_MAX: Duration = Duration::from_secs(30);
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Keeps one worker of job type `J` running until the stop signal. apalis
/// ends a worker on any database error (heartbeat, fetch); it is replaced
/// under a new name, since a name is tied to the dead worker's jobs.
async fn supervise<J: Job, C: Send + Sync + 'static>(
    queue: Queue,
    deps: Deps<C>,
    handler: Arc<HandlerFn<J, C>>,
    mut stop: StopSignal,
) {
    let mut restart_delay = RESTART_DELAY_MIN;
    while !stop.is_set() {
        let name = worker_name(J::QUEUE);
        let context = WorkerContext::new(&name);
        let service = JobService {
            handler: Arc::clone(&handler),
            deps: deps.clone(),
            worker: Arc::from(name.as_str()),
            max_attempts: queue.settings().max_attempts,
        };
        let mut run = build_worker::<J, C>(&queue, &context, service, &stop);
        let started = Instant::now();
        tracing::info!(job = J::QUEUE, worker = %name, backend = %queue.backend(), "job worker running");
        let outcome = tokio::select! {
            outcome = &mut run => outcome,
            () = stop.wait() => {
                // Stop fetching; in-flight attempts finish, buffered jobs go back.
                if context.stop().is_ok()
                    && let Err(error) = run.await
                {
                    tracing::warn!(job = J::QUEUE, worker = %name, %error, "job worker stopped with an error");
                }
                tracing::info!(job = J::QUEUE, worker = %name, "job worker stopped");
                return;
            }
        };
        match outcome {
            Ok(()) => {
                tracing::warn!(job = J::QUEUE, worker = %name, "job worker ended by itself; replacing it")
            }
            Err(error) => {
                tracing::warn!(job = J::QUEUE, worker = %name, %error, "job worker failed; replacing it")
            }
        }
        if started.elapsed() >= HEALTHY_RUN {
            restart_delay = RESTART_DELAY_MIN;
        }
        tokio::select! {
            () = tokio::time::sleep(restart_delay) => {}
            () = stop.wait() => return,
        }
        restart_delay = (restart_delay * 2).min(RESTART_DELAY_MAX);
    }
}

/// `<queue>@<host>:<pid>:<boot id>`, new for every worker started: a
/// restarted worker under an old name would never get that name's stranded
/// jobs back (PostgreSQL) or would not start at all (SQLite).
fn worker_name(queue: &str) -> String {
    static HOST: OnceLock<String> = OnceLock::new();
    let host = HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    });
    format!(
        "{queue}@{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Builds the apalis worker of job type `J` on the queue's backend and
/// returns its run future.
fn build_worker<J: Job, C: Send + Sync + 'static>(
    queue: &Queue,
    context: &WorkerContext,
    service: JobService<J, C>,
    stop: &StopSignal,
) -> BoxFuture<'static, Result<(), WorkerError>> {
    let settings = queue.settings();
    let retries = usize::try_from(settings.max_attempts.saturating_sub(1)).unwrap_or(usize::MAX);
    let retry = RetryPolicy::retries(retries)
        .with_backoff(JitteredBackoff::new(
            settings.backoff_base,
            settings.backoff_cap,
            stop.0.clone(),
        ))
        .retry_if(|error: &BoxDynError| error.is::<RetryLater>());
    // The handler logs each failure with its context; apalis' own line is noise.
    let tracing = TraceLayer::new()
        .make_span_with(job_span::<J> as fn(&Task<Value>) -> Span)
        .on_failure(DefaultOnFailure::new().level(Level::DEBUG));
    macro_rules! worker_on {
        ($backend:expr) => {
            WorkerBuilder::new(context)
                .backend($backend)
                .concurrency(settings.concurrency)
                .retry(retry)
                .layer(HandBackOnStopLayer {
                    worker: context.clone(),
                    stop: stop.clone(),
                })
                .catch_panic()
                .layer(tracing)
                .build(service)
                .run()
                .boxed()
        };
    }
    match queue.pool() {
        QueuePool::Postgres(pool) => worker_on!(
            PostgresStorage::<Value>::new(pool)
                .with_config(pg_config(J::QUEUE, settings))
                .with_pubsub()
        ),
        QueuePool::Sqlite(pool) => worker_on!(
            SqliteStorage::<Value>::new(pool)
                .with_config(sqlite_config(J::QUEUE, settings))
                .poll_with_interval(settings.poll_interval)
        ),
    }
}

/// The span every attempt runs in. apalis builds it before the attempt
/// counter moves, hence the `+ 1`.
fn job_span<J: Job>(task: &Task<Value>) -> Span {
    let correlation_id = task
        .args
        .get("correlation_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let job_id = task
        .ctx()
        .task_id()
        .map(ToString::to_string)
        .unwrap_or_default();
    tracing::info_span!(
        "job",
        job = J::QUEUE,
        job_id = %job_id,
        correlation_id = %correlation_id,
        attempt = task.ctx().attempt() + 1,
    )
}

/// A retryable failure with attempts left: the retry policy tries again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct RetryLater(String);

/// A job whose next attempt was due while the worker was stopping.
#[derive(Debug, thiserror::Error)]
#[error("worker stopping: the job goes back to the queue for another worker")]
struct HandedBack;

/// Hands a job back instead of retrying it once the worker is stopping.
///
/// apalis' retry layer waits on the inner service's readiness, and apalis
/// keeps a stopping worker's inner service unready forever: without this
/// guard, a SIGTERM during a backoff would hang the shutdown. The job keeps
/// its "failed, attempts left" state, which any worker fetches again.
#[derive(Clone)]
struct HandBackOnStop<S> {
    inner: S,
    worker: WorkerContext,
    /// Set before the worker itself is told to stop: a backoff cut short by
    /// the stop must not start another attempt in between.
    stop: StopSignal,
}

impl<S> HandBackOnStop<S> {
    fn stopping(&self) -> bool {
        self.stop.is_set() || self.worker.is_shutting_down()
    }
}

/// Wraps services in [`HandBackOnStop`].
#[derive(Clone)]
struct HandBackOnStopLayer {
    worker: WorkerContext,
    stop: StopSignal,
}

impl<S> Layer<S> for HandBackOnStopLayer {
    type Service = HandBackOnStop<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HandBackOnStop {
            inner,
            worker: self.worker.clone(),
            stop: self.stop.clone(),
        }
    }
}

impl<S, Args> Service<Task<Args>> for HandBackOnStop<S>
where
    S: Service<Task<Args>, Response = (), Error = BoxDynError>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = BoxDynError;
    type Future = BoxFuture<'static, Result<(), BoxDynError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.stopping() {
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, task: Task<Args>) -> Self::Future {
        if self.stopping() {
            return futures::future::ready(Err(Box::new(HandedBack) as BoxDynError)).boxed();
        }
        self.inner.call(task).boxed()
    }
}

/// The innermost service: decodes the payload, runs the handler, records
/// the attempt in `job_runs` and tells apalis whether to try again.
struct JobService<J, C> {
    handler: Arc<HandlerFn<J, C>>,
    deps: Deps<C>,
    worker: Arc<str>,
    max_attempts: u32,
}

impl<J, C> Clone for JobService<J, C> {
    fn clone(&self) -> Self {
        Self {
            handler: Arc::clone(&self.handler),
            deps: self.deps.clone(),
            worker: Arc::clone(&self.worker),
            max_attempts: self.max_attempts,
        }
    }
}

impl<J: Job, C: Send + Sync + 'static> Service<Task<Value>> for JobService<J, C> {
    type Response = ();
    type Error = BoxDynError;
    type Future = BoxFuture<'static, Result<(), BoxDynError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, task: Task<Value>) -> Self::Future {
        // apalis counts the attempt when the returned future is first polled.
        let attempts = task.ctx().raw_attempt().clone();
        let job_id = task
            .ctx()
            .task_id()
            .map(ToString::to_string)
            .unwrap_or_default();
        let this = self.clone();
        async move {
            let attempt = u32::try_from(attempts.current()).unwrap_or(u32::MAX).max(1);
            this.attempt(task.args, job_id, attempt).await
        }
        .boxed()
    }
}

impl<J: Job, C: Send + Sync + 'static> JobService<J, C> {
    async fn attempt(self, args: Value, job_id: String, attempt: u32) -> Result<(), BoxDynError> {
        let correlation_id = args
            .get("correlation_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let started_at = self.deps.clock.now();
        let timer = Instant::now();
        let result = if attempt > self.max_attempts {
            // Earlier attempts died with their workers (each counts).
            Err(JobError::Permanent(format!(
                "attempt {attempt} is past the limit of {}; earlier attempts were lost with their workers",
                self.max_attempts
            )))
        } else {
            match serde_json::from_value::<J>(args) {
                Err(e) => Err(JobError::Permanent(format!(
                    "the payload is not a valid `{}` job: {e}",
                    J::QUEUE
                ))),
                Ok(job) => {
                    let ctx = JobContext {
                        db: self.deps.db.clone(),
                        clock: self.deps.clock.clone(),
                        clients: Arc::clone(&self.deps.clients),
                        job_id: job_id.clone(),
                        attempt,
                        max_attempts: self.max_attempts,
                        worker: self.worker.to_string(),
                    };
                    AssertUnwindSafe((self.handler)(job, ctx))
                        .catch_unwind()
                        .await
                        .unwrap_or_else(|panic| {
                            Err(JobError::Permanent(format!(
                                "the handler panicked: {}",
                                panic_message(panic.as_ref())
                            )))
                        })
                }
            }
        };
        let duration = timer.elapsed();
        let outcome = match &result {
            Ok(()) => Outcome::Succeeded,
            Err(e) if e.is_retryable() && attempt < self.max_attempts => Outcome::Retrying,
            Err(_) => Outcome::Failed,
        };
        let error = result.as_ref().err().map(ToString::to_string);
        match (&outcome, &error) {
            (Outcome::Succeeded, _) => tracing::debug!(?duration, "job succeeded"),
            (Outcome::Retrying, Some(error)) => {
                tracing::warn!(?duration, error, "job attempt failed; retrying later");
            }
            (_, error) => tracing::error!(?duration, error, "job failed; no more attempts"),
        }
        let run = NewJobRun {
            job_type: J::QUEUE.to_owned(),
            job_id,
            correlation_id,
            attempt,
            worker: self.worker.to_string(),
            started_at,
            duration,
            outcome,
            error: error.clone(),
        };
        // The trace is diagnostics: failing to write it never changes the job's fate.
        if let Err(e) = self
            .deps
            .db
            .write(move |conn| trace::record(conn, &run))
            .await
        {
            tracing::warn!(error = %e, "cannot record the job run");
        }
        let error = error.unwrap_or_default();
        match outcome {
            Outcome::Succeeded => Ok(()),
            Outcome::Retrying => Err(Box::new(RetryLater(error))),
            // An abort: apalis neither retries it nor fetches it again.
            Outcome::Failed => Err(Box::new(AbortError::new(error))),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}
