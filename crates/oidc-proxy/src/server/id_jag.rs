//! Enterprise-managed authorization: `POST /token` with
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an identity assertion JWT
//! authorization grant (ID-JAG) that a trusted company IdP issued for this server. The IdP has
//! decided that this client may reach this server for this user; no consent screen, no
//! sign-in here.
//!
//! The assertion is checked for: an issuer in the trusted list and its signature (that
//! issuer's keys, by discovery), `typ` `oauth-id-jag+jwt`, `aud` this issuer, `client_id` the
//! authenticated client, `resource` this server's protected resource, a lifetime of at most
//! ten minutes, and a `jti` used once (claimed in the store, so across replicas). The grant
//! gets the requested scopes the user's groups may hold, an access token, and no refresh
//! token. It has no IdP token behind it, so only credentials that need none (mirror, service)
//! can call Splunk for it; the binary refuses other combinations at start.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthError, ClaimsConfig, DiscoveryDocument, HttpClient, JwksCacheConfig, JwtVerifier,
};
use axum::response::Response;
use tokio::sync::OnceCell;

use crate::records::{ClientRecord, RefreshGrant, TokenHash, now_millis};
use crate::upstream::random_token;

use super::AuthorizationServer;
use super::authorize::{granted_scope, same_resource};
use super::client_auth::{FormParams, OAuthFailure, from_store, server_error};
use super::token::{mint, require_grant_type, token_response};

/// RFC 7523's grant type, which carries an ID-JAG.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The `typ` of an ID-JAG.
const ID_JAG_TYPE: &str = "oauth-id-jag+jwt";
/// The longest lifetime (`exp - iat`) accepted: ID-JAGs are meant to be used at once.
const MAX_LIFETIME_SECS: i64 = 600;
/// Clock skew tolerated between the IdP and this server.
const LEEWAY: Duration = Duration::from_secs(60);

/// The IdPs whose ID-JAGs are accepted, each checked with its own keys (found by discovery
/// at the first assertion from it).
pub(crate) struct TrustedIssuers {
    http: HttpClient,
    /// Our issuer: the `aud` an ID-JAG for us carries.
    audience: String,
    claims: ClaimsConfig,
    issuers: Vec<(String, OnceCell<Arc<JwtVerifier>>)>,
}

impl std::fmt::Debug for TrustedIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.issuers.iter().map(|(issuer, _)| issuer))
            .finish()
    }
}

impl TrustedIssuers {
    /// Trusts `issuers` (compared exactly) for assertions with `audience`; groups are read from
    /// `groups_claim`.
    pub(crate) fn new(
        issuers: &[String],
        audience: &str,
        groups_claim: &str,
        http: HttpClient,
    ) -> Self {
        Self {
            http,
            audience: audience.to_owned(),
            claims: ClaimsConfig::with_groups_claim(groups_claim),
            // Kept as written: an issuer is compared exactly with the assertion's `iss`, and some
            // (Auth0) end in a slash.
            issuers: issuers
                .iter()
                .map(|issuer| (issuer.clone(), OnceCell::new()))
                .collect(),
        }
    }

    /// The verifier of `issuer`'s assertions, `None` if it is not trusted. The first call for
    /// an issuer reads its discovery document; an IdP that cannot be reached is an error
    /// (tried again at the next assertion).
    async fn verifier(&self, issuer: &str) -> Option<Result<Arc<JwtVerifier>, String>> {
        let (issuer, cell) = self.issuers.iter().find(|(trusted, _)| trusted == issuer)?;
        Some(
            cell.get_or_try_init(|| self.discover(issuer))
                .await
                .cloned(),
        )
    }

