//! A whole authorization server for the endpoint tests: the real IdP, a redb store in a temp
//! dir, our token issuer, the upstream client as `splunk-mcp` at the IdP, served on a free
//! loopback port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use e2e_tests::Idp;
use oidc_proxy::{
    AuthorizationServer, CALLBACK_PATH, ProxyConfig, RedbStore, Store, TokenIssuer, UpstreamClient,
    UpstreamConfig, UpstreamEndpoints,
};
use secrecy::SecretString;

use crate::support::{TempDir, cipher};

/// The scopes the test server offers (the MCP server's own).
pub(crate) const SCOPES: [&str; 3] = ["splunk:read", "splunk:search", "splunk:admin"];

/// A running authorization server and everything behind it. Dropping it stops the IdP; the
/// server task ends with the test's runtime.
pub(crate) struct ProxyWorld {
    /// The real IdP.
    pub(crate) idp: Idp,
    /// `http://127.0.0.1:PORT`, the issuer.
    pub(crate) base_url: String,
    /// `<base_url>/mcp`.
    pub(crate) resource: String,
    /// The server, for direct looks at its store and issuer.
    pub(crate) server: Arc<AuthorizationServer>,
    /// A client that does not follow redirects.
    pub(crate) http: reqwest::Client,
    _dir: TempDir,
}

impl ProxyWorld {
    /// Starts everything with the default [`ProxyConfig`].
    pub(crate) async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts everything, letting `adjust` change the config before the server is built.
    pub(crate) async fn start_with(adjust: impl FnOnce(&mut ProxyConfig)) -> Self {
        Self::start_with_store(adjust, |store| store).await
    }

    /// [`Self::start_with`], the server's store being what `wrap` makes of the redb store.
    pub(crate) async fn start_with_store(
        adjust: impl FnOnce(&mut ProxyConfig),
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Self {
        let idp = Idp::start(&[]).await;
        let dir = TempDir::new("server");
        let store: Arc<dyn Store> = wrap(Arc::new(
            RedbStore::open(dir.path().join("proxy.redb"), cipher())
                .await
                .expect("open store"),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));

        let tokens = Arc::new(
            TokenIssuer::load(store.clone(), base_url.clone(), Duration::from_secs(300))
                .await
                .expect("token issuer"),
        );
        let upstream = Arc::new(
            UpstreamClient::new(upstream_config(&idp, &format!("{base_url}{CALLBACK_PATH}")))
                .await
                .expect("upstream client"),
        );
        let mut config = ProxyConfig::new(&base_url, SCOPES.map(str::to_owned).to_vec());
        if let Some(cimd) = config.cimd.as_mut() {
            cimd.allow_loopback_http = true;
        }
        adjust(&mut config);
        let resource = config.resource.clone();
        let server = Arc::new(
            AuthorizationServer::new(store, tokens, upstream, config, &[7u8; 32])
                .expect("authorization server"),
        );
        let app = server
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            idp,
            base_url,
            resource,
            server,
            http: e2e_tests::http_client(),
            _dir: dir,
        }
    }

    /// `<base_url><path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

/// The proxy's client at the IdP: `splunk-mcp`, confidential. oidc-provider grants
/// `offline_access` only with `prompt=consent`; `resource=urn:splunk` makes the IdP's access
/// token a JWT for Splunk, as passthrough needs.
pub(crate) fn upstream_config(idp: &Idp, callback: &str) -> UpstreamConfig {
    let mut config = UpstreamConfig::new(
        UpstreamEndpoints::Discovery {
            config_url: idp.discovery_url(),
            expected_issuer: None,
        },
        "splunk-mcp",
        SecretString::from("splunk-mcp-secret"),
        callback,
    );
    config.scopes = [
        "openid",
        "profile",
        "email",
        "offline_access",
        "splunk:read",
        "splunk:search",
    ]
    .map(str::to_owned)
    .to_vec();
    config.extra_authorize_params = vec![
        ("prompt".to_owned(), "consent".to_owned()),
        ("resource".to_owned(), "urn:splunk".to_owned()),
    ];
    config.extra_token_params = vec![("resource".to_owned(), "urn:splunk".to_owned())];
    config
}

/// An answer of `/token` or `/revoke`: status, headers and the JSON body (the text as a JSON
/// string when it is not JSON). Each test file adds the assertions it needs.
pub(crate) struct Answer {
    pub(crate) status: reqwest::StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: serde_json::Value,
}

impl Answer {
    /// Reads `response` whole.
    pub(crate) async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Self {
            status,
            headers,
            body,
        }
    }
}
