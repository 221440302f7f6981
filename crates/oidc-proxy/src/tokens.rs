//! `TokenIssuer`: our ES256 signing keys (kept in the [`Store`], encrypted) and the access-token
//! JWTs signed with them (RFC 9068 `at+jwt`), plus the JWKS served at `/jwks.json`.
//!
//! Key life cycle: one key is `Active` (signs); [`TokenIssuer::rotate`] makes a new one active
//! and the old one `Retiring` (still published, so tokens it signed keep verifying until they
//! expire); [`TokenIssuer::retire`] stops publishing it. Several replicas share the keys through
//! the store; each one re-reads them with [`TokenIssuer::reload`].

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use josekit::jwk::Jwk;
use josekit::jwk::KeyPair as _;
use josekit::jws::alg::ecdsa::EcdsaJwsSigner;
use josekit::jws::{ES256, JwsHeader};
use josekit::jwt::JwtPayload;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::error::StoreError;
use crate::metadata::JWKS_PATH;
use crate::records::{KeyState, Secret, SigningKeyRecord, now_millis};
use crate::store::Store;

/// The only signing algorithm used for our tokens.
pub const SIGNING_ALG: &str = "ES256";

/// Why issuing tokens or managing keys failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored key could not be used (corrupt, or not an ES256 key).
    #[error("signing key {kid} is unusable: {detail}")]
    BadKey {
        /// The key id.
        kid: String,
        /// What is wrong (never key material).
        detail: String,
    },
    /// [`TokenIssuer::retire`] was asked to retire the key that signs new tokens.
    #[error("signing key {0} is active and cannot be retired; rotate first")]
    RetireActive(String),
    /// Generating a key, or signing, failed.
    #[error("token signing failed: {0}")]
    Signing(String),
    /// No random bytes were available from the operating system.
    #[error("the system random number generator failed")]
    Random,
}

/// What an access token says about whom, for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRequest {
    /// `sub`: the upstream identity's subject.
    pub subject: String,
    /// `client_id`: the client the token was issued to.
    pub client_id: String,
    /// `aud`: the resource (RFC 8707) the token is for.
    pub audience: String,
    /// `scope`: granted scopes, space-separated.
    pub scope: String,
    /// `groups`: the upstream identity's groups.
    pub groups: Vec<String>,
    /// `sid`: the grant (refresh family) the token belongs to; revoking the grant revokes it.
    pub grant_id: String,
    /// `preferred_username`, when the upstream identity has one.
    pub username: Option<String>,
    /// `email`, when the upstream identity has one.
    pub email: Option<String>,
}

/// A minted access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT. Never log it.
    pub token: Secret,
    /// Its `jti`.
    pub jti: String,
    /// Its `exp`, Unix seconds.
    pub expires_at: u64,
    /// The `kid` that signed it.
    pub kid: String,
}

/// One loaded key: its signer and its public JWK.
struct LoadedKey {
    kid: String,
    signer: EcdsaJwsSigner,
}

/// Keys as last read from the store.
struct KeyRing {
    active: LoadedKey,
    published: Vec<Jwk>,
}

/// Signs our access tokens and publishes our JWKS. Share behind an `Arc`.
pub struct TokenIssuer {
    store: Arc<dyn Store>,
    issuer: String,
    ttl: Duration,
    ring: RwLock<KeyRing>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("issuer", &self.issuer)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// Loads the signing keys from `store`, generating and storing an active one if there is
    /// none. Tokens get `iss` = `issuer` and live `ttl`.
    pub async fn load(
        store: Arc<dyn Store>,
        issuer: impl Into<String>,
        ttl: Duration,
    ) -> Result<Self, TokenError> {
        let ring = load_ring(store.as_ref()).await?;
        Ok(Self {
            store,
            issuer: issuer.into(),
            ttl,
            ring: RwLock::new(ring),
        })
    }

    /// The `iss` of our tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Re-reads the keys from the store (after another replica rotated them).
    pub async fn reload(&self) -> Result<(), TokenError> {
        let ring = load_ring(self.store.as_ref()).await?;
        *self.ring.write().await = ring;
        Ok(())
    }

    /// The `kid` of the key that signs new tokens.
    pub async fn active_kid(&self) -> String {
        self.ring.read().await.active.kid.clone()
    }

