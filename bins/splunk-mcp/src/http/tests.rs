//! The HTTP side over real HTTP: the router on a loopback port, static tokens, the tools
//! against an in-process Splunk emulator, and JSON-RPC sent by hand as an MCP client would.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{ChallengeConfig, ProtectedResourceMetadata, ScopeSet, StaticVerifier};
use mcp_tools::{ServiceCredentials, SplunkTools, ToolRegistry, ToolsConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use splunk_client::{Client, ClientConfig, Credentials};
use splunk_emulator::{Emulator, EmulatorConfig, RunningEmulator};

use super::*;

const PROTOCOL: &str = "2025-06-18";

/// A running router and what the tests need to talk to it.
struct World {
    base: String,
    http: reqwest::Client,
    _emulator: RunningEmulator,
}

/// How to build the router under test.
struct Setup {
    auth: bool,
    stateless: bool,
    readiness: Vec<Arc<dyn ReadyCheck>>,
    caller_check: Option<CallerCheck>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            auth: true,
            stateless: false,
            readiness: Vec::new(),
            caller_check: None,
        }
    }
}

fn verifier() -> StaticVerifier {
    StaticVerifier::builder()
        .allow_insecure_static(true)
        .token(
            "reader-token",
            json!({"sub": "alice", "scope": "splunk:read"}),
        )
        .token(
            "searcher-token",
            json!({"sub": "alice", "scope": "splunk:read splunk:search"}),
        )
        .token(
            "mallory-token",
            json!({"sub": "mallory", "scope": "splunk:read splunk:search"}),
        )
        .token(
            "blocked-token",
            json!({"sub": "blocked", "scope": "splunk:read splunk:search"}),
        )
        .build()
        .expect("static verifier builds")
}

impl World {
    async fn start(setup: Setup) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let metrics = Metrics::new();
        let emulator = Emulator::start(EmulatorConfig {
            bench_events: 1_000,
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator starts");
        let splunk_config =
            ClientConfig::new(emulator.url()).with_observer(Arc::new(metrics.clone()));
        let splunk = Client::new(&splunk_config, Credentials::session("admin", "changeme"))
            .expect("splunk client builds");
        let tools = SplunkTools::new(
            ToolsConfig::default(),
            Arc::new(ServiceCredentials::new(splunk)),
            ToolRegistry::default(),
        )
        .with_observer(Arc::new(metrics.clone()));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let auth = setup.auth.then(|| HttpAuth {
            verifier: Arc::new(verifier()),
            metadata: ProtectedResourceMetadata::new(
                format!("{base}/mcp"),
                ["https://idp.example"],
            )
            .with_scopes(["splunk:read", "splunk:search"]),
            challenge: ChallengeConfig::new(
                format!("{base}{PRM_MCP_PATH}"),
                ScopeSet::parse("splunk:read").expect("scopes"),
            ),
            required: None,
            caller_check: setup.caller_check,
        });
        let app = router(HttpOptions {
            tools,
            auth,
            stateless: setup.stateless,
            allowed_hosts: vec!["127.0.0.1".to_owned(), "localhost".to_owned()],
            metrics,
            readiness: setup.readiness,
            authorization_server: None,
            trusted_proxies: TrustedProxies::default(),
        });
        tokio::spawn(serve(listener, app, std::future::pending()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        Self {
            base,
            http,
            _emulator: emulator,
        }
    }

    /// POSTs one JSON-RPC message to `/mcp`.
    async fn post(&self, token: Option<&str>, session: Option<&str>, body: &Value) -> Reply {
        let mut request = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if body["method"] != "initialize" {
            request = request.header("mcp-protocol-version", PROTOCOL);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        Reply::from(request.send().await.expect("request sent")).await
    }

    /// Initializes a session (or, stateless, just the handshake) and acknowledges it.
    async fn initialize(&self, token: &str) -> Option<String> {
        let reply = self
            .post(
                Some(token),
                None,
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "http-tests", "version": "0"}
                }}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply.message(1)["result"]["serverInfo"]["name"],
            "splunk-mcp",
            "{}",
            reply.body
        );
        let session = reply.header("mcp-session-id");
        let ack = self
            .post(
                Some(token),
                session.as_deref(),
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(ack.status, StatusCode::ACCEPTED, "{}", ack.body);
        session
    }

    async fn get(&self, path: &str) -> Reply {
        Reply::from(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    async fn metrics(&self) -> String {
        let reply = self.get("/metrics").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(
            reply
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/openmetrics-text")),
            "{:?}",
            reply.headers
        );
        reply.body
    }
}

fn tools_call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

/// A response read whole.
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body read");
        Self {
            status,
            headers,
            body,
        }
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The JSON-RPC message answering request `id`, from a JSON or an SSE body.
    fn message(&self, id: u64) -> Value {
        let candidates: Vec<Value> = if self.body.trim_start().starts_with('{') {
            vec![self.json()]
        } else {
            self.body
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter_map(|data| serde_json::from_str(data.trim()).ok())
                .collect()
        };
        candidates
            .into_iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to request {id} in: {}", self.body))
    }
}

fn metric_value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_bad_tokens_get_the_rfc_6750_challenge() {
    let world = World::start(Setup::default()).await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});

    let reply = world.post(None, None, &ping).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header("www-authenticate").as_deref(),
        Some(
            format!(
                r#"Bearer scope="splunk:read", resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
                world.base
            )
            .as_str()
        )
    );

