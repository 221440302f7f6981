//! `HttpClient`: the one outbound HTTP client of the crate (JWKS, discovery, introspection),
//! with timeouts, no redirects, a body size limit and https-only outside loopback.

use std::sync::Arc;
use std::time::Duration;

use crate::error::ConfigError;

/// Settings for [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpClientConfig {
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub request_timeout: Duration,
    /// Largest response body read.
    pub max_body_bytes: usize,
    /// Allow plain http to non-loopback hosts (never in production: keys and introspection
    /// answers would be forgeable on the path).
    pub allow_insecure_http: bool,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            allow_insecure_http: false,
        }
    }
}

/// A response as the verifiers need it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The body (at most `max_body_bytes`).
    pub body: Vec<u8>,
}

/// A cheap-to-clone HTTP client.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: Arc<HttpClientConfig>,
}

impl HttpClient {
    /// Builds a client. reqwest is compiled with `rustls-no-provider`, which needs a process-wide
    /// rustls crypto provider; we install ring unless the application already installed one
    /// (ring is the project's provider; an application's own choice is never overridden).
    pub fn new(config: HttpClientConfig) -> Result<Self, ConfigError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another thread installing a provider is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // Key and introspection endpoints have no business redirecting; following one could
            // take us somewhere the configuration never named.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("auth-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Ok(Self {
            client,
            config: Arc::new(config),
        })
    }

    /// Wraps a client built elsewhere (custom CA bundle, proxy); the limits of `config` still apply.
    pub fn from_reqwest(client: reqwest::Client, config: HttpClientConfig) -> Self {
        Self {
            client,
            config: Arc::new(config),
        }
    }

    /// Refuses URLs that are not https, except to loopback hosts (tests, sidecars).
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, ConfigError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ConfigError::InvalidUrl {
            url: url.to_owned(),
            detail: e.to_string(),
        })?;
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if self.config.allow_insecure_http || is_loopback(&parsed) => Ok(parsed),
            other => Err(ConfigError::InvalidUrl {
                url: url.to_owned(),
                detail: format!("scheme {other} not allowed; use https"),
            }),
        }
    }

    /// GET `url` expecting JSON.
    pub async fn get(&self, url: &str) -> Result<HttpResponse, String> {
        let url = self.check_url(url).map_err(|e| e.to_string())?;
        let req = self.client.get(url).header("accept", "application/json");
        self.send(req).await
    }

    /// Sends a prepared request and reads at most `max_body_bytes` of the answer.
    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> Result<HttpResponse, String> {
        let mut resp = req
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status().as_u16();
        let cache_control = resp
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(len) = resp.content_length()
            && len > self.config.max_body_bytes as u64
        {
            return Err(format!("body of {len} bytes exceeds the limit"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading body: {e}"))?
        {
            if body.len() + chunk.len() > self.config.max_body_bytes {
                return Err("body exceeds the limit".to_owned());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            cache_control,
            body,
        })
    }

    pub(crate) fn inner(&self) -> &reqwest::Client {
        &self.client
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
