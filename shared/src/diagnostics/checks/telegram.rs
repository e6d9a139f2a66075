//! Telegram: the token works (`getMe`; 401 means revoked), no webhook
//! blocks polling (`getWebhookInfo`), what the active poller last saw (a
//! 409 from a second poller, the age of its last successful poll), recent
//! 429s and users who blocked the bot.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};

use super::age;
use crate::db::diagnostics::{self, PollerStatus};
use crate::db::{Db, DbError};
use crate::diagnostics::{Check, Kind, Priority, Probe, Repair, Signals, Status, Text};
use crate::telegram::TelegramError;

pub const NAME: &str = "telegram";

/// A 409 seen this recently means another poller is active now.
const CONFLICT_RECENT: TimeDelta = TimeDelta::minutes(2);
/// A poller that has not reported for this long is not polling.
const REPORT_STALE: TimeDelta = TimeDelta::seconds(60);

/// What the poller last reported. One function, so the source can move
/// (e.g. to the update inbox) without touching the check.
pub async fn poller_state(db: &Db) -> Result<Option<PollerStatus>, DbError> {
    db.read(diagnostics::poller_status).await
}

pub async fn check(probe: &Probe, signals: &mut Signals) -> Check {
    let client = match &probe.telegram {
        Ok(client) => client,
        Err(error) => {
            let mut check = Check::ok(NAME, "-");
            check.finding(
                Status::Fail,
                Priority::P0,
                Kind::Configuration,
                Text::new("diag.tg.unreachable").with("error", error),
                Some(Text::new("diag.tg.unreachable.fix")),
            );
            return check;
        }
    };
    let started = Instant::now();
    let me = client.get_me().await;
    let round_trip = started.elapsed().as_millis();
    let mut check = Check::ok(NAME, "-");
    match &me {
        Ok(username) => {
            signals.token_accepted = Some(true);
            check.figure = format!(
                "@{}, getMe {round_trip} ms",
                username.as_deref().unwrap_or("?")
            );
        }
        Err(TelegramError::Unauthorized) => {
            signals.token_accepted = Some(false);
            check.finding(
                Status::Fail,
                Priority::P0,
                Kind::Configuration,
                Text::new("diag.tg.token_rejected"),
                Some(Text::new("diag.tg.token_rejected.fix")),
            );
            return check;
        }
        Err(error) => {
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Integration,
                Text::new("diag.tg.unreachable").with("error", error),
                Some(Text::new("diag.tg.unreachable.fix")),
            );
            return check;
        }
    }
    match client.webhook_url().await {
        Ok(Some(url)) => {
            // The path of a webhook may hold a secret: show the host only.
            let host = url::Url::parse(&url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| "?".to_owned());
            signals.webhook = Some(Some(host.clone()));
            check.finding(
                Status::Fail,
                Priority::P0,
                Kind::Integration,
                Text::new("diag.tg.webhook").with("host", host),
                Some(Text::new("diag.tg.webhook.fix")),
            );
            check.repairs.push(Repair::DeleteWebhook);
        }
        Ok(None) => signals.webhook = Some(None),
        Err(error) => check.note(Text::new("diag.tg.webhook_unknown").with("error", error)),
    }
    let Ok(db) = &probe.db else {
        return check;
    };
    let now = probe.clock.now();
    match poller_state(db).await {
        Ok(Some(poller)) => poller_findings(&mut check, &poller, now, signals),
        Ok(None) => check.finding(
            Status::Warn,
            Priority::P1,
            Kind::Runtime,
            Text::new("diag.tg.no_poller"),
            Some(Text::new("diag.tg.bot_silent.fix")),
        ),
        Err(error) => check.note(Text::new("diag.tg.poller_unknown").with("error", error)),
    }
    let hour_ago = now - TimeDelta::hours(1);
    if let Ok(limited) = db
        .read(move |c| diagnostics::rate_limited_runs(c, hour_ago))
        .await
        && limited > 0
    {
        check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Performance,
            Text::new("diag.tg.rate_limited").with("count", limited),
            Some(Text::new("diag.tg.rate_limited.fix")),
        );
    }
    if let Ok(blocked) = db.read(diagnostics::unreachable_users).await
        && blocked > 0
    {
        check.note(Text::new("diag.tg.unreachable_users").with("count", blocked));
    }
    check
}

fn poller_findings(
    check: &mut Check,
    poller: &PollerStatus,
    now: DateTime<Utc>,
    signals: &mut Signals,
) {
    let since = |at: DateTime<Utc>| (now - at).num_seconds();
    if let Some(at) = poller.last_success_at {
        signals.last_poll_age_secs = Some(since(at));
        check
            .figure
            .push_str(&format!(", last poll {} ago", age(since(at))));
    }
    let recent_conflict = poller
        .last_conflict_at
        .is_some_and(|at| now - at <= CONFLICT_RECENT);
    signals.recent_conflict = Some(recent_conflict);
    let webhook_set = matches!(signals.webhook, Some(Some(_)));
    if recent_conflict && !webhook_set {
        check.finding(
            Status::Fail,
            Priority::P0,
            Kind::Integration,
            Text::new("diag.tg.second_poller")
                .with("count", poller.conflicts)
                .with("ago", age(poller.last_conflict_at.map_or(0, since))),
            Some(Text::new("diag.tg.second_poller.fix")),
        );
    }
    if now - poller.updated_at > REPORT_STALE {
        check.finding(
            Status::Fail,
            Priority::P0,
            Kind::Runtime,
            Text::new("diag.tg.bot_silent").with("ago", age(since(poller.updated_at))),
            Some(Text::new("diag.tg.bot_silent.fix")),
        );
    } else if let Some(error) = &poller.last_error
        && poller
            .last_error_at
            .is_some_and(|at| poller.last_success_at.is_none_or(|ok| at > ok))
        && !recent_conflict
    {
        check.finding(
            Status::Warn,
            Priority::P1,
            Kind::Integration,
            Text::new("diag.tg.poll_failing").with("error", error),
            Some(Text::new("diag.tg.unreachable.fix")),
        );
    }
}
