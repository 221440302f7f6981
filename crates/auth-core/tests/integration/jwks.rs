//! JWKS behaviour against a real local HTTP server: rotation, unknown-kid storms, an IdP that
//! goes down, Cache-Control, and OIDC discovery.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    ConfigError, DiscoveryDocument, ErrorKind, JwksCacheConfig, JwtVerifier, TokenVerifier,
};
use serde_json::json;

use crate::support::*;

fn quick(cooldown_ms: u64) -> JwksCacheConfig {
    JwksCacheConfig {
        refresh_cooldown: Duration::from_millis(cooldown_ms),
        ..Default::default()
    }
}

#[tokio::test]
async fn rotation_new_kid_accepted_after_one_refresh() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    let v = verifier_with(jwks_cache(&server, quick(200)));
    v.verify(&good_token()).await.unwrap();
    assert_eq!(server.fetches(), 1);

    server.set(|s| s.jwks = jwks_of(&[&k.rsa, &k.rsa2]));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let rotated = sign("RS256", &k.rsa2, &header("RS256", "rsa-2"), &good_claims());
    v.verify(&rotated).await.unwrap();
    assert_eq!(server.fetches(), 2, "exactly one refresh for the new kid");
    v.verify(&rotated).await.unwrap();
    v.verify(&good_token()).await.unwrap();
    assert_eq!(server.fetches(), 2, "both kids now served from cache");
}

#[tokio::test]
async fn unknown_kid_storm_fetches_at_most_once_per_window() {
    let k = keys();
    // Tokens are signed up front so that signing time under a loaded machine cannot stretch a
    // storm across a rate-limit window.
    let rounds: Vec<Vec<String>> = (0..3)
        .map(|round| {
            (0..100)
                .map(|i| {
                    sign(
                        "RS256",
                        &k.rsa,
                        &header("RS256", &format!("unknown-{round}-{i}")),
                        &good_claims(),
                    )
                })
                .collect()
        })
        .collect();
    let window = Duration::from_millis(1500);
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    let v = Arc::new(verifier_with(jwks_cache(
        &server,
        quick(window.as_millis() as u64),
    )));
    v.verify(&good_token()).await.unwrap();
    assert_eq!(server.fetches(), 1);
    tokio::time::sleep(window + Duration::from_millis(100)).await;

    let storm = |tokens: Vec<String>| {
        let v = v.clone();
        async move {
            let tasks: Vec<_> = tokens
                .into_iter()
                .map(|token| {
                    let v = v.clone();
                    tokio::spawn(async move { v.verify(&token).await.unwrap_err().kind() })
                })
                .collect();
            for t in tasks {
                assert_eq!(t.await.unwrap(), ErrorKind::UnknownKey);
            }
        }
    };
    let mut rounds = rounds.into_iter();
    storm(rounds.next().unwrap()).await;
    assert_eq!(
        server.fetches(),
        2,
        "100 concurrent unknown kids cause one fetch"
    );
    storm(rounds.next().unwrap()).await;
    assert_eq!(server.fetches(), 2, "still inside the window: no fetch");
    tokio::time::sleep(window + Duration::from_millis(100)).await;
    storm(rounds.next().unwrap()).await;
    assert_eq!(server.fetches(), 3, "next window: one more fetch");
    // Known keys keep working throughout.
    v.verify(&good_token()).await.unwrap();
}

#[tokio::test]
async fn idp_down_cached_keys_still_verify() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    server.set(|s| s.cache_control = Some("max-age=0".to_owned()));
    let cfg = JwksCacheConfig {
        min_ttl: Duration::from_millis(100),
        refresh_cooldown: Duration::from_millis(100),
        ..Default::default()
    };
    let v = verifier_with(jwks_cache(&server, cfg));
    v.verify(&good_token()).await.unwrap();

    server.set(|s| s.status = 503);
    tokio::time::sleep(Duration::from_millis(150)).await;
    v.verify(&good_token())
        .await
        .expect("stale keys used while the IdP answers 503");
    assert_eq!(
        server.fetches(),
        2,
        "the stale keys were refreshed once and the failure tolerated"
    );

    server.shutdown();
    tokio::time::sleep(Duration::from_millis(150)).await;
    for _ in 0..5 {
        v.verify(&good_token())
            .await
            .expect("stale keys used while the IdP is unreachable");
    }
}

