//! Long searches (issue 18, items 4 and 5) through the official TypeScript SDK client: a call
//! with a progress token gets `notifications/progress` from the Splunk job's progress, at a
//! bounded rate; a call the user stops (the SDK's abort, which sends `notifications/cancelled`
//! and closes the stream) cancels the Splunk job, which the emulator no longer has within 1 s,
//! and the audit log says `cancelled`.

use std::time::{Duration, Instant};

use e2e_tests::World;
use reqwest::StatusCode;
use serde_json::Value;
use splunk_emulator::EmulatorConfig;

use crate::support::{Server, passthrough_env, token_for, ts_client, wait_for_audit};

/// Read and search, asked of the IdP.
pub(crate) const READ_SEARCH: &str = "openid splunk:read splunk:search";

/// A search over the sample data, as the tests run it.
pub(crate) const SEARCH: &str = r#"{"spl":"index=web | stats count by status"}"#;

/// A world whose emulator runs every job for at least `run`, and a passthrough server.
pub(crate) async fn slow_world(run: Duration) -> (World, Server) {
    let emulator = EmulatorConfig {
        job_min_run_ms: u64::try_from(run.as_millis()).unwrap_or(u64::MAX),
        ..EmulatorConfig::default()
    };
    let world = World::start_with(&["--extra-audience", "splunk"], emulator).await;
    let server = Server::start(&passthrough_env(&world)).await;
    (world, server)
}

/// The jobs the emulator has, as its admin lists them.
pub(crate) async fn emulator_jobs(world: &World) -> Vec<Value> {
    let listed: Value = world
        .http
        .get(format!("{}/services/search/jobs", world.splunk.url()))
        .basic_auth("admin", Some("changeme"))
        .query(&[("output_mode", "json"), ("count", "0")])
        .send()
        .await
        .expect("ask the emulator for its jobs")
        .json()
        .await
        .expect("JSON");
    listed["entry"].as_array().cloned().unwrap_or_default()
}

/// Waits until the emulator has at least one job, failing after 5 s.
pub(crate) async fn wait_for_a_job(world: &World) {
    for _ in 0..100 {
        if !emulator_jobs(world).await.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no Splunk job was started");
}

/// Checks that `server` audited its one `splunk_search` as `cancelled` and waits until the
/// emulator no longer has that search's job, failing if it is still there 1 s after `since`
/// (when `what` happened).
pub(crate) async fn assert_search_cancelled(
    world: &World,
    server: &Server,
    since: Instant,
    what: &str,
) {
    let audited = wait_for_audit(&server.log, 1, |e| e["tool"] == "splunk_search").await;
    assert_eq!(audited[0]["outcome"], "cancelled", "{audited:?}");
    let sid = audited[0]["sid"].as_str().expect("the job's sid");
    let job_url = format!("{}/services/search/jobs/{sid}", world.splunk.url());
    loop {
        let status = world
            .http
            .get(&job_url)
            .basic_auth("admin", Some("changeme"))
            .query(&[("output_mode", "json")])
            .send()
            .await
            .expect("ask the emulator for the job")
            .status();
        if status == StatusCode::NOT_FOUND {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1),
            "the job {sid} is still there ({status}) 1 s after {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_search_reports_its_progress_to_a_client_that_asks() {
    let (world, server) = slow_world(Duration::from_secs(3)).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;

    let run = ts_client(
        &server.mcp_url,
        Some(&alice),
        &["--progress", "call", "splunk_search", SEARCH],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let printed: Value = serde_json::from_str(run.stdout.trim()).expect("one JSON line");
    assert_ne!(printed["result"]["isError"], true, "{printed}");
    let progress = printed["progress"].as_array().expect("progress updates");
    // A 3 s job polled with growing pauses, reported at most every 250 ms.
    assert!(
        (2..=14).contains(&progress.len()),
        "{} updates: {progress:?}",
        progress.len()
    );
    let values: Vec<f64> = progress
        .iter()
        .map(|p| p["progress"].as_f64().expect("a number"))
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] < w[1]),
        "progress goes up: {values:?}"
    );
    assert!(
        values.iter().all(|v| (0.0..=100.0).contains(v)),
        "{values:?}"
    );
    assert!(progress.iter().all(|p| p["total"] == 100.0), "{progress:?}");

    // Without a progress token, nothing is sent.
    let run = ts_client(
        &server.mcp_url,
        Some(&alice),
        &["call", "splunk_search", SEARCH],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_call_cancels_its_splunk_job() {
    let (world, server) = slow_world(Duration::from_secs(20)).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;

    let run = ts_client(
        &server.mcp_url,
        Some(&alice),
        &["--cancel-after", "1500", "call", "splunk_search", SEARCH],
    )
    .await;
    let stopped = Instant::now();
    assert!(run.success, "{}", run.stderr);
    assert!(run.stdout.contains(r#""cancelled":true"#), "{}", run.stdout);

    // The server cancels the job: the emulator no longer has it within 1 s.
    assert_search_cancelled(&world, &server, stopped, "the client stopped").await;
}
