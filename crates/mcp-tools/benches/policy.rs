//! The authorization policy on the hot path: the decision for a caller whose token is already
//! verified and cached (target ≤ 1 µs), the `tools/list` filter, and the one-off narrowing of
//! a new token by scope rules.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthContext, BearerToken, CachingVerifier, Claims, ClaimsConfig, ScopeRules,
    ScopeRulesVerifier, StaticVerifier, TokenVerifier,
};
use criterion::{Criterion, criterion_main};
use mcp_tools::{PolicyConfig, Rule, ToolRegistry};
use serde_json::{Value, json};

const TOKEN: &str = "bench-token-for-alice";

/// The demo's rules plus a tag rule and a tool rule, so every kind of rule is evaluated.
fn registry() -> ToolRegistry {
    let config = PolicyConfig {
        scope_rules: ScopeRules::parse(
            "splunk:read=analysts,admins;splunk:search=analysts,admins;splunk:admin=admins",
        )
        .expect("valid rules"),
        tags: BTreeMap::from([(
            "admin".to_owned(),
            Rule {
                scopes: None,
                groups: vec!["admins".to_owned()],
            },
        )]),
        tools: BTreeMap::from([(
            "splunk_search".to_owned(),
            Rule {
                scopes: None,
                groups: vec!["analysts".to_owned(), "admins".to_owned()],
            },
        )]),
        ..PolicyConfig::default()
    };
    ToolRegistry::new(&config).expect("valid policy")
}

fn alice_claims() -> Value {
    json!({
        "sub": "alice",
        "scope": "splunk:read splunk:search splunk:admin",
        "groups": ["analysts"],
    })
}

fn benches(c: &mut Criterion) {
    let registry = registry();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");

    // What /mcp verifies: a token from the cache, narrowed once when it was first verified.
    let verifier = StaticVerifier::builder()
        .allow_insecure_static(true)
        .claims_config(ClaimsConfig::default())
        .token(TOKEN, alice_claims())
        .build()
        .expect("a static verifier");
    let narrowed = ScopeRulesVerifier::new(
        Arc::new(verifier),
        Arc::clone(registry.scope_rules()),
        "groups",
    );
    let cached = CachingVerifier::new(Arc::new(narrowed), 1_000, Duration::from_secs(300));
    let caller = rt.block_on(cached.verify(TOKEN)).expect("accepted");
    assert_eq!(caller.withheld_scopes().to_string(), "splunk:admin");

    c.bench_function("policy_decision_allow", |b| {
        b.iter(|| black_box(&registry).evaluate(black_box("splunk_search"), black_box(&caller)))
    });
    c.bench_function("policy_decision_deny_unattainable", |b| {
        b.iter(|| black_box(&registry).evaluate(black_box("splunk_list_users"), black_box(&caller)))
    });
    c.bench_function("policy_cached_token_then_decision", |b| {
        b.iter(|| {
            let caller = rt
                .block_on(cached.verify(black_box(TOKEN)))
                .expect("accepted");
            registry.evaluate("splunk_search", &caller)
        })
    });
    c.bench_function("policy_tools_list_filter_17_tools", |b| {
        b.iter(|| {
            black_box(&registry)
                .allowed_tools(black_box(&caller))
                .count()
        })
    });

    let Value::Object(map) = alice_claims() else {
        unreachable!("an object literal")
    };
    let fresh = AuthContext::new(
        Claims::from_json(map, &ClaimsConfig::default()).expect("valid claims"),
        BearerToken::new(TOKEN),
    )
    .expect("a subject");
    c.bench_function("scope_rules_narrow_new_token", |b| {
        b.iter(|| black_box(&fresh).restricted_by(black_box(registry.scope_rules())))
    });
}

mod group {
    // criterion_group! defines an undocumented public function.
    #![allow(missing_docs)]
    criterion::criterion_group!(policy, super::benches);
}
criterion_main!(group::policy);
