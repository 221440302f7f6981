//! Boundary 1: the token verifier, metadata and challenge for the configured auth mode.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use auth_core::{
    AuthContext, AuthError, CachingVerifier, ChallengeConfig, ClaimsConfig, DiscoveryDocument,
    HttpClient, HttpClientConfig, IntrospectionConfig, IntrospectionVerifier, JwksCache,
    JwksCacheConfig, JwtVerifier, ProtectedResourceMetadata, ScopeRules, ScopeRulesVerifier,
    StaticVerifier, TokenVerifier, VerifyFuture,
};
use mcp_tools::ToolRegistry;

use crate::config::{AuthMode, CredentialsMode, Settings};

/// Verified tokens are remembered this long at most (a revoked JWT stays usable until then).
const VERIFIED_CACHE_TTL: Duration = Duration::from_secs(60);
/// Distinct tokens remembered.
const VERIFIED_CACHE_CAPACITY: usize = 10_000;

/// What the HTTP transport needs to authenticate callers.
pub(crate) struct Inbound {
    /// Verifies bearer tokens.
    pub(crate) verifier: Arc<dyn TokenVerifier>,
    /// The issuer named as authorization server in the metadata.
    pub(crate) issuer: String,
    /// The IdP's JWKS cache (jwt mode), for metrics and readiness.
    pub(crate) jwks: Option<Arc<JwksCache>>,
    /// A URL whose answer proves the IdP is up (for `/readyz`).
    pub(crate) idp_probe_url: Option<String>,
    /// Proxy mode's authorization server, whose endpoints are served next to `/mcp`.
    pub(crate) authorization_server: Option<Arc<oidc_proxy::AuthorizationServer>>,
}

/// The HTTP client used toward the IdP. Plain http is allowed only to loopback (the test IdP
/// and local development), which auth-core enforces.
pub(crate) fn idp_http_client() -> anyhow::Result<HttpClient> {
    HttpClient::new(HttpClientConfig::default()).context("cannot build the HTTP client for the IdP")
}

/// Builds the verifier for `settings.auth.mode`; `None` for mode `none`. Every verifier
/// narrows its callers to the scopes `policy`'s scope rules allow their groups.
///
/// An IdP that cannot be reached at start does not stop the server: callers get 503 until
/// it answers (see [`DeferredVerifier`]), and `/readyz` names it meanwhile.
pub(crate) async fn build(
    settings: &Settings,
    policy: &ToolRegistry,
) -> anyhow::Result<Option<Inbound>> {
    let rules = Arc::clone(policy.scope_rules());
    let inbound = match settings.auth.mode {
        AuthMode::None => return Ok(None),
        AuthMode::Proxy => {
            let proxy = super::proxy::build(settings, policy).await?;
            // No verified-token cache: a revoked grant must stop working at once. Our tokens
            // carry the IdP's groups in `groups`, whatever the IdP's claim was called.
            let verifier = narrowed(Arc::new(proxy.server.verifier()), &rules, "groups");
            // Our tokens name only this server; the token Splunk gets is the IdP's, so the
            // passthrough audience rule (see `passthrough_guard`) does not apply to ours.
            return Ok(Some(Inbound {
                verifier,
                issuer: proxy.server.issuer().to_owned(),
                jwks: None,
                idp_probe_url: proxy.idp_probe_url,
                authorization_server: Some(proxy.server),
            }));
        }
        AuthMode::Jwt | AuthMode::Introspect => match idp_inbound(settings, &rules).await {
            Ok(inbound) => inbound,
            Err(Start::Fatal(e)) => return Err(e),
            Err(Start::IdpUnreachable(e)) => deferred_inbound(settings, rules, &e)?,
        },
        AuthMode::Static => {
            let auth = &settings.auth;
            let path = auth
                .static_tokens_file
                .as_ref()
                .context("MCP_STATIC_TOKENS_FILE is not set")?;
            let claims = ClaimsConfig::with_groups_claim(auth.groups_claim.clone());
            let verifier = static_verifier(path, claims)?;
            Inbound {
                verifier: narrowed(Arc::new(verifier), &rules, &auth.groups_claim),
                issuer: settings.server.base_url.clone(),
                jwks: None,
                idp_probe_url: None,
                authorization_server: None,
            }
        }
    };
    Ok(Some(passthrough_guard(settings, inbound)))
}

