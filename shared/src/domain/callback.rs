//! What every button parser shares: callback data is never trusted, so a
//! number in it is read only in the one form the bot writes.

/// A database id as the bot writes it into button data: ASCII digits, no
/// sign, no leading zero, no padding, positive and at most 18 digits (so
/// it always fits an `i64`). Anything else is not an id.
pub fn canonical_id(text: &str) -> Option<i64> {
    let canonical = !text.is_empty()
        && text.len() <= 18
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0');
    canonical.then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::canonical_id;

    #[test]
    fn only_the_written_form_is_an_id() {
        assert_eq!(canonical_id("42"), Some(42));
        assert_eq!(
            canonical_id("999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        for text in [
            "",
            "0",
            "042",
            "+42",
            "-42",
            " 42",
            "42 ",
            "4_2",
            "1e3",
            "9999999999999999999",
            "٤٢",
        ] {
            assert_eq!(canonical_id(text), None, "{text:?}");
        }
    }
}
