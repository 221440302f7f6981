//! What `/readyz` checks: Splunk answers, the IdP answers, (proxy mode) the store answers, and
//! (mirror mode) the admin credential still works with the capabilities it needs.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context;
use splunk_client::{Client, Credentials};

use crate::app::outbound;
use crate::config::SplunkSettings;
use crate::http::ReadyCheck;

type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Capabilities the mirror admin credential needs.
pub(crate) const MIRROR_ADMIN_CAPABILITIES: &[&str] = &["edit_user", "edit_tokens_all"];

/// Splunk's management port answers HTTP. Any answer counts, a 401 included: readiness is
/// about reachability, and in passthrough mode the server holds no credential of its own.
pub(crate) struct Splunk {
    client: Client,
}

impl Splunk {
    pub(crate) fn new(splunk: &SplunkSettings) -> anyhow::Result<Self> {
        let config = outbound::client_config(splunk)?;
        let client = Client::new(&config, Credentials::bearer(String::new()))
            .context("cannot build the Splunk client")?;
        Ok(Self { client })
    }
}

impl ReadyCheck for Splunk {
    fn name(&self) -> &'static str {
        "splunk"
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            match self.client.server_info().await {
                Ok(_) => Ok(()),
                Err(e) if e.status().is_some_and(|s| s < 500) => Ok(()),
                Err(e) => Err(format!("Splunk is not answering: {e}")),
            }
        })
    }
}

/// The IdP answers its discovery document (or key set) with 200.
pub(crate) struct Idp {
    http: auth_core::HttpClient,
    url: String,
}

impl Idp {
    pub(crate) fn new(url: String) -> anyhow::Result<Self> {
        Ok(Self {
            http: crate::app::inbound::idp_http_client()?,
            url,
        })
    }
}

impl ReadyCheck for Idp {
    fn name(&self) -> &'static str {
        "idp"
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            match self.http.get(&self.url).await {
                Ok(resp) if resp.status == 200 => Ok(()),
                Ok(resp) => Err(format!("the IdP answered {} at {}", resp.status, self.url)),
                Err(e) => Err(format!("the IdP is not answering at {}: {e}", self.url)),
            }
        })
    }
}

/// The mirror admin credential is accepted and has the capabilities mirror mode needs.
pub(crate) struct MirrorAdmin {
    client: Client,
}

impl MirrorAdmin {
    pub(crate) fn new(splunk: &SplunkSettings) -> anyhow::Result<Self> {
        let config = outbound::client_config(splunk)?;
        Ok(Self {
            client: outbound::configured_client(&config, splunk)?,
        })
    }
}

impl ReadyCheck for MirrorAdmin {
    fn name(&self) -> &'static str {
        "mirror_admin"
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            match self.client.missing_capabilities(MIRROR_ADMIN_CAPABILITIES).await {
                Ok(missing) if missing.is_empty() => Ok(()),
                Ok(missing) => Err(format!(
                    "the mirror admin credential lacks the capabilities {}",
                    missing.join(", ")
                )),
                Err(splunk_client::Error::Unauthorized { .. }) => Err(
                    "Splunk refuses the mirror admin credential (SPLUNK_TOKEN or SPLUNK_USERNAME/SPLUNK_PASSWORD)"
                        .to_owned(),
                ),
                Err(e) => Err(format!("cannot check the mirror admin credential: {e}")),
            }
        })
    }
}

/// Proxy mode's store (redb file or Redis) answers a read.
pub(crate) struct ProxyStore {
    store: Arc<dyn oidc_proxy::Store>,
}

impl ProxyStore {
    pub(crate) fn new(store: Arc<dyn oidc_proxy::Store>) -> Self {
        Self { store }
    }
}

impl ReadyCheck for ProxyStore {
    fn name(&self) -> &'static str {
        "store"
    }

    fn check(&self) -> CheckFuture<'_> {
        Box::pin(async move {
            crate::app::proxy::probe(self.store.as_ref())
                .await
                .map_err(|e| format!("the proxy's store (MCP_PROXY_STORE) is not answering: {e}"))
        })
    }
}
