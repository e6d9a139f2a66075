//! The week overview, one day's start-time grid (a draft until saved) and
//! the slot length.

use chrono::Weekday;
use serde_json::json;
use shared::db::DbError;
use shared::db::availability;
use shared::db::users::User;
use shared::domain::availability::{
    AvailabilityCallback, DayStarts, SLOT_LENGTH_CHOICES, SlotLength, WEEK, WORKING_DAYS,
    grid_starts, hhmm, iso_number,
};
use shared::domain::profile::utc_offset;
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Actor, AvailabilityInput, Turn, day_name, keep, leave_dialogue, with_note, zone_of};

/// Start-time buttons per row on a day's screen.
const TIMES_PER_ROW: usize = 4;
/// Weekday buttons per row on the overview.
const DAYS_PER_ROW: usize = 4;

/// The overview: per weekday the chosen start times, the slot length and
/// the zone, with a button per day, "Slot length" and "Blocked time".
pub(super) fn overview(
    turn: &mut Turn<'_>,
    owner: &User,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = owner.language;
    let grid = availability::weekly(turn.conn, owner.id)?;
    let length = availability::slot_minutes(turn.conn, owner.id)?;
    let zone = zone_of(turn, owner);
    let mut lines = vec![t(
        language,
        "availability.overview",
        &[
            ("zone", zone.name()),
            ("offset", &utc_offset(zone, turn.ctx.now)),
            ("minutes", &length.minutes().to_string()),
        ],
    )];
    for day in WEEK {
        let starts = DayStarts::of(&grid, day);
        let short = short_name(language, day);
        lines.push(if starts.is_empty() {
            t(
                language,
                "availability.overview.day_off",
                &[("day", &short)],
            )
        } else {
            t(
                language,
                "availability.overview.day",
                &[("day", &short), ("times", &starts.times().join(", "))],
            )
        });
    }
    let hint = if grid.is_empty() {
        "availability.overview.empty_hint"
    } else {
        "availability.overview.hint"
    };
    lines.push(t(language, hint, &[]));
    let day_buttons: Vec<Button> = WEEK
        .iter()
        .map(|day| {
            Button::new(
                short_name(language, *day),
                AvailabilityCallback::Day(*day).data(),
            )
        })
        .collect();
    let mut rows: Vec<Vec<Button>> = day_buttons
        .chunks(DAYS_PER_ROW)
        .map(<[Button]>::to_vec)
        .collect();
    rows.push(vec![
        button(
            language,
            "availability.button.slot_length",
            AvailabilityCallback::SlotLengths,
        ),
        button(
            language,
            "availability.button.blocks",
            AvailabilityCallback::Blocks,
        ),
    ]);
    Ok(OutgoingMessage::with_buttons(
        with_note(note, lines.join("\n")),
        rows,
    ))
}

/// Shows the overview in place, `note` above it.
fn show_overview(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    note: Option<String>,
) -> Result<(), DbError> {
    let message = overview(turn, owner, note)?;
    turn.show(actor, message)
}

/// "Back" (or the overview button of an older screen): drops an unsaved
/// draft, saying so when it differed from what is stored.
pub(super) fn back(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    draft: Option<(Weekday, DayStarts)>,
) -> Result<Option<String>, DbError> {
    leave_dialogue(turn, actor)?;
    let mut note = None;
    if let Some((day, starts)) = draft {
        let stored = DayStarts::of(&availability::weekly(turn.conn, owner.id)?, day);
        if stored != starts {
            let name = day_name(owner.language, day);
            note = Some(t(
                owner.language,
                "availability.discarded",
                &[("day", &name)],
            ));
        }
    }
    show_overview(turn, actor, owner, note)?;
    Ok(None)
}

/// Keeps `starts` as the draft of `day` and shows the day's grid with it.
fn show_draft(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
    starts: DayStarts,
) -> Result<Option<String>, DbError> {
    keep(
        turn,
        actor,
        AvailabilityInput::Draft {
            weekday: day,
            starts,
        },
    )?;
    show_day(turn, actor, owner, day, starts)?;
    Ok(None)
}

