//! Statistics from the live tables: users by role and status, and meetings
//! per department by outcome for this ISO week and this calendar month in
//! the company zone.

use shared::db::DbError;
use shared::db::departments;
use shared::db::stats::{self, MeetingCounts};
use shared::db::types::DepartmentId;
use shared::db::users;
use shared::domain::admin::AdminCallback;
use shared::domain::period::{Period, calendar_month, iso_week};
use shared::domain::user::{Language, Role, Status};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::super::{Actor, Turn};
use super::{back, button};

/// The statistics screen.
pub(super) fn show(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let language = actor.language;
    let rows = stats::users_by_role_and_status(turn.conn)?;
    let count = |wanted: &dyn Fn(Option<Role>, Status) -> bool| -> String {
        rows.iter()
            .filter(|(role, status, _)| wanted(*role, *status))
            .map(|(_, _, n)| n)
            .sum::<i64>()
            .to_string()
    };
    let admins = users::active_admins(turn.conn)?.len().to_string();
    let users_text = t(
        language,
        "adm.stats.users",
        &[
            ("total", &count(&|_, _| true)),
            ("active", &count(&|_, s| s == Status::Active)),
            (
                "managers",
                &count(&|r, s| s == Status::Active && r == Some(Role::Manager)),
            ),
            (
                "owners",
                &count(&|r, s| s == Status::Active && r == Some(Role::Owner)),
            ),
            ("admins", &admins),
            ("pending", &count(&|_, s| s == Status::Pending)),
            ("rejected", &count(&|_, s| s == Status::Rejected)),
            ("removed", &count(&|_, s| s == Status::Removed)),
        ],
    );
    let zone = turn.ctx.company_zone;
    let now = turn.ctx.now;
    let week = period_text(turn, language, "adm.stats.week", iso_week(now, &zone))?;
    let month = period_text(
        turn,
        language,
        "adm.stats.month",
        calendar_month(now, &zone),
    )?;
    let text = format!(
        "{}\n\n{users_text}\n\n{week}\n\n{month}",
        t(language, "adm.stats.title", &[("zone", zone.name())])
    );
    let buttons = vec![
        vec![button(
            t(language, "adm.stats.refresh", &[]),
            AdminCallback::Stats,
        )],
        back(actor, AdminCallback::Home),
    ];
    turn.show(actor, OutgoingMessage::with_buttons(text, buttons))
}

/// One period: a heading, then a line per department with meetings and
/// the total.
fn period_text(
    turn: &mut Turn<'_>,
    language: Language,
    heading: &str,
    period: Period,
) -> Result<String, DbError> {
    let per_department = stats::meetings_per_department(turn.conn, period.from, period.to)?;
    let names = departments::list_all(turn.conn)?;
    let name_of = |id: Option<DepartmentId>| match id {
        Some(id) => names
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| format!("#{id}"), |d| d.name.clone()),
        None => t(language, "adm.stats.no_department", &[]),
    };
    let mut lines = vec![t(
        language,
        heading,
        &[
            ("from", &period.first_day.format("%Y-%m-%d").to_string()),
            ("to", &period.last_day.format("%Y-%m-%d").to_string()),
        ],
    )];
    if per_department.is_empty() {
        lines.push(t(language, "adm.stats.no_meetings", &[]));
        return Ok(lines.join("\n"));
    }
    let mut sorted: Vec<(String, MeetingCounts)> = per_department
        .into_iter()
        .map(|(id, counts)| (name_of(id), counts))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut total = MeetingCounts::default();
    for (name, counts) in &sorted {
        total.scheduled += counts.scheduled;
        total.completed += counts.completed;
        total.cancelled += counts.cancelled;
        total.no_show += counts.no_show;
        lines.push(counts_line(language, "adm.stats.department", name, counts));
    }
    let all = t(language, "adm.stats.all_departments", &[]);
    lines.push(counts_line(language, "adm.stats.total", &all, &total));
    Ok(lines.join("\n"))
}

fn counts_line(language: Language, key: &str, name: &str, counts: &MeetingCounts) -> String {
    t(
        language,
        key,
        &[
            ("name", name),
            ("scheduled", &counts.scheduled.to_string()),
            ("completed", &counts.completed.to_string()),
            ("cancelled", &counts.cancelled.to_string()),
            ("no_show", &counts.no_show.to_string()),
            ("total", &counts.total().to_string()),
        ],
    )
}
