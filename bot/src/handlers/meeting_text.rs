//! How a meeting reads to one person — its time in their own zone with a
//! localized weekday, who it is with — and the notices that tell the other
//! participants about a change. Shared by booking, "my meetings" and the
//! owner's meeting list, so a meeting looks the same on every screen.

use chrono_tz::Tz;
use shared::db::meetings::{self, Meeting};
use shared::db::types::UserId;
use shared::db::users::{self, User};
use shared::db::{DbConn, DbError};
use shared::domain::booking::ParticipantRole;
use shared::domain::profile::stored_zone;
use shared::domain::user::Role;
use shared::i18n::t;
use shared::telegram::OutgoingMessage;
use shared::telegram::message::Button;

use super::{Notice, Turn};

/// `user`'s own zone (the company zone for a name this build does not know).
pub(super) fn zone_of(turn: &Turn<'_>, user: &User) -> Tz {
    stored_zone(&user.time_zone, turn.ctx.company_zone)
}

pub(super) use shared::i18n::dates::{meeting_when as when, weekday_short};

/// Everyone taking part in a meeting, with their current rows.
#[derive(Debug, Clone)]
pub(super) struct MeetingPeople {
    pub manager: User,
    pub owners: Vec<User>,
}

impl MeetingPeople {
    /// Loads the participants of `meeting`.
    pub fn load(conn: &mut DbConn, meeting: &Meeting) -> Result<Self, DbError> {
        let mut owners = Vec::new();
        let mut manager = None;
        for participant in meetings::participants(conn, meeting.id)? {
            let Some(user) = users::find(conn, participant.user_id)? else {
                continue;
            };
            match participant.role {
                ParticipantRole::Manager => manager = Some(user),
                ParticipantRole::Owner => owners.push(user),
            }
        }
        match manager {
            Some(manager) => Ok(Self { manager, owners }),
            // The manager is a participant row written with the meeting.
            None => users::get(conn, meeting.manager_id).map(|manager| Self { manager, owners }),
        }
    }

    /// Everyone, manager first.
    pub fn everyone(&self) -> impl Iterator<Item = &User> {
        std::iter::once(&self.manager).chain(&self.owners)
    }

    /// The names of everyone but `reader`, "Anna Smith, Boris Ivanov".
    pub fn others_of(&self, reader: UserId) -> String {
        self.everyone()
            .filter(|person| person.id != reader)
            .map(User::full_name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One line of a meeting list, for `reader`: when, and with whom.
pub(super) fn line(
    turn: &Turn<'_>,
    reader: &User,
    meeting: &Meeting,
    people: &MeetingPeople,
) -> String {
    t(
        reader.language,
        "meeting.line",
        &[
            (
                "when",
                &when(
                    reader.language,
                    zone_of(turn, reader),
                    meeting.starts_at,
                    meeting.ends_at,
                ),
            ),
            ("with", &people.others_of(reader.id)),
        ],
    )
}

/// Tells every active participant except `actor` about a change of
/// `meeting`: `key` gets `{when}` (in the reader's zone), `{with}` (the
/// other people, from the reader's side), `{by}` (the actor's name) and
/// `extra`. Once per meeting revision and reader (`kind` in the dedupe key).
pub(super) fn tell_others(
    turn: &mut Turn<'_>,
    meeting: &Meeting,
    people: &MeetingPeople,
    actor: UserId,
    kind: &'static str,
    key: &str,
    extra: &[(&'static str, &str)],
) -> Result<(), DbError> {
    tell_others_with(turn, meeting, people, actor, kind, key, |_, _| {
        extra
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect()
    })
}

/// [`tell_others`] with arguments that depend on the reader (e.g. the old
/// time of a moved meeting, in the reader's zone): `extra` gets the reader
/// and their zone.
pub(super) fn tell_others_with(
    turn: &mut Turn<'_>,
    meeting: &Meeting,
    people: &MeetingPeople,
    actor: UserId,
    kind: &'static str,
    key: &str,
    extra: impl Fn(&User, Tz) -> Vec<(&'static str, String)>,
) -> Result<(), DbError> {
    let by = people
        .everyone()
        .find(|person| person.id == actor)
        .map(User::full_name)
        .unwrap_or_default();
    for reader in people.everyone().filter(|p| p.id != actor && p.is_active()) {
        let zone = zone_of(turn, reader);
        let when = when(reader.language, zone, meeting.starts_at, meeting.ends_at);
        let with = people.others_of(reader.id);
        let extra = extra(reader, zone);
        let mut args = vec![("when", when.as_str()), ("with", &with), ("by", &by)];
        args.extend(extra.iter().map(|(name, value)| (*name, value.as_str())));
        let text = t(reader.language, key, &args);
        turn.notify(Notice {
            chat_id: reader.telegram_id.0,
            recipient: Some(reader.id),
            kind,
            message: OutgoingMessage::with_buttons(text, notice_buttons(reader)),
            dedupe_key: format!("{kind}:{}:{}:{}", meeting.id, meeting.revision, reader.id),
        })?;
    }
    Ok(())
}

/// Where a notice leads: the reader's own meeting list (`om:list` for
/// owners, `mm:list` for managers).
fn notice_buttons(reader: &User) -> Vec<Vec<Button>> {
    let (key, data) = match reader.role {
        Some(Role::Owner) => ("meeting.button.owner_list", "om:list"),
        _ => ("meeting.button.my_meetings", "mm:list"),
    };
    vec![vec![Button::new(t(reader.language, key, &[]), data)]]
}
