//! The bad-token corpus: a table of hostile or broken tokens, each refused with a named kind;
//! and valid tokens for every supported algorithm.

use auth_core::{Algorithm, ErrorKind, JwksCacheConfig, JwtVerifier, TokenVerifier};
use serde_json::{Value, json};

use crate::support::*;

fn with(claims: Value, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let Value::Object(mut m) = claims else {
        unreachable!("claims are an object")
    };
    f(&mut m);
    Value::Object(m)
}

fn rs(header: Value, claims: Value) -> String {
    sign("RS256", &keys().rsa, &header, &claims)
}

fn rs_claims(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    rs(header("RS256", "rsa-1"), with(good_claims(), f))
}

fn rs_header(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    rs(with(header("RS256", "rsa-1"), f), good_claims())
}

/// A correctly signed RS256 token whose header or claims JSON gets `extra` members appended
/// as text: the way to repeat a name.
fn rs_appended(header_extra: &str, claims_extra: &str) -> String {
    let append = |v: Value, extra: &str| {
        let text = v.to_string();
        format!("{}{extra}}}", &text[..text.len() - 1])
    };
    sign_text(
        "RS256",
        &keys().rsa,
        &append(header("RS256", "rsa-1"), header_extra),
        &append(good_claims(), claims_extra),
    )
}

fn unsigned(header: Value, claims: Value, sig: &str) -> String {
    format!(
        "{}.{}.{sig}",
        b64(header.to_string()),
        b64(claims.to_string())
    )
}

