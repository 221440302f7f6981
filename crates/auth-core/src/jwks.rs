//! `JwksCache`: the identity provider's signing keys, fetched from a JWKS URI (directly or by
//! OIDC discovery), cached per Cache-Control within bounds, refreshed on an unknown `kid` at
//! most once per cool-down and by one task at a time, and kept while the provider is down.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use josekit::jwk::Jwk;
use parking_lot::{Mutex, RwLock};
use serde::Deserialize;

use crate::algorithm::{Algorithm, KeyVerifier};
use crate::error::{AuthError, ConfigError, clip};
use crate::http_client::{HttpClient, HttpResponse};

/// The future a [`JwksFetcher`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, String>> + Send + 'a>>;

/// Fetches a JWKS document. [`HttpClient`] is the real one; tests may substitute their own.
pub trait JwksFetcher: Send + Sync {
    /// GETs `uri`.
    fn fetch<'a>(&'a self, uri: &'a str) -> FetchFuture<'a>;
}

impl JwksFetcher for HttpClient {
    fn fetch<'a>(&'a self, uri: &'a str) -> FetchFuture<'a> {
        Box::pin(self.get(uri))
    }
}

/// Bounds and timing of a [`JwksCache`].
#[derive(Debug, Clone)]
pub struct JwksCacheConfig {
    /// Shortest time keys are kept fresh, whatever Cache-Control says (protects the IdP).
    pub min_ttl: Duration,
    /// Longest time keys are kept fresh, whatever Cache-Control says (bounds revocation lag).
    pub max_ttl: Duration,
    /// Freshness when the response has no usable Cache-Control.
    pub default_ttl: Duration,
    /// Minimum interval between two fetches triggered by unknown `kid`s or a failing IdP.
    pub refresh_cooldown: Duration,
    /// Algorithms keys may be used with. HMAC is never allowed here.
    pub algorithms: Vec<Algorithm>,
}

impl Default for JwksCacheConfig {
    fn default() -> Self {
        Self {
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            default_ttl: Duration::from_secs(600),
            refresh_cooldown: Duration::from_secs(10),
            algorithms: Algorithm::ASYMMETRIC.to_vec(),
        }
    }
}

/// One usable public key with a ready verifier per allowed algorithm (building a verifier
/// parses the key, too slow to do per request).
struct KeyEntry {
    verifiers: Vec<(Algorithm, KeyVerifier)>,
}

impl KeyEntry {
    fn verifier(&self, alg: Algorithm) -> Option<&KeyVerifier> {
        self.verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, v)| v)
    }
}

#[derive(Default)]
struct KeySet {
    by_kid: HashMap<String, Arc<KeyEntry>>,
    all: Vec<Arc<KeyEntry>>,
}

struct Snapshot {
    keys: Arc<KeySet>,
    fresh_until: Instant,
}

#[derive(Default)]
struct Timing {
    last_attempt: Option<Instant>,
    generation: u64,
}

/// A cached JWKS. Share one per IdP behind an `Arc`.
pub struct JwksCache {
    uri: String,
    fetcher: Arc<dyn JwksFetcher>,
    config: JwksCacheConfig,
    current: RwLock<Option<Snapshot>>,
    timing: Mutex<Timing>,
    // Single flight: only the holder fetches; the others wait and then reuse its result.
    refresh_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("uri", &self.uri)
            .field("fetches", &self.fetch_count())
            .finish()
    }
}

impl JwksCache {
    /// A cache for `uri`, fetched with `fetcher` on first use.
    pub fn new(
        uri: impl Into<String>,
        fetcher: Arc<dyn JwksFetcher>,
        config: JwksCacheConfig,
    ) -> Result<Self, ConfigError> {
        if config.algorithms.is_empty() {
            return Err(ConfigError::Algorithms("empty allow-list".to_owned()));
        }
        if config.min_ttl > config.max_ttl {
            return Err(ConfigError::CacheBounds(
                "min_ttl exceeds max_ttl".to_owned(),
            ));
        }
        if let Some(a) = config.algorithms.iter().find(|a| a.is_symmetric()) {
            return Err(ConfigError::Algorithms(format!(
                "{a} is symmetric and never allowed with a JWKS"
            )));
        }
        Ok(Self {
            uri: uri.into(),
            fetcher,
            config,
            current: RwLock::new(None),
            timing: Mutex::new(Timing::default()),
            refresh_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        })
    }

