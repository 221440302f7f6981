//! HTTP transport: one pooled reqwest client per configuration, request building and retries.
//!
//! Authentication is not done here (see `auth`); this layer sends one request, retrying it only
//! when it is idempotent and the failure is one where Splunk cannot have acted on it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};

use crate::config::ClientConfig;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::observe;

/// A form or query value: plain text, or a secret that is only exposed while encoding.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Plain(String),
    Secret(SecretString),
}

impl Value {
    fn expose(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Secret(s) => s.expose_secret(),
        }
    }
}

/// Ordered name/value pairs; names may repeat (Splunk's `roles=a&roles=b`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, Value)>);

impl Params {
    pub(crate) fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds a plain pair.
    pub(crate) fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.0.push((name.to_owned(), Value::Plain(value.into())));
        self
    }

    /// Adds a pair when the value is present.
    pub(crate) fn push_opt(&mut self, name: &str, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(value) = value {
            self.push(name, value);
        }
        self
    }

    /// Adds a secret pair (a password); its value never appears in `Debug`.
    pub(crate) fn push_secret(&mut self, name: &str, value: SecretString) -> &mut Self {
        self.0.push((name.to_owned(), Value::Secret(value)));
        self
    }

    /// `application/x-www-form-urlencoded` text.
    pub(crate) fn encode(&self) -> String {
        let pairs: Vec<(&str, &str)> = self
            .0
            .iter()
            .map(|(name, value)| (name.as_str(), value.expose()))
            .collect();
        // Encoding a list of string pairs cannot fail.
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// The query string: these pairs and `output_mode=json`, which every call needs (Splunk
    /// reads it from the query string of POSTs too).
    fn encode_query(&self) -> String {
        let mut query = self.encode();
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("output_mode=json");
        query
    }
}

/// One API call as data, so that it can be sent again for a retry or after a new login.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) endpoint: Endpoint,
    pub(crate) query: Params,
    pub(crate) form: Option<Params>,
    /// Safe to send twice: no state changes, or the same state whatever the repetition.
    pub(crate) idempotent: bool,
    /// The body is consumed as a stream, so the total request timeout does not apply.
    pub(crate) streaming: bool,
    /// The metrics label, when the method and path alone do not say it (oneshot searches).
    pub(crate) operation: Option<&'static str>,
}

impl ApiRequest {
    pub(crate) fn get(endpoint: Endpoint) -> Self {
        Self {
            method: Method::GET,
            endpoint,
            query: Params::new(),
            form: None,
            idempotent: true,
            streaming: false,
            operation: None,
        }
    }

    /// A POST that changes state; never retried.
    pub(crate) fn post(endpoint: Endpoint, form: Params) -> Self {
        Self {
            method: Method::POST,
            endpoint,
            query: Params::new(),
            form: Some(form),
            idempotent: false,
            streaming: false,
            operation: None,
        }
    }

    pub(crate) fn delete(endpoint: Endpoint) -> Self {
        Self {
            method: Method::DELETE,
            endpoint,
            query: Params::new(),
            form: None,
            idempotent: true,
            streaming: false,
            operation: None,
        }
    }

    pub(crate) fn with_query(mut self, query: Params) -> Self {
        self.query = query;
        self
    }

    /// Marks a POST as safe to repeat (login, job control).
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub(crate) fn streaming(mut self) -> Self {
        self.streaming = true;
        self
    }

    /// Names the request for metrics instead of the label derived from its path.
    pub(crate) fn operation(mut self, label: &'static str) -> Self {
        self.operation = Some(label);
        self
    }

    /// The bounded metrics label of this request.
    pub(crate) fn operation_label(&self) -> &'static str {
        self.operation
            .unwrap_or_else(|| observe::operation(&self.method, self.endpoint.template()))
    }
}

/// The HTTP side of a client: base URL, pooled connections, timeouts and retry policy.
///
/// Cheap to clone. [`Transport::shared`] hands out the same pool to every client built with an
/// equal configuration, so per-user clients (one per mirror token) share connections.
#[derive(Debug, Clone)]
pub struct Transport {
    inner: Arc<TransportInner>,
}

