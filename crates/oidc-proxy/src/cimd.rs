//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, as MCP
//! 2025-11-25 uses it): a `client_id` that is an https URL names a JSON document the client
//! publishes, and that document is its registration.
//!
//! Fetching a URL a stranger chose is a server-side request forgery risk, so the fetch is
//! fenced: https only (plain http to loopback only with a dev/test switch), the host resolved
//! once and every address checked against the private/special ranges ([`classify_ip`]), the
//! connection made to exactly those checked addresses (no second lookup a rebinding DNS server
//! could answer differently), no proxy, no redirects, connect and total timeouts, a body limit
//! enforced while reading, and a JSON content type.
//!
//! Documents are cached in the [`Store`] (so every replica shares them) for as long as their
//! `Cache-Control` allows, within a floor and a ceiling; `no-store`/`no-cache` means fetch
//! every time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::{Host, Url};

use crate::records::{ClientRecord, ClientSource, now_millis};
use crate::redirect::{ApplicationType, RedirectError, RedirectPolicy};
use crate::store::Store;

/// Longest client id URL accepted.
pub const MAX_CLIENT_ID_LEN: usize = 2000;

/// Limits and switches of the document fetcher.
#[derive(Debug, Clone)]
pub struct CimdConfig {
    /// Accept `http://` client ids and loopback addresses. For tests and local development only:
    /// it lets anyone who can reach `/authorize` make the server fetch from its own host.
    pub allow_loopback_http: bool,
    /// Accept private addresses (RFC 1918, IPv6 ULA, CGNAT 100.64/10), for clients published on
    /// an internal network. Link-local (cloud metadata), multicast and the like stay refused.
    pub allow_private_addresses: bool,
    /// Time allowed to resolve the host and open the connection.
    pub connect_timeout: Duration,
    /// Time allowed for the whole fetch, body included.
    pub total_timeout: Duration,
    /// Largest document accepted, in bytes.
    pub max_body_bytes: usize,
    /// Shortest time a document is cached (a `max-age` below it is raised to it).
    pub min_ttl: Duration,
    /// Longest time a document is cached (a `max-age` above it is lowered to it).
    pub max_ttl: Duration,
    /// Cache time when the response has no `Cache-Control: max-age`.
    pub default_ttl: Duration,
    /// How long a document that could not be fetched or used is not fetched again (in this
    /// process): a broken or hostile client id cannot make the server fetch at every request.
    pub failure_ttl: Duration,
    /// Rules the document's redirect URIs must pass (the same as for dynamic registration).
    pub redirect_policy: RedirectPolicy,
}

impl Default for CimdConfig {
    fn default() -> Self {
        Self {
            allow_loopback_http: false,
            allow_private_addresses: false,
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 5 * 1024,
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            default_ttl: Duration::from_secs(300),
            failure_ttl: Duration::from_secs(30),
            redirect_policy: RedirectPolicy::new(),
        }
    }
}

/// What kind of network an IP address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IpClass {
    /// A globally routable address.
    Public,
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, IPv6 unique local (fc00::/7) and deprecated site-local (fec0::/10).
    Private,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedCgnat,
    /// 169.254.0.0/16 (cloud metadata lives here), fe80::/10.
    LinkLocal,
    /// 0.0.0.0/8, ::.
    Unspecified,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20.
    Documentation,
    /// Other special-purpose ranges (240/4, 198.18/15, 192.0.0/24, 2001::/23, 100::/64, …).
    Reserved,
}

impl IpClass {
    fn describe(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::SharedCgnat => "shared (carrier-grade NAT)",
            Self::LinkLocal => "link-local",
            Self::Unspecified => "unspecified",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Documentation => "documentation",
            Self::Reserved => "reserved",
        }
    }
}

