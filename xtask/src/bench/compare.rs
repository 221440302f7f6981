//! `cargo xtask bench compare`: splunk-mcp side by side with the Python peers (issue 8).
//!
//! Protocol path: a stateless streamable-HTTP `tools/call` of `splunk_whoami` (`skip_splunk`)
//! against FastMCP's `whoami` (xtask/bench-peers/fastmcp_whoami.py), both verifying an RS256 JWT
//! from the bench's own JWKS ([`super::idp`]), in protocol 2025-11-25 and 2026-07-28. Search path:
//! `splunk_search` of `| makeresults count=100` against deslicer's mcp-server-for-splunk
//! `run_oneshot_search`, both on the same emulator with the same account. Servers run on core 0,
//! wrk on core 1; splunk-mcp and its peer take turns point by point. Then what one search answer
//! puts in front of the model ([`super::context`]), resource use and the criterion/export micro
//! figures, as one table written to docs/benchmarks.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::context::{ContextFigures, TokenCounter};
use super::idp::{BenchIdp, SUBJECT};
use super::load::{Call, LOAD_CORE, Launch, LoadFigures, Server, call_once, run_wrk};
use crate::process::{Service, built_binary, cargo, isolated_command, workspace_root};
use crate::progress::say;

/// The two MCP protocol styles measured on the protocol path.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Headers as in 2025-11-25; stateless servers answer without `initialize`.
    Legacy,
    /// 2026-07-28: `Mcp-Method`/`Mcp-Name` headers and the protocol version, client capabilities
    /// and client info in the request's `_meta`.
    Modern,
}

impl Protocol {
    fn version(self) -> &'static str {
        match self {
            Protocol::Legacy => "2025-11-25",
            Protocol::Modern => "2026-07-28",
        }
    }
}

/// How long and how hard each path is driven.
struct Plan {
    quick: bool,
    cold_starts: usize,
    protocol_connections: &'static [u32],
    protocol_duration: Duration,
    search_connections: &'static [u32],
    search_duration: Duration,
}

impl Plan {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                cold_starts: 1,
                protocol_connections: &[1, 16],
                protocol_duration: Duration::from_secs(2),
                search_connections: &[1, 16],
                search_duration: Duration::from_secs(2),
            }
        } else {
            Self {
                quick,
                cold_starts: 3,
                protocol_connections: &[1, 16, 64],
                protocol_duration: Duration::from_secs(20),
                search_connections: &[1, 16, 64],
                search_duration: Duration::from_secs(10),
            }
        }
    }
}

/// One server and the tool call it is measured with.
struct Subject {
    launch: Launch,
    tool: &'static str,
    arguments: Value,
    scope: &'static str,
    /// A string every successful answer contains.
    expect: &'static str,
    /// Times `expect` must occur in a checked answer (100 rows of `makeresults` → 100 `_time`).
    expect_count: usize,
    protocols: &'static [Protocol],
    /// Ours must answer every protocol; a peer that cannot is reported, not fatal.
    must_answer: bool,
}

/// Everything measured for one subject.
struct Figures {
    /// Per launch: port accepted a connection, first successful call.
    cold_starts: Vec<(Duration, Duration)>,
    idle_rss_kib: u64,
    loaded_rss_kib: u64,
    runs: Vec<(Protocol, ProtocolRuns)>,
}

/// Per connection count the load figures, or why the server refused the protocol.
type ProtocolRuns = Result<Vec<(u32, LoadFigures)>, String>;

/// A resource row: name, how to read it from a subject's figures, target text and limit.
type ResourceRow<'a> = (&'a str, &'a dyn Fn(&Figures) -> f64, &'a str, Option<f64>);

impl Figures {
    fn run(&self, protocol: Protocol, connections: u32) -> Option<&LoadFigures> {
        self.runs
            .iter()
            .find(|(p, _)| *p == protocol)
            .and_then(|(_, runs)| runs.as_ref().ok())
            .and_then(|runs| runs.iter().find(|(c, _)| *c == connections))
            .map(|(_, figures)| figures)
    }

    fn unsupported(&self, protocol: Protocol) -> Option<&str> {
        self.runs
            .iter()
            .find(|(p, _)| *p == protocol)
            .and_then(|(_, runs)| runs.as_ref().err())
            .map(String::as_str)
    }

    /// Median launch → port and launch → first successful call.
    fn cold_start(&self) -> (Duration, Duration) {
        let median = |mut values: Vec<Duration>| {
            values.sort();
            values.get(values.len() / 2).copied().unwrap_or_default()
        };
        (
            median(self.cold_starts.iter().map(|c| c.0).collect()),
            median(self.cold_starts.iter().map(|c| c.1).collect()),
        )
    }
}

/// What was measured of the Python peers.
struct PeerFigures {
    fastmcp: Figures,
    /// mcp-server-for-splunk, or why it could not be measured.
    deslicer: Result<Figures, String>,
    /// Bytes of the FastMCP and mcp-server-for-splunk venvs.
    venv_bytes: (u64, u64),
}

