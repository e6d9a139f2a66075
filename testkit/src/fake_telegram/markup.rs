//! Telegram's text formatting: turns HTML, MarkdownV2 and legacy Markdown
//! into the plain text a user sees plus its entities, or rejects the text the
//! way the real parser does ("can't parse entities: ...").
//!
//! Offsets and lengths of entities are in UTF-16 code units, like Telegram's;
//! byte offsets in error messages are UTF-8 offsets into the sent text.

use serde_json::{Value, json};

/// A `parse_mode` value; Telegram accepts it in any letter case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseMode {
    Html,
    MarkdownV2,
    Markdown,
}

impl ParseMode {
    /// `None` for a value Telegram does not know ("unsupported parse_mode").
    pub(crate) fn from_param(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "html" => Some(Self::Html),
            "markdownv2" => Some(Self::MarkdownV2),
            "markdown" => Some(Self::Markdown),
            _ => None,
        }
    }

    /// The canonical spelling, as recorded in transcripts.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Html => "HTML",
            Self::MarkdownV2 => "MarkdownV2",
            Self::Markdown => "Markdown",
        }
    }
}

/// One formatting entity of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entity {
    pub kind: &'static str,
    pub offset: usize,
    pub length: usize,
    pub url: Option<String>,
    pub language: Option<String>,
    pub custom_emoji_id: Option<String>,
    /// For `text_mention`: the mentioned user (filled in by the caller).
    pub mention_user_id: Option<i64>,
    pub unix_time: Option<i64>,
    pub date_time_format: Option<String>,
}

impl Entity {
    fn new(kind: &'static str, offset: usize, length: usize) -> Self {
        Self {
            kind,
            offset,
            length,
            url: None,
            language: None,
            custom_emoji_id: None,
            mention_user_id: None,
            unix_time: None,
            date_time_format: None,
        }
    }

    /// The Bot API `MessageEntity` object; `user` is the mentioned user's
    /// object for a `text_mention`.
    pub(crate) fn to_json(&self, user: Option<Value>) -> Value {
        let mut object = json!({
            "type": self.kind,
            "offset": self.offset,
            "length": self.length,
        });
        let fields = [
            ("url", self.url.clone().map(Value::from)),
            ("language", self.language.clone().map(Value::from)),
            (
                "custom_emoji_id",
                self.custom_emoji_id.clone().map(Value::from),
            ),
            ("unix_time", self.unix_time.map(Value::from)),
            (
                "date_time_format",
                self.date_time_format.clone().map(Value::from),
            ),
            ("user", user),
        ];
        if let Value::Object(map) = &mut object {
            for (key, value) in fields {
                if let Some(value) = value {
                    map.insert(key.to_owned(), value);
                }
            }
        }
        object
    }
}

/// Text as the user sees it, with its entities sorted by offset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Formatted {
    pub text: String,
    pub entities: Vec<Entity>,
}

/// Parses `source` in `mode` (`None`: plain text, no entities). The error is
/// the part of the description after "can't parse entities: ".
pub(crate) fn format(source: &str, mode: Option<ParseMode>) -> Result<Formatted, String> {
    match mode {
        None => Ok(Formatted {
            text: source.to_owned(),
            entities: Vec::new(),
        }),
        Some(ParseMode::Html) => html(source),
        Some(ParseMode::MarkdownV2) => markdown_v2(source),
        Some(ParseMode::Markdown) => markdown_legacy(source),
    }
}

/// Length of `text` in UTF-16 code units (Telegram's unit for lengths).
pub(crate) fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Plain text being built, with its UTF-16 length and finished entities.
#[derive(Default)]
struct Out {
    text: String,
    len16: usize,
    entities: Vec<Entity>,
}