/// A day button: its grid, starting a draft from what is stored.
pub(super) fn open_day(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
) -> Result<Option<String>, DbError> {
    let grid = availability::weekly(turn.conn, owner.id)?;
    let starts = DayStarts::of(&grid, day);
    show_draft(turn, actor, owner, day, starts)
}

/// A start-time button: flips it in the draft only.
pub(super) fn toggle(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
    mut starts: DayStarts,
    minute: u16,
) -> Result<Option<String>, DbError> {
    if starts.toggle(minute).is_err() {
        // The button data parser admits grid minutes only.
        return super::callbacks::stale(turn, actor, "toggle of an off-grid minute");
    }
    show_draft(turn, actor, owner, day, starts)
}

/// "Clear": empties the draft (nothing is stored until "Save").
pub(super) fn clear(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
) -> Result<Option<String>, DbError> {
    show_draft(turn, actor, owner, day, DayStarts::default())
}

/// "Save": writes the draft as the day's start times, all at once, with
/// an audit row of the old and new times; then the overview.
pub(super) fn save(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
    starts: DayStarts,
) -> Result<Option<String>, DbError> {
    leave_dialogue(turn, actor)?;
    let language = owner.language;
    let name = day_name(language, day);
    let changed = write_day(turn, actor, owner, day, starts, None)?;
    let (note, toast) = if changed {
        let times = times_text(language, starts);
        (
            t(
                language,
                "availability.saved",
                &[("day", &name), ("times", &times)],
            ),
            "availability.toast.saved",
        )
    } else {
        (
            t(language, "availability.unchanged", &[("day", &name)]),
            "availability.toast.unchanged",
        )
    };
    show_overview(turn, actor, owner, Some(note))?;
    Ok(Some(t(language, toast, &[])))
}

/// "Copy to Mon–Fri": writes the draft to every working day at once (one
/// audit row per day that changes); then the overview.
pub(super) fn copy_to_working_days(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
    starts: DayStarts,
) -> Result<Option<String>, DbError> {
    leave_dialogue(turn, actor)?;
    let mut changed = false;
    for target in WORKING_DAYS {
        changed |= write_day(turn, actor, owner, target, starts, Some(day))?;
    }
    let language = owner.language;
    let name = day_name(language, day);
    let note = t(
        language,
        "availability.copied",
        &[("day", &name), ("times", &times_text(language, starts))],
    );
    show_overview(turn, actor, owner, Some(note))?;
    let toast = if changed {
        "availability.toast.saved"
    } else {
        "availability.toast.unchanged"
    };
    Ok(Some(t(language, toast, &[])))
}

/// Replaces one day's start times when they differ, with its audit row.
/// Returns whether anything changed.
fn write_day(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
    starts: DayStarts,
    copied_from: Option<Weekday>,
) -> Result<bool, DbError> {
    let stored = DayStarts::of(&availability::weekly(turn.conn, owner.id)?, day);
    if stored == starts {
        return Ok(false);
    }
    let old = availability::replace_day(turn.conn, owner.id, day, starts)?;
    let mut data = json!({
        "weekday": iso_number(day),
        "old": old.times(),
        "new": starts.times(),
    });
    if let Some(from) = copied_from {
        data["copied_from"] = json!(iso_number(from));
    }
    turn.audit(actor, "availability.day_saved", Some(owner.id), data)?;
    Ok(true)
}

