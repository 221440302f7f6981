//! What `/token` and `/revoke` share: the form body (RFC 6749 §3.2: form-urlencoded, no
//! parameter twice), client authentication (RFC 6749 §2.3) by the client's registered
//! `token_endpoint_auth_method`, and the OAuth error answers (RFC 6749 §5.2).

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use crate::records::ClientRecord;

use super::responses::oauth_error;
use super::{AuthorizationServer, ClientLookupError};

/// Why a request to `/token` or `/revoke` fails: each variant is one OAuth error code. The
/// descriptions are sent to the client; internal details (server errors) only logged.
#[derive(Debug)]
pub(crate) enum OAuthFailure {
    /// `invalid_request` (400): a parameter missing, repeated or malformed.
    InvalidRequest(String),
    /// `invalid_client` (401): unknown client, wrong secret, or not its registered method.
    InvalidClient {
        /// Sent as `error_description`.
        description: String,
        /// Whether HTTP Basic was tried: the answer then carries `WWW-Authenticate: Basic`.
        basic: bool,
    },
    /// `invalid_grant` (400): a bad, spent, revoked or foreign code or refresh token.
    InvalidGrant(&'static str),
    /// `invalid_target` (400, RFC 8707): a `resource` other than the one granted.
    InvalidTarget(&'static str),
    /// `invalid_scope` (400): more scope than was granted.
    InvalidScope(&'static str),
    /// `unauthorized_client` (400): the client did not register this grant type.
    UnauthorizedClient(&'static str),
    /// `unsupported_grant_type` (400).
    UnsupportedGrantType,
    /// `temporarily_unavailable` (503): the IdP cannot be reached; the detail is logged.
    Unavailable(String),
    /// The store cannot be reached now (logged detail).
    StoreUnavailable(String),
    /// `temporarily_unavailable` (429 with `Retry-After`): over a rate limit.
    RateLimited {
        /// Sent as `error_description`.
        description: String,
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// `server_error` (500): the store failed; the detail is logged.
    Server(String),
}

impl OAuthFailure {
    fn invalid_client(basic: bool, description: impl Into<String>) -> Self {
        Self::InvalidClient {
            description: description.into(),
            basic,
        }
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let bad = StatusCode::BAD_REQUEST;
        match self {
            Self::InvalidRequest(d) => oauth_error(bad, "invalid_request", &d),
            Self::InvalidClient { description, basic } => {
                let mut response =
                    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &description);
                if basic {
                    // RFC 6749 §5.2: a failed Authorization header gets a challenge for it.
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"splunk-mcp\""),
                    );
                }
                response
            }
            Self::InvalidGrant(d) => oauth_error(bad, "invalid_grant", d),
            Self::InvalidTarget(d) => oauth_error(bad, "invalid_target", d),
            Self::InvalidScope(d) => oauth_error(bad, "invalid_scope", d),
            Self::UnauthorizedClient(d) => oauth_error(bad, "unauthorized_client", d),
            Self::UnsupportedGrantType => oauth_error(
                bad,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            ),
            Self::StoreUnavailable(detail) => {
                tracing::warn!(%detail, "OAuth endpoint: the store cannot be reached");
                oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the authorization server cannot reach its store; try again shortly",
                )
            }
            Self::Unavailable(detail) => {
                tracing::warn!(%detail, "OAuth endpoint: the identity provider is unavailable");
                oauth_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the identity provider cannot be reached; try again later",
                )
            }
            // `temporarily_unavailable` rather than RFC 8628's `slow_down`: `slow_down` belongs
            // to device-code polling (it means "poll 5 s slower") and the TypeScript MCP SDK
            // does not know it, so it would take it for a server error, give up the refresh
            // and send the user to sign in again. `temporarily_unavailable` is an RFC 6749
            // code it maps to its own error and hands to the caller with the tokens kept; the
            // 429 and `Retry-After` say how long to wait. DCR answers the same way.
            Self::RateLimited {
                description,
                retry_after_secs,
            } => {
                let mut response = oauth_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "temporarily_unavailable",
                    &description,
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
                response
            }
            Self::Server(detail) => {
                tracing::error!(%detail, "OAuth endpoint failed");
                oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "the authorization server failed; try again later",
                )
            }
        }
    }
}

/// An internal failure, answered `server_error`.
pub(crate) fn server_error(error: impl std::fmt::Display) -> OAuthFailure {
    OAuthFailure::Server(error.to_string())
}

/// A store failure: `temporarily_unavailable` (503) when the store cannot be reached now
/// (Redis down, paused or slow), so clients try again; else `server_error`.
pub(crate) fn from_store(error: crate::error::StoreError) -> OAuthFailure {
    if error.is_unavailable() {
        OAuthFailure::StoreUnavailable(error.to_string())
    } else {
        server_error(error)
    }
}

/// The parameters of a form-urlencoded request body, each present at most once.
#[derive(Debug)]
pub(crate) struct FormParams(HashMap<String, String>);

