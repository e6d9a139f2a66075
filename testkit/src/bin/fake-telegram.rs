//! `fake-telegram`: the fake Telegram Bot API as a standalone server, for
//! running the real bot by hand or in scripts without internet. Drive it
//! through `/control/...` (see `testkit::fake_telegram`).

use std::process::ExitCode;

use clap::Parser;
use testkit::fake_telegram::{FakeTelegram, FakeTelegramConfig, Limits};

/// A fake Telegram Bot API server on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "fake-telegram", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// The bot token to accept; any other answers 401.
    #[arg(long)]
    token: String,
    /// Counted calls per second for the whole token (0 = unlimited).
    #[arg(long, default_value_t = 30)]
    rate: u32,
    /// Counted calls per second into one chat (0 = unlimited).
    #[arg(long, default_value_t = 1)]
    per_chat_rate: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Listen for signals before announcing, so a stop right after the
    // announcement is never lost.
    let stop = match StopSignals::install() {
        Ok(stop) => stop,
        Err(error) => {
            eprintln!("fake-telegram: cannot listen for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let limits = Limits {
        global: Some(args.rate).filter(|&rate| rate > 0),
        per_chat: Some(args.per_chat_rate).filter(|&rate| rate > 0),
        ..Limits::default()
    };
    let config = FakeTelegramConfig::new(args.token)
        .with_limits(limits)
        .with_port(args.port);
    let fake = match FakeTelegram::try_start(config).await {
        Ok(fake) => fake,
        Err(error) => {
            eprintln!(
                "fake-telegram: cannot listen on port {}: {error}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    announce(&fake);
    stop.wait().await;
    fake.shutdown().await;
    ExitCode::SUCCESS
}

#[expect(
    clippy::print_stdout,
    reason = "the one line scripts wait for, with the address to use"
)]
fn announce(fake: &FakeTelegram) {
    println!("fake-telegram listening on {}", fake.base_url());
}

/// Ctrl-C and SIGTERM, registered up front.
#[cfg(unix)]
struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl StopSignals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Ctrl-C only, elsewhere.
#[cfg(not(unix))]
struct StopSignals;

#[cfg(not(unix))]
impl StopSignals {
    fn install() -> std::io::Result<Self> {
        Ok(Self)
    }

    async fn wait(self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}
