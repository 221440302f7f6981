//! The records the authorization server keeps in its [`Store`](crate::Store).
//!
//! Times are Unix milliseconds (`u64`). Secrets are [`Secret`]s, whose `Debug` prints
//! `[redacted]`; bearer values the server hands out (codes, refresh tokens, client secrets) are
//! never stored, only their SHA-256 (see [`TokenHash`]).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

/// Milliseconds since the Unix epoch by the system clock.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A secret string: `Debug` never shows it, memory is zeroed on drop, read with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// The SHA-256 of a high-entropy bearer value (client secret, code, refresh token), base64url.
///
/// A fast hash is enough because these values are 256-bit random strings the server generated,
/// not passwords a person chose: there is nothing to brute-force, so argon2's cost would buy no
/// security. Comparison is constant time.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// Hashes a bearer value.
    pub fn of(value: &str) -> Self {
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(value)))
    }

    /// Whether `presented` hashes to this value, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        self.same_as(&Self::of(presented))
    }

    /// Whether `other` is the same hash, compared in constant time.
    pub fn same_as(&self, other: &TokenHash) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }

    /// The base64url digest, usable as a store key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A hash is not a secret, but a short prefix is all anyone needs to correlate logs.
        write!(f, "TokenHash({}…)", &self.0[..self.0.len().min(8)])
    }
}

/// Compares two byte strings without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// How a client came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClientSource {
    /// Registered through RFC 7591 dynamic client registration.
    Dynamic,
    /// Fetched from a client ID metadata document (the client id is its https URL); cached.
    MetadataDocument,
}

/// A client of this authorization server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The client id (random for DCR, the document URL for CIMD).
    pub client_id: String,
    /// DCR or CIMD.
    pub source: ClientSource,
    /// Hash of the client secret of a confidential client; `None` for public clients.
    pub secret_hash: Option<TokenHash>,
    /// Registered redirect URIs, matched exactly (loopback ports aside) at /authorize.
    pub redirect_uris: Vec<String>,
    /// Human-readable name shown on the consent page.
    pub client_name: Option<String>,
    /// `token_endpoint_auth_method` (`none`, `client_secret_basic`, `client_secret_post`).
    pub token_endpoint_auth_method: String,
    /// `application_type` (`web` or `native`).
    pub application_type: String,
    /// Grant types the client may use.
    pub grant_types: Vec<String>,
    /// Space-separated scopes the client registered for, if it named any.
    pub scope: Option<String>,
    /// The full registration request or metadata document, for fields not modelled above.
    pub metadata: serde_json::Value,
    /// When the client was registered or the document fetched.
    pub created_at: u64,
}

/// What the upstream leg of an authorization needs, created only after consent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamRequest {
    /// PKCE verifier sent to the IdP's token endpoint.
    pub pkce_verifier: Secret,
    /// OIDC `nonce` the ID token must carry.
    pub nonce: String,
}

/// A pending `/authorize`: stored before consent (keyed by a consent id) and again after it
/// (keyed by the upstream `state`), each time taken exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationTransaction {
    /// The requesting client.
    pub client_id: String,
    /// The redirect URI the client asked for (already validated).
    pub redirect_uri: String,
    /// The client's `state`, echoed back at the end.
    pub client_state: Option<String>,
    /// Scopes requested, space-separated.
    pub scope: String,
    /// RFC 8707 resource the token will be bound to.
    pub resource: Option<String>,
    /// The client's PKCE S256 challenge.
    pub code_challenge: String,
    /// Hash of the browser-binding cookie, so the callback only completes in the consenting browser.
    pub browser_binding: Option<TokenHash>,
    /// Hash of the CSRF token the consent form must post back.
    #[serde(default)]
    pub csrf_hash: Option<TokenHash>,
    /// The client's OIDC `login_hint`, passed on to the IdP.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// Set once the user consented and the server redirected to the IdP.
    pub upstream: Option<UpstreamRequest>,
    /// When the transaction started.
    pub created_at: u64,
}

/// One of our authorization codes, stored under the code's [`TokenHash`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// The grant (refresh family) id the redemption will create; a replay revokes it.
    pub grant_id: String,
    /// The client the code was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to (must match at /token).
    pub redirect_uri: String,
    /// The client's PKCE S256 challenge.
    pub code_challenge: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// RFC 8707 resource, becomes the token's `aud`.
    pub resource: Option<String>,
    /// The upstream identity's subject.
    pub subject: String,
    /// The upstream identity's groups, copied into our tokens.
    pub groups: Vec<String>,
    /// The upstream identity's `preferred_username`, copied into our tokens (mirror mode).
    #[serde(default)]
    pub username: Option<String>,
    /// The upstream identity's `email`, copied into our tokens.
    #[serde(default)]
    pub email: Option<String>,
    /// Id of the [`UpstreamTokenSet`] obtained at the callback.
    pub upstream_id: String,
    /// When the code was issued.
    pub issued_at: u64,
}

