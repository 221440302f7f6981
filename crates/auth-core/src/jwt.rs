//! `JwtVerifier`: validates JWT access tokens (RFC 9068 profile) signed by an IdP's JWKS or,
//! for closed set-ups, by an explicit HMAC shared secret — never both.

use std::sync::Arc;
use std::time::Duration;

use josekit::jws::JwsVerifier;
use zeroize::Zeroizing;

use crate::algorithm::Algorithm;
use crate::claims::{Claims, ClaimsConfig};
use crate::context::{AuthContext, BearerToken};
use crate::error::{AuthError, ConfigError, clip};
use crate::jwks::JwksCache;
use crate::token::{UnverifiedToken, parse_unverified};
use crate::verifier::{TokenVerifier, VerifyFuture, unix_now};

/// Claim checks shared by the JWT and introspection verifiers.
#[derive(Debug, Clone)]
pub(crate) struct ClaimChecks {
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) leeway: i64,
    pub(crate) require_exp: bool,
    pub(crate) claims: ClaimsConfig,
}

impl ClaimChecks {
    pub(crate) fn check(&self, claims: &Claims, now: i64) -> Result<(), AuthError> {
        if !self.issuers.is_empty() {
            // Exact comparison: "https://idp/" and "https://idp" are different issuers (RFC 8414 §3.3).
            match claims.issuer.as_deref() {
                Some(iss) if self.issuers.iter().any(|i| i == iss) => {}
                Some(iss) => return Err(AuthError::InvalidIssuer(Some(clip(iss)))),
                None => return Err(AuthError::MissingClaim("iss")),
            }
        }
        if claims.audience.is_empty() {
            return Err(AuthError::MissingClaim("aud"));
        }
        if !claims
            .audience
            .iter()
            .any(|a| self.audiences.iter().any(|ours| ours == a))
        {
            let shown: Vec<String> = claims.audience.iter().take(4).map(|a| clip(a)).collect();
            return Err(AuthError::InvalidAudience(format!(
                "token audience {shown:?}"
            )));
        }
        match claims.expires_at {
            Some(exp) if now > exp.saturating_add(self.leeway) => {
                return Err(AuthError::Expired {
                    exp,
                    now,
                    leeway: self.leeway,
                });
            }
            Some(_) => {}
            None if self.require_exp => return Err(AuthError::MissingClaim("exp")),
            None => {}
        }
        if let Some(nbf) = claims.not_before
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(AuthError::NotYetValid { nbf, now });
        }
        if let Some(iat) = claims.issued_at
            && iat > now.saturating_add(self.leeway)
        {
            return Err(AuthError::IssuedInFuture { iat, now });
        }
        Ok(())
    }
}

enum KeySource {
    Jwks(Arc<JwksCache>),
    Shared(Vec<(Algorithm, Box<dyn JwsVerifier>)>),
}

/// Verifies JWT access tokens. Build with [`JwtVerifier::builder`].
pub struct JwtVerifier {
    keys: KeySource,
    checks: ClaimChecks,
    /// The `typ` header required (compared without case, with or without `application/`).
    required_type: Option<String>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            KeySource::Jwks(c) => format!("jwks {}", c.uri()),
            KeySource::Shared(v) => format!(
                "shared secret for {:?}",
                v.iter().map(|(a, _)| a).collect::<Vec<_>>()
            ),
        };
        f.debug_struct("JwtVerifier")
            .field("keys", &keys)
            .field("issuers", &self.checks.issuers)
            .field("audiences", &self.checks.audiences)
            .finish()
    }
}

/// Builder for [`JwtVerifier`].
#[derive(Default)]
pub struct JwtVerifierBuilder {
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Option<Duration>,
    required_type: Option<String>,
    claims: ClaimsConfig,
    jwks: Option<Arc<JwksCache>>,
    secret: Option<(Zeroizing<Vec<u8>>, Vec<Algorithm>)>,
}

impl JwtVerifierBuilder {
    /// Accepts tokens from `issuer` (call again for several; compared exactly).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts tokens whose `aud` contains `audience` (this server's resource URL, RFC 8707).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat` (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// Requires the `typ` header `at+jwt` (RFC 9068 §2.1), so ID tokens are not taken for access tokens.
    pub fn require_access_token_type(mut self, yes: bool) -> Self {
        self.required_type = yes.then(|| "at+jwt".to_owned());
        self
    }

