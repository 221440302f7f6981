//! The upstream client: splunk-mcp as a confidential OAuth client of the company IdP.
//!
//! [`UpstreamClient`] builds the authorization URL (PKCE S256, `nonce`, extra parameters such
//! as Auth0's `audience`), exchanges the code, refreshes and revokes (RFC 7009) at the IdP, and
//! derives the user's [`UpstreamIdentity`] from the validated ID token, else from the userinfo
//! endpoint. Endpoints come from OIDC discovery (issuer checked against the URL) or are given
//! explicitly for plain OAuth IdPs.
//!
//! Upstream access tokens may be opaque or JWE: they are stored and forwarded, never parsed.
//! Only the ID token is read, after its signature (the IdP's JWKS, via auth-core's
//! [`JwtVerifier`]), `iss`, `aud`, `exp` and `nonce` were checked.
//!
//! Why not the `openidconnect`/`oauth2` crates: `oauth2` 5 pulls `sha2` 0.10 and `rand` 0.8
//! (the workspace has 0.11 and 0.10) and its HTTP integration is reqwest 0.12, a second
//! reqwest; `openidconnect` 4 adds its own RSA/ECDSA/EdDSA stack (`rsa`, `p256`, `p384`,
//! `ed25519-dalek`) next to josekit, which auth-core already uses to verify IdP JWTs. The
//! client side of the three grants is a few form posts, so it is written here on reqwest,
//! and ID tokens are verified by the same code that verifies access tokens at `/mcp`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{
    ClaimsConfig, HttpClient, HttpClientConfig, JwksCache, JwksCacheConfig, JwtVerifier,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{ES256, JwsHeader, JwsSigner, RS256};
use josekit::jwt::JwtPayload;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::records::{Secret, UpstreamTokenSet, now_millis};

/// Largest IdP response read (token, userinfo, discovery); real ones are a few kilobytes.
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest IdP error description passed on.
const MAX_DESCRIPTION_CHARS: usize = 200;
/// Parameters this client sets itself in the IdP's authorization request; extra parameters may
/// not override them.
pub const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];
/// Parameters this client sets itself in token requests to the IdP.
pub const RESERVED_TOKEN_PARAMS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "client_id",
    "client_secret",
];

/// Where the IdP's endpoints come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum UpstreamEndpoints {
    /// OIDC discovery (or RFC 8414 metadata) at `config_url`.
    Discovery {
        /// `…/.well-known/openid-configuration` or `…/.well-known/oauth-authorization-server…`.
        config_url: String,
        /// The issuer the document must name; by default the one the URL implies.
        expected_issuer: Option<String>,
    },
    /// Endpoints given one by one, for IdPs without discovery.
    Explicit(ExplicitEndpoints),
}

/// The endpoints of an IdP without discovery.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExplicitEndpoints {
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// RFC 7009 revocation endpoint, if the IdP has one.
    pub revocation_endpoint: Option<String>,
    /// OIDC userinfo endpoint, if any.
    pub userinfo_endpoint: Option<String>,
    /// JWKS URI; with `issuer`, needed to validate ID tokens.
    pub jwks_uri: Option<String>,
    /// The issuer ID tokens carry.
    pub issuer: Option<String>,
}

impl ExplicitEndpoints {
    /// Just the two endpoints every OAuth IdP has.
    pub fn new(
        authorization_endpoint: impl Into<String>,
        token_endpoint: impl Into<String>,
    ) -> Self {
        Self {
            authorization_endpoint: authorization_endpoint.into(),
            token_endpoint: token_endpoint.into(),
            revocation_endpoint: None,
            userinfo_endpoint: None,
            jwks_uri: None,
            issuer: None,
        }
    }
}

/// How the client authenticates at the IdP's token and revocation endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// HTTP Basic (RFC 6749 §2.3.1), the default every IdP must support.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// A JWT signed with this server's private key ([`UpstreamConfig::client_key`]), RFC 7523
    /// `private_key_jwt`: no shared secret.
    PrivateKeyJwt,
}

/// The private key this server authenticates with at the IdP (`private_key_jwt`). `Debug`
/// shows only the algorithm and key id.
#[derive(Clone)]
pub struct ClientKey {
    signer: Arc<dyn JwsSigner>,
    key_id: Option<String>,
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientKey")
            .field("algorithm", &self.signer.algorithm().name())
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// How long a client assertion is valid: long enough for one request.
const CLIENT_ASSERTION_TTL: Duration = Duration::from_secs(60);

impl ClientKey {
    /// A P-256 EC key (signing ES256) or an RSA key (signing RS256) in PEM (PKCS#8, or the
    /// traditional form), registered at the IdP under `key_id` if given (sent as `kid`).
    pub fn from_pem(pem: &[u8], key_id: Option<String>) -> Result<Self, UpstreamError> {
        let signer: Arc<dyn JwsSigner> = match ES256.signer_from_pem(pem) {
            Ok(signer) => Arc::new(signer),
            Err(_) => Arc::new(RS256.signer_from_pem(pem).map_err(|_| {
                UpstreamError::Config(
                    "the client key is neither a P-256 EC nor an RSA private key in PEM".to_owned(),
                )
            })?),
        };
        Ok(Self { signer, key_id })
    }

