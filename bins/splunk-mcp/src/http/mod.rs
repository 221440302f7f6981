//! The HTTP side: `/mcp` (rmcp's streamable HTTP service) behind auth-core's layer, the
//! RFC 9728 metadata documents, `/healthz`, `/readyz` and `/metrics`.
//!
//! A request to `/mcp` passes, outermost first:
//! 1. the auth-failure counter ([`crate::metrics::Metrics::record_auth_failure`]),
//! 2. auth-core's [`AuthLayer`] (401 with the RFC 6750 challenge; the caller's
//!    [`AuthContext`] into the request extensions, where rmcp and the tools find it),
//! 3. the guard of [`guard`]: the caller check, sessions bound to their subject, and the scope
//!    pre-check of `tools/call` (403 `insufficient_scope` so clients can step up),
//! 4. rmcp's [`StreamableHttpService`].
//!
//! Everything but `/mcp` is unauthenticated. Every request first gets its client address
//! (the peer, or what the forwarding headers of [`TrustedProxies`] say), which proxy mode's
//! rate limits count by and the request's log lines name.

use std::convert::Infallible;
use std::future::{Future, IntoFuture as _};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use auth_core::{AuthContext, AuthLayer, ChallengeConfig, Policy, ProtectedResourceMetadata};
use axum::Router;
use axum::response::IntoResponse as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::metrics::Metrics;

pub use client_addr::TrustedProxies;

mod client_addr;
mod guard;
mod probes;
#[cfg(test)]
mod tests;

/// Path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";
/// Root RFC 9728 metadata path.
pub const PRM_ROOT_PATH: &str = "/.well-known/oauth-protected-resource";
/// Path-specific RFC 9728 metadata path for [`MCP_PATH`].
pub const PRM_MCP_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// How long [`serve`] waits for open connections (SSE streams never end on their own) after
/// the shutdown signal before it drops them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A check of a caller beyond scopes, e.g. mirror mode needing a username claim: `Err` holds
/// the message sent to the client with 403 `access_denied`.
pub type CallerCheck = Arc<dyn Fn(&AuthContext) -> Result<(), String> + Send + Sync>;

/// Everything [`router`] needs.
pub struct HttpOptions {
    /// The MCP server; cloned per session or request (cheap).
    pub tools: mcp_tools::SplunkTools,
    /// Authentication of `/mcp`; `None` serves it unauthenticated (auth mode `none`).
    pub auth: Option<HttpAuth>,
    /// No MCP sessions: every request stands alone and simple answers are plain JSON.
    pub stateless: bool,
    /// `Host` values rmcp accepts (DNS rebinding protection); empty accepts any.
    pub allowed_hosts: Vec<String>,
    /// Where tool calls and auth failures are counted.
    pub metrics: Metrics,
    /// What `/readyz` checks.
    pub readiness: Vec<Arc<dyn ReadyCheck>>,
    /// Proxy mode's authorization server (metadata, `/register`, `/authorize`, `/token`, ...),
    /// served at the root next to `/mcp`.
    pub authorization_server: Option<Router>,
    /// The load balancers whose `X-Forwarded-For` / `Forwarded` headers name the client.
    pub trusted_proxies: TrustedProxies,
}

/// How `/mcp` authenticates and authorizes callers.
pub struct HttpAuth {
    /// Verifies bearer tokens.
    pub verifier: Arc<dyn auth_core::TokenVerifier>,
    /// The RFC 9728 document served at both well-known paths.
    pub metadata: ProtectedResourceMetadata,
    /// What every challenge carries (metadata URL, scopes to ask for).
    pub challenge: ChallengeConfig,
    /// A policy every request must pass (required scopes or groups).
    pub required: Option<Policy>,
    /// A further check of each authenticated caller; `Err(message)` answers 403
    /// `access_denied` with that message.
    pub caller_check: Option<CallerCheck>,
}

/// A readiness check run by `/readyz`.
pub trait ReadyCheck: Send + Sync {
    /// A short stable name, the key in the `/readyz` answer.
    fn name(&self) -> &'static str;
    /// `Err` with a message safe to show unauthenticated callers when not ready.
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// The whole HTTP application.
pub fn router(options: HttpOptions) -> Router {
    let HttpOptions {
        tools,
        auth,
        stateless,
        allowed_hosts,
        metrics,
        readiness,
        authorization_server,
        trusted_proxies,
    } = options;

    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_legacy_session_mode(!stateless)
        .with_json_response(stateless);
    let factory_tools = tools.clone();
    let service = StreamableHttpService::new(
        move || Ok(factory_tools.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let mut mcp = Router::new().route_service(MCP_PATH, SharedMcpService(Arc::new(service)));
    let mut app = probes::routes(metrics.clone(), readiness);

    if let Some(auth) = auth {
        let mut layer = AuthLayer::new(auth.verifier, auth.challenge.clone());
        if let Some(policy) = auth.required {
            layer = layer.require(policy);
        }
        let guard = guard::McpGuard::new(tools, auth.challenge, auth.caller_check, !stateless);
        // route_layer: unknown paths stay 404 instead of 401. Later layers wrap earlier ones.
        mcp = mcp
            .route_layer(axum::middleware::from_fn_with_state(
                Arc::new(guard),
                guard::guard,
            ))
            .route_layer(layer)
            .route_layer(axum::middleware::from_fn_with_state(
                metrics,
                guard::count_auth_failures,
            ));
        app = app.merge(probes::metadata_routes(auth.metadata));
    }
    if let Some(endpoints) = authorization_server {
        app = app.merge(endpoints);
    }
    app.merge(mcp)
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(trusted_proxies),
            client_addr::resolve,
        ))
}

/// rmcp's service behind one `Arc`. Each middleware in front of `/mcp` clones the service
/// beneath it on every request, and cloning a `StreamableHttpService` copies its configuration
/// (the allowed hosts, a cancellation token): eleven copies per request with auth on (callgrind,
/// rmcp 3.11). Shared, a clone is a reference count.
#[derive(Clone)]
struct SharedMcpService(Arc<StreamableHttpService<mcp_tools::SplunkTools, LocalSessionManager>>);

impl tower::Service<axum::extract::Request> for SharedMcpService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        let service = Arc::clone(&self.0);
        // What `StreamableHttpService::call` does, minus its clone of the whole service.
        Box::pin(async move { Ok(service.handle(request).await.into_response()) })
    }
}

async fn not_found() -> (http::StatusCode, &'static str) {
    (http::StatusCode::NOT_FOUND, "Not Found")
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish for
/// at most [`SHUTDOWN_GRACE`]. Handlers see the peer's address (`ConnectInfo<SocketAddr>`),
/// from which [`router`] decides each request's client address.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down the HTTP server");
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result,
        () = async {
            // A dropped sender means the server ended first; the other branch handles that.
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(grace = ?SHUTDOWN_GRACE, "connections still open after the shutdown grace period; closing them");
            Ok(())
        }
    }
}
