//! The time zone: a short list of buttons (the company zone first) or a
//! typed IANA name, checked against the zone database.

use chrono_tz::Tz;
use serde_json::json;
use shared::db::DbError;
use shared::db::users::{self, User};
use shared::domain::profile::{
    MAX_ZONE_CHARS, ProfileCallback, ZoneError, parse_zone_name, utc_offset, zone_choices,
};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::dialogue;
use super::{
    Actor, ProfileInput, Turn, audit_change, problem, show_saved, view, wait_for, zone_of,
};

/// "🕒 Time zone": the list, two per row, the current one ticked.
pub(super) fn choose(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    let now = turn.ctx.now;
    let company = turn.ctx.company_zone;
    let current = zone_of(turn, user);
    let buttons: Vec<Button> = zone_choices(company)
        .into_iter()
        .map(|zone| {
            let mut label = short_label(zone, now);
            if zone == company {
                label = t(language, "profile.zone.company", &[("zone", &label)]);
            }
            if zone == current {
                label = format!("✓ {label}");
            }
            Button::new(label, ProfileCallback::SetZone(zone).data())
        })
        .collect();
    let mut rows: Vec<Vec<Button>> = buttons.chunks(2).map(<[Button]>::to_vec).collect();
    rows.push(vec![
        Button::new(
            t(language, "profile.button.type_zone", &[]),
            ProfileCallback::TypeZone.data(),
        ),
        view::back(language),
    ]);
    let text = t(
        language,
        "profile.zone.choose",
        &[
            ("zone", &view::zone_label(current, now)),
            ("time", &view::local_time(current, now)),
        ],
    );
    turn.show(actor, OutgoingMessage::with_buttons(text, rows))?;
    Ok(None)
}

/// "⌨️ Type a zone name": the next text is a zone name.
pub(super) fn ask(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
) -> Result<Option<String>, DbError> {
    let language = user.language;
    wait_for(turn, actor, ProfileInput::Zone)?;
    let current = zone_of(turn, user);
    let text = t(language, "profile.zone.ask", &[("zone", current.name())]);
    let back = vec![vec![view::back(language)]];
    turn.show(actor, OutgoingMessage::with_buttons(text, back))?;
    Ok(None)
}

/// A zone name typed while it is asked for.
pub(super) fn on_text(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    text: &str,
) -> Result<(), DbError> {
    let language = user.language;
    match parse_zone_name(text) {
        Ok(zone) => {
            dialogue::clear(turn, actor)?;
            set(turn, actor, user, zone)?;
            Ok(())
        }
        Err(error) => {
            let reason = match error {
                ZoneError::Empty => t(language, "profile.zone.error.empty", &[]),
                ZoneError::Unknown => t(
                    language,
                    "profile.zone.error.unknown",
                    &[("name", &shortened(text.trim()))],
                ),
            };
            let current = zone_of(turn, user);
            let again = t(language, "profile.zone.again", &[("zone", current.name())]);
            turn.reply(actor, problem(reason, again))
        }
    }
}

/// A zone button, or a typed name that was understood.
pub(super) fn set(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    user: &User,
    zone: Tz,
) -> Result<Option<String>, DbError> {
    let changed = user.time_zone != zone.name();
    if changed {
        users::set_time_zone(turn.conn, user.id, zone, turn.ctx.now)?;
        audit_change(
            turn,
            actor,
            user,
            "profile.time_zone_set",
            json!({ "from": user.time_zone, "to": zone.name() }),
        )?;
    }
    let now = turn.ctx.now;
    let note = t(
        user.language,
        "profile.zone.saved",
        &[
            ("zone", &view::zone_label(zone, now)),
            ("time", &view::local_time(zone, now)),
        ],
    );
    show_saved(turn, actor, user, note, changed)
}

/// `Moscow, UTC+3`: the city part of the name, for narrow buttons.
fn short_label(zone: Tz, now: chrono::DateTime<chrono::Utc>) -> String {
    let name = zone.name();
    let city = name.rsplit('/').next().unwrap_or(name).replace('_', " ");
    format!("{city}, {}", utc_offset(zone, now))
}

/// What the user typed, cut to a readable length for quoting it back.
fn shortened(text: &str) -> String {
    if text.chars().count() <= MAX_ZONE_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_ZONE_CHARS).collect();
    cut.push('…');
    cut
}
