//! The Redis store: for several replicas sharing one Redis.
//!
//! Keys are `<prefix><kind>:<id>` so several deployments can share a database. Lifetimes are
//! Redis TTLs (`SET … PX`, `PEXPIRE`, `PEXPIREAT`), so Redis purges expired entries itself and
//! never returns them. `take` is `GETDEL` (Redis ≥ 6.2). The read-modify-write operations
//! (`redeem_code`, `create_refresh_family`, `rotate_refresh`, `revoke_refresh_family`, rate-limit
//! hits) are Lua scripts (`EVALSHA`, falling back to `EVAL`): Redis runs a script without
//! interleaving any other command, so each is atomic across replicas without retries. WATCH/MULTI
//! would also work but needs a dedicated connection per operation (WATCH is per connection, and
//! the multiplexed connection is shared) and retry loops under contention.
//!
//! Records that scripts inspect are hashes: a code is `{record, redeemed}`; a refresh family is
//! `{grant, current, generation, revoked, expires_at}` plus a set of superseded hashes.

use std::time::Duration;

use redis::Script;
use redis::aio::ConnectionManager;
use serde::{Serialize, de::DeserializeOwned};

use super::{
    REDEEMED_CODE_RETENTION, Store, StoreFuture, check_code_ttl, consent_key, millis, window_start,
};
use crate::crypto::Cipher;
use crate::error::StoreError;
use crate::records::{
    AuthorizationCode, AuthorizationTransaction, ClientRecord, ConsentRecord, KeyState,
    RedeemOutcome, RefreshAnswer, RefreshFamily, RefreshGrant, RotateOutcome, SigningKeyRecord,
    TokenHash, UpstreamTokenSet, now_millis,
};

const REDEEM: &str = r"
local rec = redis.call('HGET', KEYS[1], 'record')
if not rec then return {0, ''} end
if redis.call('HSETNX', KEYS[1], 'redeemed', '1') == 0 then return {2, rec} end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {1, rec}
";

const CREATE_FAMILY: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'grant', ARGV[1], 'current', ARGV[2], 'generation', '0',
  'revoked', '0', 'expires_at', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return 1
";

const FAMILY_FIELDS: [&str; 5] = ["grant", "current", "generation", "revoked", "expires_at"];

const ROTATE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'current', 'revoked', 'expires_at')
if not f[1] then return {'not_found'} end
if f[2] == '1' then return {'revoked'} end
if f[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'current', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'generation', 1)
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('PEXPIREAT', KEYS[2], f[3])
  local r = redis.call('HMGET', KEYS[1], 'grant', 'current', 'generation', 'revoked', 'expires_at')
  return {'rotated', r[1], r[2], r[3], r[4], r[5]}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return {'reused'}
end
return {'mismatch'}
";

const REVOKE_FAMILY: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('HSET', KEYS[1], 'revoked', '1')
return redis.call('HMGET', KEYS[1], 'grant', 'current', 'generation', 'revoked', 'expires_at')
";

const HIT: &str = r"
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return c
";

struct Scripts {
    redeem: Script,
    create_family: Script,
    rotate: Script,
    revoke_family: Script,
    hit: Script,
}

/// The Redis [`Store`]. Cheap to clone; reconnects by itself after a Redis restart.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    cipher: std::sync::Arc<Cipher>,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`, or `rediss://` is not built in) and
    /// namespaces every key with `prefix` (e.g. `splunk-mcp:`).
    pub async fn connect(
        url: &str,
        prefix: impl Into<String>,
        cipher: Cipher,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)?;
        let conn = client.get_connection_manager().await?;
        Ok(Self {
            conn,
            prefix: prefix.into(),
            cipher: std::sync::Arc::new(cipher),
            scripts: std::sync::Arc::new(Scripts {
                redeem: Script::new(REDEEM),
                create_family: Script::new(CREATE_FAMILY),
                rotate: Script::new(ROTATE),
                revoke_family: Script::new(REVOKE_FAMILY),
                hit: Script::new(HIT),
            }),
        })
    }

    /// The full Redis key of a record (exposed so tests and operators can find raw values).
    pub fn redis_key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn set(
        &self,
        key: String,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key).arg(value);
        if let Some(ttl) = ttl {
            cmd.arg("PX").arg(millis(ttl).max(1));
        }
        cmd.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(redis::cmd("GET")
            .arg(key)
            .query_async(&mut self.conn())
            .await?)
    }

    async fn del(&self, key: &str) -> Result<bool, StoreError> {
        let n: u64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut self.conn())
            .await?;
        Ok(n > 0)
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.get(key).await?.map(|v| decode(key, &v)).transpose()
    }
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

