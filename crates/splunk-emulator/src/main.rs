//! The `splunk-emulator` binary: serves the emulator from a shell until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use splunk_emulator::{Emulator, EmulatorConfig};

/// A faithful emulator of Splunk 10.2's management REST API.
#[derive(Debug, Parser)]
#[command(name = "splunk-emulator", version)]
struct Args {
    /// Address to listen on (overrides the config file; without either, Splunk's 127.0.0.1:8089).
    #[arg(long)]
    bind: Option<SocketAddr>,
    /// Serve HTTPS with a generated certificate.
    #[arg(long)]
    tls: bool,
    /// TOML configuration file (see `EmulatorConfig`).
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "splunk_emulator=info".into()),
        )
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            EmulatorConfig::from_toml_str(&text)
                .with_context(|| format!("parsing {}", path.display()))?
        }
        None => EmulatorConfig::default(),
    };
    match (args.bind, &args.config) {
        (Some(bind), _) => config.bind = bind,
        (None, None) => config.bind = SocketAddr::from(([127, 0, 0, 1], 8089)),
        (None, Some(_)) => {}
    }
    if args.tls {
        config.tls = true;
    }
    let emulator = Emulator::start(config)
        .await
        .context("starting the emulator")?;
    println!("{}", emulator.url());
    if let Some(pem) = emulator.ca_certificate_pem() {
        let path = std::env::temp_dir().join(format!(
            "splunk-emulator-{}-ca.pem",
            emulator.local_addr().port()
        ));
        std::fs::write(&path, pem).with_context(|| format!("writing {}", path.display()))?;
        println!("CA certificate: {}", path.display());
    }
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    emulator.shutdown().await;
    Ok(())
}
