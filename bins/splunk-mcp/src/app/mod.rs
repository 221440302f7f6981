//! Wiring: builds the verifier, the Splunk credential source and the tools from [`Settings`],
//! and runs the chosen transport until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use auth_core::AuthContext;
use mcp_tools::{SplunkTools, ToolRegistry};
use rmcp::ServiceExt;

use crate::config::{AuthMode, CredentialsMode, Settings, Transport};
use crate::http::{CallerCheck, HttpAuth, HttpOptions, ReadyCheck};
use crate::metrics::Metrics;

pub(crate) mod inbound;
pub(crate) mod outbound;
pub(crate) mod proxy;
mod readiness;
mod reload;

/// Capabilities the mirror admin credential needs (checked by `/readyz` and `doctor`).
pub(crate) fn readiness_capabilities() -> &'static [&'static str] {
    readiness::MIRROR_ADMIN_CAPABILITIES
}

/// Runs the server with `settings` until it is asked to stop.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    match settings.server.transport {
        Transport::Stdio => serve_stdio(settings).await,
        Transport::Http => serve_http(settings).await,
    }
}

/// The authorization policy of `settings` (checked when they were loaded).
pub(crate) fn policy(settings: &Settings) -> anyhow::Result<ToolRegistry> {
    settings
        .policy()
        .context("the authorization policy (auth.scope_groups, auth.tools, auth.tags)")
}

/// The tools with the configured limits, policy and Splunk credentials.
async fn tools(
    settings: &Settings,
    metrics: &Metrics,
    registry: ToolRegistry,
) -> anyhow::Result<SplunkTools> {
    let client_config =
        outbound::client_config(&settings.splunk)?.with_observer(Arc::new(metrics.clone()));
    let credentials = outbound::credential_source(&client_config, settings).await?;
    Ok(
        SplunkTools::new(settings.tools.clone(), credentials, registry)
            .with_observer(Arc::new(metrics.clone()))
            .with_tools_list_filter(settings.server.filter_tools_list)
            // Both need this process to outlive the request: no replicas behind a balancer.
            .with_tool_list_changes(!settings.server.stateless)
            .with_tasks(!settings.server.stateless),
    )
}

async fn serve_stdio(settings: Settings) -> anyhow::Result<()> {
    let tools = tools(&settings, &Metrics::new(), policy(&settings)?).await?;
    reload::spawn_on_hangup(&settings, &tools)?;
    tracing::info!(
        credentials = ?settings.splunk.credentials,
        splunk = %settings.splunk.base_url(),
        "serving MCP over stdio"
    );
    let running = tools
        .serve(rmcp::transport::stdio())
        .await
        .context("MCP initialization over stdio failed")?;
    running.waiting().await.context("MCP stdio session")?;
    Ok(())
}