/// Why the verifier of an IdP mode could not be built now.
enum Start {
    /// The IdP's discovery document could not be had (down, unreachable, an error page): the
    /// server starts and tries again.
    IdpUnreachable(anyhow::Error),
    /// A configuration the IdP's answer cannot change (issuer mismatch, missing settings).
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for Start {
    fn from(e: anyhow::Error) -> Self {
        Self::Fatal(e)
    }
}

/// `verifier`, narrowed to the scopes `rules` allow each caller (groups from `groups_claim`).
fn narrowed(
    verifier: Arc<dyn TokenVerifier>,
    rules: &Arc<ScopeRules>,
    groups_claim: &str,
) -> Arc<dyn TokenVerifier> {
    Arc::new(ScopeRulesVerifier::new(
        verifier,
        Arc::clone(rules),
        groups_claim,
    ))
}

/// The verifier of `jwt` or `introspect` mode, which may need the IdP's discovery document.
async fn idp_inbound(settings: &Settings, rules: &Arc<ScopeRules>) -> Result<Inbound, Start> {
    let auth = &settings.auth;
    let claims = ClaimsConfig::with_groups_claim(auth.groups_claim.clone());
    let http = idp_http_client()?;
    if auth.mode == AuthMode::Introspect {
        let mut issuer = auth.issuer_url.clone();
        let mut endpoint = auth.introspection_url.clone();
        if let Some(url) = &auth.oidc_config_url {
            let doc = discover(&http, url, auth.issuer_url.as_deref()).await?;
            endpoint = endpoint.or(doc.introspection_endpoint);
            issuer = Some(doc.issuer);
        }
        let endpoint = endpoint.context(
            "no introspection endpoint: set IDP_INTROSPECTION_URL or IDP_OIDC_CONFIG_URL",
        )?;
        let client_id = auth
            .client_id
            .clone()
            .context("MCP_OAUTH_CLIENT_ID is not set")?;
        let secret = auth
            .client_secret
            .clone()
            .context("MCP_OAUTH_CLIENT_SECRET is not set")?;
        let mut config =
            IntrospectionConfig::new(endpoint.clone(), client_id, secret, auth.audience.clone());
        config.claims = claims;
        if let Some(issuer) = &issuer {
            config.issuers = vec![issuer.clone()];
        }
        let verifier = IntrospectionVerifier::new(http, config)
            .context("cannot build the introspection verifier")?;
        return Ok(Inbound {
            verifier: cached(narrowed(Arc::new(verifier), rules, &auth.groups_claim)),
            issuer: issuer.unwrap_or_else(|| origin_of(&endpoint)),
            jwks: None,
            idp_probe_url: Some(auth.oidc_config_url.clone().unwrap_or(endpoint)),
            authorization_server: None,
        });
    }
    let (issuer, jwks_uri, probe) = match &auth.oidc_config_url {
        Some(url) => {
            let doc = discover(&http, url, auth.issuer_url.as_deref()).await?;
            let jwks = doc
                .jwks_uri
                .clone()
                .or_else(|| auth.jwks_uri.clone())
                .context("the IdP's discovery document has no jwks_uri; set IDP_JWKS_URI")?;
            (doc.issuer, jwks, url.clone())
        }
        None => {
            let issuer = auth
                .issuer_url
                .clone()
                .context("IDP_ISSUER_URL is not set")?;
            let jwks = auth.jwks_uri.clone().context("IDP_JWKS_URI is not set")?;
            (issuer, jwks.clone(), jwks)
        }
    };
    let cache = Arc::new(
        JwksCache::new(&jwks_uri, Arc::new(http), JwksCacheConfig::default())
            .with_context(|| format!("IdP key set URL {jwks_uri}"))?,
    );
    let verifier = JwtVerifier::builder()
        .issuer(issuer.clone())
        .audience(auth.audience.clone())
        .claims_config(claims)
        .jwks(Arc::clone(&cache))
        .build()
        .context("cannot build the JWT verifier")?;
    Ok(Inbound {
        verifier: cached(narrowed(Arc::new(verifier), rules, &auth.groups_claim)),
        issuer,
        jwks: Some(cache),
        idp_probe_url: Some(probe),
        authorization_server: None,
    })
}

/// `jwt` or `introspect` mode while the IdP is down at start: a [`DeferredVerifier`] that
/// keeps trying to build the real one. The metadata names the configured issuer, or the one
/// the discovery URL implies.
fn deferred_inbound(
    settings: &Settings,
    rules: Arc<ScopeRules>,
    cause: &anyhow::Error,
) -> anyhow::Result<Inbound> {
    let auth = &settings.auth;
    let url = auth
        .oidc_config_url
        .clone()
        .context("only discovery needs the IdP at start")?;
    let issuer = auth
        .issuer_url
        .clone()
        .or_else(|| oidc_proxy::upstream::issuer_implied_by(&url))
        .with_context(|| {
            format!(
                "the IdP cannot be reached ({cause:#}), and without IDP_ISSUER_URL the server \
                 cannot name it in its metadata meanwhile; set IDP_ISSUER_URL"
            )
        })?;
    tracing::warn!(
        error = %format!("{cause:#}"),
        "the IdP cannot be reached: serving, with 503 to callers until it answers"
    );
    let settings = settings.clone();
    let verifier = DeferredVerifier::spawn(move || {
        let settings = settings.clone();
        let rules = Arc::clone(&rules);
        async move {
            match idp_inbound(&settings, &rules).await {
                Ok(inbound) => Ok(inbound.verifier),
                Err(Start::IdpUnreachable(e) | Start::Fatal(e)) => Err(e),
            }
        }
    });
    Ok(Inbound {
        verifier: Arc::new(verifier),
        issuer,
        jwks: None,
        idp_probe_url: Some(url),
        authorization_server: None,
    })
}

/// A verifier that exists once the IdP answers. Until then every token gets an `Upstream`
/// error, which is 503: a 401 would send clients to sign in again, and again. A background
/// task retries (every 5 s at most) and the server recovers without a restart.
struct DeferredVerifier {
    ready: Arc<std::sync::OnceLock<Arc<dyn TokenVerifier>>>,
}

/// Longest pause between two tries to reach the IdP.
const IDP_RETRY_MAX: Duration = Duration::from_secs(5);

impl DeferredVerifier {
    fn spawn<F, Fut>(build: F) -> Self
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<Arc<dyn TokenVerifier>>> + Send,
    {
        let ready = Arc::new(std::sync::OnceLock::new());
        let cell = Arc::clone(&ready);
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(250);
            loop {
                tokio::time::sleep(pause).await;
                match build().await {
                    Ok(verifier) => {
                        let _ = cell.set(verifier);
                        tracing::info!("the IdP answers: verifying tokens");
                        return;
                    }
                    Err(e) => tracing::warn!(
                        error = %format!("{e:#}"),
                        "the IdP still cannot be reached"
                    ),
                }
                pause = (pause * 2).min(IDP_RETRY_MAX);
            }
        });
        Self { ready }
    }
}

