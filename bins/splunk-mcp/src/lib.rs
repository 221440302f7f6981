//! splunk-mcp: the MCP server for Splunk, as a library so the binary stays a thin `main`.
//!
//! - [`cli`]: the command line (clap).
//! - [`config`]: defaults, TOML file, environment and flags resolved into [`config::Settings`].
//! - [`app`]: wiring: verifiers, Splunk credentials and the tools built from the settings, and
//!   the two transports (stdio, streamable HTTP).
//! - [`http`]: the HTTP routes: `/mcp` behind the auth layer, RFC 9728 metadata, health and metrics.
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`doctor`]: `splunk-mcp doctor`, the checks an operator runs before going live.
//! - [`logging`]: tracing subscriber set-up (text or JSON).

pub mod app;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod http;
pub mod logging;
pub mod metrics;
