//! Verification latency: JWT verification with a warm JWKS (RS256, ES256, EdDSA), a cached
//! token, and policy evaluation. Targets: ≤ 30 µs RS256 warm, ≤ 3 µs cached.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use auth_core::jwks::FetchFuture;
use auth_core::{
    AuthContext, BearerToken, CachingVerifier, Claims, ClaimsConfig, JwksCache, JwksCacheConfig,
    JwksFetcher, JwtVerifier, Policy, TokenVerifier, http_client::HttpResponse,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_main};
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsSigner};
use serde_json::{Value, json};

/// Serves a fixed JWKS from memory: the benchmark measures verification, not HTTP.
struct InMemory(Vec<u8>);

impl JwksFetcher for InMemory {
    fn fetch<'a>(&'a self, _uri: &'a str) -> FetchFuture<'a> {
        let body = self.0.clone();
        Box::pin(async move {
            Ok(HttpResponse {
                status: 200,
                cache_control: Some("max-age=3600".into()),
                body,
            })
        })
    }
}

fn public(k: &Jwk) -> Value {
    let mut p = k.to_public_key().unwrap();
    p.set_key_id(k.key_id().unwrap());
    Value::Object(p.as_ref().clone())
}

fn token(alg: &str, signer: &dyn JwsSigner, kid: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"alg": alg, "typ": "at+jwt", "kid": kid});
    let claims = json!({
        "iss": "https://idp.example", "aud": "https://mcp.example/mcp", "sub": "alice", "client_id": "c",
        "exp": now + 3600, "iat": now, "scope": "splunk:read splunk:search", "groups": ["splunk-users"]
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn benches(c: &mut Criterion) {
    let mut rsa = Jwk::generate_rsa_key(2048).unwrap();
    rsa.set_key_id("rsa");
    let mut ec = Jwk::generate_ec_key(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    ec.set_key_id("ec");
    let mut ed = Jwk::generate_ed_key(josekit::jwk::alg::ed::EdCurve::Ed25519).unwrap();
    ed.set_key_id("ed");
    let jwks = json!({"keys": [public(&rsa), public(&ec), public(&ed)]})
        .to_string()
        .into_bytes();
    let cache = Arc::new(
        JwksCache::new(
            "https://idp.example/jwks",
            Arc::new(InMemory(jwks)),
            JwksCacheConfig::default(),
        )
        .unwrap(),
    );
    let verifier = Arc::new(
        JwtVerifier::builder()
            .issuer("https://idp.example")
            .audience("https://mcp.example/mcp")
            .require_access_token_type(true)
            .jwks(cache)
            .build()
            .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let tokens = [
        (
            "verify_rs256_warm",
            token("RS256", &jws::RS256.signer_from_jwk(&rsa).unwrap(), "rsa"),
        ),
        (
            "verify_es256_warm",
            token("ES256", &jws::ES256.signer_from_jwk(&ec).unwrap(), "ec"),
        ),
        (
            "verify_eddsa_warm",
            token("EdDSA", &jws::EdDSA.signer_from_jwk(&ed).unwrap(), "ed"),
        ),
    ];
    for (name, t) in &tokens {
        // Warm the JWKS so the measurement excludes the one fetch.
        rt.block_on(verifier.verify(t)).unwrap();
        c.bench_function(name, |b| {
            b.iter(|| rt.block_on(verifier.verify(black_box(t))).unwrap())
        });
    }

    // The two halves of a warm RS256 verification, to tell the crate's own overhead (parsing,
    // claim checks, context) from the RSA operation. auth-core calls OpenSSL's bare RSA
    // operation, timed alone as the floor under the warm figure; josekit's EVP call (used
    // before) and ring's (per-call key set-up) are timed alone for comparison.
    let rs_token = &tokens[0].1;
    let (input, sig) = rs_token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let raw = jws::RS256
        .verifier_from_jwk(&rsa.to_public_key().unwrap())
        .unwrap();
    c.bench_function("rs256_signature_only_josekit", |b| {
        b.iter(|| {
            josekit::jws::JwsVerifier::verify(&raw, black_box(input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });
    let public_rsa = rsa.to_public_key().unwrap();
    let component = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(public_rsa.parameter(name).unwrap().as_str().unwrap())
            .unwrap()
    };
    let ring_key = ring::signature::RsaPublicKeyComponents {
        n: component("n"),
        e: component("e"),
    };
    c.bench_function("rs256_signature_only_ring", |b| {
        b.iter(|| {
            ring_key
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    black_box(input.as_bytes()),
                    black_box(&sig),
                )
                .unwrap()
        })
    });
    let ossl = openssl::rsa::Rsa::from_public_components(
        openssl::bn::BigNum::from_slice(&component("n")).unwrap(),
        openssl::bn::BigNum::from_slice(&component("e")).unwrap(),
    )
    .unwrap();
    c.bench_function("rs256_signature_only_openssl_bare", |b| {
        b.iter(|| {
            let mut em = [0u8; 256];
            ossl.public_decrypt(black_box(&sig), &mut em, openssl::rsa::Padding::NONE)
                .unwrap()
        })
    });
    let claims_config = ClaimsConfig::default();
    c.bench_function("rs256_parse_and_claims_only", |b| {
        b.iter(|| {
            let t = auth_core::parse_unverified(black_box(rs_token)).unwrap();
            t.claims(&claims_config).unwrap()
        })
    });

    let cached = CachingVerifier::new(verifier.clone(), 10_000, Duration::from_secs(300));
    let t = &tokens[0].1;
    rt.block_on(cached.verify(t)).unwrap();
    c.bench_function("verify_cached_rs256", |b| {
        b.iter(|| rt.block_on(cached.verify(black_box(t))).unwrap())
    });

    let Value::Object(claims) =
        json!({"sub": "alice", "scope": "splunk:read splunk:search", "groups": ["splunk-users"]})
    else {
        unreachable!("literal object")
    };
    let ctx = AuthContext::new(
        Claims::from_json(claims, &ClaimsConfig::default()).unwrap(),
        BearerToken::new("t"),
    )
    .unwrap();
    let policy = Policy::require_scopes("splunk:search")
        .unwrap()
        .and(Policy::require_group("splunk-users"))
        .or(Policy::require_scopes("splunk:admin").unwrap());
    c.bench_function("policy_evaluate", |b| {
        b.iter(|| black_box(&policy).evaluate(black_box(&ctx)))
    });
}

mod group {
    // criterion_group! defines an undocumented public function.
    #![allow(missing_docs)]
    criterion::criterion_group!(verify, super::benches);
}
criterion_main!(group::verify);
