//! Proxy mode: splunk-mcp as its own OAuth authorization server in front of the IdP. Opens the
//! store (a redb file, or Redis), derives the at-rest cipher and the cookie key from the one
//! configured secret, loads our signing keys, discovers the IdP, and puts the
//! [`AuthorizationServer`] together.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use base64::Engine as _;
use mcp_tools::ToolRegistry;
use oidc_proxy::{
    AuthorizationServer, CALLBACK_PATH, CimdConfig, Cipher, ClientAuthMethod, ClientKey,
    EncryptionKey, EndpointLimits, ExplicitEndpoints, ProxyConfig, RateLimit, RedbStore,
    RedirectPattern, RedirectPolicy, RedisStore, Store, TokenIssuer, UpstreamClient,
    UpstreamConfig, UpstreamEndpoints,
};
use secrecy::ExposeSecret as _;

use crate::config::{AuthSettings, IdpClientAuth, ProxyStore, Settings};

/// Label of the HMAC that derives the cookie-signing key from the encryption key, so the two
/// keys differ while operators manage one secret. Changing it signs every browser out.
const COOKIE_KEY_LABEL: &[u8] = b"splunk-mcp proxy cookie signing key v1";

/// Prefix of every Redis key, so the proxy can share a Redis with other applications.
const REDIS_PREFIX: &str = "splunk-mcp:";

/// How often expired entries are deleted from the embedded store (Redis expires its own).
const PURGE_INTERVAL: Duration = Duration::from_secs(300);

/// How long opening the store may take (a Redis that does not answer).
const STORE_OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// The authorization server of proxy mode, built from the settings.
pub(crate) struct Proxy {
    /// The server: its router, the verifier of `/mcp`, its store.
    pub(crate) server: Arc<AuthorizationServer>,
    /// A URL whose answer proves the IdP is up (for `/readyz`).
    pub(crate) idp_probe_url: Option<String>,
}

/// Builds the authorization server, and for the embedded store starts the purger.
pub(crate) async fn build(settings: &Settings, policy: &ToolRegistry) -> anyhow::Result<Proxy> {
    let auth = &settings.auth;
    let key = encryption_key_bytes(auth)?;
    let store = open_store(&auth.proxy.store, cipher(&key)?).await?;
    let base_url = &settings.server.base_url;
    let issuer = oidc_proxy::metadata::issuer_from_base_url(base_url)
        .with_context(|| format!("MCP_BASE_URL: {base_url} cannot be an OAuth issuer"))?;
    let tokens = TokenIssuer::load(store.clone(), issuer, auth.proxy.access_token_ttl)
        .await
        .context("cannot load or create the proxy's token signing keys in MCP_PROXY_STORE")?;
    let upstream = upstream_client(settings).await?;
    let server = AuthorizationServer::new(
        store.clone(),
        Arc::new(tokens),
        Arc::new(upstream),
        proxy_config(settings, policy),
        &cookie_key(&key),
    )
    .context("cannot set up the authorization server")?;
    if matches!(auth.proxy.store, ProxyStore::File(_)) {
        // Lives as long as the process; nothing to stop it for.
        drop(oidc_proxy::spawn_purger(store, PURGE_INTERVAL));
    }
    let idp_probe_url = auth
        .oidc_config_url
        .clone()
        .or_else(|| auth.jwks_uri.clone());
    Ok(Proxy {
        server: Arc::new(server),
        idp_probe_url,
    })
}

/// The 32 bytes of `MCP_PROXY_ENCRYPTION_KEY` (validated when the configuration loaded).
fn encryption_key_bytes(auth: &AuthSettings) -> anyhow::Result<Vec<u8>> {
    let encoded = auth.proxy.encryption_key.as_ref().context(
        "MCP_PROXY_ENCRYPTION_KEY is not set; generate one with `openssl rand -base64 32`",
    )?;
    let trimmed = encoded.expose_secret().trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|_| anyhow!("MCP_PROXY_ENCRYPTION_KEY is not valid base64"))?;
    if bytes.len() != 32 {
        anyhow::bail!(
            "MCP_PROXY_ENCRYPTION_KEY holds {} bytes, not 32; generate one with `openssl rand -base64 32`",
            bytes.len()
        );
    }
    Ok(bytes)
}