    /// Makes a new key active and every previously active one retiring (still published).
    /// Returns the new `kid`.
    pub async fn rotate(&self) -> Result<String, TokenError> {
        let old = self.store.list_signing_keys().await?;
        let record = generate_key()?;
        self.store.put_signing_key(&record).await?;
        for key in old.iter().filter(|k| k.state == KeyState::Active) {
            self.store
                .set_signing_key_state(&key.kid, KeyState::Retiring)
                .await?;
        }
        tracing::info!(kid = %record.kid, "rotated the token signing key");
        self.reload().await?;
        Ok(record.kid.clone())
    }

    /// Stops publishing a retiring key (tokens it signed no longer verify once caches refresh).
    /// `false` if there is no such key. The active key cannot be retired: rotate first.
    pub async fn retire(&self, kid: &str) -> Result<bool, TokenError> {
        if self.ring.read().await.active.kid == kid {
            return Err(TokenError::RetireActive(kid.to_owned()));
        }
        let found = self
            .store
            .set_signing_key_state(kid, KeyState::Retired)
            .await?;
        self.reload().await?;
        Ok(found)
    }

    /// The JWKS to serve at `/jwks.json`: public parts of the active and retiring keys.
    pub async fn jwks(&self) -> Value {
        let ring = self.ring.read().await;
        let keys: Vec<&serde_json::Map<String, Value>> =
            ring.published.iter().map(AsRef::as_ref).collect();
        json!({ "keys": keys })
    }

    /// Mints an access token at the system time.
    pub async fn mint(&self, request: &AccessTokenRequest) -> Result<IssuedToken, TokenError> {
        self.mint_at(request, now_millis() / 1000).await
    }

    /// Mints an access token as if the time were `now` (Unix seconds).
    pub async fn mint_at(
        &self,
        request: &AccessTokenRequest,
        now: u64,
    ) -> Result<IssuedToken, TokenError> {
        let jti = random_id(16)?;
        let expires_at = now.saturating_add(self.ttl.as_secs());
        let mut payload = JwtPayload::new();
        payload.set_issuer(&self.issuer);
        payload.set_audience(vec![request.audience.as_str()]);
        payload.set_subject(&request.subject);
        payload.set_jwt_id(&jti);
        // `iat`/`exp` as integers: josekit's time setters write fractional seconds, which some
        // strict JWT libraries refuse.
        let extra = [
            ("iat", json!(now)),
            ("exp", json!(expires_at)),
            ("client_id", json!(request.client_id)),
            ("scope", json!(request.scope)),
            ("groups", json!(request.groups)),
            ("sid", json!(request.grant_id)),
        ];
        for (name, value) in extra {
            payload
                .set_claim(name, Some(value))
                .map_err(|e| TokenError::Signing(e.to_string()))?;
        }
        for (name, value) in [
            ("preferred_username", &request.username),
            ("email", &request.email),
        ] {
            if let Some(value) = value {
                payload
                    .set_claim(name, Some(json!(value)))
                    .map_err(|e| TokenError::Signing(e.to_string()))?;
            }
        }
        let ring = self.ring.read().await;
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id(&ring.active.kid);
        let token = josekit::jwt::encode_with_signer(&payload, &header, &ring.active.signer)
            .map_err(|e| TokenError::Signing(e.to_string()))?;
        Ok(IssuedToken {
            token: Secret::new(token),
            jti,
            expires_at,
            kid: ring.active.kid.clone(),
        })
    }
}

/// How long clients may cache `/jwks.json`: bounds how long a retired key keeps verifying
/// elsewhere; a new key is found sooner, by the unknown-`kid` refresh of verifiers.
const JWKS_MAX_AGE: &str = "public, max-age=300";

/// A router serving `GET /jwks.json` from `issuer`.
pub fn jwks_router(issuer: Arc<TokenIssuer>) -> Router {
    Router::new()
        .route(JWKS_PATH, get(jwks_handler))
        .with_state(issuer)
}

/// `GET /jwks.json`: the published public keys.
pub async fn jwks_handler(State(issuer): State<Arc<TokenIssuer>>) -> Response {
    let mut response = Json(issuer.jwks().await).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_MAX_AGE),
    );
    response
}

