//! `GET /authorize` and `POST /consent`: the client's authorization request, checked, then the
//! user's consent, then the redirect to the IdP.
//!
//! Until the client and its redirect URI are known good, every error is a page of ours
//! (redirecting to an unchecked URI would make this server an open redirector). After that,
//! errors go back to the client (RFC 6749 §4.1.2.1) with `state` and `iss` (RFC 9207).
//!
//! The pending authorization lives in the store under a random consent id until the user
//! answers; consent moves it under a fresh upstream `state` (created only now, single use,
//! bound to the browser) with the PKCE verifier and nonce toward the IdP.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::cookies::BrowserBinding;
use super::html::ConsentPage;
use super::responses::{error_page, redirect_to_client, see_other};
use super::{AuthorizationServer, CONSENT_PATH, ClientLookupError};
use crate::records::{AuthorizationTransaction, TokenHash, UpstreamRequest, now_millis};
use crate::redirect::redirect_uri_matches;
use crate::upstream::{Pkce, random_token};

/// Longest parameter value accepted (state, login_hint, scope...): bounds what is stored.
const MAX_PARAM_LEN: usize = 2048;

/// `GET /authorize` (RFC 6749 §4.1.1 with PKCE, RFC 8707 `resource`).
pub(crate) async fn authorize(
    State(server): State<Arc<AuthorizationServer>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.as_deref().unwrap_or(""));

    // Who is asking, and where the answer may go: errors here never redirect.
    let (client_id, redirect_uri) = match (
        params.single("client_id"),
        params.single("redirect_uri"),
    ) {
        (Ok(Some(c)), Ok(Some(r))) => (c, r),
        (Ok(None), _) => {
            return bad_request(
                "Missing client_id",
                "The application's sign-in link has no client_id. Report this to the application's developers.",
            );
        }
        (Ok(Some(_)), Ok(None)) => {
            return bad_request(
                "Missing redirect URI",
                "The application's sign-in link has no redirect_uri. Report this to the application's developers.",
            );
        }
        _ => {
            return bad_request(
                "Invalid sign-in request",
                "The sign-in link repeats client_id or redirect_uri. Report this to the application's developers.",
            );
        }
    };
    let client = match server.find_client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return bad_request(
                "Unknown application",
                "This application is not registered with this server (it may have been removed). \
                 Remove the server from the application and add it again so it registers anew.",
            );
        }
        Err(ClientLookupError::Cimd(e)) => {
            tracing::info!(error = %e, "client metadata document unusable");
            return bad_request(
                "Application metadata unavailable",
                &format!("The application's metadata document could not be used: {e}"),
            );
        }
        Err(ClientLookupError::Store(e)) => {
            tracing::error!(error = %e, "looking up a client failed");
            return store_failure();
        }
    };
    if !redirect_uri_matches(&client.redirect_uris, redirect_uri) {
        tracing::info!(client_id = %client.client_id, "authorization request with an unregistered redirect URI");
        return bad_request(
            "Redirect URI not registered",
            "The application asked to be answered at an address it did not register, so this \
             server will not send you there. Report this to the application's developers.",
        );
    }

    // From here on errors go back to the client.
    let client_state = match params.single("state") {
        Ok(state) => state,
        // A repeated state cannot be echoed faithfully: send none.
        Err(_) => {
            return to_client_error(
                &server,
                redirect_uri,
                None,
                "invalid_request",
                "parameter state is repeated",
            );
        }
    };
    let reply = |code: &str, description: &str| {
        to_client_error(&server, redirect_uri, client_state, code, description)
    };
    if let Some(name) = params.repeated() {
        let code = if name == "resource" {
            "invalid_target"
        } else {
            "invalid_request"
        };
        return reply(code, &format!("parameter {name} is repeated"));
    }
    if let Some(name) = params.too_long() {
        return reply(
            "invalid_request",
            &format!("parameter {name} is longer than {MAX_PARAM_LEN} characters"),
        );
    }
    match params.get("response_type") {
        None => return reply("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => {
            return reply(
                "unsupported_response_type",
                "only response_type=code is supported",
            );
        }
    }
    let Some(code_challenge) = params.get("code_challenge") else {
        return reply(
            "invalid_request",
            "code_challenge is required (PKCE with code_challenge_method=S256)",
        );
    };
    // RFC 7636 §4.2: a missing method means plain, which OAuth 2.1 servers refuse.
    if params.get("code_challenge_method") != Some("S256") {
        return reply(
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)",
        );
    }
    if !is_s256_challenge(code_challenge) {
        return reply(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters)",
        );
    }
    if let Some(resource) = params.get("resource")
        && !same_resource(resource, &server.config.resource)
    {
        return reply(
            "invalid_target",
            &format!(
                "this server only issues tokens for {}",
                server.config.resource
            ),
        );
    }
    let scope = match granted_scope(&server, client.scope.as_deref(), params.get("scope")) {
        Ok(scope) => scope,
        Err(description) => return reply("invalid_scope", &description),
    };

    let binding = server.browser_binding(&headers);
    let csrf = random_token();
    let transaction = AuthorizationTransaction {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        client_state: client_state.map(str::to_owned),
        scope,
        // Absent means the one resource this server protects: tokens are always for it.
        resource: Some(server.config.resource.clone()),
        code_challenge: code_challenge.to_owned(),
        browser_binding: Some(binding.hash()),
        csrf_hash: Some(TokenHash::of(&csrf)),
        login_hint: params.get("login_hint").map(str::to_owned),
        upstream: None,
        created_at: now_millis(),
    };

    if server
        .remembered_consent(&headers, &client.client_id)
        .is_some_and(|c| c.covers(&transaction.scope))
    {
        tracing::debug!(client_id = %client.client_id, "consent remembered by this browser");
        let mut response = continue_upstream(&server, transaction, None).await;
        set_binding_cookie(&server, &binding, &mut response);
        return response;
    }

    let consent_id = random_token();
    if let Err(e) = server
        .store
        .put_transaction(&consent_id, &transaction, server.config.transaction_ttl)
        .await
    {
        tracing::error!(error = %e, "storing an authorization request failed");
        return store_failure();
    }
    let action = format!("{}{CONSENT_PATH}", server.config.base_url);
    let mut response = ConsentPage {
        client: &client,
        redirect_uri,
        scope: &transaction.scope,
        action: &action,
        consent_id: &consent_id,
        csrf: &csrf,
    }
    .render();
    set_binding_cookie(&server, &binding, &mut response);
    response
}

