//! The `TokenVerifier` trait every verifier implements, and the shared clock.

use std::future::Future;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::context::AuthContext;
use crate::error::AuthError;

/// The future a verifier returns. Boxed so `Arc<dyn TokenVerifier>` works.
pub type VerifyFuture<'a> =
    Pin<Box<dyn Future<Output = Result<AuthContext, AuthError>> + Send + 'a>>;

/// Turns a bearer token into an [`AuthContext`] or says why not.
///
/// Implementations must not log the token.
pub trait TokenVerifier: Send + Sync {
    /// Verifies `token` (the bare token, without the `Bearer ` prefix).
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a>;
}

impl<T: TokenVerifier + ?Sized> TokenVerifier for std::sync::Arc<T> {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        (**self).verify(token)
    }
}

/// Seconds since the epoch by the system clock.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