    /// A client assertion (RFC 7523 §2.2) for a request to `endpoint` as `client_id`.
    fn assertion(&self, client_id: &str, endpoint: &str) -> Result<String, UpstreamError> {
        let now = SystemTime::now();
        let mut payload = JwtPayload::new();
        payload.set_issuer(client_id);
        payload.set_subject(client_id);
        payload.set_audience(vec![endpoint]);
        payload.set_jwt_id(random_token());
        payload.set_issued_at(&now);
        payload.set_expires_at(&(now + CLIENT_ASSERTION_TTL));
        let mut header = JwsHeader::new();
        header.set_token_type("JWT");
        if let Some(kid) = &self.key_id {
            header.set_key_id(kid);
        }
        josekit::jwt::encode_with_signer(&payload, &header, self.signer.as_ref())
            .map_err(|_| UpstreamError::Config("signing the client assertion failed".to_owned()))
    }
}

/// Configuration of the [`UpstreamClient`]. Start from [`UpstreamConfig::new`].
#[derive(Clone)]
#[non_exhaustive]
pub struct UpstreamConfig {
    /// Where the endpoints come from.
    pub endpoints: UpstreamEndpoints,
    /// Our client id at the IdP; also the `aud` its ID tokens must carry.
    pub client_id: String,
    /// Our client secret at the IdP.
    pub client_secret: SecretString,
    /// Client authentication method.
    pub auth_method: ClientAuthMethod,
    /// The private key of [`ClientAuthMethod::PrivateKeyJwt`].
    pub client_key: Option<ClientKey>,
    /// Our callback, `<base>/auth/callback`, as registered at the IdP.
    pub redirect_uri: String,
    /// Scopes requested from the IdP (default `openid profile email offline_access`).
    pub scopes: Vec<String>,
    /// Added to the authorization request (e.g. Auth0 `audience`, Entra `domain_hint`).
    pub extra_authorize_params: Vec<(String, String)>,
    /// Added to every token request: code exchange and refresh (e.g. Auth0 `audience`).
    pub extra_token_params: Vec<(String, String)>,
    /// Path of the groups claim in the ID token or userinfo (`groups`, `realm_access.roles`).
    pub groups_claim: String,
    /// Clock skew tolerated on ID-token times.
    pub leeway: Duration,
    /// Timeouts and the https rule (plain http only to loopback unless allowed).
    pub http: HttpClientConfig,
}

impl fmt::Debug for UpstreamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConfig")
            .field("endpoints", &self.endpoints)
            .field("client_id", &self.client_id)
            .field("auth_method", &self.auth_method)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl UpstreamConfig {
    /// A configuration with the default scopes, client_secret_basic and no extra parameters.
    pub fn new(
        endpoints: UpstreamEndpoints,
        client_id: impl Into<String>,
        client_secret: SecretString,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            endpoints,
            client_id: client_id.into(),
            client_secret,
            auth_method: ClientAuthMethod::default(),
            client_key: None,
            redirect_uri: redirect_uri.into(),
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            extra_authorize_params: Vec::new(),
            extra_token_params: Vec::new(),
            groups_claim: "groups".to_owned(),
            leeway: Duration::from_secs(60),
            http: HttpClientConfig::default(),
        }
    }
}

/// What went wrong talking to the IdP. Messages never contain tokens or secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// The configuration cannot work (bad URL, discovery failed, reserved extra parameter).
    #[error("upstream IdP configuration: {0}")]
    Config(String),
    /// The IdP answered with an OAuth error (RFC 6749 §5.2); `code` is kept as sent.
    #[error("the identity provider refused the request: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        /// The OAuth error code, e.g. `invalid_grant`, `temporarily_unavailable`.
        code: String,
        /// The IdP's `error_description`, clipped and stripped of control characters.
        description: Option<String>,
        /// The HTTP status.
        status: u16,
    },
    /// The IdP could not be reached or did not answer in time.
    #[error("could not reach the identity provider at {endpoint}: {detail}")]
    Transport {
        /// The endpoint (no credentials in it).
        endpoint: String,
        /// What failed.
        detail: String,
    },
    /// The IdP answered something that is not a valid response (unexpected status, bad JSON).
    #[error("unexpected answer from the identity provider's {endpoint}: {detail}")]
    InvalidResponse {
        /// The endpoint.
        endpoint: String,
        /// What was wrong.
        detail: String,
    },
    /// The ID token failed validation (signature, issuer, audience, expiry, nonce).
    #[error("the identity provider's ID token is not valid: {0}")]
    IdToken(String),
    /// No user identity: no ID token and no userinfo endpoint, or no subject in either.
    #[error("the identity provider gave no user identity: {0}")]
    NoIdentity(String),
}

