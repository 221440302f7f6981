//! `jwt` + `passthrough`: each user's own IdP token reaches Splunk, so Splunk's roles decide
//! what a search sees. Through the rmcp client and the TypeScript SDK client; audited, and no
//! token in the log.

use e2e_tests::{PUBLIC, SignIn};
use serde_json::{Value, json};

use crate::support::{
    call, connect, count_by_index, indexes_in, passthrough_server, text, token_for, ts_client,
    wait_for_audit,
};

const SCOPES: &str = "openid splunk:read splunk:search";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_and_bob_search_as_themselves_through_the_rmcp_client() {
    let (world, server) = passthrough_server(&[]).await;
    let alice = token_for(&world, &server, "alice", SCOPES).await;
    let bob = token_for(&world, &server, "bob", SCOPES).await;

    let client = connect(&server.mcp_url, &alice).await;
    let result = call(&client, "splunk_search", count_by_index()).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let seen = indexes_in(result.structured_content.as_ref().expect("structured"));
    assert_eq!(seen, ["main", "web"], "alice is a web_analyst");
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert!(text(&whoami).contains("alice"), "{}", text(&whoami));
    client.cancel().await.expect("close alice's session");

    let client = connect(&server.mcp_url, &bob).await;
    let result = call(&client, "splunk_search", count_by_index()).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let seen = indexes_in(result.structured_content.as_ref().expect("structured"));
    for index in ["firewall", "main", "security", "web"] {
        assert!(
            seen.iter().any(|i| i == index),
            "bob sees {index}: {seen:?}"
        );
    }
    client.cancel().await.expect("close bob's session");

    // Splunk saw each user's own bearer token, not a service account.
    let log = world.splunk.request_log();
    let searchers: Vec<(Option<&str>, Option<&str>)> = log
        .iter()
        .filter(|r| r.path.contains("search/jobs"))
        .map(|r| (r.user.as_deref(), r.auth_scheme.as_deref()))
        .collect();
    assert!(
        searchers.contains(&(Some("alice"), Some("Bearer"))),
        "{searchers:?}"
    );
    assert!(
        searchers.contains(&(Some("bob"), Some("Bearer"))),
        "{searchers:?}"
    );
    assert!(
        searchers
            .iter()
            .all(|(_, scheme)| *scheme == Some("Bearer")),
        "{searchers:?}"
    );

    // One audit event per call, with subject, tool and outcome; no token anywhere in the log.
    let events = wait_for_audit(&server.log, 3, |_| true).await;
    let summary: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap_or_default().to_owned(),
                e["tool"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("alice", "splunk_search", "ok"),
        ("alice", "splunk_whoami", "ok"),
        ("bob", "splunk_search", "ok"),
    ] {
        assert!(
            summary
                .iter()
                .any(|(s, t, o)| (s.as_str(), t.as_str(), o.as_str()) == expected),
            "{expected:?} in {summary:?}"
        );
    }
    assert_eq!(summary.len(), 3, "{summary:?}");
    for event in &events {
        assert_eq!(event["client_id"], "test-public", "{event}");
        assert!(
            event["args_digest"]
                .as_str()
                .is_some_and(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit())),
            "{event}"
        );
    }
    let log = server.log_text();
    for token in [&alice, &bob] {
        assert!(!log.contains(token.as_str()), "a token leaked into the log");
        // Nor its signature alone (the part that makes it usable).
        let signature = token.rsplit('.').next().expect("JWT signature");
        assert!(
            !log.contains(signature),
            "a token signature leaked into the log"
        );
    }
}

/// The structured result of a `call` printed by the TypeScript client.
fn structured(printed: &Value) -> &Value {
    if printed["structuredContent"].is_object() {
        &printed["structuredContent"]
    } else {
        &printed["result"]["structuredContent"]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_sdk_client_sees_what_the_users_roles_allow() {
    let (world, server) = passthrough_server(&[]).await;
    let alice = token_for(&world, &server, "alice", SCOPES).await;
    let bob = token_for(&world, &server, "bob", SCOPES).await;

    let listed = ts_client(&server.mcp_url, Some(&alice), &["list"]).await;
    assert!(listed.success, "list: {}", listed.stderr);
    assert!(listed.stdout.contains("splunk_search"), "{}", listed.stdout);

    let spl = count_by_index().to_string();
    let mut seen = Vec::new();
    for token in [&alice, &bob] {
        let run = ts_client(
            &server.mcp_url,
            Some(token),
            &["call", "splunk_search", &spl],
        )
        .await;
        assert!(run.success, "call: {}", run.stderr);
        let printed: Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("JSON on stdout ({e}): {}", run.stdout));
        assert_ne!(printed["isError"], true, "{printed}");
        seen.push(indexes_in(structured(&printed)));
    }
    assert_eq!(seen[0], ["main", "web"]);
    for index in ["firewall", "security"] {
        assert!(
            seen[1].iter().any(|i| i == index),
            "bob sees {index}: {:?}",
            seen[1]
        );
    }

    // Without a token the SDK client reports the server's 401.
    let refused = ts_client(&server.mcp_url, None, &["list"]).await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);

    // Without splunk:search the SDK client sees the 403 step-up challenge.
    let read_only = token_for(&world, &server, "alice", "openid splunk:read").await;
    let refused = ts_client(
        &server.mcp_url,
        Some(&read_only),
        &["call", "splunk_search", &spl],
    )
    .await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused.stderr.starts_with("error: HTTP 403"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains(r#"error="insufficient_scope""#),
        "{}",
        refused.stderr
    );

    wait_for_audit(&server.log, 2, |e| e["tool"] == "splunk_search").await;
    assert!(!server.log_text().contains(alice.as_str()));
    assert!(!server.log_text().contains(bob.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_token_works_like_the_first() {
    let (world, server) = passthrough_server(&[]).await;
    let tokens = world
        .idp
        .sign_in(
            &world.http,
            &SignIn::new("alice").for_resource(&server.mcp_url),
        )
        .await;
    let refresh_token = tokens["refresh_token"].as_str().expect("refresh token");
    let (status, refreshed) = world
        .idp
        .refresh(&world.http, PUBLIC, refresh_token, Some(&server.mcp_url))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{refreshed}");
    let access = refreshed["access_token"].as_str().expect("access token");
    assert_ne!(Some(access), tokens["access_token"].as_str());

    let client = connect(&server.mcp_url, access).await;
    let result = call(&client, "splunk_search", count_by_index()).await;
    assert_eq!(result.is_error, Some(false), "{}", text(&result));
    let seen = indexes_in(result.structured_content.as_ref().expect("structured"));
    assert_eq!(seen, ["main", "web"]);
    client.cancel().await.expect("close the session");
}
