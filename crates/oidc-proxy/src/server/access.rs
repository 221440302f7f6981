//! [`ProxyTokenVerifier`]: our access tokens at `/mcp`.
//!
//! A token is accepted when auth-core's [`JwtVerifier`] accepts it (ES256 only, our issuer,
//! the protected resource as audience, `typ` `at+jwt`, not expired) *and* the grant it names
//! (`sid`) is still alive in the store, so revoking a grant ends its access tokens at once.
//! The returned [`AuthContext`] has our token's claims but carries the IdP's access token for
//! that grant (refreshed when close to expiry): passthrough sends that one to Splunk, never ours.
//! A grant from an identity assertion (ID-JAG) has no IdP token; its context carries ours.

use std::sync::Arc;
use std::time::Duration;

use auth_core::http_client::HttpResponse;
use auth_core::jwks::FetchFuture;
use auth_core::{
    Algorithm, AuthContext, AuthError, BearerToken, ClaimsConfig, JwksCache, JwksCacheConfig,
    JwksFetcher, JwtVerifier, TokenVerifier, VerifyFuture,
};

use crate::records::now_millis;
use crate::tokens::TokenIssuer;

use super::AuthorizationServer;
use super::grants::GrantError;

/// Clock leeway for our own tokens (`exp`, `nbf`): small, since our replicas sign them.
const OWN_TOKEN_LEEWAY: Duration = Duration::from_secs(5);

/// Verifies our access tokens at `/mcp` and swaps in the IdP's access token of the grant.
/// Build with [`AuthorizationServer::verifier`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct ProxyTokenVerifier {
    server: Arc<AuthorizationServer>,
    jwt: Arc<JwtVerifier>,
}

impl ProxyTokenVerifier {
    pub(crate) fn new(server: Arc<AuthorizationServer>) -> Self {
        let config = JwksCacheConfig {
            // Reading our own keys costs no network: a short freshness lets another replica's
            // rotation (seen through the store) reach this one quickly.
            min_ttl: Duration::from_secs(1),
            default_ttl: Duration::from_secs(60),
            refresh_cooldown: Duration::from_secs(1),
            algorithms: vec![Algorithm::Es256],
            ..JwksCacheConfig::default()
        };
        let fetcher = Arc::new(IssuerJwks(server.tokens.clone()));
        // The configuration is fixed and valid (an asymmetric algorithm, min <= max).
        let cache = JwksCache::new(format!("{}/jwks.json", server.issuer()), fetcher, config)
            .expect("a fixed, valid JWKS cache configuration");
        let jwt = JwtVerifier::builder()
            .issuer(server.issuer())
            .audience(server.config.resource.clone())
            .require_access_token_type(true)
            // Our own clock signs these tokens: only replicas' clock drift needs allowing for.
            .leeway(OWN_TOKEN_LEEWAY)
            .claims_config(ClaimsConfig::default())
            .jwks(Arc::new(cache))
            .build()
            .expect("issuer, audience and keys are all set");
        Self {
            server,
            jwt: Arc::new(jwt),
        }
    }

    /// Checks that `token` is one of our access tokens and unexpired (signature, issuer,
    /// audience, type, times); says nothing about its grant. The context carries our token.
    pub(crate) async fn verify_signed(&self, token: &str) -> Result<AuthContext, AuthError> {
        self.jwt.verify(token).await
    }

    async fn verify_token(&self, token: &str) -> Result<AuthContext, AuthError> {
        let ours = self.verify_signed(token).await?;
        let claims = ours.claims();
        let sid = grant_id(&ours)?;
        let family = self
            .server
            .store
            .get_refresh_family(sid)
            .await
            .map_err(|e| AuthError::Upstream(format!("reading the grant from the store: {e}")))?;
        let Some(family) = family.filter(|f| !f.revoked) else {
            tracing::debug!(grant = sid, "access token of a revoked or unknown grant");
            return Err(AuthError::Inactive);
        };
        // The grant must be the one the token was minted for.
        if Some(family.grant.client_id.as_str()) != ours.client_id()
            || family.grant.subject != ours.subject()
        {
            return Err(AuthError::Inactive);
        }
        if family.grant.upstream_id.is_empty() {
            // An identity assertion grant: no IdP token stands behind it, and only credentials
            // that need none (mirror, service) are used with it.
            return Ok(ours);
        }
        let upstream = match self.server.upstream_access_token(&family.grant).await {
            Ok(upstream) => upstream,
            Err(GrantError::Dead(why)) => {
                tracing::debug!(grant = sid, why, "access token of a grant that just ended");
                return Err(AuthError::Inactive);
            }
            Err(GrantError::Unavailable(e)) => return Err(AuthError::Upstream(e.to_string())),
            Err(GrantError::Store(e)) => {
                return Err(AuthError::Upstream(format!("the grant store failed: {e}")));
            }
        };
        let mut claims = claims.clone();
        if let Some(upstream_exp) = upstream.expires_at {
            let upstream_secs = i64::try_from(upstream_exp / 1000).unwrap_or(i64::MAX);
            claims.expires_at = Some(
                claims
                    .expires_at
                    .map_or(upstream_secs, |ours| ours.min(upstream_secs)),
            );
        }
        // A token the IdP already let expire is refused like our own expired one.
        if upstream.expires_at.is_some_and(|exp| exp <= now_millis()) {
            return Err(AuthError::Inactive);
        }
        AuthContext::new(claims, BearerToken::new(upstream.token.expose()))
    }
}

impl TokenVerifier for ProxyTokenVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.verify_token(token))
    }
}

/// The grant (`sid`) an access token of ours belongs to.
pub(crate) fn grant_id(context: &AuthContext) -> Result<&str, AuthError> {
    match context.claims().extra.get("sid") {
        Some(serde_json::Value::String(sid)) if !sid.is_empty() => Ok(sid),
        Some(_) => Err(AuthError::InvalidClaim {
            claim: "sid".to_owned(),
            detail: "not a non-empty string".to_owned(),
        }),
        None => Err(AuthError::MissingClaim("sid")),
    }
}

/// Serves the JWKS cache our issuer's public keys, in process. On a refresh (an unknown `kid`
/// or the freshness running out) the keys are re-read from the store first, so a rotation by
/// another replica is picked up.
struct IssuerJwks(Arc<TokenIssuer>);

impl JwksFetcher for IssuerJwks {
    fn fetch<'a>(&'a self, _uri: &'a str) -> FetchFuture<'a> {
        Box::pin(async move {
            if let Err(e) = self.0.reload().await {
                tracing::warn!(error = %e, "re-reading the signing keys failed; using the loaded ones");
            }
            let body = serde_json::to_vec(&self.0.jwks().await).map_err(|e| e.to_string())?;
            Ok(HttpResponse {
                status: 200,
                cache_control: None,
                body,
            })
        })
    }
}
