//! The resource-server face of HTTP mode: the 401 challenge without a token or with a bad one,
//! and RFC 9728 protected resource metadata at both well-known paths.

use reqwest::StatusCode;
use serde_json::{Value, json};

use e2e_tests::{MCP_RESOURCE, SignIn, jwt_claims};

use crate::support::{challenge_of, initialize_request, passthrough_server, post_mcp, token_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_gets_the_bearer_challenge_naming_the_metadata() {
    let (world, server) = passthrough_server(&[]).await;
    let prm = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.base_url
    );

    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        None,
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&response);
    // No `error` attribute without a token (RFC 6750 §3.1); the scopes this server knows.
    assert_eq!(
        challenge,
        format!(
            r#"Bearer scope="splunk:admin splunk:read splunk:search", resource_metadata="{prm}""#
        )
    );

    // A token that is not a JWT of the IdP: invalid_token, still pointing at the metadata.
    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        Some("not-a-real-token"),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&response);
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{prm}""#)),
        "{challenge}"
    );
    assert!(!server.log_text().contains("not-a-real-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_resource_metadata_names_the_idp_at_both_paths() {
    let (world, server) = passthrough_server(&[]).await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let response = world
            .http
            .get(format!("{}{path}", server.base_url))
            .send()
            .await
            .expect("GET metadata");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let doc: Value = response.json().await.expect("metadata JSON");
        assert_eq!(doc["resource"], server.mcp_url.as_str(), "{path}: {doc}");
        assert_eq!(
            doc["authorization_servers"],
            json!([world.idp.issuer]),
            "{path}: {doc}"
        );
        let scopes = doc["scopes_supported"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: scopes_supported in {doc}"));
        for scope in ["splunk:read", "splunk:search", "splunk:admin"] {
            assert!(scopes.contains(&json!(scope)), "{path}: {scope} in {doc}");
        }
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_resource_is_refused() {
    let (world, server) = passthrough_server(&[]).await;
    // A valid IdP token, but issued for another MCP server's resource (and Splunk).
    let elsewhere = world
        .idp
        .access_token(&world.http, &SignIn::new("alice"))
        .await;
    assert_eq!(
        jwt_claims(&elsewhere)["aud"],
        json!([MCP_RESOURCE, "splunk"])
    );
    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        Some(&elsewhere),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&response);
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(!server.log_text().contains(&elsewhere));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_bound_to_the_user_who_opened_it() {
    let (world, server) = passthrough_server(&[]).await;
    let scopes = "openid splunk:read splunk:search";
    let alice = token_for(&world, &server, "alice", scopes).await;
    let bob = token_for(&world, &server, "bob", scopes).await;

    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        Some(&alice),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .expect("ASCII session id")
        .to_owned();

    // bob, with a valid token of his own, cannot use alice's session.
    let response = world
        .http
        .post(&server.mcp_url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header("mcp-session-id", &session)
        .bearer_auth(&bob)
        .json(&json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "splunk_whoami", "arguments": {}}
        }))
        .send()
        .await
        .expect("tools/call");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert!(
        status.is_client_error(),
        "bob used alice's session: {status} {body}"
    );
    assert!(!body.contains("alice"), "{body}");
}
