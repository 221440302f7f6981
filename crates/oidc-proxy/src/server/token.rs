//! `POST /token`: the `authorization_code` grant (PKCE S256, the code's client, redirect URI
//! and resource) and the `refresh_token` grant (rotation with reuse detection, optional
//! down-scoping), each answering our access token and, for clients that registered the
//! `refresh_token` grant, a refresh token `<family_id>.<random>`; and the identity assertion
//! grant ([`super::id_jag`]).
//!
//! A replayed code or a reused refresh token revokes the grant (and its IdP tokens). Before a
//! refresh the IdP's token is refreshed if it is close to expiry; a grant the IdP ended is
//! revoked and answered `invalid_grant`. Requests are rate limited per client address and per
//! client ([`super::limits`]).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::client_addr::ClientAddr;
use crate::records::{
    AuthorizationCode, ClientRecord, RedeemOutcome, RefreshAnswer, RefreshGrant, RotateOutcome,
    Secret, TokenHash, now_millis,
};
use crate::tokens::{AccessTokenRequest, IssuedToken};
use crate::upstream::{pkce_challenge, random_token};

use super::AuthorizationServer;
use super::client_auth::{FormParams, OAuthFailure, authenticate_client, from_store, server_error};
use super::grants::GrantError;
use super::limits::{self, Endpoint};
use super::responses::no_store;

/// `POST /token`.
pub(crate) async fn token(
    State(server): State<Arc<AuthorizationServer>>,
    client_addr: Option<ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&server, client_addr, &headers, &body).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(),
    }
}

