//! Per-call Splunk credentials: which [`Client`] a tool call talks to Splunk with.
//!
//! A [`CredentialSource`] is asked once per tool call, with the caller's [`AuthContext`] (or
//! none, for stdio and unauthenticated HTTP). Every implementation here hands out clones of one
//! base [`Client`], so all callers share one connection pool whatever credential they carry.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use auth_core::AuthContext;
use splunk_client::{Client, Credentials};

/// The boxed future a [`CredentialSource`] returns; boxed so the trait stays object-safe and
/// a server can hold an `Arc<dyn CredentialSource>` chosen from configuration.
pub type ClientFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Client, CredentialError>> + Send + 'a>>;

/// Why no Splunk client could be had for a caller. The `Display` text is safe to show the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The source needs an authenticated caller and there is none (e.g. passthrough on stdio).
    #[error("this server forwards the caller's token to Splunk, but the call carries no token")]
    NoCaller,
    /// Obtaining the credential needed Splunk and Splunk failed (e.g. minting a mirror token).
    #[error("could not obtain Splunk credentials: {0}")]
    Splunk(#[from] splunk_client::Error),
}

/// Resolves the Splunk client for one tool call.
///
/// Implementations must be cheap on the hot path: a call resolves its client before every
/// Splunk request it makes. A source that mints credentials (mirror mode) caches them itself.
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// The client to call Splunk with on behalf of `caller` (`None` when the transport carries
    /// no identity).
    fn client_for<'a>(&'a self, caller: Option<&'a AuthContext>) -> ClientFuture<'a>;

    /// Short name of the mode for logs and `whoami` (`service`, `passthrough`, `mirror`).
    fn mode(&self) -> &'static str;
}

/// One service account for every caller: a Splunk token or username/password, fixed at
/// construction. The caller's identity does not change what Splunk sees.
#[derive(Debug, Clone)]
pub struct ServiceCredentials {
    client: Client,
}

impl ServiceCredentials {
    /// Uses `client` (already carrying the service credential) for every call.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl CredentialSource for ServiceCredentials {
    fn client_for<'a>(&'a self, _caller: Option<&'a AuthContext>) -> ClientFuture<'a> {
        Box::pin(std::future::ready(Ok(self.client.clone())))
    }

    fn mode(&self) -> &'static str {
        "service"
    }
}

/// Forwards the caller's own bearer token to Splunk (`Authorization: Bearer <token>`), so
/// Splunk authenticates the person and applies their roles.
///
/// Only correct when the token's audience covers Splunk as well as this server (see DESIGN.md,
/// "The two authentication boundaries"); the binary checks that before choosing this source.
#[derive(Debug, Clone)]
pub struct PassthroughCredentials {
    base: Client,
}

impl PassthroughCredentials {
    /// Shares `base`'s connection pool; `base`'s own credential is never used for calls.
    pub fn new(base: Client) -> Self {
        Self { base }
    }
}

impl CredentialSource for PassthroughCredentials {
    fn client_for<'a>(&'a self, caller: Option<&'a AuthContext>) -> ClientFuture<'a> {
        let result = match caller {
            Some(ctx) => Ok(self
                .base
                .with_credentials(Credentials::bearer(ctx.token().secret()))),
            None => Err(CredentialError::NoCaller),
        };
        Box::pin(std::future::ready(result))
    }

    fn mode(&self) -> &'static str {
        "passthrough"
    }
}
