//! The command line: `splunk-mcp [serve] | config check | doctor | mirror cleanup`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// MCP server for Splunk with OAuth 2.1 and per-user Splunk identity.
#[derive(Debug, Parser)]
#[command(name = "splunk-mcp", version, about)]
pub struct Cli {
    /// TOML configuration file (`MCP_CONFIG_FILE`).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Flags of `serve`, also accepted without the subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do (default `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP server (the default).
    Serve,
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check the IdP, Splunk, and whether Splunk accepts a token; prints a verdict per check.
    Doctor {
        /// An access token to try against Splunk's current-context (as passthrough would).
        #[arg(long, value_name = "JWT")]
        token: Option<String>,
    },
    /// Mirror-user commands.
    #[command(subcommand)]
    Mirror(MirrorCommand),
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration with secrets redacted; exit 2 if it is invalid.
    Check,
}

/// `mirror` subcommands.
#[derive(Debug, Subcommand)]
pub enum MirrorCommand {
    /// Delete expired tokens of mirror users.
    Cleanup,
}

/// Flags of `serve` (each overrides its environment variable and TOML key). The two switches
/// only ever turn their setting on; `false` means "not given", so the environment or file decides.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// `stdio` or `http` (`MCP_TRANSPORT`).
    #[arg(long, global = true, value_name = "stdio|http")]
    pub transport: Option<String>,
    /// Listen address for HTTP (`MCP_BIND`).
    #[arg(long, global = true, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Public URL of this server (`MCP_BASE_URL`).
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// No MCP sessions, for load-balanced replicas (`MCP_STATELESS`).
    #[arg(long, global = true)]
    pub stateless: bool,
    /// Permit auth mode `none` on a non-loopback address (`MCP_ALLOW_UNAUTHENTICATED`).
    #[arg(long, global = true)]
    pub allow_unauthenticated: bool,
    /// A TOML file of custom tools, re-read on SIGHUP (`MCP_TOOLS_FILE`).
    #[arg(long, global = true, value_name = "FILE")]
    pub tools_file: Option<String>,
    /// `text` or `json` (`MCP_LOG_FORMAT`).
    #[arg(long, global = true, value_name = "text|json")]
    pub log_format: Option<String>,
    /// A tracing filter such as `info` or `splunk_mcp=debug,info` (`MCP_LOG_LEVEL`, `RUST_LOG`).
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}
