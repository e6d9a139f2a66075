//! `/schedule`: a working manager picks an owner (or, in collective mode,
//! all owners together), a day with free slots, a time, and confirms. The
//! same screens move a meeting from `/my_meetings` (the purpose in the
//! button data says which). One message changes in place.
//!
//! ```text
//! manager: /schedule
//! bot:     📅 Whom would you like to meet?  [Anna Smith] [Boris Ivanov]
//! manager: (Anna Smith)   → 📅 Anna Smith · free days (your time, Europe/Moscow): [Tue 01.12 · 5] …
//! manager: (Tue 01.12)    → 🕐 Tue 01.12.2026: [10:00] [11:00] … [⬅️ Days]
//! manager: (10:00)        → Book Tue 01.12.2026, 10:00–11:00 with Anna Smith?  [✅ Book] [⬅️ Times]
//! manager: (✅ Book)       → ✅ Booked: … A calendar invite follows.
//! Anna:    📅 New meeting: Tue 01.12.2026, 10:00–11:00 with Ivan Petrov   (via the worker)
//! ```
//!
//! Nothing in the button data is trusted: every press re-checks that the
//! caller is an active, working manager, that the owners named are active
//! owners (or the meeting named is the caller's and still movable), and
//! that the slot pressed is among the slots free right now. The claims and
//! the quota in `shared::db::meetings` settle races between managers; the
//! loser is told and shown fresh days.

mod commit;
mod screens;

use chrono::{DateTime, Utc};
use shared::db::DbError;
use shared::db::booking_settings;
use shared::db::free_slots::{self, SlotQuery};
use shared::db::meetings::{self, Meeting};
use shared::db::types::UserId;
use shared::db::users::{self, User};
use shared::domain::admin::UserFilter;
use shared::domain::booking::{MeetingStatus, ParticipantRole, next_period_start, period_key};
use shared::domain::schedule::{Purpose, ScheduleCallback};
use shared::domain::settings::{BookingMode, BookingSettings};
use shared::domain::slots::Slot;
use shared::domain::user::{Language, Role, Status, WorkStatus};
use shared::i18n::t;
use shared::telegram::OutgoingMessage;

use super::{Actor, Turn, callbacks};

/// Owners listed on the first screen at most.
const MAX_OWNERS: i64 = 50;

/// `/schedule` (the router lets only active users in).
pub(super) fn command(turn: &mut Turn<'_>, actor: &Actor<'_>) -> Result<(), DbError> {
    let Some(manager) = actor.active_as(Role::Manager) else {
        let text = t(actor.language, "schedule.managers_only", &[]);
        return turn.reply(actor, OutgoingMessage::text(text));
    };
    if manager.work_status != WorkStatus::Working {
        return turn.reply(actor, screens::away(&manager));
    }
    let message = screens::start(turn, &manager, None)?;
    turn.reply(actor, message)
}

