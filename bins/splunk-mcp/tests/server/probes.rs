//! Operations endpoints: `/healthz` always, `/readyz` following the IdP and Splunk, `/metrics`
//! counting tool calls.

use e2e_tests::World;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{call, connect, passthrough_server, poll_status, text, token_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let (world, mut server) = passthrough_server(&[]).await;
    let healthz = format!("{}/healthz", server.base_url);
    let readyz = format!("{}/readyz", server.base_url);

    let response = world.http.get(&healthz).send().await.expect("GET /healthz");
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = poll_status(&world.http, &readyz, StatusCode::OK).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "ready with IdP and Splunk up: {body}"
    );

    let alice = token_for(&world, &server, "alice", "openid splunk:read splunk:search").await;
    let client = connect(&server.mcp_url, &alice).await;
    for _ in 0..2 {
        let result = call(&client, "splunk_list_indexes", json!({})).await;
        assert_eq!(result.is_error, Some(false), "{}", text(&result));
    }
    let refused = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web | delete"}),
    )
    .await;
    assert_eq!(refused.is_error, Some(true));
    client.cancel().await.expect("close the session");

    let metrics = world
        .http
        .get(format!("{}/metrics", server.base_url))
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.text().await.expect("metrics text");
    for line in [
        r#"splunk_mcp_tool_calls_total{tool="splunk_list_indexes",outcome="ok"} 2"#,
        r#"splunk_mcp_tool_calls_total{tool="splunk_search",outcome="refused"} 1"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    // Splunk goes away: not ready, yet alive.
    let World { idp, splunk, http } = world;
    splunk.shutdown().await;
    let (status, body) = poll_status(&http, &readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "Splunk is down: {body}"
    );
    let response = http.get(&healthz).send().await.expect("GET /healthz");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(server.is_running());
    drop(idp);
}
