//! How long free-slot computation takes at the largest size the product
//! allows: a year of horizon, every grid cell of every day ticked, 5,000 busy
//! intervals. Target: well under 1 ms.
//!
//! `cargo bench -p shared --bench slots` runs criterion (mean and median) and
//! then a plain loop of timed runs that prints p50/p99, which criterion does
//! not report. Run by `cargo test` only as a one-pass smoke check.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use criterion::Criterion;
use shared::domain::slots::{
    Blocking, Interval, OwnerAvailability, SlotLength, WeeklyGrid, Window, collective_free_slots,
    free_slots,
};

const BUSY_INTERVALS: usize = 5_000;
const TIMED_RUNS: usize = 1_000;

/// Everything one computation needs, built once.
struct Fixture {
    owner: OwnerAvailability,
    busy: Vec<Interval>,
    blocking: Blocking,
    window: Window,
}

fn fixture() -> Fixture {
    // Every half-hour cell 07:00–21:00, seven days a week, in a DST zone.
    let rows = (1..=7).flat_map(|weekday| (0..29).map(move |cell| (weekday, 420 + 30 * cell)));
    let grid = WeeklyGrid::from_rows(rows).unwrap_or_default();
    let owner = OwnerAvailability::new(Tz::Europe__Berlin, grid, SlotLength::DEFAULT);
    let now = Utc
        .with_ymd_and_hms(2025, 1, 6, 6, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let window = Window {
        starts_from: now + TimeDelta::hours(2),
        starts_before: now + TimeDelta::days(365),
        weekends_enabled: true,
    };
    let busy = busy_intervals(now, BUSY_INTERVALS);
    let blocking = Blocking::new(busy.iter().copied());
    Fixture {
        owner,
        busy,
        blocking,
        window,
    }
}

/// Deterministic pseudo-random busy time spread over the year: 15 min to
/// 2 h, starting on any minute, unsorted and overlapping like real calendars.
fn busy_intervals(from: DateTime<Utc>, count: usize) -> Vec<Interval> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    let year_minutes = 365 * 24 * 60;
    (0..count)
        .map(|_| {
            let start = from + TimeDelta::minutes(next(year_minutes) as i64);
            let length = TimeDelta::minutes(15 + next(106) as i64);
            Interval::new(start, start + length)
        })
        .collect()
}

fn criterion_benches(c: &mut Criterion, fixture: &Fixture) {
    let mut group = c.benchmark_group("free_slots_year_5000_busy");
    group.bench_function("prepared_blocking", |b| {
        b.iter(|| {
            free_slots(
                black_box(&fixture.owner),
                black_box(&fixture.blocking),
                black_box(&fixture.window),
            )
        })
    });
    group.bench_function("including_blocking_build", |b| {
        b.iter(|| {
            let blocking = Blocking::new(black_box(&fixture.busy).iter().copied());
            free_slots(&fixture.owner, &blocking, black_box(&fixture.window))
        })
    });
    group.bench_function("collective_three_owners", |b| {
        let owners = three_owners(fixture);
        b.iter(|| {
            collective_free_slots(
                black_box(&owners),
                SlotLength::DEFAULT,
                black_box(&fixture.window),
            )
        })
    });
    group.finish();
}

/// The Berlin owner plus a Moscow and a New York owner with the same grid,
/// each with the same 5,000 busy intervals.
fn three_owners(fixture: &Fixture) -> Vec<(OwnerAvailability, Blocking)> {
    [
        Tz::Europe__Berlin,
        Tz::Europe__Moscow,
        Tz::America__New_York,
    ]
    .into_iter()
    .map(|zone| {
        let owner = OwnerAvailability::new(zone, *fixture.owner.grid(), SlotLength::DEFAULT);
        (owner, fixture.blocking.clone())
    })
    .collect()
}

/// p50 and p99 of `runs` timed calls, after a short warm-up.
fn percentiles<T>(runs: usize, mut work: impl FnMut() -> T) -> (Duration, Duration, Duration) {
    for _ in 0..runs / 10 {
        black_box(work());
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            black_box(work());
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    let at = |q: f64| {
        times
            .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
            .copied()
    };
    (
        at(0.50).unwrap_or_default(),
        at(0.99).unwrap_or_default(),
        times.last().copied().unwrap_or_default(),
    )
}

#[expect(
    clippy::print_stdout,
    reason = "printing the figures is what a benchmark is for"
)]
fn report_percentiles(fixture: &Fixture) {
    let slots = free_slots(&fixture.owner, &fixture.blocking, &fixture.window);
    println!(
        "\nfree slots: {} offered, {} merged busy periods, {} days",
        slots.len(),
        fixture.blocking.periods().count(),
        (fixture.window.starts_before - fixture.window.starts_from).num_days()
    );
    let owners = three_owners(fixture);
    print_percentiles("prepared blocking", || {
        free_slots(&fixture.owner, &fixture.blocking, &fixture.window).len()
    });
    print_percentiles("including blocking build", || {
        let blocking = Blocking::new(fixture.busy.iter().copied());
        free_slots(&fixture.owner, &blocking, &fixture.window).len()
    });
    print_percentiles("collective, three owners", || {
        collective_free_slots(&owners, SlotLength::DEFAULT, &fixture.window).len()
    });
}

#[expect(
    clippy::print_stdout,
    reason = "printing the figures is what a benchmark is for"
)]
fn print_percentiles<T>(name: &str, work: impl FnMut() -> T) {
    let (p50, p99, max) = percentiles(TIMED_RUNS, work);
    println!(
        "{name:<26} p50 {:>7.1} µs   p99 {:>7.1} µs   max {:>7.1} µs   ({TIMED_RUNS} runs)",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6,
        max.as_secs_f64() * 1e6,
    );
}

fn main() {
    let fixture = fixture();
    let mut criterion = Criterion::default().configure_from_args();
    criterion_benches(&mut criterion, &fixture);
    criterion.final_summary();
    // `cargo bench` passes `--bench`; under `cargo test` only the smoke pass runs.
    if std::env::args().any(|arg| arg == "--bench") {
        report_percentiles(&fixture);
    }
}
