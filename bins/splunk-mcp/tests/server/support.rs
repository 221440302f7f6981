//! Driving the real `splunk-mcp` binary: spawning it (HTTP or stdio) with a clean environment,
//! reading its announced endpoint, its stderr log and audit lines, and talking to it with the
//! rmcp client and the TypeScript SDK client.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use e2e_tests::{SignIn, World};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The binary under test.
pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_splunk-mcp");

/// How long the binary may take to announce its endpoint (debug build, 2 busy cores).
const STARTUP: Duration = Duration::from_secs(60);

/// A fresh file under the test target's temp directory for a child's stderr.
pub(crate) fn log_path(what: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{what}-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The binary with an empty environment but `PATH` and the given variables, so nothing from
/// the developer's shell (a real `SPLUNK_HOST`, `RUST_LOG`, ...) leaks in.
pub(crate) fn command(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .kill_on_drop(true);
    command
}

/// The environment of a server in `jwt` mode passing the caller's IdP token to the world's
/// emulator, logging JSON lines.
pub(crate) fn passthrough_env(world: &World) -> Vec<(&'static str, String)> {
    let mut env = splunk_env(world);
    env.extend([
        ("MCP_AUTH_MODE", "jwt".to_owned()),
        ("IDP_OIDC_CONFIG_URL", world.idp.discovery_url()),
        ("SPLUNK_CREDENTIALS", "passthrough".to_owned()),
    ]);
    env
}

/// The encryption key of proxy-mode test servers: base64 of 32 bytes, as
/// `openssl rand -base64 32` prints one.
pub(crate) const PROXY_ENCRYPTION_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A fresh path for a proxy-mode server's redb store file under the test target's temp
/// directory (the file does not exist yet).
pub(crate) fn proxy_store_path(what: &str) -> PathBuf {
    let path = log_path(what).with_extension("redb");
    let _ = std::fs::remove_file(&path);
    path
}

/// The environment of a server in `proxy` + `passthrough` mode in front of the world's IdP,
/// as its confidential client `splunk-mcp`, asking the IdP for tokens Splunk accepts
/// (`resource=urn:splunk`, so `aud: splunk`) and forcing the IdP's consent prompt; `store` is
/// `MCP_PROXY_STORE`: a redb file path or a `redis://` URL.
pub(crate) fn proxy_env(world: &World, store: &str) -> Vec<(&'static str, String)> {
    let mut env = splunk_env(world);
    env.extend([
        ("MCP_AUTH_MODE", "proxy".to_owned()),
        ("IDP_OIDC_CONFIG_URL", world.idp.discovery_url()),
        ("MCP_OAUTH_CLIENT_ID", "splunk-mcp".to_owned()),
        ("MCP_OAUTH_CLIENT_SECRET", "splunk-mcp-secret".to_owned()),
        (
            "IDP_EXTRA_AUTHORIZE_PARAMS",
            "prompt=consent&resource=urn:splunk".to_owned(),
        ),
        ("IDP_EXTRA_TOKEN_PARAMS", "resource=urn:splunk".to_owned()),
        ("MCP_PROXY_STORE", store.to_owned()),
        ("MCP_PROXY_ENCRYPTION_KEY", PROXY_ENCRYPTION_KEY.to_owned()),
        ("SPLUNK_CREDENTIALS", "passthrough".to_owned()),
    ]);
    env
}

/// Starts the binary in `proxy` + `passthrough` mode ([`proxy_env`]) on a free loopback port,
/// with `extra` variables on top (a later variable replaces an earlier one of the same name,
/// e.g. `("SPLUNK_CREDENTIALS", "mirror")` or `("MCP_PROXY_CIMD_ALLOW_LOOPBACK", "true")`).
/// Its base URL, `server.base_url`, is the issuer of its tokens.
pub(crate) async fn start_proxy_server(
    world: &World,
    store: &str,
    extra: &[(&'static str, String)],
) -> Server {
    let mut env = proxy_env(world, store);
    env.extend(extra.iter().cloned());
    Server::start(&env).await
}

/// The emulator's admin as the service account (`SPLUNK_CREDENTIALS=service`).
pub(crate) fn service_account() -> [(&'static str, String); 3] {
    [
        ("SPLUNK_CREDENTIALS", "service".to_owned()),
        ("SPLUNK_USERNAME", "admin".to_owned()),
        ("SPLUNK_PASSWORD", "changeme".to_owned()),
    ]
}

/// Where the world's emulator is (plain HTTP on loopback), and JSON logs at `info`.
pub(crate) fn splunk_env(world: &World) -> Vec<(&'static str, String)> {
    vec![
        ("SPLUNK_HOST", "127.0.0.1".to_owned()),
        ("SPLUNK_PORT", world.splunk.local_addr().port().to_string()),
        ("SPLUNK_SCHEME", "http".to_owned()),
        ("SPLUNK_VERIFY_SSL", "false".to_owned()),
        ("MCP_LOG_FORMAT", "json".to_owned()),
        ("MCP_LOG_LEVEL", "info".to_owned()),
    ]
}

/// A running `splunk-mcp serve --transport http`, killed when dropped.
pub(crate) struct Server {
    child: Child,
    // Kept open so the binary never writes to a closed pipe.
    _stdout: Lines<BufReader<ChildStdout>>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    /// `http://127.0.0.1:PORT/mcp`.
    pub(crate) mcp_url: String,
    /// The binary's stderr.
    pub(crate) log: PathBuf,
}

impl Server {
    /// Starts the binary on a free loopback port with `env` and waits for its first stdout
    /// line, `splunk-mcp: MCP endpoint http://127.0.0.1:PORT/mcp`.
    pub(crate) async fn start(env: &[(&str, String)]) -> Self {
        let log = log_path("splunk-mcp");
        let stderr = std::fs::File::create(&log).expect("server log file");
        let mut child = command(env)
            .args(["serve", "--transport", "http", "--bind", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn splunk-mcp");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(STARTUP, stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("no endpoint line within {STARTUP:?}: {}", read(&log)))
            .expect("read stdout")
            .unwrap_or_else(|| panic!("splunk-mcp exited before serving: {}", read(&log)));
        let mcp_url = first
            .strip_prefix("splunk-mcp: MCP endpoint ")
            .unwrap_or_else(|| panic!("unexpected first stdout line {first:?}"))
            .to_owned();
        let base_url = mcp_url
            .strip_suffix("/mcp")
            .unwrap_or_else(|| panic!("endpoint {mcp_url} does not end in /mcp"))
            .to_owned();
        assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
        Self {
            child,
            _stdout: stdout,
            base_url,
            mcp_url,
            log,
        }
    }

    /// The stderr log so far.
    pub(crate) fn log_text(&self) -> String {
        read(&self.log)
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process and waits until it is gone (so a redb store file it held is free).
    pub(crate) async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    /// The loopback address it listens on.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.base_url
            .trim_start_matches("http://")
            .parse()
            .expect("the base URL is http://ADDR")
    }

    /// Sends SIGHUP, as `kill -HUP` or `systemctl reload` does.
    pub(crate) fn hangup(&self) {
        let pid = self.child.id().expect("splunk-mcp is running");
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP {pid}: {status}");
    }

    /// Sends SIGTERM, as `systemctl stop` or Kubernetes does, and waits (30 s at most) for the
    /// clean shutdown to end; returns how it ended.
    pub(crate) async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("splunk-mcp is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid}: {status}");
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("splunk-mcp stops within 30 s of SIGTERM")
            .expect("wait for splunk-mcp")
    }

    /// Kills the process with SIGKILL (no clean shutdown, as `kill -9` or an OOM kill) and
    /// waits until it is gone; returns how it ended.
    pub(crate) async fn kill9(mut self) -> std::process::ExitStatus {
        self.child.start_kill().expect("SIGKILL splunk-mcp");
        self.child.wait().await.expect("wait for splunk-mcp")
    }
}

/// Runs the binary with `env` and `args` to its end (60 s at most), stdin closed: exit code,
/// stdout, stderr. For the commands that exit (`config check`, `doctor`).
pub(crate) async fn run_to_end(
    env: &[(&str, String)],
    args: &[&str],
) -> (Option<i32>, String, String) {
    let output = command(env).args(args).stdin(Stdio::null()).output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .unwrap_or_else(|_| panic!("splunk-mcp {args:?} did not exit within 60 s"))
        .expect("run splunk-mcp");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A file's text, empty when it cannot be read.
pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The JSON log lines at target `audit`, each as one object: the event's fields (whether the
/// formatter nests them under `fields` or flattens them) next to `target` and `level`.
pub(crate) fn audit_events(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["target"] == "audit")
        .map(|mut line| {
            if let Some(Value::Object(fields)) = line.get("fields").cloned() {
                let object = line.as_object_mut().expect("a JSON log line is an object");
                object.extend(fields);
            }
            line
        })
        .collect()
}

/// Waits (up to 10 s) until the log holds `count` audit events matching `matches`; they are
/// written when a call ends, which may be just after the client got its answer.
pub(crate) async fn wait_for_audit(
    log: &Path,
    count: usize,
    matches: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..100 {
        found = audit_events(&read(log))
            .into_iter()
            .filter(|e| matches(e))
            .collect();
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "expected {count} matching audit events, found {}: {found:?}\nlog:\n{}",
        found.len(),
        read(log)
    );
}

/// A world (IdP with `--extra-audience splunk`, emulator trusting it) and a server in front of
/// it in `jwt` + `passthrough` mode, with `extra` variables on top.
pub(crate) async fn passthrough_server(extra: &[(&'static str, String)]) -> (World, Server) {
    let world = World::start().await;
    let mut env = passthrough_env(&world);
    env.extend(extra.iter().cloned());
    let server = Server::start(&env).await;
    (world, server)
}

/// An access token of `user` for the server's resource, with `scope`.
pub(crate) async fn token_for(world: &World, server: &Server, user: &str, scope: &str) -> String {
    world
        .idp
        .access_token(
            &world.http,
            &SignIn::new(user)
                .for_resource(&server.mcp_url)
                .with_scope(scope),
        )
        .await
}

/// The rmcp client connected over streamable HTTP with `Authorization: Bearer <token>`.
pub(crate) async fn connect(mcp_url: &str, token: &str) -> RunningService<RoleClient, ()> {
    connect_with(mcp_url, token, ()).await
}

/// [`connect`] with `handler` receiving what the server sends on its own (notifications).
pub(crate) async fn connect_with<H: rmcp::ClientHandler>(
    mcp_url: &str,
    token: &str,
    handler: H,
) -> RunningService<RoleClient, H> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client");
    let config = StreamableHttpClientTransportConfig::with_uri(mcp_url).auth_header(token);
    handler
        .serve(StreamableHttpClientTransport::with_client(http, config))
        .await
        .unwrap_or_else(|e| panic!("MCP initialize at {mcp_url}: {e}"))
}

/// Calls `tool` with `args` (a JSON object); a protocol error panics, a tool error is returned.
pub(crate) async fn call<H: rmcp::ClientHandler>(
    client: &RunningService<RoleClient, H>,
    tool: &str,
    args: Value,
) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("tool arguments are an object");
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The text content of a tool result, joined.
pub(crate) fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The sorted `index` column of a search result's rows (`structuredContent.rows`).
pub(crate) fn indexes_in(structured: &Value) -> Vec<String> {
    let rows = structured["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("rows in {structured}"));
    let mut indexes: Vec<String> = rows
        .iter()
        .filter_map(|row| row["index"].as_str().map(str::to_owned))
        .collect();
    indexes.sort();
    indexes
}

/// The SPL both users run: which indexes their role lets them see.
pub(crate) fn count_by_index() -> Value {
    serde_json::json!({"spl": "index=* | stats count by index", "earliest": "0"})
}

/// What `node tests/clients/mcp-client.mjs` printed and how it exited.
pub(crate) struct NodeRun {
    pub(crate) success: bool,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs the TypeScript SDK client script with `args` after `--url URL [--token T]`.
pub(crate) async fn ts_client(mcp_url: &str, token: Option<&str>, args: &[&str]) -> NodeRun {
    let script = e2e_tests::workspace_root()
        .join("tests")
        .join("clients")
        .join("mcp-client.mjs");
    assert!(
        script.is_file(),
        "{} is missing (the TypeScript SDK client)",
        script.display()
    );
    let mut command = Command::new("node");
    command
        .arg(&script)
        .args(["--url", mcp_url])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .kill_on_drop(true);
    if let Some(token) = token {
        command.args(["--token", token]);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.args(args).output())
        .await
        .expect("the TypeScript client finishes within 60 s")
        .expect("run node");
    NodeRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A JSON-RPC `initialize` request, as a client's first POST.
pub(crate) fn initialize_request() -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw-http", "version": "0"}
        }
    })
}

/// POSTs one JSON-RPC message to `/mcp` as a raw HTTP client would, with the bearer token and
/// session id when given.
pub(crate) async fn post_mcp(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    session: Option<&str>,
    message: &Value,
) -> reqwest::Response {
    let mut request = http
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(message);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request.send().await.expect("POST /mcp")
}

/// The `WWW-Authenticate` challenge of a response.
pub(crate) fn challenge_of(response: &reqwest::Response) -> String {
    response.headers()[reqwest::header::WWW_AUTHENTICATE]
        .to_str()
        .expect("ASCII challenge")
        .to_owned()
}

/// The scopes an `insufficient_scope` challenge asks for (its `scope` attribute), after
/// checking that it is one.
pub(crate) fn step_up_scopes(challenge: &str) -> Vec<&str> {
    assert!(
        challenge.starts_with(r#"Bearer error="insufficient_scope""#),
        "{challenge}"
    );
    challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a scope attribute: {challenge}"))
        .split(' ')
        .collect()
}

/// Polls `url` (up to 20 s) until it answers `want`; returns the last status and body.
pub(crate) async fn poll_status(
    http: &reqwest::Client,
    url: &str,
    want: reqwest::StatusCode,
) -> (reqwest::StatusCode, String) {
    let mut last = (reqwest::StatusCode::IM_A_TEAPOT, String::new());
    for _ in 0..80 {
        if let Ok(response) = http.get(url).send().await {
            let status = response.status();
            last = (status, response.text().await.unwrap_or_default());
            if status == want {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}
