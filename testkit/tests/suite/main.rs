//! The project's integration suite: repositories on both real databases and
//! the real binaries spawned as processes.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly at the first surprise"
)]

/// Declares each listed `async fn(TestDb)` as one test per backend.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(testkit::db::TestDb::postgres().await).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(testkit::db::TestDb::sqlite().await).await;
                }
            )+
        }
    };
}

mod admin;
mod availability;
mod binaries;
mod booking;
mod booking_store;
mod broadcast;
mod budget_store;
mod calendar_sync;
mod delivery;
mod diagnostics;
mod fake_google;
mod fake_telegram;
mod google_busy;
mod google_calendar;
mod google_connect;
mod google_service_account;
mod google_sync;
mod overdue;
mod owner_meetings;
mod pipe;
mod pool;
mod profile;
mod queue;
mod registration;
mod reminders;
mod reminders_scale;
mod storage;
mod updates;
