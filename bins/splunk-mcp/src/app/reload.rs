//! SIGHUP re-reads the tools file (`MCP_TOOLS_FILE`): the custom tools change for every session
//! from its next call, nobody is disconnected, and a file that does not check leaves the tools
//! in force as they were.

use anyhow::Context;
use auth_core::ScopeSet;
use mcp_tools::{SplunkTools, ToolRegistry};

use crate::config::{Settings, read_tools_file};

/// Reloads the tools file on every SIGHUP, for as long as the process runs.
pub(crate) fn spawn_on_hangup(settings: &Settings, tools: &SplunkTools) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("listen for SIGHUP")?;
    let settings = settings.clone();
    let tools = tools.clone();
    // What metadata advertised and the proxy grants was fixed at start.
    let offered = tools.registry().offered_scopes().clone();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            let Some(file) = &settings.tools_file else {
                tracing::warn!("SIGHUP: there is no tools file to reload (MCP_TOOLS_FILE)");
                continue;
            };
            match reload(&settings, &offered) {
                Ok(registry) => {
                    let custom = registry.custom_tools().count();
                    tools.replace_registry(registry).await;
                    tracing::info!(
                        file = %file.path.display(),
                        custom_tools = custom,
                        "reloaded the tools file"
                    );
                }
                Err(error) => tracing::error!(
                    file = %file.path.display(),
                    %error,
                    "the tools file was not reloaded; the tools in force are kept"
                ),
            }
        }
    });
    Ok(())
}

/// The policy with the tools file as it is now, checked as at start, and refused if it needs
/// a scope that was not `offered` at start (clients could not be granted it until a restart).
pub(crate) fn reload(settings: &Settings, offered: &ScopeSet) -> Result<ToolRegistry, String> {
    let file = settings
        .tools_file
        .as_ref()
        .ok_or("there is no tools file (MCP_TOOLS_FILE)")?;
    let tools = read_tools_file(&file.path, &file.setting).map_err(|e| e.to_string())?;
    let registry = settings.policy_with(&tools).map_err(|e| e.to_string())?;
    settings
        .check_claims_have_tokens(&registry)
        .map_err(|e| e.to_string())?;
    let new: Vec<&str> = registry
        .offered_scopes()
        .iter()
        .filter(|scope| !offered.contains(scope))
        .collect();
    if !new.is_empty() {
        return Err(format!(
            "the tools need the scope(s) {}, which this server did not offer when it started; \
             restart it to offer them",
            new.join(" ")
        ));
    }
    Ok(registry)
}
