//! The test world of splunk-mcp, as a library: the real OpenID provider under `tests/idp`
//! (oidc-provider, a `node` child process), the OAuth steps a client takes against it (the
//! authorization code flow with PKCE through its automated login, client credentials, refresh,
//! introspection, revocation), and the REST calls that make a Splunk emulator trust it.
//!
//! Used by this crate's own end-to-end tests (`tests/e2e/main.rs`), by the binary's integration
//! tests (`bins/splunk-mcp/tests`) and by `cargo xtask`. Everything talks HTTP only; both
//! services are black boxes.
//!
//! ```text
//! let http = e2e_tests::http_client();
//! let idp = e2e_tests::Idp::start(&["--extra-audience", "splunk"]).await;
//! let tokens = idp.sign_in(&http, &SignIn::new("alice").for_resource(&mcp_url)).await;
//! e2e_tests::trust_idp(&http, emulator.url(), "test-idp", &idp).await?;
//! e2e_tests::map_test_groups(&http, emulator.url()).await?;
//! ```
//!
//! Test helpers panic with a message that says what went wrong; the few calls `cargo xtask`
//! makes outside tests ([`Idp::spawn`], [`Idp::shut_down`], [`trust_idp`], [`map_group`],
//! [`RedisServer::pause`]) return [`WorldError`].

mod browser;
mod consent;
mod idp;
mod redis;
mod splunk;

pub use browser::{Browser, BrowserError, Visit, query_param};
pub use consent::{ConsentForm, html_unescape};
pub use idp::{
    ACCESS_TOKEN_TYPE, CONFIDENTIAL, ID_JAG_TYPE, ID_TOKEN_TYPE, Idp, IdpOptions, JWT_BEARER_GRANT,
    JWT_TOKEN_TYPE, MCP_RESOURCE, NO_EXCHANGE, OAuthClient, PUBLIC, Pkce, REDIRECT_URI, SignIn,
    TOKEN_EXCHANGE_GRANT, jwt_claims,
};
pub use redis::RedisServer;
pub use splunk::{GROUP_ROLES, World, indexes_seen, map_group, map_test_groups, trust_idp};

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What can go wrong when starting or configuring the test world outside a test.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// `tests/idp/node_modules` is missing.
    #[error("{0} is missing: run `npm ci` in tests/idp (`cargo xtask test` does it)")]
    IdpNotInstalled(PathBuf),
    /// `node` could not be started.
    #[error("cannot start `node` for the IdP ({0}); is Node.js 20.19+ installed and on PATH?")]
    NodeMissing(#[source] std::io::Error),
    /// The IdP's log file could not be created.
    #[error("cannot create the IdP log file {path}: {source}")]
    LogFile {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The IdP did not print its issuer in time, or exited first.
    #[error("the IdP did not start ({reason}); see its log {}", log.display())]
    IdpNotReady {
        /// Timeout or early exit.
        reason: &'static str,
        /// The IdP's stderr.
        log: PathBuf,
    },
    /// An HTTP request failed.
    #[error("{what}: {source}")]
    Http {
        /// The request.
        what: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// A signal could not be sent to a service (`kill -SIGNAL PID` failed).
    #[error("cannot send SIG{signal} to {service} (pid {pid}): {reason}")]
    Signal {
        /// The service.
        service: &'static str,
        /// The signal's name without `SIG`.
        signal: &'static str,
        /// Its process id.
        pid: u32,
        /// Why.
        reason: String,
    },
    /// A service did not stop in time after being asked to.
    #[error("{service} did not exit within {seconds} s of SIGTERM")]
    NotStopped {
        /// The service.
        service: &'static str,
        /// How long it was given.
        seconds: u64,
    },
    /// A service answered with an unexpected status.
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        /// The request.
        what: String,
        /// The status it got.
        status: reqwest::StatusCode,
        /// The body it got.
        body: String,
    },
}

/// The workspace root (this crate lives at `tests/e2e`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/e2e sits two levels below the workspace root")
        .to_path_buf()
}

/// Sends `signal` (a name such as `TERM`, `STOP`, `CONT`) to process `pid` of `service` with
/// `kill`, which every Unix has; the test world needs no signal crate for three signals.
fn send_signal(service: &'static str, pid: u32, signal: &'static str) -> Result<(), WorldError> {
    let failed = |reason: String| WorldError::Signal {
        service,
        signal,
        pid,
        reason,
    };
    let output = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot run `kill`: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(failed(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ))
    }
}

/// An HTTP client that follows no redirects (the sign-in steps are checked one by one), with a
/// 30 s timeout. Installs ring as rustls' process-wide provider first (reqwest has none built in).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}
