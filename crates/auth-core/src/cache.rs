//! `CachingVerifier`: remembers verified tokens by their SHA-256 so a repeated token costs a
//! hash and a lookup, bounded in entries and by each token's `exp`.
//!
//! Only successes are cached: a refused token may become good after a key rotation, and caching
//! failures would let junk tokens evict good entries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::context::AuthContext;
use crate::verifier::{TokenVerifier, VerifyFuture, unix_now};

#[derive(Clone)]
struct Entry {
    ctx: AuthContext,
    valid_until: Instant,
}

/// A bounded cache of verified tokens wrapped around another verifier.
pub struct CachingVerifier {
    inner: Arc<dyn TokenVerifier>,
    cache: quick_cache::sync::Cache<[u8; 32], Entry>,
    max_ttl: Duration,
}

impl std::fmt::Debug for CachingVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachingVerifier")
            .field("entries", &self.cache.len())
            .field("max_ttl", &self.max_ttl)
            .finish()
    }
}

impl CachingVerifier {
    /// Caches up to `capacity` tokens verified by `inner`, each for at most `max_ttl` and never
    /// past its `exp` (a short `max_ttl` bounds how long a revoked introspected token lives on).
    pub fn new(inner: Arc<dyn TokenVerifier>, capacity: usize, max_ttl: Duration) -> Self {
        Self {
            inner,
            cache: quick_cache::sync::Cache::new(capacity.max(1)),
            max_ttl,
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.cache.len() == 0
    }

    async fn verify_cached(&self, token: &str) -> Result<AuthContext, crate::AuthError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(entry) = self.cache.get(&key) {
            if Instant::now() < entry.valid_until {
                return Ok(entry.ctx);
            }
            self.cache.remove(&key);
        }
        let ctx = self.inner.verify(token).await?;
        let mut ttl = self.max_ttl;
        if let Some(exp) = ctx.expires_at() {
            let left = exp.saturating_sub(unix_now());
            if left <= 0 {
                return Ok(ctx);
            }
            ttl = ttl.min(Duration::from_secs(left as u64));
        }
        self.cache.insert(
            key,
            Entry {
                ctx: ctx.clone(),
                valid_until: Instant::now() + ttl,
            },
        );
        Ok(ctx)
    }
}

impl TokenVerifier for CachingVerifier {
    fn verify<'a>(&'a self, token: &'a str) -> VerifyFuture<'a> {
        Box::pin(self.verify_cached(token))
    }
}