/// Micro figures from criterion and splunk-client's export bench.
struct Micro {
    rs256_warm: Duration,
    /// The part of `rs256_warm` that is no cryptography: JWT parsing and claim checks.
    rs256_parse: Duration,
    /// The RSA-2048 public-key operation alone (OpenSSL), the floor under `rs256_warm`.
    rs256_rsa_op: Duration,
    es256_warm: Duration,
    eddsa_warm: Duration,
    cached: Duration,
    export: super::ClientExportSummary,
}

/// Runs the whole comparison, prints the table and (unless `quick`) writes docs/benchmarks.md.
pub(super) async fn run(quick: bool) -> anyhow::Result<()> {
    let plan = Plan::new(quick);
    let load_at_start = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    ensure_wrk().await?;
    let profile = if quick { "debug" } else { "release" };
    if quick {
        // The smoke run uses the binaries `cargo test --workspace` builds, with its features.
        crate::integration::build_as_tests_do().await?;
    } else {
        cargo(
            "build splunk-mcp and the emulator (release)",
            &[
                "build",
                "--release",
                "--package",
                "splunk-mcp",
                "--package",
                "splunk-emulator",
            ],
        )
        .await?;
    }
    let peers = match python_peers().await {
        Ok(peers) => Some(peers),
        Err(error) if quick => {
            say(format_args!(
                "skipping the Python peers in --quick: {error:#}"
            ));
            None
        }
        Err(error) => return Err(error),
    };
    let token_counter = match TokenCounter::install().await {
        Ok(counter) => Ok(counter),
        Err(error) if quick => {
            say(format_args!(
                "no token counts in --quick, the counter could not be installed: {error:#}"
            ));
            Err(format!("{error:#}"))
        }
        Err(error) => return Err(error),
    };

    // The builds above raise the load themselves; this one shows what else was running.
    let load_at_measure = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let emulator = start_emulator(profile).await?;
    let emulator_port = emulator
        .url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .context("emulator URL without port")?
        .to_owned();
    let idp = BenchIdp::start().await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;

    let ours = |name| Launch {
        name,
        program: built_binary(profile, "splunk-mcp"),
        args: [
            "serve",
            "--transport",
            "http",
            "--bind",
            "127.0.0.1:{port}",
            "--stateless",
        ]
        .map(str::to_owned)
        .to_vec(),
        env: env(&[
            ("MCP_AUTH_MODE", "jwt"),
            ("IDP_ISSUER_URL", &idp.issuer),
            ("IDP_JWKS_URI", &idp.jwks_uri),
            ("SPLUNK_CREDENTIALS", "service"),
            ("SPLUNK_HOST", "127.0.0.1"),
            ("SPLUNK_PORT", &emulator_port),
            ("SPLUNK_SCHEME", "https"),
            ("SPLUNK_VERIFY_SSL", "false"),
            ("SPLUNK_USERNAME", "admin"),
            ("SPLUNK_PASSWORD", "changeme"),
        ]),
    };
    let both = &[Protocol::Legacy, Protocol::Modern];
    let whoami = Subject {
        launch: ours("splunk-mcp-whoami"),
        tool: "splunk_whoami",
        arguments: json!({"skip_splunk": true}),
        scope: "splunk:read",
        expect: SUBJECT,
        expect_count: 1,
        protocols: both,
        must_answer: true,
    };
    let search = |launch, tool, arguments, must_answer| Subject {
        launch,
        tool,
        arguments,
        scope: "splunk:read splunk:search",
        expect: "_time",
        expect_count: 100,
        protocols: &[Protocol::Legacy],
        must_answer,
    };
    let fastmcp = peers.as_ref().map(|peers| Subject {
        launch: Launch {
            name: "fastmcp-whoami",
            program: peers.fastmcp.clone(),
            args: vec![
                workspace_root()
                    .join("xtask/bench-peers/fastmcp_whoami.py")
                    .to_string_lossy()
                    .into_owned(),
                "--port".into(),
                "{port}".into(),
                "--jwks-uri".into(),
                idp.jwks_uri.clone(),
                "--issuer".into(),
                idp.issuer.clone(),
                "--audience".into(),
                // FastMCP has no notion of its own URL here; the token names the one it runs at.
                "http://127.0.0.1:{port}/mcp".into(),
            ],
            env: Vec::new(),
        },
        tool: "whoami",
        arguments: json!({}),
        scope: "splunk:read",
        expect: SUBJECT,
        expect_count: 1,
        protocols: both,
        must_answer: false,
    });
    let kwargs = json!({
        "jwks_uri": idp.jwks_uri,
        "issuer": idp.issuer,
        "audience": "http://127.0.0.1:{port}/mcp",
        "required_scopes": ["splunk:search"],
    })
    .to_string();
    let oneshot = peers.as_ref().map(|peers| {
        let launch = Launch {
            name: "mcp-server-for-splunk",
            program: peers.splunk.clone(),
            args: [
                "-m",
                "src.server",
                "--transport",
                "http",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
            ]
            .map(str::to_owned)
            .to_vec(),
            env: env(&[
                ("SPLUNK_HOST", "127.0.0.1"),
                ("SPLUNK_PORT", &emulator_port),
                ("SPLUNK_USERNAME", "admin"),
                ("SPLUNK_PASSWORD", "changeme"),
                ("SPLUNK_VERIFY_SSL", "false"),
                ("MCP_STATELESS_HTTP", "true"),
                ("MCP_JSON_RESPONSE", "true"),
                (
                    "MCP_AUTH_PROVIDER",
                    "fastmcp.server.auth.providers.jwt:JWTVerifier",
                ),
                ("MCP_AUTH_PROVIDER_KWARGS", &kwargs),
            ]),
        };
        search(
            launch,
            "run_oneshot_search",
            json!({"query": "| makeresults count=100", "count": 100, "earliest_time": "-24h"}),
            false,
        )
    });
    let bench = Bench {
        plan: &plan,
        http: &http,
        idp: &idp,
    };
    let (ours_whoami, fastmcp) = bench
        .pair(
            &whoami,
            fastmcp.as_ref(),
            plan.protocol_connections,
            plan.protocol_duration,
        )
        .await?;
    let (ours_search, deslicer) = bench
        .pair(
            &search(
                ours("splunk-mcp-search"),
                "splunk_search",
                json!({"spl": "| makeresults count=100", "max_results": 100}),
                true,
            ),
            oneshot.as_ref(),
            plan.search_connections,
            plan.search_duration,
        )
        .await?;
    // Fresh launches with logs of their own, so the load runs' logs stay as they were.
    let peer_context = oneshot.as_ref().map(|subject| Launch {
        name: "mcp-server-for-splunk-context",
        ..subject.launch.clone()
    });
    let context = super::context::measure(
        &http,
        &idp,
        &ours("splunk-mcp-context"),
        peer_context.as_ref(),
        token_counter.as_ref().map_err(String::as_str),
    )
    .await?;
    let peer_figures = match (peers.as_ref(), fastmcp, deslicer) {
        (Some(peers), Some(fastmcp), Some(deslicer)) => Some(PeerFigures {
            // FastMCP is the reference of the protocol targets: without it there is no table.
            fastmcp: fastmcp.map_err(|error| anyhow::anyhow!("FastMCP: {error}"))?,
            // A search peer that cannot answer at all is reported with its reason, not fatal.
            deslicer,
            venv_bytes: peers.install_bytes,
        }),
        _ => None,
    };
    emulator.stop().await?;
    drop(idp);

    let micro = if quick { None } else { Some(micro().await?) };
    let binary = built_binary(profile, "splunk-mcp");
    let sizes = BinarySizes::of(&binary).await?;
    let report = Report {
        plan: &plan,
        profile,
        load_at_start: load_at_start.trim(),
        load_at_measure: load_at_measure.trim(),
        ours_whoami: &ours_whoami,
        ours_search: &ours_search,
        context: &context,
        peers: peer_figures.as_ref(),
        micro: micro.as_ref(),
        sizes,
    }
    .render()?;
    println!("{report}");
    if quick {
        let path = workspace_root()
            .join("target")
            .join("bench-compare-quick.md");
        std::fs::write(&path, &report)?;
        say(format_args!(
            "quick run; the table is in {} (docs/benchmarks.md is left alone)",
            path.display()
        ));
    } else {
        write_docs(&report)?;
    }
    Ok(())
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The request for `tool` in the given protocol style, with `token`.
fn call_for(subject: &Subject, protocol: Protocol, token: &str) -> Call {
    let mut headers = vec![
        ("Authorization".to_owned(), format!("Bearer {token}")),
        (
            "MCP-Protocol-Version".to_owned(),
            protocol.version().to_owned(),
        ),
    ];
    let mut params = json!({"name": subject.tool, "arguments": subject.arguments});
    if protocol == Protocol::Modern {
        headers.push(("Mcp-Method".to_owned(), "tools/call".to_owned()));
        headers.push(("Mcp-Name".to_owned(), subject.tool.to_owned()));
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": protocol.version(),
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "wrk", "version": "4.1.0"},
        });
    }
    Call {
        headers,
        body: json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
            .to_string(),
        expect: subject.expect.to_owned(),
        expect_count: subject.expect_count,
    }
}

