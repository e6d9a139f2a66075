//! The admin panel as pure rules: the callback data of every `adm:` button
//! (parsed strictly), user-list filters and paging, department names, the
//! text forms of booking settings, and the calendar periods of statistics.
//!
//! ```text
//! admin: /admin
//! bot:   🛠 Administration   [📝 Pending (2)] [👥 Users] [🏢 Departments] …
//! admin: (presses 👥 Users)                       → adm:us:___:0
//! bot:   👥 Users, page 1 of 3   [Anna Smith · manager · active] … [▶]
//! admin: (presses Anna)                           → adm:u:12:___:0
//! bot:   👤 Anna Smith …   [⬆️ Make owner] [🛡 Grant admin] [⛔ Remove] …
//! admin: (presses ⬆️ Make owner)                  → adm:do:pr:12:___:0
//! bot:   (the card again, Anna now an owner)
//! ```
//!
//! The bot strips the `adm:` prefix before [`AdminCallback::parse`]; every
//! id in the data is looked up again and every action re-checked on the
//! server, so the data only says what the admin asked for.

use chrono::{NaiveTime, TimeDelta};
use serde::{Deserialize, Serialize};

use super::registration::{Decision, MAX_CALLBACK_BYTES, is_visible};
use super::settings::{BookingMode, BookingSettings, LimitPeriod, SettingsError};
use super::user::{Role, Status};
use crate::db::types::{AuditId, DepartmentId, UserId};
use crate::domain::callback::canonical_id;

/// The prefix the router strips before [`AdminCallback::parse`].
pub const PREFIX: &str = "adm:";

/// Users per page of the user list.
pub const USERS_PER_PAGE: usize = 8;

/// Audit entries per page of a user's log.
pub const LOG_PER_PAGE: usize = 6;

/// The highest page number callback data may carry (keeps data short).
pub const MAX_PAGE: u32 = 9_999;

/// Which users the list shows; `None` means "any".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub status: Option<Status>,
    pub department: Option<DepartmentId>,
}

impl UserFilter {
    /// The next role in the cycle any → manager → owner → any.
    #[must_use]
    pub fn next_role(self) -> Self {
        let role = match self.role {
            None => Some(Role::Manager),
            Some(Role::Manager) => Some(Role::Owner),
            Some(Role::Owner) => None,
        };
        Self { role, ..self }
    }

    /// The next status in the cycle any → pending → active → rejected →
    /// removed → any.
    #[must_use]
    pub fn next_status(self) -> Self {
        let status = match self.status {
            None => Some(Status::Pending),
            Some(Status::Pending) => Some(Status::Active),
            Some(Status::Active) => Some(Status::Rejected),
            Some(Status::Rejected) => Some(Status::Removed),
            Some(Status::Removed) => None,
        };
        Self { status, ..self }
    }

    #[must_use]
    pub fn with_department(self, department: Option<DepartmentId>) -> Self {
        Self { department, ..self }
    }

    /// `<role><status><department>`: one letter each for role and status
    /// (`_` for any), then `_` or the department id.
    fn write(self, out: &mut String) {
        out.push(match self.role {
            None => '_',
            Some(Role::Manager) => 'm',
            Some(Role::Owner) => 'o',
        });
        out.push(match self.status {
            None => '_',
            Some(Status::Pending) => 'p',
            Some(Status::Active) => 'a',
            Some(Status::Rejected) => 'r',
            Some(Status::Removed) => 'x',
        });
        match self.department {
            None => out.push('_'),
            Some(id) => out.push_str(&id.to_string()),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        let mut chars = text.chars();
        let role = match chars.next()? {
            '_' => None,
            'm' => Some(Role::Manager),
            'o' => Some(Role::Owner),
            _ => return None,
        };
        let status = match chars.next()? {
            '_' => None,
            'p' => Some(Status::Pending),
            'a' => Some(Status::Active),
            'r' => Some(Status::Rejected),
            'x' => Some(Status::Removed),
            _ => return None,
        };
        let department = match chars.as_str() {
            "_" => None,
            id => Some(DepartmentId(canonical_id(id)?)),
        };
        Some(Self {
            role,
            status,
            department,
        })
    }
}

/// A page of the user list under a filter: where a user card returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListView {
    pub filter: UserFilter,
    /// Zero-based.
    pub page: u32,
}

