//! RFC 9728 OAuth 2.0 Protected Resource Metadata, the document MCP clients read to find the
//! authorization server.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The protected resource metadata document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// The resource identifier (this server's URL, e.g. `https://mcp.example/mcp`).
    pub resource: String,
    /// Issuers of the authorization servers (MCP requires at least one).
    pub authorization_servers: Vec<String>,
    /// Scopes clients may request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How tokens may be presented; this crate only accepts the header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// JWKS of the resource itself (rarely used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// Documentation URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// Signing algorithms the resource accepts for tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_signing_alg_values_supported: Vec<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for `resource`, protected by `authorization_servers`, tokens in the header only.
    pub fn new(
        resource: impl Into<String>,
        authorization_servers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            resource: resource.into(),
            authorization_servers: authorization_servers.into_iter().map(Into::into).collect(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
            jwks_uri: None,
            resource_name: None,
            resource_documentation: None,
            resource_signing_alg_values_supported: Vec::new(),
        }
    }

    /// Sets the advertised scopes.
    pub fn with_scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the human-readable name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// Where this document is served for `resource` (RFC 9728 §3.1): the well-known segment goes
    /// between the host and the path, so `https://h/mcp` → `https://h/.well-known/oauth-protected-resource/mcp`.
    pub fn well_known_url(resource: &str) -> Result<String, ConfigError> {
        let bad = |detail: &str| ConfigError::InvalidUrl {
            url: resource.to_owned(),
            detail: detail.to_owned(),
        };
        let (scheme, rest) = resource.split_once("://").ok_or_else(|| bad("no scheme"))?;
        if resource.contains(['?', '#']) {
            return Err(bad("a resource identifier has no query or fragment"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        Ok(format!(
            "{scheme}://{authority}/.well-known/oauth-protected-resource{path}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls() {
        assert_eq!(
            ProtectedResourceMetadata::well_known_url("https://h.example/mcp").unwrap(),
            "https://h.example/.well-known/oauth-protected-resource/mcp"
        );
        assert_eq!(
            ProtectedResourceMetadata::well_known_url("https://h.example").unwrap(),
            "https://h.example/.well-known/oauth-protected-resource"
        );
        assert!(ProtectedResourceMetadata::well_known_url("h.example/mcp").is_err());
    }
}