/// One checked call: a successful result that contains `expect` at least `expect_count` times.
async fn checked_call(http: &reqwest::Client, url: &str, call: &Call) -> anyhow::Result<()> {
    call_once(http, url, call).await.map(drop)
}

/// What every measurement needs.
struct Bench<'a> {
    plan: &'a Plan,
    http: &'a reqwest::Client,
    idp: &'a BenchIdp,
}

/// A subject's server after its cold starts, idle and ready to be driven.
struct Running<'a> {
    subject: &'a Subject,
    server: Server,
    url: String,
    token: String,
    cold_starts: Vec<(Duration, Duration)>,
    idle_rss_kib: u64,
    runs: Vec<(Protocol, ProtocolRuns)>,
}

impl Bench<'_> {
    /// Measures `ours` and `peer` point by point, taking turns (ours at c = 1, the peer at
    /// c = 1, ours at c = 16, ...), so that a slow minute of a shared machine falls on both
    /// sides of a ratio rather than on one. The peer's failures are its result, not fatal.
    async fn pair(
        &self,
        ours: &Subject,
        peer: Option<&Subject>,
        connections: &[u32],
        duration: Duration,
    ) -> anyhow::Result<(Figures, Option<Result<Figures, String>>)> {
        let mut ours = self.launch(ours).await?;
        let peer_name = peer.map_or("", |p| p.launch.name);
        let mut peer = match peer {
            Some(subject) => Some(self.launch(subject).await.map_err(|e| format!("{e:#}"))),
            None => None,
        };
        for &protocol in ours.subject.protocols {
            // Ours must answer (`must_answer`), so a refusal is an error above, never `None`.
            let call = ours
                .check(self.http, protocol)
                .await?
                .context("splunk-mcp skipped a protocol")?;
            let mut peer_call = match &mut peer {
                Some(Ok(running)) if running.subject.protocols.contains(&protocol) => {
                    match running.check(self.http, protocol).await {
                        Ok(call) => call,
                        Err(error) => {
                            peer = Some(Err(format!("{error:#}")));
                            None
                        }
                    }
                }
                _ => None,
            };
            let mut figures = Vec::new();
            let mut peer_figures = Vec::new();
            for &c in connections {
                figures.push((c, self.drive(&ours, &call, protocol, c, duration).await?));
                if let (Some(Ok(running)), Some(pc)) = (&peer, &peer_call) {
                    match self.drive(running, pc, protocol, c, duration).await {
                        Ok(load) => peer_figures.push((c, load)),
                        Err(error) => {
                            peer = Some(Err(format!("{error:#}")));
                            peer_call = None;
                        }
                    }
                }
            }
            ours.after_load(self.http, &call, protocol, figures).await?;
            if let (Some(Ok(running)), Some(pc)) = (&mut peer, &peer_call)
                && let Err(error) = running
                    .after_load(self.http, pc, protocol, peer_figures)
                    .await
            {
                peer = Some(Err(format!("{error:#}")));
            }
        }
        let peer = match peer {
            Some(Ok(running)) => Some(running.finish().await.map_err(|e| format!("{e:#}"))),
            Some(Err(error)) => {
                say(format_args!("{peer_name} could not be measured: {error}"));
                Some(Err(error))
            }
            None => None,
        };
        Ok((ours.finish().await?, peer))
    }

    /// Launches `subject`'s server `plan.cold_starts` times, timing each start; keeps the last.
    async fn launch<'s>(&self, subject: &'s Subject) -> anyhow::Result<Running<'s>> {
        let label = subject.launch.name;
        let mut cold_starts = Vec::new();
        for launch in 1..=self.plan.cold_starts {
            let server = subject.launch.start().await?;
            let url = format!("{}/mcp", server.base);
            let token = self.idp.token(&url, subject.scope)?;
            let call = call_for(subject, Protocol::Legacy, &token);
            let first_call = first_success(self.http, &url, subject, &call, &server).await?;
            say(format_args!(
                "{label} cold start {launch}: port after {:.1} ms, first call after {:.1} ms",
                ms(server.port_after),
                ms(first_call)
            ));
            cold_starts.push((server.port_after, first_call));
            if launch < self.plan.cold_starts {
                server.stop().await?;
                continue;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let idle_rss_kib = super::resident_kib(server.pid)?;
            return Ok(Running {
                subject,
                server,
                url,
                token,
                cold_starts,
                idle_rss_kib,
                runs: Vec::new(),
            });
        }
        bail!("no launch planned")
    }

    /// One wrk run against a running server.
    async fn drive(
        &self,
        running: &Running<'_>,
        call: &Call,
        protocol: Protocol,
        c: u32,
        duration: Duration,
    ) -> anyhow::Result<LoadFigures> {
        let label = running.subject.launch.name;
        let load = run_wrk(&running.url, call, c, duration).await?;
        say(format_args!(
            "{label} {} c={c}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            protocol.version(),
            load.rate(),
            ms(load.p50),
            ms(load.p99),
            load.errors()
        ));
        if self.plan.quick && (load.errors() > 0 || load.requests == 0) {
            bail!(
                "{label} {} c={c}: {} requests, {} failed; see target/xtask-logs/bench-{label}.log",
                protocol.version(),
                load.requests,
                load.errors()
            );
        }
        Ok(load)
    }
}

