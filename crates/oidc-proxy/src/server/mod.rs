//! The authorization server's endpoints, put together: [`AuthorizationServer`] holds the store,
//! our token issuer and the upstream IdP client, and [`AuthorizationServer::router`] serves
//! metadata, `/register`, `/authorize`, `/consent`, `/auth/callback`, `/token`, `/revoke` and
//! `/jwks.json`. [`ProxyTokenVerifier`] checks our tokens at `/mcp`.
//!
//! The flow: `/authorize` validates the client and its redirect URI, stores a transaction and
//! shows the consent page (or skips it when a signed cookie remembers consent for that client);
//! `/consent` moves the transaction under a fresh upstream `state` and sends the browser to the
//! IdP; `/auth/callback` exchanges the IdP's code, keeps the IdP's tokens (encrypted) and
//! redirects to the client with our own single-use code; `/token` redeems it for our access
//! token and a rotating refresh token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use auth_core::ScopeRules;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ring::hmac;

use crate::cimd::{CimdConfig, CimdError, CimdResolver};
use crate::error::StoreError;
use crate::metadata::{
    AUTHORIZE_PATH, AuthorizationServerMetadata, METADATA_PATH, MetadataError, REVOKE_PATH,
    TOKEN_PATH,
};
use crate::rate_limit::EndpointLimits;
use crate::records::ClientRecord;
use crate::registration::{RegistrationConfig, RegistrationState, registration_router};
use crate::store::Store;
use crate::tokens::{TokenIssuer, jwks_router};
use crate::upstream::{UpstreamClient, UpstreamIdentity};

mod access;
mod authorize;
mod callback;
mod client_auth;
mod cookies;
mod grants;
mod html;
mod id_jag;
mod limits;
mod responses;
mod revoke;
mod token;

pub use access::ProxyTokenVerifier;
pub use id_jag::JWT_BEARER;

/// Where the consent form posts.
pub const CONSENT_PATH: &str = "/consent";

/// Where the IdP sends the browser back; register `<base_url>/auth/callback` at the IdP.
pub const CALLBACK_PATH: &str = "/auth/callback";

/// Settings of the authorization server. [`ProxyConfig::new`] gives the defaults.
#[derive(Clone)]
pub struct ProxyConfig {
    /// Public base URL of this server: the issuer, and the base of every endpoint.
    pub base_url: String,
    /// The protected resource (`<base_url>/mcp`): the only RFC 8707 `resource` accepted, and
    /// the `aud` of every token issued.
    pub resource: String,
    /// Scopes clients may ask for (advertised in the metadata).
    pub scopes_supported: Vec<String>,
    /// Scopes granted when a client asks for none.
    pub default_scopes: Vec<String>,
    /// Lifetime of our access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh-token family (a grant), however often it rotates.
    pub refresh_token_ttl: Duration,
    /// Lifetime of our authorization codes (at most 60 s).
    pub code_ttl: Duration,
    /// How long a started authorization may wait for consent and for the IdP's callback.
    pub transaction_ttl: Duration,
    /// How long the signed cookie remembers a browser's consent to a client; zero asks every time.
    pub consent_remember: Duration,
    /// Whether cookies carry `Secure` (true unless the base URL is plain http, as in tests).
    pub secure_cookies: bool,
    /// Dynamic client registration settings.
    pub registration: RegistrationConfig,
    /// Client ID metadata documents; `None` refuses URL client ids.
    pub cimd: Option<CimdConfig>,
    /// How early before its expiry the IdP's access token is refreshed when a call needs it.
    pub upstream_refresh_margin: Duration,
    /// Who may hold which scope: a grant carries only the requested scopes the signed-in
    /// user's groups allow, decided at sign-in and again at every refresh.
    pub scope_rules: Arc<ScopeRules>,
    /// How long a rotated refresh token still gets the same successor tokens (presented
    /// again, or at the same moment by another process of the client); past it, presenting it
    /// is reuse and revokes the grant. Zero turns the grace off.
    pub refresh_reuse_grace: Duration,
    /// Rate limits of `/token`, per client address and per client.
    pub token_limits: EndpointLimits,
    /// Rate limits of `/revoke`, per client address and per client.
    pub revoke_limits: EndpointLimits,
    /// Issuers whose identity assertions (ID-JAG) `/token` accepts; empty turns the grant off.
    pub id_jag_issuers: Vec<String>,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("base_url", &self.base_url)
            .field("resource", &self.resource)
            .field("scopes_supported", &self.scopes_supported)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("cimd", &self.cimd.is_some())
            .field("scope_rules", &self.scope_rules.to_string())
            .field("refresh_reuse_grace", &self.refresh_reuse_grace)
            .field("token_limits", &self.token_limits)
            .field("revoke_limits", &self.revoke_limits)
            .finish_non_exhaustive()
    }
}