impl Out {
    fn push(&mut self, c: char) {
        self.text.push(c);
        self.len16 += c.len_utf16();
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push(c);
        }
    }

    /// Adds `entity` ending here if it covers any text (empty ones vanish).
    fn close(&mut self, mut entity: Entity) {
        if self.len16 > entity.offset {
            entity.length = self.len16 - entity.offset;
            self.entities.push(entity);
        }
    }

    fn finish(mut self) -> Formatted {
        self.entities
            .sort_by(|a, b| a.offset.cmp(&b.offset).then(b.length.cmp(&a.length)));
        Formatted {
            text: self.text,
            entities: self.entities,
        }
    }
}

/// The user id of a `tg://user?id=N` link.
fn mention_id(url: &str) -> Option<i64> {
    url.strip_prefix("tg://user?id=")?.parse().ok()
}

/// An entity for a link: a mention for `tg://user?id=N`, else a text link.
fn link_entity(url: String, offset: usize) -> Entity {
    match mention_id(&url) {
        Some(id) => Entity {
            mention_user_id: Some(id),
            ..Entity::new("text_mention", offset, 0)
        },
        None => Entity {
            url: Some(url),
            ..Entity::new("text_link", offset, 0)
        },
    }
}

// ---------------------------------------------------------------- HTML

const HTML_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
    "tg-time",
];

/// A start tag waiting for its end tag.
struct OpenTag {
    name: String,
    start16: usize,
    attributes: Vec<(String, String)>,
    /// Set on a `pre` by an inner `<code class="language-x">`.
    language: Option<String>,
}

impl OpenTag {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn html(source: &str) -> Result<Formatted, String> {
    let mut out = Out::default();
    let mut open: Vec<OpenTag> = Vec::new();
    let mut i = 0;
    while let Some(c) = source[i..].chars().next() {
        match c {
            '<' => i = html_tag(source, i, &mut out, &mut open)?,
            '&' => {
                let (decoded, used) = html_entity(&source[i..]).ok_or_else(|| {
                    format!("Character '&' must be escaped as \"&amp;\" at byte offset {i}")
                })?;
                out.push(decoded);
                i += used;
            }
            _ => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    if let Some(tag) = open.last() {
        return Err(format!(
            "Can't find end tag corresponding to start tag \"{}\"",
            tag.name
        ));
    }
    Ok(out.finish())
}

/// Decodes the HTML entity at the start of `text`: `&lt;`, `&gt;`, `&amp;`,
/// `&quot;` and numeric ones. Returns the character and the bytes used.
fn html_entity(text: &str) -> Option<(char, usize)> {
    let end = text.get(..12).unwrap_or(text).find(';')?;
    let name = &text[1..end];
    let decoded = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|c| *c != '\0')?
        }
    };
    Some((decoded, end + 1))
}

/// Decodes entities in an attribute value; a stray `&` stays as it is.
fn html_unescape(value: &str) -> String {
    let mut result = String::new();
    let mut i = 0;
    while let Some(c) = value[i..].chars().next() {
        if c == '&'
            && let Some((decoded, used)) = html_entity(&value[i..])
        {
            result.push(decoded);
            i += used;
            continue;
        }
        result.push(c);
        i += c.len_utf8();
    }
    result
}