    async fn discover(&self, issuer: &str) -> Result<Arc<JwtVerifier>, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let document = DiscoveryDocument::fetch(&self.http, &url, Some(issuer))
            .await
            .map_err(|e| format!("discovery of the ID-JAG issuer {issuer}: {e}"))?;
        let jwks_uri = document
            .jwks_uri
            .ok_or_else(|| format!("the ID-JAG issuer {issuer} publishes no jwks_uri"))?;
        let cache = auth_core::JwksCache::new(
            &jwks_uri,
            Arc::new(self.http.clone()),
            JwksCacheConfig::default(),
        )
        .map_err(|e| format!("the key set of {issuer}: {e}"))?;
        JwtVerifier::builder()
            .issuer(issuer)
            .audience(self.audience.clone())
            .require_type(ID_JAG_TYPE)
            .leeway(LEEWAY)
            .claims_config(self.claims.clone())
            .jwks(Arc::new(cache))
            .build()
            .map(Arc::new)
            .map_err(|e| format!("a verifier for {issuer}: {e}"))
    }
}

/// The identity assertion grant.
pub(crate) async fn jwt_bearer(
    server: &AuthorizationServer,
    client: &ClientRecord,
    params: &FormParams,
) -> Result<Response, OAuthFailure> {
    let Some(trusted) = &server.id_jag else {
        return Err(OAuthFailure::UnsupportedGrantType);
    };
    require_grant_type(client, JWT_BEARER)?;
    // A public client proves nothing by its id: anyone holding a leaked assertion could redeem it.
    if client.token_endpoint_auth_method == "none" {
        return Err(OAuthFailure::UnauthorizedClient(
            "the identity assertion grant is for confidential clients only; register with \
             client_secret_basic or client_secret_post",
        ));
    }
    let assertion = params.require("assertion")?;
    if params
        .get("resource")
        .is_some_and(|r| !same_resource(r, &server.config.resource))
    {
        return Err(OAuthFailure::InvalidTarget(
            "the only resource this server issues tokens for is its /mcp endpoint",
        ));
    }
    let issuer = auth_core::parse_unverified(assertion)
        .ok()
        .and_then(|parsed| {
            parsed
                .claim("iss")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .ok_or(OAuthFailure::InvalidGrant(
            "the assertion is not a JWT with an issuer",
        ))?;
    let verifier = match trusted.verifier(&issuer).await {
        None => {
            tracing::info!(issuer = %issuer, client_id = %client.client_id, "ID-JAG from an untrusted issuer");
            return Err(OAuthFailure::InvalidGrant(
                "the assertion's issuer is not trusted by this server",
            ));
        }
        Some(Err(detail)) => return Err(OAuthFailure::Unavailable(detail)),
        Some(Ok(verifier)) => verifier,
    };
    let now = now_millis() / 1000;
    let context = verifier
        .verify_at(assertion, i64::try_from(now).unwrap_or(i64::MAX))
        .await
        .map_err(refusal)?;
    let claims = context.claims();
    if claims.client_id.as_deref() != Some(client.client_id.as_str()) {
        return Err(OAuthFailure::InvalidGrant(
            "the assertion was issued for another client",
        ));
    }
    match claims.extra.get("resource") {
        None => {}
        Some(serde_json::Value::String(resource))
            if same_resource(resource, &server.config.resource) => {}
        Some(_) => {
            return Err(OAuthFailure::InvalidTarget(
                "the assertion was issued for another resource",
            ));
        }
    }
    let (Some(issued_at), Some(expires_at)) = (claims.issued_at, claims.expires_at) else {
        return Err(OAuthFailure::InvalidGrant(
            "the assertion must say when it was issued (iat) and when it expires (exp)",
        ));
    };
    if expires_at
        .checked_sub(issued_at)
        .is_none_or(|lifetime| !(0..=MAX_LIFETIME_SECS).contains(&lifetime))
    {
        return Err(OAuthFailure::InvalidGrant(
            "the assertion lives longer than the 10 minutes accepted",
        ));
    }
    let jti = claims
        .jwt_id
        .as_deref()
        .filter(|jti| !jti.is_empty())
        .ok_or(OAuthFailure::InvalidGrant(
            "the assertion has no jti, so its single use cannot be checked",
        ))?;

    let scope = assertion_scope(
        server,
        client,
        params,
        &claims.scopes.to_string(),
        &claims.groups,
    )?;
    // Claimed last, so that a refused request does not spend the assertion; kept until the
    // assertion could no longer be accepted anyway.
    let remaining = u64::try_from(expires_at)
        .unwrap_or(0)
        .saturating_sub(now)
        .saturating_add(LEEWAY.as_secs())
        .max(1);
    let key = format!(
        "id-jag:{}",
        TokenHash::of(&format!("{issuer}\n{jti}")).as_str()
    );
    let first = server
        .store
        .claim(&key, Duration::from_secs(remaining))
        .await
        .map_err(from_store)?;
    if !first {
        tracing::warn!(issuer = %issuer, client_id = %client.client_id, "ID-JAG presented again");
        return Err(OAuthFailure::InvalidGrant("the assertion was already used"));
    }

    let grant = RefreshGrant {
        family_id: random_token(),
        client_id: client.client_id.clone(),
        subject: context.subject().to_owned(),
        groups: claims.groups.clone(),
        username: claims.preferred_username.clone(),
        email: claims
            .extra
            .get("email")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        scope,
        resource: Some(server.config.resource.clone()),
        // No IdP token stands behind this grant.
        upstream_id: String::new(),
        created_at: now_millis(),
    };
    // The grant lives as long as its one access token; its refresh token is never handed out.
    let created = server
        .store
        .create_refresh_family(
            &grant,
            &TokenHash::of(&random_token()),
            server.config.access_token_ttl,
        )
        .await
        .map_err(from_store)?;
    if !created {
        return Err(server_error(format!(
            "grant id {} of an ID-JAG already exists",
            grant.family_id
        )));
    }
    let issued = mint(server, &grant, &grant.scope, &grant.groups).await?;
    tracing::info!(
        client_id = %grant.client_id,
        grant = %grant.family_id,
        issuer = %issuer,
        "issued an access token for an identity assertion (ID-JAG)"
    );
    Ok(token_response(&issued, &grant.scope, None))
}

/// The scopes granted: those asked for (`scope`, else the assertion's, else the defaults),
/// offered here and registered by the client (as for the authorization code), within the
/// assertion's when it names any, and allowed to `groups` by the scope rules.
fn assertion_scope(
    server: &AuthorizationServer,
    client: &ClientRecord,
    params: &FormParams,
    asserted: &str,
    groups: &[String],
) -> Result<String, OAuthFailure> {
    let asked = params
        .get("scope")
        .or_else(|| (!asserted.is_empty()).then_some(asserted));
    let asked = granted_scope(server, client.scope.as_deref(), asked).map_err(|_| {
        OAuthFailure::InvalidScope(
            "a requested scope is not offered by this server or not registered by this client",
        )
    })?;
    if !asserted.is_empty()
        && !asked
            .split_whitespace()
            .all(|scope| asserted.split_whitespace().any(|s| s == scope))
    {
        return Err(OAuthFailure::InvalidScope(
            "a requested scope is not in the assertion",
        ));
    }
    let granted = server.allowed_scope(&asked, groups);
    if granted.is_empty() {
        return Err(OAuthFailure::InvalidScope(
            "the user's groups may hold none of the requested scopes",
        ));
    }
    Ok(granted)
}

/// The OAuth answer to an assertion the verifier refused.
fn refusal(error: AuthError) -> OAuthFailure {
    OAuthFailure::InvalidGrant(match error {
        AuthError::Expired { .. } => "the assertion has expired",
        AuthError::NotYetValid { .. } | AuthError::IssuedInFuture { .. } => {
            "the assertion is not valid yet"
        }
        AuthError::InvalidAudience(_) => "the assertion was issued for another audience",
        AuthError::InvalidType(_) => {
            "the assertion is not an identity assertion (typ oauth-id-jag+jwt)"
        }
        AuthError::InvalidSignature(_) | AuthError::UnknownKey(_) => {
            "the assertion's signature does not verify with its issuer's keys"
        }
        _ => "the assertion is not valid",
    })
}
