//! Proxy mode's state lives in its store, not in a process: two replicas behind one public URL
//! share a Redis (a sign-in may hop between them at every step; a refresh token presented again
//! within the reuse grace gets the same answer, and after it reuse is caught, whichever replica
//! sees it), and one process on the embedded redb store keeps clients,
//! grants and signing keys through a `kill -9`.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use e2e_tests::{Browser, World, jwt_claims};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::proxy_steps::{
    Authorization, Balancer, CLIENT_REDIRECT, RedisServer, Replica, approve, assert_accepted,
    assert_invalid_token, consent_page, jwks, oauth_http, redeem, refresh, register, sign_in,
};
use crate::support::{call, connect, proxy_env, proxy_store_path, text, wait_for_audit};

/// The refresh-token reuse grace of the replicas: short, so the tests see both sides of it.
const REUSE_GRACE: Duration = Duration::from_secs(2);

/// The environment of a replica whose public URL is `public_url` (the balancer's), stateless
/// on `/mcp` as load-balanced replicas run.
fn replica_env(world: &World, store: &str, public_url: &str) -> Vec<(&'static str, String)> {
    let mut env = proxy_env(world, store);
    env.extend([
        ("MCP_BASE_URL", public_url.to_owned()),
        ("MCP_STATELESS", "true".to_owned()),
        (
            "MCP_PROXY_REFRESH_REUSE_GRACE",
            REUSE_GRACE.as_secs().to_string(),
        ),
    ]);
    env
}

/// The audit events of `splunk_whoami` calls in a replica's log.
fn whoami_events(log: &str) -> usize {
    crate::support::audit_events(log)
        .iter()
        .filter(|e| e["tool"] == "splunk_whoami")
        .count()
}

