//! RFC 8414 authorization server metadata, served at `/.well-known/oauth-authorization-server`,
//! and the endpoint paths of `proxy` mode.
//!
//! The issuer is the server's public base URL, which may carry a mount prefix
//! (`https://host/splunk-mcp`); every endpoint is that base plus its path.

use serde::{Deserialize, Serialize};
use url::Url;

/// Path of the authorization endpoint, below the base URL.
pub const AUTHORIZE_PATH: &str = "/authorize";
/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/token";
/// Path of the dynamic client registration endpoint.
pub const REGISTER_PATH: &str = "/register";
/// Path of the revocation endpoint.
pub const REVOKE_PATH: &str = "/revoke";
/// Path of our JWKS.
pub const JWKS_PATH: &str = "/jwks.json";
/// Path of this metadata document.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";

/// Why a base URL cannot be an issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Not an absolute http(s) URL without query or fragment (RFC 8414 §2).
    #[error(
        "public base URL {0:?} must be an absolute http(s) URL without query or fragment, \
         e.g. https://mcp.example.com or https://example.com/splunk-mcp"
    )]
    InvalidBaseUrl(String),
}

/// The metadata document (RFC 8414 §2), as served and as parsed by clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// The issuer: the base URL, no trailing slash.
    pub issuer: String,
    /// `/authorize` below the issuer.
    pub authorization_endpoint: String,
    /// `/token` below the issuer.
    pub token_endpoint: String,
    /// `/register` below the issuer.
    pub registration_endpoint: String,
    /// `/revoke` below the issuer.
    pub revocation_endpoint: String,
    /// `/jwks.json` below the issuer.
    pub jwks_uri: String,
    /// Always `["code"]`.
    pub response_types_supported: Vec<String>,
    /// `authorization_code` and `refresh_token`.
    pub grant_types_supported: Vec<String>,
    /// Always `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
    /// `none`, `client_secret_basic`, `client_secret_post`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Same methods as the token endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Scopes clients may ask for.
    pub scopes_supported: Vec<String>,
    /// Whether client ID metadata documents (https URLs as client ids) are accepted.
    pub client_id_metadata_document_supported: bool,
    /// RFC 9207: the authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
}

const CLIENT_AUTH_METHODS: [&str; 3] = ["none", "client_secret_basic", "client_secret_post"];

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

impl AuthorizationServerMetadata {
    /// The metadata of a server whose public base URL is `base_url` (a trailing `/` is
    /// ignored), offering `scopes`.
    pub fn new(
        base_url: &str,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, MetadataError> {
        let issuer = issuer_from_base_url(base_url)?;
        let at = |path: &str| format!("{issuer}{path}");
        Ok(Self {
            authorization_endpoint: at(AUTHORIZE_PATH),
            token_endpoint: at(TOKEN_PATH),
            registration_endpoint: at(REGISTER_PATH),
            revocation_endpoint: at(REVOKE_PATH),
            jwks_uri: at(JWKS_PATH),
            issuer,
            response_types_supported: strings(&["code"]),
            grant_types_supported: strings(&["authorization_code", "refresh_token"]),
            code_challenge_methods_supported: strings(&["S256"]),
            token_endpoint_auth_methods_supported: strings(&CLIENT_AUTH_METHODS),
            revocation_endpoint_auth_methods_supported: strings(&CLIENT_AUTH_METHODS),
            scopes_supported: scopes.into_iter().map(Into::into).collect(),
            client_id_metadata_document_supported: false,
            authorization_response_iss_parameter_supported: true,
        })
    }

    /// Announces (or not) support for client ID metadata documents.
    pub fn with_client_id_metadata_documents(mut self, supported: bool) -> Self {
        self.client_id_metadata_document_supported = supported;
        self
    }

    /// Also advertises `grant_type` in `grant_types_supported`.
    pub fn with_grant_type(mut self, grant_type: &str) -> Self {
        if !self.grant_types_supported.iter().any(|g| g == grant_type) {
            self.grant_types_supported.push(grant_type.to_owned());
        }
        self
    }
}

/// The issuer for a base URL: validated, without trailing slash.
pub fn issuer_from_base_url(base_url: &str) -> Result<String, MetadataError> {
    let bad = || MetadataError::InvalidBaseUrl(base_url.to_owned());
    let url = Url::parse(base_url).map_err(|_| bad())?;
    let ok = matches!(url.scheme(), "https" | "http")
        && url.host().is_some()
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !ok {
        return Err(bad());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_live_under_the_base_url_and_its_prefix() {
        let m =
            AuthorizationServerMetadata::new("https://example.com/splunk-mcp/", ["splunk:search"])
                .unwrap()
                .with_client_id_metadata_documents(true);
        assert_eq!(m.issuer, "https://example.com/splunk-mcp");
        assert_eq!(
            m.authorization_endpoint,
            "https://example.com/splunk-mcp/authorize"
        );
        assert_eq!(m.token_endpoint, "https://example.com/splunk-mcp/token");
        assert_eq!(
            m.registration_endpoint,
            "https://example.com/splunk-mcp/register"
        );
        assert_eq!(
            m.revocation_endpoint,
            "https://example.com/splunk-mcp/revoke"
        );
        assert_eq!(m.jwks_uri, "https://example.com/splunk-mcp/jwks.json");
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            json["response_types_supported"],
            serde_json::json!(["code"])
        );
        assert_eq!(
            json["grant_types_supported"],
            serde_json::json!(["authorization_code", "refresh_token"])
        );
        assert_eq!(
            json["token_endpoint_auth_methods_supported"],
            serde_json::json!(["none", "client_secret_basic", "client_secret_post"])
        );
        assert_eq!(
            json["scopes_supported"],
            serde_json::json!(["splunk:search"])
        );
        assert_eq!(json["client_id_metadata_document_supported"], true);
        assert_eq!(json["authorization_response_iss_parameter_supported"], true);
        let back: AuthorizationServerMetadata = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn root_base_url_has_no_trailing_slash() {
        let m = AuthorizationServerMetadata::new("http://127.0.0.1:8080", Vec::<String>::new())
            .unwrap();
        assert_eq!(m.issuer, "http://127.0.0.1:8080");
        assert_eq!(m.token_endpoint, "http://127.0.0.1:8080/token");
        assert!(!m.client_id_metadata_document_supported);
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://example.com/?x=1",
            "https://example.com/#f",
            "https://u:p@example.com",
            "/relative",
        ] {
            assert!(issuer_from_base_url(bad).is_err(), "{bad}");
        }
    }
}