fn corpus() -> Vec<(&'static str, String, ErrorKind)> {
    use ErrorKind::*;
    let k = keys();
    let now = now();
    let good = good_token();
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let rsa_public_pem = {
        let v = public(&k.rsa);
        v.to_string().into_bytes()
    };
    vec![
        // alg tricks
        (
            "alg none, no signature",
            unsigned(json!({"alg": "none", "typ": "at+jwt"}), good_claims(), ""),
            AlgorithmNotAllowed,
        ),
        (
            "alg None",
            unsigned(json!({"alg": "None"}), good_claims(), ""),
            AlgorithmNotAllowed,
        ),
        (
            "alg NONE with signature",
            unsigned(json!({"alg": "NONE"}), good_claims(), s),
            AlgorithmNotAllowed,
        ),
        (
            "alg none with kid",
            unsigned(
                json!({"alg": "none", "kid": "rsa-1"}),
                good_claims(),
                "AAAA",
            ),
            AlgorithmNotAllowed,
        ),
        (
            "HS256 signed with the RSA public key",
            sign_hmac(
                "HS256",
                &rsa_public_pem,
                &header("HS256", "rsa-1"),
                &good_claims(),
            ),
            AlgorithmNotAllowed,
        ),
        (
            "HS384 with a guessable secret",
            sign_hmac(
                "HS384",
                HMAC_SECRET,
                &header("HS384", "rsa-1"),
                &good_claims(),
            ),
            AlgorithmNotAllowed,
        ),
        (
            "unknown alg RS1024",
            unsigned(json!({"alg": "RS1024", "kid": "rsa-1"}), good_claims(), s),
            AlgorithmNotAllowed,
        ),
        (
            "lower-case rs256",
            unsigned(json!({"alg": "rs256", "kid": "rsa-1"}), good_claims(), s),
            AlgorithmNotAllowed,
        ),
        (
            "alg missing",
            unsigned(json!({"kid": "rsa-1"}), good_claims(), s),
            Malformed,
        ),
        (
            "alg is a number",
            unsigned(json!({"alg": 256, "kid": "rsa-1"}), good_claims(), s),
            Malformed,
        ),
        // keys
        (
            "unknown kid",
            rs(header("RS256", "nope"), good_claims()),
            UnknownKey,
        ),
        (
            "kid with path traversal",
            rs(header("RS256", "../../etc/passwd"), good_claims()),
            InvalidKeyId,
        ),
        (
            "kid with slash",
            rs(header("RS256", "keys/rsa-1"), good_claims()),
            InvalidKeyId,
        ),
        (
            "kid with backslash",
            rs(header("RS256", "..\\rsa-1"), good_claims()),
            InvalidKeyId,
        ),
        (
            "kid with space",
            rs(header("RS256", "rsa 1"), good_claims()),
            InvalidKeyId,
        ),
        (
            "kid with NUL",
            rs(header("RS256", "rsa-1\u{0}"), good_claims()),
            InvalidKeyId,
        ),
        (
            "kid with newline",
            rs(header("RS256", "rsa-1\nx"), good_claims()),
            InvalidKeyId,
        ),
        (
            "empty kid",
            rs(header("RS256", ""), good_claims()),
            InvalidKeyId,
        ),
        (
            "300-character kid",
            rs(header("RS256", &"k".repeat(300)), good_claims()),
            InvalidKeyId,
        ),
        (
            "kid is a number",
            rs_header(|m| {
                m.insert("kid".into(), json!(1));
            }),
            InvalidKeyId,
        ),
        (
            "kid is non-ASCII",
            rs(header("RS256", "clé"), good_claims()),
            InvalidKeyId,
        ),
        // header parameters that pick keys or demand extensions
        (
            "jku header",
            rs_header(|m| {
                m.insert("jku".into(), json!("https://evil.example/jwks"));
            }),
            ForbiddenHeader,
        ),
        (
            "x5u header",
            rs_header(|m| {
                m.insert("x5u".into(), json!("https://evil.example/cert"));
            }),
            ForbiddenHeader,
        ),
        (
            "embedded jwk header",
            rs_header(|m| {
                m.insert("jwk".into(), public(&k.rsa));
            }),
            ForbiddenHeader,
        ),
        (
            "x5c header",
            rs_header(|m| {
                m.insert("x5c".into(), json!(["MIIB"]));
            }),
            ForbiddenHeader,
        ),
        (
            "crit header",
            rs_header(|m| {
                m.insert("crit".into(), json!(["exp"]));
            }),
            ForbiddenHeader,
        ),
        (
            "b64 false",
            rs_header(|m| {
                m.insert("b64".into(), json!(false));
            }),
            ForbiddenHeader,
        ),
        // time
        (
            "expired by leeway + 1 s",
            rs_claims(|m| {
                m.insert("exp".into(), json!(now - 61));
            }),
            Expired,
        ),
        (
            "expired long ago",
            rs_claims(|m| {
                m.insert("exp".into(), json!(1_000_000));
            }),
            Expired,
        ),
        (
            "nbf in the future",
            rs_claims(|m| {
                m.insert("nbf".into(), json!(now + 120));
            }),
            NotYetValid,
        ),
        (
            "iat in the future",
            rs_claims(|m| {
                m.insert("iat".into(), json!(now + 120));
            }),
            IssuedInFuture,
        ),
        (
            "missing exp",
            rs_claims(|m| {
                m.remove("exp");
            }),
            MissingClaim,
        ),
        (
            "exp as string",
            rs_claims(|m| {
                m.insert("exp".into(), json!("tomorrow"));
            }),
            InvalidClaim,
        ),
        (
            "exp absurdly large float",
            rs_claims(|m| {
                m.insert("exp".into(), json!(1e300));
            }),
            InvalidClaim,
        ),
        // issuer
        (
            "wrong iss",
            rs_claims(|m| {
                m.insert("iss".into(), json!("https://evil.example"));
            }),
            InvalidIssuer,
        ),
        (
            "iss with trailing slash",
            rs_claims(|m| {
                m.insert("iss".into(), json!(format!("{ISSUER}/")));
            }),
            InvalidIssuer,
        ),
        (
            "iss differing in case",
            rs_claims(|m| {
                m.insert("iss".into(), json!(ISSUER.to_uppercase()));
            }),
            InvalidIssuer,
        ),
        (
            "missing iss",
            rs_claims(|m| {
                m.remove("iss");
            }),
            MissingClaim,
        ),
        (
            "iss is a number",
            rs_claims(|m| {
                m.insert("iss".into(), json!(7));
            }),
            InvalidClaim,
        ),
        // audience
        (
            "wrong aud",
            rs_claims(|m| {
                m.insert("aud".into(), json!("https://other.example/mcp"));
            }),
            InvalidAudience,
        ),
        (
            "aud array without ours",
            rs_claims(|m| {
                m.insert("aud".into(), json!(["a", "https://mcp.example"]));
            }),
            InvalidAudience,
        ),
        (
            "aud with trailing slash",
            rs_claims(|m| {
                m.insert("aud".into(), json!(format!("{AUDIENCE}/")));
            }),
            InvalidAudience,
        ),
        (
            "missing aud",
            rs_claims(|m| {
                m.remove("aud");
            }),
            MissingClaim,
        ),
        (
            "empty aud array",
            rs_claims(|m| {
                m.insert("aud".into(), json!([]));
            }),
            MissingClaim,
        ),
        (
            "aud is a number",
            rs_claims(|m| {
                m.insert("aud".into(), json!(1));
            }),
            InvalidClaim,
        ),
        // other claims
        (
            "scope as number",
            rs_claims(|m| {
                m.insert("scope".into(), json!(42));
            }),
            InvalidClaim,
        ),
        (
            "scope with a quote",
            rs_claims(|m| {
                m.insert("scope".into(), json!("a\"b"));
            }),
            InvalidClaim,
        ),
        (
            "scp array holding a number",
            rs_claims(|m| {
                m.insert("scp".into(), json!(["a", 1]));
            }),
            InvalidClaim,
        ),
        (
            "groups as object",
            rs_claims(|m| {
                m.insert("groups".into(), json!({"a": 1}));
            }),
            InvalidClaim,
        ),
        (
            "missing sub",
            rs_claims(|m| {
                m.remove("sub");
            }),
            MissingClaim,
        ),
        (
            "empty sub",
            rs_claims(|m| {
                m.insert("sub".into(), json!(""));
            }),
            MissingClaim,
        ),
        // type
        (
            "typ JWT where at+jwt is required",
            rs_header(|m| {
                m.insert("typ".into(), json!("JWT"));
            }),
            InvalidType,
        ),
        (
            "typ missing",
            rs_header(|m| {
                m.remove("typ");
            }),
            InvalidType,
        ),
        // structure
        (
            "JWE, five parts",
            format!("{h}.AAAA.AAAA.AAAA.AAAA"),
            Encrypted,
        ),
        (
            "enc header in three parts",
            rs_header(|m| {
                m.insert("enc".into(), json!("A256GCM"));
            }),
            Encrypted,
        ),
        // Repeated names: two parsers could read different values from one token.
        (
            "alg repeated, the second HS256",
            rs_appended(r#","alg":"HS256""#, ""),
            Malformed,
        ),
        (
            "kid repeated",
            rs_appended(r#","kid":"rsa-2""#, ""),
            Malformed,
        ),
        (
            "sub repeated",
            rs_appended("", r#","sub":"mallory""#),
            Malformed,
        ),
        (
            "sub repeated, once escaped",
            rs_appended("", r#","s\u0075b":"mallory""#),
            Malformed,
        ),
        (
            "unregistered claim repeated",
            rs_appended("", r#","tenant":"a","tenant":"b""#),
            Malformed,
        ),
        ("two parts", format!("{h}.{p}"), Malformed),
        ("four parts", format!("{h}.{p}.{s}.{s}"), Malformed),
        ("one part", "not-a-jwt".to_owned(), Malformed),
        ("empty string", String::new(), Malformed),
        ("bad base64 header", format!("%%%.{p}.{s}"), Malformed),
        ("bad base64 payload", format!("{h}.***.{s}"), Malformed),
        ("bad base64 signature", format!("{h}.{p}.!!!"), Malformed),
        ("padded base64 header", format!("{h}=.{p}.{s}"), Malformed),
        (
            "non-JSON payload",
            format!("{h}.{}.{s}", b64("hello")),
            Malformed,
        ),
        (
            "payload is a JSON array",
            format!("{h}.{}.{s}", b64("[1,2]")),
            Malformed,
        ),
        (
            "header is not JSON",
            format!("{}.{p}.{s}", b64("{alg:RS256")),
            Malformed,
        ),
        (
            "1 MB token",
            format!("{h}.{}.{s}", "A".repeat(1 << 20)),
            TooLarge,
        ),
        ("16 KiB + 1 token", "a".repeat(16 * 1024 + 1), TooLarge),
        // signatures
        (
            "tampered payload",
            format!(
                "{h}.{}.{s}",
                b64(with(good_claims(), |m| {
                    m.insert("sub".into(), json!("mallory"));
                })
                .to_string())
            ),
            InvalidSignature,
        ),
        (
            "truncated signature",
            {
                let mut sig =
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s)
                        .unwrap();
                sig.truncate(sig.len() - 8);
                format!("{h}.{p}.{}", b64(sig))
            },
            InvalidSignature,
        ),
        ("empty signature", format!("{h}.{p}."), InvalidSignature),
        (
            "signed by another key with our kid",
            sign(
                "RS256",
                &k.rsa_other,
                &header("RS256", "rsa-1"),
                &good_claims(),
            ),
            InvalidSignature,
        ),
        (
            "ES256 header on an RSA kid",
            sign("ES256", &k.ec256, &header("ES256", "rsa-1"), &good_claims()),
            InvalidSignature,
        ),
        (
            "RS256 signature labelled PS256",
            unsigned(header("PS256", "rsa-1"), good_claims(), s),
            InvalidSignature,
        ),
        (
            "ES384 signature under the ES256 kid",
            sign(
                "ES384",
                &k.ec384,
                &header("ES256", "ec-256"),
                &good_claims(),
            ),
            InvalidSignature,
        ),
    ]
}

#[tokio::test]
async fn bad_token_corpus_is_refused_with_the_right_kind() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa, &k.ec256, &k.ed])).await;
    let verifier = verifier_with(jwks_cache(&server, JwksCacheConfig::default()));
    let cases = corpus();
    assert!(cases.len() >= 50, "corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for (name, token, want) in &cases {
        match verifier.verify(token).await {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) if e.kind() != *want => {
                failures.push(format!("{name}: {:?} ({e}), wanted {want:?}", e.kind()))
            }
            Err(e) => {
                // The external message is fixed text: it must never echo the token.
                assert!(!e.external_message().contains(token.as_str()) || token.is_empty());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // The control: the untouched token passes, so failures above are the mutations' doing.
    verifier.verify(&good_token()).await.unwrap();
}

#[tokio::test]
async fn escaped_member_names_mean_the_same_claims() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    let verifier = verifier_with(jwks_cache(&server, JwksCacheConfig::default()));
    let now = now();
    let claims = format!(
        r#"{{"\u0069ss":"{ISSUER}","aud":"{AUDIENCE}","s\u0075b":"bob","exp":{},"scope":"splunk:read","gr\u006fups":["g"],"t\u0065nant":"t1"}}"#,
        now + 300
    );
    let header = r#"{"alg":"RS256","typ":"at+jwt","k\u0069d":"rsa-1"}"#;
    let ctx = verifier
        .verify(&sign_text("RS256", &k.rsa, header, &claims))
        .await
        .unwrap();
    assert_eq!(ctx.subject(), "bob");
    assert_eq!(ctx.groups(), ["g"]);
    assert_eq!(ctx.claims().extra.get("tenant"), Some(&json!("t1")));
}

#[tokio::test]
async fn valid_tokens_for_every_algorithm() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa, &k.ec256, &k.ec384, &k.ec521, &k.ed])).await;
    let verifier = verifier_with(jwks_cache(&server, JwksCacheConfig::default()));
    let cases: [(&str, &josekit::jwk::Jwk); 10] = [
        ("RS256", &k.rsa),
        ("RS384", &k.rsa),
        ("RS512", &k.rsa),
        ("PS256", &k.rsa),
        ("PS384", &k.rsa),
        ("PS512", &k.rsa),
        ("ES256", &k.ec256),
        ("ES384", &k.ec384),
        ("ES512", &k.ec521),
        ("EdDSA", &k.ed),
    ];
    for (alg, key) in cases {
        let token = sign(
            alg,
            key,
            &header(alg, key.key_id().unwrap()),
            &good_claims(),
        );
        let ctx = verifier
            .verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(ctx.subject(), "alice");
        assert_eq!(ctx.client_id(), Some("client-1"));
        assert_eq!(ctx.scopes().to_string(), "splunk:read splunk:search");
        assert_eq!(ctx.groups(), ["splunk-users"]);
        assert_eq!(ctx.token().secret(), token);
    }
    assert_eq!(server.fetches(), 1, "one fetch serves every key");
}

