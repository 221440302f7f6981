//! Fuzzes what an attacker controls first: the token string. Structural parsing, claim
//! extraction and a whole HS256 verification must never panic, and anything accepted by the
//! parser must respect the size limit.
#![no_main]

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use auth_core::{
    Algorithm, Claims, ClaimsConfig, JwtVerifier, MAX_TOKEN_LEN, ScopeSet, looks_like_jwt,
    parse_unverified,
};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static JwtVerifier {
    static V: OnceLock<JwtVerifier> = OnceLock::new();
    V.get_or_init(|| {
        JwtVerifier::builder()
            .issuer("https://idp.example")
            .audience("https://mcp.example/mcp")
            .shared_secret(vec![7u8; 64], [Algorithm::Hs256])
            .build()
            .expect("valid configuration")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let _ = looks_like_jwt(token);
    let _ = ScopeSet::parse(token);
    if let Ok(parsed) = parse_unverified(token) {
        assert!(token.len() <= MAX_TOKEN_LEN);
        assert!(parsed.signing_input.len() < token.len());
        let _ = Claims::from_json(
            parsed.payload,
            &ClaimsConfig::with_groups_claim("realm_access.roles"),
        );
    }
    // A shared-secret verifier never waits on I/O, so one poll completes the future.
    let mut fut = std::pin::pin!(verifier().verify_at(token, 1_700_000_000));
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(result) => {
            if let Err(e) = result {
                let _ = (e.kind(), e.external_message(), e.internal_detail());
            }
        }
        Poll::Pending => panic!("HS256 verification must not suspend"),
    }
});
