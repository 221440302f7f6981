//! Configuration of an emulator instance: where it listens, its secrets, timings and faults.

use std::net::SocketAddr;

use serde::Deserialize;

/// How an emulator instance is set up. Every field has a default, so an empty TOML file is valid.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmulatorConfig {
    /// Address to listen on; port 0 picks a free port (the default `127.0.0.1:0`).
    pub bind: SocketAddr,
    /// Serve HTTPS with a generated certificate (like a fresh Splunk) instead of plain HTTP.
    pub tls: bool,
    /// Password of the built-in `admin` user (default `changeme`).
    pub admin_password: String,
    /// Lifetime of a session key from `POST /services/auth/login`, in seconds (default 3600).
    pub session_ttl_secs: u64,
    /// Time a finished ad hoc search job is kept, in seconds (default 600, as Splunk's `ttl`).
    pub job_ttl_secs: u64,
    /// How long a job (`normal` or `blocking`) stays `QUEUED` before it runs, in milliseconds
    /// (default 50).
    pub job_queue_delay_ms: u64,
    /// Minimum time a job spends `RUNNING`, so clients can watch `doneProgress` (default 150 ms).
    pub job_min_run_ms: u64,
    /// Size of the synthetic `bench` index (default 1 000 000 events).
    pub bench_events: u64,
    /// Extra PEM certificates trusted when fetching an IdP's JWKS over HTTPS.
    pub idp_ca_pem: Option<String>,
    /// `serverName` and `host` reported by `server/info`.
    pub server_name: String,
    /// Faults active from the start; change them later with `RunningEmulator::set_faults`.
    pub faults: FaultConfig,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            admin_password: "changeme".to_owned(),
            session_ttl_secs: 3600,
            job_ttl_secs: 600,
            job_queue_delay_ms: 50,
            job_min_run_ms: 150,
            bench_events: 1_000_000,
            idp_ca_pem: None,
            server_name: "splunk-emulator".to_owned(),
            faults: FaultConfig::default(),
        }
    }
}

impl EmulatorConfig {
    /// Reads a configuration from TOML text; missing fields take their defaults.
    pub fn from_toml_str(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

/// Faults injected into every answer, for reliability tests. Settable at runtime.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Delay added before every answer, in milliseconds.
    pub latency_ms: u64,
    /// Fraction (0.0..=1.0) of requests answered `503 Service Unavailable`.
    pub error_fraction: f64,
    /// Fraction (0.0..=1.0) of requests whose connection is closed without an answer.
    pub drop_fraction: f64,
    /// When set, session keys older than this many seconds are rejected as expired, whatever
    /// their configured lifetime ("session keys expiring early").
    pub session_ttl_secs: Option<u64>,
}
