//! Audit events: one per call, at target `audit`, with the caller and outcome and no token.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use mcp_tools::ToolsConfig;
use serde_json::{Value, json};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::support::{World, call, caller, connect};

/// Every audit line written by any test of this binary, as JSON.
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(EnvFilter::new("audit=info"))
            .with_writer(Capture(Arc::clone(&lines)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        lines
    })
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The audit events of `subject`.
fn events_of(subject: &str) -> Vec<Value> {
    let bytes = captured().lock().unwrap().clone();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["subject"] == subject)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_audited_without_the_token() {
    captured();
    let world = World::start().await;
    let secret = "very-secret-token-value";
    let server = world
        .service_server(ToolsConfig::default())
        .with_caller(Some(caller("auditee", "splunk:search", secret)));
    let client = connect(server).await;
    call(
        &client,
        "splunk_search",
        json!({"spl": "| makeresults count=2"}),
    )
    .await;
    call(
        &client,
        "splunk_search",
        json!({"spl": "index=web | delete"}),
    )
    .await;
    call(&client, "splunk_list_indexes", json!({})).await;

    let events = events_of("auditee");
    assert_eq!(events.len(), 3, "{events:#?}");
    let ok = &events[0];
    assert_eq!(ok["target"], "audit");
    assert_eq!(ok["tool"], "splunk_search");
    assert_eq!(ok["client_id"], "test-client");
    assert_eq!(ok["spl"], "| makeresults count=2");
    assert_eq!(ok["outcome"], "ok");
    assert!(ok["sid"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(ok["args_digest"].as_str().unwrap().len(), 64);
    assert!(ok["duration_ms"].is_u64());
    assert!(ok["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(events[1]["outcome"], "refused");
    assert_eq!(events[1]["spl"], "index=web | delete");
    assert_eq!(events[2]["outcome"], "denied");
    let all = String::from_utf8(captured().lock().unwrap().clone()).unwrap();
    assert!(!all.contains(secret), "a token reached the audit log");
}

/// Remembers every event it is told of.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<mcp_tools::AuditEvent>>);

impl mcp_tools::CallObserver for Recorder {
    fn on_call(&self, event: &mcp_tools::AuditEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_sees_every_call_event() {
    let world = World::start().await;
    let recorder = Arc::new(Recorder::default());
    let server = world
        .service_server(ToolsConfig::default())
        .with_observer(recorder.clone())
        .with_caller(Some(caller("observed", "splunk:search", "t")));
    let client = connect(server).await;
    call(
        &client,
        "splunk_search",
        json!({"spl": "| makeresults count=2"}),
    )
    .await;
    call(
        &client,
        "splunk_search",
        json!({"spl": "index=web | delete"}),
    )
    .await;
    call(&client, "splunk_list_users", json!({})).await;

    let events = recorder.0.lock().unwrap().clone();
    let seen: Vec<(&str, mcp_tools::Outcome)> = events
        .iter()
        .map(|e| (e.tool.as_str(), e.outcome))
        .collect();
    assert_eq!(
        seen,
        [
            ("splunk_search", mcp_tools::Outcome::Ok),
            ("splunk_search", mcp_tools::Outcome::Refused),
            ("splunk_list_users", mcp_tools::Outcome::Denied),
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.subject.as_deref() == Some("observed"))
    );
    assert!(events[0].sid.is_some());
}