/// Handles the tag starting at byte `start` (a `<`); returns the byte after it.
fn html_tag(
    source: &str,
    start: usize,
    out: &mut Out,
    open: &mut Vec<OpenTag>,
) -> Result<usize, String> {
    let bytes = source.as_bytes();
    let mut i = start + 1;
    let closing = bytes.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-') {
        i += 1;
    }
    let name = source[name_start..i].to_ascii_lowercase();
    if i >= bytes.len() {
        return Err(format!("Unclosed start tag at byte offset {start}"));
    }
    if closing {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'>') {
            return Err(format!("Unclosed end tag at byte offset {start}"));
        }
        close_html_tag(&name, start, out, open)?;
        return Ok(i + 1);
    }
    if !HTML_TAGS.contains(&name.as_str()) {
        return Err(format!(
            "Unsupported start tag \"{name}\" at byte offset {start}"
        ));
    }
    let mut attributes = Vec::new();
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        match bytes.get(i) {
            None => return Err(format!("Unclosed start tag at byte offset {start}")),
            Some(b'>') => break,
            Some(_) => {}
        }
        let key_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'-') {
            i += 1;
        }
        if i == key_start {
            return Err(format!(
                "Empty attribute name in the tag \"{name}\" at byte offset {start}"
            ));
        }
        let key = source[key_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            attributes.push((key, String::new()));
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let value_start = i + 1;
                let Some(length) = source[value_start..].find(quote as char) else {
                    return Err(format!("Unclosed start tag at byte offset {start}"));
                };
                i = value_start + length + 1;
                &source[value_start..value_start + length]
            }
            _ => {
                let value_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                &source[value_start..i]
            }
        };
        attributes.push((key, html_unescape(value)));
    }
    let tag = OpenTag {
        name,
        start16: out.len16,
        attributes,
        language: None,
    };
    if tag.name == "span" && tag.attribute("class") != Some("tg-spoiler") {
        return Err(format!(
            "Tag \"span\" must have class \"tg-spoiler\" at byte offset {start}"
        ));
    }
    open.push(tag);
    Ok(i + 1)
}

fn close_html_tag(
    name: &str,
    start: usize,
    out: &mut Out,
    open: &mut Vec<OpenTag>,
) -> Result<(), String> {
    let Some(tag) = open.pop() else {
        return Err(format!("Unexpected end tag at byte offset {start}"));
    };
    if tag.name != name {
        return Err(format!(
            "Unmatched end tag at byte offset {start}, expected \"</{}>\", found \"</{name}>\"",
            tag.name
        ));
    }
    let at = tag.start16;
    let entity = match tag.name.as_str() {
        "b" | "strong" => Some(Entity::new("bold", at, 0)),
        "i" | "em" => Some(Entity::new("italic", at, 0)),
        "u" | "ins" => Some(Entity::new("underline", at, 0)),
        "s" | "strike" | "del" => Some(Entity::new("strikethrough", at, 0)),
        "span" | "tg-spoiler" => Some(Entity::new("spoiler", at, 0)),
        "a" => tag
            .attribute("href")
            .filter(|href| !href.is_empty())
            .map(|href| link_entity(href.to_owned(), at)),
        "code" => match open.last_mut() {
            // `<pre><code class="language-x">` is one pre entity.
            Some(parent) if parent.name == "pre" => {
                parent.language = tag
                    .attribute("class")
                    .and_then(|class| class.strip_prefix("language-"))
                    .map(str::to_owned);
                None
            }
            _ => Some(Entity::new("code", at, 0)),
        },
        "pre" => Some(Entity {
            language: tag.language.clone(),
            ..Entity::new("pre", at, 0)
        }),
        "blockquote" if tag.attribute("expandable").is_some() => {
            Some(Entity::new("expandable_blockquote", at, 0))
        }
        "blockquote" => Some(Entity::new("blockquote", at, 0)),
        "tg-emoji" => tag.attribute("emoji-id").map(|id| Entity {
            custom_emoji_id: Some(id.to_owned()),
            ..Entity::new("custom_emoji", at, 0)
        }),
        "tg-time" => tag
            .attribute("unix")
            .and_then(|unix| unix.parse().ok())
            .map(|unix| Entity {
                unix_time: Some(unix),
                date_time_format: tag.attribute("format").map(str::to_owned),
                ..Entity::new("date_time", at, 0)
            }),
        _ => None,
    };
    if let Some(entity) = entity {
        out.close(entity);
    }
    Ok(())
}

// ---------------------------------------------------------------- MarkdownV2

/// Characters that must be escaped with `\` outside entities in MarkdownV2.
const RESERVED_V2: &str = "_*[]()~`>#+-=|{}.!";

/// An entity marker waiting for its closing marker.
struct OpenMark {
    kind: &'static str,
    start16: usize,
    byte: usize,
}

