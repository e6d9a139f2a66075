//! `fake-google`: the fake Google OAuth and Calendar API as a standalone
//! server, for running the real bot and worker by hand or in scripts
//! without internet. Drive it through `/control/...` (see
//! `testkit::fake_google`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use testkit::fake_google::{Consent, FakeGoogle, FakeGoogleConfig, OAuthClient};

/// A fake Google (OAuth 2.0 + Calendar v3) on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "fake-google", version)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8082)]
    port: u16,
    /// The OAuth client id to accept.
    #[arg(long, default_value = testkit::fake_google::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// The OAuth client secret to accept.
    #[arg(long, default_value = testkit::fake_google::DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// A registered redirect URI (repeatable; any port on a loopback host).
    #[arg(long = "redirect-uri", default_values_t = [
        "http://localhost/oauth/google/callback".to_owned(),
        "http://127.0.0.1/oauth/google/callback".to_owned(),
    ])]
    redirect_uris: Vec<String>,
    /// Seed this account (repeatable).
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// Answer every consent screen as this account (else a page asks).
    #[arg(long)]
    auto_consent: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Accept http:// push addresses in events.watch.
    #[arg(long)]
    http_push: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let stop = match StopSignals::install() {
        Ok(stop) => stop,
        Err(error) => {
            eprintln!("fake-google: cannot listen for signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut config = FakeGoogleConfig::default()
        .with_port(args.port)
        .with_token_lifetime(Duration::from_secs(args.token_lifetime))
        .with_client(OAuthClient {
            client_id: args.client_id,
            client_secret: args.client_secret,
            redirect_uris: args.redirect_uris,
        });
    config.allow_http_push = args.http_push;
    let fake = match FakeGoogle::try_start(config).await {
        Ok(fake) => fake,
        Err(error) => {
            eprintln!("fake-google: cannot listen on port {}: {error}", args.port);
            return ExitCode::FAILURE;
        }
    };
    for email in &args.accounts {
        fake.add_account(email);
    }
    if let Some(email) = args.auto_consent {
        fake.add_account(&email);
        fake.set_auto_consent(Some(Consent::grant(email)));
    }
    announce(&fake);
    stop.wait().await;
    fake.shutdown().await;
    ExitCode::SUCCESS
}

#[expect(
    clippy::print_stdout,
    reason = "the one line scripts wait for, with the address to use"
)]
fn announce(fake: &FakeGoogle) {
    println!("fake-google listening on {}", fake.base_url());
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
