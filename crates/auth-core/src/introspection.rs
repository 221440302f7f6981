//! `IntrospectionVerifier`: asks the IdP about opaque tokens (RFC 7662) and applies the same
//! issuer, audience and time checks as for JWTs.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::cache::CachingVerifier;
use crate::claims::{Claims, ClaimsConfig};
use crate::context::{AuthContext, BearerToken};
use crate::error::{AuthError, ConfigError};
use crate::http_client::HttpClient;
use crate::jwt::ClaimChecks;
use crate::verifier::{TokenVerifier, VerifyFuture, unix_now};

/// How the resource server authenticates to the introspection endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic with form-urlencoded id and secret (`client_secret_basic`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
}

/// The HTTP method used for introspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum IntrospectionMethod {
    /// `POST` with a form body (RFC 7662 §2.1).
    #[default]
    Post,
    /// `GET` with the token in the query string, for IdPs that only offer that. The token then
    /// appears in the IdP's access logs; prefer POST.
    Get,
}

/// Settings for [`IntrospectionVerifier`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IntrospectionConfig {
    /// The introspection endpoint.
    pub endpoint: String,
    /// Our client id at the IdP.
    pub client_id: String,
    /// Our client secret.
    pub client_secret: SecretString,
    /// How to send the credentials.
    pub client_auth: ClientAuth,
    /// GET or POST.
    pub method: IntrospectionMethod,
    /// Accepted issuers; empty means the response's `iss` is not checked (many IdPs omit it).
    pub issuers: Vec<String>,
    /// Accepted audiences; at least one (RFC 8707).
    pub audiences: Vec<String>,
    /// Clock skew tolerated.
    pub leeway: Duration,
    /// Groups claim and similar conventions.
    pub claims: ClaimsConfig,
}

impl IntrospectionConfig {
    /// A configuration with Basic auth, POST, 60 s leeway, no issuer check.
    pub fn new(
        endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            client_id: client_id.into(),
            client_secret,
            client_auth: ClientAuth::Basic,
            method: IntrospectionMethod::Post,
            issuers: Vec::new(),
            audiences: vec![audience.into()],
            leeway: Duration::from_secs(60),
            claims: ClaimsConfig::default(),
        }
    }
}

/// Verifies opaque tokens by introspection. Use [`IntrospectionVerifier::cached`] to bound the
/// load on the IdP.
pub struct IntrospectionVerifier {
    http: HttpClient,
    config: IntrospectionConfig,
    checks: ClaimChecks,
}

impl std::fmt::Debug for IntrospectionVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionVerifier")
            .field("endpoint", &self.config.endpoint)
            .finish()
    }
}

impl IntrospectionVerifier {
    /// Checks the configuration and builds the verifier.
    pub fn new(http: HttpClient, config: IntrospectionConfig) -> Result<Self, ConfigError> {
        http.check_url(&config.endpoint)?;
        if config.audiences.is_empty() {
            return Err(ConfigError::MissingAudience);
        }
        let checks = ClaimChecks {
            issuers: config.issuers.clone(),
            audiences: config.audiences.clone(),
            leeway: config.leeway.as_secs().min(i64::MAX as u64) as i64,
            // RFC 7662 makes `exp` optional; the cache then falls back to its own bound.
            require_exp: false,
            claims: config.claims.clone(),
        };
        Ok(Self {
            http,
            config,
            checks,
        })
    }

    /// Wraps the verifier in a [`CachingVerifier`] holding up to `capacity` answers, each for at
    /// most `max_ttl` and never past the token's `exp`. `max_ttl` is how long a revoked token may
    /// still be accepted: keep it short (seconds to a minute).
    pub fn cached(self, capacity: usize, max_ttl: Duration) -> CachingVerifier {
        CachingVerifier::new(std::sync::Arc::new(self), capacity, max_ttl)
    }

    async fn introspect(&self, token: &str) -> Result<AuthContext, AuthError> {
        if token.len() > crate::token::MAX_TOKEN_LEN {
            return Err(AuthError::TooLarge {
                len: token.len(),
                max: crate::token::MAX_TOKEN_LEN,
            });
        }
        let c = &self.config;
        let mut params: Vec<(&str, &str)> =
            vec![("token", token), ("token_type_hint", "access_token")];
        if c.client_auth == ClientAuth::Post {
            params.push(("client_id", &c.client_id));
            params.push(("client_secret", c.client_secret.expose_secret()));
        }
        let client = self.http.inner();
        let mut req = match c.method {
            IntrospectionMethod::Post => client.post(&c.endpoint).form(&params),
            IntrospectionMethod::Get => client.get(&c.endpoint).query(&params),
        };
        req = req.header("accept", "application/json");
        if c.client_auth == ClientAuth::Basic {
            req = req.header(
                "authorization",
                basic_auth(&c.client_id, c.client_secret.expose_secret()),
            );
        }
        let resp = self.http.send(req).await.map_err(AuthError::Upstream)?;
        if resp.status != 200 {
            return Err(AuthError::Upstream(format!(
                "introspection endpoint answered {}",
                resp.status
            )));
        }
        let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(&resp.body) else {
            return Err(AuthError::Upstream(
                "introspection answer is not a JSON object".to_owned(),
            ));
        };
        match map.remove("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(AuthError::Inactive),
            _ => {
                return Err(AuthError::Upstream(
                    "introspection answer has no boolean `active`".to_owned(),
                ));
            }
        }
        let mut claims = Claims::from_json(map, &self.checks.claims)?;
        if claims.subject.is_none() {
            claims.subject = claims.preferred_username.clone();
        }
        self.checks.check(&claims, unix_now())?;
        AuthContext::new(claims, BearerToken::new(token))
    }
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding, so a `:` in the
/// id survives.
fn basic_auth(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencode(s);
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

fn form_urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl TokenVerifier for IntrospectionVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.introspect(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_encodes_components() {
        assert_eq!(
            basic_auth("a:b", "s p"),
            format!("Basic {}", STANDARD.encode("a%3Ab:s+p"))
        );
    }
}