fn reserved(c: char) -> String {
    format!("Character '{c}' is reserved and must be escaped with the preceding '\\'")
}

fn unclosed(byte: usize) -> String {
    format!("Can't find end of the entity starting at byte offset {byte}")
}

fn markdown_v2(source: &str) -> Result<Formatted, String> {
    let mut out = Out::default();
    let mut open: Vec<OpenMark> = Vec::new();
    let mut quote: Option<usize> = None;
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let mut k = 0;
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    while let Some(&(byte, c)) = chars.get(k) {
        let line_start = k == 0 || at(k - 1) == Some('\n');
        match c {
            '\\' => {
                match at(k + 1) {
                    Some(next) if (next as u32) < 127 => out.push(next),
                    Some(next) => {
                        out.push('\\');
                        out.push(next);
                    }
                    None => return Err(reserved('\\')),
                }
                k += 2;
                continue;
            }
            '>' if line_start => {
                if quote.is_none() {
                    quote = Some(out.len16);
                }
            }
            '\n' => {
                if let Some(start) = quote
                    && at(k + 1) != Some('>')
                {
                    out.close(Entity::new("blockquote", start, 0));
                    quote = None;
                }
                out.push('\n');
            }
            '*' => toggle(&mut out, &mut open, "bold", byte)?,
            '~' => toggle(&mut out, &mut open, "strikethrough", byte)?,
            '_' if at(k + 1) == Some('_') => {
                toggle(&mut out, &mut open, "underline", byte)?;
                k += 1;
            }
            '_' => toggle(&mut out, &mut open, "italic", byte)?,
            '|' if at(k + 1) == Some('|') => {
                toggle(&mut out, &mut open, "spoiler", byte)?;
                k += 1;
            }
            '[' => open.push(OpenMark {
                kind: "text_link",
                start16: out.len16,
                byte,
            }),
            '!' if at(k + 1) == Some('[') => {
                open.push(OpenMark {
                    kind: "custom_emoji",
                    start16: out.len16,
                    byte,
                });
                k += 1;
            }
            ']' => {
                let Some(mark) =
                    open.pop_if(|mark| mark.kind == "text_link" || mark.kind == "custom_emoji")
                else {
                    return Err(reserved(']'));
                };
                if at(k + 1) != Some('(') {
                    return Err(unclosed(mark.byte));
                }
                let mut url = String::new();
                k += 2;
                loop {
                    match at(k) {
                        None => {
                            return Err(format!("Can't find end of a URL at byte offset {byte}"));
                        }
                        Some(')') => break,
                        Some('\\') if at(k + 1).is_some() => {
                            url.extend(at(k + 1));
                            k += 2;
                        }
                        Some(other) => {
                            url.push(other);
                            k += 1;
                        }
                    }
                }
                let entity = if mark.kind == "custom_emoji" {
                    Entity {
                        custom_emoji_id: url.strip_prefix("tg://emoji?id=").map(str::to_owned),
                        ..Entity::new("custom_emoji", mark.start16, 0)
                    }
                } else {
                    link_entity(url, mark.start16)
                };
                out.close(entity);
            }
            '`' => k = markdown_v2_code(&chars, k, &mut out)?,
            c if RESERVED_V2.contains(c) => return Err(reserved(c)),
            c => out.push(c),
        }
        k += 1;
    }
    if let Some(start) = quote {
        out.close(Entity::new("blockquote", start, 0));
    }
    if let Some(mark) = open.first() {
        return Err(unclosed(mark.byte));
    }
    Ok(out.finish())
}

/// Opens `kind`, or closes it when it is the innermost open entity.
fn toggle(
    out: &mut Out,
    open: &mut Vec<OpenMark>,
    kind: &'static str,
    byte: usize,
) -> Result<(), String> {
    match open.iter().rposition(|mark| mark.kind == kind) {
        Some(position) if position + 1 == open.len() => {
            if let Some(mark) = open.pop() {
                out.close(Entity::new(kind, mark.start16, 0));
            }
            Ok(())
        }
        Some(position) => Err(unclosed(open[position + 1].byte)),
        None => {
            open.push(OpenMark {
                kind,
                start16: out.len16,
                byte,
            });
            Ok(())
        }
    }
}

