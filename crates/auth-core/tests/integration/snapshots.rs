//! Golden output: challenge headers and the protected resource metadata document.

use auth_core::{
    AuthError, Challenge, ChallengeConfig, Policy, ProtectedResourceMetadata, ScopeSet,
};

fn config() -> ChallengeConfig {
    ChallengeConfig::new(
        ProtectedResourceMetadata::well_known_url("https://mcp.example/mcp").unwrap(),
        ScopeSet::parse("splunk:read").unwrap(),
    )
}

#[test]
fn challenge_headers() {
    let cfg = config();
    let granted = ScopeSet::parse("splunk:read").unwrap();
    let Some(denial) = (match Policy::require_scopes("splunk:search")
        .unwrap()
        .evaluate_parts(&granted, &[])
    {
        auth_core::Decision::Deny(d) => Some(d),
        auth_core::Decision::Allow => None,
    }) else {
        panic!("expected a denial")
    };
    let cases = [
        ("no_token", Challenge::NoToken),
        (
            "expired",
            Challenge::for_error(&AuthError::Expired {
                exp: 1,
                now: 2,
                leeway: 0,
            }),
        ),
        (
            "bad_signature",
            Challenge::for_error(&AuthError::InvalidSignature("x".into())),
        ),
        (
            "wrong_audience",
            Challenge::for_error(&AuthError::InvalidAudience("x".into())),
        ),
        ("insufficient_scope", denial.challenge(&granted)),
        (
            "token_in_query",
            Challenge::for_error(&AuthError::InvalidRequest("q".into())),
        ),
        (
            "idp_down",
            Challenge::for_error(&AuthError::KeysUnavailable("x".into())),
        ),
    ];
    let rendered: Vec<String> = cases
        .iter()
        .map(|(name, c)| {
            format!(
                "{name}: {} WWW-Authenticate: {}",
                c.status(),
                c.header_value(&cfg)
            )
        })
        .collect();
    insta::assert_snapshot!("challenge_headers", rendered.join("\n"));
}

#[test]
fn protected_resource_metadata_json() {
    let prm = ProtectedResourceMetadata::new(
        "https://mcp.example/mcp",
        ["https://idp.example/realms/splunk"],
    )
    .with_scopes(["splunk:read", "splunk:search", "splunk:admin"])
    .with_name("splunk-mcp");
    insta::assert_json_snapshot!("protected_resource_metadata", prm);
    let round: ProtectedResourceMetadata =
        serde_json::from_value(serde_json::to_value(&prm).unwrap()).unwrap();
    assert_eq!(round, prm);
}
