//! RFC 7591 dynamic client registration: [`register`] (no HTTP framework involved) and the
//! axum handler for `POST /register` ([`registration_router`]).
//!
//! Public clients (`token_endpoint_auth_method: none`) rely on PKCE; confidential ones get a
//! random secret, returned once and stored only as its SHA-256. Registrations are rate limited
//! per client address ([`ClientAddr`]) through [`Store::hit_rate_limit`], so the limit holds
//! across replicas.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client_addr::{ClientAddr, display_addr};
use crate::error::StoreError;
use crate::metadata::REGISTER_PATH;
use crate::rate_limit::{RateLimit, address_key, hit};
use crate::records::{ClientRecord, ClientSource, Secret, TokenHash, now_millis};
use crate::redirect::{ApplicationType, RedirectPolicy};
use crate::store::Store;
use crate::tokens::random_id;

/// Settings of dynamic client registration.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// Rules for redirect URIs.
    pub redirect_policy: RedirectPolicy,
    /// Scopes a client may register for; others are dropped from its `scope` (RFC 7591 §2
    /// lets the server replace requested values). Empty: keep what the client asked.
    pub scopes_supported: Vec<String>,
    /// Largest request body, bytes.
    pub max_body_bytes: usize,
    /// Most redirect URIs per client.
    pub max_redirect_uris: usize,
    /// Longest `client_name`, characters.
    pub max_client_name_chars: usize,
    /// Registrations allowed per client address per window; 0: unlimited.
    pub rate_limit: u64,
    /// The rate-limit window.
    pub rate_window: Duration,
    /// Whether clients may register the identity assertion grant
    /// (`urn:ietf:params:oauth:grant-type:jwt-bearer`), besides the authorization code.
    pub allow_jwt_bearer: bool,
}

impl Default for RegistrationConfig {
    fn default() -> Self {
        Self {
            redirect_policy: RedirectPolicy::new(),
            scopes_supported: Vec::new(),
            max_body_bytes: 16 * 1024,
            max_redirect_uris: 10,
            max_client_name_chars: 100,
            rate_limit: 20,
            rate_window: Duration::from_secs(3600),
            allow_jwt_bearer: false,
        }
    }
}

/// Why a registration was refused (RFC 7591 §3.2.2 error codes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// A redirect URI breaks the rules.
    #[error("{0}")]
    InvalidRedirectUri(String),
    /// Some other metadata is invalid or unsupported.
    #[error("{0}")]
    InvalidClientMetadata(String),
    /// The body is larger than allowed.
    #[error("the registration request exceeds {0} bytes")]
    TooLarge(usize),
    /// Too many registrations from this address.
    #[error("too many registrations from this address; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// Generating the client id or secret failed.
    #[error("the system random number generator failed")]
    Random,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegistrationError {
    /// The RFC 7591 / RFC 6749 `error` code.
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) | Self::TooLarge(_) => "invalid_client_metadata",
            Self::RateLimited { .. } => "temporarily_unavailable",
            Self::Random | Self::Store(_) => "server_error",
        }
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRedirectUri(_) | Self::InvalidClientMetadata(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Random | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `error_description` shown to the client (no internals for server errors).
    pub fn description(&self) -> String {
        match self {
            Self::Random | Self::Store(_) => "the registration could not be stored".to_owned(),
            other => other.to_string(),
        }
    }
}

/// The request fields this server interprets; the rest is kept as sent.
#[derive(Debug, Deserialize)]
struct RegistrationRequest {
    #[serde(default)]
    redirect_uris: Vec<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    application_type: Option<String>,
    client_name: Option<String>,
    scope: Option<String>,
}

/// A successful registration (RFC 7591 §3.2.1). `Debug` redacts the secret.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationResponse {
    /// The new client id.
    pub client_id: String,
    /// Registration time, Unix seconds.
    pub client_id_issued_at: u64,
    /// The client secret (confidential clients only); shown this once, never stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// `0`: the secret does not expire (present only with a secret, as RFC 7591 requires).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Registered client authentication method.
    pub token_endpoint_auth_method: String,
    /// Registered grant types.
    pub grant_types: Vec<String>,
    /// Registered response types.
    pub response_types: Vec<String>,
    /// `web` or `native`.
    pub application_type: String,
    /// Registered name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Registered scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn invalid(message: impl Into<String>) -> RegistrationError {
    RegistrationError::InvalidClientMetadata(message.into())
}