async fn exchange(
    server: &AuthorizationServer,
    client_addr: Option<ClientAddr>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthFailure> {
    limits::check_address(server, Endpoint::Token, client_addr).await?;
    let params = FormParams::parse(headers, body)?;
    let grant_type = params.require("grant_type")?;
    let client = authenticate_client(server, headers, &params).await?;
    limits::check_client(server, Endpoint::Token, &client, client_addr).await?;
    match grant_type {
        "authorization_code" => authorization_code(server, &client, &params).await,
        "refresh_token" => refresh_token(server, &client, &params).await,
        super::id_jag::JWT_BEARER => super::id_jag::jwt_bearer(server, &client, &params).await,
        _ => Err(OAuthFailure::UnsupportedGrantType),
    }
}

async fn authorization_code(
    server: &AuthorizationServer,
    client: &ClientRecord,
    params: &FormParams,
) -> Result<Response, OAuthFailure> {
    require_grant_type(client, "authorization_code")?;
    let code = params.require("code")?;
    // Checked before the code is spent: a malformed request should not burn it.
    let verifier = params.require("code_verifier")?;
    if !is_pkce_verifier(verifier) {
        return Err(OAuthFailure::InvalidRequest(
            "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)"
                .to_owned(),
        ));
    }
    let record = match server
        .store
        .redeem_code(&TokenHash::of(code))
        .await
        .map_err(from_store)?
    {
        RedeemOutcome::Redeemed(record) => record,
        RedeemOutcome::AlreadyRedeemed { grant_id } => {
            // RFC 6749 §4.1.2: the code leaked; what its first use issued is revoked.
            tracing::warn!(
                client_id = %client.client_id,
                grant = %grant_id,
                "authorization code used twice: revoking the grant it issued"
            );
            let revoked = server.revoke_grant(&grant_id).await.map_err(from_store)?;
            // A first use that failed (wrong verifier, another client) spent the code but
            // issued nothing: say so rather than claim tokens were revoked.
            return Err(OAuthFailure::InvalidGrant(if revoked {
                "the authorization code was already used; the tokens it gave are revoked"
            } else {
                "the authorization code was already spent by an earlier, refused attempt; \
                 start the sign-in again"
            }));
        }
        _ => {
            return Err(OAuthFailure::InvalidGrant(
                "the authorization code is invalid or expired",
            ));
        }
    };
    if let Err(failure) = check_code(server, client, params, verifier, &record) {
        // The code is spent and nobody will use the IdP tokens obtained for it.
        server
            .discard_upstream_tokens(&record.upstream_id)
            .await
            .map_err(from_store)?;
        return Err(failure);
    }

    let grant = RefreshGrant {
        family_id: record.grant_id,
        client_id: record.client_id,
        subject: record.subject,
        groups: record.groups,
        username: record.username,
        email: record.email,
        scope: record.scope,
        resource: record.resource,
        upstream_id: record.upstream_id,
        created_at: now_millis(),
    };
    // The family is the grant our access tokens point at (`sid`), with or without a refresh
    // token handed out.
    let refresh = new_refresh_token(&grant.family_id);
    let created = server
        .store
        .create_refresh_family(
            &grant,
            &TokenHash::of(&refresh),
            server.config.refresh_token_ttl,
        )
        .await
        .map_err(from_store)?;
    if !created {
        return Err(server_error(format!(
            "grant id {} of a fresh code already exists",
            grant.family_id
        )));
    }
    let issued = match mint(server, &grant, &grant.scope, &grant.groups).await {
        Ok(issued) => issued,
        Err(failure) => {
            // No token left here: the grant would only linger.
            server
                .revoke_grant(&grant.family_id)
                .await
                .map_err(from_store)?;
            return Err(failure);
        }
    };
    tracing::info!(
        client_id = %grant.client_id,
        grant = %grant.family_id,
        "issued tokens for an authorization code"
    );
    let refresh = has_grant_type(client, "refresh_token").then_some(refresh.as_str());
    Ok(token_response(&issued, &grant.scope, refresh))
}

/// The checks of RFC 6749 §4.1.3, RFC 7636 §4.6 and RFC 8707 §2.2 on a redeemed code.
fn check_code(
    server: &AuthorizationServer,
    client: &ClientRecord,
    params: &FormParams,
    verifier: &str,
    record: &AuthorizationCode,
) -> Result<(), OAuthFailure> {
    if record.client_id != client.client_id {
        return Err(OAuthFailure::InvalidGrant(
            "the authorization code was issued to another client",
        ));
    }
    match params.get("redirect_uri") {
        Some(uri) if uri == record.redirect_uri => {}
        Some(_) => {
            return Err(OAuthFailure::InvalidGrant(
                "redirect_uri differs from the one of the authorization request",
            ));
        }
        // It may be left out only when the authorization request could leave it out too.
        None if client.redirect_uris == [record.redirect_uri.as_str()] => {}
        None => {
            return Err(OAuthFailure::InvalidRequest(
                "parameter redirect_uri is required".to_owned(),
            ));
        }
    }
    if !constant_time_eq(
        pkce_challenge(verifier).as_bytes(),
        record.code_challenge.as_bytes(),
    ) {
        return Err(OAuthFailure::InvalidGrant(
            "code_verifier does not match the code_challenge",
        ));
    }
    if let Some(resource) = params.get("resource") {
        let granted = record
            .resource
            .as_deref()
            .unwrap_or(&server.config.resource);
        // The rule of /authorize: a trailing slash is not a different resource.
        if resource.trim_end_matches('/') != granted.trim_end_matches('/') {
            return Err(OAuthFailure::InvalidTarget(
                "resource differs from the one of the authorization request",
            ));
        }
    }
    Ok(())
}

async fn refresh_token(
    server: &AuthorizationServer,
    client: &ClientRecord,
    params: &FormParams,
) -> Result<Response, OAuthFailure> {
    require_grant_type(client, "refresh_token")?;
    let presented = params.require("refresh_token")?;
    let Some(family_id) = refresh_family_id(presented) else {
        return Err(OAuthFailure::InvalidGrant(
            "the refresh token is invalid or expired",
        ));
    };
    let grace = server.config.refresh_reuse_grace;
    if grace.is_zero() {
        return rotate(server, client, params, presented, family_id).await;
    }
    // With a reuse grace, one rotation per refresh token: whoever claims it rotates and
    // keeps the answer; the same token presented meanwhile, or again within the window,
    // gets that answer. Clients that refresh from several processes at once stay signed in.
    let hash = TokenHash::of(presented);
    let claim = format!("refresh:{}", hash.as_str());
    let deadline = tokio::time::Instant::now() + REFRESH_WAIT;
    loop {
        if let Some(answer) = kept_answer(server, client, &hash, family_id).await? {
            return Ok(answer_response(&answer));
        }
        if server
            .store
            .claim(&claim, REFRESH_CLAIM_TTL)
            .await
            .map_err(from_store)?
        {
            // The other holder may have kept its answer and let go between the look above and
            // this claim: its answer stands, rotating again would be taken for reuse.
            let result = match kept_answer(server, client, &hash, family_id).await {
                Ok(Some(answer)) => Ok(answer_response(&answer)),
                Ok(None) => rotate(server, client, params, presented, family_id).await,
                Err(failure) => Err(failure),
            };
            // Given up after the answer is kept (or on failure, so a retry may rotate).
            if let Err(e) = server.store.release(&claim).await {
                tracing::warn!(error = %e, "releasing a refresh claim failed; it expires by itself");
            }
            return result;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(OAuthFailure::Unavailable(
                "another refresh with this token is still in progress; try again".to_owned(),
            ));
        }
        tokio::time::sleep(REFRESH_POLL).await;
    }
}

/// The answer kept for the refresh token hashed to `hash` of `family_id`, if its window is
/// open, its rotation happened and the grant still lives; answered only to the client it was
/// issued to.
async fn kept_answer(
    server: &AuthorizationServer,
    client: &ClientRecord,
    hash: &TokenHash,
    family_id: &str,
) -> Result<Option<RefreshAnswer>, OAuthFailure> {
    let Some(answer) = server
        .store
        .get_refresh_answer(hash)
        .await
        .map_err(from_store)?
        .filter(|answer| answer.family_id == family_id)
    else {
        return Ok(None);
    };
    match server
        .store
        .get_refresh_family(family_id)
        .await
        .map_err(from_store)?
    {
        Some(family) if family.revoked => {
            Err(OAuthFailure::InvalidGrant("the refresh token was revoked"))
        }
        Some(family) if family.grant.client_id != client.client_id => Err(
            OAuthFailure::InvalidGrant("the refresh token was issued to another client"),
        ),
        // Kept ahead of a rotation that has not happened (yet, or at all): no answer.
        Some(family) if family.current_hash.same_as(hash) => Ok(None),
        Some(_) => Ok(Some(answer)),
        None => Err(OAuthFailure::InvalidGrant(
            "the refresh token is invalid or expired",
        )),
    }
}

/// One rotation of the refresh token `presented` of `family_id`: reuse detection, the
/// user's groups re-read, new tokens minted; with a reuse grace, the answer is kept.
async fn rotate(
    server: &AuthorizationServer,
    client: &ClientRecord,
    params: &FormParams,
    presented: &str,
    family_id: &str,
) -> Result<Response, OAuthFailure> {
    let invalid = OAuthFailure::InvalidGrant("the refresh token is invalid or expired");
    let Some(family) = server
        .store
        .get_refresh_family(family_id)
        .await
        .map_err(from_store)?
    else {
        return Err(invalid);
    };
    if family.grant.client_id != client.client_id {
        return Err(OAuthFailure::InvalidGrant(
            "the refresh token was issued to another client",
        ));
    }
    if family.revoked {
        return Err(OAuthFailure::InvalidGrant("the refresh token was revoked"));
    }
    let scope = match params.get("scope") {
        None => Some(family.grant.scope.clone()),
        Some(requested) => narrowed_scope(&family.grant.scope, requested),
    };
    let wider_scope =
        || OAuthFailure::InvalidScope("the requested scope exceeds the scope of the grant");
    // Checks that can fail come before the rotation, so a refused request leaves the current
    // token usable: the scope, then the IdP's token (if the IdP cannot be reached, the client
    // tries again later with the same refresh token). A superseded token goes straight to
    // the rotation, whose reuse detection must not be skipped by any other refusal.
    // The user's groups now decide which scopes the new tokens carry (scope rules): a user
    // removed from a group loses its scopes here, at the next refresh.
    let mut groups = None;
    if family.current_hash.matches(presented) {
        if scope.is_none() {
            return Err(wider_scope());
        }
        groups = Some(
            server
                .current_groups(&family.grant)
                .await
                .map_err(grant_failure)?,
        );
    }

    let next = new_refresh_token(family_id);
    let presented_hash = TokenHash::of(presented);
    // With a reuse grace the answer is kept before the rotation: a store that does not answer
    // in time may still carry the rotation out (a paused Redis runs what it was sent once it
    // resumes), and the client's retry must then get the tokens that rotation stands for
    // rather than be taken for a reuse. Until the rotation happens, the kept answer is none.
    let grace = server.config.refresh_reuse_grace;
    let mut answered_ahead = None;
    if let (false, Some(groups), Some(scope)) = (grace.is_zero(), &groups, &scope) {
        let (issued, scope) =
            refreshed_tokens(server, client, family_id, &family.grant, scope, groups).await?;
        keep_answer(server, &presented_hash, family_id, &issued, &next, &scope)
            .await
            .map_err(from_store)?;
        answered_ahead = Some((issued, scope));
    }
    let outcome = server
        .store
        .rotate_refresh(family_id, &presented_hash, &TokenHash::of(&next))
        .await
        .map_err(from_store)?;
    let family = match outcome {
        RotateOutcome::Rotated(family) => family,
        RotateOutcome::Reused => {
            // RFC 9700 §4.14.2: a superseded token came back, so it leaked; end the grant.
            tracing::warn!(
                client_id = %client.client_id,
                grant = family_id,
                "refresh token reused: revoking the grant"
            );
            server.revoke_grant(family_id).await.map_err(from_store)?;
            return Err(OAuthFailure::InvalidGrant(
                "the refresh token was already used; the grant is revoked",
            ));
        }
        RotateOutcome::Revoked => {
            return Err(OAuthFailure::InvalidGrant("the refresh token was revoked"));
        }
        _ => return Err(invalid),
    };
    if let Some((issued, scope)) = answered_ahead {
        return Ok(token_response(&issued, &scope, Some(&next)));
    }
    let scope = scope.ok_or_else(wider_scope)?;
    let groups = match groups {
        Some(groups) => groups,
        // Rotated although it was not the current token when read: another request rotated
        // in between. Ask now rather than trust the sign-in's groups.
        None => server
            .current_groups(&family.grant)
            .await
            .map_err(grant_failure)?,
    };
    let (issued, scope) =
        refreshed_tokens(server, client, family_id, &family.grant, &scope, &groups).await?;
    if !grace.is_zero()
        && let Err(e) =
            keep_answer(server, &presented_hash, family_id, &issued, &next, &scope).await
    {
        // The rotation stands: answering it beats losing it. The token presented again
        // will be taken for reuse.
        tracing::warn!(grant = family_id, error = %e, "keeping a refresh answer for the reuse grace failed");
    }
    Ok(token_response(&issued, &scope, Some(&next)))
}

/// Our access token for a refresh of `family_id`: the grant's `scope` as far as the user's
/// `groups` allow it now (scope rules), and that scope.
async fn refreshed_tokens(
    server: &AuthorizationServer,
    client: &ClientRecord,
    family_id: &str,
    grant: &RefreshGrant,
    scope: &str,
    groups: &[String],
) -> Result<(IssuedToken, String), OAuthFailure> {
    let allowed = server.allowed_scope(scope, groups);
    if allowed != scope {
        tracing::info!(
            client_id = %client.client_id,
            grant = family_id,
            scope = %allowed,
            "the user's groups no longer allow every scope of the grant; refreshed with fewer"
        );
    }
    let issued = mint(server, grant, &allowed, groups).await?;
    Ok((issued, allowed))
}

/// Keeps what presenting the token hashed to `presented` again within the reuse grace
/// answers: `issued`, `next`.
async fn keep_answer(
    server: &AuthorizationServer,
    presented: &TokenHash,
    family_id: &str,
    issued: &IssuedToken,
    next: &str,
    scope: &str,
) -> Result<(), crate::error::StoreError> {
    let answer = RefreshAnswer {
        family_id: family_id.to_owned(),
        access_token: issued.token.clone(),
        expires_at: issued.expires_at,
        refresh_token: Secret::new(next.to_owned()),
        scope: scope.to_owned(),
    };
    server
        .store
        .put_refresh_answer(presented, &answer, server.config.refresh_reuse_grace)
        .await
}

/// How long a refresh claim lasts if its holder never gives it up (a crashed replica).
const REFRESH_CLAIM_TTL: Duration = Duration::from_secs(30);
/// How long a refresh waits for another one with the same token before asking the client to
/// try again.
const REFRESH_WAIT: Duration = Duration::from_secs(20);
/// How often a waiting refresh looks for the other one's answer.
const REFRESH_POLL: Duration = Duration::from_millis(25);

/// The answer kept for a refresh token, given again.
fn answer_response(answer: &RefreshAnswer) -> Response {
    let body = TokenResponse {
        access_token: answer.access_token.expose(),
        token_type: "Bearer",
        expires_in: answer.expires_at.saturating_sub(now_millis() / 1000),
        scope: &answer.scope,
        refresh_token: Some(answer.refresh_token.expose()),
    };
    let mut response = axum::Json(body).into_response();
    no_store(&mut response);
    response
}

/// What a client is told when the grant's IdP tokens cannot be had.
fn grant_failure(e: GrantError) -> OAuthFailure {
    match e {
        GrantError::Dead(_) => {
            OAuthFailure::InvalidGrant("the sign-in at the identity provider ended; sign in again")
        }
        GrantError::Unavailable(e) => OAuthFailure::Unavailable(e.to_string()),
        GrantError::Store(e) => from_store(e),
    }
}

/// Mints our access token for `grant` with `scope`, naming `groups` as the user's.
pub(super) async fn mint(
    server: &AuthorizationServer,
    grant: &RefreshGrant,
    scope: &str,
    groups: &[String],
) -> Result<IssuedToken, OAuthFailure> {
    let request = AccessTokenRequest {
        subject: grant.subject.clone(),
        client_id: grant.client_id.clone(),
        audience: grant
            .resource
            .clone()
            .unwrap_or_else(|| server.config.resource.clone()),
        scope: scope.to_owned(),
        groups: groups.to_vec(),
        grant_id: grant.family_id.clone(),
        username: grant.username.clone(),
        email: grant.email.clone(),
    };
    server.tokens.mint(&request).await.map_err(server_error)
}

/// The successful answer (RFC 6749 §5.1), never cached.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

pub(super) fn token_response(
    issued: &IssuedToken,
    scope: &str,
    refresh_token: Option<&str>,
) -> Response {
    let body = TokenResponse {
        access_token: issued.token.expose(),
        token_type: "Bearer",
        expires_in: issued.expires_at.saturating_sub(now_millis() / 1000),
        scope,
        refresh_token,
    };
    let mut response = axum::Json(body).into_response();
    no_store(&mut response);
    response
}

fn has_grant_type(client: &ClientRecord, grant_type: &str) -> bool {
    client.grant_types.iter().any(|g| g == grant_type)
}

pub(super) fn require_grant_type(
    client: &ClientRecord,
    grant_type: &str,
) -> Result<(), OAuthFailure> {
    if has_grant_type(client, grant_type) {
        return Ok(());
    }
    Err(OAuthFailure::UnauthorizedClient(match grant_type {
        "refresh_token" => "the client did not register the refresh_token grant",
        super::id_jag::JWT_BEARER => {
            "the client did not register the identity assertion grant \
             (urn:ietf:params:oauth:grant-type:jwt-bearer)"
        }
        _ => "the client did not register the authorization_code grant",
    }))
}

/// A new refresh token of the family: its id, a dot, 256 random bits.
fn new_refresh_token(family_id: &str) -> String {
    format!("{family_id}.{}", random_token())
}

/// The family id of a refresh token of ours (`<family_id>.<random>`), if it has that shape.
pub(crate) fn refresh_family_id(token: &str) -> Option<&str> {
    let (family, random) = token.split_once('.')?;
    (!family.is_empty() && !random.is_empty() && !random.contains('.')).then_some(family)
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn is_pkce_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// `requested` (space-separated, duplicates dropped) if every scope of it was granted.
fn narrowed_scope(granted: &str, requested: &str) -> Option<String> {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    let mut narrowed: Vec<&str> = Vec::new();
    for scope in requested.split_whitespace() {
        if !granted.contains(&scope) {
            return None;
        }
        if !narrowed.contains(&scope) {
            narrowed.push(scope);
        }
    }
    Some(narrowed.join(" "))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_token_shape() {
        assert_eq!(refresh_family_id("fam.rand"), Some("fam"));
        assert_eq!(refresh_family_id("fam."), None);
        assert_eq!(refresh_family_id(".rand"), None);
        assert_eq!(refresh_family_id("a.b.c"), None);
        assert_eq!(refresh_family_id("nodot"), None);
        let token = new_refresh_token("f1");
        assert_eq!(refresh_family_id(&token), Some("f1"));
    }

    #[test]
    fn scope_can_only_narrow() {
        let granted = "splunk:read splunk:search";
        assert_eq!(
            narrowed_scope(granted, "splunk:read splunk:read").as_deref(),
            Some("splunk:read")
        );
        assert_eq!(narrowed_scope(granted, "splunk:admin"), None);
        assert_eq!(
            narrowed_scope(granted, "splunk:search splunk:read").as_deref(),
            Some("splunk:search splunk:read")
        );
    }

    #[test]
    fn pkce_verifier_format() {
        assert!(is_pkce_verifier(&"a".repeat(43)));
        assert!(!is_pkce_verifier(&"a".repeat(42)));
        assert!(!is_pkce_verifier(&"a".repeat(129)));
        assert!(!is_pkce_verifier(&format!("{}+", "a".repeat(43))));
        assert!(is_pkce_verifier(&random_token()));
    }
}