/// A press on a `bk:` button; `data` is what follows the prefix. Returns
/// the toast.
pub(super) fn on_press(
    turn: &mut Turn<'_>,
    actor: &Actor<'_>,
    data: &str,
) -> Result<Option<String>, DbError> {
    let Some(manager) = actor.active_as(Role::Manager) else {
        return callbacks::refused(turn, actor, "booking button of a non-manager");
    };
    let Some(press) = ScheduleCallback::parse(data) else {
        return callbacks::stale(turn, actor, "booking button data that does not parse");
    };
    if press == ScheduleCallback::Back {
        return commit::come_back(turn, actor, &manager);
    }
    if manager.work_status != WorkStatus::Working {
        turn.show(actor, screens::away(&manager))?;
        return Ok(None);
    }
    let purpose = match press {
        ScheduleCallback::Owners | ScheduleCallback::Back => {
            let message = screens::start(turn, &manager, None)?;
            turn.show(actor, message)?;
            return Ok(None);
        }
        ScheduleCallback::Days(purpose)
        | ScheduleCallback::Times(purpose, _)
        | ScheduleCallback::Confirm(purpose, _)
        | ScheduleCallback::Book(purpose, _) => purpose,
    };
    let target = match Target::resolve(turn, &manager, purpose)? {
        Ok(target) => target,
        Err(Unavailable::Forged(why)) => return callbacks::refused(turn, actor, why),
        Err(Unavailable::Stale(why)) => return callbacks::stale(turn, actor, why),
        Err(Unavailable::Told(key)) => {
            let settings = booking_settings::get(turn.conn)?;
            let note = refusal_text(manager.language, key, &settings);
            let message = screens::start(turn, &manager, Some(note))?;
            turn.show(actor, message)?;
            return Ok(None);
        }
    };
    match press {
        ScheduleCallback::Days(_) => screens::days(turn, actor, &manager, &target, None),
        ScheduleCallback::Times(_, date) => screens::times(turn, actor, &manager, &target, date),
        ScheduleCallback::Confirm(_, start) => {
            screens::confirm(turn, actor, &manager, &target, start)
        }
        ScheduleCallback::Book(_, start) => commit::book(turn, actor, &manager, &target, start),
        ScheduleCallback::Owners | ScheduleCallback::Back => Ok(None),
    }
}

/// What the slots being picked are for, checked against the database.
#[derive(Debug, Clone)]
struct Target {
    purpose: Purpose,
    owners: Vec<User>,
    /// The meeting being moved.
    moving: Option<Meeting>,
    settings: BookingSettings,
}