/// The claim under which one replica creates the first signing key.
const KEY_CREATION_CLAIM: &str = "signing-key-creation";
/// How long the other replicas wait for that key before making one themselves (the creator
/// may have died).
const KEY_CREATION_WAIT: Duration = Duration::from_secs(10);

/// Reads the keys, creating an active one if none is active. Replicas starting together on
/// an empty store agree on one: the one that claims the creation makes it, the others wait
/// for it.
async fn load_ring(store: &dyn Store) -> Result<KeyRing, TokenError> {
    let mut keys = store.list_signing_keys().await?;
    if !keys.iter().any(|k| k.state == KeyState::Active) {
        let deadline = tokio::time::Instant::now() + KEY_CREATION_WAIT;
        loop {
            if store.claim(KEY_CREATION_CLAIM, KEY_CREATION_WAIT).await? {
                let record = generate_key()?;
                store.put_signing_key(&record).await?;
                tracing::info!(kid = %record.kid, "generated a token signing key");
                keys.push(record);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            keys = store.list_signing_keys().await?;
            if keys.iter().any(|k| k.state == KeyState::Active) {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("no signing key appeared from the replica creating it; making one");
                let record = generate_key()?;
                store.put_signing_key(&record).await?;
                keys.push(record);
                break;
            }
        }
    }
    // Should two active keys exist all the same (an older release, a creator that died late),
    // the newest signs and all are published, so every replica's tokens verify.
    let active = keys
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .max_by_key(|k| (k.created_at, k.kid.clone()))
        .map(load_key)
        .transpose()?
        .ok_or_else(|| TokenError::Signing("no active signing key".to_owned()))?;
    let published = keys
        .iter()
        .filter(|k| matches!(k.state, KeyState::Active | KeyState::Retiring))
        .map(public_jwk)
        .collect::<Result<_, _>>()?;
    Ok(KeyRing { active, published })
}

fn parse_private(record: &SigningKeyRecord) -> Result<Jwk, TokenError> {
    Jwk::from_bytes(record.private_jwk.expose().as_bytes()).map_err(|e| TokenError::BadKey {
        kid: record.kid.clone(),
        detail: format!("not a JWK: {}", redact_jose(&e)),
    })
}

fn load_key(record: &SigningKeyRecord) -> Result<LoadedKey, TokenError> {
    let jwk = parse_private(record)?;
    let signer = ES256
        .signer_from_jwk(&jwk)
        .map_err(|e| TokenError::BadKey {
            kid: record.kid.clone(),
            detail: format!("not an ES256 private key: {}", redact_jose(&e)),
        })?;
    Ok(LoadedKey {
        kid: record.kid.clone(),
        signer,
    })
}

fn public_jwk(record: &SigningKeyRecord) -> Result<Jwk, TokenError> {
    let mut public = parse_private(record)?
        .to_public_key()
        .map_err(|e| TokenError::BadKey {
            kid: record.kid.clone(),
            detail: format!("no public key: {}", redact_jose(&e)),
        })?;
    public.set_key_id(&record.kid);
    public.set_algorithm(SIGNING_ALG);
    public.set_key_use("sig");
    Ok(public)
}

/// Only the error's kind: josekit messages may quote input, which here is key material.
fn redact_jose(error: &josekit::JoseError) -> &'static str {
    match error {
        josekit::JoseError::InvalidKeyFormat(_) => "invalid key format",
        josekit::JoseError::UnsupportedSignatureAlgorithm(_) => "unsupported algorithm",
        _ => "rejected by josekit",
    }
}

/// A fresh active ES256 key with a random `kid`.
fn generate_key() -> Result<SigningKeyRecord, TokenError> {
    let pair = ES256
        .generate_key_pair()
        .map_err(|e| TokenError::Signing(format!("generating an ES256 key: {e}")))?;
    let kid = random_id(12)?;
    let mut jwk = pair.to_jwk_key_pair();
    jwk.set_key_id(&kid);
    Ok(SigningKeyRecord {
        kid,
        private_jwk: Secret::new(jwk.to_string()),
        created_at: now_millis(),
        state: KeyState::Active,
    })
}

/// `len` random bytes, base64url without padding.
pub(crate) fn random_id(len: usize) -> Result<String, TokenError> {
    let mut bytes = vec![0u8; len];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TokenError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
