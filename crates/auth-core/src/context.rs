//! `AuthContext`, what a verified request carries, and `BearerToken`, the raw token kept secret.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::claims::Claims;
use crate::error::AuthError;
use crate::scope::ScopeSet;
use crate::scope_rules::ScopeRules;

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
    /// Scopes of the token that [`ScopeRules`] did not let this caller hold.
    withheld: ScopeSet,
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
            withheld: ScopeSet::new(),
        })))
    }

    /// The same caller holding only the scopes `rules` allow its groups; the token's other
    /// scopes become [`AuthContext::withheld_scopes`], so a refusal can say why.
    pub fn restricted_by(&self, rules: &ScopeRules) -> Self {
        let (kept, withheld) = rules.split(self.scopes(), self.groups());
        if withheld.is_empty() {
            return self.clone();
        }
        let mut claims = self.0.claims.clone();
        claims.scopes = kept;
        Self(Arc::new(Inner {
            subject: self.0.subject.clone(),
            client_id: self.0.client_id.clone(),
            claims,
            token: self.0.token.clone(),
            withheld: withheld.union(&self.0.withheld),
        }))
    }

    /// Scopes the token carries that scope rules did not let this caller hold.
    pub fn withheld_scopes(&self) -> &ScopeSet {
        &self.0.withheld
    }

    /// The subject (`sub`).
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The OAuth client (`client_id`, else `azp`).
    pub fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }

    /// Granted scopes: the token's, less any [`AuthContext::withheld_scopes`].
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
            .field("withheld_scopes", &self.0.withheld.to_string())
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
    fn restriction_withholds_ruled_scopes() {
        let mut claims = Claims::for_subject("alice");
        claims.scopes = ScopeSet::parse("splunk:read splunk:admin").unwrap();
        claims.groups = vec!["analysts".to_owned()];
        let ctx = AuthContext::new(claims, BearerToken::new("t")).unwrap();
        let rules = ScopeRules::parse("splunk:admin=admins").unwrap();
        let narrowed = ctx.restricted_by(&rules);
        assert_eq!(narrowed.scopes().to_string(), "splunk:read");
        assert_eq!(narrowed.withheld_scopes().to_string(), "splunk:admin");
        assert_eq!(narrowed.subject(), "alice");
        assert_eq!(narrowed.token().secret(), "t");
        // Nothing to withhold: the same context.
        let unruled = ctx.restricted_by(&ScopeRules::new());
        assert!(Arc::ptr_eq(&unruled.0, &ctx.0));
    }

    #[test]
    fn subject_required() {
        let mut c = Claims::for_subject("");
        assert!(AuthContext::new(c.clone(), BearerToken::new("t")).is_err());
        c.subject = None;
        assert!(AuthContext::new(c, BearerToken::new("t")).is_err());
    }
}
