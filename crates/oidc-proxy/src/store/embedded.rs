//! The embedded store on redb: one file, no server, survives restarts. The default.
//!
//! Why redb rather than SQLite: it is pure Rust (no C library to build or link, nothing for the
//! fuzz and cross builds to trip on), ACID with copy-on-write B-trees and fsync on commit, and
//! its serialised write transactions give exactly the atomic read-modify-write that `take`,
//! `redeem` and `rotate` need, without SQL. The store is a handful of key-value tables, so
//! SQLite's query language would buy nothing.
//!
//! Layout: one table per record kind, `&str` key → bytes; every value starts with its expiry
//! (u64 big-endian Unix ms, `u64::MAX` for none) so reads can refuse expired entries and
//! [`Store::purge_expired`] can delete them. redb calls block, so each operation runs in
//! `tokio::task::spawn_blocking`. One process at a time may open the file (redb locks it); use
//! [`RedisStore`](super::RedisStore) for several replicas.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{
    REDEEMED_CODE_RETENTION, REMEMBERED_REFRESH_HASHES, Store, StoreFuture, check_code_ttl,
    consent_key, millis, window_start,
};
use crate::crypto::Cipher;
use crate::error::StoreError;
use crate::records::{
    AuthorizationCode, AuthorizationTransaction, ClientRecord, ConsentRecord, KeyState,
    RedeemOutcome, RefreshAnswer, RefreshFamily, RefreshGrant, RotateOutcome, SigningKeyRecord,
    TokenHash, UpstreamTokenSet, now_millis,
};

type Table = TableDefinition<'static, &'static str, &'static [u8]>;

const CLIENTS: Table = TableDefinition::new("clients");
const TRANSACTIONS: Table = TableDefinition::new("transactions");
const CODES: Table = TableDefinition::new("codes");
const CONSENTS: Table = TableDefinition::new("consents");
const FAMILIES: Table = TableDefinition::new("refresh_families");
const UPSTREAM: Table = TableDefinition::new("upstream_tokens");
const SIGNING_KEYS: Table = TableDefinition::new("signing_keys");
const RATE_LIMITS: Table = TableDefinition::new("rate_limits");
const CLAIMS: Table = TableDefinition::new("claims");
const REFRESH_ANSWERS: Table = TableDefinition::new("refresh_answers");
const ALL_TABLES: [Table; 10] = [
    CLIENTS,
    TRANSACTIONS,
    CODES,
    CONSENTS,
    FAMILIES,
    UPSTREAM,
    SIGNING_KEYS,
    RATE_LIMITS,
    CLAIMS,
    REFRESH_ANSWERS,
];

const NEVER: u64 = u64::MAX;

/// A code as stored: the record, whether it was spent, and when the unspent code expires.
#[derive(Serialize, Deserialize)]
struct StoredCode {
    record: AuthorizationCode,
    redeemed: bool,
    expires_at: u64,
}

/// A family as stored, with the superseded hashes kept for reuse detection.
#[derive(Serialize, Deserialize)]
struct StoredFamily {
    family: RefreshFamily,
    previous: Vec<TokenHash>,
}

struct Inner {
    db: Database,
    cipher: Cipher,
}

/// The embedded [`Store`]: a redb file. Cheap to clone.
#[derive(Clone)]
pub struct RedbStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (or creates) the store file at `path`. Fails if another process has it open.
    pub async fn open(path: impl AsRef<Path>, cipher: Cipher) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let db = Database::create(&path).map_err(StoreError::redb)?;
            let txn = db.begin_write().map_err(StoreError::redb)?;
            for table in ALL_TABLES {
                txn.open_table(table).map_err(StoreError::redb)?;
            }
            txn.commit().map_err(StoreError::redb)?;
            Ok(Self {
                inner: Arc::new(Inner { db, cipher }),
            })
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Runs `f` on the blocking pool.
    fn run<T, F>(&self, f: F) -> StoreFuture<'static, T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&inner))
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?
        })
    }
}

