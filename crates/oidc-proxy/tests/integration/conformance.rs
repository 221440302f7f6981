//! The store conformance suite: every `Store` implementation must pass `run`.

use std::sync::Arc;
use std::time::Duration;

use oidc_proxy::{
    ConsentRecord, KeyState, RedeemOutcome, RefreshAnswer, RotateOutcome, Secret, SigningKeyRecord,
    Store, StoreError, TokenHash,
};

use crate::support::{UPSTREAM_ACCESS, client, code, grant, transaction, upstream_tokens};

/// Runs every check against `store`.
pub(crate) async fn run(store: Arc<dyn Store>) {
    clients(&store).await;
    transactions(&store).await;
    codes(&store).await;
    consents(&store).await;
    refresh_families(&store).await;
    upstream_and_keys(&store).await;
    rate_limits(&store).await;
    refresh_answers(&store).await;
    concurrent_redeem(&store).await;
    concurrent_take(&store).await;
    concurrent_rotate(&store).await;
    expiry(&store).await;
}

async fn clients(store: &Arc<dyn Store>) {
    let c = client("c1");
    assert_eq!(store.get_client("c1").await.unwrap(), None);
    store.put_client(&c, None).await.unwrap();
    let got = store
        .get_client("c1")
        .await
        .unwrap()
        .expect("client stored");
    assert_eq!(got, c);
    assert!(got.secret_hash.as_ref().unwrap().matches("client-secret"));
    assert!(!got.secret_hash.as_ref().unwrap().matches("client-secreT"));
    assert!(store.delete_client("c1").await.unwrap());
    assert!(!store.delete_client("c1").await.unwrap());
    assert_eq!(store.get_client("c1").await.unwrap(), None);
}

