//! Servers under load: launching one pinned to a core and timing its start, checking one call's
//! answer, and driving it with wrk (xtask/bench-peers/mcp_call.lua).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::Child;

use crate::process::{isolated_command, log_dir, workspace_root};

/// The core the servers under test run on; wrk gets the other one.
const SERVER_CORE: &str = "0";
/// The core of the load generator (and of the Splunk emulator the search path needs).
pub(super) const LOAD_CORE: &str = "1";

/// How to start one server: the program, its arguments (`{port}` is replaced by the port it
/// must listen on, in the environment too) and its environment (the developer's `MCP_*`, `SPLUNK_*`, `IDP_*` are dropped).
#[derive(Clone)]
pub(super) struct Launch {
    /// Short name for logs and tables.
    pub(super) name: &'static str,
    pub(super) program: PathBuf,
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(String, String)>,
}

/// A server started by [`Launch::start`]; killed when dropped.
pub(super) struct Server {
    child: Child,
    /// Its process id (taskset execs the server, so this is the server itself).
    pub(super) pid: u32,
    /// `http://127.0.0.1:PORT`, without a path.
    pub(super) base: String,
    /// When the process was launched.
    pub(super) launched: Instant,
    /// From launch until its port accepted a connection.
    pub(super) port_after: Duration,
}

impl Launch {
    /// Launches the server on a free port, pinned to the server core, and waits until the port
    /// accepts connections. Output goes to `target/xtask-logs/bench-<name>.log`.
    pub(super) async fn start(&self) -> anyhow::Result<Server> {
        let port = free_port()?;
        let log_path = log_dir()?.join(format!("bench-{}.log", self.name));
        let log = std::fs::File::create(&log_path)?;
        let mut command = isolated_command("taskset");
        command
            .arg("-c")
            .arg(SERVER_CORE)
            .arg(&self.program)
            .args(
                self.args
                    .iter()
                    .map(|arg| OsString::from(arg.replace("{port}", &port.to_string()))),
            )
            .envs(
                self.env
                    .iter()
                    .map(|(k, v)| (k, v.replace("{port}", &port.to_string()))),
            )
            .current_dir(run_dir()?)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let launched = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {} (is taskset installed?)", self.name))?;
        let pid = child.id().context("server pid")?;
        let deadline = launched + Duration::from_secs(90);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it listened; see {}",
                    self.name,
                    log_path.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not listen within 90 s; see {}",
                    self.name,
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Server {
            child,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            launched,
            port_after: launched.elapsed(),
        })
    }
}

impl Server {
    /// Stops the server and waits for it to exit.
    pub(super) async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill().ok();
        self.child.wait().await?;
        Ok(())
    }
}

