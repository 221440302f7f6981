//! `POST /revoke` (RFC 7009): a client revokes one of its refresh tokens or access tokens,
//! which ends the whole grant: our tokens of it stop working and the IdP's tokens held for it
//! are revoked at the IdP's revocation endpoint (the IdP's own tokens, never ours).
//!
//! The answer is 200 whether or not the token was known (RFC 7009 §2.2), so it tells nobody
//! which tokens exist; a token of another client is left alone. Requests are rate limited per
//! client address and per client ([`super::limits`]): over a limit the answer is 429 with
//! `Retry-After`, and the client, as after RFC 7009 §2.2.1's 503, must take the token as still
//! valid and try again later.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::client_addr::ClientAddr;
use crate::records::ClientRecord;

use super::AuthorizationServer;
use super::access::grant_id;
use super::client_auth::{FormParams, OAuthFailure, authenticate_client, from_store};
use super::limits::{self, Endpoint};
use super::responses::no_store;
use super::token::refresh_family_id;

/// `POST /revoke`.
pub(crate) async fn revoke(
    State(server): State<Arc<AuthorizationServer>>,
    client_addr: Option<ClientAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&server, client_addr, &headers, &body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(failure) => failure.into_response(),
    }
}

async fn handle(
    server: &Arc<AuthorizationServer>,
    client_addr: Option<ClientAddr>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthFailure> {
    limits::check_address(server, Endpoint::Revoke, client_addr).await?;
    let params = FormParams::parse(headers, body)?;
    let client = authenticate_client(server, headers, &params).await?;
    limits::check_client(server, Endpoint::Revoke, &client, client_addr).await?;
    let token = params.require("token")?;
    // `token_type_hint` is only a hint (RFC 7009 §2.1): the shape tells our two kinds apart,
    // `<family>.<random>` for refresh tokens and a three-part JWS for access tokens.
    let family = match refresh_family_id(token) {
        Some(family_id) => refresh_token_family(server, family_id, token).await?,
        None => access_token_family(server, token).await,
    };
    let Some((family_id, owner)) = family else {
        tracing::debug!(client_id = %client.client_id, "revocation of an unknown token");
        return Ok(());
    };
    if owner != client.client_id {
        tracing::info!(
            client_id = %client.client_id,
            "revocation of another client's token refused (answered 200)"
        );
        return Ok(());
    }
    revoke_family(server, &client, &family_id).await
}

/// The family and client of one of our refresh tokens, if it is the family's current one.
async fn refresh_token_family(
    server: &AuthorizationServer,
    family_id: &str,
    token: &str,
) -> Result<Option<(String, String)>, OAuthFailure> {
    let family = server
        .store
        .get_refresh_family(family_id)
        .await
        .map_err(from_store)?;
    Ok(family
        .filter(|f| f.current_hash.matches(token))
        .map(|f| (f.grant.family_id, f.grant.client_id)))
}

/// The grant (`sid`) and client of one of our valid access tokens.
async fn access_token_family(
    server: &Arc<AuthorizationServer>,
    token: &str,
) -> Option<(String, String)> {
    let context = server.verifier().verify_signed(token).await.ok()?;
    let family_id = grant_id(&context).ok()?.to_owned();
    let client_id = context.client_id()?.to_owned();
    Some((family_id, client_id))
}

async fn revoke_family(
    server: &AuthorizationServer,
    client: &ClientRecord,
    family_id: &str,
) -> Result<(), OAuthFailure> {
    let revoked = server.revoke_grant(family_id).await.map_err(from_store)?;
    if revoked {
        tracing::info!(client_id = %client.client_id, grant = family_id, "grant revoked by its client");
    }
    Ok(())
}