impl ProxyConfig {
    /// Defaults for a server at `base_url` protecting `<base_url>/mcp`: 1 h access tokens,
    /// 30-day grants, 60 s codes, 10 min to finish signing in, consent remembered 30 days,
    /// client ID metadata documents accepted, the rate limits of
    /// [`EndpointLimits::TOKEN_DEFAULT`] and [`EndpointLimits::REVOKE_DEFAULT`].
    pub fn new(base_url: &str, scopes_supported: Vec<String>) -> Self {
        let base = base_url.trim_end_matches('/').to_owned();
        let mut registration = RegistrationConfig::default();
        registration.scopes_supported.clone_from(&scopes_supported);
        let cimd = CimdConfig {
            redirect_policy: registration.redirect_policy.clone(),
            ..CimdConfig::default()
        };
        Self {
            resource: format!("{base}/mcp"),
            secure_cookies: base.starts_with("https://"),
            base_url: base,
            default_scopes: scopes_supported.clone(),
            scopes_supported,
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            code_ttl: Duration::from_secs(60),
            transaction_ttl: Duration::from_secs(600),
            consent_remember: Duration::from_secs(30 * 24 * 3600),
            registration,
            cimd: Some(cimd),
            upstream_refresh_margin: Duration::from_secs(30),
            scope_rules: Arc::new(ScopeRules::new()),
            refresh_reuse_grace: Duration::from_secs(30),
            token_limits: EndpointLimits::TOKEN_DEFAULT,
            revoke_limits: EndpointLimits::REVOKE_DEFAULT,
            id_jag_issuers: Vec::new(),
        }
    }
}

/// Why the authorization server could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The base URL cannot be an issuer.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The resource is not under the base URL.
    #[error("the protected resource {resource} must be a URL under the base URL {base_url}")]
    Resource {
        /// The configured resource.
        resource: String,
        /// The configured base URL.
        base_url: String,
    },
    /// The key for signing cookies is too short.
    #[error("the cookie signing key must be at least 32 bytes")]
    CookieKey,
    /// The client for the ID-JAG issuers' keys cannot be built.
    #[error("the HTTP client for the ID-JAG issuers: {0}")]
    IdJag(String),
}

/// Why a client id could not be looked up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientLookupError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The client id is a URL and its metadata document could not be used.
    #[error(transparent)]
    Cimd(#[from] CimdError),
}

