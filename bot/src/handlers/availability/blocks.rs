//! Blocked time: the periods ahead with a remove button each, and adding
//! one by typing `FROM – TO reason` in the owner's zone. A new period
//! claims its 15-minute cells; one that overlaps a meeting or another
//! period is refused with what it overlaps, and nothing is stored.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::json;
use shared::db::DbError;
use shared::db::blocked_periods::{self, AddOutcome, BlockedPeriod, NewBlockedPeriod, Overlap};
use shared::db::types::BlockedPeriodId;
use shared::db::users::User;
use shared::domain::availability::{
    AvailabilityCallback, BlockError, MAX_BLOCK_DAYS, MAX_REASON_CHARS, MAX_YEARS_AHEAD,
    format_period, parse_block,
};
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, AvailabilityInput, Turn, callbacks, keep, with_note, zone_of};

/// Periods listed (each with its button); the rest are counted.
const MAX_LISTED: usize = 10;
/// How far ahead the typing examples start.
const EXAMPLE_DAYS_AHEAD: i64 = 14;
/// How long the typing examples last.
const EXAMPLE_DAYS: i64 = 7;

/// "Blocked time": the periods not over yet, earliest first.
pub(super) fn list(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    note: Option<String>,
) -> Result<Option<String>, DbError> {
    let message = list_message(turn, owner, note)?;
    turn.show(actor, message)?;
    Ok(None)
}

fn list_message(
    turn: &mut Turn<'_>,
    owner: &User,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = owner.language;
    let zone = zone_of(turn, owner);
    let blocks = blocked_periods::upcoming(turn.conn, owner.id, turn.ctx.now)?;
    let mut rows: Vec<Vec<Button>> = Vec::new();
    let text = if blocks.is_empty() {
        t(language, "block.list.empty", &[])
    } else {
        let mut lines = vec![t(language, "block.list", &[("zone", zone.name())])];
        for (index, block) in blocks.iter().take(MAX_LISTED).enumerate() {
            let period = format_period(block.starts_at, block.ends_at, zone);
            let number = (index + 1).to_string();
            lines.push(if block.reason.is_empty() {
                t(
                    language,
                    "block.item_plain",
                    &[("number", &number), ("period", &period)],
                )
            } else {
                t(
                    language,
                    "block.item",
                    &[
                        ("number", &number),
                        ("period", &period),
                        ("reason", &block.reason),
                    ],
                )
            });
            rows.push(vec![Button::new(
                t(language, "block.button.remove", &[("period", &period)]),
                AvailabilityCallback::RemoveBlock(block.id).data(),
            )]);
        }
        if blocks.len() > MAX_LISTED {
            let count = (blocks.len() - MAX_LISTED).to_string();
            lines.push(t(language, "block.more", &[("count", &count)]));
        }
        lines.join("\n")
    };
    rows.push(vec![
        button(language, "block.button.add", AvailabilityCallback::AddBlock),
        button(
            language,
            "availability.button.back",
            AvailabilityCallback::Overview,
        ),
    ]);
    Ok(OutgoingMessage::with_buttons(with_note(note, text), rows))
}

/// "Add": the next text is a period.
pub(super) fn ask(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
) -> Result<Option<String>, DbError> {
    keep(turn, actor, AvailabilityInput::Block)?;
    let language = owner.language;
    let zone = zone_of(turn, owner);
    let (from, to) = example_dates(turn.ctx.now, zone);
    let text = t(
        language,
        "block.ask",
        &[
            ("zone", zone.name()),
            ("from", &from.format("%d.%m.%Y").to_string()),
            ("to", &to.format("%d.%m.%Y").to_string()),
            ("iso_from", &from.format("%Y-%m-%d").to_string()),
            ("iso_to", &to.format("%Y-%m-%d").to_string()),
        ],
    );
    let back = vec![vec![button(
        language,
        "availability.button.back",
        AvailabilityCallback::Blocks,
    )]];
    turn.show(actor, OutgoingMessage::with_buttons(text, back))?;
    Ok(None)
}

/// A period typed while it is asked for: stored with its claims, or the
/// problem explained and the question asked again (nothing stored).
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    text: &str,
) -> Result<(), DbError> {
    let language = owner.language;
    let zone = zone_of(turn, owner);
    let now = turn.ctx.now;
    let request = match parse_block(text, zone, now) {
        Ok(request) => request,
        Err(error) => {
            let reason = problem_text(language, error);
            return ask_again(turn, actor, owner, reason);
        }
    };
    let new = NewBlockedPeriod {
        owner: owner.id,
        starts_at: request.starts_at,
        ends_at: request.ends_at,
        reason: &request.reason,
        created_by: Some(owner.id),
    };
    match blocked_periods::add_with_claims(turn.conn, &new, now)? {
        AddOutcome::Added { block, cells } => {
            super::dialogue::clear(turn, actor)?;
            turn.audit(
                actor,
                "availability.block_added",
                Some(owner.id),
                json!({
                    "block": block.id,
                    "starts_at": block.starts_at.to_rfc3339(),
                    "ends_at": block.ends_at.to_rfc3339(),
                    "reason": block.reason,
                    "cells": cells,
                }),
            )?;
            let period = format_period(block.starts_at, block.ends_at, zone);
            let note = t(language, "block.added", &[("period", &period)]);
            let message = list_message(turn, owner, Some(note))?;
            turn.reply(actor, message)
        }
        AddOutcome::Overlaps(overlap) => {
            let reason = overlap_text(language, zone, &overlap);
            ask_again(turn, actor, owner, reason)
        }
    }
}