/// What [`Store::redeem_code`](crate::Store::redeem_code) found.
// Made once per code redemption and matched at once: boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RedeemOutcome {
    /// First use: the code is now spent.
    Redeemed(AuthorizationCode),
    /// The code was already used: revoke the grant the first use issued.
    AlreadyRedeemed {
        /// The grant id to revoke.
        grant_id: String,
    },
    /// Unknown or expired.
    NotFound,
}

/// A user's consent to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The user (upstream subject).
    pub subject: String,
    /// The client consented to.
    pub client_id: String,
    /// Scopes consented to, space-separated.
    pub scope: String,
    /// When consent was given.
    pub granted_at: u64,
}

/// The immutable part of a refresh-token family (a grant): what every refresh re-issues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshGrant {
    /// The family (grant) id.
    pub family_id: String,
    /// The client the grant belongs to.
    pub client_id: String,
    /// The upstream subject.
    pub subject: String,
    /// The upstream identity's groups.
    pub groups: Vec<String>,
    /// The upstream identity's `preferred_username`.
    #[serde(default)]
    pub username: Option<String>,
    /// The upstream identity's `email`.
    #[serde(default)]
    pub email: Option<String>,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// RFC 8707 resource.
    pub resource: Option<String>,
    /// Id of the [`UpstreamTokenSet`] held for this grant.
    pub upstream_id: String,
    /// When the grant was created.
    pub created_at: u64,
}

/// A refresh-token family as stored: the grant and its rotation state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshFamily {
    /// What the family grants.
    pub grant: RefreshGrant,
    /// Hash of the one refresh token that is valid now.
    pub current_hash: TokenHash,
    /// Number of rotations so far.
    pub generation: u64,
    /// Whether the family was revoked (reuse, logout, code replay).
    pub revoked: bool,
    /// When the family stops being usable, whatever happens.
    pub expires_at: u64,
}

/// What [`Store::rotate_refresh`](crate::Store::rotate_refresh) did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RotateOutcome {
    /// The presented token was current; the new hash is now current.
    Rotated(Box<RefreshFamily>),
    /// The presented token was superseded: the family is now revoked.
    Reused,
    /// The family had been revoked before.
    Revoked,
    /// The hash is not one this family ever issued; nothing changed.
    Mismatch,
    /// No such family, or it expired.
    NotFound,
}

/// Tokens the IdP issued for a grant. Encrypted at rest; may be opaque or JWE, never parsed here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamTokenSet {
    /// The IdP access token (what `passthrough` sends to Splunk).
    pub access_token: Secret,
    /// The IdP refresh token, if it gave one.
    pub refresh_token: Option<Secret>,
    /// The IdP ID token, if any.
    pub id_token: Option<Secret>,
    /// When the access token expires, if the IdP said.
    pub expires_at: Option<u64>,
    /// Scopes the IdP granted, if it said.
    pub scope: Option<String>,
    /// The user's subject as these tokens' ID token or userinfo said, when known.
    #[serde(default)]
    pub subject: Option<String>,
    /// The user's groups as these tokens' ID token or userinfo said, when known: what scope
    /// rules are evaluated against at the next refresh.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

/// What one rotation of a refresh token answered, kept (sealed) for the reuse grace window
/// under the presented token's hash, so that the same token presented again, or at the same
/// moment, gets the same successor tokens: one chain, whoever asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshAnswer {
    /// The grant (refresh family) the tokens belong to.
    pub family_id: String,
    /// Our access token. Never log it.
    pub access_token: Secret,
    /// Its `exp`, Unix seconds.
    pub expires_at: u64,
    /// The successor refresh token. Never log it.
    pub refresh_token: Secret,
    /// The scope granted, space-separated.
    pub scope: String,
}

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyState {
    /// Signs new tokens and is published.
    Active,
    /// Published so tokens it signed still verify; signs nothing new.
    Retiring,
    /// Neither signs nor is published; kept until deleted.
    Retired,
}

/// One of our token-signing keys. Encrypted at rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    /// The JWK `kid`.
    pub kid: String,
    /// The private JWK (ES256 by default) as JSON.
    pub private_jwk: Secret,
    /// When the key was created.
    pub created_at: u64,
    /// Its life-cycle state.
    pub state: KeyState,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_matches_only_its_value() {
        let h = TokenHash::of("s3cret-value");
        assert!(h.matches("s3cret-value"));
        assert!(!h.matches("s3cret-valuf"));
        assert!(!h.matches(""));
        assert_eq!(h.as_str().len(), 43);
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let set = UpstreamTokenSet {
            access_token: Secret::new("at-123"),
            refresh_token: Some(Secret::new("rt-456")),
            id_token: None,
            expires_at: None,
            scope: None,
            subject: None,
            groups: None,
        };
        let debug = format!("{set:?}");
        assert!(
            !debug.contains("at-123") && !debug.contains("rt-456"),
            "{debug}"
        );
        let json = serde_json::to_string(&set).unwrap();
        assert!(json.contains("at-123"), "serde must keep the value: {json}");
    }
}