/// `aud` names exactly `resource` (a string or a one-element array).
fn audience_is(claims: &Value, resource: &str) -> bool {
    claims["aud"] == json!(resource) || claims["aud"] == json!([resource])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_replicas_share_sign_in_tokens_and_reuse_detection_through_redis() {
    let world = World::start().await;
    let redis = RedisServer::start();
    let lb = Balancer::bind().await;
    let env = replica_env(&world, &redis.url(), &lb.url);
    let (a, b) = tokio::join!(Replica::start(&env), Replica::start(&env));
    let (to_a, to_b) = (lb.add(&a), lb.add(&b));
    let http = oauth_http();
    let mut browser = Browser::new(&http);

    // Every step of the sign-in on the replica the test picks, each asserted to have got
    // exactly that one request: register on B, /authorize on A, consent on B, callback on A.
    let mut expected = [0, 0];
    let mut step_on = |replica: usize| {
        lb.route_to(replica);
        expected[replica] += 1;
        expected
    };
    let expect = step_on(to_b);
    let client_id = register(&http, &lb.url).await;
    assert_eq!(lb.connections(), expect, "registration went to B");

    let authorization = Authorization::new(&lb.url, &client_id, "alice");
    let expect = step_on(to_a);
    let form = consent_page(&mut browser, &authorization).await;
    assert_eq!(lb.connections(), expect, "/authorize went to A");
    assert!(
        form.field("csrf").is_some(),
        "a CSRF field: {:?}",
        form.action
    );

    let expect = step_on(to_b);
    let callback_prefix = format!("{}/auth/callback", lb.url);
    let callback = approve(&mut browser, &form, &callback_prefix).await;
    assert_eq!(lb.connections(), expect, "the consent went to B");

    let expect = step_on(to_a);
    let landing = match browser.visit(callback, CLIENT_REDIRECT).await {
        e2e_tests::Visit::Redirected(landing) => landing,
        e2e_tests::Visit::Page { status, body, .. } => {
            panic!("the IdP's callback on A answered {status}: {body}")
        }
    };
    assert_eq!(lb.connections(), expect, "the callback went to A");
    let code = authorization.code_from(&landing);

    // The code redeemed on B: our token for the public URL's /mcp.
    let expect = step_on(to_b);
    let answer = redeem(&http, &lb.url, &client_id, &authorization, &code).await;
    let (access, refresh_1) = answer.tokens();
    assert_eq!(lb.connections(), expect, "the code redemption went to B");
    assert_eq!(answer.cache_control.as_deref(), Some("no-store"));
    let claims = jwt_claims(&access);
    assert_eq!(claims["iss"], json!(lb.url), "issuer is the public URL");
    assert!(
        audience_is(&claims, &lb.mcp_url()),
        "aud is the public resource: {}",
        claims["aud"]
    );
    assert_eq!(claims["client_id"], json!(client_id));
    assert!(claims["sid"].is_string(), "sid names the grant");

    // A tool call on B: Splunk sees alice (the IdP token the grant holds, fetched from Redis).
    lb.route_to(to_b);
    let before_on_a = lb.connections()[to_a];
    let client = connect(&lb.mcp_url(), &access).await;
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert_eq!(whoami.is_error, Some(false), "{}", text(&whoami));
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    client.cancel().await.expect("close the MCP client");
    wait_for_audit(&b.log, 1, |e| e["tool"] == "splunk_whoami").await;
    assert_eq!(whoami_events(&a.log_text()), 0, "the call was served by B");
    assert_eq!(lb.connections()[to_a], before_on_a, "nothing went to A");

    // Two processes of the client refresh with the same token at the same moment, one through
    // each replica: one rotation, and both get its answer.
    let (on_a, on_b) = tokio::join!(
        refresh(&http, &a.base_url, &client_id, &refresh_1),
        refresh(&http, &b.base_url, &client_id, &refresh_1),
    );
    let (access_2, refresh_2) = on_a.tokens();
    assert_eq!(
        on_b.tokens(),
        (access_2.clone(), refresh_2.clone()),
        "concurrent refreshes on A and B are one rotation"
    );
    assert!(refresh_2 != refresh_1, "the refresh token rotates");
    assert_accepted(&http, &lb.mcp_url(), &access_2, "the refreshed token on A").await;
    lb.route_to(to_b);
    assert_accepted(&http, &lb.mcp_url(), &access_2, "the refreshed token on B").await;

    // The rotated-out token presented on B within the grace (a second process of the client):
    // the answer A gave, kept in the shared store. One chain, whichever replica answers.
    lb.route_to(to_b);
    let again = refresh(&http, &lb.url, &client_id, &refresh_1)
        .await
        .tokens();
    assert_eq!(
        again,
        (access_2.clone(), refresh_2.clone()),
        "B answers what A answered"
    );

    // Past the grace, the rotated-out token replayed on B: refused, and the whole grant is
    // revoked.
    tokio::time::sleep(REUSE_GRACE + Duration::from_millis(300)).await;
    let replay = refresh(&http, &lb.url, &client_id, &refresh_1).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "{}", replay.error());
    assert_eq!(replay.body["error"], "invalid_grant", "{}", replay.error());
    lb.route_to(to_a);
    let after = refresh(&http, &lb.url, &client_id, &refresh_2).await;
    assert_eq!(after.status, StatusCode::BAD_REQUEST, "{}", after.error());
    assert_eq!(after.body["error"], "invalid_grant", "{}", after.error());
    for (replica, name) in [(to_a, "A"), (to_b, "B")] {
        lb.route_to(replica);
        for (token, which) in [(&access, "first"), (&access_2, "refreshed")] {
            assert_invalid_token(
                &http,
                &lb.mcp_url(),
                token,
                &format!("the {which} access token of a revoked grant on {name}"),
            )
            .await;
        }
    }
    for replica in [a, b] {
        let log = replica.log_text();
        for secret in [&access, &access_2, &refresh_1, &refresh_2, &code] {
            assert!(!log.contains(secret.as_str()), "a token in a replica's log");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_restart_after_sigkill_keeps_clients_grants_and_signing_keys() {
    let world = World::start().await;
    let store = proxy_store_path("proxy-restart");
    // The public URL stays put while the process behind it is replaced, so the issuer of the
    // old tokens is the issuer after the restart.
    let lb = Balancer::bind().await;
    let env = replica_env(&world, &store.display().to_string(), &lb.url);
    let first = Replica::start(&env).await;
    let slot = lb.add(&first);
    let http = oauth_http();

    let client_id = register(&http, &lb.url).await;
    let mut browser = Browser::new(&http);
    let (authorization, code) = sign_in(&mut browser, &lb.url, &client_id, "alice").await;
    let (access, refresh_1) = redeem(&http, &lb.url, &client_id, &authorization, &code)
        .await
        .tokens();
    assert_accepted(&http, &lb.mcp_url(), &access, "before the restart").await;
    let jwks_before = jwks(&http, &lb.url).await;

    let status = first.kill9().await;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    let second = Replica::start(&env).await;
    lb.replace(slot, &second);

    // The signing keys came back from the file: the same JWKS, and the old token verifies,
    // its grant and the IdP's token behind it (decrypted from the store) still there.
    assert_eq!(
        jwks(&http, &lb.url).await,
        jwks_before,
        "the same signing keys"
    );
    let client = connect(&lb.mcp_url(), &access).await;
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert_eq!(whoami.is_error, Some(false), "{}", text(&whoami));
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    client.cancel().await.expect("close the MCP client");

    // The registration survived: /authorize with that client shows the consent page (a fresh
    // browser remembers no consent), while an unknown client gets an error page.
    let mut fresh = Browser::new(&http);
    let form = consent_page(
        &mut fresh,
        &Authorization::new(&lb.url, &client_id, "alice"),
    )
    .await;
    assert!(form.field("csrf").is_some(), "consent form after restart");
    let unknown = http
        .get(Authorization::new(&lb.url, "no-such-client", "alice").url)
        .send()
        .await
        .expect("GET /authorize");
    assert!(
        unknown.status().is_client_error() && !unknown.headers().contains_key("location"),
        "an unknown client id: {}",
        unknown.status()
    );

    // The refresh token still refreshes, and once only: within the grace it gives the same
    // answer again, after it the replay is reuse.
    let (access_2, refresh_2) = refresh(&http, &lb.url, &client_id, &refresh_1)
        .await
        .tokens();
    assert_eq!(
        refresh(&http, &lb.url, &client_id, &refresh_1)
            .await
            .tokens(),
        (access_2.clone(), refresh_2),
        "the same answer within the grace"
    );
    tokio::time::sleep(REUSE_GRACE + Duration::from_millis(300)).await;
    assert_accepted(
        &http,
        &lb.mcp_url(),
        &access_2,
        "the token refreshed after restart",
    )
    .await;
    let replay = refresh(&http, &lb.url, &client_id, &refresh_1).await;
    assert_eq!(replay.body["error"], "invalid_grant", "{}", replay.error());
    let _ = std::fs::remove_file(&store);
}
