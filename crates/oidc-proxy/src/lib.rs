//! The authorization server of splunk-mcp's `proxy` mode.
//!
//! This crate holds, so far, its persistent state: the [`Store`] trait (clients, pending
//! authorizations, authorization codes, consents, refresh-token families, upstream token sets,
//! signing keys, rate-limit counters) with an embedded implementation ([`RedbStore`], one file,
//! no server) and a shared one ([`RedisStore`], for several replicas), and [`Cipher`], which
//! encrypts upstream tokens and signing keys at rest (AES-256-GCM).
//!
//! On top of the store: [`TokenIssuer`] (our ES256 keys, access-token JWTs, the JWKS),
//! [`AuthorizationServerMetadata`] (RFC 8414), the redirect URI rules ([`RedirectPolicy`],
//! [`redirect_uri_matches`]), dynamic client registration ([`register`],
//! [`registration_router`]) and the client toward the company IdP ([`UpstreamClient`]).

pub mod cimd;
pub mod crypto;
mod error;
pub mod metadata;
pub mod records;
pub mod redirect;
pub mod registration;
pub mod store;
pub mod tokens;
pub mod upstream;

pub use cimd::{CimdConfig, CimdError, CimdResolver, IpClass, cache_ttl, classify_ip};
pub use crypto::{Cipher, CryptoError, EncryptionKey};
pub use error::StoreError;
pub use metadata::{AuthorizationServerMetadata, MetadataError};
pub use records::{
    AuthorizationCode, AuthorizationTransaction, ClientRecord, ClientSource, ConsentRecord,
    KeyState, RedeemOutcome, RefreshFamily, RefreshGrant, RotateOutcome, Secret, SigningKeyRecord,
    TokenHash, UpstreamRequest, UpstreamTokenSet,
};
pub use redirect::{
    ApplicationType, RedirectError, RedirectPattern, RedirectPolicy, redirect_uri_matches,
};
pub use registration::{
    RegistrationConfig, RegistrationError, RegistrationResponse, RegistrationState,
    check_rate_limit, register, register_handler, registration_router,
};
pub use store::{RedbStore, RedisStore, Store, StoreFuture, spawn_purger};
pub use tokens::{
    AccessTokenRequest, IssuedToken, TokenError, TokenIssuer, jwks_handler, jwks_router,
};
pub use upstream::{
    ClientAuthMethod, ExplicitEndpoints, Pkce, TokenTypeHint, UpstreamClient, UpstreamConfig,
    UpstreamEndpoints, UpstreamError, UpstreamIdentity, UpstreamLogin,
};
