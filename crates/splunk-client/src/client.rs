//! The [`Client`] handle and the request cycle shared by every API call: authorize, send,
//! log in again once on an expired session, map errors.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::{Auth, Credentials};
use crate::config::ClientConfig;
use crate::endpoint::Endpoint;
use crate::error::{Error, Result};
use crate::transport::{ApiRequest, Transport};
use crate::wire::{self, Feed, RawEntry};

/// An async client of Splunk's management REST API, bound to one credential.
///
/// Cheap to clone (clones share the session key and the connection pool). Build one per
/// credential; [`Client::with_credentials`] makes another client on the same connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    auth: Auth,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.transport.base_url())
            .field("auth", &self.inner.auth)
            .finish()
    }
}

impl Client {
    /// A client for `config`, reusing the process's pool for an equal configuration.
    pub fn new(config: &ClientConfig, credentials: Credentials) -> Result<Self> {
        Ok(Self::with_transport(
            Transport::shared(config)?,
            credentials,
        ))
    }

    /// A client on an existing transport (and so its connection pool).
    pub fn with_transport(transport: Transport, credentials: Credentials) -> Self {
        Self {
            inner: Arc::new(Inner {
                transport,
                auth: Auth::new(credentials),
            }),
        }
    }

    /// Another client on the same connection pool with different credentials, e.g. a mirror
    /// user's token next to the admin client.
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self::with_transport(self.inner.transport.clone(), credentials)
    }

    /// The transport (base URL, pool, timeouts).
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// The base URL of the management API.
    pub fn base_url(&self) -> &str {
        self.inner.transport.base_url()
    }

    /// Sends a request and returns a success answer (2xx); any other status becomes an error.
    /// With session credentials a 401 leads to one new login (shared with concurrent callers)
    /// and one more attempt, with a token source to one replaced token and one more attempt;
    /// a second 401 is returned as `Unauthorized`.
    pub(crate) async fn send(&self, request: &ApiRequest) -> Result<reqwest::Response> {
        let transport = &self.inner.transport;
        let auth = &self.inner.auth;
        let mut authorization = auth.authorization(transport).await?;
        let mut logged_in_again = false;
        loop {
            let answer = transport.send(request, Some(&authorization.header)).await?;
            let status = answer.status().as_u16();
            if (200..300).contains(&status) {
                return Ok(answer);
            }
            if status == 401 && auth.can_relogin() && !logged_in_again {
                tracing::debug!(endpoint = %request.endpoint, "credential refused; renewing it once");
                logged_in_again = true;
                authorization = auth.refresh(transport, &authorization).await?;
                continue;
            }
            let body = answer.bytes().await.unwrap_or_default();
            let error = Error::from_status(status, &body);
            tracing::debug!(endpoint = %request.endpoint, status, error = %error, "Splunk answered with an error");
            return Err(error);
        }
    }

    /// Sends a request and reads the whole body.
    pub(crate) async fn body(&self, request: &ApiRequest) -> Result<Bytes> {
        self.send(request)
            .await?
            .bytes()
            .await
            .map_err(|e| Error::from_reqwest(e, self.transport().config().timeouts()))
    }

    /// Sends a request and decodes a JSON body.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: &ApiRequest) -> Result<T> {
        let body = self.body(request).await?;
        serde_json::from_slice(&body).map_err(|e| {
            Error::decode(format!(
                "answer of {} does not match: {e}",
                request.endpoint
            ))
        })
    }

    /// Sends a request answered with an Atom feed.
    pub(crate) async fn feed(&self, request: &ApiRequest) -> Result<Feed> {
        wire::feed(&self.body(request).await?)
    }

    /// GETs a single-entry feed and returns its entry.
    pub(crate) async fn single_entry(&self, request: &ApiRequest) -> Result<RawEntry> {
        self.feed(request)
            .await?
            .entry
            .into_iter()
            .next()
            .ok_or_else(|| Error::decode(format!("{} answered without an entry", request.endpoint)))
    }

    /// `GET /services/server/info`: version, build, server name and health.
    pub async fn server_info(&self) -> Result<ServerInfo> {
        let entry = self
            .single_entry(&ApiRequest::get(Endpoint::services("server/info")))
            .await?;
        entry.content_as()
    }

    /// `GET /services/authentication/current-context`: who the credential is, with roles and
    /// capabilities.
    pub async fn current_context(&self) -> Result<CurrentContext> {
        let entry = self
            .single_entry(&ApiRequest::get(Endpoint::services(
                "authentication/current-context",
            )))
            .await?;
        entry.content_as()
    }

    /// Which of the `wanted` capabilities this client's credential lacks, in `wanted`'s order
    /// (empty when it has them all), from `authentication/current-context`. E.g. mirror mode
    /// needs `edit_user` and `edit_tokens_all` on its admin credential.
    pub async fn missing_capabilities(&self, wanted: &[&str]) -> Result<Vec<String>> {
        let context = self.current_context().await?;
        Ok(wanted
            .iter()
            .filter(|w| !context.capabilities.iter().any(|c| c == *w))
            .map(|w| (*w).to_owned())
            .collect())
    }
}

/// `server/info` content.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct ServerInfo {
    /// Splunk version, e.g. `10.2.0`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub version: String,
    /// Build hash.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub build: String,
    /// Instance GUID.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub guid: String,
    /// Host name.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub host: String,
    /// `serverName`.
    #[serde(default, rename = "serverName", deserialize_with = "wire::flex_string")]
    pub server_name: String,
    /// Free license.
    #[serde(default, rename = "isFree", deserialize_with = "wire::flex_bool")]
    pub is_free: bool,
    /// Trial license.
    #[serde(default, rename = "isTrial", deserialize_with = "wire::flex_bool")]
    pub is_trial: bool,
    /// `kvStoreStatus`, e.g. `ready`.
    #[serde(
        default,
        rename = "kvStoreStatus",
        deserialize_with = "wire::flex_string"
    )]
    pub kv_store_status: String,
    /// `health_info`, e.g. `green`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub health_info: String,
    /// `os_name`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub os_name: String,
    /// `cpu_arch`.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub cpu_arch: String,
}

/// `authentication/current-context` content.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct CurrentContext {
    /// Splunk username.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub username: String,
    /// Full name.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub realname: String,
    /// Roles.
    #[serde(default, deserialize_with = "wire::string_list")]
    pub roles: Vec<String>,
    /// Capabilities, inherited ones included.
    #[serde(default, deserialize_with = "wire::string_list")]
    pub capabilities: Vec<String>,
    /// `defaultApp`.
    #[serde(default, rename = "defaultApp", deserialize_with = "wire::flex_string")]
    pub default_app: String,
    /// E-mail.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub email: String,
    /// Time zone.
    #[serde(default, deserialize_with = "wire::flex_string")]
    pub tz: String,
    /// User type (`Splunk`, `SAML`, `LDAP`, ...).
    #[serde(default, rename = "type", deserialize_with = "wire::flex_string")]
    pub user_type: String,
}