#[tokio::test]
async fn idp_down_at_start_is_unavailable_not_invalid() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    server.set(|s| s.status = 500);
    let v = verifier_with(jwks_cache(&server, quick(60_000)));
    let err = v.verify(&good_token()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::KeysUnavailable);
    assert!(err.is_server_error());
    // Rate limit: hammering does not hammer the IdP.
    for _ in 0..10 {
        let _ = v.verify(&good_token()).await;
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn cache_control_max_age_is_honoured_within_bounds() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    server.set(|s| s.cache_control = Some("public, max-age=1".to_owned()));
    let cfg = JwksCacheConfig {
        min_ttl: Duration::ZERO,
        refresh_cooldown: Duration::ZERO,
        ..Default::default()
    };
    let v = verifier_with(jwks_cache(&server, cfg));
    v.verify(&good_token()).await.unwrap();
    v.verify(&good_token()).await.unwrap();
    assert_eq!(server.fetches(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    v.verify(&good_token()).await.unwrap();
    assert_eq!(server.fetches(), 2, "expired after max-age");
}

#[tokio::test]
async fn jwks_ignores_symmetric_and_encryption_keys() {
    let k = keys();
    let mut jwks = jwks_of(&[&k.rsa]);
    jwks["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty": "oct", "kid": "hmac", "k": b64(HMAC_SECRET)}));
    let mut enc = public(&k.rsa2);
    enc["use"] = json!("enc");
    jwks["keys"].as_array_mut().unwrap().push(enc);
    let server = JwksServer::start(jwks).await;
    let v = verifier_with(jwks_cache(&server, quick(60_000)));
    v.verify(&good_token()).await.unwrap();
    let hs = sign_hmac(
        "HS256",
        HMAC_SECRET,
        &header("HS256", "hmac"),
        &good_claims(),
    );
    assert_eq!(
        v.verify(&hs).await.unwrap_err().kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    let enc_signed = sign("RS256", &k.rsa2, &header("RS256", "rsa-2"), &good_claims());
    assert_eq!(
        v.verify(&enc_signed).await.unwrap_err().kind(),
        ErrorKind::UnknownKey
    );
}

#[tokio::test]
async fn discovery_with_matching_issuer_builds_a_verifier() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    let http = http();
    let config_url = format!("{}/.well-known/openid-configuration", server.base());
    let doc = DiscoveryDocument::fetch(&http, &config_url, None)
        .await
        .unwrap();
    assert_eq!(doc.issuer, server.base());
    let cache = Arc::new(doc.jwks_cache(&http, JwksCacheConfig::default()).unwrap());
    let v = JwtVerifier::builder()
        .issuer(&doc.issuer)
        .audience(AUDIENCE)
        .jwks(cache)
        .build()
        .unwrap();
    let mut claims = good_claims();
    claims["iss"] = json!(server.base());
    v.verify(&sign("RS256", &k.rsa, &header("RS256", "rsa-1"), &claims))
        .await
        .unwrap();
    // A token from the issuer the test suite uses elsewhere is not this one's.
    assert_eq!(
        v.verify(&good_token()).await.unwrap_err().kind(),
        ErrorKind::InvalidIssuer
    );
}

#[tokio::test]
async fn discovery_with_a_different_issuer_is_refused() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    server.set(|s| s.discovery_issuer = Some("https://evil.example".to_owned()));
    let config_url = format!("{}/.well-known/openid-configuration", server.base());
    let err = DiscoveryDocument::fetch(&http(), &config_url, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::IssuerMismatch { .. }), "{err}");
    // Also when the expected issuer is given explicitly and differs only by a trailing slash.
    server.set(|s| s.discovery_issuer = Some(format!("{}/", server.base())));
    let err = DiscoveryDocument::fetch(&http(), &config_url, Some(&server.base()))
        .await
        .unwrap_err();
    assert!(matches!(err, ConfigError::IssuerMismatch { .. }), "{err}");
}

#[test]
fn plain_http_is_refused_outside_loopback() {
    let err = http().check_url("http://idp.example/jwks").unwrap_err();
    assert!(matches!(err, ConfigError::InvalidUrl { .. }));
    http().check_url("https://idp.example/jwks").unwrap();
    http().check_url("http://127.0.0.1:8080/jwks").unwrap();
    http().check_url("http://[::1]:8080/jwks").unwrap();
}
