//! Storage: one connection type over PostgreSQL and SQLite, the pool,
//! migrations, and the repositories (all SQL of the project lives here).
//!
//! Rules every repository follows:
//! - instants are bound from the [`crate::clock::Clock`], never SQL `now()`;
//! - writes go through [`Db::write`], which opens `BEGIN IMMEDIATE` on SQLite;
//! - no row locks: races are settled by unique keys and conditional updates;
//! - where the backends differ (upserts), [`per_backend!`] branches locally.

pub mod audit;
pub mod availability;
pub mod blocked_periods;
pub mod booking_settings;
pub mod broadcasts;
pub mod budget;
pub mod busy_intervals;
pub mod calendar_sync;
pub mod departments;
pub mod diagnostics;
pub mod dialogues;
pub mod free_slots;
pub mod google_connections;
pub mod leases;
pub mod meetings;
pub mod migrate;
pub mod oauth_states;
pub mod outbox;
pub mod periodic;
mod pool;
pub mod reminders;
pub mod schema;
pub mod stats;
pub mod types;
pub mod updates;
pub mod users;
pub mod work_status;

pub use pool::{Backend, DatabaseUrl, Db, DbConn, DbError, MultiBackend, immediate_tx};
pub use types::UtcTime;

/// Runs the same diesel expression against the concrete backend connection.
///
/// For the few statements the multi-backend connection cannot express, such
/// as `on_conflict_do_nothing`: `per_backend!(conn, |c| query.execute(c))`.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Pg($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}
