//! Building blocks of an OAuth 2.1 resource server, the inbound boundary of splunk-mcp and of
//! any Rust MCP server: token verification (JWT with JWKS, introspection, static), a cache of
//! verified tokens, scope and group policies, RFC 6750 challenges and RFC 9728 metadata.
//!
//! The crate knows nothing of HTTP frameworks, Splunk or MCP; the optional `tower` feature adds
//! a tower layer and an axum extractor on top.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use auth_core::{DiscoveryDocument, HttpClient, HttpClientConfig, JwksCacheConfig, JwtVerifier, TokenVerifier};
//!
//! let http = HttpClient::new(HttpClientConfig::default())?;
//! let doc = DiscoveryDocument::fetch(&http, "https://idp.example/.well-known/openid-configuration", None).await?;
//! let jwks = Arc::new(doc.jwks_cache(&http, JwksCacheConfig::default())?);
//! let verifier = JwtVerifier::builder().issuer(&doc.issuer).audience("https://mcp.example/mcp").jwks(jwks).build()?;
//! let ctx = verifier.verify("eyJ...").await?;
//! println!("{} may use {}", ctx.subject(), ctx.scopes());
//! # Ok(()) }
//! ```

pub mod algorithm;
pub mod cache;
pub mod challenge;
pub mod claims;
pub mod composite;
pub mod context;
pub mod error;
pub mod http_client;
pub mod introspection;
pub mod jwks;
pub mod jwt;
#[cfg(feature = "tower")]
pub mod layer;
pub mod metadata;
pub mod policy;
pub mod scope;
pub mod scope_rules;
pub mod static_tokens;
pub mod token;
pub mod verifier;

pub use algorithm::Algorithm;
pub use cache::CachingVerifier;
pub use challenge::{Challenge, ChallengeConfig};
pub use claims::{Claims, ClaimsConfig};
pub use composite::CompositeVerifier;
pub use context::{AuthContext, BearerToken};
pub use error::{AuthError, ConfigError, ErrorKind};
pub use http_client::{HttpClient, HttpClientConfig};
pub use introspection::{
    ClientAuth, IntrospectionConfig, IntrospectionMethod, IntrospectionVerifier,
};
pub use jwks::{DiscoveryDocument, JwksCache, JwksCacheConfig, JwksFetcher};
pub use jwt::{JwtVerifier, JwtVerifierBuilder};
#[cfg(feature = "tower")]
pub use layer::{AuthLayer, AuthService, MissingAuthContext};
pub use metadata::ProtectedResourceMetadata;
pub use policy::{Decision, Denial, Policy};
pub use scope::ScopeSet;
pub use scope_rules::{ScopeRuleError, ScopeRules, ScopeRulesVerifier};
pub use static_tokens::{StaticVerifier, StaticVerifierBuilder};
pub use token::{MAX_TOKEN_LEN, UnverifiedToken, looks_like_jwt, parse_unverified};
pub use verifier::{TokenVerifier, VerifyFuture};
