//! The list screen: one tab of the owner's meetings, a page at a time, in
//! the owner's zone, with a button per meeting (cancel, or how it ended)
//! and the tabs with their counts.

use std::collections::HashMap;

use shared::db::DbError;
use shared::db::meetings::{self, Meeting};
use shared::db::users::User;
use shared::domain::owner_meetings::{
    OwnerMeetingsCallback, PAGE_SIZE, TO_CLOSE_DAYS, Tab, clamp_page, listed_since, page_count,
    tab_of,
};
use shared::domain::user::Language;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::super::meeting_text::{self, MeetingPeople, zone_of};
use super::{Actor, Turn};

/// Cancel buttons per row.
const CANCELS_PER_ROW: usize = 2;

/// Shows `tab` in place with `note` above it; returns `note` as the toast.
pub(super) fn refresh(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    owner: &User,
    tab: Tab,
    note: String,
) -> Result<Option<String>, DbError> {
    let message = message(turn, owner, tab, 0, Some(note.clone()))?;
    turn.show(actor, message)?;
    Ok(Some(note))
}

/// Page `page` of `tab` (the last page if the list shrank), `note` (what
/// just happened) above it.
pub(super) fn message(
    turn: &mut Turn<'_>,
    owner: &User,
    tab: Tab,
    page: u16,
    note: Option<String>,
) -> Result<OutgoingMessage, DbError> {
    let language = owner.language;
    let mut tabs = by_tab(turn, owner)?;
    let counts: HashMap<Tab, usize> = tabs.iter().map(|(tab, list)| (*tab, list.len())).collect();
    let listed = tabs.remove(&tab).unwrap_or_default();
    let page = clamp_page(page, listed.len());
    let pages = page_count(listed.len());
    let first = usize::from(page) * PAGE_SIZE;

    let mut lines = vec![t(language, &format!("om.heading.{}", tab.code()), &[])];
    let mut rows: Vec<Vec<Button>> = Vec::new();
    if listed.is_empty() {
        let days = TO_CLOSE_DAYS.to_string();
        lines.push(t(
            language,
            &format!("om.empty.{}", tab.code()),
            &[("days", &days)],
        ));
    }
    let mut cancels = Vec::new();
    for (index, meeting) in listed.iter().enumerate().skip(first).take(PAGE_SIZE) {
        let number = (index + 1).to_string();
        let people = MeetingPeople::load(turn.conn, meeting)?;
        let line = meeting_text::line(turn, owner, meeting, &people);
        lines.push(t(
            language,
            "om.item",
            &[("number", &number), ("line", &line)],
        ));
        if tab == Tab::ToClose {
            rows.push(vec![
                Button::new(
                    t(language, "om.button.completed", &[("number", &number)]),
                    OwnerMeetingsCallback::Completed(meeting.id).data(),
                ),
                Button::new(
                    t(language, "om.button.no_show", &[("number", &number)]),
                    OwnerMeetingsCallback::NoShow(meeting.id).data(),
                ),
            ]);
        } else {
            cancels.push(Button::new(
                cancel_label(turn, owner, meeting, &number),
                OwnerMeetingsCallback::Cancel(meeting.id).data(),
            ));
        }
    }
    rows.extend(cancels.chunks(CANCELS_PER_ROW).map(<[Button]>::to_vec));
    if pages > 1 {
        lines.push(t(
            language,
            "om.page",
            &[
                ("page", &(page + 1).to_string()),
                ("pages", &pages.to_string()),
            ],
        ));
        let mut pager = Vec::new();
        if page > 0 {
            pager.push(button(
                language,
                "om.button.previous",
                OwnerMeetingsCallback::Tab(tab, page - 1),
            ));
        }
        if page + 1 < pages {
            pager.push(button(
                language,
                "om.button.next",
                OwnerMeetingsCallback::Tab(tab, page + 1),
            ));
        }
        rows.push(pager);
    }
    let tab_button = |each: Tab| {
        let label = t(
            language,
            &format!("om.tab.{}", each.code()),
            &[(
                "count",
                &counts.get(&each).copied().unwrap_or(0).to_string(),
            )],
        );
        let label = if each == tab {
            t(language, "om.tab.current", &[("label", &label)])
        } else {
            label
        };
        Button::new(label, OwnerMeetingsCallback::Tab(each, 0).data())
    };
    rows.push(vec![
        tab_button(Tab::Today),
        tab_button(Tab::Week),
        tab_button(Tab::Later),
    ]);
    rows.push(vec![tab_button(Tab::ToClose)]);

    let text = lines.join("\n\n");
    let text = match note {
        Some(note) => format!("{note}\n\n{text}"),
        None => text,
    };
    Ok(OutgoingMessage::with_buttons(text, rows))
}

/// The owner's listed meetings by tab, each earliest first: the upcoming
/// ones and those of the last days still open.
fn by_tab(turn: &mut Turn<'_>, owner: &User) -> Result<HashMap<Tab, Vec<Meeting>>, DbError> {
    let now = turn.ctx.now;
    let zone = zone_of(turn, owner);
    // Scheduled meetings ending after the cut-off: those not over yet and
    // those over but never closed.
    let listed = meetings::upcoming_for_owner(turn.conn, owner.id, listed_since(now))?;
    let mut tabs: HashMap<Tab, Vec<Meeting>> = Tab::ALL.map(|tab| (tab, Vec::new())).into();
    for meeting in listed {
        tabs.entry(tab_of(meeting.starts_at, now, zone))
            .or_default()
            .push(meeting);
    }
    Ok(tabs)
}

/// "❌ 2. Tue 01.12 10:00": which meeting a cancel button is for, in the
/// owner's zone.
fn cancel_label(turn: &Turn<'_>, owner: &User, meeting: &Meeting, number: &str) -> String {
    let starts = meeting.starts_at.with_timezone(&zone_of(turn, owner));
    let date = starts.date_naive();
    t(
        owner.language,
        "om.button.cancel",
        &[
            ("number", number),
            (
                "weekday",
                &meeting_text::weekday_short(owner.language, date),
            ),
            ("date", &starts.format("%d.%m").to_string()),
            ("time", &starts.format("%H:%M").to_string()),
        ],
    )
}

fn button(language: Language, key: &str, press: OwnerMeetingsCallback) -> Button {
    Button::new(t(language, key, &[]), press.data())
}
