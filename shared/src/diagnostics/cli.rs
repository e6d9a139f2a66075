//! The `diagnose` subcommand both binaries share:
//!
//! ```text
//! bot diagnose                 quick check (seconds; Telegram getMe/getWebhookInfo only)
//! bot diagnose --full          every phase: Google per owner, job trends
//! bot diagnose --owner 7001    calendar access test for one owner
//! bot diagnose --json          the versioned JSON document (README, "Diagnostics")
//! bot diagnose --fix           the safe repairs it would make (dry run)
//! bot diagnose --fix --apply   make them, then check again
//! ```
//!
//! Exit code 0 healthy, 1 warnings, 2 failures (a cron or Render health
//! script can use it). The report goes to stdout, logs to stderr.

use std::io::Write;
use std::process::ExitCode;

use super::checks::config as config_check;
use super::{Mode, Probe, Report, render};
use crate::clock::Clock;
use crate::config::{self, Config, Env};

/// The options of `diagnose`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DiagnoseArgs {
    /// Run every phase: Google per connected owner and job trends.
    #[arg(long)]
    pub full: bool,
    /// Test one owner's calendar access (Telegram id): read the calendar,
    /// create and delete a probe event.
    #[arg(long, value_name = "TELEGRAM_ID")]
    pub owner: Option<i64>,
    /// Print the report as JSON (schema `scheduler.diagnose/1`).
    #[arg(long)]
    pub json: bool,
    /// List the safe repairs for what is wrong (a dry run).
    #[arg(long)]
    pub fix: bool,
    /// With --fix: make the repairs, then check again.
    #[arg(long, requires = "fix")]
    pub apply: bool,
}

impl DiagnoseArgs {
    fn mode(&self) -> Mode {
        match (self.owner, self.full) {
            (Some(owner), _) => Mode::Owner(owner),
            (None, true) => Mode::Full,
            (None, false) => Mode::Quick,
        }
    }
}

/// Runs `diagnose` for `binary` and returns its exit code.
pub fn run(binary: &str, args: &DiagnoseArgs) -> ExitCode {
    let mode = args.mode();
    let loaded = config::load_dotenv().and_then(|()| Config::from_env(&Env::from_process()));
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            // Nothing else can be checked: report the setting at fault.
            let report = Report {
                mode,
                generated_at: Clock::system().now(),
                duration_ms: 0,
                checks: vec![config_check::invalid(&error)],
                hypotheses: Vec::new(),
                trends: Vec::new(),
                repairs: Vec::new(),
            };
            return print(binary, &report, args);
        }
    };
    crate::telemetry::init(&config.log);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::from(super::Status::Fail.exit_code());
        }
    };
    let report = runtime.block_on(async {
        let clock = Clock::from_setting(config.test_clock_file.as_deref());
        let probe = Probe::open(config, clock).await;
        let report = if args.fix {
            super::run_with_repairs(&probe, mode, args.apply, None).await
        } else {
            super::run(&probe, mode).await
        };
        probe.close().await;
        report
    });
    print(binary, &report, args)
}

fn print(binary: &str, report: &Report, args: &DiagnoseArgs) -> ExitCode {
    let out = if args.json {
        let mut text = render::json(report).to_string();
        text.push('\n');
        text
    } else {
        render::plain(report, args.full || args.owner.is_some() || args.fix)
    };
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // Nothing more useful to do than say so where logs go.
        tracing::error!(binary, %error, "cannot write the report");
    }
    ExitCode::from(report.exit_code())
}
