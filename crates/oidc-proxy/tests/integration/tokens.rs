//! `TokenIssuer` against auth-core's `JwtVerifier`, which fetches our JWKS over real HTTP.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthError, HttpClient, HttpClientConfig, JwksCache, JwksCacheConfig, JwtVerifier,
    TokenVerifier as _,
};
use oidc_proxy::{AccessTokenRequest, KeyState, RedbStore, Store, TokenIssuer, jwks_router};

use crate::support::{TempDir, cipher};

const ISSUER: &str = "https://mcp.example.com/splunk-mcp";
const RESOURCE: &str = "https://mcp.example.com/splunk-mcp/mcp";

fn request(audience: &str) -> AccessTokenRequest {
    AccessTokenRequest {
        subject: "alice".into(),
        client_id: "client-123".into(),
        audience: audience.into(),
        scope: "splunk:search offline_access".into(),
        groups: vec!["splunk-admins".into(), "ops".into()],
        grant_id: "grant-1".into(),
        username: Some("alice".into()),
        email: None,
    }
}

/// Serves the issuer's JWKS at `/jwks.json` on a loopback port; returns its URL.
async fn serve_jwks(issuer: Arc<TokenIssuer>) -> String {
    let app = jwks_router(issuer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json")
}

fn verifier(jwks_uri: &str, audience: &str) -> JwtVerifier {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = HttpClient::new(HttpClientConfig::default()).unwrap();
    let config = JwksCacheConfig {
        refresh_cooldown: Duration::ZERO,
        ..Default::default()
    };
    let cache = JwksCache::new(jwks_uri, Arc::new(http), config).unwrap();
    JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(audience)
        .require_access_token_type(true)
        .jwks(Arc::new(cache))
        .build()
        .unwrap()
}

#[tokio::test]
async fn minted_tokens_verify_with_auth_core_and_survive_rotation() {
    let dir = TempDir::new("tokens");
    let store: Arc<dyn Store> = Arc::new(
        RedbStore::open(dir.path().join("s.redb"), cipher())
            .await
            .unwrap(),
    );
    let issuer = Arc::new(
        TokenIssuer::load(store.clone(), ISSUER, Duration::from_secs(300))
            .await
            .unwrap(),
    );
    let uri = serve_jwks(issuer.clone()).await;
    let jwt = verifier(&uri, RESOURCE);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let served = reqwest::get(&uri).await.unwrap();
    assert_eq!(served.headers()["cache-control"], "public, max-age=300");

    // The JWKS publishes only public keys.
    let jwks = issuer.jwks().await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], issuer.active_kid().await.as_str());
    assert_eq!(keys[0]["alg"], "ES256");
    assert!(keys[0].get("d").is_none(), "private part published: {jwks}");

    let first = issuer.mint(&request(RESOURCE)).await.unwrap();
    let ctx = jwt.verify(first.token.expose()).await.unwrap();
    assert_eq!(ctx.subject(), "alice");
    assert_eq!(ctx.client_id(), Some("client-123"));
    assert!(ctx.scopes().contains("splunk:search"));
    assert_eq!(ctx.groups(), ["splunk-admins", "ops"]);
    assert_eq!(ctx.claims().jwt_id.as_deref(), Some(first.jti.as_str()));
    assert_eq!(ctx.claims().issuer.as_deref(), Some(ISSUER));
    assert_eq!(ctx.claims().audience, [RESOURCE]);
    assert!(ctx.claims().issued_at.is_some());
    assert_eq!(ctx.expires_at(), Some(first.expires_at as i64));
    // Whole seconds, as strict JWT libraries expect; and the grant and user claims.
    let raw = e2e_tests::jwt_claims(first.token.expose());
    assert!(raw["iat"].is_u64() && raw["exp"].is_u64(), "{raw}");
    assert_eq!(raw["sid"], "grant-1");
    assert_eq!(raw["preferred_username"], "alice");
    assert!(raw.get("email").is_none(), "{raw}");

    // A token for another resource is refused.
    let other = issuer
        .mint(&request("https://other.example.com/mcp"))
        .await
        .unwrap();
    let err = jwt.verify(other.token.expose()).await.unwrap_err();
    assert!(matches!(err, AuthError::InvalidAudience(_)), "{err:?}");

    // Rotation: a new key signs, the old one still verifies while retiring.
    let old_kid = first.kid.clone();
    let new_kid = issuer.rotate().await.unwrap();
    assert_ne!(new_kid, old_kid);
    let second = issuer.mint(&request(RESOURCE)).await.unwrap();
    assert_eq!(second.kid, new_kid);
    jwt.verify(second.token.expose()).await.unwrap();
    jwt.verify(first.token.expose()).await.unwrap();
    let states: Vec<_> = store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| (k.kid, k.state))
        .collect();
    assert!(
        states.contains(&(old_kid.clone(), KeyState::Retiring)),
        "{states:?}"
    );
    assert!(
        states.contains(&(new_kid.clone(), KeyState::Active)),
        "{states:?}"
    );

    // The active key cannot be retired; the retiring one can, and is no longer published.
    assert!(matches!(
        issuer.retire(&new_kid).await,
        Err(oidc_proxy::TokenError::RetireActive(_))
    ));
    assert!(issuer.retire(&old_kid).await.unwrap());
    let published = issuer.jwks().await;
    assert_eq!(published["keys"].as_array().unwrap().len(), 1);
    let fresh = verifier(&uri, RESOURCE);
    let err = fresh.verify(first.token.expose()).await.unwrap_err();
    assert!(matches!(err, AuthError::UnknownKey(_)), "{err:?}");
    fresh.verify(second.token.expose()).await.unwrap();
}