async fn transactions(store: &Arc<dyn Store>) {
    let tx = transaction();
    store
        .put_transaction("state-1", &tx, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(
        store.get_transaction("state-1").await.unwrap(),
        Some(tx.clone())
    );
    assert_eq!(store.take_transaction("state-1").await.unwrap(), Some(tx));
    assert_eq!(
        store.take_transaction("state-1").await.unwrap(),
        None,
        "single use"
    );
    assert_eq!(store.get_transaction("state-1").await.unwrap(), None);
}

async fn codes(store: &Arc<dyn Store>) {
    let hash = TokenHash::of("code-1");
    let too_long = store
        .put_code(&hash, &code("g1"), Duration::from_secs(61))
        .await;
    assert!(
        matches!(too_long, Err(StoreError::InvalidArgument(_))),
        "{too_long:?}"
    );
    assert_eq!(
        store.redeem_code(&hash).await.unwrap(),
        RedeemOutcome::NotFound
    );

    store
        .put_code(&hash, &code("g1"), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.redeem_code(&hash).await.unwrap(),
        RedeemOutcome::Redeemed(code("g1"))
    );
    assert_eq!(
        store.redeem_code(&hash).await.unwrap(),
        RedeemOutcome::AlreadyRedeemed {
            grant_id: "g1".into()
        }
    );
    assert_eq!(
        store.redeem_code(&TokenHash::of("code-2")).await.unwrap(),
        RedeemOutcome::NotFound
    );
}

async fn consents(store: &Arc<dyn Store>) {
    let consent = ConsentRecord {
        subject: "alice".into(),
        client_id: "c1".into(),
        scope: "mcp:tools".into(),
        granted_at: 1,
    };
    store.put_consent(&consent, None).await.unwrap();
    assert_eq!(
        store.get_consent("alice", "c1").await.unwrap(),
        Some(consent)
    );
    // Keys must not collide across the subject/client boundary.
    assert_eq!(store.get_consent("alice:c", "1").await.unwrap(), None);
    assert_eq!(store.get_consent("bob", "c1").await.unwrap(), None);
    assert!(store.revoke_consent("alice", "c1").await.unwrap());
    assert!(!store.revoke_consent("alice", "c1").await.unwrap());
    assert_eq!(store.get_consent("alice", "c1").await.unwrap(), None);
}

async fn refresh_families(store: &Arc<dyn Store>) {
    let ttl = Duration::from_secs(3600);
    let (rt0, rt1, rt2) = (
        TokenHash::of("rt0"),
        TokenHash::of("rt1"),
        TokenHash::of("rt2"),
    );
    assert!(
        store
            .create_refresh_family(&grant("f1"), &rt0, ttl)
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_refresh_family(&grant("f1"), &rt1, ttl)
            .await
            .unwrap(),
        "create is insert-if-absent"
    );
    let family = store
        .get_refresh_family("f1")
        .await
        .unwrap()
        .expect("family");
    assert_eq!(
        (family.grant.clone(), family.current_hash.clone()),
        (grant("f1"), rt0.clone())
    );
    assert!(!family.revoked);

    let RotateOutcome::Rotated(rotated) = store.rotate_refresh("f1", &rt0, &rt1).await.unwrap()
    else {
        panic!("current token must rotate");
    };
    assert_eq!(
        (rotated.current_hash.clone(), rotated.generation),
        (rt1.clone(), 1)
    );
    assert_eq!(rotated.grant, grant("f1"));
    assert_eq!(
        store
            .rotate_refresh("f1", &TokenHash::of("forged"), &rt2)
            .await
            .unwrap(),
        RotateOutcome::Mismatch
    );
    assert!(
        !store
            .get_refresh_family("f1")
            .await
            .unwrap()
            .unwrap()
            .revoked,
        "mismatch keeps it"
    );

    // Presenting the superseded rt0 is reuse: the family dies, rt1 with it.
    assert_eq!(
        store.rotate_refresh("f1", &rt0, &rt2).await.unwrap(),
        RotateOutcome::Reused
    );
    assert!(
        store
            .get_refresh_family("f1")
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    assert_eq!(
        store.rotate_refresh("f1", &rt1, &rt2).await.unwrap(),
        RotateOutcome::Revoked
    );
    assert_eq!(
        store.rotate_refresh("nope", &rt1, &rt2).await.unwrap(),
        RotateOutcome::NotFound
    );

    assert!(
        store
            .create_refresh_family(&grant("f2"), &rt0, ttl)
            .await
            .unwrap()
    );
    let revoked = store
        .revoke_refresh_family("f2")
        .await
        .unwrap()
        .expect("existed");
    assert!(revoked.revoked);
    assert_eq!(revoked.grant.upstream_id, "up-1");
    assert_eq!(
        store.rotate_refresh("f2", &rt0, &rt1).await.unwrap(),
        RotateOutcome::Revoked
    );
    assert_eq!(store.revoke_refresh_family("nope").await.unwrap(), None);
}

async fn upstream_and_keys(store: &Arc<dyn Store>) {
    let tokens = upstream_tokens();
    store
        .put_upstream_tokens("up-1", &tokens, None)
        .await
        .unwrap();
    let got = store
        .get_upstream_tokens("up-1")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got.access_token.expose(), UPSTREAM_ACCESS);
    assert_eq!(got, tokens);
    assert!(store.delete_upstream_tokens("up-1").await.unwrap());
    assert_eq!(store.get_upstream_tokens("up-1").await.unwrap(), None);

    assert!(store.list_signing_keys().await.unwrap().is_empty());
    let key = |kid: &str, created_at| SigningKeyRecord {
        kid: kid.into(),
        private_jwk: Secret::new(format!(r#"{{"kty":"EC","kid":"{kid}","d":"secret"}}"#)),
        created_at,
        state: KeyState::Active,
    };
    store.put_signing_key(&key("k2", 20)).await.unwrap();
    store.put_signing_key(&key("k1", 10)).await.unwrap();
    assert!(
        store
            .set_signing_key_state("k1", KeyState::Retiring)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_signing_key_state("k9", KeyState::Retired)
            .await
            .unwrap()
    );
    let keys = store.list_signing_keys().await.unwrap();
    let summary: Vec<_> = keys.iter().map(|k| (k.kid.as_str(), k.state)).collect();
    assert_eq!(
        summary,
        [("k1", KeyState::Retiring), ("k2", KeyState::Active)]
    );
    assert!(keys[0].private_jwk.expose().contains(r#""d":"secret""#));
}

async fn rate_limits(store: &Arc<dyn Store>) {
    let window = Duration::from_secs(3600);
    for expected in 1..=3 {
        assert_eq!(
            store.hit_rate_limit("dcr:10.0.0.1", window).await.unwrap(),
            expected
        );
    }
    assert_eq!(
        store.hit_rate_limit("dcr:10.0.0.2", window).await.unwrap(),
        1
    );
}

async fn refresh_answers(store: &Arc<dyn Store>) {
    let presented = TokenHash::of("family-1.presented");
    let long = Duration::from_secs(60);
    // One claim at a time; given up, it can be taken again.
    assert!(store.claim("refresh:x", long).await.unwrap());
    assert!(!store.claim("refresh:x", long).await.unwrap());
    assert!(
        store.claim("refresh:y", long).await.unwrap(),
        "claims are per name"
    );
    store.release("refresh:x").await.unwrap();
    assert!(store.claim("refresh:x", long).await.unwrap());
    // A claim lapses by itself.
    assert!(
        store
            .claim("short", Duration::from_millis(50))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(store.claim("short", long).await.unwrap());

    // The kept answer: sealed, read back whole, gone after its window.
    assert_eq!(store.get_refresh_answer(&presented).await.unwrap(), None);
    let answer = RefreshAnswer {
        family_id: "family-1".to_owned(),
        access_token: Secret::new("access-2"),
        expires_at: 4_000_000_000,
        refresh_token: Secret::new("family-1.successor"),
        scope: "splunk:read".to_owned(),
    };
    store
        .put_refresh_answer(&presented, &answer, Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(
        store.get_refresh_answer(&presented).await.unwrap(),
        Some(answer)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.get_refresh_answer(&presented).await.unwrap(), None);
}

async fn concurrent_redeem(store: &Arc<dyn Store>) {
    let hash = TokenHash::of("contended-code");
    store
        .put_code(&hash, &code("g-race"), Duration::from_secs(60))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(store);
            let hash = hash.clone();
            tokio::spawn(async move { store.redeem_code(&hash).await.unwrap() })
        })
        .collect();
    let outcomes: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, RedeemOutcome::Redeemed(_)))
        .count();
    let replays = outcomes
        .iter()
        .filter(|o| {
            **o == RedeemOutcome::AlreadyRedeemed {
                grant_id: "g-race".into(),
            }
        })
        .count();
    assert_eq!((won, replays), (1, 19), "{outcomes:?}");
}

async fn concurrent_take(store: &Arc<dyn Store>) {
    store
        .put_transaction("contended-state", &transaction(), Duration::from_secs(60))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.take_transaction("contended-state").await.unwrap() })
        })
        .collect();
    let taken = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_some())
        .count();
    assert_eq!(taken, 1);
}

