//! RFC 7662 introspection against a real local endpoint: active, inactive, expired, wrong
//! audience; Basic and post client authentication; GET; caching; routing by token shape.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::{
    CachingVerifier, ClientAuth, CompositeVerifier, ErrorKind, IntrospectionConfig,
    IntrospectionMethod, IntrospectionVerifier, JwksCacheConfig, TokenVerifier,
};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

const CLIENT_ID: &str = "mcp-resource";
const CLIENT_SECRET: &str = "s3cret:with/odd chars";

#[derive(Clone)]
struct Idp {
    calls: Arc<AtomicUsize>,
}

fn answer_for(token: &str) -> Value {
    let now = now();
    match token {
        "active-token" => {
            json!({"active": true, "sub": "bob", "client_id": "c-1", "aud": AUDIENCE, "iss": ISSUER,
                                 "exp": now + 300, "scope": "splunk:read", "username": "bob@example.com"})
        }
        "active-no-sub" => {
            json!({"active": true, "username": "carol", "aud": [AUDIENCE], "exp": now + 300})
        }
        "expired-token" => json!({"active": true, "sub": "bob", "aud": AUDIENCE, "exp": now - 600}),
        "wrong-aud-token" => {
            json!({"active": true, "sub": "bob", "aud": "https://other.example", "exp": now + 300})
        }
        "wrong-iss-token" => {
            json!({"active": true, "sub": "bob", "aud": AUDIENCE, "iss": "https://evil.example", "exp": now + 300})
        }
        _ => json!({"active": false}),
    }
}

