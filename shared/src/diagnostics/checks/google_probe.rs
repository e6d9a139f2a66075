//! The Google calls of full and owner mode: a token (refreshed through
//! the stored grant, or the service account's), a read of the calendar,
//! and in owner mode a probe event created and deleted again.
//!
//! A grant Google refuses (`invalid_grant`) is recorded as broken by the
//! token source, as any job would: the person is asked to reconnect.

use chrono::TimeDelta;

use crate::db::diagnostics::CalendarLink;
use crate::diagnostics::{Check, Kind, Mode, Priority, Probe, Signals, Status, Text};
use crate::google::calendar::{
    CalendarClient, CalendarError, Event, EventTime, ListQuery, SendUpdates, Transparency,
};
use crate::google::tokens::{TokenError, TokenSource};

/// Correlation id of the diagnostics' own Google calls, to find them in
/// logs.
const CORRELATION: &str = "diagnose";

pub async fn probe(
    probe: &Probe,
    link: &CalendarLink,
    mode: Mode,
    check: &mut Check,
    signals: &mut Signals,
) {
    signals.google_probed = true;
    let tokens = match token_source(probe).await {
        Ok(tokens) => tokens,
        Err(error) => {
            check.note(Text::new("diag.google.cannot_probe").with("error", error));
            return;
        }
    };
    let calendar = match CalendarClient::new(
        probe.config.google.api_url.clone(),
        probe.config.google.http_timeout,
    ) {
        Ok(calendar) => calendar,
        Err(error) => {
            check.note(Text::new("diag.google.cannot_probe").with("error", error));
            return;
        }
    };
    let owner = link.telegram_id;
    let token = match tokens
        .refreshed_access_token(link.user_id, CORRELATION)
        .await
    {
        Ok(token) => token,
        Err(error) => {
            let reason = error.to_string();
            let revoked = matches!(
                error,
                TokenError::NowBroken { .. } | TokenError::Broken { .. }
            ) || super::google::is_revocation(&reason);
            if revoked {
                signals.revoked_owners.push(owner);
            }
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Integration,
                Text::new(if revoked {
                    "diag.google.revoked"
                } else {
                    "diag.google.token_failed"
                })
                .with("owner", owner)
                .with("reason", reason),
                Some(Text::new("diag.google.reconnect.fix")),
            );
            return;
        }
    };
    let now = probe.clock.now();
    let query = ListQuery::Full {
        time_min: now,
        time_max: now + TimeDelta::days(1),
    };
    match calendar
        .list_events(&token, &link.calendar_id, &query, None, Some(1))
        .await
    {
        Ok(_) => check.note(Text::new("diag.google.readable").with("owner", owner)),
        Err(error) => {
            let denied = matches!(error, CalendarError::NotFound | CalendarError::Forbidden(_));
            if denied && link.kind == "service_account" {
                signals.unshared_owners.push(owner);
                check.finding(
                    Status::Fail,
                    Priority::P1,
                    Kind::Integration,
                    Text::new("diag.google.not_shared")
                        .with("owner", owner)
                        .with("calendar", &link.calendar_id),
                    Some(
                        Text::new("diag.google.not_shared.fix").with(
                            "account",
                            probe
                                .config
                                .google
                                .service_account
                                .as_ref()
                                .map_or("?", |key| key.client_email.as_str()),
                        ),
                    ),
                );
            } else {
                check.finding(
                    Status::Fail,
                    Priority::P1,
                    Kind::Integration,
                    Text::new("diag.google.unreadable")
                        .with("owner", owner)
                        .with("error", error),
                    Some(Text::new("diag.google.reconnect.fix")),
                );
            }
            return;
        }
    }
    if let Mode::Owner(_) = mode {
        probe_event(&calendar, &token, link, now, check).await;
    }
}

/// Creates a free, guest-less event tomorrow and deletes it again.
async fn probe_event(
    calendar: &CalendarClient,
    token: &secrecy::SecretString,
    link: &CalendarLink,
    now: chrono::DateTime<chrono::Utc>,
    check: &mut Check,
) {
    let start = now + TimeDelta::days(1);
    let event = Event {
        summary: Some("Scheduler diagnostics probe".to_owned()),
        start: Some(EventTime::at(start, chrono_tz::UTC)),
        end: Some(EventTime::at(
            start + TimeDelta::minutes(15),
            chrono_tz::UTC,
        )),
        transparency: Some(Transparency::Transparent),
        ..Event::default()
    };
    let owner = link.telegram_id;
    let created = calendar
        .insert_event(token, &link.calendar_id, &event, SendUpdates::None, false)
        .await;
    let created = match created {
        Ok(created) => created,
        Err(error) => {
            check.finding(
                Status::Fail,
                Priority::P1,
                Kind::Integration,
                Text::new("diag.google.cannot_write")
                    .with("owner", owner)
                    .with("error", error),
                Some(Text::new("diag.google.write.fix")),
            );
            return;
        }
    };
    let Some(id) = created.id else {
        check.note(Text::new("diag.google.probe_without_id"));
        return;
    };
    match calendar
        .delete_event(token, &link.calendar_id, &id, SendUpdates::None)
        .await
    {
        Ok(_) => check.note(Text::new("diag.google.writable").with("owner", owner)),
        Err(error) => check.finding(
            Status::Warn,
            Priority::P2,
            Kind::Integration,
            Text::new("diag.google.probe_left")
                .with("owner", owner)
                .with("error", error),
            None,
        ),
    }
}

async fn token_source(probe: &Probe) -> Result<TokenSource, String> {
    let config = &probe.config;
    let db = probe.db.as_ref().map_err(Clone::clone)?;
    let queue = probe.queue().await?.clone();
    let oauth =
        crate::google::oauth_from_config(&config.google, &config.http, config.queue.http_timeout)
            .map_err(|e| e.to_string())?;
    let account = crate::google::service_account_from_config(&config.google, &probe.clock)
        .map_err(|e| e.to_string())?;
    let (oauth, cipher) = match (oauth, &config.google.token_encryption_key) {
        (Some((oauth, cipher)), _) => (Some(oauth), cipher),
        (None, Some(key)) => (None, crate::google::crypto::TokenCipher::new(key)),
        (None, None) => return Err("TOKEN_ENCRYPTION_KEY is not set".to_owned()),
    };
    Ok(TokenSource::with_parts(
        db.clone(),
        queue,
        probe.clock.clone(),
        cipher,
        oauth,
        account,
    ))
}
