//! Runs the conformance suite against each store, plus what only one store can show.

use std::sync::Arc;
use std::time::Duration;

use oidc_proxy::{KeyState, RedbStore, RedisStore, Secret, SigningKeyRecord, Store, TokenHash};

use crate::conformance;
use crate::support::{
    PRIVATE_D, RedisServer, TempDir, UPSTREAM_ACCESS, UPSTREAM_REFRESH, cipher, client, grant,
    upstream_tokens,
};

fn signing_key() -> SigningKeyRecord {
    SigningKeyRecord {
        kid: "k1".into(),
        private_jwk: Secret::new(format!(r#"{{"kty":"EC","crv":"P-256","d":"{PRIVATE_D}"}}"#)),
        created_at: 1,
        state: KeyState::Active,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redb_store_conforms() {
    let dir = TempDir::new("conformance");
    let store = RedbStore::open(dir.path().join("store.redb"), cipher())
        .await
        .unwrap();
    conformance::run(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_conforms() {
    let redis = RedisServer::start();
    let store = RedisStore::connect(&redis.url(), "conformance:", cipher())
        .await
        .unwrap();
    conformance::run(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redb_survives_restart_and_encrypts_at_rest() {
    let dir = TempDir::new("restart");
    let path = dir.path().join("store.redb");
    {
        let store = RedbStore::open(&path, cipher()).await.unwrap();
        store.put_client(&client("c-restart"), None).await.unwrap();
        store
            .put_upstream_tokens("up-1", &upstream_tokens(), None)
            .await
            .unwrap();
        store.put_signing_key(&signing_key()).await.unwrap();
        assert!(
            store
                .create_refresh_family(
                    &grant("f1"),
                    &TokenHash::of("rt0"),
                    Duration::from_secs(3600)
                )
                .await
                .unwrap()
        );
        store
            .put_client(&client("c-expiring"), Some(Duration::from_millis(50)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            store.purge_expired().await.unwrap(),
            1,
            "only the expired client goes"
        );
    }

    let raw = std::fs::read(&path).unwrap();
    let contains = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("c-restart"),
        "plain records are visible in the raw file (sanity)"
    );
    for secret in [UPSTREAM_ACCESS, UPSTREAM_REFRESH, PRIVATE_D] {
        assert!(!contains(secret), "{secret} must be encrypted at rest");
    }

    // Reopened (as after a restart), everything is there and the family still rotates.
    let store = RedbStore::open(&path, cipher()).await.unwrap();
    assert_eq!(
        store.get_client("c-restart").await.unwrap(),
        Some(client("c-restart"))
    );
    assert_eq!(
        store.get_upstream_tokens("up-1").await.unwrap(),
        Some(upstream_tokens())
    );
    assert_eq!(
        store.list_signing_keys().await.unwrap(),
        vec![signing_key()]
    );
    assert!(matches!(
        store
            .rotate_refresh("f1", &TokenHash::of("rt0"), &TokenHash::of("rt1"))
            .await
            .unwrap(),
        oidc_proxy::RotateOutcome::Rotated(_)
    ));
    drop(store);

    // Another key cannot read what the first sealed.
    let other = oidc_proxy::Cipher::new(
        oidc_proxy::EncryptionKey::from_base64(1, "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=")
            .unwrap(),
    );
    let store = RedbStore::open(&path, other).await.unwrap();
    let err = store.get_upstream_tokens("up-1").await.unwrap_err();
    assert!(err.to_string().contains("failed to decrypt"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_encrypts_at_rest_and_shares_between_replicas() {
    let redis = RedisServer::start();
    let a = RedisStore::connect(&redis.url(), "app:", cipher())
        .await
        .unwrap();
    let b = RedisStore::connect(&redis.url(), "app:", cipher())
        .await
        .unwrap();
    let other = RedisStore::connect(&redis.url(), "other:", cipher())
        .await
        .unwrap();

    a.put_upstream_tokens("up-1", &upstream_tokens(), None)
        .await
        .unwrap();
    a.put_signing_key(&signing_key()).await.unwrap();
    a.put_client(&client("c1"), None).await.unwrap();

    let client_raw = redis::Client::open(redis.url()).unwrap();
    let mut conn = client_raw.get_multiplexed_async_connection().await.unwrap();
    let raw: Vec<u8> = redis::cmd("GET")
        .arg(a.redis_key("upstream", "up-1"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let raw_key: Vec<u8> = redis::cmd("HGET")
        .arg("app:signing-keys")
        .arg("k1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let raw_client: Vec<u8> = redis::cmd("GET")
        .arg("app:client:c1")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&raw_client).contains("Test client"),
        "sanity"
    );
    for (value, secret) in [
        (&raw, UPSTREAM_ACCESS),
        (&raw, UPSTREAM_REFRESH),
        (&raw_key, PRIVATE_D),
    ] {
        assert!(!raw.is_empty() && !raw_key.is_empty());
        assert!(
            !value.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} must be encrypted at rest"
        );
    }

    // Another replica with the same prefix sees the same state; another prefix does not.
    assert_eq!(
        b.get_upstream_tokens("up-1").await.unwrap(),
        Some(upstream_tokens())
    );
    assert_eq!(b.get_client("c1").await.unwrap(), Some(client("c1")));
    assert_eq!(other.get_client("c1").await.unwrap(), None);
    assert!(other.list_signing_keys().await.unwrap().is_empty());

    // A value moved under another key fails to open (the key is the AAD).
    redis::cmd("SET")
        .arg(a.redis_key("upstream", "up-2"))
        .arg(&raw)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let err = b.get_upstream_tokens("up-2").await.unwrap_err();
    assert!(err.to_string().contains("failed to decrypt"), "{err}");
}
