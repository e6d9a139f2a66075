//! Secrets at rest: OAuth tokens and PKCE verifiers are stored encrypted
//! with AES-256-GCM under `TOKEN_ENCRYPTION_KEY`, and OAuth `state` values
//! only as a SHA-256 hash.
//!
//! A stored value is `version (1 byte) ‖ nonce (12 random bytes) ‖
//! ciphertext ‖ tag`; the key's public id sits beside it in its own column,
//! so a rotated key is recognised ([`CryptoError::WrongKey`]) instead of
//! failing as "corrupt". Each value is bound to where it belongs through
//! the associated data (e.g. `refresh_token:user:42`): a ciphertext copied
//! into another row or column does not decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use rand::RngCore;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::config::EncryptionKey;

/// The format byte in front of every value this build writes.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Why a stored secret cannot be read back. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Written under another key (the key was rotated or the data comes
    /// from another deployment): the user has to connect again.
    #[error("the value was encrypted with key {stored}, but the configured key is {current}")]
    WrongKey { stored: String, current: String },
    /// Tampered with, truncated, moved to another row, or the key bytes
    /// changed without the id changing.
    #[error("the encrypted value is corrupt or does not belong here")]
    Corrupt,
    /// The cipher refused to encrypt (cannot happen for token-sized input).
    #[error("encryption failed")]
    Encrypt,
}

/// Encrypts and decrypts secrets with the configured key; cheap to clone.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
    key_id: String,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCipher")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl TokenCipher {
    /// A cipher over `TOKEN_ENCRYPTION_KEY`.
    pub fn new(key: &EncryptionKey) -> Self {
        Self::from_parts(key.bytes(), &key.key_id)
    }

    fn from_parts(bytes: &[u8; 32], key_id: &str) -> Self {
        Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*bytes)),
            key_id: key_id.to_owned(),
        }
    }

    /// The public id of the key, stored beside each value.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Encrypts `plaintext` with a fresh random nonce, bound to `context`.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0_u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut stored = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        stored.push(VERSION);
        stored.extend_from_slice(&nonce);
        stored.extend_from_slice(&sealed);
        Ok(stored)
    }

    /// Decrypts a value written by [`encrypt`](Self::encrypt) under key
    /// `key_id` for the same `context`.
    pub fn decrypt(
        &self,
        stored: &[u8],
        key_id: &str,
        context: &str,
    ) -> Result<SecretString, CryptoError> {
        if key_id != self.key_id {
            return Err(CryptoError::WrongKey {
                stored: key_id.to_owned(),
                current: self.key_id.clone(),
            });
        }
        let Some((&VERSION, rest)) = stored.split_first() else {
            return Err(CryptoError::Corrupt);
        };
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Corrupt);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Corrupt)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Corrupt)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Corrupt)
    }
}

/// The hex SHA-256 of an OAuth `state`: what the database keeps, so a
/// leaked table cannot complete anybody's consent.
pub fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn cipher(byte: u8, id: &str) -> TokenCipher {
        TokenCipher::from_parts(&[byte; 32], id)
    }

    #[test]
    fn values_round_trip_with_a_fresh_nonce_each_time() {
        let cipher = cipher(7, "k1");
        let a = cipher.encrypt("1//0refresh-token", "refresh_token:user:1");
        let b = cipher.encrypt("1//0refresh-token", "refresh_token:user:1");
        let (Ok(a), Ok(b)) = (a, b) else {
            panic!("encryption failed");
        };
        assert_ne!(a, b, "the same token encrypts differently each time");
        assert!(!a.windows(8).any(|w| w == b"1//0refr"), "no clear text");
        for stored in [&a, &b] {
            let plain = cipher.decrypt(stored, "k1", "refresh_token:user:1");
            assert_eq!(
                plain.map(|p| p.expose_secret().to_owned()),
                Ok("1//0refresh-token".to_owned())
            );
        }
    }

    #[test]
    fn tampering_truncation_and_another_place_are_detected() {
        let cipher = cipher(7, "k1");
        let Ok(stored) = cipher.encrypt("ya29.access", "access_token:user:1") else {
            panic!("encryption failed");
        };
        for index in [0, 1, 13, stored.len() - 1] {
            let mut tampered = stored.clone();
            tampered[index] ^= 0x01;
            assert!(
                matches!(
                    cipher.decrypt(&tampered, "k1", "access_token:user:1"),
                    Err(CryptoError::Corrupt)
                ),
                "byte {index}"
            );
        }
        for cut in [0, 1, 12, 28, stored.len() - 1] {
            assert!(matches!(
                cipher.decrypt(&stored[..cut], "k1", "access_token:user:1"),
                Err(CryptoError::Corrupt)
            ));
        }
        // Copied into another user's row or another column.
        for context in ["access_token:user:2", "refresh_token:user:1"] {
            assert!(matches!(
                cipher.decrypt(&stored, "k1", context),
                Err(CryptoError::Corrupt)
            ));
        }
    }

    #[test]
    fn another_key_is_refused() {
        let Ok(stored) = cipher(7, "k1").encrypt("secret", "ctx") else {
            panic!("encryption failed");
        };
        assert_eq!(
            cipher(9, "k2").decrypt(&stored, "k1", "ctx").err(),
            Some(CryptoError::WrongKey {
                stored: "k1".to_owned(),
                current: "k2".to_owned()
            })
        );
        // Other key bytes under the same id: caught by the tag.
        assert_eq!(
            cipher(9, "k1").decrypt(&stored, "k1", "ctx").err(),
            Some(CryptoError::Corrupt)
        );
    }

    #[test]
    fn debug_output_shows_the_key_id_only() {
        let shown = format!("{:?}", cipher(7, "k1"));
        assert!(shown.contains("k1") && !shown.contains("7, 7"), "{shown}");
    }

    #[test]
    fn state_hashes_are_hex_sha256() {
        assert_eq!(
            state_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