impl UpstreamError {
    /// The IdP's OAuth error code, when it sent one.
    pub fn oauth_code(&self) -> Option<&str> {
        match self {
            Self::OAuth { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the IdP was unreachable (worth a retry later, unlike a refusal).
    pub fn is_transport(&self) -> bool {
        matches!(self, Self::Transport { .. })
    }
}

/// The user as the IdP sees them, copied into our tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamIdentity {
    /// `sub` at the IdP.
    pub subject: String,
    /// `preferred_username`, if given.
    pub preferred_username: Option<String>,
    /// `email`, if given.
    pub email: Option<String>,
    /// Groups from the configured claim path (none if absent).
    pub groups: Vec<String>,
    /// Whether the ID token or userinfo had the groups claim at all.
    pub groups_claim_present: bool,
}

/// The result of a code exchange: the tokens to store and who signed in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpstreamLogin {
    /// The IdP's tokens.
    pub tokens: UpstreamTokenSet,
    /// The signed-in user.
    pub identity: UpstreamIdentity,
}

/// A PKCE pair toward the IdP (RFC 7636, S256).
#[derive(Clone)]
pub struct Pkce {
    /// The verifier; store it (as [`crate::UpstreamRequest::pkce_verifier`]) until the callback.
    pub verifier: Secret,
    /// Its S256 challenge, sent in the authorization URL.
    pub challenge: String,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

impl Pkce {
    /// A fresh random verifier (256 bits) and its challenge.
    pub fn generate() -> Self {
        let verifier = random_token();
        let challenge = pkce_challenge(&verifier);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

/// The S256 challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// 256 random bits, base64url: for `state`, `nonce` and PKCE verifiers.
///
/// # Panics
/// If the operating system's random source fails (ring treats that as unrecoverable too).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source works");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Which kind of token is revoked (RFC 7009 `token_type_hint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenTypeHint {
    /// An access token.
    AccessToken,
    /// A refresh token (revoking it usually revokes the grant).
    RefreshToken,
}

impl TokenTypeHint {
    fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// The IdP's endpoints once resolved.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: Url,
    token: Url,
    revocation: Option<Url>,
    userinfo: Option<Url>,
}

#[derive(Deserialize)]
struct ProviderMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: Option<String>,
    userinfo_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// splunk-mcp's client at the IdP. Cheap to share behind an `Arc`.
///
/// With discovery, an IdP that cannot be reached when the client is built does not stop it:
/// its endpoints are discovered at the first use that finds the IdP up, and until then every
/// call fails with a transport error (the endpoints answer `temporarily_unavailable`).
pub struct UpstreamClient {
    config: UpstreamConfig,
    resolved: tokio::sync::OnceCell<Resolved>,
    http: reqwest::Client,
    checker: HttpClient,
    claims: ClaimsConfig,
}

/// What discovery (or the explicit configuration) gives: the endpoints, and the ID token
/// verifier when the issuer and its keys are known.
struct Resolved {
    endpoints: Endpoints,
    id_tokens: Option<JwtVerifier>,
}

impl fmt::Debug for UpstreamClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let resolved = self.resolved.get();
        f.debug_struct("UpstreamClient")
            .field("config", &self.config)
            .field("endpoints", &resolved.map(|r| &r.endpoints))
            .field(
                "validates_id_tokens",
                &resolved.map(|r| r.id_tokens.is_some()),
            )
            .finish_non_exhaustive()
    }
}

impl UpstreamClient {
    /// Checks the configuration and, for discovery, fetches the IdP's metadata.
    pub async fn new(config: UpstreamConfig) -> Result<Self, UpstreamError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another thread installing a provider is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.http.connect_timeout)
            .timeout(config.http.request_timeout)
            // An IdP endpoint that redirects would take credentials somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("splunk-mcp-oidc-proxy/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Config(format!("HTTP client: {e}")))?;
        let checker = HttpClient::from_reqwest(http.clone(), config.http.clone());
        check_extra(
            &config.extra_authorize_params,
            RESERVED_AUTHORIZE_PARAMS,
            "extra_authorize_params",
        )?;
        check_extra(
            &config.extra_token_params,
            RESERVED_TOKEN_PARAMS,
            "extra_token_params",
        )?;
        Url::parse(&config.redirect_uri)
            .map_err(|e| UpstreamError::Config(format!("redirect_uri: {e}")))?;
        if config.client_id.is_empty() {
            return Err(UpstreamError::Config("client_id is empty".to_owned()));
        }

