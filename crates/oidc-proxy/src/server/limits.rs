//! The rate limits of `/token` and `/revoke` ([`ProxyConfig::token_limits`],
//! [`ProxyConfig::revoke_limits`]): per client address before the request is read, per client
//! once it has authenticated. Over a limit: 429 `temporarily_unavailable` with `Retry-After`.
//!
//! [`ProxyConfig::token_limits`]: super::ProxyConfig::token_limits
//! [`ProxyConfig::revoke_limits`]: super::ProxyConfig::revoke_limits

use crate::client_addr::{ClientAddr, display_addr};
use crate::rate_limit::{EndpointLimits, RateLimit, address_key, client_key, hit};
use crate::records::{ClientRecord, ClientSource};

use super::AuthorizationServer;
use super::client_auth::{OAuthFailure, from_store};

/// A rate-limited endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Endpoint {
    /// `/token`.
    Token,
    /// `/revoke`.
    Revoke,
}

impl Endpoint {
    /// The counters' scope, also the endpoint's name in messages.
    fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Revoke => "revoke",
        }
    }

    fn limits(self, server: &AuthorizationServer) -> EndpointLimits {
        match self {
            Self::Token => server.config.token_limits,
            Self::Revoke => server.config.revoke_limits,
        }
    }
}

/// Counts a request to `endpoint` from `addr`; refuses it over the per-address limit.
pub(crate) async fn check_address(
    server: &AuthorizationServer,
    endpoint: Endpoint,
    addr: Option<ClientAddr>,
) -> Result<(), OAuthFailure> {
    let limit = endpoint.limits(server).per_address;
    let key = address_key(endpoint.name(), addr.map(ClientAddr::ip));
    count(server, endpoint, &key, limit, addr, None).await
}

/// Counts a request to `endpoint` by the authenticated `client`; refuses it over the
/// per-client limit. Clients known by a metadata document URL are not counted here: every
/// installation of such an application uses the same id, so its limit would be everyone's.
pub(crate) async fn check_client(
    server: &AuthorizationServer,
    endpoint: Endpoint,
    client: &ClientRecord,
    addr: Option<ClientAddr>,
) -> Result<(), OAuthFailure> {
    if client.source == ClientSource::MetadataDocument {
        return Ok(());
    }
    let limit = endpoint.limits(server).per_client;
    let key = client_key(endpoint.name(), &client.client_id);
    count(server, endpoint, &key, limit, addr, Some(&client.client_id)).await
}

/// Counts one request on `key` under `limit`; over it, logs and refuses with 429. `client_id`
/// is set for a per-client counter, `None` for a per-address one.
async fn count(
    server: &AuthorizationServer,
    endpoint: Endpoint,
    key: &str,
    limit: RateLimit,
    addr: Option<ClientAddr>,
    client_id: Option<&str>,
) -> Result<(), OAuthFailure> {
    let Err(exceeded) = hit(server.store.as_ref(), key, limit)
        .await
        .map_err(from_store)?
    else {
        return Ok(());
    };
    let whose = if client_id.is_some() {
        "for this client"
    } else {
        "from this address"
    };
    tracing::warn!(
        client_id,
        client_addr = %display_addr(addr),
        endpoint = endpoint.name(),
        limit = limit.max,
        window_secs = limit.window.as_secs(),
        retry_after_secs = exceeded.retry_after_secs,
        "requests {whose} over the limit (429)"
    );
    Err(OAuthFailure::RateLimited {
        description: format!(
            "too many {} requests {whose}; retry in {} s",
            endpoint.name(),
            exceeded.retry_after_secs
        ),
        retry_after_secs: exceeded.retry_after_secs,
    })
}
