//! Per-tool scopes: a token without `splunk:search` gets a 403 step-up challenge for
//! `splunk_search`, and `tools/list` shows only the tools the caller may call.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{
    call, challenge_of, connect, initialize_request, passthrough_server, post_mcp, step_up_scopes,
    text, token_for,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_without_its_scope_is_403_with_a_step_up_challenge() {
    let (world, server) = passthrough_server(&[]).await;
    let read_only = token_for(&world, &server, "alice", "openid splunk:read").await;

    // A session opened the way any client does.
    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        Some(&read_only),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().expect("ASCII session id").to_owned());
    let _ = response.text().await;
    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        Some(&read_only),
        session.as_deref(),
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        Some(&read_only),
        session.as_deref(),
        &json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "splunk_search", "arguments": {"spl": "index=web | head 1"}}
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = challenge_of(&response);
    let scopes = step_up_scopes(&challenge);
    // What the tool needs, plus what was already granted, so the client can step up.
    assert!(scopes.contains(&"splunk:search"), "{challenge}");
    assert!(scopes.contains(&"splunk:read"), "{challenge}");
    assert!(
        challenge.contains(&format!(
            r#"resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
            server.base_url
        )),
        "{challenge}"
    );
    // Refused before Splunk was asked anything about a search.
    assert!(
        world
            .splunk
            .request_log()
            .iter()
            .all(|r| !r.path.contains("search/jobs"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_list_shows_only_what_the_token_allows() {
    let (world, server) = passthrough_server(&[]).await;
    let read_only = token_for(&world, &server, "alice", "openid splunk:read").await;
    let client = connect(&server.mcp_url, &read_only).await;
    let tools: Vec<String> = client
        .list_all_tools()
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    for allowed in ["splunk_list_indexes", "splunk_whoami", "splunk_server_info"] {
        assert!(tools.iter().any(|t| t == allowed), "{allowed} in {tools:?}");
    }
    for hidden in ["splunk_search", "splunk_search_start", "splunk_list_users"] {
        assert!(
            !tools.iter().any(|t| t == hidden),
            "{hidden} not in {tools:?}"
        );
    }
    // What is listed works.
    let indexes = call(&client, "splunk_list_indexes", json!({})).await;
    assert_eq!(indexes.is_error, Some(false), "{}", text(&indexes));
    // What is not listed is refused: rmcp turns the 403 challenge into a transport error.
    let refused = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("splunk_search").with_arguments(
                json!({"spl": "index=web"})
                    .as_object()
                    .expect("object")
                    .clone(),
            ),
        )
        .await;
    let error = refused.expect_err("splunk_search without splunk:search is refused");
    assert!(
        error.to_string().contains("Insufficient scope"),
        "rmcp reports the 403 challenge: {error}"
    );
    client.cancel().await.expect("close the session");

    // With every scope, the search tools are listed too.
    let full = token_for(&world, &server, "alice", "openid splunk:read splunk:search").await;
    let client = connect(&server.mcp_url, &full).await;
    let tools = client.list_all_tools().await.expect("tools/list");
    assert!(tools.iter().any(|t| t.name == "splunk_search"));
    assert!(
        !tools.iter().any(|t| t.name == "splunk_list_users"),
        "no splunk:admin"
    );
    client.cancel().await.expect("close the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_scopes_gate_every_request() {
    let (world, server) =
        passthrough_server(&[("MCP_AUTH_REQUIRED_SCOPES", "splunk:read".to_owned())]).await;
    let search_only = token_for(&world, &server, "alice", "openid splunk:search").await;
    let response = post_mcp(
        &world.http,
        &server.mcp_url,
        Some(&search_only),
        None,
        &initialize_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let challenge = challenge_of(&response);
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains("splunk:read"), "{challenge}");

    // With the required scope the same user gets in.
    let both = token_for(&world, &server, "alice", "openid splunk:read splunk:search").await;
    let client = connect(&server.mcp_url, &both).await;
    let whoami = call(&client, "splunk_whoami", json!({})).await;
    assert_eq!(whoami.is_error, Some(false), "{}", text(&whoami));
    client.cancel().await.expect("close the session");
}
