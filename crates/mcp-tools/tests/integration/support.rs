//! Test world: an emulator, Splunk clients that reach it, and an rmcp client connected to a
//! server built on top of them.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthContext, BearerToken, Claims, ScopeSet};
use mcp_tools::{
    CredentialSource, PassthroughCredentials, ServiceCredentials, SplunkTools, ToolRegistry,
    ToolsConfig,
};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;
use splunk_client::{Client, ClientConfig, Credentials, RetryPolicy};
use splunk_emulator::{Emulator, EmulatorConfig, RunningEmulator};

/// A running emulator and the client configuration that reaches it.
pub(crate) struct World {
    pub(crate) emulator: RunningEmulator,
    pub(crate) config: ClientConfig,
}

impl World {
    /// An emulator with default data over plain HTTP.
    pub(crate) async fn start() -> Self {
        Self::with(EmulatorConfig::default()).await
    }

    /// An emulator with a given configuration.
    pub(crate) async fn with(config: EmulatorConfig) -> Self {
        let emulator = Emulator::start(config).await.expect("emulator starts");
        let config = ClientConfig::new(emulator.url()).with_retry(RetryPolicy::new(
            2,
            Duration::from_millis(5),
            Duration::from_millis(50),
        ));
        Self { emulator, config }
    }

    /// An admin client logging in with a session.
    pub(crate) fn admin(&self) -> Client {
        Client::new(&self.config, Credentials::session("admin", "changeme")).expect("client builds")
    }

    /// A server using the admin account as its service credential.
    pub(crate) fn service_server(&self, config: ToolsConfig) -> SplunkTools {
        server(config, Arc::new(ServiceCredentials::new(self.admin())))
    }

    /// A server forwarding each caller's token to Splunk.
    pub(crate) fn passthrough_server(&self) -> SplunkTools {
        let base = Client::new(&self.config, Credentials::bearer("unused")).expect("client builds");
        server(
            ToolsConfig::default(),
            Arc::new(PassthroughCredentials::new(base)),
        )
    }
}

fn server(config: ToolsConfig, credentials: Arc<dyn CredentialSource>) -> SplunkTools {
    SplunkTools::new(config, credentials, ToolRegistry::default())
}

/// A verified caller with the given subject, scopes and raw token.
pub(crate) fn caller(subject: &str, scopes: &str, token: &str) -> AuthContext {
    let mut claims = Claims::for_subject(subject);
    claims.scopes = ScopeSet::parse(scopes).expect("scopes parse");
    claims.client_id = Some("test-client".to_owned());
    claims.groups = vec!["analysts".to_owned()];
    AuthContext::new(claims, BearerToken::new(token)).expect("context builds")
}

/// An rmcp client connected to `server` over an in-process duplex pipe.
pub(crate) async fn connect(server: SplunkTools) -> RunningService<RoleClient, ()> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = server.serve(server_io).await.expect("server starts");
        let _ = running.waiting().await;
    });
    ().serve(client_io).await.expect("client connects")
}

/// Calls `tool` with `args` (a JSON object).
pub(crate) async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .expect("tools/call answers")
}

/// The text content of a result, joined.
pub(crate) fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}
