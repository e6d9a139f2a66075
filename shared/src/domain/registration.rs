//! Registration and approval as pure rules: the names a newcomer gives, the
//! dialogue that collects them, who may decide on an application, and the
//! callback data of the buttons involved.
//!
//! ```text
//! newcomer: /start
//! bot:      👋 Hello, Anna! … What is your first name?
//! newcomer: Anna
//! bot:      Thank you, Anna. And your last name?
//! newcomer: (5,000 characters)
//! bot:      The name is too long … And your last name?
//! newcomer: Smith
//! bot:      Anna Smith, which department are you in?   [HR] [IT] [Tech] …
//! newcomer: (presses IT)                               → reg:dept:5
//! bot:      ✅ Your request has been sent to the administrators.
//! admins:   📝 Anna Smith (@anna), IT   [✅ Approve] [❌ Reject]
//!                                        → appr:12:340 / rej:12:340
//! ```
//!
//! The bot loads the saved [`Registration`], calls [`Registration::step`]
//! with what the user sent, saves the next state (or clears it) and sends
//! what the [`Step`] says.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::db::types::{AuditId, DepartmentId, UserId};
use crate::domain::callback::canonical_id;
use crate::domain::user::Status;

/// Longest first or last name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Telegram's limit for `callback_data`, in bytes.
pub const MAX_CALLBACK_BYTES: usize = 64;

/// A first or last name: trimmed, 1 to [`MAX_NAME_CHARS`] characters, at
/// least one of them visible, no control characters. Emoji, right-to-left
/// scripts and HTML or Markdown characters are allowed (they are escaped
/// where shown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name has {chars} characters; at most {MAX_NAME_CHARS} are allowed")]
    TooLong { chars: usize },
    #[error("the name contains control characters")]
    ControlCharacters,
}

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.chars().any(char::is_control) {
            return Err(NameError::ControlCharacters);
        }
        if !name.chars().any(is_visible) {
            return Err(NameError::Empty);
        }
        let chars = name.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(NameError::TooLong { chars });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a character shows as something: not blank, not a control
/// character, not a zero-width or direction mark.
pub(crate) fn is_visible(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
        ))
}

impl TryFrom<String> for PersonName {
    type Error = NameError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<PersonName> for String {
    fn from(name: PersonName) -> Self {
        name.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a registration stands: what has been collected and what the bot
/// waits for. Stored as JSON per Telegram user, e.g.
/// `{"registration":"last_name","first_name":"Anna"}`; the tag name keeps it
/// apart from other dialogues sharing the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "registration", rename_all = "snake_case")]
pub enum Registration {
    /// Waiting for the first name.
    FirstName,
    /// Waiting for the last name.
    LastName { first_name: PersonName },
    /// Waiting for a department button.
    Department {
        first_name: PersonName,
        last_name: PersonName,
    },
}

/// What the user sent while registering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// A text message (never a command: the router answers those).
    Text(&'a str),
    /// A department button, looked up again on the server.
    Department(DepartmentPick),
}

/// A department button after the server checked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepartmentPick {
    /// An existing, not retired department.
    Active(DepartmentId),
    /// Unknown or retired since the buttons were shown.
    Unavailable,
}

/// Why the input was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Name(NameError),
    /// The department button no longer names a department one can pick.
    DepartmentUnavailable,
    /// Text was typed where a department button was expected.
    UseButtons,
    /// A department button (from an older message) while a name is asked.
    UnexpectedButton,
}

/// Everything registration collects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub first_name: PersonName,
    pub last_name: PersonName,
    pub department_id: DepartmentId,
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Save `next` and ask its question, after saying what was wrong with
    /// the input (`problem`), if anything.
    Continue {
        next: Registration,
        problem: Option<Problem>,
    },
    /// All collected: the dialogue ends.
    Complete(Application),
}

impl Registration {
    /// The first name collected so far, if any.
    pub fn first_name(&self) -> Option<&PersonName> {
        match self {
            Self::FirstName => None,
            Self::LastName { first_name } | Self::Department { first_name, .. } => Some(first_name),
        }
    }