        let claims = ClaimsConfig::with_groups_claim(config.groups_claim.clone());
        let client = Self {
            config,
            resolved: tokio::sync::OnceCell::new(),
            http,
            checker,
            claims,
        };
        match client.resolved().await {
            Ok(_) => {}
            // Down now: discovered at the first use that finds it up.
            Err(e) if e.is_transport() || matches!(e, UpstreamError::InvalidResponse { .. }) => {
                tracing::warn!(
                    error = %e,
                    "the identity provider cannot be reached; its endpoints will be discovered when it answers"
                );
            }
            Err(e) => return Err(e),
        }
        Ok(client)
    }

    /// The endpoints and ID token verifier, discovered now if they are not yet.
    async fn resolved(&self) -> Result<&Resolved, UpstreamError> {
        self.resolved.get_or_try_init(|| self.resolve()).await
    }

    /// Discovers (or checks the configured) endpoints and builds the ID token verifier.
    async fn resolve(&self) -> Result<Resolved, UpstreamError> {
        let config = &self.config;
        let check = |name: &str, url: &str| {
            self.checker
                .check_url(url)
                .map_err(|e| UpstreamError::Config(format!("{name}: {e}")))
        };
        let (endpoints, issuer, jwks_uri) = match &config.endpoints {
            UpstreamEndpoints::Discovery {
                config_url,
                expected_issuer,
            } => {
                let meta =
                    discover(&self.http, &check, config_url, expected_issuer.as_deref()).await?;
                if let Some(methods) = &meta.code_challenge_methods_supported
                    && !methods.iter().any(|m| m == "S256")
                {
                    tracing::warn!(
                        "the IdP does not list S256 in code_challenge_methods_supported; sending PKCE S256 anyway"
                    );
                }
                let endpoints = Endpoints {
                    authorization: check("authorization_endpoint", &meta.authorization_endpoint)?,
                    token: check("token_endpoint", &meta.token_endpoint)?,
                    revocation: meta
                        .revocation_endpoint
                        .as_deref()
                        .map(|u| check("revocation_endpoint", u))
                        .transpose()?,
                    userinfo: meta
                        .userinfo_endpoint
                        .as_deref()
                        .map(|u| check("userinfo_endpoint", u))
                        .transpose()?,
                };
                (endpoints, Some(meta.issuer), meta.jwks_uri)
            }
            UpstreamEndpoints::Explicit(e) => {
                let endpoints = Endpoints {
                    authorization: check("authorization_endpoint", &e.authorization_endpoint)?,
                    token: check("token_endpoint", &e.token_endpoint)?,
                    revocation: e
                        .revocation_endpoint
                        .as_deref()
                        .map(|u| check("revocation_endpoint", u))
                        .transpose()?,
                    userinfo: e
                        .userinfo_endpoint
                        .as_deref()
                        .map(|u| check("userinfo_endpoint", u))
                        .transpose()?,
                };
                (endpoints, e.issuer.clone(), e.jwks_uri.clone())
            }
        };

        let id_tokens = match (issuer, jwks_uri) {
            (Some(issuer), Some(jwks_uri)) => {
                check("jwks_uri", &jwks_uri)?;
                let cache = JwksCache::new(
                    jwks_uri,
                    Arc::new(self.checker.clone()),
                    JwksCacheConfig::default(),
                )
                .map_err(|e| UpstreamError::Config(format!("JWKS: {e}")))?;
                let verifier = JwtVerifier::builder()
                    .issuer(issuer)
                    .audience(config.client_id.clone())
                    .leeway(config.leeway)
                    .claims_config(self.claims.clone())
                    .jwks(Arc::new(cache))
                    .build()
                    .map_err(|e| UpstreamError::Config(format!("ID token verifier: {e}")))?;
                Some(verifier)
            }
            _ => None,
        };
        if id_tokens.is_none() && endpoints.userinfo.is_none() {
            return Err(UpstreamError::Config(
                "no way to learn who signed in: configure the IdP's issuer and jwks_uri (to validate ID tokens), or its userinfo endpoint".to_owned(),
            ));
        }
        Ok(Resolved {
            endpoints,
            id_tokens,
        })
    }

    /// Whether the IdP has a revocation endpoint (`false` while it has not been discovered).
    pub fn supports_revocation(&self) -> bool {
        self.resolved
            .get()
            .is_some_and(|r| r.endpoints.revocation.is_some())
    }

    /// The URL to send the browser to. `state` and `nonce` come from the caller, who stores
    /// them with the PKCE verifier whose S256 challenge is `pkce_challenge`.
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        pkce_challenge: &str,
    ) -> Result<Url, UpstreamError> {
        self.authorization_url_with_hint(state, nonce, pkce_challenge, None)
            .await
    }

    /// Like [`UpstreamClient::authorization_url`], passing on the client's OIDC `login_hint`
    /// (who is signing in) when it sent one; a configured `login_hint` extra parameter wins.
    pub async fn authorization_url_with_hint(
        &self,
        state: &str,
        nonce: &str,
        pkce_challenge: &str,
        login_hint: Option<&str>,
    ) -> Result<Url, UpstreamError> {
        let mut url = self.resolved().await?.endpoints.authorization.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", &self.config.redirect_uri)
                .append_pair("scope", &self.config.scopes.join(" "))
                .append_pair("state", state)
                .append_pair("nonce", nonce)
                .append_pair("code_challenge", pkce_challenge)
                .append_pair("code_challenge_method", "S256");
            for (name, value) in &self.config.extra_authorize_params {
                query.append_pair(name, value);
            }
            let configured = |name: &str| {
                self.config
                    .extra_authorize_params
                    .iter()
                    .any(|(n, _)| n == name)
            };
            if let Some(hint) = login_hint.filter(|_| !configured("login_hint")) {
                query.append_pair("login_hint", hint);
            }
        }
        Ok(url)
    }

    /// Exchanges the authorization code from the callback, validates the ID token (with
    /// `expected_nonce`) and finds out who signed in.
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        expected_nonce: &str,
    ) -> Result<UpstreamLogin, UpstreamError> {
        let tokens = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.config.redirect_uri),
                ("code_verifier", pkce_verifier),
            ])
            .await?;
        let id_claims = match (&tokens.id_token, &self.resolved().await?.id_tokens) {
            (Some(id_token), Some(_)) => {
                match self
                    .validate_id_token(id_token.expose(), Some(expected_nonce))
                    .await
                {
                    Ok(claims) => Some(claims),
                    Err(e) => {
                        // Nobody will use this grant: do not leave it alive at the IdP.
                        self.revoke_quietly(&tokens).await;
                        return Err(e);
                    }
                }
            }
            (None, Some(_)) if self.config.scopes.iter().any(|s| s == "openid") => {
                return Err(UpstreamError::IdToken(
                    "scope openid was requested but the token response has no id_token".to_owned(),
                ));
            }
            // Without the IdP's keys an ID token proves nothing: userinfo decides.
            _ => None,
        };
        let identity = match id_claims {
            Some(claims) => identity_from(claims)?,
            None => self.userinfo(tokens.access_token.expose()).await?,
        };
        let mut tokens = tokens;
        tokens.subject = Some(identity.subject.clone());
        tokens.groups = Some(identity.groups.clone());
        Ok(UpstreamLogin { tokens, identity })
    }

    /// Refreshes the IdP tokens. Keeps `refresh_token` when the IdP issues no new one. Learns
    /// who the user is now (their groups may have changed) from the new ID token, validated
    /// without nonce (OIDC Core §12.2), or else from userinfo when the IdP has it; otherwise
    /// the set's `subject` and `groups` stay unknown.
    pub async fn refresh(&self, refresh_token: &str) -> Result<UpstreamTokenSet, UpstreamError> {
        let mut tokens = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .await?;
        let resolved = self.resolved().await?;
        let identity = match (&tokens.id_token, &resolved.id_tokens) {
            (Some(id_token), Some(_)) => Some(identity_from(
                self.validate_id_token(id_token.expose(), None).await?,
            )?),
            _ if resolved.endpoints.userinfo.is_some() => {
                Some(self.userinfo(tokens.access_token.expose()).await?)
            }
            _ => None,
        };
        if let Some(identity) = identity {
            tokens.subject = Some(identity.subject);
            tokens.groups = Some(identity.groups);
        }
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(Secret::new(refresh_token));
        }
        Ok(tokens)
    }

    /// Revokes `token` at the IdP (RFC 7009). `Ok(false)` when the IdP has no revocation endpoint.
    pub async fn revoke(&self, token: &str, hint: TokenTypeHint) -> Result<bool, UpstreamError> {
        let Some(endpoint) = &self.resolved().await?.endpoints.revocation else {
            return Ok(false);
        };
        let (status, body) = self
            .post(
                endpoint,
                vec![("token", token), ("token_type_hint", hint.as_str())],
            )
            .await?;
        if status == 200 {
            return Ok(true);
        }
        Err(error_response(endpoint, status, &body))
    }

    /// The claim (dotted path) the user's groups are read from.
    pub fn groups_claim(&self) -> &str {
        &self.config.groups_claim
    }

    /// Revokes the tokens of a sign-in that will not be used (best effort, failures logged).
    pub async fn revoke_login(&self, tokens: &UpstreamTokenSet) {
        self.revoke_quietly(tokens).await;
    }

    /// Best-effort revocation of tokens nobody will use; failures are only logged.
    async fn revoke_quietly(&self, tokens: &UpstreamTokenSet) {
        let (token, hint) = match &tokens.refresh_token {
            Some(refresh) => (refresh.expose(), TokenTypeHint::RefreshToken),
            None => (tokens.access_token.expose(), TokenTypeHint::AccessToken),
        };
        if let Err(e) = self.revoke(token, hint).await {
            tracing::warn!(error = %e, "revoking the upstream tokens of a failed sign-in failed");
        }
    }

    /// Validates an ID token: signature by the IdP's JWKS, `iss`, `aud` (our client id), `exp`,
    /// `azp` when there are several audiences, and `nonce` when one is expected.
    async fn validate_id_token(
        &self,
        id_token: &str,
        expected_nonce: Option<&str>,
    ) -> Result<auth_core::Claims, UpstreamError> {
        let verifier = self
            .resolved()
            .await?
            .id_tokens
            .as_ref()
            .ok_or_else(|| UpstreamError::IdToken("no verifier configured".to_owned()))?;
        let context = verifier
            .verify_at(id_token, now_secs())
            .await
            .map_err(|e| UpstreamError::IdToken(e.to_string()))?;
        let claims = context.claims().clone();
        if claims.audience.len() > 1
            && claims.authorized_party.as_deref() != Some(self.config.client_id.as_str())
        {
            return Err(UpstreamError::IdToken(
                "several audiences and azp is not our client id".to_owned(),
            ));
        }
        if let Some(expected) = expected_nonce {
            match claims.extra.get("nonce") {
                Some(Value::String(n)) if constant_time_eq(n.as_bytes(), expected.as_bytes()) => {}
                Some(_) => return Err(UpstreamError::IdToken("nonce does not match".to_owned())),
                None => return Err(UpstreamError::IdToken("nonce missing".to_owned())),
            }
        }
        Ok(claims)
    }

    /// The identity from the userinfo endpoint (OIDC Core §5.3), asked with the access token.
    async fn userinfo(&self, access_token: &str) -> Result<UpstreamIdentity, UpstreamError> {
        let endpoint = self
            .resolved()
            .await?
            .endpoints
            .userinfo
            .as_ref()
            .ok_or_else(|| {
                UpstreamError::NoIdentity("no ID token and no userinfo endpoint".to_owned())
            })?;
        let request = self
            .http
            .get(endpoint.clone())
            .bearer_auth(access_token)
            .header(reqwest::header::ACCEPT, "application/json");
        let (status, body) = send(endpoint, request).await?;
        if status != 200 {
            return Err(error_response(endpoint, status, &body));
        }
        let map: Map<String, Value> =
            serde_json::from_slice(&body).map_err(|_| UpstreamError::InvalidResponse {
                endpoint: endpoint.to_string(),
                detail: "userinfo is not a JSON object (signed userinfo is not supported)"
                    .to_owned(),
            })?;
        let claims = auth_core::Claims::from_json(map, &self.claims).map_err(|e| {
            UpstreamError::InvalidResponse {
                endpoint: endpoint.to_string(),
                detail: e.to_string(),
            }
        })?;
        identity_from(claims)
    }

    /// A token endpoint request with client authentication and the extra token parameters.
    async fn token_request(
        &self,
        params: &[(&str, &str)],
    ) -> Result<UpstreamTokenSet, UpstreamError> {
        self.token_request_with(params, true).await
    }

    /// A token request with only `params` (and client authentication): no
    /// `extra_token_params`, which are meant for sign-ins and refreshes.
    pub(crate) async fn token_request_without_extras(
        &self,
        params: &[(&str, &str)],
    ) -> Result<UpstreamTokenSet, UpstreamError> {
        self.token_request_with(params, false).await
    }

    async fn token_request_with(
        &self,
        params: &[(&str, &str)],
        with_extras: bool,
    ) -> Result<UpstreamTokenSet, UpstreamError> {
        let endpoint = &self.resolved().await?.endpoints.token;
        let mut form: Vec<(&str, &str)> = params.to_vec();
        if with_extras {
            for (name, value) in &self.config.extra_token_params {
                form.push((name, value));
            }
        }
        let (status, body) = self.post(endpoint, form).await?;
        if status != 200 {
            return Err(error_response(endpoint, status, &body));
        }
        parse_token_response(endpoint, &body)
    }

    /// POSTs a form to an IdP endpoint, authenticated as our client.
    async fn post(
        &self,
        endpoint: &Url,
        mut form: Vec<(&str, &str)>,
    ) -> Result<(u16, Vec<u8>), UpstreamError> {
        let secret = self.config.client_secret.expose_secret();
        let mut request = self
            .http
            .post(endpoint.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        let assertion;
        match self.config.auth_method {
            ClientAuthMethod::PrivateKeyJwt => {
                let key = self.config.client_key.as_ref().ok_or_else(|| {
                    UpstreamError::Config(
                        "private_key_jwt needs the client's private key".to_owned(),
                    )
                })?;
                assertion = key.assertion(&self.config.client_id, endpoint.as_str())?;
                form.push(("client_id", &self.config.client_id));
                form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
                form.push(("client_assertion", &assertion));
            }
            ClientAuthMethod::ClientSecretBasic => {
                // RFC 6749 §2.3.1: both parts are form-urlencoded before Base64.
                let credentials = format!(
                    "{}:{}",
                    form_encode(&self.config.client_id),
                    form_encode(secret)
                );
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                request =
                    request.header(reqwest::header::AUTHORIZATION, format!("Basic {encoded}"));
            }
            ClientAuthMethod::ClientSecretPost => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", secret));
            }
        }
        send(endpoint, request.form(&form)).await
    }
}