    /// Requires the `typ` header `typ` (or `application/<typ>`), e.g. `oauth-id-jag+jwt` for
    /// an identity assertion authorization grant.
    pub fn require_type(mut self, typ: impl Into<String>) -> Self {
        self.required_type = Some(typ.into());
        self
    }

    /// Where to find groups and similar conventions.
    pub fn claims_config(mut self, config: ClaimsConfig) -> Self {
        self.claims = config;
        self
    }

    /// Verifies with the keys of a JWKS (its allow-list applies).
    pub fn jwks(mut self, cache: Arc<JwksCache>) -> Self {
        self.jwks = Some(cache);
        self
    }

    /// Verifies with an HMAC shared secret, for the given HS algorithms only.
    pub fn shared_secret(
        mut self,
        secret: impl Into<Vec<u8>>,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Self {
        self.secret = Some((
            Zeroizing::new(secret.into()),
            algorithms.into_iter().collect(),
        ));
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::MissingIssuer);
        }
        if self.audiences.is_empty() {
            return Err(ConfigError::MissingAudience);
        }
        let keys = match (self.jwks, self.secret) {
            (Some(_), Some(_)) => return Err(ConfigError::MixedKeySources),
            (None, None) => return Err(ConfigError::MissingKeySource),
            (Some(jwks), None) => KeySource::Jwks(jwks),
            (None, Some((secret, algs))) => {
                if algs.is_empty() {
                    return Err(ConfigError::Algorithms("empty allow-list".to_owned()));
                }
                let mut verifiers = Vec::new();
                for alg in algs {
                    if !alg.is_symmetric() {
                        return Err(ConfigError::Algorithms(format!(
                            "{alg} cannot use a shared secret"
                        )));
                    }
                    if secret.len() < alg.min_secret_len() {
                        return Err(ConfigError::WeakSecret {
                            len: secret.len(),
                            min: alg.min_secret_len(),
                        });
                    }
                    let v = alg
                        .verifier_from_secret(&secret)
                        .map_err(ConfigError::Algorithms)?;
                    verifiers.push((alg, v));
                }
                KeySource::Shared(verifiers)
            }
        };
        let leeway = self
            .leeway
            .unwrap_or(Duration::from_secs(60))
            .as_secs()
            .min(i64::MAX as u64) as i64;
        Ok(JwtVerifier {
            keys,
            checks: ClaimChecks {
                issuers: self.issuers,
                audiences: self.audiences,
                leeway,
                require_exp: true,
                claims: self.claims,
            },
            required_type: self.required_type,
        })
    }
}

impl JwtVerifier {
    /// A builder.
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::default()
    }

    /// Verifies `token` against the clock `now` (seconds since the epoch).
    pub async fn verify_at(&self, token: &str, now: i64) -> Result<AuthContext, AuthError> {
        let parsed = parse_unverified(token)?;
        self.check_signature(&parsed).await?;
        if let Some(required) = &self.required_type {
            let ok = parsed.token_type.as_deref().is_some_and(|t| {
                let t = t
                    .get(..12)
                    .filter(|prefix| prefix.eq_ignore_ascii_case("application/"))
                    .map_or(t, |_| &t[12..]);
                t.eq_ignore_ascii_case(required)
            });
            if !ok {
                return Err(AuthError::InvalidType(
                    parsed.token_type.as_deref().map(clip),
                ));
            }
        }
        let claims = parsed.claims(&self.checks.claims)?;
        self.checks.check(&claims, now)?;
        AuthContext::new(claims, BearerToken::new(token))
    }

    async fn check_signature(&self, t: &UnverifiedToken<'_>) -> Result<(), AuthError> {
        let message = t.signing_input.as_bytes();
        match &self.keys {
            KeySource::Jwks(cache) => {
                cache
                    .verify(t.key_id.as_deref(), t.algorithm, message, &t.signature)
                    .await
            }
            KeySource::Shared(verifiers) => {
                let (_, v) = verifiers
                    .iter()
                    .find(|(a, _)| *a == t.algorithm)
                    .ok_or_else(|| AuthError::AlgorithmNotAllowed(t.algorithm.to_string()))?;
                v.verify(message, &t.signature)
                    .map_err(|e| AuthError::InvalidSignature(e.to_string()))
            }
        }
    }
}

impl TokenVerifier for JwtVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.verify_at(token, unix_now()))
    }
}