fn expiry_after(ttl: Option<Duration>) -> u64 {
    ttl.map_or(NEVER, |ttl| now_millis().saturating_add(millis(ttl)))
}

fn envelope(expires_at: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&expires_at.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The payload of a stored value, or `None` if it expired.
fn live_payload(value: &[u8], now: u64) -> Option<&[u8]> {
    let (expiry, payload) = value.split_at_checked(8)?;
    let expires_at = u64::from_be_bytes(expiry.try_into().ok()?);
    (expires_at > now).then_some(payload)
}

fn is_expired(value: &[u8], now: u64) -> bool {
    live_payload(value, now).is_none()
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structs to JSON cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
        key: key.to_owned(),
        source,
    })
}

impl Inner {
    fn get_raw(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(StoreError::redb)?;
        let t = txn.open_table(table).map_err(StoreError::redb)?;
        let now = now_millis();
        Ok(t.get(key)
            .map_err(StoreError::redb)?
            .and_then(|v| live_payload(v.value(), now).map(<[u8]>::to_vec)))
    }

    fn put_raw(
        &self,
        table: Table,
        key: &str,
        payload: &[u8],
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(StoreError::redb)?;
        {
            let mut t = txn.open_table(table).map_err(StoreError::redb)?;
            t.insert(key, envelope(expires_at, payload).as_slice())
                .map_err(StoreError::redb)?;
        }
        txn.commit().map_err(StoreError::redb)
    }

    /// Deletes `key`; returns its payload if it was live.
    fn remove_raw(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_write().map_err(StoreError::redb)?;
        let removed = {
            let mut t = txn.open_table(table).map_err(StoreError::redb)?;
            let now = now_millis();
            t.remove(key)
                .map_err(StoreError::redb)?
                .and_then(|v| live_payload(v.value(), now).map(<[u8]>::to_vec))
        };
        txn.commit().map_err(StoreError::redb)?;
        Ok(removed)
    }

    /// Atomic read-modify-write of one entry: `f` sees the live payload and returns the new
    /// value (`Some((payload, expiry))`) or `None` to leave the entry as it is.
    fn update<T>(
        &self,
        table: Table,
        key: &str,
        f: impl FnOnce(Option<&[u8]>) -> Result<(Option<(Vec<u8>, u64)>, T), StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_write().map_err(StoreError::redb)?;
        let out = {
            let mut t = txn.open_table(table).map_err(StoreError::redb)?;
            let current = t
                .get(key)
                .map_err(StoreError::redb)?
                .map(|v| v.value().to_vec());
            let now = now_millis();
            let (write, out) = f(current.as_deref().and_then(|v| live_payload(v, now)))?;
            if let Some((payload, expires_at)) = write {
                t.insert(key, envelope(expires_at, &payload).as_slice())
                    .map_err(StoreError::redb)?;
            }
            out
        };
        txn.commit().map_err(StoreError::redb)?;
        Ok(out)
    }
}

fn upstream_aad(id: &str) -> Vec<u8> {
    format!("upstream:{id}").into_bytes()
}

fn refresh_answer_aad(hash: &TokenHash) -> Vec<u8> {
    format!("refresh-answer:{}", hash.as_str()).into_bytes()
}

fn signing_key_aad(kid: &str) -> Vec<u8> {
    format!("signing-key:{kid}").into_bytes()
}

