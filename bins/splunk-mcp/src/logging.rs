//! The tracing subscriber: text or JSON lines on stderr (stdout carries MCP on stdio).

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, ServerSettings};

/// Installs the global subscriber for `settings.log_format` and `settings.log_level`.
///
/// Fails when the filter does not parse or a global subscriber is already installed.
pub fn init(settings: &ServerSettings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.log_level).with_context(|| {
        format!(
            "invalid log filter `{}` (MCP_LOG_LEVEL, RUST_LOG or --log-level); use a level such \
             as `info` or directives such as `splunk_mcp=debug,info`",
            settings.log_level
        )
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match settings.log_format {
        // Colours only when a person is likely reading: never in JSON, never into a pipe.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}