impl Running<'_> {
    /// The call in `protocol` after one checked answer; `None` when a peer does not answer
    /// that protocol (recorded with the reason). Ours must answer.
    async fn check(
        &mut self,
        http: &reqwest::Client,
        protocol: Protocol,
    ) -> anyhow::Result<Option<Call>> {
        let label = self.subject.launch.name;
        let call = call_for(self.subject, protocol, &self.token);
        match checked_call(http, &self.url, &call).await {
            Ok(()) => Ok(Some(call)),
            Err(error) if self.subject.must_answer => {
                Err(error.context(format!("{label} refused a {} call", protocol.version())))
            }
            Err(error) => {
                say(format_args!(
                    "{label} does not answer a {} call: {error:#}",
                    protocol.version()
                ));
                self.runs.push((protocol, Err(format!("{error:#}"))));
                Ok(None)
            }
        }
    }

    /// Whatever wrk saw, the server must still answer correctly afterwards.
    async fn after_load(
        &mut self,
        http: &reqwest::Client,
        call: &Call,
        protocol: Protocol,
        figures: Vec<(u32, LoadFigures)>,
    ) -> anyhow::Result<()> {
        checked_call(http, &self.url, call)
            .await
            .with_context(|| format!("{} after the load", self.subject.launch.name))?;
        self.runs.push((protocol, Ok(figures)));
        Ok(())
    }

    /// Memory after the load; stops the server.
    async fn finish(self) -> anyhow::Result<Figures> {
        let loaded_rss_kib = super::resident_kib(self.server.pid)?;
        self.server.stop().await?;
        Ok(Figures {
            cold_starts: self.cold_starts,
            idle_rss_kib: self.idle_rss_kib,
            loaded_rss_kib,
            runs: self.runs,
        })
    }
}

