//! The `splunk-mcp` binary: parses the command line, loads the configuration and runs the
//! chosen command. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use splunk_mcp::cli::{Cli, Command, ConfigCommand, MirrorCommand};
use splunk_mcp::{app, config, doctor, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&cli) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("splunk-mcp: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Config(ConfigCommand::Check)) = &cli.command {
        print!("{}", config::render_redacted(&settings));
        return ExitCode::SUCCESS;
    }
    if let Err(e) = logging::init(&settings.server) {
        eprintln!("splunk-mcp: {e:#}");
        return ExitCode::from(2);
    }
    // reqwest is built without a bundled crypto provider so the whole tree shares ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("splunk-mcp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            None | Some(Command::Serve) => app::serve(settings).await.map(|()| ExitCode::SUCCESS),
            Some(Command::Doctor { token }) => doctor::run(&settings, token.as_deref()).await,
            Some(Command::Mirror(MirrorCommand::Cleanup)) => app::mirror_cleanup(&settings)
                .await
                .map(|()| ExitCode::SUCCESS),
            Some(Command::Config(ConfigCommand::Check)) => Ok(ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "splunk-mcp failed");
            eprintln!("splunk-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}
