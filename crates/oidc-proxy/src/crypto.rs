//! Encryption at rest: AES-256-GCM (ring) for upstream tokens and signing keys in the store.
//!
//! Sealed format: `[key id: 1 byte][nonce: 12 bytes][ciphertext || tag: 16 bytes]`. The nonce is
//! random per value (96 bits from the system RNG; a key seals far fewer than the 2^32 values
//! after which random nonces become a concern). The record's store key is the AAD, so a
//! ciphertext copied under another key fails to open. The key id byte lets an operator rotate:
//! new values are sealed with the primary key, old ones still open with a retired key.

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

/// Why a key could not be loaded or a value not sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The configured key is not base64 of exactly 32 bytes.
    #[error(
        "the store encryption key must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`): {0}"
    )]
    InvalidKey(String),
    /// A stored value names a key id this process was not given.
    #[error(
        "a stored value was sealed with encryption key id {0}, which is not configured; add that key as a retired key"
    )]
    UnknownKeyId(u8),
    /// Authentication failed: wrong key, tampered value, or value moved to another record.
    #[error("a stored value failed to decrypt (wrong key, tampered, or moved to another record)")]
    Decrypt,
    /// The value is shorter than a sealed value can be.
    #[error("a stored value is too short to be an encrypted record")]
    Malformed,
    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

/// One AES-256-GCM key with its id byte.
pub struct EncryptionKey {
    id: u8,
    key: LessSafeKey,
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl EncryptionKey {
    /// Builds a key from 32 raw bytes.
    pub fn from_bytes(id: u8, bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::InvalidKey(format!(
                "got {} bytes, need 32",
                bytes.len()
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| CryptoError::InvalidKey("rejected by AES-256-GCM".into()))?;
        Ok(Self {
            id,
            key: LessSafeKey::new(unbound),
        })
    }

    /// Builds a key from standard base64 (padding optional, surrounding whitespace ignored, so
    /// the content of a key file can be passed as is).
    pub fn from_base64(id: u8, encoded: &str) -> Result<Self, CryptoError> {
        let trimmed = encoded.trim();
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(trimmed)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
                .map_err(|_| CryptoError::InvalidKey("not valid base64".into()))?,
        );
        Self::from_bytes(id, &bytes)
    }

    /// The key id byte written in front of every value this key seals.
    pub fn id(&self) -> u8 {
        self.id
    }
}

/// Seals with the primary key, opens with whichever configured key the value names.
#[derive(Debug)]
pub struct Cipher {
    primary: EncryptionKey,
    retired: Vec<EncryptionKey>,
    rng: SystemRandom,
}

impl Cipher {
    /// A cipher with one key.
    pub fn new(primary: EncryptionKey) -> Self {
        Self::with_retired(primary, Vec::new())
    }

    /// A cipher that seals with `primary` and still opens values sealed by `retired` keys.
    pub fn with_retired(primary: EncryptionKey, retired: Vec<EncryptionKey>) -> Self {
        Self {
            primary,
            retired,
            rng: SystemRandom::new(),
        }
    }

    /// Encrypts `plaintext`, binding it to `aad` (the record's store key).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut in_out = plaintext.to_vec();
        self.primary
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut in_out,
            )
            .map_err(|_| CryptoError::Decrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        out.push(self.primary.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&in_out);
        Ok(out)
    }

    /// Decrypts a value produced by [`Cipher::seal`] with the same `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if sealed.len() < 1 + NONCE_LEN + AES_256_GCM.tag_len() {
            return Err(CryptoError::Malformed);
        }
        let id = sealed[0];
        let key = std::iter::once(&self.primary)
            .chain(self.retired.iter())
            .find(|k| k.id == id)
            .ok_or(CryptoError::UnknownKeyId(id))?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut in_out = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = key
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut in_out,
            )
            .map_err(|_| CryptoError::Decrypt)?
            .len();
        in_out.truncate(len);
        Ok(in_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    fn cipher(encoded: &str, id: u8) -> Cipher {
        Cipher::new(EncryptionKey::from_base64(id, encoded).unwrap())
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let c = cipher(KEY_A, 1);
        let a = c.seal(b"upstream:1", b"secret token").unwrap();
        let b = c.seal(b"upstream:1", b"secret token").unwrap();
        assert_ne!(a, b, "each seal must use a new nonce");
        assert_eq!(a[0], 1);
        assert_eq!(&c.open(b"upstream:1", &a).unwrap()[..], b"secret token");
        assert_eq!(&c.open(b"upstream:1", &b).unwrap()[..], b"secret token");
    }

    #[test]
    fn tampered_value_fails() {
        let c = cipher(KEY_A, 1);
        let mut sealed = c.seal(b"k", b"secret token").unwrap();
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        assert!(matches!(c.open(b"k", &sealed), Err(CryptoError::Decrypt)));
        let mut sealed = c.seal(b"k", b"secret token").unwrap();
        sealed[5] ^= 0x80;
        assert!(matches!(c.open(b"k", &sealed), Err(CryptoError::Decrypt)));
        assert!(matches!(
            c.open(b"k", &sealed[..10]),
            Err(CryptoError::Malformed)
        ));
    }

    #[test]
    fn wrong_aad_fails() {
        let c = cipher(KEY_A, 1);
        let sealed = c.seal(b"upstream:1", b"secret token").unwrap();
        assert!(matches!(
            c.open(b"upstream:2", &sealed),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn wrong_key_fails() {
        let sealed = cipher(KEY_A, 1).seal(b"k", b"secret token").unwrap();
        assert!(matches!(
            cipher(KEY_B, 1).open(b"k", &sealed),
            Err(CryptoError::Decrypt)
        ));
        assert!(matches!(
            cipher(KEY_B, 2).open(b"k", &sealed),
            Err(CryptoError::UnknownKeyId(1))
        ));
    }

    #[test]
    fn retired_key_still_opens_old_values() {
        let old = cipher(KEY_A, 1).seal(b"k", b"old").unwrap();
        let rotated = Cipher::with_retired(
            EncryptionKey::from_base64(2, KEY_B).unwrap(),
            vec![EncryptionKey::from_base64(1, KEY_A).unwrap()],
        );
        assert_eq!(&rotated.open(b"k", &old).unwrap()[..], b"old");
        assert_eq!(rotated.seal(b"k", b"new").unwrap()[0], 2);
    }

    #[test]
    fn bad_keys_are_rejected() {
        assert!(matches!(
            EncryptionKey::from_base64(1, "c2hvcnQ="),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(matches!(
            EncryptionKey::from_base64(1, "not base64!"),
            Err(CryptoError::InvalidKey(_))
        ));
        assert!(EncryptionKey::from_base64(1, &format!("{KEY_A}\n")).is_ok());
        let debug = format!("{:?}", EncryptionKey::from_base64(1, KEY_A).unwrap());
        assert!(debug.contains("redacted"));
    }
}
