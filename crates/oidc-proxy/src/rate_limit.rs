//! Fixed-window rate limits counted in the [`Store`] (so every replica on one Redis counts
//! together): [`RateLimit`], the limits of `/token` and `/revoke` ([`EndpointLimits`]), and
//! the counter keys, per client address or per client id.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::StoreError;
use crate::records::now_millis;
use crate::store::{Store, millis, window_start};

/// At most `max` requests per fixed `window` (windows start at multiples of `window` since
/// the Unix epoch, the same on every replica). `max == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window; 0: unlimited.
    pub max: u64,
    /// The window.
    pub window: Duration,
}

impl RateLimit {
    /// No limit.
    pub const OFF: Self = Self {
        max: 0,
        window: Duration::from_secs(60),
    };

    /// `max` requests per minute.
    pub const fn per_minute(max: u64) -> Self {
        Self {
            max,
            window: Duration::from_secs(60),
        }
    }

    /// Whether the limit counts anything.
    pub fn is_on(&self) -> bool {
        self.max > 0 && !self.window.is_zero()
    }
}

/// The limits of one endpoint: per client address (counted before anything else, so
/// malformed and unauthenticated requests count too) and per client id (counted once the
/// client has authenticated, so nobody can spend a confidential client's allowance without its
/// secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointLimits {
    /// Requests per client address.
    pub per_address: RateLimit,
    /// Requests per client id. Clients identified by a metadata document URL are not limited
    /// this way: every installation of such an application shares that one id.
    pub per_client: RateLimit,
}

impl EndpointLimits {
    /// `/token`: 120 requests a minute per address, 60 per client. A client refreshes once per
    /// access token (an hour by default) and signs in rarely; a whole office behind one NAT
    /// address stays far below 120 a minute, a client stuck in a loop does not.
    pub const TOKEN_DEFAULT: Self = Self {
        per_address: RateLimit::per_minute(120),
        per_client: RateLimit::per_minute(60),
    };

    /// `/revoke`: 60 a minute per address, 30 per client; a client revokes when it signs out.
    pub const REVOKE_DEFAULT: Self = Self {
        per_address: RateLimit::per_minute(60),
        per_client: RateLimit::per_minute(30),
    };

    /// Both limits off.
    pub const OFF: Self = Self {
        per_address: RateLimit::OFF,
        per_client: RateLimit::OFF,
    };
}

/// A request over its limit: when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exceeded {
    /// Whole seconds until the window ends, at least 1 (the `Retry-After` value).
    pub(crate) retry_after_secs: u64,
}

/// Counts one request on `key` under `limit`; `Err(Exceeded)` inside `Ok` once the window's
/// allowance is spent. An unlimited `limit` counts nothing.
pub(crate) async fn hit(
    store: &dyn Store,
    key: &str,
    limit: RateLimit,
) -> Result<Result<(), Exceeded>, StoreError> {
    if !limit.is_on() {
        return Ok(Ok(()));
    }
    let hits = store.hit_rate_limit(key, limit.window).await?;
    if hits <= limit.max {
        return Ok(Ok(()));
    }
    let now = now_millis();
    let end = window_start(now, limit.window) + millis(limit.window);
    Ok(Err(Exceeded {
        retry_after_secs: end.saturating_sub(now).div_ceil(1000).max(1),
    }))
}

/// The counter key of a client address for `scope` (`token`, `revoke`, `register`).
///
/// An IPv6 client is counted by its /64: one host commonly holds a whole /64 and could
/// otherwise take a fresh address, and a fresh allowance, for every request. An unknown
/// address (no peer information at all) shares one counter.
pub(crate) fn address_key(scope: &str, ip: Option<IpAddr>) -> String {
    match ip.map(|ip| ip.to_canonical()) {
        None => format!("{scope}:addr:unknown"),
        Some(IpAddr::V4(v4)) => format!("{scope}:addr:{v4}"),
        Some(IpAddr::V6(v6)) => {
            let segments = v6.segments();
            format!(
                "{scope}:addr:{:x}:{:x}:{:x}:{:x}::/64",
                segments[0], segments[1], segments[2], segments[3]
            )
        }
    }
}

/// The counter key of a client id for `scope`; length-prefixed so that no id can reach
/// another key's counter.
pub(crate) fn client_key(scope: &str, client_id: &str) -> String {
    format!("{scope}:client:{}:{client_id}", client_id.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_keyed_by_host_for_ipv4_and_by_64_for_ipv6() {
        let key = |ip: &str| address_key("token", Some(ip.parse().unwrap()));
        assert_eq!(key("192.0.2.7"), "token:addr:192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "token:addr:192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "token:addr:2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(address_key("revoke", None), "revoke:addr:unknown");
        assert_ne!(client_key("token", "a:b"), client_key("token:a", "b"));
    }

    #[test]
    fn a_zero_limit_or_window_is_off() {
        assert!(RateLimit::per_minute(1).is_on());
        assert!(!RateLimit::OFF.is_on());
        assert!(
            !RateLimit {
                max: 5,
                window: Duration::ZERO
            }
            .is_on()
        );
    }
}
