//! Long searches as tasks (issue 18, item 5: the MCP tasks extension, SEP-2663) through the
//! rmcp client declaring the extension: `splunk_search` and `splunk_run_saved_search` answer
//! with a task whose `tasks/get` gives the same result a plain call gives, audited once; a quick
//! tool, or a call with bad arguments, still answers at once; another user cannot see the task;
//! a user's ninth search at once is answered plainly; `tasks/cancel`, or the server stopping,
//! cancels the Splunk job, which the emulator no longer has within 1 s, and the audit log (and
//! the task) say `cancelled`.

use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities,
    ClientConfig, CreateTaskResult, GetTaskParams, Implementation, TaskPayload, TaskStatus,
};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceError};
use serde_json::{Value, json};

use crate::long_searches::{
    READ_SEARCH, SEARCH, assert_search_cancelled, emulator_jobs, slow_world, wait_for_a_job,
};
use crate::support::{call, connect, connect_with, token_for, wait_for_audit};

/// An MCP client that declares the tasks extension.
#[derive(Clone)]
struct TasksClient;

impl rmcp::ClientHandler for TasksClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::builder().enable_tasks().build(),
            Implementation::new("tasks-test", "1.0.0"),
        )
    }
}

type Client = RunningService<RoleClient, TasksClient>;