/// `POST /consent`: the user's answer (form fields `consent_id`, `csrf`, `decision`).
pub(crate) async fn consent(
    State(server): State<Arc<AuthorizationServer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Params::parse(&String::from_utf8_lossy(&body));
    let Some(consent_id) = form.get("consent_id").filter(|_| form.repeated().is_none()) else {
        return bad_request(
            "Invalid consent answer",
            "The answer did not name a sign-in request. Start again from your application.",
        );
    };
    let transaction = match server.store.get_transaction(consent_id).await {
        // A transaction already sent upstream is keyed by its state, never a consent id.
        Ok(Some(t)) if t.upstream.is_none() => t,
        Ok(_) => return expired(),
        Err(e) => {
            tracing::error!(error = %e, "reading an authorization request failed");
            return store_failure();
        }
    };
    // Checked before the transaction is taken, so a forged post cannot spend it.
    let same_browser = server
        .presented_binding(&headers)
        .is_some_and(|b| b.matches(transaction.browser_binding.as_ref()));
    let csrf_ok = match (form.get("csrf"), &transaction.csrf_hash) {
        (Some(csrf), Some(hash)) => hash.matches(csrf),
        _ => false,
    };
    if !same_browser || !csrf_ok {
        tracing::warn!(
            client_id = %transaction.client_id,
            same_browser,
            csrf_ok,
            "consent answer refused: not from the browser that was asked"
        );
        return error_page(
            StatusCode::FORBIDDEN,
            "Consent not accepted",
            "This answer did not come from the page this server showed in this browser. \
             Go back to the consent page in the browser where you started, or start again \
             from your application.",
        );
    }
    let approve = match form.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return bad_request(
                "Invalid consent answer",
                "The answer was neither Allow nor Deny. Go back and choose one.",
            );
        }
    };
    let transaction = match server.store.take_transaction(consent_id).await {
        Ok(Some(t)) => t,
        Ok(None) => return expired(),
        Err(e) => {
            tracing::error!(error = %e, "taking an authorization request failed");
            return store_failure();
        }
    };
    if !approve {
        tracing::info!(client_id = %transaction.client_id, "user denied consent");
        return to_client_error(
            &server,
            &transaction.redirect_uri,
            transaction.client_state.as_deref(),
            "access_denied",
            "the user denied the request",
        );
    }
    // Remember the union with what this browser approved for the client before.
    let mut remembered = server
        .remembered_consent(&headers, &transaction.client_id)
        .map(|c| c.scope)
        .unwrap_or_default();
    for scope in transaction.scope.split_whitespace() {
        if !remembered.split_whitespace().any(|s| s == scope) {
            if !remembered.is_empty() {
                remembered.push(' ');
            }
            remembered.push_str(scope);
        }
    }
    let cookie = server.consent_cookie(&transaction.client_id, &remembered);
    continue_upstream(&server, transaction, cookie).await
}