impl ListView {
    fn write(self, out: &mut String) {
        self.filter.write(out);
        out.push(':');
        out.push_str(&self.page.to_string());
    }

    /// Reads `<filter>:<page>`.
    fn parse(text: &str) -> Option<Self> {
        let (filter, page) = text.split_once(':')?;
        Some(Self {
            filter: UserFilter::parse(filter)?,
            page: parse_page(page)?,
        })
    }
}

/// What an admin can do to a user from their card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    /// Active manager → owner.
    Promote,
    /// Active owner → manager.
    Demote,
    GrantAdmin,
    RevokeAdmin,
    /// Asks for confirmation first.
    Remove,
    /// The confirmed removal.
    ConfirmRemove,
}

impl UserAction {
    const ALL: [(Self, &'static str); 6] = [
        (Self::Promote, "pr"),
        (Self::Demote, "de"),
        (Self::GrantAdmin, "ga"),
        (Self::RevokeAdmin, "ra"),
        (Self::Remove, "rm"),
        (Self::ConfirmRemove, "rx"),
    ];

    fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(action, _)| *action == self)
            .map_or("", |(_, code)| code)
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == code)
            .map(|(action, _)| *action)
    }
}

/// A booking setting entered as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingField {
    HorizonDays,
    MinNotice,
    CancelNotice,
    LimitPerPeriod,
    CadenceDays,
    ReminderOffsets,
    OverdueReportAt,
}

impl SettingField {
    pub const ALL: [Self; 7] = [
        Self::HorizonDays,
        Self::MinNotice,
        Self::CancelNotice,
        Self::LimitPerPeriod,
        Self::CadenceDays,
        Self::ReminderOffsets,
        Self::OverdueReportAt,
    ];

    fn code(self) -> &'static str {
        match self {
            Self::HorizonDays => "hz",
            Self::MinNotice => "mn",
            Self::CancelNotice => "cn",
            Self::LimitPerPeriod => "lim",
            Self::CadenceDays => "cad",
            Self::ReminderOffsets => "rem",
            Self::OverdueReportAt => "rep",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.code() == code)
    }

    /// The name used in the audit log and in `SettingsError::field`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HorizonDays => "horizon_days",
            Self::MinNotice => "min_notice",
            Self::CancelNotice => "cancel_notice",
            Self::LimitPerPeriod => "limit_per_period",
            Self::CadenceDays => "cadence_days",
            Self::ReminderOffsets => "reminder_offsets",
            Self::OverdueReportAt => "overdue_report_at",
        }
    }
}

/// A booking setting chosen with a button: the value is explicit, so a
/// second press of the same button changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingChoice {
    Weekends(bool),
    Mode(BookingMode),
    LimitPeriod(LimitPeriod),
}

impl SettingChoice {
    fn code(self) -> &'static str {
        match self {
            Self::Weekends(true) => "we:1",
            Self::Weekends(false) => "we:0",
            Self::Mode(BookingMode::Single) => "md:s",
            Self::Mode(BookingMode::Collective) => "md:c",
            Self::LimitPeriod(LimitPeriod::Week) => "lp:w",
            Self::LimitPeriod(LimitPeriod::Month) => "lp:m",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [
            Self::Weekends(true),
            Self::Weekends(false),
            Self::Mode(BookingMode::Single),
            Self::Mode(BookingMode::Collective),
            Self::LimitPeriod(LimitPeriod::Week),
            Self::LimitPeriod(LimitPeriod::Month),
        ]
        .into_iter()
        .find(|choice| choice.code() == code)
    }

    /// The name used in the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Self::Weekends(_) => "weekends_enabled",
            Self::Mode(_) => "mode",
            Self::LimitPeriod(_) => "limit_period",
        }
    }

    /// `settings` with this choice applied.
    pub fn apply(self, settings: &BookingSettings) -> BookingSettings {
        let mut changed = settings.clone();
        match self {
            Self::Weekends(on) => changed.weekends_enabled = on,
            Self::Mode(mode) => changed.mode = mode,
            Self::LimitPeriod(period) => changed.limit_period = period,
        }
        changed
    }
}

