//! Who sent a request: the client address that rate limits count against and logs name.
//!
//! This crate does not decide which forwarding headers to believe: the server in front of the
//! router does, once per request (splunk-mcp believes `X-Forwarded-For` and `Forwarded` only
//! from its configured trusted proxies), and puts the answer into the request extensions as a
//! [`ClientAddr`]. A router served without such a middleware falls back to the TCP peer
//! (`ConnectInfo<SocketAddr>`), which is right when nothing stands in front of it.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, OptionalFromRequestParts};
use axum::http::Extensions;
use axum::http::request::Parts;

/// The address of the client behind a request, as the serving side decided it. Insert it
/// into the request extensions before the authorization server's router sees the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The client address of a request: the [`ClientAddr`] extension when a middleware set
    /// one, else the TCP peer when the server provides `ConnectInfo<SocketAddr>`, else `None`.
    pub fn from_extensions(extensions: &Extensions) -> Option<Self> {
        extensions.get::<Self>().copied().or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| Self(peer.ip().to_canonical()))
        })
    }

    /// The address.
    pub fn ip(self) -> IpAddr {
        self.0
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A client address for logs: the address, or `unknown`.
pub(crate) fn display_addr(addr: Option<ClientAddr>) -> String {
    addr.map_or_else(|| "unknown".to_owned(), |a| a.to_string())
}

/// `Option<ClientAddr>` as a handler argument: [`ClientAddr::from_extensions`].
impl<S: Send + Sync> OptionalFromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(Self::from_extensions(&parts.extensions))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn the_extension_wins_over_the_peer_which_is_the_fallback() {
        let peer: SocketAddr = "[::ffff:10.1.2.3]:4711".parse().unwrap();
        let mut extensions = Extensions::new();
        assert_eq!(ClientAddr::from_extensions(&extensions), None);
        extensions.insert(ConnectInfo(peer));
        // A dual-stack listener shows IPv4 peers as mapped IPv6; they count as IPv4.
        assert_eq!(
            ClientAddr::from_extensions(&extensions),
            Some(ClientAddr(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))))
        );
        let decided = ClientAddr(IpAddr::V6(Ipv6Addr::LOCALHOST));
        extensions.insert(decided);
        assert_eq!(ClientAddr::from_extensions(&extensions), Some(decided));
    }
}