/// After consent (given now or remembered): a fresh upstream `state`, PKCE pair and nonce,
/// the transaction stored under that state, and the browser sent to the IdP.
async fn continue_upstream(
    server: &AuthorizationServer,
    mut transaction: AuthorizationTransaction,
    consent_cookie: Option<HeaderValue>,
) -> Response {
    let state = random_token();
    let pkce = Pkce::generate();
    let nonce = random_token();
    // Built first: an IdP that cannot be reached is told to the client before anything is kept.
    let url = match server
        .upstream
        .authorization_url_with_hint(
            &state,
            &nonce,
            &pkce.challenge,
            transaction.login_hint.as_deref(),
        )
        .await
    {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(error = %e, "the identity provider cannot be reached for a sign-in");
            return to_client_error(
                server,
                &transaction.redirect_uri,
                transaction.client_state.as_deref(),
                "temporarily_unavailable",
                "the identity provider cannot be reached; try again",
            );
        }
    };
    transaction.upstream = Some(UpstreamRequest {
        pkce_verifier: pkce.verifier.clone(),
        nonce: nonce.clone(),
    });
    transaction.csrf_hash = None;
    if let Err(e) = server
        .store
        .put_transaction(&state, &transaction, server.config.transaction_ttl)
        .await
    {
        tracing::error!(error = %e, "storing an authorization request failed");
        return to_client_error(
            server,
            &transaction.redirect_uri,
            transaction.client_state.as_deref(),
            "temporarily_unavailable",
            "the authorization server could not save the request; try again",
        );
    }
    let mut response = see_other(url.as_str());
    if let Some(cookie) = consent_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// An error sent back to the client's (validated) redirect URI, with `state` and `iss`.
pub(crate) fn to_client_error(
    server: &AuthorizationServer,
    redirect_uri: &str,
    client_state: Option<&str>,
    code: &str,
    description: &str,
) -> Response {
    let mut params = vec![("error", code), ("error_description", description)];
    if let Some(state) = client_state {
        params.push(("state", state));
    }
    params.push(("iss", server.issuer()));
    redirect_to_client(redirect_uri, &params)
}