/// A remove button: the period must exist and be the presser's own.
pub(super) fn remove(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    id: BlockedPeriodId,
) -> Result<Option<String>, DbError> {
    match blocked_periods::find(turn.conn, id)? {
        None => return callbacks::stale(turn, actor, "remove of a blocked period that is gone"),
        Some(block) if block.owner_id != owner.id => {
            return callbacks::refused(turn, actor, "remove of another owner's blocked period");
        }
        Some(_) => {}
    }
    let Some(block) = blocked_periods::remove(turn.conn, owner.id, id)? else {
        return callbacks::stale(turn, actor, "blocked period removed meanwhile");
    };
    audit_removal(turn, actor, owner, &block)?;
    let zone = zone_of(turn, owner);
    let period = format_period(block.starts_at, block.ends_at, zone);
    let note = t(owner.language, "block.removed", &[("period", &period)]);
    list(turn, actor, owner, Some(note))?;
    Ok(Some(t(owner.language, "block.toast.removed", &[])))
}

fn audit_removal(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    block: &BlockedPeriod,
) -> Result<(), DbError> {
    turn.audit(
        actor,
        "availability.block_removed",
        Some(owner.id),
        json!({
            "block": block.id,
            "starts_at": block.starts_at.to_rfc3339(),
            "ends_at": block.ends_at.to_rfc3339(),
            "reason": block.reason,
        }),
    )?;
    Ok(())
}

/// The problem, then the question again (the dialogue stays).
fn ask_again(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    problem: String,
) -> Result<(), DbError> {
    let zone = zone_of(turn, owner);
    let (from, to) = example_dates(turn.ctx.now, zone);
    let example = format!("{} – {}", from.format("%d.%m.%Y"), to.format("%d.%m.%Y"));
    let again = t(owner.language, "block.again", &[("example", &example)]);
    let back = vec![vec![button(
        owner.language,
        "availability.button.back",
        AvailabilityCallback::Blocks,
    )]];
    turn.reply(
        actor,
        OutgoingMessage::with_buttons(format!("{problem}\n\n{again}"), back),
    )
}

fn problem_text(language: Language, error: BlockError) -> String {
    match error {
        BlockError::Empty => t(language, "block.error.empty", &[]),
        BlockError::Format => t(language, "block.error.format", &[]),
        BlockError::NoSuchDate => t(language, "block.error.no_such_date", &[]),
        BlockError::NoSuchTime => t(language, "block.error.no_such_time", &[]),
        BlockError::EndNotAfterStart => t(language, "block.error.end_not_after_start", &[]),
        BlockError::Past => t(language, "block.error.past", &[]),
        BlockError::TooLong => t(
            language,
            "block.error.too_long",
            &[("days", &MAX_BLOCK_DAYS.to_string())],
        ),
        BlockError::TooFarAhead => t(
            language,
            "block.error.too_far",
            &[("years", &MAX_YEARS_AHEAD.to_string())],
        ),
        BlockError::ReasonTooLong { chars } => t(
            language,
            "block.error.reason_too_long",
            &[
                ("count", &chars.to_string()),
                ("max", &MAX_REASON_CHARS.to_string()),
            ],
        ),
        BlockError::ReasonCharacters => t(language, "block.error.reason_characters", &[]),
    }
}

/// What the new period collides with, in the owner's zone.
fn overlap_text(language: Language, zone: chrono_tz::Tz, overlap: &Overlap) -> String {
    match overlap {
        Overlap::Block(block) => {
            let period = format_period(block.starts_at, block.ends_at, zone);
            if block.reason.is_empty() {
                t(language, "block.overlap.block", &[("period", &period)])
            } else {
                t(
                    language,
                    "block.overlap.block_reason",
                    &[("period", &period), ("reason", &block.reason)],
                )
            }
        }
        Overlap::Meeting {
            starts_at, ends_at, ..
        } => {
            let period = format_period(*starts_at, *ends_at, zone);
            t(language, "block.overlap.meeting", &[("period", &period)])
        }
        Overlap::Unknown => t(language, "block.overlap.unknown", &[]),
    }
}

/// Two weeks from today to a week later, in the owner's zone: examples
/// that are valid input when typed.
fn example_dates(now: DateTime<Utc>, zone: chrono_tz::Tz) -> (NaiveDate, NaiveDate) {
    let today = now.with_timezone(&zone).date_naive();
    let later = |date: NaiveDate, days: i64| {
        date.checked_add_signed(TimeDelta::days(days))
            .unwrap_or(date)
    };
    let from = later(today, EXAMPLE_DAYS_AHEAD);
    (from, later(from, EXAMPLE_DAYS))
}

fn button(language: Language, key: &str, press: AvailabilityCallback) -> Button {
    Button::new(t(language, key, &[]), press.data())
}
