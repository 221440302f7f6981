//! The authorization server of splunk-mcp's `proxy` mode: the OAuth 2.1 authorization server
//! MCP clients see, in front of the company IdP.
//!
//! [`AuthorizationServer`] serves the endpoints (metadata, registration, authorize and consent,
//! the IdP callback, token, revocation, JWKS) and [`ProxyTokenVerifier`] checks our tokens at
//! `/mcp`, handing on the grant's IdP token. Beneath them: the [`Store`] trait (clients, pending
//! authorizations, codes, consents, refresh-token families, IdP token sets, signing keys,
//! rate-limit counters) on [`RedbStore`] (embedded) or [`RedisStore`] (several replicas), with
//! [`Cipher`] sealing IdP tokens and keys at rest (AES-256-GCM); [`TokenIssuer`] (our ES256 keys
//! and JWTs), [`AuthorizationServerMetadata`] (RFC 8414), the redirect URI rules
//! ([`RedirectPolicy`], [`redirect_uri_matches`]), dynamic client registration ([`register`]),
//! client ID metadata documents ([`CimdResolver`]) and the client toward the IdP
//! ([`UpstreamClient`]), which also exchanges a caller's token for one for Splunk
//! ([`exchange`]).
//!
//! Registration, `/token` and `/revoke` are rate limited per client address ([`ClientAddr`],
//! which the serving side decides, e.g. from trusted proxies' `X-Forwarded-For`) and, for
//! `/token` and `/revoke`, per client ([`EndpointLimits`]), in fixed windows counted in the
//! store, so replicas on one Redis share them.

pub mod cimd;
pub mod client_addr;
pub mod crypto;
mod error;
pub mod exchange;
pub mod metadata;
pub mod rate_limit;
pub mod records;
pub mod redirect;
pub mod registration;
pub mod server;
pub mod store;
pub mod tokens;
pub mod upstream;

pub use cimd::{CimdConfig, CimdError, CimdResolver, IpClass, cache_ttl, classify_ip};
pub use client_addr::ClientAddr;
pub use crypto::{Cipher, CryptoError, EncryptionKey};
pub use error::StoreError;
pub use exchange::{ExchangeRequest, ExchangeStyle, ExchangedToken};
pub use metadata::{AuthorizationServerMetadata, MetadataError};
pub use rate_limit::{EndpointLimits, RateLimit};
pub use records::{
    AuthorizationCode, AuthorizationTransaction, ClientRecord, ClientSource, ConsentRecord,
    KeyState, RedeemOutcome, RefreshAnswer, RefreshFamily, RefreshGrant, RotateOutcome, Secret,
    SigningKeyRecord, TokenHash, UpstreamRequest, UpstreamTokenSet,
};
pub use redirect::{
    ApplicationType, RedirectError, RedirectPattern, RedirectPolicy, redirect_uri_matches,
};
pub use registration::{
    RegistrationConfig, RegistrationError, RegistrationResponse, RegistrationState,
    check_rate_limit, register, register_handler, registration_router,
};
pub use server::{
    AuthorizationServer, CALLBACK_PATH, CONSENT_PATH, ProxyConfig, ProxyError, ProxyTokenVerifier,
};
pub use store::{RedbStore, RedisStore, Store, StoreFuture, spawn_purger};
pub use tokens::{
    AccessTokenRequest, IssuedToken, TokenError, TokenIssuer, jwks_handler, jwks_router,
};
pub use upstream::{
    ClientAuthMethod, ClientKey, ExplicitEndpoints, Pkce, TokenTypeHint, UpstreamClient,
    UpstreamConfig, UpstreamEndpoints, UpstreamError, UpstreamIdentity, UpstreamLogin,
};
