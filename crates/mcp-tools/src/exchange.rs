//! `exchange` credentials: the caller's token is exchanged at the IdP for a token whose
//! audience is Splunk, and Splunk is called with that one. The exchanged token is cached per
//! inbound token until shortly before it expires, and concurrent calls with one token wait for
//! one exchange. The exchange itself ([`TokenExchange`]) is the binary's to provide: talking to
//! the IdP's token endpoint is the proxy crate's business, not this one's.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::AuthContext;
use sha2::{Digest, Sha256};
use splunk_client::{Client, Credentials};

use crate::credentials::{ClientFuture, CredentialError, CredentialSource};

/// Most exchanged tokens kept at once; beyond, the least used are dropped.
const CACHE_CAPACITY: usize = 10_000;
/// How long an exchanged token is used when the IdP did not say how long it lives.
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(60);
/// The most of its life an exchanged token is not used for: it is exchanged again this long
/// (or a quarter of its lifetime, if shorter) before it expires, so no call carries a token
/// that expires on the way to Splunk.
const RENEW_BEFORE: Duration = Duration::from_secs(30);

/// The boxed future of [`TokenExchange::exchange`].
pub type ExchangeFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ExchangedToken, ExchangeError>> + Send + 'a>>;

/// Exchanges a caller's token at the IdP for a token for Splunk.
pub trait TokenExchange: Send + Sync + fmt::Debug {
    /// The token for Splunk that `subject_token` is exchanged for.
    fn exchange<'a>(&'a self, subject_token: &'a str) -> ExchangeFuture<'a>;
}

/// A token for Splunk. `Debug` does not show it.
#[derive(Clone)]
pub struct ExchangedToken {
    token: Arc<str>,
    expires_in: Option<Duration>,
}

impl ExchangedToken {
    /// `token`, living `expires_in` (when the IdP said).
    pub fn new(token: impl Into<Arc<str>>, expires_in: Option<Duration>) -> Self {
        Self {
            token: token.into(),
            expires_in,
        }
    }
}

impl fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangedToken")
            .field("token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The IdP refused the exchange with an OAuth error.
    #[error("{error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The IdP's `error`, e.g. `invalid_target` or `unauthorized_client`.
        error: String,
        /// The IdP's `error_description`, if any.
        description: Option<String>,
    },
    /// The IdP could not be reached, or answered something unusable; the detail is for logs.
    #[error("{0}")]
    Unavailable(String),
}

/// A cached exchanged token and when to stop using it.
#[derive(Clone)]
struct Cached {
    token: Arc<str>,
    use_until: Instant,
}

/// Calls Splunk with the caller's token exchanged for one for Splunk.
pub struct ExchangeCredentials {
    base: Client,
    exchange: Arc<dyn TokenExchange>,
    /// By SHA-256 of the inbound token, so the cache holds no caller's token as a key.
    cache: quick_cache::sync::Cache<[u8; 32], Cached>,
}

impl fmt::Debug for ExchangeCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeCredentials")
            .field("exchange", &self.exchange)
            .field("cached", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl ExchangeCredentials {
    /// Shares `base`'s connection pool; `base`'s own credential is never used for calls.
    pub fn new(base: Client, exchange: Arc<dyn TokenExchange>) -> Self {
        Self {
            base,
            exchange,
            cache: quick_cache::sync::Cache::new(CACHE_CAPACITY),
        }
    }

    /// The token for Splunk of `caller`: the cached one while it is fresh, else a new
    /// exchange (one per inbound token at a time, whoever asks).
    pub async fn token_for(&self, caller: &AuthContext) -> Result<Arc<str>, CredentialError> {
        let inbound = caller.token().secret();
        let key: [u8; 32] = Sha256::digest(inbound.as_bytes()).into();
        loop {
            match self.cache.get_value_or_guard_async(&key).await {
                Ok(cached) if Instant::now() < cached.use_until => return Ok(cached.token),
                Ok(_) => {
                    let now = Instant::now();
                    self.cache.remove_if(&key, |cached| cached.use_until <= now);
                }
                Err(guard) => {
                    let started = Instant::now();
                    let exchanged = self.exchange.exchange(inbound).await.map_err(|e| {
                        if let ExchangeError::Unavailable(detail) = &e {
                            tracing::warn!(error = %detail, "token exchange at the IdP failed");
                        }
                        CredentialError::from(e)
                    })?;
                    let lifetime = exchanged.expires_in.unwrap_or(UNKNOWN_LIFETIME);
                    let cached = Cached {
                        token: exchanged.token,
                        use_until: started + lifetime - RENEW_BEFORE.min(lifetime / 4),
                    };
                    let _ = guard.insert(cached.clone());
                    return Ok(cached.token);
                }
            }
        }
    }
}

impl From<ExchangeError> for CredentialError {
    fn from(error: ExchangeError) -> Self {
        match error {
            ExchangeError::Refused { error, description } => {
                CredentialError::ExchangeRefused { error, description }
            }
            ExchangeError::Unavailable(_) => CredentialError::ExchangeUnavailable,
        }
    }
}

impl CredentialSource for ExchangeCredentials {
    fn client_for<'a>(&'a self, caller: Option<&'a AuthContext>) -> ClientFuture<'a> {
        Box::pin(async move {
            let caller = caller.ok_or(CredentialError::NoCaller)?;
            let token = self.token_for(caller).await?;
            Ok(self.base.with_credentials(Credentials::bearer(&*token)))
        })
    }

    fn mode(&self) -> &'static str {
        "exchange"
    }
}