/// Every button of the admin panel (the data after `adm:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCallback {
    /// `home`: the panel.
    Home,
    /// `pend`: pending applications.
    Pending,
    /// `ap:<user>:<round>` / `rj:<user>:<round>`: decide an application
    /// from the pending list (the round as in the admins' notice).
    Decide {
        decision: Decision,
        user: UserId,
        round: AuditId,
    },
    /// `us:<view>`: a page of the user list.
    Users(ListView),
    /// `ud:<view>`: pick the department to filter the list by.
    UserDepartments(ListView),
    /// `u:<user>:<view>`: a user's card (`view`: where Back leads).
    User { user: UserId, back: ListView },
    /// `do:<action>:<user>:<view>`: an action from the card.
    Act {
        action: UserAction,
        user: UserId,
        back: ListView,
    },
    /// `lg:<user>:<page>:<view>`: a page of the user's audit log.
    Log {
        user: UserId,
        page: u32,
        back: ListView,
    },
    /// `deps`: the departments.
    Departments,
    /// `dep:<id>`: one department.
    Department(DepartmentId),
    /// `dadd`: add a department (the name follows as text).
    AddDepartment,
    /// `dren:<id>`: rename (the name follows as text).
    RenameDepartment(DepartmentId),
    /// `dret:<id>`: hide from registration.
    RetireDepartment(DepartmentId),
    /// `dres:<id>`: offer at registration again.
    RestoreDepartment(DepartmentId),
    /// `stat`: statistics.
    Stats,
    /// `set`: booking settings.
    Settings,
    /// `se:<field>`: change a setting by text.
    EditSetting(SettingField),
    /// `sv:<choice>`: set a setting to the value on the button.
    Choose(SettingChoice),
}

impl AdminCallback {
    /// Reads the data after `adm:`; `None` for anything [`Self::data`]
    /// would not have written.
    pub fn parse(data: &str) -> Option<Self> {
        if data.len() + PREFIX.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        let parsed = Self::parse_fields(data)?;
        // Canonical form only: no second spelling of the same button.
        (parsed.data().strip_prefix(PREFIX) == Some(data)).then_some(parsed)
    }

    fn parse_fields(data: &str) -> Option<Self> {
        let (head, rest) = data.split_once(':').unwrap_or((data, ""));
        let id = |text: &str| canonical_id(text);
        Some(match (head, rest) {
            ("home", "") => Self::Home,
            ("pend", "") => Self::Pending,
            ("deps", "") => Self::Departments,
            ("dadd", "") => Self::AddDepartment,
            ("stat", "") => Self::Stats,
            ("set", "") => Self::Settings,
            ("ap" | "rj", rest) => {
                let (user, round) = rest.split_once(':')?;
                Self::Decide {
                    decision: if head == "ap" {
                        Decision::Approve
                    } else {
                        Decision::Reject
                    },
                    user: UserId(id(user)?),
                    round: AuditId(id(round)?),
                }
            }
            ("us", view) => Self::Users(ListView::parse(view)?),
            ("ud", view) => Self::UserDepartments(ListView::parse(view)?),
            ("u", rest) => {
                let (user, view) = rest.split_once(':')?;
                Self::User {
                    user: UserId(id(user)?),
                    back: ListView::parse(view)?,
                }
            }
            ("do", rest) => {
                let (action, rest) = rest.split_once(':')?;
                let (user, view) = rest.split_once(':')?;
                Self::Act {
                    action: UserAction::from_code(action)?,
                    user: UserId(id(user)?),
                    back: ListView::parse(view)?,
                }
            }
            ("lg", rest) => {
                let (user, rest) = rest.split_once(':')?;
                let (page, view) = rest.split_once(':')?;
                Self::Log {
                    user: UserId(id(user)?),
                    page: parse_page(page)?,
                    back: ListView::parse(view)?,
                }
            }
            ("dep", department) => Self::Department(DepartmentId(id(department)?)),
            ("dren", department) => Self::RenameDepartment(DepartmentId(id(department)?)),
            ("dret", department) => Self::RetireDepartment(DepartmentId(id(department)?)),
            ("dres", department) => Self::RestoreDepartment(DepartmentId(id(department)?)),
            ("se", field) => Self::EditSetting(SettingField::from_code(field)?),
            ("sv", choice) => Self::Choose(SettingChoice::from_code(choice)?),
            _ => return None,
        })
    }