    /// The JWKS URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The algorithm allow-list.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.config.algorithms
    }

    /// How many fetches were attempted (successful or not); for metrics and tests.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Fetches now unless rate-limited; for start-up warm-up and readiness checks.
    pub async fn refresh(&self) -> Result<(), AuthError> {
        self.refresh_single_flight()
            .await
            .map(|_| ())
            .map_err(Refresh::into_error)
    }

    /// Verifies `signature` over `message` with the key named by `kid` (or, with no `kid`, any
    /// key fitting `alg`), refreshing once on an unknown `kid`.
    pub(crate) async fn verify(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthError> {
        if !self.config.algorithms.contains(&alg) {
            return Err(AuthError::AlgorithmNotAllowed(alg.to_string()));
        }
        let keys = self.keys_refreshing_if_stale().await?;
        match verify_with(&keys, kid, alg, message, signature) {
            Err(AuthError::UnknownKey(_)) if kid.is_some() => {
                // A new kid usually means the IdP rotated keys: look again, within the rate limit.
                match self.refresh_single_flight().await {
                    Ok(fresh) => verify_with(&fresh, kid, alg, message, signature),
                    Err(Refresh::RateLimited) => Err(AuthError::UnknownKey(kid.map(clip))),
                    Err(Refresh::Failed(e)) => {
                        tracing::warn!(uri = %self.uri, error = %e, "JWKS refresh for an unknown kid failed");
                        Err(AuthError::UnknownKey(kid.map(clip)))
                    }
                }
            }
            other => other,
        }
    }

    async fn keys_refreshing_if_stale(&self) -> Result<Arc<KeySet>, AuthError> {
        let cached = {
            let guard = self.current.read();
            guard
                .as_ref()
                .map(|s| (s.keys.clone(), Instant::now() < s.fresh_until))
        };
        match cached {
            Some((keys, true)) => Ok(keys),
            Some((stale, false)) => {
                // Stale keys are still good keys: if someone is already refreshing, do not wait.
                if self.refresh_lock.try_lock().is_err() {
                    return Ok(stale);
                }
                match self.refresh_single_flight().await {
                    Ok(fresh) => Ok(fresh),
                    // Logged once per attempt, not per request, while the IdP is down.
                    Err(Refresh::RateLimited) => Ok(stale),
                    Err(Refresh::Failed(e)) => {
                        tracing::warn!(uri = %self.uri, error = %e, "JWKS refresh failed; keeping the last good keys");
                        Ok(stale)
                    }
                }
            }
            None => self
                .refresh_single_flight()
                .await
                .map_err(Refresh::into_error),
        }
    }

    async fn refresh_single_flight(&self) -> Result<Arc<KeySet>, Refresh> {
        let generation_before = self.timing.lock().generation;
        let _flight = self.refresh_lock.lock().await;
        {
            let mut timing = self.timing.lock();
            if timing.generation != generation_before {
                // Another task fetched while we waited: its answer is ours.
                drop(timing);
                return self.snapshot_keys().map_err(Refresh::Failed);
            }
            if let Some(last) = timing.last_attempt
                && last.elapsed() < self.config.refresh_cooldown
            {
                return Err(Refresh::RateLimited);
            }
            timing.last_attempt = Some(Instant::now());
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let response = self.fetcher.fetch(&self.uri).await;
        let (keys, ttl) = match response {
            Ok(r) if r.status == 200 => {
                let ttl = self.ttl_from(r.cache_control.as_deref());
                (
                    parse_jwks(&r.body, &self.config.algorithms)
                        .map_err(|e| Refresh::Failed(AuthError::KeysUnavailable(e)))?,
                    ttl,
                )
            }
            Ok(r) => {
                return Err(Refresh::Failed(AuthError::KeysUnavailable(format!(
                    "JWKS endpoint answered {}",
                    r.status
                ))));
            }
            Err(e) => return Err(Refresh::Failed(AuthError::KeysUnavailable(e))),
        };
        let keys = Arc::new(keys);
        *self.current.write() = Some(Snapshot {
            keys: keys.clone(),
            fresh_until: Instant::now() + ttl,
        });
        self.timing.lock().generation += 1;
        tracing::debug!(uri = %self.uri, keys = keys.all.len(), ttl_s = ttl.as_secs(), "JWKS refreshed");
        Ok(keys)
    }

    fn snapshot_keys(&self) -> Result<Arc<KeySet>, AuthError> {
        self.current
            .read()
            .as_ref()
            .map(|s| s.keys.clone())
            .ok_or_else(|| AuthError::KeysUnavailable("no keys fetched yet".to_owned()))
    }

    fn ttl_from(&self, cache_control: Option<&str>) -> Duration {
        let c = &self.config;
        let Some(cc) = cache_control else {
            return c.default_ttl.clamp(c.min_ttl, c.max_ttl);
        };
        let mut max_age = None;
        for directive in cc.split(',').map(str::trim) {
            let lower = directive.to_ascii_lowercase();
            if lower == "no-cache" || lower == "no-store" {
                return c.min_ttl;
            }
            if let Some(v) = lower.strip_prefix("max-age=") {
                max_age = v.trim_matches('"').parse::<u64>().ok();
            }
        }
        max_age
            .map(Duration::from_secs)
            .unwrap_or(c.default_ttl)
            .clamp(c.min_ttl, c.max_ttl)
    }
}

/// Why a refresh did not produce keys.
enum Refresh {
    /// Within the cool-down of the last attempt; nothing was fetched.
    RateLimited,
    /// The fetch failed or no keys exist yet.
    Failed(AuthError),
}

impl Refresh {
    fn into_error(self) -> AuthError {
        match self {
            Self::RateLimited => AuthError::KeysUnavailable("refresh rate-limited".to_owned()),
            Self::Failed(e) => e,
        }
    }
}

fn verify_with(
    keys: &KeySet,
    kid: Option<&str>,
    alg: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), AuthError> {
    match kid {
        Some(kid) => {
            let entry = keys
                .by_kid
                .get(kid)
                .ok_or_else(|| AuthError::UnknownKey(Some(clip(kid))))?;
            let verifier = entry.verifier(alg).ok_or_else(|| {
                AuthError::InvalidSignature(format!("key {} cannot be used with {alg}", clip(kid)))
            })?;
            verifier
                .verify(message, signature)
                .map_err(AuthError::InvalidSignature)
        }
        None => {
            // No kid: an IdP with a single key often omits it; try each key that fits the alg.
            let mut tried = false;
            for entry in &keys.all {
                if let Some(v) = entry.verifier(alg) {
                    tried = true;
                    if v.verify(message, signature).is_ok() {
                        return Ok(());
                    }
                }
            }
            if tried {
                Err(AuthError::InvalidSignature(
                    "no key verifies the signature".to_owned(),
                ))
            } else {
                Err(AuthError::UnknownKey(None))
            }
        }
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

fn parse_jwks(body: &[u8], algorithms: &[Algorithm]) -> Result<KeySet, String> {
    let raw: RawJwks =
        serde_json::from_slice(body).map_err(|e| format!("JWKS is not valid JSON: {e}"))?;
    let mut set = KeySet::default();
    for value in raw.keys {
        let serde_json::Value::Object(map) = value else {
            continue;
        };
        let Ok(jwk) = Jwk::from_map(map) else {
            continue;
        };
        if jwk.key_type() == "oct" || jwk.key_use().is_some_and(|u| u != "sig") {
            // Symmetric keys published in a JWKS would let anyone who reads it sign tokens.
            continue;
        }
        let declared = jwk.algorithm().and_then(|a| a.parse::<Algorithm>().ok());
        if jwk.algorithm().is_some() && declared.is_none() {
            continue;
        }
        // The verifiers read only the public parameters, so a JWKS that wrongly carries private
        // parts still yields public-key verifiers; `kid` and `alg` come from the entry.
        let public = &jwk;
        let verifiers: Vec<_> = algorithms
            .iter()
            .copied()
            .filter(|a| declared.is_none_or(|d| d == *a) && a.fits(public))
            .filter_map(|a| match a.verifier_from_jwk(public) {
                Ok(v) => Some((a, v)),
                Err(e) => {
                    tracing::debug!(kid = ?public.key_id().map(clip), alg = %a, error = %e, "JWKS key skipped");
                    None
                }
            })
            .collect();
        if verifiers.is_empty() {
            continue;
        }
        let entry = Arc::new(KeyEntry { verifiers });
        if let Some(kid) = public.key_id() {
            // First key wins on duplicate kids, so a later entry cannot shadow it.
            set.by_kid
                .entry(kid.to_owned())
                .or_insert_with(|| entry.clone());
        }
        set.all.push(entry);
    }
    Ok(set)
}

/// The fields of an OpenID Provider / OAuth authorization server metadata document we use.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct DiscoveryDocument {
    /// `issuer`; equal to the issuer the document was fetched for (checked).
    pub issuer: String,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `introspection_endpoint`.
    pub introspection_endpoint: Option<String>,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    pub token_endpoint: Option<String>,
}

impl DiscoveryDocument {
    /// Fetches the document at `config_url` (`…/.well-known/openid-configuration` or RFC 8414's
    /// `/.well-known/oauth-authorization-server…`) and checks its `issuer` against the issuer the
    /// URL implies, or against `expected_issuer` when given (OIDC Discovery §4.3, RFC 8414 §3.3:
    /// a mismatch means the document may be an impostor's).
    pub async fn fetch(
        http: &HttpClient,
        config_url: &str,
        expected_issuer: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let implied = issuer_from_config_url(config_url);
        let expected = expected_issuer
            .map(str::to_owned)
            .or(implied)
            .ok_or_else(|| ConfigError::InvalidUrl {
                url: config_url.to_owned(),
                detail: "not a .well-known metadata URL; pass the expected issuer".to_owned(),
            })?;
        let resp = http.get(config_url).await.map_err(ConfigError::Discovery)?;
        if resp.status != 200 {
            return Err(ConfigError::Discovery(format!(
                "{config_url} answered {}",
                resp.status
            )));
        }
        let doc: Self = serde_json::from_slice(&resp.body)
            .map_err(|e| ConfigError::Discovery(e.to_string()))?;
        if doc.issuer != expected {
            return Err(ConfigError::IssuerMismatch {
                expected,
                found: doc.issuer,
            });
        }
        Ok(doc)
    }

    /// A [`JwksCache`] for this document's `jwks_uri`.
    pub fn jwks_cache(
        &self,
        http: &HttpClient,
        config: JwksCacheConfig,
    ) -> Result<JwksCache, ConfigError> {
        let uri = self
            .jwks_uri
            .as_deref()
            .ok_or_else(|| ConfigError::Discovery("document has no jwks_uri".to_owned()))?;
        http.check_url(uri)?;
        JwksCache::new(uri, Arc::new(http.clone()), config)
    }
}

fn issuer_from_config_url(url: &str) -> Option<String> {
    const OIDC: &str = "/.well-known/openid-configuration";
    const RFC8414: &str = "/.well-known/oauth-authorization-server";
    if let Some(prefix) = url.strip_suffix(OIDC) {
        return Some(prefix.to_owned());
    }
    // RFC 8414 inserts the well-known segment between host and path.
    let idx = url.find(RFC8414)?;
    Some(format!("{}{}", &url[..idx], &url[idx + RFC8414.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_from_urls() {
        assert_eq!(
            issuer_from_config_url("https://idp.example/realms/x/.well-known/openid-configuration")
                .as_deref(),
            Some("https://idp.example/realms/x")
        );
        assert_eq!(
            issuer_from_config_url(
                "https://idp.example/.well-known/oauth-authorization-server/tenant"
            )
            .as_deref(),
            Some("https://idp.example/tenant")
        );
        assert_eq!(issuer_from_config_url("https://idp.example/jwks"), None);
    }

    struct Never;
    impl JwksFetcher for Never {
        fn fetch<'a>(&'a self, _uri: &'a str) -> FetchFuture<'a> {
            Box::pin(async { Err("down".to_owned()) })
        }
    }

    #[test]
    fn ttl_bounds() {
        let cfg = JwksCacheConfig {
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
            ..Default::default()
        };
        let c = JwksCache::new("https://x/jwks", Arc::new(Never), cfg).unwrap();
        assert_eq!(
            c.ttl_from(Some("public, max-age=5")),
            Duration::from_secs(60)
        );
        assert_eq!(c.ttl_from(Some("max-age=120")), Duration::from_secs(120));
        assert_eq!(
            c.ttl_from(Some("max-age=999999")),
            Duration::from_secs(3600)
        );
        assert_eq!(c.ttl_from(Some("no-store")), Duration::from_secs(60));
        assert_eq!(c.ttl_from(None), Duration::from_secs(600));
    }

    #[test]
    fn hmac_refused() {
        let cfg = JwksCacheConfig {
            algorithms: vec![Algorithm::Hs256],
            ..Default::default()
        };
        assert!(JwksCache::new("https://x/jwks", Arc::new(Never), cfg).is_err());
    }
}
