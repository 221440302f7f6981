//! `exchange` credentials on the hot path: a call whose caller's token was already exchanged
//! takes the cached token for Splunk (a SHA-256 of the inbound token and a cache lookup). The
//! first exchange's own cost is the IdP's round trip, measured end to end, not here.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use auth_core::{AuthContext, BearerToken, Claims};
use criterion::{Criterion, criterion_main};
use mcp_tools::{ExchangeCredentials, ExchangeFuture, ExchangedToken, TokenExchange};
use splunk_client::{Client, ClientConfig, Credentials};

/// An IdP that answers at once and counts its exchanges.
#[derive(Debug, Default)]
struct InstantIdp {
    exchanges: AtomicU64,
}

impl TokenExchange for InstantIdp {
    fn exchange<'a>(&'a self, subject_token: &'a str) -> ExchangeFuture<'a> {
        self.exchanges.fetch_add(1, Ordering::Relaxed);
        let token = format!("for-splunk-{}", subject_token.len());
        Box::pin(async move { Ok(ExchangedToken::new(token, Some(Duration::from_secs(3600)))) })
    }
}

fn caller(token: &str) -> AuthContext {
    AuthContext::new(Claims::for_subject("alice"), BearerToken::new(token)).expect("a subject")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let base = Client::new(
        &ClientConfig::new("http://127.0.0.1:9"),
        Credentials::bearer(String::new()),
    )
    .expect("a client");
    let idp = Arc::new(InstantIdp::default());
    let credentials = ExchangeCredentials::new(base, idp.clone());
    // A JWT-sized inbound token, as IdPs issue them.
    let alice = caller(&"a".repeat(900));
    rt.block_on(credentials.token_for(&alice))
        .expect("exchanged");

    c.bench_function("exchange_cached_token_lookup", |b| {
        b.iter(|| rt.block_on(credentials.token_for(black_box(&alice))))
    });
    assert_eq!(
        idp.exchanges.load(Ordering::Relaxed),
        1,
        "every lookup was a hit"
    );
}

mod group {
    // criterion_group! defines an undocumented public function.
    #![allow(missing_docs)]
    criterion::criterion_group!(exchange, super::benches);
}
criterion_main!(group::exchange);