#[tokio::test]
async fn hs256_with_an_explicit_shared_secret() {
    let v = JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .shared_secret(HMAC_SECRET.to_vec(), [Algorithm::Hs256])
        .build()
        .unwrap();
    let token = sign_hmac(
        "HS256",
        HMAC_SECRET,
        &json!({"alg": "HS256", "typ": "JWT"}),
        &good_claims(),
    );
    assert_eq!(v.verify(&token).await.unwrap().subject(), "alice");
    let wrong = sign_hmac(
        "HS256",
        b"another-secret-another-secret-another",
        &json!({"alg": "HS256"}),
        &good_claims(),
    );
    assert_eq!(
        v.verify(&wrong).await.unwrap_err().kind(),
        ErrorKind::InvalidSignature
    );
    let hs384 = sign_hmac(
        "HS384",
        HMAC_SECRET,
        &json!({"alg": "HS384"}),
        &good_claims(),
    );
    assert_eq!(
        v.verify(&hs384).await.unwrap_err().kind(),
        ErrorKind::AlgorithmNotAllowed
    );
    let rs = good_token();
    assert_eq!(
        v.verify(&rs).await.unwrap_err().kind(),
        ErrorKind::AlgorithmNotAllowed
    );
}

#[tokio::test]
async fn accepted_variants() {
    let k = keys();
    let server = JwksServer::start(jwks_of(&[&k.rsa])).await;
    let cache = jwks_cache(&server, JwksCacheConfig::default());
    let v = JwtVerifier::builder()
        .issuer("https://other-issuer.example")
        .issuer(ISSUER)
        .audience("urn:splunk")
        .audience(AUDIENCE)
        .jwks(cache)
        .build()
        .unwrap();
    let now = now();
    let variants = [
        (
            "no kid, one key fits",
            sign("RS256", &k.rsa, &json!({"alg": "RS256"}), &good_claims()),
        ),
        (
            "aud array with ours",
            rs_claims(|m| {
                m.insert("aud".into(), json!(["x", AUDIENCE]));
            }),
        ),
        (
            "expired within leeway",
            rs_claims(|m| {
                m.insert("exp".into(), json!(now - 30));
            }),
        ),
        (
            "scp array like Okta",
            rs_claims(|m| {
                m.remove("scope");
                m.insert("scp".into(), json!(["splunk:read"]));
            }),
        ),
        (
            "scp string like Entra",
            rs_claims(|m| {
                m.remove("scope");
                m.insert("scp".into(), json!("splunk:read"));
            }),
        ),
        (
            "typ JWT when not required",
            rs_header(|m| {
                m.insert("typ".into(), json!("JWT"));
            }),
        ),
        (
            "application/at+jwt",
            rs_header(|m| {
                m.insert("typ".into(), json!("application/at+jwt"));
            }),
        ),
    ];
    for (name, token) in variants {
        v.verify(&token)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn builder_refuses_unsafe_configurations() {
    use auth_core::ConfigError;
    let err = JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::MissingKeySource));
    let err = JwtVerifier::builder()
        .audience(AUDIENCE)
        .shared_secret(HMAC_SECRET.to_vec(), [Algorithm::Hs256])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::MissingIssuer));
    let err = JwtVerifier::builder()
        .issuer(ISSUER)
        .shared_secret(HMAC_SECRET.to_vec(), [Algorithm::Hs256])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::MissingAudience));
    let err = JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .shared_secret(b"short".to_vec(), [Algorithm::Hs256])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::WeakSecret { .. }));
    let err = JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .shared_secret(HMAC_SECRET.to_vec(), [Algorithm::Rs256])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::Algorithms(_)));
    let cache = std::sync::Arc::new(
        auth_core::JwksCache::new(
            "https://idp.example/jwks",
            std::sync::Arc::new(http()),
            JwksCacheConfig::default(),
        )
        .unwrap(),
    );
    let err = JwtVerifier::builder()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .jwks(cache)
        .shared_secret(HMAC_SECRET.to_vec(), [Algorithm::Hs256])
        .build()
        .unwrap_err();
    assert!(matches!(err, ConfigError::MixedKeySources));
}