    let reply = world.post(Some("not-a-token"), None, &ping).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let challenge = reply.header("www-authenticate").expect("challenge");
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token""#),
        "{challenge}"
    );
    assert!(!challenge.contains("not-a-token"), "{challenge}");

    // Other routes stay unauthenticated, unknown ones 404 rather than 401.
    let health = world.get("/healthz").await;
    assert_eq!(
        (health.status, health.body.as_str()),
        (StatusCode::OK, "ok")
    );
    assert_eq!(world.get("/nope").await.status, StatusCode::NOT_FOUND);

    let metrics = world.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            r#"splunk_mcp_auth_failures_total{reason="missing_token"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            r#"splunk_mcp_auth_failures_total{reason="invalid_token"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_is_served_at_both_paths_only_with_auth() {
    let world = World::start(Setup::default()).await;
    for path in [PRM_ROOT_PATH, PRM_MCP_PATH] {
        let reply = world.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let doc = reply.json();
        assert_eq!(doc["resource"], format!("{}/mcp", world.base), "{path}");
        assert_eq!(doc["authorization_servers"], json!(["https://idp.example"]));
        assert_eq!(
            doc["scopes_supported"],
            json!(["splunk:read", "splunk:search"])
        );
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(
            reply.header("access-control-allow-origin").as_deref(),
            Some("*")
        );
        assert!(
            reply
                .header("cache-control")
                .is_some_and(|c| c.contains("max-age")),
            "{path}"
        );
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/json"))
        );
    }
    let preflight = world
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{PRM_MCP_PATH}", world.base),
        )
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        reqwest::header::HeaderValue::from_static("*")
    );

    let open = World::start(Setup {
        auth: false,
        ..Setup::default()
    })
    .await;
    for path in [PRM_ROOT_PATH, PRM_MCP_PATH] {
        assert_eq!(open.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_call_without_the_scope_is_403_with_a_step_up_challenge() {
    let world = World::start(Setup::default()).await;
    let session = world.initialize("reader-token").await;
    assert!(session.is_some(), "stateful mode opens a session");

    let reply = world
        .post(
            Some("reader-token"),
            session.as_deref(),
            &tools_call(2, "splunk_search", json!({"spl": "index=web"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    let challenge = reply.header("www-authenticate").expect("challenge");
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(r#"scope="splunk:read splunk:search""#),
        "needed plus granted: {challenge}"
    );
    assert!(
        challenge.contains(&format!(
            r#"resource_metadata="{}{PRM_MCP_PATH}""#,
            world.base
        )),
        "{challenge}"
    );
    let body = reply.json();
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(body["tool"], "splunk_search");
    assert_eq!(body["missing_scopes"], json!(["splunk:search"]));

    // A batch holding the same call is refused too.
    let batch = json!([tools_call(3, "splunk_search", json!({"spl": "index=web"}))]);
    let reply = world
        .post(Some("reader-token"), session.as_deref(), &batch)
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);

    // What the token allows still goes through, in the same session; unknown tools reach rmcp.
    let reply = world
        .post(
            Some("reader-token"),
            session.as_deref(),
            &tools_call(4, "splunk_list_indexes", json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.message(4)["result"]["isError"],
        false,
        "{}",
        reply.body
    );
    let reply = world
        .post(
            Some("reader-token"),
            session.as_deref(),
            &tools_call(5, "splunk_no_such_tool", json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let answer = reply.message(5);
    assert!(
        answer.get("error").is_some() || answer["result"]["isError"] == true,
        "{answer}"
    );

    let metrics = world.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            r#"splunk_mcp_auth_failures_total{reason="insufficient_scope"}"#
        ),
        Some(2.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_calls_reach_the_tool_and_are_counted() {
    let world = World::start(Setup::default()).await;
    let session = world.initialize("searcher-token").await;
    let reply = world
        .post(
            Some("searcher-token"),
            session.as_deref(),
            &tools_call(
                2,
                "splunk_search",
                json!({"spl": "index=web | stats count by status"}),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let result = &reply.message(2)["result"];
    assert_eq!(result["isError"], false, "{result}");
    assert!(
        result["structuredContent"]["rows"]
            .as_array()
            .is_some_and(|rows| !rows.is_empty()),
        "{result}"
    );

    let reply = world
        .post(
            Some("searcher-token"),
            session.as_deref(),
            &tools_call(3, "splunk_whoami", json!({})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.message(3)["result"].to_string().contains("alice"),
        "the tool saw the caller from the token: {}",
        reply.body
    );

    let metrics = world.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            r#"splunk_mcp_tool_calls_total{tool="splunk_search",outcome="ok"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric_value(
            &metrics,
            r#"splunk_mcp_tool_call_duration_seconds_count{tool="splunk_search"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert!(
        metrics.lines().any(|line| line
            .starts_with("splunk_mcp_splunk_request_duration_seconds_count{")
            && line.contains(r#"status="2xx""#)),
        "{metrics}"
    );
    assert!(
        metrics.contains("splunk_mcp_jwks_refreshes_total 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_usable_only_by_its_subject() {
    let world = World::start(Setup::default()).await;
    let session = world.initialize("searcher-token").await;
    let ping = json!({"jsonrpc": "2.0", "id": 7, "method": "ping"});

    let hijack = world
        .post(Some("mallory-token"), session.as_deref(), &ping)
        .await;
    assert_eq!(hijack.status, StatusCode::NOT_FOUND, "{}", hijack.body);

    // The same subject with another token of theirs keeps using it.
    let own = world
        .post(Some("reader-token"), session.as_deref(), &ping)
        .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert!(own.message(7).get("result").is_some(), "{}", own.body);

    // An id the server never issued is unknown whoever asks.
    let made_up = world
        .post(Some("mallory-token"), Some("not-a-session"), &ping)
        .await;
    assert_eq!(made_up.status, StatusCode::NOT_FOUND);

    // Closing the session drops it for everyone.
    let delete = world
        .http
        .delete(format!("{}/mcp", world.base))
        .bearer_auth("searcher-token")
        .header("mcp-session-id", session.as_deref().expect("session"))
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("delete sent");
    assert!(delete.status().is_success(), "{}", delete.status());
    let after = world
        .post(Some("searcher-token"), session.as_deref(), &ping)
        .await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);

    let metrics = world.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            r#"splunk_mcp_auth_failures_total{reason="session_subject_mismatch"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_check_refuses_with_access_denied() {
    let check: CallerCheck = Arc::new(|caller: &auth_core::AuthContext| {
        if caller.subject() == "blocked" {
            Err("the token has no Splunk username claim".to_owned())
        } else {
            Ok(())
        }
    });
    let world = World::start(Setup {
        caller_check: Some(check),
        ..Setup::default()
    })
    .await;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let reply = world.post(Some("blocked-token"), None, &ping).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.json(),
        json!({"error": "access_denied", "error_description": "the token has no Splunk username claim"})
    );
    world.initialize("searcher-token").await;
    let metrics = world.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            r#"splunk_mcp_auth_failures_total{reason="access_denied"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_mode_prechecks_and_answers_json() {
    let world = World::start(Setup {
        stateless: true,
        ..Setup::default()
    })
    .await;
    let session = world.initialize("reader-token").await;
    assert_eq!(session, None, "no sessions in stateless mode");
    let denied = world
        .post(
            Some("reader-token"),
            None,
            &tools_call(2, "splunk_search", json!({"spl": "index=web"})),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.body);
    let allowed = world
        .post(
            Some("reader-token"),
            None,
            &tools_call(3, "splunk_list_indexes", json!({})),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    assert!(
        allowed
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        allowed.headers
    );
    assert_eq!(allowed.message(3)["result"]["isError"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_peek_limit_reach_rmcp_intact() {
    let world = World::start(Setup::default()).await;
    let session = world.initialize("reader-token").await;
    // Over the limit, streamed without Content-Length: the pre-check lets it through and the
    // tool itself refuses, which proves rmcp got the whole body.
    let mut call = tools_call(9, "splunk_search", json!({"spl": "index=web"}));
    call["params"]["_meta"] = json!({"padding": "x".repeat(guard::PEEK_LIMIT + 10)});
    let bytes = bytes::Bytes::from(call.to_string());
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let response = world
        .http
        .post(format!("{}/mcp", world.base))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", PROTOCOL)
        .header("mcp-session-id", session.as_deref().expect("session"))
        .bearer_auth("reader-token")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("request sent");
    let reply = Reply::from(response).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let answer = reply.message(9);
    assert!(
        answer.to_string().contains("splunk:search"),
        "the tool refused for the missing scope: {answer}"
    );
}

struct Fixed(&'static str, Result<(), &'static str>);

impl ReadyCheck for Fixed {
    fn name(&self) -> &'static str {
        self.0
    }

    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        let outcome = self.1.map_err(str::to_owned);
        Box::pin(async move { outcome })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_each_check() {
    let ready = World::start(Setup {
        auth: false,
        readiness: vec![Arc::new(Fixed("splunk", Ok(())))],
        ..Setup::default()
    })
    .await;
    let reply = ready.get("/readyz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.json(),
        json!({"status": "ready", "checks": {"splunk": "ok"}})
    );

    let red = World::start(Setup {
        auth: false,
        readiness: vec![
            Arc::new(Fixed("splunk", Ok(()))),
            Arc::new(Fixed("jwks", Err("cannot fetch the JWKS"))),
        ],
        ..Setup::default()
    })
    .await;
    let reply = red.get("/readyz").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        reply.json(),
        json!({"status": "not_ready", "checks": {"splunk": "ok", "jwks": "cannot fetch the JWKS"}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_on_the_shutdown_signal() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let app = Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, async move {
        let _ = stopped.await;
    }));
    let reply = reqwest::get(format!("http://{address}/healthz"))
        .await
        .expect("served before shutdown");
    assert_eq!(reply.status(), StatusCode::OK);
    stop.send(()).expect("server still running");
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve returns promptly once idle")
        .expect("serve task did not panic");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        reqwest::get(format!("http://{address}/healthz"))
            .await
            .is_err(),
        "the listener is closed"
    );
}
