//! `AuthContext`, what a verified request carries, and `BearerToken`, the raw token kept secret.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::claims::Claims;
use crate::error::AuthError;
use crate::scope::ScopeSet;

/// The raw bearer token, kept for `passthrough` to Splunk. Its `Debug` never shows the value,
/// the memory is zeroed when the last clone drops, and the value is reached only by
/// [`BearerToken::secret`] so every use is visible in review.
#[derive(Clone)]
pub struct BearerToken(Arc<Zeroizing<String>>);

impl BearerToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::new(Zeroizing::new(token.into())))
    }

    /// The token itself. Never log it.
    pub fn secret(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

/// Who is calling and with which rights; inserted into request extensions after verification.
///
/// Cloning is a reference-count increment, so caches can hand out the same context cheaply.
#[derive(Clone)]
pub struct AuthContext(Arc<Inner>);

struct Inner {
    subject: String,
    client_id: Option<String>,
    claims: Claims,
    token: BearerToken,
}

impl AuthContext {
    /// Builds a context from verified claims. `sub` is required: every audit line names a subject.
    pub fn new(claims: Claims, token: BearerToken) -> Result<Self, AuthError> {
        let subject = claims
            .subject
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::MissingClaim("sub"))?;
        let client_id = claims.client().map(str::to_owned);
        Ok(Self(Arc::new(Inner {
            subject,
            client_id,
            claims,
            token,
        })))
    }

    /// The subject (`sub`).
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The OAuth client (`client_id`, else `azp`).
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// Granted scopes.
    pub fn scopes(&self) -> &ScopeSet {
        &self.0.claims.scopes
    }

    /// Groups from the configured claim.
    pub fn groups(&self) -> &[String] {
        &self.0.claims.groups
    }

    /// Expiry, seconds since the epoch.
    pub fn expires_at(&self) -> Option<i64> {
        self.0.claims.expires_at
    }

    /// Every claim.
    pub fn claims(&self) -> &Claims {
        &self.0.claims
    }

    /// The raw token, for passthrough to an API the token was also issued for.
    pub fn token(&self) -> &BearerToken {
        &self.0.token
    }
}

impl fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthContext")
            .field("subject", &self.0.subject)
            .field("client_id", &self.0.client_id)
            .field("scopes", &self.0.claims.scopes.to_string())
            .field("groups", &self.0.claims.groups)
            .field("expires_at", &self.0.claims.expires_at)
            .field("token", &self.0.token)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_token() {
        let ctx = AuthContext::new(
            Claims::for_subject("alice"),
            BearerToken::new("s3cr3t-token"),
        )
        .unwrap();
        let shown = format!("{ctx:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(ctx.token().secret(), "s3cr3t-token");
    }

    #[test]
    fn subject_required() {
        let mut c = Claims::for_subject("");
        assert!(AuthContext::new(c.clone(), BearerToken::new("t")).is_err());
        c.subject = None;
        assert!(AuthContext::new(c, BearerToken::new("t")).is_err());
    }
}
