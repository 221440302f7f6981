//! `GET /auth/callback`: the IdP sends the browser back here. The `state` is taken from the
//! store (single use) and must belong to this browser; the IdP's code is exchanged (PKCE,
//! nonce checked), the IdP's tokens are kept encrypted for the grant, and the client gets our
//! own single-use authorization code with its `state` and our `iss` (RFC 9207).

use std::sync::Arc;

use auth_core::ScopeSet;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::AuthorizationServer;
use super::authorize::{Params, store_failure, to_client_error};
use super::responses::{error_page, redirect_to_client};
use crate::records::{AuthorizationCode, TokenHash, now_millis};
use crate::upstream::random_token;

/// Longest IdP error text logged.
const MAX_LOGGED_ERROR: usize = 200;

/// `GET /auth/callback` (`state`, then `code` or `error`).
pub(crate) async fn callback(
    State(server): State<Arc<AuthorizationServer>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or(""));
    let Ok(Some(state)) = params.single("state") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid sign-in response",
            "The identity provider's answer has no usable state. Start again from your application.",
        );
    };
    let transaction = match server.store.take_transaction(state).await {
        // A consent id is not a state: it has no upstream request.
        Ok(Some(t)) if t.upstream.is_some() => t,
        Ok(_) => {
            tracing::info!("callback with an unknown, expired or already used state");
            return error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in expired or already completed",
                "This sign-in response is unknown, expired or was already used. Start again \
                 from your application.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "taking an authorization request failed");
            return store_failure();
        }
    };
    // The transaction is spent either way: a state that reached another browser is dead.
    let same_browser = server
        .presented_binding(&headers)
        .is_some_and(|b| b.matches(transaction.browser_binding.as_ref()));
    if !same_browser {
        tracing::warn!(client_id = %transaction.client_id, "callback from a browser other than the one that consented");
        return error_page(
            StatusCode::FORBIDDEN,
            "Sign-in not completed",
            "This sign-in was started in another browser (or this browser's cookies were \
             cleared), so it cannot be completed here. Start again from your application in \
             this browser.",
        );
    }
    let client_state = transaction.client_state.as_deref();
    let reply = |code: &str, description: &str| {
        to_client_error(
            &server,
            &transaction.redirect_uri,
            client_state,
            code,
            description,
        )
    };

    if let Some(error) = params.get("error") {
        let description: String = params
            .get("error_description")
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_LOGGED_ERROR)
            .collect();
        let error: String = error.chars().take(64).collect();
        tracing::info!(client_id = %transaction.client_id, idp_error = %error, idp_error_description = %description, "the IdP refused the sign-in");
        let (code, text) = client_error_for_idp_error(&error);
        return reply(code, text);
    }
    let Some(upstream_request) = transaction.upstream.as_ref() else {
        return reply("server_error", "the sign-in request is incomplete");
    };
    let Ok(Some(idp_code)) = params.single("code") else {
        tracing::warn!("the IdP's callback has neither a code nor an error");
        return reply(
            "server_error",
            "the identity provider answered without an authorization code",
        );
    };
    let login = match server
        .upstream
        .exchange_code(
            idp_code,
            upstream_request.pkce_verifier.expose(),
            &upstream_request.nonce,
        )
        .await
    {
        Ok(login) => login,
        Err(e) => {
            // The error's text never holds a token: safe to log, not to send.
            tracing::warn!(client_id = %transaction.client_id, error = %e, "exchanging the IdP's code failed");
            return if e.is_transport() || e.oauth_code() == Some("temporarily_unavailable") {
                reply(
                    "temporarily_unavailable",
                    "the identity provider could not be reached; try again",
                )
            } else {
                reply(
                    "server_error",
                    "signing in at the identity provider failed; the server's log has details",
                )
            };
        }
    };

    // Scope rules: the grant holds only the requested scopes this user's groups allow.
    let identity = login.identity;
    let scope = server.allowed_scope(&transaction.scope, &identity.groups);
    server.warn_once_without_groups(&identity);
    if scope.is_empty() && !transaction.scope.trim().is_empty() {
        let refused = ScopeSet::parse(&transaction.scope).unwrap_or_default();
        let why: Vec<String> = refused
            .iter()
            .map(|scope| server.config.scope_rules.explain(scope))
            .collect();
        tracing::info!(client_id = %transaction.client_id, subject = %identity.subject, scope = %transaction.scope, "signed in, but may hold none of the requested scopes");
        server.upstream.revoke_login(&login.tokens).await;
        return reply(
            "invalid_scope",
            &format!(
                "{} may not hold the requested scope(s): {}",
                identity.subject,
                why.join("; ")
            ),
        );
    }

    let upstream_id = random_token();
    if let Err(e) = server
        .store
        .put_upstream_tokens(
            &upstream_id,
            &login.tokens,
            Some(server.config.refresh_token_ttl),
        )
        .await
    {
        tracing::error!(error = %e, "storing the IdP's tokens failed");
        return reply(
            "temporarily_unavailable",
            "the authorization server could not save the sign-in; try again",
        );
    }
    let code = random_token();
    let record = AuthorizationCode {
        grant_id: random_token(),
        client_id: transaction.client_id.clone(),
        redirect_uri: transaction.redirect_uri.clone(),
        code_challenge: transaction.code_challenge.clone(),
        scope,
        resource: transaction.resource.clone(),
        subject: identity.subject,
        groups: identity.groups,
        username: identity.preferred_username,
        email: identity.email,
        upstream_id,
        issued_at: now_millis(),
    };
    if let Err(e) = server
        .store
        .put_code(&TokenHash::of(&code), &record, server.config.code_ttl)
        .await
    {
        tracing::error!(error = %e, "storing an authorization code failed");
        return reply(
            "temporarily_unavailable",
            "the authorization server could not save the sign-in; try again",
        );
    }
    tracing::info!(client_id = %record.client_id, subject = %record.subject, "signed in; code issued");
    let mut answer = vec![("code", code.as_str())];
    if let Some(state) = client_state {
        answer.push(("state", state));
    }
    answer.push(("iss", server.issuer()));
    redirect_to_client(&transaction.redirect_uri, &answer)
}

/// What the client is told when the IdP refused: the user's refusal stays a refusal, the
/// IdP's trouble stays temporary, and errors about *our* request to the IdP (its
/// configuration, not the client's) become `server_error`.
fn client_error_for_idp_error(error: &str) -> (&'static str, &'static str) {
    match error {
        "temporarily_unavailable" => (
            "temporarily_unavailable",
            "the identity provider is temporarily unavailable; try again",
        ),
        "server_error" => (
            "server_error",
            "the identity provider failed to complete the sign-in",
        ),
        "invalid_request"
        | "unauthorized_client"
        | "unsupported_response_type"
        | "invalid_scope"
        | "invalid_target"
        | "invalid_client" => (
            "server_error",
            "the identity provider refused this server's request; tell the server's administrator",
        ),
        _ => (
            "access_denied",
            "the sign-in at the identity provider was refused or cancelled",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idp_errors_keep_their_meaning() {
        assert_eq!(
            client_error_for_idp_error("access_denied").0,
            "access_denied"
        );
        assert_eq!(
            client_error_for_idp_error("login_required").0,
            "access_denied"
        );
        assert_eq!(
            client_error_for_idp_error("temporarily_unavailable").0,
            "temporarily_unavailable"
        );
        assert_eq!(
            client_error_for_idp_error("invalid_scope").0,
            "server_error"
        );
    }
}
