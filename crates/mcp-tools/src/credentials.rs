//! Per-call Splunk credentials: which [`Client`] a tool call talks to Splunk with.
//!
//! A [`CredentialSource`] is asked once per tool call, with the caller's [`AuthContext`] (or
//! none, for stdio and unauthenticated HTTP). Every implementation here hands out clones of one
//! base [`Client`], so all callers share one connection pool whatever credential they carry.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use auth_core::AuthContext;
use splunk_client::mirror::Provisioner;
use splunk_client::{Client, Credentials};

/// The boxed future a [`CredentialSource`] returns; boxed so the trait stays object-safe and
/// a server can hold an `Arc<dyn CredentialSource>` chosen from configuration.
pub type ClientFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Client, CredentialError>> + Send + 'a>>;

/// The boxed future of [`CredentialSource::resolve`].
pub type ResolvedFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ResolvedClient, CredentialError>> + Send + 'a>>;

/// A resolved client and, when the source knows it, the Splunk user it calls as (for audit).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolvedClient {
    /// The client to call Splunk with.
    pub client: Client,
    /// The Splunk username the client acts as, e.g. `mcp.alice` in mirror mode.
    pub splunk_user: Option<String>,
}

impl ResolvedClient {
    /// A client whose Splunk user is not known to the source.
    pub fn anonymous(client: Client) -> Self {
        Self {
            client,
            splunk_user: None,
        }
    }
}

/// Why no Splunk client could be had for a caller. The `Display` text is safe to show the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The source needs an authenticated caller and there is none (e.g. passthrough or mirror
    /// on stdio).
    #[error("this server acts on Splunk as the caller, but the call carries no token")]
    NoCaller,
    /// Obtaining the credential needed Splunk and Splunk failed (e.g. minting a mirror token).
    #[error("could not obtain Splunk credentials: {0}")]
    Splunk(#[from] splunk_client::Error),
    /// Mirror mode names the Splunk user after a token claim the caller's token lacks.
    #[error(
        "your token has no '{claim}' claim, which this server needs to name your Splunk user; \
ask your identity provider administrator to include it in tokens for this server"
    )]
    MissingClaim {
        /// The claim's name.
        claim: String,
    },
    /// The IdP refused to exchange the caller's token for one for Splunk (`exchange` mode).
    #[error(
        "the identity provider refused to exchange your token for one for Splunk: {error}{}",
        description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    ExchangeRefused {
        /// The IdP's OAuth `error`, e.g. `invalid_target` or `unauthorized_client`.
        error: String,
        /// The IdP's `error_description`, if any.
        description: Option<String>,
    },
    /// The IdP could not be reached to exchange the caller's token; details are in the
    /// server's log.
    #[error(
        "the identity provider could not be reached to get a token for Splunk; try again shortly"
    )]
    ExchangeUnavailable,
    /// The server's own Splunk credential was refused or lacks rights; details are in the
    /// server's log, never shown to the caller.
    #[error(
        "the server is misconfigured and cannot act on Splunk for you; contact the operator \
of this MCP server"
    )]
    Misconfigured,
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

    /// Like [`CredentialSource::client_for`], with the Splunk user the client acts as when
    /// the source knows it (tool calls use this, to name that user in audit events). The
    /// default knows no user.
    fn resolve<'a>(&'a self, caller: Option<&'a AuthContext>) -> ResolvedFuture<'a> {
        Box::pin(async move { self.client_for(caller).await.map(ResolvedClient::anonymous) })
    }
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

/// Which claim of the caller's token names their Splunk user in mirror mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsernameClaim {
    /// `short_id`, e.g. a corporate short login name.
    ShortId,
    /// `preferred_username` (or `username` from introspection).
    PreferredUsername,
    /// The part of `email` before the `@`.
    EmailLocalPart,
    /// `sub`, the subject.
    Sub,
    /// Any other claim holding a string.
    Other(String),
}

impl UsernameClaim {
    /// The claim's name in the token.
    pub fn claim_name(&self) -> &str {
        match self {
            Self::ShortId => "short_id",
            Self::PreferredUsername => "preferred_username",
            Self::EmailLocalPart => "email",
            Self::Sub => "sub",
            Self::Other(name) => name,
        }
    }

    /// The username this claim gives for `caller`, or [`CredentialError::MissingClaim`]
    /// naming the claim when the token lacks it (or it is empty).
    pub fn username(&self, caller: &AuthContext) -> Result<String, CredentialError> {
        self.value_in(caller)
            .ok_or_else(|| CredentialError::MissingClaim {
                claim: self.claim_name().to_owned(),
            })
    }

    /// The username this claim gives for `caller`, if the token carries it (non-empty).
    fn value_in(&self, caller: &AuthContext) -> Option<String> {
        let claims = caller.claims();
        let extra = |name: &str| {
            claims
                .extra
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let value = match self {
            Self::ShortId => extra("short_id"),
            Self::PreferredUsername => claims.preferred_username.clone(),
            Self::EmailLocalPart => extra("email")
                .and_then(|email| email.split_once('@').map(|(local, _)| local.to_owned())),
            Self::Sub => Some(caller.subject().to_owned()),
            Self::Other(name) => extra(name),
        };
        value.filter(|v| !v.trim().is_empty())
    }
}

impl FromStr for UsernameClaim {
    type Err = std::convert::Infallible;