    /// The full callback data, `adm:` included.
    pub fn data(&self) -> String {
        let mut out = String::from(PREFIX);
        match *self {
            Self::Home => out.push_str("home"),
            Self::Pending => out.push_str("pend"),
            Self::Decide {
                decision,
                user,
                round,
            } => {
                let head = match decision {
                    Decision::Approve => "ap",
                    Decision::Reject => "rj",
                };
                out.push_str(&format!("{head}:{user}:{round}"));
            }
            Self::Users(view) => {
                out.push_str("us:");
                view.write(&mut out);
            }
            Self::UserDepartments(view) => {
                out.push_str("ud:");
                view.write(&mut out);
            }
            Self::User { user, back } => {
                out.push_str(&format!("u:{user}:"));
                back.write(&mut out);
            }
            Self::Act { action, user, back } => {
                out.push_str(&format!("do:{}:{user}:", action.code()));
                back.write(&mut out);
            }
            Self::Log { user, page, back } => {
                out.push_str(&format!("lg:{user}:{page}:"));
                back.write(&mut out);
            }
            Self::Departments => out.push_str("deps"),
            Self::Department(id) => out.push_str(&format!("dep:{id}")),
            Self::AddDepartment => out.push_str("dadd"),
            Self::RenameDepartment(id) => out.push_str(&format!("dren:{id}")),
            Self::RetireDepartment(id) => out.push_str(&format!("dret:{id}")),
            Self::RestoreDepartment(id) => out.push_str(&format!("dres:{id}")),
            Self::Stats => out.push_str("stat"),
            Self::Settings => out.push_str("set"),
            Self::EditSetting(field) => out.push_str(&format!("se:{}", field.code())),
            Self::Choose(choice) => out.push_str(&format!("sv:{}", choice.code())),
        }
        out
    }
}

/// A page number in canonical form, at most [`MAX_PAGE`].
fn parse_page(text: &str) -> Option<u32> {
    if text == "0" {
        return Some(0);
    }
    canonical_id(text)
        .and_then(|page| u32::try_from(page).ok())
        .filter(|page| *page <= MAX_PAGE)
}

/// One page of a list: which page (clamped to the last one) and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Zero-based, always a page that exists (0 for an empty list).
    pub page: u32,
    pub pages: u32,
    pub offset: i64,
    pub limit: i64,
}

impl Paging {
    /// Page `requested` of `total` items, `per_page` at a time; a page past
    /// the end (the list shrank since the buttons were sent) shows the last.
    pub fn new(requested: u32, total: i64, per_page: usize) -> Self {
        let per_page = i64::try_from(per_page.max(1)).unwrap_or(1);
        let total = total.max(0);
        let pages = u32::try_from(((total + per_page - 1) / per_page).max(1))
            .unwrap_or(MAX_PAGE + 1)
            .min(MAX_PAGE + 1);
        let page = requested.min(pages - 1);
        Self {
            page,
            pages,
            offset: i64::from(page) * per_page,
            limit: per_page,
        }
    }

    pub fn has_previous(&self) -> bool {
        self.page > 0
    }

    pub fn has_next(&self) -> bool {
        self.page + 1 < self.pages
    }
}

/// Longest department name, in characters.
pub const MAX_DEPARTMENT_CHARS: usize = 64;

/// Why a department name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DepartmentNameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name has {chars} characters; at most {MAX_DEPARTMENT_CHARS} are allowed")]
    TooLong { chars: usize },
    #[error("the name contains control characters")]
    ControlCharacters,
}