#[tokio::test]
async fn keys_persist_across_restarts_and_replicas_pick_up_rotation() {
    let dir = TempDir::new("tokens-restart");
    let path = dir.path().join("s.redb");
    let kid = {
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path, cipher()).await.unwrap());
        let issuer = TokenIssuer::load(store, ISSUER, Duration::from_secs(60))
            .await
            .unwrap();
        issuer.active_kid().await
    };
    let store: Arc<dyn Store> = Arc::new(RedbStore::open(&path, cipher()).await.unwrap());
    let a = TokenIssuer::load(store.clone(), ISSUER, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        a.active_kid().await,
        kid,
        "a restart must reuse the stored key"
    );
    let b = TokenIssuer::load(store, ISSUER, Duration::from_secs(60))
        .await
        .unwrap();
    let rotated = b.rotate().await.unwrap();
    assert_eq!(a.active_kid().await, kid);
    a.reload().await.unwrap();
    assert_eq!(a.active_kid().await, rotated);
    assert_eq!(a.jwks().await["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_an_empty_store_agree_on_one_key() {
    let redis = crate::support::RedisServer::start();
    let url = redis.url();
    let stores = futures::future::join_all(
        (0..4).map(|_| oidc_proxy::RedisStore::connect(&url, "together:", cipher())),
    )
    .await;
    let stores: Vec<Arc<dyn Store>> = stores
        .into_iter()
        .map(|store| Arc::new(store.expect("Redis")) as Arc<dyn Store>)
        .collect();
    // Four replicas load their keys at the same moment.
    let issuers = futures::future::join_all(stores.iter().map(|store| {
        TokenIssuer::load(
            Arc::clone(store),
            "https://mcp.example",
            Duration::from_secs(60),
        )
    }))
    .await;
    let kids: Vec<String> = futures::future::join_all(
        issuers
            .iter()
            .map(|issuer| issuer.as_ref().expect("loaded").active_kid()),
    )
    .await;
    assert!(
        kids.iter().all(|kid| *kid == kids[0]),
        "one signing key: {kids:?}"
    );
    let active = stores[0]
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|key| key.state == KeyState::Active)
        .count();
    assert_eq!(active, 1, "one key in the store");
}