/// Classifies an address. IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`,
/// 6to4 `2002::/16`) is classified as the IPv4 address it reaches.
pub fn classify_ip(ip: IpAddr) -> IpClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> IpClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, _, _) => IpClass::Unspecified,
        (127, _, _) => IpClass::Loopback,
        (10, _, _) | (192, 168, _) => IpClass::Private,
        (172, 16..=31, _) => IpClass::Private,
        (169, 254, _) => IpClass::LinkLocal,
        (100, 64..=127, _) => IpClass::SharedCgnat,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => IpClass::Documentation,
        (192, 0, 0) | (198, 18..=19, _) => IpClass::Reserved,
        (224..=239, _, _) => IpClass::Multicast,
        _ if ip == Ipv4Addr::BROADCAST => IpClass::Broadcast,
        (240..=255, _, _) => IpClass::Reserved,
        _ => IpClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> IpClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip == Ipv6Addr::UNSPECIFIED {
        IpClass::Unspecified
    } else if ip == Ipv6Addr::LOCALHOST {
        IpClass::Loopback
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        classify_v4(embedded(s[6], s[7]))
    } else if s[0] == 0x2002 {
        classify_v4(embedded(s[1], s[2]))
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 || s[..3] == [0x64, 0xff9b, 1] {
        IpClass::Private
    } else if s[0] & 0xffc0 == 0xfe80 {
        IpClass::LinkLocal
    } else if s[0] & 0xff00 == 0xff00 {
        IpClass::Multicast
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || s[0] & 0xfff0 == 0x3ff0 {
        IpClass::Documentation
    } else if s[..6] == [0; 6] // IPv4-compatible (deprecated)
        || s[..4] == [0x100, 0, 0, 0] // discard-only
        || (s[0] == 0x2001 && s[1] < 0x200)
    // IETF protocol assignments, Teredo
    {
        IpClass::Reserved
    } else {
        IpClass::Public
    }
}

/// Why a client ID metadata document was not accepted. Messages are safe to show on the error
/// page: they name the document URL and the rule broken, never internal network details.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CimdError {
    /// The client id is not a URL this server will fetch.
    #[error("client_id {client_id:?} is not a valid client ID metadata document URL: {reason}")]
    InvalidClientId {
        /// The client id as presented.
        client_id: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// The host did not resolve.
    #[error("the host of client_id {0:?} could not be resolved")]
    Unresolvable(String),
    /// The host resolves to an address of a kind this server does not fetch from.
    #[error(
        "client_id {client_id:?} resolves to a {class} address, which this server does not \
         fetch from; publish the document on a public https host"
    )]
    AddressNotAllowed {
        /// The client id.
        client_id: String,
        /// What kind of address it was.
        class: &'static str,
    },
    /// Connecting or reading failed.
    #[error("the client metadata document at {0:?} could not be fetched")]
    Unreachable(String),
    /// The fetch took longer than allowed.
    #[error("fetching the client metadata document at {0:?} timed out")]
    Timeout(String),
    /// The server answered with a redirect, which is not followed.
    #[error(
        "the client metadata document at {0:?} answered with a redirect; serve it at the \
         client_id URL itself"
    )]
    Redirected(String),
    /// The server answered with an error status.
    #[error("the client metadata document at {client_id:?} answered HTTP {status}")]
    Status {
        /// The client id.
        client_id: String,
        /// The HTTP status.
        status: u16,
    },
    /// Not served as JSON.
    #[error("the client metadata document at {0:?} is not served as application/json")]
    NotJson(String),
    /// Larger than allowed.
    #[error("the client metadata document at {client_id:?} is larger than {limit} bytes")]
    TooLarge {
        /// The client id.
        client_id: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The document breaks a rule of the specification or of this server.
    #[error("the client metadata document at {client_id:?} is invalid: {reason}")]
    InvalidDocument {
        /// The client id.
        client_id: String,
        /// What is wrong.
        reason: String,
    },
    /// One of the document's redirect URIs is refused.
    #[error("the client metadata document at {client_id:?} is invalid: {source}")]
    RedirectUri {
        /// The client id.
        client_id: String,
        /// The redirect rule broken.
        source: RedirectError,
    },
    /// The client registry (store) failed; details are logged, not shown.
    #[error("the client registry is unavailable; try again later")]
    Store,
    /// The document failed a moment ago and is not fetched again yet.
    #[error("{reason} (it failed {} s ago; it is fetched again {} s after a failure)", .ago.as_secs(), .retry_after.as_secs())]
    RecentlyFailed {
        /// Why it failed.
        reason: String,
        /// How long ago.
        ago: Duration,
        /// How long failures are remembered.
        retry_after: Duration,
    },
}

impl CimdError {
    /// Whether the failure is the document's (or its host's), worth remembering: not a
    /// malformed client id (nothing was fetched) nor the store's trouble.
    fn is_the_documents(&self) -> bool {
        !matches!(
            self,
            Self::InvalidClientId { .. } | Self::Store | Self::RecentlyFailed { .. }
        )
    }
}