/// "Slot length": the choices, the current one ticked.
pub(super) fn slot_lengths(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
) -> Result<Option<String>, DbError> {
    let language = owner.language;
    let current = availability::slot_minutes(turn.conn, owner.id)?;
    let choices: Vec<Button> = SLOT_LENGTH_CHOICES
        .iter()
        .filter_map(|minutes| SlotLength::from_minutes(i32::from(*minutes)).ok())
        .map(|length| {
            let key = if length == current {
                "availability.length.chosen"
            } else {
                "availability.length.option"
            };
            let label = t(language, key, &[("minutes", &length.minutes().to_string())]);
            Button::new(label, AvailabilityCallback::SetSlotLength(length).data())
        })
        .collect();
    let mut rows: Vec<Vec<Button>> = choices.chunks(3).map(<[Button]>::to_vec).collect();
    rows.push(vec![button(
        language,
        "availability.button.back",
        AvailabilityCallback::Overview,
    )]);
    let text = t(
        language,
        "availability.length.screen",
        &[("minutes", &current.minutes().to_string())],
    );
    turn.show(actor, OutgoingMessage::with_buttons(text, rows))?;
    Ok(None)
}

/// A slot length button: stored at once (with its audit row) when it
/// differs; then the overview.
pub(super) fn set_slot_length(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    length: SlotLength,
) -> Result<Option<String>, DbError> {
    let language = owner.language;
    let current = availability::slot_minutes(turn.conn, owner.id)?;
    let minutes = length.minutes().to_string();
    let (note, toast) = if current == length {
        (
            t(
                language,
                "availability.length.unchanged",
                &[("minutes", &minutes)],
            ),
            "availability.toast.unchanged",
        )
    } else {
        availability::set_slot_minutes(turn.conn, owner.id, length, turn.ctx.now)?;
        turn.audit(
            actor,
            "availability.slot_length_set",
            Some(owner.id),
            json!({ "from": current.minutes(), "to": length.minutes() }),
        )?;
        (
            t(
                language,
                "availability.length.saved",
                &[("minutes", &minutes)],
            ),
            "availability.toast.saved",
        )
    };
    show_overview(turn, actor, owner, Some(note))?;
    Ok(Some(t(language, toast, &[])))
}

/// A day's screen: the 29 start times as toggles (4 per row, chosen ones
/// ticked), then Save, Clear, Copy to Mon–Fri and Back.
fn show_day(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    day: Weekday,
    starts: DayStarts,
) -> Result<(), DbError> {
    let language = owner.language;
    let zone = zone_of(turn, owner);
    let length = availability::slot_minutes(turn.conn, owner.id)?;
    let toggles: Vec<Button> = grid_starts()
        .map(|minute| {
            let time = hhmm(minute);
            let label = if starts.contains(minute) {
                t(language, "availability.day.chosen", &[("time", &time)])
            } else {
                time
            };
            Button::new(label, AvailabilityCallback::Toggle(day, minute).data())
        })
        .collect();
    let mut rows: Vec<Vec<Button>> = toggles
        .chunks(TIMES_PER_ROW)
        .map(<[Button]>::to_vec)
        .collect();
    rows.push(vec![
        button(
            language,
            "availability.button.save",
            AvailabilityCallback::Save(day),
        ),
        button(
            language,
            "availability.button.clear",
            AvailabilityCallback::Clear(day),
        ),
    ]);
    rows.push(vec![
        button(
            language,
            "availability.button.copy",
            AvailabilityCallback::CopyToWorkingDays(day),
        ),
        button(
            language,
            "availability.button.back",
            AvailabilityCallback::Overview,
        ),
    ]);
    let text = t(
        language,
        "availability.day.screen",
        &[
            ("day", &day_name(language, day)),
            ("zone", zone.name()),
            ("minutes", &length.minutes().to_string()),
            ("times", &times_text(language, starts)),
        ],
    );
    turn.show(actor, OutgoingMessage::with_buttons(text, rows))
}

/// `10:00, 10:30`, or "none".
fn times_text(language: Language, starts: DayStarts) -> String {
    if starts.is_empty() {
        t(language, "availability.day.none", &[])
    } else {
        starts.times().join(", ")
    }
}

/// "Mon" / "Пн".
fn short_name(language: Language, day: Weekday) -> String {
    t(
        language,
        &format!("availability.day_short.{}", iso_number(day)),
        &[],
    )
}

fn button(language: Language, key: &str, press: AvailabilityCallback) -> Button {
    Button::new(t(language, key, &[]), press.data())
}
