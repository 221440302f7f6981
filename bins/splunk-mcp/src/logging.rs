//! The tracing subscriber: text or JSON lines on stderr (stdout carries MCP on stdio).

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, ServerSettings};

/// Installs the global subscriber for `settings.log_format` and `settings.log_level`.
///
/// Fails when the filter does not parse or a global subscriber is already installed.
pub fn init(settings: &ServerSettings) -> anyhow::Result<()> {
    let filter = filter(&settings.log_level)?;
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

/// The filter for `level`. rmcp logs three `info` lines per stateless request (the client's
/// whole initialize parameters, "input stream terminated", "serve finished"): when `level` is
/// at most `info` they are left out, unless `level` names rmcp. They cost about 9% of a
/// stateless `tools/call` (callgrind, docs/benchmarks.md).
fn filter(level: &str) -> anyhow::Result<EnvFilter> {
    let filter = EnvFilter::try_new(level).with_context(|| {
        format!(
            "invalid log filter `{level}` (MCP_LOG_LEVEL, RUST_LOG or --log-level); use a level \
             such as `info` or directives such as `splunk_mcp=debug,info`"
        )
    })?;
    // Only at exactly `info`: a coarser filter already drops them, and adding `warn` there would
    // let rmcp's warnings through a filter set to `error`.
    let info = filter.max_level_hint() == Some(tracing_subscriber::filter::LevelFilter::INFO);
    if info && !level.contains("rmcp") {
        return Ok(filter.add_directive("rmcp::service=warn".parse()?));
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Whether an `info` event of rmcp's service module, a `warn` one, and an `info` event of
    /// ours pass `level`.
    fn passes(level: &str) -> (bool, bool, bool) {
        let subscriber = tracing_subscriber::registry().with(filter(level).unwrap());
        tracing::subscriber::with_default(subscriber, || {
            (
                tracing::enabled!(target: "rmcp::service", tracing::Level::INFO),
                tracing::enabled!(target: "rmcp::service", tracing::Level::WARN),
                tracing::enabled!(target: "splunk_mcp::http", tracing::Level::INFO),
            )
        })
    }

    #[test]
    fn rmcp_per_request_lines_are_quiet_at_info_unless_asked_for() {
        assert_eq!(passes("info"), (false, true, true));
        assert_eq!(passes("debug"), (true, true, true));
        assert_eq!(passes("info,rmcp=info"), (true, true, true));
        assert_eq!(passes("warn"), (false, true, false));
        assert_eq!(passes("error"), (false, false, false));
        assert!(filter("info,[").is_err());
    }
}
