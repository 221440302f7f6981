//! The `Store` trait: everything the authorization server keeps between requests, and the two
//! implementations (embedded [`RedbStore`], shared [`RedisStore`]).
//!
//! All state lives here, never in process memory, so a callback or a token request may land on
//! any replica sharing the store. Every operation states what is atomic. Expired entries are never
//! returned (expiry is checked on read) and are eventually purged: Redis expires keys itself; the
//! embedded store needs [`Store::purge_expired`], which [`spawn_purger`] calls periodically.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::records::{
    AuthorizationCode, AuthorizationTransaction, ClientRecord, ConsentRecord, KeyState,
    RedeemOutcome, RefreshAnswer, RefreshFamily, RefreshGrant, RotateOutcome, SigningKeyRecord,
    TokenHash, UpstreamTokenSet,
};

mod embedded;
mod redis_store;

pub use embedded::RedbStore;
pub use redis_store::RedisStore;

/// The future every store operation returns. Boxed so `Arc<dyn Store>` works.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Longest lifetime an authorization code may be given.
pub const MAX_CODE_TTL: Duration = Duration::from_secs(60);

/// How long a redeemed code is remembered so that a replay is still recognised (and revokes
/// the grant) after the code itself would have expired.
pub const REDEEMED_CODE_RETENTION: Duration = Duration::from_secs(600);

/// How many superseded refresh-token hashes a family remembers for reuse detection, at least.
/// An older one is answered [`RotateOutcome::Mismatch`]: still refused, just not a revocation.
pub const REMEMBERED_REFRESH_HASHES: usize = 256;

/// Persistent state of the authorization server.
///
/// Keys given by callers (transaction keys, ids) are opaque strings; bearer values (codes,
/// refresh tokens) are passed as their [`TokenHash`] so the store never holds one usable as is.
/// Upstream token sets and signing keys are encrypted at rest with the record's key as AAD.
pub trait Store: Send + Sync {
    /// Inserts or replaces a client. `ttl` bounds a cached metadata document; `None` keeps a
    /// registered client until deleted. Single-key write: atomic.
    fn put_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()>;

    /// The client with this id, unless absent or expired.
    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>>;

    /// Deletes a client; `true` if it existed. Atomic.
    fn delete_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, bool>;

    /// Stores a pending authorization under `key` (a consent id before consent, the upstream
    /// `state` after) for `ttl`. Replaces any entry with that key. Atomic.
    fn put_transaction<'a>(
        &'a self,
        key: &'a str,
        transaction: &'a AuthorizationTransaction,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Reads a pending authorization without consuming it (to render the consent page).
    fn get_transaction<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<AuthorizationTransaction>>;

    /// Atomically reads and deletes a pending authorization: of concurrent callers exactly one
    /// gets `Some`, so a `state` or consent id is single use.
    fn take_transaction<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<AuthorizationTransaction>>;

    /// Stores one of our authorization codes under its hash for `ttl` (at most
    /// [`MAX_CODE_TTL`], else [`StoreError::InvalidArgument`]). Atomic.
    fn put_code<'a>(
        &'a self,
        code: &'a TokenHash,
        record: &'a AuthorizationCode,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Spends a code. Atomic test-and-set: of concurrent callers exactly one gets
    /// [`RedeemOutcome::Redeemed`]; every other call (now, or within
    /// [`REDEEMED_CODE_RETENTION`]) gets [`RedeemOutcome::AlreadyRedeemed`] with the grant id to
    /// revoke. Unknown or expired unredeemed codes give [`RedeemOutcome::NotFound`].
    fn redeem_code<'a>(&'a self, code: &'a TokenHash) -> StoreFuture<'a, RedeemOutcome>;

    /// Records (or replaces) a user's consent to a client, kept for `ttl` or until revoked.
    /// Atomic.
    fn put_consent<'a>(
        &'a self,
        consent: &'a ConsentRecord,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()>;

