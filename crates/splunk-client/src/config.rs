//! Typed configuration of a client: where Splunk is, how to trust it, timeouts and retries.
//!
//! The crate reads no environment variable or file by itself; the binary that embeds it turns
//! its own configuration into a [`ClientConfig`].

use std::sync::Arc;
use std::time::Duration;

use crate::observe::{ObserverSlot, RequestObserver};

/// How a [`crate::Client`] reaches Splunk's management port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Base URL of the management API, e.g. `https://splunk.example.com:8089` (a path prefix
    /// such as `https://proxy/splunk` is kept).
    pub base_url: String,
    /// Certificate verification settings.
    pub tls: TlsConfig,
    /// Longest time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest silence while waiting for an answer or for the next piece of a body; it also
    /// bounds a streamed export between two chunks, never its total length. Raise it for
    /// exports of slow transforming searches, which may send nothing until they finish.
    pub read_timeout: Duration,
    /// Longest total time for a request whose whole body is read at once (not for streams).
    pub request_timeout: Duration,
    /// Retries of idempotent requests.
    pub retry: RetryPolicy,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
    /// Told of every request, for metrics; set with [`ClientConfig::with_observer`].
    pub(crate) observer: ObserverSlot,
}

impl ClientConfig {
    /// A configuration with defaults: TLS verified against the system's roots, 10 s to
    /// connect, 60 s read silence, 5 min per request, 3 retries.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            tls: TlsConfig::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            user_agent: concat!("splunk-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            observer: ObserverSlot::default(),
        }
    }

    /// The limits a failed request is reported against.
    pub(crate) fn timeouts(&self) -> crate::error::Timeouts {
        crate::error::Timeouts {
            connect: self.connect_timeout,
            read: self.read_timeout,
        }
    }

    /// Tells `observer` of every HTTP request made by clients of this configuration (and the
    /// clients derived from them with [`crate::Client::with_credentials`]), for metrics.
    /// Configurations are equal, and share a pool, only with the same observer instance.
    pub fn with_observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = ObserverSlot(Some(observer));
        self
    }

    /// The request observer, if one is set.
    pub fn observer(&self) -> Option<&Arc<dyn RequestObserver>> {
        self.observer.0.as_ref()
    }

    /// Trusts the PEM certificates in `pem` (one or several) in addition to the system's roots,
    /// e.g. the self-signed certificate of a fresh Splunk.
    pub fn with_ca_bundle_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca_bundle_pem = Some(pem.into());
        self
    }

    /// Turns certificate verification off. Only for development: anyone on the path can read
    /// and change the traffic, credentials included. A warning is logged when a client is built.
    pub fn danger_accept_invalid_certs(mut self) -> Self {
        self.tls.danger_accept_invalid_certs = true;
        self
    }

    /// Sets the connect, read and total request timeouts at once.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self.request_timeout = request;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// Certificate verification settings. Verification is on unless explicitly switched off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TlsConfig {
    /// Extra trusted roots, PEM (a bundle of one or more certificates).
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Accept any certificate. Logged as a warning; never the default.
    pub danger_accept_invalid_certs: bool,
}

/// Retries with jittered exponential backoff, applied only to idempotent requests (GET, DELETE,
/// and POSTs that change nothing such as login and job control), and only when Splunk was not
/// reached, the connection closed without an answer, or it answered 502, 503 or 504.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    pub max_retries: u32,
    /// Backoff before the first retry; doubled for each further retry.
    pub initial_backoff: Duration,
    /// Upper bound of one backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// A policy with the given number of retries and backoff bounds.
    pub fn new(max_retries: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            max_retries,
            initial_backoff,
            max_backoff,
        }
    }

    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The wait before retry number `retry` (0-based): "equal jitter", half fixed and half
    /// random, so concurrent clients spread out but every retry still waits a little.
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exponential = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.max_backoff);
        let half = exponential / 2;
        let jitter = rand::random_range(0..=half.as_micros().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_micros(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let policy = RetryPolicy::new(5, Duration::from_millis(100), Duration::from_millis(1000));
        for _ in 0..200 {
            let first = policy.backoff(0);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = policy.backoff(2);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = policy.backoff(30);
            assert!((Duration::from_millis(500)..=Duration::from_millis(1000)).contains(&late));
        }
        let samples: std::collections::HashSet<_> = (0..50).map(|_| policy.backoff(1)).collect();
        assert!(samples.len() > 1, "backoff is not jittered");
    }
}
