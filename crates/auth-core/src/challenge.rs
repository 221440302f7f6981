//! RFC 6750 `WWW-Authenticate: Bearer` challenges, shaped as the MCP authorization spec asks:
//! no `error` when no token was sent, `invalid_token` with 401, `insufficient_scope` with 403,
//! and always `resource_metadata` so clients can find the authorization server (RFC 9728 §5.1).

use crate::error::AuthError;
use crate::scope::ScopeSet;

/// What every challenge of a resource carries.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ChallengeConfig {
    /// URL of the protected resource metadata document.
    pub resource_metadata: Option<String>,
    /// Scopes advertised on 401 challenges (what a client should ask for first).
    pub scopes: ScopeSet,
    /// Optional `realm`.
    pub realm: Option<String>,
}

impl ChallengeConfig {
    /// A configuration naming the metadata URL and the scopes to ask for.
    pub fn new(resource_metadata: impl Into<String>, scopes: ScopeSet) -> Self {
        Self {
            resource_metadata: Some(resource_metadata.into()),
            scopes,
            realm: None,
        }
    }
}

/// A challenge to answer a request with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// No credentials were sent (RFC 6750 §3.1: no error code). 401.
    NoToken,
    /// The token is invalid, expired or not for us. 401.
    InvalidToken {
        /// Safe text for `error_description`.
        description: Option<String>,
    },
    /// The token lacks scopes. 403.
    InsufficientScope {
        /// Scopes to ask for (needed plus already granted).
        scope: ScopeSet,
        /// Safe text for `error_description`.
        description: Option<String>,
    },
    /// The request is malformed (several credentials, token in the query). 400.
    InvalidRequest {
        /// Safe text for `error_description`.
        description: Option<String>,
    },
    /// The token could not be checked for now (keys or introspection unavailable). 503, with a
    /// challenge without error code so the client keeps its token and retries.
    Unavailable,
}

impl Challenge {
    /// The challenge for a verification failure.
    pub fn for_error(err: &AuthError) -> Self {
        let description = Some(err.external_message().to_owned());
        if err.is_server_error() {
            Self::Unavailable
        } else if err.oauth_error() == "invalid_request" {
            Self::InvalidRequest { description }
        } else {
            Self::InvalidToken { description }
        }
    }

    /// The HTTP status code to send.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoToken | Self::InvalidToken { .. } => 401,
            Self::InsufficientScope { .. } => 403,
            Self::InvalidRequest { .. } => 400,
            Self::Unavailable => 503,
        }
    }

    /// The OAuth error code, if the challenge has one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::NoToken | Self::Unavailable => None,
            Self::InvalidToken { .. } => Some("invalid_token"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::InvalidRequest { .. } => Some("invalid_request"),
        }
    }

    /// The `error_description`, if any.
    pub fn description(&self) -> Option<&str> {
        match self {
            Self::InvalidToken { description }
            | Self::InsufficientScope { description, .. }
            | Self::InvalidRequest { description } => description.as_deref(),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` header value.
    pub fn header_value(&self, config: &ChallengeConfig) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(realm) = &config.realm {
            params.push(("realm", quoted_safe(realm)));
        }
        if let Some(code) = self.error_code() {
            params.push(("error", code.to_owned()));
        }
        if let Some(d) = self.description() {
            params.push(("error_description", quoted_safe(d)));
        }
        let scope = match self {
            Self::InsufficientScope { scope, .. } => scope,
            _ => &config.scopes,
        };
        if !scope.is_empty() {
            // ScopeSet only holds RFC 6749 scope characters, safe inside quotes.
            params.push(("scope", scope.to_string()));
        }
        if let Some(url) = &config.resource_metadata {
            params.push(("resource_metadata", quoted_safe(url)));
        }
        let mut out = String::from("Bearer");
        for (i, (name, value)) in params.iter().enumerate() {
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
        out
    }

    /// A JSON body for the response (`error`, `error_description`), or `None` for challenges
    /// without an error code.
    pub fn body(&self) -> Option<serde_json::Value> {
        let code = self.error_code()?;
        let mut body = serde_json::json!({ "error": code });
        if let Some(d) = self.description() {
            body["error_description"] = serde_json::Value::String(quoted_safe(d));
        }
        Some(body)
    }
}

/// RFC 6750 §3: error_description and the like use %x20-21 / %x23-5B / %x5D-7E only; anything
/// else becomes a space, so no value can end the quoted string or inject a parameter.
fn quoted_safe(s: &str) -> String {
    s.chars()
        .map(|c| match c as u32 {
            0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E => c,
            _ => ' ',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_token_has_no_error() {
        let cfg = ChallengeConfig::new(
            "https://mcp.example/.well-known/oauth-protected-resource/mcp",
            ScopeSet::parse("splunk:read").unwrap(),
        );
        assert_eq!(
            Challenge::NoToken.header_value(&cfg),
            r#"Bearer scope="splunk:read", resource_metadata="https://mcp.example/.well-known/oauth-protected-resource/mcp""#
        );
    }

    #[test]
    fn descriptions_cannot_inject() {
        let c = Challenge::InvalidToken {
            description: Some("bad\" error=\"x\\".to_owned()),
        };
        assert_eq!(
            c.header_value(&ChallengeConfig::default()),
            r#"Bearer error="invalid_token", error_description="bad  error= x ""#
        );
    }
}