/// Inline code or a pre block starting at char index `k` (a backtick);
/// inside, only `` ` `` and `\` are escaped. Returns the index of the last
/// character consumed.
fn markdown_v2_code(chars: &[(usize, char)], k: usize, out: &mut Out) -> Result<usize, String> {
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let byte = chars.get(k).map_or(0, |&(b, _)| b);
    let pre = at(k + 1) == Some('`') && at(k + 2) == Some('`');
    let mut j = if pre { k + 3 } else { k + 1 };
    let mut language = String::new();
    if pre {
        // The language runs to the end of the first line.
        let mut probe = j;
        while let Some(c) = at(probe) {
            if c == '\n' || c == '`' {
                break;
            }
            language.push(c);
            probe += 1;
        }
        if at(probe) == Some('\n') {
            j = probe + 1;
        } else {
            language.clear();
        }
    }
    let start16 = out.len16;
    loop {
        match at(j) {
            None => return Err(unclosed(byte)),
            Some('\\') => {
                let Some(next) = at(j + 1) else {
                    return Err(unclosed(byte));
                };
                out.push(next);
                j += 2;
            }
            Some('`') if !pre => break,
            Some('`') if at(j + 1) == Some('`') && at(j + 2) == Some('`') => {
                j += 2;
                break;
            }
            Some(c) => {
                out.push(c);
                j += 1;
            }
        }
    }
    let entity = if pre {
        Entity {
            language: Some(language).filter(|l| !l.is_empty()),
            ..Entity::new("pre", start16, 0)
        }
    } else {
        Entity::new("code", start16, 0)
    };
    out.close(entity);
    Ok(j)
}

// ---------------------------------------------------------------- Markdown

/// Legacy Markdown: `*bold*`, `_italic_`, `` `code` ``, ```` ```pre``` ````
/// and `[text](url)`, no nesting; `\` escapes only `_*`[`.
fn markdown_legacy(source: &str) -> Result<Formatted, String> {
    let mut out = Out::default();
    let chars: Vec<(usize, char)> = source.char_indices().collect();
    let at = |k: usize| chars.get(k).map(|&(_, c)| c);
    let mut k = 0;
    while let Some(&(byte, c)) = chars.get(k) {
        match c {
            '\\' if matches!(at(k + 1), Some('_' | '*' | '`' | '[')) => {
                if let Some(next) = at(k + 1) {
                    out.push(next);
                }
                k += 2;
            }
            '*' | '_' => {
                let kind = if c == '*' { "bold" } else { "italic" };
                let start16 = out.len16;
                let mut j = k + 1;
                loop {
                    match at(j) {
                        None => return Err(unclosed(byte)),
                        Some(end) if end == c => break,
                        Some(other) => out.push(other),
                    }
                    j += 1;
                }
                out.close(Entity::new(kind, start16, 0));
                k = j + 1;
            }
            '`' => {
                k = markdown_v2_code(&chars, k, &mut out)? + 1;
            }
            '[' => match legacy_link(&chars, k) {
                Some((text, url, next)) => {
                    let start16 = out.len16;
                    out.push_str(&text);
                    out.close(link_entity(url, start16));
                    k = next;
                }
                // "[" that does not start "[text](url)" is plain text.
                None => {
                    out.push('[');
                    k += 1;
                }
            },
            _ => {
                out.push(c);
                k += 1;
            }
        }
    }
    Ok(out.finish())
}

