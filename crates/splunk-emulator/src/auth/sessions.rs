//! Session keys from `POST /services/auth/login`, with their expiry.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

#[derive(Debug, Clone)]
struct Session {
    user: String,
    issued: Instant,
    expires: Instant,
}

/// Live session keys.
#[derive(Debug, Default)]
pub(crate) struct SessionStore {
    sessions: Mutex<HashMap<String, Session>>,
}

impl SessionStore {
    /// Issues a key for `user`, valid for `ttl`.
    pub(crate) fn issue(&self, user: &str, ttl: Duration) -> String {
        let bytes: [u8; 48] = rand::random();
        // splunkd's keys are long opaque strings with `^` and `_`; the alphabet here is URL-safe base64.
        let key = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        let now = Instant::now();
        let session = Session {
            user: user.to_owned(),
            issued: now,
            expires: now + ttl,
        };
        let mut sessions = self.sessions.lock();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(key.clone(), session);
        key
    }

    /// The user of a live key. `ttl_override` (a fault) shortens every key's life.
    pub(crate) fn validate(&self, key: &str, ttl_override: Option<u64>) -> Option<String> {
        let now = Instant::now();
        let sessions = self.sessions.lock();
        let session = sessions.get(key)?;
        let expired_early =
            ttl_override.is_some_and(|secs| now >= session.issued + Duration::from_secs(secs));
        if now >= session.expires || expired_early {
            return None;
        }
        Some(session.user.clone())
    }

    /// Ends every session now.
    pub(crate) fn expire_all(&self) {
        self.sessions.lock().clear();
    }

    /// Ends the sessions of one user (e.g. when the user is deleted).
    pub(crate) fn end_for_user(&self, user: &str) {
        self.sessions.lock().retain(|_, s| s.user != user);
    }
}