/// Registers a client from a JSON request body at `now` (Unix ms) and stores it.
pub async fn register(
    store: &dyn Store,
    config: &RegistrationConfig,
    body: &[u8],
    now: u64,
) -> Result<RegistrationResponse, RegistrationError> {
    if body.len() > config.max_body_bytes {
        return Err(RegistrationError::TooLarge(config.max_body_bytes));
    }
    let mut metadata: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the request body is not valid JSON: {e}")))?;
    let object = metadata
        .as_object_mut()
        .ok_or_else(|| invalid("the request body must be a JSON object"))?;
    // Secrets are ours to issue; never keep one a client sent.
    object.remove("client_secret");
    object.remove("client_id");
    let request: RegistrationRequest = serde_json::from_value(metadata.clone())
        .map_err(|e| invalid(format!("a registration field has the wrong type: {e}")))?;

    let auth_method = request
        .token_endpoint_auth_method
        .unwrap_or_else(|| "client_secret_basic".to_owned());
    if !matches!(
        auth_method.as_str(),
        "none" | "client_secret_basic" | "client_secret_post"
    ) {
        return Err(invalid(format!(
            "token_endpoint_auth_method {auth_method:?} is not supported; use none, \
             client_secret_basic or client_secret_post"
        )));
    }
    let (grant_types, response_types) = check_grants(
        request.grant_types,
        request.response_types,
        config.allow_jwt_bearer,
    )?;
    if auth_method == "none" && grant_types.iter().any(|g| g == crate::server::JWT_BEARER) {
        return Err(invalid(
            "the identity assertion grant needs a confidential client: register with \
             client_secret_basic or client_secret_post",
        ));
    }
    let app = application_type(request.application_type.as_deref(), &request.redirect_uris)?;
    check_redirect_uris(config, &request.redirect_uris, app)?;
    let client_name = check_client_name(config, request.client_name)?;
    let scope = request.scope.and_then(|s| filter_scope(config, &s));

    let client_id = random_id(18).map_err(|_| RegistrationError::Random)?;
    let secret = if auth_method == "none" {
        None
    } else {
        Some(Secret::new(
            random_id(32).map_err(|_| RegistrationError::Random)?,
        ))
    };
    let record = ClientRecord {
        client_id: client_id.clone(),
        source: ClientSource::Dynamic,
        secret_hash: secret.as_ref().map(|s| TokenHash::of(s.expose())),
        redirect_uris: request.redirect_uris.clone(),
        client_name: client_name.clone(),
        token_endpoint_auth_method: auth_method.clone(),
        application_type: app.as_str().to_owned(),
        grant_types: grant_types.clone(),
        scope: scope.clone(),
        metadata,
        created_at: now,
    };
    store.put_client(&record, None).await?;
    tracing::info!(%client_id, auth_method = %auth_method, "registered a client");
    Ok(RegistrationResponse {
        client_id,
        client_id_issued_at: now / 1000,
        client_secret_expires_at: secret.as_ref().map(|_| 0),
        client_secret: secret,
        redirect_uris: request.redirect_uris,
        token_endpoint_auth_method: auth_method,
        grant_types,
        response_types,
        application_type: app.as_str().to_owned(),
        client_name,
        scope,
    })
}

/// Counts a registration attempt from `ip` (an IPv6 address counts by its /64); refuses once
/// the window's limit is reached.
pub async fn check_rate_limit(
    store: &dyn Store,
    config: &RegistrationConfig,
    ip: Option<IpAddr>,
) -> Result<(), RegistrationError> {
    let limit = RateLimit {
        max: config.rate_limit,
        window: config.rate_window,
    };
    hit(store, &address_key("register", ip), limit)
        .await?
        .map_err(|exceeded| RegistrationError::RateLimited {
            retry_after_secs: exceeded.retry_after_secs,
        })
}