/// The authorization server of `proxy` mode. Build once, share behind an `Arc`.
pub struct AuthorizationServer {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) tokens: Arc<TokenIssuer>,
    pub(crate) upstream: Arc<UpstreamClient>,
    pub(crate) cimd: Option<CimdResolver>,
    pub(crate) config: ProxyConfig,
    pub(crate) metadata: AuthorizationServerMetadata,
    /// Signs cookies (browser binding, remembered consent).
    pub(crate) cookie_key: hmac::Key,
    /// One upstream refresh at a time per grant in this process.
    pub(crate) upstream_refreshes: grants::RefreshLocks,
    /// The trusted ID-JAG issuers, when the grant is on.
    pub(crate) id_jag: Option<id_jag::TrustedIssuers>,
    /// Set once the log has said that the IdP's identities lack the groups claim.
    warned_missing_groups: AtomicBool,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AuthorizationServer {
    /// Puts the server together. `cookie_key` (at least 32 random bytes, the same on every
    /// replica) signs the browser's cookies.
    pub fn new(
        store: Arc<dyn Store>,
        tokens: Arc<TokenIssuer>,
        upstream: Arc<UpstreamClient>,
        config: ProxyConfig,
        cookie_key: &[u8],
    ) -> Result<Self, ProxyError> {
        if cookie_key.len() < 32 {
            return Err(ProxyError::CookieKey);
        }
        let mut metadata =
            AuthorizationServerMetadata::new(&config.base_url, config.scopes_supported.clone())?
                .with_client_id_metadata_documents(config.cimd.is_some());
        let id_jag = if config.id_jag_issuers.is_empty() {
            None
        } else {
            metadata = metadata.with_grant_type(JWT_BEARER);
            // https only, but for loopback (a test IdP), as for every other IdP request.
            let http = auth_core::HttpClient::new(auth_core::HttpClientConfig::default())
                .map_err(|e| ProxyError::IdJag(e.to_string()))?;
            Some(id_jag::TrustedIssuers::new(
                &config.id_jag_issuers,
                &metadata.issuer,
                upstream.groups_claim(),
                http,
            ))
        };
        if !config
            .resource
            .starts_with(&format!("{}/", metadata.issuer))
        {
            return Err(ProxyError::Resource {
                resource: config.resource.clone(),
                base_url: config.base_url.clone(),
            });
        }
        let cimd = config
            .cimd
            .clone()
            .map(|c| CimdResolver::new(store.clone(), c));
        Ok(Self {
            store,
            tokens,
            upstream,
            cimd,
            metadata,
            cookie_key: hmac::Key::new(hmac::HMAC_SHA256, cookie_key),
            upstream_refreshes: grants::RefreshLocks::default(),
            id_jag,
            warned_missing_groups: AtomicBool::new(false),
            config,
        })
    }

    /// The scopes of the space-separated `scope` that a member of `groups` may hold, in the
    /// same form and order.
    pub(crate) fn allowed_scope(&self, scope: &str, groups: &[String]) -> String {
        let rules = &self.config.scope_rules;
        let kept: Vec<&str> = scope
            .split_whitespace()
            .filter(|s| rules.may_hold(s, groups))
            .collect();
        kept.join(" ")
    }

    /// With scope rules in force, says once that the IdP sent no groups claim, so its users
    /// hold only the scopes no rule restricts.
    pub(crate) fn warn_once_without_groups(&self, identity: &UpstreamIdentity) {
        if !self.config.scope_rules.is_empty()
            && !identity.groups_claim_present
            && !self.warned_missing_groups.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                groups_claim = %self.upstream.groups_claim(),
                subject = %identity.subject,
                "the identity provider's ID token (or userinfo) has no groups claim, so its users \
                 hold only the scopes no rule restricts; have the IdP send it, or set \
                 MCP_AUTH_GROUPS_CLAIM (logged once)"
            );
        }
    }

    /// The RFC 8414 metadata served at `/.well-known/oauth-authorization-server`.
    pub fn metadata(&self) -> &AuthorizationServerMetadata {
        &self.metadata
    }

    /// The issuer (`iss` of our tokens, and of the metadata).
    pub fn issuer(&self) -> &str {
        &self.metadata.issuer
    }

    /// The store everything is kept in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Our token issuer (signing keys, JWKS).
    pub fn token_issuer(&self) -> &Arc<TokenIssuer> {
        &self.tokens
    }

    /// The verifier for `/mcp`: our access tokens, with the grant still alive; the context it
    /// returns carries the IdP's access token for passthrough to Splunk.
    pub fn verifier(self: &Arc<Self>) -> ProxyTokenVerifier {
        ProxyTokenVerifier::new(self.clone())
    }

    /// Every endpoint of the authorization server. Registration, `/token` and `/revoke` are
    /// rate limited per client address: the [`crate::ClientAddr`] in the request extensions,
    /// else the peer when served with `into_make_service_with_connect_info::<SocketAddr>()`.
    pub fn router(self: &Arc<Self>) -> Router {
        let registration = registration_router(RegistrationState {
            store: self.store.clone(),
            config: Arc::new(self.config.registration.clone()),
        });
        // Endpoints browsers' JavaScript calls (the MCP Inspector does OAuth from a web page).
        let mut cross_origin = Router::new().route(METADATA_PATH, get(metadata_handler));
        // RFC 8414 §3: an issuer with a path has its metadata at the well-known path + its path.
        let issuer_path = url::Url::parse(&self.metadata.issuer)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        if !issuer_path.is_empty() {
            cross_origin = cross_origin.route(
                &format!("{METADATA_PATH}{issuer_path}"),
                get(metadata_handler),
            );
        }
        let cross_origin = cross_origin
            .route(TOKEN_PATH, post(token::token))
            .route(REVOKE_PATH, post(revoke::revoke))
            .with_state(self.clone())
            .merge(registration)
            .merge(jwks_router(self.tokens.clone()))
            .layer(middleware::from_fn(cors));
        // Endpoints of the browser's navigation: no CORS.
        let navigation = Router::new()
            .route(AUTHORIZE_PATH, get(authorize::authorize))
            .route(CONSENT_PATH, post(authorize::consent))
            .route(CALLBACK_PATH, get(callback::callback))
            .with_state(self.clone());
        cross_origin.merge(navigation)
    }

    /// The client with this id: a registered one from the store, or, for an https URL id, its
    /// metadata document (fetched and cached). `None` when unknown.
    pub(crate) async fn find_client(
        &self,
        client_id: &str,
    ) -> Result<Option<ClientRecord>, ClientLookupError> {
        if let Some(resolver) = &self.cimd
            && resolver.is_url_client_id(client_id)
        {
            return Ok(Some(resolver.resolve(client_id).await?));
        }
        Ok(self.store.get_client(client_id).await?)
    }
}

async fn metadata_handler(State(server): State<Arc<AuthorizationServer>>) -> Response {
    let mut response = axum::Json(&server.metadata).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// CORS for the JSON endpoints: any origin, no cookies (these endpoints use none), preflight
/// answered here.
async fn cors(request: Request, next: Next) -> Response {
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    // A rate-limited page script (the MCP Inspector) can then read when to retry.
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("retry-after"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    response
}
