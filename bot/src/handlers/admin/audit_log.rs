//! A user's audit log, newest first, a page at a time: who did what and
//! when (in the reading admin's time zone), with the recorded data.

use std::collections::HashMap;

use shared::db::DbError;
use shared::db::audit::{self, AuditRecord};
use shared::db::types::UserId;
use shared::db::users::{self, User};
use shared::domain::admin::{AdminCallback, LOG_PER_PAGE, ListView, Paging};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::super::{Actor, Turn, callbacks};
use super::{back, button, short};

/// Longest data excerpt shown per entry, in characters.
const DATA_CHARS: usize = 200;

/// The zone the actor reads times in: theirs, else the company's.
pub(super) fn zone_of(turn: &Turn<'_>, actor: &Actor<'_>) -> chrono_tz::Tz {
    actor
        .user
        .as_ref()
        .and_then(|user| user.time_zone.parse().ok())
        .unwrap_or(turn.ctx.company_zone)
}

/// Page `page` of the log of `user`.
pub(super) fn page(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    admin: &User,
    user: UserId,
    page: u32,
    back_to: ListView,
) -> Result<Option<String>, DbError> {
    let language = actor.language;
    let Some(target) = users::find(turn.conn, user)? else {
        return callbacks::stale(turn, actor, "the log of an unknown user");
    };
    let total = audit::count_for_user(turn.conn, user)?;
    let paging = Paging::new(page, total, LOG_PER_PAGE);
    let records = audit::for_user(turn.conn, user, paging.limit, paging.offset)?;
    let zone = zone_of(turn, actor);

    let mut names: HashMap<UserId, String> = HashMap::from([(admin.id, admin.full_name())]);
    let mut entries = Vec::with_capacity(records.len());
    for record in &records {
        let who = actor_name(turn, &mut names, record)?
            .unwrap_or_else(|| t(language, "adm.log.system", &[]));
        entries.push(t(
            language,
            "adm.log.entry",
            &[
                (
                    "when",
                    &record
                        .at
                        .with_timezone(&zone)
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                ),
                ("who", &who),
                ("action", &record.action),
                ("data", &short(&record.data, DATA_CHARS)),
            ],
        ));
    }
    let title = t(
        language,
        "adm.log.title",
        &[
            ("name", &target.full_name()),
            ("page", &(paging.page + 1).to_string()),
            ("pages", &paging.pages.to_string()),
            ("zone", zone.name()),
        ],
    );
    let body = if entries.is_empty() {
        t(language, "adm.log.empty", &[])
    } else {
        entries.join("\n\n")
    };

    let mut buttons = Vec::new();
    let at = |page| AdminCallback::Log {
        user,
        page,
        back: back_to,
    };
    let mut paging_row = Vec::new();
    if paging.has_previous() {
        paging_row.push(button(
            t(language, "adm.previous", &[]),
            at(paging.page - 1),
        ));
    }
    if paging.has_next() {
        paging_row.push(button(t(language, "adm.next", &[]), at(paging.page + 1)));
    }
    if !paging_row.is_empty() {
        buttons.push(paging_row);
    }
    buttons.push(back(
        actor,
        AdminCallback::User {
            user,
            back: back_to,
        },
    ));
    turn.show(
        actor,
        OutgoingMessage::with_buttons(format!("{title}\n\n{body}"), buttons),
    )?;
    Ok(None)
}

/// Who acted: a user's name, their Telegram id before they had a row, or
/// `None` for the system.
fn actor_name(
    turn: &mut Turn<'_>,
    names: &mut HashMap<UserId, String>,
    record: &AuditRecord,
) -> Result<Option<String>, DbError> {
    if let Some(id) = record.actor_id {
        if let Some(name) = names.get(&id) {
            return Ok(Some(name.clone()));
        }
        let name = users::find(turn.conn, id)?.map_or_else(|| format!("#{id}"), |u| u.full_name());
        names.insert(id, name.clone());
        return Ok(Some(name));
    }
    Ok(record.actor_telegram_id.map(|id| format!("tg:{id}")))
}