/// Defaults per RFC 7591 §2 and the consistency rule between the two lists (§2.1).
fn check_grants(
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    allow_jwt_bearer: bool,
) -> Result<(Vec<String>, Vec<String>), RegistrationError> {
    let grants = grant_types.unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    let responses = response_types.unwrap_or_else(|| vec!["code".to_owned()]);
    let supported = |g: &str| {
        matches!(g, "authorization_code" | "refresh_token")
            || (allow_jwt_bearer && g == crate::server::JWT_BEARER)
    };
    if let Some(g) = grants.iter().find(|g| !supported(g)) {
        return Err(invalid(format!(
            "grant type {g:?} is not supported; use authorization_code and refresh_token{}",
            if allow_jwt_bearer {
                " (and the identity assertion grant)"
            } else {
                ""
            }
        )));
    }
    if let Some(r) = responses.iter().find(|r| r.as_str() != "code") {
        return Err(invalid(format!(
            "response type {r:?} is not supported; use code"
        )));
    }
    let has_code_grant = grants.iter().any(|g| g == "authorization_code");
    if !has_code_grant || responses.is_empty() {
        return Err(invalid(
            "grant_types must include authorization_code and response_types must be [\"code\"]",
        ));
    }
    Ok((grants, responses))
}

/// The declared application type, or (absent) `web` when every redirect is https to a
/// non-loopback host and `native` otherwise: most MCP clients send none, and a loopback or
/// custom-scheme redirect says native.
fn application_type(
    declared: Option<&str>,
    redirect_uris: &[String],
) -> Result<ApplicationType, RegistrationError> {
    match declared {
        Some(value) => ApplicationType::parse(value).ok_or_else(|| {
            invalid(format!(
                "application_type {value:?} is not supported; use web or native"
            ))
        }),
        None => {
            let web = RedirectPolicy::new();
            let all_web = redirect_uris
                .iter()
                .all(|u| web.validate(u, ApplicationType::Web).is_ok());
            Ok(if all_web {
                ApplicationType::Web
            } else {
                ApplicationType::Native
            })
        }
    }
}

fn check_redirect_uris(
    config: &RegistrationConfig,
    uris: &[String],
    app: ApplicationType,
) -> Result<(), RegistrationError> {
    if uris.is_empty() {
        return Err(RegistrationError::InvalidRedirectUri(
            "redirect_uris is required for the authorization_code grant".to_owned(),
        ));
    }
    if uris.len() > config.max_redirect_uris {
        return Err(RegistrationError::InvalidRedirectUri(format!(
            "at most {} redirect URIs may be registered",
            config.max_redirect_uris
        )));
    }
    for uri in uris {
        config
            .redirect_policy
            .validate(uri, app)
            .map_err(|e| RegistrationError::InvalidRedirectUri(e.to_string()))?;
    }
    Ok(())
}