    /// One step: `(state, input) → next state and what to tell the user`.
    pub fn step(self, input: Input<'_>) -> Step {
        match (self, input) {
            (Self::FirstName, Input::Text(text)) => match PersonName::parse(text) {
                Ok(first_name) => ask(Self::LastName { first_name }),
                Err(e) => retry(Self::FirstName, Problem::Name(e)),
            },
            (Self::LastName { first_name }, Input::Text(text)) => match PersonName::parse(text) {
                Ok(last_name) => ask(Self::Department {
                    first_name,
                    last_name,
                }),
                Err(e) => retry(Self::LastName { first_name }, Problem::Name(e)),
            },
            (
                Self::Department {
                    first_name,
                    last_name,
                },
                Input::Department(DepartmentPick::Active(department_id)),
            ) => Step::Complete(Application {
                first_name,
                last_name,
                department_id,
            }),
            (state @ Self::Department { .. }, Input::Department(DepartmentPick::Unavailable)) => {
                retry(state, Problem::DepartmentUnavailable)
            }
            (state @ Self::Department { .. }, Input::Text(_)) => retry(state, Problem::UseButtons),
            (state, Input::Department(_)) => retry(state, Problem::UnexpectedButton),
        }
    }
}

fn ask(next: Registration) -> Step {
    Step::Continue {
        next,
        problem: None,
    }
}

fn retry(state: Registration, problem: Problem) -> Step {
    Step::Continue {
        next: state,
        problem: Some(problem),
    }
}

/// An admin's answer to an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// The buttons of registration and approval. Parsed strictly: the exact
/// form [`RegistrationCallback::data`] writes, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationCallback {
    /// `reg:dept:<department id>`: the department picked while registering.
    Department(DepartmentId),
    /// `reg:again`: a rejected user applies again.
    ApplyAgain,
    /// `appr:<user id>:<round>` / `rej:<user id>:<round>`: an admin decides
    /// the application of that user; the round (the audit id of the
    /// application) makes buttons of an earlier application stale.
    Decide {
        decision: Decision,
        user: UserId,
        round: AuditId,
    },
}

impl RegistrationCallback {
    /// Reads callback data; `None` for anything not written by [`Self::data`].
    pub fn parse(data: &str) -> Option<Self> {
        if data.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        if data == "reg:again" {
            return Some(Self::ApplyAgain);
        }
        if let Some(id) = data.strip_prefix("reg:dept:") {
            return canonical_id(id).map(|id| Self::Department(DepartmentId(id)));
        }
        let (decision, rest) = if let Some(rest) = data.strip_prefix("appr:") {
            (Decision::Approve, rest)
        } else {
            (Decision::Reject, data.strip_prefix("rej:")?)
        };
        let (user, round) = rest.split_once(':')?;
        Some(Self::Decide {
            decision,
            user: UserId(canonical_id(user)?),
            round: AuditId(canonical_id(round)?),
        })
    }

    /// The callback data for this button.
    pub fn data(&self) -> String {
        match self {
            Self::Department(id) => format!("reg:dept:{id}"),
            Self::ApplyAgain => "reg:again".to_owned(),
            Self::Decide {
                decision: Decision::Approve,
                user,
                round,
            } => format!("appr:{user}:{round}"),
            Self::Decide {
                decision: Decision::Reject,
                user,
                round,
            } => format!("rej:{user}:{round}"),
        }
    }
}

/// Whether someone may approve or reject applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Allowed,
    /// A bootstrap admin who has not registered yet: allowed once they have.
    RegisterFirst,
    Refused,
}