/// `[text](url)` starting at char index `k`: the text, the URL and the
/// index after the closing parenthesis.
fn legacy_link(chars: &[(usize, char)], k: usize) -> Option<(String, String, usize)> {
    let rest: String = chars[k + 1..].iter().map(|&(_, c)| c).collect();
    let close = rest.find("](")?;
    let text = &rest[..close];
    let url_len = rest[close + 2..].find(')')?;
    let url = &rest[close + 2..close + 2 + url_len];
    let used = text.chars().count() + url.chars().count() + 4;
    Some((text.to_owned(), url.to_owned(), k + used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(formatted: &Formatted) -> Vec<(&'static str, usize, usize)> {
        formatted
            .entities
            .iter()
            .map(|e| (e.kind, e.offset, e.length))
            .collect()
    }

    #[test]
    fn html_makes_entities_and_decodes() {
        let f = format(
            "<b>Hi</b> &lt;3 <a href=\"https://x.y/?a=1&amp;b=2\">link</a>",
            Some(ParseMode::Html),
        );
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(f.text, "Hi <3 link");
        assert_eq!(kinds(&f), vec![("bold", 0, 2), ("text_link", 6, 4)]);
        assert_eq!(f.entities[1].url.as_deref(), Some("https://x.y/?a=1&b=2"));
    }

    #[test]
    fn html_rejects_what_telegram_rejects() {
        for bad in [
            "a < b",
            "Tom & Jerry",
            "<b>open",
            "<br>",
            "<b><i>x</b></i>",
            "x</b>",
            "<span>x</span>",
        ] {
            assert!(format(bad, Some(ParseMode::Html)).is_err(), "{bad}");
        }
        assert!(format("1 > 0 &amp; &#128512;", Some(ParseMode::Html)).is_ok());
    }

    #[test]
    fn html_pre_with_language() {
        let f = format(
            "<pre><code class=\"language-rust\">fn x</code></pre>",
            Some(ParseMode::Html),
        );
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(kinds(&f), vec![("pre", 0, 4)]);
        assert_eq!(f.entities[0].language.as_deref(), Some("rust"));
    }

    #[test]
    fn markdown_v2_entities_and_escapes() {
        let f = format(
            "*bold* _it_ __u__ ~s~ ||sp|| [l](https://a.b/\\)) `c\\`` 1\\.5",
            Some(ParseMode::MarkdownV2),
        );
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(f.text, "bold it u s sp l c` 1.5");
        assert_eq!(
            kinds(&f),
            vec![
                ("bold", 0, 4),
                ("italic", 5, 2),
                ("underline", 8, 1),
                ("strikethrough", 10, 1),
                ("spoiler", 12, 2),
                ("text_link", 15, 1),
                ("code", 17, 2)
            ]
        );
        assert_eq!(f.entities[5].url.as_deref(), Some("https://a.b/)"));
    }

    #[test]
    fn markdown_v2_rejects_unescaped_reserved_characters() {
        for bad in [
            "Hello, Mr. Smith",
            "a*b",
            "snake_case",
            "(x)",
            "1+1=2",
            "wow!",
            "x]",
            "*open",
            "a-b",
        ] {
            assert!(format(bad, Some(ParseMode::MarkdownV2)).is_err(), "{bad}");
        }
    }

    #[test]
    fn markdown_v2_quotes_and_pre() {
        let f = format(
            ">one\n>two\nthree\n```rust\nlet x = 1;\n```",
            Some(ParseMode::MarkdownV2),
        );
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(f.text, "one\ntwo\nthree\nlet x = 1;\n");
        assert_eq!(kinds(&f), vec![("blockquote", 0, 7), ("pre", 14, 11)]);
    }

    #[test]
    fn utf16_offsets() {
        let f = format("😀 *x*", Some(ParseMode::MarkdownV2));
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(kinds(&f), vec![("bold", 3, 1)]);
    }

    #[test]
    fn legacy_markdown() {
        let f = format("*b* _i_ [t](http://u) a.b", Some(ParseMode::Markdown));
        let Ok(f) = f else { panic!("{f:?}") };
        assert_eq!(f.text, "b i t a.b");
        assert!(format("*open", Some(ParseMode::Markdown)).is_err());
    }
}
