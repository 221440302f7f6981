//! `cargo xtask`: the project's one entry point for tests, the demo and benchmarks.
//!
//! It owns the test world: it builds what is needed, starts services on free loopback ports,
//! waits for them, and stops them again even when a step fails.

mod bench;
mod demo;
mod deploy;
mod integration;
mod machine;
mod npm;
mod process;
mod progress;
mod test;
#[cfg(test)]
mod tidy;

use clap::{Parser, Subcommand};

/// Tasks for developers and CI.
#[derive(Parser)]
#[command(name = "cargo xtask", about, disable_version_flag = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Format check, clippy (-D warnings), every unit and integration test from one build, then
    /// `integration`.
    Test,
    /// The official MCP conformance suite against splunk-mcp (HTTP, with the Splunk emulator);
    /// fails unless exactly the scenarios in tests/clients/conformance-expected-failures.txt fail.
    Integration,
    /// Start splunk-mcp with OAuth in front of the Splunk emulator (by default as its own
    /// authorization server in front of the test IdP) and print how to connect; Ctrl-C stops
    /// everything.
    Demo {
        /// Address splunk-mcp binds to.
        #[arg(long, default_value = "127.0.0.1:8000")]
        bind: String,
        /// `proxy`: clients sign in through splunk-mcp itself (only the URL is needed);
        /// `jwt`: splunk-mcp checks the IdP's tokens, printed for alice and bob.
        #[arg(long, value_enum, default_value = "proxy")]
        mode: demo::Mode,
    },
    /// Measurements: `compare` (default) puts splunk-mcp beside the Python MCP servers under wrk
    /// and writes docs/benchmarks.md; `export` and `client-export` measure the export path.
    Bench {
        /// What to measure.
        #[arg(value_enum, default_value = "compare")]
        target: bench::Target,
        /// A short smoke run with the test build, so the harness cannot rot (part of `cargo xtask test`).
        #[arg(long)]
        quick: bool,
    },
}

fn main() -> anyhow::Result<()> {
    progress::start_clock();
    let cli = Cli::parse();
    // reqwest is built without a bundled crypto provider so the whole tree shares ring.
    rustls::crypto::ring::default_provider()
        .install_default()
        .map_err(|_| anyhow::anyhow!("a rustls crypto provider was already installed"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Test => test::run().await,
            Command::Integration => integration::run().await,
            Command::Demo { bind, mode } => demo::run(&bind, mode).await,
            Command::Bench { target, quick } => bench::run(target, quick).await,
        }
    })
}