/// AES-256-GCM with the configured key (id 1).
fn cipher(key: &[u8]) -> anyhow::Result<Cipher> {
    let key = EncryptionKey::from_bytes(1, key).context("MCP_PROXY_ENCRYPTION_KEY")?;
    Ok(Cipher::new(key))
}

/// The cookie-signing key: HMAC-SHA256 of a fixed label under the encryption key.
fn cookie_key(key: &[u8]) -> Vec<u8> {
    let mac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&mac, COOKIE_KEY_LABEL).as_ref().to_vec()
}

/// Opens the configured store and proves it answers with one read.
pub(crate) async fn open_store(
    store: &ProxyStore,
    cipher: Cipher,
) -> anyhow::Result<Arc<dyn Store>> {
    let opened: Arc<dyn Store> = match store {
        ProxyStore::File(path) => Arc::new(open_file(path, cipher).await?),
        ProxyStore::Redis(url) => {
            let shown = store.redacted();
            let connect = RedisStore::connect(url.expose_secret(), REDIS_PREFIX, cipher);
            let redis = tokio::time::timeout(STORE_OPEN_TIMEOUT, connect)
                .await
                .map_err(|_| {
                    anyhow!(
                        "MCP_PROXY_STORE: Redis at {shown} did not answer within {} s; check \
                         that it is running and reachable from this host",
                        STORE_OPEN_TIMEOUT.as_secs()
                    )
                })?
                .map_err(|e| {
                    anyhow!(
                        "MCP_PROXY_STORE: cannot connect to Redis at {shown}: {e}; check that it \
                         is running, reachable from this host, and that the URL's password is right"
                    )
                })?;
            Arc::new(redis)
        }
    };
    probe(opened.as_ref()).await.map_err(|e| {
        anyhow!(
            "MCP_PROXY_STORE: the store at {} does not answer: {e}",
            store.redacted()
        )
    })?;
    Ok(opened)
}

async fn open_file(path: &Path, cipher: Cipher) -> anyhow::Result<RedbStore> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        anyhow::bail!(
            "MCP_PROXY_STORE: the directory {} of the store file does not exist; create it or \
             choose another path",
            parent.display()
        );
    }
    RedbStore::open(path, cipher).await.map_err(|e| {
        anyhow!(
            "MCP_PROXY_STORE: cannot open the store file {}: {e}; if another splunk-mcp uses \
             it, stop that one (the embedded store serves one process: use redis:// for \
             several replicas), and check that this user may write the file",
            path.display()
        )
    })
}

/// A cheap read that proves the store answers (also what `/readyz` runs).
pub(crate) async fn probe(store: &dyn Store) -> Result<(), oidc_proxy::StoreError> {
    store
        .get_client("splunk-mcp-readiness-probe")
        .await
        .map(drop)
}

/// The IdP client: discovery (or explicit endpoints), our callback, scopes, extra parameters.
pub(crate) async fn upstream_client(settings: &Settings) -> anyhow::Result<UpstreamClient> {
    let config = upstream_config(settings)?;
    let what = match &settings.auth.oidc_config_url {
        Some(url) => format!("IDP_OIDC_CONFIG_URL: cannot use the IdP's discovery document {url}"),
        None => "IDP_AUTHORIZE_URL / IDP_TOKEN_URL: cannot use the IdP's endpoints".to_owned(),
    };
    UpstreamClient::new(config).await.map_err(|e| {
        if e.is_transport() {
            anyhow!("{what}: the IdP is not answering ({e}); check that it is up and reachable from this host")
        } else {
            anyhow!("{what}: {e}")
        }
    })
}

