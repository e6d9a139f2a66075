//! Talking to Telegram: the client, its error classes, the message format
//! stored in the outbox, and the one delivery path every message takes.
//!
//! The bot token sits in every request URL: nothing here logs a URL, the
//! client's `Debug` hides it, and errors carry no URL.

mod client;
pub mod delivery;
mod error;
pub mod message;
pub mod updates;

pub use client::TelegramClient;
pub use error::TelegramError;
pub use message::{Button, OutgoingMessage};