impl TokenVerifier for DeferredVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        match self.ready.get() {
            Some(verifier) => verifier.verify(token),
            None => Box::pin(async {
                Err(AuthError::Upstream(
                    "the identity provider has not answered since the server started".to_owned(),
                ))
            }),
        }
    }
}

/// The IdP's discovery document at `url` (`IDP_OIDC_CONFIG_URL`), its issuer checked. Not
/// getting it is [`Start::IdpUnreachable`]; a document naming another issuer is fatal.
async fn discover(
    http: &HttpClient,
    url: &str,
    expected_issuer: Option<&str>,
) -> Result<DiscoveryDocument, Start> {
    let context = || format!("IDP_OIDC_CONFIG_URL: cannot use the IdP's discovery document {url}");
    match DiscoveryDocument::fetch(http, url, expected_issuer).await {
        Ok(doc) => Ok(doc),
        Err(e @ auth_core::ConfigError::Discovery(_)) => Err(Start::IdpUnreachable(
            anyhow::Error::new(e).context(context()),
        )),
        Err(e) => Err(Start::Fatal(anyhow::Error::new(e).context(context()))),
    }
}

/// Wraps the verifier so that, in passthrough mode, only tokens whose audience also names
/// Splunk are accepted: forwarding a token issued for this server alone is what the MCP spec
/// forbids. `MCP_PASSTHROUGH_AUDIENCE_ACK=true` skips the check (the operator vouches that
/// Splunk accepts this server's audience).
fn passthrough_guard(settings: &Settings, inbound: Inbound) -> Inbound {
    if settings.splunk.credentials != CredentialsMode::Passthrough
        || settings.auth.passthrough_audience_ack
    {
        return inbound;
    }
    Inbound {
        verifier: Arc::new(RequireAudience {
            inner: inbound.verifier,
            audience: settings.auth.splunk_audience.clone(),
        }),
        ..inbound
    }
}