async fn serve_http(mut settings: Settings) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.server.bind)
        .await
        .with_context(|| format!("MCP_BIND: cannot listen on {}", settings.server.bind))?;
    let local = listener.local_addr().context("listener address")?;
    adopt_bound_port(&mut settings, local);

    let metrics = Metrics::new();
    let policy = policy(&settings)?;
    let tools = tools(&settings, &metrics, policy.clone()).await?;
    reload::spawn_on_hangup(&settings, &tools)?;
    let mut readiness: Vec<Arc<dyn ReadyCheck>> =
        vec![Arc::new(readiness::Splunk::new(&settings.splunk)?)];
    let mut authorization_server = None;
    let auth = match inbound::build(&settings, &policy).await? {
        None => None,
        Some(inbound) => {
            if let Some(server) = &inbound.authorization_server {
                readiness.push(Arc::new(readiness::ProxyStore::new(server.store().clone())));
                authorization_server = Some(server.router());
            }
            if let Some(jwks) = &inbound.jwks {
                metrics.watch_jwks(Arc::clone(jwks));
            }
            if let Some(url) = &inbound.idp_probe_url {
                readiness.push(Arc::new(readiness::Idp::new(url.clone())?));
            }
            Some(HttpAuth {
                verifier: inbound.verifier,
                metadata: inbound::metadata(&settings, &policy, &inbound.issuer),
                challenge: inbound::challenge(&settings, &policy),
                required: policy.server_policy().cloned(),
                caller_check: caller_check(&settings)?,
            })
        }
    };
    if settings.splunk.credentials == CredentialsMode::Mirror {
        readiness.push(Arc::new(readiness::MirrorAdmin::new(&settings.splunk)?));
        if let Some(every) = settings.splunk.mirror.cleanup_interval {
            spawn_mirror_cleanup(&settings, every)?;
        }
    }

    let router = crate::http::router(HttpOptions {
        tools: tools.clone(),
        auth,
        stateless: settings.server.stateless,
        allowed_hosts: settings.server.allowed_hosts.clone(),
        metrics,
        readiness,
        authorization_server,
        trusted_proxies: crate::http::TrustedProxies::new(
            settings.server.trusted_proxies.iter().copied(),
        ),
    });
    announce(&settings, local)?;
    crate::http::serve(listener, router, shutdown_signal())
        .await
        .context("HTTP server")?;
    // Search tasks outlive their requests: cancel their Splunk jobs rather than drop them.
    tools.finish_tasks(crate::http::SHUTDOWN_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

/// With `--bind …:0` the port is known only after binding: URLs derived from the bind address
/// (the defaults of the base URL and the token audience) take the real port.
fn adopt_bound_port(settings: &mut Settings, local: SocketAddr) {
    if settings.server.bind.port() != 0 {
        return;
    }
    let unbound = format!("http://{}", settings.server.bind);
    if settings.server.base_url == unbound {
        settings.server.base_url = format!("http://{local}");
        if settings.auth.audience == format!("{unbound}/mcp") {
            settings.auth.audience = format!("{}/mcp", settings.server.base_url);
        }
        let port = local.port().to_string();
        for host in ["127.0.0.1", "localhost"] {
            settings.server.allowed_hosts.push(format!("{host}:{port}"));
        }
        settings.server.allowed_hosts.push(local.to_string());
    }
}

/// The first line on stdout names the endpoint, so scripts (and xtask) can find a server
/// started on port 0; logs go to stderr.
fn announce(settings: &Settings, local: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "splunk-mcp: MCP endpoint http://{local}/mcp")?;
    out.flush()?;
    tracing::info!(
        bind = %local,
        base_url = %settings.server.base_url,
        auth = ?settings.auth.mode,
        credentials = ?settings.splunk.credentials,
        stateless = settings.server.stateless,
        "serving MCP over streamable HTTP"
    );
    if !settings.server.trusted_proxies.is_empty() {
        let ranges: Vec<String> = settings
            .server
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        tracing::info!(
            trusted_proxies = %ranges.join(", "),
            "X-Forwarded-For and Forwarded name the client of requests from these peers"
        );
    }
    if settings.auth.mode == AuthMode::Proxy {
        tracing::info!(
            issuer = %settings.server.base_url,
            idp_redirect_uri = %proxy::callback_url(settings),
            store = %settings.auth.proxy.store.redacted(),
            "authorization server on; the IdP must accept idp_redirect_uri for MCP_OAUTH_CLIENT_ID"
        );
    }
    if settings.auth.mode == AuthMode::None {
        tracing::warn!(
            "MCP_AUTH_MODE=none: anyone who can reach this port can use Splunk through it"
        );
    }
    Ok(())
}

/// In mirror mode a caller's token must carry the username claim; refused at the door with
/// a message naming the claim.
fn caller_check(settings: &Settings) -> anyhow::Result<Option<CallerCheck>> {
    if settings.splunk.credentials != CredentialsMode::Mirror {
        return Ok(None);
    }
    let claim: mcp_tools::UsernameClaim = settings
        .splunk
        .mirror
        .username_claim
        .parse()
        .map_err(|e| anyhow::anyhow!("SPLUNK_MIRROR_USERNAME_CLAIM: {e}"))?;
    Ok(Some(Arc::new(move |caller: &AuthContext| {
        claim.username(caller).map(drop).map_err(|e| e.to_string())
    })))
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}

/// Deletes expired mirror tokens every `every`, for the life of the process.
fn spawn_mirror_cleanup(settings: &Settings, every: std::time::Duration) -> anyhow::Result<()> {
    let config = outbound::client_config(&settings.splunk)?;
    let provisioner = outbound::mirror::provisioner(&config, &settings.splunk)?;
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match provisioner.cleanup().await {
                Ok(report) => tracing::info!(
                    examined = report.examined,
                    deleted = report.deleted,
                    failed = report.failed,
                    "mirror token cleanup"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "mirror token cleanup failed; retrying next interval")
                }
            }
        }
    });
    Ok(())
}

/// `splunk-mcp mirror cleanup`: deletes expired tokens of mirror users.
pub async fn mirror_cleanup(settings: &Settings) -> anyhow::Result<()> {
    let config = outbound::client_config(&settings.splunk)?;
    let provisioner = outbound::mirror::provisioner(&config, &settings.splunk)?;
    let report = provisioner
        .cleanup()
        .await
        .context("mirror cleanup failed")?;
    println!(
        "mirror cleanup: {} tokens examined, {} expired deleted, {} deletions failed",
        report.examined, report.deleted, report.failed
    );
    if report.failed > 0 {
        anyhow::bail!(
            "{} expired tokens could not be deleted; run again",
            report.failed
        );
    }
    Ok(())
}