/// Active admins decide; so do active bootstrap admins (listed in
/// `ADMIN_TELEGRAM_IDS`) even without the flag. `status` is `None` for
/// someone without a user row.
pub fn authority(status: Option<Status>, is_admin: bool, bootstrap: bool) -> Authority {
    match status {
        Some(Status::Active) if is_admin || bootstrap => Authority::Allowed,
        None if bootstrap => Authority::RegisterFirst,
        _ => Authority::Refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> PersonName {
        PersonName::parse(text).expect("a valid name")
    }

    #[test]
    fn names_are_trimmed_and_keep_what_people_type() {
        assert_eq!(name("  Anna \n").as_str(), "Anna");
        for typed in [
            "Анна-Мария",
            "O'Brien",
            "<b>&*_[",
            "محمد",
            "שרה",
            "Zoë 👩‍💻",
            "李",
            "a b",
        ] {
            assert_eq!(name(typed).as_str(), typed);
        }
        let longest = "я".repeat(MAX_NAME_CHARS);
        assert_eq!(name(&longest).as_str(), longest);
    }

    #[test]
    fn bad_names_are_refused_with_a_reason() {
        assert_eq!(PersonName::parse(""), Err(NameError::Empty));
        assert_eq!(PersonName::parse(" \t\n "), Err(NameError::Empty));
        assert_eq!(
            PersonName::parse("\u{200B}\u{200F}\u{FEFF}"),
            Err(NameError::Empty)
        );
        assert_eq!(
            PersonName::parse(&"a".repeat(5_000)),
            Err(NameError::TooLong { chars: 5_000 })
        );
        assert_eq!(
            PersonName::parse(&"😀".repeat(MAX_NAME_CHARS + 1)),
            Err(NameError::TooLong {
                chars: MAX_NAME_CHARS + 1
            })
        );
        assert_eq!(
            PersonName::parse("An\nna"),
            Err(NameError::ControlCharacters)
        );
        assert_eq!(
            PersonName::parse("An\u{0007}na"),
            Err(NameError::ControlCharacters)
        );
        assert_eq!(
            PersonName::parse("Anna\u{009B}"),
            Err(NameError::ControlCharacters)
        );
    }

    #[test]
    fn stored_names_are_validated_again() {
        let json = serde_json::to_string(&name("Anna")).unwrap();
        assert_eq!(json, "\"Anna\"");
        assert!(serde_json::from_str::<PersonName>("\"\"").is_err());
        assert!(serde_json::from_str::<PersonName>("\"a\\u0000b\"").is_err());
    }

    fn continues(step: Step) -> (Registration, Option<Problem>) {
        match step {
            Step::Continue { next, problem } => (next, problem),
            Step::Complete(application) => panic!("completed early: {application:?}"),
        }
    }

    #[test]
    fn the_dialogue_collects_first_name_last_name_and_department() {
        let (state, problem) = continues(Registration::FirstName.step(Input::Text(" Anna ")));
        assert_eq!(problem, None);
        assert_eq!(
            state,
            Registration::LastName {
                first_name: name("Anna")
            }
        );
        assert_eq!(state.first_name(), Some(&name("Anna")));

        let (state, problem) = continues(state.step(Input::Text("Smith")));
        assert_eq!(problem, None);
        assert!(matches!(state, Registration::Department { .. }));

        let pick = Input::Department(DepartmentPick::Active(DepartmentId(3)));
        assert_eq!(
            state.step(pick),
            Step::Complete(Application {
                first_name: name("Anna"),
                last_name: name("Smith"),
                department_id: DepartmentId(3),
            })
        );
    }

    #[test]
    fn bad_input_keeps_the_state_and_says_why() {
        let retried = |state: &Registration, input: Input<'_>| {
            let (next, problem) = continues(state.clone().step(input));
            assert_eq!(&next, state, "the state stays");
            problem.expect("a problem")
        };
        let asking_first = Registration::FirstName;
        assert_eq!(
            retried(&asking_first, Input::Text("   ")),
            Problem::Name(NameError::Empty)
        );
        assert_eq!(
            retried(&asking_first, Input::Text("a\u{0}b")),
            Problem::Name(NameError::ControlCharacters)
        );

        let asking_last = Registration::LastName {
            first_name: name("Anna"),
        };
        assert_eq!(
            retried(&asking_last, Input::Text(&"x".repeat(65))),
            Problem::Name(NameError::TooLong { chars: 65 })
        );
        assert_eq!(
            retried(
                &asking_last,
                Input::Department(DepartmentPick::Active(DepartmentId(1)))
            ),
            Problem::UnexpectedButton
        );

        let asking_department = Registration::Department {
            first_name: name("Anna"),
            last_name: name("Smith"),
        };
        assert_eq!(
            retried(&asking_department, Input::Text("IT")),
            Problem::UseButtons
        );
        assert_eq!(
            retried(
                &asking_department,
                Input::Department(DepartmentPick::Unavailable)
            ),
            Problem::DepartmentUnavailable
        );
    }

    #[test]
    fn states_are_stored_as_tagged_json() {
        let state = Registration::Department {
            first_name: name("<b>Анна</b>"),
            last_name: name("😀"),
        };
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(
            json,
            r#"{"registration":"department","first_name":"<b>Анна</b>","last_name":"😀"}"#
        );
        assert_eq!(serde_json::from_str::<Registration>(&json).unwrap(), state);
        assert_eq!(
            serde_json::from_str::<Registration>(r#"{"registration":"first_name"}"#).unwrap(),
            Registration::FirstName
        );
        // Another dialogue's state, or a tampered one, is not a registration.
        for other in [
            r#"{"profile":"email"}"#,
            r#"{"registration":"last_name","first_name":""}"#,
            r#"{"registration":"done"}"#,
        ] {
            assert!(
                serde_json::from_str::<Registration>(other).is_err(),
                "{other}"
            );
        }
    }

    #[test]
    fn callback_data_round_trips() {
        let all = [
            RegistrationCallback::Department(DepartmentId(7)),
            RegistrationCallback::ApplyAgain,
            RegistrationCallback::Decide {
                decision: Decision::Approve,
                user: UserId(12),
                round: AuditId(340),
            },
            RegistrationCallback::Decide {
                decision: Decision::Reject,
                user: UserId(999_999_999_999_999_999),
                round: AuditId(999_999_999_999_999_999),
            },
        ];
        for callback in all {
            let data = callback.data();
            assert!(data.len() <= MAX_CALLBACK_BYTES, "{data}");
            assert_eq!(RegistrationCallback::parse(&data), Some(callback), "{data}");
        }
        assert_eq!(
            RegistrationCallback::Department(DepartmentId(7)).data(),
            "reg:dept:7"
        );
        assert_eq!(
            RegistrationCallback::parse("appr:12:340"),
            Some(RegistrationCallback::Decide {
                decision: Decision::Approve,
                user: UserId(12),
                round: AuditId(340),
            })
        );
    }

    #[test]
    fn forged_callback_data_is_refused() {
        for data in [
            "",
            "appr",
            "appr:",
            "appr:12",
            "appr:12:",
            "appr::3",
            "appr:abc:3",
            "appr:-1:3",
            "appr:+1:3",
            "appr:0:3",
            "appr:012:3",
            "appr:1:2:3",
            "appr:1 :3",
            "appr:１:3",
            "appr:99999999999999999999:1",
            "APPR:1:2",
            "approve:1:2",
            "rej:1",
            "reg:dept:",
            "reg:dept:x",
            "reg:dept:1:2",
            "reg:dept:-5",
            "reg:again:1",
            "reg:",
            &format!("reg:dept:{}", "1".repeat(70)),
            &format!("appr:1:2{}", " ".repeat(64)),
        ] {
            assert_eq!(RegistrationCallback::parse(data), None, "{data:?}");
        }
    }

    #[test]
    fn only_active_admins_and_bootstrap_admins_decide() {
        use Status::*;
        assert_eq!(authority(Some(Active), true, false), Authority::Allowed);
        assert_eq!(authority(Some(Active), false, true), Authority::Allowed);
        assert_eq!(authority(Some(Active), false, false), Authority::Refused);
        assert_eq!(authority(None, false, true), Authority::RegisterFirst);
        assert_eq!(authority(None, false, false), Authority::Refused);
        for status in [Pending, Rejected, Removed] {
            assert_eq!(authority(Some(status), true, true), Authority::Refused);
            assert_eq!(authority(Some(status), true, false), Authority::Refused);
        }
    }
}
