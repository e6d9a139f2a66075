//! `sync-busy`: read one connected user's busy times from Google Calendar
//! (and follow what the owner did to the bot's own events there), plus the
//! secret that lets the bot's push endpoint tell Google's notifications
//! from forged ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Job, Pushed, Queue, QueueError};
use crate::config::EncryptionKey;
use crate::db::types::UserId;

/// The path of the bot's endpoint for Google's push notifications, under
/// `PUBLIC_URL`.
pub const NOTIFY_PATH: &str = "/google/notify";

/// Bring the busy intervals of the user with this id up to date with their
/// Google Calendar. The worker reads the connection when the job runs
/// (incremental with the stored sync token, else a full listing), so a
/// job pushed twice costs one cheap incremental call and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncBusy {
    pub user_id: i64,
    pub correlation_id: String,
}

impl Job for SyncBusy {
    const QUEUE: &'static str = "sync-busy";

    fn correlation_id(&self) -> &str {
        &self.correlation_id
    }
}

impl SyncBusy {
    /// Queues a busy sync of `user`. `occasion` makes the idempotency key
    /// (`sync-busy:<user>:<occasion>`): pushes for the same occasion (one
    /// sweep period and last sync, one push notification) are one job,
    /// different occasions are different jobs.
    pub async fn push(
        queue: &Queue,
        user: UserId,
        occasion: &str,
        correlation_id: &str,
    ) -> Result<Pushed, QueueError> {
        let job = Self {
            user_id: user.0,
            correlation_id: correlation_id.to_owned(),
        };
        let key = format!("{}:{}:{occasion}", Self::QUEUE, user.0);
        queue.push(&job, &key).await
    }
}

/// Derives the secret of each push channel (`X-Goog-Channel-Token`) from
/// `TOKEN_ENCRYPTION_KEY` and the channel id: HMAC-SHA256 under a subkey
/// of its own. Every channel gets a different secret, nothing about it is
/// stored (not even a hash), and only the holders of the key — the worker
/// that opens channels, the bot that checks notifications — can make one.
#[derive(Clone)]
pub struct ChannelSecrets {
    key: [u8; 32],
}

impl std::fmt::Debug for ChannelSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelSecrets").finish_non_exhaustive()
    }
}

/// Separates the channel subkey from every other use of the key.
const SUBKEY_LABEL: &[u8] = b"scheduler/google-push-channel-token/v1";

impl ChannelSecrets {
    pub fn new(key: &EncryptionKey) -> Self {
        Self {
            key: hmac_sha256(key.bytes(), SUBKEY_LABEL),
        }
    }

    /// The token to give Google with `events.watch` for `channel_id`.
    pub fn token(&self, channel_id: &str) -> SecretString {
        SecretString::from(URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, channel_id.as_bytes())))
    }

    /// Whether `token` is the one of `channel_id` (constant time).
    pub fn matches(&self, channel_id: &str, token: &str) -> bool {
        let expected = self.token(channel_id);
        let expected = expected.expose_secret().as_bytes();
        let given = token.as_bytes();
        if expected.len() != given.len() {
            return false;
        }
        expected
            .iter()
            .zip(given)
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// HMAC-SHA256 (RFC 2104) for keys up to one block (64 bytes); longer
/// keys are hashed first, as the RFC says.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0_u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_pad = block.map(|byte| byte ^ 0x36);
    let outer_pad = block.map(|byte| byte ^ 0x5c);
    let inner = Sha256::new()
        .chain_update(inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(outer_pad)
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than a block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn each_channel_has_its_own_token() {
        let secrets = ChannelSecrets { key: [7; 32] };
        let a = secrets.token("channel-a");
        let b = secrets.token("channel-b");
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(secrets.matches("channel-a", a.expose_secret()));
        assert!(!secrets.matches("channel-b", a.expose_secret()));
        assert!(!secrets.matches("channel-a", ""));
        let other = ChannelSecrets { key: [8; 32] };
        assert!(!other.matches("channel-a", a.expose_secret()));
    }
}