fn authenticated(headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    if let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let expected = base64::engine::general_purpose::STANDARD
            .encode("mcp-resource:s3cret%3Awith%2Fodd+chars");
        return h == format!("Basic {expected}");
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

async fn introspect_post(
    State(idp): State<Idp>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    idp.calls.fetch_add(1, Ordering::SeqCst);
    if !authenticated(&headers, &form) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    axum::Json(answer_for(
        form.get("token").map(String::as_str).unwrap_or_default(),
    ))
    .into_response()
}

async fn introspect_get(
    State(idp): State<Idp>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    idp.calls.fetch_add(1, Ordering::SeqCst);
    if !authenticated(&headers, &q) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(answer_for(
        q.get("token").map(String::as_str).unwrap_or_default(),
    ))
    .into_response()
}

async fn start() -> (SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/introspect", post(introspect_post).get(introspect_get))
        .with_state(Idp {
            calls: calls.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, calls)
}

fn config(addr: SocketAddr, auth: ClientAuth, method: IntrospectionMethod) -> IntrospectionConfig {
    let mut c = IntrospectionConfig::new(
        format!("http://{addr}/introspect"),
        CLIENT_ID,
        CLIENT_SECRET.to_owned().into(),
        AUDIENCE,
    );
    c.client_auth = auth;
    c.method = method;
    c.issuers = vec![];
    c
}

#[tokio::test]
async fn introspection_outcomes_with_basic_and_post_auth_and_get() {
    let (addr, calls) = start().await;
    for (auth, method) in [
        (ClientAuth::Basic, IntrospectionMethod::Post),
        (ClientAuth::Post, IntrospectionMethod::Post),
        (ClientAuth::Basic, IntrospectionMethod::Get),
    ] {
        let v = IntrospectionVerifier::new(http(), config(addr, auth, method)).unwrap();
        let ctx = v
            .verify("active-token")
            .await
            .unwrap_or_else(|e| panic!("{auth:?}/{method:?}: {e}"));
        assert_eq!(ctx.subject(), "bob");
        assert_eq!(ctx.client_id(), Some("c-1"));
        assert!(ctx.scopes().contains("splunk:read"));
        assert_eq!(
            v.verify("active-no-sub").await.unwrap().subject(),
            "carol",
            "username stands in for sub"
        );
        assert_eq!(
            v.verify("revoked").await.unwrap_err().kind(),
            ErrorKind::Inactive
        );
        assert_eq!(
            v.verify("expired-token").await.unwrap_err().kind(),
            ErrorKind::Expired
        );
        assert_eq!(
            v.verify("wrong-aud-token").await.unwrap_err().kind(),
            ErrorKind::InvalidAudience
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 15);
}

#[tokio::test]
async fn issuer_checked_when_configured() {
    let (addr, _) = start().await;
    let mut c = config(addr, ClientAuth::Basic, IntrospectionMethod::Post);
    c.issuers = vec![ISSUER.to_owned()];
    let v = IntrospectionVerifier::new(http(), c).unwrap();
    v.verify("active-token").await.unwrap();
    assert_eq!(
        v.verify("wrong-iss-token").await.unwrap_err().kind(),
        ErrorKind::InvalidIssuer
    );
}

#[tokio::test]
async fn bad_client_credentials_are_an_upstream_failure() {
    let (addr, _) = start().await;
    let mut c = config(addr, ClientAuth::Post, IntrospectionMethod::Post);
    c.client_secret = "wrong".to_owned().into();
    let v = IntrospectionVerifier::new(http(), c).unwrap();
    let err = v.verify("active-token").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream);
    assert!(err.is_server_error());
}

#[tokio::test]
async fn cached_introspection_calls_the_idp_once() {
    let (addr, calls) = start().await;
    let v = IntrospectionVerifier::new(
        http(),
        config(addr, ClientAuth::Basic, IntrospectionMethod::Post),
    )
    .unwrap()
    .cached(100, Duration::from_secs(60));
    for _ in 0..5 {
        v.verify("active-token").await.unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for _ in 0..3 {
        assert_eq!(
            v.verify("revoked").await.unwrap_err().kind(),
            ErrorKind::Inactive
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4, "failures are not cached");
}

#[tokio::test]
async fn composite_routes_by_shape() {
    let (addr, calls) = start().await;
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    let jwt = Arc::new(verifier_with(jwks_cache(
        &server,
        JwksCacheConfig::default(),
    )));
    let opaque = Arc::new(
        IntrospectionVerifier::new(
            http(),
            config(addr, ClientAuth::Basic, IntrospectionMethod::Post),
        )
        .unwrap(),
    );
    let v = CompositeVerifier::new(jwt, opaque);
    assert_eq!(v.verify(&good_token()).await.unwrap().subject(), "alice");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(v.verify("active-token").await.unwrap().subject(), "bob");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A forged JWT is refused by the JWT verifier and never sent to the IdP.
    let forged = sign(
        "RS256",
        &k.rsa_other,
        &header("RS256", "rsa-1"),
        &good_claims(),
    );
    assert_eq!(
        v.verify(&forged).await.unwrap_err().kind(),
        ErrorKind::InvalidSignature
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn token_cache_is_bounded_and_respects_exp() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    let inner = Arc::new(verifier_with(jwks_cache(
        &server,
        JwksCacheConfig::default(),
    )));
    let cache = CachingVerifier::new(inner, 16, Duration::from_secs(3600));
    for i in 0..200 {
        let mut claims = good_claims();
        claims["jti"] = json!(format!("j-{i}"));
        cache
            .verify(&sign("RS256", &k.rsa, &header("RS256", "rsa-1"), &claims))
            .await
            .unwrap();
    }
    assert!(cache.len() <= 32, "cache holds {} entries", cache.len());
    // A token that expires in 2 s is served from the cache until then and refused after.
    let mut claims = good_claims();
    claims["exp"] = json!(now() + 2);
    let short = sign("RS256", &k.rsa, &header("RS256", "rsa-1"), &claims);
    let strict = Arc::new(
        auth_core::JwtVerifier::builder()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .leeway(Duration::ZERO)
            .jwks(jwks_cache(&server, JwksCacheConfig::default()))
            .build()
            .unwrap(),
    );
    let cache = CachingVerifier::new(strict, 16, Duration::from_secs(3600));
    cache.verify(&short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        cache.verify(&short).await.unwrap_err().kind(),
        ErrorKind::Expired
    );
}