/// [`UpstreamConfig`] from the settings; the redirect URI is `<MCP_BASE_URL>/auth/callback`.
pub(crate) fn upstream_config(settings: &Settings) -> anyhow::Result<UpstreamConfig> {
    let auth = &settings.auth;
    let endpoints = match &auth.oidc_config_url {
        Some(url) => UpstreamEndpoints::Discovery {
            config_url: url.clone(),
            expected_issuer: auth.issuer_url.clone(),
        },
        None => {
            let mut explicit = ExplicitEndpoints::new(
                auth.authorize_url
                    .clone()
                    .context("IDP_AUTHORIZE_URL is not set")?,
                auth.token_url.clone().context("IDP_TOKEN_URL is not set")?,
            );
            explicit.revocation_endpoint = auth.revocation_url.clone();
            explicit.userinfo_endpoint = auth.userinfo_url.clone();
            explicit.jwks_uri = auth.jwks_uri.clone();
            explicit.issuer = auth.issuer_url.clone();
            UpstreamEndpoints::Explicit(explicit)
        }
    };
    let mut config = UpstreamConfig::new(
        endpoints,
        auth.client_id
            .clone()
            .context("MCP_OAUTH_CLIENT_ID is not set")?,
        // private_key_jwt needs no secret; an empty one is never sent.
        auth.client_secret.clone().unwrap_or_default(),
        callback_url(settings),
    );
    config.auth_method = match auth.client_auth_method {
        IdpClientAuth::ClientSecretBasic => ClientAuthMethod::ClientSecretBasic,
        IdpClientAuth::ClientSecretPost => ClientAuthMethod::ClientSecretPost,
        IdpClientAuth::PrivateKeyJwt => {
            let pem = auth
                .client_key
                .as_ref()
                .context("MCP_OAUTH_CLIENT_KEY_FILE is not set")?;
            config.client_key = Some(
                ClientKey::from_pem(pem.expose_secret().as_bytes(), auth.client_key_id.clone())
                    .map_err(|e| anyhow!("MCP_OAUTH_CLIENT_KEY_FILE: {e}"))?,
            );
            ClientAuthMethod::PrivateKeyJwt
        }
    };
    config.scopes.clone_from(&auth.idp_scopes);
    config
        .extra_authorize_params
        .clone_from(&auth.extra_authorize_params);
    config
        .extra_token_params
        .clone_from(&auth.extra_token_params);
    config.groups_claim.clone_from(&auth.groups_claim);
    Ok(config)
}

/// The redirect URI to register at the IdP.
pub(crate) fn callback_url(settings: &Settings) -> String {
    format!("{}{CALLBACK_PATH}", settings.server.base_url)
}

/// The authorization server's settings: the policy's scopes and scope rules, lifetimes,
/// client rules, rate limits.
fn proxy_config(settings: &Settings, policy: &ToolRegistry) -> ProxyConfig {
    let proxy = &settings.auth.proxy;
    let scopes: Vec<String> = policy.offered_scopes().iter().map(str::to_owned).collect();
    // A client that asks for no scope gets everything but administration: least privilege;
    // the admin tools answer 403 naming `splunk:admin`, and the client asks for it then.
    let default_scopes = scopes
        .iter()
        .filter(|s| s.as_str() != mcp_tools::registry::SCOPE_ADMIN)
        .cloned()
        .collect();
    let mut config = ProxyConfig::new(&settings.server.base_url, scopes);
    config.default_scopes = default_scopes;
    config.scope_rules = Arc::clone(policy.scope_rules());
    config.access_token_ttl = proxy.access_token_ttl;
    config.refresh_token_ttl = proxy.refresh_token_ttl;
    config.consent_remember = proxy.consent_remember;
    config.refresh_reuse_grace = proxy.refresh_reuse_grace;
    config.registration.rate_limit = proxy.register_rate_limit;
    config.registration.allow_jwt_bearer = !proxy.idjag_issuers.is_empty();
    config.id_jag_issuers.clone_from(&proxy.idjag_issuers);
    let limit = |max| RateLimit {
        max,
        window: proxy.rate_limit_window,
    };
    config.token_limits = EndpointLimits {
        per_address: limit(proxy.token_rate_limit),
        per_client: limit(proxy.token_client_rate_limit),
    };
    config.revoke_limits = EndpointLimits {
        per_address: limit(proxy.revoke_rate_limit),
        per_client: limit(proxy.revoke_client_rate_limit),
    };
    let policy = RedirectPolicy::new().with_allow_list(
        proxy
            .redirect_allowlist
            .iter()
            .map(|pattern| RedirectPattern::new(pattern.clone())),
    );
    config.registration.redirect_policy = policy.clone();
    config.cimd = proxy.allow_cimd.then(|| CimdConfig {
        allow_loopback_http: proxy.cimd_allow_loopback,
        redirect_policy: policy,
        ..CimdConfig::default()
    });
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_key_is_derived_and_differs_from_the_encryption_key() {
        let key = [7u8; 32];
        let derived = cookie_key(&key);
        assert_eq!(derived.len(), 32);
        assert_ne!(derived, key);
        assert_eq!(derived, cookie_key(&key), "deterministic across replicas");
        assert_ne!(derived, cookie_key(&[8u8; 32]));
    }
}
