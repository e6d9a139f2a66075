//! The fake Telegram Bot API behaves like the real one.