/// A port nobody listens on right now (the kernel's pick, released again).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The servers' working directory, so nothing they write lands in the repository.
fn run_dir() -> anyhow::Result<PathBuf> {
    let dir = workspace_root().join("target").join("bench-run");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// One MCP request as it goes over the wire, and what every successful answer contains.
#[derive(Clone)]
pub(super) struct Call {
    /// Headers besides `Content-Type` and `Accept`: Authorization, MCP-Protocol-Version, ...
    pub(super) headers: Vec<(String, String)>,
    /// The JSON-RPC request.
    pub(super) body: String,
    /// A string every successful answer contains (and no error answer can).
    pub(super) expect: String,
    /// How many times at least (once per row of a search answer).
    pub(super) expect_count: usize,
}

/// Sends `call` once to `url` and returns the JSON-RPC result, failing unless the answer is a
/// successful, non-error tool result containing the expected string.
pub(super) async fn call_once(
    http: &reqwest::Client,
    url: &str,
    call: &Call,
) -> anyhow::Result<serde_json::Value> {
    let mut request = http
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(call.body.clone());
    for (name, value) in &call.headers {
        request = request.header(name, value);
    }
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    if status != reqwest::StatusCode::OK {
        bail!("HTTP {status}: {}", shorten(&text));
    }
    // A server that ignores json_response answers with one SSE event instead.
    let json = text
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .unwrap_or(&text);
    let answer: serde_json::Value =
        serde_json::from_str(json.trim()).with_context(|| format!("answer {}", shorten(&text)))?;
    let result = answer
        .get("result")
        .with_context(|| format!("not a JSON-RPC result: {}", shorten(&text)))?;
    if result.get("isError") == Some(&serde_json::Value::Bool(true)) {
        bail!("the tool reported an error: {}", shorten(&text));
    }
    let found = text.matches(&call.expect).count();
    if found < call.expect_count {
        bail!(
            "expected {} occurrences of {:?} in the answer, found {found}: {}",
            call.expect_count,
            call.expect,
            shorten(&text)
        );
    }
    Ok(result.clone())
}

fn shorten(text: &str) -> String {
    text.chars().take(600).collect()
}

/// What one wrk run measured.
#[derive(Clone, Copy, Default)]
pub(super) struct LoadFigures {
    pub(super) requests: u64,
    pub(super) seconds: f64,
    /// Answers with a status other than 2xx/3xx.
    pub(super) status_errors: u64,
    /// Connect, read, write errors and timeouts.
    pub(super) socket_errors: u64,
    /// 200 answers that were no successful tool result.
    pub(super) rpc_errors: u64,
    pub(super) p50: Duration,
    pub(super) p99: Duration,
}

impl LoadFigures {
    /// Requests per second.
    pub(super) fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(f64::EPSILON)
    }

    /// All failed requests.
    pub(super) fn errors(&self) -> u64 {
        self.status_errors + self.socket_errors + self.rpc_errors
    }
}

/// The wrk command line for the docs, with the token left out.
pub(super) fn wrk_command_line(connections: u32, duration: Duration) -> String {
    format!(
        "taskset -c {LOAD_CORE} wrk -t1 -c{connections} -d{}s --timeout 10s -s xtask/bench-peers/mcp_call.lua <url>",
        duration.as_secs()
    )
}

/// Runs wrk (one thread, on the load core) against `url` with `connections` connections.
pub(super) async fn run_wrk(
    url: &str,
    call: &Call,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<LoadFigures> {
    let script = workspace_root().join("xtask/bench-peers/mcp_call.lua");
    let headers: String = call
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect();
    let output = tokio::process::Command::new("taskset")
        .args(["-c", LOAD_CORE, "wrk", "-t1"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs()))
        .args(["--timeout", "10s", "-s"])
        .arg(&script)
        .arg(url)
        .env("BENCH_BODY", &call.body)
        .env("BENCH_HEADERS", headers)
        .env("BENCH_EXPECT", &call.expect)
        .env("BENCH_EXPECT_COUNT", call.expect_count.to_string())
        .stdin(Stdio::null())
        .output()
        .await
        .context("starting wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    if let Some(failed) = stdout
        .lines()
        .find_map(|line| line.strip_prefix("BENCH_FAILED_ANSWER "))
    {
        crate::progress::say(format_args!("a failed answer under load: {failed}"));
    }
    let summary = stdout
        .lines()
        .find_map(|line| line.strip_prefix("BENCH_RESULT "))
        .with_context(|| format!("wrk printed no summary: {stdout}"))?;
    let summary: serde_json::Value = serde_json::from_str(summary)?;
    let number = |name: &str| {
        summary
            .get(name)
            .and_then(serde_json::Value::as_u64)
            .with_context(|| format!("wrk summary lacks {name}"))
    };
    Ok(LoadFigures {
        requests: number("requests")?,
        seconds: number("duration_us")? as f64 / 1e6,
        status_errors: number("status_errors")?,
        socket_errors: number("socket_errors")?,
        rpc_errors: number("rpc_errors")?,
        p50: Duration::from_micros(number("p50_us")?),
        p99: Duration::from_micros(number("p99_us")?),
    })
}
