//! Token exchange at the IdP: the caller's token traded for one whose audience is Splunk, so
//! that no API is sent a token that was not issued for it (MCP authorization, "access token
//! privilege restriction"). Two styles: RFC 8693 (Okta, Keycloak, Auth0 custom token exchange)
//! and Microsoft Entra's on-behalf-of flow. The client authenticates as the server's own IdP
//! client, as it does for every other token request.

use std::time::Duration;

use crate::records::{Secret, now_millis};
use crate::upstream::{UpstreamClient, UpstreamError};

/// RFC 8693's grant type.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 7523's grant type, which Entra's on-behalf-of flow uses.
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 8693's type of an OAuth access token.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// How the IdP exchanges tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExchangeStyle {
    /// RFC 8693 token exchange: `subject_token`, `audience` and/or `resource`.
    #[default]
    Rfc8693,
    /// Entra on-behalf-of: `assertion`, `requested_token_use=on_behalf_of`, and the target as
    /// `scope=<application ID URI>/.default`.
    EntraOnBehalfOf,
}

/// What to ask the IdP for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExchangeRequest {
    /// The style of the IdP.
    pub style: ExchangeStyle,
    /// The audience of the token wanted (RFC 8693 `audience`; for on-behalf-of, the
    /// application ID URI whose `/.default` scope is asked for when `scope` is not set).
    pub audience: Option<String>,
    /// RFC 8707 resource indicator of the token wanted.
    pub resource: Option<String>,
    /// Scopes to ask for, space-separated.
    pub scope: Option<String>,
}

impl ExchangeRequest {
    /// A request in `style` for a token with `audience`.
    pub fn new(style: ExchangeStyle, audience: impl Into<String>) -> Self {
        Self {
            style,
            audience: Some(audience.into()),
            resource: None,
            scope: None,
        }
    }
}

/// A token the IdP issued by exchange. Never log it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExchangedToken {
    /// The access token for the target.
    pub access_token: Secret,
    /// How long it lives, as the IdP said (`expires_in`), if it said.
    pub expires_in: Option<Duration>,
}

impl UpstreamClient {
    /// Exchanges `subject_token` (an access token the IdP issued) for a token for the target of
    /// `request`. A refusal is [`UpstreamError::OAuth`] with the IdP's `error`, e.g.
    /// `invalid_target` or `unauthorized_client`.
    pub async fn exchange(
        &self,
        subject_token: &str,
        request: &ExchangeRequest,
    ) -> Result<ExchangedToken, UpstreamError> {
        let mut form: Vec<(&str, &str)> = Vec::new();
        let default_scope;
        match request.style {
            ExchangeStyle::Rfc8693 => {
                form.extend([
                    ("grant_type", TOKEN_EXCHANGE),
                    ("subject_token", subject_token),
                    ("subject_token_type", ACCESS_TOKEN_TYPE),
                    ("requested_token_type", ACCESS_TOKEN_TYPE),
                ]);
                if let Some(audience) = &request.audience {
                    form.push(("audience", audience));
                }
                if let Some(scope) = &request.scope {
                    form.push(("scope", scope));
                }
            }
            ExchangeStyle::EntraOnBehalfOf => {
                form.extend([
                    ("grant_type", JWT_BEARER),
                    ("requested_token_use", "on_behalf_of"),
                    ("assertion", subject_token),
                ]);
                let scope = match (&request.scope, &request.audience) {
                    (Some(scope), _) => scope.as_str(),
                    (None, Some(audience)) => {
                        default_scope = format!("{}/.default", audience.trim_end_matches('/'));
                        default_scope.as_str()
                    }
                    (None, None) => {
                        return Err(UpstreamError::Config(
                            "an on-behalf-of exchange needs the target's application ID URI \
                             (audience) or a scope"
                                .to_owned(),
                        ));
                    }
                };
                form.push(("scope", scope));
            }
        }
        if let Some(resource) = &request.resource {
            form.push(("resource", resource));
        }
        let started = now_millis();
        // The server's own extra token parameters are for its sign-ins, not for exchanges.
        let tokens = self.token_request_without_extras(&form).await?;
        let expires_in = tokens
            .expires_at
            .map(|at| Duration::from_millis(at.saturating_sub(started)));
        Ok(ExchangedToken {
            access_token: tokens.access_token,
            expires_in,
        })
    }
}