#[derive(Debug)]
struct TransportInner {
    http: reqwest::Client,
    base: String,
    config: ClientConfig,
}

/// Pools alive in this process, by configuration; `Weak` so an unused pool is dropped.
static POOLS: LazyLock<Mutex<HashMap<ClientConfig, Weak<TransportInner>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl Transport {
    /// The transport for `config`: an existing pool if one with an equal configuration is
    /// alive in this process, else a new one.
    pub fn shared(config: &ClientConfig) -> Result<Self> {
        let mut pools = POOLS.lock();
        if let Some(inner) = pools.get(config).and_then(Weak::upgrade) {
            return Ok(Self { inner });
        }
        let transport = Self::new(config.clone())?;
        pools.retain(|_, pool| pool.strong_count() > 0);
        pools.insert(config.clone(), Arc::downgrade(&transport.inner));
        Ok(transport)
    }

    /// A new transport with its own connection pool.
    pub fn new(config: ClientConfig) -> Result<Self> {
        let base = normalize_base_url(&config.base_url)?;
        // reqwest is built without a bundled crypto provider and panics without one; ring is
        // the workspace's provider. An error means one is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            // Splunk never redirects API calls; following one could send credentials elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .tls_danger_accept_invalid_certs(config.tls.danger_accept_invalid_certs);
        if let Some(pem) = &config.tls.ca_bundle_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|_| Error::Config("the CA bundle is not valid PEM".to_owned()))?;
            if certificates.is_empty() {
                return Err(Error::Config(
                    "the CA bundle holds no certificate".to_owned(),
                ));
            }
            builder = builder.tls_certs_merge(certificates);
        }
        if config.tls.danger_accept_invalid_certs {
            tracing::warn!(
                base_url = %base,
                "TLS certificate verification is OFF for Splunk: credentials can be intercepted"
            );
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(TransportInner { http, base, config }),
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// `host:port` of Splunk, as errors name it.
    pub(crate) fn endpoint(&self) -> String {
        Url::parse(&self.inner.base).map_or_else(
            |_| self.inner.base.clone(),
            |url| crate::error::host_port(&url),
        )
    }

    /// The configuration this transport was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Whether two transports share one connection pool.
    pub fn same_pool(&self, other: &Transport) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The full URL of a request, query included (`output_mode=json` always).
    pub(crate) fn url(&self, request: &ApiRequest) -> String {
        format!(
            "{}{}?{}",
            self.inner.base,
            request.endpoint.as_str(),
            request.query.encode_query()
        )
    }

    /// Sends `request` with the given `Authorization` value, retrying as the policy allows.
    /// Any answer is returned, whatever its status; only transport failures are errors.
    pub(crate) async fn send(
        &self,
        request: &ApiRequest,
        authorization: Option<&SecretString>,
    ) -> Result<reqwest::Response> {
        let policy = self.inner.config.retry;
        let mut retry = 0;
        loop {
            let started = Instant::now();
            let outcome = self.build(request, authorization)?.send().await;
            if let Some(observer) = self.inner.config.observer() {
                let status = outcome.as_ref().ok().map(|a| a.status().as_u16());
                observer.on_request(request.operation_label(), status, started.elapsed());
            }
            let may_retry = request.idempotent && retry < policy.max_retries;
            match outcome {
                Ok(answer) if may_retry && is_retryable_status(answer.status()) => {
                    tracing::debug!(
                        endpoint = %request.endpoint,
                        status = answer.status().as_u16(),
                        retry,
                        "retrying after a gateway or availability error"
                    );
                }
                Ok(answer) => return Ok(answer),
                Err(error) if may_retry && is_retryable_transport(&error) => {
                    tracing::debug!(
                        endpoint = %request.endpoint,
                        retry,
                        "retrying after a connection failure"
                    );
                }
                Err(error) => return Err(Error::from_reqwest(error, self.inner.config.timeouts())),
            }
            tokio::time::sleep(policy.backoff(retry)).await;
            retry += 1;
        }
    }

    fn build(
        &self,
        request: &ApiRequest,
        authorization: Option<&SecretString>,
    ) -> Result<reqwest::RequestBuilder> {
        let url = Url::parse(&self.url(request))
            .map_err(|e| Error::Config(format!("cannot build a request URL: {e}")))?;
        let mut builder = self.inner.http.request(request.method.clone(), url);
        if !request.streaming {
            builder = builder.timeout(self.inner.config.request_timeout);
        }
        if let Some(value) = authorization {
            let mut header = HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                Error::invalid("credential", "contains characters not allowed in a header")
            })?;
            // Marks the header so that hyper and reqwest never print it.
            header.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, header);
        }
        if let Some(form) = &request.form {
            builder = builder
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )
                .body(form.encode());
        }
        Ok(builder)
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 502..=504)
}