/// Why the purpose in a button no longer (or never did) apply.
#[derive(Debug)]
enum Unavailable {
    /// Names something that is not the caller's to touch.
    Forged(&'static str),
    /// Names something that no longer fits (settings or roles changed).
    Stale(&'static str),
    /// A normal situation the manager is told about (text key).
    Told(&'static str),
}

impl Target {
    fn resolve(
        turn: &mut Turn<'_>,
        manager: &User,
        purpose: Purpose,
    ) -> Result<Result<Self, Unavailable>, DbError> {
        let settings = booking_settings::get(turn.conn)?;
        let (owners, moving) = match purpose {
            Purpose::Owner(owner) => {
                if settings.mode != BookingMode::Single {
                    return Ok(Err(Unavailable::Stale(
                        "single-owner booking in collective mode",
                    )));
                }
                match users::find(turn.conn, owner)? {
                    Some(owner) if is_bookable_owner(&owner) && owner.id != manager.id => {
                        (vec![owner], None)
                    }
                    Some(_) => return Ok(Err(Unavailable::Told("schedule.owner_gone"))),
                    None => return Ok(Err(Unavailable::Forged("booking with an unknown owner"))),
                }
            }
            Purpose::AllOwners => {
                if settings.mode != BookingMode::Collective {
                    return Ok(Err(Unavailable::Stale("collective booking in single mode")));
                }
                let owners = active_owners(turn)?;
                if owners.is_empty() {
                    return Ok(Err(Unavailable::Told("schedule.no_owners")));
                }
                (owners, None)
            }
            Purpose::Move(id) => {
                let Some(meeting) = meetings::find(turn.conn, id)? else {
                    return Ok(Err(Unavailable::Forged("moving an unknown meeting")));
                };
                if meeting.manager_id != manager.id {
                    return Ok(Err(Unavailable::Forged("moving someone else's meeting")));
                }
                if let Err(key) = movable(&meeting, &settings, turn.ctx.now) {
                    return Ok(Err(Unavailable::Told(key)));
                }
                let mut owners = Vec::new();
                for participant in meetings::participants(turn.conn, id)? {
                    if participant.role == ParticipantRole::Owner
                        && let Some(owner) = users::find(turn.conn, participant.user_id)?
                    {
                        owners.push(owner);
                    }
                }
                (owners, Some(meeting))
            }
        };
        Ok(Ok(Self {
            purpose,
            owners,
            moving,
            settings,
        }))
    }

    fn owner_ids(&self) -> Vec<UserId> {
        self.owners.iter().map(|owner| owner.id).collect()
    }

    /// "Anna Smith" or "Anna Smith, Boris Ivanov".
    fn owner_names(&self) -> String {
        self.owners
            .iter()
            .map(User::full_name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether a meeting may still be cancelled or moved by its manager at
/// `now`: scheduled, and at least the cancel notice ahead. `Err` is the
/// text key saying why not.
pub(super) fn movable(
    meeting: &Meeting,
    settings: &BookingSettings,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    if meeting.status != MeetingStatus::Scheduled {
        return Err("mymeetings.not_scheduled");
    }
    if meeting.starts_at - settings.cancel_notice < now {
        return Err("mymeetings.too_late");
    }
    Ok(())
}

/// The text of a refusal key from [`movable`] or [`Unavailable::Told`],
/// with the cancel notice filled in.
pub(super) fn refusal_text(language: Language, key: &str, settings: &BookingSettings) -> String {
    let minutes = settings.cancel_notice.num_minutes();
    let hours = if minutes % 60 == 0 {
        (minutes / 60).to_string()
    } else {
        format!("{:.1}", minutes as f64 / 60.0)
    };
    t(language, key, &[("hours", &hours)])
}

fn is_bookable_owner(user: &User) -> bool {
    user.status == Status::Active && user.role == Some(Role::Owner)
}

/// Every active owner, by name.
fn active_owners(turn: &mut Turn<'_>) -> Result<Vec<User>, DbError> {
    let filter = UserFilter {
        role: Some(Role::Owner),
        status: Some(Status::Active),
        department: None,
    };
    let mut owners = users::list(turn.conn, &filter, MAX_OWNERS, 0)?;
    owners.sort_by(|a, b| {
        (a.last_name.to_lowercase(), a.first_name.to_lowercase())
            .cmp(&(b.last_name.to_lowercase(), b.first_name.to_lowercase()))
    });
    Ok(owners)
}

/// The slots offered for `target` now, and whether the limit hid some
/// (slots in periods where the manager has no meeting left).
fn offered(
    turn: &mut Turn<'_>,
    manager: &User,
    target: &Target,
) -> Result<(Vec<Slot>, bool), DbError> {
    let owners = target.owner_ids();
    let query = SlotQuery {
        owners: &owners,
        manager: manager.id,
        moving: target.moving.as_ref().map(|m| m.id),
        settings: &target.settings,
        now: turn.ctx.now,
        company_zone: turn.ctx.company_zone,
    };
    let free = free_slots::for_query(turn.conn, &query)?;
    let full = meetings::full_periods(turn.conn, manager.id, target.settings.limit_per_period)?;
    if full.is_empty() {
        return Ok((free, false));
    }
    // A meeting being moved keeps its own period's place.
    let own_period = target.moving.as_ref().map(|m| m.period_key.as_str());
    let total = free.len();
    let kept: Vec<Slot> = free
        .into_iter()
        .filter(|slot| {
            let key = period_key(
                slot.start,
                target.settings.limit_period,
                turn.ctx.company_zone,
            );
            Some(key.as_str()) == own_period || !full.contains(&key)
        })
        .collect();
    let hidden = kept.len() < total;
    Ok((kept, hidden))
}

/// The first instant at which the manager may book again: the start of the
/// first limit period from now that is not full.
fn next_bookable(
    turn: &mut Turn<'_>,
    manager: &User,
    settings: &BookingSettings,
) -> Result<DateTime<Utc>, DbError> {
    let full = meetings::full_periods(turn.conn, manager.id, settings.limit_per_period)?;
    let zone = turn.ctx.company_zone;
    let mut at = turn.ctx.now;
    // A year of weeks is far more than any horizon; the bound only guards
    // against a corrupt quota table.
    for _ in 0..60 {
        if !full.contains(&period_key(at, settings.limit_period, zone)) {
            break;
        }
        at = next_period_start(at, settings.limit_period, zone);
    }
    Ok(at)
}
