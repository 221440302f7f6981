//! The SPL guard in the running server: writing commands, also inside a subsearch, are refused
//! as tool errors naming the command, and nothing reaches Splunk's search endpoints.

use serde_json::json;

use crate::support::{call, connect, passthrough_server, text, token_for, wait_for_audit};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_searches_name_the_command_and_never_reach_splunk() {
    let (world, server) = passthrough_server(&[]).await;
    let bob = token_for(&world, &server, "bob", "openid splunk:read splunk:search").await;
    let client = connect(&server.mcp_url, &bob).await;
    world.splunk.clear_request_log();

    let cases = [
        ("index=web | delete", "delete"),
        (
            "index=web [search index=x | outputlookup y]",
            "outputlookup",
        ),
        ("index=web | collect index=summary", "collect"),
    ];
    for (spl, command) in cases {
        let result = call(&client, "splunk_search", json!({"spl": spl})).await;
        assert_eq!(result.is_error, Some(true), "{spl}: {}", text(&result));
        let message = text(&result);
        assert!(message.contains(command), "{spl}: {message}");
    }
    let subsearch = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web [search index=x | outputlookup y]"}),
    )
    .await;
    assert!(
        text(&subsearch).contains("subsearch"),
        "{}",
        text(&subsearch)
    );

    let searches: Vec<String> = world
        .splunk
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("search/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(searches.is_empty(), "reached Splunk: {searches:?}");

    let refused = wait_for_audit(&server.log, 4, |e| {
        e["tool"] == "splunk_search" && e["outcome"] == "refused"
    })
    .await;
    assert!(refused.iter().all(|e| e["subject"] == "bob"), "{refused:?}");
    client.cancel().await.expect("close the session");
}