/// A department name as stored: runs of spaces collapsed to one, 1 to
/// [`MAX_DEPARTMENT_CHARS`] characters, at least one visible, no control
/// characters (so no line breaks). Emoji, right-to-left scripts and HTML
/// characters are kept (escaped where shown).
pub fn department_name(raw: &str) -> Result<String, DepartmentNameError> {
    if raw.trim().chars().any(char::is_control) {
        return Err(DepartmentNameError::ControlCharacters);
    }
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if !name.chars().any(is_visible) {
        return Err(DepartmentNameError::Empty);
    }
    let chars = name.chars().count();
    if chars > MAX_DEPARTMENT_CHARS {
        return Err(DepartmentNameError::TooLong { chars });
    }
    Ok(name)
}

/// Whether two department names are the same regardless of case (in any
/// script: SQLite's `lower()` only folds ASCII).
pub fn same_department_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Why a setting typed by an admin was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingInputError {
    /// Not in the expected form (a number, a duration, a time of day).
    #[error("not in the expected form")]
    Format,
    /// Well formed but outside the allowed range.
    #[error(transparent)]
    Range(#[from] SettingsError),
}

/// `settings` with `field` set from the admin's text, validated as a whole.
pub fn apply_text(
    settings: &BookingSettings,
    field: SettingField,
    text: &str,
) -> Result<BookingSettings, SettingInputError> {
    let text = text.trim();
    let mut changed = settings.clone();
    match field {
        SettingField::HorizonDays => changed.horizon_days = parse_count(text)?,
        SettingField::LimitPerPeriod => changed.limit_per_period = parse_count(text)?,
        SettingField::CadenceDays => changed.cadence_days = parse_count(text)?,
        SettingField::MinNotice => changed.min_notice = parse_duration(text)?,
        SettingField::CancelNotice => changed.cancel_notice = parse_duration(text)?,
        SettingField::ReminderOffsets => {
            let offsets = text
                .split([',', ';'])
                .map(str::trim)
                .map(parse_duration)
                .collect::<Result<Vec<_>, _>>()?;
            changed.reminder_offsets = offsets;
        }
        SettingField::OverdueReportAt => changed.overdue_report_at = parse_time_of_day(text)?,
    }
    Ok(changed.validated()?)
}

/// A whole number (ASCII digits, at most 5 of them).
fn parse_count(text: &str) -> Result<u16, SettingInputError> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SettingInputError::Format);
    }
    text.parse().map_err(|_| SettingInputError::Format)
}

/// A duration such as `2h`, `90m`, `1d`, `1h30m`, `1h 30m` or `0`
/// (Russian unit letters д/ч/м too). Every number needs a unit.
pub fn parse_duration(text: &str) -> Result<TimeDelta, SettingInputError> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact == "0" {
        return Ok(TimeDelta::zero());
    }
    if compact.is_empty() || compact.len() > 32 {
        return Err(SettingInputError::Format);
    }
    let mut total = TimeDelta::zero();
    let mut number = String::new();
    for c in compact.to_lowercase().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let minutes_per_unit = match c {
            'd' | 'д' => 24 * 60,
            'h' | 'ч' => 60,
            'm' | 'м' => 1,
            _ => return Err(SettingInputError::Format),
        };
        if number.is_empty() || number.len() > 6 {
            return Err(SettingInputError::Format);
        }
        let count: i64 = number.parse().map_err(|_| SettingInputError::Format)?;
        total += TimeDelta::minutes(count * minutes_per_unit);
        number.clear();
    }
    if !number.is_empty() {
        return Err(SettingInputError::Format);
    }
    Ok(total)
}

/// `HH:MM` (or `H:MM`), 24-hour.
fn parse_time_of_day(text: &str) -> Result<NaiveTime, SettingInputError> {
    let (hours, minutes) = text
        .split_once([':', '.'])
        .ok_or(SettingInputError::Format)?;
    let digits = |s: &str, max_len| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (Some(h), Some(m)) = (digits(hours, 2), digits(minutes, 2)) else {
        return Err(SettingInputError::Format);
    };
    if minutes.len() != 2 {
        return Err(SettingInputError::Format);
    }
    NaiveTime::from_hms_opt(h, m, 0).ok_or(SettingInputError::Format)
}

