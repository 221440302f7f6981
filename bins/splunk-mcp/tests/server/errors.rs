//! The errors a person sees when something is wrong: Splunk refusing connections, Splunk
//! answering slower than `SPLUNK_TIMEOUT`, arguments that do not fit a tool, and a search over
//! an index the caller cannot see. Each is asserted as the text an MCP client shows.

use serde_json::json;
use splunk_emulator::FaultConfig;

use crate::support::{audit_events, call, connect, passthrough_server, text, token_for};

const READ_SEARCH: &str = "openid splunk:read splunk:search";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splunk_refusing_connections_names_host_port_and_cause() {
    // A port that refuses: bound, then freed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let (world, server) = passthrough_server(&[("SPLUNK_PORT", closed.to_string())]).await;
    let token = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect(&server.mcp_url, &token).await;
    let result = call(&client, "splunk_search", json!({"spl": "index=web"})).await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        text(&result),
        format!(
            "could not reach Splunk at 127.0.0.1:{closed}: connection refused (nothing listens \
             there: is Splunk running, and is this its management port?)"
        )
    );
    client.cancel().await.expect("close");
    let log = server.log_text();
    assert!(
        log.lines()
            .any(|line| line.contains("Splunk is unavailable")
                && line.contains(&format!("127.0.0.1:{closed}"))
                && line.contains("\"level\":\"WARN\"")),
        "a warning naming Splunk's address in the log:\n{log}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splunk_slower_than_the_timeout_is_a_tool_error_before_the_client_gives_up() {
    let (world, server) = passthrough_server(&[("SPLUNK_TIMEOUT", "1".to_owned())]).await;
    let token = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect(&server.mcp_url, &token).await;
    // Frozen from the client's side: the connection is accepted, no answer comes in time.
    world.splunk.set_faults(FaultConfig {
        latency_ms: 3_000,
        ..FaultConfig::default()
    });
    let started = std::time::Instant::now();
    let result = call(&client, "splunk_list_indexes", json!({})).await;
    let waited = started.elapsed();
    world.splunk.set_faults(FaultConfig::default());
    assert_eq!(result.is_error, Some(true));
    let port = world.splunk.local_addr().port();
    assert_eq!(
        text(&result),
        format!("Splunk at 127.0.0.1:{port} did not answer within 1 s (request)")
    );
    assert!(
        waited < std::time::Duration::from_millis(2_900),
        "answered by the server's timeout, not Splunk's late answer: {waited:?}"
    );
    client.cancel().await.expect("close");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_arguments_and_invisible_indexes_are_told_in_plain_words() {
    let (world, server) = passthrough_server(&[]).await;
    let token = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect(&server.mcp_url, &token).await;

    let cases = [
        (
            "splunk_search",
            json!({}),
            "invalid arguments: splunk_search: missing argument `spl` (text): The SPL query, \
             e.g. `index=web status>=500 | stats count by host`",
        ),
        (
            "splunk_search",
            json!({"spl": 5, "max_results": "ten"}),
            "invalid arguments: splunk_search: argument `max_results` must be a whole number; \
             got the text \"ten\"; argument `spl` must be text; got the number 5",
        ),
        (
            "splunk_get_metadata",
            json!({"index": "web", "type": "users"}),
            "invalid arguments: splunk_get_metadata: argument `type` must be one of: hosts, \
             sources, sourcetypes; got the text \"users\"",
        ),
        (
            "splunk_get_index",
            json!({"name": "security"}),
            "no index named `security` is visible to you (it does not exist, or your Splunk \
             roles do not allow it); splunk_list_indexes lists those you can see",
        ),
    ];
    for (tool, args, shown) in cases {
        let result = call(&client, tool, args.clone()).await;
        assert_eq!(result.is_error, Some(true), "{tool} {args}");
        assert_eq!(text(&result), shown, "{tool} {args}");
    }

    // alice's role sees main and web: `security` exists but is not hers, `nope` does not exist.
    let empty = call(
        &client,
        "splunk_search",
        json!({"spl": "index=security OR index=nope OR index=web status=999999", "earliest": "0"}),
    )
    .await;
    assert_eq!(empty.is_error, Some(false), "{}", text(&empty));
    let structured = empty.structured_content.clone().expect("structured");
    assert_eq!(structured["returned"], 0, "{structured}");
    assert_eq!(structured["truncated"], false, "{structured}");
    let note = "No results, and these indexes are not visible to you: `security`, `nope`. They \
                do not exist, or your Splunk roles do not allow searching them. \
                splunk_list_indexes lists the indexes you can search.";
    assert_eq!(structured["notes"], json!([note]), "{structured}");
    assert!(text(&empty).contains(note), "{}", text(&empty));
    // A search that finds nothing in indexes she can see says nothing of the kind.
    let nothing = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web status=999999", "earliest": "0"}),
    )
    .await;
    assert_eq!(
        nothing.structured_content.expect("structured")["notes"],
        json!([])
    );

    client.cancel().await.expect("close");
    // Refused arguments are audited like every call.
    let log = server.log_text();
    let refused = audit_events(&log)
        .into_iter()
        .filter(|event| event["outcome"] == "invalid_arguments")
        .count();
    assert_eq!(refused, 3, "three calls with bad arguments audited:\n{log}");
    server.stop().await;
}