/// RFC 7523's client assertion type.
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn check_extra(
    params: &[(String, String)],
    reserved: &[&str],
    what: &str,
) -> Result<(), UpstreamError> {
    match params
        .iter()
        .find(|(name, _)| reserved.contains(&name.as_str()))
    {
        Some((name, _)) => Err(UpstreamError::Config(format!(
            "{what} may not set `{name}`: the client sets it itself"
        ))),
        None => Ok(()),
    }
}

async fn discover(
    http: &reqwest::Client,
    check: &impl Fn(&str, &str) -> Result<Url, UpstreamError>,
    config_url: &str,
    expected_issuer: Option<&str>,
) -> Result<ProviderMetadata, UpstreamError> {
    let url = check("config URL", config_url)?;
    let expected = expected_issuer
        .map(str::to_owned)
        .or_else(|| issuer_implied_by(config_url))
        .ok_or_else(|| {
            UpstreamError::Config(format!(
                "{config_url} is not a .well-known metadata URL; give the expected issuer"
            ))
        })?;
    let request = http
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json");
    let (status, body) = send(&url, request).await?;
    if status != 200 {
        return Err(UpstreamError::Config(format!(
            "discovery at {config_url} answered {status}"
        )));
    }
    let meta: ProviderMetadata = serde_json::from_slice(&body)
        .map_err(|e| UpstreamError::Config(format!("discovery document at {config_url}: {e}")))?;
    // OIDC Discovery §4.3 / RFC 8414 §3.3: another issuer means an impostor's document.
    if meta.issuer != expected {
        return Err(UpstreamError::Config(format!(
            "discovery document names issuer {} but {expected} was expected",
            meta.issuer
        )));
    }
    Ok(meta)
}

