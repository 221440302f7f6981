//! Errors of the store.

use crate::crypto::CryptoError;

/// Why a store operation failed. Messages name no secret and no stored value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The embedded database file could not be opened, read or written.
    #[error("embedded store (redb) error: {0}")]
    Embedded(#[from] redb::Error),
    /// Redis refused or could not be reached.
    #[error("Redis store error (check the Redis URL and that the server is up): {0}")]
    Redis(#[from] redis::RedisError),
    /// A stored record is not in the expected format (written by an incompatible version?).
    #[error("stored record {key} could not be decoded: {source}")]
    Decode {
        /// The store key of the record.
        key: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Encrypting or decrypting a value failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The caller passed a value the store refuses (e.g. a code TTL over 60 s).
    #[error("invalid store argument: {0}")]
    InvalidArgument(String),
    /// A blocking store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the store cannot be reached now (Redis refused, timed out, or dropped the
    /// connection): worth trying again, not a fault in the request or the data.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Redis(e) => {
                e.is_timeout()
                    || e.is_connection_refusal()
                    || e.is_connection_dropped()
                    || e.is_io_error()
            }
            _ => false,
        }
    }

    /// Wraps any redb error type.
    pub(crate) fn redb(error: impl Into<redb::Error>) -> Self {
        Self::Embedded(error.into())
    }
}