fn set_binding_cookie(
    server: &AuthorizationServer,
    binding: &BrowserBinding,
    response: &mut Response,
) {
    if let Some(cookie) = server.binding_cookie(binding) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// The scopes to grant: those asked for, each offered by this server and, when the client
/// registered a scope, within it; the defaults (so limited) when none were asked for.
pub(super) fn granted_scope(
    server: &AuthorizationServer,
    registered: Option<&str>,
    requested: Option<&str>,
) -> Result<String, String> {
    let allowed_for_client =
        |s: &str| registered.is_none_or(|r| r.split_whitespace().any(|x| x == s));
    let requested: Vec<&str> = requested
        .map(|r| r.split_whitespace().collect())
        .unwrap_or_default();
    if requested.is_empty() {
        let defaults: Vec<&str> = server
            .config
            .default_scopes
            .iter()
            .map(String::as_str)
            .filter(|s| allowed_for_client(s))
            .collect();
        if defaults.is_empty() {
            return Err("no scope requested and no default scope applies to this client".into());
        }
        return Ok(defaults.join(" "));
    }
    let mut granted: Vec<&str> = Vec::with_capacity(requested.len());
    for scope in requested {
        if !server.config.scopes_supported.iter().any(|s| s == scope) {
            return Err(format!(
                "unknown scope {scope}; this server offers: {}",
                server.config.scopes_supported.join(" ")
            ));
        }
        if !allowed_for_client(scope) {
            return Err(format!("scope {scope} was not registered by this client"));
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted.join(" "))
}

/// RFC 8707 resources compare as URLs; a trailing slash is not a different resource.
pub(super) fn same_resource(presented: &str, ours: &str) -> bool {
    presented.trim_end_matches('/') == ours.trim_end_matches('/')
}

/// The S256 challenge is the base64url (no padding) of 32 bytes: exactly 43 characters.
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn bad_request(title: &str, detail: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, title, detail)
}

fn expired() -> Response {
    bad_request(
        "Sign-in expired",
        "This sign-in request has expired or was already answered. Start again from your application.",
    )
}

pub(crate) fn store_failure() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The authorization server could not reach its storage. Try again in a moment; if it \
         persists, tell the server's administrator.",
    )
}

/// Query or form parameters, remembering repeats (RFC 6749 §3.1: none may appear twice).
pub(crate) struct Params {
    values: HashMap<String, Vec<String>>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text.
    pub(crate) fn parse(encoded: &str) -> Self {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(encoded.as_bytes()) {
            values
                .entry(name.into_owned())
                .or_default()
                .push(value.into_owned());
        }
        Self { values }
    }

    /// The value of a parameter given once and not empty (an empty value counts as absent,
    /// RFC 6749 §3.1); `Err` when repeated.
    pub(crate) fn single(&self, name: &str) -> Result<Option<&str>, ()> {
        match self.values.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([one]) => Ok(Some(one.as_str()).filter(|v| !v.is_empty())),
            Some(_) => Err(()),
        }
    }

    /// The first non-empty value of a parameter (callers check [`Params::repeated`]).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The name of a parameter given more than once, if any.
    pub(crate) fn repeated(&self) -> Option<&str> {
        let mut names: Vec<&str> = self
            .values
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(n, _)| n.as_str())
            .collect();
        names.sort_unstable();
        names.first().copied()
    }

    fn too_long(&self) -> Option<&str> {
        self.values
            .iter()
            .find(|(_, v)| v.iter().any(|v| v.len() > MAX_PARAM_LEN))
            .map(|(n, _)| n.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_detect_repeats_and_empties() {
        let p = Params::parse("a=1&b=&c=2&c=3");
        assert_eq!(p.single("a"), Ok(Some("1")));
        assert_eq!(p.single("b"), Ok(None));
        assert_eq!(p.single("c"), Err(()));
        assert_eq!(p.repeated(), Some("c"));
        assert_eq!(p.get("z"), None);
    }

    #[test]
    fn s256_challenge_shape() {
        assert!(is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_s256_challenge("short"));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }

    #[test]
    fn resources_ignore_trailing_slash() {
        assert!(same_resource("https://x/mcp/", "https://x/mcp"));
        assert!(!same_resource("https://x/other", "https://x/mcp"));
    }
}