/// How many failed client ids are remembered at once (oldest forgotten first).
const FAILURES_REMEMBERED: usize = 1024;

/// Resolves URL client ids to [`ClientRecord`]s: from the store's cache, else by fetching.
#[derive(Clone)]
pub struct CimdResolver {
    store: Arc<dyn Store>,
    config: Arc<CimdConfig>,
    /// Client id → when its document last failed, and why.
    failures: Arc<quick_cache::sync::Cache<String, (Instant, String)>>,
}

impl std::fmt::Debug for CimdResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CimdResolver")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The fields of a metadata document this server reads; the rest is kept as raw JSON.
#[derive(Deserialize)]
struct Document {
    client_id: String,
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    logo_uri: Option<String>,
    client_uri: Option<String>,
    token_endpoint_auth_method: Option<String>,
    application_type: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    scope: Option<String>,
    client_secret: Option<serde_json::Value>,
}

impl CimdResolver {
    /// A resolver caching into `store`.
    pub fn new(store: Arc<dyn Store>, config: CimdConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            failures: Arc::new(quick_cache::sync::Cache::new(FAILURES_REMEMBERED)),
        }
    }

    /// Whether `client_id` is one this resolver handles (a URL client id) rather than a
    /// dynamically registered one.
    pub fn is_url_client_id(&self, client_id: &str) -> bool {
        client_id.starts_with("https://")
            || (self.config.allow_loopback_http && client_id.starts_with("http://"))
    }

    /// The client registered by the document at `client_id`: the cached record while its cache
    /// time lasts, else a fresh fetch (cached again per the response's `Cache-Control`).
    pub async fn resolve(&self, client_id: &str) -> Result<ClientRecord, CimdError> {
        let url = check_client_id(client_id, self.config.allow_loopback_http)?;
        match self.store.get_client(client_id).await {
            Ok(Some(record)) if record.source == ClientSource::MetadataDocument => {
                return Ok(record);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading a cached client metadata document failed");
                return Err(CimdError::Store);
            }
        }
        if let Some((at, reason)) = self.failures.get(client_id) {
            let ago = at.elapsed();
            if ago < self.config.failure_ttl {
                return Err(CimdError::RecentlyFailed {
                    reason,
                    ago,
                    retry_after: self.config.failure_ttl,
                });
            }
            self.failures.remove(client_id);
        }
        let (record, ttl) = match self.fetch(client_id, url).await {
            Ok(fetched) => fetched,
            Err(e) => {
                if e.is_the_documents() && !self.config.failure_ttl.is_zero() {
                    self.failures
                        .insert(client_id.to_owned(), (Instant::now(), e.to_string()));
                }
                return Err(e);
            }
        };
        if let Some(ttl) = ttl
            && let Err(e) = self.store.put_client(&record, Some(ttl)).await
        {
            tracing::warn!(error = %e, "caching a client metadata document failed");
            return Err(CimdError::Store);
        }
        Ok(record)
    }

    /// Resolves the host and checks every address; the addresses returned are the only ones
    /// the fetch may connect to.
    async fn checked_addresses(
        &self,
        client_id: &str,
        url: &Url,
    ) -> Result<Vec<SocketAddr>, CimdError> {
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(Host::Domain(domain)) => {
                let target = (domain.to_owned(), port);
                // The system resolver blocks; run it aside and give up at the connect timeout.
                let lookup = tokio::task::spawn_blocking(move || {
                    target.to_socket_addrs().map(Iterator::collect::<Vec<_>>)
                });
                match tokio::time::timeout(self.config.connect_timeout, lookup).await {
                    Ok(Ok(Ok(addrs))) => addrs,
                    Ok(_) => return Err(CimdError::Unresolvable(client_id.to_owned())),
                    Err(_) => return Err(CimdError::Timeout(client_id.to_owned())),
                }
            }
            None => return Err(CimdError::Unresolvable(client_id.to_owned())),
        };
        if addrs.is_empty() {
            return Err(CimdError::Unresolvable(client_id.to_owned()));
        }
        for addr in &addrs {
            let class = classify_ip(addr.ip());
            let allowed = match class {
                IpClass::Public => true,
                IpClass::Loopback => self.config.allow_loopback_http,
                IpClass::Private | IpClass::SharedCgnat => self.config.allow_private_addresses,
                _ => false,
            };
            if !allowed {
                return Err(CimdError::AddressNotAllowed {
                    client_id: client_id.to_owned(),
                    class: class.describe(),
                });
            }
        }
        // Plain http is for loopback development only, whatever the switch says otherwise.
        if url.scheme() == "http"
            && !addrs
                .iter()
                .all(|a| classify_ip(a.ip()) == IpClass::Loopback)
        {
            return Err(CimdError::InvalidClientId {
                client_id: client_id.to_owned(),
                reason: "plain http is only allowed to loopback hosts",
            });
        }
        Ok(addrs)
    }

    /// Fetches and validates the document; returns the record and how long to cache it.
    async fn fetch(
        &self,
        client_id: &str,
        url: Url,
    ) -> Result<(ClientRecord, Option<Duration>), CimdError> {
        let work = async {
            let addrs = self.checked_addresses(client_id, &url).await?;
            let (body, cache_control) = self.download(client_id, &url, &addrs).await?;
            let record = self.parse_document(client_id, &body)?;
            Ok((record, cache_ttl(cache_control.as_deref(), &self.config)))
        };
        // The reqwest timeout covers the HTTP exchange; this one covers the DNS lookup too.
        match tokio::time::timeout(self.config.total_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(CimdError::Timeout(client_id.to_owned())),
        }
    }

    /// GETs the document from the checked addresses; returns the body and `Cache-Control`.
    async fn download(
        &self,
        client_id: &str,
        url: &Url,
        addrs: &[SocketAddr],
    ) -> Result<(Vec<u8>, Option<String>), CimdError> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another thread installing a provider is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.config.connect_timeout)
            .timeout(self.config.total_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would do its own DNS lookup, undoing the address check.
            .no_proxy()
            .https_only(!self.config.allow_loopback_http)
            .user_agent(concat!("oidc-proxy/", env!("CARGO_PKG_VERSION")));
        if let Some(Host::Domain(domain)) = url.host() {
            builder = builder.resolve_to_addrs(domain, addrs);
        }
        let client = builder.build().map_err(|e| {
            tracing::warn!(error = %e, "building the CIMD HTTP client failed");
            CimdError::Unreachable(client_id.to_owned())
        })?;
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                CimdError::Timeout(client_id.to_owned())
            } else {
                tracing::debug!(client_id, error = %e, "fetching a client metadata document failed");
                CimdError::Unreachable(client_id.to_owned())
            }
        };
        let mut response = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(CimdError::Redirected(client_id.to_owned()));
        }
        if status != reqwest::StatusCode::OK {
            return Err(CimdError::Status {
                client_id: client_id.to_owned(),
                status: status.as_u16(),
            });
        }
        let headers = response.headers();
        let json = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_media_type);
        if !json {
            return Err(CimdError::NotJson(client_id.to_owned()));
        }
        let cache_control = {
            let values: Vec<&str> = headers
                .get_all(reqwest::header::CACHE_CONTROL)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        };
        let limit = self.config.max_body_bytes;
        let too_large = || CimdError::TooLarge {
            client_id: client_id.to_owned(),
            limit,
        };
        if response
            .content_length()
            .is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX))
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, cache_control))
    }

    /// Validates the document and turns it into a public client's record.
    fn parse_document(&self, client_id: &str, body: &[u8]) -> Result<ClientRecord, CimdError> {
        let invalid = |reason: String| CimdError::InvalidDocument {
            client_id: client_id.to_owned(),
            reason,
        };
        let raw: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| invalid("it is not valid JSON".into()))?;
        let doc: Document = serde_json::from_value(raw.clone())
            .map_err(|e| invalid(format!("its fields are malformed ({e})")))?;
        if doc.client_id != client_id {
            return Err(invalid(format!(
                "its client_id {:?} is not the URL it was fetched from",
                doc.client_id
            )));
        }
        if doc.client_secret.is_some() {
            return Err(invalid(
                "it contains a client_secret; a public document cannot hold a secret".into(),
            ));
        }
        let method = doc.token_endpoint_auth_method.as_deref().unwrap_or("none");
        if method != "none" {
            return Err(invalid(format!(
                "token_endpoint_auth_method {method:?} is not supported; metadata document \
                 clients are public clients and must use \"none\""
            )));
        }
        let grant_types = doc
            .grant_types
            .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
        if !grant_types.iter().any(|g| g == "authorization_code")
            || grant_types
                .iter()
                .any(|g| g != "authorization_code" && g != "refresh_token")
        {
            return Err(invalid(
                "grant_types must include authorization_code and may add only refresh_token".into(),
            ));
        }
        if doc
            .response_types
            .as_ref()
            .is_some_and(|r| r.as_slice() != ["code"])
        {
            return Err(invalid("response_types must be [\"code\"]".into()));
        }
        for (name, value) in [("logo_uri", &doc.logo_uri), ("client_uri", &doc.client_uri)] {
            if let Some(value) = value {
                let ok = Url::parse(value).is_ok_and(|u| u.scheme() == "https");
                if !ok {
                    return Err(invalid(format!("{name} must be an https URL")));
                }
            }
        }
        if doc.redirect_uris.is_empty() {
            return Err(invalid("redirect_uris must name at least one URI".into()));
        }
        let policy = &self.config.redirect_policy;
        let app = match doc.application_type.as_deref() {
            Some(value) => ApplicationType::parse(value).ok_or_else(|| {
                invalid(format!(
                    "application_type {value:?} is not supported; use web or native"
                ))
            })?,
            // Like dynamic registration: web if every redirect is fit for a web client.
            None if doc
                .redirect_uris
                .iter()
                .all(|u| policy.validate(u, ApplicationType::Web).is_ok()) =>
            {
                ApplicationType::Web
            }
            None => ApplicationType::Native,
        };
        for uri in &doc.redirect_uris {
            policy
                .validate(uri, app)
                .map_err(|source| CimdError::RedirectUri {
                    client_id: client_id.to_owned(),
                    source,
                })?;
        }
        Ok(ClientRecord {
            client_id: client_id.to_owned(),
            source: ClientSource::MetadataDocument,
            secret_hash: None,
            redirect_uris: doc.redirect_uris,
            client_name: doc.client_name,
            token_endpoint_auth_method: "none".to_owned(),
            application_type: app.as_str().to_owned(),
            grant_types,
            scope: doc.scope,
            metadata: raw,
            created_at: now_millis(),
        })
    }
}