/// Calls until the first successful answer; the time since launch.
async fn first_success(
    http: &reqwest::Client,
    url: &str,
    subject: &Subject,
    call: &Call,
    server: &Server,
) -> anyhow::Result<Duration> {
    let deadline = server.launched + Duration::from_secs(60);
    loop {
        match checked_call(http, url, call).await {
            Ok(()) => return Ok(server.launched.elapsed()),
            // Only a connection that fails is worth another try: a wrong answer stays wrong.
            Err(error) if error.downcast_ref::<reqwest::Error>().is_none() => {
                return Err(error.context(format!("{}'s first call", subject.launch.name)));
            }
            Err(error) if std::time::Instant::now() > deadline => {
                return Err(error.context(format!(
                    "{} gave no successful answer within 60 s of its launch",
                    subject.launch.name
                )));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Installs wrk with apt-get when it is missing (the bench machines are Debian).
async fn ensure_wrk() -> anyhow::Result<()> {
    if on_path("wrk") {
        return Ok(());
    }
    if super::run_step(
        "install wrk",
        "apt-get",
        &["install", "-y", "wrk"].map(std::ffi::OsStr::new),
    )
    .await
    .is_err()
    {
        super::run_step("update the apt index", "apt-get", &["update".as_ref()]).await?;
        super::run_step(
            "install wrk",
            "apt-get",
            &["install", "-y", "wrk"].map(std::ffi::OsStr::new),
        )
        .await
        .context("wrk is needed: install it (apt-get install wrk) and run again")?;
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The peers' interpreters, each in its own venv under target/ with pinned requirements.
struct Peers {
    fastmcp: PathBuf,
    splunk: PathBuf,
    /// Bytes of the two venvs' installed packages (their "binary size").
    install_bytes: (u64, u64),
}

async fn python_peers() -> anyhow::Result<Peers> {
    let dir = workspace_root().join("xtask/bench-peers");
    let (fastmcp, fastmcp_venv) =
        peer_venv("fastmcp", &dir.join("requirements-fastmcp.txt")).await?;
    let (splunk, splunk_venv) = peer_venv("splunk", &dir.join("requirements-splunk.txt")).await?;
    Ok(Peers {
        fastmcp,
        splunk,
        install_bytes: (dir_bytes(&fastmcp_venv), dir_bytes(&splunk_venv)),
    })
}

/// `target/bench-peers-<name>` with `requirements` installed (again only when they changed).
async fn peer_venv(name: &str, requirements: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let venv = workspace_root()
        .join("target")
        .join(format!("bench-peers-{name}"));
    let python = venv.join("bin").join("python");
    let marker = venv.join(".bench-requirements");
    let wanted = std::fs::read_to_string(requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    if python.exists() && std::fs::read_to_string(&marker).ok().as_deref() == Some(&wanted) {
        return Ok((python, venv));
    }
    if !python.exists() {
        super::run_step(
            &format!("create the {name} venv"),
            "python3",
            &["-m".as_ref(), "venv".as_ref(), venv.as_os_str()],
        )
        .await?;
    }
    super::run_step(
        &format!("install the {name} peer's pinned requirements"),
        venv.join("bin").join("pip"),
        &[
            "install".as_ref(),
            "--quiet".as_ref(),
            "--disable-pip-version-check".as_ref(),
            "-r".as_ref(),
            requirements.as_os_str(),
        ],
    )
    .await?;
    std::fs::write(&marker, wanted)?;
    Ok((python, venv))
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => dir_bytes(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// The emulator with TLS (mcp-server-for-splunk speaks https only), on the load core.
async fn start_emulator(profile: &str) -> anyhow::Result<Service> {
    let mut command = isolated_command("taskset");
    command
        .args(["-c", LOAD_CORE])
        .arg(built_binary(profile, "splunk-emulator"))
        .args(["--bind", "127.0.0.1:0", "--tls"]);
    Service::start_command("splunk-emulator-compare", command).await
}

/// auth-core's criterion figures (warm RS256/ES256/EdDSA, the non-crypto part of RS256, cached)
/// and splunk-client's export figures.
async fn micro() -> anyhow::Result<Micro> {
    cargo(
        "auth-core verification benches (criterion)",
        &[
            "bench",
            "--package",
            "auth-core",
            "--bench",
            "verify",
            "--",
            "verify_rs256_warm|rs256_parse_and_claims_only|rs256_signature_only_openssl_bare|verify_es256_warm|verify_eddsa_warm|verify_cached_rs256",
        ],
    )
    .await?;
    let export = super::client_export(false).await?;
    Ok(Micro {
        rs256_warm: criterion_median("verify_rs256_warm")?,
        rs256_parse: criterion_median("rs256_parse_and_claims_only")?,
        rs256_rsa_op: criterion_median("rs256_signature_only_openssl_bare")?,
        es256_warm: criterion_median("verify_es256_warm")?,
        eddsa_warm: criterion_median("verify_eddsa_warm")?,
        cached: criterion_median("verify_cached_rs256")?,
        export,
    })
}

/// The median criterion just measured for `bench`, from its estimates.json.
fn criterion_median(bench: &str) -> anyhow::Result<Duration> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let path = target
        .join("criterion")
        .join(bench)
        .join("new/estimates.json");
    let estimates: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let nanos = estimates
        .pointer("/median/point_estimate")
        .and_then(Value::as_f64)
        .with_context(|| format!("{} lacks median.point_estimate", path.display()))?;
    Ok(Duration::from_secs_f64(nanos / 1e9))
}

/// splunk-mcp's size as cargo built it and with all symbols stripped.
struct BinarySizes {
    built: u64,
    stripped: Option<u64>,
}

impl BinarySizes {
    async fn of(binary: &Path) -> anyhow::Result<Self> {
        let built = std::fs::metadata(binary)
            .with_context(|| format!("size of {}", binary.display()))?
            .len();
        let copy = workspace_root().join("target/bench-run/splunk-mcp.stripped");
        let stripped = match tokio::process::Command::new("strip")
            .arg("-o")
            .arg(&copy)
            .arg(binary)
            .status()
            .await
        {
            Ok(status) if status.success() => std::fs::metadata(&copy).ok().map(|m| m.len()),
            _ => None,
        };
        std::fs::remove_file(&copy).ok();
        Ok(Self { built, stripped })
    }
}

struct Report<'a> {
    plan: &'a Plan,
    profile: &'a str,
    load_at_start: &'a str,
    load_at_measure: &'a str,
    ours_whoami: &'a Figures,
    ours_search: &'a Figures,
    /// Bytes and tokens of one search answer of splunk-mcp and of mcp-server-for-splunk.
    context: &'a ContextFigures,
    /// FastMCP, mcp-server-for-splunk, and the bytes of their venvs.
    peers: Option<&'a PeerFigures>,
    micro: Option<&'a Micro>,
    sizes: BinarySizes,
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// The cell of a target: met, or missed in bold.
pub(super) fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn load_cells(figures: Option<&LoadFigures>) -> (String, String, String) {
    match figures {
        Some(f) => (
            format!("{:.0}", f.rate()),
            format!("{:.2} / {:.2}", ms(f.p50), ms(f.p99)),
            f.errors().to_string(),
        ),
        None => ("–".into(), "–".into(), "–".into()),
    }
}

impl Report<'_> {
    fn render(&self) -> anyhow::Result<String> {
        let mut out = String::new();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
                })
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let date = std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let plan = self.plan;
        writeln!(
            out,
            "Run of `cargo xtask bench compare{}`, finished {date}.",
            if plan.quick { " --quick" } else { "" }
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "Machine: {cores} cores (nproc), {cpu}, Linux {}; load average (1, 5, 15 min) when the \
             run started: {}, when the measurements began (after the builds): {}. Binaries: {} profile.",
            kernel.trim(),
            three(self.load_at_start),
            three(self.load_at_measure),
            self.profile
        )?;
        let fastmcp = self.peers.map(|p| &p.fastmcp);
        let deslicer = self.peers.and_then(|p| p.deslicer.as_ref().ok());
        let deslicer_failure = self.peers.and_then(|p| p.deslicer.as_ref().err());

        writeln!(out)?;
        writeln!(
            out,
            "### Protocol path: `tools/call` whoami, RS256 JWT, {} s per point",
            plan.protocol_duration.as_secs()
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "| protocol | c | splunk-mcp req/s | FastMCP req/s | ratio | splunk-mcp p50 / p99 ms | FastMCP p50 / p99 ms | p99 ratio | errors (ours / FastMCP) | target at c=64 |"
        )?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")?;
        for protocol in [Protocol::Legacy, Protocol::Modern] {
            for &c in plan.protocol_connections {
                let ours = self.ours_whoami.run(protocol, c);
                let theirs = fastmcp.and_then(|f| f.run(protocol, c));
                let (our_rate, our_lat, our_err) = load_cells(ours);
                let (their_rate, their_lat, their_err) =
                    match (fastmcp, fastmcp.and_then(|f| f.unsupported(protocol))) {
                        (_, Some(_)) => ("not supported".into(), "–".into(), "–".into()),
                        (None, _) => ("not run".into(), "–".into(), "–".into()),
                        _ => load_cells(theirs),
                    };
                let (ratio, p99_ratio, target) = match (ours, theirs) {
                    (Some(o), Some(t)) => {
                        let ratio = o.rate() / t.rate().max(f64::EPSILON);
                        let p99 = t.p99.as_secs_f64() / o.p99.as_secs_f64().max(1e-9);
                        let target = if c == 64 {
                            format!(
                                "≥ 25× req/s: {}; p99 ≤ 1/10: {}",
                                verdict(ratio >= 25.0),
                                verdict(p99 >= 10.0)
                            )
                        } else {
                            String::new()
                        };
                        (format!("{ratio:.1}×"), format!("{p99:.1}× lower"), target)
                    }
                    _ => ("–".into(), "–".into(), String::new()),
                };
                writeln!(
                    out,
                    "| {} | {c} | {our_rate} | {their_rate} | {ratio} | {our_lat} | {their_lat} | {p99_ratio} | {our_err} / {their_err} | {target} |",
                    protocol.version()
                )?;
            }
        }
        if let Some(reason) = fastmcp.and_then(|f| f.unsupported(Protocol::Modern)) {
            writeln!(out)?;
            writeln!(
                out,
                "FastMCP refused the 2026-07-28 request: {}",
                reason.replace('\n', " ")
            )?;
        }

        writeln!(out)?;
        writeln!(
            out,
            "### Search path: `| makeresults count=100` on the emulator, protocol 2025-11-25, {} s per point (no target set)",
            plan.search_duration.as_secs()
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "| c | splunk-mcp req/s | mcp-server-for-splunk req/s | ratio | splunk-mcp p50 / p99 ms | mcp-server-for-splunk p50 / p99 ms | p99 ratio | errors (ours / theirs) |"
        )?;
        writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|")?;
        for &c in plan.search_connections {
            let ours = self.ours_search.run(Protocol::Legacy, c);
            let theirs = deslicer.and_then(|d| d.run(Protocol::Legacy, c));
            let (our_rate, our_lat, our_err) = load_cells(ours);
            let (their_rate, their_lat, their_err) = if deslicer.is_none() {
                ("not run".into(), "–".into(), "–".into())
            } else {
                load_cells(theirs)
            };
            let (ratio, p99_ratio) = match (ours, theirs) {
                (Some(o), Some(t)) => (
                    format!("{:.1}×", o.rate() / t.rate().max(f64::EPSILON)),
                    format!(
                        "{:.1}× lower",
                        t.p99.as_secs_f64() / o.p99.as_secs_f64().max(1e-9)
                    ),
                ),
                _ => ("–".into(), "–".into()),
            };
            writeln!(
                out,
                "| {c} | {our_rate} | {their_rate} | {ratio} | {our_lat} | {their_lat} | {p99_ratio} | {our_err} / {their_err} |"
            )?;
        }
        if let Some(reason) = deslicer_failure
            .map(String::as_str)
            .or_else(|| deslicer.and_then(|d| d.unsupported(Protocol::Legacy)))
        {
            writeln!(out)?;
            writeln!(
                out,
                "mcp-server-for-splunk could not be measured: {}",
                reason.replace('\n', " ")
            )?;
        }

        writeln!(out)?;
        super::context::render(&mut out, self.context)?;

        writeln!(out)?;
        writeln!(
            out,
            "### Resource use (cold start: median of {} launch(es); the first call is the whoami \
             in the protocol columns, the search in the search columns)",
            plan.cold_starts
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "| measure | splunk-mcp | FastMCP | ratio | splunk-mcp (search config) | mcp-server-for-splunk | ratio | target |"
        )?;
        writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|")?;
        let cell =
            |figures: Option<&Figures>, f: &dyn Fn(&Figures) -> f64| figures.map_or(f64::NAN, f);
        let loaded = format!(
            "RSS after the load, last run c={} (MB)",
            plan.protocol_connections
                .last()
                .copied()
                .unwrap_or_default()
        );
        let rows: [ResourceRow<'_>; 4] = [
            (
                "idle RSS (MB)",
                &|f| mb(f.idle_rss_kib),
                "≤ 20 MB",
                Some(20.0),
            ),
            (&loaded, &|f| mb(f.loaded_rss_kib), "", None),
            (
                "cold start: launch → port answers (ms)",
                &|f| ms(f.cold_start().0),
                "",
                None,
            ),
            (
                "cold start: launch → first successful call (ms)",
                &|f| ms(f.cold_start().1),
                "≤ 50 ms",
                Some(50.0),
            ),
        ];
        for (name, get, target, limit) in rows {
            let (o, t) = (cell(Some(self.ours_whoami), get), cell(fastmcp, get));
            let (os, ds) = (cell(Some(self.ours_search), get), cell(deslicer, get));
            let target = match limit {
                Some(limit) => format!("{target}: {}", verdict(o <= limit)),
                None => String::new(),
            };
            writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} | {} | {target} |",
                num(o),
                num(t),
                ratio(t, o),
                num(os),
                num(ds),
                ratio(ds, os)
            )?;
        }
        let (fastmcp_bytes, deslicer_bytes) = self.peers.map_or((0, 0), |p| p.venv_bytes);
        writeln!(
            out,
            "| size on disk (MB): splunk-mcp binary as built{} vs the peer's venv | {:.1} | {} | | | {} | | |",
            self.sizes
                .stripped
                .map(|s| format!(" ({:.1} MB fully stripped)", s as f64 / 1e6))
                .unwrap_or_default(),
            self.sizes.built as f64 / 1e6,
            if fastmcp_bytes > 0 {
                format!("{:.1}", fastmcp_bytes as f64 / 1e6)
            } else {
                "–".into()
            },
            if deslicer_bytes > 0 {
                format!("{:.1}", deslicer_bytes as f64 / 1e6)
            } else {
                "–".into()
            },
        )?;

        writeln!(out)?;
        writeln!(out, "### Micro")?;
        writeln!(out)?;
        match self.micro {
            Some(micro) => {
                writeln!(out, "| measure | figure | target |")?;
                writeln!(out, "|---|---:|---|")?;
                let us = |d: Duration| d.as_secs_f64() * 1e6;
                writeln!(
                    out,
                    "| auth-core verify, RS256, warm JWKS (criterion median) | {:.1} µs | ≤ 30 µs: {} |",
                    us(micro.rs256_warm),
                    verdict(us(micro.rs256_warm) <= 30.0)
                )?;
                writeln!(
                    out,
                    "| of which JWT parsing and claim checks (no signature) | {:.1} µs | |",
                    us(micro.rs256_parse)
                )?;
                writeln!(
                    out,
                    "| of which the RSA-2048 public-key operation alone (OpenSSL) | {:.1} µs | |",
                    us(micro.rs256_rsa_op)
                )?;
                writeln!(
                    out,
                    "| auth-core verify, ES256, warm JWKS | {:.1} µs | none set |",
                    us(micro.es256_warm)
                )?;
                writeln!(
                    out,
                    "| auth-core verify, EdDSA (Ed25519), warm JWKS | {:.1} µs | none set |",
                    us(micro.eddsa_warm)
                )?;
                writeln!(
                    out,
                    "| auth-core verify, cached token | {:.2} µs | ≤ 3 µs: {} |",
                    us(micro.cached),
                    verdict(us(micro.cached) <= 3.0)
                )?;
                let e = &micro.export;
                writeln!(
                    out,
                    "| splunk-client export over HTTP from the emulator, {} rows | {:.0} rows/s ({:.1}× splunk-sdk's {:.0}) | none set |",
                    e.rows,
                    e.network.0,
                    e.network.0 / e.network.1.max(f64::EPSILON),
                    e.network.1
                )?;
                writeln!(
                    out,
                    "| splunk-client ExportDecoder on a saved body, {} rows | {:.0} rows/s ({:.1}× splunk-sdk's {:.0}) | none set |",
                    e.rows,
                    e.file.0,
                    e.file.0 / e.file.1.max(f64::EPSILON),
                    e.file.1
                )?;
            }
            None => writeln!(
                out,
                "Skipped in --quick (criterion and the 1M-row export take minutes)."
            )?,
        }
        writeln!(out)?;
        writeln!(
            out,
            "Load: `{}` per point (one wrk thread; c = connections).",
            super::load::wrk_command_line(64, plan.protocol_duration)
        )?;
        Ok(out)
    }
}

/// The three load averages of a /proc/loadavg line.
fn three(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(", ")
}

fn num(value: f64) -> String {
    if value.is_nan() {
        "–".into()
    } else {
        format!("{value:.1}")
    }
}

/// How many times `bigger` is `smaller` (peer ÷ ours for memory and time: higher is better for us).
fn ratio(bigger: f64, smaller: f64) -> String {
    if bigger.is_nan() || smaller.is_nan() || smaller <= 0.0 {
        "–".into()
    } else {
        format!("{:.1}×", bigger / smaller)
    }
}

/// Replaces the generated part of docs/benchmarks.md (between the markers), keeping the prose.
fn write_docs(report: &str) -> anyhow::Result<()> {
    const BEGIN: &str = "<!-- cargo xtask bench compare: begin -->";
    const END: &str = "<!-- cargo xtask bench compare: end -->";
    let path = workspace_root().join("docs/benchmarks.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = format!("{BEGIN}\n{report}{END}");
    let updated = match (current.find(BEGIN), current.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!(
                "{}{generated}{}",
                &current[..begin],
                &current[end + END.len()..]
            )
        }
        _ => format!("# Benchmarks\n\n{generated}\n"),
    };
    std::fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))?;
    say(format_args!("wrote {}", path.display()));
    Ok(())
}
