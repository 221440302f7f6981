//! `service` credentials over stdio, the legacy setup: the rmcp client on the child's
//! stdin/stdout, Splunk reached with admin/changeme through a session key.

use std::process::Stdio;

use e2e_tests::World;
use serde_json::json;

use crate::support::{
    call, command, log_path, read, service_account, splunk_env, text, wait_for_audit,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_mode_over_stdio_searches_and_lists_indexes() {
    let world = World::start().await;
    let mut env = splunk_env(&world);
    env.extend(service_account());
    let log = log_path("splunk-mcp-stdio");
    let mut child = command(&env)
        .args(["serve", "--transport", "stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn splunk-mcp");
    let stdout = child.stdout.take().expect("stdout");
    let stdin = child.stdin.take().expect("stdin");
    let client = rmcp::ServiceExt::serve((), (stdout, stdin))
        .await
        .unwrap_or_else(|e| panic!("initialize over stdio: {e}; log: {}", read(&log)));

    let search = call(
        &client,
        "splunk_search",
        json!({"spl": "index=web | stats count by index", "earliest": "0"}),
    )
    .await;
    assert_eq!(search.is_error, Some(false), "{}", text(&search));
    let structured = search.structured_content.clone().expect("structured");
    assert_eq!(structured["rows"][0]["index"], "web", "{structured}");
    assert!(
        structured["rows"][0]["count"]
            .as_str()
            .and_then(|c| c.parse::<u64>().ok())
            .or_else(|| structured["rows"][0]["count"].as_u64())
            .is_some_and(|c| c > 0),
        "{structured}"
    );

    let indexes = call(&client, "splunk_list_indexes", json!({})).await;
    assert_eq!(indexes.is_error, Some(false), "{}", text(&indexes));
    let names: Vec<&str> = indexes
        .structured_content
        .as_ref()
        .and_then(|s| s["indexes"].as_array())
        .expect("indexes")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    for index in ["main", "web", "security", "firewall"] {
        assert!(names.contains(&index), "{index} in {names:?}");
    }

    // The service account logged in once and used its session key.
    let requests = world.splunk.request_log();
    assert!(
        requests.iter().any(|r| r.path.ends_with("/auth/login")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .filter(|r| r.path.contains("search/jobs") || r.path.contains("data/indexes"))
            .all(|r| r.user.as_deref() == Some("admin")
                && r.auth_scheme.as_deref() == Some("Splunk")),
        "{requests:?}"
    );

    let events = wait_for_audit(&log, 2, |_| true).await;
    let tools: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["tool"].as_str().unwrap_or_default(),
                e["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        tools,
        [("splunk_search", "ok"), ("splunk_list_indexes", "ok")],
        "{events:?}"
    );
    // No caller on stdio: the subject is "-" rather than anyone's name.
    assert!(events.iter().all(|e| e["subject"] == "-"), "{events:?}");
    assert!(
        !read(&log).contains("changeme"),
        "the password leaked into the log"
    );

    client.cancel().await.expect("close stdin");
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("splunk-mcp exits when stdin closes")
        .expect("wait");
    assert!(status.success(), "{status}: {}", read(&log));
}