/// A duration in whole days, hours and minutes, e.g. `(1, 2, 30)`.
pub fn split_duration(delta: TimeDelta) -> (i64, i64, i64) {
    let minutes = delta.num_minutes().max(0);
    (minutes / (24 * 60), minutes / 60 % 24, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds(id: i64) -> Vec<AdminCallback> {
        let view = ListView {
            filter: UserFilter {
                role: Some(Role::Owner),
                status: Some(Status::Removed),
                department: Some(DepartmentId(id)),
            },
            page: MAX_PAGE,
        };
        let user = UserId(id);
        let mut all = vec![
            AdminCallback::Home,
            AdminCallback::Pending,
            AdminCallback::Decide {
                decision: Decision::Approve,
                user,
                round: AuditId(id),
            },
            AdminCallback::Decide {
                decision: Decision::Reject,
                user,
                round: AuditId(id),
            },
            AdminCallback::Users(view),
            AdminCallback::Users(ListView::default()),
            AdminCallback::UserDepartments(view),
            AdminCallback::User { user, back: view },
            AdminCallback::Log {
                user,
                page: MAX_PAGE,
                back: view,
            },
            AdminCallback::Departments,
            AdminCallback::Department(DepartmentId(id)),
            AdminCallback::AddDepartment,
            AdminCallback::RenameDepartment(DepartmentId(id)),
            AdminCallback::RetireDepartment(DepartmentId(id)),
            AdminCallback::RestoreDepartment(DepartmentId(id)),
            AdminCallback::Stats,
            AdminCallback::Settings,
        ];
        for (action, _) in UserAction::ALL {
            all.push(AdminCallback::Act {
                action,
                user,
                back: view,
            });
        }
        for field in SettingField::ALL {
            all.push(AdminCallback::EditSetting(field));
        }
        for choice in [
            SettingChoice::Weekends(true),
            SettingChoice::Weekends(false),
            SettingChoice::Mode(BookingMode::Single),
            SettingChoice::Mode(BookingMode::Collective),
            SettingChoice::LimitPeriod(LimitPeriod::Week),
            SettingChoice::LimitPeriod(LimitPeriod::Month),
        ] {
            all.push(AdminCallback::Choose(choice));
        }
        all
    }

    #[test]
    fn every_button_round_trips_within_telegrams_limit() {
        for id in [1, 42, 999_999_999_999_999_999] {
            for callback in all_kinds(id) {
                let data = callback.data();
                assert!(data.len() <= MAX_CALLBACK_BYTES, "{data} is too long");
                let rest = data.strip_prefix(PREFIX).expect("prefixed");
                assert_eq!(AdminCallback::parse(rest), Some(callback), "{data}");
            }
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for data in [
            "",
            "home:",
            "home:1",
            "HOME",
            "pend:x",
            "ap:1",
            "ap:1:2:3",
            "ap:01:2",
            "ap:-1:2",
            "ap:0:2",
            "ap:1:+2",
            "us:___",
            "us:___:",
            "us:___:01",
            "us:___:10000",
            "us:zz_:0",
            "us:_a0:0",
            "us:_a01:0",
            "us:__:0",
            "us:___:0:1",
            "u:1",
            "u:1:___:0:",
            "do:zz:1:___:0",
            "do:pr:1",
            "do:pr:1:___:0:extra",
            "lg:1:___:0",
            "dep:",
            "dep:1:2",
            "dep:1 ",
            "se:xx",
            "sv:we:2",
            "sv:md:x",
            "stat:1",
            "dep:1234567890123456789",
        ] {
            assert_eq!(AdminCallback::parse(data), None, "{data:?}");
        }
        let long = format!("dep:{}", "1".repeat(80));
        assert_eq!(AdminCallback::parse(&long), None);
    }

    #[test]
    fn filters_cycle_through_every_value() {
        let mut filter = UserFilter::default();
        let mut roles = Vec::new();
        for _ in 0..3 {
            filter = filter.next_role();
            roles.push(filter.role);
        }
        assert_eq!(roles, [Some(Role::Manager), Some(Role::Owner), None]);
        let mut statuses = Vec::new();
        for _ in 0..5 {
            filter = filter.next_status();
            statuses.push(filter.status);
        }
        assert_eq!(
            statuses,
            [
                Some(Status::Pending),
                Some(Status::Active),
                Some(Status::Rejected),
                Some(Status::Removed),
                None
            ]
        );
    }

    #[test]
    fn paging_clamps_to_the_last_page() {
        let paging = Paging::new(0, 0, 8);
        assert_eq!((paging.page, paging.pages, paging.offset), (0, 1, 0));
        assert!(!paging.has_previous() && !paging.has_next());
        let paging = Paging::new(1, 17, 8);
        assert_eq!((paging.page, paging.pages, paging.offset), (1, 3, 8));
        assert!(paging.has_previous() && paging.has_next());
        let paging = Paging::new(9, 16, 8);
        assert_eq!((paging.page, paging.offset), (1, 8));
        assert!(!paging.has_next());
    }

    #[test]
    fn department_names_are_cleaned_and_checked() {
        assert_eq!(
            department_name("  Sales   and  Ops "),
            Ok("Sales and Ops".into())
        );
        for kept in ["<b>&R&D</b>", "محاسبة", "Ops 🚀", "Отдел продаж"] {
            assert_eq!(department_name(kept), Ok(kept.to_owned()));
        }
        assert_eq!(department_name(""), Err(DepartmentNameError::Empty));
        assert_eq!(
            department_name(" \u{200B} "),
            Err(DepartmentNameError::Empty)
        );
        assert_eq!(
            department_name(&"x".repeat(5_000)),
            Err(DepartmentNameError::TooLong { chars: 5_000 })
        );
        assert_eq!(
            department_name("a\nb"),
            Err(DepartmentNameError::ControlCharacters)
        );
        assert!(department_name(&"я".repeat(64)).is_ok());
        assert!(same_department_name("Отдел", "ОТДЕЛ"));
        assert!(!same_department_name("IT", "IT2"));
    }

    #[test]
    fn settings_are_read_from_text_and_validated() {
        let base = BookingSettings::product_defaults();
        let set = |field, text: &str| apply_text(&base, field, text);
        assert_eq!(
            set(SettingField::HorizonDays, " 30 ").map(|s| s.horizon_days),
            Ok(30)
        );
        assert_eq!(
            set(SettingField::MinNotice, "1h 30m").map(|s| s.min_notice),
            Ok(TimeDelta::minutes(90))
        );
        assert_eq!(
            set(SettingField::CancelNotice, "0").map(|s| s.cancel_notice),
            Ok(TimeDelta::zero())
        );
        assert_eq!(
            set(SettingField::ReminderOffsets, "1h, 1д, 15m").map(|s| s.reminder_offsets),
            Ok(vec![
                TimeDelta::days(1),
                TimeDelta::hours(1),
                TimeDelta::minutes(15)
            ])
        );
        assert_eq!(
            set(SettingField::OverdueReportAt, "7:05").map(|s| s.overdue_report_at),
            Ok(NaiveTime::from_hms_opt(7, 5, 0).unwrap())
        );
        for (field, text) in [
            (SettingField::HorizonDays, ""),
            (SettingField::HorizonDays, "-1"),
            (SettingField::HorizonDays, "1e3"),
            (SettingField::HorizonDays, "٣"),
            (SettingField::LimitPerPeriod, &"9".repeat(5_000)),
            (SettingField::MinNotice, "2"),
            (SettingField::MinNotice, "h"),
            (SettingField::MinNotice, "2x"),
            (SettingField::MinNotice, "<b>"),
            (SettingField::ReminderOffsets, "1h,,2h"),
            (SettingField::OverdueReportAt, "25:00"),
            (SettingField::OverdueReportAt, "9:5"),
            (SettingField::OverdueReportAt, "9"),
        ] {
            assert_eq!(set(field, text), Err(SettingInputError::Format), "{text:?}");
        }
        for (field, text) in [
            (SettingField::HorizonDays, "0"),
            (SettingField::HorizonDays, "366"),
            (SettingField::LimitPerPeriod, "101"),
            (SettingField::MinNotice, "31d"),
            (SettingField::ReminderOffsets, "1h,2h,3h,4h,5h,6h"),
        ] {
            assert!(
                matches!(set(field, text), Err(SettingInputError::Range(_))),
                "{text:?}"
            );
        }
    }
}