async fn concurrent_rotate(store: &Arc<dyn Store>) {
    let first = TokenHash::of("race-rt0");
    assert!(
        store
            .create_refresh_family(&grant("f-race"), &first, Duration::from_secs(3600))
            .await
            .unwrap()
    );
    // Twenty refreshes with the same token, each with its own successor: one rotation wins;
    // the others present a token that is by then superseded, which is reuse.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = Arc::clone(store);
            let first = first.clone();
            tokio::spawn(async move {
                let new = TokenHash::of(&format!("race-rt1-{i}"));
                (
                    new.clone(),
                    store.rotate_refresh("f-race", &first, &new).await.unwrap(),
                )
            })
        })
        .collect();
    let results: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let winners: Vec<_> = results
        .iter()
        .filter_map(|(new, o)| match o {
            RotateOutcome::Rotated(f) => Some((new.clone(), f.current_hash.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(winners[0].0, winners[0].1, "the winner's hash is current");
    assert!(
        results.iter().all(|(_, o)| matches!(
            o,
            RotateOutcome::Rotated(_) | RotateOutcome::Reused | RotateOutcome::Revoked
        )),
        "{results:?}"
    );
    let family = store.get_refresh_family("f-race").await.unwrap().unwrap();
    assert!(family.revoked, "losers presented a superseded token");
    assert_eq!(family.generation, 1);
}

/// All TTL checks share one real-time wait.
async fn expiry(store: &Arc<dyn Store>) {
    let short = Duration::from_secs(1);
    store
        .put_client(&client("cimd"), Some(short))
        .await
        .unwrap();
    store
        .put_transaction("short-state", &transaction(), short)
        .await
        .unwrap();
    store
        .put_code(&TokenHash::of("short-code"), &code("g-short"), short)
        .await
        .unwrap();
    let consent = ConsentRecord {
        subject: "carol".into(),
        client_id: "c1".into(),
        scope: "mcp:tools".into(),
        granted_at: 1,
    };
    store.put_consent(&consent, Some(short)).await.unwrap();
    assert!(
        store
            .create_refresh_family(&grant("f-short"), &TokenHash::of("s0"), short)
            .await
            .unwrap()
    );
    store
        .put_upstream_tokens("up-short", &upstream_tokens(), Some(short))
        .await
        .unwrap();
    assert_eq!(store.hit_rate_limit("rl-short", short).await.unwrap(), 1);
    assert!(
        store.get_client("cimd").await.unwrap().is_some(),
        "live before expiry"
    );

    tokio::time::sleep(Duration::from_millis(1200)).await;

    assert_eq!(store.get_client("cimd").await.unwrap(), None);
    assert_eq!(store.get_transaction("short-state").await.unwrap(), None);
    assert_eq!(store.take_transaction("short-state").await.unwrap(), None);
    assert_eq!(
        store
            .redeem_code(&TokenHash::of("short-code"))
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );
    assert_eq!(store.get_consent("carol", "c1").await.unwrap(), None);
    assert_eq!(store.get_refresh_family("f-short").await.unwrap(), None);
    assert_eq!(
        store
            .rotate_refresh("f-short", &TokenHash::of("s0"), &TokenHash::of("s1"))
            .await
            .unwrap(),
        RotateOutcome::NotFound
    );
    assert_eq!(store.get_upstream_tokens("up-short").await.unwrap(), None);
    assert_eq!(
        store.hit_rate_limit("rl-short", short).await.unwrap(),
        1,
        "new window"
    );

    store.purge_expired().await.unwrap();
    assert_eq!(store.get_client("cimd").await.unwrap(), None);
    // Purging must not touch live entries.
    assert!(store.get_refresh_family("f1").await.unwrap().is_some());
}