impl Store for RedbStore {
    fn put_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        let key = client.client_id.clone();
        let payload = encode(client);
        self.run(move |db| db.put_raw(CLIENTS, &key, &payload, expiry_after(ttl)))
    }

    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>> {
        let key = client_id.to_owned();
        self.run(move |db| {
            db.get_raw(CLIENTS, &key)?
                .map(|v| decode(&key, &v))
                .transpose()
        })
    }

    fn delete_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, bool> {
        let key = client_id.to_owned();
        self.run(move |db| Ok(db.remove_raw(CLIENTS, &key)?.is_some()))
    }

    fn put_transaction<'a>(
        &'a self,
        key: &'a str,
        transaction: &'a AuthorizationTransaction,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        let key = key.to_owned();
        let payload = encode(transaction);
        self.run(move |db| db.put_raw(TRANSACTIONS, &key, &payload, expiry_after(Some(ttl))))
    }

    fn get_transaction<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<AuthorizationTransaction>> {
        let key = key.to_owned();
        self.run(move |db| {
            db.get_raw(TRANSACTIONS, &key)?
                .map(|v| decode(&key, &v))
                .transpose()
        })
    }

    fn take_transaction<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<AuthorizationTransaction>> {
        let key = key.to_owned();
        self.run(move |db| {
            db.remove_raw(TRANSACTIONS, &key)?
                .map(|v| decode(&key, &v))
                .transpose()
        })
    }

    fn put_code<'a>(
        &'a self,
        code: &'a TokenHash,
        record: &'a AuthorizationCode,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        if let Err(e) = check_code_ttl(ttl) {
            return Box::pin(async move { Err(e) });
        }
        let key = code.as_str().to_owned();
        let expires_at = expiry_after(Some(ttl));
        let payload = encode(&StoredCode {
            record: record.clone(),
            redeemed: false,
            expires_at,
        });
        self.run(move |db| db.put_raw(CODES, &key, &payload, expires_at))
    }

    fn redeem_code<'a>(&'a self, code: &'a TokenHash) -> StoreFuture<'a, RedeemOutcome> {
        let key = code.as_str().to_owned();
        self.run(move |db| {
            db.update(CODES, &key, |current| {
                let Some(bytes) = current else {
                    return Ok((None, RedeemOutcome::NotFound));
                };
                let mut stored: StoredCode = decode(&key, bytes)?;
                if stored.redeemed {
                    let grant_id = stored.record.grant_id;
                    return Ok((None, RedeemOutcome::AlreadyRedeemed { grant_id }));
                }
                let now = now_millis();
                if stored.expires_at <= now {
                    return Ok((None, RedeemOutcome::NotFound));
                }
                stored.redeemed = true;
                let keep_until = now.saturating_add(millis(REDEEMED_CODE_RETENTION));
                Ok((
                    Some((encode(&stored), keep_until)),
                    RedeemOutcome::Redeemed(stored.record),
                ))
            })
        })
    }

    fn put_consent<'a>(
        &'a self,
        consent: &'a ConsentRecord,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        let key = consent_key(&consent.subject, &consent.client_id);
        let payload = encode(consent);
        self.run(move |db| db.put_raw(CONSENTS, &key, &payload, expiry_after(ttl)))
    }

    fn get_consent<'a>(
        &'a self,
        subject: &'a str,
        client_id: &'a str,
    ) -> StoreFuture<'a, Option<ConsentRecord>> {
        let key = consent_key(subject, client_id);
        self.run(move |db| {
            db.get_raw(CONSENTS, &key)?
                .map(|v| decode(&key, &v))
                .transpose()
        })
    }

    fn revoke_consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, bool> {
        let key = consent_key(subject, client_id);
        self.run(move |db| Ok(db.remove_raw(CONSENTS, &key)?.is_some()))
    }

    fn create_refresh_family<'a>(
        &'a self,
        grant: &'a RefreshGrant,
        first: &'a TokenHash,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let key = grant.family_id.clone();
        let expires_at = expiry_after(Some(ttl));
        let payload = encode(&StoredFamily {
            family: RefreshFamily {
                grant: grant.clone(),
                current_hash: first.clone(),
                generation: 0,
                revoked: false,
                expires_at,
            },
            previous: Vec::new(),
        });
        self.run(move |db| {
            db.update(FAMILIES, &key, |current| {
                if current.is_some() {
                    return Ok((None, false));
                }
                Ok((Some((payload, expires_at)), true))
            })
        })
    }

    fn get_refresh_family<'a>(
        &'a self,
        family_id: &'a str,
    ) -> StoreFuture<'a, Option<RefreshFamily>> {
        let key = family_id.to_owned();
        self.run(move |db| {
            db.get_raw(FAMILIES, &key)?
                .map(|v| decode::<StoredFamily>(&key, &v).map(|s| s.family))
                .transpose()
        })
    }

    fn rotate_refresh<'a>(
        &'a self,
        family_id: &'a str,
        presented: &'a TokenHash,
        new: &'a TokenHash,
    ) -> StoreFuture<'a, RotateOutcome> {
        let key = family_id.to_owned();
        let presented = presented.clone();
        let new = new.clone();
        self.run(move |db| {
            db.update(FAMILIES, &key, |current| {
                let Some(bytes) = current else {
                    return Ok((None, RotateOutcome::NotFound));
                };
                let mut stored: StoredFamily = decode(&key, bytes)?;
                let expires_at = stored.family.expires_at;
                if stored.family.revoked {
                    return Ok((None, RotateOutcome::Revoked));
                }
                if stored.family.current_hash == presented {
                    let old = std::mem::replace(&mut stored.family.current_hash, new);
                    stored.previous.push(old);
                    if stored.previous.len() > REMEMBERED_REFRESH_HASHES {
                        let excess = stored.previous.len() - REMEMBERED_REFRESH_HASHES;
                        stored.previous.drain(..excess);
                    }
                    stored.family.generation += 1;
                    let family = stored.family.clone();
                    return Ok((
                        Some((encode(&stored), expires_at)),
                        RotateOutcome::Rotated(Box::new(family)),
                    ));
                }
                if stored.previous.contains(&presented) {
                    stored.family.revoked = true;
                    return Ok((Some((encode(&stored), expires_at)), RotateOutcome::Reused));
                }
                Ok((None, RotateOutcome::Mismatch))
            })
        })
    }

    fn revoke_refresh_family<'a>(
        &'a self,
        family_id: &'a str,
    ) -> StoreFuture<'a, Option<RefreshFamily>> {
        let key = family_id.to_owned();
        self.run(move |db| {
            db.update(FAMILIES, &key, |current| {
                let Some(bytes) = current else {
                    return Ok((None, None));
                };
                let mut stored: StoredFamily = decode(&key, bytes)?;
                stored.family.revoked = true;
                let family = stored.family.clone();
                Ok((Some((encode(&stored), family.expires_at)), Some(family)))
            })
        })
    }

    fn put_upstream_tokens<'a>(
        &'a self,
        id: &'a str,
        tokens: &'a UpstreamTokenSet,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        let key = id.to_owned();
        let plain = zeroize::Zeroizing::new(encode(tokens));
        let sealed = self.inner.cipher.seal(&upstream_aad(id), &plain);
        self.run(move |db| db.put_raw(UPSTREAM, &key, &sealed?, expiry_after(ttl)))
    }

    fn get_upstream_tokens<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<UpstreamTokenSet>> {
        let key = id.to_owned();
        self.run(move |db| {
            let Some(sealed) = db.get_raw(UPSTREAM, &key)? else {
                return Ok(None);
            };
            let plain = db.cipher.open(&upstream_aad(&key), &sealed)?;
            decode(&key, &plain).map(Some)
        })
    }

    fn delete_upstream_tokens<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        let key = id.to_owned();
        self.run(move |db| Ok(db.remove_raw(UPSTREAM, &key)?.is_some()))
    }

    fn claim<'a>(&'a self, name: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        let key = name.to_owned();
        self.run(move |db| {
            db.update(CLAIMS, &key, |current| {
                Ok(match current {
                    Some(_) => (None, false),
                    None => (Some((Vec::new(), expiry_after(Some(ttl)))), true),
                })
            })
        })
    }

    fn release<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()> {
        let key = name.to_owned();
        self.run(move |db| db.remove_raw(CLAIMS, &key).map(drop))
    }

    fn put_refresh_answer<'a>(
        &'a self,
        presented: &'a TokenHash,
        answer: &'a RefreshAnswer,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        let key = presented.as_str().to_owned();
        let plain = zeroize::Zeroizing::new(encode(answer));
        let sealed = self
            .inner
            .cipher
            .seal(&refresh_answer_aad(presented), &plain);
        self.run(move |db| db.put_raw(REFRESH_ANSWERS, &key, &sealed?, expiry_after(Some(ttl))))
    }

    fn get_refresh_answer<'a>(
        &'a self,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Option<RefreshAnswer>> {
        let key = presented.as_str().to_owned();
        let aad = refresh_answer_aad(presented);
        self.run(move |db| {
            let Some(sealed) = db.get_raw(REFRESH_ANSWERS, &key)? else {
                return Ok(None);
            };
            let plain = db.cipher.open(&aad, &sealed)?;
            decode(&key, &plain).map(Some)
        })
    }

    fn list_signing_keys(&self) -> StoreFuture<'_, Vec<SigningKeyRecord>> {
        self.run(move |db| {
            let txn = db.db.begin_read().map_err(StoreError::redb)?;
            let t = txn.open_table(SIGNING_KEYS).map_err(StoreError::redb)?;
            let mut keys = Vec::new();
            for entry in t.iter().map_err(StoreError::redb)? {
                let (kid, value) = entry.map_err(StoreError::redb)?;
                let kid = kid.value();
                let Some(sealed) = live_payload(value.value(), now_millis()) else {
                    continue;
                };
                let plain = db.cipher.open(&signing_key_aad(kid), sealed)?;
                keys.push(decode::<SigningKeyRecord>(kid, &plain)?);
            }
            keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.kid.cmp(&b.kid)));
            Ok(keys)
        })
    }

    fn put_signing_key<'a>(&'a self, key: &'a SigningKeyRecord) -> StoreFuture<'a, ()> {
        let kid = key.kid.clone();
        let plain = zeroize::Zeroizing::new(encode(key));
        let sealed = self.inner.cipher.seal(&signing_key_aad(&kid), &plain);
        self.run(move |db| db.put_raw(SIGNING_KEYS, &kid, &sealed?, NEVER))
    }

    fn set_signing_key_state<'a>(&'a self, kid: &'a str, state: KeyState) -> StoreFuture<'a, bool> {
        let kid = kid.to_owned();
        self.run(move |db| {
            let aad = signing_key_aad(&kid);
            db.update(SIGNING_KEYS, &kid, |current| {
                let Some(sealed) = current else {
                    return Ok((None, false));
                };
                let plain = db.cipher.open(&aad, sealed)?;
                let mut record: SigningKeyRecord = decode(&kid, &plain)?;
                record.state = state;
                let resealed = db
                    .cipher
                    .seal(&aad, &zeroize::Zeroizing::new(encode(&record)))?;
                Ok((Some((resealed, NEVER)), true))
            })
        })
    }

    fn hit_rate_limit<'a>(&'a self, key: &'a str, window: Duration) -> StoreFuture<'a, u64> {
        let key = key.to_owned();
        self.run(move |db| {
            let start = window_start(now_millis(), window);
            let entry = format!("{key}@{start}");
            let window_end = start.saturating_add(millis(window).max(1));
            db.update(RATE_LIMITS, &entry, |current| {
                let previous = current
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map_or(0, u64::from_be_bytes);
                let count = previous.saturating_add(1);
                Ok((Some((count.to_be_bytes().to_vec(), window_end)), count))
            })
        })
    }

    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        self.run(move |db| {
            let now = now_millis();
            let txn = db.db.begin_write().map_err(StoreError::redb)?;
            let mut purged = 0u64;
            for table in ALL_TABLES {
                let mut t = txn.open_table(table).map_err(StoreError::redb)?;
                for entry in t
                    .extract_if(|_, v| is_expired(v, now))
                    .map_err(StoreError::redb)?
                {
                    entry.map_err(StoreError::redb)?;
                    purged += 1;
                }
            }
            txn.commit().map_err(StoreError::redb)?;
            Ok(purged)
        })
    }
}