/// Connect failures, and connections closed before any answer: Splunk never saw or never
/// finished the request. Timeouts are not retried, so a slow Splunk fails fast as `Timeout`.
fn is_retryable_transport(error: &reqwest::Error) -> bool {
    !error.is_timeout() && (error.is_connect() || error.is_request())
}

/// Checks the scheme and drops a trailing slash, so paths can be appended.
pub(crate) fn normalize_base_url(base: &str) -> Result<String> {
    let url = Url::parse(base.trim())
        .map_err(|e| Error::Config(format!("base URL {base:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::Config(format!(
            "base URL {base:?} must use http or https"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::Config(format!(
            "base URL {base:?} must not carry a query, fragment or user info"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_repeats_names_and_escapes() {
        let mut form = Params::new();
        form.push("name", "mcp.alice")
            .push("roles", "mcp_user")
            .push("roles", "web analyst")
            .push("search", "search index=web status>=500 | head 5")
            .push_secret("password", SecretString::from("p&ss=w+rd%"));
        assert_eq!(
            form.encode(),
            "name=mcp.alice&roles=mcp_user&roles=web+analyst\
             &search=search+index%3Dweb+status%3E%3D500+%7C+head+5\
             &password=p%26ss%3Dw%2Brd%25"
        );
        assert!(
            !format!("{form:?}").contains("p&ss"),
            "secret leaked in Debug"
        );
    }

    #[test]
    fn request_urls() {
        let transport = Transport::new(ClientConfig::new("https://splunk.example:8089/")).unwrap();
        let mut query = Params::new();
        query.push("count", "0").push("search", "name=a b");
        let request = ApiRequest::get(Endpoint::services("data/indexes")).with_query(query);
        assert_eq!(
            transport.url(&request),
            "https://splunk.example:8089/services/data/indexes?count=0&search=name%3Da+b&output_mode=json"
        );
        let prefixed = Transport::new(ClientConfig::new("http://proxy/splunk")).unwrap();
        assert_eq!(
            prefixed.url(&ApiRequest::get(Endpoint::services("server/info"))),
            "http://proxy/splunk/services/server/info?output_mode=json"
        );
    }

    #[test]
    fn base_url_validation() {
        for bad in [
            "ftp://x",
            "not a url",
            "https://u:p@x:8089",
            "https://x?q=1",
        ] {
            assert!(
                matches!(normalize_base_url(bad), Err(Error::Config(_))),
                "{bad}"
            );
        }
        assert_eq!(
            normalize_base_url("https://Splunk:8089").unwrap(),
            "https://splunk:8089"
        );
    }

    #[test]
    fn equal_configurations_share_one_pool() {
        let config = ClientConfig::new("https://pool.example:8089");
        let a = Transport::shared(&config).unwrap();
        let b = Transport::shared(&config).unwrap();
        assert!(a.same_pool(&b));
        let other = Transport::shared(&ClientConfig::new("https://other.example:8089")).unwrap();
        assert!(!a.same_pool(&other));
        let insecure = Transport::shared(&config.clone().danger_accept_invalid_certs()).unwrap();
        assert!(!a.same_pool(&insecure));
    }

    #[test]
    fn a_bad_ca_bundle_is_a_config_error() {
        let config = ClientConfig::new("https://x:8089").with_ca_bundle_pem(b"not pem".to_vec());
        assert!(matches!(Transport::new(config), Err(Error::Config(_))));
    }
}