impl FormParams {
    /// Parses the body; refuses another content type and repeated parameters.
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthFailure> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthFailure::InvalidRequest(
                "the request body must be application/x-www-form-urlencoded".to_owned(),
            ));
        }
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if params.contains_key(name.as_ref()) {
                let shown: String = name.chars().take(40).collect();
                return Err(OAuthFailure::InvalidRequest(format!(
                    "parameter {shown} is repeated; send each parameter once"
                )));
            }
            params.insert(name.into_owned(), value.into_owned());
        }
        Ok(Self(params))
    }

    /// A parameter's value; an empty one counts as absent (RFC 6749 §3.2).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A parameter that must be present.
    pub(crate) fn require(&self, name: &'static str) -> Result<&str, OAuthFailure> {
        self.get(name)
            .ok_or_else(|| OAuthFailure::InvalidRequest(format!("parameter {name} is required")))
    }
}

/// Authenticates the client of a `/token` or `/revoke` request by the method it registered:
/// `client_secret_basic` (HTTP Basic), `client_secret_post` (secret in the body) or `none`
/// (a public client: `client_id` in the body, no secret). Clients come from registration or
/// from their metadata document (those are public).
pub(crate) async fn authenticate_client(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    params: &FormParams,
) -> Result<ClientRecord, OAuthFailure> {
    let basic = basic_credentials(headers)?;
    let tried_basic = basic.is_some();
    let form_id = params.get("client_id");
    let form_secret = params.get("client_secret");
    let (client_id, secret, method) = match basic {
        Some((id, secret)) => {
            // RFC 6749 §2.3: a client uses one authentication method per request.
            if form_secret.is_some() {
                return Err(OAuthFailure::InvalidRequest(
                    "send the client secret once: in the Authorization header or in the body, not both"
                        .to_owned(),
                ));
            }
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthFailure::invalid_client(
                    true,
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            (id, Some(secret), "client_secret_basic")
        }
        None => match (form_id, form_secret) {
            (Some(id), Some(secret)) => {
                (id.to_owned(), Some(secret.to_owned()), "client_secret_post")
            }
            (Some(id), None) => (id.to_owned(), None, "none"),
            (None, _) => {
                return Err(OAuthFailure::invalid_client(
                    false,
                    "client authentication is required: HTTP Basic credentials, or client_id \
                     (and client_secret for a confidential client) in the body",
                ));
            }
        },
    };

    let client = match server.find_client(&client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            tracing::info!(%client_id, "client authentication failed: unknown client");
            return Err(OAuthFailure::invalid_client(
                tried_basic,
                "unknown client: register it again",
            ));
        }
        Err(ClientLookupError::Store(e)) => return Err(server_error(e)),
        Err(ClientLookupError::Cimd(e)) => {
            tracing::info!(%client_id, error = %e, "client authentication failed: metadata document");
            return Err(OAuthFailure::invalid_client(
                tried_basic,
                "the client's metadata document could not be used",
            ));
        }
    };
    if client.token_endpoint_auth_method != method {
        tracing::info!(
            %client_id,
            used = method,
            registered = %client.token_endpoint_auth_method,
            "client authentication failed: not the registered method"
        );
        return Err(OAuthFailure::invalid_client(
            tried_basic,
            format!(
                "the client must authenticate with its registered method {}",
                client.token_endpoint_auth_method
            ),
        ));
    }
    let authenticated = match (&client.secret_hash, &secret) {
        (Some(hash), Some(secret)) => hash.matches(secret),
        (None, None) => true,
        _ => false,
    };
    if !authenticated {
        tracing::info!(%client_id, "client authentication failed: wrong secret");
        return Err(OAuthFailure::invalid_client(
            tried_basic,
            "client authentication failed",
        ));
    }
    Ok(client)
}

/// The client id and secret of an `Authorization: Basic` header, each form-urlencoded before
/// Base64 (RFC 6749 §2.3.1). `None` without such a header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthFailure> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthFailure::invalid_client(true, "the Basic credentials are malformed");
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    let secret = form_decode(secret).ok_or_else(malformed)?;
    if id.is_empty() {
        return Err(malformed());
    }
    Ok(Some((id, secret)))
}

/// Decodes one form-urlencoded component (`+` is a space, `%XX` a byte); `None` if the result
/// is not UTF-8. A `%` not followed by two hex digits stays as it is, as browsers do.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_of_basic_parts() {
        assert_eq!(form_decode("a+b%3Ac%25").as_deref(), Some("a b:c%"));
        assert_eq!(form_decode("100%").as_deref(), Some("100%"));
        assert_eq!(form_decode("%zz%4").as_deref(), Some("%zz%4"));
        assert_eq!(form_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(form_decode("%FF"), None);
    }

    #[test]
    fn basic_header_parsing() {
        let mut headers = HeaderMap::new();
        assert!(basic_credentials(&headers).unwrap().is_none());
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%3Aid:s%2Bcr+t");
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("basic {encoded}")).unwrap(),
        );
        let (id, secret) = basic_credentials(&headers).unwrap().unwrap();
        assert_eq!((id.as_str(), secret.as_str()), ("my:id", "s+cr t"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic %%%"));
        assert!(matches!(
            basic_credentials(&headers),
            Err(OAuthFailure::InvalidClient { basic: true, .. })
        ));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(basic_credentials(&headers).unwrap().is_none());
    }

    #[test]
    fn form_params_refuse_repeats_and_other_types() {
        let mut headers = HeaderMap::new();
        assert!(FormParams::parse(&headers, b"a=1").is_err());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        let params = FormParams::parse(&headers, b"a=1&b=&c=x+y").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some("x y"));
        assert!(matches!(
            FormParams::parse(&headers, b"a=1&a=1"),
            Err(OAuthFailure::InvalidRequest(_))
        ));
    }
}