fn check_client_name(
    config: &RegistrationConfig,
    name: Option<String>,
) -> Result<Option<String>, RegistrationError> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim().to_owned();
    if name.chars().count() > config.max_client_name_chars {
        return Err(invalid(format!(
            "client_name is longer than {} characters",
            config.max_client_name_chars
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("client_name must not contain control characters"));
    }
    Ok((!name.is_empty()).then_some(name))
}

fn filter_scope(config: &RegistrationConfig, scope: &str) -> Option<String> {
    let kept: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| {
            config.scopes_supported.is_empty() || config.scopes_supported.iter().any(|k| k == s)
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join(" "))
}

/// What the `/register` handler needs.
#[derive(Clone)]
pub struct RegistrationState {
    /// Where clients are stored.
    pub store: Arc<dyn Store>,
    /// Registration settings.
    pub config: Arc<RegistrationConfig>,
}

impl std::fmt::Debug for RegistrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A router with `POST /register`. Registrations are limited per [`ClientAddr`]: put one into
/// the request extensions, or serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()` to count per peer address; without
/// either, all callers share one limit.
pub fn registration_router(state: RegistrationState) -> Router {
    Router::new()
        .route(REGISTER_PATH, post(register_handler))
        .with_state(state)
}

/// `POST /register`: 201 with the registration, 400/413 with an RFC 7591 error, 429 with
/// `Retry-After`.
pub async fn register_handler(
    State(state): State<RegistrationState>,
    request: Request,
) -> Response {
    let now = now_millis();
    let client_addr = ClientAddr::from_extensions(request.extensions());
    let ip = client_addr.map(ClientAddr::ip);
    if let Err(e) = check_rate_limit(state.store.as_ref(), &state.config, ip).await {
        if let RegistrationError::RateLimited { retry_after_secs } = e {
            tracing::warn!(
                client_addr = %display_addr(client_addr),
                retry_after_secs,
                "client registrations over the limit for this address (429)"
            );
        }
        return error_response(&e);
    }
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return error_response(&invalid(
            "send the registration as Content-Type: application/json",
        ));
    }
    let limit = state.config.max_body_bytes;
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(_) => return error_response(&RegistrationError::TooLarge(limit)),
    };
    match register(state.store.as_ref(), &state.config, &body, now).await {
        Ok(registered) => {
            let mut response = (StatusCode::CREATED, axum::Json(registered)).into_response();
            no_store(&mut response);
            response
        }
        Err(e) => error_response(&e),
    }
}

/// A client address for logs; `unknown` when the server gave none.
fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn error_response(error: &RegistrationError) -> Response {
    if matches!(
        error,
        RegistrationError::Random | RegistrationError::Store(_)
    ) {
        tracing::error!(error = %error, "client registration failed");
    } else {
        tracing::debug!(error = %error, "client registration refused");
    }
    let body = serde_json::json!({
        "error": error.error_code(),
        "error_description": error.description(),
    });
    let mut response = (error.status(), axum::Json(body)).into_response();
    if let RegistrationError::RateLimited { retry_after_secs } = error {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    no_store(&mut response);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|x| (*x).to_owned()).collect())
    }

    #[test]
    fn grant_and_response_types_must_agree() {
        assert!(check_grants(None, None, false).is_ok());
        assert!(
            check_grants(
                s(&["authorization_code", "refresh_token"]),
                s(&["code"]),
                false
            )
            .is_ok()
        );
        for (g, r) in [
            (s(&["refresh_token"]), None),
            (s(&["implicit"]), s(&["token"])),
            (s(&["client_credentials"]), None),
            (None, s(&["token"])),
            (None, s(&["code", "id_token"])),
            (None, s(&[])),
        ] {
            let e = check_grants(g.clone(), r.clone(), false).unwrap_err();
            assert_eq!(e.error_code(), "invalid_client_metadata", "{g:?} {r:?}");
        }
    }

    #[test]
    fn missing_application_type_is_inferred_from_redirects() {
        let web = vec!["https://claude.ai/api/mcp/auth_callback".to_owned()];
        let native = vec![
            "https://claude.ai/cb".to_owned(),
            "http://127.0.0.1:33418".to_owned(),
        ];
        assert_eq!(application_type(None, &web).unwrap(), ApplicationType::Web);
        assert_eq!(
            application_type(None, &native).unwrap(),
            ApplicationType::Native
        );
        assert_eq!(
            application_type(Some("native"), &web).unwrap(),
            ApplicationType::Native
        );
        assert!(application_type(Some("desktop"), &web).is_err());
    }

    #[test]
    fn scopes_are_filtered_to_supported_ones() {
        let config = RegistrationConfig {
            scopes_supported: vec!["splunk:search".into(), "offline_access".into()],
            ..Default::default()
        };
        assert_eq!(
            filter_scope(&config, "openid splunk:search offline_access"),
            Some("splunk:search offline_access".into())
        );
        assert_eq!(filter_scope(&config, "openid profile"), None);
        assert_eq!(
            filter_scope(&RegistrationConfig::default(), "a b"),
            Some("a b".into())
        );
    }
}