/// `tools/call` of `tool` with `args`, as the client sends it: the server may answer with a
/// task.
async fn call_once(client: &Client, tool: &str, args: Value) -> CallToolResponse {
    let Value::Object(args) = args else {
        panic!("tool arguments are an object");
    };
    client
        .call_tool_once(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The task a response is, or a panic.
fn task(response: CallToolResponse) -> CreateTaskResult {
    match response {
        CallToolResponse::Task(created) => created,
        other => panic!("expected a task, got {other:?}"),
    }
}

/// Polls `tasks/get` as the server asks until the task ends (60 s at most); its last state.
async fn wait_for_end(client: &Client, created: &CreateTaskResult) -> TaskPayload {
    let every = Duration::from_millis(created.task.poll_interval_ms.unwrap_or(500));
    let started = Instant::now();
    loop {
        let got = client
            .peer()
            .get_task(GetTaskParams::new(created.task.task_id.clone()))
            .await
            .expect("tasks/get");
        if got.task.status().is_terminal() {
            return got.task.payload;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the task has not ended"
        );
        tokio::time::sleep(every).await;
    }
}

/// The result of a task that completed.
fn completed(end: TaskPayload) -> CallToolResult {
    let TaskPayload::Completed { result } = end else {
        panic!("the task did not complete: {end:?}");
    };
    serde_json::from_value(Value::Object(result)).expect("a tool result")
}

/// The rows of a search result, without its job's sid.
fn rows(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result.structured_content.as_ref().expect("structured")["rows"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_called_as_a_task_answers_through_tasks_get() {
    let (world, server) = slow_world(Duration::from_secs(2)).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect_with(&server.mcp_url, &alice, TasksClient).await;
    let search: Value = serde_json::from_str(SEARCH).expect("JSON");

    let created = task(call_once(&client, "splunk_search", search.clone()).await);
    assert_eq!(created.task.status, TaskStatus::Working, "{created:?}");
    assert_eq!(created.task.poll_interval_ms, Some(500));
    let result = completed(wait_for_end(&client, &created).await);

    // The same answer as a plain call of a client without the extension.
    let plain = connect(&server.mcp_url, &alice).await;
    let direct = call(&plain, "splunk_search", search).await;
    assert_eq!(rows(&result), rows(&direct));
    assert!(
        rows(&result).as_array().is_some_and(|r| !r.is_empty()),
        "{result:?}"
    );
    // Each call audited once, as alice, by the same pipeline.
    let audited = wait_for_audit(&server.log, 2, |e| e["tool"] == "splunk_search").await;
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(
        audited
            .iter()
            .all(|e| e["outcome"] == "ok" && e["subject"] == "alice"),
        "{audited:?}"
    );

    // A saved search is a search too.
    let saved = json!({"name": "Web server errors", "earliest": "0"});
    let created = task(call_once(&client, "splunk_run_saved_search", saved).await);
    let result = completed(wait_for_end(&client, &created).await);
    assert!(
        rows(&result).as_array().is_some_and(|r| !r.is_empty()),
        "{result:?}"
    );

    // A quick tool answers at once, task or not; so does a call its arguments refuse.
    let whoami = call_once(&client, "splunk_whoami", json!({"skip_splunk": true})).await;
    assert!(
        matches!(whoami, CallToolResponse::Complete(_)),
        "{whoami:?}"
    );
    let CallToolResponse::Complete(refused) =
        call_once(&client, "splunk_search", json!({"earliest": "-1h"})).await
    else {
        panic!("a refused call is no task");
    };
    assert_eq!(refused.is_error, Some(true), "{refused:?}");

    // Another user does not see alice's task: it is unknown to him, as one that never was.
    let bob = token_for(&world, &server, "bob", READ_SEARCH).await;
    let intruder = connect_with(&server.mcp_url, &bob, TasksClient).await;
    for attempt in [
        intruder
            .peer()
            .get_task(GetTaskParams::new(created.task.task_id.clone()))
            .await
            .map(drop),
        intruder
            .peer()
            .cancel_task(CancelTaskParams::new(created.task.task_id.clone()))
            .await,
    ] {
        let Err(ServiceError::McpError(error)) = attempt else {
            panic!("bob reached alice's task: {attempt:?}");
        };
        assert_eq!(error.code.0, -32602, "{error:?}");
        assert!(error.message.contains("unknown task"), "{error:?}");
    }
    client.cancel().await.expect("close");
    intruder.cancel().await.expect("close");
    plain.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_task_cancels_its_splunk_job() {
    let (world, server) = slow_world(Duration::from_secs(20)).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect_with(&server.mcp_url, &alice, TasksClient).await;
    let search: Value = serde_json::from_str(SEARCH).expect("JSON");

    let created = task(call_once(&client, "splunk_search", search).await);
    wait_for_a_job(&world).await;

    client
        .peer()
        .cancel_task(CancelTaskParams::new(created.task.task_id.clone()))
        .await
        .expect("tasks/cancel is acknowledged");
    let cancelled = Instant::now();
    assert!(
        matches!(
            wait_for_end(&client, &created).await,
            TaskPayload::Cancelled
        ),
        "the task ends cancelled"
    );
    assert_search_cancelled(&world, &server, cancelled, "the task was cancelled").await;
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_runs_at_most_eight_search_tasks_at_once() {
    let (world, server) = slow_world(Duration::from_secs(3)).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect_with(&server.mcp_url, &alice, TasksClient).await;
    let search: Value = serde_json::from_str(SEARCH).expect("JSON");
    let mut created = Vec::new();
    for _ in 0..8 {
        created.push(task(
            call_once(&client, "splunk_search", search.clone()).await,
        ));
    }
    // The ninth is answered plainly, once its search is done.
    let ninth = call_once(&client, "splunk_search", search.clone()).await;
    let CallToolResponse::Complete(plain) = ninth else {
        panic!("the ninth search at once is no task: {ninth:?}");
    };
    assert!(rows(&plain).as_array().is_some_and(|r| !r.is_empty()));
    for created in &created {
        completed(wait_for_end(&client, created).await);
    }
    // Ended, they count no more.
    task(call_once(&client, "splunk_search", search).await);
    client.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_cancels_the_search_tasks_still_running() {
    let (world, server) = slow_world(Duration::from_secs(30)).await;
    let alice = token_for(&world, &server, "alice", READ_SEARCH).await;
    let client = connect_with(&server.mcp_url, &alice, TasksClient).await;
    let search: Value = serde_json::from_str(SEARCH).expect("JSON");
    task(call_once(&client, "splunk_search", search).await);
    // The client has what it needs (a task id) and leaves; the search runs on in the server.
    client.cancel().await.expect("close");
    wait_for_a_job(&world).await;
    assert_eq!(emulator_jobs(&world).await.len(), 1, "the task's job runs");

    let log = server.log.clone();
    let status = server.terminate().await;
    assert!(status.success(), "{status}");
    let audited = wait_for_audit(&log, 1, |e| e["tool"] == "splunk_search").await;
    assert_eq!(audited[0]["outcome"], "cancelled", "{audited:?}");
    assert_eq!(
        emulator_jobs(&world).await.len(),
        0,
        "the job was cancelled before the server stopped"
    );
}
