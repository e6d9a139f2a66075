//! The command menu (`setMyCommands`) of one chat, by the user's status,
//! role and admin flag, in their language. Set when these change.

use shared::db::users::User;
use shared::domain::user::{Language, Role, Status};
use shared::i18n::t;

/// A chat's command menu: `(command without "/", description)`.
pub type Commands = Vec<(&'static str, String)>;

/// The commands offered to `user` (`None`: not registered).
pub(super) fn commands(user: Option<&User>, language: Language) -> Commands {
    names(
        user.map(|u| u.status),
        user.and_then(|u| u.role),
        user.is_some_and(|u| u.is_admin),
    )
    .iter()
    .map(|&name| (name, t(language, &format!("command.{name}"), &[])))
    .collect()
}

fn names(status: Option<Status>, role: Option<Role>, is_admin: bool) -> Vec<&'static str> {
    let mut names = match (status, role) {
        (None | Some(Status::Rejected), _) => vec!["start", "help", "language", "cancel"],
        (Some(Status::Pending), _) => vec!["start", "help"],
        (Some(Status::Removed), _) => vec!["start"],
        (Some(Status::Active), Some(Role::Owner)) => vec![
            "start",
            "meetings",
            "availability",
            "calendar",
            "profile",
            "language",
            "help",
            "cancel",
        ],
        (Some(Status::Active), _) => vec![
            "start",
            "schedule",
            "my_meetings",
            "calendar",
            "profile",
            "language",
            "help",
            "cancel",
        ],
    };
    if is_admin && status == Some(Status::Active) {
        names.extend(["admin", "broadcast", "diag"]);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menus_follow_status_role_and_the_admin_flag() {
        assert_eq!(
            names(None, None, false),
            ["start", "help", "language", "cancel"]
        );
        assert_eq!(names(Some(Status::Pending), None, false), ["start", "help"]);
        assert_eq!(
            names(Some(Status::Removed), Some(Role::Manager), true),
            ["start"]
        );
        let manager = names(Some(Status::Active), Some(Role::Manager), false);
        assert!(manager.contains(&"schedule") && !manager.contains(&"admin"));
        let owner_admin = names(Some(Status::Active), Some(Role::Owner), true);
        assert!(owner_admin.contains(&"availability") && owner_admin.contains(&"admin"));
        assert!(!owner_admin.contains(&"schedule"));
    }

    #[test]
    fn every_command_has_a_description_in_both_languages() {
        let all = [
            names(None, None, false),
            names(Some(Status::Active), Some(Role::Owner), true),
            names(Some(Status::Active), Some(Role::Manager), true),
        ];
        for name in all.iter().flatten() {
            for language in [Language::Ru, Language::En] {
                let key = format!("command.{name}");
                let text = t(language, &key, &[]);
                assert_ne!(text, key, "no text for {key}");
                assert!((1..=256).contains(&text.chars().count()), "{key}");
            }
        }
    }
}