/// The issuer a metadata URL stands for: OIDC appends the well-known path, RFC 8414 inserts it
/// between host and path.
/// The issuer a discovery URL implies: the URL without its well-known suffix.
pub fn issuer_implied_by(config_url: &str) -> Option<String> {
    const OIDC: &str = "/.well-known/openid-configuration";
    const OAUTH: &str = "/.well-known/oauth-authorization-server";
    if let Some(issuer) = config_url.strip_suffix(OIDC) {
        return Some(issuer.to_owned());
    }
    let (host, path) = config_url.split_once(OAUTH)?;
    Some(format!("{host}{path}"))
}

async fn send(
    endpoint: &Url,
    request: reqwest::RequestBuilder,
) -> Result<(u16, Vec<u8>), UpstreamError> {
    let transport = |detail: String| UpstreamError::Transport {
        endpoint: endpoint.to_string(),
        detail,
    };
    let mut response = request
        .send()
        .await
        .map_err(|e| transport(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(UpstreamError::InvalidResponse {
                endpoint: endpoint.to_string(),
                detail: format!("body larger than {MAX_BODY_BYTES} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    error_description: Option<String>,
}

/// An error answer: the OAuth error when the body is one, else the status.
fn error_response(endpoint: &Url, status: u16, body: &[u8]) -> UpstreamError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) if is_error_code(&e.error) => UpstreamError::OAuth {
            code: e.error,
            description: e.error_description.as_deref().map(safe_text),
            status,
        },
        _ => UpstreamError::InvalidResponse {
            endpoint: endpoint.to_string(),
            detail: format!("HTTP {status} without an OAuth error"),
        },
    }
}

/// RFC 6749 §5.2: error codes are printable ASCII without `"` and `\`.
fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

fn safe_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_DESCRIPTION_CHARS)
        .collect()
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    token_type: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
    expires_in: Option<Value>,
    scope: Option<String>,
}