fn bad_reply(key: &str, what: &str) -> StoreError {
    StoreError::Decode {
        key: key.to_owned(),
        source: serde::de::Error::custom(format!("unexpected Redis reply: {what}")),
    }
}

/// Builds a family from the HMGET of [`FAMILY_FIELDS`]; `None` if absent or expired.
fn family_from_fields(
    key: &str,
    f: &[Option<String>],
) -> Result<Option<RefreshFamily>, StoreError> {
    let [
        Some(grant),
        Some(current),
        Some(generation),
        Some(revoked),
        Some(expires_at),
    ] = f
    else {
        return Ok(None);
    };
    let expires_at: u64 = expires_at
        .parse()
        .map_err(|_| bad_reply(key, "expires_at"))?;
    if expires_at <= now_millis() {
        return Ok(None);
    }
    let grant: RefreshGrant = decode(key, grant.as_bytes())?;
    let current: TokenHash = serde_json::from_value(serde_json::Value::String(current.clone()))
        .map_err(|source| StoreError::Decode {
            key: key.to_owned(),
            source,
        })?;
    Ok(Some(RefreshFamily {
        grant,
        current_hash: current,
        generation: generation
            .parse()
            .map_err(|_| bad_reply(key, "generation"))?,
        revoked: revoked == "1",
        expires_at,
    }))
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

impl Store for RedisStore {
    fn put_client<'a>(
        &'a self,
        client: &'a ClientRecord,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.set(
            self.redis_key("client", &client.client_id),
            encode(client),
            ttl,
        ))
    }

    fn get_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<ClientRecord>> {
        Box::pin(async move { self.get_json(&self.redis_key("client", client_id)).await })
    }

    fn delete_client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { self.del(&self.redis_key("client", client_id)).await })
    }

    fn put_transaction<'a>(
        &'a self,
        key: &'a str,
        transaction: &'a AuthorizationTransaction,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.set(self.redis_key("tx", key), encode(transaction), Some(ttl)))
    }

    fn get_transaction<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<AuthorizationTransaction>> {
        Box::pin(async move { self.get_json(&self.redis_key("tx", key)).await })
    }

    fn take_transaction<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<AuthorizationTransaction>> {
        Box::pin(async move {
            let key = self.redis_key("tx", key);
            let value: Option<Vec<u8>> = redis::cmd("GETDEL")
                .arg(&key)
                .query_async(&mut self.conn())
                .await?;
            value.map(|v| decode(&key, &v)).transpose()
        })
    }

    fn put_code<'a>(
        &'a self,
        code: &'a TokenHash,
        record: &'a AuthorizationCode,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_code_ttl(ttl)?;
            let key = self.redis_key("code", code.as_str());
            redis::pipe()
                .atomic()
                .del(&key)
                .ignore()
                .hset(&key, "record", encode(record))
                .ignore()
                .pexpire(&key, i64::try_from(millis(ttl)).unwrap_or(i64::MAX))
                .ignore()
                .query_async::<()>(&mut self.conn())
                .await?;
            Ok(())
        })
    }

    fn redeem_code<'a>(&'a self, code: &'a TokenHash) -> StoreFuture<'a, RedeemOutcome> {
        Box::pin(async move {
            let key = self.redis_key("code", code.as_str());
            let (status, record): (i64, Vec<u8>) = self
                .scripts
                .redeem
                .key(&key)
                .arg(millis(REDEEMED_CODE_RETENTION))
                .invoke_async(&mut self.conn())
                .await?;
            Ok(match status {
                0 => RedeemOutcome::NotFound,
                1 => RedeemOutcome::Redeemed(decode(&key, &record)?),
                _ => {
                    let record: AuthorizationCode = decode(&key, &record)?;
                    RedeemOutcome::AlreadyRedeemed {
                        grant_id: record.grant_id,
                    }
                }
            })
        })
    }

    fn put_consent<'a>(
        &'a self,
        consent: &'a ConsentRecord,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        let key = self.redis_key(
            "consent",
            &consent_key(&consent.subject, &consent.client_id),
        );
        Box::pin(self.set(key, encode(consent), ttl))
    }

    fn get_consent<'a>(
        &'a self,
        subject: &'a str,
        client_id: &'a str,
    ) -> StoreFuture<'a, Option<ConsentRecord>> {
        let key = self.redis_key("consent", &consent_key(subject, client_id));
        Box::pin(async move { self.get_json(&key).await })
    }

    fn revoke_consent<'a>(&'a self, subject: &'a str, client_id: &'a str) -> StoreFuture<'a, bool> {
        let key = self.redis_key("consent", &consent_key(subject, client_id));
        Box::pin(async move { self.del(&key).await })
    }

    fn create_refresh_family<'a>(
        &'a self,
        grant: &'a RefreshGrant,
        first: &'a TokenHash,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let expires_at = now_millis().saturating_add(millis(ttl).max(1));
            let created: i64 = self
                .scripts
                .create_family
                .key(self.redis_key("family", &grant.family_id))
                .key(self.redis_key("family-prev", &grant.family_id))
                .arg(encode(grant))
                .arg(first.as_str())
                .arg(expires_at)
                .invoke_async(&mut self.conn())
                .await?;
            Ok(created == 1)
        })
    }

    fn get_refresh_family<'a>(
        &'a self,
        family_id: &'a str,
    ) -> StoreFuture<'a, Option<RefreshFamily>> {
        Box::pin(async move {
            let key = self.redis_key("family", family_id);
            let fields: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(&key)
                .arg(&FAMILY_FIELDS[..])
                .query_async(&mut self.conn())
                .await?;
            family_from_fields(&key, &fields)
        })
    }

    fn rotate_refresh<'a>(
        &'a self,
        family_id: &'a str,
        presented: &'a TokenHash,
        new: &'a TokenHash,
    ) -> StoreFuture<'a, RotateOutcome> {
        Box::pin(async move {
            let key = self.redis_key("family", family_id);
            let reply: Vec<Option<String>> = self
                .scripts
                .rotate
                .key(&key)
                .key(self.redis_key("family-prev", family_id))
                .arg(presented.as_str())
                .arg(new.as_str())
                .invoke_async(&mut self.conn())
                .await?;
            let status = reply.first().cloned().flatten().unwrap_or_default();
            Ok(match status.as_str() {
                "rotated" => match family_from_fields(&key, &reply[1..])? {
                    Some(family) => RotateOutcome::Rotated(Box::new(family)),
                    None => RotateOutcome::NotFound,
                },
                "reused" => RotateOutcome::Reused,
                "revoked" => RotateOutcome::Revoked,
                "mismatch" => RotateOutcome::Mismatch,
                "not_found" => RotateOutcome::NotFound,
                other => return Err(bad_reply(&key, other)),
            })
        })
    }

    fn revoke_refresh_family<'a>(
        &'a self,
        family_id: &'a str,
    ) -> StoreFuture<'a, Option<RefreshFamily>> {
        Box::pin(async move {
            let key = self.redis_key("family", family_id);
            let fields: Vec<Option<String>> = self
                .scripts
                .revoke_family
                .key(&key)
                .invoke_async(&mut self.conn())
                .await?;
            family_from_fields(&key, &fields)
        })
    }

    fn put_upstream_tokens<'a>(
        &'a self,
        id: &'a str,
        tokens: &'a UpstreamTokenSet,
        ttl: Option<Duration>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let plain = zeroize::Zeroizing::new(encode(tokens));
            let sealed = self.cipher.seal(&upstream_aad(id), &plain)?;
            self.set(self.redis_key("upstream", id), sealed, ttl).await
        })
    }

    fn get_upstream_tokens<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<UpstreamTokenSet>> {
        Box::pin(async move {
            let key = self.redis_key("upstream", id);
            let Some(sealed) = self.get(&key).await? else {
                return Ok(None);
            };
            let plain = self.cipher.open(&upstream_aad(id), &sealed)?;
            decode(&key, &plain).map(Some)
        })
    }

    fn delete_upstream_tokens<'a>(&'a self, id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move { self.del(&self.redis_key("upstream", id)).await })
    }

    fn claim<'a>(&'a self, name: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let claimed: Option<String> = redis::cmd("SET")
                .arg(self.redis_key("claim", name))
                .arg("1")
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl).max(1))
                .query_async(&mut self.conn())
                .await?;
            Ok(claimed.is_some())
        })
    }

    fn release<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.del(&self.redis_key("claim", name)).await.map(drop) })
    }

    fn put_refresh_answer<'a>(
        &'a self,
        presented: &'a TokenHash,
        answer: &'a RefreshAnswer,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let plain = zeroize::Zeroizing::new(encode(answer));
            let sealed = self.cipher.seal(&refresh_answer_aad(presented), &plain)?;
            let key = self.redis_key("refresh-answer", presented.as_str());
            self.set(key, sealed, Some(ttl)).await
        })
    }

    fn get_refresh_answer<'a>(
        &'a self,
        presented: &'a TokenHash,
    ) -> StoreFuture<'a, Option<RefreshAnswer>> {
        Box::pin(async move {
            let key = self.redis_key("refresh-answer", presented.as_str());
            let Some(sealed) = self.get(&key).await? else {
                return Ok(None);
            };
            let plain = self.cipher.open(&refresh_answer_aad(presented), &sealed)?;
            decode(&key, &plain).map(Some)
        })
    }

    fn list_signing_keys(&self) -> StoreFuture<'_, Vec<SigningKeyRecord>> {
        Box::pin(async move {
            let key = format!("{}signing-keys", self.prefix);
            let entries: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut self.conn())
                .await?;
            let mut keys = Vec::with_capacity(entries.len());
            for (kid, sealed) in entries {
                let plain = self.cipher.open(&signing_key_aad(&kid), &sealed)?;
                keys.push(decode::<SigningKeyRecord>(&kid, &plain)?);
            }
            keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.kid.cmp(&b.kid)));
            Ok(keys)
        })
    }

    fn put_signing_key<'a>(&'a self, key: &'a SigningKeyRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let plain = zeroize::Zeroizing::new(encode(key));
            let sealed = self.cipher.seal(&signing_key_aad(&key.kid), &plain)?;
            redis::cmd("HSET")
                .arg(format!("{}signing-keys", self.prefix))
                .arg(&key.kid)
                .arg(sealed)
                .query_async::<()>(&mut self.conn())
                .await?;
            Ok(())
        })
    }

    fn set_signing_key_state<'a>(&'a self, kid: &'a str, state: KeyState) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let hash = format!("{}signing-keys", self.prefix);
            let sealed: Option<Vec<u8>> = redis::cmd("HGET")
                .arg(&hash)
                .arg(kid)
                .query_async(&mut self.conn())
                .await?;
            let Some(sealed) = sealed else {
                return Ok(false);
            };
            let aad = signing_key_aad(kid);
            let plain = self.cipher.open(&aad, &sealed)?;
            let mut record: SigningKeyRecord = decode(kid, &plain)?;
            record.state = state;
            let resealed = self
                .cipher
                .seal(&aad, &zeroize::Zeroizing::new(encode(&record)))?;
            redis::cmd("HSET")
                .arg(&hash)
                .arg(kid)
                .arg(resealed)
                .query_async::<()>(&mut self.conn())
                .await?;
            Ok(true)
        })
    }

    fn hit_rate_limit<'a>(&'a self, key: &'a str, window: Duration) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let now = now_millis();
            let start = window_start(now, window);
            let end = start.saturating_add(millis(window).max(1));
            let count: u64 = self
                .scripts
                .hit
                .key(self.redis_key("rate", &format!("{key}@{start}")))
                .arg((end - now).max(1))
                .invoke_async(&mut self.conn())
                .await?;
            Ok(count)
        })
    }

    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(async { Ok(0) })
    }
}