    /// `short_id`, `preferred_username`, `email` (its local part), `sub`, or any other claim
    /// name; never fails.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(match name.trim() {
            "short_id" => Self::ShortId,
            "preferred_username" => Self::PreferredUsername,
            "email" => Self::EmailLocalPart,
            "sub" => Self::Sub,
            other => Self::Other(other.to_owned()),
        })
    }
}

impl fmt::Display for UsernameClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.claim_name())
    }
}

/// A mirror user per person: the caller's token claim names a native Splunk user
/// `mcp.<name>`, created and kept in step by the [`Provisioner`] with the admin credential,
/// and each call uses a short-lived token minted for it (see DESIGN.md, boundary 2 `mirror`).
///
/// Tokens are cached per person by the provisioner; when Splunk refuses one (revoked, expired,
/// user deleted) a new one is minted once and the request retried.
#[derive(Debug, Clone)]
pub struct MirrorCredentials {
    base: Client,
    provisioner: Arc<Provisioner>,
    claim: UsernameClaim,
}

impl MirrorCredentials {
    /// Mirror credentials sharing `base`'s connection pool (its own credential is never used
    /// for calls), provisioning through `provisioner` and naming users after `claim`.
    pub fn new(base: Client, provisioner: Provisioner, claim: UsernameClaim) -> Self {
        Self {
            base,
            provisioner: Arc::new(provisioner),
            claim,
        }
    }

    /// The person's username (before the mirror prefix) from the caller's token.
    pub fn username_for(&self, caller: &AuthContext) -> Result<String, CredentialError> {
        self.claim.username(caller)
    }

    /// The provisioner (for cleanup, doctor and readiness checks).
    pub fn provisioner(&self) -> &Provisioner {
        &self.provisioner
    }

    async fn resolve_for(
        &self,
        caller: Option<&AuthContext>,
    ) -> Result<ResolvedClient, CredentialError> {
        let caller = caller.ok_or(CredentialError::NoCaller)?;
        let username = self.username_for(caller)?;
        // Provision now (a cache hit after the first call) so that a refused admin credential
        // surfaces here, where it can be told apart from the caller's own errors.
        let token = self
            .provisioner
            .token_for(&username)
            .await
            .map_err(|error| admin_error(error, caller.subject()))?;
        let credentials = self.provisioner.credentials_for(&username)?;
        Ok(ResolvedClient {
            client: self.base.with_credentials(credentials),
            splunk_user: Some(token.mirror_user),
        })
    }
}

/// Maps a provisioning failure: the admin credential refused or short of rights is the
/// operator's problem, logged in full and shown to the caller without detail.
fn admin_error(error: splunk_client::Error, subject: &str) -> CredentialError {
    match error {
        splunk_client::Error::Unauthorized { .. } | splunk_client::Error::Forbidden { .. } => {
            tracing::error!(
                %error,
                %subject,
                "mirror provisioning failed: Splunk refused the admin credential or it lacks \
            edit_user / edit_tokens_all; check SPLUNK_TOKEN or SPLUNK_USERNAME/SPLUNK_PASSWORD"
            );
            CredentialError::Misconfigured
        }
        other => CredentialError::Splunk(other),
    }
}

impl CredentialSource for MirrorCredentials {
    fn client_for<'a>(&'a self, caller: Option<&'a AuthContext>) -> ClientFuture<'a> {
        Box::pin(async move { self.resolve_for(caller).await.map(|r| r.client) })
    }

    fn resolve<'a>(&'a self, caller: Option<&'a AuthContext>) -> ResolvedFuture<'a> {
        Box::pin(self.resolve_for(caller))
    }

    fn mode(&self) -> &'static str {
        "mirror"
    }
}

#[cfg(test)]
mod tests {
    use auth_core::{BearerToken, Claims};
    use serde_json::json;

    use super::*;

    #[test]
    fn username_claims_parse_and_read_the_token() {
        let mut claims = Claims::for_subject("00u1abc");
        claims.preferred_username = Some("alice.p".to_owned());
        claims.extra.insert("short_id".to_owned(), json!("ali"));
        claims
            .extra
            .insert("email".to_owned(), json!("alice@example.com"));
        claims.extra.insert("upn".to_owned(), json!("alice-upn"));
        claims.extra.insert("empty".to_owned(), json!(" "));
        let caller = AuthContext::new(claims, BearerToken::new("t")).unwrap();
        let read = |name: &str| name.parse::<UsernameClaim>().unwrap().value_in(&caller);
        assert_eq!(read("short_id").as_deref(), Some("ali"));
        assert_eq!(read("preferred_username").as_deref(), Some("alice.p"));
        assert_eq!(read("email").as_deref(), Some("alice"));
        assert_eq!(read("sub").as_deref(), Some("00u1abc"));
        assert_eq!(read("upn").as_deref(), Some("alice-upn"));
        assert_eq!(read("empty"), None);
        assert_eq!(read("absent"), None);
        assert_eq!(
            "email".parse::<UsernameClaim>().unwrap(),
            UsernameClaim::EmailLocalPart
        );
        assert_eq!(UsernameClaim::Other("upn".into()).to_string(), "upn");
    }

    #[test]
    fn error_messages_tell_the_caller_what_to_do() {
        let missing = CredentialError::MissingClaim {
            claim: "short_id".to_owned(),
        };
        assert!(missing.to_string().contains("'short_id' claim"));
        assert!(
            missing
                .to_string()
                .contains("identity provider administrator")
        );
        assert!(
            CredentialError::Misconfigured
                .to_string()
                .contains("contact the operator")
        );
    }
}
