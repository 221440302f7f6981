//! `StaticVerifier`: a fixed map of token → claims for development; it refuses to exist unless
//! the caller says, in so many words, that insecurity is fine.

use std::collections::HashMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::claims::{Claims, ClaimsConfig};
use crate::context::{AuthContext, BearerToken};
use crate::error::{AuthError, ConfigError};
use crate::verifier::{TokenVerifier, VerifyFuture, unix_now};

/// Verifies tokens against a configured list. Development only.
pub struct StaticVerifier {
    // Keyed by SHA-256 so lookups do not compare secret strings byte by byte.
    tokens: HashMap<[u8; 32], Claims>,
}

impl std::fmt::Debug for StaticVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticVerifier")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

/// Builder for [`StaticVerifier`].
#[derive(Default)]
pub struct StaticVerifierBuilder {
    allow_insecure_static: bool,
    claims_config: ClaimsConfig,
    tokens: Vec<(String, Value)>,
}

impl StaticVerifierBuilder {
    /// Must be set to `true` or [`build`](Self::build) fails: static tokens never expire
    /// and are usually checked into a file.
    pub fn allow_insecure_static(mut self, yes: bool) -> Self {
        self.allow_insecure_static = yes;
        self
    }

    /// Where to find groups in the claims given.
    pub fn claims_config(mut self, config: ClaimsConfig) -> Self {
        self.claims_config = config;
        self
    }

    /// Adds a token and its claims (a JSON object with at least `sub`).
    pub fn token(mut self, token: impl Into<String>, claims: Value) -> Self {
        self.tokens.push((token.into(), claims));
        self
    }

    /// Builds the verifier.
    pub fn build(self) -> Result<StaticVerifier, ConfigError> {
        if !self.allow_insecure_static {
            return Err(ConfigError::InsecureStaticNotAllowed);
        }
        tracing::warn!(
            tokens = self.tokens.len(),
            "static token verifier in use: development only"
        );
        let mut tokens = HashMap::new();
        for (token, value) in self.tokens {
            let Value::Object(map) = value else {
                return Err(ConfigError::StaticClaims(
                    "claims must be a JSON object".to_owned(),
                ));
            };
            let claims = Claims::from_json(map, &self.claims_config)
                .map_err(|e| ConfigError::StaticClaims(e.to_string()))?;
            if claims.subject.as_deref().is_none_or(str::is_empty) {
                return Err(ConfigError::StaticClaims("sub is required".to_owned()));
            }
            tokens.insert(Sha256::digest(token.as_bytes()).into(), claims);
        }
        Ok(StaticVerifier { tokens })
    }
}

impl StaticVerifier {
    /// A builder.
    pub fn builder() -> StaticVerifierBuilder {
        StaticVerifierBuilder::default()
    }

    fn lookup(&self, token: &str) -> Result<AuthContext, AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = self.tokens.get(&key).ok_or(AuthError::UnknownToken)?;
        if let Some(exp) = claims.expires_at {
            let now = unix_now();
            if now > exp {
                return Err(AuthError::Expired {
                    exp,
                    now,
                    leeway: 0,
                });
            }
        }
        AuthContext::new(claims.clone(), BearerToken::new(token))
    }
}

impl TokenVerifier for StaticVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(std::future::ready(self.lookup(token)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_without_flag() {
        let err = StaticVerifier::builder()
            .token("t", json!({"sub": "a"}))
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::InsecureStaticNotAllowed));
    }

    #[tokio::test]
    async fn verifies_known_tokens_only() {
        let v = StaticVerifier::builder()
            .allow_insecure_static(true)
            .token("dev-token", json!({"sub": "alice", "scope": "splunk:read"}))
            .build()
            .unwrap();
        let ctx = v.verify("dev-token").await.unwrap();
        assert_eq!(ctx.subject(), "alice");
        assert!(ctx.scopes().contains("splunk:read"));
        assert_eq!(
            v.verify("other").await.unwrap_err().kind(),
            crate::ErrorKind::UnknownToken
        );
    }
}