/// Checks the client id's form (draft §3): https, a path, no dot segments, fragment or
/// userinfo, and written canonically so that "equals the URL" has one meaning.
fn check_client_id(client_id: &str, allow_http: bool) -> Result<Url, CimdError> {
    let invalid = |reason| CimdError::InvalidClientId {
        client_id: client_id.to_owned(),
        reason,
    };
    if client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(invalid("longer than 2000 characters"));
    }
    let url = Url::parse(client_id).map_err(|_| invalid("not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        _ => return Err(invalid("the scheme must be https")),
    }
    if client_id.contains('#') {
        return Err(invalid("it must not contain a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain user information"));
    }
    if url.host().is_none() {
        return Err(invalid("it has no host"));
    }
    if url.path() == "/" {
        return Err(invalid("it must contain a path"));
    }
    if url.as_str() != client_id {
        return Err(invalid(
            "it is not in canonical form (lowercase host, no default port, no dot segments, \
             percent-encoded)",
        ));
    }
    Ok(url)
}

/// Whether a `Content-Type` value is JSON (`application/json` or `application/*+json`).
fn is_json_media_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// How long to cache a document given its `Cache-Control` header: `None` for `no-store` or
/// `no-cache` (fetch every time), else `max-age` clamped to the configured floor and ceiling,
/// or the default when there is no usable `max-age`.
pub fn cache_ttl(cache_control: Option<&str>, config: &CimdConfig) -> Option<Duration> {
    let mut max_age = None;
    for directive in cache_control.unwrap_or("").split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return None;
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = value.and_then(|v| v.parse::<u64>().ok());
        }
    }
    let ttl = max_age.map_or(config.default_ttl, Duration::from_secs);
    Some(ttl.clamp(config.min_ttl, config.max_ttl.max(config.min_ttl)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_classification() {
        let cases: &[(&str, IpClass)] = &[
            ("8.8.8.8", IpClass::Public),
            ("1.1.1.1", IpClass::Public),
            ("172.32.0.1", IpClass::Public),
            ("100.128.0.1", IpClass::Public),
            ("127.0.0.1", IpClass::Loopback),
            ("127.255.255.254", IpClass::Loopback),
            ("10.1.2.3", IpClass::Private),
            ("172.16.0.1", IpClass::Private),
            ("172.31.255.255", IpClass::Private),
            ("192.168.1.1", IpClass::Private),
            ("169.254.169.254", IpClass::LinkLocal),
            ("100.64.0.1", IpClass::SharedCgnat),
            ("100.127.255.255", IpClass::SharedCgnat),
            ("0.0.0.0", IpClass::Unspecified),
            ("0.1.2.3", IpClass::Unspecified),
            ("224.0.0.1", IpClass::Multicast),
            ("239.255.255.250", IpClass::Multicast),
            ("255.255.255.255", IpClass::Broadcast),
            ("240.0.0.1", IpClass::Reserved),
            ("198.18.0.1", IpClass::Reserved),
            ("192.0.0.8", IpClass::Reserved),
            ("192.0.2.1", IpClass::Documentation),
            ("198.51.100.7", IpClass::Documentation),
            ("203.0.113.9", IpClass::Documentation),
            // IPv6.
            ("2606:4700:4700::1111", IpClass::Public),
            ("::1", IpClass::Loopback),
            ("::", IpClass::Unspecified),
            ("fc00::1", IpClass::Private),
            ("fd12:3456::1", IpClass::Private),
            ("fec0::1", IpClass::Private),
            ("fe80::1", IpClass::LinkLocal),
            ("febf::1", IpClass::LinkLocal),
            ("ff02::1", IpClass::Multicast),
            ("2001:db8::1", IpClass::Documentation),
            ("3fff::1", IpClass::Documentation),
            ("2001::1", IpClass::Reserved),
            ("100::1", IpClass::Reserved),
            ("::127.0.0.1", IpClass::Reserved),
            // IPv4 inside IPv6 is judged by the IPv4 address.
            ("::ffff:127.0.0.1", IpClass::Loopback),
            ("::ffff:169.254.169.254", IpClass::LinkLocal),
            ("::ffff:10.0.0.1", IpClass::Private),
            ("::ffff:8.8.8.8", IpClass::Public),
            ("64:ff9b::a9fe:a9fe", IpClass::LinkLocal),
            ("64:ff9b::808:808", IpClass::Public),
            ("2002:7f00:1::1", IpClass::Loopback),
            ("2002:c0a8:101::1", IpClass::Private),
        ];
        for (ip, want) in cases {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(classify_ip(parsed), *want, "{ip}");
        }
    }

    #[test]
    fn cache_ttl_from_headers() {
        let config = CimdConfig::default();
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(cache_ttl(None, &config), secs(300));
        assert_eq!(cache_ttl(Some("public"), &config), secs(300));
        assert_eq!(cache_ttl(Some("max-age=3600"), &config), secs(3600));
        assert_eq!(
            cache_ttl(Some("public, Max-Age=\"900\""), &config),
            secs(900)
        );
        assert_eq!(cache_ttl(Some("max-age=0"), &config), secs(60));
        assert_eq!(cache_ttl(Some("max-age=10"), &config), secs(60));
        assert_eq!(cache_ttl(Some("max-age=999999999"), &config), secs(86400));
        assert_eq!(cache_ttl(Some("max-age=abc"), &config), secs(300));
        assert_eq!(cache_ttl(Some("no-store"), &config), None);
        assert_eq!(cache_ttl(Some("max-age=600, no-cache"), &config), None);
        assert_eq!(cache_ttl(Some("private,NO-STORE"), &config), None);
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/oauth-client+json"));
        assert!(!is_json_media_type("text/html"));
        assert!(!is_json_media_type("text/json+html"));
        assert!(!is_json_media_type(""));
    }

    #[test]
    fn client_id_form() {
        assert!(check_client_id("https://app.example.com/client.json", false).is_ok());
        assert!(check_client_id("http://127.0.0.1:8080/client.json", true).is_ok());
        for bad in [
            "http://app.example.com/client.json",
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/a/../client.json",
            "https://app.example.com/./client.json",
            "https://APP.example.com/client.json",
            "https://app.example.com:443/client.json",
            "https://user@app.example.com/client.json",
            "https://app.example.com/client.json#x",
            "ftp://app.example.com/client.json",
            "client-123",
        ] {
            assert!(check_client_id(bad, false).is_err(), "{bad}");
        }
    }
}