/// Accepts only tokens whose `aud` contains `audience` (besides what `inner` checks).
struct RequireAudience {
    inner: Arc<dyn TokenVerifier>,
    audience: String,
}

impl TokenVerifier for RequireAudience {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(async move {
            let ctx: AuthContext = self.inner.verify(token).await?;
            if ctx.claims().audience.iter().any(|a| a == &self.audience) {
                Ok(ctx)
            } else {
                Err(AuthError::InvalidAudience(format!(
                    "this server forwards tokens to Splunk, so they must also be issued for \
                     audience {:?}",
                    self.audience
                )))
            }
        })
    }
}

fn cached(verifier: Arc<dyn TokenVerifier>) -> Arc<dyn TokenVerifier> {
    Arc::new(CachingVerifier::new(
        verifier,
        VERIFIED_CACHE_CAPACITY,
        VERIFIED_CACHE_TTL,
    ))
}

/// `scheme://host[:port]` of a URL, as a stand-in issuer when none is known.
fn origin_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| url.to_owned())
}

/// Reads the static tokens file: `[tokens."<token>"]` tables of claims (`sub` required).
fn static_verifier(path: &std::path::Path, claims: ClaimsConfig) -> anyhow::Result<StaticVerifier> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        tokens: std::collections::BTreeMap<String, serde_json::Value>,
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("MCP_STATIC_TOKENS_FILE: cannot read {}", path.display()))?;
    let file: File = toml::from_str(&text)
        .with_context(|| format!("MCP_STATIC_TOKENS_FILE: {} is not valid", path.display()))?;
    let mut builder = StaticVerifier::builder()
        .allow_insecure_static(true)
        .claims_config(claims);
    for (token, claims) in file.tokens {
        builder = builder.token(token, claims);
    }
    builder
        .build()
        .with_context(|| format!("MCP_STATIC_TOKENS_FILE: {}", path.display()))
}

/// RFC 9728 metadata for `<base>/mcp`, naming `issuer` as the authorization server.
pub(crate) fn metadata(
    settings: &Settings,
    policy: &ToolRegistry,
    issuer: &str,
) -> ProtectedResourceMetadata {
    ProtectedResourceMetadata::new(format!("{}/mcp", settings.server.base_url), [issuer])
        .with_scopes(policy.offered_scopes().iter().map(str::to_owned))
        .with_name("splunk-mcp")
}

/// Challenge settings: where the metadata is, which scopes to ask for.
pub(crate) fn challenge(settings: &Settings, policy: &ToolRegistry) -> ChallengeConfig {
    ChallengeConfig::new(
        format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            settings.server.base_url
        ),
        policy.offered_scopes().clone(),
    )
}