fn parse_token_response(endpoint: &Url, body: &[u8]) -> Result<UpstreamTokenSet, UpstreamError> {
    let invalid = |detail: &str| UpstreamError::InvalidResponse {
        endpoint: endpoint.to_string(),
        detail: detail.to_owned(),
    };
    // serde's message could quote a token value: say only that the shape was wrong.
    let parsed: TokenBody = serde_json::from_slice(body)
        .map_err(|_| invalid("the token response is not JSON with access_token and token_type"))?;
    if !parsed.token_type.eq_ignore_ascii_case("bearer") {
        return Err(invalid("token_type is not Bearer"));
    }
    if parsed.access_token.is_empty() {
        return Err(invalid("empty access_token"));
    }
    // Some IdPs send expires_in as a string.
    let expires_in = match parsed.expires_in {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
    };
    Ok(UpstreamTokenSet {
        access_token: Secret::new(parsed.access_token),
        refresh_token: parsed
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        id_token: parsed.id_token.filter(|t| !t.is_empty()).map(Secret::new),
        // Records keep Unix milliseconds.
        expires_at: expires_in.map(|s| now_millis().saturating_add(s.saturating_mul(1000))),
        scope: parsed.scope,
        // Filled in once the ID token or userinfo is read.
        subject: None,
        groups: None,
    })
}

