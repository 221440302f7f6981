//! `cargo xtask`: the project's one entry point for tests, the demo and benchmarks.
//!
//! It owns the test world: it builds what is needed, starts services on free loopback ports,
//! waits for them, and stops them again even when a step fails.

mod bench;
mod demo;
mod npm;
mod process;
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
    /// Format check, clippy (-D warnings), then every unit and integration test from one build.
    Test,
    /// Start the Splunk emulator with its sample data and print how to query it; Ctrl-C stops it.
    Demo {
        /// Address the emulator binds to.
        #[arg(long, default_value = "127.0.0.1:8089")]
        bind: String,
        /// Serve HTTPS with a self-signed certificate, like a fresh Splunk.
        #[arg(long)]
        tls: bool,
    },
    /// Measurements: `export` streams 10k, 100k and 1M rows out of the emulator and reports its memory.
    Bench {
        /// What to measure.
        #[arg(value_enum, default_value = "export")]
        target: bench::Target,
        /// A short smoke run (10k rows only), so the harness cannot rot.
        #[arg(long)]
        quick: bool,
    },
}

fn main() -> anyhow::Result<()> {
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
            Command::Demo { bind, tls } => demo::run(&bind, tls).await,
            Command::Bench { target, quick } => bench::run(target, quick).await,
        }
    })
}