    /// The consent of `subject` to `client_id`, unless absent or expired.
    fn get_consent<'a>(
        &'a self,
        subject: &'a str,
        client_id: &'a str,
    ) -> StoreFuture<'a, Option<ConsentRecord>>;

    /// Revokes a consent; `true` if there was one. Atomic.
    fn revoke_consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, bool>;

    /// Creates a refresh family whose first token hashes to `first`, living `ttl` at most.
    /// Atomic insert-if-absent: `false` (and no change) if the family id already exists.
    fn create_refresh_family<'a>(
        &'a self,
        grant: &'a RefreshGrant,
        first: &'a TokenHash,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// The family, unless absent or expired (a revoked family is returned, with `revoked`).
    fn get_refresh_family<'a>(
        &'a self,
        family_id: &'a str,
    ) -> StoreFuture<'a, Option<RefreshFamily>>;

    /// Compare-and-swap rotation, atomic: if `presented` is the current hash it is replaced by
    /// `new` ([`RotateOutcome::Rotated`]; of concurrent callers presenting the same token exactly
    /// one wins); if `presented` was current before, the family is revoked
    /// ([`RotateOutcome::Reused`]); a revoked family gives [`RotateOutcome::Revoked`].
    fn rotate_refresh<'a>(
        &'a self,
        family_id: &'a str,
        presented: &'a TokenHash,
        new: &'a TokenHash,
    ) -> StoreFuture<'a, RotateOutcome>;

    /// Marks a family revoked (kept until it expires, so later use reports `Revoked`) and
    /// returns it so the caller can revoke the upstream tokens; `None` if absent. Atomic.
    fn revoke_refresh_family<'a>(
        &'a self,
        family_id: &'a str,
    ) -> StoreFuture<'a, Option<RefreshFamily>>;

    /// Stores (or replaces, after an upstream refresh) the IdP's tokens for a grant, encrypted.
    /// Atomic; concurrent replacements: last writer wins.
    fn put_upstream_tokens<'a>(
        &'a self,
        id: &'a str,
        tokens: &'a UpstreamTokenSet,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()>;

    /// The IdP's tokens for a grant, decrypted, unless absent or expired.
    fn get_upstream_tokens<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<UpstreamTokenSet>>;

    /// Deletes the IdP's tokens for a grant; `true` if they existed. Atomic.
    fn delete_upstream_tokens<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool>;

    /// Claims `name` for `ttl`, across every replica sharing the store: `true` for the first
    /// caller, `false` while another holds it. What one replica alone should do (rotate one
    /// refresh token, create the first signing key) is done by the claim's holder.
    fn claim<'a>(&'a self, name: &'a str, ttl: Duration) -> StoreFuture<'a, bool>;

    /// Gives up a claim of [`Store::claim`] before its time runs out.
    fn release<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()>;

    /// Keeps `answer`, encrypted, as what presenting `presented` gives for `ttl`.
    fn put_refresh_answer<'a>(
        &'a self,
        presented: &'a TokenHash,
        answer: &'a RefreshAnswer,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// The answer kept for `presented`, while its window lasts.
    fn get_refresh_answer<'a>(
        &'a self,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Option<RefreshAnswer>>;

    /// All signing keys, decrypted, oldest first.
    fn list_signing_keys(&self) -> StoreFuture<'_, Vec<SigningKeyRecord>>;

    /// Inserts or replaces a signing key (by `kid`), encrypted. Atomic.
    fn put_signing_key<'a>(&'a self, key: &'a SigningKeyRecord) -> StoreFuture<'a, ()>;

    /// Changes a key's state; `false` if no such key. Atomic read-modify-write on the embedded
    /// store; on Redis concurrent changes of the same key: last writer wins.
    fn set_signing_key_state<'a>(&'a self, kid: &'a str, state: KeyState) -> StoreFuture<'a, bool>;

    /// Counts a hit on `key` in the current fixed window of length `window` (windows are aligned
    /// to multiples of `window` since the epoch) and returns the count including this hit.
    /// Atomic increment.
    fn hit_rate_limit<'a>(&'a self, key: &'a str, window: Duration) -> StoreFuture<'a, u64>;

    /// Deletes expired entries and returns how many. Redis expires keys itself and returns 0.
    fn purge_expired(&self) -> StoreFuture<'_, u64>;
}

/// Calls [`Store::purge_expired`] every `every` until the returned task is aborted. Failures
/// are logged and retried at the next tick.
pub fn spawn_purger(store: Arc<dyn Store>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match store.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(purged = n, "purged expired store entries"),
                Err(e) => tracing::warn!(error = %e, "purging expired store entries failed"),
            }
        }
    })
}

/// Milliseconds of a duration, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The consent key: length-prefixed so no subject/client pair can collide with another.
pub(crate) fn consent_key(subject: &str, client_id: &str) -> String {
    format!("{}:{subject}:{client_id}", subject.len())
}

/// Rejects code lifetimes over [`MAX_CODE_TTL`] and zero.
pub(crate) fn check_code_ttl(ttl: Duration) -> Result<(), StoreError> {
    if ttl.is_zero() || ttl > MAX_CODE_TTL {
        return Err(StoreError::InvalidArgument(format!(
            "an authorization code must live between 1 ms and {} s, got {ttl:?}",
            MAX_CODE_TTL.as_secs()
        )));
    }
    Ok(())
}

/// The start (ms) of the fixed window containing `now` (ms).
pub(crate) fn window_start(now: u64, window: Duration) -> u64 {
    let len = millis(window).max(1);
    now - now % len
}