fn identity_from(claims: auth_core::Claims) -> Result<UpstreamIdentity, UpstreamError> {
    let subject = claims
        .subject
        .filter(|s| !s.is_empty())
        .ok_or_else(|| UpstreamError::NoIdentity("no `sub` claim".to_owned()))?;
    let email = match claims.extra.get("email") {
        Some(Value::String(e)) => Some(e.clone()),
        _ => None,
    };
    Ok(UpstreamIdentity {
        subject,
        preferred_username: claims.preferred_username,
        email,
        groups: claims.groups,
        groups_claim_present: claims.groups_claim_present,
    })
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implied_issuers() {
        assert_eq!(
            issuer_implied_by("https://idp.example/.well-known/openid-configuration").as_deref(),
            Some("https://idp.example")
        );
        assert_eq!(
            issuer_implied_by("https://idp.example/.well-known/oauth-authorization-server/tenant")
                .as_deref(),
            Some("https://idp.example/tenant")
        );
        assert_eq!(issuer_implied_by("https://idp.example/config"), None);
    }

    #[test]
    fn pkce_s256_is_base64url_sha256() {
        // Computed independently: printf VERIFIER | openssl dgst -sha256 -binary | base64url.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K9uhbUJU1p1r_wWXgFWFxEjXk"),
            "tfWmn3gpJ5I02H2wYidduY6lt-b72pUvE1PxKCEOpSA"
        );
    }

    #[test]
    fn token_response_parsing() {
        let url = Url::parse("https://idp.example/token").unwrap();
        let set = parse_token_response(
            &url,
            br#"{"access_token":"a.b","token_type":"bearer","expires_in":"60","scope":"openid"}"#,
        )
        .unwrap();
        assert_eq!(set.access_token.expose(), "a.b");
        assert!(set.refresh_token.is_none());
        let expires_at = set.expires_at.unwrap();
        assert!(expires_at >= now_millis() + 59_000 && expires_at <= now_millis() + 60_000);
        let err =
            parse_token_response(&url, br#"{"access_token":"x","token_type":"DPoP"}"#).unwrap_err();
        assert!(matches!(err, UpstreamError::InvalidResponse { .. }));
        // A malformed body must not echo a token in the error.
        let err = parse_token_response(&url, br#"{"access_token":"secret-value"}"#).unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
    }

    #[test]
    fn oauth_errors_kept_and_sanitised() {
        let url = Url::parse("https://idp.example/token").unwrap();
        let err = error_response(
            &url,
            400,
            br#"{"error":"invalid_grant","error_description":"bad\ncode"}"#,
        );
        assert_eq!(err.oauth_code(), Some("invalid_grant"));
        assert!(err.to_string().contains("(badcode)"));
        let err = error_response(&url, 502, b"<html>bad gateway</html>");
        assert!(matches!(err, UpstreamError::InvalidResponse { .. }));
        assert!(!err.is_transport());
    }
}
