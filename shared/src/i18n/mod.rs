//! Every user-visible text, in Russian and English: one catalogue per
//! language, kept in one file per area (`en/<area>.toml`, `ru/<area>.toml`)
//! so each feature's texts sit together. A key lives in exactly one area.
//!
//! Texts are HTML for Telegram's parse mode; values put into `{placeholders}`
//! are HTML-escaped here, so a name like `<b>*O'Brien*</b>` shows as typed.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::domain::user::Language;

pub mod dates;

type Texts = HashMap<String, String>;

/// `(area, English source, Russian source)` of every catalogue file.
macro_rules! areas {
    ($($area:literal),* $(,)?) => {
        &[$(($area, include_str!(concat!("en/", $area, ".toml")), include_str!(concat!("ru/", $area, ".toml")))),*]
    };
}
const AREAS: &[(&str, &str, &str)] = areas![
    "core",
    "admin",
    "profile",
    "broadcast",
    "booking",
    "meetings",
    "owner_meetings",
    "calendar",
    "reminders",
    "diagnostics",
];

static CATALOGUES: LazyLock<(Texts, Texts)> = LazyLock::new(|| {
    let mut en = Texts::new();
    let mut ru = Texts::new();
    for (area, english, russian) in AREAS {
        en.extend(parse(area, english));
        ru.extend(parse(area, russian));
    }
    (en, ru)
});

fn parse(area: &str, source: &str) -> Texts {
    toml::from_str(source).unwrap_or_else(|error| {
        // The catalogue tests make this unreachable in a release.
        tracing::error!(area, %error, "a translation catalogue does not parse");
        Texts::new()
    })
}

fn catalogue(language: Language) -> &'static Texts {
    match language {
        Language::En => &CATALOGUES.0,
        Language::Ru => &CATALOGUES.1,
    }
}

/// The text for `key` in `language`, with `{name}` placeholders replaced by
/// escaped values. A missing key yields the key itself (and a log line), never
/// a failure.
pub fn t(language: Language, key: &str, args: &[(&str, &str)]) -> String {
    lookup(language, key).map_or_else(|| key.to_owned(), |template| fill(template, args, true))
}

/// [`t`] for plain-text destinations (an `.ics` file, a log): the values
/// are put in as they are, unescaped. Only for keys whose template has no
/// markup.
pub fn t_plain(language: Language, key: &str, args: &[(&str, &str)]) -> String {
    lookup(language, key).map_or_else(|| key.to_owned(), |template| fill(template, args, false))
}

fn lookup(language: Language, key: &str) -> Option<&'static String> {
    let template = catalogue(language).get(key);
    if template.is_none() {
        tracing::error!(key, %language, "missing translation");
    }
    template
}

/// Replaces each `{name}` of `template` in one pass, so a value that itself
/// contains `{other}` is never filled in again.
fn fill(template: &str, args: &[(&str, &str)], escape: bool) -> String {
    let mut text = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) => {
                match args.iter().find(|(arg, _)| *arg == name) {
                    Some((_, value)) if escape => text.push_str(&escape_html(value)),
                    Some((_, value)) => text.push_str(value),
                    None => {
                        text.push('{');
                        text.push_str(name);
                        text.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                text.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    text.push_str(rest);
    text
}

/// Escapes text for Telegram's HTML parse mode.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_texts_are_filled_once_and_not_escaped() {
        let text = t_plain(
            Language::En,
            "calendar.ics.summary",
            &[("with", "Smith & <Co> {with}")],
        );
        assert_eq!(text, "Meeting with Smith & <Co> {with}");
    }
    use std::collections::BTreeSet;

    fn placeholders(text: &str) -> BTreeSet<String> {
        text.split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
            .collect()
    }

    #[test]
    fn catalogues_parse_and_have_the_same_keys_and_placeholders() {
        let mut seen = BTreeSet::new();
        for (area, english, russian) in AREAS {
            let en: Texts = toml::from_str(english)
                .unwrap_or_else(|e| panic!("en/{area}.toml does not parse: {e}"));
            let ru: Texts = toml::from_str(russian)
                .unwrap_or_else(|e| panic!("ru/{area}.toml does not parse: {e}"));
            let en_keys: BTreeSet<_> = en.keys().collect();
            let ru_keys: BTreeSet<_> = ru.keys().collect();
            assert_eq!(
                en_keys, ru_keys,
                "keys differ between en/{area}.toml and ru/{area}.toml"
            );
            for (key, english) in &en {
                assert!(seen.insert(key.clone()), "`{key}` is defined in two areas");
                assert_eq!(
                    placeholders(english),
                    placeholders(&ru[key]),
                    "placeholders of `{key}` differ"
                );
            }
        }
    }

    #[test]
    fn texts_use_only_telegram_html() {
        let allowed = ["b", "/b", "i", "/i", "code", "/code", "u", "/u", "s", "/s"];
        for texts in [&CATALOGUES.0, &CATALOGUES.1] {
            for (key, text) in texts {
                for tag in text.split('<').skip(1) {
                    let name = tag.split('>').next().unwrap_or_default();
                    assert!(allowed.contains(&name), "`{key}` uses <{name}>");
                }
                assert!(!text.contains("& "), "`{key}` has a bare &");
            }
        }
    }

    #[test]
    fn values_are_escaped_and_missing_keys_fall_back() {
        let text = t(
            Language::En,
            "start.new",
            &[("name", "<b>O'Brien & *Co*</b>")],
        );
        assert!(
            text.contains("&lt;b&gt;O'Brien &amp; *Co*&lt;/b&gt;"),
            "{text}"
        );
        assert_eq!(t(Language::Ru, "no.such.key", &[]), "no.such.key");
        assert_eq!(
            fill("{a} and {b} {missing}", &[("b", "{a}"), ("a", "<x>")], true),
            "&lt;x&gt; and {a} {missing}",
            "values are never filled in again"
        );
        assert!(t(Language::Ru, "start.new", &[("name", "Анна")]).contains("Здравствуйте, Анна"));
    }
}
